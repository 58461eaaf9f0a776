"""customer channel shared: whether the customer's channel is shared with another organisation (Slack Connect)

The customer's people read such a channel, so Partner keeps its internal posts (check-in summaries, cadence
nudges, overdue notes) out of it. Existing customers start as not shared; the flag is learnt when Partner next
looks the channel up (joining it after add/edit, `/partner ask`, `partner-bot doctor`) or from Slack's
channel_shared / channel_unshared events.

Revision ID: 0011_customer_channel_shared
Revises: 0010_once_only_unique_keys
Create Date: 2026-11-26 12:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_customer_channel_shared"
down_revision: str | None = "0010_once_only_unique_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("customer", sa.Column("channel_shared", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    # Plain ALTER TABLE (SQLite 3.35+ drops a column in place): rebuilding `customer` in a batch would trip the
    # foreign keys of its check-ins.
    op.drop_column("customer", "channel_shared")
