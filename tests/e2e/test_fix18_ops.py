"""Session 18's operations fixes, end to end: the real app, jobs and sender against the fake Slack.

- A call nudge whose channel refused it (Partner removed from it) falls back to its owner's DM: it read
  "<@owner> Time for the daily call …", mentioning its own reader in the DM, in its text and its headline.
- `partner-bot doctor` waited out Slack's Retry-After, twice (Retry-After: 60 → two minutes with no output): an
  operator at the prompt now hears at once that Slack is rate-limiting and when to run it again.
- While `serve` waited for the database at start, the install link and Slack's redirect back answered the browser
  with JSON (`{"status": "starting"}`): they now get the HTML page the database being down gives them.
- A customer whose name starts with an emoji (🇯🇵 Tokyo Trading) was found by `checkin tokyo …` but not by
  `checkin tokyo, green …`: skipping the emoji and reading a comma off a word did not combine.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from slack_sdk.http_retry import builtin_handlers

from bot.app import AckAwareRateLimitRetryHandler
from bot.settings import Settings
from handlers.ids import NUDGE_SKIP
from storage.store import Store
from tests.e2e.test_cadence import (  # noqa: F401  (acme_channel, unpaced: the module's autouse fixtures)
    acme_channel,
    add,
    button_message,
    day,
    tick,
    unpaced,
)
from tests.e2e.test_doctor import add_customer, doctor, lines
from tests.e2e.test_foundation import ephemeral
from tests.e2e.test_ops import Outage, Served, clean_env, get, outage  # noqa: F401  (outage: a fixture)
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import TEAM_ID, BotServer, FakeClock


def test_a_call_nudge_its_channel_refused_reaches_the_owners_dm_without_mentioning_them(
    store: Store, settings: Settings, fake_slack: FakeSlack
) -> None:
    fake_slack.channels["C0ACME"]["is_member"] = False  # Partner was removed from #acme
    add(store)
    tick(store, settings, day(1))
    refused = [c.params for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "C0ACME"]
    assert refused and refused[0]["text"].startswith("<@U0001> Time for the daily call")  # the channel names them
    dm = fake_slack.messages[fake_slack._dm_by_user["U0001"]]
    (nudge,) = [m for m in dm if "Time for the daily call" in m["text"]]
    assert nudge["text"] == "Time for the daily call with Acme (Tue 1 Dec 09:00 America/New_York)"
    headline = nudge["blocks"][0]["text"]["text"]
    assert headline.startswith(":telephone_receiver: Time for the daily call with *Acme*")
    assert "<@" not in headline


def test_a_fallback_dm_redrawn_after_its_channel_may_be_tried_again_still_names_nobody(
    slack: SlackRequests, bot: BotServer, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """A week after the refusal the channel is tried again (and the nudge renders for it): a click on the old DM
    redraws it as the DM it is."""
    fake_slack.channels["C0ACME"]["is_member"] = False
    add(store)
    tick(store, settings, day(1))
    dm_id = fake_slack._dm_by_user["U0001"]
    (message,) = [m for m in fake_slack.messages[dm_id] if "Time for the daily call" in m["text"]]
    clock.set(day(9))
    value = message["blocks"][1]["elements"][2]["value"]
    slack.block_action(NUDGE_SKIP, value=value, channel_id=dm_id, message=button_message(message))
    (update,) = fake_slack.wait_for("chat.update")
    assert update.params["channel"] == dm_id
    assert update.params["text"] == "Time for the daily call with Acme (Tue 1 Dec 09:00 America/New_York)"
    assert "<@U0001>" not in update.params["blocks"][0]["text"]["text"]


def test_a_channel_nudge_redrawn_after_its_customer_moved_channels_still_names_its_owner(
    slack: SlackRequests, bot: BotServer, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """The message stays in #acme: a click there redraws it as the channel's message, not as the fallback DM."""
    fake_slack.add_channel("C0NEW", name="acme-launch", members=["U0001"])
    add(store)
    tick(store, settings, day(1))
    (message,) = [m for m in fake_slack.messages["C0ACME"] if "Time for the daily call" in m["text"]]
    clock.set(day(1, timedelta(minutes=5)))
    assert "<#C0ACME> → <#C0NEW>" in ephemeral(slack.command("edit acme <#C0NEW|acme-launch>"))
    bot.settle()
    value = message["blocks"][1]["elements"][2]["value"]
    slack.block_action(NUDGE_SKIP, value=value, channel_id="C0ACME", message=button_message(message))
    (update,) = fake_slack.wait_for("chat.update")
    assert update.params["text"].startswith("<@U0001> Time for the daily call with Acme")
    assert "<@U0001> Time for" in update.params["blocks"][0]["text"]["text"]


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits slack-sdk's retry handlers would sleep, recorded instead of slept."""
    waits: list[float] = []
    monkeypatch.setattr(builtin_handlers, "time", SimpleNamespace(sleep=waits.append))
    monkeypatch.setattr(AckAwareRateLimitRetryHandler, "sleep", staticmethod(waits.append))
    return waits


