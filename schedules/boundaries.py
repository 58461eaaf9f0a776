"""Boundary jobs: plan gentle reminders, notice needs that have held, suggest the next one, escalate.

Every message is a Nudge row in the outbox, planned insert-if-absent under a key that names the
occurrence, and posted by the generic sender through the renderers registered here:

=====================  ======================  ================================================  ====================
kind                   subject                 due_key                                           goes to
=====================  ======================  ================================================  ====================
boundary_reminder      boundary:<id>           the customer's local date                         customer channel
boundary_suggestion    boundary:<proposed id>  held|retired:<boundary id>:<held_at|retired_at>   owner (DM)
boundary_escalation    boundary:<id>           run:<escalated_at before this run|first>          owner (DM)
boundary_call_check    boundary:<id>           checkin:<check-in id>                             check-in author (DM)
=====================  ======================  ================================================  ====================

So a second tick, a retried request or another replica finds the row already there: one message each.
"""

from __future__ import annotations

import logging
import zlib
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from slack_sdk import WebClient

from bot.settings import Settings
from domain import boundaries as rules
from domain.cadence import due_slots, next_slot, parse_cadence
from domain.calendar import WorkCalendar
from handlers.blocks import mrkdwn_name
from handlers.blocks.boundaries import call_window_question, escalation_blocks, reminder_message, suggestion_blocks
from handlers.home_publisher import request_home_refresh
from schedules.cadence import instead_of_gone_owner, owner_gone_text
from schedules.health import customer_calendar  # also planning.customer_calendar for the handlers
from schedules.sender import CHANNEL_RETRY_AFTER, Message, Skip, register
from storage.boundaries import ESCALATION_KIND, BoundaryConflict, BoundaryRecord
from storage.models import CheckIn, Customer, Nudge
from storage.nudges import NudgePlan
from storage.store import Store

logger = logging.getLogger("partner.boundaries")

REMINDER = "boundary_reminder"
SUGGESTION = "boundary_suggestion"
ESCALATION = ESCALATION_KIND
CALL_CHECK = "boundary_call_check"

# How far back a tick looks for reminder times it has not planned yet (the outbox key stops repeats);
# a reminder whose time passed longer ago than this while the bot was down is not sent late.
REMINDER_LOOKBACK = timedelta(hours=6)


def is_quiet(customer: Customer, at: datetime) -> bool:
    """Paused, or snoozed at that instant: no reminders or suggestions for the customer."""
    return customer.paused_at is not None or (customer.snoozed_until is not None and customer.snoozed_until > at)


def subject(record: BoundaryRecord) -> str:
    return f"boundary:{record.id}"


# --------------------------------------------------------------------------- reminder schedule (pure)


def parse_reminder_setting(text: str) -> str | None:
    """What `/partner boundary … reminders <…>` stores: "off", None for the weekly default, or a cadence.

    Raises ValueError naming the forms it accepts.
    """
    cleaned = " ".join(text.strip().lower().split())
    if cleaned in ("off", "none", "never", "no"):
        return "off"
    if cleaned in ("weekly", "default", "on", "yes"):
        return None
    cadence = parse_cadence(cleaned)  # ValueError with the valid cadence forms
    if cadence.is_off:
        return "off"
    return cadence.to_text()


def reminder_slots(
    setting: str | None, cal: WorkCalendar, *, since: datetime, now: datetime, policy: rules.Policy
) -> list[tuple[date, datetime]]:
    """(local date, due instant) of each reminder in ``(since, now]`` for a boundary's setting.

    The weekly default is the customer's first business day of each week at the policy's local time
    (a holiday Monday moves it to Tuesday); a cadence moves a slot off a holiday to the next business day.
    """
    if setting == "off" or now <= since:
        return []
    if not setting:
        return [(d, cal.at_local(d, policy.reminder_at)) for d in rules.reminders_due(cal, since, now, policy)]
    try:
        cadence = parse_cadence(setting)
    except ValueError:
        logger.warning("unreadable boundary reminder cadence %r; using the weekly default", setting)
        return reminder_slots(None, cal, since=since, now=now, policy=policy)
    return [(slot.local_date, slot.due_at) for slot in due_slots(cadence, cal, since=since, now=now)]


