"""QA round 19, the operator: `partner-bot` run as README's Settings and Command line say, as a real process."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.e2e.test_cli import run
from tests.fake_slack import FakeSlack
from tests.utils import BOT_TOKEN, SIGNING_SECRET


@pytest.fixture
def operator_env(fake_slack: FakeSlack, database_url: str) -> dict[str, str]:
    """The environment of an operator's shell: only the settings README asks for, the fake Slack as the Web API."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PARTNER_", "DATABASE_URL"))}
    return {
        **clean,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake_slack.api_url,
        "DATABASE_URL": database_url,
    }


@pytest.mark.parametrize("scratch_database", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        # "Never escalate / never hold": a huge number, which overflowed the calendar in every tick's boundary jobs.
        (
            "PARTNER_BOUNDARY_HOLD_WEEKS",
            "99999999999",
            "PARTNER_BOUNDARY_HOLD_WEEKS must be a whole number from 1 to 520",
        ),
        (
            "PARTNER_BOUNDARY_ESCALATE_DAYS",
            "1000000",
            "PARTNER_BOUNDARY_ESCALATE_DAYS must be a whole number from 1 to 3650",
        ),
        (
            "PARTNER_SURVEY_SCHEDULE",
            "scorecard=10000000d",
            "PARTNER_SURVEY_SCHEDULE: scorecard='10000000d' is not a period",
        ),
    ],
)
def test_a_duration_too_long_for_the_calendar_is_refused_at_start_naming_the_setting(
    operator_env: dict[str, str], tmp_path: Path, name: str, value: str, says: str
) -> None:
    operator_env[name] = value
    for command in (["tick"], ["serve", "--http", "--no-scheduler"], ["db", "upgrade"]):
        result = run(command, operator_env, tmp_path)
        assert result.returncode == 2, result.stdout + result.stderr
        assert result.stderr.startswith(f"partner-bot: configuration error: {says}"), result.stderr
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    doctor = run(["doctor"], operator_env, tmp_path)
    assert doctor.returncode == 1 and says in doctor.stdout


PASSWORD = "p@ss:w/rd%50"  # what a password generator gives: every character a URL gives a meaning to
ENCODED = "p%40ss%3Aw%2Frd%2550"


@pytest.mark.parametrize("scratch_database", ["postgres"], indirect=True)
def test_postgresql_urls_in_every_form_readme_names_open_the_same_database(
    operator_env: dict[str, str], tmp_path: Path, database_url: str
) -> None:
    """README: `postgresql+psycopg://partner:PASSWORD@…`, "`postgres://…` and `postgresql://…` work too", and the
    password percent-encoded. The test server trusts its user, so the password is parsed, never checked."""
    user_and_host = database_url.partition("://")[2]
    user, _, host = user_and_host.partition("@")
    for scheme in ("postgresql+psycopg", "postgresql", "postgres", "Postgres", "POSTGRESQL"):
        operator_env["DATABASE_URL"] = f"{scheme}://{user}:{ENCODED}@{host}"
        result = run(["db", "upgrade"], operator_env, tmp_path)
        assert result.returncode == 0 and "Traceback" not in result.stderr, (scheme, result.stderr)
        assert result.stdout.startswith("database at revision ")
    # The same passwords pasted as they are: the first @ ends them, so the host would be "42@127.0.0.1" and `serve`
    # would wait 60 s for it, then call the database unreachable, with no word about the password.
    for password, says in (
        ("hunter@42", "DATABASE_URL has an @ in its password or user name: percent-encode it as %40"),
        (PASSWORD, "DATABASE_URL is not a valid postgresql:// URL"),
    ):
        operator_env["DATABASE_URL"] = f"postgresql://{user}:{password}@{host}"
        for command in (["db", "upgrade"], ["serve", "--http", "--no-scheduler"], ["tick"]):
            result = run(command, operator_env, tmp_path)
            assert result.returncode == 2, result.stderr
            assert result.stderr.startswith(f"partner-bot: configuration error: {says}"), result.stderr
            assert result.stderr.count("\n") == 1 and "percent-encode" in result.stderr
            assert "hunter" not in result.stderr and "w/rd" not in result.stderr
        doctor = run(["doctor"], operator_env, tmp_path)
        assert doctor.returncode == 1 and says in doctor.stdout
        assert "hunter" not in doctor.stdout and "w/rd" not in doctor.stdout


@pytest.mark.parametrize("scratch_database", ["sqlite"], indirect=True)
def test_sqlite_urls_an_operator_writes_open_a_file_or_are_refused_in_one_line(
    operator_env: dict[str, str], tmp_path: Path
) -> None:
    operator_env["DATABASE_URL"] = "SQLITE:///partner.db"  # a scheme is case-insensitive
    result = run(["db", "upgrade"], operator_env, tmp_path)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert (tmp_path / "partner.db").exists()
    # In memory: one database per thread, and all of it gone when Partner stops.
    for url in ("sqlite://", "sqlite:///", "sqlite:///:memory:"):
        operator_env["DATABASE_URL"] = url
        for command in (["db", "upgrade"], ["serve", "--http", "--no-scheduler"], ["tick"]):
            result = run(command, operator_env, tmp_path)
            assert result.returncode == 2, (url, command, result.stderr)
            assert result.stderr == (
                "partner-bot: configuration error: DATABASE_URL is an in-memory SQLite database, which would lose "
                "every check-in when Partner stops: name a file, like sqlite:///partner.db.\n"
            )


@pytest.mark.parametrize("scratch_database", ["sqlite"], indirect=True)
def test_doctor_names_the_manifest_it_was_given_when_that_file_is_not_there(
    operator_env: dict[str, str], tmp_path: Path
) -> None:
    """It said "manifest.yml not found … Pass --manifest path/to/manifest.yml" to an operator who had passed one."""
    result = run(["doctor", "--manifest", "deploy/manifest.yaml"], operator_env, tmp_path)
    assert "  warn  scopes: not checked: deploy/manifest.yaml not found\n" in result.stdout, result.stdout
    assert "        fix: Check the path given to --manifest.\n" in result.stdout


@pytest.mark.parametrize("scratch_database", ["sqlite"], indirect=True)
def test_settings_in_quotes_as_docker_env_file_passes_them_are_read_as_dotenv_reads_them(
    operator_env: dict[str, str], tmp_path: Path
) -> None:
    """`docker run --env-file .env` keeps the quotes of `SLACK_BOT_TOKEN="xoxb-…"`, which python-dotenv drops: the
    same file refused the token ("must be a bot token starting with 'xoxb-'") in a container only."""
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "DATABASE_URL"):
        operator_env[name] = f'"{operator_env[name]}"'
    operator_env["PARTNER_DEFAULT_TZ"] = "'Europe/Berlin'"
    result = run(["db", "upgrade"], operator_env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "partner.db").exists()  # the quoted sqlite:/// path, not a file named with a quote
    doctor = run(["doctor"], operator_env, tmp_path)
    assert "ok    bot token: valid" in doctor.stdout, doctor.stdout
