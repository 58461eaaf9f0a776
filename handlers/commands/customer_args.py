"""Reading `add`/`edit` arguments: a name, #channel and @owner mentions, and key=value settings."""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date

from domain.customers import SETTING_KEYS, setting
from domain.errors import UserError
from handlers.blocks import as_code
from handlers.commands.checkin import USAGE as CHECKIN_USAGE
from handlers.parsing import (
    parse_channel,
    parse_key_value,
    parse_mood,
    parse_special,
    parse_user,
    tokenize,
    typed_domain,
    unescape,
)

# Values that may hold spaces run on until the next option: `cadence=weekly tue 10:00 tz=Europe/Berlin`.
SPACED_KEYS = frozenset({"cadence", "name", "week"})
_CLEAR = frozenset({"none", "off", "-"})
UNSET = "unset"

# Every key `add` and `edit` read, with how their usage lines write it: the one table their usage lines, the answer to
# a key they do not take, `/partner help` (which shows the usage) and README's rows are made from or checked against
# (tests/test_docs.py). @owner and #channel are Slack mentions; `owner=` and `channel=` take them too.
KEY_FORMS: dict[str, str] = {
    "name": "name=…",
    "owner": "@owner",
    "channel": "#channel|channel=none",
    "tz": "tz=Area/City",
    "country": "country=CC",
    "week": "week=mon-fri",
    "cadence": "cadence=…",
    "summary": "summary=on|off",
    "ideal": "ideal=<days>",
    "max": "max=<days>",
}
ADD_KEYS: tuple[str, ...] = ("channel", "owner", *SETTING_KEYS)  # the name comes first, not as name=
EDIT_KEYS: tuple[str, ...] = ("name", "owner", "channel", *SETTING_KEYS)
# Words people write for a key, answered with the key meant; a typo (`chanel=`, `contry=`) is found by its spelling.
KEY_SYNONYMS = {
    "timezone": "tz",
    "time_zone": "tz",
    "zone": "tz",
    "holidays": "country",
    "region": "country",
    "workweek": "week",
    "working_week": "week",
    "days": "week",
    "summaries": "summary",
    "user": "owner",
    "rename": "name",
}


# Keys people reach for to set how a customer is doing: a mood belongs to a check-in, never to the customer's settings.
# `mood=` is one whatever its value; the others when a mood is given (`colour=blue` is just an unknown key).
MOOD_KEYS = frozenset({"mood", "colour", "color", "rating", "rag"})


def is_mood_setting(key: str, value: str) -> bool:
    key = key.lower().rstrip(":")
    return key == "mood" or (key in MOOD_KEYS and parse_mood(unescape(value)) is not None)


def mood_is_logged(name: str, mood: str, typed: str) -> str:
    """`edit acme mood=green` (or `add … mood=red`): the check-in that logs that mood, to copy, and the command given
    back as typed."""
    shown = mood.strip() if parse_mood(mood.strip()) is not None else "<mood>"
    return (
        f"A mood is logged with a check-in, not set on a customer: `/partner checkin {name} {shown} <note…>` "
        f"(anyone may log one). Usage: `{CHECKIN_USAGE}`\nYou typed: {as_code(typed)}"
    )


def usage_line(head: str, keys: Sequence[str], **forms: str) -> str:
    """`head` followed by each key as KEY_FORMS writes it (or as `forms` does for this command)."""
    return head + " " + " ".join(f"[{forms.get(key, KEY_FORMS[key])}]" for key in keys)


def meant_key(typed: str, keys: Sequence[str]) -> str | None:
    """The key a near miss (`timezone`, `chanel`, `Owner`) stands for, among `keys`; None when none is close."""
    typed = typed.lower()
    if typed in keys:
        return typed
    if KEY_SYNONYMS.get(typed) in keys:
        return KEY_SYNONYMS[typed]
    close = difflib.get_close_matches(typed, keys, n=1, cutoff=0.75)
    return close[0] if close else None


def unknown_key_text(key: str, value: str, keys: Sequence[str]) -> str:
    """The key named back with the setting meant, value and all, and every key the command takes."""
    meant = meant_key(key, keys)
    hint = f" Did you mean `{meant}={value.strip()}`?" if meant else ""
    if key == "name" and key not in keys:  # `add name=Acme …`: a new customer's name is the first words, as typed
        hint = " A new customer's name comes first, as typed: `/partner add Acme Corp …`."
    return f"Unknown option '{key}='.{hint} You can set {', '.join(k + '=' for k in keys)}."


