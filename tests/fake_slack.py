"""An offline stand-in for the Slack Web API, served over real HTTP on 127.0.0.1.

The bot talks to it through an unmodified ``slack_sdk.WebClient`` (``base_url=fake.api_url``), so the
end-to-end tests exercise the same serialisation, retry and error paths as production. Only the methods
the bot uses are modelled; their argument names, error codes and response shapes follow Slack's
documented Web API (``../shared/slack-specs/slack_web_openapi_v2.json``).

Routes:
    /api/<method>         Web API methods (GET query, or POST form / JSON / multipart).
    /upload/<file_id>     upload URLs handed out by ``files.getUploadURLExternal`` (recorded as "upload").
    /response/<id>        response URLs minted by ``response_url()`` (recorded as "response_url").
    /files/<file_id>/...  ``url_private`` of completed uploads (bearer token required).
"""

from __future__ import annotations

import base64
import contextlib
import copy
import email.parser
import email.policy
import itertools
import json
import math
import mimetypes
import re
import secrets
import threading
import time
import traceback
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

from tests.fake_socket_mode import FakeSocketMode

# Fields that Slack accepts as JSON-encoded strings in form bodies; decoded so tests see Python objects.
JSON_STRING_FIELDS = frozenset({"blocks", "view", "attachments", "files", "metadata"})
# Slack refuses messages with more than 50 blocks and modals/home tabs with more than 100.
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
# chat.postMessage's `text`: Slack documents 40,000 characters and answers msg_too_long past it.
MAX_MESSAGE_TEXT = 40_000
# The text of a posted message's blocks together: undocumented, but Slack answers chat.postMessage (and an update
# to the same message) with msg_blocks_too_long past it, each block within its own limits ("12,000 text characters
# with a buffer for block containers", Slack in slackapi/bolt-js#2509; refused at 11,341 in #2867). A reply through
# response_url or a command's answer is not held to it (#2867).
MAX_MESSAGE_BLOCKS_TEXT = 11_000
# Block Kit's documented element limits (docs.slack.dev/reference/block-kit): ("what", "field") -> max characters
# or items. One table, read by the one walker ``block_kit_violation`` that both the message and the view checks use.
BLOCK_KIT_LIMITS: dict[tuple[str, str], int] = {
    ("block", "block_id"): 255,
    ("element", "action_id"): 255,
    ("section", "text"): 3000,
    ("section", "fields"): 10,
    ("section", "field_text"): 2000,
    ("header", "text"): 150,
    ("context", "elements"): 10,
    ("actions", "elements"): 25,
    ("button", "text"): 75,
    ("button", "value"): 2000,
    ("button", "url"): 3000,
    ("option", "text"): 75,
    ("option", "value"): 150,
    ("option", "description"): 75,
    ("option_group", "label"): 75,
    ("select", "options"): 100,
    ("select", "option_groups"): 100,
    ("select", "placeholder"): 150,
    ("overflow", "options"): 5,
    ("overflow", "min_options"): 2,
    ("radio_buttons", "options"): 10,
    ("checkboxes", "options"): 10,
    ("input", "label"): 2000,
    ("input", "hint"): 2000,
    ("plain_text_input", "placeholder"): 150,
    ("image", "alt_text"): 2000,
    ("text", "text"): 3000,  # any text object, e.g. a context block's element
    ("plain_text_input", "max_length"): 3000,
    ("plain_text_input", "min_length"): 3000,
    ("select", "min_options"): 1,  # a static select needs something to pick
    ("confirm", "title"): 100,
    ("confirm", "text"): 300,
    ("confirm", "confirm"): 30,
    ("confirm", "deny"): 30,
}
_SELECTS = frozenset(
    {
        "static_select",
        "multi_static_select",
        "external_select",
        "multi_external_select",
        "users_select",
        "multi_users_select",
        "conversations_select",
        "multi_conversations_select",
        "channels_select",
        "multi_channels_select",
    }
)


class BlockKitViolation(Exception):
    """A block breaks a Block Kit limit: ``message`` as Slack words it, ``pointer`` the JSON path under the blocks."""

    def __init__(self, message: str, pointer: str) -> None:
        super().__init__(f"{message} [json-pointer:{pointer}]")
        self.message = message
        self.pointer = pointer


def _text_of(obj: Any, pointer: str, *, limit: int | None, plain_only: bool = False) -> None:
    """A text object: a dict of type plain_text/mrkdwn whose ``text`` is a string, non-empty, within ``limit``."""
    if not isinstance(obj, dict) or obj.get("type") not in (
        ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
    ):
        raise BlockKitViolation("must be a " + ("plain_text" if plain_only else "text") + " object", pointer)
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        raise BlockKitViolation("must be more than 0 characters", f"{pointer}/text")
    if limit is not None and len(text) > limit:
        raise BlockKitViolation(f"must be less than {limit + 1} characters", f"{pointer}/text")


def _max_len(value: Any, limit: int, pointer: str) -> None:
    if value is not None and len(str(value)) > limit:
        raise BlockKitViolation(f"must be less than {limit + 1} characters", pointer)


def _max_items(items: Any, limit: int, pointer: str, *, minimum: int = 0) -> list[Any]:
    if not isinstance(items, list):
        raise BlockKitViolation("must be an array", pointer)
    if len(items) > limit:
        raise BlockKitViolation(f"must be no more than {limit} items", pointer)
    if len(items) < minimum:
        raise BlockKitViolation(f"must provide at least {minimum} items", pointer)
    return items


def _check_option(option: Any, pointer: str, *, plain_only: bool) -> None:
    L = BLOCK_KIT_LIMITS
    if not isinstance(option, dict):
        raise BlockKitViolation("must be an object", pointer)
    _text_of(option.get("text"), f"{pointer}/text", limit=L["option", "text"], plain_only=plain_only)
    if not isinstance(option.get("value"), str):
        raise BlockKitViolation("missing required field: value", pointer)
    _max_len(option["value"], L["option", "value"], f"{pointer}/value")
    if option.get("description") is not None:
        _text_of(option["description"], f"{pointer}/description", limit=L["option", "description"])


def _check_confirm(confirm: Any, pointer: str) -> None:
    L = BLOCK_KIT_LIMITS
    if not isinstance(confirm, dict):
        raise BlockKitViolation("must be an object", pointer)
    _text_of(confirm.get("title"), f"{pointer}/title", limit=L["confirm", "title"], plain_only=True)
    _text_of(confirm.get("text"), f"{pointer}/text", limit=L["confirm", "text"])
    _text_of(confirm.get("confirm"), f"{pointer}/confirm", limit=L["confirm", "confirm"], plain_only=True)
    _text_of(confirm.get("deny"), f"{pointer}/deny", limit=L["confirm", "deny"], plain_only=True)


def _initial_among_options(element: dict[str, Any], pointer: str) -> None:
    """Slack: initial_option / initial_options must exactly match options of the element (a static select's,
    radio buttons', checkboxes'); an external select's initial options are its own."""
    if element.get("type") in ("external_select", "multi_external_select"):
        return
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options.extend(group.get("options") or [] if isinstance(group, dict) else [])
    for key in ("initial_option", "initial_options"):
        initial = element.get(key)
        if initial is None:
            continue
        for i, option in enumerate([initial] if key == "initial_option" else initial):
            if option not in options:
                where = f"{pointer}/{key}" + ("" if key == "initial_option" else f"/{i}")
                raise BlockKitViolation("must match one of the options", where)


def _check_element(element: Any, pointer: str) -> None:
    """One interactive or context element (button, select, overflow, radio, checkboxes, input, image, text)."""
    L = BLOCK_KIT_LIMITS
    if not isinstance(element, dict) or not isinstance(element.get("type"), str):
        raise BlockKitViolation("missing required field: type", pointer)
    kind = element["type"]
    _max_len(element.get("action_id"), L["element", "action_id"], f"{pointer}/action_id")
    if element.get("confirm") is not None:
        _check_confirm(element["confirm"], f"{pointer}/confirm")
    if kind in ("plain_text", "mrkdwn"):
        _text_of(element, pointer, limit=L["text", "text"])
    elif kind == "button":
        _text_of(element.get("text"), f"{pointer}/text", limit=L["button", "text"], plain_only=True)
        _max_len(element.get("value"), L["button", "value"], f"{pointer}/value")
        _max_len(element.get("url"), L["button", "url"], f"{pointer}/url")
    elif kind == "image":
        _max_len(element.get("alt_text"), L["image", "alt_text"], f"{pointer}/alt_text")
    elif kind in _SELECTS:
        if element.get("placeholder") is not None:
            _text_of(
                element["placeholder"], f"{pointer}/placeholder", limit=L["select", "placeholder"], plain_only=True
            )
        if element.get("options") is not None:
            options = _max_items(element["options"], L["select", "options"], f"{pointer}/options")
            for i, option in enumerate(options):
                _check_option(option, f"{pointer}/options/{i}", plain_only=True)
        if element.get("option_groups") is not None:
            groups = _max_items(element["option_groups"], L["select", "option_groups"], f"{pointer}/option_groups")
            for g, group in enumerate(groups):
                where = f"{pointer}/option_groups/{g}"
                if not isinstance(group, dict):
                    raise BlockKitViolation("must be an object", where)
                _text_of(group.get("label"), f"{where}/label", limit=L["option_group", "label"], plain_only=True)
                for i, option in enumerate(
                    _max_items(group.get("options"), L["select", "options"], f"{where}/options")
                ):
                    _check_option(option, f"{where}/options/{i}", plain_only=True)
        if kind in ("static_select", "multi_static_select") and element.get("option_groups") is None:
            _max_items(
                element.get("options"), L["select", "options"], f"{pointer}/options", minimum=L["select", "min_options"]
            )
        for key in ("initial_option",):
            if element.get(key) is not None:
                _check_option(element[key], f"{pointer}/{key}", plain_only=True)
        _initial_among_options(element, pointer)
    elif kind == "overflow":
        options = _max_items(
            element.get("options"), L["overflow", "options"], f"{pointer}/options", minimum=L["overflow", "min_options"]
        )
        for i, option in enumerate(options):
            _check_option(option, f"{pointer}/options/{i}", plain_only=True)
    elif kind in ("radio_buttons", "checkboxes"):
        options = _max_items(element.get("options"), L[kind, "options"], f"{pointer}/options", minimum=1)
        for i, option in enumerate(options):
            _check_option(option, f"{pointer}/options/{i}", plain_only=False)
        _initial_among_options(element, pointer)
    elif kind == "datepicker":
        initial = element.get("initial_date")
        if initial is not None and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(initial)):
            raise BlockKitViolation("must match format YYYY-MM-DD", f"{pointer}/initial_date")
    elif kind == "plain_text_input":
        for key in ("max_length", "min_length"):
            if element.get(key) is not None and not 0 <= int(element[key]) <= L["plain_text_input", key]:
                raise BlockKitViolation(f"must be at most {L['plain_text_input', key]}", f"{pointer}/{key}")
        if element.get("placeholder") is not None:
            _text_of(
                element["placeholder"],
                f"{pointer}/placeholder",
                limit=L["plain_text_input", "placeholder"],
                plain_only=True,
            )
        max_length = element.get("max_length")
        if isinstance(max_length, int) and element.get("initial_value") is not None:
            _max_len(element["initial_value"], max_length, f"{pointer}/initial_value")


