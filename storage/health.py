"""Health snapshots for trends."""

from __future__ import annotations

from storage.base import StoreBase


class HealthQueries(StoreBase):
    pass