def _spaced_equals(tokens: list[str], keys: Sequence[str], usage: str) -> None:
    """`tz =Europe/Berlin`, `tz = Europe/Berlin` or `tz= Europe/Berlin`: a setting with a space around its `=`
    is named back with the setting meant, instead of being read as part of the name or refused as a stray word."""
    for i, token in enumerate(tokens):
        typed: str | None = None
        if i and token.startswith("=") and meant_key(tokens[i - 1], keys) is not None:
            end = i + 1 if token != "=" else i + 2  # the token after the value
            key, value = tokens[i - 1], token[1:] or (tokens[i + 1] if i + 1 < len(tokens) else "")
            typed = " ".join(tokens[i - 1 : end])
        elif (
            (pair := parse_key_value(token))
            and not pair[1]
            and pair[0] not in SPACED_KEYS
            and meant_key(pair[0], keys) is not None
            and i + 1 < len(tokens)
        ):
            key, value, end = pair[0], tokens[i + 1], i + 2
            typed = f"{token} {value}"
            if parse_key_value(value) is not None or value.startswith("="):
                continue
        if typed is None:
            continue
        meant_as = meant_key(key, keys) or key.lower()
        if meant_as in SPACED_KEYS:  # `cadence = weekly tue 10:00`: the value runs on to the next option
            more = list(itertools.takewhile(lambda t: parse_key_value(t) is None and t[:1] not in "<@#", tokens[end:]))
            value, typed = " ".join([value, *more]).strip(), " ".join([typed, *more])
        meant = f"`{meant_as}={value}`" if value else f"`{meant_as}=…`"
        raise UserError(f"'{typed}' has a space around its '=': did you mean {meant}? Usage: `{usage}`")


def _is_part(token: str) -> bool:
    """A #channel, an @owner or a key=value setting: one of the parts that follow a customer's name."""
    return parse_channel(token) is not None or parse_user(token) is not None or parse_key_value(token) is not None


def _without_separators(tokens: list[str]) -> list[str]:
    """`add Acme Corp, #acme, @dana, tz=Europe/Berlin.`: the commas between the parts of a command, and a full stop
    after its last part, separate them; they are no part of the name, the channel, the owner or a setting. A comma
    inside a name (`Acme, Inc #acme`) is kept: only one just before a part, or ending a part, is read off."""
    kept: list[str] = []
    for i, token in enumerate(tokens):
        after = tokens[i + 1] if i + 1 < len(tokens) else None
        if token in (",", ";") or (token == "." and after is None and kept and _is_part(kept[-1])):
            continue
        if len(token) > 1 and token[-1] in ",;" and (_is_part(token) or (after is not None and _is_part(after))):
            token = _separator_off(token)
        pair = parse_key_value(token)
        if after is None and token.endswith(".") and pair is not None and pair[0] not in ("name", "rename"):
            token = token.rstrip(".")  # `… country=de.` ends a sentence; a new name keeps its own (`name=Acme Inc.`)
        kept.append(token)
    return kept


def _separator_off(token: str) -> str:
    """The one comma or semicolon that ends `token`, read off; not the semicolon of an entity Slack escaped the
    text with (`Globex &lt;!channel&gt;`, `R&amp;`): that is part of the word."""
    if token.endswith(";") and re.search(r"&(?:amp|lt|gt);$", token):
        return token
    return token[:-1]


@dataclass
class CustomerArgs:
    name_words: list[str] = field(default_factory=list)  # the words before the first mention or option
    channel_id: str | None = UNSET  # UNSET: not given; None: channel=none (no channel)
    owner_id: str | None = None
    options: dict[str, str] = field(default_factory=dict)  # other key=value settings, unescaped
    # Plain `#words` among the name that no channel is called (`Team #1`): `add` asks, `edit` lets the name decide.
    unfound: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PlainNames:
    """How a plain `#acme` / `@dana` (one Slack did not escape) is found by its name: None, refused as before."""

    channel: Callable[[str], str | None]
    # The names one plain @owner may be read as, longest first (`@Dana Scully` is "dana scully", then "dana"):
    # (the one a single person answers to, their id), or None.
    person: Callable[[Sequence[str]], tuple[str, str] | None]


def channel_not_found(token: str, usage: str, *, name: str | None = None) -> UserError:
    """A plain `#word` no channel Partner can see is called, named back as typed; `name`: the customer's name it may
    be part of (`Team #1`), which the answer shows in quotes."""
    command = usage.split(" <", 1)[0]
    quoted = f' If it is part of the name, put the name in quotes: `{command} "{unescape(name)}"`.' if name else ""
    return UserError(
        f"I can't find a channel called '{unescape(token)}'.{quoted} For a channel, pick it from Slack's suggestions "
        f"as you type # (a private channel I am not in can't be found by its name: `/invite @Partner` in it first). "
        f"Usage: `{usage}`"
    )


