"""The cadence jobs: plan call nudges and overdue alerts, mark messages whose call was logged since, send.

========  ==============  ==========================  ===============================================
kind      subject         due_key                     goes to
========  ==============  ==========================  ===============================================
cadence   customer:<id>   the slot's local date       customer channel (the owner by DM as fallback)
overdue   customer:<id>   lapse:<lapse start date>    the owner by DM (the channel when nobody owns it)
========  ==============  ==========================  ===============================================

A snoozed call comes back as a ``cadence`` row too, keyed by the local date it comes back on (that day's one
nudge), with ``snoozed_on`` in its payload (:func:`schedules.planner.snooze_reminder`).

Each job is a function of (store, client, now, settings) that `partner-bot tick` and the scheduler call
through :data:`schedules.jobs.JOBS`; planning decisions are in :mod:`schedules.planner`, delivery in
:mod:`schedules.sender`.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.oauth import NotInstalled, SlackClients, client_for
from bot.settings import Settings
from domain.boundaries import defuse_broadcasts
from domain.calendar import WorkCalendar
from handlers.blocks import command_name, local_time, mrkdwn_name
from handlers.blocks.nudges import nudge_blocks
from schedules import planner
from schedules.planner import CADENCE, OVERDUE
from schedules.sender import (
    CHANNEL_RETRY_AFTER,
    OWNER_GONE,
    Message,
    SenderOptions,
    Skip,
    refresh_message,
    register,
    send_due_nudges,
)
from storage.cadence import OWNER_DEACTIVATED, OWNER_REACTIVATED, CustomerSchedule
from storage.customers import CADENCE_JOB
from storage.models import CheckIn, Customer, Nudge
from storage.nudges import NudgePlan
from storage.store import Store

logger = logging.getLogger("partner.cadence")

JOB = CADENCE_JOB  # its watermark; a restore moves it too (storage.customers)
# After a long outage nothing older than this is even recorded as missed.
MAX_CATCH_UP = timedelta(days=35)
# A message is updated in place for a call logged up to this long after the nudge was sent.
REFRESH_WINDOW = timedelta(days=3)
# How the sender paces and retries (tests swap in a zero interval).
SENDER_OPTIONS = SenderOptions()


@dataclass(frozen=True)
class NudgePolicy:
    grace: timedelta = timedelta(hours=6)
    contact_kinds: tuple[str, ...] | None = ("call",)  # None: any check-in satisfies the cadence
    default_tz: str = "UTC"


def policy_of(settings: Settings | None) -> NudgePolicy:
    if settings is None:
        return NudgePolicy()
    return NudgePolicy(
        grace=timedelta(hours=settings.nudge_grace_hours),
        contact_kinds=None if settings.any_checkin_satisfies else ("call",),
        default_tz=settings.default_tz,
    )


def _contact_kinds(nudge: Nudge) -> list[str] | None:
    kinds = nudge.payload.get("contact_kinds", ["call"])
    return list(kinds) if kinds is not None else None


def last_contact(store: Store, nudge: Nudge) -> CheckIn | None:
    assert nudge.customer_id is not None
    found = store.last_contacts(team_id=nudge.team_id, customer_ids=[nudge.customer_id], kinds=_contact_kinds(nudge))
    return found.get(nudge.customer_id)


def _contact_by(store: Store, nudge: Nudge, day: date, tz: str) -> CheckIn | None:
    """The customer's last contact on or before the local `day` (a redrawn alert's "Last call", as it was sent)."""
    assert nudge.customer_id is not None
    kinds = _contact_kinds(nudge)
    recent = store.checkins(team_id=nudge.team_id, customer_id=nudge.customer_id, limit=200)
    return next(
        (c for c in recent if (kinds is None or c.kind in kinds) and _local_date(c.created_at, tz) <= day), None
    )


def _local_date(instant: datetime, tz: str) -> date:
    return instant.astimezone(ZoneInfo(tz)).date()


# --------------------------------------------------------------------------- planning


def plan_nudges(*, store: Store, client: WebClient, now: datetime, settings: Settings | None = None) -> int:
    """Plans every cadence nudge and overdue alert due by `now`; returns how many rows are waiting to be sent."""
    policy = policy_of(settings)
    planned = 0
    for team_id in store.active_team_ids():
        customers = store.customer_schedules(team_id=team_id)
        ids = [c.id for c in customers]
        contacts = store.last_contacts(team_id=team_id, customer_ids=ids, kinds=policy.contact_kinds)
        since = max(store.watermark(team_id=team_id, job=JOB) or now - policy.grace, now - MAX_CATCH_UP)
        extra = {"contact_kinds": list(policy.contact_kinds) if policy.contact_kinds else None}
        snoozes = store.snoozes(team_id=team_id, customers=customers, after=since)
        plans = planner.plan_cadence(
            customers,
            contacts,
            since=since,
            now=now,
            grace=policy.grace,
            default_tz=policy.default_tz,
            extra=extra,
            snoozes=snoozes,
        )
        plans = _told_owner_gone(client, store, team_id, plans, customers, now)
        inserted = store.plan_nudges(team_id=team_id, plans=plans, now=now)
        # A snooze saved while a tick was sending left that day's row skipped: its call still comes back that day.
        inserted += store.revive_snoozed(team_id=team_id, plans=plans)

        due = _lapses_to_alert(store, team_id, customers, contacts, now=now, default_tz=policy.default_tz)
        asked: dict[int, list[Nudge]] = defaultdict(list)
        daily = [lapse for lapse in due if lapse.has_daily_calls()]
        if daily:
            oldest = min(lapse.cal.at_local(lapse.start, planner.ALERT_AT) for lapse in daily)
            for row in store.nudges(
                team_id=team_id,
                kinds=[CADENCE],
                due_after=max(oldest - timedelta(days=1), now - MAX_CATCH_UP),
                customer_ids=[lapse.customer.id for lapse in daily if lapse.customer.id is not None],
            ):
                if row.customer_id is not None:
                    asked[row.customer_id].append(row)
        put_off: dict[int, date] = {}
        for lapse in daily:
            customer_id = lapse.customer.id
            if customer_id is not None and customer_id in snoozes:
                contact = contacts.get(customer_id)
                reminder = planner.snooze_reminder(
                    lapse.customer, lapse.cal, snoozes[customer_id], contact.created_at if contact else None
                )
                if reminder is not None:
                    put_off[customer_id] = reminder.snoozed_on
        overdue = once_per_lapse(store, team_id, planner.plan_overdue(due, asked, now=now, put_off=put_off), due)
        gone = _deactivated_owners(client, store, team_id, overdue)
        record_owners_gone(
            store, team_id, [(p.customer_id, p.recipient_id) for p in overdue if p.recipient_id in gone], now
        )
        alerts = [
            replace(
                p, payload={**p.payload, **extra, **({OWNER_GONE: p.recipient_id} if p.recipient_id in gone else {})}
            )
            for p in overdue
        ]
        inserted += store.plan_nudges(team_id=team_id, plans=alerts, now=now)
        store.advance_watermark(team_id=team_id, job=JOB, until=now)
        planned += sum(1 for row in inserted if row.status == "pending")
    return planned


def plan_call_moved_into_the_past(
    *, store: Store, before: Customer, after: Customer, now: datetime, settings: Settings | None = None
) -> bool:
    """Today's call moved to a time already past while its nudge was still to come (`cadence acme daily 08:30` typed
    at 08:45 for a 09:00 nudge, or a time zone where its time has passed): the ticks plan what falls due after the
    last one, so the day's nudge would never come, though its call is still to make. It is planned due now (the
    day's one nudge, by the outbox's key), unless its call was logged, the customer is snoozed, or that time is past
    the grace period. Returns whether it was planned."""
    if after.id is None or not planner.is_live(after):
        return False
    policy = policy_of(settings)
    cal = planner.calendar_of(after, default_tz=policy.default_tz)
    today = cal.local_date(now)
    _wait_for_call_moved_later(store, after, cal, now)
    moved = [s for s in planner.slots(after, cal, since=now - policy.grace, now=now) if s.local_date == today]
    if not moved:
        return False
    slot = moved[-1]
    # Today's nudge still waiting for Slack (down at its time) names the time it no longer has ("09:00
    # America/New_York" for a customer moved to London at 09:30): it is planned again, due now, naming the new one.
    waiting = _waiting_nudge(store, after, today, now)
    if waiting is not None and (waiting.payload.get("tz"), waiting.due_at) == (cal.tz, slot.due_at):
        return False  # nothing it names changed
    # Today on the customer's new clock: a zone moved east may already be tomorrow on the old one (Los Angeles on
    # Monday evening is Tuesday in Tokyo), and that day's call, hours away on the old clock, is the one moved past.
    was = planner.calendar_of(before, default_tz=policy.default_tz)
    still_to_come = planner.slots(before, was, since=now, now=now + timedelta(days=2))
    if waiting is None and not any(s.local_date == today for s in still_to_come):
        return False  # its nudge went out already, or the day had no call before the change
    if waiting is None and _nudged_during(store, after, cal, today):
        return False  # the old clock's day before, posted in this one (Monday's in Los Angeles, Tuesday in Tokyo)
    contacts = store.last_contacts(team_id=after.team_id, customer_ids=[after.id], kinds=policy.contact_kinds)
    snoozes = store.snoozes(team_id=after.team_id, customers=[after], after=now)
    extra = {"contact_kinds": list(policy.contact_kinds) if policy.contact_kinds else None}
    plans = [
        replace(plan, due_at=now)
        for plan in planner.plan_cadence(
            [after],
            contacts,
            since=slot.due_at - timedelta(microseconds=1),
            now=slot.due_at,
            grace=policy.grace,
            default_tz=policy.default_tz,
            extra=extra,
            snoozes=snoozes,
        )
        if plan.due_key == today.isoformat() and plan.status == "pending"
    ]
    if not plans:
        return False
    if waiting is not None and (
        waiting.id is None or not store.unplan_waiting_nudge(team_id=after.team_id, nudge_id=waiting.id)
    ):
        return False  # a sender took it meanwhile: it is on its way, and the day has one nudge
    inserted = store.plan_nudges(team_id=after.team_id, plans=plans, now=now)
    return any(row.status == "pending" for row in inserted)


def _nudged_during(store: Store, customer: Customer, cal: WorkCalendar, day: date) -> bool:
    """Whether a call nudge of the customer's went out (or is on its way) during the local `day` on its clock: a day
    has one nudge, whichever day the clock it was planned on called it."""
    assert customer.id is not None
    start = cal.at_local(day, time(0))
    return any(
        start <= n.due_at < cal.at_local(day + timedelta(days=1), time(0))
        for n in store.nudges(
            team_id=customer.team_id,
            kinds=[CADENCE],
            due_after=start - timedelta(microseconds=1),
            statuses=["claimed", "sending", "sent"],
            customer_ids=[customer.id],
        )
    )


def _waiting_nudges(store: Store, customer: Customer, now: datetime) -> list[Nudge]:
    """The customer's call nudges of these days still waiting to be posted (pending), but for a snoozed call coming
    back (the snooze moves that one) and one already answered."""
    assert customer.id is not None
    waiting = store.nudges(
        team_id=customer.team_id,
        kinds=[CADENCE],
        due_after=now - planner.TODAYS_NUDGES,
        statuses=["pending"],
        customer_ids=[customer.id],
    )
    return [n for n in waiting if n.id is not None and not n.payload.get("snoozed_on") and not n.payload.get("outcome")]


def _waiting_nudge(store: Store, customer: Customer, day: date, now: datetime) -> Nudge | None:
    """The day's call nudge due by now and still waiting to be posted."""
    return next(
        (n for n in _waiting_nudges(store, customer, now) if n.due_key == day.isoformat() and n.due_at <= now), None
    )


