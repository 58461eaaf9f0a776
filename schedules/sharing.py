"""Whether each customer's channel is shared with another organisation (Slack Connect), learnt by Partner itself.

Partner keeps its internal posts (check-in summaries, cadence nudges with their buttons and @owner) out of a
channel the customer's people read (`Customer.channel_shared`). It learns that when it joins the channel, from
`/partner ask`'s look-up and from Slack's channel_shared / channel_unshared events, each recording when
(`channel_shared_checked_at`). Two cases those miss: customers from before Partner recorded sharing (migration
0012 leaves them unchecked) and an event missed while Partner was down. So every tick, just before the sender,
this job looks up the channels never checked and those last checked over a day ago: one `conversations.info` per
channel (however many customers share it), at most LOOKUPS_PER_TICK a tick (Tier 3 allows about 50 a minute),
never-checked first. Slack in trouble for now (a 429, a 5xx, no answer) stops the workspace's look-ups until the
next tick (slack-sdk is not left to wait out a Retry-After inside the tick); any other refusal (channel_not_found:
deleted, or private without Partner; a missing scope) is Slack's lasting answer: recorded as checked, the flag kept —
posts there fail and go to the owner's DM anyway. What is still unchecked after that holds its customers' due
nudges until the next tick, so nothing is posted in a channel before Partner knows who reads it — for MAX_HOLD at
most: a nudge is owed, and one planned longer ago goes where Partner last knew it should.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.oauth import NotInstalled, SlackClients, client_for
from domain.customers import shared_with_another_organisation
from handlers.home_publisher import refresh_channel_homes
from schedules.slack_http import TEAM_ACCESS_REVOKED, TOKEN_REFUSED, lasting, same_client_as
from storage.models import Customer
from storage.store import Store

logger = logging.getLogger("partner.sharing")

LOOKUPS_PER_TICK = 40
RECHECK_AFTER = timedelta(days=1)  # catches a channel_shared / channel_unshared event missed while Partner was down
HOLD = timedelta(minutes=1)  # unchecked channels' nudges wait for the next tick's look-up
MAX_HOLD = timedelta(minutes=15)  # …for this long at most after they were planned: a nudge is owed


def check_channel_sharing(*, store: Store, client: WebClient | SlackClients, now: datetime) -> int:
    """Looks up the channels due a check and records what Slack says; returns how many were looked up."""
    looked_up = 0
    asked = 0  # conversations.info calls this tick, answered or not: LOOKUPS_PER_TICK at most
    any_never = False
    stopped: set[str] = set()  # workspaces whose look-ups wait for the next tick
    locked_out: set[str] = set()  # no installation or a refused token: the sender records why, nothing is posted
    clients: dict[str, WebClient] = {}
    while asked < LOOKUPS_PER_TICK:
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
                look_up(slack, store, team_id=team_id, channel_id=channel_id, now=now)
            except NotInstalled:
                stopped.add(team_id)
                locked_out.add(team_id)
                continue
            except SlackApiError as e:
                error = str(e.response.get("error") or e.response.status_code)
                logger.warning("could not look up channel %s (%s): next tick", channel_id, error)
                stopped.add(team_id)  # rate-limited, a refused token or Slack's own trouble: not another call now
                if error in TOKEN_REFUSED or error == TEAM_ACCESS_REVOKED:
                    locked_out.add(team_id)
                continue
            except OSError as e:  # a timeout or a dropped connection (URLError is one)
                logger.warning("could not look up channel %s (%s): next tick", channel_id, type(e).__name__)
                stopped.add(team_id)
                continue
            looked_up += 1
        if len(stopped) == stopped_before:
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


def look_up(slack: WebClient, store: Store, *, team_id: str, channel_id: str, now: datetime) -> bool | None:
    """Asks Slack whether the channel is shared with another organisation and records the answer on its customers:
    True or False, or None when Slack refused for good (only the time is recorded, see `lasting`). Raises
    SlackApiError or OSError when Slack cannot say for now."""
    try:
        channel = read_channel(slack, channel_id)
    except SlackApiError as e:
        if not lasting(e):
            raise
        store.set_channel_shared(team_id=team_id, channel_id=channel_id, shared=None, now=now)
        return None
    shared = shared_with_another_organisation(channel)
    if store.set_channel_shared(team_id=team_id, channel_id=channel_id, shared=shared, now=now):
        logger.info("channel %s: shared with another organisation: %s (looked up)", channel_id, shared)
        refresh_channel_homes(None, store, team_id, channel_id)  # the serving app's publisher, if any
    return shared


def with_known_sharing(*, client: WebClient, store: Store, customer: Customer, now: datetime) -> Customer:
    """The customer, its channel's sharing looked up first when Slack has never told Partner (a customer from before
    Partner recorded it, whose check-in comes before the tick's look-up): what a check-in's follow-up reads before
    posting the summary. Slack unable to say right now counts as shared: the summary is not posted."""
    channel_id = customer.channel_id
    if not channel_id or customer.channel_shared_checked_at is not None:
        return customer
    try:
        shared = look_up(client, store, team_id=customer.team_id, channel_id=channel_id, now=now)
    except (SlackApiError, OSError):
        customer.channel_shared = True  # this object only; the tick looks it up again
        return customer
    if shared is not None:  # None: Slack will not describe it, and a post there fails alike and says so to the owner
        customer.channel_shared, customer.channel_shared_checked_at = shared, now
    return customer
