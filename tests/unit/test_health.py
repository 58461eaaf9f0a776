from __future__ import annotations

import ast
import inspect
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain import health
from domain.health import (
    BoundaryHealthInput,
    Component,
    Health,
    HealthInputs,
    HealthThresholds,
    HealthWeights,
    band,
    compute_health,
    dropped_sharply,
    mood_value,
    sparkline,
    trend_words,
    weekly_series,
)

NOW = datetime(2024, 6, 14, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def score_of(inputs: HealthInputs, **kwargs: object) -> int | None:
    return compute_health(inputs, now=NOW, **kwargs).score  # type: ignore[arg-type]


def recency(days: float) -> HealthInputs:
    return HealthInputs(since_last=days * DAY, ideal=7 * DAY, maximum=10 * DAY)


# --- each input in isolation: a better input never scores lower, and strictly higher here ---------------

BETTER_WORSE: list[tuple[str, HealthInputs, HealthInputs]] = [
    ("adherence", HealthInputs(adherence=(10, 8)), HealthInputs(adherence=(10, 3))),
    ("recency", recency(8), recency(15)),
    ("mood", HealthInputs(moods=[(NOW - DAY, 5)]), HealthInputs(moods=[(NOW - DAY, 2)])),
    ("scorecard", HealthInputs(scorecard_avg=4.2), HealthInputs(scorecard_avg=2.5)),
    ("level", HealthInputs(level="partner"), HealthInputs(level="supplier_of_choice")),
    (
        "boundaries",
        HealthInputs(boundaries=BoundaryHealthInput(active=4, held=4, slips=0)),
        HealthInputs(boundaries=BoundaryHealthInput(active=4, held=2, slips=3)),
    ),
]

# A middling baseline so each component is also checked inside a full blend, not only on its own.
BASE = dict(
    adherence=(10, 5),
    since_last=9 * DAY,
    ideal=7 * DAY,
    maximum=10 * DAY,
    moods=[(NOW - 2 * DAY, 3)],
    scorecard_avg=3.0,
    scorecard_at=NOW - 30 * DAY,
    level="supplier_of_choice",
    boundaries=BoundaryHealthInput(active=2, held=1, slips=1),
)


@pytest.mark.parametrize(("name", "better", "worse"), BETTER_WORSE, ids=[b[0] for b in BETTER_WORSE])
def test_better_input_scores_higher_alone(name: str, better: HealthInputs, worse: HealthInputs) -> None:
    if name not in health.RELATIONSHIP:  # boundaries never score alone: beside a level, the least they move
        better, worse = (HealthInputs(level="partner", boundaries=i.boundaries) for i in (better, worse))
    hb, hw = compute_health(better, now=NOW), compute_health(worse, now=NOW)
    assert hb.score is not None and hw.score is not None
    assert hb.score > hw.score
    assert [c.name for c in hb.components if c.name != "level" or name == "level"] == [name]


def test_a_boundary_slip_alone_does_not_score_a_new_customer() -> None:
    """A customer added minutes ago whose only data is one slip is not 0, red: not scored yet."""
    one_slip = BoundaryHealthInput(active=1, held=0, slips=1, most_slipped="Replies within a day", most_slips=1)
    h = compute_health(HealthInputs(boundaries=one_slip), now=NOW)
    assert (h.score, h.band, h.components) == (None, "unknown", ())
    # A relationship component weighted out is no data either: the slip still does not decide alone.
    alone = compute_health(HealthInputs(level="partner", boundaries=one_slip), now=NOW, weights=HealthWeights(level=0))
    assert alone.score is None


@pytest.mark.parametrize(
    "relationship",
    [
        HealthInputs(adherence=(4, 4)),
        recency(1),
        HealthInputs(moods=[(NOW - DAY, 5)]),
        HealthInputs(scorecard_avg=5.0),
        HealthInputs(level="partner"),
        HealthInputs(their_level="partner"),
        HealthInputs(flagged_at=NOW - DAY),
    ],
)
def test_beside_any_relationship_component_a_slip_moves_the_score_as_before(relationship: HealthInputs) -> None:
    slipping = BoundaryHealthInput(active=1, held=0, slips=1)
    without = compute_health(relationship, now=NOW)
    h = compute_health(replace(relationship, boundaries=slipping), now=NOW)
    assert without.score is not None and h.score is not None
    assert {c.name for c in h.components} - {c.name for c in without.components} == {"boundaries"}
    (relationship_component,) = without.components
    expected = relationship_component.score * (1 - 10 / (10 + DEFAULT_WEIGHTS_OF[relationship_component.name]))
    assert h.score == round(expected)


DEFAULT_WEIGHTS_OF = {n: getattr(health.DEFAULT_WEIGHTS, n) for n in health.RELATIONSHIP}


@pytest.mark.parametrize(("name", "better", "worse"), BETTER_WORSE, ids=[b[0] for b in BETTER_WORSE])
def test_better_input_scores_higher_in_blend(name: str, better: HealthInputs, worse: HealthInputs) -> None:
    fields = {
        "adherence": ("adherence",),
        "recency": ("since_last",),
        "mood": ("moods",),
        "scorecard": ("scorecard_avg",),
        "level": ("level",),
        "boundaries": ("boundaries",),
    }[name]
    b = HealthInputs(**{**BASE, **{f: getattr(better, f) for f in fields}})  # type: ignore[arg-type]
    w = HealthInputs(**{**BASE, **{f: getattr(worse, f) for f in fields}})  # type: ignore[arg-type]
    assert score_of(b) > score_of(w)  # type: ignore[operator]


# --- component scores and reasons -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        (HealthInputs(adherence=(10, 3)), 30),
        (HealthInputs(adherence=(4, 9)), 100),  # extra calls do not push past 100
        (recency(0), 100),
        (recency(7), 100),
        (recency(13.5), 50),  # halfway from ideal (7) to 2 × max (20)
        (recency(20), 0),
        (recency(45), 0),
        (recency(-1), 100),  # clock skew is read as "just now"
        (HealthInputs(moods=[(NOW, 3)]), 50),
        (HealthInputs(scorecard_avg=1.0), 0),
        (HealthInputs(scorecard_avg=3.0), 50),
        (HealthInputs(scorecard_avg=5.0), 100),
        (HealthInputs(level="supplier"), 20),
        (HealthInputs(level="Supplier of choice"), 60),
        (HealthInputs(level="partner"), 100),
        # The customer's own view beside ours: the lower of the two; theirs alone when we have not rated it.
        (HealthInputs(level="partner", their_level="supplier"), 20),
        (HealthInputs(level="supplier", their_level="partner"), 20),
        (HealthInputs(their_level="supplier_of_choice"), 60),
    ],
)
def test_single_component_equals_its_own_score(inputs: HealthInputs, expected: int) -> None:
    h = compute_health(inputs, now=NOW)
    assert h.score == expected
    assert len(h.components) == 1
    assert h.components[0].weight == pytest.approx(1.0)


