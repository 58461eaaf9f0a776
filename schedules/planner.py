"""What nudges are due at ``now``: pure decisions from customers, their last contacts and the nudge log.

No Slack, no database, no clock: the cadence job loads the inputs, calls these, and hands the resulting
:class:`~storage.nudges.NudgePlan` rows to the outbox (insert if absent). The rules themselves — slots,
business days, DST, standing — live in :mod:`domain.cadence` and :mod:`domain.calendar`.

Cadence nudges
    Each tick covers the window ``(since, now]`` after the previous tick (a per-workspace watermark), so
    every slot of every customer is considered exactly once; the unique key (customer, local date) makes
    a repeated or overlapping window harmless. A slot becomes one row:
    ``pending`` (send it), ``skipped`` (a qualifying check-in already satisfies it, or the customer is
    snoozed), or ``missed`` (due longer ago than the grace period, e.g. after downtime).

Overdue alerts
    A *lapse* starts when the clock last restarted (the last qualifying check-in, else the day the
    customer was added). It is detected by whichever comes first: a daily call (daily cadence or launch
    mode, up to its date) nudged for a local date after the lapse started (or on the day the customer was added,
    when no call was ever logged), not skipped or snoozed, with the day over; or
    the maximum window passing (:func:`domain.cadence.standing` is red). The owner is told by the next
    business morning (09:00 customer time), once per lapse: ``due_key`` is ``lapse:<start date>``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from domain.cadence import (
    Cadence,
    Slot,
    Standing,
    Thresholds,
    due_slots,
    is_satisfied,
    launch_cadence,
    moved_here,
    parse_cadence,
    snooze_return,
    standing,
)
from domain.calendar import WORKDAY_END, WORKDAY_START, WorkCalendar
from storage.cadence import CustomerSchedule, Snooze
from storage.home import HomeCandidate
from storage.models import CheckIn, Customer, Nudge
from storage.nudges import NudgePlan

logger = logging.getLogger("partner.planner")

CADENCE = "cadence"
OVERDUE = "overdue"
# What restarted a lapse that began with a resume, not a call: its alert must not read "Last call 12 days ago".
RESUMED = "No call since it was resumed"
# What restarted the overdue clock when no call was owed before (storage.cadence.restarts_clock), as a reason says it.
RESTARTED = {
    "resumed": RESUMED,
    "cadence_set": "No call since its cadence was set",
    "restored": "No call since it was restored",
    "launch": "No call since launch mode began",
}
ALERT_AT = WORKDAY_START  # "by the next business morning", customer time
# The outbox rows the previews read to know which of today's nudges are out already: today began less than this
# long ago in every time zone.
TODAYS_NUDGES = timedelta(days=2)
# Statuses of a cadence nudge that mean "the call was asked for that day" (for the missed-call rule).
ASKED = ("pending", "claimed", "sending", "sent", "failed", "missed")
# Person-made outcomes that excuse a day: nobody missed a call they deliberately skipped or snoozed.
EXCUSED = ("skipped", "snoozed")

# A customer as the planner reads it: the ORM row, the plain row the cadence job loads (storage/cadence.py), or the
# one Home ranks (storage/home.py).
Scheduled = Customer | CustomerSchedule | HomeCandidate


def subject_of(customer: Scheduled) -> str:
    return f"customer:{customer.id}"


def calendar_of(customer: Scheduled, *, default_tz: str = "UTC") -> WorkCalendar:
    """The customer's calendar; a stored value that no longer validates falls back rather than stopping the tick."""
    try:
        return WorkCalendar.create(
            customer.tz or default_tz, customer.country, customer.working_week, subdiv=customer.subdiv
        )
    except ValueError:
        logger.warning("customer %s has an invalid calendar; using %s and Mon–Fri", customer.id, default_tz)
        return WorkCalendar.create(default_tz)


@functools.lru_cache(maxsize=4096)
def _parsed_cadence(text: str) -> Cadence:
    """Cadences are few and immutable; a fan-out renders thousands of nudges sharing one ("daily 09:00")."""
    return parse_cadence(text)


def cadence_of(customer: Scheduled) -> Cadence:
    """The customer's normal cadence; none (or unreadable) is off."""
    if not customer.cadence:
        return Cadence("off")
    try:
        return _parsed_cadence(customer.cadence)
    except ValueError:
        logger.warning("customer %s has an unreadable cadence %r; treating it as off", customer.id, customer.cadence)
        return Cadence("off")


