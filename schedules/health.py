"""The health score service: gather a customer's inputs, score them, store the score, alert on a sharp drop.

`health_inputs` is pure (plain rows in, `HealthInputs` out) so the rules are tested without a database;
`recompute_health` does the reading and writing around it and is called after every relevant change
(survey answers, check-ins, boundary slips and status changes, cadence/launch/pause changes) and once a
local day per customer by the `health` job. It makes no Slack call: a sharp drop is owed to the owner as a
``health_drop`` nudge in the outbox, posted by the generic sender (schedules/sender.py).

The daily job (:func:`daily_health`) runs last in each tick, most stale scores first, within a time budget, and
scores customers in batches (:func:`recompute_health_many`: one query per kind of input and one transaction per
batch) — the same scores as :func:`recompute_health` one by one, which the request path keeps using.
"""

from __future__ import annotations

import functools
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as wall_time
from typing import Any

from slack_sdk import WebClient

from bot.settings import Settings
from domain import boundaries as bd
from domain.cadence import Cadence, due_slots, launch_cadence, parse_cadence
from domain.calendar import WorkCalendar
from domain.health import (
    DEFAULT_THRESHOLDS,
    DEFAULT_WEIGHTS,
    Health,
    HealthInputs,
    HealthThresholds,
    HealthWeights,
    compute_health,
    dropped_sharply,
    mood_value,
    what_moved,
)
from domain.surveys import LEVELS
from handlers.blocks import mrkdwn_name, section
from handlers.blocks.health import drop_alert_text, gap_alert_text
from handlers.blocks.surveys import LEVEL_NAMES
from handlers.home_publisher import request_home_refresh
from schedules.cadence import instead_of_gone_owner, owner_gone_text
from schedules.planner import at_work
from schedules.sender import Message, Skip, register
from storage.boundaries import to_rule
from storage.health import CheckInPoint, HealthScore, ScorePoint
from storage.models import Boundary, BoundarySlip, CheckIn, Customer, Nudge, SurveyResponse
from storage.store import Store

logger = logging.getLogger("partner.health")

ADHERENCE_WINDOW = timedelta(days=30)
MOOD_WINDOW = timedelta(days=90)  # with a 14-day half-life, older moods weigh under 1 %
MOOD_MAX_CHECKINS = 20
# A check-in as the score reads it: a stored row, or the plain row the store reads for the score.
ScoredCheckIn = CheckIn | CheckInPoint
DROP_POINTS = 15
DROP_DAYS = 7
HEALTH_DROP = "health_drop"  # the outbox kind of the owner's drop alert

_CADENCE_LABELS = {
    "daily": "daily calls",
    "weekly": "weekly check-ins",
    "biweekly": "fortnightly check-ins",
    "monthly": "monthly check-ins",
    "every": "check-ins",
}


@dataclass(frozen=True)
class HealthConfig:
    """What settings can change about the score."""

    weights: HealthWeights = DEFAULT_WEIGHTS
    thresholds: HealthThresholds = DEFAULT_THRESHOLDS
    default_tz: str = "UTC"

    @property
    def made_with(self) -> str:
        """What a stored score and band depend on, as one text: stored beside them, compared at each tick."""
        weights = ",".join(f"{k}={v:g}" for k, v in sorted(vars(self.weights).items()))
        return f"{weights};green={self.thresholds.green:g},yellow={self.thresholds.yellow:g}"


DEFAULT_CONFIG = HealthConfig()


def health_config(settings: Settings | None) -> HealthConfig:
    """The score's configuration from settings (the defaults when there are none, e.g. in a bare job run)."""
    if settings is None:
        return DEFAULT_CONFIG
    return HealthConfig(
        weights=settings.health_weights, thresholds=settings.health_thresholds, default_tz=settings.default_tz
    )


# --- Pure: rows in, HealthInputs out ---------------------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def _calendar(tz: str, country: str | None, working_week: str | None, subdiv: str | None) -> WorkCalendar:
    # Built once per distinct setting: the daily job asks for thousands of customers' calendars, most alike, and
    # validating a country's holidays is not free. A WorkCalendar is frozen, so sharing one is safe.
    return WorkCalendar.create(tz, country, working_week, subdiv=subdiv)


def customer_calendar(customer: Customer, default_tz: str = "UTC") -> WorkCalendar:
    """The customer's working calendar; a stored value that no longer validates falls back to plain UTC weekdays."""
    try:
        return _calendar(customer.tz or default_tz, customer.country, customer.working_week, customer.subdiv)
    except ValueError:
        logger.warning("customer %s has an invalid calendar; using %s weekdays", customer.id, default_tz)
        return WorkCalendar(tz=default_tz)


def customer_cadence(customer: Customer) -> Cadence | None:
    """The stored cadence, or None when none is set (or it no longer parses)."""
    if not customer.cadence:
        return None
    try:
        return parse_cadence(customer.cadence)
    except ValueError:
        logger.warning("customer %s has an unreadable cadence %r", customer.id, customer.cadence)
        return None


