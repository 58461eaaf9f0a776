"""Workspaces (Slack teams): created on first use, deactivated by an uninstall, reactivated by a reinstall, purged
by an admin."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import MetaData, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from storage.base import StoreBase, upsert_insert
from storage.models import Customer, Nudge, Workspace
from storage.nudges import _write_transaction

UNINSTALLED = "the workspace uninstalled Partner"
# In Workspace.settings: the Enterprise Grid organisation whose org-wide installation serves the workspace (absent:
# the workspace installed Partner itself). Slack names it in every request; jobs know only the workspace.
ORGANISATION = "enterprise_id"

# In Workspace.settings: Slack's event_time (Unix seconds) of the latest team_access_granted / _revoked applied to
# the workspace. Slack does not keep events in order: an older one arriving later must not undo a newer one.
ACCESS_CHANGED_AT = "access_event_time"


def workspace_to_change(session: Session, *, team_id: str, now: datetime) -> Workspace:
    """The workspace's row (a new one when there is none yet), read under its write lock (SQLite: the database's,
    BEGIN IMMEDIATE; PostgreSQL: the row's, FOR UPDATE) for a read-merge-write of its settings JSON, which is saved
    whole: two writes at once (`digest channel` and `digest time`, a first request through an org-wide install)
    each merge into what the other saved instead of one losing the other's keys."""
    _write_transaction(session)
    workspace = session.get(Workspace, team_id, with_for_update=True)
    if workspace is None:
        # No row to lock yet: created now unless another write created it first (then locked once it commits).
        insert = upsert_insert(session.get_bind().dialect.name)
        session.execute(insert(Workspace).values(team_id=team_id, created_at=now, settings={}).on_conflict_do_nothing())
        workspace = session.get_one(Workspace, team_id, with_for_update=True)
    return workspace


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

    def note_organisation(self, *, team_id: str, enterprise_id: str, now: datetime) -> bool:
        """A request from `team_id` through its organisation's org-wide installation: remember the organisation, so
        nudges and Home refreshes find that installation's token. A read when already known; True when written."""
        self.ensure_workspace(team_id=team_id, now=now)
        with self.session() as session:
            workspace = session.get_one(Workspace, team_id)
            if (workspace.settings or {}).get(ORGANISATION) == enterprise_id:
                return False
        with self.session() as session:
            workspace = workspace_to_change(session, team_id=team_id, now=now)
            if (workspace.settings or {}).get(ORGANISATION) == enterprise_id:
                return False  # another request noted it meanwhile
            workspace.settings = {**(workspace.settings or {}), ORGANISATION: enterprise_id}  # JSON is saved whole
            session.add(workspace)
            session.commit()
            return True

    def organisation_of(self, *, team_id: str) -> str | None:
        """The organisation whose org-wide installation serves `team_id` (None: it has its own, or none)."""
        with self.session() as session:
            workspace = session.get(Workspace, team_id)
            found = (workspace.settings or {}).get(ORGANISATION) if workspace is not None else None
            return str(found) if found else None

    def organisation_workspaces(self, *, enterprise_id: str) -> list[str]:
        """The workspaces an organisation's org-wide installation served (a few per organisation: read in Python,
        the same on SQLite and PostgreSQL)."""
        with self.session() as session:
            rows = session.exec(select(Workspace.team_id, Workspace.settings)).all()
            return sorted(team for team, settings in rows if (settings or {}).get(ORGANISATION) == enterprise_id)

    def note_access_change(self, *, team_id: str, event_time: int, now: datetime) -> bool:
        """An organisation's team_access_granted or _revoked sent at `event_time`: recorded and True when it is not
        older than the last one recorded for the workspace; False (nothing recorded) for a stale one, which Slack
        delivered after a newer change."""
        with self.session() as session:
            workspace = workspace_to_change(session, team_id=team_id, now=now)
            settings = workspace.settings or {}
            latest = settings.get(ACCESS_CHANGED_AT)
            if isinstance(latest, int) and event_time < latest:
                return False
            workspace.settings = {**settings, ACCESS_CHANGED_AT: event_time}  # JSON is saved whole
            session.add(workspace)
            session.commit()
            return True

    def deactivate_workspace(self, *, team_id: str, now: datetime) -> int:
        """The app was uninstalled (or its bot token revoked): nothing more is planned or sent for this workspace
        and its queued nudges are cancelled; every row is kept. Returns how many nudges were cancelled."""
        self.ensure_workspace(team_id=team_id, now=now)
        with self.session() as session:
            session.exec(  # type: ignore[call-overload]
                update(Workspace)
                .where(col(Workspace.team_id) == team_id, col(Workspace.active).is_(True))
                .values(active=False, uninstalled_at=now)
            )
            # In the same transaction: a sender claiming meanwhile either sees the workspace inactive or loses
            # its claim here (mark_sending needs the row still "claimed").
            result = session.exec(  # type: ignore[call-overload]
                update(Nudge)
                .where(col(Nudge.team_id) == team_id, col(Nudge.status).in_(("pending", "claimed")))
                .values(status="cancelled", error=UNINSTALLED, lease_until=None)
            )
            session.commit()
            return int(result.rowcount or 0)

    def reactivate_workspace(self, *, team_id: str) -> bool:
        """A request from the workspace after an uninstall means it installed Partner again: active once more.

        A primary-key read on every request; the write only happens once per reinstall. True when reactivated.
        """
        with self.session() as session:
            active = session.exec(select(Workspace.active).where(col(Workspace.team_id) == team_id)).first()
            if active is None or active[0]:
                return False
            result = session.exec(  # type: ignore[call-overload]
                update(Workspace)
                .where(col(Workspace.team_id) == team_id, col(Workspace.active).is_(False))
                .values(active=True, uninstalled_at=None)
            )
            session.commit()
            return bool(result.rowcount)

    def uninstalled_team_ids(self) -> list[str]:
        """Workspaces that uninstalled Partner (or revoked its bot token) and have not come back."""
        with self.session() as session:
            return list(session.exec(select(Workspace.team_id).where(col(Workspace.active).is_(False))).scalars())

    def known_team_ids(self) -> list[str]:
        """Every workspace this database holds customers or settings of, installed or not (the operator's view)."""
        with self.session() as session:
            customers = set(session.exec(select(Customer.team_id).distinct()).scalars())
            workspaces = set(session.exec(select(Workspace.team_id)).scalars())
        return sorted(customers | workspaces)

    def workspace_active(self, *, team_id: str) -> bool:
        """False only for a workspace that uninstalled Partner; an unknown one counts as active."""
        with self.session() as session:
            workspace = session.get(Workspace, team_id)
            return workspace is None or workspace.active

    def purge_workspace(self, *, team_id: str, dry_run: bool) -> dict[str, int]:
        """Deletes every row of `team_id` in every table with a team_id column (Partner's own and slack-sdk's
        installation tables alike, read from the database itself), children before parents, in one transaction.
        Returns the rows per table (with `dry_run`: what would be deleted, nothing is)."""
        tables = MetaData()
        tables.reflect(bind=self.engine)
        counts: dict[str, int] = {}
        with self.engine.begin() as conn:
            for table in reversed(tables.sorted_tables):  # dependents first: foreign keys never block a delete
                if "team_id" not in table.c:
                    continue
                mine = table.c.team_id == team_id
                if dry_run:
                    counts[table.name] = int(
                        conn.execute(select(func.count()).select_from(table).where(mine)).scalar_one()
                    )
                else:
                    counts[table.name] = int(conn.execute(delete(table).where(mine)).rowcount or 0)
            if dry_run:
                conn.rollback()
        return counts
