"""App Home buttons and filters: change the view's state, then re-publish; open a customer's card."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient

from bot.clock import Clock
from bot.settings import Settings
from handlers.actions.nudges import open_snooze_modal
from handlers.blocks.home import (
    NO_TIER,
    SPARK_WEEKS,
    HomeState,
    card_modal,
    customer_facts,
    health_trend,
    with_next_nudge,
)
from handlers.commands.lookup import live_customer
from handlers.events.home import publish_home
from handlers.followups import AfterAck
from handlers.ids import HOME_NEXT_PAGE, HOME_PREV_PAGE, HOME_SCOPE, HOME_SHOW, HOME_TIER
from storage.models import Customer
from storage.store import Store


def next_state(state: HomeState, action: dict[str, Any]) -> HomeState:
    """The state after one click. Values come from our own view, but a forged payload only gets defaults."""
    action_id = action.get("action_id")
    chosen = str((action.get("selected_option") or {}).get("value") or "")
    if action_id == HOME_SCOPE and chosen in ("mine", "team"):
        return state.with_filter(scope=chosen)
    if action_id == HOME_SHOW and chosen in ("all", "risk"):
        return state.with_filter(show=chosen)
    if action_id == HOME_TIER and chosen:
        return state.with_filter(tier=None if chosen == "any" else chosen[:32] if chosen != NO_TIER else NO_TIER)
    if action_id in (HOME_NEXT_PAGE, HOME_PREV_PAGE):
        value = str(action.get("value") or "")
        if value.isdigit():
            return HomeState(scope=state.scope, show=state.show, tier=state.tier, page=int(value))
    return state


def ack_home(
    ack: Ack,
    body: dict[str, Any],
    action: dict[str, Any],
    context: BoltContext,
    client: WebClient,
    store: Store,
    clock: Clock,
    settings: Settings,
    after_ack: AfterAck,
) -> None:
    """Filters and paging answer at once; the new Home is published right after, on the app's follow-up pool
    (handlers.followups.AfterAck: only what publishing needs is handed over, the request is not copied)."""
    ack()
    state = next_state(HomeState.from_metadata((body.get("view") or {}).get("private_metadata")), action)
    team_id, user_id = context.team_id or body["team"]["id"], body["user"]["id"]

    def change_home() -> None:
        publish_home(
            client=client,
            store=store,
            team_id=team_id,
            user_id=user_id,
            state=state,
            now=clock(),
            default_tz=settings.default_tz,
            any_checkin=settings.any_checkin_satisfies,
        )

    after_ack.submit(change_home, what="the Home after a click")


def _customer(store: Store, team_id: str, action: dict[str, Any]) -> Customer:
    return live_customer(store, team_id, str(action.get("value") or ""))


def snooze_from_home(
    ack: Ack,
    body: dict[str, Any],
    action: dict[str, Any],
    context: BoltContext,
    client: WebClient,
    store: Store,
    clock: Clock,
    settings: Settings,
) -> None:
    """The cadence engine's snooze modal for the row's customer (no nudge message to redraw from Home)."""
    ack()
    customer = _customer(store, context.team_id or body["team"]["id"], action)
    open_snooze_modal(client, body["trigger_id"], customer, nudge_id=None, now=clock(), settings=settings)


def open_home_card(
    ack: Ack,
    body: dict[str, Any],
    action: dict[str, Any],
    context: BoltContext,
    client: WebClient,
    store: Store,
    clock: Clock,
    settings: Settings,
) -> None:
    """A read-only card for the customer of a Home row."""
    ack()
    team_id = context.team_id or body["team"]["id"]
    customer = _customer(store, team_id, action)
    now = clock()
    assert customer.id is not None
    contact = store.customer_last_contact(team_id=team_id, customer_id=customer.id)
    facts = customer_facts(
        customer, contact, now=now, default_tz=settings.default_tz, any_checkin=settings.any_checkin_satisfies
    )
    facts = with_next_nudge(facts, now=now, default_tz=settings.default_tz)
    points = store.home_health_points(
        team_id=team_id, customer_ids=[customer.id], since=(now - timedelta(weeks=SPARK_WEEKS + 1)).date()
    )
    trend = health_trend(points.get(customer.id, []), now=now, tz=facts.tz)
    boundaries = store.home_active_boundaries(team_id=team_id, customer_ids=[customer.id]).get(customer.id, [])
    client.views_open(
        trigger_id=body["trigger_id"], view=card_modal(facts, trend=trend, boundaries=boundaries, now=now)
    )
