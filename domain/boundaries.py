"""Boundaries: the working agreement an account team asks a customer to uphold.

Partner's signature habit: decide what working relationship works for you, introduce your most
important need first, state it, gently remind when it slips, add the next need only once the first
holds, and when a client can never uphold a need, decide consciously what to do about it.

Pure domain code: no Slack, no database, no wall clock. Every function takes the instant it needs
as ``now`` (timezone-aware; the storage layer hands back aware UTC datetimes). :class:`Boundary` is
frozen, so transitions return a new boundary instead of mutating the caller's.

Lifecycle::

    proposed ──activate──▶ active ──mark_held──▶ held
        │                    ▲  │                  │
        │                    └──┼── record_slip ◀──┘   (a slip on a held boundary: back to active)
        └───────── retire ──────┴──────────────────────▶ retired

Time windows are half-open, ``(now - window, now]``: a slip exactly ``window`` ago has aged out,
and one at ``now`` counts. The same rule makes "no slip for 3 weeks" and "3 weeks since the last
slip" agree at the edge.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Literal, NamedTuple, get_args

from domain.calendar import WORKDAY_END, WORKDAY_START, WorkCalendar
from domain.health import BoundaryHealthInput

__all__ = [
    "DEFAULT_POLICY",
    "ESCALATION_OPTIONS",
    "FIRST_BUSINESS_DAY_OF_WEEK",
    "HEALTH_WINDOW",
    "MAX_TEXT_LENGTH",
    "REMINDER_TEMPLATES",
    "Boundary",
    "BoundaryKind",
    "BoundaryStatus",
    "Policy",
    "ResponseTime",
    "Slip",
    "SlipSource",
    "Verdict",
    "activate",
    "as_sentence",
    "boundary_health",
    "business_days_back",
    "call_outside_window",
    "can_activate",
    "escalation_options",
    "escalation_text",
    "format_contact_window",
    "has_held",
    "mark_escalated",
    "mark_held",
    "needs_escalation",
    "next_to_suggest",
    "parse_boundary_spec",
    "parse_business_reply",
    "parse_contact_window",
    "parse_reply_time",
    "parse_response_time",
    "pick_template",
    "record_slip",
    "reminder_due_dates",
    "reminder_text",
    "reminders_due",
    "reply_days",
    "reply_time_said",
    "resolve_kind",
    "response_slipped",
    "response_time_in",
    "retire",
    "say_contact_window",
    "slips_in_window",
    "slot_freed_by",
    "sort_boundaries",
    "stored_too_long",
    "visible_length",
    "week_start_weekday",
]

BoundaryKind = Literal["response_time", "contact_window", "channel", "custom"]
BoundaryStatus = Literal["proposed", "active", "held", "retired"]
SlipSource = Literal["manual", "button", "detected"]
_STATUSES: tuple[str, ...] = get_args(BoundaryStatus)
_SOURCES: tuple[str, ...] = get_args(SlipSource)
_IN_FORCE: frozenset[str] = frozenset({"active", "held"})

FIRST_BUSINESS_DAY_OF_WEEK = "first_business_day_of_week"
# health.py scores boundaries over the last 30 days; keep the two in step.
HEALTH_WINDOW = timedelta(days=30)
# Long enough for a real sentence, short enough to read at a glance in a Slack reminder.
MAX_TEXT_LENGTH = 300
MAX_VALUE_LENGTH = 64  # Boundary.value's column
_CHANNEL_LABEL = re.compile(r"<#([A-Z0-9]+)\|[^>]*>")

_ONE_DAY = timedelta(days=1)
# Boundary text is kept as Slack escapes it (mrkdwn-safe); each escape is one character the user sees.
_SLACK_ESCAPE = re.compile(r"&(?:lt|gt|amp);")
# A link as Slack sends it (`<https://…|label>`, `<mailto:…|…>`, `<https://…>`): the user sees its label, else its
# address.
_SLACK_LINK = re.compile(r"<((?:https?://|mailto:|tel:)[^<>|]*)(?:\|([^<>]*))?>")
MAX_STORED_TEXT = 1500  # Boundary.text's column: what the user sees and the markup of its links
# Slack's escaped broadcasts (`<!here>`, `<!channel>`, `<!everyone>`, optionally `|label`) and user groups
# (`<!subteam^S123|@sales>`): in a weekly reminder in the customer's channel they would notify everyone there, or
# every member of the group, every week.
_BROADCAST = re.compile(r"<!(here|channel|everyone)(?:\|[^>]*)?>|<!subteam\^[^|>]*(?:\|@?(?P<group>[^>]*))?>")
CHANNEL_WIDE = ("@here", "@channel", "@everyone")
# A user group Slack sent without its handle (`<!subteam^S123>`, as in a message's text): Partner may not read user
# groups (no usergroups:read), so it is named as one, wherever it is shown.
UNNAMED_GROUP = "@group"


def _broadcast_words(match: re.Match[str]) -> str:
    if match.group(1):
        return f"@{match.group(1)}"
    return f"@{match.group('group')}" if match.group("group") else UNNAMED_GROUP


def broadcast_in(text: str) -> str | None:
    """ "@here" (or @channel, @everyone, a user group's "@sales") when `text` would notify a whole channel or
    group, else None."""
    match = _BROADCAST.search(text)
    return _broadcast_words(match) if match else None


def broadcast_reach(broadcast: str) -> str:
    """Whom `broadcast_in`'s answer would notify, in words."""
    return "everyone there" if broadcast in CHANNEL_WIDE else f"everyone in {broadcast}"


def defuse_broadcasts(text: str) -> str:
    """`<!channel>`, `<!here>`, `<!everyone>` and user groups as the words "@channel", "@sales"…: Slack-escaped text
    someone typed (a check-in note) restated by Partner in a channel reads the same and notifies nobody."""
    return _BROADCAST.sub(_broadcast_words, text)


def visible_length(text: str) -> int:
    """How many characters the user sees in Slack-escaped text: `a &lt; b` is 5, not 8, and a link Slack made of an
    address as it was typed its label: `<mailto:help@acme.com|help@acme.com>` is 13."""
    shown = _SLACK_LINK.sub(lambda m: m[2] if m[2] is not None else m[1], text)
    return len(_SLACK_ESCAPE.sub("&", shown))


def stored_too_long(text: str, limit: int) -> str | None:
    """Why text the user sees within its limit still can't be kept (its links' addresses outgrow the column `limit`
    holds), else None."""
    if len(text) <= limit:
        return None
    return f"Its links' addresses are too long to keep ({len(text)} characters with them; {limit} at most)."


def _require_aware(instant: datetime, what: str) -> None:
    # Comparing naive and aware datetimes raises deep inside a rule; fail early with a clear message.
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware (got naive {instant.isoformat()})")


def _quote(text: str) -> str:
    return f"“{text}”"


def say_duration(span: timedelta) -> str:
    """3 weeks, 10 days, 1 day, 12 hours — how a person would say the policy's windows."""
    if span % timedelta(weeks=1) == timedelta(0):
        n, unit = span // timedelta(weeks=1), "week"
    elif span % _ONE_DAY == timedelta(0):
        n, unit = span // _ONE_DAY, "day"
    else:
        hours = span / timedelta(hours=1)
        return f"{hours:g} hour{'' if hours == 1 else 's'}"
    return f"{n} {unit}{'' if n == 1 else 's'}"


# --------------------------------------------------------------------------- parsing

_NUMBER_WORDS: dict[str, float] = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "half an": 0.5, "half a": 0.5,
}  # fmt: skip
_HOUR_UNITS = frozenset({"h", "hr", "hrs", "hour", "hours"})
_DAY_UNITS = frozenset({"d", "bd", "day", "days"})
_MINUTE_UNITS = frozenset({"m", "min", "mins", "minute", "minutes"})
# A digit may touch its unit ("4h"); a number word needs a space ("four hours"), so "hours" alone fails.
_RESPONSE_RE = re.compile(
    r"^(?:within\s+)?(?:(?P<num>\d+(?:\.\d+)?)\s*|(?P<word>[a-z]+(?:\s+an?)?)\s+)"
    r"(?:(?:business|working|work)\s+)?(?P<unit>[a-z]+)$"
)
_RESPONSE_FORMS = "1d, 2 business days, 4h, 4 business hours or 30m"


