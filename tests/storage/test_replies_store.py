"""Replies after their first writing, on both databases: swipes, regeneration, continuation,
cached token counts, and paging back through history."""

from __future__ import annotations

import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.domain import (
    ChannelKey,
    ChatId,
    MessageId,
    MessageStatus,
    NewUserMessage,
    Role,
    StoredMessage,
)
from bot.core.errors import StorageError, UsageError
from bot.storage.store import SqlStore
from bot.storage.tables import MessageRow

KEY = ChannelKey("discord", "1234567890")
GREETINGS = ["Hello, traveller.", "Oh. It's you again.", "*yawns* Welcome."]
REWORKS = ["begin_regeneration", "begin_continuation", "choose_swipe"]
FAILURES_WITHOUT_TEXT = [MessageStatus.ERROR, MessageStatus.INTERRUPTED, MessageStatus.STOPPED]


def said(content: str) -> NewUserMessage:
    return NewUserMessage(author_id="42", author_name="Ada", content=content)


async def chat_of(store: SqlStore) -> ChatId:
    return (await store.load_channel(KEY)).chat_id


async def turn(store: SqlStore, chat: ChatId, reply: str, *, reasoning: str = "") -> MessageId:
    """A user message answered with `reply`; the reply's id."""
    ids = await store.begin_turn(chat, said(f"about {reply}"))
    await store.finish_turn(
        ids.assistant_message_id,
        content=reply,
        reasoning=reasoning,
        status=MessageStatus.COMPLETE,
        finish_reason="stop",
    )
    return ids.assistant_message_id


async def regenerate(
    store: SqlStore, chat: ChatId, reply: str, status: MessageStatus = MessageStatus.COMPLETE
) -> None:
    """A new version of the last reply, ending with `status`."""
    pending = await store.begin_regeneration(chat)
    await store.finish_turn(pending.id, content=reply, reasoning="", status=status)


async def last(store: SqlStore, chat: ChatId) -> StoredMessage:
    return (await store.history(chat, limit=1))[-1]


async def rework(store: SqlStore, chat: ChatId, how: str) -> None:
    """Ask for another version, a continuation or a swipe of the chat's last reply."""
    if how == "choose_swipe":
        await store.choose_swipe(chat, -1)
    else:
        await getattr(store, how)(chat)


def version(message: StoredMessage) -> tuple[str, MessageStatus, int, int]:
    """What a user sees of a reply: its text, status, and "n of m"."""
    return message.content, message.status, message.swipe_index + 1, message.swipe_count


async def test_greeting_chat_opens_with_the_chosen_greeting(store: SqlStore) -> None:
    """The chosen greeting is the reply shown; the others are its swipes."""
    chat = await store.reset_chat(KEY, greetings=GREETINGS, chosen=1)

    history = await store.history(chat, limit=10)

    assert [m.role for m in history] == [Role.ASSISTANT]
    assert version(history[0]) == (GREETINGS[1], MessageStatus.COMPLETE, 2, 3)
    assert (await store.load_channel(KEY)).chat_id == chat


async def test_single_greeting_has_no_swipes(store: SqlStore) -> None:
    """One greeting is one version."""
    chat = await store.reset_chat(KEY, greetings=GREETINGS[:1])

    assert version(await last(store, chat)) == (GREETINGS[0], MessageStatus.COMPLETE, 1, 1)


async def test_greeting_that_does_not_exist_is_refused(store: SqlStore) -> None:
    """Choosing past the last greeting opens no chat."""
    chat = await chat_of(store)

    with pytest.raises(StorageError):
        await store.reset_chat(KEY, greetings=GREETINGS, chosen=3)

    assert await chat_of(store) == chat


async def test_choose_swipe_moves_and_history_follows(store: SqlStore) -> None:
    """Each step shows the next version, and history (what prompts read) shows it too."""
    chat = await store.reset_chat(KEY, greetings=GREETINGS, chosen=1)

    forward = await store.choose_swipe(chat, 1)
    assert version(forward) == (GREETINGS[2], MessageStatus.COMPLETE, 3, 3)
    assert version(await last(store, chat)) == version(forward)

    back = await store.choose_swipe(chat, -2)
    assert version(back) == (GREETINGS[0], MessageStatus.COMPLETE, 1, 3)
    assert version(await last(store, chat)) == version(back)


async def test_chosen_swipe_stays_in_history_after_the_next_turn(store: SqlStore) -> None:
    """The story goes on from the version the user picked."""
    chat = await store.reset_chat(KEY, greetings=GREETINGS, chosen=0)
    await store.choose_swipe(chat, 2)

    await turn(store, chat, "the next reply")

    greeting = (await store.history(chat, limit=10))[0]
    assert version(greeting) == (GREETINGS[2], MessageStatus.COMPLETE, 3, 3)


