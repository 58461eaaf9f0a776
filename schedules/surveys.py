"""Scheduled survey prompts: each customer's owner is asked to fill in a survey once per period.

Periods run from the day the customer was added (customer-local dates): with a 91-day scorecard period, the
prompts fall on day 91, 182… (nothing on day 0: there is nothing to rate yet) at 10:00 the customer's time,
moved to the next business day. Each prompt is a
`survey_prompt` nudge in the outbox under (subject ``customer:<id>``, due_key ``<survey>:<period start>``),
planned insert-if-absent and posted by the generic sender, so a second tick or replica sends nothing twice.
A survey answered within the period (or in the week before it started) needs no prompt: it is recorded as
skipped at planning, and the renderer checks again just before sending.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date, datetime, time, timedelta

from slack_sdk import WebClient

from bot.settings import DEFAULT_SURVEY_SCHEDULE, Settings
from handlers.blocks import mrkdwn_name, section
from handlers.blocks.surveys import SURVEY_NAMES, survey_button
from handlers.home_publisher import request_home_refresh
from schedules.cadence import instead_of_gone_owner, owner_gone_text
from schedules.health import customer_calendar
from schedules.sender import Message, Skip, register
from storage.models import Customer, Nudge
from storage.nudges import NudgePlan
from storage.store import Store

logger = logging.getLogger("partner.surveys")

SURVEY_PROMPT = "survey_prompt"
PROMPT_AT = time(10, 0)
RECENT_ENOUGH = timedelta(days=7)  # an answer this close before a period starts still counts for it
# How far a time-zone edit can move the customer-local day periods count from (UTC−12 to UTC+14: two days).
ZONE_SHIFT_DAYS = 2


def period_start(created: date, today: date, days: int) -> date:
    """The first day of the period `today` falls in, periods of `days` counted from `created`."""
    elapsed = max((today - created).days, 0)
    return created + timedelta(days=elapsed - elapsed % days)


def _answered_since(store: Store, customer: Customer, survey: str, since: datetime) -> bool:
    latest = store.latest_survey_response(
        team_id=customer.team_id, survey=survey, customer_id=customer.id, external=False
    )
    return latest is not None and latest.created_at >= since


def _key(customer: Customer, survey: str, start: date) -> tuple[str, str, str]:
    """The outbox key of a customer's prompt for the period starting on `start`."""
    return SURVEY_PROMPT, f"customer:{customer.id}", f"{survey}:{start.isoformat()}"


