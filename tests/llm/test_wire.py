"""The wire format: request bodies, chunk and completion parsing, error bodies and statuses."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from bot.core.domain import (
    ChatMessage,
    CompletionRequest,
    Connection,
    Delta,
    EndpointOptions,
    MediaPart,
    Role,
    SamplingParams,
    Usage,
)
from bot.core.errors import (
    EndpointRateLimited,
    EndpointRejected,
    EndpointStreamError,
    MaxTokensFieldRejected,
    RoleOrderRejected,
)
from bot.llm import quirks, refusals, wire


def request(params: SamplingParams | None = None) -> CompletionRequest:
    return CompletionRequest(
        connection=Connection(base_url="http://127.0.0.1:1/v1"),
        model="m",
        messages=(
            ChatMessage(Role.SYSTEM, "Be brief."),
            ChatMessage(Role.USER, "Hi", name="bob"),
        ),
        params=params or SamplingParams(),
    )


def chunk(**choice: object) -> str:
    return json.dumps({"object": "chat.completion.chunk", "choices": [choice]})


def test_chat_body_carries_model_messages_and_stream_options() -> None:
    """A streaming body asks for usage and names only the messages' set fields."""
    assert wire.request_body(request(), stream=True) == {
        "model": "m",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi", "name": "bob"},
        ],
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def test_chat_body_sends_only_the_params_that_are_set() -> None:
    """Unset sampling params are absent, so the server's defaults apply."""
    body = wire.request_body(request(SamplingParams(temperature=0.5, max_tokens=10)), stream=False)
    assert (body["temperature"], body["max_tokens"], "top_p" in body) == (0.5, 10, False)


def test_non_streaming_body_has_no_stream_options() -> None:
    """stream_options is only valid with stream: true (OpenAI rejects it otherwise)."""
    body = wire.request_body(request(), stream=False)
    assert body["stream"] is False
    assert "stream_options" not in body


def body_messages(*messages: ChatMessage) -> object:
    """The `messages` a chat body carries for these messages."""
    base = request()
    sent = CompletionRequest(base.connection, "m", messages)
    return wire.request_body(sent, stream=False)["messages"]


def test_message_with_media_is_a_content_array() -> None:
    """Text and media go out as parts in their order; a detail only when one is set."""
    parts = ("Look", MediaPart("data:image/png;base64,AAA", detail="auto"), "What is it?")
    message = ChatMessage(Role.USER, "Look\n\nWhat is it?", parts=parts)
    assert body_messages(message) == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Look"},
                {
                    "type": "image_url",
                    "image_url": {"url": "data:image/png;base64,AAA", "detail": "auto"},
                },
                {"type": "text", "text": "What is it?"},
            ],
        }
    ]


def test_media_part_is_named_by_its_kind() -> None:
    """Video and audio parts carry their url under their own type's key."""
    clip = MediaPart("https://example.test/a.mp4", kind="video_url")
    message = ChatMessage(Role.USER, "", parts=(clip,))
    assert body_messages(message) == [
        {
            "role": "user",
            "content": [
                {"type": "video_url", "video_url": {"url": "https://example.test/a.mp4"}},
            ],
        }
    ]


def test_text_only_parts_are_sent_as_a_string() -> None:
    """Without media the content is a plain string: many servers refuse an array."""
    message = ChatMessage(Role.USER, "a\n\nb", parts=("a", "b"))
    assert body_messages(message) == [{"role": "user", "content": "a\n\nb"}]


def test_tool_calls_and_results_go_out_as_given() -> None:
    """An assistant's tool calls and a tool result's call id are sent unchanged."""
    call = {"id": "c1", "type": "function", "function": {"name": "roll", "arguments": "{}"}}
    calling = ChatMessage(Role.ASSISTANT, "", tool_calls=(call,))
    result = ChatMessage(Role.TOOL, "4", tool_call_id="c1")
    assert body_messages(calling, result) == [
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "content": "4", "tool_call_id": "c1"},
    ]


def test_content_comes_from_the_delta() -> None:
    """The usual streamed chunk."""
    assert wire.parse_chunk(chunk(delta={"content": "Hi"})) == Delta(content="Hi")


