"""Whether people outside the team read each customer's channel, learnt by Partner itself: shared with another
organisation (Slack Connect), or with guests of the workspace among its members (single- or multi-channel guests,
often the customer's own people invited into an internal channel).

Partner keeps its internal posts (check-in summaries, cadence nudges with their buttons and @owner) out of a
channel the customer's people read (`Customer.channel_shared`: read from outside; why — Slack Connect or which
guests — is kept in Workspace.settings, storage.customers.CHANNEL_READERS). It learns that when it joins the
channel, from `/partner ask`'s look-up and from Slack's events: channel_shared / channel_unshared, and a guest
joining (read from outside at once), leaving or made a full member (looked up again) — handlers/events/channels.py
and people.py — each recording when (`channel_shared_checked_at`). Two cases those miss: customers from before
Partner recorded it (migration 0012 leaves them unchecked) and an event missed while Partner was down. So every
tick, just before the sender, this job looks up the channels never checked and those last checked over a day ago:
one `conversations.info` per channel (however many customers share it), at most LOOKUPS_PER_TICK a tick (Tier 3
allows about 50 a minute), never-checked first; a channel not shared through Slack Connect has its members looked
up too (conversations.members page by page, each member's guest answer kept by handlers/permissions.py or asked
of users.info), GUEST_CALLS_PER_TICK calls a tick at most, a longer look-up going on next tick from where it
stopped. Slack in trouble for now (a 429, a 5xx, no answer, users.info unable to place someone) stops the
workspace's look-ups until the next tick (slack-sdk is not left to wait out a Retry-After inside the tick); any
other refusal (channel_not_found: deleted, or private without Partner; a missing scope) is Slack's lasting answer:
recorded as checked, the flag kept — posts there fail and go to the owner's DM anyway. What is still unchecked
after that holds its customers' due nudges until the next tick, so nothing is posted in a channel before Partner
knows who reads it — for MAX_HOLD at most: a nudge is owed, and one planned longer ago goes where Partner last knew
it should.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any
from weakref import WeakSet

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.oauth import NotInstalled, SlackClients, client_for
from domain.customers import shared_with_another_organisation
from handlers.home_publisher import refresh_channel_homes
from handlers.permissions import GUEST_CHECKS, WhoUnknown
from schedules.sender import UNINSTALLED_TOKEN, workspace_gone
from schedules.slack_http import TEAM_ACCESS_REVOKED, TOKEN_REFUSED, lasting, same_client_as
from storage.models import Customer
from storage.store import Store

logger = logging.getLogger("partner.sharing")

LOOKUPS_PER_TICK = 40
# users.info's lasting answers on a listed member (deleted since, or not visible to Partner): not a guest, and
# not a reason to stop the look-up and hold the channel's posts, as a rate limit or an outage is.
NO_SUCH_PERSON = frozenset({"user_not_found", "user_not_visible"})
RECHECK_AFTER = timedelta(days=1)  # catches a channel_shared / channel_unshared event missed while Partner was down
HOLD = timedelta(minutes=1)  # unchecked channels' nudges wait for the next tick's look-up
MAX_HOLD = timedelta(minutes=15)  # …for this long at most after they were planned: a nudge is owed
# Looking up a channel's members for guests: conversations.members and users.info (both Tier 4, about 100 a minute
# each; users.info also answers people's clicks) — at most this many calls a tick, all workspaces together; a
# channel with more members goes on next tick from where it stopped.
GUEST_CALLS_PER_TICK = 60
GUEST_CALLS_NOW = 20  # …and for a look-up made for one channel at once (joining it, a check-in before the tick's)
MEMBERS_PAGE = 200  # conversations.members' page at most (Slack advises no more than 200)


class Calls:
    """How many more Slack calls a look-up of channels' members may make."""

    def __init__(self, left: int) -> None:
        self.left = left


# Stores whose channels checked before Partner looked for guests were made due a look-up (once a process: a channel
# whose look-up Slack refuses for good records no guests, and is not made due again every tick).
_FIRST_GUEST_LOOK_UPS: WeakSet[Store] = WeakSet()


class LookUpUnfinished(Exception):
    """The calls allowed ran out before every member of the channel was placed: what was found is kept, and the
    next tick's look-up goes on from there."""


