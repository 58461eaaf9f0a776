"""A customer's channel shared with the customer's organisation (Slack Connect): their people see only what is
meant for them — the survey invitation and the boundary reminders — never a check-in summary, a cadence nudge or
an overdue note. Signed requests through the real app, real ticks through the real jobs and sender."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlmodel import select

import schedules.cadence
from bot.app import create_app, make_client
from bot.settings import Settings
from handlers.ids import (
    ADD_CUSTOMER_MODAL,
    BOUNDARY_SLIP,
    CHECKIN_MODAL,
    HOME_OPEN_CARD,
    NUDGE_LOG_CALL,
    NUDGE_SKIP,
    NUDGE_SNOOZE,
)
from schedules.cadence import send_nudges
from schedules.sender import SenderOptions
from storage.checkins import CHECKIN_SUMMARY
from storage.db import make_engine, upgrade
from storage.models import Customer, Nudge
from storage.store import Store
from tests.e2e import test_hardening
from tests.e2e.test_customers import field_values
from tests.e2e.test_foundation import ephemeral, modal_values
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import SIGNING_SECRET, TEAM_ID, BotServer, FakeClock, tick

# The real app with a 1 s Web API timeout (fixtures shared with the hardening tests).
impatient_bot = test_hardening.impatient_bot
impatient = test_hardening.impatient

NY = ZoneInfo("America/New_York")
NOT_POSTED = "Summary not posted in <#C0ACME>: the customer's people can read it."
BOUNDARY = "We answer within one business day"


@pytest.fixture(autouse=True)
def unpaced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schedules.cadence, "SENDER_OPTIONS", SenderOptions(interval=0.0))


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY).astimezone(UTC)  # type: ignore[misc]


def acme(store: Store) -> Customer:
    found = store.customer_by_name(team_id=TEAM_ID, name="Acme Corp")
    assert found is not None
    return found


def posts_in(fake: FakeSlack, channel: str) -> list[str]:
    """What Slack shows in the channel, oldest first (refused tries are not there)."""
    return [str(message.get("text")) for message in fake.messages.get(channel, [])]


def dms_to(fake: FakeSlack, user_id: str) -> list[str]:
    return [str(c.params.get("text")) for c in fake.calls_to("chat.postMessage") if c.params.get("channel") == user_id]


def add_acme(slack: SlackRequests, bot: BotServer) -> None:
    """Acme Corp in #acme (New York, daily calls at 09:00, owned by Dana); Partner joins it after the ack."""
    reply = ephemeral(slack.command("add Acme Corp <#C0ACME|acme> <@U0001|dana> tz=America/New_York"))
    assert "Added" in reply, reply
    assert "daily" in ephemeral(slack.command("cadence acme daily 09:00"))
    bot.settle()


def event(slack: SlackRequests, kind: str, **fields: Any) -> None:
    response = slack.event({"type": kind, "channel": "C0ACME", **fields})
    assert response.status == 200, response.text


