"""`/partner list [mine|all] [at-risk] [tier=…] [page=N]`: the compact customer list, a page at a time."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.settings import Settings
from domain.cadence import Standing
from domain.calendar import WorkCalendar
from domain.customers import next_nudge, work_calendar
from domain.errors import UserError
from domain.surveys import LEVELS
from handlers.blocks import tier_text
from handlers.blocks.customers import NO_MATCH, CustomerRow, list_message
from handlers.blocks.home import CadenceDays
from handlers.commands.base import CommandCall, Reply
from handlers.events.home import at_risk_ids, snoozed_calls
from handlers.parsing import parse_key_value, tokenize
from schedules import planner
from storage.models import Customer
from storage.store import Store

USAGE = "/partner list [mine|all] [at-risk] [tier=…] [page=N]"
PAGE_SIZE = 20  # 20 rows + header + paging stay far below Slack's 50 blocks a message


@dataclass(frozen=True)
class ListFilter:
    mine: bool = False
    at_risk: bool = False
    tier: str | None = None
    page: int = 1

    @property
    def args(self) -> str:
        """The filters as typed again (without the page), for the Previous/Next buttons."""
        words = ["mine" if self.mine else "all"]
        if self.at_risk:
            words.append("at-risk")
        if self.tier:
            words.append(f"tier={self.tier}")
        return " ".join(words)


def _tier(typed: str) -> str:
    """A tier as the level survey sets it: `supplier`, `supplier_of_choice` (or supplier-of-choice) or `partner`."""
    tier = re.sub(r"[\s-]+", "_", typed.strip().casefold())
    if tier not in LEVELS:
        raise UserError(f"'{typed}' is not a tier: use tier={', tier='.join(LEVELS)}. Usage: `{USAGE}`")
    return tier


# `tier=supplier of choice` typed with spaces, or quoted as `tier="supplier of choice"`: one token.
_SPACED_TIER = re.compile(r"""\btier=["“]?(supplier[\s_-]+of[\s_-]+choice)["”]?""", re.IGNORECASE)
# `at risk` as two words, as it is said (`at-risk` is the one word the usage shows)
_SPACED_AT_RISK = re.compile(r"\bat\s+risk\b", re.IGNORECASE)


def parse_list_args(text: str) -> ListFilter:
    mine, at_risk, tier, page = False, False, None, 1
    # Two words for one choice that disagree (mine … all, tier=a … tier=b) are named: one would be dropped unsaid.
    given: dict[str, str] = {}

    def once(choice: str, token: str) -> None:
        first = given.setdefault(choice, token)
        if first.casefold() != token.casefold():
            raise UserError(f"'{first}' and '{token}' can't both be given: pick one. Usage: `{USAGE}`")

    text = _SPACED_AT_RISK.sub("at-risk", _SPACED_TIER.sub("tier=supplier_of_choice", text or ""))
    for token in tokenize(text):
        word = token.lower()
        pair = parse_key_value(token)
        if word in ("customers", "customer"):  # `list my customers`, `list customers at risk`: said as a sentence
            continue
        if word in ("mine", "my"):
            once("whose", "mine")
            mine = True
        elif word in ("all", "team", "everyone"):
            once("whose", "all")
            mine = False
        elif word in ("at-risk", "atrisk", "risk", "at_risk"):
            at_risk = True
        elif pair is not None and pair[0] == "tier" and pair[1].strip():
            tier = _tier(pair[1])
            once("tier", f"tier={tier}")
        elif pair is not None and pair[0] == "page" and pair[1].isdecimal() and int(pair[1]) >= 1:
            page = int(pair[1])
            once("page", f"page={page}")
        elif pair is not None and pair[0] == "page":
            raise UserError(f"'{token}' is no page: pages are numbered from 1, e.g. page=2. Usage: `{USAGE}`")
        else:
            raise UserError(f"I didn't understand '{token}'. Usage: `{USAGE}`")
    return ListFilter(mine=mine, at_risk=at_risk, tier=tier, page=page)


def cadence_standing(
    customer: Customer,
    calendar: WorkCalendar,
    last_contact_at: datetime | None,
    now: datetime,
    restart: tuple[datetime, str] | None = None,
    snoozed_since: datetime | None = None,
    alert: tuple[datetime, str] | None = None,
) -> Standing | None:
    """Past its ideal window (yellow) or its maximum (red, the owner alerted), by the rule Home, the digest and the
    owner's alert share (`planner.cadence_standing`: from the last call, or a later restart of the clock — a resume,
    a restore, a cadence set from off — "No call since it was restored 3 days ago"; `alert`: the owner's latest overdue
    alert, a missed daily call overdue from when it is due); None when paused, off, unreadable or within the ideal
    window."""
    if customer.paused_at is not None:
        return None
    state = planner.cadence_standing(
        customer,
        calendar,
        last_contact_at=last_contact_at,
        restart=restart,
        now=now,
        snoozed_since=snoozed_since,
        alert=alert,
    )
    return state if state is not None and state.state in ("yellow", "red") else None


def due_today(
    customer: Customer,
    last_contact_at: datetime | None,
    days: CadenceDays,
    back_today: frozenset[int],
    restart: tuple[datetime, str] | None = None,
) -> bool:
    """A call is due today (customer-local) that nothing has satisfied yet, or a snoozed call comes back today: what
    Home's row says ":telephone_receiver: call due today" of (handlers.blocks.home.with_due_today)."""
    day = days.of(customer)
    if customer.paused_at is not None or day is None or day.cadence.is_off:
        return False
    restarted_at = restart[0] if restart is not None else None
    return customer.id in back_today or day.call_due_today(last_contact_at, customer.snoozed_until, restarted_at)


