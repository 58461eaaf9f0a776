"""What every part of the Store shares: the engine and short sessions."""

from __future__ import annotations

import threading
from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Engine, Select, bindparam, select, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.base import instance_state, manager_of_class
from sqlalchemy.sql import Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import Session

T = TypeVar("T")
M = TypeVar("M")

IN_LIST_CHUNK = 500  # bound the size of IN (...) lists: SQLite's variable limit, PostgreSQL's plan time


def upsert_insert(dialect: str) -> Callable[..., Any]:
    """The dialect's own `insert` (the one with ON CONFLICT): PostgreSQL's, or SQLite's for any other. Imported on
    first use: SQLAlchemy's PostgreSQL dialect is ≈ 3 MiB of a SQLite `serve`'s memory (bench/RESULTS.md, session
    15), and the engine's own dialect is loaded anyway."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


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


def execute_many(connection: Connection, statement: Executable, rows: Sequence[Mapping[str, Any]]) -> int:
    """`connection.execute(statement, rows)` for a module-level statement run with thousands of rows: compiled once
    per dialect, each row's values converted by the columns' types as SQLAlchemy would, then one driver-level
    executemany. SQLAlchemy's own executemany builds and converts every row's parameters through its generic path,
    ≈ 50 µs a row: most of the cost of marking a fan-out's messages "sending" and "sent" (bench/RESULTS.md).
    Returns the rows the statement changed, all executions together (-1 where the driver cannot say: see the
    dialect's `supports_sane_multi_rowcount`)."""
    if not rows:
        return 0
    key = (id(statement), connection.dialect.name)
    with _prepared_lock:
        prepared = _prepared.get(key)
        if prepared is None:
            prepared = _prepared[key] = _Prepared(statement, connection)
    result = connection.exec_driver_sql(prepared.sql, prepared.parameters(rows))  # type: ignore[arg-type]
    return result.rowcount if connection.dialect.supports_sane_multi_rowcount else -1


# Rows per statement of `insert_many_returning` (then the rest in one): each row count's form is compiled once per
# dialect, ≈ 0.23 ms a row (256 rows' form took 60 ms, more than bigger statements save). 64 rows of 12 columns stay
# far below SQLite's 32,766 and PostgreSQL's 65,535 parameters a statement.
MANY_VALUES = 64


class _PreparedValues:
    """An INSERT … RETURNING in its multi-row form for `count` rows with these keys, compiled once for a dialect:
    one VALUES group per row, the columns' Python-side scalar defaults written as the statement's own values."""

    def __init__(self, statement: Any, keys: tuple[str, ...], count: int, connection: Connection) -> None:
        dialect = connection.dialect
        table = statement.table
        defaults: dict[str, Any] = {}
        for column in table.c:
            if column.key in keys or column.default is None:
                continue
            if not column.default.is_scalar:  # a callable or SQL default: SQLAlchemy's own insert runs those
                raise ValueError(f"insert_many_returning: give {column.key}, its default is not a constant")
            defaults[column.key] = column.default.arg
        values = [
            {**{key: bindparam(f"{key}__{i}", type_=table.c[key].type) for key in keys}, **defaults}
            for i in range(count)
        ]
        compiled = statement.values(values).compile(dialect=dialect)
        self.sql = compiled.string
        self.positional = compiled.positiontup is not None
        names = list(compiled.positiontup) if compiled.positiontup is not None else list(compiled.binds)
        # Each parameter, in the driver's order: (row, key, converter) for a row's value, (None, name, value) for one
        # of the statement's own (a default).
        self.slots: list[tuple[int | None, str, Any]] = []
        for name in names:
            bind = compiled.binds[name]
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if bind.required:
                key, _, row = name.rpartition("__")
                self.slots.append((int(row), key, processor))
            else:
                value = bind.effective_value
                self.slots.append((None, name, processor(value) if processor is not None else value))
        self.names = names

    def parameters(self, rows: Sequence[Mapping[str, Any]], converted: dict[tuple[str, Any], Any]) -> Any:
        values: list[Any] = []
        for row, key, how in self.slots:
            if row is None:
                values.append(how)
                continue
            value = rows[row][key]
            if how is not None and value is not None:
                if isinstance(value, dict | list):
                    value = how(value)
                else:  # a value many rows share (the plan's time, its due time) converted once
                    cached = converted.get((key, value), converted)
                    if cached is converted:
                        cached = converted[(key, value)] = how(value)
                    value = cached
            values.append(value)
        return tuple(values) if self.positional else dict(zip(self.names, values, strict=True))


_prepared_values: dict[tuple[int, str, tuple[str, ...], int], _PreparedValues] = {}


def insert_many_returning(connection: Connection, statement: Any, rows: Sequence[Mapping[str, Any]]) -> list[Any]:
    """`connection.execute(statement, rows).all()` for a module-level INSERT … RETURNING (of columns the driver
    gives as they are: ids, strings) and rows of the same keys: the driver's rows returned. Written as multi-row
    INSERTs of MANY_VALUES rows (the rest in one more), each form compiled once per dialect, the values converted by
    the columns' types as SQLAlchemy would, a value rows share converted once. SQLAlchemy's own insertmanyvalues
    converts every row through its generic path (bench/RESULTS.md, session 8)."""
    if not rows:
        return []
    keys = tuple(rows[0])
    dialect = connection.dialect.name
    converted: dict[tuple[str, Any], Any] = {}
    returned: list[Any] = []
    start = 0
    while start < len(rows):
        count = min(MANY_VALUES, len(rows) - start)
        chunk = rows[start : start + count]
        if any(tuple(row) != keys for row in chunk):
            raise ValueError("insert_many_returning: every row must have the same keys")
        key = (id(statement), dialect, keys, count)
        with _prepared_lock:
            prepared = _prepared_values.get(key)
            if prepared is None:
                prepared = _prepared_values[key] = _PreparedValues(statement, keys, count, connection)
        returned.extend(connection.exec_driver_sql(prepared.sql, prepared.parameters(chunk, converted)).all())
        start += count
    return returned


def detached(model: type[M], values: Mapping[str, Any]) -> M:
    """A model instance holding a row's `values` (every column, the primary key included), as a session that loaded
    it and closed would hand it back: detached, nothing pending. For rows read or written with Core on the ack
    path: a table model's __init__ (SQLModel's and SQLAlchemy's per-attribute bookkeeping) cost ≈ 0.1 ms a row,
    this ≈ 0.02 (bench/RESULTS.md, session 8)."""
    manager = manager_of_class(model)
    instance = manager.new_instance()  # the class's __new__, as the ORM's loader calls it
    instance.__dict__.update(values)
    make_transient_to_detached(instance)
    manager.dispatch.load(instance_state(instance), None)  # seen as a load, as the ORM's would be (tests count them)
    return instance  # type: ignore[no-any-return]


class Records(Generic[M]):
    """A table model's rows read with Core as read-only named tuples of its columns: the model's attribute names and
    values (the columns' types convert them as the ORM would), for reads of thousands of rows that are only looked at
    (the sender's claimed nudges and their customers, which renderers read attribute by attribute). As ORM objects
    (built one by one, every attribute read through its instrumentation) 10,000 nudges and their customers were
    about half of a fan-out's rendering CPU; as named tuples the whole feed takes ≈ 0.6 instead of ≈ 1.0 s of CPU
    (bench/RESULTS.md, session 13). Typed as the model for the code that reads them (a renderer takes a Nudge);
    assigning an attribute raises AttributeError, so none is ever mistaken for a row to change and write back."""

    def __init__(self, model: type[M]) -> None:
        attributes = list(sa_inspect(model).column_attrs)
        self.columns = [attribute.columns[0] for attribute in attributes]
        record = namedtuple(f"{model.__name__}Record", [attribute.key for attribute in attributes])  # type: ignore[misc]
        self._make = record._make

    def select(self) -> Select[Any]:
        """SELECT every column of the model, in the record's order; add the WHERE."""
        return select(*self.columns)

    def read(self, connection: Connection, query: Select[Any]) -> list[M]:
        make = self._make
        return [make(row) for row in connection.execute(query).all()]


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
