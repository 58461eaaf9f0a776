"""The HTTP suite's scenarios for every surface, run again over Socket Mode: the same test functions, with `slack`
delivering each request as a Socket Mode envelope to the same app (slack-sdk's WebSocket client, Bolt's handler)
and reading its ack. One or two scenarios per surface, so a break in the Socket Mode path shows here without
running the whole suite twice: slash commands and their retries, block_actions (from a channel, Home and a modal),
view_submission (field errors, views.push and the card redrawn with views.update, and a customer's person in a
Slack Connect channel whose answer comes back as `response_action: update` in the ack), the message shortcut, and the
events Partner listens to (app_home_opened, member_joined_channel, channel_shared, app_uninstalled) with Slack's
redeliveries (`retry_attempt`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.socket_mode import PartnerSocketModeHandler
from tests.e2e.test_cadence import (  # noqa: F401  (acme_channel, unpaced: the scenarios' autouse fixtures)
    acme_channel,
    test_inviting_partner_into_the_channel_that_refused_it_brings_the_next_nudge_back_there,
    unpaced,
)
from tests.e2e.test_checkins import (
    test_card_button_opens_the_prefilled_modal,
    test_message_shortcut_prefills_the_note_with_a_permalink,
)
from tests.e2e.test_hardening import (
    test_retried_actions_and_events_post_nothing_twice,
    test_retried_commands_store_one_row,
    test_retried_submissions_store_one_row_and_confirm_once,
)
from tests.e2e.test_home_surveys import (
    test_a_home_rows_survey_menu_opens_the_survey_and_home_shows_the_new_tier,
    test_the_card_opened_from_home_pushes_a_survey_and_comes_back_updated,
)
from tests.e2e.test_shared_channels import test_channel_shared_and_unshared_events_turn_summaries_and_nudges_off_and_on
from tests.e2e.test_surveys import (
    EXTERNAL_TEAM,
    test_customer_answers_their_view_and_a_gap_is_flagged_to_the_owner_once,
    test_invalid_submission_returns_errors_next_to_the_fields,
)
from tests.e2e.test_uninstall import test_uninstall_stops_nudges_and_keeps_data_and_a_reinstall_resumes_them
from tests.fake_slack import FakeSlack
from tests.fake_socket_mode import SocketModeRequests
from tests.utils import TEAM_ID, BotServer

SCENARIOS = [
    test_card_button_opens_the_prefilled_modal,
    test_message_shortcut_prefills_the_note_with_a_permalink,
    test_retried_commands_store_one_row,
    test_retried_submissions_store_one_row_and_confirm_once,
    test_retried_actions_and_events_post_nothing_twice,
    test_invalid_submission_returns_errors_next_to_the_fields,
    test_customer_answers_their_view_and_a_gap_is_flagged_to_the_owner_once,
    test_the_card_opened_from_home_pushes_a_survey_and_comes_back_updated,
    test_a_home_rows_survey_menu_opens_the_survey_and_home_shows_the_new_tier,
    test_inviting_partner_into_the_channel_that_refused_it_brings_the_next_nudge_back_there,
    test_channel_shared_and_unshared_events_turn_summaries_and_nudges_off_and_on,
    test_uninstall_stops_nudges_and_keeps_data_and_a_reinstall_resumes_them,
]


@pytest.fixture
def slack(bot: BotServer, fake_slack: FakeSlack) -> Iterator[SocketModeRequests]:
    """The HTTP suite's `slack`, over Socket Mode to the app `bot` serves (its follow-ups and settle() alike)."""
    handler = PartnerSocketModeHandler(bot.app, app_token=fake_slack.app_token, web_client=bot.app.client)
    handler.connect()
    fake_slack.socket_mode.wait_connected()
    yield SocketModeRequests(fake_slack.socket_mode, team_id=TEAM_ID, fake=fake_slack)
    assert fake_slack.socket_mode.sent and set(fake_slack.socket_mode.acks) == {
        e["envelope_id"] for e in fake_slack.socket_mode.sent
    }
    handler.client.auto_reconnect_enabled = False
    fake_slack.socket_mode.drop_connections()  # Slack's side first: the client would wait out its receive timeout
    handler.close()
    assert fake_slack.socket_mode.stray_messages == [] and fake_slack.socket_mode.errors == []


class ExternalSocketModeRequests(SocketModeRequests):
    """A customer's person in a Slack Connect channel (their user in another team), over Socket Mode."""

    def _user(self, user_id: str, user_name: str) -> dict[str, Any]:
        return {**super()._user(user_id, user_name), "team_id": EXTERNAL_TEAM}


@pytest.fixture
def external(slack: SocketModeRequests, fake_slack: FakeSlack) -> ExternalSocketModeRequests:
    """The survey suite's `external`, over the same Socket Mode connection (its form's ack: response_action update)."""
    return ExternalSocketModeRequests(fake_slack.socket_mode, team_id=TEAM_ID, fake=fake_slack)
