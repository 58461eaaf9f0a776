"""Every form through Slack's real lifecycle: opened by its real click or command (so the fake checks the view against
Slack's limits), then submitted as Slack submits it, with the view's own id, metadata and blocks. A wrong input, or a
customer archived or a need retired while the form was open, is answered with `response_action: errors` naming input
blocks of that very view (the ack checker refuses any other, as Slack refuses the whole answer and the user sees "We
had some trouble connecting"); and the form stays open, so nothing typed is lost.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from bot.settings import Settings
from domain.surveys import SURVEYS
from handlers.blocks.nudges import SNOOZE_ONE_DAY, SNOOZE_UNTIL_DATE
from handlers.ids import (
    BOUNDARY_DECIDE_RENEGOTIATE,
    BOUNDARY_DECIDE_RETIRE,
    BOUNDARY_DECIDE_TALK,
    BOUNDARY_KIND,
    BOUNDARY_TEXT,
    BOUNDARY_VALUE,
    CARD_EDIT,
    CARD_SNOOZE,
    CUSTOMER_FIELD,
    NUDGE_SNOOZE_FOR,
    NUDGE_SNOOZE_REASON,
    NUDGE_SNOOZE_UNTIL,
    OPEN_CHECKIN,
    OPEN_SURVEY,
    SURVEY_ANSWER,
)
from storage.boundaries import DECISION_EVENT
from storage.store import Store
from tests.e2e.test_block_kit_limits import LONG_BOUNDARY, LONG_NAME, long_customer  # noqa: F401 (a fixture)
from tests.e2e.test_boundaries import acme, channel_posts, records, tick
from tests.e2e.test_foundation import ephemeral, modal_values
from tests.e2e.test_surveys import state
from tests.fake_slack import FakeSlack
from tests.slack_requests import Response, SlackRequests
from tests.utils import TEAM_ID, BotServer, FakeClock

acme = acme  # test_boundaries' Acme Corp: Dana's (New York), with #acme and two proposed needs


def last_view(fake: FakeSlack) -> dict[str, Any]:
    """The form Slack shows now: the last one opened or pushed, as the fake stored it."""
    calls = [c for c in fake.calls if c.method in ("views.open", "views.push") and c.response.get("ok")]
    assert calls, "no form was opened"
    return fake.views[calls[-1].response["view"]["id"]]


def submit(slack: SlackRequests, view: dict[str, Any], values: dict[str, Any], **kwargs: Any) -> Response:
    """The view submitted as Slack submits it: its id, callback, metadata and blocks, with what was typed."""
    return slack.view_submission(
        view["callback_id"],
        values,
        private_metadata=view["private_metadata"],
        view_id=view["id"],
        hash=view["hash"],
        view_fields={"blocks": view["blocks"]},
        **kwargs,
    )


def errors_of(reply: Response) -> dict[str, str]:
    """The errors shown in the form (the form stays open with what was typed); fails when the form would close."""
    assert reply.status == 200, reply.text
    answer = reply.json()
    assert answer.get("response_action") == "errors", answer
    return dict(answer["errors"])


def customer_form_values(view: dict[str, Any], **typed: str) -> dict[str, Any]:
    """The customer form's state as it opened (what it shows), with `typed` changed."""
    values: dict[str, Any] = {}
    for block in view["blocks"]:
        element = block.get("element") or {}
        if block.get("type") != "input":
            continue
        if element.get("type") in ("plain_text_input", "number_input"):
            value = typed.get(block["block_id"], element.get("initial_value") or "")
            values[block["block_id"]] = {CUSTOMER_FIELD: {"type": element["type"], "value": value or None}}
        elif element.get("type") == "users_select":
            values[block["block_id"]] = {
                CUSTOMER_FIELD: {"type": "users_select", "selected_user": element.get("initial_user")}
            }
        elif element.get("type") == "conversations_select":
            values[block["block_id"]] = {
                CUSTOMER_FIELD: {
                    "type": "conversations_select",
                    "selected_conversation": element.get("initial_conversation"),
                }
            }
        elif element.get("type") == "checkboxes":
            values[block["block_id"]] = {
                CUSTOMER_FIELD: {"type": "checkboxes", "selected_options": element.get("initial_options") or []}
            }
    return values


