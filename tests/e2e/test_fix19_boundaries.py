"""Session 19's boundary fixes (issue 5), end to end: signed requests to the real app, ticks with an injected now,
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
from tests.e2e.test_boundaries import acme, channel_posts, ephemeral, ny, records, tick
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import BotServer, FakeClock

acme = acme  # test_boundaries' Acme Corp: Dana's (New York), with #acme and two proposed needs


def test_a_call_confirmed_outside_the_window_weeks_later_is_a_slip_on_the_day_of_the_call(
    acme: SlackRequests, bot: BotServer, fake_slack: FakeSlack, store: Store, clock: FakeClock, settings: Settings
) -> None:
    """Dana answers "Yes, log a slip" for a call of 25 Nov on 28 Dec: the slip was dated by her click, so with two
    slips that week it made "3 slips in 30 days" and asked her to decide — over a call a month old."""
    ephemeral(acme.command('boundary acme add "Calls happen 9-10am our time" kind=contact_window value=9-10am'))
    ephemeral(acme.command("boundary acme activate 3"))
    call_at = ny(2026, 11, 25, 15, 30)
    clock.set(call_at)
    ephemeral(acme.command("checkin acme green call pricing walkthrough"))
    bot.settle()
    tick(store, settings, clock.advance(minutes=1))
    (question,) = [p for p in channel_posts(fake_slack, "U0001") if "Was this call outside" in p["text"]]
    for day in (22, 23):
        clock.set(ny(2026, 12, day, 11))
        ephemeral(acme.command(f"boundary acme slip 3 called at 6pm again ({day} Dec)"))
    clock.set(ny(2026, 12, 28, 9, 45))
    actions = question["blocks"][1]
    answered = acme.block_action(
        BOUNDARY_CALL_YES,
        value=actions["elements"][0]["value"],
        block_id=actions["block_id"],
        channel_id="DDANA",
        message={"type": "message", "ts": "1764600000.000700", "text": question["text"], "blocks": question["blocks"]},
    )
    assert answered.status == 200
    bot.settle()
    slips = records(store)[2].rule.slips
    assert [s.at for s in slips] == [call_at, ny(2026, 12, 22, 11), ny(2026, 12, 23, 11)], slips
    tick(store, settings, clock.advance(minutes=1))
    asked = [p["text"] for p in channel_posts(fake_slack, "U0001") if "keeps slipping" in p["text"]]
    assert asked == [], asked  # two slips in the last 30 days, the call's a month back
    replaced = [c.params for c in fake_slack.calls_to("response_url") if "Logged a slip" in str(c.params.get("text"))]
    assert replaced and "(2 slips in the last 30 days)" in replaced[-1]["text"], replaced


def test_a_reply_time_typed_in_quotes_reads_as_it_does_unquoted_after_the_mood_or_at_the_end(
    acme: SlackRequests, bot: BotServer, store: Store, clock: FakeClock
) -> None:
    """`response="2 business days"` (straight or curled quotes, as a Mac types them) was refused, though
    `response=2 business days` works, and quotes are how every other option takes a value with spaces."""
    ephemeral(acme.command("boundary acme activate 1"))  # within one business day
    clock.set(ny(2026, 12, 3, 10))  # Thursday
    for n, (typed, note, days) in enumerate(
        (
            ('checkin acme yellow response="2 business days" waiting on legal', "waiting on legal", "2"),
            ("checkin acme yellow call next=“fri” response=“2 business days” still on legal", "still on legal", "2"),
            ("checkin acme yellow the SOW is stuck response=”3 business days” next='2 weeks'", "SOW is stuck", "3"),
        )
    ):
        clock.advance(minutes=5)
        logged = ephemeral(acme.command(typed))
        assert "Usage" not in logged and note in logged and "=" not in logged, logged  # the note, without the flags
        bot.settle()
        slips = records(store)[0].rule.slips
        assert len(slips) == n + 1 and f"({days} business days)" in slips[-1].note, (typed, slips)


def test_the_renegotiate_form_shows_a_picked_channel_by_its_name_and_keeps_the_channel(
    slack: SlackRequests, bot: BotServer, fake_slack: FakeSlack, store: Store, clock: FakeClock, settings: Settings
) -> None:
    """The agreement's channel was picked (`value=<#C0AP|acme-partners>`, kept as the channel itself): the
    Renegotiate form's value field showed it as raw `<#C0AP>` text. It shows #acme-partners, and saved unchanged or
    with words around it, the value is still that channel."""
    fake_slack.add_channel("C0AP", name="acme-partners")
    clock.set(ny(2026, 11, 25, 10))
    ephemeral(slack.command("add Acme Corp <#C0ACME|acme> <@U0001|dana>"))
    ephemeral(slack.command('boundary acme add "Requests go in the partners channel" value=<#C0AP|acme-partners>'))
    assert records(store)[0].rule.value == "<#C0AP>"
    ephemeral(slack.command("boundary acme activate 1"))
    for n in range(3):
        clock.advance(hours=1)
        ephemeral(slack.command(f"boundary acme slip 1 a DM again ({n + 1})"))
    tick(store, settings, clock.now)
    (asked,) = [p for p in channel_posts(fake_slack, "U0001") if "keeps slipping" in p["text"]]
    for ts, typed, kept in (
        ("1764600000.000500", "#acme-partners", "<#C0AP>"),
        ("1764600000.000600", "#acme-partners or #acme-partners-urgent", "<#C0AP> or #acme-partners-urgent"),
    ):
        message = {"type": "message", "ts": ts, "text": "", "blocks": asked["blocks"]}  # one escalation each
        slack.block_action(
            BOUNDARY_DECIDE_RENEGOTIATE, value=str(records(store)[0].id), message=message, channel_id="DD"
        )
        opened = fake_slack.calls_to("views.open")[-1]
        fields = {b["block_id"]: b["element"] for b in opened.params["view"]["blocks"] if b["type"] == "input"}
        assert fields["value"]["initial_value"] == "#acme-partners", fields["value"]
        values = {
            "text": {BOUNDARY_TEXT: {"type": "plain_text_input", "value": fields["text"]["initial_value"]}},
            "kind": {BOUNDARY_KIND: {"type": "static_select", "selected_option": {"value": "channel"}}},
            "value": {BOUNDARY_VALUE: {"type": "plain_text_input", "value": typed}},
        }
        metadata = opened.params["view"]["private_metadata"]
        assert slack.view_submission(BOUNDARY_RENEGOTIATE_MODAL, values, private_metadata=metadata).status == 200
        bot.settle()
        assert records(store)[0].rule.value == kept, records(store)[0].rule


def test_a_call_inside_the_window_hours_asks_nothing_on_any_day(
    acme: SlackRequests, bot: BotServer, fake_slack: FakeSlack, store: Store, clock: FakeClock, settings: Settings
) -> None:
    """The issue's contact window is the customer's local hours: a call at 09:30 inside "9-10am" is inside it on a
    holiday (Thanksgiving), a Saturday and a Monday alike; only a call outside the hours asks."""
    ephemeral(acme.command("edit acme country=US"))
    ephemeral(acme.command('boundary acme add "Calls happen 9-10am our time" kind=contact_window value=9-10am'))
    ephemeral(acme.command("boundary acme activate 3"))
    for at in (ny(2026, 11, 26, 9, 30), ny(2026, 11, 28, 9, 30), ny(2026, 11, 30, 9, 30), ny(2026, 11, 30, 15, 30)):
        clock.set(at)
        ephemeral(acme.command("checkin acme green call quick sync"))
        bot.settle()
        tick(store, settings, clock.advance(minutes=1))
    questions = [p for p in channel_posts(fake_slack, "U0001") if "Was this call outside" in p["text"]]
    assert [q["text"].split(" their time ")[1].split(".")[0] for q in questions] == ["(Mon 30 Nov)"], [
        q["text"] for q in questions
    ]


def test_a_call_confirmed_after_the_need_held_leaves_it_held_when_it_held_since_the_call_anyway(
    acme: SlackRequests, bot: BotServer, fake_slack: FakeSlack, store: Store, clock: FakeClock, settings: Settings
) -> None:
    """The call of 25 Nov is confirmed on 28 Dec, after the need held (three weeks on, 16 Dec): the slip is the
    call's, and the need has held more than three weeks since it, so it still holds: no "being introduced again",
    and no second suggestion of the next need when the next tick finds it holding once more."""
    ephemeral(acme.command('boundary acme add "Calls happen 9-10am our time" kind=contact_window value=9-10am'))
    ephemeral(acme.command("boundary acme activate 3"))
    clock.set(ny(2026, 11, 25, 15, 30))
    ephemeral(acme.command("checkin acme green call pricing walkthrough"))
    bot.settle()
    tick(store, settings, clock.advance(minutes=1))
    (question,) = [p for p in channel_posts(fake_slack, "U0001") if "Was this call outside" in p["text"]]
    tick(store, settings, ny(2026, 12, 17, 10))
    assert records(store)[2].rule.status == "held"
    suggested = len(fake_slack.calls_to("chat.postMessage"))
    clock.set(ny(2026, 12, 28, 9, 45))
    actions = question["blocks"][1]
    acme.block_action(
        BOUNDARY_CALL_YES,
        value=actions["elements"][0]["value"],
        block_id=actions["block_id"],
        channel_id="DDANA",
        message={"type": "message", "ts": "1764600000.000700", "text": question["text"], "blocks": question["blocks"]},
    )
    bot.settle()
    rec = records(store)[2]
    assert (rec.rule.status, len(rec.rule.slips)) == ("held", 1), rec.rule
    replaced = [c.params["text"] for c in fake_slack.calls_to("response_url") if "Logged a slip" in str(c.params)]
    assert replaced and "introduced again" not in replaced[-1], replaced
    tick(store, settings, clock.advance(minutes=1))
    posted = [str(c.params.get("text")) for c in fake_slack.calls_to("chat.postMessage")[suggested:]]
    assert not [t for t in posted if "introduce the next one" in t or "A reminder" in t], posted
