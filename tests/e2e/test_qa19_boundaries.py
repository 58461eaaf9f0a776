"""Session 19's boundary checks (issue 5), end to end: signed requests to the real app, ticks with an injected now,
every message read back from the fake Slack."""

from __future__ import annotations

from bot.settings import Settings
from handlers.ids import (
    BOUNDARY_CALL_YES,
    BOUNDARY_DECIDE_RENEGOTIATE,
    BOUNDARY_KIND,
    BOUNDARY_RENEGOTIATE_MODAL,
    BOUNDARY_TEXT,
    BOUNDARY_VALUE,
)
from storage.store import Store
from tests.e2e.test_boundaries import FIRST, acme, channel_posts, ephemeral, ny, records, tick
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


def test_renegotiated_terms_keep_the_channel_and_the_people_the_agreement_names(
    slack: SlackRequests, bot: BotServer, fake_slack: FakeSlack, store: Store, clock: FakeClock, settings: Settings
) -> None:
    """An agreement naming a channel and a person (`<#C0AP|acme-partners>`, `<@U0002|sam>`, as Slack sends them)
    was renegotiated from its escalation: the form's words were escaped whole, so the next reminder told the customer
    "Requests go in <#C0AP|acme-partners>…" as raw text, no channel link, no mention — even with the words unchanged."""
    clock.set(ny(2026, 11, 25, 10))
    ephemeral(slack.command("add Acme Corp <#C0ACME|acme> <@U0001|dana>"))
    typed = "Requests go in <#C0AP|acme-partners>, not DMs to <@U0002|sam> &amp; co"
    ephemeral(slack.command(f'boundary acme add "{typed}" kind=channel value=<#C0AP|acme-partners>'))
    ephemeral(slack.command("boundary acme activate 1"))
    for n in range(3):
        clock.advance(hours=1)
        ephemeral(slack.command(f"boundary acme slip 1 a DM again ({n + 1})"))
    tick(store, settings, clock.now)
    (asked,) = [p for p in channel_posts(fake_slack, "U0001") if "keeps slipping" in p["text"]]
    message = {"type": "message", "ts": "1764600000.000500", "text": "", "blocks": asked["blocks"]}
    slack.block_action(BOUNDARY_DECIDE_RENEGOTIATE, value=str(records(store)[0].id), message=message, channel_id="DD")
    (opened,) = fake_slack.calls_to("views.open")
    fields = {b["block_id"]: b["element"] for b in opened.params["view"]["blocks"] if b["type"] == "input"}
    shown = fields["text"]["initial_value"]
    assert shown == "Requests go in <#C0AP|acme-partners>, not DMs to <@U0002|sam> & co", shown  # as typed

    now_agreed = shown.replace(", not DMs", " by noon, not DMs")  # the owner edits the words around them
    values = {
        "text": {BOUNDARY_TEXT: {"type": "plain_text_input", "value": now_agreed}},
        "kind": {BOUNDARY_KIND: {"type": "static_select", "selected_option": {"value": "channel"}}},
        "value": {BOUNDARY_VALUE: {"type": "plain_text_input", "value": fields["value"]["initial_value"]}},
    }
    metadata = opened.params["view"]["private_metadata"]
    assert slack.view_submission(BOUNDARY_RENEGOTIATE_MODAL, values, private_metadata=metadata).status == 200
    bot.settle()
    agreed = "Requests go in <#C0AP|acme-partners> by noon, not DMs to <@U0002|sam> &amp; co"
    assert records(store)[0].rule.text == agreed, records(store)[0].rule.text

    for at in (ny(2026, 11, 30, 8, 59), ny(2026, 11, 30, 9, 1)):
        tick(store, settings, at)
    (reminder,) = channel_posts(fake_slack, "C0ACME")
    assert reminder["text"] == f"A reminder of how we work together: {agreed}.", reminder["text"]


def test_an_agreement_in_straight_single_quotes_is_restated_without_them(
    acme: SlackRequests, fake_slack: FakeSlack, store: Store, clock: FakeClock, settings: Settings
) -> None:
    """`add 'We reply the same day'` kept the quotes as part of the agreement, so the customer's channel was told
    "A reminder of how we work together: 'We reply the same day'." (a name in those quotes is read without them);
    an apostrophe is still part of the words."""
    added = ephemeral(acme.command("boundary acme add 'We reply the same day' kind=custom"))
    assert "Proposed “We reply the same day” (custom)" in added, added
    ephemeral(acme.command("boundary acme add We don't call after 5pm"))
    assert [r.rule.text for r in records(store)[2:]] == ["We reply the same day", "We don't call after 5pm"]
    ephemeral(acme.command("boundary acme activate 3"))
    for at in (ny(2026, 11, 30, 8, 59), ny(2026, 11, 30, 9, 1)):
        tick(store, settings, at)
    (reminder,) = channel_posts(fake_slack, "C0ACME")
    assert reminder["text"] == "A reminder of how we work together: We reply the same day.", reminder["text"]


