"""The `/name option:value` syntax that the console and Telegram share."""

from __future__ import annotations

import pytest

from bot.platforms.common.command_syntax import is_command, parse_command


def test_options_are_split_at_the_next_known_option() -> None:
    """A value runs until the next option of the command."""
    name, options = parse_command("/connect base_url:http://h:8080/v1 model:llama 3 8b")
    assert name == "connect"
    assert options == {"base_url": "http://h:8080/v1", "model": "llama 3 8b"}


def test_colons_inside_a_value_do_not_start_an_option() -> None:
    """Only the command's own option names start an option."""
    _, options = parse_command("/system prompt:You are Bob. Note: be kind, always.")
    assert options == {"prompt": "You are Bob. Note: be kind, always."}


def test_double_quoted_value_keeps_its_spaces() -> None:
    """A double-quoted value is taken as written, without the quotes."""
    _, options = parse_command('/system prompt:"  spaced  "')
    assert options == {"prompt": "  spaced  "}


def test_bare_text_goes_to_the_first_option() -> None:
    """`/model gpt-4o` means `/model name:gpt-4o`."""
    assert parse_command("/model gpt-4o") == ("model", {"name": "gpt-4o"})


def test_a_choice_then_a_value_fill_the_first_two_options() -> None:
    """`/character use Alice Smith` means action:use name:Alice Smith."""
    assert parse_command("/character use Alice Smith") == (
        "character",
        {"action": "use", "name": "Alice Smith"},
    )
    assert parse_command("/character list") == ("character", {"action": "list"})
    assert parse_command("/reasoning spoiler") == ("reasoning", {"mode": "spoiler"})


def test_text_after_a_command_without_options_is_ignored() -> None:
    assert parse_command("/help me please") == ("help", {})


def test_command_without_options() -> None:
    """A command with nothing after it has no options."""
    assert parse_command("/HELP") == ("help", {})


def test_a_value_may_start_on_the_next_line() -> None:
    """Telegram users write "/system" and the prompt below it, over several lines."""
    name, options = parse_command("/system\nYou are Bob.\nBe kind.")
    assert (name, options) == ("system", {"prompt": "You are Bob.\nBe kind."})


def test_the_bots_username_after_the_name_is_dropped() -> None:
    """In groups Telegram writes `/model@parlor_bot`: the name is still `model`."""
    assert parse_command("/model@parlor_bot gpt-4o") == ("model", {"name": "gpt-4o"})
    assert parse_command("/help@parlor_bot") == ("help", {})


def test_unknown_command_options_are_still_parsed() -> None:
    """An unknown command keeps its options so the service can name the mistake."""
    assert parse_command("/nope a:1 b:two words") == ("nope", {"a": "1", "b": "two words"})


@pytest.mark.parametrize(
    ("line", "expected"),
    [("/help", True), ("hello", False), ("/", False), ("//not a command", False)],
)
def test_is_command(line: str, expected: bool) -> None:
    """Only a slash followed by a name is a command."""
    assert is_command(line) is expected
