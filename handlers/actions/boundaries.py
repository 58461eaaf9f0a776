"""Boundary buttons: Activate / Slip / Held / Retire (list, card, suggestion), the escalation's four
decisions, and the Yes/No answer to "was this call outside the agreed window?".

Each listener acks at once, then changes the record and redraws the message it came from through the
response_url: the list is redrawn in place, the suggestion and the escalation show what was decided.
A repeated click finds the boundary already changed and changes nothing; a repeated Slip click carries
the same key (the message and the slip count it was drawn with), so it logs one slip.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import Any

from slack_bolt import Ack, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.clock import Clock
from bot.settings import Settings
from domain import boundaries as rules
from domain.errors import UserError
from handlers.blocks import mrkdwn_name
from handlers.blocks.boundaries import (
    SURFACE_LIST,
    SURFACE_SUGGESTION,
    VALUE_CHANNEL,
    boundary_list,
    call_slip_note,
    escalation_blocks,
    quoted,
    renegotiate_modal,
)
from handlers.boundaries_hooks import (
    RescoreLater,
    activate_boundary,
    activation_text,
    hold_boundary,
    log_slip,
    require_boundary,
    require_boundary_change,
    rescore,
    retire_boundary,
    slip_outcome,
)
from handlers.followups import AfterAck
from handlers.home_publisher import request_home_refresh

# A module reference, not names: schedules.boundaries imports the Block Kit builders, so the two import each other.
from schedules import boundaries as planning
from schedules.health import refresh_health
from storage.boundaries import DECISION_EVENT, RELATIONSHIP_FLAGGED, BoundaryRecord
from storage.models import Customer
from storage.store import Store

logger = logging.getLogger(__name__)


def _team(body: dict[str, Any], context: BoltContext) -> str:
    return context.team_id or body["team"]["id"]


def _boundary_to_change(
    body: dict[str, Any],
    action: dict[str, Any],
    context: BoltContext,
    client: WebClient,
    settings: Settings,
    store: Store,
) -> tuple[str, Customer, BoundaryRecord]:
    """The button's boundary, once the clicking user may change it (the owner or an admin)."""
    team_id = _team(body, context)
    (boundary_id,) = _ids(action.get("value"))
    customer, record = require_boundary(store, team_id=team_id, boundary_id=boundary_id)
    require_boundary_change(client, settings, user_id=body["user"]["id"], customer=customer)
    return team_id, customer, record


def _ids(value: str | None, parts: int = 1) -> list[int]:
    """The ids a button carries ("12" or "12:3"); anything else is a stale or forged button."""
    pieces = (value or "").split(":")
    # ASCII digits only ("²".isdigit() is true), and within a database integer.
    if len(pieces) != parts or not all(p.isascii() and p.isdigit() and len(p) <= 9 for p in pieces):
        raise UserError("That button is out of date; run the command again.")
    return [int(p) for p in pieces]


def _surface(action: dict[str, Any]) -> str:
    # block_id "boundary:<surface>:<id>", set by handlers.blocks.boundaries
    parts = str(action.get("block_id") or "").split(":")
    return parts[1] if len(parts) == 3 and parts[0] == "boundary" else ""


def _answer(body: dict[str, Any], respond: Respond, **message: Any) -> None:
    """Redraw or answer beside the message the button was on; buttons in views have no response_url."""
    if body.get("response_url"):
        respond(**message)


class _CardDrawings:
    """The Home cards this process draws after boundary clicks, by view id: one drawing of a card at a time, and the
    words of the latest click on it (the last few hundred cards), so the drawing after a rescore says them."""

    def __init__(self, size: int = 500) -> None:
        self._cards: OrderedDict[str, tuple[threading.Lock, str]] = OrderedDict()
        self._lock = threading.Lock()
        self._size = size

    @contextlib.contextmanager
    def drawing(self, view_id: str, notice: str | None) -> Iterator[str | None]:
        """Draws `view_id` alone; `notice`: this click's words, None for a drawing after a rescore (the latest)."""
        with self._lock:
            lock, latest = self._cards.get(view_id) or (threading.Lock(), "")
            self._cards[view_id] = (lock, latest)
            self._cards.move_to_end(view_id)
            while len(self._cards) > self._size:
                self._cards.popitem(last=False)
        with lock:
            with self._lock:
                latest = notice if notice is not None else self._cards.get(view_id, (lock, latest))[1]
                self._cards[view_id] = (lock, latest)
            yield latest or None


