"""Boundaries: parsing, the proposed → active → held → retired lifecycle, slips, escalation,
slip detection in the customer's calendar, and gentle reminders."""

from __future__ import annotations

import ast
import inspect
import itertools
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain import boundaries as module
from domain.boundaries import (
    DEFAULT_POLICY,
    REMINDER_TEMPLATES,
    Boundary,
    Policy,
    ResponseTime,
    Slip,
    activate,
    boundary_health,
    business_days_back,
    call_outside_window,
    can_activate,
    escalation_options,
    escalation_text,
    format_contact_window,
    has_held,
    mark_escalated,
    mark_held,
    needs_escalation,
    next_to_suggest,
    parse_boundary_spec,
    parse_business_reply,
    parse_contact_window,
    parse_reply_time,
    parse_response_time,
    pick_template,
    record_slip,
    reminder_due_dates,
    reminder_text,
    reminders_due,
    reply_days,
    reply_time_said,
    response_slipped,
    response_time_in,
    retire,
    say_contact_window,
    slips_in_window,
    slot_freed_by,
    sort_boundaries,
    week_start_weekday,
)
from domain.calendar import WorkCalendar
from domain.health import BoundaryHealthInput
from handlers.boundaries_hooks import reply_took

NY = WorkCalendar("America/New_York", "US")
NY_NO_HOLIDAYS = WorkCalendar("America/New_York")
BERLIN = WorkCalendar("Europe/Berlin", "DE")
SUN_THU = WorkCalendar("Asia/Jerusalem", None, frozenset({6, 0, 1, 2, 3}))

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
WEEK = timedelta(weeks=1)
SECOND = timedelta(seconds=1)
EMAIL = "We check email twice a day"


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo("America/New_York"))


def active(text: str = EMAIL, *, at: datetime = T0, position: int = 0, id: int | None = None) -> Boundary:
    return activate(Boundary(text, position=position, id=id), at)


def slipped(b: Boundary, *offsets: timedelta) -> Boundary:
    for offset in offsets:
        b = record_slip(b, T0 + offset, by="U123", note="late reply", source="manual")
    return b


# --------------------------------------------------------------------------- purity


def test_module_has_no_slack_or_database_imports_and_never_reads_the_clock() -> None:
    tree = ast.parse(inspect.getsource(module))
    imported = {
        (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert not {
        name
        for name in imported
        if name.split(".")[0] in {"slack_sdk", "slack_bolt", "sqlmodel", "sqlalchemy", "storage", "handlers", "bot"}
    }
    called = {
        node.func.attr for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }
    # `.time()` on a datetime is fine; `time.time()` would need `import time`, caught above.
    assert "time" not in imported
    assert not called & {"now", "utcnow", "today", "sleep"}


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1d", ResponseTime(business_days=1)),
        ("1 business day", ResponseTime(business_days=1)),
        ("2 business days", ResponseTime(business_days=2)),
        ("within 2 working days", ResponseTime(business_days=2)),
        ("4h", ResponseTime(hours=4)),
        ("4 business hours", ResponseTime(hours=4)),
        ("four hours", ResponseTime(hours=4)),
        ("an hour", ResponseTime(hours=1)),
        ("1.5h", ResponseTime(hours=1.5)),
        ("30m", ResponseTime(hours=0.5)),
        ("  1 Business-Day ", ResponseTime(business_days=1)),
    ],
)
def test_parse_response_time(text: str, expected: ResponseTime) -> None:
    assert parse_response_time(text) == expected


@pytest.mark.parametrize(
    ("text", "days"),
    [("2d", 2.0), ("1.5d", 1.5), ("36h", 1.5), ("90m", 0.0625), ("1w", 7.0), (" 3 Days ", 3.0), ("0h", 0.0)],
)
def test_parse_reply_time_gives_elapsed_days(text: str, days: float) -> None:
    assert parse_reply_time(text) == days


@pytest.mark.parametrize(
    ("text", "says"),
    [("2", "'2' needs a unit"), ("soon", "couldn't read 'soon'"), ("-1d", "'-1d'"), ("2y", "'2y'"), ("400d", "a year")],
)
def test_parse_reply_time_names_what_it_could_not_read(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says) as refused:
        parse_reply_time(text)
    assert "2d, 1.5d, 36h, 90m or 2 business days" in str(refused.value)


