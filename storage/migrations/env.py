"""Alembic environment: the engine comes from the caller (settings), the target is SQLModel.metadata."""

from __future__ import annotations

import sqlite3
from collections import Counter

from alembic import context
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

from storage import models  # registers Partner's tables on SQLModel.metadata
from storage.db import make_engine

models.slack_sdk_tables()  # and slack-sdk's OAuth tables, which models.py builds only when asked
config = context.config
target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        from bot.settings import Settings

        engine = make_engine(Settings.from_env().database_url)
    with engine.begin() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        sqlite = connection.dialect.name == "sqlite"
        dangling = _dangling_rows(connection) if sqlite else Counter()
        context.run_migrations()
        if sqlite:
            _check_foreign_keys(connection, dangling)


def _dangling_rows(connection: Connection) -> Counter[tuple[str, str]]:
    """Rows pointing at no row, per (table, parent table): `PRAGMA foreign_key_check`."""
    return Counter((str(row[0]), str(row[2])) for row in connection.exec_driver_sql("PRAGMA foreign_key_check"))


def _check_foreign_keys(connection: Connection, before: Counter[tuple[str, str]]) -> None:
    """SQLite migrates with foreign keys off (storage.db._all_or_nothing): a migration must leave no row pointing at
    no row, or the upgrade is rolled back. Rows a hand edit left dangling before (the sqlite3 shell has foreign
    keys off) are not the upgrade's doing and do not stop it."""
    added = _dangling_rows(connection) - before
    if added:
        tables = ", ".join(sorted(f"{table} → {parent}" for table, parent in added))
        why = sqlite3.IntegrityError(f"the upgrade left rows pointing at no row: {tables}")
        raise IntegrityError("PRAGMA foreign_key_check", None, why)


run_migrations_online()