def next_reminder(
    setting: str | None, cal: WorkCalendar, *, after: datetime, policy: rules.Policy
) -> tuple[date, datetime] | None:
    """The next reminder strictly after ``after`` (for the preview), or None when reminders are off."""
    if setting == "off":
        return None
    if setting:
        try:
            slot = next_slot(parse_cadence(setting), cal, after=after)
        except ValueError:
            slot = None
        else:
            return (slot.local_date, slot.due_at) if slot is not None else None
    # Weekly: at most one per week, so five weeks ahead always finds one unless every day is a holiday.
    found = reminder_slots(None, cal, since=after, now=after + timedelta(weeks=5), policy=policy)
    return found[0] if found else None


def next_reminder_sent(
    customer: Customer, setting: str | None, cal: WorkCalendar, *, after: datetime, policy: rules.Policy
) -> tuple[date, datetime] | None:
    """The next reminder that will really go out (what answers promise): none while the customer is paused, and
    none while it is snoozed — a slot before the snooze ends is skipped, as plan_boundary_reminders skips it."""
    if customer.paused_at is not None:
        return None
    if customer.snoozed_until is not None and customer.snoozed_until > after:
        after = customer.snoozed_until - timedelta(microseconds=1)  # a slot at the very end of the snooze goes out
    return next_reminder(setting, cal, after=after, policy=policy)


def template_seed(boundary_id: int, day: date) -> int:
    # crc32, not hash(): the same reminder must pick the same words in every process.
    return zlib.crc32(f"{boundary_id}:{day.isoformat()}".encode())


# How far back the customer's last reminder is looked for (a monthly reminder's month, and then some).
LAST_REMINDER_LOOKBACK = timedelta(days=62)
_SHOWN = ("pending", "claimed", "sending", "sent")  # posted or about to be; not skipped, folded or failed


def previous_template(store: Store, customer: Customer, record: BoundaryRecord, *, before: datetime) -> int | None:
    """The wording a reminder due at `before` must not repeat: the last one in the customer's channel, whichever need
    it restated (a new need's first reminder must not open as the last need's did the week before); the need's own
    last one when the channel has had none lately. None (the plainest wording may follow) after the owner's own."""
    assert customer.id is not None
    earlier = store.nudges(
        team_id=customer.team_id,
        kinds=[REMINDER],
        due_after=before - LAST_REMINDER_LOOKBACK,
        statuses=_SHOWN,
        customer_ids=[customer.id],
    )
    shown = [n for n in earlier if n.due_at < before]
    if not shown:
        return record.row.last_template
    template = shown[-1].payload.get("template")
    return template if isinstance(template, int) and 0 <= template < len(rules.REMINDER_TEMPLATES) else None


def reminder_wording(record: BoundaryRecord, template: int | None) -> str:
    """The owner's own wording when they set one, else the chosen template around the boundary."""
    if record.row.reminder_text:
        return record.row.reminder_text
    return rules.reminder_text(record.rule, template if template is not None else 0)


# --------------------------------------------------------------------------- the outbox


def _plan(
    store: Store,
    *,
    team_id: str,
    kind: str,
    subject: str,
    due_key: str,
    customer_id: int | None,
    recipient_id: str | None,
    due_at: datetime,
    now: datetime,
    payload: dict[str, Any] | None = None,
    status: str = "pending",
    error: str | None = None,
) -> bool:
    """Insert-if-absent into the nudge outbox; True when this call created the row.

    plan_nudges looks for the key before inserting, so re-planning every tick (reminders are looked for over
    hours, suggestions until acted on) costs a read, not a failed insert.
    """
    plan = NudgePlan(
        kind=kind,
        subject=subject,
        due_key=due_key,
        due_at=due_at,
        customer_id=customer_id,
        recipient_id=recipient_id,
        status=status,
        error=error,
        payload=payload or {},
    )
    return bool(store.plan_nudges(team_id=team_id, plans=[plan], now=now))


