"""The only place that reads the wall clock; everything else is handed `now`."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


def fixed_clock(instant: datetime) -> Clock:
    if instant.tzinfo is None:
        raise ValueError("a clock needs an aware datetime")
    return lambda: instant


def running_clock(start: datetime) -> Clock:
    """A clock that reads `start` now and runs at real speed from there (PARTNER_CLOCK_START; tests only)."""
    if start.tzinfo is None:
        raise ValueError("a clock needs an aware datetime")
    began = time.monotonic()
    return lambda: start + timedelta(seconds=time.monotonic() - began)
