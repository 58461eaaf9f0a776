"""Type-ahead for customer selects (external_select)."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, BoltContext

from domain.customers import folded_key
from handlers.blocks import MAX_OPTION_TEXT, customer_option, plain
from storage.store import Store

MAX_OPTIONS = 100  # Slack shows at most 100 options


def customer_options(ack: Ack, body: dict[str, Any], context: BoltContext, store: Store) -> None:
    # Compared as name keys, apostrophes folded: "macy’s" typed on a phone finds Macy's; accents too: "cafe" finds
    # Café Olé (and "café" finds it as well: both sides are folded).
    query = folded_key(body.get("value") or "")
    customers = store.customers(team_id=context.team_id or body["team"]["id"])
    keys = [(folded_key(c.name), c) for c in customers]
    # The name typed whole first (else "Ácme", sorted after 150 "Acme 001"…, could never be picked), then names
    # starting with what was typed, then names containing it.
    exact = [c for key, c in keys if key == query]
    starts = [c for key, c in keys if key.startswith(query) and key != query]
    contains = [c for key, c in keys if query in key and not key.startswith(query)]
    found = exact + starts + contains
    options = [customer_option(c) for c in found[:MAX_OPTIONS]]
    if len(found) <= MAX_OPTIONS:
        ack(options=options)
        return
    # Slack shows 100 options and no more: one group whose label (shown above them) says how to reach the rest.
    label = f"The first {MAX_OPTIONS} of {len(found)}: type more of the name"
    ack(option_groups=[{"label": plain(label, MAX_OPTION_TEXT), "options": options}])
