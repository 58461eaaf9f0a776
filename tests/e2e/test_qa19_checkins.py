"""End to end, session 19: check-ins and customer commands where two names read alike — a name after an emoji beside
a plain one sharing its first word, a name that is another's plus a mood word — and a list page past the last."""

from __future__ import annotations

import pytest

from handlers.ids import ADD_CUSTOMER_MODAL
from storage.store import Store
from tests.e2e.test_customers import field_values
from tests.e2e.test_foundation import add_acme, ephemeral
from tests.slack_requests import SlackRequests
from tests.utils import TEAM_ID, BotServer, FakeClock


def names_of_checkins(store: Store) -> list[tuple[str, str, str]]:
    names = {c.id: c.name for c in store.customers(team_id=TEAM_ID)}
    return [(names[c.customer_id], c.mood, c.note) for c in store.checkins(team_id=TEAM_ID)]


def test_a_prefix_shared_with_a_name_after_an_emoji_is_asked_not_guessed(
    slack: SlackRequests, store: Store, bot: BotServer
) -> None:
    """With Tokyo Bank and 🇯🇵 Tokyo Trading, `checkin tokyo green …` was logged on Tokyo Bank without a word, and
    `checkin tokyo trading green …` was refused ("'trading' is not a mood"), as `show tokyo trading` was."""
    ephemeral(slack.command("add Tokyo Bank"))
    ephemeral(slack.command("add 🇯🇵 Tokyo Trading"))
    text = ephemeral(slack.command("checkin tokyo green all fine"))
    assert "matches more than one customer" in text and "*Tokyo Bank*" in text, text
    assert "*🇯🇵 Tokyo Trading*" in text, text
    assert text.endswith("You typed: `/partner checkin tokyo green all fine`"), text
    assert store.checkins(team_id=TEAM_ID) == []

    text = ephemeral(slack.command("checkin tokyo trading green all fine"))
    assert "Logged a green check-in for *🇯🇵 Tokyo Trading*: all fine" in text, text
    text = ephemeral(slack.command("checkin TOKYO TRADING, yellow: pricing"))
    assert "Logged a yellow check-in for *🇯🇵 Tokyo Trading*: pricing" in text, text
    assert ephemeral(slack.command("show tokyo trading")).startswith("🇯🇵 Tokyo Trading:")
    assert "Logged a red check-in for *Tokyo Bank*" in ephemeral(slack.command("checkin tokyo bank red churn"))
    assert names_of_checkins(store) == [
        ("Tokyo Bank", "red", "churn"),
        ("🇯🇵 Tokyo Trading", "yellow", "pricing"),
        ("🇯🇵 Tokyo Trading", "green", "all fine"),
    ]
    bot.settle()


def test_a_plain_name_typed_whole_still_beats_one_after_an_emoji(
    slack: SlackRequests, store: Store, bot: BotServer
) -> None:
    ephemeral(slack.command("add Tokyo"))
    ephemeral(slack.command("add 🇯🇵 Tokyo Trading"))
    assert "for *Tokyo*:" in ephemeral(slack.command("checkin tokyo green fine"))
    assert "for *🇯🇵 Tokyo Trading*:" in ephemeral(slack.command("checkin tokyo trading green fine"))
    assert "Archived *🇯🇵 Tokyo Trading*" in ephemeral(slack.command("archive tokyo trading"))
    assert "Restored *🇯🇵 Tokyo Trading*" in ephemeral(slack.command("restore tokyo trading"))
    bot.settle()


