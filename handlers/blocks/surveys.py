"""Survey modals, rendered from the definitions in domain/surveys.py, and the messages around them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from domain.surveys import LEVEL_NAMES, LEVELS, SURVEYS, Question, Survey
from handlers.blocks import button, command_name, context, is_row_id, mrkdwn_name, plain, section, truncate
from handlers.blocks.nudges import slack_date
from handlers.ids import (
    CARD_ASK,
    CUSTOMER_VIEW_MODAL,
    HOME_SURVEY,
    OPEN_CUSTOMER_VIEW,
    OPEN_SURVEY,
    SURVEY_ANSWER,
    SURVEY_MODAL,
)
from storage.models import Customer, SurveyResponse

MAX_MODAL_BLOCKS = 100
MAX_LABEL = 2000
MAX_HEADER = 150

# The surveys the account team opens by name; the customer's own view is only reached from its button.
TEAM_SURVEYS: tuple[str, ...] = ("scorecard", "level", "practices", "profile")
SURVEY_NAMES: dict[str, str] = {
    "scorecard": "Ideal-customer scorecard",
    "level": "Relationship level",
    "practices": "Partnership practices",
    "profile": "Ideal-customer profile",
    "customer_view": "How they see us",
}
assert set(LEVEL_NAMES) == set(LEVELS)


def survey_button(customer_id: int | None, survey: str, *, text: str | None = None) -> dict[str, Any]:
    """A button that opens `survey` about the customer (None: the team's practices self-check)."""
    if survey not in TEAM_SURVEYS:
        raise ValueError(f"no button for survey {survey!r}")
    subject = "team" if customer_id is None else str(customer_id)
    return button(text or SURVEY_NAMES[survey], OPEN_SURVEY, f"{survey}:{subject}")


def parse_survey_button(value: str) -> tuple[str, int | None] | None:
    """(survey, customer id or None for the team) from a survey button's value; None when malformed."""
    survey, _, subject = value.partition(":")
    if survey not in TEAM_SURVEYS:
        return None
    if subject == "team":
        return (survey, None) if survey == "practices" else None
    return (survey, int(subject)) if is_row_id(subject) else None


ASK = "ask"  # a Home row's menu item: ask the customer's people (not a survey of ours: their own view)
SURVEY_MENU_TEXT: dict[str, str] = {
    "scorecard": "Scorecard",
    "level": "Rate our level",
    "practices": "Practices self-check",
    "profile": "Edit profile",
    ASK: "Ask them how they see us",
}


def may_ask(customer: Customer) -> bool:
    """Whether the card offers "Ask them": only where the customer's own people read the channel (Slack Connect, or
    guests of the workspace among its members, as Partner last heard from Slack) and it is usable; the click still
    asks Slack, as `/partner ask` does."""
    return (
        customer.archived_at is None
        and bool(customer.channel_id)
        and customer.channel_shared
        and not customer.channel_error
    )


def ask_button(customer: Customer) -> dict[str, Any]:
    return button("Ask them", CARD_ASK, str(customer.id))


def survey_menu(customer: Customer) -> dict[str, Any]:
    """A Home row's overflow menu: each survey about the customer, and "ask them" where the channel is shared."""
    keys = [*TEAM_SURVEYS, *([ASK] if may_ask(customer) else [])]
    return {
        "type": "overflow",
        "action_id": HOME_SURVEY,
        "options": [{"text": plain(SURVEY_MENU_TEXT[k], 75), "value": f"{k}:{customer.id}"} for k in keys],
    }


def parse_survey_menu(value: str) -> tuple[str, int] | None:
    """(survey or ASK, customer id) from a Home row menu option; None when malformed."""
    key, _, subject = value.partition(":")
    if key == ASK:
        return (ASK, int(subject)) if is_row_id(subject) else None
    parsed = parse_survey_button(value)
    if parsed is None or parsed[1] is None:
        return None
    return parsed[0], parsed[1]


def survey_picker(customer: Customer) -> dict[str, Any]:
    """The reply to `/partner survey <customer>` without a survey name: one button per survey."""
    text = f"Which survey about *{mrkdwn_name(customer.name)}*?"
    # One button per section: Slack wants the action_ids inside one actions block to differ, and all four open_survey.
    rows = [section(f"*{SURVEY_NAMES[s]}*", accessory=survey_button(customer.id, s, text="Open")) for s in TEAM_SURVEYS]
    return {"text": text, "blocks": [section(text), *rows]}


# --- The modal -------------------------------------------------------------------------------------------


def _option(value: str, label: str) -> dict[str, Any]:
    return {"text": plain(label, 75), "value": value}


def _element(question: Question, initial: Any) -> dict[str, Any]:
    initial_text = None if initial is None else str(initial)
    if question.kind == "text":
        element: dict[str, Any] = {
            "type": "plain_text_input",
            "action_id": SURVEY_ANSWER,
            "multiline": question.multiline,
            "max_length": question.max_length,
        }
        if initial_text:
            element["initial_value"] = truncate(initial_text, question.max_length or 3000)
        return element
    options = [_option(o.value, o.label) for o in question.options]
    if question.kind == "rating":
        # A select keeps fourteen ratings on a short screen; radio buttons would need five lines each.
        element = {
            "type": "static_select",
            "action_id": SURVEY_ANSWER,
            "placeholder": plain("Pick 1–5", 150),
            "options": options,
        }
    else:
        element = {"type": "radio_buttons", "action_id": SURVEY_ANSWER, "options": options}
    chosen = next((o for o in options if o["value"] == initial_text), None)
    if chosen is not None:
        element["initial_option"] = chosen
    return element


def _input(question: Question, initial: Any) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "input",
        "block_id": question.key,
        "label": plain(question.label, MAX_LABEL),
        "optional": not question.required,
        "element": _element(question, initial),
    }
    if question.hint:
        block["hint"] = plain(question.hint, MAX_LABEL)
    return block


