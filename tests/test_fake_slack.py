"""Tests of the offline Slack stand-ins: the fake Web API and the signed-request client.

The fake is driven through the real ``slack_sdk`` clients, and the request client through a real Bolt
app, so both stay faithful to what the production code meets.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from slack_bolt import Ack, App, Respond, Say
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler, ServerErrorRetryHandler
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient

from tests.fake_slack import FakeSlack, block_kit_violation
from tests.slack_requests import Response, SlackRequests, check_ack_blocks, new_trigger_id, sign

TOKEN = "xoxb-test-token"
SECRET = "test-signing-secret"


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        server.add_user("U0001", name="dana", tz="Europe/Paris", is_admin=True, email="dana@example.com")
        server.add_channel("C0001", name="general")
        yield server
        assert not server.errors, "\n".join(server.errors)


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    return WebClient(token=TOKEN, base_url=fake.api_url, retry_handlers=[])


def _raw(fake: FakeSlack, method: str, body: bytes, content_type: str, token: str | None = TOKEN) -> dict[str, Any]:
    headers = {"Content-Type": content_type}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(fake.api_url + method, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


# ---------------------------------------------------------------------- Web API basics


def test_urls_and_auth_test(fake: FakeSlack, client: WebClient) -> None:
    assert fake.api_url == f"{fake.base_url}/api/"
    assert fake.base_url.startswith("http://127.0.0.1:")
    data = client.auth_test().data
    assert data == {
        "ok": True,
        "url": "https://acme.slack.com/",
        "team": "Acme",
        "user": "partner",
        "team_id": "T0001",
        "user_id": "UBOT",
        "bot_id": "B0001",
        "is_enterprise_install": False,
    }
    [call] = fake.calls_to("auth.test")
    assert call.token == TOKEN and call.status == 200 and call.response["ok"] is True
    assert call.headers["authorization"] == f"Bearer {TOKEN}"


def test_auth_errors_and_unknown_method(fake: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as missing:
        WebClient(base_url=fake.api_url).auth_test()
    assert missing.value.response["error"] == "not_authed"
    with pytest.raises(SlackApiError) as wrong:
        WebClient(token="xoxb-other", base_url=fake.api_url).auth_test()
    assert wrong.value.response["error"] == "invalid_auth"
    with pytest.raises(SlackApiError) as unknown:
        WebClient(token=TOKEN, base_url=fake.api_url).api_call("chat.teleport")
    assert unknown.value.response["error"] == "unknown_method"


def test_body_encodings_are_decoded(fake: FakeSlack) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]
    form = urllib.parse.urlencode({"token": TOKEN, "channel": "C0001", "blocks": json.dumps(blocks)})
    assert _raw(fake, "chat.postMessage", form.encode(), "application/x-www-form-urlencoded", token=None)["ok"]
    assert fake.calls[-1].params["blocks"] == blocks
    assert fake.calls[-1].token == TOKEN

    # JSON bodies take the token from the header only, and Slack warns when the charset is missing.
    body = json.dumps({"channel": "C0001", "text": "x", "token": TOKEN}).encode()
    assert _raw(fake, "chat.postMessage", body, "application/json", token=None)["error"] == "not_authed"
    warned = _raw(fake, "chat.postMessage", body, "application/json")
    assert warned["warning"] == "missing_charset"
    assert warned["response_metadata"]["warnings"] == ["missing_charset"]
    assert "warning" not in _raw(fake, "chat.postMessage", body, "application/json; charset=utf-8")

    boundary = "XyZ"
    multipart = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="channel"\r\n\r\nC0001\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="text"\r\n\r\nmulti\r\n--{boundary}--\r\n'
    ).encode()
    assert _raw(fake, "chat.postMessage", multipart, f"multipart/form-data; boundary={boundary}")["ok"]
    assert fake.messages["C0001"][-1]["text"] == "multi"

    query = urllib.parse.urlencode({"user": "U0001"})
    request = urllib.request.Request(f"{fake.api_url}users.info?{query}", headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        assert json.loads(response.read())["user"]["id"] == "U0001"


# ---------------------------------------------------------------------- chat


def test_post_update_delete_and_permalink(fake: FakeSlack, client: WebClient) -> None:
    first = client.chat_postMessage(channel="C0001", text="hello")
    second = client.chat_postMessage(channel="C0001", text="reply", thread_ts=first["ts"])
    assert first["channel"] == "C0001" and first["message"]["text"] == "hello"
    assert float(second["ts"]) > float(first["ts"])
    assert fake.messages["C0001"][1]["thread_ts"] == first["ts"]
    assert fake.messages["C0001"][0]["user"] == "UBOT"

    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "done"}}]
    updated = client.chat_update(channel="C0001", ts=first["ts"], text="hello!", blocks=blocks)
    assert updated["text"] == "hello!" and updated["message"]["blocks"] == blocks
    assert fake.messages["C0001"][0]["blocks"] == blocks
    client.chat_update(channel="C0001", ts=first["ts"], text="text only")  # blocks kept, as Slack does
    assert fake.messages["C0001"][0]["blocks"] == blocks

    link = client.chat_getPermalink(channel="C0001", message_ts=second["ts"])["permalink"]
    assert link == (
        f"https://acme.slack.com/archives/C0001/p{second['ts'].replace('.', '')}?thread_ts={first['ts']}&cid=C0001"
    )
    client.chat_delete(channel="C0001", ts=second["ts"])
    assert [m["ts"] for m in fake.messages["C0001"]] == [first["ts"]]
    with pytest.raises(SlackApiError) as gone:
        client.chat_update(channel="C0001", ts=second["ts"], text="x")
    assert gone.value.response["error"] == "message_not_found"


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"channel": "C9999", "text": "x"}, "channel_not_found"),
        ({"channel": "CNOPE", "text": "x"}, "not_in_channel"),
        ({"channel": "COLD", "text": "x"}, "is_archived"),
        ({"channel": "C0001"}, "no_text"),
        ({"channel": "C0001", "text": "x", "blocks": [{"type": "divider"}] * 51}, "invalid_blocks"),
        ({"channel": "C0001", "text": "x", "blocks": "not json"}, "invalid_blocks"),
    ],
)
@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
def test_post_message_errors(fake: FakeSlack, client: WebClient, kwargs: dict[str, Any], error: str) -> None:
    fake.add_channel("CNOPE", name="elsewhere", is_member=False)
    fake.add_channel("COLD", name="old", is_archived=True)
    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(**kwargs)
    assert raised.value.response["error"] == error
    assert fake.calls[-1].response == {"ok": False, "error": error}
    assert "C9999" not in fake.messages


def test_post_to_user_opens_a_dm_and_ephemeral(fake: FakeSlack, client: WebClient) -> None:
    posted = client.chat_postMessage(channel="U0001", text="psst")
    dm = posted["channel"]
    assert dm.startswith("D") and fake.messages[dm][0]["text"] == "psst"
    assert client.conversations_open(users="U0001")["channel"]["id"] == dm
    ephemeral = client.chat_postEphemeral(channel="C0001", user="U0001", text="only you")
    assert fake.ephemeral_messages[0]["user"] == "U0001"
    assert fake.ephemeral_messages[0]["ts"] == ephemeral["message_ts"]


# ---------------------------------------------------------------------- scripted faults


def test_rate_limit_is_retried_by_the_sdk(fake: FakeSlack) -> None:
    fake.fail_next("chat.postMessage", status=429, retry_after=0)
    client = WebClient(token=TOKEN, base_url=fake.api_url, retry_handlers=[RateLimitErrorRetryHandler()])
    assert client.chat_postMessage(channel="C0001", text="eventually")["ok"]
    calls = fake.calls_to("chat.postMessage")
    assert [c.status for c in calls] == [429, 200]
    assert calls[0].response == {"ok": False, "error": "ratelimited"}
    assert len(fake.messages["C0001"]) == 1  # the throttled attempt changed nothing


def test_rate_limit_without_retry_handler_exposes_retry_after(fake: FakeSlack, client: WebClient) -> None:
    fake.fail_next("*", status=429, retry_after=7)
    with pytest.raises(SlackApiError) as raised:
        client.auth_test()
    assert raised.value.response.status_code == 429
    assert raised.value.response.headers["Retry-After"] == "7"


def test_server_error_then_success(fake: FakeSlack) -> None:
    fake.fail_next("users.info", status=500)
    handler = ServerErrorRetryHandler(interval_calculator=FixedValueRetryIntervalCalculator(0.01))
    client = WebClient(token=TOKEN, base_url=fake.api_url, retry_handlers=[handler])
    assert client.users_info(user="U0001")["user"]["id"] == "U0001"
    assert [c.status for c in fake.calls_to("users.info")] == [500, 200]


def test_scripted_errors_are_consumed_in_order(fake: FakeSlack, client: WebClient) -> None:
    fake.fail_next("chat.postMessage", error="channel_not_found", times=2)
    fake.fail_next("*", status=503)
    for _ in range(2):
        with pytest.raises(SlackApiError, match="channel_not_found"):
            client.chat_postMessage(channel="C0001", text="x")
    with pytest.raises(SlackApiError) as unavailable:
        client.chat_postMessage(channel="C0001", text="x")
    assert unavailable.value.response.status_code == 503
    assert client.chat_postMessage(channel="C0001", text="x")["ok"]
    assert [c.status for c in fake.calls] == [200, 200, 503, 200]


def test_delay_makes_a_client_time_out(fake: FakeSlack) -> None:
    fake.fail_next("auth.test", delay=0.8)
    client = WebClient(token=TOKEN, base_url=fake.api_url, timeout=0.5, retry_handlers=[])
    with pytest.raises(TimeoutError):
        client.auth_test()


def test_an_answer_scripted_late_comes_after_the_post_was_made(fake: FakeSlack) -> None:
    fake.fail_next("chat.postMessage", delay=0.8, answered_late=True)
    client = WebClient(token=TOKEN, base_url=fake.api_url, timeout=0.5, retry_handlers=[])
    with pytest.raises(TimeoutError):
        client.chat_postMessage(channel="C0001", text="posted, unanswered")
    assert [m["text"] for m in fake.messages["C0001"]] == ["posted, unanswered"]  # as Slack: there all the same
    with pytest.raises(ValueError):
        fake.fail_next("chat.postMessage", status=500, answered_late=True)


def test_history_and_replies_show_metadata_only_when_asked(fake: FakeSlack, client: WebClient) -> None:
    fake.scopes.append("channels:history")
    tag = {"event_type": "partner_nudge", "event_payload": {"nudge_ids": "7"}}
    parent = client.chat_postMessage(channel="C0001", text="parent", metadata=tag)["ts"]
    reply = client.chat_postMessage(channel="C0001", text="reply", thread_ts=parent, metadata=tag)["ts"]
    history = client.conversations_history(channel="C0001", include_all_metadata=True)["messages"]
    assert [m["ts"] for m in history] == [parent] and history[0]["metadata"] == tag  # replies are not in it
    thread = client.conversations_replies(channel="C0001", ts=parent, include_all_metadata=True)["messages"]
    assert [(m["ts"], m["metadata"]) for m in thread] == [(parent, tag), (reply, tag)]
    assert thread[1]["thread_ts"] == parent
    assert "metadata" not in client.conversations_replies(channel="C0001", ts=reply)["messages"][1]
    with pytest.raises(SlackApiError, match="message_not_found"):
        client.conversations_replies(channel="C0001", ts="1.000009")
    fake.scopes.remove("channels:history")
    with pytest.raises(SlackApiError, match="missing_scope"):
        client.conversations_replies(channel="C0001", ts=parent)


def test_reset_keeps_the_world(fake: FakeSlack, client: WebClient) -> None:
    client.chat_postMessage(channel="C0001", text="x")
    fake.fail_next("auth.test", error="invalid_auth")
    fake.reset()
    assert fake.calls == [] and not fake.messages
    assert client.auth_test()["ok"]
    assert client.conversations_info(channel="C0001")["channel"]["name"] == "general"


def test_a_request_held_past_a_reset_leaves_the_next_test_alone(fake: FakeSlack, client: WebClient) -> None:
    """A scripted delay can outlive its test: what it finally does must not show up in the next test's calls."""
    fake.fail_next("chat.postMessage", delay=0.5)
    slow = WebClient(token=TOKEN, base_url=fake.api_url, retry_handlers=[])
    answers: list[str] = []

    def post() -> None:
        try:
            slow.chat_postMessage(channel="C0001", text="old")
            answers.append("ok")
        except SlackApiError as e:
            answers.append(str(e.response["error"]))

    worker = threading.Thread(target=post)
    worker.start()
    held = threading.Event()
    for _ in range(500):  # until the fake holds the request (it took the scripted fault)
        with fake._lock:
            if not fake._faults.get("chat.postMessage"):
                break
        held.wait(0.01)
    fake.reset()  # the next test starts
    worker.join(timeout=10)
    assert answers == ["fake_slack_reset_meanwhile"]
    assert fake.calls == [] and not fake.messages
    assert client.chat_postMessage(channel="C0001", text="new")["ok"]
    assert [c.params["text"] for c in fake.calls] == ["new"]


