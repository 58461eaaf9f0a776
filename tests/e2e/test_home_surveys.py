"""Surveys from App Home: a Home row's survey menu (views.open) and the card opened from Home, whose survey
buttons push the survey on top of it (views.push), as Slack sends those clicks and submissions."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col

from bot.app import FOLLOW_UP_WORKERS
from domain.surveys import SURVEYS
from handlers.home_publisher import publisher_of
from handlers.ids import CARD_ASK, HOME_OPEN_CARD, HOME_SURVEY, OPEN_CUSTOMER_VIEW, OPEN_SURVEY, SURVEY_MODAL
from storage.models import Customer, SurveyResponse
from storage.store import Store
from tests.e2e.test_surveys import ExternalSlack, all_ratings, state
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import TEAM_ID, BotServer

DANA = "U0001"


def add_customer(slack: SlackRequests, store: Store, text: str = "Acme Corp <#C0ACME|acme> <@U0001|dana>") -> Customer:
    reply = slack.command(f"add {text}")
    assert reply.status == 200 and "Added" in reply.json()["text"], reply.text
    return store.customers(team_id=TEAM_ID)[-1]


def shared_customer(bot: BotServer, slack: SlackRequests, fake_slack: FakeSlack, store: Store) -> Customer:
    fake_slack.add_channel("C0SHARED", name="acme-shared", is_ext_shared=True, members=[DANA])
    add_customer(slack, store, "Acme Corp <#C0SHARED|acme-shared> <@U0001|dana>")
    bot.settle()  # Partner looks the channel up after the answer
    (customer,) = store.customers(team_id=TEAM_ID)
    assert customer.channel_shared
    return customer


def open_home(bot: BotServer, slack: SlackRequests, fake_slack: FakeSlack, user_id: str = DANA) -> dict[str, Any]:
    """The Home view Slack shows the user, as it comes back inside a click's payload (type "home")."""
    before = len(fake_slack.calls_to("views.publish"))
    assert slack.event({"type": "app_home_opened", "user": user_id, "channel": "D0001", "tab": "home"}).status == 200
    fake_slack.wait_for("views.publish", before + 1)
    home = fake_slack.published_home[user_id]
    assert home["type"] == "home"
    return home


def row(home: dict[str, Any], customer_id: int) -> str:
    return str(next(b for b in home["blocks"] if b.get("block_id") == f"customer_{customer_id}")["text"]["text"])


def row_menu(home: dict[str, Any], customer_id: int) -> dict[str, Any]:
    actions = next(b for b in home["blocks"] if b.get("block_id") == f"customer_{customer_id}_actions")
    return next(e for e in actions["elements"] if e["action_id"] == HOME_SURVEY)


def elements(view: dict[str, Any]) -> list[dict[str, Any]]:
    """Every interactive element of a view: section accessories and actions blocks' elements."""
    found = []
    for block in view["blocks"]:
        if "accessory" in block:
            found.append(block["accessory"])
        found.extend(block.get("elements", []) if block["type"] == "actions" else [])
    return found


def open_card(slack: SlackRequests, fake_slack: FakeSlack, home: dict[str, Any], customer_id: int) -> dict[str, Any]:
    """Home → Open card: the card modal as Slack keeps it (its id comes back in the clicks made inside it)."""
    before = len(fake_slack.calls_to("views.open"))
    assert slack.block_action(HOME_OPEN_CARD, value=str(customer_id), view=home).status == 200
    opened = fake_slack.wait_for("views.open", before + 1)[-1]
    assert opened.ok, opened.response
    return fake_slack.views[opened.response["view"]["id"]]


def submit(slack: SlackRequests, view: dict[str, Any], answers: dict[str, str | None], **fields: Any) -> Any:
    """The survey's view_submission as Slack sends it: the view's own id, metadata and stack ids."""
    meta = json.loads(view["private_metadata"])
    return slack.view_submission(
        view["callback_id"],
        state(SURVEYS[meta["survey"]], answers),
        private_metadata=view["private_metadata"],
        view_id=view["id"],
        view_fields={"previous_view_id": view.get("previous_view_id"), "root_view_id": view.get("root_view_id")},
        **fields,
    )


