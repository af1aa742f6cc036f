"""/regenerate, /swipe and /continue: other versions of the last reply, and longer ones."""

from __future__ import annotations

import asyncio

from bot.core.domain import (
    Actor,
    CommandCall,
    Delta,
    MessageStatus,
    Permission,
    TurnOutcome,
)
from bot.core.errors import EndpointStreamError
from bot.prompt.assemble import CONTINUE_NUDGE
from tests.fakes.openai.scripted_client import Script, reply
from tests.fakes.recording_replier import RecordingReplier
from tests.service.conftest import CHANNEL, Harness
from tests.service.turns.test_prompt_assembly import ALICE, alice_with, bring, sent

NUDGE = {"role": "system", "content": CONTINUE_NUDGE}


ANN = Actor("ann", "Ann", Permission.EVERYONE)


async def rewrite(
    harness: Harness,
    name: str,
    *,
    replier: RecordingReplier | None = None,
    actor: Actor = ANN,
) -> TurnOutcome:
    """/regenerate or /continue, as a platform runs them: streamed into the chat."""
    call = CommandCall(name, {}, CHANNEL, actor)
    return await harness.service.rewrite(call, replier or harness.replier())


async def swipe(harness: Harness, direction: str = "next") -> str:
    answer = await harness.command("swipe", permission=Permission.EVERYONE, direction=direction)
    return answer.text


async def chat(harness: Harness) -> list[tuple[str, str, str]]:
    state = await harness.store.load_channel(CHANNEL)
    rows = await harness.store.history(state.chat_id, limit=100)
    return [(m.role.value, m.status.value, m.content) for m in rows]


async def test_regenerate_writes_a_new_reply_and_keeps_the_old(harness: Harness) -> None:
    """/regenerate asks again without the old reply in the prompt; the new one is chosen."""
    harness.client.scripts += [reply("first"), reply("second")]
    await harness.say("hi")
    replier = harness.replier()
    outcome = await rewrite(harness, "regenerate", replier=replier)
    assert outcome.content == "second"
    assert list(replier.messages.values()) == ["second"]
    assert sent(harness) == [{"role": "user", "content": "hi"}]
    assert await chat(harness) == [("user", "complete", "hi"), ("assistant", "complete", "second")]
    assert await swipe(harness, "previous") == "first\n*(1/2)*"


async def test_swiping_back_makes_the_old_reply_the_history(harness: Harness) -> None:
    """After /swipe direction:previous, the next prompt carries the older reply."""
    harness.client.scripts += [reply("first"), reply("second"), reply("third")]
    await harness.say("hi")
    await rewrite(harness, "regenerate")
    await swipe(harness, "previous")
    await harness.say("and?")
    assert sent(harness) == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "first"},
        {"role": "user", "content": "and?"},
    ]


async def test_swipe_past_the_newest_points_at_regenerate(harness: Harness) -> None:
    """/swipe next on the newest version says /regenerate writes another; nothing changes."""
    harness.client.scripts += [reply("first"), reply("second")]
    await harness.say("hi")
    assert "/regenerate writes another" in await swipe(harness, "next")
    await rewrite(harness, "regenerate")
    answer = await swipe(harness, "next")
    assert "newest version" in answer
    assert "(2 of 2)" in answer
    assert "/regenerate writes another" in answer
    assert (await chat(harness))[-1][2] == "second"


async def test_swipe_before_the_first_says_so(harness: Harness) -> None:
    """/swipe direction:previous on the first version says it is the first."""
    harness.client.scripts.append(reply("only"))
    await harness.say("hi")
    answer = await swipe(harness, "previous")
    assert "first version" in answer
    assert "/regenerate" not in answer


async def test_swipe_with_no_reply_explains(harness: Harness) -> None:
    """/swipe in an empty chat says there is nothing to swipe."""
    assert "say something first" in await swipe(harness)


async def test_regenerate_on_the_greeting_only_explains(harness: Harness) -> None:
    """With only the greeting in the chat, /regenerate explains /swipe and /greeting."""
    await bring(harness, ALICE)
    replier = harness.replier()
    outcome = await rewrite(harness, "regenerate", replier=replier)
    assert outcome.status is MessageStatus.ERROR
    assert "/greeting" in replier.texts[-1]
    assert harness.client.requests == []
    assert await chat(harness) == [("assistant", "complete", "*stretches* Hello, Ann.")]


async def test_greetings_are_swipes_of_the_first_message(harness: Harness) -> None:
    """The alternate greetings are the greeting's swipes, said by the character."""
    await bring(harness, alice_with(alternate_greetings=("Purr, {{user}}.",)))
    answer = await harness.command("swipe", permission=Permission.EVERYONE)
    assert answer.text == "Purr, Ann.\n*(2/2)*"
    assert answer.speaker == "Alice"
    harness.client.scripts.append(reply("meow"))
    await harness.say("hi")
    assert {"role": "assistant", "content": "Purr, Ann."} in sent(harness)


