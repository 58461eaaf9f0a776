"""Buttons, forms, shortcuts and menus no listener of this version knows: a message or Home tab drawn by an older
version of Partner, still on screen after an upgrade. Bolt would answer 404, which Slack shows as a bare warning
next to the button (or "trouble connecting" in a form); the person is told what to do instead."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack

from domain.errors import UserError

logger = logging.getLogger("partner.out_of_date")

OLD_BUTTON = "That button is from an older version of Partner and does nothing now. `/partner help` lists what to type."
OLD_FORM = (
    "This form is from an older version of Partner and cannot be saved: copy anything you typed, then open the form "
    "again (`/partner help` lists the commands)."
)
OLD_SHORTCUT = "That shortcut is from an older version of Partner. `/partner help` lists what to type."


def old_action(body: dict[str, Any]) -> None:
    actions = body.get("actions") or [{}]
    logger.info("block_actions %r: no listener (an older version's button)", actions[0].get("action_id"))
    raise UserError(OLD_BUTTON)  # answered 200, said where the click was (bot.errors)


def old_form(body: dict[str, Any]) -> None:
    logger.info(
        "view_submission %r: no listener (an older version's form)", (body.get("view") or {}).get("callback_id")
    )
    raise UserError(OLD_FORM)  # shown in the form, its input kept, when it has an input block


def old_form_closed(ack: Ack) -> None:
    ack()  # nothing to save for a form this version does not know


def old_shortcut(body: dict[str, Any]) -> None:
    logger.info("shortcut %r: no listener (an older version's shortcut)", body.get("callback_id"))
    raise UserError(OLD_SHORTCUT)


def old_menu(ack: Ack) -> None:
    ack(options=[])  # a menu this version does not fill: empty, not an error
