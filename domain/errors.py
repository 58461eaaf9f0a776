"""Errors whose message is written for the person who typed the command."""

from __future__ import annotations


class UserError(Exception):
    """Bad input or a refused action; the message is shown to the user as is (ephemeral)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        # The modal input (block_id) to attach the message to, when it came from a view submission.
        self.field = field