@pytest.mark.parametrize(
    "typed",
    ["checkin beta green all fine", "checkin Beta Green call all fine", "checkin beta green  fine next=fri"],
)
def test_a_name_that_is_another_plus_a_mood_word_asks_which_with_both_to_copy(
    slack: SlackRequests, store: Store, typed: str
) -> None:
    """With Beta and Beta Green, `checkin beta green all fine` answered "'all' is not a mood": nothing said it was
    read as Beta Green, nor how to log Beta's green check-in."""
    ephemeral(slack.command("add Beta"))
    ephemeral(slack.command("add Beta Green"))
    text = ephemeral(slack.command(typed))
    assert "so this reads as *Beta Green* with no mood" in text, text
    after = typed.split(maxsplit=3)[3]
    assert f"For *Beta* ({typed.split()[2]}): `/partner checkin Beta {typed.split(maxsplit=2)[2]}`" in text, text
    assert f"for *Beta Green*, its mood after the name: `/partner checkin Beta Green &lt;mood&gt; {after}`" in text
    assert text.endswith(f"You typed: `/partner {typed}`"), text
    assert store.checkins(team_id=TEAM_ID) == []


def test_beta_green_with_its_own_mood_and_beta_with_a_comma_are_logged(
    slack: SlackRequests, store: Store, bot: BotServer
) -> None:
    ephemeral(slack.command("add Beta"))
    ephemeral(slack.command("add Beta Green"))
    assert "for *Beta Green*: all fine" in ephemeral(slack.command("checkin beta green green all fine"))
    assert "for *Beta*: fine" in ephemeral(slack.command("checkin beta, green fine"))
    assert "for *Beta Green*: meh" in ephemeral(slack.command("checkin beta green red meh"))
    bot.settle()


def test_call_typed_before_the_mood_is_a_call(slack: SlackRequests, store: Store, bot: BotServer) -> None:
    """`checkin acme call green …` was refused with "'call' is not a mood"."""
    ephemeral(slack.command("add Acme Corp"))
    text = ephemeral(slack.command("checkin acme call green went through the roadmap"))
    assert "Logged a green call check-in for *Acme Corp*: went through the roadmap" in text, text
    (entry,) = store.checkins(team_id=TEAM_ID)
    assert (entry.kind, entry.mood, entry.note) == ("call", "green", "went through the roadmap")
    bot.settle()


@pytest.mark.parametrize("typed", ["list page=2", "list all page=9", "LIST PAGE=2"])
def test_a_page_past_the_last_says_so(slack: SlackRequests, typed: str) -> None:
    """`list page=2` with one page showed page 1 as if it were page 2."""
    ephemeral(slack.command("add Acme Corp"))
    body = slack.command(typed).json()
    page = typed.split("=")[1]
    assert f"There is no page {page}: the list fits on one page." in body["text"], body["text"]
    assert any(f"There is no page {page}" in str(b) for b in body["blocks"])
    assert "*Acme Corp*" in str(body["blocks"])
    plain = slack.command("list").json()
    assert "There is no page" not in str(plain)


@pytest.mark.parametrize(
    ("typed", "mood", "note"),
    [
        ("checkin <#C0ACME|acme>, green fine", "green", "fine"),
        ("checkin <#C0ACME>: red: outage", "red", "outage"),
        ("checkin acme corp — green: fine", "green", "fine"),
        ("checkin acme - yellow pricing questions", "yellow", "pricing questions"),
        ("checkin acme 👍 renewal signed", "green", "renewal signed"),
        ("checkin acme 👍🏽 renewal signed", "green", "renewal signed"),
        ("checkin acme ⚠️ slow replies", "yellow", "slow replies"),
        ("checkin acme 🙁 slow replies", "yellow", "slow replies"),
        ("checkin acme 🚨 outage", "red", "outage"),
        ("checkin acme 👎 outage", "red", "outage"),
    ],
)
def test_a_check_in_typed_as_a_sentence_or_with_a_phones_emoji_is_logged(
    slack: SlackRequests, store: Store, bot: BotServer, typed: str, mood: str, note: str
) -> None:
    """`<#C0ACME|acme>, green …` answered "No customer matches '<#C0ACME|acme>,'" (a name followed by a comma is read);
    `acme corp — green: …` "'—' is not a mood"; and 👍 or 🚨 typed on a phone "'👍' is not a mood", though
    `:+1:` and `:rotating_light:` are moods."""
    add_acme(slack)
    text = ephemeral(slack.command(typed))
    assert "Logged" in text and "*Acme Corp*" in text, text
    (entry,) = store.checkins(team_id=TEAM_ID)
    assert (entry.mood, entry.note) == (mood, note)
    bot.settle()