def _wait_for_call_moved_later(store: Store, customer: Customer, cal: WorkCalendar, now: datetime) -> bool:
    """A day's nudge still waiting to be posted (Slack down at its time, backing off) whose call was moved later that
    day — its time, or the customer's zone, edited meanwhile — waits for the new time: it is taken out of the outbox,
    and the tick at the new time plans that day's one nudge again, naming it. Posted when Slack came back, it went out
    hours before the call, naming the time it no longer had (`cadence acme daily 11:00` at 09:30: "09:00", at 09:31).
    A snoozed call coming back keeps its own time (the snooze moves it). True when one was taken out."""
    moved = False
    for nudge in _waiting_nudges(store, customer, now):
        assert nudge.id is not None
        day = date.fromisoformat(nudge.due_key)
        then = [s for s in planner.slots(customer, cal, since=now, now=now + timedelta(days=2)) if s.local_date == day]
        if then and then[0].due_at != nudge.due_at:
            moved = store.unplan_waiting_nudge(team_id=customer.team_id, nudge_id=nudge.id) or moved
    return moved


# How an alert's reason counted from a call begins (domain.cadence.standing).
LAST_CALL = "Last call "


def _deactivated_owners(
    client: WebClient | SlackClients, store: Store, team_id: str, alerts: list[NudgePlan]
) -> set[str]:
    """The owners of these new alerts Slack says are deactivated: a DM to them is taken without a word (Slack answers
    ok) and read by no one, so the alert goes to the customer's channel instead. One users.info per owner, only for
    alerts not planned yet (once per lapse); one Slack cannot answer about keeps its DM. An owner already recorded
    gone (a DM Slack refused, schedules.sender: users.info still answers for them) is not DMed again either."""
    fresh = (
        {p.key for p in alerts} - store.planned_keys(team_id=team_id, keys=[p.key for p in alerts]) if alerts else set()
    )
    owners = sorted({p.recipient_id for p in alerts if p.key in fresh and p.recipient_id})
    if not owners:
        return set()
    recorded = store.deactivated_owners(
        team_id=team_id, customer_ids=[p.customer_id for p in alerts if p.key in fresh and p.customer_id is not None]
    )
    gone = {p.recipient_id for p in alerts if p.customer_id in recorded and p.recipient_id}
    for owner in owners:
        try:
            user = client_for(client, team_id).users_info(user=owner)["user"]
        except (SlackApiError, OSError, NotInstalled) as e:
            logger.warning("users.info failed for owner %s: the overdue alert stays a DM (%r)", owner, e)
            continue
        if user.get("deleted"):
            gone.add(owner)
    return gone