def policy_payload(policy: rules.Policy) -> dict[str, Any]:
    """The policy a nudge was planned under travels with it: renderers are called without settings."""
    return {
        "max_active": policy.max_active,
        "hold_days": policy.hold_after.days,
        "escalate_slips": policy.escalate_slips,
        "escalate_days": policy.escalate_window.days,
    }


def policy_from(payload: dict[str, Any]) -> rules.Policy:
    try:
        return rules.Policy(
            max_active=int(payload["max_active"]),
            hold_after=timedelta(days=int(payload["hold_days"])),
            escalate_slips=int(payload["escalate_slips"]),
            escalate_window=timedelta(days=int(payload["escalate_days"])),
        )
    except (KeyError, TypeError, ValueError):
        return rules.DEFAULT_POLICY


def owner_of(customer: Customer) -> str | None:
    """Who decides about a customer's agreements: its owner, else whoever added it."""
    return customer.owner_id or customer.created_by


def plan_escalation(
    store: Store, *, customer: Customer, record: BoundaryRecord, policy: rules.Policy, now: datetime
) -> bool:
    """When the slips make a run (domain.needs_escalation), owe the owner one escalation for that run.

    The run is keyed by the previous escalation's time; once the escalation is planned, escalated_at
    moves to now, so the next run needs ``escalate_slips`` fresh slips and gets a key of its own.
    """
    if not rules.needs_escalation(record.rule, now, policy):
        return False
    previous = record.row.escalated_at
    created = _plan(
        store,
        team_id=customer.team_id,
        kind=ESCALATION,
        subject=subject(record),
        due_key=f"run:{previous.isoformat() if previous else 'first'}",
        customer_id=customer.id,
        recipient_id=owner_of(customer),
        due_at=now,
        now=now,
        payload=policy_payload(policy),
    )
    if created:
        store.edit_boundary(team_id=customer.team_id, boundary_id=record.id, escalated_at=now)
    return created


def plan_call_question(
    store: Store,
    *,
    customer: Customer,
    record: BoundaryRecord,
    checkin: CheckIn,
    now: datetime,
    counted_for: date | None = None,
) -> bool:
    """Ask the author of an out-of-window call whether it really was outside the window (once per check-in);
    ``counted_for``: a call logged once its day was over, whose time is not known (asked by its day)."""
    payload: dict[str, Any] = {"checkin_id": checkin.id, "call_at": checkin.created_at.isoformat()}
    if counted_for is not None:
        payload["counted_for"] = counted_for.isoformat()
    return _plan(
        store,
        team_id=customer.team_id,
        kind=CALL_CHECK,
        subject=subject(record),
        due_key=f"checkin:{checkin.id}",
        customer_id=customer.id,
        recipient_id=checkin.author_id,
        due_at=now,
        now=now,
        payload=payload,
    )


def plan_suggestion(
    store: Store, *, customer: Customer, records: Sequence[BoundaryRecord], policy: rules.Policy, now: datetime
) -> bool:
    """Once the need being introduced has held, or was retired before it held, suggest the next proposed one to the
    owner (once per hold or retirement)."""
    proposed = rules.next_to_suggest([r.rule for r in records], now, policy)
    if proposed is None:
        return False
    freed = rules.slot_freed_by(r.rule for r in records)
    if freed is None:
        return False  # no need has been introduced yet: the team hasn't started
    ended, at = freed
    how = "held" if ended.status == "held" else "retired"
    target = next(r for r in records if r.id == proposed.id)
    return _plan(
        store,
        team_id=customer.team_id,
        kind=SUGGESTION,
        subject=subject(target),
        due_key=f"{how}:{ended.id}:{at:%Y%m%dT%H%M%S}",
        customer_id=customer.id,
        recipient_id=owner_of(customer),
        due_at=now,
        now=now,
        payload={"held_id": ended.id, **policy_payload(policy)},  # the need that made room, held or retired
    )