def test_content_falls_back_to_message_then_text() -> None:
    """delta.content ?? message.content ?? text, as SillyTavern reads them."""
    assert wire.parse_chunk(chunk(message={"content": "m"})).content == "m"
    assert wire.parse_chunk(chunk(delta={"content": None}, text="t")).content == "t"


def test_null_content_is_empty() -> None:
    """`content: null` (a reasoning or tool-call chunk) is no text, not the string "None"."""
    assert wire.parse_chunk(chunk(delta={"content": None})) == Delta()


def test_content_parts_are_joined_from_their_text() -> None:
    """A content array contributes its text parts only."""
    parts = [{"type": "text", "text": "a"}, {"type": "image_url"}, {"type": "text", "text": "b"}]
    assert wire.parse_chunk(chunk(delta={"content": parts})).content == "ab"


def test_reasoning_content_is_read() -> None:
    """text-generation-webui and DeepSeek put thinking in reasoning_content."""
    parsed = wire.parse_chunk(chunk(delta={"content": None, "reasoning_content": "hmm"}))
    assert parsed == Delta(reasoning="hmm")


def test_reasoning_falls_back_to_reasoning_field() -> None:
    """OpenRouter and vLLM use `reasoning`; reasoning_content wins when both are present."""
    assert wire.parse_chunk(chunk(delta={"reasoning": "r"})).reasoning == "r"
    both = chunk(delta={"reasoning_content": "rc", "reasoning": "r"})
    assert wire.parse_chunk(both).reasoning == "rc"


def test_finish_reason_is_read() -> None:
    """The finish reason marks a reply that ended on purpose."""
    assert wire.parse_chunk(chunk(delta={}, finish_reason="length")).finish_reason == "length"


def test_usage_arrives_in_a_chunk_without_choices() -> None:
    """With include_usage the last chunk has `choices: []` and the token counts."""
    data = json.dumps({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 5}})
    assert wire.parse_chunk(data) == Delta(usage=Usage(prompt_tokens=3, completion_tokens=5))


def test_unicode_separators_in_content_are_kept() -> None:
    """U+2028 raw inside a JSON string is content, not a line break."""
    data = json.dumps({"choices": [{"delta": {"content": "a\u2028b"}}]}, ensure_ascii=False)
    assert wire.parse_chunk(data).content == "a\u2028b"


def test_error_payload_in_a_stream_raises_with_the_provider_message() -> None:
    """OpenRouter reports a failure inside a 200 stream as an `error` object."""
    with pytest.raises(EndpointStreamError, match="upstream overloaded"):
        wire.parse_chunk('{"error":{"message":"upstream overloaded","code":502}}')


def test_error_payload_message_is_capped() -> None:
    """A provider's essay is cut to 300 characters."""
    with pytest.raises(EndpointStreamError) as info:
        wire.parse_chunk(json.dumps({"error": {"message": "x" * 5000}}))
    assert len(str(info.value)) < 400


def test_null_error_field_is_not_an_error() -> None:
    """Some servers send `"error": null` in every good chunk."""
    assert wire.parse_chunk('{"error":null,"choices":[{"delta":{"content":"ok"}}]}').content == "ok"


def test_non_json_data_raises() -> None:
    """Plain text where JSON belongs means this is not an OpenAI stream."""
    with pytest.raises(EndpointStreamError, match="not JSON"):
        wire.parse_chunk("this is not json")


def test_hostile_deeply_nested_json_is_a_stream_error() -> None:
    """`[[[[…` deep enough to exhaust the parser's recursion is refused, not a crash."""
    with pytest.raises(EndpointStreamError):
        wire.parse_chunk("[" * 100_000)


def test_json_that_is_not_an_object_raises() -> None:
    """A JSON array or number is not a chunk."""
    with pytest.raises(EndpointStreamError):
        wire.parse_chunk("[1, 2]")


def test_blank_data_is_an_empty_delta() -> None:
    """An empty `data:` event is a keep-alive (we differ from SillyTavern, which fails)."""
    assert wire.parse_chunk("") == Delta()


