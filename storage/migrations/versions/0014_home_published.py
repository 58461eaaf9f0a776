"""home published: the hash Slack gave each user's last published Home

Two replicas publishing one user's Home (a click's on one, a check-in's refresh on the other) could leave the older
render showing: views.publish was sent without Slack's `hash`. Kept here, any replica's next publish passes it and
Slack refuses one that another publish overtook. No rows to carry forward: each Home's next publish records its own.

Revision ID: 0014_home_published
Revises: 0013_home_state
Create Date: 2026-11-28 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.models

revision: str = "0014_home_published"
down_revision: str | None = "0013_home_state"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "home_published",
        sa.Column("team_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("view_hash", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("published_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("team_id", "user_id"),
    )


def downgrade() -> None:
    op.drop_table("home_published")