def effective_cadence(customer: Scheduled, cal: WorkCalendar, now: datetime) -> Cadence:
    """What applies today: daily calls in launch mode, the normal cadence otherwise."""
    return launch_cadence(cadence_of(customer), launch_until=customer.launch_until, today=cal.local_date(now))


def slots(customer: Scheduled, cal: WorkCalendar, *, since: datetime, now: datetime) -> list[Slot]:
    """Slots due in (since, now]: launch mode's daily slots up to ``launch_until``, the normal cadence after.

    Each slot is assigned by its own local date, never by the window, so consecutive windows still see
    every slot once even when launch mode ends inside a window.
    """
    normal = cadence_of(customer)
    launch_until = customer.launch_until
    if launch_until is None:
        return due_slots(normal, cal, since=since, now=now)
    daily = launch_cadence(normal, launch_until=launch_until, today=launch_until)
    found = [s for s in due_slots(daily, cal, since=since, now=now) if s.local_date <= launch_until]
    found += [s for s in due_slots(normal, cal, since=since, now=now) if s.local_date > launch_until]
    return sorted(found, key=lambda s: s.due_at)


def is_slot_date(customer: Scheduled, day: date, *, default_tz: str = "UTC") -> bool:
    """Whether the customer's schedule as it stands now (launch mode included) has a call on the local date `day`:
    a nudge planned before its cadence was changed (turned off, moved to another day) is no longer wanted."""
    where = (customer.tz, customer.country, customer.working_week, customer.subdiv)
    return _has_slot_on(where, customer.cadence, customer.launch_until, day, default_tz)


@functools.lru_cache(maxsize=4096)
def _has_slot_on(
    where: tuple[str | None, ...], cadence: str | None, launch_until: date | None, day: date, default_tz: str
) -> bool:
    # Asked for every nudge a fan-out renders (thousands sharing a calendar, cadence and day): worked out once each.
    tz, country, working_week, subdiv = where
    customer = CustomerSchedule(
        id=0,
        owner_id=None,
        tz=tz,
        country=country,
        subdiv=subdiv,
        working_week=working_week,
        cadence=cadence,
        launch_until=launch_until,
        created_at=datetime.min,
        archived_at=None,
        paused_at=None,
        snoozed_until=None,
        ideal_days=None,
        max_days=None,
    )
    cal = calendar_of(customer, default_tz=default_tz)
    since, until = cal.at_local(day - timedelta(days=1), time(12)), cal.at_local(day + timedelta(days=1), time(12))
    return any(slot.local_date == day for slot in slots(customer, cal, since=since, now=until))


def is_live(customer: Scheduled) -> bool:
    return customer.archived_at is None and customer.paused_at is None and customer.id is not None


@dataclass(frozen=True)
class Reminder:
    """A snoozed call coming back: ``slot`` is when (its local date is the day's one nudge; its period is the put-off
    call's, so a call logged since that call's period began cancels it), ``snoozed_on`` the put-off call's date."""

    slot: Slot
    snoozed_on: date


def snooze_reminder(
    customer: Scheduled, cal: WorkCalendar, snooze: Snooze | None, last_call_at: datetime | None
) -> Reminder | None:
    """The reminder a snooze owes when it ends, or None: nothing was put off, a call was logged during the snooze,
    or the call put off was skipped.

    The call put off is the one due last before the snooze began, unless a call was logged for it before, else the
    first due inside the snooze; it comes back (at :func:`domain.cadence.snooze_return`), folding in the calls due
    inside the snooze. Lifting the snooze (resume, off)
    clears ``snoozed_until``, pausing or archiving makes the customer not live, a cadence set to off has no calls:
    each cancels it.
    """
    until = customer.snoozed_until
    if snooze is None or until is None or not is_live(customer) or snooze.since >= until:
        return None
    if last_call_at is not None and last_call_at >= snooze.since:
        return None  # a call logged during the snooze: nothing to bring back
    before: list[Slot] = []
    for back in (timedelta(days=40), timedelta(days=400)):  # the last call of a monthly or every-90-days cadence
        before = slots(customer, cal, since=snooze.since - back, now=snooze.since)
        if before:
            break
    during = slots(customer, cal, since=snooze.since, now=until - timedelta(microseconds=1))
    put_off = [s for s in before[-1:] + during if s.due_at > customer.created_at and s.local_date not in snooze.skipped]
    # Snoozed before today's call went out ('snooze acme 2h' at 08:00, a 09:00 call): that is the call the user means,
    # not an earlier day's call left unlogged (its own lapse is the overdue alert's).
    today = cal.local_date(snooze.since)
    if any(s.local_date == today and s.due_at > snooze.since and s.local_date not in snooze.nudged for s in put_off):
        put_off = [s for s in put_off if s.local_date >= today]
    owed = next((s for s in put_off if not is_satisfied(s, last_call_at, cal)), None)
    if owed is None:
        return None
    # The day the snooze ends had its nudge out already (as the outbox says, not the clock): not again that day.
    end = cal.local_date(until)
    nudged_on = end if end in snooze.nudged else None
    at = snooze_return(cadence_of(customer).at, cal, snoozed_until=until, nudged_on=nudged_on)
    return Reminder(Slot(cal.local_date(at), at, owed.period_start or owed.local_date), owed.local_date)


