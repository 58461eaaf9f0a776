"""Reading what people type after `/partner`: words, quoted phrases, Slack's escaped mentions, moods."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from domain.boundaries import UNNAMED_GROUP
from domain.customers import as_seen
from domain.errors import UserError
from domain.health import mood_colour, mood_value
from domain.mrkdwn import escape

# With `should_escape: true` Slack sends <#C0123|acme>, <@U0456|dana>, <!subteam^S1|@team>, <https://…|label>.
_CHANNEL = re.compile(r"^<#([CGD][A-Z0-9]+)(?:\|([^>]*))?>$")
_USER = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|([^>]*))?>$")
# What a quoted phrase is, said once for every command (customer names, agreement texts, option values). Phones and
# Macs curl quotes, sometimes one end only: a double-quoted phrase opens with " “ or ” and ends at the first " or ”,
# except that "…" may hold a “curly” pair and “…” a "straight" one (an agreement may quote someone), so a name in
# mixed quotes ("Acme Corp” <#C…>) still ends at its own quote. A straight pair inside straight quotes ("Initech
# "The Best" Ltd", as a desktop types it) is part of the phrase when a closing quote still follows it. Curled single
# quotes (‘Acme Corp’) quote too, but ’ is also the apostrophe (Macy’s, don’t): a single-quoted phrase ends only at a
# ’ that ends a word. So do straight single quotes around whole words ('Acme Corp'), never an apostrophe (O'Brien,
# Macy's) or a quote left open ('90s Fashion).
QUOTE_OPENERS = '"“”‘'
QUOTED_PHRASE = (
    r'"(?P<straight>(?:[^"“”]|“[^"“”]*”|"(?=[^"“”\s])[^"“”]*"(?=[^"“”]*"))*)"'
    r'|“(?P<curly>(?:[^"“”]|"[^"“”]*")*)”'
    r'|["“”](?P<mixed>[^"“”]*)["”]'
    r"|‘(?P<single>[^‘]*?)’(?=\s|$)"
    r"|(?<![^\s])'(?P<plain>[^'\s][^']*?)'(?=\s|$)"
)  # a pattern's text, so that other patterns (boundary options' values) embed the same rule
_QUOTED = re.compile(QUOTED_PHRASE)
# An agreement's text (`boundary … add`, `wording`) is often written as a team writes it: in German („…“, ‚…‘, »…«)
# or French («…», ‹…›, often with a space inside) quotes. Those quote it too, there only: names and other commands
# read quotes as before (a name may well be typed with «» as part of it).
AGREEMENT_QUOTE_OPENERS = QUOTE_OPENERS + "„‚«»‹›"
_AGREEMENT_QUOTED = re.compile(
    r"„(?P<low>[^„“”]*)[“”]"
    r"|‚(?P<low_single>[^‚‘]*)‘"
    r"|«\s*(?P<guillemets>[^«»]*?)\s*»"
    r"|»(?P<guillemets_in>[^«»]*)«"
    r"|‹\s*(?P<angle>[^‹›]*?)\s*›"
    r"|›(?P<angle_in>[^‹›]*)‹"
)
# A quote never closed runs to the end, so the caller can name it back instead of reading the mentions after it as
# part of a name.
_TOKEN = re.compile(rf"<[^>]*>|{QUOTED_PHRASE}|(?P<unclosed>[{QUOTE_OPENERS}][\s\S]*)|\S+")
_KEY_VALUE = re.compile(r"^([a-z_]+)=(.*)$", re.IGNORECASE)


def unescape(text: str) -> str:
    """Slack escapes exactly these three characters in message text."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


# A person or a channel as Slack writes them in a message's text (`<@U0456>`, `<#C0123|acme>`).
_PERSON_OR_CHANNEL = re.compile(r"<(?:@[UW][A-Z0-9]+|#[CG][A-Z0-9]+)(?:\|[^<>]*)?>")
# Anything Slack writes between angle brackets (a mention, a channel, a link, `<!here>`): parse_special says which.
_BRACKETED = re.compile(r"<[^<>]*>")


