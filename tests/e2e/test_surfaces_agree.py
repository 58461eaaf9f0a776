"""One truth on every surface: the same fact about a customer as Home (its filters), `/partner list`, `/partner show`,
`/partner status`, `/partner upcoming`, the digest and the CSV export say it, read at the same injected instant.

Signed requests against the fake Slack; the scheduler's ticks run at chosen instants (no sleeping, no wall clock).
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

from bot.settings import Settings
from handlers.ids import HOME_SCOPE, HOME_SHOW
from storage.store import Store
from tests.e2e.test_cadence import acme_channel, add, day, ephemeral, tick, unpaced  # noqa: F401  (autouse fixtures)
from tests.e2e.test_home import click, row_names
from tests.e2e.test_home_surveys import open_card, open_home, row
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import TEAM_ID, BotServer, FakeClock

HOUR = timedelta(hours=1)


def call_logged(store: Store, customer_id: int | None, at: datetime, *, mood: str = "green") -> None:
    """A call Dana logged at `at`, stored as a check-in would store it."""
    assert customer_id is not None
    store.record_checkin(
        team_id=TEAM_ID, customer_id=customer_id, author_id="U0001", mood=mood, note="n", kind="call", now=at
    )


def bold_names(text: str) -> list[str]:
    """The customers a list or digest section names, in order: each line's first bold word(s)."""
    return [m.group(1) for line in text.split("\n") if (m := re.search(r"\*([^*:]+)\*", line))]


def at_risk_where(bot: BotServer, slack: SlackRequests, fake_slack: FakeSlack) -> dict[str, list[str]]:
    """Who is at risk, as each surface says it right now (the clock the requests carry), in name order."""
    open_home(bot, slack, fake_slack)
    click(slack, fake_slack, HOME_SCOPE, action_type="static_select", selected_option={"value": "team"})
    home = click(slack, fake_slack, HOME_SHOW, action_type="static_select", selected_option={"value": "risk"})
    listed = slack.command("list all at-risk").json()
    rows = [b["text"]["text"] for b in listed["blocks"][1:] if b["type"] == "section" and "accessory" in b]
    digest = slack.command("digest team").json()
    (section,) = [b["text"]["text"] for b in digest["blocks"] if "At risk (" in b.get("text", {}).get("text", "")]
    return {
        "home": sorted(row_names(home)),
        "list": sorted(bold_names("\n".join(r.split("\n")[0] for r in rows))),
        "digest": sorted(bold_names(section.split("\n", 1)[1]) if "\n•" in section else []),
    }


