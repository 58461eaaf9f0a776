"""`/partner ask <customer>`: invite the customer's own people, in a shared channel, to say how they see us."""

from __future__ import annotations

import logging
from datetime import datetime

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from domain.customers import shared_with_another_organisation
from domain.errors import UserError
from handlers.blocks import command_name, mrkdwn_name
from handlers.blocks.surveys import ask_message, asked_text, still_asking_text, unconfirmed_ask_text
from handlers.commands.base import CommandCall, Reply
from handlers.commands.lookup import find_customer
from handlers.parsing import tokenize, unescape
from schedules.slack_http import lasting
from storage.models import Customer
from storage.store import Store

logger = logging.getLogger(__name__)

USAGE = "/partner ask <customer>"
ASKED = "survey_asked"  # the customer event of an invitation: once per command (its trigger), with the post's ts


def ask(call: CommandCall) -> Reply:
    words = [unescape(w) for w in tokenize(call.args, inner_quotes=True)]
    customer, rest = find_customer(call.store, team_id=call.team_id, words=words, usage=USAGE)
    if rest:
        raise UserError(f"I didn't understand '{' '.join(rest)}'. Usage: `{USAGE}`")
    text = ask_customer(
        call.client,
        call.store,
        team_id=call.team_id,
        user_id=call.user_id,
        customer=customer,
        trigger_id=call.trigger_id,
        now=call.now,
    )
    return {"text": text}


def ask_customer(
    client: WebClient, store: Store, *, team_id: str, user_id: str, customer: Customer, trigger_id: str, now: datetime
) -> str:
    """Posts the invitation in the customer's shared channel and says so; a UserError says why it can't. Shared by
    the command and the card's "Ask them" button: `trigger_id` (the command's, the click's) makes a redelivery of
    the same request post nothing twice."""
    assert customer.id is not None
    channel_id = customer.channel_id
    if not channel_id:
        raise UserError(
            f"*{mrkdwn_name(customer.name)}* has no channel yet. Give it the Slack Connect channel you "
            "share with them, "
            f"then try `{USAGE}` again."
        )
    try:
        channel = client.conversations_info(channel=channel_id)["channel"]
    except SlackApiError as e:
        error = e.response.get("error")
        logger.info("conversations.info failed for %s: %s", channel_id, error)
        if not lasting(e):
            raise  # Slack busy, down or refusing the token says nothing about the channel: the error handler tells
        if error == "missing_scope":  # an install from an older manifest: private channels need groups:read
            raise UserError(
                f"I'm not allowed to look at <#{channel_id}> yet: ask a Slack admin to reinstall Partner with the "
                "scopes in manifest.yml (private channels need groups:read), then try again."
            ) from None
        raise UserError(f"I can't see <#{channel_id}>. Invite me there (`/invite @Partner`) and try again.") from None
    # What Slack just said is worth keeping: a shared channel keeps Partner's internal posts out (summaries, nudges).
    store.set_channel_shared(
        team_id=team_id, channel_id=channel_id, shared=shared_with_another_organisation(channel), now=now
    )
    if channel.get("is_archived"):
        raise UserError(
            f"<#{channel_id}> is archived. Give *{mrkdwn_name(customer.name)}* its current shared channel "
            f"(`/partner edit {command_name(customer.name)} #channel`), then try `{USAGE}` again."
        )
    # Guests of ours among its members (often the customer's own people, as last looked up) read it too.
    guests = store.channel_readers(team_id=team_id, channel_id=channel_id).get("guests")
    if not channel.get("is_ext_shared") and not guests:
        raise UserError(
            f"<#{channel_id}> isn't shared with *{mrkdwn_name(customer.name)}* through Slack Connect and has no guests "
            "in it, so "
            "their people can't answer there. Share the channel with them first (or invite them as guests); I only "
            "ask customers in their own channel."
        )
    # The same request delivered twice (a retry, a replay) posts one invitation, and says "Asked" only once it is
    # in the channel: Slack redelivers a request it timed out waiting for, perhaps while the first still posts.
    asked = {"team_id": team_id, "customer_id": customer.id, "kind": ASKED, "dedupe": f"trigger:{trigger_id}"}
    record = {**asked, "detail": {"channel_id": channel_id}, "now": now, "actor_id": user_id}
    if not store.record_customer_event_once(**record):
        event = store.customer_event_once(**asked)
        if event is not None and event.detail.get("ts"):
            return asked_text(customer, channel_id)
        if event is not None and event.detail.get("unconfirmed"):
            return unconfirmed_ask_text(customer, channel_id)
        # None: the first delivery's post failed just now and it gave the invitation up, so this one posts it.
        if event is not None or not store.record_customer_event_once(**record):
            return still_asking_text(customer, channel_id)
    try:
        posted = client.chat_postMessage(channel=channel_id, **ask_message(customer, user_id))
    except SlackApiError as e:
        # Slack refused it, so nothing was asked: a retry of this request posts it rather than saying "Asked".
        store.forget_customer_event_once(**asked)
        error = e.response.get("error")
        if error in ("not_in_channel", "channel_not_found"):
            raise UserError(f"Invite me to <#{channel_id}> (`/invite @Partner`) so I can ask there.") from None
        if error == "is_archived":
            raise UserError(
                f"<#{channel_id}> is archived. Give *{mrkdwn_name(customer.name)}* its current shared channel "
                f"(`/partner edit {command_name(customer.name)} #channel`), then try again."
            ) from None
        raise
    except OSError:
        # No answer: Slack may have posted it. A retry says so rather than posting a second invitation.
        store.add_to_customer_event_once(**asked, detail={"unconfirmed": True})
        raise
    store.add_to_customer_event_once(**asked, detail={"ts": str(posted["ts"])})
    return asked_text(customer, channel_id)
