"""The App Home dashboard: per-customer facts (pure, from domain rules) and the Block Kit view built from them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, Literal

from domain.cadence import (
    Cadence,
    is_satisfied,
    launch_cadence,
    next_slot,
    occurrences,
    parse_cadence,
    standing,
)
from domain.calendar import WorkCalendar
from domain.health import sparkline, weekly_series
from handlers.blocks import MOOD_EMOJI, ago, button, context, plain, section, truncate
from handlers.ids import (
    HOME_NEXT_PAGE,
    HOME_OPEN_CARD,
    HOME_PREV_PAGE,
    HOME_SCOPE,
    HOME_SHOW,
    HOME_SNOOZE,
    HOME_TIER,
    OPEN_CHECKIN,
)
from storage.home import HomeHeaderCounts, LastContact
from storage.models import Boundary, Customer

PAGE_SIZE = 20  # 3 blocks a customer + 9 around them stays well under Slack's 100 blocks for Home
MAX_HOME_BLOCKS = 100
SPARK_WEEKS = 12
NO_VALUE = "—"
BAND_EMOJI = {**MOOD_EMOJI, "unknown": ":white_circle:"}
_BAND_RISK = {"red": 0, "yellow": 1, "unknown": 2, "green": 3}
NO_TIER = "__none__"  # the tier filter's value for customers without a tier
MAX_LOOKBACK_DAYS = 400  # longer than any cadence's gap: a last check-in older than this is no contact at all

Scope = Literal["mine", "team"]
Show = Literal["all", "risk"]


# --------------------------------------------------------------------------- view state


@dataclass(frozen=True)
class HomeState:
    """What the viewer chose to look at; travels in the Home view's private_metadata."""

    scope: Scope = "mine"
    show: Show = "all"
    tier: str | None = None
    page: int = 0

    def to_metadata(self) -> str:
        return json.dumps({"scope": self.scope, "show": self.show, "tier": self.tier, "page": self.page})

    @classmethod
    def from_metadata(cls, text: str | None) -> HomeState:
        """Anything unreadable (an old view, a hand-edited payload) falls back to the defaults."""
        try:
            data = json.loads(text or "{}")
        except ValueError:
            return cls()
        if not isinstance(data, dict):
            return cls()
        scope = data.get("scope") if data.get("scope") in ("mine", "team") else "mine"
        show = data.get("show") if data.get("show") in ("all", "risk") else "all"
        tier = data.get("tier") if isinstance(data.get("tier"), str) and data.get("tier") else None
        page = data.get("page") if isinstance(data.get("page"), int) and data.get("page", 0) >= 0 else 0
        return cls(scope=scope, show=show, tier=tier, page=page)  # type: ignore[arg-type]

    def with_filter(self, **changes: Any) -> HomeState:
        """A new filter always starts again on the first page."""
        return replace(self, page=0, **changes)


# --------------------------------------------------------------------------- per-customer facts


@dataclass(frozen=True)
class CustomerFacts:
    """Everything a Home row or the digest says about one customer, computed from domain rules."""

    customer: Customer
    contact: LastContact
    band: str  # health band: green / yellow / red / unknown
    score: int | None
    overdue: bool  # past the cadence's maximum window (standing red)
    due_today: bool  # a call is due today (customer-local) and none was logged yet
    next_nudge: datetime | None  # UTC
    next_note: str  # "paused", "snoozed until …", "no cadence" — when there is no next nudge to show
    tz: str
    last_contact_at: datetime | None = None  # what satisfies the cadence: the last call, or any check-in

    @property
    def at_risk(self) -> bool:
        return self.band in ("red", "yellow") or self.overdue

    def risk_key(self) -> tuple[int, int, int, str]:
        score = self.score if self.score is not None else 101
        return (_BAND_RISK.get(self.band, 2), 0 if self.overdue else 1, score, self.customer.name_key)


@lru_cache(maxsize=1024)
def _calendar(tz: str, country: str | None, working_week: str | None, subdiv: str | None) -> WorkCalendar:
    return WorkCalendar.create(tz, country, working_week, subdiv=subdiv)


@lru_cache(maxsize=1024)
def _cadence(text: str | None) -> Cadence:
    return parse_cadence(text) if text else parse_cadence("off")


def customer_calendar(customer: Customer, default_tz: str) -> WorkCalendar:
    # Cached: a team's customers share a handful of calendars, and building one validates zone and holidays.
    return _calendar(customer.tz or default_tz, customer.country, customer.working_week, customer.subdiv)


def _calendar_and_cadence(customer: Customer, *, now: datetime, default_tz: str) -> tuple[WorkCalendar, Cadence] | None:
    """The customer's calendar and today's cadence (launch mode applied); None when stored settings are invalid."""
    try:
        cal = customer_calendar(customer, default_tz)
        normal = _cadence(customer.cadence)
    except ValueError:
        return None
    return cal, launch_cadence(normal, launch_until=customer.launch_until, today=cal.local_date(now))


