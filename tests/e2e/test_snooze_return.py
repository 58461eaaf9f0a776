"""A snoozed call comes back when the snooze ends (issue #4's Snooze, as users read it).

Snooze is clicked on a real nudge (signed block action, then the modal's signed submission); ticks run the real jobs
and sender at chosen instants against the fake Slack. A New York customer calling daily at 09:00 unless said.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import schedules.cadence
from bot.app import make_client
from bot.cli import print_upcoming
from bot.settings import Settings
from handlers.ids import (
    CARD_SNOOZE,
    NUDGE_SKIP,
    NUDGE_SNOOZE,
    NUDGE_SNOOZE_FOR,
    NUDGE_SNOOZE_MODAL,
    NUDGE_SNOOZE_REASON,
    NUDGE_SNOOZE_UNTIL,
)
from storage.store import Store
from tests.e2e.test_cadence import (  # noqa: F401  (acme_channel, unpaced: the module's autouse fixtures)
    NINE_NY,
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
from tests.e2e.test_home_surveys import open_card, open_home, row
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import TEAM_ID, BotServer, FakeClock

MINUTE = timedelta(minutes=1)


def snooze_nudge(
    slack: SlackRequests,
    fake_slack: FakeSlack,
    clock: FakeClock,
    at: datetime,
    *,
    until: str | None = None,
    reason: str = "customer at a trade show",
) -> None:
    """Clicks Snooze on the newest nudge at `at` and submits the modal: 1 day, or until the date `until`."""
    message = nudges(fake_slack)[-1]
    clock.set(at)
    value = message["blocks"][1]["elements"][1]["value"]
    assert slack.block_action(NUDGE_SNOOZE, value=value, channel_id="C0ACME", message=button_message(message)).status
    opened = fake_slack.calls_to("views.open")[-1]
    values: dict[str, Any] = {
        "for": {NUDGE_SNOOZE_FOR: {"type": "radio_buttons", "selected_option": {"value": "until" if until else "1d"}}},
        "reason": {NUDGE_SNOOZE_REASON: {"type": "plain_text_input", "value": reason}},
    }
    if until:
        values["until"] = {NUDGE_SNOOZE_UNTIL: {"type": "datepicker", "selected_date": until}}
    metadata = opened.params["view"]["private_metadata"]
    assert slack.view_submission(NUDGE_SNOOZE_MODAL, values, private_metadata=metadata).status == 200
    fake_slack.wait_for("chat.update")


def headline(message: dict[str, Any]) -> str:
    return str(message["blocks"][0]["text"]["text"])


def sent(store: Store) -> list[tuple[str, str, str | None]]:
    """(local date, due instant, snoozed_on) of every cadence nudge posted."""
    return [
        (r.due_key, r.due_at.strftime("%a %H:%MZ"), r.payload.get("snoozed_on"))
        for r in rows(store)
        if r.status == "sent"
    ]


def test_a_daily_call_snoozed_for_a_day_comes_back_at_the_same_time_next_day_once(
    slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock, capsys: Any
) -> None:
    add(store)
    tick(store, settings, day(1))  # Tuesday 09:00
    snooze_nudge(slack, fake_slack, clock, day(1) + 5 * MINUTE)  # quiet until Wednesday 09:05
    # What will happen, before it does: Wednesday's 09:00 call is folded into the snoozed call at 09:05.
    upcoming = ephemeral(slack.command("upcoming"))
    assert "Wed 2 Dec 09:05 America/New_York — *Acme*" in upcoming, upcoming
    assert "the call snoozed on Tue 1 Dec" in upcoming
    print_upcoming(settings, store, days=2, team=None, now=clock())
    plan = capsys.readouterr().out.splitlines()
    assert plan[0].split()[:6] == ["2026-12-02", "Wed", "09:05", "America/New_York", "2026-12-02T14:05Z", TEAM_ID]
    assert plan[0].endswith("(the call snoozed on Tue 1 Dec)") and plan[1].startswith("2026-12-03 Thu 09:00")
    assert len(plan) == 2

    tick(store, settings, day(2))  # Wednesday 09:00: still snoozed, and no nudge of its own
    assert len(nudges(fake_slack)) == 1
    for _ in range(2):  # the snooze ends at 09:05; the same tick twice posts it once
        tick(store, settings, day(2) + 5 * MINUTE)
    tick(store, settings, day(2) + 6 * MINUTE)
    _tuesday, wednesday = nudges(fake_slack)
    assert "Time for the daily call with *Acme* — Wed 2 Dec 09:05" in headline(wednesday)
    assert "This is the call snoozed on Tue 1 Dec (customer at a trade show)" in headline(wednesday)
    assert "<@U0001>" in headline(wednesday)
    assert [e["text"]["text"] for e in wednesday["blocks"][1]["elements"]] == ["Log call", "Snooze", "Skip today"]
    tick(store, settings, day(3))  # Thursday: the normal call
    assert sent(store) == [
        ("2026-12-01", "Tue 14:00Z", None),
        ("2026-12-02", "Wed 14:05Z", "2026-12-01"),
        ("2026-12-03", "Thu 14:00Z", None),
    ]


def test_a_weekly_call_snoozed_for_a_day_comes_back_the_next_day(
    slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    add(store, cadence="weekly mon 09:00")
    tick(store, settings, day(7))  # Monday 7 December 09:00
    snooze_nudge(slack, fake_slack, clock, day(7) + 30 * MINUTE)
    tick(store, settings, day(8) + 29 * MINUTE)
    assert len(nudges(fake_slack)) == 1
    tick(store, settings, day(8) + 30 * MINUTE)  # Tuesday 09:30, not next Monday
    assert "the call snoozed on Mon 7 Dec" in headline(nudges(fake_slack)[-1])
    tick(store, settings, day(14))
    assert sent(store) == [
        ("2026-12-07", "Mon 14:00Z", None),
        ("2026-12-08", "Tue 14:30Z", "2026-12-07"),
        ("2026-12-14", "Mon 14:00Z", None),
    ]


def test_a_call_snoozed_on_friday_for_a_day_comes_back_on_monday_at_the_call_time(
    slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    add(store)
    tick(store, settings, day(4))  # Friday 4 December
    snooze_nudge(slack, fake_slack, clock, day(4) + 5 * MINUTE)  # until Saturday 09:05: a weekend
    for instant in (day(5) + 5 * MINUTE, day(6, timedelta(hours=20)), day(7) - MINUTE):
        tick(store, settings, instant)
    assert len(nudges(fake_slack)) == 1
    tick(store, settings, day(7))  # Monday 09:00: one nudge, Monday's call and Friday's together
    tick(store, settings, day(7) + 5 * MINUTE)
    _friday, monday = nudges(fake_slack)
    assert "Mon 7 Dec 09:00" in headline(monday) and "the call snoozed on Fri 4 Dec" in headline(monday)
    assert sent(store) == [("2026-12-04", "Fri 14:00Z", None), ("2026-12-07", "Mon 14:00Z", "2026-12-04")]


def test_a_snooze_ending_on_a_holiday_brings_the_call_back_the_next_business_day(
    slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    add(store, country="US", cadence="weekly thu 09:00")
    tick(store, settings, day(24))  # Thursday 24 December
    snooze_nudge(slack, fake_slack, clock, day(24) + 10 * MINUTE)  # until Christmas Day, then a weekend
    for instant in (day(25) + 10 * MINUTE, day(26, timedelta(hours=15)), day(28) - MINUTE):
        tick(store, settings, instant)
    assert len(nudges(fake_slack)) == 1
    tick(store, settings, day(28))  # Monday 28 December 09:00
    assert "the call snoozed on Thu 24 Dec" in headline(nudges(fake_slack)[-1])
    assert sent(store)[-1] == ("2026-12-28", "Mon 14:00Z", "2026-12-24")


def test_a_snooze_until_a_date_brings_the_call_back_at_the_call_time_that_day(
    slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    add(store, cadence="weekly tue 10:30")
    tick(store, settings, day(1, timedelta(hours=15, minutes=30)))  # Tuesday 1 December 10:30
    snooze_nudge(slack, fake_slack, clock, day(1, timedelta(hours=16)), until="2026-12-03")  # until Thursday
    tick(store, settings, day(3, timedelta(hours=5)))  # Thursday 00:00 New York: the snooze is over, nobody woken
    tick(store, settings, day(3, timedelta(hours=15, minutes=29)))
    assert len(nudges(fake_slack)) == 1
    tick(store, settings, day(3, timedelta(hours=15, minutes=30)))  # 10:30, the customer's call time
    assert "Thu 3 Dec 10:30" in headline(nudges(fake_slack)[-1])
    assert sent(store)[-1] == ("2026-12-03", "Thu 15:30Z", "2026-12-01")


def test_a_call_logged_during_the_snooze_means_no_reminder(
    slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    add(store)
    tick(store, settings, day(1))
    snooze_nudge(slack, fake_slack, clock, day(1) + 5 * MINUTE)
    clock.set(day(1, timedelta(hours=19)))  # Tuesday afternoon
    assert "Logged" in ephemeral(slack.command("checkin acme green call went well after all"))
    for instant in (day(2), day(2) + 5 * MINUTE, day(2) + timedelta(hours=3), day(3)):
        tick(store, settings, instant)
    assert [(r.due_key, r.status) for r in rows(store)] == [
        ("2026-12-01", "sent"),
        ("2026-12-02", "skipped"),  # snoozed, and nothing owed: the call was logged
        ("2026-12-03", "sent"),
    ]
    assert not [r for r in rows(store) if r.payload.get("snoozed_on")]


@pytest.mark.parametrize(
    "how", ["resume acme", "snooze acme off", "snooze acme resume", "pause acme", "archive acme", "cadence acme off"]
)
def test_lifting_the_snooze_pausing_archiving_or_turning_the_cadence_off_cancels_the_reminder(
    how: str, slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    add(store, cadence="weekly tue 09:00")
    tick(store, settings, day(1))
    snooze_nudge(slack, fake_slack, clock, day(1) + 5 * MINUTE)
    clock.set(day(1, timedelta(hours=18)))
    ephemeral(slack.command(how))
    for instant in (day(2), day(2) + 5 * MINUTE, day(2) + timedelta(hours=4)):
        tick(store, settings, instant)
    assert len(nudges(fake_slack)) == 1
    assert [r.due_key for r in rows(store)] == ["2026-12-01"]


def test_a_snoozed_call_comes_back_across_the_end_of_daylight_saving_at_the_call_time_on_the_customers_clock(
    slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    friday = datetime(2026, 10, 30, 13, tzinfo=UTC)  # Friday 09:00 EDT; clocks go back on Sunday 1 November
    store.add_customer(
        team_id=TEAM_ID,
        name="Acme",
        created_by="U0001",
        now=friday - timedelta(days=3),
        channel_id="C0ACME",
        owner_id="U0001",
        tz="America/New_York",
        cadence="daily 09:00",
    )
    tick(store, settings, friday)
    snooze_nudge(slack, fake_slack, clock, friday + 5 * MINUTE)  # until Saturday 09:05
    monday_edt_clock = datetime(2026, 11, 2, 13, tzinfo=UTC)  # 08:00 EST: 09:00 had the clocks not gone back
    tick(store, settings, monday_edt_clock)
    assert len(nudges(fake_slack)) == 1
    tick(store, settings, monday_edt_clock + timedelta(hours=1))  # Monday 09:00 EST
    monday = nudges(fake_slack)[-1]
    assert "Mon 2 Nov 09:00 (America/New_York)" in headline(monday)
    assert "the call snoozed on Fri 30 Oct" in headline(monday)


def test_the_reminder_is_a_nudge_like_any_other_its_call_logged_shows_on_it(
    slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    add(store)
    tick(store, settings, day(1))
    snooze_nudge(slack, fake_slack, clock, day(1) + 5 * MINUTE)
    tick(store, settings, day(2) + 5 * MINUTE)
    clock.set(day(2) + 20 * MINUTE)
    assert "Logged" in ephemeral(slack.command("checkin acme green call done"))
    reminder = nudges(fake_slack)[-1]
    (update,) = fake_slack.wait_for("chat.update", where=lambda c: c.params.get("ts") == reminder["ts"])
    assert "Call logged by <@U0001>" in json.dumps(update.params["blocks"])
    tick(store, settings, day(3))  # Thursday's call as usual, and no missed-call alert for Wednesday
    assert not rows(store, "overdue")


def test_a_snooze_by_command_says_when_the_call_comes_back_and_skipping_that_call_cancels_it(
    slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    add(store, cadence="weekly tue 09:00")
    tick(store, settings, day(1))
    clock.set(day(1) + 5 * MINUTE)
    text = ephemeral(slack.command("snooze acme 1d at the airport"))
    assert "Next nudge: Wed 2 Dec 09:05 (America/New_York)" in text and "the call snoozed on Tue 1 Dec" in text
    fake_slack.wait_for("chat.update")  # the command's follow-up redraws the nudge: "Snoozed by …"
    (message,) = nudges(fake_slack)
    value = str(rows(store)[0].id)  # the Skip button of the message as it was before the redraw
    assert slack.block_action(NUDGE_SKIP, value=value, channel_id="C0ACME", message=button_message(message)).status
    assert "No nudge is scheduled" not in ephemeral(slack.command("cadence acme"))
    assert "Wed 2 Dec" not in ephemeral(slack.command("upcoming"))
    for instant in (day(2), day(2) + 5 * MINUTE, day(3)):
        tick(store, settings, instant)
    assert len(nudges(fake_slack)) == 1
    assert [r.due_key for r in rows(store)] == ["2026-12-01"]


def test_a_snooze_typed_as_a_command_shows_on_the_nudge_it_puts_off_as_a_click_would(
    slack: SlackRequests, bot: BotServer, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """The channel kept asking for a call nobody was about to make: only a click on the nudge's Snooze said so."""
    add(store, cadence="weekly tue 09:00")
    tick(store, settings, day(1))
    clock.set(day(1) + 30 * MINUTE)
    ephemeral(slack.command("snooze acme 1d out sick &amp; away"))
    (update,) = fake_slack.wait_for("chat.update")
    (message,) = nudges(fake_slack)
    assert update.params["ts"] == message["ts"] and len(message["blocks"]) == 2
    shown = message["blocks"][1]["elements"][0]["text"]
    assert shown.startswith(":zzz: Snoozed by <@U0001> until <!date^") and shown.endswith(" — out sick &amp; away.")
    # Skipping the call (a click on the message as it was) still outranks the snooze: nothing comes back.
    value = str(rows(store)[0].id)
    assert slack.block_action(NUDGE_SKIP, value=value, channel_id="C0ACME", message=button_message(message)).status
    fake_slack.wait_for("chat.update", 2)
    assert "Skipped for today by <@U0001>" in json.dumps(nudges(fake_slack)[0]["blocks"])
    for instant in (day(2), day(2) + 30 * MINUTE, day(3)):
        tick(store, settings, instant)
    assert len(nudges(fake_slack)) == 1
    # Snoozed again with the call logged: nothing was put off, the nudge keeps what it shows.
    tick(store, settings, day(8))
    clock.set(day(8) + 30 * MINUTE)
    ephemeral(slack.command("checkin acme green call quick sync"))
    fake_slack.wait_for("chat.update", 3)
    ephemeral(slack.command("snooze acme 1d"))
    bot.settle()
    assert len(fake_slack.calls_to("chat.update")) == 3
    assert "Call logged by <@U0001>" in json.dumps(nudges(fake_slack)[-1]["blocks"])


