"""Cadences: parsing, schedules on business days, due slots, satisfaction and standing."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.cadence import (
    EPOCH,
    Cadence,
    Slot,
    Thresholds,
    due_slot,
    due_slots,
    is_satisfied,
    launch_cadence,
    moved_here,
    next_due,
    next_slot,
    occurrences,
    parse_cadence,
    parse_time,
    snooze_return,
    standing,
)
from domain.calendar import WorkCalendar

NY = WorkCalendar("America/New_York", "US")
BERLIN = WorkCalendar("Europe/Berlin", "DE")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local_days(cadence: Cadence, cal: WorkCalendar, start: date, end: date) -> list[date]:
    """Local dates of occurrences between two local dates (inclusive), for readable assertions."""
    instants = occurrences(cadence, cal, cal.at_local(start, time(0)), cal.at_local(end + timedelta(days=1), time(0)))
    return [cal.local_date(t) for t in instants]


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("daily", Cadence("daily")),
        ("daily 09:00", Cadence("daily")),
        ("Daily at 8:15", Cadence("daily", at=time(8, 15))),
        ("weekly tue", Cadence("weekly", weekday=1)),
        ("weekly tuesday 10:30", Cadence("weekly", weekday=1, at=time(10, 30))),
        ("weekly on Thu at 2 pm", Cadence("weekly", weekday=3, at=time(14))),
        ("biweekly fri 9am", Cadence("biweekly", weekday=4)),
        ("fortnightly mon", Cadence("biweekly", weekday=0)),
        ("monthly 15", Cadence("monthly", day_of_month=15)),
        ("monthly 1st 14:00", Cadence("monthly", day_of_month=1, at=time(14))),
        ("monthly first-mon", Cadence("monthly", nth=1, weekday=0)),
        ("monthly third-wed 11am", Cadence("monthly", nth=3, weekday=2, at=time(11))),
        ("monthly last-fri", Cadence("monthly", nth=-1, weekday=4)),
        ("monthly last friday 4pm", Cadence("monthly", nth=-1, weekday=4, at=time(16))),
        ("every 3 days", Cadence("every", interval_days=3)),
        ("every 1 day 7:00", Cadence("every", interval_days=1, at=time(7))),
        ("off", Cadence("off")),
        ("  OFF ", Cadence("off")),
        # Said the way people say it
        ("every day at 9", Cadence("daily")),
        ("every weekday 8:30am", Cadence("daily", at=time(8, 30))),
        ("every business day", Cadence("daily")),
        ("every week on tuesday at 10", Cadence("weekly", weekday=1, at=time(10))),
        ("every other week on fri", Cadence("biweekly", weekday=4)),
        ("every 2 weeks mon 2pm", Cadence("biweekly", weekday=0, at=time(14))),
        ("every month on the 15th", Cadence("monthly", day_of_month=15)),
    ],
)
def test_parse_cadence_forms(text: str, expected: Cadence) -> None:
    assert parse_cadence(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("9", time(9)),
        ("9am", time(9)),
        ("9 am", time(9)),
        ("9:30", time(9, 30)),
        ("09:30", time(9, 30)),
        ("2pm", time(14)),
        ("2:45 p.m.", time(14, 45)),
        ("14:00", time(14)),
        ("12am", time(0)),
        ("12pm", time(12)),
        ("noon", time(12)),
        ("0:05", time(0, 5)),
    ],
)
def test_parse_time(text: str, expected: time) -> None:
    assert parse_time(text) == expected
    assert parse_cadence(f"daily {text}").at == expected


@pytest.mark.parametrize("bad", ["25", "13pm", "0am", "9:60", "9h", "nine", "9:5"])
def test_parse_time_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match="not a time"):
        parse_time(bad)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("", "empty"),
        ("hourly", "'hourly' is not a cadence kind"),
        ("weekly", "weekly needs a day"),
        ("weekly tuseday", "'tuseday' is not a day of the week"),
        ("biweekly someday", "'someday' is not a day of the week"),
        ("monthly 31", "day 31 doesn't exist in every month"),
        ("monthly fifth-mon", "'fifth-mon' is not a day of the month"),
        ("monthly last", "'last' needs a day"),
        ("every three days", "expected 'every <N> days' but found 'three days'"),
        ("every 3 weeks", "found '3 weeks'"),
        ("every 0 days", "1–365"),
        ("daily 25:00", "'25:00'"),
        ("weekly tue 9 extra", "I didn't understand 'extra'"),
        ("off 9am", "'9am'"),
        ("weekly tue from 2026-01-01", "a start date only applies"),
        ("biweekly tue from soon", "'soon' is not a date"),
        ("every 3 days from", "'from' needs a date"),
    ],
)
def test_parse_errors_name_the_problem_and_list_valid_forms(text: str, named: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_cadence(text)
    message = str(err.value)
    assert named in message
    assert "Valid forms:" in message
    assert "'monthly <first|second|third|fourth|last>-<day> [time]'" in message


def test_anchor_handling() -> None:
    anchor = date(2026, 1, 7)  # a Wednesday
    # biweekly anchors normalise to the first matching weekday on or after the anchor.
    assert parse_cadence("biweekly fri", anchor=anchor).anchor == date(2026, 1, 9)
    assert parse_cadence("every 3 days", anchor=anchor).anchor == anchor
    # Kinds without a phase drop the anchor, so equal schedules compare equal.
    assert parse_cadence("weekly fri", anchor=anchor) == Cadence("weekly", weekday=4)
    # Text wins over the keyword.
    assert parse_cadence("every 3 days from 2026-02-01", anchor=anchor).anchor == date(2026, 2, 1)


def test_a_new_time_keeps_the_phase_of_the_same_biweekly_or_every_n_days_rhythm() -> None:
    today = date(2026, 12, 2)  # a Wednesday, a day after the first call of "biweekly tue from 2026-12-01"
    biweekly = parse_cadence("biweekly tue 09:00 from 2026-12-01")
    assert parse_cadence("biweekly tue 10:00", anchor=today, previous=biweekly).anchor == date(2026, 12, 1)
    every = parse_cadence("every 3 days from 2026-11-30")
    assert parse_cadence("every 3 days 14:00", anchor=today, previous=every).anchor == date(2026, 11, 30)
    unanchored = parse_cadence("biweekly tue")  # stored before anchors: its phase is the epoch's, kept too
    assert parse_cadence("biweekly tue 8am", anchor=today, previous=unanchored).anchor is None
    # Another rhythm starts from today; a typed start date always wins.
    assert parse_cadence("biweekly wed", anchor=today, previous=biweekly).anchor == today
    assert parse_cadence("every 4 days", anchor=today, previous=every).anchor == today
    assert parse_cadence("biweekly tue from 2026-12-08", anchor=today, previous=biweekly).anchor == date(2026, 12, 8)


@pytest.mark.parametrize(
    ("cadence", "text", "description"),
    [
        (Cadence("daily"), "daily 09:00", "daily at 09:00"),
        (Cadence("weekly", weekday=1, at=time(10, 30)), "weekly tue 10:30", "weekly on Tue at 10:30"),
        (
            Cadence("biweekly", weekday=4, anchor=date(2026, 1, 9)),
            "biweekly fri 09:00 from 2026-01-09",
            "biweekly on Fri at 09:00, starting 2026-01-09",
        ),
        (Cadence("biweekly", weekday=4), "biweekly fri 09:00", "biweekly on Fri at 09:00"),
        (Cadence("monthly", day_of_month=22), "monthly 22 09:00", "monthly on the 22nd at 09:00"),
        (Cadence("monthly", day_of_month=11), "monthly 11 09:00", "monthly on the 11th at 09:00"),
        (
            Cadence("monthly", nth=1, weekday=0),
            "monthly first-mon 09:00",
            "monthly on the first Monday at 09:00",
        ),
        (
            Cadence("monthly", nth=-1, weekday=4, at=time(16)),
            "monthly last-fri 16:00",
            "monthly on the last Friday at 16:00",
        ),
        (
            Cadence("every", interval_days=3, anchor=date(2026, 1, 5)),
            "every 3 days 09:00 from 2026-01-05",
            "every 3 days at 09:00, starting 2026-01-05",
        ),
        (Cadence("every", interval_days=1), "every 1 day 09:00", "every 1 day at 09:00"),
        (Cadence("off"), "off", "off"),
    ],
)
def test_to_text_and_describe(cadence: Cadence, text: str, description: str) -> None:
    assert cadence.to_text() == text
    assert cadence.describe() == description
    assert parse_cadence(text) == cadence
    assert parse_cadence(description) == cadence


@pytest.mark.parametrize(
    "kwargs",
    [
        {"kind": "hourly"},
        {"kind": "weekly"},
        {"kind": "weekly", "weekday": 7},
        {"kind": "daily", "weekday": 1},
        {"kind": "monthly"},
        {"kind": "monthly", "day_of_month": 29},
        {"kind": "monthly", "day_of_month": 5, "nth": 1, "weekday": 0},
        {"kind": "monthly", "nth": 5, "weekday": 0},
        {"kind": "monthly", "nth": 1},
        {"kind": "every"},
        {"kind": "every", "interval_days": 366},
        {"kind": "daily", "at": time(9, 0, 30)},
        {"kind": "daily", "at": time(9, tzinfo=UTC)},
    ],
)
def test_invalid_cadences_are_rejected(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Cadence(**kwargs)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- schedules


def test_daily_skips_weekends_and_holidays() -> None:
    days = local_days(Cadence("daily"), NY, date(2026, 7, 1), date(2026, 7, 7))
    assert days == [date(2026, 7, 1), date(2026, 7, 2), date(2026, 7, 6), date(2026, 7, 7)]  # July 3 observed


def test_weekly_on_a_holiday_moves_to_the_next_business_day() -> None:
    thursdays = local_days(Cadence("weekly", weekday=3), NY, date(2026, 11, 16), date(2026, 12, 6))
    assert thursdays == [date(2026, 11, 19), date(2026, 11, 27), date(2026, 12, 3)]  # Thanksgiving → Fri
    fridays = local_days(Cadence("weekly", weekday=4), NY, date(2026, 6, 29), date(2026, 7, 12))
    assert fridays == [date(2026, 7, 6), date(2026, 7, 10)]  # observed July 4 → Monday


def test_weekly_on_a_german_holiday() -> None:
    cadence = Cadence("weekly", weekday=0)
    instants = list(occurrences(cadence, BERLIN, utc(2026, 4, 1), utc(2026, 4, 14)))
    assert instants == [utc(2026, 4, 7, 7), utc(2026, 4, 13, 7)]  # Easter Monday → Tuesday 09:00 CEST


def test_weekly_in_a_sunday_to_thursday_week() -> None:
    riyadh = WorkCalendar.create("Asia/Riyadh", None, "sun-thu")
    fridays = local_days(Cadence("weekly", weekday=4), riyadh, date(2026, 6, 1), date(2026, 6, 14))
    assert fridays == [date(2026, 6, 7), date(2026, 6, 14)]  # Friday is weekend: moves to Sunday
    daily = local_days(Cadence("daily"), riyadh, date(2026, 6, 4), date(2026, 6, 8))
    assert daily == [date(2026, 6, 4), date(2026, 6, 7), date(2026, 6, 8)]


def test_monthly_last_friday_moves_off_christmas() -> None:
    days = local_days(Cadence("monthly", nth=-1, weekday=4), NY, date(2026, 9, 1), date(2027, 1, 31))
    assert days == [
        date(2026, 9, 25),
        date(2026, 10, 30),
        date(2026, 11, 27),
        date(2026, 12, 28),
        date(2027, 1, 29),
    ]


def test_monthly_by_day_and_by_nth_weekday() -> None:
    assert local_days(Cadence("monthly", day_of_month=15), NY, date(2026, 2, 1), date(2026, 4, 30)) == [
        date(2026, 2, 17),  # 15th is a Sunday and the 16th Washington's Birthday
        date(2026, 3, 16),  # Sunday → Monday
        date(2026, 4, 15),
    ]
    assert local_days(Cadence("monthly", nth=1, weekday=0), NY, date(2026, 8, 1), date(2026, 10, 31)) == [
        date(2026, 8, 3),
        date(2026, 9, 8),  # first Monday is Labor Day
        date(2026, 10, 5),
    ]


def test_every_three_days_from_an_anchor() -> None:
    cadence = Cadence("every", interval_days=3, anchor=date(2026, 6, 1))  # Mon
    days = local_days(cadence, NY, date(2026, 6, 1), date(2026, 6, 16))
    # Nominal: 1, 4, 7(Sun→8), 10, 13(Sat→15), 16
    assert days == [date(2026, 6, d) for d in (1, 4, 8, 10, 15, 16)]


def test_every_n_days_merges_nominal_dates_that_shift_onto_one_day() -> None:
    cadence = Cadence("every", interval_days=1, anchor=date(2026, 6, 1))
    # Saturday and Sunday both move to Monday, which is also scheduled itself: one slot.
    assert local_days(cadence, NY, date(2026, 6, 5), date(2026, 6, 8)) == [date(2026, 6, 5), date(2026, 6, 8)]


def test_biweekly_is_anchored() -> None:
    cadence = parse_cadence("biweekly fri", anchor=date(2026, 1, 7))
    # It starts at its anchor (the first Friday on or after it): no call on 26 Dec, though it is in its rhythm.
    assert local_days(cadence, NY, date(2025, 12, 20), date(2026, 2, 10)) == [
        date(2026, 1, 9),
        date(2026, 1, 23),
        date(2026, 2, 6),
    ]
    # Without an anchor the fixed EPOCH decides the phase: still deterministic.
    unanchored = Cadence("biweekly", weekday=EPOCH.weekday())
    assert EPOCH in local_days(unanchored, WorkCalendar(), EPOCH, EPOCH + timedelta(days=20))
    assert EPOCH + timedelta(days=7) not in local_days(unanchored, WorkCalendar(), EPOCH, EPOCH + timedelta(days=20))


def test_off_has_no_schedule() -> None:
    off = Cadence("off")
    assert list(occurrences(off, NY, utc(2026, 1, 1), utc(2027, 1, 1))) == []
    assert next_due(off, NY, after=utc(2026, 1, 1)) is None
    assert due_slots(off, NY, since=utc(2026, 1, 1), now=utc(2027, 1, 1)) == []
    assert due_slot(off, NY, at=utc(2026, 1, 1)) is None


def test_daily_across_dst_keeps_local_time() -> None:
    instants = list(occurrences(Cadence("daily"), NY, utc(2026, 3, 5), utc(2026, 3, 11)))
    assert instants == [utc(2026, 3, 5, 14), utc(2026, 3, 6, 14), utc(2026, 3, 9, 13), utc(2026, 3, 10, 13)]
    instants = list(occurrences(Cadence("daily"), BERLIN, utc(2026, 10, 22), utc(2026, 10, 28)))
    assert instants == [
        utc(2026, 10, 22, 7),
        utc(2026, 10, 23, 7),
        utc(2026, 10, 26, 8),
        utc(2026, 10, 27, 8),
    ]


def test_nonexistent_cadence_time_goes_at_the_first_minute_after_the_jump() -> None:
    seven_days = WorkCalendar("Europe/Berlin", None, frozenset(range(7)))
    cadence = Cadence("daily", at=time(2, 30))
    instants = list(occurrences(cadence, seven_days, utc(2026, 3, 28), utc(2026, 3, 31)))
    assert instants == [utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1, 0), utc(2026, 3, 30, 0, 30)]
    assert [t.astimezone(seven_days.zone()).time() for t in instants] == [
        time(2, 30),
        time(3, 0),
        time(2, 30),
    ]


def test_local_date_differs_from_utc_date() -> None:
    tonga = WorkCalendar("Pacific/Tongatapu")  # UTC+13
    honolulu = WorkCalendar("Pacific/Honolulu", "US")  # UTC−10
    # Monday 09:00 in Tonga is still Sunday in UTC.
    assert next_due(Cadence("weekly", weekday=0), tonga, after=utc(2026, 6, 1)) == utc(2026, 6, 7, 20)
    # Friday 18:00 in Honolulu is already Saturday in UTC.
    assert next_due(Cadence("weekly", weekday=4, at=time(18)), honolulu, after=utc(2026, 6, 1)) == utc(2026, 6, 6, 4)
    slots = due_slots(Cadence("daily"), tonga, since=utc(2026, 6, 7, 19), now=utc(2026, 6, 7, 21))
    assert slots == [Slot(date(2026, 6, 8), utc(2026, 6, 7, 20), date(2026, 6, 6))]


def test_auckland_summer_daily_slot_is_on_the_previous_utc_day() -> None:
    auckland = WorkCalendar("Pacific/Auckland", "NZ")
    slot = next_slot(Cadence("daily"), auckland, after=utc(2026, 1, 14, 12))
    assert slot is not None
    assert slot.local_date == date(2026, 1, 15)
    assert slot.due_at == utc(2026, 1, 14, 20)


def test_next_due_is_strictly_after() -> None:
    weekly = Cadence("weekly", weekday=1, at=time(10, 30))
    first = next_due(weekly, NY, after=utc(2026, 6, 1))
    assert first == utc(2026, 6, 2, 14, 30)
    assert next_due(weekly, NY, after=first) == utc(2026, 6, 9, 14, 30)
    assert next_due(weekly, NY, after=first - timedelta(microseconds=1)) == first


def test_next_due_finds_long_intervals() -> None:
    cadence = Cadence("every", interval_days=365, anchor=date(2026, 1, 2))
    assert next_due(cadence, NY, after=utc(2026, 1, 3)) == NY.at_local(date(2027, 1, 4), time(9))  # Sat → Mon


def test_occurrences_requires_aware_bounds() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        list(occurrences(Cadence("daily"), NY, datetime(2026, 1, 1), utc(2026, 2, 1)))
    assert list(occurrences(Cadence("daily"), NY, utc(2026, 2, 1), utc(2026, 1, 1))) == []


# --------------------------------------------------------------------------- slots and satisfaction


def test_due_slots_window_is_open_left_closed_right() -> None:
    daily = Cadence("daily")
    due = NY.at_local(date(2026, 6, 2), time(9))
    assert [s.due_at for s in due_slots(daily, NY, since=due - timedelta(hours=1), now=due)] == [due]
    assert due_slots(daily, NY, since=due, now=due + timedelta(hours=1)) == []
    assert due_slots(daily, NY, since=due, now=due) == []


def test_due_slots_after_downtime_lists_each_missed_slot_once() -> None:
    slots = due_slots(Cadence("daily"), NY, since=utc(2026, 7, 1), now=utc(2026, 7, 8))
    assert [s.local_date for s in slots] == [
        date(2026, 7, 1),
        date(2026, 7, 2),
        date(2026, 7, 6),
        date(2026, 7, 7),
    ]
    assert slots[2].period_start == date(2026, 7, 3)  # calls over the long weekend count for Monday


def test_call_logged_today_satisfies_the_slot() -> None:
    daily = Cadence("daily")
    slot = next_slot(daily, NY, after=utc(2026, 6, 2))
    assert slot is not None and slot.local_date == date(2026, 6, 2)
    before_nudge = NY.at_local(date(2026, 6, 2), time(8))
    after_nudge = NY.at_local(date(2026, 6, 2), time(16))
    yesterday = NY.at_local(date(2026, 6, 1), time(16))
    assert is_satisfied(slot, before_nudge, NY)
    assert is_satisfied(slot, after_nudge, NY)
    assert not is_satisfied(slot, yesterday, NY)
    assert not is_satisfied(slot, None, NY)
    assert due_slot(daily, NY, at=before_nudge) == slot


def test_weekly_call_after_previous_slot_satisfies_the_next() -> None:
    weekly = Cadence("weekly", weekday=1)  # Tuesdays
    slot = next_slot(weekly, NY, after=utc(2026, 6, 3))
    assert slot is not None and slot.local_date == date(2026, 6, 9)
    assert slot.period_start == date(2026, 6, 3)
    assert is_satisfied(slot, NY.at_local(date(2026, 6, 4), time(15)), NY)  # Thursday call
    assert not is_satisfied(slot, NY.at_local(date(2026, 6, 2), time(15)), NY)  # previous slot's day
    assert due_slot(weekly, NY, at=NY.at_local(date(2026, 6, 4), time(15))) == slot
    assert due_slot(weekly, NY, at=NY.at_local(date(2026, 6, 9), time(23))) == slot


def test_is_satisfied_uses_the_customer_local_date() -> None:
    honolulu = WorkCalendar("Pacific/Honolulu", "US")
    slot = next_slot(Cadence("daily"), honolulu, after=utc(2026, 6, 2))
    assert slot is not None and slot.local_date == date(2026, 6, 2)
    # 2026-06-03 05:00 UTC is still June 2 at 19:00 in Honolulu.
    assert is_satisfied(slot, utc(2026, 6, 3, 5), honolulu)
    assert not is_satisfied(slot, utc(2026, 6, 2, 5), honolulu)  # June 1 local


def test_slot_without_period_start_only_counts_its_own_day() -> None:
    slot = Slot(date(2026, 6, 2), NY.at_local(date(2026, 6, 2), time(9)))
    assert is_satisfied(slot, NY.at_local(date(2026, 6, 2), time(20)), NY)
    assert not is_satisfied(slot, NY.at_local(date(2026, 6, 1), time(20)), NY)


# --------------------------------------------------------------------------- standing


def test_daily_standing_counts_business_days() -> None:
    daily = Cadence("daily")
    friday_call = NY.at_local(date(2026, 6, 5), time(15))
    created = utc(2026, 1, 1)

    def state_on(day: date) -> str:
        now = NY.at_local(day, time(12))
        return standing(daily, NY, last_contact_at=friday_call, now=now, created_at=created).state

    assert state_on(date(2026, 6, 6)) == "green"
    assert state_on(date(2026, 6, 8)) == "green"  # Friday call is fine on Monday
    assert state_on(date(2026, 6, 9)) == "yellow"
    assert state_on(date(2026, 6, 10)) == "red"
    # Over Thanksgiving: Wednesday call, Friday is one business day later, Monday two.
    wed = NY.at_local(date(2026, 11, 25), time(10))
    fri, mon = NY.at_local(date(2026, 11, 27), time(17)), NY.at_local(date(2026, 11, 30), time(9))
    assert standing(daily, NY, last_contact_at=wed, now=fri, created_at=created).state == "green"
    assert standing(daily, NY, last_contact_at=wed, now=mon, created_at=created).state == "yellow"


def test_weekly_standing_thresholds() -> None:
    weekly = Cadence("weekly", weekday=1)
    call = NY.at_local(date(2026, 6, 2), time(10))
    created = utc(2026, 1, 1)
    results = {
        offset: standing(
            weekly,
            NY,
            last_contact_at=call,
            now=NY.at_local(date(2026, 6, 2 + offset), time(23)),
            created_at=created,
        )
        for offset in (7, 8, 10, 11)
    }
    assert [results[o].state for o in (7, 8, 10, 11)] == ["green", "yellow", "yellow", "red"]
    assert results[8].since_last == NY.at_local(date(2026, 6, 10), time(23)) - call
    assert "8 days ago" in results[8].reason


def test_standing_without_contact_counts_from_creation() -> None:
    monthly = Cadence("monthly", day_of_month=1)
    created = utc(2026, 1, 1, 12)
    fresh = standing(monthly, NY, last_contact_at=None, now=utc(2026, 1, 20), created_at=created)
    assert fresh.state == "green" and fresh.since_last is None
    assert "No call logged yet" in fresh.reason
    assert standing(monthly, NY, last_contact_at=None, now=utc(2026, 2, 5), created_at=created).state == "yellow"
    assert standing(monthly, NY, last_contact_at=None, now=utc(2026, 2, 15), created_at=created).state == "red"


def test_standing_off_and_overrides() -> None:
    call = utc(2026, 6, 1, 15)
    off = standing(Cadence("off"), NY, last_contact_at=call, now=utc(2026, 9, 1), created_at=call)
    assert off.state == "off" and off.since_last == utc(2026, 9, 1) - call
    every5 = Cadence("every", interval_days=5)
    assert every5.thresholds == Thresholds(5, 7)
    assert Cadence("every", interval_days=10).thresholds == Thresholds(10, 14)
    assert Cadence("biweekly", weekday=0).thresholds == Thresholds(14, 18)
    assert Cadence("daily").thresholds == Thresholds(1, 2, business_days=True)
    monthly = Cadence("monthly", day_of_month=1)
    assert (monthly.ideal_window, monthly.max_window) == (31, 40)
    assert Cadence("off").thresholds is None and Cadence("off").ideal_window is None
    assert standing(every5, NY, last_contact_at=call, now=utc(2026, 6, 7, 15), created_at=call).state == "yellow"
    assert standing(every5, NY, last_contact_at=call, now=utc(2026, 6, 9, 15), created_at=call).state == "red"
    lenient = Thresholds(10, 20)
    later = utc(2026, 6, 9, 15)
    assert standing(every5, NY, last_contact_at=call, now=later, created_at=call, thresholds=lenient).state == "green"
    with pytest.raises(ValueError):
        Thresholds(5, 4)


def test_standing_with_a_future_call_is_green() -> None:
    call = utc(2026, 6, 10)
    result = standing(Cadence("daily"), NY, last_contact_at=call, now=utc(2026, 6, 5), created_at=utc(2026, 1, 1))
    assert result.state == "green" and result.since_last == timedelta()


def test_launch_cadence() -> None:
    normal = Cadence("weekly", weekday=1, at=time(10, 30))
    launch = date(2026, 6, 30)
    assert launch_cadence(normal, launch_until=launch, today=date(2026, 6, 1)) == Cadence("daily", at=time(10, 30))
    assert launch_cadence(normal, launch_until=launch, today=launch) == Cadence("daily", at=time(10, 30))
    assert launch_cadence(normal, launch_until=launch, today=date(2026, 7, 1)) == normal
    assert launch_cadence(normal, launch_until=None, today=date(2026, 6, 1)) == normal
    assert launch_cadence(Cadence("off"), launch_until=launch, today=launch) == Cadence("daily")


def test_domain_code_never_reads_the_clock() -> None:
    domain = Path(__file__).resolve().parents[2] / "domain"
    for name in ("calendar.py", "cadence.py"):
        source = (domain / name).read_text()
        assert not re.search(r"\b(now|today|utcnow)\(|time\.time\(|import (slack|sqlmodel|sqlalchemy)", source), name


# --------------------------------------------------------------------------- properties

ZONES = [
    "UTC",
    "America/New_York",
    "Europe/Berlin",
    "Pacific/Auckland",
    "Pacific/Tongatapu",
    "Pacific/Honolulu",
    "Asia/Jerusalem",
    "Australia/Lord_Howe",  # 30-minute DST shift
    "America/Santiago",  # DST changes at midnight
    "Asia/Kolkata",
]

times = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45, 59]))
anchors = st.none() | st.dates(date(2023, 1, 1), date(2029, 12, 31))
weekdays = st.integers(0, 6)

cadences = st.one_of(
    st.builds(Cadence, st.just("daily"), at=times),
    st.builds(Cadence, st.just("weekly"), weekday=weekdays, at=times),
    st.builds(Cadence, st.just("biweekly"), weekday=weekdays, at=times, anchor=anchors),
    st.builds(Cadence, st.just("monthly"), day_of_month=st.integers(1, 28), at=times),
    st.builds(Cadence, st.just("monthly"), nth=st.sampled_from([1, 2, 3, 4, -1]), weekday=weekdays, at=times),
    st.builds(Cadence, st.just("every"), interval_days=st.integers(1, 45), at=times, anchor=anchors),
)

calendars = st.builds(
    WorkCalendar,
    tz=st.sampled_from(ZONES),
    country=st.sampled_from([None, "US", "DE", "IL", "NZ", "GB"]),
    working_days=st.frozensets(st.integers(0, 6), min_size=1),
)

starts = st.datetimes(datetime(2025, 1, 1), datetime(2028, 12, 31), timezones=st.just(UTC))


def _matches(cadence: Cadence, day: date) -> bool:
    """Brute-force 'is this a nominal date', written independently of Cadence.nominal_dates."""
    if cadence.kind == "daily":
        return True
    if cadence.kind == "weekly":
        return day.weekday() == cadence.weekday
    if cadence.anchor is not None and day < cadence.anchor:
        return False  # an anchored biweekly / every-N-days cadence starts there
    if cadence.kind == "biweekly":
        phase = cadence.anchor or EPOCH + timedelta(days=((cadence.weekday or 0) - EPOCH.weekday()) % 7)
        return day.weekday() == cadence.weekday and (day - phase).days % 14 == 0
    if cadence.kind == "every":
        assert cadence.interval_days is not None
        return (day - (cadence.anchor or EPOCH)).days % cadence.interval_days == 0
    if cadence.day_of_month is not None:
        return day.day == cadence.day_of_month
    if day.weekday() != cadence.weekday:
        return False
    if cadence.nth == -1:
        return (day + timedelta(days=7)).month != day.month
    return (day.day - 1) // 7 + 1 == cadence.nth


def _is_gap_shift(cal: WorkCalendar, day: date, at: time) -> bool:
    wall = datetime.combine(day, at)
    round_trip = wall.replace(tzinfo=cal.zone()).astimezone(UTC).astimezone(cal.zone()).replace(tzinfo=None)
    return round_trip != wall and timedelta() < round_trip - wall <= timedelta(hours=3)


@settings(deadline=None, max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(cadence=cadences, cal=calendars, start=starts, days=st.integers(0, 120))
def test_occurrences_are_increasing_business_days_at_local_time(
    cadence: Cadence, cal: WorkCalendar, start: datetime, days: int
) -> None:
    end = start + timedelta(days=days, hours=7)
    instants = list(occurrences(cadence, cal, start, end))
    assert all(start <= t < end and t.tzinfo is UTC for t in instants)
    assert all(a < b for a, b in pairwise(instants))

    slot_days: list[date] = []
    for t in instants:
        local = t.astimezone(cal.zone())
        # The slot date is the local date, or the day before if a DST gap pushed past midnight.
        candidates = [d for d in (local.date(), local.date() - timedelta(days=1)) if cal.at_local(d, cadence.at) == t]
        assert candidates, t
        day = candidates[0]
        assert cal.is_business_day(day)
        assert local.time() == cadence.at or _is_gap_shift(cal, day, cadence.at)
        slot_days.append(day)

    # Independent oracle: shift every nominal date to a business day, keep the distinct ones in range.
    lo, hi = cal.local_date(start) - timedelta(days=1), cal.local_date(end) + timedelta(days=1)
    expected: set[date] = set()
    day = lo - timedelta(days=60)
    while day <= hi:
        if _matches(cadence, day):
            expected.add(cal.next_business_day(day, include_today=True))
        day += timedelta(days=1)
    in_window = sorted(d for d in expected if start <= cal.at_local(d, cadence.at) < end)
    assert slot_days == in_window


@settings(deadline=None, max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(cadence=cadences, cal=calendars, start=starts, days=st.integers(1, 90), data=st.data())
def test_due_slots_over_a_partition_yield_each_slot_exactly_once(
    cadence: Cadence, cal: WorkCalendar, start: datetime, days: int, data: st.DataObject
) -> None:
    end = start + timedelta(days=days)
    whole = due_slots(cadence, cal, since=start, now=end)
    # Cut points: random instants plus some exact due instants (the boundaries that matter most).
    random_cuts = data.draw(st.lists(st.floats(0, 1, exclude_min=True, exclude_max=True), max_size=25))
    exact_cuts = data.draw(st.lists(st.sampled_from(whole), max_size=5)) if whole else []
    cuts = sorted(
        {start, end}
        | {start + (end - start) * f for f in random_cuts}
        | {s.due_at for s in exact_cuts}
        | {s.due_at - timedelta(microseconds=1) for s in exact_cuts}
    )
    pieces: list[Slot] = []
    for since, now in pairwise(cuts):
        pieces.extend(due_slots(cadence, cal, since=since, now=now))

    assert pieces == whole  # no duplicates, no gaps, identical slots whatever the window
    assert len({s.local_date for s in pieces}) == len(pieces)
    assert [s.due_at for s in whole] == list(
        occurrences(cadence, cal, start + timedelta(microseconds=1), end + timedelta(microseconds=1))
    )
    for previous, slot in pairwise(whole):
        assert slot.period_start == previous.local_date + timedelta(days=1)
        # A call at the previous nudge does not satisfy this one; a call at this nudge does.
        assert not is_satisfied(slot, previous.due_at, cal)
        assert is_satisfied(slot, slot.due_at, cal)
        assert due_slot(cadence, cal, at=slot.due_at) == slot


@settings(deadline=None, max_examples=150)
@given(cadence=cadences | st.just(Cadence("off")))
def test_text_round_trips(cadence: Cadence) -> None:
    assert parse_cadence(cadence.to_text()) == cadence
    assert parse_cadence(cadence.describe()) == cadence
    assert parse_cadence(cadence.to_text().upper()) == cadence


@pytest.mark.parametrize("spec", ["biweekly mon from 2028-01-03", "every 3 days from 2029-06-01"])
def test_a_cadence_starting_years_ahead_has_its_first_call_there(spec: str) -> None:
    # Further ahead than the slot search's horizon: the search starts at the cadence's first call.
    cadence = parse_cadence(spec, anchor=date(2025, 1, 1))
    after = datetime(2025, 1, 1, tzinfo=UTC)
    due = next_due(cadence, WorkCalendar("UTC"), after=after)
    assert due is not None and due.date() == cadence.anchor
    assert due_slot(cadence, WorkCalendar("UTC"), at=after) is not None


@settings(deadline=None, max_examples=100)
@given(cadence=cadences, cal=calendars, after=starts)
def test_next_due_agrees_with_occurrences(cadence: Cadence, cal: WorkCalendar, after: datetime) -> None:
    due = next_due(cadence, cal, after=after)
    assert due is not None and due > after
    assert list(occurrences(cadence, cal, after + timedelta(microseconds=1), due)) == []
    assert list(occurrences(cadence, cal, due, due + timedelta(microseconds=1))) == [due]


# --------------------------------------------------------------------------- a snoozed call coming back


@pytest.mark.parametrize(
    ("ends", "back", "why"),
    [
        (utc(2026, 12, 2, 14, 5), utc(2026, 12, 2, 14, 5), "Wednesday 09:05 after the call time: when it ends"),
        (utc(2026, 12, 3, 5), utc(2026, 12, 3, 14), "'until Thursday' ends at its midnight: at the call time"),
        (utc(2026, 12, 2, 23), utc(2026, 12, 3, 14), "Wednesday 18:00, after hours: Thursday at the call time"),
        (utc(2026, 12, 5, 14, 5), utc(2026, 12, 7, 14), "Saturday: Monday at the call time"),
        (utc(2026, 12, 25, 14, 5), utc(2026, 12, 28, 14), "Christmas, then a weekend: Monday"),
        (utc(2026, 11, 2, 13, 30), utc(2026, 11, 2, 14), "08:30 EST the Monday after the clocks went back: 09:00 EST"),
        (utc(2026, 3, 9, 12), utc(2026, 3, 9, 13), "08:00 EDT the Monday after the clocks went forward: 09:00 EDT"),
    ],
)
def test_a_snoozed_call_comes_back_when_the_snooze_ends_within_working_hours_never_before_the_call_time(
    ends: datetime, back: datetime, why: str
) -> None:
    assert snooze_return(time(9), NY, snoozed_until=ends) == back, why


def test_a_snoozed_call_whose_nudge_was_out_that_day_comes_back_the_next_business_day() -> None:
    # "snooze 2h" of Friday's 09:00 nudge: one nudge a customer a day, so Monday at the call time.
    ends = utc(2026, 12, 4, 16)
    assert snooze_return(time(9), NY, snoozed_until=ends) == ends
    assert snooze_return(time(9), NY, snoozed_until=ends, nudged_on=date(2026, 12, 4)) == utc(2026, 12, 7, 14)


def test_a_snooze_ending_on_a_sunday_of_a_sunday_to_thursday_week_is_back_that_day() -> None:
    israel = WorkCalendar("Asia/Jerusalem", working_days=frozenset({6, 0, 1, 2, 3}))
    assert snooze_return(time(10), israel, snoozed_until=utc(2026, 12, 6, 6)) == utc(2026, 12, 6, 8)
    assert snooze_return(time(10), israel, snoozed_until=utc(2026, 12, 4, 8)) == utc(2026, 12, 6, 8)  # Friday


def test_moved_here_names_the_days_a_weekend_or_holiday_moved_to_a_slot_and_none_for_daily_calls() -> None:
    london = WorkCalendar("Europe/London", "GB", subdiv="ENG")
    tuesday = date(2026, 12, 29)  # Boxing Day (observed) was Monday 28 December
    assert moved_here(parse_cadence("weekly mon"), london, tuesday) == [date(2026, 12, 28)]
    assert moved_here(parse_cadence("weekly tue"), london, tuesday) == []
    assert moved_here(parse_cadence("monthly 26"), london, tuesday) == [date(2026, 12, 26)]  # a Saturday, a holiday
    # A daily call, or every day, names every day: its weekends and holidays just have no call.
    assert moved_here(parse_cadence("daily"), london, tuesday) == []
    assert moved_here(parse_cadence("every 1 day"), london, date(2027, 1, 4)) == []
    assert moved_here(parse_cadence("every 2 days from 2027-01-01"), london, date(2027, 1, 4)) == [
        date(2027, 1, 1),  # New Year's Day
        date(2027, 1, 3),  # a Sunday
    ]
    # Nothing before an anchored cadence's first call.
    assert moved_here(parse_cadence("every 7 days from 2026-12-29"), london, tuesday) == []