def customer_rows(
    store: Store,
    settings: Settings,
    *,
    team_id: str,
    customers: Sequence[Customer],
    now: datetime,
    recent: int = 0,
) -> list[CustomerRow]:
    """Everything the list or the card shows for these customers, in a fixed number of queries."""
    ids = [c.id for c in customers if c.id is not None]
    latest = store.latest_checkins(team_id=team_id, customer_ids=ids)
    moods = store.recent_moods(team_id=team_id, customer_ids=ids)
    # A call satisfies the cadence's current period (the cadence engine's default): no nudge is shown for it.
    calls = store.latest_checkins(team_id=team_id, customer_ids=ids, kind="call")
    last_calls = {cid: call.created_at for cid, call in calls.items()}
    # What restarts the cadence's clock, as the engine counts it (PARTNER_ANY_CHECKIN_SATISFIES: any check-in).
    contacts = {cid: c.created_at for cid, c in latest.items()} if settings.any_checkin_satisfies else last_calls
    # Where each snoozed call comes back (and whose comes back today), as Home reads it.
    snoozed = snoozed_calls(store, customers, last_calls, team_id=team_id, now=now, default_tz=settings.default_tz)
    days = CadenceDays(now=now, default_tz=settings.default_tz)  # "call due today" by Home's rule
    restarts = store.clock_restarts(team_id=team_id, customer_ids=ids)
    alerts = store.overdue_alerts(team_id=team_id, customer_ids=ids)
    gone = store.deactivated_owners(team_id=team_id, customer_ids=ids)
    nudged = store.nudged_days(team_id=team_id, customer_ids=ids, since=now - planner.TODAYS_NUDGES)
    rows = []
    for customer in customers:
        assert customer.id is not None
        calendar = work_calendar(
            tz=customer.tz,
            country=customer.country,
            subdiv=customer.subdiv,
            working_week=customer.working_week,
            default_tz=settings.default_tz,
        )
        last = latest.get(customer.id)
        rows.append(
            CustomerRow(
                customer=customer,
                tz=calendar.tz,
                last=last,
                moods=moods.get(customer.id, []),
                next_nudge=next_nudge(
                    cadence=customer.cadence,
                    calendar=calendar,
                    now=now,
                    paused=customer.paused_at is not None,
                    snoozed_until=customer.snoozed_until,
                    launch_until=customer.launch_until,
                    last_contact_at=last_calls.get(customer.id),
                    comes_back=snoozed.comes_back.get(customer.id),
                    nudged_days=nudged.get(customer.id, ()),
                ),
                standing=cadence_standing(
                    customer,
                    calendar,
                    contacts.get(customer.id),
                    now,
                    restarts.get(customer.id),
                    snoozed_since=snoozed.since.get(customer.id),
                    alert=alerts.get(customer.id),
                ),
                due_today=due_today(
                    customer, contacts.get(customer.id), days, snoozed.back_today, restarts.get(customer.id)
                ),
                owner_gone=customer.id in gone,
                recent=store.checkins(team_id=team_id, customer_id=customer.id, limit=recent) if recent else (),
                boundaries=store.boundary_records(team_id=team_id, customer_id=customer.id) if recent else None,
            )
        )
    return rows


