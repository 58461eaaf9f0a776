"""Weekly digest: settings from Slack, exactly once through the nudge log, the PNG chart reaching Slack."""

from __future__ import annotations

import contextlib
import io
import json
import threading
import warnings
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from slack_sdk import WebClient
from slack_sdk.models.blocks import Block
from sqlalchemy import insert, update
from sqlmodel import Session, col, select

import storage.workspaces
from bot.app import make_client
from bot.settings import Settings
from handlers.blocks.digest import DigestSummary, TheirView, TierMove, digest_blocks
from handlers.commands.export import wait_after_ack
from schedules.chart import (
    CHART_SIZE,
    HealthLine,
    _font_glyphs,
    _pyplot,
    biggest_movers,
    drawn_whole,
    health_chart,
    legend_label,
)
from schedules.digest import (
    DIGEST,
    DigestTime,
    digest_chart,
    digest_slot,
    parse_digest_time,
    plan_digests,
    send_digest,
    send_digest_charts,
    stop_digest_in_shared_channel,
)
from schedules.jobs import run_tick
from schedules.sender import send_due_nudges
from schedules.slack_http import UPLOAD_ATTEMPTS
from storage.home import DIGEST_CHOSEN_BY
from storage.models import Boundary, Customer, CustomerEvent, HealthSnapshot, Nudge, Workspace
from storage.store import Store
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import TEAM_ID, BotServer, FakeClock

ADMIN = "U0002"  # Sam, a workspace admin in the fake Slack

MONDAY_9_BERLIN = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)  # 09:00 in Berlin (CET, UTC+1)


