from __future__ import annotations

import pytest

from domain.customers import match_customer, name_key, require_customer
from domain.errors import UserError
from handlers.commands.checkin import CheckinText, read_checkin_text
from handlers.commands.partner import route
from handlers.parsing import (
    ChannelRef,
    UserRef,
    parse_channel,
    parse_key_value,
    parse_mood,
    parse_user,
    require_mood,
    split_first,
    split_quoted,
    tokenize,
    unescape,
    unquote_words,
)


def test_tokenize_keeps_quotes_and_escaped_mentions_whole() -> None:
    text = 'add "Acme Corp" <#C0123|acme-partners> <@U0456|dana smith> tz=Europe/Berlin'
    assert tokenize(text) == ["add", "Acme Corp", "<#C0123|acme-partners>", "<@U0456|dana smith>", "tz=Europe/Berlin"]
    assert tokenize("“Smart quotes” too") == ["Smart quotes", "too"]
    assert tokenize("") == []


@pytest.mark.parametrize("quoted", ['"Acme Corp”', '“Acme Corp"', '"Acme Corp"', "“Acme Corp”"])
def test_a_straight_quote_pairs_with_a_curly_one(quoted: str) -> None:
    # Phones and Macs curl one end only: the phrase still ends at its quote, the mentions after it stay apart.
    assert tokenize(f"{quoted} <#C0123|> <@U0456>") == ["Acme Corp", "<#C0123|>", "<@U0456>"]


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("‘Acme Corp’ <#C0123|>", ["Acme Corp", "<#C0123|>"]),
        ("‘Macy’s Corp’ tz=UTC", ["Macy’s Corp", "tz=UTC"]),  # an apostrophe inside a word does not close it
        ("Macy’s Corp", ["Macy’s", "Corp"]),
        ("Jones’ Bakery", ["Jones’", "Bakery"]),
    ],
)
def test_curled_single_quotes_quote_a_phrase_up_to_a_word_ending_quote(text: str, tokens: list[str]) -> None:
    assert tokenize(text) == tokens


def test_an_unclosed_quote_is_named_back_when_the_caller_gives_its_usage() -> None:
    with pytest.raises(UserError) as refused:
        tokenize('"Acme Corp <#C0123|acme>', usage="u")
    assert str(refused.value) == "The quote in '\"Acme Corp <#C0123|acme>' is never closed. Usage: `u`"


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (['"Acme', 'Corp"', "green"], ["Acme", "Corp", "green"]),
        (["“Acme”", "green"], ["Acme", "green"]),
        (['"Acme', "Corp”", "green"], ["Acme", "Corp", "green"]),
        (["acme", 'Corp"', "green"], ["acme", 'Corp"', "green"]),
        (['"Acme', "corp", "green"], ['"Acme', "corp", "green"]),
        (["‘Macy’s", "Corp’", "green"], ["Macy’s", "Corp", "green"]),
        (["‘Acme", 'Corp"', "green"], ["‘Acme", 'Corp"', "green"]),
    ],
)
def test_unquote_words_takes_the_quotes_off_a_leading_phrase_only(words: list[str], expected: list[str]) -> None:
    assert unquote_words(words) == expected


# One rule for what a quoted phrase is: the tokenizer (add, edit, status…), the customer lookup (checkin, show…) and
# the boundary text and wording all read the same phrase from the same text.
@pytest.mark.parametrize(
    ("text", "phrase", "rest"),
    [
        ('"Acme Corp" green', "Acme Corp", " green"),
        ("“Acme Corp” green", "Acme Corp", " green"),
        ('"Acme Corp” green', "Acme Corp", " green"),
        ('“Acme Corp" green', "Acme Corp", " green"),
        ('"Acme Corp” and "Beta"', "Acme Corp", ' and "Beta"'),  # ends at its own quote, not the last straight one
        ("‘Acme Corp’ green", "Acme Corp", " green"),
        ("‘Macy’s Home’ green", "Macy’s Home", " green"),
        ("‘We don’t call’ kind=custom", "We don’t call", " kind=custom"),
        ('"We call it “the promise” here" green', "We call it “the promise” here", " green"),
        ('“We call it "the promise" here” green', 'We call it "the promise" here', " green"),
        ("”Acme Corp” green", "Acme Corp", " green"),  # Swedish quotes: ” on both ends
    ],
)
def test_every_reader_takes_the_same_quoted_phrase(text: str, phrase: str, rest: str) -> None:
    assert split_quoted(text, "u") == (phrase, rest)
    assert tokenize(text)[0] == phrase
    words = text.split()
    used = len(phrase.split())
    assert unquote_words(words) == [*phrase.split(), *words[used:]]


