"""The check-in modal and confirmation."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from domain.boundaries import defuse_broadcasts
from domain.checkins import channel_gone
from domain.health import mood_rating
from handlers.blocks import (
    MOOD_EMOJI,
    command_name,
    context,
    customer_option,
    mood_emoji,
    mood_label,
    mrkdwn_name,
    plain,
    truncate,
)
from handlers.ids import (
    CHECKIN_CALL,
    CHECKIN_CUSTOMER,
    CHECKIN_MODAL,
    CHECKIN_MOOD,
    CHECKIN_NEXT_DUE,
    CHECKIN_NEXT_STEP,
    CHECKIN_NOTE,
)
from storage.models import CheckIn, Customer

SUMMARY_SEPARATOR = "\n\n"  # between the check-ins of a burst listed in one channel message
SUMMARY_NOTE = 2800  # leaves room for the rest of the summary within a section's 3000 characters
ALERT_NOTE = 1000
# The check-in form's further Note boxes ("note_1", "note_2"…): a logged message longer than one box holds.
NOTE_MORE_BLOCK = "note_"


def _next_step(checkin: CheckIn) -> str:
    if not (checkin.next_step or checkin.next_due):
        return ""
    due = f" (due {checkin.next_due:%a} {checkin.next_due.day} {checkin.next_due:%b})" if checkin.next_due else ""
    return f"\n*Next step:* {truncate(checkin.next_step or 'follow up', 300)}{due}"


def checkin_confirmation(
    customer: Customer, checkin: CheckIn, counted_for: date | None = None, *, guests_read: bool = False
) -> str:
    """`counted_for`: the earlier day whose nudge it was logged from, which it counts for (not the day it was sent).
    `guests_read`: its channel is kept out of because guests of the workspace read it (not Slack Connect)."""
    kind = " call" if checkin.kind == "call" else ""
    note = truncate(checkin.note, 300)
    head = f"{mood_emoji(checkin.mood)} Logged a {mood_label(checkin.mood)}{kind} check-in"
    text = f"{head} for *{mrkdwn_name(customer.name)}*: {note}"
    if counted_for is not None:
        text += f"\n_It counts for the call of {counted_for:%a} {counted_for.day} {counted_for:%b}, the nudge's day._"
    return text + _next_step(checkin) + unposted_summary_clause(customer, checkin.created_at, guests_read=guests_read)


def unposted_summary_clause(customer: Customer, at: datetime, *, guests_read: bool = False) -> str:
    """Why a check-in's summary (made `at`) stays out of the customer's channel: shared with the customer's people,
    or guests of the workspace among its members (`guests_read`), or lately found archived or deleted."""
    if not (customer.channel_id and customer.post_checkins):
        return ""
    if customer.channel_shared and guests_read:
        return f"\n_Summary not posted in <#{customer.channel_id}>: guests read this channel._"
    if customer.channel_shared:
        return f"\n_Summary not posted in <#{customer.channel_id}>: the customer's people can read it._"
    if channel_gone(error=customer.channel_error, error_at=customer.channel_error_at, now=at):
        gone = "is archived" if customer.channel_error == "is_archived" else "was deleted"
        return (
            f"\n_Summary not posted in <#{customer.channel_id}>: it {gone}. Pick another channel with"
            f" `/partner edit {command_name(customer.name)} #channel`._"
        )
    return ""


def checkin_summary(customer: Customer, checkin: CheckIn) -> str:
    """The short summary posted in the customer's channel."""
    kind = {"call": " call", "message": ""}.get(checkin.kind, "")
    text = (
        f"{mood_emoji(checkin.mood)} *{mrkdwn_name(customer.name)}* — {mood_label(checkin.mood)}{kind} check-in"
        f" by <@{checkin.author_id}>:\n"
        # A note typed as `/partner checkin … @channel …` keeps the words but pages no one in the customer's channel.
        f"{truncate(defuse_broadcasts(checkin.note), SUMMARY_NOTE)}"
    )
    if checkin.permalink:
        text += f"\n<{checkin.permalink}|Original message>"
    return text + _next_step(checkin)


def checkins_summary(customer: Customer, checkins: Sequence[CheckIn]) -> str:
    """One channel message for check-ins of a customer made close together (a burst): each one's summary."""
    return SUMMARY_SEPARATOR.join(checkin_summary(customer, checkin) for checkin in checkins)


def owner_alert_text(customer: Customer, checkin: CheckIn, *, reason: str, previous: str | None) -> str:
    """The DM to the owner for a red check-in (or a rating of 1–2) or a sharp mood drop."""
    if reason == "red":
        # A rating is named as typed ("rated 2/5"), and so is the mood before it, unless it was the same.
        about = [f"rated {mood_label(checkin.mood)}"] if mood_rating(checkin.mood) is not None else []
        if previous and previous != checkin.mood:
            about.append(f"was {mood_label(previous)}")
        was = f" ({', '.join(about)})" if about else ""
        head = (
            f":rotating_light: <@{checkin.author_id}> logged a *red* check-in for *{mrkdwn_name(customer.name)}*{was}"
        )
    else:
        head = (
            f":chart_with_downwards_trend: *{mrkdwn_name(customer.name)}* dropped from {mood_label(previous or '')}"
            f" to {mood_label(checkin.mood)}"
            f" — check-in by <@{checkin.author_id}>"
        )
    # The note as words: in the owner's DM a user group it names would page the group's members all the same.
    return f"{head}:\n{truncate(defuse_broadcasts(checkin.note), ALERT_NOTE)}" + _next_step(checkin)


