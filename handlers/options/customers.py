"""Type-ahead for customer selects (external_select)."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, BoltContext

from domain.customers import name_key
from handlers.blocks import customer_option
from storage.store import Store

MAX_OPTIONS = 100  # Slack shows at most 100 options


def customer_options(ack: Ack, body: dict[str, Any], context: BoltContext, store: Store) -> None:
    query = name_key(body.get("value") or "")
    customers = store.customers(team_id=context.team_id or body["team"]["id"])
    # Names starting with what was typed first, then names containing it.
    starts = [c for c in customers if c.name_key.startswith(query)]
    contains = [c for c in customers if query in c.name_key and not c.name_key.startswith(query)]
    ack(options=[customer_option(c) for c in (starts + contains)[:MAX_OPTIONS]])
