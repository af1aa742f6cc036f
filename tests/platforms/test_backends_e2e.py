"""Every emulated backend through the console: /connect, /models, /test and a streamed chat.

One console session per backend (the composition root's, in this process) runs a script
against the fake's profile for it, all in a module fixture; each test then reads what the
user saw. The scripts paste
mangled base URLs on purpose and walk into each backend's quirk.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from tests.fakes.bot_thread import ConsoleRun, run_console_in_thread
from tests.fakes.console_process import bot_env
from tests.fakes.openai.backends import KOBOLD_PASSWORD, TABBY_KEY
from tests.fakes.openai.server import FakeOpenAI, RecordedRequest

pytestmark = pytest.mark.slow

LONG_MESSAGE = "tell me everything " * 120  # past the 2,000-character context of the llama profiles


@dataclass(frozen=True)
class Case:
    """One backend's script and what a user must see from its plain path.

    Lines are templates: `{root}` is http://127.0.0.1:PORT. `connected` is the base URL path
    /connect must settle on, `says` a phrase its first answer must contain (what it repaired),
    `chat` the message whose streamed reply must complete.
    """

    backend: str
    lines: tuple[str, ...]
    connected: str
    says: str
    models: tuple[str, ...]
    chat: str


CASES = (
    Case(
        "llamacpp",
        (
            "/connect base_url:{root}/llamacpp/v1/chat/completions/",
            "/models",
            "/test",
            "hello llama",
            LONG_MESSAGE,
        ),
        connected="/llamacpp/v1",
        says="removed /chat/completions",
        models=("gemma-3-4b-it-Q4_K_M.gguf",),
        chat="hello llama",
    ),
    Case(
        "llamacpppython",
        (
            "/connect base_url:{root}/llamacpppython",
            "/models",
            "/test",
            "hello python",
            LONG_MESSAGE,
        ),
        connected="/llamacpppython/v1",
        says="added /v1",
        models=("smollm2-135m-instruct",),
        chat="hello python",
    ),
    Case(
        "koboldcpp",
        (
            "/connect base_url:{root}/koboldcpp/",
            "/models",
            "/test",
            f"/connect base_url:{{root}}/koboldcpp api_key:{KOBOLD_PASSWORD}",
            "/test",
            "hello kobold",
        ),
        connected="/koboldcpp",  # KoboldCpp serves the OpenAI routes at its root too
        says="(the only one it offers)",
        models=("koboldcpp/Mistral-Nemo-Instruct-2407-Q4_K_M",),
        chat="hello kobold",
    ),
    Case(
        "ollama",
        (
            "/connect base_url:{root}/ollama",
            "/models",
            "/model llama3",
            "/test",
            "/model qwen3:0.6b",
            "/reasoning mode:quote",
            "/test",
            "hello ollama",
        ),
        connected="/ollama/v1",
        says="added /v1",
        models=("llama3.2:latest", "qwen3:0.6b"),
        chat="hello ollama",
    ),
    Case(
        "tgwui",
        (
            "/connect base_url:{root}/tgwui/v1/",
            "/models",
            "/test",
            "/reasoning mode:quote",
            "hello webui",
            '/extras body:{{"mode": "bogus"}}',
            "once more",
        ),
        connected="/tgwui/v1",
        says="(the only one it offers)",
        models=("Qwen2.5-7B-Instruct-Q4_K_M.gguf",),
        chat="hello webui",
    ),
    Case(
        "tabbyapi",
        (
            "/connect base_url:{root}/tabbyapi/v1/models",
            "/test",
            "/connect base_url:{root}/tabbyapi/v1 api_key:wrong-key-12345",
            "/test",
            f"/connect base_url:{{root}}/tabbyapi/v1 api_key:{TABBY_KEY}",
            "/models",
            "/model Qwen2.5-7B-Instruct-exl2",
            "/test",
            "hello tabby",
        ),
        connected="/tabbyapi/v1",
        says="removed /models",
        models=("Qwen2.5-7B-Instruct-exl2", "Llama-3.1-8B-Instruct-exl2"),
        chat="hello tabby",
    ),
    Case(
        "vllm",
        (
            "/connect base_url:{root}/vllm model:qwen2.5-7b-instruct",
            "/models",
            "/test",
            "/model Qwen/Qwen2.5-7B-Instruct",
            "/test",
            "hello vllm",
        ),
        connected="/vllm/v1",
        says="added /v1",
        models=("Qwen/Qwen2.5-7B-Instruct",),
        chat="hello vllm",
    ),
    Case(
        "lmstudio",
        (
            "/connect base_url:{root}/lmstudio",
            "/models",
            "/model qwen2.5-7b-instruct",
            "/test",
            "hello lmstudio",
        ),
        connected="/lmstudio/v1",
        says="added /v1",
        models=("qwen2.5-7b-instruct", "llama-3.2-3b-instruct"),
        chat="hello lmstudio",
    ),
    Case(
        "openrouter",
        (
            "/connect base_url:{root}/openrouter/api/v1/chat/completions api_key:sk-or-v1-test",
            "/models",
            "/model gpt-4o",
            "/test",
            "/model openai/gpt-4o",
            "/test",
            "hello router",
        ),
        connected="/openrouter/api/v1",
        says="removed /chat/completions",
        models=("deepseek/deepseek-r1", "openai/gpt-4o"),
        chat="hello router",
    ),
    Case(
        "deepseek",
        (
            "/connect base_url:{root}/deepseek/chat/completions api_key:sk-deepseek-test",
            "/models",
            "/model deepseek-reasoner",
            "/reasoning mode:quote",
            "/test",
            "hello deepseek",
        ),
        connected="/deepseek",  # DeepSeek's base URL has no /v1
        says="removed /chat/completions",
        models=("deepseek-chat", "deepseek-reasoner"),
        chat="hello deepseek",
    ),
    Case(
        "mistral",
        (
            "/connect base_url:{root}/mistral/v1/chat/completions/ api_key:mistral-test-key",
            "/models",
            "/model mistral-medium",
            "first question",
            "/model mistral-small-latest",
            "/test",
            "second question",
            "/reset",
            "third question",
        ),
        connected="/mistral/v1",
        says="removed /chat/completions",
        models=("mistral-small-latest", "mistral-large-latest"),
        chat="third question",
    ),
    Case(
        "nomodels",
        (
            "/connect base_url:HTTP://{host}/nomodels/v1/ model:any-model",
            "/models",
            "/test",
            "hello nomodels",
        ),
        connected="/nomodels/v1",
        says="wrote the scheme as http://",
        models=(),
        chat="hello nomodels",
    ),
    Case(
        "textonly",
        (
            "/connect base_url:{root}/textonly/v1/completions",
            "/models",
            "/test",
            "hello chat",
            "/api type:text template:chatml",
            "/test",
            "hello text",
        ),
        connected="/textonly/v1",
        says="removed /completions",
        models=("base-model-7b",),
        chat="hello text",
    ),
)
BY_NAME = {case.backend: case for case in CASES}
NAMES = [case.backend for case in CASES]


@dataclass
class Run:
    """A finished console session against one backend, and what the fake received from it."""

    case: Case
    root: str
    bot: ConsoleRun
    requests: list[RecordedRequest]

    def answers(self, command: str) -> list[str]:
        events = self.bot.events
        return [e["text"] for e in events if e["type"] == "command" and e["name"] == command]

    def done(self, message: str) -> dict[str, Any]:
        """The `done` event of the reply to `message`: its status and the answer alone."""
        return self._replies(message)[0]

    def shown(self, message: str) -> str:
        """The last text shown for the reply to `message` (reasoning included, as displayed)."""
        return self._replies(message)[1]

    def _replies(self, message: str) -> tuple[dict[str, Any], str]:
        """Replies come in message order; each is a send, edits, then its `done` event."""
        replies, shown = [], ""
        for event in self.bot.events:
            if event["type"] in ("send", "edit"):
                shown = event["text"]
            elif event["type"] == "done":
                replies.append((event, shown))
        chats = [line for line in self.case.lines if not line.startswith("/")]
        assert len(replies) == len(chats), self.bot.events
        return replies[chats.index(message)]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI.in_thread() as server:
        yield server


@pytest.fixture(scope="module")
def runs(
    fake: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory, migrated_template: Path
) -> dict[str, Run]:
    """Every backend's script, one after another, each in a workdir of its own."""
    host = f"127.0.0.1:{fake.port}"
    root = f"http://{host}"
    keys = Fernet.generate_key().decode()
    finished = {}
    for case in CASES:
        workdir = tmp_path_factory.mktemp(case.backend)
        lines = [line.format(root=root, host=host) for line in case.lines]
        env = bot_env(workdir, ENCRYPTION_KEYS=keys)
        bot = run_console_in_thread(workdir, env, *lines, template=migrated_template)
        finished[case.backend] = Run(case, root, bot, [])
    for request in fake.requests:
        backend = request.path.split("/")[1]
        if backend in finished:
            finished[backend].requests.append(request)
    return finished


