"""End to end, session 21: words a team types — a dash between the mood and the note, a pause said with how long
it should last, and "did you mean" only for a typo."""

from __future__ import annotations

import pytest

from storage.store import Store
from tests.e2e.test_foundation import add_acme, ephemeral
from tests.slack_requests import SlackRequests
from tests.utils import TEAM_ID, BotServer


@pytest.mark.parametrize(
    ("typed", "note"),
    [
        ("checkin acme - green - fine", "fine"),
        ("checkin acme green - fine", "fine"),
        ("checkin acme corp — green — renewal signed", "renewal signed"),
        ("checkin acme green – call went well", "went well"),
        ("checkin acme green\n- pilot live\n- legal reviewing", "- pilot live\n- legal reviewing"),
    ],
)
def test_a_dash_between_the_mood_and_the_note_is_read_off_as_the_one_before_it(
    slack: SlackRequests, store: Store, bot: BotServer, typed: str, note: str
) -> None:
    """`/partner checkin acme - green - fine` stored the note as "- fine": the dash before the mood was read as a
    separator, the same dash after it kept in the note. A note written as a list on its own lines keeps its dashes."""
    add_acme(slack)
    text = ephemeral(slack.command(typed))
    assert "Logged a green" in text and "*Acme Corp*" in text, text
    (entry,) = store.checkins(team_id=TEAM_ID)
    assert (entry.mood, entry.note) == ("green", note)
    bot.settle()


@pytest.mark.parametrize(
    ("typed", "snooze"),
    [
        ("pause acme for 2 weeks", "/partner snooze Acme Corp for 2 weeks"),
        ("pause acme 2w", "/partner snooze Acme Corp 2w"),
        ("pause acme until fri", "/partner snooze Acme Corp until fri"),
        ("pause Acme Corp till Dec 3", "/partner snooze Acme Corp till Dec 3"),
    ],
)
def test_a_pause_said_with_how_long_points_to_snooze(
    slack: SlackRequests, store: Store, bot: BotServer, typed: str, snooze: str
) -> None:
    """`/partner pause acme for 2 weeks` was answered "I didn't understand 'for 2 weeks' after the customer's name"
    with pause's usage alone: nothing said that holding nudges for a time is what `snooze` does. Nothing is paused."""
    add_acme(slack)
    text = ephemeral(slack.command(typed))
    assert "snooze" in text and "resume" in text, text
    assert f"`{snooze}`" in text, text
    (customer,) = store.customers(team_id=TEAM_ID)
    assert customer.paused_at is None and customer.snoozed_until is None
    assert "I didn't understand 'soon please'" in ephemeral(slack.command("pause acme soon please"))
    assert "are paused" in ephemeral(slack.command("pause acme"))  # the form README gives still pauses
    bot.settle()


@pytest.mark.parametrize("word", ["start", "setup"])
def test_a_word_no_command_resembles_suggests_none(slack: SlackRequests, word: str) -> None:
    """`/partner start` answered "Did you mean `/partner status`?" and `/partner setup` "Did you mean `/partner
    edit`?" (its alias `set`): other commands, not what was meant. The whole list follows, with no guess."""
    text = ephemeral(slack.command(f"{word} acme"))
    assert f"I don't know `{word}`." in text and "Did you mean" not in text, text
    assert "/partner add" in text and "/partner status" in text, text
    help_text = ephemeral(slack.command(f"help {word}"))
    assert f"No help on `{word}`." in help_text and "Did you mean" not in help_text, help_text


@pytest.mark.parametrize(
    ("typed", "meant"),
    [("chekin", "checkin"), ("lsit", "list"), ("pasue", "pause"), ("check", "checkin"), ("stats", "status")],
)
def test_a_typo_or_a_command_cut_short_still_gets_its_suggestion(slack: SlackRequests, typed: str, meant: str) -> None:
    text = ephemeral(slack.command(f"{typed} acme"))
    assert f"Did you mean `/partner {meant}`?" in text, text
