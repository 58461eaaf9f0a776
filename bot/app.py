"""Builds the Bolt app: dependencies into the context, one error handler, the listeners."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from slack_bolt import App, BoltContext, BoltRequest, BoltResponse
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_bolt.request.internals import build_context
from slack_sdk import WebClient
from slack_sdk.http_retry import HttpRequest, HttpResponse, RetryIntervalCalculator, RetryState
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator

from bot.answering import ANSWER_CALL_TIMEOUT, answering, answering_now
from bot.clock import Clock
from bot.errors import handle_error
from bot.logs import ContextThreadPool, request_context
from bot.metrics import OUTCOME_KEY, Metrics, observe_slack_api, outcome_of, surface_of
from bot.oauth import SlackClients, oauth_settings, slack_clients
from bot.settings import Settings
from bot.slow_answers import SLOW_ANSWER_AFTER, SLOW_ANSWERS
from domain.errors import UserError
from handlers import register_listeners
from handlers.commands.export import wait_after_ack
from handlers.events.home import publish_home, saved_home_state
from handlers.events.uninstall import ActiveWorkspaces, reactivate_on_reinstall
from handlers.followups import AfterAck
from handlers.home_publisher import HomePublisher, attach
from handlers.identity import refuse_external_users
from handlers.permissions import refuse_guests
from schedules.health import note_health_config
from schedules.slack_http import MAX_RETRY_AFTER_IN_TICK, in_tick, retry_after, same_client_as
from storage.store import Store

logger = logging.getLogger("partner")


class _OurClientWins(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN itself and warns that the client we give it takes precedence: ours always should
    (it carries our retry handlers and timeouts), so an operator must not be told something is wrong."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != warning_client_prioritized_and_token_skipped()


_our_client_wins = _OurClientWins()
request_logger = logging.getLogger("partner.requests")

# Slack shows the user an error if a command or form is not answered within 3 s. While it waits, a Retry-After
# longer than this is not waited out: the call fails as `ratelimited` and the listener goes on without it (the
# default time zone, an owner kept as typed…) instead of answering too late. After the ack, waits are honoured.
MAX_RETRY_AFTER_BEFORE_ACK = 1.0


class AckAwareRateLimitRetryHandler(RateLimitErrorRetryHandler):
    """Retries a 429 after its Retry-After, unless that wait would make Slack time out the request being answered,
    or hold a scheduled tick longer than MAX_RETRY_AFTER_IN_TICK (the outbox waits it out instead)."""

    sleep: Callable[[float], None] = staticmethod(time.sleep)  # the wait before the answer (a test records it)

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if not super()._can_retry(state=state, request=request, response=response, error=error):
            return False
        wait = retry_after(response.headers if response is not None else None) or 1.0  # slack-sdk assumes 1 s
        if answering_now():
            # One wait at most before the answer: a second 429 after the first wait would take it past Slack's 3 s.
            return state.current_attempt == 0 and wait <= MAX_RETRY_AFTER_BEFORE_ACK
        return not in_tick.get() or wait <= MAX_RETRY_AFTER_IN_TICK

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        if not answering_now() or response is None:
            super().prepare_for_next_attempt(state=state, request=request, response=response, error=error)
            return
        # slack-sdk adds up to 1 s of jitter to every Retry-After (Retry-After: 0 slept up to a second): before the
        # answer, exactly what Slack asked for, so MAX_RETRY_AFTER_BEFORE_ACK bounds the wait.
        state.next_attempt_requested = True
        self.sleep(retry_after(response.headers) or 0.0)
        state.increment_current_attempt()


class AckAwareBackoff(RetryIntervalCalculator):
    """slack-sdk's backoff between tries of a 5xx or a dropped connection (0.5 s, then 1 s, each plus up to 1 s of
    jitter) for follow-ups and jobs; none before the answer. Two 500s from chat.getPermalink slept up to 3.5 s in
    the thread answering "Log as check-in": Slack had given up (dispatch_failed) before the form could open."""

    def __init__(self) -> None:
        self.backoff = BackoffRetryIntervalCalculator()

    def calculate_sleep_duration(self, current_attempt: int) -> float:
        return 0.0 if answering_now() else self.backoff.calculate_sleep_duration(current_attempt)


# Threads running follow-ups after the answers (see PartnerApp.__init__).
FOLLOW_UP_WORKERS = 2
# How long a shutdown waits for uploads started after an ack (an orchestrator's grace period is usually 30 s).
AFTER_ACK_DRAIN = 20.0


class AnswerAwareWebClient(WebClient):
    """Calls made while a request waits for its answer give up after ANSWER_CALL_TIMEOUT, so a hung Slack call
    still leaves time to answer ("…try again", the customer kept); follow-ups and jobs keep the full timeout."""

    @property  # type: ignore[override]
    def timeout(self) -> int:
        configured: int = self.__dict__["_configured_timeout"]
        if answering_now():
            return min(configured, ANSWER_CALL_TIMEOUT)
        return configured

    @timeout.setter
    def timeout(self, value: int) -> None:
        self.__dict__["_configured_timeout"] = value

    @property
    def configured_timeout(self) -> int:
        return int(self.__dict__["_configured_timeout"])

    @classmethod
    def for_request(cls, client: WebClient, *, timeout: int) -> AnswerAwareWebClient:
        """The same client (token, team, retries) as Bolt's per-request one, answer-aware."""
        return same_client_as(client, cls, timeout=timeout)


