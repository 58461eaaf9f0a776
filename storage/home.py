"""Dashboard reads for App Home and the weekly digest: a fixed number of statements, whatever the team's size.

Every method here runs ONE statement (or a fixed handful), scoped by team, joining on the customer table
instead of sending long `IN (…)` lists, so rendering Home for 1,000 customers costs the same number of
round trips as for one. Ids are only passed in for a page of rows (≤ a few dozen).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import String, and_, cast, exists, func, literal, update
from sqlmodel import Session, col, select

from storage import workspaces
from storage.base import StoreBase, upsert_insert
from storage.boundaries import escalations_of
from storage.cadence import OWNER_DEACTIVATED, owner_still_deactivated, restarts_clock
from storage.models import (
    Boundary,
    BoundarySlip,
    CheckIn,
    Customer,
    CustomerEvent,
    HealthSnapshot,
    HomePublished,
    HomeViewState,
    Nudge,
    SurveyResponse,
    Workspace,
)

SURVEY_PROMPT_KIND = "survey_prompt"  # the survey scheduler's nudge kind (storage.models.Nudge.kind)
ESCALATION_KIND = "boundary_escalation"  # schedules.boundaries.ESCALATION: subject "boundary:<id>"
SURVEY_PENDING_DAYS = 14  # a survey prompt left unanswered this long no longer counts as pending
MAX_VIEW_HASH = 255  # HomePublished.view_hash
MAX_SAVED_PAGE = 100_000  # far past any team's last page (20 a page), well inside an INTEGER: a forged "Next" value


@dataclass(frozen=True)
class LastContact:
    """A customer's most recent check-in (any kind) and most recent call."""

    checkin_at: datetime | None = None
    mood: str | None = None
    call_at: datetime | None = None
    # When the overdue clock last restarted without a call (a resume, a restore, a cadence set from off): it counts
    # from then as from a call (storage.cadence.restarts_clock).
    restarted_at: datetime | None = None
    # When the owner's latest overdue alert was (or is) due (storage.home.last_overdue_alert): a missed daily call is
    # overdue on every surface from then, as the alert says.
    alerted_at: datetime | None = None
    # Slack said its current owner is deactivated (storage.cadence.OWNER_DEACTIVATED): Home says so beside them.
    owner_gone: bool = False
    # The customer's own latest answer to `/partner ask` (their view of us, which feeds health) and when they gave
    # it: Home's row shows it next to ours, as the card does.
    their_answers: dict[str, Any] | None = None
    their_answer_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class HomeCandidate:
    """What ranks a customer on the Home (risk order, filters, the week's counts): a light row, no ORM object.

    Home ranks every customer in scope but shows a page of them; only the rows shown are loaded in full.
    `last_contact_at` is what satisfies the cadence: the last call, or the last check-in of any kind.
    """

    id: int
    name_key: str
    owner_id: str | None
    tier: str | None
    health_band: str | None
    health_score: int | None
    cadence: str | None
    tz: str | None
    country: str | None
    working_week: str | None
    subdiv: str | None
    launch_until: date | None
    paused_at: datetime | None
    snoozed_until: datetime | None
    created_at: datetime
    ideal_days: int | None
    max_days: int | None
    last_contact_at: datetime | None
    restarted_at: datetime | None = None  # the overdue clock's last restart without a call, as in LastContact
    alerted_at: datetime | None = None  # when its owner's latest overdue alert was due, as in LastContact
    last_mood: str | None = None  # the mood of its last check-in (any kind): a red one puts it at risk

    @property
    def archived_at(self) -> datetime | None:
        """None: archived customers are never candidates (the planner asks, schedules.planner.is_live)."""
        return None


@dataclass(frozen=True)
class HomeHeaderCounts:
    boundaries_slipping: int = 0
    surveys_pending: int = 0
    team_has_customers: bool = True  # any live customer in the workspace, whoever owns it


@dataclass(frozen=True)
class DigestRecords:
    """What the weekly digest reads, besides the customers and their last contacts."""

    tier_moves: list[tuple[int, dict[str, Any], datetime]] = field(default_factory=list)
    escalated: list[Boundary] = field(default_factory=list)
    checkin_weeks: dict[int, set[date]] = field(default_factory=dict)
    # The customer's own people's answers to `/partner ask` in the window: (customer id, their level), oldest first.
    their_views: list[tuple[int, str]] = field(default_factory=list)


