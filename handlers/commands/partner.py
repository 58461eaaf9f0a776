"""The `/partner` slash command: routes the first word to a subcommand."""

from __future__ import annotations

import difflib
from typing import Any

from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient

from bot.clock import Clock
from bot.metrics import OUTCOME_KEY
from bot.settings import Settings
from domain.errors import UserError
from handlers.blocks import MAX_MESSAGE_TEXT, as_code, placeholders_shown, truncate
from handlers.commands.add import USAGE as ADD_USAGE
from handlers.commands.add import add
from handlers.commands.archive import ARCHIVE_USAGE, RESTORE_USAGE, archive, restore
from handlers.commands.ask import USAGE as ASK_USAGE
from handlers.commands.ask import ask
from handlers.commands.base import CommandCall, Reply, Subcommand
from handlers.commands.boundary import USAGE as BOUNDARY_USAGE
from handlers.commands.boundary import boundary
from handlers.commands.cadence import USAGE as CADENCE_USAGE
from handlers.commands.cadence import cadence
from handlers.commands.checkin import USAGE as CHECKIN_USAGE
from handlers.commands.checkin import checkin
from handlers.commands.digest import USAGE as DIGEST_USAGE
from handlers.commands.digest import digest
from handlers.commands.edit import USAGE as EDIT_USAGE
from handlers.commands.edit import edit
from handlers.commands.export import USAGE as EXPORT_USAGE
from handlers.commands.export import export
from handlers.commands.help import help_reply
from handlers.commands.launch import USAGE as LAUNCH_USAGE
from handlers.commands.launch import launch
from handlers.commands.list import USAGE as LIST_USAGE
from handlers.commands.list import list_customers
from handlers.commands.mend import is_fix, is_undo, undo_reply
from handlers.commands.show import USAGE as SHOW_USAGE
from handlers.commands.show import show
from handlers.commands.snooze import PAUSE_USAGE, RESUME_USAGE, pause, resume, snooze
from handlers.commands.snooze import USAGE as SNOOZE_USAGE
from handlers.commands.status import USAGE as STATUS_USAGE
from handlers.commands.status import status
from handlers.commands.survey import USAGE as SURVEY_USAGE
from handlers.commands.survey import survey
from handlers.commands.upcoming import USAGE as UPCOMING_USAGE
from handlers.commands.upcoming import upcoming
from handlers.followups import AfterAck, CommandFollowUp, hand_over_command_followup
from handlers.home_publisher import publisher_of
from handlers.parsing import split_first, typed_word
from handlers.permissions import GUESTS_ONLY_NOTE, MEMBERS_ONLY, WHO_UNKNOWN, require_full_member
from storage.store import Store

_ASKING = ("me", "please", "pls", "us")  # `help me`: asking for help, not about a word


def _help(call: CommandCall) -> Reply:
    """Every subcommand; `help checkin` (or an alias, `help ci`) that one's usage, with the way back to the list."""
    word, rest = split_first(call.args)
    if word.lower() in ("/partner", "partner"):  # `help /partner checkin`, as the usage lines are written
        word, _ = split_first(rest)
    if not word:
        return help_reply(SUBCOMMANDS)
    # `help checkin?`, `help edit.`: asked as a question or a sentence; the command is the word
    subcommand, suggestion = route(word.lstrip("/").rstrip("?.!,:") or word)
    if subcommand is None and (is_undo(word) or is_fix(word)):  # `help undo`: how each thing is put right
        return {"text": undo_reply(word)}
    if subcommand is None or subcommand.name == "help":
        if subcommand is not None or word.lower() in _ASKING:  # `help help`, `help me`: the list is the answer
            return help_reply(SUBCOMMANDS)
        # What was asked about is named back, so the whole list never reads as an answer to it.
        meant = f"No help on `{word}`." + (f" Did you mean `/partner help {suggestion}`?" if suggestion else "")
        return help_reply(SUBCOMMANDS, intro=meant + " Every command:")
    also = f" (also `{'`, `'.join(subcommand.aliases)}`)" if subcommand.aliases else ""
    return help_reply(
        [subcommand], intro=f"How to use `/partner {subcommand.name}`{also} — `/partner help` lists every command."
    )