@dataclass(frozen=True)
class ResponseTime:
    """An agreed response time: either business ``hours`` or whole ``business_days``, never both.

    Hours count working time only (the calendar's working hours on business days); days count
    business days in the customer's calendar. ``str()`` gives the stored form ("4h", "1d").
    """

    hours: float = 0.0
    business_days: int = 0

    def __post_init__(self) -> None:
        if self.hours < 0 or self.business_days < 0:
            raise ValueError("A response time can't be negative")
        if (self.hours > 0) == (self.business_days > 0):
            raise ValueError("A response time is either business hours or business days, e.g. 4h or 1d")
        object.__setattr__(self, "hours", float(self.hours))  # "four hours" → 4.0, so equality is by value

    @property
    def in_days(self) -> bool:
        return self.business_days > 0

    @property
    def amount(self) -> float:
        """The agreed number in its own unit (hours or business days)."""
        return float(self.business_days) if self.in_days else self.hours

    def describe(self, amount: float | None = None) -> str:
        """Words for the agreement ("1 business day", "4 business hours"), or for ``amount`` in its unit."""
        n = self.amount if amount is None else amount
        unit = "business day" if self.in_days else "business hour"
        return f"{n:g} {unit}{'' if n == 1 else 's'}"

    def __str__(self) -> str:
        return f"{self.business_days}d" if self.in_days else f"{self.hours:g}h"


def parse_response_time(text: str) -> ResponseTime:
    """Read "1d", "2 business days", "1 business day", "4h", "four hours", "30m" or "within 1 day"."""
    cleaned = " ".join(text.strip().lower().replace("-", " ").split()) if isinstance(text, str) else ""
    match = _RESPONSE_RE.match(cleaned)
    if match is None:
        raise ValueError(f"I couldn't read {text!r} as a response time — try {_RESPONSE_FORMS}.")
    unit = match["unit"]
    n = float(match["num"]) if match["num"] is not None else _NUMBER_WORDS.get(match["word"])
    if n is None:
        raise ValueError(f"I couldn't read {match['word']!r} as a number in {text!r} — try {_RESPONSE_FORMS}.")
    if n <= 0:
        raise ValueError(f"A response time must be more than zero (got {text!r}).")
    # Beyond a year it is no agreement to uphold, and its stored form ("1e+06h") would not read back.
    too_long = f"{text!r} is more than a year; an agreed response time is at most {MAX_RESPONSE_BUSINESS_DAYS} "
    too_long += f"business days ({MAX_RESPONSE_HOURS} business hours)."
    if unit in _DAY_UNITS:
        if n != int(n):
            hours = n * 8
            raise ValueError(f"Use whole business days, or hours instead (e.g. {hours:g}h for {n:g} days).")
        if n > MAX_RESPONSE_BUSINESS_DAYS:
            raise ValueError(too_long)
        return ResponseTime(business_days=int(n))
    if unit in _HOUR_UNITS or unit in _MINUTE_UNITS:
        hours = n if unit in _HOUR_UNITS else round(n / 60, 4)
        if hours > MAX_RESPONSE_HOURS:
            raise ValueError(too_long)
        if hours < round(1 / 60, 4):  # less is no agreement, and "1e-05h" would not read back
            raise ValueError(f"A response time must be at least a minute (got {text!r}).")
        return ResponseTime(hours=hours)
    raise ValueError(f"{unit!r} isn't a unit I know in {text!r} — use hours or business days: {_RESPONSE_FORMS}.")


MAX_RESPONSE_BUSINESS_DAYS = 261  # a year of business days
MAX_RESPONSE_HOURS = MAX_RESPONSE_BUSINESS_DAYS * 8  # a year of 8-hour business days


