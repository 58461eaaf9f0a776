"""Health end to end: `/partner status`, recompute after answers, the daily job, the drop alert sent once."""

from __future__ import annotations

import json
import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from bot.app import FOLLOW_UP_WORKERS, make_client
from bot.settings import Settings
from domain.health import SPARK_CHARS
from schedules.health import (
    HEALTH_DROP,
    HealthJobBudget,
    daily_health,
    gather_inputs,
    gather_inputs_many,
    recompute_health,
    recompute_health_many,
    start_of_local_day,
)
from schedules.jobs import JOBS, run_tick
from storage.models import Boundary, BoundarySlip, Customer, CustomerEvent, SurveyResponse
from storage.store import Store
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import TEAM_ID, BotServer, FakeClock


def ok(response: Any) -> dict[str, Any]:
    assert response.status == 200, response.text
    return response.json() if response.body else {}


def acme(slack: SlackRequests, store: Store, *, cadence: str | None = "weekly tue 10:00") -> Customer:
    ok(slack.command("add Acme Corp <#C0ACME|acme> <@U0001|dana> tz=UTC"))
    (customer,) = store.customers(team_id=TEAM_ID)
    if cadence:
        with store.session() as session:
            row = session.get(Customer, customer.id)
            assert row is not None
            row.cadence = cadence
            row.created_at = datetime(2026, 6, 1, tzinfo=UTC)  # a long-standing customer
            session.add(row)
            session.commit()
    fresh = store.customer(team_id=TEAM_ID, customer_id=customer.id)
    assert fresh is not None
    return fresh


def dms_to(fake_slack: FakeSlack, user_id: str, containing: str) -> list[Any]:
    return [
        c
        for c in fake_slack.calls_to("chat.postMessage")
        if c.params.get("channel") == user_id and containing in c.params.get("text", "")
    ]


def test_status_shows_score_trend_reasons_and_views(
    slack: SlackRequests, store: Store, clock: FakeClock, fake_slack: FakeSlack, bot: BotServer
) -> None:
    customer = acme(slack, store)
    assert customer.id is not None
    # Twelve weeks of history, one snapshot a week, falling from 100 to 45.
    start = clock.now
    for weeks_ago in range(11, 0, -1):
        at = start - timedelta(weeks=weeks_ago)
        store.save_health(
            team_id=TEAM_ID,
            customer_id=customer.id,
            score=45 + 5 * weeks_ago,
            band="green",
            components={},
            day=at.date(),
            now=at,
        )
    ok(slack.command("checkin acme red 2 of 3 launches slipped"))
    reply = ok(slack.command("status acme"))
    bot.settle()  # the score shown is stored after the answer
    fresh = store.customer(team_id=TEAM_ID, customer_id=customer.id)
    assert fresh is not None and fresh.health_score is not None
    blocks = json.dumps(reply["blocks"], ensure_ascii=False)
    assert "*Health:* " in blocks and f"{fresh.health_score} ({fresh.health_band})" in blocks
    trend = reply["blocks"][1]["text"]["text"].split("`")[1]
    assert len(trend) == 12 and set(trend) <= set(SPARK_CHARS)
    assert trend[0] == "█" and trend[0] > trend[-2]  # 100 eleven weeks ago, well down last week
    # Which way it went, in words: last week's 50, now the red check-in's score.
    direction = f"down {50 - fresh.health_score} since last week"
    assert reply["blocks"][1]["text"]["text"].endswith(f"` ↘ {direction}") and direction in reply["text"]
    assert "What moves it most" in blocks
    assert "weekly check-ins logged" in blocks  # 1 of the last 5 Tuesdays kept
    assert "*Our view:* not rated yet" in blocks and "*Their view:* not asked yet" in blocks
    assert "Acme Corp: health" in reply["text"]


def test_the_customer_card_shows_the_health_trend_as_status_does(
    slack: SlackRequests, bot: BotServer, store: Store, clock: FakeClock
) -> None:
    """Issue #6: results feed "a per-customer health score with a trend"; `/partner show` said only "🟢 82"."""
    customer = acme(slack, store)
    assert customer.id is not None
    card = ok(slack.command("show acme"))
    health = next(f["text"] for b in card["blocks"] for f in b.get("fields", []) if f["text"].startswith("*Health*"))
    assert "`" not in health  # nothing scored yet: no empty sparkline
    assert health.endswith("\nnot enough data yet")  # and no trend, in words as status says it
    for weeks_ago in range(11, 0, -1):
        at = clock.now - timedelta(weeks=weeks_ago)
        store.save_health(
            team_id=TEAM_ID,
            customer_id=customer.id,
            score=45 + 5 * weeks_ago,
            band="green",
            components={},
            day=at.date(),
            now=at,
        )
    status_trend = ok(slack.command("status acme"))["blocks"][1]["text"]["text"].split("`")[1]
    bot.settle()  # status stores the score after the answer; the last week's save above is on the customer till then
    card = ok(slack.command("show acme"))
    health = next(f["text"] for b in card["blocks"] for f in b.get("fields", []) if f["text"].startswith("*Health*"))
    trend = health.split("`")[1]
    assert len(trend) == 12 and set(trend) <= set(SPARK_CHARS) and trend[0] == "█"
    assert trend == status_trend
    fresh = store.customer(team_id=TEAM_ID, customer_id=customer.id)
    assert fresh is not None and fresh.health_score is not None
    # In words too, as status says it: 50 last week, the score now this week.
    assert health.endswith(f"\n↘ down {50 - fresh.health_score} since last week")