# The plain path, for every backend.


@pytest.mark.parametrize("name", NAMES)
def test_connect_settles_on_the_working_base_url(runs: dict[str, Run], name: str) -> None:
    """/connect names the base URL it will use, and what it changed in the pasted one."""
    run = runs[name]
    answers = run.answers("connect")
    pasted, last = answers[0], answers[-1]
    assert run.case.says in pasted
    assert f"Connected this channel to {run.root}{run.case.connected}." in last


@pytest.mark.parametrize("name", [n for n in NAMES if BY_NAME[n].models])
def test_models_are_listed(runs: dict[str, Run], name: str) -> None:
    """/models lists the ids the backend's own /models shape carries."""
    listing = runs[name].answers("models")[-1]
    assert listing.startswith("Models:")
    for model in BY_NAME[name].models:
        assert f"• {model}" in listing


@pytest.mark.parametrize("name", NAMES)
def test_test_command_reports_success(runs: dict[str, Run], name: str) -> None:
    """The last /test of each script reports the endpoint answered, with latency and model."""
    answer = runs[name].answers("test")[-1]
    assert answer.startswith("✅ The endpoint answered in "), answer
    assert "Reply: You said: Hi" in answer


@pytest.mark.parametrize("name", NAMES)
def test_chat_reply_streams_and_completes(runs: dict[str, Run], name: str) -> None:
    """The chat message's reply arrives as a send and edits and ends complete."""
    run = runs[name]
    message = run.case.chat
    done = run.done(message)
    assert done["status"] == "complete", done
    assert done["text"] == f"You said: {message}"
    assert run.shown(message).endswith(done["text"])
    assert any(e["type"] == "edit" for e in run.bot.events)
    streamed = [r for r in run.requests if r.json and r.json.get("stream") is True]
    connected = run.case.connected
    assert streamed[-1].path in (f"{connected}/chat/completions", f"{connected}/completions")


