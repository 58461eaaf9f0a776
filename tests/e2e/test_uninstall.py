"""Uninstall and token revocation stop a workspace's nudges and keep its data; a reinstall resumes them; an admin
purges a workspace's rows with `partner-bot workspace purge`."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from bot.app import make_client
from bot.oauth import SlackClients
from bot.scheduler import build_scheduler, scheduled_tick
from bot.settings import Settings
from storage.models import Customer, HomeViewState, Nudge, Workspace
from storage.store import Store
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import BOT_TOKEN, SIGNING_SECRET, TEAM_ID, FakeClock, tick

MON = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)  # Monday 07:00 in New York


def day(n: int) -> datetime:
    """09:00 New York (14:00 UTC) on the n-th day after Monday 30 November 2026."""
    return datetime(2026, 11, 30, 14, 0, tzinfo=UTC) + timedelta(days=n)


@pytest.fixture(autouse=True)
def acme_channel(fake_slack: FakeSlack) -> None:
    fake_slack.add_channel("C0ACME", name="acme", members=["U0001"])  # the bot is a member


def add(store: Store, name: str = "Acme", team_id: str = TEAM_ID, cadence: str = "daily 09:00") -> Customer:
    return store.add_customer(
        team_id=team_id,
        name=name,
        created_by="U0001",
        now=MON,
        channel_id="C0ACME",
        owner_id="U0001",
        tz="America/New_York",
        cadence=cadence,
    )


def posted(fake: FakeSlack) -> list[str]:
    return [str(m["text"]) for m in fake.messages.get("C0ACME", []) if m.get("metadata")]


def workspace(store: Store, team_id: str = TEAM_ID) -> Workspace:
    with Session(store.engine) as session:
        return session.get_one(Workspace, team_id)


def statuses(store: Store) -> dict[str, str]:
    return {n.due_key: n.status for n in store.nudges(team_id=TEAM_ID, kinds=["cadence"], due_after=MON)}


def test_uninstall_stops_nudges_and_keeps_data_and_a_reinstall_resumes_them(
    slack: SlackRequests, store: Store, settings: Settings, clock: FakeClock, fake_slack: FakeSlack
) -> None:
    acme = add(store)
    assert acme.id is not None
    store.record_checkin(team_id=TEAM_ID, customer_id=acme.id, author_id="U0001", mood="green", note="ok", now=MON)
    tick(store, settings, day(1))
    assert len(posted(fake_slack)) == 1
    # Tomorrow's nudge is already queued when the app is uninstalled.
    store.plan_nudge(
        team_id=TEAM_ID, kind="cadence", subject=f"customer:{acme.id}", due_key="2026-12-02", due_at=day(2), now=day(1)
    )
    clock.set(day(1) + timedelta(hours=1))
    assert slack.event({"type": "app_uninstalled"}).status == 200
    uninstalled = workspace(store)
    assert (uninstalled.active, uninstalled.uninstalled_at) == (False, day(1) + timedelta(hours=1))
    assert statuses(store) == {"2026-12-01": "sent", "2026-12-02": "cancelled"}

    # Slack delivering the event again changes nothing; no tick plans or sends anything for the workspace.
    clock.set(day(1) + timedelta(hours=2))
    assert slack.event({"type": "app_uninstalled"}, headers={"X-Slack-Retry-Num": "1"}).status == 200
    assert workspace(store).uninstalled_at == day(1) + timedelta(hours=1)
    for n in (2, 3):
        tick(store, settings, day(n))
    assert len(posted(fake_slack)) == 1
    assert statuses(store) == {"2026-12-01": "sent", "2026-12-02": "cancelled"}
    # All data kept.
    assert [c.name for c in store.customers(team_id=TEAM_ID)] == ["Acme"]
    assert store.count_checkins(team_id=TEAM_ID) == 1

    # Reinstalled: the team's next request reactivates it, and nudges resume (the days in between are not sent).
    clock.set(day(4) - timedelta(hours=1))
    assert slack.command("help").status == 200
    assert (workspace(store).active, workspace(store).uninstalled_at) == (True, None)
    tick(store, settings, day(4))
    assert len(posted(fake_slack)) == 2
    assert statuses(store)["2026-12-04"] == "sent"
    assert statuses(store)["2026-12-03"] == "missed"


@pytest.mark.parametrize("token_works", [True, False])
def test_a_reinstall_with_a_new_token_resumes_nudges_at_the_first_tick_without_any_request(
    slack: SlackRequests,
    store: Store,
    settings: Settings,
    clock: FakeClock,
    fake_slack: FakeSlack,
    token_works: bool,
) -> None:
    add(store)
    clock.set(day(1) + timedelta(hours=1))
    assert slack.event({"type": "app_uninstalled"}).status == 200
    # Reinstalled on Wednesday: a new bot token in SLACK_BOT_TOKEN and a restart; nobody types anything.
    clock.set(day(3))
    if not token_works:  # restarted with the token the uninstall revoked: still uninstalled
        fake_slack.fail_next("auth.test", error="invalid_auth")
    build_scheduler(store=store, client=SlackClients(make_client(settings)), clock=clock, settings=settings)  # as serve
    scheduled_tick()
    assert workspace(store).active is token_works
    assert len(posted(fake_slack)) == (1 if token_works else 0)
    assert len(fake_slack.calls_to("auth.test")) == 1
    clock.set(day(4))
    scheduled_tick()  # the token is checked once a process, not every tick
    assert len(fake_slack.calls_to("auth.test")) == 1
    assert len(posted(fake_slack)) == (2 if token_works else 0)


def test_tokens_revoked_stops_nudges_only_when_the_bot_token_is_revoked(
    slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack
) -> None:
    add(store)
    assert slack.event({"type": "tokens_revoked", "tokens": {"oauth": ["U0001"], "bot": []}}).status == 200
    assert workspace(store).active is True
    assert slack.event({"type": "tokens_revoked", "tokens": {"oauth": [], "bot": ["UBOT"]}}).status == 200
    assert workspace(store).active is False
    tick(store, settings, day(1))
    assert posted(fake_slack) == []


def test_a_nudge_planned_in_a_race_with_the_uninstall_is_never_sent(
    slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack
) -> None:
    acme = add(store)
    assert slack.event({"type": "app_uninstalled"}).status == 200
    # A replica's planner that read the workspace as active a moment before writes its row after the uninstall.
    store.plan_nudge(
        team_id=TEAM_ID, kind="cadence", subject=f"customer:{acme.id}", due_key="2026-12-01", due_at=day(1), now=day(1)
    )
    tick(store, settings, day(1))
    assert posted(fake_slack) == []
    assert statuses(store) == {"2026-12-01": "cancelled"}


@pytest.mark.parametrize("refusal", ["invalid_auth", "account_inactive", "token_revoked", "a glitch"])
def test_a_workspace_whose_uninstall_partner_missed_stops_at_its_first_refused_call_and_a_reinstall_resumes_it(
    slack: SlackRequests,
    store: Store,
    settings: Settings,
    clock: FakeClock,
    fake_slack: FakeSlack,
    refusal: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Uninstalled while Partner was down (the event never reached it): Slack refuses the bot token everywhere. The
    first refused call is checked with auth.test and the workspace goes quiet as the event would have made it, told
    to the operator once, instead of each nudge being tried five times and "failed" and its owner's notice too, each
    day for ever. A token refused once and then accepted (a glitch) is retried and posted once."""
    add(store)
    if refusal == "a glitch":
        fake_slack.fail_next("chat.postMessage", error="invalid_auth")
    else:
        fake_slack.fail_next("*", error=refusal, times=200)
    for minute in range(0, 31, 2):  # half an hour of ticks
        tick(store, settings, day(1) + timedelta(minutes=minute))
    failures = store.nudges(team_id=TEAM_ID, kinds=["delivery_failed"], due_after=MON)
    posts = fake_slack.calls_to("chat.postMessage")
    if refusal == "a glitch":
        assert workspace(store).active is True and failures == []
        assert len(posted(fake_slack)) == 1 and len(posts) == 2  # refused once, then posted once
        return
    assert (workspace(store).active, workspace(store).uninstalled_at) == (False, day(1))
    assert statuses(store) == {"2026-12-01": "cancelled"} and failures == []
    # One refused call (the tick's channel look-up, just before the sender, meets it first), one check.
    refused = len(posts) + len(fake_slack.calls_to("conversations.info"))
    assert refused == 1 and len(fake_slack.calls_to("auth.test")) == 1
    told = [r.getMessage() for r in caplog.records if "treated as uninstalled" in r.getMessage()]
    assert len(told) == 1 and f"Slack refused the bot token ({refusal})" in told[0]
    # Installed again: the team's next request resumes its nudges, from the next call on.
    fake_slack.reset()
    clock.set(day(2) - timedelta(hours=2))
    assert slack.command("help").status == 200
    tick(store, settings, day(2))
    assert workspace(store).active is True and len(posted(fake_slack)) == 1


