"""`/partner checkin <customer> <mood> [call] [next=<date>] [response=<2d|36h>] <note…>`, or a modal without arguments.

`response=` records how long the customer took to reply; the boundary detection compares it with response-time
agreements in the customer's business time (handlers.boundaries_hooks.after_checkin).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.settings import Settings
from domain.boundaries import reply_days, reply_time_said
from domain.checkins import alerted_at_once, channel_gone, channel_summary_tz, parse_due_date
from domain.errors import UserError
from handlers.blocks import command_name, mood_label, mrkdwn_name
from handlers.blocks.checkin import checkin_confirmation, checkin_modal
from handlers.commands.base import CommandCall, Reply
from handlers.commands.lookup import find_customer, words_and_offsets
from handlers.commands.mend import checkin_mend, is_fix, is_undo
from handlers.parsing import QUOTED_PHRASE, parse_key_value, parse_mood, quoted_text, require_mood
from schedules.health import customer_calendar
from storage.models import Customer

USAGE = "/partner checkin <customer> <green|yellow|red|1-5> [call] [next=<date>] [response=<2d|36h>] <note…>"

# Flags and the names they may be typed as: `next=fri`, `due=fri`; `response=2d` (how long the customer took).
FLAG_NAMES = {"next": "next", "due": "next", "response": "response", "reply": "response"}


def _flag(word: str) -> tuple[str, str] | None:
    """("next" | "response", value) when the word is one of the check-in's key=value flags; a quoted value
    (`response="2 business days"`, `next=“fri”`) is read without its quotes."""
    pair = parse_key_value(word)
    if pair is None or pair[0] not in FLAG_NAMES:
        return None
    quoted = _QUOTED.fullmatch(pair[1])
    value = quoted_text(quoted) if quoted is not None else None
    return FLAG_NAMES[pair[0]], (value.strip() if value is not None else pair[1])


_QUOTED = re.compile(QUOTED_PHRASE)
# A word, or a flag with its value in quotes, spaces and all (`response="2 business days"`, `next='2 weeks'`), as one
# word. QUOTED_PHRASE reads straight single quotes only after a space (never an apostrophe): here after the `=`.
_WORD_OR_QUOTED_FLAG = re.compile(rf"[A-Za-z_]+=(?:{QUOTED_PHRASE}|'[^'\s][^']*')(?=\s|$)|\S+")


def _words(text: str) -> list[tuple[str, int]]:
    """words_and_offsets, with a quoted flag value kept whole as one word."""
    return [(m.group(0), m.end()) for m in _WORD_OR_QUOTED_FLAG.finditer(text)]


# A flag's number may be typed with its unit as the next word (`response=3 days`, `next=2 weeks`): both are read.
_UNIT_WORDS = frozenset(
    {"d", "day", "days", "h", "hr", "hrs", "hour", "hours", "min", "mins", "minute", "minutes"}
    | {"w", "wk", "wks", "week", "weeks"}
)
# How long the customer took may be counted in business days, the way agreements are: `response=2 business days`.
_BUSINESS_WORDS = frozenset({"business", "working", "work"})
_BUSINESS_DAY_WORDS = frozenset({"day", "days"})
_NUMBER = re.compile(r"^\d+(?:\.\d+)?$")


def _flag_with_unit(words: Sequence[str]) -> tuple[tuple[str, str], int] | None:
    """(("response", "3 days"), 2) for `response=3` followed by `days`, (("response", "2 business days"), 3) for
    `response=2 business days`; None when the words start with no such flag and unit."""
    flag = _flag(words[0]) if words else None
    if flag is None or len(words) < 2:
        return None
    unit = words[1].lower()
    if unit in _UNIT_WORDS and _NUMBER.match(flag[1]):
        return (flag[0], f"{flag[1]} {words[1]}"), 2
    # `response=one business day` as agreements say it: the number may be a word (domain.boundaries reads it).
    business = _NUMBER.match(flag[1]) or flag[1].isalpha()
    if (
        flag[0] == "response"
        and business
        and unit in _BUSINESS_WORDS
        and len(words) > 2
        and words[2].lower() in _BUSINESS_DAY_WORDS
    ):
        return (flag[0], f"{flag[1]} {words[1]} {words[2]}"), 3
    return None


_DASHES = frozenset({"-", "–", "—", "--"})


def _refuse(problem: str) -> UserError:
    # The router gives the whole command back after it (Subcommand.gives_back): the note typed is not lost.
    return UserError(f"{problem} Usage: `{USAGE}`")


@dataclass(frozen=True)
class CheckinText:
    """What follows the mood: `call`, the key=value flags, and the note as typed (formatting kept)."""

    kind: str  # "call" or "async"
    flags: dict[str, str]  # "next" / "response" → the value as typed
    note: str


def _starts_a_line(text: str, words: list[tuple[str, int]], at: int) -> bool:
    """Whether words[at] is the first on its line: a dash there starts a bulleted note, not a separator."""
    before = words[at - 1][1] if at else 0
    return "\n" in text[before : words[at][1] - len(words[at][0])]


def read_checkin_text(text: str) -> CheckinText:
    """Flags come right after the mood in any order (`call next=fri response=2d kickoff done`), or as the note's
    last words (`kickoff done next=fri response=36h`); a flag in the middle, or a repeated one, is part of the note,
    and the note always keeps at least one word. A flag's value may be quoted (`response="2 business days"`)."""
    words = _words(text)
    kind, used, dashed = "async", 0, False
    flags: dict[str, str] = {}
    while used < len(words):
        word = words[used][0]
        flag = _flag(word)
        if word.lower() == "call" and kind != "call":
            kind = "call"
        elif word in _DASHES and not dashed and used + 1 < len(words) and not _starts_a_line(text, words, used):
            # `acme - green - fine`: the dash after the mood separates it from the note, as the one before it does
            dashed = True
        elif flag is not None and flag[0] not in flags:
            with_unit = _flag_with_unit([w for w, _ in words[used : used + 3]])
            if with_unit is not None:
                flag, taken = with_unit
                used += taken - 1
            flags[flag[0]] = flag[1]
        else:
            break
        used += 1
    start = words[used - 1][1] if used else 0
    end, last = len(text), len(words)
    while last > used + 1:
        flag, taken = _flag(words[last - 1][0]), 1
        for size in (2, 3):  # a number and its unit as two words, or three (`response=2 business days`)
            found = _flag_with_unit([w for w, _ in words[last - size : last]]) if last > used + size else None
            if flag is None and found is not None and found[1] == size:
                flag, taken = found
        if flag is None or flag[0] in flags:
            break
        flags[flag[0]] = flag[1]
        last -= taken
        end = words[last][1] - len(words[last][0])
    return CheckinText(kind=kind, flags=flags, note=text[start:end].strip())