# "…within one business day", "…within 4 business hours": a response time the agreement's own words give.
_WITHIN_RE = re.compile(
    r"\bwithin\s+(?P<spec>(?:\d+(?:\.\d+)?|[a-z]+(?:\s+an?)?)\s+(?:business|working)\s+(?:days?|hours?))\b",
    re.IGNORECASE,
)


def response_time_in(text: str) -> str | None:
    """The stored response time ("1d", "4h") an agreement's text states ("Replies within one business day"), or None
    when it states none that reads cleanly; a text with no kind or value of its own is measured by it."""
    for match in _WITHIN_RE.finditer(text):
        try:
            return str(parse_response_time(match["spec"]))
        except ValueError:
            continue
    return None


# How long a customer took to reply, as typed on a check-in: "2d", "1.5d", "36h", "90m", "1w".
_REPLY_RE = re.compile(r"^(?P<num>\d+(?:\.\d+)?)\s*(?P<unit>[a-z]*)$")
_REPLY_UNITS: dict[str, float] = {
    **dict.fromkeys(("d", "day", "days"), 1.0),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 1 / 24),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 1 / 1440),
    **dict.fromkeys(("w", "wk", "week", "weeks"), 7.0),
}
_REPLY_FORMS = "2d, 1.5d, 36h, 90m or 2 business days"
MAX_REPLY_DAYS = 366


def parse_reply_time(text: str) -> float:
    """How long the customer took to answer ("2d", "1.5d", "36h", "90m") → days of elapsed time.

    Elapsed, not business, time: the detection counts it back from the check-in and measures that span
    in the customer's business days and hours (weekends and holidays don't count), as agreements are.
    """
    cleaned = text.strip().lower() if isinstance(text, str) else ""
    match = _REPLY_RE.match(cleaned)
    if match is None or match["unit"] not in _REPLY_UNITS:
        if match is not None and not match["unit"]:
            raise ValueError(f"'{text}' needs a unit: how long did the customer take — {_REPLY_FORMS}?")
        raise ValueError(f"I couldn't read '{text}' as how long the customer took to reply — try {_REPLY_FORMS}.")
    days = float(match["num"]) * _REPLY_UNITS[match["unit"]]
    if days > MAX_REPLY_DAYS:
        raise ValueError(f"'{text}' is more than a year; give how long the customer took, e.g. {_REPLY_FORMS}.")
    return round(days, 6)


# "2 business days", "1 business day", "2bd": how long the customer took, counted on their work calendar.
_BUSINESS_REPLY_RE = re.compile(
    r"^(?P<num>\d+(?:\.\d+)?|[a-z]+)\s*(?:(?:business|working|work)\s+(?P<unit>[a-z]+)|(?P<bd>bd))$"
)
_BUSINESS_REPLY_FORMS = "2d, 36h or 2 business days"


def parse_business_reply(text: str) -> int | None:
    """N when `text` says the reply took N business days ("2 business days", "1 business day", "one business day",
    "2bd"), None when it says it some other way (see :func:`parse_reply_time`). A part of a business day is refused."""
    cleaned = " ".join(text.strip().lower().split()) if isinstance(text, str) else ""
    match = _BUSINESS_REPLY_RE.match(cleaned)
    if match is None or (match["bd"] and not match["num"][0].isdigit()):  # "2bd", not a word ending in "bd"
        return None
    if match["unit"] not in (None, "day", "days"):
        raise ValueError(
            f"I count a reply in business days, not business {match['unit']}: '{text}' — try {_BUSINESS_REPLY_FORMS}."
        )
    n = float(match["num"]) if match["num"][0].isdigit() else _NUMBER_WORDS.get(match["num"])
    if n is None:
        raise ValueError(f"I couldn't read '{match['num']}' as a number in '{text}' — try {_BUSINESS_REPLY_FORMS}.")
    if n != int(n):
        raise ValueError(f"Give whole business days in '{text}', or the time itself (e.g. {n * 24:g}h).")
    if n > MAX_REPLY_BUSINESS_DAYS:
        raise ValueError(
            f"'{text}' is more than a year; give how long the customer took, e.g. {_BUSINESS_REPLY_FORMS}."
        )
    return int(n)


MAX_REPLY_BUSINESS_DAYS = 261  # a year of business days


def business_days_back(cal: WorkCalendar, day: date, n: int) -> date:
    """The business day with exactly ``n`` business days after it up to and including ``day`` (as
    :meth:`WorkCalendar.business_days_between` counts them): 1 back from Monday is Friday, or Thursday after a
    Friday holiday; 0 back is ``day`` itself when it is a business day."""
    if n < 0:
        raise ValueError(f"n must not be negative, got {n}")
    counted = 0
    for _ in range(7 * (n + 1) + 400):  # bounded: a calendar with no business day in a year has no answer
        if cal.is_business_day(day):
            if counted == n:
                return day
            counted += 1
        day -= _ONE_DAY
    raise ValueError("The customer's calendar has no business days to count back over")


def reply_days(text: str, *, answered_at: datetime, cal: WorkCalendar) -> float:
    """How long the customer took to reply, as typed on a check-in, in days of elapsed time up to ``answered_at``
    (what a check-in stores, :func:`response_slipped` measures it in business time).

    "2d", "36h" are elapsed time already. "2 business days" is counted on the customer's work calendar (their
    working week, public holidays and time zone): the question is put that many business days before the day of
    the answer, at the same local time, so "1 business day" answered on Monday was asked on Friday.
    """
    _require_aware(answered_at, "answered_at")
    business = parse_business_reply(text)
    if business is None:
        return parse_reply_time(text)
    local = cal.local_datetime(answered_at)
    asked_at = cal.at_local(business_days_back(cal, local.date(), business), local.time())
    return (answered_at - min(asked_at, answered_at)) / _ONE_DAY


