"""Buttons that open survey modals: a survey about a customer, and the customer's own view in a shared channel."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.clock import Clock
from bot.settings import Settings
from domain.errors import UserError
from handlers.actions.home import home_card, home_card_customer, modal_source
from handlers.blocks import command_name, mrkdwn_name
from handlers.blocks.surveys import ASK, parse_survey_button, parse_survey_menu, survey_modal
from handlers.commands.ask import ask_customer
from handlers.commands.lookup import live_customer
from handlers.followups import tell_author
from handlers.identity import app_team_id, external_status
from handlers.parsing import unescape
from handlers.permissions import GUEST_CHECKS, WhoUnknown
from storage.models import Customer
from storage.store import Store

logger = logging.getLogger(__name__)


def open_survey_modal(
    *,
    client: WebClient,
    store: Store,
    trigger_id: str,
    team_id: str,
    user_id: str,
    survey: str,
    customer: Customer | None,
    channel_id: str | None = None,
    source: dict[str, Any] | None = None,
    respondent: str | None = None,
) -> None:
    """Opens the survey, filled in from the user's draft, or (profile) from the latest saved profile.

    From a modal (`source`, e.g. the card opened from Home) the survey is pushed on top of it: Slack refuses to
    open a second modal from a modal's click. Pushed on a Home card, it redraws that card once saved.
    """
    customer_id = customer.id if customer is not None else None
    draft = store.survey_draft(team_id=team_id, user_id=user_id, survey=survey, customer_id=customer_id)
    prefill: dict[str, Any] | None = dict(draft.answers) if draft is not None else None
    if prefill is None and survey == "profile":
        # The profile is a living record: editing starts from what the team already knows.
        latest = store.latest_survey_response(team_id=team_id, survey="profile", customer_id=customer_id)
        # Saved answers keep Slack's escaping (see submit_survey); the form shows them as typed.
        prefill = {k: unescape(v) if isinstance(v, str) else v for k, v in latest.answers.items()} if latest else None
    on_card = source is not None and customer_id is not None and home_card_customer(source) == customer_id
    view = survey_modal(
        survey,
        customer=customer,
        prefill=prefill,
        channel_id=channel_id,
        from_draft=draft is not None,
        card_view_id=str(source["id"]) if on_card and source is not None and source.get("id") else None,
        respondent=respondent,
    )
    if source is not None:
        client.views_push(trigger_id=trigger_id, view=view)
    else:
        client.views_open(trigger_id=trigger_id, view=view)


# What the customer's own people are told when the customer behind their survey is archived or gone: nothing about
# our own records (that we archived them, how to restore), which is for the account team only.
SURVEY_CLOSED = "This survey is closed now. Thank you for taking the time!"
# Said to whoever clicked when Slack could not say which organisation they belong to: neither ours nor theirs.
WHO_UNKNOWN = (
    "Slack didn't tell me just now who is asking, so I couldn't open the questions. Please try again in a moment."
)


def open_survey(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], context: BoltContext, client: WebClient, store: Store
) -> None:
    ack()
    parsed = parse_survey_button(action.get("value") or "")
    if parsed is None:
        raise UserError("That survey button is out of date; use `/partner survey <customer>` instead.")
    survey, customer_id = parsed
    team_id = app_team_id(context, body)
    customer = live_customer(store, team_id, str(customer_id)) if customer_id is not None else None
    open_survey_modal(
        client=client,
        store=store,
        trigger_id=body["trigger_id"],
        team_id=team_id,
        user_id=body["user"]["id"],
        survey=survey,
        customer=customer,
        channel_id=(body.get("channel") or {}).get("id"),
        source=modal_source(body),
    )


def survey_from_home(
    ack: Ack,
    body: dict[str, Any],
    action: dict[str, Any],
    context: BoltContext,
    client: WebClient,
    store: Store,
    clock: Clock,
) -> None:
    """A Home row's survey menu: the survey's modal (views.open with the click's trigger), or the invitation to the
    customer's people, confirmed by DM (the Home has no channel to answer in)."""
    ack()
    option = str((action.get("selected_option") or {}).get("value") or "")
    parsed = parse_survey_menu(option)
    if parsed is None:
        raise UserError("That menu is out of date; use `/partner survey <customer>` instead.")
    key, customer_id = parsed
    team_id, user_id = app_team_id(context, body), body["user"]["id"]
    customer = live_customer(store, team_id, str(customer_id))
    if key == ASK:
        trigger_id = body["trigger_id"]
        text = ask_customer(
            client, store, team_id=team_id, user_id=user_id, customer=customer, trigger_id=trigger_id, now=clock()
        )
        _tell_asked(client, user_id, text)
        return
    open_survey_modal(
        client=client,
        store=store,
        trigger_id=body["trigger_id"],
        team_id=team_id,
        user_id=user_id,
        survey=key,
        customer=customer,
    )


def ask_from_card(
    ack: Ack,
    body: dict[str, Any],
    action: dict[str, Any],
    context: BoltContext,
    client: WebClient,
    respond: Respond,
    store: Store,
    clock: Clock,
    settings: Settings,
) -> None:
    """The card's "Ask them" (shown where the channel is shared): `/partner ask`, answered on the card it came from —
    the Home card modal redrawn with what happened, else an ephemeral under the `/partner show` card."""
    ack()
    team_id, user_id = app_team_id(context, body), body["user"]["id"]
    customer = live_customer(store, team_id, str(action.get("value") or ""))
    now = clock()
    text = ask_customer(
        client, store, team_id=team_id, user_id=user_id, customer=customer, trigger_id=body["trigger_id"], now=now
    )
    source = modal_source(body)
    if source is not None and source.get("id") and home_card_customer(source) == customer.id:
        card = home_card(store, settings, team_id=team_id, customer=customer, now=now, notice=text)
        _tell_asked(client, user_id, text, card_id=str(source["id"]), card=card)
    elif body.get("response_url"):
        # Refused (expired, Slack's trouble), the note goes by chat.postEphemeral, else a DM; never raises: "try
        # again" would have the customer's people invited twice.
        channel_id = (body.get("channel") or {}).get("id")
        tell_author(respond, client, user_id=user_id, channel_id=channel_id, text=text)
    else:
        _tell_asked(client, user_id, text)


def _tell_asked(
    client: WebClient, user_id: str, text: str, *, card_id: str | None = None, card: dict[str, Any] | None = None
) -> None:
    """Says the invitation went out: on the Home card it came from (redrawn), else, or when Slack will not redraw it
    (closed meanwhile, busy, down), by DM. Never raises: the invitation is in the customer's channel, and the error
    handler's "please try again" had the asker click again and the customer's people invited twice."""
    if card_id is not None and card is not None:
        try:
            client.views_update(view_id=card_id, view=card)
            return
        except (SlackApiError, OSError) as e:
            logger.info("could not redraw the Home card %s after Ask them (%s): saying it by DM", card_id, _why(e))
    try:
        client.chat_postMessage(channel=user_id, text=text)
    except (SlackApiError, OSError) as e:
        logger.warning("could not tell %s their customer was asked (%s); the invitation is posted", user_id, _why(e))


def _why(error: SlackApiError | OSError) -> str:
    """Slack's error code, or the network failure's kind, for a log line."""
    return str(error.response.get("error")) if isinstance(error, SlackApiError) else type(error).__name__


def open_customer_view(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], context: BoltContext, client: WebClient, store: Store
) -> None:
    """The button under `/partner ask`: the customer's people get three questions; our own people a pointer."""
    ack()
    team_id = app_team_id(context, body)
    external = external_status(context, body)
    try:
        customer = live_customer(store, team_id, action.get("value") or "")
    except UserError:
        if external is not False:  # nothing of our records for their people (nor for someone Slack can't place)
            raise UserError(SURVEY_CLOSED) from None
        raise
    if external is None:
        raise UserError(WHO_UNKNOWN)
    if not external:
        # A guest of our workspace in the customer's channel is one of the customer's people, not of the team.
        try:
            external = GUEST_CHECKS.is_guest(client, team_id=team_id, user_id=body["user"]["id"])
        except WhoUnknown:
            raise UserError(WHO_UNKNOWN) from None
    if not external:
        raise UserError(
            f"This one is for *{mrkdwn_name(customer.name)}*'s people, to tell us how they see us. "
            f"Record our own view with `/partner survey {command_name(customer.name)} level`."
        )
    open_survey_modal(
        client=client,
        store=store,
        trigger_id=body["trigger_id"],
        team_id=team_id,
        user_id=body["user"]["id"],
        survey="customer_view",
        customer=customer,
        # Their answer counts as theirs even if Slack cannot place them again when they send it (another replica).
        respondent=body["user"]["id"],
    )