def test_response_time_stored_form_and_wording() -> None:
    assert str(parse_response_time("1 business day")) == "1d"
    assert str(parse_response_time("four hours")) == "4h"
    assert parse_response_time("2d").describe() == "2 business days"
    assert parse_response_time("1h").describe() == "1 business hour"
    assert parse_response_time("4h").describe(2.5) == "2.5 business hours"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("soon", r"couldn't read 'soon' as a response time — try 1d, 2 business days, 4h"),
        ("hours", r"couldn't read 'hours' as a response time"),
        ("0h", r"must be more than zero"),
        ("1.5 days", r"Use whole business days, or hours instead \(e\.g\. 12h for 1\.5 days\)"),
        ("2 weeks", r"'weeks' isn't a unit I know .* use hours or business days"),
        ("many hours", r"couldn't read 'many' as a number"),
    ],
)
def test_parse_response_time_errors_are_friendly(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_response_time(text)


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("9-10am", time(9), time(10)),
        ("09:00-10:00", time(9), time(10)),
        ("14:00–15:30", time(14), time(15, 30)),
        ("2pm to 3:30pm", time(14), time(15, 30)),
        ("11-1pm", time(11), time(13)),  # the shared "pm" would put 11 after 1
        ("9am-5", time(9), time(17)),
        ("9 a.m. - 10:30 a.m.", time(9), time(10, 30)),
        ("noon-1pm", time(12), time(13)),
    ],
)
def test_parse_contact_window(text: str, start: time, end: time) -> None:
    assert parse_contact_window(text) == (start, end)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("9", r"couldn't read '9' as a time window — try 09:00-10:00, 9-10am"),
        ("mornings", r"couldn't read 'mornings' as a time window"),
        ("10-9am", r"ends before it starts \(10:00 → 09:00\)"),
        ("10:00-10:00", r"starts and ends at the same time"),
        ("25:00-26:00", r"'25:00' in '25:00-26:00' isn't a valid time"),
        ("13pm-2pm", r"'13pm' .* isn't a valid time"),
    ],
)
def test_parse_contact_window_errors_are_friendly(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_contact_window(text)


def test_parse_boundary_spec_normalises_and_infers() -> None:
    assert parse_boundary_spec("response_time", "1 business day") == ("response_time", "1d")
    assert parse_boundary_spec("Response-Time", "4 hours") == ("response_time", "4h")
    assert parse_boundary_spec("window", "9-10am") == ("contact_window", "09:00-10:00")
    assert parse_boundary_spec("channel", " requests in #acme-partners,  not DMs ") == (
        "channel",
        "requests in #acme-partners, not DMs",
    )
    assert parse_boundary_spec("custom", None) == ("custom", None)
    # No kind: a value that reads as a response time or a window takes that kind.
    assert parse_boundary_spec(None, "2 business days") == ("response_time", "2d")
    assert parse_boundary_spec(None, "14:00–15:30") == ("contact_window", "14:00-15:30")
    assert parse_boundary_spec(None, "call first") == ("custom", "call first")
    assert parse_boundary_spec(None, None) == ("custom", None)


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        ("deadline", "1d", r"'deadline' isn't a kind of boundary — use response time \(e\.g\. 1d\)"),
        ("response_time", None, r"A response-time boundary needs a value — try 1d"),
        ("contact_window", "  ", r"A contact-window boundary needs a value — try 09:00-10:00"),
        ("response_time", "whenever", r"couldn't read 'whenever' as a response time"),
    ],
)
def test_parse_boundary_spec_errors_are_friendly(kind: str, value: str | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_boundary_spec(kind, value)


def test_boundary_normalises_on_construction_and_exposes_typed_values() -> None:
    b = Boundary("  Client calls at   9am ", kind="window", value="9-10am")
    assert (b.text, b.kind, b.value) == ("Client calls at 9am", "contact_window", "09:00-10:00")
    assert b.contact_window == (time(9), time(10))
    assert b.response_time is None
    assert Boundary("Answers within a day", kind="response_time", value="1 business day").response_time == (
        ResponseTime(business_days=1)
    )
    with pytest.raises(ValueError, match="Say what the boundary is"):
        Boundary("   ")
    with pytest.raises(ValueError, match="300 characters or fewer"):
        Boundary("x" * 301)
    with pytest.raises(ValueError, match="needs activated_at"):
        Boundary(EMAIL, status="active")


@given(st.integers(0, 23), st.integers(0, 59), st.integers(1, 600))
def test_contact_window_stored_form_reads_back(hour: int, minute: int, length: int) -> None:
    start = datetime(2026, 1, 1, hour, minute)
    end = min(start + timedelta(minutes=length), datetime(2026, 1, 1, 23, 59))
    if end <= start:
        return
    window = (start.time(), end.time())
    assert parse_contact_window(format_contact_window(window)) == window


@given(
    st.one_of(
        st.integers(1, 30).map(lambda d: ResponseTime(business_days=d)),
        st.integers(1, 400).map(lambda q: ResponseTime(hours=q / 4)),
    )
)
def test_response_time_stored_form_reads_back(agreed: ResponseTime) -> None:
    assert parse_response_time(str(agreed)) == agreed


# --------------------------------------------------------------------------- transitions


def test_lifecycle_stamps_each_change() -> None:
    b = Boundary(EMAIL, id=7)
    assert b.status == "proposed"
    b = activate(b, T0)
    assert (b.status, b.activated_at) == ("active", T0)
    b = mark_held(b, T0 + 3 * WEEK)
    assert (b.status, b.held_at) == ("held", T0 + 3 * WEEK)
    b = retire(b, T0 + 10 * WEEK)
    assert (b.status, b.retired_at, b.activated_at) == ("retired", T0 + 10 * WEEK, T0)


def test_transitions_do_not_mutate_the_original() -> None:
    proposed = Boundary(EMAIL)
    activate(proposed, T0)
    assert proposed.status == "proposed"


@pytest.mark.parametrize(
    ("build", "action", "message"),
    [
        (lambda: retire(Boundary(EMAIL), T0), lambda b: retire(b, T0 + DAY), "Can't retire “.*”: it was retired"),
        (lambda: active(), lambda b: activate(b, T0 + DAY), "Can't activate “.*”: it is already active"),
        (lambda: Boundary(EMAIL), lambda b: mark_held(b, T0), "Can't mark as held “.*”: it is only proposed so far"),
        (lambda: Boundary(EMAIL), lambda b: record_slip(b, T0), "it is only proposed, so the customer isn't being"),
        (lambda: retire(active(), T0 + DAY), lambda b: record_slip(b, T0 + DAY), "it was retired, so the customer"),
        (lambda: active(), lambda b: record_slip(b, T0 - DAY), "was activated on 2026-03-02"),
        (lambda: active(), lambda b: mark_held(b, datetime(2026, 4, 1)), "must be timezone-aware"),
    ],
)
def test_invalid_transitions_raise_friendly_errors(
    build: Callable[[], Boundary], action: Callable[[Boundary], Boundary], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        action(build())


def test_record_slip_keeps_who_and_why_and_rejects_unknown_sources() -> None:
    b = record_slip(active(), T0 + DAY, by="U42", note="  called at 7am ", source="detected")
    assert b.slips == (Slip(at=T0 + DAY, by="U42", note="called at 7am", source="detected"),)
    with pytest.raises(ValueError, match="Unknown slip source 'email'"):
        record_slip(active(), T0 + DAY, source="email")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- holding


def test_holds_after_three_weeks_without_a_slip_and_not_before() -> None:
    b = active()
    assert not has_held(b, T0 + 3 * WEEK - SECOND)
    assert has_held(b, T0 + 3 * WEEK)
    assert not has_held(Boundary(EMAIL), T0 + 10 * WEEK)  # proposed: nothing to hold


def test_a_slip_restarts_the_clock() -> None:
    b = slipped(active(), 2 * WEEK)
    assert not has_held(b, T0 + 3 * WEEK)
    assert not has_held(b, T0 + 5 * WEEK - SECOND)
    assert has_held(b, T0 + 5 * WEEK)  # exactly three weeks after the slip


def test_the_hold_clock_stands_still_while_paused_and_restarts_at_the_return() -> None:
    """Weeks the customer was paused or archived prove nothing: hold_from (the latest resume or restore) restarts the
    clock, hold_paused stops it; the policy's window counts from the later of activation and return."""
    b = active()
    assert has_held(b, T0 + 3 * WEEK)
    assert not has_held(replace(b, hold_paused=True), T0 + 10 * WEEK)
    back = replace(b, hold_from=T0 + 4 * WEEK)
    assert not has_held(back, T0 + 7 * WEEK - SECOND)
    assert has_held(back, T0 + 7 * WEEK)
    assert has_held(replace(b, hold_from=T0 - WEEK), T0 + 3 * WEEK)  # a return before the activation changes nothing
    with pytest.raises(ValueError, match="hold_from must be timezone-aware"):
        replace(b, hold_from=datetime(2026, 3, 2))


def test_a_slip_on_a_held_boundary_puts_it_back_to_active() -> None:
    held = mark_held(active(), T0 + 3 * WEEK)
    b = record_slip(held, T0 + 4 * WEEK)
    assert (b.status, b.held_at) == ("active", None)
    assert not has_held(b, T0 + 6 * WEEK)
    assert has_held(b, T0 + 7 * WEEK)


def test_a_slip_logged_while_paused_is_kept_but_counts_for_nothing() -> None:
    """Partner asked nothing of a paused customer: the slip is kept, reopens no held need, escalates nothing, and
    neither stops the hold nor weighs on health."""
    held = mark_held(active(), T0 + 3 * WEEK)
    b = record_slip(held, T0 + 4 * WEEK, note="late", paused=True)
    assert (b.status, b.held_at, len(b.slips), b.slips[-1].paused) == ("held", T0 + 3 * WEEK, 1, True)
    b = active()
    for day in (1, 2, 3):
        b = record_slip(b, T0 + day * DAY, paused=True)
    assert len(b.slips) == 3 and slips_in_window(b, T0 + 3 * DAY, timedelta(days=30)) == 0
    assert not needs_escalation(b, T0 + 3 * DAY)
    assert has_held(b, T0 + 3 * WEEK)
    assert boundary_health([b], T0 + 3 * DAY).slips == 0
    b = record_slip(b, T0 + 4 * DAY)  # after the resume: this one counts, alone
    assert slips_in_window(b, T0 + 4 * DAY, timedelta(days=30)) == 1 and not needs_escalation(b, T0 + 4 * DAY)


def test_custom_hold_period() -> None:
    assert has_held(active(), T0 + 10 * DAY, Policy(hold_after=10 * DAY))


# --------------------------------------------------------------------------- slip windows


def test_slip_window_is_half_open_exactly_thirty_days_ago_has_aged_out() -> None:
    now = T0 + 60 * DAY
    b = slipped(active(), 30 * DAY, 30 * DAY + SECOND, 45 * DAY, 60 * DAY, 61 * DAY)
    # (now - 30d, now]: 30d ago is out, 30d-1s ago in, the slip at `now` in, the future one out.
    assert slips_in_window(b, now, timedelta(days=30)) == 3
    assert slips_in_window(b, now, timedelta(days=30) + SECOND) == 4
    assert slips_in_window(b, now, timedelta(days=30), after=T0 + 45 * DAY) == 1


# --------------------------------------------------------------------------- escalation


def test_escalates_on_the_third_slip_within_thirty_days() -> None:
    b = slipped(active(), 1 * DAY, 10 * DAY)
    assert not needs_escalation(b, T0 + 10 * DAY)
    b = slipped(b, 20 * DAY)
    assert needs_escalation(b, T0 + 20 * DAY)
    assert "slipped 3 times in the last 30 days" in escalation_text(b, T0 + 20 * DAY)


def test_slips_spread_over_more_than_the_window_do_not_escalate() -> None:
    b = slipped(active(), 1 * DAY, 16 * DAY, 31 * DAY)
    assert not needs_escalation(b, T0 + 31 * DAY)


def test_escalates_only_once_per_run_of_slips() -> None:
    b = slipped(active(), 1 * DAY, 2 * DAY, 3 * DAY)
    assert needs_escalation(b, T0 + 3 * DAY)
    b = mark_escalated(b, T0 + 3 * DAY)
    assert not needs_escalation(b, T0 + 3 * DAY)
    b = slipped(b, 4 * DAY, 5 * DAY)  # the same run goes on: no second alarm
    assert not needs_escalation(b, T0 + 5 * DAY)
    b = slipped(b, 6 * DAY)  # three new slips since the decision: a new run
    assert needs_escalation(b, T0 + 6 * DAY)


def test_retired_boundaries_never_escalate() -> None:
    b = retire(slipped(active(), DAY, 2 * DAY, 3 * DAY), T0 + 3 * DAY)
    assert not needs_escalation(b, T0 + 3 * DAY)


def test_escalation_options() -> None:
    assert escalation_options() == [
        ("talk", "Talk it through"),
        ("renegotiate", "Renegotiate"),
        ("retire", "Retire it"),
        ("flag", "Flag the relationship"),
    ]


# --------------------------------------------------------------------------- one need at a time


def test_only_one_active_at_a_time_and_the_refusal_names_it() -> None:
    others = [active(), Boundary("Client calls at 9am", position=1)]
    verdict = can_activate(others, DEFAULT_POLICY)
    assert not verdict.ok
    assert verdict.reason == (
        f"One need at a time: “{EMAIL}” is active and hasn't held yet. "
        "A need holds after 3 weeks without a slip — add the next one then, or retire one first."
    )
    assert can_activate([Boundary(EMAIL)]) == (True, None)
    assert can_activate([mark_held(active(), T0 + 3 * WEEK)]).ok
    # With `now`, an active need that has held but isn't marked yet no longer blocks.
    assert can_activate(others, now=T0 + 3 * WEEK).ok


def test_max_active_above_one_lists_every_settling_need() -> None:
    both = [active("A", position=0), active("B", position=1)]
    assert can_activate(both[:1], Policy(max_active=2)).ok
    verdict = can_activate(both, Policy(max_active=2))
    assert not verdict.ok
    assert verdict.reason is not None and "2 needs are still settling in (“A”, “B”)" in verdict.reason


def test_next_suggestion_waits_for_the_active_one_to_hold() -> None:
    proposed = [Boundary("C", position=3, id=1), Boundary("B", position=2, id=9), Boundary("B2", position=2, id=4)]
    current = [active(), *proposed]
    assert next_to_suggest(current, T0 + 2 * WEEK) is None
    assert next_to_suggest(current, T0 + 3 * WEEK) == proposed[2]  # lowest position, then lowest id
    held = [mark_held(active(), T0 + 3 * WEEK), *proposed]
    assert next_to_suggest(held, T0 + 3 * WEEK) == proposed[2]


def test_next_suggestion_with_nothing_active_or_nothing_proposed() -> None:
    first = Boundary("First", position=1)
    assert next_to_suggest([Boundary("Second", position=2), first], T0) == first
    assert next_to_suggest([mark_held(active(), T0 + 3 * WEEK)], T0 + 3 * WEEK) is None
    assert next_to_suggest([retire(Boundary(EMAIL), T0)], T0) is None
    assert next_to_suggest([], T0) is None


def test_the_slot_is_freed_by_the_last_hold_or_by_a_retirement_before_holding() -> None:
    held = mark_held(active("A", id=1), T0 + 3 * WEEK)
    assert slot_freed_by([Boundary("B", position=1)]) is None  # nothing introduced yet
    assert slot_freed_by([active("A", id=1)]) is None
    assert slot_freed_by([held]) == (held, T0 + 3 * WEEK)
    # The next need was introduced and retired before it held (escalated or not): that made room, later.
    given_up = retire(active("B", at=T0 + 4 * WEEK, id=2), T0 + 5 * WEEK)
    assert slot_freed_by([held, given_up]) == (given_up, T0 + 5 * WEEK)
    # Retired while only proposed, or after it had held: no new room.
    assert slot_freed_by([held, retire(Boundary("C", id=3), T0 + 6 * WEEK)]) == (held, T0 + 3 * WEEK)
    assert slot_freed_by([retire(held, T0 + 6 * WEEK)]) is None


def test_sort_boundaries_puts_unsaved_after_saved_at_the_same_position() -> None:
    a, b, c = Boundary("a", position=1), Boundary("b", position=1, id=2), Boundary("c", position=0, id=5)
    assert sort_boundaries([a, b, c]) == [c, b, a]


# --------------------------------------------------------------------------- detection


def test_response_within_one_business_day_across_a_weekend() -> None:
    one_day = parse_response_time("1 business day")
    asked, answered = ny(2026, 11, 20, 16), ny(2026, 11, 23, 10)  # Friday before Thanksgiving week → Monday
    assert response_slipped(one_day, asked, answered, NY) == (False, 1.0)
    assert response_slipped(one_day, asked, ny(2026, 11, 24, 9, 30), NY) == (True, 2.0)
    # Business hours: Friday 16–17 and Monday 9–10.
    assert response_slipped(parse_response_time("4h"), asked, answered, NY) == (False, 2.0)
    assert response_slipped(parse_response_time("1h"), asked, answered, NY) == (True, 2.0)


def test_response_time_skips_a_holiday() -> None:
    one_day = parse_response_time("1d")
    asked, answered = ny(2026, 11, 25, 16), ny(2026, 11, 27, 10)  # Wednesday → Friday; Thanksgiving on Thursday
    assert response_slipped(one_day, asked, answered, NY) == (False, 1.0)
    assert response_slipped(one_day, asked, answered, NY_NO_HOLIDAYS) == (True, 2.0)
    assert response_slipped(parse_response_time("4h"), asked, answered, NY) == (False, 2.0)
    assert response_slipped(parse_response_time("4h"), asked, answered, NY_NO_HOLIDAYS) == (True, 10.0)


@pytest.mark.parametrize(
    ("text", "days"),
    [("2 business days", 2), ("1 business day", 1), ("one Business Day", 1), ("2bd", 2), ("3 working days", 3)],
)
def test_a_reply_typed_in_business_days(text: str, days: int) -> None:
    assert parse_business_reply(text) == days


@pytest.mark.parametrize("text", ["2d", "36h", "1.5d", "3 days", "abd"])
def test_a_reply_typed_in_elapsed_time_is_not_business_days(text: str) -> None:
    assert parse_business_reply(text) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1.5 business days", "whole business days"),
        ("4 business hours", "in business days, not business hours"),
        ("many business days", "couldn't read 'many'"),
    ],
)
def test_a_reply_in_business_days_that_cannot_be_counted_is_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_business_reply(text)


