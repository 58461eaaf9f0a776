"""Signed HTTP requests to the bot, shaped exactly like the ones Slack sends.

Slash commands are form bodies; interactions are form bodies with a single ``payload`` JSON field;
events are JSON envelopes. Every request carries ``X-Slack-Request-Timestamp`` and the v0 HMAC
``X-Slack-Signature`` that Bolt verifies, so the bot's real request verification runs in tests.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

if TYPE_CHECKING:
    from tests.fake_slack import FakeSlack

USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"
_counter = itertools.count(1)


def sign(signing_secret: str, body: bytes, timestamp: int) -> str:
    """Slack's v0 request signature: HMAC-SHA256 over ``v0:<timestamp>:<body>``."""
    base = b"v0:%d:" % timestamp + body
    return "v0=" + hmac.new(signing_secret.encode("utf-8"), base, hashlib.sha256).hexdigest()


def new_trigger_id() -> str:
    """A unique id shaped like Slack's, e.g. "13345224609.738474920.8088930838d88f008e0"."""
    return f"{13345224609 + next(_counter)}.{secrets.randbelow(10**9):09d}.{secrets.token_hex(10)}"


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)


_SLACK_TOKEN = re.compile(r"<(?:[@#!]|https?://|mailto:|tel:|slack://)[^<>\n]*>")


def stray_angle(text: str) -> str | None:
    """A `<…>` in mrkdwn that is none of Slack's tokens: Slack would eat it (`<customer>` shows as a broken link)."""
    for match in re.finditer(r"<[^<>\n]*>|<", text):
        if not _SLACK_TOKEN.fullmatch(match[0]):
            return match[0]
    return None


def mrkdwn_texts(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["text"]] if node.get("type") == "mrkdwn" and isinstance(node.get("text"), str) else []
        return own + [t for value in node.values() for t in mrkdwn_texts(value)]
    if isinstance(node, list):
        return [t for item in node for t in mrkdwn_texts(item)]
    return []


def check_ack_blocks(reply: Response) -> None:
    """Slack refuses an ack whose blocks (a command's reply, a view_submission's update/push) break Block Kit's
    limits, and the user sees an error instead of the reply: fail the test the way Slack would refuse it."""
    from tests.fake_slack import MAX_MESSAGE_BLOCKS, MAX_MESSAGE_TEXT, FakeSlack, block_kit_violation

    if reply.status != 200 or "json" not in reply.headers.get("Content-Type", "").lower():
        return
    try:
        answer = reply.json()
    except ValueError:
        return
    if not isinstance(answer, dict):
        return
    blocks = answer.get("blocks")
    assert len(str(answer.get("text") or "")) <= MAX_MESSAGE_TEXT, "Slack would refuse this reply (msg_too_long)"
    for text in [answer.get("text"), *mrkdwn_texts(blocks)]:
        stray = stray_angle(text) if isinstance(text, str) else None
        assert stray is None, f"Slack would read {stray!r} as a link or mention, not show it: {text!r}"
    if isinstance(blocks, list):
        assert len(blocks) <= MAX_MESSAGE_BLOCKS, f"Slack would refuse this reply of {len(blocks)} blocks"
        violation = block_kit_violation(blocks, "/blocks")
        assert violation is None, f"Slack would refuse this reply (invalid_blocks): {violation}"
    if isinstance(answer.get("options"), list) or isinstance(answer.get("option_groups"), list):
        # a block_suggestion's answer: an external select's options, or its option groups
        violation = block_kit_violation([{"type": "actions", "elements": [{"type": "external_select", **answer}]}], "")
        assert violation is None, f"Slack would not show these options: {violation}"
    if answer.get("response_action") in ("update", "push"):
        try:
            FakeSlack.check_view(answer.get("view"), ("modal",))
        except Exception as refused:  # the fake's _ApiError, with Slack's messages
            raise AssertionError(f"Slack would refuse this view: {getattr(refused, 'messages', refused)}") from None


# What Slack's client makes of a typed address before a command with `should_escape: true` is sent: an e-mail address
# becomes a mailto link, an address with its scheme a bare link, a domain (with or without a path) a link labelled
# as typed. Only the forms tests type; `&`, `<` and `>` are escaped first, as Slack does.
_TYPED_EMAIL = re.compile(r"(?<![\w.+-])([\w.+-]+@[\w-]+(?:\.[\w-]+)+)")
_TYPED_URL = re.compile(r"(?<![\w/<|])(https?://[^\s<>|]+)")
_TYPED_DOMAIN = re.compile(r"(?<![\w@./<|:-])((?:[\w-]+\.)+(?:com|io|net|org|co|dev)(?:/[^\s<>|]*)?)(?![\w@|>])")


