"""Real users' longest input on every surface, under the fake's Block Kit limits (and the ack checker).

An 80-character customer name with emoji, a 3,000-character note, a 300-character boundary: each surface
that shows them must stay within Slack's documented limits, or Slack refuses the whole message or view.
"""

from __future__ import annotations

import json

import pytest

from domain.surveys import SURVEYS
from handlers.ids import (
    BOUNDARY_ACTIVATE,
    BOUNDARY_DECIDE_RENEGOTIATE,
    BOUNDARY_SLIP,
    CARD_ASK,
    CARD_EDIT,
    CARD_SNOOZE,
    CHECKIN_CUSTOMER,
    CHECKIN_MODAL,
    HOME_OPEN_CARD,
    HOME_SNOOZE,
    HOME_SURVEY,
    OPEN_CHECKIN,
    OPEN_CUSTOMER_VIEW,
    OPEN_SURVEY,
    SURVEY_MODAL,
)
from storage.store import Store
from tests.e2e.test_foundation import ephemeral, modal_values
from tests.e2e.test_surveys import state
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests, offered_options
from tests.utils import TEAM_ID, BotServer, FakeClock

# 80 characters (domain.customers.MAX_NAME_LENGTH), emoji and Slack-escaped ampersands included.
LONG_NAME = ("🎉 Très Grand & Fils — Überseeische Handelsgesellschaft ✨ " + "x" * 80)[:80]
LONG_NOTE = ("Call went well 🎉 & they asked for the roadmap <later>. " * 60)[:3000]
LONG_BOUNDARY = ("We answer within a day & never on weekends 🙏 " * 10)[:290]


def refused(fake: FakeSlack) -> list[str]:
    """Calls Slack would have refused for their blocks: what a limit breaks, and where."""
    return [
        f"{c.method}: {c.response}"
        for c in fake.calls
        if c.response.get("error") in ("invalid_blocks", "invalid_arguments") or c.status == 400
    ]


@pytest.fixture
def long_customer(slack: SlackRequests, fake_slack: FakeSlack, store: Store) -> int:
    reply = ephemeral(slack.command(f'add "{LONG_NAME}" <#C0ACME|acme> <@U0001|dana>'))
    assert "Added" in reply, reply
    fake_slack.wait_for("conversations.join", 1)
    (customer,) = store.customers(team_id=TEAM_ID)
    assert customer.name == LONG_NAME
    return customer.id


def test_a_long_name_and_note_stay_within_block_kit_on_every_surface(
    bot: BotServer, slack: SlackRequests, fake_slack: FakeSlack, store: Store, long_customer: int
) -> None:
    submitted = slack.view_submission(CHECKIN_MODAL, modal_values(long_customer, "red", LONG_NOTE))
    assert submitted.status == 200, submitted.text
    assert len(store.checkins(team_id=TEAM_ID)) == 1
    reply = ephemeral(slack.command(f'boundary "{LONG_NAME}" add "{LONG_BOUNDARY}" kind=custom'))
    assert "Proposed" in reply, reply
    for text in ("show", "status", "boundary"):
        ephemeral(slack.command(f'{text} "{LONG_NAME}"'))
    for text in ("list", "upcoming", "digest"):
        assert slack.command(text).status == 200
    assert slack.block_action(OPEN_CHECKIN, value=str(long_customer)).status == 200
    assert slack.block_action(CARD_EDIT, value=str(long_customer)).status == 200
    (boundary,) = store.boundary_records(team_id=TEAM_ID, customer_id=long_customer)
    for action_id, value in [
        (CARD_SNOOZE, str(long_customer)),
        (HOME_SNOOZE, str(long_customer)),
        (OPEN_CUSTOMER_VIEW, str(long_customer)),
        *[(OPEN_SURVEY, f"{survey}:{long_customer}") for survey in ("scorecard", "level", "profile", "practices")],
        (BOUNDARY_ACTIVATE, str(boundary.id)),
        (BOUNDARY_SLIP, f"{boundary.id}:0"),
        (BOUNDARY_DECIDE_RENEGOTIATE, str(boundary.id)),
    ]:
        assert slack.block_action(action_id, value=value).status == 200, action_id
    assert slack.event({"type": "app_home_opened", "user": "U0001", "channel": "D0001", "tab": "home"}).status == 200
    fake_slack.wait_for("views.publish", 1)
    bot.settle()
    assert not refused(fake_slack), refused(fake_slack)
    surveys_from_home(bot, slack, fake_slack, store, long_customer)


