"""Hardening, end to end over signed HTTP: forged and replayed requests, Slack's retries, faults of Slack's Web API,
and what ends up in the logs."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import logging
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from slack_sdk.http_retry import RetryIntervalCalculator
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler
from sqlalchemy.engine import make_url

import storage.db
from bot import logs
from bot.answering import answering
from bot.app import ANSWER_CALL_TIMEOUT, AckAwareRateLimitRetryHandler, create_app, make_client
from bot.errors import DATABASE_BUSY
from bot.settings import Settings
from handlers.blocks.checkin import checkin_modal
from handlers.blocks.health import score_text
from handlers.ids import (
    BOUNDARY_RENEGOTIATE_MODAL,
    CHECKIN_CALL,
    CHECKIN_CUSTOMER,
    CHECKIN_MODAL,
    CHECKIN_MOOD,
    CHECKIN_NOTE,
    LOG_MESSAGE_CHECKIN,
    NUDGE_SNOOZE_MODAL,
    OPEN_CHECKIN,
    SURVEY_MODAL,
)
from schedules.cadence import send_nudges
from storage.db import ANSWER_LOCK_WAIT_MS, LOCK_WAIT_MS
from storage.store import Store
from tests.e2e.test_ops import get, value
from tests.fake_slack import FakeSlack
from tests.slack_requests import Response, SlackRequests, sign
from tests.utils import BOT_TOKEN, SIGNING_SECRET, TEAM_ID, BotServer, FakeClock

# Signatures, Slack faults and logging do not depend on the database: those run on SQLite only, retries on both.
SQLITE_ONLY = pytest.mark.parametrize("scratch_database", ["sqlite"], indirect=True)


def modal_values(customer_id: int, mood: str, note: str) -> dict[str, Any]:
    return {
        "customer": {
            CHECKIN_CUSTOMER: {
                "type": "external_select",
                "selected_option": {"text": {"type": "plain_text", "text": "x"}, "value": str(customer_id)},
            }
        },
        "mood": {
            CHECKIN_MOOD: {
                "type": "radio_buttons",
                "selected_option": {"text": {"type": "plain_text", "text": mood}, "value": mood},
            }
        },
        "call": {CHECKIN_CALL: {"type": "checkboxes", "selected_options": []}},
        "note": {CHECKIN_NOTE: {"type": "plain_text_input", "value": note}},
    }


def add_acme(slack: SlackRequests, store: Store) -> int:
    reply = slack.command("add Acme <#C0ACME|acme>")
    assert reply.status == 200 and "Added *Acme*" in reply.json()["text"], reply.text
    if slack.fake is not None:
        slack.fake.wait_for("conversations.join")  # Partner joins the channel after answering
        # …and looks up who reads it (its members: any guest?), its last Slack call before the answer is recorded.
        deadline = time.monotonic() + 20
        while store.customers(team_id=TEAM_ID)[0].channel_shared_checked_at is None and time.monotonic() < deadline:
            time.sleep(0.02)
    (customer,) = store.customers(team_id=TEAM_ID)
    assert customer.id is not None
    return customer.id


def posted(fake: FakeSlack) -> list[tuple[str, str, str]]:
    """Every message Slack accepted from the bot: (channel, user for ephemerals, text)."""
    return [
        (str(c.params.get("channel")), str(c.params.get("user", "")), str(c.params.get("text")))
        for c in fake.calls
        if c.method in ("chat.postMessage", "chat.postEphemeral") and c.ok
    ]


def assert_no_duplicates(fake: FakeSlack) -> None:
    messages = posted(fake)
    assert len(messages) == len(set(messages)), messages


def drain_lazy_listeners(bot: BotServer) -> None:
    """Wait for every lazy listener (confirmations after a modal closed) to finish, so counts are final."""
    bot.app.listener_runner.listener_executor.shutdown(wait=True)


class _Recorder(SlackRequests):
    """Builds a request exactly as Slack would and keeps it instead of sending it."""

    def post(self, body: bytes, *, content_type: str, **kwargs: Any) -> Response:
        self.recorded = (body, content_type)
        return Response(0, {}, b"")


def raw_post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url + "/slack/events", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        with error:
            return int(error.code)


# ---------------------------------------------------------------------------------------------- signatures

# A correctly formed request of each surface that, were it accepted, would store or post something.
SURFACES: dict[str, Callable[[_Recorder, int], Any]] = {
    "command": lambda r, cid: r.command("checkin acme red forged note"),
    "view_submission": lambda r, cid: r.view_submission(
        CHECKIN_MODAL, modal_values(cid, "red", "forged note"), view_id="VFORGED"
    ),
    "block_actions": lambda r, cid: r.block_action(OPEN_CHECKIN, value=str(cid), view={"id": "VH", "type": "home"}),
    "event": lambda r, cid: r.event({"type": "app_home_opened", "user": "U0001", "channel": "D0001", "tab": "home"}),
}


def _headers(content_type: str, timestamp: str | None, signature: str | None) -> dict[str, str]:
    headers = {"Content-Type": content_type, "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)"}
    if timestamp is not None:
        headers["X-Slack-Request-Timestamp"] = timestamp
    if signature is not None:
        headers["X-Slack-Signature"] = signature
    return headers


# Each case: (timestamp header, signature) built from the body and "now" as Slack's clock says.
FORGERIES: dict[str, Callable[[bytes, int], tuple[str | None, str | None, bytes]]] = {
    "no signature": lambda b, now: (str(now), None, b),
    "no timestamp": lambda b, now: (None, sign(SIGNING_SECRET, b, now), b),
    "no headers at all": lambda b, now: (None, None, b),
    "empty signature": lambda b, now: (str(now), "", b),
    "another secret": lambda b, now: (str(now), sign("not-the-signing-secret", b, now), b),
    "v1 scheme": lambda b, now: (str(now), sign(SIGNING_SECRET, b, now).replace("v0=", "v1="), b),
    "stale, 6 minutes old": lambda b, now: (str(now - 360), sign(SIGNING_SECRET, b, now - 360), b),
    "future, 6 minutes ahead": lambda b, now: (str(now + 360), sign(SIGNING_SECRET, b, now + 360), b),
    "replayed with a new timestamp": lambda b, now: (str(now), sign(SIGNING_SECRET, b, now - 120), b),
    "tampered body": lambda b, now: (str(now), sign(SIGNING_SECRET, b, now), b.replace(b"U0001", b"U0002")),
}


@SQLITE_ONLY
@pytest.mark.parametrize("surface", list(SURFACES))
def test_forged_stale_and_replayed_requests_get_401_and_change_nothing(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, bot: BotServer, surface: str
) -> None:
    customer_id = add_acme(slack, store)
    recorder = _Recorder(bot.url, signing_secret=SIGNING_SECRET, team_id=TEAM_ID, fake=fake_slack)
    SURFACES[surface](recorder, customer_id)
    body, content_type = recorder.recorded
    calls_before = len(fake_slack.calls)
    now = int(slack.clock())

    statuses = {}
    for name, forge in FORGERIES.items():
        timestamp, signature, sent = forge(body, now)
        statuses[name] = raw_post(bot.url, sent, _headers(content_type, timestamp, signature))
    assert statuses == dict.fromkeys(FORGERIES, 401)
    assert store.checkins(team_id=TEAM_ID) == []
    assert fake_slack.calls[calls_before:] == []  # no modal, no Home tab, no message

    # The very same body, honestly signed, is accepted: the 401s above were about the signature alone.
    genuine = raw_post(bot.url, body, _headers(content_type, str(now), sign(SIGNING_SECRET, body, now)))
    assert genuine == 200
    assert len(fake_slack.calls) > calls_before or store.checkins(team_id=TEAM_ID)


@SQLITE_ONLY
@pytest.mark.parametrize("timestamp", ["yesterday", "", "+1700000000", "1700000000.5", "0x6553f100"])
def test_a_timestamp_that_is_not_a_number_gets_401(
    slack: SlackRequests, fake_slack: FakeSlack, bot: BotServer, timestamp: str
) -> None:
    recorder = _Recorder(bot.url, signing_secret=SIGNING_SECRET, team_id=TEAM_ID, fake=fake_slack)
    recorder.command("help")
    body, content_type = recorder.recorded
    signature = sign(SIGNING_SECRET, body, int(slack.clock()))
    headers = _headers(content_type, None, signature)
    headers["X-Slack-Request-Timestamp"] = timestamp
    assert raw_post(bot.url, body, headers) == 401


# Bodies Bolt cannot read (it parses before it checks the signature): each raised out of Bolt as a 500 and a logged
# traceback, signed or not.
UNREADABLE: dict[str, tuple[bytes, str]] = {
    "not UTF-8": (b"\xff\xfe\x00payload", "application/x-www-form-urlencoded"),
    "JSON that is not an object": (b"[]", "application/json"),
    "JSON null": (b"null", "application/json"),
    "broken JSON": (b"{", "application/json"),
    "a payload that is not JSON": (b"payload=%7B", "application/x-www-form-urlencoded"),
    "a payload that is a list": (b"payload=%5B%5D", "application/x-www-form-urlencoded"),
    "block_actions with actions null": (
        b"payload=" + quote(json.dumps({"type": "block_actions", "team": {"id": TEAM_ID}, "actions": None})).encode(),
        "application/x-www-form-urlencoded",
    ),
    "view_submission with view null": (
        b"payload=" + quote(json.dumps({"type": "view_submission", "team": {"id": TEAM_ID}, "view": None})).encode(),
        "application/x-www-form-urlencoded",
    ),
    "view_submission with view a string": (
        b"payload=" + quote(json.dumps({"type": "view_submission", "team": {"id": TEAM_ID}, "view": "V1"})).encode(),
        "application/x-www-form-urlencoded",
    ),
    "an event that is null": (
        json.dumps({"type": "event_callback", "team_id": TEAM_ID, "event": None}).encode(),
        "application/json",
    ),
}


@SQLITE_ONLY
@pytest.mark.parametrize("body", list(UNREADABLE))
def test_a_body_bolt_cannot_read_gets_401_unsigned_and_400_signed_never_a_500_or_a_traceback(
    slack: SlackRequests, bot: BotServer, caplog: pytest.LogCaptureFixture, body: str
) -> None:
    sent, content_type = UNREADABLE[body]
    now = int(slack.clock())
    with caplog.at_level(logging.INFO):
        unsigned = raw_post(bot.url, sent, _headers(content_type, str(now), "v0=" + "0" * 64))
        signed = raw_post(bot.url, sent, _headers(content_type, str(now), sign(SIGNING_SECRET, sent, now)))
    assert (unsigned, signed) == (401, 400)
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR], caplog.text
    assert "a signed request Partner cannot read was refused" in caplog.text


@SQLITE_ONLY
def test_the_server_checks_signatures_with_the_secret_of_the_settings_not_bolts_private_copy(
    settings: Settings, store: Store, clock: FakeClock
) -> None:
    # bot/server.py read Bolt's private App._signing_secret, which a Bolt upgrade may rename or drop.
    rotated = dataclasses.replace(settings, slack_signing_secret="rotated-signing-secret")
    server = BotServer(
        create_app(settings=rotated, store=store, clock=clock), store, signing_secret=rotated.slack_signing_secret
    ).start()
    try:
        sent, content_type = UNREADABLE["view_submission with view a string"]
        now = int(time.time())
        signed = raw_post(server.url, sent, _headers(content_type, str(now), sign("rotated-signing-secret", sent, now)))
        old = raw_post(server.url, sent, _headers(content_type, str(now), sign(SIGNING_SECRET, sent, now)))
        assert (signed, old) == (400, 401)
    finally:
        server.stop()
    for module in Path(__file__).parents[2].glob("[bhds]*/**/*.py"):
        assert "._signing_secret" not in module.read_text(encoding="utf-8"), module


# Events a workspace may deliver to the app although no listener of Partner's handles them.
UNUSED_EVENTS: dict[str, dict[str, Any]] = {
    "message.channels": {"type": "message", "channel": "C0ACME", "user": "U0001", "text": "hi", "ts": "1.000001"},
    "reaction_added": {
        "type": "reaction_added",
        "user": "U0001",
        "reaction": "tada",
        "item": {"type": "message", "channel": "C0ACME", "ts": "1.000001"},
    },
    "app_mention": {"type": "app_mention", "channel": "C0ACME", "user": "U0001", "text": "<@UBOT> hi", "ts": "1.2"},
}


@SQLITE_ONLY
@pytest.mark.parametrize("event", list(UNUSED_EVENTS))
def test_an_event_partner_does_not_use_is_acked_200_quietly_and_unsigned_still_401(
    slack: SlackRequests, bot: BotServer, caplog: pytest.LogCaptureFixture, event: str
) -> None:
    # Slack turns an app's event delivery off after too many answers that are not 2xx: Bolt's 404 counted.
    with caplog.at_level(logging.INFO):
        answer = slack.event(UNUSED_EVENTS[event])
    assert (answer.status, answer.body) == (200, b""), answer.text
    loaded = ("waitress.queue", "partner.slow_answers")  # what only a loaded machine logs
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and r.name not in loaded], caplog.text
    body = json.dumps({"type": "event_callback", "team_id": TEAM_ID, "event": UNUSED_EVENTS[event]}).encode()
    now = int(slack.clock())
    assert raw_post(bot.url, body, _headers("application/json", str(now), "v0=" + "0" * 64)) == 401


def test_a_button_form_shortcut_or_menu_of_an_older_version_is_answered_200_and_the_person_told(
    slack: SlackRequests, fake_slack: FakeSlack, bot: BotServer
) -> None:
    # A message posted by an older Partner keeps its buttons after an upgrade: Bolt's 404 shows Slack's bare warning.
    told = len(fake_slack.calls_to("response_url"))
    clicked = slack.block_action("nudge_done_v1", value="12", channel_id="C0001")
    assert (clicked.status, clicked.body) == (200, b""), clicked.text
    (note,) = [c.params["text"] for c in fake_slack.calls_to("response_url")[told:]]
    assert note.startswith("That button is from an older version of Partner") and "/partner help" in note
    from_home = slack.block_action("old_home_button", value="12", view={"id": "VHOME", "type": "home"})
    assert from_home.status == 200
    bot.settle()
    assert any("older version" in str(c.params.get("text")) for c in fake_slack.calls_to("chat.postMessage"))
    # An old form keeps what was typed: the note is shown on its first input, the form stays open.
    form = slack.view_submission(
        "old_checkin_modal_v1",
        {"note": {"old_note": {"type": "plain_text_input", "value": "call went well"}}},
        view_fields={"blocks": [{"type": "input", "block_id": "note", "element": {"type": "plain_text_input"}}]},
    )
    answer = form.json()
    assert answer["response_action"] == "errors" and "older version of Partner" in answer["errors"]["note"]
    assert slack.view_closed("old_checkin_modal_v1").status == 200
    assert slack.shortcut("old_shortcut_v1").status == 200
    assert slack.block_suggestion("old_select_v1", "ac").json() == {"options": []}


# ---------------------------------------------------------------------------------------------- Slack retries


@pytest.mark.parametrize("retries", [1, 3])
def test_retried_commands_store_one_row(
    slack: SlackRequests, store: Store, fake_slack: FakeSlack, retries: int
) -> None:
    add_acme(slack, store)
    replies = [slack.command("checkin acme green kickoff", trigger_id="5.5.retry")]
    replies += [
        slack.command("checkin acme green kickoff", trigger_id="5.5.retry", retry_num=n) for n in range(1, retries + 1)
    ]
    assert {r.status for r in replies} == {200}
    assert len({r.json()["text"] for r in replies}) == 1  # every delivery gets the same confirmation
    assert len(store.checkins(team_id=TEAM_ID)) == 1

    add_replies = [slack.command("add Globex", trigger_id="6.6.retry")]
    add_replies += [slack.command("add Globex", trigger_id="6.6.retry", retry_num=n) for n in range(1, retries + 1)]
    assert {r.status for r in add_replies} == {200}
    assert [c.name for c in store.customers(team_id=TEAM_ID)] == ["Acme", "Globex"]
    assert_no_duplicates(fake_slack)


def test_retried_submissions_store_one_row_and_confirm_once(
    slack: SlackRequests, store: Store, fake_slack: FakeSlack, bot: BotServer
) -> None:
    customer_id = add_acme(slack, store)
    metadata = json.dumps({"channel_id": "C0001"})
    values = modal_values(customer_id, "yellow", "pricing questions")
    replies = [slack.view_submission(CHECKIN_MODAL, values, private_metadata=metadata, view_id="VRETRY")]
    replies += [
        slack.view_submission(CHECKIN_MODAL, values, private_metadata=metadata, view_id="VRETRY", retry_num=n)
        for n in (1, 2, 3)
    ]
    assert {r.status for r in replies} == {200}
    assert len(store.checkins(team_id=TEAM_ID)) == 1
    drain_lazy_listeners(bot)
    confirmations = [m for m in posted(fake_slack) if "U0001" in m[:2]]
    assert len(confirmations) == 1, confirmations
    assert_no_duplicates(fake_slack)


def test_retried_actions_and_events_post_nothing_twice(
    slack: SlackRequests, store: Store, fake_slack: FakeSlack, bot: BotServer
) -> None:
    customer_id = add_acme(slack, store)
    for n in (None, 1, 2, 3):
        assert slack.block_action(OPEN_CHECKIN, value=str(customer_id), trigger_id="8.8.x", retry_num=n).status == 200
    event = {"type": "app_home_opened", "user": "U0001", "channel": "D0001", "tab": "home"}
    for n in (None, 1, 2, 3):
        assert slack.event(event, event_id="Ev0RETRY", retry_num=n).status == 200
    drain_lazy_listeners(bot)
    assert_no_duplicates(fake_slack)
    assert store.checkins(team_id=TEAM_ID) == []
    assert "Acme" in json.dumps(fake_slack.published_home["U0001"])  # the Home tab is simply re-published


# ---------------------------------------------------------------------------------------------- faults of Slack


@pytest.fixture
def impatient_bot(settings: Settings, store: Store, clock: FakeClock) -> Iterator[BotServer]:
    """The real app with a 1 s Web API timeout, so a hung Slack is found out quickly."""
    app = create_app(settings=settings, store=store, clock=clock, client=make_client(settings, timeout=1))
    server = BotServer(app, store).start()
    yield server
    server.stop()


@pytest.fixture
def impatient(impatient_bot: BotServer, fake_slack: FakeSlack) -> SlackRequests:
    return SlackRequests(impatient_bot.url, signing_secret=SIGNING_SECRET, team_id=TEAM_ID, fake=fake_slack)


TIMEOUT = {"delay": 1.5, "times": 2}  # longer than the client's timeout, on the first try and the retry
FAULTS: dict[str, dict[str, Any]] = {
    "429": {"status": 429, "retry_after": 0, "times": 3},
    "500": {"status": 500, "times": 3},
    "timeout": TIMEOUT,
    "invalid_auth": {"error": "invalid_auth"},
    "account_inactive": {"error": "account_inactive"},
    "channel_not_found": {"error": "channel_not_found"},
}


@SQLITE_ONLY
@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("method", ["users.info", "conversations.join"])
def test_add_survives_slack_faults_and_keeps_the_customer(
    impatient: SlackRequests, fake_slack: FakeSlack, store: Store, method: str, fault: str
) -> None:
    fake_slack.fail_next(method, **FAULTS[fault])
    reply = impatient.command("add Acme <#C0ACME|acme>")
    assert reply.status == 200
    text = reply.json()["text"]
    assert "Added *Acme*" in text
    (customer,) = store.customers(team_id=TEAM_ID)
    assert customer.channel_id == "C0ACME"
    if method == "users.info":
        assert customer.tz == "UTC"  # the default, since Slack could not say
    else:  # the bot could not join (after answering): the user is told how to fix it
        assert "/invite @Partner" in fake_slack.wait_for("response_url", timeout=10)[0].params["text"]
    assert "Logged" in impatient.command("checkin acme green still here").json()["text"]  # and it keeps working


@SQLITE_ONLY
@pytest.mark.parametrize("fault", list(FAULTS))
def test_modal_open_failure_is_explained_and_keeps_what_was_typed(
    impatient: SlackRequests, fake_slack: FakeSlack, store: Store, fault: str
) -> None:
    fake_slack.fail_next("views.open", **FAULTS[fault])
    reply = impatient.command("checkin")
    assert reply.status == 200
    text = reply.json()["text"]
    assert "Sorry" in text or "try again" in text.lower() or "tell whoever runs Partner" in text, text
    assert "/partner checkin" in text  # what the user typed is given back
    assert store.checkins(team_id=TEAM_ID) == []


# What the user is told when Slack could not answer the look-up, instead of the refusal an answer would have meant.
COULD_NOT_SAY = {
    "429": "Slack is busy",
    "500": "Slack had a problem",
    "invalid_auth": "Slack refused Partner's access",
    "account_inactive": "Slack refused Partner's access",
}


@SQLITE_ONLY
@pytest.mark.parametrize("fault", list(COULD_NOT_SAY))
@pytest.mark.parametrize("text", ["archive acme", "edit acme tz=Europe/Paris", "digest channel <#C0001|general>"])
def test_an_admin_whose_role_slack_could_not_look_up_is_not_told_only_admins_can(
    impatient: SlackRequests, fake_slack: FakeSlack, store: Store, text: str, fault: str
) -> None:
    assert "Added *Acme*" in impatient.command("add Acme <@U0001|dana>").json()["text"]
    fake_slack.fail_next("users.info", **FAULTS[fault])
    reply = impatient.command(text, user_id="U0002", user_name="sam")  # Sam is a workspace admin
    assert COULD_NOT_SAY[fault] in reply.json()["text"] and "only" not in reply.json()["text"], reply.text
    (customer,) = store.customers(team_id=TEAM_ID)
    assert (customer.archived_at, customer.tz) == (None, "America/New_York")  # nothing changed
    assert store.workspaces_with_digest() == []
    assert "Updated *Acme*" in impatient.command("edit acme tz=Europe/Paris", user_id="U0002").json()["text"]


@SQLITE_ONLY
@pytest.mark.parametrize("fault", list(COULD_NOT_SAY))
def test_ask_whose_channel_slack_could_not_look_up_does_not_say_invite_me(
    impatient: SlackRequests, fake_slack: FakeSlack, store: Store, fault: str
) -> None:
    fake_slack.add_channel("C0SHARED", name="acme-shared", is_ext_shared=True, members=["U0001"])
    assert "Added *Acme*" in impatient.command("add Acme <#C0SHARED|acme-shared> <@U0001|dana>").json()["text"]
    fake_slack.wait_for("conversations.join")
    fake_slack.fail_next("conversations.info", **FAULTS[fault])
    reply = impatient.command("ask acme").json()["text"]
    assert COULD_NOT_SAY[fault] in reply and "Invite me" not in reply, reply
    assert fake_slack.messages.get("C0SHARED", []) == []
    assert "Asked *Acme*'s people" in impatient.command("ask acme").json()["text"]  # once Slack answers again


@SQLITE_ONLY
@pytest.mark.parametrize("fault", ["timeout", "500", "channel_not_found"])
def test_log_as_check_in_opens_its_form_without_the_permalink_slack_could_not_give(
    impatient: SlackRequests, impatient_bot: BotServer, fake_slack: FakeSlack, fault: str
) -> None:
    message = {"type": "message", "user": "U0002", "ts": "1764100000.000500", "text": "They signed the renewal"}
    fake_slack.fail_next("chat.getPermalink", **FAULTS[fault])
    trigger = f"7.7.permalink-{fault}"
    assert impatient.message_action(LOG_MESSAGE_CHECKIN, message, channel_id="C0ACME", trigger_id=trigger).status == 200
    drain_lazy_listeners(impatient_bot)
    # This form's: a slow call of an earlier test may still land in the session-wide fake's record.
    (opened,) = [c for c in fake_slack.calls_to("views.open") if c.params.get("trigger_id") == trigger]
    note = next(b for b in opened.params["view"]["blocks"] if b.get("block_id") == "note")["element"]
    assert note["initial_value"] == "They signed the renewal"  # the text, without a link back


class RecordedWaits(RetryIntervalCalculator):
    """The client's own backoff, with each pause it chose noted (which thread, how long)."""

    def __init__(self, backoff: RetryIntervalCalculator) -> None:
        self.backoff = backoff
        self.waits: list[float] = []

    def calculate_sleep_duration(self, current_attempt: int) -> float:
        wait = self.backoff.calculate_sleep_duration(current_attempt)
        self.waits.append(wait)
        return wait


