"""Buttons on a nudge message: Log call (the check-in modal, pre-filled), Snooze (a small modal), Skip today.

What someone did replaces the buttons in place (chat.update), so the channel sees it; a logged call shows up
there once the check-in is saved (the next tick notices it, see schedules.cadence.mark_logged_calls).
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Any

from slack_bolt import Ack, BoltContext, Respond
from slack_sdk import WebClient

from bot.clock import Clock
from bot.settings import Settings
from domain.errors import UserError
from handlers.blocks import command_name, is_row_id, mrkdwn_name
from handlers.blocks import context as context_block
from handlers.blocks.checkin import checkin_modal
from handlers.blocks.nudges import not_redrawn, outcome_text, snooze_modal
from handlers.followups import AfterAck, tell_author
from handlers.home_publisher import request_home_refresh
from schedules import planner
from schedules.cadence import mark_paused_calls
from schedules.sender import refresh_message
from storage.models import Customer, Nudge
from storage.store import Store

logger = logging.getLogger(__name__)


def _team(context: BoltContext, body: dict[str, Any]) -> str:
    return context.team_id or body["team"]["id"]


class Paused(UserError):
    """A click on a nudge of a paused customer: refused, and the message shows the pause in place of its buttons."""

    def __init__(self, customer: Customer, message: str) -> None:
        super().__init__(message)
        self.customer = customer


def clicked_nudge(
    store: Store, team_id: str, action: dict[str, Any], *, client: WebClient, clock: Clock, after_ack: AfterAck
) -> tuple[Nudge, Customer]:
    """The nudge a button names and its customer; for a paused customer's, Paused is raised on once its message is
    set to show the pause (show_paused)."""
    try:
        return nudge_of(store, team_id, action.get("value"))
    except Paused as e:
        value = str(action.get("value") or "")
        show_paused(e, team_id=team_id, value=value, client=client, store=store, clock=clock, after_ack=after_ack)
        raise


def show_paused(
    error: Paused, *, team_id: str, value: str, client: WebClient, store: Store, clock: Clock, after_ack: AfterAck
) -> None:
    """After the ack: the message clicked says the customer is paused in place of its buttons, as the pause's own
    redraw does (schedules.cadence.mark_paused_calls) — it never ran, or Slack refused it then. Its nudges answered
    already are drawn as they are: a second click records nothing more."""
    customer = error.customer
    assert customer.id is not None
    paused = [e for e in store.customer_events(team_id=team_id, customer_id=customer.id) if e.kind == "paused"]
    by = (max(paused, key=lambda e: e.at).actor_id if paused else None) or ""

    def redraw_paused() -> None:
        now = clock()
        clicked = store.nudge(team_id=team_id, nudge_id=int(value)) if is_row_id(value) else None
        answered = clicked is not None and bool(clicked.payload.get("outcome"))
        marked = mark_paused_calls(
            store=store,
            client=client,
            team_id=team_id,
            customer_id=customer.id or 0,
            by=by,
            now=now,
            paused_at=customer.paused_at,
        )
        if answered or not marked:  # the pause's redraw of this message was refused: its buttons are still there
            redraw(team_id=team_id, value=value, client=client, store=store, clock=clock)

    after_ack.submit(redraw_paused, what="showing a paused customer's nudge as paused")


def nudge_of(store: Store, team_id: str, value: str | None) -> tuple[Nudge, Customer]:
    nudge = store.nudge(team_id=team_id, nudge_id=int(value)) if value and is_row_id(value) else None
    customer = store.customer(team_id=team_id, customer_id=nudge.customer_id) if nudge and nudge.customer_id else None
    if nudge is None:  # a reminder removed with its workspace's data, or a button that names none
        raise UserError("That reminder is no longer in Partner. `/partner upcoming` shows the next ones.")
    if customer is None:
        raise UserError("That customer no longer exists.")
    if customer.archived_at is not None:  # kept with its history: say how to bring it back, not that it is gone
        raise UserError(
            f"*{mrkdwn_name(customer.name)}* is archived, so it gets no nudges. "
            f"Bring it back with `/partner restore {command_name(customer.name)}`."
        )
    if customer.paused_at is not None:  # a stale nudge Slack still shows: nothing is owed while paused
        raise Paused(
            customer,
            f"*{mrkdwn_name(customer.name)}*'s nudges are paused, so this one asks for nothing. "
            f"`/partner resume {command_name(customer.name)}` turns them back on; a call can still be logged with "
            f"`/partner checkin {command_name(customer.name)} …`.",
        )
    return nudge, customer


def log_call(
    ack: Ack,
    body: dict[str, Any],
    action: dict[str, Any],
    context: BoltContext,
    client: WebClient,
    store: Store,
    clock: Clock,
    settings: Settings,
    after_ack: AfterAck,
) -> None:
    team_id = _team(context, body)
    nudge, customer = clicked_nudge(store, team_id, action, client=client, clock=clock, after_ack=after_ack)
    ack()
    channel_id = (body.get("channel") or {}).get("id")
    # The form logs the call of the nudge clicked, for its day (handlers.views.checkin.counting_day), and says so
    # when that day is gone: last Friday's nudge clicked on Monday logs Friday's call, as its Skip skips Friday's.
    earlier: date | None = None
    if nudge.kind == planner.CADENCE:
        today = planner.calendar_of(customer, default_tz=settings.default_tz).local_date(clock())
        earlier = date.fromisoformat(nudge.due_key) if nudge.due_key < today.isoformat() else None
    view = checkin_modal(customer=customer, is_call=True, channel_id=channel_id, nudge_id=nudge.id, earlier_day=earlier)
    outcome = nudge.payload.get("outcome") or {}
    if outcome.get("what") == "logged":
        # A copy of the nudge Slack has not redrawn yet still offers Log call: a second call is real and stays
        # possible, but whoever opens the form sees this day's call is logged, so it is not logged twice by mistake.
        said = f"{outcome_text(outcome)} Log another only for a second call; both are kept."
        view["blocks"].insert(0, context_block(said))
    client.views_open(trigger_id=body["trigger_id"], view=view)


def open_snooze(
    ack: Ack,
    body: dict[str, Any],
    action: dict[str, Any],
    context: BoltContext,
    client: WebClient,
    store: Store,
    clock: Clock,
    settings: Settings,
    after_ack: AfterAck,
) -> None:
    team_id = _team(context, body)
    nudge, customer = clicked_nudge(store, team_id, action, client=client, clock=clock, after_ack=after_ack)
    ack()
    open_snooze_modal(client, body["trigger_id"], customer, nudge_id=nudge.id, now=clock(), settings=settings)


def open_snooze_modal(
    client: WebClient, trigger_id: str, customer: Customer, *, nudge_id: int | None, now: datetime, settings: Settings
) -> None:
    """The one snooze modal, from a nudge, a Home row or the customer card (no nudge to redraw from those)."""
    cal = planner.calendar_of(customer, default_tz=settings.default_tz)
    tomorrow = cal.local_date(now) + timedelta(days=1)
    view = snooze_modal(customer=customer, nudge_id=nudge_id, tomorrow=tomorrow, tz=cal.tz)
    client.views_open(trigger_id=trigger_id, view=view)


def skip_today(
    ack: Ack,
    body: dict[str, Any],
    action: dict[str, Any],
    context: BoltContext,
    client: WebClient,
    store: Store,
    clock: Clock,
    settings: Settings,
    after_ack: AfterAck,
    respond: Respond,
) -> None:
    """Records the skip (the first answer wins, so a double click changes nothing) and acks at once; the message
    is redrawn after the answer, on the app's follow-up pool (handlers.followups.AfterAck)."""
    team_id = _team(context, body)
    confirmation: str | None = None  # for the clicker, should the message not show the skip
    paused = False
    try:
        try:
            nudge, customer = clicked_nudge(store, team_id, action, client=client, clock=clock, after_ack=after_ack)
        except Paused:
            paused = True
            raise
        assert nudge.id is not None
        now = clock()
        outcome = {"what": "skipped", "by": body["user"]["id"], "at": now.isoformat()}
        # Skip on a nudge of an earlier day skips that day's call (the message clicked; it excuses that call from
        # the missed-call alert), never today's, which has its own nudge: the message then names the day it skipped.
        today = planner.calendar_of(customer, default_tz=settings.default_tz).local_date(now)
        if nudge.kind == planner.CADENCE and nudge.due_key < today.isoformat():
            outcome["day"] = nudge.due_key
        # A skip outranks a snooze (typed as a command, the snooze shows on the nudge): the call is not coming back.
        if store.set_nudge_outcome(team_id=team_id, nudge_id=nudge.id, outcome=outcome, replaces=("snoozed",)):
            confirmation = not_redrawn(outcome, customer.name)
        else:
            confirmation = answered_already(store, team_id, nudge.id, body["user"]["id"], customer.name)
        request_home_refresh(context, team_id, [customer.owner_id, body["user"]["id"]])
        ack()
    finally:  # also after a refusal: the message then shows what others did meanwhile
        value = str(action.get("value") or "")

        def redraw_or_confirm() -> None:
            # The message is what tells the clicker the skip was taken: one Slack would not redraw (rate-limited,
            # down, deleted) would leave them clicking a button that seems to do nothing.
            if not redraw(team_id=team_id, value=value, client=client, store=store, clock=clock) and confirmation:
                # Refused (expired, Slack's trouble), the note goes by chat.postEphemeral, else a DM.
                channel_id = (body.get("channel") or {}).get("id")
                tell_author(respond, client, user_id=body["user"]["id"], channel_id=channel_id, text=confirmation)

        if not paused:  # a paused customer's message shows the pause instead (show_paused), not a redraw per click
            after_ack.submit(redraw_or_confirm, what="redrawing a nudge after a skip")