# --------------------------------------------------------------------------- jobs


def _policy_and_tz(settings: Settings | None) -> tuple[rules.Policy, str]:
    if settings is None:
        return rules.DEFAULT_POLICY, "UTC"
    return settings.boundary_policy, settings.default_tz


def plan_boundary_reminders(*, store: Store, client: WebClient, now: datetime, settings: Settings | None = None) -> int:
    """Owe each active boundary its reminders due in the lookback window; returns how many were planned.

    Only needs being introduced (active) are restated; a held need is left alone until it slips.
    Paused or snoozed customers get none, and the slot is recorded as skipped so it is not sent later.
    """
    del client
    policy, default_tz = _policy_and_tz(settings)
    planned = 0
    since = now - REMINDER_LOOKBACK
    # Each slot is looked for over REMINDER_LOOKBACK, so every tick finds again the ones planned by the ticks before:
    # one query per team tells which those are, and only new slots are planned (a query each).
    due: dict[str, list[tuple[Customer, BoundaryRecord, list[tuple[date, datetime]]]]] = defaultdict(list)
    for customer, records in store.customers_with_live_boundaries():
        if not customer.channel_id:
            continue
        cal = customer_calendar(customer, default_tz)
        for record in records:
            rule = record.rule
            if rule.status != "active" or rule.activated_at is None:
                continue
            start = max(since, rule.activated_at)
            slots = reminder_slots(record.row.reminders, cal, since=start, now=now, policy=policy)
            if slots:
                due[customer.team_id].append((customer, record, slots))
    for team_id, reminders in due.items():
        keys = {(REMINDER, subject(record), day.isoformat()) for _, record, slots in reminders for day, _ in slots}
        known = store.planned_keys(team_id=team_id, keys=keys)
        # Two needs in force at once (a slip reopened one that held while the next was being introduced, or
        # PARTNER_MAX_ACTIVE_BOUNDARIES above 1) due the same day: one message restating both, not two in a row.
        # The first in the list carries it; the others' slots are recorded as folded into it.
        same_day: dict[tuple[int, date], list[tuple[Customer, BoundaryRecord, datetime]]] = defaultdict(list)
        for customer, record, slots in reminders:
            for day, due_at in slots:
                same_day[(customer.id or 0, day)].append((customer, record, due_at))
        for (_customer_id, day), needs in same_day.items():
            todo = [n for n in needs if (REMINDER, subject(n[1]), day.isoformat()) not in known]
            if not todo:
                continue
            if len(todo) < len(needs):  # one of them was planned already (alone, earlier): the rest fold into it
                carrier = next(r for _, r, _ in needs if (REMINDER, subject(r), day.isoformat()) in known)
                _fold(store, todo, day=day, carrier=carrier, now=now)
                continue
            customer, record, due_at = todo[0]
            quiet = is_quiet(customer, due_at)
            folded = [r for _, r, _ in todo[1:]]
            _fold(store, todo[1:], day=day, carrier=record, now=now)
            template = None
            if picks_a_wording([record, *folded]):
                previous = previous_template(store, customer, record, before=due_at)
                template = rules.pick_template(previous, template_seed(record.id, day))
            created = _plan(
                store,
                team_id=customer.team_id,
                kind=REMINDER,
                subject=subject(record),
                due_key=day.isoformat(),
                customer_id=customer.id,
                recipient_id=customer.channel_id,
                due_at=due_at,
                now=now,
                payload={"template": template, "with": [r.id for r in folded]},
                # Recorded, not just left out: a later tick after the snooze ends must not send it late.
                status="skipped" if quiet else "pending",
                error="customer paused or snoozed" if quiet else None,
            )
            if created and not quiet:
                planned += 1
                if template is not None:
                    # The needs restated with it too: their next reminder alone won't open with the same words.
                    for restated in [record, *folded]:
                        if not restated.row.reminder_text:
                            store.edit_boundary(
                                team_id=customer.team_id, boundary_id=restated.id, last_template=template
                            )
                            _with_last_template(restated, template)
    return planned


