"""The command catalogue checks calls before any handler runs."""

from __future__ import annotations

import pytest

from bot.core.commands import CATALOGUE, check_call, streams, takes_file
from bot.core.domain import Actor, ChannelKey, CommandCall, Permission
from bot.core.errors import PermissionDenied, UsageError

CHANNEL = ChannelKey("test", "1")


def call(name: str, permission: Permission = Permission.OPERATOR, **options: str) -> CommandCall:
    return CommandCall(name, options, CHANNEL, Actor("u1", "Ann", permission))


def test_unknown_command_is_named() -> None:
    """A typo gets a pointer to /help."""
    with pytest.raises(UsageError, match=r"no /conect command.*/help"):
        check_call(call("conect"))


def test_unknown_option_lists_the_known_ones() -> None:
    """A wrong option name says which options exist."""
    with pytest.raises(UsageError, match="base_url, preset, api_key, model, bypass_check"):
        check_call(call("connect", url="http://x"))


def test_missing_required_option_shows_usage() -> None:
    """A missing required option shows how to write the command."""
    with pytest.raises(UsageError, match=r"Usage: /api type:… \[template:…\]"):
        check_call(call("api"))


def test_member_may_not_change_the_connection() -> None:
    """Changing the endpoint needs server rights."""
    with pytest.raises(PermissionDenied, match="manage the server"):
        check_call(call("connect", Permission.CHANNEL_ADMIN, base_url="http://x"))


def test_everyone_may_ask_for_help() -> None:
    """/help needs no rights."""
    assert check_call(call("help", Permission.EVERYONE)).name == "help"


def test_catalogue_names_are_unique_and_lower_case() -> None:
    """Adapters register commands by name; duplicates would shadow each other."""
    names = [spec.name for spec in CATALOGUE]
    assert len(names) == len(set(names))
    assert all(name == name.lower() for name in names)


def test_keys_and_headers_are_secret_options() -> None:
    """Adapters hide secret options: the API key, and headers, which may carry credentials."""
    secret = [(s.name, o.name) for s in CATALOGUE for o in s.options if o.secret]
    assert secret == [("connect", "api_key"), ("profile", "api_key"), ("extras", "headers")]


def test_value_outside_the_choices_is_refused() -> None:
    """An option with fixed choices names them when given something else."""
    with pytest.raises(UsageError, match="type must be one of: chat, text"):
        check_call(call("api", type="json"))


def test_the_commands_that_stream_are_the_new_versions_of_a_reply() -> None:
    """Platforms stream /regenerate and /continue; /swipe shows a kept version in place."""
    assert [spec.name for spec in CATALOGUE if streams(spec.name)] == ["regenerate", "continue"]
    assert streams("REGENERATE")
    assert not streams("swipe")
    assert not streams("no-such-command")


def test_only_character_and_chats_take_a_file() -> None:
    """Platforms attach a file sent with /character (a card) or /chats (a chat to import);
    with any other command it is not read."""
    assert [spec.name for spec in CATALOGUE if takes_file(spec.name)] == ["character", "chats"]
    assert not takes_file("no-such-command")
