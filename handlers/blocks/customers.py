"""Customers: the compact list, one customer's card, and the add/edit modals."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from domain import boundaries as rules
from domain.cadence import Standing, parse_cadence
from domain.calendar import WorkCalendar
from domain.health import mood_colour, mood_rating, mood_value
from handlers.blocks import (
    ago,
    button,
    command_name,
    context,
    local_time,
    mood_badge,
    mood_emoji,
    mood_label,
    mrkdwn_name,
    paused_text,
    plain,
    section,
    tier_text,
    truncate,
)
from handlers.blocks.boundaries import boundary_section_blocks
from handlers.blocks.health import views_text
from handlers.blocks.surveys import (
    SURVEY_NAMES,
    ask_button,
    may_ask,
    profile_blocks,
    rating_result_text,
    survey_button,
)
from handlers.ids import (
    ADD_CUSTOMER_MODAL,
    CARD_ARCHIVE,
    CARD_EDIT,
    CARD_RESTORE,
    CARD_SNOOZE,
    CUSTOMER_FIELD,
    EDIT_CUSTOMER_MODAL,
    LIST_OPEN_CARD,
    LIST_PAGE,
    LIST_PREV_PAGE,
    OPEN_CHECKIN,
)
from schedules import planner
from storage.boundaries import BoundaryRecord
from storage.models import CheckIn, Customer, SurveyResponse

BAND_EMOJI = {"green": ":large_green_circle:", "yellow": ":large_yellow_circle:", "red": ":red_circle:"}
NOTE_IN_CARD = 400
NOTE_IN_SUMMARY = 2800


# Beside an owner Slack said is deactivated: their nudges go to the team's channel (schedules.cadence.team_channel).
OWNER_GONE_NOTE = "deactivated in Slack"
# A call due today that nothing satisfied yet, on Home's row, the list and the card alike.
DUE_TODAY = ":telephone_receiver: call due today"


@dataclass(frozen=True)
class CustomerRow:
    """What the list and the card show about one customer, gathered by the handler."""

    customer: Customer
    tz: str  # the customer's effective time zone (its own or the default)
    last: CheckIn | None = None
    moods: Sequence[str] = ()  # recent moods, oldest first
    next_nudge: datetime | None = None
    recent: Sequence[CheckIn] = field(default_factory=tuple)  # newest first, for the card
    boundaries: Sequence[BoundaryRecord] | None = None  # the card's Boundaries section; None: not loaded (the list)
    owner_gone: bool = False  # Slack said its owner is deactivated (storage.cadence.OWNER_DEACTIVATED)
    # The card's our-view-vs-theirs line (the customer's own answers, newest first) and ideal-customer profile;
    # None: not loaded (the list).
    their_views: Sequence[SurveyResponse] | None = None
    profile: SurveyResponse | None = None
    # The card's latest scorecard and practices self-check about this customer (None: none yet, or the list).
    scorecard: SurveyResponse | None = None
    practices: SurveyResponse | None = None
    # Past the cadence's ideal window (yellow) or its maximum (red): None within it (or paused, off).
    standing: Standing | None = None
    # A call is due today that nothing satisfied yet (Home's ":telephone_receiver: call due today"); shown when within
    # the ideal window (the standing says more past it).
    due_today: bool = False
    # The channel counts as shared because guests of the workspace are among its members (the card says so).
    guests_read: bool = False


def day_label(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b}"


def health_text(customer: Customer) -> str:
    if customer.health_score is None and customer.health_band in (None, "unknown"):
        return "—"
    emoji = BAND_EMOJI.get(customer.health_band or "", "")
    score = "" if customer.health_score is None else str(customer.health_score)
    return f"{emoji} {score}".strip() or "—"


def mood_trend(moods: Sequence[str]) -> str:
    if not moods:
        return "no check-in yet"
    # Colours alone read as a row of dots; a rating beside its dot ("🟢 4/5") needs a space to stay legible.
    dots = (" " if any(mood_rating(m) is not None for m in moods) else "").join(mood_badge(m) for m in moods)
    if len(moods) < 2:
        return dots
    # On the 1–5 scale (green 5, yellow 3, red 1, a rating as typed), so 5 → 4 reads as a fall; unknown: 0.
    first, last = (mood_value(m) if mood_colour(m) else 0 for m in moods[-2:])
    return dots + (" ↗" if last > first else " ↘" if last < first else " →")


def windows_text(customer: Customer, today: date) -> str:
    """ " (ideal 5 days, max 8 days)": the customer's own windows, in business days while its calls are daily (a
    daily cadence or launch mode), as its *call due* / *overdue* line counts them."""
    try:
        daily = bool(customer.cadence) and parse_cadence(customer.cadence or "").kind == "daily"
    except ValueError:
        daily = False
    daily = daily or (customer.launch_until is not None and today <= customer.launch_until)
    unit = "business day" if daily else "day"

    def days(n: int | None) -> str:
        return "—" if n is None else f"{n} {unit}" + ("" if n == 1 else "s")

    return f" (ideal {days(customer.ideal_days)}, max {days(customer.max_days)})"


def calendar_text(customer: Customer, tz: str, now: datetime) -> str:
    """ "Asia/Jerusalem · holidays IL (next: Thu 24 Dec, …) · week sun-thu": the customer's working calendar, as
    every card says it (`/partner show` and the card opened from Home)."""
    calendar = tz
    if customer.country:
        calendar += f" · holidays {customer.country}{'-' + customer.subdiv if customer.subdiv else ''}"
        # Which holidays it skips, without reading a table: the next one that moves a call.
        with contextlib.suppress(ValueError):  # a stored calendar that no longer validates: the codes alone
            cal = WorkCalendar.create(tz, customer.country, customer.working_week, subdiv=customer.subdiv)
            if (holiday := cal.next_holiday(cal.local_date(now))) is not None:
                day, name = holiday
                calendar += f" (next: {day:%a} {day.day} {day:%b}, {name})"
    return calendar + f" · week {customer.working_week or 'mon-fri'}"


def cadence_windows_text(customer: Customer, tz: str, now: datetime) -> str:
    """The cadence in words with the customer's own windows where it has them ("weekly on Tue at 10:00 (ideal 5
    days, max 8 days)"), as every card says it; launch mode first while it is on, as the nudges say it (its daily
    calls are what the owner is nudged for, not the cadence it returns to)."""
    today = WorkCalendar(tz=tz).local_date(now)
    cadence = cadence_text(customer)
    if customer.ideal_days or customer.max_days:
        cadence += windows_text(customer, today)
    until = customer.launch_until
    if until is not None and today <= until:
        after = f"then {cadence}" if customer.cadence else "then no cadence"
        cadence = (
            f":rocket: launch mode: a daily call every business day until {until:%a} {until.day} {until:%b}, {after}"
        )
    return cadence


def cadence_text(customer: Customer) -> str:
    if not customer.cadence:
        return "no cadence"
    try:
        return parse_cadence(customer.cadence).describe()
    except ValueError:
        return customer.cadence


def standing_text(row: CustomerRow) -> str:
    """ ":red_circle: overdue — last call 11 days ago (ideal within 7 days, at most 10 days)", ":telephone_receiver:
    call due today" as Home's row says it within the ideal window, or nothing."""
    if row.standing is None:
        return DUE_TODAY if row.due_today else ""
    badge = ":red_circle: *overdue*" if row.standing.state == "red" else ":large_yellow_circle: *call due*"
    reason = row.standing.reason
    return f"{badge} — {reason[:1].lower()}{reason[1:]}"


