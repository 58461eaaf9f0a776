"""Working agreements (issue 5) end to end, where the pause, Slack's retries and two needs in force at once meet:
signed requests to the real app, ticks with an injected now, every message read back from the fake Slack."""

from __future__ import annotations

import json

from bot.settings import Settings
from storage.store import Store
from tests.e2e.test_boundaries import FIRST, SECOND, acme, channel_posts, ephemeral, ny, records, tick
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import FakeClock

acme = acme  # test_boundaries' Acme Corp: Dana's (New York), with its channel and two proposed needs


def escalations(fake_slack: FakeSlack) -> list[str]:
    return [p["text"] for p in channel_posts(fake_slack, "U0001") if "keeps slipping" in p["text"]]


# --------------------------------------------------------------------------- slips while the customer is paused


def test_slips_logged_while_the_customer_is_paused_are_kept_but_ask_the_owner_nothing(
    acme: SlackRequests, fake_slack: FakeSlack, store: Store, clock: FakeClock, settings: Settings
) -> None:
    """Paused, Partner asks nothing of the customer: three slips someone logs then are kept (never dropped), the
    answer says they don't count, and the owner is not asked to decide. A run after the resume asks them, once."""
    ephemeral(acme.command("boundary acme activate 1"))
    clock.set(ny(2026, 11, 27, 10))
    assert "A slip logged meanwhile is kept, but asks nobody to decide about it." in ephemeral(
        acme.command("pause acme")
    )
    for day in (30, 1, 2):
        clock.set(ny(2026, 11 if day == 30 else 12, day, 11))
        reply = ephemeral(acme.command(f"boundary acme slip 1 late on the {day}th", user_id="U0002", user_name="sam"))
        assert reply.startswith(f"Logged a slip on “{FIRST}” with *Acme Corp*"), reply
        assert reply.endswith(
            "(kept in its history: *Acme Corp* is paused, so it counts toward neither an escalation nor the agreement "
            "holding)."
        ), reply
        assert "asked the owner" not in reply
        tick(store, settings, clock.now)
        tick(store, settings, clock.advance(minutes=5))
    assert escalations(fake_slack) == []
    assert [s.note for s in records(store)[0].slips] == ["late on the 30th", "late on the 1th", "late on the 2th"]
    listed = json.dumps(acme.command("boundary acme list").json(), ensure_ascii=False)
    assert "0 slips in the last 30 days · 3 in all, 3 while paused" in listed, listed

    clock.set(ny(2026, 12, 3, 10))
    ephemeral(acme.command("resume acme"))
    for day in (3, 4):
        clock.set(ny(2026, 12, day, 11))
        assert "asked the owner" not in ephemeral(acme.command(f"boundary acme slip 1 late again on the {day}th"))
    tick(store, settings, clock.advance(minutes=5))
    assert escalations(fake_slack) == []
    clock.set(ny(2026, 12, 7, 11))
    reply = ephemeral(acme.command("boundary acme slip 1 no answer at all"))
    assert "3 slips in the last 30 days — I've asked the owner to decide" in reply, reply
    tick(store, settings, clock.now)
    tick(store, settings, clock.advance(hours=1))
    (escalation,) = [p for p in channel_posts(fake_slack, "U0001") if "keeps slipping" in p["text"]]
    blocks = json.dumps(escalation["blocks"], ensure_ascii=False)
    assert f"“{FIRST}” has slipped 3 times in the last 30 days" in blocks, blocks
    # The history shows what was logged while paused, marked as such.
    assert "<@U0002> (while paused): late on the 30th" in blocks, blocks


def test_a_slip_logged_while_paused_does_not_reopen_a_need_that_held(
    acme: SlackRequests, fake_slack: FakeSlack, store: Store, clock: FakeClock, settings: Settings
) -> None:
    ephemeral(acme.command("boundary acme activate 1"))
    clock.set(ny(2026, 11, 26, 10))
    ephemeral(acme.command("boundary acme held 1"))
    clock.set(ny(2026, 11, 27, 10))
    ephemeral(acme.command("pause acme"))
    reply = ephemeral(acme.command("boundary acme slip 1 missed the pricing question"))
    assert "*Acme Corp* is paused" in reply and "being introduced again" not in reply, reply
    assert [r.rule.status for r in records(store)] == ["held", "proposed"]
    assert len(records(store)[0].slips) == 1


# --------------------------------------------------------------------------- Slack's retry of a slip


