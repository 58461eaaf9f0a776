"""Session 21's findings on what leaves Partner as a report (issue 7): the weekly digest, its chart, the export.

Signed requests against the fake Slack, ticks with an injected now; no sleeping, no wall clock.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.app import create_app, make_client
from bot.settings import Settings
from handlers.commands.export import wait_after_ack
from schedules.digest import plan_digests, send_digest_charts
from schedules.sender import send_due_nudges
from schedules.slack_http import UPLOAD_ATTEMPTS
from storage.store import Store
from tests.e2e.test_digest import seed
from tests.e2e.test_export import read_csv
from tests.e2e.test_export import seed as seed_export
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import SIGNING_SECRET, TEAM_ID, BotServer, FakeClock

MONDAY_9 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def completed_files(fake: FakeSlack) -> list[dict[str, Any]]:
    return [f for f in fake.files.values() if f["completed"]]


@pytest.mark.parametrize("scored", [0, 1])
def test_the_weekly_charts_message_says_it_is_empty_or_names_its_one_customer_as_one(
    store: Store, fake_slack: FakeSlack, settings: Settings, scored: int
) -> None:
    """The chart's message is what the channel's notification reads. A team whose customers had no health score yet
    got "The digest's health chart: 12 weeks of the customers whose health moved most." over an empty chart, and a
    team with one scored customer "…of the customers whose health moved most (Acme)": neither is what was shown."""
    store.ensure_workspace(team_id=TEAM_ID, now=MONDAY_9 - timedelta(days=30))
    store.set_digest_channel(team_id=TEAM_ID, channel_id="C0001", now=MONDAY_9 - timedelta(days=30))
    for name in ("Acme", "Globex"):
        customer = store.add_customer(
            team_id=TEAM_ID, name=name, created_by="U0001", now=MONDAY_9 - timedelta(days=30), owner_id="U0001"
        )
        assert customer.id is not None
        if name == "Acme" and scored:
            for weeks_ago, score in ((2, 80), (0, 55)):
                day = (MONDAY_9 - timedelta(weeks=weeks_ago, days=1)).date()
                store.save_health(
                    team_id=TEAM_ID, customer_id=customer.id, score=score, band="green", components={}, day=day,
                    now=MONDAY_9 - timedelta(weeks=weeks_ago, days=1),
                )  # fmt: skip
    client = make_client(settings)
    now = MONDAY_9 + timedelta(minutes=1)
    assert plan_digests(store=store, client=client, now=now, settings=settings) == 1
    assert send_due_nudges(store=store, client=client, now=now) == 1
    assert send_digest_charts(store=store, client=client, now=now) == 1
    (chart,) = completed_files(fake_slack)
    said, alt = str(chart["initial_comment"]), str(chart["alt_txt"])
    assert "moved most" not in said and "moved most" not in alt, (said, alt)
    if scored:
        assert said == (
            ":chart_with_upwards_trend: The digest's health chart: 12 weeks of the one customer with a health score "
            "(Acme)."
        ), said
        assert alt.endswith(", of the one customer with a health score: Acme."), alt
    else:
        assert said == (
            ":chart_with_upwards_trend: The digest's health chart is empty: no customer has a health score in these "
            "12 weeks yet."
        ), said


def test_digest_mine_says_its_chart_is_in_the_dm_not_below(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    """`/partner digest mine` answers only its asker, and the chart follows in their DM: the answer said both
    "Chart below: health over 12 weeks…" and "The chart is on its way to your DM" — no chart ever came below."""
    seed(store, datetime(2026, 11, 25, 14, 0, tzinfo=UTC))
    for asked in ("digest mine", "digest team"):
        text = json.dumps(slack.command(asked).json()["blocks"], ensure_ascii=False)
        assert "Chart below" not in text, text
        assert "The chart is on its way to your DM with me" in text, text
        assert wait_after_ack()
    assert len(completed_files(fake_slack)) == 2


def test_a_team_digest_chart_slack_refused_says_to_ask_for_the_team_digest_again(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, clock: FakeClock
) -> None:
    """`/partner digest team`'s chart refused by Slack's file server: the DM said to ask again with
    `/partner digest mine`, which brings the asker's own customers' chart, not the team's they asked for."""
    seed(store, datetime(2026, 11, 25, 14, 0, tzinfo=UTC))
    fake_slack.fail_next("upload", status=500, times=UPLOAD_ATTEMPTS)
    assert "on its way to your DM" in json.dumps(slack.command("digest team").json(), ensure_ascii=False)
    assert wait_after_ack()
    (told,) = [c.params["text"] for c in fake_slack.calls_to("chat.postMessage")]
    assert told == (
        "Sorry — I couldn't send your digest's health chart: Slack had a problem on its side just now. Ask again "
        "with `/partner digest team` in a moment."
    ), told


def test_an_export_slack_shared_but_whose_answer_never_came_is_not_apologised_for(
    settings: Settings, store: Store, clock: FakeClock, fake_slack: FakeSlack
) -> None:
    """Slack shared the two files in the DM, but its answer to files.completeUploadExternal never reached Partner
    (a timeout): the DM then said "Sorry — your export … could not be sent… Ask again" right under the files, and
    asking again sends them twice. Partner now looks in the DM for them before saying anything."""
    seed_export(store)
    server = BotServer(
        create_app(settings=settings, store=store, clock=clock, client=make_client(settings, timeout=1)), store
    ).start()
    try:
        slack = SlackRequests(server.url, signing_secret=SIGNING_SECRET, team_id=TEAM_ID, fake=fake_slack)
        fake_slack.fail_next("files.completeUploadExternal", delay=1.5, answered_late=True)
        assert "will be in your DM" in slack.command("export acme").json()["text"]
        assert wait_after_ack(30)
    finally:
        server.stop()
        server.app.drain()
    assert len(completed_files(fake_slack)) == 2  # Slack shared them, once
    assert [c.params.get("text") for c in fake_slack.calls_to("chat.postMessage")] == []  # no apology under them
    assert fake_slack.calls_to("response_url") == []