def boundaries_component(boundaries: BoundaryHealthInput) -> Component:
    """The boundaries component, scored beside a level (boundaries alone are no score: see RELATIONSHIP)."""
    h = compute_health(HealthInputs(level="partner", boundaries=boundaries), now=NOW)
    (component,) = [c for c in h.components if c.name == "boundaries"]
    return component


@pytest.mark.parametrize(
    ("boundaries", "expected"),
    [
        (BoundaryHealthInput(active=4, held=3, slips=1), 75),
        (BoundaryHealthInput(active=4, held=3, slips=3), 55),  # 2 repeat slips
        (BoundaryHealthInput(active=1, held=0, slips=9), 0),
    ],
)
def test_the_boundaries_component_scores_held_against_slipping(boundaries: BoundaryHealthInput, expected: int) -> None:
    assert boundaries_component(boundaries).score == expected


def test_reasons_read_like_sentences() -> None:
    h = compute_health(
        HealthInputs(
            adherence=(10, 3),
            cadence_label="daily calls",
            since_last=12 * DAY + timedelta(hours=5),
            ideal=7 * DAY,
            maximum=10 * DAY,
            moods=[(NOW - 3 * DAY, 1), (NOW - 2 * DAY, 5), (NOW - DAY, 1)],
            boundaries=BoundaryHealthInput(active=3, held=2, slips=1),
            level="supplier",
        ),
        now=NOW,
    )
    reasons = {c.name: c.reason for c in h.components}
    assert reasons == {
        "adherence": "3 of the last 10 daily calls logged",
        "recency": "last contact 12 days ago (ideal 7, max 10)",
        "mood": "mood mostly red over the last 3 check-ins",
        "level": "seen as a supplier",
        "boundaries": "2 of 3 boundaries held, 1 slip in the last 30 days",
    }


