"""A user putting their own mistake right: what they can type to take something back, and what they are told.

Partner keeps what was logged (check-ins, slips); every way a user tries to take one back is answered with how to put
it right, never with a bare "I don't know" nor, for `slip undo`, one more slip. Signed commands, the fake Slack.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bot.settings import Settings
from storage.store import Store
from tests.e2e.test_cadence import (  # noqa: F401  (acme_channel, unpaced: the module's autouse fixtures)
    acme_channel,
    add,
    day,
    nudges,
    rows,
    tick,
    unpaced,
)
from tests.e2e.test_checkins import acme
from tests.e2e.test_foundation import add_acme, ephemeral
from tests.e2e.test_snooze_return import snooze_nudge
from tests.e2e.test_surveys import add_customer, ok, submit
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import TEAM_ID, BotServer, FakeClock

MINUTE = timedelta(minutes=1)


@pytest.mark.parametrize("typed", ["undo", "delete acme", "withdraw", "Remove acme red wrong customer"])
def test_undo_as_a_command_says_how_each_thing_is_put_right(slack: SlackRequests, store: Store, typed: str) -> None:
    add_acme(slack)
    text = ephemeral(slack.command(typed))
    word = typed.split()[0].lower()
    assert text.startswith(f"There is no `/partner {word}`: Partner keeps what was logged.")
    for way in ("correction:", "snooze &lt;customer&gt; off", "/partner resume", "/partner restore", "retire"):
        assert way in text
    assert ("You typed: " in text) == (" " in typed)  # what was typed after the word is given back
    assert "Did you mean" not in text and "/partner help [command]" not in text  # not the whole help list


@pytest.mark.parametrize(
    ("typed", "named"),
    [
        ("checkin delete", "&lt;customer&gt;"),
        ("checkin withdraw acme", "&lt;customer&gt;"),
        ("checkin acme undo", "Acme Corp"),
        ("checkin acme fix the mood was yellow", "Acme Corp"),
    ],
)
def test_taking_back_a_check_in_says_it_is_kept_and_how_to_log_the_right_one(
    slack: SlackRequests, store: Store, bot: BotServer, typed: str, named: str
) -> None:
    add_acme(slack)
    ephemeral(slack.command("checkin acme red wrong customer"))
    text = ephemeral(slack.command(typed))
    assert "one can't be withdrawn or edited" in text and "a reply in that summary's thread" in text
    assert f"`/partner checkin {named} &lt;mood&gt; correction: &lt;note…&gt;`" in text
    assert f"You typed: `/partner {typed}`" in text
    bot.settle()
    customer = acme(store)
    assert customer.id is not None
    assert [c.note for c in store.checkins(team_id=TEAM_ID, customer_id=customer.id)] == ["wrong customer"]


def test_unpause_resumes_and_unsnooze_names_snooze_off(slack: SlackRequests, store: Store, bot: BotServer) -> None:
    add_acme(slack)
    ephemeral(slack.command("pause acme"))
    assert "are back on" in ephemeral(slack.command("unpause acme"))  # not "did you mean `/partner pause`?"
    bot.settle()
    assert acme(store).paused_at is None
    text = ephemeral(slack.command("unsnooze acme"))
    assert text.startswith("To lift a snooze: `/partner snooze acme off`")
    ephemeral(slack.command("snooze acme 2d wrong customer"))
    assert ephemeral(slack.command("snooze acme undo")).startswith(":bell: Snooze lifted for *Acme Corp*.")
    bot.settle()
    assert acme(store).snoozed_until is None
    assert ephemeral(slack.command("help undo")).startswith("There is no `/partner undo`: Partner keeps what was")


def test_slip_undo_logs_no_slip_and_says_a_slip_is_kept(slack: SlackRequests, store: Store, bot: BotServer) -> None:
    add_acme(slack)
    ephemeral(slack.command('boundary acme add "Reply within one day" kind=response_time value=1d'))
    ephemeral(slack.command("boundary acme activate 1"))
    ephemeral(slack.command("boundary acme slip 1 wrong one"))
    for typed in ("slip undo", "slip 1 undo", "unslip 1"):
        text = ephemeral(slack.command(f"boundary acme {typed}"))
        assert "Partner keeps every slip as it was logged: one can't be taken back." in text, typed
    for typed in ("delete 1", "edit 1 “Reply within two days”"):  # a typo in an agreement: retire, add again
        text = ephemeral(slack.command(f"boundary acme {typed}"))
        assert text.startswith("An agreement can't be deleted or reworded: retire it"), typed
    bot.settle()
    customer = acme(store)
    assert customer.id is not None
    (record,) = store.boundary_records(team_id=TEAM_ID, customer_id=customer.id)
    assert [s.note for s in record.slips] == ["wrong one"]
    assert record.rule.status == "active"


def dms(fake_slack: FakeSlack, user_id: str = "U0001") -> list[str]:
    return [c.params["text"] for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == user_id]


def test_a_restore_says_its_owner_cadence_and_next_nudge_came_back_and_the_days_nudge_comes_once(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, settings: Settings, clock: FakeClock, bot: BotServer
) -> None:
    """Archived at 08:00 instead of another customer, restored at 08:10: the answer says what is back as it was, and
    09:00 brings that day's nudge, once (before, "Restored *Acme*, with all its check-ins." and nothing more)."""
    add(store)  # New York, daily at 09:00, owner Dana
    tick(store, settings, day(1) - timedelta(hours=2))
    clock.set(day(1) - timedelta(hours=1))
    ephemeral(slack.command("archive acme"))
    bot.settle()
    tick(store, settings, day(1) - timedelta(minutes=55))
    clock.set(day(1) - timedelta(minutes=50))
    text = ephemeral(slack.command("restore acme"))
    assert text.startswith(":leftwards_arrow_with_hook: Restored *Acme* as it was, with all its check-ins: ")
    assert "owner <@U0001>, cadence daily at 09:00. Next nudge: Tue 1 Dec 09:00 (America/New_York)" in text
    bot.settle()
    for at in (day(1) - timedelta(minutes=49), day(1), day(1) + MINUTE, day(1) + timedelta(hours=1)):
        tick(store, settings, at)
    assert [r.due_key for r in rows(store) if r.status == "sent"] == ["2026-12-01"]
    assert len(nudges(fake_slack)) == 1