def reply_days_in_note(note: str, *, customer: Customer, settings: Settings, now: datetime) -> float | None:
    """A reply time the note states in words ("customer response took 3 days", as the issue puts it), read as
    `response=3 days` would be; the note keeps those words. None when it states none."""
    said = reply_time_said(note)
    if said is None:
        return None
    try:
        return reply_days(said, answered_at=now, cal=customer_calendar(customer, settings.default_tz))
    except ValueError:  # "took 900 days": words in a note, not a flag to refuse
        return None


def _customer_first(call: CommandCall, words: list[tuple[str, int]]) -> str:
    """The check-in typed mood first, as it should read: `green acme …` → `acme green …`; typed in the channel of one
    customer with no name at all (`/partner checkin green call went well` in #acme), with that customer's name and
    all of it, so it can be copied as it is."""
    mood, rest = words[0][0], call.args[words[0][1] :].strip()
    if len(words) > 1:
        try:
            find_customer(call.store, team_id=call.team_id, words=[words[1][0]], usage=USAGE)
            return f"/partner checkin {words[1][0]} {mood} …"  # the two swapped
        except UserError:
            pass
    here = call.store.customers_in_channel(team_id=call.team_id, channel_id=call.channel_id) if call.channel_id else []
    name = command_name(here[0].name) if len(here) == 1 else "<customer>"
    return f"/partner checkin {name} {mood} {rest}".rstrip()


def _shorter_reading(call: CommandCall, words: list[tuple[str, int]], used: int) -> tuple[Customer, int] | None:
    """With Beta and Beta Green, `checkin beta green all fine` reads as Beta Green with no mood: the customer a shorter
    start of the words names whole, a mood following it (Beta, green), and how many words it takes; None if none."""
    for k in range(used - 1, 0, -1):
        if parse_mood(words[k][0]) is None:
            continue
        try:
            other, rest = find_customer(call.store, team_id=call.team_id, words=[w for w, _ in words[:k]], usage=USAGE)
        except UserError:
            continue
        if not rest:
            return other, k
    return None


def _two_readings(
    call: CommandCall, words: list[tuple[str, int]], used: int, customer: Customer, shorter: tuple[Customer, int]
) -> UserError:
    """Either customer may be meant, and a check-in can't be taken back: the user picks, with both ready to copy."""
    other, k = shorter
    as_other = f"/partner checkin {command_name(other.name)} {call.args[words[k - 1][1] :].strip()}"
    as_longer = f"/partner checkin {command_name(customer.name)} <mood> {call.args[words[used - 1][1] :].strip()}"
    if used == len(words):  # `checkin beta green`: nothing after the longer name, not even the note
        as_other, as_longer = f"{as_other} <note>", f"{as_longer.rstrip()} <note>"
    typed = f"'{words[used][0]}' is not a mood, so this" if used < len(words) else "This"
    return UserError(
        f"{typed} reads as *{mrkdwn_name(customer.name)}* with no mood. "
        f"For *{mrkdwn_name(other.name)}* ({words[k][0]}): `{as_other}`; "
        f"for *{mrkdwn_name(customer.name)}*, its mood after the name: `{as_longer}`"
    )


