"""App Home buttons and filters: change the view's state, then re-publish; open a customer's card."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient

from bot.clock import Clock
from bot.settings import Settings
from handlers.actions.nudges import open_snooze_modal
from handlers.blocks import metadata_row_id
from handlers.blocks.home import (
    CARD_METADATA_KEY,
    NO_TIER,
    SPARK_WEEKS,
    HomeState,
    card_modal,
    customer_facts,
    health_trend,
    with_next_nudge,
    with_notice,
)
from handlers.commands.lookup import live_customer
from handlers.events.home import not_nudged_twice, publish_home, save_home_state, snoozed_calls
from handlers.followups import AfterAck
from handlers.ids import HOME_NEXT_PAGE, HOME_PREV_PAGE, HOME_SCOPE, HOME_SHOW, HOME_TIER
from storage.db import UNREACHABLE
from storage.models import Customer
from storage.store import Store

logger = logging.getLogger(__name__)


FILTER_NOT_KEPT = (
    "Partner's database didn't answer just now, so I couldn't keep your choice: your Home is as it was. "
    "Please choose it again in a moment."
)


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
        if value.isdecimal():
            return HomeState(scope=state.scope, show=state.show, tier=state.tier, page=int(value))
    return state


def shown_state(view: dict[str, Any], clicked: str | None = None) -> HomeState:
    """The Home as the viewer saw it before this click: the state it was published with, and each other filter menu
    as Slack shows it (view.state; the `clicked` one already shows the new choice). A click made before the tab was
    redrawn after the one before carries the metadata of before that one, but its menus as set: read from the
    metadata alone, the filter just picked jumped back."""
    state = HomeState.from_metadata(view.get("private_metadata"))
    values = (view.get("state") or {}).get("values") or {}
    for block in values.values() if isinstance(values, dict) else ():
        for action_id, element in (block or {}).items():
            if action_id not in (HOME_SCOPE, HOME_SHOW, HOME_TIER) or action_id == clicked:
                continue
            if not isinstance(element, dict):
                continue
            menu = next_state(state, {"action_id": action_id, "selected_option": element.get("selected_option")})
            if (menu.scope, menu.show, menu.tier) != (state.scope, state.show, state.tier):
                state = menu  # a menu the metadata does not know yet (a new filter starts on the first page)
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
    shown = (body.get("view") or {}).get("blocks") or []
    before = shown_state(body.get("view") or {}, clicked=action.get("action_id"))
    state = next_state(before, action)
    team_id, user_id = context.team_id or body["team"]["id"], body["user"]["id"]
    shown_hash = (body.get("view") or {}).get("hash")  # the Home as Slack showed it when clicked: newer ones win

    def publish(state: HomeState, now: datetime, notice: str | None = None) -> None:
        publish_home(
            client=client,
            store=store,
            team_id=team_id,
            user_id=user_id,
            state=state,
            now=now,
            default_tz=settings.default_tz,
            any_checkin=settings.any_checkin_satisfies,
            escalate_window=settings.boundary_policy.escalate_window,
            notice=notice,
            shown_hash=shown_hash,
        )

    def change_home() -> None:
        now = clock()
        # Saved before publishing: a refresh right after, from this replica or another, must see the new choice.
        try:
            save_home_state(store, team_id=team_id, user_id=user_id, state=state, now=now)
        except UNREACHABLE as error:
            # Not kept: showing the choice anyway would have the next refresh (any change of the team's) undo it
            # unexplained. The Home stays as it was, saying so now; the same click later keeps it.
            logger.warning("could not keep the Home filters of %s (team=%s): %r", user_id, team_id, error)
            try:
                publish(before, now, notice=FILTER_NOT_KEPT)
            except UNREACHABLE:  # the database down, not only busy: the tab as Slack sent it, with the note
                client.views_publish(
                    user_id=user_id,
                    view=with_notice({"blocks": shown, "private_metadata": before.to_metadata()}, FILTER_NOT_KEPT),
                )
            return
        publish(state, now)

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


def home_card(
    store: Store, settings: Settings, *, team_id: str, customer: Customer, now: datetime, notice: str | None = None
) -> dict[str, Any]:
    """The card modal of a Home row's customer, with its surveys (our view vs theirs, profile, self-check)."""
    assert customer.id is not None
    contact = store.customer_last_contact(team_id=team_id, customer_id=customer.id)
    any_checkin = settings.any_checkin_satisfies
    snoozed = snoozed_calls(
        store,
        [customer],
        {customer.id: contact.checkin_at if any_checkin else contact.call_at},
        team_id=team_id,
        now=now,
        default_tz=settings.default_tz,
    )
    facts = customer_facts(
        customer,
        contact,
        now=now,
        default_tz=settings.default_tz,
        any_checkin=any_checkin,
        snoozed_since=snoozed.since.get(customer.id),
    )
    if customer.id in snoozed.back_today:
        facts = replace(facts, due_today=True)  # as the Home row says it
    facts = with_next_nudge(
        facts, now=now, default_tz=settings.default_tz, comes_back=snoozed.comes_back.get(customer.id)
    )
    (facts,) = not_nudged_twice(store, [facts], team_id=team_id, now=now, comes_back=snoozed.comes_back)
    points = store.home_health_points(
        team_id=team_id, customer_ids=[customer.id], since=(now - timedelta(weeks=SPARK_WEEKS + 1)).date()
    )
    trend = health_trend(points.get(customer.id, []), now=now, tz=facts.tz)
    boundaries = store.home_active_boundaries(team_id=team_id, customer_ids=[customer.id]).get(customer.id, [])
    theirs = store.survey_responses(
        team_id=team_id, survey="customer_view", customer_id=customer.id, external=True, limit=50
    )
    latest = {
        survey: store.latest_survey_response(team_id=team_id, survey=survey, customer_id=customer.id)
        for survey in ("profile", "scorecard", "practices")
    }
    return card_modal(
        facts,
        trend=trend,
        boundaries=boundaries,
        now=now,
        their_views=theirs,
        profile=latest["profile"],
        scorecard=latest["scorecard"],
        practices=latest["practices"],
        boundary_records=store.boundary_records(team_id=team_id, customer_id=customer.id),
        boundary_policy=settings.boundary_policy,
        notice=notice,
    )


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
    """The customer's card for a Home row, with the card's survey buttons (they push the survey on top of it)."""
    ack()
    team_id = context.team_id or body["team"]["id"]
    customer = _customer(store, team_id, action)
    view = home_card(store, settings, team_id=team_id, customer=customer, now=clock())
    client.views_open(trigger_id=body["trigger_id"], view=view)


def modal_source(body: dict[str, Any]) -> dict[str, Any] | None:
    """The modal a click came from (Slack lets a modal's click only push a view, not open one); None otherwise."""
    view = body.get("view") or {}
    if (body.get("container") or {}).get("type") == "view" and view.get("type") == "modal":
        return view
    return None


def home_card_customer(view: dict[str, Any]) -> int | None:
    """The customer whose Home card `view` is; None for any other view."""
    try:
        data = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return None
    return metadata_row_id(data.get(CARD_METADATA_KEY)) if isinstance(data, dict) else None