async def test_regenerate_by_someone_else_keeps_the_prompt_written_to_the_asker(
    harness: Harness,
) -> None:
    """Carol regenerating Ann's answer must not turn a 1:1 chat into a group chat or make
    Carol the {{user}}: the prompt is the one Ann's turn sent."""
    harness.client.scripts += [reply("*purrs*"), reply("*meows*")]
    await bring(harness, ALICE)
    await harness.say("Hey Alice")
    first = sent(harness)
    await rewrite(harness, "regenerate", actor=Actor("carol", "Carol", Permission.EVERYONE))
    assert sent(harness) == first


async def test_swipe_past_the_only_greeting_points_at_greeting(harness: Harness) -> None:
    """A greeting cannot be regenerated, so /swipe past its last version offers /greeting."""
    await bring(harness, ALICE)
    answer = await swipe(harness, "next")
    assert "(1 of 1)" in answer
    assert "/greeting" in answer
    assert "/regenerate" not in answer


async def test_regenerate_with_a_character_keeps_the_prompt_around_the_history(
    harness: Harness,
) -> None:
    """Regenerating sends the same prompt as the turn did, minus the replaced reply."""
    harness.client.scripts += [reply("*purrs*"), reply("*meows*")]
    await harness.command("persona", name="Bob")
    await bring(harness, ALICE)
    await harness.say("Hey Alice")
    first = sent(harness)
    await rewrite(harness, "regenerate")
    assert sent(harness) == first


async def test_failed_regeneration_keeps_the_previous_reply(harness: Harness) -> None:
    """A regeneration the endpoint refuses before any text leaves the old reply chosen."""
    failed = Script(deltas=[], error=EndpointStreamError("The endpoint broke."))
    harness.client.scripts += [reply("first"), failed, reply("next")]
    await harness.say("hi")
    replier = harness.replier()
    outcome = await rewrite(harness, "regenerate", replier=replier)
    assert outcome.status is MessageStatus.ERROR
    assert "The endpoint broke." in replier.texts[-1]
    assert await chat(harness) == [("user", "complete", "hi"), ("assistant", "complete", "first")]
    assert "(1 of 1)" in await swipe(harness, "next")
    await harness.say("more")
    assert {"role": "assistant", "content": "first"} in sent(harness)


async def test_regeneration_cut_off_midway_keeps_the_previous_reply_in_the_prompt(
    harness: Harness,
) -> None:
    """A regeneration that fails after some text must not leave the model without any reply:
    the partial text stays as a swipe to look at, the whole one before it is remembered."""
    broken = Script(deltas=[Delta(content="half")], error=EndpointStreamError("cut"))
    harness.client.scripts += [reply("first"), broken, reply("next")]
    await harness.say("hi")
    replier = harness.replier()
    outcome = await rewrite(harness, "regenerate", replier=replier)
    assert outcome.status is MessageStatus.ERROR
    assert "I still remember the version before" in replier.texts[-1]
    assert (await chat(harness))[-1] == ("assistant", "complete", "first")
    assert await swipe(harness) == "half\n*(2/2)*"
    assert (await chat(harness))[-1] == ("assistant", "error", "half")
    await swipe(harness, "previous")
    await harness.say("more")
    assert {"role": "assistant", "content": "first"} in sent(harness)


async def test_a_stopped_regeneration_is_kept_but_the_whole_reply_is_remembered(
    harness: Harness,
) -> None:
    """/stop on a regeneration keeps its words as a swipe; the model goes on from the whole
    reply it had, not from a half-written one."""
    held = Script(deltas=[Delta(content="sec")], hold_after=1)
    harness.client.scripts += [reply("first"), held]
    await harness.say("hi")
    replier = harness.replier()
    writing = asyncio.create_task(rewrite(harness, "regenerate", replier=replier))
    await held.reached_hold.wait()
    await harness.command("stop", permission=Permission.EVERYONE)
    outcome = await writing
    assert outcome.status is MessageStatus.STOPPED
    assert (await chat(harness))[-1] == ("assistant", "complete", "first")
    assert replier.texts[-1].startswith("sec\n\n*(stopped)*")
    assert "/swipe previous" in replier.texts[-1]
    assert await swipe(harness) == "sec\n*(2/2)*"


async def test_continue_extends_the_last_reply(harness: Harness) -> None:
    """/continue sends the reply so far and the nudge, and stores the two texts as one."""
    harness.client.scripts += [reply("Once upon"), reply(" a time.")]
    await harness.say("tell a story")
    replier = harness.replier()
    outcome = await rewrite(harness, "continue", replier=replier)
    assert outcome.content == "Once upon a time."
    assert sent(harness) == [
        {"role": "user", "content": "tell a story"},
        {"role": "assistant", "content": "Once upon"},
        NUDGE,
    ]
    assert (await chat(harness))[-1] == ("assistant", "complete", "Once upon a time.")


