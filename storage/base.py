"""What every part of the Store shares: the engine and short sessions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, text
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
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
