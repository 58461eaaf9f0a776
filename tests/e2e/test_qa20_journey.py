"""Session 20: a customer-success lead's weeks, end to end — a team of three (Dana the owner, Lee a colleague, Mo
their manager) and their customers, driven by signed commands, clicks and forms against the fake Slack, with ticks
at injected instants (no sleeping, no wall clock). Each test pins what a surface said wrong on that road.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from bot.settings import Settings
from storage.models import Customer
from storage.store import Store
from tests.e2e.test_cadence import acme_channel, day, unpaced  # noqa: F401
from tests.e2e.test_home_surveys import open_card, open_home
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import TEAM_ID, BotServer, FakeClock

H = timedelta(hours=1)
DANA, LEE, MO = "U0001", "U0003", "U0004"
NAMES = {DANA: "dana", LEE: "lee", MO: "mo"}


def team(fake_slack: FakeSlack) -> None:
    """Lee (Chicago) is in the fake workspace already (acme_channel); Mo, their manager, works from London."""
    fake_slack.add_user(MO, name="mo", tz="Europe/London", is_admin=True)


def said(response: Any) -> str:
    assert response.status == 200, response.text
    return json.dumps(response.json(), ensure_ascii=False)


def customer(store: Store, name: str) -> Customer:
    (found,) = [c for c in store.customers(team_id=TEAM_ID) if c.name == name]
    return found


def test_the_card_says_launch_mode_while_its_daily_calls_are_what_the_owner_is_nudged_for(
    bot: BotServer, slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """Dana put Acme in launch mode for its go-live, then set the weekly cadence it goes back to. Every weekday's
    nudge said "Launch mode: daily calls until Mon 14 Dec", yet `/partner show` and the card opened from Home said
    only "weekly on Tue at 10:30" — and Hooli, launched without a cadence, "no cadence" above a next nudge tomorrow."""
    team(fake_slack)
    clock.set(day(0, 14 * H))  # Monday 30 November, 09:00 in New York
    assert "Added" in said(slack.command("add Acme Corp <#C0ACME|acme> tz=America/New_York country=US"))
    assert "Launch mode on" in said(slack.command("launch acme on until=2w"))
    assert "weekly on Tue at 10:30" in said(slack.command("cadence acme weekly tue 10:30"))
    assert "Added" in said(slack.command("add Hooli tz=America/New_York"))
    assert "Launch mode on" in said(slack.command("launch hooli on until=fri"))
    bot.settle()
    launch = "launch mode: a daily call every business day until Mon 14 Dec, then weekly on Tue at 10:30"
    card = said(slack.command("show acme"))
    assert launch in card and "next nudge Mon 30 Nov 10:30 EST" in card, card
    home = open_home(bot, slack, fake_slack)
    assert launch in json.dumps(open_card(slack, fake_slack, home, customer(store, "Acme Corp").id or 0))
    hooli = said(slack.command("show hooli"))
    assert "launch mode: a daily call every business day until Fri 4 Dec, then no cadence" in hooli, hooli
    # Once launch mode is over, the card says the cadence alone again.
    clock.set(day(15, 14 * H))
    card = said(slack.command("show acme"))
    assert "launch mode" not in card and "weekly on Tue at 10:30" in card, card