def test_every_wrong_input_of_the_customer_forms_is_shown_at_a_field_of_the_form(
    slack: SlackRequests,
    fake_slack: FakeSlack,
    store: Store,
    long_customer: int,  # noqa: F811
) -> None:
    assert slack.command("add").status == 200
    added = last_view(fake_slack)
    wrong = customer_form_values(added, name="", tz="Mars/Olympus", country="ZZ", cadence="sometimes")
    assert set(errors_of(submit(slack, added, wrong))) == {"name", "tz", "country", "cadence"}
    # A name already taken (the 80-character one, typed in another case), and the last words of the limits.
    taken = customer_form_values(added, name=LONG_NAME.upper())
    assert set(errors_of(submit(slack, added, taken))) == {"name"}
    assert len(store.customers(team_id=TEAM_ID)) == 1

    assert slack.block_action(CARD_EDIT, value=str(long_customer)).status == 200
    edit = last_view(fake_slack)
    # The days between calls are number inputs, whose 1–365 Slack checks itself before sending the form.
    wrong = customer_form_values(edit, name=" ", tz="Europe/Nowhere", week="funday", country="XX")
    assert set(errors_of(submit(slack, edit, wrong))) == {"name", "tz", "week", "country"}
    assert set(errors_of(submit(slack, edit, customer_form_values(edit, ideal="20", max="10")))) == {"ideal"}
    # Archived by someone else while the form was open: the form stays, with the changes typed in it.
    assert "Archived" in ephemeral(slack.command(f'archive "{LONG_NAME}"', user_id="U0002"))
    shown = errors_of(submit(slack, edit, customer_form_values(edit, cadence="weekly tue 10:00")))
    assert list(shown) == ["name"] and "archived meanwhile" in shown["name"]
    assert store.customer(team_id=TEAM_ID, customer_id=long_customer).cadence is None


def test_the_checkin_snooze_and_survey_forms_name_their_own_fields_also_when_the_customer_went_meanwhile(
    slack: SlackRequests,
    fake_slack: FakeSlack,
    store: Store,
    clock: FakeClock,
    long_customer: int,  # noqa: F811
) -> None:
    assert slack.block_action(OPEN_CHECKIN, value=str(long_customer)).status == 200
    checkin = last_view(fake_slack)
    assert set(errors_of(submit(slack, checkin, modal_values(None, None, "  ")))) == {"customer", "mood", "note"}
    due = {"next_due": {"checkin_next_due": {"type": "datepicker", "selected_date": "1999-01-01"}}}
    assert set(errors_of(submit(slack, checkin, {**modal_values(long_customer, "green", "ok"), **due}))) == {"next_due"}

    assert slack.block_action(CARD_SNOOZE, value=str(long_customer)).status == 200
    snooze = last_view(fake_slack)
    assert set(errors_of(submit(slack, snooze, {}))) == {"for"}
    until = {
        "for": {NUDGE_SNOOZE_FOR: {"type": "radio_buttons", "selected_option": {"value": SNOOZE_UNTIL_DATE}}},
        "until": {NUDGE_SNOOZE_UNTIL: {"type": "datepicker", "selected_date": "2000-01-01"}},
        "reason": {NUDGE_SNOOZE_REASON: {"type": "plain_text_input", "value": "<" * 300}},
    }
    # 300 characters typed, 1,200 once escaped; the date's error beside it, both fixed in one go
    assert set(errors_of(submit(slack, snooze, until))) == {"reason", "until"}
    assert set(errors_of(submit(slack, snooze, {**until, "reason": {}}))) == {"until"}

    surveys = {}
    for key in ("scorecard", "level", "profile", "practices"):
        assert slack.block_action(OPEN_SURVEY, value=f"{key}:{long_customer}").status == 200
        surveys[key] = last_view(fake_slack)
        assert errors_of(submit(slack, surveys[key], state(SURVEYS[key], {})))

    assert "Archived" in ephemeral(slack.command(f'archive "{LONG_NAME}"', user_id="U0002"))
    shown = errors_of(submit(slack, checkin, modal_values(long_customer, "red", "They are leaving")))
    assert list(shown) == ["customer"] and "archived meanwhile" in shown["customer"]
    assert "archived" in errors_of(submit(slack, snooze, until | {"reason": {}}))["for"]
    for key, view in surveys.items():
        answers = {q.key: ("4" if q.kind == "rating" else "Fine") for q in SURVEYS[key].questions()}
        answers |= {q.key: q.options[0].value for q in SURVEYS[key].questions() if q.kind == "choice"}
        if key == "practices":
            assert submit(slack, view, state(SURVEYS[key], answers)).status == 200  # about the team: still saved
            continue
        assert "archived meanwhile" in " ".join(errors_of(submit(slack, view, state(SURVEYS[key], answers))).values())
    assert store.checkins(team_id=TEAM_ID) == []