SUBCOMMANDS: tuple[Subcommand, ...] = (
    Subcommand("help", "/partner help [command]", "Show this list, or how to use one command.", _help),
    Subcommand("add", ADD_USAGE, "Add a customer, with its channel and owner.", add, aliases=("new", "create")),
    Subcommand(
        "list",
        LIST_USAGE,
        "Customers with owner, tier, health, last check-in, mood trend and next nudge.",
        list_customers,
        aliases=("ls", "customers"),
    ),
    Subcommand("show", SHOW_USAGE, "One customer's card: settings, last check-ins, buttons.", show, aliases=("card",)),
    Subcommand(
        "edit",
        EDIT_USAGE,
        "Change or rename a customer (owner or admins). Without settings, opens a form.",
        edit,
        aliases=("set",),
    ),
    Subcommand("archive", ARCHIVE_USAGE, "Hide a customer, keeping its history (owner or admins).", archive),
    Subcommand("restore", RESTORE_USAGE, "Bring an archived customer back.", restore, aliases=("unarchive",)),
    Subcommand(
        "checkin",
        CHECKIN_USAGE,
        "Log how a customer is doing (`due=` is `next=`, `reply=` is `response=`). With no arguments, opens a form.",
        checkin,
        aliases=("check-in", "ci", "log"),
        gives_back=True,
    ),
    Subcommand("cadence", CADENCE_USAGE, "How often to call a customer, in its own time (owner or admins).", cadence),
    Subcommand("launch", LAUNCH_USAGE, "Daily calls during a launch, then back to the normal cadence.", launch),
    Subcommand(
        "snooze", SNOOZE_USAGE, "No nudges about a customer for a while; anyone can snooze.", snooze, gives_back=True
    ),
    Subcommand("pause", PAUSE_USAGE, "Stop a customer's nudges and alerts until resumed (owner or admins).", pause),
    Subcommand(
        "resume", RESUME_USAGE, "Turn a paused or snoozed customer's nudges back on.", resume, aliases=("unpause",)
    ),
    Subcommand(
        "upcoming", UPCOMING_USAGE, "The next nudges, in each customer's local time.", upcoming, aliases=("next",)
    ),
    Subcommand(
        "survey",
        SURVEY_USAGE,
        "Answer a survey about a customer (or `/partner survey team practices`); drafts are kept.",
        survey,
        aliases=("surveys",),
    ),
    Subcommand(
        "boundary",
        BOUNDARY_USAGE,
        "Working agreements with a customer: introduced one at a time, gently reminded, escalated when they slip "
        '(`add "…" response=2d`, or `reply=2d`, is `kind=response_time value=2d`).',
        boundary,
        aliases=("boundaries", "agreement", "agreements"),
        gives_back=True,
    ),
    Subcommand("ask", ASK_USAGE, "Ask the customer's own people how they see us, in your shared channel.", ask),
    Subcommand(
        "status", STATUS_USAGE, "A customer's health score, trend, top reasons, and our view vs theirs.", status
    ),
    Subcommand(
        "digest",
        DIGEST_USAGE,
        "The week at a glance, with a health chart; set the weekly team digest's channel and time.",
        digest,
    ),
    Subcommand(
        "export",
        EXPORT_USAGE,
        "Check-ins and survey answers as two CSV files, sent to you by DM.",
        export,
        aliases=("csv",),
    ),
)
YOU_TYPED = "\nYou typed: "  # as the error handler gives back a command that failed unexpectedly
_BY_NAME = {name: s for s in SUBCOMMANDS for name in (s.name, *s.aliases)}


def route(word: str) -> tuple[Subcommand | None, str | None]:
    """The subcommand for `word`, or None with a "did you mean" suggestion."""
    # `checkin` pasted with a direction mark or a zero-width space before it, or typed in full-width letters
    word = typed_word(word)
    if word in _BY_NAME:
        return _BY_NAME[word], None
    # `help?`, `list.`, `checkin:` — a sentence's punctuation; `?`, `-h`, `--help` as other tools take help
    bare = "help" if word in ("?", "-h", "--help", "-help") else word.rstrip("?!.:,;")
    if bare in _BY_NAME:
        return _BY_NAME[bare], None
    # Only a typo or a command cut short is suggested (`chekin`, `lsit`, `check`): `start` or `setup` read as `status`
    # or `set` (edit) sent someone to another command; the whole list follows anyway.
    close = [
        name
        for name in difflib.get_close_matches(word, list(_BY_NAME), n=3, cutoff=0.6)
        if _typos(word, name) <= (1 if len(word) < 8 else 2) or name.startswith(word)  # or cut short: `check`
    ]
    return None, (_BY_NAME[close[0]].name if close else None)


