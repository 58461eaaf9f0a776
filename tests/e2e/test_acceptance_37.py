"""Acceptance audit of issues #3 and #7: what a real Slack user hits, driven through signed requests."""

from __future__ import annotations

import pytest

from storage.store import Store
from tests.e2e.test_foundation import add_acme, ephemeral
from tests.slack_requests import SlackRequests
from tests.utils import TEAM_ID

ADD_USAGE = "Usage: `/partner add <name>"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("add Delta <!subteam^S123|@cs-team>", "'@cs-team' is a user group: a customer's owner is one person."),
        ("add Delta owner=<!subteam^S123|@cs-team>", "'@cs-team' is a user group"),
        ("add Delta <!here>", "'@here' can't be part of a customer's name"),
        ("add Delta <https://delta.example.com|Delta site>", "'Delta site' can't be part of a customer's name"),
        ("add <!subteam^S123> Delta", "'<!subteam^S123>' is a user group"),
    ],
)
def test_add_refuses_user_groups_here_and_links_instead_of_naming_the_customer_after_them(
    slack: SlackRequests, store: Store, text: str, message: str
) -> None:
    reply = ephemeral(slack.command(text))
    assert message in reply and ADD_USAGE in reply
    assert store.customers(team_id=TEAM_ID) == []


def test_edit_refuses_a_user_group_as_owner(slack: SlackRequests, store: Store) -> None:
    add_acme(slack)
    reply = ephemeral(slack.command("edit acme corp <!subteam^S123|@cs-team>"))
    assert "'@cs-team' is a user group" in reply and "Usage: `/partner edit" in reply
    assert [c.owner_id for c in store.customers(team_id=TEAM_ID)] == ["U0001"]


@pytest.mark.parametrize(("text", "shown"), [("add Gamma @nobody", "'@nobody'"), ("add Gamma #nowhere", "'#nowhere'")])
def test_plain_mentions_slack_did_not_recognise_name_the_value_and_the_usage(
    slack: SlackRequests, store: Store, text: str, shown: str
) -> None:
    reply = ephemeral(slack.command(text))
    assert shown in reply and ADD_USAGE in reply
    assert store.customers(team_id=TEAM_ID) == []


def test_export_all_with_a_stray_word_names_the_word(slack: SlackRequests) -> None:
    add_acme(slack)
    reply = ephemeral(slack.command("export all since=2026-01-01 junk"))
    assert "I didn't understand 'junk' after all" in reply and "Usage: `/partner export" in reply


def test_export_of_a_customer_called_all_something_still_works(slack: SlackRequests) -> None:
    add_acme(slack, name="All Stars")
    assert "of All Stars" in ephemeral(slack.command("export all stars"))


def test_export_by_an_old_name_says_the_new_one(slack: SlackRequests) -> None:
    add_acme(slack)
    ephemeral(slack.command("edit acme corp name=Acme Group"))
    assert "was renamed to *Acme Group*" in ephemeral(slack.command("export acme corp"))


def test_a_checkin_by_the_old_name_of_a_renamed_customer_is_not_misread(slack: SlackRequests, store: Store) -> None:
    add_acme(slack)
    ephemeral(slack.command("edit acme corp name=Acme Group"))
    reply = ephemeral(slack.command("checkin acme corp green kickoff went well"))
    assert reply == "'acme corp' was renamed to *Acme Group*; use the new name."
    assert "Logged" in ephemeral(slack.command("checkin acme green kickoff went well"))
