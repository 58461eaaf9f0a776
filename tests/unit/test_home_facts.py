"""The Home's shared cadence answers (CadenceDay) agree with the cadence rules asked customer by customer.

CadenceDay answers "overdue" and "call due today" once per (calendar, cadence, windows) and customer-local date, so a
thousand customers cost a few dozen calendar searches. These properties compare it with the rules it stands for,
for many customers sharing one pair, including time zones whose midnight or 00:30 falls in a DST gap.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from domain.cadence import Cadence, due_slot, is_satisfied, occurrences, parse_cadence
from domain.calendar import WorkCalendar
from handlers.blocks import local_time
from handlers.blocks.home import MAX_LOOKBACK_DAYS, CadenceDay
from schedules import planner
from storage.cadence import CustomerSchedule

CADENCES = (
    "daily",
    "daily 00:00",  # a call at local midnight: exactly on a day's edge
    "daily 00:30",
    "weekly wed 14:00",
    "weekly sun 23:45",
    "weekly thu 0:00",
    "biweekly mon",
    "monthly first-tue",
    "monthly 28 16:00",
    "monthly last-fri",
    "every 3 days 09:00 from 2026-01-05",
)
CALENDARS = (
    ("UTC", None, None),
    ("America/New_York", "US", None),
    ("Asia/Jerusalem", "IL", "sun-thu"),
    ("America/Santiago", None, None),  # DST starts at midnight
    ("Pacific/Auckland", None, "mon-sat"),
    ("Asia/Kolkata", None, None),
)
START = datetime(2024, 1, 1, tzinfo=UTC)
instants = st.integers(min_value=0, max_value=3 * 365 * 24 * 60).map(lambda m: START + timedelta(minutes=m))


def settings_of(
    cadence_text: str,
    calendar: tuple[str, str | None, str | None],
    windows: tuple[int | None, int | None] = (None, None),
) -> CustomerSchedule:
    """A customer with this cadence, calendar and ideal/maximum windows (None: the cadence's own)."""
    tz, country, week = calendar
    return CustomerSchedule(
        id=1,
        owner_id=None,
        tz=tz,
        country=country,
        subdiv=None,
        working_week=week,
        cadence=cadence_text,
        launch_until=None,
        created_at=START,
        archived_at=None,
        paused_at=None,
        snoozed_until=None,
        ideal_days=windows[0],
        max_days=windows[1],
    )


def reference_overdue(
    customer: CustomerSchedule, cal: WorkCalendar, last: datetime | None, created: datetime, now: datetime
) -> bool:
    """The owner's alert's rule, asked for the one customer (added at `created`)."""
    added = CustomerSchedule(**{**{f: getattr(customer, f) for f in customer.__slots__}, "created_at": created})
    found = planner.cadence_standing(added, cal, last_contact_at=last, restart=None, now=now)
    return found is not None and found.state == "red"


def reference_due_today(
    cadence: Cadence, cal: WorkCalendar, last: datetime | None, snoozed_until: datetime | None, now: datetime
) -> bool:
    """Customer by customer, as the Home asked before: is today's call still open?"""
    today = cal.local_date(now)
    if last is not None and cal.local_date(last) >= today:
        return False
    day_start = cal.at_local(today, time(0, 0))
    day_end = cal.at_local(today + timedelta(days=1), time(0, 0))
    if snoozed_until is not None and snoozed_until >= day_end:
        return False
    if next(occurrences(cadence, cal, day_start, day_end), None) is None:
        return False
    if last is None:
        return True
    since = cal.at_local(max(cal.local_date(last), today - timedelta(days=MAX_LOOKBACK_DAYS)), time(0, 0))
    return next(occurrences(cadence, cal, since, day_start), None) is not None


# The last contact's day starts exactly when yesterday's midnight call was due: that call still counts.
@example("daily 00:00", ("UTC", None, None), datetime(2026, 11, 25, 15, tzinfo=UTC), [(20, 30, None)], (None, None))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cadence_text=st.sampled_from(CADENCES),
    calendar=st.sampled_from(CALENDARS),
    now=instants,
    customers=st.lists(
        st.tuples(
            st.one_of(st.none(), st.integers(0, 24 * 40), st.integers(0, 24 * 900)),  # hours before now of the contact
            st.integers(min_value=0, max_value=3000),  # days before now the customer was added
            st.one_of(st.none(), st.integers(min_value=-3 * 24, max_value=9 * 24)),  # snoozed until, hours from now
        ),
        min_size=1,
        max_size=25,
    ),
    # The customer's own ideal/maximum windows (`edit ideal= max=`), as the owner's alert counts them.
    windows=st.sampled_from([(None, None), (3, 5), (None, 20), (10, 12), (1, 1)]),
)
def test_shared_answers_equal_the_rules_asked_per_customer(
    cadence_text: str,
    calendar: tuple[str, str | None, str | None],
    now: datetime,
    customers: list[tuple[int | None, int, int | None]],
    windows: tuple[int | None, int | None],
) -> None:
    tz, country, week = calendar
    cal = WorkCalendar.create(tz, country, week)
    cadence = parse_cadence(cadence_text)
    customer = settings_of(cadence_text, calendar, windows)
    day = CadenceDay(cal, cadence, now, customer)  # one for all the customers, as during a render
    for contact_hours, added_days, snooze_hours in customers:
        last = now - timedelta(hours=contact_hours) if contact_hours is not None else None
        created = now - timedelta(days=added_days)
        snoozed = now + timedelta(hours=snooze_hours) if snooze_hours is not None else None
        assert day.overdue(last, created) == reference_overdue(customer, cal, last, created, now), (last, created)
        assert day.call_due_today(last, snoozed) == reference_due_today(cadence, cal, last, snoozed, now), (
            last,
            snoozed,
        )


