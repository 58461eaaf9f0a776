"""Uninstall and token revocation: the workspace goes quiet but keeps its data; a reinstall brings it back.

``app_uninstalled`` / ``tokens_revoked`` (bot tokens): the workspace is marked inactive, its queued nudges are
cancelled, and the planners and the sender skip it from then on (``Workspace.active``; see
``storage/workspaces.py``). Nothing is deleted: an admin does that with ``partner-bot workspace purge``. In OAuth
mode the team's installations are deleted too, so no token of it is used again.

Reinstall: any other signed request from the team (a command, a click, an event…) reactivates it
(:func:`reactivate_on_reinstall`, a global middleware): Slack only sends those to an installed app.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import BoltContext, BoltResponse
from slack_sdk.oauth.installation_store import InstallationStore

from bot.clock import Clock
from storage.store import Store

logger = logging.getLogger(__name__)

UNINSTALL_EVENTS = frozenset({"app_uninstalled", "tokens_revoked"})


def workspace_uninstalled(
    event: dict[str, Any],
    context: BoltContext,
    store: Store,
    clock: Clock,
    installation_store: InstallationStore | None = None,
) -> None:
    """The listener of ``app_uninstalled`` and ``tokens_revoked``; a redelivery changes nothing more."""
    team_id = context.team_id
    if not team_id:
        return
    if event.get("type") == "tokens_revoked" and not (event.get("tokens") or {}).get("bot"):
        return  # only user tokens revoked: the bot still works
    cancelled = store.deactivate_workspace(team_id=team_id, now=clock())
    if installation_store is not None:
        installation_store.delete_all(enterprise_id=context.enterprise_id, team_id=team_id)
    logger.info(
        "workspace %s: %s; nudges stopped (%d queued cancelled), data kept", team_id, event.get("type"), cancelled
    )


def reactivate_on_reinstall(
    body: dict[str, Any], context: BoltContext, next: Callable[[], BoltResponse]
) -> BoltResponse:
    """A signed request from a team that had uninstalled Partner means it was installed again: active once more."""
    event = body.get("event") if isinstance(body.get("event"), dict) else {}
    store: Store | None = context.get("store")
    team_id = context.team_id
    wanted = bool(team_id) and store is not None and event.get("type") not in UNINSTALL_EVENTS
    if wanted and store is not None and team_id and store.reactivate_workspace(team_id=team_id):
        logger.info("workspace %s: Partner is installed again; nudges resume", team_id)
    return next()
