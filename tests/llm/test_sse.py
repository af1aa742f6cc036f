"""The SSE decoder: framing vectors, splits at every byte, and re-chunking properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.errors import EndpointStreamError
from bot.llm import sse
from bot.llm.sse import SSEDecoder, SSEEvent

# Framing vectors: input chunks -> events (type, data).
VECTORS: dict[str, tuple[list[bytes], list[tuple[str, str]]]] = {
    "S1": ([b'data: {"a":1}\n\ndata: [DONE]\n\n'], [("message", '{"a":1}'), ("message", "[DONE]")]),
    "S2": ([b'data:{"a":1}\n\n'], [("message", '{"a":1}')]),
    "S3": ([b': OPENROUTER PROCESSING\n\ndata: {"a":2}\n\n'], [("message", '{"a":2}')]),
    "S4": ([b'data: {"a":3}\r\n\r\n'], [("message", '{"a":3}')]),
    "S5": ([b"da", b'ta: {"a"', b":4}\n", b"\n"], [("message", '{"a":4}')]),
    "S6": ([b"data: line1\ndata: line2\n\n"], [("message", "line1\nline2")]),
    "S7": (
        [b'event: error\ndata: {"error":{"message":"boom"}}\n\n'],
        [("error", '{"error":{"message":"boom"}}')],
    ),
    "S8": ([b'data: {"a":5}\n'], []),
    "S9": ([b'data: {"t":"a: b"}\n\n'], [("message", '{"t":"a: b"}')]),
    "S10": ([b"data:\n\n", b"data: \n\n"], [("message", ""), ("message", "")]),
    "S11": ([b"id: 7\nretry: 1000\ndata: x\n\n"], [("message", "x")]),
}

# Every feature at once: CRLF, lone CR, comments, event types, empty data, multi-line data,
# multi-byte characters, U+2028/U+2029/U+0085 inside data, an unterminated tail.
MIXED = (
    ": OPENROUTER PROCESSING\r\n\r\n"
    'data: {"c":"Grüße 🌍 \u2028 \u2029 \x85"}\r\n\r\n'
    "event: ping\rdata: a\rdata:b\r\r"
    "data:\n\n"
    "id: 1\nretry: 5\nfoo: bar\ndata: 世界\n\n"
    "data: [DONE]\r\n\r\n"
    "data: never dispatched\n"
).encode()
MIXED_EVENTS = [
    SSEEvent("message", '{"c":"Grüße 🌍 \u2028 \u2029 \x85"}'),
    SSEEvent("ping", "a\nb"),
    SSEEvent("message", ""),
    SSEEvent("message", "世界"),
    SSEEvent("message", "[DONE]"),
]


def decode(chunks: list[bytes]) -> list[SSEEvent]:
    decoder = SSEDecoder()
    return [event for chunk in chunks for event in decoder.feed(chunk)]


def decode_all(decoder: SSEDecoder, chunks: list[bytes]) -> list[SSEEvent]:
    return [event for chunk in chunks for event in decoder.feed(chunk)]


def rechunk(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(cut, len(data)) for cut in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


@pytest.mark.parametrize(("chunks", "expected"), list(VECTORS.values()), ids=list(VECTORS))
def test_framing_vectors_give_the_spec_events(
    chunks: list[bytes], expected: list[tuple[str, str]]
) -> None:
    """Each vector S1 to S11 decodes to exactly its events."""
    assert [tuple(event) for event in decode(chunks)] == expected


def test_mixed_stream_in_one_chunk_gives_every_event() -> None:
    """The combined stream decodes as expected when it arrives whole."""
    assert decode([MIXED]) == MIXED_EVENTS


@pytest.mark.parametrize("cut", range(len(MIXED) + 1))
def test_a_split_at_any_byte_gives_the_same_events(cut: int) -> None:
    """Splitting mid-line, mid-CRLF or mid-character never changes the events."""
    assert decode([MIXED[:cut], MIXED[cut:]]) == MIXED_EVENTS


def test_one_byte_at_a_time_gives_the_same_events() -> None:
    """The worst fragmentation a socket can produce still decodes the same."""
    assert decode([MIXED[i : i + 1] for i in range(len(MIXED))]) == MIXED_EVENTS


def test_cr_ending_a_chunk_and_lf_starting_the_next_are_one_line_break() -> None:
    """A CRLF split across chunks must not be read as two line breaks (which would dispatch)."""
    assert decode([b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"]) == [SSEEvent("message", "a\nb")]


def test_lone_cr_ends_lines() -> None:
    """Old Mac line endings are line breaks too."""
    assert decode([b"data: x\r\r"]) == [SSEEvent("message", "x")]


def test_unicode_line_separators_inside_data_are_not_line_breaks() -> None:
    """U+2028, U+2029 and U+0085 are legal inside JSON strings; only CR and LF end lines."""
    text = 'data: {"t":"a\u2028b\u2029c\x85d"}\n\n'
    assert decode([text.encode()]) == [SSEEvent("message", '{"t":"a\u2028b\u2029c\x85d"}')]


def test_comment_that_looks_like_data_is_dropped() -> None:
    """A line starting with ":" is a comment whatever follows (SillyTavern misreads this one)."""
    assert decode([b": data: not an event\n\n"]) == []


def test_event_type_applies_to_one_event_only() -> None:
    """The type resets after dispatch, so the next event is a "message" again."""
    events = decode([b"event: error\ndata: 1\n\ndata: 2\n\n"])
    assert events == [SSEEvent("error", "1"), SSEEvent("message", "2")]


def test_event_without_data_is_not_dispatched() -> None:
    """A block with only an event type carries nothing and dispatches nothing."""
    assert decode([b"event: ping\n\ndata: x\n\n"]) == [SSEEvent("message", "x")]


def test_field_name_without_colon_is_an_empty_data_line() -> None:
    """WHATWG: a bare `data` line is the field `data` with an empty value."""
    assert decode([b"data\n\n"]) == [SSEEvent("message", "")]


def test_only_one_space_after_the_colon_is_stripped() -> None:
    """Leading spaces beyond the first belong to the data."""
    assert decode([b"data:   x\n\n"]) == [SSEEvent("message", "  x")]


def test_leading_byte_order_mark_is_dropped() -> None:
    """A UTF-8 BOM before the first field is not part of the field name."""
    assert decode([b"\xef\xbb", b"\xbfdata: x\n\n"]) == [SSEEvent("message", "x")]


def test_invalid_utf8_becomes_replacement_characters() -> None:
    """Undecodable bytes are replaced, as a browser's EventSource does, instead of failing."""
    assert decode([b"data: \xff\xfe\n\n"]) == [SSEEvent("message", "\ufffd\ufffd")]


