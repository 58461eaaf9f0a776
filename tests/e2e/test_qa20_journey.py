"""Session 20: a customer-success lead's weeks, end to end — a team of three (Dana the owner, Lee a colleague, Mo
their manager) and their customers, driven by signed commands, clicks and forms against the fake Slack, with ticks
at injected instants (no sleeping, no wall clock). Each test pins what a surface said wrong on that road.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from bot.settings import Settings
from handlers.ids import (
    CHECKIN_MODAL,
    HOME_NEXT_PAGE,
    HOME_SCOPE,
    NUDGE_LOG_CALL,
    NUDGE_SKIP,
    NUDGE_SNOOZE,
    NUDGE_SNOOZE_FOR,
    NUDGE_SNOOZE_MODAL,
    NUDGE_SNOOZE_REASON,
)
from storage.models import Customer
from storage.store import Store
from tests.e2e.test_cadence import acme_channel, add, button_message, day, nudges, tick, unpaced  # noqa: F401
from tests.e2e.test_foundation import modal_values
from tests.e2e.test_home import as_text, click
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


def test_a_second_log_call_on_a_nudge_slack_has_not_redrawn_says_whose_call_is_logged_and_a_skip_says_so_too(
    bot: BotServer, slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """Lee logged the launch's daily call from its nudge; Mo's Slack still showed the nudge with its buttons. Mo's Log
    call opened an empty form with nothing to say a call was already logged (a real second call must stay possible,
    so the form opens, now saying whose call is logged); and Mo's Skip, twice, on the message Slack would no longer
    redraw, recorded nothing and said nothing: a button that seemed dead."""
    team(fake_slack)
    clock.set(day(0, 14 * H))
    said(slack.command("add Acme Corp <#C0ACME|acme> tz=America/New_York country=US"))
    said(slack.command("launch acme on until=2w"))
    bot.settle()
    acme = customer(store, "Acme Corp")
    tick(store, settings, day(1, 14 * H))  # Tuesday 09:00: the launch's daily call
    (message,) = nudges(fake_slack)
    stale = button_message(message)  # the message as Mo's Slack still shows it
    value = message["blocks"][1]["elements"][0]["value"]

    def log_call(user: str, note: str) -> dict[str, Any]:
        before = len(fake_slack.calls_to("views.open"))
        slack.block_action(
            NUDGE_LOG_CALL, value=value, channel_id="C0ACME", message=stale, user_id=user, user_name=NAMES[user]
        )
        opened = fake_slack.wait_for("views.open", before + 1)[-1]
        form, shown = dict(opened.params["view"]), opened.response["view"]
        values = modal_values(acme.id, "green", note, call=True)
        sent = slack.view_submission(
            CHECKIN_MODAL,
            values,
            private_metadata=form["private_metadata"],
            user_id=user,
            view_id=shown["id"],
            hash=shown.get("hash") or shown["id"],
        )
        assert sent.status == 200, sent.text
        bot.settle()
        return form

    clock.set(day(1, 15 * H))
    first = log_call(LEE, "Go-live checklist reviewed")
    assert "already" not in json.dumps(first) and "Call logged" not in json.dumps(first)
    clock.set(day(1, 20 * H))
    second = log_call(MO, "Evening call with their CTO")
    note = second["blocks"][0]
    assert note["type"] == "context", second["blocks"][0]
    text = note["elements"][0]["text"]
    assert text.startswith(":white_check_mark: Call logged by <@U0003> <!date^"), text
    assert text.endswith("Log another only for a second call; both are kept."), text
    assert [c.author_id for c in sorted(store.checkins(team_id=TEAM_ID), key=lambda c: c.created_at)] == [
        LEE,
        MO,
    ]  # a real second call is kept
    # Mo's Skip on the copy Slack still shows, twice; Slack refuses to edit the message now.
    for _ in range(2):
        fake_slack.fail_next("chat.update", error="cant_update_message")
        slack.block_action(NUDGE_SKIP, value=value, channel_id="C0ACME", message=stale, user_id=MO, user_name="mo")
        bot.settle()
    told = [c.params["text"] for c in fake_slack.calls_to("response_url")]
    assert len(told) == 2, told
    for text in told:
        assert text.startswith(":white_check_mark: Call logged by <@U0003>"), text
        assert "Your Skip changed nothing. Slack didn't let me update *Acme Corp*'s reminder" in text, text
    (row,) = [
        n for n in store.nudges(team_id=TEAM_ID, kinds=["cadence"], due_after=day(0)) if n.due_key == "2026-12-01"
    ]
    assert row.payload["outcome"]["what"] == "logged"  # the call stands; nothing was skipped


def test_on_launch_modes_last_day_every_surface_says_the_next_call_is_the_normal_cadences(
    bot: BotServer, slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """Monday 14 December, the launch's last day, after its daily nudge: `/partner show`, `/partner list` and Home said
    "next nudge Tue 15 Dec 10:30" — a daily call the day after launch mode ended — while `/partner upcoming` said Tue
    22 Dec, and no nudge came on the 15th (the weekly call of that week was the one Lee logged on Friday). Now all
    four say what the planner does: Tue 22 Dec."""
    team(fake_slack)
    clock.set(day(0, 14 * H))
    said(slack.command("add Acme Corp <#C0ACME|acme> tz=America/New_York country=US"))
    said(slack.command("launch acme on until=2026-12-14"))
    said(slack.command("cadence acme weekly tue 10:30"))
    clock.set(day(11, 21 * H))  # Friday 11 December, 16:00 in New York
    assert "Logged" in said(slack.command("checkin acme red call exec sponsor left", user_id=LEE, user_name="lee"))
    bot.settle()
    tick(store, settings, day(14, 15.5 * H))  # Monday 14 December 10:30: the launch's last daily nudge
    assert nudges(fake_slack)[-1]["text"].endswith("(Mon 14 Dec 10:30 America/New_York)")
    clock.set(day(14, 17 * H))
    expected = "Tue 22 Dec 10:30 EST"
    assert f"next nudge {expected}" in said(slack.command("show acme"))
    assert f"next nudge {expected}" in said(slack.command("list"))
    assert f"next call {expected}" in json.dumps(open_home(bot, slack, fake_slack))
    assert "Tue 22 Dec 10:30 America/New_York — *Acme Corp*" in said(slack.command("upcoming"))
    posted = len(nudges(fake_slack))
    tick(store, settings, day(15, 15.5 * H))  # Tuesday 15 December 10:30: nothing is asked
    assert len(nudges(fake_slack)) == posted
    tick(store, settings, day(22, 15.5 * H))
    assert nudges(fake_slack)[-1]["text"].endswith("(Tue 22 Dec 10:30 America/New_York)")


def test_a_snooze_from_a_nudge_someone_else_answered_is_confirmed_to_the_snoozer(
    bot: BotServer, slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """Lee logged Tuesday's call; Mo, on the copy of its nudge Slack had not redrawn, snoozed Acme for a day
    ("offsite"). The snooze was kept — Wednesday's call came back at noon — but the form closed without a word and
    the nudge, redrawn, still said only "Call logged by Lee", though the form promises "the channel sees who": Mo
    could not tell whether the snooze was taken. Now Mo is told, with what the nudge keeps showing."""
    team(fake_slack)
    clock.set(day(0, 14 * H))
    said(slack.command('add Acme Corp <#C0ACME|acme> tz=America/New_York country=US cadence="daily 10:30"'))
    bot.settle()
    tick(store, settings, day(1, 15.5 * H))
    (message,) = nudges(fake_slack)
    value = message["blocks"][1]["elements"][1]["value"]
    clock.set(day(1, 16 * H))
    said(slack.command("checkin acme green call all good", user_id=LEE, user_name="lee"))
    bot.settle()
    clock.set(day(1, 17 * H))  # Tuesday 12:00 in New York
    stale = button_message(message)
    slack.block_action(NUDGE_SNOOZE, value=value, channel_id="C0ACME", message=stale, user_id=MO, user_name="mo")
    opened = fake_slack.calls_to("views.open")[-1]
    values = {
        "for": {NUDGE_SNOOZE_FOR: {"type": "radio_buttons", "selected_option": {"value": "1d"}}},
        "reason": {NUDGE_SNOOZE_REASON: {"type": "plain_text_input", "value": "offsite"}},
    }
    meta = opened.params["view"]["private_metadata"]
    assert slack.view_submission(NUDGE_SNOOZE_MODAL, values, private_metadata=meta, user_id=MO).status == 200
    bot.settle()
    (told,) = [c.params for c in fake_slack.calls_to("chat.postEphemeral") if c.params["user"] == MO]
    assert told["channel"] == "C0ACME"
    assert told["text"].startswith(":zzz: Snoozed *Acme Corp* until <!date^"), told["text"]
    assert "— offsite: no nudges until then" in told["text"], told["text"]
    kept = "This reminder keeps what was done about it: :white_check_mark: Call logged by <@U0003> <!date^1796140800^"
    assert kept in told["text"] and told["text"].endswith("|2026-12-01 16:00 UTC>."), told["text"]
    assert "snoozed until Wed 2 Dec 12:00 EST" in said(slack.command("show acme"))
    # Mo's own snooze, on a nudge nobody had answered, is shown on it: no note then.
    tick(store, settings, day(2, 17.1 * H))
    back = nudges(fake_slack)[-1]
    slack.block_action(
        NUDGE_SNOOZE,
        value=back["blocks"][1]["elements"][1]["value"],
        channel_id="C0ACME",
        message=button_message(back),
        user_id=MO,
        user_name="mo",
    )
    clock.set(day(2, 17.5 * H))
    opened = fake_slack.calls_to("views.open")[-1]
    meta = opened.params["view"]["private_metadata"]
    assert (
        slack.view_submission(NUDGE_SNOOZE_MODAL, values, private_metadata=meta, user_id=MO, view_id="V0002").status
        == 200
    )
    bot.settle()
    assert len([c for c in fake_slack.calls_to("chat.postEphemeral") if c.params["user"] == MO]) == 1


def test_homes_footer_counts_one_customer_in_the_singular_and_a_last_row_alone_without_a_range(
    bot: BotServer, slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """Dana's Home with her one customer ended "1–1 of 1 customers, riskiest first"; the team's second page of 21
    customers "21–21 of 21 customers"."""
    team(fake_slack)
    clock.set(day(0, 14 * H))
    said(slack.command('add Acme Corp <#C0ACME|acme> tz=America/New_York cadence="weekly tue 10:30"'))
    for n in range(20):
        add(store, f"Lee's {n:02d}", owner_id=LEE, channel_id=None)
    home = open_home(bot, slack, fake_slack)
    assert "1 of 1 customer, riskiest first · page 1 of 1 · updated" in as_text(home), as_text(home)
    click(slack, fake_slack, HOME_SCOPE, action_type="static_select", selected_option={"value": "team"})
    last = click(slack, fake_slack, HOME_NEXT_PAGE, value="1")
    assert "21 of 21 customers, riskiest first · page 2 of 2 · updated" in as_text(last), as_text(last)


def test_launch_mode_for_a_customer_without_a_cadence_says_no_nudges_follow_not_back_to_off(
    bot: BotServer, slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """Hooli, added without a cadence, launched for its go-live week: "…up to and including Fri 4 Dec 2026, then back
    to off", and turned off early: "Launch mode off for Hooli: back to off"."""
    team(fake_slack)
    clock.set(day(0, 14 * H))
    said(slack.command("add Hooli tz=America/New_York"))
    on = said(slack.command("launch hooli on until=fri"))
    assert (
        "up to and including Fri 4 Dec 2026, then no more nudges, as it has no cadence (`/partner cadence Hooli" in on
    )
    assert "back to off" not in on, on
    off = said(slack.command("launch hooli off"))
    assert "Launch mode off for *Hooli*: no more nudges, as it has no cadence" in off, off
    said(slack.command("cadence hooli weekly tue 10:30"))
    assert "then back to weekly on Tue at 10:30." in said(slack.command("launch hooli on until=fri"))


def test_a_filtered_list_with_no_match_points_to_the_teams_customers_not_to_adding_one(
    bot: BotServer, slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """Mo, the manager, asks `/partner list at-risk` on a calm Monday: "No customers match. Add one with `/partner
    add Acme #acme @owner`" — as if the team had none, where it has its customers, just none at risk."""
    team(fake_slack)
    clock.set(day(0, 14 * H))
    said(slack.command('add Acme Corp <#C0ACME|acme> tz=America/New_York cadence="weekly tue 10:30"'))
    said(slack.command("checkin acme green call kickoff went well"))
    bot.settle()
    for typed, team_size in (("list at-risk", "1 customer: `/partner list all` shows it."), ("list tier=partner", "")):
        if not team_size:
            said(slack.command("add Globex"))
            team_size = "2 customers: `/partner list all` shows them."
        reply = said(slack.command(typed, user_id=MO, user_name="mo"))
        assert f"No customer matches. The team has {team_size}" in reply, reply
        assert "Add one with" not in reply, reply
