"""The nudge outbox: planning (insert if absent), claiming with a lease, recording the outcome.

Life of a row: ``pending`` → ``claimed`` (a sender holds a lease) → ``sending`` (the post is under way) →
``sent`` | back to ``pending`` with ``next_attempt_at`` (retryable error) | ``failed``. Planning may also
write a final status directly: ``missed`` (too old to send), ``skipped`` (already satisfied, snoozed),
``cancelled``. The unique constraint ``uq_nudge_once`` (team, kind, subject, due_key) is what makes
planning idempotent across ticks and replicas; every status change is a conditional UPDATE, so two
senders can never both own a row.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Table, and_, bindparam, delete, or_, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from storage.base import (
    Records,
    StoreBase,
    execute_many,
    in_chunks,
    insert_many_returning,
    unindexed,
    upsert_insert,
)
from storage.models import Customer, Nudge, Workspace

NUDGE_TABLE: Table = Nudge.__table__  # type: ignore[assignment]  # Core statements where the ORM adds only cost
_NUDGE_RECORDS = Records(Nudge)  # claimed rows as the sender renders them: read-only, no ORM objects

_FEW_COMBINATIONS = 8  # planned_keys: kinds × due keys up to which an IN list per column is cheapest
_INSERT_BATCH = 2_000  # planned rows per executemany


class Planned(NamedTuple):
    """A row `plan_nudges` inserted."""

    id: int
    status: str


@functools.cache
def insert_if_absent(dialect: str) -> Any:
    """INSERT … ON CONFLICT DO NOTHING RETURNING id, status (SQLite ≥ 3.35 and PostgreSQL both speak it); one
    statement per dialect (insert_many_returning prepares each once)."""
    insert = upsert_insert(dialect)
    return insert(NUDGE_TABLE).on_conflict_do_nothing().returning(NUDGE_TABLE.c.id, NUDGE_TABLE.c.status)


@dataclass(frozen=True)
class NudgePlan:
    """A nudge the planner wants to exist; inserted only when its (kind, subject, due_key) is new."""

    kind: str
    subject: str
    due_key: str
    due_at: datetime
    customer_id: int | None = None
    recipient_id: str | None = None
    status: str = "pending"
    error: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str]:
        return self.kind, self.subject, self.due_key


# The sender's per-message statements, built once: a fan-out executes them thousands of times, and building one
# (coercing its clauses, computing its cache key) cost more CPU than running it (bench/fanout.py).
_MARK_SENDING = (
    update(NUDGE_TABLE)
    .where(
        NUDGE_TABLE.c.id == bindparam("nudge_id"),
        NUDGE_TABLE.c.claimed_by == bindparam("claimer"),
        NUDGE_TABLE.c.status == "claimed",
        NUDGE_TABLE.c.lease_until > bindparam("now"),
    )
    .values(status="sending", lease_until=bindparam("lease"), channel_id=bindparam("destination"))
)
_SENDING = select(NUDGE_TABLE.c.id).where(
    NUDGE_TABLE.c.id.in_(bindparam("ids", expanding=True)),
    NUDGE_TABLE.c.claimed_by == bindparam("claimer"),
    unindexed(NUDGE_TABLE.c.status) == "sending",
)
_UNMARK_SENDING = (
    update(NUDGE_TABLE)
    .where(
        NUDGE_TABLE.c.id.in_(bindparam("ids", expanding=True)),
        NUDGE_TABLE.c.claimed_by == bindparam("claimer"),
        unindexed(NUDGE_TABLE.c.status) == "sending",
    )
    .values(status="claimed")
)
_MARK_SENT = (
    update(NUDGE_TABLE)
    .where(
        NUDGE_TABLE.c.id == bindparam("nudge_id"),
        NUDGE_TABLE.c.claimed_by == bindparam("claimer"),
        NUDGE_TABLE.c.status == "sending",
    )
    .values(
        status="sent",
        sent_at=bindparam("now"),
        channel_id=bindparam("posted_in"),
        message_ts=bindparam("posted_ts"),
        error=None,
        lease_until=None,
    )
)


def _inactive_teams() -> Any:
    """Workspaces that uninstalled the app or revoked its token: none of their nudges is claimed."""
    return select(Workspace.team_id).where(col(Workspace.active).is_(False))


def _ready(now: datetime, *, by_id: bool = False) -> Any:
    """Rows a sender may claim: due and pending (not backing off), or claimed by a sender whose lease ran out;
    never a row of an inactive workspace. `by_id`: the statement picks its rows by id (see `unindexed`)."""
    status = _status_by_id() if by_id else col(Nudge.status)
    return or_(
        (status == "pending")
        & (col(Nudge.due_at) <= now)
        & (col(Nudge.next_attempt_at).is_(None) | (col(Nudge.next_attempt_at) <= now)),
        (status == "claimed") & (col(Nudge.lease_until) < now),
    ) & col(Nudge.team_id).not_in(_inactive_teams())


def _claim(now: datetime) -> Any:
    """Claims the rows of `ids` (an expanding parameter) still ready at `now` for `claimer` until `lease`; RETURNING
    the ids it claimed."""
    return (
        update(NUDGE_TABLE)
        .where(NUDGE_TABLE.c.id.in_(bindparam("ids", expanding=True)), _ready(now, by_id=True))
        .values(
            status="claimed",
            claimed_by=bindparam("claimer"),
            lease_until=bindparam("lease"),
            attempts=NUDGE_TABLE.c.attempts + 1,
        )
        .returning(NUDGE_TABLE.c.id)
    )


def _status_by_id() -> Any:
    """The status, in a statement that picks its rows by id: checked on them, never used to find them."""
    return unindexed(col(Nudge.status))


def _write_transaction(session: Session) -> None:
    """Starts the session's transaction as a writer. SQLite: BEGIN IMMEDIATE takes the database's single write
    lock up front (waiting out another writer for busy_timeout), so a claim's read and its update see the same
    rows and two processes' claims run one after the other. PostgreSQL: row locks do this (FOR UPDATE)."""
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")


