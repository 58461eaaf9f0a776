"""Block Kit builders: pure functions from domain data to Slack JSON (no I/O)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from handlers.parsing import MOOD_EMOJI
from storage.models import CheckIn, Customer

# Action and callback ids: every one is handled by a listener and declared where Slack needs it.
CHECKIN_MODAL = "checkin_modal"
CHECKIN_CUSTOMER = "checkin_customer"
CHECKIN_MOOD = "checkin_mood"
CHECKIN_CALL = "checkin_call"
CHECKIN_NOTE = "checkin_note"
OPEN_CHECKIN = "open_checkin"

MAX_TEXT = 3000  # Slack's limit for a section's text
MAX_OPTION_TEXT = 75


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": truncate(text, MAX_TEXT)}


def plain(text: str, limit: int = 150) -> dict[str, Any]:
    return {"type": "plain_text", "text": truncate(text, limit), "emoji": True}


def section(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "section", "text": mrkdwn(text), **extra}


def context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [mrkdwn(text)]}


def customer_option(customer: Customer) -> dict[str, Any]:
    return {"text": plain(customer.name, MAX_OPTION_TEXT), "value": str(customer.id)}


def ago(then: datetime, now: datetime) -> str:
    seconds = max(0, int((now - then).total_seconds()))
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    days = seconds // 86400
    return "yesterday" if days == 1 else f"{days} days ago"


def help_blocks(commands: Sequence[tuple[str, str]], *, intro: str | None = None) -> list[dict[str, Any]]:
    lines = "\n".join(f"`{usage}`\n{summary}" for usage, summary in commands)
    blocks: list[dict[str, Any]] = []
    if intro:
        blocks.append(section(intro))
    blocks.append(section("*Partner* keeps every customer relationship a daily habit. Here's what I can do:"))
    blocks.append(section(lines))
    blocks.append(context("Names can be shortened: `/partner checkin acme green …` finds *Acme Corp*."))
    return blocks


def checkin_confirmation(customer: Customer, checkin: CheckIn) -> str:
    kind = " call" if checkin.kind == "call" else ""
    note = truncate(checkin.note, 300)
    return f"{MOOD_EMOJI[checkin.mood]} Logged a {checkin.mood}{kind} check-in for *{customer.name}*: {note}"


def checkin_modal(
    *,
    customer: Customer | None = None,
    note: str = "",
    mood: str | None = None,
    is_call: bool = False,
    channel_id: str | None = None,
) -> dict[str, Any]:
    """The check-in modal; pre-filled when opened from a customer, a nudge or a message."""
    customer_select: dict[str, Any] = {
        "type": "external_select",
        "action_id": CHECKIN_CUSTOMER,
        "placeholder": plain("Type a customer's name"),
        "min_query_length": 0,
    }
    if customer is not None:
        customer_select["initial_option"] = customer_option(customer)
    mood_options = [
        {"text": plain(f"{MOOD_EMOJI[m]} {label}"), "value": m}
        for m, label in (("green", "Green — on track"), ("yellow", "Yellow — some concern"), ("red", "Red — at risk"))
    ]
    mood_radio: dict[str, Any] = {"type": "radio_buttons", "action_id": CHECKIN_MOOD, "options": mood_options}
    if mood:
        mood_radio["initial_option"] = next(o for o in mood_options if o["value"] == mood)
    call_option = {"text": plain("Yes, this was a call"), "value": "call"}
    call_box: dict[str, Any] = {"type": "checkboxes", "action_id": CHECKIN_CALL, "options": [call_option]}
    if is_call:
        call_box["initial_options"] = [call_option]
    note_input: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": CHECKIN_NOTE,
        "multiline": True,
        "max_length": 3000,
        "placeholder": plain("What happened? What's next?"),
    }
    if note:
        note_input["initial_value"] = truncate(note, 3000)
    return {
        "type": "modal",
        "callback_id": CHECKIN_MODAL,
        "title": plain("Log a check-in", 24),
        "submit": plain("Log it", 24),
        "close": plain("Cancel", 24),
        "private_metadata": json.dumps({"channel_id": channel_id}),
        "blocks": [
            {"type": "input", "block_id": "customer", "label": plain("Customer"), "element": customer_select},
            {"type": "input", "block_id": "mood", "label": plain("How is it going?"), "element": mood_radio},
            {
                "type": "input",
                "block_id": "call",
                "optional": True,
                "label": plain("Was this a call?"),
                "element": call_box,
            },
            {"type": "input", "block_id": "note", "label": plain("Note"), "element": note_input},
        ],
    }


def home_view(*, customers: Sequence[Customer], latest: dict[int, CheckIn], now: datetime) -> dict[str, Any]:
    """A first App Home: the viewer's customers and how recently each was heard from."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": plain("Your customers")},
    ]
    if not customers:
        blocks.append(section("No customers yet. Add one with `/partner add Acme #acme @owner`."))
    for customer in customers[:45]:
        checkin = latest.get(customer.id or 0)
        status = (
            f"{MOOD_EMOJI[checkin.mood]} last check-in {ago(checkin.created_at, now)}" if checkin else "no check-in yet"
        )
        blocks.append(
            section(
                f"*{customer.name}*\n{status}",
                accessory={
                    "type": "button",
                    "action_id": OPEN_CHECKIN,
                    "text": plain("Log check-in"),
                    "value": str(customer.id),
                },
            )
        )
    if len(customers) > 45:
        blocks.append(context(f"…and {len(customers) - 45} more. `/partner list` shows them all."))
    return {"type": "home", "blocks": blocks}
