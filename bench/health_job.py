"""The daily health job's first run of a day: every customer due, scored one by one vs in batches.

    python bench/health_job.py                     # 2,000 customers on a SQLite file
    python bench/health_job.py --customers 10000

Seeds one SQLite file (WAL, as `serve` runs it) with customers of mixed cadences, time zones, holiday countries
and tiers; check-ins over the last 18 months (a third calls, some customers quiet for months); boundaries with
slips; scorecard answers; and two weeks of daily health snapshots (what the drop alert reads: yesterday's made by
the job itself, the days before near them). Copies the file, then times on each copy, in the same run:

- baseline: the old per-customer path — the due customers listed as the job lists them, then
  `schedules.health.recompute_health` for each (several queries and a transaction per customer);
- batched: `schedules.health.daily_health` with no time budget (200 customers a batch: one query per kind of
  input and one transaction per batch);
- the job as it runs in a tick (10 s budget): how many customers the first tick of the day scores, and the cost
  of a tick once everyone is scored today.

SQL statements are counted with SQLAlchemy's `before_cursor_execute`; both copies must end with identical scores.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from slack_sdk import WebClient  # noqa: E402
from sqlalchemy import insert  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402
from sqlmodel import Session, col, select  # noqa: E402

from bench.home import counting  # noqa: E402
from bench.run import machine  # noqa: E402
from schedules.health import (  # noqa: E402
    DEFAULT_BUDGET,
    HealthJobBudget,
    daily_health,
    recompute_health,
    scored_today,
)
from storage.db import make_engine, upgrade  # noqa: E402
from storage.models import (  # noqa: E402
    Boundary,
    BoundarySlip,
    CheckIn,
    Customer,
    HealthSnapshot,
    SurveyResponse,
    Workspace,
)
from storage.store import Store  # noqa: E402

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)  # a Thursday morning: yesterday's scores are all stale
TEAM = "T0HEALTH"
CADENCES = ("weekly wed 14:00", "biweekly mon", "daily", "monthly first-tue", "weekly fri", None, "daily 16:30")
ZONES = ("America/New_York", "Europe/Berlin", "Asia/Jerusalem", "America/Los_Angeles", "Asia/Tokyo", None)
COUNTRIES = ("US", "DE", "IL", None, "GB", None)
OWNERS = [f"U0OWNER{i:02d}" for i in range(20)]


def seed(engine: Engine, *, customers: int, checkins: int, seed: int = 11) -> None:
    rng = random.Random(seed)
    with Session(engine) as session:
        session.add(Workspace(team_id=TEAM, active=True, created_at=NOW - timedelta(days=700)))
        session.commit()
        session.execute(
            insert(Customer),
            [
                {
                    "team_id": TEAM,
                    "name": f"Customer {i:05d}",
                    "name_key": f"customer {i:05d}",
                    "owner_id": OWNERS[i % len(OWNERS)],
                    "tz": ZONES[i % len(ZONES)],
                    "country": COUNTRIES[i % len(COUNTRIES)],
                    "working_week": "sun-thu" if ZONES[i % len(ZONES)] == "Asia/Jerusalem" else None,
                    "cadence": CADENCES[i % len(CADENCES)],
                    "tier": ("partner", "supplier", "supplier_of_choice", None)[i % 4],
                    "launch_until": (NOW + timedelta(days=5)).date() if i % 41 == 0 else None,
                    "paused_at": NOW - timedelta(days=3) if i % 97 == 0 else None,
                    "created_at": NOW - timedelta(days=600),
                    "updated_at": NOW,
                }
                for i in range(customers)
            ],
        )
        ids = [int(i) for i in session.exec(select(Customer.id).where(Customer.team_id == TEAM)) if i is not None]
        rows: list[dict[str, Any]] = []
        for n, cid in enumerate(ids):
            quiet = n % 13 == 0  # nothing for months: the job must look further back for the last contact
            for _ in range(checkins):
                rows.append(
                    {
                        "team_id": TEAM,
                        "customer_id": cid,
                        "author_id": OWNERS[n % len(OWNERS)],
                        "mood": rng.choice(("green", "green", "yellow", "red", "4")),
                        "note": "weekly sync, roadmap questions",
                        "kind": rng.choice(("call", "async", "message")),
                        "created_at": NOW
                        - timedelta(minutes=rng.randint(150 * 24 * 60 if quiet else 30, 545 * 24 * 60)),
                    }
                )
            if len(rows) >= 20_000:
                session.execute(insert(CheckIn), rows)
                rows = []
        if rows:
            session.execute(insert(CheckIn), rows)
        session.execute(
            insert(Boundary),
            [
                {
                    "team_id": TEAM,
                    "customer_id": cid,
                    "position": p,
                    "kind": "custom",
                    "text": ("Replies within one business day", "Calls only 9–10am")[p],
                    "status": ("active", "held")[p],
                    "created_at": NOW - timedelta(days=90),
                    "activated_at": NOW - timedelta(days=60),
                    "held_at": NOW - timedelta(days=10) if p else None,
                }
                for cid in ids[::2]
                for p in (0, 1)
            ],
        )
        boundary_ids = [b for b in session.exec(select(Boundary.id).where(Boundary.team_id == TEAM)) if b is not None]
        session.execute(
            insert(BoundarySlip),
            [
                {"team_id": TEAM, "boundary_id": bid, "at": NOW - timedelta(days=(bid * k) % 40), "note": ""}
                for bid in boundary_ids[::3]
                for k in (1, 2)
            ],
        )
        session.execute(
            insert(SurveyResponse),
            [
                {
                    "team_id": TEAM,
                    "customer_id": cid,
                    "survey": "scorecard",
                    "respondent_id": OWNERS[0],
                    "answers": {},
                    "score": 1 + (cid * q) % 40 / 10,
                    "created_at": NOW - timedelta(days=(cid + q * 90) % 400),
                }
                for cid in ids[::3]
                for q in (1, 2)
            ],
        )
        session.commit()
    # Yesterday's run of the job, then two weeks of history like it (what the drop alert compares against).
    store = Store(engine)
    client = WebClient(token="xoxb-bench", base_url="http://127.0.0.1:9/")
    daily_health(store=store, client=client, now=NOW - timedelta(days=1), budget=HealthJobBudget(seconds=math.inf))
    with Session(engine) as session:
        yesterday = list(session.exec(select(HealthSnapshot)))
        session.execute(
            insert(HealthSnapshot),
            [
                {
                    "team_id": TEAM,
                    "customer_id": s.customer_id,
                    "day": s.day - timedelta(days=d),
                    "score": None if s.score is None else min(100, s.score + rng.randint(-3, 5)),
                    "band": s.band,
                    "components": s.components,
                    "computed_at": s.computed_at - timedelta(days=d),
                }
                for s in yesterday
                for d in range(1, 14)
            ],
        )
        session.commit()
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")


def one_by_one(store: Store) -> int:
    """The old job: list the due customers, then recompute_health for each of them."""
    due = [c for c in store.customers_for_health() if not scored_today(c, NOW)]
    for customer in due:
        recompute_health(store, customer.team_id, customer.id or 0, NOW)
    return len(due)


def timed(url: str, run: Callable[[Store], int]) -> tuple[int, float, int, dict[int, tuple[Any, ...]]]:
    """(customers scored, seconds, SQL statements, each customer's stored score) of one run on its own copy."""
    engine = make_engine(url)
    store = Store(engine)
    store.customers_for_health()  # the pool's first connection and its PRAGMAs, outside the timing
    with counting(engine) as statements:
        started = time.perf_counter()
        done = run(store)
        seconds = time.perf_counter() - started
    with Session(engine) as session:
        scores = {c.id or 0: (c.health_score, c.health_band, c.health_at) for c in session.exec(select(Customer))}
        days = session.exec(
            select(HealthSnapshot.customer_id, HealthSnapshot.score).where(col(HealthSnapshot.day) == NOW.date())
        )
        for customer_id, score in days:
            scores[customer_id] += (score,)
    engine.dispose()
    return done, seconds, len(statements), scores


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=2000, help="customers, all due (default 2000)")
    parser.add_argument("--checkins", type=int, default=60, help="check-ins per customer over 18 months (default 60)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory with the databases")
    args = parser.parse_args()
    client = WebClient(token="xoxb-bench", base_url="http://127.0.0.1:9/")  # never called: the job makes no Slack call

    print(f"Daily health job, first run of a day, same run — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"Machine: {machine()}")
    print(f"Load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"Command: python bench/health_job.py {' '.join(sys.argv[1:])}".rstrip())
    tmp = tempfile.mkdtemp(prefix="partner-bench-health-")
    try:
        seeded = Path(tmp) / "seeded.db"
        engine = make_engine(f"sqlite:///{seeded}")
        upgrade(engine)
        started = time.perf_counter()
        seed(engine, customers=args.customers, checkins=args.checkins)
        with engine.begin() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        engine.dispose()
        print(
            f"Seeded {args.customers:,} customers, {args.customers * args.checkins:,} check-ins "
            f"in {time.perf_counter() - started:.1f} s (SQLite file, WAL)"
        )
        print()
        urls = {}
        for name in ("baseline", "batched", "ticks"):
            shutil.copy(seeded, Path(tmp) / f"{name}.db")
            urls[name] = f"sqlite:///{tmp}/{name}.db"

        unlimited = HealthJobBudget(seconds=math.inf)
        runs = {
            "one by one: `recompute_health` per customer (baseline, the old job)": timed(urls["baseline"], one_by_one),
            "batched: `daily_health`, 200 a batch, no time budget": timed(
                urls["batched"], lambda s: daily_health(store=s, client=client, now=NOW, budget=unlimited)
            ),
        }
        print("| path | customers | seconds | customers/s | SQL statements | per customer | speed vs baseline |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        base_rate = 0.0
        for label, (done, seconds, statements, _) in runs.items():
            rate = done / seconds if seconds else float("inf")
            base_rate = base_rate or rate
            print(
                f"| {label} | {done:,} | {seconds:.2f} | {rate:,.0f} | {statements:,} "
                f"| {statements / max(done, 1):.2f} | {rate / base_rate:.1f}× |"
            )
        (_, _, _, old), (_, _, _, new) = runs.values()
        same = sum(1 for cid, row in old.items() if new.get(cid) == row)
        print()
        print(f"Identical stored scores (customer score, band, time, today's snapshot): {same:,} of {len(old):,}")

        # The job as a tick runs it: a 10 s budget, then the ticks after it.
        print()
        print(f"| the job in ticks ({DEFAULT_BUDGET.seconds:.0f} s budget) | customers | seconds | SQL statements |")
        print("| --- | ---: | ---: | ---: |")
        engine = make_engine(urls["ticks"])
        store = Store(engine)
        store.customers_for_health()
        tick = 0
        while True:
            tick += 1
            with counting(engine) as statements:
                started = time.perf_counter()
                done = daily_health(store=store, client=client, now=NOW + timedelta(minutes=tick))
                seconds = time.perf_counter() - started
            label = f"tick {tick}" if done else f"tick {tick}: everyone scored today (the cost of every later tick)"
            print(f"| {label} | {done:,} | {seconds:.2f} | {len(statements):,} |")
            if not done or tick > 60:
                break
        engine.dispose()
    finally:
        if args.keep:
            print(f"\nKept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print()
    print(f"Load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