def record_owners_gone(store: Store, team_id: str, found: list[tuple[int | None, str | None]], now: datetime) -> None:
    """Remembers, once per customer and owner until Slack says they are active again (record_owners_back), that Slack
    said its owner is deactivated: the list, the card and Home say so beside them until another owner is picked."""
    for customer_id, owner in found:
        if customer_id is None or not owner:
            continue
        dedupe = store.next_owner_deactivation(team_id=team_id, customer_id=customer_id, owner_id=owner)
        if dedupe is not None:
            store.record_customer_event_once(
                team_id=team_id,
                customer_id=customer_id,
                kind=OWNER_DEACTIVATED,
                detail={"owner": owner},
                now=now,
                dedupe=dedupe,
                actor_id=owner,
            )


def record_owners_back(store: Store, team_id: str, user_id: str, now: datetime) -> int:
    """Slack says `user_id` is active again: each of their deactivations is answered (an OWNER_REACTIVATED event with
    its dedupe), so the surfaces stop saying so. One query when they had none, as for most profile changes."""
    answered = 0
    for customer_id, dedupe in store.owner_deactivations(team_id=team_id, user_id=user_id):
        answered += store.record_customer_event_once(
            team_id=team_id,
            customer_id=customer_id,
            kind=OWNER_REACTIVATED,
            detail={"owner": user_id},
            now=now,
            dedupe=dedupe,
            actor_id=user_id,
        )
    return answered


