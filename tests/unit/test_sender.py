"""The generic sender against the fake Slack: exactly once through crashes, retries, pacing, fallbacks, digests."""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlalchemy import event

from bot.app import make_client
from bot.settings import Settings
from schedules import sender
from schedules.sender import Message, SenderOptions, Skip, send_due_nudges
from storage.models import CheckIn, Customer, Nudge
from storage.nudges import NUDGE_TABLE, NudgePlan
from storage.store import Store
from tests.fake_slack import FakeSlack
from tests.utils import TEAM_ID


@contextlib.contextmanager
def statements_run(store: Store) -> Iterator[list[str]]:
    """The SQL statements sent to the database inside the block, in order."""
    statements: list[str] = []
    listen = lambda conn, cursor, statement, *args: statements.append(statement)  # noqa: E731
    event.listen(store.engine, "before_cursor_execute", listen)
    try:
        yield statements
    finally:
        event.remove(store.engine, "before_cursor_execute", listen)


NOW = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
FAST = SenderOptions(interval=0.0)
PING = "test_ping"


class Crash(BaseException):
    """A process dying: not an Exception, so nothing in the sender catches it."""


def render_ping(nudge: Nudge, store: Store, now: datetime) -> Message | Skip:
    if nudge.payload.get("skip"):
        return Skip("not wanted any more")
    return Message(
        text=f"ping {nudge.due_key}",
        channel=nudge.payload.get("channel"),
        user=nudge.payload.get("user"),
        customer_id=nudge.customer_id,
        digest=f"ping {nudge.due_key}" if nudge.payload.get("digest") else None,
    )


@pytest.fixture(autouse=True)
def ping_kind() -> Iterator[None]:
    sender.register(PING, render_ping, label="the test ping")
    yield
    sender.RENDERERS.pop(PING, None)


@pytest.fixture
def client(settings: Settings) -> WebClient:
    return make_client(settings)


def plan(store: Store, key: str, *, due_at: datetime = NOW, customer_id: int | None = None, **payload: object) -> None:
    assert store.plan_nudge(
        team_id=TEAM_ID,
        kind=PING,
        subject="team",
        due_key=key,
        due_at=due_at,
        now=due_at,
        customer_id=customer_id,
        payload=dict(payload),
    )


def row(store: Store, key: str) -> Nudge:
    (found,) = [
        n for n in store.nudges(team_id=TEAM_ID, kinds=[PING], due_after=NOW - timedelta(days=30)) if n.due_key == key
    ]
    return found


def posts(fake: FakeSlack) -> list[str]:
    return [c.params["text"] for c in fake.calls_to("chat.postMessage") if c.ok]


def test_planning_twice_keeps_one_row_and_sending_twice_posts_once(
    store: Store, client: WebClient, fake_slack: FakeSlack
) -> None:
    plan(store, "a", channel="C0001")
    assert not store.plan_nudge(team_id=TEAM_ID, kind=PING, subject="team", due_key="a", due_at=NOW, now=NOW)
    assert send_due_nudges(store=store, client=client, now=NOW, options=FAST) == 1
    assert send_due_nudges(store=store, client=client, now=NOW, options=FAST) == 0
    assert posts(fake_slack) == ["ping a"]
    sent = row(store, "a")
    assert (sent.status, sent.channel_id, sent.message_ts) == ("sent", "C0001", fake_slack.messages["C0001"][0]["ts"])
    metadata = fake_slack.messages["C0001"][0]["metadata"]
    assert metadata == {"event_type": "partner_nudge", "event_payload": {"nudge_ids": str(sent.id)}}


def test_planning_a_batch_that_races_another_planner_inserts_the_rest_in_one_statement(store: Store) -> None:
    """Another tick or replica plans one of the batch's keys between our look-up and our insert: the batch still
    goes in as one insert-if-absent statement (not row by row after a failed insert), and that row stays theirs."""
    plans = [NudgePlan(kind=PING, subject="team", due_key=f"k{i}", due_at=NOW) for i in range(50)]
    inserts: list[str] = []

    def race(conn: object, cursor: object, statement: str, *args: object) -> None:
        if not statement.lstrip().upper().startswith("INSERT"):
            return
        inserts.append(statement)
        if len(inserts) == 1:  # the other planner, on a connection of its own
            plan(store, "k7", other="planner")

    event.listen(store.engine, "before_cursor_execute", race)
    try:
        inserted = store.plan_nudges(team_id=TEAM_ID, plans=plans, now=NOW)
    finally:
        event.remove(store.engine, "before_cursor_execute", race)
    assert len(inserts) == 2, inserts  # ours, theirs (while ours starts), none after
    assert len(inserted) == 49 and all(p.status == "pending" for p in inserted)
    rows = {n.due_key: n for n in store.nudges(team_id=TEAM_ID, kinds=[PING], due_after=NOW - timedelta(days=1))}
    assert sorted(rows) == sorted(p.due_key for p in plans)
    assert rows["k7"].payload == {"other": "planner"} and rows["k7"].id not in {p.id for p in inserted}
    assert store.plan_nudges(team_id=TEAM_ID, plans=plans, now=NOW) == []


