"""Business-day calendar: time zones, DST, holidays, working weeks, business hours."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.calendar import (
    WorkCalendar,
    format_working_week,
    parse_weekday,
    parse_working_week,
    supported_countries,
    validate_country,
    validate_subdivision,
    validate_timezone,
    validate_typed_timezone,
)

NY = WorkCalendar("America/New_York", "US")
BERLIN = WorkCalendar("Europe/Berlin", "DE")
JERUSALEM_SUN_THU = WorkCalendar("Asia/Jerusalem", None, frozenset({6, 0, 1, 2, 3}))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --------------------------------------------------------------------------- validation


def test_validate_timezone_returns_canonical_spelling() -> None:
    assert validate_timezone("Europe/Berlin") == "Europe/Berlin"
    assert validate_timezone("  america/new_york ") == "America/New_York"
    assert validate_timezone("utc") == "UTC"


@pytest.mark.parametrize(
    ("typed", "meant"), [("EST", "America/New_York"), ("est", "America/New_York"), ("MST", "America/Denver")]
)
def test_a_typed_fixed_offset_lookalike_names_the_zone_meant(typed: str, meant: str) -> None:
    with pytest.raises(ValueError, match=f"no daylight saving time.*tz={meant}"):
        validate_typed_timezone(typed)
    assert validate_timezone(typed) == typed.upper()  # a customer stored with it before still loads
    assert validate_typed_timezone("America/Phoenix") == "America/Phoenix"  # fixed all year, and meant so
    assert validate_typed_timezone("EST5EDT") == "EST5EDT"  # moves its clocks


@pytest.mark.parametrize("bad", ["Mars/Olympus", "", "Europe", "../etc/passwd", "/usr/share/zoneinfo/UTC"])
def test_validate_timezone_rejects_unknown_names_with_help(bad: str) -> None:
    with pytest.raises(ValueError) as err:
        validate_timezone(bad)
    assert str(err.value) == (
        f"Unknown time zone {bad!r} — use an IANA name like Europe/Berlin; "
        "see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones"
    )


def test_validate_country() -> None:
    assert validate_country("us") == "US"
    assert validate_country(" de ") == "DE"
    assert "US" in supported_countries()
    for bad in ("XX", "USA", "", "U1"):
        with pytest.raises(ValueError, match=r"Unknown country code .*two-letter ISO 3166"):
            validate_country(bad)


def test_validate_subdivision() -> None:
    assert validate_subdivision("us", "ca") == "CA"
    with pytest.raises(ValueError, match=r"Unknown region 'ZZ' for US — valid codes: .*CA"):
        validate_subdivision("US", "ZZ")


def test_calendar_construction_validates_and_normalises() -> None:
    cal = WorkCalendar("europe/berlin", "de-by")
    assert (cal.tz, cal.country, cal.subdiv) == ("Europe/Berlin", "DE", "BY")
    assert WorkCalendar(country="US", subdiv="ca").subdiv == "CA"
    assert WorkCalendar(country="").country is None
    with pytest.raises(ValueError, match="Unknown time zone 'Nowhere/Land'"):
        WorkCalendar("Nowhere/Land")
    with pytest.raises(ValueError, match="Unknown country code 'ZZ'"):
        WorkCalendar("UTC", "ZZ")
    with pytest.raises(ValueError, match="needs a country"):
        WorkCalendar("UTC", None, subdiv="CA")
    with pytest.raises(ValueError, match="given twice"):
        WorkCalendar("UTC", "US-CA", subdiv="NY")
    with pytest.raises(ValueError, match="non-empty set of weekdays"):
        WorkCalendar("UTC", None, frozenset())
    with pytest.raises(ValueError, match="non-empty set of weekdays"):
        WorkCalendar("UTC", None, frozenset({7}))


def test_create_factory_reads_a_working_week() -> None:
    cal = WorkCalendar.create("Asia/Riyadh", None, "sun-thu")
    assert cal == WorkCalendar("Asia/Riyadh", None, frozenset({6, 0, 1, 2, 3}))
    assert WorkCalendar.create().working_days == frozenset(range(5))
    assert hash(cal) == hash(WorkCalendar("Asia/Riyadh", None, frozenset({6, 0, 1, 2, 3})))


# --------------------------------------------------------------------------- working week


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("mon-fri", {0, 1, 2, 3, 4}),
        ("sun-thu", {6, 0, 1, 2, 3}),
        ("mon,tue,thu", {0, 1, 3}),
        ("Monday - Wednesday", {0, 1, 2}),
        ("mon-wed, fri", {0, 1, 2, 4}),
        ("SAT", {5}),
        ("thursday,sunday", {3, 6}),
        ("mon-sun", set(range(7))),
    ],
)
def test_parse_working_week(text: str, days: set[int]) -> None:
    assert parse_working_week(text) == frozenset(days)


@pytest.mark.parametrize("bad", ["", "   ", "mon-", "funday", "mon-tue-wed", "1-5"])
def test_parse_working_week_errors_are_friendly(bad: str) -> None:
    with pytest.raises(ValueError, match=r"'mon-fri', 'sun-thu' or 'mon,tue,thu'"):
        parse_working_week(bad)


def test_parse_weekday_aliases() -> None:
    assert [parse_weekday(x) for x in ("Mon", "tues", "Wednesday", "thurs", "fri.", "sat", "SUNDAY")] == list(range(7))
    with pytest.raises(ValueError, match="not a day of the week"):
        parse_weekday("someday")


def test_format_working_week_examples() -> None:
    assert format_working_week({0, 1, 2, 3, 4}) == "mon-fri"
    assert format_working_week({6, 0, 1, 2, 3}) == "sun-thu"
    assert format_working_week({0, 1, 3}) == "mon-tue,thu"
    assert format_working_week(range(7)) == "mon-sun"


@given(st.frozensets(st.integers(0, 6), min_size=1))
def test_format_working_week_round_trips(days: frozenset[int]) -> None:
    assert parse_working_week(format_working_week(days)) == days


# --------------------------------------------------------------------------- holidays and business days


def test_us_holidays_including_observed_independence_day() -> None:
    assert NY.holiday_name(date(2026, 11, 26)) == "Thanksgiving Day"
    assert NY.is_holiday(date(2026, 7, 3))  # July 4 2026 is a Saturday: observed Friday
    assert "observed" in (NY.holiday_name(date(2026, 7, 3)) or "")
    assert not NY.is_business_day(date(2026, 7, 3))
    assert NY.is_business_day(date(2026, 7, 2))
    assert NY.next_business_day(date(2026, 7, 2)) == date(2026, 7, 6)
    assert NY.next_business_day(date(2026, 11, 25)) == date(2026, 11, 27)


def test_german_holidays_and_regions() -> None:
    assert BERLIN.holiday_name(date(2026, 4, 6)) == "Easter Monday"
    assert not BERLIN.is_business_day(date(2026, 4, 3))  # Good Friday
    assert BERLIN.next_business_day(date(2026, 4, 2)) == date(2026, 4, 7)
    # Epiphany is a holiday in Bavaria only.
    assert BERLIN.is_business_day(date(2026, 1, 6))
    assert not WorkCalendar("Europe/Berlin", "DE-BY").is_business_day(date(2026, 1, 6))


def test_no_country_means_no_holidays() -> None:
    cal = WorkCalendar("America/New_York")
    assert not cal.is_holiday(date(2026, 12, 25))
    assert cal.holiday_name(date(2026, 12, 25)) is None
    assert cal.is_business_day(date(2026, 12, 25))


def test_sunday_to_thursday_week() -> None:
    thu, fri, sat, sun = date(2026, 6, 4), date(2026, 6, 5), date(2026, 6, 6), date(2026, 6, 7)
    assert JERUSALEM_SUN_THU.is_business_day(thu)
    assert not JERUSALEM_SUN_THU.is_business_day(fri)
    assert not JERUSALEM_SUN_THU.is_business_day(sat)
    assert JERUSALEM_SUN_THU.is_business_day(sun)
    assert JERUSALEM_SUN_THU.next_business_day(thu) == sun
    assert JERUSALEM_SUN_THU.previous_business_day(sun) == thu
    assert JERUSALEM_SUN_THU.add_business_days(thu, 1) == sun


def test_next_and_previous_business_day_include_today() -> None:
    fri, sat, mon = date(2026, 6, 5), date(2026, 6, 6), date(2026, 6, 8)
    assert NY.next_business_day(fri, include_today=True) == fri
    assert NY.next_business_day(fri) == mon
    assert NY.next_business_day(sat, include_today=True) == mon
    assert NY.previous_business_day(mon) == fri
    assert NY.previous_business_day(sat, include_today=True) == fri
    assert NY.previous_business_day(fri, include_today=True) == fri


def test_add_business_days() -> None:
    wed = date(2026, 11, 25)
    assert NY.add_business_days(wed, 0) == wed
    assert NY.add_business_days(wed, 1) == date(2026, 11, 27)  # skips Thanksgiving
    assert NY.add_business_days(wed, 2) == date(2026, 11, 30)  # and the weekend
    assert NY.add_business_days(date(2026, 11, 30), -2) == wed
    assert NY.add_business_days(date(2026, 6, 6), 1) == date(2026, 6, 8)  # Saturday + 1 = Monday


def test_business_days_between_counts_the_half_open_range() -> None:
    fri, mon, tue = date(2026, 6, 5), date(2026, 6, 8), date(2026, 6, 9)
    assert NY.business_days_between(fri, fri) == 0
    assert NY.business_days_between(fri, mon) == 1
    assert NY.business_days_between(fri, tue) == 2
    assert NY.business_days_between(tue, fri) == 0
    assert NY.business_days_between(date(2026, 11, 25), date(2026, 11, 30)) == 2  # Fri 27 + Mon 30


@settings(max_examples=300, deadline=None)
@given(
    start=st.dates(min_value=date(2024, 1, 1), max_value=date(2028, 12, 31)),
    length=st.integers(min_value=-10, max_value=900),
    country=st.sampled_from([None, "US", "DE", "IL", "GB"]),
    week=st.sampled_from(["mon-fri", "sun-thu", "mon,wed,fri", "sat", "mon-sun"]),
)
def test_business_days_between_matches_walking_the_days(
    start: date, length: int, country: str | None, week: str
) -> None:
    cal = WorkCalendar.create("UTC", country, week)
    end = start + timedelta(days=length)
    walked = sum(cal.is_business_day(start + timedelta(days=i)) for i in range(1, length + 1))
    assert cal.business_days_between(start, end) == walked


# --------------------------------------------------------------------------- local time and DST


@pytest.mark.parametrize(
    ("cal", "day", "expected"),
    [
        # America/New_York springs forward 2026-03-08 (EST −5 → EDT −4).
        (NY, date(2026, 3, 6), utc(2026, 3, 6, 14)),
        (NY, date(2026, 3, 8), utc(2026, 3, 8, 13)),
        (NY, date(2026, 3, 9), utc(2026, 3, 9, 13)),
        # … and falls back 2026-11-01.
        (NY, date(2026, 10, 30), utc(2026, 10, 30, 13)),
        (NY, date(2026, 11, 1), utc(2026, 11, 1, 14)),
        (NY, date(2026, 11, 2), utc(2026, 11, 2, 14)),
        # Europe/Berlin: 2026-03-29 (CET +1 → CEST +2) and 2026-10-25 back.
        (BERLIN, date(2026, 3, 27), utc(2026, 3, 27, 8)),
        (BERLIN, date(2026, 3, 30), utc(2026, 3, 30, 7)),
        (BERLIN, date(2026, 10, 23), utc(2026, 10, 23, 7)),
        (BERLIN, date(2026, 10, 26), utc(2026, 10, 26, 8)),
    ],
)
def test_nine_am_local_maps_to_the_right_utc_instant_around_dst(
    cal: WorkCalendar, day: date, expected: datetime
) -> None:
    assert cal.at_local(day, time(9)) == expected
    assert cal.local_date(expected) == day


@pytest.mark.parametrize(
    ("cal", "start", "days", "expected"),
    [
        (NY, utc(2026, 10, 30, 14), 7, utc(2026, 11, 6, 15)),  # Fri 10:00 EDT → Fri 10:00 EST
        (NY, utc(2026, 3, 6, 15), 7, utc(2026, 3, 13, 14)),  # Fri 10:00 EST → Fri 10:00 EDT
        (BERLIN, utc(2026, 3, 28, 8), 1, utc(2026, 3, 29, 7)),  # Sat 09:00 CET → Sun 09:00 CEST
        (NY, utc(2026, 3, 7, 7, 30), 1, utc(2026, 3, 8, 7, 0)),  # Sat 02:30 → Sun 03:00: 02:30 does not exist
        (BERLIN, utc(2026, 6, 1, 8), 2, utc(2026, 6, 3, 8)),  # no change in between: exactly 48 hours
    ],
)
def test_days_later_keeps_the_local_time_across_daylight_saving(
    cal: WorkCalendar, start: datetime, days: int, expected: datetime
) -> None:
    assert cal.days_later(start, days) == expected


def test_nonexistent_time_is_the_first_minute_after_the_jump() -> None:
    ny = NY.at_local(date(2026, 3, 8), time(2, 30))
    assert ny == utc(2026, 3, 8, 7, 0)
    assert ny.astimezone(NY.zone()).time() == time(3, 0)
    berlin = BERLIN.at_local(date(2027, 3, 28), time(2, 30))  # 28 March 2027: 02:00 CET → 03:00 CEST
    assert berlin == utc(2027, 3, 28, 1, 0)
    assert berlin.astimezone(BERLIN.zone()).time() == time(3, 0)
    assert BERLIN.at_local(date(2027, 3, 28), time(2, 0)) == berlin  # the gap is [02:00, 03:00)
    assert BERLIN.at_local(date(2027, 3, 28), time(1, 59)) == utc(2027, 3, 28, 0, 59)  # before it: as read
    assert BERLIN.at_local(date(2027, 3, 28), time(3, 0)) == berlin
    # A half-hour jump (Lord Howe Island, 02:00 → 02:30) and one at midnight (Santiago, 00:00 → 01:00).
    lord_howe = WorkCalendar("Australia/Lord_Howe")
    assert lord_howe.local_datetime(lord_howe.at_local(date(2027, 10, 3), time(2, 15))).time() == time(2, 30)
    santiago = WorkCalendar("America/Santiago")
    assert santiago.at_local(date(2027, 9, 5), time(0, 30)) == utc(2027, 9, 5, 4, 0)  # 01:00 −03


def test_ambiguous_time_takes_the_first_occurrence() -> None:
    assert NY.at_local(date(2026, 11, 1), time(1, 30)) == utc(2026, 11, 1, 5, 30)  # still EDT
    assert BERLIN.at_local(date(2026, 10, 25), time(2, 30)) == utc(2026, 10, 25, 0, 30)  # still CEST


def test_at_local_returns_utc() -> None:
    assert NY.at_local(date(2026, 6, 1), time(9)).tzinfo is UTC


def test_local_date_ahead_of_utc_at_plus_13() -> None:
    auckland = WorkCalendar("Pacific/Auckland", "NZ")  # NZDT +13 in January
    tonga = WorkCalendar("Pacific/Tongatapu")  # +13 all year
    instant = utc(2026, 1, 14, 20)
    assert auckland.local_date(instant) == date(2026, 1, 15)
    assert tonga.local_date(instant) == date(2026, 1, 15)
    assert auckland.at_local(date(2026, 1, 15), time(9)) == instant
    assert tonga.at_local(date(2026, 7, 15), time(9)) == utc(2026, 7, 14, 20)
    assert auckland.at_local(date(2026, 7, 15), time(9)) == utc(2026, 7, 14, 21)  # NZST +12 in winter


def test_local_date_behind_utc_at_minus_10() -> None:
    honolulu = WorkCalendar("Pacific/Honolulu", "US")
    instant = utc(2026, 1, 15, 5)
    assert honolulu.local_date(instant) == date(2026, 1, 14)
    assert honolulu.at_local(date(2026, 1, 14), time(19)) == instant


def test_naive_instants_are_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        NY.local_date(datetime(2026, 1, 1, 12))
    with pytest.raises(ValueError, match="timezone-aware"):
        NY.business_hours_between(datetime(2026, 1, 1), utc(2026, 1, 2))
    with pytest.raises(ValueError, match="naive wall-clock"):
        NY.at_local(date(2026, 1, 1), time(9, tzinfo=UTC))


def test_non_utc_aware_instants_are_accepted() -> None:
    instant = datetime(2026, 1, 15, 9, tzinfo=NY.zone())
    assert NY.local_date(instant) == date(2026, 1, 15)
    assert BERLIN.local_date(instant) == date(2026, 1, 15)


# --------------------------------------------------------------------------- business hours


def ny(day: date, hour: int, minute: int = 0) -> datetime:
    return NY.at_local(day, time(hour, minute))


def test_business_hours_across_a_weekend() -> None:
    fri, mon = date(2026, 6, 5), date(2026, 6, 8)
    assert NY.business_hours_between(ny(fri, 15), ny(mon, 11)) == pytest.approx(4.0)
    assert NY.business_hours_between(ny(fri, 18), ny(mon, 8)) == 0.0
    assert NY.business_hours_between(ny(mon, 11), ny(fri, 15)) == 0.0  # reversed range


def test_business_hours_across_a_holiday() -> None:
    wed, fri = date(2026, 11, 25), date(2026, 11, 27)
    assert NY.business_hours_between(ny(wed, 16), ny(fri, 10)) == pytest.approx(2.0)  # Thanksgiving skipped


def test_business_hours_custom_day_and_dst_week() -> None:
    fri, mon = date(2026, 3, 6), date(2026, 3, 9)
    assert NY.business_hours_between(ny(fri, 8), ny(mon, 20), day_start=time(8), day_end=time(18)) == pytest.approx(
        20.0
    )
    with pytest.raises(ValueError, match="must be after"):
        NY.business_hours_between(ny(fri, 8), ny(mon, 8), day_start=time(17), day_end=time(9))


def test_add_business_hours() -> None:
    fri, mon = date(2026, 6, 5), date(2026, 6, 8)
    assert NY.add_business_hours(ny(fri, 16), 2) == ny(mon, 10)
    assert NY.add_business_hours(ny(fri, 16), 1) == ny(fri, 17)  # budget ends exactly at close
    assert NY.add_business_hours(ny(fri, 20), 0.5) == ny(mon, 9, 30)
    assert NY.add_business_hours(ny(fri, 20), 0) == ny(fri, 20)
    wed, fri_after = date(2026, 11, 25), date(2026, 11, 27)
    assert NY.add_business_hours(ny(wed, 16), 3) == ny(fri_after, 11)
    with pytest.raises(ValueError, match=">= 0"):
        NY.add_business_hours(ny(fri, 16), -1)


ZONES = ["UTC", "America/New_York", "Europe/Berlin", "Pacific/Auckland", "Pacific/Honolulu", "Asia/Kolkata"]


@settings(deadline=None, max_examples=60)
@given(
    tz=st.sampled_from(ZONES),
    country=st.sampled_from([None, "US", "DE", "NZ"]),
    days=st.frozensets(st.integers(0, 6), min_size=1),
    start=st.datetimes(datetime(2025, 1, 1), datetime(2028, 12, 31), timezones=st.just(UTC)),
    minutes=st.integers(0, 60 * 80),
)
def test_add_business_hours_inverts_business_hours_between(
    tz: str, country: str | None, days: frozenset[int], start: datetime, minutes: int
) -> None:
    cal = WorkCalendar(tz, country, days)
    end = cal.add_business_hours(start, minutes / 60)
    assert end >= start
    assert cal.business_hours_between(start, end) == pytest.approx(minutes / 60, abs=1e-6)
    if minutes:
        assert cal.is_business_day(cal.local_date(end - timedelta(microseconds=1)))


def test_every_zone_named_for_a_typed_offset_exists_and_has_that_offset_in_winter_or_summer() -> None:
    from domain.calendar import _ZONES_AT_OFFSET

    for offset, zones in _ZONES_AT_OFFSET.items():
        for zone in zones:
            assert validate_typed_timezone(zone) == zone
            seen = {
                int(datetime(2026, month, 15, tzinfo=ZoneInfo(zone)).utcoffset().total_seconds()) // 60  # type: ignore[union-attr]
                for month in (1, 7)
            }
            assert offset in seen, (zone, offset, seen)
