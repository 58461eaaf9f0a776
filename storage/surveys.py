"""Survey responses and drafts."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from storage.base import StoreBase
from storage.models import Customer, CustomerEvent, SurveyDraft, SurveyResponse
from storage.nudges import _write_transaction

TEAM_KEY = "team"  # SurveyDraft.customer_key for surveys about the team rather than one customer


def draft_key(customer_id: int | None) -> str:
    return str(customer_id) if customer_id is not None else TEAM_KEY


@dataclass(frozen=True)
class RecordedSurvey:
    """What storing a response did: the row, whether it is new, and the tier change it caused (if any)."""

    response: SurveyResponse
    created: bool
    tier_change: tuple[str | None, str] | None = None  # (old, new)


class SurveyQueries(StoreBase):
    def record_survey_response(
        self,
        *,
        team_id: str,
        survey: str,
        customer_id: int | None,
        respondent_id: str,
        answers: Mapping[str, Any],
        score: float | None,
        now: datetime,
        idempotency_key: str,
        external: bool = False,
        set_tier: str | None = None,
    ) -> RecordedSurvey:
        """Stores a response once per idempotency key; deletes the respondent's draft; sets the tier if asked.

        Everything happens in one transaction, so a tier change never exists without the answer behind it.
        """
        response = SurveyResponse(
            team_id=team_id,
            customer_id=customer_id,
            survey=survey,
            respondent_id=respondent_id,
            external=external,
            answers=dict(answers),
            score=score,
            created_at=now,
            idempotency_key=idempotency_key,
        )
        tier_change: tuple[str | None, str] | None = None
        sets_tier = set_tier is not None and customer_id is not None
        with self.session() as session:
            customer: Customer | None = None
            if sets_tier:
                # The tier is read and moved under the customer row's write lock, taken before the answer's insert
                # (which locks the row too, for its foreign key: taken after, two answers at once deadlock): two
                # level answers at the same moment each move it from where the other left it.
                _write_transaction(session)
                customer = session.get(Customer, customer_id, with_for_update=True)
            session.add(response)
            try:
                session.flush()
            except IntegrityError:
                session.rollback()
                existing = self.survey_response_by_key(team_id=team_id, idempotency_key=idempotency_key)
                if existing is None:
                    raise
                return RecordedSurvey(existing, created=False)
            draft = session.exec(
                select(SurveyDraft).where(
                    SurveyDraft.team_id == team_id,
                    SurveyDraft.user_id == respondent_id,
                    SurveyDraft.survey == survey,
                    SurveyDraft.customer_key == draft_key(customer_id),
                )
            ).first()
            if draft is not None:
                session.delete(draft)
            if (
                set_tier is not None
                and customer is not None
                and customer.team_id == team_id
                and customer.tier != set_tier
            ):
                tier_change = (customer.tier, set_tier)
                customer.tier = set_tier
                customer.updated_at = now
                session.add(customer)
                session.add(
                    CustomerEvent(
                        team_id=team_id,
                        customer_id=customer_id,
                        actor_id=respondent_id,
                        kind="tier_changed",
                        detail={"old": tier_change[0], "new": set_tier, "survey_response_id": response.id},
                        at=now,
                    )
                )
            session.commit()
            return RecordedSurvey(response, created=True, tier_change=tier_change)

    def survey_response_by_key(self, *, team_id: str, idempotency_key: str) -> SurveyResponse | None:
        with self.session() as session:
            return session.exec(
                select(SurveyResponse).where(
                    SurveyResponse.team_id == team_id, SurveyResponse.idempotency_key == idempotency_key
                )
            ).first()

    def survey_responses(
        self,
        *,
        team_id: str,
        survey: str | None = None,
        customer_id: int | None = None,
        external: bool | None = None,
        limit: int = 50,
    ) -> list[SurveyResponse]:
        """Newest first. `customer_id=None` means any customer (team-level answers included)."""
        with self.session() as session:
            query = select(SurveyResponse).where(SurveyResponse.team_id == team_id)
            if survey is not None:
                query = query.where(SurveyResponse.survey == survey)
            if customer_id is not None:
                query = query.where(SurveyResponse.customer_id == customer_id)
            if external is not None:
                query = query.where(SurveyResponse.external == external)
            query = query.order_by(col(SurveyResponse.created_at).desc(), col(SurveyResponse.id).desc()).limit(limit)
            return list(session.exec(query))

    def latest_survey_response(
        self, *, team_id: str, survey: str, customer_id: int | None, external: bool | None = None
    ) -> SurveyResponse | None:
        """The newest answer to `survey` about a customer (or, with customer_id None, about the team)."""
        params = {"team_id": team_id, "survey": survey, "customer_id": customer_id, "external": external}
        with self.session() as session:
            query = _latest_response(about_team=customer_id is None, external=external is not None)
            return session.exec(query, params=params).first()  # type: ignore[call-overload]

    # Drafts

    def save_survey_draft(
        self,
        *,
        team_id: str,
        user_id: str,
        survey: str,
        customer_id: int | None,
        answers: Mapping[str, Any],
        now: datetime,
    ) -> SurveyDraft:
        """Creates or replaces the user's draft of this survey about this customer."""
        key = draft_key(customer_id)
        for _ in range(2):  # a concurrent first save may win the insert; then update its row
            with self.session() as session:
                draft = session.exec(
                    select(SurveyDraft).where(
                        SurveyDraft.team_id == team_id,
                        SurveyDraft.user_id == user_id,
                        SurveyDraft.survey == survey,
                        SurveyDraft.customer_key == key,
                    )
                ).first()
                if draft is None:
                    draft = SurveyDraft(
                        team_id=team_id, user_id=user_id, survey=survey, customer_key=key, updated_at=now
                    )
                draft.answers = dict(answers)
                draft.updated_at = now
                session.add(draft)
                try:
                    session.commit()
                except IntegrityError:
                    session.rollback()
                    continue
                return draft
        raise RuntimeError("could not save the survey draft")

    def survey_draft(self, *, team_id: str, user_id: str, survey: str, customer_id: int | None) -> SurveyDraft | None:
        with self.session() as session:
            return session.exec(
                select(SurveyDraft).where(
                    SurveyDraft.team_id == team_id,
                    SurveyDraft.user_id == user_id,
                    SurveyDraft.survey == survey,
                    SurveyDraft.customer_key == draft_key(customer_id),
                )
            ).first()

    # Flags raised about answers (tier changes, our view vs theirs), each recorded once

    def record_customer_event_once(
        self,
        *,
        team_id: str,
        customer_id: int,
        kind: str,
        detail: dict[str, Any],
        now: datetime,
        dedupe: str,
        actor_id: str | None = None,
    ) -> bool:
        """Adds an event unless one of this kind already carries `dedupe`; True when this call added it.

        Sequential deliveries (retries, replays) find the first's event; two at once both insert, and the unique
        key (team, customer, kind, dedupe) refuses the second.
        """
        with self.session() as session:
            if _event_once(session, team_id, customer_id, kind, dedupe) is not None:
                return False
            session.add(
                CustomerEvent(
                    team_id=team_id,
                    customer_id=customer_id,
                    actor_id=actor_id,
                    kind=kind,
                    detail={**detail, "dedupe": dedupe},
                    at=now,
                    dedupe=dedupe,
                )
            )
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                return False
            return True

    def customer_event_once(self, *, team_id: str, customer_id: int, kind: str, dedupe: str) -> CustomerEvent | None:
        """The event `record_customer_event_once` added with `dedupe`, if any."""
        with self.session() as session:
            return _event_once(session, team_id, customer_id, kind, dedupe)

    def add_to_customer_event_once(
        self, *, team_id: str, customer_id: int, kind: str, dedupe: str, detail: dict[str, Any]
    ) -> None:
        """Adds to that event's detail what became of it (e.g. the ts of the message it stands for)."""
        with self.session() as session:
            event = _event_once(session, team_id, customer_id, kind, dedupe)
            if event is not None:
                event.detail = {**event.detail, **detail}
                session.add(event)
                session.commit()

    def forget_customer_event_once(self, *, team_id: str, customer_id: int, kind: str, dedupe: str) -> None:
        """Removes that event: what it stood for did not happen (Slack refused the post), so a retry may do it."""
        with self.session() as session:
            event = _event_once(session, team_id, customer_id, kind, dedupe)
            if event is not None:
                session.delete(event)
                session.commit()

    def customer_events_of_kind(
        self, *, team_id: str, customer_id: int, kind: str | None = None
    ) -> list[CustomerEvent]:
        """Oldest first."""
        with self.session() as session:
            query = select(CustomerEvent).where(
                CustomerEvent.team_id == team_id, CustomerEvent.customer_id == customer_id
            )
            if kind is not None:
                query = query.where(CustomerEvent.kind == kind)
            return list(session.exec(query.order_by(col(CustomerEvent.at), col(CustomerEvent.id))))


