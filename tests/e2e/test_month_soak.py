"""A month of a customer-success team living with Partner, then invariants over everything Slack received.

30 October to 28 November 2026, six customers across zones and calendars: New York (daily, across the end of
daylight saving time, Veterans Day and Thanksgiving), Berlin (weekly, with a working agreement that slips three
times), Auckland (monthly first Monday), Jerusalem (Sun–Thu week, launch mode for two weeks), a Berlin customer
snoozed from its nudge, São Paulo (daily, its holidays, paused for a week then resumed). The real jobs tick every
30 simulated minutes; commands and button clicks (Log call, Skip today, Snooze) go through signed requests with the
FakeClock at the same instant; surveys answered once; red check-ins in and out of working hours.

At the end every message Partner posted is checked against what the issues promise (#4 cadence, #5 boundaries,
#6 health and surveys): once per thing, on the customer's business days at their local time, no proactive DM to an
owner outside working hours, nothing while snoozed or paused, launch mode then the normal cadence, a missed daily
call reaching the owner by the next business morning, Slack's mention forms and limits. The expected days come from
an oracle written here with `holidays` and `zoneinfo` only, not from domain/calendar.py.
"""

from __future__ import annotations

import itertools
import json
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import holidays
from slack_sdk.models.blocks import Block

from bot.app import make_client
from bot.settings import Settings
from domain.calendar import format_working_week
from domain.surveys import SURVEYS
from handlers.ids import (
    CHECKIN_MODAL,
    NUDGE_LOG_CALL,
    NUDGE_SKIP,
    NUDGE_SNOOZE,
    NUDGE_SNOOZE_FOR,
    NUDGE_SNOOZE_MODAL,
    NUDGE_SNOOZE_REASON,
    NUDGE_SNOOZE_UNTIL,
)
from schedules.jobs import run_tick
from storage.models import Nudge
from storage.store import Store
from tests.e2e.test_cadence import button_message, unpaced  # noqa: F401 (autouse fixture)
from tests.e2e.test_foundation import modal_values
from tests.e2e.test_surveys import all_ratings, opened, submit
from tests.fake_slack import Call, FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import TEAM_ID, BotServer, FakeClock

START = datetime(2026, 10, 30, 5, 0, tzinfo=UTC)  # Friday; New York leaves daylight saving time on Sunday 1 Nov
END = datetime(2026, 11, 28, 5, 0, tzinfo=UTC)  # the Saturday after Thanksgiving
TICK = timedelta(minutes=30)
WORK_FROM, WORK_UNTIL = time(8), time(18)  # no proactive owner DM outside these customer-local hours
WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
# Outbox kinds that DM an owner on the bot's own initiative (not as the answer to someone's action).
PROACTIVE = {"overdue", "health_drop", "boundary_escalation", "boundary_suggestion", "survey_prompt", "digest"}