def test_completion_is_parsed_whole() -> None:
    """A non-streamed chat.completion gives content, reasoning, finish reason and usage."""
    body = {
        "choices": [
            {"message": {"content": "Hi", "reasoning": "r"}, "finish_reason": "stop"},
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 2},
    }
    assert wire.parse_completion(json.dumps(body).encode()).reply == Delta(
        content="Hi", reasoning="r", finish_reason="stop", usage=Usage(1, 2)
    )


def test_completion_with_an_error_raises() -> None:
    """A 200 JSON body carrying `error` is a failure."""
    with pytest.raises(EndpointStreamError, match="bad things"):
        wire.parse_completion(b'{"error": "bad things"}')


def test_completion_that_is_not_json_raises() -> None:
    """An HTML page is not a completion."""
    with pytest.raises(EndpointStreamError):
        wire.parse_completion(b"<html></html>")


def test_chunk_reader_ends_well_at_done() -> None:
    """[DONE] ends the reply and nothing after it is read."""
    reader = wire.ChunkReader()
    assert reader.read(chunk(delta={"content": "a"})) == Delta(content="a")
    assert reader.read("[DONE]") is None
    assert reader.read(chunk(delta={"content": "late"})) is None
    reader.end()


def test_chunk_reader_skips_chunks_that_carry_nothing() -> None:
    """The role-only first chunk is not handed out."""
    assert wire.ChunkReader().read(chunk(delta={"role": "assistant", "content": ""})) is None


def test_chunk_reader_ends_well_after_a_finish_reason() -> None:
    """Some servers never send [DONE]; a finish reason is enough."""
    reader = wire.ChunkReader()
    reader.read(chunk(delta={}, finish_reason="stop"))
    reader.end()


def test_chunk_reader_calls_a_stream_without_an_end_cut_off() -> None:
    """Content, then nothing: the reply was cut off."""
    reader = wire.ChunkReader()
    reader.read(chunk(delta={"content": "a"}))
    with pytest.raises(EndpointStreamError, match="cut off"):
        reader.end()


def test_chunk_reader_calls_an_empty_stream_a_failure() -> None:
    """llama-cpp-python answers a context overflow with an empty 200 stream."""
    with pytest.raises(EndpointStreamError, match="without a reply"):
        wire.ChunkReader().end()


def test_model_ids_are_sorted() -> None:
    """The model list is offered sorted by id."""
    body = b'{"object":"list","data":[{"id":"b"},{"id":"a"},{"name":"no id"}]}'
    assert wire.model_ids(body) == ["a", "b"]


@pytest.mark.parametrize("body", [b'[{"id":"a"}]', b'{"models":[{"id":"a"}]}', b'{"data":{}}'])
def test_model_list_in_another_shape_is_empty(body: bytes) -> None:
    """Anything but {"data": [...]} gives an empty list, as SillyTavern does."""
    assert wire.model_ids(body) == []


def test_model_list_that_is_not_json_raises() -> None:
    """An HTML page at /models means the base URL is wrong."""
    with pytest.raises(EndpointStreamError, match="not an OpenAI-compatible API"):
        wire.model_ids(b"<html></html>")


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b'{"error":{"message":"Bad key","code":"bad_key"}}', ("Bad key", "bad_key")),
        (b'{"error":{"message":"Out","type":"insufficient_quota"}}', ("Out", "insufficient_quota")),
        (b'{"detail":"Invalid API key"}', ("Invalid API key", "")),
        (b'{"detail":[{"loc":["body","model"],"msg":"Required"}]}', ("body.model: Required", "")),
        (b'{"message":"plain"}', ("plain", "")),
        (b"<html>502 Bad Gateway</html>", ("", "")),
        (b'{"error":"  spaced\\n  out  "}', ("spaced out", "")),
    ],
)  # fmt: skip
def test_provider_error_reads_the_known_shapes(body: bytes, said: tuple[str, str]) -> None:
    """OpenAI, FastAPI and bare messages are read; raw bodies never are."""
    assert refusals.provider_said(body) == refusals.ProviderSaid(*said)


