"""Who can use Partner: the workspace's full members. Slack's guests (multi-channel `is_restricted`, single-channel
`is_ultra_restricted`) see no customer and change nothing, on every surface; the customer's-own-view survey stays
open to the customer's people, guests of ours among them. Signed requests against the fake Slack's users.info."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from handlers.events.home import GUEST_HOME
from handlers.home_publisher import publisher_of, request_home_refresh
from handlers.ids import (
    ADD_CUSTOMER_MODAL,
    CHECKIN_MODAL,
    CUSTOMER_FIELD,
    HOME_SCOPE,
    LOG_MESSAGE_CHECKIN,
    NUDGE_LOG_CALL,
    OPEN_CHECKIN,
    OPEN_CUSTOMER_VIEW,
)
from handlers.permissions import GUEST_CHECKS, GUESTS_ONLY_NOTE
from storage.store import Store
from tests.e2e.test_surveys import EXTERNAL_TEAM, ok, opened, shared_customer, submit
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import TEAM_ID, BotServer, FakeClock

GUEST = "U0009"
GUESTS = ["is_restricted", "is_ultra_restricted"]  # multi-channel, single-channel


def add_guest(fake_slack: FakeSlack, kind: str) -> None:
    fake_slack.add_user(GUEST, name="contractor", **{kind: True})


def users_info_of(fake_slack: FakeSlack, user_id: str) -> int:
    return len([c for c in fake_slack.calls_to("users.info") if c.params.get("user") == user_id])


def seeded(slack: SlackRequests, store: Store) -> int:
    ok(slack.command("add Acme Corp <#C0ACME|acme> <@U0001|dana>"))
    ok(slack.command("checkin acme red renewal at risk, CFO unhappy"))
    customer = store.customer_by_name(team_id=TEAM_ID, name="acme corp")
    assert customer is not None and customer.id is not None
    return customer.id


@pytest.mark.parametrize("kind", GUESTS)
def test_a_guest_gets_a_friendly_note_from_every_command_and_sees_no_customer(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, bot: BotServer, kind: str
) -> None:
    seeded(slack, store)
    bot.settle()  # the red check-in's alert to its owner is out
    add_guest(fake_slack, kind)
    checkins = len(store.checkins(team_id=TEAM_ID))
    mark = len(fake_slack.calls)
    for text in (
        "list",
        "list all at-risk",
        "show acme",
        "status acme",
        "digest team",
        "digest mine",
        "upcoming",
        "survey acme scorecard",
        "survey team practices",
        "ask acme",
        "cadence acme weekly",
        "snooze acme 3d",
        "help",
    ):
        body = ok(slack.command(text, user_id=GUEST, user_name="contractor"))
        assert body.get("response_type", "ephemeral") == "ephemeral", text
        assert body["text"].startswith(GUESTS_ONLY_NOTE), (text, body)  # `snooze` also gives back what was typed
        assert "blocks" not in body and "Acme" not in json.dumps(body), text
    # A check-in's note is given back (nothing typed is lost), and nothing is stored.
    body = ok(slack.command("checkin acme green they loved the demo", user_id=GUEST, user_name="contractor"))
    assert body["text"].startswith(GUESTS_ONLY_NOTE)
    assert body["text"].endswith("You typed: `/partner checkin acme green they loved the demo`")
    assert len(store.checkins(team_id=TEAM_ID)) == checkins
    # users.info once for all of it (kept briefly), and nothing else asked of Slack: no form, no post, no DM.
    assert [c.method for c in fake_slack.calls[mark:]] == ["users.info"]
    # A full member of the workspace is served as before.
    assert "Acme Corp" in json.dumps(ok(slack.command("list", user_id="U0002", user_name="sam")))


@pytest.mark.parametrize("kind", GUESTS)
def test_a_guests_clicks_forms_and_menus_change_nothing(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, kind: str
) -> None:
    customer_id = seeded(slack, store)
    add_guest(fake_slack, kind)
    checkins = len(store.checkins(team_id=TEAM_ID))
    mark = len(fake_slack.calls_to("response_url"))
    ok(slack.block_action(OPEN_CHECKIN, value=str(customer_id), user_id=GUEST, user_name="contractor"))
    ok(slack.block_action(NUDGE_LOG_CALL, value="1", user_id=GUEST, user_name="contractor"))
    told = [c.params["text"] for c in fake_slack.calls_to("response_url")[mark:]]
    assert told == [GUESTS_ONLY_NOTE, GUESTS_ONLY_NOTE]
    assert fake_slack.calls_to("views.open") == []

    form = {"customer": {"customer": {"type": "external_select", "selected_option": {"value": str(customer_id)}}}}
    as_shown = {"blocks": [{"type": "input", "block_id": "customer", "element": {"type": "external_select"}}]}
    body = ok(slack.view_submission(CHECKIN_MODAL, form, user_id=GUEST, user_name="contractor", view_fields=as_shown))
    assert body["response_action"] == "errors" and list(body["errors"].values()) == [GUESTS_ONLY_NOTE]
    assert len(store.checkins(team_id=TEAM_ID)) == checkins

    options = ok(slack.block_suggestion("customer", "ac", user_id=GUEST, user_name="contractor"))
    assert options == {"options": []}  # not even the customers' names

    # "Log as check-in" on a message in the customer's channel: no form, no permalink asked, a note only they see.
    mark = len(fake_slack.calls_to("response_url"))
    message = {"type": "message", "ts": "1764100000.000200", "user": GUEST, "text": "they want a discount"}
    ok(slack.message_action(LOG_MESSAGE_CHECKIN, message, channel_id="C0ACME", user_id=GUEST, user_name="contractor"))
    assert [c.params["text"] for c in fake_slack.calls_to("response_url")[mark:]] == [GUESTS_ONLY_NOTE]
    assert fake_slack.calls_to("views.open") == [] and fake_slack.calls_to("chat.getPermalink") == []


@pytest.mark.parametrize("kind", GUESTS)
def test_a_guests_home_says_partner_is_for_members_and_keeps_nothing_of_theirs(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, bot: BotServer, clock: FakeClock, kind: str
) -> None:
    seeded(slack, store)
    add_guest(fake_slack, kind)
    team_view = {"private_metadata": json.dumps({"scope": "team", "show": "all", "tier": None, "page": 0})}
    ok(slack.event({"type": "app_home_opened", "user": GUEST, "channel": "D0009", "tab": "home", "view": team_view}))
    assert fake_slack.published_home[GUEST]["blocks"] == GUEST_HOME["blocks"]
    assert store.home_state(team_id=TEAM_ID, user_id=GUEST) is None  # no viewer of the team's dashboard
    # The Home's own buttons are refused like any other.
    ok(slack.block_action(HOME_SCOPE, value="team", user_id=GUEST, user_name="contractor", channel_id=None))
    assert store.home_state(team_id=TEAM_ID, user_id=GUEST) is None

    # Someone who chose the team's dashboard while a member, made a guest since: a refresh shows them the note.
    store.save_home_state(team_id=TEAM_ID, user_id="U0008", scope="team", show="all", tier=None, page=0, now=clock())
    fake_slack.add_user("U0008", name="former", is_restricted=True)
    publisher = publisher_of(bot.app)
    assert publisher is not None
    request_home_refresh(publisher, TEAM_ID, [None])  # a change every viewer of the team's dashboard sees
    publisher.flush()
    assert fake_slack.published_home["U0008"]["blocks"] == GUEST_HOME["blocks"]

    # A full member still gets the dashboard.
    ok(slack.event({"type": "app_home_opened", "user": "U0001", "channel": "D0001", "tab": "home"}))
    assert "Acme Corp" in json.dumps(fake_slack.published_home["U0001"])


@pytest.mark.parametrize(
    "fault",
    [{"status": 429, "retry_after": 30}, {"status": 500, "times": 3}, {"error": "fatal_error"}, {"delay": 5}],
    ids=["rate-limited", "slack-down", "error", "hung"],
)
def test_when_slack_cannot_say_who_asks_a_member_is_served_in_time_and_a_known_guest_stays_refused(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, fault: dict[str, Any]
) -> None:
    seeded(slack, store)
    GUEST_CHECKS.forget()  # Dana not checked lately: users.info is asked
    fake_slack.fail_next("users.info", **fault)
    started = time.monotonic()
    reply = ok(slack.command("checkin acme green they loved the demo"))
    assert time.monotonic() - started < 2.5  # Slack's 3 s, with room for the listener
    assert "they loved the demo" in json.dumps(reply)  # a Slack hiccup does not cost the team its check-in
    assert len(store.checkins(team_id=TEAM_ID)) == 2
    assert users_info_of(fake_slack, "U0001") >= 1

    add_guest(fake_slack, "is_restricted")
    assert ok(slack.command("list", user_id=GUEST, user_name="contractor"))["text"] == GUESTS_ONLY_NOTE
    GUEST_CHECKS.remember(TEAM_ID, GUEST, guest=True, ttl=0)  # Slack's word on them is old now…
    fake_slack.fail_next("users.info", **fault)  # …and Slack cannot give a newer one: the old word stands
    assert ok(slack.command("list", user_id=GUEST, user_name="contractor"))["text"] == GUESTS_ONLY_NOTE
    assert len(store.checkins(team_id=TEAM_ID)) == 2


def test_a_home_is_published_on_slacks_last_word_when_it_cannot_say(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    seeded(slack, store)
    GUEST_CHECKS.forget()
    fake_slack.fail_next("users.info", error="fatal_error")
    ok(slack.event({"type": "app_home_opened", "user": "U0001", "channel": "D0001", "tab": "home"}))
    assert "Acme Corp" in json.dumps(fake_slack.published_home["U0001"])  # a member Slack never called a guest
    add_guest(fake_slack, "is_ultra_restricted")
    ok(slack.event({"type": "app_home_opened", "user": GUEST, "channel": "D0009", "tab": "home"}))
    assert fake_slack.published_home[GUEST]["blocks"] == GUEST_HOME["blocks"]
    GUEST_CHECKS.remember(TEAM_ID, GUEST, guest=True, ttl=0)
    fake_slack.fail_next("users.info", error="fatal_error")
    ok(slack.event({"type": "app_home_opened", "user": GUEST, "channel": "D0009", "tab": "home"}))
    assert fake_slack.published_home[GUEST]["blocks"] == GUEST_HOME["blocks"]


def test_a_members_status_is_asked_once_then_kept_briefly(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    seeded(slack, store)
    fake_slack.add_user("U0003", name="lee")
    for text in ("list", "show acme", "status acme"):
        ok(slack.command(text, user_id="U0003", user_name="lee"))
    assert users_info_of(fake_slack, "U0003") == 1
    GUEST_CHECKS.forget()  # the kept answer ran out: Slack is asked again (a member may have been made a guest)
    fake_slack.users["U0003"]["is_restricted"] = True
    assert ok(slack.command("list", user_id="U0003", user_name="lee"))["text"] == GUESTS_ONLY_NOTE
    assert users_info_of(fake_slack, "U0003") == 2


@pytest.mark.parametrize("kind", GUESTS)
def test_a_guest_from_the_customer_answers_the_customers_own_view_and_only_it(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, kind: str
) -> None:
    customer = shared_customer(slack, fake_slack, store)
    add_guest(fake_slack, kind)
    ok(slack.command("ask acme"))
    ok(slack.block_action(OPEN_CUSTOMER_VIEW, value=str(customer.id), user_id=GUEST, channel_id="C0SHARED"))
    view = opened(fake_slack)
    assert view["callback_id"] and json.loads(view["private_metadata"])["survey"] == "customer_view"
    answers = {"level": "supplier", "start_doing": "call us back", "keep_doing": "the weekly demo"}
    ok(submit(slack, view, answers, view_id="VGUEST", user_id=GUEST, user_name="contractor"))
    (answer,) = store.survey_responses(team_id=TEAM_ID, survey="customer_view")
    assert answer.respondent_id == GUEST and answer.external  # counted as the customer's own view
    # Their answer opened nothing else: the card stays for the team.
    assert ok(slack.command("show acme", user_id=GUEST, user_name="contractor"))["text"] == GUESTS_ONLY_NOTE


@pytest.mark.parametrize("kind", GUESTS)
def test_a_guest_cannot_be_made_a_customers_owner(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, kind: str
) -> None:
    """An owner gets the customer's nudges, red check-ins and health drops by DM: internal, so a full member."""
    seeded(slack, store)
    add_guest(fake_slack, kind)
    refused = ok(slack.command(f"add Globex <#C0ACME|acme> <@{GUEST}|contractor>"))["text"]
    assert f"<@{GUEST}> is a guest of the workspace" in refused and "Usage: `/partner add" in refused
    assert store.customer_by_name(team_id=TEAM_ID, name="globex") is None
    refused = ok(slack.command(f"edit acme <@{GUEST}|contractor>"))["text"]
    assert f"<@{GUEST}> is a guest of the workspace" in refused
    form = {"name": {CUSTOMER_FIELD: {"type": "plain_text_input", "value": "Initech"}}}
    form["owner"] = {CUSTOMER_FIELD: {"type": "users_select", "selected_user": GUEST}}
    errors = ok(slack.view_submission(ADD_CUSTOMER_MODAL, form, private_metadata="{}"))["errors"]
    assert "is a guest of the workspace" in errors["owner"]
    assert [(c.name, c.owner_id) for c in store.customers(team_id=TEAM_ID)] == [("Acme Corp", "U0001")]


