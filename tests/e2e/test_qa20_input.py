"""End to end, session 20: what people type and paste, exactly as Slack delivers it — names pasted with characters
that show nothing, accents sent as characters of their own, notes over several lines given back whole."""

from __future__ import annotations

import pytest

from storage.store import Store
from tests.e2e.test_foundation import ephemeral
from tests.e2e.test_names_as_typed import shown_as_typed
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import TEAM_ID, BotServer

LRM, RLM, ZWSP, BOM, ISOLATE, POP_ISOLATE = "\u200e", "\u200f", "\u200b", "\ufeff", "\u2066", "\u2069"


def notes_of(store: Store) -> list[tuple[str, str]]:
    names = {c.id: c.name for c in store.customers(team_id=TEAM_ID)}
    return [(names[c.customer_id], c.note) for c in store.checkins(team_id=TEAM_ID)]


@pytest.mark.parametrize(
    "pasted",
    [f"Acme Corp{ZWSP}", f"{ISOLATE}Acme Corp{POP_ISOLATE}", f"{LRM}Acme Corp", "Acme\u00a0Corp"],
)
def test_a_name_pasted_with_characters_that_show_nothing_is_the_name_it_shows(
    slack: SlackRequests, store: Store, pasted: str
) -> None:
    """`add Acme Corp` pasted with a zero-width space or the direction isolates a copy from a web page or a
    right-to-left app carries added a second "Acme Corp", identical on screen, and every `acme` was then ambiguous."""
    ephemeral(slack.command("add Acme Corp"))
    text = ephemeral(slack.command(f"add {pasted}"))
    assert "There is already a customer called *Acme Corp*" in text, text
    assert [c.name for c in store.customers(team_id=TEAM_ID)] == ["Acme Corp"]
    assert "for *Acme Corp*: kickoff" in ephemeral(slack.command(f"checkin {pasted} green kickoff"))


def test_an_accent_sent_as_a_character_of_its_own_is_the_same_name(slack: SlackRequests, store: Store) -> None:
    """`Café Olé` copied from a PDF or a macOS file name comes decomposed (e + U+0301): it added a second Café Olé."""
    ephemeral(slack.command("add Café Olé"))
    text = ephemeral(slack.command("add Cafe\u0301 Ole\u0301"))
    assert "There is already a customer called *Café Olé*" in text, text
    assert [c.name for c in store.customers(team_id=TEAM_ID)] == ["Café Olé"]


def test_a_hebrew_name_with_direction_marks_is_stored_and_found_as_it_shows(
    slack: SlackRequests, store: Store, bot: BotServer
) -> None:
    """A name copied from a right-to-left app carries marks that set its direction: it was stored with them (a name
    nobody could type again), and `checkin שלום‏ …` or a mood after such a mark was refused."""
    text = ephemeral(slack.command(f'add {RLM}שלום בע"מ{LRM}'))
    assert 'Added *שלום בע"מ*' in text, text
    assert [c.name for c in store.customers(team_id=TEAM_ID)] == ['שלום בע"מ']
    assert 'for *שלום בע"מ*' in ephemeral(slack.command(f"checkin שלום{RLM} green הכל טוב{RLM}."))
    assert 'for *שלום בע"מ*' in ephemeral(slack.command(f"checkin {RLM}שלום {LRM}yellow מחיר"))
    # The note is kept as typed, its marks too: they place the full stop of a right-to-left sentence.
    assert notes_of(store) == [('שלום בע"מ', "מחיר"), ('שלום בע"מ', f"הכל טוב{RLM}.")]
    bot.settle()


@pytest.mark.parametrize("before", [LRM, BOM, ZWSP])
def test_a_command_pasted_with_an_invisible_character_before_it_is_that_command(
    slack: SlackRequests, store: Store, bot: BotServer, before: str
) -> None:
    """A check-in pasted with a mark before it was answered "I don't know `checkin`. Did you mean
    `/partner checkin`?"."""
    ephemeral(slack.command("add Acme Corp"))
    assert "Logged a green check-in for *Acme Corp*" in ephemeral(slack.command(f"{before}checkin acme green kickoff"))
    assert notes_of(store) == [("Acme Corp", "kickoff")]
    bot.settle()


def test_an_emoji_joined_with_zero_width_joiners_keeps_them(slack: SlackRequests, store: Store) -> None:
    """The joiner is no stray character: 👩‍💼 is one emoji only with it."""
    ephemeral(slack.command("add 👩\u200d💼 Exec Co"))
    assert [c.name for c in store.customers(team_id=TEAM_ID)] == ["👩\u200d💼 Exec Co"]
    assert "for *👩\u200d💼 Exec Co*" in ephemeral(slack.command("checkin exec green fine"))