@SQLITE_ONLY
@pytest.mark.parametrize("method", ["chat.getPermalink", "views.open"])
def test_slack_failing_before_the_answer_is_tried_again_without_a_pause(
    impatient: SlackRequests, impatient_bot: BotServer, fake_slack: FakeSlack, method: str
) -> None:
    # The client's backoff between 5xx tries (0.5 s then 1 s, each plus up to 1 s of jitter) ran in the thread
    # answering the shortcut: 1.5 to 3.5 s slept while Slack waits 3 s for the answer (CI: no answer in 10 s under
    # load). The pauses chosen are read, not timed: every one before the answer is none at all.
    (server_errors,) = [h for h in impatient_bot.app.client.retry_handlers if isinstance(h, ServerErrorRetryHandler)]
    recorded = RecordedWaits(server_errors.interval_calculator)
    server_errors.interval_calculator = recorded
    fake_slack.fail_next(method, status=500, times=2)  # the retries' last try gets through
    message = {"type": "message", "user": "U0002", "ts": "1764100000.000600", "text": "They signed the renewal"}
    trigger = f"7.7.no-pause-{method}"
    assert impatient.message_action(LOG_MESSAGE_CHECKIN, message, channel_id="C0ACME", trigger_id=trigger).status == 200
    assert [c.status for c in fake_slack.calls_to(method)][-3:] == [500, 500, 200]
    assert recorded.waits == [0.0, 0.0]
    assert [c for c in fake_slack.calls_to("views.open") if c.params.get("trigger_id") == trigger and c.ok]


