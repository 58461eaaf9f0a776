"""Session 21 QA of several replicas on one database (issues #8 and #9): two Bolt apps on the test's database and
the fake Slack, driven by signed requests, their Slack calls interleaved the way two processes' can be."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from bot.app import create_app, make_client
from bot.settings import Settings
from handlers.events.home import render_home, saved_home_state
from handlers.events.uninstall import reactivate_token_team
from handlers.home_publisher import publisher_of
from handlers.ids import HOME_SCOPE
from storage.db import make_engine
from storage.store import Store
from tests.e2e.test_home import DANA, add_customers
from tests.e2e.test_uninstall import add, day, posted, tick
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import SIGNING_SECRET, TEAM_ID, BotServer, FakeClock


@pytest.fixture
def replica_b(settings: Settings, store: Store, clock: FakeClock) -> Iterator[BotServer]:
    """A second app on the same database, with its own engine (pool) and Home publisher: another replica."""
    engine = make_engine(settings.database_url)
    server = BotServer(create_app(settings=settings, store=Store(engine), clock=clock), store).start()
    yield server
    server.stop()
    engine.dispose()


class HeldPublish:
    """Holds the next views.publish at the fake's door (before Slack looks at it) until released: the request is
    on its way, its render done, while another replica publishes."""

    def __init__(self, fake: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> None:
        self.arrived = threading.Event()
        self.release = threading.Event()
        self._armed = True
        run = fake._run

        def held(method: str, params: dict[str, Any], token: str | None) -> dict[str, Any]:
            if method == "views.publish" and self._armed:
                self._armed = False
                self.arrived.set()
                assert self.release.wait(10), "the held views.publish was never released"
            return run(method, params, token)

        monkeypatch.setattr(fake, "_run", held)


def home_as_rendered_now(store: Store, settings: Settings, clock: FakeClock) -> list[dict[str, Any]]:
    state = saved_home_state(store, team_id=TEAM_ID, user_id=DANA)
    view = render_home(
        store=store, team_id=TEAM_ID, user_id=DANA, state=state, now=clock(), default_tz=settings.default_tz
    )
    return list(view["blocks"])


def test_a_click_rendered_on_one_replica_before_a_check_in_on_another_never_leaves_the_older_home_showing(
    slack: SlackRequests,
    bot: BotServer,
    replica_b: BotServer,
    fake_slack: FakeSlack,
    store: Store,
    settings: Settings,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Dana picks *Whole team* on her Home (replica A renders it) while her check-in, sent through replica B, has
    # B publish her Home with the call in it. A's request reached Slack last: views.publish had no `hash`, so
    # Slack took A's older render, and her Home showed her customer as not called until something else changed.
    add_customers(store, 3)
    assert slack.event({"type": "app_home_opened", "user": DANA, "channel": "D0001", "tab": "home"}).status == 200
    bot.settle()
    home = fake_slack.published_home[DANA]

    held = HeldPublish(fake_slack, monkeypatch)
    reply = slack.block_action(
        HOME_SCOPE, user_id=DANA, view=home, action_type="static_select", selected_option={"value": "team"}
    )
    assert reply.status == 200
    assert held.arrived.wait(10), "replica A never published the Home after the click"

    b = SlackRequests(replica_b.url, signing_secret=SIGNING_SECRET, team_id=TEAM_ID, fake=fake_slack)
    answer = b.command("checkin customer 0001 red they are moving to a competitor", user_id=DANA)
    assert "Logged a red" in answer.json()["text"], answer.text
    replica_b.settle()
    publisher = publisher_of(replica_b.app)
    assert publisher is not None
    publisher.flush()  # B's debounced refresh of Dana's Home: it has the check-in and her new choice
    newest = fake_slack.published_home[DANA]["blocks"]
    assert newest == home_as_rendered_now(store, settings, clock)

    held.release.set()  # A's publish, rendered before the check-in, reaches Slack now
    bot.settle()
    shown = fake_slack.published_home[DANA]
    assert json.loads(shown["private_metadata"])["scope"] == "team"
    assert shown["blocks"] == home_as_rendered_now(store, settings, clock), "the older render is showing"


def test_two_replicas_refreshing_one_home_after_check_ins_leave_the_newest_showing(
    slack: SlackRequests,
    bot: BotServer,
    replica_b: BotServer,
    fake_slack: FakeSlack,
    store: Store,
    settings: Settings,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No click, so no hash from Slack: two background refreshes, each after a check-in on its own replica. The
    # hash kept by the last publish (any replica's) is what A passes; B's publish came after A had read it.
    add_customers(store, 3)
    assert slack.event({"type": "app_home_opened", "user": DANA, "channel": "D0001", "tab": "home"}).status == 200
    bot.settle()
    assert "Logged a green" in slack.command("checkin customer 0000 green renewal signed", user_id=DANA).json()["text"]
    bot.settle()

    held = HeldPublish(fake_slack, monkeypatch)
    publisher_a = publisher_of(bot.app)
    assert publisher_a is not None
    refreshing = threading.Thread(target=publisher_a.flush)  # A's debounce fires: renders, then Slack is slow
    refreshing.start()
    try:
        assert held.arrived.wait(10), "replica A never refreshed the Home after the check-in"
        b = SlackRequests(replica_b.url, signing_secret=SIGNING_SECRET, team_id=TEAM_ID, fake=fake_slack)
        answer = b.command("checkin customer 0002 red the champion left", user_id=DANA)
        assert "Logged a red" in answer.json()["text"], answer.text
        replica_b.settle()
        publisher_b = publisher_of(replica_b.app)
        assert publisher_b is not None
        publisher_b.flush()
    finally:
        held.release.set()
        refreshing.join(10)
    assert fake_slack.published_home[DANA]["blocks"] == home_as_rendered_now(store, settings, clock)


# ------------------------------------------------------------------ an uninstall's retry after a token-mode reinstall


def test_slacks_retry_of_an_uninstall_after_a_token_mode_reinstall_and_restart_leaves_the_days_nudges_alone(
    slack: SlackRequests,
    replica_b: BotServer,
    fake_slack: FakeSlack,
    store: Store,
    settings: Settings,
    clock: FakeClock,
) -> None:
    # Partner answered `app_uninstalled` but Slack did not get the answer in time, and retries it minutes later.
    # Meanwhile the admin reinstalled Partner, put the new bot token in SLACK_BOT_TOKEN and restarted `serve`,
    # whose first tick found the token working and resumed the workspace. The retry, reaching the restarted
    # process (no memory of the first delivery), stopped the workspace again and cancelled the day's nudges.
    fake_slack.add_channel("C0ACME", name="acme", members=["U0001"])
    acme = add(store)
    clock.set(day(1) - timedelta(hours=3))
    uninstalled_at = int(time.time()) - 240
    uninstall = {"type": "app_uninstalled"}
    assert slack.event(uninstall, event_id="Ev0UNINSTALL", event_time=uninstalled_at).status == 200
    assert not store.workspace_active(team_id=TEAM_ID)

    clock.set(day(1) - timedelta(hours=2))  # reinstalled, restarted: the first tick finds the token working
    assert reactivate_token_team(store, make_client(settings))
    assert store.workspace_active(team_id=TEAM_ID)
    store.plan_nudge(
        team_id=TEAM_ID,
        kind="cadence",
        subject=f"customer:{acme.id}",
        due_key="2026-12-01",
        due_at=day(1),
        now=clock(),
        customer_id=acme.id,
    )

    b = SlackRequests(replica_b.url, signing_secret=SIGNING_SECRET, team_id=TEAM_ID, fake=fake_slack)
    retry = b.event(uninstall, event_id="Ev0UNINSTALL", event_time=uninstalled_at, retry_num=2)
    assert retry.status == 200
    assert store.workspace_active(team_id=TEAM_ID)
    tick(store, settings, day(1))
    assert len(posted(fake_slack)) == 1, "the day's nudge was cancelled by the old uninstall"

    # A retry of an uninstall never applied (its first delivery failed) still stops it: Slack refuses the token.
    fake_slack.fail_next("auth.test", error="token_revoked")
    assert b.event(uninstall, event_id="Ev0UNINSTALL2", retry_num=1).status == 200
    assert not store.workspace_active(team_id=TEAM_ID)
