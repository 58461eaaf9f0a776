"""Acceptance probe: slash-command text as a real Slack client sends it (smart quotes, escaped mentions)."""

from __future__ import annotations

import logging

import pytest

from handlers.ids import CHECKIN_CUSTOMER
from storage.store import Store
from tests.e2e.test_foundation import add_acme, ephemeral
from tests.slack_requests import SlackRequests
from tests.utils import TEAM_ID


@pytest.mark.parametrize(
    "text",
    [
        'add "Acme Corp” <#C0ACME|acme> <@U0001|dana>',  # a Mac curls only the closing quote
        "add ‘Acme Corp’ <#C0ACME|acme> <@U0001|dana>",  # single quotes, curled
        "add 'Acme Corp' <#C0ACME|acme> <@U0001|dana>",  # single quotes, straight (a desktop keyboard)
        'add “Acme Corp" <#C0ACME|> <@U0001>',  # a private channel's empty name, a mention without a name
    ],
)
def test_a_name_in_mixed_quotes_ends_at_its_quote(slack: SlackRequests, store: Store, text: str) -> None:
    reply = ephemeral(slack.command(text))
    assert "Added *Acme Corp*" in reply
    assert [(c.name, c.channel_id, c.owner_id) for c in store.customers(team_id=TEAM_ID)] == [
        ("Acme Corp", "C0ACME", "U0001")
    ]


def test_an_unclosed_quote_in_add_is_named_back_and_nothing_is_stored(slack: SlackRequests, store: Store) -> None:
    reply = ephemeral(slack.command('add "Acme Corp <#C0ACME|acme> <@U0001|dana>'))
    assert "is never closed" in reply and "Usage: `/partner add" in reply
    assert store.customers(team_id=TEAM_ID) == []


@pytest.mark.parametrize(
    "text",
    [
        'checkin "Acme Corp" green kickoff went well',
        "checkin “acme corp” green kickoff went well",
        "checkin ‘Acme Corp’ green kickoff went well",
        "checkin 'acme corp' green kickoff went well",
    ],
)
def test_a_quoted_customer_name_is_read_as_add_reads_it(slack: SlackRequests, store: Store, text: str) -> None:
    add_acme(slack)
    reply = ephemeral(slack.command(text))
    assert "Logged a green check-in for *Acme Corp*: kickoff went well" in reply
    assert [c.note for c in store.checkins(team_id=TEAM_ID)] == ["kickoff went well"]


def test_a_name_quoting_a_nickname_is_read_whole_by_add_and_checkin(slack: SlackRequests, store: Store) -> None:
    # The tokenizer (add) and the customer lookup (checkin) read quotes by the same rule: a “curly” pair inside
    # straight quotes is part of the name.
    assert "Added *Acme “Big” Corp*" in ephemeral(slack.command('add "Acme “Big” Corp" <#C0ACME|acme> <@U0001|dana>'))
    reply = ephemeral(slack.command('checkin "acme “big” corp" green kickoff went well'))
    assert "Logged a green check-in for *Acme “Big” Corp*: kickoff went well" in reply
    assert [(c.name, c.channel_id) for c in store.customers(team_id=TEAM_ID)] == [("Acme “Big” Corp", "C0ACME")]


def test_an_apostrophe_inside_single_quotes_stays_in_the_name(slack: SlackRequests, store: Store) -> None:
    assert "Added *Macy’s Home*" in ephemeral(slack.command("add ‘Macy’s Home’ <@U0001|dana>"))
    assert "Logged" in ephemeral(slack.command("checkin ‘macy’s home’ green new buyer"))
    assert [c.name for c in store.customers(team_id=TEAM_ID)] == ["Macy’s Home"]


def test_an_agreement_in_curled_single_quotes_is_stored_without_them(slack: SlackRequests, store: Store) -> None:
    add_acme(slack)
    reply = ephemeral(slack.command("boundary acme add ‘We don’t take calls after 6pm’ kind=custom"))
    assert "Proposed “We don’t take calls after 6pm”" in reply
    reply = ephemeral(slack.command("boundary acme add ‘Replies within a day kind=custom"))
    assert "is never closed" in reply and "Usage:" in reply


