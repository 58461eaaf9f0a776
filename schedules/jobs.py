"""Every scheduled job, a function of (store, client, now[, settings]); the scheduler and `partner-bot tick` call them.

`client` is a WebClient or a `bot.oauth.SlackClients`; a job resolves a team's client with `client_for`.

A job gets `settings` only when its signature names it. Jobs run in the order of JOBS: planners first, then
`send_nudges` (the generic sender, schedules/sender.py) posts whatever the planners put in the outbox, and the daily
health recompute last, so that a slow health run never holds up a due nudge.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from slack_sdk import WebClient

from bot.oauth import SlackClients
from bot.settings import Settings
from schedules.boundaries import plan_boundary_reminders, review_boundaries
from schedules.cadence import mark_logged_calls, plan_nudges, send_nudges
from schedules.digest import plan_digests, send_digest_charts
from schedules.health import daily_health
from schedules.people import OWNER_GONE_NOTICE as OWNER_GONE_NOTICE  # registers its notice with the sender
from schedules.sharing import check_channel_sharing
from schedules.slack_http import in_tick
from schedules.surveys import plan_survey_prompts
from storage import db
from storage.store import Store

logger = logging.getLogger("partner.jobs")

Job = Callable[..., int]

# Each job returns how many things it did (nudges sent, alerts raised…), for the tick report.
JOBS: dict[str, Job] = {
    # Boundaries plan into the outbox; the sender posts them (keep these before the sender job).
    "boundary_review": review_boundaries,  # held needs, the next-need suggestion, escalations
    "boundary_reminders": plan_boundary_reminders,  # the gentle weekly reminder per active need
    "cadence": plan_nudges,  # call nudges in each customer's time, and overdue alerts to owners
    "calls_logged": mark_logged_calls,  # nudge messages whose call was logged since are updated in place
    "digest": plan_digests,  # each workspace's weekly digest, once its local digest time has come
    "survey_prompts": plan_survey_prompts,  # each owner's scheduled survey prompts (PARTNER_SURVEY_SCHEDULE)
    # Just before the sender: a channel whose sharing Slack never told Partner (or not for a day) is looked up, and
    # its customers' nudges wait while it cannot be (internal posts stay out of a channel the customer reads).
    "channel_sharing": check_channel_sharing,
    "send_nudges": send_nudges,  # posts everything the jobs above planned, exactly once
    "digest_charts": send_digest_charts,  # after the sender: the chart of each digest it just posted, once
    # Last, so nudges never wait for it, and time-boxed (it leaves the rest to the next ticks): each customer's
    # health score once per customer-local day. A health-drop alert it plans is posted by the NEXT tick's sender.
    "health": daily_health,
}


@dataclass
class TickReport:
    now: datetime
    done: dict[str, int] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)


def _wants_settings(job: Job) -> bool:
    parameters = inspect.signature(job).parameters
    return "settings" in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())


def run_tick(
    *, store: Store, client: WebClient | SlackClients, now: datetime, settings: Settings | None = None
) -> TickReport:
    """Runs every job once as of `now`. One failing job does not stop the others.

    `client` is the one bot client (token mode) or each workspace's (`SlackClients`, OAuth mode): jobs post
    through `bot.oauth.client_for(client, team_id)`, so a team's messages go out with that team's token only.
    """
    report = TickReport(now=now)
    if isinstance(client, SlackClients):
        client = client.for_tick()  # each team's installation looked up (and its token refreshed) once per tick
    waits = in_tick.set(True)  # a long Retry-After is not slept through here (schedules.slack_http)
    try:
        for name, job in JOBS.items():
            try:
                extra = {"settings": settings} if _wants_settings(job) else {}
                report.done[name] = job(store=store, client=client, now=now, **extra)
            except Exception as e:  # a job's bug must not stop the other jobs or kill the scheduler thread
                report.failed[name] = f"{type(e).__name__}: {e}"
                if _database_down(store, e):
                    # Every job after it would fail the same way (each waiting out the connect timeout): one line,
                    # no traceback per job and minute; the planners catch up once the database is back.
                    skipped = [later for later in JOBS if later not in report.done and later not in report.failed]
                    report.failed.update(dict.fromkeys(skipped, "skipped: database unavailable"))
                    logger.warning(
                        "tick as of %s: database unavailable (%s); jobs %s skipped until it is back",
                        now.isoformat(),
                        db.error_detail(store.engine, e),
                        ", ".join([name, *skipped]),
                    )
                    break
                logger.exception("job %s failed", name)
    finally:
        in_tick.reset(waits)
    return report


def _database_down(store: Store, error: Exception) -> bool:
    """The job failed because the database cannot be reached (not a bug of the job's: SQLite's "no such table" is an
    OperationalError too, so the database is asked again before the tick gives up on it)."""
    if not isinstance(error, db.UNREACHABLE) or db.lock_wait_given_up(error):
        return False
    try:
        store.ping()
    except db.UNREACHABLE:
        return True
    return False
