"""`partner-bot`: serve, db upgrade, tick, upcoming, doctor, export, workspace purge."""

from __future__ import annotations

import argparse
import errno
import faulthandler
import logging
import re
import signal
import socket
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, TextIO

from bot.clock import Clock, fixed_clock, running_clock, system_clock

# Nothing heavier than the standard library here: `serve` takes SIGTERM over before the app's modules load (over a
# second of imports), so an orchestrator stopping a starting Partner gets one line and exit 0, never a bare 143.
if TYPE_CHECKING:
    from sqlalchemy import Engine

    from bot.server import HttpListener
    from bot.settings import Settings
    from storage.store import Store

logger = logging.getLogger("partner")
# A Slack workspace (T…) or Enterprise Grid organization (E…) ID.
TEAM_ID = re.compile(r"[TE][A-Z0-9]{2,31}")
# Seconds after SIGTERM before the threads' stacks are dumped, should the shutdown not be over by then.
SHUTDOWN_REPORT_AFTER = 15


def stop_signals() -> tuple[signal.Signals, ...]:
    """The signals that stop `serve` and `tick` gracefully: SIGTERM (orchestrators, systemd), SIGINT (Ctrl-C) and
    SIGHUP (the terminal closed; systemd's SendSIGHUP), which by default killed the process at once, mid-request.
    SIGHUP that came ignored (`nohup partner-bot serve &`) stays ignored: the operator asked to outlive the terminal."""
    if signal.getsignal(signal.SIGHUP) == signal.SIG_IGN:
        return (signal.SIGTERM, signal.SIGINT)
    return (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def parse_instant(text: str) -> datetime:
    """ISO 8601; `Z` or an offset is required so nobody schedules in an unknown zone by accident."""
    try:
        instant = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 instant: {text!r} (try 2026-12-01T14:00:00Z)") from None
    if instant.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no time zone; add Z or an offset like +01:00")
    return instant.astimezone(UTC)


def calendar_day(text: str) -> date:
    """YYYY-MM-DD, named back when it is not one (argparse would say "invalid fromisoformat value")."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-01-31 (YYYY-MM-DD)") from None


def port_number(text: str) -> int:
    port = int(text) if text.isdigit() else 0
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"a port is a number from 1 to 65535, got {text!r}")
    return port


def thread_count(text: str) -> int:
    count = int(text) if text.isdigit() else 0
    if not 0 < count <= 1024:  # 0 threads would accept requests and never answer them
        raise argparse.ArgumentTypeError(f"the number of HTTP threads is from 1 to 1024, got {text!r}")
    return count


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="partner-bot", description="Partner: customer relationships, daily.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the bot (Socket Mode when SLACK_APP_TOKEN is set, else HTTP)")
    serve.add_argument("--http", action="store_true", help="force HTTP mode even when SLACK_APP_TOKEN is set")
    serve.add_argument("--port", type=port_number, help="HTTP port (default: PORT, 3000)")
    serve.add_argument("--host", default="0.0.0.0", help="HTTP interface (default: all)")
    serve.add_argument("--threads", type=thread_count, default=8, help="HTTP worker threads (default: 8)")
    serve.add_argument("--no-scheduler", action="store_true", help="do not run scheduled jobs in this process")
    serve.add_argument(
        "--db-wait",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="keep retrying an unreachable database this long at start (default: 60)",
    )

    dbp = commands.add_parser("db", help="database maintenance")
    db_commands = dbp.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="apply migrations up to the latest (safe to repeat)")

    tick = commands.add_parser("tick", help="run every scheduled job once, then exit")
    tick.add_argument("--now", type=parse_instant, help="as of this instant, e.g. 2026-12-01T14:00:00Z")

    upcoming = commands.add_parser("upcoming", help="print the cadence nudges due soon (a dry run: no Slack calls)")
    upcoming.add_argument("--days", type=int, default=14, help="how far ahead (default: 14)")
    upcoming.add_argument("--team", help="only this workspace (team ID)")
    upcoming.add_argument("--now", type=parse_instant, help="plan as of this instant instead of the real clock")

    doctor = commands.add_parser("doctor", help="check settings, database, token, scopes and channels; say what to fix")
    doctor.add_argument("--manifest", type=Path, help="the app manifest to compare scopes with (default: manifest.yml)")

    export = commands.add_parser("export", help="write check-ins (and survey answers) as CSV, with a progress bar")
    export.add_argument("--team", required=True, help="the workspace (team ID, e.g. T0123ABCD)")
    export.add_argument("--out", required=True, type=Path, help="CSV file for the check-ins ('-' for stdout)")
    export.add_argument("--surveys", type=Path, help="CSV file for the survey answers (default: not exported)")
    export.add_argument("--since", type=calendar_day, help="only from this date on (YYYY-MM-DD, default zone)")
    export.add_argument("--customer", help="only this customer (name or unambiguous prefix)")

    workspace = commands.add_parser("workspace", help="workspace administration")
    workspace_commands = workspace.add_subparsers(dest="workspace_command", required=True)
    purge = workspace_commands.add_parser(
        "purge", help="delete every row of one workspace, in every table (after it uninstalled Partner)"
    )
    purge.add_argument("team", help="the workspace's team ID, e.g. T0123ABCD")
    purge.add_argument("--yes", action="store_true", help="really delete (without it: only show what would go)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """`partner-bot`. Ctrl-C in a command that has no graceful stop of its own (`serve` and `tick` do) ends it with
    one line and the shell's usual 130, not a KeyboardInterrupt traceback."""
    try:
        return _run(argv)
    except KeyboardInterrupt:
        print("partner-bot: interrupted", file=sys.stderr)
        return 130
    except StoppedBeforeServing as e:
        print(f"partner-bot: stopped by {e} before serving", file=sys.stderr)
        return 0


def _run(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        # From its first moment until serve() takes the signals over, Ctrl-C or SIGTERM (an orchestrator stopping a
        # pod that is still starting, or giving up on a database that stays down) ends the start with one line.
        _stopping_before_serving.clear()
        for signum in stop_signals():
            signal.signal(signum, _stop_before_serving)
    from sqlalchemy.exc import SQLAlchemyError

    from bot import logs
    from bot.settings import Settings, SettingsError
    from storage import db
    from storage.schema_check import SchemaNotAsRecorded
    from storage.store import Store

    try:
        settings = Settings.from_env()
    except SettingsError as e:
        if args.command == "doctor":
            from bot.doctor import report_settings_error

            return report_settings_error(e)
        print(f"partner-bot: configuration error: {e}", file=sys.stderr)
        return 2
    logs.configure(
        level=settings.log_level,
        fmt=settings.log_format,
        secrets=[
            settings.slack_bot_token,
            settings.slack_signing_secret,
            settings.slack_app_token,
            settings.slack_client_secret,
        ],
    )
    if args.command == "doctor":
        from bot.doctor import run_doctor

        return run_doctor(settings, manifest=args.manifest)
    engine = db.make_engine(settings.database_url)
    if args.command not in READ_ONLY and (read_only := db.sqlite_read_only(engine)) is not None:
        # Reads may work and an upgrade at the latest migration writes nothing: `serve` would start, answer /healthz,
        # then fail every check-in. Said at once instead, as a database that refuses Partner.
        print(f"partner-bot: cannot write the database at DATABASE_URL: {read_only}", file=sys.stderr)
        return 3
    listener = None
    try:
        if args.command == "serve":
            # HTTP mode binds its port first: /healthz answers 503 while the database is waited for, then 200.
            if not settings.socket_mode or args.http:
                try:
                    listener = http_listener(settings, args)
                except (OSError, ValueError) as e:  # the port is taken (another Partner?) or not ours to bind
                    why = f"{args.host}:{args.port or settings.port}: {getattr(e, 'strerror', None) or e}"
                    # An address this machine does not have (another host's IP) or a name that does not resolve
                    # (waitress: ValueError) is --host's to fix, not the port's.
                    host = isinstance(e, (socket.gaierror, ValueError)) or e.errno == errno.EADDRNOTAVAIL
                    fix = "--host to an address of this machine, or 0.0.0.0" if host else "PORT or --port"
                    print(f"partner-bot: cannot listen on {why} (set {fix})", file=sys.stderr)
                    return 2
            db.upgrade_when_reachable(engine, give_up_after=max(args.db_wait, 0.0))
        elif args.command in READ_ONLY:
            problem = schema_problem(engine)
            if problem is not None:  # a dry run must not migrate (nor create) the database it looks at
                fix = (
                    ""
                    if "newer Partner" in problem
                    else f": run `partner-bot db upgrade` first (`partner-bot {args.command}` only reads it; "
                    "`partner-bot doctor` says more)"
                )
                print(f"partner-bot: the database at DATABASE_URL {problem}{fix}", file=sys.stderr)
                return 3
        else:
            db.upgrade(engine)
    except SQLAlchemyError as e:
        if listener is not None:
            listener.stop()
        detail = db.error_detail(engine, e)
        if (fix := db.login_refused(e)) is not None:  # reached, and it refused the login: exits at once
            refusal = logs.Redactor()(detail)  # libpq names the user, never the password; the URL's is hidden anyway
            print(
                f"partner-bot: the database server refused DATABASE_URL's login: {refusal}; fix {fix} in DATABASE_URL",
                file=sys.stderr,
            )
        elif isinstance(e, db.UNREACHABLE):
            print(f"partner-bot: cannot reach the database at DATABASE_URL: {detail}", file=sys.stderr)
        else:  # reached, and it refused: waiting longer would not help
            hint = (
                "; the role in DATABASE_URL must own the database (PostgreSQL 15 and later let only the owner "
                "create tables in its public schema)"
                if "permission denied" in detail.lower()
                else ""
            )
            print(
                f"partner-bot: the database at DATABASE_URL refused Partner's schema upgrade: {detail}{hint}",
                file=sys.stderr,
            )
        return 3
    except (db.SchemaNewerThanCode, SchemaNotAsRecorded) as e:  # e.g. an older release after a newer one migrated
        if listener is not None:
            listener.stop()
        print(f"partner-bot: the database at DATABASE_URL {e}.", file=sys.stderr)
        return 3
    except StoppedBeforeServing:
        if listener is not None:
            listener.stop()
        raise  # main() says so in one line
    store = Store(engine)

    if args.command == "db":
        print(f"database at revision {db.current_revision(engine)}")
        return 0
    if args.command == "upcoming":
        return print_upcoming(settings, store, days=args.days, team=args.team, now=args.now)
    if args.command == "tick":
        return run_tick_once(settings, store, args.now)
    if args.command == "export":
        return run_export(settings, store, args)
    if args.command == "workspace":
        return purge_workspace(store, team_id=args.team, yes=args.yes)
    # The graceful shutdown from here on: a signal while the app is being built is answered once it is.
    shutdown = ShutdownRequest()
    for signum in stop_signals():
        signal.signal(signum, shutdown)
    return serve(settings, store, args, listener, shutdown=shutdown)


# Commands README promises only read the database: they never apply migrations on their way.
READ_ONLY = frozenset({"upcoming", "export"})


def schema_problem(engine: Engine) -> str | None:
    """Why the database is not one this Partner can read (None: its schema is at the latest migration)."""
    from storage import db

    current, head = db.current_revision(engine), db.head_revision()
    if current == head:
        return None
    if current is None:
        return "has no Partner schema yet"
    if current not in db.known_revisions():
        return str(db.SchemaNewerThanCode(current))
    return f"is at migration {current}, not at {head}, the latest this Partner knows"


def http_listener(settings: Settings, args: argparse.Namespace) -> HttpListener:
    from bot.server import HttpListener

    port = args.port or settings.port
    listener = HttpListener(host=args.host, port=port, threads=args.threads, oauth=settings.oauth).start()
    logger.info("listening on http://%s:%d (/healthz 503 until the database is reachable)", args.host, port)
    return listener


def print_upcoming(settings: Settings, store: Store, *, days: int, team: str | None, now: datetime | None) -> int:
    """The plan, one nudge a line, in each customer's local time and UTC; reads the database only."""
    from schedules import planner
    from schedules.cadence import destination

    if not 0 < days <= 366:
        print("partner-bot: --days must be from 1 to 366", file=sys.stderr)
        return 2
    if team is not None:
        problem = unknown_team(store, team)
        if problem is not None:  # a mistyped team would otherwise print "0 nudge(s)", as if none were due
            print(f"partner-bot: {problem}", file=sys.stderr)
            return 2
        if not store.workspace_active(team_id=team):
            print(
                f"partner-bot: workspace {team} uninstalled Partner: nothing is planned or sent for it", file=sys.stderr
            )
            return 0
    start = now or system_clock()
    kinds = None if settings.any_checkin_satisfies else ["call"]
    lines = 0
    for team_id in [team] if team else store.active_team_ids():
        customers = store.customers(team_id=team_id)
        contacts = store.last_contacts(
            team_id=team_id, customer_ids=[c.id for c in customers if c.id is not None], kinds=kinds
        )
        snoozes = store.snoozes(team_id=team_id, customers=customers, after=start)
        ids = [c.id for c in customers if c.id is not None]
        nudged = store.nudged_days(team_id=team_id, customer_ids=ids, since=start - planner.TODAYS_NUDGES)
        plan = planner.upcoming(
            customers,
            contacts,
            now=start,
            until=start + timedelta(days=days),
            default_tz=settings.default_tz,
            snoozes=snoozes,
            nudged=nudged,
        )
        for item in plan:
            channel, owner = destination(item.customer, item.slot.due_at)  # where the sender will post it
            where = f"#{channel}" if channel else f"DM @{owner}"
            note = f"  ({item.note}: not sent)" if item.status != "pending" else f"  ({item.what})" if item.what else ""
            print(
                f"{item.local:%Y-%m-%d %a %H:%M} {item.tz:<20} {item.slot.due_at:%Y-%m-%dT%H:%MZ}  {team_id}  "
                f"{item.customer.name} → {where}{note}"
            )
            lines += 1
    print(f"{lines} nudge(s) in the next {days} days as of {start:%Y-%m-%dT%H:%MZ}", file=sys.stderr)
    return 0


def unknown_team(store: Store, team: str) -> str | None:
    """Why `--team` names no workspace of this database (None: it does)."""
    if not TEAM_ID.fullmatch(team):
        return f"{team!r} is not a Slack team ID (like T0123ABCD)"
    if store.customers(team_id=team, include_archived=True):
        return None
    known = ", ".join(store.active_team_ids()) or "none"
    return f"no customers of workspace {team} in this database (workspaces: {known})"


def run_export(settings: Settings, store: Store, args: argparse.Namespace) -> int:
    """`partner-bot export`: streams rows from the database into the CSV files; progress on stderr."""
    from domain.customers import match_customer
    from handlers.commands.export import since_instant
    from storage.exports import ENCODING

    problem = unknown_team(store, args.team)
    if problem is not None:  # a mistyped team would otherwise give an empty file and exit 0, as if nothing to export
        print(f"partner-bot: {problem}", file=sys.stderr)
        return 2
    customer_id = None
    if args.customer:
        match = match_customer(store.customers(team_id=args.team), args.customer.split(), name_of=lambda c: c.name)
        if match.customer is None or match.rest:
            print(f"partner-bot: no single customer matches {args.customer!r} in {args.team}", file=sys.stderr)
            return 2
        customer_id = match.customer.id
    since = since_instant(args.since, settings.default_tz)
    jobs = [("check-ins", args.out, store.count_export_checkins, store.write_checkins_csv)]
    if args.surveys:
        jobs.append(
            ("survey answers", args.surveys, store.count_export_survey_responses, store.write_survey_answers_csv)
        )
    # Every file is opened before any is written, each as a partial file put in place once all are written: a
    # survey file it cannot write leaves no check-ins file behind (nor an earlier export cut short).
    partials: list[tuple[Path, Path]] = []
    targets: list[TextIO] = []
    try:
        for _label, path, _count, _write in jobs:
            if str(path) == "-":
                targets.append(sys.stdout)
                continue
            if path.is_dir():
                raise IsADirectoryError(errno.EISDIR, "Is a directory", str(path))
            partial = path.with_name(f".{path.name}.partial")
            targets.append(partial.open("w", encoding=ENCODING, newline=""))
            partials.append((partial, path))
    except OSError as e:
        for target in targets:
            if target is not sys.stdout:
                target.close()
        for partial, _path in partials:
            partial.unlink(missing_ok=True)
        print(f"partner-bot: cannot write {path}: {e.strerror or e}", file=sys.stderr)
        return 2
    try:
        for (label, path, count, write), target in zip(jobs, targets, strict=True):
            total = count(team_id=args.team, customer_id=customer_id, since=since)
            bar = ProgressBar(label, total, sys.stderr)
            rows = write(target, team_id=args.team, customer_id=customer_id, since=since, progress=bar.update)
            if target is not sys.stdout:
                target.close()
            bar.done(rows, path)
        for partial, path in partials:
            partial.replace(path)
    finally:
        for target in targets:
            if target is not sys.stdout:
                target.close()
        for partial, _path in partials:
            partial.unlink(missing_ok=True)
    return 0


class ProgressBar:
    """`check-ins [##########----------]  50% 5000/10000` redrawn in place on stderr (no extra dependency)."""

    WIDTH = 30

    def __init__(self, label: str, total: int, stream: TextIO) -> None:
        self.label, self.total, self.stream = label, total, stream

    def update(self, done: int) -> None:
        # Survey answers are counted per response but written per answer: never show more than 100%.
        share = min(done / self.total, 1.0) if self.total else 1.0
        filled = int(share * self.WIDTH)
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        self.stream.write(f"\r{self.label:<15} [{bar}] {share:4.0%} {min(done, max(self.total, done))}/{self.total}")
        self.stream.flush()

    def done(self, rows: int, path: Path) -> None:
        self.update(max(rows, self.total))
        self.stream.write(f"\n{rows} {self.label} rows written to {path}\n")
        self.stream.flush()


def purge_workspace(store: Store, *, team_id: str, yes: bool) -> int:
    """`partner-bot workspace purge T… [--yes]`: rows per table; deletes only with --yes (exit 1 without)."""
    if not TEAM_ID.fullmatch(team_id):
        print(f"partner-bot: {team_id!r} is not a Slack team ID (like T0123ABCD)", file=sys.stderr)
        return 2
    installed = store.workspace_active(team_id=team_id)
    counts = store.purge_workspace(team_id=team_id, dry_run=not yes)
    total = sum(counts.values())
    if installed and counts.get("workspace"):
        print(f"note: {team_id} has not uninstalled Partner; its next request stores data again", file=sys.stderr)
    for table, count in sorted(counts.items()):
        print(f"{table}: {count}")
    if not total:  # most likely a mistyped ID: say which workspaces the database does hold
        known = ", ".join(store.known_team_ids()) or "none"
        print(f"partner-bot: no rows of workspace {team_id} in this database (workspaces: {known})", file=sys.stderr)
    if not yes:
        print(
            f"would delete {total} row(s) of workspace {team_id}; nothing was deleted. "
            f"Run `partner-bot workspace purge {team_id} --yes` to delete them.",
            file=sys.stderr,
        )
        return 1
    print(f"deleted {total} row(s) of workspace {team_id}", file=sys.stderr)
    return 0


def run_tick_once(settings: Settings, store: Store, now: datetime | None) -> int:
    from bot.app import make_client
    from bot.oauth import slack_clients
    from bot.scheduler import check_reinstalled_token, observed_tick

    clock: Clock = fixed_clock(now) if now else system_clock
    clients = slack_clients(settings, store, make_client(settings))  # OAuth mode: each workspace's own token
    # cron and systemd stop a run with SIGTERM. Dying then could fall between Slack's answer and the outbox's `sent`
    # (a post only a later history lookup finds): the tick finishes what it is doing, as `serve` does on its way out.
    for signum in stop_signals():
        signal.signal(signum, _finish_tick_first)
    check_reinstalled_token(store, clients)  # each run is a first tick: a reinstall's new token resumes its nudges
    report = observed_tick(store=store, client=clients, now=clock(), settings=settings)
    for name, count in report.done.items():
        print(f"{name}: {count}")
    for name, error in report.failed.items():
        print(f"{name}: FAILED {error}", file=sys.stderr)
    return 1 if report.failed else 0


class StoppedBeforeServing(BaseException):
    """A stop signal (stop_signals) while `serve` waits for (or upgrades) the database; a BaseException, as
    KeyboardInterrupt is, so that no `except Exception` on the way swallows it."""


_stopping_before_serving = threading.Event()


def _stop_before_serving(signum: int, frame: FrameType | None) -> None:
    # Once: systemd with SendSIGHUP=yes sends SIGHUP right after SIGTERM, and a second raise would land inside the
    # first one's way out (a traceback, exit 1).
    if not _stopping_before_serving.is_set():
        _stopping_before_serving.set()
        raise StoppedBeforeServing(signal.Signals(signum).name)


def _finish_tick_first(signum: int, frame: FrameType | None) -> None:
    logger.warning("received %s: finishing this tick first", signal.Signals(signum).name)


class ShutdownRequest:
    """Set by a stop signal (stop_signals). The handler only records the signal: raising from it could land inside
    waitress's socket code, which catches every exception and would swallow the shutdown."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signal_name = ""

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if not self.event.is_set():  # the stop is named by its first signal (systemd: SIGTERM, then SIGHUP)
            self.signal_name = signal.Signals(signum).name
        self.event.set()

    def report(self) -> None:
        logger.info("received %s, shutting down", self.signal_name)
        # A shutdown that hangs (a follow-up or a tick stuck on the network or a lock) shows where, on stderr.
        faulthandler.dump_traceback_later(SHUTDOWN_REPORT_AFTER, exit=False)

    def wait(self, while_alive: Callable[[], bool] = lambda: True) -> None:
        while not self.event.wait(timeout=1.0):  # a bounded wait keeps the main thread responsive to signals
            if not while_alive():
                raise RuntimeError("the HTTP server stopped by itself")


def serve(
    settings: Settings,
    store: Store,
    args: argparse.Namespace,
    listener: HttpListener | None = None,
    *,
    shutdown: ShutdownRequest | None = None,
) -> int:
    from slack_sdk.errors import SlackApiError

    from bot.app import create_app
    from bot.memory import IdleTrimmer, freeze_startup_heap, give_back_idle_memory, limit_malloc_arenas
    from bot.scheduler import build_scheduler

    limit_malloc_arenas()  # before any thread starts (bot/memory.py: what a burst of requests leaves behind)
    # PARTNER_CLOCK_START (tests only): the whole process, requests and ticks alike, runs on a clock from then on.
    clock = running_clock(settings.clock_start) if settings.clock_start else system_clock
    app = create_app(settings=settings, store=store, clock=clock)
    scheduler = (
        None
        if args.no_scheduler
        else build_scheduler(store=store, client=app.slack_clients, clock=clock, metrics=app.metrics, settings=settings)
    )
    if shutdown is None:
        shutdown = ShutdownRequest()
        for signum in stop_signals():
            signal.signal(signum, shutdown)
    socket_mode = settings.socket_mode and not args.http
    handler = None
    freeze_startup_heap()  # the app is built: what is alive now lives as long as the process
    try:
        if shutdown.event.is_set():  # stopped while the app was being built: nothing was served, nothing is running
            shutdown.report()
            return 0
        if scheduler:
            scheduler.start()
        IdleTrimmer(trim=lambda: give_back_idle_memory(store.engine)).start(shutdown.event)
        if socket_mode:
            from bot.socket_mode import PartnerSocketModeHandler

            handler = PartnerSocketModeHandler(app, app_token=settings.slack_app_token)
            try:
                if not handler.connect_when_reachable(shutdown.event):
                    shutdown.report()  # SIGTERM while Slack was out of reach
                    return 0
            except SlackApiError as e:  # apps.connections.open refused the app-level token
                print(
                    f"partner-bot: Slack refused SLACK_APP_TOKEN ({e.response.get('error')}): copy a current "
                    "app-level token with the connections:write scope from your app's Basic Information page.",
                    file=sys.stderr,
                )
                return 2
            logger.info("Partner is running in Socket Mode")
            shutdown.wait()
            shutdown.report()
            handler.close_after_answering()  # the envelopes already received are acked before the connection closes
        else:
            from bot.server import PartnerWSGI

            listener = listener or http_listener(settings, args)
            listener.app = PartnerWSGI(app, store, signing_secret=settings.slack_signing_secret)
            logger.info("Partner is listening on http://%s:%d/slack/events", args.host, args.port or settings.port)
            shutdown.wait(while_alive=listener.serving)
            listener.stop(on_stop=shutdown.report)  # returns once in-flight requests are answered
            listener = None
    finally:
        if handler is not None:
            handler.close()
        if listener is not None:  # an error before serving: the port is let go
            listener.stop()
        app.drain()  # follow-ups of requests already answered (lazy listeners) finish before the exit
        if scheduler is not None and scheduler.running:
            scheduler.shutdown(wait=True)
        store.engine.dispose()
        faulthandler.cancel_dump_traceback_later()
    return 0


if __name__ == "__main__":
    sys.exit(main())
