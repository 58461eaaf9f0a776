"""Days as customers around the world live them: the nudge follows the customer's local time across daylight-saving
switches (a time the clocks skip goes at the first minute after the jump, a time they repeat goes once) and skips
weekends and the public holidays of the customer's country — driven by the same tick the scheduler runs, against the
fake Slack. New York across the end of daylight saving time and Thanksgiving 2026; spring 2027, where the world's
switches cluster around Easter."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest

from bot.settings import Settings
from handlers.ids import EDIT_CUSTOMER_MODAL, NUDGE_SNOOZE, NUDGE_SNOOZE_FOR, NUDGE_SNOOZE_MODAL, NUDGE_SNOOZE_UNTIL
from schedules.digest import DigestTime, digest_slot
from storage.store import Store
from tests.e2e.test_boundaries import channel_posts
from tests.e2e.test_cadence import acme_channel, button_message, nudges, tick, unpaced  # noqa: F401 (autouse fixtures)
from tests.e2e.test_customers import untouched_state
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import TEAM_ID, BotServer, FakeClock


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


NEW_YORK = {"tz": "America/New_York", "country": "US", "cadence": "daily 09:00"}
EVERY_DAY = {"working_week": "mon-sun"}  # the switches are all at weekends: a customer who works them meets them


@pytest.mark.parametrize(
    ("label", "customer", "schedule"),
    [
        (
            "US daylight saving time ends on Sunday 1 November 2026",
            NEW_YORK,
            [
                ("2026-10-30T12:59", 0),  # Friday 08:59 EDT
                ("2026-10-30T13:00", 1),  # Friday 09:00 EDT
                ("2026-10-31T13:00", 1),  # Saturday: no call
                ("2026-11-01T14:00", 1),  # Sunday: no call
                ("2026-11-02T13:00", 1),  # Monday 08:00 EST: the old offset's 09:00 is too early
                ("2026-11-02T14:00", 2),  # Monday 09:00 EST
                ("2026-11-02T14:30", 2),  # once
                ("2026-11-03T14:00", 3),  # Tuesday 09:00 EST
            ],
        ),
        (
            "Thanksgiving, Thursday 26 November 2026",
            NEW_YORK,
            [
                ("2026-11-25T14:00", 1),  # Wednesday 09:00 EST
                ("2026-11-26T14:00", 1),  # Thanksgiving: a public holiday in the US
                ("2026-11-26T20:00", 1),
                ("2026-11-27T14:00", 2),  # Friday 09:00 EST
            ],
        ),
        (
            "US daylight saving time starts on Sunday 14 March 2027: 02:30 does not exist in New York",
            {**NEW_YORK, **EVERY_DAY, "cadence": "daily 02:30"},
            [
                ("2027-03-13T07:30", 1),  # Saturday 02:30 EST
                ("2027-03-14T06:59", 1),  # Sunday 01:59 EST
                ("2027-03-14T07:00", 2),  # 03:00 EDT, the first minute after the jump
                ("2027-03-14T07:30", 2),  # 03:30 EDT: once
                ("2027-03-15T06:30", 3),  # Monday 02:30 EDT
            ],
        ),
        (
            "EU summer time starts on Sunday 28 March 2027: 02:30 does not exist in Berlin; Easter Monday",
            {"tz": "Europe/Berlin", "country": "DE", "cadence": "daily 02:30", **EVERY_DAY},
            [
                ("2027-03-25T01:30", 1),  # Thursday 02:30 CET
                ("2027-03-26T01:30", 1),  # Good Friday
                ("2027-03-27T01:30", 2),  # Saturday 02:30 CET
                ("2027-03-28T00:59", 2),  # Sunday 01:59 CET
                ("2027-03-28T01:00", 3),  # 03:00 CEST, the first minute after the jump
                ("2027-03-28T01:30", 3),  # 03:30 CEST: once
                ("2027-03-29T00:30", 3),  # Easter Monday
                ("2027-03-30T00:30", 4),  # Tuesday 02:30 CEST
            ],
        ),
        (
            "New Zealand daylight saving time ends on Sunday 4 April 2027: 02:30 happens twice in Auckland",
            {"tz": "Pacific/Auckland", "country": "NZ", "cadence": "daily 02:30", **EVERY_DAY},
            [
                ("2027-04-02T13:30", 1),  # Saturday 02:30 NZDT
                ("2027-04-03T13:29", 1),
                ("2027-04-03T13:30", 2),  # Sunday 02:30 NZDT, the first of two
                ("2027-04-03T14:30", 2),  # 02:30 NZST, the second: nothing
                ("2027-04-04T14:30", 3),  # Monday 02:30 NZST
            ],
        ),
        (
            "Chile's winter time starts at midnight on Saturday 3 April 2027: 23:30 happens twice in Santiago",
            {"tz": "America/Santiago", "country": "CL", "cadence": "daily 23:30", **EVERY_DAY},
            [
                ("2027-03-27T02:30", 0),  # Good Friday 23:30 −03
                ("2027-03-28T02:30", 0),  # Holy Saturday
                ("2027-04-03T02:30", 1),  # Friday 2 April 23:30 −03
                ("2027-04-04T02:30", 2),  # Saturday 3 April 23:30 −03, the first of two
                ("2027-04-04T03:30", 2),  # 23:30 −04, the second: nothing
                ("2027-04-05T03:30", 3),  # Sunday 4 April 23:30 −04
            ],
        ),
        (
            "Easter Monday 29 March 2027 in Sydney moves a Monday call to Tuesday; 09:00 after the 4 April switch",
            {"tz": "Australia/Sydney", "country": "AU", "cadence": "weekly mon 09:00"},
            [
                ("2027-03-28T22:00", 0),  # Easter Monday 09:00 AEDT
                ("2027-03-29T22:00", 1),  # Tuesday 09:00 AEDT
                ("2027-04-04T22:00", 1),  # Monday 5 April 08:00 AEST: not yet
                ("2027-04-04T23:00", 2),  # Monday 5 April 09:00 AEST
            ],
        ),
        (
            "Every other Friday in England: Good Friday and Easter Monday move it to Tuesday 30 March 2027, in BST",
            {"tz": "Europe/London", "country": "GB", "subdiv": "ENG", "cadence": "biweekly fri 09:00 from 2027-03-12"},
            [
                ("2027-03-12T09:00", 1),  # Friday 12 March 09:00 GMT
                ("2027-03-19T09:00", 1),  # the off week
                ("2027-03-26T09:00", 1),  # Good Friday
                ("2027-03-29T08:00", 1),  # Easter Monday
                ("2027-03-30T08:00", 2),  # Tuesday 09:00 BST
                ("2027-04-09T08:00", 3),  # Friday 9 April 09:00 BST
            ],
        ),
        (
            "Half an hour past midnight in Kolkata (+05:30) is the evening before in UTC; Good Friday",
            {"tz": "Asia/Kolkata", "country": "IN", "cadence": "daily 00:30"},
            [
                ("2027-03-24T18:59", 0),
                ("2027-03-24T19:00", 1),  # Thursday 25 March 00:30 IST
                ("2027-03-25T19:00", 1),  # Good Friday
                ("2027-03-28T19:00", 2),  # Monday 29 March 00:30 IST (Easter Monday is not a holiday in India)
            ],
        ),
        (
            "Kiritimati (+14) starts Tuesday 30 March 2027 on Monday in UTC; Easter Monday is a holiday there",
            {"tz": "Pacific/Kiritimati", "country": "KI", "cadence": "daily 09:00"},
            [
                ("2027-03-28T19:00", 0),  # Easter Monday 09:00 LINT
                ("2027-03-29T19:00", 1),  # Tuesday 09:00 LINT, still Monday in UTC
            ],
        ),
        (
            "Independence Day 2026 is a Saturday: observed on Friday 3 July, a Friday call moves to Monday",
            {**NEW_YORK, "cadence": "weekly fri 09:00"},
            [
                ("2026-06-26T13:00", 1),  # Friday 26 June 09:00 EDT
                ("2026-07-03T13:00", 1),  # Friday 3 July: the observed holiday
                ("2026-07-06T12:59", 1),
                ("2026-07-06T13:00", 2),  # Monday 6 July 09:00 EDT
                ("2026-07-10T13:00", 3),  # Friday 10 July, as usual
            ],
        ),
        (
            "Labor Day is the first Monday of September 2026: a first-Monday call moves to Tuesday 8 September",
            {**NEW_YORK, "cadence": "monthly first-mon 10:00"},
            [
                ("2026-08-03T14:00", 1),  # Monday 3 August 10:00 EDT
                ("2026-09-07T14:00", 1),  # Labor Day
                ("2026-09-08T14:00", 2),  # Tuesday 8 September 10:00 EDT
            ],
        ),
        (
            "England's Christmas 2026: Boxing Day is a Saturday, its bank holiday Monday 28 December; New Year's Day",
            {"tz": "Europe/London", "country": "GB", "subdiv": "ENG", "cadence": "weekly mon 09:00"},
            [
                ("2026-12-21T09:00", 1),  # Monday 21 December 09:00 GMT
                ("2026-12-28T09:00", 1),  # the substitute bank holiday
                ("2026-12-29T08:59", 1),
                ("2026-12-29T09:00", 2),  # Tuesday 29 December
                ("2027-01-04T09:00", 3),  # Monday 4 January 2027
            ],
        ),
        (
            "Passover in Israel: a Sun–Thu week, no call on Thursday 22 April 2027, the next on Sunday",
            {"tz": "Asia/Jerusalem", "country": "IL", "cadence": "daily 09:00", "working_week": "sun-thu"},
            [
                ("2027-04-21T06:00", 1),  # Wednesday 09:00 IDT
                ("2027-04-22T06:00", 1),  # Pesach
                ("2027-04-23T06:00", 1),  # Friday: not a working day
                ("2027-04-25T06:00", 2),  # Sunday 09:00 IDT
            ],
        ),
    ],
)
def test_nudges_follow_the_customers_clock_and_calendar(
    store: Store,
    settings: Settings,
    fake_slack: FakeSlack,
    label: str,
    customer: dict[str, Any],
    schedule: list[tuple[str, int]],
) -> None:
    first = at(schedule[0][0])
    store.add_customer(
        team_id=TEAM_ID,
        name="Acme",
        created_by="U0001",
        now=first.replace(hour=0, minute=0),  # added that morning, before its first call
        channel_id="C0ACME",
        owner_id="U0001",
        **customer,
    )
    for instant, expected in schedule:
        tick(store, settings, at(instant))
        assert len(nudges(fake_slack)) == expected, f"{label}: {instant}Z"


def test_the_weekly_digest_at_a_time_the_clocks_skip_goes_at_the_first_minute_after_the_jump() -> None:
    sunday_0230 = DigestTime(weekday=6, at=time(2, 30))  # Berlin: 28 March 2027 goes from 02:00 CET to 03:00 CEST
    assert digest_slot(sunday_0230, "Europe/Berlin", at("2027-03-28T12:00")) == ("2027-W12", at("2027-03-28T01:00"))
    assert digest_slot(sunday_0230, "Europe/Berlin", at("2027-04-04T12:00")) == ("2027-W13", at("2027-04-04T00:30"))


def test_a_call_window_is_judged_on_the_customers_clock_across_the_switch(
    slack: SlackRequests, bot: BotServer, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """A working agreement "calls happen 9-10am our time" in Berlin: 08:30 UTC is inside before the EU switch, outside
    after it; the weekly reminder goes on the week's first business day, Tuesday after Easter Monday, 09:00 CEST."""
    fake_slack.add_channel("C0BERG", name="bergwerk", members=["U0001"])
    clock.set(at("2027-03-22T10:00"))  # Monday
    for text in (
        "add Bergwerk <#C0BERG|bergwerk> <@U0001|dana> tz=Europe/Berlin country=DE cadence=off",
        'boundary bergwerk add "Calls happen 9-10am our time" kind=contact_window value=9-10am',
        "boundary bergwerk activate 1",
    ):
        assert slack.command(text).status == 200
        bot.settle()

    def call_at(instant: str) -> list[str]:
        clock.set(at(instant))
        assert (
            "call check-in" in slack.command("checkin bergwerk green call weekly sync", user_id="U0002").json()["text"]
        )
        bot.settle()
        tick(store, settings, clock.now)
        return [p["text"] for p in channel_posts(fake_slack, "U0002") if "outside the agreed" in p["text"]]

    def reminders(instant: str) -> int:
        tick(store, settings, at(instant))
        return len([p for p in channel_posts(fake_slack, "C0BERG") if "Calls happen" in (p.get("text") or "")])

    assert call_at("2027-03-25T08:30") == []  # Thursday 09:30 CET
    before = reminders("2027-03-29T07:00")  # Easter Monday 09:00 CEST: a holiday
    assert reminders("2027-03-30T06:59") == before  # Tuesday 08:59 CEST
    assert reminders("2027-03-30T07:00") == before + 1  # Tuesday 09:00 CEST, the week's first business day
    assert call_at("2027-03-31T07:30") == []  # Wednesday 09:30 CEST
    (question,) = call_at("2027-03-31T08:30")  # Wednesday 10:30 CEST
    assert "10:30 their time" in question
    assert reminders("2027-04-05T07:00") == before + 2  # Monday 09:00 CEST


