"""`/partner launch <customer> on [until=<date>] | off`: daily calls for a complex launch, then back to normal."""

from __future__ import annotations

from datetime import date, timedelta

from domain.checkins import parse_due_date
from domain.errors import UserError
from handlers.blocks import command_name, mrkdwn_name
from handlers.commands.base import CommandCall, Reply
from handlers.commands.cadence import find_customer, next_nudge_text
from handlers.parsing import parse_key_value
from handlers.permissions import require_change
from schedules import planner
from storage.models import Customer

USAGE = "/partner launch <customer> on [until=YYYY-MM-DD] | off"
DEFAULT_LENGTH = timedelta(days=14)
MAX_LENGTH = timedelta(days=366)


def _until(words: list[str], today: date) -> date:
    """`until=2026-12-18` (or `until=fri`, `until=2w`…), `until 2026-12-18` or nothing (two weeks)."""
    if not words:
        return today + DEFAULT_LENGTH
    text = " ".join(words)
    pair = parse_key_value(text)  # all of it: a word after the date is refused below, never dropped
    value = pair[1] if pair is not None and pair[0] == "until" else None
    if value is None and len(words) == 2 and words[0].lower() == "until":
        value = words[1]
    if value is None:
        raise UserError(f"I didn't understand '{text}'. Usage: `{USAGE}`")
    if " " in value.strip():  # `until=fri until=mon`, `until=2026-12-18 please`: one would be dropped unsaid
        raise UserError(f"I didn't understand '{text}': give one date. Usage: `{USAGE}`")
    try:
        until = date.fromisoformat(value.strip())
    except ValueError:
        try:  # the forms a check-in's next= takes: tomorrow, fri, 2w, 10d
            until = parse_due_date(value, today=today)
        except ValueError:
            raise UserError(
                f"'{value}' is not a date: use a date like 2026-12-18, tomorrow, a weekday like fri, or 2w. "
                f"Usage: `{USAGE}`"
            ) from None
    if until < today:
        raise UserError(f"{until.isoformat()} is already past for this customer (today is {today.isoformat()}).")
    if until > today + MAX_LENGTH:
        raise UserError("Launch mode lasts at most a year; pick an earlier date.")
    return until


def launch(call: CommandCall) -> Reply:
    customer, rest, _raw = find_customer(call, USAGE)
    if not rest:
        state = f"on until {customer.launch_until.isoformat()}" if customer.launch_until is not None else "off"
        return {"text": f"Launch mode for *{mrkdwn_name(customer.name)}* is {state}. Usage: `{USAGE}`"}
    if rest[0].lower() == "until" or rest[0].lower().startswith("until="):  # "launch acme until …" can only mean on
        rest = ["on", *rest]
    if rest[0].lower() not in ("on", "off"):  # named back, not read as "show me the launch mode"
        raise UserError(f"'{' '.join(rest)}' isn't on or off. Usage: `{USAGE}`")
    require_change(call.client, call.settings, user_id=call.user_id, customer=customer, action="change launch mode of")
    cal = planner.calendar_of(customer, default_tz=call.settings.default_tz)
    today = cal.local_date(call.now)
    assert customer.id is not None
    if rest[0].lower() == "off":
        if len(rest) > 1:
            raise UserError(f"I didn't understand '{' '.join(rest[1:])}' after 'off'. Usage: `{USAGE}`")
        updated = call.store.set_launch(
            team_id=call.team_id, customer_id=customer.id, until=None, actor_id=call.user_id, now=call.now
        )
        call.followup["rescore_customer_id"] = customer.id  # after the answer, before the Homes refresh
        call.refresh_homes(updated.owner_id, call.user_id)
        normal = _afterwards(updated)
        return {
            "text": f"Launch mode off for *{mrkdwn_name(updated.name)}*: {normal}. {next_nudge_text(call, updated)}"
        }
    until = _until(rest[1:], today)
    # Daily calls owed from now, not for the weeks before: unless the cadence is daily already or a launch runs.
    running = customer.launch_until is not None and customer.launch_until >= today
    updated = call.store.set_launch(
        team_id=call.team_id,
        customer_id=customer.id,
        until=until,
        actor_id=call.user_id,
        now=call.now,
        restarts_clock=not running and planner.cadence_of(customer).kind != "daily",
    )
    call.followup["rescore_customer_id"] = customer.id  # after the answer, before the Homes refresh
    call.refresh_homes(updated.owner_id, call.user_id)
    at = planner.cadence_of(updated).at
    return {
        "text": f":rocket: Launch mode on for *{mrkdwn_name(updated.name)}*: a daily call at {at:%H:%M} "
        f"({cal.tz}) every business "
        f"day up to and including {until:%a} {until.day} {until:%b %Y}, then {_afterwards(updated)}. "
        f"{next_nudge_text(call, updated)}"
    }


def _afterwards(customer: Customer) -> str:
    """What follows launch mode: "back to weekly on Tue at 10:30", or no nudges for a customer without a cadence
    (never "back to off")."""
    normal = planner.cadence_of(customer)
    if normal.is_off:
        typed = command_name(customer.name)
        return f"no more nudges, as it has no cadence (`/partner cadence {typed} weekly tue 10:00` sets one)"
    return f"back to {normal.describe()}"
