"""The App Home dashboard: per-customer facts (pure, from domain rules) and the Block Kit view built from them."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, Literal, Protocol, TypeVar

from domain.boundaries import DEFAULT_POLICY, Policy
from domain.cadence import (
    Cadence,
    due_slot,
    is_satisfied,
    launch_cadence,
    occurrences,
    parse_cadence,
)
from domain.calendar import WorkCalendar
from domain.customers import next_nudge_of
from domain.health import at_risk, sparkline, trend_words, weekly_series
from handlers.blocks import (
    MOOD_EMOJI,
    ago,
    button,
    context,
    local_time,
    mood_badge,
    mrkdwn_name,
    paused_text,
    plain,
    section,
    tier_text,
    truncate,
)
from handlers.blocks.boundaries import boundary_section_blocks, escalation_note
from handlers.blocks.customers import (
    DUE_TODAY,
    OWNER_GONE_NOTE,
    cadence_windows_text,
    calendar_text,
    card_survey_blocks,
    channel_flag,
    channel_problem,
    snooze_note,
)
from handlers.blocks.health import their_view_note
from handlers.blocks.nudges import slack_date
from handlers.blocks.surveys import ask_button, may_ask, survey_button, survey_menu
from handlers.ids import (
    HOME_NEXT_PAGE,
    HOME_OPEN_CARD,
    HOME_PREV_PAGE,
    HOME_SCOPE,
    HOME_SHOW,
    HOME_SNOOZE,
    HOME_TIER,
    OPEN_CHECKIN,
)
from schedules import planner
from storage.boundaries import BoundaryRecord
from storage.home import HomeCandidate, HomeHeaderCounts, LastContact
from storage.models import Boundary, Customer, SurveyResponse

PAGE_SIZE = 20  # 3 blocks a customer + 9 around them stays well under Slack's 100 blocks for Home
MAX_HOME_BLOCKS = 100
SPARK_WEEKS = 12
NO_VALUE = "—"
BAND_EMOJI = {**MOOD_EMOJI, "unknown": ":white_circle:"}
_BAND_RISK = {"red": 0, "yellow": 1, "unknown": 2, "green": 3}
NO_TIER = "__none__"  # the tier filter's value for customers without a tier
MAX_LOOKBACK_DAYS = 400  # longer than any cadence's gap: a last check-in older than this is no contact at all
_RED_SEARCH_DAYS = 2048  # how far back the overdue boundary is looked for (any cadence's max window is far shorter)

Scope = Literal["mine", "team"]
Show = Literal["all", "risk"]


# --------------------------------------------------------------------------- view state


@dataclass(frozen=True)
class HomeState:
    """What the viewer chose to look at; travels in the Home view's private_metadata."""

    scope: Scope = "mine"
    show: Show = "all"
    tier: str | None = None
    page: int = 0

    def to_metadata(self) -> str:
        return json.dumps({"scope": self.scope, "show": self.show, "tier": self.tier, "page": self.page})

    @classmethod
    def from_metadata(cls, text: str | None) -> HomeState:
        """Anything unreadable (an old view, a hand-edited payload) falls back to the defaults."""
        try:
            data = json.loads(text or "{}")
        except ValueError:
            return cls()
        return cls.from_values(data)

    @classmethod
    def from_values(cls, data: Any) -> HomeState:
        """A state from its four values (a view's metadata, a saved row); anything invalid gets its default."""
        if not isinstance(data, dict):
            return cls()
        scope = data.get("scope") if data.get("scope") in ("mine", "team") else "mine"
        show = data.get("show") if data.get("show") in ("all", "risk") else "all"
        tier = data.get("tier") if isinstance(data.get("tier"), str) and data.get("tier") else None
        page = data.get("page") if isinstance(data.get("page"), int) and data.get("page", 0) >= 0 else 0
        return cls(scope=scope, show=show, tier=tier, page=page)  # type: ignore[arg-type]

    def with_filter(self, **changes: Any) -> HomeState:
        """A new filter always starts again on the first page."""
        return replace(self, page=0, **changes)


# --------------------------------------------------------------------------- per-customer facts


class CustomerSettings(Protocol):
    """The customer fields the cadence maths reads: a Customer row, or the Home's light HomeCandidate."""

    @property
    def tz(self) -> str | None: ...
    @property
    def country(self) -> str | None: ...
    @property
    def working_week(self) -> str | None: ...
    @property
    def subdiv(self) -> str | None: ...
    @property
    def cadence(self) -> str | None: ...
    @property
    def launch_until(self) -> date | None: ...
    @property
    def paused_at(self) -> datetime | None: ...
    @property
    def snoozed_until(self) -> datetime | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def ideal_days(self) -> int | None: ...
    @property
    def max_days(self) -> int | None: ...


