"""Session 20's boundary checks (issue 5), end to end: signed requests to the real app, ticks with an injected now,
every message read back from the fake Slack."""

from __future__ import annotations

from storage.store import Store
from tests.e2e.test_boundaries import acme, ephemeral, ny, records
from tests.slack_requests import SlackRequests
from tests.utils import BotServer, FakeClock

acme = acme  # test_boundaries' Acme Corp: Dana's (New York), with #acme and two proposed needs


def test_a_response_time_named_as_its_kind_is_read_from_the_agreements_own_words(
    acme: SlackRequests, bot: BotServer, store: Store, clock: FakeClock
) -> None:
    """`add "We answer within 2 business days" kind=response_time` was refused ("A response-time boundary needs a
    value"), though the same words without kind= were read as within 2 business days: naming the kind it is cost the
    agreement. The words give the value, as they do without kind=; a slow reply is then measured against it."""
    added = ephemeral(acme.command('boundary acme add "We answer within 2 business days" kind=response_time'))
    assert "Proposed “We answer within 2 business days” (response time: within 2 business days)" in added, added
    assert (records(store)[2].rule.kind, records(store)[2].rule.value) == ("response_time", "2d")
    # A kind its words don't measure still asks for its value.
    refused = ephemeral(acme.command('boundary acme add "Calls happen early" kind=contact_window'))
    assert "A contact-window boundary needs a value" in refused, refused

    ephemeral(acme.command("boundary acme activate 3"))
    clock.set(ny(2026, 12, 3, 10))  # Thursday: four days back is Sunday, three business days
    ephemeral(acme.command("checkin acme yellow response=4d the SOW again"))
    bot.settle()
    (slip,) = records(store)[2].rule.slips
    assert slip.source == "detected" and "agreed: within 2 business days" in slip.note, slip
