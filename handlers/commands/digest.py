"""`/partner digest [mine|team]`, `/partner digest channel #channel|off`, `/partner digest time <day> <time> [tz=…]`."""

from __future__ import annotations

import logging
from datetime import datetime
from time import time as epoch_seconds  # Slack's clock, which dates a shared file

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from domain.calendar import validate_timezone, validate_typed_timezone
from domain.customers import shared_with_another_organisation
from domain.errors import UserError
from handlers.blocks import context
from handlers.blocks.digest import digest_blocks, digest_text
from handlers.commands.add import user_timezone
from handlers.commands.base import CommandCall, Reply
from handlers.commands.export import open_dm, run_after_ack, shared_after_all, why_not_sent
from handlers.parsing import parse_channel, parse_key_value, tokenize
from handlers.permissions import require_workspace_admin
from schedules.digest import (
    GUESTS_READ,
    build_digest,
    chart_filename,
    digest_chart_moved,
    digest_time,
    digest_tz,
    parse_digest_time,
    upload_chart,
)
from storage.store import Store

logger = logging.getLogger(__name__)

USAGE = "/partner digest [mine|team] · digest channel #channel|off · digest time <day> <HH:MM> [tz=Area/City]"
ON_DEMAND_KIND = "digest_request"  # nudge-log kind recording each on-demand digest once (Slack retries)


def digest(call: CommandCall) -> Reply:
    words = tokenize(call.args)
    first = words[0].lower() if words else "mine"
    if first in ("mine", "me", "my", "team", "all"):
        if len(words) > 1:
            raise UserError(f"I didn't understand '{' '.join(words[1:])}'. Usage: `{USAGE}`")
        return on_demand(call, owner_id=None if first in ("team", "all") else call.user_id)
    if first == "channel":
        return set_channel(call, words[1:])
    if first == "time":
        return set_time(call, words[1:])
    raise UserError(f"I don't know `digest {words[0]}`. Usage: `{USAGE}`")


def settings_line(call: CommandCall) -> str:
    workspace = call.store.digest_workspace(team_id=call.team_id)
    when = digest_time(workspace).describe()
    tz = digest_tz(workspace, call.settings.default_tz)
    if workspace is None or not workspace.digest_channel_id:
        return f"The weekly team digest is off (it would go out {when}, {tz}): `/partner digest channel #channel`."
    return f"The weekly team digest goes to <#{workspace.digest_channel_id}> {when} ({tz})."


def set_channel(call: CommandCall, words: list[str]) -> Reply:
    require_workspace_admin(
        call.client, call.settings, user_id=call.user_id, action="change where the weekly team digest goes"
    )
    if len(words) != 1:
        raise UserError(f"Name one channel, e.g. `/partner digest channel #account-team`, or `off`. Usage: `{USAGE}`")
    if words[0].lower() in ("off", "none", "stop"):
        call.store.set_digest_channel(team_id=call.team_id, channel_id=None, now=call.now)
        return {"text": ":no_bell: " + settings_line(call)}
    channel = parse_channel(words[0])
    if channel is None or channel.id is None:
        raise UserError(
            f"'{words[0]}' is not a channel I can find. Pick it from Slack's suggestions as you type #."
            f" Usage: `{USAGE}`"
        )
    why = _read_from_outside(call, channel.id)
    if why:
        # The team digest tells every customer's health and risks: never where a customer's people read.
        raise UserError(
            f"{why}, so people outside the team would read the digest (every customer's health "
            f"and risks). Pick an internal channel. Usage: `{USAGE}`"
        )
    call.store.set_digest_channel(team_id=call.team_id, channel_id=channel.id, now=call.now, chosen_by=call.user_id)
    call.followup["join_digest_channel"] = channel.id  # joining can be slow: after the ack (handlers.followups)
    return {"text": ":calendar: " + settings_line(call)}


def _read_from_outside(call: CommandCall, channel_id: str) -> str:
    """Why people outside the team read the channel now, the refusal's first words ("" when they do not): shared with
    another organisation (Slack Connect, asked of Slack now), or guests of the workspace among its members, as last
    looked up (the same look-up as a customer's channel's, schedules/sharing.py; as `/partner ask` reads it). The
    members of a channel not looked up yet are looked up after the answer (handlers/followups.py
    `join_digest_channel`: Slack's 3 seconds hold no member list), turning the digest off again if guests read it.
    A channel Slack won't describe (private, Partner not in it yet; Slack slow) is taken as internal: the join after
    the answer says what to do about it, and the digest's own look-up before each digest turns it off if needed."""
    try:
        channel = call.client.conversations_info(channel=channel_id)["channel"]
    except (SlackApiError, OSError) as e:  # OSError: a timeout or a dropped connection
        logger.info("conversations.info for the digest channel %s failed: %r", channel_id, e)
        return ""
    if shared_with_another_organisation(channel):
        # Worth keeping, as `/partner ask` does: a customer's channel keeps Partner's internal posts out when shared.
        call.store.set_channel_shared(team_id=call.team_id, channel_id=channel_id, shared=True, now=call.now)
        return f"<#{channel_id}> is shared with another organisation through Slack Connect"
    if call.store.channel_readers(team_id=call.team_id, channel_id=channel_id).get("guests"):
        return GUESTS_READ.format(channel_id=channel_id)
    return ""