def escape_keeping_mentions(text: str) -> str:
    """`escape`, except that a person or a channel written as Slack writes them stays a mention: how a message
    logged with "Log as check-in" keeps its people. Links and `<!here>`-style specials are still escaped (text)."""
    kept: list[str] = []
    end = 0
    for match in _PERSON_OR_CHANNEL.finditer(text):
        kept.append(escape(text[end : match.start()]))
        kept.append(match.group(0).replace("&", "&amp;"))
        end = match.end()
    kept.append(escape(text[end:]))
    return "".join(kept)


def readable_markup(text: str) -> str:
    """A message's text as Slack sends it (still escaped: a typed `&lt;b&gt;` is text, not markup) as a person reads
    it, for a plain-text input once unescaped: a link as its label and address (`the plan (https://…)`), `<!here>` as
    `@here`, a user group as its handle. People and channels keep Slack's markup, which `escape_keeping_mentions`
    keeps as mentions on the way back."""

    def readable(match: re.Match[str]) -> str:
        token = match.group(0)
        ref = parse_special(token)
        if ref is None:
            return token
        if ref.kind == "subteam" and ref.label == token:  # no handle sent: named as a group, never as markup
            return UNNAMED_GROUP
        if ref.kind != "link":
            return ref.label
        address = token[1:-1].split("|", 1)[0]
        # Slack links an address as it is typed (`a@b.com` is sent as `<mailto:a@b.com|a@b.com>`): read as typed.
        return ref.label if ref.label in (address, address.removeprefix("mailto:")) else f"{ref.label} ({address})"

    return _BRACKETED.sub(readable, text)


def words_as_read(text: str, *, person: Callable[[str], str] | None = None) -> str:
    """Text as Slack sends it (escaped, with its markup) as a person reads it in Slack, for a file read outside it
    (the CSV export): `<@U0456|dana>` as @dana (one Slack sent without a name as `person(id)`, else @U0456),
    `<#C0123|acme>` as #acme, a link and `<!here>` as `readable_markup` reads them, unescaped; the person's own
    *bold* and _italic_ marks as typed."""
    text = _PERSON.sub(lambda m: "@" + m[2] if m[2] else (person(m[1]) if person else "@" + m[1]), text)
    text = _CHANNEL_MARKUP.sub(lambda m: "#" + (m[2] or m[1]), text)
    return unescape(readable_markup(text))


_PERSON = re.compile(r"<@([UW][A-Z0-9]+)(?:\|([^<>]*))?>")
_CHANNEL_MARKUP = re.compile(r"<#([CG][A-Z0-9]+)(?:\|([^<>]*))?>")
_LINK_MARKUP = re.compile(r"<((?:https?|mailto):[^<>|]*)(?:\|([^<>]*))?>")
_SPECIAL_MARKUP = re.compile(r"<!([^<>|^]*)[^<>|]*(?:\|([^<>]*))?>")
_BOLD_OR_CODE = re.compile(r"\*([^*\n]+)\*|`([^`\n]+)`")


def plain_words(text: str, *, person: Callable[[str], str] | None = None) -> str:
    """Text written for mrkdwn (or as Slack escapes it) as a plain_text object must show it, which prints every
    character as is: `<@U0456|dana>` as @dana, a channel as #its-name, a link as its label and address, `<!here>` as
    @here, *bold* without its stars, unescaped. A person Slack sent without a name is `person(id)`, else @id."""
    text = _PERSON.sub(lambda m: "@" + m[2] if m[2] else (person(m[1]) if person else "@" + m[1]), text)
    text = _CHANNEL_MARKUP.sub(lambda m: "#" + (m[2] or m[1]), text)
    text = _LINK_MARKUP.sub(lambda m: f"{m[2]} ({m[1]})" if m[2] else m[1], text)
    text = _SPECIAL_MARKUP.sub(lambda m: m[2] or (UNNAMED_GROUP if m[1] == "subteam" else "@" + m[1]), text)
    text = _BOLD_OR_CODE.sub(lambda m: m[1] or m[2], text)
    return unescape(text)


