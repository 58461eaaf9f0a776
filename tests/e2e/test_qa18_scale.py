"""Production scale and hardening, found by qa18scale: what a restarted process does when Slack or the database
falters at its first tick."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest

from bot.app import make_client
from bot.oauth import SlackClients
from bot.scheduler import build_scheduler, scheduled_tick
from bot.settings import Settings
from storage.store import Store
from tests.e2e.test_doctor import doctor, lines
from tests.e2e.test_oauth import T1, T2, install, oauth_bot, oauth_settings  # noqa: F401 (fixtures)
from tests.e2e.test_uninstall import acme_channel, add, day, posted, workspace  # noqa: F401 (fixture)
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import BotServer, FakeClock


@pytest.mark.parametrize("fault", ["500", "timeout", "ratelimited"])
def test_a_reinstall_token_check_slack_could_not_answer_is_asked_again_at_the_next_tick(
    slack: SlackRequests,
    store: Store,
    settings: Settings,
    clock: FakeClock,
    fake_slack: FakeSlack,
    fault: str,
) -> None:
    """Token mode: reinstalled with a new bot token and restarted, nobody types anything. Slack failing the first
    tick's auth.test (an outage, a timeout, a rate limit) is no answer about whose the token is: the next tick asks
    again and the nudges resume, instead of waiting for ever for someone to use Partner."""
    add(store)
    clock.set(day(1) + timedelta(hours=1))
    assert slack.event({"type": "app_uninstalled"}).status == 200
    clock.set(day(3))
    if fault == "500":
        fake_slack.fail_next("auth.test", status=500, times=3)  # slack-sdk tries 3 times
    elif fault == "timeout":
        fake_slack.fail_next("auth.test", delay=2.0, times=3)
    else:
        fake_slack.fail_next("auth.test", status=429, retry_after=60, times=3)
    build_scheduler(store=store, client=SlackClients(make_client(settings, timeout=1)), clock=clock, settings=settings)
    started = time.monotonic()
    scheduled_tick()
    assert time.monotonic() - started < 10  # not minutes behind a Retry-After the tick would not wait out either
    assert workspace(store).active is False and posted(fake_slack) == []
    fake_slack.reset()  # Slack is well again (the faults slack-sdk did not retry are dropped)
    clock.set(day(3) + timedelta(minutes=1))
    scheduled_tick()  # Slack answers now: the token is this workspace's
    assert workspace(store).active is True
    assert len(posted(fake_slack)) == 1  # Wednesday's 09:00 nudge, a minute late
    checks = len(fake_slack.calls_to("auth.test"))
    clock.set(day(4))
    scheduled_tick()  # answered once: not asked again
    assert len(fake_slack.calls_to("auth.test")) == checks and len(posted(fake_slack)) == 2


# The doctor while Slack has trouble of its own


@pytest.mark.parametrize("fault", [{"status": 500}, {"status": 429, "retry_after": 0}, {"error": "fatal_error"}])
def test_the_doctor_says_slack_did_not_answer_not_to_replace_a_token_when_auth_test_meets_slacks_own_trouble(
    settings: Settings, store: Store, fake_slack: FakeSlack, fault: dict[str, Any]
) -> None:
    fake_slack.fail_next("auth.test", times=3, **fault)  # slack-sdk's tries all meet it
    code, out = doctor(settings)
    assert code == 1, out
    (failed,) = lines(out, "FAIL", "bot token")
    assert "Slack did not answer auth.test" in failed, out
    assert "Run `partner-bot doctor` again in a minute." in out
    assert "copy" not in out and "api.slack.com/methods" not in out, out  # the token is not what is wrong


@pytest.mark.parametrize("fault", [{"status": 500}, {"status": 429, "retry_after": 0}])
def test_the_doctor_does_not_tell_an_oauth_workspace_to_reinstall_when_slack_was_busy(
    oauth_bot: BotServer,  # noqa: F811
    oauth_settings: Settings,  # noqa: F811
    fake_slack: FakeSlack,
    store: Store,
    fault: dict[str, Any],
) -> None:
    for team_id in (T1, T2):
        assert install(oauth_bot.url, fake_slack, team_id).status == 200
    fake_slack.fail_next("auth.test", times=3, **fault)  # the first workspace's check meets it
    code, out = doctor(oauth_settings)
    assert code == 1, out
    (failed,) = lines(out, "FAIL", f"{T1} bot token")
    assert "Slack did not answer auth.test" in failed, out
    assert lines(out, "ok", f"{T2} bot token"), out
    assert "Reinstall" not in out and "Run `partner-bot doctor` again in a minute." in out, out
