"""One clock for "overdue" on every surface: Home (its row and its Overdue count), the card opened from Home,
`/partner show`, `/partner list`, `/partner digest` and the owner's overdue alert count from the same moment.

A resume, a restore from the archive and a cadence set from off all restart the clock as a call would (README,
*Overdue*); the alert planner counted all three while Home, the list, the card and the digest counted a resume only,
so a customer restored (or given a cadence) after weeks showed "overdue — last call 13 days ago" the next morning
while its owner heard nothing — rightly — for another ten days. Signed requests, the fake Slack, ticks at chosen
instants; a New York customer calling weekly on Tuesday at 09:00 (no public holidays).
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bot.settings import Settings
from handlers.ids import NUDGE_SKIP
from storage.store import Store
from tests.e2e.test_cadence import (  # noqa: F401  (acme_channel, unpaced: the module's autouse fixtures)
    acme_channel,
    add,
    button_message,
    day,
    ephemeral,
    nudges,
    rows,
    tick,
    unpaced,
)
from tests.e2e.test_home_surveys import open_card, open_home, row
from tests.e2e.test_snooze_return import snooze_nudge
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import TEAM_ID, BotServer, FakeClock

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)


def overdue_where(bot: BotServer, slack: SlackRequests, fake_slack: FakeSlack, customer_id: int) -> dict[str, bool]:
    """Whether each surface shows the customer overdue right now (the clock the requests carry)."""
    home = open_home(bot, slack, fake_slack)
    strip = json.dumps(home["blocks"], ensure_ascii=False).replace("\\n", "\n")
    card = json.dumps(open_card(slack, fake_slack, home, customer_id)["blocks"], ensure_ascii=False)
    digest = ephemeral(slack.command("digest"))
    assert "1 overdue" in digest or "0 overdue" in digest, digest
    return {
        "home row": ":rotating_light: *overdue*" in row(home, customer_id),
        "home count": ":hourglass: *Overdue*\n1" in strip,
        "home card": ":rotating_light: *overdue*" in card,
        "show": ":red_circle: *overdue*" in json.dumps(slack.command("show acme").json(), ensure_ascii=False),
        "list": ":red_circle: *overdue*" in json.dumps(slack.command("list").json(), ensure_ascii=False),
        "digest": "1 overdue" in digest,
    }


NOWHERE = dict.fromkeys(("home row", "home count", "home card", "show", "list", "digest"), False)
EVERYWHERE = dict.fromkeys(NOWHERE, True)


@pytest.mark.parametrize(
    ("cadence", "stop", "back", "since"),
    [
        # Archived for the holiday freeze: restored, it owes its first call from then.
        ("weekly tue 09:00", "archive acme", "restore acme", "it was restored"),
        # Added without a cadence (its call of 1 December an introduction): a cadence set from off owes from then.
        ("off", None, "cadence acme weekly tue 09:00", "its cadence was set"),
        # Already right: a resume after a pause.
        ("weekly tue 09:00", "pause acme", "resume acme", "it was resumed"),
    ],
)
def test_a_restarted_clock_makes_the_customer_overdue_everywhere_at_the_moment_its_owner_is_alerted(
    bot: BotServer,
    slack: SlackRequests,
    store: Store,
    settings: Settings,
    fake_slack: FakeSlack,
    clock: FakeClock,
    cadence: str,
    stop: str | None,
    back: str,
    since: str,
) -> None:
    acme = add(store, cadence=cadence)
    assert acme.id is not None
    store.record_checkin(
        team_id=TEAM_ID, customer_id=acme.id, author_id="U0001", mood="green", note="n", kind="call", now=day(1)
    )
    if stop:
        clock.set(day(2))
        ephemeral(slack.command(stop))
    for n in (8, 12):
        tick(store, settings, day(n))
    clock.set(day(14, timedelta(hours=16, minutes=30)))  # Monday 14 December, 11:30 in New York: 13 days since the call
    ephemeral(slack.command(back))
    tick(store, settings, clock.now + MINUTE)
    # The next business days: nobody says overdue, and the owner is not alerted.
    for moment in (day(15, timedelta(hours=16)), day(22, timedelta(hours=16)), day(24, timedelta(hours=21))):
        tick(store, settings, moment - MINUTE)
        clock.set(moment)
        assert overdue_where(bot, slack, fake_slack, acme.id) == NOWHERE, moment
    assert rows(store, "overdue") == []
    # Friday 25 December, 09:00: more than 10 days without a call since the clock restarted — overdue everywhere,
    # as the owner is told, once.
    tick(store, settings, day(25))
    (alert,) = rows(store, "overdue")
    assert (alert.due_key, alert.due_at, alert.status) == ("lapse:2026-12-14", day(25), "sent")
    assert alert.payload["reason"].startswith(f"No call since {since} 11 days ago")
    clock.set(day(25, timedelta(hours=15)))
    assert overdue_where(bot, slack, fake_slack, acme.id) == EVERYWHERE
    listed = json.dumps(slack.command("list").json(), ensure_ascii=False)
    assert f"*overdue* — no call since {since} 11 days ago" in listed, listed
    tick(store, settings, day(28))
    assert len(rows(store, "overdue")) == 1


def test_the_morning_a_snoozed_daily_call_comes_back_is_not_overdue_anywhere_until_its_owner_is_alerted(
    bot: BotServer, slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """Monday's daily call logged, Tuesday's skipped, Wednesday's snoozed until Thursday: the snooze holds the owner's
    alert until Friday morning (Thursday 09:00 the snoozed call comes back, and that morning is not its miss), but
    Home, the card, the list and the digest counted the skipped and snoozed days in the 2-business-day window and said
    'overdue — last call 3 business days ago' on Thursday."""
    acme = add(store)  # daily 09:00
    assert acme.id is not None
    tick(store, settings, day(0))
    store.record_checkin(
        team_id=TEAM_ID, customer_id=acme.id, author_id="U0001", mood="green", note="n", kind="call", now=day(0)
    )
    tick(store, settings, day(1))  # Tuesday's call: skipped
    clock.set(day(1) + 5 * MINUTE)
    message = nudges(fake_slack)[-1]
    value = message["blocks"][1]["elements"][2]["value"]
    assert slack.block_action(NUDGE_SKIP, value=value, channel_id="C0ACME", message=button_message(message)).status
    tick(store, settings, day(2))  # Wednesday's: snoozed until Thursday
    snooze_nudge(slack, fake_slack, clock, day(2) + 5 * MINUTE, until="2026-12-03")
    for instant in (day(3) - MINUTE, day(3), day(3) + MINUTE):
        tick(store, settings, instant)
    clock.set(day(3, timedelta(hours=16)))  # Thursday 11:00: the snoozed call is back, still to log
    assert overdue_where(bot, slack, fake_slack, acme.id) == NOWHERE
    assert rows(store, "overdue") == []
    assert ":large_yellow_circle: *call due*" in json.dumps(slack.command("show acme").json(), ensure_ascii=False)
    tick(store, settings, day(4))  # Friday 09:00: the owner is told, and every surface says so
    (alert,) = rows(store, "overdue")
    assert (alert.due_at, alert.status) == (day(4), "sent")
    clock.set(day(4, timedelta(hours=15)))
    assert overdue_where(bot, slack, fake_slack, acme.id) == EVERYWHERE


def test_a_customer_overdue_before_it_was_snoozed_stays_overdue_everywhere(
    bot: BotServer, slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """The hold-back is for an alert the snooze kept from going out: one already sent stays true on every surface."""
    acme = add(store, cadence="weekly tue 09:00")
    assert acme.id is not None
    store.record_checkin(
        team_id=TEAM_ID, customer_id=acme.id, author_id="U0001", mood="green", note="n", kind="call", now=day(1)
    )
    for n in (8, 12):  # Saturday 12 December: more than 10 days without a call, the owner told on Monday 14th
        tick(store, settings, day(n))
    tick(store, settings, day(14))
    assert len(rows(store, "overdue")) == 1
    clock.set(day(14, timedelta(hours=15)))
    ephemeral(slack.command("snooze acme 2d"))
    clock.set(day(15, timedelta(hours=15)))
    assert overdue_where(bot, slack, fake_slack, acme.id) == EVERYWHERE


def test_a_missed_daily_call_is_overdue_everywhere_the_moment_its_owner_is_told(
    bot: BotServer, slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """Monday's call logged, Tuesday's nudge left unlogged: Wednesday 09:00 the owner's DM says Tuesday's call was
    missed, while Home, the card, the list and the digest said *call due* until Thursday (the daily window's two
    business days). A missed call is a missed call: every surface says overdue from that moment, with the DM's words."""
    acme = add(store)  # daily 09:00, New York
    assert acme.id is not None
    tick(store, settings, day(0))
    store.record_checkin(
        team_id=TEAM_ID, customer_id=acme.id, author_id="U0001", mood="green", note="n", kind="call", now=day(0)
    )
    tick(store, settings, day(1))  # Tuesday's nudge: nobody logs the call
    for moment in (day(1, timedelta(hours=22)), day(2) - MINUTE):  # Tuesday 17:00, Wednesday 08:59
        tick(store, settings, moment)
        clock.set(moment)
        assert overdue_where(bot, slack, fake_slack, acme.id) == NOWHERE, moment
    assert ":large_yellow_circle: *call due*" in json.dumps(slack.command("show acme").json(), ensure_ascii=False)
    tick(store, settings, day(2))  # Wednesday 09:00: the owner is told
    (alert,) = rows(store, "overdue")
    assert (alert.due_at, alert.status, alert.payload["reason"]) == (
        day(2),
        "sent",
        "the daily call on Tue 1 Dec was missed",
    )
    clock.set(day(2) + MINUTE)
    assert overdue_where(bot, slack, fake_slack, acme.id) == EVERYWHERE
    listed = json.dumps(slack.command("list").json(), ensure_ascii=False)
    assert ":red_circle: *overdue* — the daily call on Tue 1 Dec was missed" in listed, listed
    # Wednesday's call logged: nobody says overdue any more.
    store.record_checkin(
        team_id=TEAM_ID, customer_id=acme.id, author_id="U0001", mood="green", note="n", kind="call", now=day(2, HOUR)
    )
    clock.set(day(2, HOUR) + MINUTE)
    assert overdue_where(bot, slack, fake_slack, acme.id) == NOWHERE