def _fold(
    store: Store,
    needs: Sequence[tuple[Customer, BoundaryRecord, datetime]],
    *,
    day: date,
    carrier: BoundaryRecord,
    now: datetime,
) -> None:
    """Record the day's reminder of each of `needs` as restated in `carrier`'s: never sent on its own, later either."""
    for customer, record, due_at in needs:
        _plan(
            store,
            team_id=customer.team_id,
            kind=REMINDER,
            subject=subject(record),
            due_key=day.isoformat(),
            customer_id=customer.id,
            recipient_id=customer.channel_id,
            due_at=due_at,
            now=now,
            status="skipped",
            error=f"restated in the reminder of {subject(carrier)}",
        )


def _with_last_template(record: BoundaryRecord, template: int) -> BoundaryRecord:
    # Two reminder dates planned in one tick still differ: the second sees the first's template.
    record.row.last_template = template
    return record


def review_boundaries(*, store: Store, client: WebClient, now: datetime, settings: Settings | None = None) -> int:
    """Mark needs that have held, suggest the next one, and escalate runs of slips nobody was asked about.

    Returns how many boundaries were marked held plus suggestions and escalations planned.
    """
    del client
    done = 0
    policy, _default_tz = _policy_and_tz(settings)
    for customer, records in store.customers_with_live_boundaries():
        held = 0
        for record in records:
            if record.rule.status == "active" and rules.has_held(record.rule, now, policy):
                try:
                    store.change_boundary(
                        team_id=customer.team_id, boundary_id=record.id, change=lambda b, _s: rules.mark_held(b, now)
                    )
                except (ValueError, BoundaryConflict):
                    continue  # someone changed it meanwhile (a slip, a retirement): their change stands
                held += 1
        assert customer.id is not None
        if held:  # read again what was just marked held, for the suggestion below
            records = store.boundary_records(team_id=customer.team_id, customer_id=customer.id)
            done += held
            # Home shows active agreements only (the row's and "Boundaries slipping"): one held leaves them.
            request_home_refresh(None, customer.team_id, [customer.owner_id])
        for record in records:
            if record.rule.in_force:
                done += plan_escalation(store, customer=customer, record=record, policy=policy, now=now)
        if not is_quiet(customer, now):
            done += plan_suggestion(store, customer=customer, records=records, policy=policy, now=now)
    return done


# --------------------------------------------------------------------------- renderers for the generic sender


def _boundary_id(nudge: Nudge) -> int | None:
    prefix, _, number = nudge.subject.partition(":")
    return int(number) if prefix == "boundary" and number.isascii() and number.isdigit() else None


def _load(store: Store, nudge: Nudge) -> tuple[Customer, BoundaryRecord] | Skip:
    boundary_id = _boundary_id(nudge)
    record = store.boundary_record(team_id=nudge.team_id, boundary_id=boundary_id) if boundary_id else None
    customer = store.customer(team_id=nudge.team_id, customer_id=record.row.customer_id) if record else None
    if record is None or customer is None or customer.archived_at is not None:
        return Skip("boundary or customer gone", "cancelled")
    return customer, record