def test_provider_message_is_capped() -> None:
    """At most 300 characters of a provider's message reach a user."""
    body = json.dumps({"error": {"message": "y" * 1000}}).encode()
    assert len(refusals.provider_said(body).message) == 300


@pytest.mark.parametrize(
    ("status", "hint"),
    [(401, "API key"), (403, "API key"), (404, "/v1"), (500, "later"), (307, "redirects")],
)
def test_status_error_says_what_to_try(status: int, hint: str) -> None:
    """Each status class maps to a rejection with a hint of what to do."""
    error = refusals.status_error(status, refusals.ProviderSaid())
    assert type(error) is EndpointRejected
    assert (error.status_code, error.provider_message) == (status, f"HTTP {status}")
    assert hint in error.hint


def test_status_429_is_a_rate_limit_with_retry_after() -> None:
    """A plain 429 is retried after the time the server asked for."""
    error = refusals.status_error(429, refusals.ProviderSaid("slow down"), retry_after=3.0)
    assert isinstance(error, EndpointRateLimited)
    assert (error.retry_after, error.provider_message) == (3.0, "slow down")


def test_insufficient_quota_is_not_a_rate_limit() -> None:
    """Waiting does not refill a quota, so it must not be retried."""
    error = refusals.status_error(429, refusals.ProviderSaid("out", "insufficient_quota"))
    assert not isinstance(error, EndpointRateLimited)
    assert "quota" in str(error)


def test_retry_after_ms_wins_over_retry_after() -> None:
    """`retry-after-ms` is the more precise of the two (openai-python reads it first)."""
    assert refusals.retry_after_seconds("1500", "9") == 1.5


def test_retry_after_in_seconds() -> None:
    """The common form: a number of seconds."""
    assert refusals.retry_after_seconds(None, "7") == 7.0


def test_retry_after_as_an_http_date() -> None:
    """The other RFC 9110 form: a date in the future."""
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    seconds = refusals.retry_after_seconds(None, when)
    assert seconds is not None
    assert 25 < seconds <= 30


@pytest.mark.parametrize("value", [None, "", "soon", "nan"])
def test_unreadable_retry_after_is_none(value: str | None) -> None:
    """No usable value means no advice, not an error."""
    assert refusals.retry_after_seconds(None, value) is None


def test_negative_retry_after_is_zero() -> None:
    """A date in the past means: now."""
    assert refusals.retry_after_seconds(None, "-5") == 0.0


def with_options(
    options: EndpointOptions, params: SamplingParams | None = None
) -> CompletionRequest:
    base = request(params)
    connection = Connection(base_url="http://127.0.0.1:1/v1", options=options)
    return CompletionRequest(connection, base.model, base.messages, base.params)


def test_extra_body_is_merged_over_ours() -> None:
    """The connection's extra JSON adds fields and may override ours, nested values intact."""
    options = EndpointOptions(
        extra_body={
            "top_k": 20,
            "temperature": 1.0,
            "chat_template_kwargs": {"enable_thinking": False},
        }
    )
    body = wire.request_body(with_options(options, SamplingParams(temperature=0.2)), stream=False)
    assert body["top_k"] == 20
    assert body["temperature"] == 1.0
    assert body["chat_template_kwargs"] == {"enable_thinking": False}


def test_channel_stop_strings_win_over_extra_body() -> None:
    """Stop strings are the channel's: an extra body's stop does not replace them."""
    options = EndpointOptions(extra_body={"stop": ["x"]})
    body = wire.request_body(with_options(options, SamplingParams(stop=("\nUser:",))), stream=False)
    assert body["stop"] == ["\nUser:"]


def test_excluded_keys_are_removed_last() -> None:
    """Keys a server rejects can be excluded, even ones we set ourselves."""
    options = EndpointOptions(exclude_keys=("frequency_penalty", "stream_options"))
    params = SamplingParams(frequency_penalty=0.5, top_p=0.9)
    body = wire.request_body(with_options(options, params), stream=True)
    assert "frequency_penalty" not in body
    assert "stream_options" not in body
    assert body["top_p"] == 0.9