@pytest.mark.parametrize(
    ("chosen", "step", "words"),
    [(0, -1, r"first version of my last reply \(1 of 3\)"), (2, 1, r"newest .* \(3 of 3\)")],
)
async def test_swipe_out_of_range_says_which_version_it_is(
    store: SqlStore, chosen: int, step: int, words: str
) -> None:
    """Swiping past either end is a UsageError naming the version shown; nothing moves."""
    chat = await store.reset_chat(KEY, greetings=GREETINGS, chosen=chosen)

    with pytest.raises(UsageError, match=words):
        await store.choose_swipe(chat, step)

    assert (await last(store, chat)).swipe_index == chosen


async def test_swipe_of_a_reply_without_alternatives_is_refused(store: SqlStore) -> None:
    """A reply written once is version 1 of 1, and /regenerate is suggested."""
    chat = await chat_of(store)
    await turn(store, chat, "only")

    with pytest.raises(UsageError, match=r"\(1 of 1\)\. /regenerate"):
        await store.choose_swipe(chat, 1)


async def test_regeneration_keeps_the_old_reply_as_a_swipe(store: SqlStore) -> None:
    """The new version is pending and shown, then settled; swiping back shows the old one."""
    chat = await chat_of(store)
    await turn(store, chat, "first answer", reasoning="first thoughts")

    previous = await store.begin_regeneration(chat)

    assert version(previous) == ("first answer", MessageStatus.COMPLETE, 1, 1)
    assert version(await last(store, chat)) == ("", MessageStatus.PENDING, 2, 2)
    await store.finish_turn(
        previous.id,
        content="second answer",
        reasoning="new thoughts",
        status=MessageStatus.COMPLETE,
    )
    assert version(await last(store, chat)) == ("second answer", MessageStatus.COMPLETE, 2, 2)

    old = await store.choose_swipe(chat, -1)

    assert version(old) == ("first answer", MessageStatus.COMPLETE, 1, 2)
    assert old.reasoning == "first thoughts"
    new = await store.choose_swipe(chat, 1)
    assert (new.content, new.reasoning) == ("second answer", "new thoughts")
    assert len(await store.history(chat, limit=10)) == 2


@pytest.mark.parametrize("failure", FAILURES_WITHOUT_TEXT)
async def test_regeneration_without_text_is_dropped(
    store: SqlStore, failure: MessageStatus
) -> None:
    """A new version that failed before writing anything leaves no empty swipe behind."""
    chat = await chat_of(store)
    await turn(store, chat, "first answer")

    await regenerate(store, chat, "", failure)

    assert version(await last(store, chat)) == ("first answer", MessageStatus.COMPLETE, 1, 1)


async def test_failed_regeneration_goes_back_to_the_version_shown_before(
    store: SqlStore,
) -> None:
    """Regenerating from an older swipe and failing shows that swipe again, not the newest."""
    chat = await chat_of(store)
    await turn(store, chat, "one")
    await regenerate(store, chat, "two")
    await regenerate(store, chat, "three")
    await store.choose_swipe(chat, -2)

    await regenerate(store, chat, "", MessageStatus.ERROR)

    assert version(await last(store, chat)) == ("one", MessageStatus.COMPLETE, 1, 3)


@pytest.mark.parametrize("status", [MessageStatus.STOPPED, MessageStatus.ERROR])
async def test_unfinished_regeneration_is_kept_but_the_whole_reply_stays_chosen(
    store: SqlStore, status: MessageStatus
) -> None:
    """Words written before /stop or a failure are a version of their own, but the whole
    reply shown before stays the chosen one: only a finished reply is history."""
    chat = await chat_of(store)
    await turn(store, chat, "first answer")

    await regenerate(store, chat, "half a sent", status)

    assert version(await last(store, chat)) == ("first answer", MessageStatus.COMPLETE, 1, 2)
    assert version(await store.choose_swipe(chat, 1)) == ("half a sent", status, 2, 2)


async def test_unfinished_regeneration_of_an_unfinished_reply_is_chosen(
    store: SqlStore,
) -> None:
    """With no whole version to go back to, the newest words are what the chat shows."""
    chat = await chat_of(store)
    await turn(store, chat, "first")
    await regenerate(store, chat, "stopped early", MessageStatus.STOPPED)
    await store.choose_swipe(chat, 1)

    await regenerate(store, chat, "stopped again", MessageStatus.STOPPED)

    assert version(await last(store, chat)) == ("stopped again", MessageStatus.STOPPED, 3, 3)


