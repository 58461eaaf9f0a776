"""Easter 2027 and the daylight-saving switches around it, as customers around the world live them, then the month
soak's invariants over everything Slack received (tests/e2e/test_month_soak.py: its oracle, driver and checks).

24 March – 6 April 2027: Israel springs forward on Friday 26 March (outside its Sun–Thu week), the EU on Sunday
28 March (Berlin's 02:00 does not exist: a customer that works Sundays is nudged at 03:00), Chile falls back at
midnight on Saturday 3 April (Santiago's 23:00 happens twice), Sydney and Auckland on Sunday 4 April (02:00 twice);
Good Friday and Easter Monday are holidays in DE, England, AU, NZ and Kiribati, Good Friday and Holy Saturday in Chile,
neither in the US; a half-hour zone (Kolkata, nudged at 00:30: the evening before in UTC) and +14 (Kiritimati).
Daily, weekly, every-other-week and monthly (last Monday: Easter Monday) cadences; calls logged, skipped or missed;
a snooze across New Zealand's switch; the weekly digest at 02:00 Berlin time on Sundays.

The jobs tick every simulated hour (every call time here falls on a whole UTC hour, so each is seen at its minute):
the exact minutes at the switches, to the half hour, are pinned tick by tick in tests/e2e/test_dst_and_holidays.py.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from bot.settings import Settings
from storage.store import Store
from tests.e2e.test_cadence import unpaced  # noqa: F401 (autouse fixture)
from tests.e2e.test_month_soak import (
    Account,
    Month,
    add_accounts,
    check_invariants,
    live,
    log_call_from,
    skip_from,
    snooze_from,
)
from tests.fake_slack import Call, FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import BotServer, FakeClock

START = datetime(2027, 3, 24, 0, 0, tzinfo=UTC)  # Wednesday
END = datetime(2027, 4, 6, 12, 0, tzinfo=UTC)  # Tuesday, the week after Easter
EVERY = timedelta(hours=1)
EVERY_DAY = (0, 1, 2, 3, 4, 5, 6)  # the switches are all at weekends: customers that work them meet them
SNOOZED_ON, SNOOZED_UNTIL = date(2027, 4, 2), date(2027, 4, 6)  # Kiwi, across New Zealand's switch


def easter_accounts() -> list[Account]:
    return [
        Account("Acme", "C0ACME", "U0001", "America/New_York", "US", "daily 09:00"),
        Account("Nacht", "C0NACHT", "U0002", "Europe/Berlin", "DE", "daily 02:00", week=EVERY_DAY),
        Account("Kiwi", "C0KIWI", "U0001", "Pacific/Auckland", "NZ", "daily 02:00", week=EVERY_DAY),
        Account("Andes", "C0ANDES", "U0002", "America/Santiago", "CL", "daily 23:00", week=EVERY_DAY),
        Account("Roo", "C0ROO", "U0001", "Australia/Sydney", "AU", "weekly mon 09:00"),
        Account("Chai", "C0CHAI", "U0002", "Asia/Kolkata", "IN", "daily 00:30"),
        Account("Kiri", "C0KIRI", "U0001", "Pacific/Kiritimati", "KI", "daily 09:00"),
        Account("Galil", "C0GALIL", "U0003", "Asia/Jerusalem", "IL", "daily 09:00", week=(6, 0, 1, 2, 3)),
        Account("Thames", "C0THAMES", "U0002", "Europe/London", "GB-ENG", "biweekly fri 09:00 from 2027-03-12"),
        Account("Berg", "C0BERG", "U0002", "Europe/Berlin", "DE", "monthly last-mon 01:00"),
    ]


def react(month: Month, call: Call, account: Account, at: datetime) -> None:
    """By day: the call logged, Skip today, or nothing (a missed call); Kiwi snoozed from Friday 2 April's nudge."""
    day = account.local(at).date()
    later = at + timedelta(minutes=30)  # on the nudge's local day, also for Santiago's 23:00
    if account.name == "Kiwi" and day == SNOOZED_ON:
        month.later.append((later, lambda: snooze_from(month, call, account, later, SNOOZED_UNTIL)))
    elif day.toordinal() % 3 == 0:
        month.later.append((later, lambda: log_call_from(month, call, account, later)))
    elif day.toordinal() % 3 == 2:
        month.later.append((later, lambda: skip_from(month, call, account, later)))