@pytest.mark.parametrize(
    ("boundaries", "reason"),
    [
        (
            BoundaryHealthInput(3, 2, 2, most_slipped="Replies within 1 business day", most_slips=2),
            "boundary “Replies within 1 business day” slipped twice in the last 30 days (2 of 3 held)",
        ),
        (BoundaryHealthInput(1, 0, 1, most_slipped="Calls 9-10am", most_slips=1), "slipped once in the last 30 days"),
        (BoundaryHealthInput(2, 2, 0), "all 2 boundaries held in the last 30 days"),
        (BoundaryHealthInput(1, 0, 4, most_slipped="x" * 80, most_slips=4), f"boundary “{'x' * 59}…” slipped 4 times"),
    ],
)
def test_the_boundary_reason_names_the_one_that_slipped_most(boundaries: BoundaryHealthInput, reason: str) -> None:
    component = boundaries_component(boundaries)
    assert reason in component.reason, component.reason


@pytest.mark.parametrize(
    ("moods", "reason"),
    [
        ([1], "mood red at the last check-in"),
        ([5, 4, 5], "mood green at each of the last 3 check-ins"),
        ([1, 3, 5, 3], "mood mixed over the last 4 check-ins (latest yellow)"),
        # Only the latest five are described; the old reds barely count any more.
        ([1, 1, 1, 5, 5, 5, 5, 5], "mood green at each of the last 5 check-ins"),
    ],
)
def test_mood_reason(moods: list[int], reason: str) -> None:
    points = [(NOW - (len(moods) - i) * DAY, m) for i, m in enumerate(moods)]
    (component,) = compute_health(HealthInputs(moods=points), now=NOW).components
    assert component.reason == reason


@pytest.mark.parametrize(
    ("adherence", "reason"),
    [
        ((1, 0), "the last daily call was not logged"),
        ((1, 1), "the last daily call was logged"),
        ((2, 0), "0 of the last 2 daily calls logged"),
    ],
)
def test_adherence_reason_of_a_single_call_reads_like_a_sentence(adherence: tuple[int, int], reason: str) -> None:
    (component,) = compute_health(HealthInputs(adherence=adherence, cadence_label="daily calls"), now=NOW).components
    assert component.reason == reason


# --- re-weighting --------------------------------------------------------------------------------------


def test_missing_components_are_reweighted_not_zeroed() -> None:
    # adherence 100 (weight 25) + level 20 (weight 10): (2500 + 200) / 35 = 77.1
    h = compute_health(HealthInputs(adherence=(5, 5), level="supplier"), now=NOW)
    assert h.score == 77
    assert sum(c.weight for c in h.components) == pytest.approx(1.0)
    assert {c.name: round(c.weight, 4) for c in h.components} == {
        "adherence": round(25 / 35, 4),
        "level": round(10 / 35, 4),
    }


def test_nothing_due_counts_as_no_adherence_data() -> None:
    h = compute_health(HealthInputs(adherence=(0, 0), level="partner"), now=NOW)
    assert h.score == 100
    assert [c.name for c in h.components] == ["level"]


def test_recency_needs_a_cadence() -> None:
    h = compute_health(HealthInputs(since_last=30 * DAY, level="partner"), now=NOW)
    assert [c.name for c in h.components] == ["level"]


def test_no_boundaries_counts_as_no_data() -> None:
    assert score_of(HealthInputs(boundaries=BoundaryHealthInput(0, 0, 0))) is None


