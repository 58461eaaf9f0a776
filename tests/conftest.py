"""Fixtures: the fake Slack, a database (SQLite and a throwaway PostgreSQL), the real app served over HTTP,
and a signed-request client.

Every test that touches the database runs twice, as `[sqlite]` and `[postgres]`: `database_url` is parametrized.
The PostgreSQL server is started once per session from the distribution's binaries (`initdb` + `pg_ctl` into a
temporary directory, as a non-root user when the suite runs as root) and each test gets a database of its own,
cloned from a migrated template when the test uses `store` (fast: a file copy), empty otherwise. Without
PostgreSQL binaries the `[postgres]` variants are skipped locally and FAIL under `CI=true`.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import queue
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.app import create_app
from bot.logs import ContextThreadPool
from bot.settings import Settings
from handlers.home_publisher import HomePublisher
from handlers.permissions import GUEST_CHECKS
from storage.db import make_engine, upgrade
from storage.store import Store
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import BOT_TOKEN, SIGNING_SECRET, TEAM_ID, BotServer, FakeClock, HeldTimer

ROOT = Path(__file__).resolve().parent.parent
MANIFEST_BOT_SCOPES: list[str] = yaml.safe_load((ROOT / "manifest.yml").read_text())["oauth_config"]["scopes"]["bot"]


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


@pytest.fixture(autouse=True)
def home_refreshes_on_demand(monkeypatch: pytest.MonkeyPatch) -> None:
    """Apps built here publish debounced Home refreshes only when a test flushes them, so a refresh armed by one
    step never lands in the middle of a test counting Slack calls, or in the next test. Tests of the debounce pass
    their own `home_publisher` to create_app."""
    monkeypatch.setattr("bot.app.HomePublisher", lambda: HomePublisher(timer=HeldTimer))


# Seconds each follow-up (the work after an answer: Bolt's lazy listeners, AfterAck) waits before it runs, so a test
# that reads what a follow-up writes before `bot.settle()` fails every time instead of on a loaded machine.
SLOW_FOLLOW_UPS = float(os.environ.get("PARTNER_TEST_SLOW_FOLLOW_UPS") or 0)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "follow_ups_on_time: never slowed by PARTNER_TEST_SLOW_FOLLOW_UPS (the test times the follow-ups)"
    )


@pytest.fixture(autouse=True)
def follow_ups_run_late(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """With PARTNER_TEST_SLOW_FOLLOW_UPS, every task of an app's follow-up pool starts that late. Only follow-ups use
    the pool: listeners answer in the request's thread (process_before_response), Bolt submits only lazy ones."""
    if SLOW_FOLLOW_UPS <= 0 or request.node.get_closest_marker("follow_ups_on_time"):
        return
    submit = ContextThreadPool.submit

    def submit_late(pool: ContextThreadPool, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        def late() -> Any:
            time.sleep(SLOW_FOLLOW_UPS)
            return fn(*args, **kwargs)

        return submit(pool, late)

    monkeypatch.setattr(ContextThreadPool, "submit", submit_late)


@pytest.fixture(autouse=True)
def members_checked_a_moment_ago() -> Iterator[None]:
    """Dana (U0001) and Sam (U0002) were found full members by the guest check moments ago (kept GUEST_CHECK_TTL
    seconds, handlers/permissions.py), so a test about another Slack call counts and fails only that one. Anyone
    else — and these two after `GUEST_CHECKS.forget()` — is asked of users.info at their first request."""
    GUEST_CHECKS.forget()
    for user_id in ("U0001", "U0002"):
        GUEST_CHECKS.remember(TEAM_ID, user_id, guest=False, ttl=3600)
    yield
    GUEST_CHECKS.forget()


@pytest.fixture(scope="session")
def fake_slack_server() -> Iterator[FakeSlack]:
    with FakeSlack(bot_token=BOT_TOKEN, team_id=TEAM_ID) as fake:
        yield fake


@pytest.fixture
def fake_slack(fake_slack_server: FakeSlack) -> Iterator[FakeSlack]:
    """A fresh workspace per test: Dana (New York) owns things, Sam (Berlin) is an admin."""
    fake = fake_slack_server
    fake.reset()
    fake.users.clear()
    fake.channels.clear()
    fake.scopes = list(MANIFEST_BOT_SCOPES)  # the token was installed with exactly the manifest's scopes
    fake.add_user(fake.bot_user_id, name="partner", is_bot=True)
    fake.add_user("U0001", name="dana", tz="America/New_York")
    fake.add_user("U0002", name="sam", tz="Europe/Berlin", is_admin=True)
    fake.add_channel("C0001", name="general", members=["U0001", "U0002"])
    fake.add_channel("C0ACME", name="acme", is_member=False, members=["U0001"])
    yield fake
    assert not fake.errors, "the fake Slack itself failed:\n" + "\n".join(fake.errors)


# ---------------------------------------------------------------------------------------------- PostgreSQL


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def find_postgres_bin() -> Path | None:
    """The directory holding initdb and pg_ctl: on PATH, or Debian's /usr/lib/postgresql/<version>/bin."""
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(os.path.realpath(on_path)).parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]), reverse=True
    )
    return Path(candidates[0]).parent if candidates else None