def surveys_from_home(bot: BotServer, slack: SlackRequests, fake_slack: FakeSlack, store: Store, cid: int) -> None:
    """Home's survey menu (every option), the card opened from Home with "Ask them", each survey pushed on it, and
    the card redrawn after a long profile is saved on it."""
    fake_slack.channels["C0ACME"]["is_ext_shared"] = True
    store.set_channel_shared(
        team_id=TEAM_ID, channel_id="C0ACME", shared=True, now=store.customers(team_id=TEAM_ID)[0].created_at
    )
    assert slack.event({"type": "app_home_opened", "user": "U0001", "channel": "D0001", "tab": "home"}).status == 200
    fake_slack.wait_for("views.publish", 2)
    home = fake_slack.published_home["U0001"]
    actions = next(b for b in home["blocks"] if b.get("block_id") == f"customer_{cid}_actions")
    menu = next(e for e in actions["elements"] if e["action_id"] == HOME_SURVEY)
    assert len(menu["options"]) == 5  # the four surveys and "ask them"
    for option in menu["options"]:
        assert slack.block_action(HOME_SURVEY, view=home, action_type="overflow", selected_option=option).status == 200
    assert slack.block_action(HOME_OPEN_CARD, value=str(cid), view=home).status == 200
    card = fake_slack.views[fake_slack.calls_to("views.open")[-1].response["view"]["id"]]
    assert CARD_ASK in json.dumps(card)
    for survey in ("scorecard", "level", "practices", "profile"):
        assert slack.block_action(OPEN_SURVEY, value=f"{survey}:{cid}", view=card).status == 200
    assert slack.block_action(CARD_ASK, value=str(cid), view=card).status == 200
    profile = fake_slack.views[fake_slack.calls_to("views.push")[-1].response["view"]["id"]]
    answers = {q.key: LONG_NOTE[: q.max_length or 3000] for q in SURVEYS["profile"].questions()}
    submitted = slack.view_submission(
        SURVEY_MODAL,
        state(SURVEYS["profile"], answers),
        private_metadata=profile["private_metadata"],
        view_id=profile["id"],
    )
    assert submitted.status == 200 and not submitted.body, submitted.text
    fake_slack.wait_for("views.update", 2)  # the card after "Ask them", and after the profile was saved
    bot.settle()
    assert not refused(fake_slack), refused(fake_slack)


def test_two_hundred_long_named_customers_and_thirty_boundaries_stay_within_block_kit(
    bot: BotServer, slack: SlackRequests, fake_slack: FakeSlack, store: Store, clock: FakeClock, long_customer: int
) -> None:
    for i in range(200):
        name = f"{i:03d} {LONG_NAME}"[:80]
        store.add_customer(team_id=TEAM_ID, name=name, created_by="U0001", now=clock.now, owner_id="U0001")
    for i in range(30):
        text = f"{i:02d} {LONG_BOUNDARY}"
        store.add_boundary(
            team_id=TEAM_ID,
            customer_id=long_customer,
            text=text,
            kind="custom",
            value=None,
            created_by="U0001",
            now=clock.now,
        )
    for text in (f'show "{LONG_NAME}"', f'boundary "{LONG_NAME}"', f'status "{LONG_NAME}"'):
        ephemeral(slack.command(text))
    for text in ("list", "list all", "upcoming", "digest"):
        assert slack.command(text).status == 200
    # The check-in form's customer search: Slack shows at most 100 options of 75 characters (the ack checker).
    assert len(offered_options(slack.block_suggestion(CHECKIN_CUSTOMER, ""))) == 100
    assert len(slack.block_suggestion(CHECKIN_CUSTOMER, "１９９").json()["options"]) == 1  # full-width digits too
    assert slack.event({"type": "app_home_opened", "user": "U0001", "channel": "D0001", "tab": "home"}).status == 200
    fake_slack.wait_for("views.publish", 1)
    bot.settle()
    assert not refused(fake_slack), refused(fake_slack)


def test_a_hundred_and_fifty_long_boundaries_are_listed_within_slacks_40000_characters(
    slack: SlackRequests, store: Store, clock: FakeClock, long_customer: int
) -> None:
    for i in range(150):
        store.add_boundary(
            team_id=TEAM_ID,
            customer_id=long_customer,
            text=f"{i:03d} {LONG_BOUNDARY}",
            kind="custom",
            value=None,
            created_by="U0001",
            now=clock.now,
        )
    # The ack checker refuses an answer Slack would refuse (msg_too_long past 40,000 characters of text).
    for text in (f'boundary "{LONG_NAME}"', f'boundary "{LONG_NAME}" list'):
        reply = slack.command(text).json()
        assert reply["blocks"] and len(reply["text"]) <= 40_000
        assert "000 We answer within a day" in reply["text"]
