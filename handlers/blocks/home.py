"""The App Home tab."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from handlers.blocks import MOOD_EMOJI, ago, button, context, plain, section
from handlers.ids import OPEN_CHECKIN
from storage.models import CheckIn, Customer


def home_view(*, customers: Sequence[Customer], latest: dict[int, CheckIn], now: datetime) -> dict[str, Any]:
    """A first App Home: the viewer's customers and how recently each was heard from."""
    blocks: list[dict[str, Any]] = [{"type": "header", "text": plain("Your customers")}]
    if not customers:
        blocks.append(section("No customers yet. Add one with `/partner add Acme #acme @owner`."))
    for customer in customers[:45]:
        checkin = latest.get(customer.id or 0)
        status = (
            f"{MOOD_EMOJI[checkin.mood]} last check-in {ago(checkin.created_at, now)}" if checkin else "no check-in yet"
        )
        blocks.append(
            section(f"*{customer.name}*\n{status}", accessory=button("Log check-in", OPEN_CHECKIN, str(customer.id)))
        )
    if len(customers) > 45:
        blocks.append(context(f"…and {len(customers) - 45} more. `/partner list` shows them all."))
    return {"type": "home", "blocks": blocks}
