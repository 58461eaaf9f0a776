"""Whose request is this: the app's own organisation, or someone from another one in a Slack Connect channel.

External people (the customer's staff in a shared channel) may answer the customer's-own-view survey and
nothing else, so one small middleware refuses them everywhere but that button and its modal, with a short
ephemeral "Only <team>'s account team can …" through the one error handler (bot/errors.py), changing nothing.

Who is external, as Slack describes the actor:
* Interactions carry ``user.team_id``: the clicking person's home workspace, while ``team.id`` stays the workspace
  the message or view belongs to (Partner's). Commands carry the person's ``team_id``.
* Enterprise Grid: Slack may give the organisation's id (``E…``) as ``user.team_id``, and the people of the
  organisation's other workspaces have other workspace ids, yet they are all Partner's own people. So with Partner
  in an organisation (``enterprise_id`` of its installation, or of the payload's team), the organisation's id is
  internal, another ``E…`` is another organisation, and another workspace id is looked up once (users.info: a
  person of another organisation is ``is_stranger``, one of ours carries our ``enterprise_user.enterprise_id``).
  When Slack cannot say, the person is let through: refusing our own people would break Partner for them, and
  every change still checks who may make it.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from slack_bolt import BoltContext, BoltResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from domain.errors import UserError
from handlers.ids import (
    BOUNDARY_ACTIVATE,
    BOUNDARY_CALL_NO,
    BOUNDARY_CALL_YES,
    BOUNDARY_DECIDE_FLAG,
    BOUNDARY_DECIDE_RENEGOTIATE,
    BOUNDARY_DECIDE_RETIRE,
    BOUNDARY_DECIDE_TALK,
    BOUNDARY_HELD,
    BOUNDARY_RETIRE,
    BOUNDARY_SLIP,
    CARD_ASK,
    CUSTOMER_VIEW_MODAL,
    HOME_SURVEY,
    NUDGE_LOG_CALL,
    NUDGE_SKIP,
    NUDGE_SNOOZE,
    OPEN_CHECKIN,
    OPEN_CUSTOMER_VIEW,
    OPEN_SURVEY,
)

logger = logging.getLogger(__name__)

_EXTERNAL_KEY = "partner_external_user"  # the middleware's answer, for listeners that ask again
_UNKNOWN = "unknown"  # kept under _EXTERNAL_KEY when Slack could not say (users.info failed)
# What a refused person was trying to do, by the button's action_id ("Only Acme's account team can …").
_BOUNDARY_ACTIONS = (
    BOUNDARY_ACTIVATE,
    BOUNDARY_SLIP,
    BOUNDARY_HELD,
    BOUNDARY_RETIRE,
    BOUNDARY_DECIDE_TALK,
    BOUNDARY_DECIDE_RENEGOTIATE,
    BOUNDARY_DECIDE_RETIRE,
    BOUNDARY_DECIDE_FLAG,
    BOUNDARY_CALL_YES,
    BOUNDARY_CALL_NO,
)
_DOING: dict[str, str] = {
    NUDGE_LOG_CALL: "log calls",
    NUDGE_SNOOZE: "snooze reminders",
    NUDGE_SKIP: "skip calls",
    OPEN_CHECKIN: "log check-ins",
    OPEN_SURVEY: "answer this survey",
    HOME_SURVEY: "answer this survey",
    CARD_ASK: "ask for the customer's view",
    **{action_id: "change working agreements" for action_id in _BOUNDARY_ACTIONS},
}


def app_team_id(context: BoltContext, body: dict[str, Any]) -> str:
    """The workspace the app is installed in (from auth.test), whatever team the clicking user belongs to."""
    authorized = context.authorize_result
    team_id = (authorized.team_id if authorized is not None else None) or context.team_id
    if not team_id:
        team_id = (body.get("team") or {}).get("id") or body.get("team_id")
    return str(team_id or "")


def app_enterprise_id(context: BoltContext, body: dict[str, Any]) -> str | None:
    """The Enterprise Grid organisation Partner is installed in; None for a standalone workspace. From its
    installation (auth.test), else from the payload's `team`: the workspace the message or view belongs to,
    Partner's (not the top-level `enterprise`, which is not documented to be Partner's side in Slack Connect)."""
    authorized = context.authorize_result
    found = authorized.enterprise_id if authorized is not None else None
    team = body.get("team")
    if not found and isinstance(team, dict):
        found = team.get("enterprise_id")
    return str(found) if found else None


def actor_team_id(context: BoltContext, body: dict[str, Any]) -> str | None:
    """The home team of the person acting: payload user.team_id for interactions, Bolt's actor team otherwise."""
    user = body.get("user")
    if isinstance(user, dict) and user.get("team_id"):
        return str(user["team_id"])
    return context.actor_team_id or context.team_id


def actor_user_id(context: BoltContext, body: dict[str, Any]) -> str | None:
    user = body.get("user")
    if isinstance(user, dict) and user.get("id"):
        return str(user["id"])
    return context.actor_user_id or context.user_id


