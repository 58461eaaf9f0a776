"""The weekly digest: planned once per workspace and ISO week in the nudge log, posted by the generic sender.

Flow, every tick:
1. `plan_digests` puts one `digest` nudge (subject "team", due_key the ISO week, e.g. "2026-W48") in the outbox
   once the workspace's local digest time has come (default Monday 09:00 in PARTNER_DEFAULT_TZ).
2. The sender (schedules/sender.py) claims it and posts what `render_digest` returns: the Block Kit summary,
   built from the data as it is at that moment — exactly once, like every nudge.
3. `send_digest_charts` (after the sender) uploads the PNG chart (`files_upload_v2`) to the same channel for
   each digest sent; a `digest_chart` row in the nudge log (insert-if-absent) makes sure only one tick or
   replica uploads it.
`send_digest` does all of it directly, for `/partner digest` and for operators.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from time import time as epoch_seconds  # Slack's clock, which dates a shared file
from typing import Any
from urllib.error import HTTPError
from zoneinfo import ZoneInfo

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError

from bot.oauth import NotInstalled, SlackClients, client_for
from bot.settings import Settings
from domain.cadence import parse_time
from domain.calendar import WEEKDAY_NAMES, WEEKDAYS, parse_weekday, wall_clock_instant
from domain.customers import shared_with_another_organisation
from domain.surveys import LEVELS
from handlers.blocks import mrkdwn_name
from handlers.blocks.digest import (
    NOT_MOVED,
    ChartShows,
    DigestSummary,
    Escalation,
    Streak,
    TheirView,
    TierMove,
    chart_whom,
    digest_blocks,
    digest_text,
)
from handlers.blocks.home import CadenceDays, CustomerFacts, customer_facts, sort_by_risk
from handlers.permissions import WhoUnknown
from schedules.chart import HealthLine, biggest_movers, chart_key, health_chart, week_starts
from schedules.sender import Message, Skip, register
from schedules.sharing import GUEST_CALLS_NOW, Calls, LookUpUnfinished, impatient, look_up
from schedules.slack_http import TRANSIENT, answer_lost, file_shared_in, files_upload_v2
from storage.home import DIGEST_CHOSEN_BY, DIGEST_SET_AT
from storage.models import Customer, Nudge, Workspace
from storage.store import Store

logger = logging.getLogger("partner.digest")

DIGEST = "digest"  # nudge kind: the team's weekly summary
DIGEST_CHART = "digest_chart"  # nudge kind used only as the once-token of the chart upload
DEFAULT_SCHEDULE = "weekly mon 09:00"
CHART_WEEKS = 12
ALT_TEXT_LIMIT = 1000  # kept short for screen readers, well inside what Slack takes
BEST_STREAKS = 3
# A digest is planned (and sent, with the sender's "sent late" note) up to this long after its time; a week's
# digest that could not go out within a day is skipped rather than posted in the middle of the week.
PLAN_WITHIN = timedelta(days=1)

_SCHEDULE_RE = re.compile(r"^(?:weekly\s+)?([a-z.]+)\s+(.+)$")


@dataclass(frozen=True)
class DigestTime:
    weekday: int  # Monday=0
    at: time

    def to_text(self) -> str:
        return f"weekly {WEEKDAYS[self.weekday]} {self.at:%H:%M}"

    def describe(self) -> str:
        return f"{WEEKDAY_NAMES[self.weekday]}s at {self.at:%H:%M}"


def parse_digest_time(text: str) -> DigestTime:
    """ "mon 09:00", "friday 4pm", "weekly tue 8:30" → DigestTime; ValueError naming the problem otherwise."""
    match = _SCHEDULE_RE.match(" ".join(text.lower().split()))
    if not match:
        raise ValueError(f"'{text}' is not a day and a time, e.g. `mon 09:00`")
    return DigestTime(weekday=parse_weekday(match.group(1)), at=parse_time(match.group(2)))


def digest_time(workspace: Workspace | None) -> DigestTime:
    try:
        return parse_digest_time((workspace.digest_schedule if workspace else None) or DEFAULT_SCHEDULE)
    except ValueError:
        logger.warning("unreadable digest schedule for %s; using the default", workspace and workspace.team_id)
        return parse_digest_time(DEFAULT_SCHEDULE)


def digest_tz(workspace: Workspace | None, default_tz: str) -> str:
    return (workspace.tz if workspace and workspace.tz else None) or default_tz


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def digest_slot(when: DigestTime, tz: str, now: datetime) -> tuple[str, datetime]:
    """(ISO week key, due instant in UTC) of the digest in the local week that contains `now`."""
    zone = ZoneInfo(tz)
    day = week_start(now.astimezone(zone).date()) + timedelta(days=when.weekday)
    return iso_week(day), wall_clock_instant(day, when.at, zone)


# --------------------------------------------------------------------------- what the digest says


def _streak(weeks: set[date], this_week: date) -> int:
    """Consecutive weeks with a check-in, ending this week (or last week, as this one is not over)."""
    start = this_week if this_week in weeks else this_week - timedelta(weeks=1)
    count = 0
    while start - timedelta(weeks=count) in weeks:
        count += 1
    return count


def build_digest(
    *,
    store: Store,
    team_id: str,
    now: datetime,
    default_tz: str,
    owner_id: str | None = None,
    any_checkin: bool = False,
) -> tuple[DigestSummary, list[CustomerFacts]]:
    """The week's summary for the team (or one owner), and every customer's facts (for the chart)."""
    rows = store.dashboard_rows(team_id=team_id, owner_id=owner_id)
    customers = [customer for customer, _ in rows]
    days = CadenceDays(now=now, default_tz=default_tz)  # the cadence maths shared by customers alike (as on Home)
    # When each current snooze was set: one may still hold an overdue alert back (none read when nobody is snoozed).
    snoozed = [c for c in customers if c.snoozed_until is not None]
    snoozes = store.snoozes(team_id=team_id, customers=snoozed, after=now) if snoozed else {}
    facts = sort_by_risk(
        [
            customer_facts(
                c,
                contact,
                now=now,
                default_tz=default_tz,
                due_today=False,
                any_checkin=any_checkin,
                days=days,
                snoozed_since=snoozes[c.id].since if c.id in snoozes else None,
            )
            for c, contact in rows
        ]
    )
    # The week the digest covers is the digest zone's: at Monday 09:00 in Auckland it is still Sunday in UTC.
    local = now.astimezone(ZoneInfo(default_tz))
    this_week = week_start(local.date())
    # Since the same time on the zone's clocks a week ago, where last week's digest was: 7 × 24 hours across a DST
    # change would leave the hour after it in neither digest (clocks back) or in both (clocks forward).
    since = wall_clock_instant(local.date() - timedelta(days=7), local.time(), ZoneInfo(default_tz))
    records = store.digest_records(team_id=team_id, owner_id=owner_id, since=since, now=now, tz=default_tz)
    names = {c.id: c.name for c in customers}
    streaks = sorted(
        (
            Streak(customer=names[cid], weeks=_streak(weeks, this_week))
            for cid, weeks in records.checkin_weeks.items()
            if cid in names
        ),
        key=lambda s: (-s.weeks, s.customer.lower()),
    )
    summary = DigestSummary(
        week_start=this_week,
        at_risk=[f for f in facts if f.at_risk],
        tier_moves=_tier_moves(records.tier_moves, names),
        overdue=[f for f in facts if f.overdue],
        escalated=[
            Escalation(customer=names.get(b.customer_id, f"customer {b.customer_id}"), boundary=b.text)
            for b in records.escalated
        ],
        streaks=[s for s in streaks if s.weeks > 0][:BEST_STREAKS],
        their_views=_their_views(records.their_views, {c.id: c for c in customers}),
        customers=len(customers),
        owner_id=owner_id,
        team_practices=(
            store.latest_survey_response(team_id=team_id, survey="practices", customer_id=None)
            if owner_id is None
            else None
        ),
    )
    return summary, facts


def _their_views(answers: Sequence[tuple[int, str]], customers: dict[int | None, Customer]) -> list[TheirView]:
    """Each customer whose people answered this week: their latest answer beside our view, riskiest first (they see
    us lower than we do), then by name."""
    by_customer: dict[int, list[str]] = {}
    for cid, level in answers:  # oldest first
        if cid in customers and level in LEVELS:
            by_customer.setdefault(cid, []).append(level)
    views = [
        TheirView(customer=customers[cid].name, theirs=levels[-1], ours=customers[cid].tier, answers=len(levels))
        for cid, levels in by_customer.items()
    ]

    def gap(view: TheirView) -> int:
        return LEVELS.index(view.ours) - LEVELS.index(view.theirs) if view.ours in LEVELS else 0  # type: ignore[arg-type]

    return sorted(views, key=lambda v: (-gap(v), v.customer.lower()))


def _tier_moves(moves: Sequence[tuple[int, dict[str, Any], datetime]], names: dict[int, str]) -> list[TierMove]:
    """One move per customer for the week, oldest tier to newest: rated down and back up again (a slip of the
    hand put right) is one customer that moved, with the tier it passed through, not two."""
    by_customer: dict[int, list[dict[str, Any]]] = {}
    for cid, detail, _at in moves:  # oldest first
        by_customer.setdefault(cid, []).append(detail)
    return [
        TierMove(
            customer=names.get(cid, f"customer {cid}"),
            old=details[0].get("old", details[0].get("from")),
            new=details[-1].get("new", details[-1].get("to")),
            via=tuple(d.get("new", d.get("to")) for d in details[:-1]),
        )
        for cid, details in by_customer.items()
    ]


def chart_lines(
    *,
    store: Store,
    team_id: str,
    now: datetime,
    tz: str,
    owner_id: str | None = None,
    names: dict[int, str] | None = None,
) -> tuple[list[HealthLine], list[date]]:
    """Each customer's last score per week over CHART_WEEKS weeks (streamed), and the weeks' first days. `names`:
    the customers' names by id when the caller has them already (the digest's own rows), else read here."""
    this_week = week_start(now.astimezone(ZoneInfo(tz)).date())
    starts = week_starts(this_week, CHART_WEEKS)
    index = {start: i for i, start in enumerate(starts)}
    if names is None:
        names = {c.id: c.name for c in store.dashboard_customers(team_id=team_id, owner_id=owner_id) if c.id}
    values: dict[int, list[int | None]] = {}
    for cid, day, score in store.digest_health_points(team_id=team_id, owner_id=owner_id, since=starts[0]):
        slot = index.get(week_start(day))
        if slot is not None and day <= now.date() + timedelta(days=1):
            values.setdefault(cid, [None] * CHART_WEEKS)[slot] = score  # rows come oldest first: last wins
    lines = [HealthLine(name=names[cid], values=v) for cid, v in values.items() if cid in names]
    return lines, starts


def chart_shows(movers: Sequence[HealthLine]) -> ChartShows:
    """Whom the chart of these lines (`biggest_movers`') shows: how many, and whether any score of theirs moved."""
    known = ([v for v in line.values if v is not None] for line in movers)
    return ChartShows(customers=len(movers), moved=any(max(k) > min(k) for k in known if k))


def what_chart_shows(
    *, store: Store, team_id: str, now: datetime, tz: str, facts: Sequence[CustomerFacts]
) -> ChartShows:
    """What the team digest's chart will show, for the digest's line announcing it: the chart's own choice of
    customers (one streamed read of the scores; the names from the digest's rows, no query per customer)."""
    names = {f.customer.id: f.customer.name for f in facts if f.customer.id is not None}
    lines, _starts = chart_lines(store=store, team_id=team_id, now=now, tz=tz, names=names)
    return chart_shows(biggest_movers(lines))


def digest_chart_moved(
    *, store: Store, team_id: str, now: datetime, tz: str, owner_id: str | None = None
) -> tuple[bytes, list[str], bool]:
    """The PNG (CHART_SIZE pixels), the names it shows, and whether any of their scores moved (`upload_chart`'s
    words: customers scored once each did not "move most")."""
    lines, starts = chart_lines(store=store, team_id=team_id, now=now, tz=tz, owner_id=owner_id)
    movers = biggest_movers(lines)
    moved = chart_shows(movers).moved
    whom = "customers that moved most" if moved else "customers with a health score"
    png = health_chart(movers, week_starts=starts, title=f"Health over 12 weeks — {whom}")
    return png, [line.name for line in movers], moved


def digest_chart(
    *, store: Store, team_id: str, now: datetime, tz: str, owner_id: str | None = None
) -> tuple[bytes, list[str]]:
    """The PNG (CHART_SIZE pixels) and the names it shows."""
    png, names, _moved = digest_chart_moved(store=store, team_id=team_id, now=now, tz=tz, owner_id=owner_id)
    return png, names


def chart_week(now: datetime, tz: str) -> str:
    """The ISO week of the chart's name and title: the digest zone's, as the digest's own (`digest_slot`)."""
    return iso_week(now.astimezone(ZoneInfo(tz)).date())


def chart_filename(now: datetime, tz: str) -> str:
    return f"partner-health-{chart_week(now, tz)}.png"


def chart_text(names: Sequence[str], *, moved: bool = True) -> str:
    """The chart's message: what the chart is and whom it shows, the words its notification reads (a file shared
    without a message notified "Health over 12 weeks · 2026-W48" alone, or nothing that says it is Partner's digest
    chart); and, when its legend gives some customers by number (a name its fonts cannot draw whole: Japanese
    without a CJK font, an emoji), who each number is."""
    shown = ", ".join(mrkdwn_name(name) for name in names)
    if not names:  # the chart has no line: "…of the customers whose health moved most." named what it did not show
        return (
            ":chart_with_upwards_trend: The digest's health chart is empty: no customer has a health score in these "
            f"{CHART_WEEKS} weeks yet."
        )
    shows = ChartShows(customers=len(names), moved=moved)
    text = f":chart_with_upwards_trend: The digest's health chart: {CHART_WEEKS} weeks of {chart_whom(shows)} ({shown})"
    text += "." if moved or len(names) == 1 else f"; {NOT_MOVED}."  # scored once, or never apart: "moved most" of none
    if keyed := chart_key(names):
        text += "\nOn the chart: " + " · ".join(f"*#{number}* {mrkdwn_name(name)}" for number, name in keyed)
    return text


def chart_alt_text(names: Sequence[str], *, now: datetime, tz: str, moved: bool = True) -> str:
    """What a screen reader says of the chart: its weeks and whom it shows, as the image does. A fixed "line chart
    of the customers whose health changed most" named nobody, and was read out even for a chart with no line."""
    starts = week_starts(week_start(now.astimezone(ZoneInfo(tz)).date()), CHART_WEEKS)
    weeks = f"weekly health scores (0–100), the {CHART_WEEKS} weeks from {starts[0]:%-d %b} to {starts[-1]:%-d %b}"
    if not names:
        return f"An empty chart of {weeks}: no health scores stored yet."
    # One line is the only customer scored in these weeks: it moved "most" of nobody.
    if len(names) == 1:
        whom = f"of {chart_whom(ChartShows(customers=1))}"
    else:
        which = "whose health moved most" if moved else f"with a health score ({NOT_MOVED})"
        whom = f"one line each for the {len(names)} customers {which}"
    text = f"Line chart of {weeks}, {whom}: {', '.join(names)}."
    return text if len(text) <= ALT_TEXT_LIMIT else text[: ALT_TEXT_LIMIT - 1] + "…"


def upload_chart(
    *,
    client: WebClient,
    channel: str,
    png: bytes,
    now: datetime,
    tz: str,
    thread_ts: str | None = None,
    names: Sequence[str] = (),
    moved: bool = True,
) -> dict[str, Any]:
    """`names`: the customers charted, in the legend's order (`digest_chart`), for the key of those it numbers;
    `moved`: whether any of their scores moved (`chart_shows`), else the chart does not say they "moved most"."""
    response = files_upload_v2(  # its upload URL tried again when Slack's file server refuses the bytes
        client,
        channel=channel,
        content=png,
        filename=chart_filename(now, tz),
        title=f"Health over 12 weeks · {chart_week(now, tz)}",
        alt_txt=chart_alt_text(names, now=now, tz=tz, moved=moved),
        initial_comment=chart_text(names, moved=moved),
        thread_ts=thread_ts,
    )
    return dict(response.get("file") or {})


def never_shared(error: Exception) -> bool:
    """True when a failed `files_upload_v2` did not share the chart, for a reason that passes (Slack busy or down:
    a 429 at any step, its rate limiter turning the call away before doing anything; a 5xx before
    `files.completeUploadExternal`; the upload URL refusing the bytes), so trying again in a later tick cannot show
    it twice (a tick no longer sleeps through a long Retry-After: schedules.slack_http). slack-sdk answers an API
    method's HTTP error with SlackApiError, so an HTTPError comes from the upload URL alone."""
    if isinstance(error, (HTTPError, SlackRequestError)):  # SlackRequestError: the upload URL answered not 200
        return True
    if isinstance(error, SlackApiError):
        status = error.response.status_code
        if status == 429:  # Slack's rate limiter turned the call away, whichever step it was: nothing was shared
            return True
        return str(error.response.api_url).endswith("files.getUploadURLExternal") and status >= 500
    return False


def send_digest(
    *,
    store: Store,
    client: WebClient,
    team_id: str,
    now: datetime,
    default_tz: str = "UTC",
    channel: str | None = None,
    owner_id: str | None = None,
    any_checkin: bool = False,
) -> DigestSummary:
    """Posts the digest and its chart right away (no nudge log): `/partner digest` and operators use it.

    `channel` defaults to the workspace's digest channel; with `owner_id`, the digest covers that owner's
    customers.
    """
    workspace = store.digest_workspace(team_id=team_id)
    tz = digest_tz(workspace, default_tz)
    destination = channel or (workspace.digest_channel_id if workspace else None)
    if not destination:
        raise ValueError(f"no digest channel for {team_id}; set one with /partner digest channel #channel")
    summary, _facts = build_digest(
        store=store, team_id=team_id, now=now, default_tz=tz, owner_id=owner_id, any_checkin=any_checkin
    )
    png, names, moved = digest_chart_moved(store=store, team_id=team_id, now=now, tz=tz, owner_id=owner_id)
    summary = replace(summary, chart=ChartShows(customers=len(names), moved=moved))
    client.chat_postMessage(channel=destination, text=digest_text(summary), blocks=digest_blocks(summary))
    upload_chart(client=client, channel=destination, png=png, now=now, tz=tz, names=names, moved=moved)
    return summary


# --------------------------------------------------------------------------- scheduled: plan, render, chart


# The first words of `/partner digest channel`'s refusal of a channel guests of the workspace read.
GUESTS_READ = "<#{channel_id}>: guests read this channel (guests of the workspace are among its members)"


def stop_digest_in_shared_channel(
    *, store: Store, client: WebClient, workspace: Workspace, channel_id: str, guests: bool = False
) -> None:
    """The team digest's channel now read from outside the team — shared with another organisation, or (`guests`)
    with guests of the workspace among its members: the digest (every customer's health and risks) stops going
    there, and the admin who chose it is told, as `/partner digest channel` refuses such a channel. Slack's
    channel_shared event or a guest joining says so; the digest's own look-up finds one while Partner was down."""
    outside = (
        GUESTS_READ.format(channel_id=channel_id)
        if guests
        else f"<#{channel_id}> is now shared with another organisation through Slack Connect"
    )
    _stop_digest_and_tell(
        store=store,
        client=client,
        workspace=workspace,
        channel_id=channel_id,
        why="read by guests" if guests else "shared with another organisation",
        text=(
            f"{outside}, so the weekly team digest (every customer's health and risks) no "
            "longer goes there. Pick an internal channel: `/partner digest channel #channel`."
        ),
    )


# Slack's events that a channel is gone for good, in the words of the admin's notice.
GONE = {"is_archived": "was archived", "channel_not_found": "was deleted"}


def stop_digest_in_gone_channel(
    *, store: Store, client: WebClient, workspace: Workspace, channel_id: str, error: str
) -> None:
    """The team digest's channel archived or deleted (Slack's channel_archive / channel_deleted): the digest is
    turned off at once and the admin who chose it told, instead of a refused post and a notice every week."""
    gone = GONE.get(error)
    if gone is None:
        return
    _stop_digest_and_tell(
        store=store,
        client=client,
        workspace=workspace,
        channel_id=channel_id,
        why=gone,
        text=(
            f"<#{channel_id}> {gone}, so the weekly team digest is off. Pick a live channel: "
            "`/partner digest channel #channel`."
        ),
    )


def digest_channel_gone(team_id: str, channel_id: str, store: Store) -> None:
    """The digest's post refused for good (archived or deleted while Partner missed Slack's event): off, so it is
    not refused again every week; the sender's notice of the failed digest told its admin."""
    if store.stop_digest_in(team_id=team_id, channel_id=channel_id):
        logger.info("digest channel %s of %s archived or deleted: digest off", channel_id, team_id)


def _stop_digest_and_tell(
    *, store: Store, client: WebClient, workspace: Workspace, channel_id: str, why: str, text: str
) -> None:
    if not store.stop_digest_in(team_id=workspace.team_id, channel_id=channel_id):
        return  # turned off already, by a delivery of the same event at the same time or another replica
    logger.info("digest channel %s of %s %s: digest off", channel_id, workspace.team_id, why)
    chooser = (workspace.settings or {}).get(DIGEST_CHOSEN_BY)
    if not chooser:
        return
    try:
        client.chat_postMessage(channel=str(chooser), text=text)
    except (SlackApiError, OSError):  # OSError: a timeout; the digest is off either way
        logger.warning("could not tell %s that the digest channel was %s", chooser, why, exc_info=True)


def _shared_since_chosen(
    *, store: Store, client: WebClient | SlackClients, workspace: Workspace, now: datetime
) -> bool | None:
    """Whether the digest channel was shared with another organisation, or has guests of the workspace among its
    members, since it was chosen (an event missed while Partner was down): then the digest is turned off and its
    admin told. None while Slack cannot say (rate limited, down, no answer, a member Slack cannot place, a member
    list longer than GUEST_CALLS_NOW: the look-up goes on from there next tick): the digest waits for a later tick
    rather than go where the customer may read it, and the tick is not held up by a Retry-After. A lasting refusal
    (no installation, a private channel Partner left, a refused token) lets the digest go: the sender says why it
    cannot post."""
    channel_id = workspace.digest_channel_id
    if not channel_id:
        return False
    try:
        slack = client_for(client, workspace.team_id)
        channel = impatient(slack).conversations_info(channel=channel_id)["channel"]
    except NotInstalled:
        return False
    except SlackApiError as e:
        logger.info("conversations.info for the digest channel %s failed: %s", channel_id, e.response.get("error"))
        status, code = e.response.status_code, str(e.response.get("error") or "")
        return None if status == 429 or status >= 500 or code in TRANSIENT else False
    except OSError as e:  # a timeout or a dropped connection
        logger.info("conversations.info for the digest channel %s failed: %r", channel_id, e)
        return None
    if not shared_with_another_organisation(channel):
        # The same guest look-up as a customer's channel's (schedules/sharing.py), its answer kept alike.
        try:
            calls = Calls(GUEST_CALLS_NOW)
            if not look_up(
                slack, store, team_id=workspace.team_id, channel_id=channel_id, now=now, calls=calls, channel=channel
            ):
                return False
        except (SlackApiError, OSError, WhoUnknown, LookUpUnfinished) as e:
            logger.info("digest channel %s: who reads it is a later tick's to learn (%s)", channel_id, type(e).__name__)
            return None
        stop_digest_in_shared_channel(
            store=store, client=slack, workspace=workspace, channel_id=channel_id, guests=True
        )
        return True
    stop_digest_in_shared_channel(store=store, client=slack, workspace=workspace, channel_id=channel_id)
    return True


def plan_digests(
    *, store: Store, client: WebClient | SlackClients, now: datetime, settings: Settings | None = None
) -> int:
    """Plans this week's digest of every workspace whose digest time has come; returns how many were new."""
    default_tz = settings.default_tz if settings else "UTC"
    planned = 0
    for workspace in store.workspaces_with_digest():
        tz = digest_tz(workspace, default_tz)
        # This local week's digest, or last week's when its time was late in the week and the day since it ran into
        # this one (Sunday 20:00's digest, the bot down until Monday 06:00).
        slots = {digest_slot(digest_time(workspace), tz, at) for at in (now, now - PLAN_WITHIN)}
        due = [(week, due_at) for week, due_at in slots if due_at <= now < due_at + PLAN_WITHIN]
        if not due:
            continue
        week, due_at = due[0]
        if due_at < _set_at(workspace):
            continue  # its time had passed when the digest was set up: the first one is next week's, not "late"
        if store.existing_nudge_keys(team_id=workspace.team_id, kind=DIGEST, keys=[("team", week)]):
            continue  # planned by an earlier tick: the channel was looked up then
        if _shared_since_chosen(store=store, client=client, workspace=workspace, now=now) is not False:
            continue  # shared: turned off; or Slack cannot say yet: the next tick asks again
        if store.plan_nudge(
            team_id=workspace.team_id,
            kind=DIGEST,
            subject="team",
            due_key=week,
            due_at=due_at,
            now=now,
            recipient_id=workspace.digest_channel_id,
            # Renderers get no settings: what the digest needs travels with the nudge; and whom the sender tells
            # when the channel refuses it.
            payload={
                "tz": tz,
                "any_checkin": bool(settings and settings.any_checkin_satisfies),
                "tell": (workspace.settings or {}).get(DIGEST_CHOSEN_BY),
            },
        ):
            planned += 1
    return planned


def _set_at(workspace: Workspace) -> datetime:
    """When the digest's channel or time was last set; the earliest instant for workspaces set up before this was
    recorded (their digest time was never moved past a slot)."""
    raw = (workspace.settings or {}).get(DIGEST_SET_AT)
    try:
        return datetime.fromisoformat(raw) if isinstance(raw, str) else datetime.min.replace(tzinfo=ZoneInfo("UTC"))
    except ValueError:
        return datetime.min.replace(tzinfo=ZoneInfo("UTC"))


def within_its_week(nudge: Nudge, instant: datetime, tz: str) -> datetime:
    """`instant`, or the last moment of the digest's own local week when it went out after that week had ended (a
    Sunday evening digest sent late on Monday covers, names and charts its week, not the one just begun)."""
    zone = ZoneInfo(tz)
    next_week = week_start(nudge.due_at.astimezone(zone).date()) + timedelta(weeks=1)
    return min(instant, wall_clock_instant(next_week, time(0), zone) - timedelta(seconds=1))


def render_digest(nudge: Nudge, store: Store, now: datetime) -> Message | Skip:
    workspace = store.digest_workspace(team_id=nudge.team_id)
    if nudge.status == "sent":  # a redraw: the message where it was posted
        channel = nudge.channel_id or nudge.recipient_id
    else:  # a first send, maybe after Slack kept it waiting: where the digest goes now (an admin may have moved it)
        channel = workspace.digest_channel_id if workspace else None
    if not channel:
        return Skip("no digest channel", "cancelled")
    if workspace is not None and not workspace.active and nudge.status != "sent":
        return Skip("workspace inactive", "cancelled")
    tz = str(nudge.payload.get("tz") or digest_tz(workspace, "UTC"))
    # A redraw of a sent digest shows the week it was sent for, not today's data.
    as_of = within_its_week(nudge, nudge.sent_at if nudge.status == "sent" and nudge.sent_at else now, tz)
    summary, facts = build_digest(
        store=store,
        team_id=nudge.team_id,
        now=as_of,
        default_tz=tz,
        any_checkin=bool(nudge.payload.get("any_checkin")),
    )
    # send_digest_charts uploads it right after, as of the same moment: the line says what it will show.
    shows = what_chart_shows(store=store, team_id=nudge.team_id, now=as_of, tz=tz, facts=facts) if facts else None
    summary = replace(summary, chart=shows or ChartShows())
    return Message(text=digest_text(summary), blocks=digest_blocks(summary), channel=channel)


# No sender grace period: plan_digests only plans within PLAN_WITHIN of the digest time, and a digest a few
# hours late (the bot was down on Monday morning) is still worth reading.
register(DIGEST, render_digest, grace=False, label="the weekly digest", channel_gone=digest_channel_gone)


def send_digest_charts(*, store: Store, client: WebClient | SlackClients, now: datetime) -> int:
    """Uploads the chart of each digest the sender posted in the last day, once (after the sender job)."""
    uploaded = 0
    for workspace in store.workspaces_with_digest():
        sent = store.nudges(
            team_id=workspace.team_id,
            kinds=[DIGEST],
            due_after=now - PLAN_WITHIN - timedelta(days=1),
            statuses=["sent"],
        )
        for nudge in sent:
            if nudge.subject != "team" or not nudge.channel_id or not nudge.message_ts:
                continue
            if not store.plan_nudge(
                team_id=nudge.team_id,
                kind=DIGEST_CHART,
                subject="team",
                due_key=nudge.due_key,
                due_at=now,
                now=now,
                recipient_id=nudge.channel_id,
                status="sent",  # the once-token: whoever inserts it uploads
                payload={"digest_nudge_id": nudge.id},
            ):
                continue
            tz = str(nudge.payload.get("tz") or digest_tz(workspace, "UTC"))
            as_of = within_its_week(nudge, nudge.sent_at or now, tz)
            slack: WebClient | None = None
            started = epoch_seconds()
            try:
                png, names, moved = digest_chart_moved(store=store, team_id=nudge.team_id, now=as_of, tz=tz)
                if not names and not store.dashboard_customers(team_id=nudge.team_id):
                    continue  # the digest said "No customers yet": an empty chart would say nothing more
                slack = client_for(client, nudge.team_id)
                upload_chart(
                    client=slack,
                    channel=nudge.channel_id,
                    png=png,
                    now=as_of,
                    tz=tz,
                    names=names,
                    moved=moved,
                )
                uploaded += 1
            except NotInstalled as e:
                logger.warning("digest chart for %s not uploaded: %s", nudge.team_id, e)
            except (SlackApiError, SlackRequestError, OSError) as e:  # OSError, a timeout: the next charts still go out
                reason = e.response.get("error") if isinstance(e, SlackApiError) else e
                # A timeout (Slack's answer lost) may come before anything was shared: the channel says whether it was.
                unshared = (
                    slack is not None
                    and answer_lost(e)
                    and file_shared_in(slack, nudge.channel_id, chart_filename(as_of, tz), started) is False
                )
                if never_shared(e) or unshared:  # a later tick tries again: Slack's hiccup no longer costs the chart
                    store.unplan_nudge(team_id=nudge.team_id, kind=DIGEST_CHART, subject="team", due_key=nudge.due_key)
                    logger.warning("digest chart for %s not uploaded yet, next tick retries: %s", nudge.team_id, reason)
                else:  # at most once: it may have been shared, so it is logged, not retried into a possible duplicate
                    logger.warning("digest chart for %s not uploaded: %s", nudge.team_id, reason)
    return uploaded
