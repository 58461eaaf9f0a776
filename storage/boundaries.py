"""Boundaries (working agreements) and their slips.

The rules live in :mod:`domain.boundaries` on a frozen ``Boundary``; here rows are read into that
shape (:func:`to_rule`), a transition is applied to it, and the result is written back in the same
transaction, guarded by the status it was read with, so two clicks racing each other change it once.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from domain import boundaries as rules
from storage.base import StoreBase, in_chunks
from storage.cadence import returned_to_work
from storage.models import Boundary, BoundarySlip, Customer, CustomerEvent, Nudge, Workspace
from storage.nudges import _write_transaction

# The owner's "flag the relationship" answer to an escalated boundary (a customer event); it weighs on health.
RELATIONSHIP_FLAGGED = "relationship_flagged"
# The owner's answer to an escalation, whichever it was (a customer event, detail: boundary_id, option, message…).
DECISION_EVENT = "boundary_decision"
# The outbox row that asks the owner to decide (schedules.boundaries.ESCALATION), subject "boundary:<id>".
ESCALATION_KIND = "boundary_escalation"
# Columns a transition may change; everything else (text, wording, reminders) is edited explicitly.
_STATE_FIELDS = ("status", "activated_at", "held_at", "retired_at", "escalated_at")


@dataclass(frozen=True)
class HoldClock:
    """What stops or restarts a customer's hold clock (domain.boundaries.has_held): paused now, or back since."""

    paused: bool = False
    since: datetime | None = None  # the latest resume or restore


def to_rule(row: Boundary, slips: Sequence[BoundarySlip] = (), clock: HoldClock | None = None) -> rules.Boundary:
    """The domain view of a stored boundary, with its slips and its customer's hold clock."""
    clock = clock or HoldClock()
    return rules.Boundary(
        text=row.text,
        kind=row.kind,  # type: ignore[arg-type]  # validated by the domain constructor
        value=row.value,
        position=row.position,
        id=row.id,
        status=row.status,  # type: ignore[arg-type]
        activated_at=row.activated_at,
        held_at=row.held_at,
        retired_at=row.retired_at,
        escalated_at=row.escalated_at,
        slips=tuple(slip_rule(s) for s in slips),
        hold_from=clock.since,
        hold_paused=clock.paused,
    )


# A slip logged while the customer was paused is stored with this after its source ("manual/paused"): the source
# column has room for it, where a column of its own would need a migration.
PAUSED_SUFFIX = "/paused"


def slip_rule(slip: BoundarySlip) -> rules.Slip:
    """The domain view of a stored slip."""
    paused = slip.source.endswith(PAUSED_SUFFIX)
    source = slip.source.removesuffix(PAUSED_SUFFIX)
    return rules.Slip(at=slip.at, by=slip.by, note=slip.note, source=source, paused=paused)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Escalation:
    """When the owner was last asked to decide about a need (its outbox row), and what they decided since, if they
    did. Not the row's escalated_at alone: a decision moves that to the decision (its run of slips is answered)."""

    asked_at: datetime
    option: str | None = None  # talk, renegotiate, retire, flag (handlers.blocks.boundaries.DECISION_CHOSEN)
    decided_at: datetime | None = None
    decided_by: str | None = None


@dataclass(frozen=True)
class BoundaryRecord:
    """One stored boundary: its row, its slips (oldest first), the rules' view, and its number in `list`."""

    row: Boundary
    slips: tuple[BoundarySlip, ...]
    rule: rules.Boundary
    number: int
    escalation: Escalation | None = None  # read for the list and the card (boundary_records); else None

    @property
    def id(self) -> int:
        assert self.row.id is not None
        return self.row.id


class BoundaryConflict(Exception):
    """The boundary changed under us (another click won the race); re-read and try again."""


