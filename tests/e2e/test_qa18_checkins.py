"""End to end, session 18: check-ins and customer commands typed as people type them — punctuation after a word of a
sentence, a correction's mood after the word `correction:`, and a mood given to `edit` as if it were a setting."""

from __future__ import annotations

from datetime import date

import pytest

from handlers.ids import CHECKIN_CUSTOMER
from storage.store import Store
from tests.e2e.test_foundation import add_acme, ephemeral
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests, offered_options
from tests.utils import TEAM_ID, BotServer


@pytest.mark.parametrize(
    ("typed", "mood", "note"),
    [
        ("checkin acme green, kickoff went well", "green", "kickoff went well"),
        ("checkin acme Red: churn risk, they want a discount", "red", "churn risk, they want a discount"),
        ("checkin acme 4/5. steady", "4", "steady"),
        ("checkin acme :red_circle:, outage again", "red", "outage again"),
        ("checkin acme, yellow pricing questions", "yellow", "pricing questions"),
        ("checkin acme corp: green renewal signed!", "green", "renewal signed!"),
    ],
)
def test_punctuation_ending_the_customer_or_the_mood_is_read_as_a_sentence_is(
    slack: SlackRequests, store: Store, bot: BotServer, typed: str, mood: str, note: str
) -> None:
    """`green, kickoff went well` was refused ("'green,' is not a mood — did you mean green?"), and `acme, yellow …`
    answered "No customer matches 'acme,'": the user had to type the whole check-in again."""
    add_acme(slack)
    text = ephemeral(slack.command(typed))
    assert "Logged" in text and "*Acme Corp*" in text, text
    (entry,) = store.checkins(team_id=TEAM_ID)
    assert (entry.mood, entry.note) == (mood, note)
    bot.settle()


def test_a_name_ending_in_a_full_stop_is_still_matched_as_typed(slack: SlackRequests, store: Store) -> None:
    ephemeral(slack.command("add Acme Inc. <@U0001|dana>"))
    ephemeral(slack.command("add Acme Labs"))
    assert "*Acme Inc.*" in ephemeral(slack.command("checkin acme inc. green fine"))
    assert ephemeral(slack.command("show acme labs.")).startswith("Acme Labs:")
    # Punctuation is read off the name only to end it: `acme,` is no more one of the two than `acme` is.
    text = ephemeral(slack.command("checkin acme, green fine"))
    assert "Acme Inc." in text and "Acme Labs" in text and "Logged" not in text, text
    assert len(store.checkins(team_id=TEAM_ID)) == 1
    # With Beta and Beta Green, `beta green, fine` is a green check-in on Beta, as `beta green fine` is.
    ephemeral(slack.command("add Beta"))
    ephemeral(slack.command("add Beta Green"))
    assert "Logged a green check-in for *Beta*:" in ephemeral(slack.command("checkin beta green, fine"))


def test_show_and_archive_take_a_name_followed_by_a_full_stop(slack: SlackRequests, store: Store) -> None:
    add_acme(slack)
    assert "Acme Corp" in ephemeral(slack.command("show acme."))
    assert "Archived *Acme Corp*" in ephemeral(slack.command("archive acme corp."))
    assert "Restored *Acme Corp*" in ephemeral(slack.command("restore acme!"))


def test_a_correction_with_its_mood_after_the_word_correction_is_logged(
    slack: SlackRequests, store: Store, bot: BotServer
) -> None:
    """README and every "how to put it right" answer say `<mood> correction: <note…>`; typed the other way round,
    `correction: red …`, it was refused with "'correction:' is not a mood"."""
    add_acme(slack)
    ephemeral(slack.command("checkin acme green all fine"))
    text = ephemeral(slack.command("checkin acme correction: red call they are leaving, meant red next=fri"))
    assert "Logged a red call check-in for *Acme Corp*" in text, text
    latest, first = store.checkins(team_id=TEAM_ID)
    assert (first.mood, first.note) == ("green", "all fine")
    assert (latest.mood, latest.kind, latest.note) == ("red", "call", "correction: they are leaving, meant red")
    assert latest.next_due == date(2026, 11, 27)
    # The documented order still reads as before.
    ephemeral(slack.command("checkin acme yellow correction: amber after all"))
    assert store.checkins(team_id=TEAM_ID)[0].note == "correction: amber after all"
    bot.settle()


