"""Session 18's boundary checks (issue 5), end to end: signed requests to the real app, ticks with an injected now,
every message read back from the fake Slack."""

from __future__ import annotations

import json
from datetime import timedelta

from bot.settings import Settings
from handlers.blocks import mrkdwn_name
from handlers.ids import BOUNDARY_ACTIVATE
from storage.store import Store
from tests.e2e.test_boundaries import (
    FIRST,
    SECOND,
    acme,
    channel_posts,
    ephemeral,
    nudges,
    ny,
    records,
    response_posts,
    tick,
)
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import BotServer, FakeClock

acme = acme  # test_boundaries' Acme Corp: Dana's (New York), with #acme and two proposed needs


def _mondays(store: Store, settings: Settings, *mondays: tuple[int, int, int]) -> None:
    """Ticks around 09:00 New York time on each Monday, and at noon on the days between."""
    for year, month, day in mondays:
        for at in (ny(year, month, day, 8, 59), ny(year, month, day, 9), ny(year, month, day, 9, 1)):
            tick(store, settings, at)
        for later in range(1, 7):
            tick(store, settings, ny(year, month, day, 12) + timedelta(days=later))


def test_the_next_reminder_an_answer_promises_is_the_one_that_goes_out_while_snoozed_or_paused(
    acme: SlackRequests, fake_slack: FakeSlack, store: Store, clock: FakeClock, settings: Settings
) -> None:
    """Activated while the customer is snoozed until Thursday: Monday's reminder is skipped (snoozed), so the answer
    and the preview name the Monday after, the one that is posted; while paused they promise no date at all."""
    ephemeral(acme.command("snooze acme until 2026-12-03 on holiday"))
    activated = ephemeral(acme.command("boundary acme activate 1"))
    assert "next on Mon 7 Dec at 09:00 their time, after the snooze until Thu 3 Dec" in activated, activated
    assert "Mon 30 Nov" not in activated
    preview = ephemeral(acme.command("boundary acme preview 1"))
    assert "next on Mon 7 Dec at 09:00" in preview and "Mon 30 Nov" not in preview, preview
    daily = ephemeral(acme.command("boundary acme reminders 1 daily"))
    assert "next on Thu 3 Dec at 09:00" in daily, daily  # not Thu 26 Nov: the snooze lasts until Thursday
    ephemeral(acme.command("boundary acme reminders 1 weekly"))

    _mondays(store, settings, (2026, 11, 30), (2026, 12, 7))
    sent = [(n.due_key, n.status) for n in nudges(store, "boundary_reminder")]
    assert sent == [("2026-11-30", "skipped"), ("2026-12-07", "sent")], sent
    (posted,) = channel_posts(fake_slack, "C0ACME")
    assert FIRST in posted["text"]
    assert posted["text"] in preview, (posted["text"], preview)  # the preview showed the very words

    clock.set(ny(2026, 12, 8, 11))
    ephemeral(acme.command("pause acme"))
    paused = ephemeral(acme.command("boundary acme preview 1"))
    assert "next on" not in paused and "is paused, so I'll restate it in <#C0ACME> once it is resumed" in paused
    assert "`/partner resume Acme Corp`" in paused, paused


def test_a_name_with_markup_characters_is_shown_as_typed_when_the_suggested_need_is_activated_by_button(
    slack: SlackRequests, bot: BotServer, fake_slack: FakeSlack, store: Store, clock: FakeClock, settings: Settings
) -> None:
    """`*NIX Labs` is shown as typed in every message (README): the answer to the suggestion's Activate button said
    "is now active with **NIX Labs*", which Slack draws with "NIX Labs" in bold and the asterisks gone."""
    clock.set(ny(2026, 11, 25, 10))
    ephemeral(slack.command('add "*NIX Labs" <#C0NIX|nix> <@U0001|dana>'))
    ephemeral(slack.command(f'boundary "*NIX Labs" add "{FIRST}"'))
    ephemeral(slack.command(f'boundary "*NIX Labs" add "{SECOND}" kind=channel'))
    ephemeral(slack.command('boundary "*NIX Labs" activate 1'))
    bot.settle()
    clock.set(ny(2026, 11, 26, 11))
    ephemeral(slack.command('boundary "*NIX Labs" held 1'))
    tick(store, settings, clock.advance(minutes=1))
    (suggestion,) = [p for p in channel_posts(fake_slack, "U0001") if "Ready to introduce the next one" in p["text"]]
    name = mrkdwn_name("*NIX Labs")
    assert f"*{name}*" in suggestion["text"]  # the suggestion itself shows it as typed
    accessory = suggestion["blocks"][0]["accessory"]
    slack.block_action(
        BOUNDARY_ACTIVATE,
        value=accessory["value"],
        block_id=suggestion["blocks"][0]["block_id"],
        channel_id="DDANA",
        message={"type": "message", "ts": "1764600000.000300", "text": "", "blocks": suggestion["blocks"]},
    )
    answer = response_posts(fake_slack)[-1]["text"]
    assert f"is now active with *{name}*" in answer, answer