def _told_owner_gone(
    client: WebClient | SlackClients,
    store: Store,
    team_id: str,
    plans: list[NudgePlan],
    customers: list[CustomerSchedule],
    now: datetime,
) -> list[NudgePlan]:
    """The new call nudges of customers with no channel to post in go to the owner's DM; for an owner Slack says is
    deactivated (read as for the overdue alert, `_deactivated_owners`: once per owner, new rows only) the nudge says
    so in its payload, and goes to the team's channel instead (`render_cadence`)."""
    by_id = {c.id: c for c in customers}
    dm = {
        p.key: owner
        for p in plans
        if p.status == "pending"
        and (c := by_id.get(p.customer_id or 0)) is not None
        and (owner := destination(c, now)[1])
        and destination(c, now)[0] is None
    }
    if not dm:
        return plans
    gone = _deactivated_owners(
        client, store, team_id, [replace(p, recipient_id=dm[p.key]) for p in plans if p.key in dm]
    )
    if not gone:
        return plans
    record_owners_gone(store, team_id, [(p.customer_id, dm[p.key]) for p in plans if dm.get(p.key) in gone], now)
    return [replace(p, payload={**p.payload, OWNER_GONE: dm[p.key]}) if dm.get(p.key) in gone else p for p in plans]


def once_per_lapse(store: Store, team_id: str, plans: list[NudgePlan], lapses: list[planner.Lapse]) -> list[NudgePlan]:
    """The alerts of lapses not told yet under another key. A lapse's key is a local date: after `edit tz=` the same
    lapse (the clock restarted by the same call) may start on another date, and its owner was already told. An alert
    planned since the clock restarted is this lapse's. Read only when alerts are about to be planned."""
    if not plans:
        return plans
    since = {lapse.customer.id: lapse.since for lapse in lapses}
    ids = [plan.customer_id for plan in plans if plan.customer_id in since]
    if not ids:
        return plans
    told = {
        row.customer_id
        for row in store.nudges(
            team_id=team_id, kinds=[OVERDUE], due_after=min(since[i] for i in ids), customer_ids=ids
        )
        if row.customer_id in since and row.created_at >= since[row.customer_id]
    }
    return [plan for plan in plans if plan.customer_id not in told]


def _not_alerted(store: Store, team_id: str, found: list[planner.Lapse]) -> list[planner.Lapse]:
    """The lapses whose overdue alert is not in the outbox yet, in one query."""
    keys = [(planner.subject_of(lapse.customer), lapse.key) for lapse in found]
    alerted = store.existing_nudge_keys(team_id=team_id, kind=OVERDUE, keys=keys)
    return [lapse for lapse, key in zip(found, keys, strict=True) if key not in alerted]


def _lapses_to_alert(
    store: Store,
    team_id: str,
    customers: list[CustomerSchedule],
    contacts: dict[int, CheckIn],
    *,
    now: datetime,
    default_tz: str,
) -> list[planner.Lapse]:
    """The customers' lapses whose overdue alert is still to plan.

    A pause owes no calls: a customer resumed since its lapse began is judged from the resume; nor does a cadence
    that was off, nor an archived customer: one set or restored since is judged from then. These are read only for
    the lapses still to alert (an idle tick reads nothing more), and only those customers are worked out again, from
    their restart."""
    found = planner.lapses(customers, contacts, now=now, default_tz=default_tz)
    due = _not_alerted(store, team_id, found)
    # One already told of the lapse of its last call may have restarted since (paused or archived after the alert):
    # its restarted clock is a lapse of its own, told when it runs out, as every surface then says "overdue".
    ids = [lapse.customer.id or 0 for lapse in found]
    restarts = store.clock_restarts(team_id=team_id, customer_ids=ids)
    if not restarts:
        return due
    again = planner.lapses(
        [lapse.customer for lapse in found if lapse.customer.id in restarts],
        contacts,
        now=now,
        default_tz=default_tz,
        restarts=restarts,
    )
    restarted = {lapse.customer.id: lapse for lapse in _not_alerted(store, team_id, again)}
    pending = {lapse.customer.id: lapse for lapse in due}
    # In the order found, as before: a restarted customer's lapse from its restart, or none (not overdue since).
    chosen = [restarted if lapse.customer.id in restarts else pending for lapse in found]
    return [among[lapse.customer.id] for lapse, among in zip(found, chosen, strict=True) if lapse.customer.id in among]


# --------------------------------------------------------------------------- rendering


def destination(customer: Customer | CustomerSchedule, now: datetime) -> tuple[str | None, str | None]:
    """(channel, fallback DM user): the channel unless Slack refused it recently (tried again after a week) or it is
    shared with the customer's organisation (their people must not see our nudges, @mentions and buttons).
    `/partner upcoming` and `partner-bot upcoming` ask it too, for each nudge's due time."""
    channel = customer.channel_id
    recently_refused = customer.channel_error_at is not None and now - customer.channel_error_at < CHANNEL_RETRY_AFTER
    if channel and customer.channel_error and recently_refused:
        channel = None
    if customer.channel_shared:
        channel = None
    return channel, customer.owner_id


def team_channel(store: Store, team_id: str) -> str | None:
    """Where a nudge or alert goes that nobody would read elsewhere (its customer has no channel of its own and its
    owner is deactivated in Slack): the team's digest channel, when it has one."""
    workspace = store.digest_workspace(team_id=team_id)
    return workspace.digest_channel_id if workspace is not None else None


def owner_gone_text(owner: str, name: str) -> str:
    return f"Its owner <@{owner}> is deactivated in Slack: pick another, `/partner edit {command_name(name)} @owner`."


