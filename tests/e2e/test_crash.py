"""Crash safety: `partner-bot serve` killed with SIGKILL in the middle of a burst of check-ins loses nothing it
acknowledged, and Slack's re-deliveries (same trigger_id / view id) after the restart double nothing."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import col

from handlers.ids import CHECKIN_CALL, CHECKIN_CUSTOMER, CHECKIN_MODAL, CHECKIN_MOOD, CHECKIN_NOTE
from storage.checkins import CHECKIN_SUMMARY
from storage.db import make_engine
from storage.models import Customer
from storage.store import Store
from tests.e2e.test_acceptance_37 import owner_dms
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import BOT_TOKEN, SIGNING_SECRET, TEAM_ID

PARTNER_BOT = [sys.executable, "-m", "bot.cli"]
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
BURST = 48  # half slash commands, half modal submissions
KILL_AFTER = 12  # acknowledged check-ins before the SIGKILL


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    """One `partner-bot serve --http` process; its log goes to a file so a full pipe can never stall it."""

    def __init__(self, env: dict[str, str], cwd: Path, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log.open("a")
        self.process = subprocess.Popen(
            [*PARTNER_BOT, "serve", "--http", "--no-scheduler", "--host", "127.0.0.1", "--port", str(self.port)],
            env=env,
            cwd=cwd,
            stdout=self.log,
            stderr=self.log,
        )

    def wait_healthy(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "partner-bot exited early"
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.05)  # a process is booting: polling is the only way to see it
        raise AssertionError("partner-bot did not become healthy")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        self.log.close()


def modal_values(customer_id: int, note: str) -> dict[str, Any]:
    return {
        "customer": {
            CHECKIN_CUSTOMER: {
                "type": "external_select",
                "selected_option": {"text": {"type": "plain_text", "text": "Acme"}, "value": str(customer_id)},
            }
        },
        "mood": {
            CHECKIN_MOOD: {
                "type": "radio_buttons",
                "selected_option": {"text": {"type": "plain_text", "text": "green"}, "value": "green"},
            }
        },
        "call": {CHECKIN_CALL: {"type": "checkboxes", "selected_options": []}},
        "note": {CHECKIN_NOTE: {"type": "plain_text_input", "value": note}},
    }


def send(slack: SlackRequests, i: int, customer_id: int) -> int:
    """Check-in number i, delivered as Slack would (again with the same ids on a re-delivery); 0 = no answer."""
    try:
        if i % 2 == 0:
            reply = slack.command(f"checkin acme green burst note {i}", trigger_id=f"4242.{i}.crash")
        else:
            reply = slack.view_submission(
                CHECKIN_MODAL,
                modal_values(customer_id, f"burst note {i}"),
                private_metadata=json.dumps({"channel_id": "C0001"}),
                view_id=f"VCRASH{i:04d}",
            )
    except (urllib.error.URLError, http.client.HTTPException, OSError):  # killed mid-answer: a cut-off reply
        return 0
    return reply.status


@pytest.fixture
def env(fake_slack: FakeSlack, database_url: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PARTNER_", "DATABASE_URL"))}
    return {
        **clean,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake_slack.api_url,
        "DATABASE_URL": database_url,
    }


def test_sigkill_during_a_burst_of_checkins_loses_and_doubles_nothing(
    env: dict[str, str], fake_slack: FakeSlack, database_url: str, tmp_path: Path
) -> None:
    first = Served(env, tmp_path, tmp_path / "serve.log")
    try:
        first.wait_healthy()
        slack = SlackRequests(first.url, signing_secret=SIGNING_SECRET, team_id=TEAM_ID, fake=fake_slack, timeout=5)
        assert "Added *Acme*" in slack.command("add Acme").json()["text"]
        store = Store(make_engine(database_url))
        (customer,) = store.customers(team_id=TEAM_ID)
        assert customer.id is not None

        acked: set[int] = set()
        lock = threading.Lock()

        def deliver(i: int) -> None:
            if send(slack, i, customer.id or 0) == 200:
                with lock:
                    acked.add(i)
                    if len(acked) == KILL_AFTER:
                        first.process.kill()  # SIGKILL: no shutdown handler runs

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(deliver, range(BURST)))
        assert first.process.wait(timeout=10) == -9
    finally:
        first.stop()
    assert KILL_AFTER <= len(acked) < BURST, "the kill should land mid-burst"

    # Whatever was acknowledged is on disk before the restart.
    stored = {e.note for e in store.checkins(team_id=TEAM_ID, limit=1000)}
    assert {f"burst note {i}" for i in acked} <= stored

    second = Served(env, tmp_path, tmp_path / "serve.log")
    try:
        second.wait_healthy()
        slack = SlackRequests(second.url, signing_secret=SIGNING_SECRET, team_id=TEAM_ID, fake=fake_slack)
        # Slack re-delivers what got no answer; a few acknowledged ones come again too (a replay).
        for i in [*sorted(set(range(BURST)) - acked), *sorted(acked)[:4]]:
            assert send(slack, i, customer.id) == 200
    finally:
        second.stop()

    notes = [e.note for e in store.checkins(team_id=TEAM_ID, limit=1000)]
    assert sorted(notes) == sorted(f"burst note {i}" for i in range(BURST))  # each exactly once
    store.engine.dispose()


@pytest.mark.parametrize("dies_while", ["posting the summary", "posting the alert"])
def test_sigkill_before_a_red_checkins_alert_went_out_leaves_it_to_a_later_tick(
    env: dict[str, str], fake_slack: FakeSlack, database_url: str, tmp_path: Path, dies_while: str
) -> None:
    served = Served({**env, "PARTNER_CLOCK_START": "2026-12-01T14:00:00Z"}, tmp_path, tmp_path / "serve.log")
    try:
        served.wait_healthy()
        slack = SlackRequests(served.url, signing_secret=SIGNING_SECRET, team_id=TEAM_ID, fake=fake_slack, timeout=5)
        assert "Added *Acme*" in slack.command("add Acme <#C0ACME|acme> <@U0001|dana>").json()["text"]
        fake_slack.wait_for("conversations.join", 1)
        # The check-in's follow-up posts its channel summary, then DMs the owner: one of them hangs…
        if dies_while == "posting the alert":
            fake_slack.fail_next("chat.postMessage", delay=0.01)  # the summary goes out
        fake_slack.fail_next("chat.postMessage", status=500, delay=30)
        reply = slack.command("checkin acme red they want to cancel", user_id="U0002")
        assert "Logged a red check-in" in reply.json()["text"]
        deadline = time.monotonic() + 10
        while fake_slack.scripted("chat.postMessage") and time.monotonic() < deadline:
            time.sleep(0.02)  # another process is about to post: polling is the only way to see it
        assert fake_slack.scripted("chat.postMessage") == 0, f"the follow-up never got to {dies_while}"
        served.process.kill()  # …when the process dies: SIGKILL, no shutdown handler runs
        assert served.process.wait(timeout=10) == -9
    finally:
        served.stop()
    assert not owner_dms(fake_slack)

    # Ticks after the restart, past the alert's lease should it have been taken: the owner hears exactly once.
    for minute in (5, 6):
        tick = subprocess.run(
            [*PARTNER_BOT, "tick", "--now", f"2026-12-01T14:{minute:02d}:00Z"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert tick.returncode == 0, tick.stderr
    (dm,) = owner_dms(fake_slack)
    assert "logged a *red* check-in for *Acme*" in dm and "they want to cancel" in dm


# ---------------------------------------------------------------------------------- a check-in's channel summary

# How the follow-up of an acknowledged check-in is cut off by a SIGKILL, its channel summary not yet recorded:
SUMMARY_CRASHES = {
    # still telling the author (the form's confirmation): the summary not taken yet
    "before posting the summary": ("chat.postEphemeral", {"status": 500, "delay": 30}),
    # Slack has the post and is slow to make it: nothing in the channel yet
    "while posting the summary": ("chat.postMessage", {"status": 500, "delay": 30}),
    # Slack made the post; its answer never reached the process
    "after Slack posted the summary": ("chat.postMessage", {"delay": 30, "answered_late": True}),
}


def ticks(env: dict[str, str], cwd: Path, *at: str, replicas: int = 2) -> None:
    """`partner-bot tick --now …` at each time, by `replicas` processes at once (as replicas would)."""
    for now in at:
        running = [
            subprocess.Popen(
                [*PARTNER_BOT, "tick", "--now", now],
                env=env,
                cwd=cwd,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(replicas)
        ]
        for process in running:
            _, stderr = process.communicate(timeout=60)
            assert process.returncode == 0, stderr


def summary_posts(fake_slack: FakeSlack, words: str) -> list[dict[str, Any]]:
    return [m for m in fake_slack.messages.get("C0ACME", []) if words in m["text"]]


def crash_during_a_summary(env: dict[str, str], fake_slack: FakeSlack, database_url: str, tmp: Path, dies: str) -> str:
    """Acme's first check-in of the day is summarized (the day's thread); the second, made in the form, is
    acknowledged, then `serve` is killed `dies`. The thread's ts."""
    served = Served({**env, "PARTNER_CLOCK_START": "2026-12-01T14:00:00Z"}, tmp, tmp / "serve.log")
    try:
        served.wait_healthy()
        slack = SlackRequests(served.url, signing_secret=SIGNING_SECRET, team_id=TEAM_ID, fake=fake_slack, timeout=5)
        assert "Added *Acme*" in slack.command("add Acme <#C0ACME|acme> <@U0001|dana>").json()["text"]
        fake_slack.wait_for("conversations.join", 1)
        assert "Logged" in slack.command("checkin acme green kickoff went well").json()["text"]
        thread = str(fake_slack.wait_for("chat.postMessage", 1)[0].response["ts"])
        fake_slack.wait_for("views.publish", 1)  # its follow-up is over: the next check-in's is a run of its own
        method, fault = SUMMARY_CRASHES[dies]
        fake_slack.fail_next(method, **fault)
        store = Store(make_engine(database_url))
        (customer,) = store.customers(team_id=TEAM_ID)
        store.engine.dispose()
        reply = slack.view_submission(
            CHECKIN_MODAL,
            modal_values(customer.id or 0, "they asked for the SSO plan"),
            private_metadata=json.dumps({"channel_id": "C0001"}),
            view_id="VSUMMARY",
        )
        assert reply.status == 200
        deadline = time.monotonic() + 10
        while fake_slack.scripted(method) and time.monotonic() < deadline:
            time.sleep(0.02)  # another process is about to call Slack: polling is the only way to see it
        assert fake_slack.scripted(method) == 0, f"the follow-up never got to {dies}"
        served.process.kill()  # SIGKILL: no shutdown handler runs
        assert served.process.wait(timeout=10) == -9
    finally:
        served.stop()
    return thread