def test_status_of_a_customer_with_nothing_recorded(slack: SlackRequests, store: Store) -> None:
    acme(slack, store, cadence=None)
    reply = ok(slack.command("status acme"))
    assert "not scored yet" in json.dumps(reply["blocks"]) and "trend ············" in reply["text"]
    # No trend yet is said in words, not drawn as twelve "no value" marks that read like a flat line.
    assert reply["blocks"][1]["text"]["text"].endswith("*Trend (12 weeks):* not enough data yet")
    assert "(not enough data yet)" in reply["text"]
    assert "Usage: `/partner status &lt;customer&gt;`" in ok(slack.command("status"))["text"]


@pytest.mark.parametrize(
    ("cadence", "reason"),
    [
        ("daily 09:00", "No call logged yet; added 127 business days ago"),  # as a daily cadence counts them
        ("weekly tue 10:00", "No check-in logged yet; added 177 days ago"),
    ],
)
def test_a_customer_never_contacted_is_not_said_to_have_a_last_contact(
    slack: SlackRequests, store: Store, cadence: str, reason: str
) -> None:
    """Its recency counts from the day it was added, as the overdue alert says ("No call logged yet; added …"):
    the reason said "Last contact 127 days ago", a contact nobody logged."""
    acme(slack, store, cadence=cadence)  # added on 1 June, nothing logged since
    blocks = json.dumps(ok(slack.command("status acme"))["blocks"], ensure_ascii=False)
    assert reason in blocks and "ast contact" not in blocks


def test_todays_call_not_yet_logged_is_not_counted_missed_before_its_day_is_over(
    slack: SlackRequests, store: Store, clock: FakeClock, settings: Settings
) -> None:
    """A team's first morning: Acme added at 08:00 New York with a daily 09:00 call. At 10:00 the call is still to
    make — its nudge just went out — so the score is not pulled down by it (it read 44, yellow, "the last daily call
    was not logged", an hour after the customer was added). Logged, it counts; left unlogged, it counts as missed
    once its day is over, as the missed-call alert does."""
    clock.set(datetime(2026, 11, 30, 13, 0, tzinfo=UTC))  # Monday 08:00 in New York
    ok(slack.command("add Acme <#C0ACME|acme> <@U0001|dana> cadence=daily 09:00 country=US"))
    client = make_client(settings)
    for minutes in (0, 60, 61):  # 08:00, the nudge at 09:00, a tick after
        run_tick(store=store, client=client, now=clock.now + timedelta(minutes=minutes), settings=settings)
    clock.set(datetime(2026, 11, 30, 15, 0, tzinfo=UTC))  # 10:00
    status = ok(slack.command("status acme"))["text"]
    assert "health :large_green_circle: 100 (green)" in status and "not logged" not in status, status
    # Tuesday: Monday's call was never logged, and now counts as missed; Tuesday's, logged at 10:00, as kept.
    clock.set(datetime(2026, 12, 1, 15, 0, tzinfo=UTC))
    ok(slack.command("checkin acme green call kickoff went well"))
    status = ok(slack.command("status acme"))["text"]
    assert "1 of the last 2 daily calls logged" in status, status


def test_a_scorecard_answer_moves_the_score(
    slack: SlackRequests, store: Store, clock: FakeClock, fake_slack: FakeSlack, bot: BotServer
) -> None:
    from tests.e2e.test_surveys import SURVEYS, all_ratings, opened, submit

    customer = acme(slack, store)
    assert customer.id is not None
    before = recompute_health(store, TEAM_ID, customer.id, clock.now)  # months without contact: 0
    assert before is not None
    ok(slack.command("survey acme scorecard"))
    ok(submit(slack, opened(fake_slack), all_ratings(SURVEYS["scorecard"], "5")))
    bot.settle()  # scored after the answer
    after = store.customer(team_id=TEAM_ID, customer_id=customer.id)
    assert after is not None and after.health_score is not None and before.score is not None
    assert after.health_score > before.score
    (snapshot,) = store.health_snapshots(team_id=TEAM_ID, customer_id=customer.id, since=clock.now.date())
    names = [c["name"] for c in snapshot.components["components"]]
    assert "scorecard" in names and snapshot.score == after.health_score


def test_the_daily_job_is_registered_and_scores_each_customer_once_a_local_day(
    slack: SlackRequests, store: Store, clock: FakeClock, settings: Settings
) -> None:
    assert JOBS["health"] is daily_health
    customer = acme(slack, store)
    assert customer.id is not None
    client = make_client(settings)
    assert run_tick(store=store, client=client, now=clock.now).done["health"] == 1
    assert run_tick(store=store, client=client, now=clock.now + timedelta(hours=2)).done["health"] == 0
    next_day = clock.now + timedelta(days=1)
    assert daily_health(store=store, client=client, now=next_day, settings=settings) == 1
    days = [s.day for s in store.health_snapshots(team_id=TEAM_ID, customer_id=customer.id, since=clock.now.date())]
    assert days == [clock.now.date(), next_day.date()]


def test_the_health_job_runs_after_the_planners_and_the_sender() -> None:
    names = list(JOBS)
    assert names[-1] == "health"  # a slow first run of the day never holds up a due nudge
    assert names.index("send_nudges") < names.index("health")


