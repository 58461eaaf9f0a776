"""Session 19's cadence findings, end to end: signed requests through the real app, the real jobs and sender ticked at
chosen instants against the fake Slack.

- `/partner snooze acme until mon 2pm` (the customer's people free from 14:00) snoozed until Monday 00:00 and kept
  "2pm" as the reason: the call came back at 09:00, five hours before anyone could take it. A time after the date is
  now when the snooze ends, on the customer's clock; a time alone (`until 3pm`) is today's.
- `until next monday`, `until next week`, `till friday`, as a busy account team types them, were refused.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from bot.settings import Settings
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
from tests.e2e.test_snooze_return import headline, sent
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import TEAM_ID, BotServer, FakeClock


def ny(n: int, hour: float) -> datetime:
    """The n-th day after Monday 30 November 2026 at `hour` o'clock in New York (EST, UTC−5)."""
    return day(n, timedelta(hours=hour + 5))


def test_a_snooze_until_a_day_and_a_time_brings_the_call_back_then_not_that_morning(
    slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """Daily at 09:00 New York. Friday 4 December's nudge went out; at 10:00 the owner types `snooze acme until mon
    2pm offsite till lunch`: Monday's call comes back at 14:00, once, the reason kept without the time."""
    add(store)
    tick(store, settings, day(4))
    clock.set(ny(4, 10))  # Friday 10:00
    answer = ephemeral(slack.command("snooze acme until mon 2pm offsite till lunch"))
    assert "until Mon 7 Dec 14:00 (America/New_York)" in answer and "(offsite till lunch)" in answer, answer
    assert "Next nudge: Mon 7 Dec 14:00" in answer, answer
    acme = store.customer_by_name(team_id=TEAM_ID, name="acme")
    assert acme is not None and acme.snooze_reason == "offsite till lunch"
    for instant in (day(7) - MINUTE, day(7), ny(7, 14) - MINUTE):
        tick(store, settings, instant)
    assert len(nudges(fake_slack)) == 1  # not at 09:00 Monday: they are out until 14:00
    for instant in (ny(7, 14), ny(7, 14) + MINUTE, day(8) - MINUTE):
        tick(store, settings, instant)
    _friday, monday = nudges(fake_slack)
    assert "the call snoozed on Fri 4 Dec" in headline(monday)
    assert sent(store) == [("2026-12-04", "Fri 14:00Z", None), ("2026-12-07", "Mon 19:00Z", "2026-12-04")]


@pytest.mark.parametrize(
    ("typed", "until"),
    [
        ("until next monday", "until Mon 7 Dec 00:00"),
        ("until next week", "until Mon 7 Dec 00:00"),
        ("till friday", "until Fri 11 Dec 00:00"),
        ("until Dec 8 at 9:30am", "until Tue 8 Dec 09:30"),
        ("until 3pm", "until Fri 4 Dec 15:00"),  # today's, on the customer's clock
        ("until today 4:30pm", "until Fri 4 Dec 16:30"),
        ("until fri 2 people out", "until Fri 11 Dec 00:00"),  # a bare number is the reason's
    ],
)
def test_a_snooze_typed_as_people_say_it_is_understood(
    slack: SlackRequests, store: Store, clock: FakeClock, typed: str, until: str
) -> None:
    add(store)
    clock.set(ny(4, 10))  # Friday 4 December, 10:00 New York
    answer = ephemeral(slack.command(f"snooze acme {typed}"))
    assert f"No nudges about *Acme* {until} (America/New_York)" in answer, answer


def test_a_snooze_until_a_time_already_past_is_refused_naming_it(
    slack: SlackRequests, store: Store, clock: FakeClock
) -> None:
    add(store)
    clock.set(ny(4, 10))  # Friday 10:00 New York
    answer = ephemeral(slack.command("snooze acme until 9am"))
    assert "09:00 has passed for this customer (it is 10:00 there)" in answer, answer
    acme = store.customer_by_name(team_id=TEAM_ID, name="acme")
    assert acme is not None and acme.snoozed_until is None


@pytest.mark.parametrize(
    ("edit", "answer", "due", "named"),
    [
        (
            "cadence acme daily 11:00",
            "Next nudge: Wed 2 Dec 11:00 (America/New_York)",
            ny(2, 11),
            "Wed 2 Dec 11:00 America/New_York",
        ),
        ("edit acme tz=America/Los_Angeles", "Wed 2 Dec 09:00", ny(2, 12), "Wed 2 Dec 09:00 America/Los_Angeles"),
    ],
)
def test_a_nudge_waiting_on_slack_whose_call_was_moved_later_that_day_comes_at_the_new_time_once(
    bot: BotServer,
    slack: SlackRequests,
    store: Store,
    settings: Settings,
    fake_slack: FakeSlack,
    clock: FakeClock,
    edit: str,
    answer: str,
    due: datetime,
    named: str,
) -> None:
    """Daily at 09:00 New York; Slack is down at 09:00 on Wednesday 2 December, so the nudge waits in the outbox. At
    09:30 the owner moves the call to 11:00 (or the customer to Los Angeles, its 09:00 at 12:00 New York), and Slack is
    back. The waiting nudge went out at 09:31, naming 09:00 New York, hours before the call, and none came at the new
    time; the answer said the next nudge was Thursday's."""
    add(store)
    tick(store, settings, ny(2, 8))
    fake_slack.fail_next("chat.postMessage", status=503, times=6)
    tick(store, settings, ny(2, 9))
    assert nudges(fake_slack) == []
    clock.set(ny(2, 9.5))
    reply = ephemeral(slack.command(edit))
    bot.settle()
    if edit.startswith("cadence"):
        assert answer in reply, reply
    else:
        assert answer in ephemeral(slack.command("cadence acme"))
    fake_slack.reset()  # Slack is back
    instant = ny(2, 9.5) + MINUTE
    while instant < due:
        tick(store, settings, instant)
        instant += 10 * MINUTE
    assert nudges(fake_slack) == []  # not before the call's new time
    for instant in (due, due + MINUTE, ny(2, 16)):
        tick(store, settings, instant)
    (message,) = nudges(fake_slack)
    assert message["text"] == f"<@U0001> Time for the daily call with Acme ({named})"
    (row,) = [r for r in rows(store) if r.due_key == "2026-12-02"]
    assert (row.status, row.due_at) == ("sent", due)
