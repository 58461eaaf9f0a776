"""manifest.yml is valid for Slack, and declares exactly what the code listens to."""

from __future__ import annotations

import ast
import dataclasses
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource

import handlers.ids as ids
from domain.boundaries import DEFAULT_POLICY
from domain.calendar import WorkCalendar
from handlers.blocks import boundaries as b
from handlers.blocks.checkin import checkin_modal
from handlers.blocks.customers import CustomerRow, customer_card, customer_modal, list_message
from handlers.blocks.help import help_blocks
from handlers.blocks.nudges import nudge_blocks, snooze_modal
from storage.boundaries import BoundaryRecord, to_rule
from storage.models import Boundary, CheckIn, Customer
from tests.e2e.test_home import sample_home_views

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT.parent / "shared" / "slack-specs"
MANIFEST = yaml.safe_load((ROOT / "manifest.yml").read_text())
SCHEMA_URL = "https://raw.githubusercontent.com/slackapi/manifest-schema/v0.5.0/schemas/manifest.schema.{}.json"


def test_manifest_validates_against_slacks_schema() -> None:
    if not SPECS.exists():
        pytest.skip(f"Slack's schema is not beside the project ({SPECS})")
    dispatcher = json.loads((SPECS / "manifest.schema.json").read_text())
    # The dispatcher $refs the versioned schemas by URL; serve them from the local copies instead.
    registry = Registry().with_resources(
        (
            SCHEMA_URL.format(version),
            Resource.from_contents(json.loads((SPECS / f"manifest.schema.{version}.json").read_text())),
        )
        for version in ("1.0.0", "2.0.0")
    )
    validator = jsonschema.Draft7Validator(dispatcher, registry=registry)
    errors = sorted(validator.iter_errors(MANIFEST), key=str)
    assert not errors, "\n".join(e.message for e in errors)
    versioned = json.loads((SPECS / f"manifest.schema.{MANIFEST['_metadata']['major_version']}.0.0.json").read_text())
    jsonschema.validate(MANIFEST, versioned)


def registrations() -> dict[str, set[str]]:
    """Every `app.<surface>(ID)` call in handlers/, with IDs resolved from handlers.ids."""
    found: dict[str, set[str]] = {}
    for path in (ROOT / "handlers").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "app"
                and node.args
            ):
                continue
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                value = arg.value
            elif isinstance(arg, ast.Name):
                value = getattr(ids, arg.id)
            else:
                raise AssertionError(
                    f"{path}:{node.lineno}: register listeners with a literal or a handlers.ids constant"
                )
            if isinstance(value, str):  # a pattern (handlers.ids.ANY_OTHER_EVENT) names nothing of the manifest
                found.setdefault(node.func.attr, set()).add(value)
    return found


def test_slash_commands_match_the_manifest() -> None:
    declared = {c["command"] for c in MANIFEST["features"]["slash_commands"]}
    assert declared == registrations()["command"]
    for command in MANIFEST["features"]["slash_commands"]:
        assert command["should_escape"] is True, "mentions must arrive escaped (<#C…|name>, <@U…|name>)"


def test_events_match_the_manifest() -> None:
    assert set(MANIFEST["settings"]["event_subscriptions"]["bot_events"]) == registrations().get("event", set())


def test_the_messages_tab_takes_no_typing_partner_would_not_read() -> None:
    home = MANIFEST["features"]["app_home"]
    listens_to_dms = "message.im" in MANIFEST["settings"]["event_subscriptions"]["bot_events"]
    if home.get("messages_tab_enabled", True) and not listens_to_dms:
        assert home.get("messages_tab_read_only_enabled") is True, "a DM typed to Partner would go unanswered"


def test_shortcuts_match_the_manifest() -> None:
    declared = {s["callback_id"] for s in MANIFEST["features"].get("shortcuts", [])}
    registered = registrations().get("shortcut", set()) | registrations().get("message_shortcut", set())
    assert declared == registered