# ---------------------------------------------------------------------- waiting


def test_wait_for_sees_calls_from_other_threads(fake: FakeSlack, client: WebClient) -> None:
    worker = threading.Thread(target=lambda: client.chat_postMessage(channel="C0001", text="bg"))
    worker.start()
    [call] = fake.wait_for("chat.postMessage", timeout=5)
    worker.join()
    assert call.params["text"] == "bg"


def test_wait_for_times_out_with_a_listing(fake: FakeSlack, client: WebClient) -> None:
    client.auth_test()
    started = time.monotonic()
    with pytest.raises(AssertionError, match=r"chat\.postMessage") as raised:
        fake.wait_for("chat.postMessage", timeout=0.1)
    assert time.monotonic() - started < 1
    assert "auth.test" in str(raised.value)


# ---------------------------------------------------------------------- Block Kit limits


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def _option(text: str = "Acme", value: str = "1", description: str | None = None) -> dict[str, Any]:
    option: dict[str, Any] = {"text": _plain(text), "value": value}
    if description is not None:
        option["description"] = _plain(description)
    return option


def _button(text: str = "Open", value: str = "1", **extra: Any) -> dict[str, Any]:
    return {"type": "button", "action_id": "a", "text": _plain(text), "value": value, **extra}


def _confirm(title: str = "Sure?", text: str = "Really?", confirm: str = "Yes", deny: str = "No") -> dict[str, Any]:
    return {"title": _plain(title), "text": _plain(text), "confirm": _plain(confirm), "deny": _plain(deny)}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _select(options: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"type": "static_select", "action_id": "s", "options": options, **extra}