def survey_modal(
    survey_key: str,
    *,
    customer: Customer | None,
    prefill: Mapping[str, Any] | None = None,
    channel_id: str | None = None,
    from_draft: bool = False,
    card_view_id: str | None = None,
    respondent: str | None = None,
) -> dict[str, Any]:
    """One screen per survey. Closing it notifies the app so the answers so far are kept as a draft.
    `card_view_id`: the Home card modal it was pushed on, redrawn with the new answers once it is saved.
    `respondent`: the customer's person it was opened for, once Slack said they are of another organisation."""
    survey: Survey = SURVEYS[survey_key]
    prefill = prefill or {}
    external = survey.audience == "customer"
    blocks: list[dict[str, Any]] = [section(survey.intro)]
    if not external:
        about = f"About *{mrkdwn_name(customer.name)}*" if customer is not None else "About *our team* as a whole"
        if from_draft:
            about += " · your unsent answers are filled in"
        blocks.append(context(about))
    titled = len(survey.sections) > 1
    for part in survey.sections:
        if titled:
            blocks.append({"type": "header", "text": plain(part.title, MAX_HEADER)})
        blocks.extend(_input(q, prefill.get(q.key)) for q in part.all_questions())
    if len(blocks) > MAX_MODAL_BLOCKS:
        raise ValueError(f"{survey_key}: {len(blocks)} blocks is more than a modal holds")
    metadata = {"survey": survey_key, "customer_id": customer.id if customer is not None else None}
    if channel_id:
        metadata["channel_id"] = channel_id
    if card_view_id:
        metadata["card_view_id"] = card_view_id
    if respondent:
        metadata["for"] = respondent
    return {
        "type": "modal",
        "callback_id": CUSTOMER_VIEW_MODAL if external else SURVEY_MODAL,
        "title": plain(survey.title, 24),
        "submit": plain("Send" if external else "Save answers", 24),
        "close": plain("Later", 24),
        "notify_on_close": True,
        "private_metadata": json.dumps(metadata),
        "blocks": blocks,
    }


def modal_metadata(view: Mapping[str, Any]) -> dict[str, Any]:
    """What survey_modal put in private_metadata; {} when it is missing or not ours."""
    try:
        data = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def answers_from_state(survey: Survey, values: Mapping[str, Any]) -> dict[str, str | None]:
    """The raw answer of each question from a view's state.values (None when left empty)."""
    answers: dict[str, str | None] = {}
    for q in survey.questions():
        element = (values.get(q.key) or {}).get(SURVEY_ANSWER) or {}
        if "selected_option" in element or element.get("type") in ("static_select", "radio_buttons"):
            answers[q.key] = (element.get("selected_option") or {}).get("value")
        else:
            answers[q.key] = element.get("value")
    return answers


# --- Messages --------------------------------------------------------------------------------------------


def profile_blocks(response: SurveyResponse | None, *, customer_id: int | None = None) -> list[dict[str, Any]]:
    """The latest ideal-customer profile for the customer card; with `customer_id`, an Edit button."""
    survey = SURVEYS["profile"]
    accessory = (
        {"accessory": survey_button(customer_id, "profile", text="Edit profile")} if customer_id is not None else {}
    )
    if response is None:
        return [section("*Ideal-customer profile*\nNot filled in yet.", **accessory)]
    lines = [
        f"*{q.label}*\n{truncate(str(response.answers[q.key]), 500)}"
        for q in survey.questions()
        if response.answers.get(q.key) not in (None, "")
    ]
    body = "\n".join(lines) if lines else "No answers yet."
    return [
        section(truncate(f"*Ideal-customer profile*\n{body}", 3000), **accessory),
        # Slack shows the day in each reader's own zone: the UTC day is yesterday in Auckland every morning.
        context(
            f"Last updated by <@{response.respondent_id}> on {slack_date(response.created_at, '{date_short_pretty}')}"
        ),
    ]


