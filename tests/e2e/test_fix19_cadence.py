"""Session 19's cadence fixes, end to end: signed requests through the real app, the real jobs and sender ticked at
chosen instants against the fake Slack."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from bot.settings import Settings
from handlers.ids import NUDGE_SKIP, NUDGE_SNOOZE, NUDGE_SNOOZE_FOR, NUDGE_SNOOZE_MODAL, NUDGE_SNOOZE_REASON
from storage.store import Store
from tests.e2e.test_cadence import (  # noqa: F401  (acme_channel, unpaced: the module's autouse fixtures)
    MINUTE,
    acme_channel,
    add,
    button_message,
    day,
    ephemeral,
    nudges,
    rows,
    tick,
    unpaced,
)
from tests.e2e.test_qa19_cadence import ny
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import BotServer, FakeClock


def test_a_nudge_waiting_on_slack_whose_customer_moved_to_a_zone_where_its_time_has_passed_names_the_new_zone(
    bot: BotServer, slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """Daily at 09:00 New York; Slack is down at 09:00 on Wednesday 2 December, so the nudge waits in the outbox. At
    09:30 (14:30 in London) the customer moves to London, where 09:00 has passed: the call is still to make, so the
    nudge goes out at once, as the answer says — naming London, not "09:00 America/New_York", a time it no longer
    has. Once."""
    add(store)
    tick(store, settings, ny(2, 8))
    fake_slack.fail_next("chat.postMessage", status=503, times=6)
    tick(store, settings, ny(2, 9))
    assert nudges(fake_slack) == []
    clock.set(ny(2, 9.5))
    reply = ephemeral(slack.command("edit acme tz=Europe/London"))
    assert "Today's call time (09:00) has passed and its nudge had not gone out: it comes now." in reply, reply
    bot.settle()
    fake_slack.reset()  # Slack is back
    for instant in (ny(2, 9.5) + MINUTE, ny(2, 9.5) + 2 * MINUTE, ny(2, 16)):
        tick(store, settings, instant)
    (message,) = nudges(fake_slack)
    assert message["text"] == "<@U0001> Time for the daily call with Acme (Wed 2 Dec 14:30 Europe/London)", message
    (row,) = [r for r in rows(store) if r.due_key == "2026-12-02"]
    assert (row.status, row.due_at) == ("sent", ny(2, 9.5))
    tick(store, settings, day(3, timedelta(hours=9)))  # Thursday 09:00 London
    assert (
        nudges(fake_slack)[-1]["text"] == "<@U0001> Time for the daily call with Acme (Thu 3 Dec 09:00 Europe/London)"
    )
    assert len(nudges(fake_slack)) == 2


def test_a_snooze_saved_in_the_same_second_as_the_call_logged_before_it_still_brings_the_next_call_back(
    bot: BotServer, slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """Daily at 09:00 New York. Tuesday 1 December's nudge went out; at 10:00 the owner logs the call, and in the same
    second types `snooze acme 1d` (out tomorrow morning). The snooze was read as having had that call logged during
    it: Wednesday's call was folded into the snooze and never came back. The rows' order says the call came first:
    Wednesday's call comes back when the snooze ends, once."""
    add(store)
    tick(store, settings, ny(1, 9))
    clock.set(ny(1, 10))
    assert "Logged" in ephemeral(slack.command("checkin acme green call went well"))
    bot.settle()
    assert "Wed 2 Dec 10:00" in ephemeral(slack.command("snooze acme 1d dentist"))
    bot.settle()
    for instant in (ny(2, 9), ny(2, 10) - MINUTE):
        tick(store, settings, instant)
    assert len(nudges(fake_slack)) == 1  # Wednesday 09:00 is inside the snooze
    for instant in (ny(2, 10), ny(2, 10) + MINUTE, ny(2, 16)):
        tick(store, settings, instant)
    _tuesday, wednesday = nudges(fake_slack)
    assert "the call snoozed on Wed 2 Dec" in wednesday["text"], wednesday["text"]
    tick(store, settings, ny(3, 9))  # Thursday's, at its own time
    assert len(nudges(fake_slack)) == 3