def instead_of_gone_owner(store: Store, customer: Customer, now: datetime) -> str | Skip | None:
    """Where a message for the customer's owner goes once Slack said that owner is deactivated (a DM to them is taken
    without a word and read by no one; storage's OWNER_DEACTIVATED, from user_change or a nudge's users.info): the
    customer's own channel (never one its people read), else the team's digest channel, the message saying why with
    `owner_gone_text`; Skip when there is neither. None: the owner is not known to be deactivated, DM them."""
    if customer.id is None or not customer.owner_id:
        return None
    if customer.id not in store.deactivated_owners(team_id=customer.team_id, customer_ids=[customer.id]):
        return None
    channel = destination(customer, now)[0] or team_channel(store, customer.team_id)
    if channel is None:
        return Skip(
            f"its owner {customer.owner_id} is deactivated in Slack, and there is no channel to tell", "cancelled"
        )
    return channel


def render_cadence(nudge: Nudge, store: Store, now: datetime) -> Message | Skip:
    customer = store.customer(team_id=nudge.team_id, customer_id=nudge.customer_id or 0)
    if customer is None:
        return Skip("customer gone", "cancelled")
    outcome = nudge.payload.get("outcome")
    snoozed_on = nudge.payload.get("snoozed_on")  # a snoozed call coming back (planner.snooze_reminder)
    if nudge.status != "sent":  # first send: is it still wanted?
        if not planner.is_live(customer):
            return Skip("customer paused or archived", "cancelled")
        tz = str(nudge.payload.get("tz") or customer.tz or "UTC")
        if snoozed_on:
            until = customer.snoozed_until.isoformat() if customer.snoozed_until else None
            if until != nudge.payload.get("snoozed_until"):
                return Skip("the snooze was lifted or changed", "cancelled")
            cal = planner.calendar_of(customer, default_tz=tz)
            if planner.effective_cadence(customer, cal, nudge.due_at).is_off:
                return Skip("the customer's cadence is off", "cancelled")
        elif customer.snoozed_until is not None and nudge.due_at < customer.snoozed_until:
            return Skip("snoozed")
        elif not planner.is_slot_date(customer, date.fromisoformat(nudge.due_key), default_tz=tz):
            return Skip("the customer's cadence has no call that day any more", "cancelled")
        contact = last_contact(store, nudge)
        period_start = date.fromisoformat(nudge.payload.get("period_start") or nudge.due_key)
        if contact is not None and _local_date(contact.created_at, tz) >= period_start:
            return Skip("a call was already logged")
    tz = str(nudge.payload.get("tz") or customer.tz or "UTC")
    local = nudge.due_at.astimezone(ZoneInfo(tz))
    launch = customer.launch_until is not None and local.date() <= customer.launch_until
    normal = planner.cadence_of(customer).kind
    kind = "daily call" if launch else ("call" if normal in ("every", "off") else f"{normal} call")
    channel, owner = destination(customer, now)
    gone = nudge.payload.get(OWNER_GONE)
    if gone and gone == owner and channel is None:  # nobody reads a deactivated owner's DMs: the team sees it instead
        channel, owner = team_channel(store, nudge.team_id), None
        if channel is None:
            return Skip(f"its owner {gone} is deactivated in Slack, and there is no channel to tell", "cancelled")
    when = local_time(local)
    headline = f"Time for the {kind} with *{mrkdwn_name(customer.name)}* — {when} ({tz})."
    if gone and owner is None:
        headline += f"\n:warning: {owner_gone_text(gone, customer.name)}"
    if launch and customer.launch_until is not None:
        until = customer.launch_until
        headline += f" Launch mode: daily calls until {until:%a} {until.day} {until:%b}."
    text = f"Time for the {kind} with {mrkdwn_name(customer.name)} ({when} {tz})"
    cal = planner.calendar_of(customer, default_tz=tz)
    moved = "" if snoozed_on else planner.moved_text(customer, cal, local.date())
    if moved:  # the owner, perhaps in another country, sees why it is not on its usual day
        headline += f"\n:calendar: {moved[0].upper()}{moved[1:]}."
    back = ""
    if snoozed_on:
        day = date.fromisoformat(snoozed_on)
        back = f"the call snoozed on {day:%a} {day.day} {day:%b}"
        # A reason typed in the command comes as Slack escaped it: restated in the channel, @channel notifies no one.
        # The reason it was planned with: a later snooze (of this reminder too) has its own, which must not replace it.
        reason = nudge.payload.get("snooze_reason", customer.snooze_reason)
        why = f" ({defuse_broadcasts(reason)})" if reason else ""
        headline += f"\n:alarm_clock: This is {back}{why}: the snooze is over and the call is still to log."
        text += f": {back}"
    assert nudge.id is not None
    nudge_id = nudge.id
    # An owner digest's notification reads these lines alone: a call coming back says so, as its blocks do.
    digest = f"{kind} with *{mrkdwn_name(customer.name)}* at {when}" + (f" ({back})" if back else "")

    def message(mention: str) -> Message:
        # Slack's notification shows the text alone when there are blocks: the owner is named there too, so the
        # channel nudge reaches them by name on their phone, not only in the message.
        return Message(
            text=f"{mention}{text}",
            blocks=nudge_blocks(nudge_id=nudge_id, text=f":telephone_receiver: {mention}{headline}", outcome=outcome),
            channel=channel,
            user=owner,
            customer_id=customer.id,
            digest=digest,
            retries_refused=channel is not None and channel == customer.channel_id and bool(customer.channel_error),
        )

    if not (owner and channel):
        return message("")
    mentioned = owner
    if (
        nudge.status == "sent" and nudge.sent_at is not None
    ):  # redrawn (a click, a call logged): only its buttons change
        mentioned = owner_when_sent(store, customer, nudge.sent_at) or owner
    # Posted in the owner's DM when the channel refuses it: a DM does not @-mention its own reader.
    return replace(message(f"<@{mentioned}> "), in_dm=lambda: message(""))