@pytest.mark.parametrize("private", [False, True], ids=["public", "private"])
def test_a_shared_channel_gets_the_ask_and_boundary_reminders_but_no_summary_and_no_nudge(
    slack: SlackRequests,
    fake_slack: FakeSlack,
    store: Store,
    clock: FakeClock,
    settings: Settings,
    bot: BotServer,
    private: bool,
) -> None:
    fake_slack.add_channel("C0ACME", name="acme", is_private=private, is_ext_shared=True, members=["U0001"])
    clock.set(ny(2026, 11, 25, 10))  # a Wednesday
    add_acme(slack, bot)
    assert acme(store).channel_shared  # learnt from joining it (a private one: from conversations.info)

    reply = ephemeral(slack.command("checkin acme red they are furious, might churn", user_id="U0002"))
    assert "Logged a red check-in for *Acme Corp*" in reply and NOT_POSTED in reply
    bot.settle()
    (stored,) = store.checkins(team_id=TEAM_ID)
    assert stored.note == "they are furious, might churn" and stored.summary_ts is None
    assert posts_in(fake_slack, "C0ACME") == []
    (alert,) = dms_to(fake_slack, "U0001")  # the owner still hears of it, privately
    assert "they are furious" in alert

    assert "Asked *Acme Corp*'s people" in ephemeral(slack.command("ask acme"))
    ephemeral(slack.command(f'boundary acme add "{BOUNDARY}" kind=response_time value=1d'))
    assert "is now active" in ephemeral(slack.command("boundary acme activate 1"))
    # Monday 09:00 in New York: the weekly reminder and the day's call nudge are due; on Tuesday the missed calls
    # make an overdue note.
    for now in (ny(2026, 11, 30, 9, 0), ny(2026, 11, 30, 9, 1), ny(2026, 12, 1, 9, 0), ny(2026, 12, 2, 9, 0)):
        tick(store, settings, now)
    invitation, reminder = posts_in(fake_slack, "C0ACME")
    assert "how working with us feels" in invitation and BOUNDARY in reminder
    dms = " ".join(dms_to(fake_slack, "U0001")[1:])  # one digest when several are due at once
    assert "daily call with Acme Corp" in dms and "*Acme Corp* is overdue" in dms, dms
    sent = [n for n in _nudges(store) if n.kind in ("cadence", "overdue") and n.status == "sent"]
    assert {n.kind for n in sent} == {"cadence", "overdue"}
    assert all(n.channel_id != "C0ACME" for n in sent), [(n.kind, n.channel_id) for n in sent]


def test_channel_shared_and_unshared_events_turn_summaries_and_nudges_off_and_on(
    slack: SlackRequests,
    fake_slack: FakeSlack,
    store: Store,
    clock: FakeClock,
    settings: Settings,
    bot: BotServer,
) -> None:
    clock.set(ny(2026, 11, 25, 10))
    add_acme(slack, bot)
    assert not acme(store).channel_shared

    reply = ephemeral(slack.command("checkin acme green kickoff went well"))
    assert NOT_POSTED not in reply
    bot.settle()
    assert len(posts_in(fake_slack, "C0ACME")) == 1  # an internal channel: the summary as always

    fake_slack.channels["C0ACME"]["is_ext_shared"] = True
    event(slack, "channel_shared", connected_team_id="T0CUST")
    event(slack, "channel_shared", connected_team_id="T0CUST")  # delivered twice: the same
    assert acme(store).channel_shared
    assert NOT_POSTED in ephemeral(slack.command("checkin acme yellow pricing worries"))
    bot.settle()
    tick(store, settings, ny(2026, 11, 26, 9, 0))  # Thursday's call nudge: to Dana, not to the shared channel
    assert len(posts_in(fake_slack, "C0ACME")) == 1
    assert any("Time for the daily call with Acme Corp" in text for text in dms_to(fake_slack, "U0001"))

    fake_slack.channels["C0ACME"]["is_ext_shared"] = False
    event(slack, "channel_unshared", previously_connected_team_id="T0CUST", is_ext_shared=False)
    assert not acme(store).channel_shared
    assert NOT_POSTED not in ephemeral(slack.command("checkin acme green all fixed"))
    bot.settle()
    tick(store, settings, ny(2026, 11, 27, 9, 0))
    posts = posts_in(fake_slack, "C0ACME")
    assert len(posts) == 3 and "all fixed" in posts[1] and "Time for the daily call" in posts[2]


def test_a_channel_still_shared_with_another_organisation_stays_shared(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, bot: BotServer
) -> None:
    fake_slack.add_channel("C0ACME", name="acme", is_ext_shared=True, members=["U0001"])
    add_acme(slack, bot)
    event(slack, "channel_unshared", previously_connected_team_id="T0OTHER", is_ext_shared=True)
    assert acme(store).channel_shared