def _channel_id(token: str, usage: str, names: PlainNames | None = None) -> str:
    # Slack escapes every channel it knows (should_escape): a plain #name is one Slack did not recognise.
    ref = parse_channel(token)
    if ref is None:
        raise UserError(f"'{token}' is not a channel: pick it from Slack's suggestions as you type #. Usage: `{usage}`")
    if ref.id is None and ref.name and names is not None and (found := names.channel(ref.name)) is not None:
        return found
    if ref.id is None:
        raise channel_not_found(token, usage)
    return ref.id


def _plain_channel(token: str, names: PlainNames | None) -> tuple[bool, str | None]:
    """(whether `token` is a plain `#word`, the id of the channel called so or None)."""
    ref = parse_channel(token)
    if ref is None or ref.id is not None:
        return False, None
    return True, names.channel(ref.name) if names is not None and ref.name else None


def _user_id(token: str, usage: str, names: PlainNames | None = None, after: Sequence[str] = ()) -> tuple[str, int]:
    """The owner's id, and how many of the plain words `after` a plain @name took: `@Dana Scully`, typed without
    picking her from Slack's suggestions, arrives as the words "@Dana" "Scully" and is her full name, not whoever is
    called "dana" with a stray word after it. Words after a plain @name that no one's name takes are part of it
    (no setting is a bare word), so the whole of it is named back."""
    ref = parse_user(token)
    if ref is not None and ref.id is None and ref.name and names is not None:
        words = [ref.name, *(w.lower() for w in after)]
        # Longest first; a bare first word only when nothing follows it.
        candidates = [" ".join(words[:n]) for n in range(len(words), 1 if after else 0, -1)]
        if (found := names.person(candidates)) is not None:
            return found[1], len(found[0].split(" ")) - 1
    if ref is None or ref.id is None:
        shown = " ".join([token, *after])  # as typed
        raise UserError(
            f"I can't find '{shown}'. Pick the owner from Slack's suggestions as you type @. Usage: `{usage}`"
        )
    return ref.id, 0


# How many words after a plain @name may be its full name ("@Mary Ann de la Cruz").
MAX_NAME_WORDS = 4
# A cadence or a switch typed after the owner without its key (`@dana daily`): a setting mistyped, not a surname.
_SETTING_WORDS = ("daily", "weekly", "biweekly", "monthly", "every", "on", "off")


def _plain_word(token: str) -> bool:
    """A word that is no setting, channel, person or Slack entity: after a plain @name, part of a full name. A
    setting's name (`tz Europe/Berlin`, `tz: …`: its `=` forgotten) is not: that mistake is named as before."""
    return (
        token.lower().removesuffix(":") not in (*SETTING_KEYS, *_SETTING_WORDS)
        and parse_key_value(token) is None
        and parse_channel(token) is None
        and parse_user(token) is None
        and parse_special(token) is None
        and not token.startswith(('"', "“", "'", "‘"))
    )


def _refuse_other_mention(token: str, *, usage: str) -> None:
    """A user group, @here or a link is neither a name, an owner nor a channel: say so instead of storing it."""
    ref = parse_special(token)
    if ref is None:
        return
    if ref.kind == "subteam":
        raise UserError(
            f"'{ref.label}' is a user group: a customer's owner is one person. "
            f"Pick them from Slack's suggestions as you type @. Usage: `{usage}`"
        )
    raise UserError(f"'{ref.label}' can't be part of a customer's name or settings. Usage: `{usage}`")


