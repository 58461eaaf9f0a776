"""Surveys end to end: modals valid for Slack, submission, drafts, tiers, and the customer's own view."""

from __future__ import annotations

import csv
import io
import json
import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from slack_sdk.models.blocks import InputBlock
from slack_sdk.models.views import View

from bot.app import FOLLOW_UP_WORKERS, make_client
from bot.settings import Settings
from domain.surveys import SURVEYS, Survey
from handlers.blocks.nudges import slack_date
from handlers.blocks.surveys import profile_blocks, survey_button, survey_modal
from handlers.commands.export import wait_after_ack
from handlers.ids import (
    ADD_CUSTOMER_MODAL,
    CUSTOMER_FIELD,
    CUSTOMER_VIEW_MODAL,
    OPEN_CHECKIN,
    OPEN_CUSTOMER_VIEW,
    OPEN_SURVEY,
    SURVEY_ANSWER,
    SURVEY_MODAL,
)
from schedules.jobs import run_tick
from storage.models import Customer, SurveyResponse
from storage.store import Store
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import BOT_TOKEN, TEAM_ID, BotServer, FakeClock

EXTERNAL_TEAM = "T0CUST"
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
ANY_OUT_OF_DATE = "This form is out of date; please open the survey again."
REFUSED = "Only Acme's account team can {}. Nothing was changed."


class ExternalSlack(SlackRequests):
    """Requests from a customer's person in a Slack Connect channel: their user belongs to another team."""

    def _user(self, user_id: str, user_name: str) -> dict[str, Any]:
        return {**super()._user(user_id, user_name), "team_id": EXTERNAL_TEAM}


@pytest.fixture
def external(slack: SlackRequests, fake_slack: FakeSlack) -> ExternalSlack:
    return ExternalSlack(slack.base_url, signing_secret=slack.signing_secret, team_id=TEAM_ID, fake=fake_slack)


def ok(response: Any) -> dict[str, Any]:
    assert response.status == 200, response.text
    return response.json() if response.body else {}


def add_customer(slack: SlackRequests, store: Store, text: str = "Acme Corp <#C0ACME|acme> <@U0001|dana>") -> Customer:
    ok(slack.command(f"add {text}"))
    return store.customers(team_id=TEAM_ID)[-1]


def state(survey: Survey, answers: dict[str, str | None]) -> dict[str, Any]:
    """A view's state.values as Slack sends it, for the given raw answers."""
    values: dict[str, Any] = {}
    for q in survey.questions():
        raw = answers.get(q.key)
        if q.kind == "text":
            element = {"type": "plain_text_input", "value": raw}
        else:
            kind = "static_select" if q.kind == "rating" else "radio_buttons"
            option = {"text": {"type": "plain_text", "text": str(raw)}, "value": raw} if raw is not None else None
            element = {"type": kind, "selected_option": option}
        values[q.key] = {SURVEY_ANSWER: element}
    return values


def all_ratings(survey: Survey, rating: str = "4") -> dict[str, str | None]:
    return {q.key: rating for q in survey.questions() if q.kind == "rating"}


def opened(fake_slack: FakeSlack, index: int = -1) -> dict[str, Any]:
    return fake_slack.calls_to("views.open")[index].params["view"]


def submit(
    slack: SlackRequests, view: dict[str, Any], answers: dict[str, str | None], *, view_id: str = "VSURVEY1", **kw: Any
) -> Any:
    meta = json.loads(view["private_metadata"])
    return slack.view_submission(
        view["callback_id"],
        state(SURVEYS[meta["survey"]], answers),
        private_metadata=view["private_metadata"],
        view_id=view_id,
        **kw,
    )


# The modals, checked by slack_sdk's Block Kit models and Slack's limits


@pytest.mark.parametrize("key", sorted(SURVEYS))
def test_every_survey_renders_a_valid_modal_within_slacks_limits(key: str) -> None:
    survey = SURVEYS[key]
    customer = Customer(id=7, team_id="T", name="A" * 80, name_key="a", created_at=None, updated_at=None)  # type: ignore[arg-type]
    longest = {q.key: ("x" * 5000 if q.kind == "text" else q.options[-1].value) for q in survey.questions()}
    for prefill in (None, longest):
        modal = survey_modal(key, customer=customer, prefill=prefill, channel_id="C0ACME")
        view = View(**modal)
        view.validate_json()  # title <= 24, <= 100 blocks, metadata <= 3000, …
        rendered = view.to_dict()  # and every nested block and element validates too
        assert len(rendered["blocks"]) <= 100 and len(rendered["title"]["text"]) <= 24
        assert modal["notify_on_close"] is True
        inputs = [b for b in view.blocks or [] if isinstance(b, InputBlock)]
        assert [b.block_id for b in inputs] == [q.key for q in survey.questions()]
        for block in inputs:
            assert block.element is not None and block.element.to_dict()["action_id"] == SURVEY_ANSWER
        if prefill:
            for block, q in zip(inputs, survey.questions(), strict=True):
                element = block.element.to_dict()  # type: ignore[union-attr]
                if q.kind == "text":
                    assert len(element["initial_value"]) == q.max_length
                else:
                    assert element["initial_option"]["value"] == q.options[-1].value
    expected_callback = CUSTOMER_VIEW_MODAL if survey.audience == "customer" else SURVEY_MODAL
    assert modal["callback_id"] == expected_callback


def test_profile_blocks_and_the_survey_button_are_valid_blocks() -> None:
    from slack_sdk.models.blocks import Block

    for block in profile_blocks(None, customer_id=3):
        Block.parse(block).to_dict()  # type: ignore[union-attr]
    assert survey_button(3, "level")["value"] == "level:3"
    assert survey_button(None, "practices")["value"] == "practices:team"
    with pytest.raises(ValueError):
        survey_button(3, "customer_view")


# Opening surveys


def test_survey_command_opens_the_named_survey(slack: SlackRequests, fake_slack: FakeSlack, store: Store) -> None:
    customer = add_customer(slack, store)
    ok(slack.command("survey acme scorecard", trigger_id="111.222.survey"))
    call = fake_slack.calls_to("views.open")[0]
    assert call.params["trigger_id"] == "111.222.survey"
    view = call.params["view"]
    assert view["callback_id"] == SURVEY_MODAL and view["title"]["text"] == "Ideal-customer scorecard"
    assert json.loads(view["private_metadata"]) == {
        "survey": "scorecard",
        "customer_id": customer.id,
        "channel_id": "C0001",
    }


def test_survey_without_a_name_offers_buttons_that_open_it(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    customer = add_customer(slack, store)
    reply = ok(slack.command("survey acme"))
    buttons = [b["accessory"] for b in reply["blocks"][1:]]
    assert [b["value"] for b in buttons] == [
        f"{s}:{customer.id}" for s in ("scorecard", "level", "practices", "profile")
    ]
    ok(slack.block_action(OPEN_SURVEY, value=f"level:{customer.id}"))
    assert opened(fake_slack)["title"]["text"] == "Relationship level"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("survey", "Which customer?"),
        ("survey acme vibes", "'vibes' is not a survey: pick scorecard, level, practices or profile"),
        ("survey acme level now", "I didn't understand 'now'"),
        ("survey globex level", "No customer matches 'globex'"),
        ("survey team scorecard", "Only the practices self-check can be about the whole team"),
        # The survey typed first: named as a survey, with the order and the team's own form.
        ("survey level acme", "'level' is a survey, not a customer: the customer comes first. Usage: `/partner survey"),
        ("survey practices", "or about the whole team: `/partner survey team practices`"),
    ],
)
def test_survey_command_explains_bad_input(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, text: str, message: str
) -> None:
    add_customer(slack, store)
    assert message in ok(slack.command(text))["text"]
    assert fake_slack.calls_to("views.open") == []