@dataclass
class Account:
    """A customer as the oracle sees it: what was configured, and what people did."""

    name: str
    channel: str
    owner: str
    tz: str
    country: str
    cadence: str  # as typed: "daily 09:00", "weekly tue 10:00", "monthly first-mon 09:00"
    week: tuple[int, ...] = (0, 1, 2, 3, 4)
    launch_until: date | None = None
    quiet: list[tuple[datetime, datetime]] = field(default_factory=list)  # snoozed / paused intervals, UTC
    calls: list[datetime] = field(default_factory=list)  # calls logged (UTC)
    skipped: set[date] = field(default_factory=set)  # days a person clicked Skip today
    id: int = 0
    start: datetime = START  # when the run this account lives in starts

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    def local(self, instant: datetime) -> datetime:
        return instant.astimezone(self.zone)

    def business_day(self, day: date) -> bool:
        country, _, region = self.country.partition("-")  # "GB-ENG": England's holidays
        table = holidays.country_holidays(country, subdiv=region or None, years=day.year)
        return day.weekday() in self.week and day not in table

    def next_business_day(self, day: date) -> date:
        day += timedelta(days=1)
        while not self.business_day(day):
            day += timedelta(days=1)
        return day

    def at(self, day: date, clock: time) -> datetime:
        """When the customer's wall clock shows `clock` on `day`: the first of two when the clocks go back, the first
        minute after the jump when they skip it (02:30 on the night 02:00 becomes 03:00 → 03:00)."""
        wall = datetime.combine(day, clock)
        while (instant := wall.replace(tzinfo=self.zone).astimezone(UTC)).astimezone(self.zone).replace(
            tzinfo=None
        ) != wall:
            wall += timedelta(minutes=1)
        return instant

    @property
    def clock(self) -> time:
        return next(time.fromisoformat(word) for word in self.cadence.split() if ":" in word)

    def cadence_day(self, day: date) -> bool:
        """Is `day` one of this customer's call days (launch mode: every business day up to its date)?"""
        in_launch = self.launch_until is not None and day <= self.launch_until
        return self.business_day(day) and (in_launch or self.normal_day(day))

    def nominal_day(self, day: date) -> bool:
        """A day the cadence names, before a weekend or holiday moves it to the next business day."""
        kind, *rest = self.cadence.split()
        if kind in ("weekly", "biweekly") and day.weekday() != WEEKDAYS[rest[0]]:
            return False
        if kind == "biweekly":  # "biweekly fri 09:00 from 2027-03-12"
            return (day - date.fromisoformat(rest[rest.index("from") + 1])).days % 14 == 0
        if kind == "monthly":
            if rest[0].isdigit():
                return day.day == int(rest[0])
            nth, weekday = rest[0].split("-")
            if day.weekday() != WEEKDAYS[weekday]:
                return False
            return (day + timedelta(days=7)).month != day.month if nth == "last" else day.day <= 7
        return True

    def normal_day(self, day: date) -> bool:
        """A call day of the normal cadence (launch mode aside): a business day on which a named day falls, or
        the first business day after named days that were not."""
        if not self.business_day(day):
            return False
        previous = day - timedelta(days=1)
        while not self.business_day(previous):
            if self.nominal_day(previous):
                return True
            previous -= timedelta(days=1)
        return self.nominal_day(day)

    def period_start(self, day: date) -> date:
        """The first local date whose call counts for the slot on `day` (#4: a call satisfies the current period):
        the day after the normal cadence's previous slot, or the day itself in launch mode."""
        if self.launch_until is not None and day <= self.launch_until:
            return day
        previous = day - timedelta(days=1)
        while not self.normal_day(previous):
            previous -= timedelta(days=1)
        return previous + timedelta(days=1)

    def is_daily_on(self, day: date) -> bool:
        return self.cadence.startswith("daily") or (self.launch_until is not None and day <= self.launch_until)

    def quiet_at(self, instant: datetime) -> bool:
        return any(start <= instant < end for start, end in self.quiet)

    def call_on(self, day: date, before: datetime | None = None) -> bool:
        return any(self.local(c).date() == day and (before is None or c <= before) for c in self.calls)

    def satisfied(self, day: date, due: datetime) -> bool:
        return any(self.period_start(day) <= self.local(c).date() and c <= due for c in self.calls)

    def expected_nudge_days(self, until: datetime) -> set[date]:
        found: set[date] = set()
        day = self.local(self.start).date()
        while self.at(day, self.clock) <= until:
            due = self.at(day, self.clock)
            if due > self.start and self.cadence_day(day) and not self.quiet_at(due) and not self.satisfied(day, due):
                found.add(day)
            day += timedelta(days=1)
        return found


def new_accounts() -> list[Account]:
    """Each run's own: the accounts record what people did during that run."""
    return [
        Account("Acme", "C0ACME", "U0001", "America/New_York", "US", "daily 09:00"),
        Account("Bergwerk", "C0BERG", "U0002", "Europe/Berlin", "DE", "weekly tue 10:00"),
        Account("Kiwi", "C0KIWI", "U0001", "Pacific/Auckland", "NZ", "monthly first-mon 09:00"),
        Account(
            "Galil",
            "C0GALIL",
            "U0003",
            "Asia/Jerusalem",
            "IL",
            "weekly sun 09:00",
            week=(6, 0, 1, 2, 3),
            launch_until=date(2026, 11, 12),
        ),
        Account("Delta", "C0DELTA", "U0002", "Europe/Berlin", "DE", "daily 09:30"),
        Account("Pampa", "C0PAMPA", "U0001", "America/Sao_Paulo", "BR", "daily 14:00"),
    ]


