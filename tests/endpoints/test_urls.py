"""Base-URL repair: what people paste, what we use, and what we tell them."""

from __future__ import annotations

import pytest

from bot.core.errors import UsageError
from bot.endpoints.urls import has_version_segment, probe_candidates, repair_base_url


@pytest.mark.parametrize(
    ("pasted", "used"),
    [
        ("http://host:8080/v1", "http://host:8080/v1"),
        ("http://host:8080/v1/", "http://host:8080/v1"),
        ("  http://host:8080/v1//  ", "http://host:8080/v1"),
        ("http://host:8080/v1/chat/completions", "http://host:8080/v1"),
        ("http://host:8080/v1/chat/completions/", "http://host:8080/v1"),
        ("http://host:8080/v1/completions", "http://host:8080/v1"),
        ("http://host:8080/v1/models", "http://host:8080/v1"),
        ("HTTP://Host:8080/V1", "http://host:8080/V1"),
        ("<https://api.example.com/v1>", "https://api.example.com/v1"),
        ("https://openrouter.ai/api/v1", "https://openrouter.ai/api/v1"),
        ("http://[::1]:8080/v1", "http://[::1]:8080/v1"),
    ],
)
def test_pasted_urls_are_repaired(pasted: str, used: str) -> None:
    """Trailing slashes, pasted endpoint paths and an upper-case scheme are fixed."""
    assert repair_base_url(pasted).url == used


def test_changes_are_reported() -> None:
    """The user is told what was changed."""
    repaired = repair_base_url("HTTP://h:1/v1/chat/completions")
    assert repaired.changes == (
        "wrote the scheme as http://",
        "removed /chat/completions (Parlor adds the endpoint path itself)",
    )


def test_nothing_reported_for_a_clean_url() -> None:
    """A trailing slash alone is not worth a message."""
    assert repair_base_url("http://h:1/v1/").changes == ()


@pytest.mark.parametrize(
    ("pasted", "reason"),
    [
        ("ftp://h/v1", "http:// or https://"),
        ("mailto:someone", "http:// or https://"),
        ("localhost:abc/v1", "http:// or https://"),
        ("user:pw@10.0.0.5:8080/v1", "http:// or https://"),
        ("10.0.0.5:99999/v1", "can't be read"),
        ("http://user:pw@h/v1", "user:password@"),
        ("http://h/v1?key=abc", "?query"),
        ("http://h/v1#top", "?query or #fragment"),
        ("http://h:99999/v1", "can't be read"),
        ("http://h/" + "a" * 3000, "longer than"),
    ],
)
def test_unusable_urls_are_refused_with_a_reason(pasted: str, reason: str) -> None:
    """Each kind of bad URL gets its own explanation, without echoing a password."""
    with pytest.raises(UsageError) as caught:
        repair_base_url(pasted)
    assert reason in str(caught.value)
    assert "pw" not in str(caught.value)


@pytest.mark.parametrize(
    ("pasted", "used"),
    [
        ("localhost:8080", "http://localhost:8080"),
        ("localhost:8080/v1", "http://localhost:8080/v1"),
        ("LocalHost:1234/v1/chat/completions", "http://localhost:1234/v1"),
        ("127.0.0.1:5000/v1", "http://127.0.0.1:5000/v1"),
        ("192.168.1.5:5000/v1", "http://192.168.1.5:5000/v1"),
        ("10.0.0.7/v1", "http://10.0.0.7/v1"),
        ("[::1]:8080/v1", "http://[::1]:8080/v1"),
        ("myhost:11434", "http://myhost:11434"),
        ("ollama/v1", "http://ollama/v1"),
        ("gpu-box.local:5001/v1", "http://gpu-box.local:5001/v1"),
        ("llm.lan/v1", "http://llm.lan/v1"),
        ("llama.internal/v1", "http://llama.internal/v1"),
        ("example.com:8000/v1", "http://example.com:8000/v1"),
        ("example.com/v1", "https://example.com/v1"),
        ("api.openai.com/v1", "https://api.openai.com/v1"),
        ("openrouter.ai:443/api/v1", "https://openrouter.ai:443/api/v1"),
    ],
)
def test_a_missing_scheme_is_added(pasted: str, used: str) -> None:
    """http:// for local, private and host:port addresses; https:// for a public domain."""
    repaired = repair_base_url(pasted)
    assert repaired.url == used
    scheme = used.partition("://")[0]
    assert repaired.changes[0].startswith(f"added {scheme}://")


def test_an_added_scheme_says_how_to_choose_the_other() -> None:
    """The user is told why that scheme, and that typing one overrides the guess."""
    (change,) = repair_base_url("localhost:8080/v1").changes
    assert "plain http" in change
    assert "https://" in change


@pytest.mark.parametrize(
    ("url", "versioned"),
    [
        ("http://h:8080/v1", True),
        ("https://generativelanguage.googleapis.com/v1beta/openai", True),
        ("https://api.cloudflare.com/client/v4/accounts/x/ai/v1", True),
        ("http://h:8080", False),
        ("https://api.deepseek.com", False),
        ("http://h/api/vote", False),
    ],
)
def test_version_segment_is_recognised(url: str, versioned: bool) -> None:
    """A path with /v1, /v1beta or /v4/… already names a version."""
    assert has_version_segment(url) is versioned


def test_missing_version_adds_a_v1_candidate() -> None:
    """Without a version in the path, /v1 is probed after the URL as given."""
    assert probe_candidates("http://h:8080") == ("http://h:8080", "http://h:8080/v1")
    assert probe_candidates("http://h:8080/v1") == ("http://h:8080/v1",)
