"""Nudge messages (cadence calls, overdue alerts), what happened to them, the snooze modal, the upcoming plan."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from domain.boundaries import defuse_broadcasts
from handlers.blocks import button, command_name, line_sections, mrkdwn, mrkdwn_name, plain, section, truncate
from handlers.ids import (
    NUDGE_LOG_CALL,
    NUDGE_SKIP,
    NUDGE_SNOOZE,
    NUDGE_SNOOZE_FOR,
    NUDGE_SNOOZE_MODAL,
    NUDGE_SNOOZE_REASON,
    NUDGE_SNOOZE_UNTIL,
)
from storage.models import Customer

SNOOZE_ONE_DAY = "1d"
SNOOZE_UNTIL_DATE = "until"


def slack_date(instant: datetime, fmt: str = "{date_short_pretty} at {time}") -> str:
    """A date Slack shows in each reader's own time zone; the fallback is UTC."""
    return f"<!date^{int(instant.timestamp())}^{fmt}|{instant.strftime('%Y-%m-%d %H:%M UTC')}>"


def outcome_text(outcome: dict[str, Any]) -> str:
    """What someone did about a nudge, shown in place of its buttons."""
    by = f"<@{outcome['by']}>" if outcome.get("by") else "someone"
    at = datetime.fromisoformat(outcome["at"]) if outcome.get("at") else None
    when = f" {slack_date(at)}" if at else ""
    what = outcome.get("what")
    if what == "logged":
        return f":white_check_mark: Call logged by {by}{when}."
    if what == "skipped":
        if outcome.get("day"):  # clicked on a later day than the nudge's own
            day = date.fromisoformat(outcome["day"])
            return f":fast_forward: The call of {day:%a} {day.day} {day:%b} was skipped by {by}{when}."
        return f":fast_forward: Skipped for today by {by}{when}."
    if what == "snoozed":
        until = datetime.fromisoformat(outcome["until"]) if outcome.get("until") else None
        text = f":zzz: Snoozed by {by}" + (f" until {slack_date(until, '{date_short_pretty}')}" if until else "")
        if outcome.get("reason"):  # as Slack sent it: an @here or a user group in it, as words on a channel's nudge
            text += f" — {truncate(defuse_broadcasts(str(outcome['reason'])), 300)}"
        return text + "."
    if what == "paused":
        return f":double_vertical_bar: Nudges paused by {by}{when}: no call is asked for until they are resumed."
    return f"Handled by {by}{when}."


def nothing_to_snooze(customer_name: str, *, in_mrkdwn: bool = False) -> str:
    """A snooze asked of a paused customer (the form or the command): no call is owed, so nothing to put off, and a
    snooze stored under the pause would surface (or redraw its nudge) once it is resumed. Plain words: a form's
    error shows no formatting; the command's answer is mrkdwn, where the name is shown as typed."""
    shown = mrkdwn_name(customer_name) if in_mrkdwn else customer_name
    resume = f"/partner resume {command_name(customer_name)}"
    resume = f"`{resume}`" if in_mrkdwn else resume
    return f"{shown}'s nudges are paused, so there is nothing to snooze. {resume} turns them back on."


def not_redrawn(outcome: dict[str, Any], customer_name: str) -> str:
    """For the person who acted, when Slack would not redraw the nudge to show it."""
    return (
        f"{outcome_text(outcome)} Slack didn't let me update *{mrkdwn_name(customer_name)}*'s reminder, "
        "so it still shows its"
        " buttons."
    )


def nudge_blocks(
    *, nudge_id: int, text: str, outcome: dict[str, Any] | None, skip: bool = True
) -> list[dict[str, Any]]:
    """A nudge with Log call / Snooze / Skip today, or, once someone acted, a line saying who did what."""
    blocks: list[dict[str, Any]] = [section(text, block_id=f"nudge:{nudge_id}")]
    if outcome:
        blocks.append(
            {"type": "context", "block_id": f"nudge_outcome:{nudge_id}", "elements": [mrkdwn(outcome_text(outcome))]}
        )
        return blocks
    value = str(nudge_id)
    buttons = [
        button("Log call", NUDGE_LOG_CALL, value, style="primary"),
        button("Snooze", NUDGE_SNOOZE, value),
    ]
    if skip:
        buttons.append(button("Skip today", NUDGE_SKIP, value))
    blocks.append({"type": "actions", "block_id": f"nudge_actions:{nudge_id}", "elements": buttons})
    return blocks


def snooze_modal(*, customer: Customer, nudge_id: int | None, tomorrow: date, tz: str | None = None) -> dict[str, Any]:
    """Snooze a customer's nudges: for a day, or until a date, with an optional reason. `tomorrow` and the date picked
    are days on the customer's clock, `tz` (named in the label: an owner elsewhere may be a day behind)."""
    one_day = {"text": plain("For 1 day"), "value": SNOOZE_ONE_DAY}
    until = {"text": plain("Until a date (pick it below)"), "value": SNOOZE_UNTIL_DATE}
    return {
        "type": "modal",
        "callback_id": NUDGE_SNOOZE_MODAL,
        "title": plain("Snooze nudges", 24),
        "submit": plain("Snooze", 24),
        "close": plain("Cancel", 24),
        "private_metadata": json.dumps({"nudge_id": nudge_id, "customer_id": customer.id}),
        "blocks": [
            section(
                f"No nudges about *{mrkdwn_name(customer.name)}* until the snooze ends; then the call "
                "comes back, unless it was "
                "logged. Anyone can snooze; the channel sees who."
            ),
            {
                "type": "input",
                "block_id": "for",
                "label": plain("How long?"),
                "element": {
                    "type": "radio_buttons",
                    "action_id": NUDGE_SNOOZE_FOR,
                    "options": [one_day, until],
                    "initial_option": one_day,
                },
            },
            {
                "type": "input",
                "block_id": "until",
                "optional": True,
                "label": plain(
                    f"Until (nudges resume that morning, {tz} time)" if tz else "Until (nudges resume that morning)"
                ),
                "element": {
                    "type": "datepicker",
                    "action_id": NUDGE_SNOOZE_UNTIL,
                    "initial_date": tomorrow.isoformat(),
                },
            },
            {
                "type": "input",
                "block_id": "reason",
                "optional": True,
                "label": plain("Why? (shown in the channel)"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": NUDGE_SNOOZE_REASON,
                    "max_length": 300,
                    "placeholder": plain("e.g. customer on holiday"),
                },
            },
        ],
    }


def upcoming_text(lines: Sequence[str], *, title: str, empty: str) -> dict[str, Any]:
    """The `/partner upcoming` answer."""
    if not lines:
        return {"text": empty}
    body = "\n".join(lines)
    return {"text": f"{title}\n{body}", "blocks": [section(f"*{title}*"), *line_sections(lines)]}
