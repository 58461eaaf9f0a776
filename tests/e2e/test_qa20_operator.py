"""QA round 20, the operator: `partner-bot` stopped, restarted and upgraded as an operator and an orchestrator do."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_cli import PARTNER_BOT, free_port, run
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


@contextlib.contextmanager
def made_read_only(path: Path) -> Iterator[None]:
    """The file or folder as a read-only volume, or one another user owns, leaves it: chmod, or for root (whom
    permissions do not stop) the immutable attribute."""
    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(mode & ~0o222)
        try:
            yield
        finally:
            path.chmod(mode)
        return
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
        pytest.skip("cannot make a file read-only for root here (chattr +i)")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


@pytest.mark.parametrize("scratch_database", ["sqlite"], indirect=True)
@pytest.mark.parametrize("read_only", ["folder", "file"])
def test_a_sqlite_database_partner_cannot_write_is_named_at_once(
    operator_env: dict[str, str],  # noqa: F811
    tmp_path: Path,
    read_only: str,
) -> None:
    """A read-only file (created by `sudo partner-bot db upgrade`) let `serve` start and answer /healthz 200, then
    fail every check-in as "the database didn't answer… try again in a minute", `doctor` saying everything was in
    place; a read-only folder (SQLite writes -wal and -shm beside the file) was "cannot reach the database: unable
    to open database file", waited for 60 s by `serve`, with doctor's fix "Check … that the database server is up"."""
    data = tmp_path / "data"
    data.mkdir()
    operator_env["DATABASE_URL"] = f"sqlite:///{data}/partner.db"
    assert run(["db", "upgrade"], operator_env, tmp_path).returncode == 0
    target = data if read_only == "folder" else data / "partner.db"
    with made_read_only(target):
        for command in (["serve", "--http", "--port", str(free_port())], ["db", "upgrade"], ["tick"]):
            started = time.monotonic()
            result = run(command, operator_env, tmp_path)
            assert result.returncode == 3, (command, result.stderr)
            assert time.monotonic() - started < 30  # not serve's 60 s wait for a database that is down
            (line,) = [line for line in result.stderr.splitlines() if line.startswith("partner-bot:")]
            beside = " (SQLite writes partner.db-wal and partner.db-shm beside partner.db)" if target == data else ""
            assert line == (
                f"partner-bot: cannot write the database at DATABASE_URL: the {read_only} {target} is read-only for "
                f"this user{beside}: give the user Partner runs as write access to it, or fix DATABASE_URL"
            ), line
        doctor = run(["doctor"], operator_env, tmp_path)
        assert doctor.returncode == 1
        said = f"  FAIL  database: sqlite: Partner cannot write it: the {read_only} {target} is read-only for this user"
        assert said in doctor.stdout, doctor.stdout
        assert "        fix: Give the user Partner runs as write access to it, or fix DATABASE_URL." in doctor.stdout


@pytest.mark.parametrize("scratch_database", ["sqlite"], indirect=True)
def test_healthz_is_503_while_the_sqlite_file_cannot_be_written(
    operator_env: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    """A disk the kernel remounts read-only after an error: reads still work, every write fails."""
    operator_env["DATABASE_URL"] = f"sqlite:///{tmp_path}/partner.db"
    process, url = start_serve(operator_env, tmp_path)
    try:
        deadline = time.monotonic() + 60
        while not healthy(url):
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.1)
        with made_read_only(tmp_path / "partner.db"):
            with pytest.raises(urllib.error.HTTPError) as answer:
                urllib.request.urlopen(url + "/healthz", timeout=5)
            assert answer.value.code == 503
        assert healthy(url)
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert f"health check: database unavailable: OperationalError: the file {tmp_path}/partner.db is read-only" in err
