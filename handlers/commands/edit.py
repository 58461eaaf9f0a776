"""`/partner edit <customer> key=value…` (or the Edit modal when no settings are given)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from domain.calendar import validate_timezone
from domain.customers import parse_settings
from domain.errors import UserError
from handlers.blocks import command_name, mrkdwn_name
from handlers.blocks.customers import customer_modal
from handlers.commands.add import calendar_mismatch_text, check_owner, tell_owner_change
from handlers.commands.base import CommandCall, Reply
from handlers.commands.cadence import moved_call_text
from handlers.commands.customer_args import (
    EDIT_KEYS,
    UNSET,
    channel_not_found,
    is_mood_setting,
    mood_is_logged,
    parse_customer_args,
    setting_without_equals,
    told_with_usage,
    usage_line,
)
from handlers.commands.lookup import find_customer
from handlers.parsing import parse_mood, unescape
from handlers.permissions import require_change
from handlers.slack_names import plain_names
from schedules.cadence import plan_call_moved_into_the_past
from storage.customers import EDITABLE
from storage.models import Customer, CustomerEvent

USAGE = usage_line("/partner edit <customer>", EDIT_KEYS)
LABELS = {
    "name": "name",
    "owner_id": "owner",
    "channel_id": "channel",
    "tz": "time zone",
    "country": "country",
    "subdiv": "region",
    "working_week": "working week",
    "cadence": "cadence",
    "post_checkins": "channel summaries",
    "ideal_days": "ideal days",
    "max_days": "max days",
}


def shown(key: str, value: Any) -> str:
    if value is None:
        return "none"
    if key == "owner_id":
        return f"<@{value}>"
    if key == "channel_id":
        return f"<#{value}>"
    if key == "post_checkins":
        return "on" if value else "off"
    return f"`{value}`"


def describe_changes(customer: Customer, changed: dict[str, tuple[Any, Any]]) -> str:
    if not changed:
        return f"Nothing to change: *{mrkdwn_name(customer.name)}* already looks like that."
    lines = [f"• {LABELS.get(k, k)}: {shown(k, old)} → {shown(k, new)}" for k, (old, new) in changed.items()]
    return f":pencil2: Updated *{mrkdwn_name(customer.name)}*:\n" + "\n".join(lines)


def changes_of(events: list[CustomerEvent]) -> dict[str, tuple[Any, Any]]:
    """What a request's "renamed"/"edited" events changed, old → new, in the order an edit lists them."""
    changed = {k: (v[0], v[1]) for e in events for k, v in e.detail.items() if k != "request"}
    return {k: changed[k] for k in EDITABLE if k in changed}


def edit_changes(
    *, customer: Customer, options: dict[str, str], owner_id: str | None, channel_id: str | None, now: datetime
) -> dict[str, Any]:
    """The columns to set from what was typed (or submitted in the modal), validated."""
    options = dict(options)
    changes: dict[str, Any] = {}
    if "name" in options:
        changes["name"] = options.pop("name")
    if owner_id:
        changes["owner_id"] = owner_id
    if channel_id != UNSET:
        changes["channel_id"] = channel_id
    tz = options.get("tz", customer.tz) or "UTC"
    try:  # the zone as `tz=` reads it (`asia/tokyo` is Asia/Tokyo): a fortnight starts on the customer's today
        today = now.astimezone(ZoneInfo(validate_timezone(tz))).date()
    except (ValueError, KeyError):
        today = now.date()  # an invalid tz is reported by parse_settings just below
    changes.update(
        parse_settings(
            options, today=today, ideal_days=customer.ideal_days, max_days=customer.max_days, cadence=customer.cadence
        )
    )
    return changes


