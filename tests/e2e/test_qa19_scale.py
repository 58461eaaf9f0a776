"""Production scale and hardening, found by qa19scale: what an operator sees when Slack is busy or gone."""

from __future__ import annotations

import signal
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session

from bot.app import make_client
from bot.settings import Settings
from schedules.cadence import plan_nudges
from storage.models import Customer
from storage.store import Store
from tests.e2e.test_cli import run
from tests.e2e.test_doctor import add_customer, doctor, lines
from tests.e2e.test_oauth import T1, T2, T3, install, installation
from tests.e2e.test_replicas import (
    MON,
    NINE_NY,
    ReplicaProcess,
    environment,
    holding,
    nudge_rows,
    posts_per_nudge,
    wait_until,
)
from tests.e2e.test_replicas import tick as tick_process
from tests.e2e.test_uninstall import acme_channel, add, day, posted, tick, workspace  # noqa: F401 (fixture)
from tests.fake_slack import FakeSlack
from tests.utils import TEAM_ID, FakeClock


@pytest.mark.parametrize("fault", [{"status": 429, "retry_after": 2}, {"status": 500}, {"status": 429}])
def test_the_doctor_stops_asking_about_channels_once_slack_is_rate_limiting_or_failing_and_says_how_many_wait(
    settings: Settings, store: Store, clock: FakeClock, fake_slack: FakeSlack, fault: dict[str, int]
) -> None:
    """A team with 30 customer channels runs `partner-bot doctor` while Slack rate-limits conversations.info
    (Tier 3: about 50 a minute) with a Retry-After of 2 s, or fails with 5xx. Each channel waited out its own
    Retry-After and then failed too: a minute at the prompt, thirty identical FAIL lines and thirty more calls into
    the rate limit. Once Slack does not answer for one channel, the others are not asked: one line says how many
    were not checked and to run it again."""
    for n in range(30):
        fake_slack.add_channel(f"C0CH{n:02d}", name=f"customer-{n:02d}", members=["U0001"])
        add_customer(store, clock, f"Customer {n:02d}", f"C0CH{n:02d}")
    fake_slack.fail_next("conversations.info", times=100, **fault)  # type: ignore[arg-type]
    started = time.monotonic()
    code, output = doctor(settings)
    took = time.monotonic() - started
    assert code == 1, output
    failures = lines(output, "FAIL", "channels")
    assert len(failures) == 1, output
    assert "<#C0CH00> of Customer 00: Slack did not answer" in failures[0], output
    assert "the 29 other customer channel(s) were not checked" in failures[0], output
    assert "partner-bot doctor` again" in output
    assert len(fake_slack.calls_to("conversations.info")) <= 3  # one channel and its retries
    assert took < 8, took


# --------------------------------------------------------------------------------------------- replicas, OAuth

OAUTH_TEAMS = (T1, T2)
PER_TEAM = 250


def oauth_environment(fake: FakeSlack, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in environment(fake, database_url).items() if k != "SLACK_BOT_TOKEN"}
    return {**env, "SLACK_CLIENT_ID": fake.client_id, "SLACK_CLIENT_SECRET": fake.client_secret}


def add_team_customers(store: Store, fake: FakeSlack, team_id: str, count: int) -> None:
    """`count` customers of `team_id` with a daily 09:00 call, each in a channel of its own."""
    with Session(store.engine) as session:
        for i in range(count):
            channel = f"C{team_id[1:3]}{i:05d}"
            fake.add_channel(channel, name=f"{team_id.lower()}-customer-{i}", members=["U0001"])
            session.add(
                Customer(
                    team_id=team_id,
                    name=f"Customer {i}",
                    name_key=f"customer {i}",
                    created_by="U0001",
                    created_at=MON,
                    updated_at=MON,
                    channel_id=channel,
                    owner_id="U0001",
                    tz="America/New_York",
                    cadence="daily 09:00",
                    health_at=NINE_NY,
                    channel_shared_checked_at=MON,
                )
            )
        session.commit()


