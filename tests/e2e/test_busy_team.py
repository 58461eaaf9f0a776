"""A busy team at scale: 8 owners and 400 customers (80-character names with emoji, `&`, accents), through every
surface a person reads, within Slack's limits and still usable: nothing cut short without a word, everyone reachable.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import schedules.cadence
from bot.app import make_client
from bot.settings import Settings
from handlers.blocks import plain
from handlers.ids import CHECKIN_CUSTOMER, NUDGE_SKIP
from schedules.cadence import send_nudges
from schedules.health import HEALTH_DROP
from schedules.jobs import run_tick
from schedules.sender import SenderOptions
from storage.store import Store
from tests.e2e.test_cadence import button_message
from tests.fake_slack import MAX_MESSAGE_BLOCKS_TEXT, FakeSlack, blocks_text_length
from tests.slack_requests import SlackRequests, offered_options
from tests.utils import TEAM_ID, FakeClock

OWNERS = [f"U000{i}" for i in range(1, 9)]
CUSTOMERS = 400
# 80 characters (domain.customers.MAX_NAME_LENGTH) once numbered, emoji and an ampersand included.
LONG = "🎉 Très Grand & Fils — Überseeische Handelsgesellschaft ✨ Zweigniederlassung"


def name_of(i: int) -> str:
    return (
        f"{LONG[:76]} {i:03d}",
        f"Smith & Sons {i:03d}",
        f"Café Olé {i:03d}",
        f"Acme {i:03d}",
    )[i % 4]


def blocks_text(reply: dict[str, Any]) -> str:
    """Everything a person reads in a message's blocks (Slack shows the blocks, not the `text`)."""
    texts = []
    for block in reply.get("blocks") or []:
        if isinstance(block.get("text"), dict):
            texts.append(block["text"]["text"])
        texts.extend(e.get("text", "") for e in block.get("elements") or [] if block["type"] == "context")
    return "\n".join(texts)


@pytest.fixture
def busy_team(fake_slack: FakeSlack, store: Store, clock: FakeClock) -> list[int]:
    """400 customers of 8 owners, each called daily at 09:00 New York time, without a channel (nudges by DM)."""
    for i, user_id in enumerate(OWNERS[2:], start=3):
        fake_slack.add_user(user_id, name=f"owner{i}", tz="America/New_York")
    return [
        store.add_customer(
            team_id=TEAM_ID,
            name=name_of(i),
            created_by=OWNERS[i % len(OWNERS)],
            now=clock.now,
            owner_id=OWNERS[i % len(OWNERS)],
            tz="America/New_York",
            cadence="daily 09:00",
        ).id
        for i in range(CUSTOMERS)
    ]


def test_upcoming_for_four_hundred_customers_shows_its_whole_list_and_says_how_many_more(
    slack: SlackRequests, busy_team: list[int]
) -> None:
    """The 25 nearest nudges in one 3,000-character section were cut mid-line with "…", and with them the line that
    says how many more there are: the answer read as if 21 customers had a nudge coming."""
    reply = slack.command("upcoming").json()
    shown = blocks_text(reply)
    assert shown.count(" — *") == 25 and f"…and {CUSTOMERS - 25} more; `/partner upcoming mine` shows" in shown
    assert not any(b["text"]["text"].endswith("…") for b in reply["blocks"] if b["type"] == "section")
    mine = blocks_text(slack.command("upcoming mine").json())
    assert mine.count(" — *") == 25 and f"…and {CUSTOMERS // 8 - 25} more. `partner-bot upcoming" in mine


def test_a_prefix_a_hundred_customers_share_names_ten_and_counts_the_rest(
    slack: SlackRequests, busy_team: list[int]
) -> None:
    """Ten names alone read as if "acme" matched those ten: the answer counts the 90 it leaves out."""
    reply = slack.command("checkin acme green kickoff went well").json()["text"]
    assert "'acme' matches more than one customer: *Acme 003*, *Acme 007*" in reply
    assert "*Acme 039* and 90 more. Type more of the name." in reply
    assert "You typed: `/partner checkin acme green kickoff went well`" in reply


