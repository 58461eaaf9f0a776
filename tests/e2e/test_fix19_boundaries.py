"""Session 19's boundary fixes (issue 5), end to end: signed requests to the real app, ticks with an injected now,
every message read back from the fake Slack."""

from __future__ import annotations

from bot.settings import Settings
from handlers.ids import BOUNDARY_CALL_YES
from storage.store import Store
from tests.e2e.test_boundaries import acme, channel_posts, ephemeral, ny, records, tick
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import BotServer, FakeClock

acme = acme  # test_boundaries' Acme Corp: Dana's (New York), with #acme and two proposed needs


def test_a_call_confirmed_outside_the_window_weeks_later_is_a_slip_on_the_day_of_the_call(
    acme: SlackRequests, bot: BotServer, fake_slack: FakeSlack, store: Store, clock: FakeClock, settings: Settings
) -> None:
    """Dana answers "Yes, log a slip" for a call of 25 Nov on 28 Dec: the slip was dated by her click, so with two
    slips that week it made "3 slips in 30 days" and asked her to decide — over a call a month old."""
    ephemeral(acme.command('boundary acme add "Calls happen 9-10am our time" kind=contact_window value=9-10am'))
    ephemeral(acme.command("boundary acme activate 3"))
    call_at = ny(2026, 11, 25, 15, 30)
    clock.set(call_at)
    ephemeral(acme.command("checkin acme green call pricing walkthrough"))
    bot.settle()
    tick(store, settings, clock.advance(minutes=1))
    (question,) = [p for p in channel_posts(fake_slack, "U0001") if "Was this call outside" in p["text"]]
    for day in (22, 23):
        clock.set(ny(2026, 12, day, 11))
        ephemeral(acme.command(f"boundary acme slip 3 called at 6pm again ({day} Dec)"))
    clock.set(ny(2026, 12, 28, 9, 45))
    actions = question["blocks"][1]
    answered = acme.block_action(
        BOUNDARY_CALL_YES,
        value=actions["elements"][0]["value"],
        block_id=actions["block_id"],
        channel_id="DDANA",
        message={"type": "message", "ts": "1764600000.000700", "text": question["text"], "blocks": question["blocks"]},
    )
    assert answered.status == 200
    bot.settle()
    slips = records(store)[2].rule.slips
    assert [s.at for s in slips] == [call_at, ny(2026, 12, 22, 11), ny(2026, 12, 23, 11)], slips
    tick(store, settings, clock.advance(minutes=1))
    asked = [p["text"] for p in channel_posts(fake_slack, "U0001") if "keeps slipping" in p["text"]]
    assert asked == [], asked  # two slips in the last 30 days, the call's a month back
    replaced = [c.params for c in fake_slack.calls_to("response_url") if "Logged a slip" in str(c.params.get("text"))]
    assert replaced and "(2 slips in the last 30 days)" in replaced[-1]["text"], replaced


def test_a_reply_time_typed_in_quotes_reads_as_it_does_unquoted_after_the_mood_or_at_the_end(
    acme: SlackRequests, bot: BotServer, store: Store, clock: FakeClock
) -> None:
    """`response="2 business days"` (straight or curled quotes, as a Mac types them) was refused, though
    `response=2 business days` works, and quotes are how every other option takes a value with spaces."""
    ephemeral(acme.command("boundary acme activate 1"))  # within one business day
    clock.set(ny(2026, 12, 3, 10))  # Thursday
    for n, (typed, note, days) in enumerate(
        (
            ('checkin acme yellow response="2 business days" waiting on legal', "waiting on legal", "2"),
            ("checkin acme yellow call next=“fri” response=“2 business days” still on legal", "still on legal", "2"),
            ("checkin acme yellow the SOW is stuck response=”3 business days” next='2 weeks'", "SOW is stuck", "3"),
        )
    ):
        clock.advance(minutes=5)
        logged = ephemeral(acme.command(typed))
        assert "Usage" not in logged and note in logged and "=" not in logged, logged  # the note, without the flags
        bot.settle()
        slips = records(store)[0].rule.slips
        assert len(slips) == n + 1 and f"({days} business days)" in slips[-1].note, (typed, slips)
