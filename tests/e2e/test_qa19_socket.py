"""Session 19 QA over Socket Mode: what Slack and an operator do to a running connection."""

from __future__ import annotations

import logging

import pytest

from bot.app import create_app
from bot.settings import Settings
from bot.socket_mode import PartnerSocketModeHandler
from storage.store import Store
from tests.e2e.test_replicas import wait_until
from tests.e2e.test_socket_mode import ack_text, close, handler, sm  # noqa: F401  (handler: sm's fixture)
from tests.fake_slack import FakeSlack
from tests.fake_socket_mode import SocketModeRequests
from tests.utils import TEAM_ID, FakeClock


def test_an_app_token_revoked_while_partner_runs_is_named_to_the_operator_once_and_a_good_one_reconnects(
    settings: Settings, store: Store, clock: FakeClock, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    # The operator regenerates (or revokes) the app-level token in the app's settings while Partner runs: Slack drops
    # the connection and refuses the old token from then on. slack-sdk logged "Failed to retrieve WSS URL: The
    # request to the Slack API failed … invalid_auth" on every try, naming neither SLACK_APP_TOKEN nor what to do.
    caplog.set_level(logging.INFO, logger="partner")
    app = create_app(settings=settings, store=store, clock=clock)
    partner = PartnerSocketModeHandler(app, app_token=fake_slack.app_token, web_client=app.client)
    partner.client.current_app_monitor.interval_seconds = 0.1  # slack-sdk's reconnect tries: every 10 s in production
    partner.connect()
    fake_slack.socket_mode.wait_connected()
    token = fake_slack.app_token
    try:
        fake_slack.app_token = "xapp-1-A0001-2-regenerated"
        fake_slack.socket_mode.drop_connections()
        wait_until(lambda: len(fake_slack.calls_to("apps.connections.open")) >= 4, 10, "three refused reconnects")

        told = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR and "SLACK_APP_TOKEN" in r.msg]
        assert len(told) == 1, told
        assert "(invalid_auth)" in told[0] and "connections:write" in told[0] and "restart" in told[0]

        fake_slack.app_token = token  # Slack takes the token again: Partner is back without a restart
        wait_until(lambda: len(fake_slack.socket_mode.connections) == 1, 10, "the connection opened again")
        sm = SocketModeRequests(fake_slack.socket_mode, team_id=TEAM_ID, fake=fake_slack)
        assert "/partner checkin" in ack_text(sm.command("help"))
    finally:
        fake_slack.app_token = token
        close(partner, fake_slack)
        app.drain()


def test_an_envelope_split_into_websocket_fragments_is_answered_whole(
    sm: SocketModeRequests,  # noqa: F811  (the fixture imported above)
    fake_slack: FakeSlack,
    store: Store,
) -> None:
    # RFC 6455 §5.4: a server (or a proxy between) may send one message as a text frame without FIN and continuation
    # frames, with a ping between them. slack-sdk read the first piece as a whole message (a JSON error) and the
    # rest as "unsupported data frames": the command was never answered and Slack told the user it failed.
    sm.fragments = 3
    assert "Added *Acme*" in ack_text(sm.command("add Acme"))
    text = ack_text(sm.command("checkin acme green " + "renewal call went well " * 40))
    assert "Logged a green check-in for *Acme*" in text
    (entry,) = store.checkins(team_id=TEAM_ID)
    assert entry.note.startswith("renewal call went well")
    assert fake_slack.socket_mode.stray_messages == [] and fake_slack.socket_mode.errors == []