def edit(call: CommandCall) -> Reply:
    request_key = f"command:{call.trigger_id}"
    asked: dict[str, Any] = {"team_id": call.team_id, "request_key": request_key, "kinds": ("renamed", "edited")}
    again = call.store.changed_by(**asked)
    if again is not None:  # Slack delivered this very command again: answer as the first delivery did
        return {"text": describe_changes(again[0], changes_of(again[1]))}
    args = parse_customer_args(
        call.args, usage=USAGE, keys=EDIT_KEYS, channel_names_customer=True, names=plain_names(call.client, usage=USAGE)
    )
    try:
        customer, rest = find_customer(call.store, team_id=call.team_id, words=args.name_words, usage=USAGE)
    except UserError:
        if not args.unfound or args.name_words[0] != args.unfound[0]:  # `edit` alone: "Which customer?"
            raise
        raise channel_not_found(args.unfound[0], USAGE) from None  # `edit #nowhere …`: neither a channel nor a name
    if unfound := [word for word in rest if word in args.unfound]:  # not part of the customer's name (`Team #1`)
        raise channel_not_found(unfound[0], USAGE)
    said = len(rest) > 1 and is_mood_setting(rest[0], rest[1])
    if said or (rest and (parse_mood(rest[0]) is not None or " ".join(rest).lower() == "mood")):
        # `edit acme mood green`, `edit acme red`: what was meant is a check-in
        mood = rest[1] if said else rest[0]
        raise UserError(
            mood_is_logged(command_name(customer.name), unescape(mood), f"/partner edit {call.args.strip()}")
        )
    if rest:
        meant = setting_without_equals([customer.name, *rest])
        hint = f" Did you mean `{meant}`?" if meant else ""
        raise UserError(
            f"I didn't understand '{' '.join(rest)}' after *{mrkdwn_name(customer.name)}*.{hint} Usage: `{USAGE}`"
        )
    require_change(call.client, call.settings, user_id=call.user_id, customer=customer, action="edit")
    assert customer.id is not None
    if args.owner_id and args.owner_id != customer.owner_id:
        check_owner(call.client, args.owner_id, usage=USAGE)
    if not args.options and args.owner_id is None and args.channel_id == UNSET:
        call.client.views_open(
            trigger_id=call.trigger_id, view=customer_modal(customer=customer, channel_id=call.channel_id)
        )
        return None
    with told_with_usage(USAGE):
        changes = edit_changes(
            customer=customer, options=args.options, owner_id=args.owner_id, channel_id=args.channel_id, now=call.now
        )
    updated, changed = call.store.update_customer(
        team_id=call.team_id,
        customer_id=customer.id,
        actor_id=call.user_id,
        changes=changes,
        now=call.now,
        request_key=request_key,
    )
    if not changed and (again := call.store.changed_by(**asked)) is not None:
        return {"text": describe_changes(again[0], changes_of(again[1]))}  # Slack's retry, answered at the same moment
    # A new channel is joined after the ack (handlers.followups); the same one typed again is looked up again too:
    # how a customer added before Partner recorded it learns whether its channel is shared with the customer.
    if updated.channel_id and ("channel_id" in changed or args.channel_id == updated.channel_id):
        call.followup["join_customer_id"] = updated.id
    text = describe_changes(updated, changed)
    if {"country", "subdiv", "tz"} & set(changed) and (region := calendar_mismatch_text(updated)):
        text += f"\n{region}"
    if changed:
        if plan_call_moved_into_the_past(
            store=call.store, before=customer, after=updated, now=call.now, settings=call.settings
        ):
            text += "\n" + moved_call_text(updated, call.now, call.settings.default_tz)
        if "owner_id" in changed:
            tell_owner_change(
                call.store,
                call.settings,
                customer=updated,
                previous_id=changed["owner_id"][0],
                by=call.user_id,
                request_key=request_key,
                now=call.now,
            )
        # Cadence, ideal/max days and the calendar feed the score: rescored as of the command by its follow-up,
        # after the answer (3–7 s under load, past Slack's 3 s) and before the Homes are redrawn.
        call.followup["rescore_customer_id"] = customer.id
        call.refresh_homes(customer.owner_id, updated.owner_id, call.user_id)
    return {"text": text}
