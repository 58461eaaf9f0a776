"""Applies domain.permissions with what Slack knows about the user (users.info: is_admin / is_owner)."""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.settings import Settings
from domain.errors import UserError
from domain.permissions import may_change, may_change_workspace, needs_workspace_role, refusal, workspace_refusal
from schedules.slack_http import lasting
from storage.models import Customer

logger = logging.getLogger(__name__)


def is_workspace_admin(client: WebClient, user_id: str) -> bool:
    try:
        user = client.users_info(user=user_id)["user"]
    except SlackApiError as e:
        if not lasting(e):
            # Slack could not say (rate limit, outage, token refused): "only admins can" would wrongly tell an admin
            # they are not one. The error handler says what happened and nothing is changed.
            raise
        # Unknown is not an admin: refusing is safe, and the refusal says who can do it instead.
        logger.warning("users.info failed for %s; treating them as not an admin", user_id)
        return False
    return bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))


def require_change(client: WebClient, settings: Settings, *, user_id: str, customer: Customer, action: str) -> None:
    """Raises a UserError saying why and who can, unless `user_id` may `action` (edit, archive…) the customer."""
    admin = (
        is_workspace_admin(client, user_id)
        if needs_workspace_role(user_id, owner_id=customer.owner_id, partner_admins=settings.admins)
        else False
    )
    decision = may_change(user_id, owner_id=customer.owner_id, partner_admins=settings.admins, workspace_admin=admin)
    if not decision.allowed:
        raise UserError(
            refusal(action, customer_name=customer.name, owner_id=customer.owner_id, partner_admins=settings.admins)
        )


def require_workspace_admin(client: WebClient, settings: Settings, *, user_id: str, action: str) -> None:
    """Raises a UserError saying who can, unless `user_id` may change workspace settings (Slack's users.info is
    asked only when PARTNER_ADMINS does not already say yes)."""
    admin = user_id not in settings.admins and is_workspace_admin(client, user_id)
    if not may_change_workspace(user_id, partner_admins=settings.admins, workspace_admin=admin).allowed:
        raise UserError(workspace_refusal(action, partner_admins=settings.admins))
