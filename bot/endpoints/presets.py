"""Known endpoints for `/connect preset:<name>`: base URL, key need, and what to tell the user.

Pure data and lookup; knows no network, configuration or storage.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

# Local servers use their documented default port on host `localhost`. When the bot
# runs in Docker, `localhost` is the bot's own container: users replace it with the
# address of the machine the server runs on (e.g. `host.docker.internal` or its LAN IP).
# Local presets reach private addresses, so they need ALLOW_PRIVATE_ENDPOINTS (or the
# operator's DEFAULT_BASE_URL) unless the bot runs on the same machine.


class KeyNeed(enum.StrEnum):
    NONE = "none"
    """Local server with no key setting: any key, or none, works."""
    OPTIONAL = "optional"
    """The server can be started with a key; then it must be sent."""
    REQUIRED = "required"


@dataclass(frozen=True, slots=True, kw_only=True)
class Preset:
    """One system a user can connect to; citations for every value live beside `PRESETS`.

    `base_url` ends where `/chat/completions` is appended, and is None when the system
    offers no OpenAI-compatible endpoint (`note` then says what it offers instead).
    `models_listing` is False when `GET {base}/models` is not known to work, so the
    bot should skip its status probe and let the user type a model id.
    """

    name: str
    title: str
    base_url: str | None
    key: KeyNeed
    local: bool
    note: str = ""
    models_listing: bool = True
    aliases: tuple[str, ...] = ()


def normalize(text: str) -> str:
    """Lower-case `text` and drop everything but letters and digits ("LM Studio" -> "lmstudio")."""
    return "".join(ch for ch in text.casefold() if ch.isalnum())


PRESETS: tuple[Preset, ...] = (
    # --- Local servers -----------------------------------------------------------------
    # ggml-org/llama.cpp tools/server/README.md: `--port` default 8080 in released builds
    # (the newest README says 9931, announced in PR #26508), `--api-key` optional,
    # OpenAI-compatible routes /v1/chat/completions and /v1/models.
    Preset(
        name="llamacpp",
        title="llama.cpp server",
        base_url="http://localhost:8080/v1",
        key=KeyNeed.OPTIONAL,
        local=True,
        note="Newer llama-server builds listen on port 9931: use it if 8080 is refused.",
        aliases=("llama-server", "llama.cpp"),
    ),
    # LostRuins/koboldcpp README.md "connect to http://localhost:5001"; koboldcpp.py:
    # defaultport = 5001, `--password` optional, serves /v1/chat/completions and /v1/models.
    Preset(
        name="koboldcpp",
        title="KoboldCpp",
        base_url="http://localhost:5001/v1",
        key=KeyNeed.OPTIONAL,
        local=True,
        aliases=("kobold", "kcpp"),
    ),
    # ollama/ollama docs/api/openai-compatibility.mdx: base_url http://localhost:11434/v1,
    # api_key "required but ignored", /v1/models listed.
    Preset(
        name="ollama",
        title="Ollama",
        base_url="http://localhost:11434/v1",
        key=KeyNeed.NONE,
        local=True,
    ),
    # oobabooga/text-generation-webui docs/12 - OpenAI API.md: start with `--api`, port
    # 5000 by default, `--api-key` optional, /v1/chat/completions and /v1/models.
    Preset(
        name="textgenerationwebui",
        title="text-generation-webui",
        base_url="http://localhost:5000/v1",
        key=KeyNeed.OPTIONAL,
        local=True,
        note="Start it with --api to enable the OpenAI-compatible API.",
        aliases=("tgwui", "oobabooga", "ooba", "textgen webui"),
    ),
    # theroyallab/tabbyAPI config_sample.yml: port 5000, disable_auth false by default;
    # common/auth.py: keys generated into api_tokens.yml and printed at start-up.
    Preset(
        name="tabbyapi",
        title="TabbyAPI",
        base_url="http://localhost:5000/v1",
        key=KeyNeed.REQUIRED,
        local=True,
        note="Use the api_key from TabbyAPI's api_tokens.yml (printed when it starts).",
        aliases=("tabby",),
    ),
    # https://lmstudio.ai/docs/api/openai-api: base URL http://localhost:1234/v1, /v1/models;
    # https://lmstudio.ai/docs/developer/core/authentication: API tokens off by default.
    Preset(
        name="lmstudio",
        title="LM Studio",
        base_url="http://localhost:1234/v1",
        key=KeyNeed.OPTIONAL,
        local=True,
        note="Start the server in LM Studio's Developer tab (or `lms server start`).",
    ),
    # https://docs.vllm.ai/en/v0.8.4/serving/openai_compatible_server.html: `vllm serve`,
    # base_url http://localhost:8000/v1, `--api-key` optional, Models API supported.
    Preset(
        name="vllm",
        title="vLLM",
        base_url="http://localhost:8000/v1",
        key=KeyNeed.OPTIONAL,
        local=True,
    ),
    # https://localai.io/getting-started/: API on port 8080, API_KEY optional; LocalAI's
    # docs/reference/api-reference: base URL http://localhost:8080/v1, GET /v1/models.
    Preset(
        name="localai",
        title="LocalAI",
        base_url="http://localhost:8080/v1",
        key=KeyNeed.OPTIONAL,
        local=True,
    ),
    # https://docs.litellm.ai/docs/simple_proxy: proxy on port 4000, base_url without /v1
    # (serves /chat/completions and GET /models); master_key optional.
    Preset(
        name="litellm",
        title="LiteLLM proxy",
        base_url="http://localhost:4000",
        key=KeyNeed.OPTIONAL,
        local=True,
        note="Send the proxy's master key or a virtual key if one is configured.",
    ),
    # PygmalionAI/aphrodite-engine docs/pages/usage/getting-started.md: base URL
    # http://localhost:2242/v1, /v1/models, `--api-keys` or APHRODITE_API_KEY optional.
    Preset(
        name="aphrodite",
        title="Aphrodite Engine",
        base_url="http://localhost:2242/v1",
        key=KeyNeed.OPTIONAL,
        local=True,
    ),
    # --- Cloud services ----------------------------------------------------------------
    # https://platform.openai.com/docs/api-reference: Bearer key, GET /models; base
    # https://api.openai.com/v1 as in SillyTavern src/endpoints/backends/chat-completions.js.
    Preset(
        name="openai",
        title="OpenAI",
        base_url="https://api.openai.com/v1",
        key=KeyNeed.REQUIRED,
        local=False,
        aliases=("chatgpt",),
    ),
    # https://platform.claude.com/docs/en/api/openai-sdk: base_url https://api.anthropic.com/v1/
    # with an Anthropic key; the page documents no OpenAI-style model list.
    Preset(
        name="claude",
        title="Claude (Anthropic OpenAI compatibility)",
        base_url="https://api.anthropic.com/v1",
        key=KeyNeed.REQUIRED,
        local=False,
        note="Anthropic offers this OpenAI layer for testing; type the Claude model id.",
        models_listing=False,
        aliases=("anthropic",),
    ),
    # https://ai.google.dev/gemini-api/docs/openai: base_url
    # https://generativelanguage.googleapis.com/v1beta/openai/, Gemini API key, models.list().
    Preset(
        name="googleaistudio",
        title="Google AI Studio (Gemini)",
        base_url="https://generativelanguage.googleapis.com/v1beta/openai",
        key=KeyNeed.REQUIRED,
        local=False,
        aliases=("gemini", "google", "aistudio"),
    ),
    # SillyTavern src/endpoints/backends/chat-completions.js API_MISTRAL; LibreChat docs
    # configuration/librechat_yaml/ai_endpoints/mistral: baseURL, Bearer key, model list.
    Preset(
        name="mistral",
        title="Mistral AI",
        base_url="https://api.mistral.ai/v1",
        key=KeyNeed.REQUIRED,
        local=False,
    ),
    # DeepSeek API docs "Your First API Call": base_url https://api.deepseek.com (/v1 also
    # accepted); https://api-docs.deepseek.com/zh-cn/api/list-models: GET /models.
    Preset(
        name="deepseek",
        title="DeepSeek",
        base_url="https://api.deepseek.com",
        key=KeyNeed.REQUIRED,
        local=False,
    ),
    # https://docs.ai21.com/reference/jamba-1-6-api-ref: POST /studio/v1/chat/completions,
    # Bearer key (SillyTavern API_AI21); GET /models reported to answer an empty list.
    Preset(
        name="ai21",
        title="AI21 Studio (Jamba)",
        base_url="https://api.ai21.com/studio/v1",
        key=KeyNeed.REQUIRED,
        local=False,
        note="Type the Jamba model id yourself.",
        models_listing=False,
        aliases=("jamba",),
    ),
    # https://docs.cohere.com/docs/compatibility-api: base_url
    # https://api.cohere.ai/compatibility/v1; chat completions and embeddings only.
    Preset(
        name="cohere",
        title="Cohere (Compatibility API)",
        base_url="https://api.cohere.ai/compatibility/v1",
        key=KeyNeed.REQUIRED,
        local=False,
        note="Type the Command model id yourself; this API covers chat and embeddings.",
        models_listing=False,
    ),
    # https://docs.perplexity.ai/docs/sonar/openai-compatibility: base_url
    # https://api.perplexity.ai, /chat/completions accepted as an alias of /v1/sonar.
    Preset(
        name="perplexity",
        title="Perplexity (Sonar)",
        base_url="https://api.perplexity.ai",
        key=KeyNeed.REQUIRED,
        local=False,
        note="Sonar models search the web for every reply; type the model id.",
        models_listing=False,
        aliases=("sonar",),
    ),
    # SillyTavern chat-completions.js API_FIREWORKS https://api.fireworks.ai/inference/v1;
    # LibreChat docs configuration/librechat_yaml/ai_endpoints/fireworks: fetch the models.
    Preset(
        name="fireworks",
        title="Fireworks AI",
        base_url="https://api.fireworks.ai/inference/v1",
        key=KeyNeed.REQUIRED,
        local=False,
    ),
    # https://openrouter.ai/docs/quick-start: base_url https://openrouter.ai/api/v1;
    # GET /api/v1/models lists the catalogue (SillyTavern reads it without a key).
    Preset(
        name="openrouter",
        title="OpenRouter",
        base_url="https://openrouter.ai/api/v1",
        key=KeyNeed.REQUIRED,
        local=False,
    ),
    # https://developers.cloudflare.com/workers-ai/configuration/open-ai-compatibility/:
    # https://api.cloudflare.com/client/v4/accounts/{account_id}/ai/v1, API token;
    # only /v1/chat/completions and /v1/embeddings are offered.
    Preset(
        name="cloudflare",
        title="Cloudflare Workers AI",
        base_url="https://api.cloudflare.com/client/v4/accounts/ACCOUNT_ID/ai/v1",
        key=KeyNeed.REQUIRED,
        local=False,
        note="Replace ACCOUNT_ID with your Cloudflare account id; type the @cf/ model id.",
        models_listing=False,
        aliases=("workers ai", "cloudflare ai"),
    ),
    # https://docs.electronhub.ai/guides/openai-sdks: baseURL https://api.electronhub.ai/v1;
    # https://docs.electronhub.ai/api-reference/models: GET /models.
    Preset(
        name="electronhub",
        title="Electron Hub",
        base_url="https://api.electronhub.ai/v1",
        key=KeyNeed.REQUIRED,
        local=False,
    ),
    # https://docs.aimlapi.com/quickstart/supported-sdks: OpenAI SDK at
    # https://api.aimlapi.com/v1 (SillyTavern API_AIMLAPI); Gitlawb/openclaude
    # docs/aimlapi-setup.md: models discovered from the public /models catalogue.
    Preset(
        name="aimlapi",
        title="AI/ML API",
        base_url="https://api.aimlapi.com/v1",
        key=KeyNeed.REQUIRED,
        local=False,
    ),
    # pollinations/pollinations APIDOCS.md: base https://gen.pollinations.ai, POST
    # /v1/chat/completions, every request needs a key from enter.pollinations.ai; /v1/models.
    Preset(
        name="pollinations",
        title="Pollinations",
        base_url="https://gen.pollinations.ai/v1",
        key=KeyNeed.REQUIRED,
        local=False,
        note="Get a key at enter.pollinations.ai; the old text.pollinations.ai/openai is legacy.",
    ),
    # No first-party page found. SillyTavern src/endpoints/backends/text-completions.js
    # probes GET https://neuro.mancer.tech/oai/v1/models; other clients POST
    # /oai/v1/chat/completions with a Mancer key.
    Preset(
        name="mancer",
        title="Mancer",
        base_url="https://neuro.mancer.tech/oai/v1",
        key=KeyNeed.REQUIRED,
        local=False,
    ),
    # https://dreamgen.com/docs/api: OpenAI-compatible /api/openai/v1/chat/completions,
    # /completions and /models, Bearer key (SillyTavern lists models there with GET).
    Preset(
        name="dreamgen",
        title="DreamGen",
        base_url="https://dreamgen.com/api/openai/v1",
        key=KeyNeed.REQUIRED,
        local=False,
    ),
    # https://api.novelai.net/docs documents NovelAI's own /ai/generate API. Its GLM-based
    # models also answer at https://text.novelai.net/oa/v1 (SillyTavern issue #4575);
    # third-party clients report non-streamed chat replies lack message.content.
    Preset(
        name="novelai",
        title="NovelAI",
        base_url="https://text.novelai.net/oa/v1",
        key=KeyNeed.REQUIRED,
        local=False,
        note="Only NovelAI's GLM-based models speak OpenAI here: prefer /api type:text.",
        models_listing=False,
        aliases=("nai",),
    ),
)


def _keys(preset: Preset) -> tuple[str, ...]:
    """Every normalized spelling a user may type for `preset`."""
    return tuple(normalize(k) for k in (preset.name, preset.title, *preset.aliases))


def find_preset(name: str) -> Preset | None:
    """The preset called `name`, its title or an alias, ignoring case and punctuation."""
    wanted = normalize(name)
    if not wanted:
        return None
    return next((p for p in PRESETS if wanted in _keys(p)), None)


def preset_names() -> list[str]:
    """Every preset's name, in catalogue order."""
    return [p.name for p in PRESETS]


def suggest_presets(typed: str, limit: int = 25) -> list[Preset]:
    """Presets for autocomplete: prefix matches first, then substring matches, then `limit`.

    Matching looks at names, titles and aliases; nothing typed offers every preset.
    """
    wanted = normalize(typed)
    prefix = [p for p in PRESETS if any(k.startswith(wanted) for k in _keys(p))]
    inside = [p for p in PRESETS if p not in prefix and any(wanted in k for k in _keys(p))]
    return (prefix + inside)[: max(limit, 0)]
