"""End to end over Socket Mode: slack-bolt's SocketModeHandler (slack-sdk's builtin WebSocket client) talks
to the fake Slack's apps.connections.open and WebSocket endpoint; the HTTP suite's scenarios, answered by acks."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk.errors import SlackApiError

from bot import logs
from bot.app import create_app
from bot.settings import Settings
from bot.socket_mode import PartnerSocketModeHandler
from handlers.ids import CHECKIN_CALL, CHECKIN_CUSTOMER, CHECKIN_MODAL, CHECKIN_MOOD, CHECKIN_NOTE, OPEN_CHECKIN
from storage.db import make_engine
from storage.store import Store
from tests.e2e.test_replicas import add_customers, posts_per_nudge, wait_until
from tests.e2e.test_replicas import environment as replica_environment
from tests.fake_slack import FakeSlack
from tests.fake_socket_mode import SocketModeRequests
from tests.utils import BOT_TOKEN, SIGNING_SECRET, TEAM_ID, FakeClock


@pytest.fixture
def handler(settings: Settings, store: Store, clock: FakeClock, fake_slack: FakeSlack) -> Iterator[SocketModeHandler]:
    app = create_app(settings=settings, store=store, clock=clock)
    handler = PartnerSocketModeHandler(app, app_token=fake_slack.app_token, web_client=app.client)
    handler.connect()
    fake_slack.socket_mode.wait_connected()
    yield handler
    close(handler, fake_slack)
    app.drain()  # no follow-up of this test may reach the fake Slack during the next one


def close(handler: SocketModeHandler, fake_slack: FakeSlack) -> None:
    """Hang up from Slack's side first: the builtin client otherwise waits out its 3 s receive timeout."""
    handler.client.auto_reconnect_enabled = False
    fake_slack.socket_mode.drop_connections()
    handler.close()


@pytest.fixture
def sm(handler: SocketModeHandler, fake_slack: FakeSlack) -> SocketModeRequests:
    """Builds the same payloads as the HTTP client, sends them as envelopes, returns the acks."""
    return SocketModeRequests(fake_slack.socket_mode, team_id=TEAM_ID, fake=fake_slack)


def ack_text(response: Any) -> str:
    body = response.json()
    assert body.get("response_type") == "ephemeral", body
    return str(body["text"])


def modal_values(customer_id: int | None, mood: str | None, note: str | None, call: bool = False) -> dict[str, Any]:
    option = {"text": {"type": "plain_text", "text": "x"}, "value": str(customer_id)} if customer_id else None
    mood_option = {"text": {"type": "plain_text", "text": mood}, "value": mood} if mood else None
    calls = [{"text": {"type": "plain_text", "text": "Yes"}, "value": "call"}] if call else []
    return {
        "customer": {CHECKIN_CUSTOMER: {"type": "external_select", "selected_option": option}},
        "mood": {CHECKIN_MOOD: {"type": "radio_buttons", "selected_option": mood_option}},
        "call": {CHECKIN_CALL: {"type": "checkboxes", "selected_options": calls}},
        "note": {CHECKIN_NOTE: {"type": "plain_text_input", "value": note}},
    }


def test_connects_with_the_app_token_and_is_greeted(handler: SocketModeHandler, fake_slack: FakeSlack) -> None:
    (opened,) = fake_slack.calls_to("apps.connections.open")
    assert opened.ok and opened.token == fake_slack.app_token
    assert opened.headers["authorization"] == f"Bearer {fake_slack.app_token}"  # never a POST parameter
    assert handler.client.is_connected()
    assert fake_slack.socket_mode.stray_messages == []


def test_help_comes_back_in_the_ack(sm: SocketModeRequests, fake_slack: FakeSlack) -> None:
    text = ack_text(sm.command("help"))
    for usage in ("/partner help", "/partner add", "/partner checkin"):
        assert usage in text
    envelope = fake_slack.socket_mode.sent[-1]
    assert envelope["type"] == "slash_commands" and envelope["accepts_response_payload"] is True


