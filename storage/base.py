"""What every part of the Store shares: the engine and short sessions."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import Executable
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


class _Prepared:
    """A statement compiled once for a dialect, to run with rows of plain values (see `execute_many`)."""

    def __init__(self, statement: Any, connection: Connection) -> None:
        dialect = connection.dialect
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        self.positions: list[str] | None = list(compiled.positiontup) if compiled.positiontup else None
        self.processors: dict[str, Callable[[Any], Any]] = {}
        for name, bind in compiled.binds.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                self.processors[name] = processor
        # The statement's own values (its literals), converted once; the rows give the required ones.
        self.fixed: dict[str, Any] = {}
        for name, bind in compiled.binds.items():
            if not bind.required:
                value = bind.effective_value
                self.fixed[name] = self.processors[name](value) if name in self.processors else value

    def parameters(self, rows: Sequence[Mapping[str, Any]]) -> list[Any]:
        processors, fixed = self.processors, self.fixed
        converted: dict[tuple[str, Any], Any] = {}  # a value shared by many rows (now, the claimer) converted once
        out: list[Any] = []
        for row in rows:
            values = dict(fixed)
            for name, value in row.items():
                processor = processors.get(name)
                if processor is not None and value is not None:
                    key = (name, value)
                    if key not in converted:
                        converted[key] = processor(value)
                    value = converted[key]  # (only hashable values here: ids, names, times)
                values[name] = value
            out.append(tuple(values[name] for name in self.positions) if self.positions is not None else values)
        return out


_prepared: dict[tuple[int, str], _Prepared] = {}
_prepared_lock = threading.Lock()


def execute_many(connection: Connection, statement: Executable, rows: Sequence[Mapping[str, Any]]) -> None:
    """`connection.execute(statement, rows)` for a module-level statement run with thousands of rows: compiled once
    per dialect, each row's values converted by the columns' types as SQLAlchemy would, then one driver-level
    executemany. SQLAlchemy's own executemany builds and converts every row's parameters through its generic path,
    ≈ 50 µs a row: most of the cost of marking a fan-out's messages "sending" and "sent" (bench/RESULTS.md)."""
    if not rows:
        return
    key = (id(statement), connection.dialect.name)
    with _prepared_lock:
        prepared = _prepared.get(key)
        if prepared is None:
            prepared = _prepared[key] = _Prepared(statement, connection)
    connection.exec_driver_sql(prepared.sql, prepared.parameters(rows))  # type: ignore[arg-type]


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
