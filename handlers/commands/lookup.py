"""Finding the customer a command names, including by a name it had before a rename."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TypeVar

from domain.customers import folded_key, match_customer, name_key, require_customer, strip_accents
from domain.errors import UserError
from handlers.blocks import command_name, is_row_id, mrkdwn_name
from handlers.parsing import parse_channel, parse_mood, typed_domain, unescape, unquote_words
from storage.models import Customer
from storage.store import Store

T = TypeVar("T")

# Punctuation that may end a word of a sentence, in Latin and in CJK script (`東京商事、 green …`).
_SENTENCE_ENDS = ",.:;!?、。，：；！？"


def find_customer(
    store: Store, *, team_id: str, words: Sequence[str], usage: str, archived: bool = False
) -> tuple[Customer, list[str]]:
    """The customer at the start of `words` and the words after it.

    `archived` looks among archived customers instead (for `restore`). A miss that is an old name of a
    renamed customer says what it is called now rather than "no customer matches". The customer may also be
    named by its channel (`<#C0123|acme>`, as Slack escapes a picked #channel). The words after the customer
    come back as they were given.
    """
    # `checkin <#C0123|acme>, green …`: the punctuation of a sentence after the channel, as after a name.
    first = words[0] if words else ""
    channel = parse_channel(first.rstrip(_SENTENCE_ENDS) if first.startswith("<#") else first) if words else None
    if channel is not None and channel.id is not None:
        in_channel = store.customers_in_channel(team_id=team_id, channel_id=channel.id, include_archived=True)
        by_channel = [c for c in in_channel if (c.archived_at is not None) == archived]
        if len(by_channel) == 1:
            return by_channel[0], list(words[1:])
        if by_channel:  # several customers share the channel: which one is meant takes its name
            names = ", ".join(f"*{mrkdwn_name(c.name)}*" for c in by_channel)
            raise UserError(f"<#{channel.id}> is the channel of {names}: name the one you mean. Usage: `{usage}`")
        if len(in_channel) == 1 and not archived:  # its one customer is archived: say so, as a typed name does
            hidden = in_channel[0]
            raise UserError(
                f"*{mrkdwn_name(hidden.name)}* is archived. Bring it back with `/partner restore "
                f"{command_name(hidden.name)}`."
            )
        raise UserError(f"No customer has <#{channel.id}> as its channel. Name the customer: `{usage}`")
    given = list(words)
    # Slack sends "Smith & Co" as "Smith &amp; Co"; a name may come in quotes, as `add` takes it.
    # A name like Monday.com comes as the link Slack made of it: read as typed.
    words = [unescape(typed_domain(w)) for w in unquote_words(words)]
    # Only names starting with the first word can match (exactly or as a prefix): the database picks those, so a
    # check-in does not load the whole team. A miss loads every name, for "did you mean" and the other hints.
    prefix = name_key(words[0]) if words else ""
    # Archived customers come too (same statement): an archived name typed whole must not read as a live
    # customer's shorter name followed by "labs" as the mood.
    named, maybe_renamed, maybe_within = store.customers_named_and_renamed_from(team_id=team_id, prefix=prefix)
    try:
        customer, rest = require_customer(
            [c for c in named if (c.archived_at is not None) == archived],
            words,
            name_of=lambda c: c.name,
            usage=usage,
            shown=mrkdwn_name,
        )
    except UserError:
        every = store.customers(team_id=team_id, include_archived=True)  # read once: live and archived
        customers = [c for c in every if (c.archived_at is not None) == archived]
        renamed = _renamed(store, team_id=team_id, words=words, archived=archived) if words else None
        if renamed is not None:
            raise UserError(
                f"'{' '.join(words[: renamed[1]])}' was renamed to *{mrkdwn_name(renamed[0].name)}*; use the new name."
            ) from None
        if words:
            # Accents left out ("cafe" for Café Olé) find the one name they fold to; Slack users type on any keyboard.
            folded = match_customer(
                customers, [strip_accents(w) for w in words], name_of=lambda c: c.name, key_of=folded_key
            )
            if folded.customer is not None:
                return folded.customer, given[len(given) - len(folded.rest) :]
            if (punctuated := _through_punctuation(customers, words, used=0)) is not None:
                return punctuated[0], given[punctuated[1] + len(given) - len(words) :]
            # `checkin rocket …` for "🚀 Rocket Co": an emoji before a name is decoration nobody types in a command
            # (the form's type-ahead finds it by any part of the name already).
            decorated = [c for c in customers if undecorated(c.name) != c.name]
            plain = match_customer(decorated, words, name_of=lambda c: undecorated(c.name))
            used = len(words) - len(plain.rest) if plain.customer is not None else 0
            # …and `checkin tokyo, green …` or `checkin tokyo trading: green …` for "🇯🇵 Tokyo Trading", as with a
            # plain name (below): not when the words as typed read on as a check-in's mood.
            mood_follows = used > 0 and bool(plain.rest) and parse_mood(plain.rest[0]) is not None
            punctuated = (
                None
                if mood_follows
                else _through_punctuation(decorated, words, used=used, name_of=lambda c: undecorated(c.name))
            )
            if punctuated is not None:
                return punctuated[0], given[punctuated[1] + len(given) - len(words) :]
            if plain.customer is not None:
                return plain.customer, given[len(given) - len(plain.rest) :]
        if archived and not customers:
            raise UserError("There are no archived customers.") from None
        if not archived and words:
            hidden = match_customer(
                [c for c in every if c.archived_at is not None],
                list(words),
                name_of=lambda c: c.name,
            ).customer
            if hidden is not None and name_key(hidden.name).startswith(name_key(words[0])):
                raise UserError(
                    f"*{mrkdwn_name(hidden.name)}* is archived. Bring it back with `/partner restore "
                    f"{command_name(hidden.name)}`."
                ) from None
        # the miss, told with every name
        require_customer(customers, words, name_of=lambda c: c.name, usage=usage, shown=mrkdwn_name)
        raise
    if maybe_within:  # some name has a later word starting as typed: read without its emoji, it may be meant
        customer, rest = _beside_decorated(
            store,
            team_id=team_id,
            prefix=prefix,
            named=[c for c in named if (c.archived_at is not None) == archived],
            words=words,
            found=(customer, rest),
            archived=archived,
            usage=usage,
        )
    # Among the customers looked in (archived ones for `restore acme corp.`, as live ones for the rest).
    looked_in = [c for c in named if (c.archived_at is not None) == archived]
    # Not when the words as typed read on as a check-in's mood: with Acme and Acme Green, `acme green, fine` is Acme.
    mood_follows = bool(rest) and parse_mood(rest[0]) is not None
    punctuated = None if mood_follows else _through_punctuation(looked_in, words, used=len(words) - len(rest))
    if punctuated is not None:
        customer, rest = punctuated[0], list(words[punctuated[1] :])  # `acme corp: green …` is Acme Corp, not Acme
    # A former name typed whole beats a shorter prefix of the new one: after "Acme Corp" became "Acme Group",
    # `checkin acme corp green …` must not read "corp" as the mood. Former names are read only when one may start
    # with the first word typed (the flag came with the customers' rows).
    used = len(words) - len(rest)
    renamed = _renamed(store, team_id=team_id, words=words, archived=archived) if maybe_renamed else None
    if renamed is not None and renamed[1] > used:
        raise UserError(
            f"'{' '.join(words[: renamed[1]])}' was renamed to *{mrkdwn_name(renamed[0].name)}*; use the new name."
        )
    if not archived and any(c.archived_at is not None for c in named):
        # Likewise an archived customer's whole name beats a shorter live one: after "Acme Labs" was archived,
        # `checkin acme labs green …` is about Acme Labs, not "Acme Group" with the mood "labs". (Only asked when
        # such a name came with the live ones: folding every longer phrase of the note is not free.)
        # An archived name typed exactly also beats a live one only prefixed by it: with "Acme" archived,
        # `checkin acme green …` must not land on "Acmee" (added by mistake, or a sister company).
        exact = name_key(" ".join(words[:used])) == name_key(customer.name)
        typed = {name_key(" ".join(words[:k])): k for k in range(used + (1 if exact else 0), len(words) + 1)}
        hidden = [c for c in named if c.archived_at is not None and name_key(c.name) in typed]
        if hidden:
            name = max(hidden, key=lambda c: typed[name_key(c.name)]).name
            also = "" if exact else f" For *{mrkdwn_name(customer.name)}*, type its name whole."
            raise UserError(
                f"*{mrkdwn_name(name)}* is archived. Bring it back with `/partner restore {command_name(name)}`.{also}"
            )
    return customer, given[len(given) - len(rest) :]


def _beside_decorated(
    store: Store,
    *,
    team_id: str,
    prefix: str,
    named: list[Customer],
    words: list[str],
    found: tuple[Customer, list[str]],
    archived: bool,
    usage: str,
) -> tuple[Customer, list[str]]:
    """The customer `words` name once the names starting with an emoji are read without it, as a miss reads them:
    with Tokyo Bank and 🇯🇵 Tokyo Trading, `checkin tokyo trading green …` is Tokyo Trading (not Tokyo Bank with the
    mood "trading") and `checkin tokyo green …` is either, so it is asked, not logged on Tokyo Bank. A name matched
    whole and followed by a mood (or by nothing) is taken as it is: those are not even looked for."""
    customer, rest = found
    used = len(words) - len(rest)
    if name_key(" ".join(words[:used])) == name_key(customer.name) and (not rest or parse_mood(rest[0]) is not None):
        return found
    decorated = [
        c
        for c in store.customers_with_a_word_from(team_id=team_id, prefix=prefix)
        if (c.archived_at is not None) == archived and undecorated(c.name) != c.name
    ]
    if not decorated:
        return found
    # A name as typed comes first: "Tokyo Trading" beside "🇯🇵 Tokyo Trading" is the one typed whole.
    entries = [(c.name, c) for c in named] + [(undecorated(c.name), c) for c in decorated]
    match = match_customer(entries, words, name_of=lambda e: e[0])
    if match.customer is not None and match.rest and parse_mood(match.rest[0]) is not None:
        return match.customer[1], match.rest
    taken = len(words) - len(match.rest) if match.customer is not None else 0
    punctuated = _through_punctuation(entries, words, used=taken, name_of=lambda e: e[0])
    if punctuated is not None:  # `checkin tokyo trading, green …`
        return punctuated[0][1], list(words[punctuated[1] :])
    entry, rest = require_customer(
        entries, words, name_of=lambda e: e[0], label_of=lambda e: e[1].name, usage=usage, shown=mrkdwn_name
    )
    return entry[1], rest


# Emoji (or Slack :shortcodes:) and the space after them, at the start of a name.
_DECORATION = re.compile(r"^(?::[\w+-]+:|[^\w\s])+\s+")


def undecorated(name: str) -> str:
    """ "🚀 Rocket Co" → "Rocket Co", ":pizza: Pizza" → "Pizza"; a name of emoji alone, or "*NIX Labs", as it is."""
    return _DECORATION.sub("", name, count=1) or name


def _through_punctuation(
    customers: Sequence[T],
    words: Sequence[str],
    *,
    used: int,
    name_of: Callable[[T], str] = lambda c: c.name,  # type: ignore[attr-defined]
) -> tuple[T, int] | None:
    """`checkin acme, green …`, `show acme.`, `checkin acme corp: green …`: the customer whose name ends where a word
    typed with sentence punctuation after it ends, and how many words it takes, when that is more than the `used`
    words matched as typed (a name holding the punctuation, "Acme Inc.", matches as typed); None otherwise."""
    bare = [w.rstrip(_SENTENCE_ENDS) or w for w in words]
    if bare == list(words):
        return None
    # The name must end at the punctuation: with Beta and Beta Green, `beta, green …` is Beta, though "beta green"
    # is a longer name. Longest first, and no further than the longest name's words (not through a whole note).
    most = max((len(name_of(c).split()) for c in customers), default=0)
    for taken in range(min(len(words), most), used, -1):
        if bare[taken - 1] == words[taken - 1]:
            continue
        found = match_customer(customers, bare[:taken], name_of=name_of)
        if found.customer is not None and not found.rest:
            return found.customer, taken
    return None


def words_and_offsets(text: str) -> list[tuple[str, int]]:
    """Each word with where it ends in the raw text, so what follows can be cut with its formatting intact."""
    return [(m.group(0), m.end()) for m in re.finditer(r"\S+", text)]


def find_customer_in_text(store: Store, *, team_id: str, text: str, usage: str) -> tuple[Customer, list[str], str]:
    """find_customer over the words of `text`; also the raw text after the name, formatting kept."""
    words = words_and_offsets(text)
    customer, rest = find_customer(store, team_id=team_id, words=[w for w, _ in words], usage=usage)
    used = len(words) - len(rest)
    return customer, rest, text[words[used - 1][1] :].strip() if used else text.strip()


def _renamed(store: Store, *, team_id: str, words: Sequence[str], archived: bool) -> tuple[Customer, int] | None:
    former = store.former_names(team_id=team_id, prefix=name_key(words[0]))
    for k in range(len(words), 0, -1):
        customer_id = former.get(name_key(" ".join(words[:k])))
        if customer_id is not None:
            customer = store.customer(team_id=team_id, customer_id=customer_id)
            if customer is not None and (customer.archived_at is not None) == archived:
                return customer, k
    return None


def live_customer(store: Store, team_id: str, value: str) -> Customer:
    """The customer a button's value names; one archived since the button was drawn is said to be archived, with the
    way back (it is kept with its history, not gone)."""
    customer = store.customer(team_id=team_id, customer_id=int(value)) if is_row_id(value) else None
    if customer is None:
        raise UserError("That customer no longer exists.")
    if customer.archived_at is not None:
        raise UserError(
            f"*{mrkdwn_name(customer.name)}* is archived. Bring it back with `/partner restore "
            f"{command_name(customer.name)}`."
        )
    return customer
