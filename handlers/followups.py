"""What a request sets off after its ack: a new check-in's channel summary, owner alert, boundary checks and
health score; joining a channel; Home refreshes.

Handed to the app's follow-up pool (`AfterAck`, with a small record, not the request) only when the check-in was
really created, so a retried or double-submitted request never posts twice. A Slack failure here never loses the
check-in: it is already stored. Work that only needs the latest data folds per customer (`PerCustomer`).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from functools import partial
from itertools import groupby
from typing import Any

from slack_bolt import Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookResponse

from bot.clock import Clock
from bot.settings import Settings
from domain.checkins import channel_gone, local_day_bounds, owner_alert
from domain.customers import work_calendar
from handlers.blocks import command_name, placeholders_shown
from handlers.blocks.checkin import (
    SUMMARY_SEPARATOR,
    channel_problem_text,
    checkin_confirmation,
    checkin_summary,
    checkins_summary,
    owner_alert_text,
)
from handlers.boundaries_hooks import after_checkin as boundary_checks
from handlers.home_publisher import HomePublisher, request_home_refresh
from handlers.permissions import WhoUnknown
from schedules.cadence import mark_logged_calls, mark_paused_calls, mark_snoozed_call, policy_of
from schedules.digest import GUESTS_READ, stop_digest_in_shared_channel
from schedules.health import HEALTH_DROP, health_config, recompute_health, refresh_health, render_health_drop
from schedules.sender import CHANNEL_ERRORS, Message, SenderOptions, claimer_name, nudge_metadata
from schedules.sharing import GUEST_CALLS_NOW, Calls, LookUpUnfinished, learn_readers, look_up, with_known_sharing
from schedules.slack_http import answer_lost
from storage.models import CheckIn, Customer
from storage.store import Store

logger = logging.getLogger(__name__)

# The owner cannot get a DM at all: retrying later would not help. (A refused token — invalid_auth,
# account_inactive — is the bot's own problem: the alert waits in the outbox until an operator fixes it.)
OWNER_GONE = frozenset({"user_not_found", "user_disabled", "cannot_dm_bot"})


@dataclass
class _Busy:
    """A customer's follow-up, queued or running: what the next run owes (`now` None: nothing yet) and what the
    runs of this burst keep between them (e.g. the summary message they add to)."""

    now: datetime | None
    items: list[Any]
    burst: dict[str, Any] = field(default_factory=dict)


class PerCustomer:
    """Follow-up work that only needs the latest data, on the follow-up pool, one run per customer at a time.

    A request for a customer whose run is queued or going only hands in its item (e.g. the new check-in) and its
    `now`: the queued run, or the next one, takes every item handed in until it starts. A burst of N check-ins of
    one customer costs a few runs instead of N, and the last run starts after the last request, so it sees every
    committed check-in, with no timer. A customer with more to do goes to the back of the pool's queue between
    runs, so one busy customer never holds a worker from the others. Per process: another replica runs its own,
    which is fine because each run reads the database.
    """

    def __init__(self, name: str, pool: AfterAck) -> None:
        self.name = name
        self._pool = pool
        self._lock = threading.Lock()
        self._busy: dict[Hashable, _Busy] = {}
        self.runs = 0  # how many runs started (benchmarks and tests read it)
        self.coalesced = 0  # requests folded into a queued or running one
        self.before_run: Callable[[Hashable], None] | None = None  # a test's hook, called before each run

    def submit(
        self,
        key: Hashable,
        now: datetime,
        work: Callable[[datetime, list[Any], dict[str, Any]], None],
        item: Any,
    ) -> bool:
        """Queues `work(now, items, burst)` for the key, or folds the item into the run queued or going (its
        `work` is then not used: every request for a key must ask for the same work). True when queued."""
        with self._lock:
            busy = self._busy.get(key)
            if busy is not None:
                busy.now = now if busy.now is None or now > busy.now else busy.now
                busy.items.append(item)
                self.coalesced += 1
                return False
            self._busy[key] = _Busy(now, [item])
        if not self._pool.submit(partial(self._run, key, work), what=self.name):
            with self._lock:
                self._busy.pop(key, None)
            return False
        return True

    def _run(self, key: Hashable, work: Callable[[datetime, list[Any], dict[str, Any]], None]) -> None:
        try:
            while True:
                with self._lock:
                    busy = self._busy[key]
                    now, items = busy.now, busy.items
                    busy.now, busy.items = None, []
                    self.runs += 1
                assert now is not None
                if self.before_run is not None:
                    self.before_run(key)
                try:
                    work(now, items, busy.burst)
                except Exception:
                    logger.exception("%s failed for %s", self.name, key)
                with self._lock:
                    if busy.now is None:
                        del self._busy[key]
                        return
                if self._pool.submit(partial(self._run, key, work), what=self.name):
                    return
                # The pool is stopping: finish what was handed in here rather than drop it.
        except BaseException:
            with self._lock:
                self._busy.pop(key, None)
            raise


def tell_user(client: WebClient, *, user_id: str, channel_id: str | None, text: str) -> None:
    """An ephemeral note where the user is working, else a DM from the app."""
    text = placeholders_shown(text)  # a message of its own, read as mrkdwn: `<note>` must not read as a link
    if channel_id:
        try:
            client.chat_postEphemeral(channel=channel_id, user=user_id, text=text)
            return
        except (SlackApiError, OSError):  # OSError: a timeout or a dropped connection
            logger.info("could not reach %s in %s; sending a DM instead", user_id, channel_id)
    try:
        client.chat_postMessage(channel=user_id, text=text)
    except (SlackApiError, OSError):
        logger.warning("could not tell %s: %s", user_id, text[:80], exc_info=True)


@dataclass(frozen=True)
class NewCheckIn:
    """A check-in just stored, as its follow-up needs it: a few ids, never the request."""

    checkin_id: int
    author_id: str
    origin_channel_id: str | None  # where it was made: notes for the author go there
    confirm: bool = False  # made in the form, which just closed: the author is told where they started
    homes: tuple[str, ...] = ()  # whose Home to refresh after it
    counted_for: date | None = None  # the earlier day whose nudge's call it is (see handlers.views.checkin)


def hand_over_checkin(
    after_ack: AfterAck,
    new: NewCheckIn,
    *,
    team_id: str,
    customer_id: int,
    client: WebClient,
    store: Store,
    settings: Settings,
    clock: Clock,
    publisher: HomePublisher | None,
) -> None:
    """Queues the check-in's follow-up, or folds it into the one of its customer queued or going."""
    work = partial(after_checkins, client=client, store=store, settings=settings, publisher=publisher, team_id=team_id)
    after_ack.checkin_followups.submit((team_id, customer_id), clock(), work, new)