def _input(element: dict[str, Any], label: str = "Note", **extra: Any) -> dict[str, Any]:
    return {"type": "input", "block_id": "b", "label": _plain(label), "element": element, **extra}


def _text_input(**extra: Any) -> dict[str, Any]:
    return {"type": "plain_text_input", "action_id": "t", **extra}


def _actions(*elements: dict[str, Any]) -> dict[str, Any]:
    return {"type": "actions", "elements": list(elements)}


# Each case is exactly at one documented limit (accepted) and then one past it (refused, at that pointer).
BLOCK_KIT_CASES: list[tuple[str, Any, Any, str]] = [
    ("section text", _section("x" * 3000), _section("x" * 3001), "/0/text/text"),
    (
        "section fields count",
        {"type": "section", "fields": [_plain("f")] * 10},
        {"type": "section", "fields": [_plain("f")] * 11},
        "/0/fields",
    ),
    (
        "section field text",
        {"type": "section", "fields": [_plain("f" * 2000)]},
        {"type": "section", "fields": [_plain("f" * 2001)]},
        "/0/fields/0/text",
    ),
    ("section needs text or fields", _section("x"), {"type": "section"}, "/0"),
    ("section text needs text", _section("x"), {"type": "section", "text": {"type": "mrkdwn"}}, "/0/text/text"),
    ("empty plain_text", _section("x"), {"type": "section", "text": _plain("")}, "/0/text/text"),
    (
        "header",
        {"type": "header", "text": _plain("h" * 150)},
        {"type": "header", "text": _plain("h" * 151)},
        "/0/text/text",
    ),
    (
        "context elements",
        {"type": "context", "elements": [_plain("c")] * 10},
        {"type": "context", "elements": [_plain("c")] * 11},
        "/0/elements",
    ),
    ("actions elements", _actions(*[_button()] * 25), _actions(*[_button()] * 26), "/0/elements"),
    ("button text", _actions(_button("b" * 75)), _actions(_button("b" * 76)), "/0/elements/0/text/text"),
    ("button value", _actions(_button(value="v" * 2000)), _actions(_button(value="v" * 2001)), "/0/elements/0/value"),
    (
        "button url",
        _actions(_button(url="https://x/" + "u" * 2990)),
        _actions(_button(url="https://x/" + "u" * 2991)),
        "/0/elements/0/url",
    ),
    (
        "action_id",
        _actions(_button(action_id="a" * 255)),
        _actions(_button(action_id="a" * 256)),
        "/0/elements/0/action_id",
    ),
    ("block_id", {"type": "divider", "block_id": "b" * 255}, {"type": "divider", "block_id": "b" * 256}, "/0/block_id"),
    (
        "option text",
        _actions(_select([_option("o" * 75)])),
        _actions(_select([_option("o" * 76)])),
        "/0/elements/0/options/0/text/text",
    ),
    (
        "option value",
        _actions(_select([_option(value="v" * 150)])),
        _actions(_select([_option(value="v" * 151)])),
        "/0/elements/0/options/0/value",
    ),
    (
        "option description",
        _actions(_select([_option(description="d" * 75)])),
        _actions(_select([_option(description="d" * 76)])),
        "/0/elements/0/options/0/description/text",
    ),
    (
        "static_select options",
        _actions(_select([_option()] * 100)),
        _actions(_select([_option()] * 101)),
        "/0/elements/0/options",
    ),
    (
        "static_select option_groups",
        _actions({"type": "static_select", "option_groups": [{"label": _plain("g"), "options": [_option()]}] * 100}),
        _actions({"type": "static_select", "option_groups": [{"label": _plain("g"), "options": [_option()]}] * 101}),
        "/0/elements/0/option_groups",
    ),
    (
        "overflow at most 5",
        _actions({"type": "overflow", "options": [_option()] * 5}),
        _actions({"type": "overflow", "options": [_option()] * 6}),
        "/0/elements/0/options",
    ),
    (
        "overflow at least 2",
        _actions({"type": "overflow", "options": [_option()] * 2}),
        _actions({"type": "overflow", "options": [_option()]}),
        "/0/elements/0/options",
    ),
    (
        "radio_buttons",
        _actions({"type": "radio_buttons", "options": [_option()] * 10}),
        _actions({"type": "radio_buttons", "options": [_option()] * 11}),
        "/0/elements/0/options",
    ),
    (
        "checkboxes",
        _actions({"type": "checkboxes", "options": [_option()] * 10}),
        _actions({"type": "checkboxes", "options": [_option()] * 11}),
        "/0/elements/0/options",
    ),
    ("input label", _input(_text_input(), "l" * 2000), _input(_text_input(), "l" * 2001), "/0/label/text"),
    (
        "input hint",
        _input(_text_input(), hint=_plain("h" * 2000)),
        _input(_text_input(), hint=_plain("h" * 2001)),
        "/0/hint/text",
    ),
    (
        "plain_text_input placeholder",
        _input(_text_input(placeholder=_plain("p" * 150))),
        _input(_text_input(placeholder=_plain("p" * 151))),
        "/0/element/placeholder/text",
    ),
    (
        "initial_value within max_length",
        _input(_text_input(max_length=10, initial_value="i" * 10)),
        _input(_text_input(max_length=10, initial_value="i" * 11)),
        "/0/element/initial_value",
    ),
    (
        "plain_text_input max_length",
        _input(_text_input(max_length=3000)),
        _input(_text_input(max_length=3001)),
        "/0/element/max_length",
    ),
    (
        "plain_text_input min_length",
        _input(_text_input(min_length=3000)),
        _input(_text_input(min_length=3001)),
        "/0/element/min_length",
    ),
    (
        "context text",
        {"type": "context", "elements": [_plain("c" * 3000)]},
        {"type": "context", "elements": [_plain("c" * 3001)]},
        "/0/elements/0/text",
    ),
    ("static_select needs an option", _actions(_select([_option()])), _actions(_select([])), "/0/elements/0/options"),
    (
        "initial_option is one of the options",
        _actions(_select([_option("a", "1"), _option("b", "2")], initial_option=_option("b", "2"))),
        _actions(_select([_option("a", "1")], initial_option=_option("b", "2"))),
        "/0/elements/0/initial_option",
    ),
    (
        "initial_options are among the options",
        _input({"type": "checkboxes", "options": [_option("a", "1")], "initial_options": [_option("a", "1")]}),
        _input({"type": "checkboxes", "options": [_option("a", "1")], "initial_options": [_option("a", "2")]}),
        "/0/element/initial_options/0",
    ),
    (
        "datepicker initial_date",
        _input({"type": "datepicker", "initial_date": "2026-11-27"}),
        _input({"type": "datepicker", "initial_date": "27/11/2026"}),
        "/0/element/initial_date",
    ),
    (
        "image alt_text",
        {"type": "image", "image_url": "https://x/i.png", "alt_text": "a" * 2000},
        {"type": "image", "image_url": "https://x/i.png", "alt_text": "a" * 2001},
        "/0/alt_text",
    ),
    (
        "confirm title",
        _actions(_button(confirm=_confirm(title="t" * 100))),
        _actions(_button(confirm=_confirm(title="t" * 101))),
        "/0/elements/0/confirm/title/text",
    ),
    (
        "confirm text",
        _actions(_button(confirm=_confirm(text="t" * 300))),
        _actions(_button(confirm=_confirm(text="t" * 301))),
        "/0/elements/0/confirm/text/text",
    ),
    (
        "confirm button",
        _actions(_button(confirm=_confirm(confirm="c" * 30))),
        _actions(_button(confirm=_confirm(confirm="c" * 31))),
        "/0/elements/0/confirm/confirm/text",
    ),
    (
        "deny button",
        _actions(_button(confirm=_confirm(deny="d" * 30))),
        _actions(_button(confirm=_confirm(deny="d" * 31))),
        "/0/elements/0/confirm/deny/text",
    ),
]