# Each backend's quirk, as the user sees it.


def test_llamacpp_context_overflow_is_named(runs: dict[str, Run]) -> None:
    """llama.cpp's 400 exceed_context_size_error says the conversation outgrew the context."""
    done = runs["llamacpp"].done(LONG_MESSAGE)
    assert done["status"] == "error"
    assert "too long for the model's context" in done["text"]
    assert "/reset" in done["text"]


def test_llamacpp_python_empty_stream_is_named_as_an_overflow(runs: dict[str, Run]) -> None:
    """llama-cpp-python's empty 200 stream for an overflow is reported as one, likely."""
    done = runs["llamacpppython"].done(LONG_MESSAGE)
    assert done["status"] == "error"
    assert "closed the stream without a reply" in done["text"]
    assert "too long for the model's context" in done["text"]


def test_kobold_missing_password_is_read_from_its_detail_object(runs: dict[str, Run]) -> None:
    """KoboldCpp's {"detail": {"msg": …}} reaches the user instead of a bare HTTP 401."""
    first_test = runs["koboldcpp"].answers("test")[0]
    assert first_test.startswith("❌")
    assert "Authentication key is missing or invalid." in first_test


def test_kobold_root_routes_are_used_as_given(runs: dict[str, Run]) -> None:
    """KoboldCpp answers at its root, so no /v1 is added and the chat goes there."""
    paths = {r.path for r in runs["koboldcpp"].requests}
    assert "/koboldcpp/chat/completions" in paths
    assert not any(path.startswith("/koboldcpp/v1") for path in paths)


def test_tabby_without_a_key_names_the_missing_key(runs: dict[str, Run]) -> None:
    """TabbyAPI's "Please provide an API key" is reported as a missing key, at /connect too."""
    run = runs["tabbyapi"]
    assert "The endpoint needs an API key" in run.answers("connect")[0]
    first_test = run.answers("test")[0]
    assert "needs an API key" in first_test
    assert "Please provide an API key" in first_test
    assert "api_key:" in first_test


def test_tabby_wrong_key_is_rejected(runs: dict[str, Run]) -> None:
    """A wrong key is a rejected key, not a missing one."""
    second_test = runs["tabbyapi"].answers("test")[1]
    assert "rejected the API key" in second_test
    assert "Invalid API key" in second_test


def test_ollama_unknown_model_lists_close_matches(runs: dict[str, Run]) -> None:
    """Ollama's 404 for an unpulled model names it and offers the pulled look-alikes."""
    first_test = runs["ollama"].answers("test")[0]
    assert 'model "llama3" not found, try pulling it first' in first_test
    assert "Close matches: llama3.2:latest" in first_test


def test_vllm_exact_model_name_is_required(runs: dict[str, Run]) -> None:
    """vLLM's flat 404 error is read, and the served name is offered."""
    run = runs["vllm"]
    assert "Close matches: Qwen/Qwen2.5-7B-Instruct" in run.answers("connect")[0]
    first_test = run.answers("test")[0]
    assert "The model `qwen2.5-7b-instruct` does not exist." in first_test
    assert "Close matches: Qwen/Qwen2.5-7B-Instruct" in first_test


