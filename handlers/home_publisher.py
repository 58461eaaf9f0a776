"""Debounced App Home publishing: one views.publish per user per burst of changes, off the request path.

Anything that changes what a user's Home shows (a check-in, a snooze, a new health score…) calls
`request_home_refresh(context, team_id, [owner_id, …])`. That arms a short per-(team, user) timer for each of them
and one for the team, and returns at once without a query or a Slack call, so a slash command's ack waits for
neither; when a user's timer fires, their saved filters and page are read and the Home is rendered once with
everything that changed meanwhile and published; when the team's fires, who looks at the whole team is read (one
indexed read) and their Homes are published too, save those already refreshed by name in the same burst.

Each user's filters and page live in the database (storage.home.save_home_state, written on each filter or page
click), not in this process: a refresh published by another replica, or after a restart, keeps them. No
in-process copy is kept, as it could not save a read without going stale when the user clicks on another replica.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from handlers.blocks.home import HomeState

logger = logging.getLogger(__name__)

DEFAULT_DELAY = 2.0  # seconds: long enough to fold a modal submit + its follow-ups, short enough to feel live


class Timer(Protocol):
    def start(self) -> None: ...

    def cancel(self) -> None: ...


TimerFactory = Callable[[float, Callable[[], None]], Timer]
Key = tuple[str, str]


def thread_timer(delay: float, fire: Callable[[], None]) -> Timer:
    timer = threading.Timer(delay, fire)
    timer.daemon = True  # a pending refresh must never keep the process alive at shutdown
    return timer


StateOf = Callable[[str, str], HomeState]
ViewersOf = Callable[[str], list[str]]


def default_state(team_id: str, user_id: str) -> HomeState:
    return HomeState()


def no_viewers(team_id: str) -> list[str]:
    return []


class HomePublisher:
    """Coalesces refresh requests per (team, user) and publishes each once when its timer fires."""

    def __init__(
        self,
        publish: Callable[[str, str, HomeState], Any] | None = None,
        *,
        delay: float = DEFAULT_DELAY,
        timer: TimerFactory = thread_timer,
    ) -> None:
        self._publish = publish
        self._state_of: StateOf = default_state
        self._viewers_of: ViewersOf = no_viewers
        self._delay = delay
        self._timer = timer
        self._pending: dict[Key, Timer] = {}
        # Team-wide refreshes armed, with the users refreshed by name meanwhile (their own timer publishes them).
        self._teams: dict[str, tuple[Timer, set[str]]] = {}
        self._lock = threading.Lock()
        self._closed = False

    def bind(
        self,
        publish: Callable[[str, str, HomeState], Any],
        *,
        state_of: StateOf = default_state,
        viewers_of: ViewersOf = no_viewers,
    ) -> None:
        """Sets how to publish (create_app binds the app's client, store and clock) unless already set, and where
        each viewer's filters and page are kept (the database: any replica's refresh keeps them)."""
        if self._publish is None:
            self._publish = publish
        self._state_of = state_of
        self._viewers_of = viewers_of

    def team_viewers(self, team_id: str) -> list[str]:
        """Who last chose *Whole team* on their Home (in any replica): every customer's change shows on theirs too."""
        if self._closed:
            return []
        try:
            return self._viewers_of(team_id)
        except Exception:  # a refresh is best effort: the change itself is saved, and their next open shows it
            logger.exception("could not read who looks at the whole team in %s", team_id)
            return []

    def __deepcopy__(self, memo: dict[int, Any]) -> HomePublisher:
        return self  # Bolt copies the context for lazy listeners; the publisher is one shared worker

    def request(self, team_id: str, user_ids: Iterable[str | None], *, whole_team: bool = False) -> int:
        """Arms a refresh for each user that has none pending, and with `whole_team` one for whoever looks at the
        whole team (read when it fires, off the caller's thread); returns how many user refreshes were armed."""
        armed = 0
        with self._lock:
            if self._closed:
                return 0
            users = list(dict.fromkeys(u for u in user_ids if u))
            if whole_team and team_id not in self._teams:
                timer = self._timer(self._delay, lambda: self._fire_team(team_id))
                # Users whose refresh is already coming publish with this change: not twice.
                self._teams[team_id] = (timer, {user for team, user in self._pending if team == team_id})
                timer.start()
            if team_id in self._teams:
                self._teams[team_id][1].update(users)
            for user_id in users:
                key = (team_id, user_id)
                if key in self._pending:
                    continue  # already coming: this change will be in it
                timer = self._timer(self._delay, lambda key=key: self._fire(key))
                self._pending[key] = timer
                timer.start()
                armed += 1
        return armed

    def pending(self) -> set[Key]:
        """The users whose refresh is coming (a team-wide refresh's viewers are known only when it fires)."""
        with self._lock:
            return set(self._pending)

    def pending_teams(self) -> set[str]:
        with self._lock:
            return set(self._teams)

    def _fire_team(self, team_id: str) -> None:
        with self._lock:
            armed = self._teams.pop(team_id, None)
        if armed is None:
            return  # cancelled, or flushed already
        _timer, refreshed = armed
        for user_id in self.team_viewers(team_id):
            with self._lock:
                if user_id in refreshed or (team_id, user_id) in self._pending:
                    continue  # published by their own refresh, with this change in it
            self._publish_home(team_id, user_id)

    def _fire(self, key: Key) -> None:
        with self._lock:
            if self._pending.pop(key, None) is None:
                return  # cancelled, or flushed already
        self._publish_home(*key)

    def _publish_home(self, team_id: str, user_id: str) -> None:
        if self._publish is None:
            return
        try:
            # Read here, not cached: the user may have changed it through another replica since.
            self._publish(team_id, user_id, self._state_of(team_id, user_id))
        except Exception:  # a failed refresh must not kill the timer thread; the next change tries again
            logger.exception("could not refresh the Home of %s in %s", user_id, team_id)

    def flush(self) -> None:
        """Publishes every pending refresh now (on shutdown, and for tests)."""
        with self._lock:
            keys = list(self._pending)
            for key in keys:
                self._pending[key].cancel()
            teams = list(self._teams)
            for team_id in teams:
                self._teams[team_id][0].cancel()
        for key in keys:
            self._fire(key)
        for team_id in teams:
            self._fire_team(team_id)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for timer in [*self._pending.values(), *(timer for timer, _ in self._teams.values())]:
                timer.cancel()
            self._pending.clear()
            self._teams.clear()