def test_a_reply_in_business_days_is_counted_back_on_the_customers_calendar() -> None:
    one_day, monday = parse_response_time("1 business day"), ny(2026, 11, 23, 10)
    # The answer came on Monday after one business day: the question was Friday's, at the same local time.
    took = reply_days("1 business day", answered_at=monday, cal=NY)
    assert took == 3.0 and business_days_back(NY, monday.date(), 1) == date(2026, 11, 20)
    assert response_slipped(one_day, monday - timedelta(days=took), monday, NY) == (False, 1.0)  # kept
    tuesday = ny(2026, 11, 24, 9, 30)
    took = reply_days("2 business days", answered_at=tuesday, cal=NY)
    assert took == 4.0
    assert response_slipped(one_day, tuesday - timedelta(days=took), tuesday, NY) == (True, 2.0)  # slipped
    # A public holiday (Thanksgiving, Thursday) is skipped where the customer has it.
    friday = ny(2026, 11, 27, 10)
    assert reply_days("1 business day", answered_at=friday, cal=NY) == 2.0  # asked Wednesday
    assert reply_days("1 business day", answered_at=friday, cal=NY_NO_HOLIDAYS) == 1.0
    # Their working week (Sunday to Thursday): one business day back from Sunday is Thursday.
    assert business_days_back(SUN_THU, date(2026, 11, 29), 1) == date(2026, 11, 26)
    # Elapsed time as typed stays elapsed time; a wall clock that moved (DST ended on Sunday) is kept.
    assert reply_days("36h", answered_at=monday, cal=NY) == 1.5
    after_dst = ny(2026, 11, 2, 10)
    assert reply_days("1 business day", answered_at=after_dst, cal=NY) == pytest.approx(3 + 1 / 24)