def test_interactivity_and_options_urls_are_declared() -> None:
    found = registrations()
    interactivity = MANIFEST["settings"]["interactivity"]
    assert interactivity["is_enabled"] == bool(found.get("action") or found.get("view") or found.get("options"))
    if found.get("options"):
        assert interactivity["message_menu_options_url"].endswith("/slack/events")
    for url in (interactivity["request_url"], MANIFEST["settings"]["event_subscriptions"]["request_url"]):
        assert url.endswith("/slack/events")
    assert MANIFEST["features"]["app_home"]["home_tab_enabled"] is True


def interactive_ids(node: Any, *, in_input: bool = False) -> Iterator[tuple[str, str]]:
    """(element type, action_id) of each element that makes Slack call the app."""
    if isinstance(node, list):
        for item in node:
            yield from interactive_ids(item, in_input=in_input)
    elif isinstance(node, dict):
        inside_input = in_input or node.get("type") == "input"
        if "action_id" in node:
            kind = node.get("type", "")
            # External selects always load options; inputs only dispatch actions when asked to.
            if kind.startswith("external_select") or kind == "multi_external_select":
                yield "options", node["action_id"]
            elif not inside_input or node.get("dispatch_action"):
                yield "action", node["action_id"]
        for value in node.values():
            yield from interactive_ids(value, in_input=inside_input)


def every_view() -> list[dict[str, Any]]:
    now = datetime(2026, 11, 25, tzinfo=UTC)
    customer = Customer(id=1, team_id="T", name="Acme", name_key="acme", created_at=now, updated_at=now)
    checkin = CheckIn(id=1, team_id="T", customer_id=1, author_id="U", mood="green", note="n", created_at=now)
    return [
        {"blocks": help_blocks([("/partner help", "Help")])},
        checkin_modal(),
        checkin_modal(customer=customer, mood="red", is_call=True, note="x"),
        *sample_home_views(now),
        *customer_views(customer, checkin, now),
        {"blocks": nudge_blocks(nudge_id=1, text="Time for the call", outcome=None)},
        snooze_modal(customer=customer, nudge_id=1, tomorrow=now.date()),
        *boundary_views(customer, now),
        *survey_views(customer),
    ]


def survey_views(customer: Customer) -> list[dict[str, Any]]:
    """Every survey modal, the survey picker, the profile on the card, and the invitation in a shared channel."""
    from domain.surveys import SURVEYS
    from handlers.blocks.surveys import ask_message, profile_blocks, survey_modal, survey_picker

    return [
        *(survey_modal(key, customer=customer) for key in SURVEYS),
        survey_picker(customer),
        {"blocks": profile_blocks(None, customer_id=customer.id)},
        ask_message(customer, "U0001"),
    ]


def customer_views(customer: Customer, checkin: CheckIn, now: datetime) -> list[dict[str, Any]]:
    """The customer list (with paging), the card (live and archived) and the add/edit modals."""
    archived = customer.model_copy(update={"archived_at": now})
    shared = customer.model_copy(update={"channel_id": "C1", "channel_shared": True})
    row = CustomerRow(customer=customer, tz="UTC", last=checkin, moods=["green"], recent=[checkin])
    return [
        list_message(rows=[row], title="All customers", args="all", page=2, pages=3, total=60, now=now),
        customer_card(row, now=now),
        customer_card(dataclasses.replace(row, their_views=[], profile=None), now=now),  # as /partner show loads it
        customer_card(CustomerRow(customer=archived, tz="UTC"), now=now),
        # A customer whose channel is shared with its people: the card offers "Ask them".
        customer_card(CustomerRow(customer=shared, tz="UTC", their_views=[], profile=None), now=now),
        home_card_modal(shared, now),
        customer_modal(owner_id="U1", channel_id="C1"),
        customer_modal(customer=customer),
    ]


def home_card_modal(customer: Customer, now: datetime) -> dict[str, Any]:
    """The card opened from a Home row, with its survey buttons."""
    from handlers.blocks.home import card_modal, customer_facts

    facts = customer_facts(customer, None, now=now, default_tz="UTC")
    return card_modal(facts, trend=[], boundaries=[], now=now, their_views=[], profile=None, notice="Saved.")