def nudge_text(row: CustomerRow, now: datetime) -> str:
    customer = row.customer
    if customer.paused_at is not None:
        return paused_text(customer.paused_at, row.tz)
    text = local_time(row.next_nudge, row.tz) if row.next_nudge is not None else "—"
    return text + snooze_note(customer, now, row.tz)


def snooze_note(customer: Customer, now: datetime, tz: str) -> str:
    """ " (snoozed until Thu 3 Dec 11:00 EST)" beside the next nudge while a snooze holds (the list, the card, Home's
    row), or ""."""
    if customer.snoozed_until is None or customer.snoozed_until <= now:
        return ""
    return f" (snoozed until {local_time(customer.snoozed_until, tz)})"


def moved_note(row: CustomerRow, now: datetime) -> str:
    """On the card, why the next nudge is not on its cadence's day ("\n_moved from Mon 28 Dec, a public holiday there
    (Boxing Day (observed))_"), as the nudge itself will say; "" otherwise (and for a snoozed call coming back)."""
    customer = row.customer
    if row.next_nudge is None or customer.paused_at is not None or is_snoozed(customer, now):
        return ""
    cal = planner.calendar_of(customer, default_tz=row.tz)
    moved = planner.moved_text(customer, cal, cal.local_date(row.next_nudge))
    return f"\n_{moved}_" if moved else ""


