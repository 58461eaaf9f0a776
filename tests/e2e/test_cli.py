"""`partner-bot` as an operator runs it: a real process, real port, the fake Slack as its Web API."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from storage.db import current_revision, head_revision, make_engine
from storage.store import Store
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import BOT_TOKEN, SIGNING_SECRET, TEAM_ID

PARTNER_BOT = [sys.executable, "-m", "bot.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def env(fake_slack: FakeSlack, database_url: str) -> dict[str, str]:
    """A clean environment for a `partner-bot` process; `database_url` runs each test on SQLite and PostgreSQL."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PARTNER_", "DATABASE_URL"))}
    return {
        **clean,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake_slack.api_url,
        "DATABASE_URL": database_url,
    }


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(PARTNER_BOT + args, env=env, cwd=cwd, capture_output=True, text=True, timeout=60)


# Generous: at load 14 on 2 CPUs importing the app alone took 13–15 s; a healthy start returns at once.
def wait_healthy(url: str, process: subprocess.Popen[str], timeout: float = 60) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"partner-bot exited early:\n{process.stderr.read() if process.stderr else ''}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
                return dict(json.loads(response.read()), status_code=str(response.status))
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    raise AssertionError("partner-bot did not become healthy")


@pytest.fixture
def served(env: dict[str, str], tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    process = subprocess.Popen(
        [*PARTNER_BOT, "serve", "--http", "--port", str(port), "--host", "127.0.0.1"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        yield url, process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def test_serve_answers_signed_commands_and_stops_cleanly_on_sigterm(
    served: tuple[str, subprocess.Popen[str]], env: dict[str, str], fake_slack: FakeSlack
) -> None:
    url, process = served
    assert wait_healthy(url, process) == {"status": "ok", "database": "ok", "status_code": "200"}
    slack = SlackRequests(url, signing_secret=SIGNING_SECRET, team_id=TEAM_ID, fake=fake_slack)

    assert "Added *Acme*" in slack.command("add Acme").json()["text"]
    reply = slack.command("checkin acme green kickoff went well")
    assert reply.status == 200 and "Logged a green check-in for *Acme*" in reply.json()["text"]

    forged = SlackRequests(url, signing_secret="not-the-secret", team_id=TEAM_ID, fake=fake_slack)
    assert forged.command("checkin acme red forged").status == 401

    store = Store(make_engine(env["DATABASE_URL"]))
    (entry,) = store.checkins(team_id=TEAM_ID)
    assert (entry.mood, entry.note) == ("green", "kickoff went well")
    store.engine.dispose()

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0
    assert process.stderr is not None
    log = process.stderr.read()
    assert "shutting down" in log
    # A clean start, a normal day and a forged request are nothing an operator should be warned about.
    assert [line for line in log.splitlines() if " WARNING " in line or " ERROR " in line] == []


def test_db_upgrade_is_idempotent_and_tick_runs(env: dict[str, str], tmp_path: Path) -> None:
    first = run(["db", "upgrade"], env, tmp_path)
    second = run(["db", "upgrade"], env, tmp_path)
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    assert "database at revision" in second.stdout
    assert "Running upgrade" in first.stderr  # what the operator needs to see...
    assert "setup plugin" not in first.stderr  # ...without Alembic's list of its own plugins
    tick = run(["tick", "--now", "2026-12-01T14:00:00Z"], env, tmp_path)
    assert tick.returncode == 0, tick.stderr


def test_sigkill_during_the_first_upgrade_leaves_a_database_the_next_start_upgrades(
    env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    """The first `serve` (or `db upgrade`) killed -9 halfway through the migrations: a container stopped, an OOM."""
    process = subprocess.Popen(
        [*PARTNER_BOT, "db", "upgrade"], env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True
    )
    assert process.stderr is not None
    for line in process.stderr:
        if "Running upgrade 0002 -> " in line:  # eleven migrations still to go
            process.send_signal(signal.SIGKILL)
            break
    assert process.wait(timeout=10) == -signal.SIGKILL
    engine = make_engine(database_url)
    with engine.connect() as connection:  # all or nothing: no table of the first migrations is left behind
        assert current_revision(engine) is None and not sa.inspect(connection).has_table("customer")
    again = run(["db", "upgrade"], env, tmp_path)
    assert again.returncode == 0, again.stderr
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_upcoming_and_export_read_the_database_and_never_migrate_it(
    env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    for args in (["upcoming", "--days", "3"], ["export", "--team", TEAM_ID, "--out", str(tmp_path / "out.csv")]):
        refused = run(args, env, tmp_path)
        assert refused.returncode == 3, refused.stderr
        assert "has no Partner schema yet: run `partner-bot db upgrade` first" in refused.stderr
        assert "Running upgrade" not in refused.stderr
    assert current_revision(make_engine(database_url)) is None  # the dry runs left the database as it was
    assert not (tmp_path / "out.csv").exists()
    assert run(["db", "upgrade"], env, tmp_path).returncode == 0
    assert run(["upcoming", "--days", "3"], env, tmp_path).returncode == 0


def test_a_database_a_newer_partner_migrated_is_named_in_one_line_and_left_as_it_is(
    env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    """An older release started again after a newer one migrated (a rollback, a replica not yet upgraded)."""
    assert run(["db", "upgrade"], env, tmp_path).returncode == 0
    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '0099_from_a_newer_partner'")
    port = str(free_port())
    for args in (["serve", "--http", "--port", port], ["tick"], ["db", "upgrade"], ["upcoming"]):
        refused = run(args, env, tmp_path)
        assert refused.returncode == 3, refused.stderr
        assert "Traceback" not in refused.stderr and "run `partner-bot db upgrade`" not in refused.stderr
        assert (
            "partner-bot: the database at DATABASE_URL is at migration 0099_from_a_newer_partner, which this Partner "
            f"does not know (its latest is {head_revision()}): a newer Partner migrated it." in refused.stderr
        )
    assert current_revision(engine) == "0099_from_a_newer_partner"


@pytest.mark.parametrize("scratch_database", ["sqlite"], indirect=True)
def test_ctrl_c_in_a_command_ends_it_in_one_line(env: dict[str, str], tmp_path: Path, fake_slack: FakeSlack) -> None:
    """`partner-bot doctor` waiting on a slow Slack, and the operator presses Ctrl-C."""
    fake_slack.fail_next("auth.test", delay=30)
    process = subprocess.Popen(
        [*PARTNER_BOT, "doctor"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as a terminal starts it
    )
    try:
        deadline = time.monotonic() + 30
        while fake_slack.scripted("auth.test") and time.monotonic() < deadline:
            time.sleep(0.05)  # a process booting: nothing to wait on but its first call to Slack
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130 and stderr == "partner-bot: interrupted\n"


def test_tick_rejects_an_instant_without_a_zone(env: dict[str, str], tmp_path: Path) -> None:
    result = run(["tick", "--now", "2026-12-01T14:00:00"], env, tmp_path)
    assert result.returncode == 2 and "has no time zone" in result.stderr


def test_missing_settings_fail_fast_naming_the_variable(env: dict[str, str], tmp_path: Path) -> None:
    del env["SLACK_SIGNING_SECRET"]
    result = run(["serve", "--http"], env, tmp_path)
    assert result.returncode == 2
    assert "SLACK_SIGNING_SECRET is not set" in result.stderr


def test_settings_come_from_a_dotenv_file(env: dict[str, str], tmp_path: Path) -> None:
    secret = env.pop("SLACK_SIGNING_SECRET")
    (tmp_path / ".env").write_text(f"SLACK_SIGNING_SECRET={secret}\n")
    assert run(["db", "upgrade"], env, tmp_path).returncode == 0


@pytest.mark.parametrize("scratch_database", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("partner.db", "DATABASE_URL must be SQLite (sqlite:///partner.db) or PostgreSQL"),
        ("mysql://partner:s3cret-pw@db.internal/partner", "got mysql://…"),
        ("postgresql://partner:s3cret-pw@db.internal:five/partner", "DATABASE_URL is not a valid postgresql:// URL"),
    ],
)
def test_a_database_url_partner_cannot_open_is_named_without_a_traceback_or_its_password(
    env: dict[str, str], tmp_path: Path, url: str, says: str
) -> None:
    env["DATABASE_URL"] = url
    for command in (["serve", "--http"], ["tick"], ["db", "upgrade"]):
        result = run(command, env, tmp_path)
        assert result.returncode == 2, result.stderr
        assert says in result.stderr and "Traceback" not in result.stderr
        assert "s3cret-pw" not in result.stderr
    doctor = run(["doctor"], env, tmp_path)
    assert doctor.returncode == 1 and says in doctor.stdout + doctor.stderr


@pytest.mark.parametrize("scratch_database", ["sqlite"], indirect=True)
def test_env_example_copied_as_it_is_names_each_value_still_to_fill_in(env: dict[str, str], tmp_path: Path) -> None:
    """README: `cp .env.example .env`, put the values in `.env`, run `partner-bot serve`."""
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "DATABASE_URL"):
        del env[name]  # from .env only, as an operator following README has them
    example = (Path(__file__).resolve().parents[2] / ".env.example").read_text()
    dotenv = tmp_path / ".env"
    dotenv.write_text(example)
    serve = ["serve", "--http", "--port", str(free_port()), "--no-scheduler"]
    refused = run(serve, env, tmp_path)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert refused.stderr == (
        "partner-bot: configuration error: SLACK_BOT_TOKEN is still the example value of .env.example "
        "('xoxb-your-bot-token'): put your Slack app's own value there (README, \"Create the Slack app\").\n"
    )
    dotenv.write_text(example.replace("xoxb-your-bot-token", BOT_TOKEN))
    refused = run(serve, env, tmp_path)
    assert refused.returncode == 2 and "SLACK_SIGNING_SECRET is still the example value" in refused.stderr
    doctor = run(["doctor"], env, tmp_path)
    assert doctor.returncode == 1 and "SLACK_SIGNING_SECRET is still the example value" in doctor.stdout
    dotenv.write_text(example.replace("xoxb-your-bot-token", BOT_TOKEN).replace("your-signing-secret", SIGNING_SECRET))
    assert (
        run(["db", "upgrade"], env, tmp_path).returncode == 0
    )  # the rest of .env.example's values are good as they are


@pytest.mark.parametrize("scratch_database", ["sqlite"], indirect=True)
def test_a_postgresql_url_without_its_driver_installed_says_how_to_install_it(
    env: dict[str, str], tmp_path: Path
) -> None:
    """`pip install -e .` then a PostgreSQL DATABASE_URL (README's first screen, then "Running in production")."""
    env["DATABASE_URL"] = "postgresql://partner:s3cret-pw@127.0.0.1:1/partner"
    without_psycopg = "import sys; sys.modules['psycopg'] = None; from bot.cli import main; sys.exit(main())"
    for command in (["serve", "--http"], ["tick"], ["db", "upgrade"], ["doctor"]):
        result = subprocess.run(
            [sys.executable, "-c", without_psycopg, *command], env=env, cwd=tmp_path, capture_output=True, text=True
        )
        output = result.stdout + result.stderr
        assert result.returncode in (1, 2) and "Traceback" not in output, output
        assert 'its driver, psycopg, is not installed: run pip install -e ".[postgres]"' in output
        assert "s3cret-pw" not in output


@pytest.mark.parametrize("scratch_database", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("option", "says"),
    [
        (["--port", "99999"], "a port is a number from 1 to 65535, got '99999'"),
        (["--port", "http"], "a port is a number from 1 to 65535, got 'http'"),
        (["--threads", "0"], "the number of HTTP threads is from 1 to 1024, got '0'"),  # it would never answer
    ],
)
def test_serve_refuses_a_port_or_thread_count_it_cannot_serve_with(
    env: dict[str, str], tmp_path: Path, option: list[str], says: str
) -> None:
    result = run(["serve", "--http", *option], env, tmp_path)
    assert result.returncode == 2 and says in result.stderr


@pytest.mark.parametrize("scratch_database", ["sqlite"], indirect=True)
def test_serve_on_a_port_already_taken_says_so_in_one_line(env: dict[str, str], tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run(["serve", "--http", "--host", "127.0.0.1", "--port", str(port), "--no-scheduler"], env, tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"partner-bot: cannot listen on 127.0.0.1:{port}: Address already in use (set PORT or --port)" in (
        result.stderr
    )
