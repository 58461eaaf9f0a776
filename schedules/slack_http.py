"""Slack Web API plumbing below the listeners and jobs: a client for the nudge sender that keeps its HTTP
connections open between calls, copying a client's settings into another kind of client, reading Retry-After.

slack-sdk's `WebClient` opens a new connection for every call (urllib, ``Connection: close``): a fan-out of
10,000 posts paid 10,000 TCP handshakes (and, against Slack, TLS handshakes), a good part of the sender's CPU per
post (bench/fanout.py). :class:`KeepAliveWebClient` changes only the innermost step, one HTTP exchange: each thread
keeps one connection per host and reuses it while the server allows. Everything above it is slack-sdk's own:
building the request, the retry handlers (429 + Retry-After, 5xx, dropped connections), `SlackResponse`, errors.
Failures keep urllib's shapes, so those handlers see what they expect: a non-2xx answer raises `HTTPError`, an
`OSError` while sending becomes `URLError`, one while waiting for the answer propagates as it is.

For the fan-out's one hot call it also offers :meth:`KeepAliveWebClient.post_message`: the same JSON POST
``chat.postMessage`` sends, built and read directly (slack-sdk's request building, `SlackResponse` and the retry
loop's bookkeeping were most of a post's CPU, bench/RESULTS.md section 2). Only a plain success is read that way;
any other outcome (429, 5xx, ``ok: false``, a dropped connection, a timeout) is handed to slack-sdk's own
``chat_postMessage`` as the answer of its first attempt, so its retry handlers, `SlackResponse` and `SlackApiError`
decide what happens next exactly as if it had made the request itself.
"""

from __future__ import annotations

import http.client
import io
import json
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit
from urllib.request import Request

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web import SlackResponse

logger = logging.getLogger(__name__)

# slack-sdk retries the API methods (429, 5xx, dropped connections) but not the POST of a file's bytes to the upload
# URL `files.getUploadURLExternal` handed out: a file server hiccup there is tried again with new upload URLs, up to
# this many times in all. Nothing was shared before `files.completeUploadExternal`, so no file can show twice.
UPLOAD_ATTEMPTS = 3


def files_upload_v2(client: WebClient, **kwargs: Any) -> SlackResponse:
    """`client.files_upload_v2(**kwargs)`, tried again when the upload URL refuses the bytes (HTTPError: a status
    urllib raises on; SlackRequestError: anything else but 200)."""
    for attempt in range(1, UPLOAD_ATTEMPTS + 1):
        try:
            return client.files_upload_v2(**kwargs)
        except (HTTPError, SlackRequestError):
            if attempt == UPLOAD_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


# Slack refused Partner's own token (revoked, expired, its workspace or bot user deactivated): nothing the request or
# the nudge did wrong; an operator has to fix the token (`partner-bot doctor`).
TOKEN_REFUSED = frozenset({"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive"})
# An org-wide install's token refused in one of its organisation's workspaces: the org removed Partner from that
# workspace (Slack's team_access_revoked event goes only to apps subscribed to it, which Partner's manifest is not).
TEAM_ACCESS_REVOKED = "team_access_not_granted"

# Slack's own trouble, gone on a later try; any other error is Slack's lasting answer about what was asked (a channel
# deleted or private without Partner, a user not found, a scope the app lacks, a method it does not serve).
TRANSIENT = frozenset({"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"})


def lasting(error: SlackApiError) -> bool:
    """Slack answered for good (not a rate limit, its own trouble or a refused token, which say nothing about what
    was asked: a look-up that met them must not be read as "no such channel" or "not an admin")."""
    status = error.response.status_code
    code = str(error.response.get("error") or "")
    return not (
        status == 429 or status >= 500 or code in TRANSIENT or code in TOKEN_REFUSED or code == TEAM_ACCESS_REVOKED
    )


Client = TypeVar("Client", bound=WebClient)


def same_client_as(client: WebClient, kind: type[Client], **overrides: Any) -> Client:
    """A `kind` of client with `client`'s token, team, URL, timeout, TLS, proxy, headers and retry handlers."""
    settings: dict[str, Any] = {
        "token": client.token,
        "base_url": client.base_url,
        "timeout": client.timeout,
        "ssl": client.ssl,
        "proxy": client.proxy,
        "headers": dict(client.headers),
        "logger": client.logger,
        "retry_handlers": client.retry_handlers,
    }
    twin = kind(**{**settings, **overrides})
    twin.default_params = dict(client.default_params)  # Bolt's team_id for org-wide installs
    return twin


