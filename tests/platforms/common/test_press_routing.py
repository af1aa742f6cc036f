"""A press routed the same way on every platform, seen through a recording platform."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import cast

from bot.core.domain import (
    Actor,
    ChannelKey,
    CommandCall,
    CommandResult,
    MessageRef,
    MessageStatus,
    Permission,
    PlatformLimits,
    TurnOutcome,
)
from bot.core.ports import Conversations, Replier
from bot.platforms.common.button_presses import PRESSES
from bot.platforms.common.latest import OLD_BUTTON
from bot.platforms.common.press_routing import PressRouter
from bot.platforms.common.streamed_turns import StreamedTurns

HERE = ChannelKey("chat", "1")
ALICE = Actor("7", "Alice", Permission.EVERYONE)


class FakeService:
    """The two calls a press makes of the service, recorded; a swipe answers as Nova."""

    def __init__(self, result: CommandResult) -> None:
        self.result = result
        self.calls: list[CommandCall] = []

    async def rewrite(self, call: CommandCall, replier: Replier) -> TurnOutcome:
        self.calls.append(call)
        await replier.send("another take")
        return TurnOutcome(MessageStatus.COMPLETE, "another take")

    async def run_command(self, call: CommandCall) -> CommandResult:
        self.calls.append(call)
        return self.result


class FakeReplier:
    """A replier whose messages get ids from 100 up."""

    limits = PlatformLimits(100, 5, 5.0)

    def __init__(self) -> None:
        self.ids: list[int] = []

    async def send(self, text: str) -> MessageRef:
        self.ids.append(100 + len(self.ids))
        return MessageRef(str(self.ids[-1]))

    async def edit(self, ref: MessageRef, text: str) -> None:
        pass

    async def delete(self, ref: MessageRef) -> None:
        pass

    @contextlib.asynccontextmanager
    async def typing(self) -> AsyncIterator[None]:
        yield

    async def settle(self, *, finished: bool) -> list[int]:
        return self.ids


class FakePress:
    """A press under message `message_id`, recording how it was answered."""

    channel = HERE
    server = None

    def __init__(self, message_id: int) -> None:
        self.message_id = message_id
        self.answers: list[tuple[str, str]] = []

    async def presser(self) -> Actor:
        return ALICE

    async def replier(self) -> FakeReplier:
        return FakeReplier()

    async def acknowledge(self) -> None:
        self.answers.append(("acknowledge", ""))

    async def tell(self, text: str) -> None:
        self.answers.append(("tell", text))

    async def show_version(self, result: CommandResult) -> None:
        self.answers.append(("show_version", result.text))

    async def answer(self, result: CommandResult) -> None:
        self.answers.append(("answer", result.text))


def _router(result: CommandResult) -> tuple[PressRouter, FakeService]:
    service = FakeService(result)
    conversations = cast(Conversations, service)
    return PressRouter(conversations, StreamedTurns(conversations)), service


async def test_regenerate_streams_a_new_reply_whose_buttons_become_the_live_ones() -> None:
    """Regenerate runs as the presser, in the pressed message's channel; afterwards only
    the new reply's buttons act, and the old ones say so."""
    router, service = _router(CommandResult("ok"))
    first = FakePress(50)
    await router.route(first, PRESSES["regen"])
    assert first.answers == [("acknowledge", "")]
    assert [(c.name, c.actor, c.channel) for c in service.calls] == [("regenerate", ALICE, HERE)]

    old = FakePress(50)
    await router.route(old, PRESSES["cont"])
    assert old.answers == [("tell", OLD_BUTTON)]
    assert len(service.calls) == 1
    await router.route(FakePress(100), PRESSES["cont"])
    assert [c.name for c in service.calls] == ["regenerate", "continue"]


async def test_a_swipe_shows_the_other_version_in_the_pressed_message() -> None:
    """A swipe's version goes into the message; its options say which way."""
    router, service = _router(CommandResult("version two", ephemeral=False, speaker="Nova"))
    press = FakePress(50)
    await router.route(press, PRESSES["next"])
    assert press.answers == [("show_version", "version two")]
    assert service.calls[0].options == {"direction": "next"}


async def test_any_other_answer_goes_to_the_presser() -> None:
    """Stop's result, or a swipe the service refused, is the presser's alone."""
    router, _ = _router(CommandResult("Nothing to swipe yet."))
    press = FakePress(50)
    await router.route(press, PRESSES["prev"])
    assert press.answers == [("answer", "Nothing to swipe yet.")]
