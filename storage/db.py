"""Engine creation and schema upgrades (Alembic), for SQLite and PostgreSQL alike.

Alembic (with Mako, Pygments and every SQL dialect it knows, ≈ 11 MiB resident) is imported only when a database
is actually behind the code's head revision: every start of `serve` checks, and almost always finds nothing to do.
"""

from __future__ import annotations

import ast
import contextlib
import fcntl
import functools
import logging
import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.pool import NullPool

from bot.answering import answering_now

if TYPE_CHECKING:
    from alembic.config import Config

logger = logging.getLogger("partner.db")

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# A server that does not answer within this many seconds counts as down (health checks must not hang).
CONNECT_TIMEOUT_SECONDS = 5

# How long a statement waits for another writer's lock before it fails. The scheduler, follow-ups and the CLI wait
# out a long writer (a tick's fan-out, an upgrade): SQLite's one write lock for 15 s, a PostgreSQL lock as long as the
# server's lock_timeout says (no limit by default).
LOCK_WAIT_MS = 15_000
# The thread answering Slack gives up sooner: Slack shows the user `dispatch_failed` 3 s after the request, and the
# rest of the answer (reading the request, the other queries, Slack calls capped at ANSWER_CALL_TIMEOUT only when
# they happen, sending the response) takes ~0.1 s and up to ~1 s on a loaded box. An answer writes in one
# transaction, so it waits on the lock once: 1.5 s of waiting still leaves time to say "busy, try again" with what
# was typed, where 15 s left the user with Slack's error and what they typed lost. A longer wait is rare: writers
# hold the lock for milliseconds, except a long job, which an answer should not wait out anyway.
ANSWER_LOCK_WAIT_MS = 1_500


# Primary keys are INTEGER columns: PostgreSQL refuses a larger number even in a lookup (SQLite does not care).
MAX_ROW_ID = 2**31 - 1


def row_id(value: object) -> int | None:
    """A row id taken from a Slack payload (button value, private_metadata, option value), or None.

    Payload values are user-controlled: anything but digits within INTEGER range is no id at all, rather than a
    database error on PostgreSQL ("integer out of range").
    """
    text = str(value).strip() if value is not None else ""
    if not text.isascii() or not text.isdigit():
        return None
    number = int(text)
    return number if 0 < number <= MAX_ROW_ID else None


