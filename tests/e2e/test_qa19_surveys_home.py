"""Session 19's Home findings (issue 7): a filter the database could not keep is said so at once, instead of
showing for a moment and jumping back at the next refresh.

Signed requests against the fake Slack; no sleeping, no wall clock.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from handlers.blocks.home import HomeState
from handlers.events.home import saved_home_state
from handlers.home_publisher import publisher_of, request_home_refresh
from handlers.ids import HOME_SCOPE, HOME_SHOW, HOME_TIER
from storage.store import Store
from tests.e2e.test_home import DANA, SAM, add_customers, as_text, click
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import TEAM_ID, BotServer


def chosen(home: dict[str, Any]) -> dict[str, Any]:
    return json.loads(home["private_metadata"])


def test_a_filter_the_database_could_not_keep_is_said_at_once_not_undone_by_the_next_refresh(
    bot: BotServer, slack: SlackRequests, fake_slack: FakeSlack, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dana picks *Whole team* while the database is locked by another writer: nothing was published (the rows
    stayed hers while Slack's menu said *Whole team*), and a teammate's check-in a minute later published her Home
    back on *My customers*, unexplained. Now her Home is published at once as it is kept, saying the choice was not
    kept and to choose it again; once the database answers, the same click is kept and refreshes keep it."""
    add_customers(store, 3, owner=DANA)
    add_customers(store, 4, start=100, owner=SAM)
    slack.event({"type": "app_home_opened", "user": DANA, "channel": "D0001", "tab": "home"})
    at_risk = click(slack, fake_slack, HOME_SHOW, action_type="static_select", selected_option={"value": "risk"})
    assert chosen(at_risk)["show"] == "risk"

    real_save = Store.save_home_state

    def locked(self: Store, **kwargs: Any) -> None:
        raise OperationalError("INSERT INTO home_state …", {}, Exception("database is locked"))

    monkeypatch.setattr(Store, "save_home_state", locked)
    # Slack sends the menus as they show: the one clicked already says *Whole team*.
    shown = selected(at_risk, **{HOME_SCOPE: "team", HOME_SHOW: "risk"})
    before = len(fake_slack.calls_to("views.publish"))
    reply = slack.block_action(
        HOME_SCOPE, user_id=DANA, view=shown, action_type="static_select", selected_option={"value": "team"}
    )
    assert reply.status == 200
    fake_slack.wait_for("views.publish", before + 1)
    home = fake_slack.published_home[DANA]
    bot.settle()
    assert chosen(home) == chosen(at_risk), "the Home shows what is kept, not a choice the next refresh undoes"
    said = as_text(home)
    assert "couldn't keep your choice" in said and "Please choose it again" in said, said
    assert "Customer 0100" not in said  # still her own customers, as the menu now says

    monkeypatch.setattr(Store, "save_home_state", real_save)
    request_home_refresh(bot.app, TEAM_ID, [DANA])  # a teammate's change: her Home, as kept, without the note
    publisher = publisher_of(bot.app)
    assert publisher is not None
    publisher.flush()
    refreshed = fake_slack.published_home[DANA]
    assert chosen(refreshed) == chosen(at_risk) and "couldn't keep" not in as_text(refreshed)

    team = click(slack, fake_slack, HOME_SCOPE, action_type="static_select", selected_option={"value": "team"})
    assert chosen(team)["scope"] == "team" and "couldn't keep" not in as_text(team)
    request_home_refresh(bot.app, TEAM_ID, [DANA])
    publisher.flush()
    assert chosen(fake_slack.published_home[DANA])["scope"] == "team"


def test_a_filter_chosen_while_the_database_is_down_leaves_the_home_as_it_was_and_says_so(
    bot: BotServer, slack: SlackRequests, fake_slack: FakeSlack, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing can be read either: the tab Slack sent with the click is published back, with the note."""
    add_customers(store, 3, owner=DANA)
    slack.event({"type": "app_home_opened", "user": DANA, "channel": "D0001", "tab": "home"})
    before = fake_slack.published_home[DANA]

    def down(self: Store, **kwargs: Any) -> None:
        raise OperationalError("SELECT …", {}, Exception("connection refused"))

    monkeypatch.setattr(Store, "save_home_state", down)
    monkeypatch.setattr(Store, "home_reads", down)
    home = click(slack, fake_slack, HOME_SCOPE, action_type="static_select", selected_option={"value": "team"})
    assert chosen(home) == chosen(before) and "couldn't keep your choice" in as_text(home)
    assert home["blocks"][0] == before["blocks"][0] and home["blocks"][2:] == before["blocks"][1:]
    sent = fake_slack.calls_to("views.publish")[-1].params["view"]
    assert set(json.loads(sent) if isinstance(sent, str) else sent) == {"type", "blocks", "private_metadata"}


def selected(view: dict[str, Any], **chosen: str) -> dict[str, Any]:
    """`view` as Slack sends it back with a click: its selects' current choices in view.state.values (the tab is
    not redrawn yet, so its private_metadata still says what it was published with)."""
    values = {HOME_SCOPE: "mine", HOME_SHOW: "all", HOME_TIER: "any", **chosen}
    state = {
        "home_filters": {
            action_id: {
                "type": "static_select",
                "selected_option": {"text": {"type": "plain_text", "text": v}, "value": v},
            }
            for action_id, v in values.items()
        }
    }
    return {**view, "state": {"values": state}}


def test_two_filters_picked_one_after_the_other_before_the_tab_is_redrawn_are_both_kept(
    bot: BotServer, slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    """Dana picks *Whole team*, then at once *At risk only*, before Slack has redrawn the tab: the second click
    carried the view as first published (*My customers* in its metadata), so her Home came back on *My customers*,
    at risk only — the scope she had just picked jumped back, while Slack's menu had shown it. Each click now reads
    every filter as Slack shows it (view.state), and changes the one clicked."""
    add_customers(store, 3, owner=DANA)
    add_customers(store, 4, start=100, owner=SAM, health_band="red")
    slack.event({"type": "app_home_opened", "user": DANA, "channel": "D0001", "tab": "home"})
    first = fake_slack.published_home[DANA]
    for action_id, value, shown in [
        (HOME_SCOPE, "team", selected(first, **{HOME_SCOPE: "team"})),
        (HOME_SHOW, "risk", selected(first, **{HOME_SCOPE: "team", HOME_SHOW: "risk"})),
    ]:
        before = len(fake_slack.calls_to("views.publish"))
        reply = slack.block_action(
            action_id, user_id=DANA, view=shown, action_type="static_select", selected_option={"value": value}
        )
        assert reply.status == 200
        fake_slack.wait_for("views.publish", before + 1)
    bot.settle()
    home = fake_slack.published_home[DANA]
    assert chosen(home) == {"scope": "team", "show": "risk", "tier": None, "page": 0}
    assert "Customer 0100" in as_text(home)
    assert saved_home_state(store, team_id=TEAM_ID, user_id=DANA) == HomeState(scope="team", show="risk")
