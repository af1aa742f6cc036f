"""The command catalogue and the handlers agree, both ways, so no command is left unanswered."""

from __future__ import annotations

import pytest

from bot.core.commands import CATALOGUE
from bot.core.domain import Actor, CommandCall, CommandResult, Permission
from bot.service.commands.registry import Registry, answers, writes
from tests.service.conftest import CHANNEL, Harness


def test_every_command_has_exactly_one_handler(harness: Harness) -> None:
    """Each spec in the catalogue is handled by the service, once; nothing else is."""
    registry = harness.service.commands.registry
    handled = sorted([*registry.answerers, *registry.writers])
    assert handled == sorted(spec.name for spec in CATALOGUE)
    assert registry.missing() == []


def test_streamed_commands_are_the_ones_that_write(harness: Harness) -> None:
    """A spec that streams has a writer (platforms call `rewrite`); every other an answer."""
    registry = harness.service.commands.registry
    assert set(registry.writers) == {spec.name for spec in CATALOGUE if spec.streams}
    assert set(registry.answerers) == {spec.name for spec in CATALOGUE if not spec.streams}


def test_a_handler_for_a_command_the_catalogue_lacks_fails_at_once() -> None:
    """A typo in a handler's name is caught where it is written, not when someone types it."""
    with pytest.raises(LookupError, match="/wipe"):
        answers("wipe")
    with pytest.raises(LookupError):
        answers("Help")  # the catalogue's spelling, exactly


def test_a_handler_of_the_wrong_kind_fails_at_once() -> None:
    """A streamed command cannot be given a one-off answer, nor the other way round."""
    with pytest.raises(TypeError, match="@writes"):
        answers("regenerate")
    with pytest.raises(TypeError, match="@answers"):
        writes("help")


class _Help:
    @answers("help")
    async def _help(self, call: CommandCall) -> CommandResult:
        return CommandResult("mine")


def test_two_handlers_for_one_command_fail() -> None:
    """Two families claiming one command is refused when the registry is built."""
    with pytest.raises(ValueError, match="/help has two handlers"):
        Registry.of([_Help(), _Help()])


def test_a_registry_missing_a_handler_is_refused_before_it_serves() -> None:
    """A command in the catalogue with no handler stops the service at start, named."""
    with pytest.raises(LookupError, match=r"no handler for /connect, .*/continue"):
        Registry.of([_Help()]).check_complete()
    Registry.of([_Help()])  # building one is fine: only serving an incomplete one is not


async def test_a_family_handler_answers_its_command() -> None:
    """The registry hands a call to the method marked with its name, bound to its family."""
    registry = Registry.of([_Help()])
    assert registry.missing() == [spec.name for spec in CATALOGUE if spec.name != "help"]
    assert (await registry.answerers["help"](_call("help"))).text == "mine"


def _call(name: str) -> CommandCall:
    return CommandCall(name, {}, CHANNEL, Actor("ann", "Ann", Permission.EVERYONE))


async def test_a_streamed_command_run_as_an_answer_points_at_the_chat(harness: Harness) -> None:
    """/regenerate run where only an answer fits (say, an autocomplete) says where it works."""
    answer = await harness.command("regenerate")
    assert answer.text == "/regenerate writes into the chat; send it there."
    assert harness.client.requests == []


async def test_an_answered_command_cannot_be_streamed(harness: Harness) -> None:
    """`rewrite` with a command that does not stream tells the chat so, and streams nothing."""
    replier = harness.replier()
    outcome = await harness.service.rewrite(_call("help"), replier)
    assert outcome.error_text == "/help does not write a reply."
    assert replier.texts == ["/help does not write a reply."]