def test_easter_2027_and_its_daylight_saving_switches_keep_the_promises(
    slack: SlackRequests, bot: BotServer, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    month = Month(
        slack, bot, store, settings, fake_slack, clock, start=START, end=END, every=EVERY, accounts=easter_accounts()
    )
    add_accounts(month)
    fake_slack.add_channel("C0DIGEST", name="digest", members=["U0002"])
    assert "goes to" in month.command(START, "digest channel <#C0DIGEST|digest>", user="U0002")
    assert "Sundays at 02:00" in month.command(START, "digest time sun 02:00 tz=Europe/Berlin", user="U0002")
    live(month, react)
    broken = check_invariants(month)

    # The weekly digest: once a week, on Sunday at 02:00 Berlin time — 03:00 CEST on the night 02:00 does not exist.
    berlin = month.by_name["Nacht"]
    posts = [s for s in month.sent if s.call.method == "chat.postMessage"]
    digests = [s.at for s in posts if s.call.params["channel"] == "C0DIGEST"]
    sundays = [date(2027, 3, 28), date(2027, 4, 4)]
    expected = [berlin.at(day, time(2)) for day in sundays]
    if digests != expected:
        broken["digest"] = [f"posted at {[f'{berlin.local(at):%a %d %b %H:%M %Z}' for at in digests]}"]
    assert expected[0] == datetime(2027, 3, 28, 1, 0, tzinfo=UTC)  # 03:00 CEST

    nudged: dict[str, set[date]] = {account.name: set() for account in month.accounts}
    for sent in month.sent:
        if sent.call.method == "chat.postMessage" and sent.call.ok:
            for row in month.nudge_rows(sent.call):
                if row.kind == "cadence" and row.customer_id in month.by_id:
                    account = month.by_id[row.customer_id]
                    nudged[account.name].add(account.local(sent.at).date())
    print(f"{month.ticks} ticks, {len(month.sent)} Slack calls; nudges: { {n: len(d) for n, d in nudged.items()} }")
    assert not broken, "\n".join(f"{name}:\n  " + "\n  ".join(items) for name, items in broken.items())
    # What the oracle expected, spelled out at the switches and Easter (customer-local dates; March unless April).
    good_friday, holy_saturday, easter_sunday, easter_monday = (date(2027, 3, d) for d in (26, 27, 28, 29))
    tuesday, april_3, april_4 = date(2027, 3, 30), date(2027, 4, 3), date(2027, 4, 4)
    assert {good_friday, easter_monday} <= nudged["Acme"]  # not holidays in the US
    assert easter_sunday in nudged["Nacht"] and not {good_friday, easter_monday} & nudged["Nacht"]
    assert {april_3, april_4} <= nudged["Andes"] and not {good_friday, holy_saturday} & nudged["Andes"]
    assert not {good_friday, easter_monday, april_3, april_4, date(2027, 4, 5)} & nudged["Kiwi"]  # snoozed
    assert {tuesday, date(2027, 4, 5)} <= nudged["Roo"] and len(nudged["Roo"]) == 2
    assert easter_monday in nudged["Chai"] and good_friday not in nudged["Chai"]
    assert tuesday in nudged["Kiri"] and easter_monday not in nudged["Kiri"]
    assert easter_sunday in nudged["Galil"] and good_friday not in nudged["Galil"]
    assert nudged["Thames"] == nudged["Berg"] == {tuesday}  # Good Friday / Easter Monday: the next business day