@SQLITE_ONLY
def test_a_follow_up_still_backs_off_between_tries_of_slack_failing(
    impatient: SlackRequests, impatient_bot: BotServer, fake_slack: FakeSlack, store: Store
) -> None:
    (server_errors,) = [h for h in impatient_bot.app.client.retry_handlers if isinstance(h, ServerErrorRetryHandler)]
    recorded = RecordedWaits(server_errors.interval_calculator)
    server_errors.interval_calculator = recorded
    customer_id = add_acme(impatient, store)
    fake_slack.fail_next("chat.postEphemeral", status=500, times=1)  # the confirmation, after the answer
    reply = impatient.view_submission(
        CHECKIN_MODAL,
        modal_values(customer_id, "green", "renewal signed"),
        private_metadata=json.dumps({"channel_id": "C0001"}),
        view_id="VBACKOFF",
    )
    assert reply.status == 200
    drain_lazy_listeners(impatient_bot)
    assert len(recorded.waits) == 1 and recorded.waits[0] >= 0.5  # slack-sdk's backoff, off the answer's path


@SQLITE_ONLY
def test_a_retry_after_before_the_answer_is_waited_once_and_exactly(
    slack: SlackRequests, bot: BotServer, fake_slack: FakeSlack, store: Store
) -> None:
    # slack-sdk sleeps Retry-After plus up to 1 s of jitter, and tries twice: two 429s with Retry-After 1 slept up
    # to 4 s before the answer. Before it, one wait of what Slack asked, then the answer goes on without the call.
    (rate_limits,) = [h for h in bot.app.client.retry_handlers if isinstance(h, AckAwareRateLimitRetryHandler)]
    slept: list[float] = []
    rate_limits.sleep = slept.append  # type: ignore[method-assign]
    fake_slack.add_user("U0OWNER", name="olivia", tz="Europe/Paris")
    fake_slack.fail_next("users.info", status=429, retry_after=1, times=2)
    reply = slack.command("add Acme <@U0OWNER|olivia>")
    assert reply.status == 200 and "Added *Acme*" in reply.json()["text"]
    assert slept == [1.0]
    assert [c.status for c in fake_slack.calls_to("users.info")] == [429, 429]