def parse_customer_args(
    text: str,
    *,
    usage: str,
    keys: Sequence[str],
    channel_names_customer: bool = False,
    names: PlainNames | None = None,
) -> CustomerArgs:
    """`keys`: the key=value settings the command takes (ADD_KEYS, EDIT_KEYS); any other is named back.
    `channel_names_customer` (edit): a picked #channel in first place names the customer by its channel.
    `names`: how a plain #channel or @owner is looked up by its name."""
    args = CustomerArgs()
    last_key: str | None = None
    earlier: dict[str, str] = {}  # a setting typed twice: its first value, checked against the last once complete
    # `add Monday.com`: Slack sends the name as a link to it
    tokens = _without_separators([typed_domain(token) for token in tokenize(text, usage=usage, inner_quotes=True)])
    _spaced_equals(tokens, keys, usage)
    taken = 0  # words a plain @owner's full name took (`@Dana Scully`)
    for i, token in enumerate(tokens):
        if taken:
            taken -= 1
            continue
        pair = parse_key_value(token)
        if pair is not None:
            pair = (pair[0], typed_domain(pair[1]))
        _refuse_other_mention(pair[1] if pair is not None else token, usage=usage)
        if i == 0 and channel_names_customer and parse_channel(token) is not None:
            plain, found = _plain_channel(token, names)  # `edit #acme …`: the customer whose channel it is
            if plain and found is not None:
                token = f"<#{found}>"
            elif plain:
                args.unfound.append(token)  # a name starting with "#", or no such channel: find_customer says which
            args.name_words.append(token)  # find_customer reads it
            continue
        is_channel = parse_channel(token) is not None or (pair is not None and pair[0] == "channel")
        is_owner = parse_user(token) is not None or (pair is not None and pair[0] == "owner")
        if pair is None and not is_channel and not is_owner:
            if last_key in SPACED_KEYS:
                args.options[last_key] += " " + token
                continue
            if args.options or args.channel_id != UNSET or args.owner_id:
                raise UserError(f"I didn't understand '{token}' after the name. Usage: `{usage}`")
            args.name_words.append(token)
            continue
        if i == 0:
            raise UserError(f"Start with the customer's name. Usage: `{usage}`")
        last_key = None
        if is_channel:
            value = pair[1] if pair is not None else token
            naming = not args.options and args.channel_id == UNSET and not args.owner_id
            plain, found = _plain_channel(token, names) if pair is None and naming else (False, None)
            if plain and found is None:
                # `Team #1`: no channel is called so. `add` asks (quotes keep it in the name), `edit` lets the
                # customer's name decide; never taken into a name unsaid, nor dropped.
                args.name_words.append(token)
                args.unfound.append(token)
                continue
            if found is not None:
                channel_id: str | None = found
            else:
                channel_id = None if value.strip().lower() in _CLEAR else _channel_id(value, usage, names)
            if args.channel_id not in (UNSET, channel_id):
                raise UserError("Give one channel per customer.")
            args.channel_id = channel_id
        elif is_owner:
            after = list(itertools.takewhile(_plain_word, tokens[i + 1 : i + 1 + MAX_NAME_WORDS]))
            owner_id, taken = _user_id(pair[1] if pair is not None else token, usage, names, after)
            if args.owner_id and args.owner_id != owner_id:
                raise UserError("Give one owner per customer.")
            args.owner_id = owner_id
        elif pair is not None:
            key, value = pair
            if key in args.options:
                earlier.setdefault(key, args.options[key])
            args.options[key] = value
            last_key = key
    if mood := next((key for key, value in args.options.items() if is_mood_setting(key, value)), None):
        name = unescape(" ".join(args.name_words)) or "<customer>"
        command = usage.split(" <", 1)[0]
        raise UserError(mood_is_logged(name, unescape(args.options[mood]), f"{command} {text.strip()}"))
    if unknown := [key for key in args.options if key not in keys]:
        told = "\n".join(unknown_key_text(key, args.options[key], keys) for key in unknown)
        raise UserError(f"{told} Usage: `{usage}`")
    for key, value in args.options.items():
        value = unescape(value).strip().strip('"“”').strip()
        if not value:
            raise UserError(f"{key}= needs a value. Usage: `{usage}`")
        args.options[key] = value
    for key, first in earlier.items():
        first = unescape(first).strip().strip('"“”').strip()
        if first.casefold() != args.options[key].casefold():  # one of the two would be dropped without a word
            raise UserError(
                f"{key}= is given twice ('{first}' and '{args.options[key]}'): give it once. Usage: `{usage}`"
            )
    return args


def setting_without_equals(words: list[str]) -> str | None:
    """`tz=Europe/Berlin` for words such as `tz Europe/Berlin` or `country: DE` after the first one — a setting
    typed without its `=`, which would otherwise be read as part of the customer's name. A word that is only
    a key's name ("Max", "Summary") needs a value that is valid for that key after it, or a colon, to count."""
    today = date(2000, 1, 3)  # any day: only whether the value reads matters
    for i, word in enumerate(words[1:-1], 1):
        key = word.lower().removesuffix(":")
        if key not in SETTING_KEYS:
            continue
        rest = [unescape(w) for w in words[i + 1 :]]
        typed = rest[0] if key not in SPACED_KEYS else " ".join(rest)
        if word.endswith(":"):
            return f"{key}={typed}"
        for value in dict.fromkeys((rest[0], typed)):
            try:
                setting(key, value, today=today, cadence=None)
            except UserError:
                continue
            return f"{key}={value}"
    return None


@contextmanager
def told_with_usage(usage: str) -> Iterator[None]:
    """A setting refused by the validation `add`/`edit` share with their forms (where the field shows the error)
    also gets the command's usage line when it was typed."""
    try:
        yield
    except UserError as e:
        if "Usage:" in e.message:
            raise
        raise UserError(f"{e.message} Usage: `{usage}`", field=e.field, errors=e.errors) from None
