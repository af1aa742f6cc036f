"""A turn end to end through the service: prompt, stream, stop, failure, persistence."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest

from bot.core.domain import (
    ChannelKey,
    Connection,
    Delta,
    Incoming,
    MessageStatus,
    Permission,
    Role,
    Secret,
)
from bot.core.errors import EndpointRateLimited, EndpointRejected, EndpointStreamError
from tests.fakes.openai.scripted_client import Script, reply
from tests.service.conftest import CHANNEL, OPERATOR, Harness


async def stored(harness: Harness) -> list[tuple[str, str, str]]:
    state = await harness.store.load_channel(CHANNEL)
    rows = await harness.store.history(state.chat_id, limit=100)
    return [(m.role.value, m.status.value, m.content) for m in rows]


async def test_reply_is_streamed_and_stored(harness: Harness) -> None:
    """The reply reaches the chat whole, and both turns are stored complete."""
    harness.client.scripts.append(reply("Hello", ", ", "Ann", "!"))
    replier = harness.replier()
    outcome = await harness.say("hi there", replier=replier)
    assert outcome.status is MessageStatus.COMPLETE
    assert list(replier.messages.values()) == ["Hello, Ann!"]
    assert replier.violations == []
    assert await stored(harness) == [
        ("user", "complete", "hi there"),
        ("assistant", "complete", "Hello, Ann!"),
    ]


async def test_prompt_carries_system_prompt_and_history(harness: Harness) -> None:
    """The model sees the system prompt, earlier turns, then the new message."""
    harness.client.scripts += [reply("first answer"), reply("second answer")]
    await harness.command("system", prompt="Be brief.")
    await harness.say("one")
    await harness.say("two")
    messages = harness.client.requests[-1].messages
    assert [(m.role, m.content) for m in messages] == [
        (Role.SYSTEM, "Be brief."),
        (Role.USER, "one"),
        (Role.ASSISTANT, "first answer"),
        (Role.USER, "two"),
    ]


async def test_failed_reply_keeps_its_text_but_is_never_history(harness: Harness) -> None:
    """A reply cut by an endpoint error is stored with its partial text and left out of prompts."""
    broken = Script(
        deltas=[Delta(content="half a tho")],
        error=EndpointStreamError("The reply was cut off."),
    )
    harness.client.scripts += [broken, reply("fine")]
    replier = harness.replier()
    outcome = await harness.say("one", replier=replier)
    assert outcome.status is MessageStatus.ERROR
    assert outcome.content == "half a tho"
    shown = list(replier.messages.values())[-1]
    assert shown.startswith("half a tho")
    assert "The reply was cut off." in shown
    await harness.say("two")
    contents = [m.content for m in harness.client.requests[-1].messages]
    assert contents == ["one", "two"]
    assert (await stored(harness))[1] == ("assistant", "error", "half a tho")


async def test_stop_keeps_partial_text_and_closes_the_stream(harness: Harness) -> None:
    """/stop cancels the endpoint stream; the partial reply is shown and stored as stopped."""
    script = Script(deltas=[Delta(content="Once "), Delta(content="upon")], hold_after=2)
    harness.client.scripts.append(script)
    replier = harness.replier()
    turn = asyncio.create_task(harness.say("story", replier=replier))
    await script.reached_hold.wait()
    answer = await harness.command("stop", permission=Permission.EVERYONE)
    assert answer.text == "Stopped."
    outcome = await turn
    assert outcome.status is MessageStatus.STOPPED
    assert outcome.content == "Once upon"
    assert script.closed.is_set()
    assert list(replier.messages.values())[-1] == "Once upon\n\n*(stopped)*"
    assert (await stored(harness))[1] == ("assistant", "stopped", "Once upon")


async def test_only_the_asker_or_an_admin_may_stop(harness: Harness) -> None:
    """Another member cannot stop someone else's reply."""
    script = Script(deltas=[Delta(content="x")], hold_after=1)
    harness.client.scripts.append(script)
    turn = asyncio.create_task(harness.say("go"))
    await script.reached_hold.wait()
    refused = await harness.command("stop", permission=Permission.EVERYONE, user="bob")
    assert "Only the person who asked" in refused.text
    admin = await harness.command("stop", permission=Permission.CHANNEL_ADMIN, user="bob")
    assert admin.text == "Stopped."
    assert (await turn).status is MessageStatus.STOPPED


async def test_stop_with_nothing_running_says_so(harness: Harness) -> None:
    """/stop in a quiet channel explains that nothing is being written."""
    assert "Nothing is being written" in (await harness.command("stop")).text


