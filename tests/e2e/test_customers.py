"""End to end: the customer record — add, list, show, edit, rename, archive, restore, and who may do it."""

from __future__ import annotations

import json
import re
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import update

from bot.app import create_app
from bot.settings import Settings
from handlers.ids import (
    ADD_CUSTOMER_MODAL,
    CARD_ARCHIVE,
    CARD_EDIT,
    CARD_RESTORE,
    CARD_SNOOZE,
    CHECKIN_CUSTOMER,
    CUSTOMER_FIELD,
    EDIT_CUSTOMER_MODAL,
    LIST_OPEN_CARD,
    LIST_PAGE,
    LIST_PREV_PAGE,
    NUDGE_SNOOZE_FOR,
    NUDGE_SNOOZE_MODAL,
    NUDGE_SNOOZE_REASON,
    NUDGE_SNOOZE_UNTIL,
)
from handlers.permissions import GUEST_CHECKS
from storage.models import Customer, CustomerEvent
from storage.store import Store
from tests.e2e.test_foundation import add_acme, ephemeral
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests, stray_angle
from tests.utils import SIGNING_SECRET, TEAM_ID, BotServer, FakeClock


def acme(store: Store) -> Customer:
    customer = store.customer_by_name(team_id=TEAM_ID, name="acme corp", include_archived=True)
    assert customer is not None
    return customer


def events(store: Store, customer: Customer) -> list[tuple[str, dict[str, Any]]]:
    assert customer.id is not None
    return [(e.kind, e.detail) for e in store.customer_events(team_id=TEAM_ID, customer_id=customer.id)]


def field_values(**fields: Any) -> dict[str, Any]:
    """Modal state for the add/edit modals: every input uses CUSTOMER_FIELD, the block_id names the setting."""
    values: dict[str, Any] = {}
    for block_id, value in fields.items():
        if block_id == "owner":
            state = {"type": "users_select", "selected_user": value}
        elif block_id == "channel":
            state = {"type": "conversations_select", "selected_conversation": value}
        elif block_id == "summary":
            state = {"type": "checkboxes", "selected_options": [{"value": "on"}] if value else []}
        else:
            state = {"type": "plain_text_input", "value": value}
        values[block_id] = {CUSTOMER_FIELD: state}
    return values


@pytest.fixture
def lee(fake_slack: FakeSlack) -> str:
    """A teammate who neither owns Acme nor administers anything."""
    fake_slack.add_user("U0003", name="lee", tz="Asia/Tokyo")
    return "U0003"


# Add


def test_add_with_every_setting(slack: SlackRequests, store: Store) -> None:
    text = ephemeral(
        slack.command(
            "add Acme Corp <#C0ACME|acme> <@U0002|sam> tz=asia/jerusalem country=il week=sun-thu "
            "cadence=weekly tue 10:00 summary=off ideal=5 max=8"
        )
    )
    assert "Added *Acme Corp*" in text and "cadence weekly on Tue at 10:00" in text and "working week sun-thu" in text
    customer = acme(store)
    assert (customer.owner_id, customer.tz, customer.country, customer.working_week) == (
        "U0002",
        "Asia/Jerusalem",
        "IL",
        "sun-thu",
    )
    assert (customer.cadence, customer.post_checkins, customer.ideal_days, customer.max_days) == (
        "weekly tue 10:00",
        False,
        5,
        8,
    )
    ((kind, detail),) = events(store, customer)
    assert kind == "created" and detail["tz"] == "Asia/Jerusalem" and detail["request"].startswith("command:")


def test_add_with_a_region_and_its_errors(slack: SlackRequests, store: Store) -> None:
    ephemeral(slack.command("add Globex country=us-ca"))
    globex = store.customer_by_name(team_id=TEAM_ID, name="globex")
    assert globex is not None and (globex.country, globex.subdiv) == ("US", "CA")
    text = ephemeral(slack.command("add Initech country=US-ZZ"))
    assert "Unknown region 'ZZ' for US — valid codes:" in text and "CA" in text
    text = ephemeral(slack.command("add Initech country=XX"))
    assert "Unknown country code 'XX'" in text and "https://holidays.readthedocs.io" in text
    text = ephemeral(slack.command("add Initech tz=Mars/Base"))
    assert "Unknown time zone 'Mars/Base'" in text and "List_of_tz_database_time_zones" in text
    text = ephemeral(slack.command("add Initech cadence=sometimes"))
    assert "couldn't read the cadence 'sometimes'" in text and "Valid forms" in text
    text = ephemeral(slack.command("add Initech tz=EST"))  # New York in winter, an hour off all summer
    assert "EST is a fixed UTC−05:00 all year" in text and "tz=America/New_York" in text
    assert store.customer_by_name(team_id=TEAM_ID, name="initech") is None


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("+09:00", "tz=Asia/Tokyo"),
        ("UTC+9", "tz=Asia/Tokyo"),
        ("GMT-5", "tz=America/New_York"),
        ("+0530", "tz=Asia/Kolkata"),
    ],
)
def test_a_utc_offset_for_a_time_zone_names_the_zones_meant(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, typed: str, meant: str
) -> None:
    """A new team types the offset it knows: Partner names the zones people mean by it (a fixed offset would put
    every call an hour off for half the year), keeps nothing half-added, and the zone it named is taken."""
    fake_slack.add_user("U0003", name="lee", tz="Asia/Tokyo")
    text = ephemeral(slack.command(f"add Globex <#C0ACME> <@U0003> tz={typed}"))
    assert f"'{typed}' is an offset" in text and meant in text and "not a time zone" in text, text
    assert store.customer_by_name(team_id=TEAM_ID, name="globex") is None
    assert "Added *Globex*" in ephemeral(slack.command(f"add Globex <#C0ACME> <@U0003> {meant}"))
    text = ephemeral(slack.command(f"edit globex tz={typed}", user_id="U0003", user_name="lee"))
    assert meant in text and store.customer_by_name(team_id=TEAM_ID, name="globex").tz == meant.removeprefix("tz=")


