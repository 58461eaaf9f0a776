"""What every `/partner` subcommand receives and returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from slack_sdk import WebClient

from bot.settings import Settings
from storage.store import Store

Reply = dict[str, Any] | None  # the ack body (text/blocks, ephemeral), or None when a modal answered instead


@dataclass(frozen=True)
class CommandCall:
    team_id: str
    user_id: str
    channel_id: str
    args: str  # everything after the subcommand, as Slack sent it (mentions escaped)
    trigger_id: str
    store: Store
    client: WebClient
    settings: Settings
    now: datetime
    # Work for after the ack (lazy listener), e.g. {"checkin_id": 12}: set only when something new was stored.
    followup: dict[str, Any] = field(default_factory=dict)
    # Where to answer the command again later: works without Partner's token (refused, Slack's Web API down).
    response_url: str | None = None

    def rescore_later(self, customer_id: int) -> None:
        """The customer's score, moved by the command, is stored as of it by its follow-up: after the answer (3–7 s
        under load, past Slack's 3 s), before the Homes are refreshed."""
        self.followup["rescore_customer_id"] = customer_id

    def refresh_homes(self, *user_ids: str | None) -> None:
        """These users' App Home shows what the command changed: re-published after the ack (debounced)."""
        homes: list[str] = self.followup.setdefault("homes", [])
        homes.extend(u for u in dict.fromkeys(user_ids) if u and u not in homes)


@dataclass(frozen=True)
class Subcommand:
    name: str
    usage: str
    summary: str
    run: Callable[[CommandCall], Reply]
    aliases: tuple[str, ...] = ()
    # Takes prose (a note, an agreement, a reason): a refusal gives the whole command back so none of it is lost.
    gives_back: bool = False
