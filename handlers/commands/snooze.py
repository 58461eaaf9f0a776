"""`/partner snooze <customer> <2d|1w|tomorrow|until 2026-12-03|off> [reason]`, `/partner pause|resume <customer>`.

Anyone may snooze (it is temporary and says who and why); pausing and resuming are for the owner and admins.
"""

from __future__ import annotations

import re
from calendar import month_abbr, month_name, monthrange
from datetime import date, datetime, time, timedelta

from domain.cadence import parse_time
from domain.calendar import WorkCalendar, parse_weekday
from domain.errors import UserError
from handlers.blocks import command_name, mrkdwn_name
from handlers.blocks.nudges import nothing_to_snooze, slack_date
from handlers.commands.base import CommandCall, Reply
from handlers.commands.cadence import clock_restart_text, find_customer, next_nudge_text
from handlers.permissions import require_change
from schedules import planner
from storage.models import Customer

USAGE = "/partner snooze <customer> <2d|1w|tomorrow|until 2026-12-03|off> [reason…]"
PAUSE_USAGE = "/partner pause <customer>"
RESUME_USAGE = "/partner resume <customer>"
MAX_SNOOZE = timedelta(days=366)
MAX_REASON = 300

_DURATION = re.compile(r"^(\d+)\s*(d|day|days|w|wk|wks|week|weeks|h|hr|hrs|hour|hours)$")
_UNITS = {"d": "days", "w": "weeks", "h": "hours"}
_DAYS = {"days": 1, "weeks": 7}
_ONE = {"a": "1", "an": "1", "one": "1"}


def _unit(word: str) -> str:
    return _UNITS["w" if word.startswith("w") else "h" if word.startswith("h") else "d"]


_MONTHS = {m.lower(): n for n in range(1, 13) for m in (month_abbr[n], month_name[n])} | {"sept": 9}
_DAY_OF_MONTH = re.compile(r"^(\d{1,2})(?:st|nd|rd|th)?$")
_CLOCK = re.compile(r"\d{1,2}(?::\d{2})?")  # a time's figures, before a separate "am"/"pm"


_A_LEAP_YEAR = 2028  # any: the most days each month can have


def _month_day(words: list[str], today: date) -> tuple[date | None, int]:
    """'dec 3', '3 dec', 'December 3rd', '3 December' and the words used (2); this year's, or next year's when
    this year's is long past ("jan 5" said in December)."""
    if len(words) < 2:
        return None, 0
    first, second = (w.lower().rstrip(".,") for w in words[:2])
    month_word, number_word = (first, second) if first in _MONTHS else (second, first)
    month, number = _MONTHS.get(month_word), _DAY_OF_MONTH.match(number_word)
    if month is None or number is None:
        return None, 0
    n = int(number[1])
    for year in (today.year, today.year + 1):
        try:
            day = date(year, month, n)
        except ValueError:
            continue  # "feb 29" outside a leap year: next year's, when it is one
        if today - day <= timedelta(days=60) and day - today <= MAX_SNOOZE:  # in December, "jan 5" is next year's
            return day, 2  # (a day just past stays refused)
    # Said back, not "'until feb' is not a snooze": the day was typed, it just isn't a date (or not a coming one).
    typed = " ".join(words[:2])
    when = "" if n > monthrange(_A_LEAP_YEAR, month)[1] else " in the coming year"
    raise UserError(f"'{typed}' is not a snooze: there is no {n} {month_name[month]}{when}. Usage: `{USAGE}`")


def _day(words: list[str], today: date, cal: WorkCalendar) -> tuple[date | None, int]:
    """tomorrow, 2026-12-03, a weekday name (its next occurrence; also "next mon"), "next week" (the first business day
    of the customer's next week: Sunday for a Sun–Thu week) or a month and day, and the words used."""
    word = words[0].lower()
    if word == "tomorrow":
        return today + timedelta(days=1), 1
    if word == "today":  # "until today 3pm"; alone, not in the future
        return today, 1
    if word == "next" and len(words) > 1:  # "until next monday", "until next week", as people say it
        following = words[1].lower().rstrip(".,")
        if following == "week":
            return cal.next_week(today), 2
        day, used = _day(words[1:], today, cal)
        return (day, used + 1) if day is not None and not following[:1].isdigit() else (None, 2)
    try:
        return date.fromisoformat(word), 1
    except ValueError:
        pass
    day, used = _month_day(words, today)
    if day is not None:
        return day, used
    try:
        weekday = parse_weekday(word)
    except ValueError:
        return None, 1
    return today + timedelta(days=(weekday - today.weekday() - 1) % 7 + 1), 1