def test_add_without_a_country_says_how_to_skip_the_public_holidays_of_its_time_zones_country(
    slack: SlackRequests, store: Store
) -> None:
    """Without country= no holiday is skipped (Thanksgiving gets its nudge): the answer says so, with the country of
    the customer's time zone; none is said for a country given, or a zone of no one country."""
    text = ephemeral(slack.command("add Globex tz=America/New_York"))
    assert "No public holidays are skipped yet: `/partner edit Globex country=US` skips those of US." in text
    text = ephemeral(slack.command("add Thames tz=Europe/London cadence=weekly mon"))
    assert "`/partner edit Thames country=GB-ENG` skips those of GB-ENG." in text  # Easter Monday: England's, not GB's
    assert "public holidays" not in ephemeral(slack.command("add Initech tz=America/New_York country=US-CA"))
    assert "public holidays" not in ephemeral(slack.command("add Umbrella tz=UTC"))
    assert [c.country for c in store.customers(team_id=TEAM_ID)].count(None) == 3


def test_add_without_a_cadence_says_nobody_will_be_nudged_and_how_to_set_one(
    slack: SlackRequests, store: Store, clock: FakeClock
) -> None:
    """A new team's first customer, added as README's first example (name, channel, owner): no cadence, so no nudge
    would ever come. The answer says so and gives the command, which then plans the first nudge."""
    clock.set(datetime(2026, 11, 30, 14, 0, tzinfo=UTC))  # Monday 09:00 in New York
    text = ephemeral(slack.command("add Acme Corp <#C0ACME|acme> <@U0001|dana>"))
    assert "No call cadence yet, so nobody is nudged about it: `/partner cadence Acme Corp weekly tue 10:00`" in text
    set_it = ephemeral(slack.command("cadence Acme Corp weekly tue 10:00"))
    assert "Tue 1 Dec 10:00" in set_it, set_it
    assert "No call cadence yet" not in ephemeral(slack.command("add Initech cadence=weekly wed"))


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("add Acme Corp tz=Europe/Berlin tz=Asia/Tokyo", "tz= is given twice ('Europe/Berlin' and 'Asia/Tokyo')"),
        ("add Acme Corp cadence=daily 09:00 country=DE cadence=weekly tue", "cadence= is given twice"),
        ("add Acme Corp country=de COUNTRY=fr", "country= is given twice ('de' and 'fr')"),
    ],
)
def test_a_setting_given_twice_is_named_back_not_half_dropped(
    slack: SlackRequests, store: Store, typed: str, says: str
) -> None:
    text = ephemeral(slack.command(typed))
    assert says in text and "Usage: `/partner add" in text, text
    assert store.customers(team_id=TEAM_ID) == []
    # The same value twice is no contradiction.
    assert "Added *Acme Corp*" in ephemeral(slack.command("add Acme Corp tz=Asia/Tokyo tz=asia/tokyo"))
    ephemeral(slack.command("edit acme corp tz=Europe/Berlin tz=Europe/Paris"))
    assert acme(store).tz == "Asia/Tokyo"


def test_a_retried_add_answers_the_same_and_stores_one(slack: SlackRequests, store: Store) -> None:
    first = ephemeral(slack.command("add Acme Corp", trigger_id="5.5.add"))
    again = ephemeral(slack.command("add Acme Corp", trigger_id="5.5.add", retry_num=1))
    assert "Added *Acme Corp*" in first and "Added *Acme Corp*" in again
    assert len(store.customers(team_id=TEAM_ID)) == 1
    assert [kind for kind, _ in events(store, acme(store))] == ["created"]


