"""Slack's side of Socket Mode, offline: a small RFC 6455 WebSocket server on 127.0.0.1, stdlib only.

``apps.connections.open`` on the fake Web API hands out a one-time ``ws://…/link/?ticket=…`` URL of this
server. A client that connects gets Slack's ``hello``; tests then push envelopes (``slash_commands``,
``interactive``, ``events_api``, or a ``disconnect`` asking the client to reconnect) and read the acks the
app sends back (``{"envelope_id": …, "payload": …}``). Pings are answered with pongs, as Slack does.

Stdlib rather than the ``websockets`` package: the protocol subset Slack uses (handshake, unfragmented
text frames, ping/pong/close) is small, the rest of the fake is threaded stdlib too, and the test extra
stays free of an asyncio server that would need its own event-loop thread.

``SocketModeRequests`` reuses every payload builder of ``tests.slack_requests.SlackRequests`` but delivers
the payload as a Socket Mode envelope and returns the ack as a ``Response`` (status 200, body = the ack's
payload as JSON, or empty), so the HTTP scenarios read the same over Socket Mode.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import itertools
import json
import secrets
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.slack_requests import Response, SlackRequests

_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


@dataclass
class Ack:
    """What the app sent back for one envelope."""

    envelope_id: str
    payload: dict[str, Any] | None
    at: float


@dataclass
class _Connection:
    sock: socket.socket
    number: int
    send_lock: threading.Lock = field(default_factory=threading.Lock)
    open: bool = True
    retiring: bool = False  # told to reconnect; closed once its successor says hello, as Slack does
    pings: int = 0

    @staticmethod
    def frame(opcode: int, data: bytes = b"", *, fin: bool = True) -> bytes:
        """Server frames are never masked (RFC 6455 §5.1)."""
        length, first = len(data), (0x80 if fin else 0) | opcode
        if length <= 125:
            header = struct.pack("!BB", first, length)
        elif length <= 0xFFFF:
            header = struct.pack("!BBH", first, 126, length)
        else:
            header = struct.pack("!BBQ", first, 127, length)
        return header + data

    def send_fragmented(self, message: dict[str, Any], pieces: int, *, ping_between: bool = False) -> None:
        """One text message in `pieces` frames (RFC 6455 §5.4: a text frame without FIN, continuation frames, the
        last with FIN), as a server or proxy may split it; a ping between two pieces when asked (§5.4 allows it)."""
        data = json.dumps(message).encode("utf-8")
        size = -(-len(data) // pieces)
        chunks = [data[i : i + size] for i in range(0, len(data), size)]
        frames = []
        for i, chunk in enumerate(chunks):
            frames.append(self.frame(OP_TEXT if i == 0 else OP_CONTINUATION, chunk, fin=i == len(chunks) - 1))
            if ping_between and i == 0:
                frames.append(self.frame(OP_PING, b"slack"))
        with self.send_lock:
            self.sock.sendall(b"".join(frames))

    def send_frame(self, opcode: int, data: bytes = b"") -> None:
        with self.send_lock:
            self.sock.sendall(self.frame(opcode, data))

    def send_json(self, message: dict[str, Any]) -> None:
        self.send_frame(OP_TEXT, json.dumps(message).encode("utf-8"))

    def close(self) -> None:
        self.open = False
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


def _read_exact(sock: socket.socket, n: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < n:
        chunk = sock.recv(n - len(chunks))
        if not chunk:
            raise ConnectionError("peer closed")
        chunks.extend(chunk)
    return bytes(chunks)


def _read_frame(sock: socket.socket) -> tuple[bool, int, bytes]:
    b1, b2 = _read_exact(sock, 2)
    fin, opcode, masked, length = bool(b1 & 0x80), b1 & 0x0F, bool(b2 & 0x80), b2 & 0x7F
    if length == 126:
        (length,) = struct.unpack("!H", _read_exact(sock, 2))
    elif length == 127:
        (length,) = struct.unpack("!Q", _read_exact(sock, 8))
    mask = _read_exact(sock, 4) if masked else b""
    data = _read_exact(sock, length)
    if masked:
        data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
    return fin, opcode, data


class FakeSocketMode:
    """The WebSocket endpoint behind ``apps.connections.open``; thread-safe."""

    def __init__(self, *, app_id: str = "A0001") -> None:
        self.app_id = app_id
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._numbers = itertools.count(1)
        self._envelopes = itertools.count(1)
        self._tickets: set[str] = set()
        self.connections: list[_Connection] = []
        self.acks: dict[str, Ack] = {}
        self.sent: list[dict[str, Any]] = []  # every envelope pushed, in order
        self.stray_messages: list[str] = []  # text frames that were not acks (a bug in the client if any)
        self.errors: list[str] = []

    # ------------------------------------------------------------------ lifecycle

    @property
    def running(self) -> bool:
        return self._listener is not None

    def start(self) -> FakeSocketMode:
        listener = socket.create_server(("127.0.0.1", 0))
        listener.settimeout(0.05)
        self._listener = listener
        self._thread = threading.Thread(target=self._accept_loop, name="fake-socket-mode", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is None:
            return
        if self._thread is not None:
            self._thread.join(timeout=5)
        listener.close()
        self.drop_connections()

    def reset(self) -> None:
        """Forget envelopes and acks, hang up on every client (a well-behaved one reconnects)."""
        self.drop_connections()
        with self._lock:
            self.acks.clear()
            self.sent.clear()
            self.stray_messages.clear()
            self.errors.clear()

    def drop_connections(self) -> None:
        with self._lock:
            connections, self.connections = self.connections, []
        for connection in connections:
            connection.close()

    # ------------------------------------------------------------------ apps.connections.open

    def new_url(self) -> str:
        """A one-time WebSocket URL, as apps.connections.open returns (``wss://`` in real Slack)."""
        if self._listener is None:
            raise RuntimeError("FakeSocketMode is not started")
        ticket = secrets.token_hex(8)
        with self._lock:
            self._tickets.add(ticket)
        port = self._listener.getsockname()[1]
        return f"ws://127.0.0.1:{port}/link/?ticket={ticket}&app_id={self.app_id}"

    # ------------------------------------------------------------------ pushing envelopes

    def wait_connected(self, *, newer_than: _Connection | None = None, timeout: float = 10.0) -> _Connection:
        """Block until a client has been greeted with ``hello`` (after ``newer_than``); returns the newest."""
        deadline = time.monotonic() + timeout
        after = newer_than.number if newer_than is not None else 0
        with self._cond:
            while True:
                live = [c for c in self.connections if c.open and not c.retiring and c.number > after]
                if live:
                    return live[-1]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no Socket Mode client connected within {timeout}s")
                self._cond.wait(remaining)

    def send(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool = False,
        retry_attempt: int | None = None,
        retry_reason: str | None = None,
        connection: _Connection | None = None,
        fragments: int = 1,
        ping_between: bool = False,
    ) -> str:
        """Push one envelope to `connection` (Slack picks one of the app's), by default the newest live one; returns
        its envelope_id. `fragments` > 1 splits its message into that many WebSocket frames."""
        envelope = self._envelope(kind, payload, accepts_response_payload, retry_attempt, retry_reason)
        connection = connection or self.wait_connected()
        with self._lock:
            self.sent.append(envelope)
        if fragments > 1:
            connection.send_fragmented(envelope, fragments, ping_between=ping_between)
        else:
            connection.send_json(envelope)
        return str(envelope["envelope_id"])

    def send_burst(self, kind: str, payloads: list[dict[str, Any]]) -> list[str]:
        """Envelopes back to back in one write, as a client reading slower than Slack sends finds them (a backlog
        after a pause, a busy workspace): its reads then hold many frames, and frames cut anywhere."""
        envelopes = [self._envelope(kind, payload, False, None, None) for payload in payloads]
        connection = self.wait_connected()
        with self._lock:
            self.sent.extend(envelopes)
        data = b"".join(connection.frame(OP_TEXT, json.dumps(e).encode("utf-8")) for e in envelopes)
        with connection.send_lock:
            connection.sock.sendall(data)
        return [str(e["envelope_id"]) for e in envelopes]

    def _envelope(
        self,
        kind: str,
        payload: dict[str, Any],
        accepts_response_payload: bool,
        retry_attempt: int | None,
        retry_reason: str | None,
    ) -> dict[str, Any]:
        envelope_id = f"{secrets.token_hex(4)}-{next(self._envelopes):04d}-{secrets.token_hex(6)}"
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
        }
        if kind == "events_api":
            envelope["retry_attempt"] = retry_attempt or 0
            envelope["retry_reason"] = retry_reason or ""
        return envelope

    def request_disconnect(self, reason: str = "refresh_requested") -> None:
        """Slack's warning before it rotates a connection: the client should open a new one."""
        connection = self.wait_connected()
        connection.retiring = True
        connection.send_json({"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-fake"}})

    def wait_for_ack(self, envelope_id: str, timeout: float = 10.0) -> Ack:
        deadline = time.monotonic() + timeout
        with self._cond:
            while envelope_id not in self.acks:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"envelope {envelope_id} was not acknowledged within {timeout}s")
                self._cond.wait(remaining)
            return self.acks[envelope_id]

    # ------------------------------------------------------------------ server side

    def _accept_loop(self) -> None:
        while self._listener is not None:
            listener = self._listener
            try:
                sock, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._serve, args=(sock,), name="fake-socket-mode-conn", daemon=True).start()

    def _handshake(self, sock: socket.socket) -> bool:
        raw = bytearray()
        while b"\r\n\r\n" not in raw:
            chunk = sock.recv(1024)
            if not chunk:
                return False
            raw.extend(chunk)
        head = raw.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        _verb, target, _version = head[0].split(" ", 2)
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:])}
        ticket = (parse_qs(urlsplit(target).query).get("ticket") or [""])[0]
        with self._lock:
            known = ticket in self._tickets
            self._tickets.discard(ticket)  # Slack's URLs are single-use
        key = headers.get("sec-websocket-key", "")
        if not known or headers.get("upgrade", "").lower() != "websocket" or not key:
            sock.sendall(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return False
        accept = base64.b64encode(hashlib.sha1((key + _WS_GUID).encode()).digest()).decode()
        sock.sendall(
            (
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Accept: {accept}\r\n\r\n"
            ).encode()
        )
        return True

    def _serve(self, sock: socket.socket) -> None:
        sock.settimeout(None)
        if not self._handshake(sock):
            sock.close()
            return
        connection = _Connection(sock, next(self._numbers))
        try:
            with self._lock:
                live = sum(1 for c in self.connections if c.open) + 1
            connection.send_json(
                {
                    "type": "hello",
                    "num_connections": live,
                    "debug_info": {"host": "applink-fake", "build_number": 1, "approximate_connection_time": 18060},
                    "connection_info": {"app_id": self.app_id},
                }
            )
            with self._cond:
                retired = [c for c in self.connections if c.open and c.retiring]
                self.connections.append(connection)
                self._cond.notify_all()
            for old in retired:
                old.close()
            self._receive(connection)
        except (ConnectionError, OSError):
            pass  # the client went away, or the test dropped the connection
        finally:
            with self._cond:
                connection.open = False
                self._cond.notify_all()
            sock.close()

    def _receive(self, connection: _Connection) -> None:
        message = bytearray()
        while connection.open:
            fin, opcode, data = _read_frame(connection.sock)
            if opcode == OP_PING:
                connection.pings += 1
                connection.send_frame(OP_PONG, data)
            elif opcode == OP_CLOSE:
                connection.send_frame(OP_CLOSE, data[:2])
                return
            elif opcode in (OP_TEXT, OP_CONTINUATION):
                message.extend(data)
                if fin:
                    self._on_text(bytes(message).decode("utf-8"))
                    message.clear()

    def _on_text(self, text: str) -> None:
        try:
            decoded = json.loads(text)
        except ValueError:
            decoded = None
        with self._cond:
            if isinstance(decoded, dict) and "envelope_id" in decoded:
                envelope_id = str(decoded["envelope_id"])
                if envelope_id in self.acks:
                    self.errors.append(f"envelope {envelope_id} acknowledged twice")
                self.acks[envelope_id] = Ack(envelope_id, decoded.get("payload"), time.time())
            else:
                self.stray_messages.append(text)
            self._cond.notify_all()


class SocketModeRequests(SlackRequests):
    """The HTTP suite's request builders, delivered as Socket Mode envelopes; acks come back as Responses."""

    def __init__(self, server: FakeSocketMode, **kwargs: Any) -> None:
        kwargs.setdefault("signing_secret", "unused-in-socket-mode")
        super().__init__("ws://unused", **kwargs)
        self.server = server
        self.connection: _Connection | None = None  # the connection Slack picks (None: the newest)
        self.last_envelope_id = ""
        self.fragments = 1  # WebSocket frames per envelope (more: split as RFC 6455 §5.4 allows)

    def _deliver(self, kind: str, payload: dict[str, Any], post_kwargs: dict[str, Any]) -> Response:
        accepts = kind == "slash_commands" or payload.get("type") in ("view_submission", "block_suggestion")
        envelope_id = self.server.send(
            kind,
            payload,
            accepts_response_payload=accepts,
            retry_attempt=post_kwargs.get("retry_num"),
            retry_reason=post_kwargs.get("retry_reason"),
            connection=self.connection,
            fragments=self.fragments,
            ping_between=self.fragments > 1,
        )
        self.last_envelope_id = envelope_id
        ack = self.server.wait_for_ack(envelope_id, timeout=self.timeout)
        body = b"" if ack.payload is None else json.dumps(ack.payload).encode("utf-8")
        return Response(200, {"content-type": "application/json"}, body)

    def _post_form(self, fields: dict[str, str], post_kwargs: dict[str, Any]) -> Response:
        # Only slash commands are plain forms; in Socket Mode their fields arrive as a JSON object.
        return self._deliver("slash_commands", dict(fields), post_kwargs)

    def _post_payload(self, payload: dict[str, Any], post_kwargs: dict[str, Any]) -> Response:
        self.last_payload = payload
        return self._deliver("interactive", payload, post_kwargs)

    def _post_json(self, body: dict[str, Any], post_kwargs: dict[str, Any]) -> Response:
        return self._deliver("events_api", body, post_kwargs)
