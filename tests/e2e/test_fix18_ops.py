"""Session 18's operations fixes, end to end: the real app, jobs and sender against the fake Slack.

- A call nudge whose channel refused it (Partner removed from it) falls back to its owner's DM: it read
  "<@owner> Time for the daily call …", mentioning its own reader in the DM, in its text and its headline.
"""

from __future__ import annotations

from bot.settings import Settings
from storage.store import Store
from tests.e2e.test_cadence import (  # noqa: F401  (acme_channel, unpaced: the module's autouse fixtures)
    acme_channel,
    add,
    day,
    tick,
    unpaced,
)
from tests.fake_slack import FakeSlack


def test_a_call_nudge_its_channel_refused_reaches_the_owners_dm_without_mentioning_them(
    store: Store, settings: Settings, fake_slack: FakeSlack
) -> None:
    fake_slack.channels["C0ACME"]["is_member"] = False  # Partner was removed from #acme
    add(store)
    tick(store, settings, day(1))
    refused = [c.params for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "C0ACME"]
    assert refused and refused[0]["text"].startswith("<@U0001> Time for the daily call")  # the channel names them
    dm = fake_slack.messages[fake_slack._dm_by_user["U0001"]]
    (nudge,) = [m for m in dm if "Time for the daily call" in m["text"]]
    assert nudge["text"] == "Time for the daily call with Acme (Tue 1 Dec 09:00 America/New_York)"
    headline = nudge["blocks"][0]["text"]["text"]
    assert headline.startswith(":telephone_receiver: Time for the daily call with *Acme*")
    assert "<@" not in headline
