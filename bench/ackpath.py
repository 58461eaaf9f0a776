"""The `/partner checkin` ack path measured in-process, in CPU time: Partner against a bare Bolt app.

    python bench/ackpath.py                      # 200 check-ins after 20 warm-ups, a team of 200 customers
    python bench/ackpath.py --n 500 --customers 1000

No HTTP and no other process on the request's way: each signed `/partner checkin acme green …` (a unique
trigger_id, a real insert into a SQLite file in WAL mode) goes through `App.dispatch`, and the fake Slack Web API
answers the follow-ups from a thread of this process. CPU time is load-insensitive where wall time is not (the
machine is shared), so this is the number to compare between commits:

- ack thread CPU: `time.thread_time()` around each `dispatch` — what the ack itself costs;
- process CPU per check-in: `time.process_time()` over all dispatches with the follow-ups (channel summary, owner
  alert, boundary checks, health recompute; folded per customer at hand-over) drained at the end, divided by N;
- dispatch wall time: for reference only.

Both apps are measured in the same run; the last column is Partner / bare Bolt.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from slack_bolt import Ack, App, BoltRequest  # noqa: E402
from slack_sdk import WebClient  # noqa: E402

from bench.run import SIGNING_SECRET, TEAM_ID, command_body, machine  # noqa: E402
from bot.app import create_app  # noqa: E402
from bot.clock import system_clock  # noqa: E402
from bot.settings import Settings  # noqa: E402
from handlers.followups import PerCustomer  # noqa: E402
from storage.db import make_engine, upgrade  # noqa: E402
from storage.store import Store  # noqa: E402
from tests.fake_slack import FakeSlack  # noqa: E402

BOT_TOKEN = "xoxb-bench-token"
CHECKIN = "checkin acme green bench note {n} — kickoff went *well*"


def signed_command(text: str) -> BoltRequest:
    """The same signed slash command the HTTP benchmark posts (bench/run.py), handed to Bolt directly."""
    body, headers = command_body(text)
    return BoltRequest(body=body.decode(), headers={k.lower(): [v] for k, v in headers.items()})


def measure(dispatch: Callable[[BoltRequest], Any], drain: Callable[[], None], n: int, warmup: int) -> dict[str, float]:
    for _ in range(warmup):
        assert dispatch(signed_command(CHECKIN)).status == 200
    gc.collect()
    requests = [signed_command(CHECKIN) for _ in range(n)]
    cpu, wall = [], []
    process_started = time.process_time()
    for request in requests:
        wall_started, thread_started = time.perf_counter(), time.thread_time()
        status = dispatch(request).status
        cpu.append(time.thread_time() - thread_started)
        wall.append(time.perf_counter() - wall_started)
        assert status == 200, status
    drain()
    process_cpu = time.process_time() - process_started
    return {
        "ack thread CPU, median (ms)": statistics.median(cpu) * 1000,
        "ack thread CPU, p90 (ms)": statistics.quantiles(cpu, n=10)[-1] * 1000,
        "dispatch wall time, median (ms)": statistics.median(wall) * 1000,
        "process CPU per check-in, follow-ups included (ms)": process_cpu / n * 1000,
    }


def partner(
    fake: FakeSlack, database: Path, customers: int
) -> tuple[Callable[..., Any], Callable[[], None], PerCustomer]:
    settings = Settings.from_mapping(
        {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": fake.api_url,
            "DATABASE_URL": f"sqlite:///{database}",
            "PARTNER_DEFAULT_TZ": "UTC",
        }
    )
    engine = make_engine(settings.database_url)
    upgrade(engine)
    store = Store(engine)
    app = create_app(settings=settings, store=store, clock=system_clock)
    fake.add_channel("C0ACME", name="acme")
    fake.add_user("U0001", name="dana")
    for name in ["Acme <#C0ACME|acme> <@U0001|dana>"] + [f"Customer {i:04d}" for i in range(1, customers)]:
        assert app.dispatch(signed_command(f"add {name}")).status == 200
    return app.dispatch, app.drain, app.after_ack.checkin_followups


def bare_bolt(fake: FakeSlack) -> tuple[Callable[..., Any], Callable[[], None]]:
    app = App(
        signing_secret=SIGNING_SECRET,
        client=WebClient(token=BOT_TOKEN, base_url=fake.api_url),
        process_before_response=True,
        token_verification_enabled=False,
    )

    @app.command("/partner")
    def ack_only(ack: Ack) -> None:
        ack()

    return app.dispatch, lambda: None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200, help="measured check-ins per app")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--customers", type=int, default=200, help="customers in the team (the name lookup's size)")
    args = parser.parse_args()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load_before = os.getloadavg()
    fake = FakeSlack(bot_token=BOT_TOKEN, team_id=TEAM_ID).start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            dispatch, drain, followups = partner(fake, Path(tmp) / "partner.db", args.customers)
            runs_before = followups.runs
            posts_before = len(summary_calls(fake))
            ours = measure(dispatch, drain, args.n, args.warmup)
            followup_runs = followups.runs - runs_before
            summary_posts = summary_calls(fake)[posts_before:]
            threads = threading.active_count()
        bare = measure(*bare_bolt(fake), args.n, args.warmup)
    finally:
        fake.stop()
    load_after = os.getloadavg()
    print(f"Partner vs bare Bolt, /partner checkin in-process (App.dispatch) — {started}")
    print(f"Machine: {machine()}")
    print(
        f"Load average before / after: {' '.join(f'{x:.1f}' for x in load_before)} / "
        f"{' '.join(f'{x:.1f}' for x in load_after)}"
    )
    print(f"Command: python bench/ackpath.py --n {args.n} --warmup {args.warmup} --customers {args.customers}")
    print()
    print("| Per check-in | Partner | Bare Bolt | Partner / Bolt |")
    print("| --- | ---: | ---: | ---: |")
    for key, value in ours.items():
        base = bare[key]
        print(f"| {key} | {value:.2f} | {base:.2f} | {value / base if base else float('nan'):.1f}× |")
    print()
    print(
        f"Follow-up runs (summary, alerts, boundary checks, one health score each) for {args.n + args.warmup} "
        f"check-ins of one customer: {followup_runs} (folded at hand-over: see handlers/followups.py PerCustomer). "
        f"Threads alive after: {threads}."
    )
    print(
        "Channel summary for the same check-ins: "
        f"{sum(c.method == 'chat.postMessage' for c in summary_posts)} chat.postMessage + "
        f"{sum(c.method == 'chat.update' for c in summary_posts)} chat.update to the customer's channel."
    )


def summary_calls(fake: FakeSlack) -> list[Any]:
    """The fake Slack's calls that posted or edited a summary in Acme's channel."""
    return [
        c for c in fake.calls if c.method in ("chat.postMessage", "chat.update") and c.params.get("channel") == "C0ACME"
    ]


if __name__ == "__main__":
    main()
