"""Builds the Bolt app: dependencies into the context, one error handler, the listeners."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext, BoltResponse
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.clock import Clock
from bot.errors import handle_error
from bot.settings import Settings
from handlers import register_listeners
from storage.store import Store

logger = logging.getLogger("partner")


def make_client(settings: Settings, *, timeout: int = 10) -> WebClient:
    """A WebClient that honours Retry-After on 429 and retries 5xx and dropped connections."""
    client = WebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url, timeout=timeout)
    client.retry_handlers.extend(
        [
            RateLimitErrorRetryHandler(max_retry_count=2),
            ServerErrorRetryHandler(max_retry_count=2),
        ]
    )
    # The default list already holds a ConnectionErrorRetryHandler; keep exactly one.
    if not any(isinstance(h, ConnectionErrorRetryHandler) for h in client.retry_handlers):
        client.retry_handlers.append(ConnectionErrorRetryHandler())
    return client


def create_app(
    *,
    settings: Settings,
    store: Store,
    clock: Clock,
    client: WebClient | None = None,
    token_verification_enabled: bool = False,
) -> App:
    """The Bolt app, ready to serve over HTTP or Socket Mode.

    Listeners run before the HTTP response is sent (process_before_response): the ack carries the
    answer itself, so there is no background thread to lose work in and no polling delay on each request.
    """
    app = App(
        signing_secret=settings.slack_signing_secret,
        client=client or make_client(settings),
        process_before_response=True,
        # auth.test at start-up would make the app unusable offline; Slack's signature already proves the team.
        token_verification_enabled=token_verification_enabled,
        logger=logger,
    )

    @app.middleware
    def inject_dependencies(context: BoltContext, next: Callable[[], BoltResponse]) -> BoltResponse:
        context["store"] = store
        context["clock"] = clock
        context["settings"] = settings
        return next()

    @app.error
    def on_error(
        error: Exception, body: dict[str, Any], context: BoltContext, client: WebClient
    ) -> BoltResponse | None:
        return handle_error(error, body=body, context=context, client=client)

    register_listeners(app)
    return app