@dataclass
class Sent:
    """One Slack call Partner made, with the simulated instant and whether it answered someone's action."""

    call: Call
    at: datetime
    answering: bool


class Month:
    """Drives the app: ticks, commands and clicks at simulated instants; records which call happened when."""

    def __init__(
        self,
        slack: SlackRequests,
        bot: BotServer,
        store: Store,
        settings: Settings,
        fake: FakeSlack,
        clock: FakeClock,
        *,
        start: datetime = START,
        end: datetime = END,
        every: timedelta = TICK,
        accounts: list[Account] | None = None,
    ) -> None:
        self.slack, self.bot, self.store, self.settings, self.fake, self.clock = (
            slack,
            bot,
            store,
            settings,
            fake,
            clock,
        )
        self.client = make_client(settings)
        self.sent: list[Sent] = []
        self.seen = 0
        self.start, self.end, self.every = start, end, every  # the jobs tick every `every`
        self.accounts = accounts if accounts is not None else new_accounts()
        for account in self.accounts:
            account.start = start
        self.by_name = {a.name: a for a in self.accounts}
        self.by_id: dict[int, Account] = {}
        self.later: list[tuple[datetime, Callable[[], None]]] = []
        self.ticks = 0

    def _collect(self, at: datetime, *, answering: bool) -> list[Call]:
        new = self.fake.calls[self.seen :]
        self.seen += len(new)
        self.sent.extend(Sent(c, at, answering) for c in new)
        return new

    def act(self, at: datetime, do: Callable[[], Any]) -> Any:
        """A person's action at `at`: everything Slack receives until its follow-ups settle answers it."""
        self._collect(self.clock.now, answering=False)
        self.clock.set(at)
        result = do()
        self.bot.settle()
        self._collect(at, answering=True)
        return result

    def command(self, at: datetime, text: str, *, user: str = "U0001") -> str:
        response = self.act(at, lambda: self.slack.command(text, user_id=user))
        assert response.status == 200, response.text
        return str(response.json().get("text", "")) if response.body else ""

    def tick(self, now: datetime) -> list[Call]:
        self.clock.set(now)
        report = run_tick(store=self.store, client=self.client, now=now, settings=self.settings)
        assert not report.failed, report.failed
        self.ticks += 1
        return self._collect(now, answering=False)

    def nudge_rows(self, call: Call) -> list[Nudge]:
        meta = call.params.get("metadata") or {}
        if isinstance(meta, str):
            meta = json.loads(meta)
        if meta.get("event_type") != "partner_nudge":
            return []
        ids = [int(i) for i in str(meta["event_payload"]["nudge_ids"]).split(",") if i]
        rows = [self.store.nudge(team_id=TEAM_ID, nudge_id=i) for i in ids]
        return [r for r in rows if r is not None]


def customer_of(row: Nudge, month: Month) -> Account | None:
    return month.by_id.get(row.customer_id or 0)


# ------------------------------------------------------------------------------------------------ the month


def nudge_message(call: Call, month: Month) -> dict[str, Any]:
    """The nudge as the channel shows it now (buttons and all), as Slack sends it with a click."""
    return next(m for m in month.fake.messages[call.response["channel"]] if m["ts"] == call.response["ts"])


def log_call_from(month: Month, call: Call, account: Account, at: datetime) -> None:
    message = nudge_message(call, month)
    value = message["blocks"][1]["elements"][0]["value"]
    channel = call.response["channel"]

    def click() -> None:
        month.slack.block_action(NUDGE_LOG_CALL, value=value, channel_id=channel, message=button_message(message))
        month.bot.settle()
        view = month.fake.calls_to("views.open")[-1].response["view"]  # each opened form is its own view
        values = modal_values(account.id, "green", f"daily sync {at:%d %b}", call=True)
        response = month.slack.view_submission(
            CHECKIN_MODAL, values, user_id=account.owner, view_id=view["id"], private_metadata=view["private_metadata"]
        )
        assert response.status == 200 and not response.body, response.text

    month.act(at, click)
    account.calls.append(at)


def skip_from(month: Month, call: Call, account: Account, at: datetime) -> None:
    message = nudge_message(call, month)
    value = message["blocks"][1]["elements"][2]["value"]
    channel = call.response["channel"]
    response = month.act(
        at,
        lambda: month.slack.block_action(NUDGE_SKIP, value=value, channel_id=channel, message=button_message(message)),
    )
    assert response.status == 200, response.text
    account.skipped.add(account.local(at).date())


