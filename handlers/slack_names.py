"""A #channel or an @person typed as a plain name, found by that name.

With `should_escape: true` Slack sends what it recognised as `<#C0123|acme>` / `<@U0456|dana>`; a plain `#acme` or
`@dana` still arrives when Slack did not match the word (a display name typed differently, a channel picked before it
was renamed, text pasted from elsewhere). Rather than refuse it, Partner looks the name up once, before the answer:
`conversations.list` (channels:read, groups:read) or `users.list` (users:read), a few pages at most.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from domain.errors import UserError
from handlers.commands.customer_args import PlainNames

logger = logging.getLogger(__name__)

PAGES = 3  # a typed name is worth a few calls before the 3-second answer, not a crawl of a huge workspace
PAGE_SIZE = 1000


def _pages(client: WebClient, method: str, key: str, **params: Any) -> Iterator[dict[str, Any]]:
    cursor = ""
    for _ in range(PAGES):
        response = client.api_call(method, http_verb="GET", params={**params, "limit": PAGE_SIZE, "cursor": cursor})
        yield from response.get(key) or []
        cursor = (response.get("response_metadata") or {}).get("next_cursor") or ""
        if not cursor:
            return


def channel_named(client: WebClient, name: str, *, usage: str) -> str | None:
    """The id of the channel called `name` (Slack's names are lower case), or None when Slack names none (a private
    channel Partner is not in is among them: Slack lists only those it is a member of). An archived one is refused,
    naming it: nothing can be posted there, and "can't find" would not say why."""
    wanted = name.lower().lstrip("#")
    try:
        for channel in _pages(client, "conversations.list", "channels", types="public_channel,private_channel"):
            if wanted in (str(channel.get("name", "")).lower(), str(channel.get("name_normalized", "")).lower()):
                if channel.get("is_archived"):
                    raise UserError(
                        f"<#{channel['id']}> is archived, so nothing can be posted there: pick a channel in use "
                        f"(or unarchive it first). Usage: `{usage}`"
                    )
                return str(channel["id"])
    except (SlackApiError, OSError):
        logger.info("could not look up the channel '#%s' by name", wanted, exc_info=True)
    return None


def person_named(client: WebClient, names: Sequence[str], *, usage: str) -> tuple[str, str] | None:
    """(the first of `names` someone answers to, their id): the one person whose username, display name or full name
    it is, in one pass over the workspace's people. `names` are the readings of one typed @name, longest first
    (`@Dana Scully`: "dana scully", then "dana"), so a full name outranks a first name. Two people answering to the
    chosen name are named back: the owner must be picked from Slack's suggestions."""
    wanted = [name.lower().lstrip("@") for name in names]
    found: dict[str, dict[str, str]] = {name: {} for name in wanted}
    try:
        for user in _pages(client, "users.list", "members"):
            if user.get("deleted"):
                continue
            profile = user.get("profile") or {}
            answers = {
                str(n or "").lower()
                for n in (
                    user.get("name"),
                    profile.get("display_name"),
                    profile.get("display_name_normalized"),
                    profile.get("real_name"),
                    user.get("real_name"),
                )
            }
            for name in wanted:
                if name in answers:
                    found[name][str(user["id"])] = str(profile.get("real_name") or user.get("name") or user["id"])
    except (SlackApiError, OSError):
        logger.info("could not look up '@%s' by name", wanted[0] if wanted else "", exc_info=True)
        return None
    chosen = next((name for name in wanted if found[name]), None)
    if chosen is None:
        return None
    if len(found[chosen]) > 1:
        people = ", ".join(f"<@{user_id}>" for user_id in found[chosen])
        raise UserError(
            f"Several people answer to '@{chosen}' ({people}): pick the owner from Slack's suggestions as you type @. "
            f"Usage: `{usage}`"
        )
    return chosen, next(iter(found[chosen]))


def plain_names(client: WebClient, *, usage: str) -> PlainNames:
    """What `parse_customer_args` calls for a plain #channel or @owner."""
    return PlainNames(
        channel=lambda name: channel_named(client, name, usage=usage),
        person=lambda names: person_named(client, names, usage=usage),
    )