@pytest.mark.parametrize("dies", list(SUMMARY_CRASHES))
def test_sigkill_before_a_checkins_summary_was_recorded_leaves_it_posted_once_in_its_days_thread(
    env: dict[str, str], fake_slack: FakeSlack, database_url: str, tmp_path: Path, dies: str
) -> None:
    thread = crash_during_a_summary(env, fake_slack, database_url, tmp_path, dies)
    posted_before = summary_posts(fake_slack, "SSO plan")
    assert len(posted_before) == (1 if dies == "after Slack posted the summary" else 0)

    # Two replicas tick after the restart, past the summary's lease should it have been taken, and again later.
    ticks(env, tmp_path, "2026-12-01T14:05:00Z", "2026-12-01T14:06:00Z", "2026-12-01T14:20:00Z")
    (summary,) = summary_posts(fake_slack, "SSO plan")  # exactly once, whoever posted it
    assert summary["thread_ts"] == thread  # in the day's thread, under the first summary
    assert summary["metadata"]["event_type"] == "partner_nudge"
    store = Store(make_engine(database_url))
    second = next(c for c in store.checkins(team_id=TEAM_ID) if "SSO plan" in c.note)
    assert second.summary_ts == thread  # recorded: later summaries of the day thread there too
    store.engine.dispose()