def test_add_without_arguments_opens_the_modal_and_it_adds(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    slack.command("add", trigger_id="7.7.add")
    (opened,) = fake_slack.calls_to("views.open")
    view = opened.params["view"]
    assert view["callback_id"] == ADD_CUSTOMER_MODAL
    owner_block = next(b for b in view["blocks"] if b["block_id"] == "owner")
    assert owner_block["element"]["initial_user"] == "U0001"
    assert {b["block_id"] for b in view["blocks"]} >= {"name", "owner", "channel", "tz", "country", "cadence"}

    values = field_values(name="Acme Corp", owner="U0002", channel="C0ACME", tz="", country="de", cadence="")
    reply = slack.view_submission(
        ADD_CUSTOMER_MODAL, values, private_metadata=view["private_metadata"], view_id="VADD1"
    )
    assert reply.status == 200 and reply.body in (b"", b"{}")
    customer = acme(store)
    assert (customer.owner_id, customer.channel_id, customer.country) == ("U0002", "C0ACME", "DE")
    assert customer.tz == "Europe/Berlin"  # Sam's Slack time zone
    (confirmation,) = fake_slack.wait_for("chat.postEphemeral")
    assert "Added *Acme Corp*" in confirmation.params["text"]
    # Sent after the form closed, as a message of its own: Slack would read `<note>` as a link and show nothing.
    assert "`/partner checkin Acme Corp green &lt;note&gt;`" in confirmation.params["text"]
    assert stray_angle(confirmation.params["text"]) is None
    fake_slack.wait_for("conversations.join")
    again = slack.view_submission(ADD_CUSTOMER_MODAL, values, view_id="VADD1", retry_num=1)
    assert again.status == 200 and again.body in (b"", b"{}")
    assert len(store.customers(team_id=TEAM_ID)) == 1


def test_add_modal_errors_land_on_their_fields(slack: SlackRequests, store: Store) -> None:
    add_acme(slack)
    bad_tz = slack.view_submission(ADD_CUSTOMER_MODAL, field_values(name="Globex", owner="U0001", tz="Mars/Base"))
    assert "Unknown time zone 'Mars/Base'" in bad_tz.json()["errors"]["tz"]
    taken = slack.view_submission(ADD_CUSTOMER_MODAL, field_values(name="ACME corp", owner="U0001"))
    # Slack shows a field's error as plain text: no *stars* or `backticks`, people by name, not <@U…> markup.
    assert taken.json()["errors"]["name"] == "There is already a customer called Acme Corp."
    assert len(store.customers(team_id=TEAM_ID)) == 1


def test_a_form_with_several_wrong_inputs_shows_every_error_at_once(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    # Slack's `response_action: errors` takes every field at once: one submit tells all, not one per try.
    add_acme(slack)
    values = field_values(name="Globex <x>", owner="UBOT", tz="Mars/Base", country="ZZ", cadence="sometimes")
    errors = slack.view_submission(ADD_CUSTOMER_MODAL, values).json()["errors"]
    assert set(errors) == {"name", "owner", "tz", "country", "cadence"}
    assert "'Mars/Base'" in errors["tz"] and "'ZZ'" in errors["country"] and "'sometimes'" in errors["cadence"]
    assert errors["owner"].startswith("@partner is a bot") and "Leave out < and >" in errors["name"]
    assert not any(mark in error for error in errors.values() for mark in ("<@", "*", "`")), errors
    slack.command("edit acme")
    view = fake_slack.calls_to("views.open")[-1].params["view"]
    edited = untouched_state(view, tz="Mars/Base", week="funday", ideal="400")
    errors = slack.view_submission(EDIT_CUSTOMER_MODAL, edited, private_metadata=view["private_metadata"]).json()[
        "errors"
    ]
    assert set(errors) == {"tz", "week", "ideal"} and "funday" in errors["week"] and "'400'" in errors["ideal"]
    assert [c.name for c in store.customers(team_id=TEAM_ID)] == ["Acme Corp"] and acme(store).tz != "Mars/Base"


def test_a_name_typed_without_its_accents_finds_the_customer(slack: SlackRequests, store: Store) -> None:
    ephemeral(slack.command("add Café Olé"))
    ephemeral(slack.command("add Zürich Versicherung"))
    assert ephemeral(slack.command("show cafe")).startswith("Café Olé:")
    text = ephemeral(slack.command("checkin cafe ole green kickoff went well"))
    assert "for *Café Olé*: kickoff went well" in text
    assert "for *Zürich Versicherung*: waiting on legal" in ephemeral(
        slack.command("checkin zurich yellow waiting on legal")
    )
    assert sorted(c.note for c in store.checkins(team_id=TEAM_ID)) == ["kickoff went well", "waiting on legal"]
    options = slack.block_suggestion(CHECKIN_CUSTOMER, "cafe").json()["options"]
    assert [o["text"]["text"] for o in options] == ["Café Olé"]
    # A name spelled without the accent is its own customer (names are unique as typed) and is found first.
    ephemeral(slack.command("add Cafe"))
    assert ephemeral(slack.command("show cafe")).startswith("Cafe:")
    assert ephemeral(slack.command("show café")).startswith("Café Olé:")


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("Globex tz Europe/Berlin", "tz=Europe/Berlin"),
        ("Globex tz: Europe/Berlin", "tz=Europe/Berlin"),
        ("Globex Country: de", "country=de"),
        ("Globex cadence weekly tue 10:00", "cadence=weekly tue 10:00"),
        ("Globex max 10", "max=10"),
    ],
)
def test_a_setting_typed_without_its_equals_sign_is_not_made_part_of_the_name(
    slack: SlackRequests, store: Store, typed: str, meant: str
) -> None:
    text = ephemeral(slack.command(f"add {typed}"))
    assert f"did you mean `{meant}`?" in text and "Usage: `/partner add" in text
    assert store.customers(team_id=TEAM_ID) == []


def keys_of_usage(usage: str) -> set[str]:
    """The keys a usage line shows: `key=…`, `@owner`, `#channel`."""
    return set(re.findall(r"\b([a-z]+)=", usage)) | set(re.findall(r"\[[@#]([a-z]+)\b", usage))


@pytest.mark.parametrize("command", ["add Initech", "edit acme"])
def test_an_unknown_key_is_answered_with_every_key_the_usage_line_shows(
    slack: SlackRequests, store: Store, command: str
) -> None:
    add_acme(slack)
    text = ephemeral(slack.command(f"{command} colour=blue"))
    offered, usage = re.fullmatch(r"Unknown option 'colour='\. You can set (.*)\. Usage: `(.*)`", text).groups()
    assert set(offered.replace("=", "").split(", ")) == keys_of_usage(usage), text
    assert {"name", "owner", "channel"} & keys_of_usage(usage) >= (
        {"owner", "channel"} if "add" in command else {"name"}
    )
    help_text = ephemeral(slack.command(f"help {command.split()[0]}"))
    assert usage.replace("&lt;", "<").replace("&gt;", ">") in help_text.replace("&lt;", "<").replace("&gt;", ">")
    assert [c.name for c in store.customers(team_id=TEAM_ID)] == ["Acme Corp"]
    if command.startswith("add"):  # name= is edit's: add takes the name as its first words
        text = ephemeral(slack.command("add Initech name=Initech Ltd"))
        assert "Unknown option 'name='. A new customer's name comes first, as typed" in text, text


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("chanel=<#C0ACME|acme>", "channel=<#C0ACME|acme>"),
        ("timezone=Europe/Berlin", "tz=Europe/Berlin"),
        ("Country=de contry=fr", "country=fr"),
        ("tz =Europe/Berlin", "tz=Europe/Berlin"),
        ("tz = Europe/Berlin", "tz=Europe/Berlin"),
        ("tz= Europe/Berlin", "tz=Europe/Berlin"),
        ("timezone =Europe/Berlin", "tz=Europe/Berlin"),
        ("owner =<@U0002|sam>", "owner=<@U0002|sam>"),
        ("cadence = weekly tue 10:00 tz=Europe/Berlin", "cadence=weekly tue 10:00"),
    ],
)
@pytest.mark.parametrize("command", ["add Initech", "edit acme corp"])
def test_a_near_miss_key_is_named_back_with_the_setting_meant(
    slack: SlackRequests, store: Store, command: str, typed: str, meant: str
) -> None:
    add_acme(slack)
    text = ephemeral(slack.command(f"{command} {typed}"))
    assert f"id you mean `{meant}`?" in text and "Usage: `/partner " + command.split()[0] in text, text
    # Nothing typed was taken into a name or half applied.
    assert [(c.name, c.tz, c.country, c.owner_id) for c in store.customers(team_id=TEAM_ID)] == [
        ("Acme Corp", "America/New_York", None, "U0001")
    ]


