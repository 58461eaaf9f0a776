"""Session 22: the contact window agreement ("calls at 9am", "9–10am") as people log calls and type it."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bot.settings import Settings
from handlers.ids import BOUNDARY_CALL_NO, BOUNDARY_CALL_YES, CHECKIN_MODAL
from storage.store import Store
from tests.e2e.test_boundaries import channel_posts, records, response_posts
from tests.e2e.test_cadence import add, confirmations, day, log_call_from, nudges, tick
from tests.e2e.test_foundation import modal_values
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import BotServer, FakeClock, ephemeral


@pytest.fixture(autouse=True)
def acme_channel(fake_slack: FakeSlack) -> None:
    fake_slack.add_channel("C0ACME", name="acme", members=["U0001"])  # the bot is a member


def window_questions(fake_slack: FakeSlack) -> list[dict[str, object]]:
    return [p for p in channel_posts(fake_slack, "U0001") if "outside the agreed" in str(p["text"])]


@pytest.mark.parametrize("answer", [BOUNDARY_CALL_YES, BOUNDARY_CALL_NO])
def test_a_call_logged_the_next_day_from_its_nudge_is_asked_about_without_presuming_its_placeholder_time(
    slack: SlackRequests,
    bot: BotServer,
    store: Store,
    settings: Settings,
    fake_slack: FakeSlack,
    clock: FakeClock,
    answer: str,
) -> None:
    """Dana called Acme on Tuesday at 09:30, inside the agreed 9–10am, and logged it on Wednesday morning from
    Tuesday's nudge. The call is stored at Tuesday 23:59:59 so that it counts for Tuesday; the window check read that
    placeholder as the call's time and told her 'That call looks outside the agreed 9–10am window', then asked 'You
    logged a call with Acme at 23:59 their time …' — and her Yes put 'Call at 23:59' in the slip history. Nobody
    knows when a back-dated call was: she is asked, by its day, without a time presumed."""
    acme = add(store, name="Acme Corp")
    clock.set(day(0))
    assert "Proposed" in ephemeral(slack.command('boundary acme add "Calls happen 9-10am" kind=window value=9-10am'))
    ephemeral(slack.command("boundary acme activate 1"))
    bot.settle()
    tick(store, settings, day(1))  # Tuesday 1 Dec, 09:00 in New York: the nudge
    (tuesday,) = nudges(fake_slack)
    clock.set(day(2, timedelta(hours=14, minutes=40)))  # Wednesday 09:40: before Wednesday's nudge is ticked
    form = log_call_from(slack, fake_slack, tuesday)
    values = modal_values(acme.id, "green", "Good sync on the rollout", call=True)
    assert slack.view_submission(CHECKIN_MODAL, values, private_metadata=form["private_metadata"]).status == 200
    bot.settle()
    (confirmation,) = confirmations(fake_slack)
    assert "It counts for the call of Tue 1 Dec, the nudge's day." in confirmation
    told = " ".join(c.params["text"] for c in fake_slack.calls_to("chat.postEphemeral"))
    assert "looks outside" not in told  # nothing known says it was outside
    assert (
        "I'll ask you whether that call on Tue 1 Dec was inside the agreed 9–10am window: it was logged once its day "
        "was over, so its time isn't known." in told
    )
    tick(store, settings, clock.now + timedelta(minutes=1))
    (question,) = window_questions(fake_slack)
    text = str(question["text"])
    assert "23:59" not in text, text
    assert text == (
        "You logged a call with *Acme Corp* for Tue 1 Dec from that day's nudge, once the day was over: I don't know "
        "what time it was. Was this call outside the agreed 9–10am window?"
    )
    blocks = question["blocks"]
    button = next(e for e in blocks[1]["elements"] if e["action_id"] == answer)  # type: ignore[index]
    message = {"type": "message", "ts": "1764700000.000100", "text": "", "blocks": blocks}
    clock.set(clock.now + timedelta(minutes=5))
    slack.block_action(answer, value=button["value"], message=message, user_id="U0001", channel_id="D1")
    bot.settle()
    (rec,) = records(store)
    if answer == BOUNDARY_CALL_NO:
        assert rec.rule.slips == ()
        assert "no slip logged" in response_posts(fake_slack)[-1]["text"]
        return
    (slip,) = rec.rule.slips
    assert "23:59" not in slip.note
    assert slip.note == "Call on Tue 1 Dec (its time not logged), outside the agreed 9–10am window"
    assert "Logged a slip" in response_posts(fake_slack)[-1]["text"]


def test_a_call_logged_from_todays_nudge_inside_the_window_asks_nothing(
    slack: SlackRequests, bot: BotServer, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """The guard of the fix: the same day, a call's time is when it is logged, and 09:40 is inside 9–10am."""
    acme = add(store, name="Acme Corp")
    clock.set(day(0))
    ephemeral(slack.command('boundary acme add "Calls happen 9-10am" kind=window value=9-10am'))
    ephemeral(slack.command("boundary acme activate 1"))
    tick(store, settings, day(1))
    (tuesday,) = nudges(fake_slack)
    clock.set(day(1, timedelta(hours=14, minutes=40)))  # Tuesday 09:40
    form = log_call_from(slack, fake_slack, tuesday)
    values = modal_values(acme.id, "green", "Good sync", call=True)
    assert slack.view_submission(CHECKIN_MODAL, values, private_metadata=form["private_metadata"]).status == 200
    bot.settle()
    tick(store, settings, clock.now + timedelta(minutes=1))
    assert window_questions(fake_slack) == []
    assert "window" not in json.dumps([c.params for c in fake_slack.calls_to("chat.postEphemeral")])


