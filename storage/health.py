"""Health: what the score reads (check-ins, boundaries) and what it writes (the customer's score, daily snapshots)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import defer
from sqlmodel import col, select

from storage.base import StoreBase
from storage.models import (
    Boundary,
    BoundarySlip,
    CheckIn,
    Customer,
    CustomerEvent,
    HealthSnapshot,
    SurveyResponse,
    Workspace,
)


@dataclass(frozen=True)
class HealthScore:
    """One customer's new score, as :meth:`HealthQueries.save_health_many` stores it."""

    customer_id: int
    score: int | None
    band: str
    components: dict[str, Any]
    day: date  # the customer-local day of the snapshot


class HealthQueries(StoreBase):
    """Each read exists for a batch of customers (one query per kind of input, for the daily job) and for one
    customer (the request path), the single form being the batch form with one id."""

    def checkins_since(self, *, team_id: str, customer_id: int, since: datetime) -> list[CheckIn]:
        """Check-ins at or after `since`, oldest first."""
        return self.checkins_since_many(team_id=team_id, customer_ids=[customer_id], since=since)[customer_id]

    def checkins_since_many(
        self, *, team_id: str, customer_ids: Sequence[int], since: datetime
    ) -> dict[int, list[CheckIn]]:
        """Each customer's check-ins at or after `since`, oldest first (an empty list for none)."""
        found: dict[int, list[CheckIn]] = {i: [] for i in customer_ids}
        if not found:
            return found
        with self.session() as session:
            query = (
                select(CheckIn)
                .where(
                    CheckIn.team_id == team_id,
                    col(CheckIn.customer_id).in_(list(found)),
                    CheckIn.created_at >= since,
                )
                .order_by(col(CheckIn.customer_id), col(CheckIn.created_at), col(CheckIn.id))
            )
            for checkin in session.exec(query):
                found[checkin.customer_id].append(checkin)
        return found

    def last_checkin_at(
        self, *, team_id: str, customer_id: int, kinds: tuple[str, ...] | None = None
    ) -> datetime | None:
        with self.session() as session:
            query = select(CheckIn.created_at).where(CheckIn.team_id == team_id, CheckIn.customer_id == customer_id)
            if kinds is not None:
                query = query.where(col(CheckIn.kind).in_(kinds))
            return session.exec(query.order_by(col(CheckIn.created_at).desc()).limit(1)).first()

    def last_checkin_at_many(
        self, *, team_id: str, customer_ids: Sequence[int], kinds: tuple[str, ...] | None = None
    ) -> dict[int, datetime]:
        """Each customer's latest check-in time (of `kinds`, when given); customers without one are left out."""
        if not customer_ids:
            return {}
        with self.session() as session:
            latest = func.max(CheckIn.created_at)  # typed like the column, so it comes back aware UTC
            query = select(CheckIn.customer_id, latest).where(
                CheckIn.team_id == team_id, col(CheckIn.customer_id).in_(list(customer_ids))
            )
            if kinds is not None:
                query = query.where(col(CheckIn.kind).in_(kinds))
            rows = session.exec(query.group_by(col(CheckIn.customer_id)))
            return {customer_id: at for customer_id, at in rows if at is not None}

    def boundaries_with_slips(self, *, team_id: str, customer_id: int) -> list[tuple[Boundary, list[BoundarySlip]]]:
        """Every boundary of the customer with its slips (oldest first), in two queries."""
        return self.boundaries_with_slips_many(team_id=team_id, customer_ids=[customer_id])[customer_id]

    def boundaries_with_slips_many(
        self, *, team_id: str, customer_ids: Sequence[int]
    ) -> dict[int, list[tuple[Boundary, list[BoundarySlip]]]]:
        """Each customer's boundaries in their order, each with its slips (oldest first), in two queries."""
        found: dict[int, list[tuple[Boundary, list[BoundarySlip]]]] = {i: [] for i in customer_ids}
        if not found:
            return found
        with self.session() as session:
            boundaries = list(
                session.exec(
                    select(Boundary)
                    .where(Boundary.team_id == team_id, col(Boundary.customer_id).in_(list(found)))
                    .order_by(col(Boundary.customer_id), col(Boundary.position), col(Boundary.id))
                )
            )
            slips: dict[int, list[BoundarySlip]] = {b.id: [] for b in boundaries if b.id is not None}
            if slips:
                for slip in session.exec(
                    select(BoundarySlip)
                    .where(BoundarySlip.team_id == team_id, col(BoundarySlip.boundary_id).in_(list(slips)))
                    .order_by(col(BoundarySlip.at), col(BoundarySlip.id))
                ):
                    slips[slip.boundary_id].append(slip)
        for b in boundaries:
            found[b.customer_id].append((b, slips.get(b.id or 0, [])))
        return found

    def latest_scorecards(self, *, team_id: str, customer_ids: Sequence[int]) -> dict[int, SurveyResponse]:
        """Each customer's newest scorecard answer (as `latest_survey_response` picks it); none → left out."""
        if not customer_ids:
            return {}
        with self.session() as session:
            query = (
                select(SurveyResponse)
                .where(
                    SurveyResponse.team_id == team_id,
                    SurveyResponse.survey == "scorecard",
                    col(SurveyResponse.customer_id).in_(list(customer_ids)),
                )
                .order_by(col(SurveyResponse.created_at).desc(), col(SurveyResponse.id).desc())
            )
            latest: dict[int, SurveyResponse] = {}
            for response in session.exec(query):
                if response.customer_id is not None:
                    latest.setdefault(response.customer_id, response)  # the first seen is the newest
            return latest

    def save_health(
        self,
        *,
        team_id: str,
        customer_id: int,
        score: int | None,
        band: str,
        components: dict[str, Any],
        day: date,
        now: datetime,
    ) -> HealthSnapshot:
        """Puts the score on the customer and in the day's snapshot (one row per customer-local day, updated)."""
        new = HealthScore(customer_id=customer_id, score=score, band=band, components=components, day=day)
        saved = self.save_health_many(team_id=team_id, scores=[new], now=now)
        if customer_id not in saved:
            raise LookupError(f"no customer {customer_id} in {team_id}")
        return saved[customer_id]

    def save_health_many(
        self, *, team_id: str, scores: Sequence[HealthScore], now: datetime
    ) -> dict[int, HealthSnapshot]:
        """Puts each score on its customer and in the customer's snapshot of that day, in one transaction.

        Customers that no longer exist in the team are left out of the answer (and nothing is saved for them).
        """
        ids = [s.customer_id for s in scores]
        for _ in range(2):  # a concurrent recompute may insert a day's row first; then the retry updates it
            with self.session() as session:
                customers = {
                    c.id: c
                    for c in session.exec(
                        select(Customer).where(Customer.team_id == team_id, col(Customer.id).in_(ids))
                    )
                }
                existing = {
                    (s.customer_id, s.day): s
                    for s in session.exec(
                        select(HealthSnapshot).where(
                            col(HealthSnapshot.customer_id).in_(ids),
                            col(HealthSnapshot.day).in_(sorted({s.day for s in scores})),
                        )
                    )
                }
                saved: dict[int, HealthSnapshot] = {}
                for new in scores:
                    customer = customers.get(new.customer_id)
                    if customer is None:
                        continue
                    customer.health_score = new.score
                    customer.health_band = new.band
                    customer.health_at = now
                    session.add(customer)
                    snapshot = existing.get((new.customer_id, new.day)) or HealthSnapshot(
                        team_id=team_id, customer_id=new.customer_id, day=new.day, band=new.band, computed_at=now
                    )
                    snapshot.score = new.score
                    snapshot.band = new.band
                    snapshot.components = new.components
                    snapshot.computed_at = now
                    session.add(snapshot)
                    saved[new.customer_id] = snapshot
                try:
                    session.commit()
                except IntegrityError:
                    session.rollback()
                    continue
                return saved
        raise RuntimeError("could not save the health snapshots")

    def health_snapshots(self, *, team_id: str, customer_id: int, since: date) -> list[HealthSnapshot]:
        """Snapshots from `since` (a local day) on, oldest first."""
        return self.health_snapshots_many(team_id=team_id, customer_ids=[customer_id], since=since)[customer_id]

    def health_snapshots_many(
        self, *, team_id: str, customer_ids: Sequence[int], since: date, scores_only: bool = False
    ) -> dict[int, list[HealthSnapshot]]:
        """Each customer's snapshots from `since` (a local day) on, oldest first.

        `scores_only` leaves each snapshot's components unread (the drop alert needs only days, times and scores;
        decoding thousands of JSON documents was a good part of the daily job's time).
        """
        found: dict[int, list[HealthSnapshot]] = {i: [] for i in customer_ids}
        if not found:
            return found
        with self.session() as session:
            query = (
                select(HealthSnapshot)
                .where(
                    HealthSnapshot.team_id == team_id,
                    col(HealthSnapshot.customer_id).in_(list(found)),
                    HealthSnapshot.day >= since,
                )
                .order_by(col(HealthSnapshot.customer_id), col(HealthSnapshot.day))
            )
            if scores_only:
                query = query.options(defer(HealthSnapshot.components))  # type: ignore[arg-type]
            for snapshot in session.exec(query):
                found[snapshot.customer_id].append(snapshot)
        return found

    def customers_for_health(self) -> list[Customer]:
        """Live customers of every active workspace, for the daily recompute."""
        with self.session() as session:
            query = (
                select(Customer)
                .join(Workspace, col(Workspace.team_id) == col(Customer.team_id))
                .where(col(Customer.archived_at).is_(None), col(Workspace.active).is_(True))
                .order_by(col(Customer.team_id), col(Customer.id))
            )
            return list(session.exec(query))

    def latest_health_reasons(self, *, team_id: str, customer_id: int) -> list[str]:
        """The top reasons stored with the newest snapshot."""
        with self.session() as session:
            snapshot = session.exec(
                select(HealthSnapshot)
                .where(HealthSnapshot.team_id == team_id, HealthSnapshot.customer_id == customer_id)
                .order_by(col(HealthSnapshot.day).desc())
                .limit(1)
            ).first()
            return list(snapshot.components.get("reasons", [])) if snapshot is not None else []

    def record_health_alert(self, *, team_id: str, customer_id: int, detail: dict[str, Any], now: datetime) -> None:
        """A health_alert line in the customer's history; the caller makes it once (the outbox's unique key)."""
        with self.session() as session:
            session.add(
                CustomerEvent(team_id=team_id, customer_id=customer_id, kind="health_alert", detail=detail, at=now)
            )
            session.commit()
