"""The check-in modal and confirmation."""

from __future__ import annotations

import json
from typing import Any

from handlers.blocks import MOOD_EMOJI, customer_option, plain, truncate
from handlers.ids import CHECKIN_CALL, CHECKIN_CUSTOMER, CHECKIN_MODAL, CHECKIN_MOOD, CHECKIN_NOTE
from storage.models import CheckIn, Customer


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
