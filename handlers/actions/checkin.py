"""Buttons that open the check-in modal for one customer."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient

from handlers.blocks.checkin import checkin_modal
from handlers.commands.lookup import live_customer
from storage.store import Store


def open_checkin(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], context: BoltContext, client: WebClient, store: Store
) -> None:
    ack()
    customer = live_customer(store, context.team_id or body["team"]["id"], str(action.get("value") or ""))
    channel_id = (body.get("channel") or {}).get("id")
    client.views_open(trigger_id=body["trigger_id"], view=checkin_modal(customer=customer, channel_id=channel_id))
