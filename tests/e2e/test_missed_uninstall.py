"""A workspace that uninstalled Partner while it was down (the event never reached it) between two of its nudges: the
channel look-up of the minute tick is the first to meet the refused token, and stops the workspace as the sender's
refused post would, instead of asking Slack about its channels (and logging the refusal) every minute until a nudge
falls due."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.settings import Settings
from storage.store import Store
from tests.e2e.test_uninstall import acme_channel, add, day, tick, workspace  # noqa: F401  (acme_channel: autouse)
from tests.fake_slack import FakeSlack


@pytest.mark.parametrize("refusal", ["invalid_auth", "account_inactive"])
def test_a_missed_uninstall_met_by_the_channel_look_up_stops_the_workspace_once(
    store: Store, settings: Settings, fake_slack: FakeSlack, refusal: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Acme, weekly on Monday: on Tuesday nothing is due, but its channel was never looked up for readers."""
    add(store, cadence="weekly mon 09:00")
    fake_slack.fail_next("*", error=refusal, times=500)
    for minute in range(0, 31, 2):  # half an hour of ticks on Tuesday
        tick(store, settings, day(1) + timedelta(minutes=minute))
    assert (workspace(store).active, workspace(store).uninstalled_at) == (False, day(1))
    assert len(fake_slack.calls_to("conversations.info")) == 1 and len(fake_slack.calls_to("auth.test")) == 1
    logged = [r.getMessage() for r in caplog.records]
    told = [m for m in logged if "treated as uninstalled" in m]
    assert len(told) == 1 and f"Slack refused the bot token ({refusal})" in told[0]
    assert not [m for m in logged if "could not look up channel" in m]


def test_a_token_refused_once_by_the_channel_look_up_is_a_glitch_and_the_look_up_goes_on_next_tick(
    store: Store, settings: Settings, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    """auth.test accepts the token: the workspace stays, the refusal is logged and the channel looked up again."""
    add(store, cadence="weekly mon 09:00")
    fake_slack.fail_next("conversations.info", error="invalid_auth")
    tick(store, settings, day(1))
    tick(store, settings, day(1) + timedelta(minutes=1))
    assert workspace(store).active is True
    assert len(fake_slack.calls_to("conversations.info")) == 2 and len(fake_slack.calls_to("auth.test")) == 1
    assert len([r for r in caplog.records if "could not look up channel" in r.getMessage()]) == 1
