"""Slow answers: a warning with every thread's stack while a Slack request is still unanswered after
SLOW_ANSWER_AFTER seconds.

Slack gives up after 3 s and shows the user "dispatch_failed"; by the time an answer is logged as slow, what it
waited on is gone. The stacks are taken while it still waits: the answering thread's (a Slack call, a database lock,
a sleep) and everyone else's (the holder of that lock). The request path pays a dict entry under a lock; one daemon
thread, shared by every app in the process, wakes only when a watched request comes due.
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
import logging
import sys
import threading
import time
import traceback
from collections.abc import Iterator

logger = logging.getLogger("partner.slow_answers")

# Slack's limit is 3 s: this leaves time to look before it gives up, and is far above a normal answer (≈ 10 ms).
SLOW_ANSWER_AFTER = 2.5


class SlowAnswerWatch:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._tokens = itertools.count()
        # token → (deadline, started, what, answering thread, the request's logging context)
        self._watched: dict[int, tuple[float, float, str, int, contextvars.Context]] = {}
        self._wake_at: float | None = None  # the watcher's next wake-up; None: asleep until something is watched
        self._thread: threading.Thread | None = None

    @contextlib.contextmanager
    def watching(self, what: str, *, after: float = SLOW_ANSWER_AFTER) -> Iterator[None]:
        """Inside, the calling thread is answering `what`: reported once if it takes longer than `after` seconds."""
        token = next(self._tokens)
        started = time.monotonic()
        deadline = started + after
        context = contextvars.copy_context()  # the report carries the request's team, surface and request id
        with self._cond:
            self._watched[token] = (deadline, started, what, threading.get_ident(), context)
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, name="partner-slow-answers", daemon=True)
                self._thread.start()
            elif self._wake_at is None or deadline < self._wake_at:
                self._cond.notify()
        try:
            yield
        finally:
            with self._cond:
                self._watched.pop(token, None)  # gone once reported

    def _watch(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                due = [(token, entry) for token, entry in self._watched.items() if entry[0] <= now]
                for token, _ in due:
                    del self._watched[token]  # reported once
                if due:
                    self._cond.release()
                    try:
                        for _, (_, started, what, thread_id, context) in due:
                            context.run(_report, what, thread_id, now - started)
                    finally:
                        self._cond.acquire()
                    continue
                self._wake_at = min((entry[0] for entry in self._watched.values()), default=None)
                self._cond.wait(None if self._wake_at is None else self._wake_at - now)


def _report(what: str, thread_id: int, waited: float) -> None:
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    stacks = []
    for ident, frame in sys._current_frames().items():
        mark = " (answering)" if ident == thread_id else ""
        stacks.append(f"Thread {names.get(ident, ident)}{mark}:\n{''.join(traceback.format_stack(frame))}")
    stacks.sort(key=lambda stack: "(answering)" not in stack.split("\n", 1)[0])  # the answering thread first
    logger.warning(
        "%s still unanswered after %.1f s (Slack gives up at 3 s); every thread's stack:\n%s",
        what,
        waited,
        "\n".join(stacks),
    )


SLOW_ANSWERS = SlowAnswerWatch()
