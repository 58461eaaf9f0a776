"""The test suite's fake Slack Web API in a process of its own, so it never competes with the load generator.

    python bench/fake_slack_server.py TOKEN TEAM [--channels N] [--post-interval 1.0] [--dump posts.json] [--fast]
                                      [--latency 0.1]

Prints its API URL on the first line of stdout and serves until stdin closes. `--channels` adds channels
C000001… with the bot in them; `--post-interval` turns on Slack's per-channel chat.postMessage limit (429 +
Retry-After); `--dump` writes every chat.postMessage answer (channel, arrival time, status, nudge ids from the
message metadata) and the fake's CPU time as JSON when it stops.

`--fast` (bench/fanout.py) serves the same fake through a leaner HTTP front: one thread, non-blocking sockets,
keep-alive, requests parsed by hand. Every answer is still `FakeSlack._handle`'s — the same methods, the same
per-channel chat.postMessage pace with 429 + Retry-After, the same record of calls — but the test suite's
threaded `http.server` front cost ≈ 0.3 ms of CPU a request on top of it, so at 1,600+ posts/s the fake, not
Partner, was the bottleneck (bench/RESULTS.md section 2). Requests are answered one at a time, so a scripted
`fail_next(delay=…)` would hold every connection: the fan-out never scripts one.

`--latency SECONDS` (with `--fast`) gives every answer a round trip like Slack's over the internet (≈ 0.1–0.3 s):
the request is handled, and its per-channel pace checked, on arrival as Slack does; the answer leaves `latency`
later, without holding the other connections.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import json
import selectors
import socket
import sys
import threading
import time
from http import HTTPStatus
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fake_slack import Call, FakeSlack, _json_reply, _Reply

LEAN_PATH = "/api/chat.postMessage"  # the one method `--lean` answers itself (FastFront._lean_post)


def channel_id(n: int) -> str:
    return f"C{n:06d}"


class FastFront:
    """A single-threaded HTTP/1.1 front for a FakeSlack: each request goes to `FakeSlack._handle` as is."""

    def __init__(self, fake: FakeSlack, *, latency: float = 0.0, lean: bool = False) -> None:
        self.fake = fake
        self.latency = latency
        self.lean = lean
        # Answers waiting out the latency: (when to send, order, socket, bytes, close after).
        self.delayed: list[tuple[float, int, socket.socket, bytes, bool]] = []
        self.order = itertools.count()
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=1024)
        self.listener.setblocking(False)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, name="fake-slack-fast", daemon=True)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}/api/"

    def __enter__(self) -> FastFront:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        for key in list(self.selector.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]
        self.selector.close()

    def _serve(self) -> None:
        buffers: dict[socket.socket, bytes] = {}
        while not self.stopping.is_set():
            timeout = 0.05
            if self.delayed:
                timeout = min(timeout, max(self.delayed[0][0] - time.monotonic(), 0.0))
            ready = self.selector.select(timeout=timeout)
            now = time.monotonic()
            while self.delayed and self.delayed[0][0] <= now:
                _, _, sock, answer, closing = heapq.heappop(self.delayed)
                if sock.fileno() >= 0:
                    self._send(sock, answer, closing, buffers)
            for key, _ in ready:
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                if sock is self.listener:
                    try:
                        while True:
                            conn, _ = self.listener.accept()
                            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                            conn.setblocking(False)
                            buffers[conn] = b""
                            self.selector.register(conn, selectors.EVENT_READ)
                            with self.fake._lock:
                                self.fake.connections += 1
                    except BlockingIOError:
                        pass
                    continue
                try:
                    chunk = sock.recv(262144)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    chunk = b""
                if not chunk:
                    self._drop(sock, buffers)
                    continue
                buffers[sock] = self._answer(sock, buffers[sock] + chunk, buffers)

    def _drop(self, sock: socket.socket, buffers: dict[socket.socket, bytes]) -> None:
        buffers.pop(sock, None)
        self.selector.unregister(sock)
        sock.close()

    def _answer(self, sock: socket.socket, data: bytes, buffers: dict[socket.socket, bytes]) -> bytes:
        """Answers every whole request in `data`; returns what is left of it (a request still arriving)."""
        while (end := data.find(b"\r\n\r\n")) >= 0:
            request_line, *lines = data[:end].decode("latin-1").split("\r\n")
            headers: dict[str, str] = {}
            for line in lines:
                name, _, value = line.partition(":")
                headers[name.strip()] = value.strip()
            lowered = {name.lower(): value for name, value in headers.items()}
            length = int(lowered.get("content-length") or 0)
            if len(data) < end + 4 + length:
                return data  # the body is still on its way
            body, data = data[end + 4 : end + 4 + length], data[end + 4 + length :]
            verb, path, _ = request_line.split(" ", 2)
            if self.lean and verb == "POST" and path == LEAN_PATH:
                reply = self._lean_post(lowered, body)
            else:
                reply = self.fake._handle(verb, path, headers, body)
            head = [f"HTTP/1.1 {reply.status} {HTTPStatus(reply.status).phrase}"]
            head += [f"{name}: {value}" for name, value in reply.headers.items()]
            head += [f"Content-Type: {reply.content_type}", f"Content-Length: {len(reply.body)}"]
            closing = lowered.get("connection", "").lower() == "close"
            if closing:
                head.append("Connection: close")
            answer = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + reply.body
            if self.latency > 0:  # same delay for all: answers on one connection keep their order
                heapq.heappush(self.delayed, (time.monotonic() + self.latency, next(self.order), sock, answer, closing))
                if closing:
                    return b""
                continue
            if not self._send(sock, answer, closing, buffers):
                return b""
        return data

    def _lean_post(self, headers: dict[str, str], body: bytes) -> _Reply:
        """chat.postMessage as `--lean` serves it: the same per-channel pace (`FakeSlack._channel_rate_limit`: 429 +
        Retry-After), token and channel checks, the answer Slack gives (ok, channel, ts, the message) and a recorded
        `Call` for every post, accepted or not; without the suite's Block Kit validation, stored message and copy of
        the answer: about half the fake's CPU a post (≈ 70–110 vs 160–180 µs), on the two CPUs the sender needs
        too (bench/RESULTS.md, session 12). The fan-out's blocks are validated by the test suite."""
        fake = self.fake
        started = time.time()
        params = json.loads(body)
        token = headers.get("authorization", "").partition(" ")[2].strip() or None
        channel = str(params.get("channel") or "")
        reply: _Reply | None = None
        if token != fake.bot_token:
            response: dict[str, Any] = {"ok": False, "error": "invalid_auth"}
        elif not fake.channels.get(channel, {}).get("is_member"):
            response = {"ok": False, "error": "channel_not_found" if channel not in fake.channels else "not_in_channel"}
        elif (reply := fake._channel_rate_limit(channel, started)) is not None:
            response = json.loads(reply.body)
        else:
            ts = fake._next_ts()
            message = {
                "type": "message",
                "user": fake.bot_user_id,
                "bot_id": fake.bot_id,
                "app_id": fake.app_id,
                "team": fake.team_id,
                "text": params.get("text") or "",
                "ts": ts,
                "blocks": params.get("blocks") or [],
                "metadata": params.get("metadata"),
            }
            response = {"ok": True, "channel": channel, "ts": ts, "message": message}
        if reply is None:
            reply = _json_reply(response)
        fake._record(Call("chat.postMessage", params, headers, token, reply.status, response, started, LEAN_PATH))
        return reply

    def _send(self, sock: socket.socket, answer: bytes, closing: bool, buffers: dict[socket.socket, bytes]) -> bool:
        """Sends one answer; False when the connection is closed after it (asked to, or broken)."""
        try:
            try:
                sent = sock.send(answer)  # small: almost always whole at once
            except BlockingIOError:
                sent = 0
            if sent < len(answer):
                sock.setblocking(True)
                sock.sendall(answer[sent:])
                sock.setblocking(False)
        except OSError:
            closing = True
        if closing:
            if sock in buffers:
                self._drop(sock, buffers)
            return False
        return True


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("token")
    parser.add_argument("team")
    parser.add_argument("--channels", type=int, default=0)
    parser.add_argument("--post-interval", type=float, default=None)
    parser.add_argument("--dump", type=Path, default=None)
    parser.add_argument("--fast", action="store_true", help="serve through the single-threaded front (FastFront)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds each answer takes to come back (--fast)")
    parser.add_argument("--lean", action="store_true", help="chat.postMessage without Block Kit checks (--fast)")
    args = parser.parse_args()
    with FakeSlack(bot_token=args.token, team_id=args.team) as fake:
        fake.add_user("U0001", name="dana", tz="America/New_York")
        for n in range(args.channels):
            fake.add_channel(channel_id(n), name=f"customer-{n}", members=["U0001"])
        fake.post_interval = args.post_interval
        if args.fast:
            with FastFront(fake, latency=args.latency, lean=args.lean) as front:
                print(front.api_url, flush=True)
                sys.stdin.read()
        else:
            print(fake.api_url, flush=True)
            sys.stdin.read()
        cpu = time.process_time()  # the fake's own CPU for everything it served (bench/fanout.py prints it)
        if args.dump is not None:
            posts = [
                {
                    "channel": str(call.params.get("channel")),
                    "at": call.at,
                    "status": call.status,
                    "ok": bool(call.response.get("ok")),
                    "nudge_ids": str(
                        ((call.params.get("metadata") or {}).get("event_payload") or {}).get("nudge_ids") or ""
                    ),
                }
                for call in fake.calls_to("chat.postMessage")
            ]
            args.dump.write_text(json.dumps({"posts": posts, "cpu_seconds": cpu}))


if __name__ == "__main__":
    main()