@pytest.mark.parametrize(("case", "ok", "bad", "pointer"), BLOCK_KIT_CASES, ids=[c[0] for c in BLOCK_KIT_CASES])
def test_block_kit_walker_takes_each_limit_and_refuses_one_past_it(case: str, ok: Any, bad: Any, pointer: str) -> None:
    assert block_kit_violation([ok], "") is None, case
    violation = block_kit_violation([bad], "")
    assert violation is not None and violation.pointer == pointer, (case, violation)


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
def test_every_blocks_call_refuses_a_broken_limit(fake: FakeSlack, client: WebClient) -> None:
    bad = [_section("x" * 3001)]
    posted = client.chat_postMessage(channel="C0001", text="ok", blocks=[_section("x" * 3000)])
    for call in (
        lambda: client.chat_postMessage(channel="C0001", text="x", blocks=bad),
        lambda: client.chat_postEphemeral(channel="C0001", user="U0001", text="x", blocks=bad),
        lambda: client.chat_update(channel="C0001", ts=posted["ts"], text="x", blocks=bad),
    ):
        with pytest.raises(SlackApiError) as raised:
            call()
        assert raised.value.response["error"] == "invalid_blocks"
    for call in (
        lambda: client.views_open(trigger_id=new_trigger_id(), view=_modal(blocks=bad)),
        lambda: client.views_publish(user_id="U0001", view={"type": "home", "blocks": bad}),
    ):
        with pytest.raises(SlackApiError) as raised:
            call()
        assert raised.value.response["error"] == "invalid_arguments"
        assert raised.value.response["response_metadata"]["messages"] == [
            "[ERROR] must be less than 3001 characters [json-pointer:/view/blocks/0/text/text]"
        ]
    for call in (
        lambda: client.chat_postMessage(channel="C0001", text="x" * 40_001),
        lambda: client.chat_postEphemeral(channel="C0001", user="U0001", text="x" * 40_001),
        lambda: client.chat_update(channel="C0001", ts=posted["ts"], text="x" * 40_001),
    ):
        with pytest.raises(SlackApiError) as raised:
            call()
        assert raised.value.response["error"] == "msg_too_long"
    assert client.chat_postMessage(channel="C0001", text="x" * 40_000)["ok"]
    webhook = WebhookClient(fake.response_url())
    assert webhook.send(text="x", blocks=[_section("x")] * 51).status_code == 400
    assert webhook.send(text="x", blocks=bad).status_code == 400
    assert webhook.send(text="x", blocks=[_section("x" * 3000)]).status_code == 200


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
def test_a_posted_message_whose_blocks_hold_too_much_text_together_is_refused(
    fake: FakeSlack, client: WebClient
) -> None:
    """Each section within its 3,000 characters, but 11,200 of them in one message: msg_blocks_too_long, as Slack
    answers chat.postMessage and chat.update; a reply through response_url takes it."""
    too_much = [_section("x" * 2800)] * 4
    posted = client.chat_postMessage(channel="C0001", text="ok", blocks=too_much[:3])
    for call in (
        lambda: client.chat_postMessage(channel="C0001", text="x", blocks=too_much),
        lambda: client.chat_update(channel="C0001", ts=posted["ts"], text="x", blocks=too_much),
    ):
        with pytest.raises(SlackApiError) as raised:
            call()
        assert raised.value.response["error"] == "msg_blocks_too_long"
    assert WebhookClient(fake.response_url()).send(text="x", blocks=too_much).status_code == 200