def test_a_large_plan_stores_every_row_as_a_single_planned_nudge_is_stored(store: Store) -> None:
    """A plan of many rows goes in as multi-row inserts (64 rows a statement, then the rest): every value, the
    columns' defaults and the payload read back exactly as from a nudge planned alone, only new keys come back."""
    plan(store, "k5", channel="C0001")  # planned before: left as it is, not returned
    due = NOW - timedelta(minutes=3)
    plans = [
        NudgePlan(
            kind=PING,
            subject="team",
            due_key=f"k{i}",
            due_at=due,
            recipient_id=f"U{i:04d}",
            status="skipped" if i == 70 else "pending",
            error="answered" if i == 70 else None,
            payload={"channel": "C0001", "n": i, "tags": ["a", i]},
        )
        for i in range(77)
    ]
    inserted = store.plan_nudges(team_id=TEAM_ID, plans=plans, now=NOW)
    assert len({p.id for p in inserted}) == 76 and sum(p.status == "skipped" for p in inserted) == 1
    plan(store, "alone", channel="C0001")
    rows = {n.due_key: n for n in store.nudges(team_id=TEAM_ID, kinds=[PING], due_after=NOW - timedelta(days=1))}
    assert {rows[f"k{i}"].id for i in range(77) if i != 5} == {p.id for p in inserted}
    assert rows["k5"].payload == {"channel": "C0001"}
    for i in (0, 63, 64, 70, 76):
        stored = rows[f"k{i}"]
        assert (stored.due_at, stored.created_at, stored.recipient_id) == (due, NOW, f"U{i:04d}")
        assert stored.payload == {"channel": "C0001", "n": i, "tags": ["a", i]}
        assert (stored.status, stored.error) == (("skipped", "answered") if i == 70 else ("pending", None))
        assert (
            (stored.attempts, stored.sent_at, stored.claimed_by)
            == (rows["alone"].attempts, None, None)
            == (0, None, None)
        )
        assert stored.due_at.tzinfo is not None


def test_nothing_is_sent_before_it_is_due_and_a_skip_is_recorded(
    store: Store, client: WebClient, fake_slack: FakeSlack
) -> None:
    plan(store, "later", channel="C0001", due_at=NOW + timedelta(minutes=5))
    plan(store, "unwanted", channel="C0001", skip=True)
    assert send_due_nudges(store=store, client=client, now=NOW, options=FAST) == 0
    assert posts(fake_slack) == []
    assert (row(store, "unwanted").status, row(store, "unwanted").error) == ("skipped", "not wanted any more")
    assert row(store, "later").status == "pending"


def test_a_crash_between_claim_and_send_is_retried_after_the_lease(
    settings: Settings, store: Store, client: WebClient, fake_slack: FakeSlack
) -> None:
    class DiesBeforeSending(Store):
        def mark_sending(self, **kwargs: object) -> list[bool]:
            raise Crash

    plan(store, "a", channel="C0001")
    with pytest.raises(Crash):
        send_due_nudges(store=DiesBeforeSending(store.engine), client=client, now=NOW, options=FAST)
    assert row(store, "a").status == "claimed" and posts(fake_slack) == []
    # Still leased: another sender a minute later leaves it alone.
    assert send_due_nudges(store=store, client=client, now=NOW + timedelta(minutes=1), options=FAST) == 0
    assert send_due_nudges(store=store, client=client, now=NOW + timedelta(minutes=3), options=FAST) == 1
    assert posts(fake_slack) == ["ping a"]
    assert row(store, "a").attempts == 2


def test_a_crash_between_send_and_record_never_posts_twice(
    store: Store, client: WebClient, fake_slack: FakeSlack
) -> None:
    class DiesAfterSending(Store):
        def mark_sent(self, **kwargs: object) -> None:
            raise Crash

    plan(store, "a", channel="C0001")
    with pytest.raises(Crash):
        send_due_nudges(store=DiesAfterSending(store.engine), client=client, now=NOW, options=FAST)
    assert row(store, "a").status == "sending" and posts(fake_slack) == ["ping a"]
    for minutes in (1, 3, 10):
        send_due_nudges(store=store, client=client, now=NOW + timedelta(minutes=minutes), options=FAST)
    assert posts(fake_slack) == ["ping a"]
    # Found in the channel's history by its metadata: recorded as the message it is.
    recorded = row(store, "a")
    assert (recorded.status, recorded.error) == ("sent", None)
    assert (recorded.channel_id, recorded.message_ts) == ("C0001", fake_slack.messages["C0001"][0]["ts"])


class DiesWhilePosting(Store):
    """A sender killed after marking "sending", before its post reached Slack."""

    def mark_sending(self, **kwargs: object) -> list[bool]:
        super().mark_sending(**kwargs)  # type: ignore[arg-type]
        raise Crash


@pytest.mark.parametrize("destination", [{"channel": "C0001"}, {"user": "U0001", "digest": False}])
def test_a_crash_before_the_post_left_is_sent_once_after_the_history_shows_no_post(
    store: Store, client: WebClient, fake_slack: FakeSlack, destination: dict[str, object]
) -> None:
    fake_slack.messages["C0001"].append({"type": "message", "ts": "1.000001", "text": "someone else", "user": "U2"})
    plan(store, "a", **destination)
    with pytest.raises(Crash):
        send_due_nudges(store=DiesWhilePosting(store.engine), client=client, now=NOW, options=FAST)
    assert row(store, "a").status == "sending" and posts(fake_slack) == []
    # Within two leases the dead sender might still be posting: left alone.
    assert send_due_nudges(store=store, client=client, now=NOW + timedelta(minutes=3), options=FAST) == 0
    assert send_due_nudges(store=store, client=client, now=NOW + timedelta(minutes=5), options=FAST) == 1
    send_due_nudges(store=store, client=client, now=NOW + timedelta(minutes=10), options=FAST)
    assert posts(fake_slack) == ["ping a"]
    assert row(store, "a").status == "sent"


def test_without_history_access_an_unconfirmed_post_is_recorded_not_repeated(
    store: Store, client: WebClient, fake_slack: FakeSlack
) -> None:
    fake_slack.scopes = [s for s in fake_slack.scopes if s != "channels:history"]
    plan(store, "a", channel="C0001")
    with pytest.raises(Crash):
        send_due_nudges(store=DiesWhilePosting(store.engine), client=client, now=NOW, options=FAST)
    for minutes in (5, 10):
        send_due_nudges(store=store, client=client, now=NOW + timedelta(minutes=minutes), options=FAST)
    assert posts(fake_slack) == []
    recorded = row(store, "a")
    assert recorded.status == "sent" and recorded.error is not None and recorded.error.startswith("unconfirmed")


def test_a_429_with_retry_after_is_honoured(store: Store, client: WebClient, fake_slack: FakeSlack) -> None:
    plan(store, "a", channel="C0001")
    fake_slack.fail_next("chat.postMessage", status=429, retry_after=1)
    assert send_due_nudges(store=store, client=client, now=NOW, options=FAST) == 1
    first, second = fake_slack.calls_to("chat.postMessage")
    assert first.status == 429 and second.ok
    assert second.at - first.at >= 1.0  # slack-sdk waited out Retry-After before trying again
    assert posts(fake_slack) == ["ping a"]


