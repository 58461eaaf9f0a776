"""Slack's real payloads, byte for byte: what Slack's client makes of what people type (addresses turned into links
as they are typed), and the shapes Slack really sends from DMs, private channels and Home. Partner reads each as the
person typed or clicked it, and never refuses or loses what they typed over Slack's markup."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from storage.store import Store
from tests.e2e.test_boundaries import records
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests, as_slack_sends
from tests.utils import TEAM_ID, BotServer, FakeClock, ephemeral

NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture
def acme(slack: SlackRequests, bot: BotServer) -> SlackRequests:
    ephemeral(slack.command("add Acme Corp <#C0ACME|acme> <@U0001|dana>"))
    bot.settle()
    return slack


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        # 38 characters typed; Slack sends 86 (`<http://…|…>`), which was refused as "this one is 86"
        (
            '"Open a ticket" kind=channel value=acme.zendesk.com/hc/en-us/requests/new',
            "acme.zendesk.com/hc/en-us/requests/new",
        ),
        # 44 characters typed, 96 sent
        (
            '"Email the escalations list first" kind=channel value=support-escalations@initech-corporation.com',
            "support-escalations@initech-corporation.com",
        ),
        ('"Email the escalations list first" kind=channel value="support@acme.com"', "support@acme.com"),
    ],
)
def test_an_address_typed_as_an_agreements_value_is_kept_as_typed_not_refused_for_slacks_link_markup(
    acme: SlackRequests, store: Store, typed: str, kept: str
) -> None:
    text = as_slack_sends(f"boundary acme add {typed}")
    assert "<http://" in text or "<mailto:" in text  # as Slack sends it
    reply = ephemeral(acme.command(text))
    assert reply.startswith(":handshake: Proposed"), reply
    assert f"(channel: {kept})" in reply
    (record,) = records(store)
    assert (record.rule.kind, record.rule.value) == ("channel", kept)
    listing = ephemeral(acme.command("boundary acme list"))
    assert "proposed" in listing


def test_a_value_longer_than_64_characters_as_typed_is_still_refused_naming_its_typed_length(
    acme: SlackRequests, store: Store
) -> None:
    address = "support-escalations-and-incidents@initech-corporation-international.com"  # 72 characters
    reply = ephemeral(acme.command(as_slack_sends(f'boundary acme add "Email us" kind=channel value={address}')))
    assert f"Keep the value to 64 characters or fewer (this one is {len(address)})" in reply, reply
    assert "You typed:" in reply
    assert records(store) == []


@pytest.mark.parametrize(
    ("typed", "until", "reason"),
    [
        # Was Mon 30 Nov 02:30 with "PM" for a reason: the call put off to the small hours, silently.
        ("until mon 2:30\u202fPM back from the offsite", datetime(2026, 11, 30, 14, 30), "back from the offsite"),
        ("until mon 2 pm", datetime(2026, 11, 30, 14), None),  # was Mon 00:00, reason "2 pm"
        ("until Dec 3 at 2\u00a0p.m. legal review", datetime(2026, 12, 3, 14), "legal review"),  # was 02:00
        ("until 3\u202fpm", datetime(2026, 11, 25, 15), None),  # today: was refused as "'until 3' is not a snooze"
        ("until fri 2 people out", datetime(2026, 11, 27), "2 people out"),  # a bare number is still the reason's
    ],
)
def test_a_snooze_until_a_time_written_with_a_space_before_am_or_pm_ends_at_that_time(
    acme: SlackRequests, store: Store, clock: FakeClock, typed: str, until: datetime, reason: str | None
) -> None:
    clock.set(datetime(2026, 11, 25, 10, tzinfo=NEW_YORK))  # a Wednesday morning in New York, Acme's zone
    reply = ephemeral(acme.command(f"snooze acme {typed}"))
    assert reply.startswith(":zzz: No nudges about *Acme Corp*"), reply
    (customer,) = store.customers(team_id=TEAM_ID)
    assert customer.snoozed_until is not None
    assert customer.snoozed_until.astimezone(NEW_YORK).replace(tzinfo=None) == until, reply
    assert customer.snooze_reason == reason


def test_partner_invited_into_a_slack_connect_channel_posts_there_again_whatever_team_the_envelope_names(
    acme: SlackRequests, store: Store, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """In a Slack Connect channel Slack sends the event in an envelope naming the workspace it happened in, the
    customer's (`team_id`), with Partner's own installation in `authorizations`: the refusal recorded on Acme is
    cleared all the same, and the customer's people joining are left alone."""
    (customer,) = store.customers(team_id=TEAM_ID)
    assert customer.id is not None
    store.record_channel_error(team_id=TEAM_ID, customer_id=customer.id, error="not_in_channel", now=clock())
    shared = {"source_team_id": "T0CUSTOMER", "is_ext_shared_channel": True}
    joined = {"type": "member_joined_channel", "channel": "C0ACME", "channel_type": "C", "inviter": "U0001"}
    their_person = {**joined, "user": "U0THEIRS", "team": "T0CUSTOMER", "inviter": "U0THEIRS2"}
    assert acme.event(their_person, **shared).status == 200
    assert store.customers(team_id=TEAM_ID)[0].channel_error == "not_in_channel"
    assert acme.event({**joined, "user": fake_slack.bot_user_id, "team": TEAM_ID}, **shared).status == 200
    assert store.customers(team_id=TEAM_ID)[0].channel_error is None


