"""Resident memory of a long-running `serve`: fewer malloc arenas, and freed memory given back after a burst.

Measured (bench/RESULTS.md section 4): after ≈ 2,800 check-ins from 8–32 concurrent clients, `serve` held ≈ 9 MiB
more of glibc's heap than before, of which only ≈ 3 MiB in use. glibc gives every thread that meets contention an
arena of its own (up to 8 per core) and keeps what is freed in each; the waitress threads, the follow-up pool and
the scheduler are ≈ 17 threads. Both remedies are glibc-only; elsewhere they do nothing.

- `limit_malloc_arenas()`: 2 arenas for the whole process (the GIL serialises most allocations anyway), unless the
  operator set MALLOC_ARENA_MAX, which glibc then applies itself.
- `IdleTrimmer`: once the process has been busy (a burst of requests or a tick) and is then idle, `malloc_trim(0)`
  hands the free pages back. It only looks at the process's CPU time, from a thread of its own: nothing is added to
  the request path, and it never trims while requests are being served. In `serve` it first closes the SQLite
  connections resting in the pool (`give_back_idle_memory`): SQLite's own caches, ≈ 0.4 MiB a connection.
- `freeze_startup_heap()`: the objects built at start-up are left out of garbage collection (a latency remedy:
  full collections walking them paused requests).
- `fewer_full_collections()`: while a burst builds many objects that all stay alive until it ends (a fan-out's
  claimed nudges, customers and messages), no full collection runs, and young ones run every BURST_YOUNG_THRESHOLD
  allocations instead of every 700.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import gc
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine

logger = logging.getLogger("partner.memory")

# mallopt() parameter number of M_ARENA_MAX in glibc's malloc.h.
M_ARENA_MAX = -8
MALLOC_ARENAS = 2
# CPU seconds of work since the last trim that make a trim worth it, and the CPU share under which a
# CHECK_SECONDS period counts as idle.
BURST_CPU_SECONDS = 1.0
IDLE_CPU_SHARE = 0.01
CHECK_SECONDS = 2.0


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.gnu_get_libc_version  # noqa: B018 (only glibc has it; musl's mallopt/malloc_trim are no-ops)
    except (OSError, AttributeError):
        return None
    return libc


def freeze_startup_heap() -> None:
    """Puts every object alive once the app is built (modules, Bolt's listeners, SQLAlchemy's and pydantic's
    machinery, the ORM mappings) out of the garbage collector's reach.

    They live as long as the process, so there is never anything to collect among them, yet each full collection
    walked them all and stalled the requests in flight: that pause was the slowest answers' time (benchmark 1 on a
    quiet machine: p99 at 50 req/s 130 → 44 ms, bench/RESULTS.md). Collect first so no garbage is frozen with them.

    Then the heap that building them left free goes back to the system: a Python that compiles Partner's modules at
    start (no bytecode cached: PYTHONDONTWRITEBYTECODE=1, as container images often set, or a read-only install)
    keeps ≈ 3 MiB of the compiler's freed memory otherwise (bench/RESULTS.md, session 15).
    """
    gc.collect()
    gc.freeze()
    malloc_trim()


# Allocations between two young collections inside `fewer_full_collections` (Python's default: 700). A 10,000-nudge
# fan-out ran ≈ 530 young and 49 middle collections, ≈ 0.5 s of its CPU, each walking objects the send keeps alive
# until it ends; at 10,000 it runs ≈ 20, ≈ 0.3 s (bench/RESULTS.md, session 8). Larger saves a little more, but one
# young collection then pauses every thread for as long (≈ 12 ms at 10,000, ≈ 75 ms at 50,000): requests served
# while a tick sends would wait that out.
BURST_YOUNG_THRESHOLD = 10_000

_full_collections_lock = threading.Lock()
_full_collections_paused = 0
_saved_threshold: tuple[int, int, int] = (700, 10, 10)


@contextlib.contextmanager
def fewer_full_collections() -> Iterator[None]:
    """No automatic full (oldest-generation) collection inside the block; the two young generations are still
    collected, the youngest every BURST_YOUNG_THRESHOLD allocations (at least), and the first full collection after
    the block catches up. Nested and concurrent blocks are fine: the thresholds are restored when the last one ends.

    A full collection walks every tracked object; one that runs while a burst is building objects that all stay
    alive until it ends finds nothing to free, and the burst's growth triggers one after another (a 10,000-nudge
    fan-out: 3–4 of them, ≈ 0.4–0.7 s of CPU, bench/RESULTS.md section 2)."""
    global _full_collections_paused, _saved_threshold
    with _full_collections_lock:
        if _full_collections_paused == 0:
            _saved_threshold = gc.get_threshold()
            young, middle, _ = _saved_threshold
            gc.set_threshold(max(young, BURST_YOUNG_THRESHOLD), middle, 2**31 - 1)
        _full_collections_paused += 1
    try:
        yield
    finally:
        with _full_collections_lock:
            _full_collections_paused -= 1
            if _full_collections_paused == 0:
                gc.set_threshold(*_saved_threshold)


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Call before threads start. True when the limit was set here."""
    libc = _glibc()
    if libc is None or "MALLOC_ARENA_MAX" in os.environ:
        return False
    return bool(libc.mallopt(M_ARENA_MAX, arenas))


