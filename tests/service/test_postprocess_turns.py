"""Post-processing in turns: the channel's mode shapes the prompt; a refusal tightens it."""

from __future__ import annotations

from bot.domain import Delta, MessageStatus, Role
from bot.errors import EndpointStreamError, RoleOrderRejected
from tests.fakes.scripted_client import Script, reply
from tests.service.conftest import CHANNEL, Harness


def refusal() -> RoleOrderRejected:
    return RoleOrderRejected(
        "the endpoint refused the order of the messages",
        status_code=400,
        provider_message="Unexpected role 'user' after role 'user'",
    )


async def test_merge_joins_the_questions_a_failed_reply_left_behind(harness: Harness) -> None:
    """After a failed reply, merge mode sends one user message, not two in a row."""
    failed = Script(deltas=[], error=EndpointStreamError("cut"))
    harness.client.scripts += [failed, reply("ok")]
    await harness.say("first")
    answer = await harness.command("postprocess", mode="merge")
    assert "merge" in answer.text
    await harness.say("second")
    roles = [m.role for m in harness.client.requests[-1].messages]
    assert roles == [Role.USER]
    assert "first" in harness.client.requests[-1].messages[0].content
    assert "second" in harness.client.requests[-1].messages[0].content


async def test_refused_order_is_retried_stricter_and_remembered(harness: Harness) -> None:
    """A role-order 400 retries with stricter modes until one works, tells, and keeps it."""
    harness.client.scripts += [
        Script(deltas=[], error=refusal()),
        Script(deltas=[], error=refusal()),
        reply("finally"),
        reply("again"),
    ]
    replier = harness.replier()
    outcome = await harness.say("hi", replier=replier)
    assert outcome.status is MessageStatus.COMPLETE
    assert outcome.content == "finally"
    state = await harness.store.load_channel(CHANNEL)
    assert state.postprocess_mode == "semi"
    shown = list(replier.messages.values())[-1]
    assert shown.startswith("finally")
    assert "/postprocess mode:semi" in shown
    quiet = harness.replier()
    await harness.say("next", replier=quiet)
    assert "/postprocess" not in list(quiet.messages.values())[-1]


async def test_refusal_in_the_strictest_mode_is_reported(harness: Harness) -> None:
    """When even strict is refused, the user gets the cause and its hint."""
    await harness.command("postprocess", mode="strict")
    harness.client.scripts.append(Script(deltas=[], error=refusal()))
    outcome = await harness.say("hi")
    assert outcome.status is MessageStatus.ERROR
    assert outcome.error_text is not None
    assert "order of the messages" in outcome.error_text


async def test_refusal_after_tokens_is_not_retried(harness: Harness) -> None:
    """Once text was shown, a refusal is an error, not a silent retry."""
    partial = Script(deltas=[Delta(content="par")], error=refusal())
    harness.client.scripts.append(partial)
    outcome = await harness.say("hi")
    assert outcome.status is MessageStatus.ERROR
    assert len(harness.client.requests) == 1