def quoted_text(match: re.Match[str]) -> str | None:
    """The text inside the quotes of a match of QUOTED_PHRASE (alone or embedded); None when no phrase matched."""
    return next((t for t in match.group("straight", "curly", "mixed", "single", "plain") if t is not None), None)


def unclosed_quote(text: str, usage: str) -> UserError:
    return UserError(f"The quote in '{text.strip()}' is never closed. Usage: `{usage}`")  # as Slack escaped it


def tokenize(text: str, *, usage: str | None = None, inner_quotes: bool = False) -> list[str]:
    """Split on white space, keeping "quoted phrases" and <escaped|mentions> whole.

    With `usage`, a quote opened and never closed is named back with it rather than read to the end of the text.
    `inner_quotes`: a quoted phrase after the first word keeps its quotes (`Acme "Big" Corp` is a name as typed,
    not Acme Big Corp); only a phrase that starts the text is a quoted name."""
    tokens = []
    for match in _TOKEN.finditer(text or ""):
        token = quoted_text(match)
        if match["unclosed"] is not None:
            if usage is not None:
                raise unclosed_quote(match["unclosed"], usage)
            token = match["unclosed"][1:].strip()
        if token == "":
            continue  # "" names nothing
        if inner_quotes and tokens and match["unclosed"] is None:
            token = None  # as typed, quotes and all
        tokens.append(match.group() if token is None else token)
    return tokens


def split_quoted(text: str, usage: str, *, agreement: bool = False) -> tuple[str, str]:
    """("the quoted text", what follows, untouched) when `text` starts with a quoted phrase; else (all of it, "").

    `agreement`: an agreement's text, which German and French quotes quote as well (AGREEMENT_QUOTE_OPENERS).
    A quote that is opened and never closed is named back rather than kept as part of the text."""
    start = len(text) - len(text.lstrip())
    match = _QUOTED.match(text, start)
    if match is None and agreement and (foreign := _AGREEMENT_QUOTED.match(text, start)) is not None:
        return next(t for t in foreign.groups() if t is not None), text[foreign.end() :]
    if match is None:
        if text[start : start + 1] in tuple(AGREEMENT_QUOTE_OPENERS if agreement else QUOTE_OPENERS):
            raise unclosed_quote(text, usage)
        return text, ""
    return quoted_text(match) or "", text[match.end() :]


def unquote_words(words: Sequence[str]) -> list[str]:
    """The words with the quotes around a leading "quoted phrase" taken off (`"Acme Corp" green` names Acme Corp),
    as many words as given: callers count words to find what follows the phrase."""
    words = list(words)
    joined = " ".join(words)  # the words came split on white space: the phrase can only end at a word's end
    match = _QUOTED.match(joined)
    if match is None or joined[match.end() : match.end() + 1] not in ("", " "):
        return words
    last = joined.count(" ", 0, match.end())  # the word the closing quote ends
    words[0] = words[0][1:]
    words[last] = words[last][:-1]
    return words


def split_first(text: str) -> tuple[str, str]:
    """The first word and the untouched rest, so notes keep their own spacing and formatting."""
    # NUL never comes from a keyboard and PostgreSQL refuses it in text columns: drop it, keep everything else.
    text = (text or "").replace("\x00", "").strip()
    if not text:
        return "", ""
    parts = text.split(None, 1)
    return parts[0], parts[1] if len(parts) > 1 else ""


@dataclass(frozen=True)
class ChannelRef:
    id: str | None
    name: str | None


def parse_channel(token: str) -> ChannelRef | None:
    """`<#C0123|acme>`, `<#C0123>` (escaped) or `#acme` (plain, needs a lookup by name)."""
    m = _CHANNEL.match(token)
    if m:
        return ChannelRef(m.group(1), m.group(2) or None)
    if token.startswith("#") and len(token) > 1:
        return ChannelRef(None, token[1:].lower())
    return None


