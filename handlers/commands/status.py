"""`/partner status <customer>`: health score, its 12-week trend, the top two reasons, our view vs theirs."""

from __future__ import annotations

from datetime import timedelta

from domain.errors import UserError
from domain.health import sparkline, trend_words, weekly_series
from handlers.blocks.health import status_blocks, status_text
from handlers.commands.base import CommandCall, Reply
from handlers.commands.lookup import find_customer
from handlers.parsing import tokenize, unescape
from schedules.health import current_health, customer_calendar, health_config, score_points

USAGE = "/partner status <customer>"
TREND_WEEKS = 12


def status(call: CommandCall) -> Reply:
    words = [unescape(w) for w in tokenize(call.args, inner_quotes=True)]
    customer, rest = find_customer(call.store, team_id=call.team_id, words=words, usage=USAGE)
    if rest:
        raise UserError(f"I didn't understand '{' '.join(rest)}'. Usage: `{USAGE}`")
    assert customer.id is not None
    config = health_config(call.settings)
    calendar = customer_calendar(customer, config.default_tz)
    # Recency moves with the clock, so the score shown is the score as of now. Storing it (today's snapshot, a drop
    # owed to the owner, the Homes showing it) waits for after the answer, and only when it moved or today has no
    # snapshot yet: a write here waited for any other writer's lock while the user did, for what is only a look.
    health = current_health(call.store, customer, call.now, config=config)
    stored_today = customer.health_at is not None and calendar.local_date(customer.health_at) == calendar.local_date(
        call.now
    )
    if (health.score, health.band) != (customer.health_score, customer.health_band) or not stored_today:
        call.followup["rescore_customer_id"] = customer.id
        if health.score != customer.health_score:  # the Home shows the score too
            call.refresh_homes(customer.owner_id, call.user_id)
    tz = calendar.tz
    points = score_points(call.store, customer, (call.now - timedelta(weeks=TREND_WEEKS + 1)).date())
    if health.score is not None:
        points.append((call.now, health.score))  # this week's point is the score shown, stored or not yet
    series = weekly_series(points, now=call.now, weeks=TREND_WEEKS, tz=tz)
    trend, direction = sparkline(series), trend_words(series)
    theirs = call.store.survey_responses(
        team_id=call.team_id, survey="customer_view", customer_id=customer.id, external=True, limit=50
    )
    # Our latest level answer: what we wrote would move us up a level is shown beside their view.
    ours = call.store.latest_survey_response(
        team_id=call.team_id, survey="level", customer_id=customer.id, external=False
    )
    # The relationship tier over time (the level survey sets it; each change is kept).
    moves = call.store.customer_events_of_kind(team_id=call.team_id, customer_id=customer.id, kind="tier_changed")
    return {
        "text": status_text(customer, health, trend=trend, theirs_responses=theirs, direction=direction, now=call.now),
        "blocks": status_blocks(
            customer,
            health,
            trend=trend,
            theirs_responses=theirs,
            ours=ours,
            tier_moves=moves,
            direction=direction,
            now=call.now,
        ),
    }
