"""Message shortcut "Log as check-in": the check-in modal, pre-filled with the message and its permalink."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from handlers.blocks import truncate
from handlers.blocks.checkin import checkin_modal
from handlers.parsing import readable_markup, unescape
from storage.store import Store

logger = logging.getLogger(__name__)

NOTE_LIMIT = 3000  # the note input's max_length
# Pages of a thread read again for a logged reply (200 messages each): a 1,000-message thread, within the answer's time.
REREAD_PAGES = 5


def message_words(message: dict[str, Any]) -> str:
    """What a message says, in Slack's escaped markup: its text; else, for a bot's or an app's message sent as
    attachments or blocks only (a ticket, an alert), their words; then the names of its files, so a message that
    is only an upload still says what was shared instead of leaving the note empty."""
    text = str(message.get("text") or "").strip()
    if not text:
        parts: list[str] = []
        for attachment in message.get("attachments") or []:
            if isinstance(attachment, dict):
                words = [str(attachment.get(k) or "").strip() for k in ("pretext", "title", "text")]
                words = [w for w in words if w] or [str(attachment.get("fallback") or "").strip()]
                parts.extend(w for w in words if w)
        if not parts:
            parts = [w for block in message.get("blocks") or [] if isinstance(block, dict) for w in _block_words(block)]
        text = "\n".join(parts)
    files = [f for f in message.get("files") or [] if isinstance(f, dict)]
    names = [str(f.get("title") or f.get("name") or "").strip() for f in files]
    if any(names):
        # A file's name is plain text: escaped as Slack escapes the message's own text.
        shared = ", ".join(n.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") for n in names if n)
        text = f"{text}\nFiles: {shared}".strip()
    return text


def _block_words(block: dict[str, Any]) -> list[str]:
    """The words of a section, header or context block (a rich_text block always comes with the message's text)."""
    texts = [block.get("text"), *(block.get("fields") or []), *(block.get("elements") or [])]
    return [
        str(t.get("text")).strip()
        for t in texts
        if isinstance(t, dict) and t.get("type") in ("mrkdwn", "plain_text") and str(t.get("text") or "").strip()
    ]


def readable_words(message: dict[str, Any]) -> str:
    """The message as its author sees it (Slack sends it escaped; the submission escapes it again; a link reads as
    its label and address)."""
    return unescape(readable_markup(message_words(message)))  # markup read first: a typed "&lt;b&gt;" stays text


def _shown(text: str, permalink: str | None) -> str:
    return truncate(text, NOTE_LIMIT - len(permalink) - 1 if permalink else NOTE_LIMIT)


def prefilled_note(text: str, permalink: str | None) -> str:
    """The message's readable words cut with "…" to fit the input, followed by its permalink."""
    shown = _shown(text, permalink)
    return f"{shown}\n{permalink}".strip() if permalink else shown


def note_parts(text: str) -> list[str]:
    """`text` in pieces of at most NOTE_LIMIT characters, for the form's Note box and its "continued" boxes: joined
    again as they come back, they are the text whole. A piece never ends inside a mention or a link."""
    parts: list[str] = []
    while len(text) > NOTE_LIMIT:
        cut = len(truncate(text, NOTE_LIMIT + 1)) - 1  # where truncate would cut: before a mention it would split
        cut = cut if 0 < cut <= NOTE_LIMIT else NOTE_LIMIT
        parts.append(text[:cut])
        text = text[cut:]
    return [*parts, text]


def cut_fingerprint(shown: str) -> str:
    return hashlib.sha256(shown.encode("utf-8")).hexdigest()[:20]


def whole_note(note: str, metadata: dict[str, str], client: WebClient) -> str:
    """The submitted note with the logged message's words whole again where the form (3000 characters at most)
    showed them cut with "…" and the user left them as shown: the message is read again from Slack (before the
    answer, so within 2 s). Edited, or Slack unable to say, the note is kept as submitted (its permalink leads to
    the whole message)."""
    cut, length, channel_id, ts = (metadata.get(k) for k in ("cut", "cut_len", "channel_id", "ts"))
    if not (cut and length and length.isdecimal() and channel_id and ts):
        return note
    size = int(length)
    at = next((i for i in range(len(note) - size + 1) if cut_fingerprint(note[i : i + size]) == cut), None)
    if at is None:
        return note
    message, cursor = None, ""
    # A reply's ts gives its whole thread, parent first: a reply late in a busy thread is on a later page.
    for _ in range(REREAD_PAGES):
        try:
            thread = client.conversations_replies(channel=channel_id, ts=ts, limit=200, cursor=cursor or None)
        except (SlackApiError, OSError):
            logger.info("could not read %s/%s again; the logged message's note stays cut", channel_id, ts)
            return note
        message = next((m for m in thread.get("messages") or [] if isinstance(m, dict) and m.get("ts") == ts), None)
        cursor = str((thread.get("response_metadata") or {}).get("next_cursor") or "")
        if message is not None or not cursor:
            break
    if message is None:
        return note
    return note[:at] + readable_words(message) + note[at + size :]


def _can_read(client: WebClient, channel_id: str) -> bool:
    """Whether Partner may read the conversation's messages again (a member of it); True when Slack cannot say, as
    the submission's own try then tells."""
    try:
        channel = client.conversations_info(channel=channel_id).get("channel") or {}
    except (SlackApiError, OSError):
        return True
    return bool(channel.get("is_member") or channel.get("is_im"))


def log_message_as_checkin(
    ack: Ack, shortcut: dict[str, Any], context: BoltContext, client: WebClient, store: Store
) -> None:
    ack()
    channel_id = (shortcut.get("channel") or {}).get("id")
    message = shortcut.get("message") or {}
    message_ts = shortcut.get("message_ts") or message.get("ts")
    permalink = None
    if channel_id and message_ts:
        try:
            permalink = client.chat_getPermalink(channel=channel_id, message_ts=message_ts)["permalink"]
        except (SlackApiError, OSError):  # OSError: Slack timed out; the form must still open while the trigger lives
            logger.info("no permalink for %s/%s; the note keeps the text only", channel_id, message_ts)
    # The customer whose channel this is, when exactly one: most messages worth logging are in its channel.
    team_id = context.team_id or shortcut["team"]["id"]
    in_channel = [c for c in store.customers(team_id=team_id) if channel_id and c.channel_id == channel_id]
    words = readable_words(message)
    shown = _shown(words, permalink)
    # Cut to fit the form: noted so the submission can put the whole message back (whole_note).
    cut = {"cut": cut_fingerprint(shown), "cut_len": str(len(shown)), "ts": str(message_ts)}
    more: list[str] = []
    if shown != words and (permalink is None or not _can_read(client, str(channel_id))):
        # A conversation Partner cannot see (a private channel or a DM it is not in: no link either) or read (a
        # public channel it is not in): the submission could not read the message again. The rest goes in further
        # boxes of the form instead.
        note, *more = note_parts(f"{words}\n{permalink}" if permalink else words)
    view = checkin_modal(
        customer=in_channel[0] if len(in_channel) == 1 else None,
        note=note if more else prefilled_note(words, permalink),
        more=more,
        channel_id=channel_id,
        permalink=permalink,
        cut=cut if shown != words and channel_id and message_ts and not more else None,
        # The same shortcut delivered twice (a Slack retry) must not become two check-ins.
        request_key=f"shortcut:{shortcut['trigger_id']}",
    )
    client.views_open(trigger_id=shortcut["trigger_id"], view=view)
