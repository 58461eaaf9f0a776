"""home state: the filters and page each user last chose on App Home, kept per workspace and user

Until now they lived only in the memory of the process that served the click, so a refresh published by another
replica, or after a restart, showed the defaults (my customers, page 1). No rows to carry forward: a user's next
click or Home open records theirs.

Revision ID: 0013_home_state
Revises: 0012_channel_sharing_checked
Create Date: 2026-11-27 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.models

revision: str = "0013_home_state"
down_revision: str | None = "0012_channel_sharing_checked"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "home_state",
        sa.Column("team_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("scope", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("show", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("tier", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("page", sa.Integer(), nullable=False),
        sa.Column("updated_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("team_id", "user_id"),
    )


def downgrade() -> None:
    op.drop_table("home_state")