def blocks_text_length(value: Any) -> int:
    """The characters of every text in ``value`` (blocks, or any part of them): what msg_blocks_too_long counts."""
    if isinstance(value, list):
        return sum(blocks_text_length(v) for v in value)
    if isinstance(value, dict):
        return sum(len(v) if k == "text" and isinstance(v, str) else blocks_text_length(v) for k, v in value.items())
    return 0


def block_kit_violation(blocks: list[Any], root: str) -> BlockKitViolation | None:
    """Walk ``blocks`` against ``BLOCK_KIT_LIMITS``; the first broken limit (pointer under ``root``), else None."""
    L = BLOCK_KIT_LIMITS
    try:
        for b, block in enumerate(blocks):
            where = f"{root}/{b}"
            if not isinstance(block, dict):
                raise BlockKitViolation("must be an object", where)
            kind = block.get("type")
            _max_len(block.get("block_id"), L["block", "block_id"], f"{where}/block_id")
            if kind == "section":
                if block.get("text") is None and block.get("fields") is None:
                    raise BlockKitViolation("must provide either text or fields", where)
                if block.get("text") is not None:
                    _text_of(block["text"], f"{where}/text", limit=L["section", "text"])
                if block.get("fields") is not None:
                    fields = _max_items(block["fields"], L["section", "fields"], f"{where}/fields")
                    for f, text in enumerate(fields):
                        _text_of(text, f"{where}/fields/{f}", limit=L["section", "field_text"])
                if block.get("accessory") is not None:
                    _check_element(block["accessory"], f"{where}/accessory")
            elif kind == "header":
                _text_of(block.get("text"), f"{where}/text", limit=L["header", "text"], plain_only=True)
            elif kind in ("context", "actions"):
                elements = _max_items(block.get("elements"), L[kind, "elements"], f"{where}/elements", minimum=1)
                for e, element in enumerate(elements):
                    _check_element(element, f"{where}/elements/{e}")
            elif kind == "input":
                _text_of(block.get("label"), f"{where}/label", limit=L["input", "label"], plain_only=True)
                if block.get("hint") is not None:
                    _text_of(block["hint"], f"{where}/hint", limit=L["input", "hint"], plain_only=True)
                _check_element(block.get("element"), f"{where}/element")
            elif kind == "image":
                _check_element(block, where)
    except BlockKitViolation as violation:
        return violation
    return None


# Deterministic, monotonic message timestamps: 2025-11-25, stepping 100 µs like the examples in Slack's docs.
TS_BASE_SECONDS = 1_764_100_000
TS_STEP_MICROS = 100
POST_JITTER = 0.05  # seconds of arrival jitter the chat.postMessage rate limit forgives (post_jitter)

_TZ_LABELS = {
    "EST": "Eastern Standard Time",
    "EDT": "Eastern Daylight Time",
    "CST": "Central Standard Time",
    "CDT": "Central Daylight Time",
    "MST": "Mountain Standard Time",
    "MDT": "Mountain Daylight Time",
    "PST": "Pacific Standard Time",
    "PDT": "Pacific Daylight Time",
    "GMT": "Greenwich Mean Time",
    "BST": "British Summer Time",
    "CET": "Central European Time",
    "CEST": "Central European Summer Time",
    "UTC": "Coordinated Universal Time",
}


@dataclass
class Call:
    """One request the fake answered (Web API call, upload, or response_url post)."""

    method: str
    params: dict[str, Any]
    headers: dict[str, str]  # names lower-cased: urllib sends "Content-type", WebClient "Content-Type"
    token: str | None
    status: int
    response: dict[str, Any]
    at: float
    path: str = ""

    @property
    def ok(self) -> bool:
        return self.status == 200 and bool(self.response.get("ok"))

    @property
    def error(self) -> str | None:
        return self.response.get("error")


class _StaleRequest(Exception):
    """A held request outlived the test that scripted it (FakeSlack.reset ran meanwhile)."""


@dataclass(frozen=True)
class _Fault:
    error: str | None
    status: int
    retry_after: int | None
    delay: float
    answered_late: bool = False  # the method runs first, then its answer waits `delay`


