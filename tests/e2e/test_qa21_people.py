"""The people around a customer, as a real workspace has them: owners who leave, colleagues, owners named as typed.
Signed requests to the real app, ticks with an injected now, every message read back from the fake Slack."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from bot.app import make_client
from bot.settings import Settings
from schedules.jobs import run_tick
from storage.models import Nudge
from storage.store import Store
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import TEAM_ID, BotServer, FakeClock

NY = ZoneInfo("America/New_York")
AGREEMENT = "We answer within one business day"
GONE = "Its owner <@U0001> is deactivated in Slack: pick another, `/partner edit Acme Corp @owner`."


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY).astimezone(UTC)  # type: ignore[misc]


def ephemeral(response: Any) -> str:
    assert response.status == 200, response.text
    body = response.json()
    assert body.get("response_type", "ephemeral") == "ephemeral"
    return str(body["text"])


def tick(store: Store, settings: Settings, now: datetime) -> None:
    report = run_tick(store=store, client=make_client(settings), now=now, settings=settings)
    assert not report.failed, report.failed


def posts_to(fake: FakeSlack, channel: str) -> list[dict[str, Any]]:
    return [c.params for c in fake.calls_to("chat.postMessage") if c.ok and c.params.get("channel") == channel]


def escalations(store: Store) -> list[Nudge]:
    with store.session() as session:
        return list(session.exec(select(Nudge).where(Nudge.kind == "boundary_escalation")))


# --------------------------------------------------------------------------- an owner who left


@pytest.mark.parametrize("where", ["own channel", "shared channel", "no channel", "nowhere"])
def test_a_boundary_escalation_for_an_owner_who_left_goes_to_the_team_not_to_their_dm(
    slack: SlackRequests,
    fake_slack: FakeSlack,
    store: Store,
    settings: Settings,
    clock: FakeClock,
    bot: BotServer,
    where: str,
) -> None:
    """Dana owned Acme and left the company (Slack's user_change, deleted): the third slip's escalation — four
    conscious decisions, the team's to make — was DMed to Dana, which Slack takes without a word and nobody reads.
    It goes where the health-drop and overdue alerts of a deactivated owner go: the customer's own channel (never one
    the customer's people read), else the team's digest channel, saying why and how to pick another owner; with
    neither, nowhere."""
    clock.set(ny(2026, 11, 25, 10))
    fake_slack.add_channel("C0TEAM", name="team", members=["U0002"])
    if where != "nowhere":
        store.set_digest_channel(team_id=TEAM_ID, channel_id="C0TEAM", now=clock.now)
    channel = "" if where in ("no channel", "nowhere") else " <#C0ACME|acme>"
    ephemeral(slack.command(f"add Acme Corp{channel} <@U0001|dana>"))
    bot.settle()
    if where == "shared channel":
        fake_slack.channels["C0ACME"]["is_ext_shared"] = True
        assert slack.event({"type": "channel_shared", "channel": "C0ACME", "connected_team_id": "T0CUST"}).status == 200
        bot.settle()
    ephemeral(slack.command(f'boundary acme add "{AGREEMENT}" kind=response_time value=1d'))
    ephemeral(slack.command("boundary acme activate 1"))
    fake_slack.users["U0001"]["deleted"] = True
    gone = {"type": "user_change", "user": {"id": "U0001", "team_id": TEAM_ID, "name": "dana", "deleted": True}}
    assert slack.event(gone, event_id="Ev0DANA").status == 200
    bot.settle()
    for n in range(3):
        clock.advance(hours=1)
        ephemeral(slack.command(f"boundary acme slip 1 no answer #{n}", user_id="U0002", user_name="sam"))
    for minutes in (1, 2):
        tick(store, settings, clock.advance(minutes=minutes))

    assert not [p for p in posts_to(fake_slack, "U0001") if "keeps slipping" in p["text"]]
    expected = {"own channel": "C0ACME", "shared channel": "C0TEAM", "no channel": "C0TEAM"}.get(where)
    told = [(c, p) for c in ("C0ACME", "C0TEAM") for p in posts_to(fake_slack, c) if "keeps slipping" in p["text"]]
    if expected is None:
        assert told == []
        assert [n.status for n in escalations(store)] == ["cancelled"]
        return
    assert [c for c, _ in told] == [expected], told
    (post,) = [p for _, p in told]
    shown = [b["text"]["text"] for b in post["blocks"] if b["type"] == "section"]
    assert shown[0] == f":warning: *Acme Corp* — a working agreement keeps slipping\n:warning: {GONE}", shown
    assert any(b["type"] == "actions" for b in post["blocks"])  # the decisions stay the team's to make
    assert [n.status for n in escalations(store)] == ["sent"]


# --------------------------------------------------------------------------- an owner typed as their full name


@pytest.mark.parametrize(
    "command",
    [
        "add Acme Corp <#C0ACME|acme> @Dana Scully",
        "add Acme Corp @Dana Scully tz=America/Chicago",
        "add Acme Corp, @dana scully, #acme",
    ],
)
def test_an_owner_typed_as_their_full_name_is_that_person_not_someone_called_by_its_first_word(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, bot: BotServer, command: str
) -> None:
    """`@Dana Scully` typed without picking from Slack's suggestions arrives as plain text. Partner looks a plain
    @name up by username, display or full name, but read only `@Dana` — so Dana (U0001, display name "dana") was
    taken, or "Scully" refused as if it came after the name. A full name is someone's name: it is that person."""
    fake_slack.add_user("U0005", name="dana.scully", real_name="Dana Scully", tz="America/Chicago")
    fake_slack.users["U0005"]["profile"]["display_name"] = "Dana S"
    fake_slack.add_channel("C0ACME", name="acme", members=["U0001"])
    reply = ephemeral(slack.command(command))
    bot.settle()
    found = store.customer_by_name(team_id=TEAM_ID, name="Acme Corp")
    assert found is not None, reply
    assert found.owner_id == "U0005", reply


def test_an_owner_typed_as_a_full_name_nobody_has_is_named_back_whole(slack: SlackRequests, store: Store) -> None:
    reply = ephemeral(slack.command("add Acme Corp @Fox Mulder"))
    assert reply.startswith("I can't find '@Fox Mulder'"), reply
    assert store.customer_by_name(team_id=TEAM_ID, name="Acme Corp") is None
    reply = ephemeral(slack.command("add Acme Corp @Dana Scully"))  # Dana is "dana", not "Dana Scully"
    assert reply.startswith("I can't find '@Dana Scully'"), reply
    assert store.customer_by_name(team_id=TEAM_ID, name="Acme Corp") is None
