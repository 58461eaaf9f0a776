"""The weekly digest message: a Block Kit summary of the week (pure: data in, blocks out)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from domain.health import mood_colour
from domain.surveys import LEVELS
from handlers.blocks import (
    MAX_BLOCKS_TEXT,
    MAX_TEXT,
    blocks_text_length,
    context,
    mood_badge,
    mrkdwn_name,
    paused_text,
    plain,
    section,
    tier_text,
    truncate,
)
from handlers.blocks.home import BAND_EMOJI, NO_VALUE, CustomerFacts
from handlers.blocks.surveys import rating_result_text
from storage.models import SurveyResponse

MAX_LISTED = 8  # names per part; the rest are counted


@dataclass(frozen=True)
class TierMove:
    """A customer's tier over the week: where it started, where it ended, and the tiers it passed through."""

    customer: str
    old: str | None
    new: str | None
    via: tuple[str | None, ...] = ()


@dataclass(frozen=True)
class Escalation:
    customer: str
    boundary: str


@dataclass(frozen=True)
class TheirView:
    """What a customer's own people said of us this week (`/partner ask`): their latest answer beside our view."""

    customer: str
    theirs: str
    ours: str | None
    answers: int = 1


@dataclass(frozen=True)
class Streak:
    customer: str
    weeks: int


@dataclass(frozen=True)
class ChartShows:
    """Whom the digest's health chart shows, for the words around it (the digest's line announcing it, the chart's
    own message and alt text): how many customers it draws, and whether any of their scores moved in its weeks (a
    team's first digests draw customers scored once: none of them "moved most")."""

    customers: int = 0
    moved: bool = True


def chart_whom(shows: ChartShows) -> str:
    """ "the customers whose health moved most", or what the chart really draws; "" for an empty chart."""
    if shows.customers == 0:
        return ""
    if shows.customers == 1:
        return "the one customer with a health score"
    return "the customers whose health moved most" if shows.moved else "the customers with a health score"


NOT_MOVED = "none has moved yet"  # said after the customers a chart draws when no score of theirs moved


@dataclass(frozen=True)
class DigestSummary:
    """The week in one place; `owner_id` set for a personal digest (`/partner digest mine`)."""

    week_start: date
    at_risk: Sequence[CustomerFacts] = ()
    tier_moves: Sequence[TierMove] = ()
    overdue: Sequence[CustomerFacts] = ()
    escalated: Sequence[Escalation] = ()
    streaks: Sequence[Streak] = ()
    customers: int = 0
    owner_id: str | None = None
    chart: ChartShows | None = None  # a chart is posted right after the message: whom it shows
    # The team digest's latest partnership-practices self-check about the team itself (`survey team practices`).
    team_practices: SurveyResponse | None = None
    their_views: Sequence[TheirView] = ()

    @property
    def with_chart(self) -> bool:
        return self.chart is not None


def _listed(items: Sequence[str], listed: int = MAX_LISTED) -> str:
    shown = list(items[:listed])
    if len(items) > listed:
        shown.append(f"…and {len(items) - listed} more")
    return "\n".join(f"• {line}" for line in shown)


def _facts_line(facts: CustomerFacts) -> str:
    score = str(facts.score) if facts.score is not None else NO_VALUE
    owner = f" (<@{facts.customer.owner_id}>)" if facts.customer.owner_id else ""
    late = " · overdue" if facts.overdue else ""
    if facts.customer.paused_at is not None:  # owes no call: never overdue, and says why
        late = f" · {paused_text(facts.customer.paused_at, facts.tz)}"
    mood = facts.contact.mood
    if mood and mood_colour(mood) == "red":  # at risk for it alone while the score is still green: say so
        late += f" · {mood_badge(mood)} last check-in"
    return f"{BAND_EMOJI[facts.band]} *{mrkdwn_name(truncate(facts.customer.name, 80))}* {score}{late}{owner}"


def _tier(tier: str | None) -> str:
    """As the card and Home read it: "Supplier of choice", not its key."""
    return tier_text(tier) if tier else "no tier"


def _tier_move_line(move: TierMove) -> str:
    """ "*Acme*: Partner → Supplier :small_red_triangle_down: down" — every tier of the week in order, and which way it
    went (a first rating goes no way; one that came back where it was says so)."""
    steps = [_tier(t) for t in (move.old, *move.via, move.new)]
    if len(steps) > 5:  # a busy week: where it started, the latest moves, where it is
        steps = [steps[0], "…", *steps[-3:]]
    path = " → ".join(steps)
    line = f"*{mrkdwn_name(move.customer)}*: {path}"
    if move.old == move.new:
        return f"{line} (back where it was)"
    if move.old in LEVELS and move.new in LEVELS:
        down = LEVELS.index(move.new) < LEVELS.index(move.old)  # type: ignore[arg-type]
        line += " :small_red_triangle_down: down" if down else " :arrow_up_small: up"
    return line