def test_the_first_call_of_a_cadence_starting_on_a_date_is_due_as_the_planner_counts_it() -> None:
    cal = WorkCalendar.create("America/New_York")
    cadence = parse_cadence("every 14 days from 2026-12-01")  # a Tuesday: its first call
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # 07:00 that morning in New York
    slot = due_slot(cadence, cal, at=now)
    assert slot is not None and slot.local_date == date(2026, 12, 1)
    for days_ago in (1, 13, 14, 30):  # a call within the interval before the first one counts for it
        last = now - timedelta(days=days_ago)
        assert CadenceDay(
            cal, cadence, now, settings_of(cadence.to_text(), ("America/New_York", None, None))
        ).call_due_today(last, None) == (not is_satisfied(slot, last, cal))
    assert CadenceDay(
        cal, cadence, now, settings_of(cadence.to_text(), ("America/New_York", None, None))
    ).call_due_today(now - timedelta(days=30), None)
    assert not CadenceDay(
        cal, cadence, now, settings_of(cadence.to_text(), ("America/New_York", None, None))
    ).call_due_today(now - timedelta(days=1), None)
    before = CadenceDay(
        cal, cadence, now - timedelta(days=14), settings_of(cadence.to_text(), ("America/New_York", None, None))
    )  # 17 Nov: in its rhythm, but before it starts
    assert not before.call_due_today(None, None)


@pytest.mark.parametrize(
    ("instant", "tz", "shown"),
    [
        (datetime(2026, 12, 1, 14, 0, tzinfo=UTC), "America/New_York", "Tue 1 Dec 09:00 EST"),
        (datetime(2026, 3, 29, 7, 30, tzinfo=UTC), "Europe/Berlin", "Sun 29 Mar 09:30 CEST"),  # the spring-forward day
        (datetime(2026, 12, 1, 14, 0, tzinfo=ZoneInfo("America/New_York")), None, "Tue 1 Dec 14:00"),
        (datetime(2026, 12, 1, 14, 0, tzinfo=UTC).astimezone(ZoneInfo("Asia/Tokyo")), None, "Tue 1 Dec 23:00"),
        (None, "UTC", "—"),
    ],
)
def test_the_one_local_time_shows_a_moment_as_every_surface_did(
    instant: datetime | None, tz: str | None, shown: str
) -> None:
    """Home, the list and card (on the customer's clock, its zone's abbreviation last) and the nudges and answers
    (the wall clock of an instant already local, the zone named beside it) format a moment with one helper."""
    assert local_time(instant, tz) == shown