@SQLITE_ONLY
@pytest.mark.parametrize("fault", ["429", "500", "invalid_auth", "account_inactive", "channel_not_found"])
def test_submission_is_kept_when_the_confirmation_cannot_be_posted(
    impatient: SlackRequests, impatient_bot: BotServer, fake_slack: FakeSlack, store: Store, fault: str
) -> None:
    customer_id = add_acme(impatient, store)
    fake_slack.fail_next("chat.postEphemeral", **FAULTS[fault])
    reply = impatient.view_submission(
        CHECKIN_MODAL,
        modal_values(customer_id, "green", "renewal signed"),
        private_metadata=json.dumps({"channel_id": "C0001"}),
        view_id="VFAULT",
    )
    assert reply.status == 200 and reply.body in (b"", b"{}")
    (entry,) = store.checkins(team_id=TEAM_ID)
    assert entry.note == "renewal signed"
    drain_lazy_listeners(impatient_bot)
    # The author is told once: ephemerally where they started, or by DM when the channel refuses it.
    told = [m for m in posted(fake_slack) if "U0001" in m[:2]]
    assert len(told) == 1 and "Acme" in told[0][2], told
    assert_no_duplicates(fake_slack)


@SQLITE_ONLY
@pytest.mark.parametrize("fault", ["500", "invalid_auth", "account_inactive"])
def test_home_button_failure_tells_the_user_once(
    impatient: SlackRequests, impatient_bot: BotServer, fake_slack: FakeSlack, store: Store, fault: str
) -> None:
    customer_id = add_acme(impatient, store)
    fake_slack.fail_next("views.open", **FAULTS[fault])
    reply = impatient.block_action(OPEN_CHECKIN, value=str(customer_id), view={"id": "VHOME", "type": "home"})
    assert reply.status == 200
    drain_lazy_listeners(impatient_bot)
    told = [m for m in posted(fake_slack) if "U0001" in m[:2]]
    assert len(told) == 1, told


