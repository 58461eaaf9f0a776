"""End to end, session 18: what a user clicks rather than types, as Slack sends it — the message shortcut "Log as
check-in" on a message whose text Slack marked up as it was typed."""

from __future__ import annotations

import json

from handlers.ids import CHECKIN_MODAL, LOG_MESSAGE_CHECKIN
from storage.store import Store
from tests.e2e.test_checkins import post_in, summaries
from tests.e2e.test_foundation import add_acme, modal_values
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import TEAM_ID, BotServer


def test_a_logged_message_reads_an_email_address_as_it_was_typed(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, bot: BotServer
) -> None:
    """Slack links an email address as it is typed (`dana@acme.com` is sent as `<mailto:dana@acme.com|dana@acme.com>`):
    the form showed it as `mailto:dana@acme.com`, words nobody wrote, and stored them so in the check-in, its summary
    in the customer's channel and the CSV export. A link labelled otherwise still reads as label and address."""
    add_acme(slack)
    message = post_in(fake_slack, "C0ACME", "placeholder")
    message["text"] = (
        "Write to <mailto:dana@acme.com|dana@acme.com> or <mailto:ops@acme.com|the ops desk> about <https://acme.com|acme.com>"
    )
    slack.message_action(LOG_MESSAGE_CHECKIN, message, channel_id="C0ACME")
    view = fake_slack.calls_to("views.open")[0].params["view"]
    note = next(b for b in view["blocks"] if b["block_id"] == "note")["element"]["initial_value"]
    words = "Write to dana@acme.com or the ops desk (mailto:ops@acme.com) about acme.com (https://acme.com)"
    assert note.split("\n")[0] == words, note
    customer_id = json.loads(view["blocks"][0]["element"]["initial_option"]["value"])
    slack.view_submission(
        CHECKIN_MODAL, modal_values(customer_id, "green", note), private_metadata=view["private_metadata"]
    )
    bot.settle()
    (entry,) = store.checkins(team_id=TEAM_ID)
    assert entry.note.startswith(words + "\n"), entry.note
    assert words in summaries(fake_slack)[-1]["text"]
