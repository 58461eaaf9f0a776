"""Notices about who owns a customer.

A customer's owner deactivated in Slack (Slack's `user_change` event, handlers/events/people.py): the team is told
once in the customer's channel, so someone picks another owner — nudges, overdue alerts and red check-ins otherwise
go to a person nobody reads for.

A customer made someone's (added naming them, edited, either form): the new owner is told by DM what that means,
the owner it was moved away from who moved it — else the first they hear of it is a nudge out of the blue."""

from __future__ import annotations

from datetime import datetime, timedelta

from handlers.blocks import command_name, mrkdwn_name, section
from handlers.blocks.customers import cadence_text
from schedules.cadence import destination, record_owners_gone
from schedules.sender import Message, Skip, register, tell_once
from storage.models import Customer, Nudge
from storage.store import Store

OWNER_GONE_NOTICE = "owner_gone"


def plan_owner_gone(store: Store, *, team_id: str, user_id: str, now: datetime) -> int:
    """One notice per live customer `user_id` owns (its key names the owner's deactivation: a redelivered event plans
    nothing more; a later owner deactivated in turn, or this one again after a reactivation, is told again), and the
    list, the card and Home say so beside them from now, as when a nudge found it out (schedules.cadence). Returns
    how many were planned."""
    planned = 0
    owned = [c for c in store.customers(team_id=team_id) if c.owner_id == user_id and c.id is not None]
    record_owners_gone(store, team_id, [(c.id, user_id) for c in owned], now)
    # Keyed by the deactivation ("U1", then "U1#1" once reactivated and deactivated again): each is told once.
    deactivations = dict(store.owner_deactivations(team_id=team_id, user_id=user_id))
    for customer in owned:
        planned += tell_once(
            store,
            team_id=team_id,
            kind=OWNER_GONE_NOTICE,
            customer_id=customer.id or 0,
            once_per=f"owner:{deactivations.get(customer.id or 0, user_id)}",
            now=now,
            payload={"owner_id": user_id},
        )
    return planned


def render_owner_gone(nudge: Nudge, store: Store, now: datetime) -> Message | Skip:
    customer = store.customer(team_id=nudge.team_id, customer_id=nudge.customer_id or 0)
    owner = str(nudge.payload.get("owner_id") or "")
    if customer is None or customer.archived_at is not None:
        return Skip("customer gone or archived", "cancelled")
    if customer.owner_id != owner:
        return Skip("another owner was picked", "cancelled")
    text = (
        f":warning: <@{owner}>, the owner of *{mrkdwn_name(customer.name)}*, was deactivated in Slack, "
        "so its call nudges, overdue"
        " alerts and red check-ins reach nobody. Pick another owner: `/partner edit "
        f"{command_name(customer.name)} @owner`."
    )
    channel, _ = destination(customer, now)  # the team's own channel: not one the customer's people read
    if channel is not None:
        return Message(text=text, blocks=[section(text)], channel=channel, customer_id=customer.id)
    if customer.created_by and customer.created_by != owner:  # no such channel: whoever added the customer
        return Message(text=text, blocks=[section(text)], user=customer.created_by)
    return Skip("nobody else to tell: no channel of the team's, added by the owner")


register(OWNER_GONE_NOTICE, render_owner_gone, grace=False, label="the notice that a customer's owner was deactivated")


# --------------------------------------------------------------------------- a customer changes hands

NEW_OWNER_NOTICE = "new_owner"
OWNER_MOVED_NOTICE = "owner_moved"


