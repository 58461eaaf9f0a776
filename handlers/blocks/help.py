"""The help message."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from handlers.blocks import MAX_TEXT, context, section


def help_blocks(commands: Sequence[tuple[str, str]], *, intro: str | None = None) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if intro:
        blocks.append(section(intro))
    blocks.append(section("*Partner* keeps every customer relationship a daily habit. Here's what I can do:"))
    # As many commands a section as fit in its 3,000 characters: a long list is never cut short with "…".
    chunk: list[str] = []
    for usage, summary in commands:
        entry = f"`{usage}`\n{summary}"
        if chunk and len("\n".join([*chunk, entry])) > MAX_TEXT:
            blocks.append(section("\n".join(chunk)))
            chunk = []
        chunk.append(entry)
    if chunk:
        blocks.append(section("\n".join(chunk)))
    blocks.append(context("Names can be shortened: `/partner checkin acme green …` finds *Acme Corp*."))
    return blocks
