"""Prometheus metrics, served at `GET /metrics`: Slack requests, ack latency, Slack API errors, scheduler ticks, nudges.

Each app has its own `CollectorRegistry` (never the process-wide default), so several apps in one process — the
tests start one per test — never collide on metric names.

Code that sends nudges records outcomes with `nudge_outcome(kind, outcome)`; it counts into the metrics of the tick
that is running (`recording(metrics)`, set by the scheduler), and is a no-op outside one (e.g. a test calling a job
directly, or `partner-bot tick`, whose process exits right after).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from slack_bolt.request.payload_utils import is_action, is_event, is_options, is_shortcut, is_slash_command, is_view
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

if TYPE_CHECKING:
    from schedules.jobs import TickReport

SURFACES = ("command", "action", "view", "options", "event", "shortcut", "other")
REQUEST_OUTCOMES = ("ok", "user_error", "error", "rejected", "unhandled")
# The context key a listener sets when it answers a user's mistake itself (no UserError raised): the request still
# counts as a user_error, not as ok.
OUTCOME_KEY = "partner_outcome"
NUDGE_OUTCOMES = ("sent", "retried", "missed", "failed")
# Slack gives an app 3 seconds to acknowledge a request; the buckets are dense below that.
ACK_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 5.0, 10.0)
TICK_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class Metrics:
    """The app's metrics in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "partner_slack_requests",
            "Slack requests handled, by surface and outcome (ok, user_error, error, rejected, unhandled).",
            ["surface", "outcome"],
            registry=r,
        )
        self.ack_seconds = Histogram(
            "partner_ack_seconds",
            "Time from receiving a Slack request to acknowledging it (the HTTP response / Socket Mode ack).",
            ["surface"],
            buckets=ACK_BUCKETS,
            registry=r,
        )
        self.slack_api_errors = Counter(
            "partner_slack_api_errors",
            "Error answers from the Slack Web API by method and error code, retried attempts included.",
            ["method", "error"],
            registry=r,
        )
        self.tick_seconds = Histogram(
            "partner_scheduler_tick_seconds", "How long one scheduler tick took.", buckets=TICK_BUCKETS, registry=r
        )
        self.last_tick = Gauge(
            "partner_scheduler_last_tick_timestamp_seconds",
            "The instant the last tick ran as of (Unix time).",
            registry=r,
        )
        self.job_items = Counter(
            "partner_scheduler_job_items",
            "What each job did per tick (nudges sent, alerts raised…).",
            ["job"],
            registry=r,
        )
        self.job_failures = Counter(
            "partner_scheduler_job_failures", "Ticks in which a job raised.", ["job"], registry=r
        )
        self.nudges = Counter(
            "partner_nudges",
            "Nudges by kind and outcome (sent, retried, missed, failed).",
            ["kind", "outcome"],
            registry=r,
        )

    def __deepcopy__(self, memo: dict[int, Any]) -> Metrics:
        return self  # Bolt deep-copies the request (client and its retry handlers) for lazy listeners: share, not copy

    def render(self) -> tuple[bytes, str]:
        """The Prometheus text exposition and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def observe_request(self, *, surface: str, outcome: str, seconds: float) -> None:
        self.requests.labels(surface, outcome).inc()
        self.ack_seconds.labels(surface).observe(seconds)

    def observe_tick(self, report: TickReport, seconds: float) -> None:
        self.tick_seconds.observe(seconds)
        self.last_tick.set(report.now.timestamp())
        for job, count in report.done.items():
            self.job_items.labels(job).inc(count)
        for job in report.failed:
            self.job_failures.labels(job).inc()

    def nudge(self, kind: str, outcome: str) -> None:
        if outcome not in NUDGE_OUTCOMES:
            raise ValueError(f"nudge outcome must be one of {', '.join(NUDGE_OUTCOMES)}, got {outcome!r}")
        self.nudges.labels(kind, outcome).inc()


# ---------------------------------------------------------------------------------------------- requests


def surface_of(body: dict[str, Any]) -> str:
    """Which Slack surface a request body comes from: command, action, view, options, event or shortcut."""
    if is_slash_command(body):
        return "command"
    if is_action(body):
        return "action"
    if is_view(body):
        return "view"
    if is_options(body):
        return "options"
    if is_event(body):
        return "event"
    if is_shortcut(body):
        return "shortcut"
    return "other"


def outcome_of(status: int) -> str:
    if status < 400:
        return "ok"
    if status in (401, 403):
        return "rejected"  # bad or missing signature
    if status == 404:
        return "unhandled"  # no listener for it
    return "error"


# ---------------------------------------------------------------------------------------------- nudges

_recording: ContextVar[Metrics | None] = ContextVar("partner_metrics", default=None)


@contextlib.contextmanager
def recording(metrics: Metrics | None) -> Iterator[None]:
    """Within this block (same thread), `nudge_outcome` counts into `metrics`."""
    token = _recording.set(metrics)
    try:
        yield
    finally:
        _recording.reset(token)


def nudge_outcome(kind: str, outcome: str) -> None:
    """Count one nudge: `outcome` is "sent", "retried", "missed" or "failed"; `kind` is the nudge's kind."""
    if outcome not in NUDGE_OUTCOMES:
        raise ValueError(f"nudge outcome must be one of {', '.join(NUDGE_OUTCOMES)}, got {outcome!r}")
    metrics = _recording.get()
    if metrics is not None:
        metrics.nudge(kind, outcome)


# ---------------------------------------------------------------------------------------------- Slack API errors


class SlackApiErrorObserver(RetryHandler):
    """Counts Slack's error answers; never retries anything itself.

    Why a retry handler rather than a WebClient subclass: Bolt builds a plain `WebClient` for every request
    (`App._init_context`), copying only the base URL, timeouts, headers and the retry handlers list — a subclass
    would be lost in every listener, a retry handler travels along. The WebClient asks its handlers about every
    answer it gets (200 included, with the parsed body) and stops at the first one that retries, so this one
    must come first in `client.retry_handlers`.
    """

    def __init__(self, metrics: Metrics) -> None:
        super().__init__(max_retry_count=0)
        self.metrics = metrics

    def can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        code = _error_code(response, error)
        if code is not None:
            method = urlsplit(request.url).path.rstrip("/").rsplit("/", 1)[-1] or "unknown"
            self.metrics.slack_api_errors.labels(method, code).inc()
        return False

    def _can_retry(self, **kwargs: Any) -> bool:
        return False

    def __deepcopy__(self, memo: dict[int, Any]) -> SlackApiErrorObserver:
        return self  # lazy listeners' copied clients keep counting into the same metrics


def _error_code(response: HttpResponse | None, error: Exception | None) -> str | None:
    if response is None:
        return "connection_error" if error is not None else None
    body = response.body
    if body is None and response.data:
        with contextlib.suppress(ValueError, UnicodeDecodeError):
            body = json.loads(response.data.decode("utf-8"))
    if isinstance(body, dict) and body.get("ok") is False:
        return str(body.get("error") or "unknown_error")
    if response.status_code == 429:
        return "ratelimited"
    if response.status_code >= 400:
        return f"http_{response.status_code}"
    return None


def observe_slack_api(client: Any, metrics: Metrics) -> None:
    """Put the observer first in the client's retry handlers (once)."""
    handlers = client.retry_handlers
    handlers[:] = [h for h in handlers if not isinstance(h, SlackApiErrorObserver)]
    handlers.insert(0, SlackApiErrorObserver(metrics))