async def test_shutdown_mid_reply_stores_it_as_interrupted(harness: Harness) -> None:
    """Cancelling the whole turn (shutdown) still stores the partial reply, as interrupted."""
    script = Script(deltas=[Delta(content="partial")], hold_after=1)
    harness.client.scripts.append(script)
    turn = asyncio.create_task(harness.say("go"))
    await script.reached_hold.wait()
    turn.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await turn
    assert (await stored(harness))[1] == ("assistant", "interrupted", "partial")


async def test_rate_limit_before_any_token_is_explained(harness: Harness) -> None:
    """An endpoint error before the first token ends the turn with the cause and hint."""
    limited = Script(
        deltas=[],
        error=EndpointRateLimited(
            "The endpoint is rate limiting us.", retry_after=7, hint="Try in 7 s."
        ),
    )
    harness.client.scripts.append(limited)
    replier = harness.replier()
    outcome = await harness.say("hi", replier=replier)
    assert outcome.status is MessageStatus.ERROR
    assert outcome.error_text == "The endpoint is rate limiting us. Try in 7 s."
    assert list(replier.messages.values()) == ["⚠️ The endpoint is rate limiting us. Try in 7 s."]


async def test_empty_reply_says_so(harness: Harness) -> None:
    """A model that sends nothing leaves a note instead of a bare placeholder."""
    harness.client.scripts.append(reply("  "))
    replier = harness.replier()
    await harness.say("hi", replier=replier)
    assert "empty reply" in list(replier.messages.values())[-1]


async def test_operator_key_never_goes_to_a_channel_endpoint(harness: Harness) -> None:
    """A channel's own URL gets only the channel's key, never the operator's."""
    operator = Connection(
        "http://operator.example/v1", model="op", api_key=Secret("sk-operator-0000"), trusted=True
    )
    harness = harness.rewired(default=operator)
    harness.client.scripts += [reply("a"), reply("b")]
    await harness.say("via operator")
    assert harness.client.requests[-1].connection.api_key == Secret("sk-operator-0000")
    await harness.command("connect", base_url="http://elsewhere.example/v1", model="m")
    await harness.say("via channel")
    request = harness.client.requests[-1]
    assert request.connection.base_url == "http://elsewhere.example/v1"
    assert request.connection.api_key is None
    assert request.connection.trusted is False


async def test_no_endpoint_anywhere_explains_how_to_connect(harness: Harness) -> None:
    """Without a channel connection or an operator default, the user is told what to do."""
    harness = harness.rewired(default=None)
    replier = harness.replier()
    outcome = await harness.say("hello", replier=replier)
    assert outcome.status is MessageStatus.ERROR
    assert "/connect" in replier.texts[-1]
    assert await stored(harness) == []


async def test_single_model_endpoint_needs_no_choice(harness: Harness) -> None:
    """A server that offers one model is used without /model."""
    await harness.command("connect", base_url="http://llama.example:8080/v1")
    harness.client.models_list = ["only-model.gguf"]
    harness.client.scripts.append(reply("ok"))
    await harness.say("hi")
    assert harness.client.requests[-1].model == "only-model.gguf"


async def test_several_models_and_none_chosen_lists_them(harness: Harness) -> None:
    """With several models and none chosen, the user is asked to pick one."""
    await harness.command("connect", base_url="http://vllm.example/v1")
    harness.client.models_list = ["a", "b"]
    outcome = await harness.say("hi")
    assert outcome.error_text is not None
    assert "/model name:" in outcome.error_text
    assert "a, b" in outcome.error_text


async def test_full_queue_answers_busy(harness: Harness, client: object) -> None:
    """More waiting messages than the queue holds get a busy answer, the rest run in order."""
    harness = harness.rewired(default=OPERATOR, queue_size=1)
    first = Script(deltas=[Delta(content="1")], hold_after=1)
    harness.client.scripts += [first, reply("2")]
    one = asyncio.create_task(harness.say("one"))
    await first.reached_hold.wait()
    two = asyncio.create_task(harness.say("two"))
    busy_replier = harness.replier()
    busy = await asyncio.wait_for(harness.say("three", replier=busy_replier), timeout=5)
    assert busy.status is MessageStatus.ERROR
    assert "still answering" in busy_replier.texts[-1]
    first.release.set()
    assert (await one).content == "1"
    assert (await two).content == "2"


async def test_other_channels_do_not_wait(harness: Harness) -> None:
    """A long reply in one channel does not delay another channel's turn."""
    slow = Script(deltas=[Delta(content="slow")], hold_after=1)
    harness.client.scripts += [slow, reply("quick")]
    blocked = asyncio.create_task(harness.say("wait"))
    await slow.reached_hold.wait()
    other = ChannelKey("test", "other")
    outcome = await harness.service.handle(
        Incoming(other, author_id="bob", author_name="Bob", text="hi"), harness.replier()
    )
    assert outcome.content == "quick"
    slow.release.set()
    await blocked


