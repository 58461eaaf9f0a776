"""End to end: a 1–5 mood is kept as typed — stored as "4", shown as "4/5" beside its colour on every surface that
shows a mood (confirmation, channel summary, card, list, Home, export), read on the 1–5 scale by the owner alert
("two steps lower": 4 → 3 is not, 5 → 3 is) and by the health score."""

from __future__ import annotations

import json

import pytest

from handlers.commands.export import wait_after_ack
from handlers.ids import LIST_OPEN_CARD
from handlers.parsing import parse_mood
from storage.store import Store
from tests.e2e.test_checkins import acme, dms_to, summaries
from tests.e2e.test_export import read_csv, uploaded
from tests.e2e.test_foundation import add_acme, ephemeral
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import TEAM_ID, BotServer, FakeClock

DANA, SAM = "U0001", "U0002"  # Dana owns Acme Corp; Sam logs the check-ins, so Dana is the one alerted
GREEN, YELLOW, RED = ":large_green_circle:", ":large_yellow_circle:", ":red_circle:"


def list_row(slack: SlackRequests, args: str = "") -> str:
    body = slack.command(f"list {args}".strip()).json()
    rows = [b["text"]["text"] for b in body["blocks"] if b.get("accessory", {}).get("action_id") == LIST_OPEN_CARD]
    assert len(rows) == 1, body["text"]
    return str(rows[0])


def test_a_rating_is_stored_as_typed_and_shown_beside_its_colour(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, bot: BotServer
) -> None:
    add_acme(slack)
    text = ephemeral(slack.command("checkin acme 4 call kickoff went well", user_id=SAM))
    assert f"{GREEN} Logged a 4/5 call check-in for *Acme Corp*: kickoff went well" in text
    (entry,) = store.checkins(team_id=TEAM_ID)
    assert entry.mood == "4"  # not collapsed into "green"
    bot.settle()
    (summary,) = summaries(fake_slack)
    assert f"{GREEN} *Acme Corp* — 4/5 call check-in by <@{SAM}>" in summary["text"]

    card = json.dumps(slack.command("show acme").json()["blocks"], ensure_ascii=False)
    assert f"{GREEN} *4/5 call* ·" in card
    assert f"mood {GREEN} 4/5 ·" in list_row(slack)

    slack.event({"type": "app_home_opened", "user": DANA, "channel": "D0001", "tab": "home"})
    bot.settle()
    home = json.dumps(fake_slack.published_home[DANA], ensure_ascii=False)
    assert f"{GREEN} 4/5 last check-in just now" in home


@pytest.mark.parametrize("typed", ["4/5", "4/5 call"])
def test_a_rating_typed_as_partner_shows_it_is_that_rating(slack: SlackRequests, store: Store, typed: str) -> None:
    # Partner shows a rating as 4/5 (list, card, Home): the same words typed back are that rating, not "not a mood".
    add_acme(slack)
    text = ephemeral(slack.command(f"checkin acme {typed} kickoff went well", user_id=SAM))
    assert f"{GREEN} Logged a {typed} check-in for *Acme Corp*: kickoff went well" in text
    assert [c.mood for c in store.checkins(team_id=TEAM_ID)] == ["4"]
    assert "'6/5' is not a mood" in ephemeral(slack.command("checkin acme 6/5 off the scale"))


def test_colours_read_as_before(slack: SlackRequests, fake_slack: FakeSlack, store: Store, bot: BotServer) -> None:
    add_acme(slack)
    assert f"{YELLOW} Logged a yellow check-in" in ephemeral(slack.command("checkin acme 🟡 pricing worries"))
    assert store.checkins(team_id=TEAM_ID)[0].mood == "yellow"
    assert f"{YELLOW} *yellow* ·" in json.dumps(slack.command("show acme").json()["blocks"], ensure_ascii=False)
    assert f"mood {YELLOW} ·" in list_row(slack)


