"""`/partner checkin <customer> <mood> [call] <note…>`, or a modal when no arguments are given."""

from __future__ import annotations

import re

from domain.customers import require_customer
from domain.errors import UserError
from handlers.blocks.checkin import checkin_confirmation, checkin_modal
from handlers.commands.base import CommandCall, Reply
from handlers.parsing import require_mood

USAGE = "/partner checkin <customer> <green|yellow|red> [call] <note…>"


def words_and_offsets(text: str) -> list[tuple[str, int]]:
    """Each word with where it ends, so the note can be cut from the raw text with its formatting intact."""
    return [(m.group(0), m.end()) for m in re.finditer(r"\S+", text)]


def checkin(call: CommandCall) -> Reply:
    if not call.args.strip():
        call.client.views_open(trigger_id=call.trigger_id, view=checkin_modal(channel_id=call.channel_id))
        return None
    words = words_and_offsets(call.args)
    customers = call.store.customers(team_id=call.team_id)
    customer, rest = require_customer(customers, [w for w, _ in words], name_of=lambda c: c.name, usage=USAGE)
    used = len(words) - len(rest)
    mood = require_mood(rest[0] if rest else None, USAGE)
    used += 1
    kind = "async"
    if len(rest) > 1 and rest[1].lower() == "call":
        kind = "call"
        used += 1
    note = call.args[words[used - 1][1] :].strip()
    if not note:
        raise UserError(f"Add a short note about the {mood.color} check-in. Usage: `{USAGE}`")
    assert customer.id is not None
    entry, _created = call.store.record_checkin(
        team_id=call.team_id,
        customer_id=customer.id,
        author_id=call.user_id,
        mood=mood.color,
        note=note,
        kind=kind,
        now=call.now,
        idempotency_key=f"command:{call.trigger_id}",
    )
    return {"text": checkin_confirmation(customer, entry)}
