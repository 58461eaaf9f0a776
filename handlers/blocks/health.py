"""Health score and "our view vs their view": for `/partner status` and, later, the customer card."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from domain.health import MISSING_CHAR, SCORECARD_STALE_AFTER, Health
from domain.surveys import level_gap
from handlers.blocks import command_name, context, mood_emoji, mrkdwn_name, plain, section, truncate
from handlers.blocks.nudges import slack_date
from handlers.blocks.surveys import LEVEL_NAMES
from storage.models import Customer, CustomerEvent, SurveyResponse

BAND_EMOJI = {
    "green": ":large_green_circle:",
    "yellow": ":large_yellow_circle:",
    "red": ":red_circle:",
    "unknown": ":white_circle:",
}


# A rating named in a health reason ("mood 4/5 at the last check-in", "latest 2/5"), as domain.health words it.
_RATING_IN_REASON = re.compile(r"\b(mood|latest) ([1-5])/5\b", re.IGNORECASE)


_NUMBERS = re.compile(r"\d+")


def reason_text(reason: str) -> str:
    """A health reason as Slack shows it: a rating with its colour emoji beside it (":large_green_circle: 4/5"), as
    the card and Home show a check-in's mood."""
    return _RATING_IN_REASON.sub(lambda m: f"{m[1]} {mood_emoji(m[2])} {m[2]}/5", reason)


def score_text(score: int | None, band: str | None) -> str:
    """ ":large_green_circle: 82 (green)", or a plain "not scored yet"."""
    if score is None:
        return f"{BAND_EMOJI['unknown']} not scored yet"
    return f"{BAND_EMOJI.get(band or 'unknown', BAND_EMOJI['unknown'])} {score} ({band})"


def their_level(responses: Sequence[SurveyResponse]) -> str | None:
    """The customer's latest answer to "how do you see us?" (responses newest first)."""
    for response in responses:
        level = response.answers.get("level")
        if level in LEVEL_NAMES:
            return str(level)
    return None


def _their_answers(responses: Sequence[SurveyResponse], theirs: str) -> str:
    """When their view was given and, when several of their people answered, whether they agree: "Nov 25, 2026;
    latest of 3 people — 1 says Supplier" (each person's latest answer counts once)."""
    latest = next(r for r in responses if r.answers.get("level") == theirs)
    at = latest.created_at if latest.created_at.tzinfo else latest.created_at.replace(tzinfo=UTC)
    said = slack_date(at, "{date_short}")
    by_person: dict[str, str] = {}
    for response in responses:  # newest first: each person's latest answer
        level = response.answers.get("level")
        if level in LEVEL_NAMES:
            by_person.setdefault(response.respondent_id, str(level))
    if len(by_person) < 2:
        return said
    said += f"; latest of {len(by_person)} people"
    others = Counter(level for level in by_person.values() if level != theirs)
    if others:
        said += " — " + ", ".join(f"{n} say{'s' if n == 1 else ''} {LEVEL_NAMES[lvl]}" for lvl, n in others.items())
    return said


def view_gap(ours: str | None, theirs: str | None) -> int | None:
    """level_gap when both sides have answered, else None."""
    if ours not in LEVEL_NAMES or theirs not in LEVEL_NAMES:
        return None
    return level_gap(ours, theirs)  # type: ignore[arg-type]


def their_view_note(
    ours: str | None, answers: dict[str, Any] | None, answered_at: datetime | None, now: datetime
) -> str | None:
    """The customer's own latest view in a few words, for a Home row beside ours (the card says it in full with
    views_text): "their view *Supplier*, lower than ours", "… (7 months old, counts half)". None: never asked, or an
    answer with no level."""
    theirs = (answers or {}).get("level")
    if theirs not in LEVEL_NAMES:
        return None
    note = f"their view *{LEVEL_NAMES[theirs]}*"
    gap = view_gap(ours, theirs)
    if gap:
        note += ", lower than ours" if gap > 0 else ", higher than ours"
    # Only where the score reads their view (lower than ours, or ours not rated): the same as ours or higher, the
    # score counts ours in full, as the card says, and their old answer counts for nothing, not half.
    if answered_at is not None and (ours not in LEVEL_NAMES or (gap or 0) > 0):
        age = now - (answered_at if answered_at.tzinfo else answered_at.replace(tzinfo=UTC))
        if age > SCORECARD_STALE_AFTER:  # as the health score reads it
            note += f" ({age.days // 30} months old, counts half)"
    return note


