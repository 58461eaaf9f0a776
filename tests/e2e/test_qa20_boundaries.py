"""Session 20's boundary checks (issue 5), end to end: signed requests to the real app, ticks with an injected now,
every message read back from the fake Slack."""

from __future__ import annotations

from bot.settings import Settings
from handlers.ids import (
    BOUNDARY_DECIDE_RENEGOTIATE,
    BOUNDARY_KIND,
    BOUNDARY_RENEGOTIATE_MODAL,
    BOUNDARY_TEXT,
    BOUNDARY_VALUE,
)
from storage.store import Store
from tests.e2e.test_boundaries import acme, channel_posts, ephemeral, ny, records, tick
from tests.fake_slack import FakeSlack
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


def test_renegotiated_response_time_terms_with_the_value_left_empty_are_read_from_the_words(
    acme: SlackRequests, bot: BotServer, fake_slack: FakeSlack, store: Store, clock: FakeClock, settings: Settings
) -> None:
    """The escalation's Renegotiate form, the value emptied and the new terms in the words ("…within 2 business
    days"): refused next to the value ("needs a value"), where `add` reads the same words as within 2 business days."""
    ephemeral(acme.command("boundary acme activate 1"))
    for n in range(3):
        clock.advance(hours=1)
        ephemeral(acme.command(f"boundary acme slip 1 late again ({n + 1})"))
    tick(store, settings, clock.now)
    (asked,) = [p for p in channel_posts(fake_slack, "U0001") if "keeps slipping" in p["text"]]
    message = {"type": "message", "ts": "1764600000.000500", "text": "", "blocks": asked["blocks"]}
    acme.block_action(BOUNDARY_DECIDE_RENEGOTIATE, value=str(records(store)[0].id), message=message, channel_id="DD")
    (opened,) = fake_slack.calls_to("views.open")
    values = {
        "text": {BOUNDARY_TEXT: {"type": "plain_text_input", "value": "We answer within 2 business days"}},
        "kind": {BOUNDARY_KIND: {"type": "static_select", "selected_option": {"value": "response_time"}}},
        "value": {BOUNDARY_VALUE: {"type": "plain_text_input", "value": None}},
    }
    metadata = opened.params["view"]["private_metadata"]
    answer = acme.view_submission(BOUNDARY_RENEGOTIATE_MODAL, values, private_metadata=metadata)
    assert answer.status == 200 and "errors" not in (answer.text or ""), answer.text
    bot.settle()
    rule = records(store)[0].rule
    assert (rule.text, rule.kind, rule.value) == ("We answer within 2 business days", "response_time", "2d"), rule


def test_a_slip_typed_with_no_agreement_in_force_says_so_and_names_the_agreements(acme: SlackRequests) -> None:
    """`slip called at 4pm` before any agreement is introduced was answered "'called' isn't a number from the list",
    as if the note were a mistyped number: the answer says none is being introduced, names them and shows the
    command with a number to copy; nothing is logged."""
    answer = ephemeral(acme.command("boundary acme slip called at 4pm"))
    assert "isn't a number" not in answer, answer
    assert "no agreement being introduced now" in answer, answer
    assert "1. “" in answer and "(proposed)" in answer, answer
    assert "/partner boundary Acme Corp slip 1 called at 4pm" in answer, answer
    assert "called at 4pm" in answer  # what was typed is in the answer, to copy