class SteppingTimer:
    """A monotonic timer that moves on `step` seconds at each reading: the job's time budget without sleeping."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def test_a_tick_scores_the_most_stale_first_within_its_budget_and_the_next_ticks_do_the_rest(
    store: Store, clock: FakeClock, settings: Settings
) -> None:
    def scored(name: str, days_ago: float | None) -> int:
        customer = store.add_customer(
            team_id=TEAM_ID, name=name, created_by=None, now=clock.now - timedelta(days=60), tz="UTC", cadence="weekly"
        )
        assert customer.id is not None
        if days_ago is not None:
            at = clock.now - timedelta(days=days_ago)
            store.save_health(
                team_id=TEAM_ID, customer_id=customer.id, score=50, band="yellow", components={}, day=at.date(), now=at
            )
        return customer.id

    # Created in an order unlike their staleness, so the job must sort them.
    yesterday, today, never, three_days, two_days = (
        scored(name, ago) for name, ago in [("D", 1), ("E", 0.1), ("A", None), ("B", 3), ("C", 2)]
    )
    client = make_client(settings)

    def tick(minutes: int) -> list[int]:
        """One run, two customers a batch, and time for one batch only: the ids it scored."""
        now = clock.now + timedelta(minutes=minutes)
        budget = HealthJobBudget(seconds=1, batch=2)
        done = daily_health(
            store=store, client=client, now=now, settings=settings, budget=budget, timer=SteppingTimer(1)
        )
        fresh = [c for c in store.customers(team_id=TEAM_ID) if c.health_at == now]
        assert len(fresh) == done
        return sorted(c.id or 0 for c in fresh)

    assert tick(1) == sorted([never, three_days])
    assert tick(2) == sorted([two_days, yesterday])
    assert tick(3) == []  # everyone has today's score; the one scored earlier today was never redone
    assert store.customer(team_id=TEAM_ID, customer_id=today).health_at == clock.now - timedelta(days=0.1)  # type: ignore[union-attr]


def test_each_customer_is_scored_once_per_own_local_day_and_a_scored_team_reads_no_customer(
    store: Store, settings: Settings
) -> None:
    # UTC+13, UTC-10, Santiago across its DST start at local midnight (5 Sep 2026 24:00 -> 6 Sep 01:00), the default.
    zones = ["Pacific/Tongatapu", "Pacific/Honolulu", "America/Santiago", None]
    start = datetime(2026, 9, 3, 0, 7, tzinfo=UTC)
    ids = {}
    for n, tz in enumerate(zones):
        customer = store.add_customer(
            team_id=TEAM_ID, name=f"C{n}", created_by=None, now=start - timedelta(days=30), tz=tz, cadence="weekly"
        )
        ids[customer.id] = tz
    client = make_client(settings)
    scored_at: dict[int, list[datetime]] = {i: [] for i in ids}
    now = start
    while now < start + timedelta(days=4):
        daily_health(store=store, client=client, now=now, settings=settings)
        for customer in store.customers(team_id=TEAM_ID):
            assert customer.id is not None and customer.health_at is not None
            if customer.health_at == now:
                scored_at[customer.id].append(now)
        # Once everyone has today's score, the job's query finds nobody: a tick of the day reads no customer.
        assert store.customers_for_health(scored_before=lambda tz, now=now: start_of_local_day(tz, now)) == []
        now += timedelta(minutes=20)
    for customer_id, tz in ids.items():
        zone = ZoneInfo(tz or "UTC")
        days = [at.astimezone(zone).date() for at in scored_at[customer_id]]
        first, last = start.astimezone(zone).date(), (now - timedelta(minutes=20)).astimezone(zone).date()
        assert days == [first + timedelta(days=k) for k in range((last - first).days + 1)], tz
        # Each day's score came at the first tick of that local day (20 minutes apart at most).
        for at in scored_at[customer_id][1:]:
            midnight = datetime.combine(at.astimezone(zone).date(), datetime.min.time(), tzinfo=zone)
            assert timedelta(0) <= at - midnight.astimezone(UTC) < timedelta(minutes=20), tz


def test_without_a_budget_left_the_job_still_scores_one_batch(
    store: Store, clock: FakeClock, settings: Settings
) -> None:
    for name in ("A", "B", "C"):
        store.add_customer(team_id=TEAM_ID, name=name, created_by=None, now=clock.now, tz="UTC", cadence="weekly")
    client = make_client(settings)
    spent = HealthJobBudget(seconds=0, batch=2)
    assert daily_health(store=store, client=client, now=clock.now, budget=spent, timer=SteppingTimer(100)) == 2
    assert daily_health(store=store, client=client, now=clock.now, budget=spent, timer=SteppingTimer(100)) == 1
    assert daily_health(store=store, client=client, now=clock.now, budget=spent, timer=SteppingTimer(100)) == 0


def fell_from_95(store: Store, customer: Customer, clock: FakeClock) -> None:
    """A 95 three days ago; with nothing logged for months on a weekly cadence, today's score is far below it."""
    assert customer.id is not None
    three_days_ago = clock.now - timedelta(days=3)
    store.save_health(
        team_id=TEAM_ID,
        customer_id=customer.id,
        score=95,
        band="green",
        components={},
        day=three_days_ago.date(),
        now=three_days_ago,
    )


@pytest.mark.parametrize("via", ["job", "status"])
def test_a_drop_of_15_points_in_a_week_alerts_the_owner_once(
    slack: SlackRequests,
    bot: BotServer,
    store: Store,
    clock: FakeClock,
    fake_slack: FakeSlack,
    settings: Settings,
    via: str,
) -> None:
    customer = acme(slack, store)
    assert customer.id is not None
    fell_from_95(store, customer, clock)
    client = make_client(settings)
    if via == "status":
        ok(slack.command("status acme"))  # shows the score now; its follow-up stores it and owes the alert
        bot.settle()
    run_tick(store=store, client=client, now=clock.now, settings=settings)
    if via == "job":  # the health job runs after the sender: the alert it planned goes out with the next tick
        assert dms_to(fake_slack, "U0001", "health fell") == []
        run_tick(store=store, client=client, now=clock.now + timedelta(minutes=1), settings=settings)
    (alert,) = dms_to(fake_slack, "U0001", "health fell")
    assert "*Acme Corp*'s health fell from 95 to" in alert.params["text"]
    # It may share an owner digest with other things due at once (an overdue call, a survey prompt).
    blocks = json.dumps(alert.params["blocks"])
    assert "health fell from 95 to" in blocks and "/partner status Acme Corp" in blocks

    # Later the same day and the next day: recomputed again, still down, but the owner already knows.
    ok(slack.command("status acme"))
    bot.settle()  # status stores the score after the answer
    recompute_health(store, TEAM_ID, customer.id, clock.now + timedelta(hours=1))
    daily_health(store=store, client=client, now=clock.now + timedelta(days=1), settings=settings)
    run_tick(store=store, client=client, now=clock.now + timedelta(days=1, minutes=1), settings=settings)
    assert len(dms_to(fake_slack, "U0001", "health fell")) == 1
    events = store.customer_events_of_kind(team_id=TEAM_ID, customer_id=customer.id, kind="health_alert")
    assert len(events) == 1 and events[0].detail["from"] == 95