@SQLITE_ONLY
@pytest.mark.parametrize("fault", [*FAULTS, "not_enabled"])
def test_a_home_tab_slack_will_not_take_now_is_answered_200_and_published_at_the_next_opening(
    impatient: SlackRequests, fake_slack: FakeSlack, store: Store, fault: str, caplog: pytest.LogCaptureFixture
) -> None:
    add_acme(impatient, store)
    fake_slack.fail_next("views.publish", **FAULTS.get(fault, {"error": fault}))
    opened = {"type": "app_home_opened", "user": "U0001", "channel": "D0001", "tab": "home"}
    with caplog.at_level(logging.WARNING):
        assert impatient.event(opened).status == 200  # a 500 would only make Slack redeliver it, and count it failed
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []  # a warning, no traceback
    assert "could not publish the Home of U0001" in caplog.text
    assert impatient.event(opened).status == 200
    assert "Acme" in json.dumps(fake_slack.published_home["U0001"])


# A modal's private_metadata comes back from Slack as we wrote it; one that names an id past an INTEGER column (or
# not a number at all) is a stale or forged form: PostgreSQL refuses such an id in the query itself.
@pytest.mark.parametrize(
    ("callback_id", "metadata", "told"),
    [
        (NUDGE_SNOOZE_MODAL, {"customer_id": 2**40, "nudge_id": None}, "That customer no longer exists."),
        (NUDGE_SNOOZE_MODAL, {"customer_id": "abc", "nudge_id": None}, "That customer no longer exists."),
        (SURVEY_MODAL, {"survey": "level", "customer_id": 2**40}, "This form is out of date"),
        (BOUNDARY_RENEGOTIATE_MODAL, {"boundary_id": 2**40}, "This form is out of date"),
    ],
    ids=["snooze", "snooze, not a number", "survey", "renegotiation"],
)
def test_a_form_naming_an_id_no_row_can_have_is_told_so_not_a_crash(
    bot: BotServer, slack: SlackRequests, fake_slack: FakeSlack, callback_id: str, metadata: dict[str, Any], told: str
) -> None:
    reply = slack.view_submission(callback_id, {}, private_metadata=json.dumps(metadata))
    assert reply.status == 200
    bot.settle()
    answers = [reply.text, *(c.params.get("text", "") for c in fake_slack.calls_to("chat.postMessage"))]
    assert any(told in answer for answer in answers), answers
    assert not any("went wrong on our side" in answer for answer in answers), answers


# ---------------------------------------------------------------------------------------------- logs