@pytest.mark.parametrize("scratch_database", ["postgres"], indirect=True)
def test_three_oauth_replicas_send_each_workspaces_nudges_once_with_its_own_token_though_one_is_killed(
    store: Store, fake_slack: FakeSlack, database_url: str, tmp_path: Path
) -> None:
    """Production as issue 8 describes it: three `serve --http` replicas in OAuth mode on one PostgreSQL. Two
    workspaces install Partner through one replica's install page; a third installs, then uninstalls while Partner
    misses the event (Slack refuses its token everywhere). Every customer's 09:00 call comes due at once, a
    replica holding claims is killed mid-run, and the later ticks finish its work: each installed workspace's nudges
    reach Slack exactly once, each with that workspace's own token, and the workspace that left holds none of them
    up and gets nothing."""
    env = oauth_environment(fake_slack, database_url)
    replicas = [ReplicaProcess({**env, "PARTNER_TICK_SECONDS": "3600"}, tmp_path, 0)]
    try:
        replicas[0].wait_healthy()
        for team_id in (*OAUTH_TEAMS, T3):
            assert install(replicas[0].url, fake_slack, team_id).status == 200
    finally:
        replicas[0].stop()
    oauth = Settings.from_mapping({**env, "PARTNER_CLOCK_START": "", "PARTNER_TICK_SECONDS": ""})
    gone = installation(oauth, store, T3)
    assert gone is not None
    with fake_slack._lock:
        del fake_slack.installs[gone.bot_token or ""]
    add_team_customers(store, fake_slack, T3, 20)  # first in line: its refused posts must hold up nobody
    for team_id in OAUTH_TEAMS:
        add_team_customers(store, fake_slack, team_id, PER_TEAM)
    expected = PER_TEAM * len(OAUTH_TEAMS)

    replicas = [ReplicaProcess(env, tmp_path, i) for i in range(3)]
    try:
        for replica in replicas:
            replica.wait_healthy()
        wait_until(lambda: len(fake_slack.calls_to("chat.postMessage")) >= expected // 10, 60, "the first posts")
        victim = None
        deadline = time.monotonic() + 30
        while victim is None and time.monotonic() < deadline:
            holders = holding(store)
            victim = next((r for r in replicas if holders.get(r.process.pid)), None)
            time.sleep(0.02)
        assert victim is not None, "no replica held a claim: all was sent before the kill"
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait(timeout=10)
        survivors = [r for r in replicas if r is not victim]
        wait_until(lambda: set(holding(store)) <= {victim.process.pid, 0}, 60, "the survivors to send what they can")
        for replica in survivors:
            replica.process.send_signal(signal.SIGTERM)
            replica.process.wait(timeout=30)
        later = NINE_NY + timedelta(minutes=10)
        with ThreadPoolExecutor(3) as pool:
            results = list(pool.map(lambda _: tick_process(env, tmp_path, later), range(3)))
        for result in results:
            assert result.returncode == 0, result.stderr
    finally:
        for replica in replicas:
            replica.stop()

    rows = [n for n in nudge_rows(store) if n.team_id in OAUTH_TEAMS]
    assert Counter(n.status for n in rows) == {"sent": expected}
    counts = posts_per_nudge(fake_slack)
    assert set(counts) == {n.id for n in rows}, "every installed workspace's nudge reached Slack, nothing of T3's"
    assert not {i: c for i, c in counts.items() if c != 1}, "posted more than once"
    team_of_nudge = {n.id: n.team_id for n in rows}
    for call in fake_slack.calls_to("chat.postMessage"):
        metadata = call.params.get("metadata") or {}
        if call.ok and metadata.get("event_type") == "partner_nudge":
            ids = [int(i) for i in str(metadata["event_payload"]["nudge_ids"]).split(",")]
            assert {team_of_nudge[i] for i in ids} == {fake_slack.team_of(call)}, "posted with another's token"
    assert workspace(store, T3).active is False
    assert all(n.status == "cancelled" for n in nudge_rows(store) if n.team_id == T3)


# --------------------------------------------------------------------------------------------- a dead sender's posts


def left_sending_by_a_dead_sender(store: Store, settings: Settings) -> int:
    """Acme's 09:00 call, marked "sending" by a sender killed before Slack answered its post (it never made it)."""
    add(store)
    plan_nudges(store=store, client=make_client(settings), now=day(1))
    (nudge,) = store.claim_nudges(now=day(1), lease_until=day(1) + timedelta(minutes=2), claimer="gone:1:run")
    assert nudge.id is not None
    store.mark_sending(
        groups=[([nudge.id], "C0ACME")], claimer="gone:1:run", now=day(1), lease_until=day(1) + timedelta(minutes=2)
    )
    return nudge.id


def status_of(store: Store, nudge_id: int) -> tuple[str, str | None]:
    (nudge,) = [n for n in nudge_rows(store) if n.id == nudge_id]
    return nudge.status, nudge.error


@pytest.mark.parametrize(
    "fault",
    [{"status": 429, "retry_after": 60}, {"status": 500, "times": 3}, {"error": "internal_error"}],
    ids=["ratelimited", "500", "internal_error"],
)
def test_a_dead_senders_post_whose_history_slack_cannot_read_now_is_looked_for_again_not_recorded_sent(
    store: Store, settings: Settings, fake_slack: FakeSlack, fault: dict[str, int]
) -> None:
    """A replica was killed while posting Acme's 09:00 call (Slack never made the post). The replica that takes
    over reads #acme's history to find out, and Slack is busy: conversations.history rate-limited (Retry-After 60 s:
    a tick does not sleep that long) or failing. That said nothing about the post, yet the nudge was recorded sent
    ("unconfirmed") and never posted: a lost reminder. It is looked for again at a later tick, then posted once."""
    nudge_id = left_sending_by_a_dead_sender(store, settings)
    fake_slack.fail_next("conversations.history", **fault)  # type: ignore[arg-type]  (500: slack-sdk's retries too)
    tick(store, settings, day(1) + timedelta(minutes=5))
    assert status_of(store, nudge_id)[0] == "sending" and posted(fake_slack) == []
    tick(store, settings, day(1) + timedelta(minutes=6))  # within its new lease: nobody takes it
    assert status_of(store, nudge_id)[0] == "sending" and posted(fake_slack) == []
    for minutes in (10, 12):  # Slack answers now: not there, so it is posted, once
        tick(store, settings, day(1) + timedelta(minutes=minutes))
    assert status_of(store, nudge_id) == ("sent", None) and len(posted(fake_slack)) == 1


def test_a_dead_senders_post_in_a_workspace_that_left_meanwhile_is_cancelled_and_the_workspace_stopped(
    store: Store, settings: Settings, fake_slack: FakeSlack
) -> None:
    """The workspace uninstalled Partner while a replica was posting and Partner missed the event: its history is
    refused (invalid_auth) as every post would be. The nudge was recorded sent ("unconfirmed") and the workspace kept
    active until some later post was refused; auth.test confirms the token is dead: the workspace is treated as
    uninstalled at once and the nudge cancelled as its other queued ones."""
    nudge_id = left_sending_by_a_dead_sender(store, settings)
    fake_slack.fail_next("*", error="invalid_auth", times=50)
    tick(store, settings, day(1) + timedelta(minutes=5))
    assert workspace(store, TEAM_ID).active is False
    assert status_of(store, nudge_id)[0] == "cancelled" and posted(fake_slack) == []


# --------------------------------------------------------------------------------------------- serve's --host


@pytest.mark.parametrize("scratch_database", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("host", "says"),
    [
        ("10.255.255.1", "Cannot assign requested address"),  # another machine's address
        ("partner.invalid", "Invalid host/port specified"),  # a name that does not resolve (a typo)
    ],
)
def test_serve_on_a_host_it_cannot_listen_on_says_to_fix_the_host_in_one_line(
    fake_slack: FakeSlack, database_url: str, tmp_path: Path, host: str, says: str
) -> None:
    """An operator types the load balancer's address, or mistypes the host name: a name that does not resolve
    ended `serve` with a traceback (waitress' ValueError) and an address of another machine was told to set PORT."""
    command = ["serve", "--http", "--host", host, "--port", "38125", "--no-scheduler"]
    result = run(command, environment(fake_slack, database_url), tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert f"partner-bot: cannot listen on {host}:38125: {says}" in result.stderr
    assert "(set --host to an address of this machine, or 0.0.0.0)" in result.stderr
