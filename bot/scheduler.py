"""The in-process scheduler: a short tick every minute that runs the same jobs as `partner-bot tick`.

Its job store is a table (apscheduler_jobs) in the app's own database (SQLAlchemyJobStore), so the tick's
schedule survives restarts: a restart after downtime runs one coalesced tick, and the jobs work out everything
due since the last one (the cadence planner's watermark, the sender's grace period). A stored job must name a
module-level function, so the tick looks its dependencies (store, client, clock…) up in `_runtime`, which
`build_scheduler` fills in for this process.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from slack_sdk import WebClient

from bot.clock import Clock
from bot.settings import Settings
from schedules.jobs import run_tick
from storage.store import Store

logger = logging.getLogger("partner.scheduler")

TICK_JOB_ID = "partner-tick"
JOBS_TABLE = "apscheduler_jobs"


@dataclass(frozen=True)
class _Runtime:
    store: Store
    client: WebClient
    clock: Clock
    settings: Settings | None


_runtime: _Runtime | None = None


def scheduled_tick() -> None:
    """The stored job: a module-level reference, so APScheduler can load it back from its table after a restart."""
    deps = _runtime
    if deps is None:
        logger.error("scheduled tick fired before build_scheduler set up its dependencies; skipped")
        return
    run_tick(store=deps.store, client=deps.client, now=deps.clock(), settings=deps.settings)


def build_scheduler(
    *, store: Store, client: WebClient, clock: Clock, settings: Settings | None = None
) -> BackgroundScheduler:
    global _runtime
    _runtime = _Runtime(store=store, client=client, clock=clock, settings=settings)
    scheduler = BackgroundScheduler(
        timezone="UTC", jobstores={"default": SQLAlchemyJobStore(engine=store.engine, tablename=JOBS_TABLE)}
    )
    # One tick at a time, and a late tick (after a pause) runs once rather than catching up minute by minute:
    # the jobs themselves work out everything due since the last run. replace_existing: the stored job is
    # updated to this code's settings at each start instead of clashing with it.
    scheduler.add_job(
        scheduled_tick,
        "cron",
        second=0,
        id=TICK_JOB_ID,
        max_instances=1,
        coalesce=True,
        misfire_grace_time=300,
        replace_existing=True,
    )
    return scheduler
