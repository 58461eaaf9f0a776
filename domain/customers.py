"""Customers: names (normalising, matching what a user typed), settings typed as key=value, the next nudge."""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Generic, TypeVar

from domain.cadence import Cadence, is_satisfied, next_planned_slot, parse_cadence
from domain.calendar import (
    WorkCalendar,
    format_working_week,
    parse_working_week,
    validate_country,
    validate_subdivision,
    validate_typed_timezone,
)
from domain.errors import Problems, UserError

T = TypeVar("T")

MAX_NAME_LENGTH = 80
_SPACES = re.compile(r"\s+")


# An apostrophe as a desktop types it ('), as a phone or a Mac curls it (’, or ‘ when it starts a word), as a modifier
# letter (ʼ) or a backtick (`): one character in names, so Macy's and Macy’s are one customer whichever keyboard
# typed the name or the command. Migration 0009 recomputed the stored keys with it: change both together.
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'"})


# What a paste or a right-to-left keyboard leaves in text that shows nothing: zero-width spaces, the byte-order mark,
# the word joiner, and the marks, embeddings and isolates that set the direction of text (copied Hebrew or Arabic
# names carry them). Not the zero-width joiner and non-joiner: they join emoji (👩‍💼) and shape Persian words.
_INVISIBLE = dict.fromkeys(
    [0x061C, 0x200B, 0x200E, 0x200F, 0x2060, 0xFEFF, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
)


def as_seen(text: str) -> str:
    """`text` as it looks: composed (NFC: an accent sent as a character of its own, `e` + `◌́`, is the `é` another
    keyboard sends) and without the invisible characters above, so a name pasted with them is the name it shows."""
    return unicodedata.normalize("NFC", text).translate(_INVISIBLE)


def name_key(name: str) -> str:
    """The form names are compared in (and unique in, per workspace): as seen, case-folded, spaces collapsed,
    apostrophes folded to '."""
    return _SPACES.sub(" ", as_seen(name)).strip().casefold().translate(_APOSTROPHES)


def bare_key(name: str) -> str:
    """name_key without the punctuation that may end a sentence: "Acme Corp." and "Acme Corp!" are Acme Corp typed
    at the end of one, never a second customer beside it."""
    return name_key(name).rstrip(",.:;!?").rstrip()


# Letters Unicode does not decompose into a base letter and an accent, as a US keyboard types them: `lodz` for Łódź,
# `oresund` for Øresund, `aero` for Ærø.
_UNACCENTED = str.maketrans(
    {"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "đ": "d", "Đ": "D"}
    | {"ð": "d", "Ð": "D", "þ": "th", "Þ": "Th", "ı": "i", "ħ": "h", "Ħ": "H"}
)


def strip_accents(text: str) -> str:
    """'Café Olé' → 'Cafe Ole': the name as someone types it without the accents (a US keyboard, a hurry)."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).translate(
        _UNACCENTED
    )


def folded_key(name: str) -> str:
    """name_key without accents: what `cafe` is compared in to find Café Olé. Not stored (names stay unique by
    name_key, so Café and Cafe may both exist); used only once a lookup found nothing by name_key."""
    return name_key(strip_accents(name))


def clean_name(name: str) -> str:
    name = _SPACES.sub(" ", as_seen(name)).strip()  # stored as it looks: one spelling of each name
    if not name:
        raise UserError("A customer needs a name, e.g. `/partner add Acme Corp`.")
    if len(name) > MAX_NAME_LENGTH:
        raise UserError(f"That name is {len(name)} characters long; keep it to {MAX_NAME_LENGTH} or fewer.")
    if name[0] in "<@#":
        raise UserError(
            "Start with the customer's name, then the #channel and @owner: `/partner add Acme #acme @dana`."
        )
    if "<" in name or ">" in name:
        # Names are restated in mrkdwn (customer channel, digest, Home): `<!channel>` there would notify everyone.
        raise UserError(
            f"'{name}' can't be a customer's name: Slack reads <…> as a mention or link. "
            "Leave out < and >, e.g. `/partner add Acme Corp #acme @dana`."
        )
    return name


@dataclass
class CustomerMatch(Generic[T]):
    customer: T | None
    rest: list[str]
    candidates: list[T] = field(default_factory=list)
    suggestions: list[str] = field(default_factory=list)


def match_customer(
    customers: Sequence[T],
    words: Sequence[str],
    *,
    name_of: Callable[[T], str],
    key_of: Callable[[str], str] = name_key,
) -> CustomerMatch[T]:
    """The longest exact name at the start of `words`, else the longest unambiguous prefix, names and words
    compared in `key_of` (name_key; folded_key over words already stripped of accents).

    Names may hold spaces ("Acme Corp"), so "acme corp yellow …" must match "Acme Corp", not "Acme".
    """
    keyed = [(key_of(name_of(c)), c) for c in customers]
    # A phrase's key is at least as long as its visible characters other than spaces (case folding only lengthens
    # them, apostrophes fold one to one): words with more of those than every name has cannot match one, so a
    # check-in's note is not folded phrase by phrase.
    longest = max((len(key) for key, _ in keyed), default=0)
    within: list[int] = []
    letters = 0
    for k, word in enumerate(words, 1):
        letters += len("".join(as_seen(word).split()))
        if letters > longest:
            break
        within.insert(0, k)
    phrases = {k: key_of(" ".join(words[:k])) for k in within}
    for k in within:
        exact = [c for key, c in keyed if key == phrases[k]]
        if exact:
            return CustomerMatch(exact[0], list(words[k:]))
    for k in within:
        phrase = phrases[k]
        found = [c for key, c in keyed if key.startswith(phrase)]
        if len(found) == 1:
            return CustomerMatch(found[0], list(words[k:]))
        if found:
            found.sort(key=lambda c: name_key(name_of(c)))
            return CustomerMatch(None, list(words), candidates=found)
    return CustomerMatch(None, list(words), suggestions=_close_names(keyed, words, name_of))


# How alike a name must be to what was typed to be suggested (difflib's ratio, 0–1).
SUGGESTION_CUTOFF = 0.7


def _close_names(keyed: list[tuple[str, T]], words: Sequence[str], name_of: Callable[[T], str]) -> list[str]:
    """Names that look like a typo of what was typed, compared with the whole name and with its start."""
    if not words:
        return []
    # One matcher per typed form, its side fixed (difflib indexes it once); each name is then checked against
    # the cheap upper bounds first, as difflib.get_close_matches does: a big team's miss stays well under Slack's
    # three seconds.
    matchers = []
    for k in (1, 2):
        if k <= len(words):
            matcher = difflib.SequenceMatcher(None)
            matcher.set_seq2(name_key(" ".join(words[:k])))
            matchers.append((matcher, len(matcher.b)))

    def similarity(key: str) -> float:
        best = 0.0
        for matcher, length in matchers:
            for candidate in (key, key[:length], key.split(" ")[0]):
                matcher.set_seq1(candidate)
                if (
                    matcher.real_quick_ratio() >= SUGGESTION_CUTOFF
                    and matcher.quick_ratio() >= SUGGESTION_CUTOFF
                    and (ratio := matcher.ratio()) > best
                ):
                    best = ratio
        return best

    scored = sorted(((similarity(key), key, c) for key, c in keyed), key=lambda x: (-x[0], x[1]))
    return [name_of(c) for score, _key, c in scored[:3] if score >= SUGGESTION_CUTOFF]


CANDIDATES_NAMED = 10  # names an ambiguous prefix is answered with


def require_customer(
    customers: Sequence[T],
    words: Sequence[str],
    *,
    name_of: Callable[[T], str],
    usage: str,
    shown: Callable[[str], str] = str,
    label_of: Callable[[T], str] | None = None,
) -> tuple[T, list[str]]:
    """Like match_customer, but a miss becomes a friendly UserError; `shown` puts a name into its text (the caller
    knows the text is Slack's mrkdwn, where a name is shown as typed), `label_of` the name a candidate is shown by
    when it is not the one matched (a name matched without its emoji is named with it)."""
    if not words:
        raise UserError(f"Which customer? Usage: `{usage}`")
    match = match_customer(customers, words, name_of=name_of)
    if match.customer is not None:
        return match.customer, match.rest
    typed = words[0]
    if match.candidates:
        names = ", ".join(f"*{shown((label_of or name_of)(c))}*" for c in match.candidates[:CANDIDATES_NAMED])
        # A busy team's "acme" may match 60 names: say how many the first ten leave out, not only those ten.
        more = len(match.candidates) - CANDIDATES_NAMED
        names += f" and {more} more" if more > 0 else ""
        raise UserError(f"'{typed}' matches more than one customer: {names}. Type more of the name.")
    if not customers:
        raise UserError("There are no customers yet. Add one with `/partner add <name> [#channel] [@owner]`.")
    if match.suggestions:
        raise UserError(f"No customer matches '{typed}' — did you mean {' or '.join(map(shown, match.suggestions))}?")
    raise UserError(f"No customer matches '{typed}'. See them all with `/partner list`.")


# --------------------------------------------------------------------------- settings typed by people

# Options `add` and `edit` read as key=value (owner= and channel= are Slack mentions, resolved by the handlers).
SETTING_KEYS = ("tz", "country", "week", "cadence", "summary", "ideal", "max")
COUNTRY_HELP = (
    "use a two-letter code such as US, DE or GB, or a region such as US-CA; every valid code is listed at "
    "https://holidays.readthedocs.io/en/latest/#available-countries"
)
_ON = frozenset({"on", "yes", "true", "1"})
_OFF = frozenset({"off", "no", "false", "0"})
_DEFAULT = frozenset({"default", "none", "off", "-"})
MAX_WINDOW_DAYS = 365


def parse_country(value: str) -> tuple[str | None, str | None]:
    """ "de" → ("DE", None), "US-CA" → ("US", "CA"), "none" → (None, None); UserError naming the value otherwise."""
    text = value.strip()
    if text.lower() in _DEFAULT:
        return None, None
    country, _, region = text.partition("-")
    try:
        code = validate_country(country)
    except ValueError:
        raise UserError(f"Unknown country code '{text}' — {COUNTRY_HELP}.", field="country") from None
    if not region:
        return code, None
    try:
        return code, validate_subdivision(code, region)
    except ValueError as e:
        raise UserError(str(e), field="country") from None


def _window_days(key: str, value: str) -> int | None:
    text = value.strip().lower().removesuffix("days").removesuffix("d").strip()
    if value.strip().lower() in _DEFAULT:
        return None
    if not text.isdecimal() or not 1 <= int(text) <= MAX_WINDOW_DAYS:  # "²" is a digit int() refuses
        raise UserError(
            f"'{value}' is not a number of days for {key}= — use 1 to {MAX_WINDOW_DAYS}, or {key}=default.",
            field=key,
        )
    return int(text)


def _readable(cadence: str | None) -> Cadence | None:
    try:
        return parse_cadence(cadence) if cadence else None
    except ValueError:
        return None


def setting(key: str, value: str, *, today: date, cadence: str | None) -> dict[str, Any]:
    """The Customer columns one typed option sets; a UserError naming the value, with `field` set to its key."""
    if key == "tz":
        try:
            return {"tz": validate_typed_timezone(value)}
        except ValueError as e:
            raise UserError(str(e), field="tz") from None
    if key == "country":
        country, subdiv = parse_country(value)
        return {"country": country, "subdiv": subdiv}
    if key == "week":
        try:
            days = parse_working_week(value)
        except ValueError as e:
            raise UserError(str(e), field="week") from None
        text = format_working_week(days)
        return {"working_week": None if text == "mon-fri" else text}
    if key == "cadence":
        try:
            return {"cadence": parse_cadence(value, anchor=today, previous=_readable(cadence)).to_text()}
        except ValueError as e:
            raise UserError(str(e), field="cadence") from None
    if key == "summary":
        flag = value.strip().lower()
        if flag not in _ON | _OFF:
            raise UserError(f"summary= takes on or off, not '{value}'.", field="summary")
        return {"post_checkins": flag in _ON}
    if key in ("ideal", "max"):
        return {f"{key}_days": _window_days(key, value)}
    raise UserError(f"Unknown option '{key}='. You can set {', '.join(k + '=' for k in SETTING_KEYS)}.")


def parse_settings(
    options: Mapping[str, str],
    *,
    today: date,
    ideal_days: int | None = None,
    max_days: int | None = None,
    cadence: str | None = None,
) -> dict[str, Any]:
    """Validated customer fields from typed options (keys in SETTING_KEYS), e.g. {"tz": "europe/berlin"}.

    Returns the Customer columns to set: tz, country, subdiv, working_week, cadence, post_checkins, ideal_days,
    max_days. `ideal_days`/`max_days` are the customer's current windows, so `max=3` is checked against them;
    `cadence` its current cadence, whose biweekly / every-N-days phase a new time alone keeps.
    Errors are UserErrors naming the value and the valid forms, with `field` set to the option's key.
    """
    fields: dict[str, Any] = {}
    problems = Problems()  # every bad setting is told at once, not one per try
    for key, value in options.items():
        with problems.check():
            fields.update(setting(key, value, today=today, cadence=cadence))
    problems.raise_any()
    ideal = fields.get("ideal_days", ideal_days)
    most = fields.get("max_days", max_days)
    if ideal is not None and most is not None and ideal > most:
        raise UserError(
            f"The ideal window ({ideal} days) can't be longer than the maximum ({most} days).",
            field="ideal" if "ideal_days" in fields else "max",
        )
    return fields


def work_calendar(
    *, tz: str | None, country: str | None, subdiv: str | None, working_week: str | None, default_tz: str
) -> WorkCalendar:
    """The customer's calendar; a setting that no longer validates (old data) falls back to the default."""
    try:
        return WorkCalendar.create(tz or default_tz, country, working_week, subdiv=subdiv)
    except ValueError:
        return WorkCalendar.create(default_tz)


def next_nudge(
    *,
    cadence: str | None,
    calendar: WorkCalendar,
    now: datetime,
    paused: bool = False,
    snoozed_until: datetime | None = None,
    launch_until: date | None = None,
    last_contact_at: datetime | None = None,
    comes_back: datetime | None = None,
    nudged_days: Collection[date] = (),
) -> datetime | None:
    """When the cadence next nudges (aware UTC), as `list` and `show` display it; None when off or paused.

    A slot already satisfied by the last contact (a call logged today) is skipped, and a snooze pushes
    the search past its end; `comes_back` is when a snoozed call comes back, before any call after the snooze.
    A slot on a day whose nudge the outbox holds already (`nudged_days`: the call's time moved later after it went
    out) is skipped too: a day has one nudge. The cadence engine's outbox is the authority; this is the preview.
    """
    if paused or not cadence:
        return None
    try:
        normal = parse_cadence(cadence)
    except ValueError:
        return None
    return next_nudge_of(
        normal,
        calendar=calendar,
        now=now,
        snoozed_until=snoozed_until,
        launch_until=launch_until,
        last_contact_at=last_contact_at,
        comes_back=comes_back,
        nudged_days=nudged_days,
    )


def next_nudge_of(
    normal: Cadence,
    *,
    calendar: WorkCalendar,
    now: datetime,
    snoozed_until: datetime | None = None,
    launch_until: date | None = None,
    last_contact_at: datetime | None = None,
    comes_back: datetime | None = None,
    nudged_days: Collection[date] = (),
) -> datetime | None:
    """:func:`next_nudge` of a cadence already parsed (Home parses each customer's once for a whole render)."""
    after = max(now, snoozed_until) if snoozed_until is not None else now
    for _ in range(3):  # at most a couple of satisfied slots in a row can be skipped
        slot = next_planned_slot(normal, calendar, after=after, launch_until=launch_until)
        if slot is None:
            return comes_back
        if not is_satisfied(slot, last_contact_at, calendar) and slot.local_date not in nudged_days:
            return slot.due_at if comes_back is None else min(comes_back, slot.due_at)
        after = slot.due_at
    return comes_back


def shared_with_another_organisation(channel: Mapping[str, Any]) -> bool:
    """A channel (as Slack describes it) shared through Slack Connect, or on its way to be (an invitation out): the
    customer's people read it, so Partner's internal posts — check-in summaries, nudges — stay out of it."""
    return bool(channel.get("is_ext_shared") or channel.get("is_pending_ext_shared"))
