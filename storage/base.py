"""What every part of the Store shares: the engine and short sessions."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import Engine, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import Session

T = TypeVar("T")

IN_LIST_CHUNK = 500  # bound the size of IN (...) lists: SQLite's variable limit, PostgreSQL's plan time


def in_chunks(items: Sequence[T], size: int = IN_LIST_CHUNK) -> Iterator[Sequence[T]]:
    """`items` in slices short enough for one IN (...) list each."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


class unindexed(FunctionElement[Any]):
    """A column's value that the database must not look up through an index.

    For statements that pick rows by id (`id IN (…)`) and also check, say, their status: SQLite keeps no statistics,
    so it seeks the status index and reads every row with that status instead of seeking the few ids by primary key
    (a 10,000-nudge fan-out read all 10,000 claimed rows per 500-id chunk). A unary `+` is SQLite's documented
    way to rule an index out; other databases get the plain column (PostgreSQL plans from statistics).
    """

    inherit_cache = True
    name = "unindexed"

    def __init__(self, column: ColumnElement[Any]) -> None:
        super().__init__(column)
        self.type = column.type


@compiles(unindexed)
def _unindexed(element: unindexed, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(unindexed, "sqlite")
def _unindexed_sqlite(element: unindexed, compiler: SQLCompiler, **kw: Any) -> str:
    return "+" + compiler.process(element.clauses, **kw)


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
