"""Every table, in one place. Each row is scoped by the Slack workspace (team_id)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime, Index, Text, TypeDecorator, UniqueConstraint
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC and always hands back aware UTC datetimes, on SQLite (which keeps no zone) too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_column(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


MOODS = ("green", "yellow", "red")
CHECKIN_KINDS = ("call", "async", "message")


class Workspace(SQLModel, table=True):
    team_id: str = Field(primary_key=True, max_length=32)
    name: str | None = Field(default=None, max_length=255)
    created_at: datetime = utc_column()


class CustomerBase(SQLModel):
    name: str = Field(max_length=80)
    channel_id: str | None = Field(default=None, max_length=32)
    owner_id: str | None = Field(default=None, max_length=32)
    tz: str | None = Field(default=None, max_length=64)
    country: str | None = Field(default=None, max_length=8)
    cadence: str | None = Field(default=None, max_length=64)
    tier: str | None = Field(default=None, max_length=32)


class Customer(CustomerBase, table=True):
    __table_args__ = (UniqueConstraint("team_id", "name_key", name="uq_customer_team_name"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32, index=True)
    # Case-folded name: names are unique per workspace whatever their case.
    name_key: str = Field(max_length=80)
    created_by: str | None = Field(default=None, max_length=32)
    created_at: datetime = utc_column()
    updated_at: datetime = utc_column()
    archived_at: datetime | None = utc_column(nullable=True)


class CheckInBase(SQLModel):
    mood: str = Field(max_length=8)
    note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    kind: str = Field(default="async", max_length=16)


class CheckIn(CheckInBase, table=True):
    __tablename__ = "checkin"
    __table_args__ = (
        # The same Slack request delivered twice (retry, replay, double click) stores one row.
        UniqueConstraint("team_id", "idempotency_key", name="uq_checkin_idempotency"),
        Index("ix_checkin_customer_created", "customer_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32, index=True)
    customer_id: int = Field(foreign_key="customer.id")
    author_id: str = Field(max_length=32)
    created_at: datetime = utc_column()
    idempotency_key: str | None = Field(default=None, max_length=255)
