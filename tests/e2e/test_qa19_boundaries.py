"""Session 19's boundary checks (issue 5), end to end: signed requests to the real app, ticks with an injected now,
every message read back from the fake Slack."""

from __future__ import annotations

from storage.store import Store
from tests.e2e.test_boundaries import FIRST, acme, ephemeral, ny, records
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import BotServer, FakeClock

acme = acme  # test_boundaries' Acme Corp: Dana's (New York), with #acme and two proposed needs


def _ephemerals(fake_slack: FakeSlack) -> list[str]:
    return [str(c.params.get("text")) for c in fake_slack.calls_to("chat.postEphemeral")]


def test_a_reply_time_written_out_in_words_in_the_note_is_measured_against_the_agreement(
    acme: SlackRequests, bot: BotServer, fake_slack: FakeSlack, store: Store, clock: FakeClock
) -> None:
    """A note saying "customer response took three days", as people write it, was kept but measured nothing (only
    digits were read), so a reply two business days late logged no slip. Over a weekend it is still on time."""
    ephemeral(acme.command("boundary acme activate 1"))  # within one business day
    clock.set(ny(2026, 11, 30, 10))  # Monday: three days back is Friday, one business day
    ephemeral(acme.command("checkin acme yellow customer response took three days to confirm the kickoff"))
    bot.settle()
    assert records(store)[0].rule.slips == ()

    clock.set(ny(2026, 12, 3, 10))  # Thursday: three days back is Monday, three business days
    logged = ephemeral(acme.command("checkin acme yellow Customer response took three days on the SOW, again"))
    assert "Customer response took three days on the SOW, again" in logged, logged  # the note keeps its words
    bot.settle()
    (slip,) = records(store)[0].rule.slips
    assert (slip.source, slip.note) == (
        "detected",
        "The customer's reply took 3 days (3 business days); agreed: within 1 business day.",
    ), slip
    assert any(t.startswith(f"Logged a slip on “{FIRST}”") for t in _ephemerals(fake_slack)), _ephemerals(fake_slack)

    clock.set(ny(2026, 12, 4, 16))  # Friday afternoon: "over a week" is a week, five business days
    ephemeral(acme.command("checkin acme yellow their answer took over a week"))
    bot.settle()
    assert [s.note for s in records(store)[0].rule.slips][1:] == [
        "The customer's reply took 7 days (5 business days); agreed: within 1 business day."
    ]