def list_page(
    *, store: Store, settings: Settings, team_id: str, user_id: str, args: str, now: datetime, page: int | None = None
) -> dict[str, Any]:
    wanted = parse_list_args(args)
    customers = store.customers(team_id=team_id)
    empty = NO_MATCH
    if not customers:  # a new team's first look, or every customer archived: say which, and what to do
        archived = sum(1 for c in store.customers(team_id=team_id, include_archived=True) if c.archived_at)
        empty = (
            f"No customers: {archived} archived (`/partner restore` names {'them' if archived > 1 else 'it'}). "
            if archived
            else "No customers yet. "
        ) + "Add one with `/partner add Acme #acme @owner`: its owner is nudged on its cadence, and it shows here."
    elif wanted.mine and not any(c.owner_id == user_id for c in customers):
        empty = (
            f"You don't own any customers yet: `/partner list all` shows the whole team's ({len(customers)}). "
            "Add your own with `/partner add Acme #acme @owner`."
        )
    else:  # the team has customers, none of them this one: where they are, not how to add a first one
        n = len(customers)
        empty = (
            f"No customer matches. The team has {n} customer{'s' if n != 1 else ''}: "
            f"`/partner list all` shows {'them' if n != 1 else 'it'}."
        )
    if wanted.mine:
        customers = [c for c in customers if c.owner_id == user_id]
    if wanted.tier:
        customers = [c for c in customers if (c.tier or "").casefold() == wanted.tier.casefold()]
    if wanted.at_risk:  # as Home's *At risk only* and the digest count them
        risky = at_risk_ids(
            store, team_id=team_id, now=now, default_tz=settings.default_tz, any_checkin=settings.any_checkin_satisfies
        )
        customers = [c for c in customers if c.id in risky]
    pages = max(1, math.ceil(len(customers) / PAGE_SIZE))
    current = min(max(page or wanted.page, 1), pages)
    shown = customers[(current - 1) * PAGE_SIZE : current * PAGE_SIZE]
    title = ("Your customers" if wanted.mine else "All customers") + (" at risk" if wanted.at_risk else "")
    if wanted.tier:
        title += f" in tier {tier_text(wanted.tier)}"
    rows = customer_rows(store, settings, team_id=team_id, customers=shown, now=now)
    return list_message(
        rows=rows,
        title=title,
        args=wanted.args,
        page=current,
        pages=pages,
        total=len(customers),
        now=now,
        empty=empty,
        asked=page or wanted.page,
    )


def list_customers(call: CommandCall) -> Reply:
    return list_page(
        store=call.store,
        settings=call.settings,
        team_id=call.team_id,
        user_id=call.user_id,
        args=call.args,
        now=call.now,
    )