# The issue's own words in a check-in's note: "customer response took 3 days", "their reply took 2 business days",
# and as people write it: "customer response took three days", "their answer took over a week".
_SAID_NUMBER_WORDS = "|".join(sorted((w.replace(" ", r"\s+") for w in _NUMBER_WORDS), key=len, reverse=True))
_REPLY_SAID_RE = re.compile(
    r"\b(?:customer|client|their)(?:['’]s)?\s+(?:response|reply|answer)\s+took\s+"
    r"(?:(?:about|around|roughly|nearly|almost|over|more\s+than)\s+)?"
    rf"(?:(?P<digits>\d+(?:\.\d+)?)\s*|(?P<word>{_SAID_NUMBER_WORDS})\s+)"
    r"(?P<unit>(?:(?:business|working|work)\s+)?(?:days?|d|hours?|hrs?|h|weeks?|wks?|w|minutes?|mins?|m))\b",
    re.IGNORECASE,
)


def reply_time_said(note: str) -> str | None:
    """How long the customer took, when a note says it in words ("customer response took 3 days" → "3 days", "took
    three days" → "3 days"), in a form :func:`reply_days` reads; None when the note says no such thing."""
    match = _REPLY_SAID_RE.search(note)
    if match is None:
        return None
    if match["digits"] is not None:
        return " ".join(match.group(0)[match.start("digits") - match.start() :].split())
    return f"{_NUMBER_WORDS[' '.join(match['word'].lower().split())]:g} {' '.join(match['unit'].lower().split())}"


_TIME_RE = re.compile(r"^(\d{1,2})(?:[:.h](\d{2}))?\s*(am|pm)?$")
_WINDOW_SPLIT_RE = re.compile(r"\s*(?:-|–|—|\bto\b|\buntil\b|\btill\b)\s*")
_WINDOW_FORMS = "09:00-10:00, 9-10am, 2pm-3:30pm or 14:00–15:30"


def _parse_clock(token: str, whole: str) -> tuple[int, int, str | None]:
    token = re.sub(r"([ap])\.m\.?$", r"\1m", token)  # "9 a.m." → "9 am"
    # Explicit meridiems, so "noon" never borrows the other end's am/pm.
    if token == "noon":
        return 12, 0, "pm"
    if token == "midnight":
        return 12, 0, "am"
    match = _TIME_RE.match(token)
    if match is None:
        raise ValueError(f"I couldn't read {token!r} as a time in {whole!r} — try {_WINDOW_FORMS}.")
    hour, minute = int(match[1]), int(match[2] or 0)
    if minute > 59 or hour > 23 or (match[3] is not None and not 1 <= hour <= 12):
        raise ValueError(f"{token!r} in {whole!r} isn't a valid time — try {_WINDOW_FORMS}.")
    return hour, minute, match[3]


def _to_time(hour: int, minute: int, meridiem: str | None) -> time:
    if meridiem is not None:
        hour = hour % 12 + (12 if meridiem == "pm" else 0)
    return time(hour, minute)


def parse_contact_window(text: str) -> tuple[time, time]:
    """Read "9-10am", "09:00-10:00", "14:00–15:30" or "2pm to 3:30pm" as (start, end) local wall times.

    One am/pm applies to both ends ("9-10am"), unless that would put the start after the end
    ("11-1pm" is 11:00–13:00). Windows must not cross midnight.
    """
    cleaned = " ".join(text.strip().lower().split()) if isinstance(text, str) else ""
    parts = _WINDOW_SPLIT_RE.split(cleaned, maxsplit=1)
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"I couldn't read {text!r} as a time window — try {_WINDOW_FORMS}.")
    h1, m1, mer1 = _parse_clock(parts[0], text)
    h2, m2, mer2 = _parse_clock(parts[1], text)
    if mer1 is None and mer2 is not None and 1 <= h1 <= 12:
        # "9-10am": the start shares the end's am/pm unless that makes it start after it ends.
        mer1 = mer2 if _to_time(h1, m1, mer2) < _to_time(h2, m2, mer2) else ("am" if mer2 == "pm" else None)
    elif mer2 is None and mer1 is not None and 1 <= h2 <= 12:
        # "9am-5": the end shares the start's am/pm, or is the afternoon when that comes first.
        mer2 = mer1 if _to_time(h1, m1, mer1) < _to_time(h2, m2, mer1) else "pm"
    start, end = _to_time(h1, m1, mer1), _to_time(h2, m2, mer2)
    if end <= start:
        problem = "starts and ends at the same time" if end == start else "ends before it starts"
        raise ValueError(
            f"The window {text!r} {problem} ({start:%H:%M} → {end:%H:%M}); "
            f"give it as start-end within one day, e.g. {_WINDOW_FORMS}."
        )
    return start, end


def format_contact_window(window: tuple[time, time]) -> str:
    """(09:00, 10:00) → "09:00-10:00", the stored form that :func:`parse_contact_window` reads back."""
    return f"{window[0]:%H:%M}-{window[1]:%H:%M}"


def _clock_words(at: time) -> tuple[str, str]:
    """09:30 → ("9:30", "am"), 12:00 → ("12", "pm"), 00:00 → ("12", "am")."""
    hour = at.hour % 12 or 12
    return (f"{hour}:{at.minute:02d}" if at.minute else str(hour)), ("am" if at.hour < 12 else "pm")


def say_contact_window(window: tuple[time, time]) -> str:
    """A window as people say it: (09:00, 10:00) → "9–10am", (11:00, 13:00) → "11am–1pm", (14:00, 15:30) → "2–3:30pm".

    The question about a call outside the window is asked in these words ("Was this call outside the agreed 9–10am
    window?"), not in the stored 24-hour form.
    """
    (start, start_half), (end, end_half) = _clock_words(window[0]), _clock_words(window[1])
    return f"{start}–{end}{end_half}" if start_half == end_half else f"{start}{start_half}–{end}{end_half}"


_KIND_ALIASES: dict[str, BoundaryKind] = {
    "response_time": "response_time",
    "contact_window": "contact_window",
    "channel": "channel",
    "custom": "custom",
    "response": "response_time",
    "reply": "response_time",
    "sla": "response_time",
    "window": "contact_window",
    "contact": "contact_window",
    "calls": "contact_window",
    "where": "channel",
    "other": "custom",
}
_KIND_HELP = "response time (e.g. 1d), contact window (e.g. 9-10am), channel, or custom"