def plan_owner_change(
    store: Store,
    *,
    customer: Customer,
    previous_id: str | None,
    by: str,
    request_key: str,
    next_call: str,
    now: datetime,
) -> int:
    """Someone made `customer.owner_id` the customer's owner (an add naming them, an edit, either form): the new owner
    is told once what that means, unless they did it themselves, and the owner it was moved away from is told by whom
    (unless they moved it). Keyed by the request (`command:<trigger>`, `view:<id>`): Slack's retry tells nobody
    twice. Planned in the outbox, so the DMs go after the answer. `next_call`: the cadence's next nudge in words, as
    the request saw it. Returns how many were planned."""
    owner = customer.owner_id
    if customer.id is None or not owner or owner == previous_id:
        return 0
    payload = {"by": by, "from": previous_id, "to": owner, "next": next_call}
    # Moved to the wrong person and back before the notices went out: whoever was not told of the first move is not
    # told of this one either — no "you own it now" for what they owned all along (their "moved from you" still
    # waits, and is dropped as it goes: it came back), no "moved from you" for what they never heard they had.
    untold = {
        (n.kind, n.recipient_id)
        for n in store.nudges(
            team_id=customer.team_id,
            kinds=[NEW_OWNER_NOTICE, OWNER_MOVED_NOTICE],
            due_after=now - timedelta(days=1),
            statuses=["pending"],
            customer_ids=[customer.id],
        )
    }
    planned = 0
    for kind, recipient, unheard in (
        (NEW_OWNER_NOTICE, owner, (OWNER_MOVED_NOTICE, owner)),
        (OWNER_MOVED_NOTICE, previous_id, (NEW_OWNER_NOTICE, previous_id)),
    ):
        if recipient and recipient != by and unheard not in untold:
            planned += tell_once(
                store,
                team_id=customer.team_id,
                kind=kind,
                customer_id=customer.id,
                once_per=request_key,
                now=now,
                payload=payload,
                recipient_id=recipient,
            )
    return planned


def new_owner_text(customer: Customer, *, by: str, next_call: str) -> str:
    name, typed = mrkdwn_name(customer.name), command_name(customer.name)
    where = f" (<#{customer.channel_id}>)" if customer.channel_id else ""
    if customer.cadence:
        cadence = f"Its call cadence: {cadence_text(customer)}. {next_call}"
    else:
        cadence = (
            "It has no call cadence yet, so nobody is nudged about it: "
            f"`/partner cadence {typed} weekly tue 10:00` sets one, in the customer's time."
        )
    return (
        f":handshake: <@{by}> made you the owner of *{name}*{where}. Its call nudges, overdue alerts, red check-ins "
        f"and health drops now come to you.\n{cadence}\nIts card: `/partner show {typed}`"
    )


def render_new_owner(nudge: Nudge, store: Store, now: datetime) -> Message | Skip:
    customer = store.customer(team_id=nudge.team_id, customer_id=nudge.customer_id or 0)
    owner = str(nudge.payload.get("to") or "")
    if customer is None or customer.archived_at is not None:
        return Skip("customer gone or archived", "cancelled")
    if customer.owner_id != owner:
        return Skip("another owner was picked since", "cancelled")
    by = str(nudge.payload.get("by") or "")
    text = new_owner_text(customer, by=by, next_call=str(nudge.payload.get("next") or ""))
    line = f"<@{by}> made you the owner of *{mrkdwn_name(customer.name)}*"
    return Message(text=text, blocks=[section(text, block_id=f"nudge:{nudge.id}")], user=owner, digest=line)


def render_owner_moved(nudge: Nudge, store: Store, now: datetime) -> Message | Skip:
    customer = store.customer(team_id=nudge.team_id, customer_id=nudge.customer_id or 0)
    previous = str(nudge.payload.get("from") or "")
    if customer is None or customer.archived_at is not None:
        return Skip("customer gone or archived", "cancelled")
    if customer.owner_id == previous:
        return Skip("moved back to them since", "cancelled")
    # Whom it is with now: moved on again since (to the wrong person, then the right one), the notice names the latter.
    owner = customer.owner_id or str(nudge.payload.get("to") or "")
    if nudge.status != "sent" and store.owner_deactivations(team_id=nudge.team_id, user_id=previous):
        return Skip("the previous owner is deactivated in Slack", "cancelled")
    by = str(nudge.payload.get("by") or "")
    name = mrkdwn_name(customer.name)
    if by == owner:
        text = f":arrows_counterclockwise: <@{by}> took *{name}* over from you: its nudges and alerts go to them now."
    else:
        text = (
            f":arrows_counterclockwise: <@{by}> moved *{name}* from you to <@{owner}>: its nudges and alerts go to "
            "them now."
        )
    return Message(text=text, blocks=[section(text, block_id=f"nudge:{nudge.id}")], user=previous, digest=text)


register(NEW_OWNER_NOTICE, render_new_owner, grace=False, label="the notice that you were made a customer's owner")
register(OWNER_MOVED_NOTICE, render_owner_moved, grace=False, label="the notice that a customer was moved from you")
