"""Check-in rules: when the owner must hear at once, and reading "next step due" dates.

Pure: no Slack, no database, no clock — `today` is handed in (the customer's local date).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from domain.calendar import WorkCalendar, parse_weekday
from domain.health import mood_colour, mood_value

# A drop of this many points on the 1–5 scale (green 5, yellow 3, red 1, a rating as typed) alerts the owner.
MOOD_DROP_ALERT = 2
MAX_DAYS_AHEAD = 366

_TODAY = frozenset({"today", "tod", "now"})
_TOMORROW = frozenset({"tomorrow", "tmrw", "tmr", "tom", "tmw"})
_RELATIVE = re.compile(r"^(?:in)?\+?(\d{1,3})\s*(d|day|days|w|wk|week|weeks)$")
_DATE_FORMS = "today, tomorrow, a weekday like fri, a number of days or weeks like 3d or 2w, or a date like 2026-12-01"


def owner_alert(previous: str | None, current: str) -> str | None:
    """Why the owner should be told about this check-in at once: "red", "drop", or None.

    A mood is a colour or a 1–5 rating as typed. "red" is a red check-in or a rating of 1 or 2, whatever came before;
    "drop" means the mood fell two or more steps on the 1–5 scale (green 5, yellow 3, red 1, a rating as it is) since
    the previous check-in: green → yellow and 5 → 3 are drops, 4 → 3 and green → 4 are not.
    """
    if mood_colour(current) == "red":
        return "red"
    if previous is None or mood_colour(previous) is None or mood_colour(current) is None:
        return None  # a mood Partner does not know (an old row written by hand) says nothing about a drop
    if mood_value(previous) - mood_value(current) >= MOOD_DROP_ALERT:
        return "drop"
    return None


def alerted_at_once(*, mood: str, owner_id: str | None, author_id: str) -> str | None:
    """The owner a check-in alerts whatever came before it (a red one or a rating of 1–2, by someone else), else None.

    Known when the check-in is stored, so its alert can be stored with it (see storage.checkins.record_checkin).
    """
    return owner_id if mood_colour(mood) == "red" and owner_id and owner_id != author_id else None


# A refused channel is tried again after this, or sooner when it is changed or Slack says it is back.
CHANNEL_RETRY_AFTER = timedelta(days=7)
# Slack's refusals of a channel that is gone for good: archived (until Slack's channel_unarchive) or deleted; unlike
# `not_in_channel`, which an invitation Partner may not hear of ends.
GONE_CHANNEL = frozenset({"is_archived", "channel_not_found"})


def channel_gone(*, error: str | None, error_at: datetime | None, now: datetime) -> bool:
    """Whether the customer's channel was lately found archived or deleted: its check-in summaries stay out of it."""
    return error in GONE_CHANNEL and error_at is not None and now - error_at < CHANNEL_RETRY_AFTER


def channel_summary_tz(
    *,
    channel_id: str | None,
    post_checkins: bool,
    channel_shared: bool,
    tz: str | None,
    default_tz: str,
    gone: bool = False,
) -> str | None:
    """The time zone of the local day a new check-in's channel summary belongs to (its day's thread), or None when
    the customer gets no summary: no channel, summaries off, a channel its own people read (shared), or one archived
    or deleted (`gone`: see channel_gone).

    Known when the check-in is stored, so its summary can be stored with it (see storage.checkins.record_checkin).
    """
    if not channel_id or not post_checkins or channel_shared or gone:
        return None
    return tz or default_tz


def local_day_bounds(calendar: WorkCalendar, day: date) -> tuple[datetime, datetime]:
    """The customer-local day as [start, end) in UTC: its channel summaries share a thread."""
    return calendar.at_local(day, time(0)), calendar.at_local(day + timedelta(days=1), time(0))


def summary_day(tz: str, at: datetime) -> tuple[datetime, datetime]:
    """The local day (in `tz`; UTC when `tz` no longer validates) of a check-in made `at`, as [start, end) in UTC."""
    try:
        calendar = WorkCalendar.create(tz)
    except ValueError:
        calendar = WorkCalendar.create("UTC")
    return local_day_bounds(calendar, calendar.local_date(at))


def parse_due_date(text: str, *, today: date, tz: str | None = None) -> date:
    """ "tomorrow", "fri" (the next Friday after today), "3d", "2w", "2026-12-01" → a date; ValueError otherwise.

    Dates in the past are refused: a next step is something still to do. `tz`, the zone `today` is a date in, is named
    when it refuses one: an author a day behind the customer (Los Angeles on Monday evening, Tuesday in Tokyo) reads
    their own today refused as past.
    """
    # `… next=fri.` ends a sentence: the full stop is not part of the date.
    token = text.strip().lower().replace(" ", "").rstrip(".,;!")
    if not token:
        raise ValueError(f"The due date is empty — use {_DATE_FORMS}.")
    due: date | None = None
    if token in _TODAY:
        due = today
    elif token in _TOMORROW:
        due = today + timedelta(days=1)
    elif (relative := _RELATIVE.match(token)) is not None:
        n = int(relative.group(1))
        due = today + timedelta(days=n * (7 if relative.group(2).startswith("w") else 1))
    else:
        try:
            weekday = parse_weekday(token)
        except ValueError:
            weekday = None
        if weekday is not None:
            # "fri" on a Friday means next week's: today would have been "today".
            due = today + timedelta(days=(weekday - today.weekday() - 1) % 7 + 1)
        else:
            try:
                due = date.fromisoformat(token)
            except ValueError:
                raise ValueError(f"I couldn't read the date '{text.strip()}' — use {_DATE_FORMS}.") from None
    if due < today:
        there = f" in {tz} (today there is {today:%a} {today.day} {today:%b})" if tz else ""
        raise ValueError(f"{due.isoformat()} is in the past{there}; a next step needs a date from today on.")
    if (due - today).days > MAX_DAYS_AHEAD:
        raise ValueError(f"{due.isoformat()} is more than a year away; pick a nearer date.")
    return due