def test_an_agreement_text_that_states_its_response_time() -> None:
    assert response_time_in("Replies within one business day") == "1d"
    assert response_time_in("you answer clarifications within 2 working days, please") == "2d"
    assert response_time_in("We reply within 4 business hours") == "4h"
    assert response_time_in("Replies within a day") is None  # business or working time must be said
    assert response_time_in("Calls at 9am") is None


def test_response_slipped_rejects_answers_before_questions() -> None:
    with pytest.raises(ValueError, match="can't come before the question"):
        response_slipped(parse_response_time("1d"), ny(2026, 11, 20, 16), ny(2026, 11, 20, 15), NY)


def test_contact_window_detection_follows_berlin_across_the_dst_change() -> None:
    window = parse_contact_window("9-10am")
    # Saturday 2026-03-28 Berlin is UTC+1; from Sunday 2026-03-29 it is UTC+2.
    assert not call_outside_window(window, datetime(2026, 3, 28, 8, 30, tzinfo=UTC), BERLIN)  # 09:30 CET
    assert call_outside_window(window, datetime(2026, 3, 28, 7, 30, tzinfo=UTC), BERLIN)  # 08:30 CET
    assert call_outside_window(window, datetime(2026, 3, 30, 8, 30, tzinfo=UTC), BERLIN)  # 10:30 CEST
    assert not call_outside_window(window, datetime(2026, 3, 30, 7, 30, tzinfo=UTC), BERLIN)  # 09:30 CEST
    # Both ends of the window count as inside.
    assert not call_outside_window(window, datetime(2026, 3, 30, 7, 0, tzinfo=UTC), BERLIN)
    assert not call_outside_window(window, datetime(2026, 3, 30, 8, 0, tzinfo=UTC), BERLIN)