def make_client(settings: Settings, *, timeout: int = 10) -> WebClient:
    """A WebClient that honours Retry-After on 429 and retries 5xx and dropped connections."""
    client = AnswerAwareWebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url, timeout=timeout)
    client.retry_handlers.extend(
        [
            AckAwareRateLimitRetryHandler(max_retry_count=2),
            ServerErrorRetryHandler(max_retry_count=2, interval_calculator=AckAwareBackoff()),
        ]
    )
    # The default list already holds a ConnectionErrorRetryHandler (with slack-sdk's backoff): keep exactly one, ours.
    client.retry_handlers[:] = [h for h in client.retry_handlers if not isinstance(h, ConnectionErrorRetryHandler)]
    client.retry_handlers.append(ConnectionErrorRetryHandler(interval_calculator=AckAwareBackoff()))
    return client


class UnreadableRequest(ValueError):
    """A body with one of Slack's keys holding a value of another shape (`"view": "V1"`): never Slack's own."""


# Slack's keys that Bolt or Partner read into, and the shape Slack always gives them.
_SHAPES: dict[str, type] = {"view": dict, "actions": list, "container": dict, "message": dict, "event": dict}


def misshapen(body: dict[str, Any]) -> str | None:
    """The first of Slack's keys whose value has a shape Slack never sends (None or absent is Bolt's to judge)."""
    for key, shape in _SHAPES.items():
        value = body.get(key)
        if value is not None and not isinstance(value, shape):
            return key
    actions = body.get("actions")
    if isinstance(actions, list) and not all(isinstance(a, dict) for a in actions):
        return "actions"
    return None


# How long a retry of an event waits for the first delivery, still being answered here, to finish (Slack retries
# after 3 s without an answer; its next retries come a minute and five minutes later).
RETRY_WAITS_FOR_FIRST = 1.5
# How long this process remembers the events it answered: past Slack's last retry (about 5 minutes after the first).
EVENTS_REMEMBERED = 15 * 60.0


