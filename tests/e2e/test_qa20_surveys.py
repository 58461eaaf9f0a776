"""Session 20's survey and health findings (issues 6 and 7), as a workspace drives them.

Signed requests against the fake Slack, ticks with an injected now; no sleeping, no wall clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.app import make_client
from bot.settings import Settings
from schedules.digest import send_digest
from schedules.health import HEALTH_DROP, alert_on_drop, daily_health
from schedules.jobs import run_tick
from storage.store import Store
from tests.e2e.test_health import AUCKLAND, dms_to, weekly_since_june
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import TEAM_ID, FakeClock


def test_a_fall_that_goes_on_before_the_owner_is_told_is_one_dm_not_one_per_step(
    slack: SlackRequests, store: Store, clock: FakeClock, fake_slack: FakeSlack, settings: Settings
) -> None:
    """81 on Thursday, 65 found on Friday evening (told Monday 09:00), lower still by Sunday: on Monday the owner got
    "fell from 81 to 65 (now 31)" and "fell from 65 to 31" together — one slide told twice. One DM says it."""
    customer = weekly_since_june(slack, store, "Pacific/Auckland")
    assert customer.id is not None
    thursday = datetime(2026, 11, 26, 12, 0, tzinfo=AUCKLAND)
    store.save_health(
        team_id=TEAM_ID,
        customer_id=customer.id,
        score=81,
        band="green",
        components={},
        day=thursday.date(),
        now=thursday,
    )
    friday = datetime(2026, 11, 27, 19, 30, tzinfo=AUCKLAND)  # a recompute after hours: told the next working day
    store.save_health(
        team_id=TEAM_ID, customer_id=customer.id, score=65, band="yellow", components={}, day=friday.date(), now=friday
    )
    fresh = store.customer(team_id=TEAM_ID, customer_id=customer.id)
    assert fresh is not None and alert_on_drop(store, fresh, friday)
    client = make_client(settings)
    # The weekend's daily scoring: months without a call on a weekly cadence, far below 65.
    for day in (28, 29):
        now = datetime(2026, 11, day, 0, 5, tzinfo=AUCKLAND)
        clock.set(now)
        daily_health(store=store, client=client, now=now, settings=settings)
    latest = store.customer(team_id=TEAM_ID, customer_id=customer.id)
    assert latest is not None and latest.health_score is not None and latest.health_score <= 50
    monday = datetime(2026, 11, 30, 9, 0, tzinfo=AUCKLAND)
    for minutes in (0, 1, 2):
        run_tick(store=store, client=client, now=monday + timedelta(minutes=minutes), settings=settings)
    # It may share the owner's digest with the overdue call: each fall told is a line "health fell from …".
    (dm,) = [c.params["text"] for c in dms_to(fake_slack, "U0001", "health fell")]
    assert dm.count("health fell") == 1, dm
    assert f"*Acme Corp*'s health fell from 81 to {latest.health_score}" in dm, dm
    assert len(store.nudges(team_id=TEAM_ID, kinds=[HEALTH_DROP], due_after=thursday)) == 1


@pytest.mark.parametrize("customers", [0, 1, 50])
def test_the_digest_charts_alt_text_says_whom_the_chart_shows_or_that_it_is_empty(
    store: Store, fake_slack: FakeSlack, settings: Settings, customers: int
) -> None:
    """A screen reader read every chart as "Line chart of weekly health scores (0–100) of the customers whose health
    changed most": naming nobody, and even for a team with no score yet, whose chart has no line at all."""
    now = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    for i in range(customers):
        customer = store.add_customer(
            team_id=TEAM_ID, name=f"Customer {i:02}", created_by="U0001", now=now - timedelta(days=90), owner_id="U0001"
        )
        assert customer.id is not None
        for weeks_ago in (3, 0):
            day = now - timedelta(weeks=weeks_ago, days=1)
            score = 80 - i if weeks_ago else 40 + i
            band = "green" if score >= 70 else "yellow"
            store.save_health(
                team_id=TEAM_ID, customer_id=customer.id, score=score, band=band, components={}, day=day.date(), now=day
            )
    send_digest(store=store, client=make_client(settings), team_id=TEAM_ID, now=now, channel="C0001")
    (chart,) = [f for f in fake_slack.files.values() if f["completed"]]
    alt = str(chart["alt_txt"])
    assert "12 weeks from 14 Sep to 30 Nov" in alt, alt
    if customers == 0:
        assert alt == "An empty chart of weekly health scores (0–100), the 12 weeks from 14 Sep to 30 Nov: " + (
            "no health scores stored yet."
        )
    elif customers == 1:
        assert alt.endswith(", of the one customer with a health score: Customer 00."), alt
    else:  # the six that moved most (79→89 for Customer 49, 78→88, …): the ones the legend shows
        shown = ", ".join(f"Customer {i:02}" for i in range(49, 43, -1))
        assert alt.endswith(f", one line each for the 6 customers whose health moved most: {shown}."), alt
        assert "Customer 43" not in alt and "Customer 00" not in alt
