"""`/partner add <name> [#channel] [@owner] [tz=Area/City] [country=CC]`."""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from domain.calendar import validate_country, validate_timezone
from domain.errors import UserError
from handlers.commands.base import CommandCall, Reply
from handlers.parsing import parse_channel, parse_key_value, parse_user, tokenize, unescape

logger = logging.getLogger(__name__)

USAGE = "/partner add <name> [#channel] [@owner] [tz=Area/City] [country=CC]"
OPTION_KEYS = ("tz", "country")


def user_timezone(client: WebClient, user_id: str) -> str | None:
    try:
        return client.users_info(user=user_id)["user"].get("tz")
    except SlackApiError:
        logger.info("users.info failed for %s; using the default time zone", user_id)
        return None


def join_channel(client: WebClient, channel_id: str) -> str | None:
    """Joins a public channel so nudges can be posted there; returns a hint when the bot must be invited."""
    try:
        client.conversations_join(channel=channel_id)
        return None
    except SlackApiError as e:
        error = e.response.get("error")
        if error == "is_archived":
            raise UserError(f"<#{channel_id}> is archived; pick a live channel for this customer.") from None
        return f"Invite me to <#{channel_id}> (`/invite @Partner`) so I can post there."


def add(call: CommandCall) -> Reply:
    tokens = tokenize(call.args)
    name_words: list[str] = []
    channel_id: str | None = None
    owner_id: str | None = None
    options: dict[str, str] = {}
    for i, token in enumerate(tokens):
        channel, user, pair = parse_channel(token), parse_user(token), parse_key_value(token)
        if channel is None and user is None and pair is None:
            if options or channel_id or owner_id:
                raise UserError(f"I didn't understand '{token}' after the name. Usage: `{USAGE}`")
            name_words.append(token)
            continue
        if not name_words and i == 0:
            raise UserError(f"Start with the customer's name. Usage: `{USAGE}`")
        if channel is not None:
            if channel.id is None:
                raise UserError(
                    f"I can't find a channel called '#{channel.name}'. Pick it from Slack's suggestions as you type #."
                )
            if channel_id and channel_id != channel.id:
                raise UserError("Give one channel per customer.")
            channel_id = channel.id
        elif user is not None:
            if user.id is None:
                raise UserError(f"I can't find '@{user.name}'. Pick the owner from Slack's suggestions as you type @.")
            if owner_id and owner_id != user.id:
                raise UserError("Give one owner per customer.")
            owner_id = user.id
        elif pair is not None:
            key, value = pair
            if key not in OPTION_KEYS:
                raise UserError(f"Unknown option '{key}='. You can set {', '.join(k + '=' for k in OPTION_KEYS)}.")
            options[key] = value
    if not name_words:
        raise UserError(f"What's the customer called? Usage: `{USAGE}`")

    owner_id = owner_id or call.user_id
    try:
        tz = validate_timezone(options["tz"]) if "tz" in options else None
        country = validate_country(options["country"]) if "country" in options else None
    except ValueError as e:
        raise UserError(str(e)) from None
    tz = tz or user_timezone(call.client, owner_id) or call.settings.default_tz

    customer = call.store.add_customer(
        team_id=call.team_id,
        name=unescape(" ".join(name_words)),
        created_by=call.user_id,
        now=call.now,
        channel_id=channel_id,
        owner_id=owner_id,
        tz=tz,
        country=country,
    )
    details = [f"owner <@{owner_id}>", f"time zone {tz}"]
    if channel_id:
        details.insert(1, f"channel <#{channel_id}>")
    if country:
        details.append(f"holidays of {country}")
    text = f":handshake: Added *{customer.name}* — {', '.join(details)}."
    hint = join_channel(call.client, channel_id) if channel_id else None
    if hint:
        text += f"\n{hint}"
    text += f"\nLog the first check-in: `/partner checkin {customer.name} green <note>`"
    return {"text": text}
