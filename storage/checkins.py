"""Check-ins."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from storage.base import StoreBase
from storage.models import CheckIn


class CheckInQueries(StoreBase):
    def record_checkin(
        self,
        *,
        team_id: str,
        customer_id: int,
        author_id: str,
        mood: str,
        note: str,
        now: datetime,
        kind: str = "async",
        idempotency_key: str | None = None,
    ) -> tuple[CheckIn, bool]:
        """Stores a check-in; the same idempotency key twice returns the first row and False."""
        checkin = CheckIn(
            team_id=team_id,
            customer_id=customer_id,
            author_id=author_id,
            mood=mood,
            note=note,
            kind=kind,
            created_at=now,
            idempotency_key=idempotency_key,
        )
        with self.session() as session:
            session.add(checkin)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                if idempotency_key is None:
                    raise
                existing = self.checkin_by_key(team_id=team_id, idempotency_key=idempotency_key)
                if existing is None:
                    raise
                return existing, False
            return checkin, True

    def checkins(self, *, team_id: str, customer_id: int | None = None, limit: int = 50) -> Sequence[CheckIn]:
        with self.session() as session:
            query = select(CheckIn).where(CheckIn.team_id == team_id)
            if customer_id is not None:
                query = query.where(CheckIn.customer_id == customer_id)
            query = query.order_by(col(CheckIn.created_at).desc(), col(CheckIn.id).desc()).limit(limit)
            return list(session.exec(query))

    def count_checkins(self, *, team_id: str) -> int:
        with self.session() as session:
            return session.exec(select(func.count()).select_from(CheckIn).where(CheckIn.team_id == team_id)).one()

    def checkin_by_key(self, *, team_id: str, idempotency_key: str) -> CheckIn | None:
        with self.session() as session:
            return session.exec(
                select(CheckIn).where(CheckIn.team_id == team_id, CheckIn.idempotency_key == idempotency_key)
            ).first()

    def latest_checkins(self, *, team_id: str, customer_ids: Sequence[int]) -> dict[int, CheckIn]:
        """The newest check-in of each customer, in one query whatever the number of customers."""
        if not customer_ids:
            return {}
        with self.session() as session:
            newest = (
                select(CheckIn.customer_id, func.max(CheckIn.created_at).label("at"))
                .where(CheckIn.team_id == team_id, col(CheckIn.customer_id).in_(customer_ids))
                .group_by(col(CheckIn.customer_id))
                .subquery()
            )
            rows = session.exec(
                select(CheckIn)
                .join(newest, (CheckIn.customer_id == newest.c.customer_id) & (CheckIn.created_at == newest.c.at))
                .where(CheckIn.team_id == team_id)
                .order_by(col(CheckIn.id))
            )
            return {row.customer_id: row for row in rows}