@pytest.mark.parametrize("meanwhile", ["nothing", "retired", "archived"])
def test_the_renegotiation_form_names_its_own_fields(
    bot: BotServer,
    slack: SlackRequests,
    fake_slack: FakeSlack,
    store: Store,
    long_customer: int,  # noqa: F811
    meanwhile: str,
) -> None:
    reply = ephemeral(slack.command(f'boundary "{LONG_NAME}" add "{LONG_BOUNDARY}" kind=custom'))
    assert "Proposed" in reply, reply
    (boundary,) = store.boundary_records(team_id=TEAM_ID, customer_id=long_customer)
    assert slack.block_action(BOUNDARY_DECIDE_RENEGOTIATE, value=str(boundary.id)).status == 200
    form = last_view(fake_slack)
    wrong = {
        "text": {BOUNDARY_TEXT: {"type": "plain_text_input", "value": " "}},
        "kind": {BOUNDARY_KIND: {"type": "static_select", "selected_option": {"value": "response_time"}}},
        "value": {BOUNDARY_VALUE: {"type": "plain_text_input", "value": "x" * 64}},
    }
    if meanwhile == "retired":
        ephemeral(slack.command(f'boundary "{LONG_NAME}" retire 1'))
        wrong["text"] = {BOUNDARY_TEXT: {"type": "plain_text_input", "value": "We answer within a day"}}
        wrong["value"] = {BOUNDARY_VALUE: {"type": "plain_text_input", "value": "1d"}}
    elif meanwhile == "archived":
        ephemeral(slack.command(f'archive "{LONG_NAME}"'))
    shown = errors_of(submit(slack, form, wrong))
    assert shown and set(shown) <= {"text", "kind", "value"}, shown
    bot.settle()


def test_the_edit_form_saved_twice_after_handing_the_customer_over_is_not_refused_the_second_time(
    bot: BotServer,
    slack: SlackRequests,
    fake_slack: FakeSlack,
    store: Store,
    long_customer: int,  # noqa: F811
) -> None:
    """Save clicked again after a slow answer (Slack showed "We had some trouble connecting" and kept the form open):
    the form had given the customer to Sam, so checked again it was refused, "You can't edit …: only its owner @sam
    or workspace admins can", in red under the name, though every change in it was saved."""
    assert slack.block_action(CARD_EDIT, value=str(long_customer)).status == 200
    edit = last_view(fake_slack)
    values = customer_form_values(edit, name="Grand & Fils", cadence="weekly tue 10:00")
    values["owner"] = {CUSTOMER_FIELD: {"type": "users_select", "selected_user": "U0002"}}
    first = submit(slack, edit, values)
    assert first.status == 200 and not first.body, first.text
    for again in (submit(slack, edit, values), submit(slack, edit, values, retry_num=1)):
        assert again.status == 200 and not again.body, again.text  # the form closes, as it did the first time
    bot.settle()
    customer = store.customer(team_id=TEAM_ID, customer_id=long_customer)
    assert (customer.name, customer.owner_id, customer.cadence) == ("Grand & Fils", "U0002", "weekly tue 10:00")
    told = [c.params["text"] for c in fake_slack.calls_to("chat.postEphemeral") if "Updated" in c.params["text"]]
    assert len(told) == 1, told
    events = [e.kind for e in store.customer_events(team_id=TEAM_ID, customer_id=long_customer)]
    assert events.count("renamed") == 1 and events.count("edited") == 1, events