def answer_lost(error: BaseException) -> bool:
    """Whether a call that raised `error` may still have been carried out by Slack: its answer never came (a
    timeout, a connection reset or closed while waiting for it). urllib's shapes, kept by KeepAliveWebClient: an
    OSError while connecting or sending is a URLError (nothing reached Slack: slack-sdk retries those); one while
    waiting for the answer comes as it is. An error answer (SlackApiError: 429, 5xx, ok=false) is sure too."""
    return isinstance(error, OSError) and not isinstance(error, URLError)


# How far Slack's clock (a shared file's `created`) may be behind ours when looking for a file shared just now.
CLOCK_SLACK = 60


def file_shared_in(client: WebClient, channel: str, filename: str, since: float) -> bool | None:
    """Whether a file named `filename` was shared in `channel` since `since` (epoch seconds), read from the channel's
    latest messages: asked after an upload whose answer never came (Slack may have shared it all the same). None
    when Slack cannot say."""
    try:
        messages = client.conversations_history(channel=channel, limit=20).get("messages") or []
    except (SlackApiError, OSError) as e:
        logger.info("could not look for %s in %s after a lost answer: %r", filename, channel, e)
        return None
    return any(
        f.get("name") == filename and float(f.get("created") or 0) >= since - CLOCK_SLACK
        for message in messages
        for f in message.get("files") or []
    )


# The longest Retry-After a scheduled tick waits out in place (bot.app's rate-limit retry handler reads this). A
# longer one fails the call as `ratelimited` at once: the outbox posts it again after the Retry-After
# (next_attempt_at), other jobs try at a later tick, instead of a worker and the tick sleeping minutes (twice: the
# handler retries two times) while the next ticks wait.
MAX_RETRY_AFTER_IN_TICK = 10.0
in_tick: ContextVar[bool] = ContextVar("partner_in_tick", default=False)