def last_clock_restart(customer_id: int | None = None) -> Any:
    """When the customer's overdue clock last restarted without a call — a resume, a restore, a cadence set from off,
    by the rule the owner's alert reads (storage.cadence.restarts_clock) — as a scalar subquery of one probe of the
    customer's events: correlated with the customer row, or of the customer `customer_id`."""
    whose = CustomerEvent.customer_id == (Customer.id if customer_id is None else customer_id)
    query = select(func.max(CustomerEvent.at)).where(whose, restarts_clock())
    return (query.correlate(Customer) if customer_id is None else query).scalar_subquery()


# An overdue alert in these states was never told and never will be (a call was logged first, the customer was paused).
UNTOLD = ("skipped", "cancelled")


def last_overdue_alert(customer_id: int | None = None, team_id: str | None = None) -> Any:
    """When the customer's latest overdue alert (schedules.planner.OVERDUE) was due, one told or about to be, as a
    scalar subquery probing the outbox's unique (team, kind, subject, due_key) index: correlated with the customer
    row, or of the customer `customer_id` of `team_id`. The surfaces say *overdue* once it is due within the current
    lapse (`schedules.planner.alerted`), so they say it the moment the owner is told a daily call was missed."""
    subject: Any = f"customer:{customer_id}"
    if customer_id is None:
        subject = literal("customer:", String) + cast(col(Customer.id), String)
    query = select(func.max(Nudge.due_at)).where(
        Nudge.kind == "overdue",
        Nudge.subject == subject,
        col(Nudge.status).not_in(UNTOLD),
        Nudge.team_id == (Customer.team_id if customer_id is None else team_id),
    )
    return (query.correlate(Customer) if customer_id is None else query).scalar_subquery()


def last_mood() -> Any:
    """The mood of the customer's last check-in (any kind), as a scalar subquery correlated with the customer row: one
    probe of the (customer_id, created_at) index."""
    return (
        select(CheckIn.mood)
        .where(CheckIn.customer_id == Customer.id)
        .order_by(col(CheckIn.created_at).desc(), col(CheckIn.id).desc())
        .limit(1)
        .correlate(Customer)
    ).scalar_subquery()


def owner_deactivated() -> Any:
    """Whether Slack said the customer's current owner is deactivated (an OWNER_DEACTIVATED event naming them, not
    since answered by a reactivation), as an EXISTS correlated with the customer row."""
    return (
        exists()
        .where(
            CustomerEvent.customer_id == Customer.id,
            CustomerEvent.kind == OWNER_DEACTIVATED,
            CustomerEvent.actor_id == Customer.owner_id,
            owner_still_deactivated(CustomerEvent),
        )
        .correlate(Customer)
    )


def _week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


