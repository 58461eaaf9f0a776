"""App Home filters survive another replica and a restart (issues #7 and #8): the filters and page a user chose are
kept in the database, so a refresh published by any `partner-bot serve` process keeps them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from bot.app import create_app
from bot.settings import Settings
from handlers.blocks.home import HomeState
from handlers.events.home import save_home_state, saved_home_state
from handlers.home_publisher import publisher_of, request_home_refresh
from handlers.ids import HOME_NEXT_PAGE, HOME_SCOPE, HOME_SHOW
from storage.models import HomeViewState
from storage.store import Store
from tests.e2e.test_crash import Served, env  # noqa: F401  (env: the replicas' environment fixture)
from tests.e2e.test_home import DANA, NOW, SAM, add_customers, click
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import SIGNING_SECRET, TEAM_ID, BotServer, FakeClock

OTHER_TEAM = "T0OTHER"
CHOSEN = {"scope": "team", "show": "risk", "tier": None, "page": 1}  # Whole team, at risk only, page 2


@pytest.fixture
def replicas(env: dict[str, str], tmp_path: Path) -> Iterator[list[Served]]:  # noqa: F811
    """`partner-bot serve --http` processes on the test's database (each one started is killed at the end)."""
    started: list[Served] = []
    yield started
    for served in started:
        served.stop()


def start_replica(replicas: list[Served], env: dict[str, str], tmp_path: Path) -> Served:  # noqa: F811
    served = Served(env, tmp_path, tmp_path / f"serve-{len(replicas)}.log")
    replicas.append(served)
    served.wait_healthy()
    return served


def dana_picks_the_whole_team_at_risk_page_2(slack: SlackRequests, fake_slack: FakeSlack) -> None:
    slack.event({"type": "app_home_opened", "user": DANA, "channel": "D0001", "tab": "home"})
    click(slack, fake_slack, HOME_SCOPE, action_type="static_select", selected_option={"value": "team"})
    click(slack, fake_slack, HOME_SHOW, action_type="static_select", selected_option={"value": "risk"})
    home = click(slack, fake_slack, HOME_NEXT_PAGE, value="1")
    assert json.loads(home["private_metadata"]) == CHOSEN


def teammate_checks_in(served: Served, fake_slack: FakeSlack, note: str) -> dict[str, Any]:
    """Sam logs a call on one of his customers through `served`; returns the Home that replica publishes for Dana
    (she looks at the whole team, so his change shows on hers)."""
    before = len(fake_slack.calls_to("views.publish"))
    slack = SlackRequests(served.url, signing_secret=SIGNING_SECRET, team_id=TEAM_ID, fake=fake_slack, timeout=5)
    assert "Logged a red" in slack.command(f"checkin customer 0000 red {note}", user_id=SAM).json()["text"]
    fake_slack.wait_for(
        "views.publish",
        before + 2,  # Sam's own Home and Dana's whole-team one, after the publisher's 2-second debounce
        timeout=15,
        where=lambda call: call.params.get("user_id") in (DANA, SAM),
    )
    published = [c for c in fake_slack.calls_to("views.publish")[before:] if c.params["user_id"] == DANA]
    assert len(published) == 1, "the replica did not refresh the Home of the user looking at the whole team"
    view = published[0].params["view"]
    return json.loads(view) if isinstance(view, str) else view


def test_a_refresh_from_another_replica_or_after_a_restart_keeps_the_filters_the_user_chose(
    slack: SlackRequests,
    fake_slack: FakeSlack,
    store: Store,
    env: dict[str, str],  # noqa: F811
    tmp_path: Path,
    replicas: list[Served],
) -> None:
    add_customers(store, 30, owner=SAM, health_band="red")  # 30 at risk: two pages of the whole team
    add_customers(store, 5, start=100, owner=SAM, health_band="green", cadence=None)
    dana_picks_the_whole_team_at_risk_page_2(slack, fake_slack)  # served by this process (replica A)

    # Replica B never saw her clicks: it publishes her Home after Sam's check-in with the filters she chose.
    b = start_replica(replicas, env, tmp_path)
    home = teammate_checks_in(b, fake_slack, "lost the budget")
    assert json.loads(home["private_metadata"]) == CHOSEN
    # The team's at-risk customers (the 30 red and the 2 greens whose last check-in was red), not Dana's own (none).
    assert "of 32 customers" in json.dumps(home)

    # After a restart (B killed, a new process on the same database): still hers.
    b.stop()
    replicas.remove(b)
    restarted = start_replica(replicas, env, tmp_path)
    home = teammate_checks_in(restarted, fake_slack, "still no budget")
    assert json.loads(home["private_metadata"]) == CHOSEN


