"""The preset catalogue: every system the issue names, sane URLs, lookup and autocomplete."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from bot.endpoints.presets import (
    PRESETS,
    KeyNeed,
    Preset,
    find_preset,
    normalize,
    preset_names,
    suggest_presets,
)

# The natural spelling a user would type for every system issue #3 lists.
LOCAL_SYSTEMS = [
    "llama.cpp",
    "KoboldCpp",
    "Ollama",
    "text-generation-webui",
    "TabbyAPI",
    "LM Studio",
    "vLLM",
    "LocalAI",
    "LiteLLM",
    "Aphrodite",
]
CLOUD_SYSTEMS = [
    "OpenAI",
    "Claude",
    "Google AI Studio",
    "Mistral",
    "DeepSeek",
    "AI21",
    "Cohere",
    "Perplexity",
    "Fireworks",
    "OpenRouter",
    "Cloudflare Workers AI",
    "Electron Hub",
    "AI/ML API",
    "Pollinations",
    "Mancer",
    "DreamGen",
    "NovelAI",
]
WITH_URL = [p for p in PRESETS if p.base_url is not None]


@pytest.mark.parametrize("spelling", LOCAL_SYSTEMS)
def test_every_local_system_is_found_and_marked_local(spelling: str) -> None:
    """Each local server the issue names has a preset that says it runs locally."""
    preset = find_preset(spelling)
    assert preset is not None
    assert preset.local


@pytest.mark.parametrize("spelling", CLOUD_SYSTEMS)
def test_every_cloud_system_is_found_and_marked_remote(spelling: str) -> None:
    """Each cloud service the issue names has a preset that is not local."""
    preset = find_preset(spelling)
    assert preset is not None
    assert not preset.local


@pytest.mark.parametrize(
    ("typed", "name"),
    [
        ("tgwui", "textgenerationwebui"),
        ("oobabooga", "textgenerationwebui"),
        ("lmstudio", "lmstudio"),
        ("LM-Studio", "lmstudio"),
        ("lm_studio", "lmstudio"),
        ("  LLAMA.CPP ", "llamacpp"),
        ("gemini", "googleaistudio"),
        ("anthropic", "claude"),
        ("aimlapi", "aimlapi"),
    ],
)
def test_find_preset_ignores_case_punctuation_and_knows_aliases(typed: str, name: str) -> None:
    """Case, dots, dashes, underscores and spaces do not matter, and aliases resolve."""
    preset = find_preset(typed)
    assert preset is not None
    assert preset.name == name


@pytest.mark.parametrize("typed", ["", "   ", "nonexistent", "llama.cpp2"])
def test_find_preset_returns_none_for_unknown_names(typed: str) -> None:
    """A name no preset carries finds nothing."""
    assert find_preset(typed) is None


def test_names_are_unique() -> None:
    """No two presets share a name."""
    names = preset_names()
    assert len(names) == len(set(names))


def test_names_are_already_normalized() -> None:
    """Every name is the lower-case slug a user types after `preset:`."""
    for preset in PRESETS:
        assert preset.name == normalize(preset.name)


def test_no_spelling_points_at_two_presets() -> None:
    """Names, titles and aliases never collide between presets."""
    owners: dict[str, str] = {}
    for preset in PRESETS:
        for spelling in (preset.name, preset.title, *preset.aliases):
            key = normalize(spelling)
            assert owners.setdefault(key, preset.name) == preset.name, spelling


def test_preset_names_follow_catalogue_order() -> None:
    """preset_names lists every preset once, in catalogue order."""
    assert preset_names() == [p.name for p in PRESETS]


@pytest.mark.parametrize("preset", WITH_URL, ids=lambda p: p.name)
def test_base_urls_are_plain_http_urls(preset: Preset) -> None:
    """A base URL is http(s) with a host, and carries no query, fragment or credentials."""
    assert preset.base_url is not None
    parts = urlsplit(preset.base_url)
    assert parts.scheme in {"http", "https"}
    assert parts.hostname
    assert not parts.query
    assert not parts.fragment
    assert parts.username is None
    assert parts.password is None


@pytest.mark.parametrize("preset", WITH_URL, ids=lambda p: p.name)
def test_base_urls_end_where_the_path_is_appended(preset: Preset) -> None:
    """No trailing slash and no /chat/completions or /completions suffix."""
    url = preset.base_url
    assert url is not None
    assert not url.endswith("/")
    assert not url.endswith("/chat/completions")
    assert not url.endswith("/completions")


def test_local_presets_use_localhost_over_http() -> None:
    """Local servers default to plain http on localhost."""
    for preset in PRESETS:
        if preset.local and preset.base_url is not None:
            parts = urlsplit(preset.base_url)
            assert parts.scheme == "http"
            assert parts.hostname == "localhost"
            assert parts.port is not None


def test_cloud_presets_use_https() -> None:
    """Cloud services are reached over https only."""
    for preset in PRESETS:
        if not preset.local and preset.base_url is not None:
            assert urlsplit(preset.base_url).scheme == "https"


def test_presets_without_a_url_explain_why() -> None:
    """A preset with no OpenAI-compatible URL carries a note saying so."""
    for preset in PRESETS:
        if preset.base_url is None:
            assert preset.note.strip()


def test_presets_without_a_model_list_explain_it() -> None:
    """A preset that skips the /models probe tells the user to type the model id."""
    for preset in PRESETS:
        if not preset.models_listing:
            assert preset.note.strip(), preset.name


def test_cloud_presets_require_a_key() -> None:
    """Every cloud service needs a key; no cloud preset claims none is needed."""
    for preset in PRESETS:
        if not preset.local:
            assert preset.key is KeyNeed.REQUIRED, preset.name


def test_keyless_presets_are_local() -> None:
    """Only a local server can be used with no key at all."""
    for preset in PRESETS:
        if preset.key is KeyNeed.NONE:
            assert preset.local, preset.name


def test_notes_are_one_short_sentence() -> None:
    """Notes stay short enough for a chat reply."""
    for preset in PRESETS:
        assert len(preset.note) <= 100, preset.name
        assert "\n" not in preset.note


def test_cloudflare_url_carries_the_account_placeholder() -> None:
    """The Cloudflare preset names the part of the URL the user must replace."""
    preset = find_preset("cloudflare")
    assert preset is not None
    assert preset.base_url is not None
    assert "ACCOUNT_ID" in preset.base_url
    assert "ACCOUNT_ID" in preset.note


def test_suggest_lists_prefix_matches_before_substring_matches() -> None:
    """Typing "ai" offers presets starting with it before those merely containing it."""
    names = [p.name for p in suggest_presets("ai")]
    starting = ["googleaistudio", "ai21", "aimlapi"]  # Google AI Studio by its "aistudio" alias
    assert names[:3] == starting
    assert "localai" in names[3:]


def test_suggest_matches_titles_and_aliases() -> None:
    """A title word or an alias is enough to be offered a preset."""
    assert [p.name for p in suggest_presets("gemini")] == ["googleaistudio"]
    assert "lmstudio" in [p.name for p in suggest_presets("Studio")]


def test_suggest_keeps_catalogue_order_within_a_group() -> None:
    """Prefix matches keep the order of the catalogue."""
    names = [p.name for p in suggest_presets("l")]
    assert names[:3] == ["llamacpp", "lmstudio", "localai"]


def test_suggest_with_nothing_typed_offers_the_catalogue() -> None:
    """An empty query offers presets in catalogue order."""
    assert suggest_presets("") == list(PRESETS[:25])


def test_suggest_never_exceeds_the_limit() -> None:
    """The result is cut to `limit`, and a limit of zero or less yields nothing."""
    assert len(suggest_presets("", limit=5)) == 5
    assert len(suggest_presets("")) == min(25, len(PRESETS))
    assert suggest_presets("", limit=0) == []
    assert suggest_presets("a", limit=-3) == []


def test_suggest_returns_nothing_for_an_unknown_fragment() -> None:
    """A fragment no preset contains offers nothing."""
    assert suggest_presets("zzzz") == []
