"""`/partner help`: every subcommand with its usage."""

from __future__ import annotations

from collections.abc import Sequence

from handlers.blocks.help import help_blocks
from handlers.commands.base import Reply, Subcommand


def help_reply(subcommands: Sequence[Subcommand], *, intro: str | None = None) -> Reply:
    listing = [(s.usage, s.summary) for s in subcommands]
    text = (intro + "\n" if intro else "") + "\n".join(f"{usage} — {summary}" for usage, summary in listing)
    return {"text": text, "blocks": help_blocks(listing, intro=intro)}
