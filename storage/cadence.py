"""What the cadence engine reads and changes on customers: last contacts, launch mode, snooze, pause, watermarks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import ColumnElement, and_, exists, func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from domain.errors import UserError
from storage.base import Records, StoreBase
from storage.models import CheckIn, Customer, CustomerEvent, JobWatermark, Nudge, Workspace
from storage.nudges import _write_transaction


@dataclass(frozen=True, slots=True)
class CustomerSchedule:
    """What the cadence planner reads of a customer. Loaded as plain rows: building 10,000 ORM customers was a
    sixth of a fan-out tick's planning (bench/fanout.py)."""

    id: int
    owner_id: str | None
    tz: str | None
    country: str | None
    subdiv: str | None
    working_week: str | None
    cadence: str | None
    launch_until: date | None
    created_at: datetime
    archived_at: datetime | None
    paused_at: datetime | None
    snoozed_until: datetime | None
    ideal_days: int | None
    max_days: int | None
    snooze_reason: str | None = None  # kept in a snoozed call's reminder as planned
    # Where its nudges go (schedules.cadence.destination): a nudge with no channel to go to is the owner's DM.
    channel_id: str | None = None
    channel_error: str | None = None
    channel_error_at: datetime | None = None
    channel_shared: bool = False


_SCHEDULE_COLUMNS = [getattr(Customer, f.name) for f in fields(CustomerSchedule)]
# Each customer's last contact, for every customer of a team or of a fan-out's nudges at once: read-only records.
_CHECKIN_RECORDS = Records(CheckIn)

# A customer event: Slack said its owner (the event's actor) is deactivated when a nudge or alert was due for it.
OWNER_DEACTIVATED = "owner_deactivated"
# A customer event: Slack said that owner is active again (`user_change`); it carries the deactivation's own dedupe.
OWNER_REACTIVATED = "owner_reactivated"
# How long after a snooze ends its call can still come back (the next business day after a long holiday).
SNOOZE_RETURN_SPAN = timedelta(days=30)
# How far before a snooze began a skipped call is looked for (the last call before it, of a monthly cadence).
SNOOZE_LOOKBACK = timedelta(days=40)
# Statuses of a nudge that was posted or is being posted ("sending": rendered, its post under way).
POSTED = ("sending", "sent")


@dataclass(frozen=True, slots=True)
class Snooze:
    """What the planner needs of a customer's current snooze besides its end (``Customer.snoozed_until``)."""

    since: datetime  # when it was set: the call due last before it is the one put off
    skipped: frozenset[date] = frozenset()  # days whose call someone skipped: not owed, never brought back
    # Customer-local days whose nudge was posted (or is being posted), this snooze's own reminder aside: a call comes
    # back on such a day no more (one nudge a customer a day). Read from the outbox, never guessed from the clock: a
    # snooze saved just after a tick started may have kept that day's nudge from going out at all.
    nudged: frozenset[date] = frozenset()
    came_back: bool = False  # its reminder is in the outbox (whatever became of it): never planned a second time


class Snoozable(Protocol):
    @property
    def id(self) -> int | None: ...
    @property
    def snoozed_until(self) -> datetime | None: ...


def _cadence_word(value: Any) -> Any:
    """A cadence as an "edited" event stored it, "off" for none: `off`, null, empty."""
    return func.coalesce(func.nullif(func.lower(func.trim(value)), ""), "off")


# A "launch" event's detail when launch mode began owing daily calls that the cadence did not (a weekly customer, or
# one without a cadence): no daily call was owed before it. Extending a running launch, or launching a daily
# customer, owes nothing new and restarts nothing.
LAUNCH_RESTARTS_CLOCK = "restarted"


def returned_to_work() -> ColumnElement[bool]:
    """Which customer events bring a customer back after a time it owed nothing: a resume after a pause, a restore
    from the archive. A "resumed" event with no pause before it only lifted a snooze (`/partner resume` of a customer
    never paused): Partner kept working with the customer all along. Also a working agreement's hold clock
    (storage.boundaries)."""
    paused = aliased(CustomerEvent)
    was_paused = (
        exists()
        .where(paused.customer_id == CustomerEvent.customer_id, paused.kind == "paused", paused.at <= CustomerEvent.at)
        .correlate(CustomerEvent)
    )
    return or_(CustomerEvent.kind == "restored", and_(CustomerEvent.kind == "resumed", was_paused))


