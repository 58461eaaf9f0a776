"""Session 18's boundary fixes (issue 5), end to end: signed requests to the real app, ticks with an injected now,
every message read back from the fake Slack."""

from __future__ import annotations

import json

from bot.settings import Settings
from handlers.ids import BOUNDARY_ACTIVATE, BOUNDARY_DECIDE_TALK
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
from tests.e2e.test_home_surveys import open_home, row
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


def test_german_and_french_quotes_around_an_agreement_quote_it(
    acme: SlackRequests, fake_slack: FakeSlack, store: Store, clock: FakeClock, settings: Settings
) -> None:
    """„Wir antworten innerhalb eines Werktags“ was kept with its quotes as the agreement's text, so the list and the
    reminder read "“„Wir antworten…“”"; so were «…» and ‚…‘. They quote the text, as "…" and “…” do."""
    typed = {
        "„Wir antworten innerhalb eines Werktags“ kind=custom": "Wir antworten innerhalb eines Werktags",
        "« Nous répondons sous un jour ouvré » kind=custom": "Nous répondons sous un jour ouvré",
        "‚Anfragen in #acme-partners‘ kind=channel value=#acme-partners": "Anfragen in #acme-partners",
        "‹ Pas d’appel le vendredi ›": "Pas d’appel le vendredi",
    }
    for command, text in typed.items():
        reply = ephemeral(acme.command(f"boundary acme add {command}"))
        assert f"Proposed “{text}”" in reply, (command, reply)
    assert [r.rule.text for r in records(store)[2:]] == list(typed.values())
    listed = json.dumps(acme.command("boundary acme").json(), ensure_ascii=False)
    assert "„" not in listed and "«" not in listed and "‹" not in listed, listed

    # The reminder restates the words, not the quotes; so does a wording given in German quotes.
    ephemeral(acme.command("boundary acme activate 3"))
    ephemeral(acme.command("boundary acme wording 3 „Kurz zur Erinnerung: Wir antworten innerhalb eines Werktags.“"))
    for at in (ny(2026, 11, 30, 8, 59), ny(2026, 11, 30, 9), ny(2026, 11, 30, 9, 1)):
        tick(store, settings, at)
    (reminder,) = channel_posts(fake_slack, "C0ACME")
    assert reminder["text"] == "Kurz zur Erinnerung: Wir antworten innerhalb eines Werktags.", reminder["text"]

    # A quote opened and never closed is named back, never stored with its quote.
    refused = ephemeral(acme.command("boundary acme add „Wir rufen nie vor 9 Uhr an"))
    assert "The quote in '„Wir rufen nie vor 9 Uhr an' is never closed" in refused, refused
    assert len(records(store)) == 6


def test_a_decided_escalation_keeps_its_date_and_says_what_was_decided(
    acme: SlackRequests, bot: BotServer, fake_slack: FakeSlack, store: Store, clock: FakeClock, settings: Settings
) -> None:
    """Escalated on Fri 4 Dec, *Talk it through* clicked on Tue 8 Dec: the card and the list said "⚠️ escalated on
    Tue 8 Dec" (the decision moves escalated_at, so those slips count as answered), as if the team were still asked
    to decide, and on the wrong day. They keep Fri 4 Dec and say what was decided, when and by whom."""
    ephemeral(acme.command("boundary acme activate 1"))
    for hour in (10, 11, 12):
        clock.set(ny(2026, 12, 4, hour))  # a Friday
        ephemeral(acme.command(f"boundary acme slip 1 no answer for two days ({hour})"))
    tick(store, settings, clock.advance(minutes=1))
    (escalation,) = [p for p in channel_posts(fake_slack, "U0001") if "keeps slipping" in p["text"]]

    clock.set(ny(2026, 12, 8, 10))  # the Tuesday after
    asked = ":warning: escalated on Fri 4 Dec"
    for command in ("boundary acme list", "show acme"):
        shown = json.dumps(acme.command(command).json(), ensure_ascii=False)
        assert asked in shown, (command, shown)
    customer_id = records(store)[0].row.customer_id
    assert asked in row(open_home(bot, acme, fake_slack, "U0001"), customer_id)
    dm = {"type": "message", "ts": "1764860000.000100", "text": "", "blocks": escalation["blocks"]}
    acme.block_action(BOUNDARY_DECIDE_TALK, value=str(records(store)[0].id), message=dm, channel_id="DDANA")
    bot.settle()
    decided = ":ballot_box_with_check: escalated on Fri 4 Dec; on Tue 8 Dec <@U0001> chose to talk it through"
    clock.advance(hours=2)
    for command in ("boundary acme list", "show acme"):
        shown = json.dumps(acme.command(command).json(), ensure_ascii=False)
        assert decided in shown and ":warning: escalated" not in shown, (command, shown)
    # The owner's Home row carries the mark only while the team is asked (it said "escalated on Tue 8 Dec").
    home_row = row(open_home(bot, acme, fake_slack, "U0001"), customer_id)
    assert "escalated" not in home_row, home_row

    # A fresh run of slips asks again: dated by the new ask, no longer decided.
    for hour in (10, 11, 12):
        clock.set(ny(2026, 12, 9, hour))
        ephemeral(acme.command(f"boundary acme slip 1 again ({hour})"))
    tick(store, settings, clock.advance(minutes=1))
    assert len([p for p in channel_posts(fake_slack, "U0001") if "keeps slipping" in p["text"]]) == 2
    listed = json.dumps(acme.command("boundary acme list").json(), ensure_ascii=False)
    assert ":warning: escalated on Wed 9 Dec" in listed and "chose to talk" not in listed, listed
    assert ":warning: escalated on Wed 9 Dec" in row(open_home(bot, acme, fake_slack, "U0001"), customer_id)
