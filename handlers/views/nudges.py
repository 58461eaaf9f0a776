"""Submission of the snooze modal (opened from a nudge's Snooze button)."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from typing import Any

from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient

from bot.clock import Clock
from bot.settings import Settings
from handlers.blocks import command_name, metadata_row_id, mrkdwn_name
from handlers.blocks.nudges import (
    SNOOZE_ONE_DAY,
    SNOOZE_UNTIL_DATE,
    not_redrawn,
    nothing_to_snooze,
    outcome_text,
    slack_date,
)
from handlers.commands.snooze import MAX_REASON
from handlers.followups import tell_user
from handlers.home_publisher import request_home_refresh
from handlers.ids import NUDGE_SNOOZE_FOR, NUDGE_SNOOZE_REASON, NUDGE_SNOOZE_UNTIL
from handlers.parsing import escape
from schedules import planner
from schedules.cadence import mark_snoozed_call
from schedules.sender import refresh_message
from storage.models import Customer
from storage.store import Store

MAX_DAYS = 366


def _metadata(view: dict[str, Any]) -> dict[str, Any]:
    try:
        data = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def submit_snooze(
    ack: Ack,
    view: dict[str, Any],
    body: dict[str, Any],
    context: BoltContext,
    store: Store,
    clock: Clock,
    settings: Settings,
) -> None:
    values = view["state"]["values"]
    meta = _metadata(view)
    team_id = context.team_id or body["team"]["id"]
    customer_id = metadata_row_id(meta.get("customer_id"))
    customer = store.customer(team_id=team_id, customer_id=customer_id) if customer_id else None
    if customer is None or customer.id is None:
        ack(response_action="errors", errors={"for": "That customer no longer exists."})
        return
    request_key = f"view:{view['id']}"
    snoozes = store.customer_events_of_kind(team_id=team_id, customer_id=customer.id, kind="snoozed")
    if any(e.detail.get("request") == request_key for e in snoozes[-5:]):
        # This very form sent again (Snooze clicked twice, or again after a slow answer): snoozed once, not again
        # from a later moment, with a second entry in the history.
        ack()
        return
    if customer.archived_at is not None:  # kept with its history: say how to bring it back, as the nudge's buttons do
        archived = (
            f"{customer.name} is archived, so it gets no nudges. Bring it back with /partner restore "
            f"{command_name(customer.name)}."
        )
        ack(response_action="errors", errors={"for": archived})
        return
    if customer.paused_at is not None:  # paused since the form opened: no call is owed, so nothing to put off
        ack(response_action="errors", errors={"for": nothing_to_snooze(customer.name)})
        return
    choice = ((values.get("for", {}).get(NUDGE_SNOOZE_FOR) or {}).get("selected_option") or {}).get("value")
    picked = (values.get("until", {}).get(NUDGE_SNOOZE_UNTIL) or {}).get("selected_date")
    # A form's text comes as typed, unlike a command's: escaped as Slack escapes a message, so a <!channel> or a
    # <link|label> typed as the reason is shown as text in the channel, on Home and the card, never as a mention.
    reason = escape(((values.get("reason", {}).get(NUDGE_SNOOZE_REASON) or {}).get("value") or "").strip())
    # Every field's error at once, each under its field: fixed in one go, not found one per submission.
    errors: dict[str, str] = {}
    if len(reason) > MAX_REASON:  # what is stored: <, > and & take room once escaped
        errors["reason"] = f"Keep the reason to {MAX_REASON} characters."
    now = clock()
    cal = planner.calendar_of(customer, default_tz=settings.default_tz)
    today = cal.local_date(now)
    until: datetime | None = None
    if choice == SNOOZE_UNTIL_DATE:
        try:
            day = date.fromisoformat(picked or "")
        except ValueError:
            errors["until"] = "Pick the date nudges should resume."
        else:
            if day <= today:
                # Today on the customer's clock, which may be the picker's tomorrow (Friday evening in Los Angeles
                # is Saturday in Tokyo): said with its zone, or "after today (Sat 19 Dec)" reads as a mistake.
                errors["until"] = f"Pick a day after today in {cal.tz} ({today:%a} {today.day} {today:%b})."
            elif day > today + timedelta(days=MAX_DAYS):
                errors["until"] = "Snooze for at most a year; pause the customer instead."
            else:
                until = cal.at_local(day, time(0))
    elif choice == SNOOZE_ONE_DAY:
        until = cal.days_later(now, 1)  # tomorrow at this time on the customer's clock
    else:
        errors["for"] = "Pick how long to snooze."
    if errors or until is None:
        ack(response_action="errors", errors=errors)
        return
    user_id = body["user"]["id"]
    store.set_snooze(
        team_id=team_id,
        customer_id=customer.id,
        until=until,
        reason=reason or None,
        actor_id=user_id,
        now=now,
        request_key=request_key,
    )
    request_home_refresh(context, team_id, [customer.owner_id, user_id])
    nudge_id = metadata_row_id(meta.get("nudge_id"))
    if nudge_id is not None:
        outcome = {"what": "snoozed", "by": user_id, "at": now.isoformat(), "until": until.isoformat()}
        if reason:
            outcome["reason"] = reason
        store.set_nudge_outcome(team_id=team_id, nudge_id=nudge_id, outcome=outcome)
    ack()


def redraw_snoozed(
    view: dict[str, Any],
    body: dict[str, Any],
    context: BoltContext,
    client: WebClient,
    store: Store,
    clock: Clock,
    settings: Settings,
) -> None:
    """After the modal closed: the nudge message says who snoozed it, until when and why. The posted nudge of the
    call the snooze put off says so too, as after the command: opened from Home or the card (no nudge clicked), or
    from an earlier day's nudge."""
    team_id = context.team_id or body["team"]["id"]
    meta = _metadata(view)
    nudge_id = metadata_row_id(meta.get("nudge_id"))
    customer_id = metadata_row_id(meta.get("customer_id"))
    if customer_id is not None:
        # Clicked on an earlier day's nudge, the snooze puts off the call still to come (today's), whose nudge is
        # another message: it says so too, where it kept asking for the call the snooze had just put off.
        now = clock()
        mark_snoozed_call(
            store=store,
            client=client,
            team_id=team_id,
            customer_id=customer_id,
            by=body["user"]["id"],
            now=now,
            settings=settings,
            set_after=now - timedelta(minutes=1),  # a refused submission saved nothing: an older snooze is not this
        )
    if nudge_id is None:
        return
    nudge = store.nudge(team_id=team_id, nudge_id=nudge_id)
    # Only a snooze that was recorded changes the message (a refused submission ran this too).
    outcome = nudge.payload.get("outcome") if nudge is not None else None
    if nudge is None or not outcome or not nudge.channel_id or not nudge.message_ts:
        return
    redrawn = refresh_message(
        store=store, client=client, team_id=team_id, channel_id=nudge.channel_id, ts=nudge.message_ts, now=clock()
    )
    user_id = body["user"]["id"]
    customer = store.customer(team_id=team_id, customer_id=nudge.customer_id or 0)
    if customer is None:
        return
    if outcome.get("what") == "snoozed" and outcome.get("by") == user_id:
        if not redrawn:
            # The form closed without a word: the message was to say the snooze was taken. One Slack would not
            # redraw (deleted, too old to edit, rate-limited) leaves the snoozer looking at the buttons they used.
            tell_user(client, user_id=user_id, channel_id=nudge.channel_id, text=not_redrawn(outcome, customer.name))
    elif (mine := snooze_just_set(store, customer, user_id, clock())) is not None:
        # Snoozed from a copy of the nudge Slack had not redrawn, after someone else answered it (a call logged,
        # a skip): the message keeps that answer, so the form closing was the only sign the snooze was kept.
        tell_user(
            client, user_id=user_id, channel_id=nudge.channel_id, text=snoozed_past_answer(customer, mine, outcome)
        )


def snooze_just_set(store: Store, customer: Customer, user_id: str, now: datetime) -> datetime | None:
    """The end of the customer's snooze when `user_id` set it within the last minute (this form's), else None."""
    until = customer.snoozed_until
    if customer.id is None or until is None or until <= now:
        return None
    events = [
        e for e in store.customer_events(team_id=customer.team_id, customer_id=customer.id) if e.kind == "snoozed"
    ]
    latest = max(events, key=lambda e: e.at, default=None)
    if latest is None or latest.actor_id != user_id or latest.at < now - timedelta(minutes=1):
        return None
    return until


def snoozed_past_answer(customer: Customer, until: datetime, outcome: dict[str, Any]) -> str:
    reason = f" — {customer.snooze_reason}" if customer.snooze_reason else ""
    return (
        f":zzz: Snoozed *{mrkdwn_name(customer.name)}* until {slack_date(until)}{reason}: no nudges until then, and "
        f"the next call comes back when it ends. This reminder keeps what was done about it: {outcome_text(outcome)}"
    )