@pytest.mark.parametrize(
    ("tz", "told", "holiday", "next_day"),
    [
        # New South Wales's Boxing Day (observed) — Australia's own list has no Monday 28 December 2026.
        ("Australia/Sydney", "AU-NSW", "2026-12-27T22:00", "2026-12-28T22:00"),
        # England's Easter Monday, 29 March 2027 — the UK's own list leaves it out (not a holiday in Scotland).
        ("Europe/London", "GB-ENG", "2027-03-29T08:00", "2027-03-30T08:00"),
    ],
)
def test_the_country_add_names_for_a_time_zone_skips_the_holidays_of_the_region_the_zone_is_named_for(
    slack: SlackRequests,
    bot: BotServer,
    store: Store,
    settings: Settings,
    fake_slack: FakeSlack,
    clock: FakeClock,
    tz: str,
    told: str,
    holiday: str,
    next_day: str,
) -> None:
    """A customer added without country= is told the code that skips its public holidays: following it, a weekly
    Monday call moves off the region's Monday holiday to Tuesday, at 09:00 on the customer's clock."""
    clock.set(at(holiday) - timedelta(days=10))
    answer = slack.command(f"add Roo <#C0ACME|acme> <@U0001|dana> tz={tz} cadence=weekly mon 09:00").json()["text"]
    assert f"`/partner edit Roo country={told}`" in answer, answer
    _, region = told.split("-")
    assert f"region: none → `{region}`" in slack.command(f"edit Roo country={told}").json()["text"]
    bot.settle()
    tick(store, settings, at(holiday) - timedelta(days=7))  # the Monday before: its call
    before = len(nudges(fake_slack))
    tick(store, settings, at(holiday))
    assert len(nudges(fake_slack)) == before, "nudged on a public holiday of the customer's region"
    tick(store, settings, at(next_day))
    assert len(nudges(fake_slack)) == before + 1


