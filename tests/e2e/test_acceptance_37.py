"""Acceptance audit of issues #3 and #7: what a real Slack user hits, driven through signed requests."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import update

from bot.app import make_client
from bot.settings import Settings
from handlers.commands.export import wait_after_ack
from handlers.ids import ADD_CUSTOMER_MODAL
from schedules.cadence import send_nudges
from schedules.slack_http import UPLOAD_ATTEMPTS
from storage.models import Customer
from storage.store import Store
from tests.e2e import test_hardening
from tests.e2e.test_customers import field_values
from tests.e2e.test_digest import seed
from tests.e2e.test_foundation import add_acme, ephemeral
from tests.e2e.test_hardening import drain_lazy_listeners
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import TEAM_ID, BotServer, FakeClock

# The real app with a 1 s Web API timeout (fixtures shared with the hardening tests).
impatient_bot = test_hardening.impatient_bot
impatient = test_hardening.impatient

ADD_USAGE = "Usage: `/partner add &lt;name&gt;"  # as Slack is sent it: `<name>` alone would read as a link


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("add Delta <!subteam^S123|@cs-team>", "'@cs-team' is a user group: a customer's owner is one person."),
        ("add Delta owner=<!subteam^S123|@cs-team>", "'@cs-team' is a user group"),
        ("add Delta <!here>", "'@here' can't be part of a customer's name"),
        ("add Delta <https://delta.example.com|Delta site>", "'Delta site' can't be part of a customer's name"),
        ("add <!subteam^S123> Delta", "'<!subteam^S123>' is a user group"),
    ],
)
def test_add_refuses_user_groups_here_and_links_instead_of_naming_the_customer_after_them(
    slack: SlackRequests, store: Store, text: str, message: str
) -> None:
    reply = ephemeral(slack.command(text))
    assert message in reply and ADD_USAGE in reply
    assert store.customers(team_id=TEAM_ID) == []


def test_edit_refuses_a_user_group_as_owner(slack: SlackRequests, store: Store) -> None:
    add_acme(slack)
    reply = ephemeral(slack.command("edit acme corp <!subteam^S123|@cs-team>"))
    assert "'@cs-team' is a user group" in reply and "Usage: `/partner edit" in reply
    assert [c.owner_id for c in store.customers(team_id=TEAM_ID)] == ["U0001"]


@pytest.mark.parametrize(("text", "shown"), [("add Gamma @nobody", "'@nobody'"), ("add Gamma #nowhere", "'#nowhere'")])
def test_plain_mentions_slack_did_not_recognise_name_the_value_and_the_usage(
    slack: SlackRequests, store: Store, text: str, shown: str
) -> None:
    reply = ephemeral(slack.command(text))
    assert shown in reply and ADD_USAGE in reply
    assert store.customers(team_id=TEAM_ID) == []


def test_export_all_with_a_stray_word_names_the_word(slack: SlackRequests) -> None:
    add_acme(slack)
    reply = ephemeral(slack.command("export all since=2026-01-01 junk"))
    assert "I didn't understand 'junk' after all" in reply and "Usage: `/partner export" in reply


def test_export_of_a_customer_called_all_something_still_works(slack: SlackRequests) -> None:
    add_acme(slack, name="All Stars")
    assert "of All Stars" in ephemeral(slack.command("export all stars"))


def test_export_by_an_old_name_says_the_new_one(slack: SlackRequests) -> None:
    add_acme(slack)
    ephemeral(slack.command("edit acme corp name=Acme Group"))
    assert "was renamed to *Acme Group*" in ephemeral(slack.command("export acme corp"))


def test_a_checkin_by_the_old_name_of_a_renamed_customer_is_not_misread(slack: SlackRequests, store: Store) -> None:
    add_acme(slack)
    ephemeral(slack.command("edit acme corp name=Acme Group"))
    reply = ephemeral(slack.command("checkin acme corp green kickoff went well"))
    assert reply == (
        "'acme corp' was renamed to *Acme Group*; use the new name.\n"
        "You typed: `/partner checkin acme corp green kickoff went well`"  # the note is given back
    )
    assert "Logged" in ephemeral(slack.command("checkin acme green kickoff went well"))


# A red check-in's owner alert survives Slack faults


def owner_dms(fake_slack: FakeSlack) -> list[str]:
    return [
        c.params["text"] for c in fake_slack.calls_to("chat.postMessage") if c.ok and c.params["channel"] == "U0001"
    ]


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 429, "retry_after": 0, "times": 6},  # the summary's 3 tries and the alert's 3 tries
        {"status": 500, "times": 6},
        {"error": "invalid_auth", "times": 2},  # the token refused, then fixed: the alert waited for it
    ],
    ids=["429", "500", "invalid_auth"],
)
def test_an_owner_alert_slack_refused_is_sent_later_from_the_outbox_exactly_once(
    slack: SlackRequests,
    bot: BotServer,
    fake_slack: FakeSlack,
    store: Store,
    settings: Settings,
    clock: FakeClock,
    fault: dict[str, Any],
) -> None:
    add_acme(slack)
    fake_slack.fail_next("chat.postMessage", **fault)
    assert "Logged a red check-in" in ephemeral(slack.command("checkin acme red they want to cancel", user_id="U0002"))
    drain_lazy_listeners(bot)
    assert owner_dms(fake_slack) == []  # Slack refused it at once…
    client = make_client(settings)
    send_nudges(store=store, client=client, now=clock())
    (dm,) = owner_dms(fake_slack)  # …so the outbox delivers it
    assert "<@U0002> logged a *red* check-in for *Acme Corp*" in dm and "they want to cancel" in dm
    send_nudges(store=store, client=client, now=clock.advance(minutes=5))
    assert len(owner_dms(fake_slack)) == 1


def test_a_timeout_posting_the_summary_still_alerts_the_owner(
    impatient: SlackRequests, impatient_bot: BotServer, fake_slack: FakeSlack, store: Store
) -> None:
    add_acme(impatient)
    fake_slack.fail_next("chat.postMessage", delay=1.5)  # the summary times out
    ephemeral(impatient.command("checkin acme red they want to cancel", user_id="U0002"))
    drain_lazy_listeners(impatient_bot)
    (dm,) = owner_dms(fake_slack)
    assert "they want to cancel" in dm
    assert len(store.checkins(team_id=TEAM_ID)) == 1


# A check-in's channel summary survives Slack faults: the outbox posts what the follow-up could not


def channel_summaries(fake_slack: FakeSlack, of: str) -> list[dict[str, Any]]:
    """This test's summaries (an earlier test's timed-out post may still land in the shared fake Slack)."""
    return [m for m in fake_slack.messages.get("C0ACME", []) if of in m["text"]]


@pytest.mark.parametrize(
    "fault",
    [
        test_hardening.FAULTS["429"],
        test_hardening.FAULTS["500"],
        # Slack does not answer in time (the client does not retry a read timeout), and here did not post: a
        # sender looks for it in the channel once its lease is over, and posts it as it is not there
        {"status": 503, "delay": 1.5},
    ],
    ids=["429", "500", "timeout"],
)
def test_a_summary_slack_did_not_take_is_posted_later_from_the_outbox_exactly_once(
    impatient: SlackRequests,
    impatient_bot: BotServer,
    fake_slack: FakeSlack,
    store: Store,
    settings: Settings,
    clock: FakeClock,
    fault: dict[str, Any],
) -> None:
    add_acme(impatient)
    fake_slack.fail_next("chat.postMessage", **fault)  # every try of the client's
    assert "Logged" in ephemeral(impatient.command("checkin acme green renewal signed"))  # the owner's own: no alert
    impatient_bot.settle()
    assert channel_summaries(fake_slack, "renewal signed") == [] and fake_slack.scripted("chat.postMessage") == 0
    client = make_client(settings)
    send_nudges(store=store, client=client, now=clock.advance(minutes=3) if "delay" in fault else clock())
    (summary,) = channel_summaries(fake_slack, "renewal signed")
    assert "*Acme Corp*" in summary["text"] and "renewal signed" in summary["text"] and summary["thread_ts"] is None
    assert [c.summary_ts for c in store.checkins(team_id=TEAM_ID)] == [summary["ts"]]
    send_nudges(store=store, client=client, now=clock.advance(minutes=5))
    assert len(channel_summaries(fake_slack, "renewal signed")) == 1


def test_a_late_summary_joins_its_days_thread_and_the_next_ones_thread_under_the_same_message(
    impatient: SlackRequests,
    impatient_bot: BotServer,
    fake_slack: FakeSlack,
    store: Store,
    settings: Settings,
    clock: FakeClock,
) -> None:
    add_acme(impatient)
    fake_slack.fail_next("chat.postMessage", **test_hardening.FAULTS["500"])
    ephemeral(impatient.command("checkin acme green first of the day"))
    impatient_bot.settle()
    clock.advance(minutes=10)
    ephemeral(impatient.command("checkin acme green second of the day"))  # posted: the day's first message
    impatient_bot.settle()
    (day,) = channel_summaries(fake_slack, "of the day")
    send_nudges(store=store, client=make_client(settings), now=clock())
    clock.advance(minutes=10)
    ephemeral(impatient.command("checkin acme green third of the day"))
    impatient_bot.settle()
    _, late, third = channel_summaries(fake_slack, "of the day")
    assert "second of the day" in day["text"] and day["thread_ts"] in (None, day["ts"])
    assert "first of the day" in late["text"] and late["thread_ts"] == day["ts"]
    assert "third of the day" in third["text"] and third["thread_ts"] == day["ts"]  # a thread's ts, not a reply's


# /partner digest mine: the promised chart


@pytest.mark.parametrize(
    "fault",
    [
        {"error": "invalid_auth"},
        {"status": 500, "times": 3},
        {"delay": 1.5, "times": 2},
        # the upload URL's success other than 200 is an error to slack-sdk (each of Partner's tries)
        {"method": "upload", "status": 201, "times": UPLOAD_ATTEMPTS},
    ],
    ids=["refused", "500", "timeout", "upload 201"],
)
def test_a_digest_chart_slack_refuses_is_reported_in_the_dm_it_was_promised_in(
    impatient: SlackRequests, fake_slack: FakeSlack, store: Store, fault: dict[str, Any]
) -> None:
    seed(store, datetime(2026, 11, 25, 14, 0, tzinfo=UTC))
    fault = dict(fault)
    fake_slack.fail_next(fault.pop("method", "files.getUploadURLExternal"), **fault)
    body = impatient.command("digest mine").json()
    assert "on its way to your DM" in json.dumps(body["blocks"])
    assert wait_after_ack(timeout=20)
    assert not [f for f in fake_slack.files.values() if f["completed"]]
    (told,) = [c.params["text"] for c in fake_slack.calls_to("chat.postMessage") if c.ok]
    assert "couldn't send your digest's health chart" in told and "/partner digest mine" in told


# Who may own a customer: a person of this workspace


@pytest.mark.parametrize(
    ("owner", "message"),
    [
        ("<@UBOT|partner>", "<@UBOT> is a bot: a customer's owner is a person"),
        ("<@U0DEAD|gone>", "<@U0DEAD> is deactivated: pick an active teammate"),
        ("<@U9999|ghost>", "I can't find <@U9999> in this workspace"),
    ],
)
def test_a_bot_a_deactivated_or_an_unknown_user_cannot_own_a_customer(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, owner: str, message: str
) -> None:
    assert fake_slack.bot_user_id == "UBOT"
    fake_slack.add_user("U0DEAD", name="gone", deleted=True)
    reply = ephemeral(slack.command(f"add Globex {owner}"))
    assert message in reply and ADD_USAGE in reply
    assert store.customers(team_id=TEAM_ID) == []
    add_acme(slack)
    reply = ephemeral(slack.command(f"edit acme corp owner={owner}"))
    assert message in reply and "Usage: `/partner edit" in reply
    assert [c.owner_id for c in store.customers(team_id=TEAM_ID)] == ["U0001"]


def test_the_add_modal_refuses_a_bot_owner_on_the_owner_field(slack: SlackRequests, store: Store) -> None:
    values = field_values(name="Globex", owner="UBOT")
    errors = slack.view_submission(ADD_CUSTOMER_MODAL, values).json()["errors"]
    assert errors["owner"].startswith("@partner is a bot")
    assert store.customers(team_id=TEAM_ID) == []


def test_a_name_slack_would_read_as_a_mention_or_link_is_refused_everywhere_a_name_is_given(
    slack: SlackRequests, store: Store
) -> None:
    # Typed `<!channel>` arrives escaped; stored as the name, the channel summary and the digest would broadcast it.
    reply = ephemeral(slack.command("add Globex &lt;!channel&gt; <@U0001|dana>"))
    assert "'Globex <!channel>' can't be a customer's name" in reply and "Leave out &lt; and &gt;" in reply
    errors = slack.view_submission(ADD_CUSTOMER_MODAL, field_values(name="Globex <https://x.example|bank>")).json()
    assert "can't be a customer's name" in errors["errors"]["name"]
    assert store.customers(team_id=TEAM_ID) == []
    add_acme(slack)
    assert "can't be a customer's name" in ephemeral(slack.command("edit acme corp name=Acme &lt;!here&gt;"))
    assert [c.name for c in store.customers(team_id=TEAM_ID)] == ["Acme Corp"]


def test_an_owner_is_kept_as_typed_when_slack_cannot_say_who_it_is(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    fake_slack.fail_next("users.info", status=500, times=3)
    reply = ephemeral(slack.command("add Globex <@U0002|sam>"))
    assert "Added *Globex* — owner <@U0002>, time zone UTC." in reply
    # The customer runs on the default clock: the author is told why, and how to set the right one.
    assert "Slack didn't tell me <@U0002>'s time zone, so UTC (the default) is used" in reply
    assert "`/partner edit Globex tz=Area/City`" in reply
    assert [c.owner_id for c in store.customers(team_id=TEAM_ID)] == ["U0002"]
    assert "didn't tell me" not in ephemeral(slack.command("add Initech <@U0002|sam>"))  # Slack answered: Berlin
    assert "didn't tell me" not in ephemeral(slack.command("add Umbrella tz=Asia/Tokyo"))
    # The same from the form, in the confirmation where it was opened.
    fake_slack.fail_next("users.info", status=500, times=3)
    values = field_values(name="Hooli", owner="U0001", tz="", country="", cadence="")
    slack.view_submission(ADD_CUSTOMER_MODAL, values, private_metadata=json.dumps({"channel_id": "C0001"}))
    told = fake_slack.wait_for("chat.postEphemeral", where=lambda c: "Hooli" in str(c.params.get("text")))
    assert "Slack didn't tell me <@U0001>'s time zone, so UTC (the default) is used" in told[-1].params["text"]


def test_an_archived_customers_history_can_still_be_exported(slack: SlackRequests, store: Store) -> None:
    add_acme(slack)
    ephemeral(slack.command("checkin acme green kickoff"))
    ephemeral(slack.command("archive acme corp"))
    reply = ephemeral(slack.command("export acme corp"))
    assert "Exporting 1 check-in and 0 survey responses of Acme Corp" in reply
    assert wait_after_ack()


# Moods as people type them in Slack


@pytest.mark.parametrize(
    ("mood", "color"),
    [(":+1::skin-tone-3:", "green"), (":thumbsdown::skin-tone-5:", "red"), (":large_orange_circle:", "yellow")],
)
def test_emoji_moods_with_a_skin_tone_or_an_orange_circle(
    slack: SlackRequests, store: Store, mood: str, color: str
) -> None:
    add_acme(slack)
    reply = ephemeral(slack.command(f"checkin acme {mood} renewal talk went fine"))
    assert f"Logged a {color} check-in for *Acme Corp*: renewal talk went fine" in reply
    (entry,) = store.checkins(team_id=TEAM_ID)
    assert entry.mood == color and entry.note == "renewal talk went fine"


def test_edit_takes_the_customers_channel_in_place_of_its_name(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    add_acme(slack)
    fake_slack.add_channel("C0NEW", name="acme-new")
    reply = ephemeral(slack.command("edit <#C0ACME|acme> tz=Europe/Paris <#C0NEW|acme-new>"))
    assert "Updated *Acme Corp*" in reply and "Europe/Paris" in reply and "<#C0NEW>" in reply
    (customer,) = store.customers(team_id=TEAM_ID)
    assert (customer.tz, customer.channel_id) == ("Europe/Paris", "C0NEW")
    assert "No customer has <#C0001> as its channel" in ephemeral(slack.command("edit <#C0001|general> tz=UTC"))


def test_a_customer_named_by_its_channel_that_is_archived_or_shared_by_two_is_said_so(
    slack: SlackRequests, store: Store
) -> None:
    add_acme(slack)
    ephemeral(slack.command("archive acme"))
    reply = ephemeral(slack.command("checkin <#C0ACME|acme> green renewal signed"))
    assert "*Acme Corp* is archived. Bring it back with `/partner restore Acme Corp`." in reply
    assert "You typed: `/partner checkin <#C0ACME|acme> green renewal signed`" in reply
    assert "Restored *Acme Corp*" in ephemeral(slack.command("restore <#C0ACME|acme>"))
    ephemeral(slack.command("add Acme Labs <#C0ACME|acme>"))  # two customers in one channel
    reply = ephemeral(slack.command("checkin <#C0ACME|acme> green renewal signed"))
    assert "<#C0ACME> is the channel of *Acme Corp*, *Acme Labs*: name the one you mean." in reply
    assert store.checkins(team_id=TEAM_ID) == []


def test_list_names_an_unknown_tier_and_reads_supplier_of_choice_with_spaces(
    slack: SlackRequests, store: Store
) -> None:
    add_acme(slack)
    reply = ephemeral(slack.command("list tier=gold"))
    assert "'gold' is not a tier: use tier=supplier, tier=supplier_of_choice, tier=partner" in reply
    assert "Usage: `/partner list" in reply
    customer = store.customers(team_id=TEAM_ID)[0]
    with store.session() as session:
        session.exec(update(Customer).where(Customer.id == customer.id).values(tier="supplier_of_choice"))  # type: ignore[arg-type]
        session.commit()
    for typed in ('"Supplier of choice"', "supplier of choice", "Supplier-of-choice"):
        assert "Acme Corp" in ephemeral(slack.command(f"list tier={typed}"))
    # Shown as people read it (and as list tier= takes it), not as its key.
    listing = json.dumps(slack.command("list").json())
    assert "tier Supplier of choice" in listing and "supplier_of_choice" not in listing
    assert ephemeral(slack.command("list tier=supplier_of_choice")).startswith(
        "All customers in tier Supplier of choice"
    )
    card = json.dumps(slack.command("show acme").json())
    assert "*Tier*\\nSupplier of choice" in card and "supplier_of_choice" not in card


# Slack's 429 + Retry-After while a command waits for its answer


def test_a_long_retry_after_before_the_ack_is_not_waited_out(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    """Waiting 5 s for users.info would answer after Slack's 3 s: the owner is kept, the time zone is the default."""
    fake_slack.fail_next("users.info", status=429, retry_after=5)
    reply = ephemeral(slack.command("add Globex <@U0002|sam>"))
    assert "Added *Globex* — owner <@U0002>, time zone UTC" in reply
    assert len(fake_slack.calls_to("users.info")) == 1  # no second try before the answer


def test_a_short_retry_after_before_the_ack_is_still_honoured(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    fake_slack.fail_next("users.info", status=429, retry_after=0)
    assert "time zone Europe/Berlin" in ephemeral(slack.command("add Globex <@U0002|sam>"))
    assert len(fake_slack.calls_to("users.info")) == 2