def test_rate_limited_past_the_clients_retries_backs_off_to_a_later_tick(
    store: Store, client: WebClient, fake_slack: FakeSlack
) -> None:
    plan(store, "a", channel="C0001")
    fake_slack.fail_next("chat.postMessage", status=429, retry_after=0, times=3)
    assert send_due_nudges(store=store, client=client, now=NOW, options=FAST) == 0
    waiting = row(store, "a")
    assert (waiting.status, waiting.error) == ("pending", "ratelimited")
    assert waiting.next_attempt_at == NOW + FAST.backoff
    assert send_due_nudges(store=store, client=client, now=NOW + timedelta(seconds=30), options=FAST) == 0
    assert send_due_nudges(store=store, client=client, now=NOW + timedelta(minutes=1), options=FAST) == 1
    assert posts(fake_slack) == ["ping a"]


@pytest.mark.parametrize("error", ["invalid_auth", "account_inactive", "token_revoked"])
def test_a_refused_token_keeps_the_nudge_until_an_operator_fixes_it(
    store: Store, client: WebClient, fake_slack: FakeSlack, error: str
) -> None:
    """Slack refusing the bot's own token says nothing about the nudge: it waits with the usual backoff (no
    'couldn't deliver' notice, which the same token could not post either) and goes out once the token works."""
    customer = store.add_customer(team_id=TEAM_ID, name="Acme", created_by="U0001", now=NOW, owner_id="U0001")
    plan(store, "a", channel="C0001", customer_id=customer.id)
    fake_slack.fail_next("chat.postMessage", error=error)
    assert send_due_nudges(store=store, client=client, now=NOW, options=FAST) == 0
    waiting = row(store, "a")
    assert (waiting.status, waiting.error, waiting.next_attempt_at) == ("pending", error, NOW + FAST.backoff)
    assert send_due_nudges(store=store, client=client, now=NOW + FAST.backoff, options=FAST) == 1
    assert posts(fake_slack) == ["ping a"]
    assert not [c for c in fake_slack.calls_to("chat.postMessage") if "couldn't deliver" in str(c.params["text"])]


def test_server_errors_retry_with_backoff_then_fail_and_the_owner_is_told_once(
    store: Store, client: WebClient, fake_slack: FakeSlack
) -> None:
    customer = store.add_customer(team_id=TEAM_ID, name="Acme", created_by="U0001", now=NOW, owner_id="U0001")
    plan(store, "a", channel="C0001", customer_id=customer.id)
    options = SenderOptions(interval=0.0, max_attempts=2)
    fake_slack.fail_next("chat.postMessage", status=500, times=3)  # the client retries twice itself
    assert send_due_nudges(store=store, client=client, now=NOW, options=options) == 0
    assert row(store, "a").next_attempt_at == NOW + options.backoff
    fake_slack.fail_next("chat.postMessage", status=503, times=3)
    later = NOW + timedelta(minutes=2)
    send_due_nudges(store=store, client=client, now=later, options=options)
    assert row(store, "a").status == "failed"
    notices = [m for m in fake_slack.messages.values() for m in m if "I couldn't deliver" in m["text"]]
    assert len(notices) == 1
    assert notices[0]["text"].startswith(":x: I couldn't deliver the test ping about *Acme*: Slack answered")
    send_due_nudges(store=store, client=client, now=later + timedelta(hours=1), options=options)
    assert len([c for c in fake_slack.calls_to("chat.postMessage") if "couldn't deliver" in c.params["text"]]) == 1


def test_a_refused_channel_falls_back_to_the_owner_told_once(
    store: Store, client: WebClient, fake_slack: FakeSlack
) -> None:
    fake_slack.add_channel("C0GONE", name="gone", is_member=False)
    customer = store.add_customer(
        team_id=TEAM_ID, name="Acme", created_by="U0001", now=NOW, owner_id="U0001", channel_id="C0GONE"
    )
    plan(store, "a", channel="C0GONE", user="U0001", customer_id=customer.id)
    plan(store, "b", channel="C0GONE", user="U0001", customer_id=customer.id)
    assert send_due_nudges(store=store, client=client, now=NOW, options=FAST) == 3  # two pings and one notice
    refreshed = store.customer(team_id=TEAM_ID, customer_id=customer.id or 0)
    assert refreshed is not None and refreshed.channel_error == "not_in_channel"
    dm = fake_slack._dm_by_user["U0001"]
    texts = [m["text"] for m in fake_slack.messages[dm]]
    assert sorted(t for t in texts if t.startswith("ping")) == ["ping a", "ping b"]
    assert len([t for t in texts if "couldn't post" in t]) == 1  # one notice per channel and error
    assert fake_slack.messages.get("C0GONE", []) == []


def test_dms_due_together_become_one_digest(store: Store, client: WebClient, fake_slack: FakeSlack) -> None:
    for key in ("a", "b", "c"):
        plan(store, key, user="U0001", digest=True)
    plan(store, "solo", user="U0002", digest=True)
    assert send_due_nudges(store=store, client=client, now=NOW, options=FAST) == 4
    dana = fake_slack.messages[fake_slack._dm_by_user["U0001"]]
    assert len(dana) == 1 and dana[0]["text"].startswith("3 things need you now")
    assert {row(store, k).message_ts for k in ("a", "b", "c")} == {dana[0]["ts"]}
    assert fake_slack.messages[fake_slack._dm_by_user["U0002"]][0]["text"] == "ping solo"


