"""Survey responses and drafts."""

from __future__ import annotations

from storage.base import StoreBase


class SurveyQueries(StoreBase):
    pass
