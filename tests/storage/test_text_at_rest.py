"""Text that some databases cannot hold is made storable at the storage edge, on every backend.

PostgreSQL refuses U+0000 in text, and no backend can encode a lone UTF-16 surrogate; both
reach us from endpoints and users. What was shown is stored, less the NUL itself.
"""

from __future__ import annotations

import pytest

from bot.core.domain import ChannelChanges, ChannelKey, MessageStatus, NewUserMessage
from bot.storage.store import SqlStore

KEY = ChannelKey("telegram", "-100777")

UNSTORABLE = [
    pytest.param("be\x00fore\x00", "before", id="nul"),
    pytest.param("\x00", "", id="only-nul"),
    pytest.param("half \ud83d pair", "half \ufffd pair", id="lone-high-surrogate"),
    pytest.param("\ude00 low", "\ufffd low", id="lone-low-surrogate"),
    pytest.param("fine 😀 text", "fine 😀 text", id="untouched"),
]


@pytest.mark.parametrize(("raw", "stored"), UNSTORABLE)
async def test_a_reply_with_unstorable_characters_is_stored(
    store: SqlStore, raw: str, stored: str
) -> None:
    """A reply and its reasoning with NUL or a lone surrogate are settled, not left pending."""
    chat = (await store.load_channel(KEY)).chat_id
    ids = await store.begin_turn(chat, NewUserMessage("7", "Ada", "hello"))
    await store.finish_turn(
        ids.assistant_message_id,
        content=raw,
        reasoning=f"thinking {raw}",
        status=MessageStatus.COMPLETE,
        finish_reason="stop",
    )
    reply = (await store.history(chat, limit=1))[-1]
    assert (reply.content, reply.status) == (stored, MessageStatus.COMPLETE)
    assert reply.reasoning == f"thinking {stored}"


@pytest.mark.parametrize(("raw", "stored"), UNSTORABLE)
async def test_user_text_with_unstorable_characters_is_stored(
    store: SqlStore, raw: str, stored: str
) -> None:
    """A member's message and name with NUL or a lone surrogate are kept, not refused."""
    chat = (await store.load_channel(KEY)).chat_id
    await store.begin_turn(chat, NewUserMessage("7", f"Ada{raw}", f"look: {raw}"))
    said = (await store.history(chat, limit=2))[0]
    assert said.content == f"look: {stored}"
    assert said.author_name == f"Ada{stored}"


@pytest.mark.parametrize(("raw", "stored"), UNSTORABLE)
async def test_settings_with_unstorable_characters_are_stored(
    store: SqlStore, raw: str, stored: str
) -> None:
    """A system prompt with NUL or a lone surrogate is saved and read back cleaned."""
    await store.update_channel(KEY, ChannelChanges(system_prompt=f"Be {raw}"))
    assert (await store.load_channel(KEY)).system_prompt == f"Be {stored}"


@pytest.mark.parametrize(("raw", "stored"), UNSTORABLE)
async def test_kept_versions_with_unstorable_characters_are_stored(
    store: SqlStore, raw: str, stored: str
) -> None:
    """A regenerated reply lives in the swipes JSON too; both versions read back cleaned."""
    chat = (await store.load_channel(KEY)).chat_id
    ids = await store.begin_turn(chat, NewUserMessage("7", "Ada", "hello"))
    await store.finish_turn(
        ids.assistant_message_id, content=f"one {raw}", reasoning="", status=MessageStatus.COMPLETE
    )
    pending = await store.begin_regeneration(chat)
    await store.finish_turn(
        pending.id, content=f"two {raw}", reasoning="", status=MessageStatus.COMPLETE
    )
    assert (await store.history(chat, limit=1))[-1].content == f"two {stored}"
    earlier = await store.choose_swipe(chat, -1)
    assert (earlier.content, earlier.status) == (f"one {stored}", MessageStatus.COMPLETE)