def restarts_clock() -> ColumnElement[bool]:
    """Which customer events restart the overdue clock as a call would, no call being owed before them: a return to
    work (`returned_to_work`), the cadence set from off, launch mode beginning to owe daily calls. The one rule of
    "since when is a call owed" read by the owner's overdue alert and the health score (`clock_restarts`) and by
    Home, the card, `/partner list` and the digest (`storage.home.last_clock_restart`), so they all say "overdue"
    from the same moment."""
    change = col(CustomerEvent.detail)
    cadence_set = and_(
        _cadence_word(change[("cadence", 0)].as_string()) == "off",
        _cadence_word(change[("cadence", 1)].as_string()) != "off",
    )
    return or_(
        returned_to_work(),
        and_(CustomerEvent.kind == "edited", cadence_set),
        and_(CustomerEvent.kind == "launch", change["clock"].as_string() == LAUNCH_RESTARTS_CLOCK),
    )


def owner_still_deactivated(deactivated: Any) -> ColumnElement[bool]:
    """An OWNER_DEACTIVATED event (`deactivated`: CustomerEvent or an alias of it) that no OWNER_REACTIVATED event
    answers yet — the reactivation carries the same dedupe, so nothing is deleted and a later deactivation counts."""
    reactivated = aliased(CustomerEvent)
    return ~exists().where(
        reactivated.customer_id == deactivated.customer_id,
        reactivated.kind == OWNER_REACTIVATED,
        reactivated.dedupe == deactivated.dedupe,
    )