def test_a_page_past_the_last_of_several_shows_the_last_and_says_so(
    slack: SlackRequests, store: Store, clock: FakeClock
) -> None:
    for n in range(25):
        store.add_customer(team_id=TEAM_ID, name=f"Customer {n:02}", created_by="U0001", now=clock.now)
    body = slack.command("list page=5").json()
    assert "There is no page 5: the list has 2 pages, and this is the last." in body["text"], body["text"]
    assert "(page 2 of 2)" in body["text"] and "*Customer 24*" in str(body["blocks"])
    assert "There is no page" not in str(slack.command("list page=2").json())


@pytest.mark.parametrize(
    ("typed", "mood", "note"),
    [
        ("checkin 東京商事、 green 順調です", "green", "順調です"),
        ("checkin 東京商事： red、 解約の話", "red", "解約の話"),
        ("checkin 東京、 yellow。 価格の相談", "yellow", "価格の相談"),
    ],
)
def test_a_check_in_punctuated_as_japanese_is_written_is_logged(
    slack: SlackRequests, store: Store, bot: BotServer, typed: str, mood: str, note: str
) -> None:
    """`checkin 東京商事、 green …` answered "No customer matches '東京商事、'": the ideographic comma ending a
    name, or a mood, is read off it as `acme, green` reads the Latin one."""
    ephemeral(slack.command("add 東京商事"))
    text = ephemeral(slack.command(typed))
    assert "Logged" in text and "*東京商事*" in text, text
    (entry,) = store.checkins(team_id=TEAM_ID)
    assert (entry.mood, entry.note) == (mood, note)
    bot.settle()


@pytest.mark.parametrize("typed", ["?", "--help", "-h", "help?", "help!", "Help."])
def test_help_asked_as_other_tools_or_a_sentence_ask_it_is_the_help(slack: SlackRequests, typed: str) -> None:
    """`/partner ?` answered "I don't know `?`", and `/partner help?` "I don't know `help?`", before the list."""
    text = ephemeral(slack.command(typed))
    assert "I don't know" not in text and "/partner checkin" in text, text


@pytest.mark.parametrize(("typed", "shown"), [("list.", "All customers"), ("show: acme", "Acme Corp:")])
def test_a_subcommand_followed_by_punctuation_is_that_subcommand(slack: SlackRequests, typed: str, shown: str) -> None:
    add_acme(slack)
    text = ephemeral(slack.command(typed))
    assert text.startswith(shown), text


def test_restoring_a_customer_without_a_cadence_says_so_in_words(slack: SlackRequests) -> None:
    """The answer read "owner <@U0001>, cadence no cadence."."""
    ephemeral(slack.command("add Acme Corp"))
    ephemeral(slack.command("archive acme corp"))
    text = ephemeral(slack.command("restore acme"))
    assert "with all its check-ins: owner <@U0001>, no cadence. No nudge is scheduled." in text, text
    assert "cadence no cadence" not in text


@pytest.mark.parametrize("typed", ["add Acme Corp.", "add ACME CORP!", "add Acme Corp: <#C0001|general>"])
def test_a_name_that_is_another_but_for_its_last_punctuation_is_refused(
    slack: SlackRequests, store: Store, typed: str
) -> None:
    """`/partner add Acme Corp.` (the full stop of a sentence) beside Acme Corp added a second customer: check-ins
    split between the two, and every `acme` after it asked which one."""
    ephemeral(slack.command("add Acme Corp"))
    text = ephemeral(slack.command(typed))
    assert "There is already a customer called *Acme Corp*" in text, text
    assert [c.name for c in store.customers(team_id=TEAM_ID)] == ["Acme Corp"]
    assert "for *Acme Corp*:" in ephemeral(slack.command("checkin acme green fine"))


