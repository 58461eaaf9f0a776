"""Session 18's survey, health and dashboard findings: one customer's tier, health and calendar said in the same
words on Home, the card, `/partner show`, `/partner list`, `/partner status` and the digest.

Signed requests against the fake Slack; no sleeping, no wall clock.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from bot.settings import Settings
from handlers.ids import HOME_TIER, OPEN_CUSTOMER_VIEW
from storage.store import Store
from tests.e2e.test_boundaries import FIRST, channel_posts, ephemeral, ny, tick
from tests.e2e.test_boundaries import acme as acme
from tests.e2e.test_cadence import acme_channel, day, unpaced  # noqa: F401  (autouse fixtures)
from tests.e2e.test_cadence import add as cadence_add
from tests.e2e.test_cadence import tick as cadence_tick
from tests.e2e.test_home import click
from tests.e2e.test_home_surveys import open_card, open_home, row, shared_customer
from tests.e2e.test_surfaces_agree import call_logged
from tests.e2e.test_surveys import ExternalSlack, ok, opened, submit
from tests.e2e.test_surveys import external as external
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import BotServer, FakeClock

HOUR = timedelta(hours=1)


def texts(blocks: Any) -> str:
    """Every string a reader sees in these blocks (or a reply), joined: JSON keys and ids left out."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("text", "title") and isinstance(value, str):
                    found.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(blocks)
    return "\n".join(found)


def test_a_tier_is_named_alike_on_every_surface(
    bot: BotServer, slack: SlackRequests, external: ExternalSlack, fake_slack: FakeSlack, store: Store
) -> None:
    """We rate Acme *Supplier of choice*; their people say *Supplier*. `/partner status`, the card's "Our view ·
    Their view", the survey's confirmation and the owner's DMs named the tiers "Supplier of choice" and "Supplier",
    while Home's row and its tier filter, the card's *Tier*, `/partner show`, `/partner list` and both digests said
    "tier supplier of choice", "no tier → supplier of choice" and "they see us as *supplier*" — the same tier in two
    spellings, side by side on one card. Now every surface names it as the survey does."""
    acme = shared_customer(bot, slack, fake_slack, store)
    ok(slack.command("survey acme level"))
    confirmation = submit(slack, opened(fake_slack), {"level": "supplier_of_choice"}, view_id="VLEVEL")
    assert confirmation.status == 200
    ok(slack.command("ask acme"))
    ok(external.block_action(OPEN_CUSTOMER_VIEW, value=str(acme.id), user_id="U0EXT1", channel_id="C0SHARED"))
    answers = {"level": "supplier", "start_doing": "call back", "keep_doing": "demos"}
    ok(submit(external, opened(fake_slack), answers, view_id="VCUST1", user_id="U0EXT1"))
    bot.settle()
    assert acme.id is not None
    home = open_home(bot, slack, fake_slack)
    tier_filter = click(slack, fake_slack, HOME_TIER, action_type="static_select", selected_option={"value": "any"})
    said = {
        "home row": row(home, acme.id),
        "home filter": texts(tier_filter["blocks"][:4]),
        "card": texts(open_card(slack, fake_slack, home, acme.id)["blocks"]),
        "show": texts(slack.command("show acme").json()["blocks"]),
        "list": texts(slack.command("list").json()["blocks"]),
        "list filtered": texts(slack.command("list tier=supplier-of-choice").json()["blocks"]),
        "status": texts(slack.command("status acme").json()["blocks"]),
        "team digest": texts(slack.command("digest team").json()["blocks"]),
        "own digest": texts(slack.command("digest mine").json()["blocks"]),
    }
    for surface, text in said.items():
        assert "Supplier of choice" in text, (surface, text)
        # The key or its lower-case reading would be the second spelling (a command's `tier=…` hint aside).
        assert not re.search(r"(?<![=_`])(?<!a )\bsupplier(?: of choice)?\b(?![_=])", text), (surface, text)
    assert "tier Supplier of choice" in said["home row"] and "Tier: Supplier of choice" in said["home filter"]
    assert "*Tier*\nSupplier of choice" in said["show"] and "*Tier:* Supplier of choice" in said["card"]
    assert "no tier → Supplier of choice" in said["team digest"]
    assert "they see us as *Supplier*; we say *Supplier of choice*" in said["team digest"]
    assert json.dumps(said, ensure_ascii=False).count("supplier_of_choice") == 0