def owner_when_sent(store: Store, customer: Customer, sent_at: datetime) -> str | None:
    """Whom a nudge posted at `sent_at` named, when the customer changed hands since (None: it has not): its redraw
    keeps asking them, not the new owner it never notified."""
    assert customer.id is not None
    for event in store.customer_events_of_kind(team_id=customer.team_id, customer_id=customer.id, kind="edited"):
        owners = event.detail.get("owner_id")
        if event.at > sent_at and isinstance(owners, list) and owners and owners[0]:
            return str(owners[0])
    return None


def render_overdue(nudge: Nudge, store: Store, now: datetime) -> Message | Skip:
    customer = store.customer(team_id=nudge.team_id, customer_id=nudge.customer_id or 0)
    if customer is None:
        return Skip("customer gone", "cancelled")
    tz = str(nudge.payload.get("tz") or customer.tz or "UTC")
    start = date.fromisoformat(nudge.payload["lapse_start"])
    contact = last_contact(store, nudge)
    if nudge.status != "sent":
        if not planner.is_live(customer) or (customer.snoozed_until is not None and customer.snoozed_until > now):
            return Skip("customer paused or snoozed", "cancelled")
        cal = planner.calendar_of(customer, default_tz=tz)
        if planner.effective_cadence(customer, cal, now).is_off:
            return Skip("the customer's cadence is off", "cancelled")
        if contact is not None and _local_date(contact.created_at, tz) > start:
            return Skip("a call was logged since")
    elif contact is not None and _local_date(contact.created_at, tz) > start:
        # Redrawn once the call that ends its lapse was logged: the alert reads as sent, that call shown under it.
        contact = _contact_by(store, nudge, start, tz)
    reason = str(nudge.payload.get("reason") or "no call within its window")
    if contact is not None:
        # The call itself, not the lapse's start: a lapse a resume restarted began after it.
        called = min(start, _local_date(contact.created_at, tz))
        label = f"{called:%a} {called.day} {called:%b}"
        if reason.startswith(LAST_CALL):  # "Last call 11 days ago (…)": its date told there, not in a second sentence
            reason, last = f"{LAST_CALL}on {label}, {reason[len(LAST_CALL) :]}", ""
        else:
            last = f" Last call: {label}."
    else:  # a lapse counted from the day the customer was added already says so
        last = "" if "no call logged yet" in reason.lower() else " No call logged yet."
    text = f":warning: *{mrkdwn_name(customer.name)}* is overdue: {reason}.{last}"
    channel, owner = destination(customer, now)
    gone = nudge.payload.get(OWNER_GONE)
    if gone and gone == owner:  # nobody reads a deactivated owner's DMs: the team sees it instead
        channel = channel or team_channel(store, nudge.team_id)
        if channel is None:
            return Skip(f"its owner {gone} is deactivated in Slack, and there is no channel to tell", "cancelled")
        owner = None
        text += f" {owner_gone_text(gone, customer.name)}"
    assert nudge.id is not None
    return Message(
        text=f"{mrkdwn_name(customer.name)} is overdue: {reason}",
        blocks=nudge_blocks(nudge_id=nudge.id, text=text, outcome=nudge.payload.get("outcome"), skip=False),
        channel=None if owner else channel,
        user=owner,
        customer_id=customer.id,
        digest=f"*{mrkdwn_name(customer.name)}* is overdue: {reason}",
    )


register(CADENCE, render_cadence, label="the reminder to call")
# A lapse that still stands is worth telling, however late.
register(OVERDUE, render_overdue, grace=False, label="the overdue alert")


# --------------------------------------------------------------------------- calls logged after the nudge


# A call logged after someone skipped or snoozed it from its nudge was made after all: the nudge says so, where it
# kept saying "Skipped for today" (or "Snoozed") under a call the channel had just seen logged.
OUTRANKED_BY_A_CALL = ("skipped", "snoozed")


def _call_outranks(nudge: Nudge, logged_at: datetime, tz: str) -> bool:
    """Whether a call logged at `logged_at` replaces the nudge's answer: none yet, or a skip or snooze made before it
    (a skip only by a call on the day it skipped: the next day's call does not undo yesterday's skip)."""
    outcome = nudge.payload.get("outcome")
    if not outcome:
        return True
    at = datetime.fromisoformat(outcome["at"]) if outcome.get("at") else None
    if at is None or logged_at < at:
        return False
    if outcome.get("what") == "skipped":
        return _local_date(logged_at, tz).isoformat() == (outcome.get("day") or nudge.due_key)
    return True


