"""Block Kit builders: pure functions from domain data to Slack JSON (no I/O). Shared primitives live here."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from domain.calendar import WorkCalendar
from domain.health import mood_colour, mood_rating
from domain.mrkdwn import mrkdwn_name as mrkdwn_name  # where every handler takes it from
from domain.surveys import LEVEL_NAMES
from storage.models import Customer

MAX_TEXT = 3000  # Slack's limit for a section's text
MAX_MESSAGE_TEXT = 40_000  # Slack's limit for a message's own `text` (msg_too_long past it)
MAX_OPTION_TEXT = 75
# The text of one posted message's blocks together: Slack answers chat.postMessage with msg_blocks_too_long past
# about 12,000 characters, undocumented (its engineers in slackapi/bolt-js#2509; refused from 11,341 in #2867).
MAX_BLOCKS_TEXT = 11_000
MOOD_EMOJI = {"green": ":large_green_circle:", "yellow": ":large_yellow_circle:", "red": ":red_circle:"}


def mood_emoji(mood: str | None) -> str:
    """The colour emoji of a stored mood (a colour or a 1–5 rating); "" for none or one Partner does not know."""
    colour = mood_colour(mood) if mood else None
    return MOOD_EMOJI[colour] if colour else ""


def mood_label(mood: str) -> str:
    """A mood in words: a colour as its name, a rating as typed ("4/5"), anything else as stored."""
    rating = mood_rating(mood)
    return f"{rating}/5" if rating is not None else mood


def mood_badge(mood: str | None) -> str:
    """Where only the emoji stood for a mood: the emoji, with a rating beside it (":large_green_circle: 4/5")."""
    if not mood:
        return ""
    emoji = mood_emoji(mood)
    if not emoji:
        return mood  # unknown: shown as stored rather than hidden
    return f"{emoji} {mood_label(mood)}" if mood_rating(mood) is not None else emoji


def paused_text(paused_at: datetime, tz: str) -> str:
    """A paused customer in place of its next call (Home, list, digest): ":double_vertical_bar: paused since Tue 1 Dec"
    on the customer's calendar. It owes no call until `/partner resume`, so it is never shown as overdue."""
    day = WorkCalendar(tz=tz).local_date(paused_at)
    return f":double_vertical_bar: paused since {day:%a} {day.day} {day:%b}"


# Where a cut must not fall: inside an escaped character (`&amp;`) or a mention or link (`<@U0456>`, `<https://…|x>`),
# which Slack would show as a stray "&am…" or "<@U04…" instead of the character or the person.
_ENTITY = re.compile(r"&(?:amp|lt|gt);")
_MENTION_OR_LINK = re.compile(r"<(?:[@#!]|https?:|mailto:)[^<>]*>")


def truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = limit - 1
    for pattern in (_ENTITY, _MENTION_OR_LINK):
        for match in pattern.finditer(text, max(0, cut - 600), cut + 600):
            if match.start() < cut < match.end():
                cut = match.start()
    return text[:cut].rstrip() + "…"


def command_name(name: str) -> str:
    """A customer's name in a command to copy (`/partner status …`, a code span): as typed, but a backtick, which
    would end the code span, as ’, the same name to every command (domain.customers.name_key folds the two)."""
    return name.replace("`", "’")


def as_code(typed: str) -> str:
    """Text given back to copy as it was typed (`You typed: …`), in code: a span, or a block when it holds a line
    break or a backtick, either of which ends a span (Slack's spans stay on one line), so a note over several lines
    or with `code` in it comes back whole, its *stars* and backticks as typed."""
    return f"```{typed}```" if "\n" in typed or "`" in typed else f"`{typed}`"


# What Slack reads between < and > itself: a mention, a channel, a special (@here, a date, a user group) or a link.
_SLACK_TOKEN = re.compile(r"<(?:[@#!]|https?://|mailto:|tel:|slack://)[^<>\n]*>")
_ANGLED = re.compile(r"<[^<>\n]*>|<")


def placeholders_shown(text: str) -> str:
    """Partner's own `<customer>`, `<note…>`, `<n>` as Slack shows them: Slack reads any `<…>` in mrkdwn as a link or
    a mention, even in a code span, so `/partner show <customer>` would read "/partner show customer" with "customer"
    a broken link. Those are sent as `&lt;…&gt;`; Slack's own tokens stay. Text Slack sent is escaped already, so
    this changes nothing of what people typed, and applying it twice changes nothing more."""
    if "<" not in text:
        return text
    return _ANGLED.sub(
        lambda m: m[0] if _SLACK_TOKEN.fullmatch(m[0]) else m[0].replace("<", "&lt;").replace(">", "&gt;"), text
    )


def mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": truncate(placeholders_shown(text), MAX_TEXT)}