def resolve_kind(kind: str) -> BoundaryKind | None:
    """The kind a typed name means ("response", "sla" → response_time), or None when it names no kind."""
    return _KIND_ALIASES.get(kind.strip().lower().replace("-", "_").replace(" ", "_"))


def parse_boundary_spec(kind: str | None, value: str | None) -> tuple[BoundaryKind, str | None]:
    """Validate a boundary's kind and value and return them in stored form.

    ``response_time`` → "1d"/"4h"; ``contact_window`` → "09:00-10:00"; ``channel`` and ``custom`` keep
    their free text (or None). With no kind, a value that reads as a response time or a window takes
    that kind, anything else is ``custom``.
    """
    text = " ".join(value.split()) if value is not None else ""
    key = (kind or "").strip().lower().replace("-", "_").replace(" ", "_")
    if not key:
        for guess, parse in (("response_time", parse_response_time), ("contact_window", parse_contact_window)):
            try:
                parse(text)
            except ValueError:
                continue
            return parse_boundary_spec(guess, text)
        return "custom", text or None
    if key not in _KIND_ALIASES:
        raise ValueError(f"{kind!r} isn't a kind of boundary — use {_KIND_HELP}.")
    resolved = _KIND_ALIASES[key]
    if resolved == "response_time":
        if not text:
            raise ValueError(f"A response-time boundary needs a value — try {_RESPONSE_FORMS}.")
        return resolved, str(parse_response_time(text))
    if resolved == "contact_window":
        if not text:
            raise ValueError(f"A contact-window boundary needs a value — try {_WINDOW_FORMS}.")
        return resolved, format_contact_window(parse_contact_window(text))
    # A channel as its id alone: Slack shows its current name, and a long name no longer outgrows the stored value.
    return resolved, _CHANNEL_LABEL.sub(r"<#\1>", text) or None


def value_length_problem(value: str | None) -> str | None:
    """Why a typed value can't be kept (it outgrows Boundary.value), else None; stored rows are read as they are."""
    if value is None or len(value) <= MAX_VALUE_LENGTH:
        return None
    return (
        f"Keep the value to {MAX_VALUE_LENGTH} characters or fewer (this one is {len(value)}); "
        "the agreement's own words can say more."
    )


# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class Slip:
    """One time a boundary was not upheld, and who or what noticed.

    ``paused``: logged while the customer was paused. Kept (nothing a person typed is dropped), but Partner asked
    nothing of the customer then, so it counts toward neither an escalation nor the hold (:func:`slips_in_window`).
    """

    at: datetime
    by: str | None = None
    note: str = ""
    source: SlipSource = "manual"
    paused: bool = False

    def __post_init__(self) -> None:
        _require_aware(self.at, "A slip's time")
        if self.source not in _SOURCES:
            raise ValueError(f"Unknown slip source {self.source!r}; expected one of {', '.join(_SOURCES)}")
        object.__setattr__(self, "note", self.note.strip())


@dataclass(frozen=True)
class Boundary:
    """One need in the working agreement. Construction normalises kind/value and checks the timeline.

    ``position`` orders needs by importance (lowest first); ``id`` breaks ties and mirrors the DB row.
    ``escalated_at`` is when the account team last decided what to do about repeated slips.
    ``hold_from`` is when the customer last came back from a pause or the archive, and ``hold_paused`` whether it is
    paused now: weeks in which Partner asked nothing of the customer prove nothing, so the hold clock (see
    :func:`has_held`) stands still while paused and starts again at the return, not at the activation.
    """

    text: str
    kind: BoundaryKind = "custom"
    value: str | None = None
    position: int = 0
    id: int | None = None
    status: BoundaryStatus = "proposed"
    activated_at: datetime | None = None
    held_at: datetime | None = None
    retired_at: datetime | None = None
    escalated_at: datetime | None = None
    slips: tuple[Slip, ...] = ()
    hold_from: datetime | None = None
    hold_paused: bool = False

    def __post_init__(self) -> None:
        text = " ".join(self.text.split()) if isinstance(self.text, str) else ""
        if not text:
            raise ValueError("Say what the boundary is, e.g. “We check email twice a day”.")
        if visible_length(text) > MAX_TEXT_LENGTH:
            raise ValueError(
                f"Keep a boundary to {MAX_TEXT_LENGTH} characters or fewer (this one is {visible_length(text)})."
            )
        if problem := stored_too_long(text, MAX_STORED_TEXT):
            raise ValueError(problem)
        object.__setattr__(self, "text", text)
        kind, value = parse_boundary_spec(self.kind, self.value)
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "value", value)
        if self.status not in _STATUSES:
            raise ValueError(f"Unknown boundary status {self.status!r}; expected one of {', '.join(_STATUSES)}")
        for name in ("activated_at", "held_at", "retired_at", "escalated_at", "hold_from"):
            stamp = getattr(self, name)
            if stamp is not None:
                _require_aware(stamp, name)
        # Every state needs the stamps that got it there, so rules never meet a half-built boundary.
        if self.status in _IN_FORCE and self.activated_at is None:
            raise ValueError(f"A boundary that is {self.status} needs activated_at")
        if self.status == "held" and self.held_at is None:
            raise ValueError("A held boundary needs held_at")
        if self.status == "retired" and self.retired_at is None:
            raise ValueError("A retired boundary needs retired_at")
        # Kept sorted by time: "the last slip" and window counts then need no re-sorting.
        object.__setattr__(self, "slips", tuple(sorted(self.slips, key=lambda s: s.at)))

    @property
    def in_force(self) -> bool:
        """Active or held: the customer is being asked to uphold it."""
        return self.status in _IN_FORCE

    @property
    def last_slip_at(self) -> datetime | None:
        return self.slips[-1].at if self.slips else None

    @property
    def response_time(self) -> ResponseTime | None:
        return parse_response_time(self.value) if self.kind == "response_time" and self.value else None

    @property
    def contact_window(self) -> tuple[time, time] | None:
        return parse_contact_window(self.value) if self.kind == "contact_window" and self.value else None


