"""Errors whose message is written for the person who typed the command."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence


class UserError(Exception):
    """Bad input or a refused action; the message is shown to the user as is (ephemeral)."""

    def __init__(self, message: str, *, field: str | None = None, errors: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        # The modal input (block_id) to attach the message to, when it came from a view submission.
        self.field = field
        # Every input that is wrong (block_id → message) when there are several: a form shows them all at once,
        # as Slack's `response_action: errors` allows, instead of one per submit.
        self.errors: dict[str, str] = dict(errors or {})

    def field_errors(self) -> dict[str, str]:
        """block_id → message for a form: every wrong input, or the one this error names."""
        if self.errors:
            return dict(self.errors)
        return {self.field: self.message} if self.field else {}

    @classmethod
    def of_all(cls, problems: Sequence[UserError]) -> UserError:
        """One error telling every problem: a command says each (a line each), a form shows each at its input."""
        if len(problems) == 1:
            return problems[0]
        errors: dict[str, str] = {}
        for problem in problems:
            for field, message in problem.field_errors().items():
                errors.setdefault(field, message)
        first = problems[0]
        return cls("\n".join(p.message for p in problems), field=first.field, errors=errors)


class Problems:
    """Collects the UserErrors of several checks, so a form or a command tells every wrong input at once."""

    def __init__(self) -> None:
        self.found: list[UserError] = []

    @contextlib.contextmanager
    def check(self) -> Iterator[None]:
        try:
            yield
        except UserError as e:
            self.found.append(e)

    def raise_any(self) -> None:
        if self.found:
            raise UserError.of_all(self.found)
