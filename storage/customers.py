"""Customers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from domain.customers import clean_name, name_key
from domain.errors import UserError
from storage.models import Customer
from storage.workspaces import WorkspaceQueries


class CustomerQueries(WorkspaceQueries):
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