def _risk_key(band: str, overdue: bool, score: int | None, name_key: str) -> tuple[int, int, int, str]:
    return (_BAND_RISK.get(band, 2), 0 if overdue else 1, score if score is not None else 101, name_key)


def _band(health_band: str | None) -> str:
    return health_band if health_band in _BAND_RISK else "unknown"


@dataclass(frozen=True)
class CustomerFacts:
    """Everything a Home row or the digest says about one customer, computed from domain rules."""

    customer: Customer
    contact: LastContact
    band: str  # health band: green / yellow / red / unknown
    score: int | None
    overdue: bool  # past the cadence's maximum window (standing red)
    due_today: bool  # a call is due today (customer-local) and none was logged yet
    next_nudge: datetime | None  # UTC
    next_note: str  # "paused", "snoozed until …", "no cadence" — when there is no next nudge to show
    tz: str
    last_contact_at: datetime | None = None  # what satisfies the cadence: the last call, or any check-in

    @property
    def at_risk(self) -> bool:
        return at_risk(self.band, overdue=self.overdue, last_mood=self.contact.mood)

    def risk_key(self) -> tuple[int, int, int, str]:
        return _risk_key(self.band, self.overdue, self.score, self.customer.name_key)


@dataclass(frozen=True, slots=True)
class RiskFacts:
    """What ranks, filters and counts one Home row. Built for every customer in scope; the full CustomerFacts
    (next nudge, trend, boundaries) only for the page shown."""

    candidate: HomeCandidate
    band: str
    overdue: bool
    due_today: bool

    @property
    def at_risk(self) -> bool:
        return at_risk(self.band, overdue=self.overdue, last_mood=self.candidate.last_mood)

    def risk_key(self) -> tuple[int, int, int, str]:
        return _risk_key(self.band, self.overdue, self.candidate.health_score, self.candidate.name_key)


@lru_cache(maxsize=1024)
def _calendar(tz: str, country: str | None, working_week: str | None, subdiv: str | None) -> WorkCalendar:
    return WorkCalendar.create(tz, country, working_week, subdiv=subdiv)


@lru_cache(maxsize=1024)
def _cadence(text: str | None) -> Cadence:
    return parse_cadence(text) if text else parse_cadence("off")


def customer_calendar(customer: CustomerSettings, default_tz: str) -> WorkCalendar:
    # Cached: a team's customers share a handful of calendars, and building one validates zone and holidays.
    return _calendar(customer.tz or default_tz, customer.country, customer.working_week, customer.subdiv)


