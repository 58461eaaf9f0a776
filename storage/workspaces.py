"""Workspaces (Slack teams)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError

from storage.base import StoreBase
from storage.models import Workspace


class WorkspaceQueries(StoreBase):
    def ensure_workspace(self, *, team_id: str, now: datetime, name: str | None = None) -> Workspace:
        with self.session() as session:
            workspace = session.get(Workspace, team_id)
            if workspace is not None:
                return workspace
            workspace = Workspace(team_id=team_id, name=name, created_at=now)
            session.add(workspace)
            try:
                session.commit()
            except IntegrityError:  # another request created it first
                session.rollback()
                return session.get_one(Workspace, team_id)
            return workspace