def test_lmstudio_200_error_page_is_not_a_model_list(runs: dict[str, Run]) -> None:
    """LM Studio's 200 "Unexpected endpoint" at the root sends the probe on to /v1."""
    paths = [r.path for r in runs["lmstudio"].requests]
    assert paths[:2] == ["/lmstudio/models", "/lmstudio/v1/models"]


def test_openrouter_unknown_model_is_named(runs: dict[str, Run]) -> None:
    """OpenRouter's 400 "not a valid model ID" says the model is unknown, not the request."""
    first_test = runs["openrouter"].answers("test")[0]
    assert "does not know that model" in first_test
    assert "gpt-4o is not a valid model ID" in first_test


def test_openrouter_processing_comments_stay_out_of_the_reply(runs: dict[str, Run]) -> None:
    """SSE comments between tokens are ignored: the reply is exactly the tokens."""
    assert runs["openrouter"].done("hello router")["text"] == "You said: hello router"


@pytest.mark.parametrize(
    ("name", "message", "thinking"),
    [
        ("deepseek", "hello deepseek", "We're asked to echo."),
        ("tgwui", "hello webui", "Thinking it over."),
        ("ollama", "hello ollama", "Let me think."),
    ],
)
def test_reasoning_is_shown_apart_from_the_answer(
    runs: dict[str, Run], name: str, message: str, thinking: str
) -> None:
    """reasoning_content (DeepSeek, text-generation-webui) and reasoning (Ollama) are quoted."""
    assert runs[name].shown(message) == f"> {thinking}\n\nYou said: {message}"


def test_deepseek_base_without_v1_is_kept(runs: dict[str, Run]) -> None:
    """DeepSeek serves /models and /chat/completions at its root: no /v1 is probed."""
    paths = {r.path for r in runs["deepseek"].requests}
    assert "/deepseek/chat/completions" in paths
    assert not any(path.startswith("/deepseek/v1") for path in paths)


def test_mistral_unknown_model_is_named(runs: dict[str, Run]) -> None:
    """Mistral's flat 400 "Invalid model" is read and called an unknown model."""
    done = runs["mistral"].done("first question")
    assert done["status"] == "error"
    assert "does not know that model" in done["text"]
    assert "Invalid model: mistral-medium" in done["text"]


def test_mistral_broken_alternation_is_retried_stricter(runs: dict[str, Run]) -> None:
    """After a failed turn, Mistral's 400 for user,user is retried merged, and the channel told."""
    run = runs["mistral"]
    done = run.done("second question")
    assert done["status"] == "complete"
    asked = [
        [m["role"] for m in r.json["messages"]]
        for r in run.requests
        if r.json and "second question" in str(r.json.get("messages", ""))
    ]
    assert asked[:2] == [["user", "user"], ["user"]]  # refused, then merged and accepted
    shown = [e["text"] for e in run.bot.events if e["type"] in ("send", "edit")]
    assert any("/postprocess mode:merge" in text for text in shown)


def test_nomodels_connect_warns_but_saves(runs: dict[str, Run]) -> None:
    """A server without /models is saved with a note; /models says it cannot list them."""
    run = runs["nomodels"]
    assert "Couldn't list models there" in run.answers("connect")[0]
    assert run.answers("models")[0].startswith("Could not list the models.")


def test_textonly_chat_goes_to_completions(runs: dict[str, Run]) -> None:
    """In text mode the chat is an instruct prompt to /completions, which this server has."""
    streamed = [r for r in runs["textonly"].requests if r.json and r.json.get("stream")]
    assert streamed[-1].path == "/textonly/v1/completions"
    assert streamed[-1].json["prompt"].endswith("<|im_start|>assistant\n")


def test_textonly_chat_mode_names_text_completion(runs: dict[str, Run]) -> None:
    """Before /api type:text, /test and a chat turn both name the switch to text completion."""
    run = runs["textonly"]
    first_test = run.answers("test")[0]
    assert first_test.startswith("❌ The test failed: this server has no chat completions")
    assert "/api type:text switches this channel to it" in first_test
    done = run.done("hello chat")
    assert done["status"] == "error"
    assert "/api type:text" in done["text"]


def test_mistral_unlisted_model_is_taken_with_close_matches(runs: dict[str, Run]) -> None:
    """/model with an id Mistral does not list is used anyway, with the look-alikes named."""
    chosen = runs["mistral"].answers("model")[0]
    assert chosen.startswith("This channel now talks to mistral-medium.")
    assert "does not list 'mistral-medium'; it is used anyway" in chosen


def test_tgwui_validation_error_names_the_field(runs: dict[str, Run]) -> None:
    """text-generation-webui's 422 names the field and points at /extras."""
    done = runs["tgwui"].done("once more")
    assert done["status"] == "error"
    assert "body.mode: Input should be 'instruct', 'chat' or 'chat-instruct'" in done["text"]
    assert "/extras" in done["text"]
