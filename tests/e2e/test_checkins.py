"""End to end: check-ins — flags, modal with next step, channel summaries in daily threads, owner alerts,
the message shortcut, and the same request delivered twice."""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, date, datetime
from typing import Any

import pytest
from slack_sdk import WebClient

from handlers.ids import (
    CHECKIN_CUSTOMER,
    CHECKIN_MODAL,
    CHECKIN_NEXT_DUE,
    CHECKIN_NEXT_STEP,
    LOG_MESSAGE_CHECKIN,
    OPEN_CHECKIN,
)
from storage.exports import CHECKIN_COLUMNS
from storage.models import Customer
from storage.store import Store
from tests.e2e.test_foundation import add_acme, ephemeral, modal_values
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests, offered_options
from tests.utils import BOT_TOKEN, TEAM_ID, BotServer, FakeClock


def acme(store: Store) -> Customer:
    customer = store.customer_by_name(team_id=TEAM_ID, name="acme corp")
    assert customer is not None
    return customer


def summaries(fake_slack: FakeSlack, channel: str = "C0ACME") -> list[dict[str, Any]]:
    return list(fake_slack.messages.get(channel, []))


def dms_to(fake_slack: FakeSlack, user_id: str) -> list[str]:
    return [c.params["text"] for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == user_id]


def with_next_step(values: dict[str, Any], step: str | None, due: str | None) -> dict[str, Any]:
    return {
        **values,
        "next_step": {CHECKIN_NEXT_STEP: {"type": "plain_text_input", "value": step}},
        "next_due": {CHECKIN_NEXT_DUE: {"type": "datepicker", "selected_date": due}},
    }


# Text flags


def test_call_and_next_flags_after_the_mood_or_at_the_end(slack: SlackRequests, store: Store) -> None:
    add_acme(slack)  # America/New_York; the clock says Wednesday 25 Nov, 10:00 there
    text = ephemeral(slack.command("checkin acme green next=fri call kickoff went well"))
    assert "Next step:* follow up (due Fri 27 Nov)" in text
    ephemeral(slack.command("checkin acme yellow pricing questions next=2026-12-03"))
    second, first = store.checkins(team_id=TEAM_ID)
    assert (first.kind, first.next_due, first.note) == ("call", date(2026, 11, 27), "kickoff went well")
    assert (second.kind, second.next_due, second.note) == ("async", date(2026, 12, 3), "pricing questions")


def test_a_command_with_the_word_payload_in_it_is_read_as_the_command_it_is(slack: SlackRequests, store: Store) -> None:
    """Bolt takes any form body containing "payload" for an interactive payload: this one came out empty, 404."""
    add_acme(slack)
    reply = slack.command("checkin acme green sent them the payload spec")
    assert reply.status == 200, reply.text
    assert "Acme" in ephemeral(reply)
    (entry,) = store.checkins(team_id=TEAM_ID)
    assert entry.note == "sent them the payload spec"
    assert slack.command("payload").status == 200  # an unknown subcommand: the usual friendly answer


def test_a_bad_next_date_names_it_and_stores_nothing(slack: SlackRequests, store: Store) -> None:
    add_acme(slack)
    text = ephemeral(slack.command("checkin acme green next=someday hello"))
    assert "I couldn't read the date 'someday'" in text and "/partner checkin &lt;customer&gt;" in text
    assert "is in the past" in ephemeral(slack.command("checkin acme green next=2026-01-01 hello"))
    assert store.checkins(team_id=TEAM_ID) == []


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("checkin acme purple the rollout slipped a week, legal still reviewing", "'purple' is not a mood"),
        ("checkin acme gren the rollout slipped a week", "'gren' is not a mood — did you mean green?"),
        ("checkin acme Yelow the rollout slipped a week", "'Yelow' is not a mood — did you mean yellow?"),
        ("checkin acme the rollout slipped a week, legal still reviewing", "'the' is not a mood"),  # mood forgotten
        ("checkin acmx green the rollout slipped a week, legal still reviewing", "No customer matches 'acmx'"),
        ("CI acme purple the rollout slipped a week", "'purple' is not a mood"),  # an alias, as typed
        (  # the mood first: named as the mood, with the order
            "checkin green acme the rollout slipped a week",
            "'green' is the mood, not a customer: the customer comes first, e.g. `/partner checkin acme green …`",
        ),
    ],
)
def test_a_refused_checkin_gives_the_whole_command_back(
    slack: SlackRequests, store: Store, typed: str, says: str
) -> None:
    add_acme(slack)
    text = ephemeral(slack.command(typed))
    assert says in text, text
    assert f"You typed: `/partner {typed}`" in text  # the note is not lost: it can be copied back
    assert store.checkins(team_id=TEAM_ID) == []