def render_reminder(nudge: Nudge, store: Store, now: datetime) -> Message | Skip:
    """The gentle reminder in the customer's channel, in the wording chosen when it was planned."""
    loaded = _load(store, nudge)
    if isinstance(loaded, Skip):
        return loaded
    customer, record = loaded
    if nudge.status != "sent":
        if record.rule.status != "active":
            return Skip(f"the boundary is {record.rule.status} now")
        if record.row.reminders == "off":
            return Skip("reminders turned off")
        if is_quiet(customer, now):
            return Skip("customer paused or snoozed")
        if not customer.channel_id:
            return Skip("the customer has no channel", "cancelled")
        if not customer_calendar(customer).is_business_day(date.fromisoformat(nudge.due_key)):
            return Skip("a holiday for the customer")
        refused = customer.channel_error is not None and customer.channel_error_at is not None
        if refused and customer.channel_error_at is not None and now - customer.channel_error_at < CHANNEL_RETRY_AFTER:
            # Meant for the customer: no DM fallback. The channel is tried again once the retry period passes.
            return Skip(f"the channel refused posts ({customer.channel_error})")
    template = nudge.payload.get("template")
    text = reminder_wording(record, template if isinstance(template, int) else None)
    others = [_folded(store, nudge, other) for other in nudge.payload.get("with") or []]
    restated = [r for r in others if r is not None and (nudge.status == "sent" or _still_restated(r))]
    if restated:
        text = several_reminder_wording([record, *restated], template if isinstance(template, int) else None)
    message = reminder_message(whose_reminder(store, customer, text))
    return Message(
        text=message["text"],
        blocks=message["blocks"],
        channel=customer.channel_id,
        customer_id=customer.id,
        # Tried again after the retry period and taken: the channel takes posts again, as a cadence nudge clears it.
        retries_refused=bool(customer.channel_error),
    )


def whose_reminder(store: Store, customer: Customer, text: str) -> str:
    """A reminder's words as posted: opening with its customer's name when another customer (not archived) shares
    its channel, where two reminders back to back ("A reminder of how we work together: …") would not say whose
    agreement each is. `boundary preview` shows it so too."""
    if customer.channel_id and any(
        other.id != customer.id
        for other in store.customers_in_channel(team_id=customer.team_id, channel_id=customer.channel_id)
    ):
        return f"*{mrkdwn_name(customer.name)}* — {text[:1].lower()}{text[1:]}"
    return text


def _folded(store: Store, nudge: Nudge, boundary_id: object) -> BoundaryRecord | None:
    """A need whose reminder of the day was folded into this one, if it is still the same customer's."""
    if not isinstance(boundary_id, int):
        return None
    record = store.boundary_record(team_id=nudge.team_id, boundary_id=boundary_id)
    return record if record is not None and record.row.customer_id == nudge.customer_id else None


def _still_restated(record: BoundaryRecord) -> bool:
    return record.rule.status == "active" and record.row.reminders != "off"


def picks_a_wording(together: Sequence[BoundaryRecord]) -> bool:
    """Whether a reminder restating `together` (the first carries it) opens with one of Partner's wordings, picked
    never to repeat the last: always for several needs in one message (the opening is Partner's even where the owner
    wrote a need's own line), else unless the owner wrote the need's wording."""
    return len(together) > 1 or not together[0].row.reminder_text


def several_reminder_wording(records: Sequence[BoundaryRecord], template: int | None) -> str:
    """Needs in force at once, restated in one message: the chosen template's opening, then each need (in the
    owner's own wording where they wrote one) on a line of its own."""
    opening = rules.REMINDER_TEMPLATES[template if template is not None else 0].split("{text}")[0].rstrip()
    lines = [f"• {r.row.reminder_text or rules.as_sentence(r.rule.text)}" for r in records]
    return "\n".join([opening, *lines])