@pytest.mark.parametrize("text", ['"Acme Corp <#C0123|acme>', "‘Acme Corp <#C0123|acme>", "“Acme", "‘Macy’s"])
def test_every_reader_sees_the_same_unclosed_quote(text: str) -> None:
    message = f"The quote in '{text}' is never closed. Usage: `u`"
    with pytest.raises(UserError) as split:
        split_quoted(f"  {text} ", "u")
    with pytest.raises(UserError) as tokenized:
        tokenize(f"add {text}", usage="u")
    assert str(split.value) == str(tokenized.value) == message
    assert unquote_words(text.split()) == text.split()


def test_split_first_keeps_the_rest_untouched() -> None:
    assert split_first("  checkin acme   green *bold*  note ") == ("checkin", "acme   green *bold*  note")
    assert split_first("help") == ("help", "")
    assert split_first("   ") == ("", "")


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("<#C0123|acme>", ChannelRef("C0123", "acme")),
        ("<#C0123>", ChannelRef("C0123", None)),
        ("<#C0123|>", ChannelRef("C0123", None)),
        ("<#G0999|private>", ChannelRef("G0999", "private")),
        ("#Acme", ChannelRef(None, "acme")),
        ("acme", None),
        ("#", None),
    ],
)
def test_parse_channel(token: str, expected: ChannelRef | None) -> None:
    assert parse_channel(token) == expected


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("<@U0456|dana>", UserRef("U0456", "dana")),
        ("<@U0456>", UserRef("U0456", None)),
        ("<@W0456|grid>", UserRef("W0456", "grid")),
        ("@dana", UserRef(None, "dana")),
        ("dana", None),
    ],
)
def test_parse_user(token: str, expected: UserRef | None) -> None:
    assert parse_user(token) == expected


@pytest.mark.parametrize(
    ("token", "color", "score"),
    [
        ("green", "green", 5),
        ("GREEN", "green", 5),
        ("y", "yellow", 3),
        ("red", "red", 1),
        ("4", "green", 4),
        ("3", "yellow", 3),
        ("2", "red", 2),
        (":large_green_circle:", "green", 5),
        ("🔴", "red", 1),
    ],
)
def test_parse_mood(token: str, color: str, score: int) -> None:
    mood = parse_mood(token)
    assert mood is not None and (mood.color, mood.score) == (color, score)


@pytest.mark.parametrize("token", ["purple", "6", "0", "kickoff", ""])
def test_not_a_mood(token: str) -> None:
    assert parse_mood(token) is None


def test_require_mood_explains() -> None:
    with pytest.raises(UserError, match="'purple' is not a mood"):
        require_mood("purple", "usage")
    with pytest.raises(UserError, match="Add a mood"):
        require_mood(None, "usage")


def test_key_values_and_unescape() -> None:
    assert parse_key_value("tz=Europe/Berlin") == ("tz", "Europe/Berlin")
    assert parse_key_value("TZ=UTC") == ("tz", "UTC")
    assert parse_key_value("plain") is None
    assert unescape("a &lt;b&gt; &amp;amp;") == "a <b> &amp;"


class C:
    def __init__(self, name: str) -> None:
        self.name = name


def names(*values: str) -> list[C]:
    return [C(v) for v in values]


def test_longest_exact_name_wins() -> None:
    customers = names("Acme", "Acme Corp", "Globex")
    m = match_customer(customers, ["acme", "corp", "yellow", "note"], name_of=lambda c: c.name)
    assert m.customer is not None and m.customer.name == "Acme Corp" and m.rest == ["yellow", "note"]
    m = match_customer(customers, ["ACME", "green", "x"], name_of=lambda c: c.name)
    assert m.customer is not None and m.customer.name == "Acme" and m.rest == ["green", "x"]