def test_learned_max_tokens_field_renames_it() -> None:
    """An endpoint that wants max_completion_tokens gets the length under that name."""
    options = EndpointOptions(max_tokens_field="max_completion_tokens")
    body = wire.request_body(with_options(options, SamplingParams(max_tokens=300)), stream=False)
    assert body["max_completion_tokens"] == 300
    assert "max_tokens" not in body


def test_text_completion_sends_a_prompt_to_completions() -> None:
    """A request with a prompt goes to /completions with `prompt`, not `messages`."""
    base = request(SamplingParams(stop=("<|im_end|>",)))
    text = CompletionRequest(base.connection, "m", (), base.params, prompt="<|im_start|>user\nHi")
    body = wire.request_body(text, stream=True)
    assert wire.request_path(text) == "completions"
    assert wire.request_path(base) == "chat/completions"
    assert body["prompt"] == "<|im_start|>user\nHi"
    assert "messages" not in body
    assert body["stop"] == ["<|im_end|>"]


@pytest.mark.parametrize(
    ("message", "use"),
    [
        (
            "Unsupported parameter: 'max_tokens' is not supported with this model. "
            "Use 'max_completion_tokens' instead.",
            "max_completion_tokens",
        ),
        ("Unrecognized request argument supplied: max_completion_tokens", "max_tokens"),
        ("extra inputs are not permitted: max_completion_tokens", "max_tokens"),
    ],
)
def test_refused_max_tokens_field_names_the_other(message: str, use: str) -> None:
    """A 400 refusing one reply-length field asks for a retry with the other."""
    error = refusals.status_error(400, refusals.ProviderSaid(message=message))
    assert isinstance(error, MaxTokensFieldRejected)
    assert error.use_field == use


def test_other_400s_are_not_taken_for_a_field_refusal() -> None:
    """A 400 about something else is an ordinary rejection."""
    said = refusals.ProviderSaid(message="max_tokens must be at most 4096")
    assert not isinstance(refusals.status_error(400, said), MaxTokensFieldRejected)


# Backend quirks: real servers' bodies, read and named.

LLAMACPP_OVERFLOW = (
    b'{"error":{"code":400,"message":"the request exceeds the available context size, try '
    b'increasing it","type":"exceed_context_size_error","n_prompt_tokens":5000,"n_ctx":4096}}'
)
MISTRAL_ROLE_ORDER = (
    b'{"object":"error","message":"Unexpected role \'user\' after role \'user\'",'
    b'"type":"invalid_request_message_order","param":null,"code":"3230"}'
)
VLLM_NOT_FOUND = (
    b'{"object":"error","message":"The model `qwen` does not exist.","type":"NotFoundError",'
    b'"param":null,"code":404}'
)


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (LLAMACPP_OVERFLOW, ("the request exceeds the available context size, try increasing it",
                             "exceed_context_size_error")),
        (MISTRAL_ROLE_ORDER, ("Unexpected role 'user' after role 'user'",
                              "invalid_request_message_order")),
        (VLLM_NOT_FOUND, ("The model `qwen` does not exist.", "NotFoundError")),
        (b'{"error":{"code":402,"message":"No credits"}}', ("No credits", "402")),
        (b'{"message":"Unauthorized","request_id":"abc"}', ("Unauthorized", "")),
    ],
)  # fmt: skip
def test_error_code_prefers_a_name_over_a_number(body: bytes, said: tuple[str, str]) -> None:
    """llama.cpp, vLLM and OpenRouter put the status in `code`; Mistral a number string."""
    assert refusals.provider_said(body) == refusals.ProviderSaid(*said)


def test_kobold_detail_object_is_read() -> None:
    """KoboldCpp's `detail` is an object with `msg`, not FastAPI's string or list."""
    body = (
        b'{"detail":{"error":"Unauthorized","msg":"Authentication key is missing or invalid.",'
        b'"type":"unauthorized"}}'
    )
    assert refusals.provider_said(body).message == "Authentication key is missing or invalid."


