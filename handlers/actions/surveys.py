"""Buttons that open survey modals: a survey about a customer, and the customer's own view in a shared channel."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient

from domain.errors import UserError
from handlers.blocks.surveys import parse_survey_button, survey_modal
from handlers.commands.lookup import live_customer
from handlers.identity import app_team_id, is_external
from handlers.parsing import unescape
from storage.models import Customer
from storage.store import Store


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
) -> None:
    """Opens the survey, filled in from the user's draft, or (profile) from the latest saved profile."""
    customer_id = customer.id if customer is not None else None
    draft = store.survey_draft(team_id=team_id, user_id=user_id, survey=survey, customer_id=customer_id)
    prefill: dict[str, Any] | None = dict(draft.answers) if draft is not None else None
    if prefill is None and survey == "profile":
        # The profile is a living record: editing starts from what the team already knows.
        latest = store.latest_survey_response(team_id=team_id, survey="profile", customer_id=customer_id)
        # Saved answers keep Slack's escaping (see submit_survey); the form shows them as typed.
        prefill = {k: unescape(v) if isinstance(v, str) else v for k, v in latest.answers.items()} if latest else None
    view = survey_modal(survey, customer=customer, prefill=prefill, channel_id=channel_id, from_draft=draft is not None)
    client.views_open(trigger_id=trigger_id, view=view)


# What the customer's own people are told when the customer behind their survey is archived or gone: nothing about
# our own records (that we archived them, how to restore), which is for the account team only.
SURVEY_CLOSED = "This survey is closed now. Thank you for taking the time!"


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
    )


def open_customer_view(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], context: BoltContext, client: WebClient, store: Store
) -> None:
    """The button under `/partner ask`: the customer's people get three questions; our own people a pointer."""
    ack()
    team_id = app_team_id(context, body)
    try:
        customer = live_customer(store, team_id, action.get("value") or "")
    except UserError:
        if is_external(context, body):
            raise UserError(SURVEY_CLOSED) from None
        raise
    if not is_external(context, body):
        raise UserError(
            f"This one is for *{customer.name}*'s people, to tell us how they see us. "
            f"Record our own view with `/partner survey {customer.name} level`."
        )
    open_survey_modal(
        client=client,
        store=store,
        trigger_id=body["trigger_id"],
        team_id=team_id,
        user_id=body["user"]["id"],
        survey="customer_view",
        customer=customer,
    )