@dataclass(frozen=True)
class Policy:
    """How patiently Partner introduces needs and when it asks for a conscious decision.

    ``max_active``: needs being introduced (active, not yet held) at once. ``hold_after``: no slip for
    this long since activation or the last slip → it holds. ``escalate_slips`` slips within
    ``escalate_window`` → ask the account team to decide. Reminders go out on the customer's first
    business day of each week at ``reminder_at`` local time.
    """

    max_active: int = 1
    hold_after: timedelta = timedelta(weeks=3)
    escalate_slips: int = 3
    escalate_window: timedelta = timedelta(days=30)
    reminder_rule: str = FIRST_BUSINESS_DAY_OF_WEEK
    reminder_at: time = time(9, 0)

    def __post_init__(self) -> None:
        if self.max_active < 1:
            raise ValueError(f"max_active must be at least 1, got {self.max_active}")
        if self.hold_after <= timedelta(0) or self.escalate_window <= timedelta(0):
            raise ValueError("hold_after and escalate_window must be positive")
        if self.escalate_slips < 1:
            raise ValueError(f"escalate_slips must be at least 1, got {self.escalate_slips}")
        if self.reminder_rule != FIRST_BUSINESS_DAY_OF_WEEK:
            raise ValueError(f"Unknown reminder rule {self.reminder_rule!r}; use {FIRST_BUSINESS_DAY_OF_WEEK!r}")
        if self.reminder_at.tzinfo is not None:
            raise ValueError("reminder_at is a local wall-clock time and must be naive")


DEFAULT_POLICY = Policy()


class Verdict(NamedTuple):
    """Whether an action is allowed; ``reason`` says why not, written for the account team."""

    ok: bool
    reason: str | None = None


def sort_boundaries(boundaries: Iterable[Boundary]) -> list[Boundary]:
    """Most important first: by position, then id (unsaved boundaries after saved ones)."""
    return sorted(boundaries, key=lambda b: (b.position, b.id is None, b.id or 0))


# --------------------------------------------------------------------------- transitions


def _refuse(b: Boundary, action: str) -> ValueError:
    state = {
        "proposed": "is only proposed so far",
        "active": "is already active",
        "held": "is already holding",
        "retired": "was retired",
    }[b.status]
    return ValueError(f"Can't {action} {_quote(b.text)}: it {state}.")


def _check_not_before(now: datetime, earlier: datetime | None, b: Boundary, what: str) -> None:
    _require_aware(now, "now")
    if earlier is not None and now < earlier:
        raise ValueError(f"{_quote(b.text)} was {what} on {earlier:%Y-%m-%d %H:%M %Z}; that's after {now.isoformat()}.")


def activate(b: Boundary, now: datetime) -> Boundary:
    """proposed → active. Check :func:`can_activate` against the customer's other boundaries first."""
    if b.status != "proposed":
        raise _refuse(b, "activate")
    _require_aware(now, "now")
    return replace(b, status="active", activated_at=now)


def mark_held(b: Boundary, now: datetime) -> Boundary:
    """active → held: the customer has upheld it (see :func:`has_held`)."""
    if b.status != "active":
        raise _refuse(b, "mark as held")
    _check_not_before(now, b.activated_at, b, "activated")
    return replace(b, status="held", held_at=now)


def retire(b: Boundary, now: datetime) -> Boundary:
    """Any live state → retired: a conscious decision to stop asking for this need."""
    if b.status == "retired":
        raise _refuse(b, "retire")
    _check_not_before(now, b.activated_at, b, "activated")
    return replace(b, status="retired", retired_at=now)


def record_slip(
    b: Boundary,
    at: datetime,
    by: str | None = None,
    note: str = "",
    source: SlipSource = "manual",
    *,
    paused: bool = False,
    reopens: bool = True,
) -> Boundary:
    """Note that the boundary slipped. A held boundary goes back to active: its clock restarts.

    A slip logged while the customer is ``paused`` is kept but changes nothing: a need that held still holds. So does
    one that happened long before it was logged (``reopens`` false: the need has held for the whole hold period since).
    """
    if not b.in_force:
        state = "is only proposed" if b.status == "proposed" else "was retired"
        raise ValueError(
            f"Can't record a slip on {_quote(b.text)}: it {state}, so the customer isn't being asked to uphold it."
        )
    _check_not_before(at, b.activated_at, b, "activated")
    slip = Slip(at=at, by=by, note=note, source=source, paused=paused)
    if paused or not reopens:
        return replace(b, slips=(*b.slips, slip))
    return replace(b, status="active", held_at=None, slips=(*b.slips, slip))


def mark_escalated(b: Boundary, now: datetime) -> Boundary:
    """Record that the team decided what to do about the current run of slips (talked, renegotiated…)."""
    if not b.in_force:
        raise _refuse(b, "escalate")
    _require_aware(now, "now")
    return replace(b, escalated_at=now)


# --------------------------------------------------------------------------- rules


def slips_in_window(b: Boundary, now: datetime, window: timedelta, *, after: datetime | None = None) -> int:
    """Slips in ``(now - window, now]``: exactly ``window`` ago has aged out; future slips don't count.

    ``after`` additionally ignores slips at or before that instant (used for "new since escalation"). Slips logged
    while the customer was paused never count: not toward an escalation, the hold, nor the health score.
    """
    _require_aware(now, "now")
    since = now - window if after is None else max(now - window, after)
    return sum(1 for s in b.slips if since < s.at <= now and not s.paused)


