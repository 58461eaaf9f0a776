"""App Home: rendered from a fixed number of queries and published when the user opens the tab."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from slack_bolt import BoltContext
from slack_sdk import WebClient

from bot.clock import Clock
from bot.settings import Settings
from handlers.blocks.home import (
    PAGE_SIZE,
    SPARK_WEEKS,
    HomePage,
    HomeState,
    WeekSummary,
    apply_filters,
    customer_facts,
    health_trend,
    page_count,
    sort_by_risk,
    with_due_today,
    with_next_nudge,
)
from handlers.blocks.home import home_view as build_home_view
from handlers.home_publisher import remember_state
from storage.store import Store

logger = logging.getLogger(__name__)


def home_page(
    *,
    store: Store,
    team_id: str,
    user_id: str,
    state: HomeState,
    now: datetime,
    default_tz: str,
    any_checkin: bool = False,
) -> HomePage:
    """Four statements whatever the number of customers: customers with their last contacts, the header counts,
    and the health snapshots and active boundaries of the one page shown."""
    owner = None if state.scope == "team" else user_id
    rows = store.dashboard_rows(team_id=team_id, owner_id=owner)
    customers = [customer for customer, _ in rows]
    # "Call due today" is a longer calendar look-up: only for the viewer's own customers (the header counts
    # them) and for the rows shown.
    facts = [
        customer_facts(
            c, contact, now=now, default_tz=default_tz, due_today=c.owner_id == user_id, any_checkin=any_checkin
        )
        for c, contact in rows
    ]
    chosen = sort_by_risk(apply_filters(facts, state, user_id))
    page = min(state.page, page_count(len(chosen)) - 1)
    if page != state.page:
        state = HomeState(scope=state.scope, show=state.show, tier=state.tier, page=page)
    shown = [
        with_next_nudge(with_due_today(f, now=now, default_tz=default_tz), now=now, default_tz=default_tz)
        for f in chosen[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    ]
    ids = [f.customer.id for f in shown if f.customer.id is not None]
    since = (now - timedelta(weeks=SPARK_WEEKS + 1)).date()
    points = store.home_health_points(team_id=team_id, customer_ids=ids, since=since)
    boundaries = store.home_active_boundaries(team_id=team_id, customer_ids=ids)
    counts = store.home_header_counts(team_id=team_id, owner_id=user_id, now=now)
    mine = [f for f in facts if f.customer.owner_id == user_id]
    tiers = sorted({c.tier for c in customers if c.tier}, key=str.lower)
    return HomePage(
        state=state,
        rows=shown,
        total=len(chosen),
        week=WeekSummary.of(mine, counts),
        tiers=tiers,
        trends={f.customer.id or 0: health_trend(points.get(f.customer.id or 0, []), now=now, tz=f.tz) for f in shown},
        boundaries=boundaries,
        has_customers=bool(customers),
    )


def render_home(
    *,
    store: Store,
    team_id: str,
    user_id: str,
    state: HomeState,
    now: datetime,
    default_tz: str,
    any_checkin: bool = False,
) -> dict[str, Any]:
    page = home_page(
        store=store,
        team_id=team_id,
        user_id=user_id,
        state=state,
        now=now,
        default_tz=default_tz,
        any_checkin=any_checkin,
    )
    return build_home_view(page, now=now)


def publish_home(
    *,
    client: WebClient,
    store: Store,
    team_id: str,
    user_id: str,
    state: HomeState,
    now: datetime,
    default_tz: str,
    any_checkin: bool = False,
) -> dict[str, Any]:
    view = render_home(
        store=store,
        team_id=team_id,
        user_id=user_id,
        state=state,
        now=now,
        default_tz=default_tz,
        any_checkin=any_checkin,
    )
    remember_state(team_id, user_id, page_state(view))  # before publishing: a refresh right after must see it
    client.views_publish(user_id=user_id, view=view)
    return view


def page_state(view: dict[str, Any]) -> HomeState:
    """The state actually shown (the page may have been clamped to the last one)."""
    return HomeState.from_metadata(view.get("private_metadata"))


def app_home_opened(
    event: dict[str, Any], context: BoltContext, client: WebClient, store: Store, clock: Clock, settings: Settings
) -> None:
    if event.get("tab", "home") != "home":
        return
    # Slack sends the Home view already published (if any): keep the filters and page the user left it on.
    state = HomeState.from_metadata((event.get("view") or {}).get("private_metadata"))
    publish_home(
        client=client,
        store=store,
        team_id=context.team_id or "",
        user_id=event["user"],
        state=state,
        now=clock(),
        default_tz=settings.default_tz,
        any_checkin=settings.any_checkin_satisfies,
    )