def plain(text: str, limit: int = 150) -> dict[str, Any]:
    return {"type": "plain_text", "text": truncate(text, limit), "emoji": True}


def section(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "section", "text": mrkdwn(text), **extra}


def blocks_text_length(value: Any) -> int:
    """The characters of every text in some blocks (or any part of them): what Slack counts against MAX_BLOCKS_TEXT."""
    if isinstance(value, list):
        return sum(blocks_text_length(v) for v in value)
    if isinstance(value, dict):
        return sum(len(v) if k == "text" and isinstance(v, str) else blocks_text_length(v) for k, v in value.items())
    return 0


def line_sections(lines: Sequence[str]) -> list[dict[str, Any]]:
    """Lines in as many sections as their text needs, whole lines in each within a section's 3,000 characters: a long
    list is never cut short with "…" (what follows the cut, such as "…and 375 more", would be lost with it)."""
    sections: list[dict[str, Any]] = []
    chunk: list[str] = []
    for line in map(placeholders_shown, lines):  # measured as sent
        if chunk and len("\n".join([*chunk, line])) > MAX_TEXT:
            sections.append(section("\n".join(chunk)))
            chunk = []
        chunk.append(line)
    if chunk:
        sections.append(section("\n".join(chunk)))
    return sections


def context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [mrkdwn(text)]}


MAX_ROW_ID = 2**31 - 1  # ids are INTEGER columns: PostgreSQL refuses a larger number in the query itself


def is_row_id(text: str) -> bool:
    """A button's value that can be a row id: ASCII digits ("²".isdigit() is true) within an INTEGER column, so
    a stale or forged value is "no longer exists" rather than a query PostgreSQL or SQLite refuses to run."""
    return len(text) <= 10 and text.isascii() and text.isdigit() and 0 < int(text) <= MAX_ROW_ID


def metadata_row_id(value: Any) -> int | None:
    """A row id read back from a modal's private_metadata (JSON); None for anything else (a forged or garbled
    value), so the submission says "no longer exists" instead of running a query the database refuses."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ROW_ID:
        return None
    return value


def button(text: str, action_id: str, value: str, *, style: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "button", "action_id": action_id, "text": plain(text, 75), "value": value}
    if style:
        element["style"] = style
    return element


def tier_text(tier: str | None) -> str:
    """A tier as people read it, in the words the level survey and `/partner status` use ("Supplier of choice"),
    not its key; `list tier=` takes it typed either way."""
    return LEVEL_NAMES.get(tier, tier.replace("_", " ")) if tier else "—"


# How much of a name's end an option keeps when the whole does not fit: regional accounts and numbered ones differ
# there ("… Handelsgesellschaft Europe" / "… Americas", "… 001" / "… 002").
OPTION_NAME_END = 24


def option_name(name: str) -> str:
    """A customer's name as a menu option shows it, within Slack's 75 characters: its start and its end, "…" between,
    so that long names that differ only at the end are still told apart (cut at the end, 100 options read alike)."""
    if len(name) <= MAX_OPTION_TEXT:
        return name
    start = name[: MAX_OPTION_TEXT - 1 - OPTION_NAME_END].rstrip()
    return f"{start}…{name[-OPTION_NAME_END:].lstrip()}"


def customer_option(customer: Customer) -> dict[str, Any]:
    return {"text": plain(option_name(customer.name), MAX_OPTION_TEXT), "value": str(customer.id)}


def ago(then: datetime, now: datetime) -> str:
    seconds = max(0, int((now - then).total_seconds()))
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    days = seconds // 86400
    return "yesterday" if days == 1 else f"{days} days ago"


def local_time(instant: datetime | None, tz: str | None = None) -> str:
    """When something happens on a clock people read: "Tue 1 Dec 09:00 EST" on the customer's clock `tz` (its zone's
    abbreviation last, `zone_abbreviation`); without `tz`, "Tue 1 Dec 09:00" on the wall clock of the instant's own
    zone (where the zone is named beside it, "(America/New_York)"); "—" for none."""
    if instant is None:
        return "—"
    if tz is None:
        return f"{instant:%a} {instant.day} {instant:%b %H:%M}"
    local = instant.astimezone(ZoneInfo(tz))
    return f"{local:%a} {local.day} {local:%b %H:%M} {zone_abbreviation(local)}"


def zone_abbreviation(local: datetime) -> str:
    """The zone's abbreviation at that moment ("EST", "AEDT"); for a zone the tz database gives none, its offset from
    UTC ("UTC−03" in São Paulo, "UTC+04" in Dubai), never a bare "-03" that reads as a subtraction after a time."""
    name = local.tzname() or ""
    if name[:1] not in ("+", "-"):
        return name
    offset = local.utcoffset() or timedelta()
    minutes = int(offset.total_seconds()) // 60
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{'−' if minutes < 0 else '+'}{hours:02d}" + (f":{rest:02d}" if rest else "")
