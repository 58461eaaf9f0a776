"""A customer's name is shown as typed wherever Partner writes mrkdwn: `*NIX Labs` or `_Acme_ Beta ~Co~` turn no part
of a reply, the card, the list, Home, the digest or a DM bold, italic or struck through. A check-in's note is the
user's own mrkdwn and keeps its formatting."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.app import make_client
from bot.settings import Settings
from handlers.blocks import mrkdwn_name
from handlers.parsing import escape
from schedules.digest import send_digest
from storage.store import Store
from tests.e2e.test_foundation import ephemeral
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import TEAM_ID, BotServer

# What a Slack client shows in place of a date it cannot format: its fallback text, never formatted.
_DATE_FALLBACK = re.compile(r"<!date\^[^|>]*\|([^>]*)>")
_CODE = re.compile(r"`[^`\n]*`")  # command hints: inside code, `*` and `_` are shown as typed already

NAMES = ["*NIX Labs", "_Acme_ Beta ~Co~"]


def mrkdwn_texts(payload: Any) -> list[str]:
    """Every text of a message or view that Slack reads as mrkdwn (plain_text objects show every character as is)."""
    if isinstance(payload, list):
        return [text for item in payload for text in mrkdwn_texts(item)]
    if not isinstance(payload, dict) or payload.get("type") == "plain_text":
        return []
    own = [payload["text"]] if isinstance(payload.get("text"), str) else []
    return own + [text for value in payload.values() for text in mrkdwn_texts(value)]


def shown_as_typed(payload: Any, name: str) -> bool:
    """The name is in the payload's mrkdwn only through `mrkdwn_name`: nowhere outside code spans are its own
    characters raw, so none of them can pair with another `*` `_` `~` of the message."""
    text = "\n".join(mrkdwn_texts(payload))
    readable = _DATE_FALLBACK.sub(lambda m: m.group(1), text)
    assert name in readable, f"{name!r} is not in {text}"
    return mrkdwn_name(name) in text and name not in _CODE.sub("", text)


def test_the_escape_shows_formatting_characters_as_typed_and_leaves_the_rest() -> None:
    assert escape("*NIX_ ~`x`", literal=True) == (
        "<!date^0^{_}|*>NIX<!date^0^{_}|_> <!date^0^{_}|~><!date^0^{_}|`>x<!date^0^{_}|`>"
    )
    assert escape("Smith & Co", literal=True) == "Smith &amp; Co"
    # Inside a word Slack formats nothing: the name stays exactly as typed.
    assert escape("acme_corp AT*T x~y", literal=True) == "acme_corp AT*T x~y"
    assert escape("a`b", literal=True) == "a<!date^0^{_}|`>b"  # a backtick opens code even inside a word
    assert escape("acme_", literal=True) == "acme<!date^0^{_}|_>"
    assert escape("*bold* note") == "*bold* note"  # a note is the user's own mrkdwn


@pytest.mark.parametrize("name", NAMES)
def test_a_name_with_formatting_characters_is_shown_as_typed_everywhere(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, settings: Settings, bot: BotServer, name: str
) -> None:
    added = slack.command(f"add {name} <#C0ACME|acme> <@U0001|dana>")
    assert shown_as_typed(added.json(), name)
    fake_slack.wait_for("conversations.join", 1)
    assert [c.name for c in store.customers(team_id=TEAM_ID)] == [name]

    # A check-in by someone else: the reply, the channel's summary and the owner's DM. The note keeps its bold.
    reply = slack.command(f"checkin {name} red *really* unhappy", user_id="U0002")
    assert shown_as_typed(reply.json(), name) and "*really* unhappy" in ephemeral(reply)
    fake_slack.wait_for("chat.postMessage", 2)
    bot.settle()
    posted = {c.params["channel"]: c.params for c in fake_slack.calls_to("chat.postMessage")}
    assert set(posted) == {"C0ACME", "U0001"}
    for message in posted.values():
        assert shown_as_typed(message, name) and "*really* unhappy" in json.dumps(message)

    assert shown_as_typed(slack.command("list").json(), name)
    assert shown_as_typed(slack.command(f"show {name}").json(), name)
    slack.command(f"pause {name}")
    assert shown_as_typed(slack.command(f"snooze {name} 1d").json(), name)  # refused while paused, the name as typed
    slack.command(f"resume {name}")

    slack.event({"type": "app_home_opened", "user": "U0001", "channel": "D0001", "tab": "home"})
    assert shown_as_typed(fake_slack.published_home["U0001"], name)

    now = datetime.now(UTC)
    send_digest(store=store, client=make_client(settings), team_id=TEAM_ID, now=now, channel="C0001")
    (digest,) = [c.params for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "C0001"]
    assert shown_as_typed(digest, name)


def test_a_name_with_a_backtick_leaves_the_commands_to_copy_whole(slack: SlackRequests, store: Store) -> None:
    """A command hint is a code span (`/partner checkin …`), which a backtick in the name would end: the hint gives it
    as ’, the same name to every command, and the rest of the message stays as written."""
    added = slack.command("add Macy`s Home <@U0001|dana>").json()["text"]
    assert added.startswith(f":handshake: Added *{mrkdwn_name('Macy`s Home')}*")
    assert "`/partner checkin Macy’s Home green &lt;note&gt;`" in added
    assert _DATE_FALLBACK.sub("", added).count("`") % 2 == 0  # every code span closed where it was meant to
    assert mrkdwn_name("Macy`s Home") in ephemeral(slack.command("checkin Macy’s Home green copied from the hint"))
    assert [c.note for c in store.checkins(team_id=TEAM_ID)] == ["copied from the hint"]
