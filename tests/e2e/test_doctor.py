"""`partner-bot doctor` against the fake Slack and a real database: what it finds, what it says to fix, its exit."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from bot.doctor import run_doctor
from bot.settings import Settings
from storage.db import current_revision, make_engine
from storage.store import Store
from tests.conftest import MANIFEST_BOT_SCOPES
from tests.fake_slack import FakeSlack
from tests.utils import BOT_TOKEN, SIGNING_SECRET, TEAM_ID, FakeClock

PARTNER_BOT = [sys.executable, "-m", "bot.cli"]


def doctor(settings: Settings, manifest: Path | None = None) -> tuple[int, str]:
    out = io.StringIO()
    code = run_doctor(settings, manifest=manifest, out=out)
    return code, out.getvalue()


def lines(output: str, status: str, check: str) -> list[str]:
    return [line for line in output.splitlines() if line.split(":")[0].split() == [status, *check.split()]]


def add_customer(store: Store, clock: FakeClock, name: str, channel_id: str | None) -> None:
    store.add_customer(team_id=TEAM_ID, name=name, created_by="U0001", now=clock(), channel_id=channel_id)


def run_cli(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PARTNER_BOT, "doctor"], env=env, cwd=cwd, capture_output=True, text=True, timeout=60)


def cli_env(fake_slack: FakeSlack, database_url: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PARTNER_", "DATABASE_URL", "LOG_"))}
    return {
        **base,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake_slack.api_url,
        "DATABASE_URL": database_url,
    }


def test_a_healthy_install_passes_every_check(
    settings: Settings, store: Store, clock: FakeClock, fake_slack: FakeSlack
) -> None:
    fake_slack.channels["C0ACME"]["is_member"] = True
    add_customer(store, clock, "Acme", "C0ACME")
    add_customer(store, clock, "Beta", "C0ACME")  # two customers, one channel: asked about once
    add_customer(store, clock, "Gamma", None)
    code, output = doctor(settings)
    assert code == 0, output
    assert lines(output, "ok", "database") and "(the latest)" in output
    assert "valid: bot @partner (UBOT) in Acme (T0001)" in output
    assert f"the token has all {len(MANIFEST_BOT_SCOPES)} bot scopes of manifest.yml" in output
    assert "@partner is in all 1 customer channel(s)" in output
    assert "FAIL" not in output and "Everything Partner needs is in place" in output
    assert len(fake_slack.calls_to("conversations.info")) == 1


def test_a_shared_channel_partner_has_not_recorded_is_a_warning_with_the_fix_and_changes_nothing(
    settings: Settings, store: Store, clock: FakeClock, fake_slack: FakeSlack
) -> None:
    fake_slack.add_channel("C0ACME", name="acme", is_ext_shared=True, members=["U0001"])
    add_customer(store, clock, "Acme", "C0ACME")  # as a customer added before Partner recorded sharing
    code, output = doctor(settings)
    assert code == 0, output
    (warning,) = lines(output, "warn", "channels")
    assert "#acme of Acme is shared with another organisation, which Partner has not recorded yet" in warning
    assert "`/partner edit Acme #acme`" in output
    assert not store.customers(team_id=TEAM_ID)[0].channel_shared  # doctor never changes anything
    store.set_channel_shared(team_id=TEAM_ID, channel_id="C0ACME", shared=True, now=clock())
    assert lines(doctor(settings)[1], "warn", "channels") == []


def test_a_missing_scope_fails_and_says_how_to_grant_it(
    settings: Settings, store: Store, fake_slack: FakeSlack
) -> None:
    fake_slack.scopes = [s for s in MANIFEST_BOT_SCOPES if s != "users:read"] + ["admin"]
    code, output = doctor(settings)
    assert code == 1
    (missing,) = lines(output, "FAIL", "scopes")
    assert "the token lacks users:read (declared in manifest.yml)" in missing
    assert "reinstall the app" in output
    (extra,) = lines(output, "warn", "scopes")
    assert "also has admin" in extra


def test_extra_scopes_only_warn(settings: Settings, store: Store, fake_slack: FakeSlack) -> None:
    fake_slack.scopes = [*MANIFEST_BOT_SCOPES, "files:read"]
    code, output = doctor(settings)
    assert code == 0 and "warn  scopes: the token also has files:read" in output


def test_channels_the_bot_is_not_in_or_that_are_gone_are_named_with_the_fix(
    settings: Settings, store: Store, clock: FakeClock, fake_slack: FakeSlack
) -> None:
    add_customer(store, clock, "Acme", "C0ACME")  # the fake's #acme: the bot is not a member
    add_customer(store, clock, "Gone", "C0GONE")
    fake_slack.add_channel("C0OLD", name="old-project", is_archived=True)
    add_customer(store, clock, "Old", "C0OLD")
    code, output = doctor(settings)
    assert code == 1
    failures = lines(output, "FAIL", "channels")
    assert any("@partner is not a member of #acme (Acme)" in line for line in failures)
    assert "fix: Type `/invite @partner` in #acme." in output
    assert any("<#C0GONE> of Gone: channel_not_found" in line for line in failures)
    assert any("#old-project of Old is archived" in line for line in failures)


def test_a_channel_slack_failed_to_look_up_is_not_called_gone(
    settings: Settings, store: Store, clock: FakeClock, fake_slack: FakeSlack
) -> None:
    fake_slack.add_channel("C0BUSY", name="busy")  # the bot is in it: Slack only failed to answer
    add_customer(store, clock, "Busy", "C0BUSY")
    fake_slack.fail_next("conversations.info", status=500, error="internal_error", times=10)
    code, output = doctor(settings)
    assert code == 1
    (line,) = lines(output, "FAIL", "channels")
    assert "<#C0BUSY> of Busy: Slack did not answer (internal_error)" in line
    assert "gone" not in output and "Run `partner-bot doctor` again in a minute." in output


def test_a_rejected_token_fails_and_skips_what_needs_it(settings: Settings, store: Store) -> None:
    code, output = doctor(replace(settings, slack_bot_token="xoxb-not-the-token"))
    assert code == 1
    assert "FAIL  bot token: auth.test failed: invalid_auth" in output
    assert "copy the Bot User OAuth Token (xoxb-…) from OAuth & Permissions again" in output
    assert "warn  scopes: not checked: needs a working bot token" in output
    assert "xoxb-not-the-token" not in output


def test_a_database_without_the_schema_fails_and_is_not_migrated_by_the_doctor(
    settings: Settings, database_url: str
) -> None:
    code, output = doctor(settings)
    assert code == 1
    assert "reachable but has no Partner schema yet" in output and "Run `partner-bot db upgrade`" in output
    assert "warn  channels: not checked: needs the database at the latest schema" in output
    engine = make_engine(database_url)
    assert current_revision(engine) is None
    engine.dispose()


def test_an_unreachable_database_fails(settings: Settings, tmp_path: Path) -> None:
    dead = {
        "sqlite": f"sqlite:///{tmp_path}/no/such/dir/partner.db",
        "postgresql": "postgresql+psycopg://partner:secret-pw@127.0.0.1:9/partner",
    }["sqlite" if settings.database_url.startswith("sqlite") else "postgresql"]
    code, output = doctor(replace(settings, database_url=dead))
    assert code == 1
    (line,) = lines(output, "FAIL", "database")
    assert "cannot connect" in line and "secret-pw" not in output
    assert "Check DATABASE_URL" in output
    assert dead.startswith("postgresql") or f"the folder {tmp_path}/no/such/dir does not exist" in line


def test_without_a_manifest_the_scopes_are_not_checked_but_nothing_fails(
    settings: Settings, store: Store, tmp_path: Path
) -> None:
    code, output = doctor(settings, manifest=tmp_path / "missing.yml")
    assert f"warn  scopes: not checked: {tmp_path / 'missing.yml'} not found" in output
    assert code == 0


def test_the_command_line_exits_non_zero_and_prints_the_fix(
    fake_slack: FakeSlack, database_url: str, tmp_path: Path
) -> None:
    env = cli_env(fake_slack, database_url)
    result = run_cli(env, tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.startswith("Partner doctor\n")
    assert "FAIL  database:" in result.stdout

    del env["SLACK_SIGNING_SECRET"]
    result = run_cli(env, tmp_path)
    assert result.returncode == 1
    assert "FAIL  settings: SLACK_SIGNING_SECRET is not set." in result.stdout


def test_a_token_without_scopes_lacks_every_manifest_scope(
    settings: Settings, store: Store, fake_slack: FakeSlack
) -> None:
    fake_slack.scopes = []
    code, output = doctor(settings)
    assert code == 1 and f"the token lacks {', '.join(MANIFEST_BOT_SCOPES)}" in output