class EventDeliveries:
    """The events this process is answering or answered 200 lately, by Slack's `event_id`: Slack's retry of one
    (X-Slack-Retry-Num: the first took over 3 s) is acked without running its listeners again. A first delivery that
    failed (500: Slack retries it for that) or one another replica or a restarted process answered is run again, as
    every listener is safe to repeat; this only spares the work a retry would redo (a Home rendered and published
    again per retry, the slow render that made Slack retry the first time redone three times)."""

    def __init__(self, *, keep: float = EVENTS_REMEMBERED) -> None:
        self.keep = keep
        self._cond = threading.Condition()
        # event_id → when answered 200 (monotonic), oldest first
        self._answered: OrderedDict[str, float] = OrderedDict()
        self._answering: set[str] = set()

    def begin(self, event_id: str, *, retry: bool, wait: float = RETRY_WAITS_FOR_FIRST) -> bool:
        """False when `event_id` was answered 200 here (a retry waits a moment for a first still being answered);
        True when this delivery is to be handled, the caller then calling `end`."""
        deadline = time.monotonic() + wait
        with self._cond:
            while retry and event_id in self._answering and (left := deadline - time.monotonic()) > 0:
                self._cond.wait(left)
            if retry and event_id in self._answered:
                return False
            self._answering.add(event_id)
            return True

    def end(self, event_id: str, *, ok: bool) -> None:
        now = time.monotonic()
        with self._cond:
            self._answering.discard(event_id)
            if ok:
                self._answered[event_id] = now
                self._answered.move_to_end(event_id)
            while self._answered and now - next(iter(self._answered.values())) > self.keep:
                self._answered.popitem(last=False)
            self._cond.notify_all()


EVENT_DELIVERY = "partner_event_delivery"  # the context key of an event's id while this process answers it


def _slack_retry(req: BoltRequest) -> str | None:
    """Slack's retry number of this delivery (HTTP header, or Socket Mode's retry_attempt as Bolt mirrors it)."""
    values = req.headers.get("x-slack-retry-num") or []
    return str(values[0]) if values else None


class PartnerApp(App):
    """Bolt's App, with every Slack request timed, counted and logged under its team, surface and a request id.

    This wraps `dispatch` rather than being a middleware: in Bolt's sync App a middleware's `next()` only marks the
    request as passed on, and the listeners run after every middleware has returned, so a middleware never sees how
    long the listener took nor what it answered. `dispatch` serves HTTP and Socket Mode alike.
    """

    def __init__(self, *, metrics: Metrics, slack_clients: SlackClients, **kwargs: Any) -> None:
        # Follow-ups (AfterAck, Bolt's lazy listeners) run on this pool and keep the request's log fields (team,
        # surface, request id). Two workers, not five: they share the GIL with the threads answering Slack, and under
        # a burst of check-ins fewer of them made the answers faster and the follow-ups fold more per customer
        # (bench/RESULTS.md section 1: 113–152 vs 78–93 check-ins/s with 8 clients, same runs).
        self.lazy_pool = ContextThreadPool(max_workers=FOLLOW_UP_WORKERS, thread_name_prefix="partner-lazy")
        # Follow-ups handed over without copying the request, per customer where they fold (handlers/followups.py).
        self.after_ack = AfterAck(self.lazy_pool)
        super().__init__(listener_executor=self.lazy_pool, **kwargs)
        self.metrics = metrics
        # Each workspace's client for work outside a request (the scheduler, Home refreshes); see bot/oauth.py.
        self.slack_clients = slack_clients
        # An answer still not sent after this long is logged with every thread's stack (bot/slow_answers.py).
        self.slow_answer_after = SLOW_ANSWER_AFTER
        self.event_deliveries = EventDeliveries()

    def drain(self) -> None:
        """Wait for the lazy listeners already started (follow-up posts, DMs) to finish, new ones refused, then for
        the uploads started after an ack (exports, `digest mine`'s chart) for up to AFTER_ACK_DRAIN seconds: a
        shutdown must not cut off a file the user was promised."""
        self.lazy_pool.shutdown(wait=True)
        if not wait_after_ack(AFTER_ACK_DRAIN):
            logger.warning("an upload started after an ack was still running at shutdown (%.0f s)", AFTER_ACK_DRAIN)

    def dispatch(self, req: BoltRequest) -> BoltResponse:
        if req.mode == "http" and not req.body and "payload" in req.raw_body:
            # Bolt reads any form body with "payload" in it as an interactive payload: a slash command typed with the
            # word (`/partner checkin acme green sent the payload spec`) came out empty and was answered 404, which
            # Slack shows as "dispatch_failed". A form without a payload field is read as the form it is.
            fields = dict(parse_qsl(req.raw_body, keep_blank_values=True))
            if fields and "payload" not in fields:
                req.body = fields
                req.context = build_context(req.context, req.body)
        if (key := misshapen(req.body)) is not None:
            # Bolt would trip over it in its own code (its log line for an unhandled request reads `view.get(…)`)
            # and log a traceback. Over HTTP the server answers 401 unsigned / 400 signed (bot/server.py); a Socket
            # Mode envelope came over Slack's own connection.
            if req.mode == "socket_mode":
                logger.warning("a request Partner cannot read was refused (%s is not what Slack sends)", key)
                return BoltResponse(status=400, body={"error": "unreadable request"})
            raise UnreadableRequest(f"{key} is not what Slack sends")
        started = time.perf_counter()
        surface = surface_of(req.body)
        with request_context(team=req.context.team_id, surface=surface, request_id=uuid.uuid4().hex[:16]):
            # Listeners run in this thread before the response (process_before_response).
            response = BoltResponse(status=500, body="")
            try:
                with answering(), SLOW_ANSWERS.watching(f"a {surface} request", after=self.slow_answer_after):
                    response = super().dispatch(req)
            finally:
                if event_id := req.context.get(EVENT_DELIVERY):  # begun by prepare_request (create_app)
                    self.event_deliveries.end(event_id, ok=response.status == 200)
            seconds = time.perf_counter() - started
            outcome = req.context.get(OUTCOME_KEY) or outcome_of(response.status)
            self.metrics.observe_request(surface=surface, outcome=outcome, seconds=seconds)
            request_logger.info("%s %s: %d in %.0f ms", surface, outcome, response.status, seconds * 1000)
        return response