async def test_reply_is_stored_even_when_the_platform_refuses_it(harness: Harness) -> None:
    """A platform that rate-limits every write cannot lose a finished reply or hold the lane."""
    script = Script(deltas=[Delta(content="kept")], hold_after=0)
    harness.client.scripts.append(script)
    replier = harness.replier()
    turn = asyncio.create_task(harness.say("hi", replier=replier))
    await script.reached_hold.wait()  # the placeholder is out; now the platform turns hostile
    replier.fail_next(1000, retry_after=60.0)
    script.release.set()
    outcome = await turn
    assert outcome.status is MessageStatus.COMPLETE
    assert (await stored(harness))[1] == ("assistant", "complete", "kept")


async def test_placeholder_failure_is_stored_as_an_error(harness: Harness) -> None:
    """When not even the placeholder can be sent, the turn is an error, not a crash."""
    harness.client.scripts.append(reply("never shown"))
    replier = harness.replier()
    replier.fail_next(1000)
    outcome = await harness.say("hi", replier=replier)
    assert outcome.status is MessageStatus.ERROR
    assert (await stored(harness))[1][:2] == ("assistant", "error")


async def test_emoji_split_across_chunks_is_stored_whole(harness: Harness) -> None:
    """Surrogate halves from a server that escapes non-ASCII become one emoji, not a crash."""
    halves = Script(
        deltas=[Delta(content="hi \ud83d"), Delta(content="\ude00"), Delta(finish_reason="stop")]
    )
    harness.client.scripts.append(halves)
    replier = harness.replier()
    outcome = await harness.say("hey", replier=replier)
    assert outcome.content == "hi 😀"
    assert (await stored(harness))[1] == ("assistant", "complete", "hi 😀")
    assert list(replier.messages.values())[-1] == "hi 😀"


async def test_no_model_and_a_refusing_endpoint_names_the_real_cause(harness: Harness) -> None:
    """Without a chosen model, an endpoint that rejects the key says so, not 'pick a model'."""
    rejected = EndpointRejected("the endpoint rejected the API key", status_code=401)
    harness.client.models_at = {"http://locked.example/v1": rejected}
    await harness.command("connect", base_url="http://locked.example/v1")
    outcome = await harness.say("hi")
    assert outcome.error_text is not None
    assert "rejected the API key" in outcome.error_text


async def test_typing_shows_while_a_message_waits_its_turn(harness: Harness) -> None:
    """A message queued behind another already shows the typing signal."""
    first = Script(deltas=[Delta(content="1")], hold_after=1)
    harness.client.scripts += [first, reply("2")]
    one = asyncio.create_task(harness.say("one"))
    await first.reached_hold.wait()
    waiting = harness.replier()
    two = asyncio.create_task(harness.say("two", replier=waiting))
    await harness.clock.settle()
    assert waiting.typing_windows == [(harness.clock.now(), None)]  # on, and still waiting
    assert waiting.calls == []
    first.release.set()
    await asyncio.gather(one, two)
    assert waiting.typing_windows[0][1] is not None


@pytest.mark.parametrize(
    ("error", "cause"),
    [
        (
            EndpointRejected("the endpoint rejected the API key", status_code=401),
            "EndpointRejected 401",
        ),
        (EndpointRateLimited("slow down", retry_after=3.0), "EndpointRateLimited 429"),
        (EndpointStreamError("The reply was cut off."), "EndpointStreamError"),
    ],
)
async def test_a_failed_turns_log_line_names_its_cause(
    harness: Harness, caplog: pytest.LogCaptureFixture, error: Exception, cause: str
) -> None:
    """An operator reading the log tells a wrong key from a server that cut a reply off:
    the turn's line and its fields name the error's class (and HTTP status), nothing said."""
    harness.client.scripts.append(Script(deltas=[Delta(content="par")], error=error))
    with caplog.at_level(logging.INFO, logger="bot.service.turns.replying"):
        outcome = await harness.say("a secret plan")
    assert outcome.status is MessageStatus.ERROR
    [line] = [r for r in caplog.records if r.getMessage().startswith("turn ")]
    assert f"status=error cause={cause} " in line.getMessage()
    assert (line.__dict__["cause"], line.__dict__["status"]) == (cause, "error")
    assert line.__dict__["platform"] == CHANNEL.platform
    assert "secret plan" not in line.getMessage() + repr(line.__dict__)


async def test_a_completed_turns_log_line_has_no_cause(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    harness.client.scripts.append(reply("fine"))
    with caplog.at_level(logging.INFO, logger="bot.service.turns.replying"):
        await harness.say("hi")
    [line] = [r for r in caplog.records if r.getMessage().startswith("turn ")]
    assert "status=complete cause=- " in line.getMessage()
    assert line.__dict__["cause"] is None
    assert line.__dict__["duration_seconds"] >= 0
