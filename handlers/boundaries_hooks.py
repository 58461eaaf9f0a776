"""Boundary operations shared by the command, the buttons and the check-in path.

Each operation reads the boundary, applies the rule from :mod:`domain.boundaries` and stores the result;
refusals become a :class:`UserError` written for the person who clicked or typed. Whatever a slip
sets off (an escalation to the owner) goes through the nudge outbox, never straight to Slack.

:func:`after_checkin` is the detection hook the check-in path calls once a check-in is stored.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import NamedTuple

from slack_sdk import WebClient

from bot.answering import answering_now
from bot.settings import Settings
from domain import boundaries as rules
from domain.errors import UserError
from handlers.blocks import command_name, mrkdwn_name
from handlers.blocks.boundaries import day_label, describe_reminders, quoted
from handlers.permissions import require_change

# A module reference, not names: schedules.boundaries imports the Block Kit builders, so the two import each other.
from schedules import boundaries as planning
from schedules.health import refresh_health
from storage.boundaries import PAUSED_SUFFIX, BoundaryConflict, BoundaryRecord
from storage.models import CheckIn, Customer
from storage.store import Store

logger = logging.getLogger(__name__)

Change = Callable[[rules.Boundary, list[rules.Boundary]], rules.Boundary]
# Asks for a customer's score to be recomputed after the answer (its follow-up), as of the change.
RescoreLater = Callable[[int], None]

# A line in the customer's history for each retirement, whoever retired it and from where.
RETIRED_EVENT = "boundary_retired"
# A slip that took a need that held back to active, with when it had held: Slack's retry of that slip is answered
# from it as the first delivery was ("it is being introduced again"), the need being active by then.
REOPENED_EVENT = "boundary_reopened"


class LoggedSlip(NamedTuple):
    """What logging a slip did: the boundary after it, whether this call logged it (not a retry's twin), whether it
    was logged while the customer was paused (kept, counts for nothing), and since when the need had held when this
    slip took it back to active (else None) — the same for the retry of that slip."""

    record: BoundaryRecord
    created: bool
    paused: bool
    held_since: datetime | None


def require_boundary(store: Store, *, team_id: str, boundary_id: int) -> tuple[Customer, BoundaryRecord]:
    record = store.boundary_record(team_id=team_id, boundary_id=boundary_id)
    customer = store.customer(team_id=team_id, customer_id=record.row.customer_id) if record else None
    if record is None or customer is None:
        raise UserError("That working agreement no longer exists.")
    if customer.archived_at is not None:  # a button drawn before the archive: the agreement is kept, not gone
        raise UserError(
            f"*{mrkdwn_name(customer.name)}* is archived, so its working agreements are on hold. "
            f"Bring it back with `/partner restore {command_name(customer.name)}`."
        )
    return customer, record


def require_boundary_change(client: WebClient, settings: Settings, *, user_id: str, customer: Customer) -> None:
    """Owners and admins change boundaries (as they change the customer); anyone may log a slip."""
    require_change(client, settings, user_id=user_id, customer=customer, action="change the working agreements of")


def _policy(settings: Settings | None) -> rules.Policy:
    return settings.boundary_policy if settings is not None else rules.DEFAULT_POLICY


def rescore(
    store: Store,
    *,
    team_id: str,
    customer_id: int,
    now: datetime,
    settings: Settings | None,
    later: RescoreLater | None,
) -> None:
    """A change that moves the score (boundaries in force count in it) rescores the customer: by `later`, after the
    answer, when this thread is answering Slack (scoring took 3–7 s under load, past Slack's 3 s); at once in a
    follow-up or a job (a check-in's follow-up), or when the caller has no follow-up to hand it to."""
    if later is not None and answering_now():
        later(customer_id)
    else:
        refresh_health(store, team_id=team_id, customer_id=customer_id, now=now, settings=settings)


def _transition(
    store: Store,
    *,
    team_id: str,
    record: BoundaryRecord,
    target: str,
    change: Change,
    settings: Settings | None,
    now: datetime,
    rescore_later: RescoreLater | None,
) -> tuple[BoundaryRecord, bool]:
    """(boundary after, whether this call changed it). Already in ``target``: nothing to do (a double click).

    A change rescores the customer (see `rescore`).
    """
    for _attempt in range(2):
        if record.rule.status == target:
            return record, False
        try:
            _before, after = store.change_boundary(team_id=team_id, boundary_id=record.id, change=change)
        except ValueError as e:
            # Refused as already there: a twin click (two people, or Slack's retry) changed it a moment before.
            fresh = store.boundary_record(team_id=team_id, boundary_id=record.id)
            if fresh is not None and fresh.rule.status == target:
                return fresh, False
            raise UserError(str(e)) from None
        except BoundaryConflict:
            fresh = store.boundary_record(team_id=team_id, boundary_id=record.id)
            if fresh is None:
                raise UserError("That working agreement no longer exists.") from None
            record = fresh
            continue
        customer_id = after.row.customer_id
        rescore(store, team_id=team_id, customer_id=customer_id, now=now, settings=settings, later=rescore_later)
        return after, True
    raise UserError("That working agreement changed just now; have another look with `list`.")


def activate_boundary(
    store: Store,
    *,
    team_id: str,
    record: BoundaryRecord,
    settings: Settings | None,
    now: datetime,
    rescore_later: RescoreLater | None = None,
) -> tuple[BoundaryRecord, bool]:
    policy = _policy(settings)

    def change(b: rules.Boundary, siblings: list[rules.Boundary]) -> rules.Boundary:
        if b.status == "proposed":
            verdict = rules.can_activate(siblings, policy, now=now)
            if not verdict.ok:
                raise ValueError(verdict.reason)
        return rules.activate(b, now)

    return _transition(
        store,
        team_id=team_id,
        record=record,
        target="active",
        change=change,
        settings=settings,
        now=now,
        rescore_later=rescore_later,
    )


def hold_boundary(
    store: Store,
    *,
    team_id: str,
    record: BoundaryRecord,
    settings: Settings | None,
    now: datetime,
    rescore_later: RescoreLater | None = None,
) -> tuple[BoundaryRecord, bool]:
    def change(b: rules.Boundary, _siblings: list[rules.Boundary]) -> rules.Boundary:
        return rules.mark_held(b, now)

    return _transition(
        store,
        team_id=team_id,
        record=record,
        target="held",
        change=change,
        settings=settings,
        now=now,
        rescore_later=rescore_later,
    )


def retire_boundary(
    store: Store,
    *,
    team_id: str,
    record: BoundaryRecord,
    settings: Settings | None,
    now: datetime,
    actor_id: str | None = None,
    rescore_later: RescoreLater | None = None,
) -> tuple[BoundaryRecord, bool]:
    """Retire it and note that in the customer's history. One retired while being introduced makes room for the next
    proposed need: the review job suggests it to the owner, as when a need holds (planning.plan_suggestion)."""

    def change(b: rules.Boundary, _siblings: list[rules.Boundary]) -> rules.Boundary:
        return rules.retire(b, now)

    after, changed = _transition(
        store,
        team_id=team_id,
        record=record,
        target="retired",
        change=change,
        settings=settings,
        now=now,
        rescore_later=rescore_later,
    )
    if changed:
        was = record.rule.status  # as this caller read it
        store.record_boundary_event(
            team_id=team_id,
            customer_id=after.row.customer_id,
            actor_id=actor_id,
            kind=RETIRED_EVENT,
            detail={
                "boundary_id": after.id,
                "text": after.rule.text,
                "was": was,
                "held": after.rule.held_at is not None,
            },
            now=now,
        )
        logger.info("boundary %s of customer %s retired (it was %s)", after.id, after.row.customer_id, was)
    return after, changed


def next_up(store: Store, *, customer: Customer, settings: Settings | None, now: datetime) -> str:
    """ " Next up: “…” — `/partner boundary … activate n`." when a proposed need may be introduced now, else ""."""
    assert customer.id is not None
    records = store.boundary_records(team_id=customer.team_id, customer_id=customer.id)
    upcoming = rules.next_to_suggest([r.rule for r in records], now, _policy(settings))
    if upcoming is None:
        return ""
    following = next(r for r in records if r.id == upcoming.id)
    return (
        f" Next up: {_quote(following.rule.text)} — `/partner boundary {command_name(customer.name)} "
        f"activate {following.number}`."
    )


def log_slip(
    store: Store,
    *,
    customer: Customer,
    record: BoundaryRecord,
    by: str | None,
    note: str,
    source: rules.SlipSource,
    idempotency_key: str,
    settings: Settings | None,
    now: datetime,
    rescore_later: RescoreLater | None = None,
    happened_at: datetime | None = None,
) -> LoggedSlip:
    """Log a slip once per key, rescore the customer (see `rescore`), and ask the owner to decide if the slips make
    a run (through the outbox).

    ``happened_at`` dates the slip when it happened before it was logged (a call confirmed days later): the history
    and the escalation's window count it on that day, not on the click's."""
    policy = _policy(settings)
    at = happened_at if happened_at is not None else now
    reopens = True
    if happened_at is not None and record.rule.status == "held":
        # Confirmed after the need held: it reopens only if, with this slip where it happened, it would not hold now.
        with_it = dataclasses.replace(
            record.rule, status="active", held_at=None, slips=(*record.rule.slips, rules.Slip(at=at))
        )
        reopens = not rules.has_held(with_it, now, policy)
    try:
        after, created = store.record_boundary_slip(
            team_id=customer.team_id,
            boundary_id=record.id,
            reopens=reopens,
            at=at,
            by=by,
            note=note,
            source=source,
            idempotency_key=idempotency_key,
        )
    except ValueError as e:
        raise UserError(str(e)) from None
    if planning.plan_escalation(store, customer=customer, record=after, policy=policy, now=now):
        # The plan moved escalated_at to now: the record says so, as a fresh read would (see slip_summary).
        after = dataclasses.replace(after, rule=dataclasses.replace(after.rule, escalated_at=now))
    assert customer.id is not None
    slip = next((s for s in after.slips if s.idempotency_key == idempotency_key), None)
    paused = slip is not None and slip.source.endswith(PAUSED_SUFFIX)
    # This call found it held and it is active now: this slip reopened it, or its twin did a moment ago.
    reopened_now = record.rule.status == "held" and after.rule.status == "active"
    held_since = record.rule.held_at if reopened_now else None
    if created:
        rescore(
            store, team_id=customer.team_id, customer_id=customer.id, now=now, settings=settings, later=rescore_later
        )
        if held_since is not None:
            store.record_boundary_event(
                team_id=customer.team_id,
                customer_id=customer.id,
                actor_id=by,
                kind=REOPENED_EVENT,
                detail={"boundary_id": after.id, "slip": idempotency_key, "held_at": held_since.isoformat()},
                now=now,
            )
    elif held_since is None:  # the same slip delivered again, after the first reopened it: as the first found it
        events = store.boundary_events(team_id=customer.team_id, customer_id=customer.id, kinds=[REOPENED_EVENT])
        first = next((e for e in events if e.detail.get("slip") == idempotency_key), None)
        if first is not None and isinstance(first.detail.get("held_at"), str):
            held_since = datetime.fromisoformat(first.detail["held_at"])
    return LoggedSlip(after, created, paused, held_since)


def slip_outcome(logged: LoggedSlip, customer: Customer, settings: Settings | None, now: datetime) -> str:
    """What follows "Logged a slip on “…” with *Acme*" in every answer: " (2 slips in the last 30 days)." and
    whether it reopened a need that held; or, logged while the customer is paused, that it is kept but counts for
    nothing."""
    if logged.paused:
        return (
            f" (kept in its history: *{mrkdwn_name(customer.name)}* is paused, so it counts toward "
            "neither an escalation nor "
            "the agreement holding)."
        )
    summary = slip_summary(logged.record, _policy(settings), now)
    return f" ({summary}).{reopened(logged.held_since, logged.record, customer, settings)}"


def reopened(held_at: datetime | None, after: BoundaryRecord, customer: Customer, settings: Settings | None) -> str:
    """ " It had held since …; it is being introduced again…" when this slip took a need that held (since
    ``held_at``) back to active (domain.record_slip): its reminders start again and it must hold anew, which the
    person logging it should know."""
    if held_at is None or after.rule.status != "active":
        return ""
    cal = planning.customer_calendar(customer, settings.default_tz if settings is not None else "UTC")
    day = cal.local_date(held_at)
    text = f" It had held since {day:%a} {day.day} {day:%b}; it is being introduced again"
    if customer.channel_id and after.row.reminders != "off":
        text += f", so I'll restate it in <#{customer.channel_id}> again"
    return text + "."


def slip_summary(record: BoundaryRecord, policy: rules.Policy, now: datetime) -> str:
    rule = record.rule
    recent = rules.slips_in_window(rule, now, policy.escalate_window)
    text = f"{recent} slip{'' if recent == 1 else 's'} in the last {policy.escalate_window.days} days"
    # The owner is asked once per run of slips (escalated_at moves to the slip that made the run); a slip after
    # that run, or after the owner decided what to do about it, starts a new run and asks nobody yet.
    asked = rule.escalated_at is not None and all(s.at <= rule.escalated_at for s in rule.slips)
    if recent >= policy.escalate_slips and asked:
        text += " — I've asked the owner to decide what to do about it"
    return text


# --------------------------------------------------------------------------- detection after a check-in


def after_checkin(
    store: Store,
    client: WebClient,
    checkin: CheckIn,
    customer: Customer,
    now: datetime,
    *,
    settings: Settings | None = None,
    records: Sequence[BoundaryRecord] | None = None,
    counted_for: date | None = None,
) -> list[str]:
    """Compare a new check-in with the customer's agreements in force. Returns notes for the author.

    - A call outside an active contact window: the author is asked (by DM, through the outbox, once per
      check-in) whether it really was outside the agreed window; "Yes" logs a slip (source ``detected``).
      ``counted_for``: the earlier day a call logged from that day's nudge counts for (handlers.views.checkin). It
      is stored at that day's last second, which says nothing of when it was: the author is asked without a time.
    - ``checkin.response_days`` (the customer's reply took N calendar days, up to the check-in): compared
      with each response-time agreement in the customer's business time — weekends and holidays don't
      count — and a slip is logged when it took longer. One slip per check-in and boundary, however often
      this is called.

    Call it after the check-in is stored; calling it again for the same check-in does nothing new.
    ``client`` is unused today (everything goes through the outbox) and kept for a stable signature.
    """
    del client
    if checkin.id is None or customer.id is None:
        return []
    cal = planning.customer_calendar(customer, settings.default_tz if settings is not None else "UTC")
    notes: list[str] = []
    if records is None:  # else the caller just read them (the first check-in of a burst)
        records = store.boundary_records(team_id=customer.team_id, customer_id=customer.id)
    for record in records:
        rule = record.rule
        if not rule.in_force:
            continue
        window = rule.contact_window
        back_dated = counted_for is not None and checkin.kind == "call"
        outside = window is not None and (back_dated or rules.call_outside_window(window, checkin.created_at, cal))
        if checkin.kind == "call" and outside and window is not None:
            asked = planning.plan_call_question(
                store, customer=customer, record=record, checkin=checkin, now=now, counted_for=counted_for
            )
            agreed_window = rules.say_contact_window(window)
            if asked and counted_for is not None:
                notes.append(
                    f"I'll ask you whether that call on {day_label(counted_for)} was inside the agreed {agreed_window} "
                    "window: it was logged once its day was over, so its time isn't known."
                )
            elif asked:
                notes.append(f"That call looks outside the agreed {agreed_window} window; I'll ask you to confirm.")
        agreed = rule.response_time
        if agreed is not None and checkin.response_days is not None and checkin.response_days >= 0:
            answered_at = checkin.created_at
            asked_at = answered_at - timedelta(days=checkin.response_days)
            slipped, elapsed = rules.response_slipped(agreed, asked_at, answered_at, cal)
            if not slipped:
                continue
            note = (
                f"The customer's reply took {reply_took(checkin.response_days)} "
                f"({agreed.describe(elapsed)}); agreed: within {agreed.describe()}."
            )
            logged = log_slip(
                store,
                customer=customer,
                record=record,
                by=checkin.author_id,
                note=note,
                source="detected",
                idempotency_key=f"checkin:{checkin.id}:{record.id}",
                settings=settings,
                now=now,
            )
            if logged.created:
                notes.append(
                    f"Logged a slip on {_quote(rule.text)}: {note}{slip_outcome(logged, customer, settings, now)}"
                )
    return notes


def _quote(text: str) -> str:
    return f"“{text}”"


def reply_took(days: float) -> str:
    """How long a reply took, as people say it: "3 days", "1.5 days", "5 hours". A reply typed in business days
    is stored as elapsed days, which a daylight-saving change makes a fraction (3.04167): shown to a tenth."""
    if days < 1:
        hours = round(days * 24, 1)
        return f"{hours:g} hour{'' if hours == 1 else 's'}"
    rounded = round(days, 1)
    return f"{rounded:g} day{'' if rounded == 1 else 's'}"


def activation_text(
    customer: Customer, record: BoundaryRecord, settings: Settings, now: datetime, *, changed: bool = True
) -> str:
    """The answer to activating a need, by command or by any Activate button (and to a retry, or a second click, of
    either: ``changed`` False): what to do now and when it will next be restated."""
    name = mrkdwn_name(customer.name)
    if changed:
        text = f":white_check_mark: {quoted(record.rule.text)} is now active with *{name}*. "
        text += "State it in your next meeting or agreement. "
    else:
        text = f"{quoted(record.rule.text)} is already active with *{name}*. "
    return text + reminder_plan(customer, record, settings, now)


def reminder_plan(customer: Customer, record: BoundaryRecord, settings: Settings, now: datetime) -> str:
    """Where and when the need will next be restated, as of ``now`` (or why it won't be)."""
    if record.row.reminders == "off":
        return "Reminders are off for it."
    if not customer.channel_id:
        return "Give the customer a channel so I can restate it there gently."
    name = command_name(customer.name)
    if customer.paused_at is not None:  # nothing is restated until it is resumed: no date to promise
        return (
            f"*{mrkdwn_name(customer.name)}* is paused, so I'll restate it in <#{customer.channel_id}> once it is "
            f"resumed (`/partner resume {name}`; {describe_reminders(record.row.reminders)})."
        )
    cal = planning.customer_calendar(customer, settings.default_tz)
    policy = settings.boundary_policy
    upcoming = planning.next_reminder_sent(customer, record.row.reminders, cal, after=now, policy=policy)
    when = (
        f", next on {day_label(upcoming[1], cal)} at {cal.local_datetime(upcoming[1]):%H:%M} their time"
        if upcoming
        else ""
    )
    if upcoming and customer.snoozed_until is not None and customer.snoozed_until > now:
        when += f", after the snooze until {day_label(customer.snoozed_until, cal)}"
    return f"I'll restate it gently in <#{customer.channel_id}> ({describe_reminders(record.row.reminders)}{when})."