def test_a_fall_from_a_score_held_for_days_is_told_once_while_the_week_slides(
    slack: SlackRequests, store: Store, clock: FakeClock, fake_slack: FakeSlack, settings: Settings
) -> None:
    # Scores hold for days: 95 five, four and three days ago, then far below. Each day the job runs, the week
    # opens a day later and passes the first of those 95s — it is still the same fall, told once.
    customer = acme(slack, store)
    assert customer.id is not None
    for days_ago in (5, 4, 3):
        held = clock.now - timedelta(days=days_ago)
        store.save_health(
            team_id=TEAM_ID, customer_id=customer.id, score=95, band="green", components={}, day=held.date(), now=held
        )
    client = make_client(settings)
    for day in range(4):
        now = clock.now + timedelta(days=day)
        daily_health(store=store, client=client, now=now, settings=settings)
        run_tick(store=store, client=client, now=now + timedelta(minutes=1), settings=settings)
    alerts = dms_to(fake_slack, "U0001", "health fell")
    assert len(alerts) == 1, [a.params["text"] for a in alerts]
    assert "health fell from 95 to" in alerts[0].params["text"]


def weekly_since_june(slack: SlackRequests, store: Store, tz: str) -> Customer:
    """A weekly customer in `tz` added in June and never called since: its score is far below any recent high."""
    ok(slack.command(f"add Acme Corp <#C0ACME|acme> <@U0001|dana> tz={tz}"))
    (customer,) = store.customers(team_id=TEAM_ID)
    with store.session() as session:
        row = session.get(Customer, customer.id)
        assert row is not None
        row.cadence, row.created_at = "weekly tue 10:00", datetime(2026, 6, 1, tzinfo=UTC)
        session.add(row)
        session.commit()
    return customer


AUCKLAND = ZoneInfo("Pacific/Auckland")  # UTC+13 in November
HONOLULU = ZoneInfo("Pacific/Honolulu")  # UTC−10


@pytest.mark.parametrize(
    ("scored", "told"),
    [
        # Just after the customer's midnight on a Thursday: at 09:00 that morning, not at 00:05.
        (datetime(2026, 11, 26, 0, 5, tzinfo=AUCKLAND), datetime(2026, 11, 26, 9, 0, tzinfo=AUCKLAND)),
        # Saturday just after midnight: Monday 09:00, the next working day.
        (datetime(2026, 11, 28, 0, 5, tzinfo=AUCKLAND), datetime(2026, 11, 30, 9, 0, tzinfo=AUCKLAND)),
        # Friday evening (a late recompute): the next working morning.
        (datetime(2026, 11, 27, 19, 30, tzinfo=AUCKLAND), datetime(2026, 11, 30, 9, 0, tzinfo=AUCKLAND)),
        # Far west (UTC−10): midnight in Honolulu is 10:00 UTC, inside a UTC working day.
        (datetime(2026, 11, 27, 0, 5, tzinfo=HONOLULU), datetime(2026, 11, 27, 9, 0, tzinfo=HONOLULU)),
    ],
)
def test_a_drop_found_outside_working_hours_is_told_at_the_start_of_the_working_day(
    slack: SlackRequests,
    store: Store,
    clock: FakeClock,
    fake_slack: FakeSlack,
    settings: Settings,
    scored: datetime,
    told: datetime,
) -> None:
    customer = weekly_since_june(slack, store, str(scored.tzinfo))
    clock.set(scored)
    fell_from_95(store, customer, clock)
    client = make_client(settings)
    assert daily_health(store=store, client=client, now=clock.now, settings=settings) == 1
    (owed,) = store.nudges(team_id=TEAM_ID, kinds=[HEALTH_DROP], due_after=clock.now - timedelta(days=1))
    assert owed.due_at == told
    # Every tick until then (the customer's night, a weekend) leaves the owner in peace.
    tick = clock.now
    while tick < told:
        run_tick(store=store, client=client, now=tick, settings=settings)
        assert dms_to(fake_slack, "U0001", "health fell") == [], tick.astimezone(scored.tzinfo)
        tick += timedelta(hours=3) if tick + timedelta(hours=3) < told else told - tick
    for now in (told, told + timedelta(minutes=1), told + timedelta(days=1)):
        run_tick(store=store, client=client, now=now, settings=settings)
    (alert,) = dms_to(fake_slack, "U0001", "health fell")
    assert "*Acme Corp*'s health fell from 95 to" in alert.params["text"]
    assert " now." not in json.dumps(alert.params["blocks"])  # the score the owner reads is still the fall's


