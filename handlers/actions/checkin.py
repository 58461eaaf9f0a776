"""Buttons that open the check-in modal for one customer."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient

from domain.errors import UserError
from handlers.blocks import is_row_id
from handlers.blocks.checkin import checkin_modal
from storage.store import Store


def open_checkin(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], context: BoltContext, client: WebClient, store: Store
) -> None:
    ack()
    value = action.get("value") or ""
    customer = (
        store.customer(team_id=context.team_id or body["team"]["id"], customer_id=int(value))
        if is_row_id(value)
        else None
    )
    if customer is None or customer.archived_at is not None:
        raise UserError("That customer no longer exists.")
    channel_id = (body.get("channel") or {}).get("id")
    client.views_open(trigger_id=body["trigger_id"], view=checkin_modal(customer=customer, channel_id=channel_id))