def snooze_from(month: Month, call: Call, account: Account, at: datetime, until: date) -> None:
    message = nudge_message(call, month)
    value = message["blocks"][1]["elements"][1]["value"]
    channel = call.response["channel"]

    def click() -> Any:
        month.slack.block_action(NUDGE_SNOOZE, value=value, channel_id=channel, message=button_message(message))
        month.bot.settle()
        view = month.fake.calls_to("views.open")[-1].response["view"]
        values = {
            "for": {NUDGE_SNOOZE_FOR: {"type": "radio_buttons", "selected_option": {"value": "until"}}},
            "until": {NUDGE_SNOOZE_UNTIL: {"type": "datepicker", "selected_date": until.isoformat()}},
            "reason": {NUDGE_SNOOZE_REASON: {"type": "plain_text_input", "value": "offsite <all> week & more"}},
        }
        return month.slack.view_submission(
            NUDGE_SNOOZE_MODAL, values, private_metadata=view["private_metadata"], view_id=view["id"]
        )

    assert month.act(at, click).status == 200
    account.quiet.append((at, account.at(until, time(0))))
    account.skipped.add(account.local(at).date())  # a day snoozed from its nudge is not a missed call


def react_to_nudge(month: Month, call: Call, account: Account, at: datetime) -> None:
    """What the owner does about today's nudge, by customer and day: log the call, skip, snooze, or nothing."""
    day = account.local(at).date()
    later = at + timedelta(hours=1)
    if account.name == "Acme":
        choice = day.toordinal() % 3  # a call, nothing (a missed call), or skip
        if choice == 0:
            month.later.append((later, lambda: log_call_from(month, call, account, later)))
        elif choice == 2:
            month.later.append((later, lambda: skip_from(month, call, account, later)))
    elif account.name == "Delta":
        if day == date(2026, 11, 3):  # snoozed from Tuesday's nudge until Monday
            month.later.append((later, lambda: snooze_from(month, call, account, later, date(2026, 11, 9))))
        elif day.toordinal() % 2 == 0:
            month.later.append((later, lambda: log_call_from(month, call, account, later)))
    elif account.name in ("Galil", "Bergwerk"):
        if day.toordinal() % 4 != 1 and day != account.launch_until:  # launch mode's last call is missed
            month.later.append((later, lambda: log_call_from(month, call, account, later)))
    elif account.name == "Pampa" and day.toordinal() % 5 == 0:
        month.later.append((later, lambda: log_call_from(month, call, account, later)))


def add_accounts(month: Month) -> None:
    """Each account's channel, then `/partner add` for it as its owner would type it, at the month's start."""
    fake = month.fake
    fake.add_user("U0003", name="lee", tz="America/Chicago")
    for account in month.accounts:
        fake.add_channel(account.channel, name=account.name.lower(), members=[account.owner])
    for account in month.accounts:
        week = "" if account.week == (0, 1, 2, 3, 4) else f" week={format_working_week(account.week)}"
        text = (
            f"add {account.name} <#{account.channel}|{account.name.lower()}> <@{account.owner}|owner> "
            f"tz={account.tz} country={account.country}{week} cadence={account.cadence}"
        )
        assert "Added" in month.command(month.start, text), text
        customer = month.store.customer_by_name(team_id=TEAM_ID, name=account.name)
        assert customer is not None and customer.id is not None
        account.id = customer.id
        month.by_id[customer.id] = account


