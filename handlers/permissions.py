"""Applies domain.permissions with what Slack knows about the user (users.info: is_admin / is_owner, guests)."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.settings import Settings
from domain.errors import UserError
from domain.permissions import may_change, may_change_workspace, needs_workspace_role, refusal, workspace_refusal
from schedules.slack_http import lasting
from storage.models import Customer

logger = logging.getLogger(__name__)

MEMBERS_ONLY = (
    "Exports are for full members of the workspace: Slack shows you as a guest, so Partner sends you no files. "
    "Nothing was exported."
)
WHO_UNKNOWN = (
    "Sorry — I couldn't check who you are with Slack just now, so nothing was exported. Try again in a moment."
)


def slack_user(client: WebClient, user_id: str) -> dict[str, Any]:
    """users.info's record of the person (asked each time: a role or guest status can change any day)."""
    user: dict[str, Any] = client.users_info(user=user_id)["user"]
    return user


def is_workspace_admin(client: WebClient, user_id: str) -> bool:
    try:
        user = slack_user(client, user_id)
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


def require_full_member(client: WebClient, *, user_id: str) -> None:
    """Raises a UserError unless Slack says `user_id` is a full member: guests (multi-channel `is_restricted`,
    single-channel `is_ultra_restricted`) are often contractors or outsiders, and an export holds every customer's
    notes. When Slack cannot say (rate limit, outage, timeout), nothing is exported either: fail closed."""
    try:
        user = slack_user(client, user_id)
    except (SlackClientError, OSError, KeyError, TypeError) as e:
        error = e.response.get("error") if isinstance(e, SlackApiError) else type(e).__name__
        logger.warning("users.info failed for %s (%s): export refused", user_id, error)
        raise UserError(WHO_UNKNOWN) from None
    if user.get("is_restricted") or user.get("is_ultra_restricted"):
        raise UserError(MEMBERS_ONLY)