def test_team_practices_survey_is_stored_without_a_customer(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    ok(slack.command("survey team practices"))
    view = opened(fake_slack)
    assert json.loads(view["private_metadata"])["customer_id"] is None
    ok(submit(slack, view, {**all_ratings(SURVEYS["practices"], "2"), "practices_comment": "we drift"}))
    (response,) = store.survey_responses(team_id=TEAM_ID, survey="practices")
    assert (response.customer_id, response.score, response.answers["practices_comment"]) == (None, 2.0, "we drift")


def test_the_teams_own_self_check_is_shown_in_the_team_digest(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    """`/partner survey team practices` is read back where the team looks at its week, not only in the export."""
    add_customer(slack, store)
    assert "No team self-check yet: `/partner survey team practices`" in json.dumps(
        ok(slack.command("digest team")), ensure_ascii=False
    )
    ok(slack.command("survey team practices", user_id="U0002"))
    answers = all_ratings(SURVEYS["practices"], "4") | {"inner_circle": "2"}
    ok(submit(slack, opened(fake_slack), answers, view_id="VTEAM1", user_id="U0002"))
    team = json.dumps(ok(slack.command("digest team")), ensure_ascii=False)
    assert (
        "*Our partnership practices*\\nLast team self-check: 3.5/5 on average; lowest “Do we include this "
        "customer inside our circle?” (2/5) — <@U0002>"
    ) in team
    assert "partnership practices" not in json.dumps(ok(slack.command("digest mine")), ensure_ascii=False)


# Submitting


def test_scorecard_submission_is_stored_once_and_recomputes_health_after_the_answer(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, clock: FakeClock, bot: BotServer
) -> None:
    customer = add_customer(slack, store)
    ok(slack.command("survey acme scorecard"))
    view = opened(fake_slack)
    answers = {**all_ratings(SURVEYS["scorecard"], "4"), "earns_place": "2", "respect_comment": "  fair  "}
    bot.settle()
    clock.advance(hours=1)
    # The follow-ups are held: the answer comes without them. Scoring took 3–7 s under load, past Slack's 3 s.
    held = threading.Event()
    busy = [bot.app.lazy_pool.submit(held.wait) for _ in range(FOLLOW_UP_WORKERS)]
    try:
        assert submit(slack, view, answers).body in (b"", b"{}")
        (response,) = store.survey_responses(team_id=TEAM_ID, customer_id=customer.id)
        before = store.customer(team_id=TEAM_ID, customer_id=customer.id)
        assert before is not None and before.health_at != clock.now  # not scored before the answer
    finally:
        held.set()
        for future in busy:
            future.result(timeout=10)
    bot.settle()
    assert response.survey == "scorecard" and response.respondent_id == "U0001" and not response.external
    assert response.answers["earns_place"] == 2 and response.answers["respect_comment"] == "fair"
    assert response.score == pytest.approx((2 + 4 * 13) / 14)
    fresh = store.customer(team_id=TEAM_ID, customer_id=customer.id)
    assert fresh is not None and fresh.health_score is not None and fresh.health_at == clock.now
    assert len(store.health_snapshots(team_id=TEAM_ID, customer_id=customer.id, since=clock.now.date())) == 1

    # Slack retries the same submission: still one answer.
    ok(submit(slack, view, answers, retry_num=1))
    assert len(store.survey_responses(team_id=TEAM_ID, customer_id=customer.id)) == 1


def test_the_author_is_told_the_survey_was_saved_even_where_partner_cannot_post(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    add_customer(slack, store)
    ok(slack.command("survey acme scorecard"))  # in #general: told there, ephemerally
    ok(submit(slack, opened(fake_slack), all_ratings(SURVEYS["scorecard"], "4"), view_id="VS1"))
    saved = "Saved your ideal-customer scorecard about *Acme Corp* (average 4.0/5)"
    (told,) = fake_slack.wait_for("chat.postEphemeral", where=lambda c: saved in c.params["text"])
    assert (told.params["channel"], told.params["user"]) == ("C0001", "U0001")
    # Typed in a private channel Partner isn't in (Slack: channel_not_found): the confirmation comes by DM.
    ok(slack.command("survey acme practices", channel_id="C0PRIVATE", channel_name="privategroup"))
    ok(submit(slack, opened(fake_slack), all_ratings(SURVEYS["practices"], "3"), view_id="VS2"))
    (dm,) = fake_slack.wait_for(
        "chat.postMessage", where=lambda c: "Saved your partnership practices" in str(c.params.get("text"))
    )
    assert dm.params["channel"] == "U0001"


def test_invalid_submission_returns_errors_next_to_the_fields(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    customer = add_customer(slack, store)
    ok(slack.command("survey acme scorecard"))
    answers = {**all_ratings(SURVEYS["scorecard"]), "engaged": None, "pays_fairly": "9", "respect_comment": "x" * 1001}
    body = ok(submit(slack, opened(fake_slack), answers))
    assert body["response_action"] == "errors"
    assert body["errors"] == {
        "engaged": "Please answer this question.",
        "pays_fairly": "Pick a rating from 1 to 5.",
        "respect_comment": "Please keep this under 1000 characters (it is 1001).",
    }
    assert store.survey_responses(team_id=TEAM_ID, customer_id=customer.id) == []


def test_a_form_that_is_not_ours_gets_an_error_not_a_crash(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    with_input = {"blocks": [{"type": "input", "block_id": "earns_place", "element": {}, "label": {}}]}
    body = ok(slack.view_submission(SURVEY_MODAL, {}, private_metadata="{not json", view_fields=with_input))
    assert body == {"response_action": "errors", "errors": {"earns_place": ANY_OUT_OF_DATE}}
    assert ok(slack.view_submission(SURVEY_MODAL, {}, private_metadata=json.dumps({"survey": "nope"}))) == {}
    (told,) = fake_slack.wait_for("chat.postMessage", where=lambda c: c.params.get("channel") == "U0001", timeout=15)
    assert "out of date" in told.params["text"]
    assert store.survey_responses(team_id=TEAM_ID) == []


def test_level_survey_sets_the_tier_with_history_and_tells_the_owner(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    customer = add_customer(slack, store)
    ok(slack.command("survey acme level", user_id="U0002"))
    ok(submit(slack, opened(fake_slack), {"level": "supplier_of_choice", "move_up": "share roadmap"}, user_id="U0002"))
    fresh = store.customer(team_id=TEAM_ID, customer_id=customer.id)
    assert fresh is not None and fresh.tier == "supplier_of_choice"
    (event,) = store.customer_events_of_kind(team_id=TEAM_ID, customer_id=customer.id, kind="tier_changed")
    assert (event.actor_id, event.detail["old"], event.detail["new"]) == ("U0002", None, "supplier_of_choice")
    # The owner's DM comes after the ack, in its own thread: wait for it, not for whichever post comes first.
    (dm,) = fake_slack.wait_for("chat.postMessage", where=lambda c: c.params.get("channel") == "U0001", timeout=15)
    assert "moved *Acme Corp* to *Supplier of choice*" in dm.params["text"]
    # What we wrote would move us up is shown beside our view, not only kept for the export.
    assert "*To move up a level:* share roadmap" in json.dumps(ok(slack.command("status acme"))["blocks"])

    # The same level again is not a change; a new level is, with the old one in its history.
    ok(slack.command("survey acme level"))
    ok(submit(slack, opened(fake_slack), {"level": "supplier_of_choice"}, view_id="VSURVEY2"))
    ok(slack.command("survey acme level"))
    ok(submit(slack, opened(fake_slack), {"level": "partner"}, view_id="VSURVEY3"))
    events = store.customer_events_of_kind(team_id=TEAM_ID, customer_id=customer.id, kind="tier_changed")
    assert [(e.detail["old"], e.detail["new"]) for e in events] == [
        (None, "supplier_of_choice"),
        ("supplier_of_choice", "partner"),
    ]
    # The tier over time, as status shows it: each move with its day (Slack shows it in the reader's time zone).
    history = next(
        b["text"]["text"] for b in ok(slack.command("status acme"))["blocks"] if "Tier over time" in json.dumps(b)
    )
    first, then = (slack_date(e.at, "{date_short}") for e in events)
    assert history == f"*Tier over time:* no tier → Supplier of choice ({first}) → Partner ({then})"
    assert "|2026-11-25 15:00 UTC>" in first  # the day in UTC for clients that cannot show Slack dates


def test_the_owner_moving_the_level_is_not_dmed_about_it(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, bot: BotServer
) -> None:
    customer = add_customer(slack, store)
    ok(slack.command("survey acme level"))  # U0001 owns Acme
    ok(submit(slack, opened(fake_slack), {"level": "partner"}))
    bot.settle()
    fresh = store.customer(team_id=TEAM_ID, customer_id=customer.id)
    assert fresh is not None and fresh.tier == "partner"
    assert [c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "U0001"] == []
    # The move is announced to them where they answered: the confirmation says the new tier.
    (told,) = [c.params["text"] for c in fake_slack.calls_to("chat.postEphemeral") if c.params["user"] == "U0001"]
    assert told == (
        ":white_check_mark: Saved your relationship level about *Acme Corp*. Its tier is now *Partner*; the digest "
        "lists the move."
    )


# Drafts


def test_closing_keeps_a_draft_that_prefills_the_next_opening_until_submitted(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    customer = add_customer(slack, store)
    ok(slack.command("survey acme scorecard"))
    first = opened(fake_slack)
    partial = {"earns_place": "5", "respect_comment": "great kickoff"}
    reply = slack.view_closed(
        SURVEY_MODAL,
        private_metadata=first["private_metadata"],
        view_fields={"state": {"values": state(SURVEYS["scorecard"], partial)}},
    )
    assert reply.status == 200
    draft = store.survey_draft(team_id=TEAM_ID, user_id="U0001", survey="scorecard", customer_id=customer.id)
    assert draft is not None and draft.answers == partial

    ok(slack.command("survey acme scorecard"))
    again = opened(fake_slack)
    by_key = {b["block_id"]: b for b in again["blocks"] if b["type"] == "input"}
    assert by_key["earns_place"]["element"]["initial_option"]["value"] == "5"
    assert by_key["respect_comment"]["element"]["initial_value"] == "great kickoff"
    assert "initial_option" not in by_key["appreciative"]["element"]
    # Someone else's draft is theirs alone.
    ok(slack.command("survey acme scorecard", user_id="U0002"))
    assert all("initial_option" not in b["element"] for b in opened(fake_slack)["blocks"] if b["type"] == "input")

    ok(submit(slack, again, {**all_ratings(SURVEYS["scorecard"]), **partial}))
    assert store.survey_draft(team_id=TEAM_ID, user_id="U0001", survey="scorecard", customer_id=customer.id) is None


def test_profile_edits_start_from_the_saved_profile(slack: SlackRequests, fake_slack: FakeSlack, store: Store) -> None:
    customer = add_customer(slack, store)
    ok(slack.command("survey acme profile"))
    ok(submit(slack, opened(fake_slack), {"annual_budget": "€200k", "keeps_them_up": "churn"}))
    ok(slack.command("survey acme profile", user_id="U0002"))
    by_key = {b["block_id"]: b for b in opened(fake_slack)["blocks"] if b["type"] == "input"}
    assert by_key["annual_budget"]["element"]["initial_value"] == "€200k"
    latest = store.latest_survey_response(team_id=TEAM_ID, survey="profile", customer_id=customer.id)
    text = json.dumps(profile_blocks(latest, customer_id=customer.id), ensure_ascii=False)
    assert "€200k" in text and "churn" in text and OPEN_SURVEY in text


def test_a_profile_sent_with_every_answer_cleared_is_refused_and_the_saved_one_stays(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    """Every profile question is optional: a form sent blank would have put "No answers yet." on the card in place
    of the profile the team wrote."""
    customer = add_customer(slack, store)
    ok(slack.command("survey acme profile"))
    ok(submit(slack, opened(fake_slack), {"annual_budget": "€200k"}, view_id="VPROFILE1"))
    ok(slack.command("survey acme profile"))
    blank = {"annual_budget": "  ", "keeps_them_up": ""}
    body = ok(submit(slack, opened(fake_slack), blank, view_id="VPROFILE2"))
    assert body == {
        "response_action": "errors",
        "errors": {"annual_budget": "Answer at least one question to save this form (or close it)."},
    }
    assert len(store.survey_responses(team_id=TEAM_ID, survey="profile", customer_id=customer.id)) == 1
    assert "€200k" in json.dumps(ok(slack.command("show acme")), ensure_ascii=False)


def test_the_card_shows_the_latest_scorecard_and_practices_self_check_not_only_the_export(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    """The ratings the team gave are read where the customer is: the card says the latest scorecard and self-check,
    their average and the lowest answer (they were stored, and only the export showed them)."""
    add_customer(slack, store)
    card = json.dumps(ok(slack.command("show acme")), ensure_ascii=False)
    assert "How our team works with them, 1–5. Not done yet." in card and "*Ideal-customer scorecard*" not in card

    scorecard = all_ratings(SURVEYS["scorecard"], "4") | {"pays_fairly": "2", "engaged": "5"}
    ok(slack.command("survey acme scorecard"))
    ok(submit(slack, opened(fake_slack), scorecard, view_id="VCARD1"))
    ok(slack.command("survey acme practices", user_id="U0002"))
    practices = all_ratings(SURVEYS["practices"], "3") | {"daily_priority": "1"}
    ok(submit(slack, opened(fake_slack), practices, view_id="VCARD2", user_id="U0002"))
    ok(slack.command("survey team practices"))  # about the team, not this customer: not on its card
    ok(submit(slack, opened(fake_slack), all_ratings(SURVEYS["practices"], "5"), view_id="VCARD3"))

    card = json.dumps(ok(slack.command("show acme")), ensure_ascii=False)
    assert (
        "*Ideal-customer scorecard*\\n3.9/5 on average; lowest “They pay fairly and on time.” (2/5) — <@U0001>" in card
    )
    assert (
        "How our team works with them, 1–5. Last self-check: 2.5/5 on average; lowest “Is this partnership a daily "
        "priority for the team?” (1/5) — <@U0002>"
    ) in card


def test_the_profile_says_when_it_was_updated_in_each_readers_own_time_zone() -> None:
    # 09:00 on Friday 27 Nov in Auckland is still Thursday in UTC: the day is Slack's to show, per reader.
    saved = datetime(2026, 11, 26, 20, 0, tzinfo=UTC)
    response = SurveyResponse(
        team_id=TEAM_ID, customer_id=3, survey="profile", respondent_id="U0001", answers={}, created_at=saved
    )
    (line,) = [b for b in profile_blocks(response, customer_id=3) if b["type"] == "context"]
    text = line["elements"][0]["text"]
    assert f"Last updated by <@U0001> on <!date^{int(saved.timestamp())}^{{date_short_pretty}}|" in text, text


# The customer's own view


def shared_customer(slack: SlackRequests, fake_slack: FakeSlack, store: Store) -> Customer:
    fake_slack.add_channel("C0SHARED", name="acme-shared", is_ext_shared=True, members=["U0001"])
    return add_customer(slack, store, "Acme Corp <#C0SHARED|acme-shared> <@U0001|dana>")


def test_ask_posts_one_friendly_invitation_in_the_shared_channel(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    customer = shared_customer(slack, fake_slack, store)
    reply = ok(slack.command("ask acme", trigger_id="5.6.ask"))
    assert "Asked *Acme Corp*'s people" in reply["text"]
    ok(slack.command("ask acme", trigger_id="5.6.ask", retry_num=1))
    (message,) = fake_slack.messages["C0SHARED"]
    button = message["blocks"][1]["elements"][0]
    assert (button["action_id"], button["value"]) == (OPEN_CUSTOMER_VIEW, str(customer.id))
    assert fake_slack.calls_to("conversations.info")[0].params["channel"] == "C0SHARED"
    # The customer's people read its notification alone: whom it is for and who asks, not a bare "we'd love to hear".
    assert message["text"].startswith(":wave: Hi *Acme Corp* team! <@U0001> would love to hear how working with us")


def test_ask_works_in_a_private_shared_channel(
    slack: SlackRequests, external: ExternalSlack, fake_slack: FakeSlack, store: Store
) -> None:
    fake_slack.add_channel("C0PRIV", name="acme-private", is_private=True, is_ext_shared=True, members=["U0001"])
    customer = add_customer(slack, store, "Acme Corp <#C0PRIV|acme-private> <@U0001|dana>")
    assert "Asked *Acme Corp*'s people" in ok(slack.command("ask acme"))["text"]
    (message,) = fake_slack.messages["C0PRIV"]
    assert message["blocks"][1]["elements"][0]["value"] == str(customer.id)
    # The customer's person answers from the private channel like from a public one.
    ok(external.block_action(OPEN_CUSTOMER_VIEW, value=str(customer.id), user_id="U0EXT1", channel_id="C0PRIV"))
    answers = {"level": "partner", "start_doing": "weekly demos", "keep_doing": "quick answers"}
    ok(submit(external, opened(fake_slack), answers, view_id="VPRIV1", user_id="U0EXT1"))
    (theirs,) = store.survey_responses(team_id=TEAM_ID, survey="customer_view")
    assert (theirs.external, theirs.customer_id) == (True, customer.id)
    # Slack reads a private channel's info only with groups:read (the manifest asks for it), and only from inside.
    fake_slack.scopes.remove("groups:read")
    assert "reinstall Partner" in ok(slack.command("ask acme", trigger_id="no.groups.read"))["text"]
    fake_slack.scopes.append("groups:read")
    fake_slack.channels["C0PRIV"]["is_member"] = False
    assert "Invite me there" in ok(slack.command("ask acme", trigger_id="not.inside"))["text"]
    assert len(fake_slack.messages["C0PRIV"]) == 1


def test_ask_refuses_a_channel_that_is_not_shared(slack: SlackRequests, fake_slack: FakeSlack, store: Store) -> None:
    add_customer(slack, store)
    text = ok(slack.command("ask acme"))["text"]
    assert "isn't shared with *Acme Corp* through Slack Connect" in text
    add_customer(slack, store, "Globex")
    assert "*Globex* has no channel yet" in ok(slack.command("ask globex"))["text"]
    assert fake_slack.calls_to("chat.postMessage") == []


def test_customer_answers_their_view_and_a_gap_is_flagged_to_the_owner_once(
    slack: SlackRequests, external: ExternalSlack, fake_slack: FakeSlack, store: Store
) -> None:
    customer = shared_customer(slack, fake_slack, store)
    ok(slack.command("survey acme level"))
    ok(submit(slack, opened(fake_slack), {"level": "partner"}, view_id="VLEVEL"))
    ok(slack.command("ask acme"))
    fake_slack.wait_for("chat.postMessage")  # the invitation (the owner set the tier: no DM about it)

    # Our own people are pointed elsewhere; the customer's person gets the three questions.
    ok(slack.block_action(OPEN_CUSTOMER_VIEW, value=str(customer.id), channel_id="C0SHARED"))
    opens = len(fake_slack.calls_to("views.open"))
    ok(external.block_action(OPEN_CUSTOMER_VIEW, value=str(customer.id), user_id="U0EXT1", channel_id="C0SHARED"))
    assert len(fake_slack.calls_to("views.open")) == opens + 1
    view = opened(fake_slack)
    assert view["callback_id"] == CUSTOMER_VIEW_MODAL
    assert [b["block_id"] for b in view["blocks"] if b["type"] == "input"] == ["level", "start_doing", "keep_doing"]
    assert "partner" not in json.dumps(view["blocks"][0]).lower().replace("a partner", "")

    answers = {"level": "supplier", "start_doing": "call us back", "keep_doing": "the weekly demo"}
    reply = ok(submit(external, view, answers, view_id="VCUST1", user_id="U0EXT1"))
    assert reply["response_action"] == "update" and "Thank you" in reply["view"]["title"]["text"]
    ok(submit(external, view, answers, view_id="VCUST1", user_id="U0EXT1", retry_num=1))
    (theirs,) = store.survey_responses(team_id=TEAM_ID, survey="customer_view")
    assert (theirs.external, theirs.respondent_id, theirs.customer_id) == (True, "U0EXT1", customer.id)

    fake_slack.wait_for("chat.postMessage", 2)  # the invitation and the gap
    gap_dms = [c for c in fake_slack.calls_to("chat.postMessage") if "sees us as" in c.params.get("text", "")]
    assert len(gap_dms) == 1 and gap_dms[0].params["channel"] == "U0001"
    assert "sees us as *Supplier*" in gap_dms[0].params["text"] and "2 levels higher" in gap_dms[0].params["text"]

    status = json.dumps(ok(slack.command("status acme"))["blocks"])
    assert "*Our view:* Partner" in status and "*Their view:* Supplier" in status
    assert "2 levels higher than they do" in status and "call us back" in status


def test_a_gap_that_closed_and_opened_again_is_flagged_again(
    slack: SlackRequests, external: ExternalSlack, fake_slack: FakeSlack, store: Store, clock: FakeClock, bot: BotServer
) -> None:
    """Their view came up to ours, then fell back months later: the reopened gap is news to the owner."""
    customer = shared_customer(slack, fake_slack, store)
    ok(slack.command("survey acme level"))
    ok(submit(slack, opened(fake_slack), {"level": "partner"}, view_id="VLEVEL"))
    ok(slack.command("ask acme"))

    def their_answer(level: str, view_id: str, user_id: str = "U0EXT1") -> None:
        ok(external.block_action(OPEN_CUSTOMER_VIEW, value=str(customer.id), user_id=user_id, channel_id="C0SHARED"))
        answers = {"level": level, "start_doing": "call us back", "keep_doing": "the weekly demo"}
        ok(submit(external, opened(fake_slack), answers, view_id=view_id, user_id=user_id))
        bot.settle()  # its follow-up (the gap DM, if any) has run
        clock.advance(days=30)

    def gap_dms() -> list[str]:
        texts = [c.params.get("text", "") for c in fake_slack.calls_to("chat.postMessage")]
        return [t for t in texts if "sees us as" in t]

    their_answer("supplier", "VCUST1")
    assert len(gap_dms()) == 1
    their_answer("supplier", "VCUST2", user_id="U0EXT2")  # another of their people alike: the same gap, not news
    their_answer("partner", "VCUST3")  # the gap closed
    assert len(gap_dms()) == 1
    their_answer("supplier", "VCUST4")  # and opened again
    assert len(gap_dms()) == 2 and "sees us as *Supplier*" in gap_dms()[-1]

    # Our side moving: we come down to their level (no gap), then back up to partner: the gap is news again.
    for n, level in enumerate(["supplier", "partner", "partner"]):
        ok(slack.command("survey acme level"))
        ok(submit(slack, opened(fake_slack), {"level": level}, view_id=f"VLEVEL{n}"))
        bot.settle()
    assert len(gap_dms()) == 3  # the level submitted again unchanged was not news


def test_external_people_can_reach_nothing_else(
    slack: SlackRequests, external: ExternalSlack, fake_slack: FakeSlack, store: Store
) -> None:
    customer = shared_customer(slack, fake_slack, store)
    fake_slack.reset()
    ok(external.block_action(OPEN_SURVEY, value=f"scorecard:{customer.id}", user_id="U0EXT1"))
    ok(external.block_action(OPEN_CHECKIN, value=str(customer.id), user_id="U0EXT1"))
    team_view = survey_modal("level", customer=customer)
    # The form as Slack sends it back, its blocks with it: the refusal shows at its first field.
    as_shown = {"blocks": team_view["blocks"]}
    body = ok(submit(external, team_view, {"level": "partner"}, user_id="U0EXT1", view_fields=as_shown))
    assert body == {"response_action": "errors", "errors": {"level": REFUSED.format("send this form")}}
    assert fake_slack.calls_to("views.open") == []
    assert store.survey_responses(team_id=TEAM_ID) == []
    fresh = store.customer(team_id=TEAM_ID, customer_id=customer.id)
    assert fresh is not None and fresh.tier is None

    # A slash command from another team's workspace is refused the same way.
    other = SlackRequests(slack.base_url, signing_secret=slack.signing_secret, team_id=EXTERNAL_TEAM, fake=fake_slack)
    text = ok(other.command("status acme", user_id="U0EXT1"))["text"]
    assert text == REFUSED.format("use `/partner`")


def test_the_customers_people_are_told_the_survey_is_closed_not_that_we_archived_them(
    slack: SlackRequests, external: ExternalSlack, fake_slack: FakeSlack, store: Store, bot: BotServer
) -> None:
    """Archived while their person had the form open — often a customer leaving us, whose word matters most: the
    answer is kept with the customer's history and thanked (it was refused and what they typed lost); a new click
    on the invitation is told the survey is closed, never that we archived them; nothing is told to the owner."""
    customer = shared_customer(slack, fake_slack, store)
    ok(slack.command("survey acme level"))
    ok(submit(slack, opened(fake_slack), {"level": "partner"}, view_id="VOURS"))
    ok(slack.command("ask acme"))
    ok(external.block_action(OPEN_CUSTOMER_VIEW, value=str(customer.id), user_id="U0EXT1", channel_id="C0SHARED"))
    view = opened(fake_slack)
    ok(slack.command("archive acme"))
    bot.settle()
    posts = len(fake_slack.calls_to("chat.postMessage"))
    answers = {"level": "supplier", "start_doing": "call", "keep_doing": "demos"}
    reply = ok(submit(external, view, answers, view_id="VCLOSED", user_id="U0EXT1"))
    assert reply["response_action"] == "update" and "Thank you" in reply["view"]["title"]["text"]
    ok(submit(external, view, answers, view_id="VCLOSED", user_id="U0EXT1", retry_num=1))
    (kept,) = store.survey_responses(team_id=TEAM_ID, survey="customer_view")
    assert (kept.external, kept.respondent_id, kept.answers["level"]) == (True, "U0EXT1", "supplier")
    mark = len(fake_slack.calls_to("response_url"))
    ok(external.block_action(OPEN_CUSTOMER_VIEW, value=str(customer.id), user_id="U0EXT2", channel_id="C0SHARED"))
    told = [c.params["text"] for c in fake_slack.calls_to("response_url")[mark:]]
    assert told == ["This survey is closed now. Thank you for taking the time!"]
    bot.settle()
    assert len(fake_slack.calls_to("chat.postMessage")) == posts  # no gap DM about a customer we archived
    # Our own people still get the reason and the remedy.
    mark = len(fake_slack.calls_to("response_url"))
    ok(slack.block_action(OPEN_CUSTOMER_VIEW, value=str(customer.id), channel_id="C0SHARED"))
    (ours,) = [c.params["text"] for c in fake_slack.calls_to("response_url")[mark:]]
    assert "is archived" in ours and "/partner restore Acme Corp" in ours
    # Restored, the card shows what they said.
    ok(slack.command("restore acme"))
    assert "*Their view:* Supplier" in json.dumps(ok(slack.command("show acme"))["blocks"])


def test_someone_of_the_customers_organisation_cannot_be_made_an_owner(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    """users.info of a stranger (another organisation, met in a shared channel) has no time zone or role: they
    are refused as owner (owners get internal alerts) by every path that names one, and nothing else breaks."""
    fake_slack.add_user("U0EXT1", name="cleo", team_id=EXTERNAL_TEAM, stranger=True)
    customer = shared_customer(slack, fake_slack, store)
    refused = ok(slack.command("add Globex <#C0SHARED|acme-shared> <@U0EXT1|cleo>"))["text"]
    assert "<@U0EXT1> is from another organisation" in refused and "Usage: `/partner add" in refused
    assert store.customer_by_name(team_id=TEAM_ID, name="globex") is None
    refused = ok(slack.command("edit acme <@U0EXT1|cleo>"))["text"]
    assert "<@U0EXT1> is from another organisation" in refused
    form = {"name": {CUSTOMER_FIELD: {"type": "plain_text_input", "value": "Initech"}}}
    form["owner"] = {CUSTOMER_FIELD: {"type": "users_select", "selected_user": "U0EXT1"}}
    errors = ok(slack.view_submission(ADD_CUSTOMER_MODAL, form, private_metadata="{}"))["errors"]
    assert "from another organisation" in errors["owner"]
    fresh = store.customer(team_id=TEAM_ID, customer_id=customer.id or 0)
    assert fresh is not None and fresh.owner_id == "U0001"
    assert [c.name for c in store.customers(team_id=TEAM_ID)] == ["Acme Corp"]


# Scheduled survey prompts


def prompt_dms(fake_slack: FakeSlack) -> list[str]:
    return [
        c.params.get("text", "")
        for c in fake_slack.calls_to("chat.postMessage")
        if c.params.get("channel") == "U0001"
        and ("Time for the" in c.params.get("text", "") or "to fill in" in c.params.get("text", ""))
    ]


def test_scheduled_prompts_reach_the_owner_exactly_once_per_period(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, clock: FakeClock, settings: Any
) -> None:
    from datetime import timedelta

    from bot.app import make_client
    from schedules.jobs import run_tick

    added = clock.now  # Wednesday 25 Nov 2026
    customer = add_customer(slack, store, "Acme Corp <@U0001|dana> tz=UTC")
    client = make_client(settings)
    assert run_tick(store=store, client=client, now=added, settings=settings).done["survey_prompts"] == 0

    # 91 days in (Wed 24 Feb): the scorecard is due, and so is the level (day 90, Tue 23 Feb).
    quarter = added + timedelta(days=91)
    first = run_tick(store=store, client=client, now=quarter, settings=settings)
    assert first.done["survey_prompts"] == 2 and not first.failed
    again = run_tick(store=store, client=client, now=quarter + timedelta(minutes=1), settings=settings)
    assert again.done["survey_prompts"] == 0
    (sent,) = prompt_dms(fake_slack)  # due together: one message to the owner
    # Its notification: one line per survey, not each prompt's whole sentence run together with "…a minute.; :clip…".
    assert sent == (
        "2 things need you now: the *relationship level* of *Acme Corp* to fill in; "
        "the *ideal-customer scorecard* of *Acme Corp* to fill in"
    )
    rows = store.nudges(team_id=TEAM_ID, kinds=["survey_prompt"], due_after=EPOCH)
    assert sorted(r.due_key for r in rows) == ["level:2027-02-23", "scorecard:2027-02-24"]
    assert {r.status for r in rows} == {"sent"}

    # The prompt's button opens the survey; answered shortly before the next period, no prompt is needed.
    clock.set(added + timedelta(days=118))
    ok(slack.block_action(OPEN_SURVEY, value=f"level:{customer.id}", channel_id=None))
    ok(submit(slack, opened(fake_slack), {"level": "partner"}))
    report = run_tick(store=store, client=client, now=added + timedelta(days=121), settings=settings)
    assert report.done["survey_prompts"] == 0 and not report.failed
    prompts = store.nudges(team_id=TEAM_ID, kinds=["survey_prompt"], due_after=EPOCH)
    level_rows = sorted((r for r in prompts if r.due_key.startswith("level")), key=lambda r: r.due_at)
    assert [r.status for r in level_rows] == ["sent", "skipped"]
    assert len(prompt_dms(fake_slack)) == 1

    # A month later (day 150, a Saturday: Monday 26 Apr) it is due again and nothing was answered since.
    later = run_tick(store=store, client=client, now=added + timedelta(days=152), settings=settings)
    assert later.done["survey_prompts"] == 1
    assert len(prompt_dms(fake_slack)) == 2 and "relationship level" in prompt_dms(fake_slack)[-1]


def test_the_customers_answer_redraws_the_owners_home_and_publishes_none_to_their_person(
    slack: SlackRequests, external: ExternalSlack, fake_slack: FakeSlack, store: Store, bot: Any
) -> None:
    from handlers.home_publisher import publisher_of

    customer = shared_customer(slack, fake_slack, store)
    bot.settle()
    publisher = publisher_of(bot.app)
    publisher.flush()
    ok(external.block_action(OPEN_CUSTOMER_VIEW, value=str(customer.id), user_id="U0EXT1", channel_id="C0SHARED"))
    answers = {"level": "partner", "start_doing": "weekly demos", "keep_doing": "quick answers"}
    ok(submit(external, opened(fake_slack), answers, view_id="VEXT1", user_id="U0EXT1"))
    bot.settle()  # the answer's follow-up scores it, then asks for the Homes
    # Dana's Home shows their view; a person of the customer's organisation never gets Partner's dashboard.
    assert publisher.pending() == {(TEAM_ID, "U0001")}


def test_the_customers_person_in_an_enterprise_grid_is_counted_as_theirs_even_when_slack_cannot_place_them_again(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, bot: BotServer
) -> None:
    """Partner in a Grid organisation asks users.info who someone of another workspace id is. When Slack can't say
    at the click (busy), their person was told "This one is for Acme's people… `/partner survey Acme level`" as if
    one of ours; and when it can't say as they send the form (another replica, whose cache never met them), their
    answer was stored as ours (`external` false): thanked, yet never shown as their view nor flagged to the owner."""
    from handlers.actions.surveys import WHO_UNKNOWN
    from handlers.identity import _STRANGERS
    from tests.e2e.test_shared_channels import PersonOf

    customer = shared_customer(slack, fake_slack, store)
    ok(slack.command("survey acme level"))
    ok(submit(slack, opened(fake_slack), {"level": "partner"}, view_id="VGRIDLEVEL"))
    ok(slack.command("ask acme"))
    bot.settle()
    fake_slack.add_user("U0EXT1", name="cleo", team_id=EXTERNAL_TEAM, stranger=True)
    theirs = PersonOf(slack, fake_slack, home=EXTERNAL_TEAM, enterprise_id="E0ORG")
    _STRANGERS.forget()

    fake_slack.fail_next("users.info", status=429, retry_after=30)
    opens, mark = len(fake_slack.calls_to("views.open")), len(fake_slack.calls_to("response_url"))
    ok(theirs.block_action(OPEN_CUSTOMER_VIEW, value=str(customer.id), user_id="U0EXT1", channel_id="C0SHARED"))
    assert [c.params["text"] for c in fake_slack.calls_to("response_url")[mark:]] == [WHO_UNKNOWN]
    assert len(fake_slack.calls_to("views.open")) == opens

    ok(theirs.block_action(OPEN_CUSTOMER_VIEW, value=str(customer.id), user_id="U0EXT1", channel_id="C0SHARED"))
    view = opened(fake_slack)  # Slack said: a stranger
    _STRANGERS.forget()  # the form is sent to a replica that never met them, while Slack is busy
    fake_slack.fail_next("users.info", status=429, retry_after=30)
    answers = {"level": "supplier", "start_doing": "call us back", "keep_doing": "the weekly demo"}
    reply = ok(submit(theirs, view, answers, view_id="VGRID1", user_id="U0EXT1"))
    assert reply["response_action"] == "update"
    bot.settle()
    (answer,) = store.survey_responses(team_id=TEAM_ID, survey="customer_view")
    assert (answer.external, answer.respondent_id) == (True, "U0EXT1")
    assert "*Their view:* Supplier" in json.dumps(ok(slack.command("status acme"))["blocks"])
    (gap,) = [c for c in fake_slack.calls_to("chat.postMessage") if "sees us as" in str(c.params.get("text"))]
    assert gap.params["channel"] == "U0001"


def test_the_digest_lists_each_customer_that_moved_tier_once_with_the_way_it_went(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, clock: FakeClock, bot: BotServer
) -> None:
    """A level rated down and back up within the week (a slip of the hand put right) is one customer that moved,
    not "3 moved tier" with three lines for it; a partner rated down to supplier says it went down."""
    add_customer(slack, store)
    add_customer(slack, store, "Globex <@U0001|dana>")
    clock.advance(days=-8)  # last week: Globex is a partner
    ok(slack.command("survey globex level", user_id="U0002"))
    ok(submit(slack, opened(fake_slack), {"level": "partner"}, view_id="VGLOBEX0", user_id="U0002"))
    clock.advance(days=8)
    for n, (name, level) in enumerate(
        [("acme", "partner"), ("globex", "supplier"), ("acme", "supplier"), ("acme", "partner")]
    ):
        ok(slack.command(f"survey {name} level", user_id="U0002"))
        ok(submit(slack, opened(fake_slack), {"level": level}, view_id=f"VMOVE{n}", user_id="U0002"))
    digest = ok(slack.command("digest team"))
    assert ", 2 moved tier," in digest["text"]
    (moved,) = [b["text"]["text"] for b in digest["blocks"] if "Moved tier" in json.dumps(b)]
    assert moved == (
        "*:arrows_counterclockwise: Moved tier (2)*\n"
        "• *Acme Corp*: no tier → Partner → Supplier → Partner\n"
        "• *Globex*: Partner → Supplier :small_red_triangle_down: down"
    )
    # The owner heard of each move as it happened, a move down with a pointer to what is going on.
    bot.settle()
    dms = [c.params["text"] for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "U0001"]
    assert (
        ":small_red_triangle_down: <@U0002> moved *Globex* down from *Partner* to *Supplier*. Worth a look: "
        "`/partner status Globex`."
    ) in dms
    # Acme's slip of the hand and its putting right, by the same person minutes apart, are told as corrections.
    assert ":pencil2: <@U0002> corrected the level they gave *Acme Corp*: *Supplier*, not *Partner*." in dms
    assert (
        ":pencil2: <@U0002> corrected the level they gave *Acme Corp*: *Partner*, not *Supplier* — back where it was."
    ) in dms


@pytest.mark.usefixtures("answers_wait_out_a_held_lock")
@pytest.mark.parametrize("scratch_database", ["postgres"], indirect=True)
def test_two_people_rating_the_level_at_the_same_moment_keep_one_tier_history(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, bot: BotServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dana and Sam send the level survey together: each move in the tier's history must start where the one before
    it ended. On PostgreSQL both read the tier before either wrote it, so both said "no tier → …" and Sam's DM to
    the owner named a move from a tier Acme no longer had."""
    import threading
    from contextlib import suppress

    from sqlalchemy import event

    customer = add_customer(slack, store)
    for user_id in ("U0001", "U0002"):
        ok(slack.command("survey acme level", user_id=user_id))
    views = fake_slack.calls_to("views.open")[-2:]
    inside, together = threading.local(), threading.Barrier(2, timeout=2)
    recorded = store.record_survey_response

    def record(**kwargs: Any) -> Any:
        inside.on = True
        try:
            return recorded(**kwargs)
        finally:
            inside.on = False

    def read_customer(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        # Both deliveries are held once they have read the customer's row inside the answer's transaction.
        if getattr(inside, "on", False) and statement.lstrip().startswith("SELECT") and "FROM customer" in statement:
            with suppress(threading.BrokenBarrierError):
                together.wait()
            together.abort()

    monkeypatch.setattr(store, "record_survey_response", record)
    event.listen(store.engine, "after_cursor_execute", read_customer)
    try:
        threads = [
            threading.Thread(
                target=submit,
                args=(slack, call.params["view"], {"level": level}),
                kwargs={"view_id": f"VRACE{n}", "user_id": user_id},
            )
            for n, (call, level, user_id) in enumerate(
                zip(views, ["partner", "supplier"], ["U0001", "U0002"], strict=True)
            )
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=20)
    finally:
        event.remove(store.engine, "after_cursor_execute", read_customer)
    events = store.customer_events_of_kind(team_id=TEAM_ID, customer_id=customer.id or 0, kind="tier_changed")
    assert len(store.survey_responses(team_id=TEAM_ID, survey="level")) == 2
    assert [e.detail["old"] for e in events] == [None, events[0].detail["new"]], [e.detail for e in events]
    fresh = store.customer(team_id=TEAM_ID, customer_id=customer.id or 0)
    assert fresh is not None and fresh.tier == events[-1].detail["new"]


def test_a_survey_prompt_slack_could_not_send_before_the_customer_was_paused_is_not_sent_while_paused(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, clock: FakeClock, settings: Any
) -> None:
    """Pausing stops every nudge Partner schedules for the customer: the prompt planned before the pause, waiting in
    the outbox because Slack was down, must not reach the owner while the customer is paused."""
    from datetime import timedelta

    from bot.app import make_client
    from schedules.jobs import run_tick

    add_customer(slack, store, "Acme Corp <@U0001|dana> tz=UTC")
    client = make_client(settings)
    quarter = clock.now + timedelta(days=91)
    fake_slack.fail_next("chat.postMessage", status=503, times=20)
    run_tick(store=store, client=client, now=quarter, settings=settings)
    waiting = store.nudges(team_id=TEAM_ID, kinds=["survey_prompt"], due_after=EPOCH)
    assert len(waiting) == 2 and not {r.status for r in waiting} & {"sent", "cancelled"}
    fake_slack.reset()
    clock.set(quarter + timedelta(minutes=30))
    ok(slack.command("pause acme"))
    run_tick(store=store, client=client, now=quarter + timedelta(hours=2), settings=settings)
    assert prompt_dms(fake_slack) == []
    rows = store.nudges(team_id=TEAM_ID, kinds=["survey_prompt"], due_after=EPOCH)
    assert rows and {r.status for r in rows} == {"cancelled"}


def test_their_view_says_when_it_was_given_and_whether_their_people_agree(
    slack: SlackRequests, external: ExternalSlack, fake_slack: FakeSlack, store: Store, clock: FakeClock, bot: BotServer
) -> None:
    """Two of their people see us differently: status and the card said "Partner (latest of 2 people)", hiding
    that the other one sees a supplier, and never said how old their view was."""
    customer = shared_customer(slack, fake_slack, store)
    ok(slack.command("survey acme level"))
    ok(submit(slack, opened(fake_slack), {"level": "supplier_of_choice"}, view_id="VOURS"))
    ok(slack.command("ask acme"))
    answered = []
    for n, (user_id, level) in enumerate([("U0EXT1", "supplier"), ("U0EXT2", "partner"), ("U0EXT3", "partner")]):
        clock.advance(days=1)
        answered.append(clock.now)
        ok(external.block_action(OPEN_CUSTOMER_VIEW, value=str(customer.id), user_id=user_id, channel_id="C0SHARED"))
        answers = {"level": level, "start_doing": "weekly demos", "keep_doing": "quick answers"}
        ok(submit(external, opened(fake_slack), answers, view_id=f"VTHEIRS{n}", user_id=user_id))
        bot.settle()
    latest = slack_date(answered[-1], "{date_short}")
    said = f"*Their view:* Partner ({latest}; latest of 3 people — 1 says Supplier)"
    assert said in json.dumps(ok(slack.command("status acme"))["blocks"], ensure_ascii=False)
    assert said in json.dumps(ok(slack.command("show acme"))["blocks"], ensure_ascii=False)
    # The one who saw a supplier changes their mind: they all agree now.
    clock.advance(days=1)
    ok(external.block_action(OPEN_CUSTOMER_VIEW, value=str(customer.id), user_id="U0EXT1", channel_id="C0SHARED"))
    answers = {"level": "partner", "start_doing": "", "keep_doing": ""}
    ok(submit(external, opened(fake_slack), answers, view_id="VTHEIRS4", user_id="U0EXT1"))
    status = json.dumps(ok(slack.command("status acme"))["blocks"], ensure_ascii=False)
    assert f"*Their view:* Partner ({slack_date(clock.now, '{date_short}')}; latest of 3 people)" in status


def test_their_form_sent_twice_at_once_and_slacks_retry_store_one_answer_and_tell_the_owner_once(
    slack: SlackRequests, external: ExternalSlack, fake_slack: FakeSlack, store: Store, bot: BotServer
) -> None:
    """A double click on Send and Slack's retry of it arrive together: one answer, each delivery thanked, one DM."""
    import threading

    customer = shared_customer(slack, fake_slack, store)
    ok(slack.command("survey acme level"))
    ok(submit(slack, opened(fake_slack), {"level": "partner"}, view_id="VOURLEVEL"))
    ok(slack.command("ask acme"))
    ok(external.block_action(OPEN_CUSTOMER_VIEW, value=str(customer.id), user_id="U0EXT1", channel_id="C0SHARED"))
    view = opened(fake_slack)
    answers = {"level": "supplier", "start_doing": "call us back", "keep_doing": "the weekly demo"}
    replies: list[Any] = []
    deliveries = [{}, {}, {"retry_num": 1, "retry_reason": "http_timeout"}]
    threads = [
        threading.Thread(
            target=lambda k=kwargs: replies.append(
                submit(external, view, answers, view_id="VTWICE", user_id="U0EXT1", **k)
            )
        )
        for kwargs in deliveries
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert [ok(r)["response_action"] for r in replies] == ["update"] * 3
    bot.settle()
    assert len(store.survey_responses(team_id=TEAM_ID, survey="customer_view")) == 1
    gaps = [c for c in fake_slack.calls_to("chat.postMessage") if "sees us as" in str(c.params.get("text"))]
    assert len(gaps) == 1


def test_their_view_counts_in_the_health_score_and_status_the_card_and_the_trend_say_so(
    slack: SlackRequests, external: ExternalSlack, fake_slack: FakeSlack, store: Store, clock: FakeClock, bot: BotServer
) -> None:
    """We rate ourselves a partner; a week later their person says "supplier". Their view used to change nothing in
    the score: now the lower of the two counts, the reasons say whose view it is, and the trend shows the fall."""
    customer = shared_customer(slack, fake_slack, store)
    globex = add_customer(slack, store, "Globex")  # never asked: scored on our view alone, as before
    for name in ("acme", "globex"):
        ok(slack.command(f"survey {name} level"))
        ok(submit(slack, opened(fake_slack), {"level": "partner"}, view_id=f"VOURS{name}"))
    bot.settle()

    def score(of: Customer) -> int | None:
        fresh = store.customer(team_id=TEAM_ID, customer_id=of.id)  # type: ignore[arg-type]
        assert fresh is not None
        return fresh.health_score

    before, globex_score = score(customer), score(globex)
    assert before == globex_score == 100  # nothing else recorded yet: our view alone
    ok(slack.command("ask acme"))
    clock.advance(days=7)
    ok(external.block_action(OPEN_CUSTOMER_VIEW, value=str(customer.id), user_id="U0EXT1", channel_id="C0SHARED"))
    answers = {"level": "supplier", "start_doing": "call us back", "keep_doing": "the weekly demo"}
    ok(submit(external, opened(fake_slack), answers, view_id="VTHEIRS", user_id="U0EXT1"))
    bot.settle()
    assert score(customer) == 20 and score(globex) == globex_score  # supplier's 20, as if we had rated it so
    status = ok(slack.command("status acme"))
    text = json.dumps(status["blocks"], ensure_ascii=False)
    assert "They see us as a supplier; we think a partner" in text, text
    assert "↘ down 80 since last week" in text
    assert "2 levels higher than they do" in text
    card = json.dumps(ok(slack.command("show acme"))["blocks"], ensure_ascii=False)
    assert "Counts in the health score as *Supplier*, the lower of the two" in card, card
    digest = json.dumps(ok(slack.command("digest mine"))["blocks"], ensure_ascii=False)
    said = "*Acme Corp*: they see us as *Supplier*; we say *Partner* — the health score counts *Supplier* :warning:"
    assert ":speech_balloon: In their own words (1)*" in digest and said in digest, digest
    # Their person comes round to our view: the score comes back, and says both sides agree.
    clock.advance(days=7)
    ok(external.block_action(OPEN_CUSTOMER_VIEW, value=str(customer.id), user_id="U0EXT1", channel_id="C0SHARED"))
    ok(submit(external, opened(fake_slack), {**answers, "level": "partner"}, view_id="VTHEIRS2", user_id="U0EXT1"))
    bot.settle()
    assert score(customer) == 100
    text = json.dumps(ok(slack.command("status acme"))["blocks"], ensure_ascii=False)
    assert "↗ up 80 since last week" in text and "They see us as" not in text


def test_one_answer_of_theirs_that_opens_a_gap_and_drops_the_health_makes_one_dm_saying_both(
    slack: SlackRequests,
    external: ExternalSlack,
    fake_slack: FakeSlack,
    store: Store,
    clock: FakeClock,
    bot: BotServer,
    settings: Settings,
) -> None:
    """Their "supplier" under our "partner" cost Dana two DMs, the gap note and then the health drop, for one answer."""
    customer = shared_customer(slack, fake_slack, store)
    ok(slack.command("survey acme level"))
    ok(submit(slack, opened(fake_slack), {"level": "partner"}, view_id="VOURS"))
    ok(slack.command("ask acme"))
    bot.settle()

    def owner_dms() -> list[str]:
        return [c.params["text"] for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "U0001"]

    def ticks() -> None:  # the outbox's sender, through the owner's working day
        for hours in range(0, 25, 4):
            report = run_tick(store=store, client=make_client(settings), now=clock.now, settings=settings)
            assert not report.failed, report.failed
            if hours < 24:
                clock.advance(hours=4)

    clock.advance(days=7)
    ok(external.block_action(OPEN_CUSTOMER_VIEW, value=str(customer.id), user_id="U0EXT1", channel_id="C0SHARED"))
    answers = {"level": "supplier", "start_doing": "call us back", "keep_doing": "the weekly demo"}
    ok(submit(external, opened(fake_slack), answers, view_id="VTHEIRS", user_id="U0EXT1"))
    bot.settle()
    ticks()
    (dm,) = owner_dms()
    assert "*Acme Corp*'s health fell from 100 to 20 this week." in dm
    assert "*Acme Corp* sees us as *Supplier*; we rate the relationship *Partner* — 2 levels higher." in dm

    # They come round (the gap closes, the score comes back); weeks later a fall of another cause is DMed as before.
    clock.advance(days=8)
    ok(external.block_action(OPEN_CUSTOMER_VIEW, value=str(customer.id), user_id="U0EXT1", channel_id="C0SHARED"))
    ok(submit(external, opened(fake_slack), {**answers, "level": "partner"}, view_id="VTHEIRS2", user_id="U0EXT1"))
    bot.settle()
    ticks()
    assert len(owner_dms()) == 1
    clock.advance(days=8)
    ok(slack.command("checkin acme red they are looking at other vendors", user_id="U0002"))
    bot.settle()
    ticks()
    # That red check-in makes it fall too: one DM says both (handlers.followups.take_health_drop), no gap note.
    *_, red = owner_dms()
    assert len(owner_dms()) == 2 and "logged a *red* check-in" in red
    assert "\n:chart_with_downwards_trend: *Acme Corp*'s health fell from 100 to 33 this week." in red
    assert "sees us as" not in red and red.endswith("See `/partner status Acme Corp`.")


def test_their_view_half_a_year_old_counts_half_as_a_stale_scorecard_does(
    slack: SlackRequests,
    external: ExternalSlack,
    fake_slack: FakeSlack,
    store: Store,
    clock: FakeClock,
    bot: BotServer,
    settings: Settings,
) -> None:
    """Their "supplier" of a year ago held the level down in full until they answered again."""
    customer = shared_customer(slack, fake_slack, store)
    ok(slack.command("survey acme level"))
    ok(submit(slack, opened(fake_slack), {"level": "partner"}, view_id="VOURS"))
    ok(slack.command("ask acme"))
    ok(external.block_action(OPEN_CUSTOMER_VIEW, value=str(customer.id), user_id="U0EXT1", channel_id="C0SHARED"))
    answers = {"level": "supplier", "start_doing": "call us back", "keep_doing": "the weekly demo"}
    ok(submit(external, opened(fake_slack), answers, view_id="VTHEIRS", user_id="U0EXT1"))
    bot.settle()

    def scored_after(days: int) -> tuple[int | None, str]:
        clock.advance(days=days)
        report = run_tick(store=store, client=make_client(settings), now=clock.now, settings=settings)
        assert not report.failed, report.failed
        fresh = store.customer(team_id=TEAM_ID, customer_id=customer.id)  # type: ignore[arg-type]
        assert fresh is not None and fresh.health_at == clock.now
        return fresh.health_score, json.dumps(ok(slack.command("status acme"))["blocks"], ensure_ascii=False)

    score, status = scored_after(179)  # still fresh: supplier's 20, in full
    assert score == 20 and "They see us as a supplier; we think a partner" in status, status
    score, status = scored_after(2)  # over 180 days: halfway between their 20 and our 100
    assert score == 60, status
    assert "They said a supplier 6 months ago (counts half); we think a partner" in status, status
    assert "Their answer is 6 months old, so it counts half in the health score." in status, status
    card = json.dumps(ok(slack.command("show acme"))["blocks"], ensure_ascii=False)
    assert "Their answer is 6 months old, so it counts half" in card and "the lower of the two" not in card, card


def test_their_answer_exports_as_theirs_with_what_they_typed_and_nothing_of_partners_access(
    slack: SlackRequests, external: ExternalSlack, fake_slack: FakeSlack, store: Store, bot: BotServer
) -> None:
    """The survey answers file says who answered and that they are the customer's (external), with their words as
    typed — a mention, an `&`, a spreadsheet formula made harmless — and no token of Partner's anywhere in it."""
    customer = shared_customer(slack, fake_slack, store)
    ok(slack.command("ask acme"))
    ok(external.block_action(OPEN_CUSTOMER_VIEW, value=str(customer.id), user_id="U0EXT1", channel_id="C0SHARED"))
    answers = {"level": "supplier", "start_doing": "Loop in <@U0001> & R&D <b>", "keep_doing": "=SUM(A1:A9)"}
    ok(submit(external, opened(fake_slack), answers, view_id="VEXPORT", user_id="U0EXT1"))
    bot.settle()
    ok(slack.command("export acme"))
    fake_slack.wait_for("files.completeUploadExternal")
    assert wait_after_ack()
    files = {f["filename"]: f for f in fake_slack.files.values() if f.get("completed")}
    (data,) = [f["bytes"] for name, f in files.items() if name.startswith("partner-survey-answers-acme-corp-")]
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    theirs = {r["question"]: r for r in rows if r["survey"] == "customer_view"}
    assert set(theirs) == {"level", "start_doing", "keep_doing"}
    assert {(r["respondent_id"], r["external"]) for r in theirs.values()} == {("U0EXT1", "true")}
    assert theirs["level"]["answer"] == "supplier"
    assert theirs["start_doing"]["answer"] == "Loop in <@U0001> & R&D <b>"
    assert theirs["keep_doing"]["answer"] == "'=SUM(A1:A9)"
    assert BOT_TOKEN.encode() not in data and b"xox" not in data


def test_an_answer_sent_after_the_channel_was_unshared_is_kept_and_asking_again_is_refused(
    slack: SlackRequests, external: ExternalSlack, fake_slack: FakeSlack, store: Store, bot: BotServer
) -> None:
    """Their person opened the form, then the channel stopped being shared (Slack's channel_unshared): what they
    typed is theirs and is kept; a new `/partner ask` there is refused with why, and nothing more is posted."""
    customer = shared_customer(slack, fake_slack, store)
    ok(slack.command("ask acme"))
    ok(external.block_action(OPEN_CUSTOMER_VIEW, value=str(customer.id), user_id="U0EXT1", channel_id="C0SHARED"))
    view = opened(fake_slack)
    fake_slack.channels["C0SHARED"]["is_ext_shared"] = False
    unshared = {"type": "channel_unshared", "channel": "C0SHARED", "previously_connected_team_id": EXTERNAL_TEAM}
    assert slack.event({**unshared, "is_ext_shared": False}).status == 200
    answers = {"level": "supplier_of_choice", "start_doing": "monthly reviews", "keep_doing": "fast fixes"}
    reply = ok(submit(external, view, answers, view_id="VLATE", user_id="U0EXT1"))
    assert reply["response_action"] == "update" and "Thank you" in reply["view"]["title"]["text"]
    (theirs,) = store.survey_responses(team_id=TEAM_ID, survey="customer_view")
    assert (theirs.external, theirs.answers["level"]) == (True, "supplier_of_choice")
    assert "isn't shared with *Acme Corp*" in ok(slack.command("ask acme"))["text"]
    bot.settle()
    assert len(fake_slack.messages["C0SHARED"]) == 1  # the first invitation only
    assert "*Their view:* Supplier of choice" in json.dumps(ok(slack.command("show acme"))["blocks"])


def test_their_view_alone_counts_until_we_rate_the_level_and_the_card_says_so(
    slack: SlackRequests,
    external: ExternalSlack,
    fake_slack: FakeSlack,
    store: Store,
    bot: BotServer,
    clock: FakeClock,
    settings: Settings,
) -> None:
    customer = shared_customer(slack, fake_slack, store)
    ok(slack.command("ask acme"))
    ok(external.block_action(OPEN_CUSTOMER_VIEW, value=str(customer.id), user_id="U0EXT1", channel_id="C0SHARED"))
    answers = {"level": "supplier", "start_doing": "call us back", "keep_doing": "the weekly demo"}
    ok(submit(external, opened(fake_slack), answers, view_id="VALONE", user_id="U0EXT1"))
    bot.settle()
    fresh = store.customer(team_id=TEAM_ID, customer_id=customer.id)  # type: ignore[arg-type]
    assert fresh is not None and (fresh.health_score, fresh.health_band) == (20, "red")
    card = json.dumps(ok(slack.command("show acme"))["blocks"], ensure_ascii=False)
    assert "*Our view:* not rated yet" in card
    assert "Counts in the health score as *Supplier* until we rate it ourselves." in card, card
    assert "They see us as a supplier" in json.dumps(ok(slack.command("status acme"))["blocks"], ensure_ascii=False)
    bot.settle()  # status stores today's score after the answer: not over the next day's
    # The next day's scheduled score (the daily job, in batches) reads their view as the answer's recompute did.
    clock.advance(days=1)
    report = run_tick(store=store, client=make_client(settings), now=clock.now, settings=settings)
    assert not report.failed, report.failed
    fresh = store.customer(team_id=TEAM_ID, customer_id=customer.id)  # type: ignore[arg-type]
    assert fresh is not None and fresh.health_score == 20 and fresh.health_at == clock.now
