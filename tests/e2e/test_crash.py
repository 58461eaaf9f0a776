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
from pathlib import Path
from typing import Any

import pytest

from handlers.ids import CHECKIN_CALL, CHECKIN_CUSTOMER, CHECKIN_MODAL, CHECKIN_MOOD, CHECKIN_NOTE
from storage.db import make_engine
from storage.store import Store
from tests.e2e.test_acceptance_37 import owner_dms
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import BOT_TOKEN, SIGNING_SECRET, TEAM_ID

PARTNER_BOT = [sys.executable, "-m", "bot.cli"]
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
