"""SillyTavern chat files of several versions read into messages; broken ones refused clearly."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.domain import Role
from bot.core.errors import UsageError
from bot.core.kept_chats import KeptMessage, KeptVersion
from bot.service.chatreader import MAX_CHAT_FILE_BYTES, MAX_CHAT_MESSAGES, read_chat_file

SAMPLES = Path(__file__).parent / "chat_samples"
RECEIVED = datetime(2026, 11, 22, 17, 30, tzinfo=UTC)


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def read(data: bytes, filename: str = "chat.jsonl") -> list[KeptMessage]:
    return list(read_chat_file(data, filename=filename, received_at=RECEIVED).messages)


def refusal(data: bytes, filename: str = "chat.jsonl") -> str:
    with pytest.raises(UsageError) as refused:
        read_chat_file(data, filename=filename, received_at=RECEIVED)
    return str(refused.value)


def test_a_1_15_file_keeps_swipes_the_shown_one_and_each_reasoning() -> None:
    """The 1.15+ shape ("unused" names): names from the messages, ISO dates, every swipe
    with its own reasoning from swipe_info, and the one shown."""
    messages = read(sample("sillytavern_1_15.jsonl"))

    assert [(m.role, m.name, m.current.content) for m in messages] == [
        (Role.ASSISTANT, "Seraphina", "*She looks up from her book.* Evening, traveller."),
        (Role.USER, "Alex", "Good evening, Seraphina."),
        (Role.ASSISTANT, "Seraphina", "Sit by the fire."),
        (Role.USER, "Alex", "Thank you. 🔥"),
    ]
    reply = messages[2]
    assert reply.versions == (
        KeptVersion("You look cold.", "Notice the cold."),
        KeptVersion("Sit by the fire.", "Offer warmth."),
    )
    assert reply.shown == 1
    assert reply.sent_at == datetime(2026, 7, 7, 12, 0, 6, 310_000, tzinfo=UTC)
    assert len(messages[0].versions) == 2


def test_a_1_12_file_with_words_for_dates_and_hidden_lines() -> None:
    """The old header names the people; dates in words and in milliseconds are read; a
    hidden (is_system) line is left out and counted; a message without a name or a date
    takes the header's name and the date before it; Chub's {"message": …} is text."""
    found = read_chat_file(sample("sillytavern_1_12.jsonl"), filename="x", received_at=RECEIVED)

    assert found.hidden == 1
    assert found.character == "Seraphina"
    assert [(m.name, m.current.content, m.sent_at) for m in found.messages] == [
        ("Seraphina", "Evening, traveller.", datetime(2024, 6, 5, 21, 14, tzinfo=UTC)),
        ("Alex", "May I rest here?", datetime(2024, 6, 5, 21, 15, tzinfo=UTC)),
        ("Seraphina", "Of course.", datetime(2024, 6, 5, 21, 16, tzinfo=UTC)),
        ("Alex", "Thanks!", datetime(2024, 6, 5, 21, 16, tzinfo=UTC)),
        ("Seraphina", "Rest well.", datetime(2024, 6, 5, 21, 16, tzinfo=UTC)),
    ]


def test_a_group_chat_without_a_header_keeps_each_speaker() -> None:
    """Before 1.15 a group chat had no header: its first line is already a message."""
    messages = read(sample("group_without_header.jsonl"))

    assert [(m.role, m.name) for m in messages] == [
        (Role.USER, "Alex"),
        (Role.ASSISTANT, "Seraphina"),
        (Role.ASSISTANT, "Aurelius"),
    ]
    assert [v.content for v in messages[2].versions] == ["Greetings.", "Hm."]
    assert messages[0].sent_at == datetime(2023, 2, 1, 18, 2, 11, 512_000, tzinfo=UTC)


def test_windows_line_ends_a_byte_order_mark_and_blank_lines_are_read() -> None:
    """A file saved by a Windows editor reads as the original."""
    original = sample("sillytavern_1_15.jsonl")
    edited = b"\xef\xbb\xbf" + original.replace(b"\n", b"\r\n\r\n") + b"\r\n"

    assert read(edited) == read(original)


def test_a_swipe_id_out_of_range_shows_the_text_of_mes() -> None:
    """`mes` is what SillyTavern shows, so it decides which swipe is current."""
    line = {"name": "S", "is_user": False, "mes": "b", "swipes": ["a", "b"], "swipe_id": 7}

    (message,) = read(json.dumps(line).encode())

    assert (message.shown, message.current.content) == (1, "b")


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "is not UTF-8 text"),
        ('{"user_name":"Alex"}'.encode("utf-16"), "is not UTF-8 text"),
        (b"", "is empty"),
        (b"\n\n", "is empty"),
        (b"Alex: hello\nSeraphina: hi", "Line 1 of chat.jsonl is not JSON"),
        (b'{"user_name":"unused","chat_metadata":{}}\n{"name":"A","mes":', "Line 2 of"),
        (b'{"user_name":"unused","chat_metadata":{}}', "holds no messages"),
        (b'{"chat_metadata":{}}\n{"is_system":true,"mes":"x"}', "holds no messages"),
        (b'{"user_name":"unused","chat_metadata":{}}\n[1, 2]', "Line 2 of chat.jsonl is not"),
        (b'{"spec":"chara_card_v2",\n"data":{}}', "is a character card"),
        (b'[\n{"mes":"hi"}\n]', "is one JSON document"),
        (b'{"foo":1}\n{"mes":"hi"}', "is JSON lines but not a SillyTavern chat"),
        (b"[" * 100_000, "nests too deeply"),
    ],
)
def test_a_broken_file_is_refused_saying_what_to_do(data: bytes, said: str) -> None:
    """Each refusal names the problem and, but for a card, how to get a good file."""
    text = refusal(data)

    assert said in text
    assert "Nothing was changed." in text or "/character import" in text


def test_a_file_too_large_is_refused_before_it_is_parsed() -> None:
    """Over the cap: the size and the limit, in MB."""
    text = refusal(b" " * (MAX_CHAT_FILE_BYTES + 1), "long chat.jsonl")

    assert text.startswith("long chat.jsonl is 20.0 MB; I import chat files up to 20 MB.")


def test_too_many_messages_are_refused() -> None:
    """Over the message cap: how many there are, and the cap."""
    line = json.dumps({"name": "A", "is_user": True, "mes": "hi"})
    data = "\n".join([line] * (MAX_CHAT_MESSAGES + 1)).encode()

    assert f"has {MAX_CHAT_MESSAGES + 1:,} messages; I import up to" in refusal(data)


def test_a_hostile_file_name_is_shown_safely() -> None:
    """Controls and bidi overrides in a file name do not reach the answer."""
    text = refusal(b"nope", "\u202eevil\x1b[31m.jsonl")

    assert "\u202e" not in text
    assert "\x1b" not in text


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
_FIELD = st.sampled_from(
    ["name", "is_user", "is_system", "send_date", "mes", "swipes", "swipe_id", "swipe_info",
     "extra", "chat_metadata", "user_name", "character_name"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.dictionaries(_FIELD, _JSON, max_size=8), min_size=1, max_size=6))
def test_any_json_lines_are_read_or_refused_never_crash(lines: list[dict[str, object]]) -> None:
    """Whatever the fields hold, the answer is messages whose shown version exists, or a
    UsageError: never another exception."""
    data = "\n".join(json.dumps(line) for line in lines).encode()
    try:
        found = read_chat_file(data, filename="f.jsonl", received_at=RECEIVED)
    except UsageError:
        return
    for message in found.messages:
        assert 0 <= message.shown < len(message.versions)
        assert message.current.content or len(message.versions) > 1
        assert message.sent_at.tzinfo is not None
