"""Slack Web API plumbing below the listeners and jobs: a client for the nudge sender that keeps its HTTP
connections open between calls, copying a client's settings into another kind of client, reading Retry-After.

slack-sdk's `WebClient` opens a new connection for every call (urllib, ``Connection: close``): a fan-out of
10,000 posts paid 10,000 TCP handshakes (and, against Slack, TLS handshakes), a good part of the sender's CPU per
post (bench/fanout.py). :class:`KeepAliveWebClient` changes only the innermost step, one HTTP exchange: each thread
keeps one connection per host and reuses it while the server allows. Everything above it is slack-sdk's own:
building the request, the retry handlers (429 + Retry-After, 5xx, dropped connections), `SlackResponse`, errors.
Failures keep urllib's shapes, so those handlers see what they expect: a non-2xx answer raises `HTTPError`, an
`OSError` while sending becomes `URLError`, one while waiting for the answer propagates as it is.
"""

from __future__ import annotations

import http.client
import io
import threading
from collections.abc import Mapping
from typing import Any, TypeVar
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit
from urllib.request import Request

from slack_sdk import WebClient

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


def retry_after(headers: Mapping[str, Any] | None) -> float | None:
    """The seconds a 429's Retry-After header asks to wait, if it says."""
    value = {k.lower(): v for k, v in (headers or {}).items()}.get("retry-after")
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class KeepAliveWebClient(WebClient):
    """A WebClient whose calls reuse one connection per thread and host; `close()` when done with it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._local = threading.local()
        self._opened: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def close(self) -> None:
        """Closes every connection any thread opened."""
        with self._lock:
            opened, self._opened = self._opened, []
        for connection in opened:
            connection.close()

    def _connection(self, scheme: str, netloc: str) -> http.client.HTTPConnection:
        connections: dict[tuple[str, str], http.client.HTTPConnection] = self._local.__dict__.setdefault("open", {})
        connection = connections.get((scheme, netloc))
        if connection is None:
            if scheme == "https":
                connection = http.client.HTTPSConnection(netloc, timeout=self.timeout, context=self.ssl)
            else:
                connection = http.client.HTTPConnection(netloc, timeout=self.timeout)
            connections[(scheme, netloc)] = connection
            with self._lock:
                self._opened.append(connection)
        return connection

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        parts = urlsplit(url)
        if self.proxy is not None or parts.scheme not in ("http", "https"):
            return super()._perform_urllib_http_request_internal(url, req)  # urllib's way, proxy and checks included
        connection = self._connection(parts.scheme, parts.netloc)
        headers = {name.title(): value for name, value in req.header_items()}
        try:
            try:
                connection.request("POST", req.selector, body=req.data, headers=headers)
            except OSError as e:  # as urllib: a failure to send is a URLError (slack-sdk retries those)
                raise URLError(e) from e
            response = connection.getresponse()
            body = response.read()
        except BaseException:
            connection.close()  # half a request or answer on it: the next call opens a new one
            raise
        if response.will_close:
            connection.close()
        if not 200 <= response.status < 300:
            raise HTTPError(url, response.status, response.reason, response.headers, io.BytesIO(body))
        charset = response.headers.get_content_charset() or "utf-8"
        return {"status": response.status, "headers": response.headers, "body": body.decode(charset)}