def channel_problem_text(customer: Customer, error: str) -> str:
    """Told once to the author when the summary could not be posted; the check-in itself is saved."""
    channel = f"<#{customer.channel_id}>"
    why = {
        "not_in_channel": f"I'm not a member of {channel}. Invite me there with `/invite @Partner`",
        "channel_not_found": f"I can't find {channel} (deleted, or private without me). Invite me, or pick another",
        "is_archived": f"{channel} is archived. Pick a live channel",
        "restricted_action": f"only some people may post in {channel}. Ask an admin to let me, or pick another",
        "restricted_action_read_only_channel": f"{channel} is read-only. Ask an admin to let me post, or pick another",
    }.get(error, f"Slack refused ({error}). Check the channel")
    return (
        f"Your check-in for *{mrkdwn_name(customer.name)}* is saved, but I couldn't post its summary: {why} — "
        f"`/partner edit {command_name(customer.name)} channel=#other`, "
        f"or `/partner edit {command_name(customer.name)} summary=off` to stop posting."
    )


def checkin_modal(
    *,
    customer: Customer | None = None,
    note: str = "",
    more: Sequence[str] = (),
    mood: str | None = None,
    is_call: bool = False,
    channel_id: str | None = None,
    permalink: str | None = None,
    request_key: str | None = None,
    cut: dict[str, str] | None = None,
    nudge_id: int | None = None,
    earlier_day: date | None = None,
) -> dict[str, Any]:
    """The check-in modal; pre-filled when opened from a customer, a nudge or a message.

    `permalink` is the message it was opened from (stored with the check-in); `request_key` replaces the
    view id as the idempotency key, so the same shortcut delivered twice still stores one check-in; `cut` notes a
    logged message shown cut (its fingerprint, length and ts), so the submission stores it whole; `more`, the rest
    of a logged message Partner could not read again, in "continued" boxes (NOTE_MORE_BLOCK). `nudge_id`: the
    nudge whose Log call opened it, so the call counts for that nudge's day whenever the form is sent (one opened
    at 23:50 and sent at 00:10 is the day's call, not the next day's); `earlier_day` says so on a nudge of a day
    gone by.
    """
    customer_select: dict[str, Any] = {
        "type": "external_select",
        "action_id": CHECKIN_CUSTOMER,
        "placeholder": plain("Type a customer's name"),
        "min_query_length": 0,
    }
    if customer is not None:
        customer_select["initial_option"] = customer_option(customer)
    mood_options = [
        {"text": plain(f"{MOOD_EMOJI[m]} {label}"), "value": m}
        for m, label in (("green", "Green — on track"), ("yellow", "Yellow — some concern"), ("red", "Red — at risk"))
    ]
    mood_radio: dict[str, Any] = {"type": "radio_buttons", "action_id": CHECKIN_MOOD, "options": mood_options}
    if mood:
        mood_radio["initial_option"] = next(o for o in mood_options if o["value"] == mood)
    call_option = {"text": plain("Yes, this was a call"), "value": "call"}
    call_box: dict[str, Any] = {"type": "checkboxes", "action_id": CHECKIN_CALL, "options": [call_option]}
    if is_call:
        call_box["initial_options"] = [call_option]
    note_input: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": CHECKIN_NOTE,
        "multiline": True,
        "max_length": 3000,
        "placeholder": plain("What happened? What's next?"),
    }
    if note:
        note_input["initial_value"] = truncate(note, 3000)
    metadata: dict[str, Any] = {"channel_id": channel_id}
    if permalink:
        metadata["permalink"] = permalink
    if request_key:
        metadata["key"] = request_key
    metadata.update(cut or {})
    if nudge_id is not None:
        metadata["nudge_id"] = str(nudge_id)
    next_step_input = {
        "type": "plain_text_input",
        "action_id": CHECKIN_NEXT_STEP,
        "max_length": 500,
        "placeholder": plain("Send the revised proposal"),
    }
    said_day = []
    if earlier_day is not None:
        said_day = [
            context(f"This logs the call of {earlier_day:%a} {earlier_day.day} {earlier_day:%b}, the nudge's day.")
        ]
    return {
        "type": "modal",
        "callback_id": CHECKIN_MODAL,
        "title": plain("Log a check-in", 24),
        "submit": plain("Log it", 24),
        "close": plain("Cancel", 24),
        "private_metadata": json.dumps(metadata),
        "blocks": [
            *said_day,
            {"type": "input", "block_id": "customer", "label": plain("Customer"), "element": customer_select},
            {"type": "input", "block_id": "mood", "label": plain("How is it going?"), "element": mood_radio},
            {
                "type": "input",
                "block_id": "call",
                "optional": True,
                "label": plain("Was this a call?"),
                "element": call_box,
            },
            {"type": "input", "block_id": "note", "label": plain("Note"), "element": note_input},
            *(
                {
                    "type": "input",
                    "block_id": f"{NOTE_MORE_BLOCK}{n}",
                    "optional": True,
                    "label": plain("Note, continued"),
                    "element": {**note_input, "placeholder": plain("The rest of the message"), "initial_value": part},
                }
                for n, part in enumerate(more, start=1)
            ),
            {
                "type": "input",
                "block_id": "next_step",
                "optional": True,
                "label": plain("Next step"),
                "element": next_step_input,
            },
            {
                "type": "input",
                "block_id": "next_due",
                "optional": True,
                "label": plain("Next step due"),
                "element": {"type": "datepicker", "action_id": CHECKIN_NEXT_DUE},
            },
        ],
    }