# --------------------------------------------------------------------------- reminders


def test_reminder_templates_are_warm_varied_and_fillable() -> None:
    assert len(REMINDER_TEMPLATES) >= 6
    assert len(set(REMINDER_TEMPLATES)) == len(REMINDER_TEMPLATES)
    assert all(t.count("{text}") == 1 for t in REMINDER_TEMPLATES)
    assert reminder_text(Boundary(EMAIL), 0) == f"A reminder of how we work together: {EMAIL}."
    assert (
        reminder_text(Boundary("Calls at 9am, please!"), 1)
        == "Quick note on our working agreement: Calls at 9am, please!"
    )
    assert reminder_text(Boundary("Use {braces}"), 2).endswith("Use {braces}.")
    with pytest.raises(ValueError, match="template_index must be within"):
        reminder_text(Boundary(EMAIL), len(REMINDER_TEMPLATES))


def test_pick_template_is_deterministic_and_never_repeats() -> None:
    n = len(REMINDER_TEMPLATES)
    assert pick_template(None, 12345) == pick_template(None, 12345) == 0  # a need's first reminder: the plain words
    assert REMINDER_TEMPLATES[0] == "A reminder of how we work together: {text}"
    for previous in range(n):
        picks = {pick_template(previous, seed) for seed in range(3 * n)}
        assert previous not in picks
        assert picks == set(range(n)) - {previous}  # every other template gets its turn
    with pytest.raises(ValueError, match="previous_index must be within"):
        pick_template(n, 1)


