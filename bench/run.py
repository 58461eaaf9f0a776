"""Benchmarks: Partner against a bare Bolt baseline, measured in the same run, printed as one table.

    python bench/run.py                 # the full run (about 2 minutes)
    python bench/run.py --quick         # a smoke run (short phases), numbers only indicative

1. Slash-command ack latency and throughput: signed `/partner checkin acme green …` (a real database write each,
   a unique trigger_id each) over HTTP against `partner-bot serve --http` (a subprocess, SQLite in WAL mode, the
   fake Slack Web API in a process of its own), and the same requests against `bench/baseline_app.py`, a bare Bolt
   app whose `/partner` handler only acks, served by the same waitress server with the same thread count.
   (a) open loop at --rate requests/s for --duration seconds: p50/p95/p99 from each request's *scheduled* send time,
       so a stall is not hidden by the generator waiting for it (no coordinated omission);
   (b) closed loop with 8 and 32 concurrent clients, each sending its next request when the last one is answered.
4. Idle RSS of both processes after the load, once they are quiet: 3 s and 10 s after it (Partner gives freed heap
   back once it has been idle for 2 s: bot/memory.py). Partner's database is migrated by `partner-bot db upgrade`
   before `serve` starts, as README's upgrade procedure does, so `serve` finds it at head and never loads Alembic.
   The baseline is served by `bot.server.serve_http`, which imports nothing of the database stack (a test checks),
   so its memory is Bolt's and waitress's alone.

Benchmarks 2 (nudge fan-out) and 3 (App Home render) are bench/fanout.py and bench/home.py.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.slack_requests import sign  # noqa: E402

BOT_TOKEN = "xoxb-bench-token"
SIGNING_SECRET = "bench-signing-secret"
TEAM_ID = "T0BENCH"
_trigger = itertools.count(1)
PARTNER_SERVE = [sys.executable, "-m", "bot.cli", "serve", "--http", "--host", "127.0.0.1"]
BASELINE = [sys.executable, str(ROOT / "bench" / "baseline_app.py")]
RSS_ONLY_LOAD = 5_000  # requests from each of 8 and 32 clients with --rss-only
PY_SPY = ["py-spy", "record", "--format", "raw", "--idle", "--threads"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def command_body(text: str) -> tuple[bytes, dict[str, str]]:
    """A signed slash command as Slack sends it, with a trigger_id never used before."""
    n = next(_trigger)
    fields = {
        "token": "verification-token-deprecated",
        "team_id": TEAM_ID,
        "team_domain": "bench",
        "channel_id": "C0001",
        "channel_name": "general",
        "user_id": "U0001",
        "user_name": "dana",
        "command": "/partner",
        "text": text.format(n=n),
        "api_app_id": "A0001",
        "is_enterprise_install": "false",
        "response_url": "https://hooks.slack.com/commands/T0BENCH/1/x",
        "trigger_id": f"{10_000_000 + n}.{os.getpid()}.bench",
    }
    body = urlencode(fields).encode()
    ts = int(time.time())
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": sign(SIGNING_SECRET, body, ts),
    }
    return body, headers


CHECKIN = "checkin acme green bench note {n} — kickoff went *well*"


class Client:
    """One keep-alive connection per thread, as a Slack edge node would hold."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.local = threading.local()

    def post(self, body: bytes, headers: dict[str, str]) -> int:
        for attempt in (1, 2):
            conn = getattr(self.local, "conn", None)
            if conn is None:
                conn = self.local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                conn.request("POST", "/slack/events", body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                return response.status
            except (http.client.HTTPException, OSError):
                conn.close()
                self.local.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


@dataclass
class OpenLoop:
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    sent: int = 0
    achieved_rate: float = 0.0

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def open_loop(port: int, rate: float, seconds: float) -> OpenLoop:
    client = Client(port)
    result = OpenLoop()
    lock = threading.Lock()
    total = int(rate * seconds)
    requests = [command_body(CHECKIN) for _ in range(total)]  # signed up front: the schedule is all that runs

    def fire(scheduled: float, body: bytes, headers: dict[str, str]) -> None:
        try:
            status = client.post(body, headers)
        except OSError:
            status = 0
        done = time.perf_counter()
        with lock:
            if status == 200:
                result.latencies_ms.append((done - scheduled) * 1000)
            else:
                result.errors += 1

    with ThreadPoolExecutor(max_workers=64) as pool:
        start = time.perf_counter() + 0.05
        for i, (body, headers) in enumerate(requests):
            scheduled = start + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pool.submit(fire, scheduled, body, headers)
            result.sent += 1
        result.achieved_rate = result.sent / (time.perf_counter() - start)
    return result


def closed_loop(port: int, clients: int, seconds: float, total: int | None = None) -> tuple[float, int]:
    """Requests per second with `clients` concurrent senders; also the number of non-200 answers. With `total`,
    exactly that many requests instead of `seconds` of them (the same load whatever the machine's speed)."""
    client = Client(port)
    stop = time.perf_counter() + seconds
    counts = [0] * clients
    errors = [0] * clients
    tickets = itertools.count()

    def run(k: int) -> None:
        while next(tickets) < total if total is not None else time.perf_counter() < stop:
            body, headers = command_body(CHECKIN)
            if client.post(body, headers) == 200:
                counts[k] += 1
            else:
                errors[k] += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=run, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.perf_counter() - started), sum(errors)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    """The process's CPU time so far (user + system, all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Process:
    def __init__(
        self, name: str, args: list[str], env: dict[str, str], port: int, log: Path, *, health: str | None = None
    ) -> None:
        self.name, self.port, self.health = name, port, health
        self.log = log.open("w")
        self.proc = subprocess.Popen(args, env=env, cwd=ROOT, stdout=self.log, stderr=self.log)

    def wait_ready(self) -> None:
        """Until it accepts connections, and answers `health` with 200 when it has one: `serve` listens before
        its database is reached, answering 503 meanwhile."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited; see its log")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                try:
                    if self.health is None:
                        connection.connect()
                        return
                    connection.request("GET", self.health)
                    if connection.getresponse().status == 200:
                        return
                finally:
                    connection.close()
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