def test_ask_and_a_new_channel_learn_whether_the_channel_is_shared(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, bot: BotServer
) -> None:
    add_acme(slack, bot)
    fake_slack.channels["C0ACME"]["is_ext_shared"] = True  # shared while Partner was not told (no event)
    assert "Asked *Acme Corp*'s people" in ephemeral(slack.command("ask acme"))
    assert acme(store).channel_shared
    fake_slack.add_channel("C0INT", name="acme-internal", is_member=False, members=["U0001"])
    ephemeral(slack.command("edit acme <#C0INT|acme-internal>"))
    bot.settle()
    assert acme(store).channel_id == "C0INT" and not acme(store).channel_shared
    ephemeral(slack.command("checkin acme green kickoff went well"))
    bot.settle()
    assert len(posts_in(fake_slack, "C0INT")) == 1


def test_giving_the_same_channel_again_looks_it_up_again(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, bot: BotServer
) -> None:
    """How a customer added before Partner recorded sharing (migration 0011) learns it; doctor points here."""
    add_acme(slack, bot)
    fake_slack.channels["C0ACME"]["is_ext_shared"] = True  # shared before Partner recorded it, no event since
    assert "Nothing to change" in ephemeral(slack.command("edit acme <#C0ACME|acme>"))
    bot.settle()
    assert acme(store).channel_shared
    assert NOT_POSTED in ephemeral(slack.command("checkin acme green kickoff went well"))


def test_the_add_form_with_a_shared_channel_and_the_check_in_form_say_no_summary_is_posted(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, bot: BotServer
) -> None:
    fake_slack.add_channel("C0ACME", name="acme", is_ext_shared=True, members=["U0001"])
    slack.command("add", trigger_id="7.7.add")
    (opened,) = fake_slack.calls_to("views.open")
    values = field_values(name="Acme Corp", owner="U0001", channel="C0ACME", tz="", country="", cadence="")
    metadata = opened.params["view"]["private_metadata"]
    assert slack.view_submission(ADD_CUSTOMER_MODAL, values, private_metadata=metadata, view_id="VADD1").status == 200
    bot.settle()
    assert acme(store).channel_shared
    card = slack.command("show acme")
    assert card.status == 200 and "shared with the customer: no check-in summaries or nudges there" in card.text
    slack.command("checkin acme", trigger_id="7.7.checkin")
    form = fake_slack.calls_to("views.open")[-1].params["view"]
    checkin = modal_values(customer_id=acme(store).id, mood="red", note="they are furious")
    assert slack.view_submission(CHECKIN_MODAL, checkin, private_metadata=form["private_metadata"]).status == 200
    bot.settle()
    (confirmation,) = [
        c.params["text"] for c in fake_slack.calls_to("chat.postEphemeral") if "Logged" in c.params["text"]
    ]
    assert NOT_POSTED in confirmation
    assert posts_in(fake_slack, "C0ACME") == []


def test_a_late_summary_from_the_outbox_is_skipped_once_the_channel_is_shared(
    impatient: SlackRequests,
    impatient_bot: BotServer,
    fake_slack: FakeSlack,
    store: Store,
    settings: Settings,
    clock: FakeClock,
) -> None:
    add_acme(impatient, impatient_bot)
    fake_slack.fail_next("chat.postMessage", **test_hardening.FAULTS["500"])  # every try of the client's
    assert NOT_POSTED not in ephemeral(impatient.command("checkin acme red they are furious"))  # not known yet
    impatient_bot.settle()
    fake_slack.channels["C0ACME"]["is_ext_shared"] = True
    event(impatient, "channel_shared", connected_team_id="T0CUST")
    send_nudges(store=store, client=make_client(settings), now=clock())
    assert [text for text in posts_in(fake_slack, "C0ACME") if "they are furious" in text] == []
    (row,) = [n for n in _nudges(store) if n.kind == CHECKIN_SUMMARY]
    assert (row.status, row.error) == ("skipped", "the channel is shared with the customer: their people can read it")
    (stored,) = store.checkins(team_id=TEAM_ID)
    assert stored.note == "they are furious" and stored.summary_ts is None


