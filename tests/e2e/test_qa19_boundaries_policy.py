"""Session 19's boundary checks (issue 5) with two needs introduced at once (PARTNER_MAX_ACTIVE_BOUNDARIES=2): signed
requests to the real app, ticks with an injected now, the fake Slack's messages."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import timedelta

import pytest

from bot.settings import Settings
from storage.store import Store
from tests.e2e.test_boundaries import acme, channel_posts, ephemeral, ny, tick
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import FakeClock

acme = acme  # test_boundaries' Acme Corp: Dana's (New York), with #acme and two proposed needs


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, max_active_boundaries=2)


def test_two_needs_restated_together_never_open_the_same_way_twice_in_a_row_with_the_owners_own_words(
    acme: SlackRequests, fake_slack: FakeSlack, store: Store, clock: FakeClock, settings: Settings
) -> None:
    """Two needs in force go out in one message a week. Dana wrote her own words for the first: every Monday's message
    then opened "A reminder of how we work together:" — the same words week after week, the robot the issue warns of
    (Partner's wordings were picked only when the first need had none of its own)."""
    ephemeral(acme.command("boundary acme activate 1"))
    ephemeral(acme.command("boundary acme activate 2"))
    own = "Please send requests to <#C0AP|acme-partners> or <@U0002|sam> 🙏"
    ephemeral(acme.command(f'boundary acme wording 1 "{own}"'))
    posted: list[str] = []
    for monday in (30, 7, 14):  # both hold on Wed 16 Dec, three weeks on
        day = (2026, 11 if monday == 30 else 12, monday)
        clock.set(ny(*day, 9) - timedelta(days=1))  # the Sunday before: the preview names that Monday's
        preview = ephemeral(acme.command("boundary acme preview 2"))
        tick(store, settings, ny(*day, 8, 59))
        tick(store, settings, ny(*day, 9, 1))
        reminder = channel_posts(fake_slack, "C0ACME")[-1]["text"]
        assert f"• {own}\n• " in reminder and len(channel_posts(fake_slack, "C0ACME")) == len(posted) + 1, reminder
        assert "\n".join(f">{line}" for line in reminder.split("\n")) in preview, (preview, reminder)
        posted.append(reminder)
    openings = [p.split("\n")[0] for p in posted]
    assert openings[0] == "A reminder of how we work together:", openings
    assert all(a != b for a, b in itertools.pairwise(openings)), openings
