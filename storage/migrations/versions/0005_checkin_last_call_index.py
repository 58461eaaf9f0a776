"""checkin last call index: a customer's last call in one index probe (App Home, digest)

Revision ID: 0005_checkin_last_call_index
Revises: 0004_slack_installations
Create Date: 2026-11-26 01:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005_checkin_last_call_index"
down_revision: str | None = "0004_slack_installations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_checkin_customer_kind_created", "checkin", ["customer_id", "kind", "created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_checkin_customer_kind_created", table_name="checkin")