def retry_after(headers: Mapping[str, Any] | None) -> float | None:
    """The seconds a 429's Retry-After header asks to wait, if it says."""
    value = {k.lower(): v for k, v in (headers or {}).items()}.get("retry-after")
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class _Wire:
    """One kept-alive HTTP/1.1 connection: a request's bytes out, the answer's status, headers and body back.

    Leaner than `http.client` (whose header parsing goes through the email package): the answer's headers are
    split by hand and parsed into an `HTTPMessage` only when someone needs them (an error answer)."""

    def __init__(self, scheme: str, netloc: str, timeout: float | None, context: ssl.SSLContext | None) -> None:
        parts = urlsplit(f"{scheme}://{netloc}")
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if scheme == "https" else 80)
        self.netloc = netloc
        self.scheme = scheme
        self.timeout = timeout
        self.context = context
        self.sock: socket.socket | None = None
        self.buffer = b""

    def close(self) -> None:
        sock, self.sock, self.buffer = self.sock, None, b""
        if sock is not None:
            sock.close()

    def send(self, data: bytes) -> None:
        """Raises OSError when the request could not be sent (no connection, or the kept one went away)."""
        if self.sock is None:
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.scheme == "https":
                context = self.context or ssl.create_default_context()
                sock = context.wrap_socket(sock, server_hostname=self.host)
            self.sock = sock
        self.sock.sendall(data)

    def _fill(self) -> None:
        assert self.sock is not None
        chunk = self.sock.recv(65536)
        if not chunk:
            raise http.client.RemoteDisconnected("Remote end closed connection without response")
        self.buffer += chunk

    def _take(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._fill()
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def _line(self) -> bytes:
        while (end := self.buffer.find(b"\r\n")) < 0:
            self._fill()
        line, self.buffer = self.buffer[:end], self.buffer[end + 2 :]
        return line

    def receive(self) -> tuple[int, str, bytes, dict[str, str], bytes]:
        """(status, reason, raw header block, the headers that matter here by lower-case name, body). Closes the
        connection when the server said it would (or the answer has no length); raises OSError on a broken one."""
        while (end := self.buffer.find(b"\r\n\r\n")) < 0:
            self._fill()
        head, self.buffer = self.buffer[:end], self.buffer[end + 4 :]
        status_line, _, raw = head.partition(b"\r\n")
        version, _, rest = status_line.decode("latin-1").partition(" ")
        code, _, reason = rest.partition(" ")
        fields: dict[str, str] = {}
        for line in raw.split(b"\r\n"):
            name, _, value = line.decode("latin-1").partition(":")
            fields[name.strip().lower()] = value.strip()
        will_close = fields.get("connection", "").lower() == "close" or version == "HTTP/1.0"
        if fields.get("transfer-encoding", "").lower() == "chunked":
            parts: list[bytes] = []
            while size := int(self._line().split(b";")[0].strip() or b"0", 16):
                parts.append(self._take(size))
                self._line()
            while self._line():
                pass  # trailers
            body = b"".join(parts)
        elif "content-length" in fields:
            body = self._take(int(fields["content-length"]))
        else:  # no length: the body runs to the end of the connection
            assert self.sock is not None
            while chunk := self.sock.recv(65536):
                self.buffer += chunk
            body, will_close = self.buffer, True
        if will_close:
            self.close()
        return int(code), reason, raw + b"\r\n\r\n", fields, body


def _charset(content_type: str) -> str:
    for option in content_type.split(";")[1:]:
        key, _, value = option.strip().partition("=")
        if key.lower() == "charset" and value:
            return value.strip('"')
    return "utf-8"


class KeepAliveWebClient(WebClient):
    """A WebClient whose calls reuse one connection per thread and host; `close()` when done with it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._local = threading.local()
        self._opened: list[_Wire] = []
        self._lock = threading.Lock()
        self._post_head: bytes | None = None

    def close(self) -> None:
        """Closes every connection any thread opened."""
        with self._lock:
            opened, self._opened = self._opened, []
        for connection in opened:
            connection.close()

    def _connections(self, scheme: str, netloc: str, count: int) -> list[_Wire]:
        """The thread's first `count` kept connections to this host (opened when first sent on)."""
        connections: dict[tuple[str, str], list[_Wire]] = self._local.__dict__.setdefault("open", {})
        kept = connections.setdefault((scheme, netloc), [])
        while len(kept) < count:
            kept.append(_Wire(scheme, netloc, self.timeout, self.ssl))
            with self._lock:
                self._opened.append(kept[-1])
        return kept[:count]

    def _exchange(self, url: str, data: bytes) -> tuple[int, dict[str, str], bytes, Any]:
        """One request on the thread's kept connection: (status, headers that matter, body, full-headers thunk).

        urllib's failure shapes: an OSError while sending is a URLError (slack-sdk retries those); one while
        waiting for the answer propagates as it is (a timeout: the post may have gone out, never retried blindly).
        """
        parts = urlsplit(url)
        (connection,) = self._connections(parts.scheme, parts.netloc, 1)
        try:
            try:
                connection.send(data)
            except OSError as e:
                raise URLError(e) from e
            status, reason, raw, fields, body = connection.receive()
        except BaseException:
            connection.close()  # half a request or answer on it: the next call opens a new one
            raise

        def full_headers() -> http.client.HTTPMessage:
            return http.client.parse_headers(io.BytesIO(raw))

        return status, fields, body, (reason, full_headers)

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        replay = self._local.__dict__.pop("replay", None)
        if replay is not None:  # the first attempt's outcome, already had by post_message
            if isinstance(replay, BaseException):
                raise replay
            return dict(replay)
        parts = urlsplit(url)
        if self.proxy is not None or parts.scheme not in ("http", "https"):
            return super()._perform_urllib_http_request_internal(url, req)  # urllib's way, proxy and checks included
        lines = [f"POST {req.selector} HTTP/1.1", f"Host: {parts.netloc}", "Accept-Encoding: identity"]
        lines += [f"{name.title()}: {value}" for name, value in req.header_items() if name.lower() != "content-length"]
        body = req.data if isinstance(req.data, bytes) else b""
        lines.append(f"Content-Length: {len(body)}")
        return self._answer(url, *self._exchange(url, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body))

    @staticmethod
    def _answer(url: str, status: int, fields: dict[str, str], body: bytes, more: Any) -> dict[str, Any]:
        """As urllib gives it to slack-sdk: a non-2xx answer is an HTTPError, else {status, headers, body}."""
        reason, full_headers = more
        if not 200 <= status < 300:
            raise HTTPError(url, status, reason, full_headers(), io.BytesIO(body))
        return {
            "status": status,
            "headers": full_headers(),
            "body": body.decode(_charset(fields.get("content-type", ""))),
        }

    def post_message(self, **kwargs: Any) -> dict[str, Any]:
        """chat.postMessage with these arguments (None values left out, as slack-sdk does); returns Slack's answer.

        A 2xx answer with ``ok: true`` is read here; anything else is replayed into slack-sdk's `chat_postMessage`
        as its first attempt's outcome (see the module docstring), which retries, answers or raises as it does."""
        (post,) = self.post_messages([kwargs])
        return post()

    def post_messages(
        self, calls: Sequence[dict[str, Any]], *, clock: Callable[[], float] = time.monotonic
    ) -> list[PostAttempt]:
        """Several chat.postMessage calls at once, each on a connection of its own kept by this thread: every
        request is sent before the first answer is read, so the calls wait on Slack together, not one after the
        other (a posting thread keeps many posts in flight instead of one; threads cost CPU, bench/fanout.py).

        Returns each call's outcome, in order, to be called: a plain success returns Slack's answer; any other
        outcome is replayed into slack-sdk's `chat_postMessage` when called (in the calling thread), as
        `post_message` does. Each outcome says when (`clock`) its answer was read."""
        url = f"{self.base_url}chat.postMessage"
        parts = urlsplit(url)
        if self.proxy is not None or parts.scheme not in ("http", "https"):
            return [PostAttempt(self, call, _SLACK_SDK, clock()) for call in calls]
        head = self._post_head
        if head is None:
            headers = {**self.headers, "Content-Type": "application/json;charset=utf-8"}
            if self.token:
                headers["Authorization"] = f"Bearer {self.token}"
            lines = [f"POST {parts.path} HTTP/1.1", f"Host: {parts.netloc}", "Accept-Encoding: identity"]
            lines += [f"{name.title()}: {value}" for name, value in headers.items()]
            head = self._post_head = ("\r\n".join(lines) + "\r\nContent-Length: ").encode("latin-1")
        wires = self._connections(parts.scheme, parts.netloc, len(calls))
        outcomes: list[Any] = [None] * len(calls)
        answered = [0.0] * len(calls)
        for i, (call, wire) in enumerate(zip(calls, wires, strict=True)):
            payload = {name: value for name, value in call.items() if value is not None}
            for name, value in self.default_params.items():
                payload.setdefault(name, value)  # Bolt's team_id for org-wide installs, as slack-sdk adds it
            body = json.dumps(payload).encode("utf-8")
            try:
                wire.send(b"%s%d\r\n\r\n%s" % (head, len(body), body))
            except OSError as e:  # URLError, as urllib raises it: slack-sdk decides whether to retry
                wire.close()
                outcomes[i] = URLError(e)
        try:
            for i, wire in enumerate(wires):
                if outcomes[i] is not None:
                    continue
                try:
                    status, reason, raw, fields, answer = wire.receive()
                except OSError as e:  # a timeout or a broken connection while waiting: as urllib raises it
                    wire.close()  # half an answer on it: the next call opens a new one
                    outcomes[i], answered[i] = e, clock()
                    continue
                answered[i] = clock()
                outcomes[i] = self._read(url, status, reason, raw, fields, answer)
        except BaseException:
            for wire in wires:
                wire.close()
            raise
        now = clock()  # for the calls that could not be sent
        return [
            PostAttempt(self, call, outcome, answered[i] or now)
            for i, (call, outcome) in enumerate(zip(calls, outcomes, strict=True))
        ]

    def _read(self, url: str, status: int, reason: str, raw: bytes, fields: dict[str, str], answer: bytes) -> Any:
        """A plain success's answer (a dict), or the outcome slack-sdk's first attempt would have had."""
        if status == 200:  # what SlackResponse.validate() accepts
            try:
                data = json.loads(answer.decode(_charset(fields.get("content-type", ""))))
            except ValueError:
                data = None  # slack-sdk reports an unreadable body its own way
            if isinstance(data, dict) and data.get("ok", False):
                return data
        more = (reason, lambda: http.client.parse_headers(io.BytesIO(raw)))
        try:
            return _Replay(self._answer(url, status, fields, answer, more))
        except HTTPError as e:
            return _Replay(e)

    def replay(self, call: dict[str, Any], outcome: Any) -> dict[str, Any]:
        """slack-sdk's `chat_postMessage` with `outcome` as the answer to its first attempt."""
        self._local.replay = outcome
        try:
            return dict(self.chat_postMessage(**call).data)  # type: ignore[arg-type]
        finally:
            self._local.__dict__.pop("replay", None)


_SLACK_SDK = object()  # the call is made by slack-sdk itself (through a proxy, say)


@dataclass(frozen=True)
class _Replay:
    outcome: Any  # what urllib would have given slack-sdk: a {status, headers, body} dict or an exception


@dataclass(frozen=True)
class PostAttempt:
    """One chat.postMessage of `KeepAliveWebClient.post_messages`: `ok` when Slack said a plain yes; calling it
    returns Slack's answer, or has slack-sdk handle any other outcome (retrying, answering or raising)."""

    client: KeepAliveWebClient
    call: dict[str, Any]
    outcome: Any
    answered_at: float  # when the answer was read (the clock given to `post_messages`)

    @property
    def ok(self) -> bool:
        return isinstance(self.outcome, dict)

    def __call__(self) -> dict[str, Any]:
        if isinstance(self.outcome, dict):
            return self.outcome
        if self.outcome is _SLACK_SDK:
            return dict(self.client.chat_postMessage(**self.call).data)  # type: ignore[arg-type]
        outcome = self.outcome.outcome if isinstance(self.outcome, _Replay) else self.outcome
        return self.client.replay(self.call, outcome)
