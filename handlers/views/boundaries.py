"""The renegotiation modal, opened from an escalation: save the new terms, then mark the escalation decided."""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.clock import Clock
from bot.settings import Settings
from domain import boundaries as rules
from domain.errors import UserError
from handlers.actions.boundaries import already_decided, decision_on, record_decision
from handlers.blocks import command_name, metadata_row_id, truncate
from handlers.blocks.boundaries import DECISION_DONE, escalation_blocks, quoted, value_as_saved
from handlers.boundaries_hooks import require_boundary, require_boundary_change
from handlers.home_publisher import request_home_refresh
from handlers.ids import BOUNDARY_KIND, BOUNDARY_TEXT, BOUNDARY_VALUE
from handlers.parsing import escape_keeping_mentions, unescape

# A module reference, not names: schedules.boundaries imports the Block Kit builders, so the two import each other.
from schedules import boundaries as planning
from storage.boundaries import BoundaryRecord
from storage.models import Customer
from storage.store import Store

logger = logging.getLogger(__name__)


def _metadata(view: dict[str, Any]) -> dict[str, Any]:
    try:
        data = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        data = {}
    return data if isinstance(data, dict) else {}


def _message_key(metadata: dict[str, Any]) -> str:
    # The same key the escalation's buttons use, so a decision is recorded once per escalation message.
    return f"{metadata.get('channel_id')}:{metadata.get('message_ts')}"


def submit_renegotiation(
    ack: Ack,
    view: dict[str, Any],
    body: dict[str, Any],
    context: BoltContext,
    client: WebClient,
    store: Store,
    clock: Clock,
    settings: Settings,
) -> None:
    metadata = _metadata(view)
    boundary_id = metadata_row_id(metadata.get("boundary_id"))
    if boundary_id is None:
        raise UserError("This form is out of date; open it again from the message.")
    team_id = context.team_id or body["team"]["id"]
    customer, record = require_boundary(store, team_id=team_id, boundary_id=boundary_id)
    user_id = body["user"]["id"]
    require_boundary_change(client, settings, user_id=user_id, customer=customer)
    key = _message_key(metadata)
    earlier = decision_on(store, customer, key)
    if earlier is not None:
        if earlier.get("view") == view["id"]:  # this very form saved again (Save clicked twice): it is saved
            ack()
            return
        # Decided meanwhile (this form open in a second window, or someone else's choice): the form stays open with
        # the words typed in it, which would otherwise close as if saved with nothing saved.
        raise UserError(decided_meanwhile(customer, record, earlier), field="text")
    values = view["state"]["values"]
    text = ((values.get("text") or {}).get(BOUNDARY_TEXT) or {}).get("value") or ""
    kind = (((values.get("kind") or {}).get(BOUNDARY_KIND) or {}).get("selected_option") or {}).get("value")
    value = ((values.get("value") or {}).get(BOUNDARY_VALUE) or {}).get("value")
    shown = metadata.get("channels")
    if value and isinstance(shown, dict):  # a channel the form showed by its name is still that channel
        value = value_as_saved(value, {str(k): str(v) for k, v in shown.items()})
    # A bad text and a bad value are shown together, each next to its field.
    problems: list[UserError] = []
    broadcast = rules.broadcast_in(text)
    # A plain_text input gives what the user typed; stored boundary text is mrkdwn-safe, as Slack escapes it. The
    # people and channels it names (shown in the form as Slack writes them) stay mentions, as they were typed.
    text = escape_keeping_mentions(text)
    if not text.strip():
        problems.append(UserError("Say what you now agree.", field="text"))
    elif broadcast is not None:  # the text is restated in the customer's channel
        problems.append(
            UserError(
                f"Leave out {broadcast}: reminders would notify {rules.broadcast_reach(broadcast)}.", field="text"
            )
        )
    else:
        try:
            rules.Boundary(text=text, kind="custom")  # the text's own problems belong next to the text
        except ValueError as e:
            problems.append(UserError(str(e), field="text"))
    if not (value or "").strip() and kind in (None, "response_time") and not problems:
        # "We answer within 2 business days" with the value left empty is measured as it says, as `add` reads it.
        value = rules.response_time_in(unescape(text)) or value
    try:  # the value is checked whatever the text's problems (a stand-in text when it has some)
        rule = rules.Boundary(text=text if not problems else "agreement", kind=kind or "custom", value=value)
        if problem := rules.value_length_problem(rule.value):
            problems.append(UserError(problem, field="value"))
    except ValueError as e:
        problems.append(UserError(str(e), field="value"))
    if problems:
        raise UserError.of_all(problems)
    if record.rule.status == "retired":
        raise UserError("It was retired meanwhile; add the new terms as a new need instead.", field="text")
    now = clock()
    if already_decided(store, customer, key) is None:  # a replayed submission changes nothing twice
        before = {"text": record.rule.text, "kind": record.rule.kind, "value": record.rule.value}
        after = {"text": rule.text, "kind": rule.kind, "value": rule.value}
        edits: dict[str, Any] = dict(after)
        wording = record.row.reminder_text
        if wording and after != before:
            # The owner's own reminder wording restates the old terms to the customer each week: reminders go back
            # to Partner's wording of the new ones (the old wording is kept in the history, and the message says so).
            edits["reminder_text"] = None
        store.edit_boundary(team_id=team_id, boundary_id=record.id, **edits)
        fresh = store.boundary_record(team_id=team_id, boundary_id=record.id) or record
        record_decision(
            store,
            customer=customer,
            record=fresh,
            option="renegotiate",
            actor_id=user_id,
            message_key=key,
            policy=settings.boundary_policy,
            now=now,
            detail={
                "before": before,
                "after": after,
                "view": view["id"],  # a second delivery of this form is told from another form's save
                **({"wording": wording} if "reminder_text" in edits else {}),
            },
        )
        request_home_refresh(context, team_id, [customer.owner_id, user_id])
    ack()


