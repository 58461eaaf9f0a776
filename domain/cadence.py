"""Call cadences: parsing, schedules, "which nudges are due", and how healthy a relationship is.

Pure and deterministic: nothing here reads the wall clock; every function takes ``now``/``since``/
``after`` instants (timezone-aware) and a :class:`~domain.calendar.WorkCalendar`.

Scheduling model
----------------
A cadence names *nominal* local dates (every Tuesday, the 15th, every 3 days from an anchor…).
Each nominal date that is not a business day moves to the next business day; nominal dates that
land on the same business day merge. The resulting local dates are **slots**; a slot is due at the
cadence's local time on that date (DST-correct, see :meth:`WorkCalendar.at_local`).

Whether a date is a slot depends only on the cadence and the calendar, never on the query window,
so a scheduler that calls :func:`due_slots` over consecutive ``(since, now]`` windows sees every slot
exactly once and can key a nudge by ``(customer, kind, slot.local_date)``.

A slot's *period* runs from the day after the previous slot up to the slot's own date: a call logged
in that period (or later) satisfies it — "a call already logged today: no nudge".
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal, get_args

from domain.calendar import WEEKDAY_NAMES, WEEKDAYS, WORKDAY_END, WorkCalendar, parse_weekday

__all__ = [
    "DEFAULT_AT",
    "EPOCH",
    "Cadence",
    "CadenceKind",
    "Slot",
    "Standing",
    "Thresholds",
    "due_slot",
    "due_slots",
    "is_satisfied",
    "launch_cadence",
    "moved_here",
    "next_due",
    "next_slot",
    "occurrences",
    "parse_cadence",
    "parse_time",
    "snooze_return",
    "standing",
]

CadenceKind = Literal["daily", "weekly", "biweekly", "monthly", "every", "off"]
StandingState = Literal["green", "yellow", "red", "off"]
_KINDS: tuple[str, ...] = get_args(CadenceKind)

DEFAULT_AT = time(9, 0)
# Phase reference for biweekly / every-N cadences stored without an anchor, so they stay deterministic.
EPOCH = date(2024, 1, 1)  # a Monday
MAX_INTERVAL_DAYS = 365

_ONE_DAY = timedelta(days=1)
_NTH_WORDS: dict[int, str] = {1: "first", 2: "second", 3: "third", 4: "fourth", -1: "last"}
# Searches for the previous/next slot give up past this horizon; the longest regular gap is
# MAX_INTERVAL_DAYS plus a holiday shift, so this is generous.
_SEARCH_HORIZON_DAYS = 2 * MAX_INTERVAL_DAYS + 60


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _hhmm(at: time) -> str:
    return f"{at.hour:02d}:{at.minute:02d}"


@dataclass(frozen=True)
class Thresholds:
    """When a relationship turns yellow (past ``ideal_days``) and red (past ``max_days``).

    ``business_days`` counts elapsed business days instead of calendar days (daily cadences: a
    Friday call is still fine on Monday).
    """

    ideal_days: int
    max_days: int
    business_days: bool = False

    def __post_init__(self) -> None:
        if not 0 < self.ideal_days <= self.max_days:
            raise ValueError(f"Need 0 < ideal_days <= max_days, got {self.ideal_days} and {self.max_days}")


@dataclass(frozen=True)
class Cadence:
    """How often an account team should call a customer, at the customer's local time ``at``.

    Field use by kind (others must be None):
      daily                          — nothing (business days only)
      weekly / biweekly              — ``weekday`` (Monday=0); biweekly also ``anchor``
      monthly                        — ``day_of_month`` (1–28) or ``nth`` (1–4, -1 = last) + ``weekday``
      every                          — ``interval_days`` (1–365) and ``anchor``
      off                            — nothing

    ``anchor`` fixes which weeks/days a biweekly/every cadence falls on, and its first call (none before it);
    without one, :data:`EPOCH` is used. A biweekly anchor is normalised to the first ``weekday`` on or after it
    (the first call), so equal schedules compare equal. For other kinds the anchor is irrelevant and dropped.
    """

    kind: CadenceKind
    weekday: int | None = None
    day_of_month: int | None = None
    nth: int | None = None
    interval_days: int | None = None
    at: time = DEFAULT_AT
    anchor: date | None = None

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"Unknown cadence kind {self.kind!r}; expected one of {', '.join(_KINDS)}")
        if self.at.tzinfo is not None or self.at.second or self.at.microsecond:
            raise ValueError(f"Cadence time must be a naive whole minute, got {self.at.isoformat()}")
        expected: set[str] = {
            "daily": set(),
            "off": set(),
            "weekly": {"weekday"},
            "biweekly": {"weekday"},
            "every": {"interval_days"},
            "monthly": {"day_of_month"} if self.day_of_month is not None else {"nth", "weekday"},
        }[self.kind]
        for name in ("weekday", "day_of_month", "nth", "interval_days"):
            value = getattr(self, name)
            if name in expected and value is None:
                raise ValueError(f"A {self.kind} cadence needs {name}")
            if name not in expected and value is not None:
                raise ValueError(f"A {self.kind} cadence does not use {name} (got {value!r})")
        if self.weekday is not None and self.weekday not in range(7):
            raise ValueError(f"weekday must be 0 (Mon) … 6 (Sun), got {self.weekday}")
        if self.day_of_month is not None and self.day_of_month not in range(1, 29):
            raise ValueError(f"day_of_month must be 1–28 (so it exists every month), got {self.day_of_month}")
        if self.nth is not None and self.nth not in _NTH_WORDS:
            raise ValueError(f"nth must be 1–4 or -1 (last), got {self.nth}")
        if self.interval_days is not None and self.interval_days not in range(1, MAX_INTERVAL_DAYS + 1):
            raise ValueError(f"interval_days must be 1–{MAX_INTERVAL_DAYS}, got {self.interval_days}")
        # Canonical forms so that equal schedules are equal values (and to_text round-trips).
        if self.kind == "off":
            object.__setattr__(self, "at", DEFAULT_AT)
        if self.kind not in ("biweekly", "every"):
            object.__setattr__(self, "anchor", None)
        elif self.kind == "biweekly" and self.anchor is not None:
            assert self.weekday is not None
            object.__setattr__(self, "anchor", _on_or_after(self.anchor, self.weekday))

    # ----------------------------------------------------------------- presentation

    @property
    def is_off(self) -> bool:
        return self.kind == "off"

    def describe(self) -> str:
        """Human text, e.g. "weekly on Tue at 10:30", "monthly on the first Monday at 09:00"."""
        at = f"at {_hhmm(self.at)}"
        starting = f", starting {self.anchor.isoformat()}" if self.anchor is not None else ""
        if self.kind == "off":
            return "off"
        if self.kind == "daily":
            return f"daily {at}"
        if self.kind in ("weekly", "biweekly"):
            assert self.weekday is not None
            return f"{self.kind} on {WEEKDAYS[self.weekday].capitalize()} {at}{starting}"
        if self.kind == "monthly":
            if self.day_of_month is not None:
                return f"monthly on the {_ordinal(self.day_of_month)} {at}"
            assert self.nth is not None and self.weekday is not None
            return f"monthly on the {_NTH_WORDS[self.nth]} {WEEKDAY_NAMES[self.weekday]} {at}"
        assert self.interval_days is not None
        unit = "day" if self.interval_days == 1 else "days"
        return f"every {self.interval_days} {unit} {at}{starting}"

    def to_text(self) -> str:
        """Canonical text; ``parse_cadence(c.to_text()) == c``."""
        at = _hhmm(self.at)
        starting = f" from {self.anchor.isoformat()}" if self.anchor is not None else ""
        if self.kind == "off":
            return "off"
        if self.kind == "daily":
            return f"daily {at}"
        if self.kind in ("weekly", "biweekly"):
            assert self.weekday is not None
            return f"{self.kind} {WEEKDAYS[self.weekday]} {at}{starting}"
        if self.kind == "monthly":
            if self.day_of_month is not None:
                return f"monthly {self.day_of_month} {at}"
            assert self.nth is not None and self.weekday is not None
            return f"monthly {_NTH_WORDS[self.nth]}-{WEEKDAYS[self.weekday]} {at}"
        assert self.interval_days is not None
        unit = "day" if self.interval_days == 1 else "days"
        return f"every {self.interval_days} {unit} {at}{starting}"

    # ----------------------------------------------------------------- health windows

    @property
    def thresholds(self) -> Thresholds | None:
        """Default yellow/red windows; None when off. Pass a custom :class:`Thresholds` to override."""
        if self.kind == "off":
            return None
        if self.kind == "daily":
            return Thresholds(1, 2, business_days=True)
        if self.kind == "every":
            assert self.interval_days is not None
            n = self.interval_days
            return Thresholds(n, -(-n * 14 // 10))  # ceil(n * 1.4) in integers: no float surprises
        ideal, most = {"weekly": (7, 10), "biweekly": (14, 18), "monthly": (31, 40)}[self.kind]
        return Thresholds(ideal, most)

    @property
    def ideal_window(self) -> int | None:
        """Days (business days for daily) a relationship stays green; None when off."""
        limits = self.thresholds
        return limits.ideal_days if limits is not None else None

    @property
    def max_window(self) -> int | None:
        """Days (business days for daily) before a relationship turns red; None when off."""
        limits = self.thresholds
        return limits.max_days if limits is not None else None

    # ----------------------------------------------------------------- nominal schedule

    def _phase(self) -> date:
        """First nominal date of a biweekly/every cadence (any date in the same phase would do)."""
        if self.kind == "biweekly":
            assert self.weekday is not None
            return self.anchor or _on_or_after(EPOCH, self.weekday)
        return self.anchor or EPOCH

    def nominal_dates(self, lo: date, hi: date) -> Iterator[date]:
        """Scheduled local dates in [lo, hi] before any business-day shift, ascending."""
        if self.kind == "off" or hi < lo:
            return
        if self.kind == "monthly":
            yield from self._monthly_dates(lo, hi)
            return
        if self.kind == "daily":
            first, step = lo, 1
        elif self.kind == "weekly":
            assert self.weekday is not None
            first, step = _on_or_after(lo, self.weekday), 7
        else:
            step = 14 if self.kind == "biweekly" else self.interval_days or 1
            # Smallest date >= lo in the same residue class (mod step) as the phase date.
            first = lo + timedelta(days=(self._phase() - lo).days % step)
        day = first
        while day <= hi:
            yield day
            day += timedelta(days=step)

    def _monthly_dates(self, lo: date, hi: date) -> Iterator[date]:
        year, month = lo.year, lo.month
        while (year, month) <= (hi.year, hi.month):
            if self.day_of_month is not None:
                day = date(year, month, self.day_of_month)
            else:
                assert self.nth is not None and self.weekday is not None
                day = _nth_weekday(year, month, self.nth, self.weekday)
            if lo <= day <= hi:
                yield day
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def _on_or_after(day: date, weekday: int) -> date:
    return day + timedelta(days=(weekday - day.weekday()) % 7)


def _nth_weekday(year: int, month: int, nth: int, weekday: int) -> date:
    if nth > 0:
        return _on_or_after(date(year, month, 1), weekday) + timedelta(weeks=nth - 1)
    next_month = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    last = next_month - _ONE_DAY
    return last - timedelta(days=(last.weekday() - weekday) % 7)


# --------------------------------------------------------------------------- parsing

_VALID_FORMS = (
    "'daily [time]', 'weekly <day> [time]', 'biweekly <day> [time] [from YYYY-MM-DD]', "
    "'monthly <1-28> [time]', 'monthly <first|second|third|fourth|last>-<day> [time]', "
    "'every <N> days [time] [from YYYY-MM-DD]', 'off' — days are mon…sun, "
    "times look like 9, 9am, 9:30, 14:00 or 2pm (default 09:00)"
)
_FILLER = frozenset({"on", "at", "the", "of"})
_FROM_WORDS = frozenset({"from", "starting", "anchor", "since"})
_KIND_ALIASES: dict[str, CadenceKind] = {
    "daily": "daily",
    "weekly": "weekly",
    "biweekly": "biweekly",
    "fortnightly": "biweekly",
    "monthly": "monthly",
    "every": "every",
    "off": "off",
    "none": "off",
    "never": "off",
    "everyday": "daily",
    "weekdays": "daily",
    "workdays": "daily",
}
# Rhythms people ask for that are every N days here.
_LONGER: dict[str, str] = {
    "quarterly": "every 91 days",
    "yearly": "every 365 days",
    "annually": "every 365 days",
    "semiannually": "every 182 days",
}
_TIME_RE = re.compile(r"^(\d{1,2})(?::(\d{2}))?(am|pm)?$")
_DAY_OF_MONTH_RE = re.compile(r"^(\d{1,2})(st|nd|rd|th)?$")
_NTH_RE = re.compile(r"^(first|second|third|fourth|last|1st|2nd|3rd|4th)(?:-([a-z.]+))?$")
_NTH_VALUES: dict[str, int] = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "last": -1,
    "1st": 1,
    "2nd": 2,
    "3rd": 3,
    "4th": 4,
}


def parse_time(text: str) -> time:
    """ "9", "9am", "9:30", "09:30", "2pm", "14:00", "noon" → ``time``; ``ValueError`` otherwise."""
    token = text.strip().lower().replace(" ", "").replace(".", "")
    if token == "noon":
        return time(12)
    match = _TIME_RE.match(token)
    if match is None:
        raise ValueError(f"{text!r} is not a time — use 9, 9am, 9:30, 14:00 or 2pm")
    hour, minute, meridiem = int(match[1]), int(match[2] or 0), match[3]
    if meridiem is not None:
        if not 1 <= hour <= 12:
            raise ValueError(f"{text!r} is not a time — with am/pm the hour must be 1–12")
        hour = hour % 12 + (12 if meridiem == "pm" else 0)
    if hour > 23 or minute > 59:
        raise ValueError(f"{text!r} is not a time — hours go up to 23 and minutes up to 59")
    return time(hour, minute)


def _tokenize(text: str) -> list[str]:
    raw = text.lower().replace(",", " ").split()
    tokens: list[str] = []
    for token in raw:
        # "9 am" / "9:30 p.m." → one time token.
        if token.replace(".", "") in ("am", "pm") and tokens and re.fullmatch(r"\d{1,2}(:\d{2})?", tokens[-1]):
            tokens[-1] += token.replace(".", "")
        elif token not in _FILLER:
            tokens.append(token)
    return tokens


# "every day at 9", "every other week on tue": what people type, said as the kinds above.
_EVERY_PHRASES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("day",), "daily"),
    (("weekday",), "daily"),
    (("weekdays",), "daily"),
    (("business", "day"), "daily"),
    (("workday",), "daily"),
    (("week",), "weekly"),
    (("other", "week"), "biweekly"),
    (("2", "weeks"), "biweekly"),
    (("two", "weeks"), "biweekly"),
    (("month",), "monthly"),
)


def _weekday(token: str) -> int | None:
    """A day of the week as people write it in a cadence, "tue", "Tuesday" or "tuesdays"; None otherwise."""
    for key in (token, token[:-1] if token.endswith("s") else None):
        if key:
            try:
                return parse_weekday(key)
            except ValueError:
                pass
    return None


def _plain_every(tokens: list[str]) -> list[str]:
    # "tuesdays 10am" and "every tuesday at 10", "every other fri": a weekly (biweekly) call on that day.
    if tokens and _weekday(tokens[0]) is not None:
        return ["weekly", *tokens]
    if len(tokens) >= 2 and tokens[0] == "every" and _weekday(tokens[1]) is not None:
        return ["weekly", *tokens[1:]]
    if len(tokens) >= 3 and tokens[:2] in (["every", "other"], ["every", "second"]) and _weekday(tokens[2]) is not None:
        return ["biweekly", *tokens[2:]]
    if len(tokens) < 2 or tokens[0] != "every":
        return tokens
    for phrase, kind in _EVERY_PHRASES:
        if tuple(tokens[1 : 1 + len(phrase)]) == phrase:
            return [kind, *tokens[1 + len(phrase) :]]
    return tokens


def _fail(text: str, problem: str) -> ValueError:
    return ValueError(f"I couldn't read the cadence {text.strip()!r}: {problem}. Valid forms: {_VALID_FORMS}.")


def parse_cadence(text: str, *, anchor: date | None = None, previous: Cadence | None = None) -> Cadence:
    """Parse user text such as "weekly tue 10:30", "monthly last-fri 2pm" or "every 3 days".

    Also accepts :meth:`Cadence.describe` output. ``anchor`` (e.g. the day the cadence was set)
    pins biweekly/every cadences; an explicit "from YYYY-MM-DD" in the text takes precedence.
    A biweekly/every cadence with the rhythm of ``previous`` (the customer's current cadence: same kind, day and
    interval) keeps its phase instead: "biweekly tue 10:00" typed to move a call an hour must not move it a week.
    Raises ``ValueError`` naming what was not understood and listing the valid forms.
    """
    tokens = _plain_every(_tokenize(text))
    if not tokens:
        raise _fail(text, "it is empty")
    head, rest = tokens[0], tokens[1:]
    kind = _KIND_ALIASES.get(head)
    if kind is None and head in _LONGER:
        raise _fail(text, f"{head!r} is not a cadence kind — for it, use {_LONGER[head]!r}")
    if kind is None:
        raise _fail(text, f"{head!r} is not a cadence kind")

    text_anchor: date | None = None
    for i, token in enumerate(rest):
        if token in _FROM_WORDS:
            if i + 1 >= len(rest):
                raise _fail(text, f"'{token}' needs a date like 2026-01-05")
            try:
                text_anchor = date.fromisoformat(rest[i + 1])
            except ValueError:
                raise _fail(text, f"{rest[i + 1]!r} is not a date like 2026-01-05") from None
            if kind not in ("biweekly", "every"):
                raise _fail(text, "a start date only applies to biweekly and every-N-days cadences")
            rest = rest[:i] + rest[i + 2 :]
            break

    fields: dict[str, int] = {}
    if kind in ("weekly", "biweekly"):
        if not rest:
            raise _fail(text, f"{kind} needs a day, e.g. '{kind} tue'")
        fields["weekday"] = _weekday_or_fail(text, rest.pop(0))
        also = [t for t in rest if t not in ("and", "&", "+")]
        if also and _weekday(also[0]) is not None:  # "weekly mon,wed": read as a call time, said as "not a time"
            raise _fail(
                text,
                f"a cadence has one call day a week — pick one ('{kind} {WEEKDAYS[fields['weekday']]}'), or use "
                "'daily' for a call every business day",
            )
    elif kind == "monthly":
        if not rest:
            raise _fail(text, "monthly needs a day, e.g. 'monthly 15' or 'monthly first-mon'")
        rest = _parse_monthly_day(text, rest, fields)
    elif kind == "every":
        if len(rest) < 2 or not rest[0].isdecimal() or rest[1] not in ("day", "days"):
            shown = " ".join(rest[:2]) or "nothing"
            raise _fail(text, f"expected 'every <N> days' but found {shown!r} after 'every'")
        fields["interval_days"] = int(rest[0])
        if not 1 <= fields["interval_days"] <= MAX_INTERVAL_DAYS:
            raise _fail(text, f"the interval must be 1–{MAX_INTERVAL_DAYS} days")
        rest = rest[2:]

    at = DEFAULT_AT
    if rest and kind != "off":
        try:
            at = parse_time(rest[0])
        except ValueError as err:
            raise _fail(text, f"I didn't understand {rest[0]!r} ({err})") from None
        rest = rest[1:]
    if rest:
        raise _fail(text, f"I didn't understand {' '.join(rest)!r}")
    if text_anchor is None and previous is not None and _same_rhythm(kind, fields, previous):
        anchor = previous.anchor
    return Cadence(
        kind=kind,
        weekday=fields.get("weekday"),
        day_of_month=fields.get("day_of_month"),
        nth=fields.get("nth"),
        interval_days=fields.get("interval_days"),
        at=at,
        anchor=text_anchor or anchor,
    )


def _same_rhythm(kind: str, fields: dict[str, int], previous: Cadence) -> bool:
    """A phased cadence (biweekly, every N days) on the same day / interval as `previous`: only its time may differ."""
    return (
        kind in ("biweekly", "every")
        and kind == previous.kind
        and fields.get("weekday") == previous.weekday
        and fields.get("interval_days") == previous.interval_days
    )


def _weekday_or_fail(text: str, token: str) -> int:
    try:
        return parse_weekday(token)
    except ValueError as err:
        found = _weekday(token)
        if found is None:
            raise _fail(text, str(err)) from None
        return found


def _parse_monthly_day(text: str, rest: list[str], fields: dict[str, int]) -> list[str]:
    token = rest[0]
    day_match = _DAY_OF_MONTH_RE.match(token)
    if day_match is not None and token in _NTH_VALUES and len(rest) > 1 and _weekday(rest[1]) is not None:
        day_match = None  # "2nd tue" is the second Tuesday, as "second tue" is, not the 2nd with a time "tue"
    if day_match is not None:
        day = int(day_match[1])
        if not 1 <= day <= 28:
            raise _fail(text, f"day {day} doesn't exist in every month — use 1–28, or e.g. 'monthly last-fri'")
        fields["day_of_month"] = day
        return rest[1:]
    nth_match = _NTH_RE.match(token)
    if nth_match is None:
        raise _fail(text, f"{token!r} is not a day of the month (1–28) or e.g. 'first-mon'")
    fields["nth"] = _NTH_VALUES[nth_match[1]]
    if nth_match[2] is not None:
        fields["weekday"] = _weekday_or_fail(text, nth_match[2])
        return rest[1:]
    if len(rest) < 2:
        raise _fail(text, f"'{token}' needs a day, e.g. '{token}-mon'")
    fields["weekday"] = _weekday_or_fail(text, rest[1])
    return rest[2:]


# --------------------------------------------------------------------------- slots


@dataclass(frozen=True)
class Slot:
    """One scheduled call: the customer-local business date and the UTC instant it is due.

    ``period_start`` is the first local date whose calls count toward this slot (the day after
    the previous slot); None means only calls on ``local_date`` itself count.
    """

    local_date: date
    due_at: datetime
    period_start: date | None = None


def _slot_dates(
    cadence: Cadence, cal: WorkCalendar, lo: date, hi: date, *, before_anchor: bool = False
) -> Iterator[date]:
    """Slot dates in [lo, hi], ascending and unique.

    Nominal dates after the last business day before ``lo`` may shift into the range, and nothing
    earlier can (it would shift to that business day or before), so start enumerating there.
    A biweekly/every cadence with an anchor starts there ("every 3 days from 2026-12-24": no call before it);
    ``before_anchor`` also yields the dates its rhythm would have had before, which bound its first slot's period.
    """
    if cadence.kind == "off" or hi < lo:
        return
    start = cal.previous_business_day(lo) + _ONE_DAY
    if not before_anchor and cadence.anchor is not None:
        start = max(start, cadence.anchor)
    last: date | None = None
    for nominal in cadence.nominal_dates(start, hi):
        slot_day = cal.next_business_day(nominal, include_today=True)
        if slot_day > hi:
            break  # shifting is monotonic, so every later nominal date lands past hi too
        if slot_day != last:
            yield slot_day
            last = slot_day


def _previous_slot_date(cadence: Cadence, cal: WorkCalendar, before: date) -> date | None:
    """Latest slot date strictly before ``before`` (None past the search horizon)."""
    span = 64
    hi = before - _ONE_DAY
    searched = 0
    while searched < _SEARCH_HORIZON_DAYS:
        lo = hi - timedelta(days=span - 1)
        found = list(_slot_dates(cadence, cal, lo, hi, before_anchor=True))
        if found:
            return found[-1]
        searched += span
        hi = lo - _ONE_DAY
        span *= 2
    return None


def _slots(cadence: Cadence, cal: WorkCalendar, lo: date, hi: date) -> Iterator[Slot]:
    previous: date | None = None
    first = True
    for day in _slot_dates(cadence, cal, lo, hi):
        if first:
            previous, first = _previous_slot_date(cadence, cal, day), False
        period_start = previous + _ONE_DAY if previous is not None else None
        yield Slot(local_date=day, due_at=cal.at_local(day, cadence.at), period_start=period_start)
        previous = day


def _require_aware(instant: datetime, what: str) -> None:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware (got naive {instant.isoformat()})")


def occurrences(cadence: Cadence, cal: WorkCalendar, start: datetime, end: datetime) -> Iterator[datetime]:
    """Aware UTC instants of scheduled calls in [start, end), strictly increasing."""
    _require_aware(start, "start")
    _require_aware(end, "end")
    if end <= start:
        return
    # One spare day each side: a DST-gap shift can push a due time past local midnight.
    lo, hi = cal.local_date(start) - _ONE_DAY, cal.local_date(end) + _ONE_DAY
    last: datetime | None = None
    for day in _slot_dates(cadence, cal, lo, hi):
        due = cal.at_local(day, cadence.at)
        if start <= due < end and (last is None or due > last):
            yield due
            last = due


def due_slots(cadence: Cadence, cal: WorkCalendar, *, since: datetime, now: datetime) -> list[Slot]:
    """Slots whose ``due_at`` is in (since, now], oldest first.

    Half-open on the left so consecutive scheduler runs (t0, t1], (t1, t2], … see each slot once.
    """
    _require_aware(since, "since")
    _require_aware(now, "now")
    if now <= since:
        return []
    lo, hi = cal.local_date(since) - _ONE_DAY, cal.local_date(now) + _ONE_DAY
    result: list[Slot] = []
    for slot in _slots(cadence, cal, lo, hi):
        if since < slot.due_at <= now and (not result or slot.due_at > result[-1].due_at):
            result.append(slot)
    return result


def next_slot(cadence: Cadence, cal: WorkCalendar, *, after: datetime) -> Slot | None:
    """The first slot due strictly after ``after``; None when off."""
    _require_aware(after, "after")
    if cadence.kind == "off":
        return None
    lo = _search_start(cadence, cal.local_date(after) - _ONE_DAY)
    start, span = lo, 64
    while (lo - start).days < _SEARCH_HORIZON_DAYS:
        hi = lo + timedelta(days=span - 1)
        for slot in _slots(cadence, cal, lo, hi):
            if slot.due_at > after:
                return slot
        lo, span = hi + _ONE_DAY, span * 2
    return None


def _search_start(cadence: Cadence, day: date) -> date:
    """Where to start looking for slots from `day`: an anchored cadence has none before its first call, which may be
    years ahead ("every 3 days from 2029-01-01"), further than the search horizon."""
    return max(day, cadence.anchor - _ONE_DAY) if cadence.anchor is not None else day


def next_due(cadence: Cadence, cal: WorkCalendar, *, after: datetime) -> datetime | None:
    """When the next call is due (aware UTC), strictly after ``after``; None when off."""
    slot = next_slot(cadence, cal, after=after)
    return slot.due_at if slot is not None else None


def due_slot(cadence: Cadence, cal: WorkCalendar, *, at: datetime) -> Slot | None:
    """The slot an instant counts toward: the first slot on or after its local date.

    A call made at ``at`` satisfies exactly this slot (and any earlier unsatisfied one is moot), so
    this is the key to record a call or a snooze against. None when off.
    """
    _require_aware(at, "at")
    if cadence.kind == "off":
        return None
    lo = _search_start(cadence, cal.local_date(at))
    day, span = lo, 64
    while (lo - day).days < _SEARCH_HORIZON_DAYS:
        hi = lo + timedelta(days=span - 1)
        found = next(_slots(cadence, cal, lo, hi), None)
        if found is not None:
            return found
        lo, span = hi + _ONE_DAY, span * 2
    return None


def moved_here(cadence: Cadence, cal: WorkCalendar, day: date) -> list[date]:
    """The days the cadence names that a weekend or a holiday moved to the slot on `day` (a weekly Monday call on
    Tuesday after Easter Monday: [Easter Monday]); [] for a day it names itself. A daily cadence names every day, so
    it moves none: its weekends and holidays simply have no call."""
    if cadence.kind in ("off", "daily") or cadence.interval_days == 1:  # "every 1 day" is daily too
        return []
    first = cal.previous_business_day(day) + _ONE_DAY
    if cadence.anchor is not None:
        first = max(first, cadence.anchor)
    return list(cadence.nominal_dates(first, day - _ONE_DAY))


def snooze_return(at: time, cal: WorkCalendar, *, snoozed_until: datetime, nudged_on: date | None = None) -> datetime:
    """When a call put off by a snooze ending at `snoozed_until` comes back, for a cadence calling at local `at`.

    The end itself when it falls on a business day after that day's call time and before the end of the working
    day (a 1-day snooze of the 09:00 nudge clicked at 09:05 is back at 09:05 the next day); that day's call time
    when it ends earlier (a snooze "until" a date ends at its midnight: never earlier than the customer's call
    time); the call time of the next business day when it ends on a weekend, a holiday or after hours, or on
    `nudged_on`, a day whose nudge was already posted (one nudge a customer a day: "snooze 2h" of today's nudge).
    """
    _require_aware(snoozed_until, "snoozed_until")
    local = cal.local_datetime(snoozed_until)
    day = local.date()
    if cal.is_business_day(day) and day != nudged_on:
        call = cal.at_local(day, at)
        if snoozed_until <= call:
            return call
        if local.time() < WORKDAY_END:
            return snoozed_until
    return cal.at_local(cal.next_business_day(day), at)


def is_satisfied(slot: Slot, last_call_at: datetime | None, cal: WorkCalendar) -> bool:
    """True when the latest call falls in the slot's period or after it (local dates).

    A call on the slot's own date counts whether it was before or after the nudge time.
    """
    if last_call_at is None:
        return False
    _require_aware(last_call_at, "last_call_at")
    period_start = slot.period_start or slot.local_date
    return cal.local_date(last_call_at) >= period_start


# --------------------------------------------------------------------------- standing


@dataclass(frozen=True)
class Standing:
    """Relationship health: green within the ideal window, yellow past it, red past the max."""

    state: StandingState
    since_last: timedelta | None
    reason: str


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"


def standing(
    cadence: Cadence,
    cal: WorkCalendar,
    *,
    last_contact_at: datetime | None,
    now: datetime,
    created_at: datetime,
    thresholds: Thresholds | None = None,
    since_what: str | None = None,
) -> Standing:
    """Classify how overdue a customer is.

    Elapsed time is counted in customer-local dates — business days for daily cadences (so a
    Friday call is still green on Monday), calendar days otherwise. With no call logged yet the
    clock starts at ``created_at``. ``since_what`` names what restarted the clock at ``last_contact_at``
    when it was not a call (e.g. "No call since it was resumed").
    """
    _require_aware(now, "now")
    _require_aware(created_at, "created_at")
    since_last: timedelta | None = None
    if last_contact_at is not None:
        _require_aware(last_contact_at, "last_contact_at")
        since_last = max(now - last_contact_at, timedelta())
    limits = thresholds or cadence.thresholds
    if limits is None:
        return Standing("off", since_last, "Cadence is off — no calls are scheduled")

    reference = last_contact_at if last_contact_at is not None else created_at
    ref_day, today = cal.local_date(reference), cal.local_date(now)
    if limits.business_days:
        elapsed, unit = cal.business_days_between(ref_day, today), "business day"
    else:
        elapsed, unit = max((today - ref_day).days, 0), "day"

    if elapsed > limits.max_days:
        state: StandingState = "red"
    elif elapsed > limits.ideal_days:
        state = "yellow"
    else:
        state = "green"
    what = since_what or ("Last call" if last_contact_at is not None else "No call logged yet; added")
    reason = (
        f"{what} {_plural(elapsed, unit)} ago (ideal within {_plural(limits.ideal_days, unit)}, "
        f"at most {_plural(limits.max_days, unit)})"
    )
    return Standing(state, since_last, reason)


def next_planned_slot(normal: Cadence, cal: WorkCalendar, *, after: datetime, launch_until: date | None) -> Slot | None:
    """The first slot due strictly after ``after`` as the planner plans them: launch mode's daily calls up to and
    including ``launch_until``, the normal cadence's after it (on launch mode's last day, the next call is the normal
    cadence's, with its own period: a call logged during the launch may satisfy it)."""
    plan = launch_cadence(normal, launch_until=launch_until, today=cal.local_date(after))
    slot = next_slot(plan, cal, after=after)
    if slot is None or plan is normal or launch_until is None or slot.local_date <= launch_until:
        return slot
    return next_slot(normal, cal, after=max(after, cal.at_local(launch_until + _ONE_DAY, time(0))))


def launch_cadence(normal: Cadence, *, launch_until: date | None, today: date) -> Cadence:
    """During launch mode (``today`` up to and including ``launch_until``) call daily at the normal time.

    ``today`` is the customer-local date. Launch mode applies even when the normal cadence is off:
    it is an explicit, temporary choice.
    """
    if launch_until is not None and today <= launch_until:
        return Cadence("daily", at=normal.at)  # an off cadence's time is always the 09:00 default
    return normal