def create_app(
    *,
    settings: Settings,
    store: Store,
    clock: Clock,
    client: WebClient | None = None,
    token_verification_enabled: bool = False,
    home_publisher: HomePublisher | None = None,
    metrics: Metrics | None = None,
) -> PartnerApp:
    """The Bolt app, ready to serve over HTTP or Socket Mode.

    Listeners run before the HTTP response is sent (process_before_response): the ack carries the
    answer itself, so there is no background thread to lose work in and no polling delay on each request.
    """
    metrics = metrics or Metrics()
    client = client or make_client(settings)
    observe_slack_api(client, metrics)
    # OAuth mode (bot/oauth.py): the client has no token; each request is authorized by its team's installation.
    install: dict[str, Any] = (
        {"oauth_settings": oauth_settings(settings, store=store, clock=clock, client=client)} if settings.oauth else {}
    )
    if _our_client_wins not in logger.filters:
        logger.addFilter(_our_client_wins)
    app = PartnerApp(
        metrics=metrics,
        slack_clients=slack_clients(settings, store, client),
        signing_secret=settings.slack_signing_secret,
        client=client,
        process_before_response=True,
        # auth.test at start-up would make the app unusable offline; Slack's signature already proves the team.
        token_verification_enabled=token_verification_enabled,
        logger=logger,
        **install,
    )
    # Debounced App Home refreshes (handlers/home_publisher.py): listeners call request_home_refresh(context, …).
    publisher = home_publisher or HomePublisher()
    publisher.bind(
        _home_publish(app, store=store, clock=clock, settings=settings),
        # Each viewer's filters and page are in the database: any replica's refresh, or one after a restart, keeps them.
        state_of=lambda team_id, user_id: saved_home_state(store, team_id=team_id, user_id=user_id),
        viewers_of=lambda team_id: store.home_team_viewers(team_id=team_id),
    )
    attach(app, publisher)

    active_workspaces = ActiveWorkspaces()  # this process's memory of which teams are installed
    after_ack = app.after_ack

    # One middleware, not three: Bolt builds every middleware's arguments (some forty of them) on every request.
    @app.middleware
    def prepare_request(
        request: BoltRequest, body: dict[str, Any], context: BoltContext, next: Callable[[], BoltResponse]
    ) -> BoltResponse:
        if body.get("type") == "app_rate_limited":
            return events_rate_limited(body)
        if body.get("type") == "event_callback" and isinstance(event_id := body.get("event_id"), str) and event_id:
            # Here, past the signature check: only Slack's own retry of a signed event is acked without its work.
            retry = _slack_retry(request)
            if not app.event_deliveries.begin(event_id, retry=retry is not None):
                logger.info(
                    "event %s: Slack's retry %s of an event already answered here: nothing redone", event_id, retry
                )
                return BoltResponse(status=200, body="")
            context[EVENT_DELIVERY] = event_id
        context["store"] = store
        context["clock"] = clock
        context["settings"] = settings
        context["home_publisher"] = publisher
        context["active_workspaces"] = active_workspaces
        context["after_ack"] = after_ack
        # OAuth mode's installations (None with a single token): the uninstall listener deletes the team's.
        context["installation_store"] = app.installation_store
        # Bolt builds a plain client per request (token set by its authorization, which ran before this).
        configured = client.configured_timeout if isinstance(client, AnswerAwareWebClient) else client.timeout
        context["client"] = AnswerAwareWebClient.for_request(context.client, timeout=configured)
        # External people in Slack Connect channels reach only the customer's-own-view survey (handlers/identity.py);
        # then a team that had uninstalled Partner and sends a request again has reinstalled it
        # (handlers/events/uninstall.py); then the workspace's guests are refused too (handlers/permissions.py).
        return refuse_external_users(
            body, context, lambda: reactivate_on_reinstall(body, context, lambda: refuse_guests(body, context, next))
        )

    @app.error
    def on_error(
        error: Exception, body: dict[str, Any], context: BoltContext, client: WebClient
    ) -> BoltResponse | None:
        context[OUTCOME_KEY] = "user_error" if isinstance(error, UserError) else "error"
        return handle_error(error, body=body, context=context, client=client)

    register_listeners(app)
    # New PARTNER_HEALTH_WEIGHTS/THRESHOLDS since the scores were stored: noted before the first answer, so a score
    # an answer stores with them is not read as a fall from yesterday's (the first tick scores everyone again).
    try:
        note_health_config(store, settings, clock())
    except Exception:
        logger.exception("could not record the health configuration; the first tick will")
    return app


