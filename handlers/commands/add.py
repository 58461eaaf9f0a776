"""`/partner add <name> [#channel] [@owner] [tz=Area/City] [country=CC] [cadence=…]`, or the add modal."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.settings import Settings
from domain.calendar import holidays_of_zone, region_left_out, zone_elsewhere
from domain.customers import parse_settings
from domain.errors import Problems, UserError
from handlers.blocks import command_name, mrkdwn_name
from handlers.blocks.customers import cadence_text, customer_modal
from handlers.commands.base import CommandCall, Reply
from handlers.commands.cadence import next_nudge_sentence
from handlers.commands.customer_args import (
    ADD_KEYS,
    UNSET,
    channel_not_found,
    parse_customer_args,
    setting_without_equals,
    told_with_usage,
    usage_line,
)
from handlers.parsing import unescape
from handlers.slack_names import plain_names
from schedules.people import plan_owner_change
from storage.models import Customer
from storage.store import Store

logger = logging.getLogger(__name__)

USAGE = usage_line("/partner add <name>", ADD_KEYS, channel="#channel")


def user_timezone(client: WebClient, user_id: str) -> str | None:
    try:
        return client.users_info(user=user_id)["user"].get("tz")
    except (SlackApiError, OSError):  # OSError: a timeout or a dropped connection to Slack
        logger.info("users.info failed for %s; using the default time zone", user_id)
        return None


def check_owner(client: WebClient, user_id: str, *, usage: str | None = None) -> dict[str, Any]:
    """Slack's record of a named owner; refuses a bot, a deactivated or an unknown user (nudges and alerts would
    go nowhere), and someone of another organisation or a guest of the workspace (owners get internal alerts: red
    check-ins, health drops).
    {} when Slack cannot say right now (rate limit, outage): the owner is kept as typed, and Slack is not asked
    again for the time zone."""
    how = f" Usage: `{usage}`" if usage else ""
    try:
        user: dict[str, Any] = client.users_info(user=user_id)["user"]
    except SlackApiError as e:
        if e.response.get("error") == "user_not_found":
            raise UserError(f"I can't find <@{user_id}> in this workspace: pick the owner as you type @.{how}") from e
        return {}
    except OSError:  # a timeout or a dropped connection to Slack
        return {}
    if user.get("is_bot") or user_id == "USLACKBOT":
        raise UserError(f"<@{user_id}> is a bot: a customer's owner is a person, who gets its nudges and alerts.{how}")
    if user.get("deleted"):
        raise UserError(f"<@{user_id}> is deactivated: pick an active teammate as the owner.{how}")
    if user.get("is_stranger"):  # of another organisation, met in a Slack Connect channel
        raise UserError(
            f"<@{user_id}> is from another organisation (Slack Connect): a customer's owner is someone on your "
            f"team, who gets its nudges and internal alerts.{how}"
        )
    if user.get("is_restricted") or user.get("is_ultra_restricted"):  # Partner is for full members only
        raise UserError(
            f"<@{user_id}> is a guest of the workspace: a customer's owner is a full member, who gets its nudges "
            f"and internal alerts.{how}"
        )
    return user


def tell_owner_change(
    store: Store,
    settings: Settings,
    *,
    customer: Customer,
    previous_id: str | None,
    by: str,
    request_key: str,
    now: datetime,
) -> None:
    """Tells the new owner (unless `by` is them) and the previous one (unless `by` is them) of a customer made someone
    else's, once per request, after the answer (schedules.people). The next call is read now, as the answer reads it."""
    if customer.owner_id in (None, previous_id):
        return
    moved_to_someone_else = customer.owner_id != by and bool(customer.cadence)
    next_call = next_nudge_sentence(store, customer, now=now, settings=settings) if moved_to_someone_else else ""
    plan_owner_change(
        store, customer=customer, previous_id=previous_id, by=by, request_key=request_key, next_call=next_call, now=now
    )


def settings_for(
    options: dict[str, str], *, owner_tz: Callable[[], str | None], default_tz: str, now: datetime
) -> dict[str, Any]:
    """Validated settings for a new customer; the time zone defaults to the owner's Slack one, then the default."""
    problems = Problems()  # a bad tz= and a bad country= are told together
    fields: dict[str, Any] = {"tz": default_tz}  # kept only to read the other settings when tz= is bad
    with problems.check():
        fields = parse_settings({k: v for k, v in options.items() if k == "tz"}, today=now.date())
    tz = fields.get("tz") or owner_tz() or default_tz
    today = now.astimezone(ZoneInfo(tz)).date()  # pins biweekly / every-N cadences to the customer's today
    with problems.check():
        fields.update(parse_settings({k: v for k, v in options.items() if k != "tz"}, today=today))
    problems.raise_any()
    fields["tz"] = tz
    return fields


def default_tz_hint(customer: Customer) -> str:
    """Said when the time zone fell back to the default because Slack did not give the owner's: a customer on
    the wrong clock gets its nudges at the wrong hour, so the author should know at once."""
    return (
        f"Slack didn't tell me <@{customer.owner_id}>'s time zone, so {customer.tz} (the default) is used: "
        f"`/partner edit {command_name(customer.name)} tz=Area/City` sets the customer's."
    )


def calendar_mismatch_text(customer: Customer) -> str:
    """Said when the customer's holidays and its time zone do not go together: a country's holidays on another
    country's clock (a Tokyo customer added with country=JP by an owner in Los Angeles, whose zone it took, is nudged
    at 09:00 Los Angeles time), or a country without the region its zone is named for (`region_left_out_text`)."""
    zone = zone_elsewhere(customer.tz or "", customer.country)
    if zone is None:
        return region_left_out_text(customer)
    fix = f"`/partner edit {command_name(customer.name)} tz={zone or 'Area/City'}`"
    return (
        f"Its holidays are {customer.country}'s but its time zone, {customer.tz}, is not in {customer.country}: "
        f"its calls are nudged at {customer.tz} time. {fix} puts them on the customer's clock"
        + ("." if zone else " (the zone of its city: <https://en.wikipedia.org/wiki/List_of_tz_database_time_zones>).")
    )