def test_a_next_date_ending_the_sentence_with_a_full_stop_is_read(slack: SlackRequests, store: Store) -> None:
    add_acme(slack)  # Wednesday 25 Nov in New York
    ephemeral(slack.command("checkin acme green sent the proposal next=tomorrow."))
    (entry,) = store.checkins(team_id=TEAM_ID)
    assert (entry.note, entry.next_due) == ("sent the proposal", date(2026, 11, 26))


@pytest.mark.parametrize(
    ("typed", "suggested"),
    [
        ("edit acme mood=green", "`/partner checkin acme green <note…>`"),
        ("edit acme corp mood=red", "`/partner checkin acme corp red <note…>`"),
        ("edit acme Mood=awful", "`/partner checkin acme <mood> <note…>`"),
        ("edit acme mood green", "`/partner checkin Acme Corp green <note…>`"),
        ("edit acme yellow", "`/partner checkin Acme Corp yellow <note…>`"),
        ("add Beta mood=green", "`/partner checkin Beta green <note…>`"),
    ],
)
def test_a_mood_given_as_a_setting_is_answered_with_the_check_in_that_logs_it(
    slack: SlackRequests, store: Store, typed: str, suggested: str
) -> None:
    """`/partner edit acme mood=green` got "Unknown option 'mood='" and the edit usage: a mood is logged with a
    check-in, and the answer says so, with that check-in to copy, its usage, and the command as typed."""
    add_acme(slack)
    response = slack.command(typed)
    text = ephemeral(response)
    assert "A mood is logged with a check-in" in text, text
    assert suggested.replace("<", "&lt;").replace(">", "&gt;") in text, text
    assert "Usage: `/partner checkin &lt;customer&gt; &lt;green|yellow|red|1-5&gt;" in text
    assert text.endswith(f"You typed: `/partner {typed}`")
    assert "Unknown option" not in text
    assert store.checkins(team_id=TEAM_ID) == []
    assert [c.name for c in store.customers(team_id=TEAM_ID)] == ["Acme Corp"]


def test_letters_with_no_accent_to_leave_out_are_found_as_a_us_keyboard_types_them(
    slack: SlackRequests, store: Store, bot: BotServer
) -> None:
    """`cafe` found Café Olé, but `lodz`, `oresund` or `unicode` found nothing: Ł, Ø, Æ are letters of their own in
    Unicode, not a letter with an accent, so "leaving the accents out" (README) never reached them — in the command
    nor in the form's type-ahead."""
    for name in ("Łódź Logistics", "Øresund AB", "Ærø Shipping", "Ünïcødé 🚀"):
        assert "Added" in ephemeral(slack.command(f"add {name}"))
    assert "*Łódź Logistics*" in ephemeral(slack.command("checkin lodz green kickoff done"))
    assert "*Øresund AB*" in ephemeral(slack.command("checkin oresund yellow slow replies"))
    assert "*Ærø Shipping*" in ephemeral(slack.command("checkin aero shipping green fine"))
    assert "*Ünïcødé 🚀*" in ephemeral(slack.command("checkin unicode 4 steady"))
    assert ephemeral(slack.command("show lodz logistics")).startswith("Łódź Logistics:")
    assert [c.note for c in reversed(store.checkins(team_id=TEAM_ID))] == [
        "kickoff done",
        "slow replies",
        "fine",
        "steady",
    ]
    offered = [o["text"]["text"] for o in offered_options(slack.block_suggestion(CHECKIN_CUSTOMER, "oresu"))]
    assert offered == ["Øresund AB"]
    bot.settle()


