"""Session 18's boundary fixes (issue 5), end to end: signed requests to the real app, ticks with an injected now,
every message read back from the fake Slack."""

from __future__ import annotations

from bot.settings import Settings
from handlers.ids import BOUNDARY_ACTIVATE
from storage.store import Store
from tests.e2e.test_boundaries import (
    SECOND,
    acme,
    channel_posts,
    ephemeral,
    ny,
    records,
    response_posts,
    tick,
)
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import BotServer, FakeClock

acme = acme  # test_boundaries' Acme Corp: Dana's (New York), with #acme and two proposed needs


def test_the_suggestions_activate_button_says_when_the_need_is_restated_as_the_command_does(
    acme: SlackRequests, bot: BotServer, fake_slack: FakeSlack, store: Store, clock: FakeClock, settings: Settings
) -> None:
    """`activate 2` answers "I'll restate it gently in #acme (reminders weekly, next on Mon 7 Dec at 09:00 their
    time)"; the Activate button on the next-need suggestion said only "State it in your next meeting or agreement."."""
    ephemeral(acme.command("boundary acme activate 1"))
    bot.settle()
    clock.set(ny(2026, 12, 1, 11))  # a Tuesday
    ephemeral(acme.command("boundary acme held 1"))
    tick(store, settings, clock.advance(minutes=1))
    (suggestion,) = [p for p in channel_posts(fake_slack, "U0001") if "Ready to introduce the next one" in p["text"]]
    message = {"type": "message", "ts": "1764600000.000300", "text": "", "blocks": suggestion["blocks"]}
    click = {
        "value": suggestion["blocks"][0]["accessory"]["value"],
        "block_id": suggestion["blocks"][0]["block_id"],
        "channel_id": "DDANA",
        "message": message,
    }
    acme.block_action(BOUNDARY_ACTIVATE, **click)
    answer = response_posts(fake_slack)[-1]["text"]
    plan = "I'll restate it gently in <#C0ACME> (reminders weekly, next on Mon 7 Dec at 09:00 their time)."
    assert answer == (
        f":white_check_mark: “{SECOND}” is now active with *Acme Corp*. State it in your next meeting or agreement. "
        + plan
    ), answer
    # A second click (or Slack's retry) says the same plan, as the command's retry does.
    acme.block_action(BOUNDARY_ACTIVATE, **click)
    again = response_posts(fake_slack)[-1]["text"]
    assert again == f"“{SECOND}” is already active with *Acme Corp*. {plan}", again
    assert ephemeral(acme.command("boundary acme activate 2")) == again


def test_a_response_time_that_ends_a_sentence_or_a_clause_is_read_without_its_punctuation(
    acme: SlackRequests, store: Store
) -> None:
    """`response=2d.` (the end of a sentence) and `response=2d,` were refused ("I couldn't read '2d.' as a response
    time"); checkin's `next=fri.` and add's `country=de.` read the punctuation off. So does `add` here."""
    typed = {
        "3": 'boundary acme add "Replies to requests" response=2d.',
        "4": 'boundary acme add "Replies to quotes" response=2d,',
        "5": 'boundary acme add "Replies to invoices" reply=3 business days.',
        "6": 'boundary acme add "Replies to tickets" kind=response_time value="4 hours".',
    }
    for number, command in typed.items():
        reply = ephemeral(acme.command(command))
        assert f"as number {number}" in reply, (command, reply)
    values = [(r.rule.kind, r.rule.value) for r in records(store)[2:]]
    assert values == [
        ("response_time", "2d"),
        ("response_time", "2d"),
        ("response_time", "3d"),
        ("response_time", "4h"),
    ]
    # Words after it are still not dropped unsaid: add takes no note.
    refused = ephemeral(acme.command('boundary acme add "Replies to calls" response=2d, mostly'))
    assert "I didn't understand 'mostly'" in refused, refused
    assert len(records(store)) == 6