def mark_logged_calls(
    *,
    store: Store,
    client: WebClient | SlackClients,
    now: datetime,
    settings: Settings | None = None,
    team_id: str | None = None,
    customer_ids: list[int] | None = None,
    logged_for: datetime | None = None,
) -> int:
    """Updates sent nudges in place when the call they asked for has been logged since; returns how many.

    The tick looks at every workspace; a check-in's follow-up at its own customer (`team_id`, `customer_ids`), so
    the nudge shows the call as soon as it is logged rather than at the next tick. `logged_for`: the instant a call
    counts at, when older than the window (logged on Monday from last Friday's nudge, for Friday): that day's
    nudge shows it too."""
    policy = policy_of(settings)
    updated = 0
    teams = [team_id] if team_id is not None else store.active_team_ids()
    due_after = now - REFRESH_WINDOW
    if logged_for is not None:
        due_after = min(due_after, logged_for - timedelta(days=1))
    for team_id in teams:
        open_rows = [
            n
            for n in store.nudges(
                team_id=team_id,
                kinds=[CADENCE, OVERDUE],
                due_after=due_after,
                statuses=["sent"],
                customer_ids=customer_ids,
            )
            if n.message_ts
            and n.channel_id
            and n.customer_id is not None
            and (n.payload.get("outcome") or {}).get("what") in (None, *OUTRANKED_BY_A_CALL)
        ]
        if not open_rows:
            continue
        contacts = store.last_contacts(
            team_id=team_id,
            customer_ids=sorted({n.customer_id for n in open_rows if n.customer_id is not None}),
            kinds=policy.contact_kinds,
        )
        for nudge in open_rows:
            contact = contacts.get(nudge.customer_id or 0)
            if contact is None:
                continue
            tz = str(nudge.payload.get("tz") or "UTC")
            if nudge.kind == CADENCE:
                satisfied = _local_date(contact.created_at, tz) >= date.fromisoformat(
                    nudge.payload.get("period_start") or nudge.due_key
                )
            else:
                satisfied = _local_date(contact.created_at, tz) > date.fromisoformat(nudge.payload["lapse_start"])
            if not satisfied or contact.created_at < (nudge.sent_at or nudge.due_at) - timedelta(days=1):
                continue
            if not _call_outranks(nudge, contact.created_at, tz):
                continue
            outcome = {"what": "logged", "by": contact.author_id, "at": contact.created_at.isoformat()}
            assert nudge.id is not None and nudge.channel_id and nudge.message_ts
            if store.set_nudge_outcome(
                team_id=team_id, nudge_id=nudge.id, outcome=outcome, replaces=OUTRANKED_BY_A_CALL
            ):
                refresh_message(
                    store=store,
                    client=client,
                    team_id=team_id,
                    channel_id=nudge.channel_id,
                    ts=nudge.message_ts,
                    now=now,
                )
                updated += 1
    return updated


def send_nudges(
    *, store: Store, client: WebClient | SlackClients, now: datetime, settings: Settings | None = None
) -> int:
    """Sends every due nudge of every kind (the generic sender); runs after all the planning jobs."""
    return send_due_nudges(store=store, client=client, now=now, grace=policy_of(settings).grace, options=SENDER_OPTIONS)


def _posted(store: Store, team_id: str, customer_id: int, kinds: list[str], now: datetime) -> list[Nudge]:
    """The customer's recent messages of these kinds already in Slack, whose buttons a change may redraw."""
    recent = store.nudges(
        team_id=team_id, kinds=kinds, due_after=now - REFRESH_WINDOW, statuses=["sent"], customer_ids=[customer_id]
    )
    return [n for n in recent if n.message_ts and n.channel_id and n.due_at <= now]


def mark_snoozed_call(
    *,
    store: Store,
    client: WebClient | SlackClients,
    team_id: str,
    customer_id: int,
    by: str,
    now: datetime,
    settings: Settings | None = None,
    set_after: datetime | None = None,
) -> int:
    """A snooze set without clicking the nudge (the command, the form from Home or the card): the posted nudge of the
    call it puts off says so in place of its buttons, as a click on its Snooze would, so the channel does not keep
    asking for a call nobody is about to make. `set_after`: only a snooze set since then. Returns how many messages
    were updated."""
    customer = store.customer(team_id=team_id, customer_id=customer_id)
    until = customer.snoozed_until if customer is not None else None
    if customer is not None and until is None:
        return _snooze_lifted(store=store, client=client, customer=customer, now=now, settings=settings)
    if customer is None or until is None or until <= now:
        return 0
    policy = policy_of(settings)
    # A nudge showing an earlier snooze shows this one instead (a misclicked "1 day" put right with the date meant).
    open_rows = [
        n
        for n in _posted(store, team_id, customer_id, [CADENCE], now)
        if not n.payload.get("outcome")
        or (n.payload["outcome"].get("what") == "snoozed" and n.payload["outcome"].get("until") != until.isoformat())
    ]
    if not open_rows:
        return 0
    cal = planner.calendar_of(customer, default_tz=policy.default_tz)
    contact = store.last_contacts(team_id=team_id, customer_ids=[customer_id], kinds=policy.contact_kinds)
    snooze = store.snoozes(team_id=team_id, customers=[customer], after=now).get(customer_id)
    if snooze is None or (set_after is not None and snooze.since < set_after):
        return 0
    call = contact.get(customer_id)
    reminder = planner.snooze_reminder(customer, cal, snooze, call.created_at if call else None)
    if reminder is None:
        return 0  # nothing put off (a call was logged for it): the nudge keeps what it shows
    outcome: dict[str, str] = {"what": "snoozed", "by": by, "at": now.isoformat(), "until": until.isoformat()}
    if customer.snooze_reason:
        outcome["reason"] = customer.snooze_reason
    updated = 0
    for nudge in open_rows:
        if nudge.due_key != reminder.snoozed_on.isoformat():
            continue
        assert nudge.id is not None and nudge.channel_id and nudge.message_ts
        if store.set_nudge_outcome(team_id=team_id, nudge_id=nudge.id, outcome=outcome, replaces=("snoozed",)):
            refresh_message(
                store=store, client=client, team_id=team_id, channel_id=nudge.channel_id, ts=nudge.message_ts, now=now
            )
            updated += 1
    return updated