def test_one_channel_is_paced_in_order_while_channels_go_in_parallel(
    store: Store, client: WebClient, fake_slack: FakeSlack
) -> None:
    fake_slack.add_channel("C0002", name="two")
    for i in range(3):
        plan(store, f"one-{i}", channel="C0001", due_at=NOW + timedelta(seconds=i))
        plan(store, f"two-{i}", channel="C0002", due_at=NOW + timedelta(seconds=i))
    options = SenderOptions(interval=0.25)
    assert send_due_nudges(store=store, client=client, now=NOW + timedelta(minutes=1), options=options) == 6
    for channel, prefix in (("C0001", "one"), ("C0002", "two")):
        calls = [c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == channel]
        assert [c.params["text"] for c in calls] == [f"ping {prefix}-{i}" for i in range(3)]
        # Arrival times at the fake carry the machine's scheduling jitter; unpaced posts would arrive ~0 s apart.
        assert all(b.at - a.at >= 0.2 for a, b in itertools.pairwise(calls))
    everything = fake_slack.calls_to("chat.postMessage")
    assert everything[-1].at - everything[0].at < 0.25 * 4  # two channels side by side, not one after the other


def test_too_late_after_downtime_is_recorded_missed(store: Store, client: WebClient, fake_slack: FakeSlack) -> None:
    plan(store, "old", channel="C0001", due_at=NOW - timedelta(hours=7))
    plan(store, "late", channel="C0001", due_at=NOW - timedelta(hours=2))
    assert send_due_nudges(store=store, client=client, now=NOW, options=FAST) == 1
    assert row(store, "old").status == "missed"
    (message,) = fake_slack.messages["C0001"]
    # A text-only message: the note goes under its text (a note as its only block would hide the text in Slack).
    assert message["text"].startswith("ping late\n") and "Sent late" in message["text"]
    assert not message["blocks"]


@pytest.mark.parametrize(("render_batch", "reads"), [(500, 1), (5, 3)])  # 12 nudges: one batch, or three
def test_rendering_many_nudges_reads_their_customers_in_one_query_each(
    store: Store, client: WebClient, fake_slack: FakeSlack, render_batch: int, reads: int
) -> None:
    seen: list[tuple[str, int]] = []

    def render_named(nudge: Nudge, store: Store, now: datetime) -> Message | Skip:
        customer = store.customer(team_id=nudge.team_id, customer_id=nudge.customer_id or 0)
        contacts = store.last_contacts(team_id=nudge.team_id, customer_ids=[nudge.customer_id or 0], kinds=["call"])
        assert customer is not None and contacts == {}
        seen.append((customer.name, customer.id or 0))
        return Message(text=f"call {customer.name}", channel="C0001")

    sender.register("test_named", render_named)
    try:
        added = [
            store.add_customer(team_id=TEAM_ID, name=f"Customer {i}", created_by="U0001", now=NOW) for i in range(12)
        ]
        ids = [c.id or 0 for c in added]
        for cid in ids:
            assert store.plan_nudge(
                team_id=TEAM_ID,
                kind="test_named",
                subject=f"customer:{cid}",
                due_key="k",
                due_at=NOW,
                now=NOW,
                customer_id=cid,
            )
        with statements_run(store) as statements:
            options = SenderOptions(interval=0.0, render_batch=render_batch)
            assert send_due_nudges(store=store, client=client, now=NOW, options=options) == 12
    finally:
        sender.RENDERERS.pop("test_named", None)
    assert sorted(seen) == sorted((f"Customer {i}", cid) for i, cid in enumerate(ids))
    customer_reads = [s for s in statements if s.lstrip().upper().startswith("SELECT") and "FROM customer" in s]
    checkin_reads = [s for s in statements if s.lstrip().upper().startswith("SELECT") and "FROM checkin" in s]
    assert (len(customer_reads), len(checkin_reads)) == (reads, reads), statements  # per rendered batch


def test_a_fan_outs_nudges_customers_and_last_calls_are_rendered_from_read_only_records_not_orm_objects(
    store: Store, client: WebClient, fake_slack: FakeSlack
) -> None:
    """Building ORM objects for a fan-out's 10,000 claimed nudges and their customers was about half of its
    rendering CPU (bench/RESULTS.md, session 13): the renderers read the same attributes from read-only records, as
    they do each customer's last call."""
    seen: list[tuple[Any, Any]] = []

    def render_named(nudge: Nudge, store: Store, now: datetime) -> Message | Skip:
        customer = store.customer(team_id=nudge.team_id, customer_id=nudge.customer_id or 0)
        assert customer is not None
        contacts = store.last_contacts(team_id=nudge.team_id, customer_ids=[customer.id or 0], kinds=["call"])
        seen.append((nudge, customer))
        called = f", called {contacts[customer.id].created_at:%d %b}: {contacts[customer.id].note}" if contacts else ""
        return Message(text=f"call {customer.name} ({nudge.due_key}{called})", channel="C0001")

    loaded: list[str] = []
    count = lambda target, context: loaded.append(type(target).__name__)  # noqa: E731
    sender.register("test_named", render_named)
    try:
        added = [
            store.add_customer(team_id=TEAM_ID, name=f"Customer {i}", created_by="U0001", now=NOW) for i in range(3)
        ]
        store.record_checkin(
            team_id=TEAM_ID,
            customer_id=added[0].id or 0,
            author_id="U0001",
            mood="green",
            note="pilot live",
            now=NOW - timedelta(days=2),
            kind="call",
        )
        for customer in added:
            assert store.plan_nudge(
                team_id=TEAM_ID,
                kind="test_named",
                subject=f"customer:{customer.id}",
                due_key=f"k{customer.id}",
                due_at=NOW,
                now=NOW,
                customer_id=customer.id,
            )
        for model in (Nudge, Customer, CheckIn):
            event.listen(model, "load", count)
        try:
            assert send_due_nudges(store=store, client=client, now=NOW, options=FAST) == 3
        finally:
            for model in (Nudge, Customer, CheckIn):
                event.remove(model, "load", count)
    finally:
        sender.RENDERERS.pop("test_named", None)
    assert loaded == []
    first, *others = added
    assert sorted(posts(fake_slack)) == [
        f"call Customer 0 (k{first.id}, called 29 Nov: pilot live)",
        *(f"call Customer {i} (k{c.id})" for i, c in enumerate(others, start=1)),
    ]
    nudge, customer = seen[0]
    assert (nudge.kind, nudge.status, nudge.payload, customer.team_id) == ("test_named", "claimed", {}, TEAM_ID)
    with pytest.raises(AttributeError):  # read-only: no renderer changes a row by accident
        customer.name = "Changed"
    with pytest.raises(AttributeError):
        nudge.status = "sent"


