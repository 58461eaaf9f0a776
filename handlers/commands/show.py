"""`/partner show <customer>`: one customer's card."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from bot.settings import Settings
from domain.errors import UserError
from domain.health import trend_words
from handlers.blocks import mrkdwn_name
from handlers.blocks.customers import customer_card
from handlers.blocks.home import SPARK_WEEKS, health_trend, trend_text
from handlers.commands.base import CommandCall, Reply
from handlers.commands.list import customer_rows
from handlers.commands.lookup import find_customer
from storage.models import Customer
from storage.store import Store

USAGE = "/partner show <customer>"
CARD_CHECKINS = 5


def card_message(store: Store, settings: Settings, *, customer: Customer, now: datetime) -> dict[str, Any]:
    (row,) = customer_rows(
        store, settings, team_id=customer.team_id, customers=[customer], now=now, recent=CARD_CHECKINS
    )
    # Our view vs the customer's own, and the ideal-customer profile (issue: "kept on the customer card").
    theirs = store.survey_responses(
        team_id=customer.team_id, survey="customer_view", customer_id=customer.id, external=True, limit=50
    )
    latest = {
        survey: store.latest_survey_response(team_id=customer.team_id, survey=survey, customer_id=customer.id)
        for survey in ("profile", "scorecard", "practices")
    }
    guests_read = customer.channel_shared and store.read_by_guests(
        team_id=customer.team_id, channel_id=customer.channel_id
    )
    row = replace(
        row,
        their_views=theirs,
        profile=latest["profile"],
        scorecard=latest["scorecard"],
        practices=latest["practices"],
        guests_read=guests_read,
    )
    # The health trend as Home's row and card draw it, so the three surfaces agree.
    points = store.home_health_points(
        team_id=customer.team_id, customer_ids=[customer.id], since=(now - timedelta(weeks=SPARK_WEEKS + 1)).date()
    )
    series = health_trend(points.get(customer.id, []), now=now, tz=row.tz)
    trend = trend_text(series) if any(v is not None for v in series) else None
    return customer_card(
        row, now=now, boundary_policy=settings.boundary_policy, trend=trend, direction=trend_words(series)
    )


def show(call: CommandCall) -> Reply:
    customer, rest = find_customer(call.store, team_id=call.team_id, words=call.args.split(), usage=USAGE)
    if rest:
        raise UserError(
            f"I didn't understand '{' '.join(rest)}' after *{mrkdwn_name(customer.name)}*. Usage: `{USAGE}`"
        )
    return card_message(call.store, call.settings, customer=customer, now=call.now)
