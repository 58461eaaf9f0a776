"""Socket Mode: Bolt's SocketModeHandler on slack-sdk's builtin WebSocket client, told when Slack hangs up.

Why: the builtin client (slack-sdk 3.48) does not notice a connection closed without a WebSocket close frame (a
dropped TCP connection, a proxy or load balancer cutting it): its receive loop gets `b""` from `recv` forever, spinning
a whole core, and only its ping monitor gives up on the connection after five failed pings (about a minute at the
10 s interval) — a minute in which every slash command fails. Here an empty read is what it means (the peer closed)
and the client reconnects at once, as it does for a close frame. The same socket hands the client's frame parser
one whole frame per read, which keeps that parser (recursive) from overflowing the stack on big or queued envelopes.

At start, Slack out of reach or answering apps.connections.open with its own trouble (5xx, `ratelimited` past the
client's retries) is waited for, as the database is: an orchestrator restarting a process that exits would only
turn an outage into a crash loop. A refusal of the token itself is no wait away from working and is raised at once.
"""

from __future__ import annotations

import errno
import json
import logging
import socket
import struct
import threading
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientNotConnectedError
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.builtin.connection import Connection, ConnectionState
from slack_sdk.socket_mode.request import SocketModeRequest

from schedules.slack_http import TRANSIENT

logger = logging.getLogger("partner")

# A shutdown waits this long for the envelopes already received to be answered: Slack waits 3 s for each ack.
ANSWER_BEFORE_CLOSING = 5.0
# Pauses between attempts to open the first connection: 1 s, 2 s, 4 s … then every 30 s, for as long as it takes.
FIRST_CONNECT_PAUSE = 1.0
MAX_CONNECT_PAUSE = 30.0
# Envelopes answered at once. Each holds its worker until its ack, which carries the answer, and an answer may wait on
# Slack (users.info for an owner or a guest check: up to 2 s a call before the answer). slack-sdk's 10 queued the
# 11th envelope of a burst behind a slow one: 16 commands waiting 1.5 s each on users.info had their last acks at
# 3.1 s, after Slack gives up. The workers are threads mostly waiting on Slack, started only when a burst needs them.
ANSWERING_WORKERS = 32


class SlackHungUp(ConnectionResetError):
    """The Socket Mode connection was closed by Slack's side without a close frame; `sock` is that connection's."""

    def __init__(self, sock: _HangUpAwareSocket) -> None:
        super().__init__(errno.ECONNRESET, "Slack closed the Socket Mode connection")
        self.sock = sock


# Bytes asked of the socket at a time: a TLS record is at most 16 KiB, and an envelope can be several of them.
READ_SIZE = 64 * 1024


def _frame_end(buffer: bytearray) -> int | None:
    """Where the first WebSocket frame in `buffer` ends (RFC 6455 §5.2), or None while it is incomplete."""
    if len(buffer) < 2:
        return None
    length, start = buffer[1] & 0x7F, 2
    if length == 126:
        if len(buffer) < 4:
            return None
        (length,), start = struct.unpack("!H", buffer[2:4]), 4
    elif length == 127:
        if len(buffer) < 10:
            return None
        (length,), start = struct.unpack("!Q", buffer[2:10]), 10
    if buffer[1] & 0x80:  # masked (never from a server; counted all the same)
        start += 4
    end = start + length
    return end if len(buffer) >= end else None


def _payload(frame: bytes) -> bytes:
    """A whole server frame's payload (unmasked: RFC 6455 §5.1)."""
    length = frame[1] & 0x7F
    return frame[2 + {126: 2, 127: 8}.get(length, 0) :]


def _whole_frame(opcode: int, payload: bytes) -> bytes:
    """One unmasked frame with FIN set, as a server sends an unfragmented message."""
    length = len(payload)
    if length <= 125:
        return struct.pack("!BB", 0x80 | opcode, length) + payload
    if length <= 0xFFFF:
        return struct.pack("!BBH", 0x80 | opcode, 126, length) + payload
    return struct.pack("!BBQ", 0x80 | opcode, 127, length) + payload


