"""Reading `add`/`edit` arguments: a name, #channel and @owner mentions, and key=value settings."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date

from domain.customers import SETTING_KEYS, setting
from domain.errors import UserError
from handlers.parsing import (
    parse_channel,
    parse_key_value,
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


@dataclass
class CustomerArgs:
    name_words: list[str] = field(default_factory=list)  # the words before the first mention or option
    channel_id: str | None = UNSET  # UNSET: not given; None: channel=none (no channel)
    owner_id: str | None = None
    options: dict[str, str] = field(default_factory=dict)  # other key=value settings, unescaped


@dataclass(frozen=True)
class PlainNames:
    """How a plain `#acme` / `@dana` (one Slack did not escape) is found by its name: None, refused as before."""

    channel: Callable[[str], str | None]
    person: Callable[[str], str | None]


def _channel_id(token: str, usage: str, names: PlainNames | None = None) -> str:
    # Slack escapes every channel it knows (should_escape): a plain #name is one Slack did not recognise.
    ref = parse_channel(token)
    if ref is None:
        raise UserError(f"'{token}' is not a channel: pick it from Slack's suggestions as you type #. Usage: `{usage}`")
    if ref.id is None and ref.name and names is not None and (found := names.channel(ref.name)) is not None:
        return found
    if ref.id is None:
        raise UserError(
            f"I can't find a channel called '#{ref.name}'. Pick it from Slack's suggestions as you type #. "
            f"Usage: `{usage}`"
        )
    return ref.id


def _user_id(token: str, usage: str, names: PlainNames | None = None) -> str:
    ref = parse_user(token)
    if ref is not None and ref.id is None and ref.name and names is not None and (found := names.person(ref.name)):
        return found
    if ref is None or ref.id is None:
        shown = f"@{ref.name}" if ref is not None else token
        raise UserError(
            f"I can't find '{shown}'. Pick the owner from Slack's suggestions as you type @. Usage: `{usage}`"
        )
    return ref.id


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
    text: str, *, usage: str, channel_names_customer: bool = False, names: PlainNames | None = None
) -> CustomerArgs:
    """`channel_names_customer` (edit): a picked #channel in first place names the customer by its channel.
    `names`: how a plain #channel or @owner is looked up by its name."""
    args = CustomerArgs()
    last_key: str | None = None
    earlier: dict[str, str] = {}  # a setting typed twice: its first value, checked against the last once complete
    for i, token in enumerate(tokenize(text, usage=usage, inner_quotes=True)):
        token = typed_domain(token)  # `add Monday.com`: Slack sends the name as a link to it
        pair = parse_key_value(token)
        if pair is not None:
            pair = (pair[0], typed_domain(pair[1]))
        _refuse_other_mention(pair[1] if pair is not None else token, usage=usage)
        if i == 0 and channel_names_customer and (ref := parse_channel(token)) is not None and ref.id is not None:
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
            channel_id = None if value.strip().lower() in _CLEAR else _channel_id(value, usage, names)
            if args.channel_id not in (UNSET, channel_id):
                raise UserError("Give one channel per customer.")
            args.channel_id = channel_id
        elif is_owner:
            owner_id = _user_id(pair[1] if pair is not None else token, usage, names)
            if args.owner_id and args.owner_id != owner_id:
                raise UserError("Give one owner per customer.")
            args.owner_id = owner_id
        elif pair is not None:
            key, value = pair
            if key in args.options:
                earlier.setdefault(key, args.options[key])
            args.options[key] = value
            last_key = key
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