def is_snoozed(customer: Customer, now: datetime) -> bool:
    return customer.snoozed_until is not None and customer.snoozed_until > now


# --------------------------------------------------------------------------- the list


NO_MATCH = "No customers match. Add one with `/partner add Acme #acme @owner`."


def list_message(
    *,
    rows: Sequence[CustomerRow],
    title: str,
    args: str,
    page: int,
    pages: int,
    total: int,
    now: datetime,
    empty: str = NO_MATCH,
    asked: int | None = None,
) -> dict[str, Any]:
    """One page of the compact list (text + blocks), well under Slack's 50 blocks per message. `asked` is the page
    asked for: past the last one, the last is shown and says so, rather than passing for the page asked."""
    count = f"{total} customer{'s' if total != 1 else ''}"
    blocks: list[dict[str, Any]] = [section(f"*{title}* — {count}")]
    beyond = ""
    if asked is not None and asked > pages and rows:
        beyond = (
            f"There is no page {asked}: the list fits on one page."
            if pages == 1
            else f"There is no page {asked}: the list has {pages} pages, and this is the last."
        )
        blocks.append(context(beyond))
    lines: list[str] = []
    for row in rows:
        customer = row.customer
        last = f"last check-in {ago(row.last.created_at, now)}" if row.last else "no check-in yet"
        owner = f"<@{customer.owner_id}>" if customer.owner_id else "no owner"
        if row.owner_gone:
            owner += f" ({OWNER_GONE_NOTE})"
        top = (
            f"*{mrkdwn_name(customer.name)}* · {owner} · tier {tier_text(customer.tier)} · health "
            f"{health_text(customer)}"
        )
        mood = f" · mood {mood_trend(row.moods)}" if row.moods else ""  # not "no check-in yet" twice
        nudge = nudge_text(row, now)
        if not customer.cadence and customer.paused_at is None and row.next_nudge is None:
            nudge += " (no cadence)"  # why no nudge will come
        bottom = f"{last}{mood} · next nudge {nudge}"
        if standing := standing_text(row):
            bottom += f"\n{standing}"
        if (flag := channel_flag(customer)) is not None:
            bottom += f"\n{flag}"
        lines.append(f"{mrkdwn_name(customer.name)}: {last}")
        blocks.append(section(f"{top}\n{bottom}", accessory=button("Open", LIST_OPEN_CARD, str(customer.id))))
    if not rows:
        blocks.append(section(empty))
    if pages > 1:
        blocks.append(context(f"Page {page} of {pages}"))
        buttons = []
        if page > 1:
            buttons.append(button("Previous", LIST_PREV_PAGE, json.dumps({"args": args, "page": page - 1})))
        if page < pages:
            buttons.append(button("Next", LIST_PAGE, json.dumps({"args": args, "page": page + 1})))
        blocks.append({"type": "actions", "block_id": "list_pages", "elements": buttons})
    text = f"{title} — {count} (page {page} of {pages})\n" + (f"{beyond}\n" if beyond else "") + "\n".join(lines)
    return {"text": truncate(text, 3000), "blocks": blocks}


# --------------------------------------------------------------------------- the card


def _checkin_line(checkin: CheckIn, now: datetime) -> str:
    kind = {"call": " call", "message": " from a message"}.get(checkin.kind, "")
    line = (
        f"{mood_emoji(checkin.mood) or checkin.mood} *{mood_label(checkin.mood)}{kind}* · "
        f"{ago(checkin.created_at, now)} · <@{checkin.author_id}>\n{truncate(checkin.note, NOTE_IN_CARD)}"
    )
    if checkin.next_step or checkin.next_due:
        due = f" · due {day_label(checkin.next_due)}" if checkin.next_due else ""
        line += f"\n_Next:_ {truncate(checkin.next_step or 'next step', 200)}{due}"
    if checkin.permalink:
        line += f" · <{checkin.permalink}|original message>"
    return line


