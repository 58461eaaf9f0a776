"""The planner: which nudges are due at `now`, in each customer's own calendar (pure, no Slack, no database)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schedules import planner
from storage.cadence import Snooze
from storage.models import CheckIn, Customer, Nudge
from storage.nudges import NudgePlan

GRACE = timedelta(hours=6)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def customer(**fields: Any) -> Customer:
    values: dict[str, Any] = {
        "id": 1,
        "team_id": "T1",
        "name": "Acme",
        "name_key": "acme",
        "created_at": utc(2026, 1, 1),
        "updated_at": utc(2026, 1, 1),
        "tz": "America/New_York",
        "cadence": "daily 09:00",
        "owner_id": "U1",
    }
    values.update(fields)
    return Customer(**values)


def call(at: datetime, customer_id: int = 1) -> CheckIn:
    return CheckIn(team_id="T1", customer_id=customer_id, author_id="U1", mood="green", kind="call", created_at=at)


def ticks(start: datetime, end: datetime, every: timedelta) -> list[datetime]:
    out, t = [], start
    while t <= end:
        out.append(t)
        t += every
    return out


def plan_over(
    customers: Iterable[Customer], instants: list[datetime], contacts: dict[int, CheckIn] | None = None
) -> list[NudgePlan]:
    """What consecutive ticks plan, with the outbox's insert-if-absent applied."""
    seen: dict[tuple[str, str, str], NudgePlan] = {}
    people = list(customers)
    for since, now in itertools.pairwise(instants):
        for plan in planner.plan_cadence(people, contacts or {}, since=since, now=now, grace=GRACE):
            seen.setdefault(plan.key, plan)
    return sorted(seen.values(), key=lambda p: p.due_at)


def due(plans: list[NudgePlan], status: str = "pending") -> list[datetime]:
    return [p.due_at for p in plans if p.status == status]


# Time zones and DST


def test_new_york_across_the_spring_dst_switch() -> None:
    # DST starts Sunday 8 March 2026: 09:00 is 14:00 UTC on Friday, 13:00 UTC on Monday.
    plans = plan_over([customer()], ticks(utc(2026, 3, 5, 20), utc(2026, 3, 10, 20), timedelta(minutes=30)))
    assert due(plans) == [utc(2026, 3, 6, 14), utc(2026, 3, 9, 13), utc(2026, 3, 10, 13)]
    assert [p.due_key for p in plans] == ["2026-03-06", "2026-03-09", "2026-03-10"]


def test_berlin_across_the_autumn_dst_switch() -> None:
    # DST ends Sunday 25 October 2026: 09:00 is 07:00 UTC on Friday, 08:00 UTC on Monday.
    berlin = customer(tz="Europe/Berlin", cadence="weekly fri 9:00")
    monday = customer(id=2, tz="Europe/Berlin", cadence="weekly mon 9:00")
    plans = plan_over([berlin, monday], ticks(utc(2026, 10, 22), utc(2026, 10, 27), timedelta(hours=1)))
    assert due(plans) == [utc(2026, 10, 23, 7), utc(2026, 10, 26, 8)]


def test_customers_at_utc_plus_13_and_utc_minus_10() -> None:
    tonga = customer(id=1, tz="Pacific/Tongatapu")  # UTC+13 all year
    hawaii = customer(id=2, tz="Pacific/Honolulu")  # UTC−10 all year
    plans = plan_over([tonga, hawaii], ticks(utc(2026, 12, 6), utc(2026, 12, 8), timedelta(minutes=15)))
    by_customer = {(p.customer_id, p.due_key): p.due_at for p in plans}
    # Monday 7 December 09:00 in Tonga is Sunday 20:00 UTC; in Honolulu it is Monday 19:00 UTC.
    assert by_customer[(1, "2026-12-07")] == utc(2026, 12, 6, 20)
    assert by_customer[(2, "2026-12-07")] == utc(2026, 12, 7, 19)
    assert (1, "2026-12-06") not in by_customer  # a Sunday where the customer lives, though Saturday in UTC


