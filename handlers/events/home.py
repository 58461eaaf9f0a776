"""App Home: rendered from a fixed number of queries and published when the user opens the tab."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from slack_bolt import BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.clock import Clock
from bot.settings import Settings
from handlers.blocks.home import (
    PAGE_SIZE,
    SPARK_WEEKS,
    CadenceDays,
    CustomerFacts,
    HomePage,
    HomeState,
    WeekSummary,
    apply_filters,
    customer_facts,
    health_trend,
    page_count,
    risk_facts,
    sort_by_risk,
    with_next_nudge,
)
from handlers.blocks.home import home_view as build_home_view
from handlers.home_publisher import remember_state
from schedules import planner
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
    """Five statements whatever the number of customers: every customer in scope as a light row with its last
    contact (enough to rank, filter and count them), then, for the one page shown, the full customers with their
    last check-ins, their health snapshots and active boundaries, and the header counts.

    The cadence maths is shared per (calendar, cadence) pair through one CadenceDays; the next nudge, the
    costliest search, runs for the rows shown only."""
    owner = None if state.scope == "team" else user_id
    days = CadenceDays(now=now, default_tz=default_tz)
    with store.home_reads() as reads:  # one connection for the render's five statements
        candidates = reads.home_candidates(team_id=team_id, owner_id=owner, any_checkin=any_checkin)
        # "Call due today" is counted in the header for the viewer's own customers; other rows get it when shown.
        ranked = [risk_facts(c, days=days, due_today=c.owner_id == user_id) for c in candidates]
        back_today = snoozed_calls_back_today(
            store,
            [c for c in candidates if c.snoozed_until is not None],
            {c.id: c.last_contact_at for c in candidates},
            team_id=team_id,
            now=now,
            default_tz=default_tz,
        )
        ranked = [
            replace(f, due_today=True) if f.candidate.id in back_today and f.candidate.owner_id == user_id else f
            for f in ranked
        ]
        chosen = sort_by_risk(apply_filters(ranked, state, user_id))
        page = min(state.page, page_count(len(chosen)) - 1)
        ids = [f.candidate.id for f in chosen[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]]
        loaded = {c.id: (c, contact) for c, contact in reads.dashboard_rows(team_id=team_id, customer_ids=ids)}
        since = (now - timedelta(weeks=SPARK_WEEKS + 1)).date()
        points = reads.home_health_points(team_id=team_id, customer_ids=ids, since=since)
        boundaries = reads.home_active_boundaries(team_id=team_id, customer_ids=ids)
        counts = reads.home_header_counts(team_id=team_id, owner_id=user_id, now=now)
    if page != state.page:
        state = HomeState(scope=state.scope, show=state.show, tier=state.tier, page=page)
    facts = [
        customer_facts(*loaded[cid], now=now, default_tz=default_tz, any_checkin=any_checkin, days=days)
        for cid in ids
        if cid in loaded  # archived between the two reads: left out
    ]
    comes_back = snoozed_calls_back_of(store, facts, team_id=team_id, now=now, default_tz=default_tz)
    shown = [
        with_next_nudge(
            replace(f, due_today=True) if f.customer.id in back_today else f,
            now=now,
            default_tz=default_tz,
            days=days,
            comes_back=comes_back.get(f.customer.id or 0),
        )
        for f in facts
    ]
    mine = [f for f in ranked if f.candidate.owner_id == user_id]
    tiers = sorted({c.tier for c in candidates if c.tier}, key=str.lower)
    return HomePage(
        state=state,
        rows=shown,
        total=len(chosen),
        week=WeekSummary.of(mine, counts),
        tiers=tiers,
        trends={f.customer.id or 0: health_trend(points.get(f.customer.id or 0, []), now=now, tz=f.tz) for f in shown},
        boundaries=boundaries,
        has_customers=bool(candidates),
    )


def snoozed_calls_back_of(
    store: Store, facts: Sequence[CustomerFacts], *, team_id: str, now: datetime, default_tz: str
) -> dict[int, datetime]:
    """When the snoozed calls of these rows come back (no statement when none of them is snoozed)."""
    customers = [f.customer for f in facts]
    snoozes = store.snoozes(team_id=team_id, customers=customers, after=now)
    if not snoozes:
        return {}
    last_calls = {f.customer.id or 0: f.last_contact_at for f in facts}
    return planner.snoozed_calls_back(customers, snoozes, last_calls, now=now, default_tz=default_tz)


def snoozed_calls_back_today(
    store: Store,
    customers: Sequence[planner.Scheduled],
    last_calls: Mapping[int | None, datetime | None],
    *,
    team_id: str,
    now: datetime,
    default_tz: str,
) -> set[int]:
    """The customers whose snoozed call comes back today (customer-local) and is still to log: a call due today, as
    Home says of any call's day (a weekly Tuesday call snoozed for a day is Wednesday's). No statement when nobody
    is snoozed."""
    snoozes = store.snoozes(team_id=team_id, customers=customers, after=now) if customers else {}
    found: set[int] = set()
    for customer in customers:
        if customer.id is None or customer.id not in snoozes:
            continue
        cal = planner.calendar_of(customer, default_tz=default_tz)
        reminder = planner.snooze_reminder(customer, cal, snoozes[customer.id], last_calls.get(customer.id))
        if reminder is not None and reminder.slot.local_date == cal.local_date(now):
            found.add(customer.id)
    return found


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
    try:
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
    except (SlackApiError, OSError) as e:  # OSError: a timeout or a dropped connection to Slack
        # Slack busy, down or refusing the view: the tab shows what it showed, and opening it again asks anew. An
        # error answer here would only make Slack redeliver the event, and count against the app's event delivery.
        error = e.response.get("error") if isinstance(e, SlackApiError) else repr(e)
        logger.warning("could not publish the Home of %s (team=%s): %s", event["user"], context.team_id, error)
