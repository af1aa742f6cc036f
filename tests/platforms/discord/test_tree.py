"""The slash commands are the catalogue, rendered the way Discord needs them: one
definition, so a new command or option reaches Discord without a line here."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands

from bot.core.commands import CATALOGUE, find_command
from bot.core.domain import Permission
from bot.platforms.discord.tree import SlashCall, build_commands, choices_for, read_call

MANAGE_GUILD = 1 << 5
MANAGE_CHANNELS = 1 << 4
OPTION_TYPES = {"string": 3, "integer": 4, "boolean": 5, "number": 10, "attachment": 11}


async def _run(_interaction: discord.Interaction, _call: SlashCall) -> None:
    raise AssertionError("not called here")


async def _suggest(*_args: Any) -> list[str]:
    return []


def payloads() -> dict[str, dict[str, Any]]:
    client = discord.Client(intents=discord.Intents.none())
    tree = app_commands.CommandTree(client)
    commands = build_commands(_run, _suggest)
    return {command.name: command.to_dict(tree) for command in commands}


def test_every_catalogue_command_is_a_slash_command_within_discords_limits() -> None:
    found = payloads()
    assert list(found) == [spec.name for spec in CATALOGUE]
    for payload in found.values():
        assert 1 <= len(payload["description"]) <= 100
        assert len(payload.get("options", [])) <= 25
        for option in payload.get("options", []):
            assert 1 <= len(option["description"]) <= 100
            assert len(option.get("choices", [])) <= 25


def test_settings_commands_are_server_only_and_ask_for_the_right_permission() -> None:
    found = payloads()
    for spec in CATALOGUE:
        payload = found[spec.name]
        if spec.permission is Permission.SERVER_ADMIN:
            assert int(payload["default_member_permissions"]) == MANAGE_GUILD
        if spec.permission is Permission.CHANNEL_ADMIN:
            assert int(payload["default_member_permissions"]) == MANAGE_CHANNELS
        if spec.permission >= Permission.CHANNEL_ADMIN:
            assert payload["contexts"] == [0], f"/{spec.name} must be server-only"
        else:
            assert payload["default_member_permissions"] is None
            assert 1 in payload["contexts"], f"/{spec.name} should work in DMs"


def test_a_secret_is_asked_for_yes_or_no_never_typed_as_an_option() -> None:
    """api_key on /connect is a boolean: yes opens the private form."""
    options = {o["name"]: o for o in payloads()["connect"]["options"]}
    assert options["api_key"]["type"] == OPTION_TYPES["boolean"]
    assert "private form" in options["api_key"]["description"]
    assert options["model"]["autocomplete"] is True
    assert options["base_url"]["type"] == OPTION_TYPES["string"]
    assert options["bypass_check"]["type"] == OPTION_TYPES["boolean"]
    character = {o["name"]: o for o in payloads()["character"]["options"]}
    assert character["file"]["type"] == OPTION_TYPES["attachment"]
    assert [c["value"] for c in character["action"]["choices"]][:2] == ["import", "list"]
    assert character["action"]["required"] is True


def test_read_call_turns_values_into_the_services_text_options() -> None:
    spec = find_command("connect")
    assert spec is not None
    call = read_call(spec, {"base_url": "http://h/v1", "api_key": True, "bypass_check": False})
    assert call.options == {"base_url": "http://h/v1", "bypass_check": "false"}
    assert [o.name for o in call.secret_forms] == ["api_key"]
    params = find_command("params")
    assert params is not None
    numbers = read_call(params, {"temperature": 0.7, "top_k": 40, "api_key": None})
    assert numbers.options == {"temperature": "0.7", "top_k": "40"}
    assert read_call(spec, {"api_key": False}).secret_forms == ()


def test_autocomplete_answers_fit_discord() -> None:
    long = "m" * 101
    many = [f"model-{n}" for n in range(40)]
    choices = choices_for([long, "", *many])
    assert len(choices) == 25
    assert all(1 <= len(c.value) <= 100 for c in choices)
    assert choices[0].value == "model-0"
