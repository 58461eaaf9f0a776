"""Customers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import String, bindparam, cast, func, literal, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from domain.customers import bare_key, clean_name, name_key
from domain.errors import UserError
from domain.mrkdwn import mrkdwn_name
from storage.base import Records, detached
from storage.models import Customer, CustomerEvent, JobWatermark, Nudge, Workspace
from storage.nudges import _write_transaction
from storage.workspaces import WorkspaceQueries, workspace_to_change

# In Workspace.settings: why each channel counts as read from outside the team (see set_channel_shared).
CHANNEL_READERS = "channel_readers"

# The owner's notice that the customer's channel refuses Partner's posts (schedules.sender.tell_owner_channel_refuses),
# told once per channel and error — keyed so — until the channel takes posts again or is changed.
CHANNEL_PROBLEM = "channel_problem"
ENDED_NOTICE = "ended:"  # a notice's key once its refusal ended: a later refusal of that channel is told again


def _end_channel_notices(session: Session, *, team_id: str, customer_id: int) -> None:
    """The customer's channel takes posts again (or another was set): its refusal notices give up their once-only
    key, so a later refusal (the channel archived again next month) tells the owner again, once. The rows stay as
    the record of what was told; one still unsent is cancelled when it comes to be sent (its refusal is over)."""
    session.exec(  # type: ignore[call-overload]
        update(Nudge)
        .where(
            col(Nudge.team_id) == team_id,
            col(Nudge.kind) == CHANNEL_PROBLEM,
            col(Nudge.subject) == f"customer:{customer_id}",
            col(Nudge.due_key).not_like(f"{ENDED_NOTICE}%"),
        )
        .values(due_key=literal(ENDED_NOTICE) + cast(col(Nudge.id), String))
    )


def read_from_outside(entry: dict[str, Any]) -> bool:
    """A channel's readers (CHANNEL_READERS) include people outside the team: the customer's organisation through
    Slack Connect, or guests of the workspace (as last found, or found so far by a look-up under way)."""
    scan = entry.get("scan") or {}
    return bool(entry.get("connect") or entry.get("guests") or scan.get("guests"))


# Columns `edit` may change, in the order changes are reported; `name` is recorded as a rename.
EDITABLE = (
    "name",
    "owner_id",
    "channel_id",
    "tz",
    "country",
    "subdiv",
    "working_week",
    "cadence",
    "post_checkins",
    "ideal_days",
    "max_days",
)


# The cadence job's watermark (schedules/cadence.py JOB): the instant up to which a team's call nudges are planned.
CADENCE_JOB = "cadence"


def _restart_a_quiet_teams_calls(session: Session, customer: Customer, now: datetime) -> None:
    """A team's only customer restored: the ticks skipped the team while it had no live customer (`active_team_ids`),
    so its watermark stayed where the archive left it, and the next tick would plan the calls due while it was archived
    — today's posted hours late, though restoring owes no call from before it (nor says one is next). The watermark
    moves to the restore, as the ticks would have moved it; a team with other live customers ticked all along."""
    others = session.exec(
        select(Customer.id)
        .where(Customer.team_id == customer.team_id, col(Customer.archived_at).is_(None), Customer.id != customer.id)
        .limit(1)
    ).first()
    if others is None:
        session.exec(  # type: ignore[call-overload]
            update(JobWatermark)
            .where(
                col(JobWatermark.team_id) == customer.team_id,
                col(JobWatermark.job) == CADENCE_JOB,
                col(JobWatermark.until) < now,
            )
            .values(until=now)
        )


class NamedFrom(NamedTuple):
    """What customers_named_and_renamed_from found."""

    customers: list[Customer]
    maybe_renamed: bool  # a former name of some customer may start with the prefix
    maybe_within: bool  # a later word of some customer's name may start with the prefix


class CustomerQueries(WorkspaceQueries):
    def add_customer(
        self,
        *,
        team_id: str,
        name: str,
        created_by: str | None,
        now: datetime,
        channel_id: str | None = None,
        owner_id: str | None = None,
        tz: str | None = None,
        country: str | None = None,
        cadence: str | None = None,
        request_key: str | None = None,
        **settings: Any,
    ) -> Customer:
        """Adds a customer and its "created" event; `settings` are further EDITABLE columns (subdiv, …).

        `request_key` identifies the Slack request, so a retried one finds its customer (customer_added_by).
        """
        name = clean_name(name)
        unknown = set(settings) - set(EDITABLE)
        if unknown:
            raise TypeError(f"not customer settings: {sorted(unknown)}")
        self._refuse_a_twin(team_id=team_id, name=name)
        self.ensure_workspace(team_id=team_id, now=now)
        customer = Customer(
            team_id=team_id,
            name=name,
            name_key=name_key(name),
            channel_id=channel_id,
            owner_id=owner_id,
            tz=tz,
            country=country,
            cadence=cadence,
            created_by=created_by,
            created_at=now,
            updated_at=now,
            **settings,
        )
        with self.session() as session:
            session.add(customer)
            try:
                session.flush()
                assert customer.id is not None
                detail = {k: getattr(customer, k) for k in EDITABLE if getattr(customer, k) is not None}
                if request_key:
                    detail["request"] = request_key
                self._event(session, customer, actor_id=created_by, kind="created", detail=detail, now=now)
                session.commit()
            except IntegrityError:
                session.rollback()
                existing = self.customer_by_name(team_id=team_id, name=name, include_archived=True)
                archived = existing is not None and existing.archived_at is not None
                hint = " (archived — bring it back with `/partner restore`)" if archived else ""
                shown = existing.name if existing else name
                raise UserError(f"There is already a customer called *{mrkdwn_name(shown)}*{hint}.") from None
            return customer

    def _refuse_a_twin(self, *, team_id: str, name: str, customer_id: int | None = None) -> None:
        """A UserError when another customer's name is this one but for the punctuation ending it: "Acme Corp." typed
        beside Acme Corp would split its check-ins and make every `acme` ambiguous. (The same name is the unique
        index's to refuse.)"""
        bare = bare_key(name)
        if not bare:
            return
        named = self.customers_named_and_renamed_from(team_id=team_id, prefix=bare).customers
        for twin in named:
            if twin.id != customer_id and twin.name_key != name_key(name) and bare_key(twin.name) == bare:
                hint = " (archived — bring it back with `/partner restore`)" if twin.archived_at is not None else ""
                raise UserError(
                    f"There is already a customer called *{mrkdwn_name(twin.name)}*{hint}: *{mrkdwn_name(name)}* would "
                    "be a second one, "
                    "but for the punctuation at its end.",
                    field="name",
                )

    def customers(self, *, team_id: str, include_archived: bool = False) -> list[Customer]:
        with self.session() as session:
            query = select(Customer).where(Customer.team_id == team_id)
            if not include_archived:
                query = query.where(col(Customer.archived_at).is_(None))
            return list(session.exec(query.order_by(Customer.name_key)))

    def customers_named_and_renamed_from(self, *, team_id: str, prefix: str) -> NamedFrom:
        """The team's customers, archived ones too, whose name_key starts with `prefix` (a name_key), in name
        order — what a typed name can match (exactly or as a prefix) without loading the whole team — whether
        a former name of some customer may start with `prefix` too, and whether a later word of some name may
        (customers_with_a_word_from: "🇯🇵 Tokyo Trading" for "tokyo").

        One statement, built once (it runs on every check-in's ack): the lookup reads the former names, or the names
        with such a word, only when one of them could be what was typed (see former_names). The flags are only known
        when some customer matched (they ride on their rows).
        """
        params = {
            "team_id": team_id,
            "name_like": _like_prefix(prefix),
            "old_like": _old_name_like(prefix),
            "word_like": "% " + _like_prefix(prefix),
        }
        statement = _NAMED_FROM
        bounds = _prefix_range(prefix) if self.engine.dialect.name == "sqlite" else None
        if bounds is not None:
            statement = _NAMED_FROM_SQLITE
            params["name_from"], params["name_to"] = bounds
        # Core rows made into detached models: the ORM's loading cost twice the statement (bench/RESULTS.md).
        with self.engine.connect() as conn:
            rows = conn.execute(statement, params).all()
        customers = [detached(Customer, dict(zip(_CUSTOMER_COLUMNS, row[:-2], strict=True))) for row in rows]
        return NamedFrom(customers, any(row[-2] for row in rows), any(row[-1] for row in rows))

    def customers_with_a_word_from(self, *, team_id: str, prefix: str) -> list[Customer]:
        """The team's customers, archived ones too, with a later word of their name starting with `prefix` (a
        name_key): "🇯🇵 Tokyo Trading" for "tokyo", which customers_named_and_renamed_from cannot find. A superset,
        checked in Python after (the lookup keeps the names that start with decoration)."""
        with self.session() as session:
            query = select(Customer).where(
                Customer.team_id == team_id,
                col(Customer.name_key).like("% " + _like_prefix(prefix), escape="/"),
            )
            return list(session.exec(query.order_by(Customer.name_key)))

    def customers_in_channel(self, *, team_id: str, channel_id: str, include_archived: bool = False) -> list[Customer]:
        with self.session() as session:
            query = select(Customer).where(Customer.team_id == team_id, Customer.channel_id == channel_id)
            if not include_archived:
                query = query.where(col(Customer.archived_at).is_(None))
            return list(session.exec(query.order_by(Customer.name_key)))

    def customer(self, *, team_id: str, customer_id: int) -> Customer | None:
        # Core and a detached model: every check-in's follow-up reads its customer (the health score).
        with self.engine.connect() as conn:
            row = conn.execute(_CUSTOMER_BY_ID, {"team_id": team_id, "customer_id": customer_id}).first()
        return detached(Customer, dict(zip(_CUSTOMER_COLUMNS, row, strict=True))) if row is not None else None

    def customers_by_id(self, *, team_id: str, customer_ids: Sequence[int]) -> dict[int, Customer]:
        """The team's customers with these ids (archived ones too), in one query."""
        if not customer_ids:
            return {}
        with self.session() as session:
            query = select(Customer).where(Customer.team_id == team_id, col(Customer.id).in_(list(customer_ids)))
            return {c.id: c for c in session.exec(query) if c.id is not None}

    def customer_records(self, *, team_id: str, customer_ids: Sequence[int]) -> dict[int, Customer]:
        """`customers_by_id` as read-only records (`Records`), for reads of thousands that are only looked at: the
        customers of a fan-out's nudges, as their renderers read them."""
        if not customer_ids:
            return {}
        with self.session() as session:
            query = _CUSTOMER_RECORDS.select().where(
                Customer.team_id == team_id, col(Customer.id).in_(list(customer_ids))
            )
            return {c.id: c for c in _CUSTOMER_RECORDS.read(session.connection(), query) if c.id is not None}

    def customer_by_name(self, *, team_id: str, name: str, include_archived: bool = False) -> Customer | None:
        with self.session() as session:
            query = select(Customer).where(Customer.team_id == team_id, Customer.name_key == name_key(name))
            if not include_archived:
                query = query.where(col(Customer.archived_at).is_(None))
            return session.exec(query).first()

    # ------------------------------------------------------------------ changes, each recorded as an event

    @staticmethod
    def _event(
        session: Session, customer: Customer, *, actor_id: str | None, kind: str, detail: dict[str, Any], now: datetime
    ) -> None:
        assert customer.id is not None
        session.add(
            CustomerEvent(
                team_id=customer.team_id, customer_id=customer.id, actor_id=actor_id, kind=kind, detail=detail, at=now
            )
        )

    def _load(self, session: Session, *, team_id: str, customer_id: int, for_update: bool = False) -> Customer:
        customer = session.get(Customer, customer_id, with_for_update=for_update)
        if customer is None or customer.team_id != team_id:
            raise UserError("That customer no longer exists.")
        return customer

    def update_customer(
        self,
        *,
        team_id: str,
        customer_id: int,
        actor_id: str | None,
        changes: dict[str, Any],
        now: datetime,
        request_key: str | None = None,
    ) -> tuple[Customer, dict[str, tuple[Any, Any]]]:
        """Applies `changes` (EDITABLE columns) and returns the customer with what really changed, old → new.

        A rename is a "renamed" event, other fields one "edited" event; nothing changed, nothing recorded
        (so a retried request adds no second event). A name taken by another customer is a UserError.
        `request_key` (the Slack request's) is kept in the events: its retry answers as it did (`changed_by`).
        """
        by = {"request": request_key} if request_key else {}
        unknown = set(changes) - set(EDITABLE)
        if unknown:
            raise TypeError(f"not customer settings: {sorted(unknown)}")
        if "name" in changes:
            changes = {**changes, "name": clean_name(changes["name"])}
            self._refuse_a_twin(team_id=team_id, name=changes["name"], customer_id=customer_id)
        with self.session() as session:
            # Read and written under the row's write lock: Slack's retry of the command, answered while the first
            # delivery still is, then finds the change made instead of recording a second event.
            _write_transaction(session)
            customer = self._load(session, team_id=team_id, customer_id=customer_id, for_update=True)
            changed = {
                k: (getattr(customer, k), changes[k])
                for k in EDITABLE
                if k in changes and getattr(customer, k) != changes[k]
            }
            if not changed:
                return customer, {}
            for key, (_old, new) in changed.items():
                setattr(customer, key, new)
            if "name" in changed:
                customer.name_key = name_key(customer.name)
                old, new = changed["name"]
                detail = {"name": [old, new], **by}
                self._event(session, customer, actor_id=actor_id, kind="renamed", detail=detail, now=now)
            if "channel_id" in changed:
                # A new channel: nothing known of it yet (joining it after the ack reads whether it is shared).
                customer.channel_error, customer.channel_error_at = None, None
                customer.channel_shared, customer.channel_shared_checked_at = False, None
                _end_channel_notices(session, team_id=team_id, customer_id=customer_id)
            edited = {k: [old, new] for k, (old, new) in changed.items() if k != "name"}
            if edited:
                self._event(session, customer, actor_id=actor_id, kind="edited", detail={**edited, **by}, now=now)
            customer.updated_at = now
            session.add(customer)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                taken = self.customer_by_name(team_id=team_id, name=changes["name"], include_archived=True)
                shown = taken.name if taken is not None else changes["name"]
                raise UserError(f"There is already a customer called *{mrkdwn_name(shown)}*.", field="name") from None
            return customer, changed

    def archive_customer(
        self, *, team_id: str, customer_id: int, actor_id: str | None, now: datetime, request_key: str | None = None
    ) -> Customer:
        """Soft delete: hidden from lists and check-ins, history kept. Archiving twice changes nothing."""
        return self._set_archived(
            team_id=team_id, customer_id=customer_id, actor_id=actor_id, now=now, archived=True, request_key=request_key
        )

    def restore_customer(
        self, *, team_id: str, customer_id: int, actor_id: str | None, now: datetime, request_key: str | None = None
    ) -> Customer:
        return self._set_archived(
            team_id=team_id,
            customer_id=customer_id,
            actor_id=actor_id,
            now=now,
            archived=False,
            request_key=request_key,
        )

    def _set_archived(
        self,
        *,
        team_id: str,
        customer_id: int,
        actor_id: str | None,
        now: datetime,
        archived: bool,
        request_key: str | None,
    ) -> Customer:
        with self.session() as session:
            _write_transaction(session)  # as update_customer: a retry at the same moment records no second event
            customer = self._load(session, team_id=team_id, customer_id=customer_id, for_update=True)
            if (customer.archived_at is not None) == archived:
                return customer
            customer.archived_at = now if archived else None
            customer.updated_at = now
            session.add(customer)
            kind = "archived" if archived else "restored"
            detail = {"request": request_key} if request_key else {}
            self._event(session, customer, actor_id=actor_id, kind=kind, detail=detail, now=now)
            if not archived:
                _restart_a_quiet_teams_calls(session, customer, now)
            session.commit()
            return customer

    def record_channel_error(self, *, team_id: str, customer_id: int, error: str | None, now: datetime) -> bool:
        """Why Slack refuses posts in the customer's channel (None: it accepts them again), stamped when last seen.

        The check-in summary, the nudge sender and the channel join all record here. True when this changed what
        was recorded, so whoever needs to hear about it is told once however many posts fail; a refusal seen again
        only moves its time, which restarts the wait before the channel is tried again.
        """
        customer = (col(Customer.team_id) == team_id, col(Customer.id) == customer_id)
        with self.session() as session:
            # One conditional UPDATE: of two concurrent posts refused alike, exactly one reports the change.
            changed = session.exec(  # type: ignore[call-overload]
                update(Customer)
                .where(*customer, col(Customer.channel_error).is_distinct_from(error))
                .values(channel_error=error, channel_error_at=now if error else None)
            ).rowcount
            if not changed and error is not None:
                session.exec(  # type: ignore[call-overload]
                    update(Customer).where(*customer).values(channel_error_at=now)
                )
            if changed and error is None:
                _end_channel_notices(session, team_id=team_id, customer_id=customer_id)
            session.commit()
        return bool(changed)

    def move_channel(self, *, team_id: str, old_channel_id: str, new_channel_id: str, now: datetime) -> int:
        """Slack gave a channel a new id (``channel_id_changed``): every customer of the team in it (archived ones
        too) and the team digest follow it, else their posts would meet `channel_not_found` from then on. Returns
        how many customers moved; a redelivered event finds none."""
        with self.session() as session:
            moved = session.exec(  # type: ignore[call-overload]
                update(Customer)
                .where(col(Customer.team_id) == team_id, col(Customer.channel_id) == old_channel_id)
                .values(channel_id=new_channel_id, updated_at=now)
            ).rowcount
            session.exec(  # type: ignore[call-overload]
                update(Workspace)
                .where(col(Workspace.team_id) == team_id, col(Workspace.digest_channel_id) == old_channel_id)
                .values(digest_channel_id=new_channel_id)
            )
            session.commit()
        return int(moved or 0)

    def set_channel_shared(
        self,
        *,
        team_id: str,
        channel_id: str,
        shared: bool | None,
        now: datetime,
        guests: Sequence[str] | None = None,
        scan: dict[str, Any] | None = None,
    ) -> int:
        """Records what Slack just said of this channel on every customer of the team whose channel it is (archived
        ones too: they keep it when restored). `Customer.channel_shared` means *read by people outside the team*:
        shared with another organisation (Slack Connect, `shared`) or with guests of the workspace among its members
        (`guests`: a finished look-up of its members; `scan`: one under way, {"cursor", "guests"} so far). Why is
        kept in Workspace.settings[CHANNEL_READERS] (see `channel_readers`). `shared` None: Slack would not describe
        it (gone, or private without Partner): only the time is recorded. The look-up counts as done (its time
        recorded) unless its guests are still to be learnt: Slack Connect says enough, else a finished look-up of
        the members or one learnt earlier and kept current by the member events. Returns how many flags changed."""
        channel = (col(Customer.team_id) == team_id, col(Customer.channel_id) == channel_id)
        with self.session() as session:
            workspace = workspace_to_change(session, team_id=team_id, now=now)
            readers = dict((workspace.settings or {}).get(CHANNEL_READERS) or {})
            entry = dict(readers.get(channel_id) or {})
            if shared is not None:
                entry["connect"] = shared
            if guests is not None:
                # A guest's member_joined_channel noted since this look-up began (its members listed before they
                # joined) still counts: the look-up must not undo it.
                joined = {g: at for g, at in (entry.get("joined") or {}).items() if at >= now.timestamp()}
                entry["guests"] = sorted({*guests, *joined})
                entry["joined"] = joined
                entry.pop("scan", None)
            elif scan is not None:
                entry["scan"] = {
                    "cursor": str(scan.get("cursor") or ""),
                    "guests": sorted(set(scan.get("guests") or [])),
                }
            readers[channel_id] = entry
            workspace.settings = {**(workspace.settings or {}), CHANNEL_READERS: readers}  # JSON is saved whole
            session.add(workspace)
            changed = 0
            if shared is not None or guests is not None or scan is not None:
                outside = read_from_outside(entry)
                differs = col(Customer.channel_shared) != outside
                changed = session.exec(  # type: ignore[call-overload]
                    update(Customer).where(*channel, differs).values(channel_shared=outside)
                ).rowcount
            if scan is None:
                done = shared is None or bool(entry.get("connect")) or entry.get("guests") is not None
                session.exec(  # type: ignore[call-overload]
                    update(Customer).where(*channel).values(channel_shared_checked_at=now if done else None)
                )
            session.commit()
        return int(changed or 0)

    def channel_readers(self, *, team_id: str, channel_id: str) -> dict[str, Any]:
        """Why the channel counts as read from outside, as last learnt: {"connect": shared through Slack Connect,
        "guests": the guests of the workspace among its members (absent: never looked up), "scan": a look-up of its
        members under way, "joined": when guests were seen joining (see set_channel_shared)}; {} when nothing was
        learnt."""
        with self.session() as session:
            workspace = session.get(Workspace, team_id)
            readers = (workspace.settings or {}).get(CHANNEL_READERS) or {} if workspace is not None else {}
        return dict(readers.get(channel_id) or {})

    def read_by_guests(self, *, team_id: str, channel_id: str | None) -> bool:
        """Whether the channel counts as read from outside because of guests among its members (not Slack Connect):
        what the card and a check-in's confirmation say instead of "shared with the customer"."""
        if not channel_id:
            return False
        entry = self.channel_readers(team_id=team_id, channel_id=channel_id)
        return not entry.get("connect") and read_from_outside(entry)

    def note_channel_guest(self, *, team_id: str, channel_id: str, user_id: str, now: datetime) -> int:
        """A guest of the workspace joined the channel (member_joined_channel): it is read from outside at once.
        Returns how many customers' flag changed (0: a redelivery, or no customer's channel)."""
        if not self.customers_in_channel(team_id=team_id, channel_id=channel_id, include_archived=True):
            return 0
        with self.session() as session:
            workspace = workspace_to_change(session, team_id=team_id, now=now)
            readers = dict((workspace.settings or {}).get(CHANNEL_READERS) or {})
            entry = dict(readers.get(channel_id) or {})
            entry["guests"] = sorted({*(entry.get("guests") or []), user_id})
            entry["joined"] = {**(entry.get("joined") or {}), user_id: now.timestamp()}  # see set_channel_shared
            readers[channel_id] = entry
            workspace.settings = {**(workspace.settings or {}), CHANNEL_READERS: readers}  # JSON is saved whole
            session.add(workspace)
            channel = (col(Customer.team_id) == team_id, col(Customer.channel_id) == channel_id)
            changed = session.exec(  # type: ignore[call-overload]
                update(Customer).where(*channel, col(Customer.channel_shared).is_(False)).values(channel_shared=True)
            ).rowcount
            session.commit()
        return int(changed or 0)

    def channels_with_guest(self, *, team_id: str, user_id: str) -> list[str]:
        """The channels whose last look-up found this person among their guests."""
        with self.session() as session:
            workspace = session.get(Workspace, team_id)
            readers = (workspace.settings or {}).get(CHANNEL_READERS) or {} if workspace is not None else {}
        return sorted(c for c, entry in readers.items() if user_id in (entry.get("guests") or []))

    def recheck_channel(self, *, team_id: str, channel_id: str) -> int:
        """Who reads the channel may have changed (a guest left, or was made a full member): it is looked up again
        by the next tick, as a channel never looked up (its channel posts wait for it, MAX_HOLD at most; a check-in's
        summary looks it up first). Its flag stands until then. Returns how many customers' look-up is now due."""
        channel = (col(Customer.team_id) == team_id, col(Customer.channel_id) == channel_id)
        with self.session() as session:
            due = session.exec(  # type: ignore[call-overload]
                update(Customer)
                .where(*channel, col(Customer.channel_shared_checked_at).is_not(None))
                .values(channel_shared_checked_at=None)
            ).rowcount
            session.commit()
        return int(due or 0)

    def make_first_guest_look_ups_due(self, *, checked_at: datetime) -> int:
        """Channels last looked up before Partner looked for guests among their members (Slack's word on sharing
        recorded on their customers, no guest look-up in CHANNEL_READERS; not shared through Slack Connect, which
        says enough): their look-up is made due, as last made at `checked_at` (before a day ago), so the tick's
        look-up comes to them after the never-checked ones, soon after start instead of at their next daily
        re-check. Their check time stays set: their nudges keep going where they went (they are not held for it)
        until the look-up finds a guest. Returns how many channels."""
        checked = col(Customer.channel_shared_checked_at)
        with self.session() as session:
            rows = session.exec(
                select(Customer.team_id, Customer.channel_id)
                .where(col(Customer.channel_id).is_not(None), checked.is_not(None), checked > checked_at)
                .distinct()
            ).all()
            teams = {team_id for team_id, _channel in rows}
            readers = {
                w.team_id: (w.settings or {}).get(CHANNEL_READERS) or {}
                for w in session.exec(select(Workspace).where(col(Workspace.team_id).in_(sorted(teams)))).all()
            }
            stale = [
                (team_id, str(channel_id))
                for team_id, channel_id in rows
                if "guests" not in (entry := readers.get(team_id, {}).get(channel_id) or {})
                and not entry.get("connect")
            ]
            for team_id, channel_id in stale:
                session.exec(  # type: ignore[call-overload]
                    update(Customer)
                    .where(
                        col(Customer.team_id) == team_id, col(Customer.channel_id) == channel_id, checked > checked_at
                    )
                    .values(channel_shared_checked_at=checked_at)
                )
            session.commit()
        return len(stale)

    def channels_to_check_sharing(
        self, *, checked_before: datetime, limit: int, except_teams: Sequence[str] = ()
    ) -> list[tuple[str, str, bool]]:
        """(team, channel, never checked) of live customers' channels whose sharing Slack has never told Partner
        (customers from before it was recorded, a channel whose look-up failed) or last told before
        `checked_before`: the never-checked first, then the longest unchecked; workspaces still installed only,
        and not `except_teams` (those whose look-ups wait for the next tick)."""
        checked = col(Customer.channel_shared_checked_at)
        never = func.count() - func.count(checked)  # the channel's customers never checked
        uninstalled = select(Workspace.team_id).where(col(Workspace.active).is_(False))
        query = (
            select(Customer.team_id, Customer.channel_id, never)
            .where(
                col(Customer.archived_at).is_(None),
                col(Customer.channel_id).is_not(None),
                col(Customer.team_id).not_in(uninstalled),
                col(Customer.team_id).not_in(list(except_teams)),
                checked.is_(None) | (checked < checked_before),
            )
            .group_by(col(Customer.team_id), col(Customer.channel_id))
            .order_by(never.desc(), func.min(checked), col(Customer.team_id), col(Customer.channel_id))
            .limit(limit)
        )
        with self.session() as session:
            return [(team_id, str(channel_id), bool(unknown)) for team_id, channel_id, unknown in session.exec(query)]

    def customer_events(self, *, team_id: str, customer_id: int) -> list[CustomerEvent]:
        """What happened to a customer record, oldest first."""
        with self.session() as session:
            query = (
                select(CustomerEvent)
                .where(CustomerEvent.team_id == team_id, CustomerEvent.customer_id == customer_id)
                .order_by(col(CustomerEvent.at), col(CustomerEvent.id))
            )
            return list(session.exec(query))

    def customer_added_by(self, *, team_id: str, request_key: str) -> Customer | None:
        """The customer a Slack request created, if it did: a retried `add` answers as the first one did."""
        found = self.changed_by(team_id=team_id, request_key=request_key, kinds=("created",))
        return found[0] if found is not None else None

    def changed_by(
        self, *, team_id: str, request_key: str, kinds: tuple[str, ...]
    ) -> tuple[Customer, list[CustomerEvent]] | None:
        """The customer a Slack request changed in one of these ways, with its events of that request (oldest
        first), if it did: a retried `add`, `edit`, `archive` or `restore` answers as the first delivery did."""
        with self.session() as session:
            events = session.exec(
                select(CustomerEvent)
                .where(CustomerEvent.team_id == team_id, col(CustomerEvent.kind).in_(kinds))
                .order_by(col(CustomerEvent.id).desc())
                .limit(50)  # a retry comes within seconds: only the latest changes can match
            )
            mine = [event for event in events if event.detail.get("request") == request_key]
            customer = session.get(Customer, mine[0].customer_id) if mine else None
            return (customer, mine[::-1]) if customer is not None else None

    def former_names(self, *, team_id: str, prefix: str | None = None) -> dict[str, int]:
        """Old names (name_key) of renamed customers → customer id, so an old name still finds the customer.

        `prefix` (a name_key): only old names that may start with it — what a typed name's first word can match.
        """
        query = select(CustomerEvent.customer_id, CustomerEvent.detail).where(
            CustomerEvent.team_id == team_id, CustomerEvent.kind == "renamed"
        )
        if prefix is not None:
            query = query.where(_former_name_from(prefix))
        with self.session() as session:
            events = session.exec(query.order_by(col(CustomerEvent.id))).all()
        return {name_key(detail["name"][0]): customer_id for customer_id, detail in events if detail.get("name")}


def _like_prefix(prefix: str) -> str:
    """A LIKE pattern (escape character "/") for values starting with `prefix`."""
    return prefix.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"


def _old_name_like(prefix: str) -> str:
    """A case-insensitive LIKE pattern for the old names (as typed) that may start with `prefix` (a name_key): a
    superset, checked in Python after. SQL's lower() folds ASCII letters only (SQLite), so a prefix with other
    characters filters nothing. Where the key has an apostrophe the old name may have any (' ’ ‘ ʼ `): name_key
    folds them, LIKE's one-character wildcard stands for them."""
    return _like_prefix(prefix).replace("'", "_") if prefix.isascii() else "%"


_CUSTOMERS = Customer.__table__  # type: ignore[attr-defined]
_CUSTOMER_COLUMNS = tuple(c.key for c in _CUSTOMERS.columns)
_CUSTOMER_BY_ID = select(_CUSTOMERS).where(
    _CUSTOMERS.c.id == bindparam("customer_id"), _CUSTOMERS.c.team_id == bindparam("team_id")
)
_CUSTOMER_RECORDS = Records(Customer)
_OLD_NAME = col(CustomerEvent.detail)[("name", 0)].as_string()


def _former_name_from(prefix: str) -> Any:
    """SQL: a rename event whose old name may start with `prefix` (a name_key)."""
    return _OLD_NAME.ilike(_old_name_like(prefix), escape="/")


def _named_from(*, binary_range: bool) -> Any:
    renamed = (
        select(CustomerEvent.id)
        .where(
            CustomerEvent.team_id == bindparam("team_id"),
            CustomerEvent.kind == "renamed",
            _OLD_NAME.ilike(bindparam("old_like"), escape="/"),
        )
        .exists()
    )
    named = col(Customer.name_key).like(bindparam("name_like"), escape="/")
    if binary_range:
        # SQLite's LIKE ignores ASCII case, so it cannot use the (team, name_key) index: it scanned every name of
        # the team on each check-in (1 µs a customer). Names from `name_from` up to `name_to` are the same set
        # in SQLite's binary order, and seek the index; LIKE stays the rule.
        named = (
            named & (col(Customer.name_key) >= bindparam("name_from")) & (col(Customer.name_key) < bindparam("name_to"))
        )
    # A later word of some name starting with the prefix: scans the team's names in the index, in the database.
    within = (
        select(Customer.id)
        .where(
            Customer.team_id == bindparam("team_id"), col(Customer.name_key).like(bindparam("word_like"), escape="/")
        )
        .exists()
    )
    # Every column of the customer, then the flags last.
    return (
        select(_CUSTOMERS, renamed.label("maybe_renamed"), within.label("maybe_within"))
        .where(_CUSTOMERS.c.team_id == bindparam("team_id"), named)
        .order_by(_CUSTOMERS.c.name_key)
    )


def _prefix_range(prefix: str) -> tuple[str, str] | None:
    """[from, to): every string starting with `prefix`, in code point (SQLite's binary) order; None when no string
    bounds it (the prefix ends in U+10FFFF characters only)."""
    for end in range(len(prefix), 0, -1):
        following = ord(prefix[end - 1]) + 1
        if 0xD800 <= following <= 0xDFFF:  # surrogates are not characters: the next one is U+E000
            following = 0xE000
        if following <= 0x10FFFF:
            return prefix, prefix[: end - 1] + chr(following)
    return None


# customers_named_and_renamed_from's statements: built once, not on every check-in.
_NAMED_FROM = _named_from(binary_range=False)
_NAMED_FROM_SQLITE = _named_from(binary_range=True)