def test_us_holiday_is_skipped_and_a_weekly_call_moves_to_the_next_business_day() -> None:
    daily = customer(id=1, country="US")
    weekly = customer(id=2, country="US", cadence="weekly thu 10:00")
    plans = plan_over([daily, weekly], ticks(utc(2026, 11, 24), utc(2026, 11, 30), timedelta(hours=1)))
    keys = {(p.customer_id, p.due_key) for p in plans}
    assert (1, "2026-11-26") not in keys  # Thanksgiving
    assert {(1, "2026-11-25"), (1, "2026-11-27")} <= keys
    assert [p.due_key for p in plans if p.customer_id == 2] == ["2026-11-27"]


def test_a_sunday_to_thursday_working_week() -> None:
    israel = customer(tz="Asia/Jerusalem", working_week="sun-thu")
    plans = plan_over([israel], ticks(utc(2026, 12, 3), utc(2026, 12, 9, 12), timedelta(hours=1)))
    days = [date.fromisoformat(p.due_key).strftime("%a") for p in plans]
    assert days == ["Thu", "Sun", "Mon", "Tue", "Wed"]


# What satisfies, snoozes and expires a slot


def test_a_call_logged_before_the_nudge_satisfies_the_slot() -> None:
    contacts = {1: call(utc(2026, 12, 1, 12))}  # 07:00 in New York, before the 09:00 nudge
    plans = plan_over([customer()], [utc(2026, 12, 1, 13), utc(2026, 12, 1, 15)], contacts)
    ((plan),) = plans
    assert (plan.status, plan.error) == ("skipped", "a call was already logged")


def test_an_async_checkin_does_not_count_unless_configured() -> None:
    # The job passes only calls (or every kind when PARTNER_ANY_CHECKIN_SATISFIES): the planner trusts the map.
    plans = plan_over([customer()], [utc(2026, 12, 1, 13), utc(2026, 12, 1, 15)], {})
    assert [p.status for p in plans] == ["pending"]


def plan_snoozed(
    snoozed: Customer, snooze: Snooze, instants: list[datetime], contacts: dict[int, CheckIn] | None = None
) -> list[tuple[str, str, str, str | None]]:
    seen: dict[tuple[str, str, str], NudgePlan] = {}
    for since, now in itertools.pairwise(instants):
        plans = planner.plan_cadence([snoozed], contacts or {}, since=since, now=now, grace=GRACE, snoozes={1: snooze})
        for plan in plans:
            seen.setdefault(plan.key, plan)
    ordered = sorted(seen.values(), key=lambda p: p.due_at)
    return [(p.due_key, p.due_at.strftime("%a %H:%M"), p.status, p.payload.get("snoozed_on")) for p in ordered]


def test_a_snoozed_call_comes_back_once_folding_in_the_calls_due_inside_the_snooze() -> None:
    # Thursday's 09:00 nudge snoozed at 10:00 for two days: Friday's call is folded into Monday's, which says so.
    snoozed = customer(snoozed_until=utc(2026, 12, 5, 15))
    snooze = Snooze(since=utc(2026, 12, 3, 15))
    instants = ticks(utc(2026, 12, 3, 15), utc(2026, 12, 8, 12), timedelta(hours=1))
    assert plan_snoozed(snoozed, snooze, instants) == [
        ("2026-12-04", "Fri 14:00", "skipped", None),
        ("2026-12-07", "Mon 14:00", "pending", "2026-12-03"),
    ]
    # Ticks at other instants plan the same; a call logged during the snooze, or Thursday's call skipped: no reminder.
    assert plan_snoozed(snoozed, snooze, ticks(utc(2026, 12, 3, 15), utc(2026, 12, 8, 12), timedelta(minutes=7))) == (
        plan_snoozed(snoozed, snooze, instants)
    )
    logged = {1: call(utc(2026, 12, 4, 20))}
    assert [p[3] for p in plan_snoozed(snoozed, snooze, instants, logged)] == [None, None]
    skipped = Snooze(since=snooze.since, skipped=frozenset({date(2026, 12, 3)}))
    assert [p[3] for p in plan_snoozed(snoozed, skipped, instants)] == [None, "2026-12-04"]  # Friday's is owed