def test_the_next_needs_first_reminder_does_not_open_as_the_last_one_in_the_channel_did(
    acme: SlackRequests, fake_slack: FakeSlack, store: Store, clock: FakeClock, settings: Settings
) -> None:
    """Never the same wording twice in a row in the customer's channel: the first need was restated once, in the
    plainest words, and held; the next need's first reminder the following Monday opened with the very same words."""
    ephemeral(acme.command("boundary acme activate 1"))
    _mondays(store, settings, (2026, 11, 30))
    clock.set(ny(2026, 12, 1, 11))
    ephemeral(acme.command("boundary acme held 1"))
    ephemeral(acme.command("boundary acme activate 2"))
    preview = ephemeral(acme.command("boundary acme preview 2"))
    _mondays(store, settings, (2026, 12, 7))
    first, second = (p["text"] for p in channel_posts(fake_slack, "C0ACME"))
    assert first == f"A reminder of how we work together: {FIRST}.", first
    assert second.endswith(f": {SECOND}.") and not second.startswith("A reminder of how we work together:"), second
    assert f">{second}" in preview, preview  # the preview showed the words that went out


def test_a_slip_note_that_starts_with_how_late_it_was_is_kept_whole_on_the_agreement_in_force(
    acme: SlackRequests, store: Store, clock: FakeClock
) -> None:
    """`slip 3 days without an answer` with one agreement in force: the note, not agreement number 3 with "days
    without an answer" (the 3 silently dropped), nor a refusal naming number 2 or "no number 10"."""
    ephemeral(acme.command('boundary acme add "Calls happen 9-10am our time" kind=contact_window value=9-10am'))
    ephemeral(acme.command("boundary acme activate 1"))
    first = ephemeral(acme.command("boundary acme slip 3 days without an answer"))
    assert first.startswith(f"Logged a slip on “{FIRST}” with *Acme Corp*"), first
    ephemeral(acme.command("boundary acme slip 2 business days late again"))
    ephemeral(acme.command("boundary acme slip 10 minutes late to the call"))
    ephemeral(acme.command("boundary acme slip 1 no reply"))  # a number with a note is still the number
    notes = [s.note for s in records(store)[0].slips]
    assert notes == [
        "3 days without an answer",
        "2 business days late again",
        "10 minutes late to the call",
        "no reply",
    ], notes
    assert [r.rule.slips for r in records(store)[1:]] == [(), ()]
    # With no agreement in force a number is a number: nothing to mean instead, and nothing is logged.
    clock.advance(minutes=1)
    ephemeral(acme.command("boundary acme retire 1"))
    refused = ephemeral(acme.command("boundary acme slip 3 days late"))
    assert "only proposed" in refused and "You typed: `/partner boundary acme slip 3 days late`" in refused


def test_the_next_need_offered_promises_reminders_only_where_they_will_go(
    slack: SlackRequests, bot: BotServer, fake_slack: FakeSlack, store: Store, clock: FakeClock, settings: Settings
) -> None:
    """The suggestion said "I'll remind their channel gently each week" to the owner of a customer with no channel
    (nothing is restated without one) and for a need whose reminders were turned off."""
    clock.set(ny(2026, 11, 25, 10))
    ephemeral(slack.command("add Solo Co <@U0001|dana>"))
    ephemeral(slack.command("add Acme Corp <#C0ACME|acme> <@U0001|dana>"))
    ephemeral(slack.command("add Beta Co <#C0BETA|beta> <@U0001|dana>"))
    for name in ("solo", "acme", "beta"):
        ephemeral(slack.command(f'boundary {name} add "{FIRST}"'))
        ephemeral(slack.command(f'boundary {name} add "{SECOND}" kind=channel'))
        ephemeral(slack.command(f"boundary {name} activate 1"))
    ephemeral(slack.command("boundary acme reminders 2 off"))
    bot.settle()
    clock.set(ny(2026, 11, 26, 11))
    ephemeral(slack.command("boundary solo held 1"))
    ephemeral(slack.command("boundary acme held 1"))
    ephemeral(slack.command("boundary beta held 1"))
    tick(store, settings, clock.advance(minutes=1))
    offers = {
        p["text"].split("*")[1]: json.dumps(p["blocks"])
        for p in channel_posts(fake_slack, "U0001")
        if "Ready to introduce the next one" in p["text"]
    }
    assert set(offers) == {"Solo Co", "Acme Corp", "Beta Co"}, offers
    assert "each week" not in offers["Solo Co"] and "has no channel for me to restate it in" in offers["Solo Co"]
    assert "`/partner edit Solo Co #channel`" in offers["Solo Co"]
    assert "each week" not in offers["Acme Corp"] and "its reminders are off" in offers["Acme Corp"]
    assert "I'll restate it gently in <#C0BETA> (reminders weekly)" in offers["Beta Co"], offers["Beta Co"]
