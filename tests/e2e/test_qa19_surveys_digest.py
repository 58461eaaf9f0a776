"""Session 19's digest findings (issue 7): the week the digest covers is its own zone's week, DST included.

Signed requests against the fake Slack, ticks with an injected now; no sleeping, no wall clock.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.app import make_client
from bot.settings import Settings
from handlers.commands.export import wait_after_ack
from schedules.digest import plan_digests
from schedules.sender import send_due_nudges
from schedules.slack_http import UPLOAD_ATTEMPTS
from storage.store import Store
from tests.e2e.test_digest import digest_message, seed
from tests.e2e.test_surveys import add_customer, ok, opened, submit
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import TEAM_ID, FakeClock

MINUTE = timedelta(minutes=1)


def weekly_digest(store: Store, settings: Settings, fake_slack: FakeSlack, due: datetime) -> str:
    """The team digest due at `due`, sent by the tick a minute later; its blocks' text."""
    client = make_client(settings)
    fake_slack.messages.pop("C0001", None)
    assert plan_digests(store=store, client=client, now=due + MINUTE, settings=settings) == 1
    assert send_due_nudges(store=store, client=client, now=due + MINUTE) == 1
    return json.dumps(digest_message(fake_slack, "C0001")["blocks"], ensure_ascii=False)


@pytest.mark.parametrize(
    ("last_digest", "rated_at", "next_digest"),
    [
        # Clocks back on Sunday 1 November: Mondays at 09:00 New York are 13:00 UTC, then 14:00 UTC.
        (datetime(2026, 10, 26, 13, tzinfo=UTC), datetime(2026, 10, 26, 13, 30, tzinfo=UTC), "2026-11-02T14:00"),
        # Clocks forward on Sunday 14 March 2027: 14:00 UTC, then 13:00 UTC.
        (datetime(2027, 3, 8, 14, tzinfo=UTC), datetime(2027, 3, 8, 13, 30, tzinfo=UTC), "2027-03-15T13:00"),
    ],
    ids=["clocks-back", "clocks-forward"],
)
def test_a_tier_moved_in_the_hour_the_clocks_change_is_in_one_weekly_digest_exactly(
    slack: SlackRequests,
    fake_slack: FakeSlack,
    store: Store,
    settings: Settings,
    clock: FakeClock,
    last_digest: datetime,
    rated_at: datetime,
    next_digest: str,
) -> None:
    """A New York team's digest goes out on Mondays at 09:00. Acme's level was rated at 09:30 on the Monday before
    the clocks went back: the digest sent at 09:00 that morning could not know it, and the next one looked back 7
    times 24 hours — to 10:00 by then — so no digest said Acme moved tier. In the spring the same look-back reached
    08:00, and a move made at 08:30, before one digest, was told in that digest and again in the next. Now each
    digest covers the week since the one before, on the team's own clock."""
    setup = last_digest - timedelta(weeks=3)
    store.ensure_workspace(team_id=TEAM_ID, now=setup)
    store.set_digest_channel(team_id=TEAM_ID, channel_id="C0001", now=setup)
    store.set_digest_schedule(team_id=TEAM_ID, schedule="weekly mon 09:00", tz="America/New_York", now=setup)
    clock.set(setup)
    add_customer(slack, store)
    clock.set(rated_at)
    ok(slack.command("survey acme level"))
    ok(submit(slack, opened(fake_slack), {"level": "partner"}, view_id="VLEVEL1"))
    told = [
        "*Acme Corp*: no tier → Partner" in weekly_digest(store, settings, fake_slack, last_digest),
        "*Acme Corp*: no tier → Partner"
        in weekly_digest(store, settings, fake_slack, datetime.fromisoformat(next_digest + "+00:00")),
    ]
    assert told.count(True) == 1, told


@pytest.mark.parametrize(
    ("method", "fault", "named"),
    [
        (
            "upload",
            {"status": 500, "times": UPLOAD_ATTEMPTS},
            "Slack had a problem on its side just now. Ask again with `/partner digest mine` in a moment.",
        ),
        (
            "files.completeUploadExternal",
            {"error": "not_allowed_token_type"},
            "Slack doesn't allow Partner to send "
            "files here. Please tell whoever runs Partner: `partner-bot doctor` shows what to fix. Once it is fixed, "
            "ask again with `/partner digest mine`.",
        ),
    ],
    ids=["file-server-down", "not-allowed"],
)
def test_a_digest_chart_slack_refuses_is_told_in_the_dm_in_words_for_people(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, method: str, fault: dict[str, Any], named: str
) -> None:
    """`/partner digest mine` promises the chart in the DM; when Slack refused it, the DM said "Sorry — I couldn't
    send your digest's health chart (SlackRequestError). Ask again…" — a library's class name, and "ask again" for a
    refusal that asking again never cures. Now it says what happened and what to do, as a refused export does."""
    seed(store, datetime(2026, 11, 25, 14, 0, tzinfo=UTC))
    fake_slack.fail_next(method, **fault)
    assert "on its way to your DM" in json.dumps(slack.command("digest mine").json(), ensure_ascii=False)
    assert wait_after_ack()
    (told,) = [c.params["text"] for c in fake_slack.calls_to("chat.postMessage")]
    assert told == f"Sorry — I couldn't send your digest's health chart: {named}", told
