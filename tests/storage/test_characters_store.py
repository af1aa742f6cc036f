"""Character libraries on both databases: names, scopes, replacement, removal, exact cards."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.characters.card import CharacterCard
from bot.characters.schema import card_from_json
from bot.core.domain import ChannelChanges, ChannelKey, JsonValue
from bot.storage.characters import SqlCharacters
from bot.storage.db import create_sessions
from bot.storage.store import SqlStore

SERVER_A = "server:discord:111"
SERVER_B = "server:discord:222"
KEY = ChannelKey("discord", "1001")
OTHER = ChannelKey("discord", "1002")
# Not a real PNG, but every byte value, NUL included, must come back as it went in.
AVATAR = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 64
LOREBOOK_ENTRIES = 2000
RACERS = 6


@pytest.fixture
def characters(engine: AsyncEngine) -> SqlCharacters:
    return SqlCharacters(create_sessions(engine), secret_box=None)


def card(name: str, **fields: JsonValue) -> CharacterCard:
    """A V2 card as the parser makes it from `fields`."""
    return card_from_json({"spec": "chara_card_v2", "data": {"name": name, **fields}})


def rich_card() -> CharacterCard:
    """A V3 card with a big lorebook, unknown fields at every level and odd text."""
    entries: list[JsonValue] = [
        {
            "keys": [f"key {number}", "ключ"],
            "content": f'Entry {number}: the tower has {number} steps. 🗝️ "quoted" \\ back',
            "extensions": {"depth": number % 7, "weight": number / 3},
            "enabled": number % 2 == 0,
            "insertion_order": number,
            "use_regex": False,
            "constant": None,
        }
        for number in range(LOREBOOK_ENTRIES)
    ]
    return card_from_json(
        {
            "spec": "chara_card_v3",
            "spec_version": "3.0",
            "x_top_level_field": {"kept": [1, 2.5, True, None]},
            "data": {
                "name": "Séraphine",
                "nickname": "Sera",
                "description": "{{char}} keeps the lighthouse.\nLine two\ttabbed.",
                "first_mes": "*waves* Hello, {{user}}!",
                "alternate_greetings": ["Oh, it's you.", "Welcome back."],
                "tags": ["fantasy", "漢字"],
                "character_book": {"name": "Lighthouse lore", "entries": entries},
                "assets": [{"type": "icon", "uri": "ccdefault:", "name": "main", "ext": "png"}],
                "extensions": {
                    "depth_prompt": {"prompt": "Stay in character.", "depth": 4},
                    "some_tool": {"nested": {"deeper": [{"x": 1}]}},
                },
                "x_unknown_inner": "kept too",
            },
        }
    )


async def test_saved_character_is_found_whatever_the_case(characters: SqlCharacters) -> None:
    """`/character use alice` finds "Alice", with its id and card."""
    saved = await characters.save_character(SERVER_A, card("Alice"), None)

    found = await characters.find_character(SERVER_A, "  aLiCe ")

    assert found is not None
    assert (found.id, found.name, found.card) == (saved.id, "Alice", card("Alice"))


async def test_unknown_name_is_not_found(characters: SqlCharacters) -> None:
    """A name nobody saved finds nothing rather than a near match."""
    await characters.save_character(SERVER_A, card("Alice"), None)

    assert await characters.find_character(SERVER_A, "Alic") is None


async def test_replacing_keeps_the_id_and_the_channels_using_it(
    characters: SqlCharacters, store: SqlStore
) -> None:
    """Saving a card under a taken name (any case) updates it; channels still point at it."""
    first = await characters.save_character(SERVER_A, card("Alice", description="old"), None)
    await store.update_channel(KEY, ChannelChanges(character_id=first.id))

    second = await characters.save_character(SERVER_A, card("ALICE", description="new"), None)

    assert second.id == first.id
    assert (await store.load_channel(KEY)).character_id == first.id
    loaded = await characters.character(first.id)
    assert loaded is not None
    assert (loaded.name, loaded.card.description) == ("ALICE", "new")
    assert [c.name for c in await characters.list_characters(SERVER_A)] == ["ALICE"]


async def test_a_card_that_carried_nul_characters_is_stored(characters: SqlCharacters) -> None:
    """NUL, which PostgreSQL refuses in text and JSONB, is gone by the time a card is saved."""
    raw = card_from_json({"name": "Ev\x00e", "description": "a\x00b", "x_extra": ["\x00"]})
    saved = await characters.save_character(SERVER_A, raw, None)
    loaded = await characters.character(saved.id)
    assert loaded is not None
    assert (loaded.name, loaded.card.description) == ("Eve", "ab")
    assert loaded.card.data == raw.data


async def test_list_is_sorted_by_name_ignoring_case(characters: SqlCharacters) -> None:
    """The library lists alphabetically, as a person reads it, not by case or save order."""
    for name in ("charlie", "Bob", "alice", "Dave"):
        await characters.save_character(SERVER_A, card(name), None)

    names = [c.name for c in await characters.list_characters(SERVER_A)]

    assert names == ["alice", "Bob", "charlie", "Dave"]


async def test_servers_do_not_see_each_others_characters(characters: SqlCharacters) -> None:
    """Server B can neither list, find nor remove server A's character, even of the same name."""
    mine = await characters.save_character(SERVER_A, card("Alice", description="A's"), None)

    assert await characters.list_characters(SERVER_B) == []
    assert await characters.find_character(SERVER_B, "Alice") is None
    assert await characters.remove_character(SERVER_B, "Alice") is None

    theirs = await characters.save_character(SERVER_B, card("Alice", description="B's"), None)

    assert theirs.id != mine.id
    found = await characters.find_character(SERVER_A, "alice")
    assert found is not None
    assert found.card.description == "A's"


