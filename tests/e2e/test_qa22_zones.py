"""Session 22's time-zone findings, end to end: signed requests through the real app, the real jobs ticked at chosen
instants against the fake Slack, for a team with customers on every continent.

- A customer left on its Los Angeles owner's zone and corrected to Tokyo on Monday evening in Los Angeles (already
  Tuesday afternoon there) lost Tuesday's call: its 09:00 had passed in Tokyo while, on the old clock, its nudge was
  still to come, yet nothing was nudged and the answer named next week's. The check for "its nudge still to come"
  looked for the old zone's today (Monday) instead of the customer's today on its new clock (Tuesday). A daily
  customer corrected so is not nudged twice on its Tuesday, though: Monday's nudge went out at 02:00 there.
- `edit acme tz=asia/tokyo cadence=biweekly thu` on Friday morning in Tokyo (Thursday in UTC) started the fortnight on
  UTC's Thursday: the zone typed in lower case was not found where the customer's today is read, and the first call
  came a week late.
- A next step dated the owner's today, a day behind the customer's (Los Angeles on Monday evening, Tuesday in Tokyo),
  was refused as "in the past" without saying whose today it is past.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.settings import Settings
from handlers.ids import CHECKIN_MODAL
from storage.store import Store
from tests.e2e.test_cadence import acme_channel, add, ephemeral, nudges, rows, tick, unpaced  # noqa: F401
from tests.e2e.test_checkins import with_next_step
from tests.e2e.test_foundation import modal_values
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import TEAM_ID, FakeClock

EVERY_DAY = {"working_week": "mon-sun"}  # the switches are at weekends: a customer who works them meets them

MINUTE = timedelta(minutes=1)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("label", "customer", "schedule"),
    [
        (
            "Sydney springs forward on Sunday 4 October 2026 and keeps Labour Day on Monday 5: Tuesday, 09:00 AEDT",
            {"tz": "Australia/Sydney", "country": "AU-NSW", "cadence": "weekly mon 09:00"},
            [
                ("2026-09-27T23:00", 1),  # Monday 28 September 09:00 AEST
                ("2026-10-04T22:00", 1),  # Labour Day 09:00 AEDT
                ("2026-10-05T21:59", 1),
                ("2026-10-05T22:00", 2),  # Tuesday 6 October 09:00 AEDT, an hour earlier in UTC than a week before
                ("2026-10-11T22:00", 3),  # Monday 12 October 09:00 AEDT
            ],
        ),
        (
            "Adelaide (+09:30) springs forward to +10:30 on Sunday 4 October 2026: 02:30 does not exist",
            {"tz": "Australia/Adelaide", "country": "AU-SA", "cadence": "daily 02:30", **EVERY_DAY},
            [
                ("2026-10-02T17:00", 1),  # Saturday 02:30 ACST
                ("2026-10-03T16:29", 1),  # Sunday 01:59 ACST
                ("2026-10-03T16:30", 2),  # 03:00 ACDT, the first minute after the jump
                ("2026-10-03T17:00", 2),  # 03:30 ACDT: once
                ("2026-10-04T16:00", 2),  # Labour Day in South Australia too
                ("2026-10-05T16:00", 3),  # Tuesday 02:30 ACDT
            ],
        ),
        (
            "Chatham (+12:45) springs forward at 02:45 on Sunday 27 September 2026: 03:00 does not exist, 03:45 first",
            {"tz": "Pacific/Chatham", "cadence": "daily 03:00", **EVERY_DAY},
            [
                ("2026-09-25T14:15", 1),  # Saturday 26 September 03:00 +1245
                ("2026-09-26T13:59", 1),
                ("2026-09-26T14:00", 2),  # 03:45 +1345, the first minute after the jump
                ("2026-09-26T14:15", 2),
                ("2026-09-27T13:15", 3),  # Monday 03:00 +1345
            ],
        ),
        (
            "Lord Howe moves its clocks half an hour: 02:15 does not exist on Sunday 4 October 2026 (02:00 → 02:30)",
            {"tz": "Australia/Lord_Howe", "cadence": "daily 02:15", **EVERY_DAY},
            [
                ("2026-10-02T15:45", 1),  # Saturday 02:15 +1030
                ("2026-10-03T15:29", 1),
                ("2026-10-03T15:30", 2),  # 02:30 +11, the first minute after the jump
                ("2026-10-03T15:45", 2),  # 02:45 +11: once
                ("2026-10-04T15:15", 3),  # Monday 02:15 +11
            ],
        ),
        (
            "Lord Howe goes back half an hour on Sunday 4 April 2027: 01:45 happens twice, nudged once",
            {"tz": "Australia/Lord_Howe", "cadence": "daily 01:45", **EVERY_DAY},
            [
                ("2027-04-02T14:45", 1),  # Saturday 01:45 +11
                ("2027-04-03T14:45", 2),  # Sunday 01:45 +11, the first of two
                ("2027-04-03T15:15", 2),  # 01:45 +1030, the second: nothing
                ("2027-04-04T15:15", 3),  # Monday 01:45 +1030
            ],
        ),
        (
            "Santiago springs forward at midnight on Sunday 6 September 2026: 00:30 does not exist, 01:00 is first",
            {"tz": "America/Santiago", "country": "CL", "cadence": "daily 00:30", **EVERY_DAY},
            [
                ("2026-09-05T04:30", 1),  # Saturday 00:30 −04
                ("2026-09-06T03:59", 1),
                ("2026-09-06T04:00", 2),  # 01:00 −03, the first minute after the jump
                ("2026-09-06T04:30", 2),
                ("2026-09-07T03:30", 3),  # Monday 00:30 −03
                ("2026-09-18T03:30", 3),  # Independence Day
                ("2026-09-19T03:30", 3),  # Army Day
                ("2026-09-20T03:30", 4),  # Sunday 20 September
            ],
        ),
        (
            "Kathmandu (+05:45): 09:00 there is 03:15 UTC",
            {"tz": "Asia/Kathmandu", "cadence": "daily 09:00", "working_week": "sun-fri"},
            [
                ("2026-12-04T03:14", 0),
                ("2026-12-04T03:15", 1),  # Friday 09:00 +0545
                ("2026-12-05T03:15", 1),  # Saturday: not a working day
                ("2026-12-06T03:15", 2),  # Sunday 09:00 +0545
            ],
        ),
        (
            "Pago Pago (−11) and its Friday: 09:00 there is 20:00 UTC, Saturday in most of the world",
            {"tz": "Pacific/Pago_Pago", "cadence": "weekly fri 09:00"},
            [
                ("2026-12-04T19:59", 0),
                ("2026-12-04T20:00", 1),  # Friday 4 December 09:00 SST
                ("2026-12-11T20:00", 2),
            ],
        ),
    ],
)
def test_southern_spring_and_zones_off_the_hour_nudge_at_the_customers_wall_time_once(
    store: Store,
    settings: Settings,
    fake_slack: FakeSlack,
    label: str,
    customer: dict[str, Any],
    schedule: list[tuple[str, int]],
) -> None:
    """Where the earlier rounds did not look: the southern hemisphere's spring switches of 2026, a half-hour switch,
    zones a quarter or three quarters of an hour off UTC's, and the far side of the date line."""
    first = at(schedule[0][0])
    store.add_customer(
        team_id=TEAM_ID,
        name="Acme",
        created_by="U0001",
        now=first - timedelta(hours=6),
        channel_id="C0ACME",
        owner_id="U0001",
        **customer,
    )
    for instant, expected in schedule:
        tick(store, settings, at(instant))
        assert len(nudges(fake_slack)) == expected, f"{label}: {instant}Z"


