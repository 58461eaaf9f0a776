"""What every part of the Store shares: the engine and short sessions."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import Engine, text
from sqlmodel import Session

T = TypeVar("T")

IN_LIST_CHUNK = 500  # bound the size of IN (...) lists: SQLite's variable limit, PostgreSQL's plan time


def in_chunks(items: Sequence[T], size: int = IN_LIST_CHUNK) -> Iterator[Sequence[T]]:
    """`items` in slices short enough for one IN (...) list each."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


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
