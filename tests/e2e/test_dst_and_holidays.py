"""A week as a customer in New York lives it: the nudge follows 09:00 local across the end of daylight saving time,
and skips the weekend and Thanksgiving — driven by the same tick the scheduler runs, against the fake Slack."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.settings import Settings
from storage.store import Store
from tests.e2e.test_cadence import acme_channel, nudges, tick, unpaced  # noqa: F401 (autouse fixtures)
from tests.fake_slack import FakeSlack
from tests.utils import TEAM_ID


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("label", "schedule"),
    [
        (
            "US daylight saving time ends on Sunday 1 November 2026",
            [
                ("2026-10-30T12:59", 0),  # Friday 08:59 EDT
                ("2026-10-30T13:00", 1),  # Friday 09:00 EDT
                ("2026-10-31T13:00", 1),  # Saturday: no call
                ("2026-11-01T14:00", 1),  # Sunday: no call
                ("2026-11-02T13:00", 1),  # Monday 08:00 EST: the old offset's 09:00 is too early
                ("2026-11-02T14:00", 2),  # Monday 09:00 EST
                ("2026-11-02T14:30", 2),  # once
                ("2026-11-03T14:00", 3),  # Tuesday 09:00 EST
            ],
        ),
        (
            "Thanksgiving, Thursday 26 November 2026",
            [
                ("2026-11-25T14:00", 1),  # Wednesday 09:00 EST
                ("2026-11-26T14:00", 1),  # Thanksgiving: a public holiday in the US
                ("2026-11-26T20:00", 1),
                ("2026-11-27T14:00", 2),  # Friday 09:00 EST
            ],
        ),
    ],
)
def test_daily_nudges_follow_the_customers_clock_and_calendar(
    store: Store, settings: Settings, fake_slack: FakeSlack, label: str, schedule: list[tuple[str, int]]
) -> None:
    first = at(schedule[0][0])
    store.add_customer(
        team_id=TEAM_ID,
        name="Acme",
        created_by="U0001",
        now=first.replace(hour=0, minute=0),  # added that morning, before its first call
        channel_id="C0ACME",
        owner_id="U0001",
        tz="America/New_York",
        country="US",
        cadence="daily 09:00",
    )
    for instant, expected in schedule:
        tick(store, settings, at(instant))
        assert len(nudges(fake_slack)) == expected, f"{label}: {instant}Z"