def _period_keys(customer: Customer, survey: str, start: date, days: int) -> set[tuple[str, str, str]]:
    """The keys the same period may have been asked under: the customer's time zone edited since moves the local day
    it was added, and with it each period's start, by up to two days (never as far as another period's)."""
    shift = min(ZONE_SHIFT_DAYS, (days - 1) // 2)
    return {_key(customer, survey, start + timedelta(days=n)) for n in range(-shift, shift + 1)}


def plan_survey_prompts(*, store: Store, client: WebClient, now: datetime, settings: Settings | None = None) -> int:
    """Plans the prompts whose time has come; returns how many new prompts were planned to be sent."""
    schedule = dict(settings.survey_schedule) if settings is not None else dict(DEFAULT_SURVEY_SCHEDULE)
    default_tz = settings.default_tz if settings is not None else "UTC"
    if not schedule:
        return 0
    # Every tick finds each customer's current prompts due again; most were planned by an earlier tick. Work out
    # the keys first (no query), ask the outbox once per team which exist, and look for answers only for the rest.
    due: dict[str, list[tuple[Customer, str, int, date, datetime]]] = defaultdict(list)
    for customer in store.customers_for_health():
        if not customer.owner_id or customer.paused_at is not None:
            continue
        cal = customer_calendar(customer, default_tz)
        today = cal.local_date(now)
        created = cal.local_date(customer.created_at)
        for survey, days in schedule.items():
            start = period_start(created, today, days)
            if start == created:
                continue  # a customer just added has nothing to rate yet: the first prompt is one period in
            due_at = cal.at_local(cal.next_business_day(start, include_today=True), PROMPT_AT)
            if due_at <= now:
                due[customer.team_id].append((customer, survey, days, start, due_at))
    planned = 0
    for team_id, prompts in due.items():
        keys = {key for c, survey, days, start, _ in prompts for key in _period_keys(c, survey, start, days)}
        known = store.planned_keys(team_id=team_id, keys=keys)
        plans: list[NudgePlan] = []
        for customer, survey, days, start, due_at in prompts:
            assert customer.id is not None
            if _period_keys(customer, survey, start, days) & known:
                continue  # asked already, its start then a day or two apart on another clock
            counts_from = customer_calendar(customer, default_tz).at_local(start, time(0)) - RECENT_ENOUGH
            answered = _answered_since(store, customer, survey, counts_from)
            plans.append(
                NudgePlan(
                    kind=SURVEY_PROMPT,
                    subject=f"customer:{customer.id}",
                    due_key=f"{survey}:{start.isoformat()}",
                    due_at=due_at,
                    customer_id=customer.id,
                    recipient_id=customer.owner_id,
                    status="skipped" if answered else "pending",
                    error="answered recently" if answered else None,
                    payload={"survey": survey, "days": days, "counts_from": counts_from.isoformat()},
                )
            )
        new = sum(1 for row in store.plan_nudges(team_id=team_id, plans=plans, now=now) if row.status == "pending")
        planned += new
        if new:  # one more "Surveys pending" on the owners' Homes: shown there without a reopen
            owners = {plan.recipient_id for plan in plans if plan.status == "pending"}
            request_home_refresh(None, team_id, sorted(o for o in owners if o))
    return planned


def prompt_message(customer: Customer, survey: str, *, note: str = "") -> tuple[str, list[dict[str, object]]]:
    """`note`: a line after the prompt (why it came to the channel and not the owner)."""
    name = SURVEY_NAMES[survey]
    text = f":clipboard: Time for the *{name.lower()}* of *{mrkdwn_name(customer.name)}* — one screen, under a minute."
    text += f"\n{note}" if note else ""
    return text, [section(text, accessory=survey_button(customer.id, survey, text="Answer now"))]


def render_survey_prompt(nudge: Nudge, store: Store, now: datetime) -> Message | Skip:
    """To the owner: a survey is due, with a button that opens it."""
    survey = str(nudge.payload.get("survey"))
    customer = store.customer(team_id=nudge.team_id, customer_id=nudge.customer_id or 0)
    if customer is None or customer.archived_at is not None:
        return Skip("customer gone", status="cancelled")
    if nudge.status != "sent" and customer.paused_at is not None:  # paused after it was planned (Slack was down)
        return Skip("the customer is paused", status="cancelled")
    if survey not in SURVEY_NAMES or survey == "customer_view":
        return Skip("unknown survey", status="cancelled")
    # The customer's owner when it goes out (handed on while Slack was down: the new owner, whose Home counts it),
    # as the escalation and the health-drop alert ask; once sent, whom it went to.
    owner = (
        nudge.recipient_id or customer.owner_id if nudge.status == "sent" else customer.owner_id or nudge.recipient_id
    )
    if not owner:
        return Skip("no owner", status="cancelled")
    if nudge.status != "sent":
        counts_from = nudge.payload.get("counts_from")
        since = datetime.fromisoformat(counts_from) if isinstance(counts_from, str) else nudge.due_at - RECENT_ENOUGH
        if _answered_since(store, customer, survey, since):
            return Skip("answered meanwhile")
    # Nobody reads a deactivated owner's DMs: the team is asked in the customer's channel (else the digest's), as it
    # is told of a health fall or asked to decide an escalation; its Answer now opens the survey for whoever clicks.
    instead = instead_of_gone_owner(store, customer, now) if nudge.status != "sent" else None
    if isinstance(instead, Skip):
        return instead
    note = f":warning: {owner_gone_text(owner, customer.name)}" if instead is not None else ""
    text, blocks = prompt_message(customer, survey, note=note)
    for block in blocks:
        block["block_id"] = f"nudge:{nudge.id}"
    if instead is not None:
        return Message(text=text, blocks=blocks, channel=instead, customer_id=customer.id)
    # In an owner's digest, one line of several joined by "; ": what to fill in and about whom, without the pitch.
    line = f"the *{SURVEY_NAMES[survey].lower()}* of *{mrkdwn_name(customer.name)}* to fill in"
    return Message(text=text, blocks=blocks, user=owner, customer_id=customer.id, digest=line)


# A prompt is still worth sending after downtime: nothing about it is time-critical.
register(SURVEY_PROMPT, render_survey_prompt, grace=False, label="the reminder to answer a survey")