def test_add_and_checkin_by_text(sm: SocketModeRequests, fake_slack: FakeSlack, store: Store, clock: FakeClock) -> None:
    assert "Added *Acme Corp*" in ack_text(sm.command("add Acme Corp <#C0ACME|acme> <@U0001|dana>"))
    fake_slack.wait_for("conversations.join")  # after the ack
    assert fake_slack.channels["C0ACME"]["is_member"]
    text = ack_text(sm.command("checkin acme green kickoff went *well*", trigger_id="1.2.sm"))
    assert "Logged a green check-in for *Acme Corp*" in text
    (entry,) = store.checkins(team_id=TEAM_ID)
    assert (entry.mood, entry.note, entry.created_at) == ("green", "kickoff went *well*", clock.now)

    # The answer is the ack itself; at most the check-in's summary goes to the customer's channel, after the ack.
    assert fake_slack.calls_to("chat.postEphemeral") == []
    assert {c.params.get("channel") for c in fake_slack.calls_to("chat.postMessage")} <= {"C0ACME"}


def test_bad_input_is_explained_in_the_ack_and_nothing_stored(sm: SocketModeRequests, store: Store) -> None:
    ack_text(sm.command("add Acme"))
    text = ack_text(sm.command("checkin acme purple hi"))
    assert "'purple' is not a mood" in text and "/partner checkin &lt;customer&gt;" in text
    assert store.checkins(team_id=TEAM_ID) == []


def test_a_redelivered_command_stores_one_checkin(sm: SocketModeRequests, store: Store) -> None:
    ack_text(sm.command("add Acme"))
    first = ack_text(sm.command("checkin acme green hello", trigger_id="7.7.same"))
    again = ack_text(sm.command("checkin acme green hello", trigger_id="7.7.same"))
    assert first == again
    assert len(store.checkins(team_id=TEAM_ID)) == 1


def test_modal_opens_and_its_submission_is_stored_and_confirmed(
    sm: SocketModeRequests, fake_slack: FakeSlack, store: Store
) -> None:
    ack_text(sm.command("add Acme"))
    opened = sm.command("checkin", trigger_id="9.9.modal")
    assert opened.body == b""  # the modal answered; the ack carries no message
    (call,) = fake_slack.calls_to("views.open")
    assert call.params["trigger_id"] == "9.9.modal" and call.params["view"]["callback_id"] == CHECKIN_MODAL

    options = sm.block_suggestion(CHECKIN_CUSTOMER, "ac").json()["options"]
    assert [o["text"]["text"] for o in options] == ["Acme"]
    (customer,) = store.customers(team_id=TEAM_ID)
    submitted = sm.view_submission(
        CHECKIN_MODAL,
        modal_values(customer.id, "yellow", "pricing questions", call=True),
        private_metadata=json.dumps({"channel_id": "C0001"}),
        view_id="VSOCKET1",
    )
    assert submitted.body in (b"", b"{}")
    (entry,) = store.checkins(team_id=TEAM_ID)
    assert (entry.mood, entry.kind, entry.note) == ("yellow", "call", "pricing questions")
    (confirmation,) = fake_slack.wait_for("chat.postEphemeral")
    assert confirmation.params["user"] == "U0001" and "Acme" in confirmation.params["text"]


def test_invalid_submission_gets_field_errors_in_the_ack(sm: SocketModeRequests, store: Store) -> None:
    body = sm.view_submission(CHECKIN_MODAL, modal_values(None, None, " ")).json()
    assert body["response_action"] == "errors" and set(body["errors"]) == {"customer", "mood", "note"}
    assert store.checkins(team_id=TEAM_ID) == []


