"""Session 18's cadence findings, end to end: the real jobs and sender ticked at chosen instants against the fake Slack.

- A channel nudge mentioned its owner in its blocks only. Slack's notification (phone, desktop banner, the unread
  line) shows a message's `text` alone when it has blocks, and that text read "Time for the daily call with Acme …"
  with nobody named: the owner's notification now names them, as the message does (README: *mentioning the owner*).
- A customer whose owner was alerted and was then paused or archived, and resumed or restored, restarts its overdue
  clock (README, *Overdue*): when that clock ran out every surface said *overdue*, but the owner was never told. And
  the resume's or restore's answer now says the clock starts again, with the last call: the lapse the owner was told
  of (or a call missed before the pause or archive) is not set aside without a word.
- The same for launch mode turned on after the owner was told: its missed daily calls were never told.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.settings import Settings
from storage.models import Customer
from storage.store import Store
from tests.e2e.test_cadence import (  # noqa: F401  (acme_channel, unpaced: the module's autouse fixtures)
    MINUTE,
    acme_channel,
    add,
    day,
    ephemeral,
    nudges,
    rows,
    tick,
    unpaced,
)
from tests.e2e.test_overdue_clock import EVERYWHERE, NOWHERE, overdue_where
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import TEAM_ID, BotServer, FakeClock


def test_a_channel_nudge_notifies_its_owner_by_name_and_a_dm_names_nobody(
    store: Store, settings: Settings, fake_slack: FakeSlack
) -> None:
    """Acme (channel #acme, owner U0001) and Globex (no channel: its owner's DM), both daily at 09:00 New York."""
    add(store)
    add(store, name="Globex", channel_id=None)
    tick(store, settings, day(1))
    (message,) = nudges(fake_slack)
    assert message["text"] == "<@U0001> Time for the daily call with Acme (Tue 1 Dec 09:00 America/New_York)"
    assert "<@U0001>" in message["blocks"][0]["text"]["text"]
    (dm,) = [c.params for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] != "C0ACME"]
    assert dm["text"] == "Time for the daily call with Globex (Tue 1 Dec 09:00 America/New_York)"  # theirs already


def weekly_customer_told_overdue(store: Store, settings: Settings) -> Customer:
    """Acme, weekly on Tuesday at 09:00 New York, last call Tue 1 Dec: the ticks up to Mon 14 Dec tell its owner it
    is overdue."""
    acme = add(store, cadence="weekly tue 09:00")
    assert acme.id is not None
    store.record_checkin(
        team_id=TEAM_ID, customer_id=acme.id, author_id="U0001", mood="green", note="n", kind="call", now=day(1)
    )
    for n in (8, 12, 14):
        tick(store, settings, day(n))
    return acme


@pytest.mark.parametrize(
    ("stop", "back", "since"),
    [
        ("archive acme", "restore acme", "it was restored"),  # archived by mistake, restored a minute later
        ("pause acme", "resume acme", "it was resumed"),
    ],
)
def test_a_customer_alerted_before_a_pause_or_an_archive_is_alerted_again_when_its_restarted_clock_runs_out(
    bot: BotServer,
    slack: SlackRequests,
    store: Store,
    settings: Settings,
    fake_slack: FakeSlack,
    clock: FakeClock,
    stop: str,
    back: str,
    since: str,
) -> None:
    """Weekly on Tuesday at 09:00 New York, last call Tue 1 Dec: its owner is told on Mon 14 Dec (13 days). Paused or
    archived and brought back that day, its clock restarts (README, *Overdue*), and 11 days on, Fri 25 Dec, every
    surface says *overdue — no call since it was resumed/restored 11 days ago*. The owner was never told: the alert
    job dropped the customer as already alerted for the lapse of its last call before reading the restart."""
    acme = weekly_customer_told_overdue(store, settings)
    (first,) = rows(store, "overdue")
    assert (first.due_key, first.due_at, first.status) == ("lapse:2026-12-01", day(14), "sent")
    clock.set(day(14, timedelta(hours=16, minutes=30)))  # Monday 11:30
    ephemeral(slack.command(stop))
    clock.set(clock.now + MINUTE)
    # The answer says the clock starts again (the owner was told of a lapse that it now sets aside), not nothing.
    answer = ephemeral(slack.command(back))
    assert answer.endswith(
        " Its overdue clock starts again now, as a call would start it (the last call was Tue 1 Dec, 13 days ago)."
    ), answer
    for n in range(15, 25):
        tick(store, settings, day(n))
    clock.set(day(24, timedelta(hours=21)))  # Thursday 24 December, 16:00: not yet
    assert overdue_where(bot, slack, fake_slack, acme.id) == NOWHERE
    assert len(rows(store, "overdue")) == 1
    tick(store, settings, day(25))  # Friday 25 December, 09:00: 11 days since the restart — told, once
    first, second = rows(store, "overdue")
    assert (second.due_key, second.due_at, second.status) == ("lapse:2026-12-14", day(25), "sent")
    assert second.payload["reason"].startswith(f"No call since {since} 11 days ago")
    clock.set(day(25, timedelta(hours=15)))
    assert overdue_where(bot, slack, fake_slack, acme.id) == EVERYWHERE
    for n in (28, 29):
        tick(store, settings, day(n))
    assert len(rows(store, "overdue")) == 2


