"""Every scheduled job, as a function of (store, client, now); the scheduler and `partner-bot tick` only call them."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from slack_sdk import WebClient

from storage.store import Store

logger = logging.getLogger("partner.jobs")

Job = Callable[..., int]

# Each job returns how many things it did (nudges sent, alerts raised…), for the tick report.
JOBS: dict[str, Job] = {}


@dataclass
class TickReport:
    now: datetime
    done: dict[str, int] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)


def run_tick(*, store: Store, client: WebClient, now: datetime) -> TickReport:
    """Runs every job once as of `now`. One failing job does not stop the others."""
    report = TickReport(now=now)
    for name, job in JOBS.items():
        try:
            report.done[name] = job(store=store, client=client, now=now)
        except Exception as e:  # a job's bug must not stop the other jobs or kill the scheduler thread
            logger.exception("job %s failed", name)
            report.failed[name] = f"{type(e).__name__}: {e}"
    return report