@pytest.mark.parametrize("then", ["paused", "summaries off", "shared with the customer", "restarted a day later"])
def test_a_summary_lost_to_a_crash_is_not_posted_when_it_no_longer_should_be(
    env: dict[str, str], fake_slack: FakeSlack, database_url: str, tmp_path: Path, then: str
) -> None:
    crash_during_a_summary(env, fake_slack, database_url, tmp_path, "before posting the summary")
    store = Store(make_engine(database_url))
    (customer,) = store.customers(team_id=TEAM_ID)
    changes = {
        "paused": {"paused_at": datetime(2026, 12, 1, 14, 3, tzinfo=UTC)},
        "summaries off": {"post_checkins": False},
        "shared with the customer": {"channel_shared": True},
        "restarted a day later": {},
    }[then]
    if changes:
        with store.session() as session:
            session.exec(update(Customer).where(col(Customer.id) == customer.id).values(**changes))  # type: ignore[call-overload]
            session.commit()
    day = "02" if then == "restarted a day later" else "01"
    ticks(env, tmp_path, f"2026-12-{day}T14:05:00Z", f"2026-12-{day}T14:06:00Z", replicas=1)
    assert summary_posts(fake_slack, "SSO plan") == []
    (row,) = [n for n in store.nudges(team_id=TEAM_ID, kinds=[CHECKIN_SUMMARY], due_after=EPOCH) if n.status != "sent"]
    assert row.status in ("cancelled", "skipped", "missed"), (row.status, row.error)
    store.engine.dispose()
