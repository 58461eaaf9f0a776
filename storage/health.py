"""Health: what the score reads (check-ins, boundaries) and what it writes (the customer's score, daily snapshots)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

from sqlalchemy import and_, bindparam, func, insert, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from storage.base import StoreBase
from storage.boundaries import RELATIONSHIP_FLAGGED
from storage.models import (
    Boundary,
    BoundarySlip,
    CheckIn,
    Customer,
    CustomerEvent,
    HealthSnapshot,
    SurveyResponse,
    Workspace,
)

# Workspace.settings: the health configuration its stored scores were made with (schedules.health.daily_health).
HEALTH_MADE_WITH = "health_made_with"


class CheckInPoint(NamedTuple):
    """What the health score reads of a check-in: a plain row, not an ORM object (a busy customer has hundreds in
    the mood window, and building each as a model cost ten times the query)."""

    id: int
    created_at: datetime
    kind: str
    mood: str


@dataclass(frozen=True)
class HealthScore:
    """One customer's new score, as :meth:`HealthQueries.save_health_many` stores it."""

    customer_id: int
    score: int | None
    band: str
    components: dict[str, Any]
    day: date  # the customer-local day of the snapshot


@dataclass(frozen=True)
class ScorePoint:
    """One day's stored score of a customer, as the drop alert reads it."""

    day: date
    score: int | None
    computed_at: datetime