BEFORE_SHARING_RECORDED = "0010_once_only_unique_keys"


@pytest.fixture
def upgraded(database_url: str, settings: Settings, clock: FakeClock) -> Iterator[tuple[Store, BotServer]]:
    """Partner upgraded from before it recorded channel sharing (0010): Acme Corp was added then, in #acme (daily
    calls at 09:00 New York time, owned by Dana); then the real app on that database."""
    engine = make_engine(database_url)
    upgrade(engine, BEFORE_SHARING_RECORDED)
    added = ny(2026, 11, 2, 10)
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO workspace (team_id, created_at) VALUES (:team, :now)"), {"team": TEAM_ID, "now": added}
        )
        conn.execute(
            text(
                "INSERT INTO customer (team_id, name, name_key, channel_id, owner_id, tz, cadence, created_by,"
                " created_at, updated_at) VALUES (:team, 'Acme Corp', 'acme corp', 'C0ACME', 'U0001',"
                " 'America/New_York', 'daily 09:00', 'U0001', :now, :now)"
            ),
            {"team": TEAM_ID, "now": added},
        )
    upgrade(engine)
    store = Store(engine)
    server = BotServer(create_app(settings=settings, store=store, clock=clock), store).start()
    yield store, server
    server.stop()
    server.app.drain()
    engine.dispose()


def test_a_channel_shared_before_the_upgrade_gets_no_nudge_and_no_summary_once_partner_looked_it_up(
    upgraded: tuple[Store, BotServer], fake_slack: FakeSlack, settings: Settings, clock: FakeClock
) -> None:
    store, server = upgraded
    fake_slack.add_channel("C0ACME", name="acme", is_ext_shared=True, members=["U0001"])
    assert not acme(store).channel_shared and acme(store).channel_shared_checked_at is None  # as migrated
    tick(store, settings, ny(2026, 11, 30, 9, 0))  # Monday 09:00: the day's call nudge is due
    assert posts_in(fake_slack, "C0ACME") == []
    assert told_dana_to_call(fake_slack)
    assert acme(store).channel_shared and acme(store).channel_shared_checked_at == ny(2026, 11, 30, 9, 0)
    looked_up = len(fake_slack.calls_to("conversations.info"))
    tick(store, settings, ny(2026, 11, 30, 9, 1))
    assert len(fake_slack.calls_to("conversations.info")) == looked_up  # once a day, not per tick or post

    clock.set(ny(2026, 11, 30, 10))
    slack = SlackRequests(server.url, signing_secret=SIGNING_SECRET, team_id=TEAM_ID, fake=fake_slack)
    assert "Logged a red check-in" in ephemeral(slack.command("checkin acme red they are furious"))
    server.settle()
    assert posts_in(fake_slack, "C0ACME") == []


def test_a_check_in_before_any_tick_looks_the_channel_up_before_its_summary(
    upgraded: tuple[Store, BotServer], fake_slack: FakeSlack, clock: FakeClock
) -> None:
    store, server = upgraded
    fake_slack.add_channel("C0ACME", name="acme", is_ext_shared=True, members=["U0001"])
    clock.set(ny(2026, 11, 30, 10))
    slack = SlackRequests(server.url, signing_secret=SIGNING_SECRET, team_id=TEAM_ID, fake=fake_slack)
    assert "Logged a red check-in" in ephemeral(slack.command("checkin acme red they are furious"))
    server.settle()
    assert posts_in(fake_slack, "C0ACME") == []
    assert acme(store).channel_shared
    (stored,) = store.checkins(team_id=TEAM_ID)
    assert stored.note == "they are furious" and stored.summary_ts is None


