"""Session 22's leftovers from the last round: a DM Slack refuses, mentions in the CSV, user groups as Slack shows
them, the snooze form's errors, and two customers sharing a channel.

Signed requests against the fake Slack, ticks with an injected now; no sleeping, no wall clock.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from slack_sdk import WebClient

import schedules.cadence
from bot.app import make_client
from bot.settings import Settings
from handlers.commands.export import wait_after_ack
from handlers.ids import (
    LOG_MESSAGE_CHECKIN,
    NUDGE_SNOOZE,
    NUDGE_SNOOZE_FOR,
    NUDGE_SNOOZE_MODAL,
    NUDGE_SNOOZE_REASON,
    NUDGE_SNOOZE_UNTIL,
)
from schedules import sender
from schedules.jobs import run_tick
from schedules.sender import Message, SenderOptions, Skip
from storage.models import Customer, Nudge
from storage.store import Store
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import BOT_TOKEN, TEAM_ID, BotServer, FakeClock, ephemeral

MON = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)  # Monday 07:00 in New York
NINE_NY = timedelta(hours=14)  # 09:00 New York (EST) is 14:00 UTC
MINUTE = timedelta(minutes=1)
NY_WED = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # Wednesday 10:00 in New York
MONDAY_9_NY = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)
GONE = "Its owner <@U0002> is deactivated in Slack: pick another, `/partner edit Acme @owner`."


def day(n: int, at: timedelta = NINE_NY) -> datetime:
    """Midnight UTC of the n-th day after Monday 30 November 2026, plus `at`."""
    return datetime(2026, 11, 30, tzinfo=UTC) + timedelta(days=n) + at


@pytest.fixture(autouse=True)
def unpaced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schedules.cadence, "SENDER_OPTIONS", SenderOptions(interval=0.0))


def add(store: Store, name: str = "Acme", **fields: Any) -> Customer:
    values: dict[str, Any] = {"owner_id": "U0002", "tz": "America/New_York", "cadence": "daily 09:00"}
    values.update(fields)
    return store.add_customer(team_id=TEAM_ID, name=name, created_by="U0001", now=MON, **values)


def tick(store: Store, settings: Settings, now: datetime) -> None:
    report = run_tick(store=store, client=make_client(settings), now=now, settings=settings)
    assert not report.failed, report.failed


def rows(store: Store, *kinds: str) -> list[Nudge]:
    return store.nudges(team_id=TEAM_ID, kinds=list(kinds), due_after=MON - timedelta(days=40))


# --------------------------------------------------------------------------- a DM Slack refuses


@pytest.mark.parametrize("refused", ["user_not_found", "cannot_dm_bot", "user_disabled"])
def test_a_dm_slack_refuses_goes_to_the_team_once_as_for_an_owner_who_left(
    store: Store, settings: Settings, fake_slack: FakeSlack, refused: str
) -> None:
    """Sam owns Acme, which has no channel. Slack refuses a DM to Sam (Sam's account is gone, or Sam is a bot):
    users.info still answers, so Partner does not know, and each day's nudge and the overdue alert were DMed to Sam,
    failed, and the next was DMed again, for ever, the team never told. A refused DM takes the road of an owner Slack
    said is deactivated: that nudge goes to the team's channel at once, naming Sam and how to pick another owner, and
    so does everything after it; Sam's DM is not tried again."""
    fake_slack.add_user("U0002", name="sam", tz="America/New_York", is_bot=refused == "cannot_dm_bot")
    fake_slack.users["U0002"]["dm_refused"] = refused
    fake_slack.add_channel("C0TEAM", name="team", members=["U0001"])
    store.set_digest_channel(team_id=TEAM_ID, channel_id="C0TEAM", now=MON)
    add(store, channel_id=None)
    for instant in (day(1), day(1) + MINUTE, day(2), day(2) + MINUTE, day(3)):
        tick(store, settings, instant)
    to_sam = [c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "U0002"]
    assert len(to_sam) == 1, [c.params["text"] for c in to_sam]  # Tuesday's nudge found it out: never tried again
    posted = [m["blocks"][0]["text"]["text"] for m in fake_slack.messages.get("C0TEAM", [])]
    call = ":telephone_receiver: Time for the daily call with *Acme* — {} 09:00 (America/New_York).\n:warning: " + GONE
    assert posted[:4] == [
        call.format("Tue 1 Dec"),
        call.format("Wed 2 Dec"),
        f":warning: *Acme* is overdue: the daily call on Tue 1 Dec was missed. No call logged yet. {GONE}",
        call.format("Thu 3 Dec"),
    ], posted
    assert {r.status for r in rows(store, "cadence", "overdue")} == {"sent"}
    assert rows(store, "delivery_failed") == []  # nothing told to Sam's DM about Sam's DM


def test_an_overdue_alert_whose_dm_slack_refuses_goes_to_the_customers_channel(
    store: Store, settings: Settings, fake_slack: FakeSlack
) -> None:
    """Acme has its own channel (its nudges go there); the overdue alert is the owner's DM, which Slack refused
    (user_not_found): the alert was lost and the channel never heard of it. It goes to Acme's channel, naming the
    owner and how to pick another, and the channel is told once that the owner is gone, as after Slack's
    user_change."""
    fake_slack.add_user("U0002", name="sam", tz="America/New_York")
    fake_slack.users["U0002"]["dm_refused"] = "user_not_found"
    fake_slack.add_channel("C0ACME", name="acme", members=["U0001"])
    add(store, channel_id="C0ACME")
    for instant in (day(1), day(2), day(2) + MINUTE, day(3), day(3) + MINUTE):
        tick(store, settings, instant)
    texts = [m["blocks"][0]["text"]["text"] for m in fake_slack.messages["C0ACME"] if m.get("blocks")]
    overdue = [t for t in texts if "is overdue" in t]
    missed = ":warning: *Acme* is overdue: the daily call on Tue 1 Dec was missed. No call logged yet."
    assert overdue == [f"{missed} {GONE}"]
    assert len([t for t in texts if "was deactivated in Slack" in t]) == 1, texts
    assert len([c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "U0002"]) == 1
    assert {r.status for r in rows(store, "overdue")} == {"sent"}


# --------------------------------------------------------------------------- the snooze form's errors, all at once


@pytest.mark.parametrize(
    ("chosen", "picked", "expected"),
    [
        ("until", "2026-11-30", {"until", "reason"}),  # a day already gone
        (None, None, {"for", "reason"}),  # how long left unpicked
    ],
    ids=["past date", "no length"],
)
def test_the_snooze_form_shows_every_fields_error_at_once(
    slack: SlackRequests,
    store: Store,
    settings: Settings,
    fake_slack: FakeSlack,
    clock: FakeClock,
    chosen: str | None,
    picked: str | None,
    expected: set[str],
) -> None:
    """Sam snoozes Acme until a day that has gone (or leaves how long unpicked) and types a reason of 320
    characters: the form said only the reason was too long; Sam shortened it, submitted, and only then heard of the
    date. Every field's error shows at once, each under its own field, as the customer forms do."""
    fake_slack.add_channel("C0ACME", name="acme", members=["U0001"])
    fake_slack.add_user("U0002", name="sam", tz="America/New_York")
    add(store, channel_id="C0ACME")
    tick(store, settings, day(1))
    (message,) = [m for m in fake_slack.messages["C0ACME"] if m.get("blocks")]
    clock.set(day(1, timedelta(hours=1)))
    value = message["blocks"][1]["elements"][1]["value"]
    assert slack.block_action(NUDGE_SNOOZE, value=value, channel_id="C0ACME").status == 200
    (opened,) = fake_slack.calls_to("views.open")
    values: dict[str, Any] = {
        "for": {NUDGE_SNOOZE_FOR: {"type": "radio_buttons", "selected_option": {"value": chosen} if chosen else None}},
        "until": {NUDGE_SNOOZE_UNTIL: {"type": "datepicker", "selected_date": picked}},
        "reason": {NUDGE_SNOOZE_REASON: {"type": "plain_text_input", "value": "offsite " * 40}},
    }
    metadata = opened.params["view"]["private_metadata"]
    reply = slack.view_submission(NUDGE_SNOOZE_MODAL, values, private_metadata=metadata)
    assert reply.status == 200
    body = reply.json()
    assert body["response_action"] == "errors" and set(body["errors"]) == expected, body
    assert body["errors"]["reason"] == "Keep the reason to 300 characters."
    customer = store.customer(team_id=TEAM_ID, customer_id=1)
    assert customer is not None and customer.snoozed_until is None


# --------------------------------------------------------------------------- people named in the CSV


def test_the_csv_names_a_person_slack_sent_without_a_name(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    """A message logged as a check-in ("Log as check-in") comes with `<@U0002>`, no name: the CSV read "@U0002",
    which nobody on the team can place, beside "@sam" for the same person typed in a command. Slack is asked who
    it is, once per person for the export; someone it cannot name stays as their id."""
    acme = store.add_customer(team_id=TEAM_ID, name="Acme", created_by="U0001", now=MON, owner_id="U0001")
    assert acme.id is not None
    for i, note in enumerate(["<@U0002> sends the deck", "<@U0002|sam> and <@U0002> again", "ask <@U0999>"]):
        store.record_checkin(
            team_id=TEAM_ID, customer_id=acme.id, author_id="U0001", mood="green", note=note, now=MON + i * MINUTE
        )
    assert slack.command("export acme").status == 200
    fake_slack.wait_for("files.completeUploadExternal")
    assert wait_after_ack()
    (checkins,) = [f for f in fake_slack.files.values() if f.get("completed") and "checkins" in f["filename"]]
    rows = list(csv.DictReader(io.StringIO(checkins["bytes"].decode("utf-8-sig"), newline="")))
    assert [r["note"] for r in rows] == ["'@sam sends the deck", "'@sam and @sam again", "ask @U0999"]
    asked = [c.params.get("user") for c in fake_slack.calls_to("users.info")]
    assert asked.count("U0002") <= 1 and asked.count("U0999") <= 1, asked


# --------------------------------------------------------------------------- user groups as Slack shows them

GROUPS = "escalate to <!subteam^S0CS> and <!subteam^S0SALES|@sales>"


def test_a_user_group_in_a_note_reads_as_a_group_in_the_form_and_the_csv_not_as_slacks_markup(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    """A message naming two user groups, one as Slack sends it in a message (`<!subteam^S0CS>`, no handle), logged
    as a check-in: the form showed `<!subteam^S0CS>` and the CSV kept it, Slack's markup nobody typed. Both read
    as a group, by its handle when Slack sent one (`@sales`), else `@group`, as the channel's summary says it."""
    fake_slack.join_member("C0ACME", "U0002")
    fake_slack.channels["C0ACME"]["is_member"] = True
    acme = store.add_customer(
        team_id=TEAM_ID, name="Acme", created_by="U0001", now=MON, owner_id="U0001", channel_id="C0ACME"
    )
    message = dict(
        WebClient(token=BOT_TOKEN, base_url=fake_slack.api_url).chat_postMessage(channel="C0ACME", text="x")["message"]
    )
    message["text"] = GROUPS  # as Slack sends a message's text
    assert slack.message_action(LOG_MESSAGE_CHECKIN, message, channel_id="C0ACME").status == 200
    view = fake_slack.calls_to("views.open")[0].params["view"]
    note = next(b for b in view["blocks"] if b["block_id"] == "note")["element"]["initial_value"]
    assert note.startswith("escalate to @group and @sales\n"), note
    assert "Logged" in ephemeral(slack.command(f"checkin acme green {GROUPS}"))
    assert acme.id is not None
    assert slack.command("export acme").status == 200
    fake_slack.wait_for("files.completeUploadExternal")
    assert wait_after_ack()
    (checkins,) = [f for f in fake_slack.files.values() if f.get("completed") and "checkins" in f["filename"]]
    rows = list(csv.DictReader(io.StringIO(checkins["bytes"].decode("utf-8-sig"), newline="")))
    assert [r["note"] for r in rows] == ["escalate to @group and @sales"]


# --------------------------------------------------------------------------- two customers in one channel


def test_reminders_of_two_customers_sharing_a_channel_say_whose_each_is(
    slack: SlackRequests, bot: BotServer, fake_slack: FakeSlack, store: Store, clock: FakeClock, settings: Settings
) -> None:
    """Acme and its subsidiary Acme Labs share #acme, each with its working agreement: on Monday the channel read
    "A reminder of how we work together: We answer within one business day." twice, back to back, with nothing to
    say which company each was for. Each names its customer when the channel is shared; a channel of one customer
    reads as before."""
    clock.set(NY_WED)
    for name, text in (("Acme Corp", "We answer within one business day"), ("Acme Labs", "Weekly call on Tuesdays")):
        ephemeral(slack.command(f"add {name} <#C0ACME|acme> <@U0001|dana>"))
        ephemeral(slack.command(f'boundary "{name}" add "{text}"'))
        assert "is now active" in ephemeral(slack.command(f'boundary "{name}" activate 1'))
    ephemeral(slack.command("add Globex <#C0001|general> <@U0001|dana>"))
    ephemeral(slack.command('boundary globex add "Tickets go to the portal"'))
    assert "is now active" in ephemeral(slack.command("boundary globex activate 1"))
    bot.settle()
    preview = ephemeral(slack.command('boundary "Acme Labs" preview'))
    assert ">*Acme Labs* — a reminder of how we work together: Weekly call on Tuesdays." in preview, preview
    for minute in (0, 1):
        tick(store, settings, MONDAY_9_NY + timedelta(minutes=minute))
    posted = sorted(  # Globex, alone in its channel, as before
        c.params["text"]
        for c in fake_slack.calls_to("chat.postMessage")
        if c.ok and c.params["channel"] in ("C0ACME", "C0001") and "work together" in c.params["text"]
    )
    assert posted == [
        "*Acme Corp* — a reminder of how we work together: We answer within one business day.",
        "*Acme Labs* — a reminder of how we work together: Weekly call on Tuesdays.",
        "A reminder of how we work together: Tickets go to the portal.",
    ], posted


def test_a_survey_prompt_whose_dm_slack_refuses_asks_the_customers_channel_once(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, settings: Settings, clock: FakeClock, bot: BotServer
) -> None:
    """Dana owns Acme; Slack refuses DMs to her (user_not_found) though nobody told Partner she left. The monthly
    'rate our level' prompt was DMed, refused, recorded failed, and the level went unrated. It is asked in Acme's
    own channel instead, naming her and how to pick another owner, once."""
    ny = ZoneInfo("America/New_York")
    clock.set(datetime(2026, 11, 25, 10, tzinfo=ny).astimezone(UTC))
    ephemeral(slack.command("add Acme Corp <#C0ACME|acme> <@U0001|dana>"))
    bot.settle()
    fake_slack.users["U0001"]["dm_refused"] = "user_not_found"
    due = datetime(2026, 12, 25, 10, tzinfo=ny).astimezone(UTC)  # a month after it was added, 10:00 its time
    for minutes in (0, 1, 2):
        tick(store, settings, due + timedelta(minutes=minutes))
    asked = [
        c for c in fake_slack.calls_to("chat.postMessage") if "*relationship level* of *Acme Corp*" in c.params["text"]
    ]
    assert [(c.params["channel"], c.ok) for c in asked] == [("U0001", False), ("C0ACME", True)], asked
    gone = "Its owner <@U0001> is deactivated in Slack: pick another, `/partner edit Acme Corp @owner`."
    assert asked[1].params["blocks"][0]["text"]["text"].endswith(f"\n:warning: {gone}")
    prompts = store.nudges(team_id=TEAM_ID, kinds=["survey_prompt"], due_after=due - timedelta(days=1))
    assert [n.status for n in prompts] == ["sent"]


def render_ask(nudge: Nudge, store: Store, now: datetime) -> Message | Skip:
    return Message(text="a question for you", user=nudge.recipient_id, customer_id=nudge.customer_id)


def test_a_refused_dm_to_a_colleague_still_tells_the_customers_owner(
    store: Store, settings: Settings, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A question DMed to Sam, who logged a call for Dana's Acme, is refused (Sam's account is gone): Dana is told
    once that it could not be delivered, as before, and Acme is not taken as ownerless (Sam owns none)."""
    monkeypatch.setitem(sender.RENDERERS, "qa22_ask", sender.NudgeKind(render=render_ask, label="the question"))
    fake_slack.users["U0002"]["dm_refused"] = "user_not_found"
    acme = store.add_customer(team_id=TEAM_ID, name="Acme", created_by="U0001", now=MON, owner_id="U0001")
    assert store.plan_nudge(
        team_id=TEAM_ID, kind="qa22_ask", subject="q", due_key="1", due_at=MON, now=MON, customer_id=acme.id,
        recipient_id="U0002",
    )  # fmt: skip
    for minutes in (0, 1, 2):
        tick(store, settings, MON + timedelta(minutes=minutes))
    posted = [c.params for c in fake_slack.calls_to("chat.postMessage") if c.ok]
    to_dana = [p["text"] for p in posted if p["channel"] == "U0001"]
    assert len(to_dana) == 1 and "couldn't deliver the question" in to_dana[0], to_dana
    assert store.deactivated_owners(team_id=TEAM_ID, customer_ids=[acme.id or 0]) == set()
