"""QA round 22, health: the score and its trend as a customer-success lead acts on them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col

from domain.surveys import SURVEYS
from schedules.health import HEALTH_DROP
from storage.models import Customer, SurveyResponse
from storage.store import Store
from tests.e2e.test_home_surveys import open_home, row
from tests.e2e.test_surveys import add_customer, all_ratings, opened, submit
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import TEAM_ID, BotServer, FakeClock


def ok(response: Any) -> dict[str, Any]:
    assert response.status == 200, response.text
    return response.json() if response.body else {}


def weekly_acme(slack: SlackRequests, store: Store) -> Customer:
    """Acme, a long-standing customer with a weekly Tuesday call."""
    ok(slack.command("add Acme Corp <#C0ACME|acme> <@U0001|dana> tz=UTC"))
    (customer,) = store.customers(team_id=TEAM_ID)
    with store.session() as session:
        row = session.get(Customer, customer.id)
        assert row is not None
        row.cadence = "weekly tue 10:00"
        row.created_at = datetime(2026, 6, 1, tzinfo=UTC)
        session.add(row)
        session.commit()
    return customer


def test_every_pause_of_the_month_is_left_out_of_the_score_not_only_the_last(
    slack: SlackRequests, store: Store, clock: FakeClock, bot: BotServer
) -> None:
    """Dana paused Acme for two weeks over their budget freeze, called the Tuesday after resuming, then paused it
    again for a week over their office move. Every call she owed she made: once resumed, the score read the first
    pause's two Tuesdays as missed calls ("2 of the last 4 weekly check-ins logged"), only the last pause was left
    out, though README leaves every paused week out of the score."""
    weekly_acme(slack, store)
    clock.set(datetime(2026, 10, 20, 15, 0, tzinfo=UTC))  # a Tuesday
    ok(slack.command("checkin acme green call all good"))
    clock.set(datetime(2026, 10, 21, 9, 0, tzinfo=UTC))
    ok(slack.command("pause acme"))
    clock.set(datetime(2026, 11, 4, 9, 0, tzinfo=UTC))  # two Tuesdays later
    ok(slack.command("resume acme"))
    clock.set(datetime(2026, 11, 10, 15, 0, tzinfo=UTC))
    ok(slack.command("checkin acme green call fine"))
    clock.set(datetime(2026, 11, 11, 9, 0, tzinfo=UTC))
    ok(slack.command("pause acme"))
    clock.set(datetime(2026, 11, 18, 9, 0, tzinfo=UTC))
    ok(slack.command("resume acme"))
    bot.settle()
    status = json.dumps(ok(slack.command("status acme"))["blocks"], ensure_ascii=False)
    assert "2 of the last 4 weekly check-ins logged" not in status, status
    assert "Nothing is pulling the score down" in status, status
    bot.settle()  # status stores the score it shows after its answer
    fresh = store.customer(team_id=TEAM_ID, customer_id=store.customers(team_id=TEAM_ID)[0].id or 0)
    assert fresh is not None and fresh.health_score == 100, fresh.health_score
    # Nor did the owner hear of a fall that was only the paused weeks.
    assert store.nudges(team_id=TEAM_ID, kinds=[HEALTH_DROP], due_after=clock.now - timedelta(days=60)) == []


def test_a_home_row_says_their_old_view_counts_half_only_where_the_score_counts_it_half(
    bot: BotServer, slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    """Acme's people said "partner" seven months ago, as we rate it; Globex's said "partner" where we say "supplier".
    The score reads our own view for both (the lower), in full, and their cards say so; yet their Home rows said
    their view "(7 months old, counts half)", as if it still weighed half in the score."""
    acme = add_customer(slack, store)
    globex = add_customer(slack, store, "Globex <@U0001|dana>")
    initech = add_customer(slack, store, "Initech <@U0001|dana>")
    now = datetime.now(UTC)
    with Session(store.engine) as session:
        for customer, ours in ((acme, "partner"), (globex, "supplier"), (initech, "partner")):
            session.execute(update(Customer).where(col(Customer.id) == customer.id).values(tier=ours))
            session.add(
                SurveyResponse(
                    team_id=TEAM_ID,
                    customer_id=customer.id,
                    survey="customer_view",
                    respondent_id="W1",
                    external=True,
                    answers={"level": "supplier" if customer is initech else "partner"},
                    created_at=now - timedelta(days=215),
                )
            )
        session.commit()
    home = open_home(bot, slack, fake_slack)
    assert acme.id is not None and globex.id is not None and initech.id is not None
    assert ":speech_balloon: their view *Partner*" in row(home, acme.id)
    assert "counts half" not in row(home, acme.id), row(home, acme.id)
    assert ":speech_balloon: their view *Partner*, higher than ours" in row(home, globex.id)
    assert "counts half" not in row(home, globex.id), row(home, globex.id)
    # Theirs lower than ours and old: it does count half (halfway between the two views), and the row says so.
    assert "their view *Supplier*, lower than ours (7 months old, counts half)" in row(home, initech.id)
    for name in ("acme", "globex"):
        card = json.dumps(ok(slack.command(f"show {name}"))["blocks"], ensure_ascii=False)
        assert "counts half" not in card, card


def test_status_of_a_customer_not_scored_yet_says_which_answers_start_the_score(
    slack: SlackRequests, store: Store, fake_slack: FakeSlack, bot: BotServer
) -> None:
    """Initech's owner filled in the practices self-check and the profile, then asked for its status: "not scored
    yet — Log a check-in or answer a survey and the score starts counting", after two surveys answered. Neither
    counts in the score (README's health components): status now says what does."""
    add_customer(slack, store, "Initech <@U0001|dana>")
    ok(slack.command("survey initech practices"))
    ok(submit(slack, opened(fake_slack), all_ratings(SURVEYS["practices"], "4"), view_id="VPRACTICES"))
    ok(slack.command("survey initech profile"))
    ok(submit(slack, opened(fake_slack), {"annual_budget": "about 200k"}, view_id="VPROFILE"))
    bot.settle()
    assert (
        len(
            store.survey_responses(
                team_id=TEAM_ID, survey="profile", customer_id=store.customers(team_id=TEAM_ID)[0].id
            )
        )
        == 1
    )
    status = json.dumps(ok(slack.command("status initech"))["blocks"], ensure_ascii=False)
    assert "not scored yet" in status, status
    assert "answer a survey and the score starts counting" not in status, status
    said = (
        "Log a check-in, set a cadence, fill in the scorecard or rate our level and the score starts counting "
        "(the practices self-check and the profile don't count in it)."
    )
    assert said in status, status


def test_a_pause_during_launch_mode_does_not_make_the_weeks_before_the_launch_owe_daily_calls(
    slack: SlackRequests, store: Store, clock: FakeClock, bot: BotServer
) -> None:
    """Acme, a weekly customer called every Tuesday, went into launch mode (daily calls from then on), was paused two
    days over a holiday and resumed. Every call owed was made; once resumed, the score counted the four weeks before
    the launch as daily calls missed (launch began owing them "from when it is turned on", README says)."""
    weekly_acme(slack, store)
    for week in range(4):  # every weekly call of the month before the launch
        clock.set(datetime(2026, 10, 20, 15, 0, tzinfo=UTC) + timedelta(weeks=week))
        ok(slack.command("checkin acme green call weekly call"))
    clock.set(datetime(2026, 11, 16, 8, 0, tzinfo=UTC))  # Monday: launch mode, a daily call each business day
    ok(slack.command("launch acme on until=2026-11-27"))
    for day in (16, 17):
        clock.set(datetime(2026, 11, day, 15, 0, tzinfo=UTC))
        ok(slack.command("checkin acme green call launch call"))
    clock.set(datetime(2026, 11, 17, 18, 0, tzinfo=UTC))
    ok(slack.command("pause acme"))
    clock.set(datetime(2026, 11, 20, 8, 0, tzinfo=UTC))  # Friday morning
    ok(slack.command("resume acme"))
    bot.settle()
    status = json.dumps(ok(slack.command("status acme"))["blocks"], ensure_ascii=False)
    assert "daily calls logged" not in status or "all of the last" in status, status
    (customer,) = store.customers(team_id=TEAM_ID)
    assert customer.health_score == 100, (customer.health_score, status)


def test_a_mood_green_at_every_check_in_is_never_a_reason_the_score_is_down(
    slack: SlackRequests, store: Store, clock: FakeClock, bot: BotServer
) -> None:
    """Green at every check-in, and `/partner status` listed "Mood green at each of the last 5 check-ins" under *What
    moves it most*, beside the missed calls: the mood's weighted average came out 4.9999… (floating point), so a mood
    at its best read as a drag on the score."""
    weekly_acme(slack, store)
    for at in [datetime(2026, 10, 20, 15, 0, tzinfo=UTC) + timedelta(weeks=w) for w in (0, 1, 3)] + [
        datetime(2026, 11, 16, 15, 0, tzinfo=UTC),
        datetime(2026, 11, 17, 15, 0, tzinfo=UTC),
    ]:
        clock.set(at)
        ok(slack.command("checkin acme green call all good"))
    clock.set(datetime(2026, 11, 20, 8, 0, tzinfo=UTC))
    bot.settle()
    status = json.dumps(ok(slack.command("status acme"))["blocks"], ensure_ascii=False)
    assert "*What moves it most:*" in status and "Mood green" not in status, status
