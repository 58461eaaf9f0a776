"""Gaps in issues 5 (boundaries) and 6 (surveys): signed requests to the real app, every message read back from the
fake Slack."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bot.settings import Settings
from handlers.ids import (
    BOUNDARY_DECIDE_RENEGOTIATE,
    BOUNDARY_KIND,
    BOUNDARY_RENEGOTIATE_MODAL,
    BOUNDARY_TEXT,
    BOUNDARY_VALUE,
)
from storage.store import Store
from tests.e2e import test_boundaries, test_hardening
from tests.e2e.test_boundaries import _escalate, records
from tests.e2e.test_hardening import drain_lazy_listeners
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import BotServer, FakeClock

# The real app with a 1 s Web API timeout (fixtures shared with the hardening tests).
impatient_bot = test_hardening.impatient_bot
impatient = test_hardening.impatient


def acme_corp(slack: SlackRequests, clock: FakeClock) -> SlackRequests:
    """test_boundaries' Acme Corp: Dana's, with its channel and two proposed needs."""
    return test_boundaries.acme.__wrapped__(slack, clock)  # type: ignore[attr-defined,no-any-return]


def renegotiated_terms(text: str, value: str) -> dict[str, Any]:
    return {
        "text": {BOUNDARY_TEXT: {"type": "plain_text_input", "value": text}},
        "kind": {BOUNDARY_KIND: {"type": "static_select", "selected_option": {"value": "response_time"}}},
        "value": {BOUNDARY_VALUE: {"type": "plain_text_input", "value": value}},
    }


# --------------------------------------------------------------------------- the renegotiate form's redraw


def test_a_renegotiation_whose_escalation_redraw_times_out_is_kept_with_a_one_line_warning(
    impatient: SlackRequests,
    impatient_bot: BotServer,
    fake_slack: FakeSlack,
    store: Store,
    clock: FakeClock,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    slack = acme_corp(impatient, clock)
    message = _escalate(slack, fake_slack, store, clock, settings)
    first = records(store)[0]
    slack.block_action(BOUNDARY_DECIDE_RENEGOTIATE, value=str(first.id), message=message, channel_id="DDANA")
    (opened,) = fake_slack.calls_to("views.open")
    fake_slack.fail_next("chat.update", delay=1.5, times=2)  # longer than the client's timeout, and its retry
    with caplog.at_level(logging.INFO):
        saved = slack.view_submission(
            BOUNDARY_RENEGOTIATE_MODAL,
            renegotiated_terms("We answer within two business days", "2d"),
            private_metadata=opened.params["view"]["private_metadata"],
        )
        drain_lazy_listeners(impatient_bot)
    assert saved.status == 200 and saved.body in (b"", b"{}")
    renegotiated = records(store)[0]
    assert (renegotiated.rule.text, renegotiated.rule.value) == ("We answer within two business days", "2d")
    # slack-sdk logs the timeout itself; nothing of ours fails (Bolt logs "Failed to run an internal function").
    failed = [r for r in caplog.records if r.levelno >= logging.ERROR and not r.name.startswith("slack_sdk")]
    assert not failed and not [r for r in caplog.records if r.exc_info], failed
    (warning,) = [r for r in caplog.records if "escalation message" in r.getMessage()]
    assert warning.levelno == logging.WARNING and "\n" not in warning.getMessage()