def test_a_renegotiation_saved_after_the_escalation_was_decided_meanwhile_keeps_the_words_in_the_form(
    acme: SlackRequests, bot: BotServer, fake_slack: FakeSlack, store: Store, clock: FakeClock, settings: Settings
) -> None:
    """Dana clicked Renegotiate on the escalation on her laptop and on her phone, and saved new terms on one; the other
    form, saved with other words, closed as if saved: nothing of it was kept, and the message said she renegotiated
    it. Talk it over chosen meanwhile did the same. The form now stays open, its words in it, saying what was decided;
    the same form saved twice is saved once, silently."""
    ephemeral(acme.command("boundary acme activate 1"))
    for n in range(3):
        clock.advance(hours=1)
        ephemeral(acme.command(f"boundary acme slip 1 late again ({n + 1})"))
    tick(store, settings, clock.now)
    (asked,) = [p for p in channel_posts(fake_slack, "U0001") if "keeps slipping" in p["text"]]
    message = {"type": "message", "ts": asked.get("ts") or "1764600000.000500", "text": "", "blocks": asked["blocks"]}
    boundary_id = str(records(store)[0].id)
    forms = []
    for _ in range(2):
        assert acme.block_action(BOUNDARY_DECIDE_RENEGOTIATE, value=boundary_id, message=message, channel_id="DD")
        forms.append(last_view(fake_slack))
    laptop, phone = forms

    def terms(text: str) -> dict[str, Any]:
        return {
            "text": {BOUNDARY_TEXT: {"type": "plain_text_input", "value": text}},
            "kind": {BOUNDARY_KIND: {"type": "static_select", "selected_option": {"value": "response_time"}}},
            "value": {BOUNDARY_VALUE: {"type": "plain_text_input", "value": "2d"}},
        }

    saved = submit(acme, laptop, terms("We answer within 2 business days"))
    assert saved.status == 200 and not saved.body, saved.text
    again = submit(acme, laptop, terms("We answer within 2 business days"))  # Save clicked twice: saved, silently
    assert again.status == 200 and not again.body, again.text
    shown = errors_of(submit(acme, phone, terms("We answer within 2 days & weekends off")))
    assert list(shown) == ["text"], shown
    assert "renegotiated it meanwhile" in shown["text"] and "“We answer within 2 business days”" in shown["text"]
    assert "/partner boundary Acme Corp add" in shown["text"], shown
    bot.settle()
    assert records(store)[0].rule.text == "We answer within 2 business days"
    customer_id = records(store)[0].row.customer_id
    assert len(store.boundary_events(team_id=TEAM_ID, customer_id=customer_id, kinds=[DECISION_EVENT])) == 1

    # A choice made with a button meanwhile: the next escalation's Talk it over, while a form was open.
    for n in range(3):
        clock.advance(days=1)
        ephemeral(acme.command(f"boundary acme slip 1 late once more ({n + 1})"))
    tick(store, settings, clock.now + timedelta(days=8))
    later = [p for p in channel_posts(fake_slack, "U0001") if "keeps slipping" in p["text"]]
    assert len(later) == 2, later
    second = {"type": "message", "ts": "1764600000.000900", "text": "", "blocks": later[-1]["blocks"]}
    assert acme.block_action(BOUNDARY_DECIDE_RENEGOTIATE, value=boundary_id, message=second, channel_id="DD")
    form = last_view(fake_slack)
    assert acme.block_action(BOUNDARY_DECIDE_TALK, value=boundary_id, message=second, channel_id="DD")
    shown = errors_of(submit(acme, form, terms("Within one business day")))
    assert "will talk it through with the customer meanwhile" in shown["text"], shown
    assert records(store)[0].rule.text == "We answer within 2 business days"


def test_an_escalation_answered_by_a_second_person_still_says_who_decided_it(
    acme: SlackRequests, fake_slack: FakeSlack, store: Store, clock: FakeClock, settings: Settings
) -> None:
    """Dana chose Talk it over; Mo, an admin, clicked Retire on his copy of the message a moment later. The first
    decision stands, but the message redrawn for Mo said "@mo will talk it through with the customer"."""
    fake_slack.add_user("U0MO", name="mo", is_admin=True)
    ephemeral(acme.command("boundary acme activate 1"))
    for n in range(3):
        clock.advance(hours=1)
        ephemeral(acme.command(f"boundary acme slip 1 late again ({n + 1})"))
    tick(store, settings, clock.now)
    (asked,) = [p for p in channel_posts(fake_slack, "U0001") if "keeps slipping" in p["text"]]
    message = {"type": "message", "ts": "1764600000.000500", "text": "", "blocks": asked["blocks"]}
    boundary_id = str(records(store)[0].id)
    acme.block_action(BOUNDARY_DECIDE_TALK, value=boundary_id, message=message, channel_id="DD")
    acme.block_action(
        BOUNDARY_DECIDE_RETIRE, value=boundary_id, message=message, channel_id="DD", user_id="U0MO", user_name="mo"
    )
    redrawn = [c.params for c in fake_slack.calls_to("response_url")][-1]
    assert "<@U0001> will talk it through with the customer" in redrawn["text"], redrawn["text"]
    assert records(store)[0].rule.status != "retired"


def opened_state(view: dict[str, Any]) -> dict[str, Any]:
    """A form's state.values as Slack sends them when it is closed untouched: each input's initial value."""
    values: dict[str, Any] = {}
    for block in view["blocks"]:
        element = block.get("element") or {}
        if block.get("type") != "input":
            continue
        if element["type"] == "plain_text_input":
            values[block["block_id"]] = {
                element["action_id"]: {"type": element["type"], "value": element.get("initial_value")}
            }
        else:
            chosen = element.get("initial_option")
            values[block["block_id"]] = {element["action_id"]: {"type": element["type"], "selected_option": chosen}}
    return values