@SQLITE_ONLY
def test_tokens_and_the_signing_secret_never_reach_the_logs(
    settings: Settings, store: Store, clock: FakeClock, fake_slack: FakeSlack
) -> None:
    """A full run at DEBUG, logged the way `partner-bot serve` configures logging, then grepped."""
    from bot.socket_mode import PartnerSocketModeHandler
    from tests.fake_socket_mode import SocketModeRequests

    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    stream = io.StringIO()
    secrets = [BOT_TOKEN, SIGNING_SECRET, fake_slack.app_token]
    logs.configure(level="DEBUG", secrets=secrets, stream=stream)
    try:
        app = create_app(settings=settings, store=store, clock=clock)
        server = BotServer(app, store).start()
        try:
            slack = SlackRequests(server.url, signing_secret=SIGNING_SECRET, team_id=TEAM_ID, fake=fake_slack)
            customer_id = add_acme(slack, store)
            slack.command("checkin acme green all good")
            slack.command("checkin")
            slack.view_submission(CHECKIN_MODAL, modal_values(customer_id, "red", "escalation"), view_id="VLOG")
            slack.block_action(OPEN_CHECKIN, value=str(customer_id), view={"id": "VHOME", "type": "home"})
            slack.event({"type": "app_home_opened", "user": "U0001", "channel": "D0001", "tab": "home"})
            fake_slack.fail_next("views.open", error="invalid_auth")
            slack.command("checkin")  # a refused token, logged as one error line
            fake_slack.fail_next("views.open", error="invalid_arguments")
            slack.command("checkin")  # an unexpected failure, logged with its traceback
            forged = SlackRequests(server.url, signing_secret="x" * 20, team_id=TEAM_ID, fake=fake_slack)
            assert forged.command("help").status == 401
            drain_lazy_listeners(server)
        finally:
            server.stop()
        socket_app = create_app(settings=settings, store=store, clock=clock)
        handler = PartnerSocketModeHandler(socket_app, app_token=fake_slack.app_token, web_client=socket_app.client)
        handler.connect()
        try:
            sm = SocketModeRequests(fake_slack.socket_mode, team_id=TEAM_ID, fake=fake_slack)
            assert "Logged" in sm.command("checkin acme yellow over the socket").json()["text"]
        finally:
            handler.client.auto_reconnect_enabled = False
            fake_slack.socket_mode.drop_connections()
            handler.close()
    finally:
        for handler_ in root.handlers[:]:
            root.removeHandler(handler_)
        for handler_ in saved_handlers:
            root.addHandler(handler_)
        root.setLevel(saved_level)

    written = stream.getvalue()
    assert "DEBUG slack_sdk" in written and "apps.connections.open" in written  # the capture saw the Web API calls
    assert "listener failed" in written  # and the unexpected failure
    assert "Slack refused the bot token (team=T0001): invalid_auth" in written
    for secret in secrets:
        assert secret not in written
    assert "xoxb-" not in written and "xapp-" not in written


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("fault", "told"),
    [
        ({"status": 429, "retry_after": 30}, "Slack is busy right now and asked me to slow down. Please try again"),
        ({"delay": 8}, "Slack didn't answer in time. Please try again in a moment."),
    ],
)
def test_a_form_slack_will_not_open_now_says_why_and_gives_the_command_back(
    bot: BotServer, fake_slack: FakeSlack, store: Store, fault: dict[str, Any], told: str
) -> None:
    slack = SlackRequests(bot.url, signing_secret=SIGNING_SECRET, team_id=TEAM_ID, fake=fake_slack, timeout=3)
    add_acme(slack, store)
    fake_slack.fail_next("views.open", **fault)  # rate-limited past the answer, or hung
    reply = slack.command("survey acme level")
    assert reply.status == 200
    text = reply.json()["text"]
    assert told in text and "You typed: `/partner survey acme level`" in text
    assert "went wrong on our side" not in text  # Slack's trouble, not ours