def answered_already(store: Store, team_id: str, nudge_id: int, user_id: str, customer_name: str) -> str | None:
    """For a Skip that recorded nothing, clicked on a copy of the nudge Slack has not redrawn: what someone else did
    about it, should Slack not redraw it now either (the clicker would see a button that does nothing). None when
    the answer there is the clicker's own (they were told at their first click)."""
    nudge = store.nudge(team_id=team_id, nudge_id=nudge_id)
    outcome = (nudge.payload.get("outcome") if nudge is not None else None) or {}
    if not outcome or outcome.get("by") == user_id:
        return None
    return (
        f"{outcome_text(outcome)} Your Skip changed nothing. Slack didn't let me update "
        f"*{mrkdwn_name(customer_name)}*'s reminder, so it still shows its buttons."
    )


def redraw(*, team_id: str, value: str, client: WebClient, store: Store, clock: Clock) -> bool:
    """After the ack: the nudge message shows who did what, in place of its buttons. False when it does not."""
    nudge = store.nudge(team_id=team_id, nudge_id=int(value)) if is_row_id(value) else None
    if nudge is None or not nudge.channel_id or not nudge.message_ts:
        return False
    return refresh_message(
        store=store, client=client, team_id=team_id, channel_id=nudge.channel_id, ts=nudge.message_ts, now=clock()
    )
