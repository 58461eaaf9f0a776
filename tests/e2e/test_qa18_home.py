"""End to end, session 18: what a user clicks rather than types, as Slack sends it — the message shortcut "Log as
check-in" on a message whose text Slack marked up as it was typed."""

from __future__ import annotations

import json

from slack_sdk import WebClient

from handlers.ids import CHECKIN_MODAL, CHECKIN_NOTE, LOG_MESSAGE_CHECKIN
from storage.store import Store
from tests.e2e.test_checkins import post_in, summaries
from tests.e2e.test_foundation import add_acme, modal_values
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import BOT_TOKEN, TEAM_ID, BotServer


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


def test_a_long_message_in_a_conversation_partner_cannot_read_is_logged_whole(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, bot: BotServer
) -> None:
    """A message longer than the form's Note box (3000 characters) in a private channel or a DM Partner is not in:
    Slack gives no link to it (chat.getPermalink: channel_not_found) and the submission cannot read it again, so the
    form showed it cut with "…" and stored it so, the rest lost with no link to find it. The rest now comes in
    further Note boxes, and left as shown the message is stored whole."""
    add_acme(slack)
    paragraph = "They asked about <@U0002>'s rollout plan &amp; the <https://acme.com/q4|Q4 numbers>. "
    text = paragraph * 90  # some 7,000 characters once read
    message = {"type": "message", "user": "U0002", "text": text, "ts": "1764200000.000100"}
    reply = slack.message_action(LOG_MESSAGE_CHECKIN, message, channel_id="G0PRIVATE", channel_name="deal-room")
    assert reply.status == 200
    (link,) = fake_slack.calls_to("chat.getPermalink")
    assert link.response["error"] == "channel_not_found"
    view = fake_slack.calls_to("views.open")[0].params["view"]
    notes = [b for b in view["blocks"] if b["block_id"] == "note" or b["block_id"].startswith("note_")]
    shown = [b["element"]["initial_value"] for b in notes]
    assert len(notes) == 3 and all(len(s) <= 3000 for s in shown) and "…" not in "".join(shown)
    read = "They asked about <@U0002>'s rollout plan & the Q4 numbers (https://acme.com/q4). " * 90
    assert "".join(shown) == read.strip()
    values = modal_values(acme_id(store), "yellow", shown[0])
    values |= {
        b["block_id"]: {CHECKIN_NOTE: {"type": "plain_text_input", "value": s}}
        for b, s in zip(notes, shown, strict=True)
    }
    reply = slack.view_submission(CHECKIN_MODAL, values, private_metadata=view["private_metadata"])
    assert reply.status == 200 and reply.body in (b"", b"{}"), reply.text
    bot.settle()
    (entry,) = store.checkins(team_id=TEAM_ID)
    # As Slack escapes a typed note, the mention kept.
    assert (
        entry.note
        == ("They asked about <@U0002>'s rollout plan &amp; the Q4 numbers (https://acme.com/q4). " * 90).strip()
    )
    assert entry.kind == "message" and entry.permalink is None


def acme_id(store: Store) -> int:
    (customer,) = store.customers(team_id=TEAM_ID)
    assert customer.id is not None
    return customer.id


def test_a_long_reply_deep_in_a_long_thread_is_logged_whole(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, bot: BotServer
) -> None:
    """A reply longer than the form holds, late in a busy thread: the submission read the thread again for it, but
    only its first page (the parent and 199 replies), and stored the 250th reply cut with "…" as if Slack could not
    say."""
    add_acme(slack)
    client = WebClient(token=BOT_TOKEN, base_url=fake_slack.api_url)
    parent = client.chat_postMessage(channel="C0ACME", text="Renewal war room")["message"]
    for n in range(249):
        client.chat_postMessage(channel="C0ACME", text=f"update {n}", thread_ts=parent["ts"])
    long_reply = "The procurement team listed every open point again. " * 80  # some 4,200 characters
    reply = dict(client.chat_postMessage(channel="C0ACME", text=long_reply, thread_ts=parent["ts"])["message"])
    slack.message_action(LOG_MESSAGE_CHECKIN, reply, channel_id="C0ACME")
    view = fake_slack.calls_to("views.open")[0].params["view"]
    note = next(b for b in view["blocks"] if b["block_id"] == "note")["element"]["initial_value"]
    assert "…\nhttps://" in note  # shown cut, its link after it
    slack.view_submission(
        CHECKIN_MODAL, modal_values(acme_id(store), "green", note), private_metadata=view["private_metadata"]
    )
    bot.settle()
    (entry,) = store.checkins(team_id=TEAM_ID)
    assert entry.note.startswith(long_reply.strip() + "\nhttps://"), entry.note[-200:]


def test_a_long_message_in_a_public_channel_partner_is_not_in_is_logged_whole(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, bot: BotServer
) -> None:
    """Slack links a message of a public channel Partner is not in, but Partner cannot read the channel
    (conversations.replies: not_in_channel): a message too long for the form was stored cut with "…". Its rest now
    follows in further Note boxes, its link after it."""
    add_acme(slack)
    fake_slack.add_channel("C0SALES", name="sales", is_member=False)
    text = "Legal wants the data processing terms reviewed before the renewal. " * 70  # some 4,700 characters
    message = {"type": "message", "user": "U0002", "text": text, "ts": "1764200000.000200"}
    fake_slack.messages.setdefault("C0SALES", []).append(dict(message))
    slack.message_action(LOG_MESSAGE_CHECKIN, message, channel_id="C0SALES", channel_name="sales")
    permalink = fake_slack.calls_to("chat.getPermalink")[0].response["permalink"]
    view = fake_slack.calls_to("views.open")[0].params["view"]
    notes = [b for b in view["blocks"] if b["block_id"] == "note" or b["block_id"].startswith("note_")]
    shown = [b["element"]["initial_value"] for b in notes]
    assert len(shown) == 2 and "".join(shown) == f"{text.strip()}\n{permalink}"
    values = modal_values(acme_id(store), "green", shown[0])
    values |= {
        b["block_id"]: {CHECKIN_NOTE: {"type": "plain_text_input", "value": s}}
        for b, s in zip(notes, shown, strict=True)
    }
    slack.view_submission(CHECKIN_MODAL, values, private_metadata=view["private_metadata"])
    bot.settle()
    (entry,) = store.checkins(team_id=TEAM_ID)
    assert entry.note.startswith(text.strip() + "\nhttps://"), entry.note[-200:]
    assert entry.permalink == permalink