class _HangUpAwareSocket:
    """The connection's socket, raising SlackHungUp where `recv` returns nothing (end of stream), and handing the
    client one whole frame per `recv`, a fragmented message joined into one.

    Whole frames because slack-sdk's frame parser recurses once per `recv` of 1 KiB and once per further frame in what
    it read: an envelope near 1 MB, or a burst of queued envelopes read together, overflowed the stack (RecursionError),
    and every envelope of that read was lost, unacked, with the stream's framing after it. Given one frame at a time it
    never recurses. A frame cut by the socket's timeout stays here until the rest arrives.

    Joined because slack-sdk knows no fragments (RFC 6455 §5.4: a text frame without FIN, then continuation frames,
    control frames allowed between them), which a client must accept from a server or a proxy on the way: it parsed
    the first piece as a whole envelope (a JSON error) and dropped the rest, and the envelope was never answered.
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buffer = bytearray()
        # The message being received in fragments: its opcode and the payload so far.
        self._fragmented: tuple[int, bytearray] | None = None

    def recv(self, size: int) -> bytes:
        while True:
            frame = self._next_frame(size)
            fin, opcode = frame[0] & 0x80, frame[0] & 0x0F
            if opcode >= 0x8 or (fin and opcode != 0x0 and self._fragmented is None):
                return frame  # a control frame (even between fragments), or a whole message
            if opcode != 0x0:  # the first fragment (a new message's first frame ends one left unfinished)
                self._fragmented = (opcode, bytearray())
            if self._fragmented is None:
                continue  # a continuation of nothing: no message to join it to
            self._fragmented[1].extend(_payload(frame))
            if fin:
                first, payload = self._fragmented
                self._fragmented = None
                return _whole_frame(first, bytes(payload))

    def _next_frame(self, size: int) -> bytes:
        while True:
            # slack-sdk reads the handshake's last line up to its "\r": the "\n" left is no frame (no server frame
            # starts with 0x0A, a control opcode without FIN) and its parser skips it; so does this.
            while self._buffer[:1] == b"\n":
                del self._buffer[:1]
            if (end := _frame_end(self._buffer)) is not None:
                break
            data = self._sock.recv(max(size, READ_SIZE))
            if not data and size > 0:
                raise SlackHungUp(self)
            self._buffer += data
        frame = bytes(self._buffer[:end])
        del self._buffer[:end]
        return frame

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


# Slack's own messages on the connection (`hello`, `disconnect`) are a few hundred bytes; envelopes are not read here.
CONTROL_MESSAGE_MAX = 4096
LINK_DISABLED = (
    "Slack turned Socket Mode off for this app (disconnect: link_disabled): no command, click or event reaches "
    "Partner until it is turned back on in the app's settings (Socket Mode page), or serve HTTP with "
    '`partner-bot serve --http` and the Request URLs set (README, "Socket Mode or HTTP"). Still trying to reconnect.'
)

TOKEN_REFUSED = (
    "Slack refused SLACK_APP_TOKEN (%s) when Partner reopened its Socket Mode connection: no command, click or event "
    "reaches Partner (nudges still go out) until a current app-level token with the connections:write scope, from "
    "the app's Basic Information page, is set in SLACK_APP_TOKEN and partner-bot restarted. Still trying to reconnect."
)


def token_refused(error: SlackApiError) -> bool:
    """apps.connections.open refused the app-level token itself (revoked, wrong type…): no wait makes it work."""
    status, code = error.response.status_code, error.response.get("error")
    return status < 500 and status != 429 and code not in TRANSIENT


def _log_control_message(text: str) -> str | None:
    """The operator's view of the connection: how many Slack counts, and why it is replaced. The message's type."""
    try:
        message = json.loads(text)
    except ValueError:
        return None
    if not isinstance(message, dict):
        return None
    if message.get("type") == "hello":
        logger.info(
            "connected to Slack in Socket Mode (%s connection(s) open for this app)", message.get("num_connections")
        )
    elif message.get("type") == "disconnect":
        reason = message.get("reason")
        if reason == "link_disabled":
            logger.error(LINK_DISABLED)
        else:
            logger.info("Slack is replacing the Socket Mode connection (%s); opening a new one", reason)
    kind = message.get("type")
    return kind if isinstance(kind, str) else None


class HangUpAwareClient(SocketModeClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Envelopes received, not yet answered (their listener running, or queued for one): a shutdown waits for them.
        self.unanswered = 0
        self.answered = threading.Condition()
        # Held while a new connection's handshake runs and it replaces the old one, and by each send.
        self.switching = threading.Lock()
        # The thread opening the connection that replaces one Slack retires (`disconnect`), while it runs.
        self.replacing: threading.Thread | None = None
        self.replacing_lock = threading.Lock()
        # The operator was told the app-level token is refused, since the last connection opened (told once).
        self.told_token_refused = False
        super().__init__(*args, **kwargs)

    def envelope_answered(self) -> None:
        with self.answered:
            self.unanswered = max(self.unanswered - 1, 0)
            self.answered.notify_all()

    def wait_answered(self, timeout: float) -> int:
        """Wait until every envelope received so far is answered, at most `timeout` seconds; how many are not."""
        with self.answered:
            self.answered.wait_for(lambda: self.unanswered == 0, timeout)
            return self.unanswered

    def issue_new_wss_url(self) -> str:
        """slack-sdk's, with the operator told in one line when Slack refuses the token on a reconnect (revoked or
        regenerated while Partner ran): slack-sdk logged only "Failed to retrieve WSS URL: The request to the Slack
        API failed … invalid_auth" every 10 s, naming neither the token nor the fix, while every command failed.
        At start the refusal is raised to `serve`, which says so and exits."""
        try:
            return super().issue_new_wss_url()
        except SlackApiError as e:
            if self.current_session is not None and token_refused(e) and not self.told_token_refused:
                self.told_token_refused = True
                logger.error(TOKEN_REFUSED, e.response.get("error"))
            raise

    def connect(self) -> None:
        """slack-sdk's `connect`, with the new connection's socket told of hang-ups before anything reads it, and
        the switch made under `switching`: Slack drops the old connection of a rotation as soon as the new one is
        greeted, so an ack written to the old one meanwhile was lost without an error (the write itself succeeds).
        Acks wait for the handshake instead and go out on the new connection. Neither the URL's fetch (a
        `ratelimited` wait) nor the old connection's close (its reader holds the socket up to its 3 s timeout)
        holds them."""
        if self.wss_uri is None:
            self.wss_uri = self.issue_new_wss_url()
        session = Connection(
            url=self.wss_uri,
            logger=self.logger,
            ping_interval=self.ping_interval,
            trace_enabled=self.trace_enabled,
            all_message_trace_enabled=self.all_message_trace_enabled,
            ping_pong_trace_enabled=self.ping_pong_trace_enabled,
            receive_buffer_size=self.receive_buffer_size,
            proxy=self.proxy,
            proxy_headers=self.proxy_headers,
            on_message_listener=self._on_message,
            on_error_listener=self._on_error,
            on_close_listener=self._on_close,
            ssl_context=self.web_client.ssl,
        )
        with self.switching:
            session.connect()
            if session.sock is not None:
                session.sock = _HangUpAwareSocket(session.sock)  # type: ignore[assignment]
            old, self.current_session = self.current_session, session
            self.current_session_state.terminated = True
            self.current_session_state = ConnectionState()
            self.auto_reconnect_enabled = self.default_auto_reconnect_enabled
            self.told_token_refused = False
        if old is not None:
            old.close()
        if not self.current_app_monitor_started:
            self.current_app_monitor_started = True
            self.current_app_monitor.start()
        self.logger.info(f"A new session has been established (session id: {self.session_id()})")

    def send_message(self, message: str) -> None:
        with self.switching:
            session = self.current_session
            try:
                if session is not None:
                    session.send(message)
                    return
            except SlackClientNotConnectedError:
                pass  # closed under us (Slack hung up): slack-sdk's own retry, on the connection that replaces it
        super().send_message(message)

    def _on_message(self, message: str) -> None:
        if '"envelope_id"' in message:
            with self.answered:
                self.unanswered += 1
        elif len(message) < CONTROL_MESSAGE_MAX and _log_control_message(message) == "disconnect":
            self._replace_connection()
            return
        super()._on_message(message)

    def _replace_connection(self) -> None:
        """Slack's `disconnect`: the new connection is opened on a thread of its own. slack-sdk opened it on the one
        thread handing envelopes to the workers, and slept out a `ratelimited` on apps.connections.open there, so the
        envelopes Slack still sent on the old connection meanwhile waited, unanswered, past Slack's 3 s."""
        with self.replacing_lock:
            if self.closed or (self.replacing is not None and self.replacing.is_alive()):
                return  # a replacement is under way already
            self.replacing = threading.Thread(target=self._open_replacement, name="socket-mode-replace", daemon=True)
            self.replacing.start()

    def _open_replacement(self) -> None:
        try:
            self.connect_to_new_endpoint(force=True)
        except Exception as e:  # the old connection serves on; its hang-up reconnects later
            logger.warning("could not open a Socket Mode connection to replace the old one (%s)", e)

    def _on_error(self, error: Exception) -> None:
        if isinstance(error, SlackHungUp):
            session = self.current_session
            if session is None or session.sock is not error.sock:
                # A connection already replaced: Slack closes the old one of a rotation once the new one says hello.
                # Reconnecting here closed the new connection, and the envelopes Slack had just sent on it were lost.
                return
            if self.auto_reconnect_enabled and not self.closed:
                self.logger.info("Slack closed the Socket Mode connection; reconnecting")
                session.close()  # this connection, never one that replaced it meanwhile (`disconnect()` closes that)
                self.connect_to_new_endpoint()
                return
        super()._on_error(error)