def test_home_button_and_app_home_opened(sm: SocketModeRequests, fake_slack: FakeSlack, store: Store) -> None:
    ack_text(sm.command("add Acme"))
    ack_text(sm.command("checkin acme green all good"))
    (customer,) = store.customers(team_id=TEAM_ID)

    clicked = sm.block_action(OPEN_CHECKIN, value=str(customer.id), view={"id": "VHOME", "type": "home"})
    assert clicked.body == b""
    (opened,) = fake_slack.calls_to("views.open")
    assert opened.params["view"]["blocks"][0]["element"]["initial_option"]["value"] == str(customer.id)

    event = sm.event({"type": "app_home_opened", "user": "U0001", "channel": "D0001", "tab": "home"})
    assert event.body == b""
    assert fake_slack.socket_mode.sent[-1]["type"] == "events_api"
    assert "Acme" in json.dumps(fake_slack.published_home["U0001"])


def test_reconnects_when_slack_asks_and_keeps_working(
    sm: SocketModeRequests, handler: SocketModeHandler, fake_slack: FakeSlack
) -> None:
    first = fake_slack.socket_mode.wait_connected()
    fake_slack.socket_mode.request_disconnect()
    second = fake_slack.socket_mode.wait_connected(newer_than=first)
    assert len(fake_slack.calls_to("apps.connections.open")) == 2  # a fresh URL for each connection
    assert second.number > first.number
    assert "/partner help" in ack_text(sm.command("help"))


@pytest.mark.parametrize("reason", ["warning", "refresh_requested", "link_disabled"])
def test_each_disconnect_reason_is_told_to_the_operator_and_the_app_reconnects(
    sm: SocketModeRequests, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture, reason: str
) -> None:
    """Slack's `disconnect` says why: a rotation (`warning`, `refresh_requested`) is routine, while `link_disabled`
    (Socket Mode turned off in the app's settings) means nothing reaches Partner until someone acts; the client
    reconnected in silence for every reason, so an operator had no line saying the app had gone deaf, or why."""
    first = fake_slack.socket_mode.wait_connected()
    with caplog.at_level(logging.INFO, logger="partner"):
        fake_slack.socket_mode.request_disconnect(reason)
        fake_slack.socket_mode.wait_connected(newer_than=first)
        assert "/partner help" in ack_text(sm.command("help"))
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    if reason == "link_disabled":
        (error,) = errors
        assert "Slack turned Socket Mode off for this app (disconnect: link_disabled)" in error
        assert "partner-bot serve --http" in error
    else:
        assert errors == []
        assert f"Slack is replacing the Socket Mode connection ({reason}); opening a new one" in caplog.text
    # Slack's hello on the new connection, with its count (the old one may not be closed yet)
    assert re.search(r"connected to Slack in Socket Mode \([12] connection\(s\) open for this app\)", caplog.text)


def test_a_rotation_in_the_middle_of_a_burst_loses_and_doubles_no_command(
    sm: SocketModeRequests, fake_slack: FakeSlack, store: Store
) -> None:
    """Slack's `disconnect` arrives while 30 commands are in flight, and 30 more come on the new connection: each of
    the 60 is acked once, and each check-in is logged once."""
    ack_text(sm.command("add Acme"))
    server = fake_slack.socket_mode
    first = server.wait_connected()
    ack_text(sm.command("help"))
    payloads = [
        {**sm.last_payload, "text": f"checkin acme green note {i}", "trigger_id": f"{i}.burst"} for i in range(60)
    ]
    sent = [server.send("slash_commands", p, accepts_response_payload=True) for p in payloads[:30]]
    server.request_disconnect("refresh_requested")
    server.wait_connected(newer_than=first)
    sent += [server.send("slash_commands", p, accepts_response_payload=True) for p in payloads[30:]]
    for envelope_id in sent:
        assert "Logged a green check-in" in str((server.wait_for_ack(envelope_id).payload or {}).get("text"))
    assert sorted(c.note for c in store.checkins(team_id=TEAM_ID, limit=500)) == sorted(f"note {i}" for i in range(60))
    assert server.errors == [] and server.stray_messages == []