def views_text(
    ours: str | None,
    theirs_responses: Sequence[SurveyResponse],
    name: str = "<customer>",
    *,
    now: datetime | None = None,
) -> str:
    """Our view vs their view on one line, flagging a gap of a level or more; `name` fills the commands it hints.
    Their answer older than the health score's SCORECARD_STALE_AFTER (at `now`) counts half there: said so."""
    theirs = their_level(theirs_responses)
    stale = ""
    if theirs is not None and now is not None:
        said = next(r for r in theirs_responses if r.answers.get("level") == theirs).created_at
        age = now - (said if said.tzinfo else said.replace(tzinfo=UTC))
        if age > SCORECARD_STALE_AFTER:
            stale = f" Their answer is {age.days // 30} months old, so it counts half in the health score."
    our_text = LEVEL_NAMES.get(ours or "", f"not rated yet — `/partner survey {command_name(name)} level`")
    their_text = LEVEL_NAMES.get(theirs or "", f"not asked yet — `/partner ask {command_name(name)}`")
    if theirs is not None:
        their_text += f" ({_their_answers(theirs_responses, theirs)})"
    line = f"*Our view:* {our_text}   ·   *Their view:* {their_text}"
    gap = view_gap(ours, theirs)
    if gap:
        # The health score reads the lower of the two views (domain.health): say so where the two are told apart.
        lower = LEVEL_NAMES[str(theirs if gap > 0 else ours)]
        counts = f" Counts in the health score as *{lower}*, the lower of the two."
        if gap > 0:
            line += f"\n:warning: We rate the relationship {gap} level{'s' if gap > 1 else ''} higher than they do."
        else:
            line += f"\n:bulb: They rate us {-gap} level{'s' if gap < -1 else ''} higher than we do."
        line += (stale or counts) if gap > 0 else counts  # theirs lower and old: it no longer counts in full
    elif theirs is not None and ours not in LEVEL_NAMES:
        line += (
            f"\n{stale.strip()}"
            if stale
            else f"\nCounts in the health score as *{LEVEL_NAMES[theirs]}* until we rate it ourselves."
        )
    return line


