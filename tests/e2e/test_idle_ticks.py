"""A tick with nothing new to do stays cheap however many customers there are.

The scheduler runs every job each minute. The jobs that re-plan what is due over a window (boundary reminders,
survey prompts) or review every customer (held boundaries) must find what earlier ticks planned in a bounded
number of statements, not one or two per customer: a workspace of thousands of customers otherwise spends its
whole minute re-reading what it already knows.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk import WebClient

from bot.app import make_client
from bot.settings import Settings
from domain import boundaries as rules
from schedules.boundaries import plan_boundary_reminders, review_boundaries
from schedules.jobs import Job
from schedules.surveys import plan_survey_prompts
from storage.nudges import NudgePlan
from storage.store import Store
from tests.utils import TEAM_ID, counting_statements

# Monday 7 December 2026, 09:30 in New York: the weekly reminders (09:00 local) and the survey prompts are due.
NOW = datetime(2026, 12, 7, 14, 30, tzinfo=UTC)
JOBS: dict[str, Job] = {
    "boundary_reminders": plan_boundary_reminders,
    "boundary_review": review_boundaries,
    "survey_prompts": plan_survey_prompts,
}


@pytest.fixture
def client(settings: Settings) -> WebClient:
    return make_client(settings)


def activated_two_days_ago(boundary: rules.Boundary, _others: list[rules.Boundary]) -> rules.Boundary:
    return rules.activate(boundary, NOW - timedelta(days=2))


def add_customers(store: Store, count: int, first: int) -> None:
    """Customers of a long standing, each with an active working agreement, a channel and an owner."""
    added = NOW - timedelta(days=200)
    for n in range(first, first + count):
        customer = store.add_customer(
            team_id=TEAM_ID,
            name=f"Customer {n:03d}",
            created_by="U0001",
            now=added,
            channel_id=f"C{n:06d}",
            owner_id="U0001",
            tz="America/New_York",
            country="US",
        )
        assert customer.id is not None
        boundary = store.add_boundary(
            team_id=TEAM_ID,
            customer_id=customer.id,
            text="we answer email twice a day",
            kind="custom",
            value=None,
            created_by="U0001",
            now=added,
        )
        assert boundary.id is not None
        store.change_boundary(team_id=TEAM_ID, boundary_id=boundary.id, change=activated_two_days_ago)


def statements_of_a_second_tick(store: Store, client: WebClient, settings: Settings) -> dict[str, int]:
    for job in JOBS.values():  # the first tick plans what is due
        job(store=store, client=client, now=NOW, settings=settings)
    counts = {}
    for name, job in JOBS.items():
        with counting_statements(store) as statements:
            job(store=store, client=client, now=NOW + timedelta(minutes=1), settings=settings)
        counts[name] = len(statements)
    return counts


def test_a_tick_that_finds_everything_planned_costs_the_same_for_3_or_30_customers(
    store: Store, client: WebClient, settings: Settings
) -> None:
    add_customers(store, 3, first=0)
    few = statements_of_a_second_tick(store, client, settings)
    add_customers(store, 27, first=3)
    many = statements_of_a_second_tick(store, client, settings)
    assert many == few, f"3 customers: {few}, 30 customers: {many}"
    since = NOW - timedelta(days=30)
    reminders = store.nudges(team_id=TEAM_ID, kinds=["boundary_reminder"], due_after=since)
    prompts = store.nudges(team_id=TEAM_ID, kinds=["survey_prompt"], due_after=since)
    assert len(reminders) == 30 and len({n.customer_id for n in prompts}) == 30


# Two kinds × 2 due keys are asked with an IN list per column, × 40 with the keys themselves (storage/nudges.py).
@pytest.mark.parametrize("due_keys", [2, 40], ids=["few due keys", "a due key per customer"])
def test_planned_keys_finds_exactly_the_planned_ones_however_many_due_keys(store: Store, due_keys: int) -> None:
    at = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
    plans = [
        NudgePlan(kind=kind, subject=f"customer:{n}", due_key=f"2026-11-{n % due_keys + 1:02d}", due_at=at)
        for n in range(120)
        for kind in ("overdue", "cadence")
        if (n + len(kind)) % 3  # a third of them never planned
    ]
    store.plan_nudges(team_id=TEAM_ID, plans=plans, now=at)
    # Another team planned one of the keys asked, which this team never did: not theirs to report.
    store.plan_nudges(team_id="T0OTHER", plans=[NudgePlan("overdue", "customer:999", "2026-11-01", at)], now=at)
    asked = {
        (kind, f"customer:{n}", f"2026-11-{n % due_keys + 1:02d}")
        for n in range(120)
        for kind in ("overdue", "cadence")
    }
    asked.add(("overdue", "customer:999", "2026-11-01"))  # never planned by this team
    assert store.planned_keys(team_id=TEAM_ID, keys=asked) == {plan.key for plan in plans}
    assert store.existing_nudge_keys(team_id=TEAM_ID, kind="cadence", keys=[(s, d) for k, s, d in asked]) == {
        (plan.subject, plan.due_key) for plan in plans if plan.kind == "cadence"
    }
