"""Submissions of the add-customer and edit-customer modals."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient

from bot.clock import Clock
from bot.settings import Settings
from domain.customers import clean_name
from domain.errors import Problems, UserError
from handlers.blocks import command_name, mrkdwn_name
from handlers.commands.add import (
    OwnerTimezone,
    added_text,
    calendar_mismatch_text,
    check_owner,
    default_tz_hint,
    settings_for,
    tell_owner_change,
    user_timezone,
)
from handlers.commands.cadence import moved_call_text
from handlers.commands.customer_args import UNSET
from handlers.commands.edit import describe_changes, edit_changes
from handlers.followups import join_customer_channel, tell_user
from handlers.home_publisher import request_home_refresh
from handlers.ids import CUSTOMER_FIELD
from handlers.permissions import require_change
from schedules.cadence import plan_call_moved_into_the_past
from schedules.health import refresh_health
from storage.store import Store


def _field(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    return (view["state"]["values"].get(block_id) or {}).get(CUSTOMER_FIELD) or {}


def _text(view: dict[str, Any], block_id: str) -> str:
    return str(_field(view, block_id).get("value") or "").strip()


def _metadata(view: dict[str, Any]) -> dict[str, Any]:
    try:
        data = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


@contextmanager
def on_field(block_id: str) -> Iterator[None]:
    """Shows a UserError that names no field of its own under `block_id` in the modal."""
    try:
        yield
    except UserError as e:
        if e.field is not None:
            raise
        raise UserError(e.message, field=block_id) from None


def submit_add_customer(
    ack: Ack,
    view: dict[str, Any],
    body: dict[str, Any],
    context: BoltContext,
    client: WebClient,
    store: Store,
    clock: Clock,
    settings: Settings,
) -> None:
    team_id = context.team_id or body["team"]["id"]
    user_id = body["user"]["id"]
    key = f"view:{view['id']}"
    if store.customer_added_by(team_id=team_id, request_key=key) is not None:
        ack()  # the same submission delivered again: it is already added
        return
    owner_id = _field(view, "owner").get("selected_user") or user_id
    channel_id = _field(view, "channel").get("selected_conversation") or None
    options = {k: _text(view, k) for k in ("tz", "country", "cadence") if _text(view, k)}
    now = clock()
    problems = Problems()  # every wrong input is shown at once, each next to its field
    owner: dict[str, Any] | None = None
    fields: dict[str, Any] = {}
    with problems.check(), on_field("name"):
        clean_name(_text(view, "name"))
    with problems.check(), on_field("owner"):
        owner = check_owner(client, owner_id) if owner_id != user_id else None
    owner_tz = OwnerTimezone(lambda: owner.get("tz") if owner is not None else user_timezone(client, owner_id))
    with problems.check():
        fields = settings_for(options, owner_tz=owner_tz, default_tz=settings.default_tz, now=now)
    problems.raise_any()
    try:
        with on_field("name"):
            customer = store.add_customer(
                team_id=team_id,
                name=_text(view, "name"),
                created_by=user_id,
                now=now,
                channel_id=channel_id,
                owner_id=owner_id,
                request_key=key,
                **fields,
            )
    except UserError:
        if store.customer_added_by(team_id=team_id, request_key=key) is None:
            raise
        ack()  # a redelivery that overtook this one added it (and follows it up)
        return
    tell_owner_change(store, settings, customer=customer, previous_id=None, by=user_id, request_key=key, now=now)
    context["followup"] = {"customer_id": customer.id, "default_tz": owner_tz.missing}
    ack()


def confirm_add_customer(
    view: dict[str, Any], body: dict[str, Any], context: BoltContext, client: WebClient, store: Store, clock: Clock
) -> None:
    """After the modal closed: join the channel and tell the author what was added."""
    customer_id = (context.get("followup") or {}).get("customer_id")
    if customer_id is None:
        return
    customer = store.customer(team_id=context.team_id or body["team"]["id"], customer_id=int(customer_id))
    if customer is None:
        return
    hints = [join_customer_channel(client=client, store=store, customer=customer, now=clock())]
    if (context.get("followup") or {}).get("default_tz"):
        hints.append(default_tz_hint(customer))
    hint = "\n".join(h for h in hints if h) or None
    channel_id = _metadata(view).get("channel_id")
    tell_user(client, user_id=body["user"]["id"], channel_id=channel_id, text=added_text(customer, hint))
    request_home_refresh(context, customer.team_id, [customer.owner_id, body["user"]["id"]])


def submit_edit_customer(
    ack: Ack,
    view: dict[str, Any],
    body: dict[str, Any],
    context: BoltContext,
    client: WebClient,
    store: Store,
    clock: Clock,
    settings: Settings,
) -> None:
    team_id = context.team_id or body["team"]["id"]
    user_id = body["user"]["id"]
    request_key = f"view:{view['id']}"
    if store.changed_by(team_id=team_id, request_key=request_key, kinds=("renamed", "edited")) is not None:
        # The same form submitted again (Save clicked twice, or again after a slow answer): it is saved already, and
        # checked again it could be refused, by a new owner it names or a name it took ("You can't edit …").
        ack()
        return
    customer_id = _metadata(view).get("customer_id")
    customer = (
        store.customer(team_id=team_id, customer_id=int(customer_id))
        if isinstance(customer_id, int) and 0 < customer_id < 2**31
        else None
    )
    if customer is None or customer.id is None:
        raise UserError("That customer no longer exists.")
    if customer.archived_at is not None:  # archived by someone else while the form was open: the form stays
        raise UserError(
            f"*{mrkdwn_name(customer.name)}* was archived meanwhile. Restore it (`/partner restore "
            f"{command_name(customer.name)}`), "
            "then save again: your changes stay here.",
            field="name",
        )
    with on_field("name"):
        require_change(client, settings, user_id=user_id, customer=customer, action="edit")
    form = {
        "name": _text(view, "name"),
        "owner": str(_field(view, "owner").get("selected_user") or ""),
        "channel": str(_field(view, "channel").get("selected_conversation") or ""),
        "tz": _text(view, "tz"),
        "country": _text(view, "country"),
        "cadence": _text(view, "cadence"),
        "week": _text(view, "week"),
        "summary": "on" if _field(view, "summary").get("selected_options") else "off",
        "ideal": _text(view, "ideal"),
        "max": _text(view, "max"),
    }
    shown = _metadata(view).get("shown")
    # Only what the user changed in the form is applied: an input left as it opened keeps the customer's
    # current value, which someone else may have changed meanwhile (a rename, a new cadence…).
    changed_inputs = {k for k in form if not isinstance(shown, dict) or shown.get(k) != form[k]}
    defaults = {"country": "none", "week": "mon-fri", "ideal": "default", "max": "default"}
    options = {k: form[k] or defaults.get(k, "") for k in ("name", "country", "week", "ideal", "max", "summary")}
    for key in ("tz", "cadence"):  # empty: keep the time zone; no cadence
        if form[key]:
            options[key] = form[key]
    options = {k: v for k, v in options.items() if k in changed_inputs}
    now = clock()
    owner_id = form["owner"] if "owner" in changed_inputs and form["owner"] else None
    problems = Problems()  # every wrong input is shown at once, each next to its field
    if "name" in options:
        with problems.check(), on_field("name"):
            clean_name(options["name"])
    if owner_id and owner_id != customer.owner_id:
        with problems.check(), on_field("owner"):
            check_owner(client, owner_id)
    changes: dict[str, Any] = {}
    with problems.check():
        changes = edit_changes(
            customer=customer,
            options=options,
            owner_id=owner_id,
            channel_id=(form["channel"] or None) if "channel" in changed_inputs else UNSET,
            now=now,
        )
    problems.raise_any()
    if not form["cadence"] and "cadence" in changed_inputs:
        changes["cadence"] = None
    with on_field("name"):
        updated, changed = store.update_customer(
            team_id=team_id,
            customer_id=customer.id,
            actor_id=user_id,
            changes=changes,
            now=now,
            request_key=request_key,
        )
    if changed:
        text = describe_changes(updated, changed)
        if {"country", "subdiv", "tz"} & set(changed) and (note := calendar_mismatch_text(updated)):
            text += f"\n{note}"  # as the command says it: holidays that do not go with the customer's clock
        if plan_call_moved_into_the_past(store=store, before=customer, after=updated, now=now, settings=settings):
            text += "\n" + moved_call_text(updated, now, settings.default_tz)
        if "owner_id" in changed:
            previous_id = changed["owner_id"][0]
            tell_owner_change(
                store, settings, customer=updated, previous_id=previous_id, by=user_id, request_key=request_key, now=now
            )
        # The score the new settings move is recomputed after the answer (3–7 s under load, past Slack's 3 s), as of
        # the submission, and only then are the Homes redrawn, so none shows the old score beside the new settings.
        context["followup"] = {
            "customer_id": updated.id,
            "text": text,
            "join": "channel_id" in changed and bool(updated.channel_id),
            "rescore_at": now.isoformat(),
            "homes": [customer.owner_id, updated.owner_id, user_id],
        }
    ack()


def confirm_edit_customer(
    view: dict[str, Any],
    body: dict[str, Any],
    context: BoltContext,
    client: WebClient,
    store: Store,
    clock: Clock,
    settings: Settings,
) -> None:
    """After the modal closed: join a new channel, tell the author what changed, rescore, then redraw the Homes."""
    followup = context.get("followup") or {}
    if not followup.get("customer_id"):
        return
    team_id = context.team_id or body["team"]["id"]
    customer_id = int(followup["customer_id"])
    text = str(followup["text"])
    if followup.get("join"):
        customer = store.customer(team_id=team_id, customer_id=customer_id)
        hint = join_customer_channel(client=client, store=store, customer=customer, now=clock()) if customer else None
        if hint:
            text += f"\n{hint}"
    # Told where the form was opened (the command's channel, the card's), as the add and check-in forms do.
    tell_user(client, user_id=body["user"]["id"], channel_id=_metadata(view).get("channel_id"), text=text)
    if followup.get("rescore_at"):
        at = datetime.fromisoformat(followup["rescore_at"])  # when the form was submitted: its score's time
        refresh_health(store, team_id=team_id, customer_id=customer_id, now=at, settings=settings)
    if followup.get("homes"):
        request_home_refresh(context, team_id, followup["homes"])  # after the score, which the Homes show
