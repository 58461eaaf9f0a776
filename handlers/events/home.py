"""App Home: rendered from a fixed number of queries and published when the user opens the tab."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from slack_bolt import BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.clock import Clock
from bot.settings import Settings
from domain.boundaries import DEFAULT_POLICY
from domain.calendar import WorkCalendar
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
    with_notice,
)
from handlers.blocks.home import home_view as build_home_view
from handlers.home_publisher import publisher_of
from handlers.permissions import GUEST_CHECKS
from schedules import planner
from schedules.slack_http import TRANSIENT
from storage.db import UNREACHABLE
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
    escalate_window: timedelta = DEFAULT_POLICY.escalate_window,
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
        snoozed = snoozed_calls(
            store,
            candidates,
            {c.id: c.last_contact_at for c in candidates},
            team_id=team_id,
            now=now,
            default_tz=default_tz,
        )
        # "Call due today" is counted in the header for the viewer's own customers; other rows get it when shown.
        ranked = [
            risk_facts(c, days=days, due_today=c.owner_id == user_id, snoozed_since=snoozed.since.get(c.id))
            for c in candidates
        ]
        ranked = [
            replace(f, due_today=True)
            if f.candidate.id in snoozed.back_today and f.candidate.owner_id == user_id
            else f
            for f in ranked
        ]
        chosen = sort_by_risk(apply_filters(ranked, state, user_id))
        page = min(state.page, page_count(len(chosen)) - 1)
        ids = [f.candidate.id for f in chosen[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]]
        loaded = {c.id: (c, contact) for c, contact in reads.dashboard_rows(team_id=team_id, customer_ids=ids)}
        since = (now - timedelta(weeks=SPARK_WEEKS + 1)).date()
        points = reads.home_health_points(team_id=team_id, customer_ids=ids, since=since)
        boundaries = reads.home_active_boundaries(team_id=team_id, customer_ids=ids)
        open_escalations = reads.home_open_escalations(team_id=team_id, boundaries=boundaries)
        counts = reads.home_header_counts(team_id=team_id, owner_id=user_id, now=now)
    if page != state.page:
        state = HomeState(scope=state.scope, show=state.show, tier=state.tier, page=page)
    facts = [
        customer_facts(
            *loaded[cid],
            now=now,
            default_tz=default_tz,
            any_checkin=any_checkin,
            days=days,
            snoozed_since=snoozed.since.get(cid),
        )
        for cid in ids
        if cid in loaded  # archived between the two reads: left out
    ]
    shown = [
        with_next_nudge(
            replace(f, due_today=True) if f.customer.id in snoozed.back_today else f,
            now=now,
            default_tz=default_tz,
            days=days,
            comes_back=snoozed.comes_back.get(f.customer.id or 0),
        )
        for f in facts
    ]
    shown = not_nudged_twice(store, shown, team_id=team_id, now=now, days=days, comes_back=snoozed.comes_back)
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
        open_escalations=open_escalations,
        has_customers=bool(candidates),
        team_has_customers=counts.team_has_customers,
        escalate_window=escalate_window,
    )


@dataclass(frozen=True)
class SnoozedCalls:
    """Where the snoozed calls of a Home come back: whose comes back today (a call due today, as Home says of any
    call's day) and when each comes back (before the first call after the snooze)."""

    back_today: frozenset[int] = frozenset()
    comes_back: Mapping[int, datetime] = field(default_factory=dict)
    since: Mapping[int, datetime] = field(default_factory=dict)  # when each current snooze was set: it may hold overdue


def snoozed_calls(
    store: Store,
    customers: Sequence[planner.Scheduled],
    last_calls: Mapping[int | None, datetime | None],
    *,
    team_id: str,
    now: datetime,
    default_tz: str,
) -> SnoozedCalls:
    """The snoozed calls of these customers, from one read of their snoozes (no statement when nobody is snoozed)."""
    snoozed = [c for c in customers if c.snoozed_until is not None]
    snoozes = store.snoozes(team_id=team_id, customers=snoozed, after=now) if snoozed else {}
    if not snoozes:
        return SnoozedCalls()
    owed = planner.snooze_reminders(snoozed, snoozes, last_calls, default_tz=default_tz)
    return SnoozedCalls(
        back_today=frozenset(cid for cid, (cal, r) in owed.items() if r.slot.local_date == cal.local_date(now)),
        comes_back={cid: r.slot.due_at for cid, (_, r) in owed.items() if r.slot.due_at > now},
        since={cid: snooze.since for cid, snooze in snoozes.items()},
    )


def at_risk_ids(store: Store, *, team_id: str, now: datetime, default_tz: str, any_checkin: bool = False) -> set[int]:
    """The team's customers at risk as Home's *At risk only* filter and the digest count them (domain.health.at_risk,
    overdue by the owner's alert's rule): `/partner list at-risk` lists these. One statement (two with a snooze)."""
    days = CadenceDays(now=now, default_tz=default_tz)
    candidates = store.home_candidates(team_id=team_id, any_checkin=any_checkin)
    last_calls = {c.id: c.last_contact_at for c in candidates}
    snoozed = snoozed_calls(store, candidates, last_calls, team_id=team_id, now=now, default_tz=default_tz)
    return {
        c.id
        for c in candidates
        if risk_facts(c, days=days, due_today=False, snoozed_since=snoozed.since.get(c.id)).at_risk
    }


def not_nudged_twice(
    store: Store,
    facts: Sequence[CustomerFacts],
    *,
    team_id: str,
    now: datetime,
    days: CadenceDays | None = None,
    comes_back: Mapping[int, datetime] | None = None,
) -> list[CustomerFacts]:
    """The rows whose next nudge is later today, when the customer was changed today: its call's time moved after
    that day's one nudge went out shows tomorrow's, as the outbox will send it. A statement only then (rarely)."""
    zone = {f.customer.id: WorkCalendar(tz=f.tz).zone() for f in facts}

    def today(f: CustomerFacts, at: datetime) -> bool:
        return at.astimezone(zone[f.customer.id]).date() == now.astimezone(zone[f.customer.id]).date()

    moved = [
        f.customer.id
        for f in facts
        if f.customer.id is not None
        and f.next_nudge is not None
        and today(f, f.next_nudge)
        and f.customer.updated_at > f.customer.created_at
        and today(f, f.customer.updated_at)
    ]
    nudged = store.nudged_days(team_id=team_id, customer_ids=moved, since=now - planner.TODAYS_NUDGES) if moved else {}
    if not nudged:
        return list(facts)
    return [
        with_next_nudge(
            f,
            now=now,
            default_tz=f.tz,
            days=days,
            comes_back=(comes_back or {}).get(f.customer.id),
            nudged_days=nudged[f.customer.id],
        )
        if f.customer.id in nudged
        else f
        for f in facts
    ]


def render_home(
    *,
    store: Store,
    team_id: str,
    user_id: str,
    state: HomeState,
    now: datetime,
    default_tz: str,
    any_checkin: bool = False,
    escalate_window: timedelta = DEFAULT_POLICY.escalate_window,
) -> dict[str, Any]:
    page = home_page(
        store=store,
        team_id=team_id,
        user_id=user_id,
        state=state,
        now=now,
        default_tz=default_tz,
        any_checkin=any_checkin,
        escalate_window=escalate_window,
    )
    return build_home_view(page, now=now)


def _short_home(text: str) -> dict[str, Any]:
    return {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


GUEST_HOME = _short_home(
    ":wave: *Partner is for this workspace's full members.*\nSlack shows you as a guest, so Partner's customers, "
    "check-ins and health scores are not shown here. A workspace admin can tell you more."
)


def home_for_non_member(client: WebClient, *, team_id: str, user_id: str) -> dict[str, Any] | None:
    """The short view a guest gets instead of the dashboard; None for a full member (and, when Slack cannot say,
    for someone it never called a guest: handlers/permissions.py)."""
    return GUEST_HOME if GUEST_CHECKS.is_guest(client, team_id=team_id, user_id=user_id, when_unknown=False) else None


def publish_newest(
    client: WebClient,
    store: Store,
    *,
    team_id: str,
    user_id: str,
    render: Callable[[], dict[str, Any]],
    now: datetime,
    shown_hash: str | None = None,
) -> dict[str, Any]:
    """Publishes `render()` as `user_id`'s Home unless another publish (this replica's or another's) overtook it.

    The hash of the Home Slack shows is known BEFORE rendering — `shown_hash`, sent by Slack with the click or the
    tab's opening, else the one kept by the last publish of any replica — and passed to views.publish: if anyone
    published since, Slack answers hash_conflict, as that publish may show newer data than this render read. The
    Home is then rendered once more, from data read after that publish, and published without a hash: it is at
    least as new as anything Slack shows. The new hash is kept for the next publish, whichever replica makes it."""
    known = shown_hash or store.home_published_hash(team_id=team_id, user_id=user_id)
    view = render()
    try:
        response = client.views_publish(user_id=user_id, view=view, hash=known)
    except SlackApiError as error:
        if error.response.get("error") != "hash_conflict":
            raise
        logger.info("the Home of %s (team=%s) was published meanwhile: rendered again", user_id, team_id)
        view = render()
        response = client.views_publish(user_id=user_id, view=view)
    published = response.get("view") or {}
    try:
        store.keep_home_published_hash(team_id=team_id, user_id=user_id, view_hash=published.get("hash"), now=now)
    except UNREACHABLE as error:  # published: the next publish, passing an older hash, is only rendered twice
        logger.warning("could not keep the Home hash of %s (team=%s): %r", user_id, team_id, error)
    return view


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
    escalate_window: timedelta = DEFAULT_POLICY.escalate_window,
    notice: str | None = None,
    shown_hash: str | None = None,
) -> dict[str, Any]:
    """Renders and publishes `user_id`'s Home; `notice` is said under its header (until the next publish).
    `shown_hash`: the hash of the Home view Slack sent with the click or the opening (publish_newest)."""
    # Asked here too, not only when the tab is opened: background refreshes publish to past viewers.
    short = home_for_non_member(client, team_id=team_id, user_id=user_id)
    if short is not None:
        client.views_publish(user_id=user_id, view=short)
        return short

    def render() -> dict[str, Any]:
        view = render_home(
            store=store,
            team_id=team_id,
            user_id=user_id,
            state=state,
            now=now,
            default_tz=default_tz,
            any_checkin=any_checkin,
            escalate_window=escalate_window,
        )
        return with_notice(view, notice) if notice else view

    return publish_newest(
        client, store, team_id=team_id, user_id=user_id, render=render, now=now, shown_hash=shown_hash
    )


def save_home_state(store: Store, *, team_id: str, user_id: str, state: HomeState, now: datetime) -> None:
    """Keeps the filters and page a user chose in the database, so a refresh published by any replica, or after a
    restart, shows them (not the defaults) until they choose others."""
    store.save_home_state(
        team_id=team_id,
        user_id=user_id,
        scope=state.scope,
        show=state.show,
        tier=state.tier,
        page=state.page,
        now=now,
    )


def saved_home_state(store: Store, *, team_id: str, user_id: str) -> HomeState:
    """The filters and page `user_id` last chose (the defaults if none, or if the row no longer reads as one)."""
    row = store.home_state(team_id=team_id, user_id=user_id)
    if row is None:
        return HomeState()
    # Validated as a view's own state is (an unknown scope falls back to "mine").
    return HomeState.from_values({"scope": row.scope, "show": row.show, "tier": row.tier, "page": row.page})


def app_home_opened(
    event: dict[str, Any], context: BoltContext, client: WebClient, store: Store, clock: Clock, settings: Settings
) -> None:
    if event.get("tab", "home") != "home":
        return
    # Slack sends the Home view already published (if any): keep the filters and page the user left it on.
    state = HomeState.from_metadata((event.get("view") or {}).get("private_metadata"))
    team_id, user_id = context.team_id or "", event["user"]
    # A guest's choices are not stored: they are no viewer of the dashboard, and get the short view instead.
    short = home_for_non_member(client, team_id=team_id, user_id=user_id)
    if short is None and state != HomeState() and store.home_state(team_id=team_id, user_id=user_id) is None:
        # Chosen before they were kept in the database (0013_home_state), on that view only: kept now, so the
        # background refreshes (and a whole-team view's, which reads who chose it) show them too.
        save_home_state(store, team_id=team_id, user_id=user_id, state=state, now=clock())
    try:
        if short is not None:
            client.views_publish(user_id=user_id, view=short)
            return
        publish_home(
            client=client,
            store=store,
            team_id=context.team_id or "",
            user_id=event["user"],
            state=state,
            now=clock(),
            default_tz=settings.default_tz,
            any_checkin=settings.any_checkin_satisfies,
            escalate_window=settings.boundary_policy.escalate_window,
            shown_hash=(event.get("view") or {}).get("hash"),
        )
    except (SlackApiError, OSError) as e:  # OSError: a timeout or a dropped connection to Slack
        # Slack busy, down or refusing the view: the tab shows what it showed, and opening it again asks anew. An
        # error answer here would only make Slack redeliver the event, and count against the app's event delivery.
        error = e.response.get("error") if isinstance(e, SlackApiError) else repr(e)
        logger.warning("could not publish the Home of %s (team=%s): %s", event["user"], context.team_id, error)
        if not isinstance(e, SlackApiError) or _passing(e):
            # Slack busy or down (a Retry-After too long to wait out while Slack waits for this answer): published
            # again after the answer, through the debounced refresh, whose client waits the Retry-After out; else a
            # first look at the tab stays blank until the user happens to open it again.
            publisher = publisher_of(context)
            if publisher is not None:
                publisher.request(team_id, [user_id])


def _passing(error: SlackApiError) -> bool:
    """Slack's own trouble (rate limit, 5xx), gone on a later try; a refused view or token is not retried."""
    status = error.response.status_code
    return status == 429 or status >= 500 or str(error.response.get("error") or "") in TRANSIENT