def decided_meanwhile(customer: Customer, record: BoundaryRecord, decision: dict[str, Any]) -> str:
    """Said in the form when the escalation it answers was decided after it opened: who chose what, and where the
    words typed in it can still go."""
    who = f"<@{decision['by']}>" if decision.get("by") else "Someone"
    option = str(decision.get("option"))
    if option == "renegotiate":
        now_reads = (decision.get("after") or {}).get("text") or record.rule.text
        done = f"renegotiated it meanwhile: it now reads {quoted(truncate(now_reads, 200))}"
    else:
        done = f"{DECISION_DONE.get(option, 'decided it')} meanwhile"
    add = f'/partner boundary {command_name(customer.name)} add "…"'
    return f"{who} {done}. Your words are still here: to ask for them too, add them as a new agreement ({add})."


def show_renegotiated(
    view: dict[str, Any],
    body: dict[str, Any],
    context: BoltContext,
    client: WebClient,
    store: Store,
    clock: Clock,
    settings: Settings,
) -> None:
    """After the modal closed: the escalation message shows the new terms and who renegotiated them."""
    metadata = _metadata(view)
    channel_id, message_ts, boundary_id = (
        metadata.get("channel_id"),
        metadata.get("message_ts"),
        metadata.get("boundary_id"),
    )
    if not (channel_id and message_ts and isinstance(boundary_id, int)):
        return
    team_id = context.team_id or body["team"]["id"]
    record = store.boundary_record(team_id=team_id, boundary_id=boundary_id)
    customer = store.customer(team_id=team_id, customer_id=record.row.customer_id) if record else None
    if record is None or customer is None:
        return
    decision = decision_on(store, customer, _message_key(metadata)) or {}
    if decision.get("view") != view["id"]:  # refused, or decided by another form or button: that one redraws it
        return
    cal = planning.customer_calendar(customer, settings.default_tz)
    note = None
    if decision.get("wording"):  # reset with the new terms (submit_renegotiation)
        note = (
            "Your own reminder wording restated the old terms, so reminders now use mine: write new words with "
            f'`/partner boundary {command_name(customer.name)} wording {record.number} "<your words>"`.'
        )
    message = escalation_blocks(
        customer,
        record,
        clock(),
        settings.boundary_policy,
        cal,
        decided=("renegotiate", body["user"]["id"]),
        note=note,
    )
    try:
        client.chat_update(channel=channel_id, ts=message_ts, **message)
    except SlackApiError as e:  # e.g. the message was deleted: the new terms are saved all the same
        logger.warning(
            "could not update the escalation message %s in %s: %s", message_ts, channel_id, e.response.get("error")
        )
    except OSError as e:  # a timeout or a dropped connection, even after retrying: only the redraw is missed
        logger.warning("could not update the escalation message %s in %s: %s", message_ts, channel_id, type(e).__name__)