@pytest.mark.parametrize(
    ("added", "typed"),
    [("Macy's", "checkin macy’s green new buyer"), ("O’Brien Ltd", "checkin o'brien ltd green new buyer")],
)
def test_an_apostrophe_typed_on_another_keyboard_finds_the_customer(
    slack: SlackRequests, store: Store, added: str, typed: str
) -> None:
    # A desktop types ', a phone or a Mac curls it to ’: the same customer either way.
    assert f"Added *{added}*" in ephemeral(slack.command(f"add {added} <@U0001|dana>"))
    assert f"Logged a green check-in for *{added}*: new buyer" in ephemeral(slack.command(typed))
    assert [c.note for c in store.checkins(team_id=TEAM_ID)] == ["new buyer"]


def test_the_check_in_forms_customer_search_folds_apostrophes_too(slack: SlackRequests) -> None:
    ephemeral(slack.command("add Macy's <@U0001|dana>"))
    options = slack.block_suggestion(CHECKIN_CUSTOMER, "macy’").json()["options"]
    assert [o["text"]["text"] for o in options] == ["Macy's"]


def test_a_name_typed_in_full_width_letters_finds_the_customer(slack: SlackRequests, store: Store) -> None:
    # A Japanese or Chinese input method left on types ＡＣＭＥ: the same letters, full width (Unicode folds them).
    assert "Added *Acme*" in ephemeral(slack.command("add Acme <@U0001|dana>"))
    assert "Logged a green check-in for *Acme*: ｎｅｗ buyer" in ephemeral(
        slack.command("checkin ＡＣＭＥ green ｎｅｗ buyer")
    )
    assert "Logged a green check-in for *Acme*: again" in ephemeral(slack.command("checkin ａｃｍｅ green again"))
    assert {c.note for c in store.checkins(team_id=TEAM_ID)} == {"ｎｅｗ buyer", "again"}  # the note kept as typed
    options = slack.block_suggestion(CHECKIN_CUSTOMER, "ＡＣ").json()["options"]
    assert [o["text"]["text"] for o in options] == ["Acme"]


@pytest.mark.parametrize(
    ("first", "second"), [("Macy's", "Macy’s"), ("Macy’s", "macy's"), ("Macy's", "MACYʼS"), ("Macy's", "Macy`s")]
)
def test_a_name_spelled_with_another_apostrophe_is_the_customer_that_exists(
    slack: SlackRequests, store: Store, first: str, second: str
) -> None:
    assert f"Added *{first}*" in ephemeral(slack.command(f"add {first} <@U0001|dana>"))
    reply = ephemeral(slack.command(f"add {second} <@U0001|dana>"))
    assert f"There is already a customer called *{first}*" in reply
    assert [c.name for c in store.customers(team_id=TEAM_ID)] == [first]


def test_a_rename_to_another_apostrophe_spelling_of_a_name_taken_is_refused(slack: SlackRequests, store: Store) -> None:
    ephemeral(slack.command("add Macy's <@U0001|dana>"))
    ephemeral(slack.command("add Globex <@U0001|dana>"))
    assert "already a customer called *Macy's*" in ephemeral(slack.command("edit globex name=Macy’s"))
    assert sorted(c.name for c in store.customers(team_id=TEAM_ID)) == ["Globex", "Macy's"]


def test_a_former_name_with_a_curled_apostrophe_is_found_by_a_straight_one(slack: SlackRequests) -> None:
    ephemeral(slack.command("add Macy’s <@U0001|dana>"))
    assert "Bloomingdale's" in ephemeral(slack.command("edit macy’s name=Bloomingdale's"))
    assert "'macy's' was renamed to *Bloomingdale's*" in ephemeral(slack.command("checkin macy's green new buyer"))


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("add Globex tz=Mars/Base", "'Mars/Base'"),
        ("add Globex country=ZZ", "'ZZ'"),
        ("add Globex cadence=sometimes", "'sometimes'"),
        ("add Globex week=weekends", "'weekends'"),
        ("add Globex colour=blue", "'colour='"),
        ("edit acme corp ideal=abc", "'abc'"),
        ("edit acme corp cadence=hourly", "'hourly'"),
        ("edit acme corp ideal=20 max=5", "(20 days)"),
    ],
)
def test_a_setting_refused_in_add_or_edit_names_the_value_and_gives_the_usage(
    slack: SlackRequests, store: Store, text: str, named: str
) -> None:
    add_acme(slack)
    reply = ephemeral(slack.command(text))
    command = text.split()[0]
    assert named in reply and f"Usage: `/partner {command} " in reply
    assert [c.name for c in store.customers(team_id=TEAM_ID)] == ["Acme Corp"]
    assert store.customers(team_id=TEAM_ID)[0].ideal_days is None


