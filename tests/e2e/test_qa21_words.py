"""End to end, session 21: words a team types — a dash between the mood and the note, a pause said with how long
it should last, and "did you mean" only for a typo."""

from __future__ import annotations

import pytest

from bot.settings import Settings
from storage.store import Store
from tests.e2e.test_cadence import add, day, rows, tick
from tests.e2e.test_foundation import add_acme, ephemeral
from tests.fake_slack import FakeSlack
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


@pytest.mark.parametrize("error", ["restricted_action", "restricted_action_read_only_channel"])
def test_a_channel_where_the_workspace_restricts_posting_falls_back_to_the_owner(
    store: Store, settings: Settings, fake_slack: FakeSlack, error: str
) -> None:
    """A channel whose posting an admin restricted (Slack's `restricted_action`) refused the nudge: it was lost, the
    owner told "Slack refused my post … (restricted_action)", and tried there again — and lost — every day. It now
    goes to the owner's DM as a `not_in_channel` one does, with one notice saying why and what fixes it."""
    acme = add(store)
    fake_slack.fail_next("chat.postMessage", error=error)  # the channel's post; the DMs then go through
    tick(store, settings, day(1))
    dm_id = fake_slack._dm_by_user["U0001"]
    dm = [m["text"] for m in fake_slack.messages[dm_id]]
    assert ["couldn't post" in text for text in dm].count(True) == 1, dm
    assert any("Ask an admin to let me post there" in text for text in dm), dm
    assert any("Time for the daily call" in text for text in dm), dm
    customer = store.customer(team_id=TEAM_ID, customer_id=acme.id or 0)
    assert customer is not None and customer.channel_error == error
    tick(store, settings, day(2))  # the next day straight to the DM: no second refused post, no second notice
    assert [(r.due_key, r.status, r.channel_id) for r in rows(store)] == [
        ("2026-12-01", "sent", dm_id),
        ("2026-12-02", "sent", dm_id),
    ]
    assert ["couldn't post" in m["text"] for m in fake_slack.messages[dm_id]].count(True) == 1


def test_a_check_in_summary_the_workspace_restricts_is_explained_once_and_recorded(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, bot: BotServer
) -> None:
    """The same refusal met by a check-in's summary: its author is told once why and what fixes it, and the refusal
    is recorded on the customer as a `not_in_channel` one is (the card and the next nudge then know it)."""
    add_acme(slack)
    fake_slack.fail_next("chat.postMessage", error="restricted_action")
    ephemeral(slack.command("checkin acme green kickoff went well"))
    (told,) = fake_slack.wait_for("chat.postEphemeral", 1)
    assert "saved" in told.params["text"] and "Ask an admin to let me" in told.params["text"], told.params["text"]
    bot.settle()
    (customer,) = store.customers(team_id=TEAM_ID)
    assert customer.channel_error == "restricted_action"
    assert len(store.checkins(team_id=TEAM_ID)) == 1