def test_a_burst_of_slow_commands_is_acked_within_slacks_three_seconds(
    sm: SocketModeRequests, fake_slack: FakeSlack, store: Store
) -> None:
    """16 `/partner add` at once, each waiting 1.5 s on users.info for its owner before its answer: the client's 10
    workers ran 10 of them and queued the other 6 behind them, whose acks came after 3.1 s (Slack had given up)."""
    ack_text(sm.command("help"))  # the asker's users.info (guest check) is kept: only the owners' lookups are slow
    server = fake_slack.socket_mode
    fake_slack.fail_next("users.info", delay=1.5, times=16)
    payloads = [
        {**sm.last_payload, "text": f"add Customer {i} <@U0002|sam>", "trigger_id": f"{i}.slow"} for i in range(16)
    ]
    sent = {server.send("slash_commands", p, accepts_response_payload=True): time.time() for p in payloads}
    waited = {}
    for envelope_id, at in sent.items():
        ack = server.wait_for_ack(envelope_id)
        assert "Added *Customer" in str((ack.payload or {}).get("text")), ack.payload
        waited[envelope_id] = ack.at - at
    assert len(store.customers(team_id=TEAM_ID)) == 16
    assert max(waited.values()) < 2.5, sorted(waited.values())  # Slack waits 3 s


def test_the_connections_ticket_never_reaches_the_logs(sm: SocketModeRequests, fake_slack: FakeSlack) -> None:
    """At DEBUG, slack-sdk logs apps.connections.open's answer, the wss URL whose ticket opens a connection receiving
    the app's envelopes; logged the way `partner-bot serve` configures logging, through a rotation and a command."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    stream = io.StringIO()
    logs.configure(level="DEBUG", secrets=[BOT_TOKEN, SIGNING_SECRET, fake_slack.app_token], stream=stream)
    try:
        first = fake_slack.socket_mode.wait_connected()
        fake_slack.socket_mode.request_disconnect()
        fake_slack.socket_mode.wait_connected(newer_than=first)
        assert "/partner help" in ack_text(sm.command("help"))
    finally:
        for handler_ in root.handlers[:]:
            root.removeHandler(handler_)
        for handler_ in saved_handlers:
            root.addHandler(handler_)
        root.setLevel(saved_level)
    written = stream.getvalue()
    assert "apps.connections.open" in written
    assert not re.findall(r"ticket=(?!\[REDACTED\])[^&\s\"']+", written)
    assert "ticket=[REDACTED]" in written  # the capture saw the URL


def test_envelopes_on_the_old_connection_are_acked_while_slack_rate_limits_the_new_one(
    sm: SocketModeRequests, fake_slack: FakeSlack
) -> None:
    """Slack's `disconnect`, then apps.connections.open answering `ratelimited` with a Retry-After of 4 s: slack-sdk
    waited it out on the thread that hands envelopes to the workers, so a command still arriving on the old
    connection was not even started until the new one opened (its ack after 4 s, Slack gives up after 3)."""
    server = fake_slack.socket_mode
    first = server.wait_connected()
    fake_slack.fail_next("apps.connections.open", status=429, retry_after=4)
    server.request_disconnect("warning")
    fake_slack.wait_for("apps.connections.open", count=2)  # the reconnect has started, and is told to wait
    sm.connection = first  # Slack still delivers on the old connection until it closes it
    started = time.monotonic()
    assert "/partner help" in ack_text(sm.command("help"))
    assert time.monotonic() - started < 2.0
    sm.connection = None
    server.wait_connected(newer_than=first, timeout=30)
    assert "/partner help" in ack_text(sm.command("help"))
    assert server.errors == [] and server.stray_messages == []


def test_reconnects_when_slack_hangs_up_without_a_word_and_keeps_working(
    sm: SocketModeRequests, handler: SocketModeHandler, fake_slack: FakeSlack
) -> None:
    """A connection closed without a close frame (a dropped TCP connection): slack-sdk's builtin client alone spun
    on the empty reads and reconnected only after its pings had failed for about a minute."""
    first = fake_slack.socket_mode.wait_connected()
    fake_slack.socket_mode.drop_connections()
    second = fake_slack.socket_mode.wait_connected(newer_than=first, timeout=5)
    assert len(fake_slack.calls_to("apps.connections.open")) == 2
    assert second.number > first.number
    assert "/partner help" in ack_text(sm.command("help"))


def test_a_backlog_of_envelopes_and_an_envelope_of_a_megabyte_are_each_acked(
    sm: SocketModeRequests, fake_slack: FakeSlack, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """slack-sdk's frame parser recursed once per 1 KiB read and once per further frame in a read: 1,200 envelopes
    arriving together (Slack sending faster than the client reads), or one Home click whose view is near Slack's
    limits (100 sections of 3,000 characters), overflowed the stack; every envelope of that read went unacked and the
    framing after it was lost. Each is acked, and the connection keeps working."""
    events = [
        {
            "token": "verification-token-deprecated",
            "team_id": TEAM_ID,
            "api_app_id": "A0001",
            "type": "event_callback",
            "event_id": f"EvBACKLOG{i:05d}",
            "event_time": 1795700000 + i,
            "authorizations": [{"team_id": TEAM_ID, "user_id": fake_slack.bot_user_id, "is_bot": True}],
            "event": {"type": "reaction_added", "user": "U0001", "reaction": "tada", "event_ts": f"{i}.000100"},
        }
        for i in range(1200)
    ]
    with caplog.at_level(logging.INFO, logger="partner"):
        envelope_ids = fake_slack.socket_mode.send_burst("events_api", events)
        for envelope_id in envelope_ids:
            assert fake_slack.socket_mode.wait_for_ack(envelope_id, timeout=30).payload is None

        ack_text(sm.command("add Acme"))
        (customer,) = store.customers(team_id=TEAM_ID)
        text = "\N{SMILING FACE WITH SMILING EYES}" * 3000  # 12 bytes each as Slack's JSON escapes it
        home = {"id": "VHOME", "type": "home", "blocks": [section(text) for _ in range(30)]}
        assert sm.block_action(OPEN_CHECKIN, value=str(customer.id), view=home).body == b""
        assert len(json.dumps(sm.last_payload)) > 1_000_000
        fake_slack.wait_for("views.open")
        assert "/partner help" in ack_text(sm.command("help"))
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert fake_slack.socket_mode.errors == [] and fake_slack.socket_mode.stray_messages == []


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def test_a_wrong_app_token_fails_loudly(
    settings: Settings, store: Store, clock: FakeClock, fake_slack: FakeSlack
) -> None:
    app = create_app(settings=settings, store=store, clock=clock)
    handler = PartnerSocketModeHandler(app, app_token="xapp-1-A0001-1-revoked", web_client=app.client)
    try:
        with pytest.raises(SlackApiError) as raised:
            handler.connect()
        assert raised.value.response["error"] == "invalid_auth"
        assert fake_slack.socket_mode.connections == []
    finally:
        handler.close()


def serve_environment(fake_slack: FakeSlack, database_url: str, *, app_token: str) -> dict[str, str]:
    """`partner-bot serve`'s environment in Socket Mode: this test's settings only, none of the caller's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PARTNER_", "DATABASE_URL"))}
    env.update(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_APP_TOKEN=app_token,
        SLACK_API_URL=fake_slack.api_url,
        DATABASE_URL=database_url,
    )
    return env