def _their_view_line(view: TheirView) -> str:
    """ "*Acme*: they see us as *Supplier*; we say *Partner* — the health score counts *Supplier*": their view
    beside ours, and which one the score reads (the lower, as on the card)."""
    line = f"*{mrkdwn_name(view.customer)}*: they see us as *{_tier(view.theirs)}*"
    if view.ours not in LEVELS:
        line += " (our own view not rated yet)"
    elif view.ours == view.theirs:
        line += ", as we do"
    else:
        lower = min(view.ours, view.theirs, key=LEVELS.index)  # type: ignore[arg-type]
        warn = " :warning:" if lower == view.theirs else ""
        line += f"; we say *{_tier(view.ours)}* — the health score counts *{_tier(lower)}*{warn}"
    if view.answers > 1:
        line += f" ({view.answers} answers, the latest shown)"
    return line


def _chart_line(shows: ChartShows) -> str:
    """What the chart that follows shows, as its own message says it: an empty chart was announced as "health over
    12 weeks of the customers that moved most", and so were customers scored once, in a team's first digest."""
    if shows.customers == 0:
        return "The health chart below is empty: no customer has a health score in these 12 weeks yet."
    if shows.moved or shows.customers == 1:
        whom = "the customers that moved most" if shows.customers > 1 else chart_whom(shows)
        return f"Chart below: health over 12 weeks of {whom}."
    return f"Chart below: health over 12 weeks of {chart_whom(shows)}; {NOT_MOVED}."


def digest_title(summary: DigestSummary) -> str:
    whose = "Your" if summary.owner_id else "Weekly"
    return f"{whose} digest · week of {summary.week_start.day} {summary.week_start:%b %Y}"


def digest_text(summary: DigestSummary) -> str:
    """The notification text (and the fallback where blocks are not shown)."""
    escalated = len(summary.escalated)
    return (
        f"{digest_title(summary)}: {len(summary.at_risk)} at risk, {len(summary.overdue)} overdue, "
        f"{len(summary.tier_moves)} moved tier, {escalated} {'boundary' if escalated == 1 else 'boundaries'} escalated."
    )


# Fewer names a part, tried in turn while the digest is more text than Slack takes in one message's blocks.
FEWER_LISTED = (MAX_LISTED, 5, 3, 1)


def digest_blocks(summary: DigestSummary) -> list[dict[str, Any]]:
    """The digest's blocks, eight names a part when they fit: a busy team's long names (80 characters, each `&`
    written `&amp;`) in every part made the team's digest more text than Slack posts in one message
    (msg_blocks_too_long), so fewer are named then and the rest counted."""
    for listed in FEWER_LISTED:
        blocks = _digest_blocks(summary, listed)
        if blocks_text_length(blocks) <= MAX_BLOCKS_TEXT:
            break
    return blocks


def _digest_blocks(summary: DigestSummary, listed: int) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [{"type": "header", "text": plain(digest_title(summary))}]
    if summary.customers == 0:
        if summary.owner_id:  # their own digest: the team may well have customers, owned by others
            blocks.append(
                section(
                    "You don't own any customers yet. `/partner digest team` shows the whole team's week; add one "
                    "with `/partner add Acme #acme @owner`."
                )
            )
        else:
            blocks.append(section("No customers yet. Add one with `/partner add Acme #acme @owner`."))
        return blocks

    def part(title: str, lines: Sequence[str], empty: str) -> None:
        if not lines:
            blocks.append(section(f"*{title}*\n_{empty}_"))
            return
        # Within a section's 3,000 characters, never cut: a cut would take "…and 392 more" with it.
        shown = listed
        while len(text := f"*{title}*\n{_listed(lines, shown)}") > MAX_TEXT and shown > 1:
            shown -= 1
        blocks.append(section(text))

    part(
        f":rotating_light: At risk ({len(summary.at_risk)})",
        [_facts_line(f) for f in summary.at_risk],
        "Nobody is at risk. :tada:",
    )
    part(
        f":arrows_counterclockwise: Moved tier ({len(summary.tier_moves)})",
        [_tier_move_line(m) for m in summary.tier_moves],
        "No tier changes this week.",
    )
    if summary.their_views:  # only where the customer's own people answered this week (Slack Connect channels)
        part(
            f":speech_balloon: In their own words ({len(summary.their_views)})",
            [_their_view_line(v) for v in summary.their_views],
            "",
        )
    part(
        f":hourglass: Overdue ({len(summary.overdue)})",
        [_facts_line(f) for f in summary.overdue],
        "Every customer was heard from in time.",
    )
    part(
        f":construction: Boundaries escalated ({len(summary.escalated)})",
        [f"*{mrkdwn_name(e.customer)}*: “{truncate(e.boundary, 120)}”" for e in summary.escalated],
        "No boundary needed escalating.",
    )
    part(
        ":fire: Best streaks",
        [
            f"*{mrkdwn_name(s.customer)}*: {s.weeks} week{'s' if s.weeks != 1 else ''} in a row with a check-in"
            for s in summary.streaks
        ],
        "No streaks yet — a check-in a week starts one.",
    )
    if summary.owner_id is None:  # the team's own self-check belongs to the team's digest
        practices = summary.team_practices
        blocks.append(
            section(
                ":handshake: *Our partnership practices*\n"
                + (
                    f"Last team self-check: {rating_result_text(practices)}"
                    if practices is not None
                    else "_No team self-check yet: `/partner survey team practices`._"
                )
            )
        )
    if summary.chart is not None:
        blocks.append(context(f":chart_with_upwards_trend: {_chart_line(summary.chart)}"))
    blocks.append(context("Your own digest any time: `/partner digest mine`."))
    return blocks