def test_a_name_slack_turned_into_a_link_as_it_was_typed_is_the_name(slack: SlackRequests, store: Store) -> None:
    # With should_escape, Slack sends a typed `Monday.com` as `<http://Monday.com|Monday.com>`: the name, not a link.
    reply = ephemeral(slack.command("add <http://Monday.com|Monday.com> <#C0ACME|acme> <@U0001|dana>"))
    assert "Added *Monday.com*" in reply
    reply = ephemeral(slack.command("checkin <http://monday.com|monday.com> green renewal signed"))
    assert "Logged a green check-in for *Monday.com*: renewal signed" in reply
    assert "Monday.com" in ephemeral(slack.command("show <http://monday.com|monday.com>"))
    reply = ephemeral(slack.command("edit <http://monday.com|monday.com> name=<https://Monday.io/|Monday.io>"))
    assert "name: `Monday.com` → `Monday.io`" in reply
    assert [(c.name, c.channel_id) for c in store.customers(team_id=TEAM_ID)] == [("Monday.io", "C0ACME")]
    # A link with a label of its own is still no name; the note keeps a link as Slack sent it.
    assert "'the site' can't be part of a customer's name" in ephemeral(
        slack.command("add <https://globex.example|the site>")
    )
    ephemeral(slack.command("checkin monday.io green see <http://acme.com|acme.com>"))
    assert store.checkins(team_id=TEAM_ID)[0].note == "see <http://acme.com|acme.com>"


@pytest.mark.parametrize(
    ("added", "name"),
    [
        ('add Acme "Big" Corp <@U0001|dana>', 'Acme "Big" Corp'),  # a nickname in quotes inside the name
        ('add Globex "GX"', 'Globex "GX"'),
        ('add "Initech "The Best" Ltd" <@U0001|dana>', 'Initech "The Best" Ltd'),  # straight quotes in straight ones
    ],
)
def test_quotes_inside_a_name_are_kept_and_find_it_again(
    slack: SlackRequests, store: Store, added: str, name: str
) -> None:
    # Nothing typed is dropped: the quotes stay in the name, and the name as typed finds it in every command.
    assert f"Added *{name}*" in ephemeral(slack.command(added))
    assert [c.name for c in store.customers(team_id=TEAM_ID)] == [name]
    assert f"Logged a green check-in for *{name}*: renewal" in ephemeral(slack.command(f"checkin {name} green renewal"))
    assert f"check-in for *{name}*" in ephemeral(slack.command(f'checkin "{name}" green renewal'))
    for command in ("show", "status"):
        assert "I didn't understand" not in ephemeral(slack.command(f"{command} {name}")), command


@pytest.mark.parametrize(("typed", "name"), [("O'Brien Ltd", "O'Brien Ltd"), ("'90s Fashion", "'90s Fashion")])
def test_a_straight_apostrophe_is_no_quote(slack: SlackRequests, store: Store, typed: str, name: str) -> None:
    assert f"Added *{name}*" in ephemeral(slack.command(f"add {typed} <@U0001|dana>"))
    assert [c.name for c in store.customers(team_id=TEAM_ID)] == [name]


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("list page=²", "'page=²' is no page: pages are numbered from 1"),
        ("edit acme corp ideal=²", "'²' is not a number of days for ideal="),
        ("edit acme corp max=³", "'³' is not a number of days for max="),
        ("add Globex ideal=²", "'²' is not a number of days for ideal="),
        ("cadence acme every ² days", "I couldn't read the cadence 'every ² days'"),
    ],
)
def test_a_superscript_digit_is_named_as_no_number_not_an_error_of_ours(
    slack: SlackRequests, store: Store, caplog: pytest.LogCaptureFixture, text: str, named: str
) -> None:
    # "²".isdigit() is true and int("²") fails: a phone's number row types it. Named back with the usage, no crash.
    add_acme(slack)
    with caplog.at_level(logging.ERROR):
        reply = ephemeral(slack.command(text))
    assert named in reply and "Usage: `/partner " in reply and "Sorry" not in reply, reply
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    assert [(c.name, c.ideal_days, c.max_days, c.cadence) for c in store.customers(team_id=TEAM_ID)] == [
        ("Acme Corp", None, None, None)
    ]
