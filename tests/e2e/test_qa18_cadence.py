"""Session 18's cadence findings, end to end: the real jobs and sender ticked at chosen instants against the fake Slack.

- A channel nudge mentioned its owner in its blocks only. Slack's notification (phone, desktop banner, the unread
  line) shows a message's `text` alone when it has blocks, and that text read "Time for the daily call with Acme …"
  with nobody named: the owner's notification now names them, as the message does (README: *mentioning the owner*).
"""

from __future__ import annotations

from bot.settings import Settings
from storage.store import Store
from tests.e2e.test_cadence import (  # noqa: F401  (acme_channel, unpaced: the module's autouse fixtures)
    acme_channel,
    add,
    day,
    nudges,
    tick,
    unpaced,
)
from tests.fake_slack import FakeSlack


def test_a_channel_nudge_notifies_its_owner_by_name_and_a_dm_names_nobody(
    store: Store, settings: Settings, fake_slack: FakeSlack
) -> None:
    """Acme (channel #acme, owner U0001) and Globex (no channel: its owner's DM), both daily at 09:00 New York."""
    add(store)
    add(store, name="Globex", channel_id=None)
    tick(store, settings, day(1))
    (message,) = nudges(fake_slack)
    assert message["text"] == "<@U0001> Time for the daily call with Acme (Tue 1 Dec 09:00 America/New_York)"
    assert "<@U0001>" in message["blocks"][0]["text"]["text"]
    (dm,) = [c.params for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] != "C0ACME"]
    assert dm["text"] == "Time for the daily call with Globex (Tue 1 Dec 09:00 America/New_York)"  # theirs already