def test_pacing_keeps_a_rate_limited_channel_free_of_429s(
    store: Store, client: WebClient, fake_slack: FakeSlack
) -> None:
    """Slack's limit is counted where posts arrive: pacing from each answer keeps every arrival a full interval
    after the last one, however late a post set off (the fake answers 429 to anything closer)."""
    fake_slack.post_interval, fake_slack.post_jitter = 0.3, 0.0
    fake_slack.add_channel("C0002", name="two")
    for i in range(4):
        plan(store, f"one-{i}", channel="C0001", due_at=NOW + timedelta(seconds=i))
        plan(store, f"two-{i}", channel="C0002", due_at=NOW + timedelta(seconds=i))
    fake_slack.fail_next("chat.postMessage", delay=0.2)  # the first post reaches Slack late
    options = SenderOptions(interval=0.3)
    assert send_due_nudges(store=store, client=client, now=NOW + timedelta(minutes=1), options=options) == 8
    answers = fake_slack.calls_to("chat.postMessage")
    assert [c.status for c in answers] == [200] * 8
    for channel in ("C0001", "C0002"):
        times = [c.at for c in answers if c.params["channel"] == channel]
        assert all(b - a >= 0.3 for a, b in itertools.pairwise(times))


def test_a_fan_out_reuses_one_connection_per_post_in_flight_and_keeps_slacks_retry_handling(
    store: Store, client: WebClient, fake_slack: FakeSlack
) -> None:
    """slack-sdk opens a connection per call; the sender's workers keep theirs open for the run, one for each post
    a worker has in flight. A 429 on a kept connection still goes through slack-sdk's retry handler (Retry-After
    honoured, then posted)."""
    for i in range(40):
        fake_slack.add_channel(f"C1{i:05d}", name=f"c{i}")
        plan(store, f"k{i}", channel=f"C1{i:05d}")
    fake_slack.fail_next("chat.postMessage", error="ratelimited", status=429, retry_after=0)
    before = fake_slack.connections
    options = SenderOptions(interval=0.0, workers=2, in_flight=4)
    assert send_due_nudges(store=store, client=client, now=NOW, options=options) == 40
    answers = fake_slack.calls_to("chat.postMessage")
    assert [c.status for c in answers].count(429) == 1 and len([c for c in answers if c.ok]) == 40
    # One per post in flight (2 workers × 4), and a new one after the 429's if it closed.
    assert fake_slack.connections - before <= 2 * 4 + 1


def test_one_posting_thread_has_several_posts_waiting_on_slack_at_once(
    store: Store, client: WebClient, fake_slack: FakeSlack
) -> None:
    """A thread per post in flight cost most of a fan-out's CPU (bench/fanout.py): a worker now sends the messages
    of several destinations that may all go, then reads their answers. With one worker, the other three posts reach
    Slack while the first one's answer is still held (one by one, each would wait for the one before)."""
    for i in range(4):
        fake_slack.add_channel(f"C5{i:05d}", name=f"f{i}")
        plan(store, f"f{i}", channel=f"C5{i:05d}")
    fake_slack.fail_next("chat.postMessage", delay=0.5)  # Slack is slow to answer the first post
    options = SenderOptions(interval=0.0, workers=1, in_flight=4)
    assert send_due_nudges(store=store, client=client, now=NOW, options=options) == 4
    arrivals = sorted(c.at for c in fake_slack.calls_to("chat.postMessage"))
    assert len(arrivals) == 4 and arrivals[-1] - arrivals[0] < 0.4, arrivals
    assert {row(store, f"f{i}").status for i in range(4)} == {"sent"}


def test_marking_many_messages_sending_is_two_statements_and_a_group_not_wholly_mine_stays_claimed(
    store: Store,
) -> None:
    for i in range(6):
        plan(store, f"m{i}")
    lease = NOW + timedelta(minutes=2)
    ids = sorted(n.id or 0 for n in store.claim_nudges(now=NOW, lease_until=lease, claimer="me"))
    with store.session() as session:  # another sender took one row of the last group (its lease had run out)
        session.connection().execute(NUDGE_TABLE.update().where(NUDGE_TABLE.c.id == ids[5]).values(claimed_by="other"))
        session.commit()
    groups = [([ids[0]], "C0001"), ([ids[1], ids[2]], "U0001"), ([ids[3]], "C0002"), ([ids[4], ids[5]], "U0002")]
    with statements_run(store) as statements:
        answers = store.mark_sending(groups=groups, claimer="me", now=NOW, lease_until=lease)
    assert answers == [True, True, True, False]
    # One UPDATE for every row, one SELECT of what it marked, one UPDATE putting back the half-owned group's part.
    assert [s.split()[0].upper() for s in statements] == ["UPDATE", "SELECT", "UPDATE"], statements
    rows = {n.id: n for n in store.nudges(team_id=TEAM_ID, kinds=[PING], due_after=NOW - timedelta(days=1))}
    assert [(rows[i].status, rows[i].channel_id) for i in ids[:4]] == [
        ("sending", "C0001"),
        ("sending", "U0001"),
        ("sending", "U0001"),
        ("sending", "C0002"),
    ]
    assert [(rows[i].status, rows[i].claimed_by) for i in ids[4:]] == [("claimed", "me"), ("claimed", "other")]


