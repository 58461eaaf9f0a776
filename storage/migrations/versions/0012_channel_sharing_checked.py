"""channel sharing checked: when Slack last told Partner whether the customer's channel is shared (Slack Connect)

NULL for every existing customer: Partner had never recorded it (0011 started every channel as "not shared"), so
the tick looks each channel up before Partner next posts its internal content there, and again once a day to catch
a channel_shared / channel_unshared event missed while Partner was down.

Revision ID: 0012_channel_sharing_checked
Revises: 0011_customer_channel_shared
Create Date: 2026-11-26 14:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0012_channel_sharing_checked"
down_revision: str | None = "0011_customer_channel_shared"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "customer", sa.Column("channel_shared_checked_at", storage.models.UTCDateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    # Plain ALTER TABLE, as 0011: a batch rebuild of `customer` would trip the foreign keys of its check-ins.
    op.drop_column("customer", "channel_shared_checked_at")
