"""Small builders for tests: a settable clock and the bot served in-process on a real port."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_bolt import App
from sqlalchemy import event

from bot.app import make_client
from bot.server import PartnerWSGI, run_until, serve_http
from bot.settings import Settings
from schedules.jobs import run_tick
from storage.store import Store

SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test-token"
TEAM_ID = "T0001"


@dataclass
class FakeClock:
    """The bot's `now`; tests move it instead of sleeping."""

    now: datetime = field(default_factory=lambda: datetime(2026, 11, 25, 15, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def __deepcopy__(self, memo: dict[int, Any]) -> FakeClock:
        return self  # lazy listeners get a copied context; they must still see the one clock

    def set(self, instant: datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("aware datetimes only")
        self.now = instant.astimezone(UTC)

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


class HeldTimer:
    """A Home-publisher timer that never fires by itself: tests publish pending refreshes with `flush()`."""

    def __init__(self, delay: float, fire: Callable[[], None]) -> None:
        self.delay, self.fire = delay, fire

    def start(self) -> None:
        pass

    def cancel(self) -> None:
        pass


class BotServer:
    """The real Bolt app behind the real WSGI server, on a random loopback port."""

    def __init__(self, app: App, store: Store, *, signing_secret: str = SIGNING_SECRET) -> None:
        self.app = app
        self.server: Any = serve_http(
            PartnerWSGI(app, store, signing_secret=signing_secret),
            host="127.0.0.1",
            port=0,
            threads=4,
            asyncore_loop_timeout=0.05,
        )
        self.url = f"http://127.0.0.1:{self.server.effective_port}"
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="bot-http", daemon=True)

    def _serve(self) -> None:
        run_until(self.server, self._stopping, step=0.05, grace=2.0)

    def start(self) -> BotServer:
        self._thread.start()
        return self

    def settle(self) -> None:
        """Waits for the follow-ups (lazy listeners) of the requests answered so far, e.g. a health recompute."""
        self.app.lazy_pool.wait_idle()

    def stop(self) -> None:
        """Stops serving and waits for the follow-ups already started: none may reach the fake Slack (shared by
        the whole session) during the next test and show up there as a post that test did not make."""
        self._stopping.set()
        self._thread.join(timeout=5)
        drain = getattr(self.app, "drain", None)
        if drain is not None:
            drain()


@contextmanager
def counting_statements(store: Store) -> Iterator[list[str]]:
    """The SQL statements the store's engine runs inside the block, in order."""
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(store.engine, "before_cursor_execute", count)


def ephemeral(response: Any) -> str:
    """The text of a request's answer only its sender sees (a command's or an interaction's ack)."""
    assert response.status == 200, response.text
    body = response.json()
    assert body.get("response_type", "ephemeral") == "ephemeral"
    return str(body["text"])


def tick(store: Store, settings: Settings, now: datetime) -> None:
    """One scheduler tick as of `now`: every job, the sender last; none may fail."""
    report = run_tick(store=store, client=make_client(settings), now=now, settings=settings)
    assert not report.failed, report.failed
