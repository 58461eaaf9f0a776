"""Is a SQLite database's schema the one its alembic_version row says? Checked before migrating one that is behind.

Older Partners left two kinds of SQLite files whose record and tables disagree: one made by `create_all` (tables,
no alembic_version row), and one whose upgrade was killed half way (pysqlite committed each DDL statement on its
own before storage.db's `_all_or_nothing`): some of a migration's changes made, its revision not recorded. Alembic
then failed on "table customer already exists" or "duplicate column name", reported as a database out of reach.

Each revision's tables (their columns, indexes and named unique keys) are known by running the migrations on an
in-memory database, once per process and only when a database is behind. Tables are compared by name, so tables of
other software in the same file are ignored. PostgreSQL is not checked: its DDL is transactional, an upgrade is
applied whole or not at all.
"""

from __future__ import annotations

import functools
import logging

from sqlalchemy import Connection, Engine, create_engine, inspect, text
from sqlalchemy.pool import StaticPool

from storage import db

logger = logging.getLogger("partner.db")

# A table's columns and its index / unique key names.
Tables = dict[str, tuple[frozenset[str], frozenset[str]]]


class SchemaNotAsRecorded(Exception):
    """The database's tables are not those of the revision it records: migrating it could fail or lose data."""


def tables_of(connection: Connection, known: frozenset[str] | None = None) -> Tables:
    inspector = inspect(connection)
    found: Tables = {}
    for table in inspector.get_table_names():
        if table == "alembic_version" or table.startswith(("_alembic_tmp_", "sqlite_")):
            continue
        if known is not None and table not in known:
            continue
        columns = frozenset(c["name"] for c in inspector.get_columns(table))
        keys = {i["name"] for i in inspector.get_indexes(table) if i.get("name")}
        keys |= {u["name"] for u in inspector.get_unique_constraints(table) if u.get("name")}
        found[table] = (columns, frozenset(keys))
    return found


@functools.cache
def revision_tables() -> tuple[tuple[str, Tables], ...]:
    """Each revision, oldest first, with the tables a database migrated to it has."""
    from alembic import command
    from alembic.script import ScriptDirectory

    config = db.alembic_config()
    revisions = [s.revision for s in reversed(list(ScriptDirectory.from_config(config).walk_revisions()))]
    engine = create_engine("sqlite://", poolclass=StaticPool)
    config.attributes["engine"] = engine
    # Alembic's "Running upgrade" lines, thirteen of them, would read as this database's.
    quiet = {name: logging.getLogger(name) for name in ("alembic.runtime.migration", "alembic.runtime.plugins")}
    levels = {name: logger.level for name, logger in quiet.items()}
    for name in quiet:
        quiet[name].setLevel(logging.WARNING)
    try:
        steps = []
        for revision in revisions:
            command.upgrade(config, revision)
            with engine.connect() as connection:
                steps.append((revision, tables_of(connection)))
        return tuple(steps)
    finally:
        for name, level in levels.items():
            quiet[name].setLevel(level)
        engine.dispose()


def _differences(found: Tables, expected: Tables) -> list[str]:
    said: list[str] = []
    for table in sorted(set(found) | set(expected)):
        if table not in found:
            said.append(f"table {table} is missing")
        elif table not in expected:
            said.append(f"table {table} should not exist yet")
        else:
            (columns, keys), (want_columns, want_keys) = found[table], expected[table]
            said += [f"{table}.{c} should not exist yet" for c in sorted(columns - want_columns)]
            said += [f"{table}.{c} is missing" for c in sorted(want_columns - columns)]
            said += [f"{table}'s index {k} should not exist yet" for k in sorted(keys - want_keys)]
            said += [f"{table}'s index {k} is missing" for k in sorted(want_keys - keys)]
    return said


def check(engine: Engine, *, repair: bool) -> str | None:
    """Raises SchemaNotAsRecorded when a SQLite database's tables are not those of the revision it records. A file
    with Partner's tables and no record whose tables are exactly one revision's (an old `create_all`, or a first
    upgrade interrupted before any data) gets that revision recorded when `repair`; returns it (else None)."""
    if engine.url.get_backend_name() != "sqlite":
        return None
    current = db.current_revision(engine)
    if current == db.head_revision() or (current is not None and current not in db.known_revisions()):
        return None  # at the latest, or migrated by a newer Partner (storage.db says so)
    steps = revision_tables()
    known = frozenset(table for _, tables in steps for table in tables)
    with engine.connect() as connection:
        found = tables_of(connection, known)
    if current is None and not found:
        return None  # a new database: the migrations create everything
    expected = dict(steps).get(current or "", {})
    if found == expected:
        return None
    matches = [revision for revision, tables in steps if tables == found]
    if current is None and len(matches) == 1:
        (revision,) = matches
        if repair:
            with engine.begin() as connection:
                connection.exec_driver_sql(
                    "CREATE TABLE IF NOT EXISTS alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)"
                )
                connection.execute(text("INSERT INTO alembic_version (version_num) VALUES (:r)"), {"r": revision})
            logger.warning(
                "the database had Partner's tables but no record of its migrations (an old Partner's create_all, or "
                "its first upgrade interrupted): its tables are exactly migration %s's, recorded as such",
                revision,
            )
        return revision
    said = _differences(found, expected)
    shown = "; ".join(said[:4]) + (f" (and {len(said) - 4} more)" if len(said) > 4 else "")
    if current is None:
        why = "has some of Partner's tables but no record of its migrations (no alembic_version row)"
        if len(matches) > 1:
            why += f", and they are those of migrations {', '.join(matches)} alike, which differ only in their data"
        else:
            why += f", and they are not those of any migration ({shown} for {steps[0][0]})"
    else:
        why = f"records migration {current}, but its tables are not that migration's: {shown}"
        if matches:
            why += f" (they are {matches[-1]}'s)"
        why += "; an upgrade by an older Partner was interrupted half way"
    backup = "a backup of this file" if current is None else "the backup taken before that upgrade"
    raise SchemaNotAsRecorded(
        f"{why}. Partner changed nothing: restore {backup} and run `partner-bot db upgrade` again (migrating these"
        " tables could fail half way or lose data)"
    )