def live_a_month(month: Month) -> None:
    fake = month.fake
    add_accounts(month)
    galil = month.by_name["Galil"]
    assert "Launch mode on" in month.command(START, "launch galil on until=2026-11-12", user="U0003")

    # Boundaries for two customers, slips on some days and not others.
    for name in ("bergwerk", "delta"):  # both owned by Sam; Slack escapes what people type (&amp; &lt; &gt;)
        agreement = f'boundary {name} add "We answer within one business day &amp; say so" kind=response_time value=1d'
        assert "Proposed" in month.command(START, agreement, user="U0002")
        later = f'boundary {name} add "Requests in &lt;#acme&gt;, not in DMs" kind=custom'
        assert "Proposed" in month.command(START, later, user="U0002")
        assert "active" in month.command(START, f"boundary {name} activate 1", user="U0002").lower()

    def slip(at: datetime, name: str, note: str) -> None:
        month.later.append((at, lambda: month.command(at, f"boundary {name} slip 1 {note}", user="U0002")))

    slip(datetime(2026, 11, 3, 13, 0, tzinfo=UTC), "bergwerk", "answered after 3 days")
    slip(datetime(2026, 11, 10, 10, 0, tzinfo=UTC), "bergwerk", "again, see &lt;ticket 12&gt;")
    slip(datetime(2026, 11, 17, 15, 0, tzinfo=UTC), "bergwerk", "third time: &lt;@U0001&gt; &amp; co")
    slip(datetime(2026, 11, 5, 13, 0, tzinfo=UTC), "delta", "late once")
    # Red check-ins: one in working hours, one in the evening (its owner alert answers that action at once).
    red1, red2 = datetime(2026, 11, 5, 16, 0, tzinfo=UTC), datetime(2026, 11, 17, 23, 0, tzinfo=UTC)
    month.later += [
        (red1, lambda: month.command(red1, "checkin acme red outage hit them hard, <@U0002|sam> knows")),
        (red2, lambda: month.command(red2, "checkin pampa red invoice dispute &amp; a 5 &lt; 6 complaint")),
    ]
    # Surveys answered once.
    survey_at = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)

    def answer_surveys() -> None:
        month.slack.command("survey acme level")
        month.bot.settle()
        answers = {"level": "partner", "move_up": "share the roadmap"}
        assert submit(month.slack, opened(fake), answers, view_id="VSURVEY1").status == 200
        month.slack.command("survey bergwerk scorecard", user_id="U0002")
        month.bot.settle()
        ratings = all_ratings(SURVEYS["scorecard"], "4")
        assert submit(month.slack, opened(fake), ratings, user_id="U0002", view_id="VSURVEY2").status == 200

    month.later.append((survey_at, lambda: month.act(survey_at, answer_surveys)))
    # A pause and a resume.
    pampa = month.by_name["Pampa"]
    paused, resumed = datetime(2026, 11, 3, 16, 0, tzinfo=UTC), datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
    month.later += [
        (paused, lambda: month.command(paused, "pause pampa")),
        (resumed, lambda: month.command(resumed, "resume pampa")),
    ]
    pampa.quiet.append((paused, resumed))
    # A call logged by command before Pampa's 14:00 nudge: no nudge that day.
    early = datetime(2026, 11, 12, 13, 0, tzinfo=UTC)  # 10:00 in São Paulo
    month.later.append((early, lambda: month.command(early, "checkin pampa green call weekly sync")))
    pampa.calls.append(early)
    del galil

    live(month, react_to_nudge)


def live(month: Month, react: Callable[[Month, Call, Account, datetime], None]) -> None:
    """Tick every `month.every` from the month's start to its end; people's planned actions happen at their instants,
    and `react` decides what the owner does about each cadence nudge posted."""
    now = month.start
    while now <= month.end:
        due = sorted((t, i) for i, (t, _) in enumerate(month.later) if t <= now)
        for _, i in due:
            month.later[i][1]()
        month.later = [item for item in month.later if item[0] > now]
        for call in month.tick(now):
            if call.method != "chat.postMessage" or not call.ok:
                continue
            for row in month.nudge_rows(call):
                account = customer_of(row, month)
                if row.kind == "cadence" and account is not None:
                    react(month, call, account, now)
        now += month.every


# ------------------------------------------------------------------------------------------------ invariants


def text_of(call: Call) -> str:
    params = call.params
    blocks = params.get("blocks")
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    return json.dumps({"text": params.get("text"), "blocks": blocks}, ensure_ascii=False)


MRKDWN_LIMITS = {"section": 3000, "header": 150}


