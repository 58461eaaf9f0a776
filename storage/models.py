"""Every table, in one place. Each row is scoped by the Slack workspace (team_id)."""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, Table, Text, TypeDecorator, UniqueConstraint
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
    return Field(default=None if nullable else ..., sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


def json_column() -> Any:
    return Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


def text_column() -> Any:
    return Field(default="", sa_column=Column(Text, nullable=False, default=""))


# A check-in's mood is one of these colours, or a 1–5 rating kept as typed ("4"): read both through
# domain.health.mood_colour / mood_value.
MOODS = ("green", "yellow", "red")
CHECKIN_KINDS = ("call", "async", "message")


class Workspace(SQLModel, table=True):
    team_id: str = Field(primary_key=True, max_length=32)
    name: str | None = Field(default=None, max_length=255)
    created_at: datetime = utc_column()
    # False once the app is uninstalled or its tokens revoked: nothing is sent, data is kept.
    active: bool = Field(default=True)
    uninstalled_at: datetime | None = utc_column(nullable=True)
    digest_channel_id: str | None = Field(default=None, max_length=32)
    digest_schedule: str | None = Field(default=None, max_length=64)  # e.g. "weekly mon 09:00"
    tz: str | None = Field(default=None, max_length=64)
    settings: dict[str, Any] = json_column()


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
    subdiv: str | None = Field(default=None, max_length=16)  # region for holidays, e.g. CA in US-CA
    working_week: str | None = Field(default=None, max_length=32)  # e.g. "sun-thu"; None: Monday to Friday
    launch_until: date | None = None  # launch mode: daily calls up to and including this local date
    paused_at: datetime | None = utc_column(nullable=True)
    snoozed_until: datetime | None = utc_column(nullable=True)
    snooze_reason: str | None = Field(default=None, max_length=300)
    post_checkins: bool = Field(default=True)  # post a summary of each check-in in the customer's channel
    ideal_days: int | None = None  # overrides of the cadence's ideal and maximum windows
    max_days: int | None = None
    # Why the bot cannot post in the customer's channel (channel_not_found, not_in_channel, is_archived).
    channel_error: str | None = Field(default=None, max_length=64)
    channel_error_at: datetime | None = utc_column(nullable=True)
    # The channel is shared with another organisation (Slack Connect): the customer's people read it, so check-in
    # summaries and cadence nudges stay out of it (boundary reminders and survey invitations are for them).
    channel_shared: bool = Field(default=False)
    # When Slack last told Partner whether the channel is shared (a look-up or a channel_shared/unshared event);
    # None: never since the channel was given (or since Partner started recording it): looked up before posting.
    channel_shared_checked_at: datetime | None = utc_column(nullable=True)
    health_score: int | None = None
    health_band: str | None = Field(default=None, max_length=16)
    health_at: datetime | None = utc_column(nullable=True)


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
        # A customer's last call (what satisfies the cadence) in one probe, for the Home and the digest.
        Index("ix_checkin_customer_kind_created", "customer_id", "kind", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32, index=True)
    customer_id: int = Field(foreign_key="customer.id")
    author_id: str = Field(max_length=32)
    created_at: datetime = utc_column()
    idempotency_key: str | None = Field(default=None, max_length=255)
    next_step: str | None = Field(default=None, max_length=2500)  # 500 characters the user sees, escaped like notes
    next_due: date | None = None
    response_days: float | None = None  # "the customer's reply took N days", for response-time boundaries
    permalink: str | None = Field(default=None, max_length=500)  # the Slack message it was logged from
    summary_ts: str | None = Field(default=None, max_length=32)  # the summary posted in the customer's channel


class CustomerEvent(SQLModel, table=True):
    """What happened to a customer record: created, renamed, edited, archived, restored, tier changed…"""

    __tablename__ = "customer_event"
    __table_args__ = (
        Index("ix_customer_event_customer_at", "customer_id", "at"),
        # A team's renames (every check-in's ack asks whether a former name matches), not its whole history.
        Index("ix_customer_event_team_kind", "team_id", "kind"),
        # An event recorded once (record_customer_event_once): two deliveries at once cannot both insert it.
        UniqueConstraint("team_id", "customer_id", "kind", "dedupe", name="uq_customer_event_once"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32, index=True)
    customer_id: int = Field(foreign_key="customer.id")
    actor_id: str | None = Field(default=None, max_length=32)
    kind: str = Field(max_length=32)
    detail: dict[str, Any] = json_column()
    at: datetime = utc_column()
    dedupe: str | None = Field(default=None, max_length=255)  # what makes it once-only (None: any number)


# "sending": a sender is posting it right now; if that sender dies, the outcome is unknown and it is never re-sent.
NUDGE_STATUSES = ("pending", "claimed", "sending", "sent", "failed", "missed", "skipped", "cancelled")


class Nudge(SQLModel, table=True):
    """The outbox: one row per message Partner owes someone, created before it is sent.

    (team, kind, subject, due_key) is unique, so planning the same nudge twice — a second tick, another
    replica — finds the row already there. Senders claim rows with a lease before sending.
    """

    __table_args__ = (
        UniqueConstraint("team_id", "kind", "subject", "due_key", name="uq_nudge_once"),
        Index("ix_nudge_status_due", "status", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    kind: str = Field(max_length=32)  # cadence, overdue, boundary_reminder, survey_prompt, digest, …
    subject: str = Field(max_length=64)  # whom it is about: "customer:12", "boundary:3", "user:U123", "team"
    due_key: str = Field(max_length=64)  # which occurrence: a local date, an ISO week, a check-in id…
    customer_id: int | None = Field(default=None, foreign_key="customer.id", index=True)
    recipient_id: str | None = Field(default=None, max_length=32)  # channel or user; None: decided at send time
    due_at: datetime = utc_column()
    created_at: datetime = utc_column()
    status: str = Field(default="pending", max_length=16)
    claimed_by: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = utc_column(nullable=True)
    attempts: int = Field(default=0)
    next_attempt_at: datetime | None = utc_column(nullable=True)
    sent_at: datetime | None = utc_column(nullable=True)
    channel_id: str | None = Field(default=None, max_length=32)  # where it was posted
    message_ts: str | None = Field(default=None, max_length=32)
    error: str | None = Field(default=None, max_length=255)
    payload: dict[str, Any] = json_column()


class JobWatermark(SQLModel, table=True):
    """How far a scheduled job has worked through time in a workspace: its next run covers (until, now]."""

    __tablename__ = "job_watermark"

    team_id: str = Field(primary_key=True, max_length=32)
    job: str = Field(primary_key=True, max_length=64)
    until: datetime = utc_column()


BOUNDARY_STATUSES = ("proposed", "active", "held", "retired")


class Boundary(SQLModel, table=True):
    """A working agreement with a customer, introduced one at a time."""

    __table_args__ = (
        Index("ix_boundary_customer_position", "customer_id", "position"),
        # The request that proposed it: the same `boundary add` delivered twice at once proposes it once.
        UniqueConstraint("team_id", "request_key", name="uq_boundary_request"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32, index=True)
    customer_id: int = Field(foreign_key="customer.id")
    position: int = Field(default=0)
    # Kept as Slack escapes it (`&lt;` for `<`): 300 characters the user sees are up to 1500 stored.
    text: str = Field(max_length=1500)
    kind: str = Field(default="custom", max_length=32)
    value: str | None = Field(default=None, max_length=64)
    status: str = Field(default="proposed", max_length=16)
    created_by: str | None = Field(default=None, max_length=32)
    created_at: datetime = utc_column()
    activated_at: datetime | None = utc_column(nullable=True)
    held_at: datetime | None = utc_column(nullable=True)
    retired_at: datetime | None = utc_column(nullable=True)
    escalated_at: datetime | None = utc_column(nullable=True)
    reminders: str | None = Field(default=None, max_length=64)  # None: weekly default; "off"; a cadence text
    # The owner's own wording, if edited: up to 500 characters the user sees, escaped like the text.
    reminder_text: str | None = Field(default=None, max_length=2500)
    last_template: int | None = None
    request_key: str | None = Field(default=None, max_length=255)  # "trigger:<id>" of the command that added it


class BoundarySlip(SQLModel, table=True):
    __tablename__ = "boundary_slip"
    __table_args__ = (UniqueConstraint("team_id", "idempotency_key", name="uq_boundary_slip_idempotency"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    boundary_id: int = Field(foreign_key="boundary.id", index=True)
    at: datetime = utc_column()
    by: str | None = Field(default=None, max_length=32)
    note: str = text_column()
    source: str = Field(default="manual", max_length=16)
    idempotency_key: str | None = Field(default=None, max_length=255)


class SurveyResponse(SQLModel, table=True):
    __tablename__ = "survey_response"
    __table_args__ = (
        UniqueConstraint("team_id", "idempotency_key", name="uq_survey_response_idempotency"),
        Index("ix_survey_response_customer_survey", "customer_id", "survey", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32, index=True)
    customer_id: int | None = Field(default=None, foreign_key="customer.id")  # None: about the team
    survey: str = Field(max_length=32)  # scorecard, level, practices, profile, customer_view
    respondent_id: str = Field(max_length=32)
    external: bool = Field(default=False)  # answered by the customer, in a shared channel
    answers: dict[str, Any] = json_column()
    score: float | None = None
    created_at: datetime = utc_column()
    idempotency_key: str | None = Field(default=None, max_length=255)


class SurveyDraft(SQLModel, table=True):
    """Answers kept when a survey modal is closed without submitting."""

    __tablename__ = "survey_draft"
    __table_args__ = (UniqueConstraint("team_id", "user_id", "survey", "customer_key", name="uq_survey_draft_owner"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    user_id: str = Field(max_length=32)
    survey: str = Field(max_length=32)
    customer_key: str = Field(max_length=32)  # the customer id, or "team"
    answers: dict[str, Any] = json_column()
    updated_at: datetime = utc_column()


class HomeViewState(SQLModel, table=True):
    """The filters and page a user last chose on App Home, so any replica's refresh (or one after a restart)
    publishes the Home they were looking at (handlers.blocks.home.HomeState holds the same four values)."""

    __tablename__ = "home_state"

    team_id: str = Field(primary_key=True, max_length=32)
    user_id: str = Field(primary_key=True, max_length=32)
    scope: str = Field(max_length=8)  # "mine" | "team"
    show: str = Field(max_length=8)  # "all" | "risk"
    tier: str | None = Field(default=None, max_length=32)
    page: int = 0
    updated_at: datetime = utc_column()


class HomePublished(SQLModel, table=True):
    """The `hash` Slack gave the Home last published to a user, by any replica: the next publish passes it, so Slack
    refuses it (hash_conflict) when another publish came since, and that render, maybe older, is redone."""

    __tablename__ = "home_published"

    team_id: str = Field(primary_key=True, max_length=32)
    user_id: str = Field(primary_key=True, max_length=32)
    view_hash: str = Field(max_length=255)
    published_at: datetime = utc_column()


class HealthSnapshot(SQLModel, table=True):
    """A customer's health score, stored once per local day for trends."""

    __tablename__ = "health_snapshot"
    __table_args__ = (UniqueConstraint("customer_id", "day", name="uq_health_snapshot_day"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32, index=True)
    customer_id: int = Field(foreign_key="customer.id")
    day: date
    score: int | None = None
    band: str = Field(max_length=16)
    components: dict[str, Any] = json_column()
    computed_at: datetime = utc_column()


# OAuth install (bot/oauth.py): slack-sdk's own installation, bot and state tables, defined by slack-sdk's table
# builders on this metadata so that the migrations are checked against exactly what its stores read and write.
# Their timestamps are slack-sdk's naive UTC DateTime columns, not UTCDateTime. Built on first use (the migrations,
# OAuth mode): slack-sdk's SQLAlchemy stores import SQLAlchemy's asyncio extension, which a token-mode bot never needs.
SLACK_TABLE_NAMES = ("SLACK_INSTALLATIONS", "SLACK_BOTS", "SLACK_OAUTH_STATES")


@functools.cache
def slack_sdk_tables() -> dict[str, Table]:
    """slack-sdk's installation, bot and OAuth state tables, registered on SQLModel.metadata (once)."""
    from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
    from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore

    installations = SQLAlchemyInstallationStore
    return {
        "SLACK_INSTALLATIONS": installations.build_installations_table(
            SQLModel.metadata, installations.default_installations_table_name
        ),
        "SLACK_BOTS": installations.build_bots_table(SQLModel.metadata, installations.default_bots_table_name),
        "SLACK_OAUTH_STATES": SQLAlchemyOAuthStateStore.build_oauth_states_table(
            SQLModel.metadata, SQLAlchemyOAuthStateStore.default_table_name
        ),
    }


def __getattr__(name: str) -> Table:
    """`from storage.models import SLACK_OAUTH_STATES` keeps working: the table is built when first asked for."""
    if name in SLACK_TABLE_NAMES:
        return slack_sdk_tables()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