def _counts(checkin: ScoredCheckIn, daily: bool) -> bool:
    # A daily cadence is about calls; any other cadence is kept by any check-in.
    return checkin.kind == "call" if daily else True


def adherence(
    cadence: Cadence | None,
    cal: WorkCalendar,
    checkins: Sequence[ScoredCheckIn],
    *,
    since: datetime,
    now: datetime,
    launch_until: date | None = None,
    launch_from: datetime | None = None,
    excused: frozenset[date] | set[date] = frozenset(),
) -> tuple[tuple[int, int] | None, str]:
    """((due, logged), label) over (since, now]; a slot counts as logged when a check-in falls in its period.

    Launch mode makes the days up to `launch_until` daily calls, from `launch_from` (when it was turned on, if known:
    the days before it owed the normal cadence's calls, not daily ones); the normal cadence applies after them. The
    slots of `excused` days (a person skipped or snoozed that call) were not owed: left out, as the missed-call alert
    does.
    """
    normal = cadence or Cadence("off")
    slots: list[tuple[Any, bool]] = []  # (slot, is_daily)

    def launched(slot: Any) -> bool:
        return (
            launch_until is not None
            and slot.local_date <= launch_until
            and (launch_from is None or slot.due_at > launch_from)
        )

    if launch_until is not None:
        launch = Cadence("daily", at=normal.at)
        slots += [(s, True) for s in due_slots(launch, cal, since=since, now=now) if launched(s)]
    slots += [(s, normal.kind == "daily") for s in due_slots(normal, cal, since=since, now=now) if not launched(s)]
    today = cal.local_date(now)
    current = launch_cadence(normal, launch_until=launch_until, today=today)
    label = _CADENCE_LABELS.get(current.kind, "check-ins")
    slots = [(slot, daily) for slot, daily in slots if slot.local_date not in excused]
    days = [(cal.local_date(c.created_at), c) for c in checkins]
    due = logged = 0
    for slot, daily in slots:
        start = slot.period_start or slot.local_date
        if any(start <= day <= slot.local_date and _counts(c, daily) for day, c in days):
            due += 1
            logged += 1
        elif slot.local_date < today:
            due += 1
        # Today's call not logged yet is still to make, not missed: its day is not over (the missed-call alert
        # waits for the next day too). Counted missed at 09:01, a customer added this morning read yellow at once.
    if not due:
        return None, label
    return (due, logged), label