def test_the_profile_form_closed_untouched_does_not_later_open_in_place_of_a_newer_profile(
    bot: BotServer,
    slack: SlackRequests,
    fake_slack: FakeSlack,
    store: Store,
    long_customer: int,  # noqa: F811
) -> None:
    """Dana opened Edit profile (filled in from the saved profile) and closed it without typing; Lee then saved a new
    profile. Dana's next Edit profile opened with her "unsent answers" (the old profile) instead of Lee's, so saving
    one changed field put the old profile back over Lee's."""
    profile = SURVEYS["profile"]
    first = {q.key: f"Old answer {n}" for n, q in enumerate(profile.questions())}
    assert slack.block_action(OPEN_SURVEY, value=f"profile:{long_customer}").status == 200
    assert submit(slack, last_view(fake_slack), state(profile, first)).status == 200
    assert slack.block_action(OPEN_SURVEY, value=f"profile:{long_customer}").status == 200
    untouched = last_view(fake_slack)
    closed = slack.view_closed(
        untouched["callback_id"],
        private_metadata=untouched["private_metadata"],
        view_id=untouched["id"],
        view_fields={"blocks": untouched["blocks"], "state": {"values": opened_state(untouched)}},
    )
    assert closed.status == 200
    newer = {q.key: f"Lee's answer {n}" for n, q in enumerate(profile.questions())}
    assert slack.block_action(OPEN_SURVEY, value=f"profile:{long_customer}", user_id="U0002").status == 200
    assert submit(slack, last_view(fake_slack), state(profile, newer), user_id="U0002").status == 200
    bot.settle()
    assert slack.block_action(OPEN_SURVEY, value=f"profile:{long_customer}").status == 200
    reopened = json.dumps(last_view(fake_slack)["blocks"])
    assert "Lee's answer 0" in reopened and "Old answer 0" not in reopened
    assert "unsent answers" not in reopened
    # Something typed before closing is kept, as before.
    typed = opened_state(last_view(fake_slack))
    key = profile.questions()[0].key
    typed[key] = {SURVEY_ANSWER: {"type": "plain_text_input", "value": "Dana's own words"}}
    reopened_view = last_view(fake_slack)
    slack.view_closed(
        reopened_view["callback_id"],
        private_metadata=reopened_view["private_metadata"],
        view_id=reopened_view["id"],
        view_fields={"blocks": reopened_view["blocks"], "state": {"values": typed}},
    )
    assert slack.block_action(OPEN_SURVEY, value=f"profile:{long_customer}").status == 200
    assert "Dana's own words" in json.dumps(last_view(fake_slack)["blocks"])


def test_the_snooze_form_sent_twice_snoozes_once(
    bot: BotServer,
    slack: SlackRequests,
    fake_slack: FakeSlack,
    store: Store,
    clock: FakeClock,
    long_customer: int,  # noqa: F811
) -> None:
    """Snooze clicked again after a slow answer: the second delivery snoozed again from its own moment (the day's
    end moved) and the customer's history said it was snoozed twice."""
    assert slack.block_action(CARD_SNOOZE, value=str(long_customer)).status == 200
    form = last_view(fake_slack)
    values = {
        "for": {NUDGE_SNOOZE_FOR: {"type": "radio_buttons", "selected_option": {"value": SNOOZE_ONE_DAY}}},
        "reason": {NUDGE_SNOOZE_REASON: {"type": "plain_text_input", "value": "On holiday & back Monday"}},
    }
    assert submit(slack, form, values).status == 200
    until = store.customer(team_id=TEAM_ID, customer_id=long_customer).snoozed_until
    clock.advance(seconds=20)
    for again in (submit(slack, form, values), submit(slack, form, values, retry_num=1)):
        assert again.status == 200 and not again.body, again.text
    bot.settle()
    assert store.customer(team_id=TEAM_ID, customer_id=long_customer).snoozed_until == until
    snoozed = store.customer_events_of_kind(team_id=TEAM_ID, customer_id=long_customer, kind="snoozed")
    assert len(snoozed) == 1, [e.detail for e in snoozed]
    # Another form (opened again) snoozes anew, as before.
    assert slack.block_action(CARD_SNOOZE, value=str(long_customer)).status == 200
    assert submit(slack, last_view(fake_slack), values).status == 200
    assert len(store.customer_events_of_kind(team_id=TEAM_ID, customer_id=long_customer, kind="snoozed")) == 2