def check_invariants(month: Month) -> dict[str, list[str]]:
    broken: dict[str, list[str]] = defaultdict(list)
    dm_channels = set(month.fake._dm_by_user.values()) | set(month.fake.users)
    posts = [s for s in month.sent if s.call.method == "chat.postMessage" and s.call.ok]

    # Exactly once: every outbox row reaches Slack once, and the same text never lands twice in one destination on
    # one day; cadence nudges once per customer-local day, whatever the outbox keys say.
    by_row: dict[int, list[Sent]] = defaultdict(list)
    cadence_posts: dict[tuple[str, date], list[Sent]] = defaultdict(list)
    same_text: dict[tuple[str, str, date], int] = defaultdict(int)
    rows_of: dict[int, list[Nudge]] = {}
    for sent in posts:
        rows = month.nudge_rows(sent.call)
        rows_of[id(sent)] = rows
        for row in rows:
            assert row.id is not None
            by_row[row.id].append(sent)
            account = customer_of(row, month)
            if row.kind == "cadence" and account is not None:
                cadence_posts[(account.name, account.local(sent.at).date())].append(sent)
        same_text[(sent.call.response["channel"], sent.call.params.get("text") or "", sent.at.date())] += 1
    for row_id, sents in by_row.items():
        if len(sents) > 1:
            broken["exactly once"].append(f"nudge {row_id} posted {len(sents)} times at {[str(s.at) for s in sents]}")
    for (name, day), sents in cadence_posts.items():
        if len(sents) > 1:
            broken["exactly once"].append(f"{name}: {len(sents)} cadence nudges on local {day}")
    for (channel, text, day), count in same_text.items():
        if count > 1:
            broken["exactly once"].append(f"{count}× the same message to {channel} on {day}: {text[:120]!r}")

    # A health drop is told once: a second alert about one customer needs a new high since the first was planned
    # (the score recovered to at least the level the second one falls from), not the same fall seen a day later —
    # or a further fall of its own from the score the owner was told (README: "once per fall").
    drops: dict[int, dict[int, Nudge]] = defaultdict(dict)
    for sent in posts:
        for row in rows_of[id(sent)]:
            if row.kind == "health_drop" and row.customer_id is not None and row.id is not None:
                drops[row.customer_id][row.id] = row
    for customer_id, found in drops.items():
        account = month.by_id[customer_id]
        snapshots = month.store.health_snapshots(team_id=TEAM_ID, customer_id=customer_id, since=month.start.date())
        alerts = sorted(found.values(), key=lambda r: (r.created_at, r.id or 0))
        for first, second in itertools.pairwise(alerts):
            high = second.payload["from"]
            if high <= first.payload["to"] and first.payload["to"] - second.payload["to"] >= 15:
                continue
            if not any(s.computed_at > first.created_at and (s.score or 0) >= high for s in snapshots):
                broken["exactly once"].append(
                    f"{account.name}: health drop told twice — {first.payload} planned {first.created_at:%d %b %H:%M}, "
                    f"then {second.payload} planned {second.created_at:%d %b %H:%M} with no recovery to {high} between"
                )

    # Cadence nudges: business days of the customer's calendar, at the configured local time, exactly the days due.
    for account in month.accounts:
        actual: dict[date, datetime] = {}
        for (name, day), sents in cadence_posts.items():
            if name == account.name:
                actual[day] = sents[0].at
        for day, at in sorted(actual.items()):
            local = account.local(at)
            due = account.at(day, account.clock)
            if not account.business_day(day):
                broken["cadence calendar"].append(f"{account.name}: nudged on {day:%a %d %b}, not a business day")
            if not (due <= at < due + month.every):
                broken["cadence local time"].append(
                    f"{account.name}: the {day} nudge at {local:%H:%M %Z}, configured {account.clock:%H:%M}"
                )
            if account.quiet_at(at):
                broken["snoozed or paused"].append(f"{account.name}: nudged on {day} while snoozed or paused")
        expected = account.expected_nudge_days(month.end)
        for day in sorted(expected - set(actual)):
            broken["cadence days"].append(f"{account.name}: no nudge on {day:%a %d %b} ({account.cadence})")
        for day in sorted(set(actual) - expected):
            broken["cadence days"].append(f"{account.name}: unexpected nudge on {day:%a %d %b} ({account.cadence})")

    # Owner DMs the bot sends on its own: working hours of the customer's business days.
    overdue_at: dict[str, list[datetime]] = defaultdict(list)
    for sent in posts:
        rows = rows_of[id(sent)]
        destination = sent.call.params["channel"]
        for row in rows:
            account = customer_of(row, month)
            if row.kind == "overdue" and account is not None:
                overdue_at[account.name].append(sent.at)
            if sent.answering or row.kind not in PROACTIVE or destination not in dm_channels or account is None:
                continue
            local = account.local(sent.at)
            if not (account.business_day(local.date()) and WORK_FROM <= local.time() < WORK_UNTIL):
                broken["owner quiet hours"].append(
                    f"{row.kind} about {account.name} DMed at {local:%a %d %b %H:%M %Z} ({sent.at:%Y-%m-%d %H:%MZ})"
                )

    # A missed daily call reaches the owner by the next business morning (09:00 customer time), once per lapse.
    for account in month.accounts:
        for name, day in sorted(cadence_posts):
            if name != account.name or not account.is_daily_on(day) or day in account.skipped:
                continue
            if account.call_on(day):
                continue
            day_end = account.at(day + timedelta(days=1), time(0))
            last_call = max((c for c in account.calls if c < day_end), default=month.start)
            by = account.at(account.next_business_day(day), time(9)) + month.every
            if by > month.end or any(day_end <= c < by - month.every for c in account.calls):
                continue  # a call logged after the day and before the alert's morning ended the lapse: nothing to tell
            if not any(last_call < at <= by for at in overdue_at[account.name]):
                broken["missed call reaches the owner"].append(
                    f"{account.name}: the daily call on {day:%a %d %b} was missed; no alert by {by:%Y-%m-%d %H:%MZ}"
                )
        alerts = sorted(overdue_at[account.name])
        for first, second in itertools.pairwise(alerts):
            if not any(first < c < second for c in account.calls):
                broken["exactly once"].append(f"{account.name}: two overdue alerts in one lapse: {first}, {second}")

    # Slack's formats and limits, on everything posted or updated.
    for sent in month.sent:
        if sent.call.method not in ("chat.postMessage", "chat.update", "chat.postEphemeral", "response_url"):
            continue
        shown = text_of(sent.call)
        where = f"{sent.call.method} at {sent.at:%Y-%m-%d %H:%MZ}"
        if "&amp;lt;" in shown or "&amp;gt;" in shown or "&amp;amp;" in shown:
            broken["slack format"].append(f"{where}: double-escaped: {shown[:200]}")
        for bad in re.findall(r"(?<![<|;])[@#][UWC][A-Z0-9]{4,}\b", shown):  # after "&lt;": typed, shown as text
            broken["slack format"].append(f"{where}: a raw mention {bad!r}")
        for mention in re.findall(r"<([@#!][^>]*)>", shown):
            if not re.fullmatch(r"@[UW][A-Z0-9]+(\|[^>]*)?|#C[A-Z0-9]+(\|[^>]*)?|!date\^.*|!subteam\^.*", mention):
                broken["slack format"].append(f"{where}: a malformed mention <{mention}>")
        text = sent.call.params.get("text") or ""
        if len(text) > 4000:
            broken["slack limits"].append(f"{where}: text of {len(text)} characters")
        blocks = sent.call.params.get("blocks")
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        if blocks:
            if len(blocks) > 50:
                broken["slack limits"].append(f"{where}: {len(blocks)} blocks")
            for block in blocks:
                try:
                    Block.parse(block).validate_json()  # type: ignore[union-attr]
                except Exception as e:
                    broken["slack limits"].append(f"{where}: {e}")
    return dict(broken)


def test_a_month_of_partner_keeps_its_promises(
    slack: SlackRequests, bot: BotServer, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    month = Month(slack, bot, store, settings, fake_slack, clock)
    live_a_month(month)
    broken = check_invariants(month)
    kinds: dict[str, int] = defaultdict(int)
    for sent in month.sent:
        if sent.call.method == "chat.postMessage" and sent.call.ok:
            for row in month.nudge_rows(sent.call) or [None]:
                kinds[row.kind if row else "direct"] += 1
    print(f"{month.ticks} ticks, {len(month.sent)} Slack calls; posts by kind: {dict(sorted(kinds.items()))}")
    posts = [s for s in month.sent if s.call.method == "chat.postMessage"]
    assert month.ticks == (END - START) // TICK + 1 and len(posts) > 60, (month.ticks, len(posts))
    assert not broken, "\n".join(f"{name}:\n  " + "\n  ".join(items) for name, items in broken.items())