class HealthQueries(StoreBase):
    """Each read exists for a batch of customers (one query per kind of input, for the daily job) and for one
    customer (the request path), the single form being the batch form with one id."""

    def checkins_since(self, *, team_id: str, customer_id: int, since: datetime) -> list[CheckInPoint]:
        """Check-ins at or after `since`, oldest first."""
        return self.checkins_since_many(team_id=team_id, customer_ids=[customer_id], since=since)[customer_id]

    def checkins_since_many(
        self, *, team_id: str, customer_ids: Sequence[int], since: datetime
    ) -> dict[int, list[CheckInPoint]]:
        """Each customer's check-ins at or after `since`, oldest first (an empty list for none)."""
        found: dict[int, list[CheckInPoint]] = {i: [] for i in customer_ids}
        if not found:
            return found
        query = (
            select(CheckIn.customer_id, CheckIn.id, CheckIn.created_at, CheckIn.kind, CheckIn.mood)
            .where(
                CheckIn.team_id == team_id,
                col(CheckIn.customer_id).in_(list(found)),
                CheckIn.created_at >= since,
            )
            .order_by(col(CheckIn.customer_id), col(CheckIn.created_at), col(CheckIn.id))
        )
        with self.engine.connect() as conn:
            for customer_id, *point in conn.execute(query):
                found[customer_id].append(CheckInPoint(*point))
        return found

    def newest_checkins_since(
        self, *, team_id: str, customer_id: int, since: datetime, limit: int
    ) -> list[CheckInPoint]:
        """The customer's `limit` newest check-ins at or after `since`, oldest first: all a score without a
        cadence reads of them (the latest moods), however many there are."""
        params = {"team_id": team_id, "customer_id": customer_id, "since": since, "limit": limit}
        with self.engine.connect() as conn:
            return [CheckInPoint(*row) for row in reversed(conn.execute(_NEWEST_CHECKINS, params).all())]

    def last_checkin_at(
        self, *, team_id: str, customer_id: int, kinds: tuple[str, ...] | None = None
    ) -> datetime | None:
        params: dict[str, Any] = {"team_id": team_id, "customer_id": customer_id}
        if kinds is not None:
            params["kinds"] = list(kinds)
        with self.engine.connect() as conn:
            return conn.execute(_LAST_CHECKIN_AT if kinds is None else _LAST_CHECKIN_OF_KINDS_AT, params).scalar()

    def last_checkin_at_many(
        self, *, team_id: str, customer_ids: Sequence[int], kinds: tuple[str, ...] | None = None
    ) -> dict[int, datetime]:
        """Each customer's latest check-in time (of `kinds`, when given); customers without one are left out."""
        if not customer_ids:
            return {}
        with self.session() as session:
            latest = func.max(CheckIn.created_at)  # typed like the column, so it comes back aware UTC
            query = select(CheckIn.customer_id, latest).where(
                CheckIn.team_id == team_id, col(CheckIn.customer_id).in_(list(customer_ids))
            )
            if kinds is not None:
                query = query.where(col(CheckIn.kind).in_(kinds))
            rows = session.exec(query.group_by(col(CheckIn.customer_id)))
            return {customer_id: at for customer_id, at in rows if at is not None}

    def boundaries_with_slips_many(
        self, *, team_id: str, customer_ids: Sequence[int]
    ) -> dict[int, list[tuple[Boundary, list[BoundarySlip]]]]:
        """Each customer's boundaries in their order, each with its slips (oldest first), in two queries."""
        found: dict[int, list[tuple[Boundary, list[BoundarySlip]]]] = {i: [] for i in customer_ids}
        if not found:
            return found
        with self.session() as session:
            boundaries = list(
                session.exec(_BOUNDARIES_OF, params={"team_id": team_id, "customer_ids": list(found)})  # type: ignore[call-overload]
            )
            slips: dict[int, list[BoundarySlip]] = {b.id: [] for b in boundaries if b.id is not None}
            if slips:
                for slip in session.exec(
                    _SLIPS_OF,  # type: ignore[call-overload]
                    params={"team_id": team_id, "boundary_ids": list(slips)},
                ):
                    slips[slip.boundary_id].append(slip)
        for b in boundaries:
            found[b.customer_id].append((b, slips.get(b.id or 0, [])))
        return found

    def relationship_flags_since(
        self, *, team_id: str, customer_ids: Sequence[int], since: datetime
    ) -> dict[int, datetime]:
        """Each customer's latest "flag the relationship" answer after `since`; none → left out."""
        if not customer_ids:
            return {}
        with self.session() as session:
            rows = session.exec(
                select(CustomerEvent.customer_id, func.max(CustomerEvent.at))
                .where(
                    CustomerEvent.team_id == team_id,
                    CustomerEvent.kind == RELATIONSHIP_FLAGGED,
                    col(CustomerEvent.customer_id).in_(list(customer_ids)),
                    col(CustomerEvent.at) > since,
                )
                .group_by(col(CustomerEvent.customer_id))
            )
            return {customer_id: at for customer_id, at in rows if customer_id is not None and at is not None}

    def latest_survey_responses(
        self, *, team_id: str, customer_ids: Sequence[int], survey: str, external: bool | None = None
    ) -> dict[int, SurveyResponse]:
        """Each customer's newest answer to `survey` (as `latest_survey_response` picks it); none → left out."""
        if not customer_ids:
            return {}
        with self.session() as session:
            query = select(SurveyResponse).where(
                SurveyResponse.team_id == team_id,
                SurveyResponse.survey == survey,
                col(SurveyResponse.customer_id).in_(list(customer_ids)),
            )
            if external is not None:
                query = query.where(SurveyResponse.external == external)
            query = query.order_by(col(SurveyResponse.created_at).desc(), col(SurveyResponse.id).desc())
            latest: dict[int, SurveyResponse] = {}
            for response in session.exec(query):
                if response.customer_id is not None:
                    latest.setdefault(response.customer_id, response)  # the first seen is the newest
            return latest

    def save_health(
        self,
        *,
        team_id: str,
        customer_id: int,
        score: int | None,
        band: str,
        components: dict[str, Any],
        day: date,
        now: datetime,
    ) -> None:
        """Puts the score on the customer and in the day's snapshot (one row per customer-local day, updated)."""
        new = HealthScore(customer_id=customer_id, score=score, band=band, components=components, day=day)
        if not self.save_health_many(team_id=team_id, scores=[new], now=now):
            raise LookupError(f"no customer {customer_id} in {team_id}")

    def save_health_many(self, *, team_id: str, scores: Sequence[HealthScore], now: datetime) -> set[int]:
        """Puts each score on its customer and in the customer's snapshot of that day, in one transaction.

        Three statements whatever the batch's size (executemany): the customers' scores, the day's snapshots that
        exist updated, the others inserted. Returns the customers saved; those no longer in the team are skipped.
        """
        ids = [s.customer_id for s in scores]
        if not ids:
            return set()
        for _ in range(2):  # a concurrent recompute may insert a day's row first; then the retry updates it
            with self.engine.connect() as connection:
                known = set(connection.execute(_KNOWN_CUSTOMERS, {"team_id": team_id, "ids": ids}).scalars())
                todo = [s for s in scores if s.customer_id in known]
                if not todo:
                    return set()
                days = sorted({s.day for s in todo})
                existing = {
                    (customer_id, day): snapshot_id
                    for snapshot_id, customer_id, day in connection.execute(
                        _SNAPSHOTS_OF_DAYS, {"ids": ids, "days": days}
                    )
                }
                connection.execute(
                    _SET_SCORE,
                    [{"b_customer": s.customer_id, "b_score": s.score, "b_band": s.band, "b_at": now} for s in todo],
                )
                changed = [
                    {
                        "b_id": existing[(s.customer_id, s.day)],
                        "b_score": s.score,
                        "b_band": s.band,
                        "b_components": s.components,
                        "b_at": now,
                    }
                    for s in todo
                    if (s.customer_id, s.day) in existing
                ]
                added = [
                    {
                        "team_id": team_id,
                        "customer_id": s.customer_id,
                        "day": s.day,
                        "score": s.score,
                        "band": s.band,
                        "components": s.components,
                        "computed_at": now,
                    }
                    for s in todo
                    if (s.customer_id, s.day) not in existing
                ]
                try:  # the insert itself fails when another recompute added one of these days' rows first
                    if changed:
                        connection.execute(_SET_SNAPSHOT, changed)
                    if added:
                        connection.execute(_INSERT_SNAPSHOT, added)
                    connection.commit()
                except IntegrityError:
                    connection.rollback()
                    continue
                return {s.customer_id for s in todo}
        raise RuntimeError("could not save the health snapshots")

    def health_snapshots(self, *, team_id: str, customer_id: int, since: date) -> list[HealthSnapshot]:
        """Snapshots from `since` (a local day) on, oldest first."""
        with self.session() as session:
            query = (
                select(HealthSnapshot)
                .where(
                    HealthSnapshot.team_id == team_id,
                    HealthSnapshot.customer_id == customer_id,
                    HealthSnapshot.day >= since,
                )
                .order_by(col(HealthSnapshot.day))
            )
            return list(session.exec(query))

    def health_scores_many(
        self, *, team_id: str, customer_ids: Sequence[int], since: date
    ) -> dict[int, list[ScorePoint]]:
        """Each customer's daily scores from `since` (a local day) on, oldest first: what the drop alert compares,
        without the snapshots' components (decoding thousands of them was a good part of the daily job's time)."""
        found: dict[int, list[ScorePoint]] = {i: [] for i in customer_ids}
        if not found:
            return found
        params = {"team_id": team_id, "customer_ids": list(found), "since": since}
        with self.engine.connect() as conn:
            for customer_id, day, score, computed_at in conn.execute(_SCORES_SINCE, params):
                found[customer_id].append(ScorePoint(day=day, score=score, computed_at=computed_at))
        return found

    def health_rescores(self, *, made_with: str, default: str, now: datetime) -> dict[str, datetime]:
        """Active workspaces whose stored scores (and bands) were made with another health configuration than
        `made_with` (PARTNER_HEALTH_WEIGHTS/THRESHOLDS): team → since when, its customers scored before then to be
        scored again. A workspace that never recorded one was scored with `default`. Kept in Workspace.settings."""
        due: dict[str, datetime] = {}
        with self.session() as session:
            for workspace in session.exec(select(Workspace).where(col(Workspace.active).is_(True))):
                stored = (workspace.settings or {}).get(HEALTH_MADE_WITH) or {}
                if stored.get("made_with", default) != made_with:
                    stored = {"made_with": made_with, "since": now.isoformat(), "pending": True}
                    workspace.settings = {**(workspace.settings or {}), HEALTH_MADE_WITH: stored}  # JSON saved whole
                    session.add(workspace)
                if stored.get("pending"):
                    due[workspace.team_id] = datetime.fromisoformat(stored["since"])
            session.commit()
        return due

    def health_rescored(self, *, team_id: str, made_with: str) -> None:
        """Every customer of the workspace is scored with `made_with` now: nothing left to score again."""
        with self.session() as session:
            workspace = session.get(Workspace, team_id)
            stored = ((workspace.settings or {}).get(HEALTH_MADE_WITH) or {}) if workspace is not None else {}
            if workspace is None or stored.get("made_with") != made_with:
                return  # another configuration since: its own rescore is still to finish
            workspace.settings = {**(workspace.settings or {}), HEALTH_MADE_WITH: {**stored, "pending": False}}
            session.add(workspace)
            session.commit()

    def health_made_since(self, *, team_id: str) -> datetime | None:
        """Since when the workspace's scores are made with the health configuration in force (None: always)."""
        with self.session() as session:
            workspace = session.get(Workspace, team_id)
            since = ((workspace.settings or {}).get(HEALTH_MADE_WITH) or {}).get("since") if workspace else None
            return datetime.fromisoformat(since) if since else None

    def customers_for_health(self, *, scored_before: Callable[[str | None], datetime] | None = None) -> list[Customer]:
        """Live customers of every active workspace, for the daily jobs.

        With `scored_before`, only those never scored or scored before `scored_before(their tz)` — the start of
        their local day: once everyone is scored, each tick of the day reads no customer at all.
        """
        live = (col(Customer.archived_at).is_(None), col(Workspace.active).is_(True))
        with self.session() as session:
            query = select(Customer).join(Workspace, col(Workspace.team_id) == col(Customer.team_id)).where(*live)
            if scored_before is not None:
                zones = session.exec(
                    select(Customer.tz)
                    .join(Workspace, col(Workspace.team_id) == col(Customer.team_id))
                    .where(*live)
                    .distinct()
                ).all()
                stale = [
                    and_(
                        col(Customer.tz).is_(None) if zone is None else col(Customer.tz) == zone,
                        col(Customer.health_at) < scored_before(zone),
                    )
                    for zone in zones
                ]
                query = query.where(or_(col(Customer.health_at).is_(None), *stale))
            return list(session.exec(query.order_by(col(Customer.team_id), col(Customer.id))))

    def latest_health_reasons(self, *, team_id: str, customer_id: int) -> list[str]:
        """The top reasons stored with the newest snapshot."""
        with self.session() as session:
            snapshot = session.exec(
                select(HealthSnapshot)
                .where(HealthSnapshot.team_id == team_id, HealthSnapshot.customer_id == customer_id)
                .order_by(col(HealthSnapshot.day).desc())
                .limit(1)
            ).first()
            return list(snapshot.components.get("reasons", [])) if snapshot is not None else []

    def health_components_of_days(self, *, team_id: str, customer_id: int, days: Sequence[date]) -> dict[date, list]:
        """The components stored with the customer's snapshots of those days (how each score was made)."""
        with self.session() as session:
            rows = session.exec(
                select(HealthSnapshot).where(
                    HealthSnapshot.team_id == team_id,
                    HealthSnapshot.customer_id == customer_id,
                    col(HealthSnapshot.day).in_(list(days)),
                )
            )
            return {row.day: list(row.components.get("components") or []) for row in rows}

    def record_health_alert(self, *, team_id: str, customer_id: int, detail: dict[str, Any], now: datetime) -> None:
        """A health_alert line in the customer's history; the caller makes it once (the outbox's unique key)."""
        with self.session() as session:
            session.add(
                CustomerEvent(team_id=team_id, customer_id=customer_id, kind="health_alert", detail=detail, at=now)
            )
            session.commit()