def test_a_call_a_holiday_or_a_weekend_moved_says_from_which_day_and_why(
    slack: SlackRequests, bot: BotServer, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """A weekly Monday call in Sydney comes on Tuesday 29 December 2026: New South Wales's Boxing Day (observed) was
    Monday. Its owner, maybe in another country, is told why on the nudge, in `/partner upcoming` and the cadence's
    answer and on its card; a monthly call on the 28th, a Sunday that February, says so too. A call on its own day
    says nothing."""
    clock.set(at("2026-12-22T00:00"))
    for text in (
        "add Roo <#C0ACME|acme> <@U0001|dana> tz=Australia/Sydney country=AU-NSW cadence=weekly mon 09:00",
        "add Pampa <@U0001|dana> tz=America/Sao_Paulo country=BR cadence=monthly 28 09:00",
    ):
        assert "Added" in slack.command(text).json()["text"]
    bot.settle()
    why = "moved from Mon 28 Dec, a public holiday there (Boxing Day (observed))"
    upcoming = slack.command("upcoming").json()["text"]
    assert "Tue 29 Dec 09:00 Australia/Sydney — *Roo* (<!date^1798495200^" in upcoming
    assert f"<#C0ACME>, {why}" in upcoming
    assert f"your time, {why}." in slack.command("cadence roo").json()["text"]
    card = json.dumps(slack.command("show roo").json()["blocks"], ensure_ascii=False)
    assert f"next nudge Tue 29 Dec 09:00 AEDT\\n_{why}_" in card, card
    tick(store, settings, at("2026-12-28T22:00"))  # Tuesday 09:00 AEDT
    (nudge,) = nudges(fake_slack)
    assert (
        f"Time for the weekly call with *Roo* — Tue 29 Dec 09:00 (Australia/Sydney).\n:calendar: M{why[1:]}."
        in (nudge["blocks"][0]["text"]["text"])
    )
    tick(store, settings, at("2027-01-03T22:00"))  # Monday 4 January: its own day
    assert "Moved" not in nudges(fake_slack)[-1]["blocks"][0]["text"]["text"]
    clock.set(at("2027-02-10T00:00"))
    assert "*Pampa* (" in (upcoming := slack.command("upcoming").json()["text"])
    assert "Mon 1 Mar 09:00 America/Sao_Paulo" in upcoming
    assert "moved from Sun 28 Feb, not a working day there" in upcoming


def test_a_zone_without_an_abbreviation_is_shown_by_its_offset_from_utc_in_the_list_and_on_home(
    slack: SlackRequests, bot: BotServer, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """São Paulo and Dubai have no abbreviation in the tz database ("-03", "+04"): the next nudge reads "09:00 UTC−03",
    never "09:00 -03" (a subtraction after a time), on `/partner list` and App Home; a named zone keeps its name."""
    clock.set(at("2026-12-21T00:00"))
    for text in (
        "add Pampa <@U0001|dana> tz=America/Sao_Paulo country=BR cadence=weekly tue 09:00",
        "add Dunes <@U0001|dana> tz=Asia/Dubai cadence=weekly tue 09:00",
        "add Chai <@U0001|dana> tz=Asia/Kolkata cadence=weekly tue 09:00",
    ):
        assert "Added" in slack.command(text).json()["text"]
    bot.settle()
    listed = json.dumps(slack.command("list").json()["blocks"], ensure_ascii=False)
    slack.event({"type": "app_home_opened", "user": "U0001", "channel": "D0001", "tab": "home"})
    home = json.dumps(fake_slack.published_home["U0001"], ensure_ascii=False)
    for shown in (listed, home):
        assert "Tue 22 Dec 09:00 UTC−03" in shown and "Tue 22 Dec 09:00 UTC+04" in shown, shown
        assert "Tue 22 Dec 09:00 IST" in shown and " -03" not in shown and " +04" not in shown


def test_a_country_set_without_the_region_its_time_zone_is_named_for_is_told_what_it_leaves_out(
    slack: SlackRequests, bot: BotServer, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """`country=AU` for a Sydney customer skips Australia's holidays only: its Monday call would come on New South
    Wales's Boxing Day (observed). The answer to add and to edit says so, with the code that skips them too; with the
    region, or a zone of no one region, nothing is said."""
    clock.set(at("2026-12-13T00:00"))
    told = "Only the holidays all of AU keeps are skipped, not those of its regions alone: "
    told += "`/partner edit Roo country=AU-NSW` skips AU-NSW's too, where Australia/Sydney is."
    answer = slack.command("add Roo <#C0ACME|acme> <@U0001|dana> tz=Australia/Sydney country=AU cadence=weekly mon")
    assert told in answer.json()["text"]
    assert told not in slack.command("edit roo country=AU-NSW").json()["text"]
    assert told in slack.command("edit roo country=AU").json()["text"]
    assert "regions alone" not in slack.command("add Tokyo tz=Asia/Tokyo country=JP").json()["text"]
    assert (
        "`/partner edit Tokyo country=AU-VIC`"
        in slack.command("edit tokyo tz=Australia/Melbourne country=AU").json()["text"]
    )
    bot.settle()
    tick(store, settings, at("2026-12-27T22:00"))  # Monday 28 December 09:00 AEDT: nudged, as AU alone says
    assert len(nudges(fake_slack)) == 1


def test_the_snooze_form_counts_days_on_the_customers_clock_and_says_so_to_an_owner_a_day_behind(
    slack: SlackRequests, bot: BotServer, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """Friday evening in Los Angeles is Saturday in Tokyo. Kenji, in Los Angeles, snoozes his Tokyo customer from
    Friday's nudge "until" Saturday 19 December — his tomorrow, Tokyo's today: the form says the day is on Tokyo's clock
    and refuses that one naming it, nothing saved; Monday 21 December is taken, and the call comes back at 10:00 JST."""
    fake_slack.add_user("U0010", name="kenji", tz="America/Los_Angeles")
    clock.set(at("2026-12-17T00:00"))
    slack.command("add Tokyo <#C0ACME|acme> <@U0010|kenji> tz=Asia/Tokyo country=JP cadence=daily 10:00")
    bot.settle()
    tick(store, settings, at("2026-12-18T01:00"))  # Friday 10:00 in Tokyo, Thursday 17:00 in Los Angeles
    (message,) = nudges(fake_slack)
    clock.set(at("2026-12-19T02:00"))  # Friday 18:00 in Los Angeles, Saturday 11:00 in Tokyo
    value = message["blocks"][1]["elements"][1]["value"]
    slack.block_action(NUDGE_SNOOZE, value=value, user_id="U0010", channel_id="C0ACME", message=button_message(message))
    (opened,) = fake_slack.calls_to("views.open")
    view = opened.params["view"]
    until = next(b for b in view["blocks"] if b.get("block_id") == "until")
    assert until["label"]["text"] == "Until (nudges resume that morning, Asia/Tokyo time)"
    assert until["element"]["initial_date"] == "2026-12-20"  # tomorrow in Tokyo

    def submit(day: str) -> Any:
        values = {
            "for": {NUDGE_SNOOZE_FOR: {"type": "radio_buttons", "selected_option": {"value": "until"}}},
            "until": {NUDGE_SNOOZE_UNTIL: {"type": "datepicker", "selected_date": day}},
        }
        return slack.view_submission(
            NUDGE_SNOOZE_MODAL, values, private_metadata=view["private_metadata"], user_id="U0010"
        )

    refused = submit("2026-12-19").json()["errors"]["until"]
    assert refused == "Pick a day after today in Asia/Tokyo (Sat 19 Dec).", refused
    assert store.customer_by_name(team_id=TEAM_ID, name="Tokyo").snoozed_until is None
    assert submit("2026-12-21").status == 200
    bot.settle()
    tick(store, settings, at("2026-12-21T00:59"))
    assert len(nudges(fake_slack)) == 1
    tick(store, settings, at("2026-12-21T01:00"))  # Monday 10:00 JST: the call snoozed on Friday comes back
    assert "This is the call snoozed on Fri 18 Dec" in nudges(fake_slack)[-1]["blocks"][0]["text"]["text"]


def test_the_card_names_the_next_public_holiday_that_moves_a_call(
    slack: SlackRequests, bot: BotServer, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """Which holidays a customer skips, on its card: the next one on a working day, on the customer's clock — after
    Christmas in Sydney, Boxing Day's Saturday is passed over for its Monday — and nothing said without a country."""
    clock.set(at("2026-12-13T00:00"))
    slack.command("add Roo tz=Australia/Sydney country=AU-NSW cadence=weekly mon 09:00")
    slack.command("add Tokyo tz=Asia/Tokyo cadence=daily 10:00")
    bot.settle()

    def calendar_field(name: str) -> str:
        card = json.dumps(slack.command(f"show {name}").json()["blocks"], ensure_ascii=False)
        return card.split("*Time zone*\\n")[1].split('"')[0]

    assert (
        calendar_field("roo") == "Australia/Sydney · holidays AU-NSW (next: Fri 25 Dec, Christmas Day) · week mon-fri"
    )
    clock.set(at("2026-12-25T14:00"))  # Saturday 26 December 01:00 in Sydney
    assert "holidays AU-NSW (next: Mon 28 Dec, Boxing Day (observed))" in calendar_field("roo")
    assert calendar_field("tokyo") == "Asia/Tokyo · week mon-fri"


def test_holidays_of_one_country_on_the_clock_of_another_are_pointed_out_with_the_zone_to_set(
    slack: SlackRequests, bot: BotServer, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """Kenji, in Los Angeles, adds his Tokyo customer with country=JP and no tz=: it takes his Slack time zone (#3), so
    its 10:00 calls would come at 10:00 in Los Angeles. The answer says so with the zone to set — Japan has one — and
    following it the call comes at 10:00 in Tokyo; a country of several zones is asked for its city's."""
    fake_slack.add_user("U0010", name="kenji", tz="America/Los_Angeles")
    clock.set(at("2026-12-13T00:00"))
    answer = slack.command("add Tokyo <#C0ACME|acme> <@U0010|kenji> country=JP cadence=daily 10:00", user_id="U0010")
    assert "time zone America/Los_Angeles, holidays of JP" in answer.json()["text"]
    told = (
        "Its holidays are JP's but its time zone, America/Los_Angeles, is not in JP: its calls are nudged at "
        "America/Los_Angeles time. `/partner edit Tokyo tz=Asia/Tokyo` puts them on the customer's clock."
    )
    assert told in answer.json()["text"]
    edited = slack.command("edit Tokyo tz=Asia/Tokyo", user_id="U0010").json()["text"]
    assert "time zone: `America/Los_Angeles` → `Asia/Tokyo`" in edited and "is not in" not in edited
    bot.settle()
    tick(store, settings, at("2026-12-14T00:59"))
    tick(store, settings, at("2026-12-14T01:00"))  # Monday 10:00 in Tokyo
    assert len(nudges(fake_slack)) == 1
    several = slack.command("add Roo <@U0010|kenji> country=AU-NSW", user_id="U0010").json()["text"]
    assert "`/partner edit Roo tz=Area/City` puts them on the customer's clock (the zone of its city" in several
    assert "is not in" not in slack.command("add Globex <@U0010|kenji> country=US", user_id="U0010").json()["text"]


def test_the_edit_form_says_what_a_country_set_alone_leaves_out_as_the_command_does(
    slack: SlackRequests, bot: BotServer, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """`country=AU` typed in the edit form for a Sydney customer: its confirmation names AU-NSW, as the command's."""
    clock.set(at("2026-12-13T00:00"))
    slack.command("add Roo tz=Australia/Sydney cadence=weekly mon 09:00")
    slack.command("edit roo")
    view = fake_slack.calls_to("views.open")[-1].params["view"]
    state = untouched_state(view, country="AU")
    assert slack.view_submission(EDIT_CUSTOMER_MODAL, state, private_metadata=view["private_metadata"]).status == 200
    bot.settle()
    told = [c.params["text"] for c in fake_slack.calls_to("chat.postEphemeral") if "country" in c.params["text"]]
    assert told and "`/partner edit Roo country=AU-NSW` skips AU-NSW's too" in told[-1], told