def warm_up(port: int, n: int = 200) -> None:
    client = Client(port)
    for _ in range(n):
        body, headers = command_body(CHECKIN)
        client.post(body, headers)


def print_profile(stacks: Path, top: int = 25) -> None:
    """Where Partner's threads spent the 8-client phase: samples per innermost frame of ours or a library's."""
    if not stacks.exists():
        print("\n(no profile: is py-spy installed?)")
        return
    own: dict[str, int] = {}
    leaf: dict[str, int] = {}
    total = 0
    for line in stacks.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        total += n
        frames = stack.split(";")
        leaf[frames[-1]] = leaf.get(frames[-1], 0) + n
        for frame in reversed(frames):
            if "/work/" in frame or "bot/" in frame or "handlers/" in frame or "storage/" in frame:
                own[frame] = own.get(frame, 0) + n
                break
    print(f"\nProfile of Partner, 8 clients ({total} samples over all threads, idle included):")
    print("Innermost frames:")
    for frame, n in sorted(leaf.items(), key=lambda x: -x[1])[:top]:
        print(f"  {n / total:6.1%}  {frame[:150]}")
    print("Innermost frame of our code:")
    for frame, n in sorted(own.items(), key=lambda x: -x[1])[:top]:
        print(f"  {n / total:6.1%}  {frame[:150]}")