def test_a_retried_slip_on_a_need_that_held_answers_as_the_first_delivery(
    acme: SlackRequests, store: Store, clock: FakeClock
) -> None:
    """The first answer says the need is being introduced again; Slack's retry of that same command (the first was
    slow) gets the same answer, not one without the note, and logs nothing twice."""
    ephemeral(acme.command("boundary acme activate 1"))
    clock.set(ny(2026, 12, 1, 11))
    ephemeral(acme.command("boundary acme held 1"))
    clock.set(ny(2026, 12, 3, 11))
    typed = "boundary acme slip 1 missed the pricing question"
    first = ephemeral(acme.command(typed, trigger_id="123.456.reopen"))
    assert "It had held since Tue 1 Dec; it is being introduced again" in first, first
    for n in (1, 2):
        assert ephemeral(acme.command(typed, trigger_id="123.456.reopen", retry_num=n)) == first
    assert len(records(store)[0].slips) == 1 and records(store)[0].rule.status == "active"


# --------------------------------------------------------------------------- two needs in force at once


def test_two_active_needs_are_restated_in_one_reminder_on_the_monday(
    acme: SlackRequests, fake_slack: FakeSlack, store: Store, clock: FakeClock, settings: Settings
) -> None:
    """One at a time, but a slip on a need that held takes it back to active while the next is being introduced:
    the customer's channel gets one reminder that monday naming both, not two messages in a row."""
    ephemeral(acme.command("boundary acme activate 1"))
    clock.set(ny(2026, 11, 25, 11))
    ephemeral(acme.command("boundary acme held 1"))
    ephemeral(acme.command("boundary acme activate 2"))
    clock.set(ny(2026, 11, 26, 11))
    ephemeral(acme.command("boundary acme slip 1 missed it"))
    assert [r.rule.status for r in records(store)] == ["active", "active"]
    preview = ephemeral(acme.command("boundary acme preview 2"))
    assert f">A reminder of how we work together:\n>• {FIRST}.\n>• {SECOND}." in preview, preview
    assert "with 1 other agreement in force, in one message" in preview
    for minute in (0, 1, 30):
        tick(store, settings, ny(2026, 11, 30, 9, minute))
    (reminder,) = channel_posts(fake_slack, "C0ACME")
    assert reminder["text"] == f"A reminder of how we work together:\n• {FIRST}.\n• {SECOND}.", reminder["text"]
    assert FIRST in json.dumps(reminder["blocks"]) and SECOND in json.dumps(reminder["blocks"])
    # The next Monday too: one message, still both.
    for minute in (0, 1):
        tick(store, settings, ny(2026, 12, 7, 9, minute))
    posts = channel_posts(fake_slack, "C0ACME")
    assert len(posts) == 2 and FIRST in posts[1]["text"] and SECOND in posts[1]["text"]


def test_a_need_restated_with_another_is_not_restated_alone_in_the_same_words_the_next_week(
    acme: SlackRequests, fake_slack: FakeSlack, store: Store, clock: FakeClock, settings: Settings
) -> None:
    """Monday's one message restated both needs in the plainest words; the first then holds, and the next Monday the
    second alone is restated in other words — never the same opening twice in a row in the customer's channel."""
    ephemeral(acme.command("boundary acme activate 1"))
    clock.set(ny(2026, 11, 25, 11))
    ephemeral(acme.command("boundary acme held 1"))
    ephemeral(acme.command("boundary acme activate 2"))
    clock.set(ny(2026, 11, 26, 11))
    ephemeral(acme.command("boundary acme slip 1 missed it"))
    tick(store, settings, ny(2026, 11, 30, 9))
    clock.set(ny(2026, 12, 1, 11))
    ephemeral(acme.command("boundary acme held 1"))
    tick(store, settings, ny(2026, 12, 7, 9))
    together, alone = (p["text"] for p in channel_posts(fake_slack, "C0ACME"))
    assert together.startswith("A reminder of how we work together:\n") and alone.endswith(SECOND + "."), alone
    assert not alone.startswith("A reminder of how we work together:"), alone


def test_a_slip_without_a_number_once_the_only_agreement_in_force_holds_is_logged_on_it(
    acme: SlackRequests, store: Store, clock: FakeClock
) -> None:
    """ "The one active agreement" when a slip names none: once it holds, that one is still the agreement in force, and
    "slip missed it again" meant it (it said "'missed' isn't a number from the list")."""
    ephemeral(acme.command("boundary acme activate 1"))
    clock.set(ny(2026, 12, 1, 11))
    ephemeral(acme.command("boundary acme held"))
    clock.set(ny(2026, 12, 3, 11))
    reply = ephemeral(acme.command("boundary acme slip missed it again"))
    assert reply.startswith(f"Logged a slip on “{FIRST}” with *Acme Corp* (1 slip in the last 30 days).")
    assert "It had held since Tue 1 Dec; it is being introduced again" in reply, reply
    assert [s.note for s in records(store)[0].slips] == ["missed it again"]