def test_marking_messages_that_are_all_still_mine_sending_is_one_statement(store: Store) -> None:
    """The usual case: every row is still claimed by this sender. The UPDATE's row count says so, and reading back
    which rows it marked cost a fifth of a fan-out's marking (bench/RESULTS.md, session 9)."""
    for i in range(5):
        plan(store, f"w{i}")
    lease = NOW + timedelta(minutes=2)
    ids = sorted(n.id or 0 for n in store.claim_nudges(now=NOW, lease_until=lease, claimer="me"))
    groups = [([ids[0]], "C0001"), ([ids[1], ids[2]], "U0001"), ([ids[3]], "C0002"), ([ids[4]], "C0003")]
    with statements_run(store) as statements:
        answers = store.mark_sending(groups=groups, claimer="me", now=NOW, lease_until=lease)
    assert answers == [True] * 4
    assert [s.split()[0].upper() for s in statements] == ["UPDATE"], statements
    rows = {n.id: n for n in store.nudges(team_id=TEAM_ID, kinds=[PING], due_after=NOW - timedelta(days=1))}
    assert [(rows[i].status, rows[i].channel_id, rows[i].lease_until) for i in ids] == [
        ("sending", "C0001", lease),
        ("sending", "U0001", lease),
        ("sending", "U0001", lease),
        ("sending", "C0002", lease),
        ("sending", "C0003", lease),
    ]


