"""The help message."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from handlers.blocks import context, section


def help_blocks(commands: Sequence[tuple[str, str]], *, intro: str | None = None) -> list[dict[str, Any]]:
    lines = "\n".join(f"`{usage}`\n{summary}" for usage, summary in commands)
    blocks: list[dict[str, Any]] = []
    if intro:
        blocks.append(section(intro))
    blocks.append(section("*Partner* keeps every customer relationship a daily habit. Here's what I can do:"))
    blocks.append(section(lines))
    blocks.append(context("Names can be shortened: `/partner checkin acme green …` finds *Acme Corp*."))
    return blocks
