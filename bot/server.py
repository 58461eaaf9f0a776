"""HTTP mode: Bolt's WSGI adapter under waitress (threaded, production-grade), plus /healthz and /metrics."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import io
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from waitress import wasyncore

from bot.metrics import Metrics

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

    from storage.store import Store

logger = logging.getLogger("partner.server")

SLACK_PATH = "/slack/events"
# Seconds that requests already received get to finish after a shutdown is asked for.
SHUTDOWN_GRACE = 10.0
# The largest request body accepted (413 beyond, before it is read). Slack's biggest payload, a submitted modal of
# 100 blocks with its state, stays well under 1 MiB; waitress's own default (1 GiB) would let anyone on the internet
# make every worker thread buffer and hash a gigabyte before the signature is even checked.
MAX_BODY_BYTES = 2 * 1024 * 1024
# How far a request's timestamp may be from now (seconds), as Slack and Bolt have it.
SIGNATURE_MAX_AGE = 60 * 5


class PartnerWSGI:
    """Routes /slack/events (and in OAuth mode /slack/install, /slack/oauth_redirect) to Bolt, and answers the
    operator's own endpoints."""

    def __init__(self, app: App, store: Store, *, signing_secret: str, metrics: Metrics | None = None) -> None:
        self.slack = SlackRequestHandler(app, path=SLACK_PATH)
        # The settings' secret, the one the app was built with (bot.app.create_app): Bolt keeps its copy private.
        self.signing_secret = signing_secret.encode()
        self.store = store
        flow = app.oauth_flow
        self.install_paths = frozenset({flow.install_path, flow.redirect_uri_path}) if flow is not None else frozenset()
        # The app's own metrics (create_app makes them), so /metrics shows what its requests and jobs did.
        self.metrics: Metrics = metrics or getattr(app, "metrics", None) or Metrics()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == "/healthz" and method in ("GET", "HEAD"):
            return self._health(start_response)
        if path == "/metrics" and method in ("GET", "HEAD"):
            body, content_type = self.metrics.render()
            start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body)))])
            return [body]
        if path == SLACK_PATH:
            if method != "POST":
                return _respond(start_response, "405 Method Not Allowed", {"error": "POST only"})
            if not _is_unix_time(environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP")):
                # slack-sdk's verifier calls int() on it and raises, which Bolt would turn into a 200 "Sorry…".
                return _respond(start_response, "401 Unauthorized", {"error": "invalid request"})
            return self._slack_events(environ, start_response)
        if path in self.install_paths:  # OAuth mode only: Bolt's install page and redirect (bot/oauth.py)
            if method != "GET":
                return _respond(start_response, "405 Method Not Allowed", {"error": "GET only"})
            return self._install(environ, start_response)
        return _respond(start_response, "404 Not Found", {"error": "not found"})

    def _slack_events(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Bolt, answering 401 / 400 instead of a 500 and a traceback for a body it cannot even read.

        Bolt parses the body before it checks the signature, and a body that is not UTF-8, JSON that is not an
        object, a `payload` field that is not a JSON object, or Slack's own keys holding null (`"actions": null`,
        `"view": null`) raise out of that parsing: anyone could make the server log a traceback per request.
        """
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        environ["wsgi.input"] = io.BytesIO(body)
        try:
            return self.slack(environ, start_response)
        except Exception as e:  # only Bolt's own parsing gets here: listeners' errors are answered by bot.errors
            if not self._signed(body, environ):
                return _respond(start_response, "401 Unauthorized", {"error": "invalid request"})
            logger.warning("a signed request Partner cannot read was refused (%s)", type(e).__name__)
            return _respond(start_response, "400 Bad Request", {"error": "unreadable request"})

    def _install(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Bolt's install page, or a 503 page saying to try again when the database does not answer: Bolt lets the
        state store's error through, which waitress turned into a bare 500 and a traceback."""
        from sqlalchemy.exc import SQLAlchemyError  # as in _health: serving needs no database stack until here

        try:
            return self.slack(environ, start_response)
        except SQLAlchemyError as e:
            from bot.oauth import install_page_database_down

            logger.warning("%s: database unavailable: %s", environ.get("PATH_INFO"), type(e).__name__)
            status, headers, body = install_page_database_down(str(environ.get("PATH_INFO", "")))
            start_response(status, headers)
            return [body]

    def _signed(self, body: bytes, environ: WSGIEnvironment) -> bool:
        """Slack's v0 signature over the raw bytes (slack-sdk's verifier decodes them as UTF-8 first and raises)."""
        timestamp = str(environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", ""))  # digits: checked by the caller
        if abs(time.time() - int(timestamp)) > SIGNATURE_MAX_AGE:
            return False
        digest = hmac.new(self.signing_secret, b"v0:%s:%s" % (timestamp.encode(), body), hashlib.sha256).hexdigest()
        return hmac.compare_digest(f"v0={digest}", str(environ.get("HTTP_X_SLACK_SIGNATURE", "")))

    def _health(self, start_response: StartResponse) -> Iterable[bytes]:
        # Imported here so that serving (serve_http) needs none of the database stack: the benchmarks' bare
        # Bolt baseline is served by the same function and must not carry Partner's ORM in its memory.
        from sqlalchemy.exc import SQLAlchemyError

        try:
            self.store.ping()
            _check_sqlite_file(self.store)
        except (SQLAlchemyError, sqlite3.Error) as e:
            why = f"{type(e).__name__}: {e}" if isinstance(e, sqlite3.Error) else type(e).__name__  # names no secret
            logger.warning("health check: database unavailable: %s", why)
            return _respond(start_response, "503 Service Unavailable", {"status": "unavailable", "database": "down"})
        return _respond(start_response, "200 OK", {"status": "ok", "database": "ok"})


class StartingUp:
    """What HTTP mode answers while `serve` still waits for the database at start: /healthz 503, so an orchestrator
    sees a process that is up but not ready; Slack's requests 503 too (Slack retries events; a command meets an
    error the user can repeat in a moment). In OAuth mode the install page and redirect, opened in a browser, get
    the HTML page the database being down gives them, not JSON."""

    def __init__(self, *, oauth: bool = False) -> None:
        self.oauth = oauth

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", ""))
        if self.oauth and environ.get("REQUEST_METHOD", "GET") in ("GET", "HEAD"):
            from bot.oauth import INSTALL_PATH, REDIRECT_PATH, install_page_database_down

            if path in (INSTALL_PATH, REDIRECT_PATH):
                status, headers, body = install_page_database_down(path, code_spent=False)
                start_response(status, headers)
                return [body]
        if path == "/metrics":
            return _respond(start_response, "503 Service Unavailable", {"status": "starting"})
        return _respond(start_response, "503 Service Unavailable", {"status": "starting", "database": "down"})


class HttpListener:
    """The port, bound and answering from the moment `serve` starts; the application behind it is swapped in once
    the database is reachable. Serves in its own thread; `stop()` lets requests in flight finish (run_until)."""

    def __init__(self, *, host: str, port: int, threads: int, oauth: bool = False) -> None:
        self.app: Callable[..., Iterable[bytes]] = StartingUp(oauth=oauth)
        self.server = serve_http(self._call, host=host, port=port, threads=threads)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="http", daemon=True)
        self._on_stop: Callable[[], None] | None = None

    def _call(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        return self.app(environ, start_response)

    def _serve(self) -> None:
        run_until(self.server, self._stop, on_stop=lambda: self._on_stop() if self._on_stop else None)

    def serving(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> HttpListener:
        self._thread.start()
        return self

    def stop(self, on_stop: Callable[[], None] | None = None) -> None:
        """Stop accepting, finish what is in flight, close; `on_stop` runs once no new request is taken."""
        self._on_stop = on_stop
        self._stop.set()
        self._thread.join()


def _is_unix_time(timestamp: str | None) -> bool:
    """Slack signs with whole seconds since the epoch, in ASCII digits (int() would also take " 1", "+1", "١")."""
    return timestamp is not None and timestamp.isascii() and timestamp.isdigit()


def _check_sqlite_file(store: Store) -> None:
    """SQLite: the database file can still be opened, not only used through a pooled connection.

    A pooled connection keeps its file open even after the file or its directory is gone (a lost volume, a bad
    restore), so `SELECT 1` alone would keep reporting a database that the next connection cannot open.
    """
    url = store.engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return
    with contextlib.closing(sqlite3.connect(f"file:{quote(url.database)}?mode=rw", uri=True, timeout=5)) as conn:
        conn.execute("PRAGMA schema_version")
    # Read-only (a disk the kernel remounted so after an error, a file another user owns): reads still work, but
    # every check-in would fail as "the database didn't answer".
    from storage.db import sqlite_read_only

    if (read_only := sqlite_read_only(store.engine)) is not None:
        raise sqlite3.OperationalError(read_only)


def _respond(start_response: StartResponse, status: str, body: dict[str, Any]) -> Iterable[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def serve_http(wsgi: Callable[..., Iterable[bytes]], *, host: str, port: int, threads: int = 8, **options: Any) -> Any:
    """A bound-but-not-running waitress server; run it with `run_until`."""
    from waitress.server import create_server

    options.setdefault("max_request_body_size", MAX_BODY_BYTES)
    return create_server(
        wsgi, host=host, port=port, threads=threads, ident="partner", clear_untrusted_proxy_headers=True, **options
    )


def run_until(
    server: Any,
    stop: threading.Event,
    *,
    step: float = 0.5,
    grace: float = SHUTDOWN_GRACE,
    on_stop: Callable[[], None] | None = None,
) -> None:
    """Serve in this thread until `stop` is set, then stop accepting, let in-flight requests finish, and close.

    waitress's own `run()` only ends on an exception, and an exception raised from a signal handler can land in
    socket code that swallows it. Sockets must be closed by the thread running the loop, so everything is done here.
    """
    loop = server.asyncore.loop
    use_poll = server.adj.asyncore_use_poll
    while not stop.is_set():
        loop(timeout=step, map=server._map, use_poll=use_poll, count=1)
    if on_stop is not None:
        on_stop()
    wasyncore.dispatcher.close(server)  # the listening socket only: the trigger still wakes the loop for replies
    deadline = time.monotonic() + grace
    while _in_flight(server) and time.monotonic() < deadline:
        loop(timeout=0.05, map=server._map, use_poll=use_poll, count=1)
    server.task_dispatcher.shutdown(timeout=max(deadline - time.monotonic(), 0.1))
    server.trigger.close()
    wasyncore.close_all(server._map)


def _in_flight(server: Any) -> bool:
    """A request is being handled or its response is not fully written yet."""
    return any(channel.requests or channel.total_outbufs_len for channel in list(server.active_channels.values()))