def _time_of_day(words: list[str]) -> tuple[time | None, int]:
    """A time said after the date ("until mon 14:00", "until Dec 3 at 2pm", "noon") and the words used; (None, 0)
    when the words go on with the reason. A bare number is the reason's ("until fri 2 people out"), but "at 2" is
    a time."""
    at = 1 if words and words[0].lower() == "at" else 0
    if len(words) <= at:
        return None, 0
    word = words[at].lower().rstrip(".,")
    # "2 pm", "2:30 PM" (a Mac puts a narrow no-break space there, which splits the words too): one time with its
    # am/pm, as the cadence reads it; else "2:30 PM" was 02:30 with "PM" for a reason.
    meridiem = words[at + 1].lower().rstrip(",").replace(".", "") if len(words) > at + 1 else ""
    if meridiem in ("am", "pm") and _CLOCK.fullmatch(word):
        try:
            return parse_time(word + meridiem), at + 2
        except ValueError:
            return None, 0
    if not at and ":" not in word and not word.endswith(("am", "pm", "a.m", "p.m")) and word != "noon":
        return None, 0
    try:
        return parse_time(word), at + 1
    except ValueError:
        return None, 0


def parse_snooze(words: list[str], *, now: datetime, cal: WorkCalendar) -> tuple[datetime | None, int]:
    """(snoozed until, words used); None lifts the snooze. Dates mean "until that local morning", unless a time of day
    follows them ("until mon 14:00"); a time alone ("until 3pm") is today's."""
    if not words:
        raise UserError(f"For how long? Usage: `{USAGE}`")
    first = words[0].lower()
    # README: `off` (or `resume`) lifts it; so do the words of someone taking back a snooze set by mistake.
    if first in ("off", "cancel", "none", "stop", "resume", "undo", "lift", "unsnooze"):
        return None, 1
    # "for 2 days", "for a week", "a day": as people say it.
    skipped = 1 if first == "for" and len(words) > 1 else 0
    said = [_ONE.get(w.lower(), w) for w in words[skipped : skipped + 2]]
    for text, used in ((said[0].lower(), skipped + 1), (" ".join(said).lower(), skipped + 2)):
        match = _DURATION.match(text)
        if match:
            amount = int(match[1])
            if amount == 0:
                raise UserError(f"Snooze for at least a day (or an hour); '{text}' is nothing. Usage: `{USAGE}`")
            unit = _unit(match[2])
            if amount > MAX_SNOOZE / timedelta(**{unit: 1}):  # "99999d" is a duration too long, not a typo
                raise UserError("Snooze for at most a year; for longer, `/partner pause` the customer.")
            # Hours are elapsed time; days and weeks are on the customer's clock (the same local time, DST or not).
            until = now + timedelta(hours=amount) if unit == "hours" else cal.days_later(now, amount * _DAYS[unit])
            return _checked(until, now), used
    today = cal.local_date(now)
    if first in ("until", "till", "til", "untill"):
        if len(words) < 2:
            raise UserError(f"Until when? e.g. `until 2026-12-03`. Usage: `{USAGE}`")
        day, used = _day(words[1:], today, cal)
        used += 1
        if day is None:  # "until 3pm": today, at that time
            at, said = _time_of_day(words[1:])
            if at is not None:
                until = cal.at_local(today, at)
                if until <= now:
                    raise UserError(
                        f"{at:%H:%M} has passed for this customer (it is {cal.local_datetime(now):%H:%M} there). "
                        f"Usage: `{USAGE}`"
                    )
                return _checked(until, now), said + 1
    else:
        day, used = _day(words, today, cal)
    if day is None:
        raise UserError(
            f"'{' '.join(words[:used])}' is not a snooze: use 2d, 1w, tomorrow, until fri, until next week, "
            f"until Dec 3 (at 2pm) or until 2026-12-03. Usage: `{USAGE}`"
        )
    at, said = _time_of_day(words[used:])
    if at is not None:  # "until mon 14:00": then, on the customer's clock, not that morning
        until = cal.at_local(day, at)
        if until <= now:
            raise UserError(f"{day.isoformat()} {at:%H:%M} is not in the future for this customer.")
        return _checked(until, now), used + said
    if day <= today:
        raise UserError(f"{day.isoformat()} is not in the future for this customer (today is {today.isoformat()}).")
    return _checked(cal.at_local(day, time(0)), now), used


def _checked(until: datetime, now: datetime) -> datetime:
    if until - now > MAX_SNOOZE:
        raise UserError("Snooze for at most a year; for longer, `/partner pause` the customer.")
    return until