def test_an_ack_whose_blocks_break_a_limit_fails_the_test_as_slack_would_refuse_it() -> None:
    def ack(body: dict[str, Any]) -> Response:
        return Response(200, {"Content-Type": "application/json;charset=utf-8"}, json.dumps(body).encode())

    check_ack_blocks(ack({"response_type": "ephemeral", "text": "x", "blocks": [_section("x" * 3000)]}))
    check_ack_blocks(ack({"response_action": "update", "view": _modal(blocks=[_section("x" * 3000)])}))
    with pytest.raises(AssertionError, match="invalid_blocks"):
        check_ack_blocks(ack({"response_type": "ephemeral", "text": "x", "blocks": [_section("x" * 3001)]}))
    with pytest.raises(AssertionError, match="json-pointer:/view/blocks/0/text/text"):
        check_ack_blocks(ack({"response_action": "push", "view": _modal(blocks=[_section("x" * 3001)])}))


# ---------------------------------------------------------------------- views


def _modal(title: str = "Partner", blocks: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": "plan",
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": "Save"},
        "blocks": blocks if blocks is not None else [{"type": "section", "text": {"type": "mrkdwn", "text": "x"}}],
        "private_metadata": "meta",
    }


def test_views_open_update_push(fake: FakeSlack, client: WebClient) -> None:
    opened = client.views_open(trigger_id=new_trigger_id(), view=_modal())["view"]
    assert opened["id"].startswith("V") and opened["state"] == {"values": {}}
    assert opened["callback_id"] == "plan" and opened["private_metadata"] == "meta"
    assert fake.views[opened["id"]]["hash"] == opened["hash"]
    assert fake.calls_to("views.open")[0].params["view"]["type"] == "modal"

    updated = client.views_update(view_id=opened["id"], hash=opened["hash"], view=_modal("Saved"))["view"]
    assert updated["id"] == opened["id"] and updated["hash"] != opened["hash"]
    assert fake.views[opened["id"]]["title"]["text"] == "Saved"
    with pytest.raises(SlackApiError, match="hash_conflict"):
        client.views_update(view_id=opened["id"], hash=opened["hash"], view=_modal())
    with pytest.raises(SlackApiError, match="not_found"):
        client.views_update(view_id="VNOPE", view=_modal())

    pushed = client.views_push(trigger_id=new_trigger_id(), view=_modal("Step 2"))["view"]
    assert pushed["id"] != opened["id"]


