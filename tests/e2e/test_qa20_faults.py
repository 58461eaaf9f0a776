"""Session 20 QA of retries and faults, as Slack and a real network produce them: signed requests to the real app
(HTTP and Socket Mode), the fake Slack told to fail, ticks with an injected now."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.e2e.test_socket_mode import handler, sm  # noqa: F401  (sm's fixture)
from tests.fake_slack import FakeSlack
from tests.fake_socket_mode import SocketModeRequests
from tests.slack_requests import SlackRequests
from tests.utils import TEAM_ID, BotServer

SQLITE_ONLY = pytest.mark.parametrize("scratch_database", ["sqlite"], indirect=True)


def app_rate_limited(slack: SlackRequests, minute: int) -> dict[str, Any]:
    """Slack's notice that it dropped this workspace's events (over 30,000 an hour): no inner event."""
    return {
        "token": slack.verification_token,
        "type": "app_rate_limited",
        "team_id": TEAM_ID,
        "minute_rate_limited": minute,
        "api_app_id": slack.api_app_id,
    }


def rate_limit_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and "rate limit" in r.getMessage()]


@SQLITE_ONLY
def test_slack_rate_limiting_the_workspaces_events_is_acked_200_and_the_operator_told_what_was_lost(
    slack: SlackRequests, bot: BotServer, caplog: pytest.LogCaptureFixture
) -> None:
    # Slack counts every answer to an event delivery that is not 200 against the app and turns its events off past
    # 5 % in an hour: Bolt answered this notice 404 (no listener matches a payload without an inner event), at the
    # very moment Slack was already dropping the workspace's events, and the operator read only Bolt's "Unhandled
    # request" with a code sample to add a listener.
    with caplog.at_level(logging.INFO):
        answer = slack._post_json(app_rate_limited(slack, 1795791600), {})
    assert (answer.status, answer.body) == (200, b""), answer.text
    (told,) = rate_limit_warnings(caplog)
    assert TEAM_ID in told and "2026-11-27 15:00 UTC" in told, told
    assert "Unhandled request" not in caplog.text


@SQLITE_ONLY
def test_slack_rate_limiting_the_workspaces_events_is_acked_over_socket_mode(
    sm: SocketModeRequests,  # noqa: F811
    fake_slack: FakeSlack,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Unanswered, the envelope is sent again (and again) by Slack, each time one more delivery that failed.
    with caplog.at_level(logging.INFO):
        ack = sm._post_json(app_rate_limited(sm, 1795791600), {})
    assert ack.status == 200
    assert len(rate_limit_warnings(caplog)) == 1, caplog.text
