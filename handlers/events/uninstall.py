"""Uninstall and token revocation: the workspace goes quiet but keeps its data; a reinstall brings it back.

``app_uninstalled`` / ``tokens_revoked`` (bot tokens): the workspace is marked inactive, its queued nudges are
cancelled, and the planners and the sender skip it from then on (``Workspace.active``; see
``storage/workspaces.py``). Nothing is deleted: an admin does that with ``partner-bot workspace purge``. In OAuth
mode the team's installations are deleted too, so no token of it is used again.

Reinstall: any other signed request from the team (a command, a click, an event…) reactivates it
(:func:`reactivate_on_reinstall`, a global middleware): Slack only sends those to an installed app. In token mode a
reinstall brings a new bot token and a restart, and nobody need use Partner afterwards: the first tick of a process
asks Slack whose its token is (:func:`reactivate_token_team`) and reactivates that team (Slack refuses a revoked one).

So that this is not a database read on every request, each process remembers for ``ACTIVE_FOR`` (10 s) that a team
was active (:class:`ActiveWorkspaces`). The uninstall listener forgets the team at once in its own process. Another
replica may still remember it as active: a request it serves within 10 s of that team's last request *before* the
uninstall does not reactivate it. Slack sends nothing from an uninstalled team until the reinstall, so this needs an
uninstall and a reinstall within 10 s; even then, the team's first request to any process more than 10 s after its
last one there reactivates it (the bound: one request, and at most 10 s).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from slack_bolt import BoltContext, BoltRequest, BoltResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.oauth.installation_store import InstallationStore

from bot.clock import Clock
from schedules.slack_http import TOKEN_REFUSED, lasting
from storage.store import Store

logger = logging.getLogger(__name__)

UNINSTALL_EVENTS = frozenset({"app_uninstalled", "tokens_revoked", "team_access_revoked"})
ACTIVE_FOR = timedelta(seconds=10)


class ActiveWorkspaces:
    """The teams this process saw active lately, and when: the reinstall check skips the database for them."""

    def __init__(self, ttl: timedelta = ACTIVE_FOR) -> None:
        self.ttl = ttl
        self._seen: dict[str, datetime] = {}  # team → when last seen active (a dict: each operation is atomic)

    def __deepcopy__(self, memo: dict[int, Any]) -> ActiveWorkspaces:
        return self  # lazy listeners get a copied context; they must still share this process's memory

    def recently_active(self, team_id: str, now: datetime) -> bool:
        seen = self._seen.get(team_id)
        return seen is not None and timedelta(0) <= now - seen < self.ttl

    def active(self, team_id: str, now: datetime) -> None:
        self._seen[team_id] = now

    def forget(self, team_id: str) -> None:
        self._seen.pop(team_id, None)


def workspace_uninstalled(
    event: dict[str, Any],
    body: dict[str, Any],
    context: BoltContext,
    request: BoltRequest,
    client: WebClient,
    store: Store,
    clock: Clock,
    installation_store: InstallationStore | None = None,
) -> None:
    """The listener of ``app_uninstalled`` and ``tokens_revoked``; a redelivery changes nothing more, nor does one
    Slack retries after Partner was installed again (it retries up to 5 minutes later).

    An Enterprise Grid org that installed Partner org-wide uninstalls it for all its workspaces at once (the event
    says ``is_enterprise_install``): each workspace it served goes quiet, and the org's installation is deleted."""
    team_id = context.team_id
    organisation = context.enterprise_id if context.is_enterprise_install else None
    if not team_id and not organisation:
        return
    if event.get("type") == "tokens_revoked" and not (event.get("tokens") or {}).get("bot"):
        return  # only user tokens revoked: the bot still works
    if installation_store is not None and _installed_since(installation_store, context, body.get("event_time")):
        # The retry is signed and authorized by the new installation: deleting it left the workspace refused.
        logger.info("workspace %s: %s ignored: Partner was installed again since", team_id, event.get("type"))
        return
    if (
        installation_store is None
        and not organisation
        and team_id
        and _reinstalled_in_token_mode(request, client, store, team_id)
    ):
        logger.info(
            "workspace %s: Slack's retry of %s ignored: Partner was installed again since", team_id, event["type"]
        )
        return
    teams = {team_id} if team_id else set()
    if organisation:
        teams.update(store.organisation_workspaces(enterprise_id=organisation))
    active_workspaces: ActiveWorkspaces | None = context.get("active_workspaces")
    for team in sorted(teams):
        if active_workspaces is not None:
            active_workspaces.forget(team)
        cancelled = store.deactivate_workspace(team_id=team, now=clock())
        logger.info(
            "workspace %s: %s; nudges stopped (%d queued cancelled), data kept", team, event.get("type"), cancelled
        )
    if installation_store is not None:
        if organisation:
            installation_store.delete_all(enterprise_id=organisation, team_id=None)
        else:
            installation_store.delete_all(enterprise_id=context.enterprise_id, team_id=team_id)


def _reinstalled_in_token_mode(request: BoltRequest, client: WebClient, store: Store, team_id: str) -> bool:
    """Token mode keeps no installation to date: Slack's retry of an uninstall (up to 5 minutes later; the first
    delivery answered by a process since restarted, or by another replica) finding the workspace active means it
    was reactivated since — a reinstall and a restart with the new token — unless the first delivery was never
    applied. Slack settles which: the bot token works there only while Partner is installed (the uninstall revoked
    it). No answer from Slack: the uninstall is applied, as before."""
    retry = (request.headers.get("x-slack-retry-num") or ["0"])[0]  # Socket Mode's first delivery says "0"
    if not (retry.isdigit() and int(retry) > 0) or not store.workspace_active(team_id=team_id):
        return False
    try:
        return client.auth_test().get("team_id") == team_id
    except (SlackApiError, OSError):
        return False