def test_a_weekly_call_snoozed_in_advance_comes_back_when_its_slot_fell_inside_the_snooze() -> None:
    # Monday's call logged; on Wednesday snoozed until the next Wednesday: next Monday's call comes back then.
    weekly = customer(cadence="weekly mon 09:00", snoozed_until=utc(2026, 12, 16, 5))
    contacts = {1: call(utc(2026, 12, 7, 15))}
    instants = ticks(utc(2026, 12, 9, 15), utc(2026, 12, 17, 15), timedelta(hours=1))
    assert plan_snoozed(weekly, Snooze(since=utc(2026, 12, 9, 15)), instants, contacts) == [
        ("2026-12-14", "Mon 14:00", "skipped", None),
        ("2026-12-16", "Wed 14:00", "pending", "2026-12-14"),
    ]


def test_snooze_across_a_weekend() -> None:
    # Snoozed on Thursday for two days: Friday's call is skipped, Monday's comes.
    snoozed = customer(snoozed_until=utc(2026, 12, 5, 15))
    plans = plan_over([snoozed], ticks(utc(2026, 12, 3, 15), utc(2026, 12, 8, 12), timedelta(hours=1)))
    assert [(p.due_key, p.status) for p in plans] == [
        ("2026-12-04", "skipped"),
        ("2026-12-07", "pending"),
    ]


def test_after_a_three_day_outage_old_slots_are_missed_and_recent_ones_sent_late() -> None:
    plans = plan_over([customer()], [utc(2026, 12, 1, 12), utc(2026, 12, 4, 16)])
    assert [(p.due_key, p.status) for p in plans] == [
        ("2026-12-01", "missed"),
        ("2026-12-02", "missed"),
        ("2026-12-03", "missed"),
        ("2026-12-04", "pending"),  # due at 14:00 UTC, two hours ago: within the grace period
    ]


def test_paused_archived_and_new_customers_get_nothing() -> None:
    window = [utc(2026, 12, 1, 12), utc(2026, 12, 1, 16)]
    assert plan_over([customer(paused_at=utc(2026, 11, 1))], window) == []
    assert plan_over([customer(archived_at=utc(2026, 11, 1))], window) == []
    assert plan_over([customer(created_at=utc(2026, 12, 1, 15))], window) == []  # added after the 09:00 slot
    assert plan_over([customer(cadence=None)], window) == []


def test_launch_mode_calls_daily_until_the_date_then_the_normal_cadence() -> None:
    launching = customer(cadence="weekly wed 10:00", launch_until=date(2026, 12, 2))
    plans = plan_over([launching], ticks(utc(2026, 11, 30), utc(2026, 12, 17), timedelta(hours=2)))
    assert [p.due_key for p in plans] == ["2026-11-30", "2026-12-01", "2026-12-02", "2026-12-09", "2026-12-16"]
    assert plans[0].due_at == utc(2026, 11, 30, 15)  # the normal cadence's 10:00 applies to launch days too


# Overdue alerts


def asked(customer_id: int, *days: str, outcome: str | None = None) -> dict[int, list[Nudge]]:
    payload = {"outcome": {"what": outcome}} if outcome else {}
    rows = [
        Nudge(
            team_id="T1",
            kind="cadence",
            subject=f"customer:{customer_id}",
            due_key=day,
            customer_id=customer_id,
            due_at=utc(2026, 1, 1),
            created_at=utc(2026, 1, 1),
            status="sent",
            payload=payload,
        )
        for day in days
    ]
    return {customer_id: rows}


def overdue(customers: list[Customer], contacts: dict[int, CheckIn], log: dict[int, list[Nudge]], now: datetime):
    return planner.plan_overdue(planner.lapses(customers, contacts, now=now), log, now=now)