def customer_facts(
    customer: Customer,
    contact: LastContact | None,
    *,
    now: datetime,
    default_tz: str,
    due_today: bool = True,
    any_checkin: bool = False,
) -> CustomerFacts:
    """Health and overdue for one customer — cheap enough for every customer of a team — and, unless
    `due_today` is False, whether a call is due today (see `with_due_today`). Like the cadence engine, only a
    call satisfies the cadence unless `any_checkin` (PARTNER_ANY_CHECKIN_SATISFIES).

    The next nudge (a longer calendar search) is left to `with_next_nudge`, run only for the rows shown.
    Bad stored settings degrade to "—" rather than failing the page.
    """
    contact = contact or LastContact()
    band = customer.health_band if customer.health_band in _BAND_RISK else "unknown"
    facts = CustomerFacts(
        customer=customer,
        contact=contact,
        band=band,
        score=customer.health_score,
        overdue=False,
        due_today=False,
        next_nudge=None,
        next_note="no cadence",
        tz=customer.tz or default_tz,
        last_contact_at=contact.checkin_at if any_checkin else contact.call_at,
    )
    found = _calendar_and_cadence(customer, now=now, default_tz=default_tz)
    if found is None:
        return replace(facts, next_note=NO_VALUE)
    cal, cadence = found
    if cadence.is_off:
        return facts
    last = facts.last_contact_at
    state = standing(cadence, cal, last_contact_at=last, now=now, created_at=customer.created_at)
    facts = replace(facts, overdue=state.state == "red", next_note="")
    if customer.paused_at is not None:
        return replace(facts, next_note="paused")
    return with_due_today(facts, now=now, default_tz=default_tz) if due_today else facts


def with_due_today(facts: CustomerFacts, *, now: datetime, default_tz: str) -> CustomerFacts:
    """Whether a call is due today (customer-local) that no check-in has satisfied yet."""
    customer = facts.customer
    found = _calendar_and_cadence(customer, now=now, default_tz=default_tz)
    if found is None or found[1].is_off or customer.paused_at is not None or facts.due_today:
        return facts
    cal, cadence = found
    today = cal.local_date(now)
    last = facts.last_contact_at
    if last is not None and cal.local_date(last) >= today:
        return facts  # heard from today: whatever is due today is satisfied
    day_start = cal.at_local(today, time(0, 0))
    day_end = cal.at_local(today + timedelta(days=1), time(0, 0))
    if customer.snoozed_until is not None and customer.snoozed_until >= day_end:
        return facts
    if next(occurrences(cadence, cal, day_start, day_end), None) is None:
        return facts  # no call scheduled today
    if last is None:
        return replace(facts, due_today=True)
    # Today's slot counts calls since the previous slot: it is still open unless the last check-in came after
    # every earlier slot, i.e. no slot fell between the last check-in's day and today.
    since = cal.at_local(max(cal.local_date(last), today - timedelta(days=MAX_LOOKBACK_DAYS)), time(0, 0))
    return replace(facts, due_today=next(occurrences(cadence, cal, since, day_start), None) is not None)


def with_next_nudge(facts: CustomerFacts, *, now: datetime, default_tz: str) -> CustomerFacts:
    """Adds when the next nudge is due, honouring pause, snooze, launch mode and a call already logged."""
    customer = facts.customer
    found = _calendar_and_cadence(customer, now=now, default_tz=default_tz)
    if found is None or found[1].is_off or customer.paused_at is not None:
        return facts
    cal, cadence = found
    snoozed = customer.snoozed_until is not None and customer.snoozed_until > now
    after = customer.snoozed_until if snoozed and customer.snoozed_until is not None else now
    slot = next_slot(cadence, cal, after=after)
    if slot is not None and is_satisfied(slot, facts.last_contact_at, cal):
        slot = next_slot(cadence, cal, after=slot.due_at)  # a call already logged for it: no nudge
    if slot is None:
        note = f"snoozed until {local_time(customer.snoozed_until, facts.tz)}" if snoozed else "no call scheduled"
        return replace(facts, next_note=note)
    return replace(facts, next_nudge=slot.due_at, next_note="")


def local_time(instant: datetime | None, tz: str) -> str:
    """ "Tue 1 Dec 09:00 EST" in the customer's own zone."""
    if instant is None:
        return NO_VALUE
    local = instant.astimezone(WorkCalendar(tz=tz).zone())
    return f"{local:%a} {local.day} {local:%b %H:%M %Z}"