class CadenceQueries(StoreBase):
    def customer_schedules(self, *, team_id: str) -> list[CustomerSchedule]:
        """The team's customers (archived ones excluded) as the planner reads them, in name order, in one query."""
        with self.session() as session:
            query = (
                select(*_SCHEDULE_COLUMNS)
                .where(Customer.team_id == team_id, col(Customer.archived_at).is_(None))
                .order_by(col(Customer.name_key))
            )
            return [CustomerSchedule(*row) for row in session.connection().execute(query)]

    def last_contacts(
        self, *, team_id: str, customer_ids: Sequence[int], kinds: Sequence[str] | None = None
    ) -> dict[int, CheckIn]:
        """Each customer's newest check-in of one of `kinds` (None: any kind), in one query, as read-only records
        (`Records`): the planner and a fan-out's renderers read one for each of thousands of customers."""
        if not customer_ids:
            return {}
        with self.session() as session:
            newest = select(CheckIn.customer_id, func.max(CheckIn.created_at).label("at")).where(
                CheckIn.team_id == team_id, col(CheckIn.customer_id).in_(customer_ids)
            )
            if kinds is not None:
                newest = newest.where(col(CheckIn.kind).in_(kinds))
            sub = newest.group_by(col(CheckIn.customer_id)).subquery()
            query = (
                _CHECKIN_RECORDS.select()
                .join(sub, (CheckIn.customer_id == sub.c.customer_id) & (CheckIn.created_at == sub.c.at))
                .where(CheckIn.team_id == team_id)
                .order_by(col(CheckIn.id))
            )
            if kinds is not None:
                query = query.where(col(CheckIn.kind).in_(kinds))
            return {row.customer_id: row for row in _CHECKIN_RECORDS.read(session.connection(), query)}

    def snoozes(self, *, team_id: str, customers: Sequence[Snoozable], after: datetime) -> dict[int, Snooze]:
        """The current snooze of each customer snoozed until after `after - SNOOZE_RETURN_SPAN` (its call may still
        be due to come back), in two queries, none when nobody is snoozed."""
        ends = {
            c.id: c.snoozed_until
            for c in customers
            if c.id is not None and c.snoozed_until is not None and c.snoozed_until > after - SNOOZE_RETURN_SPAN
        }
        if not ends:
            return {}
        with self.session() as session:
            started = session.exec(
                select(CustomerEvent.customer_id, func.max(CustomerEvent.at))
                .where(
                    CustomerEvent.team_id == team_id,
                    CustomerEvent.kind == "snoozed",
                    col(CustomerEvent.customer_id).in_(list(ends)),
                )
                .group_by(col(CustomerEvent.customer_id))
            ).all()
            since = {customer_id: at for customer_id, at in started if at is not None}
            if not since:
                return {}
            skipped: dict[int, set[date]] = {}
            nudged: dict[int, set[date]] = {}
            came_back: set[int] = set()
            rows = session.exec(
                select(Nudge.customer_id, Nudge.due_key, Nudge.payload, Nudge.status, Nudge.message_ts).where(
                    Nudge.team_id == team_id,
                    Nudge.kind == "cadence",
                    col(Nudge.customer_id).in_(list(since)),
                    col(Nudge.due_at) >= min(since.values()) - SNOOZE_LOOKBACK,
                )
            )
            for customer_id, due_key, payload, status, message_ts in rows:
                outcome = (payload or {}).get("outcome") or {}
                posted = message_ts is not None or status in POSTED
                end = ends.get(customer_id)
                own_reminder = end is not None and (payload or {}).get("snoozed_until") == end.isoformat()
                if customer_id is not None and own_reminder:
                    came_back.add(customer_id)
                elif customer_id is not None and posted:
                    nudged.setdefault(customer_id, set()).add(date.fromisoformat(due_key))
                if customer_id is not None and outcome.get("what") == "skipped":
                    days = skipped.setdefault(customer_id, set())
                    days.add(date.fromisoformat(outcome.get("day") or due_key))
                    if (payload or {}).get("snoozed_on"):  # a snoozed call's reminder skipped: that call is skipped
                        days.add(date.fromisoformat(payload["snoozed_on"]))
        return {
            customer_id: Snooze(
                since=at,
                skipped=frozenset(skipped.get(customer_id, ())),
                nudged=frozenset(nudged.get(customer_id, ())),
                came_back=customer_id in came_back,
            )
            for customer_id, at in since.items()
        }

    def nudged_days(self, *, team_id: str, customer_ids: Sequence[int], since: datetime) -> dict[int, set[date]]:
        """The customer-local days, due after `since`, that already have their cadence nudge in the outbox (sent,
        waiting, or decided not to send), in one query: a day has one nudge, so a call moved later that day (its
        cadence's time edited after the nudge went out) is not coming again, and previews must not say it is."""
        if not customer_ids:
            return {}
        days: dict[int, set[date]] = {}
        with self.session() as session:
            rows = session.exec(
                select(Nudge.customer_id, Nudge.due_key).where(
                    Nudge.team_id == team_id,
                    Nudge.kind == "cadence",
                    col(Nudge.customer_id).in_(list(customer_ids)),
                    col(Nudge.due_at) > since,
                )
            )
            for customer_id, due_key in rows:
                if customer_id is not None:
                    days.setdefault(customer_id, set()).add(date.fromisoformat(due_key))
        return days

    def overdue_alerts(self, *, team_id: str, customer_ids: Sequence[int]) -> dict[int, tuple[datetime, str]]:
        """Each customer's latest overdue alert told or about to be (not skipped or cancelled): when it was due and
        its reason, in one query — the batched read of `storage.home.last_overdue_alert` for `/partner list` and the
        card, which say *overdue* with its words once it is due in the current lapse (`planner.cadence_standing`)."""
        if not customer_ids:
            return {}
        found: dict[int, tuple[datetime, str]] = {}
        with self.session() as session:
            rows = session.exec(
                select(Nudge.customer_id, Nudge.due_at, Nudge.payload).where(
                    Nudge.team_id == team_id,
                    Nudge.kind == "overdue",
                    col(Nudge.subject).in_([f"customer:{i}" for i in customer_ids]),
                    col(Nudge.status).not_in(("skipped", "cancelled")),
                )
            )
            for customer_id, due_at, payload in rows:
                if customer_id is not None and (customer_id not in found or due_at > found[customer_id][0]):
                    found[customer_id] = (due_at, str((payload or {}).get("reason") or ""))
        return found

    def deactivated_owners(self, *, team_id: str, customer_ids: Sequence[int]) -> set[int]:
        """The customers whose current owner Slack said is deactivated when a nudge or alert was due for them
        (an OWNER_DEACTIVATED event naming that owner), in one query: the list and the card say so."""
        if not customer_ids:
            return set()
        with self.session() as session:
            rows = session.exec(
                select(CustomerEvent.customer_id)
                .join(Customer, col(Customer.id) == CustomerEvent.customer_id)
                .where(
                    CustomerEvent.team_id == team_id,
                    CustomerEvent.kind == OWNER_DEACTIVATED,
                    col(CustomerEvent.customer_id).in_(list(customer_ids)),
                    CustomerEvent.actor_id == Customer.owner_id,
                    owner_still_deactivated(CustomerEvent),
                )
            )
            return set(rows)

    def next_owner_deactivation(self, *, team_id: str, customer_id: int, owner_id: str) -> str | None:
        """The dedupe a new OWNER_DEACTIVATED event of this customer and owner takes — the owner for the first, then
        numbered after each reactivation — or None while one is still unanswered (recorded once)."""
        with self.session() as session:
            rows = session.exec(
                select(CustomerEvent.dedupe, owner_still_deactivated(CustomerEvent)).where(
                    CustomerEvent.team_id == team_id,
                    CustomerEvent.customer_id == customer_id,
                    CustomerEvent.kind == OWNER_DEACTIVATED,
                    CustomerEvent.actor_id == owner_id,
                )
            ).all()
        if any(still for _, still in rows):
            return None
        return f"{owner_id}#{len(rows)}" if rows else owner_id

    def owner_deactivations(self, *, team_id: str, user_id: str) -> list[tuple[int, str]]:
        """The unanswered OWNER_DEACTIVATED events naming `user_id` (customer, dedupe), in one query on the team's
        events of that kind (ix_customer_event_team_kind): Slack's user_change comes for every profile change."""
        with self.session() as session:
            rows = session.exec(
                select(CustomerEvent.customer_id, CustomerEvent.dedupe).where(
                    CustomerEvent.team_id == team_id,
                    CustomerEvent.kind == OWNER_DEACTIVATED,
                    CustomerEvent.actor_id == user_id,
                    owner_still_deactivated(CustomerEvent),
                )
            ).all()
        return [(customer_id, dedupe or user_id) for customer_id, dedupe in rows]

    def excused_call_days(self, *, team_id: str, customer_ids: Sequence[int], since: datetime) -> dict[int, set[date]]:
        """The customer-local days since `since` whose call a person skipped or snoozed (Skip today, Snooze, a snooze
        that held the day's nudge back, the day a snoozed call was put off), in one query: no call was owed them."""
        if not customer_ids:
            return {}
        with self.session() as session:
            rows = session.exec(
                select(Nudge.customer_id, Nudge.due_key, Nudge.status, Nudge.error, Nudge.payload).where(
                    Nudge.team_id == team_id,
                    Nudge.kind == "cadence",
                    col(Nudge.customer_id).in_(list(customer_ids)),
                    Nudge.due_at >= since,
                )
            ).all()
        excused: dict[int, set[date]] = {}
        for customer_id, due_key, status, error, payload in rows:
            if customer_id is None:
                continue
            payload = payload or {}
            days = excused.setdefault(customer_id, set())
            try:
                if ((payload.get("outcome") or {}).get("what") in ("skipped", "snoozed")) or (
                    status == "skipped" and error == "snoozed"
                ):
                    days.add(date.fromisoformat(due_key))
                if payload.get("snoozed_on"):  # a snoozed call coming back: the day it was put off owed nothing
                    days.add(date.fromisoformat(payload["snoozed_on"]))
            except (TypeError, ValueError):
                continue  # not a local date: nothing to excuse
        return excused

    def ended_pauses(self, *, team_id: str, customer_ids: Sequence[int]) -> dict[int, list[tuple[datetime, datetime]]]:
        """Every pause of each of these customers that ended, as (paused at, resumed at), oldest first, in one query.
        A stay in the archive that ended (archived, then restored) is one too: it owed no calls either, so a customer
        archived by mistake for a week is not scored on the calls of that week once restored. Every one, not only
        the last: paused twice in a month, the first pause's weeks owed no call either."""
        if not customer_ids:
            return {}
        ends = {"resumed": "paused", "restored": "archived"}
        with self.session() as session:
            rows = session.exec(
                select(CustomerEvent.customer_id, CustomerEvent.kind, CustomerEvent.at)
                .where(
                    CustomerEvent.team_id == team_id,
                    col(CustomerEvent.kind).in_([*ends, *ends.values()]),
                    col(CustomerEvent.customer_id).in_(list(customer_ids)),
                )
                .order_by(col(CustomerEvent.customer_id), col(CustomerEvent.at), col(CustomerEvent.id))
            ).all()
        pauses: dict[int, list[tuple[datetime, datetime]]] = {}
        began: dict[tuple[int, str], datetime] = {}  # (customer, start kind) → when the stay still open began
        for cid, kind, at in rows:
            if cid is None or at is None:
                continue
            if kind in ends:
                paused = began.pop((cid, ends[kind]), None)
                if paused is not None and paused <= at:
                    pauses.setdefault(cid, []).append((paused, at))
            else:
                began.setdefault((cid, kind), at)  # a second pause event while paused: the stay began at the first
        return pauses

    def clock_restarts(
        self, *, team_id: str, customer_ids: Sequence[int], only: str | None = None
    ) -> dict[int, tuple[datetime, str]]:
        """When and how each of these customers' overdue clock last restarted without a call, in one query: resumed
        after a pause ("resumed"), restored from the archive ("restored"), its cadence set from off ("cadence_set":
        `cadence`, `edit cadence=`, the forms). No call was owed before, so the clock starts there as at a call. The
        rule is `restarts_clock` (Home and the digest read it as `last_clock_restart`). `only`: the last restart of
        that one way ("launch", "cadence_set"), whatever restarted the clock after it (a pause resumed since)."""
        if not customer_ids:
            return {}
        with self.session() as session:
            rows = session.exec(
                select(CustomerEvent.customer_id, CustomerEvent.kind, func.max(CustomerEvent.at))
                .where(
                    CustomerEvent.team_id == team_id,
                    col(CustomerEvent.customer_id).in_(list(customer_ids)),
                    restarts_clock(),
                )
                .group_by(col(CustomerEvent.customer_id), col(CustomerEvent.kind))
            ).all()
        restarts: dict[int, tuple[datetime, str]] = {}
        for cid, kind, at in rows:
            if cid is None or at is None:
                continue
            how = "cadence_set" if kind == "edited" else kind
            if only is not None and how != only:
                continue
            if cid not in restarts or restarts[cid][0] < at:
                restarts[cid] = (at, how)
        return restarts

    def active_team_ids(self) -> list[str]:
        """Workspaces with at least one live customer and Partner still installed: the scheduler's outer loop (not
        scoped by team on purpose)."""
        with self.session() as session:
            uninstalled = select(Workspace.team_id).where(col(Workspace.active).is_(False))
            query = (
                select(Customer.team_id)
                .where(col(Customer.archived_at).is_(None), col(Customer.team_id).not_in(uninstalled))
                .distinct()
            )
            return sorted(session.exec(query))

    # ------------------------------------------------------------------ watermarks

    def watermark(self, *, team_id: str, job: str) -> datetime | None:
        with self.session() as session:
            row = session.get(JobWatermark, (team_id, job))
            return row.until if row is not None else None

    def advance_watermark(self, *, team_id: str, job: str, until: datetime) -> None:
        """Moves the watermark forward only: a slower replica finishing late never moves it back."""
        with self.session() as session:
            result = session.exec(  # type: ignore[call-overload]
                update(JobWatermark)
                .where(
                    col(JobWatermark.team_id) == team_id,
                    col(JobWatermark.job) == job,
                    col(JobWatermark.until) < until,
                )
                .values(until=until)
            )
            session.commit()
            if result.rowcount:
                return
            if session.get(JobWatermark, (team_id, job)) is not None:
                return  # already at or past `until`
            session.add(JobWatermark(team_id=team_id, job=job, until=until))
            try:
                session.commit()
            except IntegrityError:  # another replica inserted it first; its value is as good
                session.rollback()

    # ------------------------------------------------------------------ launch mode, snooze, pause

    def _change(
        self,
        *,
        team_id: str,
        customer_id: int,
        actor_id: str | None,
        now: datetime,
        kind: str,
        values: dict[str, Any],
        detail: dict[str, Any],
    ) -> Customer:
        with self.session() as session:
            # Read and written under the row's write lock: a retried form or command delivered while the first is
            # still being answered must find the change made, not record a second event beside it.
            _write_transaction(session)
            customer = _load(session, team_id=team_id, customer_id=customer_id, for_update=True)
            if all(getattr(customer, k) == v for k, v in values.items()):
                return customer  # nothing changes: a retried request records no second event
            for key, value in values.items():
                setattr(customer, key, value)
            customer.updated_at = now
            session.add(customer)
            session.add(
                CustomerEvent(
                    team_id=team_id, customer_id=customer_id, actor_id=actor_id, kind=kind, detail=detail, at=now
                )
            )
            session.commit()
            return customer

    def set_launch(
        self,
        *,
        team_id: str,
        customer_id: int,
        until: date | None,
        actor_id: str | None,
        now: datetime,
        restarts_clock: bool = False,
    ) -> Customer:
        """Launch mode (daily calls) up to and including the local date `until`; None turns it off. `restarts_clock`:
        it begins to owe daily calls the cadence did not (see LAUNCH_RESTARTS_CLOCK)."""
        detail: dict[str, Any] = {"until": until.isoformat() if until else None}
        if restarts_clock and until is not None:
            detail["clock"] = LAUNCH_RESTARTS_CLOCK
        return self._change(
            team_id=team_id,
            customer_id=customer_id,
            actor_id=actor_id,
            now=now,
            kind="launch",
            values={"launch_until": until},
            detail=detail,
        )

    def set_snooze(
        self,
        *,
        team_id: str,
        customer_id: int,
        until: datetime | None,
        reason: str | None,
        actor_id: str | None,
        now: datetime,
        request_key: str | None = None,
    ) -> Customer:
        """No nudges for the customer before `until` (None: snooze lifted). `request_key` (a form's) is kept in the
        event, so the same form sent again is known (handlers.views.nudges.submit_snooze)."""
        if until is not None:
            with self.session() as session:
                latest = session.exec(
                    select(func.max(CheckIn.created_at)).where(
                        CheckIn.team_id == team_id, CheckIn.customer_id == customer_id
                    )
                ).one()
            if latest is not None and latest.replace(tzinfo=None) == now.astimezone(UTC).replace(tzinfo=None):
                # A call logged in the same instant, before this snooze (its row is there already), was not logged
                # during it: read as such (`planner.snooze_reminder` counts one at the snooze's start), the call the
                # snooze puts off never came back. The snooze begins just after it, as the rows' order says.
                now += timedelta(microseconds=1)
        return self._change(
            team_id=team_id,
            customer_id=customer_id,
            actor_id=actor_id,
            now=now,
            kind="snoozed" if until else "unsnoozed",
            values={"snoozed_until": until, "snooze_reason": reason if until else None},
            detail={
                "until": until.isoformat() if until else None,
                "reason": reason,
                **({"request": request_key} if request_key else {}),
            },
        )

    def set_paused(
        self, *, team_id: str, customer_id: int, paused: bool, actor_id: str | None, now: datetime
    ) -> Customer:
        """Pause stops every nudge and alert for the customer until resumed; resuming also lifts a snooze."""
        with self.session() as session:
            current = _load(session, team_id=team_id, customer_id=customer_id)
        values: dict[str, Any] = {"paused_at": (current.paused_at or now) if paused else None}
        if not paused:
            values.update(snoozed_until=None, snooze_reason=None)
        return self._change(
            team_id=team_id,
            customer_id=customer_id,
            actor_id=actor_id,
            now=now,
            kind="paused" if paused else "resumed",
            values=values,
            detail={},
        )


def _load(session: Session, *, team_id: str, customer_id: int, for_update: bool = False) -> Customer:
    customer = session.get(Customer, customer_id, with_for_update=for_update)
    if customer is None or customer.team_id != team_id:
        raise UserError("That customer no longer exists.")
    return customer
