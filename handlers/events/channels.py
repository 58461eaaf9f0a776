"""A customer's channel shared with another organisation (Slack Connect), or no longer: ``channel_shared`` and
``channel_unshared``; a guest of the workspace joining a customer's channel or leaving it: ``member_joined_channel``
and ``member_left_channel`` (:func:`member_joined`, :func:`member_left`); Partner invited into a customer's channel:
``member_joined_channel`` too; the channel archived,
deleted or Partner removed from it, and unarchived: ``channel_archive`` & co (:func:`channel_refuses`,
:func:`channel_unarchived`).

Partner keeps its internal posts (check-in summaries, cadence nudges, overdue notes) out of a channel the
customer's people read (shared with them, or with guests among its members); these events keep
``Customer.channel_shared`` true for a channel whose readers change after Partner last looked it up (joining it,
``/partner ask``, the tick's daily look-up in schedules/sharing.py). A redelivered event sets what is already set.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.clock import Clock
from handlers.home_publisher import refresh_channel_homes
from handlers.permissions import GUEST_CHECKS, WhoUnknown
from schedules.digest import stop_digest_in_gone_channel, stop_digest_in_shared_channel
from schedules.sender import tell_owner_channel_refuses
from schedules.sharing import MEMBERS_PAGE, impatient, read_channel
from storage.store import Store

logger = logging.getLogger(__name__)


def channel_shared(event: dict[str, Any], context: BoltContext, client: WebClient, store: Store, clock: Clock) -> None:
    _record(event, context, store, clock, shared=True)
    _keep_the_digest_inside(event, context, client, store)


def _keep_the_digest_inside(event: dict[str, Any], context: BoltContext, client: WebClient, store: Store) -> None:
    """The team digest's channel now shared: the digest stops going there. A redelivered event finds it off; two
    deliveries at once (Slack's http_timeout retry while the admin's DM is slow) turn it off, and tell, once."""
    team_id, channel_id = context.team_id, event.get("channel")
    workspace = store.digest_workspace(team_id=team_id) if team_id else None
    if workspace is None or not channel_id or workspace.digest_channel_id != channel_id:
        return
    stop_digest_in_shared_channel(store=store, client=client, workspace=workspace, channel_id=channel_id)


def channel_unshared(event: dict[str, Any], context: BoltContext, store: Store, clock: Clock) -> None:
    # `is_ext_shared`: the channel is still shared with some other organisation after this one left.
    _record(event, context, store, clock, shared=bool(event.get("is_ext_shared")))


def _record(event: dict[str, Any], context: BoltContext, store: Store, clock: Clock, *, shared: bool) -> None:
    team_id, channel_id = context.team_id, event.get("channel")
    if not team_id or not isinstance(channel_id, str) or not channel_id:
        return
    # Slack's word, as good as a look-up: the daily one starts counting again from now.
    changed = store.set_channel_shared(team_id=team_id, channel_id=channel_id, shared=shared, now=clock())
    if changed:
        logger.info("channel %s of %d customer(s): shared with another organisation: %s", channel_id, changed, shared)
        refresh_channel_homes(context, store, team_id, channel_id)


def member_joined(event: dict[str, Any], context: BoltContext, client: WebClient, store: Store, clock: Clock) -> None:
    """Someone joined a channel (Bolt runs one listener per event): Partner itself, or perhaps a guest."""
    if event.get("user") == context.bot_user_id:
        bot_joined_channel(event, context, store, clock)
    else:
        guest_joined_channel(event, context, client, store, clock)


def guest_joined_channel(
    event: dict[str, Any], context: BoltContext, client: WebClient, store: Store, clock: Clock
) -> None:
    """A guest of the workspace joined a customer's channel: it is read from outside the team from now on (the next
    summary and nudge go where a shared channel's do). Slack sends this for anyone joining any channel Partner is
    in: Slack (users.info, or its kept answer) is asked only for a customer's channel. Slack unable to say whether
    the newcomer is a guest: the channel is looked up again by the next tick, its posts waiting for that."""
    team_id, channel_id, user_id = context.team_id, event.get("channel"), event.get("user")
    if not team_id or not isinstance(channel_id, str) or not channel_id or not isinstance(user_id, str) or not user_id:
        return
    workspace = store.digest_workspace(team_id=team_id)
    digest_here = workspace is not None and workspace.digest_channel_id == channel_id
    if not digest_here and not store.customers_in_channel(
        team_id=team_id, channel_id=channel_id, include_archived=True
    ):
        return
    try:
        guest = GUEST_CHECKS.is_guest(client, team_id=team_id, user_id=user_id)
    except WhoUnknown:
        if store.recheck_channel(team_id=team_id, channel_id=channel_id):
            logger.info(
                "channel %s: could not tell whether %s is a guest: looked up again next tick", channel_id, user_id
            )
        return  # the digest's channel: the digest's own look-up before it goes out asks again
    if guest:
        flag_guest_channel(context, client, store, clock, channel_id=channel_id, user_id=user_id)


def flag_guest_channel(
    context: BoltContext, client: WebClient, store: Store, clock: Clock, *, channel_id: str, user_id: str
) -> None:
    """A guest of the workspace is a member of this channel now (joined it, or was made a guest): a customer's
    channel reads like a shared one at once; the team digest's channel stops getting the digest, its admin told,
    as when it is shared through Slack Connect."""
    team_id = context.team_id
    if not team_id:
        return
    if store.note_channel_guest(team_id=team_id, channel_id=channel_id, user_id=user_id, now=clock()):
        logger.info("channel %s: guest %s is a member: read from outside the team", channel_id, user_id)
        refresh_channel_homes(context, store, team_id, channel_id)
    workspace = store.digest_workspace(team_id=team_id)
    if workspace is not None and workspace.digest_channel_id == channel_id:
        stop_digest_in_shared_channel(
            store=store, client=client, workspace=workspace, channel_id=channel_id, guests=True
        )


def guest_made(context: BoltContext, client: WebClient, store: Store, clock: Clock, *, user_id: str) -> None:
    """A member of the workspace made a guest (user_change): the customers' channels they are in, and the team
    digest's, read like shared ones at once rather than at the next daily look-up. Partner keeps only the guests
    it found, not every member list, so Slack is asked which channels the person is in (users.conversations,
    public and private ones Partner is in too, page by page). Slack unable to say now: the daily look-up finds them."""
    team_id = context.team_id
    if not team_id:
        return
    customers = {c.channel_id for c in store.customers(team_id=team_id, include_archived=True) if c.channel_id}
    workspace = store.digest_workspace(team_id=team_id)
    if workspace is not None and workspace.digest_channel_id:
        customers.add(workspace.digest_channel_id)
    if not customers:
        return
    theirs: list[str] = []
    cursor = ""
    try:
        while True:
            page = impatient(client).users_conversations(
                user=user_id,
                types="public_channel,private_channel",
                exclude_archived=True,
                limit=MEMBERS_PAGE,
                **({"cursor": cursor} if cursor else {}),
            )
            theirs += [c["id"] for c in page.get("channels") or [] if c.get("id") in customers]
            cursor = str((page.get("response_metadata") or {}).get("next_cursor") or "")
            if not cursor:
                break
    except (SlackApiError, OSError) as e:  # OSError: a timeout; what was found so far is flagged all the same
        logger.warning("could not list the channels of %s, made a guest: the daily look-up finds them (%r)", user_id, e)
    for channel_id in theirs:
        flag_guest_channel(context, client, store, clock, channel_id=channel_id, user_id=user_id)


def member_left(event: dict[str, Any], context: BoltContext, client: WebClient, store: Store, clock: Clock) -> None:
    """Someone left a channel: Partner removed from it (its posts there are refused), or perhaps a guest."""
    if event.get("user") == context.bot_user_id:
        channel_refuses(event, context, client, store, clock)
    else:
        recheck_guest_channels(context, store, user_id=event.get("user"), channel_id=event.get("channel"))


def recheck_guest_channels(context: BoltContext, store: Store, *, user_id: Any, channel_id: Any = None) -> None:
    """A guest Partner found in a customer's channel left it (`channel_id`), or was made a full member (all their
    channels): the channel is looked up again by the next tick (perhaps other guests remain), its flag standing
    meanwhile, so its summaries and nudges come back to it only once Slack said so. Anyone else: one read."""
    team_id = context.team_id
    if not team_id or not isinstance(user_id, str) or not user_id:
        return
    for channel in store.channels_with_guest(team_id=team_id, user_id=user_id):
        if channel_id in (None, channel) and store.recheck_channel(team_id=team_id, channel_id=channel):
            logger.info("channel %s: guest %s left or is a member now: looked up again next tick", channel, user_id)


def bot_joined_channel(event: dict[str, Any], context: BoltContext, store: Store, clock: Clock) -> None:
    """Partner invited into a channel that refused its posts (`not_in_channel`, or `channel_not_found` for a private
    one): the refusal recorded on its customers is cleared, so their next nudge goes there again instead of to the
    owner's DM for a week (CHANNEL_RETRY_AFTER). Someone else joining is not Partner's business."""
    team_id, channel_id = context.team_id, event.get("channel")
    if not team_id or not isinstance(channel_id, str) or event.get("user") != context.bot_user_id:
        return
    now = clock()
    for customer in store.customers(team_id=team_id, include_archived=True):
        if customer.channel_id == channel_id and customer.channel_error and customer.id is not None:
            store.record_channel_error(team_id=team_id, customer_id=customer.id, error=None, now=now)
            logger.info("invited into %s: posting there again for customer %d", channel_id, customer.id)


# What Slack will answer a post in the channel after each event (the same refusal a post would meet).
REFUSALS = {
    "channel_archive": "is_archived",
    "group_archive": "is_archived",
    "channel_deleted": "channel_not_found",
    "group_deleted": "channel_not_found",
    "channel_left": "not_in_channel",  # Partner removed from a public channel (sent to Partner alone)
    "group_left": "not_in_channel",  # … from a private one
    "member_left_channel": "not_in_channel",  # someone left: Partner's business only when it is Partner
}


def channel_refuses(event: dict[str, Any], context: BoltContext, client: WebClient, store: Store, clock: Clock) -> None:
    """The customer's channel archived or deleted, or Partner removed from it: recorded on its customers as a
    refused post would be, at once, so no nudge, reminder or summary is first tried there in vain; nudges go to the
    owner's DM, the card says why, and each owner is told once (the same notice a refused post plans, so a later
    refused post does not tell again). The team digest's channel archived or deleted: the digest is turned off and
    its admin told. A redelivered event changes nothing, so tells nothing."""
    team_id, channel_id, kind = context.team_id, event.get("channel"), str(event.get("type"))
    error = REFUSALS.get(kind)
    if not team_id or not isinstance(channel_id, str) or not channel_id or error is None:
        return
    if kind == "member_left_channel" and event.get("user") != context.bot_user_id:
        return
    # Slack sends these for every public channel of the workspace: Slack is asked only about a channel of Partner's.
    customers = store.customers_in_channel(team_id=team_id, channel_id=channel_id, include_archived=True)
    workspace = store.digest_workspace(team_id=team_id)
    digest_here = workspace is not None and workspace.digest_channel_id == channel_id
    if not digest_here and all(customer.channel_error == error for customer in customers):
        return  # none of Partner's, or recorded already (a redelivery)
    if not _still_refuses(client, channel_id, error):
        return
    now = clock()
    for customer in customers:
        if customer.id is None or customer.channel_error == error:
            continue
        if not store.record_channel_error(team_id=team_id, customer_id=customer.id, error=error, now=now):
            continue  # another delivery of the event got there first
        logger.info("channel %s of customer %d: %s (%s)", channel_id, customer.id, error, kind)
        if customer.archived_at is None and customer.owner_id:
            tell_owner_channel_refuses(
                store,
                team_id=team_id,
                customer_id=customer.id,
                owner_id=customer.owner_id,
                channel_id=channel_id,
                error=error,
                now=now,
            )
    refresh_channel_homes(context, store, team_id, channel_id)
    if workspace is not None and digest_here:
        stop_digest_in_gone_channel(store=store, client=client, workspace=workspace, channel_id=channel_id, error=error)


def channel_id_changed(event: dict[str, Any], context: BoltContext, store: Store, clock: Clock) -> None:
    """Slack gave a channel a new id (a private channel made public, a workspace moved into an Enterprise Grid
    organisation): its customers and the team digest follow it, so their posts keep going there."""
    team_id, old, new = context.team_id, event.get("old_channel_id"), event.get("new_channel_id")
    if not team_id or not isinstance(old, str) or not isinstance(new, str) or not old or not new or old == new:
        return
    moved = store.move_channel(team_id=team_id, old_channel_id=old, new_channel_id=new, now=clock())
    if moved:
        logger.info("channel %s is now %s: %d customer(s) follow it", old, new, moved)
        refresh_channel_homes(context, store, team_id, new)


UNKNOWN = "unknown"  # Slack could not say (busy, down, no answer)


def refusal_now(client: WebClient, channel_id: str) -> str | None:
    """How Slack would answer a post in the channel now, from its description: `is_archived`, `not_in_channel`,
    `channel_not_found` (deleted, or private without Partner), None (it would take it), or UNKNOWN.

    Events may come late or out of order (a retried `channel_archive` after the `channel_unarchive`, Partner's
    `channel_left` after it was invited back): Slack's word now decides, and the event's when Slack cannot say."""
    try:
        channel = read_channel(client, channel_id)
    except SlackApiError as e:
        return "channel_not_found" if e.response.get("error") == "channel_not_found" else UNKNOWN
    except OSError:  # a timeout or a dropped connection
        return UNKNOWN
    if channel.get("is_archived"):
        return "is_archived"
    return "not_in_channel" if channel.get("is_member") is False else None


def _still_refuses(client: WebClient, channel_id: str, error: str) -> bool:
    now = refusal_now(client, channel_id)
    # A private channel Partner left is not found either: Slack cannot tell it from a deleted one.
    return now in (UNKNOWN, error) or (now == "channel_not_found" and error == "not_in_channel")


def channel_unarchived(
    event: dict[str, Any], context: BoltContext, client: WebClient, store: Store, clock: Clock
) -> None:
    """The customer's channel unarchived: the refusal its archiving left is cleared, so the next nudge goes there
    again instead of to the owner's DM for a week (CHANNEL_RETRY_AFTER). Should Partner no longer be a member, that
    post meets `not_in_channel`, recorded and told as any."""
    team_id, channel_id = context.team_id, event.get("channel")
    if not team_id or not isinstance(channel_id, str) or not channel_id:
        return
    archived = [
        customer
        for customer in store.customers_in_channel(team_id=team_id, channel_id=channel_id, include_archived=True)
        if customer.id is not None and customer.channel_error == "is_archived"
    ]
    if not archived:
        return  # Slack sends this for every public channel of the workspace
    if refusal_now(client, channel_id) == "is_archived":
        logger.info("channel %s: channel_unarchive came after it was archived again; nothing changed", channel_id)
        return
    now = clock()
    for customer in archived:
        if customer.id is not None:
            store.record_channel_error(team_id=team_id, customer_id=customer.id, error=None, now=now)
            logger.info("channel %s unarchived: posting there again for customer %d", channel_id, customer.id)
    refresh_channel_homes(context, store, team_id, channel_id)