def health_trend(
    points: Sequence[tuple[date, int]], *, now: datetime, tz: str, weeks: int = SPARK_WEEKS
) -> list[int | None]:
    """The last value of each of the last `weeks` weeks; a snapshot's day is a customer-local date."""
    zone = WorkCalendar(tz=tz).zone()
    stamped = [(datetime.combine(day, time(12), tzinfo=zone), score) for day, score in points]
    return weekly_series(stamped, now=now, weeks=weeks, tz=tz)


def trend_text(series: Sequence[int | None]) -> str:
    return sparkline(series) if any(v is not None for v in series) else NO_VALUE


def sort_by_risk(facts: Sequence[CustomerFacts]) -> list[CustomerFacts]:
    return sorted(facts, key=CustomerFacts.risk_key)


def apply_filters(facts: Sequence[CustomerFacts], state: HomeState, viewer_id: str) -> list[CustomerFacts]:
    chosen = [f for f in facts if state.scope == "team" or f.customer.owner_id == viewer_id]
    if state.show == "risk":
        chosen = [f for f in chosen if f.at_risk]
    if state.tier == NO_TIER:
        chosen = [f for f in chosen if not f.customer.tier]
    elif state.tier:
        chosen = [f for f in chosen if (f.customer.tier or "").lower() == state.tier.lower()]
    return chosen


def page_count(total: int) -> int:
    return max(1, -(-total // PAGE_SIZE))


# --------------------------------------------------------------------------- the view


@dataclass(frozen=True)
class WeekSummary:
    """The header strip: the viewer's own customers this week."""

    due_today: int = 0
    overdue: int = 0
    boundaries_slipping: int = 0
    surveys_pending: int = 0

    @classmethod
    def of(cls, mine: Sequence[CustomerFacts], counts: HomeHeaderCounts) -> WeekSummary:
        return cls(
            due_today=sum(1 for f in mine if f.due_today),
            overdue=sum(1 for f in mine if f.overdue),
            boundaries_slipping=counts.boundaries_slipping,
            surveys_pending=counts.surveys_pending,
        )


@dataclass(frozen=True)
class HomePage:
    """One rendered page of the dashboard: the rows shown and what the view needs around them."""

    state: HomeState
    rows: Sequence[CustomerFacts]
    total: int  # customers matching the filters, all pages
    week: WeekSummary
    tiers: Sequence[str]  # tier filter choices
    trends: dict[int, list[int | None]]
    boundaries: dict[int, list[Boundary]]
    has_customers: bool  # any customer at all in the chosen scope, before the at-risk/tier filters


def _option(text: str, value: str) -> dict[str, Any]:
    return {"text": plain(text, 75), "value": value}


def _select(action_id: str, placeholder: str, options: list[dict[str, Any]], chosen: str) -> dict[str, Any]:
    initial = next((o for o in options if o["value"] == chosen), options[0])
    return {
        "type": "static_select",
        "action_id": action_id,
        "placeholder": plain(placeholder, 75),
        "options": options,
        "initial_option": initial,
    }


def filter_block(state: HomeState, tiers: Sequence[str]) -> dict[str, Any]:
    tier_options = [_option("Any tier", "any")]
    known = list(dict.fromkeys([*tiers, *([state.tier] if state.tier and state.tier != NO_TIER else [])]))
    tier_options += [_option(f"Tier: {t}", t) for t in known[:97]]  # a static_select holds at most 100 options
    tier_options.append(_option("No tier", NO_TIER))
    return {
        "type": "actions",
        "block_id": "home_filters",
        "elements": [
            _select(
                HOME_SCOPE,
                "Whose customers",
                [_option("My customers", "mine"), _option("Whole team", "team")],
                state.scope,
            ),
            _select(HOME_SHOW, "Which", [_option("All", "all"), _option("At risk only", "risk")], state.show),
            _select(HOME_TIER, "Tier", tier_options, state.tier or "any"),
        ],
    }


def week_block(week: WeekSummary) -> dict[str, Any]:
    def field(label: str, value: int, emoji: str) -> dict[str, Any]:
        return {"type": "mrkdwn", "text": f"{emoji} *{label}*\n{value}"}

    return {
        "type": "section",
        "block_id": "home_week",
        "fields": [
            field("Calls due today", week.due_today, ":telephone_receiver:"),
            field("Overdue", week.overdue, ":hourglass:"),
            field("Boundaries slipping", week.boundaries_slipping, ":construction:"),
            field("Surveys pending", week.surveys_pending, ":clipboard:"),
        ],
    }


def row_text(facts: CustomerFacts, trend: Sequence[int | None], boundaries: Sequence[Boundary], now: datetime) -> str:
    customer = facts.customer
    title = f"*{customer.name}*"
    if customer.tier:
        title += f"  ·  tier {customer.tier}"
    if customer.owner_id:
        title += f"  ·  <@{customer.owner_id}>"
    score = str(facts.score) if facts.score is not None else NO_VALUE
    health = f"{BAND_EMOJI[facts.band]} *{score}*  `{trend_text(trend)}`"
    contact = facts.contact
    if contact.checkin_at is not None:
        mood = MOOD_EMOJI.get(contact.mood or "", "")
        last = f"{mood} last check-in {ago(contact.checkin_at, now)}".strip()
    else:
        last = "no check-in yet"
    if facts.next_nudge is not None:
        nudge = f"next call {local_time(facts.next_nudge, facts.tz)}"
    else:
        nudge = facts.next_note or "no call scheduled"
    flags = []
    if facts.overdue:
        flags.append(":rotating_light: *overdue*")
    elif facts.due_today:
        flags.append(":telephone_receiver: call due today")
    lines = [title, "  ·  ".join([health, last, nudge, *flags])]
    if boundaries:
        more = f" (+{len(boundaries) - 1} more)" if len(boundaries) > 1 else ""
        lines.append(f":handshake: {truncate(boundaries[0].text, 200)}{more}")
    return "\n".join(lines)


def row_blocks(
    facts: CustomerFacts, trend: Sequence[int | None], boundaries: Sequence[Boundary], now: datetime
) -> list[dict[str, Any]]:
    cid = str(facts.customer.id)
    return [
        section(row_text(facts, trend, boundaries, now), block_id=f"customer_{cid}"),
        {
            "type": "actions",
            "block_id": f"customer_{cid}_actions",
            "elements": [
                button("Log check-in", OPEN_CHECKIN, cid, style="primary"),
                button("Snooze", HOME_SNOOZE, cid),
                button("Open card", HOME_OPEN_CARD, cid),
            ],
        },
        {"type": "divider"},
    ]


def home_view(page: HomePage, *, now: datetime) -> dict[str, Any]:
    """The dashboard for one viewer: week strip, filters, one page of customers sorted by risk, paging."""
    state = page.state
    title = "My customers" if state.scope == "mine" else "Team customers"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "block_id": "home_header", "text": plain(title)},
        week_block(page.week),
        filter_block(state, page.tiers),
        {"type": "divider"},
    ]
    if not page.rows:
        if not page.has_customers and state.scope == "mine":
            blocks.append(section("No customers yet. Add one with `/partner add Acme #acme @owner`."))
        else:
            blocks.append(section("No customer matches these filters."))
    for facts in page.rows:
        cid = facts.customer.id or 0
        blocks += row_blocks(facts, page.trends.get(cid, []), page.boundaries.get(cid, []), now)
    pages = page_count(page.total)
    if page.total:
        shown_from = state.page * PAGE_SIZE + 1
        shown_to = state.page * PAGE_SIZE + len(page.rows)
        blocks.append(
            context(
                f"{shown_from}–{shown_to} of {page.total} customers, riskiest first · page {state.page + 1} of {pages}"
                f" · updated {now:%H:%M} UTC"
            )
        )
    paging = []
    if state.page > 0:
        paging.append(button("← Previous", HOME_PREV_PAGE, str(state.page - 1)))
    if state.page + 1 < pages:
        paging.append(button("Next →", HOME_NEXT_PAGE, str(state.page + 1)))
    if paging:
        blocks.append({"type": "actions", "block_id": "home_pages", "elements": paging})
    assert len(blocks) <= MAX_HOME_BLOCKS, f"Home has {len(blocks)} blocks"
    return {"type": "home", "blocks": blocks, "private_metadata": state.to_metadata()}