CARD_DRAWINGS = _CardDrawings()


def _redraw(
    body: dict[str, Any],
    action: dict[str, Any],
    respond: Respond,
    *,
    store: Store,
    settings: Settings,
    customer: Customer,
    confirmation: str,
    now: datetime,
    client: WebClient | None = None,
) -> Callable[[], None] | None:
    """Shows the click's outcome where it was made. On a card opened from Home, returns how to draw it again with
    the customer as stored then: its health is rescored after the answer (_after_click), and the card drawn now
    still shows the score from before the click."""
    # Imported here: handlers.actions.home reaches this module through the survey actions it imports.
    from handlers.actions.home import home_card, home_card_customer, modal_source

    card = modal_source(body)
    if client is not None and card is not None and home_card_customer(card) == customer.id and card.get("id"):
        # A click on the customer's card opened from Home: no response_url there, so the card itself is redrawn
        # with what changed, and says it.
        slack, card_id = client, str(card["id"])

        def draw(notice: str | None) -> None:
            # One drawing of a card at a time, each of the customer as stored now and with the latest click's words:
            # a second click's "already logged" is not replaced by the first click's words when that click's rescore
            # draws the card again, and neither drawing shows a score the other has already moved past.
            with CARD_DRAWINGS.drawing(card_id, notice) as latest:
                assert customer.id is not None
                shown = store.customer(team_id=customer.team_id, customer_id=customer.id) or customer
                redrawn = home_card(store, settings, team_id=shown.team_id, customer=shown, now=now, notice=latest)
                try:
                    slack.views_update(view_id=card_id, view=redrawn)
                except (SlackApiError, OSError) as e:  # the card was closed meanwhile: the change is kept all the same
                    logger.info("could not redraw the Home card %s after a boundary click: %s", card_id, e)

        draw(confirmation)
        return lambda: draw(None)
    surface = _surface(action)
    if surface == SURFACE_LIST:
        assert customer.id is not None
        records = store.boundary_records(team_id=customer.team_id, customer_id=customer.id)
        cal = planning.customer_calendar(customer, settings.default_tz)
        listing = boundary_list(customer, records, now, settings.boundary_policy, cal)
        _answer(body, respond, replace_original=True, **listing)
    elif surface == SURFACE_SUGGESTION:
        _answer(body, respond, replace_original=True, text=confirmation)
    else:
        _answer(body, respond, replace_original=False, response_type="ephemeral", text=confirmation)
    return None


class _Rescore:
    """The customer whose score a click moved (boundaries_hooks.rescore hands it here): scored after the answer."""

    def __init__(self) -> None:
        self.customer_id: int | None = None

    def __call__(self, customer_id: int) -> None:
        self.customer_id = customer_id


def _after_click(
    later: _Rescore,
    *,
    context: BoltContext,
    after_ack: AfterAck,
    store: Store,
    settings: Settings,
    team_id: str,
    now: datetime,
    homes: list[str | None],
    redraw_card: Callable[[], None] | None = None,
) -> None:
    """The score the click moved is stored as of the click by its follow-up (3–7 s under load, past Slack's 3 s),
    and only then are the Homes (and the card the click was on) redrawn, so none shows the old score."""
    customer_id = later.customer_id
    if customer_id is None:
        request_home_refresh(context, team_id, homes)
        return

    def rescore_then_homes() -> None:
        refresh_health(store, team_id=team_id, customer_id=customer_id, now=now, settings=settings)
        if redraw_card is not None:
            redraw_card()
        request_home_refresh(context, team_id, homes)

    if not after_ack.submit(rescore_then_homes, what="rescoring a customer after a boundary click"):
        rescore_then_homes()  # the process is stopping: the score is not left stale