@pytest.mark.parametrize(
    ("detail", "text"),
    [
        (
            {"msg": "No Vision model loaded", "type": "service_unavailable"},
            "No Vision model loaded",
        ),
        ({"error": {"message": "nested"}}, "nested"),
        ({"error": "flat"}, "flat"),
        ({"type": "nothing to say"}, ""),
    ],
)
def test_detail_object_text_finds_the_words(detail: dict[str, object], text: str) -> None:
    """`msg`, then `message`, then `error` (an object's message or a string)."""
    assert quirks.detail_object_text(detail) == text


def test_openrouter_relayed_error_carries_the_provider_words() -> None:
    """OpenRouter's "Provider returned error" gets the upstream message from metadata.raw."""
    raw = json.dumps({"object": "error", "message": "Unexpected role 'tool' after role 'user'"})
    body = json.dumps(
        {"error": {"message": "Provider returned error", "code": 400,
                   "metadata": {"raw": raw, "provider_name": "Mistral"}}}
    ).encode()  # fmt: skip
    said = refusals.provider_said(body)
    assert said.message == "Provider returned error: Unexpected role 'tool' after role 'user'"
    assert quirks.role_order_refused(400, said) is not None


@pytest.mark.parametrize(
    "metadata", [None, {"raw": "not json"}, {"raw": "[1]"}, {"raw": '{"message": ""}'}]
)
def test_upstream_message_without_usable_raw_is_empty(metadata: object) -> None:
    """Anything but a JSON object with a message leaves the router's own words."""
    error = {"message": "Provider returned error", "metadata": metadata}
    assert quirks.upstream_message(error) == ""


@pytest.mark.parametrize(
    "message",
    [
        "Unexpected role 'user' after role 'user'",
        "Conversation roles must alternate user/assistant/user/assistant/...",
        "After the optional system message, conversation roles must alternate user and "
        "assistant roles except for tool calls and results.",
        "System role not supported",
        "Expected last role User or Tool (or Assistant with prefix True) for serving but got "
        "assistant",
    ],
)
def test_role_order_refusal_says_the_endpoint_wants_alternation(message: str) -> None:
    """Mistral's API and strict chat templates (vLLM, TGI, llama.cpp) get a named cause."""
    error = refusals.status_error(400, refusals.ProviderSaid(message))
    assert type(error) is RoleOrderRejected
    assert error.status_code == 400
    assert error.provider_message == message
    assert "strictly alternating user/assistant messages" in error.hint
    assert "/postprocess mode:strict" in error.hint


def test_role_order_is_recognised_by_mistral_type_alone() -> None:
    """Mistral's error type names the cause even when the wording changes."""
    said = refusals.provider_said(MISTRAL_ROLE_ORDER.replace(b"Unexpected role", b"Bad role"))
    assert quirks.role_order_refused(400, said) is not None


def test_other_400s_are_not_role_order_refusals() -> None:
    """A 400 about something else keeps the generic words."""
    said = refusals.ProviderSaid("temperature must be at most 2")
    assert quirks.role_order_refused(400, said) is None
    assert "order" not in str(refusals.status_error(400, said))


@pytest.mark.parametrize(
    "body",
    [
        LLAMACPP_OVERFLOW,
        b'{"error":{"message":"Requested tokens (5000) exceed context window of 2048",'
        b'"type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}',
        b'{"object":"error","message":"This model\'s maximum context length is 4096 tokens. '
        b'However, you requested 5000 tokens.","type":"BadRequestError","code":400}',
        b'{"error":{"message":"\'max_tokens\' or \'max_completion_tokens\' is too large: 5000. '
        b"This model's maximum context length is 4096 tokens and your request has 100 input "
        b'tokens (5000 > 4096 - 100).","type":"BadRequestError","param":null,"code":400}}',
    ],
)
def test_context_overflow_is_named(body: bytes) -> None:
    """llama.cpp, llama-cpp-python and vLLM overflows say the conversation is too long."""
    error = refusals.status_error(400, refusals.provider_said(body))
    assert type(error) is EndpointRejected
    assert "too long for the model's context" in str(error)
    assert "/reset" in error.hint