def snooze_reminders(
    customers: Iterable[Scheduled],
    snoozes: Mapping[int, Snooze],
    last_call_at: Mapping[int, datetime | None],
    *,
    default_tz: str = "UTC",
) -> dict[int, tuple[WorkCalendar, Reminder]]:
    """The reminder each snoozed customer's put-off call is owed (with the customer's calendar), for the previews
    (Home, `/partner list`): when it comes back, and whether that is today."""
    owed: dict[int, tuple[WorkCalendar, Reminder]] = {}
    for customer in customers:
        if customer.id is None or customer.id not in snoozes:
            continue
        cal = calendar_of(customer, default_tz=default_tz)
        reminder = snooze_reminder(customer, cal, snoozes[customer.id], last_call_at.get(customer.id))
        if reminder is not None:
            owed[customer.id] = (cal, reminder)
    return owed


def snoozed_calls_back(
    customers: Iterable[Scheduled],
    snoozes: Mapping[int, Snooze],
    last_call_at: Mapping[int, datetime | None],
    *,
    now: datetime,
    default_tz: str = "UTC",
) -> dict[int, datetime]:
    """When each snoozed customer's put-off call comes back (after `now`): it comes before the first call after the
    snooze."""
    owed = snooze_reminders(customers, snoozes, last_call_at, default_tz=default_tz)
    return {cid: reminder.slot.due_at for cid, (_, reminder) in owed.items() if reminder.slot.due_at > now}