@pytest.mark.parametrize(
    "typed",
    [
        "checkin nosuch green Call went well.\nNext: *pricing* by Fri\n• send the deck",
        "checkin nosuch green ran `terraform plan` with them",
        "boundary nosuch add “Reply within a day”\nkind=response_time",
        "snooze nosuch 1d OOO\nback Monday",
        "chekin acme green line one\nline two",
    ],
)
def test_a_refused_command_over_several_lines_or_with_code_is_given_back_whole(
    slack: SlackRequests, store: Store, typed: str
) -> None:
    """The answer's "You typed: `…`" gave a note over several lines (Shift+Enter in the message box) or with `code`
    in it back in an inline code span, which Slack ends at the line break or the first backtick: the rest showed as
    formatted text, its *stars* read as bold, and what was copied back was not what was typed. A code block keeps it
    whole."""
    text = ephemeral(slack.command(typed))
    assert f"You typed: ```/partner {typed}```" in text, text
    assert store.checkins(team_id=TEAM_ID) == []


def test_a_refused_command_on_one_line_is_still_given_back_in_a_span(slack: SlackRequests) -> None:
    text = ephemeral(slack.command("checkin nosuch green Q&amp;A went well"))
    assert text.endswith("You typed: `/partner checkin nosuch green Q&amp;A went well`"), text


def confirm_texts(payload: object) -> list[str]:
    """The text of every confirm dialog in a message or view: Slack shows it as plain text, each character as is."""
    if isinstance(payload, list):
        return [t for item in payload for t in confirm_texts(item)]
    if not isinstance(payload, dict):
        return []
    dialog = payload.get("confirm")
    own = [dialog["text"]["text"]] if isinstance(dialog, dict) and "title" in dialog else []
    return own + [t for value in payload.values() for t in confirm_texts(value)]


def test_retiring_an_agreement_that_names_a_person_or_a_link_asks_in_words(
    slack: SlackRequests, store: Store, bot: BotServer
) -> None:
    """The Retire button's "are you sure?" (plain text) read “Keep <@U0002|sam> in the loop per
    <https://acme.example/sla|our SLA>”: Slack's markup, where the list above it shows @sam and a link."""
    ephemeral(slack.command("add Acme Corp <#C0ACME|acme> <@U0001|dana>"))
    typed = 'boundary acme add "Keep <@U0002|sam> in the loop per <https://acme.example/sla|our SLA> &amp; *always* cc"'
    assert "Proposed" in ephemeral(slack.command(typed))
    (asked,) = confirm_texts(slack.command("boundary acme list").json()["blocks"])
    assert asked == (
        "Stop asking the customer to uphold “Keep @sam in the loop per our SLA (https://acme.example/sla) & always cc”?"
        " Its history is kept."
    ), asked
    card = slack.command("show acme").json()["blocks"]
    assert [t for t in confirm_texts(card) if "uphold" in t] == [asked]
    bot.settle()


@pytest.mark.parametrize("name", ["_Acme_ Beta ~Co~", "*NIX Labs"])
def test_a_refusal_naming_a_customer_shows_its_name_as_typed(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, name: str
) -> None:
    """README: a name "is shown as typed in every message too". The refusals that name a customer taken or not
    yours sent it raw between the answer's own stars: "There is already a customer called *_Acme_ Beta ~Co~*"
    showed "Acme" in italics and "Co" struck through, and "*NIX Labs" closed the bold early."""
    fake_slack.add_user("U0003", name="lee")
    ephemeral(slack.command(f"add {name} <@U0001|dana>"))
    ephemeral(slack.command("add Globex <@U0001|dana>"))
    for typed in (f"add {name}", f"add {name}.", f"edit globex name={name}"):
        text = ephemeral(slack.command(typed))
        assert "There is already a customer called" in text, text
        assert shown_as_typed({"text": text}, name), text
    text = ephemeral(slack.command(f"edit {name} tz=Europe/Berlin", user_id="U0003"))
    assert "You can't edit" in text and shown_as_typed({"text": text}, name), text
    assert sorted(c.name for c in store.customers(team_id=TEAM_ID)) == sorted(["Globex", name])


def test_a_command_typed_in_full_width_letters_is_that_command(
    slack: SlackRequests, store: Store, bot: BotServer
) -> None:
    """A Japanese or Chinese keyboard left in full-width mode types `ｃｈｅｃｋｉｎ`: the name, the mood and the
    rating were read (README), the command's own word was not ("I don't know `ｃｈｅｃｋｉｎ`")."""
    ephemeral(slack.command("add Acme Corp"))
    text = ephemeral(slack.command("ｃｈｅｃｋｉｎ\u3000ａｃｍｅ\u3000ｇｒｅｅｎ\u3000キックオフ良好"))
    assert "Logged a green check-in for *Acme Corp*: キックオフ良好" in text, text
    assert "How to use `/partner checkin`" in ephemeral(slack.command("ｈｅｌｐ ｃｈｅｃｋｉｎ"))
    assert ephemeral(slack.command("ＬＩＳＴ")).startswith("All customers — 1 customer")
    assert notes_of(store) == [("Acme Corp", "キックオフ良好")]
    bot.settle()
