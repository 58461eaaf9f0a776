"""Submission of the check-in modal (opened from the command, a button, the customer card or a message)."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient

from bot.clock import Clock
from bot.settings import Settings
from domain.calendar import wall_clock_instant
from domain.checkins import MAX_DAYS_AHEAD, alerted_at_once, channel_gone, channel_summary_tz
from handlers.blocks import command_name, is_row_id
from handlers.blocks.checkin import NOTE_MORE_BLOCK
from handlers.commands.checkin import reply_days_in_note
from handlers.followups import AfterAck, NewCheckIn, hand_over_checkin
from handlers.home_publisher import publisher_of
from handlers.ids import CHECKIN_CALL, CHECKIN_CUSTOMER, CHECKIN_MOOD, CHECKIN_NEXT_DUE, CHECKIN_NEXT_STEP, CHECKIN_NOTE
from handlers.parsing import escape, escape_keeping_mentions
from handlers.shortcuts.checkin import whole_note
from schedules import planner
from storage.models import Customer
from storage.store import Store


def _metadata(view: dict[str, Any]) -> dict[str, Any]:
    """The form's own notes (where it was opened, the logged message's link, the request key): text only, so a
    form of an older version, or a garbled one, is read as a form without them instead of failing to store."""
    try:
        data = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, str) and v}


def _idempotency_key(view: dict[str, Any]) -> str:
    # A view is submitted once; a retried or replayed delivery carries the same view id. A modal opened by a
    # message shortcut carries the shortcut's own key, so the same shortcut delivered twice stores one row.
    return str(_metadata(view).get("key") or f"view:{view['id']}")


def counting_day(
    store: Store, team_id: str, metadata: dict[str, Any], customer: Customer, *, now: datetime, default_tz: str
) -> tuple[date | None, datetime]:
    """The earlier day a call logged in the form counts for, and the instant it is stored at: the form opened from a
    nudge logs that nudge's call, for its day, also when sent after midnight there (opened at 23:50, sent at 00:10)
    or days later (last Friday's nudge clicked on Monday). Stored then at the day's last second, the call satisfies
    that day and not the next, whose nudge still goes out. Any other form counts for the moment it is sent: (None,
    `now`). The nudge is read from the database, so the form's metadata cannot move a call to another day."""
    nudge_id = metadata.get("nudge_id")
    nudge = store.nudge(team_id=team_id, nudge_id=int(nudge_id)) if nudge_id and is_row_id(nudge_id) else None
    if nudge is None or nudge.kind != planner.CADENCE or nudge.customer_id != customer.id:
        return None, now  # another customer picked in the form: a call of its own, logged now
    tz = str(nudge.payload.get("tz") or customer.tz or default_tz)  # the zone the nudge's day is a date in
    day = date.fromisoformat(nudge.due_key)
    # The next day's first instant (a midnight the clocks skip is the first one after the jump), less a second.
    last = wall_clock_instant(day + timedelta(days=1), time(0), ZoneInfo(tz)) - timedelta(seconds=1)
    return (day, last) if now > last else (None, now)


def _value(values: dict[str, Any], block_id: str, action_id: str) -> dict[str, Any]:
    return (values.get(block_id) or {}).get(action_id) or {}


def _note_blocks(values: dict[str, Any]) -> list[str]:
    """The Note box, then its "continued" boxes in order (a logged message longer than one box: see checkin_modal)."""
    more = sorted(
        int(block[len(NOTE_MORE_BLOCK) :])
        for block in values
        if block.startswith(NOTE_MORE_BLOCK) and block[len(NOTE_MORE_BLOCK) :].isdecimal() and len(block) < 12
    )
    return ["note", *(f"{NOTE_MORE_BLOCK}{n}" for n in more)]


def submit_checkin(
    ack: Ack,
    view: dict[str, Any],
    body: dict[str, Any],
    context: BoltContext,
    client: WebClient,
    store: Store,
    clock: Clock,
    settings: Settings,
    after_ack: AfterAck,
) -> None:
    values = view["state"]["values"]
    selected = _value(values, "customer", CHECKIN_CUSTOMER).get("selected_option") or {}
    mood = (_value(values, "mood", CHECKIN_MOOD).get("selected_option") or {}).get("value")
    call_boxes = _value(values, "call", CHECKIN_CALL).get("selected_options") or []
    # A plain_text input gives what the user typed; notes are stored as Slack escapes a typed command, so the
    # summary in the customer's channel restates a typed `<!channel>` or `<https://…|label>` as text. A person or
    # a channel in Slack's markup (a logged message's, pre-filled) stays a mention, as in a typed command.
    typed = "".join(_value(values, block, CHECKIN_NOTE).get("value") or "" for block in _note_blocks(values)).strip()
    metadata = _metadata(view)
    # A logged message too long for the form is stored whole, as it was written (the form could show only 3000).
    note = escape_keeping_mentions(whole_note(typed, metadata, client) if typed else typed)
    next_step = escape((_value(values, "next_step", CHECKIN_NEXT_STEP).get("value") or "").strip()) or None
    due_text = _value(values, "next_due", CHECKIN_NEXT_DUE).get("selected_date")
    team_id = context.team_id or body["team"]["id"]
    now = clock()

    errors: dict[str, str] = {}
    customer = None
    if not str(selected.get("value", "")).isdecimal() or len(str(selected["value"])) >= 10:
        errors["customer"] = "Pick a customer."
    else:
        customer = store.customer(team_id=team_id, customer_id=int(selected["value"]))
        if customer is None:
            errors["customer"] = "That customer no longer exists; pick another."
        elif customer.archived_at is not None:  # archived while the form was open: the note stays in the form
            errors["customer"] = (
                f"{customer.name} was archived meanwhile. Restore it (/partner restore "
                f"{command_name(customer.name)}) and submit "
                "again, or pick another customer: your note stays here."
            )
    if mood not in ("green", "yellow", "red"):
        errors["mood"] = "Pick green, yellow or red."
    if not note:
        errors["note"] = "Add a short note: what happened, what's next?"
    next_due: date | None = None
    if due_text:
        tz = (customer.tz if customer is not None else None) or settings.default_tz
        today = now.astimezone(ZoneInfo(tz)).date()
        try:  # Slack's datepicker sends YYYY-MM-DD; anything else is a garbled form, said so, never a crash
            next_due = date.fromisoformat(str(due_text))
        except ValueError:
            errors["next_due"] = "Pick the day from the calendar."
        if next_due is not None and next_due < today:  # today on the customer's clock, maybe the picker's tomorrow
            errors["next_due"] = f"That day is in the past in {tz} (today there is {today:%a} {today.day} {today:%b})."
        elif next_due is not None and (next_due - today).days > MAX_DAYS_AHEAD:  # as `next=` in the command
            errors["next_due"] = "That is more than a year away; pick a nearer day."
    if errors:
        ack(response_action="errors", errors=errors)
        return
    assert customer is not None and customer.id is not None
    is_call = any(o.get("value") == "call" for o in call_boxes)
    counted_for, counts_at = None, now
    if is_call or settings.any_checkin_satisfies:  # what the nudge asked for; a plain note counts when it is sent
        counted_for, counts_at = counting_day(
            store, team_id, metadata, customer, now=now, default_tz=settings.default_tz
        )
    entry, created = store.record_checkin(
        team_id=team_id,
        customer_id=customer.id,
        author_id=body["user"]["id"],
        mood=str(mood),
        note=note,
        kind="call" if is_call else ("message" if str(metadata.get("key", "")).startswith("shortcut:") else "async"),
        now=now,
        idempotency_key=_idempotency_key(view),
        counts_at=counts_at,
        next_step=next_step,
        next_due=next_due,
        response_days=reply_days_in_note(note, customer=customer, settings=settings, now=now),
        permalink=metadata.get("permalink"),
        alert_owner_id=alerted_at_once(mood=str(mood), owner_id=customer.owner_id, author_id=body["user"]["id"]),
        summary_tz=channel_summary_tz(
            channel_id=customer.channel_id,
            post_checkins=customer.post_checkins,
            channel_shared=customer.channel_shared,
            gone=channel_gone(error=customer.channel_error, error_at=customer.channel_error_at, now=now),
            tz=customer.tz,
            default_tz=settings.default_tz,
        ),
    )
    ack()
    if created and entry.id is not None:  # a repeat delivery stored nothing new: nothing to announce
        user_id = body["user"]["id"]
        new = NewCheckIn(
            checkin_id=entry.id,
            author_id=user_id,
            origin_channel_id=metadata.get("channel_id"),
            confirm=True,
            homes=tuple(dict.fromkeys(h for h in (customer.owner_id, user_id) if h)),
            counted_for=counted_for,
        )
        hand_over_checkin(
            after_ack,
            new,
            team_id=team_id,
            customer_id=customer.id,
            client=client,
            store=store,
            settings=settings,
            clock=clock,
            publisher=publisher_of(context),
        )