def test_a_flagged_relationship_weighs_as_its_own_component_and_says_why() -> None:
    slipping = BoundaryHealthInput(active=1, held=0, slips=3)  # what an escalation looks like: already at 0
    before = compute_health(HealthInputs(level="partner", boundaries=slipping), now=NOW)
    h = compute_health(HealthInputs(level="partner", boundaries=slipping, flagged_at=NOW - 3 * DAY), now=NOW)
    (flag,) = [c for c in h.components if c.name == "flag"]
    assert flag.score == 0 and flag.reason == "relationship flagged over a boundary on Tue 11 Jun"
    assert h.score is not None and before.score is not None and h.score < before.score
    assert h.top_reasons(1) == ["Relationship flagged over a boundary on Tue 11 Jun"]
    # A flag alone (its boundary since retired) is still a score: the owner's verdict is data.
    assert score_of(HealthInputs(flagged_at=NOW)) == 0


@pytest.mark.parametrize(
    "inputs",
    [HealthInputs(), HealthInputs(adherence=(0, 0)), HealthInputs(since_last=3 * DAY)],
)
def test_no_inputs_is_unknown(inputs: HealthInputs) -> None:
    h = compute_health(inputs, now=NOW)
    assert h == Health(score=None, band="unknown", components=())
    assert h.top_reasons() == []


def test_zero_weights_drop_a_component() -> None:
    weights = HealthWeights(level=0)
    assert score_of(HealthInputs(level="supplier"), weights=weights) is None
    assert score_of(HealthInputs(level="supplier", scorecard_avg=5.0), weights=weights) == 100


def test_stale_scorecard_counts_half() -> None:
    # Scorecard 0 against level 100: fresh → 100·10/25 = 40; stale → 100·10/17.5 = 57.
    fresh = HealthInputs(scorecard_avg=1.0, scorecard_at=NOW - 180 * DAY, level="partner")
    stale = HealthInputs(scorecard_avg=1.0, scorecard_at=NOW - 181 * DAY, level="partner")
    assert score_of(fresh) == 40
    h = compute_health(stale, now=NOW)
    assert h.score == 57
    assert h.components[0].reason == "ideal-customer scorecard averages 1.0/5 but is 6 months old (counts half)"


def test_undated_scorecard_counts_in_full() -> None:
    assert score_of(HealthInputs(scorecard_avg=1.0, level="partner")) == 40


# --- bands -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "expected"),
    [(0, "red"), (39, "red"), (39.9, "red"), (40, "yellow"), (69, "yellow"), (70, "green"), (100, "green")],
)
def test_band_thresholds(score: float, expected: str) -> None:
    assert band(score, HealthThresholds()) == expected


def test_band_unknown_and_custom_thresholds() -> None:
    assert band(None, HealthThresholds()) == "unknown"
    custom = HealthThresholds(green=80, yellow=50)
    assert [band(s, custom) for s in (49, 50, 79, 80)] == ["red", "yellow", "yellow", "green"]


def test_compute_health_uses_thresholds() -> None:
    inputs = HealthInputs(adherence=(10, 7))
    assert compute_health(inputs, now=NOW).band == "green"
    assert compute_health(inputs, now=NOW, thresholds=HealthThresholds(green=75)).band == "yellow"


def test_score_rounds_half_up() -> None:
    # 69.5 must land in green, not depend on banker's rounding.
    assert compute_health(HealthInputs(adherence=(200, 139)), now=NOW).score == 70


def test_invalid_configuration_is_rejected() -> None:
    with pytest.raises(ValueError):
        HealthThresholds(green=30, yellow=40)
    with pytest.raises(ValueError):
        HealthWeights(mood=-1)
    with pytest.raises(ValueError):
        HealthInputs(ideal=10 * DAY, maximum=7 * DAY)
    with pytest.raises(ValueError):
        HealthInputs(moods=[(NOW, 6)])
    with pytest.raises(ValueError):
        HealthInputs(scorecard_avg=5.5)
    with pytest.raises(ValueError):
        HealthInputs(level="best friend")
    with pytest.raises(ValueError):
        BoundaryHealthInput(active=1, held=2, slips=0)


# --- top reasons ---------------------------------------------------------------------------------------


