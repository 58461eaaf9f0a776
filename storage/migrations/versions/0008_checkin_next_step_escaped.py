"""check-in next step escaped: room for Slack's escaping (`&amp;` is 5 characters, the user sees 1)

The check-in modal's note and next step are stored as Slack escapes a typed command, so the channel summary
restates a typed `<!channel>` or link as text; the next step's input still allows 500 characters the user sees.
Existing rows are left as they are.

Revision ID: 0008_checkin_next_step_escaped
Revises: 0007_customer_event_kind_index
Create Date: 2026-11-26 09:10:00
"""

from collections.abc import Sequence

import sqlmodel
from alembic import op

revision: str = "0008_checkin_next_step_escaped"
down_revision: str | None = "0007_customer_event_kind_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _resize(length: int, *, was: int) -> None:
    # batch: SQLite cannot alter a column in place; PostgreSQL gets a plain ALTER COLUMN.
    with op.batch_alter_table("checkin") as batch:
        batch.alter_column(
            "next_step",
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=was),
            type_=sqlmodel.sql.sqltypes.AutoString(length=length),
            existing_nullable=True,
        )


def upgrade() -> None:
    _resize(2500, was=500)


def downgrade() -> None:
    _resize(500, was=2500)