def snooze(call: CommandCall) -> Reply:
    customer, rest, raw = find_customer(call, USAGE)
    cal = planner.calendar_of(customer, default_tz=call.settings.default_tz)
    until, used = parse_snooze(rest, now=call.now, cal=cal)
    if until is not None and customer.paused_at is not None:  # as the form says it; lifting a snooze stays allowed
        raise UserError(nothing_to_snooze(customer.name, in_mrkdwn=True))
    # The reason is the raw text after the duration, formatting kept.
    offsets = [m.end() for m in re.finditer(r"\S+", raw)]
    reason = raw[offsets[used - 1] :].strip() if used <= len(offsets) else ""
    if len(reason) > MAX_REASON:
        raise UserError(f"Keep the reason to {MAX_REASON} characters (it is {len(reason)}).")
    assert customer.id is not None
    updated = call.store.set_snooze(
        team_id=call.team_id,
        customer_id=customer.id,
        until=until,
        reason=reason or None,
        actor_id=call.user_id,
        now=call.now,
    )
    call.refresh_homes(updated.owner_id, call.user_id)
    why = f" ({reason})" if reason else ""  # kept with the change (storage.cadence.set_snooze), and said back
    # After the ack: the nudge it puts off says so (chat.update); lifted, today's nudge showing it regains its buttons.
    call.followup["snoozed_customer_id"] = customer.id
    if until is None:
        return {
            "text": f":bell: Snooze lifted for *{mrkdwn_name(updated.name)}*{why}. {next_nudge_text(call, updated)}"
        }
    local = until.astimezone(cal.zone())
    return {
        "text": f":zzz: No nudges about *{mrkdwn_name(updated.name)}* until {local:%a} {local.day} "
        f"{local:%b %H:%M} ({cal.tz}), "
        f"{slack_date(until)} your time{why}. {next_nudge_text(call, updated)}"
    }


def pause(call: CommandCall) -> Reply:
    return _pause(call, paused=True)


def resume(call: CommandCall) -> Reply:
    return _pause(call, paused=False)


def _agreements_paused(call: CommandCall, customer_id: int) -> str:
    """What a pause does to the working agreements being introduced: their reminders stop, the weeks paused don't
    count toward one holding (domain.boundaries.has_held), and slips logged meanwhile escalate nothing."""
    active = [
        r.rule.text
        for r in call.store.boundary_records(team_id=call.team_id, customer_id=customer_id)
        if r.rule.status == "active"
    ]
    if not active:
        return ""
    more = f" (and {len(active) - 1} more)" if len(active) > 1 else ""
    return (
        f" So are the reminders of “{active[0]}”{more}, and the weeks it is paused don't count toward it holding."
        " A slip logged meanwhile is kept, but asks nobody to decide about it."
    )


def _says_how_long(words: list[str], call: CommandCall, customer: Customer) -> bool:
    """Whether the words after a customer's name say for how long or until when, as a snooze reads them."""
    if words[0].lower() in ("for", "until", "till", "til", "untill"):
        return True
    try:
        until, _used = parse_snooze(
            words, now=call.now, cal=planner.calendar_of(customer, default_tz=call.settings.default_tz)
        )
    except UserError:
        return False
    return until is not None


def _pause(call: CommandCall, *, paused: bool) -> Reply:
    usage = PAUSE_USAGE if paused else RESUME_USAGE
    customer, rest, _raw = find_customer(call, usage)
    if rest and paused and _says_how_long(rest, call, customer):
        # `pause acme for 2 weeks`: a pause lasts until resumed; holding nudges for a time is what a snooze does.
        name = command_name(customer.name)
        raise UserError(
            f"A pause has no end date: it lasts until `/partner resume {name}`. To hold the nudges for a while, "
            f"snooze instead: `/partner snooze {name} {' '.join(rest)}`"
        )
    if rest:
        raise UserError(f"I didn't understand '{' '.join(rest)}' after the customer's name. Usage: `{usage}`")
    action = "pause" if paused else "resume"
    require_change(call.client, call.settings, user_id=call.user_id, customer=customer, action=f"{action} nudges for")
    assert customer.id is not None
    if paused or customer.paused_at is not None:
        updated = call.store.set_paused(
            team_id=call.team_id, customer_id=customer.id, paused=paused, actor_id=call.user_id, now=call.now
        )
    else:
        # Not paused: `resume` lifts a snooze as `snooze … off` does (README), and is recorded as that. Recorded as a
        # resume, it restarted the overdue clock of a customer paused once long ago: overdue, alerted, then snoozed
        # and resumed, it read as never overdue on every surface.
        updated = call.store.set_snooze(
            team_id=call.team_id, customer_id=customer.id, until=None, reason=None, actor_id=call.user_id, now=call.now
        )
    # A paused customer owes no calls: adherence stops counting from the pause.
    call.followup["rescore_customer_id"] = customer.id  # after the answer, before the Homes refresh
    call.refresh_homes(updated.owner_id, call.user_id)
    call.followup["paused_customer_id"] = customer.id  # after the ack: its posted nudges drop (or regain) their buttons
    if not paused:
        call.followup["snoozed_customer_id"] = customer.id  # a resume lifts a snooze too: today's nudge regains buttons
    if paused:
        return {
            "text": f":double_vertical_bar: Nudges and alerts (overdue calls, health drops) for "
            f"*{mrkdwn_name(updated.name)}* "
            f"are paused.{_agreements_paused(call, customer.id)} "
            f"`/partner resume {command_name(updated.name)}` turns them back on."
        }
    return {
        "text": f":arrow_forward: Nudges for *{mrkdwn_name(updated.name)}* are back on. "
        f"{next_nudge_text(call, updated)}{clock_restart_text(call, updated) if customer.paused_at else ''}"
    }
