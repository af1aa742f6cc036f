"""Base-URL repair: what people paste, what we use, and what we tell them."""

from __future__ import annotations

import pytest

from bot.endpoints import has_version_segment, probe_candidates, repair_base_url
from bot.errors import UsageError


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
        ("localhost:8080", "http:// or https://"),
        ("ftp://h/v1", "http:// or https://"),
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