@pytest.mark.parametrize("shared", [True, False], ids=["slack-shared-it", "nothing-shared"])
def test_a_digest_chart_whose_answer_never_came_is_apologised_for_only_when_it_is_not_in_the_dm(
    settings: Settings, store: Store, clock: FakeClock, fake_slack: FakeSlack, shared: bool
) -> None:
    """`/partner digest mine`'s chart, as the export: Slack's answer lost after it shared the chart, no "Sorry" under
    it; lost before anything was shared (the upload URL's answer), the apology as before."""
    seed(store, datetime(2026, 11, 25, 14, 0, tzinfo=UTC))
    client = make_client(settings, timeout=1)
    server = BotServer(create_app(settings=settings, store=store, clock=clock, client=client), store).start()
    try:
        slack = SlackRequests(server.url, signing_secret=SIGNING_SECRET, team_id=TEAM_ID, fake=fake_slack)
        step = "files.completeUploadExternal" if shared else "files.getUploadURLExternal"
        fake_slack.fail_next(step, delay=1.5, answered_late=True)
        assert "on its way to your DM" in json.dumps(slack.command("digest mine").json(), ensure_ascii=False)
        assert wait_after_ack(30)
    finally:
        server.stop()
        server.app.drain()
    assert len(completed_files(fake_slack)) == int(shared)
    told = [c.params.get("text") for c in fake_slack.calls_to("chat.postMessage")]
    assert told == ([] if shared else [f"Sorry — I couldn't send your digest's health chart: {SLACKS_TROUBLE}"]), told


SLACKS_TROUBLE = "Slack had a problem on its side just now. Ask again with `/partner digest mine` in a moment."


def test_an_exported_note_reads_mentions_channels_and_links_as_people_read_them_in_slack(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    """A CS lead opens the export in a spreadsheet: the note typed as "met @sam in #general re the deal" read
    `met <@U0002|sam> in <#C0001|general> re <https://acme.example/deal|the deal>`, Slack's wire format, which nobody
    typed or sees in Slack. Now it reads as Slack shows it; the typed `<3` and `&`, *bold* and a formula stay as
    they were made safe before."""
    ok = slack.command("add Acme Corp").json()["text"]
    assert "Added" in ok, ok
    typed = (
        "checkin acme green met <@U0002|sam> and <@U0001> in <#C0001|general> re <https://acme.example/deal|the deal>"
        " on <https://acme.example|acme.example> &amp; *all* &lt;3 <!here>"
    )
    assert "Logged" in slack.command(typed).json()["text"]
    assert "will be in your DM" in slack.command("export acme").json()["text"]
    assert wait_after_ack()
    (checkins,) = [f for f in completed_files(fake_slack) if f["filename"].startswith("partner-checkins-")]
    (row,) = read_csv(checkins["bytes"])
    assert row["note"] == (
        # <@U0001> came without a name: the export asks Slack for it (3718cf2), as a link reads label and address.
        "met @sam and @dana in #general re the deal (https://acme.example/deal) on acme.example "
        "(https://acme.example) & *all* <3 @here"
    ), row["note"]
    assert "Logged" in slack.command("checkin acme green <@U0002|sam> called").json()["text"]
    assert "will be in your DM" in slack.command("export acme").json()["text"]
    assert wait_after_ack()
    exports = [f for f in completed_files(fake_slack) if f["filename"].startswith("partner-checkins-")]
    latest = max(exports, key=lambda f: str(f["id"]))
    assert read_csv(latest["bytes"])[-1]["note"] == "'@sam called"  # a spreadsheet would run "@…" as a formula


@pytest.mark.parametrize("lost_at", ["files.getUploadURLExternal", "files.completeUploadExternal"])
def test_a_weekly_chart_whose_answer_never_came_goes_out_once_at_the_next_tick_unless_slack_shared_it(
    store: Store, fake_slack: FakeSlack, settings: Settings, lost_at: str
) -> None:
    """Slack slow to answer the chart's upload (a timeout): the chart was never tried again, whatever step it was,
    as Slack might have shared it — so a timeout asking for the upload URL, before anything could be shared, cost
    the channel the week's chart. Partner now looks in the channel: not there, the next tick uploads it; there
    (the last step's answer lost after Slack shared it), never again."""
    store.ensure_workspace(team_id=TEAM_ID, now=MONDAY_9 - timedelta(days=30))
    store.set_digest_channel(team_id=TEAM_ID, channel_id="C0001", now=MONDAY_9 - timedelta(days=30))
    seed(store, MONDAY_9)
    client = make_client(settings, timeout=1)
    now = MONDAY_9 + timedelta(minutes=1)
    assert plan_digests(store=store, client=client, now=now, settings=settings) == 1
    assert send_due_nudges(store=store, client=client, now=now) == 1
    fake_slack.fail_next(lost_at, delay=1.5, answered_late=True)
    assert send_digest_charts(store=store, client=client, now=now) == 0
    later = [send_digest_charts(store=store, client=client, now=now + timedelta(minutes=m)) for m in (1, 2)]
    shared = [f for f in completed_files(fake_slack) if f["channel_id"] == "C0001"]
    assert len(shared) == 1, shared  # the week's chart, once
    assert later == ([1, 0] if lost_at == "files.getUploadURLExternal" else [0, 0])
