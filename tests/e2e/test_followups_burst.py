"""The check-in's cost: the follow-ups of a burst fold together; the ack reads only what it needs."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from bot.app import create_app, make_client
from bot.settings import Settings
from handlers.blocks import mrkdwn_name
from schedules.cadence import send_nudges
from schedules.health import health_config, recompute_health
from storage.checkins import OWNER_ALERT
from storage.customers import _NAMED_FROM_SQLITE
from storage.db import make_engine, upgrade
from storage.models import Customer
from storage.store import Store
from tests.e2e.test_acceptance_37 import owner_dms
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import SIGNING_SECRET, TEAM_ID, BotServer, FakeClock


def ok(response: Any) -> dict[str, Any]:
    assert response.status == 200, response.text
    return response.json() if response.body else {}


def test_a_burst_of_twenty_checkins_is_two_follow_up_runs_one_summary_and_a_score_counting_them_all(
    slack: SlackRequests, store: Store, settings: Settings, clock: FakeClock, fake_slack: FakeSlack, bot: BotServer
) -> None:
    ok(slack.command("add Acme Corp <#C0ACME|acme> <@U0001|dana> tz=UTC"))
    (customer,) = store.customers(team_id=TEAM_ID)
    assert customer.id is not None
    first_run, release = threading.Event(), threading.Event()

    def hold_the_first_run(key: Any) -> None:
        if key == (TEAM_ID, customer.id) and not first_run.is_set():
            first_run.set()
            assert release.wait(30)

    followups = bot.app.after_ack.checkin_followups
    runs_before, coalesced_before = followups.runs, followups.coalesced
    followups.before_run = hold_the_first_run
    try:
        ok(slack.command("checkin acme green burst note 0", user_id="U0002"))
        assert first_run.wait(30)
        # 19 more while the first follow-up is going: each joins the one run owed after it, at hand-over.
        for n in range(1, 20):
            clock.advance(minutes=1)
            ok(slack.command(f"checkin acme red burst note {n}", user_id="U0002"))
        assert followups.coalesced - coalesced_before == 19
        release.set()
        bot.settle()
    finally:
        followups.before_run = None
        release.set()

    assert followups.runs - runs_before == 2
    # One message in the customer's channel, edited to list the whole burst.
    to_channel = [c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "C0ACME"]
    updates = fake_slack.calls_to("chat.update")
    assert (len(to_channel), len(updates)) == (1, 1)
    (summary,) = fake_slack.messages["C0ACME"]
    assert all(f"burst note {n}\n" in summary["text"] + "\n" for n in range(20)), summary["text"]
    assert {c.summary_ts for c in store.checkins(team_id=TEAM_ID)} == {summary["ts"]}
    # The score counts every check-in of the burst: the same as scoring now, from scratch.
    stored = store.customer(team_id=TEAM_ID, customer_id=customer.id)
    assert stored is not None and stored.health_at == clock()
    one_by_one = recompute_health(store, TEAM_ID, customer.id, clock(), config=health_config(settings))
    assert one_by_one is not None and stored.health_score == one_by_one.score
    # The owner hears of each red check-in, folded or not.
    alerts = [c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "U0001"]
    assert sorted(a.params["text"].rsplit("burst note ", 1)[1] for a in alerts) == sorted(str(n) for n in range(1, 20))
    # After the burst, the next check-in is a reply in the day's thread, as before.
    ok(slack.command("checkin acme yellow later that day", user_id="U0002"))
    bot.settle()
    reply = fake_slack.messages["C0ACME"][-1]
    assert reply["thread_ts"] == summary["ts"] and "later that day" in reply["text"]


def test_checkins_waiting_for_a_free_worker_fold_into_one_follow_up(
    slack: SlackRequests, store: Store, fake_slack: FakeSlack, bot: BotServer
) -> None:
    for name in ("Globex", "Initech"):
        fake_slack.add_channel(f"C0{name.upper()}", name=name.lower())
    for name in ("Acme", "Globex", "Initech"):
        ok(slack.command(f"add {name} <#C0{name.upper()}|{name.lower()}> tz=UTC"))
    ids = {c.name: c.id for c in store.customers(team_id=TEAM_ID)}
    busy = {(TEAM_ID, ids["Acme"]), (TEAM_ID, ids["Globex"])}
    started, release = threading.Semaphore(0), threading.Event()

    def hold_both_workers(key: Any) -> None:
        if key in busy:
            busy.discard(key)
            started.release()
            assert release.wait(30)

    followups = bot.app.after_ack.checkin_followups
    runs_before = followups.runs
    followups.before_run = hold_both_workers
    try:
        ok(slack.command("checkin acme green hold one worker"))
        ok(slack.command("checkin globex green hold the other"))
        assert started.acquire(timeout=30) and started.acquire(timeout=30)
        # Both workers are busy: Initech's five check-ins wait in the queue, as one follow-up.
        for n in range(5):
            ok(slack.command(f"checkin initech green queued note {n}"))
        release.set()
        bot.settle()
    finally:
        followups.before_run = None
        release.set()

    assert followups.runs - runs_before == 3
    (summary,) = fake_slack.messages["C0INITECH"]
    assert all(f"queued note {n}" in summary["text"] for n in range(5)), summary["text"]
    assert len([c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "C0INITECH"]) == 1


def _eventually(check: Callable[[], bool]) -> bool:
    """Polls briefly for what other threads are doing (no clock involved)."""
    waiter = threading.Event()
    for _ in range(1000):
        if check():
            return True
        waiter.wait(0.01)
    return check()


def test_a_checkin_reads_only_the_customers_its_name_can_match(slack: SlackRequests, store: Store) -> None:
    for n in range(30):
        ok(slack.command(f"add Customer {n:02d}"))
    ok(slack.command("add Acme Corp"))
    loaded: list[str] = []

    def count(target: Customer, context: Any) -> None:
        if not threading.current_thread().name.startswith("partner-lazy"):  # the ack path, not the follow-ups
            loaded.append(target.name)

    event.listen(Customer, "load", count)
    try:
        reply = ok(slack.command("checkin acme green kickoff went well"))
    finally:
        event.remove(Customer, "load", count)
    assert "Acme Corp" in reply["text"]
    assert set(loaded) == {"Acme Corp"}
    # A miss still gets its "did you mean", from every name, archived ones included: each read once.
    ok(slack.command("archive customer 07"))
    loaded.clear()
    event.listen(Customer, "load", count)
    try:
        missed = ok(slack.command("checkin acmme green kickoff"))["text"]
    finally:
        event.remove(Customer, "load", count)
    assert "No customer matches 'acmme' — did you mean Acme Corp?" in missed
    assert sorted(loaded) == sorted(["Acme Corp", *(f"Customer {n:02d}" for n in range(30))])
    assert "*Customer 07* is archived" in ok(slack.command("checkin customer 07 green kickoff"))["text"]


def ack_statements(store: Store) -> tuple[list[str], Callable[[], None]]:
    """SQL statements run on the answering thread (not the follow-ups')."""
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not threading.current_thread().name.startswith("partner-lazy"):
            statements.append(" ".join(statement.split()))

    event.listen(store.engine, "before_cursor_execute", count)
    return statements, lambda: event.remove(store.engine, "before_cursor_execute", count)


def test_a_checkin_is_answered_with_one_lookup_and_one_insert_and_old_names_still_count(
    slack: SlackRequests, store: Store, clock: FakeClock
) -> None:
    ok(slack.command("add Acme Corp"))
    ok(slack.command("add Globex"))
    ok(slack.command("edit globex name=Initech"))  # a rename whose old name cannot start with "acme"
    statements, stop = ack_statements(store)
    try:
        assert "Logged a green check-in for *Acme Corp*" in ok(slack.command("checkin acme green kickoff"))["text"]
    finally:
        stop()
    # The customer (with "may a former name start with 'acme'?" in the same statement), then the insert.
    assert [s.split(" ")[0] for s in statements] == ["SELECT", "INSERT"], statements
    assert "customer_event" in statements[0] and "checkin" in statements[1]
    # Former names are still read when one can be what was typed: a whole old name beats a prefix of a new one.
    ok(slack.command("edit acme name=Acme Group"))
    assert ok(slack.command("checkin acme corp green kickoff"))["text"] == (
        "'acme corp' was renamed to *Acme Group*; use the new name.\n"
        "You typed: `/partner checkin acme corp green kickoff`"
    )
    assert "Logged a green check-in for *Initech*" in ok(slack.command("checkin initech green ok"))["text"]
    assert "was renamed to *Initech*" in ok(slack.command("checkin GLOBEX green ok"))["text"]
    # LIKE's wildcards in a name are plain characters: "a_b" is not a prefix of "axb c".
    ok(slack.command("add a_b"))
    ok(slack.command("add axb c"))
    # The name's underscore is shown as typed, not as the start of italics (mrkdwn_name).
    assert f"Logged a green check-in for *{mrkdwn_name('a_b')}*" in ok(slack.command("checkin a_b green ok"))["text"]
    # A retried check-in finds the first row: one row, the same answer.
    first = ok(slack.command("checkin acme green once", trigger_id="7.7.same"))["text"]
    again = ok(slack.command("checkin acme green once", trigger_id="7.7.same", retry_num=1))["text"]
    assert first == again and [c.note for c in store.checkins(team_id=TEAM_ID)].count("once") == 1


def test_the_acks_customer_lookup_seeks_the_typed_name_and_reads_the_teams_renames_not_its_history(
    tmp_path: Path,
) -> None:
    # SQLite's plan (PostgreSQL's depends on its statistics), on a database migrated as `partner-bot db upgrade` does.
    engine = make_engine(f"sqlite:///{tmp_path / 'plan.db'}")
    upgrade(engine)
    sql = str(_NAMED_FROM_SQLITE.compile(engine, compile_kwargs={"render_postcompile": True}))
    with engine.connect() as conn:
        plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql.replace("?", "'x'")).fetchall()
    engine.dispose()
    steps = " | ".join(str(row[-1]) for row in plan)
    assert "customer_event USING INDEX ix_customer_event_team_kind (team_id=? AND kind=?)" in steps, steps
    assert "(team_id=? AND name_key>? AND name_key<?)" in steps, steps