def test_top_reasons_orders_by_weighted_drag() -> None:
    h = Health(
        score=50,
        band="yellow",
        components=(
            Component("adherence", 100, 0.4, "all of the last 5 check-ins logged"),  # drag 0
            Component("recency", 50, 0.3, "last contact 9 days ago (ideal 7, max 10)"),  # drag 15
            Component("level", 20, 0.1, "seen as a supplier"),  # drag 8
            Component("mood", 25, 0.2, "mood mostly red over the last 3 check-ins"),  # drag 15
        ),
    )
    assert h.top_reasons() == [
        "Last contact 9 days ago (ideal 7, max 10)",  # ties keep component order
        "Mood mostly red over the last 3 check-ins",
    ]
    assert h.top_reasons(3)[-1] == "Seen as a supplier"
    assert len(h.top_reasons(10)) == 3  # a perfect component is never a reason for concern


def test_top_reasons_from_compute_health() -> None:
    h = compute_health(
        HealthInputs(adherence=(10, 9), level="supplier", scorecard_avg=2.0, cadence_label="weekly calls"),
        now=NOW,
    )
    # drags: adherence 25·10 = 250, scorecard 15·75 = 1125, level 10·80 = 800
    assert h.top_reasons() == ["Ideal-customer scorecard averages 2.0/5", "Seen as a supplier"]


# --- mood weighting ------------------------------------------------------------------------------------


def test_recent_red_outweighs_old_green() -> None:
    moods = [(NOW - 30 * DAY, mood_value("green")), (NOW - DAY, mood_value("red"))]
    h = compute_health(HealthInputs(moods=moods), now=NOW)
    assert h.score is not None and h.score < 50


def test_mood_half_life_weighting() -> None:
    # One half-life apart: the older check-in counts half → (5·0.5 + 1·1) / 1.5 = 2.33 → 33.
    moods = [(NOW - 14 * DAY, 5), (NOW, 1)]
    assert score_of(HealthInputs(moods=moods)) == 33
    # A much longer half-life treats them almost equally.
    assert score_of(HealthInputs(moods=moods), mood_half_life=timedelta(days=10_000)) == 50
    # Input order does not matter, only timestamps do.
    assert score_of(HealthInputs(moods=moods[::-1])) == 33


@pytest.mark.parametrize(
    ("raw", "value"),
    [("green", 5), ("Yellow", 3), (" red ", 1), ("1", 1), ("4", 4), (2, 2)],
)
def test_mood_value(raw: str | int, value: int) -> None:
    assert mood_value(raw) == value


@pytest.mark.parametrize("raw", ["blue", "0", "6", "", 7, True])
def test_mood_value_rejects_garbage(raw: str | int) -> None:
    with pytest.raises(ValueError):
        mood_value(raw)


# --- sparkline -----------------------------------------------------------------------------------------


def test_sparkline_characters() -> None:
    assert sparkline([0, 12.5, 25, 37.5, 50, 62.5, 75, 87.5, 100]) == "▁▂▃▄▅▆▇██"
    assert sparkline([-20, 150]) == "▁█"  # out of range is clamped
    assert sparkline([1, 3, 5], lo=1, hi=5) == "▁▅█"
    assert sparkline([]) == ""


def test_sparkline_missing_weeks() -> None:
    assert sparkline([None, 50, None, 100]) == "·▅·█"
    with pytest.raises(ValueError):
        sparkline([1], lo=5, hi=5)


# --- weekly series -------------------------------------------------------------------------------------


def test_weekly_series_takes_last_value_per_week() -> None:
    now = datetime(2024, 6, 14, 12, tzinfo=UTC)  # a Friday
    points = [
        (datetime(2024, 6, 12, tzinfo=UTC), 70),
        (datetime(2024, 6, 10, tzinfo=UTC), 60),  # same week, earlier: loses despite coming later
        (datetime(2024, 6, 3, 9, tzinfo=UTC), 80),
        (datetime(2024, 5, 20, tzinfo=UTC), 50),
        (datetime(2024, 1, 1, tzinfo=UTC), 10),  # older than the window
        (datetime(2024, 6, 15, tzinfo=UTC), 99),  # in the future
    ]
    assert weekly_series(points, now=now, weeks=4) == [50, None, 80, 70]
    assert len(weekly_series([], now=now)) == 12