def test_names_holding_a_settings_word_are_still_names(slack: SlackRequests, store: Store) -> None:
    for name in ("Max Planck Institute", "Acme Max Solutions", "Global Week Holdings", "Summary Partners"):
        assert f"Added *{name}*" in ephemeral(slack.command(f"add {name}"))
    text = ephemeral(slack.command("edit acme max tz Europe/Berlin"))
    assert "I didn't understand 'tz Europe/Berlin' after *Acme Max Solutions*. Did you mean `tz=Europe/Berlin`?" in text


def test_a_command_with_several_bad_settings_names_each(slack: SlackRequests, store: Store) -> None:
    text = ephemeral(slack.command("add Initech tz=Mars/Base country=ZZ cadence=sometimes"))
    assert "'Mars/Base'" in text and "'ZZ'" in text and "'sometimes'" in text and text.count("Usage:") == 1
    assert store.customer_by_name(team_id=TEAM_ID, name="initech") is None
    add_acme(slack)
    text = ephemeral(slack.command("edit acme week=funday summary=maybe"))
    assert "'funday'" in text and "'maybe'" in text


# List


def test_list_shows_owner_tier_health_last_checkin_mood_trend_and_next_nudge(
    bot: BotServer, slack: SlackRequests, store: Store, clock: FakeClock
) -> None:
    ephemeral(slack.command("add Acme Corp <@U0001|dana> tz=Europe/Berlin cadence=weekly tue 10:00"))
    ephemeral(slack.command("add Globex"))
    ephemeral(slack.command("checkin acme green kickoff"))
    clock.advance(days=1)
    ephemeral(slack.command("checkin acme yellow pricing worries"))
    bot.settle()  # the health recompute after the check-in must not overwrite the score set below
    clock.advance(hours=3)
    with store.session() as session:
        session.exec(
            update(Customer)
            .where(Customer.name == "Acme Corp")
            .values(tier="partner", health_score=72, health_band="yellow")
        )  # type: ignore[arg-type]
        session.commit()
    body = slack.command("list").json()
    rows = [b["text"]["text"] for b in body["blocks"] if b.get("accessory", {}).get("action_id") == LIST_OPEN_CARD]
    assert len(rows) == 2
    acme_row, globex_row = rows
    assert "*Acme Corp* · <@U0001> · tier Partner · health :large_yellow_circle: 72" in acme_row
    assert "last check-in 3 h ago" in acme_row
    assert "mood :large_green_circle::large_yellow_circle: ↘" in acme_row
    assert "next nudge Tue 1 Dec 10:00 CET" in acme_row  # the customer's own clock
    assert "tier — · health —" in globex_row and "no check-in yet · next nudge — (no cadence)" in globex_row
    assert body["text"].startswith("All customers — 2 customers (page 1 of 1)")
    ephemeral(slack.command("archive globex"))
    assert slack.command("list").json()["text"].startswith("All customers — 1 customer (page 1 of 1)")


def test_list_filters(bot: BotServer, slack: SlackRequests, store: Store, lee: str) -> None:
    add_acme(slack)
    ephemeral(slack.command("add Globex", user_id=lee))
    ephemeral(slack.command("add Initech"))
    ephemeral(slack.command("checkin initech red outage"))
    bot.settle()  # follow-ups (health recompute) finish before the bands are set by hand
    with store.session() as session:
        session.exec(update(Customer).where(Customer.name == "Globex").values(tier="partner", health_band="red"))  # type: ignore[arg-type]
        session.commit()

    def names(args: str, user_id: str = "U0001") -> list[str]:
        blocks = slack.command(f"list {args}", user_id=user_id).json()["blocks"]
        return [b["accessory"]["value"] for b in blocks if b.get("accessory", {}).get("action_id") == LIST_OPEN_CARD]

    ids = {c.name: str(c.id) for c in store.customers(team_id=TEAM_ID)}
    assert names("mine", user_id=lee) == [ids["Globex"]]
    assert names("at-risk") == [ids["Globex"], ids["Initech"]]
    assert names("tier=Partner") == [ids["Globex"]]
    assert names("all") == [ids["Acme Corp"], ids["Globex"], ids["Initech"]]
    assert "I didn't understand 'bogus'" in ephemeral(slack.command("list bogus"))
    # Two choices that disagree are named, not one of them dropped; the same choice twice is fine.
    assert "'mine' and 'all' can't both be given" in ephemeral(slack.command("list mine all"))
    assert "'tier=partner' and 'tier=supplier' can't" in ephemeral(slack.command("list tier=partner tier=supplier"))
    assert "'page=1' and 'page=2' can't" in ephemeral(slack.command("list page=1 at-risk page=2"))
    for typed in ("page=0", "page=-1", "page=two", "page=²", "page="):  # named as a page, with how pages count
        assert f"'{typed}' is no page: pages are numbered from 1" in ephemeral(slack.command(f"list {typed}")), typed
    assert names("mine my", user_id=lee) == [ids["Globex"]]