def plan_cadence(
    customers: Iterable[Scheduled],
    last_contacts: Mapping[int, CheckIn],
    *,
    since: datetime,
    now: datetime,
    grace: timedelta,
    default_tz: str = "UTC",
    extra: Mapping[str, Any] | None = None,
    snoozes: Mapping[int, Snooze] | None = None,
) -> list[NudgePlan]:
    """One row per slot due in (since, now] for every live customer (paused and archived ones get none), and the
    reminder of a snoozed call due in it (``snoozes``: the customers' current snoozes, storage's ``snoozes``) in place
    of that day's slot; `extra` is added to every row's payload."""
    plans: list[NudgePlan] = []
    # Customers with the same calendar and cadence have the same slots: searched once per pair, not per customer
    # (10,000 customers due at once share a handful of pairs; bench/fanout.py).
    calendars: dict[tuple[str | None, ...], WorkCalendar] = {}
    found: dict[tuple[object, ...], list[Slot]] = {}
    for customer in customers:
        if not is_live(customer):
            continue
        assert customer.id is not None
        where = (customer.tz, customer.country, customer.working_week, customer.subdiv)
        if where not in calendars:
            calendars[where] = calendar_of(customer, default_tz=default_tz)
        cal = calendars[where]
        contact = last_contacts.get(customer.id)
        when = (where, customer.cadence, customer.launch_until)
        if when not in found:
            found[when] = slots(customer, cal, since=since, now=now)
        reminder, came_back = None, False
        if snoozes and customer.snoozed_until is not None:
            snooze = snoozes.get(customer.id)
            reminder = snooze_reminder(customer, cal, snooze, contact.created_at if contact else None)
            came_back = snooze is not None and snooze.came_back
        for slot in found[when]:
            if slot.due_at <= customer.created_at:
                continue  # the customer did not exist yet
            if reminder is not None and not came_back and slot.local_date == reminder.slot.local_date:
                continue  # folded into the reminder, that day's one nudge (its key)
            status, error = "pending", None
            if customer.snoozed_until is not None and slot.due_at < customer.snoozed_until:
                status, error = "skipped", "snoozed"
            elif is_satisfied(slot, contact.created_at if contact else None, cal):
                status, error = "skipped", "a call was already logged"
            elif slot.due_at < now - grace:
                status, error = "missed", "past the grace period; not sent"
            plans.append(
                NudgePlan(
                    kind=CADENCE,
                    subject=subject_of(customer),
                    due_key=slot.local_date.isoformat(),
                    due_at=slot.due_at,
                    customer_id=customer.id,
                    status=status,
                    error=error,
                    payload={
                        "local_date": slot.local_date.isoformat(),
                        "period_start": (slot.period_start or slot.local_date).isoformat(),
                        "tz": cal.tz,
                        **(extra or {}),
                    },
                )
            )
        due_at = reminder.slot.due_at if reminder is not None else None
        if reminder is not None and not came_back and due_at is not None and due_at <= since:
            # Its moment moved behind the last tick (the cadence's time or time zone edited during the snooze): it was
            # never planned, so it comes now — unless that moment is past the grace period, like any late nudge.
            due_at = now if due_at >= now - grace else due_at
        if reminder is not None and not came_back and due_at is not None and due_at <= now:
            late = due_at < now - grace
            plans.append(
                NudgePlan(
                    kind=CADENCE,
                    subject=subject_of(customer),
                    due_key=reminder.slot.local_date.isoformat(),
                    due_at=due_at,
                    customer_id=customer.id,
                    status="missed" if late else "pending",
                    error="past the grace period; not sent" if late else None,
                    payload={
                        "local_date": reminder.slot.local_date.isoformat(),
                        "period_start": (reminder.slot.period_start or reminder.snoozed_on).isoformat(),
                        "tz": cal.tz,
                        "snoozed_on": reminder.snoozed_on.isoformat(),
                        "snoozed_until": customer.snoozed_until.isoformat() if customer.snoozed_until else None,
                        # The reason it was snoozed for: snoozing the reminder again must not rewrite it when redrawn.
                        "snooze_reason": getattr(customer, "snooze_reason", None),
                        **(extra or {}),
                    },
                )
            )
    return plans


def business_morning(cal: WorkCalendar, day: date) -> datetime:
    """09:00 customer time on the first business day on or after `day`."""
    return cal.at_local(cal.next_business_day(day, include_today=True), ALERT_AT)


def at_work(cal: WorkCalendar, now: datetime) -> datetime:
    """`now` when it falls in working hours (ALERT_AT–WORKDAY_END on a business day), else the next business morning.

    When an owner may be DMed about something found at any hour: the daily health job scores a customer just after
    their local midnight, and a drop it finds then must wait for the start of the working day.
    """
    local = cal.local_datetime(now)
    day, clock = local.date(), local.time()
    if cal.is_business_day(day) and ALERT_AT <= clock < WORKDAY_END:
        return now
    return business_morning(cal, day if clock < ALERT_AT else day + timedelta(days=1))


def thresholds_of(customer: Scheduled, cadence: Cadence) -> Thresholds | None:
    """The customer's own ideal/maximum windows when set, else the cadence's defaults."""
    limits = cadence.thresholds
    if limits is None:
        return None
    ideal = customer.ideal_days or limits.ideal_days
    most = customer.max_days or limits.max_days
    try:
        return Thresholds(min(ideal, most), most, business_days=limits.business_days)
    except ValueError:
        return limits


def clock_start(
    cal: WorkCalendar,
    *,
    last_contact_at: datetime | None,
    created_at: datetime,
    restart: tuple[datetime, str] | None,
) -> tuple[datetime | None, str | None]:
    """When the customer's overdue clock last started, and what started it when that was no call (RESTARTED's words,
    for a reason: "No call since it was restored"): its last qualifying check-in, else the day it was added (None),
    unless its clock restarted on a later local day (`Store.clock_restarts`, Home's `last_clock_restart`: a resume,
    a restore, a cadence set from off). Windows count local dates: a restart the day of a call changes nothing."""
    if restart is not None:
        began = cal.local_date(last_contact_at if last_contact_at is not None else created_at)
        if cal.local_date(restart[0]) > began:
            return restart[0], RESTARTED.get(restart[1], RESUMED)
    return last_contact_at, None


