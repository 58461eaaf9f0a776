"""once-only unique keys: a boundary's proposing request and a once-only customer event

Two deliveries of the same request at once (Slack's retry while the first is still being answered, neither
overtaking the other) could both insert: the check-then-insert ran in two transactions side by side on PostgreSQL.
A unique key makes the second insert fail, and the store then returns the first's row. Existing rows get NULL
(never a duplicate); a once-only event recorded before this keeps its key in `detail`, where lookups still find it.

Revision ID: 0010_once_only_unique_keys
Revises: 0009_name_key_apostrophes
Create Date: 2026-11-26 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0010_once_only_unique_keys"
down_revision: str | None = "0009_name_key_apostrophes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # batch: SQLite adds a unique constraint only by rebuilding the table; PostgreSQL gets plain ALTER TABLEs.
    with op.batch_alter_table("boundary") as batch:
        batch.add_column(sa.Column("request_key", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True))
        batch.create_unique_constraint("uq_boundary_request", ["team_id", "request_key"])
    with op.batch_alter_table("customer_event") as batch:
        batch.add_column(sa.Column("dedupe", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True))
        batch.create_unique_constraint("uq_customer_event_once", ["team_id", "customer_id", "kind", "dedupe"])


def downgrade() -> None:
    with op.batch_alter_table("customer_event") as batch:
        batch.drop_constraint("uq_customer_event_once", type_="unique")
        batch.drop_column("dedupe")
    with op.batch_alter_table("boundary") as batch:
        batch.drop_constraint("uq_boundary_request", type_="unique")
        batch.drop_column("request_key")
