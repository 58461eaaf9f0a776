"""The generic nudge sender: claims due rows of the outbox, renders each by kind, posts it, records the outcome.

Adding a kind of nudge
----------------------
Plan rows with ``store.plan_nudge(...)`` / ``store.plan_nudges(...)`` (insert-if-absent on the unique key
(team, kind, subject, due_key)) and register how to render the kind, once, at import time::

    register("boundary_reminder", render_reminder)            # grace=True: too late after downtime → missed

A renderer is ``render(nudge, store, now) -> Message | Skip``. It decides the words and the destination:
``Message(channel=…)`` posts in a channel (``user=`` is the fallback DM when the channel refuses),
``Message(user=…)`` DMs that user (``chat.postMessage(channel=<user id>)`` posts in the app's DM with them).
``digest=`` (one line) lets DMs to the same person due at once be combined into one message. Return
``Skip(reason)`` when the nudge no longer applies (already satisfied, customer archived…). A renderer is also
called to redraw a message that was already sent (``nudge.status == "sent"``; e.g. after a button click), and
must then return a Message. Renderers put a ``block_id`` naming the nudge id on their blocks so one message
can show several nudges (an owner digest).

Delivery
--------
* Claimed nudges are rendered a batch at a time (``render_batch``) and each batch goes to the workers at once.
  Messages are posted concurrently across destinations (a pool of worker threads) and in order within each
  destination, at most one per ``interval`` per channel (Slack allows about 1 message/s per channel); a
  429 that outlasts slack-sdk's own ``RateLimitErrorRetryHandler`` becomes ``next_attempt_at = now +
  Retry-After``. 5xx, timeouts and connection errors retry with exponential backoff through
  ``next_attempt_at``; after ``max_attempts`` the row is ``failed`` and the owner is told once. Each worker
  takes up to ``in_flight`` messages whose destinations may all go now, marks them "sending" in one write and
  posts them together, each on an HTTP connection it keeps open for the run, then reads their answers: a plain
  success itself (:mod:`schedules.slack_http`), every other answer through slack-sdk's retry handlers unchanged.
* ``channel_not_found`` / ``not_in_channel`` / ``is_archived`` / ``restricted_action``: recorded on
  ``Customer.channel_error``, the owner is told once per channel and error until it takes posts again (a
  ``channel_problem`` nudge; storage.customers frees its key then), and the
  message goes to the fallback DM straight away. Renderers send to the DM while the error stands, trying the channel
  again after a week (or once it is changed).
* A refused token (``invalid_auth``, ``account_inactive``, ``token_revoked``…) that ``auth.test`` refuses too: the
  workspace uninstalled Partner without the event reaching us, and is marked so as the event would (:func:`_gone`);
  so is ``team_access_not_granted``: an org-wide install's organisation removed Partner from that workspace.
* Grace period: rows of a kind registered with ``grace=True`` that are still unsent longer than the grace
  period after they were due are recorded ``missed`` (not sent); rows sent more than ``LATE_AFTER`` late
  carry a note saying so.

Exactly once
------------
Claim (lease, default 2 min; every row change is a conditional UPDATE so two senders never own one row; on
PostgreSQL ``FOR UPDATE SKIP LOCKED`` so replicas take disjoint rows) → ``mark_sending`` (only if still claimed by
me with a live lease; records the destination) → ``chat.postMessage`` → ``mark_sent`` with the ``ts``. Workers
share those two writes (:class:`GroupCommit`: one transaction for every worker waiting; each also marks the next
``MARK_AHEAD`` messages the workers will take; ``mark_sent`` is written a hundred posts at a time), so the
database is not the bottleneck, yet each message is marked before it is posted and recorded after. Replicas each
run their own tick; the outbox is the only thing they share.
A sender killed after claiming but before ``sending`` leaves a ``claimed`` row whose lease runs out:
nothing was posted, so the next tick claims and sends it. A sender killed after ``sending`` (up to
``MARK_AHEAD`` rows more than it was posting) may or may not have posted, and Slack offers no idempotency key
for ``chat.postMessage``. Each message carries Slack message ``metadata`` (``event_type`` ``partner_nudge``, the
nudge ids), so once such a row's lease has been over for
another lease period (the old sender is surely gone), one sender takes it over and reads the destination's
recent history (``conversations.history``, ``include_all_metadata``): the post is there → recorded sent with its
``ts``; the history shows no such post → pending again and sent; Slack busy (429, 5xx, no answer) → looked for
again a lease later, within the grace period; Slack cannot tell (no history access, more history than we page
through, still busy past the grace period) → recorded ``sent`` with an ``unconfirmed`` error and never posted again: a
lost reminder in a window of a few milliseconds is better than a duplicate in a customer's channel. (Rows marked
ahead are among those: with the history readable — the manifest asks for it everywhere we post — they are found
unposted and sent; without it, a crash can lose up to ``MARK_AHEAD`` more of them.)
A definite error answer from Slack means nothing was posted: that row is retried. A post that got no answer (a
timeout, a connection cut while waiting for it: Slack may have made it) is left "sending" with its lease over, and
resolved that same way a lease later (by then a post Slack was slow to make is there), never re-posted blindly.
Posts that may be thread replies (a kind's ``threads``: a late check-in summary) are also looked for in those
threads (``conversations.replies``): a channel's history lists only its top-level messages.
"""

from __future__ import annotations

import contextvars
import functools
import heapq
import itertools
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Generic, Protocol, TypeVar, cast
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.memory import fewer_full_collections
from bot.oauth import NotInstalled, SlackClients, client_for
from domain.checkins import CHANNEL_RETRY_AFTER as CHANNEL_RETRY_AFTER  # the planners read it from here
from domain.checkins import GONE_CHANNEL, summary_day
from handlers.blocks import (
    MAX_BLOCKS_TEXT,
    MAX_TEXT,
    blocks_text_length,
    command_name,
    context,
    mrkdwn_name,
    section,
    truncate,
)
from handlers.blocks.checkin import checkins_summary, owner_alert_text
from schedules.slack_http import (
    TEAM_ACCESS_REVOKED,
    TOKEN_REFUSED,
    KeepAliveWebClient,
    answer_lost,
    retry_after,
    same_client_as,
)
from storage.checkins import CHECKIN_SUMMARY, OWNER_ALERT  # what a check-in's follow-up could not send
from storage.customers import CHANNEL_PROBLEM
from storage.models import CheckIn, Nudge
from storage.nudges import DIGEST_PART
from storage.store import Store
from storage.workspaces import UNINSTALLED

logger = logging.getLogger("partner.sender")

T = TypeVar("T")
In = TypeVar("In")
Out = TypeVar("Out")