@given(st.lists(st.integers(min_value=-(2**63), max_value=2**63), min_size=1, max_size=50))
def test_pick_template_never_repeats_for_any_seed_sequence(seeds: list[int]) -> None:
    previous: int | None = None
    for seed in seeds:
        index = pick_template(previous, seed)
        assert 0 <= index < len(REMINDER_TEMPLATES)
        assert index != previous
        previous = index


def test_reminder_dates_move_off_a_holiday_monday() -> None:
    # Labor Day: Monday 2026-09-07.
    assert reminder_due_dates(NY, date(2026, 8, 31), date(2026, 9, 20)) == [
        date(2026, 8, 31),
        date(2026, 9, 8),
        date(2026, 9, 14),
    ]


def test_reminder_dates_honour_a_sunday_to_thursday_week() -> None:
    assert week_start_weekday(SUN_THU.working_days) == 6
    assert week_start_weekday(range(5)) == 0
    assert week_start_weekday(range(7)) == 0
    # 2026-03-01 is a Sunday.
    assert reminder_due_dates(SUN_THU, date(2026, 2, 26), date(2026, 3, 16)) == [
        date(2026, 3, 1),
        date(2026, 3, 8),
        date(2026, 3, 15),
    ]


def test_reminder_dates_rules() -> None:
    assert reminder_due_dates(NY, date(2026, 9, 9), date(2026, 9, 1)) == []
    assert reminder_due_dates(NY, date(2026, 9, 9), date(2026, 9, 13)) == []  # that week's reminder was the 8th
    with pytest.raises(ValueError, match="Unknown reminder rule 'monthly'"):
        reminder_due_dates(NY, date(2026, 9, 1), date(2026, 9, 30), weekday_rule="monthly")