async def test_regenerating_a_reply_that_failed_without_text_replaces_it(
    store: SqlStore,
) -> None:
    """A failed, empty reply is not worth keeping as a swipe of its replacement."""
    chat = await chat_of(store)
    ids = await store.begin_turn(chat, said("hi"))
    await store.finish_turn(
        ids.assistant_message_id, content="", reasoning="", status=MessageStatus.ERROR
    )

    await regenerate(store, chat, "better")

    assert version(await last(store, chat)) == ("better", MessageStatus.COMPLETE, 1, 1)


async def test_continuation_extends_the_reply(store: SqlStore) -> None:
    """The reply is pending while it grows, then holds the old text and the new."""
    chat = await chat_of(store)
    await turn(store, chat, "Once upon", reasoning="r1")

    previous = await store.begin_continuation(chat)

    assert version(previous) == ("Once upon", MessageStatus.COMPLETE, 1, 1)
    assert (await last(store, chat)).status is MessageStatus.PENDING
    await store.finish_turn(
        previous.id, content="Once upon a time", reasoning="r1r2", status=MessageStatus.COMPLETE
    )
    assert version(await last(store, chat)) == ("Once upon a time", MessageStatus.COMPLETE, 1, 1)
    assert (await last(store, chat)).reasoning == "r1r2"


async def test_continued_swipe_keeps_its_new_text(store: SqlStore) -> None:
    """Continuing one version changes that version only; swiping away and back keeps it."""
    chat = await chat_of(store)
    await turn(store, chat, "one")
    await regenerate(store, chat, "two")
    await store.choose_swipe(chat, -1)
    previous = await store.begin_continuation(chat)
    await store.finish_turn(
        previous.id, content="one, and more", reasoning="", status=MessageStatus.COMPLETE
    )

    assert (await store.choose_swipe(chat, 1)).content == "two"
    assert (await store.choose_swipe(chat, -1)).content == "one, and more"


@pytest.mark.parametrize("begin", REWORKS)
async def test_nothing_to_work_on_is_a_usage_error(
    store: SqlStore, engine: AsyncEngine, begin: str
) -> None:
    """An empty chat, or one ending with the user's message, has no reply to work on."""
    chat = await chat_of(store)

    with pytest.raises(UsageError, match="no reply of mine"):
        await rework(store, chat, begin)
    ids = await store.begin_turn(chat, said("hi"))
    async with engine.begin() as connection:
        await connection.execute(
            delete(MessageRow).where(MessageRow.id == ids.assistant_message_id)
        )
    with pytest.raises(UsageError, match="no reply of mine"):
        await rework(store, chat, begin)


@pytest.mark.parametrize("opened", ["begin_turn", "begin_regeneration", "begin_continuation"])
@pytest.mark.parametrize("begin", REWORKS)
async def test_reply_still_being_written_is_a_usage_error(
    store: SqlStore, opened: str, begin: str
) -> None:
    """A pending reply (new, regenerated or continued) can't be reworked until it ends."""
    chat = await chat_of(store)
    if opened == "begin_turn":
        await store.begin_turn(chat, said("hi"))
    else:
        await turn(store, chat, "done")
        await getattr(store, opened)(chat)

    with pytest.raises(UsageError, match="still writing"):
        await rework(store, chat, begin)


async def test_continuation_of_a_failed_empty_reply_is_refused(store: SqlStore) -> None:
    """There is nothing to continue in a reply that failed before its first word."""
    chat = await chat_of(store)
    ids = await store.begin_turn(chat, said("hi"))
    await store.finish_turn(
        ids.assistant_message_id, content="", reasoning="", status=MessageStatus.ERROR
    )

    with pytest.raises(UsageError, match="nothing to continue"):
        await store.begin_continuation(chat)


async def test_token_counts_are_cached(store: SqlStore) -> None:
    """Saved counts come back with the tokenizer that made them; unknown ids are skipped."""
    chat = await chat_of(store)
    reply = await turn(store, chat, "answer")
    user = (await store.history(chat, limit=2))[0].id

    await store.save_token_counts("llama3", {user: 7, reply: 11, MessageId(987654): 3})

    counts = [(m.token_count, m.token_counter) for m in await store.history(chat, limit=2)]
    assert counts == [(7, "llama3"), (11, "llama3")]


