"""`/partner export [customer|all] [since=YYYY-MM-DD]`: two CSV files (check-ins, survey answers) sent by DM.

The ack only validates and counts; the files are written and uploaded after it, on a small worker pool, so
a big export never makes Slack time the command out. The same request delivered twice (a Slack retry) is
recognised by its trigger_id in the nudge log and sends nothing more.
"""

from __future__ import annotations

import functools
import logging
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from time import time as epoch_seconds  # Slack's clock, which dates a shared file
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.errors import person_name
from domain.errors import UserError
from handlers.blocks import mrkdwn_name
from handlers.commands.base import CommandCall, Reply
from handlers.commands.lookup import find_customer
from handlers.followups import answer_command, command_responder
from handlers.parsing import QUOTE_OPENERS, parse_key_value, tokenize
from handlers.permissions import require_full_member
from schedules.slack_http import (
    TEAM_ACCESS_REVOKED,
    TOKEN_REFUSED,
    TRANSIENT,
    answer_lost,
    file_shared_in,
    files_upload_v2,
)
from storage.exports import ENCODING
from storage.models import Customer
from storage.store import Store

logger = logging.getLogger(__name__)

USAGE = "/partner export [customer|all] [since=YYYY-MM-DD]"
EXPORT_KIND = "export"  # nudge-log kind that records each export request once

# Work that happens after the ack (uploads). Two workers: exports are rare, and Slack rate-limits uploads anyway.
_after_ack = ThreadPoolExecutor(max_workers=2, thread_name_prefix="partner-after-ack")


_running: set[Future[Any]] = set()
_running_lock = threading.Lock()


def run_after_ack(work: Callable[..., Any], /, **kwargs: Any) -> Future[Any]:
    """Runs `work(**kwargs)` on the background pool; failures are logged, never lost silently."""

    def guarded() -> Any:
        try:
            return work(**kwargs)
        except Exception:
            logger.exception("background work %s failed", getattr(work, "__name__", work))
            raise

    future = _after_ack.submit(guarded)
    with _running_lock:
        _running.add(future)
    future.add_done_callback(lambda f: _discard(f))
    return future


def _discard(future: Future[Any]) -> None:
    with _running_lock:
        _running.discard(future)


def wait_after_ack(timeout: float = 10.0) -> bool:
    """Waits until the work started so far has finished (shutdown, tests); False if it timed out."""
    with _running_lock:
        pending = list(_running)
    _done, not_done = wait(pending, timeout=timeout)
    return not not_done


@dataclass(frozen=True)
class ExportRequest:
    customer: Customer | None  # None: every customer
    since: date | None

    @property
    def label(self) -> str:
        """What is exported, in the mrkdwn of the answer and the DM: a customer's name as typed (`mrkdwn_name`)."""
        scope = mrkdwn_name(self.customer.name) if self.customer else "all customers"
        return scope + (f" since {self.since.isoformat()}" if self.since else "")

    @property
    def slug(self) -> str:
        if self.customer is None:
            return "all"
        # One dash for each run of anything else: "Smith & Co" → smith-co, not smith---co.
        scope = "".join(ch if ch.isalnum() else " " for ch in self.customer.name.lower())
        return "-".join(scope.split()) or "customer"