class PostgresServer:
    """A throwaway PostgreSQL cluster on 127.0.0.1:<free port>, its data and socket in a temporary directory."""

    USER = "postgres"
    SPARES = 3  # copies of each template kept ready

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.base = Path(tempfile.mkdtemp(prefix="partner-pg-"))
        self.data = self.base / "data"
        self.log = self.base / "server.log"
        self.port = free_port()
        self._names = itertools.count(1)
        self._lock = threading.Lock()
        self._admin: Any = None
        self._spares: dict[str, queue.SimpleQueue[str]] = {}
        self.background_errors: list[str] = []
        # (priority, order, action, argument): making the next tests' copies goes before dropping finished ones.
        self._work: queue.PriorityQueue[tuple[int, int, str, str]] = queue.PriorityQueue()
        self._order = itertools.count()
        self._worker = threading.Thread(target=self._background, name="postgres-databases", daemon=True)
        # PostgreSQL refuses to run as root: run its programs as an unprivileged user that owns the directory.
        self._run_as: dict[str, Any] = {}
        if os.geteuid() == 0:
            account = next((a for a in ("postgres", "nobody") if _has_user(a)), None)
            if account is None:
                raise RuntimeError("running as root and there is no 'postgres' or 'nobody' user to run PostgreSQL")
            entry = pwd.getpwnam(account)
            os.chown(self.base, entry.pw_uid, entry.pw_gid)
            self._run_as = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}

    def _pg(self, program: str, *args: str) -> None:
        result = subprocess.run(
            [str(self.bindir / program), *args], capture_output=True, text=True, timeout=120, **self._run_as
        )
        if result.returncode != 0:
            log = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{program} failed ({result.returncode}):\n{result.stdout}{result.stderr}{log}")

    def start(self) -> PostgresServer:
        # --no-sync and fsync=off: durability is pointless for a cluster that lives as long as the test session.
        self._pg("initdb", "-D", str(self.data), "-U", self.USER, "--auth=trust", "-E", "UTF8", "--locale=C", "-N")
        options = " ".join(
            [
                "-c listen_addresses=127.0.0.1",
                f"-c port={self.port}",
                f"-c unix_socket_directories={self.base}",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=300",
                "-c timezone=UTC",
            ]
        )
        self._pg("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start")
        import psycopg

        self._admin = psycopg.connect(self.dsn("postgres"), autocommit=True)
        self._worker.start()
        return self

    def stop(self) -> None:
        if self._worker.is_alive():
            self._work.put((9, next(self._order), "stop", ""))
            self._worker.join(timeout=30)
        if self._admin is not None:
            self._admin.close()
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self._pg("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.base, ignore_errors=True)

    def dsn(self, database: str) -> str:
        return f"host=127.0.0.1 port={self.port} user={self.USER} dbname={database}"

    def url(self, database: str, *, host: str = "127.0.0.1", port: int | None = None) -> str:
        return f"postgresql+psycopg://{self.USER}@{host}:{port or self.port}/{database}"

    def create_database(self, *, template: str = "template0") -> str:
        """A new database, copied from `template`."""
        name = f"test_{next(self._names)}"
        with self._lock:
            self._admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return name

    def take_database(self, *, template: str = "template0") -> str:
        """A fresh copy of `template`: one made ahead of time in the background when there is one.

        Copying a database costs tens of milliseconds of server work; a worker thread makes the next test's copy and
        drops the last test's database while the tests run, so that work is off the tests' critical path.
        """
        spares = self._spares.get(template)
        if spares is None:
            spares = self._spares[template] = queue.SimpleQueue()
            for _ in range(self.SPARES - 1):  # stock up; each take below orders one more
                self._work.put((0, next(self._order), "create", template))
        try:
            name = spares.get_nowait()
        except queue.Empty:
            name = self.create_database(template=template)
        self._work.put((0, next(self._order), "create", template))
        return name

    def release_database(self, name: str) -> None:
        self._work.put((1, next(self._order), "drop", name))

    def _background(self) -> None:
        import psycopg

        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            while (job := self._work.get())[2] != "stop":
                _, _, action, argument = job
                try:
                    if action == "create":
                        name = f"test_{next(self._names)}"
                        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{argument}"')
                        self._spares[argument].put(name)
                    else:
                        # FORCE: a test may leave connections behind (a killed subprocess, an engine not disposed).
                        conn.execute(f'DROP DATABASE IF EXISTS "{argument}" WITH (FORCE)')
                except psycopg.Error as e:  # a missed spare is made on demand; a missed drop only costs disk
                    self.background_errors.append(f"{action} {argument}: {e}")


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """Started on first use, so a run that selects no `[postgres]` test never starts it."""
    bindir = find_postgres_bin()
    problem: str | None = None
    server: PostgresServer | None = None
    if bindir is None:
        problem = (
            "no PostgreSQL server binaries (pg_ctl, initdb) on PATH or in /usr/lib/postgresql/*/bin; "
            "install them with `apt-get install postgresql` (Debian) to run the [postgres] tests"
        )
    else:
        try:
            server = PostgresServer(bindir).start()
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
            problem = f"could not start a PostgreSQL server from {bindir}: {e}"
    if server is None:
        assert problem is not None
        if in_ci():
            pytest.fail(f"CI=true and {problem}", pytrace=False)
        pytest.skip(problem)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_template(postgres_server: PostgresServer) -> str:
    """A database at the migrations' head; tests that use the store get a copy instead of migrating."""
    name = postgres_server.create_database()
    engine = make_engine(postgres_server.url(name))
    upgrade(engine)
    engine.dispose()  # CREATE DATABASE … TEMPLATE needs the template to have no connections
    return name


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "partner.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # the last connection checkpoints the WAL into the file, so the file alone is complete
    return path


# ---------------------------------------------------------------------------------------------- the database


@dataclass(frozen=True)
class ScratchDatabase:
    backend: str  # "sqlite" or "postgres"
    url: str
    migrated: bool


# Tests that use these fixtures start from a migrated database; others (migration tests, CLI runs) from an empty one.
_NEEDS_SCHEMA = frozenset({"store"})


@pytest.fixture(params=["sqlite", "postgres"])
def scratch_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ScratchDatabase]:
    migrated = bool(_NEEDS_SCHEMA.intersection(request.fixturenames))
    if request.param == "sqlite":
        path = tmp_path / "partner.db"
        if migrated:
            shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield ScratchDatabase("sqlite", f"sqlite:///{path}", migrated)
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    template = request.getfixturevalue("postgres_template") if migrated else "template0"
    name = server.take_database(template=template)
    try:
        yield ScratchDatabase("postgres", server.url(name), migrated)
    finally:
        server.release_database(name)