def test_a_window_running_out_on_a_weekend_or_a_holiday_is_overdue_everywhere_when_its_owner_is_told(
    bot: BotServer, slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """A weekly customer (at most 10 days) called Monday 14 December: its window runs out on Christmas Day, a Friday
    holiday in the US, and the owner is told Monday 28 December at 09:00 — the surfaces said overdue from Friday."""
    acme = add(store, cadence="weekly tue 09:00", country="US")
    assert acme.id is not None
    store.record_checkin(
        team_id=TEAM_ID, customer_id=acme.id, author_id="U0001", mood="green", note="n", kind="call", now=day(14)
    )
    tick(store, settings, day(14))
    # Friday 25 (Christmas) 11:00, Saturday 26 12:00, Sunday 27 20:00, Monday 28 08:59 New York.
    for moment in (day(25, HOUR * 16), day(26, HOUR * 17), day(28, HOUR), day(28) - MINUTE):
        tick(store, settings, moment)
        clock.set(moment)
        assert overdue_where(bot, slack, fake_slack, acme.id) == NOWHERE, moment
        assert rows(store, "overdue") == []
    tick(store, settings, day(28))
    (alert,) = rows(store, "overdue")
    assert (alert.due_at, alert.status) == (day(28), "sent")
    clock.set(day(28) + MINUTE)
    assert overdue_where(bot, slack, fake_slack, acme.id) == EVERYWHERE


def test_the_overdue_alert_says_last_call_once_and_the_card_counts_a_daily_customers_windows_in_business_days(
    bot: BotServer, slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """The owner's DM read "Acme is overdue: Last call 13 days ago (…). Last call: Tue 1 Dec."; and the card of a
    daily customer said "(ideal 2 d, max 3 d)" where its call due line said "business days"."""
    acme = add(store, cadence="weekly tue 09:00")
    assert acme.id is not None
    store.record_checkin(
        team_id=TEAM_ID, customer_id=acme.id, author_id="U0001", mood="green", note="n", kind="call", now=day(1)
    )
    for n in (8, 14):
        tick(store, settings, day(n))
    (overdue,) = [m for m in fake_slack.messages[fake_slack._dm_by_user["U0001"]] if "overdue" in m["text"]]
    assert overdue["blocks"][0]["text"]["text"] == (
        ":warning: *Acme* is overdue: Last call on Tue 1 Dec, 13 days ago (ideal within 7 days, at most 10 days)."
    )
    clock.set(day(14, HOUR * 6))
    ephemeral(slack.command("edit acme cadence=daily ideal=2 max=3"))
    windows = "daily at 09:00 (ideal 2 business days, max 3 business days)"
    assert windows in json.dumps(slack.command("show acme").json(), ensure_ascii=False)
    ephemeral(slack.command("edit acme cadence=weekly tue ideal=5 max=8"))
    assert "(ideal 5 days, max 8 days)" in json.dumps(slack.command("show acme").json(), ensure_ascii=False)