def _show_click(
    body: dict[str, Any],
    action: dict[str, Any],
    respond: Respond,
    later: _Rescore | None,
    *,
    context: BoltContext,
    after_ack: AfterAck,
    client: WebClient,
    store: Store,
    settings: Settings,
    customer: Customer,
    confirmation: str,
    now: datetime,
) -> None:
    """Shows what a click changed where it was made, then (`later`: it changed something) hands its follow-up the
    rescore and the Homes. Drawn first, so a card drawn again after the rescore always comes last."""
    redraw_card = _redraw(
        body,
        action,
        respond,
        store=store,
        settings=settings,
        customer=customer,
        confirmation=confirmation,
        now=now,
        client=client,
    )
    if later is not None:
        _after_click(
            later,
            context=context,
            after_ack=after_ack,
            store=store,
            settings=settings,
            team_id=customer.team_id,
            now=now,
            homes=[customer.owner_id, body["user"]["id"]],
            redraw_card=redraw_card,
        )


# (store, team, boundary, settings, now, the clicking user, rescore later) → (boundary after, whether it changed)
Transition = Callable[[Store, str, BoundaryRecord, Settings, datetime, str, RescoreLater], tuple[BoundaryRecord, bool]]
# The answer's words: a template of {text} and {customer}, or built from (customer, boundary after, settings, now).
Answer = str | Callable[[Customer, BoundaryRecord, Settings, datetime], str]


def _change_listener(transition: Transition, done: Answer, already: Answer) -> Callable[..., None]:
    def listener(
        ack: Ack,
        body: dict[str, Any],
        action: dict[str, Any],
        context: BoltContext,
        client: WebClient,
        respond: Respond,
        store: Store,
        clock: Clock,
        settings: Settings,
        after_ack: AfterAck,
    ) -> None:
        ack()
        team_id, customer, record = _boundary_to_change(body, action, context, client, settings, store)
        now = clock()
        later = _Rescore()
        after, changed = transition(store, team_id, record, settings, now, body["user"]["id"], later)
        template = done if changed else already
        if isinstance(template, str):
            confirmation = template.format(text=quoted(after.rule.text), customer=mrkdwn_name(customer.name))
        else:
            confirmation = template(customer, after, settings, now)
        _show_click(
            body,
            action,
            respond,
            later if changed else None,
            context=context,
            after_ack=after_ack,
            client=client,
            store=store,
            settings=settings,
            customer=customer,
            confirmation=confirmation,
            now=now,
        )

    return listener


activate = _change_listener(
    lambda store, team, record, settings, now, _user, later: activate_boundary(
        store, team_id=team, record=record, settings=settings, now=now, rescore_later=later
    ),
    # As the `activate` command answers: the same words, with when the need will next be restated.
    activation_text,
    lambda customer, after, settings, now: activation_text(customer, after, settings, now, changed=False),
)
held = _change_listener(
    lambda store, team, record, settings, now, _user, later: hold_boundary(
        store, team_id=team, record=record, settings=settings, now=now, rescore_later=later
    ),
    ":white_check_mark: {text} is holding with *{customer}*.",
    "{text} was already holding with *{customer}*.",
)
retire = _change_listener(
    lambda store, team, record, settings, now, user, later: retire_boundary(
        store, team_id=team, record=record, settings=settings, now=now, actor_id=user, rescore_later=later
    ),
    "Retired {text} for *{customer}*; its history is kept.",
    "{text} was already retired.",
)


def slip(
    ack: Ack,
    body: dict[str, Any],
    action: dict[str, Any],
    context: BoltContext,
    client: WebClient,
    respond: Respond,
    store: Store,
    clock: Clock,
    settings: Settings,
    after_ack: AfterAck,
) -> None:
    """Anyone may log a slip. Keyed by where the button was and the slips it was drawn with."""
    ack()
    team_id = _team(body, context)
    boundary_id, shown = _ids(action.get("value"), 2)
    customer, record = require_boundary(store, team_id=team_id, boundary_id=boundary_id)
    container = body.get("container") or {}
    where = container.get("message_ts") or container.get("view_id") or action.get("action_ts")
    now = clock()
    later = _Rescore()
    logged = log_slip(
        store,
        customer=customer,
        record=record,
        by=body["user"]["id"],
        note="",
        source="button",
        idempotency_key=f"action:{where}:{boundary_id}:{shown}",
        settings=settings,
        now=now,
        rescore_later=later,
    )
    after = logged.record
    outcome = slip_outcome(logged, customer, settings, now)
    confirmation = f"Logged a slip on {quoted(after.rule.text)} with *{mrkdwn_name(customer.name)}*{outcome}"
    if not logged.created:
        confirmation = f"That slip on {quoted(after.rule.text)} is already logged."
    _show_click(
        body,
        action,
        respond,
        later if logged.created else None,
        context=context,
        after_ack=after_ack,
        client=client,
        store=store,
        settings=settings,
        customer=customer,
        confirmation=confirmation,
        now=now,
    )


