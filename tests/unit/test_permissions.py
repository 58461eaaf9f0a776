"""Who may change a customer: owner, Partner admins, workspace admins; nobody else."""

from __future__ import annotations

import pytest

from domain.permissions import may_change, may_change_workspace, needs_workspace_role, refusal, workspace_refusal


@pytest.mark.parametrize(
    ("user", "admins", "workspace_admin", "allowed", "reason"),
    [
        ("U_OWNER", set(), False, True, "owner"),
        ("U_BOSS", {"U_BOSS"}, False, True, "partner admin"),
        ("U_ADMIN", set(), True, True, "workspace admin"),
        ("U_OTHER", {"U_BOSS"}, False, False, "not owner or admin"),
    ],
)
def test_may_change(user: str, admins: set[str], workspace_admin: bool, allowed: bool, reason: str) -> None:
    decision = may_change(user, owner_id="U_OWNER", partner_admins=admins, workspace_admin=workspace_admin)
    assert (decision.allowed, decision.reason) == (allowed, reason)


def test_an_unowned_customer_can_be_fixed_by_anyone() -> None:
    assert may_change("U_ANY", owner_id=None, partner_admins=set()).allowed


def test_slack_is_asked_only_when_the_role_decides() -> None:
    assert not needs_workspace_role("U_OWNER", owner_id="U_OWNER", partner_admins=set())
    assert not needs_workspace_role("U_BOSS", owner_id="U_OWNER", partner_admins={"U_BOSS"})
    assert not needs_workspace_role("U_ANY", owner_id=None, partner_admins=set())
    assert needs_workspace_role("U_OTHER", owner_id="U_OWNER", partner_admins={"U_BOSS"})


def test_refusal_says_why_and_who_can() -> None:
    text = refusal("archive", customer_name="Acme Corp", owner_id="U1", partner_admins={"U9", "U8"})
    assert text.startswith("You can't archive *Acme Corp*: only its owner <@U1>, workspace admins or")
    assert "Partner admins (<@U8>, <@U9>)" in text
    assert "workspace admins" in refusal("edit", customer_name="A", owner_id="U1", partner_admins=set())


@pytest.mark.parametrize(
    ("user", "admins", "workspace_admin", "allowed"),
    [
        ("U_BOSS", {"U_BOSS"}, False, True),
        ("U_ADMIN", set(), True, True),
        ("U_OWNER", set(), False, False),  # owning customers does not make a workspace admin
    ],
)
def test_only_admins_change_workspace_settings(
    user: str, admins: set[str], workspace_admin: bool, allowed: bool
) -> None:
    assert may_change_workspace(user, partner_admins=admins, workspace_admin=workspace_admin).allowed is allowed
    text = workspace_refusal("change the digest", partner_admins={"U_BOSS"})
    assert "workspace admins and owners or Partner admins (<@U_BOSS>)" in text