def test_nudges_wait_while_slack_cannot_say_whether_the_channel_is_shared(
    upgraded: tuple[Store, BotServer], fake_slack: FakeSlack, settings: Settings
) -> None:
    store, _server = upgraded
    fake_slack.add_channel("C0ACME", name="acme", is_ext_shared=True, members=["U0001"])
    fake_slack.fail_next("conversations.info", error="ratelimited", status=429, retry_after=30)
    tick(store, settings, ny(2026, 11, 30, 9, 0))
    assert posts_in(fake_slack, "C0ACME") == [] and not told_dana_to_call(fake_slack)  # the call: not yet anywhere
    assert "Acme Corp is overdue" in " ".join(dms_to(fake_slack, "U0001"))  # Dana's own alert waits for no channel
    assert acme(store).channel_shared_checked_at is None
    tick(store, settings, ny(2026, 11, 30, 9, 1))  # the next tick looks it up, then sends
    assert posts_in(fake_slack, "C0ACME") == []
    assert told_dana_to_call(fake_slack)


def test_a_look_up_slack_refuses_for_good_holds_no_nudge(
    upgraded: tuple[Store, BotServer], fake_slack: FakeSlack, settings: Settings
) -> None:
    """Slack's lasting no (a method or scope the workspace will not serve) is an answer: asking every tick would not
    change it, and holding the nudges for it would keep them from ever going out."""
    store, _server = upgraded
    fake_slack.add_channel("C0ACME", name="acme", members=["U0001"])  # not shared, Partner in it
    fake_slack.fail_next("conversations.info", error="method_not_supported_for_channel_type")
    tick(store, settings, ny(2026, 11, 30, 9, 0))
    assert len(posts_in(fake_slack, "C0ACME")) == 1  # the day's nudge, on time, where it always went
    assert acme(store).channel_shared_checked_at == ny(2026, 11, 30, 9, 0)


def test_a_nudge_waits_for_the_look_up_a_quarter_of_an_hour_at_most(
    upgraded: tuple[Store, BotServer], fake_slack: FakeSlack, settings: Settings
) -> None:
    """Slack in trouble for longer: the nudge is owed, so it stops waiting and goes where Partner last knew."""
    store, _server = upgraded
    fake_slack.add_channel("C0ACME", name="acme", members=["U0001"])
    fake_slack.fail_next("conversations.info", error="internal_error", times=1000)
    for minute in range(15):
        tick(store, settings, ny(2026, 11, 30, 9, minute))
        assert posts_in(fake_slack, "C0ACME") == [] and not told_dana_to_call(fake_slack), minute
    tick(store, settings, ny(2026, 11, 30, 9, 16))
    assert len(posts_in(fake_slack, "C0ACME")) == 1
    assert acme(store).channel_shared_checked_at is None  # still asked each tick, until Slack answers


def test_an_owners_alert_by_dm_does_not_wait_for_the_channels_look_up(
    upgraded: tuple[Store, BotServer], fake_slack: FakeSlack, clock: FakeClock, settings: Settings
) -> None:
    """Only posts in the channel wait to know who reads it: a DM to the owner is read by the owner alone."""
    store, server = upgraded
    fake_slack.add_channel("C0ACME", name="acme", members=["U0001"])
    fake_slack.fail_next("conversations.info", error="internal_error", times=1000)
    clock.set(ny(2026, 11, 30, 10))
    slack = SlackRequests(server.url, signing_secret=SIGNING_SECRET, team_id=TEAM_ID, fake=fake_slack)
    fake_slack.fail_next("chat.postMessage", **test_hardening.FAULTS["500"])  # the follow-up's alert: refused
    reply = slack.command("checkin acme red they are furious", user_id="U0002", user_name="sam")  # not the owner
    assert "Logged a red check-in" in ephemeral(reply)
    server.settle()
    assert fake_slack.calls_to("chat.postMessage") and alerts_to_dana(fake_slack) == []  # tried, refused
    tick(store, settings, ny(2026, 11, 30, 10, 1))  # the next tick sends it, the channel still not looked up
    assert len(alerts_to_dana(fake_slack)) == 1
    assert acme(store).channel_shared_checked_at is None
    assert posts_in(fake_slack, "C0ACME") == []


