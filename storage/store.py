"""The repository: every read and write the app makes, keyword-only, each in its own short transaction.

A Store is long-lived and thread-safe (it holds the engine, not a session), so Bolt listeners, the
scheduler and the CLI can share one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from domain.customers import clean_name, name_key
from domain.errors import UserError
from storage.models import CheckIn, Customer, Workspace


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __deepcopy__(self, memo: dict[int, Any]) -> Store:
        # Bolt deep-copies the context for lazy listeners; a store is a shared handle, never duplicated.
        return self

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def ping(self) -> bool:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True

    # Workspaces

    def ensure_workspace(self, *, team_id: str, now: datetime, name: str | None = None) -> Workspace:
        with self.session() as session:
            workspace = session.get(Workspace, team_id)
            if workspace is not None:
                return workspace
            workspace = Workspace(team_id=team_id, name=name, created_at=now)
            session.add(workspace)
            try:
                session.commit()
            except IntegrityError:  # another request created it first
                session.rollback()
                return session.get_one(Workspace, team_id)
            return workspace

    # Customers

    def add_customer(
        self,
        *,
        team_id: str,
        name: str,
        created_by: str | None,
        now: datetime,
        channel_id: str | None = None,
        owner_id: str | None = None,
        tz: str | None = None,
        country: str | None = None,
        cadence: str | None = None,
    ) -> Customer:
        name = clean_name(name)
        self.ensure_workspace(team_id=team_id, now=now)
        customer = Customer(
            team_id=team_id,
            name=name,
            name_key=name_key(name),
            channel_id=channel_id,
            owner_id=owner_id,
            tz=tz,
            country=country,
            cadence=cadence,
            created_by=created_by,
            created_at=now,
            updated_at=now,
        )
        with self.session() as session:
            session.add(customer)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                existing = self.customer_by_name(team_id=team_id, name=name, include_archived=True)
                archived = existing is not None and existing.archived_at is not None
                hint = " (archived — bring it back with `/partner restore`)" if archived else ""
                shown = existing.name if existing else name
                raise UserError(f"There is already a customer called *{shown}*{hint}.") from None
            return customer

    def customers(self, *, team_id: str, include_archived: bool = False) -> list[Customer]:
        with self.session() as session:
            query = select(Customer).where(Customer.team_id == team_id)
            if not include_archived:
                query = query.where(col(Customer.archived_at).is_(None))
            return list(session.exec(query.order_by(Customer.name_key)))

    def customer(self, *, team_id: str, customer_id: int) -> Customer | None:
        with self.session() as session:
            customer = session.get(Customer, customer_id)
            return customer if customer is not None and customer.team_id == team_id else None

    def customer_by_name(self, *, team_id: str, name: str, include_archived: bool = False) -> Customer | None:
        with self.session() as session:
            query = select(Customer).where(Customer.team_id == team_id, Customer.name_key == name_key(name))
            if not include_archived:
                query = query.where(col(Customer.archived_at).is_(None))
            return session.exec(query).first()

    # Check-ins

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