def test_weekly_series_week_boundary_in_local_time() -> None:
    # 16:00 UTC on Sunday 12 May is already 01:00 Monday 13 May in Tokyo: a new week there, not in UTC.
    now = datetime(2024, 5, 12, 16, tzinfo=UTC)
    points = [
        (datetime(2024, 5, 12, 14, tzinfo=UTC), 50),  # Sun 23:00 JST
        (datetime(2024, 5, 12, 15, 30, tzinfo=UTC), 60),  # Mon 00:30 JST
    ]
    assert weekly_series(points, now=now, weeks=2, tz="Asia/Tokyo") == [50, 60]
    assert weekly_series(points, now=now, weeks=2, tz="UTC") == [None, 60]


def test_weekly_series_across_dst_change() -> None:
    # US clocks went forward on Sunday 10 March 2024; local Monday midnight still starts the week.
    ny = ZoneInfo("America/New_York")
    now = datetime(2024, 3, 11, 0, 30, tzinfo=ny)
    points = [
        (datetime(2024, 3, 10, 23, 59, tzinfo=ny), 40),
        (datetime(2024, 3, 11, 0, 1, tzinfo=ny), 45),
        (datetime(2024, 3, 4, 0, 0, tzinfo=ny), 30),
    ]
    assert weekly_series(points, now=now, weeks=3, tz="America/New_York") == [None, 40, 45]


def test_weekly_series_treats_naive_times_as_utc() -> None:
    now = datetime(2024, 6, 14, 12)
    assert weekly_series([(datetime(2024, 6, 13), 42)], now=now, weeks=1) == [42]


# --- sharp drops ---------------------------------------------------------------------------------------


def test_dropped_sharply_from_points() -> None:
    assert dropped_sharply([(NOW - 6 * DAY, 80), (NOW, 65)], now=NOW)
    assert not dropped_sharply([(NOW - 6 * DAY, 80), (NOW, 66)], now=NOW)
    # The peak inside the week counts, not just the first value.
    assert dropped_sharply([(NOW - 10 * DAY, 50), (NOW - 3 * DAY, 80), (NOW, 62)], now=NOW)
    # The value standing when the week opened counts too.
    assert dropped_sharply([(NOW - 20 * DAY, 90), (NOW - DAY, 70)], now=NOW)
    # A drop spread over more than a week does not.
    assert not dropped_sharply([(NOW - 20 * DAY, 90), (NOW - 8 * DAY, 80), (NOW, 70)], now=NOW)
    # A rise, a single point, a stale latest value or a future point never alert.
    assert not dropped_sharply([(NOW - 2 * DAY, 40), (NOW, 80)], now=NOW)
    assert not dropped_sharply([(NOW, 10)], now=NOW)
    assert not dropped_sharply([(NOW - 30 * DAY, 90), (NOW - 9 * DAY, 20)], now=NOW)
    assert not dropped_sharply([(NOW - DAY, 90), (NOW + DAY, 10)], now=NOW)


def test_dropped_sharply_threshold_and_window() -> None:
    points = [(NOW - 10 * DAY, 80), (NOW, 70)]
    assert not dropped_sharply(points, now=NOW)
    assert dropped_sharply(points, now=NOW, threshold=10)
    slow = [(NOW - 12 * DAY, 80), (NOW - 9 * DAY, 70), (NOW, 60)]
    assert not dropped_sharply(slow, now=NOW)  # 70 → 60 within the week
    assert dropped_sharply(slow, now=NOW, days=14)  # 80 → 60 within a fortnight
    assert dropped_sharply(slow, now=NOW, days=10)  # 80 was still standing ten days ago


def test_dropped_sharply_from_daily_series() -> None:
    assert dropped_sharply([80, 78, None, 75, 70, 68, 66, 64], now=NOW)
    # 16 points over 8 days; the 80 was superseded by the 78 exactly a week ago.
    assert not dropped_sharply([80, 78, 76, 74, 72, 70, 68, 66, 64], now=NOW)
    assert not dropped_sharply([None, None], now=NOW)


# --- properties and purity -----------------------------------------------------------------------------

_opt_int = st.none() | st.integers(0, 40)