def test_the_card_opened_from_home_pushes_a_survey_and_comes_back_updated(
    bot: BotServer, slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    customer = add_customer(slack, store)
    assert customer.health_score is None or customer.health_score >= 0
    home = open_home(bot, slack, fake_slack)
    card = open_card(slack, fake_slack, home, customer.id)

    # The card offers the same surveys as `/partner show`'s: no "Ask them", the channel is not shared.
    offered = {e["value"] for e in elements(card) if e["action_id"] == OPEN_SURVEY}
    assert offered == {f"{s}:{customer.id}" for s in ("scorecard", "level", "practices", "profile")}
    assert CARD_ASK not in {e["action_id"] for e in elements(card)}

    # A click inside a modal may only push: the survey goes on top of the card.
    assert slack.block_action(OPEN_SURVEY, value=f"scorecard:{customer.id}", view=card).status == 200
    (pushed_call,) = fake_slack.wait_for("views.push", 1)
    assert len(fake_slack.calls_to("views.open")) == 1  # the card's own
    pushed = fake_slack.views[pushed_call.response["view"]["id"]]
    assert pushed["callback_id"] == SURVEY_MODAL and pushed["previous_view_id"] == card["id"]
    assert json.loads(pushed["private_metadata"])["card_view_id"] == card["id"]

    # Saving closes the survey alone ("back to the card"), and the card underneath shows the new score.
    reply = submit(slack, pushed, all_ratings(SURVEYS["scorecard"], "5"))
    assert reply.status == 200 and not reply.body, reply.text
    (saved,) = store.survey_responses(team_id=TEAM_ID, survey="scorecard", customer_id=customer.id)
    assert saved.score == 5.0
    (redrawn,) = fake_slack.wait_for("views.update", 1)  # after the answer: the score first, then the card
    fresh = store.customer(team_id=TEAM_ID, customer_id=customer.id)
    assert fresh is not None and fresh.health_score is not None
    assert redrawn.ok and redrawn.params["view_id"] == card["id"]
    card_text = json.dumps(fake_slack.views[card["id"]]["blocks"], ensure_ascii=False)
    assert "Saved your ideal-customer scorecard about *Acme Corp* (average 5.0/5)" in card_text
    assert "*Ideal-customer scorecard*\\n5.0/5 on average — <@U0001>" in card_text  # as the `/partner show` card
    assert "*Health trend:* not enough data yet" in card_text  # scored this week only: no trend yet, in words
    assert f"*{fresh.health_score}*" in card_text
    bot.settle()
    assert fake_slack.calls_to("chat.postMessage") == []  # said on the card, not again by DM

    # Home is republished with the new health, without the user reopening it.
    publisher = publisher_of(bot.app)
    assert publisher is not None and (TEAM_ID, DANA) in publisher.pending()
    publisher.flush()
    assert f"*{fresh.health_score}*" in row(fake_slack.published_home[DANA], customer.id)


def test_a_home_rows_survey_menu_opens_the_survey_and_home_shows_the_new_tier(
    bot: BotServer, slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    customer = add_customer(slack, store)
    home = open_home(bot, slack, fake_slack)
    menu = row_menu(home, customer.id)
    level = next(o for o in menu["options"] if o["value"] == f"level:{customer.id}")
    reply = slack.block_action(HOME_SURVEY, view=home, action_type="overflow", selected_option=level)
    assert reply.status == 200
    (opened,) = fake_slack.wait_for("views.open", 1)  # from Home: the click's trigger opens the modal
    assert fake_slack.calls_to("views.push") == []
    survey = fake_slack.views[opened.response["view"]["id"]]
    assert json.loads(survey["private_metadata"]) == {"survey": "level", "customer_id": customer.id}

    assert submit(slack, survey, {"level": "partner", "move_up": "joint roadmap"}).status == 200
    fresh = store.customer(team_id=TEAM_ID, customer_id=customer.id)
    assert fresh is not None and fresh.tier == "partner"
    # No card to come back to: the author hears it was saved by DM, as from any form without a channel.
    told = fake_slack.wait_for("chat.postMessage", 1)
    assert "Saved your relationship level about *Acme Corp*" in told[0].params["text"]
    publisher = publisher_of(bot.app)
    assert publisher is not None
    publisher.flush()
    assert "tier Partner" in row(fake_slack.published_home[DANA], customer.id)


def test_ask_them_is_offered_where_the_channel_is_shared_and_asks_from_the_card_and_home(
    bot: BotServer, slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    customer = shared_customer(bot, slack, fake_slack, store)
    # The `/partner show` card and the Home card offer it alike.
    shown = slack.command("show acme").json()
    assert CARD_ASK in {e["action_id"] for e in elements(shown)}
    home = open_home(bot, slack, fake_slack)
    ask = next(o for o in row_menu(home, customer.id)["options"] if o["value"] == f"ask:{customer.id}")
    card = open_card(slack, fake_slack, home, customer.id)
    (ask_button,) = [e for e in elements(card) if e["action_id"] == CARD_ASK]

    assert slack.block_action(CARD_ASK, value=ask_button["value"], view=card).status == 200
    (redrawn,) = fake_slack.wait_for("views.update", 1)
    assert redrawn.params["view_id"] == card["id"]
    assert "Asked *Acme Corp*'s people for their view in <#C0SHARED>" in json.dumps(redrawn.params["view"])
    (invitation,) = fake_slack.messages["C0SHARED"]
    assert invitation["blocks"][1]["elements"][0]["action_id"] == OPEN_CUSTOMER_VIEW

    # From the Home row's menu: the answer comes by DM (Home has no channel to answer in).
    assert slack.block_action(HOME_SURVEY, view=home, action_type="overflow", selected_option=ask).status == 200
    dm = fake_slack.wait_for("chat.postMessage", 3)[-1]
    assert dm.params["channel"] == DANA and "Asked *Acme Corp*'s people" in dm.params["text"]
    assert len(fake_slack.messages["C0SHARED"]) == 2

    # From the `/partner show` card (a message): an answer only the asker sees, under the card.
    assert slack.block_action(CARD_ASK, value=str(customer.id), message={"ts": "1.2"}).status == 200
    (answered,) = fake_slack.wait_for("response_url", 1)
    assert answered.params["response_type"] == "ephemeral" and "Asked *Acme Corp*'s people" in answered.params["text"]
    assert len(fake_slack.messages["C0SHARED"]) == 3


def test_a_card_click_that_is_refused_says_why_on_top_of_the_card(
    bot: BotServer, slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    customer = shared_customer(bot, slack, fake_slack, store)
    home = open_home(bot, slack, fake_slack)
    card = open_card(slack, fake_slack, home, customer.id)

    # The channel stopped being shared since the card was drawn: asking is refused, in a view pushed on the card.
    fake_slack.channels["C0SHARED"]["is_ext_shared"] = False
    assert slack.block_action(CARD_ASK, value=str(customer.id), view=card).status == 200
    (note,) = fake_slack.wait_for("views.push", 1)
    assert "isn't shared with *Acme Corp* through Slack Connect" in json.dumps(note.params["view"])
    assert len(fake_slack.messages.get("C0SHARED", [])) == 0

    # Someone of the customer's own organisation (a forwarded card, a forged click) may answer no survey of ours.
    external = ExternalSlack(slack.base_url, signing_secret=slack.signing_secret, team_id=TEAM_ID, fake=fake_slack)
    assert external.block_action(OPEN_SURVEY, value=f"level:{customer.id}", view=card, user_id="U0EXT1").status == 200
    refusal = fake_slack.wait_for("views.push", 2)[-1]
    assert "Only Acme's account team can answer this survey" in json.dumps(refusal.params["view"])
    assert len(fake_slack.calls_to("views.open")) == 1  # the card's own: no survey opened
    assert store.survey_responses(team_id=TEAM_ID) == []


def test_the_card_opened_from_home_has_the_boundaries_section_and_a_click_redraws_it(
    bot: BotServer, slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    """The issue's "Boundaries section with buttons on the customer card", on the card opened from Home too: a click
    there has no response_url, so the card itself shows what changed."""
    from handlers.ids import BOUNDARY_SLIP

    customer = add_customer(slack, store)
    assert "Proposed" in slack.command('boundary acme add "We answer within one business day" value=1d').json()["text"]
    assert "is now active" in slack.command("boundary acme activate 1").json()["text"]
    card = open_card(slack, fake_slack, open_home(bot, slack, fake_slack), customer.id)
    shown = json.dumps(card["blocks"], ensure_ascii=False)
    assert "*Boundaries*" in shown and "“We answer within one business day”" in shown
    slip = next(e for e in elements(card) if e["action_id"] == BOUNDARY_SLIP)
    block = next(b for b in card["blocks"] if slip in b.get("elements", []))
    # A double click logs one slip. The first click's rescore, whose follow-up draws the card again, is held until
    # both clicks were answered: the card keeps the second click's words (as it does when the rescore is quicker).
    held = threading.Event()
    busy = [bot.app.lazy_pool.submit(held.wait) for _ in range(FOLLOW_UP_WORKERS)]
    try:
        for _click in range(2):
            action = slack.block_action(BOUNDARY_SLIP, value=slip["value"], block_id=block["block_id"], view=card)
            assert action.status == 200
    finally:
        held.set()
        for future in busy:
            future.result(timeout=10)
    bot.settle()
    (boundary,) = store.boundary_records(team_id=TEAM_ID, customer_id=customer.id)
    assert len(boundary.slips) == 1
    updates = fake_slack.wait_for("views.update", 3)
    assert all(u.params["view_id"] == card["id"] for u in updates)
    redrawn = json.dumps(fake_slack.views[card["id"]]["blocks"], ensure_ascii=False)
    assert "That slip on “We answer within one business day” is already logged." in redrawn
    assert "1 slip in the last 30 days" in redrawn


def test_a_slip_clicked_on_the_card_from_home_shows_the_health_score_it_moved(
    bot: BotServer, slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    """The score a click moves is stored by the click's follow-up, after the card was redrawn: the card is drawn
    again then, or it would show the score from before the slip until reopened."""
    from handlers.ids import BOUNDARY_SLIP

    customer = add_customer(slack, store)
    assert customer.id is not None
    slack.command("checkin acme green kickoff went well")  # a score above the boundary's 0
    assert "Proposed" in slack.command('boundary acme add "We answer within one business day" value=1d').json()["text"]
    assert "is now active" in slack.command("boundary acme activate 1").json()["text"]
    bot.settle()
    before = store.customer(team_id=TEAM_ID, customer_id=customer.id)
    assert before is not None and before.health_score is not None
    card = open_card(slack, fake_slack, open_home(bot, slack, fake_slack), customer.id)
    assert f"*{before.health_score}*" in card["blocks"][0]["text"]["text"]
    slip = next(e for e in elements(card) if e["action_id"] == BOUNDARY_SLIP)
    block = next(b for b in card["blocks"] if slip in b.get("elements", []))
    assert slack.block_action(BOUNDARY_SLIP, value=slip["value"], block_id=block["block_id"], view=card).status == 200
    bot.settle()
    after = store.customer(team_id=TEAM_ID, customer_id=customer.id)
    assert after is not None and after.health_score is not None and after.health_score < before.health_score
    shown = fake_slack.views[card["id"]]["blocks"]
    title = next(b["text"]["text"] for b in shown if "*Acme Corp*  ·" in b.get("text", {}).get("text", ""))
    assert f"*{after.health_score}*" in title, title
    assert "Logged a slip" in json.dumps(shown, ensure_ascii=False)


def test_a_home_row_shows_the_customers_own_latest_view_beside_ours(
    bot: BotServer, slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    """Their `/partner ask` answer feeds the health score and the card shows it; Home's row said nothing of it."""
    acme = add_customer(slack, store)
    globex = add_customer(slack, store, "Globex <@U0001|dana>")
    now = datetime.now(UTC)
    with Session(store.engine) as session:
        session.execute(update(Customer).where(col(Customer.id) == acme.id).values(tier="partner"))  # our view
        for level, days_ago, respondent in [("partner", 30, "W1"), ("supplier", 2, "W2")]:  # newest: Supplier
            session.add(
                SurveyResponse(
                    team_id=TEAM_ID,
                    customer_id=acme.id,
                    survey="customer_view",
                    respondent_id=respondent,
                    external=True,
                    answers={"level": level},
                    created_at=now - timedelta(days=days_ago),
                )
            )
        session.add(  # given over 180 days ago: counts half in the health score, and the row says so
            SurveyResponse(
                team_id=TEAM_ID,
                customer_id=globex.id,
                survey="customer_view",
                respondent_id="W3",
                external=True,
                answers={"level": "partner"},
                created_at=now - timedelta(days=200),
            )
        )
        session.commit()
    home = open_home(bot, slack, fake_slack)
    assert acme.id is not None and globex.id is not None
    assert ":speech_balloon: their view *Supplier*, lower than ours" in row(home, acme.id)
    assert ":speech_balloon: their view *Partner* (6 months old, counts half)" in row(home, globex.id)