def test_at_risk_is_one_set_on_home_the_list_and_the_digest(
    bot: BotServer, slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """README's *at risk* — health yellow or red, or a red last check-in — and Home's and the digest's — health yellow
    or red, or overdue — were two rules: a customer whose call just went badly (its score still green) was at risk in
    `/partner list at-risk` only, and one overdue with a green score in Home's filter and the digest only. Now one
    rule (domain.health.at_risk) is all three: yellow or red health, overdue, or a red last check-in."""
    acme = add(store, "Acme")  # daily 09:00, New York
    globex = add(store, "Globex", channel_id=None, cadence="weekly mon 10:00")
    initech = add(store, "Initech", channel_id=None, cadence="weekly mon 10:00")
    assert acme.id and globex.id and initech.id
    calls = [(acme, day(n, 15 * HOUR), "green") for n in range(5)]  # a good week of daily calls, 10:00 their time
    calls += [(globex, day(0, 15 * HOUR), "green"), (initech, day(0, 15 * HOUR), "4")]
    for customer, at, mood in calls:
        assert customer.id
        call_logged(store, customer.id, at, mood=mood)
    for n in range(8):
        tick(store, settings, day(n))
    # Monday 7 December, 11:00 in New York: Acme's call went badly; its score is still green.
    clock.set(day(7, 16 * HOUR))
    assert "Logged" in ephemeral(slack.command("checkin acme red call angry about the invoice"))
    ephemeral(slack.command("checkin initech green call weekly call, all good"))
    bot.settle()
    assert "health :large_green_circle:" in json.dumps(slack.command("show acme").json())
    assert at_risk_where(bot, slack, fake_slack) == {"home": ["Acme"], "list": ["Acme"], "digest": ["Acme"]}
    team = json.dumps(slack.command("digest team").json(), ensure_ascii=False)
    assert re.search(r":large_green_circle: \*Acme\* \d+ · :red_circle: last check-in \(<@U0001>\)", team), team
    # Friday 11 December, 11:00: Globex's last call was 11 days ago, past its 10-day maximum, its score still green.
    for n in range(8, 12):
        tick(store, settings, day(n))
    clock.set(day(11, 16 * HOUR))
    assert "health :large_green_circle:" in json.dumps(slack.command("show globex").json())
    assert ":red_circle: *overdue*" in json.dumps(slack.command("show globex").json())
    expected = ["Acme", "Globex"]
    assert at_risk_where(bot, slack, fake_slack) == {"home": expected, "list": expected, "digest": expected}


def test_a_snoozed_customer_says_until_when_on_homes_row_as_on_the_list_and_the_card(
    bot: BotServer, slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """Snoozed for two days from Tuesday's nudge: `/partner list`, `/partner show` and the card opened from Home said
    "(snoozed until Thu 3 Dec 11:00 EST)" beside the next nudge; Home's row showed the same next call without a word of
    the snooze, as if the owner had simply been nudged later."""
    hooli = add(store, "Hooli", channel_id=None, cadence="daily 10:00")
    assert hooli.id
    call_logged(store, hooli.id, day(0, 15 * HOUR))
    tick(store, settings, day(1, 15 * HOUR))  # Tuesday's nudge, 10:00 in New York
    clock.set(day(1, 16 * HOUR))
    assert "No nudges about *Hooli* until Thu 3 Dec 11:00" in ephemeral(slack.command("snooze hooli 2d on leave"))
    bot.settle()
    snoozed = "next call Thu 3 Dec 11:00 EST (snoozed until Thu 3 Dec 11:00 EST)"
    home = open_home(bot, slack, fake_slack)
    assert snoozed in row(home, hooli.id), row(home, hooli.id)
    assert snoozed in json.dumps(open_card(slack, fake_slack, home, hooli.id), ensure_ascii=False)
    for command in ("list", "show hooli"):
        reply = json.dumps(slack.command(command).json(), ensure_ascii=False)
        assert "next nudge Thu 3 Dec 11:00 EST (snoozed until Thu 3 Dec 11:00 EST)" in reply, (command, reply)
    # Once it ends, nobody says snoozed any more.
    clock.set(day(3, 17 * HOUR))
    home = open_home(bot, slack, fake_slack)
    assert "snoozed" not in row(home, hooli.id) and "snoozed" not in json.dumps(slack.command("list").json())


def test_a_call_due_today_is_said_on_homes_row_the_list_and_the_card_until_it_is_logged(
    bot: BotServer, slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """Tuesday 11:00 in New York, the daily call nudged at 09:00 not yet logged: Home's row (and its header's *Calls
    due today*) said ":telephone_receiver: call due today" while `/partner list` and `/partner show` gave only
    tomorrow's nudge, as if nothing were owed today. Now all three say it, and none once the call is logged."""
    acme = add(store, "Acme")  # daily 09:00
    assert acme.id
    call_logged(store, acme.id, day(0, 15 * HOUR))
    tick(store, settings, day(1))  # Tuesday's nudge
    clock.set(day(1, 16 * HOUR))

    def said() -> dict[str, bool]:
        home = open_home(bot, slack, fake_slack)
        return {
            "home": ":telephone_receiver: call due today" in row(home, acme.id),
            "card": ":telephone_receiver: call due today" in json.dumps(open_card(slack, fake_slack, home, acme.id)),
            "list": ":telephone_receiver: call due today" in json.dumps(slack.command("list").json()),
            "show": ":telephone_receiver: call due today" in json.dumps(slack.command("show acme").json()),
        }

    assert said() == {"home": True, "card": True, "list": True, "show": True}
    # The cadence in the same words on the card from Home as on `/partner show`.
    card = json.dumps(open_card(slack, fake_slack, open_home(bot, slack, fake_slack), acme.id))
    assert "*Cadence:* daily at 09:00" in card and "*Cadence*\\ndaily at 09:00" in json.dumps(
        slack.command("show acme").json()
    )
    assert "Logged" in ephemeral(slack.command("checkin acme green call renewal on track"))
    bot.settle()
    assert said() == {"home": False, "card": False, "list": False, "show": False}


def test_the_day_launch_mode_begins_after_its_hour_no_surface_says_a_call_is_due_today(
    bot: BotServer, slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """Launch mode turned on at 10:00 on Wednesday owes daily calls from Thursday (README, *Overdue*): the outbox
    sends no Wednesday nudge and the list says nothing is due, but Home's row said ":telephone_receiver: call due
    today" for the 09:00 launch call that was never owed."""
    acme = add(store, "Acme", cadence="weekly mon 09:00")
    assert acme.id
    call_logged(store, acme.id, day(7, 15 * HOUR))
    tick(store, settings, day(9))
    clock.set(day(9, 15 * HOUR))  # Wednesday 9 December, 10:00 in New York
    assert "Launch mode on for *Acme*" in ephemeral(slack.command("launch acme on until=2026-12-18"))
    bot.settle()
    home = open_home(bot, slack, fake_slack)
    assert "next call Thu 10 Dec 09:00 EST" in row(home, acme.id) and "call due" not in row(home, acme.id)
    for command in ("list", "show acme"):
        assert "call due" not in json.dumps(slack.command(command).json()), command
    # Thursday 09:00, its first daily call nudged and not yet logged: due today everywhere.
    tick(store, settings, day(10))
    clock.set(day(10, 15 * HOUR))
    assert ":telephone_receiver: call due today" in row(open_home(bot, slack, fake_slack), acme.id)
    for command in ("list", "show acme"):
        assert ":telephone_receiver: call due today" in json.dumps(slack.command(command).json()), command
