"""Customer names: normalising, validating, and finding a customer from the words a user typed."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from domain.errors import UserError

T = TypeVar("T")

MAX_NAME_LENGTH = 80
_SPACES = re.compile(r"\s+")


def name_key(name: str) -> str:
    """The form names are compared in: case-folded, spaces collapsed."""
    return _SPACES.sub(" ", name).strip().casefold()


def clean_name(name: str) -> str:
    name = _SPACES.sub(" ", name).strip()
    if not name:
        raise UserError("A customer needs a name, e.g. `/partner add Acme Corp`.")
    if len(name) > MAX_NAME_LENGTH:
        raise UserError(f"That name is {len(name)} characters long; keep it to {MAX_NAME_LENGTH} or fewer.")
    if name[0] in "<@#":
        raise UserError(
            "Start with the customer's name, then the #channel and @owner: `/partner add Acme #acme @dana`."
        )
    return name


@dataclass
class CustomerMatch(Generic[T]):
    customer: T | None
    rest: list[str]
    candidates: list[T] = field(default_factory=list)
    suggestions: list[str] = field(default_factory=list)


def match_customer(customers: Sequence[T], words: Sequence[str], *, name_of: Callable[[T], str]) -> CustomerMatch[T]:
    """The longest exact name at the start of `words`, else the longest unambiguous prefix.

    Names may hold spaces ("Acme Corp"), so "acme corp yellow …" must match "Acme Corp", not "Acme".
    """
    keyed = [(name_key(name_of(c)), c) for c in customers]
    for k in range(len(words), 0, -1):
        phrase = name_key(" ".join(words[:k]))
        exact = [c for key, c in keyed if key == phrase]
        if exact:
            return CustomerMatch(exact[0], list(words[k:]))
    for k in range(len(words), 0, -1):
        phrase = name_key(" ".join(words[:k]))
        found = [c for key, c in keyed if key.startswith(phrase)]
        if len(found) == 1:
            return CustomerMatch(found[0], list(words[k:]))
        if found:
            found.sort(key=lambda c: name_key(name_of(c)))
            return CustomerMatch(None, list(words), candidates=found)
    return CustomerMatch(None, list(words), suggestions=_close_names(keyed, words, name_of))


def _close_names(keyed: list[tuple[str, T]], words: Sequence[str], name_of: Callable[[T], str]) -> list[str]:
    """Names that look like a typo of what was typed, compared with the whole name and with its start."""
    if not words:
        return []
    typed = [name_key(" ".join(words[:k])) for k in (1, 2) if k <= len(words)]

    def similarity(key: str) -> float:
        return max(
            difflib.SequenceMatcher(None, t, candidate).ratio()
            for t in typed
            for candidate in (key, key[: len(t)], key.split(" ")[0])
        )

    scored = sorted(((similarity(key), key, c) for key, c in keyed), key=lambda x: (-x[0], x[1]))
    return [name_of(c) for score, _key, c in scored[:3] if score >= 0.7]


def require_customer(
    customers: Sequence[T], words: Sequence[str], *, name_of: Callable[[T], str], usage: str
) -> tuple[T, list[str]]:
    """Like match_customer, but a miss becomes a friendly UserError."""
    if not words:
        raise UserError(f"Which customer? Usage: `{usage}`")
    match = match_customer(customers, words, name_of=name_of)
    if match.customer is not None:
        return match.customer, match.rest
    typed = words[0]
    if match.candidates:
        names = ", ".join(f"*{name_of(c)}*" for c in match.candidates[:10])
        raise UserError(f"'{typed}' matches more than one customer: {names}. Type more of the name.")
    if not customers:
        raise UserError("There are no customers yet. Add one with `/partner add <name> [#channel] [@owner]`.")
    if match.suggestions:
        raise UserError(f"No customer matches '{typed}' — did you mean {' or '.join(match.suggestions)}?")
    raise UserError(f"No customer matches '{typed}'. See them all with `/partner list`.")
