"""Benchmark 2: nudge fan-out — every customer's call is due at the same minute.

    python bench/fanout.py                                   # 10,000 customers in 2,000 channels (the issue's size)
    python bench/fanout.py --customers 2000 --channels 400   # smaller, same shape (5 customers a channel)

Seeds a SQLite file (WAL) with `--customers` customers spread evenly over `--channels` channels, each with a
"daily 09:00" cadence in UTC, added the day before (so none is overdue and nothing else is due), then runs the
production code of one scheduler tick at 09:00:30 on a Wednesday:

* plan: `schedules.cadence.plan_nudges` (the cadence job: slots due since the last tick → outbox rows);
* delivery: `schedules.cadence.send_nudges` (the generic sender with its default options: 32 workers, one post per
  second per channel) against the fake Slack Web API in its own process, which enforces 1 chat.postMessage per
  second per channel with 429 + Retry-After (`tests/fake_slack.py`, `post_interval`; 50 ms of arrival jitter
  forgiven). Nudges a 429 sent back to the outbox are delivered by further ticks, run as soon as they are due,
  and their time counts. `--lean-fake`: the fake answers chat.postMessage with the same pace, 429s, checks of token
  and channel and record of every post, without the test suite's Block Kit validation and stored message (about
  half its CPU a post, on the two CPUs the sender needs too; bench/RESULTS.md, session 12).

Printed: plan time (goal ≤ 1 s); delivery wall time from the first post to the last accepted one, and from the
start of the send, against the rate-limit floor (the most messages any channel gets × 1 s; goal ≤ 1.2 ×);
duplicates (a nudge posted twice: 0) and losses (a planned nudge never accepted: 0), from the fake's own log; the
sender's CPU split between the tick's thread (claim, reading and rendering) and the posting threads.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402
from sqlmodel import Session, col, func, select  # noqa: E402

import schedules.cadence  # noqa: E402
from bench.fake_slack_server import channel_id  # noqa: E402
from bench.run import machine  # noqa: E402
from bot.app import make_client  # noqa: E402
from bot.memory import freeze_startup_heap  # noqa: E402
from bot.settings import Settings  # noqa: E402
from storage.db import make_engine, upgrade  # noqa: E402
from storage.models import Customer, JobWatermark, Nudge, Workspace  # noqa: E402
from storage.store import Store  # noqa: E402

BOT_TOKEN = "xoxb-bench-token"
TEAM_ID = "T0BENCH"
NOW = datetime(2026, 11, 25, 9, 0, 30, tzinfo=UTC)  # a Wednesday, 30 s after every customer's 09:00 call
INTERVAL = 1.0  # Slack: about one message per second per channel


def seed(store: Store, *, customers: int, channels: int) -> None:
    yesterday = NOW - timedelta(days=1)
    with Session(store.engine) as session:
        session.add(Workspace(team_id=TEAM_ID, name="Bench", created_at=yesterday))
        session.add(JobWatermark(team_id=TEAM_ID, job=schedules.cadence.JOB, until=NOW - timedelta(minutes=1)))
        rows = [
            {
                "team_id": TEAM_ID,
                "name": f"Customer {i:05d}",
                "name_key": f"customer {i:05d}",
                "channel_id": channel_id(i % channels),
                "owner_id": "U0001",
                "tz": "UTC",
                "cadence": "daily 09:00",
                "created_at": yesterday,
                "updated_at": yesterday,
                "post_checkins": True,
            }
            for i in range(customers)
        ]
        for start in range(0, len(rows), 5000):
            session.execute(insert(Customer), rows[start : start + 5000])
        session.commit()


class PostingThreads:
    """The most sender threads alive at once, looked at every 20 ms from a thread of its own."""

    def __init__(self) -> None:
        self.most = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="bench-thread-count", daemon=True)

    def start(self) -> PostingThreads:
        self._thread.start()
        return self

    def _watch(self) -> None:
        while not self._stop.wait(0.02):
            alive = sum(1 for t in threading.enumerate() if t.name.startswith("nudge-sender-"))
            self.most = max(self.most, alive)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.most


class PostingThreadsCPU:
    """The CPU time the sender's posting threads used, each read as it ends (`time.thread_time` in the thread): the
    send's CPU split between the tick's own thread (claim, reading and rendering the nudges) and the posting threads,
    each about the same whatever the load, where wall times are not (bench/RESULTS.md, session 13)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._lock = threading.Lock()
        self._run = threading.Thread.run

    def __enter__(self) -> PostingThreadsCPU:
        counter, run = self, self._run

        def measured_run(thread: threading.Thread) -> None:
            try:
                run(thread)
            finally:
                if thread.name.startswith("nudge-sender-"):
                    with counter._lock:
                        counter.seconds += time.thread_time()

        threading.Thread.run = measured_run  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        threading.Thread.run = self._run  # type: ignore[method-assign]


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def start_fake(
    channels: int, dump: Path, *, fast: bool = True, latency: float = 0.0, lean: bool = False
) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "bench" / "fake_slack_server.py"),
            BOT_TOKEN,
            TEAM_ID,
            "--channels",
            str(channels),
            "--post-interval",
            str(INTERVAL),
            "--dump",
            str(dump),
            *(["--fast"] if fast else []),
            *(["--latency", str(latency)] if latency else []),
            *(["--lean"] if lean else []),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def stop_fake(process: subprocess.Popen[str], dump: Path) -> tuple[list[dict[str, Any]], float]:
    """Every chat.postMessage answer the fake gave, and the CPU time the fake used."""
    assert process.stdin is not None
    process.stdin.close()
    process.wait(timeout=120)
    dumped = json.loads(dump.read_text())
    return list(dumped["posts"]), float(dumped["cpu_seconds"])