class HomeReads:
    """The Home's reads on one session: a render checks out one connection (and pings it once on PostgreSQL)
    instead of one per statement. Use through `Store.home_reads()`; each read is also a Store method of its own."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def session(self) -> AbstractContextManager[Session]:
        return nullcontext(self._session)

    def home_candidates(
        self, *, team_id: str, owner_id: str | None = None, any_checkin: bool = False
    ) -> list[HomeCandidate]:
        """Live customers of the team (or of one owner), as light rows with their last contact. One statement.

        The last contact is a correlated subquery answered by one probe of the (customer_id, kind, created_at) or
        (customer_id, created_at) index, so a long check-in history costs nothing here.
        """
        last = select(func.max(CheckIn.created_at)).where(CheckIn.customer_id == Customer.id)
        if not any_checkin:
            last = last.where(CheckIn.kind == "call")
        query = select(
            Customer.id,
            Customer.name_key,
            Customer.owner_id,
            Customer.tier,
            Customer.health_band,
            Customer.health_score,
            Customer.cadence,
            Customer.tz,
            Customer.country,
            Customer.working_week,
            Customer.subdiv,
            Customer.launch_until,
            Customer.paused_at,
            Customer.snoozed_until,
            Customer.created_at,
            Customer.ideal_days,
            Customer.max_days,
            last.correlate(Customer).scalar_subquery(),
            last_clock_restart(),
            last_overdue_alert(),
            last_mood(),
        ).where(Customer.team_id == team_id, col(Customer.archived_at).is_(None))
        if owner_id is not None:
            query = query.where(Customer.owner_id == owner_id)
        with self.session() as session:
            return [HomeCandidate(*row) for row in session.exec(query)]

    def dashboard_rows(
        self, *, team_id: str, owner_id: str | None = None, customer_ids: Sequence[int] | None = None
    ) -> list[tuple[Customer, LastContact]]:
        """Live customers of the team (or of one owner, or the given ids) in name order, each with its last contact.
        One statement.

        The last check-in, its mood and the last call are correlated subqueries on the (customer_id, created_at)
        and (customer_id, kind, created_at) indexes: a few index probes per customer instead of grouping the
        team's whole check-in history.
        """
        newest = (
            select(func.max(CheckIn.created_at)).where(CheckIn.customer_id == Customer.id).correlate(Customer)
        ).scalar_subquery()
        mood = last_mood()
        last_call = (
            select(func.max(CheckIn.created_at))
            .where(CheckIn.customer_id == Customer.id, CheckIn.kind == "call")
            .correlate(Customer)
        ).scalar_subquery()
        # Their latest view, as the health job reads it (latest_survey_responses): on the (customer_id, survey,
        # created_at) index, a probe per customer shown.
        theirs = (
            select(SurveyResponse.answers, SurveyResponse.created_at)
            .where(
                SurveyResponse.customer_id == Customer.id,
                SurveyResponse.survey == "customer_view",  # domain.surveys.CUSTOMER_VIEW
                col(SurveyResponse.external).is_(True),
            )
            .order_by(col(SurveyResponse.created_at).desc(), col(SurveyResponse.id).desc())
            .limit(1)
            .correlate(Customer)
        )
        their_answers = theirs.with_only_columns(SurveyResponse.answers).scalar_subquery()
        their_answer_at = theirs.with_only_columns(SurveyResponse.created_at).scalar_subquery()
        query = select(
            Customer,
            newest,
            mood,
            last_call,
            last_clock_restart(),
            last_overdue_alert(),
            owner_deactivated(),
            their_answers,
            their_answer_at,
        ).where(Customer.team_id == team_id, col(Customer.archived_at).is_(None))
        if owner_id is not None:
            query = query.where(Customer.owner_id == owner_id)
        if customer_ids is not None:
            query = query.where(col(Customer.id).in_(list(customer_ids)))
        with self.session() as session:
            rows = session.exec(query.order_by(Customer.name_key))
            return [
                (
                    customer,
                    LastContact(
                        checkin_at=checkin_at,
                        mood=mood_value,
                        call_at=call_at,
                        restarted_at=restarted,
                        alerted_at=alerted,
                        owner_gone=bool(gone),
                        their_answers=answers,
                        their_answer_at=answered_at,
                    ),
                )
                for customer, checkin_at, mood_value, call_at, restarted, alerted, gone, answers, answered_at in rows
            ]

    def home_health_points(
        self, *, team_id: str, customer_ids: Sequence[int], since: date
    ) -> dict[int, list[tuple[date, int]]]:
        """Daily health scores since `since`, per customer, oldest first. One statement (ids: a page of rows)."""
        found: dict[int, list[tuple[date, int]]] = {cid: [] for cid in customer_ids}
        with self.session() as session:
            rows = session.exec(
                select(HealthSnapshot.customer_id, HealthSnapshot.day, HealthSnapshot.score)
                .where(
                    HealthSnapshot.team_id == team_id,
                    col(HealthSnapshot.customer_id).in_(list(customer_ids)),
                    HealthSnapshot.day >= since,
                    col(HealthSnapshot.score).is_not(None),
                )
                .order_by(col(HealthSnapshot.customer_id), col(HealthSnapshot.day))
            )
            for customer_id, day, score in rows:
                found.setdefault(customer_id, []).append((day, int(score)))
        return found

    def home_active_boundaries(self, *, team_id: str, customer_ids: Sequence[int]) -> dict[int, list[Boundary]]:
        """Active boundaries per customer, in their order. One statement (ids: a page of rows)."""
        found: dict[int, list[Boundary]] = {}
        with self.session() as session:
            rows = session.exec(
                select(Boundary)
                .where(
                    Boundary.team_id == team_id,
                    col(Boundary.customer_id).in_(list(customer_ids)),
                    Boundary.status == "active",
                )
                .order_by(col(Boundary.customer_id), col(Boundary.position), col(Boundary.id))
            )
            for boundary in rows:
                found.setdefault(boundary.customer_id, []).append(boundary)
        return found

    def home_open_escalations(self, *, team_id: str, boundaries: dict[int, list[Boundary]]) -> dict[int, datetime]:
        """Of these boundaries, those the team is still asked to decide about (no decision since the owner was
        asked), by id: when the owner was asked. No statement when none was ever escalated."""
        with self.session() as session:
            found = escalations_of(session, team_id, [b for rows in boundaries.values() for b in rows])
        return {boundary_id: e.asked_at for boundary_id, e in found.items() if e.decided_at is None}

    def home_header_counts(self, *, team_id: str, owner_id: str, now: datetime) -> HomeHeaderCounts:
        """The owner's week: active boundaries that slipped in the last 7 days, survey prompts not yet answered;
        and whether the workspace has any customer at all (a first Home welcomes rather than points elsewhere).

        One statement: each is a subquery of the same SELECT.
        """
        owned = and_(Customer.team_id == team_id, col(Customer.archived_at).is_(None), Customer.owner_id == owner_id)
        slipping = (
            select(func.count(func.distinct(Boundary.id)))
            .join(Customer, col(Customer.id) == Boundary.customer_id)
            .join(BoundarySlip, col(BoundarySlip.boundary_id) == Boundary.id)
            .where(
                Boundary.team_id == team_id,
                Boundary.status == "active",
                BoundarySlip.at > now - timedelta(days=7),
                owned,
            )
            .scalar_subquery()
        )
        # A prompt is answered by the team's own answer to its survey (its key is "<survey>:<period start>"), as
        # the planner reads it: not by another survey, nor by the customer's people giving their view.
        answered = exists().where(
            SurveyResponse.team_id == team_id,
            SurveyResponse.customer_id == Nudge.customer_id,
            col(SurveyResponse.external).is_(False),
            col(Nudge.due_key).startswith(SurveyResponse.survey + ":", autoescape=False),
            SurveyResponse.created_at >= Nudge.due_at,
        )
        surveys = (
            select(func.count(col(Nudge.id)))
            .join(Customer, col(Customer.id) == Nudge.customer_id)
            .where(
                Nudge.team_id == team_id,
                Nudge.kind == SURVEY_PROMPT_KIND,
                col(Nudge.status).in_(("pending", "claimed", "sent")),
                Nudge.due_at <= now,
                Nudge.due_at > now - timedelta(days=SURVEY_PENDING_DAYS),
                owned,
                ~answered,
            )
            .scalar_subquery()
        )
        anyone = select(Customer.id).where(Customer.team_id == team_id, col(Customer.archived_at).is_(None)).exists()
        with self.session() as session:
            slipped, pending, any_customer = session.exec(select(slipping, surveys, anyone)).one()
        return HomeHeaderCounts(
            boundaries_slipping=int(slipped or 0),
            surveys_pending=int(pending or 0),
            team_has_customers=bool(any_customer),
        )


DIGEST_CHOSEN_BY = "digest_chosen_by"  # in Workspace.settings: who picked the digest's channel
# In Workspace.settings: when the digest's channel or time was last set (ISO 8601). A week's digest time that had
# passed by then is not that week's digest: it would go out at once, "sent late … Partner was offline".
DIGEST_SET_AT = "digest_set_at"


class HomeQueries(StoreBase):
    @contextmanager
    def home_reads(self) -> Iterator[HomeReads]:
        with self.session() as session:
            yield HomeReads(session)

    def home_candidates(
        self, *, team_id: str, owner_id: str | None = None, any_checkin: bool = False
    ) -> list[HomeCandidate]:
        with self.home_reads() as reads:
            return reads.home_candidates(team_id=team_id, owner_id=owner_id, any_checkin=any_checkin)

    def dashboard_rows(
        self, *, team_id: str, owner_id: str | None = None, customer_ids: Sequence[int] | None = None
    ) -> list[tuple[Customer, LastContact]]:
        with self.home_reads() as reads:
            return reads.dashboard_rows(team_id=team_id, owner_id=owner_id, customer_ids=customer_ids)

    def home_health_points(
        self, *, team_id: str, customer_ids: Sequence[int], since: date
    ) -> dict[int, list[tuple[date, int]]]:
        with self.home_reads() as reads:
            return reads.home_health_points(team_id=team_id, customer_ids=customer_ids, since=since)

    def home_active_boundaries(self, *, team_id: str, customer_ids: Sequence[int]) -> dict[int, list[Boundary]]:
        with self.home_reads() as reads:
            return reads.home_active_boundaries(team_id=team_id, customer_ids=customer_ids)

    def home_open_escalations(self, *, team_id: str, boundaries: dict[int, list[Boundary]]) -> dict[int, datetime]:
        with self.home_reads() as reads:
            return reads.home_open_escalations(team_id=team_id, boundaries=boundaries)

    def home_header_counts(self, *, team_id: str, owner_id: str, now: datetime) -> HomeHeaderCounts:
        with self.home_reads() as reads:
            return reads.home_header_counts(team_id=team_id, owner_id=owner_id, now=now)

    def dashboard_customers(self, *, team_id: str, owner_id: str | None = None) -> list[Customer]:
        """Live customers of the team (or of one owner), in name order. One statement."""
        with self.session() as session:
            query = select(Customer).where(Customer.team_id == team_id, col(Customer.archived_at).is_(None))
            if owner_id is not None:
                query = query.where(Customer.owner_id == owner_id)
            return list(session.exec(query.order_by(Customer.name_key)))

    def customer_last_contact(self, *, team_id: str, customer_id: int) -> LastContact:
        """One customer's last check-in, its mood, and last call. One statement."""
        with self.session() as session:
            newest = session.exec(
                select(CheckIn.created_at, CheckIn.mood)
                .where(CheckIn.team_id == team_id, CheckIn.customer_id == customer_id)
                .order_by(col(CheckIn.created_at).desc(), col(CheckIn.id).desc())
                .limit(1)
            ).first()
            call_at, restarted_at, alerted_at = session.exec(
                select(
                    select(func.max(CheckIn.created_at))
                    .where(CheckIn.team_id == team_id, CheckIn.customer_id == customer_id, CheckIn.kind == "call")
                    .scalar_subquery(),
                    last_clock_restart(customer_id),
                    last_overdue_alert(customer_id, team_id),
                )
            ).one()
        known = {"call_at": call_at, "restarted_at": restarted_at, "alerted_at": alerted_at}
        if newest is None:
            return LastContact(**known)
        return LastContact(checkin_at=newest[0], mood=newest[1], **known)

    # ------------------------------------------------------------------ weekly digest

    def workspaces_with_digest(self) -> list[Workspace]:
        """Active workspaces that chose a digest channel."""
        with self.session() as session:
            return list(
                session.exec(
                    select(Workspace).where(
                        col(Workspace.active).is_(True), col(Workspace.digest_channel_id).is_not(None)
                    )
                )
            )

    def digest_workspace(self, *, team_id: str) -> Workspace | None:
        with self.session() as session:
            return session.get(Workspace, team_id)

    def set_digest_channel(
        self, *, team_id: str, channel_id: str | None, now: datetime, chosen_by: str | None = None
    ) -> Workspace:
        """Where the weekly digest goes; None turns it off. `chosen_by`: the admin to tell when Partner can no longer
        post there (removed from the channel, the channel archived or deleted)."""
        chosen = {DIGEST_CHOSEN_BY: chosen_by} if chosen_by is not None else {}
        if channel_id is not None:
            chosen[DIGEST_SET_AT] = now.isoformat()
        return self._update_digest_workspace(team_id=team_id, now=now, settings=chosen, digest_channel_id=channel_id)

    def stop_digest_in(self, *, team_id: str, channel_id: str) -> bool:
        """Turns the digest off if it still goes to `channel_id`; True for the one caller that did, so that a
        redelivered event, another replica or the weekly look-up racing it tell the admin nothing twice."""
        with self.session() as session:
            result = session.exec(  # type: ignore[call-overload]
                update(Workspace)
                .where(col(Workspace.team_id) == team_id, col(Workspace.digest_channel_id) == channel_id)
                .values(digest_channel_id=None)
            )
            session.commit()
            return bool(result.rowcount)

    def set_digest_schedule(self, *, team_id: str, schedule: str, tz: str | None, now: datetime) -> Workspace:
        """When the weekly digest goes out ("weekly mon 09:00"), and in which zone (None: keep the current one)."""
        changes: dict[str, Any] = {"digest_schedule": schedule}
        if tz is not None:
            changes["tz"] = tz
        return self._update_digest_workspace(
            team_id=team_id, now=now, settings={DIGEST_SET_AT: now.isoformat()}, **changes
        )

    def _update_digest_workspace(
        self, *, team_id: str, now: datetime, settings: dict[str, Any] | None = None, **changes: Any
    ) -> Workspace:
        with self.session() as session:
            workspace = workspaces.workspace_to_change(session, team_id=team_id, now=now)
            for name, value in changes.items():
                setattr(workspace, name, value)
            if settings:
                workspace.settings = {**(workspace.settings or {}), **settings}  # a new dict: JSON is saved whole
            session.add(workspace)
            session.commit()
            session.refresh(workspace)
            return workspace

    def digest_records(
        self,
        *,
        team_id: str,
        owner_id: str | None,
        since: datetime,
        now: datetime,
        tz: str = "UTC",
        streak_weeks: int = 26,
    ) -> DigestRecords:
        """Tier moves, boundary escalations and the customers' own views since `since`, and which weeks each customer
        had a check-in.

        A check-in's week is the local week in `tz` (the digest's zone), the week the digest covers.

        Four statements; the check-in weeks stream (yield_per) so a large history is never held as rows.
        """
        scope = [Customer.team_id == team_id, col(Customer.archived_at).is_(None)]
        if owner_id is not None:
            scope.append(Customer.owner_id == owner_id)
        records = DigestRecords()
        with self.session() as session:
            moves = session.exec(
                select(CustomerEvent.customer_id, CustomerEvent.detail, CustomerEvent.at)
                .join(Customer, col(Customer.id) == CustomerEvent.customer_id)
                .where(
                    CustomerEvent.team_id == team_id,
                    CustomerEvent.kind == "tier_changed",
                    CustomerEvent.at > since,
                    CustomerEvent.at <= now,
                    *scope,
                )
                .order_by(col(CustomerEvent.at))
            )
            records.tier_moves.extend((cid, dict(detail or {}), at) for cid, detail, at in moves)
            # The escalations made in the window, by the outbox row that asks the owner to decide: due the moment
            # the run of slips is found (as the card dates it and the slip's answer says it), sent or still on its
            # way. Not the boundary's escalated_at: it also moves when the owner decides (the run of slips counts
            # as answered), which is no escalation of that week.
            escalated = session.exec(
                select(Boundary)
                .join(Nudge, col(Nudge.subject) == literal("boundary:") + cast(col(Boundary.id), String))
                .join(Customer, col(Customer.id) == Boundary.customer_id)
                .where(
                    Nudge.team_id == team_id,
                    Nudge.kind == ESCALATION_KIND,
                    col(Nudge.status).not_in(UNTOLD),
                    col(Nudge.due_at) > since,
                    col(Nudge.due_at) <= now,
                    Boundary.team_id == team_id,
                    *scope,
                )
                .order_by(col(Nudge.due_at), col(Nudge.id))
            )
            records.escalated.extend({row.id: row for row in escalated}.values())
            views = session.exec(
                select(SurveyResponse.customer_id, SurveyResponse.answers)
                .join(Customer, col(Customer.id) == SurveyResponse.customer_id)
                .where(
                    SurveyResponse.team_id == team_id,
                    SurveyResponse.survey == "customer_view",
                    col(SurveyResponse.external).is_(True),
                    SurveyResponse.created_at > since,
                    SurveyResponse.created_at <= now,
                    *scope,
                )
                .order_by(col(SurveyResponse.created_at), col(SurveyResponse.id))
            )
            records.their_views.extend(
                (cid, str(answers.get("level"))) for cid, answers in views if cid is not None and answers.get("level")
            )
            start = now - timedelta(weeks=streak_weeks + 1)
            stamps = session.exec(
                select(CheckIn.customer_id, CheckIn.created_at)
                .join(Customer, col(Customer.id) == CheckIn.customer_id)
                .where(CheckIn.team_id == team_id, CheckIn.created_at > start, CheckIn.created_at <= now, *scope)
                .execution_options(yield_per=1000)
            )
            zone = ZoneInfo(tz)
            for customer_id, at in stamps:
                records.checkin_weeks.setdefault(customer_id, set()).add(_week_start(at.astimezone(zone).date()))
        return records

    def digest_health_points(
        self, *, team_id: str, owner_id: str | None, since: date
    ) -> Iterator[tuple[int, date, int]]:
        """(customer id, day, score) of every live customer's snapshots since `since`, streamed."""
        scope = [Customer.team_id == team_id, col(Customer.archived_at).is_(None)]
        if owner_id is not None:
            scope.append(Customer.owner_id == owner_id)
        with self.session() as session:
            rows = session.exec(
                select(HealthSnapshot.customer_id, HealthSnapshot.day, HealthSnapshot.score)
                .join(Customer, col(Customer.id) == HealthSnapshot.customer_id)
                .where(
                    HealthSnapshot.team_id == team_id,
                    HealthSnapshot.day >= since,
                    col(HealthSnapshot.score).is_not(None),
                    *scope,
                )
                .order_by(col(HealthSnapshot.customer_id), col(HealthSnapshot.day))
                .execution_options(yield_per=1000)
            )
            for customer_id, day, score in rows:
                yield customer_id, day, int(score)

    # ----------------------------------------------------------------------- each viewer's filters and page

    def save_home_state(
        self, *, team_id: str, user_id: str, scope: str, show: str, tier: str | None, page: int, now: datetime
    ) -> None:
        """Records the filters and page a user chose: one INSERT … ON CONFLICT DO UPDATE (SQLite and PostgreSQL),
        so two replicas serving the same user's clicks at once leave the later one, never an IntegrityError."""
        values = {
            "team_id": team_id,
            "user_id": user_id,
            "scope": scope,
            "show": show,
            "tier": tier[:32] if tier else None,  # the tier filter's values are Customer.tier's (≤ 32)
            "page": max(0, min(page, MAX_SAVED_PAGE)),
            "updated_at": now,
        }
        with self.engine.begin() as conn:
            insert = upsert_insert(conn.dialect.name)
            statement = insert(HomeViewState).values(values)
            conn.execute(
                statement.on_conflict_do_update(
                    index_elements=[col(HomeViewState.team_id), col(HomeViewState.user_id)],
                    set_={k: statement.excluded[k] for k in ("scope", "show", "tier", "page", "updated_at")},
                )
            )

    def home_state(self, *, team_id: str, user_id: str) -> HomeViewState | None:
        """The filters and page `user_id` last chose on their Home (None: never chose any, the defaults)."""
        with self.session() as session:
            return session.get(HomeViewState, (team_id, user_id))

    def home_published_hash(self, *, team_id: str, user_id: str) -> str | None:
        """The `hash` of the Home last published to `user_id` by any replica (None: not known)."""
        with self.session() as session:
            row = session.get(HomePublished, (team_id, user_id))
            return row.view_hash if row is not None else None

    def keep_home_published_hash(self, *, team_id: str, user_id: str, view_hash: str | None, now: datetime) -> None:
        """Records the `hash` Slack gave the Home just published to `user_id`: one INSERT … ON CONFLICT DO UPDATE, so
        two replicas keeping theirs at once leave one row, never an IntegrityError."""
        if not view_hash or len(view_hash) > MAX_VIEW_HASH:
            return  # none to pass: the next publish goes without one, as before it was kept
        values = {"team_id": team_id, "user_id": user_id, "view_hash": view_hash, "published_at": now}
        with self.engine.begin() as conn:
            insert = upsert_insert(conn.dialect.name)
            statement = insert(HomePublished).values(values)
            conn.execute(
                statement.on_conflict_do_update(
                    index_elements=[col(HomePublished.team_id), col(HomePublished.user_id)],
                    set_={k: statement.excluded[k] for k in ("view_hash", "published_at")},
                )
            )

    def home_team_viewers(self, *, team_id: str) -> list[str]:
        """Who last chose *Whole team* on their Home: every customer's change shows on theirs too."""
        with self.session() as session:
            rows = session.exec(
                select(HomeViewState.user_id).where(
                    col(HomeViewState.team_id) == team_id, col(HomeViewState.scope) == "team"
                )
            )
            return sorted(rows)
