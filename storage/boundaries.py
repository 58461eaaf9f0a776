"""Boundaries (working agreements) and their slips."""

from __future__ import annotations

from storage.base import StoreBase


class BoundaryQueries(StoreBase):
    pass