def test_a_teams_only_customer_restored_after_its_nudge_time_gets_no_late_nudge_for_the_day_it_was_away(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, settings: Settings, clock: FakeClock, bot: BotServer
) -> None:
    """Archived at 08:00, restored at noon: the answer says the next nudge is tomorrow's, as after a pause. Before, the
    ticks skipped the team while it had no live customer, and the first tick after the restore posted the 09:00 nudge
    three hours late."""
    add(store)
    tick(store, settings, day(1) - timedelta(hours=2))
    clock.set(day(1) - timedelta(hours=1))
    ephemeral(slack.command("archive acme"))
    bot.settle()
    for hours in (0, 1, 2):
        tick(store, settings, day(1) + timedelta(hours=hours))
    clock.set(day(1) + timedelta(hours=3))
    assert "Next nudge: Wed 2 Dec 09:00 (America/New_York)" in ephemeral(slack.command("restore acme"))
    bot.settle()
    for at in (day(1) + timedelta(hours=3, minutes=1), day(2) - MINUTE, day(2), day(2) + MINUTE):
        tick(store, settings, at)
    assert [r.due_key for r in rows(store) if r.status == "sent"] == ["2026-12-02"]
    assert len(nudges(fake_slack)) == 1


def test_a_week_archived_by_mistake_is_left_out_of_the_health_score_once_restored(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, settings: Settings, clock: FakeClock, bot: BotServer
) -> None:
    """Archived for a week by mistake, then restored: like a pause, the week owed no calls — no health-drop DM for the
    calls of that week (before: "health fell from 81 to 38 … 1 of the last 5 daily calls logged"), no overdue alert,
    no burst of the week's nudges; the next day's nudge comes."""
    add(store)
    tick(store, settings, day(1) - MINUTE)
    tick(store, settings, day(1))
    clock.set(day(1) + timedelta(hours=1, minutes=30))
    ephemeral(slack.command("checkin acme green call kickoff went well"))
    clock.set(day(1) + timedelta(hours=2))
    ephemeral(slack.command("archive acme"))
    bot.settle()
    for n in range(2, 8):  # the week it is archived: nothing
        tick(store, settings, day(n))
    clock.set(day(7) + timedelta(hours=3))  # restored on Monday at noon, its 09:00 past
    assert "Next nudge: Tue 8 Dec 09:00 (America/New_York)" in ephemeral(slack.command("restore acme"))
    bot.settle()
    for at in (day(7) + timedelta(hours=3, minutes=1), day(8) - MINUTE, day(8), day(8) + MINUTE):
        tick(store, settings, at)
    assert [r.due_key for r in rows(store) if r.status == "sent"] == ["2026-12-01", "2026-12-08"]
    assert len(nudges(fake_slack)) == 2
    assert dms(fake_slack) == []


def test_a_snooze_clicked_by_mistake_and_lifted_gives_the_days_nudge_its_buttons_back(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, settings: Settings, clock: FakeClock, bot: BotServer
) -> None:
    """Snooze clicked on the 09:00 nudge instead of Log call, then `/partner snooze acme off`: the nudge no longer says
    "Snoozed … until tomorrow" of a snooze that is gone, and has its buttons back to log the call (before, it kept the
    snooze and no buttons all day). Nothing comes back: no second nudge that day; the next day's comes."""
    add(store)
    tick(store, settings, day(1) - MINUTE)
    tick(store, settings, day(1))
    snooze_nudge(slack, fake_slack, clock, day(1) + timedelta(minutes=5), reason="misclick")
    bot.settle()
    snoozed = fake_slack.calls_to("chat.update")[-1].params
    assert [b["type"] for b in snoozed["blocks"]] == ["section", "context"]
    updates = len(fake_slack.calls_to("chat.update"))
    clock.set(day(1) + timedelta(minutes=10))
    assert ephemeral(slack.command("snooze acme off")).startswith(":bell: Snooze lifted for *Acme*.")
    bot.settle()
    (redrawn,) = fake_slack.calls_to("chat.update")[updates:]
    assert redrawn.params["ts"] == nudges(fake_slack)[0]["ts"]
    assert [b["type"] for b in redrawn.params["blocks"]] == ["section", "actions"]
    assert "misclick" not in json.dumps(redrawn.params["blocks"])
    for at in (day(1) + timedelta(minutes=11), day(1) + timedelta(hours=3), day(2) - MINUTE, day(2)):
        tick(store, settings, at)
    assert [(r.due_key, r.status) for r in rows(store)] == [("2026-12-01", "sent"), ("2026-12-02", "sent")]
    assert len(nudges(fake_slack)) == 2