class Caught(logging.Handler):
    """The records of one logger, and an event set at the first."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []
        self.seen = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.seen.set()


@SQLITE_ONLY
def test_an_answer_still_waiting_is_logged_with_what_every_thread_is_doing_while_it_waits(
    slack: SlackRequests, bot: BotServer, store: Store, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two CI runs each saw an answer not come within 10 s, once: by the time a slow answer is logged, what it waited
    # on is gone. Here another writer (a job, another process) holds SQLite's one write lock, and the check-in's
    # answer waits for it (busy_timeout): the stacks are logged while it waits, then the lock is let go.
    add_acme(slack, store)
    bot.app.slow_answer_after = 0.1
    # An answer gives up on the lock after ANSWER_LOCK_WAIT_MS: here it waits longer than a loaded box may take to
    # report it, so the stacks show the wait itself.
    monkeypatch.setattr(storage.db, "ANSWER_LOCK_WAIT_MS", 12_000)
    caught = Caught()
    caught.addFilter(logs.PartnerFilter(logs.Redactor()))
    logging.getLogger("partner.slow_answers").addHandler(caught)
    holder = sqlite3.connect(make_url(database_url).database or "", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    answered: list[Response] = []
    request = threading.Thread(target=lambda: answered.append(slack.command("checkin acme green renewal signed")))
    request.start()
    try:
        assert caught.seen.wait(timeout=12)  # within that wait: the answer still waits
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        logging.getLogger("partner.slow_answers").removeHandler(caught)
        request.join(timeout=20)
    assert "Logged" in answered[0].json()["text"]  # answered once the lock was let go
    (report,) = caught.records
    text = report.getMessage()
    assert text.startswith("a command request still unanswered after")
    answering = text.split("\nThread ")[1]  # listed first
    assert "(answering)" in answering and "storage/checkins.py" in answering and "partner_command" in answering
    assert report.surface == "command" and report.request_id != "-"  # the request's log fields, as its own lines


@contextlib.contextmanager
def another_writer(database_url: str, customer_id: int) -> Iterator[None]:
    """Another writer (a job, another replica) holding the lock a check-in of this customer needs, until the end of
    the block: SQLite's one write lock, or on PostgreSQL the customer's row (a check-in's foreign key waits on it)."""
    if make_url(database_url).get_backend_name() == "sqlite":
        holder = sqlite3.connect(make_url(database_url).database or "", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    import psycopg

    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as holder:
        holder.execute("SELECT id FROM customer WHERE id = %s FOR UPDATE", (customer_id,))
        try:
            yield
        finally:
            holder.rollback()


def test_a_checkin_answered_while_another_writer_holds_the_lock_is_given_back_and_its_retry_stored_once(
    bot: BotServer, fake_slack: FakeSlack, store: Store, database_url: str
) -> None:
    # The answer no longer waits SQLite's 15 s (or PostgreSQL's unlimited lock wait) for the lock: Slack would have
    # shown `dispatch_failed` after 3 s, and the note typed was lost. It gives up well within that and says so (this
    # client gives up after 10 s: an answer at all means the lock was given up before the jobs' 15 s).
    slack = SlackRequests(bot.url, signing_secret=SIGNING_SECRET, team_id=TEAM_ID, fake=fake_slack, timeout=10)
    customer_id = add_acme(slack, store)
    metadata = json.dumps({"channel_id": "C0001"})
    form = modal_values(customer_id, "yellow", "pricing questions")
    blocks = {"blocks": checkin_modal(channel_id="C0001")["blocks"]}  # the form as Slack sends it back
    with another_writer(database_url, customer_id):
        typed = slack.command("checkin acme green renewal signed", trigger_id="7.7.busy").json()["text"]
        submitted = slack.view_submission(
            CHECKIN_MODAL, form, private_metadata=metadata, view_id="VBUSY", view_fields=blocks
        ).json()
        assert store.checkins(team_id=TEAM_ID) == []  # nothing stored, nothing half-stored
    assert typed.startswith(DATABASE_BUSY)
    assert typed.endswith("You typed: `/partner checkin acme green renewal signed`")  # to copy, nothing lost
    # The form stays open with the answers in it, the reason beside its first field.
    assert submitted == {
        "response_action": "errors",
        "errors": {"customer": DATABASE_BUSY + " Your answers are still here."},
    }
    # Slack's retry of each (or the user sending it again) once the lock is let go: stored exactly once each.
    for retry in (1, 2):
        assert (
            "Logged"
            in slack.command("checkin acme green renewal signed", trigger_id="7.7.busy", retry_num=retry).json()["text"]
        )
        slack.view_submission(CHECKIN_MODAL, form, private_metadata=metadata, view_id="VBUSY", retry_num=retry)
    notes = sorted(c.note for c in store.checkins(team_id=TEAM_ID))
    assert notes == ["pricing questions", "renewal signed"]


def test_status_while_another_writer_holds_the_lock_shows_the_score_now_and_stores_it_after_the_answer(
    slack: SlackRequests, bot: BotServer, store: Store, database_url: str, clock: FakeClock
) -> None:
    # Status is a look: it wrote the score before answering, so another writer's lock made it wait (and answer
    # "busy"). It shows the score as of now, and the follow-up stores it (waiting out the lock as jobs do).
    customer_id = add_acme(slack, store)
    assert "Logged" in slack.command("checkin acme red lost the champion").json()["text"]
    bot.settle()
    clock.advance(days=3)  # recency moved: the score now is not the one stored
    with another_writer(database_url, customer_id):
        shown = slack.command("status acme").json()["text"]
        before = store.customer(team_id=TEAM_ID, customer_id=customer_id)
    assert DATABASE_BUSY not in shown
    assert before is not None and before.health_at is not None and before.health_at < clock.now
    bot.settle()
    after = store.customer(team_id=TEAM_ID, customer_id=customer_id)
    assert after is not None and after.health_at == clock.now  # stored by the follow-up, once the lock was let go
    assert f"health {score_text(after.health_score, after.health_band)}" in shown  # the score shown is the one stored


def test_only_the_answer_gives_up_on_the_lock_early_and_its_connection_waits_in_full_again_after(
    store: Store, database_url: str
) -> None:
    """The scheduler, follow-ups and the CLI still wait out a long writer: the shorter wait is the answering
    thread's, set on each connection it checks out, on whichever pooled connection that is."""
    postgres = make_url(database_url).get_backend_name() == "postgresql"
    show = "SHOW lock_timeout" if postgres else "PRAGMA busy_timeout"
    in_full = "0" if postgres else str(LOCK_WAIT_MS)
    assert ANSWER_LOCK_WAIT_MS <= 2000  # within Slack's 3 s, with time left to answer
    for _ in range(2):
        with store.engine.connect() as connection:
            assert str(connection.exec_driver_sql(show).scalar()) == in_full
        with answering(), store.engine.connect() as connection:
            wait = str(connection.exec_driver_sql(show).scalar())
            assert wait == (f"{ANSWER_LOCK_WAIT_MS}ms" if postgres else str(ANSWER_LOCK_WAIT_MS))
            if postgres:
                connection.rollback()  # a read-only session's end: the connection keeps its setting all the same


@SQLITE_ONLY
def test_a_hung_slack_call_before_the_answer_still_leaves_time_to_answer_within_slacks_3_seconds(
    bot: BotServer, fake_slack: FakeSlack, store: Store
) -> None:
    # What bounds the wait is the app's own cap on a call made before the answer (ANSWER_CALL_TIMEOUT, within
    # Slack's 3 s), not this machine's speed: the test waits for the answer itself, not for a wall-clock margin
    # that a loaded CI box eats (2 s of cap left 1 s for everything else). Slack never answers users.info while the
    # test runs, and this client gives up before the app's full 10 s timeout: an answer at all means the call was
    # given up at the cap, and the metrics show it was the one Slack call waited on (no retry, no second call).
    assert ANSWER_CALL_TIMEOUT < 3
    slack = SlackRequests(bot.url, signing_secret=SIGNING_SECRET, team_id=TEAM_ID, fake=fake_slack, timeout=9)
    fake_slack.add_user("U0OWNER", name="olivia", tz="Europe/Paris")
    fake_slack.fail_next("users.info", delay=60)  # the owner's time zone, looked up before the answer, hangs
    reply = slack.command("add Acme <@U0OWNER|olivia>")
    assert reply.status == 200 and "Added *Acme*" in reply.json()["text"]
    assert fake_slack.calls_to("users.info") == []  # answered while Slack still had not
    _, metrics, _ = get(bot.url + "/metrics")
    assert value(metrics, "partner_slack_api_errors_total", method="users.info", error="connection_error") == 1
    (customer,) = store.customers(team_id=TEAM_ID)
    assert (customer.owner_id, customer.tz) == ("U0OWNER", "UTC")  # kept, with the default zone
    # After the answer, the full timeout applies again: a slow channel join (2.5 s) still happens.
    fake_slack.add_channel("C0GLOBEX", name="globex", is_member=False)
    fake_slack.fail_next("conversations.join", delay=2.5)
    assert "Added *Globex*" in slack.command("add Globex <#C0GLOBEX|globex>").json()["text"]
    (join,) = fake_slack.wait_for("conversations.join", timeout=10)
    assert join.ok and join.params["channel"] == "C0GLOBEX"
    bot.settle()
    assert not [c for c in fake_slack.calls_to("response_url") if "invite" in c.params.get("text", "")]


# How a check-in summary's post got no answer within the client's 1 s: Slack made it, or never got to it.
NO_ANSWER = {
    "Slack posted it": {"delay": 1.5, "answered_late": True},
    "Slack did not post it": {"status": 500, "delay": 1.5},
}


@pytest.mark.parametrize("outcome", list(NO_ANSWER))
def test_a_summary_whose_post_got_no_answer_is_looked_for_before_it_is_posted_again(
    impatient: SlackRequests,
    impatient_bot: BotServer,
    fake_slack: FakeSlack,
    store: Store,
    settings: Settings,
    clock: FakeClock,
    outcome: str,
) -> None:
    assert "Added" in impatient.command("add Acme <#C0ACME|acme>").json()["text"]
    impatient_bot.settle()
    fake_slack.fail_next("chat.postMessage", **NO_ANSWER[outcome])  # the first try only: never retried as is
    assert "Logged" in impatient.command("checkin acme green renewal signed").json()["text"]
    impatient_bot.settle()
    # The outbox's sender, tick after tick: it reads the channel (by the message metadata) before posting again.
    for minutes in (1, 3, 10):
        send_nudges(store=store, client=make_client(settings), now=clock() + timedelta(minutes=minutes))
    (summary,) = [m for m in fake_slack.messages["C0ACME"] if "renewal signed" in m["text"]]  # once, in any case
    (checkin,) = store.checkins(team_id=TEAM_ID)
    assert checkin.summary_ts == summary["ts"]
    looked = [c.params for c in fake_slack.calls_to("conversations.history")]
    assert looked and all(str(p.get("include_all_metadata")).lower() in ("1", "true") for p in looked)


def test_a_check_in_added_to_a_bursts_summary_without_an_answer_is_found_there_not_posted_again(
    impatient: SlackRequests,
    impatient_bot: BotServer,
    fake_slack: FakeSlack,
    store: Store,
    settings: Settings,
    clock: FakeClock,
) -> None:
    assert "Added" in impatient.command("add Acme <#C0ACME|acme>").json()["text"]
    impatient_bot.settle()
    followups = impatient_bot.app.after_ack.checkin_followups
    started, release = threading.Event(), threading.Event()
    runs: list[Any] = []

    def hold_the_first(key: Any) -> None:
        runs.append(key)
        if len(runs) == 1:
            started.set()
            assert release.wait(30)

    followups.before_run = hold_the_first
    try:
        assert "Logged" in impatient.command("checkin acme green first of the burst").json()["text"]
        assert started.wait(30)
        # The second comes while the first's run is going: the run after it adds it to the burst's message…
        assert "Logged" in impatient.command("checkin acme green second of the burst").json()["text"]
        fake_slack.fail_next("chat.update", delay=1.5, answered_late=True)  # …which Slack edits, answering too late
        release.set()
        impatient_bot.settle()
    finally:
        followups.before_run = None
        release.set()
    (message,) = fake_slack.messages["C0ACME"]
    assert "first of the burst" in message["text"] and "second of the burst" in message["text"]
    for minutes in (1, 3, 10):
        send_nudges(store=store, client=make_client(settings), now=clock() + timedelta(minutes=minutes))
    assert [m["ts"] for m in fake_slack.messages["C0ACME"]] == [message["ts"]]  # found in it: not posted again
    assert {c.summary_ts for c in store.checkins(team_id=TEAM_ID)} == {message["ts"]}


def test_a_summary_with_no_answer_after_the_customer_moved_channel_is_still_posted_once(
    impatient: SlackRequests,
    impatient_bot: BotServer,
    fake_slack: FakeSlack,
    store: Store,
    settings: Settings,
    clock: FakeClock,
) -> None:
    """The day's first summary went to the old channel; the customer moved to another; the next summary's post got
    no answer (Slack never made it). The sender's look-up must not give up on the old channel's thread, and no
    summary in the new channel replies to a message of the old one."""
    fake_slack.add_channel("C0NEW", name="acme-new")
    assert "Added" in impatient.command("add Acme <#C0ACME|acme>").json()["text"]
    impatient_bot.settle()
    assert "Logged" in impatient.command("checkin acme green kickoff done").json()["text"]
    impatient_bot.settle()
    assert [m for m in fake_slack.messages["C0ACME"] if "kickoff done" in m["text"]]
    impatient.command("edit acme <#C0NEW|acme-new>")
    impatient_bot.settle()
    fake_slack.fail_next("chat.postMessage", status=500, delay=1.5)  # no answer, nothing posted
    assert "Logged" in impatient.command("checkin acme green renewal signed").json()["text"]
    impatient_bot.settle()
    for minutes in (1, 3, 10):
        send_nudges(store=store, client=make_client(settings), now=clock() + timedelta(minutes=minutes))
    posted = [(c, m) for c, ms in fake_slack.messages.items() for m in ms if "renewal signed" in m["text"]]
    assert len(posted) == 1, posted
    # In the new channel, as the day's first summary there: not a reply to a message of the old channel.
    ((channel, summary),) = posted
    assert channel == "C0NEW" and summary.get("thread_ts") in (None, summary["ts"])
    # The day's next summary, posted by the follow-up, threads under that one.
    assert "Logged" in impatient.command("checkin acme green pilot extended").json()["text"]
    impatient_bot.settle()
    (reply,) = [m for m in fake_slack.messages["C0NEW"] if "pilot extended" in m["text"]]
    assert reply["thread_ts"] == summary["ts"]


def test_a_summary_and_an_owner_alert_sent_late_after_a_crash_still_show_what_they_say(
    fake_slack: FakeSlack, store: Store, settings: Settings, clock: FakeClock
) -> None:
    """`serve` died before a red check-in's follow-up; the tick posts its summary and alert half an hour later, with a
    note that they are late. Slack shows a message's blocks instead of its text: a note as their only block would
    hide the check-in itself."""
    fake_slack.add_channel("C0LATE", name="late", members=["U0001"])
    customer = store.add_customer(
        team_id=TEAM_ID, name="Latecorp", created_by="U0001", now=clock(), channel_id="C0LATE", owner_id="U0001"
    )
    assert customer.id is not None
    store.set_channel_shared(team_id=TEAM_ID, channel_id="C0LATE", shared=False, guests=[], now=clock())
    store.record_checkin(
        team_id=TEAM_ID,
        customer_id=customer.id,
        author_id="U0002",
        mood="red",
        note="the pilot is failing",
        now=clock(),
        alert_owner_id="U0001",
        summary_tz="UTC",
    )
    send_nudges(store=store, client=make_client(settings), now=clock() + timedelta(minutes=30))
    posts = [c.params for c in fake_slack.calls_to("chat.postMessage") if c.ok]
    assert {p["channel"] for p in posts} == {"C0LATE", "U0001"}
    for post in posts:
        shown = json.dumps(post["blocks"]) if post.get("blocks") else post["text"]
        assert "Sent late" in shown and ("pilot is failing" in shown or "red" in shown), post


def test_a_bursts_summaries_the_follow_up_never_posted_go_as_one_message(
    fake_slack: FakeSlack, store: Store, settings: Settings, clock: FakeClock
) -> None:
    """Three check-ins in a row, then `serve` died before their follow-up: the tick posts their summaries as the
    follow-up would have, one message, not three that each start a thread of the day."""
    fake_slack.add_channel("C0BURST", name="burst", members=["U0001"])
    customer = store.add_customer(
        team_id=TEAM_ID, name="Burstco", created_by="U0001", now=clock(), channel_id="C0BURST", tz="Europe/Berlin"
    )
    assert customer.id is not None
    store.set_channel_shared(team_id=TEAM_ID, channel_id="C0BURST", shared=False, guests=[], now=clock())
    for i in range(3):
        store.record_checkin(
            team_id=TEAM_ID,
            customer_id=customer.id,
            author_id="U0001",
            mood="green",
            note=f"burst note {i}",
            now=clock() + timedelta(seconds=i),
            summary_tz="Europe/Berlin",
        )
    send_nudges(store=store, client=make_client(settings), now=clock() + timedelta(minutes=1))
    (message,) = fake_slack.messages["C0BURST"]
    assert all(f"burst note {i}" in message["text"] for i in range(3)), message["text"]
    assert {c.summary_ts for c in store.checkins(team_id=TEAM_ID)} == {message["ts"]}
    # A later summary of the day replies in its thread.
    store.record_checkin(
        team_id=TEAM_ID,
        customer_id=customer.id,
        author_id="U0001",
        mood="green",
        note="burst note 3",
        now=clock() + timedelta(minutes=2),
        summary_tz="Europe/Berlin",
    )
    send_nudges(store=store, client=make_client(settings), now=clock() + timedelta(minutes=3))
    (reply,) = [m for m in fake_slack.messages["C0BURST"] if "burst note 3" in m["text"]]
    assert reply["thread_ts"] == message["ts"]