class BoundaryQueries(StoreBase):
    def add_boundary(
        self,
        *,
        team_id: str,
        customer_id: int,
        text: str,
        kind: str,
        value: str | None,
        created_by: str | None,
        now: datetime,
        request_key: str | None = None,
    ) -> Boundary:
        """A new proposed boundary, last in the customer's order of importance.

        A boundary in force or proposed with the same text is returned instead: the same request delivered again
        (a retry that overtook the first delivery while it waited on Slack) must not propose the need twice. Two
        deliveries at once both find none: `request_key` (unique per workspace) makes the second insert fail,
        and it returns the first's row.
        """
        with self.session() as session:
            same = _same_boundary(session, team_id, customer_id, text)
            if same is not None:
                return same
            last = session.exec(
                select(func.max(Boundary.position)).where(
                    Boundary.team_id == team_id, Boundary.customer_id == customer_id
                )
            ).one()
            row = Boundary(
                team_id=team_id,
                customer_id=customer_id,
                position=(last or 0) + 1,
                text=text,
                kind=kind,
                value=value,
                created_by=created_by,
                created_at=now,
                request_key=request_key,
            )
            session.add(row)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                first = session.exec(
                    select(Boundary).where(Boundary.team_id == team_id, Boundary.request_key == request_key)
                ).first()
                if request_key is None or first is None:
                    raise
                return first
            return row

    def boundary_records(self, *, team_id: str, customer_id: int) -> list[BoundaryRecord]:
        """Every boundary of a customer, retired ones included, numbered as `list` shows them."""
        with self.session() as session:
            params = {"team_id": team_id, "customer_id": customer_id}
            rows = list(session.exec(_BOUNDARIES_OF_CUSTOMER, params=params))  # type: ignore[call-overload]
            clocks = _hold_clocks(session, team_id, rows)
            records = _records(session, team_id, rows, clocks.get(customer_id))
            escalations = escalations_of(session, team_id, rows)
            return [dataclasses.replace(r, escalation=escalations.get(r.id)) for r in records]

    def boundary_record(self, *, team_id: str, boundary_id: int) -> BoundaryRecord | None:
        """One boundary, numbered within its customer's list."""
        row = self._boundary_row(team_id=team_id, boundary_id=boundary_id)
        if row is None:
            return None
        return next(
            (r for r in self.boundary_records(team_id=team_id, customer_id=row.customer_id) if r.id == boundary_id),
            None,
        )

    def _boundary_row(self, *, team_id: str, boundary_id: int) -> Boundary | None:
        with self.session() as session:
            row = session.get(Boundary, boundary_id)
            return row if row is not None and row.team_id == team_id else None

    def change_boundary(
        self,
        *,
        team_id: str,
        boundary_id: int,
        change: Callable[[rules.Boundary, list[rules.Boundary]], rules.Boundary],
    ) -> tuple[BoundaryRecord, BoundaryRecord]:
        """Apply a transition (given the boundary and its customer's others); returns (before, after).

        Read, checked and written under the customer's write lock (SQLite: the database's, BEGIN IMMEDIATE;
        PostgreSQL: the customer row's, FOR UPDATE): two people activating two different needs at the same moment
        must not both find none active. The write also only lands if the status is still what was read; otherwise
        :class:`BoundaryConflict`. The transition's ValueError (e.g. "it is already active") propagates unchanged.
        """
        with self.session() as session:
            _write_transaction(session)
            row = session.get(Boundary, boundary_id)
            if row is None or row.team_id != team_id:
                raise LookupError(f"boundary {boundary_id} not found")
            session.get(Customer, row.customer_id, with_for_update=True)
            params = {"team_id": team_id, "customer_id": row.customer_id}
            rows = list(session.exec(_BOUNDARIES_OF_CUSTOMER, params=params))  # type: ignore[call-overload]
            clocks = _hold_clocks(session, team_id, rows)
            siblings = _records(session, team_id, rows, clocks.get(row.customer_id))
            before = next(r for r in siblings if r.id == boundary_id)
            changed = change(before.rule, [r.rule for r in siblings])
            values = {name: getattr(changed, name) for name in _STATE_FIELDS}
            result = session.exec(  # type: ignore[call-overload]
                update(Boundary)
                .where(
                    col(Boundary.id) == boundary_id,
                    col(Boundary.team_id) == team_id,
                    col(Boundary.status) == before.row.status,
                )
                .values(**values)
                .execution_options(synchronize_session=False)  # `before` keeps the row as it was read
            )
            if result.rowcount != 1:
                session.rollback()
                raise BoundaryConflict(f"boundary {boundary_id} changed meanwhile")
            session.commit()
        after = self.boundary_record(team_id=team_id, boundary_id=boundary_id)
        assert after is not None
        return before, after

    def edit_boundary(self, *, team_id: str, boundary_id: int, **fields: Any) -> Boundary | None:
        """Set text/kind/value, reminder wording or schedule, last_template (the caller validated them)."""
        allowed = {"text", "kind", "value", "reminders", "reminder_text", "last_template", "escalated_at"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"not editable here: {', '.join(sorted(unknown))}")
        with self.session() as session:
            row = session.get(Boundary, boundary_id)
            if row is None or row.team_id != team_id:
                return None
            for name, value in fields.items():
                setattr(row, name, value)
            session.add(row)
            session.commit()
            return row

    def record_boundary_slip(
        self,
        *,
        team_id: str,
        boundary_id: int,
        at: datetime,
        by: str | None,
        note: str = "",
        source: rules.SlipSource = "manual",
        idempotency_key: str | None = None,
        reopens: bool = True,
    ) -> tuple[BoundaryRecord, bool]:
        """Log a slip (a held boundary goes back to active, per the rules, unless ``reopens`` is false); the same key
        twice logs one.

        A slip logged while the customer is paused is kept, marked so, and changes nothing (domain.record_slip).
        Returns the boundary after the slip and whether this call logged it.
        """
        record = self.boundary_record(team_id=team_id, boundary_id=boundary_id)
        if record is None:
            raise LookupError(f"boundary {boundary_id} not found")
        if idempotency_key is not None and self._slip_exists(team_id=team_id, idempotency_key=idempotency_key):
            return record, False
        with self.session() as session:
            customer = session.get(Customer, record.row.customer_id)
            paused = customer is not None and customer.paused_at is not None
        # ValueError when not in force
        changed = rules.record_slip(record.rule, at, by=by, note=note, source=source, paused=paused, reopens=reopens)
        slip = BoundarySlip(
            team_id=team_id,
            boundary_id=boundary_id,
            at=at,
            by=by,
            note=note.strip(),
            source=source + PAUSED_SUFFIX if paused else source,
            idempotency_key=idempotency_key,
        )
        with self.session() as session:
            session.add(slip)
            # The update flushes the insert first: a click at the same moment as its twin (two people, or Slack's
            # retry) meets the unique key there, not only at the commit.
            try:
                session.exec(  # type: ignore[call-overload]
                    update(Boundary)
                    .where(col(Boundary.id) == boundary_id, col(Boundary.team_id) == team_id)
                    .values(status=changed.status, held_at=changed.held_at)
                )
                session.commit()
            except IntegrityError:
                session.rollback()
                if idempotency_key is None:
                    raise
                created = False
            else:
                created = True
        after = self.boundary_record(team_id=team_id, boundary_id=boundary_id)
        assert after is not None
        return after, created

    def _slip_exists(self, *, team_id: str, idempotency_key: str) -> bool:
        with self.session() as session:
            return (
                session.exec(
                    select(BoundarySlip.id).where(
                        BoundarySlip.team_id == team_id, BoundarySlip.idempotency_key == idempotency_key
                    )
                ).first()
                is not None
            )

    def record_boundary_event(
        self,
        *,
        team_id: str,
        customer_id: int,
        actor_id: str | None,
        kind: str,
        detail: dict[str, Any],
        now: datetime,
    ) -> CustomerEvent:
        """A line in the customer's history: a boundary decision, a flagged relationship…"""
        event = CustomerEvent(
            team_id=team_id, customer_id=customer_id, actor_id=actor_id, kind=kind, detail=detail, at=now
        )
        with self.session() as session:
            session.add(event)
            session.commit()
            return event

    def boundary_events(self, *, team_id: str, customer_id: int, kinds: Sequence[str]) -> list[CustomerEvent]:
        with self.session() as session:
            return list(
                session.exec(
                    select(CustomerEvent)
                    .where(
                        CustomerEvent.team_id == team_id,
                        CustomerEvent.customer_id == customer_id,
                        col(CustomerEvent.kind).in_(list(kinds)),
                    )
                    .order_by(col(CustomerEvent.at), col(CustomerEvent.id))
                )
            )

    def customers_with_live_boundaries(self) -> list[tuple[Customer, list[BoundaryRecord]]]:
        """For the scheduled jobs, across workspaces: each live customer of an active workspace that has a
        boundary not yet retired, with all its boundaries."""
        with self.session() as session:
            customers = list(
                session.exec(
                    select(Customer)
                    .join(Workspace, col(Workspace.team_id) == col(Customer.team_id))
                    .where(
                        col(Workspace.active).is_(True),
                        col(Customer.archived_at).is_(None),
                        col(Customer.id).in_(
                            select(Boundary.customer_id).where(col(Boundary.status) != "retired").distinct()
                        ),
                    )
                    .order_by(col(Customer.team_id), col(Customer.id))
                )
            )
            # Every tick asks this of every customer with a boundary: their boundaries and slips in one query
            # each (per 500 customers), not two per customer.
            rows: dict[int, list[Boundary]] = {c.id: [] for c in customers if c.id is not None}
            for chunk in in_chunks(list(rows)):
                for row in session.exec(
                    select(Boundary)
                    .where(col(Boundary.customer_id).in_(chunk))
                    .order_by(col(Boundary.customer_id), col(Boundary.position), col(Boundary.id))
                ):
                    rows[row.customer_id].append(row)
            slips = _slips_of(session, [r.id for boundaries in rows.values() for r in boundaries if r.id is not None])
            clocks: dict[int, HoldClock] = {}
            for team_id, team in itertools.groupby(customers, key=lambda c: c.team_id):
                clocks |= _hold_clocks(session, team_id, [r for c in team for r in rows[c.id or 0]])
        return [(c, _numbered(rows[c.id], slips, clocks.get(c.id))) for c in customers if c.id is not None]


