"""QA round 22, settings: an operator changes Partner's settings and starts it again."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.app import create_app
from bot.settings import Settings
from schedules.health import HEALTH_DROP
from storage.store import Store
from tests.e2e.test_home_surveys import open_home, row
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import SIGNING_SECRET, TEAM_ID, BotServer, FakeClock, tick


def ok(response: Any) -> dict[str, Any]:
    assert response.status == 200, response.text
    return response.json() if response.body else {}


@pytest.fixture
def restart(settings: Settings, store: Store, clock: FakeClock, bot: BotServer, fake_slack: FakeSlack) -> Iterator[Any]:
    """Stops the serving app and starts another with the settings changed (as `serve` reads them)."""
    started: list[BotServer] = []

    def again(**changes: Any) -> tuple[Settings, BotServer, SlackRequests]:
        (started[-1] if started else bot).stop()
        changed = dataclasses.replace(settings, **changes)
        server = BotServer(create_app(settings=changed, store=store, clock=clock), store).start()
        started.append(server)
        requests = SlackRequests(server.url, signing_secret=SIGNING_SECRET, team_id=TEAM_ID, fake=fake_slack)
        return changed, server, requests

    yield again
    for server in started:
        server.stop()
        server.app.drain()


def test_new_health_thresholds_reach_home_and_the_list_at_the_first_tick_after_start(
    slack: SlackRequests,
    store: Store,
    clock: FakeClock,
    bot: BotServer,
    settings: Settings,
    restart: Any,
    fake_slack: FakeSlack,
) -> None:
    """Acme scores 75, green. The operator raises green to 80 (PARTNER_HEALTH_THRESHOLDS) and restarts Partner:
    /partner status said yellow at once, while Home and /partner list kept saying green until Acme's next local
    midnight (the band stored with the score)."""
    clock.set(datetime(2026, 11, 24, 10, 0, tzinfo=UTC))
    ok(slack.command("add Acme Corp <#C0ACME|acme> <@U0001|dana> tz=UTC cadence=weekly tue 10:00"))
    ok(slack.command("checkin acme yellow call budget is tight"))
    bot.settle()
    (acme,) = store.customers(team_id=TEAM_ID)
    assert acme.health_band == "green", (acme.health_score, acme.health_band)
    score = acme.health_score or 0
    tick(store, settings, clock.now)

    clock.set(clock.now + timedelta(hours=1))
    new = Settings.from_mapping({"PARTNER_HEALTH_THRESHOLDS": f"green={score + 5},yellow=40", **env_of(settings)})
    changed, server, slack2 = restart(health_thresholds=new.health_thresholds)
    tick(store, changed, clock.now)
    fresh = store.customers(team_id=TEAM_ID)[0]
    assert fresh.health_band == "yellow", (fresh.health_score, fresh.health_band)
    assert ":large_yellow_circle:" in str(ok(slack2.command("status acme"))["blocks"])
    listed = str(ok(slack2.command("list")))
    assert ":large_yellow_circle:" in listed and ":large_green_circle:" not in listed, listed
    home = row(open_home(server, slack2, fake_slack), acme.id or 0)
    assert ":large_yellow_circle:" in home, home
    # Changing a band is no fall of the score: the owner is told of nothing.
    assert store.nudges(team_id=TEAM_ID, kinds=[HEALTH_DROP], due_after=clock.now - timedelta(days=30)) == []


def env_of(settings: Settings) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": settings.slack_bot_token or "",
        "SLACK_SIGNING_SECRET": settings.slack_signing_secret,
        "SLACK_API_URL": settings.slack_api_url,
        "DATABASE_URL": settings.database_url,
    }


def test_new_health_weights_rescore_at_the_first_tick_and_tell_no_owner_of_a_fall(
    slack: SlackRequests,
    store: Store,
    clock: FakeClock,
    bot: BotServer,
    settings: Settings,
    restart: Any,
    fake_slack: FakeSlack,
) -> None:
    """Acme scores 75 on a yellow call. The operator makes the last calls' moods weigh most (PARTNER_HEALTH_WEIGHTS
    mood=100) and restarts Partner: Acme's score is made with the new weights at the first tick, on Home and in the
    list as in /partner status; the score moved because the rule did, not the customer, so Dana is told of no fall."""
    clock.set(datetime(2026, 11, 24, 10, 0, tzinfo=UTC))
    ok(slack.command("add Acme Corp <#C0ACME|acme> <@U0001|dana> tz=UTC cadence=weekly tue 10:00"))
    ok(slack.command("checkin acme yellow call budget is tight"))
    bot.settle()
    tick(store, settings, clock.now)
    before = store.customers(team_id=TEAM_ID)[0].health_score

    clock.set(datetime(2026, 11, 25, 10, 0, tzinfo=UTC))  # the next morning: yesterday's score stays in the trend
    tick(store, settings, clock.now)
    before = store.customers(team_id=TEAM_ID)[0].health_score
    clock.set(clock.now + timedelta(hours=1))
    new = Settings.from_mapping({"PARTNER_HEALTH_WEIGHTS": "mood=100", **env_of(settings)})
    changed, server, slack2 = restart(health_weights=new.health_weights)
    tick(store, changed, clock.now)
    acme = store.customers(team_id=TEAM_ID)[0]
    shown = str(ok(slack2.command("status acme"))["blocks"])
    server.settle()
    assert acme.health_score != before and f"{acme.health_score}" in shown, (before, acme.health_score, shown)
    assert f"*{acme.health_score}*" in row(open_home(server, slack2, fake_slack), acme.id or 0)
    for _ in range(7):  # nor on the days after, while the week still holds the scores of the old weights
        clock.set(clock.now + timedelta(days=1))
        tick(store, changed, clock.now)
    assert store.nudges(team_id=TEAM_ID, kinds=[HEALTH_DROP], due_after=clock.now - timedelta(days=30)) == []


def test_a_status_asked_before_the_first_tick_after_new_weights_tells_no_owner_of_a_fall(
    slack: SlackRequests, store: Store, clock: FakeClock, bot: BotServer, settings: Settings, restart: Any
) -> None:
    """The operator restarts Partner with new weights and Dana asks for Acme's status before its first tick: the
    score shown is made with the new weights and stored after the answer, beside yesterday's made with the old
    ones. That is no fall of Acme's: Dana is told of none, then or at the ticks after."""
    clock.set(datetime(2026, 11, 24, 10, 0, tzinfo=UTC))
    ok(slack.command("add Acme Corp <#C0ACME|acme> <@U0001|dana> tz=UTC cadence=weekly tue 10:00"))
    ok(slack.command("checkin acme yellow call budget is tight"))
    bot.settle()
    clock.set(datetime(2026, 11, 25, 10, 0, tzinfo=UTC))
    tick(store, settings, clock.now)
    before = store.customers(team_id=TEAM_ID)[0].health_score

    clock.set(clock.now + timedelta(hours=1))
    new = Settings.from_mapping({"PARTNER_HEALTH_WEIGHTS": "mood=100", **env_of(settings)})
    changed, server, slack2 = restart(health_weights=new.health_weights)
    ok(slack2.command("status acme"))
    server.settle()
    assert (store.customers(team_id=TEAM_ID)[0].health_score or 0) <= (before or 0) - 15
    for _ in range(3):
        clock.set(clock.now + timedelta(days=1))
        tick(store, changed, clock.now)
    assert store.nudges(team_id=TEAM_ID, kinds=[HEALTH_DROP], due_after=clock.now - timedelta(days=30)) == []
