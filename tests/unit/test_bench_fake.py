"""The fan-out benchmark's fast front for the fake Slack answers exactly as the test suite's fake does: same
methods, same per-channel chat.postMessage pace with 429 + Retry-After, same record of calls, kept connections."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bench.fake_slack_server import FastFront
from schedules.slack_http import KeepAliveWebClient
from tests.fake_slack import FakeSlack


@pytest.fixture
def front(fake_slack: FakeSlack) -> Iterator[FastFront]:
    with FastFront(fake_slack) as serving:
        yield serving


def test_the_fast_front_keeps_the_fakes_pace_and_429s(fake_slack: FakeSlack, front: FastFront) -> None:
    fake_slack.post_interval = 1.0
    fake_slack.add_channel("C0002", name="two")
    plain = WebClient(token=fake_slack.bot_token, base_url=front.api_url, retry_handlers=[])
    kept = KeepAliveWebClient(token=fake_slack.bot_token, base_url=front.api_url, retry_handlers=[])
    try:
        assert kept.post_message(channel="C0001", text="first")["ok"]
        with pytest.raises(SlackApiError) as limited:
            kept.post_message(channel="C0001", text="too soon")
        assert limited.value.response.status_code == 429 and limited.value.response.headers["Retry-After"] == "1"
        assert kept.post_message(channel="C0002", text="another channel")["ok"]
        assert plain.auth_test()["team_id"] == fake_slack.team_id  # urllib's one-shot call, Connection: close
    finally:
        kept.close()
    assert [(c.params.get("channel"), c.status) for c in fake_slack.calls_to("chat.postMessage")] == [
        ("C0001", 200),
        ("C0001", 429),
        ("C0002", 200),
    ]
    assert [m["text"] for m in fake_slack.messages["C0001"]] == ["first"]
