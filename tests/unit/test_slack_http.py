"""The nudge sender's keep-alive client against the fake Slack (and a tiny HTTP server for what the fake never does):
a plain success is read directly, every other outcome is slack-sdk's to handle, exactly as if it had posted."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.app import make_client
from bot.settings import Settings
from handlers.blocks import section
from schedules.slack_http import KeepAliveWebClient, same_client_as
from tests.fake_slack import FakeSlack
from tests.utils import TEAM_ID

POST = {
    "channel": "C0001",
    "text": "Time for the call with Acme",
    "blocks": [section("Time for the call with *Acme*")],
    "metadata": {"event_type": "partner_nudge", "event_payload": {"nudge_ids": "1,2"}},
    "unfurl_links": False,
    "unfurl_media": False,
    "thread_ts": None,
}


@pytest.fixture
def client(fake_slack: FakeSlack) -> WebClient:
    settings = Settings.from_mapping(
        {
            "SLACK_BOT_TOKEN": fake_slack.bot_token,
            "SLACK_SIGNING_SECRET": "test-signing-secret",
            "SLACK_API_URL": fake_slack.api_url,
            "DATABASE_URL": "sqlite:///partner.db",  # never opened
        }
    )
    return make_client(settings)


@pytest.fixture
def twin(client: WebClient) -> Iterator[KeepAliveWebClient]:
    kept = same_client_as(client, KeepAliveWebClient)
    yield kept
    kept.close()


def test_a_post_carries_exactly_what_slack_sdk_would_send(
    client: WebClient, twin: KeepAliveWebClient, fake_slack: FakeSlack
) -> None:
    client.default_params = twin.default_params = {"team_id": TEAM_ID}  # Bolt's, for org-wide installs
    by_sdk = client.chat_postMessage(**POST)
    answer = twin.post_message(**POST)
    sdk_call, lean_call = fake_slack.calls_to("chat.postMessage")
    assert lean_call.params == sdk_call.params and "thread_ts" not in lean_call.params
    for header in ("content-type", "authorization", "user-agent"):
        assert lean_call.headers[header] == sdk_call.headers[header], header
    assert answer["ok"] and answer["channel"] == by_sdk["channel"] == "C0001"
    assert answer["ts"] == fake_slack.messages["C0001"][-1]["ts"] != by_sdk["ts"]


def test_a_refusal_is_slack_sdks_error_and_is_not_posted_again(twin: KeepAliveWebClient, fake_slack: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as refused:
        twin.post_message(**{**POST, "channel": "C0NOPE"})
    assert refused.value.response["error"] == "channel_not_found" and refused.value.response.status_code == 200
    assert len(fake_slack.calls_to("chat.postMessage")) == 1  # handed over as the first attempt's answer, not re-sent


def test_a_429_and_a_5xx_go_through_slack_sdks_retry_handlers(twin: KeepAliveWebClient, fake_slack: FakeSlack) -> None:
    fake_slack.fail_next("chat.postMessage", status=429, retry_after=0)
    fake_slack.fail_next("*", status=503)  # the retry's answer
    answer = twin.post_message(**POST)
    assert [c.status for c in fake_slack.calls_to("chat.postMessage")] == [429, 503, 200]
    assert answer["ts"] == fake_slack.messages["C0001"][-1]["ts"]
    fake_slack.fail_next("chat.postMessage", status=500, times=3)  # past the client's two retries
    with pytest.raises(SlackApiError) as failed:
        twin.post_message(**POST)
    assert failed.value.response.status_code == 500 and len(fake_slack.calls_to("chat.postMessage")) == 6


def test_a_timeout_waiting_for_the_answer_is_raised_not_retried(client: WebClient, fake_slack: FakeSlack) -> None:
    """As with urllib: the post may have reached Slack, so slack-sdk does not send it again; the sender's outbox
    decides (retry later, or find it in the history)."""
    kept = same_client_as(client, KeepAliveWebClient, timeout=1)
    fake_slack.fail_next("chat.postMessage", delay=1.5)
    try:
        with pytest.raises(TimeoutError):
            kept.post_message(**POST)
        assert kept.post_message(**POST)["ok"]  # on a fresh connection: the timed-out one may still get its answer
        fake_slack.wait_for("chat.postMessage", 2)
    finally:
        kept.close()
    assert len(fake_slack.calls_to("chat.postMessage")) == 2  # the timed-out post was not sent again


class _Chunked(BaseHTTPRequestHandler):
    """Answers every POST with a chunked body split mid-JSON, then keeps the connection."""

    protocol_version = "HTTP/1.1"
    answers: tuple[bytes, ...] = (b'{"ok": true, "channel": "C0001", ', b'"ts": "1700000000.000100"}')

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for part in self.answers:
            self.wfile.write(b"%x;ext=1\r\n%s\r\n" % (len(part), part))
        self.wfile.write(b"0\r\nX-Trailer: yes\r\n\r\n")

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_a_chunked_answer_is_read_whole_and_the_connection_kept() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Chunked)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    kept = KeepAliveWebClient(token="xoxb-test", base_url=f"http://127.0.0.1:{server.server_address[1]}/api/")
    try:
        for _ in range(2):
            assert kept.post_message(**POST) == {"ok": True, "channel": "C0001", "ts": "1700000000.000100"}
        assert len(kept._opened) == 1
    finally:
        kept.close()
        server.shutdown()
        server.server_close()