# Why Slack refuses Partner's posts in a customer's channel, in words, with what fixes it.
CHANNEL_PROBLEMS = {
    "is_archived": "it is archived",
    "channel_not_found": "it was deleted, or is private without me",
    "not_in_channel": "I'm not a member (`/invite @Partner` there)",
    "restricted_action": "only some people may post there (an admin can let me)",
    "restricted_action_read_only_channel": "it is read-only (an admin can let me post)",
}


def channel_flag(customer: Customer) -> str | None:
    """The same, short, for a row of `/partner list` or Home."""
    if not (customer.channel_id and customer.channel_error):
        return None
    why = CHANNEL_PROBLEMS.get(customer.channel_error, f"Slack refuses my posts ({customer.channel_error})")
    return f":warning: can't post in <#{customer.channel_id}>: {why}"


def channel_problem(customer: Customer) -> str | None:
    """The customer's channel refusing Partner's posts, as the card (and Home's card) says it; None when it does not."""
    if not (customer.channel_id and customer.channel_error):
        return None
    why = CHANNEL_PROBLEMS.get(customer.channel_error, f"Slack refuses my posts ({customer.channel_error})")
    return f":warning: can't post there: {why}. Nudges go to the owner by DM meanwhile."


def customer_card(
    row: CustomerRow,
    *,
    now: datetime,
    boundary_policy: rules.Policy = rules.DEFAULT_POLICY,
    trend: str | None = None,
    direction: str | None = None,
) -> dict[str, Any]:
    """One customer: owner, channel, time zone, cadence, tier, health with its weekly `trend` (a sparkline, as
    Home shows it) and its `direction` in words, boundaries, last check-ins, buttons."""
    customer = row.customer
    archived = customer.archived_at is not None
    channel = f"<#{customer.channel_id}>" if customer.channel_id else "none"
    if (problem := channel_problem(customer)) is not None:
        channel += f"\n{problem}"
    elif customer.channel_id and customer.channel_shared and row.guests_read:  # guests of ours, perhaps theirs
        channel += "\nguests read this channel: no check-in summaries or nudges there"
    elif customer.channel_id and customer.channel_shared:  # the customer's people read it
        channel += "\nshared with the customer: no check-in summaries or nudges there"
    elif customer.channel_id and not customer.post_checkins:
        channel += "\ncheck-in summaries off"
    calendar = calendar_text(customer, row.tz, now)
    cadence = cadence_windows_text(customer, row.tz, now)
    fields = [
        (f"*Owner*\n<@{customer.owner_id}>" if customer.owner_id else "*Owner*\nnone")
        + (
            f"\n:warning: {OWNER_GONE_NOTE}: pick another, `/partner edit {command_name(customer.name)} @owner`"
            if row.owner_gone
            else ""
        ),
        f"*Channel*\n{channel}",
        f"*Time zone*\n{calendar}",
        (
            # No cadence, so no nudge will ever come: say how to set one rather than "next nudge —".
            f"*Cadence*\nnone yet: `/partner cadence {command_name(customer.name)} weekly tue 10:00` sets one"
            if not customer.cadence and customer.paused_at is None and row.next_nudge is None
            else f"*Cadence*\n{cadence}\nnext nudge {nudge_text(row, now)}{moved_note(row, now)}"
        )
        + (f"\n_{customer.snooze_reason}_" if is_snoozed(customer, now) and customer.snooze_reason else "")
        + (f"\n{standing}" if (standing := standing_text(row)) else ""),
        f"*Tier*\n{tier_text(customer.tier)}",
        f"*Health*\n{health_text(customer)}"
        + (f"  `{trend}`" if trend else "")
        + (f"\n{direction}" if direction else ""),
    ]
    title = customer.name + (" (archived)" if archived else "")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": plain(title)},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": truncate(f, 2000)} for f in fields]},
    ]
    if row.boundaries is not None and not archived:
        blocks.extend(boundary_section_blocks(customer, row.boundaries, now, boundary_policy, WorkCalendar(tz=row.tz)))
    if row.their_views is not None and not archived:
        blocks.extend(
            card_survey_blocks(
                customer, row.their_views, row.profile, scorecard=row.scorecard, practices=row.practices, now=now
            )
        )
    blocks.append(section("*Last check-ins*" if row.recent else "*No check-ins yet.*"))
    blocks.extend(section(_checkin_line(c, now)) for c in row.recent[:5])
    value = str(customer.id)
    if archived:
        actions = [button("Restore", CARD_RESTORE, value, style="primary")]
    else:
        archive = button("Archive", CARD_ARCHIVE, value, style="danger")
        archive["confirm"] = {
            "title": plain("Archive this customer?", 100),
            "text": plain(
                f"{customer.name} disappears from lists and check-ins; /partner restore brings it back.", 300
            ),
            "confirm": plain("Archive", 30),
            "deny": plain("Cancel", 30),
            "style": "danger",
        }
        actions = [
            button("Log check-in", OPEN_CHECKIN, value, style="primary"),
            button("Edit", CARD_EDIT, value),
            button("Snooze", CARD_SNOOZE, value),
            survey_button(customer.id, "scorecard", text="Scorecard"),  # level and profile: their sections' buttons
            *([ask_button(customer)] if may_ask(customer) else []),
            archive,
        ]
    blocks.append({"type": "actions", "block_id": "card_actions", "elements": actions})
    text = f"{mrkdwn_name(title)}: owner {fields[0].split(chr(10))[1]}, {cadence}, health {health_text(customer)}"
    return {"text": text, "blocks": blocks}