def _event_once(session: Session, team_id: str, customer_id: int, kind: str, dedupe: str) -> CustomerEvent | None:
    """By its unique key; or, recorded before the key was a column (migration 0010), by the copy in its detail."""
    events = session.exec(
        select(CustomerEvent).where(
            CustomerEvent.team_id == team_id,
            CustomerEvent.customer_id == customer_id,
            CustomerEvent.kind == kind,
            (col(CustomerEvent.dedupe) == dedupe) | col(CustomerEvent.dedupe).is_(None),
        )
    ).all()
    return next((e for e in events if e.dedupe == dedupe or e.detail.get("dedupe") == dedupe), None)


@functools.cache
def _latest_response(*, about_team: bool, external: bool) -> Any:
    """latest_survey_response's statement (each check-in's health score reads it), built once per form."""
    query = select(SurveyResponse).where(
        SurveyResponse.team_id == bindparam("team_id"), SurveyResponse.survey == bindparam("survey")
    )
    if about_team:
        query = query.where(col(SurveyResponse.customer_id).is_(None))
    else:
        query = query.where(SurveyResponse.customer_id == bindparam("customer_id"))
    if external:
        query = query.where(SurveyResponse.external == bindparam("external"))
    return query.order_by(col(SurveyResponse.created_at).desc(), col(SurveyResponse.id).desc()).limit(1)