def has_held(b: Boundary, now: datetime, policy: Policy = DEFAULT_POLICY) -> bool:
    """In force for at least ``hold_after``, with no slip in the last ``hold_after``.

    Equivalently: ``hold_after`` has passed since activation and since the last slip — and since the customer came
    back from a pause or the archive (``hold_from``); never while it is paused.
    """
    if not b.in_force or b.activated_at is None or b.hold_paused:
        return False
    _require_aware(now, "now")
    start = max(b.activated_at, b.hold_from) if b.hold_from is not None else b.activated_at
    return now - start >= policy.hold_after and slips_in_window(b, now, policy.hold_after) == 0


def _settling(boundaries: Iterable[Boundary], now: datetime | None, policy: Policy) -> list[Boundary]:
    # Active boundaries still being introduced; with `now`, ones that have held but weren't marked yet
    # are settled already, so a scheduler that hasn't run mark_held yet doesn't block the next need.
    active = [b for b in boundaries if b.status == "active"]
    if now is None:
        return sort_boundaries(active)
    return sort_boundaries(b for b in active if not has_held(b, now, policy))


def can_activate(
    boundaries: Iterable[Boundary], policy: Policy = DEFAULT_POLICY, *, now: datetime | None = None
) -> Verdict:
    """May another need be activated for this customer? Refusals name the needs still settling in."""
    settling = _settling(boundaries, now, policy)
    if len(settling) < policy.max_active:
        return Verdict(True)
    hold = say_duration(policy.hold_after)
    if policy.max_active == 1:
        head = f"One need at a time: {_quote(settling[0].text)} is active and hasn't held yet"
    else:
        names = ", ".join(_quote(b.text) for b in settling)
        head = f"{len(settling)} needs are still settling in ({names}); the limit is {policy.max_active} at a time"
    return Verdict(
        False,
        f"{head}. A need holds after {hold} without a slip — add the next one then, or retire one first.",
    )


def next_to_suggest(boundaries: Sequence[Boundary], now: datetime, policy: Policy = DEFAULT_POLICY) -> Boundary | None:
    """The proposed need to introduce next (lowest position), once the active ones have held."""
    if not can_activate(boundaries, policy, now=now).ok:
        return None
    proposed = sort_boundaries(b for b in boundaries if b.status == "proposed")
    return proposed[0] if proposed else None


def slot_freed_by(boundaries: Iterable[Boundary]) -> tuple[Boundary, datetime] | None:
    """The need whose end made room for the next one, and when: the last to hold, or the last retired while it
    was still being introduced (never upheld, escalated or not). None before any need was introduced.

    A need retired after it had held made no new room (its hold already did), nor did one retired while proposed.
    """
    freed: list[tuple[datetime, int, Boundary]] = []
    for b in boundaries:
        if b.status == "held" and b.held_at is not None:
            freed.append((b.held_at, b.id or 0, b))
        elif b.status == "retired" and b.activated_at is not None and b.held_at is None and b.retired_at is not None:
            freed.append((b.retired_at, b.id or 0, b))
    if not freed:
        return None
    at, _id, b = max(freed, key=lambda f: (f[0], f[1]))
    return b, at


def needs_escalation(b: Boundary, now: datetime, policy: Policy = DEFAULT_POLICY) -> bool:
    """``escalate_slips`` slips within ``escalate_window`` — counting only slips since the last escalation.

    So one run of slips asks for a decision once; after the team decides, it takes a fresh run of
    ``escalate_slips`` slips to ask again, rather than re-asking on every slip that follows.
    """
    if not b.in_force:
        return False
    return slips_in_window(b, now, policy.escalate_window, after=b.escalated_at) >= policy.escalate_slips


ESCALATION_OPTIONS: tuple[tuple[str, str], ...] = (
    ("talk", "Talk it through"),
    ("renegotiate", "Renegotiate"),
    ("retire", "Retire it"),
    ("flag", "Flag the relationship"),
)


def escalation_options() -> list[tuple[str, str]]:
    """(key, button label) for each conscious decision, in the order to offer them."""
    return list(ESCALATION_OPTIONS)


def escalation_text(b: Boundary, now: datetime, policy: Policy = DEFAULT_POLICY) -> str:
    """The question put to the account team when :func:`needs_escalation` is true."""
    n = slips_in_window(b, now, policy.escalate_window)
    return (
        f"{_quote(b.text)} has slipped {n} time{'' if n == 1 else 's'} in the last "
        f"{say_duration(policy.escalate_window)}. Maybe this client can't uphold it as it stands — "
        "it's worth deciding consciously what happens next."
    )


# --------------------------------------------------------------------------- detection


def call_outside_window(window: tuple[time, time], call_at: datetime, cal: WorkCalendar) -> bool:
    """Did a call start outside the agreed local window? Both ends count as inside.

    The call is read on the customer's wall clock for that date, so DST changes are handled.
    """
    start, end = window
    if not start < end:
        raise ValueError(f"A contact window must start before it ends, got {format_contact_window(window)}")
    _require_aware(call_at, "call_at")
    local = cal.local_datetime(call_at).time()
    return not start <= local <= end


def response_slipped(
    agreed: ResponseTime,
    asked_at: datetime,
    answered_at: datetime,
    cal: WorkCalendar,
    *,
    day_start: time = WORKDAY_START,
    day_end: time = WORKDAY_END,
) -> tuple[bool, float]:
    """(slipped?, elapsed) with elapsed in the agreement's unit, for the slip message.

    Hours: working hours (``day_start``–``day_end`` on business days) between ask and answer.
    Business days: business days after the day of the ask, up to and including the day of the
    answer — "within 1 business day" means by the end of the next business day, so a question on
    Friday afternoon answered on Monday is on time, and a holiday in between doesn't count.
    """
    _require_aware(asked_at, "asked_at")
    _require_aware(answered_at, "answered_at")
    if answered_at < asked_at:
        raise ValueError("The answer can't come before the question (answered_at < asked_at).")
    if agreed.in_days:
        elapsed = float(cal.business_days_between(cal.local_date(asked_at), cal.local_date(answered_at)))
    else:
        elapsed = cal.business_hours_between(asked_at, answered_at, day_start=day_start, day_end=day_end)
        # To the second: a check-in keeps how long the reply took in days to 6 places, so "4h" comes back a few
        # hundredths of a second over 4 hours — no slip on a 4-hour agreement — and "5h" as 4.99999 hours.
        elapsed = round(elapsed * 3600) / 3600
    # A float-rounding hair over the agreement is not a slip.
    return elapsed > agreed.amount + 1e-9, elapsed