def test_unterminated_tail_is_discarded_at_end_of_stream() -> None:
    """An event without its blank line is never dispatched."""
    assert decode([b"data: complete\n\n", b"data: incomplete\n\n"[:-1], b"data: tail"]) == [
        SSEEvent("message", "complete")
    ]


def test_an_endless_line_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A server that never ends a line raises instead of filling memory."""
    monkeypatch.setattr(sse, "MAX_LINE_BYTES", 1000)
    decoder = SSEDecoder()
    for _ in range(10):
        decoder.feed(b"x" * 100)
    with pytest.raises(EndpointStreamError):
        decoder.feed(b"x" * 100)


@given(data=st.binary(max_size=400), cuts=st.lists(st.integers(0, 400), max_size=12))
def test_rechunking_arbitrary_bytes_never_changes_the_events(data: bytes, cuts: list[int]) -> None:
    """Whatever the bytes, how they are chunked never changes what is dispatched."""
    assert decode(rechunk(data, cuts)) == decode([data])


_LINE_TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=20)


@given(
    events=st.lists(
        st.tuples(st.sampled_from(["", "message", "error", "ping"]), st.lists(_LINE_TEXT)),
        max_size=8,
    ),
    newline=st.sampled_from(["\n", "\r\n", "\r"]),
    comment=st.booleans(),
    cuts=st.lists(st.integers(0, 2000), max_size=20),
)
def test_encoded_events_decode_to_themselves_however_chunked(
    events: list[tuple[str, list[str]]], newline: str, comment: bool, cuts: list[int]
) -> None:
    """Events written with any line ending, with comments, survive any chunking intact."""
    text = ""
    for kind, lines in events:
        if comment:
            text += f": keep-alive{newline}"
        if kind:
            text += f"event: {kind}{newline}"
        text += "".join(f"data: {line}{newline}" for line in lines) + newline
    expected = [SSEEvent(kind or "message", "\n".join(lines)) for kind, lines in events if lines]
    assert decode(rechunk(text.encode(), cuts)) == expected


@pytest.mark.parametrize(
    "line",
    [b"data: x\n", b"data:\n", b'data: {"choices":[{"delta":{"content":"ab"}}]}\r\n', b"data\r"],
    ids=["short", "empty", "json-crlf", "bare-field-cr"],
)
def test_an_event_that_never_ends_is_refused(monkeypatch: pytest.MonkeyPatch, line: bytes) -> None:
    """Data lines that never meet a blank line raise, naming the cause, instead of piling up."""
    monkeypatch.setattr(sse, "MAX_EVENT_CHARS", 10_000)
    decoder = SSEDecoder()
    stream = line * 20_000
    chunks = [stream[start : start + 777] for start in range(0, len(stream), 777)]
    with pytest.raises(EndpointStreamError, match="never ended"):  # chunks split lines anywhere
        decode_all(decoder, chunks)


def test_an_event_just_under_the_cap_is_dispatched(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cap counts one event: many events, each under it, all come through."""
    monkeypatch.setattr(sse, "MAX_EVENT_CHARS", 10_000)
    decoder = SSEDecoder()
    event = b"data: " + b"x" * 4000 + b"\ndata: " + b"y" * 4000 + b"\n\n"
    events = [e for _ in range(50) for e in decoder.feed(event)]
    assert events == [SSEEvent("message", "x" * 4000 + "\n" + "y" * 4000)] * 50


def test_a_long_single_line_event_under_the_cap_is_dispatched() -> None:
    """A 10 MB delta in one line is still an event: the reply cap, not the framing, cuts it."""
    decoder = SSEDecoder()
    body = b"data: " + b"z" * 10_000_000 + b"\n\n"
    events = [
        e
        for start in range(0, len(body), 65_536)
        for e in decoder.feed(body[start : start + 65_536])
    ]
    assert [len(e.data) for e in events] == [10_000_000]
