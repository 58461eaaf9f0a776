"""A customer changes hands: the new owner is told what they now own, the owner it was moved from who moved it.

Before, `/partner add … @sam` or `/partner edit … @lee` (and the forms) told the new owner nothing, and the first
they heard of the customer was a missed-call DM out of the blue. The DMs go out of the outbox after the answer, once
per request however often Slack delivers it.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.app import make_client
from bot.settings import Settings
from handlers.blocks import command_name, mrkdwn_name
from handlers.ids import ADD_CUSTOMER_MODAL, EDIT_CUSTOMER_MODAL
from schedules.jobs import run_tick
from storage.store import Store
from tests.e2e.test_customers import field_values, untouched_state
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import TEAM_ID, BotServer, FakeClock

NAME = "Acme_Beta_ & *Co*"  # shown as typed: nothing of it bold or italic, & as an entity


@pytest.fixture(autouse=True)
def lee(fake_slack: FakeSlack) -> str:
    fake_slack.add_user("U0003", name="lee", tz="Asia/Tokyo")
    return "U0003"


def dms(fake_slack: FakeSlack, user_id: str) -> list[str]:
    return [c.params["text"] for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == user_id]


def tick(store: Store, settings: Settings, clock: FakeClock) -> None:
    report = run_tick(store=store, client=make_client(settings), now=clock.now, settings=settings)
    assert not report.failed, report.failed


def answered(response: Any) -> str:
    assert response.status == 200, response.text
    return str(response.json()["text"])


def test_a_new_owner_is_told_once_what_they_now_own_and_the_previous_owner_who_moved_it(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, settings: Settings, clock: FakeClock, bot: BotServer
) -> None:
    # Dana adds the customer for Sam; Slack delivers the command again.
    typed = f"add {NAME} <#C0ACME|acme> <@U0002|sam> cadence=weekly tue 10:00"
    for retry in (None, 1):
        assert "Added" in answered(slack.command(typed, trigger_id="1.1.add", retry_num=retry))
    bot.settle()
    assert dms(fake_slack, "U0002") == []  # after the answer, from the outbox: not before it
    for _ in range(2):
        tick(store, settings, clock)
    (told,) = dms(fake_slack, "U0002")
    name, shown = command_name(NAME), mrkdwn_name(NAME)
    assert told.startswith(f":handshake: <@U0001> made you the owner of *{shown}* (<#C0ACME>). "), told
    assert "Its call nudges, overdue alerts, red check-ins and health drops now come to you." in told
    assert "Its call cadence: weekly on Tue at 10:00. Next nudge: Tue 1 Dec 10:00 (Europe/Berlin)" in told, told
    assert told.endswith(f"Its card: `/partner show {name}`"), told
    assert dms(fake_slack, "U0001") == []  # nobody owned it before

    # Someone who makes themselves the owner is told nothing: they know.
    answered(slack.command("add Globex <@U0001|dana>"))
    tick(store, settings, clock)
    assert dms(fake_slack, "U0001") == []

    # Sam (its owner, an admin) hands it to Lee, retried: Lee is told once, Sam who moved it nothing.
    for retry in (None, 2):
        says = answered(slack.command("edit acme <@U0003|lee>", user_id="U0002", trigger_id="2.2.e", retry_num=retry))
        assert "owner: <@U0002> → <@U0003>" in says
    tick(store, settings, clock)
    tick(store, settings, clock)
    (lees,) = dms(fake_slack, "U0003")
    assert lees.startswith(f":handshake: <@U0002> made you the owner of *{shown}* (<#C0ACME>).")
    assert len(dms(fake_slack, "U0002")) == 1

    # Sam takes it back from Lee: Lee hears who took it; moving it to Dana, Lee's is no more news to Lee.
    answered(slack.command("edit acme <@U0002|sam>", user_id="U0002"))
    tick(store, settings, clock)
    assert dms(fake_slack, "U0003")[1:] == [
        f":arrows_counterclockwise: <@U0002> took *{shown}* over from you: its nudges and alerts go to them now."
    ]
    answered(slack.command("edit acme <@U0001|dana>", user_id="U0002"))
    tick(store, settings, clock)
    (danas,) = dms(fake_slack, "U0001")
    assert danas.startswith(f":handshake: <@U0002> made you the owner of *{shown}* (<#C0ACME>).")
    assert len(dms(fake_slack, "U0002")) == 1 and len(dms(fake_slack, "U0003")) == 2

    # An admin moves Dana's customer to Lee: each of them is told, once.
    answered(slack.command("edit globex <@U0003|lee>", user_id="U0002"))
    tick(store, settings, clock)
    assert dms(fake_slack, "U0001")[1:] == [
        ":arrows_counterclockwise: <@U0002> moved *Globex* from you to <@U0003>: its nudges and alerts go to them now."
    ]
    (*_, globex) = dms(fake_slack, "U0003")
    assert globex.startswith(":handshake: <@U0002> made you the owner of *Globex*. ")
    assert "no call cadence yet, so nobody is nudged about it: `/partner cadence Globex weekly tue 10:00`" in globex

    # A deactivated owner is still refused, and nobody is told of a change not made.
    fake_slack.users["U0003"]["deleted"] = True
    assert "is deactivated" in answered(slack.command("edit acme <@U0003|lee>", user_id="U0002"))
    tick(store, settings, clock)
    assert (len(dms(fake_slack, "U0001")), len(dms(fake_slack, "U0003"))) == (2, 3)


def test_the_add_and_edit_forms_tell_the_new_and_previous_owner_once(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, settings: Settings, clock: FakeClock, bot: BotServer
) -> None:
    values = field_values(name=NAME, owner="U0002", channel="C0ACME", tz="", country="", cadence="daily 09:00")
    for retry in (None, 1):  # Slack delivers the submission again
        reply = slack.view_submission(ADD_CUSTOMER_MODAL, values, view_id="VADD1", retry_num=retry)
        assert reply.status == 200 and reply.body in (b"", b"{}"), reply.text
    bot.settle()
    assert dms(fake_slack, "U0002") == []
    tick(store, settings, clock)
    tick(store, settings, clock)
    (told,) = dms(fake_slack, "U0002")
    assert told.startswith(f":handshake: <@U0001> made you the owner of *{mrkdwn_name(NAME)}* (<#C0ACME>).")
    assert "Its call cadence: daily at 09:00. Next nudge: Thu 26 Nov 09:00 (Europe/Berlin)" in told

    # Sam (an admin, its owner) opens the edit form and gives it to Lee; the submission comes twice.
    slack.command("edit acme", user_id="U0002", user_name="sam")
    view = fake_slack.calls_to("views.open")[-1].params["view"]
    state = untouched_state(view, owner="U0003")
    for retry in (None, 1):
        saved = slack.view_submission(
            EDIT_CUSTOMER_MODAL,
            state,
            private_metadata=view["private_metadata"],
            user_id="U0002",
            user_name="sam",
            view_id="VEDIT1",
            retry_num=retry,
        )
        assert saved.status == 200 and saved.body in (b"", b"{}"), saved.text
    bot.settle()
    tick(store, settings, clock)
    tick(store, settings, clock)
    (lees,) = dms(fake_slack, "U0003")
    assert lees.startswith(f":handshake: <@U0002> made you the owner of *{mrkdwn_name(NAME)}* (<#C0ACME>).")
    assert len(dms(fake_slack, "U0002")) == 1  # Sam moved it himself

    # An admin's form moving it on to Dana tells Lee who moved it.
    slack.command("edit acme", user_id="U0002", user_name="sam")
    view = fake_slack.calls_to("views.open")[-1].params["view"]
    saved = slack.view_submission(
        EDIT_CUSTOMER_MODAL,
        untouched_state(view, owner="U0001"),
        private_metadata=view["private_metadata"],
        user_id="U0002",
        user_name="sam",
        view_id="VEDIT2",
    )
    assert saved.status == 200, saved.text
    tick(store, settings, clock)
    assert dms(fake_slack, "U0003")[1:] == [
        f":arrows_counterclockwise: <@U0002> moved *{mrkdwn_name(NAME)}* from you to <@U0001>: its nudges and alerts"
        " go to them now."
    ]
    # Dana's other DM is her form's answer ("Added …": no channel to answer in).
    (danas,) = [text for text in dms(fake_slack, "U0001") if "made you the owner" in text]
    assert danas.startswith(f":handshake: <@U0002> made you the owner of *{mrkdwn_name(NAME)}*")
    assert len(dms(fake_slack, "U0001")) == 2, dms(fake_slack, "U0001")
    (customer,) = store.customers(team_id=TEAM_ID)
    assert customer.owner_id == "U0001"


def test_an_owner_changed_to_the_wrong_person_and_back_before_the_dms_go_tells_nobody(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, settings: Settings, clock: FakeClock, bot: BotServer
) -> None:
    """Sam, an admin, picks Lee for Dana's customer by mistake and puts Dana back a moment later: before, Dana got
    "Sam made you the owner of Acme" for what she owned all along, and Lee "Sam moved Acme from you to Dana" for what
    Lee never heard they had."""
    answered(slack.command("add Acme <#C0ACME|acme> <@U0001|dana> cadence=weekly tue 10:00"))
    answered(slack.command("edit acme <@U0003|lee>", user_id="U0002"))
    answered(slack.command("edit acme <@U0001|dana>", user_id="U0002"))
    bot.settle()
    tick(store, settings, clock)
    tick(store, settings, clock)
    assert (dms(fake_slack, "U0001"), dms(fake_slack, "U0003")) == ([], [])

    # Moved on again before the DMs went (to Lee by mistake, then Wren): Dana hears it is with Wren, Lee nothing.
    fake_slack.add_user("U0004", name="wren", tz="Europe/London")
    answered(slack.command("edit acme <@U0003|lee>", user_id="U0002"))
    answered(slack.command("edit acme <@U0004|wren>", user_id="U0002"))
    bot.settle()
    tick(store, settings, clock)
    tick(store, settings, clock)
    assert dms(fake_slack, "U0001") == [
        ":arrows_counterclockwise: <@U0002> moved *Acme* from you to <@U0004>: its nudges and alerts go to them now."
    ]
    assert dms(fake_slack, "U0003") == []
    (wrens,) = dms(fake_slack, "U0004")
    assert wrens.startswith(":handshake: <@U0002> made you the owner of *Acme* (<#C0ACME>).")

    # Once the DMs went out, putting it back is news to both, each told once.
    answered(slack.command("edit acme <@U0001|dana>", user_id="U0002"))
    bot.settle()
    tick(store, settings, clock)
    assert dms(fake_slack, "U0004")[1:] == [
        ":arrows_counterclockwise: <@U0002> moved *Acme* from you to <@U0001>: its nudges and alerts go to them now."
    ]
    assert dms(fake_slack, "U0001")[1].startswith(":handshake: <@U0002> made you the owner of *Acme* (<#C0ACME>).")