def test_someone_of_the_customers_organisation_typing_partner_list_sees_no_customer(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    """A slash command typed in a Slack Connect channel by the customer's person carries their own team_id: refused
    as theirs (handlers/identity.py), without a guest check of ours on top."""
    shared_customer(slack, fake_slack, store)
    fake_slack.add_user("U0EXT1", name="cleo", team_id=EXTERNAL_TEAM, stranger=True)
    theirs = SlackRequests(slack.base_url, signing_secret=slack.signing_secret, team_id=EXTERNAL_TEAM, fake=fake_slack)
    for text in ("list", "list all", "digest team", "show acme"):
        body = ok(theirs.command(text, user_id="U0EXT1", user_name="cleo", channel_id="C0SHARED"))
        assert body["text"].endswith("account team can use `/partner`. Nothing was changed.") and "blocks" not in body
    assert users_info_of(fake_slack, "U0EXT1") == 0


def test_slacks_user_change_is_believed_at_once_over_the_kept_answer(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    """A member made a guest (or a guest made a member) is seen at Slack's user_change, not two minutes later."""
    seeded(slack, store)
    fake_slack.add_user("U0003", name="lee")
    assert "Acme Corp" in json.dumps(ok(slack.command("list", user_id="U0003", user_name="lee")))
    fake_slack.users["U0003"]["is_restricted"] = True
    lee = {"id": "U0003", "team_id": TEAM_ID, "name": "lee", "deleted": False, "is_restricted": True}
    ok(slack.event({"type": "user_change", "user": lee}))
    assert ok(slack.command("list", user_id="U0003", user_name="lee"))["text"] == GUESTS_ONLY_NOTE
    fake_slack.users["U0003"]["is_restricted"] = False
    ok(slack.event({"type": "user_change", "user": {**lee, "is_restricted": False}}))
    assert "Acme Corp" in json.dumps(ok(slack.command("list", user_id="U0003", user_name="lee")))
    assert users_info_of(fake_slack, "U0003") == 1  # asked once, then told by Slack's events
