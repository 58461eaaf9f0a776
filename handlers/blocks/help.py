"""The help message."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from handlers.blocks import context, line_sections, section


def help_blocks(commands: Sequence[tuple[str, str]], *, intro: str | None = None) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if intro:
        blocks.append(section(intro))
    blocks.append(section("*Partner* keeps every customer relationship a daily habit. Here's what I can do:"))
    blocks.extend(line_sections([f"`{usage}`\n{summary}" for usage, summary in commands]))
    blocks.append(context("Names can be shortened: `/partner checkin acme green …` finds *Acme Corp*."))
    # What needs no typing, found nowhere else in Slack's UI unless someone says so (the shortcut is manifest.yml's).
    blocks.append(
        context(
            "Without typing: a message's ⋯ menu → *Log as check-in* logs it on a customer, and my *Home* tab shows "
            "your customers, riskiest first, with buttons for each."
        )
    )
    return blocks