@pytest.mark.parametrize(
    ("name", "typed"),
    [
        ("Zoë Ltd", "zoë"),
        ("Émile & Co", "émile"),
        ("日本商事", "日本"),
        ("a_b", "a_b"),
        ("Straße AG", "strasse"),
        ("z", "z"),
    ],
)
def test_a_checkin_finds_names_of_any_script_by_their_start(
    slack: SlackRequests, store: Store, name: str, typed: str
) -> None:
    # Neighbours in code point order, none starting with what is typed.
    for other in ("Zoe", "Zz Top", "Émilf", "Émild", "日曜", "日", "Strasbourg", "a-b", "a`b", "y"):
        ok(slack.command(f"add {other}"))
    ok(slack.command(f"add {name}"))
    assert (
        f"Logged a green check-in for *{mrkdwn_name(name)}*" in ok(slack.command(f"checkin {typed} green fine"))["text"]
    )


def workspace_reads(store: Store) -> tuple[list[str], Callable[[], None]]:
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith("SELECT workspace.active"):
            statements.append(statement)

    event.listen(store.engine, "before_cursor_execute", count)
    return statements, lambda: event.remove(store.engine, "before_cursor_execute", count)


def test_the_reinstall_check_reads_the_workspace_at_most_once_per_ten_seconds(
    slack: SlackRequests, store: Store, clock: FakeClock
) -> None:
    ok(slack.command("help"))
    reads, stop = workspace_reads(store)
    try:
        ok(slack.command("help"))
        ok(slack.command("help"))
        assert reads == []
        clock.advance(seconds=10)
        ok(slack.command("help"))
        assert len(reads) == 1
    finally:
        stop()