async def test_continue_with_a_character_puts_the_nudge_after_the_chat(
    harness: Harness,
) -> None:
    """With a card, the nudge closes the chat history; the post-history instructions
    follow it, as in the reference."""
    harness.client.scripts += [reply("*purrs*"), reply(" loudly")]
    await harness.command("persona", name="Bob")
    await bring(harness, ALICE)
    await harness.say("Hey Alice")
    await rewrite(harness, "continue")
    assert sent(harness)[-4:] == [
        {"role": "user", "content": "Hey Alice"},
        {"role": "assistant", "content": "*purrs*"},
        NUDGE,
        {"role": "system", "content": "Stay in character as Alice."},
    ]
    assert (await chat(harness))[-1][2] == "*purrs* loudly"


async def test_failed_continue_leaves_the_reply_as_it_was(harness: Harness) -> None:
    """A continuation the endpoint breaks off keeps the reply as it was before."""
    broken = Script(deltas=[Delta(content=" and")], error=EndpointStreamError("cut"))
    harness.client.scripts += [reply("Once upon"), broken]
    await harness.say("tell a story")
    await rewrite(harness, "continue")
    assert (await chat(harness))[-1] == ("assistant", "complete", "Once upon")


async def test_continue_with_no_reply_explains(harness: Harness) -> None:
    """/continue before the bot said anything tells the user to say something first."""
    replier = harness.replier()
    outcome = await rewrite(harness, "continue", replier=replier)
    assert outcome.status is MessageStatus.ERROR
    assert "say something first" in replier.texts[-1]
    assert harness.client.requests == []


async def test_rewriting_commands_sent_as_plain_commands_point_to_the_chat(
    harness: Harness,
) -> None:
    """/regenerate run where no reply can be streamed says to send it in the chat."""
    answer = await harness.command("regenerate", permission=Permission.EVERYONE)
    assert "writes into the chat" in answer.text


async def stopped_reply(harness: Harness, *tokens: str) -> None:
    """A turn whose reply the member stops after `tokens`."""
    script = Script(deltas=[Delta(content=t) for t in tokens], hold_after=len(tokens))
    harness.client.scripts.append(script)
    turn = asyncio.create_task(harness.say("tell a story"))
    await script.reached_hold.wait()
    await harness.command("stop", permission=Permission.EVERYONE)
    assert (await turn).status is MessageStatus.STOPPED


async def test_a_stopped_reply_is_history(harness: Harness) -> None:
    """What a member stopped was said in the chat, so the next prompt carries it, and no two
    user messages come in a row."""
    await stopped_reply(harness, "Once upon", " a time")
    harness.client.scripts.append(reply("The end."))
    await harness.say("go on")
    assert sent(harness) == [
        {"role": "user", "content": "tell a story"},
        {"role": "assistant", "content": "Once upon a time"},
        {"role": "user", "content": "go on"},
    ]


async def test_continue_carries_on_a_stopped_reply(harness: Harness) -> None:
    """/continue extends a stopped reply, as SillyTavern's continue does."""
    await stopped_reply(harness, "Once upon")
    harness.client.scripts.append(reply(" a time."))
    outcome = await rewrite(harness, "continue")
    assert outcome.content == "Once upon a time."
    assert sent(harness) == [
        {"role": "user", "content": "tell a story"},
        {"role": "assistant", "content": "Once upon"},
        NUDGE,
    ]
    assert (await chat(harness))[-1] == ("assistant", "complete", "Once upon a time.")


async def test_a_failed_continue_of_a_stopped_reply_leaves_it_stopped(harness: Harness) -> None:
    """A continuation the endpoint breaks off leaves the stopped reply as it was, still stopped."""
    await stopped_reply(harness, "Once upon")
    harness.client.scripts.append(
        Script(deltas=[Delta(content=" and")], error=EndpointStreamError("cut"))
    )
    await rewrite(harness, "continue")
    assert (await chat(harness))[-1] == ("assistant", "stopped", "Once upon")


async def test_continue_of_a_failed_or_empty_reply_points_to_regenerate(harness: Harness) -> None:
    """A reply the endpoint broke off, or a stop before any word, is not continued."""
    broken = Script(deltas=[Delta(content="half")], error=EndpointStreamError("cut"))
    harness.client.scripts.append(broken)
    await harness.say("tell a story")
    replier = harness.replier()
    await rewrite(harness, "continue", replier=replier)
    assert "/regenerate" in replier.texts[-1]
    await stopped_reply(harness)
    replier = harness.replier()
    await rewrite(harness, "continue", replier=replier)
    assert "/regenerate" in replier.texts[-1]
