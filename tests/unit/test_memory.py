"""bot/memory.py: the heap is given back once after a burst, only when the process has gone idle."""

from __future__ import annotations

import gc
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from bot.memory import (
    BURST_CPU_SECONDS,
    BURST_YOUNG_THRESHOLD,
    CHECK_SECONDS,
    IDLE_CPU_SHARE,
    IdleTrimmer,
    _glibc,
    close_idle_sqlite_connections,
    fewer_full_collections,
    limit_malloc_arenas,
)
from storage.db import make_engine

ROOT = Path(__file__).resolve().parents[2]


class CpuClock:
    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self) -> float:
        return self.seconds


def trimmer() -> tuple[IdleTrimmer, CpuClock, list[None]]:
    cpu, trims = CpuClock(), []
    return IdleTrimmer(trim=lambda: trims.append(None), cpu_seconds=cpu), cpu, trims


def test_trims_once_when_a_burst_is_over_and_not_while_it_lasts() -> None:
    idle, cpu, trims = trimmer()
    busy = CHECK_SECONDS * 0.5  # half a core: requests are being served
    for _ in range(4):
        cpu.seconds += busy
        assert idle.check() is False
    assert 4 * busy >= BURST_CPU_SECONDS and trims == []
    cpu.seconds += IDLE_CPU_SHARE * CHECK_SECONDS / 2  # quiet now
    assert idle.check() is True and len(trims) == 1
    for _ in range(10):  # staying idle: nothing more to give back
        cpu.seconds += 0.001
        assert idle.check() is False
    cpu.seconds += BURST_CPU_SECONDS  # the next burst, then quiet again: one more trim
    assert idle.check() is False
    assert idle.check() is True and len(trims) == 2


def test_an_idle_process_or_a_little_work_is_never_trimmed() -> None:
    idle, cpu, trims = trimmer()
    for _ in range(50):  # a scheduler tick now and then, far below a burst in total
        cpu.seconds += BURST_CPU_SECONDS / 100
        idle.check()
    assert trims == []


def test_the_operators_malloc_arena_max_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert limit_malloc_arenas() is False


def test_a_burst_of_long_lived_objects_runs_no_full_collection_and_the_threshold_comes_back() -> None:
    before = gc.get_threshold()
    generations: list[int] = []

    def seen(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            generations.append(info["generation"])

    gc.callbacks.append(seen)
    try:
        with fewer_full_collections():
            outer = threading.Thread(target=lambda: None)  # another run starting and ending inside this one
            with fewer_full_collections():
                outer.start()
            outer.join()
            assert gc.get_threshold()[2] > 10**9  # still inside the first block
            assert gc.get_threshold()[0] >= BURST_YOUNG_THRESHOLD > before[0]
            kept = [{"nudge": i, "blocks": [[i]]} for i in range(300_000)]  # alive until the end, like a fan-out's
            # Once the block ends a full collection is due and may run at any allocation, even another thread's.
            inside = list(generations)
        assert gc.get_threshold() == before
    finally:
        gc.callbacks.remove(seen)
    assert len(kept) == 300_000
    assert 0 in inside and 2 not in inside  # young collections ran; no full one walked the burst


@pytest.mark.skipif(_glibc() is None, reason="malloc_trim is glibc's")
def test_serve_gives_back_the_heap_its_start_left_free(tmp_path: Path) -> None:
    """A start with no bytecode cached (PYTHONDONTWRITEBYTECODE=1, common in container images) compiles every module
    of Partner's, and the compiler's freed memory stayed resident for the life of the process (≈ 3 MiB)."""
    # Partner's packages without the bytecode earlier tests may have cached beside them (a CI checkout has it).
    for package in ("bot", "domain", "handlers", "schedules", "storage"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    probe = (
        "import bot.cli, bot.scheduler, bot.server\n"
        "from bot.memory import freeze_startup_heap, limit_malloc_arenas\n"
        "def rss(): return int(open('/proc/self/statm').read().split()[1]) * 4 / 1024\n"
        "limit_malloc_arenas(); before = rss(); freeze_startup_heap(); print(before - rss())"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPYCACHEPREFIX", "MALLOC_ARENA_MAX")}
    env.update(PYTHONDONTWRITEBYTECODE="1", PYTHONPATH=str(tmp_path))
    result = subprocess.run([sys.executable, "-c", probe], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert float(result.stdout) >= 1.0  # MiB given back


def test_an_idle_sqlite_pool_closes_its_resting_connections_and_opens_new_ones_when_needed(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/partner.db")
    try:
        held = [engine.connect() for _ in range(3)]  # three requests at once: three connections in the pool after
        resting = [connection.connection.dbapi_connection for connection in held]
        for connection in held:
            connection.execute(text("SELECT 1"))
            connection.close()
        assert engine.pool.checkedin() == 3  # type: ignore[attr-defined]

        in_use = engine.connect()  # a tick waiting on Slack: nothing is closed under it, nor beside it
        in_use.execute(text("SELECT 1"))
        assert close_idle_sqlite_connections(engine) == 0
        in_use.close()

        assert close_idle_sqlite_connections(engine) == 3
        for dbapi_connection in resting:
            with pytest.raises(sqlite3.ProgrammingError):  # closed: its caches are SQLite's no more
                dbapi_connection.execute("SELECT 1")
        with engine.connect() as connection:  # the next request gets a fresh one, PRAGMAs applied
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    finally:
        engine.dispose()


def test_an_in_memory_database_is_left_alone_its_connection_is_the_data() -> None:
    engine = make_engine("sqlite:///:memory:")
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        assert close_idle_sqlite_connections(engine) == 0
    finally:
        engine.dispose()
