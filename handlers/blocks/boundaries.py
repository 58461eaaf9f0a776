"""Boundaries: the list with its buttons, the customer-card section, the escalation, the next-need
suggestion, the detected-slip question, the gentle reminder and the renegotiation modal. Pure builders."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from typing import Any

from domain import boundaries as rules
from domain.calendar import WorkCalendar
from handlers.blocks import command_name, context, mrkdwn_name, plain, section, truncate
from handlers.ids import (
    BOUNDARY_ACTIVATE,
    BOUNDARY_CALL_NO,
    BOUNDARY_CALL_YES,
    BOUNDARY_DECIDE_FLAG,
    BOUNDARY_DECIDE_RENEGOTIATE,
    BOUNDARY_DECIDE_RETIRE,
    BOUNDARY_DECIDE_TALK,
    BOUNDARY_HELD,
    BOUNDARY_KIND,
    BOUNDARY_RENEGOTIATE_MODAL,
    BOUNDARY_RETIRE,
    BOUNDARY_SLIP,
    BOUNDARY_TEXT,
    BOUNDARY_VALUE,
)
from handlers.parsing import plain_words, readable_markup, unescape
from storage.boundaries import BoundaryRecord
from storage.models import Customer

# Two blocks a boundary keeps a list well inside Slack's 50 blocks per message.
MAX_LISTED = 20
# The card has its own blocks around this section; five needs (two blocks each) keep it well under 50.
MAX_ON_CARD = 5
MAX_HISTORY = 10

STATUS_LABEL = {
    "proposed": ":white_circle: proposed",
    "active": ":large_blue_circle: active",
    "held": ":white_check_mark: holding",
    "retired": ":heavy_minus_sign: retired",
}
KIND_LABEL = {
    "response_time": "response time",
    "contact_window": "contact window",
    "channel": "channel",
    "custom": "custom",
}
DECISION_ACTIONS = {
    "talk": BOUNDARY_DECIDE_TALK,
    "renegotiate": BOUNDARY_DECIDE_RENEGOTIATE,
    "retire": BOUNDARY_DECIDE_RETIRE,
    "flag": BOUNDARY_DECIDE_FLAG,
}
DECISION_DONE = {
    "talk": "will talk it through with the customer",
    "renegotiate": "renegotiated it",
    "retire": "retired it",
    "flag": "flagged the relationship",
}
# Where a button was shown; the action refreshes that surface (the list) or answers beside it (the card).
SURFACE_LIST = "list"
SURFACE_CARD = "card"
SURFACE_SUGGESTION = "suggestion"


def quoted(text: str) -> str:
    return f"“{text}”"


def day_label(instant: datetime | date, cal: WorkCalendar | None = None) -> str:
    """An instant's day on the customer's clock (or a day as it is), as people say it: "Tue 1 Dec"."""
    local = instant if not isinstance(instant, datetime) else cal.local_date(instant) if cal else instant.date()
    return f"{local:%a} {local.day} {local:%b}"


def describe_value(rule: rules.Boundary) -> str | None:
    """How the measurable part reads: "1 business day", "9–10am their time", the channel…"""
    if rule.response_time is not None:
        return f"within {rule.response_time.describe()}"
    if rule.contact_window is not None:
        return f"{rules.say_contact_window(rule.contact_window)} their time"
    return rule.value


def describe_reminders(setting: str | None) -> str:
    if setting == "off":
        return "reminders off"
    if not setting:
        return "reminders weekly"
    return f"reminders {setting}"


def slip_counts(record: BoundaryRecord, now: datetime, policy: rules.Policy) -> str:
    total = len(record.slips)
    if total == 0:
        return "no slips"
    recent = rules.slips_in_window(record.rule, now, policy.escalate_window)
    days = policy.escalate_window.days
    paused = sum(1 for s in record.rule.slips if s.paused)  # kept, but never counted in the window
    in_all = f"{total} in all" + (f", {paused} while paused" if paused else "")
    return f"{recent} slip{'' if recent == 1 else 's'} in the last {days} days · {in_all}"


def escalation_note(escalated: datetime, cal: WorkCalendar) -> str:
    # As the digest and the owner's DM say it: the team was asked to decide about this need.
    return f":warning: escalated on {day_label(escalated, cal)}"


# What the owner chose, as the card says it after "on <day> <@who>".
DECISION_CHOSEN = {
    "talk": "chose to talk it through with the customer",
    "renegotiate": "renegotiated it",
    "retire": "retired it",
    "flag": "flagged the relationship",
}


def escalation_fact(record: BoundaryRecord, now: datetime, policy: rules.Policy, cal: WorkCalendar) -> str | None:
    """The escalation of a need in force, for the escalation window from when the owner was asked: dated by that ask
    (not by a decision, which moves the row's escalated_at), and once decided, what was chosen and when."""
    if not record.rule.in_force or record.row.escalated_at is None:
        return None
    escalation = record.escalation
    asked = escalation.asked_at if escalation is not None else record.row.escalated_at
    if now - asked > policy.escalate_window:
        return None
    if escalation is None or escalation.option is None or escalation.decided_at is None:
        return escalation_note(asked, cal)  # the team is still asked to decide
    who = f" <@{escalation.decided_by}>" if escalation.decided_by else ""
    chosen = DECISION_CHOSEN.get(escalation.option, f"decided ({escalation.option})")
    return (
        f":ballot_box_with_check: escalated on {day_label(asked, cal)}; "
        f"on {day_label(escalation.decided_at, cal)}{who} {chosen}"
    )


def boundary_line(record: BoundaryRecord, now: datetime, policy: rules.Policy, cal: WorkCalendar) -> str:
    rule, row = record.rule, record.row
    status = STATUS_LABEL[rule.status]
    since = {"active": rule.activated_at, "held": rule.held_at, "retired": rule.retired_at}.get(rule.status)
    if since is not None:
        status += f" since {day_label(since, cal)}"
    details = [KIND_LABEL[rule.kind]]
    value = describe_value(rule)
    if value:
        details.append(value)
    facts = [status, slip_counts(record, now, policy)]
    if (escalation := escalation_fact(record, now, policy, cal)) is not None:
        facts.append(escalation)
    if rule.status in ("proposed", "active"):  # a need that holds is no longer restated
        facts.append(describe_reminders(row.reminders))
    title = f"*{record.number}.* {quoted(truncate(rule.text, 300))}"
    if rule.status == "retired":
        title = f"~{title}~"
    return f"{title} _({', '.join(details)})_\n{' · '.join(facts)}"


def _button(
    text: str, action_id: str, value: str, *, style: str | None = None, confirm: dict[str, Any] | None = None
) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "button", "action_id": action_id, "text": plain(text, 75), "value": value}
    if style:
        element["style"] = style
    if confirm:
        element["confirm"] = confirm
    return element


