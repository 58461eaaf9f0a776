"""QA round 20, the operator: a database that lived through every release, upgraded with `partner-bot db upgrade`."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel

from storage.db import alembic_config, current_revision, head_revision, make_engine, upgrade
from storage.models import slack_sdk_tables
from tests.e2e.test_cli import run
from tests.e2e.test_qa19_operator import operator_env  # noqa: F401  (a fixture)

REVISIONS = [s.revision for s in reversed(list(ScriptDirectory.from_config(alembic_config()).walk_revisions()))]
WHEN = datetime(2026, 3, 2, 15, 30, tzinfo=UTC)


def _value(column: sa.Column[Any], step: int, parents: dict[str, Any]) -> Any:
    """A value of the column's type that differs from one release to the next (unique keys), in every column."""
    for key in column.foreign_keys:
        return parents[key.column.table.name]
    kind = column.type.impl_instance if isinstance(column.type, sa.TypeDecorator) else column.type
    if isinstance(kind, sa.Boolean):
        return step % 2 == 0
    if isinstance(kind, sa.Integer):
        return 100 + step
    if isinstance(kind, sa.Float):
        return step + 0.5
    if isinstance(kind, sa.DateTime):  # slack-sdk's OAuth tables keep naive datetimes
        return (WHEN if kind.timezone else WHEN.replace(tzinfo=None)) + timedelta(days=step)
    if isinstance(kind, sa.Date):
        return date(2026, 3, 2) + timedelta(days=step)
    if isinstance(kind, sa.JSON):
        return {"release": step}
    if column.name == "name_key":  # the customer's name as 0009 keys it (it recomputes every key)
        return f"r{step}-name"
    length = getattr(kind, "length", None) or 200
    return f"r{step}-{column.name}"[:length]


def write_a_row_in_every_table(engine: sa.Engine, step: int) -> dict[str, dict[str, Any]]:
    """One row in each of the tables the database has at its revision, every column filled, children pointing at
    this release's parents. Types come from the models where they still have the column (UTC datetimes)."""
    slack_sdk_tables()
    found = sa.MetaData()
    found.reflect(engine)
    written: dict[str, dict[str, Any]] = {}
    parents: dict[str, Any] = {}
    with engine.begin() as conn:
        for table in found.sorted_tables:
            if table.name == "alembic_version":
                continue
            model = SQLModel.metadata.tables.get(table.name)
            row: dict[str, Any] = {}
            typed = [model.c[c.name] if model is not None and c.name in model.c else c for c in table.columns]
            for column in typed:
                serial = column.primary_key and isinstance(column.type, sa.Integer) and len(table.primary_key) == 1
                if not serial:
                    row[column.name] = _value(column, step, parents)
            # Only the columns this release has (a model's later columns have defaults SQLAlchemy would insert).
            target = sa.table(table.name, *(sa.column(c.name, c.type) for c in typed))
            conn.execute(sa.insert(target).values(**row))
            if "id" in table.c and "id" not in row:
                row["id"] = conn.execute(sa.select(sa.func.max(table.c.id))).scalar_one()
            parents[table.name] = row.get("id")
            written[table.name] = row
    return written


def test_a_database_written_at_every_release_upgrades_to_head_keeping_every_row(
    operator_env: dict[str, str],  # noqa: F811
    database_url: str,
    tmp_path: Path,
) -> None:
    """A SQLite file with a boundary slip recorded before 0006 (or 0010) could not be upgraded at all: rebuilding
    `boundary` dropped the table its slips point to, with foreign keys on, and `serve` and `db upgrade` stopped on
    "FOREIGN KEY constraint failed" (exit 3) for ever. Each release here writes a row in every table it has, then
    the next one upgrades; the last step is the operator's own `partner-bot db upgrade`."""
    engine = make_engine(database_url)
    written: list[dict[str, dict[str, Any]]] = []
    try:
        for step, revision in enumerate(REVISIONS[:-1]):
            upgrade(engine, revision)
            written.append(write_a_row_in_every_table(engine, step))
        engine.dispose()
        result = run(["db", "upgrade"], operator_env, tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stdout == f"database at revision {head_revision()}\n"
        assert current_revision(engine) == head_revision()
        with engine.connect() as conn:
            for table in {name for rows in written for name in rows}:
                model = SQLModel.metadata.tables[table]
                rows = [rows[table] for rows in written if table in rows]
                kept = conn.execute(sa.select(model)).mappings().all()
                assert len(kept) == len(rows), table
                for before in rows:  # every value still there, in the column it was written to
                    match = [after for after in kept if all(after[name] == value for name, value in before.items())]
                    assert match, (table, before)
            if engine.dialect.name == "sqlite":
                assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
    finally:
        engine.dispose()


@pytest.mark.parametrize("scratch_database", ["sqlite"], indirect=True)
def test_a_row_a_hand_edit_left_dangling_does_not_stop_the_upgrade(
    operator_env: dict[str, str],  # noqa: F811
    database_url: str,
    tmp_path: Path,
) -> None:
    """The upgrade checks that it left no row pointing at no row; one the sqlite3 shell (foreign keys off) left so
    before is not its doing, and is kept as it was."""
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0005_checkin_last_call_index")
        write_a_row_in_every_table(engine, 0)
        raw = sqlite3.connect(database_url.removeprefix("sqlite:///"))
        with raw:
            raw.execute("DELETE FROM boundary")  # the shell's default: its slip now points at no boundary
        raw.close()
    finally:
        engine.dispose()
    result = run(["db", "upgrade"], operator_env, tmp_path)
    assert result.returncode == 0, result.stderr
    raw = sqlite3.connect(database_url.removeprefix("sqlite:///"))
    try:
        assert raw.execute("SELECT count(*) FROM boundary_slip").fetchone() == (1,)
        assert [row[0] for row in raw.execute("PRAGMA foreign_key_check")] == ["boundary_slip"]
    finally:
        raw.close()