def test_an_owners_forty_health_drops_at_once_come_in_digests_slack_takes(
    store: Store,
    settings: Settings,
    fake_slack: FakeSlack,
    clock: FakeClock,
    busy_team: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bad week across Dana's long-named customers: 40 health-drop alerts due at once, each with what moved the
    score. 24 to a digest fit Slack's 50 blocks but not the text Slack takes in one message's blocks: Slack answered
    msg_blocks_too_long and all 24 alerts failed (and Dana was told they failed). Now each digest stays within it."""
    monkeypatch.setattr(schedules.cadence, "SENDER_OPTIONS", SenderOptions(interval=0.0))
    danas = busy_team[::8][:40]  # every eighth customer is Dana's: all of them 80-character names
    moved = [
        [
            "boundary “We answer within one business day & never on weekends, holi…” slipped 3 times this month",
            25,
        ],
        ["3 of the last 10 daily calls logged", 12],
        ["mood trending down: red, red, yellow in the last three check-ins", 8],
    ]
    for cid in danas:
        store.plan_nudge(
            team_id=TEAM_ID,
            kind=HEALTH_DROP,
            subject=f"customer:{cid}",
            due_key="from:2026-11-20",
            due_at=clock.now,
            now=clock.now,
            customer_id=cid,
            recipient_id="U0001",
            payload={"from": 92, "to": 41, "moved": moved},
        )
    assert send_nudges(store=store, client=make_client(settings), now=clock.now, settings=settings) == len(danas)
    posts = fake_slack.calls_to("chat.postMessage")
    assert all(p.response.get("ok") for p in posts), [p.response for p in posts if not p.response.get("ok")]
    assert all(blocks_text_length(p.params["blocks"]) <= MAX_MESSAGE_BLOCKS_TEXT for p in posts)
    told = "".join(json.dumps(p.params["blocks"], ensure_ascii=False) for p in posts)
    assert all(f"{name_of(i).replace('&', '&amp;')}*'s health fell from 92 to 41" in told for i in range(0, 320, 8))


def test_a_name_typed_whole_in_the_check_in_forms_picker_is_offered_first_however_many_share_its_start(
    slack: SlackRequests, store: Store, clock: FakeClock, busy_team: list[int]
) -> None:
    """Slack shows an external select's first 100 options. "Çafé Olé" sorts after the team's 100 "Café Olé 002"…:
    typed whole, accents or not, it came 101st and could never be picked in the form."""
    cafe = store.add_customer(team_id=TEAM_ID, name="Çafé Olé", created_by="U0001", now=clock.now, owner_id="U0001")
    for typed in ("Çafé Olé", "cafe ole", "CAFÉ OLÉ"):
        options = offered_options(slack.block_suggestion(CHECKIN_CUSTOMER, typed))
        assert len(options) == 100 and options[0] == {"text": plain("Çafé Olé", 75), "value": str(cafe.id)}, typed
        assert options[1]["text"]["text"] == "Café Olé 002"


def test_the_pickers_hundred_options_say_how_many_more_match_and_how_to_reach_them(
    slack: SlackRequests, busy_team: list[int]
) -> None:
    """Opened, the form's picker showed 100 of the 400 customers in a list that simply ended: a label above them
    now says there are more and to type (Slack's options answer takes option groups, each with a label)."""
    (group,) = slack.block_suggestion(CHECKIN_CUSTOMER, "").json()["option_groups"]
    assert group["label"]["text"] == "The first 100 of 400: type more of the name" and len(group["options"]) == 100
    (group,) = slack.block_suggestion(CHECKIN_CUSTOMER, "a").json()["option_groups"]  # Acme, Smith & Sons, Grand…
    assert group["label"]["text"].startswith("The first 100 of 3")
    assert len(slack.block_suggestion(CHECKIN_CUSTOMER, "smith").json()["options"]) == 100  # all of them: no label


def test_long_names_alike_to_their_last_words_are_told_apart_in_the_pickers_options(
    slack: SlackRequests, busy_team: list[int]
) -> None:
    """An option shows 75 characters. Cut at the end, Dana's hundred 80-character "🎉 Très Grand & Fils — …
    Zweigniederlassung 000", "… 004"… all read the same in the form's picker: each keeps its end now."""
    options = slack.block_suggestion(CHECKIN_CUSTOMER, "très grand").json()["options"]
    texts = [o["text"]["text"] for o in options]
    assert len(texts) == 100 and len(set(texts)) == 100 and all(len(t) <= 75 for t in texts)
    assert texts[0] == "🎉 Très Grand & Fils — Überseeische Handelsgesellsc…✨ Zweigniederlassung 000"


def test_the_digest_of_forty_customers_at_risk_named_with_slacks_formatting_characters_is_never_cut(
    slack: SlackRequests, store: Store, clock: FakeClock
) -> None:
    """Names such as "*NIX* _Labs_" are shown as typed: each `*` or `_` at a word's edge is written as a date's
    fallback (`<!date^0^{_}|*>`), a 70-character name becomes 400. Eight such names a part ran past a section's
    3,000 characters, cut with "…" and taking "…and 32 more" with it, and the parts together toward the text Slack
    posts in one message (msg_blocks_too_long would fail the team's weekly digest). Fewer are named then."""
    for i in range(40):
        customer = store.add_customer(
            team_id=TEAM_ID,
            name=f"*NIX* _Labs_ *R&D* _M&A_ *Tax* _Legal_ *Cloud* _Edge_ *Data* _Ops_ *AI* {i:03d}",
            created_by="U0001",
            now=clock.now - timedelta(days=30),  # no call since: overdue too
            owner_id="U0001",
            tz="America/New_York",
            cadence="weekly mon 09:00",
        )
        store.save_health(
            team_id=TEAM_ID,
            customer_id=customer.id,
            score=20,
            band="red",
            components={},
            day=clock.now.date(),
            now=clock.now,
        )
    reply = slack.command("digest team").json()
    sections = [b["text"]["text"] for b in reply["blocks"] if b["type"] == "section"]
    at_risk = next(s for s in sections if "At risk (40)" in s)
    overdue = next(s for s in sections if "Overdue (40)" in s)
    assert at_risk.endswith(" more") and overdue.endswith(" more") and not any(s.endswith("…") for s in sections)
    assert blocks_text_length(reply["blocks"]) <= MAX_MESSAGE_BLOCKS_TEXT


def test_an_owners_fifty_calls_come_in_digests_that_say_which_part_each_is_even_once_a_click_redraws_one(
    slack: SlackRequests,
    store: Store,
    settings: Settings,
    fake_slack: FakeSlack,
    clock: FakeClock,
    busy_team: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Dana's 50 daily calls at 09:00 fit in four DMs (Slack's 50 blocks): her phone showed "16 things need you now"
    three times and "2 things need you now", as if each were all. Each part says so now, in the text the
    notification shows and on the message, and the redraw after a Skip (rebuilt from that part's own nudges) too."""
    monkeypatch.setattr(schedules.cadence, "SENDER_OPTIONS", SenderOptions(interval=0.0))
    nine = datetime(2026, 11, 26, 14, 0, tzinfo=UTC)  # Thursday 09:00 in New York
    assert not run_tick(store=store, client=make_client(settings), now=nine, settings=settings).failed
    dm = fake_slack._dm_by_user["U0001"]
    parts = fake_slack.messages[dm]
    said = [f"50 things need you now (part {n} of 4)" for n in range(1, 5)]
    assert [p["text"].split(":")[0] for p in parts] == said
    assert [p["blocks"][0]["text"]["text"] for p in parts] == [f":bell: *{s}:*" for s in said]
    second = parts[1]
    actions = next(b for b in second["blocks"] if b["type"] == "actions")
    skip = next(e for e in actions["elements"] if e["action_id"] == NUDGE_SKIP)
    clock.set(nine + timedelta(minutes=5))
    slack.block_action(NUDGE_SKIP, value=skip["value"], channel_id=dm, message=button_message(second))
    (update,) = fake_slack.wait_for("chat.update")
    assert update.params["ts"] == second["ts"] and update.params["text"].startswith(f"{said[1]}: ")
    redrawn = next(m for m in fake_slack.messages[dm] if m["ts"] == second["ts"])
    assert redrawn["blocks"][0]["text"]["text"] == f":bell: *{said[1]}:*"
    assert "Skipped for today by <@U0001>" in json.dumps(redrawn["blocks"])
