"""`/partner cadence <customer> <spec>`: how often the team calls a customer, in the customer's own time.

Who may change what (documented in the README): a customer's cadence, launch mode and pause are for its owner,
workspace admins and Partner admins, like other changes to the record; anyone may snooze its nudges (a
snooze is temporary, says why, and the channel sees who did it).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date, datetime, timedelta

from bot.settings import Settings
from domain.cadence import parse_cadence
from domain.errors import UserError
from handlers.blocks import command_name, local_time, mrkdwn_name
from handlers.blocks.nudges import slack_date
from handlers.commands.base import CommandCall, Reply
from handlers.commands.lookup import find_customer_in_text
from handlers.permissions import require_change
from schedules import planner
from schedules.cadence import plan_call_moved_into_the_past
from storage.cadence import Snooze
from storage.models import Customer
from storage.store import Store

USAGE = (
    "/partner cadence <customer> <daily [09:00] | weekly <day> [time] | biweekly <day> [time] | "
    "monthly <1-28|first-mon> [time] | every <N> days [time] | off>"
)
# The soonest nudge is looked for this far ahead (a yearly "every 365 days" cadence still shows one).
HORIZON = timedelta(days=400)


def find_customer(call: CommandCall, usage: str) -> tuple[Customer, list[str], str]:
    """The customer the arguments start with, the words after it, and the raw text after it."""
    return find_customer_in_text(call.store, team_id=call.team_id, text=call.args, usage=usage)


def next_nudge_text(call: CommandCall, customer: Customer) -> str:
    """ "Next nudge: Tue 1 Dec 09:00 (America/New_York)", or why there is none."""
    return next_nudge_sentence(call.store, customer, now=call.now, settings=call.settings)


def next_nudge_sentence(store: Store, customer: Customer, *, now: datetime, settings: Settings) -> str:
    """:func:`next_nudge_text` for whoever holds the store and the settings (a notice planned by a form too)."""
    if customer.paused_at is not None:
        return "Nudges are paused (`/partner resume` turns them back on)."
    assert customer.id is not None
    kinds = None if settings.any_checkin_satisfies else ["call"]
    team_id = customer.team_id
    contacts = store.last_contacts(team_id=team_id, customer_ids=[customer.id], kinds=kinds)
    snoozes = store.snoozes(team_id=team_id, customers=[customer], after=now)
    nudged = store.nudged_days(team_id=team_id, customer_ids=[customer.id], since=now - planner.TODAYS_NUDGES)
    soonest = next_nudge(customer, contacts, now=now, default_tz=settings.default_tz, snoozes=snoozes, nudged=nudged)
    if soonest is None:
        return "No nudge is scheduled."
    what = f", {soonest.what}" if soonest.what else ""
    return (
        f"Next nudge: {local_time(soonest.local)} ({soonest.tz}) — {slack_date(soonest.slot.due_at)} your time{what}."
    )


def clock_restart_text(call: CommandCall, customer: Customer) -> str:
    """A resume or a restore starts the customer's overdue clock again as a call would (README, *Overdue*): said, with
    its last call, so an overdue customer (or a call missed) before the pause or the archive is not set aside without
    a word. Empty when nothing restarts: its cadence off, or the last call today (the rule of planner.clock_start)."""
    if customer.id is None or customer.paused_at is not None or customer.archived_at is not None:
        return ""
    cal = planner.calendar_of(customer, default_tz=call.settings.default_tz)
    if planner.effective_cadence(customer, cal, call.now).is_off:
        return ""
    kinds = None if call.settings.any_checkin_satisfies else ["call"]
    contact = call.store.last_contacts(team_id=customer.team_id, customer_ids=[customer.id], kinds=kinds)
    last = contact.get(customer.id)
    began = cal.local_date(last.created_at if last is not None else customer.created_at)
    today = cal.local_date(call.now)
    if today <= began:
        return ""
    days = (today - began).days
    since = f"the last call was {began:%a} {began.day} {began:%b}, {days} day{'s' if days != 1 else ''} ago"
    return f" Its overdue clock starts again now, as a call would start it ({since if last else 'no call logged yet'})."


def next_nudge(
    customer: Customer,
    contacts: dict,
    *,
    now: datetime,
    default_tz: str,
    snoozes: Mapping[int, Snooze] | None = None,
    nudged: Mapping[int, Collection[date]] | None = None,
) -> planner.Upcoming | None:
    for horizon in (timedelta(days=14), HORIZON):
        plan = planner.upcoming(
            [customer], contacts, now=now, until=now + horizon, default_tz=default_tz, snoozes=snoozes, nudged=nudged
        )
        for item in plan:
            if item.status == "pending":
                return item
    return None


def cadence(call: CommandCall) -> Reply:
    customer, rest, raw = find_customer(call, USAGE)
    cal = planner.calendar_of(customer, default_tz=call.settings.default_tz)
    current = planner.cadence_of(customer)
    if not rest:
        launch = launch_text(customer, cal.local_date(call.now))
        return {
            "text": f"*{mrkdwn_name(customer.name)}*: {current.describe()} ({cal.tz}).{launch} "
            f"{next_nudge_text(call, customer)}\n"
            f"Change it with `{USAGE}`"
        }
    require_change(call.client, call.settings, user_id=call.user_id, customer=customer, action="change the cadence of")
    zone = next((word for word in raw.split() if word.lower().startswith("tz=")), None)
    if zone is not None:  # the cadence's time is on the customer's clock, which edit sets for all its nudges
        raise UserError(
            f"The time zone is *{mrkdwn_name(customer.name)}*'s own, for every nudge: set it with "
            f"`/partner edit {command_name(customer.name)} {zone}`, then the cadence without it.\nUsage: `{USAGE}`"
        )
    try:
        new = parse_cadence(raw, anchor=cal.local_date(call.now), previous=current)
    except ValueError as e:
        raise UserError(f"{e}\nUsage: `{USAGE}`") from None
    assert customer.id is not None
    updated, changed = call.store.update_customer(
        team_id=call.team_id,
        customer_id=customer.id,
        actor_id=call.user_id,
        changes={"cadence": new.to_text()},
        now=call.now,
    )
    now_due = ""
    if changed:
        if plan_call_moved_into_the_past(
            store=call.store, before=customer, after=updated, now=call.now, settings=call.settings
        ):
            now_due = " " + moved_call_text(updated, call.now, call.settings.default_tz)
        call.followup["rescore_customer_id"] = customer.id  # after the answer, before the Homes refresh
        call.refresh_homes(updated.owner_id, call.user_id)
    if new.is_off:
        return {"text": f":no_bell: *{mrkdwn_name(updated.name)}*: cadence off — no call nudges or overdue alerts."}
    return {
        "text": f":calendar: *{mrkdwn_name(updated.name)}*: {new.describe()}, {cal.tz} time, business days only."
        f"{launch_text(updated, cal.local_date(call.now))}{now_due} {next_nudge_text(call, updated)}"
    }


def moved_call_text(customer: Customer, now: datetime, default_tz: str) -> str:
    """What the answer says when today's call moved to a time already past (`plan_call_moved_into_the_past`)."""
    at = planner.effective_cadence(customer, planner.calendar_of(customer, default_tz=default_tz), now).at
    return f"Today's call time ({at:%H:%M}) has passed and its nudge had not gone out: it comes now."


def launch_text(customer: Customer, today: date) -> str:
    """ " Launch mode keeps daily calls until 2026-12-09 first." while it is on: the next nudge is a daily one."""
    if customer.launch_until is None or customer.launch_until < today:
        return ""
    return f" Launch mode keeps daily calls until {customer.launch_until.isoformat()} first."