def boundary_views(customer: Customer, now: datetime) -> list[dict[str, Any]]:
    """The boundary list (every status), the escalation, the suggestion, the call question, the renegotiation."""

    def record(n: int, status: str, **stamps: Any) -> BoundaryRecord:
        row = Boundary(id=n, team_id="T", customer_id=1, text=f"Need {n}", status=status, created_at=now, **stamps)
        return BoundaryRecord(row=row, slips=(), rule=to_rule(row), number=n)

    window = Boundary(
        id=5, team_id="T", customer_id=1, text="Calls 9-10am", kind="contact_window", value="09:00-10:00",
        status="active", created_at=now, activated_at=now,
    )  # fmt: skip
    records = [
        record(1, "proposed"),
        record(2, "active", activated_at=now),
        record(3, "held", activated_at=now, held_at=now),
        record(4, "retired", retired_at=now),
    ]
    cal = WorkCalendar()
    return [
        b.boundary_list(customer, records, now, DEFAULT_POLICY, cal),
        {"blocks": b.boundary_section_blocks(customer, records, now, DEFAULT_POLICY, cal)},
        customer_card(CustomerRow(customer=customer, tz="UTC", boundaries=records), now=now),
        b.escalation_blocks(customer, records[1], now, DEFAULT_POLICY, cal),
        b.suggestion_blocks(customer, records[2], records[0], DEFAULT_POLICY),
        b.call_window_question(
            customer, BoundaryRecord(window, (), to_rule(window), 5), checkin_id=1, call_at=now, cal=cal
        ),
        b.renegotiate_modal(customer, records[1], metadata={}),
    ]


def test_every_interactive_element_has_a_listener_and_every_listener_an_element() -> None:
    used: dict[str, set[str]] = {}
    for view in every_view():
        for kind, action_id in interactive_ids(view):
            used.setdefault(kind, set()).add(action_id)
        if view.get("callback_id"):
            used.setdefault("view", set()).add(view["callback_id"])
    found = registrations()
    for kind in ("action", "options", "view"):
        assert used.get(kind, set()) == found.get(kind, set()), kind


def test_action_ids_differ_within_each_block() -> None:
    """Slack asks for the action_ids inside one block to differ (e.g. a list's Previous and Next buttons)."""
    now = datetime(2026, 11, 25, tzinfo=UTC)
    customer = Customer(id=1, team_id="T", name="Acme", name_key="acme", created_at=now, updated_at=now)
    for view in [*every_view(), *survey_views(customer)]:
        for block in view.get("blocks", []):
            ids = [e["action_id"] for e in block.get("elements", []) if isinstance(e, dict) and "action_id" in e]
            assert len(ids) == len(set(ids)), block


def test_scopes_cover_the_web_api_methods_the_code_calls() -> None:
    needs = {
        "chat_postMessage": "chat:write",
        "chat_postEphemeral": "chat:write",
        "chat_update": "chat:write",
        "users_info": "users:read",
        "conversations_join": "channels:join",
        # a customer's channel may be public or private: each type needs its own read scope
        "conversations_info": "channels:read groups:read",
        "conversations_members": "channels:read groups:read",
        "conversations_open": "im:write",
        "files_upload_v2": "files:write",
        # public channels, private channels and DMs each need their own history scope
        "conversations_history": "channels:history groups:history im:history",
        "conversations_replies": "channels:history groups:history im:history",
        # a member made a guest: the customers' channels they are in (public and private)
        "users_conversations": "channels:read groups:read",
        # a plain #channel or @owner Slack did not escape, looked up by its name (handlers/slack_names.py)
        "conversations_list": "channels:read groups:read",
        "users_list": "users:read",
        # no bot scope: Slack answers these for any token (views need the trigger or the user's Home)
        "auth_test": "",
        "chat_getPermalink": "",
        "views_open": "",
        "views_push": "",
        "views_update": "",
        "views_publish": "",
        "apps_connections_open": "",  # the app-level token's connections:write, not a bot scope
    }
    check_against_slacks_spec(needs)
    scopes = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    source = "\n".join(
        p.read_text() for d in ("handlers", "bot", "schedules", "storage") for p in (ROOT / d).rglob("*.py")
    )
    # Every Web API method the code calls is in the table above, so a new one cannot come without its scope.
    families = "chat|users|conversations|files|views|team|reactions|apps|auth|usergroups|bots|pins|bookmarks|dnd"
    calls = set(re.findall(rf"\.((?:{families})_[a-zA-Z0-9_]+)\(", source))
    # and those named as strings (`api_call("users.list")`; files_upload_v2's own steps, files:write, left out)
    named = set(re.findall(r'"((?:' + families + r')\.[a-zA-Z]+)"', source)) - {"files.getUploadURLExternal"}
    calls |= {method.replace(".", "_") for method in named}
    calls -= {"team_viewers"}  # Partner's own (handlers/home_publisher.py), not Slack's
    assert calls - set(needs) == set(), "map these Web API methods to the bot scopes they need"
    called = {m for m in needs if f".{m}(" in source or f'"{m.replace("_", ".", 1)}"' in source}
    needed = {scope for m in called for scope in needs[m].split()}
    assert needed <= scopes
    assert "commands" in scopes
    unused = scopes - needed - {"commands"}
    assert not unused, f"scopes asked for but not used: {unused}"


