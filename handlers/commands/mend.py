"""What a user who wants to take something back is told: Partner keeps what was logged, and says how to put it right.

`/partner undo`, `/partner checkin delete`, `/partner boundary acme unslip 2`: each would otherwise meet a bare "I don't
know" (or, for `slip undo`, log one more slip), leaving the user with a wrong record and no way forward.
"""

from __future__ import annotations

from handlers.blocks import command_name

# Words people type to take something back. Only read where nothing else matches (no customer, mood or action of that
# name), except a slip's whole note: `boundary acme slip undo` means to take a slip back, never to log one.
UNDO_WORDS = frozenset(
    {"undo", "delete", "del", "remove", "rm", "withdraw", "retract", "revert", "erase", "unlog", "cancel", "uncheckin"}
    | {"unslip", "oops"}
)

# A typo or a wrong value to put right rather than take back (`checkin acme fix`, `boundary acme edit 2 …`).
FIX_WORDS = frozenset({"edit", "fix", "correct", "amend", "change", "update", "rename", "reword"})


def is_undo(word: str) -> bool:
    return word.lower().strip("`*_!.") in UNDO_WORDS


def is_fix(word: str) -> bool:
    return word.lower().strip("`*_!.") in FIX_WORDS


def checkin_mend(customer: str | None = None) -> str:
    """A check-in cannot be withdrawn or edited: what to do about one logged on the wrong customer, with the wrong
    mood or with a typo."""
    name = command_name(customer) if customer else "<customer>"
    return (
        "Partner keeps every check-in as it was logged: one can't be withdrawn or edited. To put one right, log the "
        f"right one — `/partner checkin {name} <mood> correction: <note…>` (on the right customer, if it went on the "
        "wrong one): it becomes the latest check-in shown on Home, in the list and on the card, and the first stays in "
        "the history. Its summary in the customer's channel and any DM it sent the owner stay too: a reply in that "
        "summary's thread tells the team."
    )


def slip_mend(customer: str, number: int | None = None) -> str:
    """A slip cannot be taken back: what to do about one logged on the wrong agreement."""
    name = command_name(customer)
    n = str(number) if number is not None else "<n>"
    return (
        "Partner keeps every slip as it was logged: one can't be taken back. If it went on the wrong agreement, log it "
        f"on the right one (`/partner boundary {name} slip <n> <note…>`); a slip counts toward an escalation and the "
        f"health score for 30 days. To take back an agreement itself: `/partner boundary {name} retire {n}`."
    )


def boundary_mend(customer: str) -> str:
    """An agreement cannot be deleted or reworded: how to retire one with a typo and propose it again."""
    name = command_name(customer)
    return (
        "An agreement can't be deleted or reworded: retire it (`/partner boundary "
        f"{name} retire <n>`, its history is kept) and add it again as it should read (`/partner boundary {name} add "
        '"<text>"`): it takes the next number. `wording <n>` changes only the words of its reminders.'
    )


def undo_reply(word: str) -> str:
    """`/partner undo` (or delete, withdraw…): there is no such command; how each thing is put right instead."""
    return (
        f"There is no `/partner {word.lower()}`: Partner keeps what was logged. To put something right:\n"
        "• a check-in on the wrong customer, with the wrong mood or a typo: log the right one, "
        "`/partner checkin <customer> <mood> correction: <note…>` — it becomes the latest; the first stays in the "
        "history\n"
        "• a snooze: `/partner snooze <customer> off` · a pause: `/partner resume <customer>` · an archive: "
        "`/partner restore <customer>`\n"
        "• an owner, name, channel or cadence: `/partner edit <customer> …` (every change is recorded)\n"
        "• a working agreement: `/partner boundary <customer> retire <n>`; a slip stays, and counts for 30 days"
    )