@pytest.fixture
def acme(slack: SlackRequests, bot: BotServer) -> SlackRequests:
    ephemeral(slack.command("add Acme Corp <#C0ACME|acme> <@U0001|dana>"))
    bot.settle()
    return slack


@pytest.mark.parametrize(
    ("typed", "stored", "said"),
    [
        # As the people type it: unquoted, a space before each am/pm. It was "I didn't understand 'am-10 am'".
        ('"Calls in the morning" kind=window value=9 am-10 am', "09:00-10:00", "9–10am"),
        ('"Calls in the morning" kind=contact_window value=9 am - 10 am', "09:00-10:00", "9–10am"),
        ('"Calls in the morning" value=9 AM–10 AM', "09:00-10:00", "9–10am"),  # no kind: the value says it
        ("Calls in the morning value=9-10 am kind=window", "09:00-10:00", "9–10am"),  # 9-10 was 09:00–10:00 +'am'
        ('"Calls after lunch" kind=window value=2 pm to 3:30 pm', "14:00-15:30", "2–3:30pm"),
        ('"Calls after lunch" kind=window value=2\u202fPM-3:30\u202fPM', "14:00-15:30", "2–3:30pm"),  # a Mac's space
        ('"Calls in the morning" kind=window value=9 a.m. to 10 a.m.', "09:00-10:00", "9–10am"),
        ('"Calls in the morning" kind=window value=9 am-10 am.', "09:00-10:00", "9–10am"),  # a sentence's full stop
    ],
)
def test_a_contact_window_typed_with_spaces_before_am_or_pm_is_read_whole(
    acme: SlackRequests, store: Store, typed: str, stored: str, said: str
) -> None:
    reply = ephemeral(acme.command(f"boundary acme add {typed}"))
    assert f"(contact window: {said} their time)" in reply, reply
    (rec,) = records(store)
    assert (rec.rule.kind, rec.rule.value) == ("contact_window", stored)


def test_words_after_a_spaced_window_are_still_refused_not_dropped(acme: SlackRequests, store: Store) -> None:
    reply = ephemeral(acme.command('boundary acme add "Calls in the morning" kind=window value=9 am-10 am please'))
    assert "I didn't understand 'please'" in reply, reply
    assert "You typed:" in reply
    assert records(store) == []
