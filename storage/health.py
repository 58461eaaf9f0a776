"""Health: what the score reads (check-ins, boundaries) and what it writes (the customer's score, daily snapshots)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from storage.base import StoreBase
from storage.models import Boundary, BoundarySlip, CheckIn, Customer, CustomerEvent, HealthSnapshot, Workspace


class HealthQueries(StoreBase):
    def checkins_since(self, *, team_id: str, customer_id: int, since: datetime) -> list[CheckIn]:
        """Check-ins at or after `since`, oldest first."""
        with self.session() as session:
            query = (
                select(CheckIn)
                .where(CheckIn.team_id == team_id, CheckIn.customer_id == customer_id, CheckIn.created_at >= since)
                .order_by(col(CheckIn.created_at), col(CheckIn.id))
            )
            return list(session.exec(query))

    def last_checkin_at(
        self, *, team_id: str, customer_id: int, kinds: tuple[str, ...] | None = None
    ) -> datetime | None:
        with self.session() as session:
            query = select(CheckIn.created_at).where(CheckIn.team_id == team_id, CheckIn.customer_id == customer_id)
            if kinds is not None:
                query = query.where(col(CheckIn.kind).in_(kinds))
            return session.exec(query.order_by(col(CheckIn.created_at).desc()).limit(1)).first()

    def boundaries_with_slips(self, *, team_id: str, customer_id: int) -> list[tuple[Boundary, list[BoundarySlip]]]:
        """Every boundary of the customer with its slips (oldest first), in two queries."""
        with self.session() as session:
            boundaries = list(
                session.exec(
                    select(Boundary)
                    .where(Boundary.team_id == team_id, Boundary.customer_id == customer_id)
                    .order_by(col(Boundary.position), col(Boundary.id))
                )
            )
            ids = [b.id for b in boundaries if b.id is not None]
            slips: dict[int, list[BoundarySlip]] = {i: [] for i in ids}
            if ids:
                for slip in session.exec(
                    select(BoundarySlip)
                    .where(BoundarySlip.team_id == team_id, col(BoundarySlip.boundary_id).in_(ids))
                    .order_by(col(BoundarySlip.at))
                ):
                    slips[slip.boundary_id].append(slip)
            return [(b, slips.get(b.id or 0, [])) for b in boundaries]

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
        for _ in range(2):  # a concurrent recompute may insert the day's row first; then update it
            with self.session() as session:
                customer = session.get(Customer, customer_id)
                if customer is None or customer.team_id != team_id:
                    raise LookupError(f"no customer {customer_id} in {team_id}")
                customer.health_score = score
                customer.health_band = band
                customer.health_at = now
                session.add(customer)
                snapshot = session.exec(
                    select(HealthSnapshot).where(HealthSnapshot.customer_id == customer_id, HealthSnapshot.day == day)
                ).first()
                if snapshot is None:
                    snapshot = HealthSnapshot(
                        team_id=team_id, customer_id=customer_id, day=day, band=band, computed_at=now
                    )
                snapshot.score = score
                snapshot.band = band
                snapshot.components = components
                snapshot.computed_at = now
                session.add(snapshot)
                try:
                    session.commit()
                except IntegrityError:
                    session.rollback()
                    continue
                return snapshot
        raise RuntimeError("could not save the health snapshot")

    def health_snapshots(self, *, team_id: str, customer_id: int, since: date) -> list[HealthSnapshot]:
        """Snapshots from `since` (a local day) on, oldest first."""
        with self.session() as session:
            query = (
                select(HealthSnapshot)
                .where(
                    HealthSnapshot.team_id == team_id,
                    HealthSnapshot.customer_id == customer_id,
                    HealthSnapshot.day >= since,
                )
                .order_by(col(HealthSnapshot.day))
            )
            return list(session.exec(query))

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
