"""The one error handler: turns any failure into a friendly answer on the surface the user is looking at."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.error import URLError

from slack_bolt import BoltContext, BoltResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot.answering import ANSWER_CALL_TIMEOUT, answering_now
from domain.errors import UserError
from handlers.blocks import as_code, placeholders_shown
from handlers.followups import answer_command, tell_author
from handlers.parsing import plain_words
from schedules.slack_http import TOKEN_REFUSED
from storage.db import lock_wait_given_up

logger = logging.getLogger("partner.errors")

SORRY = "Sorry — something went wrong on our side and it has been logged."
# Slack lets a form be opened for 3 seconds after the click or command; a slow moment makes views.open refuse.
LATE_FORM = "Slack didn't let me open the form in time (it allows only 3 seconds). Please try again."
_TRIGGER_ERRORS = frozenset({"expired_trigger_id", "invalid_trigger_id"})
# The trigger already opened its form: Slack delivered the same click or command again (a retry) and the user is
# looking at that form. Nothing to say; "try again" would only confuse.
_SPENT_TRIGGER = "exchanged_trigger_id"
# Slack itself busy or slow while the user waits (a 429 whose Retry-After outlasts the answer, a timeout): not
# something of ours to log as a failure, and "try again" is the whole remedy.
SLACK_BUSY = "Slack is busy right now and asked me to slow down. Please try again in a few seconds."
SLACK_SLOW = "Slack didn't answer in time. Please try again in a moment."
# Slack's own failure (5xx after the client's retries): not ours, and "Sorry… it has been logged" would mislead.
SLACK_DOWN = "Slack had a problem on its side just now. Please try again in a moment."
_SLACK_DOWN_ERRORS = frozenset({"internal_error", "fatal_error", "service_unavailable", "request_timeout"})
# The database down, restarting or failing over (GET /healthz says 503 meanwhile), or SQLite's writer lock held past
# the busy timeout: a wait, not a bug of ours, and the operator already sees it; the user only needs to try again.
DATABASE_DOWN = "Partner's database didn't answer just now, so I couldn't do that. Please try again in a minute."
# Another writer (a scheduled job, another replica) held the database's lock longer than an answer may wait
# (storage/db.py ANSWER_LOCK_WAIT_MS): the database is up and the lock is usually let go within seconds.
DATABASE_BUSY = (
    "Partner's database was busy with other work just now, so I couldn't do that. Please try again in a few seconds."
)


def _token_refused(error: str) -> str:
    return (
        f"Slack refused Partner's access to this workspace ({error}), so I can't do that right now. "
        "Please tell whoever runs Partner: `partner-bot doctor` shows what to fix."
    )


def _late_form(error: Exception) -> bool:
    return isinstance(error, SlackApiError) and error.response.get("error") in _TRIGGER_ERRORS


def _slack_trouble(error: Exception) -> str | None:
    """SLACK_BUSY or SLACK_SLOW when a Slack call made before the answer was rate-limited or timed out."""
    if isinstance(error, SlackApiError) and (
        error.response.status_code == 429 or error.response.get("error") == "ratelimited"
    ):
        return SLACK_BUSY
    if isinstance(error, SlackApiError) and (
        error.response.status_code >= 500 or error.response.get("error") in _SLACK_DOWN_ERRORS
    ):
        return SLACK_DOWN
    if isinstance(error, (TimeoutError, URLError)):  # slack_sdk's timeouts and dropped connections
        return SLACK_SLOW
    return None


def _json(body: dict[str, Any]) -> BoltResponse:
    return BoltResponse(status=200, body=json.dumps(body), headers={"content-type": "application/json"})


def person_name(client: WebClient, user_id: str) -> str:
    """@their name as Slack shows it (users.info), else @their id."""
    try:
        user = client.users_info(user=user_id)["user"]
    except (SlackApiError, OSError, KeyError, TypeError):
        return f"@{user_id}"
    profile = user.get("profile") or {}
    return "@" + str(profile.get("display_name") or profile.get("real_name") or user.get("name") or user_id)


def plain_text(message: str, client: WebClient) -> str:
    """A message written for mrkdwn as a form's field error shows it: Slack prints those as plain text, so
    `<@U0002>` would read as its markup and *bold* with its stars. People are named (users.info)."""
    return plain_words(message, person=lambda user_id: person_name(client, user_id))


def _first_input_block(view: dict[str, Any]) -> str | None:
    for block in view.get("blocks", []):
        if block.get("type") == "input" and block.get("block_id"):
            return str(block["block_id"])
    return None


def _tell(client: WebClient, body: dict[str, Any], text: str) -> None:
    """An ephemeral note where the user clicked: via response_url when Slack gave one; else, or when Slack refused
    it (expired, Slack's trouble: a webhook's refusal raises nothing), chat.postEphemeral, else a DM."""
    response_url = body.get("response_url") or next(
        (u.get("response_url") for u in body.get("response_urls", []) if u.get("response_url")), None
    )
    user = (body.get("user") or {}).get("id") or body.get("user_id")
    channel = (body.get("channel") or {}).get("id") or body.get("channel_id")
    # Before the answer (the error handler's usual place), at most what Slack's 3 s leave: a slow Slack here made the
    # click's answer late, and Slack showed its own error beside (or instead of) this note.
    timeout = ANSWER_CALL_TIMEOUT if answering_now() else 5
    send = WebhookClient(response_url, timeout=timeout).send if response_url else None
    if user:
        tell_author(send, client, user_id=user, channel_id=channel, text=text)
    elif not answer_command(send, text):
        logger.warning("could not tell the user about an error: %s", text[:80])


def _tell_in_modal(client: WebClient, body: dict[str, Any], text: str) -> bool:
    """A click inside a modal (e.g. a survey button on the card opened from Home): the note is pushed on top of
    it, where the user is looking (an ephemeral has no channel there, a DM would go unseen behind the modal).
    False when it is not such a click or Slack refused the push (a spent trigger, three views already)."""
    view = body.get("view") or {}
    trigger_id = body.get("trigger_id")
    if (body.get("container") or {}).get("type") != "view" or view.get("type") != "modal" or not trigger_id:
        return False
    notice = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Partner"},
        "close": {"type": "plain_text", "text": "OK"},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}],
    }
    try:
        client.views_push(trigger_id=trigger_id, view=notice)
    except (SlackApiError, OSError):
        logger.warning("could not show the error in the modal; telling the user elsewhere", exc_info=True)
        return False
    return True


def handle_error(error: Exception, *, body: dict[str, Any], context: BoltContext, client: WebClient) -> BoltResponse:
    if isinstance(error, SlackApiError) and error.response.get("error") == _SPENT_TRIGGER:
        logger.warning(
            "views.open: this trigger already opened a form (a redelivered request?) (team=%s)", context.team_id
        )
        return BoltResponse(status=200, body="")
    expected = isinstance(error, UserError)
    if expected:
        message = error.message  # type: ignore[attr-defined]
    elif _late_form(error):
        logger.warning("views.open refused (team=%s): %s", context.team_id, error.response.get("error"))  # type: ignore[attr-defined]
        message = LATE_FORM
    elif isinstance(error, SlackApiError) and error.response.get("error") in TOKEN_REFUSED:
        # The operator must act (a revoked or wrong token): an error in the log, no traceback to dig through.
        logger.error("Slack refused the bot token (team=%s): %s", context.team_id, error.response.get("error"))
        message = _token_refused(str(error.response.get("error")))
    elif (trouble := _slack_trouble(error)) is not None:
        logger.warning("Slack busy or slow before the answer (team=%s): %r", context.team_id, error)
        message = trouble
    elif isinstance(error, OperationalError) and lock_wait_given_up(error):
        # Not an outage (the operator's alerts stay quiet): worth a warning when it comes often.
        logger.warning("database busy (team=%s): another writer held the lock past the answer's wait", context.team_id)
        message = DATABASE_BUSY
    elif isinstance(error, OperationalError | PoolTimeout):
        first_line = (str(error).strip().splitlines() or ["no detail"])[0]
        logger.error("database unavailable (team=%s): %s: %s", context.team_id, type(error).__name__, first_line)
        message = DATABASE_DOWN
    else:
        logger.exception("listener failed (team=%s)", context.team_id, exc_info=error)
        message = SORRY
    kind = body.get("type")
    message = placeholders_shown(message)  # "Usage: `/partner show <customer>`" as Slack shows it (forms unescape it)

    if "command" in body:
        typed = (body.get("text") or "").strip()
        if not expected and typed:
            # Nothing the user typed is lost: give it back so they can try again.
            message += "\nYou typed: " + as_code(f"{body.get('command')} {typed}")
        return _json({"response_type": "ephemeral", "text": message})

    if kind == "view_submission":
        view = body.get("view") or {}
        if expected and (several := error.field_errors()) and len(several) > 1:  # type: ignore[attr-defined]
            # Every wrong input at once, each next to its field: Slack takes them all in one answer.
            errors = {k: plain_text(v, client)[:2000] for k, v in several.items()}
            return _json({"response_action": "errors", "errors": errors})
        field = getattr(error, "field", None) or _first_input_block(view)
        if field:
            if message == SORRY:
                message += " Your answers are still here; please try again."
            elif message in (DATABASE_DOWN, DATABASE_BUSY):
                message += " Your answers are still here."
            return _json({"response_action": "errors", "errors": {field: plain_text(message, client)[:2000]}})
        _tell(client, body, message)
        return _json({})

    if kind in ("block_actions", "message_action", "shortcut", "block_suggestion"):
        if kind == "block_suggestion":
            return _json({"options": []})
        if not (kind == "block_actions" and _tell_in_modal(client, body, message)):
            _tell(client, body, message)
        return BoltResponse(status=200, body="")

    # Events: a 500 makes Slack retry, which is right for a failure of ours and useless for bad input.
    return BoltResponse(status=200 if expected else 500, body="")