def check_channel_sharing(*, store: Store, client: WebClient | SlackClients, now: datetime) -> int:
    """Looks up the channels due a check and records what Slack says; returns how many were looked up."""
    if store not in _FIRST_GUEST_LOOK_UPS:  # once a process: the channels checked before guests were looked for
        _FIRST_GUEST_LOOK_UPS.add(store)
        due = store.make_first_guest_look_ups_due(checked_at=now - RECHECK_AFTER - timedelta(seconds=1))
        if due:
            logger.info("%d channel(s) checked before guests were looked for: their guests are looked up now", due)
    looked_up = 0
    asked = 0  # conversations.info calls this tick, answered or not: LOOKUPS_PER_TICK at most
    any_never = False
    stopped: set[str] = set()  # workspaces whose look-ups wait for the next tick
    locked_out: set[str] = set()  # no installation or a refused token: the sender records why, nothing is posted
    clients: dict[str, WebClient] = {}
    calls = Calls(GUEST_CALLS_PER_TICK)
    unfinished = False
    while asked < LOOKUPS_PER_TICK and not unfinished:
        # A workspace stopped this tick is asked for no more: the other workspaces' channels take its turn (else one
        # Partner cannot reach, its channels never checked and first in line, would hold everyone's nudges).
        due = store.channels_to_check_sharing(
            checked_before=now - RECHECK_AFTER, limit=LOOKUPS_PER_TICK - asked, except_teams=sorted(stopped)
        )
        if not due:
            break
        any_never = any_never or any(never for _team, _channel, never in due)
        stopped_before = len(stopped)
        for team_id, channel_id, _never in due:
            if team_id in stopped:
                continue
            asked += 1
            try:
                slack = clients.get(team_id) or clients.setdefault(team_id, impatient(client_for(client, team_id)))
                look_up(slack, store, team_id=team_id, channel_id=channel_id, now=now, calls=calls)
            except LookUpUnfinished:
                unfinished = True  # this tick's share of calls is used: the rest is the next tick's
                break
            except NotInstalled:
                stopped.add(team_id)
                locked_out.add(team_id)
                continue
            except SlackApiError as e:
                error = str(e.response.get("error") or e.response.status_code)
                stopped.add(team_id)  # rate-limited, a refused token or Slack's own trouble: not another call now
                if error in TOKEN_REFUSED or error == TEAM_ACCESS_REVOKED:
                    locked_out.add(team_id)
                # An uninstall Partner missed: the workspace stops here as the sender would stop it, rather than its
                # channels being asked about (and refused, and logged) every tick until its next nudge falls due.
                gone = error in UNINSTALLED_TOKEN and workspace_gone(
                    store=store,
                    slack=lambda team=team_id: client_for(client, team),
                    team_id=team_id,
                    error=error,
                    now=now,
                )
                if not gone:
                    logger.warning("could not look up channel %s (%s): next tick", channel_id, error)
                continue
            except (OSError, WhoUnknown) as e:  # a timeout or a dropped connection (URLError is one); users.info's
                logger.warning("could not look up channel %s (%s): next tick", channel_id, type(e).__name__)
                stopped.add(team_id)
                continue
            looked_up += 1
        if len(stopped) == stopped_before or unfinished:
            break  # every channel due was answered (or the tick's share is used): the rest is the next tick's
    if any_never:  # never-checked ones come first: else there are none
        held = store.hold_nudges_of_unchecked_channels(
            until=now + HOLD, planned_since=now - MAX_HOLD, except_teams=sorted(locked_out)
        )
        if held:
            logger.info("%d nudge(s) wait for their channel's look-up", held)
    return looked_up


def impatient(client: WebClient) -> WebClient:
    """The client without slack-sdk's wait on a 429: the tick goes on to the sender and the next tick asks again."""
    handlers = [h for h in client.retry_handlers if not isinstance(h, RateLimitErrorRetryHandler)]
    return same_client_as(client, WebClient, retry_handlers=handlers)


def read_channel(slack: WebClient, channel_id: str) -> dict[str, Any]:
    """Slack's description of the channel now (conversations.info), asked without waiting out a 429: the one reader
    of it for the tick's look-up, a check-in's and the channel events' (handlers/events/channels.py `refusal_now`).
    Raises SlackApiError when Slack refuses or is in trouble, OSError when it does not answer."""
    channel: dict[str, Any] = impatient(slack).conversations_info(channel=channel_id)["channel"]
    return channel


def look_up(
    slack: WebClient,
    store: Store,
    *,
    team_id: str,
    channel_id: str,
    now: datetime,
    calls: Calls,
    channel: dict[str, Any] | None = None,
) -> bool | None:
    """Asks Slack who reads the channel and records the answer on its customers: True when people outside the team
    do — it is shared with another organisation (Slack Connect), or guests of the workspace are among its members
    (looked up only when it is not shared: that says enough) — False when not, None when Slack refused for good
    (only the time is recorded, see `lasting`). `channel`: Slack's description already in hand (joining it).
    Raises SlackApiError, OSError or WhoUnknown when Slack cannot say for now, LookUpUnfinished when `calls` ran out
    (what was found is kept for the next look-up, which goes on from there)."""
    if channel is None:
        try:
            channel = read_channel(slack, channel_id)
        except SlackApiError as e:
            if not lasting(e):
                raise
            store.set_channel_shared(team_id=team_id, channel_id=channel_id, shared=None, now=now)
            return None
    connect = shared_with_another_organisation(channel)
    guests: list[str] = []
    if not connect:
        try:
            guests = find_guests(slack, store, team_id=team_id, channel_id=channel_id, now=now, calls=calls)
        except SlackApiError as e:
            if not lasting(e):
                raise
            # Slack will not list its members (a missing scope, a cursor gone stale): the guests last found stand.
            guests = list(store.channel_readers(team_id=team_id, channel_id=channel_id).get("guests") or [])
    outside = connect or bool(guests)
    if store.set_channel_shared(team_id=team_id, channel_id=channel_id, shared=connect, guests=guests, now=now):
        logger.info(
            "channel %s: read from outside the team: %s (looked up: %s)",
            channel_id,
            outside,
            "Slack Connect" if connect else f"{len(guests)} guest(s)",
        )
        refresh_channel_homes(None, store, team_id, channel_id)  # the serving app's publisher, if any
    return outside


