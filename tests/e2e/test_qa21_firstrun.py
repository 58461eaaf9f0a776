"""QA round 21, a new workspace's first day: what an account team types at Partner in its first minutes."""

from __future__ import annotations

import pytest

from storage.store import Store
from tests.slack_requests import SlackRequests
from tests.utils import TEAM_ID


def said(slack: SlackRequests, text: str) -> str:
    reply = slack.command(text)
    assert reply.status == 200, reply.text
    return str(reply.json()["text"])


def test_create_adds_a_customer_rather_than_suggesting_restore(slack: SlackRequests, store: Store) -> None:
    """`/partner create Acme`, the word most tools use, answered "I don't know `create`. Did you mean `/partner
    restore`?" — restoring an archived customer, on a workspace with none. It is `add`, as `new` already was."""
    answer = said(slack, "create Acme #acme")
    assert "Added *Acme*" in answer and "restore" not in answer
    assert [c.name for c in store.customers(team_id=TEAM_ID)] == ["Acme"]
    assert "also `new`, `create`" in said(slack, "help add")


@pytest.mark.parametrize(
    ("typed", "title"),
    [
        ("list customers", "All customers"),
        ("list my customers", "Your customers"),
        ("list all customers at risk", "All customers at risk"),
        ("list customers mine", "Your customers"),
    ],
)
def test_list_reads_customers_said_as_a_sentence(slack: SlackRequests, typed: str, title: str) -> None:
    """`/partner list my customers` was refused: "I didn't understand 'customers'". The word names what is listed."""
    said(slack, "add Acme")
    answer = said(slack, typed)
    assert answer.startswith(title + " —"), answer
    assert "didn't understand" not in answer