def events_rate_limited(body: dict[str, Any]) -> BoltResponse:
    """Slack's notice that it is dropping a workspace's events (over 30,000 an hour): no inner event, so no Bolt
    listener matches it and Bolt answered 404, one more failed delivery counted against the app (past 5 % in an
    hour Slack turns its events off) at the moment Slack was already dropping them. Acked, and the operator told."""
    minute = body.get("minute_rate_limited")
    since = (
        datetime.fromtimestamp(minute, UTC).strftime("%Y-%m-%d %H:%M UTC")
        if isinstance(minute, int | float) and not isinstance(minute, bool)
        else "now"
    )
    logger.warning(
        "Slack is rate limiting the events of workspace %s since %s (over 30,000 in an hour): the events it drops "
        "meanwhile (Home tabs opened, channels archived or shared, members joining, uninstalls) never reach Partner; "
        "its daily channel look-ups and refused posts catch up. Remove busy events Partner does not use "
        "(message.channels…) from the app's Event Subscriptions.",
        body.get("team_id") or "?",
        since,
    )
    return BoltResponse(status=200, body="")


def _home_publish(app: PartnerApp, *, store: Store, clock: Clock, settings: Settings) -> Callable[[str, str, Any], Any]:
    def publish(team_id: str, user_id: str, state: Any) -> Any:
        return publish_home(
            client=app.slack_clients.for_team(team_id),  # NotInstalled: logged by the publisher, nothing sent
            store=store,
            team_id=team_id,
            user_id=user_id,
            state=state,
            now=clock(),
            default_tz=settings.default_tz,
            any_checkin=settings.any_checkin_satisfies,
            escalate_window=settings.boundary_policy.escalate_window,
        )

    return publish