def test_list_of_a_thousand_customers_pages_within_slacks_limits(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, clock: FakeClock
) -> None:
    store.ensure_workspace(team_id=TEAM_ID, now=clock.now)
    with store.session() as session:
        for i in range(1000):
            name = f"Customer {i:04d}"
            session.add(
                Customer(
                    team_id=TEAM_ID,
                    name=name,
                    name_key=name.lower(),
                    owner_id="U0001",
                    cadence="daily 09:00",
                    created_at=clock.now,
                    updated_at=clock.now,
                )
            )
        session.commit()
    reply = slack.command("list all")
    body = reply.json()
    assert len(body["blocks"]) <= 50 and len(body["text"]) <= 3000
    assert "1000 customers" in body["blocks"][0]["text"]["text"]
    assert "Page 1 of 50" in json.dumps(body["blocks"])
    (paging,) = [b for b in body["blocks"] if b["type"] == "actions"]
    (next_button,) = paging["elements"]
    assert next_button["action_id"] == LIST_PAGE

    slack.block_action(LIST_PAGE, value=next_button["value"], message={"ts": "1.2", "type": "message", "text": ""})
    (answer,) = fake_slack.calls_to("response_url")
    assert answer.params["replace_original"] is True
    assert len(answer.params["blocks"]) <= 50
    assert "Page 2 of 50" in json.dumps(answer.params["blocks"]) and "Customer 0020" in json.dumps(answer.params)
    (paging,) = [b for b in answer.params["blocks"] if b["type"] == "actions"]
    assert [(e["text"]["text"], e["action_id"]) for e in paging["elements"]] == [
        ("Previous", LIST_PREV_PAGE),
        ("Next", LIST_PAGE),
    ]
    previous = paging["elements"][0]
    slack.block_action(LIST_PREV_PAGE, value=previous["value"], message={"ts": "1.2", "type": "message", "text": ""})
    back = fake_slack.calls_to("response_url")[-1]
    assert "Page 1 of 50" in json.dumps(back.params["blocks"]) and "Customer 0000" in json.dumps(back.params)
    last = slack.command("list page=99").json()
    assert "Page 50 of 50" in json.dumps(last["blocks"]) and "Customer 0999" in json.dumps(last)


# Show


def test_show_card_with_last_five_checkins_and_buttons(slack: SlackRequests, store: Store, clock: FakeClock) -> None:
    add_acme(slack)
    for i in range(7):
        ephemeral(slack.command(f"checkin acme green update {i}"))
        clock.advance(hours=1)
    long_note = "word " * 300
    ephemeral(slack.command(f"checkin acme yellow {long_note}"))
    deadline = time.monotonic() + 10
    while (store.customer_by_name(team_id=TEAM_ID, name="acme corp") or Customer()).health_score is None:
        assert time.monotonic() < deadline, "check-ins never recomputed the customer's health"
        time.sleep(0.05)  # health is recomputed in the check-in's follow-up, after the ack
    card = slack.command("show acme").json()
    text = json.dumps(card)
    assert card["blocks"][0] == {"type": "header", "text": {"type": "plain_text", "text": "Acme Corp", "emoji": True}}
    fields = " ".join(f["text"] for f in card["blocks"][1]["fields"])
    for expected in (
        "<@U0001>",
        "<#C0ACME>",
        "America/New_York",
        "*Cadence*\nnone yet: `/partner cadence Acme Corp weekly tue 10:00`",
        "*Tier*",
        "*Health*\n:large_",
    ):
        assert expected in fields
    checkins = [b for b in card["blocks"] if "text" in b and "<@U0001>\n" in b["text"]["text"]]
    assert len(checkins) == 5
    assert "…" in checkins[0]["text"]["text"] and len(checkins[0]["text"]["text"]) < 600  # shown short
    assert "update 6" in text and "update 2" not in text
    (actions,) = [b for b in card["blocks"] if b["type"] == "actions"]
    assert [e["text"]["text"] for e in actions["elements"]] == [
        "Log check-in",
        "Edit",
        "Snooze",
        "Scorecard",
        "Archive",
    ]
    assert store.checkins(team_id=TEAM_ID, limit=1)[0].note == long_note.strip()  # stored whole


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("show acm3", "No customer matches 'acm3' — did you mean Acme Corp or Acme Labs?"),
        ("show ac", "matches more than one customer: *Acme Corp*, *Acme Labs*"),
        ("show", "Which customer?"),
        ("edit zzz tz=UTC", "No customer matches 'zzz'"),
        ("archive ac", "matches more than one customer"),
        ("show acme corp extra", "I didn't understand 'extra'"),
    ],
)
def test_unknown_and_ambiguous_customers(slack: SlackRequests, text: str, message: str) -> None:
    add_acme(slack)
    ephemeral(slack.command("add Acme Labs"))
    assert message in ephemeral(slack.command(text))


# Edit and rename


def test_edit_records_each_change_with_old_and_new(slack: SlackRequests, fake_slack: FakeSlack, store: Store) -> None:
    add_acme(slack)
    text = ephemeral(
        slack.command('edit acme corp tz=Europe/Berlin cadence="biweekly fri 2pm" summary=off week=sun-thu')
    )
    assert "Updated *Acme Corp*" in text and "time zone: `America/New_York` → `Europe/Berlin`" in text
    customer = acme(store)
    assert customer.tz == "Europe/Berlin" and customer.cadence.startswith("biweekly fri 14:00 from ")
    assert customer.post_checkins is False and customer.working_week == "sun-thu"
    kinds = events(store, customer)
    assert [k for k, _ in kinds] == ["created", "edited"]
    assert kinds[1][1]["tz"] == ["America/New_York", "Europe/Berlin"]
    assert kinds[1][1]["post_checkins"] == [True, False]
    assert "Nothing to change" in ephemeral(slack.command("edit acme corp tz=europe/berlin"))
    assert len(events(store, acme(store))) == 2
    ephemeral(slack.command("edit acme <#C0001|general> <@U0002|sam>"))
    assert (acme(store).channel_id, acme(store).owner_id) == ("C0001", "U0002")
    assert "channel: <#C0001> → none" in ephemeral(slack.command("edit acme channel=none", user_id="U0002"))


@pytest.mark.parametrize("retry_num", [1, 2])
def test_a_retried_edit_archive_or_restore_answers_as_the_first_delivery(
    slack: SlackRequests, store: Store, retry_num: int
) -> None:
    add_acme(slack)
    for typed, trigger, says in [
        (
            "edit acme corp name=Acme Holdings tz=Europe/Paris",
            "5.5.edit",
            "• name: `Acme Corp` → `Acme Holdings`\n• time zone: `America/New_York` → `Europe/Paris`",
        ),
        ("archive acme holdings", "5.5.archive", ":file_cabinet: Archived *Acme Holdings*"),
        ("restore acme holdings", "5.5.restore", ":leftwards_arrow_with_hook: Restored *Acme Holdings*"),
    ]:
        first = ephemeral(slack.command(typed, trigger_id=trigger))
        # Slack delivers the same command again (same trigger): the user reads the same answer, not "Nothing to
        # change", "'acme corp' was renamed" or "is archived", and nothing is recorded twice.
        again = ephemeral(slack.command(typed, trigger_id=trigger, retry_num=retry_num))
        assert says in first and again == first
    customer = store.customer_by_name(team_id=TEAM_ID, name="acme holdings")
    assert customer is not None and customer.archived_at is None and customer.tz == "Europe/Paris"
    assert [k for k, _ in events(store, customer)] == ["created", "renamed", "edited", "archived", "restored"]