def _typos(a: str, b: str) -> int:
    """Letters added, dropped, changed or swapped with the next to make `a` into `b` (optimal string alignment)."""
    rows = [list(range(len(b) + 1))]
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            row[j] = min(rows[i - 1][j] + 1, row[j - 1] + 1, rows[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], rows[i - 2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


def partner_command(
    ack: Ack,
    command: dict[str, Any],
    client: WebClient,
    context: BoltContext,
    store: Store,
    clock: Clock,
    settings: Settings,
    after_ack: AfterAck,
) -> None:
    word, args = split_first(command.get("text") or "")
    if not word:
        reply(ack, help_reply(SUBCOMMANDS))
        return
    subcommand, suggestion = route(word)
    if subcommand is None and (is_undo(word) or is_fix(word)):
        # `/partner undo`: nothing of that name, and "did you mean `/partner edit`?" would not help; how to mend it.
        context[OUTCOME_KEY] = "user_error"
        reply(ack, {"text": undo_reply(word) + _typed(command, args)})
        return
    if subcommand is None and word.lower() == "unsnooze":  # "did you mean snooze?" would read as snoozing again
        context[OUTCOME_KEY] = "user_error"
        customer = args.strip() or "<customer>"
        text = f"To lift a snooze: `/partner snooze {customer} off` (anyone may; nothing it put off comes back)."
        reply(ack, {"text": text})
        return
    if subcommand is None:
        intro = f"I don't know `{word}`." + (f" Did you mean `/partner {suggestion}`?" if suggestion else "")
        intro += _typed(command, args)  # `/partner chekin acme green <a long note>`: the note is given back
        context[OUTCOME_KEY] = "user_error"  # answered with help, yet a mistyped command: /metrics must say so
        reply(ack, help_reply(SUBCOMMANDS, intro=intro))
        return
    call = CommandCall(
        team_id=context.team_id or command["team_id"],
        user_id=command["user_id"],
        channel_id=command.get("channel_id", ""),
        args=args,
        trigger_id=command.get("trigger_id", ""),
        store=store,
        client=client,
        settings=settings,
        now=clock(),
        response_url=command.get("response_url"),
    )
    try:
        # Every subcommand reads or changes the customer records: a guest is told so before anything is looked up.
        export = subcommand.name == "export"
        require_full_member(
            client,
            team_id=call.team_id,
            user_id=call.user_id,
            refused=MEMBERS_ONLY if export else GUESTS_ONLY_NOTE,
            unknown=WHO_UNKNOWN if export else None,
        )
        reply(ack, subcommand.run(call))
    except UserError as e:
        typed = (command.get("text") or "").strip()
        if not subcommand.gives_back:
            raise
        given = as_code(f"{command.get('command') or '/partner'} {typed}")
        raise UserError(f"{e.message}{YOU_TYPED}{given}", field=e.field, errors=e.errors) from None
    finally:
        # What the subcommand stored sets off posts and DMs after the answer (even when it then refused something).
        followup = CommandFollowUp.of(call, response_url=command.get("response_url"))
        if followup is not None:
            hand_over_command_followup(
                after_ack,
                followup,
                what=f"the follow-up of /partner {subcommand.name}",
                client=client,
                store=store,
                settings=settings,
                clock=clock,
                publisher=publisher_of(context),
            )


def _typed(command: dict[str, Any], args: str) -> str:
    """The command given back, when more than its first word was typed (a note is not lost)."""
    if not args.strip():
        return ""
    return YOU_TYPED + as_code(f"{command.get('command') or '/partner'} {(command.get('text') or '').strip()}")


def reply(ack: Ack, answer: Reply) -> None:
    """Always JSON and ephemeral: only the person who typed the command sees the answer."""
    if answer is None:
        ack()
        return
    text = answer.get("text")
    if isinstance(text, str):  # Slack reads this text as mrkdwn too: `<customer>` must not read as a link
        text = placeholders_shown(text)
        answer = {**answer, "text": text}
    if isinstance(text, str) and len(text) > MAX_MESSAGE_TEXT:
        # Beside blocks the text is only the notification's; alone it is cut where Slack would refuse the whole answer
        # (a customer's 150 boundaries listed in full).
        answer = {**answer, "text": truncate(text, MAX_MESSAGE_TEXT)}
    ack(response_type="ephemeral", **answer)