def test_two_workspaces_do_not_share_a_users_home_filters(
    settings: Settings, fake_slack: FakeSlack, store: Store, clock: FakeClock
) -> None:
    add_customers(store, 30, owner=SAM, health_band="red")
    server = BotServer(create_app(settings=settings, store=store, clock=clock), store).start()
    try:
        slack = SlackRequests(server.url, signing_secret=SIGNING_SECRET, team_id=TEAM_ID, fake=fake_slack)
        dana_picks_the_whole_team_at_risk_page_2(slack, fake_slack)
        publisher = publisher_of(server.app)
        assert publisher is not None

        # The same user (Enterprise Grid: one user id in several workspaces) chose nothing in the other one.
        assert saved_home_state(store, team_id=OTHER_TEAM, user_id=DANA).scope == "mine"
        assert publisher.team_viewers(OTHER_TEAM) == []
        assert publisher.team_viewers(TEAM_ID) == [DANA]
        request_home_refresh(server.app, OTHER_TEAM, [SAM])  # a change there: Dana's whole-team view is not there
        assert publisher.pending() == {(OTHER_TEAM, SAM)}
        request_home_refresh(server.app, OTHER_TEAM, [DANA])
        publisher.flush()
        assert json.loads(fake_slack.published_home[DANA]["private_metadata"])["scope"] == "mine"

        # Her choice there (the fake Slack has one workspace: stored as the click would) leaves hers here alone.
        save_home_state(store, team_id=OTHER_TEAM, user_id=DANA, state=HomeState(show="risk"), now=NOW)
        request_home_refresh(server.app, OTHER_TEAM, [DANA])
        publisher.flush()
        assert json.loads(fake_slack.published_home[DANA]["private_metadata"]) == {**CHOSEN, "scope": "mine", "page": 0}
        request_home_refresh(server.app, TEAM_ID, [DANA])
        publisher.flush()
        assert json.loads(fake_slack.published_home[DANA]["private_metadata"]) == CHOSEN
        with Session(store.engine) as session:
            rows = {(r.team_id, r.user_id): (r.scope, r.show, r.page) for r in session.exec(select(HomeViewState))}
        assert rows == {(TEAM_ID, DANA): ("team", "risk", 1), (OTHER_TEAM, DANA): ("mine", "risk", 0)}
    finally:
        server.stop()
        server.app.drain()


def test_clicks_saved_at_once_by_several_replicas_leave_one_row_without_an_error(store: Store) -> None:
    """The upsert is one INSERT … ON CONFLICT DO UPDATE: no read-then-insert race between replicas."""
    states = [HomeState(scope="team", page=i) for i in range(40)]

    def save(state: HomeState) -> None:
        save_home_state(store, team_id=TEAM_ID, user_id=DANA, state=state, now=NOW)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(save, states))
    with Session(store.engine) as session:
        (row,) = session.exec(select(HomeViewState)).all()
    assert (row.team_id, row.user_id, row.scope) == (TEAM_ID, DANA, "team")
    assert saved_home_state(store, team_id=TEAM_ID, user_id=DANA) in states
    # A forged "Next" value far past any page, or a forged tier, is stored within the columns' bounds.
    save(HomeState(tier="x" * 200, page=10**30))
    saved = saved_home_state(store, team_id=TEAM_ID, user_id=DANA)
    assert saved.tier == "x" * 32 and saved.page == 100_000


def test_home_choices_made_before_they_were_kept_are_kept_from_the_published_view_when_the_tab_is_opened(
    bot: BotServer, slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    """Before 0013_home_state a user's filters and page lived only in their published view's private_metadata, which
    Slack sends back when the tab is opened: kept from then on, a background refresh no longer resets them."""
    add_customers(store, 30, owner=SAM, health_band="red")
    published = {"type": "home", "private_metadata": json.dumps(CHOSEN), "blocks": []}  # as an older Partner left it
    slack.event({"type": "app_home_opened", "user": DANA, "channel": "D0001", "tab": "home", "view": published})
    fake_slack.wait_for("views.publish")
    assert saved_home_state(store, team_id=TEAM_ID, user_id=DANA) == HomeState.from_values(CHOSEN)
    request_home_refresh(bot.app, TEAM_ID, [SAM])  # Sam's change: Dana looks at the whole team
    publisher = publisher_of(bot.app)
    assert publisher is not None
    publisher.flush()
    assert json.loads(fake_slack.published_home[DANA]["private_metadata"]) == CHOSEN
    # A view showing the defaults (or none) writes nothing: nothing was chosen.
    default = {"type": "home", "private_metadata": HomeState().to_metadata()}
    before = len(fake_slack.calls_to("views.publish"))
    slack.event({"type": "app_home_opened", "user": SAM, "channel": "D0002", "tab": "home", "view": default})
    fake_slack.wait_for("views.publish", before + 1)
    assert store.home_state(team_id=TEAM_ID, user_id=SAM) is None
