"""Acceptance of issues 5 (boundaries) and 6 (surveys, health) as a demanding Slack user drives them:
escaped names and channels, the command forms the issue text spells, and typing slips."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.settings import Settings
from domain.surveys import SURVEYS
from handlers.ids import (
    BOUNDARY_DECIDE_RENEGOTIATE,
    BOUNDARY_KIND,
    BOUNDARY_RENEGOTIATE_MODAL,
    BOUNDARY_RETIRE,
    BOUNDARY_TEXT,
    BOUNDARY_VALUE,
    OPEN_CUSTOMER_VIEW,
    OPEN_SURVEY,
)
from storage.store import Store
from tests.e2e import test_boundaries, test_hardening
from tests.e2e.test_boundaries import FIRST, _escalate, channel_posts, ephemeral, ny, records, tick
from tests.e2e.test_hardening import drain_lazy_listeners
from tests.e2e.test_surveys import ExternalSlack, add_customer, all_ratings, ok, opened, shared_customer, submit
from tests.e2e.test_surveys import external as external
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import TEAM_ID, BotServer, FakeClock

# The real app with a 1 s Web API timeout (fixtures shared with the hardening tests).
impatient_bot = test_hardening.impatient_bot
impatient = test_hardening.impatient


@pytest.fixture
def acme_corp(slack: SlackRequests, bot: BotServer, clock: FakeClock) -> SlackRequests:
    """test_boundaries' Acme Corp: Dana's, with its channel and two proposed needs."""
    return test_boundaries.acme.__wrapped__(slack, bot, clock)  # type: ignore[attr-defined,no-any-return]


def test_a_name_with_an_ampersand_works_as_slack_escapes_it(slack: SlackRequests, store: Store) -> None:
    ephemeral(slack.command("add Smith &amp; Co <#C0SMITH|smith> <@U0001|dana>"))
    assert store.customers(team_id=TEAM_ID)[-1].name == "Smith & Co"
    assert "Proposed “Calls at 9am”" in ephemeral(slack.command('boundary Smith &amp; Co add "Calls at 9am"'))
    assert "Calls at 9am" in ephemeral(slack.command("boundary smith &amp; co list"))
    assert "Smith & Co" in ephemeral(slack.command("status Smith &amp; Co"))


@pytest.mark.parametrize(
    "text",
    ["boundary <#C0ACME|acme> list", "boundary <#C0ACME> list", "status <#C0ACME|acme>", "survey <#C0ACME|acme>"],
)
def test_the_customer_can_be_named_by_its_channel(acme_corp: SlackRequests, text: str) -> None:
    assert "Acme Corp" in ephemeral(acme_corp.command(text))


def test_a_channel_no_customer_uses_is_named_back(acme_corp: SlackRequests) -> None:
    reply = ephemeral(acme_corp.command("status <#C0OTHER|random>"))
    assert "No customer has <#C0OTHER> as its channel" in reply and "/partner status &lt;customer&gt;" in reply


def test_held_and_slip_without_a_number_mean_the_one_active_agreement(acme_corp: SlackRequests, store: Store) -> None:
    assert "Which one?" in ephemeral(acme_corp.command("boundary acme held"))  # nothing active yet: ask
    ephemeral(acme_corp.command("boundary acme activate 1"))
    reply = ephemeral(acme_corp.command("boundary acme slip replied after 3 days"))
    assert f"Logged a slip on “{FIRST}”" in reply
    assert records(store)[0].slips[-1].note == "replied after 3 days"
    reply = ephemeral(acme_corp.command("boundary acme held"))
    assert f"“{FIRST}” is holding" in reply and "activate 2" in reply
    assert records(store)[0].rule.status == "held"


@pytest.mark.parametrize(
    ("text", "stored"),
    [('boundary acme add "Calls at 9am”', "Calls at 9am"), ('boundary acme add “Calls at 9am"', "Calls at 9am")],
)
def test_mixed_straight_and_curly_quotes_close_the_text(
    acme_corp: SlackRequests, store: Store, text: str, stored: str
) -> None:
    assert "Proposed “Calls at 9am”" in ephemeral(acme_corp.command(text))
    assert records(store)[-1].rule.text == stored


@pytest.mark.parametrize(
    "text", ['boundary acme add "Calls at 9am kind=custom', 'boundary acme wording 1 "Hello there']
)
def test_an_unclosed_quote_is_named_back_and_nothing_is_stored(
    acme_corp: SlackRequests, store: Store, text: str
) -> None:
    before = [(r.rule, r.row.reminder_text) for r in records(store)]
    reply = ephemeral(acme_corp.command(text))
    assert "is never closed" in reply and "Usage:" in reply
    assert [(r.rule, r.row.reminder_text) for r in records(store)] == before


def test_status_hints_name_the_customer(acme_corp: SlackRequests) -> None:
    reply = ephemeral(acme_corp.command("status acme"))
    assert "`/partner survey Acme Corp level`" in reply and "`/partner ask Acme Corp`" in reply


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('boundary acme add "<!here> we answer within a day"', "@here"),
        ('boundary acme add "Ping <!channel|@channel> for anything urgent"', "@channel"),
        ('boundary acme wording 1 "<!everyone> remember: one business day"', "@everyone"),
        ('boundary acme add "Escalations go to <!subteam^S0CS|@cs-team> first"', "@cs-team"),  # the group, weekly
    ],
)
def test_an_agreement_never_broadcasts_to_the_customer_channel(
    acme_corp: SlackRequests, store: Store, text: str, named: str
) -> None:
    before = [(r.rule, r.row.reminder_text) for r in records(store)]
    reply = ephemeral(acme_corp.command(text))
    assert f"Leave out {named}" in reply and "Usage:" in reply
    assert [(r.rule, r.row.reminder_text) for r in records(store)] == before


def test_renegotiated_text_problems_show_next_to_the_text(
    acme_corp: SlackRequests, fake_slack: FakeSlack, store: Store, clock: FakeClock, settings: Settings
) -> None:
    message = _escalate(acme_corp, fake_slack, store, clock, settings)
    first = records(store)[0]
    acme_corp.block_action(BOUNDARY_DECIDE_RENEGOTIATE, value=str(first.id), message=message, channel_id="DDANA")
    view = fake_slack.calls_to("views.open")[-1].params["view"]

    def submit(text: str, value: str | None = None) -> dict[str, str]:
        values = {
            "text": {BOUNDARY_TEXT: {"type": "plain_text_input", "value": text}},
            "kind": {BOUNDARY_KIND: {"type": "static_select", "selected_option": {"value": "custom"}}},
            "value": {BOUNDARY_VALUE: {"type": "plain_text_input", "value": value}},
        }
        answer = acme_corp.view_submission(
            BOUNDARY_RENEGOTIATE_MODAL, values, private_metadata=view["private_metadata"]
        )
        assert answer.json()["response_action"] == "errors"
        return dict(answer.json()["errors"])

    assert "300 characters" in submit("x" * 301)["text"]
    assert "Leave out @here" in submit("<!here> answers within a day")["text"]
    # A value longer than Partner keeps: the form's max_length is the client's check, this is the server's.
    assert "64 characters or fewer" in submit("A decision log", "x" * 65)["value"]
    # Both wrong: both shown at once, as Slack's response_action: errors allows.
    both = submit("<!channel> a decision log", "x" * 65)
    assert "Leave out @channel" in both["text"] and "64 characters or fewer" in both["value"]
    assert records(store)[0].rule.text == FIRST


# How Slack sends `a < b & c > d` typed in a slash command; restated in mrkdwn exactly so, it reads as typed.
ESCAPED = "a &lt; b &amp; c &gt; d"


@pytest.fixture
def symbols(slack: SlackRequests, clock: FakeClock) -> SlackRequests:
    """Acme Corp whose one agreement was typed with `<`, `&` and `>`."""
    clock.set(ny(2026, 11, 25, 10))  # a Wednesday
    ephemeral(slack.command("add Acme Corp <#C0ACME|acme> <@U0001|dana>"))
    assert f"Proposed “{ESCAPED}”" in ephemeral(slack.command(f'boundary acme add "{ESCAPED}"'))
    return slack


def test_symbols_typed_in_an_agreement_are_restated_as_slack_escaped_them(
    symbols: SlackRequests, fake_slack: FakeSlack, store: Store, settings: Settings
) -> None:
    assert records(store)[0].rule.text == ESCAPED
    listing = symbols.command("boundary acme list").json()
    retire = next(
        e
        for b in listing["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == BOUNDARY_RETIRE
    )
    assert "“a < b & c > d”" in retire["confirm"]["text"]["text"]  # a plain_text dialog shows it as typed
    ephemeral(symbols.command("boundary acme activate 1"))
    tick(store, settings, ny(2026, 11, 30, 9, 0))  # the Monday reminder in the customer's channel
    (reminder,) = channel_posts(fake_slack, "C0ACME")
    assert f"{ESCAPED}." in reminder["text"] and f"{ESCAPED}." in reminder["blocks"][0]["text"]["text"]
    card = json.dumps(ok(symbols.command("show acme"))["blocks"], ensure_ascii=False)
    assert f"“{ESCAPED}”" in card and '"mrkdwn", "text": "*1.* “a <' not in card
    for text in (reminder["text"], json.dumps(listing), card):
        assert "&amp;lt;" not in text and "&amp;amp;" not in text


def test_a_number_past_the_only_agreement_says_there_is_one(symbols: SlackRequests) -> None:
    text = ephemeral(symbols.command("boundary acme retire 2"))
    assert "There is no number 2: *Acme Corp* has only number 1." in text


def test_a_slip_note_typed_with_symbols_is_shown_as_slack_escaped_it(symbols: SlackRequests, store: Store) -> None:
    ephemeral(symbols.command("boundary acme activate 1"))
    ephemeral(symbols.command("boundary acme slip 1 said &lt;tomorrow&gt; &amp; left"))
    # Stored as Slack escaped it: the escalation's slip history restates notes in mrkdwn.
    assert records(store)[0].slips[-1].note == "said &lt;tomorrow&gt; &amp; left"


def test_the_renegotiate_form_shows_the_agreement_as_typed_and_keeps_what_it_saves_escaped(
    symbols: SlackRequests, fake_slack: FakeSlack, store: Store, clock: FakeClock, settings: Settings
) -> None:
    message = _escalate(symbols, fake_slack, store, clock, settings)
    symbols.block_action(
        BOUNDARY_DECIDE_RENEGOTIATE, value=str(records(store)[0].id), message=message, channel_id="DDANA"
    )
    view = fake_slack.calls_to("views.open")[-1].params["view"]
    (text_block,) = [b for b in view["blocks"] if b.get("block_id") == "text"]
    assert text_block["element"]["initial_value"] == "a < b & c > d"
    values = {
        "text": {BOUNDARY_TEXT: {"type": "plain_text_input", "value": "x < y"}},
        "kind": {BOUNDARY_KIND: {"type": "static_select", "selected_option": {"value": "custom"}}},
    }
    answer = symbols.view_submission(BOUNDARY_RENEGOTIATE_MODAL, values, private_metadata=view["private_metadata"])
    assert ok(answer).get("response_action") != "errors"
    assert records(store)[0].rule.text == "x &lt; y"
    (update,) = fake_slack.wait_for("chat.update")  # the escalation restates the new terms
    assert "“x &lt; y”" in json.dumps(update.params["blocks"], ensure_ascii=False)
    assert "“x &lt; y”" in json.dumps(ok(symbols.command("show acme"))["blocks"], ensure_ascii=False)


def test_a_mention_and_escaped_wording_are_kept_and_limits_count_what_the_user_sees(
    symbols: SlackRequests, store: Store
) -> None:
    reply = ephemeral(symbols.command('boundary acme add "Ask <@U0001> before 5 &amp; after 9"'))
    assert "“Ask <@U0001> before 5 &amp; after 9”" in reply
    assert records(store)[-1].rule.text == "Ask <@U0001> before 5 &amp; after 9"
    reply = ephemeral(symbols.command('boundary acme wording 1 "Reminder: x &lt; y"'))
    assert ">Reminder: x &lt; y" in reply and records(store)[0].row.reminder_text == "Reminder: x &lt; y"
    # 300 ampersands are 300 characters to the user (1500 stored), and the wording's 500 likewise.
    ephemeral(symbols.command(f'boundary acme add "{"&amp;" * 300}"'))
    assert records(store)[-1].rule.text == "&amp;" * 300
    assert "(this one is 301)" in ephemeral(symbols.command(f'boundary acme add "{"&lt;" * 301}"'))
    ephemeral(symbols.command(f'boundary acme wording 1 "{"&gt;" * 500}"'))
    assert records(store)[0].row.reminder_text == "&gt;" * 500
    assert "(this is 501)" in ephemeral(symbols.command(f'boundary acme wording 1 "{"&gt;" * 501}"'))


def test_a_form_slack_would_not_open_in_time_says_so_and_gives_the_command_back(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    customer = add_customer(slack, store)
    fake_slack.fail_next("views.open", error="expired_trigger_id")
    reply = ephemeral(slack.command("survey acme scorecard"))
    assert "didn't let me open the form in time" in reply and "You typed: `/partner survey acme scorecard`" in reply
    fake_slack.fail_next("views.open", error="expired_trigger_id")
    slack.block_action(OPEN_SURVEY, value=f"level:{customer.id}")
    assert "didn't let me open the form in time" in fake_slack.calls_to("response_url")[-1].params["text"]


def test_ask_in_an_archived_channel_says_so(slack: SlackRequests, fake_slack: FakeSlack, store: Store) -> None:
    shared_customer(slack, fake_slack, store)
    fake_slack.fail_next("chat.postMessage", error="is_archived")  # archived between the look and the post
    reply = ephemeral(slack.command("ask acme", trigger_id="1.archived.meanwhile"))
    assert "<#C0SHARED> is archived" in reply and "/partner edit Acme Corp #channel" in reply
    fake_slack.channels["C0SHARED"]["is_archived"] = True
    assert "<#C0SHARED> is archived" in ephemeral(slack.command("ask acme", trigger_id="2.archived"))
    assert fake_slack.messages.get("C0SHARED", []) == []


def card_buttons(card: dict[str, Any]) -> dict[str, str]:
    """Every button on the card: its text → "action_id value"."""
    found = [b.get("accessory") for b in card["blocks"]] + [
        e for b in card["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    return {b["text"]["text"]: f"{b['action_id']} {b['value']}" for b in found if b and b.get("type") == "button"}


def test_the_card_shows_our_view_vs_theirs_the_profile_and_opens_the_surveys(
    slack: SlackRequests, external: ExternalSlack, fake_slack: FakeSlack, store: Store
) -> None:
    customer = shared_customer(slack, fake_slack, store)
    card = ok(slack.command("show acme"))
    text = json.dumps(card["blocks"])
    assert "*Our view:* not rated yet" in text and "*Their view:* not asked yet" in text
    assert "Ideal-customer profile" in text and "Not filled in yet" in text
    buttons = card_buttons(card)
    assert buttons["Rate our level"] == f"{OPEN_SURVEY} level:{customer.id}"
    assert buttons["Edit profile"] == f"{OPEN_SURVEY} profile:{customer.id}"
    assert buttons["Scorecard"] == f"{OPEN_SURVEY} scorecard:{customer.id}"
    assert buttons["Self-check"] == f"{OPEN_SURVEY} practices:{customer.id}"  # every survey about them opens here
    slack.block_action(OPEN_SURVEY, value=f"practices:{customer.id}")
    assert json.loads(opened(fake_slack)["private_metadata"])["survey"] == "practices"

    slack.block_action(OPEN_SURVEY, value=f"level:{customer.id}")  # the card's Rate our level
    ok(submit(slack, opened(fake_slack), {"level": "partner"}, view_id="VLEVEL"))
    ok(slack.command("ask acme"))
    ok(external.block_action(OPEN_CUSTOMER_VIEW, value=str(customer.id), user_id="U0EXT1", channel_id="C0SHARED"))
    answers = {"level": "supplier", "start_doing": "call us back", "keep_doing": "the weekly demo"}
    ok(submit(external, opened(fake_slack), answers, view_id="VCUST1", user_id="U0EXT1"))
    slack.block_action(OPEN_SURVEY, value=f"profile:{customer.id}")  # the profile's Edit
    ok(submit(slack, opened(fake_slack), {"annual_budget": "$120k"}, view_id="VPROF"))

    text = json.dumps(ok(slack.command("show acme"))["blocks"])
    assert "*Our view:* Partner" in text and "*Their view:* Supplier" in text and "2 levels higher" in text
    assert "$120k" in text


def test_a_survey_about_a_customer_archived_meanwhile_keeps_the_answers_and_says_how(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    customer = add_customer(slack, store)
    ok(slack.command("survey acme scorecard"))
    view = opened(fake_slack)
    ok(slack.command("archive acme"))
    answers = all_ratings(SURVEYS["scorecard"])
    errors = ok(submit(slack, view, answers, view_id="VARCH"))["errors"]
    assert "Acme Corp was archived meanwhile" in next(iter(errors.values()))
    slack.block_action(OPEN_SURVEY, value=f"level:{customer.id}")
    assert (
        "is archived. Bring it back with `/partner restore Acme Corp`"
        in fake_slack.calls_to("response_url")[-1].params["text"]
    )
    ok(slack.command("restore acme"))
    assert ok(submit(slack, view, answers, view_id="VARCH")).get("response_action") != "errors"
    assert len(store.survey_responses(team_id=TEAM_ID, survey="scorecard")) == 1


def test_a_survey_confirmation_slack_times_out_on_still_tells_the_owner_of_the_new_tier(
    impatient: SlackRequests, impatient_bot: BotServer, fake_slack: FakeSlack, store: Store
) -> None:
    add_customer(impatient, store)
    ok(impatient.command("survey acme level", user_id="U0002"))
    fake_slack.fail_next("chat.postEphemeral", delay=1.5, times=2)  # the "Saved" note: longer than the timeout
    ok(submit(impatient, opened(fake_slack), {"level": "partner"}, view_id="VSLOW", user_id="U0002"))
    drain_lazy_listeners(impatient_bot)
    dms = [c.params["text"] for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "U0001"]
    assert len(dms) == 1 and "moved *Acme Corp* to *Partner*" in dms[0]


def test_markup_typed_in_survey_answers_is_restated_as_text_and_the_profile_form_shows_it_as_typed(
    slack: SlackRequests, external: ExternalSlack, fake_slack: FakeSlack, store: Store
) -> None:
    customer = shared_customer(slack, fake_slack, store)
    ok(slack.command("ask acme"))
    ok(external.block_action(OPEN_CUSTOMER_VIEW, value=str(customer.id), user_id="U0EXT1", channel_id="C0SHARED"))
    link = "<https://evil.example/login|your invoice>"
    answers = {"level": "partner", "start_doing": f"pay {link}", "keep_doing": "<!channel> demos & a < b"}
    ok(submit(external, opened(fake_slack), answers, view_id="VTHEIRS", user_id="U0EXT1"))
    status = json.dumps(ok(slack.command("status acme"))["blocks"])
    assert "<https://evil" not in status and "<!channel>" not in status
    assert "pay &lt;https://evil.example/login|your invoice&gt;" in status and "demos &amp; a &lt; b" in status

    ok(slack.command("survey acme profile"))
    ok(submit(slack, opened(fake_slack), {"annual_budget": "< €200k & growing"}, view_id="VPROFILE"))
    assert "&lt; €200k &amp; growing" in json.dumps(ok(slack.command("show acme"))["blocks"], ensure_ascii=False)
    ok(slack.command("survey acme profile", user_id="U0002"))
    by_key = {b["block_id"]: b for b in opened(fake_slack)["blocks"] if b["type"] == "input"}
    assert by_key["annual_budget"]["element"]["initial_value"] == "< €200k & growing"


def test_a_gap_between_our_view_and_theirs_is_flagged_once_per_pair_of_views(
    slack: SlackRequests, external: ExternalSlack, fake_slack: FakeSlack, store: Store, bot: BotServer
) -> None:
    customer = shared_customer(slack, fake_slack, store)
    ok(slack.command("survey acme level"))
    ok(submit(slack, opened(fake_slack), {"level": "partner"}, view_id="VOURS1"))

    def they_answer(person: str, level: str) -> None:
        ok(external.block_action(OPEN_CUSTOMER_VIEW, value=str(customer.id), user_id=person, channel_id="C0SHARED"))
        ok(submit(external, opened(fake_slack), {"level": level}, view_id=f"V{person}", user_id=person))
        bot.settle()

    def gap_dms() -> list[str]:
        return [c.params["text"] for c in fake_slack.calls_to("chat.postMessage") if "sees us as" in c.params["text"]]

    they_answer("U0EXT1", "supplier")
    they_answer("U0EXT2", "supplier")  # a second of their people sees it the same way: the same gap
    ok(slack.command("survey acme level"))
    ok(submit(slack, opened(fake_slack), {"level": "partner"}, view_id="VOURS2"))  # our view again, unchanged
    bot.settle()
    assert len(gap_dms()) == 1
    they_answer("U0EXT3", "supplier_of_choice")  # their view moved: news
    assert len(gap_dms()) == 2 and "sees us as *Supplier of choice*" in gap_dms()[-1]
