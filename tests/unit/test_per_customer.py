"""PerCustomer: a customer's follow-up runs once at a time, requests made meanwhile fold into its next run, and a
busy customer never holds the pool's worker from the others."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from handlers.followups import AfterAck, PerCustomer

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


class Recorder:
    """The work: records each run's customer, time and items; the first run of `hold` waits to be released."""

    def __init__(self, hold: str | None = None) -> None:
        self.runs: list[tuple[str, datetime, list[Any]]] = []
        self.hold = hold
        self.holding = threading.Event()
        self.release = threading.Event()
        self.ran = threading.Semaphore(0)  # released once per finished run

    def work_for(self, key: str) -> Any:
        def work(now: datetime, items: list[Any], burst: dict[str, Any]) -> None:
            if key == self.hold and not self.holding.is_set():
                self.holding.set()
                assert self.release.wait(10)
            burst["runs"] = burst.get("runs", 0) + 1
            self.runs.append((key, now, [*items, f"run {burst['runs']} of the burst"]))
            self.ran.release()

        return work


def test_requests_made_while_a_run_goes_fold_into_one_next_run_with_the_newest_time() -> None:
    pool = ThreadPoolExecutor(max_workers=1)
    per_customer = PerCustomer("test", AfterAck(pool))
    recorder = Recorder(hold="acme")
    assert per_customer.submit("acme", T0, recorder.work_for("acme"), "check-in 1")
    assert recorder.holding.wait(10)
    for n, minutes in ((2, 3), (3, 1), (4, 2)):
        assert not per_customer.submit(
            "acme", T0 + timedelta(minutes=minutes), recorder.work_for("acme"), f"check-in {n}"
        )
    recorder.release.set()
    assert all(recorder.ran.acquire(timeout=10) for _ in range(2))
    pool.shutdown(wait=True)
    assert recorder.runs == [
        ("acme", T0, ["check-in 1", "run 1 of the burst"]),
        ("acme", T0 + timedelta(minutes=3), ["check-in 2", "check-in 3", "check-in 4", "run 2 of the burst"]),
    ]
    assert (per_customer.runs, per_customer.coalesced) == (2, 3)


def test_a_busy_customer_goes_to_the_back_of_the_queue_between_runs() -> None:
    pool = ThreadPoolExecutor(max_workers=1)
    per_customer = PerCustomer("test", AfterAck(pool))
    recorder = Recorder(hold="acme")
    per_customer.submit("acme", T0, recorder.work_for("acme"), "acme 1")
    assert recorder.holding.wait(10)
    per_customer.submit("globex", T0, recorder.work_for("globex"), "globex 1")  # queued behind Acme's run
    per_customer.submit("acme", T0, recorder.work_for("acme"), "acme 2")  # owed to Acme's next run
    recorder.release.set()
    assert all(recorder.ran.acquire(timeout=10) for _ in range(3))
    pool.shutdown(wait=True)
    assert [(key, items[0]) for key, _, items in recorder.runs] == [
        ("acme", "acme 1"),
        ("globex", "globex 1"),
        ("acme", "acme 2"),
    ]


def test_what_was_handed_in_still_runs_when_the_pool_stops_meanwhile() -> None:
    pool = ThreadPoolExecutor(max_workers=1)
    per_customer = PerCustomer("test", AfterAck(pool))
    recorder = Recorder(hold="acme")
    per_customer.submit("acme", T0, recorder.work_for("acme"), "before the stop")
    assert recorder.holding.wait(10)
    per_customer.submit("acme", T0, recorder.work_for("acme"), "handed in before the stop")
    pool.shutdown(wait=False)  # stopping: the run going on can no longer hand its next run to the pool
    recorder.release.set()
    pool.shutdown(wait=True)
    assert [items[0] for _, _, items in recorder.runs] == ["before the stop", "handed in before the stop"]
    # After the stop nothing new is taken (and nothing is left marked busy for the customer).
    assert not per_customer.submit("acme", T0, recorder.work_for("acme"), "after the stop")
    assert len(recorder.runs) == 2


def test_a_failing_run_is_logged_and_the_customer_is_free_again() -> None:
    pool = ThreadPoolExecutor(max_workers=1)
    per_customer = PerCustomer("test", AfterAck(pool))
    done = threading.Event()

    def fails(now: datetime, items: list[Any], burst: dict[str, Any]) -> None:
        raise RuntimeError("Slack is down")

    def succeeds(now: datetime, items: list[Any], burst: dict[str, Any]) -> None:
        done.set()

    per_customer.submit("acme", T0, fails, "first")
    pool.submit(lambda: None).result(10)  # the failing run has finished
    assert per_customer.submit("acme", T0, succeeds, "second")
    assert done.wait(10)
    pool.shutdown(wait=True)