def test_a_reinstall_seen_by_another_replica_reactivates_the_workspace_within_ten_seconds(
    slack: SlackRequests, store: Store, settings: Settings, clock: FakeClock, fake_slack: FakeSlack
) -> None:
    other = BotServer(create_app(settings=settings, store=store, clock=clock), store).start()
    try:
        replica = SlackRequests(other.url, signing_secret=SIGNING_SECRET, team_id=TEAM_ID, fake=fake_slack)
        ok(replica.command("help"))  # the other replica now remembers the team as active
        clock.advance(seconds=1)
        assert slack.event({"type": "app_uninstalled"}).status == 200
        assert not store.workspace_active(team_id=TEAM_ID)
        # Reinstalled at once: this replica's own uninstall listener forgot the team, so it reactivates it now.
        ok(slack.command("help"))
        assert store.workspace_active(team_id=TEAM_ID)
        # Uninstalled again, and reinstalled within 10 s on the replica that still remembers the team: its first
        # request then may not notice (the documented bound); one more than 10 s after its last check does.
        assert slack.event({"type": "app_uninstalled"}).status == 200
        assert not store.workspace_active(team_id=TEAM_ID)
        clock.advance(seconds=9)
        ok(replica.command("help"))
        clock.advance(seconds=1)
        ok(replica.command("help"))
        assert store.workspace_active(team_id=TEAM_ID)
    finally:
        other.stop()


EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def test_a_red_checkins_alert_is_stored_with_it_and_sent_once_by_whoever_takes_it_first(
    slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, bot: BotServer, clock: FakeClock
) -> None:
    ok(slack.command("add Acme Corp <#C0ACME|acme> <@U0001|dana> tz=UTC"))
    (customer,) = store.customers(team_id=TEAM_ID)
    ok(slack.command("checkin acme yellow slipping", user_id="U0002"))
    bot.settle()
    followups = bot.app.after_ack.checkin_followups
    started, release = threading.Event(), threading.Event()

    def hold(key: Any) -> None:
        started.set()
        assert release.wait(30)

    followups.before_run = hold
    try:
        ok(slack.command("checkin acme red they want to cancel", user_id="U0002"))
        assert started.wait(30)
        # The follow-up has not run, yet the alert is already in the outbox: a tick now (or after a crash) sends it.
        (alert,) = store.nudges(team_id=TEAM_ID, kinds=[OWNER_ALERT], due_after=EPOCH)
        assert (alert.status, alert.recipient_id, alert.customer_id) == ("pending", "U0001", customer.id)
        send_nudges(store=store, client=make_client(settings), now=clock())
        (dm,) = owner_dms(fake_slack)  # the mood before it is read when sending: the check-in only knew it was red
        assert "logged a *red* check-in for *Acme Corp* (was yellow)" in dm and "they want to cancel" in dm
        release.set()
        bot.settle()
    finally:
        followups.before_run = None
        release.set()
    assert len(owner_dms(fake_slack)) == 1  # the follow-up found it taken
    # The other way round: the follow-up takes it first, and the tick after has nothing left to send.
    ok(slack.command("checkin acme red still unhappy", user_id="U0002"))
    bot.settle()
    send_nudges(store=store, client=make_client(settings), now=clock.advance(minutes=1))
    dms = owner_dms(fake_slack)
    assert len(dms) == 2 and "still unhappy" in dms[1]
    assert [n.status for n in store.nudges(team_id=TEAM_ID, kinds=[OWNER_ALERT], due_after=EPOCH)] == ["sent", "sent"]
    # The owner's own red check-in alerts no one, and stores no alert.
    ok(slack.command("checkin acme red I know", user_id="U0001"))
    bot.settle()
    assert len(store.nudges(team_id=TEAM_ID, kinds=[OWNER_ALERT], due_after=EPOCH)) == 2
