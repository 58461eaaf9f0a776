"""QA round 21, a new workspace's first day, the operator's side: `partner-bot serve` started from a terminal or
by systemd, and the terminal closed (SIGHUP)."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from storage.db import make_engine
from storage.store import Store
from tests.e2e.test_cli import PARTNER_BOT, free_port
from tests.e2e.test_qa19_operator import operator_env  # noqa: F401  (a fixture)
from tests.e2e.test_qa20_operator import catches, healthy
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import SIGNING_SECRET, TEAM_ID


def hangup(*, ignored: bool) -> Callable[[], None]:
    """How the child starts with SIGHUP: ignored, as under `nohup partner-bot serve &`, or at its default, as from a
    terminal or systemd — set either way, as the suite itself may run under nohup, whose ignored SIGHUP a child
    inherits."""
    disposition = signal.SIG_IGN if ignored else signal.SIG_DFL

    def set_hangup() -> None:
        signal.signal(signal.SIGHUP, disposition)

    return set_hangup


def start_serve(env: dict[str, str], cwd: Path, *, hangup_ignored: bool = False) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    process = subprocess.Popen(
        [*PARTNER_BOT, "serve", "--http", "--port", str(port), "--host", "127.0.0.1"],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=hangup(ignored=hangup_ignored),
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while not healthy(url):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(process.communicate(timeout=10)[1])
        time.sleep(0.1)
    return process, url


def stopped(process: subprocess.Popen[str], signum: signal.Signals) -> tuple[int, str]:
    try:
        process.send_signal(signum)
        _out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    return process.returncode, err


def test_sighup_stops_serve_as_sigterm_does_keeping_what_was_logged(
    operator_env: dict[str, str],  # noqa: F811
    fake_slack: FakeSlack,
    tmp_path: Path,
) -> None:
    """The terminal `partner-bot serve` ran in was closed (or systemd sent SIGHUP after SIGTERM): Python's default
    killed it on the spot, exit -1 (SIGHUP), no line, mid-request. It is a stop like SIGTERM: exit 0, one line."""
    process, url = start_serve(operator_env, tmp_path)
    slack = SlackRequests(url, signing_secret=SIGNING_SECRET, team_id=TEAM_ID, fake=fake_slack)
    assert "Added *Acme*" in slack.command("add Acme").json()["text"]
    assert "Logged a green check-in" in slack.command("checkin acme green kickoff went well").json()["text"]
    assert catches(process.pid, signal.SIGHUP)

    code, err = stopped(process, signal.SIGHUP)

    assert code == 0, err
    assert "received SIGHUP, shutting down" in err and "Traceback" not in err
    store = Store(make_engine(operator_env["DATABASE_URL"]))
    try:
        assert [(c.mood, c.note) for c in store.checkins(team_id=TEAM_ID)] == [("green", "kickoff went well")]
    finally:
        store.engine.dispose()


def test_serve_started_under_nohup_outlives_the_terminal(
    operator_env: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    """`nohup partner-bot serve &` asked for SIGHUP to be ignored: Partner must not take it over and stop."""
    process, url = start_serve(operator_env, tmp_path, hangup_ignored=True)
    try:
        assert catches(process.pid, signal.SIGHUP) is False
        process.send_signal(signal.SIGHUP)
        assert healthy(url) and process.poll() is None
    finally:
        code, err = stopped(process, signal.SIGTERM)
    assert code == 0, err


@pytest.mark.parametrize("scratch_database", ["sqlite"], indirect=True)
@pytest.mark.parametrize("serving", [False, True], ids=["starting", "serving"])
def test_systemds_sigterm_and_sighup_together_stop_serve_once(
    operator_env: dict[str, str],  # noqa: F811
    tmp_path: Path,
    serving: bool,
) -> None:
    """systemd with `SendSIGHUP=yes` sends SIGHUP right after SIGTERM: both arrive at once (and the kernel hands the
    lower-numbered SIGHUP over first). The second must not raise again inside the first one's way out (a traceback,
    exit 1): one stop, one line."""
    if serving:
        process, _url = start_serve(operator_env, tmp_path)
    else:
        process = subprocess.Popen(
            [*PARTNER_BOT, "serve", "--http", "--port", str(free_port()), "--host", "127.0.0.1"],
            env=operator_env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=hangup(ignored=False),
        )
        deadline = time.monotonic() + 60
        while not catches(process.pid, signal.SIGHUP) and time.monotonic() < deadline:
            time.sleep(0.0005)
    try:
        process.send_signal(signal.SIGTERM)
        process.send_signal(signal.SIGHUP)
        _out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert process.returncode == 0, err
    assert "Traceback" not in err, err
    said = [line for line in err.splitlines() if "alembic" not in line and "apscheduler" not in line]
    stops = [line for line in said if "before serving" in line or "shutting down" in line]
    assert len(stops) == 1 and stops[0] == said[-1], err
    assert said[-1].endswith(
        tuple(
            f"{how} {name}{end}"
            for name in ("SIGTERM", "SIGHUP")
            for how, end in (("stopped by", " before serving"), ("received", ", shutting down"))
        )
    ), err