async def test_remove_detaches_the_channels_using_it(
    characters: SqlCharacters, store: SqlStore
) -> None:
    """Removing counts the channels that used the character; they go back to none."""
    alice = await characters.save_character(SERVER_A, card("Alice"), None)
    bob = await characters.save_character(SERVER_A, card("Bob"), None)
    await store.update_channel(KEY, ChannelChanges(character_id=alice.id))
    await store.update_channel(OTHER, ChannelChanges(character_id=alice.id))
    third = ChannelKey("discord", "1003")
    await store.update_channel(third, ChannelChanges(character_id=bob.id))

    assert await characters.remove_character(SERVER_A, "ALICE") == 2

    assert (await store.load_channel(KEY)).character_id is None
    assert (await store.load_channel(OTHER)).character_id is None
    assert (await store.load_channel(third)).character_id == bob.id
    assert await characters.character(alice.id) is None
    assert await characters.find_character(SERVER_A, "Alice") is None
    assert await characters.remove_character(SERVER_A, "Alice") is None


async def test_remove_of_an_unused_character_counts_zero(characters: SqlCharacters) -> None:
    """Zero channels is not the same answer as "no such character"."""
    await characters.save_character(SERVER_A, card("Alice"), None)

    assert await characters.remove_character(SERVER_A, "alice") == 0


async def test_stored_card_comes_back_equal(characters: SqlCharacters) -> None:
    """Unknown fields, extensions and a big lorebook survive storage unchanged."""
    original = rich_card()

    saved = await characters.save_character(SERVER_A, original, None)
    loaded = await characters.character(saved.id)

    assert loaded is not None
    assert loaded.card == original
    assert loaded.card.data == original.data
    assert loaded.card.char_name == "Sera"
    assert loaded.card.greetings == ("*waves* Hello, {{user}}!", "Oh, it's you.", "Welcome back.")


async def test_avatar_bytes_are_kept(characters: SqlCharacters) -> None:
    """The picture comes back byte for byte from every way of reading the library."""
    saved = await characters.save_character(SERVER_A, card("Alice"), AVATAR)

    found = await characters.find_character(SERVER_A, "alice")
    loaded = await characters.character(saved.id)
    listed = await characters.list_characters(SERVER_A)

    assert saved.avatar == AVATAR
    assert found is not None
    assert loaded is not None
    assert [found.avatar, loaded.avatar, listed[0].avatar] == [AVATAR] * 3


async def test_concurrent_saves_of_one_new_name_all_succeed(characters: SqlCharacters) -> None:
    """Two imports of the same new card at once both succeed and leave one character."""
    saved = await asyncio.gather(
        *(characters.save_character(SERVER_A, card("Zed"), None) for _ in range(RACERS))
    )

    assert {s.id for s in saved} == {saved[0].id}
    assert [c.name for c in await characters.list_characters(SERVER_A)] == ["Zed"]
