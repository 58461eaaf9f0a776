"""Real users' longest input on every surface, under the fake's Block Kit limits (and the ack checker).

An 80-character customer name with emoji, a 3,000-character note, a 300-character boundary: each surface
that shows them must stay within Slack's documented limits, or Slack refuses the whole message or view.
"""

from __future__ import annotations

import pytest

from handlers.ids import (
    BOUNDARY_ACTIVATE,
    BOUNDARY_DECIDE_RENEGOTIATE,
    BOUNDARY_SLIP,
    CARD_EDIT,
    CARD_SNOOZE,
    CHECKIN_MODAL,
    HOME_SNOOZE,
    OPEN_CHECKIN,
    OPEN_CUSTOMER_VIEW,
    OPEN_SURVEY,
)
from storage.store import Store
from tests.e2e.test_foundation import ephemeral, modal_values
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
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
    assert slack.event({"type": "app_home_opened", "user": "U0001", "channel": "D0001", "tab": "home"}).status == 200
    fake_slack.wait_for("views.publish", 1)
    bot.settle()
    assert not refused(fake_slack), refused(fake_slack)