# --------------------------------------------------------------------------- the escalation's decisions


def already_decided(store: Store, customer: Customer, message_key: str) -> str | None:
    decision = decision_on(store, customer, message_key)
    return str(decision.get("option")) if decision is not None else None


def decision_on(store: Store, customer: Customer, message_key: str) -> dict[str, Any] | None:
    """What was decided on this escalation message (the history's detail), or None."""
    assert customer.id is not None
    for event in store.boundary_events(team_id=customer.team_id, customer_id=customer.id, kinds=[DECISION_EVENT]):
        if event.detail.get("message") == message_key:
            return {**event.detail, "by": event.actor_id}
    return None


def record_decision(
    store: Store,
    *,
    customer: Customer,
    record: BoundaryRecord,
    option: str,
    actor_id: str,
    message_key: str,
    policy: rules.Policy,
    now: datetime,
    detail: dict[str, Any] | None = None,
) -> None:
    """The decision goes in the customer's history; the run of slips counts as answered from now on."""
    assert customer.id is not None
    if record.rule.in_force:
        store.edit_boundary(team_id=customer.team_id, boundary_id=record.id, escalated_at=now)
    store.record_boundary_event(
        team_id=customer.team_id,
        customer_id=customer.id,
        actor_id=actor_id,
        kind=DECISION_EVENT,
        detail={
            "boundary_id": record.id,
            "option": option,
            "text": record.rule.text,
            "slips": rules.slips_in_window(record.rule, now, policy.escalate_window),
            "message": message_key,
            **(detail or {}),
        },
        now=now,
    )


def _channel_names(client: WebClient, value: str) -> dict[str, str]:
    """The current name of each channel a need's value names (its id alone is stored), for the form to show."""
    names: dict[str, str] = {}
    for channel_id in dict.fromkeys(VALUE_CHANNEL.findall(value)):
        try:
            name = (client.conversations_info(channel=channel_id).get("channel") or {}).get("name")
        except (SlackApiError, OSError):  # not readable (a private channel Partner is not in): shown as it is
            logger.info("could not read the name of %s", channel_id, exc_info=True)
            continue
        if isinstance(name, str) and name:
            names[channel_id] = name
    return names


def _message_key(body: dict[str, Any]) -> str:
    container = body.get("container") or {}
    return f"{container.get('channel_id')}:{container.get('message_ts')}"


def _decision_listener(option: str) -> Callable[..., None]:
    def listener(
        ack: Ack,
        body: dict[str, Any],
        action: dict[str, Any],
        context: BoltContext,
        client: WebClient,
        respond: Respond,
        store: Store,
        clock: Clock,
        settings: Settings,
        after_ack: AfterAck,
    ) -> None:
        ack()
        team_id, customer, record = _boundary_to_change(body, action, context, client, settings, store)
        user_id = body["user"]["id"]
        now, policy = clock(), settings.boundary_policy
        cal = planning.customer_calendar(customer, settings.default_tz)
        key = _message_key(body)
        earlier = decision_on(store, customer, key)
        if earlier is not None:  # a second click, or a second person: the first decision stands, and whose it is
            first = (str(earlier.get("option")), str(earlier.get("by") or user_id))
            decided = escalation_blocks(customer, record, now, policy, cal, decided=first)
            _answer(body, respond, replace_original=True, **decided)
            return
        if option in ("talk", "renegotiate") and record.rule.status == "retired":
            # Retired since the escalation was sent (by command or card): nothing is left to talk over or reword.
            raise UserError(
                f"{quoted(record.rule.text)} was retired meanwhile, so there is nothing left to decide about it."
            )
        if option == "renegotiate":
            container = body.get("container") or {}
            metadata = {"channel_id": container.get("channel_id"), "message_ts": container.get("message_ts")}
            names = _channel_names(client, record.rule.value or "")
            modal = renegotiate_modal(customer, record, metadata=metadata, channel_names=names)
            client.views_open(trigger_id=body["trigger_id"], view=modal)
            return  # decided when the modal is saved
        later = _Rescore()
        if option == "retire" and record.rule.status != "retired":
            record, _changed = retire_boundary(
                store, team_id=team_id, record=record, settings=settings, now=now, actor_id=user_id, rescore_later=later
            )
        if option == "flag":
            assert customer.id is not None
            store.record_boundary_event(
                team_id=team_id,
                customer_id=customer.id,
                actor_id=user_id,
                kind=RELATIONSHIP_FLAGGED,
                detail={
                    "boundary_id": record.id,
                    "text": record.rule.text,
                    "slips": rules.slips_in_window(record.rule, now, policy.escalate_window),
                },
                now=now,
            )
        record_decision(
            store,
            customer=customer,
            record=record,
            option=option,
            actor_id=user_id,
            message_key=key,
            policy=policy,
            now=now,
        )
        if option == "flag":  # the flag weighs on the score (domain.health: boundaries), as of the click
            assert customer.id is not None
            rescore(store, team_id=team_id, customer_id=customer.id, now=now, settings=settings, later=later)
        homes = [customer.owner_id, user_id]
        _after_click(
            later,
            context=context,
            after_ack=after_ack,
            store=store,
            settings=settings,
            team_id=team_id,
            now=now,
            homes=homes,
        )
        decided = escalation_blocks(customer, record, now, policy, cal, decided=(option, user_id))
        _answer(body, respond, replace_original=True, **decided)

    return listener


