"""Several replicas, one database: every due nudge reaches Slack exactly once, even when a replica is killed with
SIGKILL while it holds claimed and half-sent nudges.

Three real `partner-bot serve --http` processes with their schedulers on share one PostgreSQL database and the fake
Slack. Their clocks start at 09:00 New York on a Tuesday (PARTNER_CLOCK_START, a test-only setting) and tick every
two seconds (PARTNER_TICK_SECONDS, test-only), so 500 customers' daily calls come due at once. Once the fake has
received part of the posts, a replica holding claims is killed. Its leases keep those rows from the survivors
until they run out; the survivors send everything else and stop, and the time passing is a `partner-bot tick
--now` ten minutes later, run by three processes at once, as the replicas' next ticks would be. Rows it was
posting are resolved from the channels' history (found → sent; not there → sent now).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import Session, col, select

from storage.db import make_engine, upgrade
from storage.models import Customer, Nudge
from storage.nudges import NudgePlan
from storage.store import Store
from tests.e2e.test_crash import Served
from tests.fake_slack import FakeSlack
from tests.utils import BOT_TOKEN, SIGNING_SECRET, TEAM_ID

CUSTOMERS = 500
MON = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
NINE_NY = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)  # Tuesday 09:00 in New York: every customer's daily call


def add_customers(store: Store, fake: FakeSlack, count: int) -> None:
    """`count` customers with a daily 09:00 call, each in a channel of its own (pacing is per channel)."""
    store.ensure_workspace(team_id=TEAM_ID, now=MON)
    with Session(store.engine) as session:
        for i in range(count):
            channel = f"C{i:06d}"
            fake.add_channel(channel, name=f"customer-{i}", members=["U0001"])  # the bot is a member
            session.add(
                Customer(
                    team_id=TEAM_ID,
                    name=f"Customer {i}",
                    name_key=f"customer {i}",
                    created_by="U0001",
                    created_at=MON,
                    updated_at=MON,
                    channel_id=channel,
                    owner_id="U0001",
                    tz="America/New_York",
                    cadence="daily 09:00",
                    health_at=NINE_NY,  # today's health score is done: the ticks are about nudges
                    channel_shared_checked_at=MON,  # looked up when added, as `/partner add` does
                )
            )
        session.commit()


def environment(fake: FakeSlack, database_url: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PARTNER_", "DATABASE_URL"))}
    return {
        **clean,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake.api_url,
        "DATABASE_URL": database_url,
        "PARTNER_CLOCK_START": NINE_NY.isoformat(),
        "PARTNER_TICK_SECONDS": "2",
    }


def posts_per_nudge(fake: FakeSlack) -> Counter[int]:
    """How many times each nudge id reached Slack (from the metadata every nudge post carries)."""
    counts: Counter[int] = Counter()
    for call in fake.calls_to("chat.postMessage"):
        metadata = call.params.get("metadata") or {}
        if call.ok and metadata.get("event_type") == "partner_nudge":
            counts.update(int(i) for i in str(metadata["event_payload"]["nudge_ids"]).split(","))
    return counts


def holding(store: Store) -> Counter[int]:
    """Unsent rows per process id of the replica holding their lease (the claimer names host:pid:run)."""
    with Session(store.engine) as session:
        claimers = session.exec(
            select(Nudge.claimed_by).where(col(Nudge.status).in_(("pending", "claimed", "sending")))
        ).all()
    return Counter(int(str(c).split(":")[1]) if c else 0 for c in claimers)


def planned(store: Store) -> int:
    with Session(store.engine) as session:
        return len(session.exec(select(Nudge.id).where(Nudge.kind == "cadence")).all())


def nudge_rows(store: Store) -> list[Nudge]:
    with Session(store.engine) as session:
        return list(session.exec(select(Nudge).where(Nudge.kind == "cadence")))


def tick(env: dict[str, str], cwd: Path, now: datetime) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "tick", "--now", now.isoformat()],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def wait_until(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("scratch_database", ["postgres"], indirect=True)
def test_three_replicas_send_every_nudge_exactly_once_though_one_is_killed_mid_run(
    store: Store, fake_slack: FakeSlack, database_url: str, tmp_path: Path
) -> None:
    add_customers(store, fake_slack, CUSTOMERS)
    env = environment(fake_slack, database_url)
    replicas = [ReplicaProcess(env, tmp_path, i) for i in range(3)]
    try:
        for replica in replicas:
            replica.wait_healthy()
        # Mid-run: part of the posts are out, and some replica holds claimed or half-sent rows.
        wait_until(lambda: len(fake_slack.calls_to("chat.postMessage")) >= CUSTOMERS // 5, 60, "the first posts")
        victim, held = None, 0
        deadline = time.monotonic() + 30
        while victim is None and time.monotonic() < deadline:
            holders = holding(store)
            victim = next((r for r in replicas if holders.get(r.process.pid)), None)
            held = holders.get(victim.process.pid, 0) if victim else 0
            time.sleep(0.02)
        assert victim is not None, "no replica held a claim: all was sent before the kill"
        victim.process.send_signal(signal.SIGKILL)
        victim_pid = f":{victim.process.pid}:"
        victim.process.wait(timeout=10)
        survivors = [r for r in replicas if r is not victim]

        # The survivors send everything not leased to the dead replica, then stop.
        def settled() -> bool:
            return planned(store) == CUSTOMERS and set(holding(store)) <= {victim.process.pid}

        wait_until(settled, 60, "the survivors to send what they can")
        stuck = Counter(n.status for n in nudge_rows(store) if n.status != "sent" and victim_pid in str(n.claimed_by))
        assert stuck, "the dead replica's leased rows wait for their leases to run out"
        for replica in survivors:
            replica.process.send_signal(signal.SIGTERM)
            replica.process.wait(timeout=30)
        # Ten minutes later the dead replica's leases are over: three replicas tick at once and finish its work.
        later = NINE_NY + timedelta(minutes=10)
        with ThreadPoolExecutor(3) as pool:
            results = list(pool.map(lambda _: tick(env, tmp_path, later), range(3)))
        for result in results:
            assert result.returncode == 0, result.stderr
    finally:
        for replica in replicas:
            replica.stop()

    rows = nudge_rows(store)
    assert len(rows) == CUSTOMERS
    assert Counter(n.status for n in rows) == {"sent": CUSTOMERS}
    counts = posts_per_nudge(fake_slack)
    assert set(counts) == {n.id for n in rows}, "every nudge reached Slack"
    duplicates = {i: c for i, c in counts.items() if c != 1}
    assert not duplicates, f"posted more than once: {duplicates}"
    if stuck["sending"]:  # what the dead replica was posting was looked up, not guessed
        assert fake_slack.calls_to("conversations.history")
    print(f"\nkilled replica held {held} unsent nudges; left to the later ticks: {dict(stuck)}")


@pytest.mark.parametrize("scratch_database", ["sqlite"], indirect=True)
def test_two_tick_processes_on_one_sqlite_file_send_each_nudge_once(
    store: Store, fake_slack: FakeSlack, database_url: str, tmp_path: Path
) -> None:
    """SQLite has one writer at a time (BEGIN IMMEDIATE around each claim); two processes ticking at once still
    plan each nudge once (the unique key) and send it once (the claim)."""
    add_customers(store, fake_slack, 200)
    env = environment(fake_slack, database_url)
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: tick(env, tmp_path, NINE_NY), range(2)))
    for result in results:
        assert result.returncode == 0, result.stderr
    if {n.status for n in nudge_rows(store)} != {"sent"}:
        # On a loaded machine a post can outlast the client's timeout: its row stays `sending` (posted or not, nobody
        # knows yet) until the next tick after its lease looks it up in the channel's history — as it does here.
        assert tick(env, tmp_path, NINE_NY + timedelta(minutes=10)).returncode == 0
    rows = nudge_rows(store)
    assert len(rows) == 200 and {n.status for n in rows} == {"sent"}
    counts = posts_per_nudge(fake_slack)
    assert set(counts) == {n.id for n in rows} and set(counts.values()) == {1}


class ReplicaProcess(Served):
    """`partner-bot serve --http` with its scheduler on (Served, from the crash test, runs without one)."""

    def __init__(self, env: dict[str, str], cwd: Path, index: int) -> None:
        from tests.e2e.test_crash import free_port

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = (cwd / f"replica-{index}.log").open("a")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", "--http", "--host", "127.0.0.1", "--port", str(self.port)],
            env=env,
            cwd=cwd,
            stdout=self.log,
            stderr=self.log,
        )


@pytest.mark.parametrize("scratch_database", ["postgres"], indirect=True)
def test_a_claim_skips_rows_another_replica_holds_locked_instead_of_waiting(store: Store) -> None:
    for key in "abcd":
        store.plan_nudge(team_id=TEAM_ID, kind="cadence", subject="team", due_key=key, due_at=NINE_NY, now=NINE_NY)
    ids = sorted(n.id for n in nudge_rows(store) if n.id is not None)
    with store.engine.connect() as other:  # another replica, in the middle of its own claim
        other.execute(select(Nudge.id).where(col(Nudge.id).in_(ids[:2])).with_for_update())
        pool = ThreadPoolExecutor(1)
        claim = pool.submit(
            store.claim_nudges, now=NINE_NY, lease_until=NINE_NY + timedelta(minutes=2), claimer="h:1:run"
        )
        try:
            claimed = claim.result(timeout=10)  # without waiting for the other transaction
        finally:
            other.rollback()
            pool.shutdown(wait=True)
        assert sorted(n.id for n in claimed) == ids[2:]
    rest = store.claim_nudges(now=NINE_NY, lease_until=NINE_NY + timedelta(minutes=2), claimer="h:2:run")
    assert sorted(n.id for n in rest) == ids[:2]


def test_statements_that_pick_outbox_rows_by_id_seek_them_by_primary_key(tmp_path: Path) -> None:
    # SQLite has no statistics: a status check beside `id IN (…)` made it read every row of that status through
    # ix_nudge_status_due, once per statement (a 10,000-nudge fan-out: all of them, per 500-id chunk).
    engine = make_engine(f"sqlite:///{tmp_path / 'outbox.db'}")
    upgrade(engine)
    store = Store(engine)
    now = datetime(2026, 11, 25, 9, tzinfo=UTC)
    lease = now + timedelta(minutes=2)
    plans = [NudgePlan(kind="cadence", subject=f"c{i}", due_key="2026-11-25", due_at=now) for i in range(200)]
    store.plan_nudges(team_id=TEAM_ID, plans=plans, now=now)
    plans_of: dict[str, list[str]] = {}

    @event.listens_for(engine, "before_cursor_execute")
    def explain(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if re.search(r"\bnudge\.id (IN|=)", statement):
            params = parameters[0] if executemany else parameters
            found = cursor.connection.execute("EXPLAIN QUERY PLAN " + statement, params).fetchall()
            plans_of[" ".join(statement.split())] = [row[3] for row in found]

    ids = [n.id for n in store.claim_nudges(now=now, lease_until=lease, claimer="a", limit=100) if n.id is not None]
    store.mark_sending(groups=[([i], "C1") for i in ids[:40]], claimer="a", now=now, lease_until=lease)
    store.mark_sent(posts=[([i], "C1", f"1.{i}") for i in ids[:10]], claimer="a", now=now)
    store.mark_destination(ids=ids[10:20], claimer="a", destination="U1")
    store.finish_nudges(ids=ids[20:30], claimer="a", status="pending", next_attempt_at=now)
    store.finish_nudges(ids=ids[40:50], claimer="a", status="failed", error="channel_not_found")
    taken = store.claim_unconfirmed(stale_before=now + timedelta(hours=1), claimer="b", lease_until=lease)
    store.resolve_unconfirmed(
        claimer="b", now=now, found=[(taken[0].id or 0, "C1", "2.1")], not_posted=[n.id or 0 for n in taken[1:5]]
    )
    assert len(plans_of) >= 8, plans_of  # each of the statements above was seen
    by_status = {sql: plan for sql, plan in plans_of.items() if any("ix_nudge_status_due" in step for step in plan)}
    assert not by_status, by_status


@pytest.mark.parametrize("scratch_database", ["sqlite"], indirect=True)
def test_the_one_sqlite_serve_killed_mid_run_and_started_again_sends_every_nudge_once(
    store: Store, fake_slack: FakeSlack, database_url: str, tmp_path: Path
) -> None:
    """README's default deployment, one `serve` on SQLite, SIGKILLed while it holds claimed and half-sent nudges,
    then started again ten minutes later (its leases over): nothing lost, nothing posted twice."""
    count = CUSTOMERS // 5
    add_customers(store, fake_slack, count)
    # A slow Slack keeps the run going for seconds whatever the machine's speed, so the kill lands mid-run (at
    # 0.05 s an answer a quiet machine sent all 100 between two polls); some posts are answered after the kill.
    fake_slack.fail_next("chat.postMessage", delay=0.5, times=count, answered_late=True)
    env = environment(fake_slack, database_url)
    first = ReplicaProcess(env, tmp_path, 0)
    try:
        first.wait_healthy()
        wait_until(lambda: holding(store).get(first.process.pid, 0) > 0, 60, "the first claims")
        wait_until(lambda: len(fake_slack.calls_to("chat.postMessage")) >= count // 5, 60, "the first posts")
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(timeout=10)
    finally:
        first.stop()
    left = Counter(n.status for n in nudge_rows(store) if n.status != "sent")
    assert left, "the kill came after everything was sent"

    env["PARTNER_CLOCK_START"] = (NINE_NY + timedelta(minutes=10)).isoformat()
    again = ReplicaProcess(env, tmp_path, 1)
    try:
        again.wait_healthy()
        wait_until(lambda: Counter(n.status for n in nudge_rows(store)) == {"sent": count}, 90, "every nudge sent")
    finally:
        again.stop()
    counts = posts_per_nudge(fake_slack)
    assert set(counts) == {n.id for n in nudge_rows(store)}, "every nudge reached Slack"
    assert {i: c for i, c in counts.items() if c != 1} == {}, "posted more than once"
    print(f"\nleft by the kill: {dict(left)}")
