"""`/partner survey <customer> [scorecard|level|practices|profile]` and `/partner survey team practices`."""

from __future__ import annotations

from domain.errors import UserError
from handlers.actions.surveys import open_survey_modal
from handlers.blocks.surveys import survey_picker
from handlers.commands.base import CommandCall, Reply
from handlers.commands.lookup import find_customer
from handlers.parsing import tokenize, unescape

USAGE = "/partner survey <customer> [scorecard|level|practices|profile]"
TEAM_USAGE = "/partner survey team practices"

# What people type → the survey's stored key.
SURVEY_WORDS = {
    "scorecard": "scorecard",
    "score": "scorecard",
    "level": "level",
    "tier": "level",
    "relationship": "level",
    "practices": "practices",
    "practice": "practices",
    "profile": "profile",
}


def survey_word(word: str) -> str:
    key = SURVEY_WORDS.get(word.lower())
    if key is None:
        raise UserError(f"'{word}' is not a survey: pick scorecard, level, practices or profile. Usage: `{USAGE}`")
    return key


def survey(call: CommandCall) -> Reply:
    words = [unescape(w) for w in tokenize(call.args, inner_quotes=True)]
    if not words:
        raise UserError(f"Which customer? Usage: `{USAGE}` (or `{TEAM_USAGE}`)")
    customers = call.store.customers(team_id=call.team_id)
    about_team = words[0].lower() == "team" and (
        len(words) == 1 or (len(words) == 2 and words[1].lower() in SURVEY_WORDS)
    )
    if about_team and not any(c.name_key == "team" for c in customers):
        if len(words) == 2 and survey_word(words[1]) != "practices":
            raise UserError(f"Only the practices self-check can be about the whole team: `{TEAM_USAGE}`")
        open_survey_modal(
            client=call.client,
            store=call.store,
            trigger_id=call.trigger_id,
            team_id=call.team_id,
            user_id=call.user_id,
            survey="practices",
            customer=None,
            channel_id=call.channel_id,
        )
        return None
    try:
        customer, rest = find_customer(call.store, team_id=call.team_id, words=words, usage=USAGE)
    except UserError:
        key = SURVEY_WORDS.get(words[0].lower())
        if key is None:
            raise
        team = f", or about the whole team: `{TEAM_USAGE}`" if key == "practices" else ""
        raise UserError(
            f"'{words[0]}' is a survey, not a customer: the customer comes first. Usage: `{USAGE}`{team}"
        ) from None
    if not rest:
        return survey_picker(customer)
    if len(rest) > 1:
        raise UserError(f"I didn't understand '{' '.join(rest[1:])}'. Usage: `{USAGE}`")
    open_survey_modal(
        client=call.client,
        store=call.store,
        trigger_id=call.trigger_id,
        team_id=call.team_id,
        user_id=call.user_id,
        survey=survey_word(rest[0]),
        customer=customer,
        channel_id=call.channel_id,
    )
    return None