def test_a_snooze_from_the_card_shows_on_the_nudge_it_puts_off_and_a_refused_one_does_not(
    slack: SlackRequests, bot: BotServer, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    acme = add(store)
    tick(store, settings, day(1))
    clock.set(day(1) + 30 * MINUTE)
    message = {"type": "message", "ts": "1.1", "text": ""}  # the card, as an ephemeral answer
    assert slack.block_action(CARD_SNOOZE, value=str(acme.id), message=message).status == 200
    metadata = fake_slack.calls_to("views.open")[-1].params["view"]["private_metadata"]
    refused = {"for": {NUDGE_SNOOZE_FOR: {"type": "radio_buttons", "selected_option": None}}}
    assert "errors" in slack.view_submission(NUDGE_SNOOZE_MODAL, refused, private_metadata=metadata).json()
    bot.settle()
    assert fake_slack.calls_to("chat.update") == []
    values: dict[str, Any] = {
        "for": {NUDGE_SNOOZE_FOR: {"type": "radio_buttons", "selected_option": {"value": "1d"}}},
        "reason": {NUDGE_SNOOZE_REASON: {"type": "plain_text_input", "value": "customer at a trade show"}},
    }
    assert slack.view_submission(NUDGE_SNOOZE_MODAL, values, private_metadata=metadata).status == 200
    fake_slack.wait_for("chat.update")
    shown = json.dumps(nudges(fake_slack)[0]["blocks"])
    assert "Snoozed by <@U0001>" in shown and "customer at a trade show" in shown and "nudge_skip" not in shown


def test_an_overdue_alert_a_snooze_held_back_waits_for_the_next_morning_not_the_minute_its_call_comes_back(
    slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """Snoozed for two weeks, Acme passed its 10-day window meanwhile: the call came back in #acme and, that same
    minute, its owner was told it was overdue. The reminder gets its day; the alert follows the next morning."""
    acme = add(store, cadence="weekly tue 09:00", country="US")
    store.record_checkin(
        team_id=TEAM_ID, customer_id=acme.id or 0, author_id="U0001", mood="green", note="n", kind="call", now=day(1)
    )
    tick(store, settings, day(8))
    clock.set(day(8) + timedelta(hours=1))
    ephemeral(slack.command("snooze acme 2w customer offsite"))  # until Tuesday 22 December, 10:00
    for instant in (day(15), day(22), day(22) + timedelta(hours=1), day(22) + timedelta(hours=2)):
        tick(store, settings, instant)
    assert "the call snoozed on Tue 8 Dec" in headline(nudges(fake_slack)[-1])
    assert rows(store, "overdue") == []
    for instant in (day(23) - MINUTE, day(23), day(24)):
        tick(store, settings, instant)
    (alert,) = rows(store, "overdue")
    assert (alert.due_at, alert.status) == (day(23), "sent")  # Wednesday 09:00 in New York
    dm = fake_slack.messages[fake_slack._dm_by_user["U0001"]]
    assert ["is overdue" in m["text"] for m in dm].count(True) == 1


def test_a_call_snoozed_for_two_hours_after_its_nudge_comes_back_the_next_business_day_one_nudge_a_day(
    slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    add(store, cadence="weekly fri 09:00")
    tick(store, settings, day(4))  # Friday 4 December
    clock.set(day(4) + 5 * MINUTE)
    assert "Next nudge: Mon 7 Dec 09:00" in ephemeral(slack.command("snooze acme 2h"))
    for instant in (day(4, timedelta(hours=16, minutes=5)), day(4, timedelta(hours=20))):
        tick(store, settings, instant)  # 11:05 and 15:00 Friday: today's nudge was out already
    assert len(nudges(fake_slack)) == 1
    tick(store, settings, day(7))
    assert "the call snoozed on Fri 4 Dec" in headline(nudges(fake_slack)[-1])
    assert sent(store) == [("2026-12-04", "Fri 14:00Z", None), ("2026-12-07", "Mon 14:00Z", "2026-12-04")]


def test_list_and_home_show_when_a_snoozed_call_comes_back(
    bot: BotServer, slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    # A weekly call snoozed for a day comes back on Tuesday: the previews say so, not next Monday's call.
    customer = add(store, cadence="weekly mon 09:00")
    tick(store, settings, day(7))  # Monday 7 December 09:00
    snooze_nudge(slack, fake_slack, clock, day(7) + 30 * MINUTE)
    listed = json.dumps(slack.command("list").json())
    assert "Tue 8 Dec 09:30 EST" in listed and "Mon 14 Dec" not in listed, listed
    home = open_home(bot, slack, fake_slack)
    assert "next call Tue 8 Dec 09:30 EST" in row(home, customer.id or 0)

    tick(store, settings, day(8) + 30 * MINUTE)  # it came back: next Monday's call is next
    clock.set(day(8) + 31 * MINUTE)
    listed = json.dumps(slack.command("list").json())
    assert "Mon 14 Dec 09:00 EST" in listed and "Tue 8 Dec 09:30" not in listed, listed
    assert "next call Mon 14 Dec 09:00 EST" in row(open_home(bot, slack, fake_slack), customer.id or 0)


def test_a_snoozed_call_skipped_on_its_reminder_does_not_come_back_with_a_later_snooze(
    slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    add(store, cadence="weekly tue 09:00")
    tick(store, settings, day(1))
    snooze_nudge(slack, fake_slack, clock, day(1) + 5 * MINUTE)
    tick(store, settings, day(2) + 5 * MINUTE)  # Tuesday's call comes back on Wednesday: the owner skips it there
    reminder = nudges(fake_slack)[-1]
    clock.set(day(2) + 10 * MINUTE)
    value = reminder["blocks"][1]["elements"][2]["value"]
    assert slack.block_action(NUDGE_SKIP, value=value, channel_id="C0ACME", message=button_message(reminder)).status
    # Thursday the customer is snoozed for another reason: Tuesday's call, skipped, is owed no more.
    clock.set(day(3) + 60 * MINUTE)
    text = ephemeral(slack.command("snooze acme 1d out sick"))
    assert "Next nudge: Tue 8 Dec 09:00" in text and "snoozed on" not in text, text
    for instant in (day(4), day(4) + 60 * MINUTE, day(7)):
        tick(store, settings, instant)
    assert sent(store) == [("2026-12-01", "Tue 14:00Z", None), ("2026-12-02", "Wed 14:05Z", "2026-12-01")]


@pytest.mark.parametrize("typed", ["1d", "until thu"])
def test_a_daily_call_snoozed_by_command_is_not_reported_missed_when_it_comes_back(
    typed: str, slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    add(store)
    tick(store, settings, day(1))  # Tuesday 09:00
    clock.set(day(1) + 5 * MINUTE)
    assert "the call snoozed on Tue 1 Dec" in ephemeral(slack.command(f"snooze acme {typed} at the airport"))
    for instant in (
        day(2),
        day(2) + 5 * MINUTE,
        day(3, timedelta(hours=5)),
        day(3),
        day(4),
    ):  # Thu 00:00 ends 'until thu'
        tick(store, settings, instant)
    assert "the call snoozed on Tue 1 Dec" in headline(nudges(fake_slack)[1])
    # Tuesday's call was put off, not missed: no owner alert says it was (the button's snooze never did either).
    overdue = [(r.payload["reason"], r.due_at) for r in rows(store, "overdue")]
    assert len(overdue) == 1 and "Tue 1 Dec" not in overdue[0][0], overdue  # no call logged at all
    # 'until thu' brings the call back Thursday 09:00: the alert is Friday morning's, not that same minute's.
    assert overdue[0][1] == (day(3) if typed == "1d" else day(4)), overdue


def test_a_snooze_reason_typed_with_at_channel_comes_back_as_words_notifying_nobody(
    slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    add(store)
    tick(store, settings, day(1))
    clock.set(day(1) + 5 * MINUTE)
    # As Slack sends a command typed with @channel (the manifest's should_escape): the reason is restated in #acme.
    ephemeral(slack.command("snooze acme 1d <!channel> they are all at the trade show"))
    tick(store, settings, day(2) + 5 * MINUTE)
    reminder = nudges(fake_slack)[-1]
    assert "the call snoozed on Tue 1 Dec (@channel they are all at the trade show)" in headline(reminder)
    assert "<!channel>" not in json.dumps(reminder)


def test_home_counts_a_snoozed_call_coming_back_today_as_a_call_due_today(
    bot: BotServer, slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    # A weekly Tuesday call snoozed for a day is Wednesday's call to make: Home says so, as on any call's day.
    customer = add(store, cadence="weekly tue 09:00")
    tick(store, settings, day(1))
    snooze_nudge(slack, fake_slack, clock, day(1) + 5 * MINUTE)
    tick(store, settings, day(2) + 5 * MINUTE)
    clock.set(day(2) + 10 * MINUTE)
    home = open_home(bot, slack, fake_slack)
    assert "call due today" in row(home, customer.id or 0)
    assert "*Calls due today*\n1" in json.dumps(home["blocks"], ensure_ascii=False).replace("\\n", "\n")
    card = open_card(slack, fake_slack, home, customer.id or 0)
    assert "call due today" in json.dumps(card["blocks"])
    # Once the call is logged it is no longer due.
    assert "Logged" in ephemeral(slack.command("checkin acme green call caught up"))
    assert "call due today" not in row(open_home(bot, slack, fake_slack), customer.id or 0)


def test_snoozing_the_reminder_again_keeps_the_reason_the_call_was_snoozed_for(
    slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    add(store)
    tick(store, settings, day(1))
    clock.set(day(1) + 5 * MINUTE)
    ephemeral(slack.command("snooze acme 1d at the airport"))
    tick(store, settings, day(2) + 5 * MINUTE)
    assert "This is the call snoozed on Tue 1 Dec (at the airport)" in headline(nudges(fake_slack)[-1])
    # Snoozed again from the reminder with a new reason: the redrawn reminder still says why Tuesday's call was put off.
    snooze_nudge(slack, fake_slack, clock, day(2) + 10 * MINUTE, reason="still away")
    redrawn = nudges(fake_slack)[-1]
    assert "This is the call snoozed on Tue 1 Dec (at the airport)" in headline(redrawn), headline(redrawn)
    assert "still away" not in headline(redrawn)


def test_an_owner_digest_says_in_its_text_that_a_snoozed_call_is_coming_back(
    slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    add(store, channel_id=None)  # nudges go to the owner's DMs
    add(store, "Globex", channel_id=None, cadence="daily 09:05")
    tick(store, settings, day(1))
    clock.set(day(1) + 5 * MINUTE)
    ephemeral(slack.command("snooze acme 1d at the airport"))  # Tuesday's call comes back on Wednesday at 09:05
    tick(store, settings, day(2) + 5 * MINUTE)  # Globex's 09:05 call due with it: one digest for Dana
    digest = fake_slack.messages[fake_slack._dm_by_user["U0001"]][-1]
    assert "things need you now" in digest["text"], digest["text"]
    assert "*Acme* at Wed 2 Dec 09:05 (the call snoozed on Tue 1 Dec)" in digest["text"], digest["text"]


def test_a_snooze_saved_while_a_tick_sends_that_days_call_still_brings_it_back_that_day(
    slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    add(store, cadence="weekly tue 09:00")
    # A tick plans Tuesday's 09:00 nudge; the owner's 'snooze acme 2h' (typed at 08:55) is saved before it sends.
    schedules.cadence.plan_nudges(store=store, client=make_client(settings), now=day(1), settings=settings)
    clock.set(day(1) - 5 * MINUTE)
    assert "Next nudge: Tue 1 Dec 10:55" in ephemeral(slack.command("snooze acme 2h")), "back at 10:55 the same day"
    tick(store, settings, day(1))  # the sender finds the customer snoozed: that day's row is skipped, not posted
    assert not nudges(fake_slack)
    for instant in (day(1) + 115 * MINUTE, day(1) + 116 * MINUTE, day(2)):
        tick(store, settings, instant)
    (reminder,) = nudges(fake_slack)
    assert "This is the call snoozed on Tue 1 Dec" in headline(reminder)
    assert sent(store) == [("2026-12-01", "Tue 15:55Z", "2026-12-01")]


def test_a_snooze_saved_in_the_second_after_a_tick_started_brings_the_call_back_the_same_day(
    bot: BotServer, slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    # The 09:00 tick plans Tuesday's nudge; 'snooze acme 2h' is saved at 09:00:01, before the sender posts it. The
    # nudge never went out, so the call comes back at 11:00 that day, not on the next business day.
    customer = add(store, cadence="weekly tue 09:00")
    schedules.cadence.plan_nudges(store=store, client=make_client(settings), now=day(1), settings=settings)
    clock.set(day(1) + timedelta(seconds=1))
    text = ephemeral(slack.command("snooze acme 2h"))
    assert "Next nudge: Tue 1 Dec 11:00" in text and "the call snoozed on Tue 1 Dec" in text, text
    tick(store, settings, day(1) + timedelta(seconds=2))  # the sender finds the customer snoozed: nothing posted
    assert not nudges(fake_slack)
    clock.set(day(1) + 5 * MINUTE)
    assert "Tue 1 Dec 11:00 America/New_York — *Acme*" in ephemeral(slack.command("upcoming"))
    listed = json.dumps(slack.command("list").json())
    assert "Tue 1 Dec 11:00 EST" in listed, listed
    assert "next call Tue 1 Dec 11:00 EST" in row(open_home(bot, slack, fake_slack), customer.id or 0)
    for instant in (day(1) + 119 * MINUTE, day(1) + 120 * MINUTE, day(1) + 121 * MINUTE, day(2)):
        tick(store, settings, instant)
    (reminder,) = nudges(fake_slack)
    assert "Tue 1 Dec 11:00" in headline(reminder) and "This is the call snoozed on Tue 1 Dec" in headline(reminder)
    assert sent(store) == [("2026-12-01", "Tue 16:00Z", "2026-12-01")]


@pytest.mark.parametrize(
    ("edit", "back", "at"),
    [
        # The call time moved back past the last tick: it comes at once (the next tick, 09:30:30), not never.
        ("cadence acme weekly tue 09:00", "Thu 3 Dec 09:30 (America/New_York)", timedelta(hours=14, minutes=31)),
        # Moved but still ahead, or later by a zone one hour behind: at its new moment.
        ("cadence acme weekly tue 10:00", "Thu 3 Dec 10:00 (America/New_York)", timedelta(hours=15)),
        ("edit acme tz=America/Chicago", "Thu 3 Dec 10:30 (America/Chicago)", timedelta(hours=16, minutes=30)),
    ],
)
def test_a_snoozed_calls_return_moved_by_an_edit_during_the_snooze_still_comes_once(
    edit: str,
    back: str,
    at: timedelta,
    slack: SlackRequests,
    store: Store,
    settings: Settings,
    fake_slack: FakeSlack,
    clock: FakeClock,
) -> None:
    add(store, cadence="weekly tue 10:30")
    tick(store, settings, day(1, timedelta(hours=15, minutes=30)))  # Tuesday 1 December 10:30
    clock.set(day(1, timedelta(hours=16)))
    assert "Next nudge: Thu 3 Dec 10:30" in ephemeral(slack.command("snooze acme until 2026-12-03"))
    for instant in (timedelta(hours=5), timedelta(hours=5, minutes=5), timedelta(hours=14, minutes=30)):
        tick(store, settings, day(3, instant))  # Thursday 00:00, 00:05 and 09:30 New York: nothing due yet
    clock.set(day(3, timedelta(hours=14, minutes=30)))
    ephemeral(slack.command(edit))  # at 09:30 on Thursday the call's time (or zone) changes
    tick(store, settings, day(3, timedelta(hours=14, minutes=30, seconds=30)))
    if at > timedelta(hours=14, minutes=31):
        tick(store, settings, day(3, at) - MINUTE)
        assert len(nudges(fake_slack)) == 1, "not before its new moment"
    for instant in (at, at + MINUTE, timedelta(hours=15, minutes=30), timedelta(hours=16, minutes=30), NINE_NY * 2):
        tick(store, settings, day(3, instant))
    _tuesday, reminder = nudges(fake_slack)
    assert back in headline(reminder) and "the call snoozed on Tue 1 Dec" in headline(reminder), headline(reminder)
    assert "Sent late" not in json.dumps(reminder)
    assert [(r.due_key, r.status) for r in rows(store)] == [("2026-12-01", "sent"), ("2026-12-03", "sent")]


def test_a_snooze_typed_before_todays_call_puts_off_todays_call_not_an_earlier_unlogged_one(
    slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    # Monday's call was nudged and never logged; on Tuesday at 08:00 'snooze acme 2h' means Tuesday's 09:00 call.
    add(store)
    tick(store, settings, day(0))  # Monday 30 November 09:00
    clock.set(day(1) - timedelta(hours=1))
    text = ephemeral(slack.command("snooze acme 2h"))
    assert "Next nudge: Tue 1 Dec 10:00" in text and "the call snoozed on Tue 1 Dec" in text, text
    assert "Mon 30 Nov" not in text
    for instant in (day(1), day(1) + 59 * MINUTE, day(1) + 60 * MINUTE, day(1) + 61 * MINUTE):
        tick(store, settings, instant)
    _monday, reminder = nudges(fake_slack)
    assert "Tue 1 Dec 10:00" in headline(reminder) and "the call snoozed on Tue 1 Dec" in headline(reminder)
    assert sent(store) == [("2026-11-30", "Mon 14:00Z", None), ("2026-12-01", "Tue 15:00Z", "2026-12-01")]


def test_a_snooze_typed_after_todays_call_went_out_still_puts_off_that_call(
    slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    # The documented rule is unchanged once today's call has been nudged: it is the call put off.
    add(store)
    tick(store, settings, day(0))
    tick(store, settings, day(1))
    clock.set(day(1) + 5 * MINUTE)
    text = ephemeral(slack.command("snooze acme 1d"))
    assert "Next nudge: Wed 2 Dec 09:05" in text and "the call snoozed on Tue 1 Dec" in text, text


def test_a_paused_customer_shows_as_paused_not_overdue_on_home_list_and_digest(
    bot: BotServer, slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    customer = add(store)  # a daily call since Monday 30 November, never logged
    clock.set(day(4))  # Friday: overdue
    assert ":rotating_light: *overdue*" in row(open_home(bot, slack, fake_slack), customer.id or 0)
    assert "1 overdue" in ephemeral(slack.command("digest"))
    assert "Nudges and alerts" in ephemeral(slack.command("pause acme"))
    home = open_home(bot, slack, fake_slack)
    shown = row(home, customer.id or 0)
    assert "paused since Fri 4 Dec" in shown and "overdue" not in shown, shown
    assert ":hourglass: *Overdue*\n0" in json.dumps(home["blocks"], ensure_ascii=False).replace("\\n", "\n")
    listed = json.dumps(slack.command("list").json())
    assert "paused since Fri 4 Dec" in listed, listed
    digest = ephemeral(slack.command("digest"))
    assert "0 overdue" in digest, digest


def test_a_paused_customers_health_does_not_fall_for_the_calls_it_does_not_owe(
    slack: SlackRequests, bot: BotServer, store: Store, settings: Settings, clock: FakeClock
) -> None:
    customer = add(store, cadence="weekly mon 09:00")
    clock.set(day(1))
    assert "Logged" in ephemeral(slack.command("checkin acme green call went well"))
    clock.set(day(3))
    ephemeral(slack.command("pause acme"))
    ephemeral(slack.command("status acme"))
    bot.settle()  # pause and status store the score after the answer
    paused = store.customer(team_id=TEAM_ID, customer_id=customer.id or 0)
    clock.set(day(24))  # three weeks later, still paused: no call was owed meanwhile
    ephemeral(slack.command("status acme"))
    bot.settle()
    later = store.customer(team_id=TEAM_ID, customer_id=customer.id or 0)
    assert paused is not None and later is not None and paused.health_score is not None
    assert later.health_score == paused.health_score, (paused.health_score, later.health_score)


def test_a_second_snooze_coming_back_on_the_day_of_the_first_ones_cancelled_reminder_comes_back_once(
    slack: SlackRequests, bot: BotServer, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """The first snooze's reminder, held up by Slack, was cancelled once the snooze changed and kept that day's slot
    in the outbox: the second snooze's reminder, due the same day, was never inserted, so the call never came back."""
    add(store)
    tick(store, settings, day(1))
    clock.set(day(1) + 30 * MINUTE)
    assert "the call snoozed on Tue 1 Dec" in ephemeral(slack.command("snooze acme 2h"))  # back Wed at 09:00
    fake_slack.wait_for("chat.update")
    fake_slack.fail_next("chat.postMessage", status=503, times=3)  # Slack down, the client's retries too
    tick(store, settings, day(2))
    assert fake_slack.scripted("chat.postMessage") == 0 and len(nudges(fake_slack)) == 1
    clock.set(day(2) + 15 * MINUTE)
    ephemeral(slack.command("snooze acme 2h back from lunch"))  # Wednesday's call, back at 11:15 that day
    bot.settle()
    for instant in (day(2) + 16 * MINUTE, day(2, NINE_NY + 2 * timedelta(hours=1) + 15 * MINUTE), day(3)):
        tick(store, settings, instant)
    assert sent(store) == [
        ("2026-12-01", "Tue 14:00Z", None),
        ("2026-12-02", "Wed 16:15Z", "2026-12-02"),
        ("2026-12-03", "Thu 14:00Z", None),
    ]
    assert len(nudges(fake_slack)) == 3
    assert "back from lunch" in headline(nudges(fake_slack)[1])


def test_an_overdue_alert_waits_for_the_morning_after_a_snoozed_call_comes_back_at_the_call_time(
    slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """Monday's call logged, Tuesday's skipped, Wednesday's snoozed until Thursday: Thursday 09:00 the call came back
    in #acme and, that same minute, its owner was told Acme was overdue ('Last call 3 business days ago'), as the
    maximum window ran out at the moment the snooze brought the call back. The alert follows the next morning."""
    acme = add(store)
    tick(store, settings, day(0))
    store.record_checkin(
        team_id=TEAM_ID, customer_id=acme.id or 0, author_id="U0001", mood="green", note="n", kind="call", now=day(0)
    )
    tick(store, settings, day(1))  # Tuesday's nudge: skipped
    clock.set(day(1) + 5 * MINUTE)
    message = nudges(fake_slack)[-1]
    value = message["blocks"][1]["elements"][2]["value"]
    assert slack.block_action(NUDGE_SKIP, value=value, channel_id="C0ACME", message=button_message(message)).status
    tick(store, settings, day(2))  # Wednesday's: snoozed until Thursday
    snooze_nudge(slack, fake_slack, clock, day(2) + 5 * MINUTE, until="2026-12-03")
    for instant in (day(3) - MINUTE, day(3), day(3) + MINUTE):
        tick(store, settings, instant)
    assert "the call snoozed on Wed 2 Dec" in headline(nudges(fake_slack)[-1])
    assert rows(store, "overdue") == []
    for instant in (day(4) - MINUTE, day(4), day(4) + MINUTE):
        tick(store, settings, instant)
    (alert,) = rows(store, "overdue")
    assert (alert.due_at, alert.status) == (day(4), "sent")  # Friday 09:00 in New York
    dm = fake_slack.messages[fake_slack._dm_by_user["U0001"]]
    assert ["is overdue" in m["text"] for m in dm].count(True) == 1


def test_a_customer_resumed_after_a_long_pause_is_not_overdue_on_home_list_card_or_digest(
    bot: BotServer, slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """Resuming restarts the overdue clock as a call would (the owner's alert and the health score count from the
    resume): Home, the list, the card and the digest said 'overdue — last call 5 business days ago' the minute Acme
    was resumed, while /partner status gave 'Last contact 0 business days ago'."""
    customer = add(store)
    store.record_checkin(
        team_id=TEAM_ID,
        customer_id=customer.id or 0,
        author_id="U0001",
        mood="green",
        note="n",
        kind="call",
        now=day(0),
    )
    clock.set(day(1) - MINUTE)
    assert "Nudges and alerts" in ephemeral(slack.command("pause acme"))
    clock.set(day(7, timedelta(hours=16)))  # Monday 7 December, 11:00 in New York
    assert "back on" in ephemeral(slack.command("resume acme"))
    shown = row(open_home(bot, slack, fake_slack), customer.id or 0)
    assert "overdue" not in shown, shown
    for text in ("list", "show acme", "digest"):
        answer = json.dumps(slack.command(text).json(), ensure_ascii=False)
        assert "overdue —" not in answer and "*overdue*" not in answer and "1 overdue" not in answer, (text, answer)
    # Three business days without a call after the resume: overdue again, counted from the resume.
    clock.set(day(10, timedelta(hours=16)))  # Thursday 10 December
    shown = row(open_home(bot, slack, fake_slack), customer.id or 0)
    assert ":rotating_light: *overdue*" in shown, shown
    listed = json.dumps(slack.command("list").json(), ensure_ascii=False)
    assert "*overdue* — no call since it was resumed 3 business days ago" in listed, listed


def test_a_call_skipped_or_snoozed_from_its_nudge_is_not_counted_as_missed_by_the_health_score(
    slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """Skip today and Snooze are a person's decision that no call is owed that day (no missed-call alert is sent for
    them): the score's adherence read them as missed, '1 of the last 3 daily calls logged', and fell to yellow."""
    acme = add(store)
    tick(store, settings, day(0))
    store.record_checkin(
        team_id=TEAM_ID, customer_id=acme.id or 0, author_id="U0001", mood="green", note="n", kind="call", now=day(0)
    )
    tick(store, settings, day(1))  # Tuesday's call: skipped
    clock.set(day(1) + 5 * MINUTE)
    message = nudges(fake_slack)[-1]
    value = message["blocks"][1]["elements"][2]["value"]
    assert slack.block_action(NUDGE_SKIP, value=value, channel_id="C0ACME", message=button_message(message)).status
    tick(store, settings, day(2))  # Wednesday's: snoozed until Thursday
    snooze_nudge(slack, fake_slack, clock, day(2) + 5 * MINUTE, until="2026-12-03")
    clock.set(day(2) + 10 * MINUTE)
    status = json.dumps(slack.command("status acme").json(), ensure_ascii=False)
    assert "daily calls logged" not in status or "1 of the last 1 daily" in status, status
    assert "(green)" in status, status


def test_a_snooze_reason_typed_with_here_or_a_user_group_pages_nobody_on_the_nudge_or_its_return(
    slack: SlackRequests, bot: BotServer, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """`/partner snooze acme 1d @here at the expo @sales`: Slack sends `<!here>` and `<!subteam^…|@sales>`. The
    day's nudge in the customer's channel, redrawn to say it was snoozed, restated them as mentions: the words now,
    as on the call that comes back."""
    add(store)
    tick(store, settings, day(1))
    clock.set(day(1) + 5 * MINUTE)
    ephemeral(slack.command("snooze acme 1d <!here> at the expo <!subteam^S0SALES|@sales>"))
    (update,) = fake_slack.wait_for("chat.update")
    outcome = json.dumps(update.params["blocks"], ensure_ascii=False)
    assert "— @here at the expo @sales." in outcome and "<!" not in outcome.replace("<!date^", "")
    tick(store, settings, day(2) + 5 * MINUTE)
    back = headline(nudges(fake_slack)[-1])
    assert "the call snoozed on Tue 1 Dec (@here at the expo @sales)" in back and "<!" not in back