def machine() -> str:
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024
    system = f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    return f"{cpu}, {os.cpu_count()} CPUs, {mem:.0f} GiB RAM, {system}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=50.0, help="open-loop requests per second (default 50)")
    parser.add_argument("--duration", type=float, default=20.0, help="open-loop seconds (default 20)")
    parser.add_argument("--closed", type=float, default=10.0, help="seconds per closed-loop phase (default 10)")
    parser.add_argument("--threads", type=int, default=8, help="server threads for both apps (default 8)")
    parser.add_argument("--quick", action="store_true", help="short phases, for a smoke test")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory with logs and database")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="record Partner with py-spy (pip install py-spy) during its 8-client phase: collapsed stacks in the kept "
        "directory, plus the top frames printed",
    )
    parser.add_argument(
        "--rss-only",
        action="store_true",
        help="benchmark 4 alone (about 40 s): the warm-up, then RSS_ONLY_LOAD requests from 8 and from 32 clients "
        "(about as many check-ins as a full run stores) and the idle RSS; no latency or throughput",
    )
    args = parser.parse_args()
    if args.quick:
        args.duration, args.closed = 3.0, 2.0

    load_before = " ".join(f"{x:.1f}" for x in os.getloadavg())
    work = Path(tempfile.mkdtemp(prefix="partner-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PARTNER_", "DATABASE_URL", "LOG_"))}
    fake = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "fake_slack_server.py"), BOT_TOKEN, TEAM_ID],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert fake.stdout is not None
    api_url = fake.stdout.readline().strip()
    env.update(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=api_url,
        DATABASE_URL=f"sqlite:///{work}/partner.db",
    )
    subprocess.run([*PARTNER_SERVE[:3], "db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True)
    partner_port, baseline_port = free_port(), free_port()
    partner = Process(
        "partner-bot serve",
        [*PARTNER_SERVE, "--port", str(partner_port), "--threads", str(args.threads)],
        env,
        partner_port,
        work / "partner.log",
        health="/healthz",
    )
    baseline = Process(
        "bare Bolt",
        [*BASELINE, "--port", str(baseline_port), "--threads", str(args.threads)],
        env,
        baseline_port,
        work / "baseline.log",
    )
    results: dict[str, dict[str, float]] = {"partner": {}, "baseline": {}}
    errors: dict[str, int] = {"partner": 0, "baseline": 0}
    try:
        partner.wait_ready()
        baseline.wait_ready()
        body, headers = command_body("add Acme")
        assert Client(partner_port).post(body, headers) == 200, "could not add the benchmark customer"
        for key, proc in (("partner", partner), ("baseline", baseline)):
            results[key]["rss_start"] = rss_mib(proc.proc.pid)
        for key, proc in (("partner", partner), ("baseline", baseline)):
            warm_up(proc.port)
            if args.rss_only:
                for clients in (8, 32):
                    print(f"[{key}] {RSS_ONLY_LOAD} requests from {clients} clients…", file=sys.stderr)
                    errors[key] += closed_loop(proc.port, clients, 0, total=RSS_ONLY_LOAD)[1]
                continue
            print(f"[{key}] open loop {args.rate:g} req/s for {args.duration:g} s…", file=sys.stderr)
            ol = open_loop(proc.port, args.rate, args.duration)
            errors[key] += ol.errors
            results[key].update(
                p50=ol.pct(0.50), p95=ol.pct(0.95), p99=ol.pct(0.99), rate=ol.achieved_rate, max=max(ol.latencies_ms)
            )
            for clients in (8, 32):
                print(f"[{key}] closed loop, {clients} clients for {args.closed:g} s…", file=sys.stderr)
                spy = None
                stacks = ["-o", str(work / "partner.stacks")]
                if args.profile and key == "partner" and clients == 8:
                    spy = subprocess.Popen(
                        [*PY_SPY, *stacks, "--pid", str(proc.proc.pid), "--duration", str(int(args.closed))],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                cpu_before = cpu_seconds(proc.proc.pid)
                rps, errs = closed_loop(proc.port, clients, args.closed)
                served_cpu = cpu_seconds(proc.proc.pid) - cpu_before  # follow-ups still running afterwards excluded
                if spy is not None:
                    spy.wait(timeout=60)
                errors[key] += errs
                results[key][f"c{clients}"] = rps
                results[key][f"cpu{clients}"] = served_cpu / max(rps * args.closed, 1) * 1000
        time.sleep(3)  # let them go quiet: idle means no request in flight and garbage collected
        for key, proc in (("partner", partner), ("baseline", baseline)):
            results[key]["rss_idle"] = rss_mib(proc.proc.pid)
        time.sleep(7)  # and quiet for a while: Partner trims its heap after 2 s idle (bot/memory.py)
        for key, proc in (("partner", partner), ("baseline", baseline)):
            results[key]["rss_idle10"] = rss_mib(proc.proc.pid)
    finally:
        partner.stop()
        baseline.stop()
        if fake.stdin:
            fake.stdin.close()
        fake.wait(timeout=10)

    load_after = " ".join(f"{x:.1f}" for x in os.getloadavg())
    from storage.db import make_engine
    from storage.store import Store

    store = Store(make_engine(env["DATABASE_URL"]))
    stored = store.count_checkins(team_id=TEAM_ID)
    store.engine.dispose()

    p, b = results["partner"], results["baseline"]

    def row(name: str, key: str, fmt: str, goal: str, ratio: bool = True) -> str:
        r = f"{p[key] / b[key]:.2f}×" if ratio and b[key] else ""
        return f"| {name} | {p[key]:{fmt}} | {b[key]:{fmt}} | {r} | {goal} |"

    lines = [
        f"Partner vs bare Bolt, same run — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"Machine: {machine()}",
        f"Server: waitress, {args.threads} threads each; SQLite (WAL) for Partner; "
        "fake Slack Web API in its own process.",
        f"Load average before / after: {load_before} / {load_after}",
        "Command: python bench/run.py"
        + (
            f" --rss-only --threads {args.threads} (the warm-up, then {RSS_ONLY_LOAD} requests from 8 clients "
            f"and {RSS_ONLY_LOAD} from 32)"
            if args.rss_only
            else f"{' --quick' if args.quick else ''} --rate {args.rate:g} --duration {args.duration:g} "
            f"--closed {args.closed:g} --threads {args.threads}"
        ),
        "",
        "| Measure | Partner | Bare Bolt | Partner / Bolt | Goal |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    if not args.rss_only:
        lines += [
            row(f"open loop {args.rate:g} req/s: p50 (ms)", "p50", ".1f", ""),
            row(f"open loop {args.rate:g} req/s: p95 (ms)", "p95", ".1f", ""),
            row(f"open loop {args.rate:g} req/s: p99 (ms)", "p99", ".1f", "Partner p99 ≤ 25 ms"),
            row(f"open loop {args.rate:g} req/s: max (ms)", "max", ".1f", ""),
            row("open loop: achieved rate (req/s)", "rate", ".1f", "", ratio=False),
            row("closed loop, 8 clients (req/s)", "c8", ".0f", "≥ 0.80×"),
            row("closed loop, 32 clients (req/s)", "c32", ".0f", "≥ 0.80×"),
            row("server CPU per request, 8 clients (ms)", "cpu8", ".2f", ""),
            row("server CPU per request, 32 clients (ms)", "cpu32", ".2f", ""),
        ]
    lines += [
        row("RSS after start (MiB)", "rss_start", ".1f", ""),
        row("idle RSS 3 s after the load (MiB)", "rss_idle", ".1f", ""),
        row("idle RSS 10 s after the load (MiB)", "rss_idle10", ".1f", "≤ 1.50×"),
        "",
        f"Non-200 answers: Partner {errors['partner']}, bare Bolt {errors['baseline']}. "
        f"Check-ins stored by Partner: {stored} (one per request: every request was a real insert).",
        "",
    ]
    goals = [f"idle RSS ≤ 1.5× {'MET' if p['rss_idle10'] / b['rss_idle10'] <= 1.5 else 'MISSED'}"]
    if not args.rss_only:
        goals[:0] = [
            f"p99 ≤ 25 ms {'MET' if p['p99'] <= 25 else 'MISSED'}",
            f"throughput ≥ 0.8× {'MET' if min(p['c8'] / b['c8'], p['c32'] / b['c32']) >= 0.8 else 'MISSED'}",
        ]
    lines.append("Goals: " + ", ".join(goals))
    print("\n".join(lines))
    if args.profile:
        print_profile(work / "partner.stacks")
    if args.keep or args.profile:
        print(f"\nlogs and database kept in {work}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