def find_guests(
    slack: WebClient, store: Store, *, team_id: str, channel_id: str, now: datetime, calls: Calls
) -> list[str]:
    """The guests of the workspace (users.info `is_restricted`, `is_ultra_restricted`) among the channel's members:
    conversations.members page by page (`next_cursor`), each member placed by the guest answer Partner keeps
    (handlers/permissions.py GUEST_CHECKS) or else users.info. A page asks for no more members than the calls left
    can place, so a page is always finished; between pages, what was found and where to go on are recorded (a guest
    found already makes the channel read from outside at once). Someone Slack cannot place now (WhoUnknown) is not
    guessed either way: the look-up stops there, the channel's flag stands as last known, and the next tick asks
    again — a never looked-up channel's posts wait for it meanwhile, MAX_HOLD at most, as for Slack Connect."""
    progress = store.channel_readers(team_id=team_id, channel_id=channel_id).get("scan") or {}
    cursor, found = str(progress.get("cursor") or ""), list(progress.get("guests") or [])
    client = impatient(slack)
    while True:
        if calls.left < 2:  # a page and a member's answer at least
            store.set_channel_shared(
                team_id=team_id, channel_id=channel_id, shared=False, now=now, scan={"cursor": cursor, "guests": found}
            )
            raise LookUpUnfinished(channel_id)
        calls.left -= 1
        on_page: list[str] = []
        try:
            page = client.conversations_members(
                channel=channel_id, limit=min(MEMBERS_PAGE, calls.left), **({"cursor": cursor} if cursor else {})
            )
            for member in page.get("members") or []:
                guest = GUEST_CHECKS.known(team_id, member)
                if guest is None:
                    calls.left -= 1
                    try:
                        guest = GUEST_CHECKS.is_guest(client, team_id=team_id, user_id=member)
                    except WhoUnknown as e:
                        if str(e) not in NO_SUCH_PERSON:
                            raise
                        guest = False  # Slack's lasting word that it knows nobody by that id here: nobody to keep out
                if guest:
                    on_page.append(member)
        except (SlackApiError, OSError, WhoUnknown):
            if found or cursor:  # the finished pages count now (a guest found is read at once); this one is asked again
                scan = {"cursor": cursor, "guests": found}
                store.set_channel_shared(team_id=team_id, channel_id=channel_id, shared=False, now=now, scan=scan)
            raise
        found += on_page
        cursor = str((page.get("response_metadata") or {}).get("next_cursor") or "")
        if not cursor:
            return found


def learn_readers(
    slack: WebClient, store: Store, *, team_id: str, channel_id: str, now: datetime, channel: dict[str, Any]
) -> None:
    """Who reads a channel Partner just joined (`channel`: Slack's description in the answer), its members looked
    up at once within GUEST_CALLS_NOW calls; what Slack cannot say now, or a longer look-up, is the next tick's
    (the channel stays unchecked meanwhile: its posts wait for it, MAX_HOLD at most)."""
    try:
        look_up(
            slack, store, team_id=team_id, channel_id=channel_id, now=now, calls=Calls(GUEST_CALLS_NOW), channel=channel
        )
    except (SlackApiError, OSError, WhoUnknown, LookUpUnfinished) as e:
        logger.info("channel %s: who reads it is the next tick's to learn (%s)", channel_id, type(e).__name__)
        shared = shared_with_another_organisation(channel)
        store.set_channel_shared(team_id=team_id, channel_id=channel_id, shared=shared, now=now)


def with_known_sharing(*, client: WebClient, store: Store, customer: Customer, now: datetime) -> Customer:
    """The customer, its channel's sharing looked up first when Slack has never told Partner (a customer from before
    Partner recorded it, whose check-in comes before the tick's look-up, or one to look up again since a guest
    left): what a check-in's follow-up reads before posting the summary. Slack unable to say right now, or a channel
    with more members than GUEST_CALLS_NOW can place, counts as shared: the summary is not posted."""
    channel_id = customer.channel_id
    if not channel_id or customer.channel_shared_checked_at is not None:
        return customer
    try:
        team_id, calls = customer.team_id, Calls(GUEST_CALLS_NOW)
        shared = look_up(client, store, team_id=team_id, channel_id=channel_id, now=now, calls=calls)
    except (SlackApiError, OSError, WhoUnknown, LookUpUnfinished):
        customer.channel_shared = True  # this object only; the tick looks it up again
        return customer
    if shared is not None:  # None: Slack will not describe it, and a post there fails alike and says so to the owner
        customer.channel_shared, customer.channel_shared_checked_at = shared, now
    return customer