def test_a_missed_daily_call_alerts_the_owner_the_next_business_morning_once_per_lapse() -> None:
    acme = customer()
    contacts = {1: call(utc(2026, 12, 3, 15))}  # Thursday
    log = asked(1, "2026-12-04")  # Friday's call was asked for and never logged
    assert overdue([acme], contacts, log, utc(2026, 12, 7, 13, 59)) == []  # Monday 08:59 New York
    (alert,) = overdue([acme], contacts, log, utc(2026, 12, 7, 14))
    assert (alert.kind, alert.due_key, alert.recipient_id) == ("overdue", "lapse:2026-12-03", "U1")
    assert alert.due_at == utc(2026, 12, 7, 14)
    # Tuesday the lapse goes on: the same key, so the outbox keeps the one alert.
    (again,) = overdue([acme], contacts, asked(1, "2026-12-04", "2026-12-07"), utc(2026, 12, 8, 20))
    assert again.key == alert.key


def test_the_day_a_customer_was_added_counts_only_when_added_before_its_call() -> None:
    """Added Tuesday 08:00 New York, before its 09:00 call: that call can be missed, so the lapse is looked at from
    Wednesday 09:00. Added at 10:00, after it: Tuesday had no call to miss, and the tick does not read the nudge log
    for it until Thursday morning (Wednesday's call then being the first that could be missed)."""
    early = customer(created_at=utc(2026, 12, 1, 13))  # Tuesday 08:00 New York
    late = customer(id=2, created_at=utc(2026, 12, 1, 15))  # Tuesday 10:00 New York
    wednesday_morning = utc(2026, 12, 2, 14, 0, 30)
    (lapse,) = planner.lapses([early, late], {}, now=wednesday_morning)
    assert lapse.customer.id == 1 and lapse.first_missable() == date(2026, 12, 1)
    (alert,) = overdue([early], {}, asked(1, "2026-12-01"), wednesday_morning)
    assert "Tue 1 Dec was missed" in alert.payload["reason"]
    (later,) = planner.lapses([late], {}, now=utc(2026, 12, 3, 14, 0, 30))  # Thursday 09:00
    assert later.first_missable() == date(2026, 12, 2)


def test_a_skipped_day_is_not_a_missed_call() -> None:
    contacts = {1: call(utc(2026, 12, 3, 15))}
    assert overdue([customer()], contacts, asked(1, "2026-12-04", outcome="skipped"), utc(2026, 12, 7, 15)) == []


def test_past_the_maximum_window_a_weekly_customer_alerts_once() -> None:
    weekly = customer(cadence="weekly tue 10:00")
    contacts = {1: call(utc(2026, 12, 1, 16))}  # Tuesday 1 December; at worst 10 days → red from Saturday 12th
    assert overdue([weekly], contacts, {}, utc(2026, 12, 11, 23)) == []
    (alert,) = overdue([weekly], contacts, {}, utc(2026, 12, 14, 15))
    assert alert.due_at == utc(2026, 12, 14, 14)  # the next business morning: Monday 09:00 New York
    assert alert.due_key == "lapse:2026-12-01"
    assert (
        overdue([customer(cadence="weekly tue 10:00", paused_at=utc(2026, 12, 2))], contacts, {}, utc(2026, 12, 14, 15))
        == []
    )


def test_the_overdue_check_works_out_each_distinct_lapse_once_and_answers_as_for_each_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """10,000 customers due at once share a few (calendar, cadence settings, lapse start) combinations: each is
    worked out once, and every customer still gets exactly the verdict it would get checked on its own."""
    people = [
        customer(id=i, cadence="weekly tue 10:00" if i % 3 == 0 else "daily 09:00", max_days=4 if i % 5 == 0 else None)
        for i in range(1, 121)
    ]
    contacts = {i: call(utc(2026, 12, 1, 15 + i % 4), customer_id=i) for i in range(1, 121) if i % 2 == 0}
    now = utc(2026, 12, 14, 15)

    def facts(found: list[planner.Lapse]) -> list[tuple[object, ...]]:
        return [(x.customer.id, x.cadence, x.start, x.earliest, x.red_alert_at, x.red_reason) for x in found]

    alone = [fact for person in people for fact in facts(planner.lapses([person], contacts, now=now))]
    worked_out: list[object] = []
    real = planner.standing
    monkeypatch.setattr(planner, "standing", lambda *a, **k: worked_out.append(a) or real(*a, **k))
    together = facts(planner.lapses(people, contacts, now=now))
    assert together == alone and len(together) == 120
    # (weekly | daily) × (custom max window | not) × (a call logged on 1 December | added on 1 January)
    assert len(worked_out) == 8