def _hold_clocks(session: Session, team_id: str, rows: list[Boundary]) -> dict[int, HoldClock]:
    """The hold clock of each customer with a need being introduced (active): paused now, and its latest resume or
    restore. Read only for those (a customer with none needs no clock): one statement per 500 customers."""
    ids = sorted({r.customer_id for r in rows if r.status == "active"})
    clocks: dict[int, HoldClock] = {}
    for chunk in in_chunks(ids):
        query = (
            select(Customer.id, Customer.paused_at, func.max(CustomerEvent.at))
            .select_from(Customer)
            .outerjoin(
                CustomerEvent,
                and_(
                    col(CustomerEvent.customer_id) == col(Customer.id),
                    col(CustomerEvent.team_id) == team_id,
                    returned_to_work(),
                ),
            )
            .where(Customer.team_id == team_id, col(Customer.id).in_(chunk))
            .group_by(col(Customer.id), col(Customer.paused_at))
        )
        clocks |= {
            cid: HoldClock(paused=paused_at is not None, since=_aware(back))
            for cid, paused_at, back in session.exec(query)
            if cid is not None
        }
    return clocks


def _aware(at: datetime | None) -> datetime | None:
    # SQLite hands back naive UTC from an aggregate (no column type to convert it with).
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


def escalations_of(session: Session, team_id: str, rows: Sequence[Boundary]) -> dict[int, Escalation]:
    """Each escalated boundary's latest escalation and the decision made on it since (boundaries of one customer or
    of a Home page's); none escalated, no query."""
    escalated = {f"boundary:{r.id}": r for r in rows if r.id is not None and r.escalated_at is not None}
    if not escalated:
        return {}
    asked: dict[int, datetime] = {}
    for subject, due_at in session.exec(
        select(Nudge.subject, func.max(Nudge.due_at))
        .where(Nudge.team_id == team_id, Nudge.kind == ESCALATION_KIND, col(Nudge.subject).in_(list(escalated)))
        .group_by(Nudge.subject)
    ):
        asked[escalated[subject].id or 0] = _aware(due_at) or due_at
    for row in escalated.values():  # no outbox row kept for it: the row's own time, as before
        if row.escalated_at is not None:
            asked.setdefault(row.id or 0, row.escalated_at)
    found = {boundary_id: Escalation(asked_at=at) for boundary_id, at in asked.items()}
    decisions = session.exec(
        select(CustomerEvent)
        .where(
            CustomerEvent.team_id == team_id,
            col(CustomerEvent.customer_id).in_(list({r.customer_id for r in escalated.values()})),
            CustomerEvent.kind == DECISION_EVENT,
        )
        .order_by(col(CustomerEvent.at), col(CustomerEvent.id))
    )
    for event in decisions:
        boundary_id = (event.detail or {}).get("boundary_id")
        at = _aware(event.at)
        if boundary_id in found and at is not None and at >= found[boundary_id].asked_at:
            option = str(event.detail.get("option"))
            found[boundary_id] = dataclasses.replace(
                found[boundary_id], option=option, decided_at=at, decided_by=event.actor_id
            )
    return found