# The payload key of the part of an owner's digest a nudge went out in (note_digest_parts).
DIGEST_PART = "digest_part"


class NudgeQueries(StoreBase):
    # ------------------------------------------------------------------ planning

    def plan_nudges(self, *, team_id: str, plans: Sequence[NudgePlan], now: datetime) -> list[Planned]:
        """Inserts the plans whose key is new and returns those rows; existing ones are left exactly as they are."""
        wanted: dict[tuple[str, str, str], NudgePlan] = {}
        for plan in plans:
            wanted.setdefault(plan.key, plan)
        if not wanted:
            return []
        # Looked for first: re-planning what is already there (every tick, for some kinds) then costs a read,
        # not a write (on SQLite, the database's single write lock).
        existing = self.planned_keys(team_id=team_id, keys=wanted)
        fresh = [self.row_values(team_id, plan, now) for key, plan in wanted.items() if key not in existing]
        if not fresh:
            return []
        with self.session() as session:
            conn = session.connection()
            inserted: list[Planned] = []
            for start in range(0, len(fresh), _INSERT_BATCH):
                # Multi-row inserts (insert_many_returning), insert-if-absent on uq_nudge_once: a row another tick or
                # replica planned meanwhile is skipped, not an error, and only the rows really inserted come back.
                result = insert_many_returning(
                    conn, insert_if_absent(conn.dialect.name), fresh[start : start + _INSERT_BATCH]
                )
                inserted.extend(Planned(int(nudge_id), status) for nudge_id, status in result)
            session.commit()
            return inserted

    def revive_snoozed(self, *, team_id: str, plans: Sequence[NudgePlan]) -> list[Planned]:
        """Turns a day's row that never went out into that day's snoozed call coming back (`plans`: its reminders),
        which is keyed by the same local date and so could never be inserted beside it:

        - a row skipped because of a snooze ("snoozed"): a snooze saved between a tick planning the day's nudge and
          sending it left that row skipped;
        - a row cancelled unsent for another snooze (an earlier snooze's reminder Slack held up until that snooze
          was changed) or for a reason since gone: this snooze's reminder lands on that day all the same. A row
          already this snooze's own reminder is never revived: it was cancelled for what still holds.

        Each UPDATE repeats the test on the row, so of two ticks or replicas reviving it exactly one does; the revived
        row is pending, then sent or cancelled, never again skipped as "snoozed"."""
        wanted = {plan.key: plan for plan in plans if plan.status == "pending" and plan.payload.get("snoozed_on")}
        if not wanted:
            return []
        unsent = (col(Nudge.message_ts).is_(None),)
        snoozed = (Nudge.status == "skipped", Nudge.error == "snoozed", *unsent)
        cancelled = (Nudge.status == "cancelled", *unsent)
        revived: list[Planned] = []
        with self.session() as session:
            rows = session.exec(
                select(Nudge.id, Nudge.kind, Nudge.subject, Nudge.due_key, Nudge.payload, Nudge.status).where(
                    Nudge.team_id == team_id,
                    col(Nudge.kind).in_(sorted({k[0] for k in wanted})),
                    col(Nudge.subject).in_(sorted({k[1] for k in wanted})),
                    col(Nudge.due_key).in_(sorted({k[2] for k in wanted})),
                    or_(and_(*snoozed), and_(*cancelled)),
                )
            ).all()
            for nudge_id, kind, subject, due_key, payload, status in rows:
                plan = wanted.get((kind, subject, due_key))
                if plan is None or nudge_id is None:
                    continue
                if status == "cancelled":
                    if (payload or {}).get("snoozed_until") == plan.payload.get("snoozed_until"):
                        continue  # this snooze's own reminder: what cancelled it still holds
                    stuck = cancelled
                elif (payload or {}).get("snoozed_on"):
                    continue  # a reminder itself is never skipped as "snoozed"; left as it is, to be safe
                else:
                    stuck = snoozed
                result = session.exec(  # type: ignore[call-overload]
                    update(Nudge)
                    .where(col(Nudge.id) == nudge_id, *stuck)
                    .values(
                        due_at=plan.due_at,
                        status="pending",
                        error=None,
                        payload=dict(plan.payload),
                        claimed_by=None,
                        lease_until=None,
                        attempts=0,
                        next_attempt_at=None,
                        sent_at=None,
                        channel_id=None,
                    )
                )
                if result.rowcount:
                    revived.append(Planned(int(nudge_id), "pending"))
            session.commit()
        return revived

    def planned_keys(self, *, team_id: str, keys: Iterable[tuple[str, str, str]]) -> set[tuple[str, str, str]]:
        """Which of these (kind, subject, due_key) keys the outbox already holds, in a query per 500 subjects or keys.

        Lets a job that re-plans every tick skip the work behind a plan it made before (queries, wording)."""
        wanted = set(keys)
        existing: set[tuple[str, str, str]] = set()
        if not wanted:
            return existing
        kinds = sorted({k[0] for k in wanted})
        due_keys = sorted({k[2] for k in wanted})
        with self.session() as session:
            # An IN list per column is the cheapest query while the kinds and due keys are few, but SQLite probes
            # the unique index once per combination of the lists: with a due key per customer (overdue windows)
            # that was 500 × 484 probes a query, so then the keys themselves go in one list.
            per_column = len(kinds) * len(due_keys) <= _FEW_COMBINATIONS
            chunks = in_chunks(sorted({k[1] for k in wanted}) if per_column else sorted(wanted))
            for chunk in chunks:
                matching = (
                    (col(Nudge.kind).in_(kinds), col(Nudge.subject).in_(chunk), col(Nudge.due_key).in_(due_keys))
                    if per_column
                    else (tuple_(Nudge.kind, Nudge.subject, Nudge.due_key).in_(list(chunk)),)
                )
                rows = session.exec(
                    select(Nudge.kind, Nudge.subject, Nudge.due_key).where(Nudge.team_id == team_id, *matching)
                )
                existing.update(found for found in ((k, s, d) for k, s, d in rows) if found in wanted)
        return existing

    def plan_nudge(
        self,
        *,
        team_id: str,
        kind: str,
        subject: str,
        due_key: str,
        due_at: datetime,
        now: datetime,
        customer_id: int | None = None,
        recipient_id: str | None = None,
        payload: dict[str, Any] | None = None,
        status: str = "pending",
        error: str | None = None,
    ) -> bool:
        """One nudge, insert-if-absent; True when this call created the row (False: it was already planned)."""
        plan = NudgePlan(
            kind=kind,
            subject=subject,
            due_key=due_key,
            due_at=due_at,
            customer_id=customer_id,
            recipient_id=recipient_id,
            status=status,
            error=error,
            payload=payload or {},
        )
        with self.session() as session:
            session.add(self._row(team_id, plan, now))
            try:
                session.commit()
                return True
            except IntegrityError:
                session.rollback()
                return False

    def unplan_nudge(self, *, team_id: str, kind: str, subject: str, due_key: str) -> bool:
        """Removes one planned row, so that the next `plan_nudge` of its key plans it again; True when it was there.

        For once-tokens whose work failed before it could have reached Slack (a chart never shared): trying again
        then cannot do it twice."""
        with self.session() as session:
            result = session.exec(  # type: ignore[call-overload]
                delete(Nudge).where(
                    Nudge.team_id == team_id, Nudge.kind == kind, Nudge.subject == subject, Nudge.due_key == due_key
                )
            )
            session.commit()
            return bool(result.rowcount)

    def unplan_waiting_nudge(self, *, team_id: str, nudge_id: int) -> bool:
        """Removes a row no sender has taken and none has posted (pending: planned, or backing off after a clean
        error, when Slack posted nothing), so that its key is planned again at its new time; True when it was."""
        with self.session() as session:
            _write_transaction(session)
            result = session.exec(  # type: ignore[call-overload]
                delete(Nudge).where(Nudge.team_id == team_id, Nudge.id == nudge_id, Nudge.status == "pending")
            )
            session.commit()
            return bool(result.rowcount)

    def existing_nudge_keys(self, *, team_id: str, kind: str, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which (subject, due_key) pairs of `kind` are already in the outbox."""
        return {
            (subject, due_key)
            for _, subject, due_key in self.planned_keys(
                team_id=team_id, keys=[(kind, subject, due_key) for subject, due_key in keys]
            )
        }

    @staticmethod
    def row_values(team_id: str, plan: NudgePlan, now: datetime) -> dict[str, Any]:
        """The outbox row of a plan, as a Core insert takes it."""
        return {
            "team_id": team_id,
            "kind": plan.kind,
            "subject": plan.subject,
            "due_key": plan.due_key,
            "customer_id": plan.customer_id,
            "recipient_id": plan.recipient_id,
            "due_at": plan.due_at,
            "created_at": now,
            "status": plan.status,
            "error": plan.error,
            "payload": dict(plan.payload),
            "sent_at": None,
        }

    @classmethod
    def _row(cls, team_id: str, plan: NudgePlan, now: datetime) -> Nudge:
        return Nudge(**cls.row_values(team_id, plan, now))

    # ------------------------------------------------------------------ sending

    def claim_nudges(
        self, *, now: datetime, lease_until: datetime, claimer: str, limit: int = 50_000, team_id: str | None = None
    ) -> list[Nudge]:
        """Claims due rows for `claimer` (see `claim_nudge_ids`) and returns them, oldest first."""
        ids = self.claim_nudge_ids(now=now, lease_until=lease_until, claimer=claimer, limit=limit, team_id=team_id)
        return self.claimed_nudges(ids=ids, claimer=claimer)

    def claim_nudge_ids(
        self, *, now: datetime, lease_until: datetime, claimer: str, limit: int = 50_000, team_id: str | None = None
    ) -> list[int]:
        """Claims due rows for `claimer` (unique per call) until `lease_until`; returns their ids, oldest first (the
        rows themselves: `claimed_nudges`, which the sender reads a batch at a time while it already posts).

        The one place rows are claimed, in one write transaction. On PostgreSQL the candidates are selected
        ``FOR UPDATE SKIP LOCKED``: replicas claiming at the same moment take disjoint rows without waiting for
        each other. On SQLite the transaction holds the single write lock (BEGIN IMMEDIATE). Either way the UPDATE
        repeats the readiness test, so of two senders racing for a row exactly one gets it.
        """
        with self.session() as session:
            _write_transaction(session)
            query = select(Nudge.id).where(_ready(now))
            if team_id is not None:
                query = query.where(Nudge.team_id == team_id)
            query = query.order_by(col(Nudge.due_at), col(Nudge.id)).limit(limit)
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            ids = list(session.exec(query))
            # The rows each conditional UPDATE changed are the ones this claim got (RETURNING): reading them back
            # after the commit was 20 more IN-list queries for 10,000 rows (bench/RESULTS.md, session 8).
            conn, claim = session.connection(), _claim(now)
            mine: set[int] = set()
            for chunk in in_chunks(ids):
                parameters = {"ids": list(chunk), "claimer": claimer, "lease": lease_until}
                mine.update(conn.execute(claim, parameters).scalars())
            session.commit()
            return [i for i in ids if i in mine]

    def claimed_nudges(self, *, ids: Sequence[int], claimer: str) -> list[Nudge]:
        """The rows of these ids still claimed by `claimer`, in the order of `ids`, as read-only records
        (`Records`): the sender only reads them, 10,000 at a time in a fan-out."""
        found: dict[int, Nudge] = {}
        with self.session() as session:
            connection = session.connection()
            for chunk in in_chunks(list(ids)):
                query = _NUDGE_RECORDS.select().where(
                    col(Nudge.id).in_(chunk), Nudge.claimed_by == claimer, _status_by_id() == "claimed"
                )
                found.update((n.id, n) for n in _NUDGE_RECORDS.read(connection, query) if n.id is not None)
        return [found[i] for i in ids if i in found]

    def mark_sending(
        self, *, groups: Sequence[tuple[Sequence[int], str]], claimer: str, now: datetime, lease_until: datetime
    ) -> list[bool]:
        """Each group (one message's nudges, its destination) → "sending" if all of it is still claimed by `claimer`
        with a live lease.

        One transaction for many messages (the sender's group commit); a group that is not wholly mine is left
        as it was and answers False. The destination (channel or user id) is recorded in ``channel_id`` first, so
        that should this sender die while posting, the next one knows where to look for the post.
        """
        mine = {"claimer": claimer, "now": now, "lease": lease_until}
        rows = [{"nudge_id": i, "destination": destination, **mine} for ids, destination in groups for i in ids]
        if not rows:
            return [True] * len(groups)
        with self.session() as session:
            # Two statements for all the groups, whatever their number: an executemany of one UPDATE (each row gets
            # its own destination), then which rows it marked. A row already "sending" by this claimer cannot be among
            # them: each nudge of a claim is posted by one message, once. (One UPDATE per message cost ≈ 0.6 ms of
            # CPU each, a quarter of a fan-out's CPU per post: bench/fanout.py.)
            conn = session.connection()
            if execute_many(conn, _MARK_SENDING, rows) == len(rows):
                # Each execution changes at most its own row: as many changed as asked means every row is marked
                # (the usual case); reading them back cost a fifth of the marking (bench/RESULTS.md, session 9).
                session.commit()
                return [True] * len(groups)
            marked: set[int] = set()
            for chunk in in_chunks([row["nudge_id"] for row in rows]):
                marked.update(conn.execute(_SENDING, {"ids": list(chunk), "claimer": claimer}).scalars())
            answers = [all(i in marked for i in ids) for ids, _ in groups]
            # A group partly someone else's: undo the part marked, the lease will bring it back.
            partial = [i for (ids, _), ok in zip(groups, answers, strict=True) if not ok for i in ids if i in marked]
            for chunk in in_chunks(partial):
                conn.execute(_UNMARK_SENDING, {"ids": list(chunk), "claimer": claimer})
            session.commit()
        return answers

    def mark_destination(self, *, ids: Sequence[int], claimer: str, destination: str) -> None:
        """The message goes elsewhere than marked (the channel refused it; the owner's DM instead)."""
        with self.session() as session:
            session.exec(  # type: ignore[call-overload]
                update(Nudge)
                .where(col(Nudge.id).in_(ids), Nudge.claimed_by == claimer, _status_by_id() == "sending")
                .values(channel_id=destination)
            )
            session.commit()

    def note_owner_gone(self, *, ids: Sequence[int], claimer: str, owner: str) -> None:
        """Slack refused these nudges' DM to `owner`: their payload says so (schedules.sender.OWNER_GONE), so the
        message, posted for the team instead, is redrawn so after a click."""
        with self.session() as session:
            for row in session.exec(
                select(Nudge).where(col(Nudge.id).in_(ids), Nudge.claimed_by == claimer, _status_by_id() == "sending")
            ):
                row.payload = {**row.payload, "owner_deactivated": owner}
                session.add(row)
            session.commit()

    def mark_sent(self, *, posts: Sequence[tuple[Sequence[int], str, str]], claimer: str, now: datetime) -> None:
        """Records posted messages, each (nudge ids, channel, ts), in one transaction."""
        mine = {"claimer": claimer, "now": now}
        rows = [{"nudge_id": i, "posted_in": where, "posted_ts": ts, **mine} for ids, where, ts in posts for i in ids]
        if not rows:
            return
        with self.session() as session:
            # One executemany of a Core statement (no rowcount needed here): cheap for a batch of a hundred posts.
            execute_many(session.connection(), _MARK_SENT, rows)
            session.commit()

    def finish_nudges(
        self,
        *,
        ids: Sequence[int],
        claimer: str,
        status: str,
        error: str | None = None,
        next_attempt_at: datetime | None = None,
    ) -> None:
        """Records an outcome other than sent: "pending" again (retry at `next_attempt_at`), failed, skipped…"""
        self._finish(ids, claimer, status=status, error=error and error[:255], next_attempt_at=next_attempt_at)

    def _finish(self, ids: Sequence[int], claimer: str, **values: Any) -> None:
        with self.session() as session:
            session.exec(  # type: ignore[call-overload]
                update(Nudge)
                .where(
                    col(Nudge.id).in_(ids),
                    Nudge.claimed_by == claimer,
                    _status_by_id().in_(("claimed", "sending")),
                )
                .values(lease_until=None, **values)
            )
            session.commit()

    def hold_nudges_of_unchecked_channels(
        self, *, until: datetime, planned_since: datetime, except_teams: Sequence[str] = ()
    ) -> int:
        """Pending posts in the channels of live customers whose sharing Slack has not told Partner yet (the look-up
        failed or waits its turn) wait until `until` instead of being claimed: such a channel may be shared with the
        customer's organisation, whose people must not see internal posts. No attempt is counted. Only rows planned
        since `planned_since`: an older one waits no more (schedules.sharing.MAX_HOLD). `except_teams`: workspaces
        Partner cannot post to at all (no installation, a refused token), whose rows the sender records as such."""
        unchecked_where = (
            col(Customer.channel_shared_checked_at).is_(None),
            col(Customer.channel_id).is_not(None),
            col(Customer.archived_at).is_(None),
            col(Customer.team_id).not_in(list(except_teams)),
        )
        unchecked = select(Customer.id).where(*unchecked_where)
        # Only what goes to the channel: a DM (an owner's alert) is read by its recipient alone.
        to_channel = col(Nudge.recipient_id).is_(None) | col(Nudge.recipient_id).in_(
            select(Customer.channel_id).where(*unchecked_where)
        )
        with self.session() as session:
            held = session.exec(  # type: ignore[call-overload]
                update(Nudge)
                .where(
                    col(Nudge.customer_id).in_(unchecked),
                    to_channel,
                    col(Nudge.status) == "pending",
                    col(Nudge.due_at) < until,
                    col(Nudge.created_at) >= planned_since,
                    col(Nudge.next_attempt_at).is_(None) | (col(Nudge.next_attempt_at) < until),
                )
                .values(next_attempt_at=until)
            ).rowcount
            session.commit()
        return int(held or 0)

    def answer_lost(self, *, ids: Sequence[int], claimer: str, now: datetime, error: str) -> None:
        """The post of these "sending" rows got no answer (a timeout, a dropped connection): Slack may have posted it.
        They stay "sending" with their lease over now, so a later sender looks for the post in the destination's
        history before it posts again (claim_unconfirmed) instead of doubling it."""
        with self.session() as session:
            session.exec(  # type: ignore[call-overload]
                update(Nudge)
                .where(col(Nudge.id).in_(ids), Nudge.claimed_by == claimer, _status_by_id() == "sending")
                .values(lease_until=now, error=error[:255])
            )
            session.commit()

    def expire_nudges(self, *, kinds: Sequence[str], due_before: datetime, now: datetime) -> int:
        """Rows of `kinds` still unsent though due before `due_before` → "missed" (after downtime: not spammed)."""
        if not kinds:
            return 0
        with self.session() as session:
            result = session.exec(  # type: ignore[call-overload]
                update(Nudge)
                .where(
                    col(Nudge.kind).in_(kinds),
                    col(Nudge.due_at) < due_before,
                    or_(
                        col(Nudge.status) == "pending",
                        (col(Nudge.status) == "claimed") & (col(Nudge.lease_until) < now),
                    ),
                )
                .values(status="missed", lease_until=None, error="past the grace period; not sent")
            )
            session.commit()
            return int(result.rowcount or 0)

    def claim_unconfirmed(
        self, *, stale_before: datetime, claimer: str, lease_until: datetime, limit: int = 1000
    ) -> list[Nudge]:
        """Rows a sender left "sending" (it died while posting) whose lease ran out before `stale_before`: taken
        over by `claimer`, still "sending", so that exactly one sender checks Slack for them."""
        with self.session() as session:
            _write_transaction(session)
            stale = (col(Nudge.status) == "sending") & (col(Nudge.lease_until) < stale_before)
            query = select(Nudge.id).where(stale).order_by(col(Nudge.id)).limit(limit)
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            ids = list(session.exec(query))
            for chunk in in_chunks(ids):
                session.exec(  # type: ignore[call-overload]
                    update(Nudge)
                    .where(
                        col(Nudge.id).in_(chunk), _status_by_id() == "sending", col(Nudge.lease_until) < stale_before
                    )
                    .values(claimed_by=claimer, lease_until=lease_until)
                )
            session.commit()
            taken: list[Nudge] = []
            for chunk in in_chunks(ids):
                taken.extend(
                    session.exec(
                        select(Nudge).where(
                            col(Nudge.id).in_(chunk), Nudge.claimed_by == claimer, _status_by_id() == "sending"
                        )
                    )
                )
            return taken

    def resolve_unconfirmed(
        self,
        *,
        claimer: str,
        now: datetime,
        found: Sequence[tuple[int, str, str]] = (),
        not_posted: Sequence[int] = (),
        unknown: Sequence[int] = (),
    ) -> None:
        """The outcome of checking Slack for rows taken with `claim_unconfirmed`:

        * `found` (id, channel, ts): the post is there → sent;
        * `not_posted`: the destination's history shows no such post → pending again, sent by the next claim;
        * `unknown`: Slack could not tell (no history access) → recorded sent with an "unconfirmed" error and never
          re-sent: a reminder lost in a window of milliseconds is better than a duplicate in a customer's channel.
        """
        mine = (Nudge.claimed_by == claimer) & (_status_by_id() == "sending")
        with self.session() as session:
            for nudge_id, channel_id, ts in found:
                session.exec(  # type: ignore[call-overload]
                    update(Nudge)
                    .where(col(Nudge.id) == nudge_id, mine)
                    .values(
                        status="sent", sent_at=now, channel_id=channel_id, message_ts=ts, error=None, lease_until=None
                    )
                )
            for chunk in in_chunks(list(not_posted)):
                session.exec(  # type: ignore[call-overload]
                    update(Nudge)
                    .where(col(Nudge.id).in_(chunk), mine)
                    .values(
                        status="pending",
                        lease_until=None,
                        next_attempt_at=None,
                        channel_id=None,
                        error="a sender stopped before posting; not found in Slack, so sent again",
                    )
                )
            for chunk in in_chunks(list(unknown)):
                session.exec(  # type: ignore[call-overload]
                    update(Nudge)
                    .where(col(Nudge.id).in_(chunk), mine)
                    .values(
                        status="sent",
                        sent_at=now,
                        lease_until=None,
                        error="unconfirmed: the sender stopped while posting; not re-sent to avoid a duplicate",
                    )
                )
            session.commit()

    # ------------------------------------------------------------------ inactive workspaces

    def cancel_team_nudges(self, *, team_id: str, reason: str) -> int:
        """Every queued nudge of the workspace → "cancelled" (it uninstalled the app); sent ones are kept."""
        with self.session() as session:
            result = session.exec(  # type: ignore[call-overload]
                update(Nudge)
                .where(Nudge.team_id == team_id, col(Nudge.status).in_(("pending", "claimed")))
                .values(status="cancelled", error=reason[:255], lease_until=None)
            )
            session.commit()
            return int(result.rowcount or 0)

    def cancel_inactive_nudges(self, *, now: datetime) -> int:
        """Queued rows of inactive workspaces (planned in a race with the uninstall) → "cancelled", never sent."""
        with self.session() as session:
            result = session.exec(  # type: ignore[call-overload]
                update(Nudge)
                .where(
                    col(Nudge.team_id).in_(_inactive_teams()),
                    or_(
                        col(Nudge.status) == "pending",
                        (col(Nudge.status) == "claimed") & (col(Nudge.lease_until) < now),
                    ),
                )
                .values(status="cancelled", error="the workspace uninstalled Partner", lease_until=None)
            )
            session.commit()
            return int(result.rowcount or 0)

    # ------------------------------------------------------------------ reading and outcomes

    def nudge(self, *, team_id: str, nudge_id: int) -> Nudge | None:
        with self.session() as session:
            row = session.get(Nudge, nudge_id)
            return row if row is not None and row.team_id == team_id else None

    def nudges_for_message(self, *, team_id: str, channel_id: str, ts: str) -> list[Nudge]:
        """Every nudge shown in one Slack message (one, or several in an owner digest), in digest order."""
        with self.session() as session:
            rows = session.exec(
                select(Nudge).where(Nudge.team_id == team_id, Nudge.channel_id == channel_id, Nudge.message_ts == ts)
            )
            return sorted(rows, key=lambda n: (n.due_at, n.id or 0))

    def set_nudge_outcome(
        self, *, team_id: str, nudge_id: int, outcome: dict[str, Any] | None, replaces: Sequence[str] = ()
    ) -> bool:
        """Records what a person did about a nudge (logged, snoozed, skipped, paused); the first answer wins, except
        over an earlier one whose ``what`` is in `replaces` (a skip is final where a snooze only put the call off).
        `outcome` None takes back an answer of `replaces` (a resume gives today's paused nudge its buttons back);
        False when there was none to take back.

        Read and written under the row's write lock: a click and a command's follow-up answering at the same moment
        must not each read "no answer yet" and the later write silently undo the earlier."""
        with self.session() as session:
            _write_transaction(session)
            row = session.get(Nudge, nudge_id, with_for_update=True)
            if row is None or row.team_id != team_id:
                return False
            if row.payload.get("outcome") and (row.payload["outcome"].get("what") not in replaces):
                return False
            if outcome is None:
                if not row.payload.get("outcome"):
                    return False
                row.payload = {k: v for k, v in row.payload.items() if k != "outcome"}
            else:
                row.payload = {**row.payload, "outcome": outcome}
            session.add(row)
            session.commit()
            return True

    def add_to_pending_nudge(
        self,
        *,
        team_id: str,
        kind: str,
        customer_id: int,
        note: dict[str, Any],
        claimer: str | None = None,
        lease_until: datetime | None = None,
        destination: str | None = None,
    ) -> int | None:
        """Adds `note` to the payload of the customer's newest `kind` row not yet taken by a sender, so that it says
        more when it goes out (one DM, not two); its id, or None when there is none waiting. Read and written under
        the row's write lock: a sender claiming it at that moment either finds the note there or it is not added.

        With `claimer`, the row is also taken ("sending" to `destination` until `lease_until`, as a sender takes
        one) to go out now inside another message of the caller's, recorded with the outbox's own mark_sent (both
        ids in the message's metadata) or finish_nudges — the other way round: the waiting DM joins one going now."""
        with self.session() as session:
            _write_transaction(session)
            row = session.exec(
                select(Nudge)
                .where(
                    Nudge.team_id == team_id,
                    Nudge.kind == kind,
                    Nudge.customer_id == customer_id,
                    Nudge.status == "pending",
                )
                .order_by(col(Nudge.created_at).desc(), col(Nudge.id).desc())
                .limit(1)
                .with_for_update()
            ).first()
            if row is None:
                session.rollback()
                return None
            row.payload = {**row.payload, **note}
            if claimer is not None:
                row.status, row.claimed_by, row.lease_until = "sending", claimer, lease_until
                row.channel_id, row.attempts = destination, row.attempts + 1
            session.add(row)
            session.commit()
            return row.id

    def note_digest_parts(self, *, parts: dict[int, list[int] | None], claimer: str) -> None:
        """Records, on rows this sender holds and has not posted yet, which part of an owner's digest each goes out
        in ([part, parts, things]; None: not one of several parts), so that the redraw after a click, which rebuilds
        a digest from its own nudges, still says "part 2 of 4". Written before the post: no click can race it."""
        if not parts:
            return
        with self.session() as session:
            _write_transaction(session)
            for chunk in in_chunks(list(parts)):
                rows = session.exec(
                    select(Nudge).where(
                        col(Nudge.id).in_(chunk), Nudge.claimed_by == claimer, _status_by_id() == "claimed"
                    )
                )
                for row in rows:
                    part = parts[row.id or 0]
                    payload = {k: v for k, v in row.payload.items() if k != DIGEST_PART}
                    row.payload = {**payload, DIGEST_PART: part} if part else payload
                    session.add(row)
            session.commit()

    def nudges(
        self,
        *,
        team_id: str,
        kinds: Sequence[str],
        due_after: datetime,
        statuses: Sequence[str] | None = None,
        customer_ids: Sequence[int] | None = None,
    ) -> list[Nudge]:
        """Rows of `kinds` due after `due_after`, oldest first (optionally by status and customer)."""
        with self.session() as session:
            query = select(Nudge).where(
                Nudge.team_id == team_id, col(Nudge.kind).in_(kinds), col(Nudge.due_at) > due_after
            )
            if statuses is not None:
                query = query.where(col(Nudge.status).in_(statuses))
            if customer_ids is not None:
                query = query.where(col(Nudge.customer_id).in_(customer_ids))
            return list(session.exec(query.order_by(col(Nudge.due_at), col(Nudge.id))))
