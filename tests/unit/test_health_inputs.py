"""The health inputs builder: plain rows in, HealthInputs out (no database, no Slack)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import count
from typing import Any

import pytest

from domain import boundaries as bd
from domain.health import BoundaryHealthInput, compute_health
from schedules.health import health_inputs
from storage.boundaries import to_rule
from storage.models import Boundary, BoundarySlip, CheckIn, Customer

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # a Wednesday
_ids = count(1)


def customer(**fields: Any) -> Customer:
    defaults: dict[str, Any] = {
        "id": 1,
        "team_id": "T1",
        "name": "Acme",
        "name_key": "acme",
        "tz": "UTC",
        "created_at": datetime(2026, 6, 1, tzinfo=UTC),
        "updated_at": datetime(2026, 6, 1, tzinfo=UTC),
    }
    return Customer(**{**defaults, **fields})


def checkin(at: datetime, mood: str = "green", kind: str = "async") -> CheckIn:
    return CheckIn(id=next(_ids), team_id="T1", customer_id=1, author_id="U1", mood=mood, kind=kind, created_at=at)


def day(d: int, month: int = 11, hour: int = 11) -> datetime:
    return datetime(2026, month, d, hour, 0, tzinfo=UTC)


def inputs(c: Customer, checkins: list[CheckIn] = (), **kw: Any):  # type: ignore[assignment,no-untyped-def]
    args: dict[str, Any] = {
        "customer": c,
        "checkins": list(checkins),
        "last_contact_at": max((x.created_at for x in checkins), default=None),
        "boundaries": [],
        "scorecard": None,
        "now": NOW,
    }
    args.update(kw)
    return health_inputs(**args)


# Adherence


def test_weekly_adherence_counts_the_slots_with_a_checkin_in_their_period() -> None:
    # Tuesdays due in the last 30 days: Oct 27, Nov 3, 10, 17, 24. Nov 12 (Thu) falls in the Nov 17 period.
    got = inputs(
        customer(cadence="weekly tue 10:00"), [checkin(day(27, 10)), checkin(day(12)), checkin(day(24), kind="call")]
    )
    assert got.adherence == (5, 3)
    assert got.cadence_label == "weekly check-ins"


def test_daily_adherence_counts_only_calls() -> None:
    # 22 business days are due in (Oct 26 15:00, Nov 25 15:00], today's still to make (not logged yet, its day not
    # over: not counted either way); three calls on three days, one async note.
    rows = [checkin(day(d), kind="call") for d in (3, 10, 24)] + [checkin(day(18))]
    got = inputs(customer(cadence="daily 09:00"), rows)
    assert got.adherence == (21, 3)
    assert got.cadence_label == "daily calls"
    reasons = compute_health(got, now=NOW).top_reasons(2)
    assert "3 of the last 21 daily calls logged" in reasons
    # Logged today, today's call counts as kept.
    assert inputs(customer(cadence="daily 09:00"), [*rows, checkin(day(25), kind="call")]).adherence == (22, 4)


def test_two_calls_on_one_day_keep_one_slot() -> None:
    rows = [checkin(day(24, hour=9), kind="call"), checkin(day(24, hour=16), kind="call")]
    assert inputs(customer(cadence="daily"), rows).adherence == (21, 1)  # today's, still to make, left out


def test_launch_mode_is_daily_calls_up_to_its_end_then_the_normal_cadence() -> None:
    # Daily Oct 27 – Nov 13 (14 business days), then the Tuesdays Nov 17 and 24.
    got = inputs(customer(cadence="weekly tue 10:00", launch_until=date(2026, 11, 13)), [])
    assert got.adherence == (16, 0)
    assert got.cadence_label == "weekly check-ins"  # launch is over today
    during = inputs(customer(cadence="weekly tue 10:00", launch_until=date(2026, 12, 1)), [])
    assert during.cadence_label == "daily calls"


def test_launch_mode_owes_daily_calls_only_from_when_it_was_turned_on() -> None:
    # Turned on at noon on Monday 23 November: the Tuesdays before it owed weekly calls, then Tue 24 daily (and Wed
    # 25, today, still to make).
    weekly = customer(cadence="weekly tue 10:00")
    before = inputs(weekly, [checkin(day(17))], now=day(23, hour=12)).adherence
    launched = customer(cadence="weekly tue 10:00", launch_until=date(2026, 12, 1))
    got = inputs(launched, [checkin(day(17))], launch_from=day(23, hour=12))
    assert before is not None and got.adherence == (before[0] + 1, before[1])
    # Its first daily call is owed from then, as after a call: two business days since, not six.
    assert got.since_last == timedelta(days=2)
    assert inputs(launched, [checkin(day(17))]).adherence != got.adherence  # unknown start: daily all along


def test_a_new_customer_owes_only_what_was_due_since_it_was_added() -> None:
    got = inputs(customer(cadence="weekly tue 10:00", created_at=day(16)), [checkin(day(17))])
    assert got.adherence == (2, 1)


def test_a_paused_customer_owes_nothing_after_the_pause() -> None:
    got = inputs(customer(cadence="weekly tue 10:00", paused_at=day(5)), [])
    assert got.adherence == (2, 0)  # Oct 27 and Nov 3 only


def test_no_cadence_means_no_adherence_and_no_recency() -> None:
    got = inputs(customer(), [checkin(day(20))])
    assert got.adherence is None
    assert got.since_last is None and got.ideal is None


# Recency


def test_recency_uses_the_cadence_windows_in_calendar_days() -> None:
    got = inputs(customer(cadence="weekly tue 10:00"), [checkin(day(12))])
    assert (got.since_last, got.ideal, got.maximum) == (timedelta(days=13), timedelta(days=7), timedelta(days=10))


def test_daily_recency_counts_business_days_so_friday_is_fine_on_monday() -> None:
    monday = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
    got = inputs(customer(cadence="daily"), [checkin(day(20), kind="call")], now=monday)
    assert got.since_last == timedelta(days=1)
    recency = next(c for c in compute_health(got, now=monday).components if c.name == "recency")
    assert recency.score == 100
    assert recency.reason == "last contact 1 business day ago (ideal 1, max 2)"


def test_a_daily_cadence_says_its_business_days_and_others_say_days() -> None:
    wednesday = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # Fri 20 → Wed 25: 3 business days, 5 days
    daily = inputs(customer(cadence="daily"), [checkin(day(20), kind="call")], now=wednesday)
    weekly = inputs(customer(cadence="weekly tue 10:00"), [checkin(day(20))], now=wednesday)
    reasons = [
        next(c for c in compute_health(got, now=wednesday).components if c.name == "recency").reason
        for got in (daily, weekly)
    ]
    assert reasons == ["last contact 3 business days ago (ideal 1, max 2)", "last contact 5 days ago (ideal 7, max 10)"]


def test_the_customers_own_windows_override_the_cadence() -> None:
    got = inputs(customer(cadence="weekly tue 10:00", ideal_days=3, max_days=5), [checkin(day(20))])
    assert (got.since_last, got.ideal, got.maximum) == (timedelta(days=5), timedelta(days=3), timedelta(days=5))


def test_never_contacted_counts_from_when_the_customer_was_added() -> None:
    got = inputs(customer(cadence="weekly tue 10:00", created_at=day(1)), [])
    assert got.since_last == timedelta(days=24)


# Mood, scorecard, level


def test_moods_of_the_last_90_days_as_typed() -> None:
    # As typed, so the reason names a rating "4/5" (the score reads each as 1 to 5: domain.health.mood_value).
    rows = [checkin(day(1, month=7), "red"), checkin(day(10), "yellow"), checkin(day(20), "4")]
    got = inputs(customer(), rows)
    assert [m for _, m in got.moods] == ["yellow", "4"]


def test_scorecard_and_tier_pass_through_and_an_unknown_tier_is_ignored() -> None:
    got = inputs(customer(tier="partner"), scorecard=(4.2, day(1)))
    assert (got.scorecard_avg, got.scorecard_at, got.level) == (4.2, day(1), "partner")
    assert inputs(customer(tier="gold")).level is None


def test_nothing_recorded_scores_unknown() -> None:
    assert compute_health(inputs(customer()), now=NOW).score is None


# Boundaries


def test_boundaries_count_held_and_slipping_in_the_last_30_days() -> None:
    held = bd.Boundary("Replies within 1 business day", status="active", activated_at=day(1, month=9), id=1)
    slipping = bd.Boundary(
        "No calls after 6pm",
        status="active",
        activated_at=day(1, month=9),
        id=2,
        slips=(bd.Slip(at=day(10)), bd.Slip(at=day(20)), bd.Slip(at=day(1, month=9))),
    )
    retired = bd.Boundary("Old", status="retired", retired_at=day(1), id=3)
    got = inputs(customer(), boundaries=[held, slipping, retired])
    assert got.boundaries == BoundaryHealthInput(
        active=2, held=1, slips=2, most_slipped="No calls after 6pm", most_slips=2
    )
    assert inputs(customer()).boundaries is None


def test_a_boundary_row_converts_to_the_domain_object() -> None:
    row = Boundary(
        id=7,
        team_id="T1",
        customer_id=1,
        position=2,
        text="Replies within 1 business day",
        kind="response_time",
        value="1d",
        status="held",
        created_at=day(1, month=9),
        activated_at=day(1, month=9),
        held_at=day(1, month=10),
    )
    slip = BoundarySlip(id=1, team_id="T1", boundary_id=7, at=day(3), by="U1", note="late", source="manual")
    got = to_rule(row, [slip])
    assert (got.id, got.status, got.kind, got.position) == (7, "held", "response_time", 2)
    assert [s.at for s in got.slips] == [day(3)]
    with pytest.raises(ValueError):
        to_rule(Boundary(team_id="T1", customer_id=1, text="x", status="active", created_at=NOW), [])


# Together


def test_an_attentive_relationship_outscores_a_neglected_one() -> None:
    c = customer(cadence="weekly tue 10:00", tier="supplier_of_choice")
    good = [checkin(day(27, 10), "green")] + [checkin(day(d), "green") for d in (3, 10, 17, 24)]
    bad = [checkin(day(27, 10), "red")]
    good_score = compute_health(inputs(c, good, scorecard=(4.5, day(1))), now=NOW).score
    bad_score = compute_health(inputs(c, bad, scorecard=(2.0, day(1))), now=NOW).score
    assert good_score is not None and bad_score is not None
    assert good_score >= 70 > 40 > bad_score


# Configuration


def test_weights_thresholds_and_survey_schedule_from_settings() -> None:
    from bot.settings import SettingsError, parse_health_thresholds, parse_health_weights, parse_survey_schedule

    assert parse_health_weights("mood=40, boundaries=0").mood == 40 and parse_health_weights(None).adherence == 25
    assert parse_health_thresholds("green=80").green == 80 and parse_health_thresholds("green=80").yellow == 40
    assert parse_survey_schedule(None) == {"scorecard": 91, "level": 30}
    assert parse_survey_schedule("level=off,practices=45d,profile=yearly") == {
        "scorecard": 91,
        "practices": 45,
        "profile": 365,
    }
    assert parse_survey_schedule("off") == {}
    for bad in ("vibes=10", "mood=lots", "mood=-1"):
        with pytest.raises(SettingsError, match="PARTNER_HEALTH_WEIGHTS"):
            parse_health_weights(bad)
    with pytest.raises(SettingsError, match="PARTNER_HEALTH_THRESHOLDS"):
        parse_health_thresholds("green=30,yellow=50")
    for bad in ("level=sometimes", "customer_view=monthly", "level"):
        with pytest.raises(SettingsError, match="PARTNER_SURVEY_SCHEDULE"):
            parse_survey_schedule(bad)


def test_survey_prompt_periods_count_from_when_the_customer_was_added() -> None:
    from schedules.surveys import period_start

    added = date(2026, 1, 10)
    assert period_start(added, date(2026, 1, 10), 30) == added
    assert period_start(added, date(2026, 2, 8), 30) == added
    assert period_start(added, date(2026, 2, 9), 30) == date(2026, 2, 9)
    assert period_start(added, date(2026, 1, 1), 30) == added  # clock skew never goes before the start


@pytest.mark.parametrize(
    ("tz", "flagged_at", "day"),
    [
        ("Pacific/Auckland", datetime(2026, 11, 22, 20, 0, tzinfo=UTC), "Mon 23 Nov"),  # 09:00 Monday there
        ("Pacific/Honolulu", datetime(2026, 11, 24, 5, 0, tzinfo=UTC), "Mon 23 Nov"),  # 19:00 Monday there
    ],
)
def test_a_relationship_flag_names_the_day_on_the_customers_clock(tz: str, flagged_at: datetime, day: str) -> None:
    health = compute_health(inputs(customer(tz=tz), flagged_at=flagged_at), now=NOW)
    (flag,) = [c for c in health.components if c.name == "flag"]
    assert flag.reason == f"relationship flagged over a boundary on {day}"
