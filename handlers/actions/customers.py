"""Buttons on the customer list and card: paging, open, edit, snooze, archive, restore."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, BoltContext, Respond
from slack_sdk import WebClient

from bot.clock import Clock
from bot.settings import Settings
from domain.errors import UserError
from handlers.actions.nudges import open_snooze_modal
from handlers.blocks import is_row_id, mrkdwn_name
from handlers.blocks.customers import customer_modal
from handlers.commands.list import list_page
from handlers.commands.show import card_message
from handlers.home_publisher import request_home_refresh
from handlers.permissions import require_change
from storage.models import Customer
from storage.store import Store


def _customer(store: Store, body: dict[str, Any], action: dict[str, Any], context: BoltContext) -> Customer:
    value = str(action.get("value") or "")
    customer = (
        store.customer(team_id=context.team_id or body["team"]["id"], customer_id=int(value))
        if is_row_id(value)
        else None
    )
    if customer is None:
        raise UserError("That customer no longer exists.")
    return customer


def _answer(
    respond: Respond, body: dict[str, Any], client: WebClient, message: dict[str, Any], *, replace: bool
) -> None:
    """Answer in the message the button sits in (via response_url), else by DM (e.g. from the Home tab)."""
    if body.get("response_url"):
        respond(replace_original=replace, response_type="ephemeral", **message)
    else:
        client.chat_postMessage(channel=body["user"]["id"], **message)


def page_list(
    ack: Ack,
    body: dict[str, Any],
    action: dict[str, Any],
    context: BoltContext,
    client: WebClient,
    respond: Respond,
    store: Store,
    settings: Settings,
    clock: Clock,
) -> None:
    ack()
    try:
        wanted = json.loads(action.get("value") or "{}")
        args, page = str(wanted.get("args", "")), int(wanted.get("page", 1))
    except (ValueError, TypeError, AttributeError):
        raise UserError("That page is no longer available; run `/partner list` again.") from None
    message = list_page(
        store=store,
        settings=settings,
        team_id=context.team_id or body["team"]["id"],
        user_id=body["user"]["id"],
        args=args,
        page=page,
        now=clock(),
    )
    _answer(respond, body, client, message, replace=True)


def open_card(
    ack: Ack,
    body: dict[str, Any],
    action: dict[str, Any],
    context: BoltContext,
    client: WebClient,
    respond: Respond,
    store: Store,
    settings: Settings,
    clock: Clock,
) -> None:
    ack()
    customer = _customer(store, body, action, context)
    _answer(respond, body, client, card_message(store, settings, customer=customer, now=clock()), replace=False)


def edit_from_card(
    ack: Ack,
    body: dict[str, Any],
    action: dict[str, Any],
    context: BoltContext,
    client: WebClient,
    store: Store,
    settings: Settings,
) -> None:
    ack()
    customer = _customer(store, body, action, context)
    if customer.archived_at is not None:
        raise UserError(f"*{mrkdwn_name(customer.name)}* is archived; restore it before editing.")
    require_change(client, settings, user_id=body["user"]["id"], customer=customer, action="edit")
    channel_id = (body.get("channel") or {}).get("id")  # the card's channel: told there once the form is saved
    client.views_open(trigger_id=body["trigger_id"], view=customer_modal(customer=customer, channel_id=channel_id))


def snooze_from_card(
    ack: Ack,
    body: dict[str, Any],
    action: dict[str, Any],
    context: BoltContext,
    client: WebClient,
    store: Store,
    clock: Clock,
    settings: Settings,
) -> None:
    """The snooze modal for the card's customer; saving it snoozes the customer (handlers.views.nudges)."""
    ack()
    customer = _customer(store, body, action, context)
    if customer.archived_at is not None:
        raise UserError(f"*{mrkdwn_name(customer.name)}* is archived, so it gets no nudges; restore it to snooze them.")
    open_snooze_modal(client, body["trigger_id"], customer, nudge_id=None, now=clock(), settings=settings)


def _archiving(archived: bool) -> Callable[..., None]:
    """The card's Archive (True) or Restore (False) button; the card is redrawn in place."""

    def listener(
        ack: Ack,
        body: dict[str, Any],
        action: dict[str, Any],
        context: BoltContext,
        client: WebClient,
        respond: Respond,
        store: Store,
        settings: Settings,
        clock: Clock,
    ) -> None:
        ack()
        customer = _customer(store, body, action, context)
        user_id = body["user"]["id"]
        verb = "archive" if archived else "restore"
        require_change(client, settings, user_id=user_id, customer=customer, action=verb)
        assert customer.id is not None
        change = store.archive_customer if archived else store.restore_customer
        # Archiving an archived customer changes nothing, so a double click records one event.
        updated = change(team_id=customer.team_id, customer_id=customer.id, actor_id=user_id, now=clock())
        request_home_refresh(context, customer.team_id, [customer.owner_id, user_id])
        _answer(respond, body, client, card_message(store, settings, customer=updated, now=clock()), replace=True)

    return listener


archive_from_card = _archiving(True)
restore_from_card = _archiving(False)