def test_launch_mode_turned_on_for_a_customer_already_alerted_tells_its_owner_of_a_missed_launch_call(
    slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """Weekly on Tuesday, last call Tue 1 Dec, its owner told on Mon 14 Dec; launch mode turned on that day owes a daily
    call from then (README, *Overdue*). Tuesday 15 Dec's launch call is missed: the owner hears it on Wednesday at
    09:00 — before, never, the customer counted as alerted already for the lapse of its last weekly call."""
    weekly_customer_told_overdue(store, settings)
    clock.set(day(14, timedelta(hours=16, minutes=30)))
    assert "Launch mode on for *Acme*" in ephemeral(slack.command("launch acme on"))
    for n in range(15, 19):
        for hour in (0, 8, 14):  # 19:00 the day before, 03:00 and 09:00 New York
            tick(store, settings, day(n, timedelta(hours=hour)))
    assert [(r.due_key, r.status) for r in rows(store) if r.due_key >= "2026-12-15"] == [
        (f"2026-12-{n}", "sent") for n in (15, 16, 17, 18)
    ]
    first, missed = rows(store, "overdue")
    assert first.due_key == "lapse:2026-12-01"
    assert (missed.due_key, missed.due_at, missed.status, missed.payload["reason"]) == (
        "lapse:2026-12-14",
        day(16),
        "sent",
        "the daily call on Tue 15 Dec was missed",
    )
    assert len([c for c in fake_slack.calls_to("chat.postMessage") if "was missed" in c.params["text"]]) == 1


@pytest.mark.parametrize("lift", ["resume acme", "snooze acme off"])
def test_resume_lifting_a_snooze_keeps_a_customer_paused_once_long_ago_overdue_as_snooze_off_does(
    bot: BotServer,
    slack: SlackRequests,
    store: Store,
    settings: Settings,
    fake_slack: FakeSlack,
    clock: FakeClock,
    lift: str,
) -> None:
    """README: `off` (or `resume`) lifts a snooze. Acme was paused for a minute on Mon 30 Nov, before its last call
    (Tue 1 Dec); its owner is told it is overdue on Mon 14 Dec; someone snoozes it and lifts the snooze with
    `resume`. Recorded as a resume, that restarted its overdue clock (the customer had been paused once): every
    surface stopped saying overdue, and the answer would have said the clock starts again. `snooze … off` kept it."""
    acme = add(store, cadence="weekly tue 09:00")
    assert acme.id is not None
    clock.set(day(0, timedelta(hours=15)))  # Monday 30 November, 10:00
    ephemeral(slack.command("pause acme"))
    clock.set(clock.now + MINUTE)
    ephemeral(slack.command("resume acme"))
    store.record_checkin(
        team_id=TEAM_ID, customer_id=acme.id, author_id="U0001", mood="green", note="n", kind="call", now=day(1)
    )
    for n in (8, 12, 14):
        tick(store, settings, day(n))
    assert [r.status for r in rows(store, "overdue")] == ["sent"]
    clock.set(day(14, timedelta(hours=20)))  # Monday 14 December, 15:00
    assert overdue_where(bot, slack, fake_slack, acme.id) == EVERYWHERE
    ephemeral(slack.command("snooze acme 1d"))
    clock.set(clock.now + MINUTE)
    answer = ephemeral(slack.command(lift))
    assert "overdue clock" not in answer, answer
    clock.set(clock.now + MINUTE)
    assert overdue_where(bot, slack, fake_slack, acme.id) == EVERYWHERE