@given(
    due=_opt_int,
    logged=st.integers(0, 40),
    since=st.none() | st.integers(0, 60),
    moods=st.lists(st.tuples(st.integers(0, 400), st.integers(1, 5)), max_size=6),
    scorecard=st.none() | st.floats(1, 5),
    level=st.none() | st.sampled_from(["supplier", "supplier_of_choice", "partner"]),
)
def test_score_always_in_range_and_banded(
    due: int | None,
    logged: int,
    since: int | None,
    moods: list[tuple[int, int]],
    scorecard: float | None,
    level: str | None,
) -> None:
    inputs = HealthInputs(
        adherence=None if due is None else (due, logged),
        since_last=None if since is None else since * DAY,
        ideal=7 * DAY,
        maximum=10 * DAY,
        moods=[(NOW - age * DAY, m) for age, m in moods],
        scorecard_avg=scorecard,
        scorecard_at=NOW - 200 * DAY,
        level=level,
    )
    h = compute_health(inputs, now=NOW)
    if h.score is None:
        assert h.band == "unknown" and not h.components
    else:
        assert 0 <= h.score <= 100
        assert h.band == band(h.score, HealthThresholds())
        assert sum(c.weight for c in h.components) == pytest.approx(1.0)


def test_domain_module_has_no_framework_or_clock_dependencies() -> None:
    source = inspect.getsource(health)
    imported = {
        (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert not {m for m in imported if m.split(".")[0] in {"slack_bolt", "slack_sdk", "sqlmodel", "sqlalchemy"}}
    assert "datetime.now(" not in source and "utcnow" not in source and "time.time" not in source


@pytest.mark.parametrize(
    ("series", "words"),
    [
        ([None] * 12, "not enough data yet"),
        ([None] * 11 + [80], "not enough data yet"),  # one week scored is no trend yet
        ([70, 72], "→ steady since last week"),
        ([90, None, None, 60], "↘ down 30 since 3 weeks ago"),
        ([40, 52, None], "↗ up 12 since last week"),  # this week not scored yet: the last two scored weeks
    ],
)
def test_the_trend_in_words(series: list[int | None], words: str) -> None:
    assert trend_words(series) == words


@pytest.mark.parametrize(
    ("ours", "theirs", "reason"),
    [
        ("partner", None, "Seen as a partner"),
        (None, "supplier", "They see us as a supplier"),
        ("partner", "partner", "Seen as a partner, as they say too"),
        ("partner", "supplier", "They see us as a supplier; we think a partner"),
        ("supplier_of_choice", "partner", "Seen as a supplier of choice (they say a partner)"),
    ],
)
def test_the_level_reason_says_whose_view_counts(ours: str | None, theirs: str | None, reason: str) -> None:
    (component,) = compute_health(HealthInputs(level=ours, their_level=theirs), now=NOW).components
    assert component.reason[:1].upper() + component.reason[1:] == reason


def test_their_view_is_checked_like_ours() -> None:
    with pytest.raises(ValueError):
        HealthInputs(their_level="best friends")


def test_what_moved_names_the_components_that_lowered_the_score_most_first() -> None:
    """The drop alert's "what moved it": a mood gone red, not the low adherence that was there before."""
    before = [
        {"name": "adherence", "score": 20.0, "weight": 0.4, "reason": "1 of the last 5 weekly check-ins logged"},
        {"name": "recency", "score": 50.0, "weight": 0.3, "reason": "last contact 12 days ago"},
        {"name": "mood", "score": 100.0, "weight": 0.3, "reason": "mood green at each of the last 5 check-ins"},
    ]
    after = [
        {"name": "adherence", "score": 20.0, "weight": 0.4, "reason": "1 of the last 5 weekly check-ins logged"},
        {"name": "recency", "score": 45.0, "weight": 0.3, "reason": "last contact 13 days ago"},
        {"name": "mood", "score": 20.0, "weight": 0.3, "reason": "mood mostly red over the last 5 check-ins"},
    ]
    assert health.what_moved(before, after) == [
        ("Mood mostly red over the last 5 check-ins", 24),
        ("Last contact 13 days ago", 2),
    ]
    assert health.what_moved([], after) == []  # a score stored without its components: nothing to compare