def _retire_confirm(text: str) -> dict[str, Any]:
    return {
        "title": plain("Retire this need?", 100),
        # Plain text: a person or a link in the agreement as a person reads them, never their markup.
        "text": plain(f"Stop asking the customer to uphold {quoted(plain_words(text))}? Its history is kept.", 300),
        "confirm": plain("Retire it", 30),
        "deny": plain("Keep it", 30),
    }


def boundary_buttons(record: BoundaryRecord) -> list[dict[str, Any]]:
    """Buttons for what can happen next; Slip carries the slip count it was shown with (see actions)."""
    rule, key = record.rule, str(record.id)
    buttons: list[dict[str, Any]] = []
    if rule.status == "proposed":
        buttons.append(_button("Activate", BOUNDARY_ACTIVATE, key, style="primary"))
    if rule.in_force:
        buttons.append(_button("Slip", BOUNDARY_SLIP, f"{record.id}:{len(record.slips)}"))
    if rule.status == "active":
        buttons.append(_button("Held", BOUNDARY_HELD, key))
    if rule.status != "retired":
        buttons.append(_button("Retire", BOUNDARY_RETIRE, key, confirm=_retire_confirm(rule.text)))
    return buttons


def _boundary_blocks(
    records: Sequence[BoundaryRecord],
    now: datetime,
    policy: rules.Policy,
    cal: WorkCalendar,
    surface: str,
    *,
    limit: int = MAX_LISTED,
    more: str = "",
) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for record in records[:limit]:
        blocks.append(section(boundary_line(record, now, policy, cal)))
        buttons = boundary_buttons(record)
        if buttons:
            blocks.append({"type": "actions", "block_id": f"boundary:{surface}:{record.id}", "elements": buttons})
    if len(records) > limit:
        blocks.append(context(f"…and {len(records) - limit} more.{more}"))
    return blocks


