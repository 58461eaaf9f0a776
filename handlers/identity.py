"""Whose request is this: the app's own workspace, or someone from another team in a Slack Connect channel.

External people (the customer's staff in a shared channel) may answer the customer's-own-view survey and
nothing else, so one small middleware refuses them everywhere but that button and its modal.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from slack_bolt import BoltContext, BoltResponse

from handlers.ids import CUSTOMER_VIEW_MODAL, OPEN_CUSTOMER_VIEW

REFUSAL = "Sorry — Partner is only available to the account team that installed it."


def app_team_id(context: BoltContext, body: dict[str, Any]) -> str:
    """The workspace the app is installed in (from auth.test), whatever team the clicking user belongs to."""
    authorized = context.authorize_result
    team_id = (authorized.team_id if authorized is not None else None) or context.team_id
    if not team_id:
        team_id = (body.get("team") or {}).get("id") or body.get("team_id")
    return str(team_id or "")


def actor_team_id(context: BoltContext, body: dict[str, Any]) -> str | None:
    """The home team of the person acting: payload user.team_id for interactions, Bolt's actor team otherwise."""
    user = body.get("user")
    if isinstance(user, dict) and user.get("team_id"):
        return str(user["team_id"])
    return context.actor_team_id or context.team_id


def is_external(context: BoltContext, body: dict[str, Any]) -> bool:
    actor = actor_team_id(context, body)
    home = app_team_id(context, body)
    return bool(actor and home and actor != home)


def _open_to_external(body: dict[str, Any]) -> bool:
    kind = body.get("type")
    if kind == "block_actions":
        actions = body.get("actions") or []
        return len(actions) == 1 and actions[0].get("action_id") == OPEN_CUSTOMER_VIEW
    if kind in ("view_submission", "view_closed"):
        return (body.get("view") or {}).get("callback_id") == CUSTOMER_VIEW_MODAL
    return False


def refuse_external_users(body: dict[str, Any], context: BoltContext, next: Callable[[], BoltResponse]) -> BoltResponse:
    """Global middleware: external users reach only the customer's-own-view button and modal."""
    if not is_external(context, body) or _open_to_external(body):
        return next()
    kind = body.get("type")
    if "command" in body:
        return _json({"response_type": "ephemeral", "text": REFUSAL})
    if kind == "view_submission":
        return _json({"response_action": "clear"})
    if kind == "block_suggestion":
        return _json({"options": []})
    return BoltResponse(status=200, body="")


def _json(body: dict[str, Any]) -> BoltResponse:
    return BoltResponse(status=200, body=json.dumps(body), headers={"content-type": "application/json"})
