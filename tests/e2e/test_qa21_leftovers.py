"""Session 21's leftovers: the weekly digest's line about its chart, and a survey prompt for an owner who left.

Signed requests against the fake Slack, ticks with an injected now; no sleeping, no wall clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.app import make_client
from bot.settings import Settings
from handlers.commands.export import wait_after_ack
from schedules.digest import plan_digests, send_digest_charts
from schedules.jobs import run_tick
from schedules.sender import send_due_nudges
from storage.store import Store
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import TEAM_ID, BotServer, FakeClock, ephemeral

MONDAY_9 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
NY = ZoneInfo("America/New_York")
GONE = "Its owner <@U0001> is deactivated in Slack: pick another, `/partner edit Acme Corp @owner`."

# The scores each customer had, as (weeks before the digest, score); the digest's line and the chart's message.
CHARTS: dict[str, tuple[dict[str, list[tuple[int, int]]], str, str]] = {
    "nobody scored": (
        {},
        "The health chart below is empty: no customer has a health score in these 12 weeks yet.",
        "The digest's health chart is empty: no customer has a health score in these 12 weeks yet.",
    ),
    "scored once each": (
        {"Acme": [(0, 80)], "Globex": [(0, 55)]},
        "Chart below: health over 12 weeks of the customers with a health score; none has moved yet.",
        "The digest's health chart: 12 weeks of the customers with a health score (Acme, Globex); none has moved yet.",
    ),
    "one scored": (
        {"Acme": [(2, 80), (0, 55)]},
        "Chart below: health over 12 weeks of the one customer with a health score.",
        "The digest's health chart: 12 weeks of the one customer with a health score (Acme).",
    ),
    "one moved": (
        {"Acme": [(2, 80), (0, 55)], "Globex": [(0, 60)]},
        "Chart below: health over 12 weeks of the customers that moved most.",
        "The digest's health chart: 12 weeks of the customers whose health moved most (Acme, Globex).",
    ),
}


def completed_files(fake: FakeSlack) -> list[dict[str, Any]]:
    return [f for f in fake.files.values() if f["completed"]]


@pytest.mark.parametrize("case", list(CHARTS))
def test_the_weekly_digests_line_about_its_chart_says_what_the_chart_shows(
    store: Store, fake_slack: FakeSlack, settings: Settings, case: str
) -> None:
    """The digest ended "Chart below: health over 12 weeks of the customers that moved most." whatever followed: the
    chart right under it saying it was empty (no customer scored yet), or, in a team's first digest, customers
    scored once each, which moved nowhere. The line now says what the chart that follows says."""
    scores, line, said = CHARTS[case]
    store.ensure_workspace(team_id=TEAM_ID, now=MONDAY_9 - timedelta(days=30))
    store.set_digest_channel(team_id=TEAM_ID, channel_id="C0001", now=MONDAY_9 - timedelta(days=30))
    for name in ("Acme", "Globex"):
        customer = store.add_customer(
            team_id=TEAM_ID, name=name, created_by="U0001", now=MONDAY_9 - timedelta(days=30), owner_id="U0001"
        )
        assert customer.id is not None
        for weeks_ago, score in scores.get(name, []):
            at = MONDAY_9 - timedelta(weeks=weeks_ago, days=1)
            store.save_health(
                team_id=TEAM_ID, customer_id=customer.id, score=score, band="green", components={}, day=at.date(),
                now=at,
            )  # fmt: skip
    client = make_client(settings)
    now = MONDAY_9 + timedelta(minutes=1)
    assert plan_digests(store=store, client=client, now=now, settings=settings) == 1
    assert send_due_nudges(store=store, client=client, now=now) == 1
    assert send_digest_charts(store=store, client=client, now=now) == 1
    (digest,) = [c.params for c in fake_slack.calls_to("chat.postMessage") if c.ok]
    notes = [e["text"] for b in digest["blocks"] if b["type"] == "context" for e in b["elements"]]
    assert f":chart_with_upwards_trend: {line}" in notes, notes
    (chart,) = completed_files(fake_slack)
    assert chart["initial_comment"] == f":chart_with_upwards_trend: {said}", chart["initial_comment"]
    alt = str(chart["alt_txt"])
    assert ("moved most" in alt) == (case == "one moved"), alt


# --------------------------------------------------------------------------- a survey prompt for an owner who left


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY).astimezone(UTC)  # type: ignore[misc]


@pytest.mark.parametrize("where", ["own channel", "shared channel", "nowhere"])
def test_a_survey_prompt_for_an_owner_who_left_asks_the_team_not_their_dm(
    slack: SlackRequests,
    fake_slack: FakeSlack,
    store: Store,
    settings: Settings,
    clock: FakeClock,
    bot: BotServer,
    where: str,
) -> None:
    """Dana owned Acme and left (Slack's user_change, deleted). A month on, the 'rate our level' prompt went to
    Dana's DM, which Slack takes without a word and nobody reads, while her health-drop alerts and escalations go
    to the team: the level went unrated. It goes where they go — Acme's own channel (never one the customer's people
    read), else the team's digest channel — naming her and how to pick another owner, its Answer now button for
    whoever fills it in; with neither, it is not sent."""
    clock.set(ny(2026, 11, 25, 10))
    fake_slack.add_channel("C0TEAM", name="team", members=["U0002"])
    if where != "nowhere":
        store.set_digest_channel(team_id=TEAM_ID, channel_id="C0TEAM", now=clock.now)
    channel = "" if where == "nowhere" else " <#C0ACME|acme>"
    ephemeral(slack.command(f"add Acme Corp{channel} <@U0001|dana>"))
    bot.settle()
    if where == "shared channel":
        fake_slack.channels["C0ACME"]["is_ext_shared"] = True
        assert slack.event({"type": "channel_shared", "channel": "C0ACME", "connected_team_id": "T0CUST"}).status == 200
        bot.settle()
    fake_slack.users["U0001"]["deleted"] = True
    gone = {"type": "user_change", "user": {"id": "U0001", "team_id": TEAM_ID, "name": "dana", "deleted": True}}
    assert slack.event(gone).status == 200
    bot.settle()
    due = ny(2026, 12, 25, 10)  # a month after it was added, 10:00 its time
    for minutes in (0, 1):
        report = run_tick(
            store=store, client=make_client(settings), now=due + timedelta(minutes=minutes), settings=settings
        )
        assert not report.failed, report.failed
    asked = [
        c.params
        for c in fake_slack.calls_to("chat.postMessage")
        if c.ok and "*relationship level* of *Acme Corp*" in c.params["text"]
    ]
    prompts = store.nudges(team_id=TEAM_ID, kinds=["survey_prompt"], due_after=due - timedelta(days=1))
    if where == "nowhere":
        assert asked == []
        assert [n.status for n in prompts] == ["cancelled"]
        return
    (post,) = asked
    assert post["channel"] == ("C0ACME" if where == "own channel" else "C0TEAM"), post
    (block,) = post["blocks"]
    assert block["text"]["text"].endswith(f"one screen, under a minute.\n:warning: {GONE}"), block
    assert block["accessory"]["text"]["text"] == "Answer now"
    assert [n.status for n in prompts] == ["sent"]


def test_digest_mines_chart_of_customers_scored_once_does_not_say_they_moved_most(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, clock: FakeClock
) -> None:
    """`/partner digest mine` in a team's first week: its chart in the DM said "…12 weeks of the customers whose
    health moved most (Acme, Globex)" over two single points; it says what it shows, as the weekly digest's does."""
    clock.set(MONDAY_9)
    for name, score in (("Acme", 80), ("Globex", 55)):
        customer = store.add_customer(
            team_id=TEAM_ID, name=name, created_by="U0001", now=MONDAY_9 - timedelta(days=30), owner_id="U0001"
        )
        assert customer.id is not None
        at = MONDAY_9 - timedelta(days=1)
        store.save_health(
            team_id=TEAM_ID, customer_id=customer.id, score=score, band="green", components={}, day=at.date(), now=at
        )
    assert slack.command("digest mine").status == 200
    assert wait_after_ack()
    (chart,) = completed_files(fake_slack)
    assert chart["initial_comment"] == (
        ":chart_with_upwards_trend: The digest's health chart: 12 weeks of the customers with a health score "
        "(Acme, Globex); none has moved yet."
    ), chart["initial_comment"]