def alerts_to_dana(fake: FakeSlack) -> list[str]:
    """The red check-in's alerts Slack accepted in Dana's DMs."""
    return [
        str(c.params.get("text"))
        for c in fake.calls_to("chat.postMessage")
        if c.params.get("channel") == "U0001"
        and c.response.get("ok")
        and "they are furious" in str(c.params.get("text"))
    ]


def test_a_channel_shared_while_partner_missed_the_event_is_caught_by_the_daily_look_up(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, clock: FakeClock, settings: Settings, bot: BotServer
) -> None:
    clock.set(ny(2026, 11, 25, 10))  # a Wednesday
    add_acme(slack, bot)
    assert not acme(store).channel_shared
    fake_slack.channels["C0ACME"]["is_ext_shared"] = True  # no channel_shared event reached Partner
    tick(store, settings, ny(2026, 11, 27, 9, 0))  # Friday: over a day since Partner joined and looked
    assert posts_in(fake_slack, "C0ACME") == []
    assert told_dana_to_call(fake_slack)
    assert acme(store).channel_shared


def told_dana_to_call(fake: FakeSlack) -> bool:
    """The day's call nudge reached the owner by DM, alone or in a digest with the overdue note."""
    dms = " ".join(dms_to(fake, "U0001"))
    return "Time for the daily call with Acme Corp" in dms or "daily call with *Acme Corp*" in dms


class PersonOf(SlackRequests):
    """Requests from someone whose home team (`user.team_id`) is `home`: another organisation's workspace met in a
    Slack Connect channel, another workspace of our own Enterprise Grid organisation, or the organisation itself."""

    def __init__(self, slack: SlackRequests, fake: FakeSlack, home: str, enterprise_id: str | None = None) -> None:
        super().__init__(
            slack.base_url, signing_secret=SIGNING_SECRET, team_id=TEAM_ID, enterprise_id=enterprise_id, fake=fake
        )
        self.home = home

    def _user(self, user_id: str, user_name: str) -> dict[str, Any]:
        return {**super()._user(user_id, user_name), "team_id": self.home}


def old_nudge_in_a_now_shared_channel(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, clock: FakeClock, settings: Settings, bot: BotServer
) -> tuple[dict[str, Any], str]:
    """Monday's call nudge, posted in #acme while it was internal; then #acme was shared with the customer."""
    clock.set(ny(2026, 11, 25, 10))
    add_acme(slack, bot)
    tick(store, settings, ny(2026, 11, 30, 9, 0))
    (message,) = fake_slack.messages["C0ACME"]
    event(slack, "channel_shared", connected_team_id="T0CUST")
    buttons = {e["action_id"]: e["value"] for b in message["blocks"] for e in b.get("elements", []) if "value" in e}
    shown = {k: message[k] for k in ("type", "user", "bot_id", "text", "ts", "blocks")}
    return shown, buttons[NUDGE_LOG_CALL]


def told(fake: FakeSlack, since: int) -> list[str]:
    return [str(c.params.get("text")) for c in fake.calls_to("response_url")[since:]]


