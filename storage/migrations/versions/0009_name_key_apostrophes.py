"""customer name keys fold apostrophes: Macy's and Macy’s are one name

`customer.name_key` (unique per team) now folds the apostrophes keyboards type — ' ’ ‘ ʼ ` — to ', so `add Macy’s`
after `add Macy's` is refused as the same customer, and a lookup matches either spelling in its one read. This
recomputes every customer's name_key. Rename history keeps old names as typed (their keys are computed when read):
nothing to recompute there.

Two customers of one team whose names differ only in their apostrophes (both added before this) would now share a
key. Neither is merged nor dropped: they may really be two accounts, each with its own check-ins, nudges,
agreements and survey answers, and only the team can tell. One keeps its name — a live customer before an archived
one, then the oldest (lowest id) — and each other is renamed "<name> (2)" (3, … the first number whose key is free;
the name shortened to stay within 80 characters), with a "renamed" event (no actor) holding its old name, as `edit`
records a rename. Every row stays, attached to the same customer; both show in /partner list, where the team can
archive, rename or keep either. The old name itself finds the customer that kept it.

The rules are copied here, not imported from domain/customers.py: this migration must do the same thing whatever
that module becomes.

Downgrade recomputes the keys without folding (keys distinct when folded are distinct unfolded); renames stay.

Revision ID: 0009_name_key_apostrophes
Revises: 0008_checkin_next_step_escaped
Create Date: 2026-11-26 11:40:00
"""

import re
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0009_name_key_apostrophes"
down_revision: str | None = "0008_checkin_next_step_escaped"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MAX_NAME_LENGTH = 80
_SPACES = re.compile(r"\s+")
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'"})

_customer = sa.table(
    "customer",
    sa.column("id", sa.Integer()),
    sa.column("team_id", sa.String()),
    sa.column("name", sa.String()),
    sa.column("name_key", sa.String()),
    sa.column("archived_at", storage.models.UTCDateTime(timezone=True)),
    sa.column("updated_at", storage.models.UTCDateTime(timezone=True)),
)
_event = sa.table(
    "customer_event",
    sa.column("team_id", sa.String()),
    sa.column("customer_id", sa.Integer()),
    sa.column("actor_id", sa.String()),
    sa.column("kind", sa.String()),
    sa.column("detail", sa.JSON()),
    sa.column("at", storage.models.UTCDateTime(timezone=True)),
)


def _key(name: str, *, fold: bool) -> str:
    key = _SPACES.sub(" ", name).strip().casefold()
    return key.translate(_APOSTROPHES) if fold else key


def _numbered(name: str, n: int) -> str:
    suffix = f" ({n})"
    return name[: MAX_NAME_LENGTH - len(suffix)].rstrip() + suffix


def upgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(_customer.c.id, _customer.c.team_id, _customer.c.name, _customer.c.name_key, _customer.c.archived_at)
    ).all()
    # Who keeps a shared key: live before archived, then oldest.
    rows.sort(key=lambda r: (r.team_id, r.archived_at is not None, r.id))
    taken: dict[str, set[str]] = {}
    keys: dict[int, str] = {}
    renames: dict[int, tuple[str, str]] = {}  # id → (old name, new name)
    for row in rows:
        key = _key(row.name, fold=True)
        if key in taken.setdefault(row.team_id, set()):
            renames[row.id] = (row.name, "")
        else:
            taken[row.team_id].add(key)
            keys[row.id] = key
    for row in rows:  # after every name that keeps its key has it: a numbered name never takes one of those
        if row.id in renames:
            n = 2
            while _key(_numbered(row.name, n), fold=True) in taken[row.team_id]:
                n += 1
            new = _numbered(row.name, n)
            renames[row.id] = (row.name, new)
            keys[row.id] = _key(new, fold=True)
            taken[row.team_id].add(keys[row.id])
    _rekey(
        conn,
        {r.id: keys[r.id] for r in rows if keys[r.id] != r.name_key},
        renames,
        teams={r.id: r.team_id for r in rows},
    )


def downgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(_customer.c.id, _customer.c.name, _customer.c.name_key)).all()
    keys = {r.id: _key(r.name, fold=False) for r in rows}
    _rekey(conn, {r.id: keys[r.id] for r in rows if keys[r.id] != r.name_key}, {}, teams={})


def _rekey(
    conn: sa.Connection, keys: dict[int, str], renames: dict[int, tuple[str, str]], *, teams: dict[int, str]
) -> None:
    """Sets the new keys (and names), through a placeholder first: one row's new key may be another's old one until
    that one changes too. A placeholder starts with # as no name can (clean_name), so it is nobody's key."""
    for customer_id in keys:
        conn.execute(_customer.update().where(_customer.c.id == customer_id).values(name_key=f"#{customer_id}"))
    now = datetime.now(UTC)
    for customer_id, key in keys.items():
        values: dict[str, object] = {"name_key": key}
        if customer_id in renames:
            old, new = renames[customer_id]
            values.update(name=new, updated_at=now)
            conn.execute(
                _event.insert().values(
                    team_id=teams[customer_id],
                    customer_id=customer_id,
                    actor_id=None,
                    kind="renamed",
                    detail={"name": [old, new]},
                    at=now,
                )
            )
        conn.execute(_customer.update().where(_customer.c.id == customer_id).values(**values))