def as_slack_sends(typed: str) -> str:
    """`typed`, as Slack sends it in a command's text: `mail help@acme.com or acme.com/help` arrives as
    `mail <mailto:help@acme.com|help@acme.com> or <http://acme.com/help|acme.com/help>`."""
    text = typed.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _TYPED_EMAIL.sub(lambda m: f"<mailto:{m[1]}|{m[1]}>", text)
    text = _TYPED_URL.sub(lambda m: f"<{m[1]}>", text)
    return _TYPED_DOMAIN.sub(lambda m: f"<http://{m[1]}|{m[1]}>", text)


def offered_options(reply: Response) -> list[dict[str, Any]]:
    """The options a block_suggestion's answer offers, in order: its `options`, or those of its `option_groups`."""
    answer = reply.json()
    if "option_groups" in answer:
        return [option for group in answer["option_groups"] for option in group["options"]]
    return list(answer["options"])


class SlackRequests:
    """Posts signed Slack requests (commands, interactions, events) to the bot at ``base_url``."""

    def __init__(
        self,
        base_url: str,
        *,
        signing_secret: str,
        team_id: str = "T0001",
        team_domain: str = "acme",
        enterprise_id: str | None = None,
        org_wide: bool = False,
        api_app_id: str = "A0001",
        fake: FakeSlack | None = None,
        clock: Callable[[], float] = time.time,
        verification_token: str = "verification-token-deprecated",
        # How long a test waits for an answer: not Slack's 3 s (goal 1's latency is benchmarked, never timed in a
        # test), but long enough for a starved CPU or a full garbage collection of the test process's heap late in
        # the suite, which held a CI answer 10.3 s inside SQLAlchemy's compiler (session 15, partner.slow_answers).
        timeout: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.signing_secret = signing_secret
        self.team_id = team_id
        self.team_domain = team_domain
        self.enterprise_id = enterprise_id
        # Enterprise Grid: Partner was installed for the whole organisation (payloads say is_enterprise_install).
        self.org_wide = org_wide
        self.api_app_id = api_app_id
        self.fake = fake
        self.clock = clock
        self.verification_token = verification_token
        self.timeout = timeout
        # What the last helper sent, decoded: handy for reading back a generated trigger_id/response_url.
        self.last_payload: dict[str, Any] = {}

    # ------------------------------------------------------------------ transport

    def post(
        self,
        body: bytes,
        *,
        content_type: str,
        timestamp: int | None = None,
        signature: str | None = None,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
        headers: dict[str, str] | None = None,
        path: str = "/slack/events",
    ) -> Response:
        """POST ``body`` signed with the secret (or the given ``signature``); never raises on HTTP errors."""
        ts = int(self.clock()) if timestamp is None else timestamp
        request_headers = {
            "Content-Type": content_type,
            "User-Agent": USER_AGENT,
            "Accept": "application/json,*/*",
            "X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": signature if signature is not None else sign(self.signing_secret, body, ts),
        }
        if retry_num is not None:
            request_headers["X-Slack-Retry-Num"] = str(retry_num)
            request_headers["X-Slack-Retry-Reason"] = retry_reason
        request_headers.update(headers or {})
        request = urllib.request.Request(self.base_url + path, data=body, headers=request_headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                reply = Response(response.status, dict(response.headers.items()), response.read())
        except urllib.error.HTTPError as error:
            with error:
                return Response(error.code, dict(error.headers.items()), error.read())
        check_ack_blocks(reply)
        return reply

    def _post_form(self, fields: dict[str, str], post_kwargs: dict[str, Any]) -> Response:
        body = urlencode(fields).encode("utf-8")
        return self.post(body, content_type="application/x-www-form-urlencoded", **post_kwargs)

    def _post_payload(self, payload: dict[str, Any], post_kwargs: dict[str, Any]) -> Response:
        self.last_payload = payload
        # Slack sends compact JSON inside the form field.
        reply = self._post_form({"payload": json.dumps(payload, separators=(",", ":"))}, post_kwargs)
        if payload.get("type") == "view_submission":
            self._check_view_errors(reply, payload["view"])
        return reply

    def _check_view_errors(self, reply: Response, submitted: dict[str, Any]) -> None:
        """Slack refuses `response_action: errors` naming a block the submitted view has no input of: fail the test
        the way Slack would. The view's blocks are the submitted ones, else those of the view the fake opened with
        that id (Slack sends them; a test's hand-made view has none, and is not checked)."""
        from tests.fake_slack import FakeSlack

        try:
            answer = reply.json() if reply.status == 200 and reply.body else None
        except ValueError:
            return
        if not isinstance(answer, dict) or answer.get("response_action") != "errors":
            return
        view = submitted
        if not view.get("blocks") and self.fake is not None and view.get("id") in self.fake.views:
            view = self.fake.views[view["id"]]
        if not view.get("blocks"):
            return
        try:
            FakeSlack.check_view_errors(answer, view)
        except Exception as refused:  # the fake's _ApiError, with Slack's messages
            raise AssertionError(f"Slack would refuse these errors: {getattr(refused, 'messages', refused)}") from None

    # ------------------------------------------------------------------ building blocks

    def _response_url(self) -> str:
        if self.fake is not None:
            return self.fake.response_url()
        return f"https://hooks.slack.com/actions/{self.team_id}/{next(_counter)}/{secrets.token_hex(12)}"

    def _action_ts(self) -> str:
        return f"{self.clock():.6f}"

    def _bot_user_id(self) -> str:
        return self.fake.bot_user_id if self.fake is not None else "UBOT"

    def _team(self) -> dict[str, Any]:
        team: dict[str, Any] = {"id": self.team_id, "domain": self.team_domain}
        if self.enterprise_id:
            team["enterprise_id"] = self.enterprise_id
        return team

    def _enterprise(self) -> dict[str, Any] | None:
        return {"id": self.enterprise_id, "name": "Enterprise"} if self.enterprise_id else None

    def _user(self, user_id: str, user_name: str) -> dict[str, Any]:
        return {"id": user_id, "username": user_name, "name": user_name, "team_id": self.team_id}

    def _envelope(self, kind: str, user_id: str, user_name: str) -> dict[str, Any]:
        return {
            "type": kind,
            "team": self._team(),
            "user": self._user(user_id, user_name),
            "api_app_id": self.api_app_id,
            "token": self.verification_token,
            "enterprise": self._enterprise(),
            "is_enterprise_install": self.org_wide,
        }

    def _channel_name(self, channel_id: str) -> str:
        if self.fake is not None:
            channel = self.fake.channels.get(channel_id)
            if channel is not None:
                return str(channel.get("name") or "directmessage")
        return "directmessage" if channel_id.startswith("D") else "general"

    def default_view(
        self,
        *,
        view_id: str = "V0001",
        callback_id: str = "",
        private_metadata: str = "",
        hash: str = "h1",
        values: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A modal view object as it appears inside interaction payloads."""
        return {
            "id": view_id,
            "team_id": self.team_id,
            "type": "modal",
            "blocks": [],
            "private_metadata": private_metadata,
            "callback_id": callback_id,
            "state": {"values": values or {}},
            "hash": hash,
            "title": {"type": "plain_text", "text": "Partner", "emoji": True},
            "clear_on_close": False,
            "notify_on_close": False,
            "close": {"type": "plain_text", "text": "Cancel", "emoji": True},
            "submit": {"type": "plain_text", "text": "Submit", "emoji": True},
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": self.api_app_id,
            "external_id": "",
            "app_installed_team_id": self.team_id,
            "bot_id": "B0001",
        }

    # ------------------------------------------------------------------ slash commands

    def command(
        self,
        text: str,
        *,
        user_id: str = "U0001",
        user_name: str = "dana",
        channel_id: str = "C0001",
        channel_name: str = "general",
        command: str = "/partner",
        trigger_id: str | None = None,
        **post_kwargs: Any,
    ) -> Response:
        fields: dict[str, str] = {
            "token": self.verification_token,
            "team_id": self.team_id,
            "team_domain": self.team_domain,
        }
        if self.enterprise_id:
            fields.update(enterprise_id=self.enterprise_id, enterprise_name="Enterprise")
        fields.update(
            channel_id=channel_id,
            channel_name=channel_name,
            user_id=user_id,
            user_name=user_name,
            command=command,
            text=text,
            api_app_id=self.api_app_id,
            is_enterprise_install="true" if self.org_wide else "false",
            response_url=self._response_url(),
            trigger_id=trigger_id or new_trigger_id(),
        )
        self.last_payload = dict(fields)
        return self._post_form(fields, post_kwargs)

    # ------------------------------------------------------------------ interactions

    def block_action(
        self,
        action_id: str,
        *,
        value: str | None = None,
        block_id: str = "b1",
        user_id: str = "U0001",
        user_name: str = "dana",
        channel_id: str | None = "C0001",
        message: dict[str, Any] | None = None,
        view: dict[str, Any] | None = None,
        action_type: str = "button",
        selected_option: dict[str, Any] | None = None,
        trigger_id: str | None = None,
        action_fields: dict[str, Any] | None = None,
        state_values: dict[str, Any] | None = None,
        ephemeral: bool = False,
        **post_kwargs: Any,
    ) -> Response:
        """A ``block_actions`` payload, from a view when ``view`` is given, else from a channel message.

        ``action_fields`` adds type-specific keys such as ``selected_user`` or ``selected_date``. ``ephemeral``: the
        message was one only the user saw (a command's reply, e.g. the card): Slack sends no ``message`` then, and
        says ``is_ephemeral`` in the container.
        """
        action: dict[str, Any] = {
            "action_id": action_id,
            "block_id": block_id,
            "type": action_type,
            "action_ts": self._action_ts(),
        }
        if value is not None:
            action["value"] = value
        if action_type == "button":
            action["text"] = {"type": "plain_text", "text": action_id, "emoji": True}
        if selected_option is not None:
            action["selected_option"] = selected_option
        action.update(action_fields or {})

        payload = self._envelope("block_actions", user_id, user_name)
        payload["trigger_id"] = trigger_id or new_trigger_id()
        if view is not None:
            payload["container"] = {"type": "view", "view_id": view.get("id", "V0001")}
            payload["view"] = view  # a view's input state travels inside the view, not at top level
            if self.fake is not None and view.get("type") == "modal":  # Slack knows where the click's trigger came from
                self.fake.note_trigger_from_view(payload["trigger_id"], str(view.get("id", "V0001")))
        else:
            if message is None:
                message = {
                    "type": "message",
                    "user": self._bot_user_id(),
                    "bot_id": "B0001",
                    "text": "",
                    "ts": "1764100000.000100",
                    "blocks": [],
                }
            payload["container"] = {
                "type": "message",
                "message_ts": message.get("ts"),
                "channel_id": channel_id,
                "is_ephemeral": ephemeral,
            }
            if channel_id is not None:
                payload["channel"] = {"id": channel_id, "name": self._channel_name(channel_id)}
            if not ephemeral:
                payload["message"] = message
            payload["state"] = {"values": state_values or {}}
            payload["response_url"] = self._response_url()
        payload["actions"] = [action]
        return self._post_payload(payload, post_kwargs)

    def view_submission(
        self,
        callback_id: str,
        values: dict[str, Any],
        *,
        private_metadata: str = "",
        user_id: str = "U0001",
        user_name: str = "dana",
        view_id: str = "V0001",
        hash: str = "h1",
        trigger_id: str | None = None,
        view_fields: dict[str, Any] | None = None,
        **post_kwargs: Any,
    ) -> Response:
        """``values`` is the state shape: ``{block_id: {action_id: {"type": ..., "value": ...}}}``."""
        view = self.default_view(
            view_id=view_id, callback_id=callback_id, private_metadata=private_metadata, hash=hash, values=values
        )
        view.update(view_fields or {})
        payload = self._envelope("view_submission", user_id, user_name)
        payload.update(trigger_id=trigger_id or new_trigger_id(), view=view, response_urls=[])
        return self._post_payload(payload, post_kwargs)

    def view_closed(
        self,
        callback_id: str,
        *,
        private_metadata: str = "",
        user_id: str = "U0001",
        user_name: str = "dana",
        view_id: str = "V0001",
        hash: str = "h1",
        is_cleared: bool = False,
        view_fields: dict[str, Any] | None = None,
        **post_kwargs: Any,
    ) -> Response:
        view = self.default_view(view_id=view_id, callback_id=callback_id, private_metadata=private_metadata, hash=hash)
        view.update(view_fields or {})
        payload = self._envelope("view_closed", user_id, user_name)
        payload.update(view=view, is_cleared=is_cleared)
        return self._post_payload(payload, post_kwargs)

    def shortcut(
        self,
        callback_id: str,
        *,
        user_id: str = "U0001",
        user_name: str = "dana",
        trigger_id: str | None = None,
        **post_kwargs: Any,
    ) -> Response:
        """A global shortcut (lightning menu)."""
        payload = self._envelope("shortcut", user_id, user_name)
        payload.update(callback_id=callback_id, trigger_id=trigger_id or new_trigger_id(), action_ts=self._action_ts())
        return self._post_payload(payload, post_kwargs)

    def message_action(
        self,
        callback_id: str,
        message: dict[str, Any],
        channel_id: str = "C0001",
        *,
        channel_name: str | None = None,
        user_id: str = "U0001",
        user_name: str = "dana",
        trigger_id: str | None = None,
        **post_kwargs: Any,
    ) -> Response:
        """A message shortcut on ``message`` (which needs at least ``ts``)."""
        payload = self._envelope("message_action", user_id, user_name)
        payload.update(
            callback_id=callback_id,
            trigger_id=trigger_id or new_trigger_id(),
            action_ts=self._action_ts(),
            channel={"id": channel_id, "name": channel_name or self._channel_name(channel_id)},
            message_ts=message.get("ts"),
            message=message,
            response_url=self._response_url(),
        )
        return self._post_payload(payload, post_kwargs)

    def block_suggestion(
        self,
        action_id: str,
        value: str,
        *,
        block_id: str = "b1",
        user_id: str = "U0001",
        user_name: str = "dana",
        view: dict[str, Any] | None = None,
        channel_id: str | None = None,
        message: dict[str, Any] | None = None,
        **post_kwargs: Any,
    ) -> Response:
        """An external_select options request; from a modal unless ``channel_id`` is given."""
        payload = self._envelope("block_suggestion", user_id, user_name)
        payload.update(action_id=action_id, block_id=block_id, value=value)
        if channel_id is not None and view is None:
            message = message or {"type": "message", "ts": "1764100000.000100", "text": "", "blocks": []}
            payload["container"] = {
                "type": "message",
                "message_ts": message.get("ts"),
                "channel_id": channel_id,
                "is_ephemeral": False,
            }
            payload["channel"] = {"id": channel_id, "name": self._channel_name(channel_id)}
            payload["message"] = message
        else:
            view = view or self.default_view()
            payload["container"] = {"type": "view", "view_id": view.get("id", "V0001")}
            payload["view"] = view
        return self._post_payload(payload, post_kwargs)

    # ------------------------------------------------------------------ Events API

    def event(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        event_time: int | None = None,
        authorizations: list[dict[str, Any]] | None = None,
        is_ext_shared_channel: bool = False,
        source_team_id: str | None = None,
        **post_kwargs: Any,
    ) -> Response:
        """An ``event_callback`` envelope around ``event`` (``event_ts`` is filled in when missing).

        ``source_team_id``: the workspace the event happened in, when not Partner's: in a Slack Connect channel
        Slack sends the other organisation's id as the envelope's ``team_id`` (and no ``enterprise_id`` of ours),
        while ``authorizations`` names Partner's own installation."""
        now = self.clock()
        inner = dict(event)
        inner.setdefault("event_ts", f"{now:.6f}")
        envelope: dict[str, Any] = {
            "token": self.verification_token,
            "team_id": self.team_id,
            "api_app_id": self.api_app_id,
            "event": inner,
            "type": "event_callback",
            "event_id": event_id or f"Ev{next(_counter):08d}{secrets.token_hex(3).upper()}",
            "event_time": int(now) if event_time is None else event_time,
            "authorizations": authorizations
            if authorizations is not None
            else [
                {
                    "enterprise_id": self.enterprise_id,
                    "team_id": self.team_id,
                    "user_id": self._bot_user_id(),
                    "is_bot": True,
                    "is_enterprise_install": self.org_wide,
                }
            ],
            "is_ext_shared_channel": is_ext_shared_channel,
            "event_context": f"4-{secrets.token_hex(16)}",
        }
        if self.enterprise_id:
            envelope["enterprise_id"] = self.enterprise_id
        if source_team_id is not None:
            envelope["team_id"] = source_team_id
            envelope.pop("enterprise_id", None)
        self.last_payload = envelope
        return self._post_json(envelope, post_kwargs)

    def url_verification(self, challenge: str, **post_kwargs: Any) -> Response:
        body = {"token": self.verification_token, "challenge": challenge, "type": "url_verification"}
        self.last_payload = body
        return self._post_json(body, post_kwargs)

    def ssl_check(self, **post_kwargs: Any) -> Response:
        """Slack's periodic certificate probe (form body ``ssl_check=1``)."""
        fields = {"ssl_check": "1", "token": self.verification_token}
        self.last_payload = dict(fields)
        return self._post_form(fields, post_kwargs)

    def _post_json(self, body: dict[str, Any], post_kwargs: dict[str, Any]) -> Response:
        return self.post(json.dumps(body).encode("utf-8"), content_type="application/json", **post_kwargs)
