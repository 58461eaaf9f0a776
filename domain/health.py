"""Relationship health: an explainable 0–100 score, its band, and trend helpers.

The score is a weighted blend of up to seven components, each scored 0–100 with a human reason:

==============  =======  ==========================================================================
component       default  score
==============  =======  ==========================================================================
adherence       25       share of due calls/check-ins logged in the last 30 days (capped at 100)
recency         20       100 up to the cadence's ideal gap, then linear down to 0 at 2 × the max gap
mood            20       check-in moods (1–5) averaged with exponential decay (half-life 14 days),
                         mapped 1 → 0 and 5 → 100
scorecard       15       latest ideal-customer scorecard average, 1 → 0 and 5 → 100; a scorecard
                         older than 180 days counts at half weight
level           10       supplier 20, supplier of choice 60, partner 100 — our view, or the customer's own
                         (their people's latest answer to `/partner ask`) when it is lower: a customer who
                         sees us as a supplier while we think "partner" is a risk, not a partner; their
                         answer older than 180 days counts half, as a stale scorecard does (halfway
                         between the two views; alone, at half weight)
boundaries      10       share of active boundaries held, minus 10 per repeat slip
flag            20       0 while the owner has flagged the relationship over an escalated boundary (for
                         30 days); absent otherwise
==============  =======  ==========================================================================

A component without data is dropped and the remaining weights are renormalised, so a new customer is
not punished for what we have not recorded yet; with no data at all the score is None ("unknown").
Boundaries weigh only beside at least one component about the relationship itself (RELATIONSHIP: check-ins,
cadence, surveys, the owner's flag): renormalised alone, one slip would make a customer added minutes ago 0, red.
Until then the score is None too ("not scored yet"), and the slip counts from the first such component on.

Times: everything takes `now` as an argument. Naive datetimes are read as UTC (SQLite hands them back
that way), aware ones are used as they are.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from domain.surveys import normalize_level

Band = Literal["green", "yellow", "red", "unknown"]

SCORECARD_STALE_AFTER = timedelta(days=180)
DEFAULT_MOOD_HALF_LIFE = timedelta(days=14)
# How many recent check-ins the mood reason talks about; older ones barely move the score anyway.
MOOD_REASON_WINDOW = 5
# Points off per slip beyond the first on each boundary, so a boundary broken weekly hurts more.
REPEAT_SLIP_PENALTY = 10.0

LEVEL_SCORES: dict[str, float] = {"supplier": 20.0, "supplier_of_choice": 60.0, "partner": 100.0}
_LEVEL_LABELS: dict[str, str] = {
    "supplier": "a supplier",
    "supplier_of_choice": "a supplier of choice",
    "partner": "a partner",
}

# The components that say how the relationship itself goes. Boundaries (held vs slipping) only say how our working
# agreements fare: they move a score that one of these gives, and never make one on their own.
RELATIONSHIP = frozenset({"adherence", "recency", "mood", "scorecard", "level", "flag"})

_MOODS: dict[str, int] = {"green": 5, "yellow": 3, "red": 1}
SPARK_CHARS = "▁▂▃▄▅▆▇█"
MISSING_CHAR = "·"  # visible in Slack, unlike a space that may be trimmed at either end


MAX_WEIGHT = 1000.0  # weights are relative: 1000 beside the defaults (10–25) already all but silences the others


@dataclass(frozen=True)
class HealthWeights:
    """Relative weights; they need not sum to 100 because present components are renormalised."""

    adherence: float = 25.0
    recency: float = 20.0
    mood: float = 20.0
    scorecard: float = 15.0
    level: float = 10.0
    boundaries: float = 10.0
    flag: float = 20.0

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            # Bounded, not only finite: mood=1e308,recency=1e308 overflow their sum, and every score read 0.
            if not 0 <= value <= MAX_WEIGHT:  # NaN fails both
                raise ValueError(f"weight {name} must be a number from 0 to {MAX_WEIGHT:g}, got {value:g}")


@dataclass(frozen=True)
class HealthThresholds:
    """Lower bounds of the green and yellow bands; anything below `yellow` is red."""

    green: float = 70.0
    yellow: float = 40.0

    def __post_init__(self) -> None:
        if not 0 <= self.yellow <= self.green <= 100:
            raise ValueError("thresholds need 0 <= yellow <= green <= 100")


# Frozen, so sharing one instance as a default argument is safe.
DEFAULT_WEIGHTS = HealthWeights()
DEFAULT_THRESHOLDS = HealthThresholds()


@dataclass(frozen=True)
class BoundaryHealthInput:
    """Boundaries over the last 30 days.

    `active` boundaries in force, `held` of them without a slip, `slips` recorded in total; `most_slipped` is the
    text of the one that slipped most (as stored, Slack-escaped), `most_slips` its slips: the reason names it.
    """

    active: int
    held: int
    slips: int
    most_slipped: str | None = None
    most_slips: int = 0

    def __post_init__(self) -> None:
        if min(self.active, self.held, self.slips) < 0:
            raise ValueError("boundary counts must be >= 0")
        if self.held > self.active:
            raise ValueError("cannot hold more boundaries than are active")


@dataclass(frozen=True)
class HealthInputs:
    """Everything the score looks at; leave a field at its default when there is no data for it."""

    # (due, logged) calls/check-ins in the last 30 days.
    adherence: tuple[int, int] | None = None
    # Plural noun for the reason text, e.g. "daily calls" → "3 of the last 10 daily calls logged".
    cadence_label: str = "check-ins"
    since_last: timedelta | None = None
    # "call" or "check-in" when none was ever logged: `since_last` then counts from when the customer was added.
    never_logged: str | None = None
    ideal: timedelta | None = None
    maximum: timedelta | None = None
    # `since_last`, `ideal` and `maximum` count business days (a daily cadence: a Friday call is fine on Monday).
    business_days: bool = False
    # (when, mood): the mood as stored ("green", "4": named as typed in the reason) or its value 1..5 (mood_value).
    moods: Sequence[tuple[datetime, int | str]] = ()
    scorecard_avg: float | None = None
    scorecard_at: datetime | None = None
    level: str | None = None
    # The customer's own view of us (their people's latest answer to `/partner ask`); None until they answer, and
    # then a customer that never answered is scored as before.
    their_level: str | None = None
    their_level_at: datetime | None = None  # when they gave it: older than SCORECARD_STALE_AFTER, it counts half
    boundaries: BoundaryHealthInput | None = None
    # The owner's latest "flag the relationship" answer to an escalated boundary within the last 30 days.
    flagged_at: datetime | None = None

    def __post_init__(self) -> None:
        # A tuple keeps the frozen dataclass hashable and immune to the caller mutating its list.
        object.__setattr__(self, "moods", tuple(self.moods))
        if self.adherence is not None and min(self.adherence) < 0:
            raise ValueError("adherence counts must be >= 0")
        if self.ideal is not None and self.ideal <= timedelta(0):
            raise ValueError("ideal must be positive")
        if self.ideal is not None and self.maximum is not None and self.maximum < self.ideal:
            raise ValueError("maximum must be >= ideal")
        for _, mood in self.moods:
            mood_value(mood)
        if self.scorecard_avg is not None and not 1 <= self.scorecard_avg <= 5:
            raise ValueError(f"scorecard average must be within 1..5, got {self.scorecard_avg}")
        for level in (self.level, self.their_level):
            if level is not None:
                normalize_level(level)  # fail at construction, not deep inside a scheduled job


@dataclass(frozen=True)
class Component:
    """One scored aspect. `weight` is its share of the final score (present components sum to 1)."""

    name: str
    score: float
    weight: float
    reason: str

    @property
    def drag(self) -> float:
        """Points this component costs the overall score compared with a perfect 100."""
        return self.weight * (100.0 - self.score)


@dataclass(frozen=True)
class Health:
    score: int | None
    band: Band
    components: tuple[Component, ...] = ()

    def top_reasons(self, n: int = 2) -> list[str]:
        """Reasons of the components pulling the score down most, ready to drop into a Slack message.

        Components at 100 (or with no weight) are not reasons for concern and are never listed.
        """
        dragging = [c for c in self.components if c.drag > 0]
        dragging.sort(key=lambda c: c.drag, reverse=True)  # stable: ties keep component order
        return [_capitalize(c.reason) for c in dragging[:n]]


def mood_value(mood: str | int) -> int:
    """green=5, yellow=3, red=1, or a 1..5 rating given as text or int."""
    if isinstance(mood, bool):
        raise ValueError(f"unknown mood: {mood!r}")
    if isinstance(mood, int):
        return _check_mood(mood)
    text = mood.strip().lower()
    if text in _MOODS:
        return _MOODS[text]
    if text.isdecimal():  # not isdigit(): "²" is a digit int() refuses
        return _check_mood(int(text))
    raise ValueError(f"unknown mood: {mood!r}")


def mood_colour(mood: str | int) -> str | None:
    """The traffic-light colour of a stored mood: a colour as it is, a 1–5 rating as 4–5 green, 3 yellow, 1–2 red;
    None for a mood Partner does not know (it is shown as stored and left out of the score)."""
    try:
        return _mood_colour(mood_value(mood))
    except ValueError:
        return None


def at_risk(band: str | None, *, overdue: bool, last_mood: str | None) -> bool:
    """Whether a customer is *at risk* — one rule for Home's filter, `/partner list at-risk` and the digest: health
    yellow or red, overdue past its cadence's maximum window, or a red last check-in (a rating of 1 or 2): a person
    just said so, before the score has moved."""
    return band in ("yellow", "red") or overdue or (last_mood is not None and mood_colour(last_mood) == "red")


def mood_rating(mood: str) -> int | None:
    """The 1–5 rating a check-in was logged with ("4" → 4), or None for a colour (or an unknown mood)."""
    text = mood.strip()
    return int(text) if text in ("1", "2", "3", "4", "5") else None


def band(score: float | None, thresholds: HealthThresholds = DEFAULT_THRESHOLDS) -> Band:
    if score is None:
        return "unknown"
    if score >= thresholds.green:
        return "green"
    if score >= thresholds.yellow:
        return "yellow"
    return "red"


def compute_health(
    inputs: HealthInputs,
    *,
    now: datetime,
    weights: HealthWeights = DEFAULT_WEIGHTS,
    thresholds: HealthThresholds = DEFAULT_THRESHOLDS,
    mood_half_life: timedelta = DEFAULT_MOOD_HALF_LIFE,
) -> Health:
    now = _aware(now)
    # (name, score, raw weight, reason) for every component that has data.
    raw: list[tuple[str, float, float, str]] = []

    if inputs.adherence is not None:
        scored = _adherence(*inputs.adherence, label=inputs.cadence_label)
        if scored:
            raw.append(("adherence", scored[0], weights.adherence, scored[1]))

    if inputs.since_last is not None and inputs.ideal is not None and inputs.maximum is not None:
        score, reason = _recency(
            inputs.since_last,
            inputs.ideal,
            inputs.maximum,
            never_logged=inputs.never_logged,
            unit="business day" if inputs.business_days else "day",
        )
        raw.append(("recency", score, weights.recency, reason))

    if inputs.moods:
        score, reason = _mood(inputs.moods, now=now, half_life=mood_half_life)
        raw.append(("mood", score, weights.mood, reason))

    if inputs.scorecard_avg is not None:
        score, factor, reason = _scorecard(inputs.scorecard_avg, inputs.scorecard_at, now=now)
        raw.append(("scorecard", score, weights.scorecard * factor, reason))

    if inputs.level is not None or inputs.their_level is not None:
        score, factor, reason = _level(inputs.level, inputs.their_level, inputs.their_level_at, now=now)
        raw.append(("level", score, weights.level * factor, reason))

    if inputs.boundaries is not None:
        scored_b = _boundaries(inputs.boundaries)
        if scored_b:
            raw.append(("boundaries", scored_b[0], weights.boundaries, scored_b[1]))

    if inputs.flagged_at is not None:  # the owner's own verdict: it weighs whatever became of the boundary
        flagged = _aware(inputs.flagged_at)
        reason = f"relationship flagged over a boundary on {flagged:%a} {flagged.day} {flagged:%b}"
        raw.append(("flag", 0.0, weights.flag, reason))

    total = sum(w for _, _, w, _ in raw)
    if total <= 0 or not any(name in RELATIONSHIP and w > 0 for name, _, w, _ in raw):
        # Nothing recorded yet, every present component weighted out, or only boundaries: not enough data yet.
        return Health(score=None, band="unknown", components=())
    components = tuple(Component(name, s, w / total, reason) for name, s, w, reason in raw)
    score = _round_half_up(sum(c.score * c.weight for c in components))
    return Health(score=score, band=band(score, thresholds), components=components)


# --- Components ----------------------------------------------------------------------------------------


def _adherence(due: int, logged: int, *, label: str) -> tuple[float, str] | None:
    if due == 0:
        return None  # nothing was due, so there is nothing to adhere to
    if due == 1:  # "0 of the last 1 daily calls" reads like a machine
        one = label.removesuffix("s")
        return (100.0, f"the last {one} was logged") if logged else (0.0, f"the last {one} was not logged")
    if logged >= due:
        return 100.0, f"all of the last {due} {label} logged"
    return 100.0 * logged / due, f"{logged} of the last {due} {label} logged"


def _recency(
    since_last: timedelta,
    ideal: timedelta,
    maximum: timedelta,
    *,
    never_logged: str | None = None,
    unit: str = "day",
) -> tuple[float, str]:
    """100 up to `ideal`, then a straight line down to 0 at 2 × `maximum`.

    2 × max rather than max as the zero point so a contact that is just overdue still scores
    something and the score keeps separating "a bit late" from "gone quiet".
    """
    since = max(since_last, timedelta(0))  # clock skew must not give a bonus
    zero_at = 2 * maximum
    if since <= ideal:
        score = 100.0
    elif since >= zero_at:
        score = 0.0
    else:
        score = 100.0 * (zero_at - since) / (zero_at - ideal)
    days = since // timedelta(days=1)
    ago = "today" if days == 0 else f"1 {unit} ago" if days == 1 else f"{days} {unit}s ago"
    # Never contacted, the clock runs from the day the customer was added: say so, as the overdue alert does.
    what = f"no {never_logged} logged yet; added {ago}" if never_logged else f"last contact {ago}"
    return score, f"{what} (ideal {_fmt_days(ideal)}, max {_fmt_days(maximum)})"


def _mood(moods: Sequence[tuple[datetime, int | str]], *, now: datetime, half_life: timedelta) -> tuple[float, str]:
    if half_life <= timedelta(0):
        raise ValueError("mood half-life must be positive")
    points = sorted(((_aware(at), mood) for at, mood in moods), key=lambda p: p[0])
    total_w = 0.0
    total = 0.0
    for at, mood in points:
        age = max(now - at, timedelta(0))  # future-dated check-ins count as "now"
        w = 0.5 ** (age / half_life)
        total_w += w
        total += w * mood_value(mood)
    # Rounded off the float sums' noise: greens weighted by their ages averaged 4.9999…, and a mood at its best read
    # as a drag on the score ("what moves it most: mood green at each of the last 5 check-ins").
    average = round(total / total_w, 9)
    score = 100.0 * (average - 1) / 4
    return score, _mood_reason([mood for _, mood in points[-MOOD_REASON_WINDOW:]])


def _mood_colour(mood: int) -> str:
    # 2 and 4 lean towards their neighbours so the wording never contradicts the score's direction.
    return "green" if mood >= 4 else "yellow" if mood == 3 else "red"


def _mood_words(mood: int | str) -> str:
    """A mood as the user typed it: a rating as "4/5", a colour by its name (a bare value by its colour)."""
    rating = mood_rating(mood) if isinstance(mood, str) else None
    return f"{rating}/5" if rating is not None else _mood_colour(mood_value(mood))


def _mood_reason(recent: list[int | str]) -> str:
    colours = [_mood_colour(mood_value(m)) for m in recent]
    if len(colours) == 1:
        return f"mood {_mood_words(recent[0])} at the last check-in"
    n = len(colours)
    for colour in ("red", "yellow", "green"):
        count = colours.count(colour)
        if count == n:
            return f"mood {colour} at each of the last {n} check-ins"
        if count * 2 > n:
            return f"mood mostly {colour} over the last {n} check-ins"
    return f"mood mixed over the last {n} check-ins (latest {_mood_words(recent[-1])})"


def _scorecard(avg: float, at: datetime | None, *, now: datetime) -> tuple[float, float, str]:
    """(score, weight factor, reason); a stale scorecard still says something, just less."""
    score = 100.0 * (avg - 1) / 4
    reason = f"ideal-customer scorecard averages {avg:.1f}/5"
    if at is None:
        return score, 1.0, reason
    age = max(now - _aware(at), timedelta(0))
    if age > SCORECARD_STALE_AFTER:
        months = age.days // 30
        return score, 0.5, f"{reason} but is {months} months old (counts half)"
    return score, 1.0, reason


def _level(
    ours: str | None, theirs: str | None, their_at: datetime | None = None, *, now: datetime
) -> tuple[float, float, str]:
    """(score, weight factor, reason) of the relationship level: ours, theirs, or — both known — the lower of the
    two, which the reason says. Their answer older than SCORECARD_STALE_AFTER counts half, as a stale scorecard: a
    supplier answer of a year ago no longer holds the level down in full until they answer again."""
    if theirs is None:
        assert ours is not None
        level = normalize_level(ours)
        return LEVEL_SCORES[level], 1.0, f"seen as {_LEVEL_LABELS[level]}"
    their = normalize_level(theirs)
    age = max(now - _aware(their_at), timedelta(0)) if their_at is not None else timedelta(0)
    stale = f" {age.days // 30} months ago (counts half)" if age > SCORECARD_STALE_AFTER else ""
    if ours is None:
        if stale:
            return LEVEL_SCORES[their], 0.5, f"they said they see us as {_LEVEL_LABELS[their]}{stale}"
        return LEVEL_SCORES[their], 1.0, f"they see us as {_LEVEL_LABELS[their]}"
    our = normalize_level(ours)
    if our == their:
        return LEVEL_SCORES[our], 1.0, f"seen as {_LEVEL_LABELS[our]}, as they say too"
    if LEVEL_SCORES[their] < LEVEL_SCORES[our]:
        if stale:
            score = (LEVEL_SCORES[their] + LEVEL_SCORES[our]) / 2
            return score, 1.0, f"they said {_LEVEL_LABELS[their]}{stale}; we think {_LEVEL_LABELS[our]}"
        return LEVEL_SCORES[their], 1.0, f"they see us as {_LEVEL_LABELS[their]}; we think {_LEVEL_LABELS[our]}"
    return LEVEL_SCORES[our], 1.0, f"seen as {_LEVEL_LABELS[our]} (they say {_LEVEL_LABELS[their]})"


def _boundaries(b: BoundaryHealthInput) -> tuple[float, str] | None:
    if b.active == 0:
        return None  # no boundaries agreed, so none can be slipping
    slipping = b.active - b.held
    repeat_slips = max(0, b.slips - slipping)
    score = max(0.0, 100.0 * b.held / b.active - REPEAT_SLIP_PENALTY * repeat_slips)
    held = f"all {b.active} boundaries held" if slipping == 0 else f"{b.held} of {b.active} boundaries held"
    if b.most_slipped and b.most_slips:
        # As the owner would say it: "boundary “replies within 1 business day” slipped twice".
        times = {1: "once", 2: "twice"}.get(b.most_slips, f"{b.most_slips} times")
        text = b.most_slipped if len(b.most_slipped) <= 60 else b.most_slipped[:59].rstrip() + "…"
        return score, f"boundary “{text}” slipped {times} in the last 30 days ({held.replace(' boundaries', '')})"
    slips = "" if b.slips == 0 else f", {b.slips} slip{'s' if b.slips != 1 else ''}"
    return score, f"{held}{slips} in the last 30 days"


# --- Trends --------------------------------------------------------------------------------------------


def sparkline(values: Sequence[float | None], *, lo: float = 0, hi: float = 100) -> str:
    """One block character per value, ▁ at `lo` up to █ at `hi`; "·" marks a missing value."""
    if hi <= lo:
        raise ValueError("hi must be greater than lo")
    out = []
    for v in values:
        if v is None:
            out.append(MISSING_CHAR)
            continue
        frac = (min(max(v, lo), hi) - lo) / (hi - lo)
        out.append(SPARK_CHARS[min(len(SPARK_CHARS) - 1, int(frac * len(SPARK_CHARS)))])
    return "".join(out)


STEADY_POINTS = 5  # a move smaller than this between two weeks reads as steady


def trend_words(series: Sequence[float | None]) -> str:
    """Which way the weekly scores went, for people who would rather read than decode a sparkline: "up 12 since
    last week", "down 15 since 3 weeks ago", "steady since last week"; with fewer than two weeks scored, "not
    enough data yet" (a new customer has no trend, which is not a trend of 0)."""
    scored = [(i, v) for i, v in enumerate(series) if v is not None]
    if len(scored) < 2:
        return "not enough data yet"
    (before_at, before), (latest_at, latest) = scored[-2], scored[-1]
    weeks = latest_at - before_at
    since = "since last week" if weeks == 1 else f"since {weeks} weeks ago"
    delta = round(latest - before)
    if abs(delta) < STEADY_POINTS:
        return f"→ steady {since}"
    return f"↗ up {delta} {since}" if delta > 0 else f"↘ down {-delta} {since}"


