"""Submission of the check-in modal."""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.clock import Clock
from handlers.blocks.checkin import checkin_confirmation
from handlers.ids import CHECKIN_CALL, CHECKIN_CUSTOMER, CHECKIN_MOOD, CHECKIN_NOTE
from storage.store import Store

logger = logging.getLogger(__name__)


def _idempotency_key(view: dict[str, Any]) -> str:
    # A view is submitted once; a retried or replayed delivery carries the same view id.
    return f"view:{view['id']}"


def submit_checkin(
    ack: Ack, view: dict[str, Any], body: dict[str, Any], context: BoltContext, store: Store, clock: Clock
) -> None:
    values = view["state"]["values"]
    selected = (values.get("customer", {}).get(CHECKIN_CUSTOMER) or {}).get("selected_option") or {}
    mood = ((values.get("mood", {}).get(CHECKIN_MOOD) or {}).get("selected_option") or {}).get("value")
    call_boxes = (values.get("call", {}).get(CHECKIN_CALL) or {}).get("selected_options") or []
    note = ((values.get("note", {}).get(CHECKIN_NOTE) or {}).get("value") or "").strip()
    team_id = context.team_id or body["team"]["id"]

    errors: dict[str, str] = {}
    customer = None
    if not selected.get("value", "").isdigit():
        errors["customer"] = "Pick a customer."
    else:
        customer = store.customer(team_id=team_id, customer_id=int(selected["value"]))
        if customer is None or customer.archived_at is not None:
            errors["customer"] = "That customer no longer exists; pick another."
    if mood not in ("green", "yellow", "red"):
        errors["mood"] = "Pick green, yellow or red."
    if not note:
        errors["note"] = "Add a short note: what happened, what's next?"
    if errors:
        ack(response_action="errors", errors=errors)
        return
    assert customer is not None and customer.id is not None
    store.record_checkin(
        team_id=team_id,
        customer_id=customer.id,
        author_id=body["user"]["id"],
        mood=str(mood),
        note=note,
        kind="call" if any(o.get("value") == "call" for o in call_boxes) else "async",
        now=clock(),
        idempotency_key=_idempotency_key(view),
    )
    ack()


def confirm_checkin(
    view: dict[str, Any], body: dict[str, Any], context: BoltContext, client: WebClient, store: Store
) -> None:
    """Runs after the modal closed: tells the author where they started."""
    team_id = context.team_id or body["team"]["id"]
    entry = store.checkin_by_key(team_id=team_id, idempotency_key=_idempotency_key(view))
    if entry is None:
        return
    customer = store.customer(team_id=team_id, customer_id=entry.customer_id)
    if customer is None:
        return
    text = checkin_confirmation(customer, entry)
    user_id = body["user"]["id"]
    try:
        channel_id = json.loads(view.get("private_metadata") or "{}").get("channel_id")
    except ValueError:
        channel_id = None
    try:
        if channel_id:
            client.chat_postEphemeral(channel=channel_id, user=user_id, text=text)
            return
    except SlackApiError:
        logger.info("could not confirm in %s; sending a DM instead", channel_id)
    client.chat_postMessage(channel=user_id, text=text)
