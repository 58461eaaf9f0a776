"""Text made safe to restate in Slack's mrkdwn: pure functions, shared by the handlers that answer and by the
storage rules whose refusals name a customer."""

from __future__ import annotations

import re

# Slack's mrkdwn has no escape for `*` `_` `~` and `` ` ``, only entities for `&` `<` `>`. What every client shows as
# plain text, unformatted and copied as is, is the fallback text of a date it cannot format (an unknown `{_}` token):
# jsx-slack's <Escape>. A zero-width space would not do: it reads as a word's edge, so it makes markers pair.
_FORMATTING = re.compile(r"[*_~`]")


def escape(text: str, *, literal: bool = False) -> str:
    """What Slack would have sent for `text` typed in a message: plain text made safe to restate in mrkdwn.

    `literal`: text that is never mrkdwn (a customer's name), shown as typed: `*NIX Labs` or `_Acme_` turn no part
    of the message bold or italic. Notes and agreements are the user's own mrkdwn, formatted as they typed them."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _FORMATTING.sub(_shown_as_typed, text) if literal else text


def _shown_as_typed(marker: re.Match[str]) -> str:
    """A formatting character where Slack could read it as one. Bold, italic and strike need the edge of a word:
    inside one (`acme_corp`, `AT*T`) Slack never formats, so the name is left as typed for anyone searching or copying
    it. A backtick can open code anywhere: always. Slack has no escape for these: a date it cannot format shows its
    fallback text, the character, never formatted."""
    text, at, char = marker.string, marker.start(), marker.group()
    inside_a_word = 0 < at < len(text) - 1 and text[at - 1].isalnum() and text[at + 1].isalnum()
    return char if inside_a_word and char != "`" else f"<!date^0^{{_}}|{char}>"


def mrkdwn_name(name: str) -> str:
    """A customer's name in mrkdwn, shown as typed (`escape` literal): the one way names go into mrkdwn text."""
    return escape(name, literal=True)