def alerted(alert_due: datetime | None, *, clock_start: datetime | None, created_at: datetime, now: datetime) -> bool:
    """Whether the owner's overdue alert of the current lapse is due by `now` (`alert_due`: when its latest alert was
    due, storage.home.last_overdue_alert): one due since the clock last started. A missed daily call is overdue on
    every surface from the moment its owner is told, not a business day later when the window runs out."""
    if alert_due is None or alert_due > now:
        return False
    return alert_due > (clock_start if clock_start is not None else created_at)


# In every window lapse's reason (domain.cadence.standing): "Last call 11 days ago (ideal within 7 days, …)".
WINDOW_WORDS = " ago (ideal within "


def cadence_standing(
    customer: Scheduled,
    cal: WorkCalendar,
    *,
    last_contact_at: datetime | None,
    restart: tuple[datetime, str] | None,
    now: datetime,
    snoozed_since: datetime | None = None,
    alert: tuple[datetime, str] | None = None,
) -> Standing | None:
    """How the customer stands against its cadence at `now` — green, yellow past its ideal window, red past its
    maximum — as the owner's overdue alert counts it: the cadence in effect (launch mode's daily calls), the customer's
    own windows (`thresholds_of`), from when its clock last started (`clock_start`), red from the moment the owner is
    told (`red_alert_at`: 09:00 of the customer's first business day past the window, not the Saturday or holiday it
    ran out), and only once a snooze no longer holds the alert back (`snooze_holds_overdue`; `snoozed_since`: when its
    current snooze was set). `alert`: when the owner's latest overdue alert was due and its reason — a missed daily
    call is red, with the alert's words, from then (`alerted`). None when its cadence is off or unreadable. The one
    rule behind "call due" and "overdue" on `/partner list`, the card, Home and the digest; a paused customer owes
    nothing and is the caller's to show as paused."""
    cadence = effective_cadence(customer, cal, now)
    limits = thresholds_of(customer, cadence)
    if limits is None:
        return None
    since, why = clock_start(cal, last_contact_at=last_contact_at, created_at=customer.created_at, restart=restart)
    found = standing(
        cadence, cal, last_contact_at=since, now=now, created_at=customer.created_at, thresholds=limits, since_what=why
    )
    if alert is not None and alerted(alert[0], clock_start=since, created_at=customer.created_at, now=now):
        # A missed daily call keeps the alert's words ("The daily call on Wed 9 Dec was missed"); a window that ran
        # out is counted to today, as the row's last check-in is, not frozen at the day the owner was told.
        lapsed = not alert[1] or WINDOW_WORDS in alert[1]
        return Standing("red", found.since_last, found.reason if lapsed else alert[1])
    if found.state == "red":
        if now < red_alert_at(cal, cal.local_date(since or customer.created_at), limits):
            return Standing("yellow", found.since_last, found.reason)  # told at the next business morning, not yet
        if snooze_holds_overdue(customer, cal, clock_start=since, snoozed_since=snoozed_since, now=now):
            return Standing("yellow", found.since_last, found.reason)  # its call is due again: "call due" for now
    return found


def red_alert_at(cal: WorkCalendar, start: date, limits: Thresholds) -> datetime:
    """When the owner is told of a clock started on the local date `start` that ran past its maximum window: 09:00 of
    the first business day it is past."""
    red_from = (
        cal.add_business_days(start, limits.max_days + 1)
        if limits.business_days
        else start + timedelta(days=limits.max_days + 1)
    )
    return business_morning(cal, red_from)


def snooze_holds_overdue(
    customer: Scheduled,
    cal: WorkCalendar,
    *,
    clock_start: datetime | None,
    snoozed_since: datetime | None,
    now: datetime,
) -> bool:
    """Whether a snooze still holds back the overdue alert of the customer's current lapse, as `plan_overdue` does: its
    maximum window ran out once the snooze was set and no later than the snoozed call came back, and the business
    morning after that (when the owner is told) has not come. A skipped or snoozed daily call is nobody's missed call:
    the morning a snoozed call comes back is not the morning it is overdue. A window that ran out before the snooze
    was set was told already: still overdue."""
    ended = customer.snoozed_until
    if ended is None or snoozed_since is None:
        return False
    limits = thresholds_of(customer, effective_cadence(customer, cal, now))
    if limits is None:
        return False
    red_at = red_alert_at(cal, cal.local_date(clock_start or customer.created_at), limits)
    back = snooze_return(cadence_of(customer).at, cal, snoozed_until=ended)
    if not snoozed_since <= red_at <= back:
        return False
    return now < business_morning(cal, cal.local_date(back) + timedelta(days=1))