def test_the_doctor_does_not_wait_out_a_long_rate_limit_and_says_when_to_run_it_again(
    settings: Settings, store: Store, clock: FakeClock, fake_slack: FakeSlack, slept: list[float]
) -> None:
    fake_slack.fail_next("auth.test", status=429, retry_after=60, times=3)
    code, output = doctor(settings)
    assert code == 1 and slept == []
    (line,) = lines(output, "FAIL", "bot token")
    assert "Slack did not answer auth.test (ratelimited)" in line
    assert "Slack is rate-limiting Partner's calls: run `partner-bot doctor` again in 60 seconds." in output
    assert len(fake_slack.calls_to("auth.test")) == 1


def test_the_doctor_waits_out_one_short_rate_limit_and_reports_a_channel_slack_rate_limits(
    settings: Settings, store: Store, clock: FakeClock, fake_slack: FakeSlack, slept: list[float]
) -> None:
    fake_slack.channels["C0ACME"]["is_member"] = True
    add_customer(store, clock, "Acme", "C0ACME")
    fake_slack.fail_next("auth.test", status=429, retry_after=2)  # a moment: waited out, the token checked
    fake_slack.fail_next("conversations.info", status=429, retry_after=30, times=3)
    code, output = doctor(settings)
    assert code == 1 and len(slept) == 1 and slept[0] < 3 + 1  # slack-sdk adds up to 1 s of jitter
    assert lines(output, "ok", "bot token")
    (line,) = lines(output, "FAIL", "channels")
    assert "<#C0ACME> of Acme: Slack did not answer (ratelimited)" in line
    assert "run `partner-bot doctor` again in 30 seconds" in output and "gone" not in output


def test_the_install_link_and_redirect_show_a_page_while_serve_waits_for_the_database(
    outage: Outage,  # noqa: F811  (the fixture imported above)
    fake_slack: FakeSlack,
    tmp_path: Path,
) -> None:
    env = clean_env(fake_slack, outage.url)
    del env["SLACK_BOT_TOKEN"]
    env |= {"SLACK_CLIENT_ID": fake_slack.client_id, "SLACK_CLIENT_SECRET": fake_slack.client_secret}
    served = Served(env, tmp_path, "--db-wait", "60", "--no-scheduler")
    try:
        served.wait_for_line("database unavailable")
        status, page, headers = get(served.url + "/slack/install")
        assert status == 503 and headers["Content-Type"].startswith("text/html")
        assert "The install could not start" in page and '<a href="/slack/install">try again</a>' in page
        # Back from Slack's page: nothing was tried with its code, so reloading once the database is up installs.
        status, page, headers = get(served.url + "/slack/oauth_redirect?code=c0de&state=s7ate")
        assert status == 503 and headers["Content-Type"].startswith("text/html")
        assert "Nothing was installed yet. Please reload this page in a minute" in page
        assert get(served.url + "/healthz")[:2] == (503, '{"status": "starting", "database": "down"}')
        outage.up()
        served.wait_healthy()
        status, page, _ = get(served.url + "/slack/install")
        assert status == 200 and "slack.com/oauth/v2/authorize" in page
    finally:
        assert served.stop() == 0, "\n".join(served.lines[-30:])


def test_a_name_after_an_emoji_is_found_with_sentence_punctuation_after_it(
    slack: SlackRequests, store: Store, bot: BotServer
) -> None:
    for name in ("🇯🇵 Tokyo Trading", ":pizza: Pizza Planet"):
        assert "Added" in ephemeral(slack.command(f"add {name}"))
    assert "*🇯🇵 Tokyo Trading*" in ephemeral(slack.command("checkin tokyo, green renewal signed"))
    assert "*🇯🇵 Tokyo Trading*" in ephemeral(slack.command("checkin tokyo trading: 4 steady"))
    assert "*:pizza: Pizza Planet*" in ephemeral(slack.command("checkin pizza planet; yellow slow week"))
    assert ephemeral(slack.command("show tokyo trading.")).startswith("🇯🇵 Tokyo Trading:")
    notes = [(c.mood, c.note) for c in reversed(store.checkins(team_id=TEAM_ID))]
    assert notes == [("green", "renewal signed"), ("4", "steady"), ("yellow", "slow week")]
    bot.settle()
