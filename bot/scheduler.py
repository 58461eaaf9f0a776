"""The in-process scheduler: a short tick every minute that runs the same jobs as `partner-bot tick`."""

from __future__ import annotations

import logging

from apscheduler.schedulers.background import BackgroundScheduler
from slack_sdk import WebClient

from bot.clock import Clock
from schedules.jobs import run_tick
from storage.store import Store

logger = logging.getLogger("partner.scheduler")

TICK_JOB_ID = "partner-tick"


def build_scheduler(*, store: Store, client: WebClient, clock: Clock) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone="UTC")

    def tick() -> None:
        run_tick(store=store, client=client, now=clock())

    # One tick at a time, and a late tick (after a pause) runs once rather than catching up minute by minute:
    # the jobs themselves work out everything due since the last run.
    scheduler.add_job(
        tick,
        "cron",
        second=0,
        id=TICK_JOB_ID,
        max_instances=1,
        coalesce=True,
        misfire_grace_time=300,
        replace_existing=True,
    )
    return scheduler