def _snooze_lifted(
    *, store: Store, client: WebClient | SlackClients, customer: Customer, now: datetime, settings: Settings | None
) -> int:
    """A snooze lifted (`snooze … off`, a resume), often a moment after a misclick on the nudge's Snooze: today's nudge
    that shows the snooze gets its buttons back while its call is still to make, as a resume gives back a paused one
    — it no longer says "Snoozed until tomorrow" of a snooze that is gone. An earlier day's stays as it was, and
    nothing comes back (README: `off` lifts it)."""
    return _buttons_back(store=store, client=client, customer=customer, what="snoozed", now=now, settings=settings)


def _buttons_back(
    *,
    store: Store,
    client: WebClient | SlackClients,
    customer: Customer,
    what: str,
    now: datetime,
    settings: Settings | None,
) -> int:
    """A pause or a snooze taken back (`what`: the outcome it put on the nudge, "paused" or "snoozed"): today's posted
    nudge showing it gets its buttons back while its call is still to make (no call logged since, the day still a call
    day, or a snoozed call coming back); an earlier day's stays as it was. Nothing while the customer is archived or
    paused, or snoozed again since (that snooze says what happens to the call). Returns how many were redrawn."""
    if customer.id is None or customer.archived_at is not None or customer.paused_at is not None:
        return 0
    if customer.snoozed_until is not None and customer.snoozed_until > now:
        return 0
    tz = policy_of(settings).default_tz
    today = planner.calendar_of(customer, default_tz=tz).local_date(now).isoformat()
    rows = [
        n
        for n in _posted(store, customer.team_id, customer.id, [CADENCE], now)
        if n.due_key == today and (n.payload.get("outcome") or {}).get("what") == what
    ]
    if not rows:
        return 0
    call = last_contact(store, rows[0])
    updated = 0
    for nudge in rows:
        assert nudge.id is not None and nudge.channel_id and nudge.message_ts
        if not _still_due(nudge, customer, call, default_tz=tz):
            continue
        if store.set_nudge_outcome(team_id=customer.team_id, nudge_id=nudge.id, outcome=None, replaces=(what,)):
            refresh_message(
                store=store,
                client=client,
                team_id=customer.team_id,
                channel_id=nudge.channel_id,
                ts=nudge.message_ts,
                now=now,
            )
            updated += 1
    return updated


def mark_paused_calls(
    *,
    store: Store,
    client: WebClient | SlackClients,
    team_id: str,
    customer_id: int,
    by: str,
    now: datetime,
    settings: Settings | None = None,
    paused_at: datetime | None = None,
) -> int:
    """A pause or a resume (the command), after its ack; or a click on a nudge the pause's redraw missed (`paused_at`:
    when the pause was, said in place of the buttons). Paused: every posted nudge and overdue alert of the customer
    still showing its buttons says the cadence is paused in place of them, so nobody logs, snoozes or skips a call
    the customer no longer owes. Resumed: today's nudge paused that way gets its buttons back when its call is still
    due today (no call logged since, the day still a call day); an earlier day's stays paused, as it was. Returns how
    many messages were updated; a command delivered twice (Slack's retry) updates each once (the first answer wins).
    """
    customer = store.customer(team_id=team_id, customer_id=customer_id)
    if customer is None or customer.archived_at is not None:
        return 0
    if customer.paused_at is None:
        return _buttons_back(store=store, client=client, customer=customer, what="paused", now=now, settings=settings)
    outcome = {"what": "paused", "by": by, "at": (paused_at or now).isoformat()}
    rows = [n for n in _posted(store, team_id, customer_id, [CADENCE, OVERDUE], now) if not n.payload.get("outcome")]
    updated = 0
    for nudge in rows:
        assert nudge.id is not None and nudge.channel_id and nudge.message_ts
        # Pausing answers only a nudge nobody answered (a retry's second pause finds it answered: no second redraw).
        if store.set_nudge_outcome(team_id=team_id, nudge_id=nudge.id, outcome=outcome, replaces=()):
            refresh_message(
                store=store, client=client, team_id=team_id, channel_id=nudge.channel_id, ts=nudge.message_ts, now=now
            )
            updated += 1
    return updated


def _still_due(nudge: Nudge, customer: Customer, call: CheckIn | None, *, default_tz: str) -> bool:
    """Whether the call a posted nudge asked for is still owed: none logged since its period began, and its day
    still a call day (a snoozed call coming back is due that day whatever the cadence says)."""
    tz = str(nudge.payload.get("tz") or customer.tz or default_tz)
    period_start = date.fromisoformat(nudge.payload.get("period_start") or nudge.due_key)
    if call is not None and _local_date(call.created_at, tz) >= period_start:
        return False
    day = date.fromisoformat(nudge.due_key)
    return bool(nudge.payload.get("snoozed_on")) or planner.is_slot_date(customer, day, default_tz=tz)