@pytest.mark.parametrize("typed", ["add Acme dana@acme.com", "add support@umbrella.com"])
def test_an_email_address_in_add_is_refused_never_read_into_the_customers_name(
    slack: SlackRequests, store: Store, typed: str
) -> None:
    """An address in `add` is most likely the owner meant by it: refused, naming it, as before; reading it as typed
    (as an agreement's value is) would have added a customer called "Acme dana@acme.com" owned by whoever typed it."""
    reply = ephemeral(slack.command(as_slack_sends(typed)))
    assert "can't be part of a customer's name or settings" in reply, reply
    assert store.customers(team_id=TEAM_ID) == []


ESCALATIONS = (
    "For anything urgent, email support-escalations@initech-corporation.com or open a ticket at "
    "acme.zendesk.com/hc/en-us/requests/new, and we answer within the hour; for everything else we reply in the "
    "shared channel within one business day, and we keep Friday afternoons free of calls."
)


def test_an_agreement_with_addresses_is_measured_as_the_person_typed_it(acme: SlackRequests, store: Store) -> None:
    """286 characters typed; Slack sends 387 with its links' markup, which was refused as "this one is 387"."""
    assert 250 < len(ESCALATIONS) <= 300
    sent = as_slack_sends(f'boundary acme add "{ESCALATIONS}" kind=custom')
    assert len(sent) - len(ESCALATIONS) > 90
    reply = ephemeral(acme.command(sent))
    assert reply.startswith(":handshake: Proposed"), reply
    (record,) = records(store)
    assert "<mailto:support-escalations@initech-corporation.com|" in record.rule.text  # still a link where shown
    # The reminder's own wording, 500 characters as typed: the same
    wording = f"{ESCALATIONS} Thanks for helping us keep to it: it lets us give you our best work every week."
    reply = ephemeral(acme.command(as_slack_sends(f'boundary acme wording 1 "{wording}"')))
    assert "Keep the wording" not in reply, reply
    (record,) = records(store)
    assert record.row.reminder_text is not None and "support-escalations@" in record.row.reminder_text
    # Typed past the limit, it is still refused, naming the length the person typed.
    longer = ESCALATIONS + " We also send a written summary after every call, within a day."
    reply = ephemeral(acme.command(as_slack_sends(f'boundary acme add "{longer}"')))
    assert f"Keep a boundary to 300 characters or fewer (this one is {len(longer)})" in reply, reply


def test_the_messages_tab_mentions_and_message_events_are_acked_and_answered_with_nothing(
    acme: SlackRequests, fake_slack: FakeSlack, bot: BotServer
) -> None:
    """README: the Messages tab takes no typing and an @Partner mention gets no answer. Slack sends these as it
    does (a workspace may subscribe the app to message events too): each is acked 200, nothing is published or
    posted."""
    bot_user = fake_slack.bot_user_id
    calls = len(fake_slack.calls)
    for event in (
        {"type": "app_home_opened", "user": "U0001", "channel": "D0001", "tab": "messages"},
        {"type": "app_mention", "user": "U0001", "channel": "C0ACME", "text": f"<@{bot_user}> status?", "ts": "1.1"},
        {"type": "message", "channel": "D0001", "channel_type": "im", "user": "U0001", "text": "help", "ts": "1.2"},
        {"type": "message", "subtype": "channel_join", "channel": "C0ACME", "user": bot_user, "ts": "1.3"},
        {
            "type": "message",
            "subtype": "bot_message",
            "channel": "C0ACME",
            "bot_id": "B0001",
            "text": "hi",
            "ts": "1.4",
        },
        {
            "type": "message",
            "subtype": "message_changed",
            "hidden": True,
            "channel": "C0ACME",
            "message": {"type": "message", "user": "U0001", "text": "edited", "ts": "1.2"},
            "previous_message": {"type": "message", "user": "U0001", "text": "first", "ts": "1.2"},
            "ts": "1.5",
        },
        {"type": "message", "subtype": "message_deleted", "hidden": True, "channel": "C0ACME", "deleted_ts": "1.2"},
    ):
        assert acme.event(event).status == 200, event
    bot.settle()
    done = {c.method for c in fake_slack.calls[calls:]}
    assert not done & {"views.publish", "chat.postMessage", "chat.postEphemeral"}, done
