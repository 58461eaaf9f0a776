"""The scheduler's minute tick when nothing new is due: what each job costs at 200 and at 2,000 customers.

    python bench/idle_tick.py                          # 200 vs 2,000 customers
    python bench/idle_tick.py --small 1000 --large 10000

`serve` runs every job each minute (schedules/jobs.py). The first tick of a morning plans and posts; the next ones
should find that work done. Seeds a SQLite file per size (WAL, as `serve` runs it) the way bench/health_job.py
does — mixed cadences, zones, holiday countries, tiers, boundaries with slips, survey answers — runs one tick at
Thu 26 Nov 2026 09:00 UTC against the fake Slack (in this process; every owner exists) so that the morning's
nudges, prompts and scores are done, then measures `--ticks` more ticks a minute apart: each job's CPU time
(process time: load-insensitive enough on a shared machine) and its SQL statements, median over the ticks.
The baseline is the same run at `--small` customers: a job whose idle cost does not grow with the customers has a
ratio near 1; one that re-reads every customer each minute has a ratio near large/small.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from slack_sdk import WebClient  # noqa: E402

from bench.health_job import NOW, OWNERS, TEAM, seed  # noqa: E402
from bench.home import counting  # noqa: E402
from bench.run import machine  # noqa: E402
from schedules.jobs import JOBS, run_tick  # noqa: E402
from storage.db import make_engine, upgrade  # noqa: E402
from storage.store import Store  # noqa: E402
from tests.fake_slack import FakeSlack  # noqa: E402

Costs = dict[str, tuple[float, float]]  # job → (CPU ms, SQL statements), medians over the idle ticks


def idle_costs(customers: int, ticks: int, fake: FakeSlack, folder: Path) -> tuple[Costs, float]:
    engine = make_engine(f"sqlite:///{folder / f'{customers}.db'}")
    upgrade(engine)
    seed(engine, customers=customers, checkins=5)
    store = Store(engine)
    client = WebClient(token="xoxb-bench", base_url=fake.api_url)
    started = time.process_time()
    run_tick(store=store, client=client, now=NOW)  # the morning: plans, posts, scores
    first = time.process_time() - started
    samples: dict[str, list[tuple[float, int]]] = {name: [] for name in JOBS}
    for minute in range(1, ticks + 1):
        now = NOW + timedelta(minutes=minute)
        for name, job in JOBS.items():
            with counting(engine) as statements:
                started = time.process_time()
                job(store=store, client=client, now=now)
                cpu = time.process_time() - started
            samples[name].append((cpu * 1000, len(statements)))
    engine.dispose()
    costs = {
        name: (statistics.median(c for c, _ in runs), statistics.median(s for _, s in runs))
        for name, runs in samples.items()
    }
    return costs, first


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=200, help="customers in the baseline run (default 200)")
    parser.add_argument("--large", type=int, default=2000, help="customers in the measured run (default 2,000)")
    parser.add_argument("--ticks", type=int, default=5, help="idle ticks measured after the morning's (default 5)")
    args = parser.parse_args()
    print(f"The minute tick with nothing new due, same run — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"Machine: {machine()}")
    print(f"Load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"Command: python bench/idle_tick.py {' '.join(sys.argv[1:])}".rstrip())
    with FakeSlack(bot_token="xoxb-bench", team_id=TEAM) as fake, tempfile.TemporaryDirectory() as tmp:
        for owner in OWNERS:
            fake.add_user(owner, name=owner.lower())
        small, small_first = idle_costs(args.small, args.ticks, fake, Path(tmp))
        large, large_first = idle_costs(args.large, args.ticks, fake, Path(tmp))
    print()
    print(
        f"| job | {args.small:,} customers: CPU ms | statements | {args.large:,} customers: CPU ms | statements "
        "| CPU ratio |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name in JOBS:
        (cpu_s, sql_s), (cpu_l, sql_l) = small[name], large[name]
        ratio = f"{cpu_l / cpu_s:.1f}×" if cpu_s >= 1 else "—"
        print(f"| {name} | {cpu_s:.0f} | {sql_s:.0f} | {cpu_l:.0f} | {sql_l:.0f} | {ratio} |")
    total_s, total_l = sum(c for c, _ in small.values()), sum(c for c, _ in large.values())
    print(f"| **a whole idle tick** | **{total_s:.0f}** | | **{total_l:.0f}** | | **{total_l / total_s:.1f}×** |")
    print()
    print(f"The morning's tick before them (plans, posts, scores): {small_first:.1f} s CPU at {args.small:,}, ")
    print(f"{large_first:.1f} s at {args.large:,}.")
    print(f"Load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