def test_a_slip_typed_in_the_customers_channel_without_its_name_is_given_back_with_it(acme: SlackRequests) -> None:
    """`/partner boundary slip they DMed sam again` typed in #acme, as a busy team does: the answer's example was
    `/partner boundary Acme slip …`, the note gone from it; it names the channel's customer, with all that was typed."""
    ephemeral(acme.command("boundary acme activate 1"))
    refused = ephemeral(acme.command("boundary slip they DMed <@U0002|sam> again", channel_id="C0ACME"))
    assert "e.g. `/partner boundary Acme Corp slip they DMed <@U0002|sam> again`" in refused, refused
    elsewhere = ephemeral(acme.command("boundary slip they DMed again", channel_id="C0OTHER"))
    assert "e.g. `/partner boundary Acme slip …`" in elsewhere, elsewhere


def test_a_call_confirmed_outside_the_window_days_later_says_which_call_in_the_slip_history(
    acme: SlackRequests, bot: BotServer, fake_slack: FakeSlack, store: Store, clock: FakeClock, settings: Settings
) -> None:
    """Dana answers "Yes, log a slip" a week after the call: the slip history (the escalation's, the card's) said only
    "Call outside the agreed window" beside the day she clicked, so nobody could tell which call it was."""
    ephemeral(acme.command('boundary acme add "Calls happen 9-10am our time" kind=contact_window value=9-10am'))
    ephemeral(acme.command("boundary acme activate 3"))
    clock.set(ny(2026, 11, 30, 15, 30))
    ephemeral(acme.command("checkin acme green call pricing walkthrough"))
    bot.settle()
    tick(store, settings, clock.advance(minutes=1))
    (question,) = [p for p in channel_posts(fake_slack, "U0001") if "Was this call outside" in p["text"]]
    assert "at 15:30 their time (Mon 30 Nov)" in question["text"], question["text"]
    clock.set(ny(2026, 12, 7, 9, 45))
    actions = question["blocks"][1]
    acme.block_action(
        BOUNDARY_CALL_YES,
        value=actions["elements"][0]["value"],
        block_id=actions["block_id"],
        channel_id="DDANA",
        message={"type": "message", "ts": "1764600000.000700", "text": question["text"], "blocks": question["blocks"]},
    )
    bot.settle()
    (slip,) = records(store)[2].rule.slips
    assert slip.note == "Call at 15:30 their time (Mon 30 Nov), outside the agreed 9–10am window", slip.note


def test_a_reply_that_took_the_agreed_business_hours_is_on_time_and_one_that_took_longer_says_so_in_whole_hours(
    acme: SlackRequests, bot: BotServer, fake_slack: FakeSlack, store: Store, clock: FakeClock
) -> None:
    """Within 4 business hours: `response=4h` logged a slip (the check-in keeps the time in days to 6 places, so it
    came back 4.000008 hours), and `response=5h` was told as "4.99999 business hours"."""
    ephemeral(acme.command('boundary acme add "We reply within 4 business hours" kind=response_time value=4h'))
    ephemeral(acme.command("boundary acme activate 3"))
    clock.set(ny(2026, 11, 30, 15))  # Monday: four and five hours back are the same working day
    ephemeral(acme.command("checkin acme yellow response=4h on time, just"))
    bot.settle()
    assert records(store)[2].rule.slips == ()
    clock.advance(minutes=5)
    ephemeral(acme.command("checkin acme yellow response=5h slower"))
    bot.settle()
    (slip,) = records(store)[2].rule.slips
    assert slip.note == "The customer's reply took 5 hours (5 business hours); agreed: within 4 business hours.", slip


def test_preview_alone_shows_the_active_agreements_next_reminder(acme: SlackRequests) -> None:
    """`/partner boundary acme preview` with one agreement being introduced answered "Which one?", though `held` and
    `slip` alone mean that one; with none active it still asks."""
    asked = ephemeral(acme.command("boundary acme preview"))
    assert asked.startswith("Which one?"), asked
    ephemeral(acme.command("boundary acme activate 2"))
    preview = ephemeral(acme.command("boundary acme preview"))
    assert preview.startswith("*Next reminder for Acme Corp*"), preview
    assert "Requests go in #acme-partners, not DMs." in preview and "next on Mon 30 Nov at 09:00" in preview, preview
