"""Logging: one line per event, plain text or JSON (`LOG_FORMAT=json`), with the Slack request's team, surface and
a request id, and never a token or secret.

The request fields live in a context variable set around each Slack request (`request_context`); lazy listeners
keep them because Bolt runs them on `ContextThreadPool`, which hands each task a copy of the submitter's context.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from typing import IO, Any, TypeVar

T = TypeVar("T")

LOG_FORMATS = ("text", "json")
REDACTED = "[REDACTED]"
# Slack tokens: bot/user/app-config/refresh (xoxb-, xoxp-, xoxa-, xoxr-, xoxe.xoxp-…) and app-level (xapp-).
TOKEN_PATTERN = re.compile(r"xox(?:e\.xox)?[a-z]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+")
# The password in a database URL: scheme://user:password@host
URL_PASSWORD_PATTERN = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]+:)[^@\s]+(?=@)")

# Socket Mode's WebSocket URL (apps.connections.open; slack-sdk logs it at DEBUG): its ticket opens a connection that
# receives the app's envelopes. A response_url lets anyone post in the user's conversation for 30 minutes.
TICKET_PATTERN = re.compile(r"(?P<head>[?&]ticket=)[^&\s\"'\\]+")
RESPONSE_URL_PATTERN = re.compile(r"(?P<head>https://hooks\.slack\.com/)[^\s\"'\\]+")

_request: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar("partner_request", default=None)


@contextlib.contextmanager
def request_context(*, team: str | None, surface: str, request_id: str) -> Iterator[None]:
    """Every line logged inside (and in lazy listeners started inside) carries these fields."""
    token = _request.set({"team": team or "-", "surface": surface, "request_id": request_id})
    try:
        yield
    finally:
        _request.reset(token)


class Redactor:
    """Replaces Slack tokens, database passwords, Socket Mode tickets, response URLs and the given secrets (signing
    secret…) in text."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        # Short values would redact ordinary words; real secrets are long.
        self.secrets = sorted({s for s in secrets if s and len(s) >= 8}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        text = TOKEN_PATTERN.sub(REDACTED, text)
        text = TICKET_PATTERN.sub(lambda m: m.group("head") + REDACTED, text)
        text = RESPONSE_URL_PATTERN.sub(lambda m: m.group("head") + REDACTED, text)
        return URL_PASSWORD_PATTERN.sub(lambda m: m.group("head") + REDACTED, text)


class PartnerFilter(logging.Filter):
    """Adds the request fields and redacts secrets from the message and the traceback, before any formatter."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        fields = _request.get() or {}
        record.team = fields.get("team", "-")
        record.surface = fields.get("surface", "-")
        record.request_id = fields.get("request_id", "-")
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def _when(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TextFormatter(logging.Formatter):
    """`time level logger [team surface request] message`; a traceback stays on the same line (newlines as ⏎)."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{_when(record)} {record.levelname} {record.name}"
        if getattr(record, "request_id", "-") != "-":
            line += f" [team={record.team} surface={record.surface} request={record.request_id}]"
        line += f" {record.getMessage()}"
        if record.exc_text:
            line += f" | {record.exc_text}"
        return line.replace("\r\n", "\n").replace("\n", " ⏎ ")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, team, surface, request_id (+ exception)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _when(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "team": _dash_to_none(getattr(record, "team", "-")),
            "surface": _dash_to_none(getattr(record, "surface", "-")),
            "request_id": _dash_to_none(getattr(record, "request_id", "-")),
        }
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def _dash_to_none(value: str) -> str | None:
    return None if value == "-" else value


def configure(
    *, level: str = "INFO", fmt: str = "text", secrets: Iterable[str | None] = (), stream: IO[str] | None = None
) -> logging.Handler:
    """Replace the root logger's handlers with one that writes to `stream` (stderr) in `fmt`."""
    if fmt not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, got {fmt!r}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(PartnerFilter(Redactor(secrets)))
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Alembic ≥ 1.16 announces each of its autogenerate plugins at INFO on every start: noise to an operator.
    logging.getLogger("alembic.runtime.plugins").setLevel(max(logging.WARNING, root.level))
    return handler


class ContextThreadPool(ThreadPoolExecutor):
    """A thread pool whose tasks run in a copy of the submitting thread's context (request fields included)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pending: set[Future[Any]] = set()
        self._pending_lock = threading.Lock()

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future = super().submit(contextvars.copy_context().run, fn, *args, **kwargs)
        with self._pending_lock:
            self._pending.add(future)
        future.add_done_callback(self._forget)
        return future

    def _forget(self, future: Future[Any]) -> None:
        with self._pending_lock:
            self._pending.discard(future)

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Returns once every task submitted so far (and any task those submitted) has finished."""
        deadline = time.monotonic() + timeout
        while True:
            with self._pending_lock:
                pending = list(self._pending)
            if not pending:
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{len(pending)} follow-up(s) still running after {timeout} s")
            wait(pending, timeout=remaining)