def test_the_checkin_form_typed_in_a_customers_channel_names_that_customer(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, bot: BotServer
) -> None:
    """`/partner checkin` typed in #acme opened a form with no customer picked, where the message shortcut in the same
    channel picks Acme: the form now names the channel's one customer (and none where two share it, or none is)."""
    add_acme(slack)
    ephemeral(slack.command("add Globex"))
    acme = store.customer_by_name(team_id=TEAM_ID, name="acme corp")
    assert acme is not None

    def picked(channel_id: str) -> str | None:
        assert slack.command("checkin", channel_id=channel_id).status == 200
        view = fake_slack.calls_to("views.open")[-1].params["view"]
        customer = next(b for b in view["blocks"] if b["block_id"] == "customer")
        return (customer["element"].get("initial_option") or {}).get("value")

    assert picked("C0ACME") == str(acme.id)
    assert picked("C0001") is None
    ephemeral(slack.command("edit globex <#C0ACME|acme>"))
    assert picked("C0ACME") is None  # two customers share #acme: which one is for the user to pick
    bot.settle()


@pytest.mark.parametrize("typed", ["help checkin?", "help edit.", "HELP ci!", "help /partner list?"])
def test_help_asked_as_a_question_answers_that_command(slack: SlackRequests, typed: str) -> None:
    """`/partner help checkin?` answered "No help on `checkin?`. Did you mean `/partner help checkin`?" and the whole
    list, for a question that named the command."""
    text = ephemeral(slack.command(typed))
    assert text.startswith("How to use `/partner "), text
    assert "No help on" not in text


def test_commas_between_the_parts_of_add_and_edit_separate_them(
    slack: SlackRequests, store: Store, bot: BotServer
) -> None:
    """`/partner add Acme Corp, #acme, @sam` was refused with "I didn't understand ',' after the name", and
    `tz=Europe/Berlin, country=DE` with "Unknown time zone 'Europe/Berlin,'": a list typed as people write one."""
    text = ephemeral(
        slack.command("add Acme Corp, <#C0ACME|acme>, <@U0002|sam>, cadence=weekly tue 10:00, country=de.")
    )
    assert "Added *Acme Corp* — owner <@U0002>, channel <#C0ACME>" in text, text
    ephemeral(slack.command("add Acme, Inc <@U0001|dana>"))  # a comma inside a name stays in it
    ephemeral(slack.command("add Gamma <@U0001|dana>."))
    ephemeral(slack.command("edit gamma tz=Europe/Berlin, country=DE; summary=off"))
    acme, acme_inc, gamma = store.customers(team_id=TEAM_ID)
    assert (acme.name, acme.channel_id, acme.owner_id, acme.country) == ("Acme Corp", "C0ACME", "U0002", "DE")
    assert acme.cadence is not None and "tue" in acme.cadence
    assert (acme_inc.name, gamma.name) == ("Acme, Inc", "Gamma")
    assert (gamma.tz, gamma.country, gamma.post_checkins) == ("Europe/Berlin", "DE", False)
    bot.settle()


def test_a_name_after_an_emoji_is_found_without_typing_the_emoji(
    slack: SlackRequests, store: Store, bot: BotServer
) -> None:
    """`checkin rocket …` answered "No customer matches 'rocket' — did you mean 🚀 Rocket Co?": an emoji put before a
    name on adding it had to be typed in every command (the form's type-ahead found it by "rocket" already)."""
    for name in ("🚀 Rocket Co", ":pizza: Pizza Planet", "🇯🇵 Tokyo Trading"):
        assert "Added" in ephemeral(slack.command(f"add {name}"))
    assert "*🚀 Rocket Co*" in ephemeral(slack.command("checkin rocket green launch went fine"))
    assert "*:pizza: Pizza Planet*" in ephemeral(slack.command("checkin pizza planet yellow slow week"))
    assert "*🇯🇵 Tokyo Trading*" in ephemeral(slack.command("checkin TOKYO 4 steady"))
    assert "*🚀 Rocket Co*" in ephemeral(slack.command("checkin 🚀 red as typed still works"))
    assert ephemeral(slack.command("show rocket co")).startswith("🚀 Rocket Co:")
    notes = [(c.mood, c.note) for c in reversed(store.checkins(team_id=TEAM_ID))]
    assert notes == [
        ("green", "launch went fine"),
        ("yellow", "slow week"),
        ("4", "steady"),
        ("red", "as typed still works"),
    ]
    bot.settle()