def test_an_overlong_note_is_stored_whole_and_shown_short(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    add_acme(slack)
    note = "A" * 2000 + " " + "B" * 4000
    reply = ephemeral(slack.command(f"checkin acme red {note}"))
    (entry,) = store.checkins(team_id=TEAM_ID)
    assert entry.note == note
    assert "…" in reply and len(reply) < 600
    fake_slack.wait_for("chat.postMessage", 1)
    posted = [c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "C0ACME"]
    assert posted and "…" in posted[0].params["text"] and len(posted[0].params["text"]) <= 3000


def test_a_long_note_is_never_cut_inside_a_mention_a_link_or_an_escaped_character(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, bot: BotServer
) -> None:
    add_acme(slack)
    note = list("x" * 3200)
    # Where the confirmation (300), the card (400), the owner's DM (1000) and the channel summary (2800) cut it.
    cuts = ((297, "<@U0002>"), (397, "&amp;"), (995, "<https://example.com/plan|the plan>"), (2797, "&lt;"))
    for start, token in cuts:
        note[start : start + len(token)] = token
    typed = "".join(note)
    reply = ephemeral(slack.command(f"checkin acme red {typed}", user_id="U0002"))
    bot.settle()
    assert store.checkins(team_id=TEAM_ID)[0].note == typed  # stored whole
    card = json.dumps(slack.command("show acme").json()["blocks"], ensure_ascii=False)
    (summary,) = summaries(fake_slack)
    (alert,) = dms_to(fake_slack, "U0001")
    for shown in (reply, card, summary["text"], alert):
        assert "…" in shown
        # Slack would show half of one as "<@U00…", "&am…" or a link cut open.
        assert not re.search(r"<[^<>]*…|&(?!amp;|lt;|gt;)", shown), shown[-80:]


# The channel summary


def test_summaries_thread_per_customer_local_day(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, clock: FakeClock, bot: BotServer
) -> None:
    def posted(n: int) -> None:  # the follow-up is over (a check-in made during it would join its message)
        bot.settle()
        assert sum(c.summary_ts is not None for c in store.checkins(team_id=TEAM_ID)) == n

    add_acme(slack)
    ephemeral(slack.command("checkin acme green morning sync"))
    posted(1)
    clock.set(datetime(2026, 11, 26, 4, 0, tzinfo=UTC))  # 23:00 in New York: still the same local day
    ephemeral(slack.command("checkin acme yellow late worry"))
    posted(2)
    clock.set(datetime(2026, 11, 26, 6, 0, tzinfo=UTC))  # 01:00 the next local day
    ephemeral(slack.command("checkin acme green fixed overnight"))
    posted(3)
    first, reply, next_day = summaries(fake_slack)
    assert (
        first["thread_ts"] in (None, first["ts"]) and "morning sync" in first["text"] and "*Acme Corp*" in first["text"]
    )
    assert reply["thread_ts"] == first["ts"] and reply["ts"] != first["ts"]
    assert next_day["thread_ts"] is None
    stored = sorted(store.checkins(team_id=TEAM_ID), key=lambda c: c.created_at)
    assert [c.summary_ts for c in stored] == [first["ts"], reply["ts"], next_day["ts"]]


def test_no_summary_when_the_customer_opted_out(slack: SlackRequests, fake_slack: FakeSlack, store: Store) -> None:
    add_acme(slack)
    ephemeral(slack.command("edit acme summary=off"))
    ephemeral(slack.command("checkin acme red on fire", user_id="U0002"))
    fake_slack.wait_for("chat.postMessage", 1)  # the owner's DM: the lazy listener ran
    assert summaries(fake_slack) == []


def test_a_channel_the_bot_cannot_post_in_is_recorded_and_explained_once(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    add_acme(slack)
    fake_slack.channels["C0ACME"]["is_member"] = False  # someone removed the bot
    ephemeral(slack.command("checkin acme green first"))
    (told,) = fake_slack.wait_for("chat.postEphemeral", 1)
    assert told.params["channel"] == "C0001" and told.params["user"] == "U0001"
    assert "saved" in told.params["text"] and "/invite @Partner" in told.params["text"]
    assert acme(store).channel_error == "not_in_channel"
    ephemeral(slack.command("checkin acme green second"))
    fake_slack.wait_for("chat.postMessage", 2)  # both attempts to post were made
    assert len(fake_slack.calls_to("chat.postEphemeral")) == 1  # …but the author was told once
    assert len(store.checkins(team_id=TEAM_ID)) == 2
    fake_slack.channels["C0ACME"]["is_member"] = True
    ephemeral(slack.command("checkin acme green third"))
    fake_slack.wait_for("chat.postMessage", 3)
    assert _eventually(lambda: acme(store).channel_error is None)


@pytest.mark.parametrize(("event", "gone"), [("channel_archive", "is archived"), ("channel_deleted", "was deleted")])
def test_a_check_in_on_a_customer_whose_channel_slack_says_is_gone_says_why_no_summary_and_tries_none(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, bot: BotServer, event: str, gone: str
) -> None:
    """Slack said the channel was archived (or deleted): a check-in's summary is not tried there, where the post was
    refused and its author, told once already (or not at all: the owner was), heard nothing; the confirmation says
    why. Unarchived, summaries go there again."""
    add_acme(slack)
    archived = fake_slack.channels["C0ACME"]
    if event == "channel_deleted":
        del fake_slack.channels["C0ACME"]
    else:
        archived["is_archived"] = True
    assert slack.event({"type": event, "channel": "C0ACME", "user": "U0001"}).status == 200
    for note in ("first", "second"):
        reply = ephemeral(slack.command(f"checkin acme green {note}", user_id="U0002"))
        why = f"_Summary not posted in <#C0ACME>: it {gone}. Pick another channel with "
        assert reply.endswith(why + "`/partner edit Acme Corp #channel`._"), reply
    bot.settle()
    assert [c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "C0ACME"] == []
    assert [c.summary_ts for c in store.checkins(team_id=TEAM_ID)] == [None, None]  # both kept
    if event == "channel_archive":
        archived["is_archived"] = False
        assert slack.event({"type": "channel_unarchive", "channel": "C0ACME", "user": "U0001"}).status == 200
        reply = ephemeral(slack.command("checkin acme green third", user_id="U0002"))
        assert "Summary not posted" not in reply
        bot.settle()
        assert ["third" in m["text"] for m in summaries(fake_slack)] == [True]


def _eventually(check: Any, timeout: float = 5.0) -> bool:
    """The lazy listener clears the error right after its post: poll briefly for it (no clock involved)."""
    waiter = threading.Event()
    for _ in range(int(timeout / 0.01)):
        if check():
            return True
        waiter.wait(0.01)
    return check()


# Owner alerts


def test_a_red_checkin_dms_the_owner_at_once(slack: SlackRequests, fake_slack: FakeSlack) -> None:
    add_acme(slack)
    ephemeral(slack.command("checkin acme red they want to cancel", user_id="U0002"))
    fake_slack.wait_for("chat.postMessage", 2)  # the summary and the DM
    (dm,) = dms_to(fake_slack, "U0001")
    assert "<@U0002> logged a *red* check-in for *Acme Corp*" in dm and "they want to cancel" in dm


def test_a_red_checkin_on_a_paused_customer_still_dms_the_owner(
    slack: SlackRequests, fake_slack: FakeSlack, bot: BotServer
) -> None:
    # Pause stops what Partner schedules; a red check-in is a person telling the owner something.
    add_acme(slack)
    assert "are paused" in ephemeral(slack.command("pause acme"))
    ephemeral(slack.command("checkin acme red they stopped answering", user_id="U0002"))
    bot.settle()
    (dm,) = dms_to(fake_slack, "U0001")
    assert "logged a *red* check-in for *Acme Corp*" in dm and "they stopped answering" in dm


def test_the_owner_is_not_alerted_about_their_own_checkin(
    slack: SlackRequests, fake_slack: FakeSlack, bot: BotServer
) -> None:
    add_acme(slack)
    ephemeral(slack.command("checkin acme red I know"))
    ephemeral(slack.command("checkin acme green all good", user_id="U0002"))
    bot.settle()
    posted = "\n".join(m["text"] for m in summaries(fake_slack))
    assert "I know" in posted and "all good" in posted  # the follow-ups ran
    assert dms_to(fake_slack, "U0001") == []


def test_a_mood_two_steps_lower_dms_the_owner(slack: SlackRequests, fake_slack: FakeSlack, clock: FakeClock) -> None:
    add_acme(slack)
    ephemeral(slack.command("checkin acme green great call", user_id="U0002"))
    fake_slack.wait_for("chat.postMessage", 1)
    clock.advance(days=1)
    ephemeral(slack.command("checkin acme 3 budget frozen", user_id="U0002"))
    fake_slack.wait_for("chat.postMessage", 3)
    (dm,) = dms_to(fake_slack, "U0001")
    assert "*Acme Corp* dropped from green to 3/5" in dm and "budget frozen" in dm


def test_a_retried_command_posts_and_alerts_once(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, bot: BotServer
) -> None:
    add_acme(slack)
    first = slack.command("checkin acme red churn risk", user_id="U0002", trigger_id="9.9.retry")
    again = slack.command("checkin acme red churn risk", user_id="U0002", trigger_id="9.9.retry", retry_num=1)
    assert "Logged a red check-in" in ephemeral(first) and "Logged a red check-in" in ephemeral(again)
    ephemeral(slack.command("checkin acme green later", user_id="U0002"))
    bot.settle()
    assert len(store.checkins(team_id=TEAM_ID)) == 2
    # Each check-in summarized once ("later" may share the first one's message: a burst is one summary).
    posted = "\n".join(m["text"] for m in summaries(fake_slack))
    assert posted.count("churn risk") == 1 and posted.count("later") == 1
    assert len(dms_to(fake_slack, "U0001")) == 1


# The modal


def test_modal_with_next_step_and_date(slack: SlackRequests, fake_slack: FakeSlack, store: Store) -> None:
    add_acme(slack)
    values = with_next_step(modal_values(acme(store).id, "yellow", "needs a plan"), "Send the plan", "2026-11-30")
    reply = slack.view_submission(CHECKIN_MODAL, values, view_id="VNEXT")
    assert reply.status == 200 and reply.body in (b"", b"{}")
    (entry,) = store.checkins(team_id=TEAM_ID)
    assert (entry.next_step, entry.next_due) == ("Send the plan", date(2026, 11, 30))
    fake_slack.wait_for("chat.postMessage", 2)  # the summary, and the confirmation by DM (no channel to use)
    assert "*Next step:* Send the plan (due Mon 30 Nov)" in summaries(fake_slack)[0]["text"]
    past = with_next_step(modal_values(acme(store).id, "green", "x"), "later", "2026-11-01")
    assert "in the past" in slack.view_submission(CHECKIN_MODAL, past).json()["errors"]["next_due"]


@pytest.mark.parametrize(
    ("due", "told"),
    [
        ("2027-12-01", "That is more than a year away; pick a nearer day."),  # as `next=2027-12-01` is refused
        ("2026-13-45", "Pick the day from the calendar."),  # a garbled form: said next to the field, not a crash
        ("soon", "Pick the day from the calendar."),
    ],
)
def test_a_next_step_date_the_command_would_refuse_is_refused_in_the_form_too(
    slack: SlackRequests, store: Store, due: str, told: str
) -> None:
    add_acme(slack)
    values = with_next_step(modal_values(acme(store).id, "green", "pilot signed"), "kickoff", due)
    reply = slack.view_submission(CHECKIN_MODAL, values, view_id="VFAR")
    assert reply.json() == {"response_action": "errors", "errors": {"next_due": told}}  # the note stays in the form
    assert store.checkins(team_id=TEAM_ID) == []
    assert "more than a year away" in ephemeral(slack.command("checkin acme green pilot signed next=2027-12-01"))


def test_a_form_whose_notes_an_older_version_wrote_differently_still_logs_the_check_in(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, bot: BotServer
) -> None:
    # private_metadata of another shape (numbers, lists) is read as no notes: the check-in is stored and confirmed.
    add_acme(slack)
    values = modal_values(acme(store).id, "green", "renewal talk")
    metadata = json.dumps({"channel_id": 5, "permalink": ["https://x.slack.com/p1"], "key": 7})
    reply = slack.view_submission(CHECKIN_MODAL, values, private_metadata=metadata, view_id="VOLD")
    assert reply.status == 200 and reply.body in (b"", b"{}")
    bot.settle()
    (entry,) = store.checkins(team_id=TEAM_ID)
    assert (entry.note, entry.permalink) == ("renewal talk", None)
    assert any("Logged a green check-in for *Acme Corp*: renewal talk" in t for t in dms_to(fake_slack, "U0001"))


def test_modal_double_submit_stores_posts_and_confirms_once(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, bot: BotServer
) -> None:
    add_acme(slack)
    values = modal_values(acme(store).id, "red", "escalation", call=True)
    metadata = json.dumps({"channel_id": "C0001"})
    slack.view_submission(CHECKIN_MODAL, values, private_metadata=metadata, view_id="VTWICE", user_id="U0002")
    slack.view_submission(
        CHECKIN_MODAL, values, private_metadata=metadata, view_id="VTWICE", user_id="U0002", retry_num=1
    )
    ephemeral(slack.command("checkin acme green sentinel"))
    bot.settle()
    assert len(store.checkins(team_id=TEAM_ID)) == 2
    assert len(fake_slack.calls_to("chat.postEphemeral")) == 1
    # Each check-in summarized once (the sentinel may share the escalation's message: a burst is one summary).
    posted = "\n".join(m["text"] for m in summaries(fake_slack))
    assert posted.count("escalation") == 1 and posted.count("sentinel") == 1
    assert len(dms_to(fake_slack, "U0001")) == 1


def test_a_modal_note_is_restated_as_typed_never_as_a_broadcast_or_link(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, bot: BotServer
) -> None:
    add_acme(slack)
    typed = "<!channel> see a < b & c <https://evil.example|your bank>"
    values = with_next_step(modal_values(acme(store).id, "red", typed), "<!here> call them", None)
    assert slack.view_submission(CHECKIN_MODAL, values, view_id="VMARKUP").status == 200
    bot.settle()
    (entry,) = store.checkins(team_id=TEAM_ID)
    # Stored as Slack escapes the same words typed in a command: shown as text in mrkdwn, exported as typed.
    assert entry.note == "&lt;!channel&gt; see a &lt; b &amp; c &lt;https://evil.example|your bank&gt;"
    assert entry.next_step == "&lt;!here&gt; call them"
    fake_slack.wait_for("chat.postMessage", 2)
    for call in fake_slack.calls_to("chat.postMessage"):
        assert "<!" not in call.params["text"] and "<https://evil" not in call.params["text"], call.params
    assert entry.note in summaries(fake_slack)[0]["text"]
    (row,) = store.export_checkins(team_id=TEAM_ID)
    assert row[CHECKIN_COLUMNS.index("note")] == typed


def test_a_command_note_with_channel_wide_mentions_notifies_nobody_in_the_customers_channel(
    slack: SlackRequests, fake_slack: FakeSlack, bot: BotServer
) -> None:
    add_acme(slack)
    # "@channel … @here … @everyone" typed in the command: Slack sends them escaped, as it would post them.
    # A user group too (`<!subteam^…>`): restated by Partner, it would page every member of the group.
    note = "<!channel> pricing review <!here|here> before <!everyone> — <@U0002> leads, <!subteam^S0SALES|@sales> FYI"
    assert "Logged" in ephemeral(slack.command(f"checkin acme red {note}", user_id="U0002"))
    bot.settle()
    (summary,) = summaries(fake_slack)
    assert "@channel pricing review @here before @everyone — <@U0002> leads, @sales FYI" in summary["text"]
    assert "<!" not in summary["text"]  # as words, not mentions: the customer's whole channel is not paged
    # The owner's red check-in DM restates the note too: the words, paging nobody (a group's members with it).
    (alert,) = [c.params["text"] for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "U0001"]
    assert "<@U0002> logged a *red* check-in" in alert and "@here before @everyone" in alert and "<!" not in alert


def test_links_in_a_note_unfurl_neither_in_the_customers_channel_nor_in_the_owners_alert(
    slack: SlackRequests, fake_slack: FakeSlack, bot: BotServer
) -> None:
    """A note linking an internal page and a screenshot: Slack previews links (and, by default, media) in a bot's
    post unless told not to, so the customer's channel would sprout a preview of the internal wiki, and the owner's
    red check-in DM one of the screenshot."""
    add_acme(slack)
    note = "see <https://wiki.example.com/acme-plan|the plan> and <https://files.example.com/shot.png>"
    assert "Logged" in ephemeral(slack.command(f"checkin acme red {note}", user_id="U0002"))
    bot.settle()
    posts = [c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] in ("C0ACME", "U0001")]
    assert sorted(c.params["channel"] for c in posts) == ["C0ACME", "U0001"]  # the summary, the owner's alert
    for post in posts:
        assert "wiki.example.com" in post.params["text"], post.params["text"]
        assert (post.params.get("unfurl_links"), post.params.get("unfurl_media")) == (False, False), post.params


def test_archived_customers_cannot_get_checkins(slack: SlackRequests, store: Store) -> None:
    add_acme(slack)
    customer_id = acme(store).id
    ephemeral(slack.command("archive acme"))
    reply = slack.view_submission(CHECKIN_MODAL, modal_values(customer_id, "green", "hi"))
    # Archived while the form was open: named, with how to restore it, and the note stays in the form.
    assert reply.json()["errors"]["customer"] == (
        "Acme Corp was archived meanwhile. Restore it (/partner restore Acme Corp) and submit again, "
        "or pick another customer: your note stays here."
    )
    assert "is archived" in ephemeral(slack.command("checkin acme green hi"))
    assert store.checkins(team_id=TEAM_ID) == []


def test_card_button_opens_the_prefilled_modal(slack: SlackRequests, fake_slack: FakeSlack, store: Store) -> None:
    add_acme(slack)
    card = slack.command("show acme").json()
    (button,) = [
        e for b in card["blocks"] if b["type"] == "actions" for e in b["elements"] if e["action_id"] == OPEN_CHECKIN
    ]
    slack.block_action(OPEN_CHECKIN, value=button["value"], message={"type": "message", "ts": "1.1", "text": ""})
    view = fake_slack.calls_to("views.open")[-1].params["view"]
    assert view["blocks"][0]["element"]["initial_option"]["value"] == str(acme(store).id)
    assert {b["block_id"] for b in view["blocks"]} >= {"next_step", "next_due"}


def test_the_customer_type_ahead_over_many_customers_accents_and_archived_ones(
    slack: SlackRequests, store: Store
) -> None:
    """The form's customer picker as Slack asks it (block_suggestion; the value empty when the menu opens): at most
    Slack's 100 options, in name order, narrowed as one types (accents and case folded); archived customers are
    not offered, and the form's answer for one picked earlier says how to restore it (test above)."""
    now = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
    for i in range(200):
        store.add_customer(team_id=TEAM_ID, name=f"Customer {i:03d}", created_by="U0001", now=now, owner_id="U0001")
    ephemeral(slack.command("add Café Olé"))
    ephemeral(slack.command("add Zeta Labs"))
    ephemeral(slack.command("archive zeta"))

    def offered(typed: str) -> list[str]:
        return [o["text"]["text"] for o in offered_options(slack.block_suggestion(CHECKIN_CUSTOMER, typed))]

    opened = offered("")
    assert len(opened) == 100 and opened[:2] == ["Café Olé", "Customer 000"]
    assert offered("customer 19") == [f"Customer {i}" for i in range(190, 200)]
    assert offered("CAFE") == offered("olé") == ["Café Olé"]
    assert offered("zeta") == offered("no such") == []


# The message shortcut


def post_in(fake_slack: FakeSlack, channel: str, text: str) -> dict[str, Any]:
    """A message somebody wrote (posted through the fake so chat.getPermalink can find it)."""
    client = WebClient(token=BOT_TOKEN, base_url=fake_slack.api_url)
    return dict(client.chat_postMessage(channel=channel, text=text)["message"])


def test_message_shortcut_prefills_the_note_with_a_permalink(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    add_acme(slack)
    message = post_in(fake_slack, "C0ACME", "Their CTO: *we love the pilot* & want more")
    message["text"] = "Their CTO: *we love the pilot* &amp; want more"  # as Slack sends a message's text
    slack.message_action(LOG_MESSAGE_CHECKIN, message, channel_id="C0ACME", trigger_id="3.3.short")
    (link,) = fake_slack.calls_to("chat.getPermalink")
    assert link.ok, link.response
    permalink = link.response["permalink"]
    view = fake_slack.calls_to("views.open")[0].params["view"]
    note = next(b for b in view["blocks"] if b["block_id"] == "note")["element"]["initial_value"]
    assert note == f"Their CTO: *we love the pilot* & want more\n{permalink}"
    # The message is in Acme's channel, so Acme is already picked.
    assert view["blocks"][0]["element"]["initial_option"]["value"] == str(acme(store).id)
    metadata = json.loads(view["private_metadata"])
    assert metadata == {"channel_id": "C0ACME", "permalink": permalink, "key": "shortcut:3.3.short"}

    # Slack retries the shortcut: its trigger opened the form already (exchanged_trigger_id), and the user, who is
    # looking at that form, is told nothing; and should two forms be submitted, they make one check-in.
    slack.message_action(LOG_MESSAGE_CHECKIN, message, channel_id="C0ACME", trigger_id="3.3.short", retry_num=1)
    retried = fake_slack.calls_to("views.open")[1]
    assert retried.response["error"] == "exchanged_trigger_id"
    assert fake_slack.calls_to("chat.postEphemeral") == [] and fake_slack.response_url_posts == []
    second = retried.params["view"]
    values = modal_values(acme(store).id, "green", note)
    slack.view_submission(CHECKIN_MODAL, values, private_metadata=view["private_metadata"], view_id="VSHORT1")
    slack.view_submission(CHECKIN_MODAL, values, private_metadata=second["private_metadata"], view_id="VSHORT2")
    (entry,) = store.checkins(team_id=TEAM_ID)
    assert (entry.kind, entry.permalink, entry.idempotency_key) == ("message", permalink, "shortcut:3.3.short")
    fake_slack.wait_for("chat.postMessage", 2)  # the message itself, then the summary
    assert "<" + permalink + "|Original message>" in summaries(fake_slack)[-1]["text"]


def test_a_logged_message_keeps_its_people_and_channels_and_reads_its_links(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, bot: BotServer
) -> None:
    add_acme(slack)
    message = post_in(fake_slack, "C0ACME", "placeholder")
    # As Slack sends a message's text: people, channels and links in markup, the rest escaped.
    message["text"] = (
        "Call with <@U0002> on <https://example.com/plan?a=1&amp;b=2|the plan> in <#C0ACME|acme>: a &lt; b <!here>"
    )
    slack.message_action(LOG_MESSAGE_CHECKIN, message, channel_id="C0ACME")
    permalink = fake_slack.calls_to("chat.getPermalink")[0].response["permalink"]
    view = fake_slack.calls_to("views.open")[0].params["view"]
    note = next(b for b in view["blocks"] if b["block_id"] == "note")["element"]["initial_value"]
    # The form reads as the message did: a link as its label and address, @here as a word.
    assert note == (
        "Call with <@U0002> on the plan (https://example.com/plan?a=1&b=2) in <#C0ACME|acme>: a < b @here\n" + permalink
    )
    values = modal_values(acme(store).id, "green", note)
    slack.view_submission(CHECKIN_MODAL, values, private_metadata=view["private_metadata"], view_id="VLOGGED")
    bot.settle()
    (entry,) = store.checkins(team_id=TEAM_ID)
    assert entry.note.startswith(
        "Call with <@U0002> on the plan (https://example.com/plan?a=1&amp;b=2) in <#C0ACME|acme>: a &lt; b @here"
    )
    # In the customer's channel Sam is mentioned and #acme is a channel, not "&lt;@U0002&gt;" as text.
    summary = summaries(fake_slack)[-1]["text"]
    assert "Call with <@U0002> on the plan" in summary and "in <#C0ACME|acme>:" in summary
    assert "&lt;@" not in summary and "&lt;#" not in summary and "<!" not in summary


def test_message_shortcut_elsewhere_leaves_the_customer_to_pick(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    add_acme(slack)
    long_text = "x" * 5000
    message = post_in(fake_slack, "C0001", long_text)
    slack.message_action(LOG_MESSAGE_CHECKIN, message, channel_id="C0001")
    view = fake_slack.calls_to("views.open")[-1].params["view"]
    assert "initial_option" not in view["blocks"][0]["element"]
    note = next(b for b in view["blocks"] if b["block_id"] == "note")["element"]["initial_value"]
    assert len(note) <= 3000 and "…\nhttps://" in note


# The store


def test_a_recorded_checkin_is_the_row_as_stored(store: Store) -> None:
    # The check-in is inserted with Core and made into a model from its values: every column must be among them,
    # the same as a fresh read, or the confirmation would read a column the model does not hold.
    now = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
    customer = store.add_customer(team_id=TEAM_ID, name="Acme Corp", created_by="U0001", now=now, owner_id="U0001")
    assert customer.id is not None
    made, created = store.record_checkin(
        team_id=TEAM_ID,
        customer_id=customer.id,
        author_id="U0002",
        mood="red",
        note="churn risk",
        kind="call",
        now=now,
        idempotency_key="command:1.2.3",
        next_step="send the plan",
        next_due=date(2026, 11, 27),
        permalink="https://example.slack.com/archives/C1/p1",
        response_days=1.5,
        alert_owner_id="U0001",
        summary_tz="UTC",
    )
    stored = store.checkin(team_id=TEAM_ID, checkin_id=made.id or 0)
    assert created and stored is not None
    columns = [c.key for c in stored.__table__.columns]  # type: ignore[attr-defined]
    assert {c: getattr(made, c) for c in columns} == {c: getattr(stored, c) for c in columns}
    again, created = store.record_checkin(
        team_id=TEAM_ID,
        customer_id=customer.id,
        author_id="U0002",
        mood="red",
        note="churn risk",
        now=now,
        idempotency_key="command:1.2.3",
    )
    assert not created and again.id == made.id


@pytest.mark.parametrize(
    ("sent", "prefilled"),
    [
        (  # an upload without a caption: the file's name, not an empty note
            {"text": "", "files": [{"id": "F1", "name": "qbr.pdf", "title": "QBR deck Q4"}], "upload": True},
            "Files: QBR deck Q4",
        ),
        (  # a caption with two files: both named after it
            {"text": "Notes &amp; deck", "files": [{"id": "F1", "name": "notes.txt"}, {"id": "F2", "title": "Deck"}]},
            "Notes & deck\nFiles: notes.txt, Deck",
        ),
        (  # brackets typed as text (Slack escapes them) are kept, not read as markup and dropped
            {"text": "wrap it in &lt;div&gt; &amp; ship"},
            "wrap it in <div> & ship",
        ),
        (  # a helpdesk bot's message, all in its attachment
            {
                "text": "",
                "subtype": "bot_message",
                "bot_id": "B0HELP",
                "attachments": [
                    {"fallback": "Ticket #42", "title": "Ticket #42", "text": "SSO login broken &lt;urgent&gt;"}
                ],
            },
            "Ticket #42\nSSO login broken <urgent>",
        ),
        (  # an app's message in blocks only
            {
                "text": "",
                "bot_id": "B0CI",
                "blocks": [
                    {"type": "header", "text": {"type": "plain_text", "text": "Deploy finished"}},
                    {"type": "section", "text": {"type": "mrkdwn", "text": "Acme is on *v2.3*"}},
                ],
            },
            "Deploy finished\nAcme is on *v2.3*",
        ),
    ],
)
def test_a_message_without_text_is_logged_with_what_it_shared(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, bot: BotServer, sent: dict[str, Any], prefilled: str
) -> None:
    """Slack sends an upload, or a bot's attachments/blocks, with an empty `text`: the form says what was shared
    instead of holding only a link, and the check-in keeps it."""
    add_acme(slack)
    message = {**post_in(fake_slack, "C0ACME", "placeholder"), **sent}
    slack.message_action(LOG_MESSAGE_CHECKIN, message, channel_id="C0ACME")
    permalink = fake_slack.calls_to("chat.getPermalink")[0].response["permalink"]
    view = fake_slack.calls_to("views.open")[0].params["view"]
    note = next(b for b in view["blocks"] if b["block_id"] == "note")["element"]["initial_value"]
    assert note == f"{prefilled}\n{permalink}"
    values = modal_values(acme(store).id, "yellow", note)
    slack.view_submission(CHECKIN_MODAL, values, private_metadata=view["private_metadata"], view_id="VNOTEXT")
    bot.settle()
    (entry,) = store.checkins(team_id=TEAM_ID)
    assert entry.kind == "message" and entry.note.startswith(prefilled.split("\n")[0].replace("&", "&amp;")[:10])


@pytest.mark.parametrize("how", ["as shown", "with words added around it", "edited", "slack unable to say"])
def test_a_message_too_long_for_the_form_is_logged_whole(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, bot: BotServer, how: str
) -> None:
    """The form holds 3000 characters, so a long message is shown cut with "…"; left as shown (words may be added
    around it), the check-in keeps the whole message, read again from Slack. Edited, or Slack failing to answer,
    the note is kept as submitted, with the permalink to the whole message."""
    add_acme(slack)
    written = (
        "Renewal notes from <@U0002> &amp; legal: " + "clause 7 needs work. " * 300 + "Signed off by <#C0ACME|acme>."
    )
    whole = written.replace("&amp;", "&")
    message = {**post_in(fake_slack, "C0ACME", "placeholder"), "text": written}
    fake_slack.messages["C0ACME"][-1]["text"] = written  # as Slack keeps it, for conversations.replies
    slack.message_action(LOG_MESSAGE_CHECKIN, message, channel_id="C0ACME")
    view = fake_slack.calls_to("views.open")[0].params["view"]
    shown = next(b for b in view["blocks"] if b["block_id"] == "note")["element"]["initial_value"]
    permalink = fake_slack.calls_to("chat.getPermalink")[0].response["permalink"]
    assert len(shown) <= 3000 and f"…\n{permalink}" in shown
    note = {
        "as shown": shown,
        "with words added around it": f"Big one.\n{shown}\nCall them Monday.",
        "edited": shown.replace("Renewal", "Renewal (draft)"),
        "slack unable to say": shown,
    }[how]
    if how == "slack unable to say":
        fake_slack.fail_next("conversations.replies", error="internal_error")
    values = modal_values(acme(store).id, "green", note)
    reply = slack.view_submission(CHECKIN_MODAL, values, private_metadata=view["private_metadata"], view_id="VLONG")
    assert reply.status == 200 and reply.body in (b"", b"{}")
    bot.settle()
    (entry,) = store.checkins(team_id=TEAM_ID)
    expected = {
        "as shown": f"{whole}\n{permalink}",
        "with words added around it": f"Big one.\n{whole}\n{permalink}\nCall them Monday.",
        "edited": note,
        "slack unable to say": note,
    }[how]
    assert entry.note == expected.replace("& legal", "&amp; legal")