def boundary_list(
    customer: Customer, records: Sequence[BoundaryRecord], now: datetime, policy: rules.Policy, cal: WorkCalendar
) -> dict[str, Any]:
    """The `/partner boundary <customer> list` answer: text and blocks."""
    if not records:
        text = (
            f"*{mrkdwn_name(customer.name)}* has no working agreements yet. Start with your most important need: "
            f'`/partner boundary {command_name(customer.name)} add "We answer within one business day" '
            "kind=response_time value=1d`"
        )
        return {"text": text, "blocks": [section(text)]}
    at_once = "one" if policy.max_active == 1 else str(policy.max_active)  # PARTNER_MAX_ACTIVE_BOUNDARIES
    intro = f"*Working agreements with {mrkdwn_name(customer.name)}* — introduced {at_once} at a time, most important "
    intro += "first."
    blocks = [section(intro), *_boundary_blocks(records, now, policy, cal, SURFACE_LIST)]
    blocks.append(
        context(
            f"A need holds after {rules.say_duration(policy.hold_after)} without a slip; "
            f"{policy.escalate_slips} slips in {policy.escalate_window.days} days ask you to decide what to do. "
            f"`/partner boundary {command_name(customer.name)} preview <n>` shows the next reminder."
        )
    )
    lines = [f"{r.number}. {quoted(r.rule.text)} — {r.rule.status}" for r in records]
    return {"text": f"Working agreements with {mrkdwn_name(customer.name)}:\n" + "\n".join(lines), "blocks": blocks}


def boundary_section_blocks(
    customer: Customer, records: Sequence[BoundaryRecord], now: datetime, policy: rules.Policy, cal: WorkCalendar
) -> list[dict[str, Any]]:
    """The Boundaries section of the customer card: the live needs with their buttons.

    Retired needs are left out (the list shows them), and past :data:`MAX_ON_CARD` the rest are counted
    with a pointer to the list. Buttons here answer with an ephemeral note rather than redrawing the card,
    which belongs to the customer-card code.
    """
    live = [r for r in records if r.rule.status != "retired"]
    blocks: list[dict[str, Any]] = [section("*Boundaries*")]
    if not live:
        blocks.append(
            context(
                f'None yet. `/partner boundary {command_name(customer.name)} add "<your most important '
                'need>"` to start.'
            )
        )
        return blocks
    more = f" `/partner boundary {command_name(customer.name)} list` shows them all."
    blocks.extend(_boundary_blocks(live, now, policy, cal, SURFACE_CARD, limit=MAX_ON_CARD, more=more))
    return blocks


# --------------------------------------------------------------------------- escalation