def region_left_out_text(customer: Customer) -> str:
    """Said when `country=` names a country alone for a zone named for one of its regions, whose own holidays the
    country's list leaves out (`country=AU` in Sydney: no Boxing Day observed on Mon 28 Dec 2026); "" otherwise."""
    code = region_left_out(customer.tz or "", customer.country, customer.subdiv)
    if code is None:
        return ""
    return (
        f"Only the holidays all of {customer.country} keeps are skipped, not those of its regions alone: "
        f"`/partner edit {command_name(customer.name)} country={code}` skips {code}'s too, where {customer.tz} is."
    )


class OwnerTimezone:
    """The owner's Slack time zone, asked at most once; remembers whether Slack gave none."""

    def __init__(self, lookup: Callable[[], str | None]) -> None:
        self._lookup = lookup
        self.missing = False

    def __call__(self) -> str | None:
        tz = self._lookup()
        self.missing = not tz
        return tz


def added_text(customer: Customer, hint: str | None = None) -> str:
    details = [f"owner <@{customer.owner_id}>", f"time zone {customer.tz}"]
    if customer.channel_id:
        details.insert(1, f"channel <#{customer.channel_id}>")
    if customer.country:
        details.append(f"holidays of {customer.country}{'-' + customer.subdiv if customer.subdiv else ''}")
    if customer.working_week:
        details.append(f"working week {customer.working_week}")
    if customer.cadence:
        details.append(f"cadence {cadence_text(customer)}")
    text = f":handshake: Added *{mrkdwn_name(customer.name)}* — {', '.join(details)}."
    if hint:
        text += f"\n{hint}"
    if hint_region := calendar_mismatch_text(customer):
        text += f"\n{hint_region}"
    if not customer.country and (country := holidays_of_zone(customer.tz or "")):
        # Holidays are the customer's country's, never guessed: say how to get them, or a holiday gets its nudge.
        text += (
            f"\nNo public holidays are skipped yet: `/partner edit {command_name(customer.name)} "
            f"country={country}` skips "
            f"those of {country}."
        )
    if not customer.cadence:
        # Without a cadence nobody is ever nudged about the customer: a new team would wait for a first nudge.
        text += (
            "\nNo call cadence yet, so nobody is nudged about it: `/partner cadence "
            f"{command_name(customer.name)} weekly tue 10:00` "
            "(or `daily 09:00`) sets one, in the customer's time."
        )
    return text + f"\nLog the first check-in: `/partner checkin {command_name(customer.name)} green <note>`"


def add(call: CommandCall) -> Reply:
    if not call.args.strip():
        view = customer_modal(owner_id=call.user_id, channel_id=call.channel_id)
        call.client.views_open(trigger_id=call.trigger_id, view=view)
        return None
    request_key = f"command:{call.trigger_id}"
    again = call.store.customer_added_by(team_id=call.team_id, request_key=request_key)
    if again is not None:  # Slack retried this very command: answer as the first delivery did
        return {"text": added_text(again)}
    args = parse_customer_args(call.args, usage=USAGE, keys=ADD_KEYS, names=plain_names(call.client, usage=USAGE))
    if not args.name_words:
        raise UserError(f"What's the customer called? Usage: `{USAGE}`")
    if args.unfound:  # `add Team #1`: a channel no one can find, or part of the name? Asked, not guessed.
        raise channel_not_found(args.unfound[0], USAGE, name=" ".join(args.name_words))
    if (meant := setting_without_equals(args.name_words)) is not None:  # else read as part of the name
        raise UserError(
            f"'{' '.join(args.name_words)}' looks like a name followed by a setting typed without its '=': "
            f"did you mean `{meant}`? Usage: `{USAGE}`"
        )
    owner_id = args.owner_id or call.user_id
    owner = check_owner(call.client, owner_id, usage=USAGE) if args.owner_id else None
    owner_tz = OwnerTimezone(lambda: owner.get("tz") if owner is not None else user_timezone(call.client, owner_id))
    with told_with_usage(USAGE):
        fields = settings_for(args.options, owner_tz=owner_tz, default_tz=call.settings.default_tz, now=call.now)
    channel_id = None if args.channel_id == UNSET else args.channel_id
    try:
        customer = call.store.add_customer(
            team_id=call.team_id,
            name=unescape(" ".join(args.name_words)),
            created_by=call.user_id,
            now=call.now,
            channel_id=channel_id,
            owner_id=owner_id,
            request_key=request_key,
            **fields,
        )
    except UserError:
        # A retry that overtook this delivery (Slack resends while we wait on users.info) added it: same answer,
        # and the follow-ups are that delivery's.
        again = call.store.customer_added_by(team_id=call.team_id, request_key=request_key)
        if again is None:
            raise
        return {"text": added_text(again)}
    tell_owner_change(
        call.store,
        call.settings,
        customer=customer,
        previous_id=None,
        by=call.user_id,
        request_key=request_key,
        now=call.now,
    )
    if channel_id:  # joining can be slow: after the ack, which says so only if it fails (handlers.followups)
        call.followup["join_customer_id"] = customer.id
    call.refresh_homes(customer.owner_id, call.user_id)
    return {"text": added_text(customer, default_tz_hint(customer) if owner_tz.missing else None)}