def parse_since(value: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise UserError(
            f"'{value}' is not a date: write since=YYYY-MM-DD, e.g. since=2026-01-31. Usage: `{USAGE}`"
        ) from None


def parse_export(call: CommandCall) -> ExportRequest:
    since: date | None = None
    words: list[str] = []
    for token in tokenize(call.args):
        pair = parse_key_value(token)
        if pair is None:
            words.append(token)
        elif pair[0] == "since":
            day = parse_since(pair[1])
            if since is not None and day != since:  # one of the two would be dropped without a word
                raise UserError(
                    f"since= is given twice ({since.isoformat()} and {day.isoformat()}): give it once. Usage: `{USAGE}`"
                )
            since = day
        else:
            raise UserError(f"Unknown option '{pair[0]}='. The only option is since=YYYY-MM-DD. Usage: `{USAGE}`")
    # `export "All"` (quoted, as a name is) is the customer called All; `export all` is every customer.
    quoted = call.args.lstrip()[:1] in QUOTE_OPENERS
    if not words or (len(words) == 1 and words[0].lower() == "all" and not quoted):
        return ExportRequest(customer=None, since=since)
    try:  # the same lookup as every command: old names get their own answer
        customer, rest = find_customer(call.store, team_id=call.team_id, words=words, usage=USAGE)
    except UserError as miss:
        try:  # an archived customer's history is kept, and can still be exported
            customer, rest = find_customer(call.store, team_id=call.team_id, words=words, usage=USAGE, archived=True)
        except UserError:
            if words[0].lower() == "all" and len(words) > 1:  # `all` plus something not a customer called "All …"
                raise UserError(f"I didn't understand '{' '.join(words[1:])}' after all. Usage: `{USAGE}`") from None
            if quoted and [w.lower() for w in words] == ["all"]:  # `export "All"`, and no customer is called that
                raise UserError(
                    f"{miss.message} Without quotes, `/partner export all` exports every customer."
                ) from None
            raise miss from None
    if rest:
        raise UserError(
            f"I didn't understand '{' '.join(rest)}' after *{mrkdwn_name(customer.name)}*. Usage: `{USAGE}`"
        )
    return ExportRequest(customer=customer, since=since)


def since_instant(since: date | None, tz: str) -> datetime | None:
    """The start of that day in the workspace's zone."""
    return datetime.combine(since, time(0, 0), tzinfo=ZoneInfo(tz)) if since else None


def export(call: CommandCall) -> Reply:
    # First, before a customer's name is looked up or counted: a guest learns nothing of the book of customers.
    require_full_member(call.client, user_id=call.user_id)
    request = parse_export(call)
    customer_id = request.customer.id if request.customer else None
    since = since_instant(request.since, call.settings.default_tz)
    checkins = call.store.count_export_checkins(team_id=call.team_id, customer_id=customer_id, since=since)
    responses = call.store.count_export_survey_responses(team_id=call.team_id, customer_id=customer_id, since=since)
    if not checkins and not responses:  # two files of headers only would tell nothing more
        if request.customer is None and request.since is None:  # a new team's first try: say what fills it
            raise UserError(
                "Nothing to export yet: no check-ins or survey answers have been logged. Log the first with "
                "`/partner checkin <customer> green <note>`, and export again."
            )
        hint = " Try an earlier since=." if request.since else ""
        raise UserError(f"Nothing to export: no check-ins or survey answers of {request.label}.{hint}")
    first = call.store.plan_nudge(
        team_id=call.team_id,
        kind=EXPORT_KIND,
        subject=f"user:{call.user_id}",
        due_key=(call.trigger_id or call.now.isoformat())[:64],
        due_at=call.now,
        now=call.now,
        recipient_id=call.user_id,
        status="sent",  # handled right here, never by the nudge sender
        payload={"customer_id": customer_id, "since": request.since.isoformat() if request.since else None},
    )
    if first:
        run_after_ack(
            send_export,
            client=call.client,
            store=call.store,
            team_id=call.team_id,
            user_id=call.user_id,
            request=request,
            since=since,
            day=call.now.astimezone(ZoneInfo(call.settings.default_tz)).date(),  # the zone `since=` is read in
            response_url=call.response_url,
        )
    text = (
        f":outbox_tray: Exporting {checkins} check-in{'s' if checkins != 1 else ''} and {responses} survey "
        f"response{'s' if responses != 1 else ''} of {request.label}. The two CSV files will be in your DM with me "
        "in a moment."
    )
    typed_all = "all" in call.args.lower().split()
    if (
        request.customer is None
        and typed_all
        and (named_all := call.store.customer_by_name(team_id=call.team_id, name="all"))
    ):
        text += (
            f" A customer is called *{mrkdwn_name(named_all.name)}*: `/partner export "
            f'"{named_all.name}"` exports only it.'
        )
    return {"text": text}


# Said when Partner's token or permissions are refused: asking again changes nothing, the operator has to act.
_ASK_THE_OPERATOR = "Please tell whoever runs Partner: `partner-bot doctor` shows what to fix."
# Slack's answers about Partner's permissions (scopes, token type, an admin's file rules): lasting, for the operator.
_NOT_ALLOWED = frozenset({"missing_scope", "not_allowed_token_type", "no_permission", "restricted_action"})


def why_not_sent(error: Exception, again: str = "/partner export") -> str:
    """Why files (an export's, the digest's chart) did not reach the DM, for a person: what happened and what to do,
    not Slack's code (the log keeps the code); `again` is the command that asks again. A lasting refusal is not met
    with "try again"."""
    status = error.response.status_code if isinstance(error, SlackApiError) else None
    code = str(error.response.get("error") or "") if isinstance(error, SlackApiError) else ""
    if code in TOKEN_REFUSED or code == TEAM_ACCESS_REVOKED:
        return f"Slack refused Partner's access to this workspace. {_ASK_THE_OPERATOR}"
    if code in _NOT_ALLOWED:
        return f"Slack doesn't allow Partner to send files here. {_ASK_THE_OPERATOR}"
    if status == 429 or code == "ratelimited":
        return f"Slack is busy and asked me to slow down. Ask again with `{again}` in a few minutes."
    if not isinstance(error, SlackApiError) or (status or 0) >= 500 or code in TRANSIENT:
        # A timeout, a dropped connection, the file server's refusal (SlackRequestError), Slack's own 5xx.
        return f"Slack had a problem on its side just now. Ask again with `{again}` in a moment."
    # An answer Partner does not know: Slack's word for it is all there is to go on, for whoever runs Partner.
    return f"Slack turned the files down (it said `{code or status}`). {_ASK_THE_OPERATOR}"


def files_comment(label: str, checkins: int, answers: int) -> str:
    """The message the two files come in. Both files are always sent (README promises two, and a script reading
    them finds both); one with nothing in it is said to have its column headings only, so nobody hunts for rows."""

    def count(n: int, what: str) -> str:
        return f"{n} {what}{'s' if n != 1 else ''}" if n else f"no {what}s"

    text = f"Your export of {label}: {count(checkins, 'check-in')} and {count(answers, 'survey answer')}."
    empty = [title for title, n in (("check-ins", checkins), ("survey answers", answers)) if not n]
    if empty:
        text += f" The {empty[0]} file has its column headings only."
    return text + " Columns are described in Partner's README."


def open_dm(client: WebClient, user_id: str) -> str:
    return str(client.conversations_open(users=user_id)["channel"]["id"])


def shared_after_all(error: Exception, client: WebClient, channel: str | None, filename: str, since: float) -> bool:
    """Whether a file whose upload's answer never came (a timeout: Slack may have shared it all the same) is in
    `channel`, shared since `since` (epoch seconds): then the person has it, and an apology under it ("could not
    be sent… ask again") would be wrong and asking again would send it twice. False when Slack cannot say."""
    if channel is None or not answer_lost(error):
        return False
    return file_shared_in(client, channel, filename, since) is True


def send_export(
    *,
    client: WebClient,
    store: Store,
    team_id: str,
    user_id: str,
    request: ExportRequest,
    since: datetime | None,
    day: date,
    response_url: str | None = None,
) -> None:
    """Writes both CSV files to a temporary folder (streamed from the database) and uploads them in one message."""
    customer_id = request.customer.id if request.customer else None
    dm: str | None = None
    checkins_name = f"partner-checkins-{request.slug}-{day.isoformat()}.csv"
    started = epoch_seconds()
    try:
        dm = open_dm(client, user_id)
        with tempfile.TemporaryDirectory(prefix="partner-export-") as folder:
            checkins_path = Path(folder) / checkins_name
            surveys_path = Path(folder) / f"partner-survey-answers-{request.slug}-{day.isoformat()}.csv"
            with checkins_path.open("w", encoding=ENCODING, newline="") as out:
                # A person Slack sent without a name (`<@U0456>`, a message logged as a check-in) is named as Slack
                # shows them: asked once each for the export; one it cannot name stays @U0456.
                person = functools.cache(functools.partial(person_name, client))
                checkins = store.write_checkins_csv(
                    out, team_id=team_id, customer_id=customer_id, since=since, person=person
                )
            with surveys_path.open("w", encoding=ENCODING, newline="") as out:
                answers = store.write_survey_answers_csv(out, team_id=team_id, customer_id=customer_id, since=since)
            files_upload_v2(  # its upload URL tried again when Slack's file server refuses the bytes
                client,
                channel=dm,
                file_uploads=[
                    {"file": str(checkins_path), "filename": checkins_path.name, "title": "Check-ins"},
                    {"file": str(surveys_path), "filename": surveys_path.name, "title": "Survey answers"},
                ],
                initial_comment=files_comment(request.label, checkins, answers),
            )
    except (SlackClientError, OSError) as e:  # OSError: Slack timed out or dropped the connection; SlackRequestError:
        # the upload URL answered something other than 200
        if shared_after_all(e, client, dm, checkins_name, started):  # both files share one message
            logger.info("export for %s in %s: Slack's answer was lost, the files are in the DM", user_id, team_id)
            return
        logger.warning("export for %s in %s failed: %s", user_id, team_id, e)
        text = f"Sorry — your export of {request.label} could not be sent: {why_not_sent(e)}"
        try:
            client.chat_postMessage(channel=dm or user_id, text=text)
        except (SlackApiError, OSError):
            # Slack refusing Partner's token (or down) refuses the DM too: the command's response_url needs no token.
            if not answer_command(command_responder(client, response_url), text):
                logger.warning("could not tell %s that the export failed", user_id)