def test_a_level_answered_wrongly_and_again_tells_the_owner_it_was_corrected_not_moved_down(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, clock: FakeClock, bot: BotServer
) -> None:
    """Sam rates Dana's customer *Partner* by a misclick and answers again a minute later: Dana's DM says Sam corrected
    it (before: "moved *Acme Corp* down from *Partner* … Worth a look"). A real move days later is news again."""

    def rate(level: str, n: int) -> str:
        ok(slack.command("survey acme level", user_id="U0002"))
        view = fake_slack.calls_to("views.open")[-1].params["view"]
        assert submit(slack, view, {"level": level}, view_id=f"VLEVEL{n}", user_id="U0002").status == 200
        bot.settle()
        return dms(fake_slack)[-1]

    add_customer(slack, store)  # Dana's
    assert rate("supplier_of_choice", 1).startswith(":arrows_counterclockwise: <@U0002> moved *Acme Corp* to")
    clock.advance(minutes=1)
    assert rate("partner", 2) == (
        ":pencil2: <@U0002> corrected the level they gave *Acme Corp*: *Partner*, not *Supplier of choice*."
    )
    clock.advance(minutes=1)
    assert rate("supplier_of_choice", 3) == (
        ":pencil2: <@U0002> corrected the level they gave *Acme Corp*: *Supplier of choice*, not *Partner* — back "
        "where it was."
    )
    clock.advance(days=2)
    assert rate("supplier", 4).startswith(
        ":small_red_triangle_down: <@U0002> moved *Acme Corp* down from *Supplier of choice* to *Supplier*."
    )


def test_a_check_in_typed_without_its_customer_in_the_customers_channel_is_shown_as_it_should_read(
    slack: SlackRequests, store: Store, bot: BotServer
) -> None:
    """`/partner checkin green call went well` typed in #acme, as if the channel named the customer: the answer's
    example was `/partner checkin call green …` (the note's first word as the customer); it is now the whole check-in
    with Acme's name, ready to copy. Elsewhere the customer is a placeholder; nothing is stored either way."""
    add_acme(slack)
    text = ephemeral(slack.command("checkin green call went well", channel_id="C0ACME", channel_name="acme"))
    assert "the customer comes first, e.g. `/partner checkin Acme Corp green call went well`." in text
    text = ephemeral(slack.command("checkin green call went well"))  # in #general
    assert "e.g. `/partner checkin &lt;customer&gt; green call went well`." in text
    bot.settle()
    assert store.checkins(team_id=TEAM_ID) == []


def test_a_snooze_put_right_with_the_date_meant_shows_on_the_nudge_in_place_of_the_first(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, settings: Settings, clock: FakeClock, bot: BotServer
) -> None:
    """Snooze clicked on the nudge for 1 day by mistake, then `/partner snooze acme until 2026-12-07 customer offsite`:
    the nudge says the snooze that holds (before, it kept "until Wed 2 Dec — misclick"), and the call comes back on
    Monday 7 Dec, once."""
    add(store)
    tick(store, settings, day(1) - MINUTE)
    tick(store, settings, day(1))
    snooze_nudge(slack, fake_slack, clock, day(1) + timedelta(minutes=5), reason="misclick")
    bot.settle()
    updates = len(fake_slack.calls_to("chat.update"))
    clock.set(day(1) + timedelta(minutes=10))
    ephemeral(slack.command("snooze acme until 2026-12-07 customer offsite"))
    bot.settle()
    (redrawn,) = fake_slack.calls_to("chat.update")[updates:]
    said = json.dumps(redrawn.params["blocks"])
    assert "2026-12-07 05:00 UTC" in said and "customer offsite" in said and "misclick" not in said
    ephemeral(slack.command("snooze acme until 2026-12-07 customer offsite"))  # the same again: nothing to redraw
    bot.settle()
    assert len(fake_slack.calls_to("chat.update")) == updates + 1
    for n in range(2, 9):
        tick(store, settings, day(n) - timedelta(hours=1))
        tick(store, settings, day(n))
    assert [r.due_key for r in rows(store) if r.status == "sent"] == ["2026-12-01", "2026-12-07", "2026-12-08"]