def after_checkins(
    now: datetime,
    new: list[NewCheckIn],
    burst: dict[str, Any],
    *,
    client: WebClient,
    store: Store,
    settings: Settings,
    publisher: HomePublisher | None,
    team_id: str,
) -> None:
    """What new check-ins of one customer set off: confirmations, one channel summary listing them, boundary checks,
    one health score, owner alerts (after the score: one that made it fall says so), Home refreshes. Each part stands
    alone: one failing must not keep the others from running."""
    found = store.customer_checkins(team_id=team_id, checkin_ids=[n.checkin_id for n in new])
    if found is None:
        return
    customer, checkins = found
    made = {n.checkin_id: n for n in new}
    for checkin in checkins:
        asked = made[checkin.id or 0]
        if asked.confirm:
            tell_user(
                client,
                user_id=asked.author_id,
                channel_id=asked.origin_channel_id,
                text=checkin_confirmation(
                    customer, checkin, asked.counted_for, guests_read=guests_read(store, customer)
                ),
            )
    if customer.channel_id and customer.post_checkins:  # never told by Slack whether it is shared: asked first
        customer = with_known_sharing(client=client, store=store, customer=customer, now=now)
    if customer.channel_id and customer.post_checkins and customer.channel_shared:
        # The customer's people read a shared channel: the check-in is stored, its summary is not for them.
        logger.info("customer %s: channel shared with another organisation, no check-in summary", customer.id)
    elif channel_gone(error=customer.channel_error, error_at=customer.channel_error_at, now=now):
        # Archived or deleted (Slack said so): the check-in is stored, its confirmation said why no summary.
        logger.info("customer %s: channel %s, no check-in summary", customer.id, customer.channel_error)
    elif customer.channel_id and customer.post_checkins:
        try:
            burst["summary"] = post_summary(
                client=client,
                store=store,
                settings=settings,
                customer=customer,
                checkins=[(c, made[c.id or 0].origin_channel_id) for c in checkins],
                now=now,
                current=burst.get("summary"),
            )
        except Exception:
            burst.pop("summary", None)
            logger.exception("channel summary failed for customer %s", customer.id)
    try:
        # Read once for the burst: most customers have no agreement in force, and then nothing is to check.
        records = store.boundary_records(team_id=team_id, customer_id=customer.id or 0)
        if any(record.rule.in_force for record in records):
            for n, checkin in enumerate(checkins):
                origin = made[checkin.id or 0].origin_channel_id
                try:
                    # The first check-in uses what was just read; a slip it logs changes what the next ones see.
                    read = records if n == 0 else None
                    back_dated = made[checkin.id or 0].counted_for
                    for note in boundary_checks(
                        store, client, checkin, customer, now, settings=settings, records=read, counted_for=back_dated
                    ):
                        tell_user(client, user_id=checkin.author_id, channel_id=origin, text=note)
                except Exception:
                    logger.exception("boundary checks failed for check-in %s", checkin.id)
    except Exception:
        logger.exception("boundary checks failed for customer %s", customer.id)
    contact_kinds = policy_of(settings).contact_kinds
    if any(contact_kinds is None or checkin.kind in contact_kinds for checkin in checkins):
        try:
            # The nudge that asked for this call shows it now, as Skip and Snooze show theirs, not at the next tick.
            mark_logged_calls(
                store=store,
                client=client,
                now=now,
                settings=settings,
                team_id=team_id,
                customer_ids=[customer.id or 0],
                logged_for=min(checkin.created_at for checkin in checkins),  # a call for an earlier day's nudge
            )
        except Exception:
            logger.exception("could not mark the nudges of customer %s as answered", customer.id)
    try:
        recompute_health(store, team_id, customer.id or 0, now, config=health_config(settings))
    except Exception:
        logger.exception("health recompute failed for customer %s", customer.id)
    # After the score: a check-in that made it fall sharply tells the owner both in one DM (alert_owner).
    for checkin in checkins:
        try:
            alert_owner(client=client, store=store, customer=customer, checkin=checkin, now=now)
        except Exception:
            logger.exception("owner alert failed for check-in %s", checkin.id)
    # Last, so the Homes show everything above too (the new health score, the channel problem).
    homes = dict.fromkeys(home for n in new for home in n.homes)
    if homes:
        request_home_refresh(publisher, team_id, list(homes))


