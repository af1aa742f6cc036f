"""Post-processing in turns: the channel's mode shapes the prompt; a refusal tightens it."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncGenerator

from bot.app import Stores
from bot.core.domain import CompletionRequest, Connection, Delta, MessageStatus, Role
from bot.core.errors import EndpointStreamError, RoleOrderRejected
from bot.llm.refusals import provider_said, status_error
from bot.storage.store import SqlStore
from tests.fakes.clock import FakeClock
from tests.fakes.openai.scripted_client import Script, ScriptedClient, reply
from tests.service.conftest import CHANNEL, Harness, build_service
from tests.service.turns.test_prompt_assembly import ALICE, bring

OPERATOR = Connection("http://operator.example/v1", model="op-model", trusted=True)


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


class RoleJudgingClient(ScriptedClient):
    """An endpoint that wants, like Anthropic behind a proxy, alternating roles with the
    user first after the system prompt; its refusals go through the real error parser."""

    async def stream(self, request: CompletionRequest) -> AsyncGenerator[Delta, None]:
        roles = [m.role for m in request.messages if m.role is not Role.SYSTEM]
        if any(a == b for a, b in itertools.pairwise(roles)):
            words = 'messages: roles must alternate between "user" and "assistant"'
        elif roles[:1] != [Role.USER]:
            words = 'messages: first message must use the "user" role'
        else:
            words = ""
        if words:
            self.requests.append(request)
            body = json.dumps({"error": {"type": "invalid_request_error", "message": words}})
            raise status_error(400, provider_said(body.encode()))
        async for delta in super().stream(request):
            yield delta


async def test_a_greeting_first_chat_is_retried_up_to_strict(stores: Stores[SqlStore]) -> None:
    """A greeting opens the chat and the endpoint wants the user first: strict gets there."""
    client, clock = RoleJudgingClient([reply("Hello, Alice.")]), FakeClock(auto=True)
    harness = Harness(build_service(stores, client, clock, default=OPERATOR), stores, client, clock)
    await bring(harness, ALICE)
    replier = harness.replier()
    outcome = await harness.say("hi", replier=replier)
    assert outcome.status is MessageStatus.COMPLETE, outcome.error_text
    assert (await harness.store.load_channel(CHANNEL)).postprocess_mode == "strict"
    assert "/postprocess mode:strict" in list(replier.messages.values())[-1]
    sent = harness.client.requests[-1].messages
    assert [m.role for m in sent][:3] == [Role.SYSTEM, Role.USER, Role.ASSISTANT]


async def test_refusal_of_strict_itself_says_so_and_names_postprocess(harness: Harness) -> None:
    """When even strict is refused, the user is told so and what /postprocess has left."""
    harness.client.scripts += [Script(deltas=[], error=refusal()) for _ in range(4)]
    outcome = await harness.say("hi")
    assert outcome.status is MessageStatus.ERROR
    assert outcome.error_text is not None
    assert "even with /postprocess mode:strict" in outcome.error_text
    assert "/postprocess mode:single" in outcome.error_text
    assert "Unexpected role 'user' after role 'user'" in outcome.error_text
    assert len(harness.client.requests) == 4  # none, merge, semi, strict