def test_marking_a_fan_outs_rows_sending_and_sent_is_one_driver_executemany_each(store: Store) -> None:
    """SQLAlchemy's executemany built and converted each row's parameters on its own (≈ 50 µs a row: most of the
    cost of marking 10,000 messages "sending" and "sent"); the statements are now compiled once and the rows handed
    to the driver converted as SQLAlchemy would (what the rows hold afterwards is checked too)."""
    for i in range(6):
        plan(store, f"t{i}")
    lease = NOW + timedelta(minutes=2)
    ids = sorted(n.id or 0 for n in store.claim_nudges(now=NOW, lease_until=lease, claimer="me"))
    many: list[tuple[str, bool]] = []

    def listen(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if executemany:
            many.append((statement.split()[0].upper(), context.compiled is None))

    event.listen(store.engine, "before_cursor_execute", listen)
    try:
        groups = [([i], f"C{i}") for i in ids]
        assert store.mark_sending(groups=groups, claimer="me", now=NOW, lease_until=lease) == [True] * 6
        store.mark_sent(posts=[([i], f"C{i}", f"1.{i}") for i in ids], claimer="me", now=NOW)
    finally:
        event.remove(store.engine, "before_cursor_execute", listen)
    assert many == [("UPDATE", True), ("UPDATE", True)]  # driver-level: no per-row parameter building
    rows = {n.id: n for n in store.nudges(team_id=TEAM_ID, kinds=[PING], due_after=NOW - timedelta(days=1))}
    assert [(rows[i].status, rows[i].channel_id, rows[i].message_ts, rows[i].sent_at) for i in ids] == [
        ("sent", f"C{i}", f"1.{i}", NOW) for i in ids
    ]
    assert {rows[i].lease_until for i in ids} == {None}


def test_the_pace_holds_across_claimed_batches(store: Store, client: WebClient, fake_slack: FakeSlack) -> None:
    """Nudges are claimed a batch at a time; a channel's next post waits out the interval of the previous batch's."""
    fake_slack.post_interval, fake_slack.post_jitter = 0.3, 0.0
    for i in range(4):
        plan(store, f"one-{i}", channel="C0001", due_at=NOW + timedelta(seconds=i))
    options = SenderOptions(interval=0.3, batch=1)
    assert send_due_nudges(store=store, client=client, now=NOW + timedelta(minutes=1), options=options) == 4
    answers = fake_slack.calls_to("chat.postMessage")
    assert [c.status for c in answers] == [200] * 4
    assert all(b - a >= 0.3 for a, b in itertools.pairwise(c.at for c in answers))


def test_one_write_marks_the_next_messages_sending_ahead_of_their_posts(
    store: Store, client: WebClient, fake_slack: FakeSlack
) -> None:
    """Each worker's write also marks the messages the workers take next, so a fan-out writes "sending" once per
    dozens of posts, not once per few (each write cost as much as marking dozens of rows)."""
    for i in range(40):
        fake_slack.add_channel(f"C2{i:05d}", name=f"m{i}")
        plan(store, f"k{i}", channel=f"C2{i:05d}")
    writes: list[int] = []

    class Counting(Store):
        def mark_sending(self, **kwargs: Any) -> list[bool]:
            writes.append(len(kwargs["groups"]))
            return super().mark_sending(**kwargs)

    options = SenderOptions(interval=0.0, workers=4)
    assert send_due_nudges(store=Counting(store.engine), client=client, now=NOW, options=options) == 40
    assert 1 <= len(writes) <= 4 and sum(writes) >= 40, writes  # was a write per 1–4 messages
    assert len(posts(fake_slack)) == 40


def test_messages_marked_ahead_when_the_sender_dies_are_each_sent_once_later(
    store: Store, client: WebClient, fake_slack: FakeSlack
) -> None:
    for i in range(6):
        fake_slack.add_channel(f"C3{i:05d}", name=f"d{i}")
        plan(store, f"d{i}", channel=f"C3{i:05d}")
    with pytest.raises(Crash):  # dies right after its first write, before any post
        send_due_nudges(store=DiesWhilePosting(store.engine), client=client, now=NOW, options=SenderOptions(workers=1))
    assert {row(store, f"d{i}").status for i in range(6)} == {"sending"} and posts(fake_slack) == []
    send_due_nudges(store=store, client=client, now=NOW + timedelta(minutes=5), options=FAST)  # history: not posted
    send_due_nudges(store=store, client=client, now=NOW + timedelta(minutes=10), options=FAST)
    assert sorted(posts(fake_slack)) == [f"ping d{i}" for i in range(6)]
    assert {row(store, f"d{i}").status for i in range(6)} == {"sent"}


def test_posting_starts_while_the_rest_of_a_fan_out_is_still_being_rendered(
    store: Store, client: WebClient, fake_slack: FakeSlack
) -> None:
    """Rendering 10,000 nudges took ≈ 1.5 s before the first post: now the workers post each rendered batch while
    the next is rendered. The last nudge's renderer waits for a post of the first batch, which only comes if so."""
    waited: list[int] = []

    def render_last_after_a_post(nudge: Nudge, store: Store, now: datetime) -> Message | Skip:
        if nudge.due_key == "k5":
            waited.append(len(fake_slack.wait_for("chat.postMessage", 1)))
        return Message(text=f"ping {nudge.due_key}", channel=f"C4{nudge.due_key}")

    sender.register("test_streamed", render_last_after_a_post)
    try:
        for i in range(6):
            fake_slack.add_channel(f"C4k{i}", name=f"s{i}")
            assert store.plan_nudge(
                team_id=TEAM_ID, kind="test_streamed", subject="team", due_key=f"k{i}", due_at=NOW, now=NOW
            )
        options = SenderOptions(interval=0.0, workers=4, render_batch=2)
        assert send_due_nudges(store=store, client=client, now=NOW, options=options) == 6
    finally:
        sender.RENDERERS.pop("test_streamed", None)
    assert waited and waited[0] >= 1
    assert sorted(posts(fake_slack)) == [f"ping k{i}" for i in range(6)]


def test_the_first_posts_leave_once_one_posting_threads_worth_is_rendered(
    store: Store, client: WebClient, fake_slack: FakeSlack
) -> None:
    """10,000 nudges due at once: the first render batch was a whole `render_batch` (500 renders, ≈ 0.1 s of CPU)
    before anything was posted. Now it is one posting thread's posts (`in_flight`): the renderer of the 6th nudge,
    in the same `render_batch` as the first, waits for a post, which only comes if the first 4 went out before it."""
    waited: list[int] = []

    def render_sixth_after_a_post(nudge: Nudge, store: Store, now: datetime) -> Message | Skip:
        if nudge.due_key == "f5":
            waited.append(len(fake_slack.wait_for("chat.postMessage", 1, timeout=2.0)))
        return Message(text=f"ping {nudge.due_key}", channel=f"C7{nudge.due_key}")

    sender.register("test_first", render_sixth_after_a_post)
    try:
        for i in range(8):
            fake_slack.add_channel(f"C7f{i}", name=f"f{i}")
            assert store.plan_nudge(
                team_id=TEAM_ID, kind="test_first", subject="team", due_key=f"f{i}", due_at=NOW, now=NOW
            )
        options = SenderOptions(interval=0.0, workers=2, in_flight=4, render_batch=500)
        assert send_due_nudges(store=store, client=client, now=NOW, options=options) == 8
    finally:
        sender.RENDERERS.pop("test_first", None)
    assert waited and waited[0] >= 1
    assert sorted(posts(fake_slack)) == [f"ping f{i}" for i in range(8)]


def send_waves(
    store: Store, client: WebClient, fake_slack: FakeSlack, *, workers: int = 8
) -> tuple[dict[str, float], dict[str, float]]:
    """Three waves of posts to four channels, a render batch a wave: when each message was rendered, and accepted."""
    rendered: dict[str, float] = {}

    def render_timed(nudge: Nudge, store: Store, now: datetime) -> Message | Skip:
        rendered[nudge.due_key] = time.time()  # the fake's clock for its calls
        return Message(text=f"ping {nudge.due_key}", channel=nudge.payload["channel"])

    sender.register("test_waves", render_timed)
    try:
        for c in range(4):
            fake_slack.add_channel(f"C80{c}", name=f"w{c}")
        for wave in range(3):  # claimed oldest first: the first of every channel, then the second…
            for c in range(4):
                assert store.plan_nudge(
                    team_id=TEAM_ID,
                    kind="test_waves",
                    subject=f"channel:{c}",
                    due_key=f"w{wave}c{c}",
                    due_at=NOW + timedelta(seconds=wave),
                    now=NOW,
                    payload={"channel": f"C80{c}"},
                )
        options = SenderOptions(interval=0.6, render_batch=4, in_flight=4, render_ahead=0.1, workers=workers)
        assert send_due_nudges(store=store, client=client, now=NOW + timedelta(minutes=1), options=options) == 12
    finally:
        sender.RENDERERS.pop("test_waves", None)
    calls = fake_slack.calls_to("chat.postMessage")
    assert [c.status for c in calls] == [200] * 12
    return rendered, {c.params["text"].removeprefix("ping "): c.at for c in calls}


def test_a_fan_outs_later_waves_are_rendered_as_their_channels_come_due(
    store: Store, client: WebClient, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """10,000 nudges in 2,000 channels are five waves of posts a second apart. The renderer rendered all five in the
    first second, beside the posting of the first two, whose threads it took the interpreter from (bench/fanout.py:
    most of a delivery's miss was the first wave and each channel's first gap). A render batch that only adds to
    channels already given a message is now followed by a wait until some channel may need its next one within
    `render_ahead`: the third wave is rendered after the first was posted, and still before it is due."""
    monkeypatch.setattr(sender, "SPARE_CPU", 0.0)  # whatever else the machine runs meanwhile
    rendered, posted = send_waves(store, client, fake_slack)
    first_wave = max(posted[f"w0c{c}"] for c in range(4))
    # Rendered two intervals after the first wave's answers, less render_ahead, at most an interval after the second
    # wave was: ≈ 0.6 s after the first wave, not beside it.
    assert min(rendered[f"w2c{c}"] for c in range(4)) - first_wave >= 0.2, (rendered, posted)
    for c in range(4):  # each channel in order, paced, and its third message ready when its turn came
        times = [posted[f"w{wave}c{c}"] for wave in range(3)]
        assert all(0.6 <= b - a < 0.6 + 0.3 for a, b in itertools.pairwise(times)), times


def test_a_fan_out_short_of_cpu_renders_every_wave_at_once(
    store: Store, client: WebClient, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a machine busy with other work the renderer never waits: the CPU time it left idle went to the other
    processes, and the posts it had not rendered yet then waited for it (bench/RESULTS.md, session 12)."""
    monkeypatch.setattr(sender, "SPARE_CPU", float("inf"))  # no process ever gets that much
    rendered, posted = send_waves(store, client, fake_slack)
    assert max(rendered.values()) < max(posted[f"w0c{c}"] for c in range(4)) + 0.2, (rendered, posted)


def test_a_fan_out_with_one_posting_thread_renders_every_wave_at_once(
    store: Store, client: WebClient, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With one worker the feed runs first and the worker posts after it: a wait there would only delay every post."""
    monkeypatch.setattr(sender, "SPARE_CPU", 0.0)
    rendered, posted = send_waves(store, client, fake_slack, workers=1)
    assert max(rendered.values()) - min(rendered.values()) < 0.3, rendered
    assert max(rendered.values()) < min(posted.values()), (rendered, posted)


def test_a_claim_reads_its_rows_a_render_batch_at_a_time(
    store: Store, client: WebClient, fake_slack: FakeSlack
) -> None:
    """Reading 10,000 claimed rows took ≈ 0.5 s before the first post: the claim now takes the ids, and each render
    batch reads its own rows (still only those this sender claimed) while the workers post the batch before."""
    for i in range(6):
        fake_slack.add_channel(f"C6{i:05d}", name=f"r{i}")
        plan(store, f"r{i}", channel=f"C6{i:05d}")
    statements: list[str] = []
    listen = lambda conn, cursor, statement, *args: statements.append(statement)  # noqa: E731
    event.listen(store.engine, "before_cursor_execute", listen)
    try:
        options = SenderOptions(interval=0.0, workers=2, render_batch=2)
        assert send_due_nudges(store=store, client=client, now=NOW, options=options) == 6
    finally:
        event.remove(store.engine, "before_cursor_execute", listen)
    row_reads = [s for s in statements if s.lstrip().upper().startswith("SELECT nudge.id, nudge.team_id".upper())]
    assert len(row_reads) == 3, statements  # one per render batch of 2
    assert sorted(posts(fake_slack)) == [f"ping r{i}" for i in range(6)]


def test_a_finished_post_wakes_at_most_one_idle_worker() -> None:
    """Lanes wait out their interval at times spread over the run; idle workers sleep meanwhile. Waking all of them
    at every finished post and at every lane's time cost CPU in proportion to posts × idle workers."""
    lanes = {f"C{i:04d}": [f"C{i:04d}-{n}" for n in range(3)] for i in range(40)}
    done: list[str] = []
    clock = time.monotonic

    def work(key: str, item: str) -> float:
        done.append(item)
        return clock() + int(key[1:]) * 0.001  # each lane's next turn at its own time, 1 ms apart

    pacing = sender.Lanes(lanes, interval=0.02, monotonic=clock)
    pacing.run(work, workers=16)
    assert sorted(done) == sorted(item for items in lanes.values() for item in items)
    assert all([item for item in done if item.startswith(key)] == items for key, items in lanes.items())
    assert pacing.wakeups <= 3 * len(done), pacing.wakeups


@pytest.mark.parametrize(("cpu_per_tick", "threads"), [(0.0, 64), (1.0, sender.FIRST_WORKERS)])
def test_workers_are_added_while_posts_wait_on_slack_and_the_process_is_idle(cpu_per_tick: float, threads: int) -> None:
    """Each post waits a round trip to Slack: with 2,000 channels, hundreds must be in flight at once. A run starts
    FIRST_WORKERS threads and doubles them, up to the most allowed, while ready posts wait for a busy worker and
    the process's CPU is mostly idle; a process whose CPU is busy gets no more (threads would queue for it)."""
    ticks = itertools.count()
    clock = lambda: next(ticks) * 0.1  # noqa: E731 — every look is a growth window later
    cpu = lambda: next(ticks) * cpu_per_tick  # noqa: E731
    lanes = {f"C{i:03d}": [f"C{i:03d}-0"] for i in range(200)}
    answered = threading.Event()  # Slack answers the waiting posts
    done: list[str] = []

    def work(key: str, item: str) -> float:
        if len(done) >= 4:  # the first few answers come back at once; the rest wait
            answered.wait(timeout=30)
        done.append(item)
        return 0.0

    pacing = sender.Lanes(lanes, interval=0.0, monotonic=clock, cpu=cpu)
    running = threading.Thread(target=pacing.run, args=(work,), kwargs={"workers": 64})
    running.start()
    try:
        deadline = time.monotonic() + 10  # polls the workers: the first answers are what adds more
        while time.monotonic() < deadline and (pacing.threads < threads or pacing._busy < threads):
            answered.wait(timeout=0.01)
    finally:
        answered.set()
        running.join(timeout=30)
    assert sorted(done) == sorted(item for items in lanes.values() for item in items)
    assert pacing.threads == threads


def test_a_host_that_refuses_more_threads_still_gets_every_post_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """A container's thread limit: the run goes on with the threads it could start."""
    started = itertools.count()

    class Limited(threading.Thread):
        def start(self) -> None:
            if next(started) >= 3:
                raise RuntimeError("can't start new thread")
            super().start()

    monkeypatch.setattr(sender.threading, "Thread", Limited)
    lanes = {f"C{i:02d}": [f"C{i:02d}-{n}" for n in range(2)] for i in range(20)}
    done: list[str] = []
    pacing = sender.Lanes(lanes, interval=0.0, monotonic=time.monotonic)
    pacing.run(lambda key, item: done.append(item) or None, workers=16)
    assert sorted(done) == sorted(item for items in lanes.values() for item in items)
    assert pacing.threads == 3


def test_every_kind_says_what_it_is_when_it_could_not_be_delivered() -> None:
    import schedules.jobs  # noqa: F401 (registers every kind the product sends)

    assert [kind for kind, spec in sender.RENDERERS.items() if spec.label == "a message" and kind != PING] == []


def test_a_long_digests_notification_text_is_cut_between_characters_not_inside_one() -> None:
    """An owner digest's `text` (the notification) is cut at 3,000 characters; cut inside Slack's `&amp;` it read
    "Smith &amp" (shown as typed) instead of "Smith…"."""
    names = ["Smith &amp; Sons Holdings 000"] + [f"Smith &amp; Sons {i:03d}" for i in range(1, 70)]
    lines = [f"daily call with *{name}* at Mon 30 Nov 09:00" for name in names]
    joined = f"{len(lines)} things need you now: " + "; ".join(lines)
    assert joined.index("&amp;", 2990) == 2996  # a cut at 3,000 characters falls inside this `&amp;`
    digest = sender.compose([Message(text=line, blocks=[], user="U0001", digest=line) for line in lines])
    assert len(digest.text) <= 3000 and digest.text.endswith("*Smith…"), digest.text[-30:]