@pytest.mark.parametrize("change", ["regenerate", "swipe", "continue"])
async def test_changed_text_clears_its_token_count(store: SqlStore, change: str) -> None:
    """A reply whose text changes is counted again; the other messages keep their counts."""
    chat = await chat_of(store)
    await turn(store, chat, "one")
    if change == "swipe":
        await regenerate(store, chat, "two")
    user, reply = await store.history(chat, limit=2)
    await store.save_token_counts("llama3", {user.id: 7, reply.id: 11})

    if change == "regenerate":
        await regenerate(store, chat, "two")
    elif change == "swipe":
        await store.choose_swipe(chat, -1)
    else:
        previous = await store.begin_continuation(chat)
        await store.finish_turn(
            previous.id, content="one more", reasoning="", status=MessageStatus.COMPLETE
        )

    user, reply = await store.history(chat, limit=2)
    assert (user.token_count, user.token_counter) == (7, "llama3")
    assert (reply.token_count, reply.token_counter) == (None, None)


async def test_history_pages_backwards_without_gaps_or_overlaps(store: SqlStore) -> None:
    """Three pages, each older than the last, make up the whole chat in order."""
    chat = await chat_of(store)
    for number in range(5):
        await turn(store, chat, f"reply {number}")
    everything = await store.history(chat, limit=100)

    newest = await store.history(chat, limit=4)
    middle = await store.history(chat, limit=4, before=newest[0].id)
    oldest = await store.history(chat, limit=4, before=middle[0].id)

    assert [len(page) for page in (newest, middle, oldest)] == [4, 4, 2]
    assert oldest + middle + newest == everything
    assert await store.history(chat, limit=4, before=oldest[0].id) == []


async def test_interrupted_regeneration_is_dropped_at_start_up(store: SqlStore) -> None:
    """A regeneration cut off by a restart leaves the old reply shown, and swipes work."""
    chat = await chat_of(store)
    await turn(store, chat, "first answer")
    await store.begin_regeneration(chat)

    assert await store.settle_interrupted() == 1

    assert version(await last(store, chat)) == ("first answer", MessageStatus.COMPLETE, 1, 1)
    with pytest.raises(UsageError, match="newest"):
        await store.choose_swipe(chat, 1)


async def test_interrupted_continuation_keeps_the_reply_as_it_was(store: SqlStore) -> None:
    """A continuation cut off by a restart leaves the complete reply, still in the story."""
    chat = await chat_of(store)
    await turn(store, chat, "one")
    await regenerate(store, chat, "two")
    await store.begin_continuation(chat)

    assert await store.settle_interrupted() == 1

    assert version(await last(store, chat)) == ("two", MessageStatus.COMPLETE, 2, 2)
    assert version(await store.choose_swipe(chat, -1)) == ("one", MessageStatus.COMPLETE, 1, 2)
    assert version(await store.choose_swipe(chat, 1)) == ("two", MessageStatus.COMPLETE, 2, 2)


async def test_a_crash_keeps_what_a_reply_had_shown(store: SqlStore) -> None:
    """Text saved while streaming survives the process: settled as interrupted, continuable."""
    chat = await chat_of(store)
    ids = await store.begin_turn(chat, said("a story"))
    await store.save_partial(ids.assistant_message_id, content="Once", reasoning="")
    await store.save_partial(ids.assistant_message_id, content="Once upon", reasoning="hmm")
    assert await store.settle_interrupted() == 1
    cut = await last(store, chat)
    assert (cut.status, cut.content, cut.reasoning) == (
        MessageStatus.INTERRUPTED,
        "Once upon",
        "hmm",
    )
    assert (await store.begin_continuation(chat)).content == "Once upon"


async def test_a_crash_mid_continuation_keeps_both_parts(store: SqlStore) -> None:
    """A continuation cut by a crash keeps the reply it extended and what it had added."""
    chat = await chat_of(store)
    await turn(store, chat, "Once upon")
    pending = await store.begin_continuation(chat)
    await store.save_partial(pending.id, content=" a time", reasoning="")
    await store.settle_interrupted()
    cut = await last(store, chat)
    assert (cut.status, cut.content) == (MessageStatus.INTERRUPTED, "Once upon a time")


async def test_a_continuation_cut_before_any_text_goes_back_to_the_reply(store: SqlStore) -> None:
    """Nothing shown, nothing changed: the reply it extended is complete again."""
    chat = await chat_of(store)
    await turn(store, chat, "Once upon")
    await store.begin_continuation(chat)
    await store.settle_interrupted()
    assert (await last(store, chat)).status is MessageStatus.COMPLETE


async def test_the_final_text_wins_over_a_late_partial_save(store: SqlStore) -> None:
    """A save that lands after the reply was settled changes nothing."""
    chat = await chat_of(store)
    reply_id = await turn(store, chat, "The whole reply.")
    await store.save_partial(reply_id, content="The wh", reasoning="")
    assert await store.settle_interrupted() == 0
    assert (await last(store, chat)).content == "The whole reply."
