"""Check-in rules and customer settings: owner alerts, next-step dates, key=value settings, next nudge."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from domain.calendar import WorkCalendar
from domain.checkins import owner_alert, parse_due_date
from domain.customers import next_nudge, parse_settings
from domain.errors import UserError

WEDNESDAY = date(2026, 11, 25)


@pytest.mark.parametrize(
    ("previous", "current", "alert"),
    [
        (None, "green", None),
        (None, "red", "red"),
        ("green", "red", "red"),
        ("red", "red", "red"),
        ("green", "yellow", "drop"),  # 5 → 3: two steps on the 1–5 scale
        ("yellow", "red", "red"),
        ("yellow", "yellow", None),
        ("red", "yellow", None),
        ("yellow", "green", None),
    ],
)
def test_owner_alert(previous: str | None, current: str, alert: str | None) -> None:
    assert owner_alert(previous, current) == alert


@pytest.mark.parametrize(
    ("text", "due"),
    [
        ("today", WEDNESDAY),
        ("tomorrow", date(2026, 11, 26)),
        ("fri", date(2026, 11, 27)),
        ("Friday", date(2026, 11, 27)),
        ("wed", date(2026, 12, 2)),  # today's weekday means next week's
        ("mon", date(2026, 11, 30)),
        ("3d", date(2026, 11, 28)),
        ("2w", date(2026, 12, 9)),
        ("2026-12-01", date(2026, 12, 1)),
    ],
)
def test_parse_due_date(text: str, due: date) -> None:
    assert parse_due_date(text, today=WEDNESDAY) == due


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("someday", "I couldn't read the date 'someday'"),
        ("2026-11-01", "is in the past"),
        ("2030-01-01", "more than a year away"),
        ("", "empty"),
    ],
)
def test_parse_due_date_refuses(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_due_date(text, today=WEDNESDAY)


def test_parse_settings_normalises_every_key() -> None:
    fields = parse_settings(
        {
            "tz": "asia/jerusalem",
            "country": "il",
            "week": "sun - thu",
            "cadence": "Weekly Tue 10am",
            "summary": "off",
            "ideal": "5",
            "max": "8 days",
        },
        today=WEDNESDAY,
    )
    assert fields == {
        "tz": "Asia/Jerusalem",
        "country": "IL",
        "subdiv": None,
        "working_week": "sun-thu",
        "cadence": "weekly tue 10:00",
        "post_checkins": False,
        "ideal_days": 5,
        "max_days": 8,
    }
    assert parse_settings({"country": "us-ca"}, today=WEDNESDAY) == {"country": "US", "subdiv": "CA"}
    assert parse_settings({"week": "mon-fri", "ideal": "default"}, today=WEDNESDAY) == {
        "working_week": None,
        "ideal_days": None,
    }


@pytest.mark.parametrize(
    ("options", "field", "message"),
    [
        ({"tz": "Mars/Base"}, "tz", "Unknown time zone 'Mars/Base'"),
        ({"country": "XX"}, "country", "Unknown country code 'XX'"),
        ({"country": "US-ZZ"}, "country", "Unknown region 'ZZ' for US"),
        ({"cadence": "sometimes"}, "cadence", "couldn't read the cadence 'sometimes'"),
        ({"week": "funday"}, "week", "I didn't understand 'funday'"),
        ({"summary": "maybe"}, "summary", "summary= takes on or off"),
        ({"ideal": "0"}, "ideal", "'0' is not a number of days"),
        ({"ideal": "9", "max": "3"}, "ideal", "can't be longer than the maximum"),
        ({"colour": "blue"}, None, "Unknown option 'colour='"),
    ],
)
def test_parse_settings_names_the_bad_value(options: dict[str, str], field: str | None, message: str) -> None:
    with pytest.raises(UserError, match=message) as raised:
        parse_settings(options, today=WEDNESDAY)
    assert raised.value.field == field


def test_max_is_checked_against_the_customers_current_ideal() -> None:
    with pytest.raises(UserError, match="can't be longer"):
        parse_settings({"max": "3"}, today=WEDNESDAY, ideal_days=7)


def test_country_errors_say_where_valid_codes_are_listed() -> None:
    with pytest.raises(UserError, match=r"holidays\.readthedocs\.io"):
        parse_settings({"country": "XX"}, today=WEDNESDAY)


def test_next_nudge_in_the_customers_time() -> None:
    berlin = WorkCalendar.create("Europe/Berlin", "DE")
    now = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # Wednesday 16:00 in Berlin
    assert next_nudge(cadence="weekly tue 10:00", calendar=berlin, now=now) == datetime(2026, 12, 1, 9, tzinfo=UTC)
    # Daily at 09:00: Thursday morning, Berlin time.
    assert next_nudge(cadence="daily 09:00", calendar=berlin, now=now) == datetime(2026, 11, 26, 8, tzinfo=UTC)
    assert next_nudge(cadence="off", calendar=berlin, now=now) is None
    assert next_nudge(cadence=None, calendar=berlin, now=now) is None
    assert next_nudge(cadence="daily", calendar=berlin, now=now, paused=True) is None


def test_next_nudge_skips_a_slot_already_satisfied_and_a_snooze() -> None:
    utc = WorkCalendar.create("UTC")
    early = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)  # Wednesday before the 09:00 daily nudge
    called = datetime(2026, 11, 25, 6, 30, tzinfo=UTC)
    assert next_nudge(cadence="daily", calendar=utc, now=early) == datetime(2026, 11, 25, 9, tzinfo=UTC)
    assert next_nudge(cadence="daily", calendar=utc, now=early, last_contact_at=called) == datetime(
        2026, 11, 26, 9, tzinfo=UTC
    )
    snoozed = datetime(2026, 11, 28, 12, tzinfo=UTC)  # until Saturday noon → Monday
    assert next_nudge(cadence="daily", calendar=utc, now=early, snoozed_until=snoozed) == datetime(
        2026, 11, 30, 9, tzinfo=UTC
    )