def test_views_push_stacks_on_the_modal_the_click_came_from_and_at_most_three_deep(
    fake: FakeSlack, client: WebClient
) -> None:
    root = client.views_open(trigger_id=new_trigger_id(), view=_modal())["view"]
    below = root
    for step in (2, 3):
        trigger = new_trigger_id()
        fake.note_trigger_from_view(trigger, below["id"])  # a click inside `below`, as Slack saw it
        pushed = client.views_push(trigger_id=trigger, view=_modal(f"Step {step}"))["view"]
        assert (pushed["previous_view_id"], pushed["root_view_id"]) == (below["id"], root["id"])
        below = pushed
    assert fake.view_stack(below["id"]) == [
        root["id"],
        fake.calls_to("views.push")[0].response["view"]["id"],
        below["id"],
    ]
    trigger = new_trigger_id()
    fake.note_trigger_from_view(trigger, below["id"])
    with pytest.raises(SlackApiError, match="push_limit_reached"):  # the root and two pushed views at most
        client.views_push(trigger_id=trigger, view=_modal("Step 4"))
    with pytest.raises(SlackApiError, match="invalid_arguments"):  # the pushed view is checked like any other
        client.views_push(trigger_id=new_trigger_id(), view=_modal(title="A title that is far too long"))


@pytest.mark.parametrize(
    ("trigger_id", "view", "error"),
    [
        ("", _modal(), "invalid_trigger_id"),
        ("1.2.3", _modal(blocks=[{"type": "divider"}] * 101), "invalid_arguments"),
        ("1.2.3", _modal(title="A title that is far too long"), "invalid_arguments"),
        ("1.2.3", {**_modal(), "type": "home"}, "invalid_arguments"),
    ],
)
def test_views_open_errors(client: WebClient, trigger_id: str, view: dict[str, Any], error: str) -> None:
    with pytest.raises(SlackApiError) as raised:
        client.views_open(trigger_id=trigger_id, view=view)
    assert raised.value.response["error"] == error
    if error == "invalid_arguments":
        assert raised.value.response["response_metadata"]["messages"][0].startswith("[ERROR]")


def test_views_publish(fake: FakeSlack, client: WebClient) -> None:
    home = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Home"}}]}
    first = client.views_publish(user_id="U0001", view=home)["view"]
    again = client.views_publish(user_id="U0001", view=home, hash=first["hash"])["view"]
    assert fake.published_home["U0001"]["id"] == first["id"] == again["id"]
    assert fake.published_home["U0001"]["hash"] == again["hash"]
    with pytest.raises(SlackApiError, match="hash_conflict"):
        client.views_publish(user_id="U0001", view=home, hash=first["hash"])
    with pytest.raises(SlackApiError, match="user_not_found"):
        client.views_publish(user_id="U4040", view=home)
    with pytest.raises(SlackApiError, match="invalid_arguments"):
        client.views_publish(user_id="U0001", view=_modal())


# ---------------------------------------------------------------------- users and conversations


def test_users_info(fake: FakeSlack, client: WebClient) -> None:
    user = client.users_info(user="U0001")["user"]
    assert user["id"] == "U0001" and user["team_id"] == "T0001" and user["name"] == "dana"
    assert user["tz"] == "Europe/Paris" and user["tz_offset"] in (3600, 7200)
    assert user["tz_label"].startswith("Central European")
    assert user["is_admin"] is True and user["is_owner"] is False and user["deleted"] is False
    assert user["profile"]["display_name"] == "dana"
    assert client.users_lookupByEmail(email="dana@example.com")["user"]["id"] == "U0001"
    assert client.users_info(user="UBOT")["user"]["is_bot"] is True
    with pytest.raises(SlackApiError, match="user_not_found"):
        client.users_info(user="U4040")


def test_conversations(fake: FakeSlack, client: WebClient) -> None:
    fake.add_channel("C0002", name="deals", is_member=False, is_private=True, members=["U0001", "U0002"])
    fake.add_channel("C0003", name="archive", is_member=False, is_archived=True)
    fake.add_user("U0002", name="eli", deleted=True)

    opened = client.conversations_open(users="U0001")
    assert opened["channel"]["id"].startswith("D") and "already_open" not in opened
    assert client.conversations_open(users="U0001")["channel"]["id"] == opened["channel"]["id"]
    with pytest.raises(SlackApiError, match="user_disabled"):
        client.conversations_open(users="U0002")

    with pytest.raises(SlackApiError, match="channel_not_found"):  # a private channel is seen only from inside
        client.conversations_info(channel="C0002")
    with pytest.raises(SlackApiError, match="channel_not_found"):  # nor joined: only invited to
        client.conversations_join(channel="C0002")
    fake.channels["C0002"]["is_member"] = True  # /invite @Partner
    with pytest.raises(SlackApiError, match="method_not_supported_for_channel_type"):
        client.conversations_join(channel="C0002")
    info = client.conversations_info(channel="C0002")["channel"]
    assert info["is_private"] is True and info["is_member"] is True
    fake.scopes.remove("groups:read")  # each conversation type needs its own read scope
    with pytest.raises(SlackApiError, match="missing_scope"):
        client.conversations_info(channel="C0002")
    assert client.conversations_info(channel="C0001")["channel"]["is_private"] is False
    fake.scopes.append("groups:read")
    assert client.conversations_join(channel="C0001")["warning"] == "already_in_channel"
    with pytest.raises(SlackApiError, match="is_archived"):
        client.conversations_join(channel="C0003")
    with pytest.raises(SlackApiError, match="channel_not_found"):
        client.conversations_info(channel="C4040")

    page = client.conversations_members(channel="C0002", limit=2)
    assert page["members"] == ["U0001", "U0002"]
    rest = client.conversations_members(channel="C0002", limit=2, cursor=page["response_metadata"]["next_cursor"])
    assert rest["members"] == ["UBOT"] and rest["response_metadata"]["next_cursor"] == ""

    listed = client.conversations_list(types="public_channel,private_channel", exclude_archived=True)
    assert [c["id"] for c in listed["channels"]] == ["C0001", "C0002"]