_by_app: weakref.WeakKeyDictionary[Any, HomePublisher] = weakref.WeakKeyDictionary()
_process_publisher: HomePublisher | None = None  # the serving app's, for jobs that only hold the store and client


def attach(app: Any, publisher: HomePublisher) -> None:
    """Remembers the app's publisher so code holding only the app — or nothing (scheduled jobs) — can reach it."""
    global _process_publisher
    _by_app[app] = publisher
    _process_publisher = publisher


def publisher_of(source: Any) -> HomePublisher | None:
    if source is None:
        return _process_publisher
    if isinstance(source, HomePublisher):
        return source
    if isinstance(source, Mapping):  # a BoltContext is a dict
        found = source.get("home_publisher")
        if isinstance(found, HomePublisher):
            return found
    try:
        return _by_app.get(source)
    except TypeError:  # not weak-referenceable: not an app
        return None


def request_home_refresh(context_or_app: Any, team_id: str, user_ids: Iterable[str | None]) -> None:
    """Ask for these users' Home tabs to be re-rendered soon (debounced, never blocking).

    `context_or_app` is a listener's Bolt `context`, the Bolt `App`, a `HomePublisher`, or None for the app
    serving in this process (scheduled jobs); where there is none (`partner-bot tick`) this does nothing and the
    Home is up to date the next time its owner opens it.
    """
    publisher = publisher_of(context_or_app)
    if publisher is None:
        logger.debug("no Home publisher here; skipped a refresh for %s", team_id)
        return
    publisher.request(team_id, user_ids, whole_team=True)


def refresh_channel_homes(context_or_app: Any, store: Any, team_id: str, channel_id: str) -> None:
    """The Homes of the owners of the customers in this channel: its sharing changed, and their rows offer
    "Ask them how they see us" only where the customer's people read the channel."""
    customers = store.customers_in_channel(team_id=team_id, channel_id=channel_id)
    request_home_refresh(context_or_app, team_id, sorted({c.owner_id for c in customers if c.owner_id}))