@pytest.fixture
def database_url(scratch_database: ScratchDatabase) -> str:
    return scratch_database.url


@pytest.fixture
def settings(fake_slack: FakeSlack, database_url: str) -> Settings:
    return Settings.from_mapping(
        {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": fake_slack.api_url,
            "DATABASE_URL": database_url,
            "PARTNER_DEFAULT_TZ": "UTC",
        }
    )


@pytest.fixture
def answers_wait_out_a_held_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two requests at the same moment, the first held inside its transaction (at a test's barrier, up to its 2 s
    timeout) while the second waits for its lock: longer than an answer waits for a lock (storage/db.py
    ANSWER_LOCK_WAIT_MS), which would then answer "busy" instead of showing how the two are told apart. Real
    writers hold the lock for milliseconds."""
    import storage.db

    monkeypatch.setattr(storage.db, "ANSWER_LOCK_WAIT_MS", 10_000)


@pytest.fixture
def store(settings: Settings, scratch_database: ScratchDatabase) -> Iterator[Store]:
    engine = make_engine(settings.database_url)
    if not scratch_database.migrated:
        upgrade(engine)
    yield Store(engine)
    engine.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def bot(settings: Settings, store: Store, clock: FakeClock) -> Iterator[BotServer]:
    server = BotServer(create_app(settings=settings, store=store, clock=clock), store).start()
    yield server
    server.stop()
    server.app.drain()  # no follow-up of this test may reach the fake Slack during the next one


@pytest.fixture
def slack(bot: BotServer, fake_slack: FakeSlack) -> SlackRequests:
    """Posts signed requests to the bot exactly as Slack would."""
    return SlackRequests(bot.url, signing_secret=SIGNING_SECRET, team_id=TEAM_ID, fake=fake_slack)
