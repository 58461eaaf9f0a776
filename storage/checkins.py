"""Check-ins."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import String, bindparam, cast, exists, func, insert, literal, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from storage.base import StoreBase, detached, in_chunks
from storage.models import CheckIn, Customer, Nudge
from storage.nudges import NUDGE_TABLE, NudgePlan, NudgeQueries, insert_if_absent

# The outbox kind of an owner's alert about a check-in (a red one, or a sharp drop): subject "checkin:<id>".
OWNER_ALERT = "owner_alert"
# The outbox kind of a check-in's channel summary: stored with the check-in, subject "checkin:<id>"; the follow-up
# takes it to post (a burst's rows in one message), the tick's sender posts what the follow-up did not.
CHECKIN_SUMMARY = "checkin_summary"

_CHECKINS = CheckIn.__table__  # type: ignore[attr-defined]
_INSERT_NUDGE = insert(NUDGE_TABLE)
_INSERT_CHECKIN = insert(_CHECKINS)  # the values go as parameters: the statement is compiled once

# Statements every check-in's follow-up runs, built once (values as parameters).
_PREVIOUS_CHECKIN = (
    select(CheckIn)
    .where(
        CheckIn.team_id == bindparam("team_id"),
        CheckIn.customer_id == bindparam("customer_id"),
        (col(CheckIn.created_at) < bindparam("created_at"))
        | ((CheckIn.created_at == bindparam("created_at")) & (col(CheckIn.id) < bindparam("id"))),
    )
    .order_by(col(CheckIn.created_at).desc(), col(CheckIn.id).desc())
    .limit(1)  # without it the ORM loads every earlier check-in only to keep the first
)
_CHECKINS_WITH_CUSTOMER = (
    select(CheckIn, Customer)
    .join(Customer, col(Customer.id) == CheckIn.customer_id)
    .where(
        CheckIn.team_id == bindparam("team_id"),
        col(CheckIn.id).in_(bindparam("checkin_ids", expanding=True)),
        Customer.team_id == bindparam("team_id"),
    )
)
_SET_SUMMARY_TS = (
    update(_CHECKINS)
    .where(_CHECKINS.c.team_id == bindparam("b_team"), _CHECKINS.c.id.in_(bindparam("b_ids", expanding=True)))
    .values(summary_ts=bindparam("b_ts"))
)
# A summary its outbox row says went to another channel than the one asked about.
_SUMMARY_ELSEWHERE = exists().where(
    NUDGE_TABLE.c.team_id == bindparam("team_id"),
    NUDGE_TABLE.c.kind == CHECKIN_SUMMARY,
    NUDGE_TABLE.c.subject == literal("checkin:", String) + cast(CheckIn.id, String),
    NUDGE_TABLE.c.due_key == CHECKIN_SUMMARY,  # with the above: uq_nudge_once, one probe
    NUDGE_TABLE.c.channel_id.is_not(None),
    NUDGE_TABLE.c.channel_id != bindparam("channel_id"),
)
_FIRST_SUMMARY_BETWEEN = (
    select(CheckIn)
    .where(
        CheckIn.team_id == bindparam("team_id"),
        CheckIn.customer_id == bindparam("customer_id"),
        col(CheckIn.summary_ts).is_not(None),
        col(CheckIn.created_at) >= bindparam("start"),
        col(CheckIn.created_at) < bindparam("end"),
        ~_SUMMARY_ELSEWHERE,
    )
    .order_by(col(CheckIn.created_at), col(CheckIn.id))
    .limit(1)  # a probe of ix_checkin_customer_created; without it PostgreSQL sends the whole day
)
_TAKE_SUMMARIES = (
    update(NUDGE_TABLE)
    .where(
        NUDGE_TABLE.c.team_id == bindparam("b_team"),
        NUDGE_TABLE.c.kind == CHECKIN_SUMMARY,
        NUDGE_TABLE.c.subject.in_(bindparam("b_subjects", expanding=True)),
        NUDGE_TABLE.c.due_key == CHECKIN_SUMMARY,
        NUDGE_TABLE.c.status == "pending",
    )
    .values(
        status="sending",
        claimed_by=bindparam("b_claimer"),
        lease_until=bindparam("b_lease"),
        channel_id=bindparam("b_channel"),
        attempts=NUDGE_TABLE.c.attempts + 1,
    )
    .returning(NUDGE_TABLE.c.id, NUDGE_TABLE.c.subject)
)


class CheckInQueries(StoreBase):
    def record_checkin(
        self,
        *,
        team_id: str,
        customer_id: int,
        author_id: str,
        mood: str,
        note: str,
        now: datetime,
        kind: str = "async",
        idempotency_key: str | None = None,
        next_step: str | None = None,
        next_due: date | None = None,
        permalink: str | None = None,
        response_days: float | None = None,
        alert_owner_id: str | None = None,
        summary_tz: str | None = None,
        counts_at: datetime | None = None,
    ) -> tuple[CheckIn, bool]:
        """Stores a check-in; the same idempotency key twice returns the first row and False.

        `alert_owner_id` (domain.checkins.alerted_at_once): the owner's alert goes into the outbox in the same
        transaction, so that should this process stop before the check-in's follow-up tells the owner, the next
        tick's sender does. Exactly one of them takes it (see take_owner_alert). `summary_tz`
        (domain.checkins.channel_summary_tz): the same for the check-in's channel summary, whose day is local to
        that zone (see take_checkin_summaries). `counts_at`: the instant the check-in is stored at, when earlier than
        `now` (a call logged from the nudge of a day gone by counts for that day; handlers.views.checkin); its
        outbox rows are due `now` all the same.
        """
        # Plain values and one Core INSERT with its commit: the ORM's unit of work, and even building the CheckIn
        # model before it, cost more than the statement on the ack path. The model is made from the stored row.
        values = {
            "team_id": team_id,
            "customer_id": customer_id,
            "author_id": author_id,
            "mood": mood,
            "note": note,
            "kind": kind,
            "created_at": min(counts_at, now) if counts_at is not None else now,
            "idempotency_key": idempotency_key,
            "next_step": next_step,
            "next_due": next_due,
            "response_days": response_days,
            "permalink": permalink,
            "summary_ts": None,
        }
        try:
            with self.engine.begin() as conn:
                checkin_id = conn.execute(_INSERT_CHECKIN, values).inserted_primary_key[0]
                checkin = detached(CheckIn, {**values, "id": checkin_id})
                if alert_owner_id is not None:
                    alert = _owner_alert(checkin, alert_owner_id, {"checkin_id": checkin_id, "reason": "red"}, now)
                    conn.execute(_INSERT_NUDGE, NudgeQueries.row_values(team_id, alert, now))
                if summary_tz is not None:
                    payload = {"checkin_ids": [checkin_id], "tz": summary_tz}
                    summary = _checkin_summary(checkin_id, customer_id, payload, now)
                    conn.execute(_INSERT_NUDGE, NudgeQueries.row_values(team_id, summary, now))
        except IntegrityError:
            # The same idempotency key (a retried Slack request): the first row, not a second one.
            if idempotency_key is None:
                raise
            existing = self.checkin_by_key(team_id=team_id, idempotency_key=idempotency_key)
            if existing is None:
                raise
            return existing, False
        return checkin, True

    def checkins(self, *, team_id: str, customer_id: int | None = None, limit: int = 50) -> Sequence[CheckIn]:
        with self.session() as session:
            query = select(CheckIn).where(CheckIn.team_id == team_id)
            if customer_id is not None:
                query = query.where(CheckIn.customer_id == customer_id)
            query = query.order_by(col(CheckIn.created_at).desc(), col(CheckIn.id).desc()).limit(limit)
            return list(session.exec(query))

    def count_checkins(self, *, team_id: str) -> int:
        with self.session() as session:
            return session.exec(select(func.count()).select_from(CheckIn).where(CheckIn.team_id == team_id)).one()

    def checkin_by_key(self, *, team_id: str, idempotency_key: str) -> CheckIn | None:
        with self.session() as session:
            return session.exec(
                select(CheckIn).where(CheckIn.team_id == team_id, CheckIn.idempotency_key == idempotency_key)
            ).first()

    def latest_checkins(
        self, *, team_id: str, customer_ids: Sequence[int], kind: str | None = None
    ) -> dict[int, CheckIn]:
        """The newest check-in (of `kind`, when given) of each customer, in one query whatever their number."""
        if not customer_ids:
            return {}
        with self.session() as session:
            of_kind = (CheckIn.kind == kind) if kind is not None else True
            newest = (
                select(CheckIn.customer_id, func.max(CheckIn.created_at).label("at"))
                .where(CheckIn.team_id == team_id, col(CheckIn.customer_id).in_(customer_ids), of_kind)
                .group_by(col(CheckIn.customer_id))
                .subquery()
            )
            rows = session.exec(
                select(CheckIn)
                .join(newest, (CheckIn.customer_id == newest.c.customer_id) & (CheckIn.created_at == newest.c.at))
                .where(CheckIn.team_id == team_id, of_kind)
                .order_by(col(CheckIn.id))
            )
            return {row.customer_id: row for row in rows}

    def previous_checkin(self, *, team_id: str, checkin: CheckIn) -> CheckIn | None:
        """The customer's check-in just before `checkin` (for "the mood dropped since last time")."""
        params = {
            "team_id": team_id,
            "customer_id": checkin.customer_id,
            "created_at": checkin.created_at,
            "id": checkin.id or 0,
        }
        with self.session() as session:
            return session.exec(_PREVIOUS_CHECKIN, params=params).first()  # type: ignore[call-overload]

    def customer_checkins(self, *, team_id: str, checkin_ids: Sequence[int]) -> tuple[Customer, list[CheckIn]] | None:
        """Check-ins of one customer with that customer, oldest first (what a burst's follow-up starts from);
        None when none of them exists any more."""
        customer: Customer | None = None
        checkins: list[CheckIn] = []
        with self.session() as session:
            for ids in in_chunks(list(checkin_ids)):
                rows = session.exec(
                    _CHECKINS_WITH_CUSTOMER,  # type: ignore[call-overload]
                    params={"team_id": team_id, "checkin_ids": list(ids)},
                )
                for checkin, of in rows:
                    checkins.append(checkin)
                    customer = of
        if customer is None:
            return None
        checkins.sort(key=lambda c: (c.created_at, c.id or 0))
        return customer, checkins

    def set_summary_ts(self, *, team_id: str, checkin_ids: Sequence[int], ts: str) -> None:
        """These check-ins are summarized in the channel message `ts` (one message may list a burst of them)."""
        if not checkin_ids:
            return
        with self.engine.begin() as conn:
            conn.execute(_SET_SUMMARY_TS, {"b_team": team_id, "b_ids": list(checkin_ids), "b_ts": ts})

    def first_summary_between(
        self, *, team_id: str, customer_id: int, start: datetime, end: datetime, channel_id: str
    ) -> CheckIn | None:
        """The earliest check-in in [start, end) whose summary was posted in `channel_id`: the day's thread there.

        A summary its outbox row says went to another channel (the customer's before an edit) is no thread here:
        Slack would file a reply to it nowhere anyone reads. (A check-in stored before summaries had rows counts.)"""
        params = {"team_id": team_id, "customer_id": customer_id, "start": start, "end": end, "channel_id": channel_id}
        with self.session() as session:
            return session.exec(_FIRST_SUMMARY_BETWEEN, params=params).first()  # type: ignore[call-overload]

    def recent_moods(self, *, team_id: str, customer_ids: Sequence[int], per_customer: int = 3) -> dict[int, list[str]]:
        """The last few moods of each customer, oldest first, in one query (a window function)."""
        if not customer_ids:
            return {}
        with self.session() as session:
            ranked = (
                select(
                    CheckIn.customer_id,
                    CheckIn.mood,
                    func.row_number()
                    .over(
                        partition_by=col(CheckIn.customer_id),
                        order_by=(col(CheckIn.created_at).desc(), col(CheckIn.id).desc()),
                    )
                    .label("n"),
                )
                .where(CheckIn.team_id == team_id, col(CheckIn.customer_id).in_(customer_ids))
                .subquery()
            )
            rows = session.exec(
                select(ranked.c.customer_id, ranked.c.mood)
                .where(ranked.c.n <= per_customer)
                .order_by(ranked.c.customer_id, ranked.c.n.desc())
            )
            moods: dict[int, list[str]] = {}
            for customer_id, mood in rows:
                moods.setdefault(customer_id, []).append(mood)
            return moods

    def take_owner_alert(
        self,
        *,
        team_id: str,
        checkin: CheckIn,
        owner_id: str,
        payload: dict[str, Any],
        now: datetime,
        claimer: str,
        lease_until: datetime,
    ) -> int | None:
        """Takes the check-in's owner alert to DM it now, as a sender takes a nudge: the row stored with a red
        check-in, or a new one (a mood drop), marked "sending" for `claimer` (so that should this process stop
        mid-post, the next sender finds the DM by its metadata or sends it again). Its id; None when it is not
        this caller's to send: the sender took it first, or it was handled already. Recorded afterwards with the
        outbox's own mark_sent / finish_nudges."""
        alert = _owner_alert(checkin, owner_id, payload, now)
        mine = {
            "status": "sending",
            "claimed_by": claimer,
            "lease_until": lease_until,
            "channel_id": owner_id,  # where to look for the DM should this process stop while posting it
            "recipient_id": owner_id,
            "payload": payload,
        }
        with self.engine.begin() as conn:
            taken = conn.execute(
                update(Nudge)
                .where(
                    Nudge.team_id == team_id,
                    Nudge.kind == alert.kind,
                    Nudge.subject == alert.subject,
                    Nudge.due_key == alert.due_key,
                    Nudge.status == "pending",
                )
                .values(**mine, attempts=Nudge.attempts + 1)
                .returning(Nudge.id)
            ).scalar_one_or_none()
        if taken is not None:
            return int(taken)
        try:
            with self.engine.begin() as conn:
                row = {**NudgeQueries.row_values(team_id, alert, now), **mine, "attempts": 1}
                return int(conn.execute(_INSERT_NUDGE, row).inserted_primary_key[0])
        except IntegrityError:
            return None  # someone else's (the sender has it, or it was handled)

    def take_checkin_summaries(
        self,
        *,
        team_id: str,
        customer_id: int,
        checkin_ids: Sequence[int],
        channel_id: str,
        now: datetime,
        claimer: str,
        lease_until: datetime,
    ) -> dict[int, int]:
        """Takes these check-ins' channel summaries to post them now, as a sender takes nudges: their rows stored
        with the check-ins (or new ones, for a check-in stored without), marked "sending" to `channel_id` for
        `claimer`, so that should this process stop mid-post the next sender finds the message by its metadata
        or posts it. Check-in id → its summary's nudge id, for the ones that are this caller's: a summary the
        sender took first, or one handled already, is not. Recorded afterwards with mark_sent / finish_nudges /
        release_checkin_summaries."""
        subjects = {f"checkin:{i}": i for i in checkin_ids}
        if not subjects:
            return {}
        mine = {"status": "sending", "claimed_by": claimer, "lease_until": lease_until, "channel_id": channel_id}
        params = {"b_team": team_id, "b_subjects": list(subjects), "b_claimer": claimer, "b_lease": lease_until}
        with self.engine.begin() as conn:
            taken = {
                subjects[subject]: int(nudge_id)
                for nudge_id, subject in conn.execute(_TAKE_SUMMARIES, {**params, "b_channel": channel_id})
            }
            # A check-in stored without its row (before this outbox held summaries): a new row, insert-if-absent,
            # as one there in another status is someone else's, or done. Rare: one statement each.
            for checkin_id in (i for i in subjects.values() if i not in taken):
                plan = _checkin_summary(checkin_id, customer_id, {"checkin_ids": [checkin_id]}, now)
                row = {**NudgeQueries.row_values(team_id, plan, now), **mine, "attempts": 1}
                for nudge_id, _status in conn.execute(insert_if_absent(conn.dialect.name), row).all():
                    taken[checkin_id] = int(nudge_id)
        return taken

    def release_checkin_summaries(
        self,
        *,
        nudge_ids: Sequence[int],
        checkin_ids: Sequence[int],
        day: tuple[datetime, datetime],
        claimer: str,
        error: str,
    ) -> None:
        """Taken summaries Slack did not take for now (its error answer: nothing was posted) back to the outbox as
        one message, as the follow-up would have posted them: the first row lists every check-in, the others
        are done with it. The tick's sender posts it, threaded under the day's first summary by then."""
        if not nudge_ids:
            return
        first, *rest = nudge_ids
        mine = (col(Nudge.claimed_by) == claimer) & (col(Nudge.status) == "sending")
        with self.engine.begin() as conn:
            conn.execute(
                update(Nudge)
                .where(col(Nudge.id) == first, mine)
                .values(
                    status="pending",
                    lease_until=None,
                    next_attempt_at=None,
                    channel_id=None,
                    error=error[:255],
                    payload={"checkin_ids": list(checkin_ids), "day": [bound.isoformat() for bound in day]},
                )
            )
            if rest:
                conn.execute(
                    update(Nudge)
                    .where(col(Nudge.id).in_(rest), mine)
                    .values(
                        status="skipped", lease_until=None, channel_id=None, error=f"in the summary of nudge {first}"
                    )
                )

    def checkin(self, *, team_id: str, checkin_id: int) -> CheckIn | None:
        with self.session() as session:
            row = session.get(CheckIn, checkin_id)
            return row if row is not None and row.team_id == team_id else None


def _owner_alert(checkin: CheckIn, owner_id: str, payload: dict[str, Any], now: datetime) -> NudgePlan:
    """A check-in's owner alert as the outbox holds it: one per check-in."""
    return NudgePlan(
        kind=OWNER_ALERT,
        subject=f"checkin:{checkin.id}",
        due_key=OWNER_ALERT,
        due_at=now,
        customer_id=checkin.customer_id,
        recipient_id=owner_id,
        payload=payload,
    )


def _checkin_summary(checkin_id: int | None, customer_id: int, payload: dict[str, Any], now: datetime) -> NudgePlan:
    """A check-in's channel summary as the outbox holds it: one per check-in (a burst's rows post as one message)."""
    return NudgePlan(
        kind=CHECKIN_SUMMARY,
        subject=f"checkin:{checkin_id}",
        due_key=CHECKIN_SUMMARY,
        due_at=now,
        customer_id=customer_id,
        payload=payload,
    )
