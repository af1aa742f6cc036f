"""/extras refuses what no request could carry, changing nothing; stored extras that no
request could carry fail a turn with a line naming /extras instead of breaking the channel.
"""

from __future__ import annotations

import json

import pytest

from bot.core.domain import EndpointOptions, JsonValue, MessageStatus
from tests.fakes.openai.scripted_client import reply
from tests.service.conftest import CHANNEL, Harness

GOOD_BODY = '{"top_k": 40}'
GOOD_HEADERS = '{"X-Title": "My Bot"}'


async def connected_with_good_extras(harness: Harness) -> EndpointOptions:
    """A channel with extras already set: a refusal must leave them exactly so."""
    harness.client.models_list = ["m"]
    await harness.command("connect", base_url="http://h.example/v1")
    await harness.command("extras", body=GOOD_BODY, headers=GOOD_HEADERS, exclude="seed")
    return await stored_options(harness)


async def stored_options(harness: Harness) -> EndpointOptions:
    connection = (await harness.store.load_channel(CHANNEL)).connection
    assert connection is not None
    return connection.options


def nested(depth: int) -> str:
    return '{"a": ' + "[" * depth + "]" * depth + "}"


NOT_FINITE = [
    '{"temperature": NaN}',
    '{"temperature": Infinity}',
    '{"temperature": -Infinity}',
    '{"logit_bias": {"50256": -Infinity}}',
    '{"stops": [1, 2, [NaN]]}',
    '{"x": 1e999}',  # a literal too large for a float becomes infinity
    '{"x": -1e400}',
]


@pytest.mark.parametrize("body", NOT_FINITE)
async def test_numbers_that_are_not_finite_are_refused(harness: Harness, body: str) -> None:
    """NaN, Infinity and overflowing numbers, at any depth, are refused; nothing changes."""
    before = await connected_with_good_extras(harness)
    answer = await harness.command("extras", body=body)
    assert "finite" in answer.text
    assert "Nothing was changed" in answer.text
    assert await stored_options(harness) == before


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (nested(17), "nested"),
        ('{"a": ' + '{"b": ' * 20 + "1" + "}" * 20 + "}", "nested"),
        (nested(5000), "nested"),  # deeper than Python's parser recurses
        ('{"a": "' + "x" * 30_000 + '"}', "characters"),
        ('{"a": ' + "9" * 5000 + "}", "number"),  # more digits than Python converts
        ('{"a": "\\ud800"}', "surrogate"),  # a lone surrogate cannot be sent as UTF-8
        ('{"\\udc00": 1}', "surrogate"),
        ('{"a": ["ok", {"b": "\\udfff"}]}', "surrogate"),
    ],
)
async def test_bodies_no_request_can_carry_are_refused(
    harness: Harness, body: str, words: str
) -> None:
    """Too deep, too large, or holding text that cannot be encoded: refused, nothing changes."""
    before = await connected_with_good_extras(harness)
    answer = await harness.command("extras", body=body)
    assert words in answer.text
    assert "Nothing was changed" in answer.text
    assert await stored_options(harness) == before


@pytest.mark.parametrize(
    "name",
    [
        "Host",
        "host",
        "Content-Length",
        "CONTENT-LENGTH",
        "Transfer-Encoding",
        "Connection",
        "Keep-Alive",
        "Upgrade",
        "TE",
        "Trailer",
        "Proxy-Connection",
        "Proxy-Authorization",
        "Expect",
    ],
)
async def test_framing_and_hop_by_hop_headers_are_refused(harness: Harness, name: str) -> None:
    """Headers the connection itself sets or that are meant for a proxy, in any case: refused."""
    before = await connected_with_good_extras(harness)
    answer = await harness.command("extras", headers=json.dumps({name: "1"}))
    assert name in answer.text
    assert "/extras" in answer.text
    assert "Nothing was changed" in answer.text
    assert await stored_options(harness) == before


@pytest.mark.parametrize(
    "name", ["X Title", "X-Title:", "", ":authority", "Tïtle", "X\nY", "(x)", "a/b", "x\x00"]
)
async def test_header_names_outside_the_token_grammar_are_refused(
    harness: Harness, name: str
) -> None:
    """A header name is an RFC 9110 token: no spaces, colons, non-ASCII or separators."""
    before = await connected_with_good_extras(harness)
    answer = await harness.command("extras", headers=json.dumps({name: "v"}))
    assert "header name" in answer.text
    assert "Nothing was changed" in answer.text
    assert "\x00" not in answer.text
    assert "\n" not in answer.text.strip()
    assert await stored_options(harness) == before


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("Café", "ASCII"),
        ("日本語", "ASCII"),
        ("key 😀", "ASCII"),
        ("sk-\u00a0abc", "ASCII"),  # a no-break space pasted from a web page
        ("a\r\nX-Injected: 1", "line break"),
        ("a\nb", "line break"),
        ("a\rb", "line break"),
        ("a\x00b", "control"),
        ("a\x7fb", "control"),
        ("\x1b[31mred", "control"),
        ("a\x0bb", "control"),
    ],
)
async def test_header_values_outside_rfc_9110_are_refused(
    harness: Harness, value: str, words: str
) -> None:
    """A value is visible ASCII, spaces and tabs; the refusal never echoes it (it may be a key)."""
    before = await connected_with_good_extras(harness)
    answer = await harness.command("extras", headers=json.dumps({"api-key": value}))
    assert words in answer.text
    assert "api-key" in answer.text
    assert value not in answer.text
    assert "Nothing was changed" in answer.text
    assert await stored_options(harness) == before