def _quantile(ordered: list[float], q: float) -> float:
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=10_000, help="customers due at once (default 10000)")
    parser.add_argument("--channels", type=int, default=2_000, help="channels they share (default 2000)")
    parser.add_argument("--ticks", type=int, default=10, help="most ticks to run for 429'd retries (default 10)")
    parser.add_argument(
        "--threaded-fake", action="store_true", help="serve the fake through the test suite's threaded http.server"
    )
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds each Slack answer takes to come back (default 0: local)"
    )
    parser.add_argument(
        "--lean-fake",
        action="store_true",
        help="the fake answers chat.postMessage without the suite's Block Kit checks (same pace, 429s and record)",
    )
    args = parser.parse_args()

    print(f"Nudge fan-out — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"Machine: {machine()}")
    print(f"Load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"Command: python bench/fanout.py {' '.join(sys.argv[1:])}".rstrip())
    print()
    with tempfile.TemporaryDirectory(prefix="partner-bench-fanout-") as tmp:
        dump = Path(tmp) / "posts.json"
        fake, api_url = start_fake(
            args.channels, dump, fast=not args.threaded_fake, latency=args.latency, lean=args.lean_fake
        )
        try:
            settings = Settings.from_mapping(
                {
                    "SLACK_BOT_TOKEN": BOT_TOKEN,
                    "SLACK_SIGNING_SECRET": "bench-signing-secret",
                    "SLACK_API_URL": api_url,
                    "DATABASE_URL": f"sqlite:///{tmp}/partner.db",
                }
            )
            engine = make_engine(settings.database_url)
            upgrade(engine)
            store = Store(engine)
            seed(store, customers=args.customers, channels=args.channels)
            client = make_client(settings)
            # As `serve` does once the app is built (the scheduler ticks in that process): what is alive now is left
            # out of garbage collection, so full collections during the tick walk only the tick's own objects.
            freeze_startup_heap()

            started, plan_cpu = time.perf_counter(), time.process_time()
            planned = schedules.cadence.plan_nudges(store=store, client=client, now=NOW, settings=settings)
            plan_seconds, plan_cpu = time.perf_counter() - started, time.process_time() - plan_cpu

            # Tick after tick (the scheduler's, here as soon as a retried nudge is due) until nothing is left.
            counting = PostingThreads().start()
            with PostingThreadsCPU() as posting_cpu:
                send_started_wall, send_cpu, tick_thread_cpu = time.time(), time.process_time(), time.thread_time()
                now, ticks, tick_seconds = NOW, 0, []
                for ticks in range(1, args.ticks + 1):  # noqa: B007 — reported below
                    tick = time.perf_counter()
                    schedules.cadence.send_nudges(store=store, client=client, now=now, settings=settings)
                    tick_seconds.append(time.perf_counter() - tick)
                    with Session(engine) as session:
                        waiting = session.exec(
                            select(func.min(Nudge.next_attempt_at)).where(col(Nudge.status).in_(("pending", "claimed")))
                        ).one()
                    if waiting is None:
                        break
                    pause = max((waiting - now).total_seconds(), 0.0)
                    time.sleep(pause)  # a real scheduler would wait at least this long too
                    now = now + timedelta(seconds=pause + tick_seconds[-1])
                send_cpu, tick_thread_cpu = time.process_time() - send_cpu, time.thread_time() - tick_thread_cpu
            threads_used = counting.stop()
            with Session(engine) as session:
                statuses = Counter(session.exec(select(Nudge.status)))
                planned_ids = {
                    int(i) for i in session.exec(select(Nudge.id).where(Nudge.kind == "cadence")) if i is not None
                }
            engine.dispose()
        finally:
            posts, fake_cpu = stop_fake(fake, dump)

    accepted = [p for p in posts if p["ok"]]
    limited = sum(1 for p in posts if p["status"] == 429)
    delivered = Counter(int(i) for p in accepted for i in p["nudge_ids"].split(",") if i)
    duplicates = sum(n - 1 for n in delivered.values() if n > 1)
    losses = len(planned_ids - delivered.keys())
    per_channel: dict[str, list[float]] = defaultdict(list)
    for post in accepted:
        per_channel[post["channel"]].append(post["at"])
    most = max((len(v) for v in per_channel.values()), default=0)
    floor = most * INTERVAL
    first = min((p["at"] for p in accepted), default=send_started_wall)
    last = max((p["at"] for p in accepted), default=send_started_wall)
    # Slack counts a message as done when it is accepted; the last one needs no second after it.
    span = last - first + INTERVAL if accepted else 0.0
    whole = last - send_started_wall + INTERVAL if accepted else 0.0
    gaps = [b - a for times in per_channel.values() for a, b in itertools.pairwise(sorted(times))]
    # What the delivery is made of (bench/RESULTS.md, sessions 9 and 11): when each channel's first post went out
    # (the first wave) plus its gaps, each the 1 s pace and what the sender and the fake added to it.
    firsts = sorted(min(times) - send_started_wall for times in per_channel.values())
    first_gaps = sorted(b - a for times in per_channel.values() for a, b in itertools.pairwise(sorted(times)[:2]))

    rows = [
        ("customers due at the same minute / channels", f"{args.customers:,} / {args.channels:,}", ""),
        ("nudges planned", f"{planned:,}", ""),
        ("plan time (s)", f"{plan_seconds:.2f}", "≤ 1 s " + ("met" if plan_seconds <= 1 else "MISSED")),
        ("plan CPU time (s; load-insensitive)", f"{plan_cpu:.2f}", ""),
        ("rate-limit floor: most posts in one channel × 1 s (s)", f"{floor:.1f}", ""),
        ("start of send → first post (claim, render) (s)", f"{first - send_started_wall:.1f}", ""),
        ("delivery, first post → last accepted + 1 s (s)", f"{span:.1f}", f"{span / floor:.2f}× floor"),
        (
            "delivery, start of send → last accepted + 1 s (s)",
            f"{whole:.1f}",
            f"{whole / floor:.2f}× floor — goal ≤ 1.2× " + ("met" if whole <= 1.2 * floor else "MISSED"),
        ),
        ("sender ticks / seconds in each", f"{ticks} / {', '.join(f'{s:.1f}' for s in tick_seconds)}", ""),
        ("sender CPU time, all ticks (s)", f"{send_cpu:.1f}", f"{send_cpu / max(len(posts), 1) * 1000:.1f} ms a post"),
        (
            "sender CPU: the tick's thread (claim, read and render) / posting threads (s)",
            f"{tick_thread_cpu:.2f} / {posting_cpu.seconds:.2f}",
            "",
        ),
        ("posting threads alive at once, at the most", str(threads_used), ""),
        ("peak RSS of this process: seed, plan and send (MiB)", f"{peak_rss_mib():.0f}", ""),
        (
            "fake Slack CPU time, whole run (s; its own process)",
            f"{fake_cpu:.1f}",
            f"{fake_cpu / max(len(posts), 1) * 1000:.2f} ms a post"
            + (", test suite's threaded front" if args.threaded_fake else ", single-threaded front")
            + (", lean chat.postMessage" if args.lean_fake else ""),
        ),
        ("posts accepted / 429 answers", f"{len(accepted):,} / {limited:,}", ""),
        ("closest two posts in one channel (s)", f"{min(gaps):.3f}" if gaps else "—", ""),
        (
            "each channel's first post after the start of the send: p50 / max (s)",
            f"{_quantile(firsts, 0.5):.2f} / {firsts[-1]:.2f}" if firsts else "—",
            "",
        ),
        (
            "a channel's gap between two posts: p50 / p90 / max; its first gap p50 (s)",
            f"{_quantile(sorted(gaps), 0.5):.3f} / {_quantile(sorted(gaps), 0.9):.3f} / {max(gaps):.3f}; "
            f"{_quantile(first_gaps, 0.5):.3f}"
            if gaps
            else "—",
            "",
        ),
        ("duplicates (a nudge posted twice)", str(duplicates), "0 " + ("met" if duplicates == 0 else "MISSED")),
        ("losses (planned, never accepted)", str(losses), "0 " + ("met" if losses == 0 else "MISSED")),
        ("outbox after the run", ", ".join(f"{k} {v:,}" for k, v in sorted(statuses.items())), ""),
    ]
    print("| Measure | Value | Goal / ratio |")
    print("| --- | ---: | --- |")
    for label, value, goal in rows:
        print(f"| {label} | {value} | {goal} |")
    print()
    print(f"Load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