def test_the_card_opened_from_home_says_the_customers_holidays_working_week_and_windows_as_show_does(
    bot: BotServer, slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    """An Israeli customer on a Sunday–Thursday week with its own 5- and 8-day windows: `/partner show` said
    "Asia/Jerusalem · holidays IL (next: …) · week sun-thu" and "weekly on Tue at 10:00 (ideal 5 days, max 8 days)";
    the card opened from Home said only "Asia/Jerusalem" and "weekly on Tue at 10:00", as if the customer worked
    Monday to Friday with no holiday and the cadence's own windows. Now the card says what `/partner show` says."""
    reply = slack.command(
        "add Acme Corp <@U0001|dana> tz=asia/jerusalem country=il week=sun-thu cadence=weekly tue 10:00 ideal=5 max=8"
    )
    assert "Added *Acme Corp*" in reply.json()["text"], reply.text
    bot.settle()
    (acme,) = store.customers(team_id="T0001")
    assert acme.id is not None
    show = json.loads(json.dumps(slack.command("show acme").json()))
    fields = {
        f["text"].split("\n")[0]: f["text"]
        for b in show["blocks"]
        if b["type"] == "section"
        for f in b.get("fields", [])
    }
    calendar = fields["*Time zone*"].split("\n", 1)[1]
    cadence = fields["*Cadence*"].split("\n")[1]
    assert re.fullmatch(r"Asia/Jerusalem · holidays IL \(next: .+\) · week sun-thu", calendar), calendar
    assert cadence == "weekly on Tue at 10:00 (ideal 5 days, max 8 days)", cadence
    card = texts(open_card(slack, fake_slack, open_home(bot, slack, fake_slack), acme.id)["blocks"])
    assert f"*Time zone:* {calendar}" in card, card
    assert f"*Cadence:* {cadence}" in card, card


def test_an_escalation_is_in_the_digest_the_moment_the_owner_is_asked_to_decide(
    acme: SlackRequests, bot: BotServer, fake_slack: FakeSlack, store: Store, clock: FakeClock, settings: Settings
) -> None:
    """The third slip's answer says "I've asked the owner to decide", and the card marks the need *escalated on Fri 4
    Dec* at once; `/partner digest` said "0 boundaries escalated — No boundary needed escalating" until a tick had
    sent the owner's DM (and never, were the DM not sent). Now the digest counts the escalation from when Partner
    made it, as the card dates it, its DM sent or still on its way."""
    slack = acme
    assert "is now active" in ephemeral(slack.command("boundary acme activate 1"))
    clock.set(ny(2026, 12, 4, 11))  # Friday
    for n in range(3):
        reply = ephemeral(slack.command(f"boundary acme slip 1 no answer for {n + 2} days"))
    assert "I've asked the owner to decide" in reply
    bot.settle()
    assert ":warning: escalated on Fri 4 Dec" in json.dumps(slack.command("show acme").json(), ensure_ascii=False)
    assert [p for p in channel_posts(fake_slack, "U0001") if "keeps slipping" in p["text"]] == []  # not sent yet

    def escalated_in_digest() -> tuple[str, str]:
        digest = slack.command("digest mine").json()
        (section,) = [t for t in map(texts, digest["blocks"]) if "Boundaries escalated" in t]
        return digest["text"], section

    summary, section = escalated_in_digest()
    assert "1 boundary escalated" in summary, summary
    assert section == f"*:construction: Boundaries escalated (1)*\n• *Acme Corp*: “{FIRST}”", section
    tick(store, settings, clock.now)  # the DM goes out: the digest says the same
    assert len([p for p in channel_posts(fake_slack, "U0001") if "keeps slipping" in p["text"]]) == 1
    assert escalated_in_digest() == (summary, section)


def test_an_overdue_customer_says_how_long_ago_its_last_call_was_today_not_on_the_day_the_owner_was_told(
    bot: BotServer, slack: SlackRequests, store: Store, settings: Settings, clock: FakeClock
) -> None:
    """Globex, called weekly, last called Monday 30 November: its owner was told on Friday 11 December ("last call
    11 days ago", past the 10-day maximum). On Monday 14 December `/partner list` read "last check-in 14 days ago" and,
    on the same row, "overdue — last call 11 days ago", as did `/partner show`: the alert's words of three days
    before. Now the overdue line counts to today, as the row's last check-in does (a missed daily call keeps the
    alert's own words: "the daily call on Wed 9 Dec was missed")."""
    globex = cadence_add(store, "Globex", channel_id=None, cadence="weekly mon 10:00")
    assert globex.id is not None
    call_logged(store, globex.id, day(0, 15 * HOUR))  # Monday 30 November, 10:00 in New York
    for n in range(15):
        cadence_tick(store, settings, day(n))
        cadence_tick(store, settings, day(n, 20 * HOUR))
    clock.set(day(14, 16 * HOUR))  # Monday 14 December, 11:00 in New York
    listed = texts(slack.command("list").json()["blocks"])
    assert "last check-in 14 days ago" in listed, listed
    assert "overdue* — last call 14 days ago (ideal within 7 days, at most 10 days)" in listed, listed
    shown = texts(slack.command("show globex").json()["blocks"])
    assert "overdue* — last call 14 days ago" in shown, shown