def is_external(context: BoltContext, body: dict[str, Any]) -> bool:
    """True for a person of another organisation (Slack Connect); asked of Slack at most once per person. When Slack
    cannot say, False: the person is let through (every change still checks who may make it)."""
    return bool(external_status(context, body))


def external_status(context: BoltContext, body: dict[str, Any]) -> bool | None:
    """is_external, or None when Slack could not say (users.info failed in an Enterprise Grid organisation): the
    customer's-own-view button must not take their person for one of ours then."""
    known = context.get(_EXTERNAL_KEY)
    if isinstance(known, bool):
        return known
    if known == _UNKNOWN:
        return None
    external = _is_external(context, body)
    context[_EXTERNAL_KEY] = _UNKNOWN if external is None else external
    return external


def _is_external(context: BoltContext, body: dict[str, Any]) -> bool | None:
    actor = actor_team_id(context, body)
    home = app_team_id(context, body)
    if not actor or not home or actor == home:
        return False
    organisation = app_enterprise_id(context, body)
    if organisation is None:
        return True  # a standalone workspace: another team is another organisation
    if actor == organisation:
        return False  # Slack gave the organisation's id for one of its people
    if actor.startswith("E"):
        return True  # another organisation's id
    user_id = actor_user_id(context, body)
    client = context.client
    if not user_id or client is None:
        return False
    return _STRANGERS.of_another_organisation(client, home, user_id, organisation)


class _Strangers:
    """users.info's word on people met in another workspace id, kept for the process: which organisation someone
    belongs to does not change, and a button click must not wait on Slack every time."""

    LIMIT = 10_000

    def __init__(self) -> None:
        self._known: OrderedDict[tuple[str, str], bool] = OrderedDict()
        self._lock = threading.Lock()

    def of_another_organisation(self, client: WebClient, home: str, user_id: str, organisation: str) -> bool | None:
        """None when Slack could not say (not remembered: asked again next time)."""
        key = (home, user_id)
        with self._lock:
            if key in self._known:
                return self._known[key]
        try:
            user = client.users_info(user=user_id)["user"]
        except (SlackApiError, OSError) as e:
            error = e.response.get("error") if isinstance(e, SlackApiError) else type(e).__name__
            logger.warning("users.info failed for %s (%s): treated as one of ours", user_id, error)
            return None
        enterprise = (user.get("enterprise_user") or {}).get("enterprise_id")
        external = bool(user.get("is_stranger")) or bool(enterprise and enterprise != organisation)
        with self._lock:
            self._known[key] = external
            while len(self._known) > self.LIMIT:
                self._known.popitem(last=False)
        return external

    def forget(self) -> None:
        with self._lock:
            self._known.clear()


_STRANGERS = _Strangers()


_team_names: dict[str, str] = {}  # workspace id → its name, from auth.test (a single-token install's result has none)


def _team_name(context: BoltContext, team_id: str) -> str:
    authorized = context.authorize_result
    if authorized is not None and authorized.team:
        return str(authorized.team)
    if team_id in _team_names:
        return _team_names[team_id]
    try:
        name = context.client.auth_test().get("team") if context.client is not None else None
    except (SlackApiError, OSError):
        name = None
    if not name:
        return "this workspace"
    _team_names[team_id] = str(name)
    return str(name)


def refusal(context: BoltContext, body: dict[str, Any]) -> str:
    """ "Only <team>'s account team can <what they tried>." """
    team = _team_name(context, app_team_id(context, body))
    if "command" in body:
        doing = f"use `{body.get('command') or '/partner'}`"
    elif body.get("type") == "block_actions":
        actions = body.get("actions") or [{}]
        doing = _DOING.get(str(actions[0].get("action_id")), "use Partner's buttons")
    elif body.get("type") == "view_submission":
        doing = "send this form"
    else:
        doing = "use Partner"
    return f"Only {team}'s account team can {doing}. Nothing was changed."


def open_to_external(body: dict[str, Any]) -> bool:
    kind = body.get("type")
    if kind == "block_actions":
        actions = body.get("actions") or []
        return len(actions) == 1 and actions[0].get("action_id") == OPEN_CUSTOMER_VIEW
    if kind in ("view_submission", "view_closed"):
        return (body.get("view") or {}).get("callback_id") == CUSTOMER_VIEW_MODAL
    return False


def refuse_external_users(body: dict[str, Any], context: BoltContext, next: Callable[[], BoltResponse]) -> BoltResponse:
    """Global middleware: external users reach only the customer's-own-view button and modal; anything else gets a
    friendly refusal from the one error handler (an ephemeral note, the form's field, no options) and changes
    nothing."""
    if not is_external(context, body) or open_to_external(body):
        return next()
    if body.get("type") == "block_suggestion":
        return _json({"options": []})
    raise UserError(refusal(context, body))


def _json(body: dict[str, Any]) -> BoltResponse:
    return BoltResponse(status=200, body=json.dumps(body), headers={"content-type": "application/json"})
