"""Session 22 follow-ups to test_qa22_nudges: the same two mechanisms, where they were not yet used.

- A click refused with a note (an archived customer, …) whose response_url Slack refused (expired: 404, or an error
  body) told the clicker nothing: a webhook's refusal raises no error, so the note was never tried another way and
  the button seemed dead; so did "Ask them" on the `/partner show` card (the customer asked, the asker never told).
  It goes by chat.postEphemeral in the click's channel, else a DM, once.
- A boundary reminder taken by a channel recorded as refusing (Partner invited back while Slack's event was lost) left
  the card and Home saying "can't post there" for ever, where a cadence nudge taken there clears the refusal.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.settings import Settings
from handlers.ids import CARD_ASK, OPEN_CHECKIN
from storage.store import Store
from tests.e2e.test_boundaries import acme, channel_posts, customer, nudges, ny  # noqa: F401  (acme: its fixture)
from tests.e2e.test_home_surveys import shared_customer
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import TEAM_ID, BotServer, ephemeral, tick

ARCHIVED = "*Acme* is archived. Bring it back with `/partner restore Acme`."


def _nudge_message(customer_id: int) -> dict[str, Any]:
    button = {"type": "button", "action_id": OPEN_CHECKIN, "text": {"type": "plain_text", "text": "Log check-in"}}
    return {
        "type": "message",
        "ts": "1764600000.000100",
        "text": "Time for the call with Acme",
        "blocks": [{"type": "actions", "block_id": "b1", "elements": [dict(button, value=str(customer_id))]}],
    }


@pytest.mark.parametrize("refusal", [{"status": 404}, {"status": 200, "error": "expired_url"}], ids=["404", "error"])
def test_a_refused_click_whose_response_url_slack_refuses_still_tells_the_clicker_once(
    slack: SlackRequests, bot: BotServer, store: Store, fake_slack: FakeSlack, refusal: dict[str, Any]
) -> None:
    """Dana archived Acme at 09:00; at 09:40 Lee clicks "Log check-in" on the nudge his Slack still shows in #acme.
    The click's response_url answers 404 (expired, or Slack's trouble) or an error: he is told Acme is archived in a
    note only he sees, in #acme, once — not a button that seems to do nothing."""
    fake_slack.add_channel("C0ACME", name="acme", members=["U0001", "U0003"])
    fake_slack.add_user("U0003", name="lee", tz="America/Chicago")
    assert "Added" in ephemeral(slack.command("add Acme <@U0001|dana>"))
    (customer,) = store.customers(team_id=TEAM_ID)
    assert "Archived *Acme*" in ephemeral(slack.command("archive acme"))
    fake_slack.fail_next("response_url", **refusal)
    clicked = slack.block_action(
        OPEN_CHECKIN,
        value=str(customer.id),
        user_id="U0003",
        user_name="lee",
        channel_id="C0ACME",
        message=_nudge_message(customer.id),
    )
    assert clicked.status == 200
    bot.settle()
    assert len(fake_slack.calls_to("response_url")) == 1
    (told,) = [c.params for c in fake_slack.calls_to("chat.postEphemeral")]
    assert (told["channel"], told["user"], told["text"]) == ("C0ACME", "U0003", ARCHIVED)
    assert [c for c in fake_slack.calls_to("chat.postMessage") if c.params.get("text") == ARCHIVED] == []


@pytest.mark.usefixtures("acme")
def test_a_channel_that_takes_a_boundary_reminder_tried_again_after_a_week_is_no_longer_said_to_refuse(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, settings: Settings, bot: BotServer
) -> None:
    """Acme Corp has no call cadence, only its agreement's Monday reminder. Partner was removed from #acme while it was
    down: Monday's reminder met `not_in_channel`, Dana was told and invited Partner back — Slack's event lost in a
    restart. The reminder tried there a week later is taken: the card no longer says "can't post there" (it said so
    for ever), and when Partner is removed again the week after, Dana is told again."""
    ephemeral(slack.command("boundary acme activate 1"))
    ephemeral(slack.command("cadence acme off"))
    bot.settle()
    fake_slack.channels["C0ACME"]["is_member"] = False
    tick(store, settings, ny(2026, 11, 30, 9, 0))
    assert len(_refusal_notices(fake_slack)) == 1
    assert customer(store).channel_error is not None
    fake_slack.channels["C0ACME"]["is_member"] = True  # invited back; the event never reached Partner
    before = len(channel_posts(fake_slack, "C0ACME"))
    tick(store, settings, ny(2026, 12, 7, 9, 0))
    assert [n.status for n in nudges(store, "boundary_reminder")] == ["failed", "sent"]
    assert len(channel_posts(fake_slack, "C0ACME")) == before + 1
    assert customer(store).channel_error is None
    assert "can't post" not in json.dumps(slack.command("show acme").json(), ensure_ascii=False)
    fake_slack.channels["C0ACME"]["is_member"] = False  # removed again, Partner down again
    tick(store, settings, ny(2026, 12, 14, 9, 0))
    assert [n.status for n in nudges(store, "boundary_reminder")] == ["failed", "sent", "failed"]
    assert len(_refusal_notices(fake_slack)) == 2, [p["text"] for p in channel_posts(fake_slack, "U0001")]


def _refusal_notices(fake: FakeSlack) -> list[str]:
    return [p["text"] for p in channel_posts(fake, "U0001") if p["text"].startswith(":warning: I couldn't post in")]


def test_ask_them_on_the_show_card_whose_response_url_slack_refuses_still_says_the_customer_was_asked_once(
    bot: BotServer, slack: SlackRequests, store: Store, fake_slack: FakeSlack
) -> None:
    """Dana clicks "Ask them" on the `/partner show` card in #acme-shared: the invitation goes to the customer's
    people, and the click's response_url answers 404. She was told nothing (or, had the post failed to connect, "try
    again" — and a second click invited them twice); she is told it was asked, in a note only she sees, once."""
    shared_customer(bot, slack, fake_slack, store)
    card = slack.command("show acme", channel_id="C0SHARED").json()
    (ask,) = [e for b in card["blocks"] for e in b.get("elements", []) if e.get("action_id") == CARD_ASK]
    fake_slack.fail_next("response_url", status=404)
    clicked = slack.block_action(CARD_ASK, value=ask["value"], channel_id="C0SHARED", ephemeral=True)
    assert clicked.status == 200
    bot.settle()
    assert len(fake_slack.messages["C0SHARED"]) == 1  # the invitation, once
    (told,) = [c.params for c in fake_slack.calls_to("chat.postEphemeral")]
    assert (told["channel"], told["user"]) == ("C0SHARED", "U0001")
    assert told["text"] == ":speech_balloon: Asked *Acme Corp*'s people for their view in <#C0SHARED>."