def test_a_drop_told_the_next_morning_says_where_the_score_is_by_then(
    slack: SlackRequests, store: Store, clock: FakeClock, fake_slack: FakeSlack, settings: Settings
) -> None:
    customer = weekly_since_june(slack, store, "Pacific/Auckland")
    clock.set(datetime(2026, 11, 28, 0, 5, tzinfo=AUCKLAND))  # Saturday just after midnight: told Monday 09:00
    fell_from_95(store, customer, clock)
    client = make_client(settings)
    assert daily_health(store=store, client=client, now=clock.now, settings=settings) == 1
    (owed,) = store.nudges(team_id=TEAM_ID, kinds=[HEALTH_DROP], due_after=clock.now - timedelta(days=1))
    fell_to = owed.payload["to"]
    with store.session() as session:  # over the weekend the score climbed back a little
        row = session.get(Customer, customer.id)
        assert row is not None
        row.health_score = fell_to + 12
        session.add(row)
        session.commit()
    run_tick(store=store, client=client, now=owed.due_at, settings=settings)
    (alert,) = dms_to(fake_slack, "U0001", "health fell")
    blocks = json.dumps(alert.params["blocks"])
    assert f"health fell from 95 to {fell_to} this week. It is {fell_to + 12} now." in blocks
    assert f"health fell from 95 to {fell_to} (now {fell_to + 12})" in alert.params["text"]  # an owner digest's line


def test_a_drop_the_score_came_back_from_before_the_working_day_is_not_told_and_a_new_fall_is(
    slack: SlackRequests, store: Store, clock: FakeClock, fake_slack: FakeSlack, settings: Settings
) -> None:
    customer = weekly_since_june(slack, store, "Pacific/Auckland")
    assert customer.id is not None
    clock.set(datetime(2026, 11, 28, 0, 5, tzinfo=AUCKLAND))  # Saturday just after midnight: told Monday 09:00
    fell_from_95(store, customer, clock)
    client = make_client(settings)
    assert daily_health(store=store, client=client, now=clock.now, settings=settings) == 1
    (owed,) = store.nudges(team_id=TEAM_ID, kinds=[HEALTH_DROP], due_after=clock.now - timedelta(days=1))
    sunday = datetime(2026, 11, 29, 12, 0, tzinfo=AUCKLAND)  # the call made on Sunday: back to 95, as recomputed
    store.save_health(
        team_id=TEAM_ID, customer_id=customer.id, score=95, band="green", components={}, day=sunday.date(), now=sunday
    )
    with store.session() as session:
        row = session.get(Customer, customer.id)
        assert row is not None
        row.health_score = 95
        session.add(row)
        session.commit()
    run_tick(store=store, client=client, now=owed.due_at, settings=settings)
    assert dms_to(fake_slack, "U0001", "health fell") == []  # "fell from 95 to 33. It is 95 now." told nobody anything
    held = store.nudge(team_id=TEAM_ID, nudge_id=owed.id or 0)
    assert held is not None and held.status == "cancelled"

    # Monday's own recompute (nothing logged for months: it falls from Sunday's 95 again): a new fall, told.
    for minutes in (1, 2):
        run_tick(store=store, client=client, now=owed.due_at + timedelta(minutes=minutes), settings=settings)
    (alert,) = dms_to(fake_slack, "U0001", "health fell")
    assert "*Acme Corp*'s health fell from 95 to" in alert.params["text"] and " now." not in alert.params["text"]


NEW_YORK = ZoneInfo("America/New_York")


def test_a_red_checkin_that_makes_the_health_fall_is_one_dm_saying_both_at_once(
    slack: SlackRequests, store: Store, clock: FakeClock, fake_slack: FakeSlack, settings: Settings, bot: BotServer
) -> None:
    """A red check-in that made the score fall sharply cost the owner two DMs: the red alert at once, then the fall
    (held for working hours when logged at night). One event, one DM: the alert says the fall too."""
    ok(slack.command("add Acme Corp <#C0ACME|acme> <@U0001|dana> tz=America/New_York cadence=weekly tue 10:00"))
    (customer,) = store.customers(team_id=TEAM_ID)
    client = make_client(settings)

    def owner_dms() -> list[str]:
        return [c.params["text"] for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "U0001"]

    def tick(at: datetime) -> None:
        clock.set(at)
        assert not run_tick(store=store, client=client, now=at, settings=settings).failed

    for _ in range(3):  # weekly calls, all green: 100
        ok(slack.command("checkin acme green call went fine"))
        bot.settle()
        clock.advance(days=7)
    # A red check-in whose score falls less than 15 points: its alert, alone, at once, as before.
    ok(slack.command("checkin acme red they are unhappy with support", user_id="U0002"))
    bot.settle()
    (red,) = owner_dms()
    assert red.startswith(":rotating_light: <@U0002> logged a *red* check-in for *Acme Corp*") and "health" not in red

    # The next red one, at 03:00 in New York, makes it fall 17 points: one DM, at once, saying both; the fall's own
    # DM (held for 09:00, the working morning) goes with it, never again on its own.
    tick(datetime(2026, 12, 17, 3, 0, tzinfo=NEW_YORK))
    ok(slack.command("checkin acme red they signed with another vendor", user_id="U0002"))
    bot.settle()
    assert len(owner_dms()) == 2
    both = owner_dms()[-1]
    assert both.startswith(":rotating_light: <@U0002> logged a *red* check-in for *Acme Corp*:\n"), both
    fell_text = ":chart_with_downwards_trend: *Acme Corp*'s health fell from 100 to 83 this week."
    assert f"they signed with another vendor\n{fell_text}" in both, both
    assert "*What moved it:*\n• Mood mostly green over the last 5 check-ins (−17 points)" in both, both
    assert both.endswith("See `/partner status Acme Corp`.")
    for hour in (4, 9, 10):
        tick(datetime(2026, 12, 17, hour, 1, tzinfo=NEW_YORK))
    assert len(owner_dms()) == 2
    since = clock.now - timedelta(days=2)
    *_, alert = sorted(store.nudges(team_id=TEAM_ID, kinds=["owner_alert"], due_after=since), key=lambda n: n.due_at)
    (fell,) = store.nudges(team_id=TEAM_ID, kinds=[HEALTH_DROP], due_after=since)
    assert (fell.status, fell.message_ts) == ("sent", alert.message_ts) and alert.message_ts

    # Weeks without a call: a fall of that cause is DMed on its own, in working hours, with no red note.
    for day in range(18, 31):
        for minute in (0, 1):
            tick(datetime(2026, 12, day, 9, minute, tzinfo=NEW_YORK))
    fallen = [text for text in owner_dms()[2:] if "health fell" in text]
    assert len(fallen) == 1 and fallen[0].startswith(":chart_with_downwards_trend: *Acme Corp*'s health fell from 83")
    assert "red" not in fallen[0] and customer.id is not None