def test_reminders_due_at_nine_local_each_once() -> None:
    since = ny(2026, 9, 4, 12)
    due_at = ny(2026, 9, 8, 9)  # Tuesday after Labor Day, 09:00 New York
    assert reminders_due(NY, since, due_at - SECOND) == []
    assert reminders_due(NY, since, due_at) == [date(2026, 9, 8)]
    assert reminders_due(NY, due_at, ny(2026, 9, 14, 8, 59)) == []  # already sent: not again
    assert reminders_due(NY, due_at, ny(2026, 9, 14, 9)) == [date(2026, 9, 14)]


@given(st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 12, 31)), st.integers(0, 120))
def test_reminder_dates_are_business_days_one_per_week(start: date, span: int) -> None:
    for cal in (NY, SUN_THU):
        days = reminder_due_dates(cal, start, start + timedelta(days=span))
        assert all(cal.is_business_day(d) for d in days)
        assert all(later - earlier > timedelta(days=1) for earlier, later in itertools.pairwise(days))


# --------------------------------------------------------------------------- health


def test_boundary_health_feeds_the_health_score() -> None:
    now = T0 + 60 * DAY
    clean = mark_held(active("clean", position=0), T0 + 3 * WEEK)
    slipping = slipped(active("slipping", position=1), 20 * DAY, 40 * DAY, 50 * DAY)
    retired = retire(slipped(active("gone", position=2), 55 * DAY), now)
    proposed = Boundary("later", position=3)
    assert boundary_health([clean, slipping, retired, proposed], now) == BoundaryHealthInput(
        active=2, held=1, slips=2, most_slipped="slipping", most_slips=2
    )
    assert boundary_health([], now) == BoundaryHealthInput(0, 0, 0)