def escalation_blocks(
    customer: Customer,
    record: BoundaryRecord,
    now: datetime,
    policy: rules.Policy,
    cal: WorkCalendar,
    *,
    decided: tuple[str, str] | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    """The question to the owner after repeated slips; ``decided`` = (option, user id) once answered, with ``note``
    saying what else the decision changed."""
    rule = record.rule
    head = f":warning: *{mrkdwn_name(customer.name)}* — a working agreement keeps slipping"
    question = rules.escalation_text(rule, now, policy)
    since = now - policy.escalate_window
    recent = [s for s in rule.slips if s.at > since][-MAX_HISTORY:]
    history = "\n".join(
        f"• {day_label(s.at, cal)}"
        + (f" — <@{s.by}>" if s.by else "")
        + (" (noticed by Partner)" if s.source == "detected" else "")
        + (" (while paused)" if s.paused else "")  # kept, but not counted in "has slipped N times"
        + (f": {truncate(s.note, 200)}" if s.note else "")
        for s in recent
    )
    blocks: list[dict[str, Any]] = [section(head), section(question)]
    if history:
        blocks.append(section(f"*Slips*\n{history}"))
    if decided is None:
        blocks.append(
            context(
                "Decide consciously: talk it through with them, renegotiate what you ask, retire it, "
                "or flag the relationship for the team."
            )
        )
        blocks.append(
            {
                "type": "actions",
                "block_id": f"boundary:escalation:{record.id}",
                "elements": [
                    _button(label, DECISION_ACTIONS[key], str(record.id), style="primary" if key == "talk" else None)
                    for key, label in rules.escalation_options()
                ],
            }
        )
    else:
        option, user_id = decided
        blocks.append(context(f":ballot_box_with_check: <@{user_id}> {DECISION_DONE[option]}."))
        if note:
            blocks.append(context(note))
    # The notification (and the redraw's text) reads this alone: whose agreement first, the agreement said once (a
    # 300-character one was said twice, the question cut off), and once answered, the decision rather than the ask.
    if decided is None:
        text = f"{mrkdwn_name(customer.name)}: a working agreement keeps slipping. {question}"
    else:
        option, user_id = decided
        text = f"{mrkdwn_name(customer.name)}: {quoted(rule.text)} kept slipping; <@{user_id}> {DECISION_DONE[option]}."
    return {"text": text, "blocks": blocks}


# --------------------------------------------------------------------------- next need


def _restating(customer: Customer, record: BoundaryRecord) -> str:
    """How the need offered will be restated once active: never promised for a customer with no channel (reminders
    go only to its channel) or for a need whose reminders were turned off."""
    if not customer.channel_id:
        edit = f"/partner edit {command_name(customer.name)} #channel"
        return f"*{mrkdwn_name(customer.name)}* has no channel for me to restate it in gently: `{edit}` gives it one"
    if record.row.reminders == "off":
        return "its reminders are off"
    return f"I'll restate it gently in <#{customer.channel_id}> ({describe_reminders(record.row.reminders)})"


def suggestion_blocks(
    customer: Customer, held: BoundaryRecord | None, proposed: BoundaryRecord, policy: rules.Policy
) -> dict[str, Any]:
    """To the owner: the active need has held (or was retired before it held: `held` is the need that made room), so
    here is the next one, with a button to activate it."""
    if held is not None and held.rule.status == "retired" and held.rule.held_at is None:
        lead = f":seedling: {quoted(held.rule.text)} was retired for *{mrkdwn_name(customer.name)}* before it held."
    elif held is not None:
        lead = f":seedling: {quoted(held.rule.text)} has held with *{mrkdwn_name(customer.name)}*"
        at = held.rule.held_at
        quiet = at is not None and rules.has_held(held.rule, at, policy)
        lead += f" — {rules.say_duration(policy.hold_after)} without a slip." if quiet else "."
    else:
        lead = f":seedling: *{mrkdwn_name(customer.name)}* has no need being introduced right now."
    ask = f"Ready to introduce the next one? *{quoted(proposed.rule.text)}*"
    text = f"{lead} {ask}"
    return {
        "text": text,
        "blocks": [
            section(
                text,
                accessory=_button("Activate", BOUNDARY_ACTIVATE, str(proposed.id), style="primary"),
                block_id=f"boundary:{SURFACE_SUGGESTION}:{proposed.id}",
            ),
            context(f"State it in your next meeting or agreement; {_restating(customer, proposed)}."),
        ],
    }


# --------------------------------------------------------------------------- detection


def call_slip_note(
    window: tuple[time, time] | None, call_at: datetime | None, cal: WorkCalendar, *, counted_for: date | None = None
) -> str:
    """A slip's note for a call the author confirmed was outside the window: which call, as the question named it,
    so the slip history says it however late the answer came. ``counted_for``: a call logged after its day, whose
    stored time is that day's last second, not the call's."""
    if window is None or call_at is None:  # the check-in is gone, or the need is no longer a window
        return "Call outside the agreed window"
    if counted_for is not None:
        return (
            f"Call on {day_label(counted_for)} (its time not logged), "
            f"outside the agreed {rules.say_contact_window(window)} window"
        )
    local = cal.local_datetime(call_at)
    return (
        f"Call at {local:%H:%M} their time ({day_label(call_at, cal)}), "
        f"outside the agreed {rules.say_contact_window(window)} window"
    )


def call_window_question(
    customer: Customer,
    record: BoundaryRecord,
    *,
    checkin_id: int,
    call_at: datetime,
    cal: WorkCalendar,
    counted_for: date | None = None,
) -> dict[str, Any]:
    """Asked of the person who logged a call outside the agreed contact window, or (``counted_for``) a call logged
    from its day's nudge once that day was over: stored at the day's last second, its time is not known."""
    window = record.rule.contact_window
    assert window is not None
    local = cal.local_datetime(call_at)
    agreed = rules.say_contact_window(window)
    if counted_for is not None:
        when = f"for {day_label(counted_for)} from that day's nudge, once the day was over: "
        when += "I don't know what time it was. "
    else:
        when = f"at {local:%H:%M} their time ({day_label(call_at, cal)}). "
    text = (
        f"You logged a call with *{mrkdwn_name(customer.name)}* {when}Was this call outside the agreed {agreed} window?"
    )
    # The day rides on the buttons, so that Yes dates and words the slip by it (CALL_ANSWER_IDS reads it).
    value = f"{record.id}:{checkin_id}" + (f":{counted_for:%Y%m%d}" if counted_for is not None else "")
    return {
        "text": text,
        "blocks": [
            section(text),
            {
                "type": "actions",
                "block_id": f"boundary:call:{record.id}",
                "elements": [
                    _button("Yes, log a slip", BOUNDARY_CALL_YES, value),
                    _button("No, it was fine", BOUNDARY_CALL_NO, value),
                ],
            },
        ],
    }


# --------------------------------------------------------------------------- the reminder itself


def reminder_message(text: str) -> dict[str, Any]:
    """The gentle reminder in the customer's channel: just the words, as a person would write them."""
    return {"text": text, "blocks": [section(text)]}


# --------------------------------------------------------------------------- renegotiation


# A channel in a need's value, as stored (`<#C0AP>`, its id alone) or as Slack sent it (`<#C0AP|acme-partners>`).
VALUE_CHANNEL = re.compile(r"<#([CG][A-Z0-9]+)(?:\|[^>]*)?>")


def value_as_shown(value: str, channel_names: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """A need's value as a plain-text field shows it: a channel by its current name (`#acme-partners`), not
    `<#C0AP>`; and which shown name stands for which channel, so the saved form keeps the channel itself."""
    shown: dict[str, str] = {}

    def name(match: re.Match[str]) -> str:
        found = channel_names.get(match.group(1))
        if not found:  # its name could not be read: the channel as Slack writes it still saves as it is
            return match.group(0)
        shown[f"#{found}"] = match.group(1)
        return f"#{found}"

    return VALUE_CHANNEL.sub(name, value), shown


def value_as_saved(value: str, shown: Mapping[str, str]) -> str:
    """The form's value back as stored: a channel shown by name (value_as_shown) is the channel again."""
    for label, channel_id in shown.items():
        value = re.sub(rf"(?<![\w#-]){re.escape(label)}(?![\w-])", f"<#{channel_id}>", value)
    return value


def renegotiate_modal(
    customer: Customer,
    record: BoundaryRecord,
    *,
    metadata: dict[str, Any],
    channel_names: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Edit what is asked: the words, and for measurable needs the number or the window. ``channel_names`` (id →
    current name) shows a channel in the value by its name."""
    rule = record.rule
    value, shown = value_as_shown(rule.value or "", channel_names or {})
    kind_options = [{"text": plain(label.capitalize()), "value": kind} for kind, label in KIND_LABEL.items()]
    value_input: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": BOUNDARY_VALUE,
        # 64 stored; a channel shown by a long name is longer in the form (saved as the channel, checked when saved)
        "max_length": max(rules.MAX_VALUE_LENGTH, len(value)),
        "placeholder": plain("1d, 4h, 9-10am, #acme-requests…"),
    }
    if value:
        value_input["initial_value"] = value
    return {
        "type": "modal",
        "callback_id": BOUNDARY_RENEGOTIATE_MODAL,
        "title": plain("Renegotiate", 24),
        "submit": plain("Save", 24),
        "close": plain("Cancel", 24),
        "private_metadata": json.dumps(
            {**metadata, "boundary_id": record.id, **({"channels": shown} if shown else {})}
        ),
        "blocks": [
            section(
                f"What you and *{mrkdwn_name(customer.name)}* now agree, instead of {quoted(truncate(rule.text, 200))}."
            ),
            {
                "type": "input",
                "block_id": "text",
                "label": plain("The agreement"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": BOUNDARY_TEXT,
                    "multiline": True,
                    "max_length": rules.MAX_TEXT_LENGTH,
                    # Stored as Slack escapes it; shown as typed, its people and channels as Slack writes them.
                    "initial_value": unescape(readable_markup(rule.text)),
                },
            },
            {
                "type": "input",
                "block_id": "kind",
                "label": plain("Kind"),
                "element": {
                    "type": "static_select",
                    "action_id": BOUNDARY_KIND,
                    "options": kind_options,
                    "initial_option": next(o for o in kind_options if o["value"] == rule.kind),
                },
            },
            {
                "type": "input",
                "block_id": "value",
                "optional": True,
                "label": plain("Value"),
                "hint": plain("Response time: 1d or 4h. Contact window: 9-10am. Channel: where requests go.", 150),
                "element": value_input,
            },
        ],
    }