def weekly_series(
    points: Sequence[tuple[datetime, int]], *, now: datetime, weeks: int = 12, tz: str = "UTC"
) -> list[int | None]:
    """The last value in each of the last `weeks` calendar weeks (Monday start, in `tz`), oldest first.

    The final entry is the current, partial week. Weeks with no point are None; points after `now`
    are ignored.
    """
    if weeks < 1:
        raise ValueError("weeks must be >= 1")
    zone = ZoneInfo(tz)
    now = _aware(now)
    # Bucketing by local calendar date keeps DST changes from shifting week edges.
    this_week = _week_start(now.astimezone(zone).date())
    latest: list[tuple[datetime, int] | None] = [None] * weeks
    for at, value in points:
        at = _aware(at)
        if at > now:
            continue
        weeks_ago = (this_week - _week_start(at.astimezone(zone).date())).days // 7
        if weeks_ago >= weeks:
            continue
        slot = weeks - 1 - weeks_ago
        current = latest[slot]
        if current is None or at >= current[0]:
            latest[slot] = (at, value)
    return [p[1] if p is not None else None for p in latest]


def dropped_sharply(
    series_or_points: Sequence[tuple[datetime, float]] | Sequence[float | None],
    *,
    now: datetime,
    threshold: float = 15,
    days: int = 7,
) -> bool:
    """True when the latest value is `threshold`+ points below the highest value of the last `days`.

    Takes (when, value) points, or plain values read as one per day with the last one being today.
    "Highest of the window" includes the value standing when the window opened, so a fall from a
    level held all week counts. The latest value must itself fall inside the window: a score that
    has not been recomputed this week has not dropped this week. Callers dedupe repeat alerts.
    """
    now = _aware(now)
    points = _as_points(series_or_points, now=now)
    past = sorted((p for p in points if p[0] <= now), key=lambda p: p[0])
    if len(past) < 2:
        return False
    window_start = now - timedelta(days=days)
    latest_at, latest = past[-1]
    if latest_at < window_start:
        return False
    earlier = past[:-1]
    standing = [v for at, v in earlier if at <= window_start][-1:]  # the value as the window opened
    within = [v for at, v in earlier if at > window_start]
    reference = standing + within
    return bool(reference) and max(reference) - latest >= threshold


