"""The nudge outbox: planning, claiming with a lease, recording the outcome."""

from __future__ import annotations

from storage.base import StoreBase


class NudgeQueries(StoreBase):
    pass