def test_a_paused_customer_is_told_no_health_drop(
    slack: SlackRequests, bot: BotServer, store: Store, clock: FakeClock, fake_slack: FakeSlack, settings: Settings
) -> None:
    customer = acme(slack, store)
    assert customer.id is not None
    assert "health drops" in ok(slack.command("pause acme"))["text"]
    bot.settle()  # the pause's rescore is stored after the answer, before the fall below is set up
    fell_from_95(store, customer, clock)
    client = make_client(settings)
    daily_health(store=store, client=client, now=clock.now, settings=settings)
    for minutes in (1, 2, 60 * 24):
        run_tick(store=store, client=client, now=clock.now + timedelta(minutes=minutes), settings=settings)
    assert dms_to(fake_slack, "U0001", "health fell") == []
    assert store.nudges(team_id=TEAM_ID, kinds=[HEALTH_DROP], due_after=clock.now - timedelta(days=1)) == []


def test_concurrent_recomputes_owe_the_owner_one_alert(
    slack: SlackRequests, store: Store, clock: FakeClock, fake_slack: FakeSlack, settings: Settings
) -> None:
    customer = acme(slack, store)
    assert customer.id is not None
    fell_from_95(store, customer, clock)
    start = threading.Barrier(4)
    failures: list[BaseException] = []

    def recompute() -> None:
        start.wait()
        try:
            recompute_health(store, TEAM_ID, customer.id or 0, clock.now)
        except BaseException as e:  # reported below: a thread's exception would otherwise vanish
            failures.append(e)

    threads = [threading.Thread(target=recompute) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    owed = store.nudges(team_id=TEAM_ID, kinds=[HEALTH_DROP], due_after=clock.now - timedelta(days=1))
    assert len(owed) == 1 and owed[0].payload["from"] == 95
    events = store.customer_events_of_kind(team_id=TEAM_ID, customer_id=customer.id, kind="health_alert")
    assert len(events) == 1
    run_tick(store=store, client=make_client(settings), now=clock.now, settings=settings)
    assert len(dms_to(fake_slack, "U0001", "health fell")) == 1


def test_a_steady_score_raises_no_alert(
    slack: SlackRequests, store: Store, clock: FakeClock, fake_slack: FakeSlack, settings: Settings
) -> None:
    customer = acme(slack, store)
    assert customer.id is not None
    client = make_client(settings)
    daily_health(store=store, client=client, now=clock.now, settings=settings)
    daily_health(store=store, client=client, now=clock.now + timedelta(days=1), settings=settings)
    assert dms_to(fake_slack, "U0001", "health fell") == []


def mixed_customers(store: Store, now: datetime) -> list[int]:
    """Customers unlike each other in every input the score reads, with rows of another team beside them."""
    long_ago = now - timedelta(days=400)
    ids: list[int] = []

    def customer(name: str, team_id: str = TEAM_ID, **fields: Any) -> int:
        row = store.add_customer(team_id=team_id, name=name, created_by=None, now=long_ago, owner_id="U0001", tz="UTC")
        assert row.id is not None
        with store.session() as session:
            stored = session.get(Customer, row.id)
            assert stored is not None
            for key, value in fields.items():
                setattr(stored, key, value)
            session.add(stored)
            session.commit()
        if team_id == TEAM_ID:
            ids.append(row.id)
        return row.id

    def checkins(customer_id: int, *days_ago: float, kind: str = "async", mood: str = "green", team: str = TEAM_ID):
        for n, ago in enumerate(days_ago):
            store.record_checkin(
                team_id=team,
                customer_id=customer_id,
                author_id="U0001",
                mood=mood,
                note=f"note {n}",
                now=now - timedelta(days=ago),
                kind=kind,
            )

    def boundary(customer_id: int, status: str, *slips_days_ago: float, kind: str = "custom") -> None:
        with store.session() as session:
            row = Boundary(
                team_id=TEAM_ID,
                customer_id=customer_id,
                position=customer_id,
                text="replies within a day",
                kind=kind,
                status=status,
                created_at=long_ago,
                activated_at=now - timedelta(days=60),
            )
            session.add(row)
            session.flush()
            assert row.id is not None
            same_time = now - timedelta(days=slips_days_ago[0]) if slips_days_ago else now
            for n, ago in enumerate(slips_days_ago):
                at = same_time if n < 2 else now - timedelta(days=ago)  # two slips at one instant: order by id
                session.add(BoundarySlip(team_id=TEAM_ID, boundary_id=row.id, at=at, by="U0001", note=str(n)))
            session.commit()

    def scorecard(customer_id: int, score: float, days_ago: float, team: str = TEAM_ID) -> None:
        with store.session() as session:
            at = now - timedelta(days=days_ago)
            session.add(
                SurveyResponse(
                    team_id=team,
                    customer_id=customer_id,
                    survey="scorecard",
                    respondent_id="U0001",
                    score=score,
                    created_at=at,
                )
            )
            session.commit()

    weekly = customer("Weekly", cadence="weekly tue 10:00", tier="partner")
    checkins(weekly, 1, 8, 20, 35, mood="yellow")
    checkins(weekly, 3, kind="call", mood="red")
    checkins(weekly, 200)  # outside the mood window
    scorecard(weekly, 4.5, 10)
    scorecard(weekly, 2.0, 10)  # the same instant: the later answer counts, as in latest_survey_response
    scorecard(weekly, 5.0, 300)
    boundary(weekly, "active", 2, 2, 5)
    boundary(weekly, "held")
    daily = customer("Daily calls", cadence="daily 09:00", tz="America/New_York", country="US")
    checkins(daily, 2, 4, 6)  # notes, but the last call was long ago
    checkins(daily, 120, kind="call")
    never_called = customer("Never called", cadence="daily", tz="Europe/Berlin", tier="supplier")
    checkins(never_called, 1, 9)
    launch = customer("Launch", cadence="monthly", launch_until=now.date() + timedelta(days=3), tz="Pacific/Auckland")
    checkins(launch, 0.5, 1.5, kind="call", mood="4")
    paused = customer("Paused", cadence="weekly", paused_at=now - timedelta(days=12), ideal_days=3, max_days=9)
    checkins(paused, 14, 40)
    customer("Nothing yet")
    # No cadence and more check-ins in the mood window than the score reads: one by one it reads only the newest.
    busy = customer("Busy without a cadence")
    checkins(busy, *(n / 4 for n in range(1, 40, 2)), mood="red")
    checkins(busy, *(n / 4 for n in range(2, 40, 2)), mood="green")
    checkins(busy, 5, 5, 5, mood="yellow")  # ties at the edge of the newest twenty: broken by id, as in the batch
    checkins(busy, 95, mood="red")  # outside the mood window
    odd = customer("Odd data", cadence="biweekly", working_week="sun-thu", tier="supplier_of_choice")
    checkins(odd, 2, mood="purple")  # an unknown mood is left out of the score
    boundary(odd, "active", 1, kind="response_time")  # no value: not a valid rule, left out
    boundary(odd, "retired", 3)
    scorecard(odd, 1.0, 190)

    # The owner flagged the relationship over an escalated boundary: five days ago counts, forty days ago not.
    def flagged(customer_id: int, *days_ago: float) -> None:
        boundary(customer_id, "active", 1, 2, 3)
        with store.session() as session:
            row = session.exec(select(Boundary).where(Boundary.customer_id == customer_id)).one()
            row.escalated_at = now - timedelta(days=max(days_ago))
            for ago in days_ago:
                at = now - timedelta(days=ago)
                session.add(CustomerEvent(team_id=TEAM_ID, customer_id=customer_id, kind="relationship_flagged", at=at))
            session.add(row)
            session.commit()

    flagged(customer("Flagged", cadence="weekly", tier="partner"), 5, 12)
    flagged(customer("Flagged long ago", cadence="weekly"), 40)

    # The customer's own view: their people's latest answer counts, not one of ours stored beside it (not external).
    def their_view(customer_id: int, level: str, days_ago: float, *, external: bool = True, team: str = TEAM_ID):
        with store.session() as session:
            session.add(
                SurveyResponse(
                    team_id=team,
                    customer_id=customer_id,
                    survey="customer_view",
                    respondent_id="U0EXT1" if external else "U0001",
                    external=external,
                    answers={"level": level},
                    created_at=now - timedelta(days=days_ago),
                )
            )
            session.commit()

    their_view(weekly, "partner", 30)
    their_view(weekly, "supplier", 6)
    their_view(weekly, "partner", 2, external=False)
    their_view(customer("Only their view", cadence="weekly"), "supplier_of_choice", 1)
    # Another team's rows beside them: never read into these customers' scores.
    other = customer("Elsewhere", team_id="T0OTHER", cadence="weekly")
    checkins(other, 1, team="T0OTHER")
    their_view(weekly, "partner", 0, team="T0OTHER")
    return ids


def test_a_batch_scores_exactly_as_one_by_one(store: Store, clock: FakeClock) -> None:
    ids = mixed_customers(store, clock.now)
    customers = [store.customer(team_id=TEAM_ID, customer_id=i) for i in ids]
    assert all(customers)
    batch = gather_inputs_many(store, TEAM_ID, customers, clock.now)  # type: ignore[arg-type]
    one_by_one = {c.id: gather_inputs(store, c, clock.now) for c in customers if c is not None}
    assert batch == one_by_one
    flags = {c.name: batch[c.id].flagged_at for c in customers if c is not None and c.id is not None}
    assert flags["Flagged"] == clock.now - timedelta(days=5) and flags["Flagged long ago"] is None
    assert sum(1 for at in flags.values() if at is not None) == 1
    theirs = {c.name: batch[c.id].their_level for c in customers if c is not None and c.id is not None}
    assert (theirs["Weekly"], theirs["Only their view"], theirs["Daily calls"]) == (
        "supplier",
        "supplier_of_choice",
        None,
    )

    def stored() -> dict[int, tuple[Any, ...]]:
        rows = {}
        for i in ids:
            c = store.customer(team_id=TEAM_ID, customer_id=i)
            assert c is not None
            (snapshot,) = store.health_snapshots(team_id=TEAM_ID, customer_id=i, since=date(2000, 1, 1))
            rows[i] = (c.health_score, c.health_band, c.health_at, snapshot.day, snapshot.score, snapshot.components)
        return rows

    singles = {i: recompute_health(store, TEAM_ID, i, clock.now) for i in ids}
    after_singles = stored()
    assert recompute_health_many(store, TEAM_ID, ids, clock.now) == singles
    assert stored() == after_singles
    scores = {h.score for h in singles.values() if h is not None}
    assert None in scores and len(scores) >= 4  # the set really is mixed: unknown and several different scores


def test_a_health_reason_names_a_rating_as_it_was_typed_not_as_its_colour(
    slack: SlackRequests, store: Store, clock: FakeClock
) -> None:
    # A 4 is stored as "4" and shown as 4/5 on the card: the status's reason said "mood green" for it.
    acme(slack, store, cadence=None)
    ok(slack.command("checkin acme 4 good call, one open question"))
    blocks = json.dumps(ok(slack.command("status acme"))["blocks"], ensure_ascii=False)
    assert "Mood :large_green_circle: 4/5 at the last check-in" in blocks and "ood green" not in blocks, blocks
    clock.advance(hours=1)
    ok(slack.command("checkin acme yellow waiting on their legal team"))
    clock.advance(hours=1)
    ok(slack.command("checkin acme 2 the pilot slipped"))
    blocks = json.dumps(ok(slack.command("status acme"))["blocks"], ensure_ascii=False)
    assert "Mood mixed over the last 3 check-ins (latest :red_circle: 2/5)" in blocks, blocks


@pytest.mark.parametrize(
    "command", ["cadence acme daily 09:00", "launch acme on", "launch acme off", "pause acme", "resume acme"]
)
def test_a_change_that_moves_the_score_is_answered_before_the_score_is_stored(
    slack: SlackRequests, store: Store, clock: FakeClock, bot: BotServer, command: str
) -> None:
    """The score it moves is stored by the command's follow-up, then the Homes show it: scoring is the slow part
    (3–7 s under load for a survey's), and the change itself is what the user waits for."""
    customer = acme(slack, store)
    assert customer.id is not None
    if command.startswith(("launch acme off", "resume")):
        ok(slack.command("launch acme on" if "launch" in command else "pause acme"))
    bot.settle()
    clock.advance(hours=1)
    held = threading.Event()
    busy = [bot.app.lazy_pool.submit(held.wait) for _ in range(FOLLOW_UP_WORKERS)]
    try:
        ok(slack.command(command))
        before = store.customer(team_id=TEAM_ID, customer_id=customer.id)
        assert before is not None and before.health_at != clock.now  # answered without scoring
    finally:
        held.set()
        for future in busy:
            future.result(timeout=10)
    clock.advance(minutes=5)  # the follow-up scores as of the command
    bot.settle()
    after = store.customer(team_id=TEAM_ID, customer_id=customer.id)
    assert after is not None and after.health_at == clock.now - timedelta(minutes=5)


@pytest.mark.parametrize("where", ["command", "form"])
def test_an_edit_is_answered_before_the_score_it_moves_is_stored_and_the_homes_show_the_new_score(
    slack: SlackRequests, store: Store, clock: FakeClock, bot: BotServer, fake_slack: FakeSlack, where: str
) -> None:
    """`/partner edit` and the Edit form store the new settings and answer; the score they move (3–7 s under load)
    is stored by the follow-up as of the edit, and only then are the Homes redrawn: none shows the old score."""
    from handlers.home_publisher import publisher_of
    from handlers.ids import EDIT_CUSTOMER_MODAL
    from tests.e2e.test_customers import untouched_state

    customer = acme(slack, store)
    assert customer.id is not None
    ok(slack.command("checkin acme green good call"))
    bot.settle()
    publisher = publisher_of(bot.app)
    assert publisher is not None
    publisher.flush()
    scored = store.customer(team_id=TEAM_ID, customer_id=customer.id)
    assert scored is not None and scored.health_score is not None
    view: dict[str, Any] = {}
    if where == "form":
        ok(slack.command("edit acme"))
        view = fake_slack.calls_to("views.open")[-1].params["view"]
    clock.advance(hours=1)
    held = threading.Event()
    busy = [bot.app.lazy_pool.submit(held.wait) for _ in range(FOLLOW_UP_WORKERS)]
    try:
        if where == "command":
            assert "Updated *Acme Corp*" in ok(slack.command("edit acme cadence=off"))["text"]
        else:
            state = untouched_state(view, cadence="")
            saved = slack.view_submission(EDIT_CUSTOMER_MODAL, state, private_metadata=view["private_metadata"])
            assert saved.status == 200 and saved.body in (b"", b"{}"), saved.text
        before = store.customer(team_id=TEAM_ID, customer_id=customer.id)
        assert before is not None and before.cadence in (None, "off")  # the edit is stored and answered…
        assert before.health_at == scored.health_at  # …without scoring
        assert not publisher.pending() and not publisher.pending_teams()  # no Home drawn with the old score
    finally:
        held.set()
        for future in busy:
            future.result(timeout=10)
    clock.advance(minutes=5)  # the follow-up scores as of the edit
    bot.settle()
    after = store.customer(team_id=TEAM_ID, customer_id=customer.id)
    assert after is not None and after.health_at == clock.now - timedelta(minutes=5)
    assert after.health_score != scored.health_score  # no cadence: its missed calls no longer weigh on it
    assert (TEAM_ID, "U0001") in publisher.pending()
    published = len(fake_slack.calls_to("views.publish"))
    publisher.flush()
    (home,) = [c for c in fake_slack.calls_to("views.publish")[published:] if c.params["user_id"] == "U0001"]
    assert f"*{after.health_score}*" in json.dumps(home.params["view"], ensure_ascii=False)
