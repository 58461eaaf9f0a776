"""Operations: /metrics, logs without secrets, and a database that is down at start or goes away while serving.

Every test runs on SQLite and PostgreSQL (`database_url`). A database outage is a TCP proxy in front of the test
PostgreSQL server that is closed and reopened, or, for SQLite, the database file's directory moved away and back.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import queue
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from prometheus_client.parser import text_string_to_metric_families
from slack_sdk.errors import SlackApiError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from bot import logs
from bot.app import create_app
from bot.metrics import Metrics, nudge_outcome, recording
from bot.scheduler import TICK_JOB_ID, build_scheduler, observed_tick
from bot.settings import Settings
from schedules import jobs
from storage.db import current_revision, head_revision, make_engine, row_id, upgrade, upgrade_when_reachable
from storage.schema_check import SchemaNotAsRecorded
from storage.store import Store
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import BOT_TOKEN, SIGNING_SECRET, TEAM_ID, BotServer, FakeClock

PARTNER_BOT = [sys.executable, "-m", "bot.cli"]


# ---------------------------------------------------------------------------------------------- helpers


def get(url: str) -> tuple[int, str, dict[str, str]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode(), dict(response.headers.items())
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), dict(e.headers.items())


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text exposition, keyed by (name, sorted labels)."""
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(fake_slack: FakeSlack, database_url: str, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PARTNER_", "DATABASE_URL", "LOG_"))}
    return {
        **base,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake_slack.api_url,
        "DATABASE_URL": database_url,
        **extra,
    }


class Served:
    """`partner-bot serve --http` as a real process; its stderr is collected line by line as it comes."""

    def __init__(self, env: dict[str, str], cwd: Path, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [*PARTNER_BOT, "serve", "--http", "--port", str(self.port), "--host", "127.0.0.1", *args],
            env=env,
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._new: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))
            self._new.put(line)
        self._new.put(None)

    def wait_for_line(self, fragment: str, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        for line in list(self.lines):
            if fragment in line:
                return line
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self._new.get(timeout=remaining)
            except queue.Empty:
                break
            if line is None:
                break
            if fragment in line:
                return line
        raise AssertionError(f"no log line with {fragment!r}; got:\n" + "\n".join(self.lines))

    def health(self) -> int:
        try:
            return get(self.url + "/healthz")[0]
        except (urllib.error.URLError, ConnectionError):
            return 0

    def wait_healthy(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError("partner-bot exited early:\n" + "\n".join(self.lines))
            if self.health() == 200:
                return
            time.sleep(0.1)
        raise AssertionError("partner-bot did not become healthy:\n" + "\n".join(self.lines))

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait(timeout=10)
        self._reader.join(timeout=5)
        return code


# ---------------------------------------------------------------------------------------------- outages


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a PostgreSQL server; `down()` refuses and cuts connections, `up()` reopens."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with _quiet():
                listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() (a bare close() leaves it listening)
            listener.close()
        with self._lock:
            for s in self._sockets:
                with _quiet():
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            self._sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed by down()
            try:
                server = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                self._sockets.update((client, server))
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with _quiet():
            while data := source.recv(65536):
                sink.sendall(data)
        for s in (source, sink):
            with _quiet():
                s.shutdown(socket.SHUT_RDWR)


def _quiet() -> contextlib.suppress:
    return contextlib.suppress(OSError)


class Outage:
    """The test's database behind a switch: `url` reaches it only while it is up."""

    def __init__(self, database_url: str, tmp_path: Path) -> None:
        self.proxy: TcpProxy | None = None
        url = make_url(database_url)
        if url.get_backend_name() == "sqlite":
            self.folder = tmp_path / "db"
            self.parked = tmp_path / "db-away"
            self.url = f"sqlite:///{self.folder}/partner.db"
        else:
            self.proxy = TcpProxy(int(url.port or 5432))
            self.url = url.set(port=self.proxy.port).render_as_string(hide_password=False)

    def up(self) -> None:
        if self.proxy is not None:
            self.proxy.up()
        elif self.parked.exists():
            self.parked.rename(self.folder)
        else:
            self.folder.mkdir(exist_ok=True)

    def down(self) -> None:
        if self.proxy is not None:
            self.proxy.down()
        elif self.folder.exists():
            self.folder.rename(self.parked)  # SQLite cannot open a file whose directory is gone


@pytest.fixture
def outage(database_url: str, tmp_path: Path) -> Iterator[Outage]:
    switch = Outage(database_url, tmp_path)
    yield switch
    switch.down()


# ---------------------------------------------------------------------------------------------- both databases


def test_instants_come_back_as_the_same_aware_utc_whatever_the_session_time_zone(
    database_url: str, store: Store, clock: FakeClock
) -> None:
    options = {"connect_args": {"options": "-c timezone=America/New_York"}} if "postgresql" in database_url else {}
    engine = make_engine(database_url, **options)
    other = Store(engine)
    instant = datetime(2026, 3, 8, 6, 30, tzinfo=ZoneInfo("America/New_York"))  # the morning DST starts
    other.add_customer(team_id=TEAM_ID, name="Acme", created_by="U0001", now=instant)
    other.ensure_workspace(team_id=TEAM_ID, now=instant)
    (customer,) = store.customers(team_id=TEAM_ID)
    assert customer.created_at == instant and customer.created_at.tzinfo == UTC
    (again,) = other.customers(team_id=TEAM_ID)
    assert again.created_at.utcoffset() == timedelta(0)
    engine.dispose()


def test_row_ids_from_payloads_stay_within_what_postgres_accepts(store: Store) -> None:
    assert row_id("2147483647") == 2147483647
    assert [row_id(v) for v in ("2147483648", "-1", "0", "1e3", "٣", None, "")] == [None] * 7
    assert store.customer(team_id=TEAM_ID, customer_id=2147483647) is None  # a clean miss on both databases


# ---------------------------------------------------------------------------------------------- /metrics


def test_metrics_count_requests_by_surface_and_outcome_with_ack_latency(
    bot: BotServer, slack: SlackRequests, fake_slack: FakeSlack
) -> None:
    assert slack.command("help").status == 200
    assert "Unknown time zone" in slack.command("add Acme tz=Mars/Base").json()["text"]
    forged = SlackRequests(bot.url, signing_secret="not-the-secret", team_id=TEAM_ID, fake=fake_slack)
    assert forged.command("help").status == 401
    assert slack.event({"type": "app_home_opened", "user": "U0001", "channel": "D0001", "tab": "home"}).status == 200

    status, text, headers = get(bot.url + "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    assert value(text, "partner_slack_requests_total", surface="command", outcome="ok") == 1
    assert value(text, "partner_slack_requests_total", surface="command", outcome="user_error") == 1
    assert value(text, "partner_slack_requests_total", surface="command", outcome="rejected") == 1
    assert value(text, "partner_slack_requests_total", surface="event", outcome="ok") == 1
    assert value(text, "partner_ack_seconds_count", surface="command") == 3
    assert value(text, "partner_ack_seconds_count", surface="event") == 1
    # Every ack took under Slack's 3 s limit, and the histogram's buckets are cumulative.
    assert value(text, "partner_ack_seconds_bucket", surface="command", le="3.0") == 3


def test_a_mistyped_subcommand_counts_as_a_user_error_not_ok(bot: BotServer, slack: SlackRequests) -> None:
    # Partner answers '/partner chekin …' with the help and a suggestion (200, no error raised): still a user's
    # mistake, which an operator watching user_error must see.
    assert "Did you mean `/partner checkin`?" in slack.command("chekin acme green").json()["text"]
    assert "/partner" in slack.command("").json()["text"]  # the help asked for: ok

    _, text, _ = get(bot.url + "/metrics")
    assert value(text, "partner_slack_requests_total", surface="command", outcome="user_error") == 1
    assert value(text, "partner_slack_requests_total", surface="command", outcome="ok") == 1


def test_slack_api_errors_are_counted_by_method_and_code_from_listeners_too(
    bot: BotServer, slack: SlackRequests, fake_slack: FakeSlack
) -> None:
    # A listener's client is Bolt's per-request copy: the count must reach the app's metrics through it.
    assert slack.command("add Acme <@U0404|ghost>").status == 200
    fake_slack.fail_next("conversations.info", error="channel_not_found")
    with pytest.raises(SlackApiError):
        bot.app.client.conversations_info(channel="C0001")

    text = get(bot.url + "/metrics")[1]
    assert value(text, "partner_slack_api_errors_total", method="users.info", error="user_not_found") == 1
    assert value(text, "partner_slack_api_errors_total", method="conversations.info", error="channel_not_found") == 1
    assert value(text, "partner_slack_api_errors_total", method="users.info", error="ratelimited") == 0


def test_a_tick_reports_its_duration_job_counts_failures_and_nudges(
    bot: BotServer, store: Store, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    def reminders(**_: Any) -> int:
        nudge_outcome("checkin_due", "sent")
        nudge_outcome("checkin_due", "sent")
        nudge_outcome("checkin_due", "retried")
        return 2

    def broken(**_: Any) -> int:
        raise RuntimeError("boom")

    monkeypatch.setattr(jobs, "JOBS", {"reminders": reminders, "broken": broken})
    metrics = bot.app.metrics
    # The scheduler's own job, called as APScheduler would (the scheduler is not started).
    build_scheduler(store=store, client=bot.app.client, clock=clock, metrics=metrics).get_job(TICK_JOB_ID).func()
    report = observed_tick(store=store, client=bot.app.client, now=clock(), metrics=metrics)
    assert report.done == {"reminders": 2} and "broken" in report.failed

    text = get(bot.url + "/metrics")[1]
    assert value(text, "partner_scheduler_tick_seconds_count") == 2
    assert value(text, "partner_scheduler_job_items_total", job="reminders") == 4
    assert value(text, "partner_scheduler_job_failures_total", job="broken") == 2
    assert value(text, "partner_scheduler_last_tick_timestamp_seconds") == clock().timestamp()
    assert value(text, "partner_nudges_total", kind="checkin_due", outcome="sent") == 4
    assert value(text, "partner_nudges_total", kind="checkin_due", outcome="retried") == 2


def test_nudge_outcomes_count_only_inside_a_tick_and_reject_unknown_outcomes() -> None:
    metrics = Metrics()
    nudge_outcome("checkin_due", "sent")  # no tick running: nowhere to count, and no error
    with recording(metrics):
        nudge_outcome("checkin_due", "missed")
        with pytest.raises(ValueError, match="sent, retried, missed, failed"):
            nudge_outcome("checkin_due", "delivered")
    text = metrics.render()[0].decode()
    assert value(text, "partner_nudges_total", kind="checkin_due", outcome="missed") == 1
    assert value(text, "partner_nudges_total", kind="checkin_due", outcome="sent") == 0


def test_each_app_has_its_own_registry(settings: Settings, store: Store, clock: FakeClock) -> None:
    first = create_app(settings=settings, store=store, clock=clock)
    second = create_app(settings=settings, store=store, clock=clock)
    first.metrics.observe_request(surface="command", outcome="ok", seconds=0.01)
    assert value(first.metrics.render()[0].decode(), "partner_slack_requests_total", surface="command", outcome="ok")
    text = second.metrics.render()[0].decode()
    assert not value(text, "partner_slack_requests_total", surface="command", outcome="ok")


# ---------------------------------------------------------------------------------------------- logs


def test_log_lines_redact_tokens_secrets_and_database_passwords() -> None:
    stream = io.StringIO()
    handler = logs.configure(level="DEBUG", fmt="json", secrets=[SIGNING_SECRET, BOT_TOKEN], stream=stream)
    try:
        log = logging.getLogger("partner.test")
        log.info("token %s secret %s", "xoxb-123-456-abcDEF", SIGNING_SECRET)
        log.info("app token xapp-1-A0001-1-fake, refresh xoxe.xoxp-1-abc, db postgresql://u:hunter2@db/p")
        try:
            raise RuntimeError(f"failed with {BOT_TOKEN}\nsecond line")
        except RuntimeError:
            log.exception("with a traceback")
        with logs.request_context(team="T0001", surface="command", request_id="r1"):
            log.warning("inside a request")
    finally:
        logging.getLogger().removeHandler(handler)
    output = stream.getvalue()
    for secret in ("xoxb-123", SIGNING_SECRET, BOT_TOKEN, "xapp-1", "xoxe.xoxp", "hunter2"):
        assert secret not in output
    lines = [json.loads(line) for line in output.splitlines()]
    assert len(lines) == 4  # one line per event, the traceback included
    assert lines[0]["message"] == "token [REDACTED] secret [REDACTED]"
    assert "postgresql://u:[REDACTED]@db/p" in lines[1]["message"]
    assert "RuntimeError" in lines[2]["exception"] and lines[2]["team"] is None
    assert {k: lines[3][k] for k in ("level", "logger", "team", "surface", "request_id")} == {
        "level": "WARNING",
        "logger": "partner.test",
        "team": "T0001",
        "surface": "command",
        "request_id": "r1",
    }


def test_text_logs_are_one_line_per_event_too() -> None:
    stream = io.StringIO()
    handler = logs.configure(level="INFO", fmt="text", secrets=[SIGNING_SECRET], stream=stream)
    try:
        try:
            raise ValueError("multi\nline")
        except ValueError:
            logging.getLogger("partner.test").exception("failed for %s", SIGNING_SECRET)
    finally:
        logging.getLogger().removeHandler(handler)
    (line,) = stream.getvalue().splitlines()
    assert "ERROR partner.test failed for [REDACTED] | Traceback" in line and "ValueError: multi ⏎ line" in line


def test_a_debug_run_logs_json_lines_with_request_fields_and_never_a_secret(
    fake_slack: FakeSlack, database_url: str, tmp_path: Path
) -> None:
    env = clean_env(fake_slack, database_url, LOG_LEVEL="DEBUG", LOG_FORMAT="json")
    served = Served(env, tmp_path)
    try:
        served.wait_healthy()
        slack = SlackRequests(served.url, signing_secret=SIGNING_SECRET, team_id=TEAM_ID, fake=fake_slack)
        assert "Added *Acme*" in slack.command("add Acme <#C0ACME|acme>").json()["text"]
        assert slack.command("checkin acme green kickoff went well").status == 200
        assert slack.command("checkin nobody green hi").status == 200
        assert slack.event({"type": "app_home_opened", "user": "U0001", "channel": "D1", "tab": "home"}).status == 200
        forged = SlackRequests(served.url, signing_secret="wrong-secret", team_id=TEAM_ID, fake=fake_slack)
        assert forged.command("help").status == 401
        assert get(served.url + "/metrics")[0] == 200
    finally:
        assert served.stop() == 0, "\n".join(served.lines[-30:])
    output = "\n".join(served.lines)
    assert BOT_TOKEN not in output and SIGNING_SECRET not in output
    entries = [json.loads(line) for line in served.lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message", "team", "surface", "request_id"} <= e.keys() for e in entries)
    assert any(e["level"] == "DEBUG" for e in entries)
    handled = [e for e in entries if e["logger"] == "partner.requests"]
    assert [(e["surface"], e["team"]) for e in handled][:3] == [("command", TEAM_ID)] * 3
    assert len({e["request_id"] for e in handled}) == len(handled) == 5
    assert "received SIGTERM, shutting down" in output


def test_sigterm_lets_a_request_in_flight_finish_then_exits_cleanly(
    fake_slack: FakeSlack, database_url: str, tmp_path: Path
) -> None:
    served = Served(clean_env(fake_slack, database_url), tmp_path)
    try:
        served.wait_healthy()
        slack = SlackRequests(served.url, signing_secret=SIGNING_SECRET, team_id=TEAM_ID, fake=fake_slack)
        fake_slack.add_user("U0OWNER", name="olivia", tz="Europe/Paris")
        assert slack.command("help").status == 200  # Dana found a full member (kept): the next ask is the owner's
        fake_slack.fail_next("users.info", delay=1.5)  # the owner's time zone is looked up before the reply
        replies: list[Any] = []
        sender = threading.Thread(target=lambda: replies.append(slack.command("add Acme <@U0OWNER|owner>")))
        sender.start()
        fake_slack.wait_for("users.info", count=2, timeout=20)
        for _ in range(3):  # an impatient operator: repeated signals while a reply is pending change nothing
            served.process.send_signal(signal.SIGTERM)
        sender.join(timeout=20)
        assert served.process.wait(timeout=40) == 0, "\n".join(served.lines[-30:])
    finally:
        served.stop()
    assert replies and replies[0].status == 200 and "Added *Acme*" in replies[0].json()["text"]
    store = Store(make_engine(database_url))
    try:
        assert [c.name for c in store.customers(team_id=TEAM_ID)] == ["Acme"]
    finally:
        store.engine.dispose()


# ---------------------------------------------------------------------------------------------- database outages


def test_healthz_is_503_while_the_database_is_down_and_200_when_it_is_back(
    outage: Outage, settings: Settings, clock: FakeClock
) -> None:
    outage.up()
    engine = make_engine(outage.url)
    upgrade(engine)
    store = Store(engine)
    server = BotServer(create_app(settings=settings, store=store, clock=clock), store).start()
    try:
        assert get(server.url + "/healthz")[:2] == (200, '{"status": "ok", "database": "ok"}')
        outage.down()
        assert get(server.url + "/healthz")[:2] == (503, '{"status": "unavailable", "database": "down"}')
        assert get(server.url + "/metrics")[0] == 200  # metrics do not need the database
        outage.up()
        assert get(server.url + "/healthz")[0] == 200
    finally:
        server.stop()
        engine.dispose()


@pytest.mark.parametrize("scratch_database", ["postgres"], indirect=True)  # a server that goes away mid-run
def test_a_request_while_the_database_is_down_is_told_to_try_again_and_keeps_what_was_typed(
    outage: Outage, settings: Settings, clock: FakeClock, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    from handlers.ids import CHECKIN_MODAL
    from tests.e2e.test_foundation import modal_values

    outage.up()
    engine = make_engine(outage.url)
    upgrade(engine)
    store = Store(engine)
    server = BotServer(create_app(settings=settings, store=store, clock=clock), store).start()
    slack = SlackRequests(server.url, signing_secret=SIGNING_SECRET, team_id=TEAM_ID, fake=fake_slack)
    down = "Partner's database didn't answer just now, so I couldn't do that. Please try again in a minute."
    try:
        assert "Added *Acme*" in slack.command("add Acme").json()["text"]
        (acme,) = store.customers(team_id=TEAM_ID)
        slack.command("checkin")  # the form, opened while the database is up
        (form,) = fake_slack.calls_to("views.open")
        outage.down()
        with caplog.at_level(logging.ERROR, logger="partner.errors"):
            answer = slack.command("checkin acme green pilot kicked off").json()
        assert answer["text"] == f"{down}\nYou typed: `/partner checkin acme green pilot kicked off`"
        values = modal_values(acme.id, "green", "pilot kicked off")
        blocks = {"blocks": form.params["view"]["blocks"]}
        submitted = slack.view_submission(CHECKIN_MODAL, values, view_fields=blocks).json()
        assert submitted["response_action"] == "errors"
        assert list(submitted["errors"].values()) == [f"{down} Your answers are still here."]
        # One line for the operator, not a traceback per request.
        logged = [r for r in caplog.records if r.name == "partner.errors"]
        assert len(logged) == 2 and not any(r.exc_info for r in logged)
        assert logged[0].getMessage().startswith(f"database unavailable (team={TEAM_ID}): OperationalError: ")
        outage.up()
        assert "Logged a green check-in" in slack.command("checkin acme green pilot kicked off").json()["text"]
        assert len(store.checkins(team_id=TEAM_ID)) == 1
    finally:
        server.stop()
        engine.dispose()


def test_serve_waits_for_a_database_that_comes_up_late(outage: Outage, fake_slack: FakeSlack, tmp_path: Path) -> None:
    served = Served(clean_env(fake_slack, outage.url), tmp_path, "--db-wait", "60")
    try:
        line = served.wait_for_line("database unavailable")
        assert "retrying in 1 s (attempt 1, giving up after 60 s)" in line
        assert outage.proxy is not None or f"the folder {tmp_path / 'db'} does not exist" in line
        assert served.process.poll() is None  # still waiting, not crashed
        # The port is up and says "not ready": an orchestrator's probe gets 503, not a refused connection.
        assert get(served.url + "/healthz")[:2] == (503, '{"status": "starting", "database": "down"}')
        slack = SlackRequests(served.url, signing_secret=SIGNING_SECRET, team_id=TEAM_ID, fake=fake_slack)
        assert slack.command("add Early").status == 503  # nothing to store it in yet: Slack is told so
        outage.up()
        served.wait_healthy()
        served.wait_for_line("database reachable after")
        assert get(served.url + "/healthz")[:2] == (200, '{"status": "ok", "database": "ok"}')
        assert "Added *Acme*" in slack.command("add Acme").json()["text"]
    finally:
        assert served.stop() == 0, "\n".join(served.lines[-30:])


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serve_stopped_while_it_waits_for_the_database_says_so_in_one_line(
    outage: Outage, fake_slack: FakeSlack, tmp_path: Path, signum: signal.Signals
) -> None:
    """An orchestrator giving up on a database that stays down (SIGTERM), or an operator's Ctrl-C."""
    served = Served(clean_env(fake_slack, outage.url), tmp_path, "--db-wait", "60")
    served.wait_for_line("database unavailable")
    served.process.send_signal(signum)
    assert served.process.wait(timeout=15) == 0
    served._reader.join(timeout=5)
    assert served.lines[-1] == f"partner-bot: stopped by {signum.name} before serving"
    assert not any("Traceback" in line for line in served.lines)
    with pytest.raises(OSError):  # the port it listened on for /healthz is let go
        get(served.url + "/healthz")


@pytest.mark.parametrize("scratch_database", ["postgres"], indirect=True)
def test_serve_on_a_database_its_role_may_not_create_tables_in_says_so_at_once(
    database_url: str, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    """README: "create a database and a role that owns it". A role that does not own it (PostgreSQL 15 and later
    let no one else create tables in `public`) reaches the database: waiting for it would never help."""
    role = f"partner_{os.getpid()}_{int(time.time() * 1000) % 100000}"
    owner = make_engine(database_url)
    with owner.connect() as connection:
        connection.exec_driver_sql(f"CREATE ROLE {role} LOGIN")
        connection.exec_driver_sql("REVOKE CREATE ON SCHEMA public FROM PUBLIC")  # PostgreSQL 15's default
        connection.commit()
    started = time.monotonic()
    result = subprocess.run(
        [*PARTNER_BOT, "serve", "--http", "--port", str(free_port()), "--db-wait", "60"],
        env=clean_env(fake_slack, database_url.replace("://postgres@", f"://{role}@")),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert time.monotonic() - started < 30  # not the 60 s of --db-wait
    assert result.returncode == 3 and "database unavailable" not in result.stderr and "Traceback" not in result.stderr
    (message,) = [line for line in result.stderr.splitlines() if line.startswith("partner-bot:")]
    assert message.startswith("partner-bot: the database at DATABASE_URL refused Partner's schema upgrade: ")
    assert "permission denied for schema public" in message
    assert message.endswith(
        "; the role in DATABASE_URL must own the database (PostgreSQL 15 and later let only the owner create "
        "tables in its public schema)"
    )
    with owner.connect() as connection:
        connection.exec_driver_sql(f"DROP ROLE {role}")
        connection.commit()
    owner.dispose()


@pytest.mark.parametrize("scratch_database", ["postgres"], indirect=True)
@pytest.mark.parametrize(
    ("wrong", "fix"),
    [
        ("password", "the user or password"),
        ("user", "the user"),
        ("database", "the database name (or create that database)"),
    ],
)
def test_a_login_the_database_server_refuses_is_named_at_once_not_waited_for(
    wrong: str, fix: str, database_url: str, postgres_server: Any, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    """A wrong password, user or database name is no outage: `serve` waited out --db-wait (60 s) on it, logging
    "database unavailable" every 5 s, and then only said it could not reach the database."""
    role, password = f"partner_{os.getpid()}_{int(time.time() * 1000) % 100000}", "Wr0ng-Passw0rd-4711"
    url = make_url(database_url)
    owner = make_engine(database_url)
    hba = postgres_server.data / "pg_hba.conf"
    rules = hba.read_text()
    if wrong == "password":  # the suite's server trusts every login: this role must give its password
        with owner.connect() as connection:
            connection.exec_driver_sql(f"CREATE ROLE {role} LOGIN PASSWORD 'the-right-one-1234'")
            connection.commit()
        hba.write_text(f"host all {role} 127.0.0.1/32 scram-sha-256\n{rules}")
        with owner.connect() as connection:
            connection.exec_driver_sql("SELECT pg_reload_conf()")
        url = url.set(username=role, password=password)
    elif wrong == "user":
        url = url.set(username=role)
    else:
        url = url.set(database=f"{url.database}_typo")
    env = clean_env(fake_slack, url.render_as_string(hide_password=False))
    try:
        started = time.monotonic()
        result = subprocess.run(
            [*PARTNER_BOT, "serve", "--http", "--port", str(free_port()), "--db-wait", "60"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert time.monotonic() - started < 30  # not the 60 s of --db-wait
        assert result.returncode == 3 and "database unavailable" not in result.stderr, result.stderr
        (message,) = [line for line in result.stderr.splitlines() if line.startswith("partner-bot:")]
        assert message.startswith("partner-bot: the database server refused DATABASE_URL's login: OperationalError: ")
        assert message.endswith(f"; fix {fix} in DATABASE_URL")
        doctor = subprocess.run([*PARTNER_BOT, "doctor"], env=env, cwd=tmp_path, capture_output=True, text=True)
        assert doctor.returncode == 1
        assert f"fix: Fix {fix} in DATABASE_URL: the server is up and refused it." in doctor.stdout
        assert password not in result.stderr + doctor.stdout + doctor.stderr
    finally:
        if wrong == "password":
            hba.write_text(rules)
            with owner.connect() as connection:
                connection.exec_driver_sql("SELECT pg_reload_conf()")
                connection.exec_driver_sql(f"DROP ROLE {role}")
                connection.commit()
        owner.dispose()


def _one_customer(engine: Any) -> None:
    """A workspace, a customer and its check-in, in the columns every revision has (0001's)."""
    now = datetime(2026, 1, 5, tzinfo=UTC)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO workspace (team_id, created_at) VALUES ('T1', ?)", (now,))
        conn.exec_driver_sql(
            "INSERT INTO customer (team_id, name, name_key, created_at, updated_at)"
            " VALUES ('T1', 'Acme', 'acme', ?, ?)",
            (now, now),
        )
        conn.exec_driver_sql(
            "INSERT INTO checkin (team_id, customer_id, author_id, mood, note, kind, created_at)"
            " SELECT 'T1', id, 'U1', 'green', 'kickoff', 'call', ? FROM customer",
            (now,),
        )


@pytest.mark.parametrize("scratch_database", ["sqlite"], indirect=True)
def test_a_sqlite_file_with_partners_tables_and_no_migration_record_is_recorded_and_upgraded(
    database_url: str,
) -> None:
    """A file an old Partner made with create_all (or whose first upgrade was killed): its tables, no alembic_version
    row. Every start failed on "table customer already exists", reported as a database out of reach and retried."""
    engine = make_engine(database_url)
    upgrade(engine, "0004_slack_installations")
    _one_customer(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE alembic_version")
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    (customer,) = Store(engine).customers(team_id="T1")
    assert [c.note for c in Store(engine).checkins(team_id="T1", customer_id=customer.id or 0)] == ["kickoff"]
    # Tables that are three migrations' alike (0008 and 0009 rewrote data): which ran is unknown, nothing is guessed.
    ambiguous = make_engine(database_url.replace("partner.db", "ambiguous.db"))
    upgrade(ambiguous, "0009_name_key_apostrophes")
    with ambiguous.begin() as conn:
        conn.exec_driver_sql("DROP TABLE alembic_version")
    with pytest.raises(
        SchemaNotAsRecorded,
        match="those of migrations 0007_customer_event_kind_index, 0008_checkin_next_step_escaped, 0009_name_key_a",
    ):
        upgrade(ambiguous)
    assert current_revision(ambiguous) is None
    engine.dispose()
    ambiguous.dispose()


@pytest.mark.parametrize("scratch_database", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("left", "difference"),
    [
        ("column", "customer.channel_shared should not exist yet (they are 0011_customer_channel_shared's)"),
        ("copy", "table customer is missing"),
    ],
)
def test_a_sqlite_file_whose_upgrade_stopped_half_way_is_named_at_once_and_left_as_it_is(
    left: str, difference: str, database_url: str, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    """An older Partner killed during an upgrade (pysqlite committed each DDL statement on its own): 0011's column
    added but 0010 still recorded, or a batch migration's copy of `customer` left in place of the table. `serve`
    retried it for --db-wait as a database out of reach ("duplicate column name"), or migrated around the copy."""
    engine = make_engine(database_url)
    upgrade(engine, "0010_once_only_unique_keys")
    _one_customer(engine)
    engine.dispose()
    raw = sqlite3.connect(make_url(database_url).database or "")  # the old Partner's statements, foreign keys off
    if left == "column":
        raw.execute("ALTER TABLE customer ADD COLUMN channel_shared BOOLEAN NOT NULL DEFAULT 0")
    else:
        raw.execute("CREATE TABLE _alembic_tmp_customer AS SELECT * FROM customer")
        raw.execute("DROP TABLE customer")
    raw.commit()
    started = time.monotonic()
    env = clean_env(fake_slack, database_url)
    result = subprocess.run(
        [*PARTNER_BOT, "serve", "--http", "--port", str(free_port()), "--db-wait", "60"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert time.monotonic() - started < 30  # not the 60 s of --db-wait
    assert result.returncode == 3 and "database unavailable" not in result.stderr, result.stderr
    (message,) = [line for line in result.stderr.splitlines() if line.startswith("partner-bot:")]
    assert message.startswith(
        "partner-bot: the database at DATABASE_URL records migration 0010_once_only_unique_keys, but its tables are "
        f"not that migration's: {difference}"
    )
    assert message.endswith(
        "Partner changed nothing: restore the backup taken before that upgrade and run `partner-bot db upgrade` again"
        " (migrating these tables could fail half way or lose data)."
    )
    doctor = subprocess.run([*PARTNER_BOT, "doctor"], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert doctor.returncode == 1 and difference in doctor.stdout
    assert "fix: Restore the backup taken before that upgrade" in doctor.stdout
    # Left exactly as it was: still 0010, the customer where the old Partner left it.
    table = "customer" if left == "column" else "_alembic_tmp_customer"
    assert raw.execute("SELECT version_num FROM alembic_version").fetchall() == [("0010_once_only_unique_keys",)]
    assert raw.execute(f"SELECT name FROM {table}").fetchall() == [("Acme",)]
    raw.close()


def test_serve_gives_up_with_a_clear_message_when_the_database_stays_down(
    outage: Outage, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    result = subprocess.run(
        [*PARTNER_BOT, "serve", "--http", "--port", str(free_port()), "--db-wait", "0"],
        env=clean_env(fake_slack, outage.url),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 3
    (message,) = [line for line in result.stderr.splitlines() if line.startswith("partner-bot:")]
    assert "cannot reach the database at DATABASE_URL: OperationalError: " in message
    assert not result.stderr.rstrip().endswith(")")  # SQLAlchemy's "(Background on this error at: …)" is left out
    if outage.proxy is None:  # SQLite says only "unable to open database file": the missing folder is named
        assert message.endswith(f"; the folder {tmp_path / 'db'} does not exist: create it, or fix DATABASE_URL")


def imported_modules(stderr_lines: list[str]) -> set[str]:
    """The modules a process imported, from its `PYTHONPROFILEIMPORTTIME=1` report (`import time: … | name`)."""
    return {line.rsplit("|", 1)[1].strip() for line in stderr_lines if line.startswith("import time:")}


# Alembic (≈ 11 MiB resident) and slack-sdk's SQLAlchemy OAuth stores: needed only to migrate / in OAuth mode;
# PyYAML for OAuth's manifest scopes; the holiday tables (≈ 3.6 MiB) once a customer has a holiday calendar;
# matplotlib once a digest draws its chart; Socket Mode's client when serving HTTP.
NOT_AT_HEAD_IN_TOKEN_MODE = (
    "alembic",
    "slack_sdk.oauth.installation_store.sqlalchemy",
    "sqlalchemy.ext.asyncio",
    "yaml",
    "holidays",
    "matplotlib",
    "slack_sdk.socket_mode",
)


def test_serve_on_a_database_at_head_loads_only_what_token_mode_uses(
    database_url: str, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    engine.dispose()
    served = Served(clean_env(fake_slack, database_url, PYTHONPROFILEIMPORTTIME="1"), tmp_path)
    try:
        served.wait_healthy()
        slack = SlackRequests(served.url, signing_secret=SIGNING_SECRET, team_id=TEAM_ID, fake=fake_slack)
        assert "Added *Acme*" in slack.command("add Acme").json()["text"]
    finally:
        assert served.stop() == 0, "\n".join(served.lines[-30:])
    modules = imported_modules(served.lines)
    assert "bot.app" in modules and "storage.db" in modules  # the import report is there
    assert [name for name in NOT_AT_HEAD_IN_TOKEN_MODE if name in modules] == []
    if database_url.startswith("sqlite"):  # SQLAlchemy's PostgreSQL dialect: ≈ 3 MiB that SQLite never uses
        assert "sqlalchemy.dialects.postgresql" not in modules


def test_serve_still_upgrades_a_database_behind_head_on_start(
    database_url: str, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    engine = make_engine(database_url)
    upgrade(engine, "0001")
    served = Served(clean_env(fake_slack, database_url, PYTHONPROFILEIMPORTTIME="1"), tmp_path)
    try:
        served.wait_healthy()
        assert current_revision(engine) == head_revision() is not None
        slack = SlackRequests(served.url, signing_secret=SIGNING_SECRET, team_id=TEAM_ID, fake=fake_slack)
        assert "Added *Acme*" in slack.command("add Acme").json()["text"]
    finally:
        assert served.stop() == 0, "\n".join(served.lines[-30:])
        engine.dispose()
    assert "alembic" in imported_modules(served.lines)


def test_the_http_server_module_needs_no_database_stack() -> None:
    """bench/baseline_app.py serves a bare Bolt app with `bot.server.serve_http`, like `serve`: for its memory to be
    Bolt's alone (benchmark 4), importing the server must not pull in SQLAlchemy, SQLModel or Partner's models."""
    probe = "import sys, bot.server; print(sorted(m for m in sys.modules if m.split('.')[0] in {0!r}))"
    heavy = {"sqlalchemy", "sqlmodel", "pydantic", "storage"}
    repo = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-c", probe.format(heavy)], capture_output=True, text=True, cwd=repo)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_serve_waiting_for_the_database_at_start_tries_again_at_least_every_5_seconds(tmp_path: Path) -> None:
    """/healthz stays 503 until the next try: with pauses growing to 30 s, a database back at the 32nd second of
    `--db-wait 60` was reported down until the 60th."""
    engine = make_engine(f"sqlite:///{tmp_path}/missing-folder/partner.db")  # unreachable: its folder is not there
    pauses: list[float] = []
    with pytest.raises(OperationalError):
        upgrade_when_reachable(engine, give_up_after=60, sleep=pauses.append)
    assert pauses[:3] == [1, 2, 4] and max(pauses) <= 5
    assert sum(pauses) == 60  # gave up after --db-wait, as before
    engine.dispose()


@pytest.mark.parametrize("scratch_database", ["sqlite"], indirect=True)
def test_sqlite_runs_in_wal_mode_and_waits_out_a_writer(store: Store, database_url: str) -> None:
    """Readers (Home, /healthz) go on while the scheduler writes, and a second writer waits instead of failing with
    'database is locked': WAL is recorded in the file itself, the busy timeout on each connection."""
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 15000
    path = make_url(database_url).database
    assert path
    with contextlib.closing(sqlite3.connect(path)) as other:  # any process opening the file, e.g. `partner-bot tick`
        assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)