class _ApiError(Exception):
    """Raised by method handlers to answer ``{"ok": false, "error": ...}``."""

    def __init__(self, error: str, *, messages: list[str] | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.messages = messages or []


@dataclass
class _Reply:
    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


def _json_reply(payload: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> _Reply:
    return _Reply(status, json.dumps(payload).encode("utf-8"), headers=headers or {})


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in {"true", "1"}) or value == 1


def _str_param(params: dict[str, Any], name: str) -> str:
    value = params.get(name)
    return "" if value is None else str(value)


def _tz_fields(tz: str) -> tuple[str, int]:
    """(tz_label, tz_offset seconds) as of now; Slack reports the current offset, so DST shifts it."""
    now = datetime.now(ZoneInfo(tz))
    abbreviation = now.tzname() or tz
    offset = now.utcoffset()
    return _TZ_LABELS.get(abbreviation, abbreviation), int(offset.total_seconds()) if offset else 0


def _encode_cursor(offset: int) -> str:
    return base64.b64encode(f"offset:{offset}".encode()).decode()


def _decode_cursor(cursor: str) -> int:
    if not cursor:
        return 0
    try:
        prefix, _, number = base64.b64decode(cursor.encode(), validate=True).decode().partition(":")
        if prefix != "offset":
            raise ValueError(cursor)
        return int(number)
    except ValueError as exc:  # binascii.Error and UnicodeDecodeError are ValueErrors too
        raise _ApiError("invalid_cursor") from exc


def _page(items: list[Any], params: dict[str, Any], default_limit: int = 100) -> tuple[list[Any], str]:
    try:
        limit = int(params.get("limit") or default_limit)
    except (TypeError, ValueError) as exc:
        raise _ApiError("invalid_limit") from exc
    if limit < 1:
        raise _ApiError("invalid_limit")
    start = _decode_cursor(_str_param(params, "cursor"))
    chunk = items[start : start + limit]
    return chunk, _encode_cursor(start + limit) if start + limit < len(items) else ""


def _parse_multipart(content_type: str, body: bytes) -> dict[str, Any]:
    """Decode multipart/form-data with the stdlib email parser (cgi is gone in 3.13).

    File parts come back as bytes, plain fields as str; a file part's filename is kept under
    ``"<name>__filename"`` so the upload route can honour it.
    """
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    fields: dict[str, Any] = {}
    if not message.is_multipart():
        raise _ApiError("invalid_form_data")
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is not None:
            fields[name] = data
            fields[f"{name}__filename"] = filename
        else:
            fields[name] = data.decode(part.get_content_charset() or "utf-8")
    return fields


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Don't join handler threads on close: a scripted delay may still be sleeping when a test ends.
    block_on_close = False
    # Several bot processes posting with many threads each (the replica test): queue them, never reset them.
    request_queue_size = 256
    fake: FakeSlack

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out hang up mid-response; that is expected here and not worth a traceback.
        pass


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    # Keep-alive like Slack's API (urllib's one-shot calls send "Connection: close" and still get one request per
    # connection); every answer has a Content-Length. No Nagle: the headers and body writes go out at once.
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def setup(self) -> None:
        super().setup()
        with self.server.fake._lock:
            self.server.fake.connections += 1

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output quiet

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        body = self._read_body()
        reply = self.server.fake._handle(self.command, self.path, dict(self.headers.items()), body)
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client already gave up (timeout tests)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # skip trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""


class FakeSlack:
    """A thread-safe fake Slack workspace plus Web API server; see the module docstring."""

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-test-token",
        team_id: str = "T0001",
        bot_user_id: str = "UBOT",
        bot_id: str = "B0001",
        app_id: str = "A0001",
        app_token: str = "xapp-1-A0001-1-fake",
        team_name: str = "Acme",
        team_domain: str = "acme",
        ts_base: int = TS_BASE_SECONDS,
    ) -> None:
        self.bot_token = bot_token
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.app_token = app_token  # app-level token: only apps.connections.open accepts it
        self.team_name = team_name
        self.team_domain = team_domain
        self.ts_base = ts_base  # seconds part of the first message ts; fixed so tests are reproducible

        # One re-entrant lock guards all state; the condition lets wait_for() sleep until a call lands.
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._ids = itertools.count(1)
        self._ts_counter = itertools.count(1)
        # Each reset starts a generation; a request held past one (a scripted delay outliving its test) belongs
        # to a test that ended: it is answered but neither recorded nor applied to the next test's state.
        self._generation = 0
        self._request = threading.local()

        self.calls: list[Call] = []
        self.connections = 0  # TCP connections accepted (a keep-alive client reuses one for many calls)
        self.errors: list[str] = []  # tracebacks from bugs in the fake itself; tests may assert it stays empty
        self.users: dict[str, dict[str, Any]] = {}
        self.channels: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.ephemeral_messages: list[dict[str, Any]] = []
        self.views: dict[str, dict[str, Any]] = {}
        self.published_home: dict[str, dict[str, Any]] = {}
        self.files: dict[str, dict[str, Any]] = {}
        self.response_url_posts: list[Call] = []
        self._faults: dict[str, deque[_Fault]] = defaultdict(deque)
        # Slack's chat.postMessage limit, off unless set: at most one post per `post_interval` seconds per channel,
        # else 429 ratelimited with Retry-After. `post_jitter` seconds of arrival jitter are forgiven (a sender that
        # starts its posts a second apart sees them arrive a few milliseconds closer now and then).
        self.post_interval: float | None = None
        self.post_jitter = POST_JITTER
        self._last_post: dict[str, float] = {}
        self._members: dict[str, list[str]] = {}
        self._dm_by_user: dict[str, str] = {}
        self._external_ids: dict[str, str] = {}
        self._exchanged_triggers: set[str] = set()  # trigger_ids a view was opened with: each opens one
        # trigger_id → the modal view its interaction happened in (told by SlackRequests, as Slack knows it): what
        # views.push puts the new view on top of.
        self._trigger_views: dict[str, str] = {}
        self._response_ids: set[str] = set()
        # OAuth install: the app's credentials, codes handed out by the consent page, and the bot tokens it
        # issued per workspace (token → that workspace's install; the constructor's bot_token stays valid too).
        self.client_id = "111.222"
        self.client_secret = "fake-client-secret"
        self.installs: dict[str, dict[str, Any]] = {}
        self._oauth_codes: dict[str, dict[str, Any]] = {}
        self._refresh_tokens: dict[str, dict[str, Any]] = {}
        self._caller_token: str | None = None  # the token of the call being answered (set under the lock)

        self._methods: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "api.test": self._api_test,
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.getPermalink": self._chat_get_permalink,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "users.info": self._users_info,
            "users.list": self._users_list,
            "users.lookupByEmail": self._users_lookup_by_email,
            "conversations.info": self._conversations_info,
            "conversations.join": self._conversations_join,
            "conversations.open": self._conversations_open,
            "conversations.members": self._conversations_members,
            "users.conversations": self._users_conversations,
            "conversations.list": self._conversations_list,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "files.getUploadURLExternal": self._files_get_upload_url_external,
            "files.completeUploadExternal": self._files_complete_upload_external,
            "files.info": self._files_info,
            "apps.connections.open": self._apps_connections_open,
            "oauth.v2.access": self._oauth_v2_access,
        }
        # oauth.v2.access authenticates with the app's client_id/client_secret, not a token.
        self._no_auth = frozenset({"api.test", "oauth.v2.access"})
        # The bot token's granted scopes: Slack returns them in the X-OAuth-Scopes header of every call.
        # conversations.info/members/history check them per conversation type (see _require_scope).
        self.scopes: list[str] = [
            "commands",
            "chat:write",
            "users:read",
            "channels:join",
            "channels:read",
            "groups:read",
        ]
        self._app_token_methods = frozenset({"apps.connections.open"})
        # Socket Mode's WebSocket endpoint, started on the first apps.connections.open.
        self.socket_mode = FakeSocketMode(app_id=app_id)

        self.add_user(bot_user_id, name="partner", is_bot=True)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeSlack:
        if self._server is not None:
            raise RuntimeError("FakeSlack already started")
        self._stopping.clear()
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._server = server
        # A short poll interval keeps stop() fast: shutdown() waits for the loop's next wake-up.
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, name="fake-slack", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.socket_mode.stop()
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()  # wake any scripted delay so its thread can finish
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeSlack is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/"

    # ------------------------------------------------------------------ inspection

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def wait_for(
        self, method: str, count: int = 1, timeout: float = 20.0, where: Callable[[Call], bool] | None = None
    ) -> list[Call]:
        """Block until ``count`` calls to ``method`` (those ``where`` accepts) were answered; listeners run after
        ack, in threads. It returns as soon as they are in, so the long default only serves a loaded CI machine
        (an export's users.info → upload → complete took over 5 s at load 12 on 2 CPUs)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [c for c in self.calls if c.method == method and (where is None or where(c))]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"expected {count} call(s) to {method} within {timeout}s, got {len(found)}.\n"
                        + self.describe_calls()
                    )
                self._cond.wait(remaining)

    def describe_calls(self) -> str:
        lines = ["Calls so far:"] if self.calls else ["No calls were made."]
        for i, c in enumerate(self.calls, 1):
            outcome = "ok" if c.ok else f"error={c.error!r}"
            params = {k: v for k, v in c.params.items() if k != "token"}
            shown = repr(params)
            lines.append(f"  {i}. {c.method} [{c.status} {outcome}] {shown[:300]}")
        if self.errors:
            lines.append("Errors inside FakeSlack:")
            lines.extend(self.errors)
        return "\n".join(lines)

    def reset(self) -> None:
        """Forget calls, faults and everything posted; the users and channels stay."""
        with self._lock:
            self._generation += 1
            self.calls.clear()
            self.errors.clear()
            self._faults.clear()
            self._last_post.clear()
            self.post_interval, self.post_jitter = None, POST_JITTER  # a test's rate limit ends with it
            self.messages.clear()
            self.ephemeral_messages.clear()
            self.views.clear()
            self.published_home.clear()
            self.files.clear()
            self.response_url_posts.clear()
            self._external_ids.clear()
            self._exchanged_triggers.clear()
            self._trigger_views.clear()
            self.installs.clear()
            self._oauth_codes.clear()
            self._refresh_tokens.clear()
        self.socket_mode.reset()

    # ------------------------------------------------------------------ world

    def add_user(
        self,
        user_id: str,
        *,
        name: str,
        tz: str = "America/New_York",
        is_admin: bool = False,
        is_owner: bool = False,
        is_bot: bool = False,
        deleted: bool = False,
        team_id: str | None = None,
        real_name: str | None = None,
        email: str | None = None,
        stranger: bool = False,
        is_restricted: bool = False,
        is_ultra_restricted: bool = False,
    ) -> dict[str, Any]:
        """Add (or replace) a user; returns the live stored object, so tests may tweak it later.

        ``is_restricted``: a multi-channel guest; ``is_ultra_restricted``: a single-channel guest, as users.info
        says (each flag set alone, so a test shows that either one is read).

        ``stranger``: someone of another organisation met in a Slack Connect channel (give their ``team_id``):
        users.info then answers as Slack does for them — ``is_stranger``, and no time zone or workspace role."""
        tz_label, tz_offset = _tz_fields(tz)  # also rejects unknown zones early
        real = real_name or name
        team = team_id or self.team_id
        profile: dict[str, Any] = {
            "real_name": real,
            "display_name": name,
            "real_name_normalized": real,
            "display_name_normalized": name,
            "first_name": real.split(" ")[0],
            "last_name": " ".join(real.split(" ")[1:]),
            "avatar_hash": "",
            "title": "",
            "phone": "",
            "skype": "",
            "status_text": "",
            "status_emoji": "",
            "fields": {},
            "team": team,
        }
        if email:
            profile["email"] = email
        if is_bot:
            profile["bot_id"] = self.bot_id if user_id == self.bot_user_id else f"B{user_id[1:]}"
        user: dict[str, Any] = {
            "id": user_id,
            "team_id": team,
            "name": name,
            "deleted": deleted,
            "real_name": real,
            "tz": tz,
            "tz_label": tz_label,
            "tz_offset": tz_offset,
            "is_admin": is_admin,
            "is_owner": is_owner,
            "is_primary_owner": False,
            "is_restricted": is_restricted,
            "is_ultra_restricted": is_ultra_restricted,
            "is_bot": is_bot,
            "is_app_user": False,
            "updated": int(time.time()),
            "profile": profile,
        }
        if stranger:
            for key in ("tz", "tz_label", "tz_offset", "is_admin", "is_owner", "is_primary_owner", "real_name"):
                user.pop(key)
            user["is_stranger"] = True
            user["profile"] = {k: profile[k] for k in ("real_name", "display_name", "avatar_hash", "team")}
        with self._lock:
            self.users[user_id] = user
        return user

    def add_channel(
        self,
        channel_id: str,
        *,
        name: str,
        is_member: bool = True,
        is_archived: bool = False,
        is_private: bool = False,
        is_ext_shared: bool = False,
        members: list[str] | None = None,
    ) -> dict[str, Any]:
        """Add (or replace) a channel; ``members`` lists humans, the bot counts while ``is_member``."""
        channel: dict[str, Any] = {
            "id": channel_id,
            "name": name,
            "name_normalized": name,
            "created": int(time.time()),
            "creator": "",
            "is_channel": not is_private,
            "is_group": is_private,
            "is_im": False,
            "is_mpim": False,
            "is_private": is_private,
            "is_archived": is_archived,
            "is_general": False,
            "is_member": is_member,
            "is_shared": is_ext_shared,
            "is_ext_shared": is_ext_shared,
            "is_org_shared": False,
            "is_pending_ext_shared": False,
            "context_team_id": self.team_id,
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
        }
        with self._lock:
            self.channels[channel_id] = channel
            self._members[channel_id] = list(members or [])
        return channel

    def response_url(self) -> str:
        response_id = secrets.token_hex(8)
        with self._lock:
            self._response_ids.add(response_id)
        return f"{self.base_url}/response/{response_id}"

    def grant_install(
        self,
        team_id: str,
        *,
        team_name: str | None = None,
        installer_id: str = "U0001",
        scopes: list[str] | None = None,
        expires_in: int | None = None,
        enterprise_id: str | None = None,
        org_wide: bool = False,
    ) -> str:
        """What Slack's consent page does when an admin of `team_id` clicks Allow: a one-time `code` for the
        redirect, which oauth.v2.access exchanges for that workspace's own bot token. With `expires_in` (seconds)
        the app has token rotation on: the token expires and comes with a refresh_token. `enterprise_id`: the
        workspace belongs to that Enterprise Grid organisation; with `org_wide` an org admin installed the app for
        the whole organisation (`team_id` is then the organisation's id, and Slack answers with `team: null`)."""
        code = f"{team_id}.{secrets.token_hex(8)}"
        with self._lock:
            self._oauth_codes[code] = {
                "team_id": team_id,
                "team_name": team_name or f"Team {team_id}",
                "installer_id": installer_id,
                "scope": ",".join(scopes if scopes is not None else self.scopes),
                "expires_in": expires_in,
                "enterprise_id": enterprise_id or (team_id if org_wide else None),
                "org_wide": org_wide,
            }
        return code

    def install_of(self, token: str | None) -> dict[str, Any] | None:
        """The workspace install a bot token was issued for (None: the constructor's token, or unknown)."""
        with self._lock:
            return self.installs.get(token or "")

    def team_of(self, call: Call) -> str | None:
        """Which workspace a recorded call was made as: its token's team."""
        install = self.install_of(call.token)
        if install is not None:
            return str(install["team_id"])
        return self.team_id if call.token == self.bot_token else None

    # ------------------------------------------------------------------ faults

    def fail_next(
        self,
        method: str,
        *,
        error: str | None = None,
        status: int = 200,
        retry_after: int | None = None,
        delay: float = 0.0,
        times: int = 1,
        answered_late: bool = False,
    ) -> None:
        """Script the next ``times`` answers for ``method``.

        ``method`` is a Web API method, "upload", "response_url", or "*" (any Web API method; a
        method's own script is used first). ``status`` 200 with ``error`` answers ok=false; 429
        answers "ratelimited" (+ Retry-After when given); other statuses answer that status; a
        ``delay`` alone just slows down the normal answer. ``answered_late`` (Web API methods, with
        a ``delay`` and no error): the method does its work at once and only its answer waits, as
        Slack does when a client times out on a post it made: the message is there, the client
        never hears of it.
        """
        if times < 1:
            raise ValueError("times must be >= 1")
        if answered_late and (error is not None or status != 200):
            raise ValueError("answered_late scripts a slow answer to a call that succeeds")
        fault = _Fault(error=error, status=status, retry_after=retry_after, delay=delay, answered_late=answered_late)
        with self._lock:
            self._faults[method].extend([fault] * times)

    def scripted(self, method: str) -> int:
        """How many of ``method``'s scripted answers are still to come (a call takes its fault as it arrives)."""
        with self._lock:
            return len(self._faults.get(method) or ())

    def _take_fault(self, method: str, *, wildcard: bool) -> _Fault | None:
        with self._lock:
            for key in (method, "*") if wildcard else (method,):
                queue = self._faults.get(key)
                if queue:
                    return queue.popleft()
        return None

    @staticmethod
    def _fault_reply(fault: _Fault) -> _Reply | None:
        if fault.status == 200 and fault.error is None:
            return None  # delay only
        if fault.status == 429:
            headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
            return _json_reply({"ok": False, "error": fault.error or "ratelimited"}, 429, headers)
        return _json_reply({"ok": False, "error": fault.error or "fatal_error"}, fault.status)

    def _channel_rate_limit(self, channel: str, at: float) -> _Reply | None:
        """429 when the channel had a post less than `post_interval` ago; otherwise counts this one."""
        assert self.post_interval is not None
        with self._lock:
            last = self._last_post.get(channel)
            if last is not None and at - last < self.post_interval - self.post_jitter:
                wait = max(1, math.ceil(self.post_interval - (at - last)))
                return _json_reply({"ok": False, "error": "ratelimited"}, 429, {"Retry-After": str(wait)})
            self._last_post[channel] = at
        return None

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)
            if self._stale():
                raise _StaleRequest

    def _stale(self) -> bool:
        started = getattr(self._request, "generation", None)
        return started is not None and started != self._generation

    # ------------------------------------------------------------------ HTTP plumbing

    def _handle(self, verb: str, raw_path: str, raw_headers: dict[str, str], body: bytes) -> _Reply:
        headers = {k.lower(): v for k, v in raw_headers.items()}
        parts = urlsplit(raw_path)
        path = parts.path
        self._request.generation = self._generation
        try:
            if path.startswith("/api/"):
                return self._handle_api(verb, path, parts.query, headers, body)
            if path.startswith("/upload/"):
                return self._handle_upload(path, headers, body)
            if path.startswith("/response/"):
                return self._handle_response_url(path, headers, body)
            if path.startswith("/files/") and verb == "GET":
                return self._handle_file_download(path, headers)
        except _StaleRequest:
            return _json_reply({"ok": False, "error": "fake_slack_reset_meanwhile"}, 503)
        except Exception:
            with self._lock:
                self.errors.append(traceback.format_exc())
            return _json_reply({"ok": False, "error": "fake_slack_internal_error"}, 500)
        return _Reply(404, b"Not Found", "text/plain; charset=utf-8")

    def _record(self, call: Call) -> None:
        with self._cond:
            if self._stale():
                return
            self.calls.append(call)
            if call.method == "response_url":
                self.response_url_posts.append(call)
            self._cond.notify_all()

    @staticmethod
    def _bearer(headers: dict[str, str]) -> str | None:
        scheme, _, credentials = headers.get("authorization", "").partition(" ")
        return credentials.strip() or None if scheme.lower() == "bearer" else None

    def _decode_params(
        self, verb: str, query: str, headers: dict[str, str], body: bytes
    ) -> tuple[dict[str, Any], list[str], bool]:
        """Return (params, warnings, token_allowed_in_body)."""
        params: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
        warnings: list[str] = []
        token_in_body = True
        content_type = headers.get("content-type", "")
        media_type, _, options = content_type.partition(";")
        media_type = media_type.strip().lower()
        charset = "utf-8"
        for option in options.split(";"):
            key, _, value = option.strip().partition("=")
            if key.lower() == "charset" and value:
                charset = value.strip('"')
        if verb == "POST" and body:
            if media_type == "application/json":
                # Slack reads tokens from the Authorization header only for JSON bodies.
                token_in_body = False
                if "charset" not in content_type.lower():
                    warnings.append("missing_charset")
                try:
                    decoded = json.loads(body.decode(charset))
                except (ValueError, LookupError) as exc:
                    raise _ApiError("invalid_json") from exc
                if not isinstance(decoded, dict):
                    raise _ApiError("json_not_object")
                params.update(decoded)
            elif media_type == "application/x-www-form-urlencoded":
                try:
                    params.update(parse_qsl(body.decode(charset), keep_blank_values=True))
                except (UnicodeDecodeError, LookupError) as exc:
                    raise _ApiError("invalid_charset") from exc
            elif media_type == "multipart/form-data":
                params.update(_parse_multipart(content_type, body))
            else:
                raise _ApiError("invalid_post_type")
        for name in JSON_STRING_FIELDS:
            value = params.get(name)
            if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
                # Bad JSON stays a string; the handler then rejects it (e.g. invalid_blocks).
                with contextlib.suppress(ValueError):
                    params[name] = json.loads(value)
        return params, warnings, token_in_body

    def _handle_api(self, verb: str, path: str, query: str, headers: dict[str, str], body: bytes) -> _Reply:
        method = path[len("/api/") :].strip("/")
        started = time.time()
        token = self._bearer(headers)
        fault = self._take_fault(method, wildcard=True)
        try:
            params, warnings, token_in_body = self._decode_params(verb, query, headers, body)
        except _ApiError as exc:
            params, warnings, token_in_body = {}, [], False
            decode_error: _ApiError | None = exc
        else:
            decode_error = None
        if token is None and token_in_body and params.get("token"):
            token = str(params["token"])
        if method == "oauth.v2.access":
            # slack-sdk sends the app's credentials as HTTP Basic auth; Slack also takes them as form fields.
            scheme, _, credentials = headers.get("authorization", "").partition(" ")
            if scheme.lower() == "basic" and "client_id" not in params:
                client_id, _, client_secret = base64.b64decode(credentials).decode().partition(":")
                params.update(client_id=client_id, client_secret=client_secret)

        if fault is not None and not fault.answered_late:
            self._sleep(fault.delay)
        reply = self._fault_reply(fault) if fault is not None else None
        if reply is None and method == "chat.postMessage" and self.post_interval is not None:
            reply = self._channel_rate_limit(str(params.get("channel") or ""), started)
        answered: dict[str, Any] | None = None  # the answer as recorded: what `reply` encodes
        if reply is None:
            if decode_error is not None:
                response: dict[str, Any] = {"ok": False, "error": decode_error.error}
            else:
                response = self._run(method, params, token)
            if warnings and response.get("ok"):
                # Mirrors Slack: a comma-joined "warning" plus the list under response_metadata.
                response["warning"] = ",".join([*warnings, *filter(None, [response.get("warning")])])
                metadata = response.setdefault("response_metadata", {})
                metadata["warnings"] = [*warnings, *metadata.get("warnings", [])]
            scopes = {"X-OAuth-Scopes": ",".join(self.scopes)} if token == self.bot_token else None
            if token in self.installs:
                scopes = {"X-OAuth-Scopes": self.installs[token]["scope"]}
            reply = _json_reply(response, headers=scopes)
            answered = response  # already a private copy (see _run): not decoded again from the reply
        self._record(
            Call(
                method=method,
                params=params,
                headers=headers,
                token=token,
                status=reply.status,
                response=json.loads(reply.body) if answered is None else answered,
                at=started,
                path=path,
            )
        )
        if fault is not None and fault.answered_late:
            self._sleep(fault.delay)  # done and recorded: only the answer is late
        return reply

    def _run(self, method: str, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        handler = self._methods.get(method)
        if handler is None:
            return {"ok": False, "error": "unknown_method", "req_method": method}
        if method not in self._no_auth:
            if not token:
                return {"ok": False, "error": "not_authed"}
            if method in self._app_token_methods:
                if token.startswith(("xoxb-", "xoxp-")):
                    return {"ok": False, "error": "not_allowed_token_type"}
                if token != self.app_token:
                    return {"ok": False, "error": "invalid_auth"}
            elif token != self.bot_token and token not in self.installs:
                return {"ok": False, "error": "invalid_auth"}
        with self._lock:
            self._caller_token = token
            try:
                result = handler(params)
            except _ApiError as exc:
                response: dict[str, Any] = {"ok": False, "error": exc.error}
                if exc.messages:
                    response["response_metadata"] = {"messages": exc.messages}
                return response
            # A deep copy so the JSON encoding outside the lock never sees a concurrent mutation; made through JSON,
            # which the answer becomes anyway (copy.deepcopy was most of the fake's CPU per chat.postMessage).
            return {"ok": True, **json.loads(json.dumps(result))}

    def _handle_upload(self, path: str, headers: dict[str, str], body: bytes) -> _Reply:
        file_id = path[len("/upload/") :].strip("/")
        started = time.time()
        fault = self._take_fault("upload", wildcard=False)
        if fault is not None:
            self._sleep(fault.delay)
        reply = self._fault_reply(fault) if fault is not None else None
        params: dict[str, Any] = {"file_id": file_id, "length": len(body)}
        if reply is None:
            content_type = headers.get("content-type", "")
            data = body
            filename: str | None = None
            if content_type.lower().startswith("multipart/form-data"):
                fields = _parse_multipart(content_type, body)
                raw = fields.get("file", b"")
                data = raw if isinstance(raw, bytes) else str(raw).encode()
                filename = fields.get("filename") or fields.get("file__filename")
            params["length"] = len(data)
            with self._lock:
                stored = self.files.get(file_id)
                if stored is None:
                    reply = _Reply(404, b"file_not_found", "text/plain; charset=utf-8")
                else:
                    stored["bytes"] = data
                    if filename:
                        stored["filename"] = filename
                    reply = _Reply(200, f"OK - {len(data)}".encode(), "text/plain; charset=utf-8")
        self._record(
            Call("upload", params, headers, self._bearer(headers), reply.status, self._reply_dict(reply), started, path)
        )
        return reply

    def _handle_response_url(self, path: str, headers: dict[str, str], body: bytes) -> _Reply:
        response_id = path[len("/response/") :].strip("/")
        started = time.time()
        fault = self._take_fault("response_url", wildcard=False)
        if fault is not None:
            self._sleep(fault.delay)
        reply = self._fault_reply(fault) if fault is not None else None
        params: dict[str, Any]
        try:
            params = json.loads(body.decode("utf-8")) if body else {}
            if not isinstance(params, dict):
                params = {"_body": params}
        except ValueError:
            form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
            params = form
            with contextlib.suppress(ValueError):
                params = json.loads(form["payload"]) if "payload" in form else form
        if reply is None:
            with self._lock:
                known = response_id in self._response_ids
            reply = _json_reply({"ok": True}) if known else _Reply(404, b"no_active_hooks", "text/plain")
            blocks = params.get("blocks")
            # Slack answers a response_url post whose blocks break Block Kit with 400 invalid_blocks.
            if (
                known
                and blocks is not None
                and (
                    not isinstance(blocks, list)
                    or len(blocks) > MAX_MESSAGE_BLOCKS
                    or block_kit_violation(blocks, "/blocks") is not None
                )
            ):
                reply = _Reply(400, b"invalid_blocks", "text/plain")
        self._record(Call("response_url", params, headers, None, reply.status, self._reply_dict(reply), started, path))
        return reply

    def _handle_file_download(self, path: str, headers: dict[str, str]) -> _Reply:
        bearer = self._bearer(headers)
        if bearer != self.bot_token and bearer not in self.installs:
            return _Reply(403, b"Forbidden", "text/plain")
        file_id = path[len("/files/") :].split("/")[0]
        with self._lock:
            stored = self.files.get(file_id)
            data = stored.get("bytes") if stored and stored.get("completed") else None
        if data is None:
            return _Reply(404, b"Not Found", "text/plain")
        mimetype = mimetypes.guess_type(str(stored.get("filename") if stored else ""))[0]
        return _Reply(200, data, mimetype or "application/octet-stream")

    @staticmethod
    def _reply_dict(reply: _Reply) -> dict[str, Any]:
        try:
            decoded = json.loads(reply.body)
            if isinstance(decoded, dict):
                return decoded
        except ValueError:
            pass
        return {"ok": reply.status == 200, "body": reply.body.decode("utf-8", "replace")}

    # ------------------------------------------------------------------ helpers for handlers

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):08d}"

    def _next_ts(self) -> str:
        micros = next(self._ts_counter) * TS_STEP_MICROS
        return f"{self.ts_base + micros // 1_000_000}.{micros % 1_000_000:06d}"

    @staticmethod
    def _new_hash() -> str:
        return f"{int(time.time())}.{secrets.token_hex(4)}"

    def _dm_for(self, user_id: str) -> dict[str, Any]:
        """The bot's DM with a user, created on first use and stable afterwards."""
        channel_id = self._dm_by_user.get(user_id)
        if channel_id is None or channel_id not in self.channels:  # tests clear channels between runs
            channel_id = self._next_id("D")
            self._dm_by_user[user_id] = channel_id
            self.channels[channel_id] = {
                "id": channel_id,
                "created": int(time.time()),
                "is_im": True,
                "is_org_shared": False,
                "is_archived": False,
                "is_member": True,
                "is_open": True,
                "user": user_id,
                "priority": 0,
                "context_team_id": self.team_id,
            }
            self._members[channel_id] = [user_id]
        return self.channels[channel_id]

    def _channel(self, params: dict[str, Any], name: str = "channel", *, dm_for_users: bool = False) -> dict[str, Any]:
        channel_id = _str_param(params, name)
        if dm_for_users and channel_id[:1] in ("U", "W") and channel_id in self.users:
            self._dm_refused(self.users[channel_id])
            return self._dm_for(channel_id)
        channel = self.channels.get(channel_id)
        if channel is None:
            raise _ApiError("channel_not_found")
        return channel

    @staticmethod
    def _dm_refused(user: dict[str, Any]) -> None:
        """A DM Slack refuses: to a bot user (``cannot_dm_bot``), or as a test sets ``user["dm_refused"]`` (Slack's
        ``user_not_found``, ``user_disabled``, ``account_inactive`` for someone it takes no DM for)."""
        refused = user.get("dm_refused") or ("cannot_dm_bot" if user.get("is_bot") else None)
        if refused:
            raise _ApiError(str(refused))

    def _user(self, params: dict[str, Any], name: str = "user") -> dict[str, Any]:
        user = self.users.get(_str_param(params, name))
        if user is None:
            raise _ApiError("user_not_found")
        return user

    def _members_of(self, channel: dict[str, Any]) -> list[str]:
        members = list(self._members.get(channel["id"], []))
        if channel.get("is_member") and self.bot_user_id not in members:
            members.append(self.bot_user_id)
        return members

    def join_member(self, channel_id: str, user_id: str) -> None:
        """Someone joins the channel (conversations.members lists them next); the test sends the event itself."""
        if user_id not in self._members.setdefault(channel_id, []):
            self._members[channel_id].append(user_id)

    def leave_member(self, channel_id: str, user_id: str) -> None:
        if user_id in self._members.get(channel_id, []):
            self._members[channel_id].remove(user_id)

    def _find_message(self, channel_id: str, ts: str) -> dict[str, Any]:
        for message in self.messages.get(channel_id, []):
            if message["ts"] == ts:
                return message
        raise _ApiError("message_not_found")

    @staticmethod
    def _check_blocks(blocks: Any, limit: int) -> None:
        if blocks is None:
            return
        if not isinstance(blocks, list) or len(blocks) > limit:
            raise _ApiError("invalid_blocks")
        block_ids: set[str] = set()
        for block in blocks:
            if not isinstance(block, dict) or not isinstance(block.get("type"), str):
                raise _ApiError("invalid_blocks")
            block_id = block.get("block_id")
            if block_id is not None:
                if block_id in block_ids:
                    raise _ApiError("invalid_blocks")
                block_ids.add(block_id)
        if block_kit_violation(blocks, "/blocks") is not None:
            raise _ApiError("invalid_blocks")

    @staticmethod
    def _check_blocks_text(blocks: Any) -> None:
        """msg_blocks_too_long: the text of all the blocks of one posted message together past Slack's limit."""
        if isinstance(blocks, list) and blocks_text_length(blocks) > MAX_MESSAGE_BLOCKS_TEXT:
            raise _ApiError("msg_blocks_too_long")

    @staticmethod
    def _check_text(params: dict[str, Any]) -> None:
        if len(_str_param(params, "text")) > MAX_MESSAGE_TEXT:
            raise _ApiError("msg_too_long")

    @staticmethod
    def _has_content(params: dict[str, Any]) -> bool:
        return bool(params.get("text")) or bool(params.get("blocks")) or bool(params.get("attachments"))

    def _writable_channel(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params, dm_for_users=True)
        if channel.get("is_archived"):
            raise _ApiError("is_archived")
        if not channel.get("is_member"):
            raise _ApiError("not_in_channel")
        return channel

    def _message_view(self, message: dict[str, Any]) -> dict[str, Any]:
        """A stored message as the API returns it (no None placeholders)."""
        return {k: v for k, v in message.items() if v is not None}

    # ------------------------------------------------------------------ methods: auth / chat

    def _api_test(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("error"):
            raise _ApiError(str(params["error"]))
        return {"args": {k: v for k, v in params.items() if k != "token"}}

    def _issue_bot_token(self, grant: dict[str, Any]) -> dict[str, Any]:
        """A new bot token for the granted workspace (and a refresh token when it rotates)."""
        team_id = grant["team_id"]
        number = next(self._ids)
        rotating = grant.get("expires_in") is not None
        token = f"xoxe.xoxb-1-{team_id}-{number}" if rotating else f"xoxb-{team_id}-{number}"
        install = {
            **grant,
            "token": token,
            "bot_user_id": f"UBOT{team_id}",
            "bot_id": f"B{team_id}",
        }
        self.installs[token] = install
        answer: dict[str, Any] = {
            "access_token": token,
            "token_type": "bot",
            "scope": grant["scope"],
            "bot_user_id": install["bot_user_id"],
            "app_id": self.app_id,
            "team": None if grant.get("org_wide") else {"id": team_id, "name": grant["team_name"]},
            "enterprise": {"id": grant["enterprise_id"], "name": "Enterprise"} if grant.get("enterprise_id") else None,
            "is_enterprise_install": bool(grant.get("org_wide")),
            "authed_user": {"id": grant["installer_id"]},
        }
        if rotating:
            refresh_token = f"xoxe-1-{team_id}-{number}"
            self._refresh_tokens[refresh_token] = grant
            answer.update(expires_in=grant["expires_in"], refresh_token=refresh_token)
        return answer

    def _oauth_v2_access(self, params: dict[str, Any]) -> dict[str, Any]:
        if (
            _str_param(params, "client_id") != self.client_id
            or _str_param(params, "client_secret") != self.client_secret
        ):
            raise _ApiError(
                "invalid_client_id" if _str_param(params, "client_id") != self.client_id else "bad_client_secret"
            )
        if _str_param(params, "grant_type") == "refresh_token":
            grant = self._refresh_tokens.pop(_str_param(params, "refresh_token"), None)  # each is good once
            if grant is None:
                raise _ApiError("invalid_refresh_token")
            return self._issue_bot_token(grant)
        grant = self._oauth_codes.pop(_str_param(params, "code"), None)  # a code is good once
        if grant is None:
            raise _ApiError("invalid_code")
        return self._issue_bot_token(grant)

    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        install = self.installs.get(self._caller_token or "")
        if install is not None:  # a token an OAuth install issued: that workspace's bot
            return {
                "url": f"https://{install['team_id'].lower()}.slack.com/",
                "team": install["team_name"],
                "user": "partner",
                "team_id": install["team_id"],
                "user_id": install["bot_user_id"],
                "bot_id": install["bot_id"],
                "enterprise_id": install.get("enterprise_id"),
                "is_enterprise_install": bool(install.get("org_wide")),
            }
        return {
            "url": f"https://{self.team_domain}.slack.com/",
            "team": self.team_name,
            "user": self.users[self.bot_user_id]["name"] if self.bot_user_id in self.users else "partner",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._writable_channel(params)
        if not self._has_content(params):
            raise _ApiError("no_text")
        self._check_blocks(params.get("blocks"), MAX_MESSAGE_BLOCKS)
        self._check_blocks_text(params.get("blocks"))
        self._check_text(params)
        thread_ts = _str_param(params, "thread_ts") or None
        message: dict[str, Any] = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
            "text": _str_param(params, "text"),
            "ts": self._next_ts(),
            "blocks": params.get("blocks") or [],
            "thread_ts": thread_ts,
            "attachments": params.get("attachments"),
            "metadata": params.get("metadata"),
        }
        if thread_ts is not None:
            for parent in self.messages.get(channel["id"], []):
                if parent["ts"] == thread_ts:
                    parent["reply_count"] = parent.get("reply_count", 0) + 1
                    parent["latest_reply"] = message["ts"]
                    parent["thread_ts"] = thread_ts
        self.messages[channel["id"]].append(message)
        return {"channel": channel["id"], "ts": message["ts"], "message": self._message_view(message)}

    def _chat_post_ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self._user(params)
        channel = self._channel(params, dm_for_users=True)
        if channel.get("is_archived"):
            raise _ApiError("is_archived")
        if not self._has_content(params):
            raise _ApiError("no_text")
        self._check_blocks(params.get("blocks"), MAX_MESSAGE_BLOCKS)
        self._check_text(params)
        ts = self._next_ts()
        self.ephemeral_messages.append(
            {
                "channel": channel["id"],
                "user": user["id"],
                "ts": ts,
                "text": _str_param(params, "text"),
                "blocks": params.get("blocks") or [],
                "thread_ts": _str_param(params, "thread_ts") or None,
            }
        )
        return {"message_ts": ts}

    def _chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params)
        message = self._find_message(channel["id"], _str_param(params, "ts"))
        if not self._has_content(params) and "blocks" not in params:
            raise _ApiError("no_text")
        self._check_blocks(params.get("blocks"), MAX_MESSAGE_BLOCKS)
        self._check_blocks_text(params.get("blocks"))
        self._check_text(params)
        # Slack keeps fields the update omits; an explicit empty list clears blocks/attachments.
        if "text" in params:
            message["text"] = _str_param(params, "text")
        if "blocks" in params:
            message["blocks"] = params["blocks"] or []
        if "attachments" in params:
            message["attachments"] = params["attachments"] or None
        if "metadata" in params:
            message["metadata"] = params["metadata"]
        message["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        return {
            "channel": channel["id"],
            "ts": message["ts"],
            "text": message["text"],
            "message": self._message_view(message),
        }

    def _chat_delete(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params)
        message = self._find_message(channel["id"], _str_param(params, "ts"))
        self.messages[channel["id"]].remove(message)
        return {"channel": channel["id"], "ts": message["ts"]}

    def _chat_get_permalink(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params)
        message = self._find_message(channel["id"], _str_param(params, "message_ts"))
        permalink = f"https://{self.team_domain}.slack.com/archives/{channel['id']}/p{message['ts'].replace('.', '')}"
        thread_ts = message.get("thread_ts")
        if thread_ts and thread_ts != message["ts"]:
            permalink += f"?thread_ts={thread_ts}&cid={channel['id']}"
        return {"channel": channel["id"], "permalink": permalink}

    # ------------------------------------------------------------------ methods: views

    @staticmethod
    def check_view(view: Any, allowed_types: tuple[str, ...]) -> dict[str, Any]:
        """Validate like Slack's schema check; messages imitate Slack's "[ERROR] ... [json-pointer:...]"."""

        def fail(message: str, pointer: str) -> _ApiError:
            return _ApiError("invalid_arguments", messages=[f"[ERROR] {message} [json-pointer:{pointer}]"])

        if not isinstance(view, dict):
            raise fail("missing required field: view" if view in (None, "") else "must be an object", "/view")
        if view.get("type") not in allowed_types:
            raise fail(f"must be one of: {', '.join(allowed_types)}", "/view/type")
        blocks = view.get("blocks", [])
        if not isinstance(blocks, list):
            raise fail("must be an array", "/view/blocks")
        if len(blocks) > MAX_VIEW_BLOCKS:
            raise fail(f"no more than {MAX_VIEW_BLOCKS} items allowed", "/view/blocks")
        seen: set[str] = set()
        for i, block in enumerate(blocks):
            if not isinstance(block, dict) or not isinstance(block.get("type"), str):
                raise fail("missing required field: type", f"/view/blocks/{i}")
            block_id = block.get("block_id")
            if block_id is not None:
                if block_id in seen:
                    raise fail(f"duplicate block_id: {block_id}", f"/view/blocks/{i}/block_id")
                seen.add(block_id)
        violation = block_kit_violation(blocks, "/view/blocks")
        if violation is not None:
            raise fail(violation.message, violation.pointer)
        if len(str(view.get("private_metadata", ""))) > 3000:
            raise fail("must be less than 3001 characters", "/view/private_metadata")
        if len(str(view.get("callback_id", ""))) > 255:
            raise fail("must be less than 256 characters", "/view/callback_id")
        if view["type"] == "modal":
            for key in ("title", "submit", "close"):
                text = view.get(key)
                if text is None:
                    if key == "title":
                        raise fail("missing required field: title", "/view")
                    continue
                if not isinstance(text, dict) or text.get("type") != "plain_text":
                    raise fail("must be a plain_text text object", f"/view/{key}")
                if not str(text.get("text", "")):
                    raise fail("must be more than 0 characters", f"/view/{key}/text")
                if len(str(text.get("text", ""))) > 24:
                    raise fail("must be less than 25 characters", f"/view/{key}/text")
            if view.get("submit") is None and any(b.get("type") == "input" for b in blocks):
                raise fail("submit is required when an input block is present", "/view/submit")
        return view

    @staticmethod
    def check_view_errors(answer: dict[str, Any], submitted: dict[str, Any]) -> None:
        """A view_submission answered `response_action: errors`: Slack takes it only when every key is the block_id of
        an input block of the submitted view, and each message is text; otherwise it refuses the whole answer, the
        modal stays as it was with "We had some trouble connecting", and no error shows."""
        errors = answer.get("errors")
        if not isinstance(errors, dict) or not errors:
            raise _ApiError("invalid_arguments", messages=["[ERROR] must provide an object [json-pointer:/errors]"])
        inputs = {b.get("block_id") for b in submitted.get("blocks") or [] if b.get("type") == "input"}
        for block_id, message in errors.items():
            if block_id not in inputs:
                raise _ApiError(
                    "invalid_arguments",
                    messages=[f"[ERROR] no input block with block_id {block_id!r} [json-pointer:/errors/{block_id}]"],
                )
            if not isinstance(message, str) or not message.strip():
                raise _ApiError(
                    "invalid_arguments",
                    messages=[f"[ERROR] must be a non-empty string [json-pointer:/errors/{block_id}]"],
                )

    def _store_view(self, view: dict[str, Any], *, existing: dict[str, Any] | None = None) -> dict[str, Any]:
        view_id = existing["id"] if existing else self._next_id("V")
        external_id = str(view.get("external_id") or (existing or {}).get("external_id") or "")
        if external_id:
            owner = self._external_ids.get(external_id)
            if owner is not None and owner != view_id:
                raise _ApiError("duplicate_external_id")
            self._external_ids[external_id] = view_id
        stored: dict[str, Any] = {
            "id": view_id,
            "team_id": self.team_id,
            "type": view["type"],
            "blocks": view.get("blocks", []),
            "private_metadata": str(view.get("private_metadata", "")),
            "callback_id": str(view.get("callback_id", "")),
            # Slack keeps typed input across updates; nothing is ever typed here, so it stays empty.
            "state": (existing or {}).get("state") or {"values": {}},
            "hash": self._new_hash(),
            "title": view.get("title"),
            "clear_on_close": _truthy(view.get("clear_on_close", False)),
            "notify_on_close": _truthy(view.get("notify_on_close", False)),
            "close": view.get("close"),
            "submit": view.get("submit"),
            "previous_view_id": (existing or {}).get("previous_view_id"),
            "root_view_id": (existing or {}).get("root_view_id", view_id),
            "app_id": self.app_id,
            "external_id": external_id,
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        self.views[view_id] = stored
        return stored

    def _require_trigger(self, params: dict[str, Any]) -> None:
        trigger_id = _str_param(params, "trigger_id").strip()
        if not trigger_id:
            raise _ApiError("invalid_trigger_id")
        with self._lock:
            if trigger_id in self._exchanged_triggers:  # Slack opens one view per trigger, e.g. not for a retry
                raise _ApiError("exchanged_trigger_id")

    def _exchange_trigger(self, params: dict[str, Any]) -> None:
        with self._lock:
            self._exchanged_triggers.add(_str_param(params, "trigger_id").strip())

    def _views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        self._require_trigger(params)
        view = self.check_view(params.get("view"), ("modal",))
        self._exchange_trigger(params)
        return {"view": self._store_view(view)}

    def note_trigger_from_view(self, trigger_id: str, view_id: str) -> None:
        """Slack made `trigger_id` for a click inside the modal view `view_id`: a views.push with it stacks on it."""
        with self._lock:
            self._trigger_views[trigger_id] = view_id

    def view_stack(self, view_id: str) -> list[str]:
        """The ids of the views from the root up to `view_id` (views.push's previous_view_id chain)."""
        stack: list[str] = []
        current: str | None = view_id
        while current is not None and current in self.views and current not in stack:
            stack.insert(0, current)
            current = self.views[current].get("previous_view_id")
        return stack

    def _views_push(self, params: dict[str, Any]) -> dict[str, Any]:
        """views.push: `trigger_id` (from a click inside a modal) + `view`; returns the pushed view. Slack keeps at
        most three views in a modal's stack (the one opened and two pushed): a fourth is push_limit_reached."""
        self._require_trigger(params)
        view = self.check_view(params.get("view"), ("modal",))
        with self._lock:
            below = self._trigger_views.get(_str_param(params, "trigger_id").strip())
        if below is not None and len(self.view_stack(below)) >= 3:
            raise _ApiError("push_limit_reached")
        self._exchange_trigger(params)
        stored = self._store_view(view)
        if below is not None and below in self.views:
            stored["previous_view_id"] = below
            stored["root_view_id"] = self.views[below].get("root_view_id") or below
        return {"view": stored}

    def _views_update(self, params: dict[str, Any]) -> dict[str, Any]:
        view_id = _str_param(params, "view_id")
        external_id = _str_param(params, "external_id")
        if not view_id and not external_id:
            raise _ApiError("invalid_arguments", messages=["[ERROR] view_id or external_id is required"])
        existing = self.views.get(view_id or self._external_ids.get(external_id, ""))
        if existing is None:
            raise _ApiError("not_found")
        view = self.check_view(params.get("view"), ("modal", "home"))
        wanted_hash = _str_param(params, "hash")
        if wanted_hash and wanted_hash != existing["hash"]:
            raise _ApiError("hash_conflict")
        stored = self._store_view(view, existing=existing)
        for user_id, home in list(self.published_home.items()):
            if home["id"] == stored["id"]:
                self.published_home[user_id] = stored
        return {"view": stored}

    def _views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self._user(params, "user_id")
        view = self.check_view(params.get("view"), ("home",))
        existing = self.published_home.get(user["id"])
        wanted_hash = _str_param(params, "hash")
        if wanted_hash and existing is not None and wanted_hash != existing["hash"]:
            raise _ApiError("hash_conflict")
        stored = self._store_view(view, existing=existing)
        self.published_home[user["id"]] = stored
        return {"view": stored}

    # ------------------------------------------------------------------ methods: users / conversations

    def _user_view(self, user: dict[str, Any]) -> dict[str, Any]:
        shown = copy.deepcopy(user)
        if "tz" in user:  # a stranger's record has no time zone
            shown["tz_label"], shown["tz_offset"] = _tz_fields(user["tz"])
        return shown

    def _users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"user": self._user_view(self._user(params))}

    def _org_wide_needs_team(self, params: dict[str, Any]) -> None:
        """An org-wide install's token serves many workspaces: Slack's list methods want to be told which."""
        install = self.installs.get(self._caller_token or "")
        if install is not None and install.get("org_wide") and not _str_param(params, "team_id"):
            raise _ApiError("missing_argument")

    def _users_list(self, params: dict[str, Any]) -> dict[str, Any]:
        self._org_wide_needs_team(params)
        members, next_cursor = _page(
            [self._user_view(u) for u in self.users.values()],
            params,
        )
        return {"members": members, "response_metadata": {"next_cursor": next_cursor}}

    def _users_lookup_by_email(self, params: dict[str, Any]) -> dict[str, Any]:
        wanted = _str_param(params, "email").lower()
        for user in self.users.values():
            if wanted and str(user["profile"].get("email", "")).lower() == wanted:
                return {"user": self._user_view(user)}
        raise _ApiError("users_not_found")

    def _conversation_view(self, channel: dict[str, Any]) -> dict[str, Any]:
        shown = dict(channel)
        if not channel.get("is_im"):
            shown["num_members"] = len(self._members_of(channel))
        return shown

    def _require_scope(self, channel: dict[str, Any], action: str) -> None:
        """Slack wants the scope of the conversation's type: channels:, groups: (private), im: or mpim: + action."""
        if channel.get("is_im"):
            family = "im"
        elif channel.get("is_mpim"):
            family = "mpim"
        else:
            family = "groups" if channel.get("is_private") else "channels"
        if f"{family}:{action}" not in self.scopes:
            raise _ApiError("missing_scope")

    def _readable_channel(self, params: dict[str, Any]) -> dict[str, Any]:
        """A conversation conversations.info/members may read: the type's read scope, and a private one only
        from inside (Slack answers channel_not_found for a private channel the bot is not in)."""
        channel = self._channel(params)
        self._require_scope(channel, "read")
        if channel.get("is_private") and not channel.get("is_im") and not channel.get("is_member"):
            raise _ApiError("channel_not_found")
        return channel

    def _conversations_info(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"channel": self._conversation_view(self._readable_channel(params))}

    def _conversations_join(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params)
        if channel.get("is_im"):
            raise _ApiError("method_not_supported_for_channel_type")
        if channel.get("is_archived"):
            raise _ApiError("is_archived")
        if channel.get("is_private"):  # joined only by invitation; unseen from outside
            raise _ApiError("method_not_supported_for_channel_type" if channel["is_member"] else "channel_not_found")
        if channel.get("is_member"):
            return {
                "channel": self._conversation_view(channel),
                "warning": "already_in_channel",
                "response_metadata": {"warnings": ["already_in_channel"]},
            }
        channel["is_member"] = True
        return {"channel": self._conversation_view(channel)}

    def _conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("channel"):
            channel = self._channel(params)
            return {"no_op": True, "already_open": True, "channel": self._conversation_view(channel)}
        raw = params.get("users")
        user_ids = raw if isinstance(raw, list) else [u.strip() for u in str(raw or "").split(",") if u.strip()]
        if not user_ids:
            raise _ApiError("users_list_not_supplied")
        if len(user_ids) > 1:
            raise _ApiError("method_not_supported_for_channel_type")  # group DMs are not modelled
        user = self.users.get(user_ids[0])
        if user is None:
            raise _ApiError("user_not_found")
        if user.get("deleted"):
            raise _ApiError("user_disabled")
        self._dm_refused(user)
        already = user["id"] in self._dm_by_user
        channel = self._dm_for(user["id"])
        shown = self._conversation_view(channel) if _truthy(params.get("return_im")) else {"id": channel["id"]}
        result: dict[str, Any] = {"channel": shown}
        if already:
            result.update(no_op=True, already_open=True)
        return result

    def _conversations_members(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._readable_channel(params)
        members, next_cursor = _page(self._members_of(channel), params)
        return {"members": members, "response_metadata": {"next_cursor": next_cursor}}

    def _users_conversations(self, params: dict[str, Any]) -> dict[str, Any]:
        """The channels `user` (default: the caller, Partner) is a member of, of `types` (default public_channel),
        paged; private ones only where Partner is a member too, as Slack shows a bot token."""
        user = _str_param(params, "user") or self.bot_user_id
        types = {t.strip() for t in (_str_param(params, "types") or "public_channel").split(",") if t.strip()}
        exclude_archived = _truthy(params.get("exclude_archived"))
        chosen = []
        for channel in self.channels.values():
            if channel.get("is_im"):
                continue
            private = bool(channel.get("is_private"))
            if ("private_channel" if private else "public_channel") not in types:
                continue
            if (exclude_archived and channel.get("is_archived")) or (private and not channel.get("is_member")):
                continue
            if user in self._members_of(channel):
                chosen.append(self._conversation_view(channel))
        channels, next_cursor = _page(chosen, params)
        return {"channels": channels, "response_metadata": {"next_cursor": next_cursor}}

    def _conversations_list(self, params: dict[str, Any]) -> dict[str, Any]:
        self._org_wide_needs_team(params)
        types = {t.strip() for t in (_str_param(params, "types") or "public_channel").split(",") if t.strip()}
        exclude_archived = _truthy(params.get("exclude_archived"))

        def kind(channel: dict[str, Any]) -> str:
            if channel.get("is_im"):
                return "im"
            return "private_channel" if channel.get("is_private") else "public_channel"

        # As for a bot token: a private channel is listed only once Partner is in it (public ones all are).
        chosen = [
            self._conversation_view(c)
            for c in self.channels.values()
            if kind(c) in types
            and not (exclude_archived and c.get("is_archived"))
            and not (kind(c) == "private_channel" and not c.get("is_member"))
        ]
        channels, next_cursor = _page(chosen, params)
        return {"channels": channels, "response_metadata": {"next_cursor": next_cursor}}

    def _conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        """Newest first, paged; metadata only with include_all_metadata; needs the channel type's history scope."""
        channel = self._channel(params)
        self._require_scope(channel, "history")
        if not channel.get("is_im") and not channel.get("is_member"):
            raise _ApiError("not_in_channel")
        oldest = float(_str_param(params, "oldest") or 0)
        latest = float(_str_param(params, "latest") or "inf")
        with_metadata = _truthy(params.get("include_all_metadata"))
        newest_first = [
            {k: v for k, v in self._message_view(m).items() if with_metadata or k != "metadata"}
            for m in reversed(self.messages.get(channel["id"], []))
            if oldest < float(m["ts"]) < latest and not (m.get("thread_ts") and m["thread_ts"] != m["ts"])
        ]
        messages, next_cursor = _page(newest_first, params)
        return {
            "messages": messages,
            "has_more": bool(next_cursor),
            "pin_count": 0,
            "response_metadata": {"next_cursor": next_cursor},
        }

    def _conversations_replies(self, params: dict[str, Any]) -> dict[str, Any]:
        """A thread, its parent first then the replies oldest first, paged; metadata only with include_all_metadata;
        the history scope and membership as conversations.history. A ts with no replies: that message alone."""
        channel = self._channel(params)
        self._require_scope(channel, "history")
        if not channel.get("is_im") and not channel.get("is_member"):
            raise _ApiError("not_in_channel")
        ts = _str_param(params, "ts")
        if not ts:
            raise _ApiError("invalid_arguments", messages=["[ERROR] missing required field: ts"])
        parent = self._find_message(channel["id"], ts)
        thread = parent.get("thread_ts") or parent["ts"]
        with_metadata = _truthy(params.get("include_all_metadata"))
        in_thread = [
            {k: v for k, v in self._message_view(m).items() if with_metadata or k != "metadata"}
            for m in self.messages.get(channel["id"], [])
            if m["ts"] == thread or m.get("thread_ts") == thread
        ]
        messages, next_cursor = _page(in_thread, params)
        return {"messages": messages, "has_more": bool(next_cursor), "response_metadata": {"next_cursor": next_cursor}}

    # ------------------------------------------------------------------ methods: files

    def _files_get_upload_url_external(self, params: dict[str, Any]) -> dict[str, Any]:
        filename = _str_param(params, "filename")
        try:
            length = int(_str_param(params, "length"))
        except ValueError as exc:
            raise _ApiError("invalid_arguments", messages=["[ERROR] missing required field: length"]) from exc
        if not filename:
            raise _ApiError("invalid_arguments", messages=["[ERROR] missing required field: filename"])
        file_id = self._next_id("F")
        self.files[file_id] = {
            "id": file_id,
            "filename": filename,
            "title": filename,
            "length": length,
            "bytes": None,
            "alt_txt": params.get("alt_txt"),
            "snippet_type": params.get("snippet_type"),
            "channel_id": None,
            "initial_comment": None,
            "thread_ts": None,
            "completed": False,
        }
        return {"upload_url": f"{self.base_url}/upload/{file_id}", "file_id": file_id}

    def _file_object(self, stored: dict[str, Any]) -> dict[str, Any]:
        filename = str(stored["filename"])
        mimetype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        extension = filename.rsplit(".", 1)[1].lower() if "." in filename else "binary"
        channel_id = stored.get("channel_id")
        channel = self.channels.get(channel_id or "", {})
        url = f"{self.base_url}/files/{stored['id']}/{filename}"
        return {
            "id": stored["id"],
            "created": stored.get("created", 0),
            "timestamp": stored.get("created", 0),
            "name": filename,
            "title": stored["title"],
            "mimetype": mimetype,
            "filetype": extension,
            "pretty_type": extension.upper(),
            "user": self.bot_user_id,
            "user_team": self.team_id,
            "editable": False,
            "size": len(stored["bytes"] or b""),
            "mode": "hosted",
            "is_external": False,
            "external_type": "",
            "is_public": bool(channel) and not channel.get("is_private") and not channel.get("is_im"),
            "url_private": url,
            "url_private_download": url,
            "permalink": f"https://{self.team_domain}.slack.com/files/{self.bot_user_id}/{stored['id']}/{filename}",
            "channels": [channel_id] if channel and channel.get("is_channel") else [],
            "groups": [channel_id] if channel and channel.get("is_group") else [],
            "ims": [channel_id] if channel and channel.get("is_im") else [],
            "comments_count": 0,
            "has_rich_preview": False,
        }

    def _files_complete_upload_external(self, params: dict[str, Any]) -> dict[str, Any]:
        entries = params.get("files")
        if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
            raise _ApiError("invalid_arguments", messages=["[ERROR] files must be a non-empty array of objects"])
        stored_files: list[dict[str, Any]] = []
        for entry in entries:
            stored = self.files.get(str(entry.get("id", "")))
            if stored is None or stored["bytes"] is None:
                raise _ApiError("file_not_found")
            stored_files.append(stored)
        channel_id = _str_param(params, "channel_id") or _str_param(params, "channels").split(",")[0].strip()
        thread_ts = _str_param(params, "thread_ts") or None
        channel: dict[str, Any] | None = None
        if channel_id:
            channel = self._writable_channel({"channel": channel_id})
        elif thread_ts:
            raise _ApiError("invalid_arguments", messages=["[ERROR] thread_ts requires channel_id"])
        initial_comment = _str_param(params, "initial_comment") or None
        now = int(time.time())
        for entry, stored in zip(entries, stored_files, strict=True):
            stored.update(
                title=str(entry.get("title") or stored["filename"]),
                channel_id=channel["id"] if channel else None,
                initial_comment=initial_comment,
                thread_ts=thread_ts,
                completed=True,
                created=now,
            )
        objects = [self._file_object(s) for s in stored_files]
        if channel is not None:
            # Sharing a file posts a file_share message, as Slack does.
            self.messages[channel["id"]].append(
                {
                    "type": "message",
                    "subtype": "file_share",
                    "user": self.bot_user_id,
                    "bot_id": self.bot_id,
                    "text": initial_comment or "",
                    "ts": self._next_ts(),
                    "blocks": [],
                    "thread_ts": thread_ts,
                    "files": objects,
                }
            )
        return {"files": objects}

    def _files_info(self, params: dict[str, Any]) -> dict[str, Any]:
        stored = self.files.get(_str_param(params, "file"))
        if stored is None or not stored.get("completed"):
            raise _ApiError("file_not_found")
        return {"file": self._file_object(stored), "comments": [], "response_metadata": {"next_cursor": ""}}

    # ------------------------------------------------------------------ methods: Socket Mode

    def _apps_connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        # Slack reads the app-level token from the Authorization header only (checked in _run).
        if not self.socket_mode.running:
            self.socket_mode.start()
        return {"url": self.socket_mode.new_url()}
