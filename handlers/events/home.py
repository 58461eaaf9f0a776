"""App Home: published when the user opens the tab."""

from __future__ import annotations

from typing import Any

from slack_bolt import BoltContext
from slack_sdk import WebClient

from bot.clock import Clock
from handlers.blocks.home import home_view
from storage.store import Store


def app_home_opened(event: dict[str, Any], context: BoltContext, client: WebClient, store: Store, clock: Clock) -> None:
    if event.get("tab", "home") != "home":
        return
    user_id = event["user"]
    team_id = context.team_id or ""
    customers = [c for c in store.customers(team_id=team_id) if c.owner_id == user_id]
    latest = store.latest_checkins(team_id=team_id, customer_ids=[c.id for c in customers if c.id is not None])
    client.views_publish(user_id=user_id, view=home_view(customers=customers, latest=latest, now=clock()))
