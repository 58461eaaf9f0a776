"""People changing in Slack: ``user_change``. Slack sends one for every profile change of anyone in the workspace,
so the listener reads at most one indexed query and one workspace row unless the user was deactivated or made a
guest (then Slack is asked which channels they are in: handlers/events/channels.py `guest_made`)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import BoltContext
from slack_sdk import WebClient

from bot.clock import Clock
from handlers.events.channels import guest_made, recheck_guest_channels
from handlers.permissions import GUEST_CHECKS
from schedules.cadence import record_owners_back
from schedules.people import plan_owner_gone
from storage.store import Store

logger = logging.getLogger(__name__)


def user_changed(event: dict[str, Any], context: BoltContext, client: WebClient, store: Store, clock: Clock) -> None:
    """A deactivated user who owns customers: each customer's channel is told once (by the next tick), so the team
    picks another owner. Reactivated (or any other change of an active user): the surfaces stop saying the owner is
    deactivated — the owner is theirs again."""
    user = event.get("user")
    if not isinstance(user, dict):
        return
    team_id, user_id = context.team_id, user.get("id")
    if not team_id or not isinstance(user_id, str) or not user_id:
        return
    if user.get("team_id") in (None, team_id):  # Slack's word on a guest, fresher than users.info's kept answer
        guest = bool(user.get("is_restricted") or user.get("is_ultra_restricted"))
        was_guest = GUEST_CHECKS.known(team_id, user_id)
        GUEST_CHECKS.remember(team_id, user_id, guest=guest)
        if not guest:  # a guest made a full member: the customers' channels Partner found them in are looked up again
            recheck_guest_channels(context, store, user_id=user_id)
        elif was_guest is not True:  # made a guest (or not known as one): their customers' channels, at once
            guest_made(context, client, store, clock, user_id=user_id)
    if user.get("deleted") is not True:
        if record_owners_back(store, team_id=team_id, user_id=user_id, now=clock()):
            logger.info(
                "user %s of %s reactivated: their customers' owner is no longer said deactivated", user_id, team_id
            )
        return
    planned = plan_owner_gone(store, team_id=team_id, user_id=user_id, now=clock())
    if planned:
        logger.info("user %s of %s deactivated: %d customer channel(s) to be told", user_id, team_id, planned)