# Slack shows a message's text best under 4,000 characters: a longer burst goes on in a further reply.
SUMMARY_TEXT_LIMIT = 4000


@dataclass(frozen=True)
class SummaryMessage:
    """A summary posted in the customer's channel: its ts, the customer-local day, the check-ins it lists and their
    outbox rows (named in the message's metadata)."""

    ts: str
    day: date
    checkins: tuple[CheckIn, ...]
    nudge_ids: tuple[int, ...] = ()


def post_summary(
    *,
    client: WebClient,
    store: Store,
    settings: Settings,
    customer: Customer,
    checkins: list[tuple[CheckIn, str | None]],
    now: datetime,
    current: SummaryMessage | None = None,
) -> SummaryMessage | None:
    """Summarizes these check-ins (each with the channel it was made in) in the customer's channel.

    Each check-in's summary is a row of the nudge outbox, stored with it; this follow-up posts them the way a
    sender does: it takes the rows ("sending", with a lease), posts with their ids in the message metadata,
    records the outcome. A row the tick's sender took first is its to post (alone); should this process stop
    before or while posting, a later tick's sender posts it, or finds the post by its metadata (see
    schedules/sender.py "Exactly once"): a summary is never lost to a crash, nor posted twice.

    They are added to `current` (the message of the burst so far) while it is of the same local day and short
    enough; the rest are posted, threaded under the first summary of their local day. Returns the last message.
    Those Slack refuses for now (rate limit, 5xx, after the client's retries) go back to the outbox, whose sender
    posts them later: the author was told the check-in was logged, so its customer's channel gets it. One Slack
    gave no answer about (a timeout) may have been posted: the sender looks for it before posting it again.
    """
    assert customer.id is not None and customer.channel_id
    calendar = work_calendar(
        tz=customer.tz,
        country=None,  # holidays do not matter for "which local day"
        subdiv=None,
        working_week=None,
        default_tz=settings.default_tz,
    )
    origin = {c.id: channel for c, channel in checkins}
    ordered = sorted((c for c, _ in checkins), key=lambda c: (c.created_at, c.id or 0))
    claimer = claimer_name()
    lease_until = now + SenderOptions().lease
    unposted: str | None = None  # why Slack did not take a summary: the rest goes to the outbox, not to Slack again
    for day, of_day in groupby(ordered, key=lambda c: calendar.local_date(c.created_at)):
        every = list(of_day)
        taken = store.take_checkin_summaries(
            team_id=customer.team_id,
            customer_id=customer.id,
            checkin_ids=[c.id for c in every if c.id],
            channel_id=customer.channel_id,
            now=now,
            claimer=claimer,
            lease_until=lease_until,
        )
        pending = [c for c in every if c.id in taken]  # the others are the sender's, or summarized already
        bounds = local_day_bounds(calendar, day)
        if unposted is not None:
            _queue_summaries(store, customer, pending, taken, bounds, claimer, unposted)
            continue
        if current is not None and current.day == day:
            more = _fitting(customer, current.checkins, pending)
            if more:
                current, pending = _update_summary(client, store, customer, current, more, pending, taken, claimer, now)
        while pending:
            chunk = _fitting(customer, (), pending) or pending[:1]
            try:
                origin_channel = origin.get(chunk[0].id)
                posted = _post_summary(client, store, customer, chunk, taken, bounds, now, origin_channel, claimer)
            except SummaryNotPosted as e:
                unposted = e.reason
                if e.answer_lost:  # this one may be there: looked for before it is posted again
                    pending = pending[len(chunk) :]
                _queue_summaries(store, customer, pending, taken, bounds, claimer, unposted)
                break
            except ChannelRefused:
                _finish(store, pending[len(chunk) :], taken, claimer, status="failed", error="the channel refused")
                return None  # recorded and the author told
            current = SummaryMessage(posted.ts, day, tuple(chunk), posted.nudge_ids)
            pending = pending[len(chunk) :]
    return None if unposted is not None else current