def test_rename_keeps_history_and_the_old_name_points_to_the_new(slack: SlackRequests, store: Store) -> None:
    add_acme(slack)
    ephemeral(slack.command("checkin acme green before the rename"))
    text = ephemeral(slack.command("edit acme corp name=Acme Industries"))
    assert "name: `Acme Corp` → `Acme Industries`" in text
    customer = store.customer_by_name(team_id=TEAM_ID, name="acme industries")
    assert customer is not None and customer.id == acme_id(store)
    assert [d["name"] for k, d in events(store, customer) if k == "renamed"] == [["Acme Corp", "Acme Industries"]]
    assert "before the rename" in json.dumps(slack.command("show acme industries").json())
    ephemeral(slack.command("add Acme Labs"))
    assert "'acme corp' was renamed to *Acme Industries*" in ephemeral(slack.command("show acme corp"))
    assert "already a customer called *Acme Labs*" in ephemeral(slack.command("edit acme ind name=ACME labs"))


def acme_id(store: Store) -> int:
    with store.session() as session:
        event = session.exec(
            CustomerEvent.__table__.select().where(CustomerEvent.kind == "created")  # type: ignore[attr-defined]
        ).first()
        assert event is not None
        return int(event.customer_id)


def test_only_the_owner_and_admins_may_change_a_customer(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, lee: str
) -> None:
    add_acme(slack)
    for text in ("edit acme tz=UTC", "archive acme", "edit acme name=Mine"):
        refusal = ephemeral(slack.command(text, user_id=lee))
        assert "You can't" in refusal and "only its owner <@U0001> or workspace admins can" in refusal
    assert acme(store).tz == "America/New_York" and acme(store).archived_at is None
    assert "Logged a green check-in" in ephemeral(slack.command("checkin acme green anyone can log", user_id=lee))
    # Sam is a workspace admin in Slack (users.info is_admin).
    assert "Updated *Acme Corp*" in ephemeral(slack.command("edit acme tz=UTC", user_id="U0002"))
    assert [c.params["user"] for c in fake_slack.calls_to("users.info")].count("U0002") >= 1


def test_partner_admins_may_change_any_customer(
    settings: Settings, store: Store, clock: FakeClock, fake_slack: FakeSlack, lee: str
) -> None:
    admins = replace(settings, admins=frozenset({lee}))
    server = BotServer(create_app(settings=admins, store=store, clock=clock), store).start()
    try:
        slack = SlackRequests(server.url, signing_secret=SIGNING_SECRET, team_id=TEAM_ID, fake=fake_slack)
        add_acme(slack)
        GUEST_CHECKS.remember(TEAM_ID, lee, guest=False)  # found a full member moments ago: not the point here
        assert "Updated *Acme Corp*" in ephemeral(slack.command("edit acme tz=UTC", user_id=lee))
        assert not [c for c in fake_slack.calls_to("users.info") if c.params["user"] == lee]  # no need to ask
    finally:
        server.stop()


def test_edit_without_settings_opens_the_modal_and_it_saves(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, lee: str
) -> None:
    add_acme(slack)
    assert "You can't edit" in ephemeral(slack.command("edit acme", user_id=lee))
    assert fake_slack.calls_to("views.open") == []
    slack.command("edit acme")
    (opened,) = fake_slack.calls_to("views.open")
    view = opened.params["view"]
    assert view["callback_id"] == EDIT_CUSTOMER_MODAL
    name_block = next(b for b in view["blocks"] if b["block_id"] == "name")
    assert name_block["element"]["initial_value"] == "Acme Corp"
    values = field_values(
        name="Acme Corp",
        owner="U0001",
        channel="C0ACME",
        tz="Europe/Berlin",
        country="",
        cadence="daily 08:30",
        week="mon-fri",
        summary=True,
        ideal="",
        max="",
    )
    reply = slack.view_submission(
        EDIT_CUSTOMER_MODAL, values, private_metadata=view["private_metadata"], view_id="VEDIT1"
    )
    assert reply.status == 200 and reply.body in (b"", b"{}")
    assert (acme(store).tz, acme(store).cadence) == ("Europe/Berlin", "daily 08:30")
    again = slack.view_submission(
        EDIT_CUSTOMER_MODAL, values, private_metadata=view["private_metadata"], view_id="VEDIT1", retry_num=1
    )
    assert again.status == 200
    assert [k for k, _ in events(store, acme(store))] == ["created", "edited"]
    # Told once, where the form was opened (`/partner edit` in #general), as the add and check-in forms do: not a DM.
    fake_slack.wait_for("chat.postEphemeral", where=lambda c: "Updated *Acme Corp*" in str(c.params.get("text")))
    told = [c for c in fake_slack.calls_to("chat.postEphemeral") if "Updated *Acme Corp*" in str(c.params.get("text"))]
    assert [(c.params["channel"], c.params["user"]) for c in told] == [("C0001", "U0001")], fake_slack.describe_calls()
    assert not [c for c in fake_slack.calls_to("chat.postMessage") if "Updated" in str(c.params.get("text"))]
    bad = slack.view_submission(
        EDIT_CUSTOMER_MODAL, {**values, **field_values(week="funday")}, private_metadata=view["private_metadata"]
    )
    assert "funday" in bad.json()["errors"]["week"]
    refused = slack.view_submission(
        EDIT_CUSTOMER_MODAL, values, private_metadata=view["private_metadata"], user_id=lee, view_id="VEDIT2"
    )
    assert refused.json()["errors"]["name"] == (
        "You can't edit Acme Corp: only its owner @dana or workspace admins can. "
        "Ask one of them — anyone can still log check-ins on it."
    )