def card_survey_blocks(
    customer: Customer,
    their_views: Sequence[SurveyResponse],
    profile: SurveyResponse | None,
    *,
    scorecard: SurveyResponse | None = None,
    practices: SurveyResponse | None = None,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """The card's surveys: our view vs theirs (Rate our level), the latest scorecard, the ideal-customer profile
    (Edit profile) and the practices self-check (Self-check) with its latest result; the same on the
    `/partner show` card and the card opened from Home."""
    assert customer.id is not None
    rate = survey_button(customer.id, "level", text="Rate our level")
    # The team's self-check about this customer; a section's button, as one actions block takes one open_survey.
    self_check = survey_button(customer.id, "practices", text="Self-check")
    last_check = f"Last self-check: {rating_result_text(practices)}" if practices is not None else "Not done yet."
    scored = (
        [section(truncate(f"*{SURVEY_NAMES['scorecard']}*\n{rating_result_text(scorecard)}", 3000))]
        if scorecard is not None
        else []
    )
    return [
        section(truncate(views_text(customer.tier, their_views, customer.name, now=now), 3000), accessory=rate),
        *scored,
        *profile_blocks(profile, customer_id=customer.id),
        section(
            truncate(f"*{SURVEY_NAMES['practices']}*\nHow our team works with them, 1–5. {last_check}", 3000),
            accessory=self_check,
        ),
    ]


# --------------------------------------------------------------------------- add / edit modals


def _text_input(
    block_id: str,
    label: str,
    *,
    value: str | None = None,
    optional: bool = True,
    hint: str | None = None,
    placeholder: str | None = None,
    max_length: int | None = None,
) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "plain_text_input", "action_id": CUSTOMER_FIELD}
    if value:
        element["initial_value"] = value
    if placeholder:
        element["placeholder"] = plain(placeholder)
    if max_length:
        element["max_length"] = max_length
    block: dict[str, Any] = {
        "type": "input",
        "block_id": block_id,
        "optional": optional,
        "label": plain(label),
        "element": element,
    }
    if hint:
        block["hint"] = plain(hint, 2000)
    return block


def _days_input(block_id: str, label: str, value: int | None) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "number_input",
        "action_id": CUSTOMER_FIELD,
        "is_decimal_allowed": False,
        "min_value": "1",
        "max_value": "365",
    }
    if value is not None:
        element["initial_value"] = str(value)
    return {"type": "input", "block_id": block_id, "optional": True, "label": plain(label), "element": element}


def edit_form_shown(customer: Customer) -> dict[str, str]:
    """What the edit modal's inputs hold when it opens, as its submission reports untouched inputs. Kept in the
    modal's private_metadata: a submission changes only the inputs the user changed, so a rename (or any other
    change) someone else made while the form was open is not undone by the form's stale values."""
    country = (customer.country or "") + (f"-{customer.subdiv}" if customer.country and customer.subdiv else "")
    return {
        "name": customer.name,
        "owner": customer.owner_id or "",
        "channel": customer.channel_id or "",
        "tz": customer.tz or "",
        "country": country,
        "cadence": customer.cadence or "",
        "week": customer.working_week or "mon-fri",
        "summary": "on" if customer.post_checkins else "off",
        "ideal": str(customer.ideal_days) if customer.ideal_days is not None else "",
        "max": str(customer.max_days) if customer.max_days is not None else "",
    }


