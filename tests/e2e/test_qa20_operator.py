"""QA round 20, the operator: `partner-bot` stopped, restarted and upgraded as an operator and an orchestrator do."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.test_cli import PARTNER_BOT, free_port
from tests.e2e.test_qa19_operator import operator_env  # noqa: F401  (a fixture)

ROOT = Path(__file__).resolve().parents[2]


def catches(pid: int, signum: int) -> bool | None:
    """Whether the process has a handler for the signal now (None: it has exited)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    for line in status.splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (signum - 1) & 1)
    return None


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def start_serve(env: dict[str, str], cwd: Path) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    process = subprocess.Popen(
        [*PARTNER_BOT, "serve", "--http", "--port", str(port), "--host", "127.0.0.1"],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return process, f"http://127.0.0.1:{port}"


def serve_until_healthy_watching_sigterm(env: dict[str, str], cwd: Path) -> list[bool]:
    """Starts `serve`, samples whether it catches SIGTERM until /healthz says 200; returns the samples."""
    process, url = start_serve(env, cwd)
    samples: list[bool] = []
    try:
        deadline = time.monotonic() + 90
        last_probe = 0.0
        while time.monotonic() < deadline:
            caught = catches(process.pid, signal.SIGTERM)
            assert caught is not None and process.poll() is None, process.communicate(timeout=10)[1]
            samples.append(caught)
            if time.monotonic() - last_probe > 0.1:
                last_probe = time.monotonic()
                if healthy(url):
                    break
            time.sleep(0.0005)
        else:
            raise AssertionError("serve did not become healthy")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    return samples


def test_importing_the_command_line_loads_nothing_before_serve_takes_sigterm_over() -> None:
    """`partner-bot` spent ≈ 1.4 s importing Bolt, SQLAlchemy and the app before its first line ran: SIGTERM then
    ended it with 143 and no word. The command line itself is the standard library; the rest loads after."""
    probe = "import bot.cli, sys; print(sorted(m for m in ('slack_bolt', 'sqlalchemy', 'bot.app') if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", probe], env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True
    )
    assert result.returncode == 0 and result.stdout == "[]\n", result.stderr


def test_sigterm_is_caught_from_the_start_of_serve_to_serving_without_a_gap(
    operator_env: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    """Session 19 put SIGTERM back to its default between the database upgrade and serve()'s graceful shutdown
    (≈ 0.4–1 s of building the app): an orchestrator stopping a pod then got exit 143 and no line."""
    samples = serve_until_healthy_watching_sigterm(operator_env, tmp_path)
    first = samples.index(True)
    assert all(samples[first:]), f"SIGTERM uncaught in {samples[first:].count(False)} of {len(samples) - first} looks"


@pytest.mark.parametrize("scratch_database", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("signum", "after"), [(signal.SIGTERM, 0.0), (signal.SIGTERM, 0.4), (signal.SIGINT, 0.8)])
def test_a_signal_at_any_moment_of_the_start_ends_serve_with_one_line_and_exit_0(
    operator_env: dict[str, str],  # noqa: F811
    tmp_path: Path,
    signum: signal.Signals,
    after: float,
) -> None:
    """README: exit 0 "also `serve` stopped by SIGTERM or Ctrl-C", whenever it comes."""
    process, _url = start_serve(operator_env, tmp_path)
    try:
        deadline = time.monotonic() + 60
        while not catches(process.pid, signum) and time.monotonic() < deadline:
            time.sleep(0.0005)
        time.sleep(after)
        process.send_signal(signum)
        _out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert process.returncode == 0, err
    said = [line for line in err.splitlines() if "alembic" not in line and "apscheduler" not in line]
    name = signal.Signals(signum).name
    assert "Traceback" not in err
    assert said[-1].endswith((f"partner-bot: stopped by {name} before serving", f"received {name}, shutting down"))
