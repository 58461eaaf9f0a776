"""Session 22: a nudge's life in a customer's channel, end to end — signed requests through the real app, the real
jobs and sender ticked at chosen instants against the fake Slack.

- Acme's channel was archived in December (its owner told once, nudges to her DM), unarchived (nudges back in the
  channel), and archived again the next week: the nudges went to her DM again without a word why, the notice being
  "once per channel and error" for ever. Each time the channel starts refusing is told, once; and a notice still
  waiting to go out when the channel is back is not sent (it would send her to fix what is fixed).
- Partner invited back while the event was lost: the nudge tried there a week later was taken, yet the card, list
  and Home said "can't post there" for ever.
- A nudge redrawn after the customer changed hands (a skip, a call logged) named the new owner, whom it never
  notified, in place of the one it asked.
- A missed-call alert redrawn once the call was logged late ("Call logged by") changed "No call logged yet." into
  "Last call: Mon 30 Nov." — the day the customer was added, when nobody called.
- A Skip on a nudge Slack would not redraw (deleted meanwhile) whose response_url was refused too told the clicker
  nothing: a webhook's refusal raises no error, so the note only they see was never tried another way.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from bot.settings import Settings
from handlers.ids import CHECKIN_MODAL, NUDGE_SKIP
from storage.store import Store
from tests.e2e.test_cadence import (  # noqa: F401  (acme_channel, unpaced: the module's autouse fixtures)
    MINUTE,
    acme_channel,
    add,
    button_message,
    day,
    ephemeral,
    log_call_from,
    nudges,
    rows,
    tick,
    unpaced,
)
from tests.e2e.test_foundation import modal_values
from tests.e2e.test_qa19_cadence import ny
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import TEAM_ID, BotServer, FakeClock


def dm_texts(fake: FakeSlack, user: str = "U0001") -> list[str]:
    channel = fake._dm_by_user.get(user)
    return [m["text"] for m in fake.messages.get(channel, [])] if channel else []


def notices(fake: FakeSlack, user: str = "U0001") -> list[str]:
    return [text for text in dm_texts(fake, user) if text.startswith(":warning: I couldn't post in *Acme*'s channel")]


def _goes(fake: FakeSlack, how: str) -> dict[str, Any]:
    """Slack's side of the channel refusing Partner's posts, and the event it sends."""
    if how == "archived":
        fake.channels["C0ACME"]["is_archived"] = True
        return {"type": "channel_archive", "channel": "C0ACME", "user": "U0002"}
    fake.channels["C0ACME"]["is_member"] = False
    return {"type": "channel_left", "channel": "C0ACME", "actor_id": "U0002"}


def _back(fake: FakeSlack, how: str) -> dict[str, Any]:
    if how == "archived":
        fake.channels["C0ACME"]["is_archived"] = False
        return {"type": "channel_unarchive", "channel": "C0ACME", "user": "U0002"}
    fake.channels["C0ACME"]["is_member"] = True
    return {
        "type": "member_joined_channel",
        "user": fake.bot_user_id,
        "channel": "C0ACME",
        "channel_type": "C",
        "team": TEAM_ID,
        "inviter": "U0001",
    }


@pytest.mark.parametrize("how", ["archived", "removed"])
@pytest.mark.parametrize("second", ["event", "post"])
def test_a_channel_refusing_again_after_it_came_back_tells_the_owner_again_once(
    slack: SlackRequests,
    bot: BotServer,
    store: Store,
    settings: Settings,
    fake_slack: FakeSlack,
    clock: FakeClock,
    how: str,
    second: str,
) -> None:
    """Daily at 09:00 New York. Tuesday 1 December the channel is archived (or Partner removed from it): Dana is told
    once. Tuesday afternoon it is back: Wednesday's nudge is in the channel. On Monday 7 December it goes again — Slack
    says so (and retries the event), or, Partner being down then, the Tuesday post meets it: Dana is told again, once,
    in the same words she can act on."""
    add(store)
    tick(store, settings, day(1))
    clock.set(ny(1, 11))  # Tuesday 11:00
    gone = _goes(fake_slack, how)
    for retry in (None, 1):
        assert slack.event(gone, event_id="Ev0GONE1", retry_num=retry).status == 200
    bot.settle()
    tick(store, settings, clock() + MINUTE)
    assert len(notices(fake_slack)) == 1
    clock.set(ny(1, 13))  # Tuesday 13:00: back
    assert slack.event(_back(fake_slack, how), event_id="Ev0BACK").status == 200
    bot.settle()
    for n in (2, 3, 4):
        tick(store, settings, day(n))
    assert len(nudges(fake_slack)) == 4  # Tuesday to Friday, in the channel
    clock.set(ny(7, 11))  # Monday 7 December, 11:00: it goes again
    gone = _goes(fake_slack, how)
    if second == "event":
        for retry in (None, 1):
            assert slack.event(gone, event_id="Ev0GONE2", retry_num=retry).status == 200
        bot.settle()
    for instant in (clock() + MINUTE, day(8), day(8) + MINUTE, day(9)):
        tick(store, settings, instant)
    told = notices(fake_slack)
    assert len(told) == 2, dm_texts(fake_slack)
    assert told[0] == told[1]
    why = "is archived. Pick another with" if how == "archived" else "Invite me there with `/invite @Partner`"
    assert why in told[1], told[1]
    assert len(nudges(fake_slack)) == 4  # Tuesday's and Wednesday's went to Dana instead
    assert any("Time for the daily call with Acme (Wed 9 Dec" in text for text in dm_texts(fake_slack))


def test_a_notice_still_to_go_out_when_the_channel_is_back_is_not_sent(
    slack: SlackRequests, bot: BotServer, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """Someone archives Acme's channel by mistake and unarchives it a few seconds later, before Partner's next tick:
    Dana is not told to pick another channel for one that works, and the next nudge is in the channel."""
    add(store)
    clock.set(ny(1, 7))  # Tuesday 07:00
    assert slack.event(_goes(fake_slack, "archived")).status == 200
    clock.set(ny(1, 7) + timedelta(seconds=20))
    assert slack.event(_back(fake_slack, "archived")).status == 200
    bot.settle()
    tick(store, settings, ny(1, 7) + MINUTE)
    tick(store, settings, day(1))
    assert dm_texts(fake_slack) == []
    (message,) = nudges(fake_slack)
    assert message["text"].startswith("<@U0001> Time for the daily call with Acme (Tue 1 Dec")
    assert [r.status for r in rows(store, "channel_problem")] == ["cancelled"]


def test_a_channel_that_takes_the_nudge_tried_again_after_a_week_is_no_longer_said_to_refuse(
    slack: SlackRequests, bot: BotServer, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """Partner was removed from Acme's channel while it was down (no event): Tuesday's nudge met `not_in_channel` and
    went to Dana, who was told and invited Partner back — Slack's `member_joined_channel` lost in a restart. A week
    later the nudge is tried in the channel again and is taken there: the card, `/partner list` and Home stopped
    saying "can't post there … Nudges go to the owner by DM meanwhile" (they said it for ever, while the nudges were
    in the channel), and when Partner is removed again in January, Dana is told again."""
    acme = add(store)
    fake_slack.channels["C0ACME"]["is_member"] = False
    tick(store, settings, day(1))
    assert len(notices(fake_slack)) == 1
    fake_slack.channels["C0ACME"]["is_member"] = True  # invited back; the event never reached Partner
    for n in range(2, 9):
        tick(store, settings, day(n))
    assert [m["text"][:60] for m in nudges(fake_slack)] == [
        "<@U0001> Time for the daily call with Acme (Tue 8 Dec 09:00 "
    ]
    clock.set(ny(8, 10))
    card = json.dumps(slack.command("show acme").json(), ensure_ascii=False)
    assert "can't post" not in card, card
    assert "can't post" not in json.dumps(slack.command("list").json(), ensure_ascii=False)
    kept = store.customer(team_id=TEAM_ID, customer_id=acme.id or 0)
    assert kept is not None and kept.channel_error is None
    tick(store, settings, day(9))
    assert len(nudges(fake_slack)) == 2
    fake_slack.channels["C0ACME"]["is_member"] = False  # removed again in January, Partner down again
    tick(store, settings, day(36))
    assert len(notices(fake_slack)) == 2, dm_texts(fake_slack)


@pytest.mark.parametrize("how", ["skip", "call"])
def test_a_nudge_redrawn_after_the_customer_changed_hands_still_names_whom_it_was_posted_for(
    slack: SlackRequests,
    bot: BotServer,
    store: Store,
    settings: Settings,
    fake_slack: FakeSlack,
    clock: FakeClock,
    how: str,
) -> None:
    """Tuesday's nudge in #acme asks Dana for the call. At 10:00 Sam hands Acme to Lee; at 10:30 Lee skips Tuesday's
    nudge (or logs the call by command). Only its buttons change, to who did what: it went on saying
    "@Dana Time for the daily call…" — not "@Lee", whom it never notified and who had just taken the customer."""
    add(store)
    tick(store, settings, day(1))
    posted = json.loads(json.dumps(nudges(fake_slack)[0]))  # as Dana saw it: chat.update edits the fake's copy
    clock.set(ny(1, 10))
    assert "owner" in ephemeral(slack.command("edit acme owner=<@U0003|lee>", user_id="U0002", user_name="sam"))
    bot.settle()
    clock.set(ny(1, 10.5))
    if how == "skip":
        value = posted["blocks"][1]["elements"][2]["value"]
        clicked = slack.block_action(
            NUDGE_SKIP,
            value=value,
            user_id="U0003",
            user_name="lee",
            channel_id="C0ACME",
            message=button_message(posted),
        )
        assert clicked.status == 200
    else:
        ephemeral(slack.command("checkin acme green call talked budgets", user_id="U0003", user_name="lee"))
    bot.settle()
    (redrawn,) = nudges(fake_slack)
    assert (
        redrawn["text"]
        == posted["text"]
        == ("<@U0001> Time for the daily call with Acme (Tue 1 Dec 09:00 America/New_York)")
    )
    assert redrawn["blocks"][0] == posted["blocks"][0]
    shown = json.dumps(redrawn["blocks"][1:])
    assert ("Skipped for today by <@U0003>" if how == "skip" else "Call logged by <@U0003>") in shown, shown


def test_a_missed_call_alert_redrawn_once_the_call_is_logged_late_says_what_it_said_with_the_call_under_it(
    slack: SlackRequests, bot: BotServer, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """Acme, added on Monday, daily at 09:00. Nobody logged Tuesday's call: on Wednesday at 09:00 Dana's DM says so,
    "No call logged yet." At 09:20 she logs it from Tuesday's nudge (it counts for Tuesday). The alert shows the call
    in place of its buttons, and otherwise reads as it did — it said "Last call: Mon 30 Nov.", a call nobody made —
    and no second alert comes for that lapse."""
    acme = add(store)
    tick(store, settings, day(1))
    (tuesday,) = nudges(fake_slack)
    tick(store, settings, day(2))
    (alert,) = [m for m in fake_slack.messages[fake_slack._dm_by_user["U0001"]] if "is overdue" in m["text"]]
    alert = json.loads(json.dumps(alert))  # as Dana saw it: the fake's copy is edited in place by chat.update
    said = alert["blocks"][0]["text"]["text"]
    assert said == ":warning: *Acme* is overdue: the daily call on Tue 1 Dec was missed. No call logged yet.", said
    clock.set(ny(2, 9 + 1 / 3))
    form = log_call_from(slack, fake_slack, tuesday)
    values = modal_values(acme.id, "green", "Called them back", call=True)
    assert slack.view_submission(CHECKIN_MODAL, values, private_metadata=form["private_metadata"]).status == 200
    bot.settle()
    (redrawn,) = [m for m in fake_slack.messages[fake_slack._dm_by_user["U0001"]] if m["ts"] == alert["ts"]]
    assert redrawn["blocks"][0] == alert["blocks"][0]
    assert "Call logged by <@U0001>" in json.dumps(redrawn["blocks"][1:])
    for instant in (ny(2, 10), day(3), day(3) + MINUTE):
        tick(store, settings, instant)
    assert [r.due_key for r in rows(store, "overdue")] == ["lapse:2026-11-30"]
    (shown,) = [m for m in fake_slack.messages[fake_slack._dm_by_user["U0001"]] if m["ts"] == alert["ts"]]
    assert shown["blocks"] == redrawn["blocks"], [c.params for c in fake_slack.calls_to("chat.update")]


def test_a_skip_slack_will_not_redraw_is_confirmed_even_when_its_response_url_is_refused(
    slack: SlackRequests, bot: BotServer, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """Tuesday's nudge was deleted from #acme by someone tidying up, and Lee clicks Skip on the copy his Slack still
    shows: the redraw meets `message_not_found`, and the click's response_url answers 404 (expired, or Slack's own
    trouble). He was told nothing — the skip taken, his button seeming dead; he is told in a note only he sees."""
    add(store)
    tick(store, settings, day(1))
    posted = json.loads(json.dumps(nudges(fake_slack)[0]))
    clock.set(ny(1, 9.5))
    fake_slack.fail_next("chat.update", error="message_not_found")
    fake_slack.fail_next("response_url", status=404)
    value = posted["blocks"][1]["elements"][2]["value"]
    clicked = slack.block_action(
        NUDGE_SKIP, value=value, user_id="U0003", user_name="lee", channel_id="C0ACME", message=button_message(posted)
    )
    assert clicked.status == 200
    bot.settle()
    (told,) = [c.params for c in fake_slack.calls_to("chat.postEphemeral")]
    assert (told["channel"], told["user"]) == ("C0ACME", "U0003")
    assert told["text"].startswith(":fast_forward: Skipped for today by <@U0003>"), told["text"]
    assert rows(store)[0].payload["outcome"]["what"] == "skipped"
