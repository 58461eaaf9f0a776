"""The owner's health-drop DM says what moved the score (issue 6), end to end: the daily job and the sender ticked
with an injected now, the DM read back from the fake Slack."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from bot.app import make_client
from bot.settings import Settings
from schedules.health import daily_health
from schedules.jobs import run_tick
from storage.store import Store
from tests.e2e.test_health import acme, dms_to
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import TEAM_ID, BotServer, FakeClock


def test_the_drop_dm_after_red_check_ins_names_the_mood_that_moved_the_score(
    slack: SlackRequests, store: Store, clock: FakeClock, fake_slack: FakeSlack, settings: Settings
) -> None:
    """Acme's weekly calls were kept once in five weeks and the last was three weeks ago: adherence and recency weigh
    most on its score, and did before. Three red check-ins then drop the mood, and the score with it: the owner's
    DM says the mood moved it (and by how much), where it listed only adherence and recency."""
    customer = acme(slack, store)  # weekly tue 10:00, since June, owned by Dana
    assert customer.id is not None
    tuesday = datetime(2026, 11, 24, 10, tzinfo=UTC)
    for weeks_ago in (10, 9, 8, 7):
        at = tuesday - timedelta(weeks=weeks_ago)
        store.record_checkin(
            team_id=TEAM_ID, customer_id=customer.id, author_id="U0001", mood="green", note="ok", kind="call", now=at
        )
    # Three days ago the score stood with the mood all green (as it was before the red ones were logged).
    three_days_ago = tuesday - timedelta(days=3)
    store.save_health(
        team_id=TEAM_ID,
        customer_id=customer.id,
        score=43,
        band="yellow",
        components={
            "components": [
                {
                    "name": "adherence",
                    "score": 20.0,
                    "weight": 0.3846,
                    "reason": "1 of the last 5 weekly check-ins logged",
                },
                {
                    "name": "recency",
                    "score": 15.4,
                    "weight": 0.3077,
                    "reason": "last contact 18 days ago (ideal 7, max 10)",
                },
                {
                    "name": "mood",
                    "score": 100.0,
                    "weight": 0.3077,
                    "reason": "mood green at each of the last 5 check-ins",
                },
            ],
            "reasons": ["1 of the last 5 weekly check-ins logged", "Last contact 18 days ago (ideal 7, max 10)"],
        },
        day=three_days_ago.date(),
        now=three_days_ago,
    )
    for n in range(3):  # the call three weeks ago went badly, and so did what followed it
        store.record_checkin(
            team_id=TEAM_ID,
            customer_id=customer.id,
            author_id="U0002",
            mood="red",
            note=f"bad {n}",
            kind="call",
            now=tuesday - timedelta(days=21, hours=-n),
        )
    client = make_client(settings)
    clock.set(tuesday)
    daily_health(store=store, client=client, now=tuesday, settings=settings)
    for minutes in (1, 2):
        run_tick(store=store, client=client, now=tuesday + timedelta(minutes=minutes), settings=settings)
    (alert,) = [c for c in dms_to(fake_slack, "U0001", "") if "health fell" in c.params["text"]]
    # It shares the owner's digest with what else is due at once (the overdue call, survey prompts).
    (text,) = [b["text"]["text"] for b in alert.params["blocks"] if "health fell" in b.get("text", {}).get("text", "")]
    assert "*Acme Corp*'s health fell from 43 to" in text, text
    moved, _, rest = text.partition("*What moved it:*\n")[2].partition("\n*Also weighing on it:*\n")
    assert moved.startswith("• Mood mostly red over the last 5 check-ins (−") and "points)" in moved, text
    assert "weekly check-ins logged" not in moved and "weekly check-ins logged" in rest, text


def test_a_new_customers_first_missed_call_is_what_moved_its_score_not_the_days_since_it_was_added(
    slack: SlackRequests, store: Store, clock: FakeClock, fake_slack: FakeSlack, settings: Settings
) -> None:
    """A team's first week: Acme, added on Monday with weekly Wednesday calls, scores 100 on recency alone (added
    two days ago, well within its 7-day window). Its first call goes unlogged, adherence enters the score at 0 and
    the score falls: the owner's DM blames the missed call for all of it, never "no check-in logged yet; added 2
    days ago", which did not move (its share only shrank as the weights were shared with the newcomer)."""
    monday = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)  # 09:00 in New York
    clock.set(monday)
    reply = slack.command("add Acme <#C0ACME|acme> <@U0001|dana> cadence=weekly wed 10:00 country=US")
    assert "Added *Acme*" in reply.json()["text"]
    client = make_client(settings)
    for now in (
        monday + timedelta(minutes=1),  # scored on the day it was added
        datetime(2026, 12, 2, 15, 0, tzinfo=UTC),  # Wednesday 10:00 New York: the first call's nudge
        datetime(2026, 12, 3, 5, 10, tzinfo=UTC),  # just after Thursday's local midnight: the daily score
        datetime(2026, 12, 3, 14, 0, tzinfo=UTC),  # 09:00 Thursday: the owner's working morning
        datetime(2026, 12, 3, 14, 1, tzinfo=UTC),
    ):
        run_tick(store=store, client=client, now=now, settings=settings)
    (alert,) = [c for c in dms_to(fake_slack, "U0001", "") if "health fell" in c.params["text"]]
    text = alert.params["text"]
    assert "*Acme*'s health fell from 100 to" in text, text
    moved = text.partition("*What moved it:*\n")[2].partition("\n*Also weighing on it:*\n")[0]
    assert moved.startswith("• The last weekly check-in was not logged (−"), text
    assert "added" not in moved, text


def test_a_drop_found_over_the_customers_weekend_says_each_reason_once_when_it_goes_out_on_monday(
    slack: SlackRequests, bot: BotServer, store: Store, clock: FakeClock, fake_slack: FakeSlack, settings: Settings
) -> None:
    """A Tokyo customer's daily calls stop after Monday; its owner is in Los Angeles. The fall found on Friday night,
    Tokyo time, waits for Monday 09:00 there, by when the days since the last call went on counting: the DM says what
    moved the score as it was found, and does not list the same reason again under what else weighs on it, with
    another number ("Last contact 4 business days ago" moved it; not "Last contact 5 business days ago" below)."""
    fake_slack.add_user("U0010", name="kenji", tz="America/Los_Angeles")
    clock.set(datetime(2026, 12, 13, 0, tzinfo=UTC))
    slack.command("add Tokyo <@U0010|kenji> tz=Asia/Tokyo country=JP cadence=daily 10:00")
    bot.settle()
    client, now = make_client(settings), datetime(2026, 12, 13, 0, tzinfo=UTC)
    while now <= datetime(2026, 12, 21, 1, tzinfo=UTC):  # Monday 21 December 10:00 in Tokyo
        clock.set(now)
        if now == datetime(2026, 12, 14, 2, tzinfo=UTC):  # Monday 11:00 in Tokyo
            slack.command("checkin tokyo green call kickoff", user_id="U0010")
            bot.settle()
        assert not run_tick(store=store, client=client, now=now, settings=settings).failed
        now += timedelta(hours=1)
    texts = []
    for call in dms_to(fake_slack, "U0010", "health fell"):
        blocks = call.params["blocks"]
        blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
        texts += [b["text"]["text"] for b in blocks if "What moved it" in (b.get("text") or {}).get("text", "")]
    assert any("Last contact 4 business days ago" in text for text in texts), texts  # found Friday night there
    for text in texts:
        lines = [re.sub(r"\d+", "N", line.split(" (−")[0]) for line in text.splitlines() if line.startswith("• ")]
        assert len(lines) == len(set(lines)), text