def normalize_url(url: str) -> str:
    """Let operators write the usual `postgres://` / `postgresql://` URLs and still get psycopg 3."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = normalize_url(url)
    if make_url(url).get_backend_name() != "sqlite":
        # pre_ping replaces connections the server dropped (restart, failover) instead of failing a request on them.
        connect_args = {"connect_timeout": CONNECT_TIMEOUT_SECONDS} if "connect_timeout" not in url else {}
        connect_args.update(kwargs.pop("connect_args", {}))
        engine = create_engine(url, pool_pre_ping=True, connect_args=connect_args, **kwargs)
        _bound_lock_waits(engine, _set_lock_timeout)
        return engine
    # Listeners run in Bolt's worker threads and the scheduler's thread, each on a pooled connection of its own:
    # opening a connection (and its PRAGMAs) per session cost more than the check-in insert itself (bench/RESULTS.md).
    pool: dict[str, Any] = {"pool_size": 8, "max_overflow": 16} if ":memory:" not in url else {}
    pool.update({k: kwargs.pop(k) for k in ("pool_size", "max_overflow", "poolclass") if k in kwargs})
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 15}, **pool, **kwargs)

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # WAL lets readers go on while the scheduler writes; busy_timeout waits out a writer instead of failing.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={LOCK_WAIT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    _bound_lock_waits(engine, _set_busy_timeout)
    return engine


_LOCK_WAIT = "partner_lock_wait_ms"  # a pooled connection's lock wait as last set (its record's info)


def _bound_lock_waits(engine: Engine, set_wait: Callable[[Any, int], None]) -> None:
    """Each connection checked out gets the lock wait of the thread taking it: ANSWER_LOCK_WAIT_MS while it answers
    Slack, else LOCK_WAIT_MS. Set on checkout rather than per engine or session, so every store method (Core, ORM
    session, engine.begin) gets it with no second engine, and a pooled connection that served an answer waits the
    full time again in a job. Set only when it changes (a PRAGMA costs microseconds, a PostgreSQL SET a round trip)."""

    @event.listens_for(engine, "connect")
    def _lock_wait_at_connect(_dbapi_connection: Any, record: Any) -> None:
        record.info[_LOCK_WAIT] = LOCK_WAIT_MS  # the busy_timeout PRAGMA above; PostgreSQL's server default

    @event.listens_for(engine, "checkout")
    def _lock_wait_of_this_thread(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        wanted = ANSWER_LOCK_WAIT_MS if answering_now() else LOCK_WAIT_MS
        if record.info.get(_LOCK_WAIT) != wanted:
            set_wait(dbapi_connection, wanted)
            record.info[_LOCK_WAIT] = wanted


def _set_busy_timeout(dbapi_connection: Any, milliseconds: int) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={int(milliseconds)}")
    cursor.close()


def _set_lock_timeout(dbapi_connection: Any, milliseconds: int) -> None:
    """PostgreSQL waits for a row or table lock without limit by default (lock_timeout 0): an answer gives up after
    its wait; anything else waits as the server is configured to (DEFAULT), not a limit of ours. Committed at once:
    a SET in a transaction that is rolled back (the pool's reset of a read-only session) is undone."""
    value = f"'{int(milliseconds)}ms'" if milliseconds < LOCK_WAIT_MS else "DEFAULT"
    cursor = dbapi_connection.cursor()
    cursor.execute(f"SET lock_timeout TO {value}")
    cursor.close()
    dbapi_connection.commit()


def alembic_config(engine: Engine | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision`; a no-op when it is already there.

    Processes starting together (replicas, a `tick` beside `serve`) upgrade one at a time: the others wait for
    the lock, then find the schema already there. A database already at the head revision is left alone without
    importing Alembic at all.
    """
    current = current_revision(engine)
    if revision == "head" and current == head_revision():
        return
    if current is not None and current not in known_revisions():
        raise SchemaNewerThanCode(current)
    from alembic import command

    from storage import schema_check

    with _upgrade_lock(engine), _all_or_nothing(engine) as migrating:
        schema_check.check(migrating, repair=True)  # a half-migrated or unrecorded SQLite file: never migrated blind
        command.upgrade(alembic_config(migrating), revision)


@contextlib.contextmanager
def _all_or_nothing(engine: Engine) -> Iterator[Engine]:
    """An engine on which the whole upgrade is one transaction, so a process killed halfway leaves the schema as it
    was. PostgreSQL's DDL is transactional already. pysqlite commits before each CREATE, ALTER or DROP on its own:
    a `serve` killed during its first upgrade left tables without their alembic_version row, and every later start
    failed on "table customer already exists". SQLite itself runs DDL in transactions: with the driver's own
    transaction handling off, BEGIN IMMEDIATE … COMMIT holds the whole upgrade (SQLAlchemy's pysqlite recipe).

    Foreign keys are off while migrating, as SQLite's own procedure for changing a table asks: Alembic's batch mode
    rebuilds a table (copy, DROP, rename), and dropping `customer` or `boundary` with their check-ins or slips
    pointing at it failed ("FOREIGN KEY constraint failed") on every database that had any. The migrations' env.py
    checks the keys (`PRAGMA foreign_key_check`) before the upgrade commits."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        yield engine  # an in-memory database exists only on its own engine's connection
        return
    migrating = create_engine(url, connect_args={"check_same_thread": False, "timeout": 15}, poolclass=NullPool)

    @event.listens_for(migrating, "connect")
    def _driver_autocommit(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # pysqlite begins and commits nothing by itself
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={LOCK_WAIT_MS}")
        cursor.execute("PRAGMA foreign_keys=OFF")
        cursor.close()

    @event.listens_for(migrating, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    try:
        yield migrating
    finally:
        migrating.dispose()


# Any constant shared by every Partner process; it names the lock "part" in pg_locks.
UPGRADE_LOCK_KEY = 0x70617274


@contextlib.contextmanager
def _upgrade_lock(engine: Engine) -> Iterator[None]:
    url = engine.url
    if url.get_backend_name() == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": UPGRADE_LOCK_KEY})
            connection.commit()
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": UPGRADE_LOCK_KEY})
                connection.commit()
    elif url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        # SQLite runs DDL outside transactions: a lock file beside the database orders the upgrades instead.
        try:
            lock_file = open(f"{url.database}.upgrade-lock", "a")  # noqa: SIM115 (closed below)
        except OSError:
            # The database's directory is missing or read-only: the upgrade itself fails with the database error
            # that callers know how to report and retry.
            yield
            return
        with lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)
    else:
        yield


def lock_wait_given_up(error: BaseException) -> bool:
    """The statement gave up waiting for another writer's lock (its LOCK_WAIT_MS or ANSWER_LOCK_WAIT_MS): SQLite's
    "database is locked" (SQLITE_BUSY), PostgreSQL's lock_not_available (55P03). The database is up, only busy."""
    cause = getattr(error, "orig", None) or error
    if getattr(cause, "sqlstate", None) == "55P03":
        return True
    code = getattr(cause, "sqlite_errorcode", None)
    return isinstance(cause, sqlite3.OperationalError) and (
        code & 0xFF == sqlite3.SQLITE_BUSY if isinstance(code, int) else "database is locked" in str(cause)
    )


# What a database down, starting or out of reach raises (a refused login too: the server is reached once it is up).
UNREACHABLE = (OperationalError, InterfaceError, PoolTimeout)

# A server that is up but turns down DATABASE_URL's login: no wait cures a wrong password, user or database name
# (libpq gives these no SQLSTATE, only the server's message). "the database system is starting up", a refused
# connection or a timeout is waited out instead.
LOGIN_REFUSALS = (
    (re.compile(r"authentication failed for user|no password supplied", re.I), "the user or password"),
    (re.compile(r'role ".*" does not exist', re.I), "the user"),
    (re.compile(r'database ".*" does not exist', re.I), "the database name (or create that database)"),
    (re.compile(r"no pg_hba\.conf entry", re.I), "the host, user or database (or allow them in pg_hba.conf)"),
)


def login_refused(error: BaseException) -> str | None:
    """What to fix in DATABASE_URL when the server refused its login for good (None: not such a refusal)."""
    if not isinstance(error, UNREACHABLE):
        return None
    text = str(error)
    return next((fix for pattern, fix in LOGIN_REFUSALS if pattern.search(text)), None)


# The longest pause between two tries of an unreachable database at start (seconds).
MAX_DB_RETRY_PAUSE = 5.0


def upgrade_when_reachable(
    engine: Engine, *, give_up_after: float, sleep: Callable[[float], None] = time.sleep
) -> None:
    """`upgrade`, retrying with exponential backoff (1 s, 2 s, 4 s, then every 5 s) while the database is unreachable.

    A database that starts after the bot (a container restart, a failover) is then waited for instead of crashing
    the bot. Raises the last error once `give_up_after` seconds have passed. The pause stays short because HTTP mode
    answers /healthz 503 until this returns: a longer one kept a database that was back reported down for up to
    half a minute.
    """
    waited = 0.0
    delay = 1.0
    attempt = 1
    while True:
        try:
            upgrade(engine)
            if attempt > 1:
                logger.info("database reachable after %d attempts; schema is up to date", attempt)
            return
        except UNREACHABLE as e:  # a refusal (no privilege on the schema…) is no wait away from working: raised at once
            if waited >= give_up_after or login_refused(e):
                raise
            pause = min(delay, MAX_DB_RETRY_PAUSE, give_up_after - waited)
            logger.warning(
                "database unavailable (%s); retrying in %.0f s (attempt %d, giving up after %.0f s)",
                error_detail(engine, e),
                pause,
                attempt,
                give_up_after,
            )
            engine.dispose()  # no half-open connection survives into the next try
            sleep(pause)
            waited += pause
            delay *= 2
            attempt += 1


def error_detail(engine: Engine, error: SQLAlchemyError) -> str:
    """One line on why the database could not be used: the driver's first line (SQLAlchemy's "Background on this
    error" link says nothing more), and for SQLite whose folder is missing or read-only, that folder, which SQLite
    never names ("unable to open database file")."""
    text = str(error).strip()
    detail = f"{type(error).__name__}: {text.splitlines()[0] if text else 'no detail'}"
    file = _sqlite_file(engine)
    if file is not None and not file.parent.is_dir():
        detail += f"; the folder {file.parent} does not exist: create it, or fix DATABASE_URL"
    elif (read_only := sqlite_read_only(engine)) is not None:
        detail += f"; {read_only}"
    return detail


def _sqlite_file(engine: Engine) -> Path | None:
    file = engine.url.database if engine.url.get_backend_name() == "sqlite" else None
    if not file or file == ":memory:" or file.startswith("file:"):
        return None
    return Path(file).expanduser().absolute()


def sqlite_read_only(engine: Engine) -> str | None:
    """What keeps this process from writing its SQLite database, with the fix (None: nothing, or not SQLite).

    A file created by another user (`sudo partner-bot db upgrade`), a volume mounted read-only, or a disk the kernel
    remounted read-only after an error: reads may still work, so nothing else noticed, and every check-in failed as
    "the database didn't answer". In WAL mode SQLite also writes `-wal` and `-shm` files beside the database."""
    file = _sqlite_file(engine)
    if file is None or not file.parent.is_dir():
        return None
    fix = "give the user Partner runs as write access to it, or fix DATABASE_URL"
    if file.exists() and not os.access(file, os.W_OK):
        return f"the file {file} is read-only for this user: {fix}"
    if not os.access(file.parent, os.W_OK | os.X_OK):
        return (
            f"the folder {file.parent} is read-only for this user (SQLite writes {file.name}-wal and "
            f"{file.name}-shm beside {file.name}): {fix}"
        )
    return None


class SchemaNewerThanCode(Exception):
    """The database was migrated by a newer Partner: this code can neither upgrade nor safely use it."""

    def __init__(self, revision: str) -> None:
        self.revision = revision
        super().__init__(
            f"is at migration {revision}, which this Partner does not know (its latest is {head_revision()}): a "
            "newer Partner migrated it. Run that version again, or restore the backup taken before upgrading "
            "(migrations only move forward)"
        )


def known_revisions() -> frozenset[str]:
    """Every migration of this code base (a database at another one was migrated by newer code)."""
    return frozenset(_migration_graph())


def head_revision() -> str | None:
    """The newest migration in this code base: the revision a fully upgraded database is at.

    Read from the migration files' `revision` / `down_revision` assignments, as Alembic reads them but without
    importing it (tests/test_migrations.py checks both agree). None when there is no single head: Alembic then
    runs and reports the problem.
    """
    revisions = _migration_graph()
    heads = set(revisions) - set().union(*revisions.values())
    return heads.pop() if len(heads) == 1 else None


@functools.cache
def _migration_graph() -> dict[str, set[str]]:
    """Each migration's revision and the revisions it follows, from the files, without importing Alembic."""
    revisions: dict[str, set[str]] = {}
    for path in sorted((MIGRATIONS_DIR / "versions").glob("*.py")):
        found: dict[str, Any] = {}
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.AnnAssign | ast.Assign):
                targets = [node.target] if isinstance(node, ast.AnnAssign) else node.targets
                for target in targets:
                    if isinstance(target, ast.Name) and target.id in ("revision", "down_revision") and node.value:
                        found[target.id] = ast.literal_eval(node.value)
        if isinstance(found.get("revision"), str):
            down = found.get("down_revision")
            revisions[found["revision"]] = {down} if isinstance(down, str) else set(down or ())
    return revisions


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