# restricted_action (the workspace lets only some people post there) refuses every post as lastingly as the others:
# retried daily in the channel, each nudge was lost and its owner told of each failure.
CHANNEL_ERRORS = frozenset(
    {"channel_not_found", "not_in_channel", "is_archived", "restricted_action", "restricted_action_read_only_channel"}
)
# Slack's own "try again later" answers; a 5xx status is always retried too.
RETRYABLE_ERRORS = frozenset(
    {"ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
# Slack takes no DM for this person (their account is gone or disabled, or they are a bot): retrying would not help,
# and what was for them goes where an owner Slack said is deactivated gets theirs (_instead_of_refused_dm). Not
# account_inactive: Slack says that of the bot's own token (TOKEN_REFUSED), never of the person written to.
DM_REFUSED = frozenset({"user_not_found", "user_disabled", "cannot_dm_bot"})
# A nudge's payload: its owner was deactivated in Slack, or refused its DM (the user id); its renderer posts it for
# the team instead (schedules.cadence).
OWNER_GONE = "owner_deactivated"
# A refused token that may mean the workspace uninstalled Partner (_gone); an expired rotating token is refreshed.
UNINSTALLED_TOKEN = (TOKEN_REFUSED - {"token_expired"}) | {TEAM_ACCESS_REVOKED}
LATE_AFTER = timedelta(minutes=10)
DEFAULT_GRACE = timedelta(hours=6)
METADATA_EVENT = "partner_nudge"
MAX_BLOCKS = 50  # Slack's limit per message
DIGEST_HEADER_TEXT = 100  # room for an owner digest's header ("12 things need you now") in its text budget
# Messages marked "sending" ahead of their post, in the same write as the ones about to go (see _Run._mark_sending).
MARK_AHEAD = 64
# How much of a destination's history is read to find the posts of a sender that died while posting.
HISTORY_PAGES = 5
# conversations.replies' answer for a ts that is no message of this channel (Slack documents thread_not_found).
NO_THREAD = frozenset({"thread_not_found", "message_not_found"})
HISTORY_PAGE_SIZE = 200
# A run's posting threads: it starts with a few and adds more while posts wait on Slack's answers (see Lanes).
FIRST_WORKERS = 16
GROWTH_WINDOW = 0.05  # seconds of the process's CPU use looked at before adding workers
BUSY_CPU = 0.7  # the process used this much of a CPU or more: more threads would only queue for it
SPARE_CPU = 0.8  # the process got this much of a CPU while rendering: the machine is not short of it (_render_later)

# Kinds the sender plans itself to tell an owner about a delivery problem (never about one of these).
DELIVERY_FAILED = "delivery_failed"


@dataclass(frozen=True)
class Message:
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    channel: str | None = None  # post here; None: DM `user`
    user: str | None = None  # the DM destination when `channel` is None, else the fallback when the channel refuses
    customer_id: int | None = None  # whose channel_error to record when the channel refuses
    # The customer's channel refused posts before (tried again after a week): taken there now, it takes posts again.
    retries_refused: bool = False
    digest: str | None = None  # one line for an owner digest; None: never combined with others
    thread_ts: str | None = None  # post as a reply in this thread (a late check-in summary, under its day's first)
    # Messages of one claim with the same key, channel and thread go as one, their texts joined (a burst's check-in
    # summaries of one day, as the follow-up would have posted them: else each would start a thread of its own).
    together: str | None = None
    # How the fallback DM reads, when not as the channel's message does: a channel nudge mentions its owner, who would
    # otherwise be @-mentioned in their own DM. None: the same message. Rendered only when a channel refuses (a
    # fan-out renders thousands of channel nudges: not each twice).
    in_dm: Callable[[], Message] | None = field(default=None, compare=False)

    def for_dm(self) -> Message:
        return self.in_dm() if self.in_dm is not None else self


@dataclass(frozen=True)
class Skip:
    reason: str
    status: str = "skipped"  # or "cancelled"


class Renderer(Protocol):
    def __call__(self, nudge: Nudge, store: Store, now: datetime) -> Message | Skip: ...


class Threads(Protocol):
    """The threads a post of these nudges may be a reply in: where to look for it besides the destination's history
    (conversations.history lists a channel's top-level messages only)."""

    def __call__(self, nudges: Sequence[Nudge], store: Store) -> set[str]: ...


class ChannelGone(Protocol):
    """Stops what keeps going to a channel that refuses it for good (the team digest's, archived or deleted)."""

    def __call__(self, team_id: str, channel_id: str, store: Store) -> None: ...


class AfterSent(Protocol):
    """Records a kind's post where more than the outbox needs it (a check-in summary's ts on its check-ins)."""

    def __call__(self, nudges: Sequence[Nudge], message: Message, ts: str, store: Store, now: datetime) -> None: ...


@dataclass(frozen=True)
class NudgeKind:
    render: Renderer
    grace: bool = True  # too late after downtime → recorded missed instead of sent
    after_sent: AfterSent | None = None
    label: str = "a message"  # what it is, in the words of a notice that it could not be delivered
    threads: Threads | None = None  # posted as thread replies: where a sender that died while posting may have posted
    # A post meant for a channel alone (the team digest) refused by it for good (archived, deleted): what to stop.
    channel_gone: ChannelGone | None = None


RENDERERS: dict[str, NudgeKind] = {}
# Called as hook(kind, outcome) with outcome "sent", "retried", "missed" or "failed", in the tick's thread.
OUTCOME_HOOKS: list[Callable[[str, str], None]] = []


def register(
    kind: str,
    render: Renderer,
    *,
    grace: bool = True,
    after_sent: AfterSent | None = None,
    label: str = "a message",
    threads: Threads | None = None,
    channel_gone: ChannelGone | None = None,
) -> None:
    RENDERERS[kind] = NudgeKind(
        render=render, grace=grace, after_sent=after_sent, label=label, threads=threads, channel_gone=channel_gone
    )


@dataclass(frozen=True)
class SenderOptions:
    lease: timedelta = timedelta(minutes=2)
    grace: timedelta = DEFAULT_GRACE
    # Most posting threads, each with up to `in_flight` posts waiting out a round trip to Slack (≈ 0.1–0.3 s over
    # the internet): 2,000 channels at one post a second need hundreds in flight (8 × 64 = 512 at most). Few threads
    # with many posts each: every thread more takes the interpreter from the others at each socket call, and 32
    # threads of 16 posts cost ≈ 1 s more CPU a 10,000-post fan-out than 8 of 64, for no faster delivery, local or
    # 0.1 s away (bench/RESULTS.md, session 9). A run given more than FIRST_WORKERS adds the rest only while the
    # process's CPU is idle and messages wait.
    workers: int = 8
    interval: float = 1.0  # seconds between two posts to the same channel
    # With the backoff (1, 2, 4… minutes, at most an hour) the 8th attempt comes about two hours after the first:
    # Slack's incidents (5xx, timeouts, 429s) often last an hour, and a nudge given up sooner was lost for nothing.
    max_attempts: int = 8
    backoff: timedelta = timedelta(minutes=1)  # first retry delay; doubles per attempt, at most an hour
    # Nudges claimed at once (one lease). Large: the per-channel pacing and the DM digests work within one claim,
    # so a fan-out to thousands of channels goes out in parallel (bench/fanout.py). Replicas still never share a row.
    batch: int = 20_000
    render_batch: int = 500  # nudges rendered before the workers get them (they start on the first batch)
    # A render batch whose messages all go to destinations that already have one is followed by a pause until some
    # destination's next message is due within this many seconds (at most `interval`): with 10,000 due at once the
    # renderer rendered every wave in the first second, beside the posting of the first two, and took the
    # interpreter from it (bench/RESULTS.md, session 12). 0: render everything at once.
    render_ahead: float = 0.5
    # Messages a posting thread has on their way at once, each to another destination and on its own connection:
    # a thread per post in flight cost ≈ 0.3 ms of CPU a post in a fan-out (bench/RESULTS.md, sessions 7 and 9).
    in_flight: int = 64
    monotonic: Callable[[], float] = time.monotonic


# --------------------------------------------------------------------------- composing


def late_note_text(due_at: datetime) -> str:
    epoch = int(due_at.timestamp())
    fallback = due_at.strftime("%Y-%m-%d %H:%M UTC")
    return (
        f":hourglass: Sent late — this was due <!date^{epoch}^{{date_short_pretty}} at {{time}}|{fallback}>; "
        "Partner was offline."
    )


def late_note(due_at: datetime) -> dict[str, Any]:
    return context(late_note_text(due_at))


def decorate(message: Message, nudge: Nudge, sent_at: datetime) -> Message:
    """The message as sent: with a late note when it went out well after it was due."""
    if sent_at - nudge.due_at <= LATE_AFTER:
        return message
    if not message.blocks:
        # A text-only message (a check-in summary, an owner alert): Slack shows a message's blocks instead of its
        # text, so a note as the only block would be all anyone sees. The note goes under the text instead.
        message = replace(message, text=f"{message.text}\n{late_note_text(nudge.due_at)}")
    else:
        message = replace(message, blocks=[*message.blocks, late_note(nudge.due_at)])
    if (in_dm := message.in_dm) is None:
        return message
    return replace(message, in_dm=lambda: decorate(in_dm(), nudge, sent_at))


def compose(messages: Sequence[Message], part: Sequence[int] | None = None) -> Message:
    """One message, or an owner digest of several DMs to the same person. `part`: [part, parts, things] when the
    digest is one of several messages (Slack's limits): each says so, else a busy morning reads "16 things need
    you now" four times, and the notification, which shows the text alone, never says there is more."""
    if len(messages) == 1 and not part:
        return messages[0]
    lines = [m.digest or m.text for m in messages]
    things = f"{len(messages)} things need you now"
    if part:
        number, parts, total = part
        things = f"{total} things need you now (part {number} of {parts})"
    header = f":bell: *{things}:*"
    blocks: list[dict[str, Any]] = [section(header)]
    for message in messages:
        blocks.extend([*message.blocks, {"type": "divider"}])
    text = f"{things}: " + "; ".join(lines)
    # Cut as every text is (handlers.blocks.truncate): never inside an `&amp;` or a mention, which would read "&am".
    return Message(text=truncate(text, MAX_TEXT), blocks=blocks[:-1], user=messages[0].user)


# Slack shows a message's text best under 4,000 characters: messages joined `together` stay within it.
TOGETHER_TEXT_LIMIT = 4000


def _together(items: list[tuple[Nudge, Message]]) -> list[tuple[list[Nudge], Message]]:
    """Messages rendered `together` (same key, channel and thread), joined into as few as fit the text limit."""
    joined: list[tuple[list[Nudge], Message]] = []
    nudges: list[Nudge] = []
    texts: list[str] = []
    for nudge, message in items:
        if texts and len("\n\n".join([*texts, message.text])) > TOGETHER_TEXT_LIMIT:
            joined.append((nudges, replace(items[0][1], text="\n\n".join(texts))))
            nudges, texts = [], []
        nudges.append(nudge)
        texts.append(message.text)
    joined.append((nudges, replace(items[0][1], text="\n\n".join(texts))))
    return joined


def _digest_groups(items: list[tuple[Nudge, Message]]) -> list[list[tuple[Nudge, Message]]]:
    """Split DMs to one person into digests that fit Slack's limits: 50 blocks, and the text of the blocks together
    (msg_blocks_too_long: 16 health-drop alerts of long-named customers in one digest were refused, all 16 failed)."""
    groups: list[list[tuple[Nudge, Message]]] = []
    current: list[tuple[Nudge, Message]] = []
    size, text = 1, DIGEST_HEADER_TEXT
    for nudge, message in items:
        needed, more_text = len(message.blocks) + 1, blocks_text_length(message.blocks)
        if current and (size + needed > MAX_BLOCKS or text + more_text > MAX_BLOCKS_TEXT):
            groups.append(current)
            current, size, text = [], 1, DIGEST_HEADER_TEXT
        current.append((nudge, message))
        size, text = size + needed, text + more_text
    if current:
        groups.append(current)
    return groups


# --------------------------------------------------------------------------- pacing


class Lanes(Generic[T]):
    """Work per destination: FIFO within a lane, lanes in parallel, a lane's items at least `interval` apart.

    Items may keep arriving while the workers run (`run(feed=…)`): a fan-out starts posting its first rendered
    messages while the rest are still being rendered.

    `run` starts a few workers and adds more while items are ready but every worker is busy and the process's CPU
    (`cpu`) sits mostly idle: the workers are waiting on the network, and more of them post more at once. A
    process already busy gets none (threads would only queue for the interpreter)."""

    def __init__(
        self,
        lanes: dict[str, list[T]],
        *,
        interval: float,
        monotonic: Callable[[], float],
        ready: dict[str, float] | None = None,
        cpu: Callable[[], float] = time.process_time,
    ) -> None:
        self._items: dict[str, deque[T]] = {}
        self._order = itertools.count()
        # When each destination may next be posted to; shared across a run's batches so the pace holds between them.
        self._ready = ready if ready is not None else {}
        self._heap: list[tuple[float, int, str]] = []
        self._queued: set[str] = set()  # lanes in the heap or being worked on
        self._taken: dict[str, float] = {}  # when each lane's item being worked on was taken
        self._busy = 0  # items taken and not done
        self._posting = 0  # workers holding taken items
        self._open = False  # more items may still come (a feed is running)
        self._watching: float | None = None  # the lane time one worker is waiting for, if any
        self.wakeups = 0  # how often a waiting worker woke up (each post should wake at most one)
        self.threads = 0  # workers started by `run` so far
        self._most_threads = 0
        self._spawn: Callable[[int], None] | None = None
        self._cpu = cpu
        self._sampled: tuple[float, float] | None = None  # (monotonic, cpu) when growth was last considered
        self._cond = threading.Condition()
        self._interval = interval
        self._monotonic = monotonic
        self.add(lanes)

    def add(self, lanes: dict[str, list[T]]) -> int:
        """Appends items to their lanes (after the ones already there); returns how many lanes are new."""
        new = 0
        with self._cond:
            for key, items in lanes.items():
                if not items:
                    continue
                if key not in self._items:
                    new += 1
                self._items.setdefault(key, deque()).extend(items)
                if key not in self._queued:
                    self._queued.add(key)
                    heapq.heappush(self._heap, (self._ready.get(key, 0.0), next(self._order), key))
            self._cond.notify_all()
        return new

    def needed_in(self) -> float:
        """Seconds until the first lane runs out of items: the earliest time a lane could post an item not added
        yet (when it may next post, plus an interval for each item waiting in it or being posted), from now. A
        lane with nothing left counts from when it may post again, so one whose items are all sent keeps this at
        zero once that time has passed (the feed then never waits: it cannot know that lane is done)."""
        with self._cond:
            now = self._monotonic()
            waiting = {key: ready for ready, _, key in self._heap}
            earliest = float("inf")
            for key, items in self._items.items():
                if key in waiting:  # its first item goes when the lane is ready
                    lead = max(waiting[key], now) + len(items) * self._interval
                elif key in self._queued:  # an item being posted: the lane may go again an interval after its answer
                    lead = self._taken.get(key, now) + (len(items) + 1) * self._interval
                else:  # nothing left in it
                    lead = self._ready.get(key, 0.0)
                if lead < earliest:
                    earliest = lead
            return earliest - now

    def take(self) -> tuple[str, T] | None:
        # One worker at a time waits for the earliest lane's time (the watcher); the others sleep until woken, and a
        # finished post wakes at most one of them: waking every idle worker at every post (and all at each lane's
        # time) cost the fan-out CPU in proportion to posts × idle workers.
        with self._cond:
            while True:
                if not self._heap:
                    if self._busy == 0 and not self._open:
                        return None
                    self._cond.wait()
                    self.wakeups += 1
                    continue
                ready, _, key = self._heap[0]
                now = self._monotonic()
                wait = ready - now
                if wait > 0:
                    if self._watching is not None and self._watching <= ready:
                        self._cond.wait()  # someone already waits for this time, or an earlier one
                        self.wakeups += 1
                        continue
                    self._watching = ready
                    self._cond.wait(wait)
                    self.wakeups += 1
                    if self._watching == ready:
                        self._watching = None
                    continue
                heapq.heappop(self._heap)
                self._busy += 1
                self._posting += 1
                self._taken[key] = now
                if self._heap:
                    self._cond.notify()  # the next lane needs a taker or a watcher
                return key, self._items[key].popleft()

    def take_ready(self, limit: int) -> list[tuple[str, T]]:
        """Up to `limit` more items whose lanes may go now, without waiting (for a worker that posts several)."""
        taken: list[tuple[str, T]] = []
        with self._cond:
            now = self._monotonic()
            while self._heap and len(taken) < limit and self._heap[0][0] <= now:
                _, _, key = heapq.heappop(self._heap)
                self._busy += 1
                self._taken[key] = now
                taken.append((key, self._items[key].popleft()))
        return taken

    def done(self, key: str, started: float) -> None:
        """The lane's next item may start `interval` after `started` (what `work` returned: when Slack answered)."""
        self.done_all([(key, started)])

    def done_all(self, finished: Sequence[tuple[str, float]]) -> None:
        """`done` for everything one worker took (with `take`, then `take_ready`): that worker is idle again."""
        with self._cond:
            self._posting -= 1
            for key, started in finished:
                self._busy -= 1
                ready = self._ready[key] = started + self._interval
                if self._items[key]:
                    heapq.heappush(self._heap, (ready, next(self._order), key))
                    if self._watching is None or ready < self._watching:
                        self._cond.notify()
                else:
                    self._queued.discard(key)
                    if not self._heap and self._busy == 0:
                        self._cond.notify_all()  # maybe all done: the sleeping workers look
            more = self._more_workers()
        if more and self._spawn is not None:
            self._spawn(more)

    def _more_workers(self) -> int:
        """How many workers to add now (under the lock): as many as there are, up to the most allowed, when more
        items are ready than idle workers can take and the process's CPU was mostly idle for a while."""
        if self.threads >= self._most_threads or not self._heap:
            return 0
        now = self._monotonic()
        if self._sampled is None:
            self._sampled = (now, self._cpu())
            return 0
        since, cpu_then = self._sampled
        if now - since < GROWTH_WINDOW:
            return 0
        cpu = self._cpu()
        self._sampled = (now, cpu)
        idle = self.threads - self._posting
        waiting = heapq.nsmallest(idle + 1, self._heap)
        if len(waiting) <= idle or waiting[-1][0] > now:
            return 0  # the idle workers can take every ready item
        if (cpu - cpu_then) / (now - since) >= BUSY_CPU:
            return 0
        return min(self.threads, self._most_threads - self.threads)

    def upcoming(self, count: int) -> list[T]:
        """The next item of each of the `count` lanes due soonest (the items workers will take next)."""
        with self._cond:
            return [self._items[key][0] for _, _, key in heapq.nsmallest(count, self._heap)]

    def run(
        self,
        work: Callable[[str, T], float | None],
        *,
        workers: int,
        feed: Callable[[Lanes[T]], None] | None = None,
    ) -> None:
        """`work` returns the time the pacing counts from (None: when the work started). `feed`, if given, runs in
        the calling thread while the workers start on what is already there, `add`ing the rest."""
        self.run_batches(lambda taken: [work(*taken[0])], workers=workers, each=1, feed=feed)

    def run_batches(
        self,
        work: Callable[[list[tuple[str, T]]], list[float | None]],
        *,
        workers: int,
        each: int,
        feed: Callable[[Lanes[T]], None] | None = None,
    ) -> None:
        """As `run`, but each worker takes up to `each` items of different lanes that may all go now, and `work`
        gets them together: (lane, item) pairs → for each, the time its lane's pacing counts from."""

        def worker() -> None:
            while (taken := self.take()) is not None:
                batch = [taken, *self.take_ready(each - 1)] if each > 1 else [taken]
                started = self._monotonic()
                paced: list[float | None] = []
                try:
                    paced = work(batch)
                except Exception:  # one bad message must not stop the others
                    logger.exception("sending to %s failed", ", ".join(key for key, _ in batch))
                finally:
                    self.done_all(
                        [(key, (paced[i] if i < len(paced) else None) or started) for i, (key, _) in enumerate(batch)]
                    )

        count = workers if feed is not None else min(workers, len(self._items))
        if count <= 1:
            if feed is not None:
                feed(self)
            worker()
            return
        threads: list[threading.Thread] = []
        # Each thread runs in its own copy of the caller's context (request logging and metrics use contextvars).
        context = contextvars.copy_context()

        def spawn(more: int) -> None:
            with self._cond:
                more = min(more, self._most_threads - self.threads)
                first = self.threads
                self.threads += more
            for i in range(first, first + more):
                thread = threading.Thread(target=context.copy().run, args=(worker,), name=f"nudge-sender-{i}")
                try:
                    thread.start()  # then listed: only started threads are joined (a worker lists its own first)
                except RuntimeError:  # the host's thread limit: post with the threads there are
                    with self._cond:
                        self.threads -= first + more - i  # this call's threads not started
                        self._most_threads = self.threads
                        started = self.threads
                    if started == 0:
                        raise
                    logger.warning("could not start posting thread %d; going on with %d", i + 1, started)
                    return
                with self._cond:
                    threads.append(thread)

        self._most_threads = count
        self._spawn = spawn
        self._open = feed is not None
        spawn(min(count, FIRST_WORKERS))
        try:
            if feed is not None:
                feed(self)
        finally:
            with self._cond:
                self._open = False
                self._cond.notify_all()
            joined = 0
            while True:  # workers may still be adding workers while the first ones are joined
                with self._cond:
                    pending = threads[joined:]
                if not pending:
                    break
                for thread in pending:
                    thread.join()
                joined += len(pending)
            self._spawn = None


class GroupCommit(Generic[In, Out]):
    """Concurrent callers' writes go to the database together: one transaction serves every waiting worker.

    Whoever arrives while no write is under way writes everything queued (its own request included); the
    others wait for their answer. Each request is still written before its caller goes on, so the order
    "marked sending, then posted, then recorded" holds for every message.
    """

    def __init__(self, write: Callable[[list[In]], list[Out]]) -> None:
        self._write = write
        self._cond = threading.Condition()
        self._queue: list[tuple[In, list[Any]]] = []
        self._writing = False

    def __call__(self, request: In) -> Out:
        return self.many([request])[0]

    def many(self, requests: Sequence[In]) -> list[Out]:
        """Several requests of one caller, written in the same transaction (answers in order)."""
        if not requests:
            return []
        slots: list[list[Any]] = [[] for _ in requests]  # each filled with (answer, error) once written
        with self._cond:
            self._queue.extend(zip(requests, slots, strict=True))
            while not slots[-1]:  # a caller's requests are written together: the last one answered means all
                if self._writing:
                    self._cond.wait()
                    continue
                batch, self._queue, self._writing = self._queue, [], True
                self._cond.release()
                answers: list[Any] = [None] * len(batch)
                error: BaseException | None = None
                try:
                    answers = list(self._write([r for r, _ in batch]))
                except BaseException as e:  # handed to every waiter, then re-raised in each caller
                    error = e
                finally:
                    self._cond.acquire()
                    for (_, waiting), answer in zip(batch, answers, strict=True):
                        waiting.extend([answer, error])
                    self._writing = False
                    self._cond.notify_all()
        for _, error in slots:
            if error is not None:
                raise error
        return [answer for answer, _ in slots]


# --------------------------------------------------------------------------- sending


@dataclass
class _Outgoing:
    nudges: list[Nudge]
    message: Message


@dataclass
class _Run:
    store: Store
    client: WebClient | SlackClients  # each team's messages go out with that team's client (bot/oauth.py)
    now: datetime
    options: SenderOptions
    claimer: str
    started: float
    outcomes: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    ready: dict[str, float] = field(default_factory=dict)  # destination → when it may next be posted to (Lanes)
    gone: dict[str, bool] = field(default_factory=dict)  # team → its refused token confirmed by auth.test (_gone)
    gone_lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._group_mark: GroupCommit[tuple[list[int], str], bool] = GroupCommit(self._mark_sending)
        self.upcoming: Callable[[int], list[_Outgoing]] = lambda count: []  # the delivery's Lanes.upcoming
        self._marked: dict[tuple[int, ...], bool] = {}  # marked ahead of their post: ids → still mine
        self._marking: set[tuple[int, ...]] = set()  # in a write under way
        self._posted: list[tuple[list[int], str, str]] = []
        self._flushed_at = self.options.monotonic()
        self._keep_alive: dict[tuple[str | None, str, str], KeepAliveWebClient] = {}

    def slack(self, team_id: str) -> WebClient:
        """The team's client (bot/oauth.py), as a twin that keeps its connections open for the run: one connection
        per worker thread instead of one per post (see schedules/slack_http.py). Raises NotInstalled."""
        client = client_for(self.client, team_id)
        key = (client.token, client.base_url, repr(sorted(client.default_params.items())))
        with self.lock:
            twin = self._keep_alive.get(key)
            if twin is None:
                twin = self._keep_alive[key] = same_client_as(client, KeepAliveWebClient)
        return twin

    def close(self) -> None:
        with self.lock:
            twins, self._keep_alive = list(self._keep_alive.values()), {}
        for twin in twins:
            twin.close()

    def mark_sent(self, post: tuple[list[int], str, str]) -> None:
        """Queues the record of a post; written in batches (at most a second late, and at the end of the run).

        A crash before it is written leaves the rows "sending", later recorded as sent: never posted twice.
        """
        with self.lock:
            self._posted.append(post)
            due = len(self._posted) >= 100 or self.options.monotonic() - self._flushed_at >= 1.0
        if due:
            self.flush_sent()

    def flush_sent(self) -> None:
        with self.lock:
            posts, self._posted = self._posted, []
            self._flushed_at = self.options.monotonic()
        if posts:
            self.store.mark_sent(posts=posts, claimer=self.claimer, now=self.now)

    def mark_sending_many(self, requests: Sequence[tuple[list[int], str]]) -> list[bool]:
        """Marks these messages' nudges "sending" before their posts, in one write (False: they are no longer mine);
        answered from an earlier write when that one marked them ahead."""
        with self.lock:
            known = [self._marked.pop(tuple(ids), None) for ids, _ in requests]
        asked = [request for request, answer in zip(requests, known, strict=True) if answer is None]
        written = iter(self._group_mark.many(asked) if asked else [])
        return [next(written) if answer is None else answer for answer in known]

    def _mark_sending(self, requests: list[tuple[list[int], str]]) -> list[bool]:
        """One transaction for the waiting workers' messages and, marked ahead, the next ones the workers will take
        (up to MARK_AHEAD): a write per few posts cost ≈ 0.1–0.2 ms of CPU a post in a fan-out, a write per dozens
        ≈ 0.03 (bench/RESULTS.md section 2). A message is still marked before its post leaves; a sender that dies
        leaves at most MARK_AHEAD more rows "sending", each found (or not) in its destination's history later."""
        with self.lock:
            # Marked ahead by the write that ran while these waited (writes take turns): answered from it.
            known = {key: self._marked.pop(key) for ids, _ in requests if (key := tuple(ids)) in self._marked}
            groups = [(ids, destination) for ids, destination in requests if tuple(ids) not in known]
            asked = {tuple(ids) for ids, _ in groups}
            ahead: list[tuple[list[int], str]] = []
            for outgoing in self.upcoming(MARK_AHEAD):
                ids = [n.id for n in outgoing.nudges if n.id is not None]
                key = tuple(ids)
                if key in asked or key in self._marked or key in self._marking:
                    continue
                destination = outgoing.message.channel or outgoing.message.user
                if destination is not None:
                    ahead.append((ids, destination))
                    self._marking.add(key)
        if not groups and not ahead:
            return [known[tuple(ids)] for ids, _ in requests]
        current = self.current()
        try:
            answers = self.store.mark_sending(
                groups=[*groups, *ahead], claimer=self.claimer, now=current, lease_until=current + self.options.lease
            )
        finally:
            with self.lock:
                self._marking.difference_update(tuple(ids) for ids, _ in ahead)
        with self.lock:
            for (ids, _), answer in zip(ahead, answers[len(groups) :], strict=True):
                self._marked[tuple(ids)] = answer
        written = {tuple(ids): answer for (ids, _), answer in zip(groups, answers, strict=False)}
        return [known.get(key, written.get(key, False)) for key in (tuple(ids) for ids, _ in requests)]

    def current(self) -> datetime:
        """The tick's `now` plus the time this run has taken, for leases."""
        return self.now + timedelta(seconds=self.options.monotonic() - self.started)

    def outcome(self, nudges: Sequence[Nudge], outcome: str) -> None:
        with self.lock:
            self.outcomes.extend((n.kind, outcome) for n in nudges)


def claimer_name() -> str:
    """Unique per sender run, and names the replica (host, process) holding a lease, for operators and tests."""
    return f"{socket.gethostname()[:24]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def send_due_nudges(
    *,
    store: Store,
    client: WebClient | SlackClients,
    now: datetime,
    grace: timedelta | None = None,
    options: SenderOptions | None = None,
) -> int:
    """Sends every due nudge once; returns how many nudges were delivered (a digest counts each nudge)."""
    options = options or SenderOptions()
    if grace is not None:
        options = replace(options, grace=grace)
    run = _Run(store, client, now, options, claimer=claimer_name(), started=options.monotonic())
    missed = store.expire_nudges(
        kinds=[kind for kind, spec in RENDERERS.items() if spec.grace], due_before=now - options.grace, now=now
    )
    run.outcomes.extend(("*", "missed") for _ in range(missed))
    cancelled = store.cancel_inactive_nudges(now=now)
    if cancelled:
        logger.info("%d nudge(s) of uninstalled workspaces cancelled", cancelled)
    sent = 0
    # Claimed nudges, their customers and messages all stay alive until the run ends: full collections during it
    # would walk them again and again and free nothing (bot/memory.py).
    try:
        with fewer_full_collections():
            _resolve_unconfirmed(run)
            # Claimed a batch at a time (replicas ticking together take disjoint rows) until the due rows run out;
            # notices planned while sending (a channel problem, a failure) go out in the same tick: a few more rounds.
            rounds_left = 3
            while rounds_left:
                claimed = store.claim_nudge_ids(
                    now=now, lease_until=run.current() + options.lease, claimer=run.claimer, limit=options.batch
                )
                if not claimed:
                    break
                sent += _deliver(run, claimed)
                if len(claimed) < options.batch:
                    rounds_left -= 1
    finally:
        run.close()
    for kind, outcome in run.outcomes:
        for hook in OUTCOME_HOOKS:
            hook(kind, outcome)
    return sent


def _resolve_unconfirmed(run: _Run) -> None:
    """Rows a dead sender left "sending": found in the destination's history → sent; surely not posted → sent
    again by this tick; unknown → recorded sent, unconfirmed (see "Exactly once" above)."""
    taken = run.store.claim_unconfirmed(
        stale_before=run.now - run.options.lease, claimer=run.claimer, lease_until=run.current() + run.options.lease
    )
    if not taken:
        return
    by_destination: dict[tuple[str, str], list[Nudge]] = {}
    for nudge in taken:
        by_destination.setdefault((nudge.team_id, nudge.channel_id or ""), []).append(nudge)
    found: list[tuple[int, str, str]] = []
    not_posted: list[int] = []
    unknown: list[int] = []
    later = 0  # their history unreadable for now: looked for again a lease later (or cancelled: _history_later)
    replies: list[tuple[Nudge, Post]] = []  # found, of a kind that records more than the outbox (after_sent)
    for (team_id, destination), nudges in by_destination.items():
        wanted = {n.id for n in nudges if n.id is not None}
        try:
            client = run.slack(team_id)  # the history is read as that team's bot
            threads = _threads_of(nudges, run.store)
            posts, complete = _find_posts(client, destination, wanted, threads) if destination else ({}, False)
        except (SlackApiError, OSError, URLError, NotInstalled) as e:
            error = e.response.get("error") if isinstance(e, SlackApiError) else type(e).__name__
            logger.warning("cannot read the history of %s to find unconfirmed nudges (%s)", destination, error)
            if _history_later(run, team_id, e, nudges):
                later += len(nudges)
                continue
            posts, complete = {}, False
        found.extend((nudge_id, post.channel, post.ts) for nudge_id, post in posts.items())
        replies.extend((n, posts[n.id]) for n in nudges if n.id in posts)
        (not_posted if complete else unknown).extend(sorted(wanted - posts.keys()))
    run.store.resolve_unconfirmed(claimer=run.claimer, now=run.now, found=found, not_posted=not_posted, unknown=unknown)
    for nudge, post in replies:  # e.g. a check-in summary found: its check-ins name it, as when posted by a sender
        message = Message(text="", channel=post.channel, customer_id=nudge.customer_id, thread_ts=post.thread_ts)
        _after_sent(run, [nudge], message, post.ts)
    logger.warning(
        "a sender stopped while posting %d nudge(s): %d found in Slack (recorded sent), %d not posted (sent again), "
        "%d unknown (recorded sent, unconfirmed), %d left for later (Slack could not read the history now)",
        len(taken),
        len(found),
        len(not_posted),
        len(unknown),
        later,
    )


def _history_later(run: _Run, team_id: str, error: BaseException, nudges: list[Nudge]) -> bool:
    """Whether a history Slack could not read now leaves these rows for later, rather than recording them sent
    unconfirmed: Slack's own trouble (429, 5xx, no answer) says nothing about the post, so they are looked for again
    a lease later (while still within the grace period); a token refused because the workspace uninstalled Partner
    meanwhile (_gone) cancels them as its other queued nudges."""
    ids = [n.id for n in nudges if n.id is not None]
    code = str(error.response.get("error") or "") if isinstance(error, SlackApiError) else ""
    if code in UNINSTALLED_TOKEN and _gone(run, team_id, code):
        run.store.finish_nudges(ids=ids, claimer=run.claimer, status="cancelled", error=UNINSTALLED)
        return True
    if isinstance(error, SlackApiError):
        status = error.response.status_code
        if not (status == 429 or status >= 500 or code in RETRYABLE_ERRORS or code in TOKEN_REFUSED):
            return False  # Slack's lasting answer (no access to that history): it cannot tell
    elif isinstance(error, NotInstalled):
        return False
    if any(run.now - n.due_at > run.options.grace for n in nudges):
        return False  # looked for long enough: a late nudge past the grace period would not be sent anyway
    run.store.answer_lost(ids=ids, claimer=run.claimer, now=run.current(), error=f"history unreadable: {code or error}")
    return True


@dataclass(frozen=True)
class Post:
    """A message of ours found in Slack: where, its ts, and the thread it replies in (None: top-level)."""

    channel: str
    ts: str
    thread_ts: str | None = None


def _threads_of(nudges: Sequence[Nudge], store: Store) -> list[str]:
    """The threads the posts of these nudges may be replies in (see NudgeKind.threads)."""
    threads: set[str] = set()
    for kind, of_kind in itertools.groupby(sorted(nudges, key=lambda n: n.kind), key=lambda n: n.kind):
        spec = RENDERERS.get(kind)
        if spec is not None and spec.threads is not None:
            threads |= spec.threads(list(of_kind), store)
    return sorted(threads)


def _find_posts(
    client: WebClient, destination: str, wanted: set[int], threads: Sequence[str] = ()
) -> tuple[dict[int, Post], bool]:
    """Our posts of `wanted` nudges in the destination's recent history and in `threads` (their replies are not in
    the history), by the metadata they carry: nudge id → the post; and whether the search was complete (False:
    more history than we read)."""
    channel = destination
    if destination[:1] in ("U", "W"):  # a DM: its history is the IM channel's
        channel = str(client.conversations_open(users=destination)["channel"]["id"])
    found: dict[int, Post] = {}

    def read(messages: list[dict[str, Any]]) -> None:
        for message in messages:
            metadata = message.get("metadata") or {}
            if metadata.get("event_type") != METADATA_EVENT:
                continue
            thread_ts = message.get("thread_ts")
            post = Post(
                channel, str(message["ts"]), str(thread_ts) if thread_ts and thread_ts != message["ts"] else None
            )
            for part in str((metadata.get("event_payload") or {}).get("nudge_ids") or "").split(","):
                if part.strip().isdecimal() and int(part) in wanted:
                    found[int(part)] = post

    complete = True
    for thread in [None, *threads]:  # the history first: most posts are top-level
        cursor: str | None = None
        for _page in range(HISTORY_PAGES):
            if thread is None:
                page = client.conversations_history(
                    channel=channel, limit=HISTORY_PAGE_SIZE, include_all_metadata=True, cursor=cursor
                )
            else:
                try:
                    page = client.conversations_replies(
                        channel=channel, ts=thread, limit=HISTORY_PAGE_SIZE, include_all_metadata=True, cursor=cursor
                    )
                except SlackApiError as e:
                    # No such thread here (its first message deleted, or posted in the customer's previous
                    # channel): none of ours replies in it. The rest of the search still counts.
                    if e.response.get("error") not in NO_THREAD:
                        raise
                    break
            read(page.get("messages") or [])
            if wanted <= found.keys():
                return found, True
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not page.get("has_more") or not cursor:
                break
        else:
            complete = False
    return found, complete


class _BatchReads:
    """The store as renderers see it while rendering one batch of claimed nudges. Renderers read one customer and
    its last contact per nudge; here the first such read of a team loads those of every nudge of the batch of that
    team at once (one query each instead of one per nudge: 10,000 nudges due at once were 20,000 queries before the
    first post). Any other read, or one outside the batch's customers, goes straight to the store."""

    def __init__(self, store: Store, claimed: Sequence[Nudge]) -> None:
        self._store = store
        self._ids: dict[str, set[int]] = {}
        for nudge in claimed:
            if nudge.customer_id is not None:
                self._ids.setdefault(nudge.team_id, set()).add(nudge.customer_id)
        self._customers: dict[str, dict[int, Any]] = {}
        self._contacts: dict[tuple[str, tuple[str, ...] | None], dict[int, Any]] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def _batched(self, team_id: str, customer_ids: Sequence[int]) -> set[int] | None:
        ids = self._ids.get(team_id)
        if ids is None or len(ids) < 2:
            return None
        for cid in customer_ids:  # a plain loop: called twice per rendered nudge
            if cid not in ids:
                return None
        return ids

    def customer(self, *, team_id: str, customer_id: int) -> Any:
        ids = self._batched(team_id, [customer_id])
        if ids is None:
            return self._store.customer(team_id=team_id, customer_id=customer_id)
        if team_id not in self._customers:
            self._customers[team_id] = self._store.customer_records(team_id=team_id, customer_ids=sorted(ids))
        return self._customers[team_id].get(customer_id)

    def last_contacts(
        self, *, team_id: str, customer_ids: Sequence[int], kinds: Sequence[str] | None = None
    ) -> dict[int, Any]:
        ids = self._batched(team_id, customer_ids)
        if ids is None:
            return self._store.last_contacts(team_id=team_id, customer_ids=customer_ids, kinds=kinds)
        key = (team_id, tuple(kinds) if kinds is not None else None)
        if key not in self._contacts:
            self._contacts[key] = self._store.last_contacts(team_id=team_id, customer_ids=sorted(ids), kinds=kinds)
        found = self._contacts[key]
        return {cid: found[cid] for cid in customer_ids if cid in found}


def _deliver(run: _Run, claimed: list[int]) -> int:
    def feed(pacing: Lanes[_Outgoing]) -> None:
        """Reads and renders the claimed nudges a batch at a time, each batch handed to the workers as soon as it is
        ready: with 10,000 due at once, posting starts after the first batch instead of after all (≈ 1.5 s later;
        reading the 10,000 rows alone took ≈ 0.5 s)."""
        # A DM digest is one workspace's: a person in several (Enterprise Grid keeps one user id across them) gets
        # each workspace's own digest, posted with that workspace's token, its buttons working there.
        dms: dict[tuple[str, str], list[tuple[Nudge, Message]]] = {}
        for start, end in _render_batches(len(claimed), first=run.options.in_flight, then=run.options.render_batch):
            rendering, cpu = time.monotonic(), time.process_time()
            lanes: dict[str, list[_Outgoing]] = {}
            together: dict[tuple[str, str | None, str], list[tuple[Nudge, Message]]] = {}
            batch = run.store.claimed_nudges(ids=claimed[start:end], claimer=run.claimer)
            reads = cast(Store, _BatchReads(run.store, batch))  # the batch's customers and contacts: 2 queries
            for nudge in batch:
                message = _render(run, nudge, reads)
                if message is None:
                    continue
                if message.together is not None and message.channel is not None:
                    together.setdefault((message.channel, message.thread_ts, message.together), []).append(
                        (nudge, message)
                    )
                    continue
                message = decorate(message, nudge, run.now)
                if message.channel is None and message.user and message.digest:
                    dms.setdefault((nudge.team_id, message.user), []).append((nudge, message))  # combined at the end
                    continue
                lanes.setdefault(_lane(nudge.team_id, message.channel, message.user), []).append(
                    _Outgoing([nudge], message)
                )
            for (channel, _thread, _key), items in together.items():
                for nudges, message in _together(items):
                    lanes.setdefault(channel, []).append(_Outgoing(nudges, decorate(message, nudges[0], run.now)))
            if pacing.add(lanes) == 0 and lanes:
                took = time.monotonic() - rendering
                _render_later(pacing, run.options, took=took, share=(time.process_time() - cpu) / max(took, 1e-6))
        outgoing_dms: dict[str, list[_Outgoing]] = {}
        parts: dict[int, list[int] | None] = {}
        for (team_id, user), items in dms.items():
            groups = _digest_groups(items)
            outgoing = []
            for number, group in enumerate(groups, start=1):
                part = [number, len(groups), len(items)] if len(groups) > 1 else None
                for nudge, _ in group:
                    if nudge.id is not None and nudge.payload.get(DIGEST_PART) != part:
                        parts[nudge.id] = part  # a row sent before in another part is told its part now
                outgoing.append(_Outgoing([n for n, _ in group], compose([m for _, m in group], part)))
            outgoing_dms[_lane(team_id, None, user)] = outgoing
        run.store.note_digest_parts(parts=parts, claimer=run.claimer)  # before the posts: the redraws read it
        pacing.add(outgoing_dms)

    delivered = [0]

    def work(taken: list[tuple[str, _Outgoing]]) -> list[float | None]:
        results = _send(run, [outgoing for _, outgoing in taken])
        count = sum(len(outgoing.nudges) for (_, outgoing), (_, sent) in zip(taken, results, strict=True) if sent)
        with run.lock:
            delivered[0] += count
        return [paced for paced, _ in results]

    options = run.options
    pacing: Lanes[_Outgoing] = Lanes({}, interval=options.interval, monotonic=options.monotonic, ready=run.ready)
    run.upcoming = pacing.upcoming
    try:
        pacing.run_batches(work, workers=min(run.options.workers, len(claimed)), each=options.in_flight, feed=feed)
    finally:
        run.upcoming = lambda count: []
        run.flush_sent()
    logger.info("%d of %d nudge(s) delivered, by %d posting thread(s)", delivered[0], len(claimed), pacing.threads)
    return delivered[0]


def _render_later(pacing: Lanes[_Outgoing], options: SenderOptions, *, took: float, share: float) -> None:
    """After a render batch that only added to destinations that had messages already (a later wave of a fan-out:
    10,000 nudges in 2,000 channels are five waves a second apart), waits until some destination may need its next
    message within `render_ahead` (or four times what this batch took), at most an interval: the renderer then
    takes the interpreter from the posting threads only for the wave about to go, not for all of them in the first
    second. A batch that reached a new destination is never followed by a wait (its claim may hold more first
    messages). Nor is one during which the process got less than SPARE_CPU of a CPU (`share`): on a machine busy
    with other work, time the renderer leaves idle goes to the other processes, and the renderer, behind, then
    held up the posts it had not rendered (bench/RESULTS.md, session 12). Nor with no posting thread running
    meanwhile (one worker: it posts once the feed is done)."""
    if options.render_ahead <= 0 or share < SPARE_CPU or pacing.threads == 0:
        return
    wait = min(pacing.needed_in() - max(options.render_ahead, 4 * took), options.interval)
    if wait > 0:
        time.sleep(wait)


def _render_batches(count: int, *, first: int, then: int) -> list[tuple[int, int]]:
    """(start, end) of each render batch of `count` claimed nudges: the first only as large as one posting thread's
    posts (`first`, at most `then`), so the first posts leave once those are rendered instead of a whole batch's
    (10,000 due at once: 0.1–0.3 s sooner, every channel's posts with them; bench/RESULTS.md, session 11), then
    `then` at a time (each batch reads its rows, customers and contacts in a query each)."""
    first = max(1, min(first, then))
    return list(itertools.pairwise([0, *range(first, count, then), count])) if count else []


def _lane(team_id: str, channel: str | None, user: str | None) -> str:
    """The destination a message is paced by: its channel, or the workspace's DM with its user."""
    if channel is not None:
        return channel
    assert user is not None
    return f"{team_id}/{user}"


def _render(run: _Run, nudge: Nudge, reads: Store) -> Message | None:
    assert nudge.id is not None
    spec = RENDERERS.get(nudge.kind)
    if spec is None:
        run.store.finish_nudges(ids=[nudge.id], claimer=run.claimer, status="failed", error="no renderer for kind")
        run.outcome([nudge], "failed")
        return None
    try:
        result = spec.render(nudge, reads, run.now)
    except Exception as e:
        logger.exception("rendering nudge %s (%s) failed", nudge.id, nudge.kind)
        _retry_or_fail(run, [nudge], f"render: {type(e).__name__}: {e}")
        return None
    if isinstance(result, Skip):
        run.store.finish_nudges(ids=[nudge.id], claimer=run.claimer, status=result.status, error=result.reason)
        return None
    if result.channel is None and result.user is None:
        run.store.finish_nudges(ids=[nudge.id], claimer=run.claimer, status="cancelled", error="nowhere to send it")
        return None
    return result


def nudge_metadata(ids: Sequence[int]) -> dict[str, Any]:
    """The message metadata a post of these nudges carries: how a sender finds it in Slack after a crash."""
    return {"event_type": METADATA_EVENT, "event_payload": {"nudge_ids": ",".join(map(str, ids))}}


def _arguments(destination: str, message: Message, ids: Sequence[int]) -> dict[str, Any]:
    return {
        "channel": destination,
        "text": message.text,
        "blocks": message.blocks or None,
        "metadata": nudge_metadata(ids),
        "unfurl_links": False,
        "unfurl_media": False,
        "thread_ts": message.thread_ts,  # None is left out
    }


def _post(client: WebClient, destination: str, message: Message, ids: Sequence[int]) -> dict[str, Any]:
    # The run's keep-alive client reads a plain success itself and leaves every other answer to slack-sdk.
    post = client.post_message if isinstance(client, KeepAliveWebClient) else client.chat_postMessage
    response = post(**_arguments(destination, message, ids))
    return {"channel": response["channel"], "ts": response["ts"]}


@dataclass
class _Posting:
    """One message of a worker's batch on its way: its nudges, client and destination, then Slack's answer."""

    outgoing: _Outgoing
    ids: list[int]
    client: WebClient
    destination: str
    answer: Callable[[], dict[str, Any]] = lambda: {}
    ok: bool = False  # Slack said a plain yes: nothing can block while recording it
    answered_at: float | None = None  # when that yes was read


def _send(run: _Run, batch: Sequence[_Outgoing]) -> list[tuple[float | None, bool]]:
    """Marks, posts and records a worker's messages (each to its own destination); returns, for each, when the
    pace of its destination counts from (when Slack answered it; None: nothing was posted) and whether it was
    delivered.

    The messages are marked "sending" in one write and posted together (each on its own kept connection: they wait
    on Slack at the same time); then each answer is recorded, plain successes first. Anything else — an error
    answer, a 429 slack-sdk waits out and retries, a dropped connection — goes through slack-sdk's handling as
    if it had posted alone."""
    results: list[tuple[float | None, bool]] = [(None, False)] * len(batch)
    postings: list[tuple[int, _Posting]] = []
    for i, outgoing in enumerate(batch):
        ids = [n.id for n in outgoing.nudges if n.id is not None]
        try:
            client = run.slack(outgoing.nudges[0].team_id)
        except NotInstalled as e:  # never another team's token: it waits (then fails) until the team installs again
            logger.warning("nudge(s) %s not sent: %s", ids, e)
            _retry_or_fail(run, outgoing.nudges, "not_installed")
            continue
        destination = outgoing.message.channel or outgoing.message.user
        assert destination is not None
        postings.append((i, _Posting(outgoing, ids, client, destination)))
    mine = run.mark_sending_many([(p.ids, p.destination) for _, p in postings])
    lost = [p.ids for (_, p), ok in zip(postings, mine, strict=True) if not ok]
    if lost:
        logger.info("lost the claim on nudge(s) %s before sending; another sender has them", lost)
    postings = [posting for posting, ok in zip(postings, mine, strict=True) if ok]
    by_client: dict[int, list[_Posting]] = {}
    for _, posting in postings:
        by_client.setdefault(id(posting.client), []).append(posting)
    for group in by_client.values():
        client = group[0].client
        if isinstance(client, KeepAliveWebClient):
            attempts = client.post_messages(
                [_arguments(p.destination, p.outgoing.message, p.ids) for p in group], clock=run.options.monotonic
            )
            for posting, attempt in zip(group, attempts, strict=True):
                posting.answer, posting.ok = attempt, attempt.ok
                posting.answered_at = attempt.answered_at if attempt.ok else None
        else:
            for posting in group:
                posting.answer = functools.partial(
                    client.chat_postMessage, **_arguments(posting.destination, posting.outgoing.message, posting.ids)
                )
    for i, posting in sorted(postings, key=lambda item: not item[1].ok):
        sent = _record(run, posting)
        # Pace from Slack's answer, not from when the post began: the next post to this destination then reaches
        # Slack at least `interval` after this one did, whatever the network and thread scheduling added to
        # either (pacing from the start let a delayed post and a prompt one arrive < 1 s apart → 429 → a retry
        # a whole Retry-After later). A plain yes counts from when it was read, not from when the batch's other
        # answers were done with; anything else from now (slack-sdk may have posted again meanwhile).
        results[i] = (posting.answered_at or run.options.monotonic(), sent)
    return results


def _record(run: _Run, posting: _Posting) -> bool:
    """Reads one message's answer (slack-sdk's handling for anything but a plain yes) and records the outcome."""
    nudges, message, ids, client = posting.outgoing.nudges, posting.outgoing.message, posting.ids, posting.client
    try:
        answer = posting.answer()
        posted = {"channel": answer["channel"], "ts": answer["ts"]}
    except SlackApiError as e:
        error = str(e.response.get("error") or "")
        if message.channel is not None and error in CHANNEL_ERRORS:
            told = _channel_refused(run, nudges, message, error)
            if message.user is None and told:  # meant for the channel alone (a boundary reminder): failed, and the
                # owner's one notice about the channel says so, not a second message about this post
                run.store.finish_nudges(ids=ids, claimer=run.claimer, status="failed", error=error)
                run.outcome(nudges, "failed")
                return False
            if message.user is None:  # nowhere else to post it (the team's digest): failed, and its admin told
                _failed_answer(run, nudges, e)
                spec = RENDERERS.get(nudges[0].kind)
                if error in GONE_CHANNEL and spec is not None and spec.channel_gone is not None:
                    spec.channel_gone(nudges[0].team_id, message.channel, run.store)  # not refused again next week
                return False
            try:
                run.store.mark_destination(ids=ids, claimer=run.claimer, destination=message.user)
                posted = _post(client, message.user, message.for_dm(), ids)
            except SlackApiError as again:
                rerouted = _instead_of_refused_dm(run, posting, message.user, str(again.response.get("error") or ""))
                if rerouted is None:
                    _failed_answer(run, nudges, again)
                return bool(rerouted)
            except (OSError, URLError) as again:
                _no_answer(run, nudges, again)
                return False
        else:
            rerouted = None if message.channel else _instead_of_refused_dm(run, posting, message.user, error)
            if rerouted is None:
                _failed_answer(run, nudges, e)
            return bool(rerouted)
    except (OSError, URLError) as e:  # timeouts and dropped connections (slack-sdk already retried the latter)
        _no_answer(run, nudges, e)
        return False
    run.mark_sent((ids, posted["channel"], posted["ts"]))
    run.outcome(nudges, "sent")
    if message.retries_refused and message.customer_id is not None and posted["channel"] == message.channel:
        # Partner invited back, or the channel unarchived, while Slack's event was lost: the card and Home stop saying
        # it refuses, and a later refusal is told to the owner again.
        run.store.record_channel_error(
            team_id=nudges[0].team_id, customer_id=message.customer_id, error=None, now=run.now
        )
    _after_sent(run, nudges, message, str(posted["ts"]))
    return True


def _instead_of_refused_dm(run: _Run, posting: _Posting, user: str | None, error: str) -> bool | None:
    """Slack refused a DM for its reader (DM_REFUSED): they are taken as gone, as when Slack says an owner was
    deactivated (schedules.people.plan_owner_gone: each customer they own is told once, and from now on what was
    theirs goes to the team, schedules.cadence.instead_of_gone_owner), and each of these nudges is rendered again and
    posted once where that leads. One still for their DM fails without a notice (to that same DM). None: not such
    a refusal; else whether any was posted."""
    nudges = posting.outgoing.nudges
    team_id = nudges[0].team_id
    if not user or error not in DM_REFUSED:
        return None
    from schedules.people import plan_owner_gone  # it registers its notice with this module

    logger.warning("Slack refused a DM to %s (%s): taken as gone; nudge(s) %s go to the team", user, error, posting.ids)
    plan_owner_gone(run.store, team_id=team_id, user_id=user, now=run.now)
    run.store.note_owner_gone(ids=posting.ids, claimer=run.claimer, owner=user)
    delivered = False
    for nudge in nudges:
        assert nudge.id is not None
        # A claimed row is read as a record (storage.base.Records, a named tuple), not an ORM object.
        told = cast(Nudge, cast(Any, nudge)._replace(payload={**nudge.payload, OWNER_GONE: user}))
        again = _render(run, told, run.store)
        if again is None:  # skipped (nowhere to tell: cancelled) or failed to render: recorded so
            continue
        if again.channel is None:  # for someone other than an owner of theirs: failed, its customer's owner told
            run.store.finish_nudges(ids=[nudge.id], claimer=run.claimer, status="failed", error=error)
            run.outcome([nudge], "failed")
            if _owner(run, nudge) != user:  # never a notice to the DM that refused it
                _tell_owner_failed(run, [nudge], error)
            continue
        message = decorate(replace(again, user=None), nudge, run.now)
        try:
            run.store.mark_destination(ids=[nudge.id], claimer=run.claimer, destination=again.channel)
            posted = _post(posting.client, again.channel, message, [nudge.id])
        except SlackApiError as e:
            _failed_answer(run, [nudge], e)
            continue
        except (OSError, URLError) as e:
            _no_answer(run, [nudge], e)
            continue
        run.mark_sent(([nudge.id], posted["channel"], posted["ts"]))
        run.outcome([nudge], "sent")
        _after_sent(run, [nudge], message, str(posted["ts"]))
        delivered = True
    return delivered


def _after_sent(run: _Run, nudges: list[Nudge], message: Message, ts: str) -> None:
    spec = RENDERERS.get(nudges[0].kind)
    if spec is None or spec.after_sent is None:
        return
    try:
        spec.after_sent(nudges, message, ts, run.store, run.now)
    except Exception:  # posted and recorded sent: never posted again for this
        logger.exception("recording the post of nudge(s) %s failed", [n.id for n in nudges])


def _failed_answer(run: _Run, nudges: list[Nudge], e: SlackApiError) -> None:
    status = e.response.status_code
    error = str(e.response.get("error") or f"http {status}")
    if error in UNINSTALLED_TOKEN and _gone(run, nudges[0].team_id, error):
        ids = [n.id for n in nudges if n.id is not None]
        run.store.finish_nudges(ids=ids, claimer=run.claimer, status="cancelled", error=UNINSTALLED)
        return
    # A refused token auth.test still accepts (Slack's glitch): the nudge waits, with the usual backoff.
    if status == 429 or status >= 500 or error in RETRYABLE_ERRORS or error in TOKEN_REFUSED:
        wait = retry_after(e.response.headers)
        _retry_or_fail(run, nudges, error, at_least=timedelta(seconds=wait) if wait else None)
        return
    ids = [n.id for n in nudges if n.id is not None]
    run.store.finish_nudges(ids=ids, claimer=run.claimer, status="failed", error=error)
    run.outcome(nudges, "failed")
    _tell_owner_failed(run, nudges, error)


def _gone(run: _Run, team_id: str, error: str) -> bool:
    """:func:`workspace_gone`, asked once per team and run."""
    with run.gone_lock:
        known = run.gone.get(team_id)
        if known is None:
            known = run.gone[team_id] = workspace_gone(
                store=run.store, slack=lambda: run.slack(team_id), team_id=team_id, error=error, now=run.now
            )
    return known


def workspace_gone(*, store: Store, slack: Callable[[], WebClient], team_id: str, error: str, now: datetime) -> bool:
    """Whether a refused token (one of UNINSTALLED_TOKEN) means the workspace uninstalled Partner (or revoked its
    token) without the event reaching us (Partner was down, or Slack gave up redelivering it): auth.test refuses the
    token too. Then the workspace is marked uninstalled as the event would (its queued nudges cancelled, nothing
    planned, posted or looked up for it; any request from it, or a restart whose token works for it, resumes it), and
    the operator is told once in the logs: no owner can be told in Slack with a refused token, and each of its
    customers' nudges, tried five times a day each and their failure notices too, would only fail for ever."""
    if error == TEAM_ACCESS_REVOKED:
        gone = True  # auth.test accepts an org-wide token whatever its workspaces: Slack's answer is the proof
    else:
        try:
            slack().auth_test()
            gone = False
        except SlackApiError as e:
            gone = str(e.response.get("error") or "") in UNINSTALLED_TOKEN
        except (OSError, URLError, NotInstalled):  # Slack unreachable: not a proof; what was refused waits as usual
            gone = False
    if gone:
        cancelled = store.deactivate_workspace(team_id=team_id, now=now)
        why = (
            "its organisation removed Partner from it"
            if error == TEAM_ACCESS_REVOKED
            else f"Slack refused the bot token ({error}) and auth.test confirms it"
        )
        logger.warning(
            "workspace %s: %s: treated as uninstalled, its nudges stopped (%d queued cancelled), data kept; they "
            "resume when it installs Partner again (see partner-bot doctor)",
            team_id,
            why,
            cancelled,
        )
    return gone


def _no_answer(run: _Run, nudges: list[Nudge], e: BaseException) -> None:
    """A post that got no answer. One Slack may have made is left to be looked for in the destination's history
    before it is posted again (never a duplicate in a customer's channel: see "Exactly once"), a lease from now:
    by then a post Slack was slow to make is there. One surely not made is retried with the usual backoff."""
    error = f"{type(e).__name__}: {e}"
    if not answer_lost(e):
        _retry_or_fail(run, nudges, error)
        return
    ids = [n.id for n in nudges if n.id is not None]
    logger.warning("no answer to the post of nudge(s) %s (%s): looked for in Slack before posting again", ids, error)
    run.store.answer_lost(ids=ids, claimer=run.claimer, now=run.current(), error=f"no answer: {error}")
    run.outcome(nudges, "retried")


def _retry_or_fail(run: _Run, nudges: list[Nudge], error: str, *, at_least: timedelta | None = None) -> None:
    ids = [n.id for n in nudges if n.id is not None]
    attempts = max(n.attempts for n in nudges)
    if attempts >= run.options.max_attempts:
        run.store.finish_nudges(ids=ids, claimer=run.claimer, status="failed", error=f"gave up: {error}")
        run.outcome(nudges, "failed")
        _tell_owner_failed(run, nudges, error)
        return
    delay = min(run.options.backoff * 2 ** max(attempts - 1, 0), timedelta(hours=1))
    if at_least is not None:
        delay = max(delay, at_least)
    run.store.finish_nudges(
        ids=ids, claimer=run.claimer, status="pending", error=error, next_attempt_at=run.now + delay
    )
    run.outcome(nudges, "retried")


def _owner(run: _Run, nudge: Nudge) -> str | None:
    if nudge.customer_id is not None:
        customer = run.store.customer(team_id=nudge.team_id, customer_id=nudge.customer_id)
        if customer is not None and customer.owner_id:
            return customer.owner_id
    if nudge.recipient_id and nudge.recipient_id[:1] in ("U", "W"):
        return nudge.recipient_id
    return nudge.payload.get("tell")  # a post to a channel no customer owns (the digest): whom it names


def _tell_owner_failed(run: _Run, nudges: list[Nudge], error: str) -> None:
    for nudge in nudges:
        owner = _owner(run, nudge)
        if nudge.kind in (CHANNEL_PROBLEM, DELIVERY_FAILED) or owner is None:
            continue
        run.store.plan_nudge(
            team_id=nudge.team_id,
            kind=DELIVERY_FAILED,
            subject=f"nudge:{nudge.id}",
            due_key="failed",
            due_at=run.now,
            now=run.now,
            customer_id=nudge.customer_id,
            recipient_id=owner,
            payload={"failed_kind": nudge.kind, "error": error[:200], "channel_id": nudge.recipient_id},
        )


def _channel_refused(run: _Run, nudges: list[Nudge], message: Message, error: str) -> bool:
    """Records the refusal on the customer and plans the owner's one notice about it (per channel and error,
    whichever post met it first: a nudge, a boundary reminder, a check-in's summary). True when planned."""
    if message.customer_id is None or message.channel is None:
        return False
    team_id = nudges[0].team_id
    run.store.record_channel_error(team_id=team_id, customer_id=message.customer_id, error=error, now=run.now)
    owner = message.user
    if owner is None:  # a post meant for the channel alone: its customer's owner is told
        customer = run.store.customer(team_id=team_id, customer_id=message.customer_id)
        owner = customer.owner_id if customer is not None else None
    if owner is None:
        return False
    tell_owner_channel_refuses(
        run.store,
        team_id=team_id,
        customer_id=message.customer_id,
        owner_id=owner,
        channel_id=message.channel,
        error=error,
        now=run.now,
    )
    return True


def tell_once(
    store: Store,
    *,
    team_id: str,
    kind: str,
    customer_id: int,
    once_per: str,
    now: datetime,
    payload: dict[str, Any],
    recipient_id: str | None = None,
) -> bool:
    """Plans a notice about a customer, due now and told once per `once_per` (its key, cut to 64 characters): a
    redelivered event, or a second post meeting the same trouble, plans nothing more. True when planned."""
    return store.plan_nudge(
        team_id=team_id,
        kind=kind,
        subject=f"customer:{customer_id}",
        due_key=once_per[:64],
        due_at=now,
        now=now,
        customer_id=customer_id,
        recipient_id=recipient_id,
        payload=payload,
    )


def tell_owner_channel_refuses(
    store: Store, *, team_id: str, customer_id: int, owner_id: str, channel_id: str, error: str, now: datetime
) -> None:
    """Plans the owner's one notice that the customer's channel refuses Partner's posts: one per channel and error,
    whether a refused post or Slack's event (the channel archived, deleted, Partner removed) said so first."""
    tell_once(
        store,
        team_id=team_id,
        kind=CHANNEL_PROBLEM,
        customer_id=customer_id,
        once_per=f"{channel_id}:{error}",
        now=now,
        payload={"channel_id": channel_id, "error": error},
        recipient_id=owner_id,
    )


# --------------------------------------------------------------------------- redrawing a sent message


def refresh_message(
    *, store: Store, client: WebClient | SlackClients, team_id: str, channel_id: str, ts: str, now: datetime
) -> bool:
    """Redraws a sent message from its nudges (after a button click or a logged call) with chat.update."""
    nudges = store.nudges_for_message(team_id=team_id, channel_id=channel_id, ts=ts)
    messages: list[Message] = []
    for nudge in nudges:
        spec = RENDERERS.get(nudge.kind)
        if spec is None:
            return False
        result = spec.render(nudge, store, now)
        if isinstance(result, Skip):
            return False
        # Posted in a DM (Slack's IM ids start with D) though meant for a channel: the fallback DM its channel
        # refused. Not any other channel: a nudge left in a customer's former channel is still the channel's.
        if result.channel is not None and channel_id.startswith("D"):
            result = result.for_dm()
        messages.append(decorate(result, nudge, nudge.sent_at or now))
    if not messages:
        return False
    # The part of an owner's digest it went out as, as every nudge of it recorded (storage.nudges.note_digest_parts).
    told = {json.dumps(n.payload.get(DIGEST_PART)) for n in nudges}
    message = compose(messages, json.loads(told.pop()) if len(told) == 1 else None)
    try:
        client_for(client, team_id).chat_update(channel=channel_id, ts=ts, text=message.text, blocks=message.blocks)
    except NotInstalled as e:
        logger.warning("could not update message %s in %s: %s", ts, channel_id, e)
        return False
    except SlackApiError as e:
        logger.warning("could not update message %s in %s: %s", ts, channel_id, e.response.get("error"))
        return False
    except OSError as e:  # no answer even after slack-sdk's retries: the message keeps its look, the job goes on
        logger.warning("could not update message %s in %s: %s", ts, channel_id, type(e).__name__)
        return False
    return True


# --------------------------------------------------------------------------- the sender's own notices


def _render_channel_problem(nudge: Nudge, store: Store, now: datetime) -> Message | Skip:
    channel_id = str(nudge.payload.get("channel_id") or "")
    error = str(nudge.payload.get("error") or "")
    customer = store.customer(team_id=nudge.team_id, customer_id=nudge.customer_id or 0)
    if customer is None:
        return Skip("customer gone", "cancelled")
    if nudge.status != "sent" and (customer.channel_id != channel_id or customer.channel_error is None):
        # Unarchived, Partner invited back or another channel set before this went out: it would send them to fix
        # what is fixed (a refusal of its own, later, is told in a notice of its own).
        return Skip("the channel takes posts again", "cancelled")
    why = _channel_trouble(channel_id, error, f"/partner edit {command_name(customer.name)} #channel")
    text = (
        f":warning: I couldn't post in *{mrkdwn_name(customer.name)}*'s channel. {why}. Until then its "
        "nudges come to you here;"
        " working-agreement reminders and check-in summaries, meant for the channel, are skipped."
    )
    return Message(text=text, blocks=[section(text)], user=nudge.recipient_id)


def _channel_trouble(channel_id: str, error: str, pick_another: str) -> str:
    """Why Slack refused a post in the channel, and what fixes it."""
    return {
        "not_in_channel": (
            f"I'm not a member of <#{channel_id}>. Invite me there with `/invite @Partner`, or pick another with"
            f" `{pick_another}`"
        ),
        "is_archived": f"<#{channel_id}> is archived. Pick another with `{pick_another}`",
        "restricted_action": (
            f"Only some people may post in <#{channel_id}> (a workspace setting). Ask an admin to let me post there,"
            f" or pick another with `{pick_another}`"
        ),
        "restricted_action_read_only_channel": (
            f"<#{channel_id}> is read-only. Ask an admin to let me post there, or pick another with `{pick_another}`"
        ),
        "channel_not_found": (
            f"I can't find the channel {channel_id} (deleted, or private without me). Set another with `{pick_another}`"
        ),
    }.get(error, f"Slack refused my post in <#{channel_id}> ({error})")


def _render_delivery_failed(nudge: Nudge, store: Store, now: datetime) -> Message | Skip:
    customer = store.customer(team_id=nudge.team_id, customer_id=nudge.customer_id) if nudge.customer_id else None
    about = f" about *{mrkdwn_name(customer.name)}*" if customer else ""
    spec = RENDERERS.get(str(nudge.payload.get("failed_kind")))
    what = spec.label if spec is not None else "a message"
    error = str(nudge.payload.get("error"))
    channel_id = str(nudge.payload.get("channel_id") or "")
    if error in CHANNEL_ERRORS and channel_id[:1] in ("C", "G"):
        pick = (
            f"/partner edit {command_name(customer.name)} #channel" if customer else "/partner digest channel #channel"
        )
        text = f":x: I couldn't deliver {what}{about}. {_channel_trouble(channel_id, error, pick)}."
        return Message(text=text, blocks=[section(text)], user=nudge.recipient_id)
    text = f":x: I couldn't deliver {what}{about}: Slack answered `{error}`. I won't try it again."
    return Message(text=text, blocks=[section(text)], user=nudge.recipient_id)


def _render_owner_alert(nudge: Nudge, store: Store, now: datetime) -> Message | Skip:
    """An owner alert the check-in's follow-up did not send: Slack refused it then (rate limit, 5xx, timeout), or
    the process stopped first (a red check-in's alert is stored with it, before the mood it follows is read)."""
    checkin = store.checkin(team_id=nudge.team_id, checkin_id=int(nudge.payload.get("checkin_id") or 0))
    customer = store.customer(team_id=nudge.team_id, customer_id=checkin.customer_id) if checkin else None
    if checkin is None or customer is None:
        return Skip("check-in gone", "cancelled")
    previous = nudge.payload.get("previous")
    if previous is None and (before := store.previous_checkin(team_id=nudge.team_id, checkin=checkin)) is not None:
        previous = before.mood
    text = owner_alert_text(customer, checkin, reason=str(nudge.payload.get("reason")), previous=previous)
    return Message(text=text, user=nudge.recipient_id)


# A check-in's summary its follow-up never tried (the process stopped first) is posted by a later tick only while
# the check-in is this recent. A process manager restarts a crashed `serve` within minutes, and a summary is news
# for its own day's thread; after a longer outage (or for check-ins stored before summaries had outbox rows) a
# batch of day-old summaries would only flood the customers' channels. The check-ins themselves are kept and
# shown everywhere else (Home, digest, export). A summary the follow-up tried (Slack refused it for now, or gave no
# answer) is still posted however late: its author was told it was logged, and it may be half-way there.
SUMMARY_RECOVERY_WINDOW = timedelta(hours=24)


def _summary_day(nudge: Nudge, checkins: Sequence[CheckIn]) -> tuple[datetime, datetime]:
    """The check-ins' local day: named by the follow-up that queued them, else from the time zone stored with the
    check-in's row (UTC for a row stored with neither)."""
    if nudge.payload.get("day"):
        start, end = (datetime.fromisoformat(bound) for bound in nudge.payload["day"])
        return start, end
    return summary_day(str(nudge.payload.get("tz") or "UTC"), min(c.created_at for c in checkins))


def _render_checkin_summary(nudge: Nudge, store: Store, now: datetime) -> Message | Skip:
    """A check-in summary the follow-up did not post (the process stopped first, or Slack refused it for now or
    did not answer): in the customer's channel, in the thread of the check-ins' local day's first summary when
    there is one by now."""
    ids = [int(i) for i in nudge.payload.get("checkin_ids") or []]
    found = store.customer_checkins(team_id=nudge.team_id, checkin_ids=ids) if ids else None
    if found is None:
        return Skip("check-ins gone", "cancelled")
    customer, checkins = found
    if not customer.channel_id or not customer.post_checkins or customer.archived_at is not None:
        return Skip("no channel summary for this customer now", "cancelled")
    if customer.channel_shared:
        return Skip("the channel is shared with the customer: their people can read it")
    if nudge.status != "sent":
        if all(c.summary_ts is not None for c in checkins):
            return Skip("summarized already")
        if customer.paused_at is not None:
            return Skip("the customer is paused", "cancelled")
        never_tried = nudge.attempts <= 1 and not nudge.error
        if never_tried and now - max(c.created_at for c in checkins) > SUMMARY_RECOVERY_WINDOW:
            return Skip("the check-in is too old for its summary to be posted after downtime", "missed")
    start, end = _summary_day(nudge, checkins)
    parent = store.first_summary_between(
        team_id=nudge.team_id, customer_id=customer.id or 0, start=start, end=end, channel_id=customer.channel_id
    )
    thread_ts = parent.summary_ts if parent is not None and parent.id not in ids else None
    text = checkins_summary(customer, checkins)
    # A burst's summaries the follow-up never posted (a crash, Slack's errors) go as one message, as it would have.
    together = f"{CHECKIN_SUMMARY}:{customer.id}:{start.isoformat()}"
    return Message(
        text=text, channel=customer.channel_id, customer_id=customer.id, thread_ts=thread_ts, together=together
    )


def _checkin_summary_threads(nudges: Sequence[Nudge], store: Store) -> set[str]:
    """Where a summary posted by a sender or a follow-up that then died may be: in its day's thread."""
    threads: set[str] = set()
    for nudge in nudges:
        ids = [int(i) for i in nudge.payload.get("checkin_ids") or []]
        found = store.customer_checkins(team_id=nudge.team_id, checkin_ids=ids) if ids else None
        if found is None:
            continue
        customer, checkins = found
        start, end = _summary_day(nudge, checkins)
        channel_id = nudge.channel_id or customer.channel_id  # where the post may be
        if not channel_id:
            continue
        parent = store.first_summary_between(
            team_id=nudge.team_id, customer_id=customer.id or 0, start=start, end=end, channel_id=channel_id
        )
        if parent is not None and parent.summary_ts:
            threads.add(parent.summary_ts)
    return threads


def _checkin_summary_sent(nudges: Sequence[Nudge], message: Message, ts: str, store: Store, now: datetime) -> None:
    """The check-ins name their summary, as the follow-up records it. One posted late in its day's thread names the
    thread: it may list check-ins older than the thread's first, and the day's earliest summarized check-in is what
    later summaries thread under (Slack wants a thread's own ts, not a reply's)."""
    ids = [int(i) for n in nudges for i in n.payload.get("checkin_ids") or []]
    store.set_summary_ts(team_id=nudges[0].team_id, checkin_ids=ids, ts=message.thread_ts or ts)
    customer = store.customer(team_id=nudges[0].team_id, customer_id=message.customer_id or 0)
    if customer is not None and customer.channel_error:
        store.record_channel_error(team_id=customer.team_id, customer_id=customer.id or 0, error=None, now=now)


register(CHANNEL_PROBLEM, _render_channel_problem, grace=False, label="a notice about a customer's channel")
register(DELIVERY_FAILED, _render_delivery_failed, grace=False, label="a notice of a failed delivery")
# A red check-in is worth telling after downtime.
register(OWNER_ALERT, _render_owner_alert, grace=False, label="the alert about a check-in")
# A check-in the author was told about reaches its customer's channel, however late.
register(
    CHECKIN_SUMMARY,
    _render_checkin_summary,
    grace=False,
    after_sent=_checkin_summary_sent,
    label="the channel summary of a check-in",
    threads=_checkin_summary_threads,
)