def seed(store: Store, now: datetime) -> None:
    """Four customers (no cadence, so no other nudges): health that moved, a tier change, an escalation."""
    ids = []
    for i, (name, owner) in enumerate(
        [("Acme", "U0001"), ("Globex", "U0001"), ("Initech", "U0002"), ("Umbrella", "U0002")]
    ):
        customer = store.add_customer(
            team_id=TEAM_ID, name=name, created_by=owner, now=now - timedelta(days=90), owner_id=owner
        )
        assert customer.id is not None
        ids.append(customer.id)
        for week in range(4):  # a check-in a week for 4 weeks: a streak
            if i < 2 or week < 2:
                store.record_checkin(
                    team_id=TEAM_ID,
                    customer_id=customer.id,
                    author_id=owner,
                    mood="green",
                    note="ok",
                    now=now - timedelta(weeks=week, hours=1),
                )
    with Session(store.engine) as session:
        session.execute(
            insert(HealthSnapshot),
            [
                {
                    "team_id": TEAM_ID,
                    "customer_id": cid,
                    "day": now.date() - timedelta(days=day),
                    "score": max(0, min(100, 80 - (day // 7) * (5 * (i + 1)) * (-1 if i % 2 else 1))),
                    "band": "green",
                    "components": {},
                    "computed_at": now,
                }
                for i, cid in enumerate(ids)
                for day in range(0, 84, 7)
            ],
        )
        session.add(
            CustomerEvent(
                team_id=TEAM_ID,
                customer_id=ids[0],
                kind="tier_changed",
                detail={"old": "supplier", "new": "partner"},
                at=now - timedelta(days=2),
            )
        )
        escalate(session, ids[2], "Replies within one business day", sent_at=now - timedelta(days=1))
        session.commit()


def escalate(session: Session, customer_id: int, text: str, *, sent_at: datetime) -> Boundary:
    """An active boundary whose escalation message went to the owner at `sent_at`."""
    boundary = Boundary(
        team_id=TEAM_ID,
        customer_id=customer_id,
        text=text,
        status="active",
        created_at=sent_at - timedelta(days=40),
        escalated_at=sent_at,
    )
    session.add(boundary)
    session.flush()
    session.add(
        Nudge(
            team_id=TEAM_ID,
            kind="boundary_escalation",
            subject=f"boundary:{boundary.id}",
            due_key="run:first",
            customer_id=customer_id,
            due_at=sent_at,
            created_at=sent_at,
            status="sent",
            sent_at=sent_at,
        )
    )
    return boundary


def seeded_team_digesting_in_general(store: Store, settings: Settings) -> WebClient:
    """The seeded team with its weekly digest going to #general (C0001); the client the jobs post with."""
    store.ensure_workspace(team_id=TEAM_ID, now=MONDAY_9_BERLIN)
    store.set_digest_channel(team_id=TEAM_ID, channel_id="C0001", now=MONDAY_9_BERLIN)
    seed(store, MONDAY_9_BERLIN)
    return make_client(settings)


def digest_message(fake: FakeSlack, channel: str) -> dict[str, Any]:
    (message,) = [m for m in fake.messages.get(channel, []) if m.get("subtype") != "file_share"]
    return message


def png_size(data: bytes) -> tuple[int, int]:
    image = Image.open(io.BytesIO(data))
    image.load()  # decodes the whole image, not only the header
    assert image.format == "PNG"
    return image.size


# --------------------------------------------------------------------------- rules


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mon 09:00", DigestTime(0, time(9, 0))),
        ("Friday 4pm", DigestTime(4, time(16, 0))),
        ("weekly tue 8:30", DigestTime(1, time(8, 30))),
        ("sun 9 am", DigestTime(6, time(9, 0))),
    ],
)
def test_digest_times_parse(text: str, expected: DigestTime) -> None:
    assert parse_digest_time(text) == expected
    assert parse_digest_time(expected.to_text()) == expected


@pytest.mark.parametrize("text", ["funday 9", "mon 25:00", "09:00", ""])
def test_bad_digest_times_say_what_is_wrong(text: str) -> None:
    with pytest.raises(ValueError):
        parse_digest_time(text)


def test_the_slot_is_this_local_weeks_day_and_time_across_dst() -> None:
    when = DigestTime(0, time(9, 0))
    assert digest_slot(when, "Europe/Berlin", MONDAY_9_BERLIN) == ("2026-W49", MONDAY_9_BERLIN)
    # Sunday late evening UTC is already Monday in Auckland: that Monday's week.
    assert digest_slot(when, "Pacific/Auckland", datetime(2026, 11, 29, 20, 0, tzinfo=UTC))[0] == "2026-W49"
    summer = digest_slot(when, "Europe/Berlin", datetime(2026, 7, 1, tzinfo=UTC))[1]
    assert summer == datetime(2026, 6, 29, 7, 0, tzinfo=UTC)  # CEST, UTC+2


def test_the_chart_is_a_png_of_the_expected_size_and_picks_the_biggest_movers() -> None:
    lines = [HealthLine(f"C{i}", [50, 50 + i * 5, None, 50 - i]) for i in range(10)] + [HealthLine("flat", [None, 40])]
    movers = biggest_movers(lines)
    assert [m.name for m in movers] == ["C9", "C8", "C7", "C6", "C5", "C4"]
    weeks = [date(2026, 9, 7) + timedelta(weeks=i) for i in range(4)]
    assert png_size(health_chart(movers, week_starts=weeks, title="t")) == CHART_SIZE == (800, 450)
    assert png_size(health_chart([], week_starts=weeks, title="empty")) == CHART_SIZE


def test_a_tier_move_reads_as_the_card_and_home_say_it() -> None:
    summary = DigestSummary(
        week_start=date(2026, 11, 23),
        tier_moves=[TierMove("Acme", "supplier_of_choice", "partner"), TierMove("Globex", None, "supplier_of_choice")],
        customers=2,
    )
    text = json.dumps(digest_blocks(summary), ensure_ascii=False)
    assert "*Acme*: Supplier of choice → Partner :arrow_up_small: up" in text
    assert '*Globex*: no tier → Supplier of choice"' in text  # a first rating goes no way: nothing after it
    assert "supplier_of_choice" not in text
    back = DigestSummary(
        week_start=date(2026, 11, 23), tier_moves=[TierMove("Acme", "partner", "partner", ("supplier",))], customers=1
    )
    assert "*Acme*: Partner → Supplier → Partner (back where it was)" in json.dumps(
        digest_blocks(back), ensure_ascii=False
    )


def test_what_their_people_said_this_week_reads_beside_our_view_and_only_when_they_answered() -> None:
    summary = DigestSummary(
        week_start=date(2026, 11, 23),
        their_views=[
            TheirView("Acme", "supplier", "partner", answers=3),
            TheirView("Globex", "partner", "partner"),
            TheirView("Initech", "partner", "supplier_of_choice"),
            TheirView("Umbrella", "supplier_of_choice", None),
        ],
        customers=4,
    )
    text = json.dumps(digest_blocks(summary), ensure_ascii=False)
    assert ":speech_balloon: In their own words (4)*" in text
    assert (
        "*Acme*: they see us as *Supplier*; we say *Partner* — the health score counts *Supplier* :warning: "
        "(3 answers, the latest shown)" in text
    )
    assert "*Globex*: they see us as *Partner*, as we do" in text
    assert (
        "*Initech*: they see us as *Partner*; we say *Supplier of choice* — the health score counts *Supplier of "
        "choice*\\n" in text
    )
    assert "*Umbrella*: they see us as *Supplier of choice* (our own view not rated yet)" in text
    quiet = json.dumps(digest_blocks(DigestSummary(week_start=date(2026, 11, 23), customers=4)), ensure_ascii=False)
    assert "In their own words" not in quiet  # a team that never asks is not told so every week


# --------------------------------------------------------------------------- settings from Slack


def test_digest_channel_and_time_are_set_from_slack(slack: SlackRequests, fake_slack: FakeSlack, store: Store) -> None:
    reply = slack.command("digest channel <#C0ACME|acme>", user_id=ADMIN)
    assert "goes to <#C0ACME> Mondays at 09:00 (UTC)" in reply.json()["text"]
    fake_slack.wait_for("conversations.join")  # after the answer
    assert fake_slack.channels["C0ACME"]["is_member"]  # joined, so it can post there
    reply = slack.command("digest time fri 16:30 tz=Europe/Berlin", user_id=ADMIN)
    assert "Fridays at 16:30 (Europe/Berlin)" in reply.json()["text"]
    workspace = store.digest_workspace(team_id=TEAM_ID)
    assert workspace is not None
    assert (workspace.digest_channel_id, workspace.digest_schedule, workspace.tz) == (
        "C0ACME",
        "weekly fri 16:30",
        "Europe/Berlin",
    )
    reply = slack.command("digest channel off", user_id=ADMIN)
    assert "digest is off" in reply.json()["text"]


@pytest.mark.usefixtures("answers_wait_out_a_held_lock")
@pytest.mark.parametrize("first_setting", [True, False], ids=["first-setting", "settings-saved-before"])
def test_digest_channel_and_time_set_at_the_same_moment_both_stay(
    slack: SlackRequests, store: Store, monkeypatch: pytest.MonkeyPatch, clock: FakeClock, first_setting: bool
) -> None:
    """Both commands read the workspace's settings JSON before either saves it (held together here), and the time's
    save lands last: without the row's lock it wrote back what it had read, and the channel's admin was forgotten
    (who is told when Partner can no longer post the digest there); for a workspace's first setting, the second
    save met the first's new row and its admin got "something went wrong"."""
    if not first_setting:
        store.set_digest_schedule(
            team_id=TEAM_ID, schedule="weekly mon 09:00", tz=None, now=clock() - timedelta(days=1)
        )
    read, together, channel_saved = (
        storage.workspaces.workspace_to_change,
        threading.Barrier(2, timeout=2),
        threading.Event(),
    )
    set_channel, who = store.set_digest_channel, threading.local()

    def read_together(session: Session, **kwargs: Any) -> Workspace:
        found = read(session, **kwargs)
        with contextlib.suppress(threading.BrokenBarrierError):
            together.wait()
        if not getattr(who, "channel", False):
            channel_saved.wait(timeout=2)  # the channel's save first, the time's last
        return found

    def channel_then_tell(**kwargs: Any) -> Workspace:
        who.channel = True  # in the thread serving the channel's command
        try:
            return set_channel(**kwargs)
        finally:
            channel_saved.set()

    monkeypatch.setattr(storage.workspaces, "workspace_to_change", read_together)
    monkeypatch.setattr(store, "set_digest_channel", channel_then_tell)
    answers: list[Any] = []
    commands = [
        threading.Thread(target=lambda: answers.append(slack.command("digest channel <#C0ACME|acme>", user_id=ADMIN))),
        threading.Thread(
            target=lambda: answers.append(slack.command("digest time fri 16:30 tz=Europe/Berlin", user_id=ADMIN))
        ),
    ]
    for command in commands:
        command.start()
    for command in commands:
        command.join(timeout=20)
    assert [a.status for a in answers] == [200, 200]
    workspace = store.digest_workspace(team_id=TEAM_ID)
    assert workspace is not None
    assert (workspace.digest_channel_id, workspace.digest_schedule, workspace.tz) == (
        "C0ACME",
        "weekly fri 16:30",
        "Europe/Berlin",
    )
    assert workspace.settings.get(DIGEST_CHOSEN_BY) == ADMIN, workspace.settings


def test_a_channel_shared_with_a_customer_is_refused_for_the_team_digest(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    # Every customer's health and risks would be read by another organisation's people there.
    fake_slack.add_channel("C0SHARED", name="acme-shared", is_ext_shared=True)
    text = slack.command("digest channel <#C0SHARED|acme-shared>", user_id=ADMIN).json()["text"]
    assert "<#C0SHARED> is shared with another organisation through Slack Connect" in text
    assert "Pick an internal channel" in text and "Usage: `/partner digest" in text
    workspace = store.digest_workspace(team_id=TEAM_ID)
    assert workspace is None or workspace.digest_channel_id is None
    assert fake_slack.calls_to("conversations.join") == []
    # A private channel Slack won't describe to Partner yet is taken; the join after the answer says to invite it.
    reply = slack.command("digest channel <#C0PRIVATE|>", user_id=ADMIN).json()["text"]
    assert "goes to <#C0PRIVATE>" in reply


def test_a_digest_channel_shared_later_stops_getting_the_digest_and_its_admin_is_told(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    assert "goes to <#C0ACME>" in slack.command("digest channel <#C0ACME|acme>", user_id=ADMIN).json()["text"]
    fake_slack.channels["C0ACME"]["is_ext_shared"] = True
    for _ in range(2):  # Slack may deliver the event twice: the admin is told once
        assert slack.event({"type": "channel_shared", "channel": "C0ACME", "connected_team_id": "T0CUST"}).status == 200
    workspace = store.digest_workspace(team_id=TEAM_ID)
    assert workspace is not None and workspace.digest_channel_id is None
    (told,) = [c for c in fake_slack.calls_to("chat.postMessage") if c.params.get("channel") == ADMIN]
    assert "<#C0ACME> is now shared with another organisation" in told.params["text"]
    # Another channel shared: the digest's channel is not touched.
    assert "goes to <#C0001>" in slack.command("digest channel <#C0001|general>", user_id=ADMIN).json()["text"]
    assert slack.event({"type": "channel_shared", "channel": "C0ACME", "connected_team_id": "T0CUST"}).status == 200
    assert store.digest_workspace(team_id=TEAM_ID).digest_channel_id == "C0001"  # type: ignore[union-attr]


def test_a_digest_channel_shared_while_partner_was_down_is_looked_up_before_the_digest_goes_there(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, settings: Settings
) -> None:
    assert "goes to <#C0ACME>" in slack.command("digest channel <#C0ACME|acme>", user_id=ADMIN).json()["text"]
    fake_slack.wait_for("conversations.join")
    fake_slack.channels["C0ACME"]["is_ext_shared"] = True  # shared meanwhile; its channel_shared event never came
    monday = datetime(2026, 11, 30, 9, 1, tzinfo=UTC)  # Mondays at 09:00 UTC
    for minutes in (0, 1, 60):  # the digest's tick, then later ones: looked up and told once
        report = run_tick(
            store=store, client=make_client(settings), now=monday + timedelta(minutes=minutes), settings=settings
        )
        assert not report.failed, report.failed
    assert fake_slack.messages.get("C0ACME", []) == []  # the customer's people never read the team's health
    assert store.nudges(team_id=TEAM_ID, kinds=[DIGEST], due_after=monday - timedelta(days=1)) == []
    workspace = store.digest_workspace(team_id=TEAM_ID)
    assert workspace is not None and workspace.digest_channel_id is None
    (told,) = [c for c in fake_slack.calls_to("chat.postMessage") if c.params.get("channel") == ADMIN]
    assert "<#C0ACME> is now shared with another organisation" in told.params["text"]


@pytest.mark.parametrize(
    ("fault", "asked"),
    # a 429's Retry-After is not waited out inside the tick; a 5xx gets the client's two quick retries
    [({"status": 429, "retry_after": 30}, 1), ({"error": "ratelimited"}, 1), ({"status": 503, "times": 3}, 3)],
)
def test_a_digest_channel_slack_cannot_describe_yet_holds_the_digest_a_tick_without_holding_up_the_tick(
    store: Store, fake_slack: FakeSlack, settings: Settings, fault: dict[str, Any], asked: int
) -> None:
    client = seeded_team_digesting_in_general(store, settings)
    monday = datetime(2026, 11, 30, 9, 1, tzinfo=UTC)
    fake_slack.fail_next("conversations.info", **fault)
    assert plan_digests(store=store, client=client, now=monday, settings=settings) == 0
    assert len(fake_slack.calls_to("conversations.info")) == asked
    assert plan_digests(store=store, client=client, now=monday + timedelta(minutes=1), settings=settings) == 1
    assert send_due_nudges(store=store, client=client, now=monday + timedelta(minutes=1)) == 1
    assert digest_message(fake_slack, "C0001")


def test_two_deliveries_at_once_of_the_digest_channels_sharing_tell_its_admin_once(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, settings: Settings
) -> None:
    assert "goes to <#C0ACME>" in slack.command("digest channel <#C0ACME|acme>", user_id=ADMIN).json()["text"]
    # Both deliveries (Slack's retry while the first one's DM is slow, or the event and the weekly look-up) read the
    # workspace before either turned the digest off.
    read_by_each = [store.digest_workspace(team_id=TEAM_ID) for _ in range(2)]
    for workspace in read_by_each:
        assert workspace is not None and workspace.digest_channel_id == "C0ACME"
        stop_digest_in_shared_channel(
            store=store, client=make_client(settings), workspace=workspace, channel_id="C0ACME"
        )
    told = [c for c in fake_slack.calls_to("chat.postMessage") if c.params.get("channel") == ADMIN]
    assert len(told) == 1, told
    assert store.digest_workspace(team_id=TEAM_ID).digest_channel_id is None  # type: ignore[union-attr]


def test_an_internal_digest_channel_is_looked_up_once_a_week(
    store: Store, fake_slack: FakeSlack, settings: Settings
) -> None:
    client = seeded_team_digesting_in_general(store, settings)
    monday = datetime(2026, 11, 30, 9, 1, tzinfo=UTC)
    for minutes in (0, 1, 60):  # the digest's tick and later ones
        plan_digests(store=store, client=client, now=monday + timedelta(minutes=minutes), settings=settings)
        send_due_nudges(store=store, client=client, now=monday + timedelta(minutes=minutes))
    assert digest_message(fake_slack, "C0001")
    looked_up = [c for c in fake_slack.calls_to("conversations.info") if c.params.get("channel") == "C0001"]
    assert len(looked_up) == 1


def test_only_admins_change_the_digest_settings_and_are_told_why(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    for text in ("digest channel <#C0ACME|acme>", "digest time fri 16:30", "digest channel off"):
        refused = slack.command(text, user_id="U0001").json()["text"]  # Dana owns customers but is no admin
        assert "You can't change" in refused and "only workspace admins and owners can" in refused
    workspace = store.digest_workspace(team_id=TEAM_ID)
    assert workspace is None or (workspace.digest_channel_id is None and workspace.digest_schedule is None)
    assert fake_slack.calls_to("conversations.join") == []
    assert "You can't" not in slack.command("digest team", user_id="U0001").json()["text"]  # reading it stays open


def test_an_archived_digest_channel_turns_the_digest_off_again_and_says_so(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    fake_slack.channels["C0ACME"]["is_archived"] = True
    assert "goes to <#C0ACME>" in slack.command("digest channel <#C0ACME|acme>", user_id=ADMIN).json()["text"]
    (told,) = fake_slack.wait_for("response_url")
    assert "<#C0ACME> is archived, so the weekly team digest is off again" in told.params["text"]
    workspace = store.digest_workspace(team_id=TEAM_ID)
    assert workspace is not None and workspace.digest_channel_id is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("digest time funday 9", "'funday' is not a day of the week"),
        ("digest time mon 9 tz=Mars/Base", "Mars/Base"),
        (
            "digest time fri 16:30 tz=Europe/Berlin tz=Asia/Tokyo",
            "tz= is given twice ('Europe/Berlin' and 'Asia/Tokyo')",
        ),
        ("digest time", "When should the digest go out?"),
        ("digest channel #nowhere", "'#nowhere' is not a channel I can find"),
        ("digest channel", "Name one channel"),
        ("digest weekly", "I don't know `digest weekly`"),
        ("digest mine please", "I didn't understand 'please'"),
    ],
)
def test_bad_digest_settings_get_a_friendly_answer(slack: SlackRequests, store: Store, text: str, message: str) -> None:
    reply = slack.command(text, user_id=ADMIN)
    assert message in reply.json()["text"]
    workspace = store.digest_workspace(team_id=TEAM_ID)
    assert workspace is None or (workspace.digest_channel_id is None and workspace.digest_schedule is None)


# --------------------------------------------------------------------------- scheduled, exactly once


def test_the_weekly_digest_goes_out_once_with_its_chart(
    store: Store, fake_slack: FakeSlack, settings: Settings
) -> None:
    store.ensure_workspace(team_id=TEAM_ID, now=MONDAY_9_BERLIN)
    store.set_digest_channel(team_id=TEAM_ID, channel_id="C0001", now=MONDAY_9_BERLIN)
    store.set_digest_schedule(team_id=TEAM_ID, schedule="weekly mon 09:00", tz="Europe/Berlin", now=MONDAY_9_BERLIN)
    seed(store, MONDAY_9_BERLIN)
    client = make_client(settings)

    before = MONDAY_9_BERLIN - timedelta(minutes=1)
    assert plan_digests(store=store, client=client, now=before, settings=settings) == 0
    now = MONDAY_9_BERLIN + timedelta(minutes=1)
    assert plan_digests(store=store, client=client, now=now, settings=settings) == 1
    assert plan_digests(store=store, client=client, now=now, settings=settings) == 0  # planned once
    assert send_due_nudges(store=store, client=client, now=now) == 1
    assert send_digest_charts(store=store, client=client, now=now) == 1
    # Again, as another tick or replica would: nothing more.
    assert plan_digests(store=store, client=client, now=now + timedelta(hours=2), settings=settings) == 0
    assert send_due_nudges(store=store, client=client, now=now + timedelta(hours=2)) == 0
    assert send_digest_charts(store=store, client=client, now=now + timedelta(hours=2)) == 0

    message = digest_message(fake_slack, "C0001")
    for block in message["blocks"]:
        Block.parse(block).validate_json()  # type: ignore[union-attr]
    text = json.dumps(message["blocks"], ensure_ascii=False)
    assert "Weekly digest · week of 30 Nov 2026" in text
    assert "*Acme*: Supplier → Partner" in text
    assert "*Initech*: “Replies within one business day”" in text
    assert "*Acme*: 4 weeks in a row with a check-in" in text
    (chart,) = [f for f in fake_slack.files.values() if f["completed"]]
    assert chart["channel_id"] == "C0001" and chart["filename"] == "partner-health-2026-W49.png"
    assert png_size(chart["bytes"]) == CHART_SIZE
    (row,) = [n for n in store.nudges(team_id=TEAM_ID, kinds=[DIGEST], due_after=now - timedelta(days=7))]
    assert (row.status, row.subject, row.due_key, row.channel_id) == ("sent", "team", "2026-W49", "C0001")

    # The next week brings the next digest.
    later = now + timedelta(weeks=1)
    assert plan_digests(store=store, client=client, now=later, settings=settings) == 1
    assert send_due_nudges(store=store, client=client, now=later) == 1


@pytest.mark.parametrize("removed", ["not_in_channel", "channel_not_found", "is_archived"])
def test_a_digest_channel_partner_can_no_longer_post_in_is_told_to_the_admin_who_chose_it(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, settings: Settings, removed: str
) -> None:
    assert "goes to <#C0ACME>" in slack.command("digest channel <#C0ACME|acme>", user_id=ADMIN).json()["text"]
    fake_slack.wait_for("conversations.join")
    if removed == "channel_not_found":
        del fake_slack.channels["C0ACME"]  # deleted
    else:
        fake_slack.channels["C0ACME"]["is_member"] = removed != "not_in_channel"  # someone removed Partner
        fake_slack.channels["C0ACME"]["is_archived"] = removed == "is_archived"
    monday = datetime(2026, 11, 30, 9, 1, tzinfo=UTC)  # Mondays at 09:00 UTC
    for minutes in (0, 1, 60):  # the digest's tick, then later ones: told once
        report = run_tick(
            store=store, client=make_client(settings), now=monday + timedelta(minutes=minutes), settings=settings
        )
        assert not report.failed, report.failed
    told = [c.params["text"] for c in fake_slack.calls_to("chat.postMessage") if c.params.get("channel") == ADMIN]
    assert len(told) == 1, told
    assert "I couldn't deliver the weekly digest" in told[0] and "C0ACME" in told[0]
    assert "/partner digest channel #channel" in told[0]
    (row,) = store.nudges(team_id=TEAM_ID, kinds=[DIGEST], due_after=monday - timedelta(days=1))
    assert (row.status, row.error) == ("failed", removed)
    # The next Mondays: a channel archived or deleted is not tried again (the digest is off until the admin picks
    # another), where it was refused, and the admin told, every week; one Partner may be invited back into is.
    for minutes in (0, 1, 60):
        now = monday + timedelta(weeks=1, minutes=minutes)
        assert not run_tick(store=store, client=make_client(settings), now=now, settings=settings).failed
    tried = [c for c in fake_slack.calls_to("chat.postMessage") if c.params.get("channel") == "C0ACME"]
    told = [c.params["text"] for c in fake_slack.calls_to("chat.postMessage") if c.params.get("channel") == ADMIN]
    workspace = store.digest_workspace(team_id=TEAM_ID)
    assert workspace is not None
    if removed == "not_in_channel":
        assert (len(tried), len(told), workspace.digest_channel_id) == (2, 2, "C0ACME")
    else:
        assert (len(tried), len(told), workspace.digest_channel_id) == (1, 1, None)


@pytest.mark.parametrize(("kind", "gone"), [("channel_archive", "was archived"), ("channel_deleted", "was deleted")])
def test_a_digest_channel_archived_or_deleted_turns_the_digest_off_at_once_and_tells_its_admin_once(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, settings: Settings, kind: str, gone: str
) -> None:
    assert "goes to <#C0ACME>" in slack.command("digest channel <#C0ACME|acme>", user_id=ADMIN).json()["text"]
    fake_slack.wait_for("conversations.join")
    if kind == "channel_deleted":
        del fake_slack.channels["C0ACME"]
    else:
        fake_slack.channels["C0ACME"]["is_archived"] = True
    for retry in (None, 1):  # Slack's event, and its retry
        assert slack.event({"type": kind, "channel": "C0ACME", "user": "U0001"}, event_id="Ev0GONE", retry_num=retry)
    told = [c.params["text"] for c in fake_slack.calls_to("chat.postMessage") if c.params.get("channel") == ADMIN]
    assert told == [f"<#C0ACME> {gone}, so the weekly team digest is off. Pick a live channel: "
                    "`/partner digest channel #channel`."]  # fmt: skip
    workspace = store.digest_workspace(team_id=TEAM_ID)
    assert workspace is not None and workspace.digest_channel_id is None
    monday = datetime(2026, 11, 30, 9, 1, tzinfo=UTC)
    assert not run_tick(store=store, client=make_client(settings), now=monday, settings=settings).failed
    assert [c for c in fake_slack.calls_to("chat.postMessage") if c.params.get("channel") == "C0ACME"] == []


@pytest.mark.parametrize(
    ("method", "status", "times"),
    # 3: the client's own two retries fail too, as do Partner's tries of the upload URL (new URLs each time); 201 (a
    # success that is not 200) fails slack-sdk's upload step too; a 429 from the last step is Slack's rate limiter
    # turning it away before it shared anything
    [
        ("files.getUploadURLExternal", 503, 3),
        ("upload", 500, UPLOAD_ATTEMPTS),
        ("upload", 201, UPLOAD_ATTEMPTS),
        ("files.completeUploadExternal", 429, 3),
    ],
)
def test_a_chart_slack_failed_to_take_before_sharing_it_goes_out_at_the_next_tick_once(
    store: Store, fake_slack: FakeSlack, settings: Settings, method: str, status: int, times: int
) -> None:
    client = seeded_team_digesting_in_general(store, settings)
    now = datetime(2026, 11, 30, 9, 1, tzinfo=UTC)
    assert plan_digests(store=store, client=client, now=now, settings=settings) == 1
    assert send_due_nudges(store=store, client=client, now=now) == 1
    fake_slack.fail_next(method, status=status, times=times)
    assert send_digest_charts(store=store, client=client, now=now) == 0
    for minutes in (1, 2):  # the next ticks, as any replica's: one of them uploads it, once
        send_digest_charts(store=store, client=client, now=now + timedelta(minutes=minutes))
    (chart,) = [f for f in fake_slack.files.values() if f["completed"]]
    assert chart["channel_id"] == "C0001" and png_size(chart["bytes"]) == CHART_SIZE
    assert len([c for c in fake_slack.calls_to("files.completeUploadExternal") if c.ok]) == 1


@pytest.mark.parametrize("change", ["digest channel off", "digest channel <#C0ACME|acme>"])
def test_a_digest_waiting_on_slack_follows_the_digest_channel_changed_meanwhile(
    bot: BotServer, slack: SlackRequests, store: Store, fake_slack: FakeSlack, settings: Settings, change: str
) -> None:
    client = seeded_team_digesting_in_general(store, settings)
    now = datetime(2026, 11, 30, 9, 1, tzinfo=UTC)
    assert plan_digests(store=store, client=client, now=now, settings=settings) == 1
    fake_slack.fail_next("chat.postMessage", status=503, times=3)  # Slack down: the digest waits for a later tick
    assert send_due_nudges(store=store, client=client, now=now) == 0
    assert fake_slack.scripted("chat.postMessage") == 0
    slack.command(change, user_id=ADMIN)
    bot.settle()  # the new channel joined
    send_due_nudges(store=store, client=client, now=now + timedelta(minutes=2))
    send_digest_charts(store=store, client=client, now=now + timedelta(minutes=2))
    assert fake_slack.messages.get("C0001", []) == []  # not where the digest no longer goes
    (row,) = store.nudges(team_id=TEAM_ID, kinds=[DIGEST], due_after=now - timedelta(days=1))
    if change == "digest channel off":
        assert row.status == "cancelled"
        assert not [c for c in fake_slack.calls_to("files.completeUploadExternal")]
    else:
        assert row.status == "sent" and digest_message(fake_slack, "C0ACME")


def test_the_weekly_digest_of_a_team_without_customers_says_so_and_has_no_chart(
    store: Store, fake_slack: FakeSlack, settings: Settings
) -> None:
    now = datetime(2026, 11, 30, 9, 1, tzinfo=UTC)
    store.ensure_workspace(team_id=TEAM_ID, now=now)
    store.set_digest_channel(team_id=TEAM_ID, channel_id="C0001", now=now - timedelta(days=1))
    client = make_client(settings)
    assert plan_digests(store=store, client=client, now=now, settings=settings) == 1
    assert send_due_nudges(store=store, client=client, now=now) == 1
    assert send_digest_charts(store=store, client=client, now=now) == 0
    assert "No customers yet" in json.dumps(digest_message(fake_slack, "C0001")["blocks"])
    assert fake_slack.calls_to("files.getUploadURLExternal") == []


def test_a_teams_first_digest_charts_the_customers_scored_only_this_week(
    store: Store, fake_slack: FakeSlack, settings: Settings
) -> None:
    """Partner installed on Tuesday, a Friday digest: each customer has one week's score, which the chart shows
    instead of "No health scores stored yet" beside a summary listing those scores."""
    tuesday = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    store.ensure_workspace(team_id=TEAM_ID, now=tuesday)
    store.set_digest_channel(team_id=TEAM_ID, channel_id="C0001", now=tuesday)
    store.set_digest_schedule(team_id=TEAM_ID, schedule="weekly fri 16:30", tz="Europe/Berlin", now=tuesday)
    for name in ("Acme", "Globex"):
        customer = store.add_customer(
            team_id=TEAM_ID, name=name, created_by="U0001", now=tuesday, owner_id="U0001", cadence="weekly fri 10:00"
        )
        assert customer.id is not None
        store.record_checkin(
            team_id=TEAM_ID, customer_id=customer.id, author_id="U0001", mood="green", note="kickoff", now=tuesday
        )
    client = make_client(settings)
    run_tick(store=store, client=client, now=tuesday + timedelta(minutes=1), settings=settings)  # scores them
    friday = datetime(2026, 12, 4, 15, 31, tzinfo=UTC)  # 16:31 in Berlin
    run_tick(store=store, client=client, now=friday, settings=settings)
    (chart,) = [f for f in fake_slack.files.values() if f["completed"]]
    assert chart["channel_id"] == "C0001"
    _png, names = digest_chart(store=store, team_id=TEAM_ID, now=friday, tz="Europe/Berlin")
    assert names == ["Acme", "Globex"]
    # Customers whose health moved still come first; the ones scored once fill the chart after them.
    movers = biggest_movers([HealthLine("New", [None, 70]), HealthLine("Flat", [60, 60]), HealthLine("Up", [40, 80])])
    assert [m.name for m in movers] == ["Up", "Flat", "New"]


def test_a_chart_slack_may_have_shared_is_not_uploaded_again(
    store: Store, fake_slack: FakeSlack, settings: Settings
) -> None:
    client = seeded_team_digesting_in_general(store, settings)
    now = datetime(2026, 11, 30, 9, 1, tzinfo=UTC)
    plan_digests(store=store, client=client, now=now, settings=settings)
    send_due_nudges(store=store, client=client, now=now)
    fake_slack.fail_next("files.completeUploadExternal", status=503, times=3)
    for minutes in (0, 1, 2):
        assert send_digest_charts(store=store, client=client, now=now + timedelta(minutes=minutes)) == 0
    assert len(fake_slack.calls_to("files.getUploadURLExternal")) == 1


def test_an_auckland_digest_counts_streaks_and_names_its_chart_by_aucklands_week(
    store: Store, fake_slack: FakeSlack, settings: Settings
) -> None:
    auckland = ZoneInfo("Pacific/Auckland")  # UTC+13 in November: Monday 09:00 there is Sunday 20:00 UTC
    monday_9 = datetime(2026, 11, 30, 9, 0, tzinfo=auckland)
    store.ensure_workspace(team_id=TEAM_ID, now=monday_9)
    store.set_digest_channel(team_id=TEAM_ID, channel_id="C0001", now=monday_9)
    store.set_digest_schedule(team_id=TEAM_ID, schedule="weekly mon 09:00", tz="Pacific/Auckland", now=monday_9)
    kiwi = store.add_customer(
        team_id=TEAM_ID, name="Kiwi", created_by="U0001", now=monday_9 - timedelta(days=60), owner_id="U0001"
    )
    assert kiwi.id is not None
    # A check-in in each of the last three Auckland weeks; last week's on Monday 08:00, still Sunday in UTC.
    for at in (
        datetime(2026, 11, 11, 12, 0, tzinfo=auckland),
        datetime(2026, 11, 18, 12, 0, tzinfo=auckland),
        datetime(2026, 11, 23, 8, 0, tzinfo=auckland),
    ):
        store.record_checkin(
            team_id=TEAM_ID, customer_id=kiwi.id, author_id="U0001", mood="green", note="ok", now=at.astimezone(UTC)
        )
    client = make_client(settings)
    now = monday_9.astimezone(UTC) + timedelta(minutes=1)
    assert plan_digests(store=store, client=client, now=now, settings=settings) == 1
    assert send_due_nudges(store=store, client=client, now=now) == 1
    assert send_digest_charts(store=store, client=client, now=now) == 1
    text = json.dumps(digest_message(fake_slack, "C0001")["blocks"], ensure_ascii=False)
    assert "Weekly digest · week of 30 Nov 2026" in text
    assert "*Kiwi*: 3 weeks in a row with a check-in" in text
    (row,) = store.nudges(team_id=TEAM_ID, kinds=[DIGEST], due_after=now - timedelta(days=7))
    (chart,) = [f for f in fake_slack.files.values() if f["completed"]]
    assert row.due_key == "2026-W49" and chart["filename"] == "partner-health-2026-W49.png"


def test_the_digests_across_the_new_year_are_weeks_53_and_1_once_each_and_streaks_run_through(
    store: Store, fake_slack: FakeSlack, settings: Settings
) -> None:
    """2026 has 53 ISO weeks: Monday 28 December is 2026-W53 and Monday 4 January 2027-W01. Each Monday's digest goes
    out once under its week, and a check-in every Wednesday since 25 November is one streak across the new year."""
    first = datetime(2026, 11, 20, tzinfo=UTC)
    store.ensure_workspace(team_id=TEAM_ID, now=first)
    store.set_digest_channel(team_id=TEAM_ID, channel_id="C0001", now=first)
    store.set_digest_schedule(team_id=TEAM_ID, schedule="weekly mon 09:00", tz="America/New_York", now=first)
    kiwi = store.add_customer(team_id=TEAM_ID, name="Kiwi", created_by="U0001", now=first, owner_id="U0001")
    for week in range(6):  # Wednesdays 25 November … 30 December, 12:00 in New York
        at = datetime(2026, 11, 25, 17, 0, tzinfo=UTC) + timedelta(weeks=week)
        store.record_checkin(
            team_id=TEAM_ID, customer_id=kiwi.id or 0, author_id="U0001", mood="green", note="ok", now=at
        )
    client = make_client(settings)
    mondays = [datetime(2026, 12, 28, 14, 1, tzinfo=UTC), datetime(2027, 1, 4, 14, 1, tzinfo=UTC)]
    for now in [*mondays, mondays[1] + timedelta(hours=4)]:  # 09:01 EST each Monday, then a later tick
        plan_digests(store=store, client=client, now=now, settings=settings)
        send_due_nudges(store=store, client=client, now=now)
        send_digest_charts(store=store, client=client, now=now)
    texts = [json.dumps(m["blocks"], ensure_ascii=False) for m in fake_slack.messages["C0001"] if m.get("blocks")]
    assert len(texts) == 2
    assert "week of 28 Dec 2026" in texts[0] and "*Kiwi*: 5 weeks in a row with a check-in" in texts[0]
    assert "week of 4 Jan 2027" in texts[1] and "*Kiwi*: 6 weeks in a row with a check-in" in texts[1]
    rows = store.nudges(team_id=TEAM_ID, kinds=[DIGEST], due_after=first)
    assert [(r.due_key, r.status) for r in rows] == [("2026-W53", "sent"), ("2027-W01", "sent")]
    charts = sorted(f["filename"] for f in fake_slack.files.values() if f["completed"])
    assert charts == ["partner-health-2026-W53.png", "partner-health-2027-W01.png"]


def test_a_decision_on_an_earlier_escalation_is_not_this_weeks_escalation(
    store: Store, fake_slack: FakeSlack, settings: Settings
) -> None:
    now = MONDAY_9_BERLIN
    (acme, globex) = (
        store.add_customer(team_id=TEAM_ID, name=n, created_by="U0001", now=now - timedelta(days=60), owner_id="U0001")
        for n in ("Acme", "Globex")
    )
    assert acme.id is not None and globex.id is not None
    with Session(store.engine) as session:
        decided = escalate(session, acme.id, "Calls at 9am", sent_at=now - timedelta(days=9))
        decided.escalated_at = now - timedelta(days=2)  # the owner chose "talk it through" this week
        session.add(decided)
        escalate(session, globex.id, "Replies within a day", sent_at=now - timedelta(days=3))
        session.commit()
    summary = send_digest(store=store, client=make_client(settings), team_id=TEAM_ID, now=now, channel="C0001")
    assert [(e.customer, e.boundary) for e in summary.escalated] == [("Globex", "Replies within a day")]


def test_the_tick_runs_the_digest_jobs_in_order(store: Store, fake_slack: FakeSlack, settings: Settings) -> None:
    client = seeded_team_digesting_in_general(store, settings)
    monday_9_utc = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # the default: Monday 09:00 in PARTNER_DEFAULT_TZ (UTC)
    report = run_tick(store=store, client=client, now=monday_9_utc, settings=settings)
    assert report.done["digest"] == 1 and report.done["digest_charts"] == 1, report
    run_tick(store=store, client=client, now=monday_9_utc + timedelta(minutes=1), settings=settings)
    assert "Weekly digest" in digest_message(fake_slack, "C0001")["text"]
    assert len(fake_slack.calls_to("files.completeUploadExternal")) == 1


def test_no_channel_means_no_digest(store: Store, fake_slack: FakeSlack, settings: Settings) -> None:
    client = make_client(settings)
    store.ensure_workspace(team_id=TEAM_ID, now=MONDAY_9_BERLIN)
    seed(store, MONDAY_9_BERLIN)
    assert (
        plan_digests(store=store, client=client, now=datetime(2026, 11, 30, 9, 1, tzinfo=UTC), settings=settings) == 0
    )
    with Session(store.engine) as session:
        assert session.exec(select(Nudge).where(col(Nudge.kind).in_([DIGEST, "digest_chart"]))).all() == []


def test_send_digest_posts_the_summary_and_chart_directly(
    store: Store, fake_slack: FakeSlack, settings: Settings
) -> None:
    seed(store, MONDAY_9_BERLIN)
    summary = send_digest(
        store=store, client=make_client(settings), team_id=TEAM_ID, now=MONDAY_9_BERLIN, channel="C0001"
    )
    assert summary.customers == 4 and summary.with_chart
    assert digest_message(fake_slack, "C0001")
    (chart,) = [f for f in fake_slack.files.values() if f["completed"]]
    assert png_size(chart["bytes"]) == CHART_SIZE


# --------------------------------------------------------------------------- on demand


def test_digest_mine_answers_at_once_and_sends_the_chart_to_my_dm(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    seed(store, datetime(2026, 11, 25, 14, 0, tzinfo=UTC))
    reply = slack.command("digest mine", trigger_id="333.444.def")
    body = reply.json()
    assert body["response_type"] == "ephemeral"
    text = json.dumps(body["blocks"], ensure_ascii=False)
    assert "Your digest" in text and "Acme" in text and "Initech" not in text  # only Dana's customers
    assert "on its way to your DM" in text
    slack.command("digest mine", trigger_id="333.444.def", retry_num=1)  # Slack's retry: no second chart
    fake_slack.wait_for("files.completeUploadExternal")
    assert wait_after_ack()
    (chart,) = [f for f in fake_slack.files.values() if f["completed"]]
    assert fake_slack.channels[chart["channel_id"]]["user"] == "U0001"
    assert png_size(chart["bytes"]) == CHART_SIZE
    # The DM's notification reads the chart's message alone: what it is and whom it shows, not a file's title.
    assert str(chart["initial_comment"]).startswith(":chart_with_upwards_trend: The digest's health chart: 12 weeks")
    assert "Acme" in chart["initial_comment"] and "Initech" not in chart["initial_comment"]

    team = slack.command("digest team").json()
    assert "Initech" in json.dumps(team["blocks"], ensure_ascii=False)
    assert team["text"].endswith(" moved tier, 1 boundary escalated."), team["text"]  # the notification's words
    assert wait_after_ack()  # its chart too: nothing may reach the next test's fake Slack
    assert len([f for f in fake_slack.files.values() if f["completed"]]) == 2


def test_digest_mine_of_someone_who_owns_no_customer_points_to_the_team_digest(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    seed(store, datetime(2026, 11, 25, 14, 0, tzinfo=UTC))  # the team has customers, none of them Kim's
    fake_slack.add_user("U0007", name="kim")
    body = slack.command("digest mine", user_id="U0007", user_name="kim").json()
    text = json.dumps(body["blocks"], ensure_ascii=False)
    assert "You don't own any customers yet" in text and "/partner digest team" in text
    assert "No customers yet" not in text
    assert wait_after_ack()


def test_digest_mine_covers_the_week_on_the_askers_own_clock(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, clock: FakeClock
) -> None:
    fake_slack.add_user("U0009", name="kiri", tz="Pacific/Auckland")
    monday_8 = datetime(2026, 11, 30, 8, 0, tzinfo=ZoneInfo("Pacific/Auckland"))  # still Sunday 29 Nov in UTC
    kiwi = store.add_customer(
        team_id=TEAM_ID, name="Kiwi", created_by="U0009", now=monday_8 - timedelta(days=30), owner_id="U0009"
    )
    assert kiwi.id is not None
    for at in (monday_8 - timedelta(weeks=1), monday_8 - timedelta(minutes=30)):  # last week's Monday and today's
        store.record_checkin(
            team_id=TEAM_ID, customer_id=kiwi.id, author_id="U0009", mood="green", note="ok", now=at.astimezone(UTC)
        )
    clock.set(monday_8.astimezone(UTC))
    body = slack.command("digest mine", user_id="U0009", user_name="kiri").json()
    text = json.dumps(body["blocks"], ensure_ascii=False)
    assert "Your digest · week of 30 Nov 2026" in text  # the team's digest zone (UTC) is still in the week of 23 Nov
    assert "*Kiwi*: 2 weeks in a row with a check-in" in text
    fake_slack.wait_for("files.completeUploadExternal")
    assert wait_after_ack()
    (chart,) = [f for f in fake_slack.files.values() if f["completed"]]
    assert chart["filename"] == "partner-health-2026-W49.png"


def test_a_digest_late_after_downtime_still_goes_out_within_a_day(
    store: Store, fake_slack: FakeSlack, settings: Settings
) -> None:
    client = seeded_team_digesting_in_general(store, settings)
    monday_9_utc = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    late = monday_9_utc + timedelta(hours=8)
    assert plan_digests(store=store, client=client, now=late, settings=settings) == 1
    assert send_due_nudges(store=store, client=client, now=late) == 1
    assert "Sent late" in json.dumps(digest_message(fake_slack, "C0001")["blocks"])
    too_late = monday_9_utc + timedelta(days=1, minutes=1)
    store.set_digest_channel(team_id=TEAM_ID, channel_id="C0ACME", now=too_late)
    assert plan_digests(store=store, client=client, now=too_late + timedelta(weeks=1, days=1), settings=settings) == 0


def test_a_digest_set_up_after_this_weeks_time_starts_next_week_instead_of_saying_partner_was_offline(
    slack: SlackRequests, store: Store, fake_slack: FakeSlack, settings: Settings, clock: FakeClock
) -> None:
    """Set up on Monday afternoon for Mondays 09:00: this week's digest went out at the next tick, 'Sent late — this
    was due …; Partner was offline', though Partner never was. The first digest is next Monday's, on time."""
    clock.set(datetime(2026, 11, 30, 16, 0, tzinfo=UTC))  # Monday 11:00 in New York
    assert "Mondays at 09:00 (UTC)" in slack.command("digest channel <#C0001|general>", user_id=ADMIN).json()["text"]
    reply = slack.command("digest time mon 09:00 tz=America/New_York", user_id=ADMIN)
    assert "Mondays at 09:00 (America/New_York)" in reply.json()["text"]
    for hours in (0, 1, 20):
        tick = run_tick(
            store=store, client=make_client(settings), now=clock.now + timedelta(hours=hours), settings=settings
        )
        assert not tick.failed
    assert [m for m in fake_slack.messages.get("C0001", []) if m.get("subtype") != "file_share"] == []
    next_monday = datetime(2026, 12, 7, 14, 0, tzinfo=UTC)  # 09:00 in New York
    run_tick(store=store, client=make_client(settings), now=next_monday, settings=settings)
    text = json.dumps(digest_message(fake_slack, "C0001")["blocks"])
    assert "week of 7 Dec 2026" in text and "Sent late" not in text and "offline" not in text


def test_a_sunday_evening_digest_late_after_downtime_goes_out_on_monday_for_its_own_week(
    store: Store, fake_slack: FakeSlack, settings: Settings
) -> None:
    client = seeded_team_digesting_in_general(store, settings)
    store.set_digest_schedule(team_id=TEAM_ID, schedule="weekly sun 20:00", tz="America/New_York", now=MONDAY_9_BERLIN)
    sunday_8pm = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)  # Sunday 6 December 20:00 in New York
    assert plan_digests(store=store, client=client, now=sunday_8pm - timedelta(minutes=5), settings=settings) == 0
    monday_6am = sunday_8pm + timedelta(hours=10)  # the bot was down from 19:55 until Monday 06:00: the next week
    assert plan_digests(store=store, client=client, now=monday_6am, settings=settings) == 1
    assert plan_digests(store=store, client=client, now=monday_6am + timedelta(minutes=1), settings=settings) == 0
    assert send_due_nudges(store=store, client=client, now=monday_6am) == 1
    assert send_digest_charts(store=store, client=client, now=monday_6am) == 1
    shown = json.dumps(digest_message(fake_slack, "C0001")["blocks"])
    assert "week of 30 Nov 2026" in shown and "Sent late" in shown  # the week it was for, not the one just begun
    (chart,) = [f for f in fake_slack.files.values() if f["completed"]]
    assert chart["filename"] == "partner-health-2026-W49.png"


def test_a_customer_named_with_an_emoji_is_charted_without_empty_boxes(
    store: Store, fake_slack: FakeSlack, settings: Settings
) -> None:
    seed(store, MONDAY_9_BERLIN)
    acme = store.customer_by_name(team_id=TEAM_ID, name="acme")
    assert acme is not None and acme.id is not None
    with Session(store.engine) as session:
        session.execute(update(Customer).where(col(Customer.id) == acme.id).values(name="Acme 🎉"))
        session.commit()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        summary = send_digest(
            store=store, client=make_client(settings), team_id=TEAM_ID, now=MONDAY_9_BERLIN, channel="C0001"
        )
    assert summary.with_chart
    # matplotlib draws a glyph its font lacks as an empty box, and says so: the legend reads "Acme" instead.
    assert [str(w.message) for w in caught if "missing from font" in str(w.message)] == []
    (chart,) = [f for f in fake_slack.files.values() if f["completed"]]
    assert png_size(chart["bytes"]) == CHART_SIZE


def test_customers_named_in_a_script_the_charts_fonts_lack_are_numbered_and_named_in_its_message(
    store: Store, fake_slack: FakeSlack, settings: Settings
) -> None:
    """Only DejaVu here (no CJK font): 東京商事 was drawn as four empty boxes. Such a customer is labelled by its number
    in the legend (with what of its name can be drawn), and the chart's message says who each number is."""
    seed(store, MONDAY_9_BERLIN)
    names = {"acme": "東京商事", "globex": "Ünïcødé 🚀"}
    with Session(store.engine) as session:
        for old, new in names.items():
            session.execute(update(Customer).where(col(Customer.name_key) == old).values(name=new))
        session.commit()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        send_digest(store=store, client=make_client(settings), team_id=TEAM_ID, now=MONDAY_9_BERLIN, channel="C0001")
    assert [str(w.message) for w in caught if "missing from font" in str(w.message)] == []
    (chart,) = [f for f in fake_slack.files.values() if f["completed"]]
    assert png_size(chart["bytes"]) == CHART_SIZE
    plt = _pyplot()
    _png, charted = digest_chart(store=store, team_id=TEAM_ID, now=MONDAY_9_BERLIN, tz="UTC")
    labels = [legend_label(name, plt, number) for number, name in enumerate(charted, start=1)]
    glyphs = _font_glyphs(plt)
    assert all(ord(ch) in glyphs or ch.isspace() for label in labels for ch in label), labels
    tokyo, rocket = charted.index("東京商事") + 1, charted.index("Ünïcødé 🚀") + 1
    key = (chart["initial_comment"] or "").partition("\nOn the chart: ")[2]  # after what the chart is and shows
    if not drawn_whole("東京商事", plt):  # no CJK font installed (as here): numbered, and keyed in the message
        assert labels[tokyo - 1] == f"#{tokyo}" and f"*#{tokyo}* 東京商事" in key
    assert labels[rocket - 1] == f"#{rocket} Ünïcødé" and f"*#{rocket}* Ünïcødé 🚀" in key
    assert "Initech" in labels and "Initech" not in key  # a name drawn whole is the legend's own


def test_customers_named_with_dollars_or_a_leading_underscore_are_charted_by_their_names(
    store: Store, fake_slack: FakeSlack, settings: Settings
) -> None:
    """matplotlib reads text between two `$` as TeX and leaves a label starting with `_` out of the legend: "$$ Bank"
    made the week's chart raise (never uploaded, the tick's chart job failed), "Deal $1M - $2M" lost its dollars."""
    client = seeded_team_digesting_in_general(store, settings)
    names = {"acme": "$$ Bank", "globex": "_Internal tools", "initech": "Deal $1M - $2M"}
    with Session(store.engine) as session:
        for old, new in names.items():
            session.execute(update(Customer).where(col(Customer.name_key) == old).values(name=new))
        session.commit()
    report = run_tick(store=store, client=client, now=datetime(2026, 11, 30, 9, 1, tzinfo=UTC), settings=settings)
    assert "digest_charts" not in report.failed, report.failed
    (chart,) = [f for f in fake_slack.files.values() if f["completed"]]
    assert chart["channel_id"] == "C0001" and png_size(chart["bytes"]) == CHART_SIZE
    _png, charted = digest_chart(store=store, team_id=TEAM_ID, now=MONDAY_9_BERLIN, tz="UTC")
    assert set(names.values()) <= set(charted)
    # What the legend is given: each `$` escaped (drawn as a dollar), the underscore name passed as a handle's label.
    assert [legend_label(name, _pyplot()) for name in names.values()] == [
        r"\$\$ Bank",
        "_Internal tools",
        r"Deal \$1M - \$2M",
    ]


def test_a_long_customer_name_is_wrapped_in_the_charts_legend_not_cut_off_at_its_edge(
    store: Store, fake_slack: FakeSlack, settings: Settings
) -> None:
    """The legend right of the plot has room for about 20 characters a line: an 80-character name ran off the image,
    cut mid-letter at its right edge."""
    seed(store, MONDAY_9_BERLIN)
    long_names = {"acme": "Globex Corporation International Holdings — Überseeische Handelsgesellschaft mbH"}
    long_names["globex"] = "WWWWWWWWWWWWWWWWWWWW MMMMMMMMMMMMMMMMMMMM"  # wide letters: wrapped lines cut with "…"
    with Session(store.engine) as session:
        for old, new in long_names.items():
            session.execute(update(Customer).where(col(Customer.name_key) == old).values(name=new))
        session.commit()
    send_digest(store=store, client=make_client(settings), team_id=TEAM_ID, now=MONDAY_9_BERLIN, channel="C0001")
    (chart,) = [f for f in fake_slack.files.values() if f["completed"]]
    image = Image.open(io.BytesIO(chart["bytes"])).convert("RGB")
    assert image.size == CHART_SIZE
    width, height = image.size
    edge = {image.getpixel((x, y)) for x in range(width - 3, width) for y in range(height)}
    assert edge == {(255, 255, 255)}, "something is drawn at the chart's right edge"
    assert legend_label(long_names["acme"], _pyplot()) == "Globex Corporation\nInternational…"