def _windows(customer: Customer, cadence: Cadence | None, today: date) -> tuple[int, int, bool] | None:
    """(ideal, max, in business days) for recency; the customer's own overrides win over the cadence's."""
    current = launch_cadence(cadence or Cadence("off"), launch_until=customer.launch_until, today=today)
    limits = current.thresholds
    ideal = customer.ideal_days or (limits.ideal_days if limits else None)
    if ideal is None:
        return None
    most = customer.max_days or (limits.max_days if limits else None) or -(-ideal * 14 // 10)
    business = bool(limits and limits.business_days and not customer.ideal_days)
    return ideal, max(ideal, most), business


def health_inputs(
    *,
    customer: Customer,
    checkins: Sequence[ScoredCheckIn],
    last_contact_at: datetime | None,
    boundaries: Sequence[bd.Boundary],
    scorecard: tuple[float, datetime] | None,
    now: datetime,
    default_tz: str = "UTC",
    flagged_at: datetime | None = None,
    pauses: Sequence[tuple[datetime, datetime]] = (),
    launch_from: datetime | None = None,
    excused: frozenset[date] | set[date] = frozenset(),
    their_level: str | None = None,
    their_level_at: datetime | None = None,
) -> HealthInputs:
    """Everything compute_health needs, from plain rows.

    `checkins` are the customer's check-ins of the last MOOD_WINDOW (any order); `last_contact_at` the latest
    check-in that counts for the cadence (a call for daily cadences), however old; `scorecard` the latest
    scorecard's (average, when); `pauses` the customer's pauses that ended, (paused at, resumed at), each;
    `launch_from` when launch mode began owing daily calls (no daily call was owed before it).
    """
    cal = customer_calendar(customer, default_tz)
    cadence = customer_cadence(customer)
    today = cal.local_date(now)
    end = min(now, customer.paused_at) if customer.paused_at else now  # a paused customer owes nothing
    since = max(now - ADHERENCE_WINDOW, customer.created_at)

    def owed_between(start: datetime, until: datetime) -> tuple[tuple[int, int] | None, str]:
        return adherence(
            cadence,
            cal,
            checkins,
            since=start,
            now=until,
            launch_until=customer.launch_until,
            launch_from=launch_from,
            excused=excused,
        )

    counts, label = owed_between(since, end)
    ended = sorted((paused, resumed) for paused, resumed in pauses if resumed > since)
    if ended:
        # A pause owes no calls: the calls of every paused week are left out, those between the pauses count.
        owed = []
        start = since
        for paused, resumed in ended:
            owed.append(owed_between(start, min(end, max(start, paused)))[0])
            start = max(start, resumed)
        if start < end:
            owed.append(owed_between(start, end)[0])
        known = [c for c in owed if c is not None]
        counts = (sum(c[0] for c in known), sum(c[1] for c in known)) if known else None

    since_last = ideal = maximum = None
    business = False
    windows = _windows(customer, cadence, today)
    if windows is not None:
        ideal_days, max_days, business = windows
        reference = last_contact_at or customer.created_at  # never contacted: the clock runs from the start
        if pauses:
            reference = max(reference, *(resumed for _, resumed in pauses))  # a resume restarts it as a call would
        if launch_from is not None and customer.launch_until is not None and today <= customer.launch_until:
            reference = max(reference, launch_from)  # so does launch mode: its first daily call is owed from then
        ref_day = cal.local_date(reference)
        upto = cal.local_date(end)  # paused: the days since the pause are no call missed
        elapsed = cal.business_days_between(ref_day, upto) if business else max((upto - ref_day).days, 0)
        since_last, ideal, maximum = timedelta(days=elapsed), timedelta(days=ideal_days), timedelta(days=max_days)

    recent = sorted((c for c in checkins if c.created_at > now - MOOD_WINDOW), key=lambda c: c.created_at)
    moods = []
    for c in recent[-MOOD_MAX_CHECKINS:]:
        try:
            mood_value(c.mood)  # an unknown mood is left out of the score
            moods.append((c.created_at, c.mood))  # as typed: the reason names a rating "4/5", not "green"
        except ValueError:
            logger.warning("check-in %s has an unknown mood %r", c.id, c.mood)

    health_boundaries = bd.boundary_health(boundaries, now) if boundaries else None
    level = customer.tier if customer.tier in LEVELS else None
    return HealthInputs(
        adherence=counts,
        cadence_label=label,
        since_last=since_last,
        never_logged=None if last_contact_at is not None else "call" if _calls_only(customer) else "check-in",
        ideal=ideal,
        maximum=maximum,
        business_days=business,
        moods=moods,
        scorecard_avg=scorecard[0] if scorecard else None,
        scorecard_at=scorecard[1] if scorecard else None,
        level=level,
        their_level=their_level if their_level in LEVELS else None,
        their_level_at=their_level_at if their_level in LEVELS else None,
        boundaries=health_boundaries,
        # On the customer's clock: the reason names the day the owner flagged it, which in Auckland or Honolulu
        # is often not the UTC day.
        flagged_at=cal.local_datetime(flagged_at) if flagged_at is not None else None,
    )


def components_json(health: Health) -> dict[str, Any]:
    """How a score was made, for the snapshot row (so status can explain an old score too)."""
    return {
        "components": [
            {"name": c.name, "score": round(c.score, 1), "weight": round(c.weight, 4), "reason": c.reason}
            for c in health.components
        ],
        "reasons": health.top_reasons(2),
    }


# --- Reading and writing ---------------------------------------------------------------------------------


def _owes_calls(customer: Customer) -> bool:
    """Does the score's adherence read the customer's check-ins (a cadence, or launch mode's daily calls)?"""
    cadence = customer_cadence(customer)
    return customer.launch_until is not None or (cadence is not None and cadence.kind != "off")


def _calls_only(customer: Customer) -> bool:
    """Does only a call count as the last contact (a daily cadence, or launch mode's daily calls)?"""
    cadence = customer_cadence(customer)
    return customer.launch_until is not None or (cadence is not None and cadence.kind == "daily")


def _inputs_from_rows(
    customer: Customer,
    *,
    checkins: Sequence[ScoredCheckIn],
    last_contact_at: datetime | None,
    boundary_rows: Sequence[tuple[Boundary, Sequence[BoundarySlip]]],
    scorecard: SurveyResponse | None,
    now: datetime,
    config: HealthConfig,
    flagged_at: datetime | None = None,
    pauses: Sequence[tuple[datetime, datetime]] = (),
    launch_from: datetime | None = None,
    excused: frozenset[date] | set[date] = frozenset(),
    their_view: SurveyResponse | None = None,
) -> HealthInputs:
    """The stored rows of one customer, read one by one or in a batch, turned into the score's inputs.

    `their_view` is the customer's people's latest answer to `/partner ask` (the one the card shows as their view).
    """
    domain_boundaries = []
    for row, slips in boundary_rows:
        try:
            domain_boundaries.append(to_rule(row, slips))
        except ValueError:
            logger.warning("boundary %s is not valid for the health score; left out", row.id)
    return health_inputs(
        customer=customer,
        checkins=checkins,
        last_contact_at=last_contact_at,
        boundaries=domain_boundaries,
        scorecard=(scorecard.score, scorecard.created_at) if scorecard and scorecard.score is not None else None,
        now=now,
        default_tz=config.default_tz,
        flagged_at=flagged_at,
        pauses=pauses,
        launch_from=launch_from,
        excused=excused,
        their_level=str(their_view.answers.get("level")) if their_view is not None else None,
        their_level_at=their_view.created_at if their_view is not None else None,
    )


def _excused_days(store: Store, team_id: str, customers: Sequence[Customer], now: datetime) -> dict[int, set[date]]:
    """The days whose call a person skipped or snoozed, of each customer whose score counts calls; one query, none
    when no customer owes any."""
    ids = [c.id for c in customers if c.id is not None and _owes_calls(c)]
    return store.excused_call_days(team_id=team_id, customer_ids=ids, since=now - ADHERENCE_WINDOW) if ids else {}


def _owes_contact(customer: Customer) -> bool:
    """Does the score count calls or days without contact, which a pause stops and a resume restarts?"""
    return _owes_calls(customer) or customer.ideal_days is not None


def _pauses(store: Store, team_id: str, customers: Sequence[Customer]) -> dict[int, list[tuple[datetime, datetime]]]:
    """The ended pauses of each customer that owes contact; one query, none when no customer owes any."""
    ids = [c.id for c in customers if c.id is not None and _owes_contact(c)]
    if not ids:
        return {}
    pauses = store.ended_pauses(team_id=team_id, customer_ids=ids)
    # A cadence set from off owed nothing before: scored as if paused from the day added until it was set.
    added = {c.id: c.created_at for c in customers}
    # Its last setting from off, even with a pause resumed since: the weeks before it owed nothing either.
    for customer_id, (at, _how) in store.clock_restarts(team_id=team_id, customer_ids=ids, only="cadence_set").items():
        pauses.setdefault(customer_id, []).append((added[customer_id], at))
    return pauses


def _launch_starts(store: Store, team_id: str, customers: Sequence[Customer]) -> dict[int, datetime]:
    """When launch mode began owing daily calls, for the customers in launch mode it restarted the clock of
    (`/partner launch` on a weekly customer owes no daily call for the weeks before); none in launch mode, no query."""
    ids = [c.id for c in customers if c.id is not None and c.launch_until is not None]
    if not ids:
        return {}
    # The launch's own start, even when a pause resumed since restarted the clock last: the days before the launch
    # owed the normal cadence's calls, not daily ones, whatever came after it.
    restarts = store.clock_restarts(team_id=team_id, customer_ids=ids, only="launch")
    return {cid: at for cid, (at, _how) in restarts.items()}


def _flagged(
    store: Store, team_id: str, boundaries: dict[int, list[tuple[Boundary, list[BoundarySlip]]]], now: datetime
) -> dict[int, datetime]:
    """Each customer's latest relationship flag of the boundaries' health window. A flag answers an escalation:
    only customers with an escalated boundary are asked about (usually none, and then no query)."""
    escalated = [cid for cid, rows in boundaries.items() if any(row.escalated_at is not None for row, _ in rows)]
    if not escalated:
        return {}
    return store.relationship_flags_since(team_id=team_id, customer_ids=escalated, since=now - bd.HEALTH_WINDOW)


def gather_inputs(
    store: Store, customer: Customer, now: datetime, config: HealthConfig = DEFAULT_CONFIG
) -> HealthInputs:
    """One customer's inputs (the request path); :func:`gather_inputs_many` reads the same for a batch."""
    assert customer.id is not None
    team_id = customer.team_id
    since = now - MOOD_WINDOW
    if _owes_calls(customer):
        checkins = store.checkins_since(team_id=team_id, customer_id=customer.id, since=since)
    else:  # no cadence: only the latest moods count, however busy the customer (a burst's follow-ups score it)
        checkins = store.newest_checkins_since(
            team_id=team_id, customer_id=customer.id, since=since, limit=MOOD_MAX_CHECKINS
        )
    boundaries = store.boundaries_with_slips_many(team_id=team_id, customer_ids=[customer.id])
    return _inputs_from_rows(
        customer,
        checkins=checkins,
        last_contact_at=store.last_checkin_at(
            team_id=team_id, customer_id=customer.id, kinds=("call",) if _calls_only(customer) else None
        ),
        boundary_rows=boundaries[customer.id],
        scorecard=store.latest_survey_response(team_id=team_id, survey="scorecard", customer_id=customer.id),
        now=now,
        config=config,
        flagged_at=_flagged(store, team_id, boundaries, now).get(customer.id),
        pauses=_pauses(store, team_id, [customer]).get(customer.id, []),
        launch_from=_launch_starts(store, team_id, [customer]).get(customer.id),
        excused=_excused_days(store, team_id, [customer], now).get(customer.id, set()),
        their_view=store.latest_survey_response(
            team_id=team_id, survey="customer_view", customer_id=customer.id, external=True
        ),
    )


def gather_inputs_many(
    store: Store, team_id: str, customers: Sequence[Customer], now: datetime, config: HealthConfig = DEFAULT_CONFIG
) -> dict[int, HealthInputs]:
    """The inputs of many customers of one team, with one query per kind of input instead of several a customer.

    Gives exactly what :func:`gather_inputs` gives for each of them (tests/e2e/test_health.py compares the two).
    """
    ids = [c.id for c in customers if c.id is not None]
    checkins = store.checkins_since_many(team_id=team_id, customer_ids=ids, since=now - MOOD_WINDOW)
    # The last contact is the newest check-in of the mood window when it has one (the window is open-ended, so
    # that is the newest of all); only the customers without one need a look further back.
    last_contact: dict[int, datetime] = {}
    further: dict[bool, list[int]] = {False: [], True: []}
    for customer in customers:
        assert customer.id is not None
        calls_only = _calls_only(customer)
        counted = [c.created_at for c in checkins[customer.id] if not calls_only or c.kind == "call"]
        if counted:
            last_contact[customer.id] = max(counted)
        else:
            further[calls_only].append(customer.id)
    for calls_only, missing in further.items():
        kinds = ("call",) if calls_only else None
        last_contact.update(store.last_checkin_at_many(team_id=team_id, customer_ids=missing, kinds=kinds))
    boundaries = store.boundaries_with_slips_many(team_id=team_id, customer_ids=ids)
    flagged = _flagged(store, team_id, boundaries, now)
    scorecards = store.latest_survey_responses(team_id=team_id, customer_ids=ids, survey="scorecard")
    their_views = store.latest_survey_responses(
        team_id=team_id, customer_ids=ids, survey="customer_view", external=True
    )
    pauses = _pauses(store, team_id, customers)
    launches = _launch_starts(store, team_id, customers)
    excused = _excused_days(store, team_id, customers, now)
    return {
        customer.id: _inputs_from_rows(
            customer,
            checkins=checkins[customer.id],
            last_contact_at=last_contact.get(customer.id),
            boundary_rows=boundaries[customer.id],
            scorecard=scorecards.get(customer.id),
            now=now,
            config=config,
            flagged_at=flagged.get(customer.id),
            pauses=pauses.get(customer.id, []),
            launch_from=launches.get(customer.id),
            excused=excused.get(customer.id, set()),
            their_view=their_views.get(customer.id),
        )
        for customer in customers
        if customer.id is not None
    }


def _scored(
    customer: Customer, inputs: HealthInputs, now: datetime, config: HealthConfig
) -> tuple[Health, HealthScore]:
    """The score and what to store of it: the customer's row and the snapshot of their local day."""
    assert customer.id is not None
    health = compute_health(inputs, now=now, weights=config.weights, thresholds=config.thresholds)
    day = customer_calendar(customer, config.default_tz).local_date(now)
    row = HealthScore(
        customer_id=customer.id, score=health.score, band=health.band, components=components_json(health), day=day
    )
    return health, row


def current_health(store: Store, customer: Customer, now: datetime, *, config: HealthConfig = DEFAULT_CONFIG) -> Health:
    """The customer's score as of `now`, computed and not stored: reads only, so an answer can show it without
    waiting for another writer's lock, and leave storing it to :func:`recompute_health` after the answer."""
    return _scored(customer, gather_inputs(store, customer, now, config), now, config)[0]


def recompute_health(
    store: Store,
    team_id: str,
    customer_id: int,
    now: datetime,
    *,
    config: HealthConfig = DEFAULT_CONFIG,
) -> Health | None:
    """Scores the customer now, stores it (customer + the local day's snapshot) and returns it.

    A drop of 15+ points within a week is owed to the owner once, through the outbox (:func:`alert_on_drop`).
    Database work only, so it may run before an ack. None when the customer does not exist.
    """
    customer = store.customer(team_id=team_id, customer_id=customer_id)
    if customer is None:
        return None
    health, row = _scored(customer, gather_inputs(store, customer, now, config), now, config)
    store.save_health(
        team_id=team_id,
        customer_id=customer_id,
        score=row.score,
        band=row.band,
        components=row.components,
        day=row.day,
        now=now,
    )
    alert_on_drop(store, customer, now, default_tz=config.default_tz)
    return health


def recompute_health_many(
    store: Store,
    team_id: str,
    customer_ids: Sequence[int],
    now: datetime,
    *,
    config: HealthConfig = DEFAULT_CONFIG,
) -> dict[int, Health]:
    """:func:`recompute_health` for a batch of one team's customers: a few queries and one transaction in all.

    Customers that do not exist are left out of the answer.
    """
    customers = store.customers_by_id(team_id=team_id, customer_ids=customer_ids)  # fresh rows, as recompute reads
    batch = [customers[i] for i in customer_ids if i in customers]
    inputs = gather_inputs_many(store, team_id, batch, now, config)
    scored = {c.id: _scored(c, inputs[c.id], now, config) for c in batch if c.id is not None}
    saved = store.save_health_many(team_id=team_id, scores=[row for _, row in scored.values()], now=now)
    owned = [c for c in batch if c.id in saved and c.owner_id]
    since = (now - timedelta(days=2 * DROP_DAYS)).date()
    snapshots = store.health_scores_many(team_id=team_id, customer_ids=[c.id or 0 for c in owned], since=since)
    for customer in owned:
        alert_on_drop(store, customer, now, snapshots=snapshots[customer.id or 0], default_tz=config.default_tz)
    return {i: scored[i][0] for i in saved}


def refresh_health(
    store: Store, *, team_id: str, customer_id: int, now: datetime, settings: Settings | None
) -> Health | None:
    """Recompute after a change that moves the score (a slip, a boundary's status, cadence, launch, pause),
    so the card, status and Home show it at once. A failure is logged, never raised: the change itself stands
    and the daily job scores the customer again."""
    try:
        return recompute_health(store, team_id, customer_id, now, config=health_config(settings))
    except Exception:
        logger.exception("health recompute failed for customer %s", customer_id)
        return None


def score_points(store: Store, customer: Customer, since: date) -> list[tuple[datetime, int]]:
    assert customer.id is not None
    snapshots = store.health_snapshots(team_id=customer.team_id, customer_id=customer.id, since=since)
    return [(s.computed_at, s.score) for s in snapshots if s.score is not None]


def alert_on_drop(
    store: Store,
    customer: Customer,
    now: datetime,
    *,
    snapshots: Sequence[ScorePoint] | None = None,
    default_tz: str = "UTC",
) -> bool:
    """Owe the owner one DM when the score fell DROP_POINTS+ within DROP_DAYS; True when this call planned it.

    Once per drop, for real: the nudge's key names the snapshot day the score fell from, and the outbox's unique
    (team, kind, subject, due_key) lets exactly one insert win — a second recompute, a concurrent one in another
    thread or replica, or the next day's while the same fall still shows all find the row already there.
    The DM is due in working hours, like the overdue alert: a fall the daily job finds just after the customer's
    midnight (or on a weekend) goes out at the start of the next working day, not at 00:05.
    """
    assert customer.id is not None
    # Paused: its alerts stop (its score keeps ageing while no call is expected, a fall nobody needs told).
    if not customer.owner_id or customer.paused_at is not None:
        return False
    since = (now - timedelta(days=2 * DROP_DAYS)).date()
    if snapshots is None:  # a batch passes the scores it read for all its customers at once
        snapshots = store.health_scores_many(team_id=customer.team_id, customer_ids=[customer.id], since=since)[
            customer.id
        ]
    snapshots = sorted(
        (s for s in snapshots if s.score is not None and s.computed_at <= now and s.day >= since),
        key=lambda s: s.computed_at,
    )
    points = [(s.computed_at, s.score) for s in snapshots if s.score is not None]
    if not dropped_sharply(points, now=now, threshold=DROP_POINTS, days=DROP_DAYS):
        return False
    # A score made with other weights (PARTNER_HEALTH_WEIGHTS changed since) is no score the customer fell from.
    made_since = store.health_made_since(team_id=customer.team_id)
    if made_since is not None and snapshots[0].computed_at < made_since:
        snapshots = [s for s in snapshots if s.computed_at >= made_since]
        points = [(s.computed_at, s.score) for s in snapshots if s.score is not None]
        if not dropped_sharply(points, now=now, threshold=DROP_POINTS, days=DROP_DAYS):
            return False
    # A fall the owner was already told of counts on from the score they were told, not from a high before that:
    # the same slide seen a day later (its high a day younger, so another key) is not a new drop.
    told = store.nudges(
        team_id=customer.team_id,
        kinds=[HEALTH_DROP],
        due_after=now - timedelta(days=2 * DROP_DAYS),
        customer_ids=[customer.id],
    )
    last = max((n for n in told if n.created_at <= now), key=lambda n: n.created_at, default=None)
    if last is not None and isinstance(last.payload.get("to"), int):
        # The told score stands as of the alert (the day's snapshot may have been overwritten since).
        day = customer_calendar(customer, default_tz).local_date(last.created_at)
        snapshots = [ScorePoint(day=day, score=last.payload["to"], computed_at=last.created_at)] + [
            s for s in snapshots if s.computed_at > last.created_at
        ]
        points = [(s.computed_at, s.score) for s in snapshots if s.score is not None]
        if not dropped_sharply(points, now=now, threshold=DROP_POINTS, days=DROP_DAYS):
            return False
    # The same reference dropped_sharply measured from: the score standing as the week opened, or any since.
    opened = now - timedelta(days=DROP_DAYS)
    earlier = snapshots[:-1]
    reference = [s for s in earlier if s.computed_at <= opened][-1:] + [s for s in earlier if s.computed_at > opened]
    # The last day at the high, not the first: a score holds for days, and as the week slides past the first of
    # them the key must not change, or the owner hears about the same fall again every day.
    high, latest = max(reference, key=lambda s: (s.score or 0, s.computed_at)), snapshots[-1]
    # The owner not told yet (the DM held for working hours) while the score fell as far again: the same slide, not
    # a second one. That DM tells the whole fall from its own high, not "fell from 65 to 45" beside "81 to 65".
    untold = last is not None and last.status == "pending" and last.due_key.startswith("from:")
    high_day = date.fromisoformat(last.due_key.removeprefix("from:")) if last is not None and untold else high.day
    made = store.health_components_of_days(
        team_id=customer.team_id, customer_id=customer.id, days=[high_day, latest.day]
    )
    # What moved the score from the high to now (a red check-in: the mood), told before what weighs on it most.
    moved = what_moved(made.get(high_day, []), made.get(latest.day, [])) if high_day != latest.day else []
    if untold:
        note = {"to": latest.score, "moved": [[reason, lost] for reason, lost in moved]}
        store.add_to_pending_nudge(team_id=customer.team_id, kind=HEALTH_DROP, customer_id=customer.id, note=note)
        return False
    created = store.plan_nudge(
        team_id=customer.team_id,
        kind=HEALTH_DROP,
        subject=f"customer:{customer.id}",
        due_key=f"from:{high.day.isoformat()}",
        due_at=at_work(customer_calendar(customer, default_tz), now),
        now=now,
        customer_id=customer.id,
        recipient_id=customer.owner_id,
        payload={"from": high.score, "to": latest.score, "moved": [[reason, lost] for reason, lost in moved]},
    )
    if created:  # the customer's history, written once by whoever planned the alert
        store.record_health_alert(
            team_id=customer.team_id, customer_id=customer.id, detail={"from": high.score, "to": latest.score}, now=now
        )
    return created


def render_health_drop(nudge: Nudge, store: Store, now: datetime) -> Message | Skip:
    """To the owner: the score fell this week, with the top reasons as they stand now."""
    customer = store.customer(team_id=nudge.team_id, customer_id=nudge.customer_id or 0)
    if customer is None or customer.archived_at is not None:
        return Skip("customer gone", "cancelled")
    if customer.paused_at is not None and nudge.status != "sent":
        return Skip("customer paused", "cancelled")
    owner = customer.owner_id or nudge.recipient_id
    if not owner:
        return Skip("the customer has no owner", "cancelled")
    assert customer.id is not None
    reasons = store.latest_health_reasons(team_id=customer.team_id, customer_id=customer.id)
    high, latest = nudge.payload.get("from"), nudge.payload.get("to")
    moved = [(str(m[0]), int(m[1])) for m in nudge.payload.get("moved") or [] if isinstance(m, list) and len(m) == 2]
    # The answer to a view survey that made the fall also opened a gap between our view and theirs: said here, one DM.
    gap = nudge.payload.get("gap") or {}
    ours, theirs = gap.get("ours"), gap.get("theirs")
    gap_text = gap_alert_text(customer, ours, theirs) if ours in LEVEL_NAMES and theirs in LEVEL_NAMES else None
    # Held for working hours while the score came back: there is no fall left to tell (a gap note is still news).
    current = customer.health_score
    came_back = isinstance(high, int) and current is not None and high - current < DROP_POINTS
    if came_back and nudge.status != "sent" and gap_text is None:
        return Skip(f"the score is {current} again, within {DROP_POINTS} points of {high}", "cancelled")
    text = drop_alert_text(
        customer, high=high, latest=latest, reasons=reasons, current=customer.health_score, moved=moved, gap=gap_text
    )
    line = f"*{mrkdwn_name(customer.name)}*'s health fell from {high} to {latest}"
    if customer.health_score is not None and customer.health_score != latest:
        line += f" (now {customer.health_score})"
    if gap_text is not None:
        line += f"; they see us as *{LEVEL_NAMES[theirs]}*, we say *{LEVEL_NAMES[ours]}*"
    # Nobody reads a deactivated owner's DMs: the team's own channel hears of the fall, as of the overdue call.
    channel = instead_of_gone_owner(store, customer, now)
    if isinstance(channel, Skip):
        return channel
    if channel is not None:
        text += f"\n:warning: {owner_gone_text(owner, customer.name)}"
        return Message(text=text, blocks=[section(text, block_id=f"nudge:{nudge.id}")], channel=channel)
    return Message(text=text, blocks=[section(text, block_id=f"nudge:{nudge.id}")], user=owner, digest=line)


# A fall that still stands is worth telling after downtime.
register(HEALTH_DROP, render_health_drop, grace=False, label="the health-drop alert")


# --- The daily job ---------------------------------------------------------------------------------------


def _recompute_batch(
    store: Store, team_id: str, customers: Sequence[Customer], now: datetime, config: HealthConfig
) -> set[int]:
    """The batch's customers scored, in one go; should that fail, one by one, so one customer's bad data cannot
    stop the others. The ids scored."""
    ids = [c.id for c in customers if c.id is not None]
    try:
        return set(recompute_health_many(store, team_id, ids, now, config=config))
    except Exception:
        logger.exception("health recompute failed for a batch of %d customers; scoring them one by one", len(ids))
    scored: set[int] = set()
    for customer_id in ids:
        try:
            if recompute_health(store, team_id, customer_id, now, config=config) is not None:
                scored.add(customer_id)
        except Exception:
            logger.exception("health recompute failed for customer %s", customer_id)
    return scored


@dataclass(frozen=True)
class HealthJobBudget:
    """How much one tick's health job may do before it leaves the rest to the next ticks.

    The job runs every minute after the sender; the first tick of a customer-local day finds every customer due,
    and with thousands of customers one pass would take minutes. `seconds` is a duration (time.monotonic), not the
    clock: the customers left over are still "not scored today", so the next tick picks them up first.
    """

    seconds: float = 10.0
    batch: int = 200  # customers read and saved together (a few queries and one transaction a batch)


DEFAULT_BUDGET = HealthJobBudget()


def scored_today(customer: Customer, now: datetime, default_tz: str = "UTC") -> bool:
    """Has the customer a score from their own local today already?"""
    if customer.health_at is None:
        return False
    cal = customer_calendar(customer, default_tz)
    return cal.local_date(customer.health_at) >= cal.local_date(now)


def start_of_local_day(tz: str | None, now: datetime, default_tz: str = "UTC") -> datetime:
    """When `now`'s day began in the zone (the default zone for none or one that no longer loads), as UTC.

    What the daily job's query compares scores with. A customer whose calendar fails on something else (an old
    country code) is scored in the default zone but picked by its own: still once a day, at its own midnight.
    """
    try:
        cal = WorkCalendar(tz=tz or default_tz)
    except ValueError:
        cal = WorkCalendar(tz=default_tz)
    return cal.at_local(cal.local_date(now), wall_time(0))


def _most_stale_first(customer: Customer) -> tuple[bool, datetime, int]:
    # Never scored first, then the oldest score; the id keeps the order stable.
    return (customer.health_at is not None, customer.health_at or datetime.min.replace(tzinfo=UTC), customer.id or 0)


def note_health_config(store: Store, settings: Settings | None, now: datetime) -> dict[str, datetime]:
    """Records the health configuration in force (at start and at each tick): a workspace whose scores were made with
    another is to be scored again, and a score made before the change is no score its customers fell from
    (:func:`alert_on_drop`). Team → since when, for the workspaces whose customers are still to be scored again."""
    config = health_config(settings)
    return store.health_rescores(made_with=config.made_with, default=DEFAULT_CONFIG.made_with, now=now)


def daily_health(
    *,
    store: Store,
    client: WebClient,
    now: datetime,
    settings: Settings | None = None,
    budget: HealthJobBudget = DEFAULT_BUDGET,
    timer: Callable[[], float] = time.monotonic,
) -> int:
    """Recomputes each active customer once per customer-local day (runs every tick, cheap when up to date).

    The most stale scores go first, and the job stops after `budget.seconds` (at least one batch is always done,
    so it makes progress on any machine); whoever is left is scored by the following ticks.
    """
    config = health_config(settings)
    started = timer()
    candidates = store.customers_for_health(scored_before=lambda tz: start_of_local_day(tz, now, config.default_tz))
    # PARTNER_HEALTH_WEIGHTS or _THRESHOLDS changed since the scores were stored (a restart with new settings): the
    # workspace's customers are scored again now, not at each one's next midnight, or Home, the list and the digest
    # would show the old band for up to a day while /partner status shows the new one.
    rescore = note_health_config(store, settings, now)

    def made_before(customer: Customer) -> bool:
        since = rescore.get(customer.team_id)
        return since is not None and (customer.health_at is None or customer.health_at < since)

    if rescore:
        known = {c.id for c in candidates}
        candidates += [c for c in store.customers_for_health() if c.id not in known and made_before(c)]
    due = sorted(
        (c for c in candidates if made_before(c) or not scored_today(c, now, config.default_tz)), key=_most_stale_first
    )
    done = 0
    owners: dict[str, set[str]] = defaultdict(set)
    for first in range(0, len(due), max(1, budget.batch)):
        if first and timer() - started >= budget.seconds:
            logger.info(
                "health: %d of %d customers left for the next tick (budget %.0f s)",
                len(due) - first,
                len(due),
                budget.seconds,
            )
            break
        batch = due[first : first + max(1, budget.batch)]
        teams: dict[str, list[Customer]] = defaultdict(list)
        for customer in batch:
            teams[customer.team_id].append(customer)
        for team_id, customers in teams.items():
            scored = _recompute_batch(store, team_id, customers, now, config)
            done += len(scored)
            owners[team_id].update(c.owner_id for c in customers if c.id in scored and c.owner_id)
    else:  # every customer due was scored
        for team_id in rescore:
            store.health_rescored(team_id=team_id, made_with=config.made_with)
    for team_id, users in owners.items():  # the new scores on their Homes (the serving app's publisher, if any)
        request_home_refresh(None, team_id, sorted(users))
    return done
