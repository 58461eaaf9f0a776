"""Session 20's time findings, end to end: signed requests through the real app, the real jobs ticked at chosen
instants against the fake Slack.

- A customer's time zone corrected after its scheduled survey prompt went out (added as Pacific/Auckland, really in
  Los Angeles) moved the day its survey periods count from, so the same month's relationship-level prompt came to
  the owner a second time the next day.
- `/partner cadence acme every month on the 2nd tuesday at 10am` (or `monthly 1st mon`) was refused, "'tuesday' is
  not a time": the ordinal was read as a day of the month, though `second tuesday` and `2nd-tue` were understood.
- `tz=Etc/GMT+5`, typed for a customer at UTC+5, was taken as the tz database reads it, UTC−05:00: every call ten
  hours off, without a word, where `tz=UTC+5` is refused naming the zones meant.
- A customer on a legacy zone name (`Asia/Calcutta` from an owner's old Slack profile, `US/Eastern`, `Australia/ACT`)
  was never told which `country=` skips its public holidays, as one on the current name is.
- `snooze acme until feb 29` typed in December 2027 (the leap day of 2028) was refused as "'until feb' is not a
  snooze", as was `until feb 30`, the day typed left out of the answer.
- `tz=UTC+11` typed by a Sydney team on daylight saving time (or `+13` for Auckland, `UTC-4` for New York in
  summer) was answered "use the zone of the customer's city": only zones on standard time at the offset were named.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.app import make_client
from bot.settings import Settings
from schedules.jobs import run_tick
from storage.store import Store
from tests.e2e.test_cadence import (  # noqa: F401  (acme_channel, unpaced: the module's autouse fixtures)
    MINUTE,
    acme_channel,
    add,
    ephemeral,
    nudges,
    rows,
    tick,
    unpaced,
)
from tests.e2e.test_qa19_cadence import ny
from tests.e2e.test_surveys import add_customer, ok, prompt_dms
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import TEAM_ID, FakeClock


def test_a_survey_prompt_comes_once_a_period_when_the_customers_time_zone_is_corrected_after_it(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, clock: FakeClock, settings: Settings
) -> None:
    """Added Wednesday 25 Nov 2026 15:00 UTC as Auckland (already Thursday 26 there); the monthly level prompt
    comes on its day 30. The owner then sets the customer's real zone, Los Angeles (where it was added on the 25th):
    the period is the same month, asked already, so nothing more comes until the next one."""
    added = clock.now
    add_customer(slack, store, "Acme Corp <@U0001|dana> tz=Pacific/Auckland")
    client = make_client(settings)
    for days in (30, 31, 32, 33):
        run_tick(store=store, client=client, now=added + timedelta(days=days), settings=settings)
    assert len(prompt_dms(fake_slack)) == 1, prompt_dms(fake_slack)
    clock.set(added + timedelta(days=33))
    ok(slack.command("edit acme tz=America/Los_Angeles"))
    for days in (33.1, 34, 35, 40, 50):
        run_tick(store=store, client=client, now=added + timedelta(days=days), settings=settings)
    assert len(prompt_dms(fake_slack)) == 1, prompt_dms(fake_slack)


def test_a_monthly_cadence_on_the_2nd_tuesday_as_people_type_it_is_understood_and_nudged_then(
    slack: SlackRequests, store: Store, clock: FakeClock, settings: Settings, fake_slack: FakeSlack
) -> None:
    """`every month on the 2nd tuesday at 10am` was refused ("'tuesday' is not a time") though `second tuesday` and
    `2nd-tue` are read: the 2nd was taken for a day of the month. It is the second Tuesday: Tue 8 Dec 2026, 10:00."""
    add(store, cadence="weekly mon 09:00")
    clock.set(ny(1, 10))  # Tuesday 1 December, 10:00 New York
    answer = ephemeral(slack.command("cadence acme every month on the 2nd tuesday at 10am"))
    assert "Next nudge: Tue 8 Dec 10:00 (America/New_York)" in answer, answer
    for instant in (ny(8, 10) - MINUTE, ny(8, 10), ny(8, 10) + MINUTE):
        tick(store, settings, instant)
    assert len(nudges(fake_slack)) == 1
    assert [r.due_key for r in rows(store) if r.status == "sent"] == ["2026-12-08"]
    # A day of the month with a time after it stays the day: the 2nd at 10:00.
    answer = ephemeral(slack.command("cadence acme monthly 2nd 10am"))
    assert "Next nudge: Wed 2 Dec 10:00 (America/New_York)" in answer, answer


def test_an_etc_gmt_zone_is_refused_as_an_offset_saying_its_sign_is_reversed(
    slack: SlackRequests, store: Store
) -> None:
    """`tz=Etc/GMT+5` typed for a customer in Karachi (UTC+5) was taken, and it is UTC−05:00 (the tz database's
    Etc zones reverse the sign): every call ten hours off, and never a word. It is an offset, refused as `UTC+5` is,
    naming the zones for both readings; nothing is added, and `edit` refuses it too."""
    text = ephemeral(slack.command("add Globex <#C0ACME> tz=Etc/GMT+5"))
    assert "'Etc/GMT+5' is a fixed UTC−05:00 (the tz database reverses the sign of its Etc zones)" in text, text
    assert "tz=America/New_York" in text and "for UTC+05:00, tz=Asia/Karachi" in text, text
    assert store.customer_by_name(team_id=TEAM_ID, name="globex") is None
    assert "Added *Globex*" in ephemeral(slack.command("add Globex <#C0ACME> tz=Asia/Karachi"))
    text = ephemeral(slack.command("edit globex tz=etc/gmt-9"))
    assert "'Etc/GMT-9' is a fixed UTC+09:00" in text and "tz=Asia/Tokyo" in text, text
    globex = store.customer_by_name(team_id=TEAM_ID, name="globex")
    assert globex is not None and globex.tz == "Asia/Karachi"


def test_a_legacy_zone_name_from_an_owners_slack_profile_is_told_its_countrys_holidays_as_its_current_name_is(
    slack: SlackRequests, store: Store, fake_slack: FakeSlack
) -> None:
    """Slack profiles set up years ago still carry `Asia/Calcutta`, and people type `US/Eastern` or `Australia/ACT`:
    the same clocks as Asia/Kolkata, America/New_York and Australia/Sydney, so calls went at the right time, but the
    answer to `add` never said to set the country, as it does for the current names — Diwali and Republic Day, or
    Thanksgiving, nudged like any day without a word."""
    fake_slack.add_user("U0003", name="lee", tz="Asia/Calcutta")
    text = ephemeral(slack.command("add Globex <#C0ACME> <@U0003>"))  # the owner's Slack zone, as Slack gives it
    assert "time zone Asia/Calcutta" in text, text
    assert "`/partner edit Globex country=IN` skips those of IN." in text, text
    text = ephemeral(slack.command("add Initech tz=US/Eastern"))
    assert "`/partner edit Initech country=US` skips those of US." in text, text
    text = ephemeral(slack.command("add Canberra Co tz=Australia/ACT"))
    assert "`/partner edit Canberra Co country=AU-NSW` skips those of AU-NSW." in text, text


def test_a_snooze_until_the_next_leap_day_is_taken_and_a_day_no_month_has_is_named(
    slack: SlackRequests, store: Store, clock: FakeClock
) -> None:
    """In December 2027 `snooze acme until feb 29` (the leap day 2028 has) was refused as "'until feb' is not a
    snooze", the day dropped from the answer; `until feb 30` too. The first is Tue 29 Feb 2028; the second is named."""
    add(store)
    clock.set(datetime(2027, 12, 15, 15, 0, tzinfo=UTC))  # Wednesday 10:00 New York
    answer = ephemeral(slack.command("snooze acme until feb 29 back from parental leave"))
    assert "No nudges about *Acme* until Tue 29 Feb 00:00 (America/New_York)" in answer, answer
    assert "(back from parental leave)" in answer, answer
    answer = ephemeral(slack.command("snooze acme until feb 30 offsite"))
    assert "'feb 30' is not a snooze: there is no 30 February." in answer and "You typed" in answer, answer
    clock.set(datetime(2027, 2, 25, 15, 0, tzinfo=UTC))  # 2027 has no 29 February, and 2028's is a year away
    answer = ephemeral(slack.command("snooze acme until feb 29"))
    assert "there is no 29 February in the coming year." in answer, answer


def test_a_utc_offset_a_team_reads_off_its_clocks_on_summer_time_names_its_zone(
    slack: SlackRequests, store: Store
) -> None:
    """A Sydney team in November types `tz=UTC+11`, what its clocks show on daylight saving time; Auckland's `+13`;
    New York's in July `UTC-4`. The refusal named only zones whose standard time is at that offset, so these were
    told "the zone of the customer's city" (or Halifax and Santiago for New York): it names theirs too."""
    text = ephemeral(slack.command("add Harbour Co tz=UTC+11"))
    assert "'UTC+11' is an offset (UTC+11:00)" in text and "tz=Australia/Sydney" in text, text
    assert "tz=Pacific/Auckland" in ephemeral(slack.command("add Harbour Co tz=+13"))
    text = ephemeral(slack.command("add Harbour Co tz=UTC-4"))
    assert "tz=America/Halifax" in text and "tz=America/New_York" in text, text
    assert store.customer_by_name(team_id=TEAM_ID, name="harbour co") is None