# The Web API spec (2020) names some scopes as user tokens had them before granular bot permissions: a bot token's
# own name for each. conversations.join's channels:write became channels:join for bots.
BOT_NAME_OF = {"chat:write:bot": "chat:write", "chat:write:user": "chat:write", "files:write:user": "files:write"}
BOT_NAME_OF["channels:write"] = "channels:join"
# Methods the spec predates: the one it has that needs the same scope, or None (no bot scope: the app-level token's)
SPEC_STAND_IN = {"files_upload_v2": "files.upload", "apps_connections_open": None}


def check_against_slacks_spec(needs: dict[str, str]) -> None:
    """Each scope the table gives a method is one Slack's Web API spec accepts for it (a scope for the wrong
    method would pass the fake and fail with `missing_scope` in a real workspace), and a method the spec says needs
    no scope is given none."""
    if not SPECS.exists():
        return
    paths = json.loads((SPECS / "slack_web_openapi_v2.json").read_text())["paths"]
    for method, scopes in needs.items():
        name = SPEC_STAND_IN.get(method, method.replace("_", ".", 1))
        if name is None:
            continue
        (operation,) = paths[f"/{name}"].values()
        accepted = {BOT_NAME_OF.get(s, s) for s in operation["security"][0]["slackAuth"]} - {"none"}
        assert set(scopes.split()) <= accepted, f"{method}: Slack's spec accepts {sorted(accepted)}, not {scopes}"
        assert bool(accepted) == bool(scopes), f"{method}: Slack's spec asks for {sorted(accepted) or 'no scope'}"


# The bot scope Slack requires before an app may subscribe to each event (api.slack.com/events/<name>, "Required
# scopes"); Slack refuses to save a manifest subscribing to one without it. A private channel's events need groups:read.
EVENT_SCOPES = {
    "app_home_opened": "",
    "app_uninstalled": "",
    "tokens_revoked": "",
    "team_access_revoked": "",
    "team_access_granted": "",
    "channel_shared": "channels:read groups:read",
    "channel_unshared": "channels:read groups:read",
    "member_joined_channel": "channels:read groups:read",
    "member_left_channel": "channels:read groups:read",
    "channel_archive": "channels:read",
    "channel_unarchive": "channels:read",
    "channel_deleted": "channels:read",
    "channel_left": "channels:read",
    "channel_id_changed": "channels:read",
    "group_archive": "groups:read",
    "group_unarchive": "groups:read",
    "group_deleted": "groups:read",
    "group_left": "groups:read",
    "user_change": "users:read",
    "app_mention": "app_mentions:read",
    "message.im": "im:history",
}


def test_every_subscribed_event_has_the_scope_slack_requires_for_it() -> None:
    events = MANIFEST["settings"]["event_subscriptions"]["bot_events"]
    scopes = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    assert set(events) <= set(EVENT_SCOPES), "name the scope Slack requires for these events"
    missing = {e: EVENT_SCOPES[e] for e in events if not set(EVENT_SCOPES[e].split()) <= scopes}
    assert not missing, f"subscribed without the scope Slack requires: {missing}"