def _records(session: Session, team_id: str, rows: list[Boundary], clock: HoldClock | None) -> list[BoundaryRecord]:
    return _numbered(rows, _slips_of(session, [r.id for r in rows if r.id is not None], team_id=team_id), clock)


def _slips_of(session: Session, ids: list[int], *, team_id: str | None = None) -> dict[int, list[BoundarySlip]]:
    """Each boundary's slips, oldest first (a boundary id belongs to one team: `team_id` only narrows the read)."""
    by_boundary: dict[int, list[BoundarySlip]] = {i: [] for i in ids}
    for chunk in in_chunks(ids):
        query = select(BoundarySlip).where(col(BoundarySlip.boundary_id).in_(chunk))
        if team_id is not None:
            query = query.where(BoundarySlip.team_id == team_id)
        for slip in session.exec(query.order_by(col(BoundarySlip.at), col(BoundarySlip.id))):
            by_boundary[slip.boundary_id].append(slip)
    return by_boundary


def _numbered(
    rows: list[Boundary], slips: dict[int, list[BoundarySlip]], clock: HoldClock | None = None
) -> list[BoundaryRecord]:
    """A customer's boundaries (in list order) as records numbered as `list` shows them."""
    records = []
    for n, row in enumerate(rows, 1):
        own = slips.get(row.id or 0, [])
        records.append(BoundaryRecord(row=row, slips=tuple(own), rule=to_rule(row, own, clock), number=n))
    return records


def _same_boundary(session: Session, team_id: str, customer_id: int, text: str) -> Boundary | None:
    """The customer's boundary in force or proposed with this text, if any."""
    rows = session.exec(
        select(Boundary).where(
            Boundary.team_id == team_id, Boundary.customer_id == customer_id, col(Boundary.status) != "retired"
        )
    )
    return next((row for row in rows if row.text.casefold() == text.casefold()), None)


# Every check-in's follow-up reads its customer's boundaries: built once, the values as parameters.
_BOUNDARIES_OF_CUSTOMER = (
    select(Boundary)
    .where(Boundary.team_id == bindparam("team_id"), Boundary.customer_id == bindparam("customer_id"))
    .order_by(col(Boundary.position), col(Boundary.id))
)
