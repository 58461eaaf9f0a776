"""Fixtures: the fake Slack, a database, the real app served over HTTP, and a signed-request client."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from bot.app import create_app
from bot.settings import Settings
from storage.db import make_engine, upgrade
from storage.store import Store
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import BOT_TOKEN, SIGNING_SECRET, TEAM_ID, BotServer, FakeClock


@pytest.fixture(scope="session")
def fake_slack_server() -> Iterator[FakeSlack]:
    with FakeSlack(bot_token=BOT_TOKEN, team_id=TEAM_ID) as fake:
        yield fake


@pytest.fixture
def fake_slack(fake_slack_server: FakeSlack) -> Iterator[FakeSlack]:
    """A fresh workspace per test: Dana (New York) owns things, Sam (Berlin) is an admin."""
    fake = fake_slack_server
    fake.reset()
    fake.users.clear()
    fake.channels.clear()
    fake.add_user(fake.bot_user_id, name="partner", is_bot=True)
    fake.add_user("U0001", name="dana", tz="America/New_York")
    fake.add_user("U0002", name="sam", tz="Europe/Berlin", is_admin=True)
    fake.add_channel("C0001", name="general", members=["U0001", "U0002"])
    fake.add_channel("C0ACME", name="acme", is_member=False, members=["U0001"])
    yield fake
    assert not fake.errors, "the fake Slack itself failed:\n" + "\n".join(fake.errors)


@pytest.fixture
def database_url(tmp_path: pytest.TempPathFactory) -> str:
    return os.environ.get("PARTNER_TEST_DATABASE_URL") or f"sqlite:///{tmp_path}/partner.db"


@pytest.fixture
def settings(fake_slack: FakeSlack, database_url: str) -> Settings:
    return Settings.from_mapping(
        {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": fake_slack.api_url,
            "DATABASE_URL": database_url,
            "PARTNER_DEFAULT_TZ": "UTC",
        }
    )


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    engine = make_engine(settings.database_url)
    upgrade(engine)
    yield Store(engine)
    engine.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def bot(settings: Settings, store: Store, clock: FakeClock) -> Iterator[BotServer]:
    server = BotServer(create_app(settings=settings, store=store, clock=clock), store).start()
    yield server
    server.stop()


@pytest.fixture
def slack(bot: BotServer, fake_slack: FakeSlack) -> SlackRequests:
    """Posts signed requests to the bot exactly as Slack would."""
    return SlackRequests(bot.url, signing_secret=SIGNING_SECRET, team_id=TEAM_ID, fake=fake_slack)
