"""/connect repair and presets, /test, /params, /api, /reasoning and /extras through the service."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from bot.app import Stores
from bot.core.domain import (
    ApiType,
    Completion,
    CompletionRequest,
    Connection,
    Delta,
    ReasoningDisplay,
    Role,
)
from bot.core.errors import (
    EndpointNotAllowed,
    EndpointRejected,
    EndpointUnreachable,
    MaxTokensFieldRejected,
)
from bot.llm.guard import REFUSAL_MESSAGE, AddressGuard, EndpointPolicy
from bot.llm.refusals import provider_said, status_error
from bot.storage.store import SqlStore
from tests.fakes.clock import FakeClock
from tests.fakes.openai.scripted_client import Script, ScriptedClient, reply
from tests.service.conftest import CHANNEL, Harness, build_service

OPERATOR = Connection("http://operator.example/v1", model="op-model", trusted=True)

NOT_FOUND = EndpointRejected("not found", status_code=404)


async def test_missing_v1_is_found_and_reported(harness: Harness) -> None:
    """A base URL without /v1 is probed, /v1 added where /models answers, and the user told."""
    harness.client.models_at = {
        "http://h.example:8080": NOT_FOUND,
        "http://h.example:8080/v1": ["m1"],
    }
    answer = await harness.command("connect", base_url="http://h.example:8080")
    assert "Connected this channel to http://h.example:8080/v1." in answer.text
    assert "added /v1" in answer.text
    assert "Model: m1 (the only one it offers)" in answer.text
    state = await harness.store.load_channel(CHANNEL)
    assert state.connection is not None
    assert state.connection.base_url == "http://h.example:8080/v1"


async def test_pasted_chat_completions_is_removed(harness: Harness) -> None:
    """A pasted endpoint path is cut back to the base URL, and the user is told."""
    harness.client.models_list = ["a", "b"]
    answer = await harness.command("connect", base_url="http://h.example/v1/chat/completions")
    assert "Connected this channel to http://h.example/v1." in answer.text
    assert "removed /chat/completions" in answer.text


async def test_unreachable_endpoint_is_saved_with_a_warning(harness: Harness) -> None:
    """A /models failure warns but still saves: some servers have no /models."""
    harness.client.models_list = []
    harness.client.models_at = {
        "http://h.example/v1": EndpointUnreachable("could not reach the endpoint at h.example")
    }
    answer = await harness.command("connect", base_url="http://h.example/v1")
    assert "Couldn't list models there" in answer.text
    assert (await harness.store.load_channel(CHANNEL)).connection is not None


async def test_guard_refusal_saves_nothing(harness: Harness) -> None:
    """An endpoint the guard refuses is not stored, and the refusal is the answer."""
    harness.client.models_at = {
        "http://10.0.0.5/v1": EndpointNotAllowed("That endpoint is not allowed.")
    }
    answer = await harness.command("connect", base_url="http://10.0.0.5/v1")
    assert answer.text == "That endpoint is not allowed."
    assert (await harness.store.load_channel(CHANNEL)).connection is None


async def test_whitespace_in_a_url_is_refused(harness: Harness) -> None:
    """A mistyped option glued to the URL (and its key with it) is never stored or echoed."""
    answer = await harness.command("connect", base_url="http://h/v1 key:sk-live-123456789")
    assert "sk-live" not in answer.text
    assert (await harness.store.load_channel(CHANNEL)).connection is None


async def test_preset_fills_the_url_and_names_the_key_need(harness: Harness) -> None:
    """preset:openrouter uses its documented URL and says a key is needed."""
    harness.client.models_list = ["openai/gpt-4o"]
    answer = await harness.command("connect", preset="OpenRouter")
    assert "Connected this channel to https://openrouter.ai/api/v1." in answer.text
    assert "needs an API key" in answer.text


async def test_unknown_preset_suggests_close_ones(harness: Harness) -> None:
    """A misspelt preset lists the close ones."""
    answer = await harness.command("connect", preset="olama")
    assert "There is no preset 'olama'" in answer.text
    assert "ollama" in answer.text


async def test_test_reports_latency_model_and_first_words(harness: Harness) -> None:
    """/test sends a short message and reports what answered."""
    harness.client.completion = Completion(Delta(content="Hello there, friend!"), "real-model")
    answer = await harness.command("test")
    assert answer.text.startswith("✅ The endpoint answered in ")
    assert "Model: real-model" in answer.text
    assert "Reply: Hello there, friend!" in answer.text
    request = harness.client.requests[-1]
    assert [(m.role, m.content) for m in request.messages] == [(Role.USER, "Hi")]
    assert request.params.max_tokens == 32


async def test_test_failure_on_unknown_model_lists_close_matches(harness: Harness) -> None:
    """A 404 for a model the endpoint lacks names the close matches."""
    harness.client.completion = EndpointRejected(
        "the endpoint has no such path or model", status_code=404
    )
    harness.client.models_list = ["llama-3.1-8b-instruct", "qwen2.5-7b"]
    await harness.command("model", name="llama-3.1-8b")
    answer = await harness.command("test")
    assert answer.text.startswith("❌ The test failed.")
    assert "Close matches: llama-3.1-8b-instruct" in answer.text


async def test_params_set_show_and_unset(harness: Harness) -> None:
    """/params sets typed values, 'default' unsets one, and the turn sends them."""
    answer = await harness.command("params", temperature="0.7", top_k="40", stop="\\nUser:|###")
    assert "temperature: 0.7" in answer.text
    assert "top_k: 40" in answer.text
    await harness.command("params", top_k="default")
    harness.client.scripts.append(reply("ok"))
    await harness.say("hi")
    params = harness.client.requests[-1].params
    assert (params.temperature, params.top_k, params.stop) == (0.7, None, ("\nUser:", "###"))


async def test_bad_param_changes_nothing(harness: Harness) -> None:
    """An out-of-range value is refused with the range, and nothing is stored."""
    await harness.command("params", temperature="0.5")
    answer = await harness.command("params", temperature="0.9", top_p="7")
    assert "top_p must be from 0 to 1" in answer.text
    assert (await harness.store.load_channel(CHANNEL)).params.temperature == 0.5


async def test_text_completion_sends_an_instruct_prompt(harness: Harness) -> None:
    """/api type:text renders the history with the template and adds its stop strings."""
    answer = await harness.command("api", type="text", template="chatml")
    assert "text completion" in answer.text
    harness.client.scripts.append(reply("Hi!"))
    await harness.say("hello")
    request = harness.client.requests[-1]
    assert request.prompt is not None
    assert request.prompt.endswith("<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n")
    assert "\n<|im_end|>" in request.params.stop
    state = await harness.store.load_channel(CHANNEL)
    assert (state.api_type, state.instruct_template) == (ApiType.TEXT, "chatml")


async def test_reasoning_is_stored_but_shown_only_as_asked(harness: Harness) -> None:
    """Reasoning deltas are kept with the turn; quote mode shows them above the answer."""
    await harness.command("reasoning", mode="quote")
    assert (await harness.store.load_channel(CHANNEL)).reasoning_display is (ReasoningDisplay.QUOTE)
    thinking = Script(
        deltas=[Delta(reasoning="Plan it."), Delta(content="Done."), Delta(finish_reason="stop")]
    )
    harness.client.scripts.append(thinking)
    replier = harness.replier()
    outcome = await harness.say("go", replier=replier)
    assert outcome.content == "Done."
    assert outcome.reasoning == "Plan it."
    assert list(replier.messages.values())[-1] == "> Plan it.\n\nDone."


async def test_think_tags_in_content_are_separated(harness: Harness) -> None:
    """<think> in the content is reasoning: hidden by default, stored, never sent back."""
    harness.client.scripts += [
        Script(
            deltas=[
                Delta(content="<thi"),
                Delta(content="nk>hmm</think>Hi!"),
                Delta(finish_reason="stop"),
            ]
        ),
        reply("again"),
    ]
    replier = harness.replier()
    outcome = await harness.say("one", replier=replier)
    assert (outcome.content, outcome.reasoning) == ("Hi!", "hmm")
    assert list(replier.messages.values())[-1] == "Hi!"
    await harness.say("two")
    assert [m.content for m in harness.client.requests[-1].messages] == ["one", "Hi!", "two"]


async def test_refused_max_tokens_field_is_retried_and_remembered(harness: Harness) -> None:
    """A 400 refusing max_tokens is retried once with max_completion_tokens, then remembered."""
    harness.client.models_list = ["gpt-x"]
    await harness.command("connect", base_url="http://cloud.example/v1", model="gpt-x")
    await harness.command("params", max_tokens="100")
    refused = MaxTokensFieldRejected(
        "refused", status_code=400, provider_message="", use_field="max_completion_tokens"
    )
    harness.client.scripts += [Script(deltas=[], error=refused), reply("ok"), reply("again")]
    outcome = await harness.say("hi")
    assert outcome.content == "ok"
    assert harness.client.requests[-1].connection.options.max_tokens_field == (
        "max_completion_tokens"
    )
    await harness.say("next")
    assert harness.client.requests[-1].connection.options.max_tokens_field == (
        "max_completion_tokens"
    )


async def test_extras_are_stored_and_headers_never_shown(harness: Harness) -> None:
    """/extras keeps body, headers and exclusions; header values are never echoed."""
    harness.client.models_list = ["m"]
    await harness.command("connect", base_url="http://h.example/v1")
    answer = await harness.command(
        "extras",
        body='{"top_a": 0.2}',
        headers='{"api-key": "azure-secret-value"}',
        exclude="frequency_penalty",
    )
    assert "azure-secret-value" not in answer.text
    assert "headers api-key (values hidden)" in answer.text
    settings = (await harness.command("settings")).text
    assert "azure-secret-value" not in settings
    connection = (await harness.store.load_channel(CHANNEL)).connection
    assert connection is not None
    assert connection.options.extra_headers == {"api-key": "azure-secret-value"}
    assert connection.options.exclude_keys == ("frequency_penalty",)


async def test_bad_extras_json_changes_nothing(harness: Harness) -> None:
    """Broken JSON is refused with where it broke, and the stored extras stay."""
    harness.client.models_list = ["m"]
    await harness.command("connect", base_url="http://h.example/v1")
    await harness.command("extras", body='{"top_a": 0.2}')
    answer = await harness.command("extras", body='{"top_a": ')
    assert "not valid JSON" in answer.text
    connection = (await harness.store.load_channel(CHANNEL)).connection
    assert connection is not None
    assert connection.options.extra_body == {"top_a": 0.2}


async def test_new_host_forgets_extras(harness: Harness) -> None:
    """Extras (headers may hold credentials) do not follow a connection to a new host."""
    harness.client.models_list = ["m"]
    await harness.command("connect", base_url="http://one.example/v1")
    await harness.command("extras", headers='{"api-key": "x"}')
    await harness.command("connect", base_url="http://two.example/v1")
    connection = (await harness.store.load_channel(CHANNEL)).connection
    assert connection is not None
    assert connection.options.extra_headers == {}


NEW_FIELD_ONLY = (
    b'{"error": {"message": "Unsupported parameter: \'max_tokens\' is not supported with this '
    b'model. Use \'max_completion_tokens\' instead.", "type": "invalid_request_error", '
    b'"param": "max_tokens", "code": "unsupported_parameter"}}'
)


class NewFieldOnly(ScriptedClient):
    """An endpoint like OpenAI's newer models: max_tokens refused, max_completion_tokens taken.
    Its refusal goes through the real error parser."""

    def __init__(self, scripts: list[Script], *, models: list[str]) -> None:
        super().__init__(scripts, models=models)
        self.refused = 0

    def _judge(self, request: CompletionRequest) -> None:
        if request.connection.options.max_tokens_field != "max_completion_tokens":
            self.refused += 1
            raise status_error(400, provider_said(NEW_FIELD_ONLY))

    async def complete(self, request: CompletionRequest) -> Completion:
        self._judge(request)
        return await super().complete(request)

    async def stream(self, request: CompletionRequest) -> AsyncGenerator[Delta, None]:
        self._judge(request)
        async for delta in super().stream(request):
            yield delta


def harness_with(stores: Stores[SqlStore], client: ScriptedClient) -> Harness:
    clock = FakeClock(auto=True)
    return Harness(build_service(stores, client, clock, default=OPERATOR), stores, client, clock)


async def test_test_learns_the_reply_length_field_as_chat_does(stores: Stores[SqlStore]) -> None:
    """/test on an endpoint that wants max_completion_tokens retries, succeeds and remembers."""
    client = NewFieldOnly([reply("chat works")], models=["gpt-x"])
    harness = harness_with(stores, client)
    await harness.command("connect", base_url="http://cloud.example/v1", model="gpt-x")
    answer = await harness.command("test")
    assert answer.text.startswith("✅ The endpoint answered"), answer.text
    assert "max_completion_tokens" in answer.text
    outcome = await harness.say("hi")
    assert outcome.content == "chat works"
    assert client.refused == 1  # the turn used what /test learned


async def test_test_names_text_completion_on_a_server_without_chat(
    stores: Stores[SqlStore],
) -> None:
    """A 404 for chat from a server whose /completions answers names /api type:text."""
    client = TextOnlyServer(models=["base-7b"])
    harness = harness_with(stores, client)
    await harness.command("connect", base_url="http://base.example/v1")
    answer = await harness.command("test")
    assert answer.text.startswith("❌ The test failed: this server has no chat completions")
    assert "answers text completion (/completions). /api type:text switches" in answer.text
    assert (await harness.store.load_channel(CHANNEL)).api_type is ApiType.CHAT


class TextOnlyServer(ScriptedClient):
    """A server for base models: 404 (FastAPI's words) for chat, text completion works."""

    async def complete(self, request: CompletionRequest) -> Completion:
        if request.prompt is None:
            self.requests.append(request)
            raise status_error(404, provider_said(b'{"detail": "Not Found"}'))
        return await super().complete(request)


async def test_model_typed_but_unlisted_is_kept_with_close_matches(harness: Harness) -> None:
    """/model name:X that the endpoint does not list is used anyway, with a warning."""
    harness.client.models_list = ["llama-3.1-8b-instruct", "qwen2.5-7b-instruct"]
    await harness.command("connect", base_url="http://h.example/v1")
    answer = await harness.command("model", name="llama-3.1-8b")
    assert answer.text.startswith("This channel now talks to llama-3.1-8b.")
    assert "does not list 'llama-3.1-8b'" in answer.text
    assert "Close matches: llama-3.1-8b-instruct" in answer.text
    assert (await harness.store.load_channel(CHANNEL)).model == "llama-3.1-8b"


async def test_model_listed_is_taken_without_a_warning(harness: Harness) -> None:
    """/model name:X for a listed model says only that it is chosen."""
    harness.client.models_list = ["qwen2.5-7b-instruct", "llama-3.1-8b-instruct"]
    await harness.command("connect", base_url="http://h.example/v1")
    answer = await harness.command("model", name="qwen2.5-7b-instruct")
    assert answer.text == "This channel now talks to qwen2.5-7b-instruct."


async def test_model_unchecked_when_the_list_cannot_be_read(harness: Harness) -> None:
    """Without a model list, /model takes the id and says it could not be checked."""
    harness.client.models_at = {"http://h.example/v1": EndpointUnreachable("down")}
    await harness.command("connect", base_url="http://h.example/v1")
    answer = await harness.command("model", name="anything")
    assert answer.text.startswith("This channel now talks to anything.")
    assert "couldn't check" in answer.text
    assert "does not list" not in answer.text
    assert (await harness.store.load_channel(CHANNEL)).model == "anything"


async def test_connect_again_to_the_same_url_names_the_kept_model(harness: Harness) -> None:
    """A second /connect to the same URL keeps the model and says so."""
    harness.client.models_list = ["a", "b"]
    await harness.command("connect", base_url="http://h.example/v1", model="b")
    answer = await harness.command("connect", base_url="http://h.example/v1")
    assert "Model: b (kept from before)" in answer.text
    assert "No model chosen" not in answer.text
    assert (await harness.store.load_channel(CHANNEL)).model == "b"


async def test_connect_to_a_new_url_forgets_the_model(harness: Harness) -> None:
    """A new URL drops the old model: it belonged to the old endpoint."""
    harness.client.models_list = ["a", "b"]
    await harness.command("connect", base_url="http://h.example/v1", model="b")
    answer = await harness.command("connect", base_url="http://other.example/v1")
    assert "No model chosen yet" in answer.text
    assert (await harness.store.load_channel(CHANNEL)).model is None


def guarded_harness(stores: Stores[SqlStore]) -> Harness:
    """The service with the real endpoint guard (no private addresses) at /connect."""
    client, clock = ScriptedClient(models=["m"]), FakeClock(auto=True)
    guard = AddressGuard(EndpointPolicy(allow_private=False), resolve=fixed_dns)
    service = build_service(stores, client, clock, default=OPERATOR, guard=guard)
    return Harness(service, stores, client, clock)


async def fixed_dns(host: str, port: int) -> list[str]:
    known = {
        "intranet.example": "10.1.2.3",
        "localhost": "127.0.0.1",
        "public.example": "93.184.215.14",
    }
    return [known[host]]


async def test_bypass_check_still_asks_the_endpoint_guard(stores: Stores[SqlStore]) -> None:
    """bypass_check skips the /models probe, not the guard: a private URL is not stored."""
    harness = guarded_harness(stores)
    for url in ("http://10.0.0.5:8080/v1", "http://intranet.example/v1", "localhost:8080"):
        answer = await harness.command("connect", base_url=url, bypass_check="true")
        assert answer.text == REFUSAL_MESSAGE
    assert (await harness.store.load_channel(CHANNEL)).connection is None
    assert harness.client.models_asked == []


async def test_bypass_check_stores_an_allowed_url_without_probing(stores: Stores[SqlStore]) -> None:
    """A public URL with bypass_check is stored without asking /models."""
    harness = guarded_harness(stores)
    answer = await harness.command("connect", base_url="public.example/v1", bypass_check="true")
    assert "Connected this channel to https://public.example/v1." in answer.text
    assert harness.client.models_asked == []