def _installed_since(installation_store: InstallationStore, context: BoltContext, event_time: Any) -> bool:
    """Whether the installation authorizing this request was made after Slack sent the event (`event_time`)."""
    if not isinstance(event_time, int) or isinstance(event_time, bool):
        return False
    org_wide = bool(context.is_enterprise_install)
    installation = installation_store.find_installation(
        enterprise_id=context.enterprise_id,
        team_id=None if org_wide else context.team_id,
        is_enterprise_install=org_wide,
    )
    # Whole seconds, as event_time: an uninstall in the second of the install is taken as the later of the two.
    return installation is not None and int(installation.installed_at) > event_time


def organisation_access_changed(
    event: dict[str, Any], body: dict[str, Any], context: BoltContext, store: Store, clock: Clock
) -> None:
    """Enterprise Grid, an org-wide install: the organisation removed Partner from some of its workspaces
    (``team_access_revoked``) or added it back (``team_access_granted``), named in ``team_ids``. The workspaces
    Partner served through that organisation's installation go quiet at once (data kept), as an uninstall, instead
    of at the first post Slack refuses there (``team_access_not_granted``); added back, their nudges resume at once,
    without waiting for someone there to use Partner. A workspace with an installation of its own is not the
    organisation's to stop or start. A redelivery changes nothing more, nor does a change older (Slack's
    ``event_time``) than the last one applied: Slack may deliver a revoke after the grant that followed it."""
    organisation = context.enterprise_id or (event.get("enterprise_id") if isinstance(event, dict) else None)
    team_ids = event.get("team_ids")
    if not organisation or not isinstance(team_ids, list):
        return
    revoked = event.get("type") == "team_access_revoked"
    served = set(store.organisation_workspaces(enterprise_id=organisation))
    event_time = body.get("event_time")
    active_workspaces: ActiveWorkspaces | None = context.get("active_workspaces")
    for team in sorted({t for t in team_ids if isinstance(t, str)} & served):
        if isinstance(event_time, int) and not store.note_access_change(
            team_id=team, event_time=event_time, now=clock()
        ):
            logger.info(
                "workspace %s: %s of %d ignored: a later access change was applied already",
                team,
                event.get("type"),
                event_time,
            )
            continue
        if revoked:
            if active_workspaces is not None:
                active_workspaces.forget(team)
            cancelled = store.deactivate_workspace(team_id=team, now=clock())
            logger.info(
                "workspace %s: its organisation %s removed Partner from it; nudges stopped (%d queued cancelled), data"
                " kept",
                team,
                organisation,
                cancelled,
            )
        elif store.reactivate_workspace(team_id=team):
            logger.info("workspace %s: its organisation %s added Partner back; nudges resume", team, organisation)


def reactivate_on_reinstall(
    body: dict[str, Any], context: BoltContext, next: Callable[[], BoltResponse]
) -> BoltResponse:
    """A signed request from a team that had uninstalled Partner means it was installed again: active once more."""
    event = body.get("event") if isinstance(body.get("event"), dict) else {}
    store: Store | None = context.get("store")
    team_id = context.team_id
    if not team_id or store is None or event.get("type") in UNINSTALL_EVENTS:
        return next()
    active_workspaces: ActiveWorkspaces | None = context.get("active_workspaces")
    clock: Clock | None = context.get("clock")
    now = clock() if clock is not None else None
    if active_workspaces is not None and now is not None and active_workspaces.recently_active(team_id, now):
        return next()
    if store.reactivate_workspace(team_id=team_id):
        logger.info("workspace %s: Partner is installed again; nudges resume", team_id)
    if context.is_enterprise_install and context.enterprise_id and now is not None:
        # Served by its org's org-wide installation: jobs find that token through the org (bot/oauth.py).
        store.note_organisation(team_id=team_id, enterprise_id=context.enterprise_id, now=now)
    if active_workspaces is not None and now is not None:
        active_workspaces.active(team_id, now)
    return next()


def reactivate_token_team(store: Store, client: WebClient) -> bool:
    """Token mode: when a workspace is marked uninstalled and the bot token works for it, Partner was installed there
    again (uninstalling revokes the token); its nudges resume without waiting for someone to use Partner. Asks Slack
    only while some workspace is marked uninstalled.

    True once that is settled: nothing is marked uninstalled, or Slack said whose the token is, or refused it (still
    uninstalled: a new token comes with a restart). False when Slack gave no answer (an outage, a rate limit, a
    timeout): the caller asks again later, or a reinstall's nudges would wait for ever for someone to use Partner."""
    if not store.uninstalled_team_ids():
        return True
    try:
        team_id = client.auth_test().get("team_id")
    except SlackApiError as e:
        code = str(e.response.get("error") or "")
        settled = code in TOKEN_REFUSED or lasting(e)
        logger.info(
            "token check after an uninstall: %s%s", code or e.response.status_code, "" if settled else "; next tick"
        )
        return settled
    except OSError as e:  # Slack unreachable, or no answer in time
        logger.info("token check after an uninstall: %s; next tick", e)
        return False
    if team_id and store.reactivate_workspace(team_id=str(team_id)):
        logger.info("workspace %s: the bot token works again (Partner was reinstalled); nudges resume", team_id)
    return True