def _as_points(
    data: Sequence[tuple[datetime, float]] | Sequence[float | None], *, now: datetime
) -> list[tuple[datetime, float]]:
    points: list[tuple[datetime, float]] = []
    n = len(data)
    for i, item in enumerate(data):
        if isinstance(item, tuple):
            points.append((_aware(item[0]), float(item[1])))
        elif item is not None:
            points.append((now - timedelta(days=n - 1 - i), float(item)))
    return points


# --- Helpers -------------------------------------------------------------------------------------------


def _check_mood(mood: int) -> int:
    if isinstance(mood, bool) or not isinstance(mood, int) or not 1 <= mood <= 5:
        raise ValueError(f"mood must be an int within 1..5, got {mood!r}")
    return mood


def _aware(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


def _week_start(d: date) -> date:
    return d - timedelta(days=d.weekday())


def _fmt_days(td: timedelta) -> str:
    days = td / timedelta(days=1)
    return str(int(days)) if days == int(days) else f"{days:.1f}"


def _round_half_up(x: float) -> int:
    # Python's round() is banker's rounding; 69.5 should read as 70 to a person, not 70 or 69 by parity.
    return max(0, min(100, math.floor(x + 0.5)))


def what_moved(before: Sequence[Mapping[str, Any]], after: Sequence[Mapping[str, Any]]) -> list[tuple[str, int]]:
    """(reason as it stands after, points it took off the score) for each component that lowered the score between
    two stored scores (their components: name, score, weight, reason), most first; under a point is no move.

    A drop's alert says this, not just what weighs most on the score now: a red check-in drops the mood, while a
    low adherence that was already there may weigh more and explain nothing about the fall.
    """

    def parts(components: Sequence[Mapping[str, Any]]) -> dict[str, tuple[float, float]]:
        return {str(c.get("name")): (float(c.get("weight") or 0), float(c.get("score") or 0)) for c in components}

    if not before:
        return []  # a score stored without its components: nothing to compare
    was, now = parts(before), parts(after)
    was_score = sum(w * s for w, s in was.values())
    moved = []
    for c in after:
        # Each component's share of the fall, measured from the score it fell from: the weights are re-normalized
        # whenever a component enters (a first due call, a first survey), so "weight × score" alone would blame a
        # component that did not move — a new customer's "no check-in yet, within its ideal window" — for the
        # points the new one took. A component that entered pulls the score towards its own; the shares add up
        # to the fall.
        w_was, s_was = was.get(str(c.get("name")), (0.0, was_score))
        w_now, s_now = now[str(c.get("name"))]
        lost = w_was * (s_was - was_score) - w_now * (s_now - was_score)
        if round(lost) >= 1:
            moved.append((_capitalize(str(c.get("reason") or c.get("name"))), round(lost)))
    return sorted(moved, key=lambda m: -m[1])


def _capitalize(text: str) -> str:
    return text[:1].upper() + text[1:]