@dataclass(frozen=True)
class UserRef:
    id: str | None
    name: str | None


def parse_user(token: str) -> UserRef | None:
    """`<@U0456|dana>`, `<@U0456>` (escaped) or `@dana` (plain, needs a lookup by name)."""
    m = _USER.match(token)
    if m:
        return UserRef(m.group(1), m.group(2) or None)
    if token.startswith("@") and len(token) > 1:
        return UserRef(None, token[1:].lower())
    return None


@dataclass(frozen=True)
class SpecialRef:
    kind: str  # "subteam" (a user group), "special" (@here, @channel, @everyone, dates) or "link"
    label: str  # what the person saw in Slack: "@team", "@here", the link's label or address


_SPECIAL = re.compile(r"^<([!]?)([^|>]*)(?:\|([^>]*))?>$")


_LINK = re.compile(r"^<(https?://|mailto:)([^|<>]+)\|([^<>]+)>$", re.IGNORECASE)


def typed_domain(token: str, *, emails: bool = False) -> str:
    """A word Slack turned into a link as it was typed back as typed: with `should_escape`, a name such as
    `Monday.com` arrives as `<http://Monday.com|Monday.com>`. With `emails`, an address too: `support@acme.com`
    arrives as `<mailto:support@acme.com|support@acme.com>` (not in a customer's name and settings, where an address
    is someone meant as the owner, refused rather than read into the name). Any other token comes back unchanged."""
    m = _LINK.match(token)
    if m is None or (m[1].lower() == "mailto:" and not emails):
        return token
    return m[3] if m[3].casefold() == m[2].rstrip("/").casefold() else token


def parse_special(token: str) -> SpecialRef | None:
    """An escaped Slack entity other than a channel or a user: `<!subteam^S1|@team>`, `<!here>`, `<https://…|x>`."""
    if parse_channel(token) is not None or parse_user(token) is not None:
        return None
    m = _SPECIAL.match(token)
    if m is None:
        return None
    bang, target, label = m.groups()
    if bang and target.startswith("subteam^"):
        return SpecialRef("subteam", label or token)
    if bang:
        return SpecialRef("special", label or ("@" + target.split("^")[0] if target else token))
    return SpecialRef("link", label or target or token)


def parse_key_value(token: str) -> tuple[str, str] | None:
    """`key=value` → (key in lower case, value); None for any other word. Read as it looks (as_seen), as a name is: a
    zero-width space or word joiner pasted into `until=2026-12-18` is no part of the date it shows. Notes never come
    through here: what the user typed in one is kept."""
    m = _KEY_VALUE.match(as_seen(token))
    return (m.group(1).lower(), m.group(2)) if m else None


# Moods: the traffic light, a 1–5 score, or an emoji people already use for it.
_MOOD_WORDS = {
    "green": "green",
    "g": "green",
    "good": "green",
    "yellow": "yellow",
    "y": "yellow",
    "amber": "yellow",
    "orange": "yellow",
    "meh": "yellow",
    "red": "red",
    "r": "red",
    "bad": "red",
}
_MOOD_EMOJI = {
    ":large_green_circle:": "green",
    ":green_circle:": "green",
    ":green_heart:": "green",
    ":white_check_mark:": "green",
    ":+1:": "green",
    ":thumbsup:": "green",
    ":smile:": "green",
    ":slightly_smiling_face:": "green",
    ":grinning:": "green",
    ":smiley:": "green",
    ":large_yellow_circle:": "yellow",
    ":large_orange_circle:": "yellow",
    ":orange_circle:": "yellow",
    ":orange_heart:": "yellow",
    ":confused:": "yellow",
    ":slightly_frowning_face:": "yellow",
    ":yellow_circle:": "yellow",
    ":yellow_heart:": "yellow",
    ":warning:": "yellow",
    ":neutral_face:": "yellow",
    ":red_circle:": "red",
    ":heart:": "red",
    ":rotating_light:": "red",
    ":fire:": "red",
    ":-1:": "red",
    ":thumbsdown:": "red",
    ":disappointed:": "red",
    "🟢": "green",
    "💚": "green",
    "🟡": "yellow",
    "💛": "yellow",
    "🔴": "red",
    "❤️": "red",
    # The emoji above as a phone's keyboard types them, rather than Slack's :shortcodes:
    "✅": "green",
    "👍": "green",
    "🙂": "green",
    "😀": "green",
    "😃": "green",
    "😄": "green",
    "🟠": "yellow",
    "🧡": "yellow",
    "😕": "yellow",
    "🙁": "yellow",
    "⚠️": "yellow",
    "⚠": "yellow",
    "😐": "yellow",
    "❤": "red",
    "🚨": "red",
    "🔥": "red",
    "👎": "red",
    "😞": "red",
}
_SKIN_TONE = re.compile(r"(?<=:):skin-tone-[2-6]:$|[\U0001F3FB-\U0001F3FF]")