class PartnerSocketModeHandler(SocketModeHandler):
    """Bolt's builtin-client handler, with the client above (same settings as Bolt's defaults)."""

    def __init__(self, app: App, app_token: str, web_client: WebClient | None = None) -> None:
        self.app = app
        self.app_token = app_token
        self.client = HangUpAwareClient(
            app_token=app_token,
            logger=app.logger,
            web_client=web_client if web_client is not None else app.client,
            proxy=app.client.proxy,
            ping_interval=10,  # Bolt's default
            concurrency=ANSWERING_WORKERS,
        )
        self.client.socket_mode_request_listeners.append(self.handle)  # type: ignore[arg-type]

    def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        try:
            super().handle(client, req)
        finally:
            self.client.envelope_answered()

    def close_after_answering(self, timeout: float = ANSWER_BEFORE_CLOSING) -> None:
        """SIGTERM: answer the envelopes already received, then close. Closing at once left a command whose listener
        was running without its ack (the send failed on the closed connection): its work was done and kept, and Slack
        told the user it had failed, so they typed it again."""
        self.client.auto_reconnect_enabled = False
        left = self.client.wait_answered(timeout)
        if left:
            logger.warning(
                "closing the Socket Mode connection with %d envelope(s) not answered in %.0f s", left, timeout
            )
        self.close()

    def connect_when_reachable(self, stop: threading.Event) -> bool:
        """Open the first connection, retrying with backoff while Slack is out of reach or answers with its own
        trouble; False if `stop` was set meanwhile (SIGTERM). Raises SlackApiError when Slack refuses the token."""
        pause = FIRST_CONNECT_PAUSE
        attempt = 1
        while True:
            self.client.wss_uri = None  # each try asks for a new URL: Slack's are single-use
            try:
                self.connect()
                if attempt > 1:
                    logger.info("Slack opened the Socket Mode connection after %d attempts", attempt)
                return True
            except SlackApiError as e:
                if token_refused(e):
                    raise
                status, error = e.response.status_code, e.response.get("error")
                why = f"apps.connections.open answered HTTP {status} {error or ''}".rstrip()
            except OSError as e:  # no network, DNS, a proxy, Slack not answering (URLError and timeouts are OSErrors)
                why = f"Slack is out of reach: {type(e).__name__}: {e}"
            logger.warning(
                "cannot open a Socket Mode connection (%s); retrying in %.0f s (attempt %d)", why, pause, attempt
            )
            if stop.wait(pause):
                return False
            pause = min(pause * 2, MAX_CONNECT_PAUSE)
            attempt += 1
