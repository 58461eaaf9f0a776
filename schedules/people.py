"""A customer's owner deactivated in Slack (Slack's `user_change` event, handlers/events/people.py): the team is told
once in the customer's channel, so someone picks another owner — nudges, overdue alerts and red check-ins otherwise
go to a person nobody reads for."""

from __future__ import annotations

from datetime import datetime

from handlers.blocks import command_name, mrkdwn_name, section
from schedules.cadence import destination, record_owners_gone
from schedules.sender import Message, Skip, register, tell_once
from storage.models import Nudge
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
