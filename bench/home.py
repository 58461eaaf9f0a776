"""Benchmark 3: the App Home of an owner with 1,000 customers and 100,000 check-ins, rendered in-process.

    python bench/home.py                       # SQLite file, and PostgreSQL when its binaries are installed
    python bench/home.py --runs 50 --no-postgres
    python bench/home.py --profile             # also prints the top of a cProfile of the big Home

Times `handlers.events.home.render_home` (the very function `app_home_opened` and every refresh call: the SQL
reads, the per-customer cadence and health facts, the Block Kit view; a background refresh reads the viewer's saved
filters once before it, in handlers/home_publisher.py, not counted here) for one owner's default Home, the whole
team's Home and the "at risk" filter, and counts the SQL statements each render sends (SQLAlchemy's
`before_cursor_execute` event). Baseline in the same run and the same database: a trivial Home, an owner with one
customer, rendered by the same code. Goal: ≤ 150 ms for the big Home.

The data is bulk-inserted (it is a read benchmark): customers with a mix of cadences, time zones, holiday
countries, tiers and health; 100 check-ins each over the last 18 months (a third of them calls); a daily health
snapshot for the last 13 weeks (what the daily health job leaves); an active boundary each, some with slips; a few
pending survey prompts.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import event, insert  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402
from sqlmodel import Session, col, select  # noqa: E402

from bench.run import machine  # noqa: E402
from handlers.blocks.home import HomeState  # noqa: E402
from handlers.events.home import render_home  # noqa: E402
from storage.db import make_engine, upgrade  # noqa: E402
from storage.models import Boundary, BoundarySlip, CheckIn, Customer, HealthSnapshot, Nudge  # noqa: E402
from storage.store import Store  # noqa: E402

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # a Wednesday
BIG_TEAM, TINY_TEAM = "T0BIG", "T0TINY"
OWNER, COLLEAGUE = "U0OWNER", "U0OTHER"
GOAL_MS = 150.0
CADENCES = ("weekly wed 14:00", "biweekly mon", "daily", "monthly first-tue", "weekly fri", None, "daily 16:30")
ZONES = ("America/New_York", "Europe/Berlin", "Asia/Jerusalem", "America/Los_Angeles", "Asia/Tokyo", None)
COUNTRIES = ("US", "DE", "IL", None, "GB", None)


def seed_team(engine: Engine, *, team_id: str, customers: int, checkins: int, seed: int = 7) -> None:
    """`customers` customers of OWNER (plus a tenth as many of a colleague, so "mine" is a real filter)."""
    rng = random.Random(seed)
    total = customers + customers // 10
    rows = []
    for i in range(total):
        rows.append(
            {
                "team_id": team_id,
                "name": f"Customer {i:05d}",
                "name_key": f"customer {i:05d}",
                "owner_id": OWNER if i < customers else COLLEAGUE,
                "tz": ZONES[i % len(ZONES)],
                "country": COUNTRIES[i % len(COUNTRIES)],
                "working_week": "sun-thu" if ZONES[i % len(ZONES)] == "Asia/Jerusalem" else None,
                "cadence": CADENCES[i % len(CADENCES)],
                "tier": ("partner", "supplier", "pilot", None)[i % 4],
                "health_score": rng.randint(5, 99) if i % 9 else None,
                "health_band": ("red", "yellow", "green", "green")[i % 4] if i % 9 else None,
                "created_at": NOW - timedelta(days=600),
                "updated_at": NOW,
                "paused_at": NOW - timedelta(days=3) if i % 97 == 0 else None,
                "snoozed_until": NOW + timedelta(days=4) if i % 53 == 0 else None,
                "post_checkins": True,
            }
        )
    with Session(engine) as session:
        session.execute(insert(Customer), rows)
        ids = [
            int(cid)
            for cid in session.exec(
                select(Customer.id).where(Customer.team_id == team_id).order_by(col(Customer.name_key))
            )
            if cid is not None
        ]
        owned = ids[:customers]
        per_customer = max(checkins // max(len(owned), 1), 1)
        batch: list[dict[str, Any]] = []
        for cid in owned:
            for _ in range(per_customer):
                batch.append(
                    {
                        "team_id": team_id,
                        "customer_id": cid,
                        "author_id": OWNER,
                        "mood": rng.choice(("green", "green", "yellow", "red")),
                        "note": "weekly sync, roadmap questions",
                        "kind": rng.choice(("call", "async", "message")),
                        "created_at": NOW - timedelta(minutes=rng.randint(10, 545 * 24 * 60)),
                    }
                )
            if len(batch) >= 20_000:
                session.execute(insert(CheckIn), batch)
                batch = []
        if batch:
            session.execute(insert(CheckIn), batch)
        snapshots = [
            {
                "team_id": team_id,
                "customer_id": cid,
                "day": NOW.date() - timedelta(days=day),
                "score": (cid * 7 + day) % 100,
                "band": "green",
                "components": {},
                "computed_at": NOW,
            }
            for cid in owned
            for day in range(0, 91)
        ]
        for start in range(0, len(snapshots), 20_000):
            session.execute(insert(HealthSnapshot), snapshots[start : start + 20_000])
        session.execute(
            insert(Boundary),
            [
                {
                    "team_id": team_id,
                    "customer_id": cid,
                    "position": 0,
                    "kind": "custom",
                    "text": "Replies within one business day",
                    "status": "active",
                    "created_at": NOW - timedelta(days=60),
                }
                for cid in ids
            ],
        )
        boundary_ids = list(session.exec(select(Boundary.id).where(Boundary.team_id == team_id)))
        session.execute(
            insert(BoundarySlip),
            [
                {"team_id": team_id, "boundary_id": bid, "at": NOW - timedelta(days=bid % 10), "note": ""}
                for bid in boundary_ids[::5]
            ],
        )
        session.execute(
            insert(Nudge),
            [
                {
                    "team_id": team_id,
                    "kind": "survey_prompt",
                    "subject": f"customer:{cid}",
                    "due_key": "2026-11",
                    "customer_id": cid,
                    "due_at": NOW - timedelta(days=2),
                    "created_at": NOW - timedelta(days=2),
                    "status": "sent",
                    "payload": {},
                }
                for cid in owned[::20]
            ],
        )
        session.commit()


@contextmanager
def counting(engine: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def measure(render: Callable[[], dict[str, Any]], engine: Engine, runs: int) -> dict[str, float]:
    """Wall-clock median and p95, CPU median (this process: the database server's own work is not in it),
    statements per render and blocks, after two warm-up renders."""
    for _ in range(2):
        render()
    with counting(engine) as statements:
        view = render()
    wall, cpu = [], []
    for _ in range(runs):
        started, cpu_started = time.perf_counter(), time.process_time()
        render()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
    return {
        "median": statistics.median(wall),
        "p95": percentile(wall, 95),
        "cpu": statistics.median(cpu),
        "statements": len(statements),
        "blocks": len(view["blocks"]),
    }


def renderer(store: Store, team_id: str, state: HomeState) -> Callable[[], dict[str, Any]]:
    def render() -> dict[str, Any]:
        return render_home(
            store=store, team_id=team_id, user_id=OWNER, state=state, now=NOW, default_tz="America/New_York"
        )

    return render


def run_backend(name: str, url: str, args: argparse.Namespace) -> list[str]:
    engine = make_engine(url)
    upgrade(engine)
    started = time.perf_counter()
    seed_team(engine, team_id=BIG_TEAM, customers=args.customers, checkins=args.checkins)
    seed_team(engine, team_id=TINY_TEAM, customers=1, checkins=100)
    seeded = time.perf_counter() - started
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")  # fresh statistics, as autovacuum (PostgreSQL) or a long-running app has
    store = Store(engine)
    cases = [
        ("trivial Home: 1 customer (baseline)", TINY_TEAM, HomeState()),
        (f"owner's Home: {args.customers:,} customers", BIG_TEAM, HomeState()),
        ("same, page 10", BIG_TEAM, HomeState(page=9)),
        ("same, at-risk filter", BIG_TEAM, HomeState(show="risk")),
        ("whole team's Home", BIG_TEAM, HomeState(scope="team")),
    ]
    lines = [
        f"### {name} (seeded in {seeded:.1f} s)",
        "",
        "| Home | median (ms) | p95 (ms) | CPU median (ms) | SQL statements | blocks | vs baseline (median) "
        "| goal: p95 ≤ 150 ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    baseline = 0.0
    for label, team, state in cases:
        m = measure(renderer(store, team, state), engine, args.runs)
        baseline = baseline or m["median"]
        verdict = "" if team == TINY_TEAM else ("met" if m["p95"] <= GOAL_MS else "MISSED")
        lines.append(
            f"| {label} | {m['median']:.1f} | {m['p95']:.1f} | {m['cpu']:.1f} | {m['statements']:.0f} "
            f"| {m['blocks']:.0f} | {m['median'] / baseline:.2f}× | {verdict} |"
        )
    if args.profile:
        profiler = cProfile.Profile()
        render = renderer(store, BIG_TEAM, HomeState())
        profiler.enable()
        for _ in range(5):
            render()
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(30)
        lines += ["", "```", f"cProfile, 5 renders of the owner's Home ({name})", out.getvalue().strip(), "```"]
    engine.dispose()
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1000, help="the owner's customers (default 1000)")
    parser.add_argument("--checkins", type=int, default=100_000, help="check-ins in all (default 100000)")
    parser.add_argument("--runs", type=int, default=30, help="timed renders per case (default 30)")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the owner's Home")
    args = parser.parse_args()

    print(f"App Home render, same run — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"Machine: {machine()}")
    print(f"Load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"Command: python bench/home.py {' '.join(sys.argv[1:])}".rstrip())
    print()
    with tempfile.TemporaryDirectory(prefix="partner-bench-home-") as tmp:
        for line in run_backend("SQLite file (WAL)", f"sqlite:///{tmp}/partner.db", args):
            print(line)
    if not args.no_postgres:
        print()
        from tests.conftest import PostgresServer, find_postgres_bin

        bindir = find_postgres_bin()
        if bindir is None:
            print("PostgreSQL: no server binaries found (initdb, pg_ctl); skipped.")
        else:
            server = PostgresServer(bindir).start()
            try:
                version = server._admin.execute("SHOW server_version").fetchone()[0]
                for line in run_backend(f"PostgreSQL {version}", server.url(server.create_database()), args):
                    print(line)
            finally:
                server.stop()
    print()
    print(f"Load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
