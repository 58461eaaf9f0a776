"""A burst of check-ins of one customer: its health is recomputed about twice, and the score counts every one."""

from __future__ import annotations

import threading
from typing import Any

from bot.settings import Settings
from handlers.followups import HEALTH_AFTER_CHECKIN, recompute_after_checkin
from schedules.health import health_config, recompute_health
from storage.store import Store
from tests.slack_requests import SlackRequests
from tests.utils import TEAM_ID, FakeClock


def ok(response: Any) -> dict[str, Any]:
    assert response.status == 200, response.text
    return response.json() if response.body else {}


def test_twenty_concurrent_checkins_cost_at_most_three_recomputes_and_score_them_all(
    slack: SlackRequests, store: Store, settings: Settings, clock: FakeClock
) -> None:
    ok(slack.command("add Acme Corp <#C0ACME|acme> <@U0001|dana> tz=UTC"))
    (customer,) = store.customers(team_id=TEAM_ID)
    assert customer.id is not None
    customer_id = customer.id

    first_run_started, release_first_run = threading.Event(), threading.Event()

    def hold_the_first_run(key: Any) -> None:
        if key == (TEAM_ID, customer_id) and not first_run_started.is_set():
            first_run_started.set()
            assert release_first_run.wait(30)

    def check_in(mood: str) -> threading.Thread:
        clock.advance(minutes=1)
        store.record_checkin(
            team_id=TEAM_ID, customer_id=customer_id, author_id="U0002", mood=mood, note="burst", now=clock()
        )
        at = clock()
        thread = threading.Thread(
            target=recompute_after_checkin,
            kwargs={"store": store, "settings": settings, "team_id": TEAM_ID, "customer_id": customer_id, "now": at},
        )
        thread.start()
        return thread

    runs_before = HEALTH_AFTER_CHECKIN.runs
    HEALTH_AFTER_CHECKIN.before_run = hold_the_first_run
    try:
        first = check_in("green")
        assert first_run_started.wait(30)
        # The other 19 arrive while the first recompute is still reading the first check-in only.
        others = [check_in("red") for _ in range(19)]
        for thread in others:
            thread.join(30)
        release_first_run.set()
        first.join(30)
    finally:
        HEALTH_AFTER_CHECKIN.before_run = None

    assert HEALTH_AFTER_CHECKIN.runs - runs_before <= 3
    stored = store.customer(team_id=TEAM_ID, customer_id=customer_id)
    assert stored is not None and stored.health_at == clock()
    one_by_one = recompute_health(store, TEAM_ID, customer_id, clock(), config=health_config(settings))
    assert one_by_one is not None
    assert stored.health_score == one_by_one.score