def lapse_start(customer: Scheduled, cal: WorkCalendar, contact: CheckIn | None) -> date:
    """The local date the clock last restarted: the last qualifying check-in, else the day the customer was added."""
    return cal.local_date(contact.created_at if contact else customer.created_at)


def daily_until(customer: Scheduled) -> date | None:
    """The last local date whose call is a daily one: any (date.max) on a daily cadence, else launch mode's date
    (None: never) — the missed-call rule also covers the last launch days once the normal cadence is back."""
    return date.max if cadence_of(customer).kind == "daily" else customer.launch_until


@dataclass(frozen=True)
class Lapse:
    """A customer's current lapse: since when the clock runs, and the earliest its alert could be due."""

    customer: Scheduled
    cal: WorkCalendar
    cadence: Cadence
    start: date
    earliest: datetime  # no alert can be due before this, whatever the nudge log says
    red_alert_at: datetime | None  # when the maximum window's alert is due (None: the window is not passed)
    red_reason: str
    since: datetime  # the instant the clock restarted (the call, the resume, the day added): the lapse's identity
    from_creation: bool = False  # no call ever logged, added before that day's call: that day can be missed too

    @property
    def key(self) -> str:
        return f"lapse:{self.start.isoformat()}"

    def first_missable(self) -> date:
        """The first local date of this lapse whose daily call could be missed."""
        return self.start if self.from_creation else self.start + timedelta(days=1)

    def has_daily_calls(self) -> bool:
        """Whether a daily call of this lapse can be missed (daily cadence, or launch mode's days in it)."""
        last = daily_until(self.customer)
        return last is not None and self.first_missable() <= last


def lapses(
    customers: Iterable[Scheduled],
    last_contacts: Mapping[int, CheckIn],
    *,
    now: datetime,
    default_tz: str = "UTC",
    restarts: Mapping[int, tuple[datetime, str]] | None = None,
) -> list[Lapse]:
    """Customers whose overdue alert may be due at `now` (pure; the nudge log is only needed for these).

    ``restarts``: when and how (a key of RESTARTED) a customer last began to owe calls again (`Store.clock_restarts`):
    a pause owes no calls, nor does an archived customer or one without a cadence, so resuming after three weeks,
    restoring from the archive or setting a cadence from off is not "overdue, last call 20 days ago" the next morning.
    """
    found: list[Lapse] = []
    # The verdict depends on the calendar, the cadence settings and the local date the lapse started, never on the
    # customer otherwise: worked out once per distinct combination (10,000 customers due at once share a few).
    calendars: dict[tuple[str | None, ...], WorkCalendar] = {}
    verdicts: dict[tuple[object, ...], tuple[Cadence, datetime, datetime | None, str] | None] = {}
    call_times: dict[tuple[object, ...], datetime] = {}  # (calendar, local date, time of the call) → the instant
    for customer in customers:
        if not is_live(customer) or (customer.snoozed_until is not None and customer.snoozed_until > now):
            continue
        assert customer.id is not None
        where = (customer.tz, customer.country, customer.working_week, customer.subdiv)
        if where not in calendars:
            calendars[where] = calendar_of(customer, default_tz=default_tz)
        cal = calendars[where]
        contact = last_contacts.get(customer.id)
        start = lapse_start(customer, cal, contact)
        restarted, why = clock_start(
            cal,
            last_contact_at=contact.created_at if contact is not None else None,
            created_at=customer.created_at,
            restart=(restarts or {}).get(customer.id),
        )
        restarted_on = cal.local_date(restarted) if why is not None and restarted is not None else None
        if restarted_on is not None:
            start = restarted_on
        # The day the customer was added can only be a missed call if it was added before that day's call.
        day_added_missable = False
        if contact is None and restarted_on is None:
            call = (where, start, cadence_of(customer).at)
            if call not in call_times:
                call_times[call] = cal.at_local(start, call[2])
            day_added_missable = customer.created_at <= call_times[call]
        settings = (customer.cadence, customer.launch_until, customer.ideal_days, customer.max_days)
        has_contact = contact is not None or restarted_on is not None
        key = (where, *settings, start, has_contact, day_added_missable, why)
        if key not in verdicts:
            verdicts[key] = _lapse_verdict(
                customer,
                cal,
                start,
                has_contact=has_contact,
                day_added_missable=day_added_missable,
                now=now,
                since_what=why,
            )
        verdict = verdicts[key]
        if verdict is not None:
            cadence, earliest, red_at, red_reason = verdict
            since = restarted if restarted_on is not None and restarted is not None else None
            if since is None:
                since = contact.created_at if contact is not None else customer.created_at
            found.append(Lapse(customer, cal, cadence, start, earliest, red_at, red_reason, since, day_added_missable))
    return found


