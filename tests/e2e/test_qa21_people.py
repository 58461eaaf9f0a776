"""The people around a customer, as a real workspace has them: owners who leave, colleagues, owners named as typed.
Signed requests to the real app, ticks with an injected now, every message read back from the fake Slack."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from bot.settings import Settings
from storage.models import Nudge
from storage.store import Store
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import TEAM_ID, BotServer, FakeClock, ephemeral, tick

NY = ZoneInfo("America/New_York")
AGREEMENT = "We answer within one business day"
GONE = "Its owner <@U0001> is deactivated in Slack: pick another, `/partner edit Acme Corp @owner`."


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY).astimezone(UTC)  # type: ignore[misc]


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


def test_the_next_agreements_suggestion_for_an_owner_who_left_goes_to_the_customers_channel(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, settings: Settings, clock: FakeClock, bot: BotServer
) -> None:
    """The first agreement held; Partner suggests the next one, with its Activate button, to the owner. Dana had
    left: the suggestion went to her DM, read by nobody. It goes to Acme's channel, saying why, as the escalation
    does."""
    clock.set(ny(2026, 11, 25, 10))
    ephemeral(slack.command("add Acme Corp <#C0ACME|acme> <@U0001|dana>"))
    ephemeral(slack.command(f'boundary acme add "{AGREEMENT}" kind=response_time value=1d'))
    ephemeral(slack.command('boundary acme add "Requests go in #acme-partners, not DMs"'))
    ephemeral(slack.command("boundary acme activate 1"))
    bot.settle()
    fake_slack.users["U0001"]["deleted"] = True
    gone = {"type": "user_change", "user": {"id": "U0001", "team_id": TEAM_ID, "name": "dana", "deleted": True}}
    assert slack.event(gone).status == 200
    bot.settle()
    clock.advance(minutes=5)
    ephemeral(slack.command("boundary acme held 1", user_id="U0002", user_name="sam"))  # Sam is an admin
    for minutes in (1, 2):
        tick(store, settings, clock.advance(minutes=minutes))
    assert not [p for p in posts_to(fake_slack, "U0001") if "Ready to introduce" in p["text"]]
    (post,) = [p for p in posts_to(fake_slack, "C0ACME") if "Ready to introduce" in p["text"]]
    assert post["blocks"][0]["text"]["text"].endswith(f"\n:warning: {GONE}"), post["blocks"][0]
    assert post["blocks"][0]["accessory"]["text"]["text"] == "Activate"


def test_a_colleague_refused_a_change_is_not_sent_to_ask_an_owner_who_left(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, clock: FakeClock, bot: BotServer
) -> None:
    """Dana left; Partner told Acme's channel to pick another owner. Lee, a colleague (no admin), tries: the refusal
    said "only its owner <@Dana> or workspace admins can. Ask one of them" — sending Lee to someone who is gone. It
    says Dana was deactivated and to ask an admin to pick another owner; nothing changes. While Dana was here, the
    refusal names Dana as before."""
    clock.set(ny(2026, 11, 25, 10))
    fake_slack.add_user("U0003", name="lee", tz="America/New_York")
    ephemeral(slack.command("add Acme Corp <#C0ACME|acme> <@U0001|dana>"))
    bot.settle()
    asked_dana = ephemeral(slack.command("edit acme tz=Europe/Berlin", user_id="U0003", user_name="lee"))
    assert asked_dana == (
        "You can't edit *Acme Corp*: only its owner <@U0001> or workspace admins can. Ask one of them — anyone can "
        "still log check-ins on it."
    )
    fake_slack.users["U0001"]["deleted"] = True
    gone = {"type": "user_change", "user": {"id": "U0001", "team_id": TEAM_ID, "name": "dana", "deleted": True}}
    assert slack.event(gone).status == 200
    bot.settle()
    for command in ("edit acme <@U0003|lee>", 'boundary acme add "Replies within a day"'):
        reply = ephemeral(slack.command(command, user_id="U0003", user_name="lee"))
        assert (
            "its owner <@U0001> was deactivated in Slack, so only workspace admins can. Ask one of them to pick "
            "another owner — anyone can still log check-ins on it." in reply
        ), reply
    found = store.customer_by_name(team_id=TEAM_ID, name="Acme Corp")
    assert found is not None and found.owner_id == "U0001"


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
    # A setting typed without its `=` after the owner is no part of their name: named as it was.
    reply = ephemeral(slack.command("add Acme Corp @dana tz Europe/Berlin"))
    assert reply.startswith("I didn't understand 'tz' after the name."), reply
    assert store.customer_by_name(team_id=TEAM_ID, name="Acme Corp") is None


# --------------------------------------------------------------------------- a customer changing hands mid-story


def test_a_survey_prompt_waiting_for_slack_when_the_customer_changes_hands_asks_the_new_owner(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, settings: Settings, clock: FakeClock, bot: BotServer
) -> None:
    """Acme's monthly 'rate our level' prompt came due while Slack was down; before it went out Dana handed Acme to
    Sam. Sam's Home counts it among *surveys waiting* (Home reads the customer's owner), yet the prompt went to Dana,
    who no longer owns Acme, as the escalation and the health-drop alert never do: they ask the owner when they go."""
    clock.set(ny(2026, 11, 25, 10))
    ephemeral(slack.command("add Acme Corp <#C0ACME|acme> <@U0001|dana>"))
    bot.settle()
    due = ny(2026, 12, 25, 10)  # a month after it was added, 10:00 its time
    fake_slack.fail_next("chat.postMessage", status=503, times=5)
    tick(store, settings, due)
    clock.set(due + timedelta(minutes=5))
    assert "<@U0001> → <@U0002>" in ephemeral(slack.command("edit acme <@U0002|sam>"))
    bot.settle()
    for minutes in (10, 20, 90):
        tick(store, settings, due + timedelta(minutes=minutes))
    asked = [
        (c.params["channel"], c.params["text"])
        for c in fake_slack.calls_to("chat.postMessage")
        if c.ok and "*relationship level* of *Acme Corp*" in c.params["text"]
    ]
    # One DM to Sam, with the news that Acme is theirs now (an owner's DMs due at once come together).
    assert asked == [
        (
            "U0002",
            "2 things need you now: the *relationship level* of *Acme Corp* to fill in; <@U0001> made you the owner "
            "of *Acme Corp*",
        )
    ], asked


# --------------------------------------------------------------------------- the customer's own view


class TheirOwnSlack(SlackRequests):
    """A person of another organisation in the shared channel whose payloads name their own workspace as `team` (as
    Slack sends a form opened in a Slack Connect channel); the view says whose app it is (`app_installed_team_id`)."""

    def __init__(self, *args: Any, their_team: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.their_team = their_team

    def _team(self) -> dict[str, Any]:
        return {"id": self.their_team, "domain": self.their_team.lower()}

    def _user(self, user_id: str, user_name: str) -> dict[str, Any]:
        return {**super()._user(user_id, user_name), "team_id": self.their_team}

    def default_view(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().default_view(**kwargs), "team_id": self.their_team}


def test_the_customers_view_answered_by_people_of_two_organisations_and_a_guest_counts_each_person_once(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, clock: FakeClock, bot: BotServer
) -> None:
    """Acme's channel is shared with Acme (T0CUST) and its agency (T0AGENCY), and a guest of ours from Acme reads it
    too. Each answers the ask's form — one of them twice — with payloads naming their own workspace: every answer is
    the customer's view (never ours: our level stays ours), each person counted once, the latest answer theirs."""
    from handlers.ids import OPEN_CUSTOMER_VIEW
    from tests.e2e.test_surveys import opened, shared_customer, submit

    customer = shared_customer(slack, fake_slack, store)
    fake_slack.add_user("U0GUEST", name="gil", is_restricted=True)
    assert slack.command("survey acme level").status == 200
    assert submit(slack, opened(fake_slack), {"level": "partner"}, view_id="VOURS").status == 200
    assert "Asked" in slack.command("ask acme", channel_id="C0SHARED").json()["text"]
    acme = TheirOwnSlack(slack.base_url, signing_secret=slack.signing_secret, team_id=TEAM_ID, their_team="T0CUST")
    agency = TheirOwnSlack(slack.base_url, signing_secret=slack.signing_secret, team_id=TEAM_ID, their_team="T0AGENCY")
    answers = [
        (acme, "U0EXT1", "supplier"),
        (agency, "U0AGY1", "supplier_of_choice"),
        (slack, "U0GUEST", "supplier"),
        (acme, "U0EXT1", "supplier_of_choice"),  # Acme's person thinks again
    ]
    for n, (who, user_id, level) in enumerate(answers):
        clock.advance(hours=2)
        click = who.block_action(OPEN_CUSTOMER_VIEW, value=str(customer.id), user_id=user_id, channel_id="C0SHARED")
        assert click.status == 200, click.text
        form = opened(fake_slack)
        assert json.loads(form["private_metadata"])["survey"] == "customer_view", form
        reply = submit(
            who, form, {"level": level, "start_doing": "", "keep_doing": ""}, view_id=f"V{n}", user_id=user_id
        )
        assert reply.status == 200 and reply.json()["response_action"] == "update", reply.text
        bot.settle()
    theirs = store.survey_responses(team_id=TEAM_ID, survey="customer_view")
    assert sorted((r.respondent_id, r.external) for r in theirs) == [
        ("U0AGY1", True),
        ("U0EXT1", True),
        ("U0EXT1", True),
        ("U0GUEST", True),
    ]
    assert [r.respondent_id for r in store.survey_responses(team_id=TEAM_ID, survey="level")] == ["U0001"]
    status = json.dumps(slack.command("status acme").json(), ensure_ascii=False)
    assert "latest of 3 people — 1 says Supplier)" in status, status
    fresh = store.customer(team_id=TEAM_ID, customer_id=customer.id or 0)
    assert fresh is not None and fresh.tier == "partner"  # our own level: theirs never sets our tier