def test_the_customers_people_clicking_our_buttons_are_told_politely_and_nothing_changes(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, clock: FakeClock, settings: Settings, bot: BotServer
) -> None:
    message, value = old_nudge_in_a_now_shared_channel(slack, fake_slack, store, clock, settings, bot)
    theirs = PersonOf(slack, fake_slack, home="T0CUST")
    fake_slack.add_user("U0EXT1", name="carol", team_id="T0CUST", stranger=True)
    calls = len(fake_slack.calls)
    for action_id, doing in (
        (NUDGE_LOG_CALL, "log calls"),
        (NUDGE_SNOOZE, "snooze reminders"),
        (NUDGE_SKIP, "skip calls"),
    ):
        mark = len(fake_slack.calls_to("response_url"))
        response = theirs.block_action(action_id, value=value, user_id="U0EXT1", channel_id="C0ACME", message=message)
        assert response.status == 200, response.text
        assert told(fake_slack, mark) == [f"Only Acme's account team can {doing}. Nothing was changed."]
    mark = len(fake_slack.calls_to("response_url"))
    theirs.block_action(BOUNDARY_SLIP, value="1:0", block_id="boundary:list:1", user_id="U0EXT1", channel_id="C0ACME")
    assert told(fake_slack, mark) == ["Only Acme's account team can change working agreements. Nothing was changed."]
    # A command carries the person's own workspace as its team_id.
    other_workspace = SlackRequests(slack.base_url, signing_secret=SIGNING_SECRET, team_id="T0CUST", fake=fake_slack)
    reply = other_workspace.command("list", user_id="U0EXT1", channel_id="C0ACME")
    assert ephemeral(reply) == "Only Acme's account team can use `/partner`. Nothing was changed."
    theirs.block_action(
        HOME_OPEN_CARD, value=str(acme(store).id), user_id="U0EXT1", view={"id": "VHOME", "type": "home"}
    )
    assert dms_to(fake_slack, "U0EXT1") == ["Only Acme's account team can use Partner's buttons. Nothing was changed."]

    # Nothing changed: no form, no edit of the nudge, no slip, no check-in; only the replies above went out.
    done = {c.method for c in fake_slack.calls[calls:]}
    assert done <= {"response_url", "chat.postMessage", "auth.test"}, done  # auth.test: the workspace name
    (nudge,) = [n for n in _nudges(store) if n.kind == "cadence"]
    assert nudge.payload.get("outcome") is None
    assert store.checkins(team_id=TEAM_ID) == []


def test_our_own_people_of_another_workspace_of_our_enterprise_grid_organisation_are_not_refused(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, clock: FakeClock, settings: Settings, bot: BotServer
) -> None:
    message, value = old_nudge_in_a_now_shared_channel(slack, fake_slack, store, clock, settings, bot)
    fake_slack.add_user("U0EAST", name="erin", team_id="T0EAST")  # our organisation's other workspace
    fake_slack.add_user("U0EXT1", name="carol", team_id="T0CUST", stranger=True)
    as_org = PersonOf(slack, fake_slack, home="E0ORG", enterprise_id="E0ORG")  # Slack gives the organisation's id
    as_east = PersonOf(slack, fake_slack, home="T0EAST", enterprise_id="E0ORG")
    for person, user_id in ((as_org, "U0001"), (as_east, "U0EAST")):
        opened = len(fake_slack.calls_to("views.open"))
        response = person.block_action(
            NUDGE_LOG_CALL, value=value, user_id=user_id, channel_id="C0ACME", message=message
        )
        assert response.status == 200, response.text
        assert len(fake_slack.calls_to("views.open")) == opened + 1  # the check-in form, as for anyone of ours
    # Someone of the customer's organisation, met from a Grid workspace: users.info says is_stranger.
    stranger = PersonOf(slack, fake_slack, home="T0CUST", enterprise_id="E0ORG")
    mark, opened = len(fake_slack.calls_to("response_url")), len(fake_slack.calls_to("views.open"))
    stranger.block_action(NUDGE_LOG_CALL, value=value, user_id="U0EXT1", channel_id="C0ACME", message=message)
    assert told(fake_slack, mark) == ["Only Acme's account team can log calls. Nothing was changed."]
    assert len(fake_slack.calls_to("views.open")) == opened
    looked_up = len(fake_slack.calls_to("users.info"))
    stranger.block_action(NUDGE_SKIP, value=value, user_id="U0EXT1", channel_id="C0ACME", message=message)
    assert len(fake_slack.calls_to("users.info")) == looked_up  # Slack is asked once per person


def _nudges(store: Store) -> list[Nudge]:
    with store.session() as session:
        return list(session.exec(select(Nudge).order_by(Nudge.id)))  # type: ignore[arg-type]