# `partner-bot workspace purge`


def cli(args: list[str], settings: Settings, cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PARTNER_", "DATABASE_URL"))}
    env = {
        **clean,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": settings.slack_api_url,
        "DATABASE_URL": settings.database_url,
    }
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def counts(output: str) -> dict[str, int]:
    pairs = (line.split(": ") for line in output.splitlines() if ": " in line)
    return {table: int(count) for table, count in pairs}


def rows_of(store: Store, team_id: str) -> dict[str, Any]:
    with Session(store.engine) as session:
        return {
            "customers": len(session.exec(select(Customer).where(Customer.team_id == team_id)).all()),
            "nudges": len(session.exec(select(Nudge).where(Nudge.team_id == team_id)).all()),
            "home_states": len(session.exec(select(HomeViewState).where(HomeViewState.team_id == team_id)).all()),
            "workspace": session.get(Workspace, team_id) is not None,
        }


def test_purge_shows_what_it_would_delete_and_deletes_only_that_workspace_with_yes(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    for team_id in (TEAM_ID, "T0OTHER"):
        acme = add(store, team_id=team_id)
        assert acme.id is not None
        store.record_checkin(team_id=team_id, customer_id=acme.id, author_id="U0001", mood="green", note="", now=MON)
        store.save_home_state(
            team_id=team_id, user_id="U0001", scope="team", show="risk", tier=None, page=0, now=MON
        )  # the filters Dana chose on App Home
    tick(store, settings, day(1))
    before = rows_of(store, TEAM_ID)
    assert before == {"customers": 1, "nudges": 1, "home_states": 1, "workspace": True}

    dry = cli(["workspace", "purge", TEAM_ID], settings, tmp_path)
    assert dry.returncode == 1, dry.stderr
    assert "nothing was deleted" in dry.stderr and "--yes" in dry.stderr
    assert f"note: {TEAM_ID} has not uninstalled Partner" in dry.stderr
    shown = counts(dry.stdout)
    assert {k: shown[k] for k in ("customer", "checkin", "customer_event", "nudge", "home_state", "workspace")} == {
        "customer": 1,
        "home_state": 1,
        "checkin": 1,
        "customer_event": 1,
        "nudge": 1,
        "workspace": 1,
    }
    assert rows_of(store, TEAM_ID) == before

    done = cli(["workspace", "purge", TEAM_ID, "--yes"], settings, tmp_path)
    assert done.returncode == 0, done.stderr
    assert counts(done.stdout) == shown
    assert f"deleted {sum(shown.values())} row(s) of workspace {TEAM_ID}" in done.stderr
    assert rows_of(store, TEAM_ID) == {"customers": 0, "nudges": 0, "home_states": 0, "workspace": False}
    assert rows_of(store, "T0OTHER") == {"customers": 1, "nudges": 1, "home_states": 1, "workspace": True}

    # A mistyped (or already purged) ID deletes nothing, and names the workspaces the database does hold.
    typo = cli(["workspace", "purge", "T0OTHRE", "--yes"], settings, tmp_path)
    assert typo.returncode == 0 and "no rows of workspace T0OTHRE in this database (workspaces: T0OTHER)" in typo.stderr
    assert rows_of(store, "T0OTHER") == {"customers": 1, "nudges": 1, "home_states": 1, "workspace": True}

    bad = cli(["workspace", "purge", "acme"], settings, tmp_path)
    assert bad.returncode == 2 and "'acme' is not a Slack team ID" in bad.stderr