def test_partner_bot_serve_uses_socket_mode_when_the_app_token_is_set(
    fake_slack: FakeSlack, database_url: str, tmp_path: Path
) -> None:
    env = serve_environment(fake_slack, database_url, app_token=fake_slack.app_token)
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--no-scheduler"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        fake_slack.socket_mode.wait_connected(timeout=30)
        sm = SocketModeRequests(fake_slack.socket_mode, team_id=TEAM_ID, fake=fake_slack)
        assert "Added *Acme*" in ack_text(sm.command("add Acme"))
        assert "Logged a red check-in for *Acme*" in ack_text(sm.command("checkin acme red churn risk"))
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        assert process.stderr is not None and "shutting down" in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    store = Store(make_engine(database_url))
    (entry,) = store.checkins(team_id=TEAM_ID)
    assert (entry.mood, entry.note) == ("red", "churn risk")
    store.engine.dispose()


def test_sigterm_answers_the_command_being_handled_before_the_connection_closes(
    fake_slack: FakeSlack, database_url: str, tmp_path: Path
) -> None:
    """A rolling deploy's SIGTERM while `/partner add` waits on Slack's users.info: the connection was closed at once,
    the customer was added but the ack failed on the closed connection ('Failed to run a request listener' and a
    traceback), and Slack told the user the command had failed. The ack goes out first, then the connection closes."""
    env = serve_environment(fake_slack, database_url, app_token=fake_slack.app_token)
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--no-scheduler"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        fake_slack.socket_mode.wait_connected(timeout=30)
        sm = SocketModeRequests(fake_slack.socket_mode, team_id=TEAM_ID, fake=fake_slack)
        sm.command("help")  # Dana found a full member (kept): the next users.info is Sam's profile
        fake_slack.fail_next("users.info", delay=1.5, answered_late=True)  # Sam's profile: slow to come back
        answer: dict[str, Any] = {}
        command = threading.Thread(target=lambda: answer.update(ack=sm.command("add Globex <@U0002|sam>")))
        command.start()
        fake_slack.wait_for("users.info", count=2)  # the listener is running
        process.send_signal(signal.SIGTERM)
        command.join(timeout=15)
        assert process.wait(timeout=30) == 0
        assert process.stderr is not None
        stderr = process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert "Added *Globex*" in ack_text(answer["ack"]), stderr
    assert "shutting down" in stderr and "Traceback" not in stderr and "Failed to" not in stderr, stderr
    store = Store(make_engine(database_url))
    assert [c.name for c in store.customers(team_id=TEAM_ID)] == ["Globex"]
    store.engine.dispose()