decide_talk = _decision_listener("talk")
decide_renegotiate = _decision_listener("renegotiate")
decide_retire = _decision_listener("retire")
decide_flag = _decision_listener("flag")


# --------------------------------------------------------------------------- detected: a call outside the window


def call_outside_yes(
    ack: Ack,
    body: dict[str, Any],
    action: dict[str, Any],
    context: BoltContext,
    respond: Respond,
    store: Store,
    clock: Clock,
    settings: Settings,
    after_ack: AfterAck,
) -> None:
    ack()
    team_id = _team(body, context)
    value = str(action.get("value") or "")
    # "<boundary>:<check-in>", and ":<YYYYMMDD>" for a call logged once its day was over (its time not known).
    boundary_id, checkin_id, *day = _ids(value, 3 if value.count(":") == 2 else 2)
    counted_for = _said_day(day[0]) if day else None
    customer, record = require_boundary(store, team_id=team_id, boundary_id=boundary_id)
    now = clock()
    later = _Rescore()
    call_at = _call_at(store, team_id=team_id, checkin_id=checkin_id)
    cal = planning.customer_calendar(customer, settings.default_tz)
    logged = log_slip(
        store,
        customer=customer,
        record=record,
        by=body["user"]["id"],
        note=call_slip_note(record.rule.contact_window, call_at, cal, counted_for=counted_for),
        source="detected",
        idempotency_key=f"checkin:{checkin_id}:{boundary_id}",  # one slip per call, however often answered
        settings=settings,
        now=now,
        rescore_later=later,
        # The slip is the call's: dated when it happened, not when its author answered (a week later, maybe). A call
        # from before the agreement was in force (or a check-in gone) is dated by the answer, as before.
        happened_at=call_at if call_at is not None and _since_activated(record, call_at, now) else None,
    )
    outcome = slip_outcome(logged, customer, settings, now)
    text = f"Logged a slip on {quoted(logged.record.rule.text)} with *{mrkdwn_name(customer.name)}*{outcome}"
    if logged.created:
        homes = [customer.owner_id, body["user"]["id"]]
        _after_click(
            later,
            context=context,
            after_ack=after_ack,
            store=store,
            settings=settings,
            team_id=team_id,
            now=now,
            homes=homes,
        )
    _answer(body, respond, replace_original=True, text=text)


def _said_day(digits: int) -> date:
    try:
        return datetime.strptime(f"{digits:08d}", "%Y%m%d").date()
    except ValueError:
        raise UserError("That button is out of date; run the command again.") from None


def _call_at(store: Store, *, team_id: str, checkin_id: int) -> datetime | None:
    found = store.customer_checkins(team_id=team_id, checkin_ids=[checkin_id])
    return found[1][0].created_at if found is not None and found[1] else None


def _since_activated(record: BoundaryRecord, at: datetime, now: datetime) -> bool:
    activated = record.rule.activated_at
    return activated is not None and activated <= at <= now


def call_outside_no(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
    ack()
    _answer(body, respond, replace_original=True, text="Thanks — no slip logged for that call.")