# --------------------------------------------------------------------------- gentle reminders

REMINDER_TEMPLATES: tuple[str, ...] = (
    "A reminder of how we work together: {text}",
    "Quick note on our working agreement: {text}",
    "Just a gentle nudge on something that helps us do our best work for you: {text}",
    "Thanks for working with us this way — a small refresher: {text}",
    "To keep things running smoothly on both sides, a friendly reminder: {text}",
    "One of the things that makes this partnership work so well: {text}",
    "Keeping our rhythm going — as we agreed: {text}",
    "A quick reminder, because it really does make a difference for us: {text}",
)


def pick_template(previous_index: int | None, seed: int, *, count: int = len(REMINDER_TEMPLATES)) -> int:
    """A template index chosen by ``seed`` (e.g. a hash of customer and date), never ``previous_index``; the first
    (``previous_index`` None) is always the plain "A reminder of how we work together: …".

    Deterministic so retries and replays send the same words; skipping the previous template keeps
    back-to-back reminders from sounding like a broken record.
    """
    if count < 2:
        raise ValueError("Need at least two templates to avoid repeating one")
    if previous_index is None:
        # A need's first reminder restates it in the plainest words ("A reminder of how we work together: …");
        # the varied wordings follow.
        return 0
    if not 0 <= previous_index < count:
        raise ValueError(f"previous_index must be within 0..{count - 1}, got {previous_index}")
    # Step 1..count-1 places forward: every other index is reachable, the previous one never is.
    return (previous_index + 1 + seed % (count - 1)) % count


def reminder_text(boundary: Boundary, template_index: int) -> str:
    """The reminder sentence for ``boundary``, ending in punctuation whatever the text ends with."""
    if not 0 <= template_index < len(REMINDER_TEMPLATES):
        raise ValueError(f"template_index must be within 0..{len(REMINDER_TEMPLATES) - 1}, got {template_index}")
    return REMINDER_TEMPLATES[template_index].format(text=as_sentence(boundary.text))


def as_sentence(text: str) -> str:
    """The agreement's words ending in punctuation, as a reminder restates them."""
    return text if text[-1] in ".!?…" else f"{text}."


def week_start_weekday(working_days: Iterable[int]) -> int:
    """The weekday a customer's working week starts on: Mon for mon-fri, Sun for sun-thu.

    That is the working day right after the longest run of days off (ties: earliest from Monday);
    Monday when every day is a working day.
    """
    days = frozenset(working_days)
    if not days or len(days) == 7:
        return 0

    def gap_before(day: int) -> int:
        gap = 0
        while (day - gap - 1) % 7 not in days:
            gap += 1
        return gap

    return max((d for d in range(7) if d in days), key=lambda d: (gap_before(d), -d))


def reminder_due_dates(
    cal: WorkCalendar, start: date, end: date, *, weekday_rule: str = FIRST_BUSINESS_DAY_OF_WEEK
) -> list[date]:
    """Local dates in [start, end] on which the weekly reminder is due.

    One per customer week: its first business day. A week starts on the customer's own first working
    weekday (Monday for mon-fri — the ISO week; Sunday for sun-thu), so a holiday Monday moves the
    reminder to Tuesday, and a week that is all holidays gets none.
    """
    if weekday_rule != FIRST_BUSINESS_DAY_OF_WEEK:
        raise ValueError(f"Unknown reminder rule {weekday_rule!r}; use {FIRST_BUSINESS_DAY_OF_WEEK!r}")
    first = week_start_weekday(cal.working_days)
    week = start - timedelta(days=(start.weekday() - first) % 7)
    due: list[date] = []
    while week <= end:
        day = next((week + timedelta(days=i) for i in range(7) if cal.is_business_day(week + timedelta(days=i))), None)
        if day is not None and start <= day <= end:
            due.append(day)
        week += timedelta(weeks=1)
    return due


def reminders_due(cal: WorkCalendar, since: datetime, now: datetime, policy: Policy = DEFAULT_POLICY) -> list[date]:
    """Reminder dates whose local ``policy.reminder_at`` falls in ``(since, now]``.

    Consecutive scheduler runs over ``(last_run, now]`` see each reminder exactly once, so a job can
    key the message by (customer, date) and stay idempotent.
    """
    _require_aware(since, "since")
    _require_aware(now, "now")
    if now <= since:
        return []
    # One day of slack either side: the local dates of the UTC range may differ from its UTC dates.
    days = reminder_due_dates(
        cal, cal.local_date(since) - _ONE_DAY, cal.local_date(now) + _ONE_DAY, weekday_rule=policy.reminder_rule
    )
    return [d for d in days if since < cal.at_local(d, policy.reminder_at) <= now]


# --------------------------------------------------------------------------- health


def boundary_health(
    boundaries: Iterable[Boundary], now: datetime, *, window: timedelta = HEALTH_WINDOW
) -> BoundaryHealthInput:
    """Counts for :class:`domain.health.BoundaryHealthInput` over ``(now - window, now]``.

    ``active``: boundaries in force (active or held). ``held``: those of them without a slip in the
    window — what health.py means by held, so its "repeat slip" penalty adds up. ``slips``: slips in
    the window on boundaries in force (a retired need no longer counts against the relationship).
    """
    in_force = [b for b in boundaries if b.in_force]
    counts = [slips_in_window(b, now, window) for b in in_force]
    # The one the reason names: most slips, the first in the list on a tie.
    most = max(range(len(in_force)), key=lambda i: (counts[i], -i), default=None)
    return BoundaryHealthInput(
        active=len(in_force),
        held=counts.count(0),
        slips=sum(counts),
        most_slipped=in_force[most].text if most is not None and counts[most] else None,
        most_slips=counts[most] if most is not None else 0,
    )