def test_partner_bot_serve_with_an_app_token_slack_refuses_names_it_in_one_line(
    fake_slack: FakeSlack, database_url: str, tmp_path: Path
) -> None:
    env = serve_environment(fake_slack, database_url, app_token="xapp-1-A0001-1-revoked")
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "serve", "--no-scheduler"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "partner-bot: Slack refused SLACK_APP_TOKEN (invalid_auth)" in result.stderr
    assert "xapp-1-A0001-1-revoked" not in result.stderr


def test_partner_bot_serve_waits_for_slack_to_open_the_connection_instead_of_exiting(
    fake_slack: FakeSlack, database_url: str, tmp_path: Path
) -> None:
    """apps.connections.open answering 503 past the client's own retries (Slack's incident at start): serve said
    'Slack refused SLACK_APP_TOKEN (fatal_error): copy a current app-level token' and exited 2, which an orchestrator
    restarts into a crash loop. It waits with a warning per try, and connects once Slack answers."""
    fake_slack.fail_next("apps.connections.open", status=503, times=4)  # the client retries a 5xx twice per try
    env = serve_environment(fake_slack, database_url, app_token=fake_slack.app_token)
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--no-scheduler"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        fake_slack.socket_mode.wait_connected(timeout=30)
        sm = SocketModeRequests(fake_slack.socket_mode, team_id=TEAM_ID, fake=fake_slack)
        assert "Added *Acme*" in ack_text(sm.command("add Acme"))
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        assert process.stderr is not None
        stderr = process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert "cannot open a Socket Mode connection (apps.connections.open answered HTTP 503" in stderr, stderr
    assert "retrying in 1 s (attempt 1)" in stderr and "refused SLACK_APP_TOKEN" not in stderr
    assert "Traceback" not in stderr and fake_slack.app_token not in stderr
    assert [c.ok for c in fake_slack.calls_to("apps.connections.open")] == [False] * 4 + [True]