def customer_modal(
    *, customer: Customer | None = None, owner_id: str | None = None, channel_id: str | None = None
) -> dict[str, Any]:
    """The add modal (no customer) or the edit modal, one input per setting; block_id = the setting's key.
    `channel_id`: where it was opened, so the author is told there once it is saved."""
    editing = customer is not None
    owner_select: dict[str, Any] = {"type": "users_select", "action_id": CUSTOMER_FIELD}
    owner = customer.owner_id if customer is not None else owner_id
    if owner:
        owner_select["initial_user"] = owner
    channel_select: dict[str, Any] = {
        "type": "conversations_select",
        "action_id": CUSTOMER_FIELD,
        "placeholder": plain("The customer's channel"),
        "filter": {"include": ["public", "private"], "exclude_bot_users": True},
    }
    if customer is not None and customer.channel_id:
        channel_select["initial_conversation"] = customer.channel_id
    country = None
    if customer is not None and customer.country:
        country = customer.country + (f"-{customer.subdiv}" if customer.subdiv else "")
    blocks: list[dict[str, Any]] = [
        _text_input("name", "Name", value=customer.name if customer else None, optional=False, max_length=80),
        {"type": "input", "block_id": "owner", "label": plain("Owner"), "element": owner_select},
        {
            "type": "input",
            "block_id": "channel",
            "optional": True,
            "label": plain("Channel"),
            "element": channel_select,
            "hint": plain("Check-in summaries and nudges go here. Invite me to a private channel."),
        },
        _text_input(
            "tz",
            "Time zone",
            value=customer.tz if customer else None,
            placeholder="Europe/Berlin",
            hint="An IANA name (list: https://en.wikipedia.org/wiki/List_of_tz_database_time_zones). "
            "Empty: the owner's Slack time zone.",
        ),
        _text_input(
            "country",
            "Country for public holidays",
            value=country,
            placeholder="US, DE, or a region like US-CA",
            hint="Codes: https://holidays.readthedocs.io/en/latest/#available-countries",
        ),
        _text_input(
            "cadence",
            "Call cadence",
            value=customer.cadence if customer else None,
            placeholder="weekly tue 10:00",
            hint="daily, weekly <day>, biweekly <day>, monthly <1-28|first-mon>, every <N> days, or off; "
            "a time like 10:00 in the customer's time zone.",
        ),
    ]
    if customer is not None:
        summary_option = {"text": plain("Post a summary of each check-in in the channel"), "value": "on"}
        summary_box: dict[str, Any] = {"type": "checkboxes", "action_id": CUSTOMER_FIELD, "options": [summary_option]}
        if customer.post_checkins:
            summary_box["initial_options"] = [summary_option]
        blocks += [
            _text_input(
                "week",
                "Working week",
                value=customer.working_week or "mon-fri",
                placeholder="mon-fri",
                hint="Like mon-fri, sun-thu or mon,tue,thu.",
            ),
            {
                "type": "input",
                "block_id": "summary",
                "optional": True,
                "label": plain("Channel summaries"),
                "element": summary_box,
            },
            _days_input("ideal", "Ideal days between calls (empty: the cadence's)", customer.ideal_days),
            _days_input("max", "At most days between calls (empty: the cadence's)", customer.max_days),
        ]
    metadata: dict[str, Any] = (
        {"customer_id": customer.id, "shown": edit_form_shown(customer), "channel_id": channel_id}
        if customer is not None
        else {"channel_id": channel_id}
    )
    return {
        "type": "modal",
        "callback_id": EDIT_CUSTOMER_MODAL if editing else ADD_CUSTOMER_MODAL,
        "title": plain("Edit customer" if editing else "Add a customer", 24),
        "submit": plain("Save" if editing else "Add", 24),
        "close": plain("Cancel", 24),
        "private_metadata": json.dumps(metadata),
        "blocks": blocks,
    }