# The statements a check-in's follow-up runs to score its customer (and the daily job, in batches), built once with
# their values as parameters: building a statement and its cache key cost more than running it (bench/RESULTS.md).
_CUSTOMERS = Customer.__table__  # type: ignore[attr-defined]
_SNAPSHOTS = HealthSnapshot.__table__  # type: ignore[attr-defined]
_NEWEST_CHECKINS = (
    select(CheckIn.id, CheckIn.created_at, CheckIn.kind, CheckIn.mood)
    .where(
        CheckIn.team_id == bindparam("team_id"),
        CheckIn.customer_id == bindparam("customer_id"),
        col(CheckIn.created_at) >= bindparam("since"),
    )
    .order_by(col(CheckIn.created_at).desc(), col(CheckIn.id).desc())
    .limit(bindparam("limit"))
)
_LAST_CHECKIN_AT = (
    select(CheckIn.created_at)
    .where(CheckIn.team_id == bindparam("team_id"), CheckIn.customer_id == bindparam("customer_id"))
    .order_by(col(CheckIn.created_at).desc())
    .limit(1)
)
_LAST_CHECKIN_OF_KINDS_AT = _LAST_CHECKIN_AT.where(col(CheckIn.kind).in_(bindparam("kinds", expanding=True)))
_BOUNDARIES_OF = (
    select(Boundary)
    .where(
        Boundary.team_id == bindparam("team_id"),
        col(Boundary.customer_id).in_(bindparam("customer_ids", expanding=True)),
    )
    .order_by(col(Boundary.customer_id), col(Boundary.position), col(Boundary.id))
)
_SLIPS_OF = (
    select(BoundarySlip)
    .where(
        BoundarySlip.team_id == bindparam("team_id"),
        col(BoundarySlip.boundary_id).in_(bindparam("boundary_ids", expanding=True)),
    )
    .order_by(col(BoundarySlip.at), col(BoundarySlip.id))
)
_KNOWN_CUSTOMERS = select(_CUSTOMERS.c.id).where(
    _CUSTOMERS.c.team_id == bindparam("team_id"), _CUSTOMERS.c.id.in_(bindparam("ids", expanding=True))
)
_SNAPSHOTS_OF_DAYS = select(_SNAPSHOTS.c.id, _SNAPSHOTS.c.customer_id, _SNAPSHOTS.c.day).where(
    _SNAPSHOTS.c.customer_id.in_(bindparam("ids", expanding=True)),
    _SNAPSHOTS.c.day.in_(bindparam("days", expanding=True)),
)
_SET_SCORE = (
    update(_CUSTOMERS)
    .where(_CUSTOMERS.c.id == bindparam("b_customer"))
    .values(health_score=bindparam("b_score"), health_band=bindparam("b_band"), health_at=bindparam("b_at"))
)
_SET_SNAPSHOT = (
    update(_SNAPSHOTS)
    .where(_SNAPSHOTS.c.id == bindparam("b_id"))
    .values(
        score=bindparam("b_score"),
        band=bindparam("b_band"),
        components=bindparam("b_components"),
        computed_at=bindparam("b_at"),
    )
)
_INSERT_SNAPSHOT = insert(_SNAPSHOTS)
_SCORES_SINCE = (
    select(_SNAPSHOTS.c.customer_id, _SNAPSHOTS.c.day, _SNAPSHOTS.c.score, _SNAPSHOTS.c.computed_at)
    .where(
        _SNAPSHOTS.c.team_id == bindparam("team_id"),
        _SNAPSHOTS.c.customer_id.in_(bindparam("customer_ids", expanding=True)),
        _SNAPSHOTS.c.day >= bindparam("since"),
    )
    .order_by(_SNAPSHOTS.c.customer_id, _SNAPSHOTS.c.day)
)