def views_blocks(
    customer: Customer,
    theirs_responses: Sequence[SurveyResponse],
    ours: SurveyResponse | None = None,
    *,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Our view vs their view as blocks, with what would move us up a level (our latest level answer) and what
    they asked us to start and keep doing."""
    blocks = [section(views_text(customer.tier, theirs_responses, customer.name, now=now))]
    said = []
    if ours is not None and ours.answers.get("move_up"):
        said.append(f"*To move up a level:* {truncate(str(ours.answers['move_up']), 400)}")
    latest = theirs_responses[0] if theirs_responses else None
    if latest is not None:
        said += [
            f"*{label}:* {truncate(str(latest.answers[key]), 400)}"
            for key, label in (("start_doing", "Start doing"), ("keep_doing", "Keep doing"))
            if latest.answers.get(key)
        ]
    if said:
        blocks.append(context("\n".join(said)))
    return blocks


def gap_alert_text(customer: Customer, ours: str, theirs: str) -> str:
    gap = level_gap(ours, theirs)
    direction = "higher" if gap > 0 else "lower"
    return (
        f":warning: *{mrkdwn_name(customer.name)}* sees us as *{LEVEL_NAMES[theirs]}*; we rate the relationship "
        f"*{LEVEL_NAMES[ours]}* — {abs(gap)} level{'s' if abs(gap) > 1 else ''} {direction}. "
        f"Worth a conversation: `/partner status {command_name(customer.name)}`."
    )


def drop_alert_text(
    customer: Customer,
    *,
    high: object,
    latest: object,
    reasons: Sequence[str],
    current: object = None,
    moved: Sequence[tuple[str, int]] = (),
    gap: str | None = None,
) -> str:
    """The owner's DM when the score fell sharply this week: what moved it (`moved`: reason, points lost), then what
    else weighs on it most. `current` is the score when the DM goes out: it waits for the owner's working morning,
    and the score may have moved since the fall. `gap`: the view-gap note (gap_alert_text) of the answer that made
    the fall, said in this DM rather than in one of its own, in place of its closing pointer."""
    # A reason that moved the score is not said again below with today's numbers: a fall found over the customer's
    # weekend goes out on their Monday morning, by when "4 business days ago" reads "5 business days ago".
    told = {_NUMBERS.sub("#", reason) for reason, _lost in moved}
    rest = [f"• {reason_text(r)}" for r in reasons if _NUMBERS.sub("#", r) not in told]
    why = "\n".join(rest)
    if moved:
        why = "*What moved it:*\n" + "\n".join(
            f"• {reason_text(r)} (−{lost} point{'' if lost == 1 else 's'})" for r, lost in moved
        )
        why += ("\n*Also weighing on it:*\n" + "\n".join(rest)) if rest else ""
    since = f" It is {current} now." if current is not None and current != latest else ""
    return (
        f":chart_with_downwards_trend: *{mrkdwn_name(customer.name)}*'s health fell from {high} to {latest} this "
        f"week.{since}"
        + (f"\n{why}" if why else "")
        + (f"\n{gap}" if gap else f"\nSee `/partner status {command_name(customer.name)}`.")
    )


def status_blocks(
    customer: Customer,
    health: Health,
    *,
    trend: str,
    theirs_responses: Sequence[SurveyResponse],
    ours: SurveyResponse | None = None,
    tier_moves: Sequence[CustomerEvent] = (),
    direction: str = "",
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """`/partner status <customer>`: score, 12-week trend (and `direction`, its words), the tier over time, the top
    two reasons, our view vs theirs."""
    reasons = health.top_reasons(2)
    # Nothing scored in 12 weeks: the words alone (a row of "no value" marks would read as a flat line).
    shown = f"`{trend}` {direction}".rstrip() if trend.strip(MISSING_CHAR) else direction or f"`{trend}`"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": plain(f"{customer.name} — relationship health")},
        section(f"*Health:* {score_text(health.score, health.band)}\n*Trend (12 weeks):* {shown}"),
    ]
    if tier_moves:
        blocks.append(section(truncate(tier_history_text(tier_moves), 3000)))
    if reasons:
        blocks.append(section("*What moves it most:*\n" + "\n".join(f"• {reason_text(r)}" for r in reasons)))
    elif health.score is None:
        # What starts it, exactly: "answer a survey" read as any, yet the practices self-check and the profile are
        # no part of the score (domain.health's components), and a customer with only those stayed "not scored".
        blocks.append(
            section(
                "Log a check-in, set a cadence, fill in the scorecard or rate our level and the score starts counting "
                "(the practices self-check and the profile don't count in it)."
            )
        )
    else:
        blocks.append(section("Nothing is pulling the score down. :tada:"))
    blocks.extend(views_blocks(customer, theirs_responses, ours, now=now))
    return blocks


TIER_MOVES_SHOWN = 6


def tier_history_text(moves: Sequence[CustomerEvent]) -> str:
    """The relationship tier over time, oldest first, each move with its day (in the reader's time zone):
    "*Tier over time:* no tier → Supplier of choice (Nov 3, 2026) → Partner (Nov 25, 2026)"."""
    shown = list(moves)[-TIER_MOVES_SHOWN:]
    old = shown[0].detail.get("old")
    steps = [LEVEL_NAMES.get(old, old) if old else "no tier"]
    steps = (["…"] if len(moves) > len(shown) else []) + steps
    for move in shown:
        new = str(move.detail.get("new") or "")
        steps.append(f"{LEVEL_NAMES.get(new, new or 'no tier')} ({slack_date(move.at, '{date_short}')})")
    return "*Tier over time:* " + " → ".join(steps)


def status_text(
    customer: Customer,
    health: Health,
    *,
    trend: str,
    theirs_responses: Sequence[SurveyResponse],
    direction: str = "",
    now: datetime | None = None,
) -> str:
    """The same as plain text, for notifications and screen readers."""
    reasons = "; ".join(health.top_reasons(2))
    return (
        f"{mrkdwn_name(customer.name)}: health {score_text(health.score, health.band)}, trend {trend}"
        + (f" ({direction})" if direction else "")
        + (f". {reasons}" if reasons else "")
        + f". {views_text(customer.tier, theirs_responses, customer.name, now=now)}"
    )
