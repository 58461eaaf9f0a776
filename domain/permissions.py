"""Who may change what. Pure: the caller says who the user is; Slack lookups happen in the handlers.

Anyone in the workspace may add a customer and log a check-in. Changing a customer record (edit, rename,
archive, restore) is for its owner, workspace admins and owners (Slack's is_admin / is_owner), and the
Partner admins listed in PARTNER_ADMINS. Workspace settings (the weekly team digest's channel and time) are for
workspace admins and owners and Partner admins only.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass


@dataclass(frozen=True)
class Decision:
    allowed: bool
    # Allowed: the role that grants it ("owner", "partner admin", "workspace admin", "unowned").
    # Refused: "not owner or admin".
    reason: str


def needs_workspace_role(user_id: str, *, owner_id: str | None, partner_admins: Collection[str]) -> bool:
    """True when only the user's Slack role (users.info) can still decide; spares a Web API call otherwise."""
    return owner_id is not None and user_id != owner_id and user_id not in partner_admins


def may_change(
    user_id: str, *, owner_id: str | None, partner_admins: Collection[str], workspace_admin: bool = False
) -> Decision:
    """Whether `user_id` may edit, rename, archive or restore a customer owned by `owner_id`."""
    if owner_id is None:
        # Nobody owns it (e.g. the owner left): anyone may claim and fix it rather than nobody.
        return Decision(True, "unowned")
    if user_id == owner_id:
        return Decision(True, "owner")
    if user_id in partner_admins:
        return Decision(True, "partner admin")
    if workspace_admin:
        return Decision(True, "workspace admin")
    return Decision(False, "not owner or admin")


def may_change_workspace(user_id: str, *, partner_admins: Collection[str], workspace_admin: bool = False) -> Decision:
    """Whether `user_id` may change a workspace setting (the weekly team digest's channel and time)."""
    if user_id in partner_admins:
        return Decision(True, "partner admin")
    if workspace_admin:
        return Decision(True, "workspace admin")
    return Decision(False, "not an admin")


def workspace_refusal(action: str, *, partner_admins: Collection[str]) -> str:
    """Why a workspace setting was refused and who can change it."""
    who = "workspace admins and owners"
    if partner_admins:
        who += " or Partner admins (" + ", ".join(f"<@{a}>" for a in sorted(partner_admins)) + ")"
    return f"You can't {action}: it's a setting for the whole workspace, so only {who} can. Ask one of them."


def refusal(
    action: str,
    *,
    customer_name: str,
    owner_id: str | None,
    partner_admins: Collection[str],
    owner_gone: bool = False,
) -> str:
    """Why a change was refused and who can make it, e.g. for action "archive"; `customer_name` as mrkdwn shows it
    (domain.mrkdwn.mrkdwn_name). `owner_gone`: Slack says the owner is deactivated, so they are nobody to ask: the
    admins are, to pick another owner."""
    who = [f"its owner <@{owner_id}>"] if owner_id and not owner_gone else []
    who.append("workspace admins")
    if partner_admins:
        who.append("Partner admins (" + ", ".join(f"<@{a}>" for a in sorted(partner_admins)) + ")")
    listed = ", ".join(who[:-1]) + " or " + who[-1] if len(who) > 1 else who[0]
    if owner_gone and owner_id:
        return (
            f"You can't {action} *{customer_name}*: its owner <@{owner_id}> was deactivated in Slack, so only "
            f"{listed} can. Ask one of them to pick another owner — anyone can still log check-ins on it."
        )
    return (
        f"You can't {action} *{customer_name}*: only {listed} can. "
        "Ask one of them — anyone can still log check-ins on it."
    )