def malloc_trim() -> None:
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


def close_idle_sqlite_connections(engine: Engine) -> int:
    """Closes the SQLite connections resting in the engine's pool when none is in use; how many it closed.

    Each holds ≈ 0.4 MiB of SQLite's own memory (its page cache, the parsed schema, its prepared statements) that
    nothing else gives back: ≈ 4 MiB over the pool after a burst (bench/RESULTS.md, session 15). The pool opens a
    fresh one on the next checkout (≈ 1–5 ms once: the connection's PRAGMAs and the schema read again), so this is
    for a process that has gone idle. They are checked out as a request would, so a request that comes meanwhile
    gets a connection of its own; none is closed while another is in use (a tick waiting on Slack)."""
    pool = engine.pool
    checked_in = getattr(pool, "checkedin", None)  # QueuePool's; a :memory: database's pool has none
    if engine.dialect.name != "sqlite" or checked_in is None or getattr(pool, "checkedout", lambda: 0)():
        return 0
    held = []
    try:
        for _ in range(checked_in()):
            held.append(pool.connect())
        for connection in held:
            connection.invalidate()  # the DBAPI connection closed; its slot stays, reconnecting when next used
    finally:
        for connection in held:
            connection.close()
    return len(held)


def give_back_idle_memory(engine: Engine) -> None:
    """`serve`'s trim once a burst is over: the resting SQLite connections, then the heap they were in."""
    try:
        close_idle_sqlite_connections(engine)
    except Exception:  # the database's trouble is the requests' to report; the heap is given back all the same
        logger.debug("could not close the idle database connections", exc_info=True)
    malloc_trim()


class IdleTrimmer:
    """Decides, from the process's CPU time sampled every CHECK_SECONDS, when a burst is over: trim then, once."""

    def __init__(
        self,
        *,
        trim: Callable[[], None] = malloc_trim,
        cpu_seconds: Callable[[], float] = time.process_time,
        period: float = CHECK_SECONDS,
    ) -> None:
        self.trim, self.cpu_seconds, self.period = trim, cpu_seconds, period
        self.last = cpu_seconds()
        self.busy_since_trim = 0.0
        self.trims = 0

    def check(self) -> bool:
        """One sample; True when it trimmed."""
        now = self.cpu_seconds()
        used, self.last = now - self.last, now
        self.busy_since_trim += used
        if self.busy_since_trim < BURST_CPU_SECONDS or used > IDLE_CPU_SHARE * self.period:
            return False
        self.trim()
        self.busy_since_trim = 0.0
        self.trims += 1
        return True

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(self.period):
            started = time.perf_counter()
            if self.check():
                logger.debug("gave free heap back after a burst (%.1f ms)", (time.perf_counter() - started) * 1000)

    def start(self, stop: threading.Event) -> threading.Thread:
        thread = threading.Thread(target=self.run, args=(stop,), name="partner-trim", daemon=True)
        thread.start()
        return thread
