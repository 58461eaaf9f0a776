"""boundary text escaped: room for Slack's escaping (`&amp;` is 5 characters, the user sees 1)

Boundary text and reminder wording are stored as Slack escapes them, so they are restated safely in mrkdwn;
the limits users meet (300 and 500 characters) still count what they see. Existing rows are left as they are.

Revision ID: 0006_boundary_text_escaped
Revises: 0005_checkin_last_call_index
Create Date: 2026-11-26 02:30:00
"""

from collections.abc import Sequence

import sqlmodel
from alembic import op

revision: str = "0006_boundary_text_escaped"
down_revision: str | None = "0005_checkin_last_call_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _resize(text: int, reminder_text: int, *, was: tuple[int, int]) -> None:
    # batch: SQLite cannot alter a column in place; PostgreSQL gets a plain ALTER COLUMN.
    with op.batch_alter_table("boundary") as batch:
        batch.alter_column(
            "text",
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=was[0]),
            type_=sqlmodel.sql.sqltypes.AutoString(length=text),
            existing_nullable=False,
        )
        batch.alter_column(
            "reminder_text",
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=was[1]),
            type_=sqlmodel.sql.sqltypes.AutoString(length=reminder_text),
            existing_nullable=True,
        )


def upgrade() -> None:
    _resize(1500, 2500, was=(300, 500))


def downgrade() -> None:
    _resize(300, 500, was=(1500, 2500))