# ---------------------------------------------------------------------- files and response URLs


def test_files_upload_v2_round_trip(fake: FakeSlack, client: WebClient) -> None:
    payload = b"name,stage\nacme,partner\n"
    result = client.files_upload_v2(
        channel="C0001", content=payload, filename="pipeline.csv", title="Pipeline", initial_comment="Here"
    )
    file_id = result["file"]["id"]
    stored = fake.files[file_id]
    assert stored["bytes"] == payload and stored["filename"] == "pipeline.csv"
    assert stored["title"] == "Pipeline" and stored["channel_id"] == "C0001" and stored["initial_comment"] == "Here"
    assert [c.method for c in fake.calls] == ["files.getUploadURLExternal", "upload", "files.completeUploadExternal"]
    assert fake.messages["C0001"][-1]["files"][0]["id"] == file_id

    info = client.files_info(file=file_id)["file"]
    assert info["size"] == len(payload) and info["mimetype"] == "text/csv"
    download = urllib.request.Request(info["url_private"], headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(download, timeout=5) as response:
        assert response.read() == payload
    with pytest.raises(SlackApiError, match="file_not_found"):
        client.files_info(file="F4040")


def test_response_url_posts_are_recorded(fake: FakeSlack) -> None:
    url = fake.response_url()
    assert url.startswith(f"{fake.base_url}/response/") and url != fake.response_url()
    response = WebhookClient(url).send(text="Saved", response_type="ephemeral", replace_original=False)
    assert response.status_code == 200
    [post] = fake.response_url_posts
    assert post.params["text"] == "Saved" and post.path == urllib.parse.urlsplit(url).path
    assert fake.calls_to("response_url") == [post]
    assert WebhookClient(f"{fake.base_url}/response/unknown").send(text="x").status_code == 404


# ---------------------------------------------------------------------- signatures


def test_sign_matches_slacks_documented_example() -> None:
    body = (
        b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
        b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
        b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
        b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    expected = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    assert sign("8f742231b10e8888abcd99yyyzzz85a5", body, 1531420618) == expected


def test_sign_is_accepted_by_the_sdk_verifier() -> None:
    body, now = b'{"type":"event_callback"}', int(time.time())
    verifier = SignatureVerifier(SECRET)
    assert verifier.is_valid(body, now, sign(SECRET, body, now))
    assert not verifier.is_valid(body + b" ", now, sign(SECRET, body, now))
    assert not verifier.is_valid(body, now, sign("other-secret", body, now))


class _Capture(BaseHTTPRequestHandler):
    seen: list[tuple[dict[str, str], bytes]]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.seen.append(({k.lower(): v for k, v in self.headers.items()}, body))
        status = 401 if self.path == "/deny" else 200
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


def test_post_signs_and_sets_retry_headers() -> None:
    seen: list[tuple[dict[str, str], bytes]] = []
    handler = type("Capture", (_Capture,), {"seen": seen})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        requests = SlackRequests(f"http://127.0.0.1:{server.server_address[1]}", signing_secret=SECRET)
        assert requests.event({"type": "app_mention", "text": "hi"}, retry_num=1).status == 200
        assert requests.command("help", path="/deny").status == 401  # error statuses come back, not raised
    finally:
        server.shutdown()
        server.server_close()
    (headers, body), (command_headers, command_body) = seen
    verifier = SignatureVerifier(SECRET)
    assert verifier.is_valid_request(body, headers)
    assert headers["x-slack-retry-num"] == "1" and headers["x-slack-retry-reason"] == "http_timeout"
    assert headers["content-type"] == "application/json"
    envelope = json.loads(body)
    assert envelope["type"] == "event_callback" and envelope["event"]["type"] == "app_mention"
    assert envelope["authorizations"][0]["user_id"] == "UBOT" and envelope["event_id"].startswith("Ev")
    assert verifier.is_valid_request(command_body, command_headers)
    assert "x-slack-retry-num" not in command_headers
    form = dict(urllib.parse.parse_qsl(command_body.decode()))
    assert form["command"] == "/partner" and form["text"] == "help" and form["is_enterprise_install"] == "false"
    assert len(form["trigger_id"].split(".")) == 3


# ---------------------------------------------------------------------- end to end through a Bolt app


class _QuietWSGI(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def bolt() -> Iterator[tuple[FakeSlack, SlackRequests]]:
    """A real Bolt app behind a WSGI server, calling the fake; driven by SlackRequests."""
    fake = FakeSlack().start()
    fake.add_user("U0001", name="dana")
    fake.add_channel("C0001", name="general")
    app = App(signing_secret=SECRET, client=WebClient(token=TOKEN, base_url=fake.api_url))

    @app.command("/partner")
    def on_command(ack: Ack, command: dict[str, Any], say: Say, respond: Respond) -> None:
        ack()
        say(f"echo {command['text']}")
        respond("only you see this")

    @app.action("approve")
    def on_approve(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        client.chat_update(channel=body["channel"]["id"], ts=body["message"]["ts"], text=f"ok {action['value']}")

    @app.action("stage")
    def on_stage(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        picked = action["selected_option"]["value"]
        client.views_update(view_id=body["view"]["id"], hash=body["view"]["hash"], view=_modal(f"Stage {picked}"))

    @app.view("plan")
    def on_submit(ack: Ack, view: dict[str, Any]) -> None:
        goal = view["state"]["values"]["goal"]["goal_input"]["value"]
        if not goal:
            ack(response_action="errors", errors={"goal": "Required"})
            return
        ack()

    @app.view_closed("plan")
    def on_closed(ack: Ack, client: WebClient) -> None:
        ack()
        client.chat_postMessage(channel="C0001", text="closed")

    @app.shortcut("new_plan")
    def on_shortcut(ack: Ack, shortcut: dict[str, Any], client: WebClient) -> None:
        ack()
        client.views_open(trigger_id=shortcut["trigger_id"], view=_modal())

    @app.shortcut("save_message")
    def on_message_action(ack: Ack, shortcut: dict[str, Any], client: WebClient) -> None:
        ack()
        client.chat_postMessage(channel=shortcut["channel"]["id"], text=f"saved {shortcut['message']['text']}")

    @app.options("account")
    def on_options(ack: Ack, payload: dict[str, Any]) -> None:
        ack(options=[{"text": {"type": "plain_text", "text": payload["value"]}, "value": payload["value"]}])

    @app.event("app_mention")
    def on_mention(event: dict[str, Any], say: Say) -> None:
        say(text="hi", thread_ts=event["ts"])

    wsgi: WSGIServer = make_server("127.0.0.1", 0, SlackRequestHandler(app), handler_class=_QuietWSGI)
    thread = threading.Thread(target=wsgi.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    requests = SlackRequests(f"http://127.0.0.1:{wsgi.server_port}", signing_secret=SECRET, fake=fake)
    try:
        yield fake, requests
    finally:
        wsgi.shutdown()
        wsgi.server_close()
        fake.stop()
        assert not fake.errors, "\n".join(fake.errors)


def test_bolt_command_say_and_respond(bolt: tuple[FakeSlack, SlackRequests]) -> None:
    fake, requests = bolt
    fake.reset()
    assert requests.command("status acme").status == 200
    [post] = fake.wait_for("chat.postMessage")
    assert post.params["channel"] == "C0001" and post.params["text"] == "echo status acme"
    [responded] = fake.wait_for("response_url")
    assert responded.params["text"] == "only you see this"
    assert responded.path.endswith(requests.last_payload["response_url"].rsplit("/", 1)[1])


def test_bolt_rejects_bad_or_stale_signatures(bolt: tuple[FakeSlack, SlackRequests]) -> None:
    fake, requests = bolt
    fake.reset()
    assert requests.command("x", signature="v0=deadbeef").status == 401
    stale = SlackRequests(requests.base_url, signing_secret=SECRET, clock=lambda: time.time() - 600)
    assert stale.command("x").status == 401
    assert requests.url_verification("c-123").json() == {"challenge": "c-123"}
    assert requests.ssl_check().status == 200
    assert fake.calls == []


def test_bolt_block_action_and_message_action(bolt: tuple[FakeSlack, SlackRequests]) -> None:
    fake, requests = bolt
    fake.reset()
    ts = WebClient(token=TOKEN, base_url=fake.api_url).chat_postMessage(channel="C0001", text="Approve?")["ts"]
    message = fake.messages["C0001"][0]
    assert requests.block_action("approve", value="42", message=message).status == 200
    fake.wait_for("chat.update")
    assert fake.messages["C0001"][0]["text"] == "ok 42"

    assert requests.message_action("save_message", {"ts": ts, "text": "Approve?"}).status == 200
    posts = fake.wait_for("chat.postMessage", count=2)
    assert posts[-1].params["text"] == "saved Approve?"


def test_bolt_views_shortcut_options_and_events(bolt: tuple[FakeSlack, SlackRequests]) -> None:
    fake, requests = bolt
    fake.reset()
    empty = {"goal": {"goal_input": {"type": "plain_text_input", "value": None}}}
    rejected = requests.view_submission("plan", empty)
    assert rejected.json() == {"response_action": "errors", "errors": {"goal": "Required"}}
    filled = {"goal": {"goal_input": {"type": "plain_text_input", "value": "Co-sell"}}}
    accepted = requests.view_submission("plan", filled)
    assert accepted.status == 200 and accepted.body == b""

    assert requests.view_closed("plan").status == 200
    assert fake.wait_for("chat.postMessage")[0].params["text"] == "closed"

    assert requests.shortcut("new_plan", trigger_id="111.222.abc").status == 200
    [opened] = fake.wait_for("views.open")
    assert opened.params["trigger_id"] == "111.222.abc" and opened.status == 200

    options = requests.block_suggestion("account", "acm").json()
    assert options == {"options": [{"text": {"type": "plain_text", "text": "acm"}, "value": "acm"}]}

    event = {
        "type": "app_mention",
        "user": "U0001",
        "text": "<@UBOT> hi",
        "ts": "1764100001.000100",
        "channel": "C0001",
    }
    assert requests.event(event).status == 200
    posts = fake.wait_for("chat.postMessage", count=2)
    assert posts[-1].params["thread_ts"] == "1764100001.000100"


def test_bolt_block_action_in_a_modal_updates_it(bolt: tuple[FakeSlack, SlackRequests]) -> None:
    fake, requests = bolt
    fake.reset()
    client = WebClient(token=TOKEN, base_url=fake.api_url)
    view = client.views_open(trigger_id=new_trigger_id(), view=_modal())["view"]
    option = {"text": {"type": "plain_text", "text": "Won"}, "value": "won"}
    response = requests.block_action(
        "stage", view=fake.views[view["id"]], action_type="static_select", selected_option=option
    )
    assert response.status == 200
    [update] = fake.wait_for("views.update")
    assert update.status == 200 and update.response["ok"], update.response
    assert fake.views[view["id"]]["title"]["text"] == "Stage won"
    assert "response_url" not in requests.last_payload and requests.last_payload["container"]["type"] == "view"
