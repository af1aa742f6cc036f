"""The metrics: what each report counts, registries kept apart, labels kept bounded."""

from __future__ import annotations

from bot.core.domain import MessageStatus, TokenSource, TokenTally, TurnReport
from bot.core.ports import Telemetry
from bot.web.metrics import MAX_LABEL_CHARS, Metrics


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_metrics_implement_the_telemetry_port() -> None:
    """The service is handed a `Telemetry`; `Metrics` is one."""
    telemetry: Telemetry = Metrics()
    assert isinstance(telemetry, Metrics)


def test_a_turn_counts_once_with_its_times_and_tokens() -> None:
    """Status and cause label the turn; durations go to their histograms; tokens by source."""
    metrics = Metrics()
    metrics.turn_ended(
        TurnReport(
            "telegram",
            MessageStatus.COMPLETE,
            None,
            duration_seconds=4.0,
            first_token_seconds=0.7,
            prompt_tokens=TokenTally(100, TokenSource.ENDPOINT),
            completion_tokens=TokenTally(20, TokenSource.ESTIMATED),
        )
    )
    done = {"platform": "telegram", "status": "complete", "cause": "none"}
    assert value(metrics, "parlor_turns_total", **done) == 1.0
    duration = "parlor_reply_duration_seconds"
    assert value(metrics, f"{duration}_count", platform="telegram") == 1.0
    assert value(metrics, f"{duration}_bucket", platform="telegram", le="3.0") == 0
    assert value(metrics, f"{duration}_bucket", platform="telegram", le="5.0") == 1
    assert value(metrics, "parlor_first_token_seconds_sum", platform="telegram") == 0.7
    prompt = value(metrics, "parlor_prompt_tokens_total", platform="telegram", source="endpoint")
    completion = value(
        metrics, "parlor_completion_tokens_total", platform="telegram", source="estimated"
    )
    assert (prompt, completion) == (100.0, 20.0)


def test_a_turn_that_never_replied_adds_no_duration() -> None:
    """A failure before the reply began counts as a turn, not as a reply's duration."""
    metrics = Metrics()
    metrics.turn_ended(TurnReport("discord", MessageStatus.ERROR, "PromptTooLarge"))
    turns = value(
        metrics, "parlor_turns_total", platform="discord", status="error", cause="PromptTooLarge"
    )
    assert turns == 1.0
    assert value(metrics, "parlor_reply_duration_seconds_count", platform="discord") is None


def test_two_instances_never_share_counts() -> None:
    """Each Metrics owns its registry: a second one starts from zero, and neither collides."""
    first, second = Metrics(), Metrics()
    first.rate_limited("discord")
    first.write_retried("discord")
    first.endpoint_failed("EndpointRejected 401")
    assert value(first, "parlor_platform_rate_limits_total", platform="discord") == 1.0
    assert value(first, "parlor_platform_write_retries_total", platform="discord") == 1.0
    assert value(first, "parlor_endpoint_errors_total", cause="EndpointRejected 401") == 1.0
    assert value(second, "parlor_platform_rate_limits_total", platform="discord") is None


def test_gauges_are_read_when_scraped() -> None:
    """Queue depth and active streams come from the callables at each read."""
    depth = [3.0]
    metrics = Metrics(queue_depth=lambda: depth[0], active_streams=lambda: 2.0)
    assert value(metrics, "parlor_queue_depth") == 3.0
    depth[0] = 0.0
    assert value(metrics, "parlor_queue_depth") == 0.0
    assert value(metrics, "parlor_active_streams") == 2.0


def test_a_label_is_kept_short_and_plain_whatever_it_is_given() -> None:
    """Even a cause that is not a class name cannot smuggle long or odd text into a label."""
    metrics = Metrics()
    metrics.endpoint_failed('Weird\n"cause" {with} text ' + "x" * 200)
    body, _ = metrics.exposition()
    (line,) = [
        ln for ln in body.decode().splitlines() if ln.startswith("parlor_endpoint_errors_total{")
    ]
    cause = line.split('cause="', 1)[1].split('"', 1)[0]
    assert len(cause) == MAX_LABEL_CHARS
    assert cause.startswith("Weird__cause_ _with_ text x")


def test_exposition_is_prometheus_text() -> None:
    """The body and content type a Prometheus scraper expects."""
    body, content_type = Metrics().exposition()
    assert content_type.startswith("text/plain; version=0.0.4")
    assert b"# TYPE parlor_turns_total counter" in body
