"""Prometheus metrics for one Parlor: implements the `Telemetry` port on its own registry.

Labels are bounded by construction: platform names, statuses, error classes with an HTTP
status, token sources. Never conversation text, keys, channel ids or model names.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder

from bot.core.domain import TurnReport

REPLY_SECONDS_BUCKETS: tuple[float, ...] = (
    *(0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0),
    *(13.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0),
)
"""From a cached local model's first token (0.1 s) to a long reasoning reply (2 minutes);
anything slower lands in +Inf, which is an alarm in itself."""

MAX_LABEL_CHARS = 60
_UNSAFE_LABEL = re.compile(r"[^A-Za-z0-9_. -]")
NO_CAUSE = "none"


class Metrics:
    """The `Telemetry` port as Prometheus metrics, in a registry this object owns: two
    instances in one process (tests, several bots) never see each other's counts.

    `queue_depth` and `active_streams` are read at each scrape, so they are never stale.
    """

    def __init__(
        self,
        *,
        queue_depth: Callable[[], float] = lambda: 0.0,
        active_streams: Callable[[], float] = lambda: 0.0,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.turns = Counter(
            "parlor_turns",
            "Turns settled, by how they ended; cause is the error class (and HTTP status).",
            ["platform", "status", "cause"],
            registry=registry,
        )
        self.first_token_seconds = Histogram(
            "parlor_first_token_seconds",
            "Seconds from a turn's start to the endpoint's first token (answer or reasoning).",
            ["platform"],
            buckets=REPLY_SECONDS_BUCKETS,
            registry=registry,
        )
        self.reply_seconds = Histogram(
            "parlor_reply_duration_seconds",
            "Seconds from a turn's start to its reply being settled.",
            ["platform"],
            buckets=REPLY_SECONDS_BUCKETS,
            registry=registry,
        )
        self.prompt_tokens = Counter(
            "parlor_prompt_tokens",
            "Tokens sent to the endpoint: its usage report, else our count of the prompt.",
            ["platform", "source"],
            registry=registry,
        )
        self.completion_tokens = Counter(
            "parlor_completion_tokens",
            "Tokens the endpoint generated: its usage report, else estimated from the text.",
            ["platform", "source"],
            registry=registry,
        )
        self.rate_limits = Counter(
            "parlor_platform_rate_limits",
            "Platform writes refused with retry_after (HTTP 429).",
            ["platform"],
            registry=registry,
        )
        self.write_retries = Counter(
            "parlor_platform_write_retries",
            "Platform writes tried again after a failure or a 429.",
            ["platform"],
            registry=registry,
        )
        self.endpoint_errors = Counter(
            "parlor_endpoint_errors",
            "Turns the model endpoint failed, by error class and HTTP status.",
            ["cause"],
            registry=registry,
        )
        Gauge(
            "parlor_queue_depth",
            "Turns waiting for a busy channel.",
            registry=registry,
        ).set_function(queue_depth)
        Gauge(
            "parlor_active_streams",
            "Replies streaming now.",
            registry=registry,
        ).set_function(active_streams)

    def turn_ended(self, report: TurnReport) -> None:
        platform = _label(report.platform)
        cause = _label(report.cause) if report.cause else NO_CAUSE
        self.turns.labels(platform, report.status.value, cause).inc()
        if report.duration_seconds is not None:
            self.reply_seconds.labels(platform).observe(report.duration_seconds)
        if report.first_token_seconds is not None:
            self.first_token_seconds.labels(platform).observe(report.first_token_seconds)
        if report.prompt_tokens is not None:
            tally = report.prompt_tokens
            self.prompt_tokens.labels(platform, tally.source.value).inc(tally.tokens)
        if report.completion_tokens is not None:
            tally = report.completion_tokens
            self.completion_tokens.labels(platform, tally.source.value).inc(tally.tokens)

    def endpoint_failed(self, cause: str) -> None:
        self.endpoint_errors.labels(_label(cause)).inc()

    def rate_limited(self, platform: str) -> None:
        self.rate_limits.labels(_label(platform)).inc()

    def write_retried(self, platform: str) -> None:
        self.write_retries.labels(_label(platform)).inc()

    def exposition(self, accept: str = "") -> tuple[bytes, str]:
        """The registry in the format the scraper's Accept header asks for (Prometheus text
        0.0.4 when it says nothing, OpenMetrics when asked), and that format's content type.
        The library negotiates: its formats and their versions are its business."""
        encode, content_type = choose_encoder(accept)
        return encode(self.registry), content_type


def _label(value: str) -> str:
    """A label value kept short and plain: our callers pass class names and platform names,
    and this holds even if one ever passes something else."""
    return _UNSAFE_LABEL.sub("_", value)[:MAX_LABEL_CHARS]
