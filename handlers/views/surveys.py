"""Survey modals: submission (validated, stored once), follow-ups (health recomputed…), and drafts on close."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.clock import Clock
from bot.settings import Settings
from domain.errors import UserError
from domain.surveys import SURVEYS, Survey, summarize, validate_answers
from handlers.actions.home import home_card
from handlers.actions.surveys import SURVEY_CLOSED
from handlers.blocks import command_name, metadata_row_id
from handlers.blocks.health import gap_alert_text, their_level, view_gap
from handlers.blocks.surveys import (
    answers_from_state,
    modal_metadata,
    survey_saved_text,
    tier_change_text,
    tier_corrected_text,
    tier_now_text,
)
from handlers.followups import tell_user
from handlers.home_publisher import request_home_refresh
from handlers.identity import app_team_id, is_external
from handlers.ids import CUSTOMER_VIEW_MODAL
from handlers.parsing import escape
from schedules.health import HEALTH_DROP, refresh_health
from storage.models import Customer
from storage.store import Store

logger = logging.getLogger(__name__)

GAP_FLAGGED = "view_gap_flagged"  # customer event: the owner was told our view and theirs are this far apart
FOLLOW_UP = "survey_follow_up"  # context key: set by the delivery that stored the answer, read by the lazy listener


def _idempotency_key(view: dict[str, Any]) -> str:
    # A view is submitted once; a retried or replayed delivery carries the same view id.
    return f"view:{view['id']}"


def _survey_of(view: dict[str, Any]) -> tuple[Survey, int | None]:
    """The survey and customer id a modal is about; a modal that is not one of ours is refused."""
    meta = modal_metadata(view)
    survey = SURVEYS.get(str(meta.get("survey")))
    customer_only = view.get("callback_id") == CUSTOMER_VIEW_MODAL
    if survey is None or (survey.audience == "customer") != customer_only:
        raise UserError("This form is out of date; please open the survey again.")
    customer_id = meta.get("customer_id")
    if customer_id is not None and metadata_row_id(customer_id) is None:
        raise UserError("This form is out of date; please open the survey again.")
    if customer_id is None and survey.key != "practices":
        raise UserError("This form is out of date; please open the survey again.")
    return survey, customer_id


THANKS_VIEW = {
    "type": "modal",
    "title": {"type": "plain_text", "text": "Thank you!"},
    "close": {"type": "plain_text", "text": "Close"},
    "blocks": [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": ":pray: Thanks for telling us how you see us. We read every answer."},
        }
    ],
}


def submit_survey(
    ack: Ack,
    view: dict[str, Any],
    body: dict[str, Any],
    context: BoltContext,
    store: Store,
    clock: Clock,
    settings: Settings,
) -> None:
    survey, customer_id = _survey_of(view)
    raw = answers_from_state(survey, view.get("state", {}).get("values", {}))
    cleaned, errors = validate_answers(survey, raw)
    if errors:
        ack(response_action="errors", errors=errors)
        return
    # A plain_text input gives what was typed; answers are kept as Slack escapes typed text, so the card and
    # status restate a typed `<https://…|label>` or `<!channel>` (the customer's own people type here) as text.
    cleaned = {key: escape(value) if isinstance(value, str) else value for key, value in cleaned.items()}
    team_id = app_team_id(context, body)
    customer: Customer | None = None
    if customer_id is not None:
        customer = store.customer(team_id=team_id, customer_id=customer_id)
        if survey.audience == "customer" and customer is None:
            raise UserError(SURVEY_CLOSED, field=survey.questions()[0].key)  # their people: nothing of ours
        if customer is None:
            raise UserError("That customer no longer exists.", field=survey.questions()[0].key)
        if customer.archived_at is not None and survey.audience != "customer":
            # The form stays open with the answers: restore, then submit again.
            raise UserError(
                f"{customer.name} was archived meanwhile. Restore it (/partner restore {command_name(customer.name)}), "
                "then submit again: your answers stay here.",
                field=survey.questions()[0].key,
            )
    # The customer's-own-view form is opened only for someone Slack said is of another organisation: that stays
    # true when it is sent, even if Slack cannot say so again now (users.info busy, another replica's cache).
    opened_for = modal_metadata(view).get("for") if survey.audience == "customer" else None
    external = is_external(context, body) or (opened_for is not None and opened_for == body["user"]["id"])
    # Archived while their person had the form open (a customer leaving us, often): what they took the time to say
    # is kept with the customer's history (export, and the card once restored) and thanked; nothing else follows.
    archived = customer is not None and customer.archived_at is not None
    if archived and not external:
        raise UserError(SURVEY_CLOSED, field=survey.questions()[0].key)
    now = clock()
    recorded = store.record_survey_response(
        team_id=team_id,
        survey=survey.key,
        customer_id=customer_id,
        respondent_id=body["user"]["id"],
        answers=cleaned,
        score=summarize(survey, cleaned),
        now=now,
        idempotency_key=_idempotency_key(view),
        external=external,
        set_tier=str(cleaned["level"]) if survey.key == "level" else None,
    )
    if recorded.created and not archived:
        # Only the delivery that stored the answer follows it up, so a retry sends no second DM. The health score it
        # moves is recomputed there too, after the answer: scoring took 3–7 s under load, past Slack's 3 s, while the
        # answer was already stored. The customer's own person has no Home of Partner's: only the team's is ours.
        rescored = customer is not None and customer.id is not None
        context[FOLLOW_UP] = {
            "response_id": recorded.response.id,
            "tier_change": list(recorded.tier_change) if recorded.tier_change else None,
            "rescore_at": now.isoformat() if rescored else None,
            "homes": [customer.owner_id, None if external else body["user"]["id"]] if customer is not None else [],
        }
    if survey.audience == "customer":
        ack(response_action="update", view=THANKS_VIEW)
    else:
        ack()


def follow_up_survey(
    view: dict[str, Any],
    body: dict[str, Any],
    context: BoltContext,
    client: WebClient,
    store: Store,
    clock: Clock,
    settings: Settings,
) -> None:
    """After the modal closed: rescore the customer's health, confirm, announce a tier change, flag a gap between
    our view and theirs.

    A sharp drop in health is owed to the owner by the recompute, first (the outbox sends it, in working hours): a
    gap this answer opened is said in that DM, not in a second one (one answer, one DM).
    """
    follow_up = context.get(FOLLOW_UP)
    if not follow_up:
        return
    survey, customer_id = _survey_of(view)
    team_id = app_team_id(context, body)
    if follow_up.get("rescore_at") and customer_id is not None:
        at = datetime.fromisoformat(follow_up["rescore_at"])  # when the answer was stored: its score's time
        refresh_health(store, team_id=team_id, customer_id=customer_id, now=at, settings=settings)
    if follow_up.get("homes"):
        request_home_refresh(context, team_id, follow_up["homes"])  # after the score, which the Homes show
    response = store.survey_response_by_key(team_id=team_id, idempotency_key=_idempotency_key(view))
    if response is None:
        return
    customer = store.customer(team_id=team_id, customer_id=customer_id) if customer_id is not None else None
    user_id = body["user"]["id"]
    channel_id = modal_metadata(view).get("channel_id")
    saved = survey_saved_text(survey.key, customer, response.score)
    if follow_up.get("tier_change"):
        saved += tier_now_text(*follow_up["tier_change"])
    card_view_id = modal_metadata(view).get("card_view_id")
    redrawn = (
        customer is not None
        and isinstance(card_view_id, str)
        and _redraw_home_card(client, store, settings, card_view_id, customer, clock(), saved)
    )
    if survey.audience == "team" and not redrawn:
        # Where the survey was opened, else (a channel Partner isn't in, a form with no channel) by DM, as a
        # check-in's form confirms: the author always hears it was saved (on the card it came back to, from Home).
        tell_user(client, user_id=user_id, channel_id=channel_id, text=saved)
    if customer is None or not customer.owner_id:
        return
    if follow_up.get("tier_change") and user_id != customer.owner_id:  # the owner who moved it knows
        old, new = follow_up["tier_change"]
        corrected = _corrects_own_move(store, customer, response_id=response.id, by=user_id)
        text = (
            tier_change_text(customer, old, new, user_id)
            if corrected is None
            else tier_corrected_text(customer, old, new, user_id, back=corrected)
        )
        _say(client, customer.owner_id, text)
    if survey.key in ("level", "customer_view"):
        theirs = their_level(
            store.survey_responses(
                team_id=team_id, survey="customer_view", customer_id=customer.id, external=True, limit=1
            )
        )
        gap = view_gap(customer.tier, theirs)
        if gap:  # a level or more apart, either way
            assert customer.tier is not None and customer.id is not None and theirs is not None
            dedupe = _gap_news(store, team_id=team_id, customer=customer, theirs=theirs)
            if dedupe is not None and store.record_customer_event_once(
                team_id=team_id,
                customer_id=customer.id,
                kind=GAP_FLAGGED,
                detail={"ours": customer.tier, "theirs": theirs, "response_id": response.id},
                now=response.created_at,
                dedupe=dedupe,
                actor_id=user_id,
            ):
                # The answer that opened the gap may have made the score fall too: that DM, still waiting, says both.
                note = {"gap": {"ours": customer.tier, "theirs": theirs}}
                if store.add_to_pending_nudge(team_id=team_id, kind=HEALTH_DROP, customer_id=customer.id, note=note):
                    return
                _say(client, customer.owner_id, gap_alert_text(customer, customer.tier, theirs))


def _gap_news(store: Store, *, team_id: str, customer: Customer, theirs: str) -> str | None:
    """The key flagging this gap once, or None when the owner was told of it and neither view has moved since.

    Each of their people answering alike, or our level submitted again unchanged, is the same gap, not news; but a
    gap that closed (or changed) and came back months later is: it is flagged again, keyed by the flag it follows.
    So every answer that reopens it claims the same key, however many arrive at once (two of their people submitting
    together): the unique event row lets one of them tell the owner. Once that flag is in, a later or retried answer
    finds it the last flag, with neither view moved since.
    """
    assert customer.id is not None
    pair = f"{customer.tier}:{theirs}"
    flags = store.customer_events_of_kind(team_id=team_id, customer_id=customer.id, kind=GAP_FLAGGED)
    if not flags:
        return pair
    last = flags[-1]
    if (last.detail.get("ours"), last.detail.get("theirs")) != (customer.tier, theirs):
        return f"{pair}:after:{last.id}"
    tier_changed = store.customer_events_of_kind(team_id=team_id, customer_id=customer.id, kind="tier_changed")
    if any(event.id is not None and last.id is not None and event.id > last.id for event in tier_changed):
        return f"{pair}:after:{last.id}"  # our view moved away and back since the owner was told
    # Flags recorded before they kept their answer's id: answers after the flag's time.
    flagged_by = last.detail.get("response_id")
    answers = store.survey_responses(team_id=team_id, survey="customer_view", customer_id=customer.id, external=True)
    since = [
        r
        for r in answers
        if (r.id is not None and r.id > flagged_by if flagged_by is not None else r.created_at > last.at)
    ]
    if any(their_level([r]) not in (None, theirs) for r in since):
        return f"{pair}:after:{last.id}"  # their view moved away and back since
    return None


def _redraw_home_card(
    client: WebClient, store: Store, settings: Settings, view_id: str, customer: Customer, now: datetime, notice: str
) -> bool:
    """The survey was pushed on the customer's Home card: closing it goes back to that card, so the card shows the
    new health, tier and profile, and says it was saved. False when Slack refused (the card was closed meanwhile)."""
    card = home_card(store, settings, team_id=customer.team_id, customer=customer, now=now, notice=notice)
    try:
        client.views_update(view_id=view_id, view=card)
    except (SlackApiError, OSError) as e:
        error = e.response.get("error") if isinstance(e, SlackApiError) else type(e).__name__
        logger.info("could not redraw the Home card %s after a survey: %s", view_id, error)
        return False
    return True


# A level answered again this soon by whoever moved the tier corrects their own answer (a misclick, a second thought);
# one that puts the tier back where it was before their move, the same day or so.
CORRECTION_WINDOW = timedelta(hours=1)
TAKEN_BACK_WINDOW = timedelta(hours=24)


def _corrects_own_move(store: Store, customer: Customer, *, response_id: int | None, by: str) -> bool | None:
    """None when this answer's tier move is news; else whether it takes back `by`'s own move just before it (True:
    the tier is back where it was before that move)."""
    assert customer.id is not None
    moves = store.customer_events_of_kind(team_id=customer.team_id, customer_id=customer.id, kind="tier_changed")
    at = next((i for i, m in enumerate(moves) if m.detail.get("survey_response_id") == response_id), None)
    if not at:
        return None
    this, before = moves[at], moves[at - 1]
    back = before.detail.get("old") == this.detail.get("new")
    if before.actor_id != by or this.at - before.at > (TAKEN_BACK_WINDOW if back else CORRECTION_WINDOW):
        return None
    return back


def _say(client: WebClient, user_id: str, text: str) -> None:
    """A DM to the user; a failure is logged, not retried."""
    try:
        client.chat_postMessage(channel=user_id, text=text)
    except (SlackApiError, OSError):  # OSError: a timeout or a dropped connection; the next follow-ups still go
        logger.warning("could not send a survey follow-up to %s", user_id, exc_info=True)


def save_draft(
    ack: Ack, view: dict[str, Any], body: dict[str, Any], context: BoltContext, store: Store, clock: Clock
) -> None:
    """view_closed: keep whatever was typed so reopening the survey picks up where the user left off."""
    ack()
    try:
        survey, customer_id = _survey_of(view)
    except UserError:
        return
    raw = answers_from_state(survey, view.get("state", {}).get("values", {}))
    answers = {key: value for key, value in raw.items() if value not in (None, "")}
    if not answers or raw == opened_with(survey, view):
        # Nothing typed: a profile form opens filled in from the saved profile, and kept as a draft it would later
        # open in place of a newer profile, whose changes a save would undo.
        return
    store.save_survey_draft(
        team_id=app_team_id(context, body),
        user_id=body["user"]["id"],
        survey=survey.key,
        customer_id=customer_id,
        answers=answers,
        now=clock(),
    )


def opened_with(survey: Survey, view: dict[str, Any]) -> dict[str, str | None]:
    """Each question's answer as the form opened (its input's initial value or option), as answers_from_state reads
    the answers sent."""
    initial: dict[str, str | None] = {q.key: None for q in survey.questions()}
    for block in view.get("blocks") or []:
        element = block.get("element") or {}
        if block.get("block_id") in initial:
            value = element.get("initial_value") or (element.get("initial_option") or {}).get("value")
            initial[block["block_id"]] = value or None
    return initial