def test_a_rename_onto_another_name_but_for_its_punctuation_is_refused(slack: SlackRequests, store: Store) -> None:
    ephemeral(slack.command("add Acme Inc."))
    ephemeral(slack.command("add Globex"))
    text = ephemeral(slack.command("edit globex name=Acme Inc"))
    assert "There is already a customer called *Acme Inc.*" in text, text
    assert sorted(c.name for c in store.customers(team_id=TEAM_ID)) == ["Acme Inc.", "Globex"]
    # Its own name with a full stop added is the same customer's to take.
    assert "Acme Inc" in ephemeral(slack.command("edit acme inc. name=Acme Inc"))
    assert sorted(c.name for c in store.customers(team_id=TEAM_ID)) == ["Acme Inc", "Globex"]


def test_the_add_form_refuses_a_name_that_is_another_but_for_its_punctuation_next_to_the_name(
    slack: SlackRequests, store: Store
) -> None:
    ephemeral(slack.command("add Acme Corp"))
    reply = slack.view_submission(ADD_CUSTOMER_MODAL, field_values(name="Acme Corp.", owner="U0001"))
    assert "There is already a customer called Acme Corp:" in reply.json()["errors"]["name"], reply.text
    assert [c.name for c in store.customers(team_id=TEAM_ID)] == ["Acme Corp"]


@pytest.mark.parametrize("typed", ["restore acme corp,", "restore Acme Corp.", "restore acme corp!"])
def test_restore_reads_a_name_ending_a_sentence_as_the_other_commands_do(slack: SlackRequests, typed: str) -> None:
    """`restore acme corp,` answered "I didn't understand 'corp,' after *Acme Corp*", though `archive acme corp.` and
    `show acme corp!` read the name."""
    ephemeral(slack.command("add Acme Corp"))
    ephemeral(slack.command("add Acme Labs"))
    assert "Archived *Acme Corp*" in ephemeral(slack.command("archive acme corp."))
    text = ephemeral(slack.command(typed))
    assert "Restored *Acme Corp*" in text, text


@pytest.mark.parametrize(
    ("typed", "mood"),
    [
        ("checkin 東京商事 ４ 順調", "4"),
        ("checkin 東京商事 ２／５ 解約の話", "2"),
        ("checkin 東京商事 ｇｒｅｅｎ 順調", "green"),
    ],
)
def test_a_mood_typed_full_width_by_a_japanese_keyboard_is_read(
    slack: SlackRequests, store: Store, bot: BotServer, typed: str, mood: str
) -> None:
    """`checkin 東京商事 ４ …` (the input method's full-width 4) answered "'４' is not a mood"."""
    ephemeral(slack.command("add 東京商事"))
    text = ephemeral(slack.command(typed))
    assert "Logged" in text and "*東京商事*" in text, text
    (entry,) = store.checkins(team_id=TEAM_ID)
    assert entry.mood == mood
    bot.settle()


def test_beta_green_typed_alone_names_both_readings_and_the_note_they_need(slack: SlackRequests, store: Store) -> None:
    """With Beta and Beta Green, `checkin beta green` answered "How is it going? Add a mood": nothing said it was read
    as Beta Green, nor that Beta's green check-in needed only its note."""
    ephemeral(slack.command("add Beta"))
    ephemeral(slack.command("add Beta Green"))
    text = ephemeral(slack.command("checkin beta green"))
    assert text.startswith("This reads as *Beta Green* with no mood. "), text
    assert "For *Beta* (green): `/partner checkin Beta green &lt;note&gt;`" in text, text
    assert "for *Beta Green*, its mood after the name: `/partner checkin Beta Green &lt;mood&gt; &lt;note&gt;`" in text
    assert store.checkins(team_id=TEAM_ID) == []