# Property: consecutive windows see every slot exactly once


CADENCES = st.sampled_from(
    ["daily 09:00", "daily 23:30", "weekly mon 10:00", "biweekly thu 14:00", "monthly 15 08:00",
     "monthly last-fri 2pm", "every 3 days 07:15", "daily 02:30"]
)  # fmt: skip
ZONES = st.sampled_from(["America/New_York", "Europe/Berlin", "Pacific/Tongatapu", "Pacific/Honolulu", "UTC"])


@settings(max_examples=60, deadline=None)
@given(
    spec=CADENCES,
    tz=ZONES,
    gaps=st.lists(st.integers(min_value=1, max_value=60 * 30), min_size=1, max_size=80),
    start=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 1)).map(
        lambda d: d.replace(tzinfo=UTC)
    ),
)
def test_any_tick_schedule_plans_each_slot_once(spec: str, tz: str, gaps: list[int], start: datetime) -> None:
    from domain.cadence import due_slots

    acme = customer(tz=tz, cadence=spec, created_at=start - timedelta(days=400))
    instants = [start]
    for gap in gaps:
        instants.append(instants[-1] + timedelta(minutes=gap))
    planned: list[tuple[str, str, str]] = []
    for since, now in itertools.pairwise(instants):
        planned += [p.key for p in planner.plan_cadence([acme], {}, since=since, now=now, grace=timedelta(days=60))]
    cal = planner.calendar_of(acme)
    expected = [
        s.local_date.isoformat() for s in due_slots(planner.cadence_of(acme), cal, since=start, now=instants[-1])
    ]
    assert [key[2] for key in planned] == expected  # each once, in order, none missing


@pytest.mark.parametrize("bad", ["weekly funday", "nonsense"])
def test_an_unreadable_stored_cadence_is_off_rather_than_a_crash(bad: str) -> None:
    assert plan_over([customer(cadence=bad)], [utc(2026, 12, 1, 12), utc(2026, 12, 1, 16)]) == []


def test_customers_sharing_a_cadence_share_one_parse_and_a_bad_one_still_reads_as_off() -> None:
    """A fan-out renders thousands of nudges whose customers share a cadence text: parsed once, not per nudge."""
    first, second = customer(id=1, cadence="weekly Tue 10:30"), customer(id=2, cadence="weekly Tue 10:30")
    assert planner.cadence_of(first) is planner.cadence_of(second)
    assert planner.cadence_of(first).kind == "weekly"
    assert planner.cadence_of(customer(id=3, cadence="every blue moon")).kind == "off"
    assert planner.cadence_of(customer(id=4, cadence="every blue moon")).kind == "off"  # not a cached error


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        ((2026, 11, 25, 14, 0), (2026, 11, 25, 14, 0)),  # Wednesday afternoon: at once
        ((2026, 11, 25, 0, 5), (2026, 11, 25, 9, 0)),  # just after midnight: that morning
        ((2026, 11, 25, 17, 0), (2026, 11, 27, 9, 0)),  # the day is over; Thursday is Thanksgiving
        ((2026, 11, 28, 10, 0), (2026, 11, 30, 9, 0)),  # Saturday: Monday
        ((2026, 3, 8, 1, 30), (2026, 3, 9, 9, 0)),  # the night the clocks spring forward
    ],
)
def test_at_work_is_now_in_working_hours_else_the_next_business_morning(
    local: tuple[int, ...], expected: tuple[int, ...]
) -> None:
    cal = planner.WorkCalendar.create("America/New_York", "US")
    zone = cal.zone()
    now = datetime(*local, tzinfo=zone).astimezone(UTC)  # type: ignore[misc]
    assert planner.at_work(cal, now) == datetime(*expected, tzinfo=zone).astimezone(UTC)  # type: ignore[misc]
