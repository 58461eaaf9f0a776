"""Session 18's boundary checks (issue 5) under a team's own policy: one week to hold, two needs at once, two slips in
two weeks to escalate. Signed requests to the real app, ticks with an injected now, the fake Slack's messages."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import pytest

from bot.settings import Settings
from storage.store import Store
from tests.e2e.test_boundaries import acme, channel_posts, ephemeral, ny, records, tick
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import FakeClock

acme = acme  # test_boundaries' Acme Corp: Dana's (New York), with #acme and two proposed needs
THIRD = "Calls happen 9-10am our time"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(
        settings, max_active_boundaries=2, boundary_hold_weeks=1, boundary_escalate_slips=2, boundary_escalate_days=14
    )


def test_a_teams_own_policy_is_what_every_answer_and_message_says(
    acme: SlackRequests, fake_slack: FakeSlack, store: Store, clock: FakeClock, settings: Settings
) -> None:
    ephemeral(acme.command(f'boundary acme add "{THIRD}" kind=contact_window value=9-10am'))
    ephemeral(acme.command("boundary acme activate 1"))
    ephemeral(acme.command("boundary acme activate 2"))
    refused = ephemeral(acme.command("boundary acme activate 3"))
    assert "the limit is 2 at a time" in refused and "after 1 week without a slip" in refused, refused
    listing = acme.command("boundary acme list").json()
    assert "A need holds after 1 week without a slip; 2 slips in 14 days" in json.dumps(listing["blocks"])
    assert "introduced 2 at a time, most important first" in json.dumps(listing["blocks"])

    clock.set(ny(2026, 11, 26, 11))
    ephemeral(acme.command("boundary acme slip 1 no answer for two days"))
    clock.set(ny(2026, 11, 27, 11))
    second = ephemeral(acme.command("boundary acme slip 1 again"))
    assert "2 slips in the last 14 days — I've asked the owner" in second, second
    tick(store, settings, clock.advance(minutes=1))
    (asked,) = [p for p in channel_posts(fake_slack, "U0001") if "keeps slipping" in p["text"]]
    assert "has slipped 2 times in the last 2 weeks" in json.dumps(asked["blocks"]), asked

    # The second need holds a week after it was activated; the third is offered, once.
    for day in range(1, 8):
        tick(store, settings, ny(2026, 11, 25, 10, 1) + timedelta(days=day))
    assert [r.rule.status for r in records(store)] == ["active", "held", "proposed"]
    offers = [p for p in channel_posts(fake_slack, "U0001") if "Ready to introduce the next one" in p["text"]]
    assert len(offers) == 1 and THIRD in offers[0]["text"] and "1 week without a slip" in offers[0]["text"], offers
