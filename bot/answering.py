"""Which thread is answering Slack right now: a wait there is a wait of the person who typed or clicked, and Slack
shows them `dispatch_failed` after 3 s. Slack calls (bot/app.py) and database lock waits (storage/db.py) made there
are bounded; the same work in a follow-up or a scheduled job may wait longer."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextvars import ContextVar

# Slack stops waiting for an answer after 3 s: a call to Slack made before the answer gets at most this long.
ANSWER_CALL_TIMEOUT = 2

# An id, not a flag: lazy listeners run in a copy of this context (bot.logs ContextThreadPool) but in another
# thread, after the ack, where waits are fine.
_answering_thread: ContextVar[int | None] = ContextVar("partner_answering_thread", default=None)


def answering_now() -> bool:
    """This thread is answering Slack right now: a wait here is a wait of the person who clicked."""
    return _answering_thread.get() == threading.get_ident()


@contextlib.contextmanager
def answering() -> Iterator[None]:
    """Marks this thread as the one answering Slack (PartnerApp.dispatch runs the listeners inside)."""
    token = _answering_thread.set(threading.get_ident())
    try:
        yield
    finally:
        _answering_thread.reset(token)
