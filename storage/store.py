"""The repository: every read and write the app makes, keyword-only, each in its own short transaction.

A Store is long-lived and thread-safe (it holds the engine, not a session), so Bolt listeners, the
scheduler and the CLI share one. Its methods live in one module per part of the record (storage/*.py).
"""

from __future__ import annotations

from storage.base import StoreBase
from storage.boundaries import BoundaryQueries
from storage.cadence import CadenceQueries
from storage.checkins import CheckInQueries
from storage.customers import CustomerQueries
from storage.exports import ExportQueries
from storage.health import HealthQueries
from storage.home import HomeQueries
from storage.nudges import NudgeQueries
from storage.surveys import SurveyQueries
from storage.workspaces import WorkspaceQueries


class Store(
    CustomerQueries,
    WorkspaceQueries,
    CheckInQueries,
    NudgeQueries,
    CadenceQueries,
    BoundaryQueries,
    SurveyQueries,
    HealthQueries,
    HomeQueries,
    ExportQueries,
    StoreBase,
):
    pass