@pytest.mark.parametrize(
    "headers",
    [
        '{"X-A": 1}',
        '{"X-A": null}',
        '{"X-A": ["a"]}',
        '{"X-A": {"b": "c"}}',
    ],
)
async def test_header_values_that_are_not_text_are_refused(harness: Harness, headers: str) -> None:
    """A header value is a string; anything else is refused, changing nothing."""
    before = await connected_with_good_extras(harness)
    answer = await harness.command("extras", headers=headers)
    assert "string" in answer.text
    assert await stored_options(harness) == before


async def test_a_header_given_twice_in_two_cases_is_refused(harness: Harness) -> None:
    """Header names ignore case, so {"X-A", "x-a"} would send two: refused."""
    before = await connected_with_good_extras(harness)
    answer = await harness.command("extras", headers='{"X-A": "1", "x-a": "2"}')
    assert "twice" in answer.text
    assert await stored_options(harness) == before


async def test_a_refusal_in_one_option_keeps_the_others(harness: Harness) -> None:
    """A good body beside bad headers is not stored either: one call, all or nothing."""
    before = await connected_with_good_extras(harness)
    answer = await harness.command(
        "extras", body='{"top_p": 0.5}', headers='{"Content-Length": "0"}', exclude="x"
    )
    assert "Nothing was changed" in answer.text
    assert await stored_options(harness) == before


@pytest.mark.parametrize(
    ("headers", "stored"),
    [
        ('{"X-Title": "My Bot"}', {"X-Title": "My Bot"}),
        ('{"HTTP-Referer": "https://bot.example/"}', {"HTTP-Referer": "https://bot.example/"}),
        ('{"Authorization": "Basic eHl6"}', {"Authorization": "Basic eHl6"}),
        ('{"api-key": "  abc  "}', {"api-key": "abc"}),  # whitespace around is not the value
        ('{"X-Tab": "a\\tb"}', {"X-Tab": "a\tb"}),
        ('{"X-Empty": ""}', {"X-Empty": ""}),
        ('{"!#$%&\'*+-.^_`|~09azAZ": "~!@#$%^&*()[]{}<>?/\\\\"}', None),
    ],
)
async def test_ordinary_headers_are_kept(
    harness: Harness, headers: str, stored: dict[str, str] | None
) -> None:
    """Every token name and every visible-ASCII value is accepted and stored."""
    await connected_with_good_extras(harness)
    answer = await harness.command("extras", headers=headers)
    assert "Nothing was changed" not in answer.text
    expected = stored if stored is not None else json.loads(headers)
    assert dict((await stored_options(harness)).extra_headers) == expected


@pytest.mark.parametrize(
    "body",
    [
        '{"top_k": 40, "min_p": 0.05, "chat_template_kwargs": {"enable_thinking": false}}',
        '{"x": 1e308, "y": -0.0, "z": 123456789012345678901234567890}',
        '{"grammar": "root ::= \\"日本\\" | \\"😀\\""}',
        nested(15),
        '{"logit_bias": {"50256": -100}}',
    ],
)
async def test_ordinary_bodies_are_kept(harness: Harness, body: str) -> None:
    """Finite numbers, any text, nesting of reasonable depth: stored as given."""
    await connected_with_good_extras(harness)
    answer = await harness.command("extras", body=body)
    assert "Nothing was changed" not in answer.text
    assert dict((await stored_options(harness)).extra_body) == json.loads(body)


BAD_STORED: list[tuple[dict[str, JsonValue], dict[str, str], str]] = [
    ({"temperature": float("nan")}, {}, "finite"),
    ({"a": {"b": [float("inf")]}}, {}, "finite"),
    ({}, {"Content-Length": "10"}, "Content-Length"),
    ({}, {"api-key": "Café"}, "ASCII"),
    ({}, {"X-A": "a\r\nb"}, "line break"),
    ({}, {"bad name": "v"}, "header name"),
]


@pytest.mark.parametrize(("body", "headers", "words"), BAD_STORED)
async def test_extras_stored_before_the_rules_fail_a_turn_naming_extras(
    harness: Harness, body: dict[str, JsonValue], headers: dict[str, str], words: str
) -> None:
    """Extras stored by an older version that no request can carry: the turn says how to fix
    them, and nothing is sent; clearing them with /extras brings the channel back."""
    await connected_with_good_extras(harness)
    await harness.store.set_connection_options(
        CHANNEL, EndpointOptions(extra_body=body, extra_headers=headers)
    )
    outcome = await harness.say("hello")
    assert outcome.status is MessageStatus.ERROR
    assert outcome.error_text is not None
    assert "/extras" in outcome.error_text
    assert words in outcome.error_text
    assert harness.client.requests == []
    assert "Café" not in outcome.error_text
    harness.client.scripts.append(reply("Hi!"))
    await harness.command("extras", reset="yes")
    assert (await harness.say("hello again")).status is MessageStatus.COMPLETE


async def test_bad_stored_extras_are_named_by_test_and_models(harness: Harness) -> None:
    """/test and /models, which send the same headers, name /extras too."""
    await connected_with_good_extras(harness)
    await harness.store.set_connection_options(
        CHANNEL, EndpointOptions(extra_headers={"Transfer-Encoding": "chunked"})
    )
    for command in ("test", "models"):
        answer = await harness.command(command)
        assert "/extras" in answer.text, command
        assert "Transfer-Encoding" in answer.text, command