class CadenceDay:
    """One (calendar, cadence, windows) set on the day of `now`: what it says about any customer who has it.

    Every answer depends on a customer only through customer-local dates (of the last contact, of the creation),
    so it is worked out once per date and shared: a team's thousand customers have a few dozen such pairs, and the
    calendar searches behind "overdue" and "call due today" run per pair, not per customer.
    """

    def __init__(
        self,
        cal: WorkCalendar,
        cadence: Cadence,
        now: datetime,
        settings: planner.Scheduled,
        normal: Cadence | None = None,
    ) -> None:
        # `settings`: any customer with this calendar, cadence, launch mode and windows (they are all it is asked);
        # `cadence` is today's (launch mode's daily calls while on), `normal` the one launch mode returns to.
        self.cal, self.cadence, self.now, self._settings = cal, cadence, now, settings
        self.normal = normal if normal is not None else cadence
        self.today = cal.local_date(now)
        self._red_until: tuple[date | None] | None = None
        self._first: tuple[date, bool] | None = None
        self._open_since: dict[date, bool] = {}
        self._today_bounds: tuple[datetime, datetime] | None = None
        self._call_today: bool | None = None
        self._previous_call: tuple[datetime | None] | None = None

    def overdue(self, clock_start: datetime | None, created_at: datetime) -> bool:
        """Past the customer's maximum window (standing red) since its clock started (`planner.clock_start`: the last
        call or a later restart), or since it was added."""
        reference = clock_start if clock_start is not None else created_at
        day = self.cal.local_date(reference)
        if self._red_until is None:
            # The first question is answered directly (a card or one customer needs no boundary search); the
            # boundary is searched once a second contact day is asked about, i.e. when many customers share it.
            if self._first is None or self._first[0] == day:
                if self._first is None:
                    self._first = (day, self._is_red(day))
                return self._first[1]
            self._red_until = (self._latest_red_day(),)
        latest_red = self._red_until[0]
        if latest_red is not None:
            return day <= latest_red
        # No red day within the search: only a contact older than that window can be overdue, so ask directly.
        return day < self.today - timedelta(days=_RED_SEARCH_DAYS) and self._is_red(day)

    def _is_red(self, day: date) -> bool:
        """The owner's alert's rule (`planner.cadence_standing`) for a clock started on that customer-local day (it
        only reads the local date)."""
        at = self.cal.at_local(day, time(12, 0))
        found = planner.cadence_standing(self._settings, self.cal, last_contact_at=at, restart=None, now=self.now)
        return found is not None and found.state == "red"

    def _latest_red_day(self) -> date | None:
        """The latest contact day that leaves the customer red today. Red only grows with the time since the
        contact, so it is found by a widening step back from today, then halving between the last green day
        and the first red one: a dozen `standing` calls for the pair instead of one per customer."""
        today = self.today
        if self._is_red(today):
            return today
        green, step = today, 1
        while True:
            if step > _RED_SEARCH_DAYS:
                return None
            candidate = today - timedelta(days=step)
            if self._is_red(candidate):
                red = candidate
                break
            green, step = candidate, step * 2
        while (green - red).days > 1:  # red < … < green: the boundary lies between
            middle = red + timedelta(days=(green - red).days // 2)
            if self._is_red(middle):
                red = middle
            else:
                green = middle
        return red

    def call_due_today(
        self, last_contact_at: datetime | None, snoozed_until: datetime | None, restarted_at: datetime | None = None
    ) -> bool:
        """A call is scheduled today (customer-local) and nothing since the slot before it satisfied it; not one
        only launch mode schedules when launch mode began after it (`restarted_at`, its clock restart): daily calls
        are owed from then, and the outbox never nudged it."""
        cal, today = self.cal, self.today
        if restarted_at is not None and self._launched_after_todays_call(restarted_at):
            return False
        last_day = cal.local_date(last_contact_at) if last_contact_at is not None else None
        if last_day is not None and last_day >= today:
            return False  # heard from today: whatever is due today is satisfied
        if snoozed_until is not None and snoozed_until >= self._bounds()[1]:
            return False
        if not self._has_call_today():
            return False
        if last_day is None:
            return True
        # Today's slot counts calls since the previous slot: it is still open unless the last contact came after
        # every earlier slot, i.e. no slot fell between the last contact's day and today.
        since = max(last_day, today - timedelta(days=MAX_LOOKBACK_DAYS))
        found = self._open_since.get(since)
        if found is None:
            previous = self._latest_call_before_today()
            if previous is None and self.cadence.anchor is not None:
                # Today is the first call of a cadence that starts on a date: its period reaches back one interval
                # before it (domain.cadence), as the planner counts it.
                slot = due_slot(self.cadence, cal, at=self._bounds()[0])
                found = slot is not None and not is_satisfied(slot, last_contact_at, cal)
            else:
                found = previous is not None and previous >= cal.at_local(since, time(0, 0))
            self._open_since[since] = found
        return found

    def _bounds(self) -> tuple[datetime, datetime]:
        if self._today_bounds is None:
            start = self.cal.at_local(self.today, time(0, 0))
            self._today_bounds = (start, self.cal.at_local(self.today + timedelta(days=1), time(0, 0)))
        return self._today_bounds

    def _launched_after_todays_call(self, restarted_at: datetime) -> bool:
        day_start, day_end = self._bounds()
        if not day_start <= restarted_at < day_end:
            return False
        call = next(occurrences(self.cadence, self.cal, day_start, day_end), None)
        if call is None or restarted_at <= call:
            return False
        normal = _cadence(self._settings.cadence)  # launch mode aside: a call of its own today is owed as before
        return normal.is_off or next(occurrences(normal, self.cal, day_start, day_end), None) is None

    def _has_call_today(self) -> bool:
        if self._call_today is None:
            day_start, day_end = self._bounds()
            self._call_today = next(occurrences(self.cadence, self.cal, day_start, day_end), None) is not None
        return self._call_today

    def _latest_call_before_today(self) -> datetime | None:
        """The last scheduled call in the look-back window before today: searched backwards in growing windows
        (the latest call of a window that has any is the latest of all)."""
        if self._previous_call is None:
            day_start, _ = self._bounds()
            floor = self.cal.at_local(self.today - timedelta(days=MAX_LOOKBACK_DAYS), time(0, 0))
            span = 16
            while True:
                start = max(floor, day_start - timedelta(days=span))
                calls = list(occurrences(self.cadence, self.cal, start, day_start))
                if calls or start == floor:
                    break
                span *= 4
            self._previous_call = (calls[-1] if calls else None,)
        return self._previous_call[0]


class CadenceDays:
    """The CadenceDay of each customer's calendar and cadence for one `now`; share one across a render."""

    def __init__(self, *, now: datetime, default_tz: str) -> None:
        self.now, self.default_tz = now, default_tz
        self._days: dict[tuple[Any, ...], CadenceDay | None] = {}

    def of(self, customer: CustomerSettings) -> CadenceDay | None:
        """None when the stored settings are invalid (the row then shows "—" instead of failing the page)."""
        key = (
            customer.tz,
            customer.country,
            customer.working_week,
            customer.subdiv,
            customer.cadence,
            customer.launch_until,
            customer.ideal_days,
            customer.max_days,
        )
        if key not in self._days:
            self._days[key] = self._day(customer)
        return self._days[key]

    def _day(self, customer: CustomerSettings) -> CadenceDay | None:
        try:
            cal = customer_calendar(customer, self.default_tz)
            normal = _cadence(customer.cadence)
        except ValueError:
            return None
        cadence = launch_cadence(normal, launch_until=customer.launch_until, today=cal.local_date(self.now))
        return CadenceDay(cal, cadence, self.now, customer, normal)  # type: ignore[arg-type]  # a Customer or a HomeCandidate


def cadence_standing(
    customer: CustomerSettings,
    last_contact_at: datetime | None,
    *,
    days: CadenceDays,
    due_today: bool,
    restarted_at: datetime | None = None,
    snoozed_since: datetime | None = None,
    alerted_at: datetime | None = None,
) -> tuple[bool, bool, str]:
    """(overdue, call due today, note) — the note says why there is no next nudge ("paused", "no cadence", "—").

    Overdue by the owner's alert's rule (`planner.cadence_standing`, as `/partner list` and the card count it): past
    the customer's maximum window since its last call, or since its clock last restarted (`restarted_at`: a resume, a
    restore, a cadence set from off), worked out once per calendar, cadence and windows (CadenceDay), and not while a
    snooze holds the alert back (`snoozed_since`: when the current snooze was set); and from when the owner's overdue
    alert of this lapse is due (`alerted_at`: a missed daily call, `planner.alerted`). Not the call due today: a
    restart owes today's call as before."""
    day = days.of(customer)
    if day is None:
        return False, False, NO_VALUE
    if customer.paused_at is not None:
        # Paused: no call is owed until resumed, so none is overdue or due (nor counted, nor filtered as such).
        return False, False, paused_text(customer.paused_at, day.cal.tz)
    if day.cadence.is_off:
        return False, False, "no cadence"
    restart = (restarted_at, "") if restarted_at is not None else None  # what restarted it: Home says only overdue
    since, _ = planner.clock_start(
        day.cal, last_contact_at=last_contact_at, created_at=customer.created_at, restart=restart
    )
    overdue = day.overdue(since, customer.created_at)
    if overdue and snoozed_since is not None:  # a snoozed customer only: the rule asked for it alone
        held = planner.snooze_holds_overdue(
            customer,  # type: ignore[arg-type]  # a Customer or a HomeCandidate
            day.cal,
            clock_start=since,
            snoozed_since=snoozed_since,
            now=days.now,
        )
        overdue = not held
    if not overdue:
        overdue = planner.alerted(alerted_at, clock_start=since, created_at=customer.created_at, now=days.now)
    return overdue, due_today and day.call_due_today(last_contact_at, customer.snoozed_until, restarted_at), ""


def risk_facts(
    candidate: HomeCandidate, *, days: CadenceDays, due_today: bool, snoozed_since: datetime | None = None
) -> RiskFacts:
    overdue, due, _ = cadence_standing(
        candidate,
        candidate.last_contact_at,
        days=days,
        due_today=due_today,
        restarted_at=candidate.restarted_at,
        snoozed_since=snoozed_since,
        alerted_at=candidate.alerted_at,
    )
    return RiskFacts(candidate=candidate, band=_band(candidate.health_band), overdue=overdue, due_today=due)


def customer_facts(
    customer: Customer,
    contact: LastContact | None,
    *,
    now: datetime,
    default_tz: str,
    due_today: bool = True,
    any_checkin: bool = False,
    days: CadenceDays | None = None,
    snoozed_since: datetime | None = None,
) -> CustomerFacts:
    """Health and overdue for one customer — cheap enough for every customer of a team — and, unless
    `due_today` is False, whether a call is due today (see `with_due_today`). Like the cadence engine, only a
    call satisfies the cadence unless `any_checkin` (PARTNER_ANY_CHECKIN_SATISFIES). Pass one `days` for all the
    customers of a render so the calendar work is shared.

    The next nudge (a longer calendar search) is left to `with_next_nudge`, run only for the rows shown.
    Bad stored settings degrade to "—" rather than failing the page.
    """
    contact = contact or LastContact()
    last = contact.checkin_at if any_checkin else contact.call_at
    days = days or CadenceDays(now=now, default_tz=default_tz)
    overdue, due, note = cadence_standing(
        customer,
        last,
        days=days,
        due_today=due_today,
        restarted_at=contact.restarted_at,
        snoozed_since=snoozed_since,
        alerted_at=contact.alerted_at,
    )
    return CustomerFacts(
        customer=customer,
        contact=contact,
        band=_band(customer.health_band),
        score=customer.health_score,
        overdue=overdue,
        due_today=due,
        next_nudge=None,
        next_note=note,
        tz=customer.tz or default_tz,
        last_contact_at=last,
    )


def with_due_today(
    facts: CustomerFacts, *, now: datetime, default_tz: str, days: CadenceDays | None = None
) -> CustomerFacts:
    """Whether a call is due today (customer-local) that no check-in has satisfied yet."""
    customer = facts.customer
    if facts.due_today or customer.paused_at is not None:
        return facts
    day = (days or CadenceDays(now=now, default_tz=default_tz)).of(customer)
    if day is None or day.cadence.is_off:
        return facts
    if not day.call_due_today(facts.last_contact_at, customer.snoozed_until, facts.contact.restarted_at):
        return facts
    return replace(facts, due_today=True)


def with_next_nudge(
    facts: CustomerFacts,
    *,
    now: datetime,
    default_tz: str,
    days: CadenceDays | None = None,
    comes_back: datetime | None = None,
    nudged_days: Collection[date] = (),
) -> CustomerFacts:
    """Adds when the next nudge is due, honouring pause, snooze, launch mode and a call already logged;
    `comes_back`: when a snoozed call comes back (`planner.snoozed_calls_back`), before the calls after the snooze;
    `nudged_days`: days whose one nudge went out already (the call's time moved later after it did)."""
    customer = facts.customer
    day = (days or CadenceDays(now=now, default_tz=default_tz)).of(customer)
    if day is None or day.cadence.is_off or customer.paused_at is not None:
        return facts
    due = next_nudge_of(
        day.normal,
        calendar=day.cal,
        now=now,
        snoozed_until=customer.snoozed_until,
        launch_until=customer.launch_until,
        last_contact_at=facts.last_contact_at,
        comes_back=comes_back,
        nudged_days=nudged_days,
    )
    if due is None:
        snoozed = customer.snoozed_until is not None and customer.snoozed_until > now
        note = f"snoozed until {local_time(customer.snoozed_until, facts.tz)}" if snoozed else "no call scheduled"
        return replace(facts, next_note=note)
    return replace(facts, next_nudge=due, next_note="")


def health_trend(
    points: Sequence[tuple[date, int]], *, now: datetime, tz: str, weeks: int = SPARK_WEEKS
) -> list[int | None]:
    """The last value of each of the last `weeks` weeks; a snapshot's day is a customer-local date.

    Each is placed at the start of its day: today's score, saved at any hour today, is never "after now" (noon
    dropped it every morning, leaving a Monday's week blank and other days showing yesterday's score)."""
    zone = WorkCalendar(tz=tz).zone()
    stamped = [(datetime.combine(day, time(0), tzinfo=zone), score) for day, score in points]
    return weekly_series(stamped, now=now, weeks=weeks, tz=tz)


def trend_text(series: Sequence[int | None]) -> str:
    return sparkline(series) if any(v is not None for v in series) else NO_VALUE


Ranked = TypeVar("Ranked", CustomerFacts, RiskFacts)


def sort_by_risk(facts: Sequence[Ranked]) -> list[Ranked]:
    return sorted(facts, key=lambda f: f.risk_key())


def apply_filters(facts: Sequence[RiskFacts], state: HomeState, viewer_id: str) -> list[RiskFacts]:
    chosen = [f for f in facts if state.scope == "team" or f.candidate.owner_id == viewer_id]
    if state.show == "risk":
        chosen = [f for f in chosen if f.at_risk]
    if state.tier == NO_TIER:
        chosen = [f for f in chosen if not f.candidate.tier]
    elif state.tier:
        chosen = [f for f in chosen if (f.candidate.tier or "").lower() == state.tier.lower()]
    return chosen


def page_count(total: int) -> int:
    return max(1, -(-total // PAGE_SIZE))


# --------------------------------------------------------------------------- the view


@dataclass(frozen=True)
class WeekSummary:
    """The header strip: the viewer's own customers this week."""

    due_today: int = 0
    overdue: int = 0
    boundaries_slipping: int = 0
    surveys_pending: int = 0

    @classmethod
    def of(cls, mine: Sequence[CustomerFacts | RiskFacts], counts: HomeHeaderCounts) -> WeekSummary:
        return cls(
            due_today=sum(1 for f in mine if f.due_today),
            overdue=sum(1 for f in mine if f.overdue),
            boundaries_slipping=counts.boundaries_slipping,
            surveys_pending=counts.surveys_pending,
        )


@dataclass(frozen=True)
class HomePage:
    """One rendered page of the dashboard: the rows shown and what the view needs around them."""

    state: HomeState
    rows: Sequence[CustomerFacts]
    total: int  # customers matching the filters, all pages
    week: WeekSummary
    tiers: Sequence[str]  # tier filter choices
    trends: dict[int, list[int | None]]
    boundaries: dict[int, list[Boundary]]
    has_customers: bool  # any customer at all in the chosen scope, before the at-risk/tier filters
    team_has_customers: bool = True  # any customer in the workspace, whoever owns it
    escalate_window: timedelta = DEFAULT_POLICY.escalate_window  # a need escalated within it is marked on its row
    # Active needs the team is still asked to decide about: when the owner was asked (not once decided).
    open_escalations: dict[int, datetime] = field(default_factory=dict)


def _option(text: str, value: str) -> dict[str, Any]:
    return {"text": plain(text, 75), "value": value}


def _select(action_id: str, placeholder: str, options: list[dict[str, Any]], chosen: str) -> dict[str, Any]:
    initial = next((o for o in options if o["value"] == chosen), options[0])
    return {
        "type": "static_select",
        "action_id": action_id,
        "placeholder": plain(placeholder, 75),
        "options": options,
        "initial_option": initial,
    }


def filter_block(state: HomeState, tiers: Sequence[str]) -> dict[str, Any]:
    tier_options = [_option("Any tier", "any")]
    known = list(dict.fromkeys([*tiers, *([state.tier] if state.tier and state.tier != NO_TIER else [])]))
    # A static_select holds at most 100 options.
    tier_options += [_option(f"Tier: {tier_text(t)}", t) for t in known[:97]]
    tier_options.append(_option("No tier", NO_TIER))
    return {
        "type": "actions",
        "block_id": "home_filters",
        "elements": [
            _select(
                HOME_SCOPE,
                "Whose customers",
                [_option("My customers", "mine"), _option("Whole team", "team")],
                state.scope,
            ),
            _select(HOME_SHOW, "Which", [_option("All", "all"), _option("At risk only", "risk")], state.show),
            _select(HOME_TIER, "Tier", tier_options, state.tier or "any"),
        ],
    }


def week_block(week: WeekSummary) -> dict[str, Any]:
    def field(label: str, value: int, emoji: str) -> dict[str, Any]:
        return {"type": "mrkdwn", "text": f"{emoji} *{label}*\n{value}"}

    return {
        "type": "section",
        "block_id": "home_week",
        "fields": [
            field("Calls due today", week.due_today, ":telephone_receiver:"),
            field("Overdue", week.overdue, ":hourglass:"),
            field("Boundaries slipping", week.boundaries_slipping, ":construction:"),
            field("Surveys pending", week.surveys_pending, ":clipboard:"),
        ],
    }


def row_text(
    facts: CustomerFacts,
    trend: Sequence[int | None],
    boundaries: Sequence[Boundary],
    now: datetime,
    escalate_window: timedelta = DEFAULT_POLICY.escalate_window,
    open_escalations: Mapping[int, datetime] | None = None,
) -> str:
    customer = facts.customer
    title = f"*{mrkdwn_name(customer.name)}*"
    if customer.tier:
        title += f"  ·  tier {tier_text(customer.tier)}"
    if customer.owner_id:
        title += f"  ·  <@{customer.owner_id}>"
        if facts.contact.owner_gone:
            title += f" ({OWNER_GONE_NOTE})"
    score = str(facts.score) if facts.score is not None else NO_VALUE
    health = f"{BAND_EMOJI[facts.band]} *{score}*  `{trend_text(trend)}`"
    contact = facts.contact
    # The customer's own view next to ours, as on the card: it feeds the health score beside it.
    if (theirs := their_view_note(customer.tier, contact.their_answers, contact.their_answer_at, now)) is not None:
        health += f"  ·  :speech_balloon: {theirs}"
    if contact.checkin_at is not None:
        mood = mood_badge(contact.mood)
        last = f"{mood} last check-in {ago(contact.checkin_at, now)}".strip()
    else:
        last = "no check-in yet"
    if facts.next_nudge is not None:
        nudge = f"next call {local_time(facts.next_nudge, facts.tz)}{snooze_note(customer, now, facts.tz)}"
    else:
        nudge = facts.next_note or "no call scheduled"
    flags = []
    if facts.overdue:
        flags.append(":rotating_light: *overdue*")
    elif facts.due_today:
        flags.append(DUE_TODAY)
    lines = [title, "  ·  ".join([health, last, nudge, *flags])]
    if (flag := channel_flag(customer)) is not None:
        lines.append(flag)
    if boundaries:
        more = f" (+{len(boundaries) - 1} more)" if len(boundaries) > 1 else ""
        line = f":handshake: {truncate(boundaries[0].text, 200)}{more}"
        # An active need the team is still asked to decide about, dated as its card, the digest and the owner's DM
        # date it: not once the owner decided (a decision moves the row's escalated_at, so that is not read here).
        asked = [(open_escalations or {}).get(b.id or 0) for b in boundaries]
        escalations = [at for at in asked if at is not None and now - at <= escalate_window]
        if escalations:
            line += f"  ·  {escalation_note(max(escalations), WorkCalendar(tz=facts.tz))}"
        lines.append(line)
    return "\n".join(lines)


def row_blocks(
    facts: CustomerFacts,
    trend: Sequence[int | None],
    boundaries: Sequence[Boundary],
    now: datetime,
    escalate_window: timedelta = DEFAULT_POLICY.escalate_window,
    open_escalations: Mapping[int, datetime] | None = None,
) -> list[dict[str, Any]]:
    cid = str(facts.customer.id)
    return [
        section(row_text(facts, trend, boundaries, now, escalate_window, open_escalations), block_id=f"customer_{cid}"),
        {
            "type": "actions",
            "block_id": f"customer_{cid}_actions",
            "elements": [
                button("Log check-in", OPEN_CHECKIN, cid, style="primary"),
                button("Snooze", HOME_SNOOZE, cid),
                button("Open card", HOME_OPEN_CARD, cid),
                survey_menu(facts.customer),  # the surveys straight from Home, as on the card
            ],
        },
        {"type": "divider"},
    ]


def home_view(page: HomePage, *, now: datetime) -> dict[str, Any]:
    """The dashboard for one viewer: week strip, filters, one page of customers sorted by risk, paging."""
    state = page.state
    title = "My customers" if state.scope == "mine" else "Team customers"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "block_id": "home_header", "text": plain(title)},
        week_block(page.week),
        filter_block(state, page.tiers),
        {"type": "divider"},
    ]
    if not page.rows:
        if not page.team_has_customers:  # a new workspace's first look: what to do first, not "no match"
            blocks.append(
                section(
                    ":wave: *Welcome to Partner.* Your team has no customers here yet. Add the first with "
                    "`/partner add Acme #acme @owner`: its owner is nudged to check in on the customer's cadence, "
                    "and this tab then shows every customer's health, riskiest first. `/partner help` lists the rest."
                )
            )
        elif not page.has_customers and state.scope == "mine":
            # The team may well have customers: this viewer owns none of them (yet).
            blocks.append(
                section(
                    "You don't own any customers yet. Pick *Whole team* above to see everyone's, or add one with "
                    "`/partner add Acme #acme @owner`."
                )
            )
        else:
            blocks.append(section("No customer matches these filters."))
    for facts in page.rows:
        cid = facts.customer.id or 0
        trend, boundaries = page.trends.get(cid, []), page.boundaries.get(cid, [])
        blocks += row_blocks(facts, trend, boundaries, now, page.escalate_window, page.open_escalations)
    pages = page_count(page.total)
    if page.total:
        shown_from = state.page * PAGE_SIZE + 1
        shown_to = state.page * PAGE_SIZE + len(page.rows)
        shown = f"{shown_from}–{shown_to}" if shown_to > shown_from else f"{shown_from}"  # "1 of 1", not "1–1 of 1"
        customers = "customer" if page.total == 1 else "customers"
        blocks.append(
            context(
                f"{shown} of {page.total} {customers}, riskiest first · page {state.page + 1} of {pages}"
                f" · updated {slack_date(now, '{time}')}"  # on each viewer's own clock, as Slack shows dates
            )
        )
    paging = []
    if state.page > 0:
        paging.append(button("← Previous", HOME_PREV_PAGE, str(state.page - 1)))
    if state.page + 1 < pages:
        paging.append(button("Next →", HOME_NEXT_PAGE, str(state.page + 1)))
    if paging:
        blocks.append({"type": "actions", "block_id": "home_pages", "elements": paging})
    assert len(blocks) <= MAX_HOME_BLOCKS, f"Home has {len(blocks)} blocks"
    return {"type": "home", "blocks": blocks, "private_metadata": state.to_metadata()}


HOME_NOTICE_BLOCK = "home_notice"


def with_notice(view: dict[str, Any], notice: str) -> dict[str, Any]:
    """`view` (a Home as published) with `notice` under its header, in place of any earlier one: only what
    views.publish takes is kept (a click's payload adds the view's id, state and hash)."""
    blocks = [b for b in view.get("blocks") or [] if b.get("block_id") != HOME_NOTICE_BLOCK]
    at = 1 if blocks and blocks[0].get("type") == "header" else 0
    blocks.insert(at, {**context(f":warning: {notice}"), "block_id": HOME_NOTICE_BLOCK})
    kept = {k: view[k] for k in ("private_metadata", "callback_id", "external_id") if view.get(k)}
    return {"type": "home", "blocks": blocks[:MAX_HOME_BLOCKS], **kept}


CARD_METADATA_KEY = "home_card"  # the card modal's private_metadata: {"home_card": customer id}


def card_modal(
    facts: CustomerFacts,
    *,
    trend: Sequence[int | None],
    boundaries: Sequence[Boundary],
    now: datetime,
    their_views: Sequence[SurveyResponse] = (),
    profile: SurveyResponse | None = None,
    scorecard: SurveyResponse | None = None,
    practices: SurveyResponse | None = None,
    boundary_records: Sequence[BoundaryRecord] = (),
    boundary_policy: Policy | None = None,
    notice: str | None = None,
) -> dict[str, Any]:
    """The customer's card opened from a Home row: what the row says, the settings, and the surveys with their
    buttons as on the `/partner show` card (a survey opened here is pushed on top of this modal). `notice` says
    what just happened (a survey saved, the customer's people asked)."""
    customer = facts.customer
    asked = {r.id: r.escalation.asked_at for r in boundary_records if r.escalation and r.escalation.decided_at is None}
    details = [
        f"*Owner:* <@{customer.owner_id}>" if customer.owner_id else "*Owner:* —",
        f"*Channel:* <#{customer.channel_id}>" if customer.channel_id else "*Channel:* —",
        *([problem] if (problem := channel_problem(customer)) is not None else []),
        f"*Time zone:* {calendar_text(customer, facts.tz, now)}",  # holidays and working week, as `/partner show`
        f"*Cadence:* {cadence_windows_text(customer, facts.tz, now)}",  # in words, as `/partner show` says it
        f"*Tier:* {tier_text(customer.tier)}",
        f"*Health trend:* {trend_words(trend)}",  # the sparkline above, in words (as `/partner status` says it)
    ]
    if customer.paused_at is not None:
        details.append(f"*Paused* since {local_time(customer.paused_at, facts.tz)}")
    if customer.snoozed_until is not None and customer.snoozed_until > now:
        reason = f" — {customer.snooze_reason}" if customer.snooze_reason else ""
        details.append(f"*Snoozed* until {local_time(customer.snoozed_until, facts.tz)}{reason}")
    blocks: list[dict[str, Any]] = [
        *([context(notice)] if notice else []),
        section(row_text(facts, trend, boundaries, now, (boundary_policy or DEFAULT_POLICY).escalate_window, asked)),
        {"type": "divider"},
        section("\n".join(details)),
    ]
    if customer.archived_at is None and customer.id is not None:
        if boundary_records and boundary_policy is not None:
            # The Boundaries section with its buttons, as on the `/partner show` card (a click redraws this card).
            blocks += [
                {"type": "divider"},
                *boundary_section_blocks(customer, boundary_records, now, boundary_policy, WorkCalendar(tz=facts.tz)),
            ]
        blocks += [
            {"type": "divider"},
            *card_survey_blocks(customer, their_views, profile, scorecard=scorecard, practices=practices, now=now),
            {
                "type": "actions",
                "block_id": "card_surveys",
                "elements": [
                    survey_button(customer.id, "scorecard", text="Scorecard"),
                    *([ask_button(customer)] if may_ask(customer) else []),
                ],
            },
        ]
    blocks.append(context("Change the cadence, snooze or pause with `/partner` — see `/partner help`."))
    return {
        "type": "modal",
        "title": plain(truncate(customer.name, 24), 24),
        "close": plain("Close"),
        "private_metadata": json.dumps({CARD_METADATA_KEY: customer.id}),
        "blocks": blocks,
    }
