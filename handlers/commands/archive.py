"""`/partner archive <customer>` (soft delete) and `/partner restore <customer>`."""

from __future__ import annotations

from domain.errors import UserError
from handlers.blocks import command_name, mrkdwn_name
from handlers.blocks.customers import cadence_text
from handlers.commands.base import CommandCall, Reply
from handlers.commands.cadence import clock_restart_text, next_nudge_text
from handlers.commands.lookup import find_customer
from handlers.permissions import require_change
from storage.models import Customer

ARCHIVE_USAGE = "/partner archive <customer>"
RESTORE_USAGE = "/partner restore <customer>"


def archived_text(customer: Customer) -> str:
    return (
        f":file_cabinet: Archived *{mrkdwn_name(customer.name)}*: it is hidden from lists, check-ins and nudges, "
        f"and its history is kept. `/partner restore {command_name(customer.name)}` brings it back."
    )


def restored_text(call: CommandCall, customer: Customer) -> str:
    """Restored (often a moment after an archive by mistake): what came back with it, so nobody has to check that
    its owner and cadence are as they were, and when its next nudge comes."""
    owner = f"owner <@{customer.owner_id}>, " if customer.owner_id else ""
    cadence = f"cadence {cadence_text(customer)}" if customer.cadence else "no cadence"  # not "cadence no cadence"
    return (
        f":leftwards_arrow_with_hook: Restored *{mrkdwn_name(customer.name)}* as it was, with all its check-ins: "
        f"{owner}{cadence}. {next_nudge_text(call, customer)}"
        f"{clock_restart_text(call, customer)}"
    )


def archive(call: CommandCall) -> Reply:
    request_key = f"command:{call.trigger_id}"
    if (again := call.store.changed_by(team_id=call.team_id, request_key=request_key, kinds=("archived",))) is not None:
        return {"text": archived_text(again[0])}  # Slack delivered this very command again: the same answer
    try:
        customer, rest = find_customer(call.store, team_id=call.team_id, words=call.args.split(), usage=ARCHIVE_USAGE)
    except UserError:
        # Slack's retry, answered while the first delivery archived it: the same answer, not "it is archived".
        if (
            again := call.store.changed_by(team_id=call.team_id, request_key=request_key, kinds=("archived",))
        ) is not None:
            return {"text": archived_text(again[0])}
        raise
    if rest:
        raise UserError(
            f"I didn't understand '{' '.join(rest)}' after *{mrkdwn_name(customer.name)}*. Usage: `{ARCHIVE_USAGE}`"
        )
    require_change(call.client, call.settings, user_id=call.user_id, customer=customer, action="archive")
    assert customer.id is not None
    call.store.archive_customer(
        team_id=call.team_id, customer_id=customer.id, actor_id=call.user_id, now=call.now, request_key=request_key
    )
    call.refresh_homes(customer.owner_id, call.user_id)
    return {"text": archived_text(customer)}


# How many archived names `restore` without a name offers (a team may have archived hundreds over the years).
ARCHIVED_SHOWN = 20


def restore(call: CommandCall) -> Reply:
    request_key = f"command:{call.trigger_id}"
    if (again := call.store.changed_by(team_id=call.team_id, request_key=request_key, kinds=("restored",))) is not None:
        return {"text": restored_text(call, again[0])}  # Slack delivered this very command again: the same answer
    words = call.args.split()
    if not words:
        # Archived customers are in no list: name them here, so the one to bring back can be typed.
        archived = [c.name for c in call.store.customers(team_id=call.team_id, include_archived=True) if c.archived_at]
        if not archived:
            raise UserError(f"There are no archived customers. Usage: `{RESTORE_USAGE}`")
        more = f" and {len(archived) - ARCHIVED_SHOWN} more" if len(archived) > ARCHIVED_SHOWN else ""
        shown = ", ".join(f"*{mrkdwn_name(name)}*" for name in archived[:ARCHIVED_SHOWN])
        raise UserError(f"Which customer? Archived: {shown}{more}. Usage: `{RESTORE_USAGE}`")
    try:
        customer, rest = find_customer(
            call.store, team_id=call.team_id, words=words, usage=RESTORE_USAGE, archived=True
        )
    except UserError:
        # Not among the archived: a live customer of that name (already restored, by a retry too) is told as such.
        try:
            live, extra = find_customer(call.store, team_id=call.team_id, words=words, usage=RESTORE_USAGE)
        except UserError:
            live, extra = None, words
        if live is None or extra:
            raise
        if (
            again := call.store.changed_by(team_id=call.team_id, request_key=request_key, kinds=("restored",))
        ) is not None:
            return {"text": restored_text(call, again[0])}  # restored a moment ago by this command's first delivery
        raise UserError(f"*{mrkdwn_name(live.name)}* isn't archived: it is in `/partner list` as it is.") from None
    if rest:
        raise UserError(
            f"I didn't understand '{' '.join(rest)}' after *{mrkdwn_name(customer.name)}*. Usage: `{RESTORE_USAGE}`"
        )
    require_change(call.client, call.settings, user_id=call.user_id, customer=customer, action="restore")
    assert customer.id is not None
    restored = call.store.restore_customer(
        team_id=call.team_id, customer_id=customer.id, actor_id=call.user_id, now=call.now, request_key=request_key
    )
    call.refresh_homes(customer.owner_id, call.user_id)
    return {"text": restored_text(call, restored)}
