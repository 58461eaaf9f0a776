"""The in-process scheduler: a short tick every minute that runs the same jobs as `partner-bot tick`.

Each process (each replica) runs its own tick from an in-memory job store: APScheduler 3 does not support sharing a
job store between schedulers (its FAQ), and nothing needs to be shared — the database is the only source of truth
for what is due and what was sent. The planners work out everything due since their watermark and the outbox
claims rows with a lease, so any number of replicas ticking at once send each nudge exactly once, and a restart
after downtime catches up in its first tick. The stored job names a module-level function that looks its
dependencies (store, client, clock…) up in `_runtime`, which `build_scheduler` fills in for this process.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from slack_sdk import WebClient
from sqlalchemy.exc import SQLAlchemyError

from bot.clock import Clock
from bot.metrics import Metrics, nudge_outcome, recording
from bot.oauth import SlackClients
from bot.settings import Settings
from handlers.events.uninstall import reactivate_token_team
from schedules.jobs import TickReport, run_tick
from schedules.sender import OUTCOME_HOOKS
from schedules.slack_http import in_tick
from storage.store import Store

logger = logging.getLogger("partner.scheduler")

TICK_JOB_ID = "partner-tick"

# The sender reports each nudge's outcome; counted into the tick's metrics (see bot.metrics.recording).
if nudge_outcome not in OUTCOME_HOOKS:
    OUTCOME_HOOKS.append(nudge_outcome)


def observed_tick(
    *,
    store: Store,
    client: WebClient | SlackClients,
    now: datetime,
    metrics: Metrics | None = None,
    settings: Settings | None = None,
) -> TickReport:
    """One tick, timed: its duration and per-job counts go to `metrics` and to one log line."""
    started = time.perf_counter()
    with recording(metrics):  # nudge_outcome(...) inside the jobs counts into these metrics
        report = run_tick(store=store, client=client, now=now, settings=settings)
    seconds = time.perf_counter() - started
    if metrics is not None:
        metrics.observe_tick(report, seconds)
    done = ", ".join(f"{name}={count}" for name, count in report.done.items() if count) or "nothing due"
    failed = f"; FAILED: {', '.join(report.failed)}" if report.failed else ""
    logger.log(
        logging.ERROR if report.failed else logging.INFO,
        "tick as of %s took %.2f s: %s%s",
        now.isoformat(),
        seconds,
        done,
        failed,
    )
    return report


@dataclass(frozen=True)
class _Runtime:
    store: Store
    client: WebClient | SlackClients
    clock: Clock
    metrics: Metrics | None
    settings: Settings | None


_runtime: _Runtime | None = None
_token_checked = False  # token mode: a process's first tick checks whose the bot token is (a reinstall), until answered


def check_reinstalled_token(store: Store, client: WebClient | SlackClients) -> bool:
    """Token mode, a process's first tick (serve's, or each `partner-bot tick` of a cron deployment): whether its bot
    token is that of a workspace marked uninstalled (a reinstall). True once settled; Slack or the database not
    answering leaves it to the next tick. As a tick's own calls, a long Retry-After is not slept through (the tick
    would wait minutes behind it)."""
    if isinstance(client, SlackClients):  # as `serve` passes it, in either mode
        client = client.client if client.installation_store is None else None
    if client is None:  # OAuth mode: the install flow itself reactivates a workspace
        return True
    waits = in_tick.set(True)
    try:
        return reactivate_token_team(store, client)
    except SQLAlchemyError as e:
        logger.warning("token check after an uninstall: the database did not answer (%s); next tick", type(e).__name__)
        return False
    finally:
        in_tick.reset(waits)


def scheduled_tick() -> None:
    """The stored job: a module-level reference, so APScheduler can load it back from its table after a restart."""
    deps = _runtime
    if deps is None:
        logger.error("scheduled tick fired before build_scheduler set up its dependencies; skipped")
        return
    global _token_checked
    if not _token_checked:
        _token_checked = check_reinstalled_token(deps.store, deps.client)
    observed_tick(store=deps.store, client=deps.client, now=deps.clock(), metrics=deps.metrics, settings=deps.settings)


def build_scheduler(
    *,
    store: Store,
    client: WebClient | SlackClients,
    clock: Clock,
    metrics: Metrics | None = None,
    settings: Settings | None = None,
) -> BackgroundScheduler:
    global _runtime, _token_checked
    _token_checked = False
    _runtime = _Runtime(store=store, client=client, clock=clock, metrics=metrics, settings=settings)
    scheduler = BackgroundScheduler(timezone="UTC")
    # Every minute on the minute; PARTNER_TICK_SECONDS (tests only) ticks every N seconds instead.
    every = settings.tick_seconds if settings is not None else None
    trigger: dict[str, Any] = {"trigger": "interval", "seconds": every} if every else {"trigger": "cron", "second": 0}
    # One tick at a time, and a late tick (after a pause) runs once rather than catching up minute by minute:
    # the jobs themselves work out everything due since the last run.
    scheduler.add_job(scheduled_tick, id=TICK_JOB_ID, max_instances=1, coalesce=True, misfire_grace_time=300, **trigger)
    return scheduler