def test_unambiguous_prefix_matches_and_ambiguous_lists_candidates() -> None:
    customers = names("Acme", "Acme Corp", "Globex")
    m = match_customer(customers, ["glo", "green"], name_of=lambda c: c.name)
    assert m.customer is not None and m.customer.name == "Globex" and m.rest == ["green"]
    m = match_customer(customers, ["ac", "green"], name_of=lambda c: c.name)
    assert m.customer is None and [c.name for c in m.candidates] == ["Acme", "Acme Corp"]
    m = match_customer(customers, ["acme", "co", "green"], name_of=lambda c: c.name)
    assert m.customer is not None and m.customer.name == "Acme", "an exact name beats a longer prefix"


def test_require_customer_messages() -> None:
    customers = names("Acme Corp", "Globex")
    with pytest.raises(UserError, match="No customer matches 'acm3' — did you mean Acme Corp"):
        require_customer(customers, ["acm3", "green"], name_of=lambda c: c.name, usage="u")
    with pytest.raises(UserError, match="There are no customers yet"):
        require_customer([], ["acme"], name_of=lambda c: c.name, usage="u")
    with pytest.raises(UserError, match="Which customer"):
        require_customer(customers, [], name_of=lambda c: c.name, usage="u")


def test_name_key_folds_case_and_spaces() -> None:
    assert name_key("  Acme   CORP ") == "acme corp"


@pytest.mark.parametrize("name", ["Macy's", "Macy’s", "MACY‘S", "Macyʼs", "Macy`s"])
def test_name_key_folds_every_apostrophe_a_keyboard_types(name: str) -> None:
    # The stored key: names unique per workspace whichever apostrophe typed them, found in one read.
    assert name_key(name) == "macy's"


def test_route_suggests_close_subcommands() -> None:
    assert route("checkin")[0] is not None
    assert route("CHECK-IN")[0] is not None
    sub, suggestion = route("chekin")
    assert sub is None and suggestion == "checkin"
    assert route("xyzzy") == (None, None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            " call next=fri response=2d kickoff *done*",
            CheckinText("call", {"next": "fri", "response": "2d"}, "kickoff *done*"),
        ),
        (
            " waiting on legal  response=36h next=2026-12-03",
            CheckinText("async", {"response": "36h", "next": "2026-12-03"}, "waiting on legal"),
        ),
        (" reply=1.5d call slow again", CheckinText("call", {"response": "1.5d"}, "slow again")),
        (" asked for response=fast replies", CheckinText("async", {}, "asked for response=fast replies")),
        (" response=2d response=3d", CheckinText("async", {"response": "2d"}, "response=3d")),
        # A number and its unit typed as two words are read together, after the mood or at the end.
        (
            " response=3 days waited on legal",
            CheckinText("async", {"response": "3 days"}, "waited on legal"),
        ),
        (
            " waited on legal response=1.5 Days next=2 weeks",
            CheckinText("async", {"next": "2 weeks", "response": "1.5 Days"}, "waited on legal"),
        ),
        (" signed 3 days early response=2 h", CheckinText("async", {"response": "2 h"}, "signed 3 days early")),
        # …and business days as three words, the way agreements are written.
        (
            " response=2 business days waited on legal",
            CheckinText("async", {"response": "2 business days"}, "waited on legal"),
        ),
        (
            " waited on legal response=1 Business day next=fri",
            CheckinText("async", {"next": "fri", "response": "1 Business day"}, "waited on legal"),
        ),
        (" next=2 business days late", CheckinText("async", {"next": "2"}, "business days late")),
        (" response=3 days", CheckinText("async", {"response": "3 days"}, "")),
        (" asked for response=3 soon", CheckinText("async", {}, "asked for response=3 soon")),
        (" next=fri", CheckinText("async", {"next": "fri"}, "")),
        (" response=2d", CheckinText("async", {"response": "2d"}, "")),
        ("", CheckinText("async", {}, "")),
    ],
)
def test_checkin_flags_after_the_mood_or_at_the_end_and_the_note_as_typed(text: str, expected: CheckinText) -> None:
    assert read_checkin_text(text) == expected