def _lapse_verdict(
    customer: Scheduled,
    cal: WorkCalendar,
    start: date,
    *,
    has_contact: bool,
    day_added_missable: bool,
    now: datetime,
    since_what: str | None = None,
) -> tuple[Cadence, datetime, datetime | None, str] | None:
    """(effective cadence, earliest alert, red alert time, red reason) for a lapse that started on the local date
    `start`, or None when no alert can be due yet."""
    cadence = effective_cadence(customer, cal, now)
    if cadence.is_off:
        return None
    red_at, red_reason = None, ""
    limits = thresholds_of(customer, cadence)
    # standing() counts local dates only: any instant of `start` stands for the customer's last contact or creation.
    reference = cal.at_local(start, time(12))
    state = standing(
        cadence,
        cal,
        last_contact_at=reference if has_contact else None,
        now=now,
        created_at=reference,
        thresholds=limits,
        since_what=since_what,
    )
    if state.state == "red" and limits is not None:
        red_at, red_reason = red_alert_at(cal, start, limits), state.reason
    earliest = red_at
    # The first day of the lapse on which a daily call could have been missed: after the last call, or the day the
    # customer was added when there was none and it was added before that day's call (its nudge came after it was
    # added; added later, the day had no call to miss — and the nudge log need not be read for it every tick);
    # launch mode's last days count too.
    first = cal.next_business_day(start, include_today=day_added_missable)
    last_daily = daily_until(customer)
    if last_daily is not None and first <= last_daily:
        missed_at = business_morning(cal, first + timedelta(days=1))
        earliest = missed_at if earliest is None else min(earliest, missed_at)
    if earliest is None or earliest > now:
        return None
    return cadence, earliest, red_at, red_reason


def plan_overdue(
    lapses: Iterable[Lapse],
    asked: Mapping[int, Sequence[Nudge]],
    *,
    now: datetime,
    put_off: Mapping[int, date] | None = None,
) -> list[NudgePlan]:
    """The owner alert for each lapse whose alert time has come.

    ``asked``: each customer's cadence nudges since its lapse started (the days a call was asked for), for customers
    with daily calls (:func:`daily_until`). ``put_off``: the call a customer's snooze puts off (its reminder's
    ``snoozed_on``, :func:`snooze_reminder`), however it was snoozed (a command leaves no outcome on the nudge).
    """
    plans: list[NudgePlan] = []
    for lapse in lapses:
        customer = lapse.customer
        assert customer.id is not None
        due_at, reason = lapse.red_alert_at, lapse.red_reason
        if lapse.has_daily_calls():
            last_daily = daily_until(customer) or date.max
            rows = asked.get(customer.id, ())
            # A snoozed call is not missed: it comes back (or came back) as its reminder, judged on its own day.
            excused = {date.fromisoformat(n.payload["snoozed_on"]) for n in rows if n.payload.get("snoozed_on")}
            if put_off and customer.id in put_off:
                excused.add(put_off[customer.id])
            missed = [
                date.fromisoformat(n.due_key)
                for n in rows
                if n.status in ASKED
                and lapse.first_missable() <= date.fromisoformat(n.due_key) <= last_daily
                and (n.payload.get("outcome") or {}).get("what") not in EXCUSED
                and date.fromisoformat(n.due_key) not in excused
            ]
            if missed:
                day = min(missed)
                missed_at = business_morning(lapse.cal, day + timedelta(days=1))
                if due_at is None or missed_at < due_at:
                    due_at, reason = missed_at, f"the daily call on {day:%a} {day.day} {day:%b} was missed"
        ended = customer.snoozed_until
        if due_at is not None and ended is not None:
            # Held back by a snooze: its call comes back as the snooze ends — at the call time when it ends at night,
            # on a weekend or a holiday — and the owner hears it was not made the next business morning, not in the
            # same minute as that reminder (a window running out at that very call time too).
            back = snooze_return(cadence_of(customer).at, lapse.cal, snoozed_until=ended)
            if due_at <= back:
                due_at = business_morning(lapse.cal, lapse.cal.local_date(back) + timedelta(days=1))
        if due_at is None or due_at > now:
            continue
        # Held back until now (a snooze or pause ending at midnight, downtime): outside working hours it waits for
        # the next business morning rather than waking the owner.
        send_at = at_work(lapse.cal, now)
        if send_at > now:
            due_at = send_at
        plans.append(
            NudgePlan(
                kind=OVERDUE,
                subject=subject_of(customer),
                due_key=lapse.key,
                due_at=due_at,
                customer_id=customer.id,
                recipient_id=customer.owner_id,
                payload={"lapse_start": lapse.start.isoformat(), "reason": reason, "tz": lapse.cal.tz},
            )
        )
    return plans