class SummaryNotPosted(Exception):
    """Slack did not take a check-in summary, for now: its error, 5xx or no answer (after the client's retries).
    `answer_lost`: no answer came, so it may have been posted."""

    def __init__(self, reason: str, *, answer_lost: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.answer_lost = answer_lost


class ChannelRefused(Exception):
    """The customer's channel refuses Partner's posts (not_in_channel, archived…): recorded, the author told."""


def _ids(checkins: list[CheckIn], taken: dict[int, int]) -> list[int]:
    """The outbox rows of these (taken) check-ins' summaries."""
    return [taken[c.id] for c in checkins if c.id in taken]


def _finish(
    store: Store, checkins: list[CheckIn], taken: dict[int, int], claimer: str, *, status: str, error: str
) -> None:
    if checkins:
        store.finish_nudges(ids=_ids(checkins, taken), claimer=claimer, status=status, error=error)


def _queue_summaries(
    store: Store,
    customer: Customer,
    checkins: list[CheckIn],
    taken: dict[int, int],
    bounds: tuple[datetime, datetime],
    claimer: str,
    reason: str,
) -> None:
    """These taken check-ins of one local day back to the outbox, in messages of summary size (see
    `post_summary`)."""
    while checkins:
        chunk = _fitting(customer, (), checkins) or checkins[:1]
        # The sender posts it with the usual backoff, threaded under the first summary of the day posted by then.
        store.release_checkin_summaries(
            nudge_ids=_ids(chunk, taken),
            checkin_ids=[c.id for c in chunk if c.id],
            day=bounds,
            claimer=claimer,
            error=reason,
        )
        logger.info("the summary of check-in(s) %s waits in the outbox (%s)", [c.id for c in chunk], reason)
        checkins = checkins[len(chunk) :]


def _fitting(customer: Customer, listed: tuple[CheckIn, ...], new: list[CheckIn]) -> list[CheckIn]:
    """The first of `new` that still fit in one summary message after `listed`."""
    # The message is each check-in's summary joined by a blank line: its length adds up, each rendered once.
    length = len(checkins_summary(customer, listed)) if listed else -len(SUMMARY_SEPARATOR)
    fit = 0
    for checkin in new:
        length += len(SUMMARY_SEPARATOR) + len(checkin_summary(customer, checkin))
        if length > SUMMARY_TEXT_LIMIT:
            break
        fit += 1
    return new[:fit]


def alert_owner(*, client: WebClient, store: Store, customer: Customer, checkin: CheckIn, now: datetime) -> bool:
    """DMs the owner at once about a red check-in or a mood two steps lower than the previous one.

    The alert is a row of the nudge outbox (a red check-in's is stored with the check-in), and this follow-up
    sends it the way a sender does: it takes the row ("sending", with a lease), posts with the nudge's metadata,
    records the outcome. The tick's sender takes it instead when it got there first or this process stopped
    before; should the process stop mid-post, the next sender looks for the DM and sends it only if it is not
    there. A DM Slack refuses for now (rate limit, 5xx, timeout, after the client's retries) goes back to the
    outbox: a red check-in's alert is never lost to a Slack hiccup or a crash, nor sent twice.
    """
    # The owner who logged it already knows; and when not even a green check-in before would make this one an
    # alert, the previous one need not be read.
    if not customer.owner_id or customer.owner_id == checkin.author_id or owner_alert("green", checkin.mood) is None:
        return False
    previous = store.previous_checkin(team_id=customer.team_id, checkin=checkin)
    previous_mood = previous.mood if previous is not None else None
    reason = owner_alert(previous_mood, checkin.mood)
    if reason is None or checkin.id is None:
        return False
    payload = {"checkin_id": checkin.id, "reason": reason, "previous": previous_mood}
    claimer = claimer_name()
    nudge_id = store.take_owner_alert(
        team_id=customer.team_id,
        checkin=checkin,
        owner_id=customer.owner_id,
        payload=payload,
        now=now,
        claimer=claimer,
        lease_until=now + SenderOptions().lease,
    )
    if nudge_id is None:
        return False  # the sender has it, or it was sent already
    ids, text = [nudge_id], owner_alert_text(customer, checkin, reason=reason, previous=previous_mood)
    if (fall := take_health_drop(store, customer, claimer=claimer, now=now)) is not None:
        ids.append(fall[0])
        text += f"\n{fall[1]}"
    try:
        posted = client.chat_postMessage(
            channel=customer.owner_id,
            text=text,
            unfurl_links=False,  # the note's links and images stay links, as the outbox's own post of it leaves them
            unfurl_media=False,
            metadata=nudge_metadata(ids),  # how a sender finds it, should this process stop mid-post
        )
    except (SlackApiError, OSError) as e:
        error = str(e.response.get("error") or "") if isinstance(e, SlackApiError) else type(e).__name__
        logger.warning("could not alert the owner of customer %s now (%s)", customer.id, error)
        if isinstance(e, OSError) and answer_lost(e):  # it may be there: looked for before it is sent again
            store.answer_lost(ids=ids, claimer=claimer, now=now, error=f"no answer: {error}")
            return False
        status = "failed" if error in OWNER_GONE else "pending"  # pending: the next tick's sender tries again
        store.finish_nudges(ids=ids, claimer=claimer, status=status, error=error or "no answer")
        return False
    store.mark_sent(posts=[(ids, str(posted["channel"]), str(posted["ts"]))], claimer=claimer, now=now)
    return True


def take_health_drop(store: Store, customer: Customer, *, claimer: str, now: datetime) -> tuple[int, str] | None:
    """The customer's health-drop DM waiting in the outbox (the check-in being alerted just made the score fall, or
    a fall held for the owner's working hours), taken to be said in the alert going now — one event, one DM — as
    (its id, its text); None when there is none, or it would not go to the owner's DM as it stands (the score came
    back meanwhile, the owner is deactivated in Slack, the customer paused): then it is left to the sender as before."""
    assert customer.id is not None and customer.owner_id
    taken = store.add_to_pending_nudge(
        team_id=customer.team_id,
        kind=HEALTH_DROP,
        customer_id=customer.id,
        note={},
        claimer=claimer,
        lease_until=now + SenderOptions().lease,
        destination=customer.owner_id,
    )
    if taken is None:
        return None
    drop = store.nudge(team_id=customer.team_id, nudge_id=taken)
    told = render_health_drop(drop, store, now) if drop is not None else None
    if isinstance(told, Message) and told.channel is None and told.user == customer.owner_id:
        return taken, told.text
    store.finish_nudges(ids=[taken], claimer=claimer, status="pending")
    return None


def join_channel(client: WebClient, channel_id: str) -> str | None:
    """Joins a public channel so Partner can post there (after the ack: Slack may be slow to answer).

    None when joined; else why not: Slack's error, or "no_answer" when Slack did not answer in time.
    """
    return _join(client, channel_id)[0]


def _join(client: WebClient, channel_id: str) -> tuple[str | None, dict[str, Any] | None]:
    """(`join_channel`'s answer, the channel as Slack described it in its answer; None when it did not)."""
    try:
        return None, client.conversations_join(channel=channel_id).get("channel")
    except SlackApiError as e:
        error = str(e.response.get("error") or "unknown")
    except OSError:  # a timeout or a dropped connection
        error = "no_answer"
    if error == "method_not_supported_for_channel_type":
        channel = _channel_info(client, channel_id)
        if channel is not None and channel.get("is_member"):
            return None, channel  # a private channel is joined only by invitation, and Partner was invited
    logger.info("could not join %s: %s", channel_id, error)
    return error, None


def _channel_info(client: WebClient, channel_id: str) -> dict[str, Any] | None:
    try:
        return dict(client.conversations_info(channel=channel_id)["channel"])
    except (SlackApiError, OSError):
        return None


def guests_read(store: Store, customer: Customer) -> bool:
    """Whether the customer's channel is kept out of because guests read it (not Slack Connect): what to say."""
    return customer.channel_shared and store.read_by_guests(team_id=customer.team_id, channel_id=customer.channel_id)


def invite_hint(channel_id: str, purpose: str) -> str:
    return f"Invite me to <#{channel_id}> (`/invite @Partner`) so I can {purpose}."


def join_customer_channel(*, client: WebClient, store: Store, customer: Customer, now: datetime) -> str | None:
    """Joins the customer's channel; returns what the author should be told when the bot could not.

    An archived channel is recorded on the customer as a refused post would be (the card shows it; nudges go to
    the owner's DM meanwhile). The customer itself is kept either way. Whether the channel is shared with another
    organisation is recorded from Slack's answer (`Customer.channel_shared`).
    """
    channel_id = customer.channel_id
    if not channel_id or customer.id is None:
        return None
    error, channel = _join(client, channel_id)
    if channel is not None:  # Slack's answer says whether the channel is shared; its members, whether guests read it
        learn_readers(client, store, team_id=customer.team_id, channel_id=channel_id, now=now, channel=channel)
    if error is None:
        return None
    if error == "is_archived":
        store.record_channel_error(team_id=customer.team_id, customer_id=customer.id, error=error, now=now)
        return (
            f"<#{channel_id}> is archived, so I can't post there. "
            f"Pick a live channel: `/partner edit {command_name(customer.name)} #channel`."
        )
    return invite_hint(channel_id, "post there")


def join_digest_channel(*, client: WebClient, store: Store, team_id: str, channel_id: str, now: datetime) -> str | None:
    """Joins the weekly digest's channel; returns what the admin should be told when the bot could not.

    An archived channel turns the digest off again (unless someone picked another channel meanwhile).
    """
    error = join_channel(client, channel_id)
    if error is None:
        return _keep_the_digest_from_guests(client=client, store=store, team_id=team_id, channel_id=channel_id, now=now)
    if error == "is_archived":
        workspace = store.digest_workspace(team_id=team_id)
        if workspace is not None and workspace.digest_channel_id == channel_id:
            store.set_digest_channel(team_id=team_id, channel_id=None, now=now)
        return (
            f"<#{channel_id}> is archived, so the weekly team digest is off again. "
            "Pick a live channel: `/partner digest channel #channel`."
        )
    return invite_hint(channel_id, "post the digest there")


def _keep_the_digest_from_guests(
    *, client: WebClient, store: Store, team_id: str, channel_id: str, now: datetime
) -> str | None:
    """The digest's new channel's members looked up (the same look-up as a customer's channel's, GUEST_CALLS_NOW
    calls): guests among them turn the digest off again (unless another channel was picked meanwhile), the admin
    told as the command refuses such a channel. A look-up Slack cannot finish now is the digest's own, before each
    digest (schedules/digest.py)."""
    try:
        calls = Calls(GUEST_CALLS_NOW)
        if not look_up(client, store, team_id=team_id, channel_id=channel_id, now=now, calls=calls):
            return None
    except (SlackApiError, OSError, WhoUnknown, LookUpUnfinished) as e:
        logger.info("digest channel %s: who reads it is the digest's look-up's to learn (%r)", channel_id, e)
        return None
    workspace = store.digest_workspace(team_id=team_id)
    if workspace is None or workspace.digest_channel_id != channel_id:
        return None
    if not store.read_by_guests(team_id=team_id, channel_id=channel_id):  # shared since the answer: as its event does
        stop_digest_in_shared_channel(store=store, client=client, workspace=workspace, channel_id=channel_id)
        return None
    if not store.stop_digest_in(team_id=team_id, channel_id=channel_id):
        return None  # turned off meanwhile (a guest's event), and said so
    return (
        GUESTS_READ.format(channel_id=channel_id) + ", so people outside the team would read the digest (every "
        "customer's health and risks): the weekly team digest is off again. Pick an internal channel: "
        "`/partner digest channel #channel`."
    )


@dataclass(frozen=True)
class CommandFollowUp:
    """What a `/partner` command left for after its ack: a few ids and strings, never the request itself.

    Bolt's lazy listeners deep-copy the whole request and its context for each lazy function (a few hundred
    objects, the largest cost of a check-in's ack); this record is all the follow-up reads.
    """

    team_id: str
    user_id: str
    channel_id: str | None
    response_url: str | None
    checkin_id: int | None = None
    checkin_customer_id: int | None = None
    join_customer_id: int | None = None
    join_digest_channel: str | None = None
    snoozed_customer_id: int | None = None  # its posted nudge shows the snooze, as a click on Snooze would
    paused_customer_id: int | None = None  # paused or resumed: its posted nudges drop or regain their buttons
    rescore_customer_id: int | None = None  # its health score moved (a cadence, launch, pause) or was shown (status)
    rescore_at: datetime | None = None  # the command's time: the score is as of then, stored after the answer
    homes: tuple[str, ...] = ()

    @classmethod
    def of(cls, call: Any, *, response_url: str | None) -> CommandFollowUp | None:
        """The record of what the subcommand asked for in `call.followup` (a CommandCall); None when nothing."""
        asked: dict[str, Any] = call.followup
        if not asked:
            return None
        return cls(
            team_id=call.team_id,
            user_id=call.user_id,
            channel_id=call.channel_id or None,
            response_url=response_url,
            checkin_id=int(asked["checkin_id"]) if asked.get("checkin_id") is not None else None,
            checkin_customer_id=int(asked["customer_id"]) if asked.get("customer_id") is not None else None,
            join_customer_id=int(asked["join_customer_id"]) if asked.get("join_customer_id") is not None else None,
            join_digest_channel=str(asked["join_digest_channel"]) if asked.get("join_digest_channel") else None,
            snoozed_customer_id=int(asked["snoozed_customer_id"]) if asked.get("snoozed_customer_id") else None,
            paused_customer_id=int(asked["paused_customer_id"]) if asked.get("paused_customer_id") else None,
            rescore_customer_id=int(asked["rescore_customer_id"]) if asked.get("rescore_customer_id") else None,
            rescore_at=call.now if asked.get("rescore_customer_id") else None,
            homes=tuple(asked.get("homes") or ()),
        )


class AfterAck:
    """The app's follow-up pool (the one Bolt's lazy listeners run on), in every listener's context as `after_ack`.

    Work handed here runs after the answer, in a copy of the request's log context; `app.drain()`, the server's
    graceful stop and tests' `settle()` wait for it like for a lazy listener. Unlike a lazy listener, nothing of
    the request is copied: the caller passes only what the work needs.
    """

    def __init__(self, pool: Executor) -> None:
        self._pool = pool
        # A new check-in's channel summary, owner alert, boundary checks and health score, folded per customer.
        self.checkin_followups = PerCustomer("the follow-up of new check-ins", self)

    def __deepcopy__(self, memo: dict[int, Any]) -> AfterAck:
        return self  # Bolt copies the context for the remaining lazy listeners: they share the one pool

    def submit(self, work: Callable[[], None], what: str) -> bool:
        """Hands the work over; False when the process is stopping and it will not run."""

        def run() -> None:
            try:
                work()
            except Exception:
                logger.exception("%s failed", what)

        try:
            self._pool.submit(run)
        except RuntimeError:  # the pool was drained: the process is stopping
            logger.warning("stopping: %s not run", what)
            return False
        return True


def hand_over_command_followup(
    after_ack: AfterAck,
    followup: CommandFollowUp,
    *,
    what: str,
    client: WebClient,
    store: Store,
    settings: Settings,
    clock: Clock,
    publisher: HomePublisher | None,
) -> None:
    """What a `/partner` command set off, after its ack: a new check-in joins its customer's follow-up (see
    `AfterAck.checkin_followups`, with the Homes to refresh after it); the rest runs on its own."""
    homes = followup.homes
    if followup.checkin_id is not None and followup.checkin_customer_id is not None:
        new = NewCheckIn(
            checkin_id=followup.checkin_id,
            author_id=followup.user_id,
            origin_channel_id=followup.channel_id,
            homes=homes,
        )
        hand_over_checkin(
            after_ack,
            new,
            team_id=followup.team_id,
            customer_id=followup.checkin_customer_id,
            client=client,
            store=store,
            settings=settings,
            clock=clock,
            publisher=publisher,
        )
        homes = ()
    if (
        followup.join_customer_id is None
        and followup.join_digest_channel is None
        and followup.snoozed_customer_id is None
        and followup.paused_customer_id is None
        and followup.rescore_customer_id is None
        and not homes
    ):
        return
    rest = replace(followup, checkin_id=None, checkin_customer_id=None, homes=homes)
    after_ack.submit(
        partial(
            command_followup, rest, client=client, store=store, clock=clock, publisher=publisher, settings=settings
        ),
        what=what,
    )


def command_followup(
    followup: CommandFollowUp,
    *,
    client: WebClient,
    store: Store,
    clock: Clock,
    publisher: HomePublisher | None,
    settings: Settings | None = None,
) -> None:
    """A `/partner` command's channel joins, the nudge a snooze put off or a pause stopped, the health score it
    showed, and Home refreshes, after its ack."""
    team_id = followup.team_id
    if followup.rescore_customer_id is not None:
        now = followup.rescore_at or clock()
        refresh_health(store, team_id=team_id, customer_id=followup.rescore_customer_id, now=now, settings=settings)
    if followup.snoozed_customer_id is not None:
        mark_snoozed_call(
            store=store,
            client=client,
            team_id=team_id,
            customer_id=followup.snoozed_customer_id,
            by=followup.user_id,
            now=clock(),
            settings=settings,
        )
    if followup.paused_customer_id is not None:
        mark_paused_calls(
            store=store,
            client=client,
            team_id=team_id,
            customer_id=followup.paused_customer_id,
            by=followup.user_id,
            now=clock(),
            settings=settings,
        )
    join_for = followup.join_customer_id
    customer = store.customer(team_id=team_id, customer_id=join_for) if join_for is not None else None
    hint = join_customer_channel(client=client, store=store, customer=customer, now=clock()) if customer else None
    if followup.join_digest_channel:
        channel_id = followup.join_digest_channel
        hint = join_digest_channel(client=client, store=store, team_id=team_id, channel_id=channel_id, now=clock())
    if hint:
        respond = command_responder(client, followup.response_url)
        tell_author(respond, client, user_id=followup.user_id, channel_id=followup.channel_id, text=hint)
    # Last, so the Home shows everything above too (the channel problem).
    if followup.homes:
        request_home_refresh(publisher, team_id, followup.homes)


def tell_author(
    respond: Callable[..., WebhookResponse] | None,
    client: WebClient,
    *,
    user_id: str,
    channel_id: str | None,
    text: str,
) -> None:
    """A note only the user sees, through the response_url of their command or click (Bolt's `respond`, or a
    WebhookClient's `send`); else (none, or Slack refused it) wherever tell_user reaches them."""
    if not answer_command(respond, text):
        tell_user(client, user_id=user_id, channel_id=channel_id, text=text)


def answer_command(respond: Callable[..., WebhookResponse] | None, text: str) -> bool:
    """A further answer only the user sees, beside the command's (or click's) first one, through its response_url
    (which needs no token); False when there is none or it did not reach Slack."""
    if respond is None:
        return False
    try:
        answered = respond(text=text, response_type="ephemeral", replace_original=False)
    except OSError:
        logger.info("a response_url is unreachable")
        return False
    if response_url_took(answered):
        return True
    # Expired (404), or Slack's trouble: a webhook's refusal raises nothing, so the caller must look.
    logger.info("a response_url answered %s %s", answered.status_code, str(answered.body)[:80])
    return False


def response_url_took(answered: WebhookResponse) -> bool:
    """Slack took a response_url post: 200 and no `ok: false` in its body (which is "ok" or `{"ok": true}`)."""
    if answered.status_code != 200:
        return False
    try:
        parsed = json.loads(answered.body) if str(answered.body).lstrip().startswith("{") else None
    except ValueError:
        return True
    return not (isinstance(parsed, dict) and parsed.get("ok") is False)


def command_responder(client: WebClient, response_url: str | None) -> Respond | None:
    """Bolt's `respond` for a command's response_url, through the client's proxy and TLS settings."""
    return Respond(response_url=response_url, proxy=client.proxy, ssl=client.ssl) if response_url else None


def _update_summary(
    client: WebClient,
    store: Store,
    customer: Customer,
    message: SummaryMessage,
    more: list[CheckIn],
    pending: list[CheckIn],
    taken: dict[int, int],
    claimer: str,
    now: datetime,
) -> tuple[SummaryMessage, list[CheckIn]]:
    """Adds `more` (the first of `pending`) to the burst's message: (the message now, what is still to post)."""
    ids = _ids(more, taken)
    nudge_ids = (*message.nudge_ids, *ids)
    try:
        client.chat_update(
            channel=customer.channel_id or "",
            ts=message.ts,
            text=checkins_summary(customer, [*message.checkins, *more]),
            metadata=nudge_metadata(nudge_ids),  # how a sender finds them, should this process stop mid-update
        )
    except SlackApiError as e:  # e.g. the message was deleted: these check-ins get a message of their own
        logger.info("could not add to the summary %s of customer %s (%s); posting anew", message.ts, customer.id, e)
        return message, pending
    except OSError as e:  # no answer: the message may list them now; looked for there before they are posted again
        logger.warning("no answer adding to the summary %s of customer %s (%s)", message.ts, customer.id, e)
        store.answer_lost(ids=ids, claimer=claimer, now=now, error=f"no answer: {type(e).__name__}: {e}")
        return message, pending[len(more) :]
    store.mark_sent(posts=[(ids, customer.channel_id or "", message.ts)], claimer=claimer, now=now)
    store.set_summary_ts(team_id=customer.team_id, checkin_ids=[c.id for c in more if c.id], ts=message.ts)
    return SummaryMessage(message.ts, message.day, message.checkins + tuple(more), nudge_ids), pending[len(more) :]


@dataclass(frozen=True)
class _Posted:
    ts: str
    nudge_ids: tuple[int, ...]


def _post_summary(
    client: WebClient,
    store: Store,
    customer: Customer,
    checkins: list[CheckIn],
    taken: dict[int, int],
    day: tuple[datetime, datetime],
    now: datetime,
    origin_channel_id: str | None,
    claimer: str,
) -> _Posted:
    """Posts one summary message of taken check-ins; raises ChannelRefused or SummaryNotPosted."""
    assert customer.id is not None and customer.channel_id
    start, end = day
    ids = _ids(checkins, taken)
    parent = store.first_summary_between(
        team_id=customer.team_id, customer_id=customer.id, start=start, end=end, channel_id=customer.channel_id
    )
    thread_ts = parent.summary_ts if parent is not None and parent.id not in {c.id for c in checkins} else None
    try:
        posted = client.chat_postMessage(
            channel=customer.channel_id,
            text=checkins_summary(customer, checkins),
            thread_ts=thread_ts,
            unfurl_links=False,
            unfurl_media=False,
            metadata=nudge_metadata(ids),  # how a sender finds it, should this process stop mid-post
        )
    except SlackApiError as e:
        error = str(e.response.get("error") or "")
        if error in CHANNEL_ERRORS:
            store.finish_nudges(ids=ids, claimer=claimer, status="failed", error=error)
            newly = store.record_channel_error(team_id=customer.team_id, customer_id=customer.id, error=error, now=now)
            if newly:
                tell_user(
                    client,
                    user_id=checkins[0].author_id,
                    channel_id=origin_channel_id if origin_channel_id != customer.channel_id else None,
                    text=channel_problem_text(customer, error),
                )
            raise ChannelRefused(error) from e
        logger.warning("could not post the check-in summary for customer %s: %s", customer.id, error)
        raise SummaryNotPosted(error or f"http {e.response.status_code}") from e
    except OSError as e:  # Slack timed out or dropped the connection, even after the client's retries
        reason = f"{type(e).__name__}: {e}"
        logger.warning("could not post the check-in summary for customer %s: %s", customer.id, reason)
        if answer_lost(e):
            store.answer_lost(ids=ids, claimer=claimer, now=now, error=f"no answer: {reason}")
        raise SummaryNotPosted(reason, answer_lost=answer_lost(e)) from e
    ts = str(posted["ts"])
    store.mark_sent(posts=[(ids, str(posted["channel"]), ts)], claimer=claimer, now=now)
    store.set_summary_ts(team_id=customer.team_id, checkin_ids=[c.id for c in checkins if c.id], ts=ts)
    if customer.channel_error:
        store.record_channel_error(team_id=customer.team_id, customer_id=customer.id, error=None, now=now)
    return _Posted(ts, tuple(ids))
