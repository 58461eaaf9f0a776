"""`/partner upcoming [mine]`: the next nudge of each customer, in the customer's own time."""

from __future__ import annotations

from datetime import timedelta

from domain.errors import UserError
from handlers.blocks import local_time, mrkdwn_name
from handlers.blocks.nudges import slack_date, upcoming_text
from handlers.commands.base import CommandCall, Reply
from handlers.parsing import tokenize
from schedules import planner
from schedules.cadence import destination

USAGE = "/partner upcoming [mine]"
HORIZON = timedelta(days=45)
SHOWN = 25
NAMED = 10  # paused or snoozed customers named by name


def _some(names: list[str]) -> str:
    """The first names, then how many more: 200 paused customers' names would overflow Slack's 3,000-character
    section."""
    more = f" and {len(names) - NAMED} more" if len(names) > NAMED else ""
    return ", ".join(names[:NAMED]) + more


def upcoming(call: CommandCall) -> Reply:
    words = [w.lower() for w in tokenize(call.args)]
    if words not in ([], ["mine"], ["all"]):
        raise UserError(f"I didn't understand '{' '.join(words)}'. Usage: `{USAGE}`")
    mine = words == ["mine"]
    customers = [c for c in call.store.customers(team_id=call.team_id) if not mine or c.owner_id == call.user_id]
    if mine and not customers:  # not "no nudges due": there is nothing of theirs to nudge about
        return {"text": "You don't own any customers yet. `/partner upcoming` shows the whole team's next nudges."}
    kinds = None if call.settings.any_checkin_satisfies else ["call"]
    contacts = call.store.last_contacts(
        team_id=call.team_id, customer_ids=[c.id for c in customers if c.id is not None], kinds=kinds
    )
    snoozes = call.store.snoozes(team_id=call.team_id, customers=customers, after=call.now)
    ids = [c.id for c in customers if c.id is not None]
    nudged = call.store.nudged_days(team_id=call.team_id, customer_ids=ids, since=call.now - planner.TODAYS_NUDGES)
    plan = planner.upcoming(
        customers,
        contacts,
        now=call.now,
        until=call.now + HORIZON,
        default_tz=call.settings.default_tz,
        snoozes=snoozes,
        nudged=nudged,
    )
    soonest: dict[int, planner.Upcoming] = {}
    for item in plan:
        if item.status == "pending" and item.customer.id is not None:
            soonest.setdefault(item.customer.id, item)
    lines = []
    for item in sorted(soonest.values(), key=lambda u: u.slot.due_at)[:SHOWN]:
        channel, _owner = destination(item.customer, item.slot.due_at)  # where the sender will post it
        where = f"<#{channel}>" if channel else "a DM to the owner"
        lines.append(
            f"• {local_time(item.local)} {item.tz} — *{mrkdwn_name(item.customer.name)}* "
            f"({slack_date(item.slot.due_at)} your "
            f"time) → {where}" + (f", {item.what}" if item.what else "")
        )
    if len(soonest) > SHOWN:
        yours = "" if mine else "; `/partner upcoming mine` shows only yours"
        lines.append(
            f"…and {len(soonest) - SHOWN} more{yours}. `partner-bot upcoming --days 14` prints the whole plan."
        )
    quiet = [mrkdwn_name(c.name) for c in customers if c.paused_at is not None]
    if quiet:
        lines.append(f"Paused: {_some(sorted(quiet))}.")
    # Snoozed past the horizon, a customer would otherwise be missing from the list without a word.
    snoozed = sorted(
        (mrkdwn_name(c.name), c.snoozed_until)
        for c in customers
        if c.id not in soonest and c.paused_at is None and c.snoozed_until is not None and c.snoozed_until > call.now
    )
    if snoozed:
        until = [f"{name} (until {slack_date(at, '{date_short_pretty}')})" for name, at in snoozed]
        lines.append(f"Snoozed: {_some(until)}.")
    whose = "your customers" if mine else "every customer"
    none_of = "any of your customers" if mine else "any customer"
    return upcoming_text(
        lines,
        title=f"Next nudges for {whose} (within {HORIZON.days} days)",
        empty=f"No nudges due for {none_of} in the next {HORIZON.days} days. Set a cadence with `/partner cadence`.",
    )