def untouched_state(view: dict[str, Any], **typed: Any) -> dict[str, Any]:
    """The state Slack submits for the edit modal as it opened, with `typed` inputs changed by the user."""
    fields: dict[str, Any] = {}
    for block in view["blocks"]:
        element = block.get("element") or {}
        if element.get("type") == "users_select":
            fields[block["block_id"]] = element.get("initial_user")
        elif element.get("type") == "conversations_select":
            fields[block["block_id"]] = element.get("initial_conversation")
        elif element.get("type") == "checkboxes":
            fields[block["block_id"]] = bool(element.get("initial_options"))
        elif block["type"] == "input":
            fields[block["block_id"]] = element.get("initial_value")
    return field_values(**{**fields, **typed})


def test_an_edit_form_saved_after_someone_else_renamed_or_archived_the_customer(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    add_acme(slack)
    slack.command("edit acme")
    view = fake_slack.calls_to("views.open")[-1].params["view"]
    # While Dana's form is open, a teammate renames Acme and gives it a cadence.
    ephemeral(slack.command("edit acme name=Acme Industries cadence=weekly tue 10:00"))
    # Dana changes only the time zone: the form's stale name and cadence must not undo the teammate's changes.
    saved = slack.view_submission(
        EDIT_CUSTOMER_MODAL, untouched_state(view, tz="Europe/Berlin"), private_metadata=view["private_metadata"]
    )
    assert saved.status == 200 and saved.body in (b"", b"{}"), saved.text
    renamed = store.customer_by_name(team_id=TEAM_ID, name="acme industries")
    assert renamed is not None and renamed.id is not None
    assert (renamed.cadence, renamed.tz) == ("weekly tue 10:00", "Europe/Berlin")
    # A change Dana did make still wins, and clearing the cadence in the form clears it.
    slack.command("edit acme")
    view = fake_slack.calls_to("views.open")[-1].params["view"]
    state = untouched_state(view, name="Acme Global", cadence="")
    slack.view_submission(EDIT_CUSTOMER_MODAL, state, private_metadata=view["private_metadata"], view_id="VEDIT2")
    now = store.customer(team_id=TEAM_ID, customer_id=renamed.id)
    assert now is not None and (now.name, now.cadence, now.tz) == ("Acme Global", None, "Europe/Berlin")

    # Archived by someone else while the form was open: refused next to the name, the form keeps the changes.
    slack.command("edit acme")
    view = fake_slack.calls_to("views.open")[-1].params["view"]
    ephemeral(slack.command("archive acme"))
    refused = slack.view_submission(
        EDIT_CUSTOMER_MODAL,
        untouched_state(view, tz="Asia/Tokyo"),
        private_metadata=view["private_metadata"],
        view_id="VEDIT3",  # a form of its own: Slack gives each form its id
    )
    assert refused.json()["response_action"] == "errors"
    assert "archived meanwhile" in refused.json()["errors"]["name"] and "/partner restore Acme Global" in refused.text
    archived = store.customer(team_id=TEAM_ID, customer_id=renamed.id)
    assert archived is not None and archived.tz == "Europe/Berlin"


# Archive and restore


def test_a_new_teams_empty_lists_say_why_and_what_to_do(slack: SlackRequests, store: Store) -> None:
    """Day one: `/partner list` before any customer, then a second teammate's `list mine` while only Dana owns
    customers: each says why it is empty and offers the next step, not "No customers match"."""
    blocks = json.dumps(slack.command("list").json()["blocks"], ensure_ascii=False)
    assert "No customers yet. Add one with `/partner add Acme #acme @owner`" in blocks, blocks
    add_acme(slack)
    blocks = json.dumps(
        slack.command("list mine", user_id="U0002", user_name="sam").json()["blocks"], ensure_ascii=False
    )
    assert "You don't own any customers yet: `/partner list all` shows the whole team's (1)." in blocks, blocks
    card = json.dumps(slack.command("show acme").json()["blocks"], ensure_ascii=False)
    assert "*Cadence*\\nnone yet: `/partner cadence Acme Corp weekly tue 10:00` sets one" in card, card
    row = json.dumps(slack.command("list all", user_id="U0002", user_name="sam").json()["blocks"], ensure_ascii=False)
    assert "no check-in yet · next nudge — (no cadence)" in row and "mood no check-in yet" not in row, row


def test_archive_hides_the_customer_and_restore_brings_it_back(slack: SlackRequests, store: Store) -> None:
    add_acme(slack)
    assert ephemeral(slack.command("restore")).startswith("There are no archived customers. Usage:")
    ephemeral(slack.command("checkin acme green still here"))
    assert "Archived *Acme Corp*" in ephemeral(slack.command("archive acme"))
    assert "No customers: 1 archived (`/partner restore` names it)" in json.dumps(slack.command("list").json())
    assert "*Acme Corp* is archived. Bring it back with `/partner restore Acme Corp`" in ephemeral(
        slack.command("checkin acme green hello")
    )
    for text in ("snooze acme 2d", "cadence acme daily", "boundary acme list"):  # every command finds it alike
        assert "*Acme Corp* is archived. Bring it back" in ephemeral(slack.command(text))
    assert slack.block_suggestion("checkin_customer", "acme").json()["options"] == []
    assert "There is already a customer called *Acme Corp* (archived" in ephemeral(slack.command("add acme corp"))
    assert "Restored *Acme Corp*" in ephemeral(slack.command("restore acme"))
    assert "still here" in json.dumps(slack.command("show acme").json())
    assert [k for k, _ in events(store, acme(store))] == ["created", "archived", "restored"]
    # Restoring a live customer (or Slack's retry of the restore) says it is live, whatever else is archived.
    assert ephemeral(slack.command("restore acme")).startswith("*Acme Corp* isn't archived")
    ephemeral(slack.command("add Globex"))
    ephemeral(slack.command("archive globex"))
    assert ephemeral(slack.command("restore acme corp")).startswith("*Acme Corp* isn't archived")
    assert "No customer matches 'initech'" in ephemeral(slack.command("restore initech"))
    # Archived customers are in no list: restore without a name says which there are.
    assert ephemeral(slack.command("restore")).startswith("Which customer? Archived: *Globex*. Usage:")
    ephemeral(slack.command("archive acme"))
    assert ephemeral(slack.command("restore ")).startswith("Which customer? Archived: *Acme Corp*, *Globex*.")


def test_an_archived_name_typed_whole_is_not_read_as_a_shorter_live_name(slack: SlackRequests, store: Store) -> None:
    add_acme(slack)
    assert "Added *Acme Labs*" in ephemeral(slack.command("add Acme Labs"))
    assert "Archived *Acme Labs*" in ephemeral(slack.command("archive acme labs"))
    before = len(store.checkins(team_id=TEAM_ID))
    assert "*Acme Labs* is archived. Bring it back with `/partner restore Acme Labs`" in ephemeral(
        slack.command("checkin acme labs green kickoff")
    )
    assert len(store.checkins(team_id=TEAM_ID)) == before  # not logged on Acme Corp with the mood "labs"
    # A shorter live name still wins over an archived name it only starts: "acme green" is Acme Corp, mood green.
    assert "Logged a green check-in for *Acme Corp*" in ephemeral(slack.command("checkin acme green fine"))


def test_an_archived_name_typed_exactly_is_not_read_as_a_live_name_it_starts(
    slack: SlackRequests, store: Store
) -> None:
    """Undoing a first-week mistake: "Acme" and "Acmee" (a typo) were both added, then Acme archived instead of the
    typo. `checkin acme …` is about Acme, the name typed exactly: refused with the way back, never logged on Acmee,
    the only live name "acme" starts."""
    for name in ("Acme", "Acmee"):
        ephemeral(slack.command(f"add {name}"))
    assert "Archived *Acme*" in ephemeral(slack.command("archive acme"))
    text = ephemeral(slack.command("checkin acme green kickoff went well"))
    assert "*Acme* is archived. Bring it back with `/partner restore Acme`. For *Acmee*, type its name whole." in text
    assert "You typed: `/partner checkin acme green kickoff went well`" in text
    assert store.checkins(team_id=TEAM_ID) == []
    assert "*Acme* is archived" in ephemeral(slack.command("show acme"))
    assert "Logged a green check-in for *Acmee*" in ephemeral(slack.command("checkin acmee green typo kept after all"))
    assert "Restored *Acme*" in ephemeral(slack.command("restore acme"))
    assert "Logged a green check-in for *Acme*" in ephemeral(slack.command("checkin acme green kickoff went well"))


def test_card_buttons_archive_restore_and_edit(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, lee: str
) -> None:
    add_acme(slack)
    value = str(acme(store).id)
    message = {"type": "message", "ts": "1.1", "text": ""}
    refused = slack.block_action(CARD_ARCHIVE, value=value, user_id=lee, message=message)
    assert refused.status == 200
    (told,) = fake_slack.calls_to("response_url")
    assert "You can't archive *Acme Corp*" in told.params["text"]

    slack.block_action(CARD_ARCHIVE, value=value, message=message)
    slack.block_action(CARD_ARCHIVE, value=value, message=message, retry_num=1)  # a double click
    assert acme(store).archived_at is not None
    assert [k for k, _ in events(store, acme(store))] == ["created", "archived"]
    card = fake_slack.calls_to("response_url")[-1].params
    assert card["replace_original"] is True and "Acme Corp (archived)" in json.dumps(card["blocks"])
    assert card["blocks"][-1]["elements"][0]["action_id"] == CARD_RESTORE

    slack.block_action(CARD_RESTORE, value=value, message=message)
    assert acme(store).archived_at is None

    slack.block_action(CARD_EDIT, value=value, message=message, channel_id="C0001")
    edit_form = fake_slack.calls_to("views.open")[-1].params["view"]
    assert edit_form["callback_id"] == EDIT_CUSTOMER_MODAL
    assert json.loads(edit_form["private_metadata"])["channel_id"] == "C0001"  # saved, the author is told there
    slack.block_action(LIST_OPEN_CARD, value=value, message=message)
    opened = fake_slack.calls_to("response_url")[-1].params
    assert opened["replace_original"] is False and opened["blocks"][0]["text"]["text"] == "Acme Corp"


def test_card_snooze_opens_the_snooze_modal_and_saving_it_snoozes_the_customer(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, clock: FakeClock
) -> None:
    add_acme(slack)
    value = str(acme(store).id)
    message = {"type": "message", "ts": "1.1", "text": ""}
    assert slack.block_action(CARD_SNOOZE, value=value, message=message).status == 200
    (opened,) = fake_slack.calls_to("views.open")
    view = opened.params["view"]
    assert view["callback_id"] == NUDGE_SNOOZE_MODAL
    assert json.loads(view["private_metadata"]) == {"nudge_id": None, "customer_id": acme(store).id}
    values = {
        "for": {NUDGE_SNOOZE_FOR: {"type": "radio_buttons", "selected_option": {"value": "until"}}},
        "until": {NUDGE_SNOOZE_UNTIL: {"type": "datepicker", "selected_date": "2026-12-04"}},
        "reason": {NUDGE_SNOOZE_REASON: {"type": "plain_text_input", "value": "offsite all week"}},
    }
    saved = slack.view_submission(NUDGE_SNOOZE_MODAL, values, private_metadata=view["private_metadata"])
    assert saved.status == 200 and saved.body in (b"", b"{}")
    snoozed = acme(store)
    assert snoozed.snoozed_until == datetime(2026, 12, 4, 5, 0, tzinfo=UTC)  # that morning, New York time
    assert snoozed.snooze_reason == "offsite all week"
    assert "offsite all week" in json.dumps(slack.command("show acme").json())

    ephemeral(slack.command("archive acme"))
    slack.block_action(CARD_SNOOZE, value=value, message=message)
    assert "archived" in fake_slack.calls_to("response_url")[-1].params["text"]
    assert len(fake_slack.calls_to("views.open")) == 1
