"""The cadence engine end to end: commands and buttons through the real app, ticks through the real jobs and sender.

Time is the FakeClock for requests and an explicit `now` for ticks; Slack is the fake Web API.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import schedules.cadence
import storage.cadence
from bot.app import make_client
from bot.settings import Settings
from domain.cadence import due_slots
from handlers.ids import (
    CHECKIN_MODAL,
    HOME_OPEN_CARD,
    HOME_SCOPE,
    NUDGE_LOG_CALL,
    NUDGE_SKIP,
    NUDGE_SNOOZE,
    NUDGE_SNOOZE_FOR,
    NUDGE_SNOOZE_MODAL,
    NUDGE_SNOOZE_REASON,
    NUDGE_SNOOZE_UNTIL,
)
from schedules import planner
from schedules.health import HEALTH_DROP
from schedules.jobs import run_tick
from schedules.sender import SenderOptions
from storage.cadence import Snooze
from storage.models import Customer, Nudge
from storage.store import Store
from tests.e2e.test_foundation import modal_values
from tests.e2e.test_home import click
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import BOT_TOKEN, SIGNING_SECRET, TEAM_ID, BotServer, FakeClock, counting_statements, ephemeral

MON = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)  # Monday 07:00 in New York
NINE_NY = timedelta(hours=14)  # 09:00 New York (EST) is 14:00 UTC
MINUTE = timedelta(minutes=1)


def day(n: int, at: timedelta = NINE_NY) -> datetime:
    """Midnight UTC of the n-th day after Monday 30 November 2026, plus `at`."""
    return datetime(2026, 11, 30, tzinfo=UTC) + timedelta(days=n) + at


@pytest.fixture(autouse=True)
def unpaced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schedules.cadence, "SENDER_OPTIONS", SenderOptions(interval=0.0))


@pytest.fixture(autouse=True)
def acme_channel(fake_slack: FakeSlack) -> None:
    fake_slack.add_channel("C0ACME", name="acme", members=["U0001"])  # the bot is a member
    fake_slack.add_user("U0003", name="lee", tz="America/Chicago")


def add(store: Store, name: str = "Acme", **fields: Any) -> Customer:
    values: dict[str, Any] = {
        "channel_id": "C0ACME",
        "owner_id": "U0001",
        "tz": "America/New_York",
        "cadence": "daily 09:00",
    }
    values.update(fields)
    return store.add_customer(team_id=TEAM_ID, name=name, created_by="U0001", now=MON, **values)


def tick(store: Store, settings: Settings, now: datetime) -> dict[str, int]:
    report = run_tick(store=store, client=make_client(settings), now=now, settings=settings)
    assert not report.failed, report.failed
    return report.done


def nudges(fake: FakeSlack, channel: str = "C0ACME") -> list[dict[str, Any]]:
    """The cadence's messages: tagged as Partner's outbox posts, with buttons (a check-in's summary is plain text)."""
    return [
        m
        for m in fake.messages.get(channel, [])
        if (m.get("metadata") or {}).get("event_type") == "partner_nudge" and m.get("blocks")
    ]


def rows(store: Store, kind: str = "cadence") -> list[Nudge]:
    return store.nudges(team_id=TEAM_ID, kinds=[kind], due_after=MON - timedelta(days=40))


def button_message(message: dict[str, Any]) -> dict[str, Any]:
    return {k: message[k] for k in ("type", "user", "bot_id", "text", "ts", "blocks")}


# The nudge itself


def test_a_due_nudge_is_posted_once_in_the_customers_channel_in_local_time(
    store: Store, settings: Settings, fake_slack: FakeSlack
) -> None:
    add(store)
    tick(store, settings, day(1) - timedelta(minutes=1))
    assert nudges(fake_slack) == []
    tick(store, settings, day(1))
    tick(store, settings, day(1))  # the same instant again: nothing new
    tick(store, settings, day(1) + timedelta(minutes=1))
    (message,) = nudges(fake_slack)
    assert "Time for the daily call with *Acme*" in message["blocks"][0]["text"]["text"]
    assert "Tue 1 Dec 09:00 (America/New_York)" in message["blocks"][0]["text"]["text"]
    assert "<@U0001>" in message["blocks"][0]["text"]["text"]
    actions = [e["action_id"] for e in message["blocks"][1]["elements"]]
    assert actions == [NUDGE_LOG_CALL, NUDGE_SNOOZE, NUDGE_SKIP]
    (row,) = [r for r in rows(store) if r.due_key == "2026-12-01"]
    assert (row.status, row.message_ts, row.channel_id) == ("sent", message["ts"], "C0ACME")


def test_a_call_logged_before_the_nudge_means_no_nudge(store: Store, settings: Settings, fake_slack: FakeSlack) -> None:
    acme = add(store)
    assert acme.id is not None
    store.record_checkin(
        team_id=TEAM_ID,
        customer_id=acme.id,
        author_id="U0001",
        mood="green",
        note="n",
        kind="call",
        now=day(1, timedelta(hours=13)),
    )
    tick(store, settings, day(1))
    assert nudges(fake_slack) == []
    assert [(r.due_key, r.status) for r in rows(store)] == [("2026-12-01", "skipped")]


def test_no_channel_means_a_dm_to_the_owner_and_several_at_once_make_one_digest(
    store: Store, settings: Settings, fake_slack: FakeSlack
) -> None:
    for name in ("Acme", "Globex", "Initech"):
        add(store, name, channel_id=None)
    tick(store, settings, day(1))
    (digest,) = fake_slack.messages[fake_slack._dm_by_user["U0001"]]  # with whatever else was due for Dana
    assert "things need you now" in digest["text"]
    assert all(f"daily call with *{name}*" in digest["text"] for name in ("Acme", "Globex", "Initech"))
    assert len({r.message_ts for r in rows(store)}) == 1


def test_skip_on_one_customer_of_an_owners_digest_redraws_that_one_and_leaves_the_others_buttons(
    slack: SlackRequests, bot: BotServer, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    for name in ("Acme", "Globex"):
        add(store, name, channel_id=None)
    tick(store, settings, day(1))
    dm_id = fake_slack._dm_by_user["U0001"]
    (digest,) = fake_slack.messages[dm_id]
    acme_buttons = next(b for b in digest["blocks"] if b["type"] == "actions")
    skip = next(e for e in acme_buttons["elements"] if e["action_id"] == NUDGE_SKIP)
    clock.set(day(1, timedelta(hours=15)))
    slack.block_action(NUDGE_SKIP, value=skip["value"], channel_id=dm_id, message=button_message(digest))
    (update,) = fake_slack.wait_for("chat.update")
    assert (update.params["channel"], update.params["ts"]) == (dm_id, digest["ts"])
    (redrawn,) = fake_slack.messages[dm_id]
    (left,) = [b for b in redrawn["blocks"] if b["type"] == "actions"]  # Globex's; Acme's say who skipped it
    assert {e["value"] for e in left["elements"]} == {str(rows(store)[1].id)}
    assert "Skipped for today by <@U0001>" in json.dumps(redrawn["blocks"])
    assert [(r.payload.get("outcome") or {}).get("what") for r in rows(store)] == ["skipped", None]


def test_a_nudge_waiting_on_slack_goes_to_the_channel_set_meanwhile_once(
    slack: SlackRequests, bot: BotServer, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    fake_slack.add_channel("C0NEW", name="acme-launch", members=["U0001"])
    add(store)
    fake_slack.fail_next("chat.postMessage", status=503, times=6)  # Slack down at 09:00
    tick(store, settings, day(1))
    clock.set(day(1, timedelta(minutes=2)))
    assert "<#C0ACME> → <#C0NEW>" in ephemeral(slack.command("edit acme <#C0NEW|acme-launch>"))
    bot.settle()
    fake_slack.reset()  # Slack is back
    for minutes in (5, 10, 20, 40, 80):
        tick(store, settings, day(1) + minutes * MINUTE)
    assert nudges(fake_slack) == []
    assert [m["text"] for m in nudges(fake_slack, "C0NEW")] == [
        "<@U0001> Time for the daily call with Acme (Tue 1 Dec 09:00 America/New_York)"
    ]
    assert [(r.status, r.channel_id) for r in rows(store)] == [("sent", "C0NEW")]


def test_a_channel_the_bot_was_removed_from_falls_back_to_the_owner(
    store: Store, settings: Settings, fake_slack: FakeSlack
) -> None:
    fake_slack.channels["C0ACME"]["is_member"] = False
    acme = add(store)
    tick(store, settings, day(1))
    dm = fake_slack.messages[fake_slack._dm_by_user["U0001"]]
    assert ["couldn't post" in m["text"] for m in dm].count(True) == 1
    assert any("Time for the daily call" in m["text"] for m in dm)
    customer = store.customer(team_id=TEAM_ID, customer_id=acme.id or 0)
    assert customer is not None and customer.channel_error == "not_in_channel"
    # The next day the nudge goes straight to the DM: no second refused post, no second notice.
    refused = len([c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "C0ACME"])
    tick(store, settings, day(2))
    assert len([c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "C0ACME"]) == refused
    dm_id = fake_slack._dm_by_user["U0001"]
    assert ["couldn't post" in m["text"] for m in fake_slack.messages[dm_id]].count(True) == 1
    assert [(r.due_key, r.status, r.channel_id) for r in rows(store)] == [
        ("2026-12-01", "sent", dm_id),
        ("2026-12-02", "sent", dm_id),
    ]


def test_inviting_partner_into_the_channel_that_refused_it_brings_the_next_nudge_back_there(
    slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack
) -> None:
    fake_slack.channels["C0ACME"]["is_member"] = False
    acme = add(store)
    tick(store, settings, day(1))  # refused: to the owner's DM, who is told "Invite me there with /invite @Partner"
    fake_slack.channels["C0ACME"]["is_member"] = True  # Dana does so; Slack tells Partner, and retries it too
    invited = {"type": "member_joined_channel", "user": fake_slack.bot_user_id, "channel": "C0ACME",
               "channel_type": "C", "team": TEAM_ID, "inviter": "U0001"}  # fmt: skip
    someone = {**invited, "user": "U0002"}  # anyone else joining changes nothing
    assert slack.event(someone).status == 200
    refused = store.customer(team_id=TEAM_ID, customer_id=acme.id or 0)
    assert refused is not None and refused.channel_error == "not_in_channel"
    for retry in (None, 1):
        assert slack.event(invited, event_id="Ev0INVITE", retry_num=retry).status == 200
    tick(store, settings, day(2))
    (message,) = nudges(fake_slack)
    assert message["text"].startswith("<@U0001> Time for the daily call with Acme (Wed 2 Dec")
    assert [(r.due_key, r.channel_id) for r in rows(store)][-1] == ("2026-12-02", "C0ACME")


def test_after_a_three_day_outage_old_nudges_are_missed_and_the_recent_one_is_late(
    store: Store, settings: Settings, fake_slack: FakeSlack
) -> None:
    add(store)
    tick(store, settings, day(0, timedelta(hours=13)))  # Monday 08:00 New York: the last tick before the outage
    tick(store, settings, day(3, timedelta(hours=16)))  # Thursday 11:00: back, two hours after Thursday's slot
    assert [(r.due_key, r.status) for r in rows(store)] == [
        ("2026-11-30", "missed"),
        ("2026-12-01", "missed"),
        ("2026-12-02", "missed"),
        ("2026-12-03", "sent"),
    ]
    (message,) = nudges(fake_slack)
    assert "Sent late" in json.dumps(message["blocks"])


def test_missed_daily_calls_alert_the_owner_by_the_next_business_morning_once(
    store: Store, settings: Settings, fake_slack: FakeSlack
) -> None:
    add(store)
    for n in (1, 2, 3, 7, 8):  # Tuesday 1 to Tuesday 8 December, nobody logs a call
        tick(store, settings, day(n))
    (alert,) = rows(store, "overdue")
    assert alert.due_key == "lapse:2026-11-30" and alert.status == "sent"
    assert alert.due_at == day(2)  # Wednesday 09:00 New York: the morning after Tuesday's missed call
    dm = fake_slack.messages[fake_slack._dm_by_user["U0001"]]
    assert [("is overdue" in m["text"]) for m in dm].count(True) == 1
    (overdue,) = [m for m in dm if "is overdue" in m["text"]]
    headline = overdue["blocks"][0]["text"]["text"]
    assert headline == ":warning: *Acme* is overdue: the daily call on Tue 1 Dec was missed. No call logged yet."


def test_a_missed_call_of_a_customer_whose_owner_was_deactivated_is_told_in_its_channel_once(
    store: Store, settings: Settings, fake_slack: FakeSlack
) -> None:
    """Sam left the company; Slack takes a DM to a deactivated user without an error and nobody reads it: the
    missed-call alert went to Sam alone. It goes to the customer's channel, saying why and how to fix it, once."""
    fake_slack.add_user("U0002", name="sam", tz="America/New_York")
    add(store, owner_id="U0002")
    tick(store, settings, day(1))
    fake_slack.add_user("U0002", name="sam", tz="America/New_York", deleted=True)
    for instant in (day(2), day(2) + MINUTE, day(3)):
        tick(store, settings, instant)
    overdue = [m for m in fake_slack.messages["C0ACME"] if "is overdue" in m["text"]]
    assert [m["text"] for m in overdue] == ["Acme is overdue: the daily call on Tue 1 Dec was missed"]
    assert overdue[0]["blocks"][0]["text"]["text"] == (
        ":warning: *Acme* is overdue: the daily call on Tue 1 Dec was missed. No call logged yet. Its owner <@U0002> is"
        " deactivated in Slack: pick another, `/partner edit Acme @owner`."
    )
    assert not [c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "U0002"]
    assert len([c for c in fake_slack.calls_to("users.info") if c.params.get("user") == "U0002"]) == 1


@pytest.mark.parametrize("team_channel", ["C0TEAM", None])
def test_the_nudges_of_a_customer_without_a_channel_whose_owner_was_deactivated_go_to_the_team_not_to_their_dm(
    slack: SlackRequests,
    store: Store,
    settings: Settings,
    fake_slack: FakeSlack,
    clock: FakeClock,
    team_channel: str | None,
) -> None:
    """Sam left; Acme has no channel, so its daily nudges (and its overdue alert) went on to Sam's DM, which Slack
    takes without a word and nobody reads. They go to the team's channel (the digest's), saying why and how to fix it;
    with none, nowhere (not to a DM nobody reads)."""
    fake_slack.add_user("U0002", name="sam", tz="America/New_York")
    fake_slack.add_channel("C0TEAM", name="team", members=["U0001"])
    if team_channel:
        store.set_digest_channel(team_id=TEAM_ID, channel_id=team_channel, now=MON)
    acme = add(store, owner_id="U0002", channel_id=None)
    tick(store, settings, day(1))  # Tuesday: Sam is still here, the nudge is Sam's DM
    assert [c.params["channel"] for c in fake_slack.calls_to("chat.postMessage")] == ["U0002"]
    fake_slack.add_user("U0002", name="sam", tz="America/New_York", deleted=True)
    for instant in (day(2), day(2) + MINUTE, day(3), day(3) + MINUTE):
        tick(store, settings, instant)
    to_sam = [c.params["text"] for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "U0002"]
    assert to_sam == [to_sam[0]] and "Time for" in to_sam[0]  # Tuesday's, while Sam was here: nothing since
    posted = [m["blocks"][0]["text"]["text"] for m in fake_slack.messages.get("C0TEAM", [])]
    if team_channel is None:
        assert posted == []
        assert {r.status for r in rows(store) if r.due_key > "2026-12-01"} == {"cancelled"}
        return
    gone = "Its owner <@U0002> is deactivated in Slack: pick another, `/partner edit Acme @owner`."
    call = ":telephone_receiver: Time for the daily call with *Acme* — {} 09:00 (America/New_York).\n:warning: " + gone
    assert posted == [
        call.format("Wed 2 Dec"),
        f":warning: *Acme* is overdue: the daily call on Tue 1 Dec was missed. No call logged yet. {gone}",
        call.format("Thu 3 Dec"),
        posted[-1],  # the health drop, below
    ]
    assert posted[-1].startswith(":chart_with_downwards_trend: *Acme*'s health fell from ") and posted[-1].endswith(
        f"See `/partner status Acme`.\n:warning: {gone}"
    )
    # Slack is asked about the owner once per new nudge or alert, not every tick.
    assert len([c for c in fake_slack.calls_to("users.info") if c.params.get("user") == "U0002"]) == 4
    # The list, the card and Home say so beside the owner, until another is picked.
    clock.set(day(3, timedelta(hours=16)))
    assert "<@U0002> (deactivated in Slack)" in json.dumps(slack.command("list").json(), ensure_ascii=False)
    assert "deactivated in Slack: pick another, `/partner edit Acme @owner`" in json.dumps(
        slack.command("show acme").json(), ensure_ascii=False
    )
    published = len(fake_slack.calls_to("views.publish"))
    slack.event({"type": "app_home_opened", "user": "U0001", "tab": "home", "channel": "D0001"})
    fake_slack.wait_for("views.publish", published + 1)
    team = click(
        slack, fake_slack, HOME_SCOPE, user="U0001", action_type="static_select", selected_option={"value": "team"}
    )
    assert "<@U0002> (deactivated in Slack)" in json.dumps(team, ensure_ascii=False)
    store.update_customer(
        team_id=TEAM_ID, customer_id=acme.id or 0, actor_id="U0001", changes={"owner_id": "U0001"}, now=clock.now
    )
    assert "deactivated" not in json.dumps(slack.command("list").json(), ensure_ascii=False)


@pytest.mark.parametrize(
    ("called", "missed", "weekend", "alerted"),
    [
        (day(3), "Fri 4 Dec", [day(5), day(6), day(7) - MINUTE], day(7)),  # a Friday call missed: Monday 09:00
        # Friday 15 January 2027 missed; Monday 18 is Martin Luther King Jr. Day: Tuesday 09:00.
        (day(45), "Fri 15 Jan", [day(47), day(49), day(50) - MINUTE], day(50)),
        # Thursday 31 December 2026 missed; New Year's Day is a Friday: Monday 4 January 2027 09:00.
        (day(30), "Thu 31 Dec", [day(32), day(34), day(35) - MINUTE], day(35)),
    ],
)
def test_a_missed_call_reaches_the_owner_by_the_customers_next_business_morning(
    store: Store,
    settings: Settings,
    fake_slack: FakeSlack,
    called: datetime,
    missed: str,
    weekend: list[datetime],
    alerted: datetime,
) -> None:
    acme = add(store, country="US")
    store.record_checkin(
        team_id=TEAM_ID, customer_id=acme.id or 0, author_id="U0001", mood="green", note="n", kind="call", now=called
    )
    for instant in [called + timedelta(days=1), *weekend, alerted, alerted + timedelta(hours=3)]:
        tick(store, settings, instant)
    (alert,) = rows(store, "overdue")
    assert (alert.due_at, alert.status) == (alerted, "sent")
    (overdue,) = [m for m in fake_slack.messages[fake_slack._dm_by_user["U0001"]] if "overdue" in m["text"]]
    assert f"the daily call on {missed} was missed" in overdue["blocks"][0]["text"]["text"]


def test_a_lapse_alerted_before_the_customers_time_zone_was_changed_is_not_alerted_again(
    slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """The lapse's dates are the customer's local dates: the last call, Tuesday 00:30 in London, was Monday evening in
    New York. Its alert went out on Thursday morning in London; moving the customer to New York that day must not tell
    the owner again, at 09:00 New York, about the same lapse (one DM per lapse, until a call is logged)."""
    acme = add(store, tz="Europe/London")
    store.record_checkin(
        team_id=TEAM_ID,
        customer_id=acme.id or 0,
        author_id="U0001",
        mood="green",
        note="n",
        kind="call",
        now=day(1, timedelta(minutes=30)),
    )
    for instant in (day(2, timedelta(hours=9)), day(3, timedelta(hours=9))):  # Wednesday's call, Thursday's alert
        tick(store, settings, instant)
    clock.set(day(3, timedelta(hours=12)))
    assert "`Europe/London` → `America/New_York`" in ephemeral(slack.command("edit acme tz=America/New_York"))
    for hours in (13, 14, 15, 24 + 14):  # Thursday 09:00 and 10:00 in New York, Friday 09:00
        tick(store, settings, day(3, timedelta(hours=hours)))
    dm = fake_slack.messages[fake_slack._dm_by_user["U0001"]]
    assert [m["text"] for m in dm if "is overdue" in m["text"]] == [
        "Acme is overdue: the daily call on Wed 2 Dec was missed"
    ]
    assert [r.due_key for r in rows(store, "overdue")] == ["lapse:2026-12-01"]


def test_a_cadence_set_a_week_after_the_customer_was_added_counts_its_overdue_clock_from_then(
    slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """Added without a cadence on Monday 30 November, Acme owed no call; its daily cadence is set a week later, at
    10:00 on Monday 7 December. The owner hears nothing that day ("overdue: no call logged yet; added 5 business
    days ago" was sent within the minute), and by Wednesday morning that Tuesday's call was missed, once."""
    add(store, cadence="off")
    for n in range(7):
        tick(store, settings, day(n))
    clock.set(day(7, timedelta(hours=15)))
    assert "daily at 09:00" in ephemeral(slack.command("cadence acme daily 09:00"))
    for instant in (
        day(7, timedelta(hours=15, minutes=1)),
        day(7, timedelta(hours=20)),
        day(8),
        day(8, timedelta(hours=20)),
    ):
        tick(store, settings, instant)
    assert rows(store, "overdue") == []
    for instant in (day(9), day(9, timedelta(hours=3)), day(10)):
        tick(store, settings, instant)
    dm = fake_slack.messages[fake_slack._dm_by_user["U0001"]]
    assert [m["text"] for m in dm if "is overdue" in m["text"]] == [
        "Acme is overdue: the daily call on Tue 8 Dec was missed"
    ]


def test_a_cadence_set_from_off_keeps_the_customers_health_as_a_resume_does(
    slack: SlackRequests, bot: BotServer, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """Acme, without a cadence, had a good call two weeks ago: health 100. Setting a daily cadence owes no call for
    the weeks before, so the score stays ("1 of the last 19 daily calls logged" dropped it to 33 and DMed the owner
    "Acme's health fell from 100 to 33" a minute after the cadence was set)."""
    acme = add(store, cadence="off")
    store.record_checkin(
        team_id=TEAM_ID, customer_id=acme.id or 0, author_id="U0001", mood="green", note="n", kind="call", now=day(1)
    )
    for n in range(2, 15):
        tick(store, settings, day(n, timedelta(hours=12)))
    clock.set(day(14, timedelta(hours=15)))  # Monday 14 December, 10:00 in New York
    assert "health :large_green_circle: 100" in ephemeral(slack.command("status acme"))
    assert "daily at 09:00" in ephemeral(slack.command("cadence acme daily 09:00"))
    bot.settle()
    assert "health :large_green_circle: 100" in ephemeral(slack.command("status acme"))
    tick(store, settings, clock.now + MINUTE)
    dm = fake_slack.messages.get(fake_slack._dm_by_user.get("U0001") or "", [])
    assert rows(store, HEALTH_DROP) == [] and not [m for m in dm if "health fell" in m["text"]]


def test_an_overdue_alert_counted_from_the_day_the_customer_was_added_says_no_call_once(
    slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    add(store)
    clock.set(MON + timedelta(hours=2))
    ephemeral(slack.command("snooze acme 3d"))  # no daily call is due until Thursday: the lapse counts from Monday
    for n in range(1, 5):
        tick(store, settings, day(n))
    (alert,) = rows(store, "overdue")
    assert alert.due_at == day(4)  # the morning after the snoozed call came back (Thursday 09:00), not that minute
    (overdue,) = [m for m in fake_slack.messages[fake_slack._dm_by_user["U0001"]] if "is overdue" in m["text"]]
    (headline,) = [b["text"]["text"] for b in overdue["blocks"] if "is overdue" in b.get("text", {}).get("text", "")]
    assert "no call logged yet; added" in headline.lower()
    assert headline.lower().count("no call logged yet") == 1, headline


# Buttons


def test_skip_today_updates_the_message_in_place(
    slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack
) -> None:
    add(store)
    tick(store, settings, day(1))
    (message,) = nudges(fake_slack)
    value = message["blocks"][1]["elements"][2]["value"]
    for _ in range(2):  # a double click changes nothing more
        response = slack.block_action(NUDGE_SKIP, value=value, channel_id="C0ACME", message=button_message(message))
        assert response.status == 200
    updates = fake_slack.wait_for("chat.update", 2)
    assert updates[0].params["ts"] == message["ts"]
    # The redraw keeps a text of its own (what a screen reader, search and the unread line show), never an empty one.
    assert updates[0].params["text"] == "<@U0001> Time for the daily call with Acme (Tue 1 Dec 09:00 America/New_York)"
    (updated,) = nudges(fake_slack)
    shown = json.dumps(updated["blocks"])
    assert "Skipped for today by <@U0001>" in shown and NUDGE_SKIP not in shown


@pytest.mark.parametrize("fault", [{"error": "message_not_found"}, {"status": 500, "times": 3}])
def test_skip_on_a_nudge_slack_will_not_redraw_is_confirmed_to_the_clicker_once(
    slack: SlackRequests, bot: BotServer, store: Store, settings: Settings, fake_slack: FakeSlack, fault: dict[str, Any]
) -> None:
    add(store)
    tick(store, settings, day(1))
    (message,) = nudges(fake_slack)
    value = message["blocks"][1]["elements"][2]["value"]
    fake_slack.fail_next("chat.update", **fault)  # the message deleted meanwhile, or Slack down
    for _ in range(2):  # and a second click, the first seeming to do nothing
        assert slack.block_action(NUDGE_SKIP, value=value, channel_id="C0ACME", message=button_message(message)).status
        bot.settle()
    (told,) = fake_slack.calls_to("response_url")
    assert told.params["text"].startswith(":fast_forward: Skipped for today by <@U0001>")
    assert "Slack didn't let me update *Acme*'s reminder" in told.params["text"]
    assert told.params["response_type"] == "ephemeral" and not told.params.get("replace_original")
    assert rows(store)[0].payload["outcome"]["what"] == "skipped"


@pytest.mark.parametrize("error", ["cant_update_message", "message_not_found"])
def test_a_snooze_on_a_nudge_slack_will_not_redraw_is_confirmed_to_the_snoozer_once(
    slack: SlackRequests, bot: BotServer, store: Store, settings: Settings, fake_slack: FakeSlack, error: str
) -> None:
    """The snooze form closes without a word: the redrawn nudge was the confirmation, and Slack refused to redraw it
    (too old to edit, deleted meanwhile), leaving the snoozer looking at the buttons they had just used."""
    add(store)
    tick(store, settings, day(1))
    (message,) = nudges(fake_slack)
    slack.block_action(NUDGE_SNOOZE, value=message["blocks"][1]["elements"][1]["value"], channel_id="C0ACME")
    (opened,) = fake_slack.calls_to("views.open")
    values = {
        "for": {NUDGE_SNOOZE_FOR: {"type": "radio_buttons", "selected_option": {"value": "1d"}}},
        "reason": {NUDGE_SNOOZE_REASON: {"type": "plain_text_input", "value": "offsite"}},
    }
    fake_slack.fail_next("chat.update", error=error)
    meta = opened.params["view"]["private_metadata"]
    assert slack.view_submission(NUDGE_SNOOZE_MODAL, values, private_metadata=meta).status == 200
    bot.settle()
    (told,) = fake_slack.calls_to("chat.postEphemeral")
    assert (told.params["channel"], told.params["user"]) == ("C0ACME", "U0001")
    assert (
        told.params["text"].startswith(":zzz: Snoozed by <@U0001> until <!date^")
        and "— offsite." in told.params["text"]
    )
    assert "Slack didn't let me update *Acme*'s reminder, so it still shows its buttons." in told.params["text"]
    assert rows(store)[0].payload["outcome"]["what"] == "snoozed"


def test_a_snooze_form_submitted_after_the_customer_was_paused_says_so_and_saves_nothing(
    slack: SlackRequests, bot: BotServer, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """Dana opens Snooze on the nudge; meanwhile Sam pauses Acme. A paused customer owes no call: nothing to snooze,
    and no snooze should sit under the pause to surface (or redraw the nudge) once it is resumed."""
    acme = add(store)
    tick(store, settings, day(1))
    (message,) = nudges(fake_slack)
    clock.set(day(1, timedelta(hours=1)))
    slack.block_action(NUDGE_SNOOZE, value=message["blocks"][1]["elements"][1]["value"], channel_id="C0ACME")
    (opened,) = fake_slack.calls_to("views.open")
    assert slack.command("pause acme").status == 200
    bot.settle()
    redrawn = len(fake_slack.calls_to("chat.update"))
    values = {
        "for": {NUDGE_SNOOZE_FOR: {"type": "radio_buttons", "selected_option": {"value": "1d"}}},
        "reason": {NUDGE_SNOOZE_REASON: {"type": "plain_text_input", "value": "offsite"}},
    }
    meta = opened.params["view"]["private_metadata"]
    submitted = slack.view_submission(NUDGE_SNOOZE_MODAL, values, private_metadata=meta)
    bot.settle()
    assert submitted.json() == {
        "response_action": "errors",
        "errors": {
            "for": "Acme's nudges are paused, so there is nothing to snooze. /partner resume Acme turns them back on."
        },
    }
    paused = store.customer(team_id=TEAM_ID, customer_id=acme.id or 0)
    assert paused is not None and paused.paused_at is not None and paused.snoozed_until is None
    assert (rows(store)[0].payload.get("outcome") or {}).get("what") != "snoozed"
    assert len(fake_slack.calls_to("chat.update")) == redrawn  # the paused nudge stays as the pause drew it


def test_snoozing_a_paused_customer_by_command_is_refused_as_the_form_refuses_it_and_saves_nothing(
    slack: SlackRequests, bot: BotServer, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """The snooze form refused a paused customer, yet `/partner snooze acme 2d` saved a snooze under the pause."""
    acme = add(store)
    tick(store, settings, day(1))
    clock.set(day(1, timedelta(hours=1)))
    assert slack.command("pause acme").status == 200
    bot.settle()
    before = [e.kind for e in store.customer_events(team_id=TEAM_ID, customer_id=acme.id or 0)]
    for typed in ("snooze acme 2d", "snooze acme until friday offsite"):
        said = ephemeral(slack.command(typed))
        assert (
            "Acme's nudges are paused, so there is nothing to snooze. `/partner resume Acme` turns them back on."
            in said
        )
    bot.settle()
    paused = store.customer(team_id=TEAM_ID, customer_id=acme.id or 0)
    assert paused is not None and paused.paused_at is not None and paused.snoozed_until is None
    assert [e.kind for e in store.customer_events(team_id=TEAM_ID, customer_id=acme.id or 0)] == before
    assert "Snooze lifted" in ephemeral(slack.command("snooze acme off"))  # lifting one stays possible


def test_a_nudge_slack_does_not_redraw_in_time_leaves_the_tick_going(
    store: Store, settings: Settings, fake_slack: FakeSlack
) -> None:
    acme = add(store)
    tick(store, settings, day(1))
    nudges(fake_slack)
    logged = day(1, timedelta(hours=15))
    assert acme.id is not None
    store.record_checkin(
        team_id=TEAM_ID, customer_id=acme.id, author_id="U0001", mood="green", note="call", kind="call", now=logged
    )
    fake_slack.fail_next("chat.update", delay=1.5, times=3)  # longer than the client's 1 s timeout, retries too
    client = make_client(settings, timeout=1)
    later = logged + timedelta(minutes=1)
    assert schedules.cadence.mark_logged_calls(store=store, client=client, now=later, settings=settings) == 1
    assert rows(store)[0].payload["outcome"]["what"] == "logged"  # recorded; only the redraw was lost


def test_skip_clicked_on_yesterdays_nudge_skips_yesterdays_call_and_says_so(
    slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    add(store)
    tick(store, settings, day(1))
    (tuesday,) = nudges(fake_slack)
    clock.set(day(2) - timedelta(hours=1))  # Wednesday 08:00 in New York: before the missed-call alert's time
    value = tuesday["blocks"][1]["elements"][2]["value"]
    assert (
        slack.block_action(NUDGE_SKIP, value=value, channel_id="C0ACME", message=button_message(tuesday)).status == 200
    )
    fake_slack.wait_for("chat.update")
    shown = json.dumps(nudges(fake_slack)[0]["blocks"])
    assert "The call of Tue 1 Dec was skipped by <@U0001>" in shown and "for today" not in shown
    tick(store, settings, day(2))  # Wednesday's own nudge still comes; Tuesday's call is excused, not missed
    assert [r.due_key for r in rows(store) if r.status == "sent"] == ["2026-12-01", "2026-12-02"]
    assert rows(store, "overdue") == []


def test_snooze_clicked_on_yesterdays_nudge_shows_on_todays_nudge_whose_call_it_puts_off(
    slack: SlackRequests, bot: BotServer, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """On Wednesday Dana snoozes Acme for a day from Tuesday's nudge, higher in the channel: the call it puts off is
    Wednesday's (it comes back on Thursday), yet Wednesday's nudge kept offering Log call / Snooze / Skip."""
    add(store)
    tick(store, settings, day(1))
    tick(store, settings, day(2))
    tuesday = json.loads(json.dumps(nudges(fake_slack)[0]))
    clock.set(day(2, timedelta(hours=15)))
    value = tuesday["blocks"][1]["elements"][1]["value"]
    slack.block_action(NUDGE_SNOOZE, value=value, channel_id="C0ACME", message=button_message(tuesday))
    (opened,) = fake_slack.calls_to("views.open")
    values = {"for": {NUDGE_SNOOZE_FOR: {"type": "radio_buttons", "selected_option": {"value": "1d"}}}}
    meta = opened.params["view"]["private_metadata"]
    assert slack.view_submission(NUDGE_SNOOZE_MODAL, values, private_metadata=meta).status == 200
    bot.settle()
    for message in nudges(fake_slack):  # Tuesday's, clicked, and Wednesday's, whose call comes back on Thursday
        shown = json.dumps(message["blocks"])
        assert "Snoozed by <@U0001> until" in shown and NUDGE_SKIP not in shown, message["text"]
    assert len(fake_slack.calls_to("chat.update")) == 2
    tick(store, settings, day(3, timedelta(hours=15)))
    assert nudges(fake_slack)[-1]["text"].endswith(": the call snoozed on Wed 2 Dec")


def test_log_call_opens_the_checkin_modal_and_the_message_shows_the_call_once_logged(
    slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    acme = add(store)
    tick(store, settings, day(1))
    (message,) = nudges(fake_slack)
    value = message["blocks"][1]["elements"][0]["value"]
    slack.block_action(NUDGE_LOG_CALL, value=value, channel_id="C0ACME", message=button_message(message))
    (opened,) = fake_slack.calls_to("views.open")
    view = opened.params["view"]
    assert view["callback_id"] == CHECKIN_MODAL
    blocks = {b["block_id"]: b for b in view["blocks"] if "block_id" in b}
    assert blocks["customer"]["element"]["initial_option"]["value"] == str(acme.id)
    assert blocks["call"]["element"]["initial_options"][0]["value"] == "call"
    clock.set(day(1, timedelta(hours=15)))
    submitted = slack.view_submission(CHECKIN_MODAL, modal_values(acme.id, "green", "Went well", call=True))
    assert submitted.status == 200
    # As soon as the call is saved, not at the next tick: the channel sees the nudge was answered.
    (update,) = fake_slack.wait_for("chat.update")
    assert update.params["ts"] == message["ts"]
    (updated,) = nudges(fake_slack)
    assert "Call logged by <@U0001>" in json.dumps(updated["blocks"])
    tick(store, settings, day(1, timedelta(hours=15, minutes=1)))
    tick(store, settings, day(2) - timedelta(hours=1))
    assert len(fake_slack.calls_to("chat.update")) == 1


def log_call_from(slack: SlackRequests, fake_slack: FakeSlack, message: dict[str, Any]) -> dict[str, Any]:
    """Clicks the nudge's Log call; the check-in form it opened."""
    value = message["blocks"][1]["elements"][0]["value"]
    slack.block_action(NUDGE_LOG_CALL, value=value, channel_id="C0ACME", message=button_message(message))
    return dict(fake_slack.calls_to("views.open")[-1].params["view"])


def confirmations(fake_slack: FakeSlack) -> list[str]:
    return [c.params["text"] for c in fake_slack.calls_to("chat.postEphemeral") if "Logged a" in c.params["text"]]


@pytest.mark.parametrize(
    ("zone", "first", "opened", "sent"),
    [
        # Tuesday's nudge, its form opened at 23:50 in New York and sent at 00:10 on Wednesday.
        ("America/New_York", day(1), day(1, timedelta(hours=28, minutes=50)), day(1, timedelta(hours=29, minutes=10))),
        # Cairo's clocks jump from Thursday 29 April 2027 24:00 to Friday 01:00: the form, opened at 23:50, is sent at
        # 01:10 on Friday, twenty minutes later.
        (
            "Africa/Cairo",
            datetime(2027, 4, 29, 7, tzinfo=UTC),
            datetime(2027, 4, 29, 21, 50, tzinfo=UTC),
            datetime(2027, 4, 29, 22, 10, tzinfo=UTC),
        ),
    ],
)
def test_a_call_logged_from_a_nudge_just_after_midnight_counts_for_the_nudges_day_and_the_next_days_nudge_goes_out(
    slack: SlackRequests,
    bot: BotServer,
    store: Store,
    settings: Settings,
    fake_slack: FakeSlack,
    clock: FakeClock,
    zone: str,
    first: datetime,
    opened: datetime,
    sent: datetime,
) -> None:
    """Dana clicked Log call on the day's nudge late in the evening and sent the form just after midnight: the call
    was the nudge's day's. It counted for the next day instead, whose nudge was then skipped though nobody called."""
    acme = add(store, tz=zone)
    tick(store, settings, first)
    (message,) = nudges(fake_slack)
    clock.set(opened)
    form = log_call_from(slack, fake_slack, message)
    assert "the nudge's day" not in json.dumps(form)  # the nudge is today's when the form opens
    clock.set(sent)
    values = modal_values(acme.id, "green", "Late call", call=True)
    assert slack.view_submission(CHECKIN_MODAL, values, private_metadata=form["private_metadata"]).status == 200
    bot.settle()
    assert "Call logged by <@U0001>" in json.dumps(nudges(fake_slack)[0]["blocks"])
    called = first.astimezone(ZoneInfo(zone)).date()
    (confirmation,) = confirmations(fake_slack)
    assert f"It counts for the call of {called:%a} {called.day} {called:%b}, the nudge's day." in confirmation
    (checkin,) = store.checkins(team_id=TEAM_ID)
    assert checkin.created_at.astimezone(ZoneInfo(zone)).date() == called
    tick(store, settings, first + timedelta(days=1))
    assert [(r.due_key, r.status) for r in rows(store)] == [
        (called.isoformat(), "sent"),
        ((called + timedelta(days=1)).isoformat(), "sent"),
    ]
    assert len(nudges(fake_slack)) == 2


def test_a_call_logged_just_after_midnight_from_a_snoozed_call_coming_back_counts_for_the_day_it_came_back(
    slack: SlackRequests, bot: BotServer, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    acme = add(store)
    tick(store, settings, day(1))
    clock.set(day(1, timedelta(hours=15)))  # Tuesday 10:00 in New York: Tuesday's call put off a day
    ephemeral(slack.command("snooze acme 1d"))
    bot.settle()
    tick(store, settings, day(2, timedelta(hours=15, minutes=1)))  # it comes back on Wednesday
    back = nudges(fake_slack)[-1]
    assert back["text"].endswith(": the call snoozed on Tue 1 Dec")
    clock.set(day(2, timedelta(hours=28, minutes=50)))  # Wednesday 23:50
    form = log_call_from(slack, fake_slack, back)
    clock.set(day(2, timedelta(hours=29, minutes=10)))  # Thursday 00:10
    values = modal_values(acme.id, "green", "Late call", call=True)
    assert slack.view_submission(CHECKIN_MODAL, values, private_metadata=form["private_metadata"]).status == 200
    bot.settle()
    (confirmation,) = confirmations(fake_slack)
    assert "It counts for the call of Wed 2 Dec, the nudge's day." in confirmation
    tick(store, settings, day(3))
    assert [(r.due_key, r.status) for r in rows(store) if r.due_key >= "2026-12-02"] == [
        ("2026-12-02", "sent"),
        ("2026-12-03", "sent"),
    ]


def test_a_call_typed_or_a_form_opened_apart_from_a_nudge_counts_for_the_day_it_is_sent(
    slack: SlackRequests, bot: BotServer, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """A check-in not opened from a nudge is the call of the day it is sent: at 00:10 on Wednesday, Wednesday's."""
    acme = add(store)
    globex = add(store, "Globex")
    tick(store, settings, day(1))
    clock.set(day(1, timedelta(hours=28, minutes=50)))  # Tuesday 23:50 in New York
    slack.command("checkin", trigger_id="999.888.modal")
    form = fake_slack.calls_to("views.open")[-1].params["view"]
    clock.set(day(1, timedelta(hours=29, minutes=10)))  # Wednesday 00:10
    ephemeral(slack.command("checkin acme green call late one"))
    values = modal_values(globex.id, "green", "Late call", call=True)
    assert slack.view_submission(CHECKIN_MODAL, values, private_metadata=form["private_metadata"]).status == 200
    bot.settle()
    assert not any("counts for the call" in text for text in confirmations(fake_slack))
    tick(store, settings, day(2))
    assert [(r.customer_id, r.due_key, r.status) for r in rows(store) if r.due_key == "2026-12-02"] == [
        (acme.id, "2026-12-02", "skipped"),
        (globex.id, "2026-12-02", "skipped"),
    ]


def test_log_call_on_last_fridays_nudge_clicked_on_monday_logs_fridays_call_and_says_so(
    slack: SlackRequests, bot: BotServer, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    acme = add(store)
    tick(store, settings, day(4))  # Friday 4 December
    tick(store, settings, day(7))  # Monday 7 December
    friday, monday = (json.loads(json.dumps(m)) for m in nudges(fake_slack))
    clock.set(day(7, timedelta(hours=16)))  # Monday 11:00 in New York
    form = log_call_from(slack, fake_slack, friday)
    assert "This logs the call of Fri 4 Dec, the nudge's day." in json.dumps(form["blocks"])
    values = modal_values(acme.id, "green", "Friday's call, logged late", call=True)
    assert slack.view_submission(CHECKIN_MODAL, values, private_metadata=form["private_metadata"]).status == 200
    bot.settle()
    (confirmation,) = confirmations(fake_slack)
    assert "It counts for the call of Fri 4 Dec, the nudge's day." in confirmation
    (checkin,) = store.checkins(team_id=TEAM_ID)
    assert checkin.created_at.astimezone(ZoneInfo("America/New_York")).date() == date(2026, 12, 4)
    shown = {m["ts"]: json.dumps(m["blocks"]) for m in nudges(fake_slack)}
    assert "Call logged by <@U0001>" in shown[friday["ts"]]  # the nudge clicked shows its call, days later too
    assert NUDGE_LOG_CALL in shown[monday["ts"]]  # Monday's call is still to make
    tick(store, settings, day(7, timedelta(hours=17)))
    assert NUDGE_LOG_CALL in json.dumps(next(m for m in nudges(fake_slack) if m["ts"] == monday["ts"])["blocks"])


def test_a_call_logged_by_command_shows_on_its_nudge_at_once_and_a_note_does_not(
    slack: SlackRequests, bot: BotServer, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    add(store)
    tick(store, settings, day(1))
    (message,) = nudges(fake_slack)

    def on_the_nudge(call: Any) -> bool:
        return bool(call.params.get("ts") == message["ts"])

    clock.set(day(1, timedelta(hours=15)))  # 10:00 in New York, an hour after the nudge
    assert "Logged" in ephemeral(slack.command("checkin acme yellow waiting on their legal team"))
    bot.settle()
    assert [c for c in fake_slack.calls_to("chat.update") if on_the_nudge(c)] == []  # not a call: still asked
    assert "Logged" in ephemeral(slack.command("checkin acme green call went well"))
    (update,) = fake_slack.wait_for("chat.update", where=on_the_nudge)
    assert "Call logged by <@U0001>" in json.dumps(update.params["blocks"])


def test_a_call_logged_after_its_nudge_was_skipped_or_snoozed_shows_on_it_and_a_later_days_call_does_not(
    slack: SlackRequests, bot: BotServer, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """Dana skipped Tuesday's call; Lee held it after all and logged it from the nudge Slack still showed him with its
    buttons. The channel kept reading "Skipped for today by Dana" under Lee's logged call. Tuesday's skip stays what
    Tuesday's nudge says once Wednesday's call is logged, and a call logged after a snooze shows as the call."""
    acme = add(store)
    add(store, "Globex")
    tick(store, settings, day(1))
    acme_nudge, globex_nudge = (json.loads(json.dumps(m)) for m in nudges(fake_slack))  # as posted, with buttons
    clock.set(day(1, timedelta(hours=15)))
    for nudge in (acme_nudge, globex_nudge):
        skip = nudge["blocks"][1]["elements"][2]
        slack.block_action(NUDGE_SKIP, value=skip["value"], channel_id="C0ACME", message=button_message(nudge))
    fake_slack.wait_for("chat.update", 2)
    bot.settle()  # the skips' follow-ups all done: none lands after Lee's call below
    clock.set(day(1, timedelta(hours=16)))
    log_call = acme_nudge["blocks"][1]["elements"][0]
    slack.block_action(
        NUDGE_LOG_CALL,
        value=log_call["value"],
        channel_id="C0ACME",
        message=button_message(acme_nudge),
        user_id="U0003",
    )
    values = modal_values(acme.id, "green", "Had it after all", call=True)
    assert slack.view_submission(CHECKIN_MODAL, values, user_id="U0003", user_name="lee").status == 200
    bot.settle()
    shown = [json.dumps(m["blocks"]) for m in nudges(fake_slack)]
    assert "Call logged by <@U0003>" in shown[0] and "Skipped" not in shown[0]
    assert "Skipped for today by <@U0001>" in shown[1]  # Globex's call was not logged
    clock.set(day(2, timedelta(hours=16)))  # Wednesday: Globex's call is logged then, a day after its skip
    ephemeral(slack.command("checkin globex green call went well"))
    bot.settle()
    assert "Skipped for today by <@U0001>" in json.dumps(nudges(fake_slack)[1]["blocks"])
    tick(store, settings, day(3))  # Thursday's nudges; Acme's is snoozed, then its call is logged
    acme_thursday = next(m for m in nudges(fake_slack) if "Acme" in m["text"] and "Thu 3 Dec" in m["text"])
    clock.set(day(3, timedelta(hours=15)))
    ephemeral(slack.command("snooze acme 2h"))
    bot.settle()  # an hour passes: the snooze's follow-up (the nudge marked snoozed) is done before the call
    clock.set(day(3, timedelta(hours=16)))
    ephemeral(slack.command("checkin acme green call done"))
    bot.settle()
    assert "Call logged by <@U0001>" in json.dumps(
        next(m for m in nudges(fake_slack) if m["ts"] == acme_thursday["ts"])["blocks"]
    )


def test_snooze_button_opens_a_modal_and_nudges_wait_until_the_date(
    slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    acme = add(store)
    tick(store, settings, day(1))
    (message,) = nudges(fake_slack)
    value = message["blocks"][1]["elements"][1]["value"]
    clock.set(day(1, timedelta(hours=15)))
    slack.block_action(NUDGE_SNOOZE, value=value, channel_id="C0ACME", message=button_message(message))
    (opened,) = fake_slack.calls_to("views.open")
    assert opened.params["view"]["callback_id"] == NUDGE_SNOOZE_MODAL
    metadata = opened.params["view"]["private_metadata"]
    values = {
        "for": {NUDGE_SNOOZE_FOR: {"type": "radio_buttons", "selected_option": {"value": "until"}}},
        "until": {NUDGE_SNOOZE_UNTIL: {"type": "datepicker", "selected_date": "2026-12-04"}},
        "reason": {NUDGE_SNOOZE_REASON: {"type": "plain_text_input", "value": "offsite all week"}},
    }
    past = dict(values, until={NUDGE_SNOOZE_UNTIL: {"type": "datepicker", "selected_date": "2026-12-01"}})
    refused = slack.view_submission(NUDGE_SNOOZE_MODAL, past, private_metadata=metadata)
    assert "until" in refused.json()["errors"]
    assert slack.view_submission(NUDGE_SNOOZE_MODAL, values, private_metadata=metadata).status == 200
    fake_slack.wait_for("chat.update")
    (updated,) = nudges(fake_slack)
    assert "Snoozed by <@U0001>" in json.dumps(updated["blocks"]) and "offsite all week" in json.dumps(
        updated["blocks"]
    )
    customer = store.customer(team_id=TEAM_ID, customer_id=acme.id or 0)
    assert customer is not None and customer.snoozed_until == day(4, timedelta(hours=5))  # midnight New York
    for n in (2, 3, 4):
        tick(store, settings, day(n))
    assert [r.due_key for r in rows(store) if r.status == "sent"] == ["2026-12-01", "2026-12-04"]


def test_a_snooze_reason_typed_in_the_form_is_shown_as_text_never_as_a_mention_or_link(
    slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    acme = add(store)
    tick(store, settings, day(1))
    (message,) = nudges(fake_slack)
    clock.set(day(1, timedelta(hours=15)))
    value = message["blocks"][1]["elements"][1]["value"]
    slack.block_action(NUDGE_SNOOZE, value=value, channel_id="C0ACME", message=button_message(message))
    (opened,) = fake_slack.calls_to("views.open")
    typed = "<!channel> R&D offsite, see <https://example.com|the plan>"  # a form's text comes as typed
    values = {
        "for": {NUDGE_SNOOZE_FOR: {"type": "radio_buttons", "selected_option": {"value": "1d"}}},
        "reason": {NUDGE_SNOOZE_REASON: {"type": "plain_text_input", "value": typed}},
    }
    metadata = opened.params["view"]["private_metadata"]
    assert slack.view_submission(NUDGE_SNOOZE_MODAL, values, private_metadata=metadata).status == 200
    fake_slack.wait_for("chat.update")
    shown = json.dumps(nudges(fake_slack)[0]["blocks"])
    assert "&lt;!channel&gt; R&amp;D offsite, see &lt;https://example.com|the plan&gt;" in shown
    assert "<!channel>" not in shown and "<https://" not in shown
    customer = store.customer(team_id=TEAM_ID, customer_id=acme.id or 0)
    assert customer is not None and customer.snooze_reason is not None and "<" not in customer.snooze_reason


def test_a_snooze_form_and_its_retry_answered_at_once_record_one_snooze_in_the_history(
    slack: SlackRequests,
    store: Store,
    settings: Settings,
    fake_slack: FakeSlack,
    bot: BotServer,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Slack retries a form it got no answer to within 3 s, often while the first delivery is still being answered:
    both read the customer before either writes (held together here), and must not both log "snoozed"."""
    acme = add(store)
    tick(store, settings, day(1))
    (message,) = nudges(fake_slack)
    clock.set(day(1, timedelta(hours=15)))
    slack.block_action(NUDGE_SNOOZE, value=message["blocks"][1]["elements"][1]["value"], channel_id="C0ACME")
    (opened,) = fake_slack.calls_to("views.open")
    values = {
        "for": {NUDGE_SNOOZE_FOR: {"type": "radio_buttons", "selected_option": {"value": "1d"}}},
        "reason": {NUDGE_SNOOZE_REASON: {"type": "plain_text_input", "value": "offsite"}},
    }
    meta = opened.params["view"]["private_metadata"]
    read, together = storage.cadence._load, threading.Barrier(2, timeout=1)  # a locked read waits out the other

    def read_together(*args: Any, **kwargs: Any) -> Any:
        customer = read(*args, **kwargs)
        with contextlib.suppress(threading.BrokenBarrierError):
            together.wait()
        return customer

    monkeypatch.setattr(storage.cadence, "_load", read_together)
    answers: list[Any] = []
    deliveries = [
        threading.Thread(
            target=lambda n=n: answers.append(
                slack.view_submission(NUDGE_SNOOZE_MODAL, values, private_metadata=meta, view_id="VSZ", retry_num=n)
            )
        )
        for n in (None, 1)
    ]
    for delivery in deliveries:
        delivery.start()
    for delivery in deliveries:
        delivery.join(timeout=20)
    assert [(a.status, a.body) for a in answers] == [(200, b""), (200, b"")]
    bot.settle()
    snoozes = store.customer_events_of_kind(team_id=TEAM_ID, customer_id=acme.id or 0, kind="snoozed")
    assert [(e.actor_id, e.detail["reason"]) for e in snoozes] == [("U0001", "offsite")]


def test_a_snooze_form_submitted_after_the_customer_was_archived_says_so_and_how_to_restore(
    slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    add(store)
    tick(store, settings, day(1))
    (message,) = nudges(fake_slack)
    clock.set(day(1, timedelta(hours=15)))
    value = message["blocks"][1]["elements"][1]["value"]
    slack.block_action(NUDGE_SNOOZE, value=value, channel_id="C0ACME", message=button_message(message))
    (opened,) = fake_slack.calls_to("views.open")
    assert "Archived *Acme*" in ephemeral(slack.command("archive acme"))  # someone else, while the form is open
    values = {"for": {NUDGE_SNOOZE_FOR: {"type": "radio_buttons", "selected_option": {"value": "1d"}}}}
    refused = slack.view_submission(
        NUDGE_SNOOZE_MODAL, values, private_metadata=opened.params["view"]["private_metadata"]
    )
    assert refused.json()["errors"] == {
        "for": "Acme is archived, so it gets no nudges. Bring it back with /partner restore Acme."
    }


def test_a_nudge_button_clicked_after_the_customer_was_archived_says_so_and_how_to_restore(
    slack: SlackRequests, bot: BotServer, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    add(store)
    tick(store, settings, day(1))
    (message,) = nudges(fake_slack)
    clock.set(day(1, timedelta(hours=1)))
    assert "Archived *Acme*" in ephemeral(slack.command("archive acme"))
    for i, action_id in enumerate((NUDGE_LOG_CALL, NUDGE_SNOOZE, NUDGE_SKIP)):
        value = message["blocks"][1]["elements"][i]["value"]
        assert (
            slack.block_action(action_id, value=value, channel_id="C0ACME", message=button_message(message)).status
            == 200
        )
    bot.settle()
    told = [c.params["text"] for c in fake_slack.calls_to("response_url")]
    assert told == ["*Acme* is archived, so it gets no nudges. Bring it back with `/partner restore Acme`."] * 3
    assert fake_slack.calls_to("views.open") == []
    assert [r.payload.get("outcome") for r in rows(store)] == [None]  # nothing recorded on it


@pytest.mark.parametrize("value", ["999999", "nudge-12"])
def test_a_nudge_button_naming_no_reminder_says_so_not_that_the_customer_is_gone(
    slack: SlackRequests, bot: BotServer, store: Store, fake_slack: FakeSlack, value: str
) -> None:
    add(store)  # the customer is there: only the reminder the button names is not
    for action_id in (NUDGE_LOG_CALL, NUDGE_SNOOZE, NUDGE_SKIP):
        assert slack.block_action(action_id, value=value, channel_id="C0ACME").status == 200
    bot.settle()
    told = [c.params["text"] for c in fake_slack.calls_to("response_url")]
    assert told == ["That reminder is no longer in Partner. `/partner upcoming` shows the next ones."] * 3


# Commands


@pytest.mark.parametrize(
    ("typed", "described"),
    [
        ("every monday at 10", "weekly on Mon at 10:00"),
        ("tuesdays 10:30am", "weekly on Tue at 10:30"),
        ("weekly on thursdays", "weekly on Thu at 09:00"),
        ("every other fri at 2pm", "biweekly on Fri at 14:00"),
        ("weekdays 8:30", "daily at 08:30"),
    ],
)
def test_a_weekly_call_said_as_people_say_it_is_understood(
    slack: SlackRequests, store: Store, typed: str, described: str
) -> None:
    """ "every monday at 10" was refused with "expected 'every <N> days' but found 'monday 10'", "tuesdays" as "not a
    cadence kind", while "every day at 9" and "every other week on fri" were read."""
    add(store, cadence=None)
    assert f"*Acme*: {described}" in ephemeral(slack.command(f"cadence acme {typed}"))


@pytest.mark.parametrize(("typed", "pick"), [("mon,wed", "weekly mon"), ("weekly tue and thu 10am", "weekly tue")])
def test_several_call_days_a_week_are_named_as_such_not_as_a_wrong_time(
    slack: SlackRequests, store: Store, typed: str, pick: str
) -> None:
    """ "weekly mon,wed" said "I didn't understand 'wed' ('wed' is not a time…)" and "mon,wed" that 'mon' "is not a
    cadence kind": a cadence has one call day a week, and the answer says so and what to type instead."""
    add(store, cadence="daily 09:00")
    text = ephemeral(slack.command(f"cadence acme {typed}"))
    assert f"a cadence has one call day a week — pick one ('{pick}'), or use 'daily'" in text
    assert "Usage: `/partner cadence" in text and "not a time" not in text and "not a cadence kind" not in text
    assert store.customer_by_name(team_id=TEAM_ID, name="acme").cadence == "daily 09:00"  # type: ignore[union-attr]


def test_the_cadence_shown_says_launch_mode_and_a_time_zone_or_quarterly_typed_in_it_is_pointed_elsewhere(
    slack: SlackRequests, store: Store
) -> None:
    """ "cadence acme" said "weekly on Mon … Next nudge: Thu 26 Nov" without a word of the launch mode behind the
    Thursday; "daily 9:00 tz=Europe/Berlin" answered "I didn't understand 'tz=europe/berlin'", "quarterly" that it
    "is not a cadence kind", neither saying what to type."""
    add(store, cadence="weekly mon 09:00")
    ephemeral(slack.command("launch acme on until=2026-12-09"))
    shown = ephemeral(slack.command("cadence acme"))
    assert "weekly on Mon at 09:00 (America/New_York). Launch mode keeps daily calls until 2026-12-09 first." in shown
    assert "Next nudge: Thu 26 Nov 09:00" in shown
    zone = ephemeral(slack.command("cadence acme daily 9:00 tz=Europe/Berlin"))
    assert "The time zone is *Acme*'s own, for every nudge: set it with `/partner edit Acme tz=Europe/Berlin`" in zone
    assert "'quarterly' is not a cadence kind — for it, use 'every 91 days'" in ephemeral(
        slack.command("cadence acme quarterly")
    )
    assert store.customer_by_name(team_id=TEAM_ID, name="acme").cadence == "weekly mon 09:00"  # type: ignore[union-attr]


def test_cadence_command_sets_shows_and_is_for_the_owner_or_admins(
    slack: SlackRequests, store: Store, fake_slack: FakeSlack
) -> None:
    add(store, cadence=None)
    text = ephemeral(slack.command("cadence acme weekly tue 10:30"))
    assert "weekly on Tue at 10:30" in text and "America/New_York" in text and "Next nudge: Tue 1 Dec 10:30" in text
    assert store.customer_by_name(team_id=TEAM_ID, name="acme").cadence == "weekly tue 10:30"  # type: ignore[union-attr]
    assert "weekly on Tue at 10:30" in ephemeral(slack.command("cadence acme"))
    refused = ephemeral(slack.command("cadence acme daily", user_id="U0003", user_name="lee"))
    assert "You can't change the cadence of *Acme*" in refused
    bad = ephemeral(slack.command("cadence acme fortnightly-ish"))
    assert "'fortnightly-ish'" in bad and "/partner cadence &lt;customer&gt;" in bad
    assert "cadence off" in ephemeral(slack.command("cadence acme off"))


def test_launch_mode_switches_to_daily_calls_until_the_date(
    slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack
) -> None:
    add(store, cadence="weekly mon 09:00")
    text = ephemeral(slack.command("launch acme on until=2026-12-02"))
    assert "Launch mode on for *Acme*" in text and "Wed 2 Dec 2026" in text
    assert "is already past" in ephemeral(slack.command("launch acme on until=2026-01-01"))
    for n in (1, 2, 3, 7):
        tick(store, settings, day(n))
    assert [r.due_key for r in rows(store) if r.status == "sent"] == ["2026-12-01", "2026-12-02", "2026-12-07"]
    assert "Launch mode off" in ephemeral(slack.command("launch acme off"))


def test_a_call_moved_later_after_todays_nudge_went_out_is_next_nudged_tomorrow_and_every_preview_says_so(
    slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """Tuesday's 09:00 nudge went out; at 10:00 the owner moves the call to 15:00. A day has one nudge, so none comes
    at 15:00, but the answer, /partner upcoming, list, the card and Home all said "Next nudge: Tue 1 Dec 15:00"."""
    add(store)
    tick(store, settings, day(1))
    clock.set(day(1, timedelta(hours=15)))
    assert "Next nudge: Wed 2 Dec 15:00 (America/New_York)" in ephemeral(slack.command("cadence acme daily 15:00"))
    assert "Next nudge: Wed 2 Dec 15:00" in ephemeral(slack.command("cadence acme"))
    assert "Wed 2 Dec 15:00 America/New_York — *Acme*" in ephemeral(slack.command("upcoming"))
    for shown in (slack.command("list"), slack.command("show acme")):
        text = json.dumps(shown.json()["blocks"])
        assert "Wed 2 Dec 15:00" in text and "Tue 1 Dec 15:00" not in text
    published = len(fake_slack.calls_to("views.publish"))
    slack.event({"type": "app_home_opened", "user": "U0001", "tab": "home", "channel": "D0001"})
    home = json.dumps(fake_slack.wait_for("views.publish", published + 1)[-1].params["view"])
    assert "Wed 2 Dec 15:00" in home and "Tue 1 Dec 15:00" not in home
    for instant in (day(1, timedelta(hours=20)), day(1, timedelta(hours=20, minutes=1)), day(2, timedelta(hours=20))):
        tick(store, settings, instant)
    assert [m["text"] for m in nudges(fake_slack)] == [
        "<@U0001> Time for the daily call with Acme (Tue 1 Dec 09:00 America/New_York)",
        "<@U0001> Time for the daily call with Acme (Wed 2 Dec 15:00 America/New_York)",
    ]


@pytest.mark.parametrize(
    ("command", "answer"),
    [
        # 08:45: the call moved to 08:30, before today's 09:00 nudge went out.
        (
            "cadence acme daily 08:30",
            "Today's call time (08:30) has passed and its nudge had not gone out: it comes now.",
        ),
        # 08:45 in New York is 05:45 in Los Angeles: the customer moved east, its 09:00 there is still to come — today's
        # call on the New York clock (09:00) too, the day's one nudge; and a customer moved from Chicago to New York at
        # 09:45 there (08:45 in Chicago) has passed its 09:00 with the nudge still to come.
        (
            "edit acme tz=America/New_York",
            "Today's call time (09:00) has passed and its nudge had not gone out: it comes now.",
        ),
    ],
)
def test_a_call_moved_into_the_past_before_its_nudge_went_out_is_nudged_at_once(
    slack: SlackRequests,
    store: Store,
    settings: Settings,
    fake_slack: FakeSlack,
    clock: FakeClock,
    command: str,
    answer: str,
) -> None:
    """Tuesday 08:45 the owner moves the 09:00 call to 08:30 (or the customer's clock to one where 09:00 has passed):
    the ticks plan what falls due after the last one, so the day's nudge never came, and the answer said the next was
    Wednesday's. Today's call is still to make: its nudge comes now, once."""
    tz = "America/Chicago" if command.startswith("edit") else "America/New_York"
    moment = day(1, timedelta(hours=13, minutes=45)) + (timedelta(hours=1) if tz == "America/Chicago" else timedelta())
    add(store, tz=tz)
    tick(store, settings, moment - MINUTE)
    assert nudges(fake_slack) == []
    clock.set(moment)
    assert answer in ephemeral(slack.command(command))
    for instant in (moment + MINUTE, moment + 2 * MINUTE, day(1, timedelta(hours=15, minutes=1))):
        tick(store, settings, instant)
    (message,) = nudges(fake_slack)
    assert message["text"].startswith("<@U0001> Time for the daily call with Acme (Tue 1 Dec")
    (row,) = [r for r in rows(store) if r.due_key == "2026-12-01"]
    assert (row.status, row.due_at) == ("sent", moment)
    tick(store, settings, day(2, timedelta(hours=15)))  # Wednesday's nudge, at its own time
    assert len(nudges(fake_slack)) == 2


def test_a_customer_moved_west_after_todays_nudge_went_out_is_next_nudged_on_its_next_call_day_as_every_preview_says(
    slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """Berlin 10:00 on Tuesday, its 09:00 nudge out: the customer moves to Los Angeles, where Tuesday 09:00 is still to
    come. A day has one nudge, as for a call moved later (README, *When*): the owner was asked for Tuesday's call this
    morning and is not asked again at 18:00; the next nudge is Wednesday 09:00 there, and the previews say so."""
    add(store, tz="Europe/Berlin")
    berlin_nine = day(1, timedelta(hours=8))
    tick(store, settings, berlin_nine)
    clock.set(berlin_nine + timedelta(hours=1))
    assert "time zone: `Europe/Berlin` → `America/Los_Angeles`" in ephemeral(
        slack.command("edit acme tz=America/Los_Angeles")
    )
    assert "Next nudge: Wed 2 Dec 09:00 (America/Los_Angeles)" in ephemeral(slack.command("cadence acme"))
    for instant in (day(1, timedelta(hours=17)), day(1, timedelta(hours=17, minutes=1)), day(2, timedelta(hours=17))):
        tick(store, settings, instant)
    assert [m["text"] for m in nudges(fake_slack)] == [
        "<@U0001> Time for the daily call with Acme (Tue 1 Dec 09:00 Europe/Berlin)",
        "<@U0001> Time for the daily call with Acme (Wed 2 Dec 09:00 America/Los_Angeles)",
    ]


def test_a_call_moved_into_the_past_after_it_was_logged_or_its_nudge_went_out_brings_no_second_nudge(
    slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    acme = add(store, cadence="daily 10:00")
    tick(store, settings, day(1, timedelta(hours=13, minutes=40)))
    store.record_checkin(
        team_id=TEAM_ID,
        customer_id=acme.id or 0,
        author_id="U0001",
        mood="green",
        note="n",
        kind="call",
        now=day(1, timedelta(hours=13, minutes=41)),
    )
    clock.set(day(1, timedelta(hours=13, minutes=45)))
    assert "comes now" not in ephemeral(slack.command("cadence acme daily 08:30"))  # today's call is logged
    tick(store, settings, day(1, timedelta(hours=14)))
    assert nudges(fake_slack) == []


def test_launch_mode_owes_daily_calls_from_when_it_is_turned_on_not_for_the_weeks_before(
    slack: SlackRequests, bot: BotServer, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """Acme calls every Monday, as its weekly cadence asks: health 100. Launch mode, turned on at 10:00 on Wednesday
    9 December, owes a daily call from Thursday on — not the Tuesday and Wednesday before it, nor seven weeks of
    daily calls: the score stayed ("2 of the last 8 daily calls logged" took it to 61 and DMed the owner at once),
    the list shows no call due, and the owner hears of Thursday's missed call on Friday morning, once."""
    acme = add(store, cadence="weekly mon 09:00")
    for n in (0, 7):
        store.record_checkin(
            team_id=TEAM_ID,
            customer_id=acme.id or 0,
            author_id="U0001",
            mood="green",
            note="n",
            kind="call",
            now=day(n, timedelta(hours=15)),
        )
    for n in range(10):
        tick(store, settings, day(n, timedelta(hours=12)))
    clock.set(day(9, timedelta(hours=15)))  # Wednesday 9 December, 10:00 in New York
    assert "health :large_green_circle: 100" in ephemeral(slack.command("status acme"))
    assert "Launch mode on for *Acme*" in ephemeral(slack.command("launch acme on until=2026-12-18"))
    bot.settle()
    assert "health :large_green_circle: 100" in ephemeral(slack.command("status acme"))
    listed = json.dumps(slack.command("list").json()["blocks"])
    assert "call due" not in listed and "overdue" not in listed
    for instant in (clock.now + MINUTE, day(10), day(10, timedelta(hours=5))):  # Thursday: the first daily call
        clock.set(instant)
        tick(store, settings, instant)
    assert "2026-12-10" in [r.due_key for r in rows(store) if r.status == "sent"] and rows(store, "overdue") == []
    assert rows(store, HEALTH_DROP) == []
    clock.set(day(11))  # Friday 09:00: Thursday's call was missed
    tick(store, settings, day(11))
    dm = fake_slack.messages[fake_slack._dm_by_user["U0001"]]
    (overdue,) = [m for m in dm if "is overdue" in m["text"]]
    assert "the daily call on Thu 10 Dec was missed" in overdue["blocks"][0]["text"]["text"]
    assert not [m for m in dm if "health fell" in m["text"]]


@pytest.mark.parametrize("command", ["cadence acme biweekly tue 10:00", 'edit acme cadence="biweekly tue 10:00"'])
def test_moving_a_biweekly_call_by_an_hour_keeps_its_weeks(
    slack: SlackRequests, store: Store, clock: FakeClock, command: str
) -> None:
    add(store, cadence="biweekly tue 09:00 from 2026-12-01")  # calls on 1, 15 and 29 December
    clock.set(day(2, timedelta(hours=15)))  # Wednesday 2 December, the day after a call
    ephemeral(slack.command(command))
    acme = store.customer_by_name(team_id=TEAM_ID, name="acme")
    assert acme is not None and acme.cadence == "biweekly tue 10:00 from 2026-12-01"  # not from the 8th: a week off
    assert "Next nudge: Tue 15 Dec 10:00" in ephemeral(slack.command("cadence acme"))


@pytest.mark.parametrize(
    ("spec", "first"), [("every 3 days from 2026-12-24", "Thu 24 Dec"), ("biweekly fri from 2026-12-14", "Fri 18 Dec")]
)
def test_a_cadence_from_a_later_date_starts_then(
    slack: SlackRequests,
    store: Store,
    settings: Settings,
    fake_slack: FakeSlack,
    clock: FakeClock,
    spec: str,
    first: str,
) -> None:
    add(store)
    clock.set(MON + timedelta(hours=1))  # Monday 30 November, 08:00 in New York
    reply = ephemeral(slack.command(f"cadence acme {spec}"))
    assert "starting 2026-12-" in reply and f"Next nudge: {first} 09:00" in reply
    for n in range(5):  # this week: in the cadence's rhythm, but before it starts
        tick(store, settings, day(n))
    assert nudges(fake_slack) == [] and rows(store) == []


@pytest.mark.parametrize(
    "typed", ["until=2026-12-02", "until 2026-12-02", "on until=wed", "until=1w", "on until=7d", "until Wed"]
)
def test_launch_until_a_date_without_on_turns_it_on(slack: SlackRequests, store: Store, typed: str) -> None:
    # The clock is Wed 25 Nov 2026: "wed" (as a check-in's next= reads it) and a week from today are 2 Dec.
    add(store, cadence="weekly mon 09:00")
    assert "Launch mode on for *Acme*" in ephemeral(slack.command(f"launch acme {typed}"))
    assert store.customer_by_name(team_id=TEAM_ID, name="acme").launch_until == date(2026, 12, 2)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        (
            "on until=someday",
            "'someday' is not a date: use a date like 2026-12-18, tomorrow, a weekday like fri, or 2w",
        ),
        ("on until=2026-12-10 until=2026-12-20", "give one date"),
    ],
)
def test_launch_until_what_is_no_date_is_named(slack: SlackRequests, store: Store, typed: str, says: str) -> None:
    add(store, cadence="weekly mon 09:00")
    text = ephemeral(slack.command(f"launch acme {typed}"))
    assert says in text and "Usage: `/partner launch" in text
    assert store.customer_by_name(team_id=TEAM_ID, name="acme").launch_until is None  # type: ignore[union-attr]


@pytest.mark.parametrize("typed", ["maybe", "yes please", "untill 2026-12-02"])
def test_launch_with_neither_on_nor_off_names_what_was_typed_and_changes_nothing(
    slack: SlackRequests, store: Store, typed: str
) -> None:
    add(store, cadence="weekly mon 09:00")
    text = ephemeral(slack.command(f"launch acme {typed}"))
    assert f"'{typed}' isn't on or off. Usage: `/partner launch" in text
    assert store.customer_by_name(team_id=TEAM_ID, name="acme").launch_until is None  # type: ignore[union-attr]
    assert "Launch mode for *Acme* is off" in ephemeral(slack.command("launch acme"))


def test_snooze_command_across_a_weekend(
    slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    add(store)
    clock.set(day(3, timedelta(hours=15)))  # Thursday 10:00 New York
    text = ephemeral(slack.command("snooze acme 2d customer at a trade show", user_id="U0003", user_name="lee"))
    assert "No nudges about *Acme* until Sat 5 Dec 10:00" in text and "(customer at a trade show)" in text
    for n in (4, 7):  # Friday, Monday
        tick(store, settings, day(n))
    assert [(r.due_key, r.status) for r in rows(store)] == [("2026-12-04", "skipped"), ("2026-12-07", "sent")]
    assert "not a snooze" in ephemeral(slack.command("snooze acme soonish"))
    assert "Snooze lifted" in ephemeral(slack.command("snooze acme off"))
    # What follows `off` is said back, as a snooze's reason is: nothing typed goes unanswered.
    assert "Snooze lifted for *Acme* (trade show cancelled)." in ephemeral(
        slack.command("snooze acme off trade show cancelled")
    )
    # As people say it: "for 2 days", "a week"; the reason is what follows.
    said = ephemeral(slack.command("snooze acme for 2 days at a trade show"))
    assert "until Sat 5 Dec 10:00" in said and "(at a trade show)" in said
    assert "until Thu 10 Dec 10:00" in ephemeral(slack.command("snooze acme for a week"))
    assert "until Fri 4 Dec 10:00 (America/New_York)" in ephemeral(slack.command("snooze acme a day"))
    # A date as people write it, month by name: that local morning; the reason is what follows.
    said = ephemeral(slack.command("snooze acme until Dec 8 offsite"))
    assert "until Tue 8 Dec 00:00 (America/New_York)" in said and "(offsite)" in said
    assert "until Thu 10 Dec 00:00" in ephemeral(slack.command("snooze acme until 10 December"))
    assert "until Tue 5 Jan 00:00" in ephemeral(slack.command("snooze acme until jan 5th"))  # next year's
    assert "not in the future" in ephemeral(slack.command("snooze acme until dec 1"))
    assert "not a snooze" in ephemeral(slack.command("snooze acme until feb 30"))
    # A duration too long is named as such, with what to do instead, however many digits it has.
    for typed in ("snooze acme 400d", "snooze acme 99999d", "snooze acme 9999999999999 weeks", "snooze acme 10000h"):
        assert "Snooze for at most a year; for longer, `/partner pause` the customer." in ephemeral(
            slack.command(typed)
        ), typed
    assert "until Sat 5 Dec 10:00" in ephemeral(slack.command("snooze acme 0002d"))


def test_snooze_for_a_week_across_the_end_of_daylight_saving_ends_at_the_same_local_time(
    slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    friday = datetime(2026, 10, 30, 14, tzinfo=UTC)  # Friday 10:00 EDT; clocks go back on Sunday 1 November
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
    clock.set(friday)
    text = ephemeral(slack.command("snooze acme 1w trade show"))
    assert "until Fri 6 Nov 10:00 (America/New_York)" in text  # not 09:00: a week on their clock, not 168 hours
    customer = store.customer_by_name(team_id=TEAM_ID, name="acme")
    assert customer is not None and customer.snoozed_until == datetime(2026, 11, 6, 15, tzinfo=UTC)
    tick(store, settings, datetime(2026, 11, 6, 14, tzinfo=UTC))  # Friday 09:00 EST is still snoozed
    assert rows(store) == []
    # The snoozed call comes back at 10:00 EST, when the snooze ends (in place of Friday's own call); Monday as usual.
    for instant in (datetime(2026, 11, 6, 15, tzinfo=UTC), datetime(2026, 11, 9, 14, tzinfo=UTC)):
        tick(store, settings, instant)
    assert [(r.due_key, r.status, r.due_at.hour, r.payload.get("snoozed_on")) for r in rows(store)] == [
        ("2026-11-06", "sent", 15, "2026-10-30"),
        ("2026-11-09", "sent", 14, None),
    ]


def test_a_long_retry_after_is_waited_out_by_the_outbox_not_by_the_tick(
    store: Store, settings: Settings, fake_slack: FakeSlack
) -> None:
    """Slack rate-limits the nudge's post for two minutes: the tick does not sleep through it (slack-sdk would, twice,
    holding the tick and the ticks after it), the nudge waits in the outbox until the Retry-After is over and is
    posted once then."""
    add(store)
    fake_slack.fail_next("chat.postMessage", status=429, retry_after=120, times=3)
    tick(store, settings, day(1))
    assert len(fake_slack.calls_to("chat.postMessage")) == 1 and nudges(fake_slack) == []
    (row,) = rows(store)
    assert (row.status, row.error, row.next_attempt_at) == ("pending", "ratelimited", day(1) + 2 * MINUTE)
    tick(store, settings, day(1) + MINUTE)  # still within the Retry-After: not asked again
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
    fake_slack.reset()  # the limit is over
    for minute in (2, 3):
        tick(store, settings, day(1) + minute * MINUTE)
    (message,) = nudges(fake_slack)
    assert "Time for the daily call with *Acme*" in message["blocks"][0]["text"]["text"]
    assert [r.status for r in rows(store)] == ["sent"]


def test_a_nudge_outlives_an_hour_long_slack_outage_and_is_posted_once_when_slack_is_back(
    store: Store, settings: Settings, fake_slack: FakeSlack
) -> None:
    """Slack answers 503 to every post for an hour (its incidents last that long): the nudge keeps waiting with
    backoff instead of being given up a quarter of an hour in, and goes out once when Slack is back; nobody is told
    of a failure that did not happen."""
    add(store)
    fake_slack.fail_next("chat.postMessage", status=503, times=1000)
    for minute in range(0, 60, 2):
        tick(store, settings, day(1) + minute * MINUTE)
    (row,) = rows(store)
    assert row.status == "pending" and nudges(fake_slack) == []
    fake_slack.reset()  # Slack is back
    for minute in range(60, 96, 2):
        tick(store, settings, day(1) + minute * MINUTE)
    (message,) = nudges(fake_slack)
    assert "Time for the daily call with *Acme*" in message["blocks"][0]["text"]["text"]
    assert [r.status for r in rows(store)] == ["sent"]
    assert not [c for c in fake_slack.calls_to("chat.postMessage") if "couldn't deliver" in c.params["text"]]


@pytest.mark.parametrize("cadence", ["weekly fri", "off"])
def test_a_nudge_waiting_on_slack_is_not_sent_once_its_day_is_no_longer_a_call_day(
    cadence: str, slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    add(store)
    tick(store, settings, day(1))  # Tuesday's call: nobody logs it, so Wednesday morning's overdue alert is due
    fake_slack.fail_next("chat.postMessage", status=503, times=6)  # Slack down: both posts wait for the next tick
    tick(store, settings, day(2))
    assert fake_slack.scripted("chat.postMessage") == 0
    waiting = {r.kind: r.status for r in rows(store, "cadence") + rows(store, "overdue") if r.due_at == day(2)}
    assert waiting == {"cadence": "pending", "overdue": "pending"}
    clock.set(day(2) + timedelta(minutes=2))
    ephemeral(slack.command(f"cadence acme {cadence}"))  # Wednesday is no call day any more
    tick(store, settings, day(2) + timedelta(minutes=5))
    assert [m["text"] for m in nudges(fake_slack)] == [
        "<@U0001> Time for the daily call with Acme (Tue 1 Dec 09:00 America/New_York)"
    ]
    (wednesday,) = [r for r in rows(store) if r.due_key == "2026-12-02"]
    assert wednesday.status == "cancelled"
    if cadence == "off":  # "no call nudges or overdue alerts", also one that was on its way
        assert [r.status for r in rows(store, "overdue")] == ["cancelled"]
        assert not [
            m for m in fake_slack.messages.get(fake_slack._dm_by_user.get("U0001", ""), []) if "overdue" in m["text"]
        ]


def test_pause_and_resume(slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack) -> None:
    add(store)
    assert "You can't pause nudges for *Acme*" in ephemeral(slack.command("pause acme", user_id="U0003"))
    assert "are paused" in ephemeral(slack.command("pause acme"))
    tick(store, settings, day(1))
    assert nudges(fake_slack) == []
    assert "back on" in ephemeral(slack.command("resume acme"))
    tick(store, settings, day(2))
    assert len(nudges(fake_slack)) == 1


PAUSED_CLICK = (
    "*Acme*'s nudges are paused, so this one asks for nothing. `/partner resume Acme` turns them back on; a call can "
    "still be logged with `/partner checkin Acme …`."
)


def test_pausing_after_the_days_nudge_takes_its_buttons_away_once_and_resuming_that_day_gives_them_back(
    slack: SlackRequests, bot: BotServer, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """Paused after the 09:00 nudge, the channel kept offering Log call / Snooze / Skip for a call nobody owed."""
    add(store)
    tick(store, settings, day(1))
    message = json.loads(json.dumps(nudges(fake_slack)[0]))  # as posted: the fake's copy is redrawn in place
    clock.set(day(1, NINE_NY + 30 * MINUTE))
    assert "are paused" in ephemeral(slack.command("pause acme", trigger_id="9.9.pause"))
    (update,) = fake_slack.wait_for("chat.update")
    assert update.params["ts"] == message["ts"]
    shown = json.dumps(nudges(fake_slack)[0]["blocks"])
    assert "Nudges paused by <@U0001>" in shown and "nudge_skip" not in shown and "nudge_log_call" not in shown
    # Slack delivering the command again: the nudge is redrawn once.
    assert "are paused" in ephemeral(slack.command("pause acme", trigger_id="9.9.pause", retry_num=1))
    bot.settle()
    assert len(fake_slack.calls_to("chat.update")) == 1
    # The buttons of the message as Slack may still show it (a stale client): a friendly word, nothing changed.
    for i, action_id in enumerate((NUDGE_LOG_CALL, NUDGE_SNOOZE, NUDGE_SKIP)):
        value = message["blocks"][1]["elements"][i]["value"]
        assert slack.block_action(action_id, value=value, channel_id="C0ACME", message=button_message(message)).status
    bot.settle()
    assert [c.params["text"] for c in fake_slack.calls_to("response_url")] == [PAUSED_CLICK] * 3
    assert fake_slack.calls_to("views.open") == []
    assert [(r.payload.get("outcome") or {}).get("what") for r in rows(store)] == ["paused"]
    acme = store.customer_by_name(team_id=TEAM_ID, name="Acme")
    assert acme is not None and acme.snoozed_until is None
    # Resumed the same day with the call still to make: the nudge asks for it again (once, a retry too).
    redrawn = len(fake_slack.calls_to("chat.update"))  # Skip's refusal redraws the stale message as it now is
    clock.set(day(1, NINE_NY + 60 * MINUTE))
    assert "back on" in ephemeral(slack.command("resume acme", trigger_id="9.9.resume"))
    assert "back on" in ephemeral(slack.command("resume acme", trigger_id="9.9.resume", retry_num=1))
    fake_slack.wait_for("chat.update", redrawn + 1)
    bot.settle()
    assert len(fake_slack.calls_to("chat.update")) == redrawn + 1
    assert "nudge_skip" in json.dumps(nudges(fake_slack)[0]["blocks"])
    assert [r.payload.get("outcome") for r in rows(store)] == [None]


@pytest.mark.parametrize("answered", [True, False], ids=["pause-redraw-refused", "pause-redraw-never-ran"])
def test_a_click_on_a_paused_nudge_still_showing_its_buttons_shows_the_pause_in_their_place(
    slack: SlackRequests,
    bot: BotServer,
    store: Store,
    settings: Settings,
    fake_slack: FakeSlack,
    clock: FakeClock,
    answered: bool,
) -> None:
    """Slack refused the pause's redraw (or it never ran): Log call and Snooze only said so to the clicker, and Skip
    redrew the message as it was, buttons and all, when the pause's answer had not been recorded."""
    add(store)
    tick(store, settings, day(1))
    message = json.loads(json.dumps(nudges(fake_slack)[0]))
    paused_at = day(1, NINE_NY + 30 * MINUTE)
    clock.set(paused_at)
    fake_slack.fail_next("chat.update", error="ratelimited")
    assert "are paused" in ephemeral(slack.command("pause acme", trigger_id="9.9.pause"))
    bot.settle()
    if not answered:
        store.set_nudge_outcome(team_id=TEAM_ID, nudge_id=rows(store)[0].id or 0, outcome=None, replaces=("paused",))
    drawn = len(fake_slack.calls_to("chat.update"))
    clock.set(day(1, NINE_NY + 40 * MINUTE))
    for action_id, i in ((NUDGE_LOG_CALL, 0), (NUDGE_SNOOZE, 1), (NUDGE_SKIP, 2), (NUDGE_SKIP, 2)):
        value = message["blocks"][1]["elements"][i]["value"]
        assert slack.block_action(action_id, value=value, channel_id="C0ACME", message=button_message(message)).status
        bot.settle()
        assert len(fake_slack.calls_to("chat.update")) > drawn, action_id  # from the first click on
    assert [c.params["text"] for c in fake_slack.calls_to("response_url")] == [PAUSED_CLICK] * 4
    assert fake_slack.calls_to("views.open") == []
    shown = {json.dumps(u.params["blocks"]) for u in fake_slack.calls_to("chat.update")[drawn:]}
    (redrawn,) = shown  # the same message each time: a later click changes nothing
    assert "nudge_skip" not in redrawn and "nudge_log_call" not in redrawn, redrawn
    assert f"Nudges paused by <@U0001> <!date^{int(paused_at.timestamp())}^" in redrawn  # when paused, not clicked
    assert [(r.payload.get("outcome") or {}).get("what") for r in rows(store)] == ["paused"]
    assert "nudge_skip" not in json.dumps(nudges(fake_slack)[0]["blocks"])


def test_resuming_on_a_later_day_or_after_the_call_was_logged_leaves_the_paused_nudge_as_it_is(
    slack: SlackRequests, bot: BotServer, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """Only today's call still owed brings buttons back: yesterday's nudge, or one whose call was logged, stays."""
    add(store)
    add(store, "Globex", channel_id="C0ACME")
    tick(store, settings, day(1))
    clock.set(day(1, NINE_NY + 30 * MINUTE))
    ephemeral(slack.command("pause acme"))
    ephemeral(slack.command("pause globex"))
    fake_slack.wait_for("chat.update", 2)
    ephemeral(slack.command("checkin globex green call while paused"))
    clock.set(day(1, NINE_NY + 60 * MINUTE))
    ephemeral(slack.command("resume globex"))
    clock.set(day(2, timedelta(hours=12)))  # Wednesday 07:00 in New York, before its 09:00 call
    ephemeral(slack.command("resume acme"))
    bot.settle()
    assert len(fake_slack.calls_to("chat.update")) == 2
    for message in nudges(fake_slack):
        shown = json.dumps(message["blocks"])
        assert "Nudges paused by <@U0001>" in shown and "nudge_skip" not in shown
    tick(store, settings, day(2))
    assert "nudge_skip" in json.dumps(nudges(fake_slack)[-1]["blocks"])  # the day's own nudge, as usual


@pytest.mark.parametrize(
    ("stop", "back", "answer", "since"),
    [
        ("pause acme", "resume acme", "back on", "resumed"),
        # Archived owes no calls either: restoring it is not "overdue: last call 20 days ago" the minute it is back.
        ("archive acme", "restore acme", "Restored *Acme*", "restored"),
    ],
)
def test_a_customer_resumed_after_a_long_pause_is_not_overdue_the_minute_it_is_resumed(
    slack: SlackRequests,
    store: Store,
    settings: Settings,
    fake_slack: FakeSlack,
    clock: FakeClock,
    stop: str,
    back: str,
    answer: str,
    since: str,
) -> None:
    """Paused (or archived) for the holiday freeze, Acme owed no calls: resuming it restarts the clock as a call
    would."""
    acme = add(store, cadence="weekly tue 09:00", country="US")
    store.record_checkin(
        team_id=TEAM_ID, customer_id=acme.id or 0, author_id="U0001", mood="green", note="n", kind="call", now=day(1)
    )
    clock.set(day(2))
    ephemeral(slack.command(stop))
    for n in (8, 12, 15, 21):
        tick(store, settings, day(n))
    clock.set(day(21, timedelta(hours=16, minutes=30)))  # Monday 21 December, 11:30 in New York
    assert answer in ephemeral(slack.command(back))
    for instant in (clock.now + timedelta(minutes=1), day(22), day(23), day(29)):
        tick(store, settings, instant)
    dm = fake_slack._dm_by_user.get("U0001")
    assert rows(store, "overdue") == [] and not [
        m for m in fake_slack.messages.get(dm or "", []) if "overdue" in m["text"]
    ]
    # Still no call ten days after the resume: the owner hears of it, once (Friday 1 January is a holiday).
    for n in (32, 35, 36):
        tick(store, settings, day(n))
    (alert,) = rows(store, "overdue")
    assert (alert.due_key, alert.due_at, alert.status) == ("lapse:2026-12-21", day(35), "sent")
    # Alone, or in one DM with the health drop those 14 days without a call brought (the pause itself did not).
    (overdue,) = [m for m in fake_slack.messages[fake_slack._dm_by_user["U0001"]] if "overdue" in json.dumps(m)]
    assert (
        f":warning: *Acme* is overdue: No call since it was {since} 14 days ago (ideal within 7 days, at most 10 days)."
        " Last call: Tue 1 Dec."
    ) in [b["text"]["text"] for b in overdue["blocks"] if b["type"] == "section"]


def test_the_card_and_the_list_turn_yellow_past_the_ideal_window_and_red_past_the_maximum(
    slack: SlackRequests, store: Store, clock: FakeClock
) -> None:
    """Issue #4: "past the ideal the customer turns yellow, past the maximum red" — the health score alone (recency is
    one input of several) still read green 71 eleven days after the last weekly call."""
    acme = add(store, cadence="weekly tue 09:00")
    store.record_checkin(
        team_id=TEAM_ID, customer_id=acme.id or 0, author_id="U0001", mood="green", note="n", kind="call", now=day(1)
    )

    def shown(text: str) -> str:
        return json.dumps(slack.command(text).json()["blocks"], ensure_ascii=False)

    clock.set(day(7))
    assert "call due" not in shown("show acme") and "overdue" not in shown("list")
    clock.set(day(9))
    assert ":large_yellow_circle: *call due* — last call 8 days ago (ideal within 7 days, at most 10 days)" in shown(
        "show acme"
    )
    clock.set(day(14))  # Monday 09:00: the window ran out on Saturday, the owner is told now
    red = ":red_circle: *overdue* — last call 13 days ago (ideal within 7 days, at most 10 days)"
    assert red in shown("show acme") and red in shown("list")
    ephemeral(slack.command("pause acme"))  # a paused customer owes no call
    assert "overdue" not in shown("show acme")


def test_a_customer_resumed_after_a_long_pause_keeps_its_health(
    slack: SlackRequests, bot: BotServer, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """The calls of the paused weeks are owed by nobody: resuming must not score them as missed nor count the days
    without a call, which dropped Acme from 80s to 40s and DMed its owner "health fell" the day it came back."""
    acme = add(store, cadence="weekly tue 09:00", country="US")
    with store.session() as session:  # a long-standing customer
        row = session.get_one(Customer, acme.id)
        row.created_at = day(-90)
        session.add(row)
        session.commit()
    for weeks_ago in range(8, -1, -1):  # a weekly call every Tuesday, the last on Tuesday 1 December
        at = day(1) - timedelta(weeks=weeks_ago)
        store.record_checkin(
            team_id=TEAM_ID, customer_id=acme.id or 0, author_id="U0001", mood="green", note="n", kind="call", now=at
        )
    tick(store, settings, day(1, timedelta(hours=15)))
    clock.set(day(2))
    ephemeral(slack.command("pause acme"))
    bot.settle()  # the pause's rescore is stored after the answer
    before = store.customer(team_id=TEAM_ID, customer_id=acme.id or 0)
    assert before is not None and before.health_score is not None
    for n in (8, 12, 15, 21):
        tick(store, settings, day(n))
    clock.set(day(21, timedelta(hours=16, minutes=30)))  # Monday 21 December, 11:30 in New York
    assert "back on" in ephemeral(slack.command("resume acme"))
    bot.settle()
    for instant in (clock.now + timedelta(minutes=1), day(22, timedelta(hours=12))):  # before Tuesday's call
        tick(store, settings, instant)
    after = store.customer(team_id=TEAM_ID, customer_id=acme.id or 0)
    assert after is not None and after.health_score is not None
    assert after.health_score >= before.health_score - 5, (before.health_score, after.health_score)
    assert rows(store, HEALTH_DROP) == []
    assert not [m for msgs in fake_slack.messages.values() for m in msgs if "health fell" in m.get("text", "")]


def test_upcoming_lists_the_next_nudges_in_local_time(
    slack: SlackRequests, store: Store, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    add(store)
    add(store, "Tonga Telecom", tz="Pacific/Tongatapu", owner_id="U0002", channel_id=None)
    clock.set(MON)
    text = ephemeral(slack.command("upcoming"))
    assert "Mon 30 Nov 09:00 America/New_York — *Acme*" in text
    assert "Tue 1 Dec 09:00 Pacific/Tongatapu — *Tonga Telecom*" in text
    mine = ephemeral(slack.command("upcoming mine"))
    assert "Acme" in mine and "Tonga" not in mine
    assert "Usage" in ephemeral(slack.command("upcoming everything"))
    assert "You don't own any customers yet. `/partner upcoming` shows the whole team's" in ephemeral(
        slack.command("upcoming mine", user_id="U0003")  # Lee owns none: not 'no nudges due … set a cadence'
    )
    ephemeral(slack.command("cadence acme off"))
    assert "No nudges due for any of your customers in the next 45" in ephemeral(slack.command("upcoming mine"))


def test_upcoming_names_a_customer_snoozed_past_its_horizon(
    slack: SlackRequests, store: Store, clock: FakeClock
) -> None:
    """Snoozed for two months, Acme has no nudge within 45 days: the list said "No nudges due … Set a cadence"."""
    add(store)
    clock.set(MON)
    assert "No nudges about *Acme* until" in ephemeral(slack.command("snooze acme until 2027-02-15 parental leave"))
    text = ephemeral(slack.command("upcoming"))
    assert "Snoozed: Acme (until <!date^" in text and "Set a cadence" not in text
    ephemeral(slack.command("snooze acme off"))
    assert "Snoozed" not in ephemeral(slack.command("upcoming"))
    for n in range(12):  # named up to ten, then counted: a long list would overflow the message's section
        store.set_snooze(
            team_id=TEAM_ID,
            customer_id=add(store, f"Snoozed {n:02d}").id or 0,
            until=MON + timedelta(days=90),
            reason=None,
            actor_id="U0001",
            now=MON,
        )
    assert "Snoozed 09 (until" in (text := ephemeral(slack.command("upcoming"))) and "and 2 more." in text


def test_upcoming_shows_the_owners_dm_while_slack_refuses_the_channel_as_the_ticks_send(
    slack: SlackRequests,
    store: Store,
    settings: Settings,
    fake_slack: FakeSlack,
    clock: FakeClock,
    cli_env: dict[str, str],
    tmp_path: Path,
) -> None:
    """Partner was removed from #acme on Monday: for a week the nudges go to the owner's DM, then the channel is
    tried again. Both plans said "→ #acme" all along."""
    acme = add(store)
    assert acme.id is not None
    store.record_channel_error(team_id=TEAM_ID, customer_id=acme.id, error="not_in_channel", now=MON)
    clock.set(MON)
    assert "→ a DM to the owner" in ephemeral(slack.command("upcoming"))
    plan = cli(["upcoming", "--days", "14", "--now", "2026-11-30T12:00:00Z"], cli_env, tmp_path)
    assert plan.returncode == 0, plan.stderr
    where = [line.split(" → ")[1] for line in plan.stdout.splitlines()]
    assert where == ["DM @U0001"] * 5 + ["#C0ACME"] * 5  # Mon 30 Nov to Fri 4 Dec, then from Mon 7 Dec
    tick(store, settings, day(1))
    assert nudges(fake_slack) == [] and len(nudges(fake_slack, fake_slack._dm_by_user["U0001"])) == 1


# The command line


@pytest.fixture
def cli_env(settings: Settings, tmp_path: Path) -> Iterator[dict[str, str]]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PARTNER_", "DATABASE_URL"))}
    yield {
        **clean,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": settings.slack_api_url,
        "DATABASE_URL": settings.database_url,
    }


def cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_tick_twice_from_the_command_line_sends_once_and_upcoming_is_a_dry_run(
    store: Store, fake_slack: FakeSlack, cli_env: dict[str, str], tmp_path: Path
) -> None:
    add(store)
    plan = cli(["upcoming", "--days", "14", "--now", "2026-11-30T12:00:00Z"], cli_env, tmp_path)
    assert plan.returncode == 0, plan.stderr
    lines = plan.stdout.splitlines()
    assert lines[0].startswith("2026-11-30 Mon 09:00 America/New_York") and "Acme → #C0ACME" in lines[0]
    assert len(lines) == 10  # two working weeks of daily calls
    assert fake_slack.calls == []  # a dry run: not one Slack call
    bad = cli(["upcoming", "--days", "0"], cli_env, tmp_path)
    assert bad.returncode == 2 and "--days must be from 1 to 366" in bad.stderr
    # A mistyped workspace is named, not answered with "0 nudge(s)" as if none were due.
    typo = cli(["upcoming", "--team", "T0002", "--now", "2026-11-30T12:00:00Z"], cli_env, tmp_path)
    assert typo.returncode == 2 and typo.stdout == ""
    assert f"no customers of workspace T0002 in this database (workspaces: {TEAM_ID})" in typo.stderr
    ours = cli(["upcoming", "--team", TEAM_ID, "--now", "2026-11-30T12:00:00Z"], cli_env, tmp_path)
    assert ours.returncode == 0 and ours.stdout.splitlines() == lines
    for _ in range(2):
        result = cli(["tick", "--now", "2026-12-01T14:00:00Z"], cli_env, tmp_path)
        assert result.returncode == 0, result.stderr
    assert [m["text"] for m in nudges(fake_slack)] == [
        "<@U0001> Time for the daily call with Acme (Tue 1 Dec 09:00 America/New_York)"
    ]
    # Uninstalled, the workspace is sent nothing: its plan says so instead of listing nudges no tick sends.
    store.deactivate_workspace(team_id=TEAM_ID, now=datetime(2026, 12, 1, 15, 0, tzinfo=UTC))
    gone = cli(["upcoming", "--team", TEAM_ID, "--now", "2026-12-01T15:00:00Z"], cli_env, tmp_path)
    assert gone.returncode == 0 and gone.stdout == ""
    assert f"workspace {TEAM_ID} uninstalled Partner: nothing is planned or sent for it" in gone.stderr


# The in-process scheduler


def test_each_process_runs_its_own_minute_tick_and_shares_nothing_but_the_database(
    store: Store, settings: Settings, fake_slack: FakeSlack
) -> None:
    from bot import scheduler as scheduling

    add(store)
    replica = scheduling.build_scheduler(
        store=store, client=make_client(settings), clock=lambda: day(1), settings=settings
    )
    replica.start(paused=True)
    try:
        (job,) = replica.get_jobs()
        assert (job.id, job.func) == (scheduling.TICK_JOB_ID, scheduling.scheduled_tick)
        assert job.trigger.get_next_fire_time(None, day(1)) == day(1)  # every minute, on the minute
    finally:
        replica.shutdown(wait=False)
    # APScheduler's job store is in memory: replicas never share (and race on) a stored job.
    assert not sqlalchemy.inspect(store.engine).has_table("apscheduler_jobs")
    scheduling.scheduled_tick()  # what APScheduler runs: the same jobs as `partner-bot tick`
    assert len(nudges(fake_slack)) == 1


# Property: whatever the cadence and however irregular the ticks, each due nudge is posted exactly once


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(spec="daily 09:00", tz="America/New_York", gaps=[240, 240], snooze=(1, 2))
@example(spec="daily 09:00", tz="Pacific/Tongatapu", gaps=[0, 0, 0, 2000, 60, 60], snooze=(4, 2))
@given(
    spec=st.sampled_from(["daily 09:00", "weekly wed 23:30", "every 2 days 02:30", "monthly first-mon 8am"]),
    tz=st.sampled_from(["America/New_York", "Europe/Berlin", "Pacific/Tongatapu", "Pacific/Honolulu"]),
    gaps=st.lists(st.sampled_from([0, 1, 7, 60, 61, 240, 1440, 2000, 4320]), min_size=1, max_size=10),
    snooze=st.one_of(st.none(), st.tuples(st.integers(0, 9), st.sampled_from([2, 24, 49, 24 * 7]))),
)
def test_each_due_nudge_is_sent_exactly_once(
    store: Store,
    settings: Settings,
    fake_slack: FakeSlack,
    spec: str,
    tz: str,
    gaps: list[int],
    snooze: tuple[int, int] | None,
) -> None:
    """`snooze`: (after which tick, for how many hours) someone snoozes the customer: the calls due inside it are
    folded into the one that comes back when it ends, and nothing is posted twice or lost."""
    patient = replace(settings, nudge_grace_hours=24 * 31)  # nothing expires: every slot must be posted
    client = make_client(settings)
    team = f"T{uuid.uuid4().hex[:10].upper()}"  # a workspace per example: its own planner watermark
    customer = store.add_customer(
        team_id=team, name="Acme", created_by="U0001", now=MON, channel_id="C0ACME", cadence=spec, tz=tz
    )
    start = MON
    instants = [start]
    for gap in gaps:
        instants.append(instants[-1] + timedelta(minutes=gap))
    snoozed_at = instants[snooze[0]] if snooze is not None and snooze[0] < len(instants) else None
    assert customer.id is not None
    try:
        for now in instants:
            schedules.cadence.plan_nudges(store=store, client=client, now=now, settings=patient)
            schedules.cadence.send_nudges(store=store, client=client, now=now, settings=patient)
            if now == snoozed_at and snooze is not None and customer.snoozed_until is None:
                customer = store.set_snooze(
                    team_id=team,
                    customer_id=customer.id,
                    until=now + timedelta(hours=snooze[1]),
                    reason=None,
                    actor_id="U0001",
                    now=now,
                )
        posted = [
            nudge_id
            for m in fake_slack.messages.get("C0ACME", [])
            for nudge_id in ((m.get("metadata") or {}).get("event_payload") or {}).get("nudge_ids", "").split(",")
            if nudge_id
        ]
        mine = {str(r.id): r.due_key for r in store.nudges(team_id=team, kinds=["cadence"], due_after=MON)}
        sent_days = [mine[n] for n in posted if n in mine]
        cal = planner.calendar_of(customer)
        slots = due_slots(planner.cadence_of(customer), cal, since=customer.created_at, now=instants[-1])
        expected = [s.local_date for s in slots]
        if snoozed_at is not None and customer.snoozed_until is not None:
            until = customer.snoozed_until
            # Every slot due by the snooze was posted in a tick before it (nothing expires): those days had their
            # nudge, so the call comes back on none of them (README: one nudge a customer a day).
            nudged = frozenset(s.local_date for s in slots if s.due_at <= snoozed_at)
            reminder = planner.snooze_reminder(customer, cal, Snooze(since=snoozed_at, nudged=nudged), None)
            back = [reminder.slot.local_date] if reminder and reminder.slot.due_at <= instants[-1] else []
            expected = sorted(
                [s.local_date for s in slots if s.due_at <= snoozed_at]
                + [s.local_date for s in slots if s.due_at >= until and s.local_date not in back]
                + back
            )
        assert sent_days == [d.isoformat() for d in expected]
    finally:
        store.archive_customer(team_id=team, customer_id=customer.id, actor_id=None, now=instants[-1])


def posts_tried_in(fake: FakeSlack, channel: str) -> int:
    """Posts Partner tried in the channel, refused ones included."""
    return len([c for c in fake.calls_to("chat.postMessage") if c.params.get("channel") == channel])


@pytest.mark.parametrize(
    ("gone", "refusal"),
    [
        ({"type": "channel_archive", "user": "U0002"}, "is_archived"),
        ({"type": "group_archive"}, "is_archived"),
        ({"type": "channel_deleted"}, "channel_not_found"),
        ({"type": "group_deleted"}, "channel_not_found"),
        ({"type": "channel_left", "actor_id": "U0002"}, "not_in_channel"),
        ({"type": "member_left_channel", "user": "UBOT", "channel_type": "C", "team": TEAM_ID}, "not_in_channel"),
    ],
    ids=lambda v: v["type"] if isinstance(v, dict) else v,
)
def test_a_channel_archived_deleted_or_left_takes_the_nudges_to_the_owner_at_once_and_tells_them_once(
    slack: SlackRequests,
    bot: BotServer,
    store: Store,
    settings: Settings,
    fake_slack: FakeSlack,
    clock: FakeClock,
    gone: dict[str, Any],
    refusal: str,
) -> None:
    acme = add(store)
    tick(store, settings, day(1))  # Tuesday's nudge in the channel
    clock.set(day(1, timedelta(hours=20)))  # Tuesday afternoon: the channel goes
    assert len(nudges(fake_slack)) == 1
    channel = fake_slack.channels["C0ACME"]
    if refusal == "is_archived":
        channel["is_archived"] = True
    elif refusal == "channel_not_found":
        del fake_slack.channels["C0ACME"]
    else:
        channel["is_member"] = False
    payload = {**gone, "channel": "C0ACME"}
    if payload.get("user") == "UBOT":
        payload["user"] = fake_slack.bot_user_id
    someone_left = {**payload, "user": "U0002"}  # anyone else leaving is not Partner's business
    if gone["type"] == "member_left_channel":
        assert slack.event(someone_left).status == 200
        assert store.customer(team_id=TEAM_ID, customer_id=acme.id or 0).channel_error is None  # type: ignore[union-attr]
    # Slack sends these for every public channel of the workspace: one that is no customer's costs no Slack call.
    looked = len(fake_slack.calls_to("conversations.info"))  # the tick's own look-up of the channel
    assert slack.event({**payload, "channel": "C0OTHER"}).status == 200
    for retry in (None, 1):  # Slack's retry of the same event
        assert slack.event(payload, event_id="Ev0GONE", retry_num=retry).status == 200
    bot.settle()
    assert [c.params["channel"] for c in fake_slack.calls_to("conversations.info")[looked:]] == ["C0ACME"]
    recorded = store.customer(team_id=TEAM_ID, customer_id=acme.id or 0)
    assert recorded is not None and recorded.channel_error == refusal
    # The card, and the card opened from Home, say so in words before any post is refused there.
    why = {
        "is_archived": "it is archived",
        "channel_not_found": "it was deleted, or is private without me",
        "not_in_channel": "I'm not a member (`/invite @Partner` there)",
    }[refusal]
    card = json.dumps(slack.command("show acme").json(), ensure_ascii=False)
    assert f"can't post there: {why}. Nudges go to the owner by DM meanwhile." in card, card
    slack.block_action(HOME_OPEN_CARD, value=str(acme.id), view={"id": "VHOME", "type": "home"})
    (opened,) = fake_slack.calls_to("views.open")
    assert f"can't post there: {why}." in json.dumps(opened.params["view"], ensure_ascii=False)
    # So do the row of `/partner list` and Dana's Home.
    flag = f":warning: can't post in <#C0ACME>: {why}"
    assert flag in json.dumps(slack.command("list").json(), ensure_ascii=False)
    assert slack.event({"type": "app_home_opened", "user": "U0001", "tab": "home"}).status == 200
    home = fake_slack.calls_to("views.publish")[-1].params["view"]
    assert flag in (home if isinstance(home, str) else json.dumps(home, ensure_ascii=False)), home

    tried = posts_tried_in(fake_slack, "C0ACME")
    for n in (2, 3):  # Wednesday and Thursday: to the owner's DM, never tried in the channel
        tick(store, settings, day(n))
    assert posts_tried_in(fake_slack, "C0ACME") == tried
    dm = [m["text"] for m in fake_slack.messages[fake_slack._dm_by_user["U0001"]]]
    assert ["couldn't post" in text for text in dm].count(True) == 1, dm
    assert "daily call with *Acme* at Wed 2 Dec 09:00" in dm[1], dm  # with the missed-call alert: one digest
    assert dm[2] == "Time for the daily call with Acme (Thu 3 Dec 09:00 America/New_York)", dm


@pytest.mark.parametrize("kind", ["channel_unarchive", "group_unarchive"])
def test_an_unarchived_channel_gets_the_next_nudge_again(
    slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock, kind: str
) -> None:
    acme = add(store)
    fake_slack.channels["C0ACME"]["is_archived"] = True
    tick(store, settings, day(1))  # refused: to the owner's DM, who is told the channel is archived
    clock.set(day(1, timedelta(hours=2)))
    refused = store.customer(team_id=TEAM_ID, customer_id=acme.id or 0)
    assert refused is not None and refused.channel_error == "is_archived"
    fake_slack.channels["C0ACME"]["is_archived"] = False  # someone unarchives it; Slack tells Partner, and retries
    for retry in (None, 1):
        assert slack.event({"type": kind, "channel": "C0ACME", "user": "U0001"}, event_id="Ev0BACK", retry_num=retry)
    tick(store, settings, day(2))
    (message,) = nudges(fake_slack)
    assert message["text"].startswith("<@U0001> Time for the daily call with Acme (Wed 2 Dec")
    assert [(r.due_key, r.channel_id) for r in rows(store)][-1] == ("2026-12-02", "C0ACME")


def test_an_owner_deactivated_in_slack_is_said_in_the_customers_channel_once(
    slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    add(store)
    add(store, name="Globex", owner_id="U0003")  # Lee's: not told
    add(store, name="Initech", channel_id=None)  # Dana's, no channel, added by Dana: nobody else to tell
    umbrella = store.add_customer(team_id=TEAM_ID, name="Umbrella", created_by="U0003", now=MON, owner_id="U0001")
    clock.set(day(1, timedelta(hours=-3)))
    fake_slack.users["U0001"]["deleted"] = True
    someone = {"type": "user_change", "user": {"id": "U0003", "team_id": TEAM_ID, "name": "lee", "deleted": False}}
    assert slack.event(someone).status == 200  # every profile change in the workspace comes: nothing to do
    gone = {"type": "user_change", "user": {"id": "U0001", "team_id": TEAM_ID, "name": "dana", "deleted": True}}
    for retry in (None, 1):
        assert slack.event(gone, event_id="Ev0GONE", retry_num=retry).status == 200
    listed = json.dumps(slack.command("list all", user_id="U0002", user_name="sam").json())
    assert listed.count("deactivated in Slack") == 3, listed  # said at once beside Dana: Acme, Initech, Umbrella
    for minutes in (0, 1):
        tick(store, settings, day(1, timedelta(hours=-3, minutes=minutes)))
    told = [m["text"] for m in fake_slack.messages.get("C0ACME", [])]
    assert told == [
        ":warning: <@U0001>, the owner of *Acme*, was deactivated in Slack, so its call nudges, overdue alerts and"
        " red check-ins reach nobody. Pick another owner: `/partner edit Acme @owner`."
    ]
    assert [(n.customer_id, n.status) for n in rows(store, "owner_gone")] == [(1, "sent"), (3, "skipped"), (4, "sent")]
    (dm,) = [c.params["text"] for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "U0003"]
    assert dm.startswith(":warning: <@U0001>, the owner of *Umbrella*, was deactivated in Slack"), dm  # Lee added it
    assert umbrella.id == 4


def test_an_owner_reactivated_in_slack_is_no_longer_said_deactivated_until_deactivated_again(
    slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    add(store)
    add(store, name="Globex", owner_id="U0003")
    clock.set(day(1, timedelta(hours=-3)))
    dana = {"id": "U0001", "team_id": TEAM_ID, "name": "dana"}

    def said() -> list[str]:
        listed = json.dumps(slack.command("list all", user_id="U0002", user_name="sam").json())
        card = json.dumps(slack.command("show acme", user_id="U0002", user_name="sam").json())
        published = len(fake_slack.calls_to("views.publish"))
        slack.event({"type": "app_home_opened", "user": "U0003", "tab": "home", "channel": "D0003"})
        fake_slack.wait_for("views.publish", published + 1)
        team = click(
            slack, fake_slack, HOME_SCOPE, user="U0003", action_type="static_select", selected_option={"value": "team"}
        )
        home = json.dumps(team)
        return [where for where, text in (("list", listed), ("card", card), ("home", home)) if "deactivated" in text]

    fake_slack.users["U0001"]["deleted"] = True
    assert slack.event({"type": "user_change", "user": {**dana, "deleted": True}}, event_id="Ev0GONE").status == 200
    assert said() == ["list", "card", "home"]
    fake_slack.users["U0001"]["deleted"] = False  # an admin reactivates Dana; Slack says so, and retries
    clock.set(day(1, timedelta(hours=-2)))
    for retry in (None, 1):
        assert (
            slack.event(
                {"type": "user_change", "user": {**dana, "deleted": False}}, event_id="Ev0BACK", retry_num=retry
            ).status
            == 200
        )
    assert said() == []
    # Another profile change in the workspace: one query of the team's deactivations, nothing written.
    with counting_statements(store) as statements:
        lee = {"type": "user_change", "user": {"id": "U0003", "team_id": TEAM_ID, "name": "lee", "deleted": False}}
        assert slack.event(lee).status == 200
    assert len([s for s in statements if "customer_event" in s]) == 1, statements
    # Deactivated again: said again, from the event or a nudge's users.info check alike.
    fake_slack.users["U0001"]["deleted"] = True
    clock.set(day(1, timedelta(hours=-1)))
    assert slack.event({"type": "user_change", "user": {**dana, "deleted": True}}, event_id="Ev0GONE2").status == 200
    assert said() == ["list", "card", "home"]
    tick(store, settings, day(1))
    assert said() == ["list", "card", "home"]
    told = [m["text"] for m in fake_slack.messages.get("C0ACME", []) if "was deactivated in Slack" in m["text"]]
    assert len(told) == 2, told  # the channel is told of each deactivation, once


def test_a_channel_slack_gives_a_new_id_keeps_its_customers_nudges_and_the_digest(
    slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    acme = add(store)
    store.set_digest_channel(team_id=TEAM_ID, channel_id="C0ACME", now=MON, chosen_by="U0001")
    clock.set(day(1, timedelta(hours=-3)))
    # The private channel made public, say: the same channel, messages and members, under a new id.
    fake_slack.channels["C0ACMEPUB"] = {**fake_slack.channels.pop("C0ACME"), "id": "C0ACMEPUB"}
    changed = {"type": "channel_id_changed", "old_channel_id": "C0ACME", "new_channel_id": "C0ACMEPUB"}
    for retry in (None, 1):
        assert slack.event(changed, event_id="Ev0MOVED", retry_num=retry).status == 200
    moved = store.customer(team_id=TEAM_ID, customer_id=acme.id or 0)
    assert moved is not None and (moved.channel_id, moved.channel_error) == ("C0ACMEPUB", None)
    workspace = store.digest_workspace(team_id=TEAM_ID)
    assert workspace is not None and workspace.digest_channel_id == "C0ACMEPUB"
    tick(store, settings, day(1))
    (message,) = nudges(fake_slack, "C0ACMEPUB")
    assert message["text"].startswith("<@U0001> Time for the daily call with Acme (Tue 1 Dec")
    assert {c.params["channel"] for c in fake_slack.calls_to("chat.postMessage")} == {"C0ACMEPUB"}  # no DM


@pytest.mark.parametrize(
    "late",
    [
        {"type": "channel_archive", "user": "U0002"},  # retried after the channel_unarchive that followed it
        {"type": "channel_left", "actor_id": "U0002"},  # Partner removed, then invited back: the first came last
        {"type": "channel_unarchive", "user": "U0002"},  # unarchived, then archived again: the first came last
    ],
    ids=lambda e: e["type"],
)
def test_a_channel_event_that_comes_after_slack_changed_the_channel_back_changes_nothing(
    slack: SlackRequests,
    store: Store,
    settings: Settings,
    fake_slack: FakeSlack,
    clock: FakeClock,
    late: dict[str, Any],
) -> None:
    acme = add(store)
    clock.set(day(1, timedelta(hours=-3)))
    archived_now = late["type"] == "channel_unarchive"
    if archived_now:
        fake_slack.channels["C0ACME"]["is_archived"] = True
        store.record_channel_error(team_id=TEAM_ID, customer_id=acme.id or 0, error="is_archived", now=clock())
    assert slack.event({**late, "channel": "C0ACME"}, retry_num=1).status == 200
    kept = store.customer(team_id=TEAM_ID, customer_id=acme.id or 0)
    assert kept is not None and kept.channel_error == ("is_archived" if archived_now else None)
    tick(store, settings, day(1))
    assert len(nudges(fake_slack)) == (0 if archived_now else 1)
    assert [c for c in fake_slack.calls_to("chat.postMessage") if "couldn't post" in c.params["text"]] == []