def test_partner_bot_serve_with_slack_out_of_reach_retries_and_stops_on_sigterm(
    fake_slack: FakeSlack, database_url: str, tmp_path: Path
) -> None:
    """No network at start (Slack's address refusing connections): a URLError traceback and exit 1 before; now a
    warning per try with backoff, and SIGTERM meanwhile ends it cleanly."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    env = serve_environment(fake_slack, database_url, app_token=fake_slack.app_token)
    env["SLACK_API_URL"] = f"http://127.0.0.1:{port}/api/"
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--no-scheduler"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: list[str] = []
    try:
        assert process.stderr is not None
        for line in process.stderr:  # ends if the process exits (a crash) before its second try
            seen.append(line)
            if "(attempt 2)" in line:
                break
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0, "".join(seen)
        seen.append(process.stderr.read())
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    stderr = "".join(seen)
    assert "cannot open a Socket Mode connection (Slack is out of reach: URLError" in stderr, stderr
    assert "retrying in 2 s (attempt 2)" in stderr and "shutting down" in stderr
    assert "Traceback" not in stderr and fake_slack.app_token not in stderr


@pytest.mark.parametrize("scratch_database", ["postgres"], indirect=True)
def test_two_socket_mode_replicas_with_their_schedulers_answer_on_either_connection_and_nudge_once(
    store: Store, fake_slack: FakeSlack, database_url: str, tmp_path: Path
) -> None:
    """Two `partner-bot serve` processes in Socket Mode with their schedulers on (nothing tested Socket Mode and the
    scheduler in one process): Slack counts both connections and gives each envelope to one of them; a command is
    answered on either, and 20 customers' daily calls due at 09:00 are each nudged once."""
    add_customers(store, fake_slack, 20)
    env = {**replica_environment(fake_slack, database_url), "SLACK_APP_TOKEN": fake_slack.app_token}
    processes: list[subprocess.Popen[str]] = []
    try:
        for n in range(2):  # started together: each takes seconds to import, migrate and connect
            (tmp_path / str(n)).mkdir()
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "bot.cli", "serve"],
                    env=env,
                    cwd=tmp_path / str(n),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    text=True,
                )
            )
        server = fake_slack.socket_mode
        wait_until(lambda: server.running and len([c for c in server.connections if c.open]) == 2, 60, "2 replicas")
        sm = SocketModeRequests(server, team_id=TEAM_ID, fake=fake_slack)
        for connection in [c for c in server.connections if c.open]:  # Slack picks the connection: each one answers
            sm.connection = connection
            assert "/partner help" in ack_text(sm.command("help"))
        wait_until(lambda: sum(posts_per_nudge(fake_slack).values()) >= 20, 60, "20 nudges")
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            assert process.wait(timeout=30) == 0
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
    counts = posts_per_nudge(fake_slack)
    assert len(counts) == 20 and set(counts.values()) == {1}


def test_slack_faults_and_stale_buttons_are_told_as_over_http(
    sm: SocketModeRequests, fake_slack: FakeSlack, store: Store
) -> None:
    ack_text(sm.command("add Acme <@U0001|dana>"))
    (customer,) = store.customers(team_id=TEAM_ID)
    fake_slack.fail_next("users.info", error="invalid_auth")  # Sam is an admin: Slack could not say so
    assert "Slack refused Partner's access" in ack_text(sm.command("archive acme", user_id="U0002", user_name="sam"))
    assert "Archived *Acme*" in ack_text(sm.command("archive acme"))
    assert sm.block_action(OPEN_CHECKIN, value=str(customer.id), view={"id": "VHOME", "type": "home"}).body == b""
    (told,) = fake_slack.wait_for("chat.postMessage")
    assert told.params["text"] == "*Acme* is archived. Bring it back with `/partner restore Acme`."
    fake_slack.fail_next("views.publish", error="not_enabled")
    assert sm.event({"type": "app_home_opened", "user": "U0001", "channel": "D0001", "tab": "home"}).body == b""
    assert fake_slack.socket_mode.stray_messages == []


@pytest.mark.parametrize("event_type", ["reaction_added", "app_mention", "message"])
def test_an_event_partner_does_not_use_is_acked(sm: SocketModeRequests, event_type: str) -> None:
    # Bolt's 404 for an event no listener handles is no ack at all over Socket Mode: Slack would deliver it again.
    event = {"type": event_type, "user": "U0001", "channel": "C0ACME", "text": "hi", "ts": "1.000001"}
    assert sm.event(event).body == b""