# --------------------------------------------------------------------------- what will happen


def moved_text(customer: Scheduled, cal: WorkCalendar, day: date) -> str:
    """Why the call on `day` is not on the day its cadence names — "moved from Mon 28 Dec, a public holiday there
    (Boxing Day (observed))" — so an owner in another country is not left guessing; "" for a call on its own day."""
    cadence = launch_cadence(cadence_of(customer), launch_until=customer.launch_until, today=day)
    moved = []
    for named in moved_here(cadence, cal, day):
        holiday = cal.holiday_name(named)
        why = f"a public holiday there ({holiday})" if holiday else "not a working day there"
        moved.append(f"{named:%a} {named.day} {named:%b}, {why}")
    return f"moved from {' and from '.join(moved)}" if moved else ""


@dataclass(frozen=True)
class Upcoming:
    """One future cadence nudge as the planner will see it, for `/partner upcoming` and the CLI."""

    customer: Customer
    slot: Slot
    tz: str
    status: str  # pending (will be sent), skipped (a call already logged / snoozed)
    note: str = ""
    snoozed_on: date | None = None  # a snoozed call coming back: the put-off call's date

    @property
    def what(self) -> str:
        """ "the call snoozed on Tue 1 Dec" for a snoozed call coming back, "moved from Mon 28 Dec, a public holiday
        there (…)" for a call a holiday moved (`moved_text`, worked out only for the nudges shown), else nothing."""
        day = self.snoozed_on
        if day is not None:
            return f"the call snoozed on {day:%a} {day.day} {day:%b}"
        return moved_text(self.customer, calendar_of(self.customer, default_tz=self.tz), self.slot.local_date)

    @property
    def local(self) -> datetime:
        return self.slot.due_at.astimezone(ZoneInfo(self.tz))


def upcoming(
    customers: Iterable[Customer],
    last_contacts: Mapping[int, CheckIn],
    *,
    now: datetime,
    until: datetime,
    default_tz: str = "UTC",
    snoozes: Mapping[int, Snooze] | None = None,
    nudged: Mapping[int, Collection[date]] | None = None,
) -> list[Upcoming]:
    """Every cadence slot in (now, until] with what the planner would decide today, and the reminder of a snoozed
    call in place of its day's slot (as :func:`plan_cadence`), soonest first. `nudged`: the days whose nudge is in
    the outbox already (storage's ``nudged_days``): a slot later that day is not sent (its cadence's time was moved
    after the nudge went out)."""
    found: list[Upcoming] = []
    for customer in customers:
        if not is_live(customer):
            continue
        assert customer.id is not None
        cal = calendar_of(customer, default_tz=default_tz)
        contact = last_contacts.get(customer.id)
        reminder = None
        if snoozes and customer.snoozed_until is not None:
            reminder = snooze_reminder(customer, cal, snoozes.get(customer.id), contact.created_at if contact else None)
            if reminder is not None and now < reminder.slot.due_at <= until:
                found.append(Upcoming(customer, reminder.slot, cal.tz, "pending", snoozed_on=reminder.snoozed_on))
        done = (nudged or {}).get(customer.id, ())
        for slot in slots(customer, cal, since=now, now=until):
            if reminder is not None and slot.local_date == reminder.slot.local_date:
                continue  # folded into the reminder
            if slot.local_date in done:
                continue  # that day's one nudge went out already
            status, note = "pending", ""
            if customer.snoozed_until is not None and slot.due_at < customer.snoozed_until:
                status, note = "skipped", "snoozed"
            elif is_satisfied(slot, contact.created_at if contact else None, cal):
                status, note = "skipped", "call already logged"
            found.append(Upcoming(customer=customer, slot=slot, tz=cal.tz, status=status, note=note))
    return sorted(found, key=lambda u: (u.slot.due_at, u.customer.name))