def test_the_list_trend_shows_a_drift_within_green(slack: SlackRequests, clock: FakeClock) -> None:
    add_acme(slack)
    for mood in ("5", "4", "3"):
        ephemeral(slack.command(f"checkin acme {mood} weekly sync", user_id=SAM))
        clock.advance(hours=1)
    assert f"mood {GREEN} 5/5 {GREEN} 4/5 {YELLOW} 3/5 ↘" in list_row(slack)
    ephemeral(slack.command("checkin acme green back on track", user_id=SAM))
    assert f"mood {GREEN} 4/5 {YELLOW} 3/5 {GREEN} ↗" in list_row(slack)


def test_a_low_rating_is_at_risk_in_the_list(slack: SlackRequests) -> None:
    add_acme(slack)
    ephemeral(slack.command("checkin acme 2 champion left", user_id=SAM))
    assert f"mood {RED} 2/5" in list_row(slack, "at-risk")


@pytest.mark.parametrize(
    ("before", "after", "alert"),
    [
        ("4", "3", None),  # one step: no alert (it read as green → yellow when ratings were collapsed)
        ("green", "4", None),
        ("4", "yellow", None),
        ("5", "3", "*Acme Corp* dropped from 5/5 to 3/5"),
        ("green", "3", "*Acme Corp* dropped from green to 3/5"),
        ("4", "2", f"<@{SAM}> logged a *red* check-in for *Acme Corp* (rated 2/5, was 4/5)"),
        ("yellow", "1", f"<@{SAM}> logged a *red* check-in for *Acme Corp* (rated 1/5, was yellow)"),
        ("2", "red", f"<@{SAM}> logged a *red* check-in for *Acme Corp* (was 2/5)"),
    ],
)
def test_two_steps_lower_compares_the_moods_on_the_1_to_5_scale(
    slack: SlackRequests, fake_slack: FakeSlack, bot: BotServer, clock: FakeClock, before: str, after: str, alert: str
) -> None:
    add_acme(slack)
    ephemeral(slack.command(f"checkin acme {before} first call", user_id=SAM))
    bot.settle()
    clock.advance(days=1)
    dms_before = len(dms_to(fake_slack, DANA))
    ephemeral(slack.command(f"checkin acme {after} second call", user_id=SAM))
    bot.settle()
    dms = dms_to(fake_slack, DANA)[dms_before:]
    if alert is None:
        assert dms == []
    else:
        (dm,) = dms
        assert alert in dm and "second call" in dm


def test_the_export_writes_the_mood_as_stored_and_it_reads_back_the_same(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, clock: FakeClock
) -> None:
    add_acme(slack)
    typed = ["4", "green", "2", "5", "yellow", "3", "1", "red"]
    for mood in typed:
        ephemeral(slack.command(f"checkin acme {mood} note", user_id=SAM))
        clock.advance(minutes=5)
    ephemeral(slack.command("export acme"))
    fake_slack.wait_for("files.completeUploadExternal")
    assert wait_after_ack()
    files = uploaded(fake_slack)
    rows = read_csv(files[next(n for n in files if n.startswith("partner-checkins-acme-corp-"))]["bytes"])
    assert [r["mood"] for r in rows] == typed == [c.mood for c in reversed(store.checkins(team_id=TEAM_ID))]
    # What the file says can be typed again and is kept the same: the column round-trips.
    for row in rows:
        mood = parse_mood(row["mood"])
        assert mood is not None and mood.stored == row["mood"]


def test_a_rating_weighs_in_the_health_score_as_typed(slack: SlackRequests, store: Store, bot: BotServer) -> None:
    add_acme(slack)
    add_acme(slack, "Globex")
    ephemeral(slack.command("checkin acme 4 steady", user_id=SAM))
    ephemeral(slack.command("checkin globex green steady", user_id=SAM))
    bot.settle()
    globex = store.customer_by_name(team_id=TEAM_ID, name="globex")
    four, green = acme(store).health_score, globex.health_score if globex else None
    assert four is not None and green is not None and four < green  # 4 is not 5
