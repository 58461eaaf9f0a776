"""What every part of the Store shares: the engine and short sessions."""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session


class StoreBase:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __deepcopy__(self, memo: dict[int, Any]) -> StoreBase:
        # Bolt deep-copies the context for lazy listeners; a store is a shared handle, never duplicated.
        return self

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def ping(self) -> bool:
        """Raises when the database cannot be reached by a new client (what /healthz reports)."""
        database = self.engine.url.database
        if self.engine.dialect.name == "sqlite" and database and database != ":memory:":
            # A pooled SQLite connection keeps working on its open file even when the file is gone: open a new
            # one, read-write and never creating the file, as the next restart would.
            try:
                sqlite3.connect(f"file:{database}?mode=rw", uri=True, timeout=5).close()
            except sqlite3.Error as e:
                raise OperationalError("SELECT 1", {}, e) from e
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