@pytest.mark.parametrize(
    "body",
    [
        b'{"detail":"Please provide an API key"}',
        b'{"error":{"message":"No auth credentials found","code":401}}',
        b'{"error":{"message":"You didn\'t provide an API key.","type":"invalid_request_error"}}',
    ],
)
def test_missing_key_is_told_apart_from_a_wrong_one(body: bytes) -> None:
    """TabbyAPI, OpenRouter and OpenAI say when no key arrived; the user is told to add one."""
    error = refusals.status_error(401, refusals.provider_said(body))
    assert str(error) == "the endpoint needs an API key"
    assert "api_key:" in error.hint


def test_wrong_key_is_still_a_rejected_key() -> None:
    """TabbyAPI's "Invalid API key" is the generic 401."""
    error = refusals.status_error(401, refusals.provider_said(b'{"detail":"Invalid API key"}'))
    assert str(error) == "the endpoint rejected the API key"


@pytest.mark.parametrize(
    "body",
    [
        b'{"object":"error","message":"Invalid model: mistral-medium","type":"invalid_model",'
        b'"param":null,"code":"1500"}',
        b'{"error":{"message":"gpt-4o is not a valid model ID","code":400}}',
    ],
)
def test_unknown_model_400_is_named(body: bytes) -> None:
    """Mistral's and OpenRouter's 400 for an unknown model point at /models."""
    error = refusals.status_error(400, refusals.provider_said(body))
    assert str(error) == "the endpoint does not know that model"
    assert "/models" in error.hint


def test_unknown_model_404_keeps_the_path_hint() -> None:
    """A 404 may be a wrong path as well as a model: its hint names both."""
    error = refusals.status_error(404, refusals.provider_said(VLLM_NOT_FOUND))
    assert "ends with /v1 and the model name" in error.hint


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (402, b'{"error":{"message":"Insufficient Balance","type":"unknown_error"}}'),
        (402, b'{"error":{"code":402,"message":"Insufficient credits"}}'),
        (429, b'{"error":{"message":"You exceeded your quota","code":"insufficient_quota"}}'),
    ],
)  # fmt: skip
def test_out_of_credit_is_not_retried(status: int, body: bytes) -> None:
    """DeepSeek's and OpenRouter's 402 and OpenAI's quota 429 say to add credit."""
    error = refusals.status_error(status, refusals.provider_said(body), retry_after=5.0)
    assert type(error) is EndpointRejected
    assert "credit" in error.hint


def test_validation_422_points_at_params_and_extras() -> None:
    """FastAPI's 422 names the field; the hint says where such values are set."""
    body = b'{"detail":[{"loc":["body","mode"],"msg":"Input should be \'instruct\'"}]}'
    error = refusals.status_error(422, refusals.provider_said(body))
    assert error.provider_message == "body.mode: Input should be 'instruct'"
    assert "/extras" in error.hint


LMSTUDIO_UNKNOWN_PATH = b'{"error":"Unexpected endpoint or method. (GET /models)"}'


def test_lmstudio_200_error_is_not_an_empty_model_list() -> None:
    """LM Studio's 200 "Unexpected endpoint" fails the probe, which then tries /v1."""
    with pytest.raises(EndpointRejected) as info:
        wire.model_ids(LMSTUDIO_UNKNOWN_PATH)
    assert info.value.hint == "check the base URL ends with /v1"


def test_lmstudio_200_error_for_a_reply_points_at_v1() -> None:
    """The same body where a completion belongs is a wrong path, not a failure mid-reply."""
    with pytest.raises(EndpointRejected, match="does not serve that path"):
        wire.parse_completion(
            b'{"error":"Unexpected endpoint or method. (POST /chat/completions)"}'
        )


def test_other_errors_in_a_200_model_list_fail() -> None:
    """Any `error` in a 200 model list is a failure with the provider's words."""
    with pytest.raises(EndpointStreamError, match="instead of a model list: busy"):
        wire.model_ids(b'{"error":{"message":"busy"}}')


def test_empty_stream_hint_suspects_the_context() -> None:
    """llama-cpp-python's empty 200 stream usually means the prompt overflowed."""
    with pytest.raises(EndpointStreamError) as info:
        wire.ChunkReader().end()
    assert "too long for the model's context" in info.value.hint
