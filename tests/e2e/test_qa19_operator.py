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
