"""A customer's internal channel with guests of the workspace among its members (single- or multi-channel guests,
often the customer's own people) reads like a channel shared through Slack Connect: no check-in summary, no cadence
nudge there (the owner's DM instead), `/partner ask` works. Learnt when Partner joins it and by the tick's look-up
(conversations.members page by page, users.info), kept current by member_joined_channel, member_left_channel and
user_change. Signed requests through the real app, real ticks through the real jobs and sender."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlmodel import Session

import handlers.events.channels
import schedules.sharing
from bot.app import make_client
from bot.settings import Settings
from handlers.permissions import GUEST_CHECKS
from schedules.jobs import run_tick
from storage.customers import CHANNEL_READERS
from storage.models import Customer, Workspace
from storage.store import Store
from tests.e2e.test_foundation import ephemeral
from tests.e2e.test_shared_channels import (
    acme,
    add_acme,
    dms_to,
    event,
    ny,
    posts_in,
    tick,
    told_dana_to_call,
    unpaced,  # noqa: F401 (autouse: the sender does not pace its posts)
)
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import TEAM_ID, BotServer, FakeClock

GUEST = "U0CUST1"
GUESTS_READ = (
    "Summary not posted in <#C0ACME>: guests read this channel."  # the customer's Lee, a single-channel guest in #acme
)


@pytest.fixture(autouse=True)
def fresh_guest_answers(fake_slack: FakeSlack) -> Iterator[None]:
    GUEST_CHECKS.forget()  # users.info's kept answers of another test's people
    fake_slack.add_user(GUEST, name="lee", is_ultra_restricted=True)
    yield
    GUEST_CHECKS.forget()


def summaries_in_acme(fake: FakeSlack) -> list[str]:
    return [text for text in posts_in(fake, "C0ACME") if "check-in" in text.lower() or "Logged" in text]


def test_a_guest_in_the_customers_channel_keeps_summaries_and_nudges_out_and_ask_works(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, clock: FakeClock, settings: Settings, bot: BotServer
) -> None:
    fake_slack.join_member("C0ACME", GUEST)
    clock.set(ny(2026, 11, 25, 10))  # a Wednesday
    add_acme(slack, bot)
    assert acme(store).channel_shared  # learnt when Partner joined it
    assert store.channel_readers(team_id=acme(store).team_id, channel_id="C0ACME")["guests"] == [GUEST]

    reply = ephemeral(slack.command("checkin acme red they're upset about pricing", user_id="U0002"))
    assert "Logged a red check-in" in reply and GUESTS_READ in reply, reply
    bot.settle()
    assert posts_in(fake_slack, "C0ACME") == []
    assert "guests read this channel: no check-in summaries or nudges there" in json.dumps(
        slack.command("show acme").json()
    )
    assert any("upset about pricing" in text for text in dms_to(fake_slack, "U0001"))  # the owner's alert, by DM

    tick(store, settings, ny(2026, 11, 26, 9, 0))  # Thursday's call nudge: to Dana, not to the guests' channel
    assert posts_in(fake_slack, "C0ACME") == []
    assert told_dana_to_call(fake_slack)

    assert "Asked *Acme Corp*'s people" in ephemeral(slack.command("ask acme"))  # the customer's own view: for them
    (invitation,) = posts_in(fake_slack, "C0ACME")
    assert "how working with us feels" in invitation


def test_a_guest_joining_later_turns_them_off_at_once_and_leaving_turns_them_back_on_after_the_look_up(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, clock: FakeClock, settings: Settings, bot: BotServer
) -> None:
    clock.set(ny(2026, 11, 25, 10))
    add_acme(slack, bot)
    assert not acme(store).channel_shared
    ephemeral(slack.command("checkin acme green kickoff went well"))
    bot.settle()
    assert len(posts_in(fake_slack, "C0ACME")) == 1  # internal, no guest yet: the summary as always

    fake_slack.join_member("C0ACME", GUEST)
    event(slack, "member_joined_channel", user=GUEST, channel_type="C", team="T0001")
    event(slack, "member_joined_channel", user=GUEST, channel_type="C", team="T0001")  # delivered twice: the same
    assert acme(store).channel_shared
    reply = ephemeral(slack.command("checkin acme red they're upset about pricing"))
    assert "Summary not posted in <#C0ACME>" in reply, reply
    bot.settle()
    tick(store, settings, ny(2026, 11, 26, 9, 0))
    assert len(posts_in(fake_slack, "C0ACME")) == 1
    assert told_dana_to_call(fake_slack)

    fake_slack.leave_member("C0ACME", GUEST)
    event(slack, "member_left_channel", user=GUEST, channel_type="C", team="T0001")
    assert acme(store).channel_shared and acme(store).channel_shared_checked_at is None  # until Slack says
    tick(store, settings, ny(2026, 11, 27, 9, 0))  # the look-up finds no guest: Friday's nudge goes to #acme
    assert not acme(store).channel_shared
    posts = posts_in(fake_slack, "C0ACME")
    assert len(posts) == 2 and "Time for the daily call" in posts[1], posts
    assert "Summary not posted" not in ephemeral(slack.command("checkin acme green all fixed"))
    bot.settle()
    assert "all fixed" in posts_in(fake_slack, "C0ACME")[-1]


def test_a_guest_made_a_full_member_is_looked_up_again(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, clock: FakeClock, settings: Settings, bot: BotServer
) -> None:
    fake_slack.join_member("C0ACME", GUEST)
    clock.set(ny(2026, 11, 25, 10))
    add_acme(slack, bot)
    assert acme(store).channel_shared
    lee = fake_slack.add_user(GUEST, name="lee")  # hired: a full member now
    response = slack.event({"type": "user_change", "user": {**lee, "team_id": "T0001"}})
    assert response.status == 200
    tick(store, settings, ny(2026, 11, 26, 9, 0))
    assert not acme(store).channel_shared
    assert len(posts_in(fake_slack, "C0ACME")) == 1  # Thursday's call nudge, in the channel again


def test_a_long_member_list_is_read_page_by_page_over_several_ticks_and_its_posts_wait(
    slack: SlackRequests,
    fake_slack: FakeSlack,
    store: Store,
    clock: FakeClock,
    settings: Settings,
    bot: BotServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(schedules.sharing, "GUEST_CALLS_NOW", 4)
    monkeypatch.setattr(schedules.sharing, "GUEST_CALLS_PER_TICK", 8)
    for n in range(30):
        fake_slack.add_user(f"U1{n:04d}", name=f"colleague{n}")
        fake_slack.join_member("C0ACME", f"U1{n:04d}")
    fake_slack.join_member("C0ACME", GUEST)  # last in the list
    clock.set(ny(2026, 11, 30, 8, 50))  # a Monday: the day's call is due at 09:00
    add_acme(slack, bot)
    assert acme(store).channel_shared_checked_at is None  # joining placed only a few members: the tick goes on
    for minute in range(3):
        tick(store, settings, ny(2026, 11, 30, 9, minute))
        assert posts_in(fake_slack, "C0ACME") == [] and not told_dana_to_call(fake_slack), minute  # waits
    pages = fake_slack.calls_to("conversations.members")
    assert all(int(c.params["limit"]) <= 7 for c in pages)  # never more members than the tick could place
    assert pages[-1].params.get("cursor")  # goes on from where the last tick stopped
    minute = 3
    while acme(store).channel_shared_checked_at is None and minute < 10:
        tick(store, settings, ny(2026, 11, 30, 9, minute))
        minute += 1
    assert acme(store).channel_shared and acme(store).channel_shared_checked_at == ny(2026, 11, 30, 9, minute - 1)
    assert posts_in(fake_slack, "C0ACME") == [] and told_dana_to_call(fake_slack)  # found the guest: Dana's DM
    asked = [c.params["user"] for c in fake_slack.calls_to("users.info")]
    placed = [user for user in asked if user.startswith("U1") or user == GUEST]
    assert len(placed) == len(set(placed)) == 31  # each member placed once (Dana's answer kept from `add`)
    assert len(fake_slack.calls_to("conversations.members")) + len(asked) <= 4 + (minute - 0) * 8


def test_slack_rate_limiting_the_member_list_holds_the_nudge_a_quarter_of_an_hour_at_most(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, clock: FakeClock, settings: Settings, bot: BotServer
) -> None:
    fake_slack.fail_next("conversations.members", error="ratelimited", status=429, retry_after=30, times=1000)
    clock.set(ny(2026, 11, 30, 8, 50))
    add_acme(slack, bot)
    assert acme(store).channel_shared_checked_at is None
    for minute in range(15):
        tick(store, settings, ny(2026, 11, 30, 9, minute))
        assert posts_in(fake_slack, "C0ACME") == [] and not told_dana_to_call(fake_slack), minute
    tick(store, settings, ny(2026, 11, 30, 9, 16))  # owed: where Partner last knew (not shared, no guest known)
    assert len(posts_in(fake_slack, "C0ACME")) == 1
    assert acme(store).channel_shared_checked_at is None  # still asked each tick, until Slack answers


def test_a_member_slack_no_longer_knows_is_nobody_to_keep_out_and_holds_nothing(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, clock: FakeClock, settings: Settings, bot: BotServer
) -> None:
    fake_slack.join_member("C0ACME", "U0GONE")  # listed in the channel, but users.info answers user_not_found
    clock.set(ny(2026, 11, 30, 8, 50))  # a Monday: the day's call is due at 09:00
    add_acme(slack, bot)
    assert not acme(store).channel_shared and acme(store).channel_shared_checked_at is not None  # looked up, done
    assert "Summary not posted" not in ephemeral(slack.command("checkin acme green kickoff went well"))
    bot.settle()
    tick(store, settings, ny(2026, 11, 30, 9, 0))  # the call nudge on time, in the channel
    posts = posts_in(fake_slack, "C0ACME")
    assert len(posts) == 2 and "kickoff went well" in posts[0] and "Time for the daily call" in posts[1], posts


ADMIN = "U0002"  # Sam, a workspace admin in the fake Slack


def digest_channel(store: Store) -> str | None:
    workspace = store.digest_workspace(team_id=TEAM_ID)
    return workspace.digest_channel_id if workspace is not None else None


def told_admin(fake: FakeSlack) -> list[str]:
    return [c.params["text"] for c in fake.calls_to("chat.postMessage") if c.params.get("channel") == ADMIN]


def test_a_channel_guests_read_is_refused_for_the_team_digest(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, clock: FakeClock, bot: BotServer
) -> None:
    fake_slack.join_member("C0ACME", GUEST)
    clock.set(ny(2026, 11, 25, 10))
    add_acme(slack, bot)  # #acme looked up: Lee, a guest, among its members
    text = slack.command("digest channel <#C0ACME|acme>", user_id=ADMIN).json()["text"]
    assert "<#C0ACME>: guests read this channel" in text, text
    assert "people outside the team would read the digest" in text and "Pick an internal channel" in text
    assert digest_channel(store) is None


def test_a_digest_channel_never_looked_up_is_looked_up_after_the_answer_and_turned_off_if_guests_read_it(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, bot: BotServer
) -> None:
    fake_slack.join_member("C0001", GUEST)
    # Slack's 3 seconds hold no member list: the answer takes it, the look-up after it says otherwise.
    assert "goes to <#C0001>" in slack.command("digest channel <#C0001|general>", user_id=ADMIN).json()["text"]
    (told,) = fake_slack.wait_for("response_url")
    assert "<#C0001>: guests read this channel" in told.params["text"], told.params
    assert "the weekly team digest is off again. Pick an internal channel" in told.params["text"]
    assert digest_channel(store) is None
    assert "goes to <#C0ACME>" in slack.command("digest channel <#C0ACME|acme>", user_id=ADMIN).json()["text"]
    bot.settle()
    assert digest_channel(store) == "C0ACME"  # no guest there: kept


def test_a_guest_joining_the_digest_channel_turns_the_digest_off_and_tells_its_admin_once(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, bot: BotServer
) -> None:
    assert "goes to <#C0ACME>" in slack.command("digest channel <#C0ACME|acme>", user_id=ADMIN).json()["text"]
    bot.settle()
    fake_slack.join_member("C0ACME", GUEST)
    for _ in range(2):  # delivered twice: told once
        event(slack, "member_joined_channel", user=GUEST, channel_type="C", team="T0001")
    assert digest_channel(store) is None
    (told,) = told_admin(fake_slack)
    assert "<#C0ACME>: guests read this channel" in told and "no longer goes there" in told, told


def test_a_digest_channel_a_guest_joined_while_partner_was_down_gets_no_digest(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, settings: Settings, bot: BotServer
) -> None:
    assert "goes to <#C0ACME>" in slack.command("digest channel <#C0ACME|acme>", user_id=ADMIN).json()["text"]
    bot.settle()  # joined, and looked up: no guest yet
    assert fake_slack.calls_to("conversations.members")
    fake_slack.join_member("C0ACME", GUEST)  # its member_joined_channel event never came
    monday = datetime(2026, 11, 30, 9, 1, tzinfo=UTC)  # Mondays at 09:00 UTC
    for minutes in (0, 1, 60):
        assert not run_tick(
            store=store, client=make_client(settings), now=monday + timedelta(minutes=minutes), settings=settings
        ).failed
    assert posts_in(fake_slack, "C0ACME") == []
    assert digest_channel(store) is None
    (told,) = told_admin(fake_slack)
    assert "guests read this channel" in told, told


def test_a_member_made_a_guest_turns_their_customers_channels_and_the_digests_at_once(
    slack: SlackRequests,
    fake_slack: FakeSlack,
    store: Store,
    clock: FakeClock,
    settings: Settings,
    bot: BotServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(handlers.events.channels, "MEMBERS_PAGE", 1)  # their channels one a page
    lee = fake_slack.add_user(GUEST, name="lee")  # a full member of the team for now
    fake_slack.join_member("C0ACME", GUEST)
    fake_slack.join_member("C0001", GUEST)
    clock.set(ny(2026, 11, 25, 10))
    add_acme(slack, bot)
    assert not acme(store).channel_shared
    assert "goes to <#C0001>" in slack.command("digest channel <#C0001|general>", user_id=ADMIN).json()["text"]
    bot.settle()  # joined, and looked up: Lee is not a guest yet

    lee = fake_slack.add_user(GUEST, name="lee", is_restricted=True)  # left for the customer: a guest now
    for _ in range(2):  # Slack's redelivery: the same, the admin told once
        assert slack.event({"type": "user_change", "user": {**lee, "team_id": "T0001"}}).status == 200
    assert acme(store).channel_shared and acme(store).channel_shared_checked_at is not None  # at once, no tick
    asked = [c.params for c in fake_slack.calls_to("users.conversations")]
    assert asked[0]["user"] == GUEST and asked[0]["types"] == "public_channel,private_channel"
    assert len(asked) >= 2 and asked[1].get("cursor"), asked  # page by page
    assert digest_channel(store) is None
    (told,) = told_admin(fake_slack)
    assert "<#C0001>: guests read this channel" in told, told
    assert "Summary not posted in <#C0ACME>" in ephemeral(slack.command("checkin acme red pricing again"))
    bot.settle()
    tick(store, settings, ny(2026, 11, 26, 9, 0))  # Thursday's nudge: Dana's DM
    assert posts_in(fake_slack, "C0ACME") == [] and told_dana_to_call(fake_slack)


def as_before_guests_were_looked_for(store: Store, checked_at: datetime) -> None:
    """Acme's channel as an older Partner left it: Slack's word on Slack Connect recorded, no guest look-up."""
    with Session(store.engine) as session:
        workspace = session.get(Workspace, TEAM_ID)
        assert workspace is not None
        workspace.settings = {k: v for k, v in (workspace.settings or {}).items() if k != CHANNEL_READERS}
        session.add(workspace)
        session.exec(update(Customer).values(channel_shared=False, channel_shared_checked_at=checked_at))  # type: ignore[call-overload]
        session.commit()


def test_a_channel_checked_before_guests_were_looked_for_is_looked_up_soon_after_start_its_nudges_not_held(
    slack: SlackRequests,
    fake_slack: FakeSlack,
    store: Store,
    clock: FakeClock,
    settings: Settings,
    bot: BotServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(schedules.sharing, "GUEST_CALLS_PER_TICK", 8)
    for n in range(12):
        fake_slack.add_user(f"U1{n:04d}", name=f"colleague{n}")
        fake_slack.join_member("C0ACME", f"U1{n:04d}")
    fake_slack.join_member("C0ACME", GUEST)  # there before the upgrade, last in the list
    clock.set(ny(2026, 11, 30, 7, 0))  # a Monday: the day's call is due at 09:00
    add_acme(slack, bot)
    as_before_guests_were_looked_for(store, ny(2026, 11, 30, 8, 0))  # checked an hour before, not a day
    GUEST_CHECKS.forget()
    pages_before = len(fake_slack.calls_to("conversations.members"))

    tick(store, settings, ny(2026, 11, 30, 9, 0))  # the first tick after start: due, the member list too long
    posts = posts_in(fake_slack, "C0ACME")
    assert len(posts) == 1 and "Time for the daily call" in posts[0], posts  # not held: it went where it went
    assert len(fake_slack.calls_to("conversations.members")) > pages_before  # looked up though checked an hour ago
    minute = 1
    while acme(store).channel_shared_checked_at < ny(2026, 11, 30, 9, 0) and minute < 6:  # type: ignore[operator]
        tick(store, settings, ny(2026, 11, 30, 9, minute))
        minute += 1
    assert acme(store).channel_shared and acme(store).channel_shared_checked_at == ny(2026, 11, 30, 9, minute - 1)
    tick(store, settings, ny(2026, 12, 1, 9, 0))  # Tuesday's nudge: Dana's DM now
    assert len(posts_in(fake_slack, "C0ACME")) == 1 and told_dana_to_call(fake_slack)