@dataclass(frozen=True)
class Mood:
    color: str
    score: int  # on the 1–5 scale: green 5, yellow 3, red 1, a rating as typed
    rating: bool = False  # typed as a number: stored as typed ("4"), not as its colour

    @property
    def stored(self) -> str:
        """What the check-in keeps: the rating as typed, or the colour (readers derive the rest: domain.health)."""
        return str(self.score) if self.rating else self.color


# Full-width ASCII (U+FF01–U+FF5E) → ASCII, as a CJK input method types letters, digits and punctuation.
_FULL_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}


def typed_word(token: str) -> str:
    """A command's word (`checkin`, `green`, `4`) as a Latin keyboard types it: as it looks (as_seen), a Japanese or
    Chinese keyboard's full-width `ｃｈｅｃｋｉｎ` or `４` as the letters and digits it shows, in lower case."""
    return as_seen(token).translate(_FULL_WIDTH).lower()


def parse_mood(token: str) -> Mood | None:
    """green/yellow/red (and a few synonyms), 1–5, or a traffic-light emoji; None when it is not a mood."""
    # A Japanese or Chinese keyboard's full-width `４` or `ｇｒｅｅｎ` is the 4 or green it shows.
    t = typed_word(token).strip()
    # `green, kickoff went well` / `red: churn risk`: the punctuation that ends a word in a sentence is not the mood's
    # (read only when the word is no mood as typed: `:+1:` ends with its own colon).
    for word in dict.fromkeys((t, t.rstrip(",.;!、。，；！"), t.rstrip(",.;!:、。，；！："))):
        if word and (mood := _mood_of(word)) is not None:
            return mood
    return None


def _mood_of(t: str) -> Mood | None:
    # Slack writes a thumbs-up with a skin tone as `:+1::skin-tone-3:`: the tone does not change the mood.
    t = _SKIN_TONE.sub("", t)
    color = _MOOD_WORDS.get(t) or _MOOD_EMOJI.get(t)
    if color is not None:
        return Mood(color, mood_value(color))
    # `4/5` as Partner shows a rating (list, card, Home) reads as the rating people copy it from.
    t = t.removesuffix("/5")
    if t in ("1", "2", "3", "4", "5"):  # not isdigit(): "¹" and "٣" are digits that int() may refuse
        return Mood(str(mood_colour(t)), int(t), rating=True)
    return None


def require_mood(token: str | None, usage: str) -> Mood:
    if token is None:
        raise UserError(f"How is it going? Add a mood — green, yellow or red. Usage: `{usage}`")
    mood = parse_mood(token)
    if mood is None:
        # A mistyped colour ("gren", "yelow") is named back with the word meant.
        close = difflib.get_close_matches(token.strip().lower(), ("green", "yellow", "red"), n=1, cutoff=0.75)
        meant = f" — did you mean {close[0]}?" if close else ":"
        raise UserError(f"'{token}' is not a mood{meant} use green, yellow, red, 1–5 or 🟢 🟡 🔴. Usage: `{usage}`")
    return mood