@pytest.mark.parametrize(
    ("week", "now", "until"),
    [
        ("sun-thu", ny(1, 10), "until Sun 6 Dec 00:00"),  # Tuesday: their next week begins on Sunday
        ("sun-thu", ny(6, 10), "until Sun 13 Dec 00:00"),  # on the Sunday their week began: the following one
        ("sun-thu", ny(4, 10), "until Sun 6 Dec 00:00"),  # Friday, their weekend
        ("mon-fri", ny(1, 10), "until Mon 7 Dec 00:00"),
        ("mon-fri", ny(5, 10), "until Mon 7 Dec 00:00"),  # Saturday
    ],
)
def test_until_next_week_is_the_first_business_day_of_the_customers_next_week(
    slack: SlackRequests, store: Store, clock: FakeClock, week: str, now: datetime, until: str
) -> None:
    """A customer whose people work Sunday to Thursday: `/partner snooze acme until next week` meant Monday, a day into
    their week, and Sunday's call was folded into the snooze."""
    add(store, working_week=week)
    clock.set(now)
    answer = ephemeral(slack.command("snooze acme until next week"))
    assert f"No nudges about *Acme* {until} (America/New_York)" in answer, answer


def test_buttons_of_yesterdays_nudge_clicked_twice_by_a_teammate_after_the_owner_changed_record_once(
    bot: BotServer, slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """Tuesday's and Wednesday's nudges are out; on Wednesday afternoon Acme gets a new owner, and a teammate (not the
    owner) clicks Skip on Tuesday's nudge twice, then Snooze on it as their Slack still shows it: Tuesday's call is
    skipped once, the snooze puts off Wednesday's call (Tuesday's message keeps its skip), and that call comes back
    once, on Thursday, to the new owner."""
    add(store)
    tick(store, settings, day(1))
    tick(store, settings, day(2))
    tuesday = json.loads(json.dumps(nudges(fake_slack)[0]))  # as the teammate's Slack shows it, buttons and all
    clock.set(day(2, timedelta(hours=20)))  # Wednesday 15:00 New York
    assert "owner" in ephemeral(slack.command("edit acme owner=<@U0002|sam>"))
    bot.settle()
    skip, snooze = (tuesday["blocks"][1]["elements"][i]["value"] for i in (2, 1))
    for _ in range(2):
        clicked = slack.block_action(
            NUDGE_SKIP, value=skip, user_id="U0003", channel_id="C0ACME", message=button_message(tuesday)
        )
        assert clicked.status == 200
        bot.settle()
    assert fake_slack.calls_to("response_url") == []  # the message said it: no note needed
    slack.block_action(
        NUDGE_SNOOZE, value=snooze, user_id="U0003", channel_id="C0ACME", message=button_message(tuesday)
    )
    (opened,) = fake_slack.calls_to("views.open")
    values = {
        "for": {NUDGE_SNOOZE_FOR: {"type": "radio_buttons", "selected_option": {"value": "1d"}}},
        "reason": {NUDGE_SNOOZE_REASON: {"type": "plain_text_input", "value": "offsite"}},
    }
    meta = opened.params["view"]["private_metadata"]
    assert slack.view_submission(NUDGE_SNOOZE_MODAL, values, private_metadata=meta, user_id="U0003").status == 200
    bot.settle()
    tue_row, wed_row = sorted(rows(store), key=lambda r: r.due_key)
    assert tue_row.payload["outcome"]["what"] == "skipped" and tue_row.payload["outcome"]["day"] == "2026-12-01"
    assert (wed_row.payload["outcome"]["what"], wed_row.payload["outcome"]["by"]) == ("snoozed", "U0003")
    shown = {m["ts"]: json.dumps(m["blocks"]) for m in nudges(fake_slack)}
    assert "The call of Tue 1 Dec was skipped by <@U0003>" in shown[tuesday["ts"]]
    for instant in (day(3), day(3, timedelta(hours=20)), day(3, timedelta(hours=21))):
        tick(store, settings, instant)
    assert [m["text"] for m in nudges(fake_slack)][2:] == [
        "<@U0002> Time for the daily call with Acme (Thu 3 Dec 15:00 America/New_York): the call snoozed on Wed 2 Dec"
    ]
