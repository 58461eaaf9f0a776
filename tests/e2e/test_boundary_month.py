"""A month and more of one working agreement (issue 5) for a New York customer, tick by tick with an injected now:
Columbus Day, the end of daylight saving time, Veterans Day and Thanksgiving; never upheld, so escalated once to its
owner; then it holds and the next need is offered and introduced. Signed requests, every message from the fake Slack."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta

from bot.settings import Settings
from handlers.ids import BOUNDARY_ACTIVATE, BOUNDARY_DECIDE_TALK
from storage.store import Store
from tests.e2e.test_boundaries import FIRST, NY, SECOND, channel_posts, ephemeral, nudges, ny, records, tick
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import BotServer, FakeClock


def _ticks(store: Store, settings: Settings, start: datetime, end: datetime) -> None:
    """Hourly on Mondays and Tuesdays in New York (the reminders' days: they must go out on the 09:00 tick), every
    six hours on the other days, and at `end`."""
    at = start
    while at < end:
        tick(store, settings, at)
        at += timedelta(hours=1 if at.astimezone(NY).weekday() in (0, 1) else 6)
    tick(store, settings, end)


def test_a_month_of_one_agreement_through_holidays_and_the_end_of_dst(
    slack: SlackRequests, bot: BotServer, fake_slack: FakeSlack, store: Store, clock: FakeClock, settings: Settings
) -> None:
    clock.set(ny(2026, 10, 2, 10))  # a Friday
    # Added by Sam, owned by Dana: Dana decides about its agreements.
    ephemeral(slack.command("add Acme Corp <#C0ACME|acme> <@U0001|dana> country=US", user_id="U0002", user_name="sam"))
    ephemeral(slack.command(f'boundary acme add "{FIRST}" kind=response_time value=1d'))
    ephemeral(slack.command(f'boundary acme add "{SECOND}" kind=custom'))
    ephemeral(slack.command("boundary acme activate 1"))
    bot.settle()  # add's follow-up joins #acme: the first Monday's reminder goes out on its own tick

    slips = {ny(2026, 10, 8, 15): "no answer for two days", ny(2026, 10, 15, 15): "again", ny(2026, 10, 22, 15): "3rd"}
    slips[ny(2026, 10, 29, 15)] = "and a fourth"
    at = ny(2026, 10, 2, 11)
    for slip_at, note in slips.items():
        _ticks(store, settings, at, slip_at - timedelta(hours=1))
        clock.set(slip_at)
        ephemeral(slack.command(f"boundary acme slip 1 {note}", user_id="U0002", user_name="sam"))
        at = slip_at
    # Never upheld: one escalation, to the owner — none to Sam who logged the slips, none for the fourth slip.
    _ticks(store, settings, at, ny(2026, 11, 4, 12))
    asked = [c.params for c in fake_slack.calls_to("chat.postMessage") if "keeps slipping" in c.params.get("text", "")]
    assert [p["channel"] for p in asked] == ["U0001"], asked
    assert "has slipped 3 times in the last 30 days" in json.dumps(asked[0]["blocks"])
    dm = {"type": "message", "ts": "1790000000.000100", "text": "", "blocks": asked[0]["blocks"]}
    clock.set(ny(2026, 11, 4, 12))
    slack.block_action(BOUNDARY_DECIDE_TALK, value=str(records(store)[0].id), message=dm, channel_id="DDANA")

    # No slip since 29 October 15:00 (EDT): it holds three weeks later, 19 November at 14:00 (EST, the same instant
    # of the day in UTC), and Dana is offered the next need once.
    _ticks(store, settings, ny(2026, 11, 4, 13), ny(2026, 11, 19, 13, 59))
    assert [r.rule.status for r in records(store)] == ["active", "proposed"]
    _ticks(store, settings, ny(2026, 11, 19, 14), ny(2026, 11, 27, 12))
    assert [r.rule.status for r in records(store)] == ["held", "proposed"]
    offers = [p for p in channel_posts(fake_slack, "U0001") if "Ready to introduce the next one" in p["text"]]
    assert len(offers) == 1 and SECOND in offers[0]["text"]

    # The reminders: Mondays at 09:00 New York time, Columbus Day's on Tuesday, after DST ended at 14:00 UTC, none
    # once it held (23 November on).
    reminders = [c for c in fake_slack.calls_to("chat.postMessage") if c.params.get("channel") == "C0ACME"]
    reminders = [c for c in reminders if FIRST in c.params["text"]]
    texts = [c.params["text"] for c in reminders]
    assert len(texts) == 7, texts  # 5 Oct, 13 Oct (Tue), 19 Oct, 26 Oct, 2 Nov, 9 Nov, 16 Nov
    planned = [(n.due_key, n.due_at.astimezone(UTC).hour, n.status) for n in nudges(store, "boundary_reminder")]
    assert all(n.sent_at == n.due_at for n in nudges(store, "boundary_reminder"))  # on the hour's tick, not later
    assert planned == [
        ("2026-10-05", 13, "sent"),
        ("2026-10-13", 13, "sent"),
        ("2026-10-19", 13, "sent"),
        ("2026-10-26", 13, "sent"),
        ("2026-11-02", 14, "sent"),
        ("2026-11-09", 14, "sent"),
        ("2026-11-16", 14, "sent"),
    ], planned
    assert len(set(texts)) > 1 and all(a != b for a, b in itertools.pairwise(texts))

    clock.set(ny(2026, 11, 27, 12))
    offer = offers[0]
    slack.block_action(
        BOUNDARY_ACTIVATE,
        value=offer["blocks"][0]["accessory"]["value"],
        block_id=offer["blocks"][0]["block_id"],
        channel_id="DDANA",
        message={"type": "message", "ts": "1790000000.000300", "text": "", "blocks": offer["blocks"]},
    )
    assert [r.rule.status for r in records(store)] == ["held", "active"]
    _ticks(store, settings, ny(2026, 11, 30, 8), ny(2026, 11, 30, 10))
    last = channel_posts(fake_slack, "C0ACME")[-1]
    assert SECOND in last["text"] and FIRST not in last["text"]