def card_modal(
    facts: CustomerFacts, *, trend: Sequence[int | None], boundaries: Sequence[Boundary], now: datetime
) -> dict[str, Any]:
    """A read-only customer card, opened from a Home row."""
    customer = facts.customer
    details = [
        f"*Owner:* <@{customer.owner_id}>" if customer.owner_id else "*Owner:* —",
        f"*Channel:* <#{customer.channel_id}>" if customer.channel_id else "*Channel:* —",
        f"*Time zone:* {facts.tz}",
        f"*Cadence:* {customer.cadence or 'none'}",
        f"*Tier:* {customer.tier or '—'}",
    ]
    if customer.paused_at is not None:
        details.append(f"*Paused* since {local_time(customer.paused_at, facts.tz)}")
    if customer.snoozed_until is not None and customer.snoozed_until > now:
        reason = f" — {customer.snooze_reason}" if customer.snooze_reason else ""
        details.append(f"*Snoozed* until {local_time(customer.snoozed_until, facts.tz)}{reason}")
    blocks: list[dict[str, Any]] = [
        section(row_text(facts, trend, boundaries, now)),
        {"type": "divider"},
        section("\n".join(details)),
        context("Change the cadence, snooze or pause with `/partner` — see `/partner help`."),
    ]
    return {"type": "modal", "title": plain(truncate(customer.name, 24), 24), "close": plain("Close"), "blocks": blocks}