def render_suggestion(nudge: Nudge, store: Store, now: datetime) -> Message | Skip:
    """To the owner: the need being introduced has held; here is the next one with an Activate button."""
    loaded = _load(store, nudge)
    if isinstance(loaded, Skip):
        return loaded
    customer, proposed = loaded
    policy = policy_from(nudge.payload)
    assert customer.id is not None
    records = store.boundary_records(team_id=customer.team_id, customer_id=customer.id)
    if nudge.status != "sent":
        if proposed.rule.status != "proposed":
            return Skip(f"already {proposed.rule.status}")
        if not rules.can_activate([r.rule for r in records], policy, now=now).ok:
            return Skip("another need is still settling in")
        if is_quiet(customer, now):
            return Skip("customer paused or snoozed")
    held = next((r for r in records if r.id == nudge.payload.get("held_id")), None)
    return _to_decider(nudge, customer, suggestion_blocks(customer, held, proposed, policy), store, now)


def render_escalation(nudge: Nudge, store: Store, now: datetime) -> Message | Skip:
    """To the owner: the history of slips and the four conscious decisions, as buttons."""
    loaded = _load(store, nudge)
    if isinstance(loaded, Skip):
        return loaded
    customer, record = loaded
    if nudge.status != "sent" and not record.rule.in_force:
        return Skip(f"the boundary is {record.rule.status} now")
    policy = policy_from(nudge.payload)
    message = escalation_blocks(customer, record, now, policy, customer_calendar(customer))
    return _to_decider(nudge, customer, message, store, now)


def _to_decider(
    nudge: Nudge, customer: Customer, message: dict[str, Any], store: Store, now: datetime
) -> Message | Skip:
    """The message in the decider's DM; for an owner Slack said is deactivated (nobody reads their DMs), the team
    decides in its own channel, as it hears of a health fall there, the message saying why."""
    decider = _decider(nudge, customer)
    mine = nudge.status != "sent" and decider is not None and decider == customer.owner_id
    instead = instead_of_gone_owner(store, customer, now) if mine else None
    if isinstance(instead, Skip):
        return instead
    if instead is not None and decider is not None:
        message["blocks"][0]["text"]["text"] += f"\n:warning: {owner_gone_text(decider, customer.name)}"
        return Message(text=message["text"], blocks=message["blocks"], channel=instead)
    return Message(text=message["text"], blocks=message["blocks"], user=decider)


def _decider(nudge: Nudge, customer: Customer) -> str | None:
    """Who is asked to decide: the customer's owner when the message goes out, not when it was planned (the owner
    changed in between, or Slack was down until after), as the health-drop alert does; once sent, whom it went to."""
    if nudge.status == "sent":
        return nudge.recipient_id or owner_of(customer)
    return owner_of(customer) or nudge.recipient_id


def render_call_check(nudge: Nudge, store: Store, now: datetime) -> Message | Skip:
    """To whoever logged the call: was it really outside the agreed window?"""
    loaded = _load(store, nudge)
    if isinstance(loaded, Skip):
        return loaded
    customer, record = loaded
    checkin_id, call_at = nudge.payload.get("checkin_id"), nudge.payload.get("call_at")
    if record.rule.contact_window is None or not isinstance(checkin_id, int) or not isinstance(call_at, str):
        return Skip("no contact window to compare with any more", "cancelled")
    if nudge.status != "sent" and not record.rule.in_force:
        return Skip(f"the boundary is {record.rule.status} now")
    cal = customer_calendar(customer)
    day = nudge.payload.get("counted_for")
    message = call_window_question(
        customer,
        record,
        checkin_id=checkin_id,
        call_at=datetime.fromisoformat(call_at),
        cal=cal,
        counted_for=date.fromisoformat(day) if isinstance(day, str) else None,
    )
    return Message(text=message["text"], blocks=message["blocks"], user=nudge.recipient_id)


register(REMINDER, render_reminder, label="the reminder of a working agreement")
register(SUGGESTION, render_suggestion, label="the suggestion of the next working agreement")
# A decision is still worth asking for after downtime.
register(ESCALATION, render_escalation, grace=False, label="the escalation of a working agreement")
register(CALL_CHECK, render_call_check, label="the question whether a call happened at the agreed time")
