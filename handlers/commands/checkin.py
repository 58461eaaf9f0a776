"""`/partner checkin <customer> <mood> [call] [next=<date>] <note…>`, or a modal when no arguments are given."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

from domain.checkins import parse_due_date
from domain.errors import UserError
from handlers.blocks.checkin import checkin_confirmation, checkin_modal
from handlers.commands.base import CommandCall, Reply
from handlers.commands.lookup import find_customer
from handlers.parsing import parse_key_value, require_mood

USAGE = "/partner checkin <customer> <green|yellow|red|1-5> [call] [next=<date>] <note…>"


def words_and_offsets(text: str) -> list[tuple[str, int]]:
    """Each word with where it ends, so the note can be cut from the raw text with its formatting intact."""
    return [(m.group(0), m.end()) for m in re.finditer(r"\S+", text)]


def _next_flag(word: str) -> str | None:
    pair = parse_key_value(word)
    return pair[1] if pair is not None and pair[0] in ("next", "due") else None


def checkin(call: CommandCall) -> Reply:
    if not call.args.strip():
        call.client.views_open(trigger_id=call.trigger_id, view=checkin_modal(channel_id=call.channel_id))
        return None
    words = words_and_offsets(call.args)
    customer, rest = find_customer(call.store, team_id=call.team_id, words=[w for w, _ in words], usage=USAGE)
    used = len(words) - len(rest)
    mood = require_mood(rest[0] if rest else None, USAGE)
    used += 1
    kind = "async"
    due_text: str | None = None
    # Flags come right after the mood, in any order: `green call next=fri kickoff done`.
    while used < len(words):
        word = words[used][0]
        if word.lower() == "call" and kind != "call":
            kind = "call"
        elif _next_flag(word) is not None and due_text is None:
            due_text = _next_flag(word)
        else:
            break
        used += 1
    end = len(call.args)
    # …or `next=` as the note's last word: `green kickoff done next=fri`.
    if due_text is None and len(words) > used + 1 and _next_flag(words[-1][0]) is not None:
        due_text = _next_flag(words[-1][0])
        end = words[-1][1] - len(words[-1][0])
    note = call.args[words[used - 1][1] : end].strip()
    if not note:
        raise UserError(f"Add a short note about the {mood.color} check-in. Usage: `{USAGE}`")
    next_due = None
    if due_text is not None:
        today = call.now.astimezone(ZoneInfo(customer.tz or call.settings.default_tz)).date()
        try:
            next_due = parse_due_date(due_text, today=today)
        except ValueError as e:
            raise UserError(f"{e} Usage: `{USAGE}`") from None
    assert customer.id is not None
    entry, created = call.store.record_checkin(
        team_id=call.team_id,
        customer_id=customer.id,
        author_id=call.user_id,
        mood=mood.color,
        note=note,
        kind=kind,
        now=call.now,
        idempotency_key=f"command:{call.trigger_id}",
        next_due=next_due,
    )
    if created:
        call.followup["checkin_id"] = entry.id
    return {"text": checkin_confirmation(customer, entry)}
