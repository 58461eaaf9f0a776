"""The year-end fortnight of a global team, then the month soak's invariants over everything Slack received
(tests/e2e/test_month_soak.py: its oracle, driver and checks), as tests/e2e/test_spring_2027.py does for Easter.

20 December 2026 – 6 January 2027, customers in Tokyo, Kolkata (+05:30), Sydney (New South Wales, summer time),
São Paulo (no daylight saving time since 2019), London (England), Los Angeles and Auckland, owned by people in Los
Angeles, Kolkata and Sydney — none in their customer's zone. Christmas Day is a Friday; Boxing Day a Saturday, observed
on Monday 28 December in England, New South Wales and New Zealand; New Year's Day a Friday, and New Zealand's day
after it a Saturday, observed on Monday 4 January. Japan keeps New Year's Day only (2 and 3 January are a weekend),
India Christmas but not New Year's Day, the US and Brazil both. Daily, weekly and monthly cadences; calls logged,
skipped or missed (a missed daily call reaches its owner by the customer's next business morning).

The jobs tick every simulated hour: every call time here falls on a whole UTC hour.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

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
    text_of,
)
from tests.fake_slack import Call, FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import BotServer, FakeClock

START = datetime(2026, 12, 20, 0, 0, tzinfo=UTC)  # Sunday
END = datetime(2027, 1, 6, 12, 0, tzinfo=UTC)  # Wednesday
KENJI, PRIYA, OLIVIA = "U0010", "U0011", "U0012"  # Los Angeles, Kolkata, Sydney


def year_end_accounts() -> list[Account]:
    return [
        Account("Tokyo", "C0TOKYO", KENJI, "Asia/Tokyo", "JP", "daily 10:00"),
        Account("Chai", "C0CHAI", KENJI, "Asia/Kolkata", "IN", "daily 09:30"),
        Account("Roo", "C0ROO", PRIYA, "Australia/Sydney", "AU-NSW", "weekly mon 09:00"),
        Account("Pampa", "C0PAMPA", OLIVIA, "America/Sao_Paulo", "BR", "monthly 28 09:00"),
        Account("Thames", "C0THAMES", OLIVIA, "Europe/London", "GB-ENG", "weekly mon 09:00"),
        Account("Hollywood", "C0HOLLY", PRIYA, "America/Los_Angeles", "US", "weekly fri 16:00"),
        Account("Kiwi", "C0KIWI", KENJI, "Pacific/Auckland", "NZ", "weekly mon 09:00"),
        Account("Kauri", "C0KAURI", PRIYA, "Pacific/Auckland", "NZ", "daily 09:00"),
        Account("Sakura", "C0SAKURA", PRIYA, "Asia/Tokyo", "JP", "monthly first-mon 10:00"),
    ]


def react(month: Month, call: Call, account: Account, at: datetime) -> None:
    """By day: the call logged, Skip today, or nothing (a missed call)."""
    day = account.local(at).date()
    later = at + timedelta(minutes=30)
    if day.toordinal() % 3 == 0:
        month.later.append((later, lambda: log_call_from(month, call, account, later)))
    elif day.toordinal() % 3 == 2:
        month.later.append((later, lambda: skip_from(month, call, account, later)))


def test_the_year_end_fortnight_of_a_global_team_keeps_the_promises(
    slack: SlackRequests, bot: BotServer, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    fake_slack.add_user(KENJI, name="kenji", tz="America/Los_Angeles")
    fake_slack.add_user(PRIYA, name="priya", tz="Asia/Kolkata")
    fake_slack.add_user(OLIVIA, name="olivia", tz="Australia/Sydney")
    month = Month(
        slack,
        bot,
        store,
        settings,
        fake_slack,
        clock,
        start=START,
        end=END,
        every=timedelta(hours=1),
        accounts=year_end_accounts(),
    )
    add_accounts(month)
    live(month, react)
    broken = check_invariants(month)

    nudged: dict[str, set[date]] = {account.name: set() for account in month.accounts}
    moved: dict[str, set[date]] = {account.name: set() for account in month.accounts}
    for sent in month.sent:
        if sent.call.method == "chat.postMessage" and sent.call.ok:
            for row in month.nudge_rows(sent.call):
                if row.kind == "cadence" and row.customer_id in month.by_id:
                    account = month.by_id[row.customer_id]
                    nudged[account.name].add(account.local(sent.at).date())
                    if ":calendar: Moved from" in text_of(sent.call):
                        moved[account.name].add(account.local(sent.at).date())
    print(f"{month.ticks} ticks, {len(month.sent)} Slack calls; nudges: { {n: len(d) for n, d in nudged.items()} }")
    assert not broken, "\n".join(f"{name}:\n  " + "\n  ".join(items) for name, items in broken.items())
    # What the oracle expected, spelled out (customer-local dates).
    dec, jan = (lambda d: date(2026, 12, d)), (lambda d: date(2027, 1, d))
    assert dec(25) in nudged["Tokyo"] and dec(31) in nudged["Tokyo"] and jan(1) not in nudged["Tokyo"]
    assert dec(25) not in nudged["Chai"] and jan(1) in nudged["Chai"]
    assert nudged["Roo"] == nudged["Thames"] == {dec(21), dec(29), jan(4)}  # Boxing Day (observed) on Monday 28th
    assert nudged["Kiwi"] == {dec(21), dec(29), jan(5)}  # and New Zealand's day after New Year's Day on 4 January
    assert not {dec(25), dec(28), jan(1), jan(4)} & nudged["Kauri"]
    assert nudged["Hollywood"] == {dec(28), jan(4)}  # Fridays 25 December and 1 January
    assert nudged["Pampa"] == {dec(28)} and nudged["Sakura"] == {jan(4)}
    # A weekly call a holiday moved says so, from which day and why; one on its own day does not.
    assert moved["Roo"] == moved["Thames"] == {dec(29)} and moved["Kiwi"] == {dec(29), jan(5)}
    assert moved["Hollywood"] == {dec(28), jan(4)} and not moved["Pampa"] | moved["Kauri"]