def checkin(call: CommandCall) -> Reply:
    if not call.args.strip():
        # Typed in a customer's channel, the form names that customer, as the message shortcut's does there.
        here = (
            call.store.customers_in_channel(team_id=call.team_id, channel_id=call.channel_id) if call.channel_id else []
        )
        customer = here[0] if len(here) == 1 else None
        call.client.views_open(
            trigger_id=call.trigger_id, view=checkin_modal(customer=customer, channel_id=call.channel_id)
        )
        return None
    words = words_and_offsets(call.args)
    try:
        customer, rest = find_customer(call.store, team_id=call.team_id, words=[w for w, _ in words], usage=USAGE)
    except UserError:
        if words and (is_undo(words[0][0]) or is_fix(words[0][0])):  # `checkin delete`: no customer of that name
            raise UserError(checkin_mend()) from None
        if not words or parse_mood(words[0][0]) is None:
            raise
        raise UserError(
            f"'{words[0][0]}' is the mood, not a customer: the customer comes first, "
            f"e.g. `{_customer_first(call, words)}`. Usage: `{USAGE}`"
        ) from None
    used = len(words) - len(rest)
    if rest and parse_mood(rest[0]) is None and (is_undo(rest[0]) or is_fix(rest[0])):  # `checkin acme undo`
        raise UserError(checkin_mend(customer.name))
    correction, call_first = "", False
    if len(rest) > 1 and rest[0].lower().rstrip(":") == "correction" and parse_mood(rest[1]) is not None:
        # `checkin acme correction: red …`: the mood typed after the word that says the check-in corrects one
        correction, rest, used = rest[0], rest[1:], used + 1
    elif len(rest) > 1 and rest[0].lower().rstrip(",:") == "call" and parse_mood(rest[1]) is not None:
        call_first, rest, used = True, rest[1:], used + 1  # `checkin acme call green …`, as people say it
    elif len(rest) > 1 and rest[0] in _DASHES and parse_mood(rest[1]) is not None:
        rest, used = rest[1:], used + 1  # `checkin acme corp — green: …`: a dash between them, as in a sentence
    elif (not rest or parse_mood(rest[0]) is None) and (shorter := _shorter_reading(call, words, used)) is not None:
        raise _two_readings(call, words, used, customer, shorter)
    mood = require_mood(rest[0] if rest else None, USAGE)
    typed = read_checkin_text(call.args[words[used][1] :])  # everything after the mood
    kind, flags, note = "call" if call_first else typed.kind, typed.flags, typed.note
    if correction and note:
        note = f"{correction} {note}"  # stored as `<mood> correction: <note…>` stores it
    if not note:
        raise UserError(f"Add a short note about the {mood_label(mood.stored)} check-in. Usage: `{USAGE}`")
    next_due = None
    if "next" in flags:
        tz = customer.tz or call.settings.default_tz
        today = call.now.astimezone(ZoneInfo(tz)).date()
        try:
            next_due = parse_due_date(flags["next"], today=today, tz=tz)
        except ValueError as e:
            raise _refuse(str(e)) from None
    response_days = None
    if "response" in flags:
        try:
            cal = customer_calendar(customer, call.settings.default_tz)  # "2 business days" count on their calendar
            response_days = reply_days(flags["response"], answered_at=call.now, cal=cal)
        except ValueError as e:
            raise _refuse(str(e)) from None
    else:
        response_days = reply_days_in_note(note, customer=customer, settings=call.settings, now=call.now)
    assert customer.id is not None
    entry, created = call.store.record_checkin(
        team_id=call.team_id,
        customer_id=customer.id,
        author_id=call.user_id,
        mood=mood.stored,  # a rating as typed: 4 → 3 is a small step, green → yellow a big one
        note=note,
        kind=kind,
        now=call.now,
        idempotency_key=f"command:{call.trigger_id}",
        next_due=next_due,
        response_days=response_days,
        alert_owner_id=alerted_at_once(mood=mood.stored, owner_id=customer.owner_id, author_id=call.user_id),
        summary_tz=channel_summary_tz(
            channel_id=customer.channel_id,
            post_checkins=customer.post_checkins,
            channel_shared=customer.channel_shared,
            gone=channel_gone(error=customer.channel_error, error_at=customer.channel_error_at, now=call.now),
            tz=customer.tz,
            default_tz=call.settings.default_tz,
        ),
    )
    if created:
        call.followup["checkin_id"] = entry.id
        call.followup["customer_id"] = customer.id
        call.refresh_homes(customer.owner_id, call.user_id)
    guests_read = customer.channel_shared and call.store.read_by_guests(
        team_id=call.team_id, channel_id=customer.channel_id
    )
    return {"text": checkin_confirmation(customer, entry, guests_read=guests_read)}