def set_time(call: CommandCall, words: list[str]) -> Reply:
    require_workspace_admin(
        call.client, call.settings, user_id=call.user_id, action="change when the weekly team digest goes out"
    )
    tz: str | None = None
    rest: list[str] = []
    for word in words:
        pair = parse_key_value(word)
        if pair is not None and pair[0] == "tz":
            try:
                typed = validate_typed_timezone(pair[1])
            except ValueError as e:
                raise UserError(str(e)) from None
            if tz is not None and typed != tz:  # one of the two would be dropped without a word
                raise UserError(f"tz= is given twice ('{tz}' and '{typed}'): give it once. Usage: `{USAGE}`")
            tz = typed
        elif pair is not None:
            raise UserError(f"Unknown option '{pair[0]}='. You can set tz=Area/City. Usage: `{USAGE}`")
        else:
            rest.append(word)
    if not rest:
        raise UserError(f"When should the digest go out? e.g. `/partner digest time mon 09:00`. Usage: `{USAGE}`")
    try:
        when = parse_digest_time(" ".join(rest))
    except ValueError as e:
        raise UserError(f"{e}. Usage: `{USAGE}`") from None
    call.store.set_digest_schedule(team_id=call.team_id, schedule=when.to_text(), tz=tz, now=call.now)
    return {"text": ":calendar: " + settings_line(call)}


def on_demand(call: CommandCall, *, owner_id: str | None) -> Reply:
    """The digest right now, as an ephemeral answer; its chart follows in the requester's DM."""
    workspace = call.store.digest_workspace(team_id=call.team_id)
    tz = digest_tz(workspace, call.settings.default_tz)
    if owner_id is not None:  # your digest is about your week: on Monday morning in Auckland, not UTC's Sunday
        tz = asker_timezone(call) or tz
    summary, _facts = build_digest(
        store=call.store,
        team_id=call.team_id,
        now=call.now,
        default_tz=tz,
        owner_id=owner_id,
        any_checkin=call.settings.any_checkin_satisfies,
    )
    first = call.store.plan_nudge(
        team_id=call.team_id,
        kind=ON_DEMAND_KIND,
        subject=f"user:{call.user_id}",
        due_key=(call.trigger_id or call.now.isoformat())[:64],
        due_at=call.now,
        now=call.now,
        recipient_id=call.user_id,
        status="sent",  # handled here, never by the nudge sender
        payload={"owner_id": owner_id},
    )
    if first and summary.customers:
        run_after_ack(
            send_chart_to_dm,
            client=call.client,
            store=call.store,
            team_id=call.team_id,
            user_id=call.user_id,
            owner_id=owner_id,
            now=call.now,
            tz=tz,
        )
    # No "Chart below": the chart goes to the DM, as the line after the digest says.
    blocks = digest_blocks(summary)
    if summary.customers:
        blocks.append(context(":incoming_envelope: The chart is on its way to your DM with me."))
    blocks.append(context(settings_line(call)))
    return {"text": digest_text(summary), "blocks": blocks}


def asker_timezone(call: CommandCall) -> str | None:
    """The asker's own time zone from Slack (users.info, capped before the answer), None when Slack cannot say."""
    try:
        return validate_timezone(user_timezone(call.client, call.user_id) or "")
    except ValueError:
        return None


def send_chart_to_dm(
    *, client: WebClient, store: Store, team_id: str, user_id: str, owner_id: str | None, now: datetime, tz: str
) -> None:
    dm: str | None = None
    started = epoch_seconds()
    try:
        png, names, moved = digest_chart_moved(store=store, team_id=team_id, now=now, tz=tz, owner_id=owner_id)
        dm = open_dm(client, user_id)
        upload_chart(client=client, channel=dm, png=png, now=now, tz=tz, names=names, moved=moved)
    except (SlackClientError, OSError) as e:  # OSError: Slack timed out or dropped the connection; SlackRequestError:
        # the upload URL answered something other than 200
        if shared_after_all(e, client, dm, chart_filename(now, tz), started):
            return  # Slack's answer was lost, the chart is in the DM: no "Sorry" under it
        error = e.response.get("error") if isinstance(e, SlackApiError) else type(e).__name__
        logger.warning("digest chart for %s not sent: %s", user_id, error)
        # The answer promised a chart in the DM: say it is not coming rather than leave them waiting, in words (as a
        # refused export is told), not Slack's code.
        again = "/partner digest mine" if owner_id is not None else "/partner digest team"  # the chart they asked for
        why = why_not_sent(e, again=again)
        if again not in why:  # a refusal for the operator to fix first
            why += f" Once it is fixed, ask again with `{again}`."
        try:
            client.chat_postMessage(
                channel=dm or user_id, text=f"Sorry — I couldn't send your digest's health chart: {why}"
            )
        except (SlackApiError, OSError):
            logger.warning("could not tell %s that the digest chart failed", user_id)
