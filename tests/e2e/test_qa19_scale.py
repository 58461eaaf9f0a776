"""Production scale and hardening, found by qa19scale: what an operator sees when Slack is busy or gone."""

from __future__ import annotations

import time

import pytest

from bot.settings import Settings
from storage.store import Store
from tests.e2e.test_doctor import add_customer, doctor, lines
from tests.fake_slack import FakeSlack
from tests.utils import FakeClock


@pytest.mark.parametrize("fault", [{"status": 429, "retry_after": 2}, {"status": 500}, {"status": 429}])
def test_the_doctor_stops_asking_about_channels_once_slack_is_rate_limiting_or_failing_and_says_how_many_wait(
    settings: Settings, store: Store, clock: FakeClock, fake_slack: FakeSlack, fault: dict[str, int]
) -> None:
    """A team with 30 customer channels runs `partner-bot doctor` while Slack rate-limits conversations.info
    (Tier 3: about 50 a minute) with a Retry-After of 2 s, or fails with 5xx. Each channel waited out its own
    Retry-After and then failed too: a minute at the prompt, thirty identical FAIL lines and thirty more calls into
    the rate limit. Once Slack does not answer for one channel, the others are not asked: one line says how many
    were not checked and to run it again."""
    for n in range(30):
        fake_slack.add_channel(f"C0CH{n:02d}", name=f"customer-{n:02d}", members=["U0001"])
        add_customer(store, clock, f"Customer {n:02d}", f"C0CH{n:02d}")
    fake_slack.fail_next("conversations.info", times=100, **fault)  # type: ignore[arg-type]
    started = time.monotonic()
    code, output = doctor(settings)
    took = time.monotonic() - started
    assert code == 1, output
    failures = lines(output, "FAIL", "channels")
    assert len(failures) == 1, output
    assert "<#C0CH00> of Customer 00: Slack did not answer" in failures[0], output
    assert "the 29 other customer channel(s) were not checked" in failures[0], output
    assert "partner-bot doctor` again" in output
    assert len(fake_slack.calls_to("conversations.info")) <= 3  # one channel and its retries
    assert took < 8, took