@pytest.mark.parametrize(
    ("days", "said"),
    [(3.0416667, "3 days"), (1.5, "1.5 days"), (1.0, "1 day"), (0.0625, "1.5 hours"), (1 / 24, "1 hour")],
)
def test_a_reply_time_is_said_as_people_say_it(days: float, said: str) -> None:
    assert reply_took(days) == said


@pytest.mark.parametrize(
    ("window", "said"),
    [
        ((time(9), time(10)), "9–10am"),
        ((time(9, 30), time(10)), "9:30–10am"),
        ((time(11), time(13)), "11am–1pm"),
        ((time(14), time(15, 30)), "2–3:30pm"),
        ((time(0), time(8)), "12–8am"),
        ((time(12), time(13)), "12–1pm"),
    ],
)
def test_a_contact_window_is_said_as_people_say_it(window: tuple[time, time], said: str) -> None:
    assert say_contact_window(window) == said


@pytest.mark.parametrize(
    ("note", "said"),
    [
        ("customer response took 3 days on pricing", "3 days"),
        ("Their reply took 2 business days", "2 business days"),
        ("client’s answer took 36h, fine", "36h"),
        ("customer response took one business day", "1 business day"),
        ("customer response took three days", "3 days"),
        ("their answer took over a week", "1 week"),
        ("customer response took half a day", "0.5 day"),
        ("our response took 2 days", None),  # ours, not the customer's
        ("customer response took a while", None),
    ],
)
def test_a_reply_time_said_in_a_note_is_found(note: str, said: str | None) -> None:
    assert reply_time_said(note) == said