def rating_result_text(response: SurveyResponse) -> str:
    """The latest rated survey as the card shows it: "3.5/5 on average; lowest “They pay fairly and on time.” (2/5)
    — <@U1>, <date>", so the answers are read where the customer is, not only in the export."""
    survey = SURVEYS[response.survey]
    rated = [
        (q.label, value)
        for q in survey.questions()
        if q.kind == "rating" and isinstance(value := response.answers.get(q.key), int) and not isinstance(value, bool)
    ]
    parts = [f"{response.score:.1f}/5 on average" if response.score is not None else "answered"]
    if rated and min(v for _, v in rated) < max(v for _, v in rated):
        label, lowest = min(rated, key=lambda answer: answer[1])  # the first of the lowest, in the survey's order
        parts.append(f"lowest “{truncate(label, 200)}” ({lowest}/5)")
    when = slack_date(response.created_at, "{date_short_pretty}")
    return f"{'; '.join(parts)} — <@{response.respondent_id}>, {when}"


def survey_saved_text(survey_key: str, customer: Customer | None, score: float | None) -> str:
    about = f" about *{mrkdwn_name(customer.name)}*" if customer is not None else " about the team"
    scored = f" (average {score:.1f}/5)" if score is not None else ""
    return f":white_check_mark: Saved your {SURVEY_NAMES[survey_key].lower()}{about}{scored}."


def tier_now_text(old: str | None, new: str) -> str:
    """Said to whoever answered the level survey when it moved the tier (the owner gets no DM about their own
    move: this is where they see it)."""
    was = f" (was *{LEVEL_NAMES.get(old, old)}*)" if old else ""
    return f" Its tier is now *{LEVEL_NAMES.get(new, new)}*{was}; the digest lists the move."


def tier_corrected_text(customer: Customer, old: str | None, new: str, by: str, *, back: bool) -> str:
    """The owner's DM when whoever moved the tier moves it again soon after: a correction of their own answer (a
    misclick on the level survey), not a second move — no "moved down … Worth a look" for putting a mistake right.
    `back`: the tier is again what it was before their first answer."""
    again = " — back where it was" if back else ""
    was = f", not *{LEVEL_NAMES.get(old, old)}*" if old else ""
    return (
        f":pencil2: <@{by}> corrected the level they gave *{mrkdwn_name(customer.name)}*: "
        f"*{LEVEL_NAMES.get(new, new)}*{was}{again}."
    )


def tier_change_text(customer: Customer, old: str | None, new: str, by: str) -> str:
    """The owner's DM: which way someone moved their customer's tier (a move down is worth a look)."""
    if old in LEVELS and new in LEVELS and LEVELS.index(new) < LEVELS.index(old):  # type: ignore[arg-type]
        return (
            f":small_red_triangle_down: <@{by}> moved *{mrkdwn_name(customer.name)}* down from *{LEVEL_NAMES[old]}* to "
            f"*{LEVEL_NAMES[new]}*. Worth a look: `/partner status {command_name(customer.name)}`."
        )
    if old in LEVELS and new in LEVELS:
        return (
            f":arrow_up_small: <@{by}> moved *{mrkdwn_name(customer.name)}* up from "
            f"*{LEVEL_NAMES[old]}* to *{LEVEL_NAMES[new]}*."
        )
    was = f" from *{LEVEL_NAMES.get(old, old)}*" if old else ""
    return (
        f":arrows_counterclockwise: <@{by}> moved *{mrkdwn_name(customer.name)}*{was} to *{LEVEL_NAMES.get(new, new)}*."
    )


def ask_message(customer: Customer, asker_id: str) -> dict[str, Any]:
    """The friendly post in a channel shared with the customer, inviting their people to answer 3 questions: whom it
    is for and who asks, as its notification (the text alone) reads in their Slack."""
    text = (
        f":wave: Hi *{mrkdwn_name(customer.name)}* team! <@{asker_id}> would love to hear how working with us feels "
        "from your side — three quick questions, under a minute. Your honest answer helps us do better for you."
    )
    return {
        "text": text,
        "blocks": [
            section(text),
            {
                "type": "actions",
                "block_id": "ask",
                "elements": [button("Share your view", OPEN_CUSTOMER_VIEW, str(customer.id), style="primary")],
            },
        ],
    }


def asked_text(customer: Customer, channel_id: str) -> str:
    return f":speech_balloon: Asked *{mrkdwn_name(customer.name)}*'s people for their view in <#{channel_id}>."


def unconfirmed_ask_text(customer: Customer, channel_id: str) -> str:
    """A redelivered `/partner ask` whose first delivery got no answer from Slack: the invitation may be there."""
    return (
        f":warning: Slack didn't confirm my invitation to *{mrkdwn_name(customer.name)}*'s people in "
        f"<#{channel_id}>. Look there: "
        f"if it isn't there, run `/partner ask {command_name(customer.name)}` again."
    )


def still_asking_text(customer: Customer, channel_id: str) -> str:
    """A redelivered `/partner ask` whose first delivery is still waiting on Slack to post the invitation."""
    return (
        f":hourglass_flowing_sand: I'm still asking *{mrkdwn_name(customer.name)}*'s people in "
        f"<#{channel_id}>: Slack is slow to "
        f"take the invitation. If it isn't there in a minute, run `/partner ask {command_name(customer.name)}` again."
    )