def test_a_customer_moved_east_past_its_call_on_the_next_day_there_is_nudged_at_once_not_a_week_later(
    slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """Weekly on Tuesday at 09:00, added on its Los Angeles owner's zone. Monday 30 Nov 20:00 in Los Angeles the owner
    sets the customer's real zone, Tokyo, where it is Tuesday 13:00: Tuesday's 09:00 has passed and its nudge never
    went out (on the old clock it was still 13 hours away). It comes now, once, as the answer says; not on 8 Dec."""
    add(store, tz="America/Los_Angeles", cadence="weekly tue 09:00")
    moment = at("2026-12-01T04:00")  # Monday 20:00 in Los Angeles, Tuesday 13:00 in Tokyo
    tick(store, settings, moment - MINUTE)
    assert nudges(fake_slack) == []
    clock.set(moment)
    answer = ephemeral(slack.command("edit acme tz=Asia/Tokyo"))
    assert "Today's call time (09:00) has passed and its nudge had not gone out: it comes now." in answer, answer
    for instant in (moment + MINUTE, moment + 2 * MINUTE, at("2026-12-01T17:00"), at("2026-12-02T00:00")):
        tick(store, settings, instant)
    (message,) = nudges(fake_slack)
    assert message["text"].startswith("<@U0001> Time for the weekly call with Acme (Tue 1 Dec"), message["text"]
    assert [(r.due_key, r.status) for r in rows(store)] == [("2026-12-01", "sent")]


def test_a_daily_customer_moved_east_is_not_nudged_twice_on_the_day_its_last_nudge_went_out_on_its_new_clock(
    slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """Daily at 09:00 on Los Angeles' clock: Monday's nudge went out at 09:00 there, Tuesday 02:00 in Tokyo. Set to
    Tokyo at 20:00 (Tuesday 13:00 there), the customer has had its one nudge of Tuesday: none comes now, and
    Wednesday's comes at 09:00 in Tokyo."""
    add(store, tz="America/Los_Angeles", cadence="daily 09:00")
    moment = at("2026-12-01T04:00")
    for instant in (at("2026-11-30T17:00"), moment - MINUTE):  # Monday 09:00 in Los Angeles; a minute before
        tick(store, settings, instant)
    clock.set(moment)
    assert "comes now" not in ephemeral(slack.command("edit acme tz=Asia/Tokyo"))
    for instant in (moment + MINUTE, at("2026-12-01T17:00"), at("2026-12-02T00:00")):
        tick(store, settings, instant)
    assert [m["text"] for m in nudges(fake_slack)] == [
        "<@U0001> Time for the daily call with Acme (Mon 30 Nov 09:00 America/Los_Angeles)",
        "<@U0001> Time for the daily call with Acme (Wed 2 Dec 09:00 Asia/Tokyo)",
    ]


def test_a_time_zone_typed_in_lower_case_with_a_fortnightly_cadence_starts_its_weeks_on_the_customers_today(
    slack: SlackRequests, store: Store, clock: FakeClock
) -> None:
    """Friday 08:00 in Tokyo (still Thursday in UTC) `edit acme tz=asia/tokyo cadence=biweekly thu`: a fortnightly
    cadence starts from the day it is set, the customer's Friday, so its first call is Thursday 10 December. The zone
    as typed, in lower case, was not found, and its weeks began on UTC's Thursday: the first call was on 17 December,
    as with the zone typed `Asia/Tokyo` it is not."""
    add(store, tz="America/Los_Angeles", cadence="weekly mon 09:00")
    clock.set(at("2026-12-03T23:00"))  # Friday 4 December 08:00 in Tokyo
    assert "`America/Los_Angeles` → `Asia/Tokyo`" in ephemeral(
        slack.command("edit acme tz=asia/tokyo cadence=biweekly thu")
    )
    answer = ephemeral(slack.command("cadence acme"))
    assert "Next nudge: Thu 10 Dec 09:00 (Asia/Tokyo)" in answer, answer


def test_a_next_step_dated_the_authors_today_a_day_behind_the_customer_is_refused_naming_the_customers_today(
    slack: SlackRequests, store: Store, clock: FakeClock
) -> None:
    """Monday 30 Nov 20:00 in Los Angeles, Tuesday 1 Dec in Tokyo: the owner dates a Tokyo customer's next step
    Monday, their today. It is the customer's yesterday, so it is refused, and the refusal said only "in the past",
    which reads as a mistake for today: it names the customer's zone and its today, in the command and the form."""
    customer = add(store, tz="Asia/Tokyo", cadence="weekly mon 09:00")
    clock.set(at("2026-12-01T04:00"))
    answer = ephemeral(slack.command("checkin acme green call kickoff went well next=2026-11-30"))
    assert "2026-11-30 is in the past in Asia/Tokyo (today there is Tue 1 Dec)" in answer, answer
    values = with_next_step(modal_values(customer.id, "green", "kickoff went well"), "send the plan", "2026-11-30")
    errors = slack.view_submission(CHECKIN_MODAL, values).json()["errors"]
    assert errors == {"next_due": "That day is in the past in Asia/Tokyo (today there is Tue 1 Dec)."}, errors
    assert store.checkins(team_id=TEAM_ID) == []
