"""CSV export from Slack (files sent by DM) and from the command line (a real process, with a progress bar)."""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from bot.app import create_app
from bot.settings import Settings
from handlers.commands.export import wait_after_ack
from handlers.permissions import GUEST_CHECKS
from schedules.slack_http import UPLOAD_ATTEMPTS
from storage.exports import CHECKIN_COLUMNS, SURVEY_COLUMNS
from storage.models import SurveyResponse
from storage.store import Store
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import BOT_TOKEN, SIGNING_SECRET, TEAM_ID, BotServer, FakeClock

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
NOTES = [
    "plain note",
    "commas, inside, a note",
    'she said "ship it"',
    "line one\nline two",
    "emoji 🎉🟢 café",
    '=HYPERLINK("http://evil.example","x")',
    "+1 555 0100",
    "-2 since last week",
    "@channel look",
    "a &lt;b&gt; &amp; c",  # as Slack escapes `a <b> & c`
]


def expected_cell(note: str) -> str:
    note = note.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return "'" + note if note[:1] in ("=", "+", "-", "@", "\t", "\r") else note


def seed(store: Store) -> tuple[int, int]:
    acme = store.add_customer(team_id=TEAM_ID, name="Acme Corp", created_by="U0001", now=NOW, owner_id="U0001")
    globex = store.add_customer(team_id=TEAM_ID, name="Globex", created_by="U0001", now=NOW, owner_id="U0002")
    assert acme.id is not None and globex.id is not None
    for i, note in enumerate(NOTES):
        store.record_checkin(
            team_id=TEAM_ID,
            customer_id=acme.id,
            author_id="U0001",
            mood="green",
            note=note,
            now=NOW - timedelta(days=len(NOTES) - i),
        )
    store.record_checkin(
        team_id=TEAM_ID, customer_id=globex.id, author_id="U0002", mood="red", note="old", now=NOW - timedelta(days=400)
    )
    with Session(store.engine) as session:
        session.add(
            SurveyResponse(
                team_id=TEAM_ID,
                customer_id=acme.id,
                survey="level",
                respondent_id="U0001",
                answers={"level": "partner", "move_up": "=cmd|' /C calc'!A0, then \"more\"\nthanks 🙏"},
                score=None,
                created_at=NOW - timedelta(days=1),
            )
        )
        session.commit()
    return acme.id, globex.id


def read_csv(data: bytes) -> list[dict[str, str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "UTF-8 with a BOM, so spreadsheets read emoji right"
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def uploaded(fake: FakeSlack) -> dict[str, dict[str, Any]]:
    return {f["filename"]: f for f in fake.files.values() if f.get("completed")}


def test_export_a_customer_from_slack_sends_two_csv_files_by_dm(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    seed(store)
    reply = slack.command("export acme since=2026-01-01")
    assert reply.status == 200
    text = reply.json()["text"]
    assert "10 check-ins and 1 survey response of Acme Corp since 2026-01-01" in text
    fake_slack.wait_for("files.completeUploadExternal")
    assert wait_after_ack()
    files = uploaded(fake_slack)
    assert len(files) == 2
    (checkins_name,) = [n for n in files if n.startswith("partner-checkins-acme-corp-")]
    (surveys_name,) = [n for n in files if n.startswith("partner-survey-answers-acme-corp-")]
    dm = files[checkins_name]["channel_id"]
    assert dm.startswith("D") and fake_slack.channels[dm]["user"] == "U0001"
    assert files[surveys_name]["channel_id"] == dm

    rows = read_csv(files[checkins_name]["bytes"])
    assert list(rows[0]) == list(CHECKIN_COLUMNS)
    assert [r["note"] for r in rows] == [expected_cell(n) for n in NOTES]
    assert all(r["customer"] == "Acme Corp" and r["mood"] == "green" for r in rows)
    assert rows[0]["created_at"].endswith("Z")

    answers = read_csv(files[surveys_name]["bytes"])
    assert list(answers[0]) == list(SURVEY_COLUMNS)
    by_question = {a["question"]: a for a in answers}
    assert by_question["level"]["answer"] == "partner"
    assert by_question["move_up"]["answer"] == "'=cmd|' /C calc'!A0, then \"more\"\nthanks 🙏"
    assert by_question["move_up"]["question_label"]  # the question as the survey asked it


def test_export_all_includes_every_customer_and_respects_since(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    seed(store)
    slack.command("export all")
    fake_slack.wait_for("files.completeUploadExternal")
    assert wait_after_ack()
    files = uploaded(fake_slack)
    rows = read_csv(files[next(n for n in files if n.startswith("partner-checkins-all-"))]["bytes"])
    assert {r["customer"] for r in rows} == {"Acme Corp", "Globex"}
    assert len(rows) == len(NOTES) + 1


def test_the_files_message_counts_one_check_in_and_each_answer_in_good_english(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    seed(store)
    assert "1 check-in and 0 survey responses of Globex" in slack.command("export globex").json()["text"]
    (sent,) = fake_slack.wait_for("files.completeUploadExternal")
    assert wait_after_ack()
    assert sent.params["initial_comment"] == (
        "Your export of Globex: 1 check-in and no survey answers. The survey answers file has its column headings "
        "only. Columns are described in Partner's README."
    )
    assert len(uploaded(fake_slack)) == 2  # both files, as README says: the survey answers one of headings only


def test_the_export_of_a_customer_named_with_slacks_formatting_characters_names_it_as_typed(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    """The DM's notification is the files' message: "Your export of _Internal_ R&D: …" read "Internal" in italics
    and lost its underscores, as did the answer. Names go into mrkdwn as typed, as every other message does."""
    internal = store.add_customer(team_id=TEAM_ID, name="_Internal_ R&D", created_by="U0001", now=NOW, owner_id="U0001")
    assert internal.id is not None
    store.record_checkin(team_id=TEAM_ID, customer_id=internal.id, author_id="U0001", mood="green", note="hi", now=NOW)
    shown = "<!date^0^{_}|_>Internal<!date^0^{_}|_> R&amp;D"  # handlers.parsing.escape(literal=True)
    assert f"1 check-in and 0 survey responses of {shown}." in slack.command("export _internal_ r&amp;d").json()["text"]
    (sent,) = fake_slack.wait_for("files.completeUploadExternal")
    assert wait_after_ack()
    assert sent.params["initial_comment"].startswith(f"Your export of {shown}: 1 check-in and no survey answers.")


def test_the_files_are_named_by_the_teams_day_not_the_utc_day(
    settings: Settings, store: Store, clock: FakeClock, fake_slack: FakeSlack
) -> None:
    seed(store)
    clock.set(datetime(2026, 11, 26, 20, 0, tzinfo=UTC))  # 09:00 on Friday 27 Nov in Auckland
    auckland = replace(settings, default_tz="Pacific/Auckland")
    server = BotServer(create_app(settings=auckland, store=store, clock=clock), store).start()
    try:
        slack = SlackRequests(server.url, signing_secret=SIGNING_SECRET, team_id=TEAM_ID, fake=fake_slack)
        assert slack.command("export all").status == 200
        fake_slack.wait_for("files.completeUploadExternal")
        assert wait_after_ack()
    finally:
        server.stop()
        server.app.drain()
    assert sorted(uploaded(fake_slack)) == [
        "partner-checkins-all-2026-11-27.csv",
        "partner-survey-answers-all-2026-11-27.csv",
    ]


def test_a_slack_retry_of_the_same_export_sends_nothing_more(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    seed(store)
    first = slack.command("export acme", trigger_id="111.222.abc")
    again = slack.command("export acme", trigger_id="111.222.abc", retry_num=1)
    assert first.status == again.status == 200
    fake_slack.wait_for("files.completeUploadExternal")
    assert wait_after_ack()
    assert len(fake_slack.calls_to("files.completeUploadExternal")) == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("export nosuch", "No customer matches 'nosuch'"),
        ("export acme since=yesterday", "'yesterday' is not a date"),
        ("export acme until=2026-01-01", "Unknown option 'until='"),
        ("export acme corp extra", "I didn't understand 'extra'"),
        (  # one of the two would be dropped without a word
            "export acme since=2026-01-01 since=2026-02-01",
            "since= is given twice (2026-01-01 and 2026-02-01): give it once",
        ),
        (  # two CSV files of headers only would say nothing more
            "export acme since=2030-01-01",
            "Nothing to export: no check-ins or survey answers of Acme Corp since 2030-01-01.",
        ),
    ],
)
def test_bad_export_requests_get_a_friendly_answer(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, text: str, message: str
) -> None:
    seed(store)
    reply = slack.command(text)
    assert message in reply.json()["text"]
    assert wait_after_ack()
    assert fake_slack.calls_to("files.getUploadURLExternal") == []


def test_a_new_teams_export_before_any_check_in_says_how_to_fill_it(
    slack: SlackRequests, fake_slack: FakeSlack
) -> None:
    """On the day Partner is installed, `/partner export` finds nothing: the answer says what would be in it and how
    to log the first, never "no check-ins … of all customers"."""
    for typed in ("export", "export all"):
        text = slack.command(typed).json()["text"]
        assert text.startswith("Nothing to export yet: no check-ins or survey answers have been logged."), text
        assert "`/partner checkin &lt;customer&gt; green &lt;note&gt;`" in text and "of all customers" not in text
    assert wait_after_ack()
    assert fake_slack.calls_to("files.getUploadURLExternal") == []


def test_a_customer_called_all_is_exported_by_its_quoted_name_and_named_when_all_is_typed(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    seed(store)
    # README's `export "All"` before any customer is called that: said so, with the way to export everyone.
    refused = slack.command('export "All"').json()["text"]
    assert refused.startswith("No customer") and "'All'" in refused and "after all" not in refused
    assert refused.endswith("Without quotes, `/partner export all` exports every customer.")
    store.add_customer(team_id=TEAM_ID, name="All", created_by="U0001", now=NOW, owner_id="U0001")
    everyone = slack.command("export all").json()["text"]
    assert "of all customers" in everyone
    assert 'A customer is called *All*: `/partner export "All"` exports only it.' in everyone
    assert wait_after_ack()
    assert slack.command('export "All"').json()["text"] == "Nothing to export: no check-ins or survey answers of All."
    assert "A customer is called" not in slack.command("export").json()["text"]  # "all" was not typed
    assert wait_after_ack()


def test_cli_export_writes_both_files_with_a_progress_bar(
    store: Store, database_url: str, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    seed(store)
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(Path.home()),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake_slack.api_url,
        "DATABASE_URL": database_url,
        # The code under test, not whatever the editable install points at (a worktree runs with PYTHONPATH set).
        **({"PYTHONPATH": os.environ["PYTHONPATH"]} if os.environ.get("PYTHONPATH") else {}),
    }
    out, surveys = tmp_path / "checkins.csv", tmp_path / "answers.csv"
    args = ["export", "--team", TEAM_ID, "--out", str(out), "--surveys", str(surveys), "--since", "2026-01-01"]
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "check-ins" in done.stderr and "100%" in done.stderr and "10 check-ins rows written" in done.stderr
    rows = read_csv(out.read_bytes())
    assert [r["note"] for r in rows] == [expected_cell(n) for n in NOTES]  # the 400-day-old one is before --since
    assert {a["question"] for a in read_csv(surveys.read_bytes())} == {"level", "move_up"}
    assert fake_slack.calls == []  # the command line never talks to Slack

    missing = subprocess.run(
        [sys.executable, "-m", "bot.cli", "export", "--team", TEAM_ID, "--out", str(out), "--customer", "nope"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 2 and "no single customer matches 'nope'" in missing.stderr


@pytest.mark.parametrize("refusal", ["invalid_auth", "account_inactive"])
def test_an_export_slack_refuses_partners_token_for_is_told_beside_the_command(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, refusal: str
) -> None:
    seed(store)
    fake_slack.fail_next("conversations.open", error=refusal)  # a token Slack refuses…
    fake_slack.fail_next("chat.postMessage", error=refusal)  # …refuses the DM that would say so, too
    assert "will be in your DM" in slack.command("export acme").json()["text"]
    assert wait_after_ack()
    (told,) = fake_slack.calls_to("response_url")  # the command's own response_url needs no token
    text = told.params["text"]
    assert text.startswith("Sorry — your export of Acme Corp could not be sent: Slack refused Partner's access")
    assert "partner-bot doctor" in text and refusal not in text and "moment" not in text  # asking again won't help
    assert told.params["response_type"] == "ephemeral"


# What the export's DM says when the files could not be sent: what happened and what to do, for a person.
ASK_THE_OPERATOR = "Please tell whoever runs Partner: `partner-bot doctor` shows what to fix."
TOKEN_REFUSED = f"Slack refused Partner's access to this workspace. {ASK_THE_OPERATOR}"
LASTING_PERMISSION = f"Slack doesn't allow Partner to send files here. {ASK_THE_OPERATOR}"
SLACK_BUSY = "Slack is busy and asked me to slow down. Ask again with `/partner export` in a few minutes."
SLACKS_TROUBLE = "Slack had a problem on its side just now. Ask again with `/partner export` in a moment."
UNKNOWN_REFUSAL = f"Slack turned the files down (it said `file_upload_size_restricted`). {ASK_THE_OPERATOR}"


@pytest.mark.parametrize(
    ("method", "fault", "named"),
    [
        ("files.getUploadURLExternal", {"error": "not_allowed_token_type"}, LASTING_PERMISSION),
        # The upload URL is tried UPLOAD_ATTEMPTS times (new URLs each time): a refusal that lasts is told.
        ("upload", {"status": 500, "times": UPLOAD_ATTEMPTS}, SLACKS_TROUBLE),
        ("upload", {"status": 201, "times": UPLOAD_ATTEMPTS}, SLACKS_TROUBLE),  # slack-sdk takes only 200
        # The last step, after both files reached Slack: neither is shared, the user is told once.
        ("files.completeUploadExternal", {"status": 429, "times": 3}, SLACK_BUSY),
        ("files.completeUploadExternal", {"status": 503, "times": 3}, SLACKS_TROUBLE),
        ("files.completeUploadExternal", {"error": "invalid_auth"}, TOKEN_REFUSED),
        ("files.completeUploadExternal", {"error": "file_upload_size_restricted"}, UNKNOWN_REFUSAL),
    ],
)
def test_an_export_slack_refuses_is_told_in_the_dm_in_words_for_people(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, method: str, fault: dict[str, Any], named: str
) -> None:
    seed(store)
    fake_slack.fail_next(method, **fault)
    assert "will be in your DM" in slack.command("export acme").json()["text"]
    assert wait_after_ack()
    (told,) = fake_slack.calls_to("chat.postMessage")
    text = told.params["text"]
    assert text == f"Sorry — your export of Acme Corp could not be sent: {named}"
    assert uploaded(fake_slack) == {}  # no file shared, not even the first of the two
    assert not re.search(r"\(\w+\)", text)  # no raw code such as (fatal_error), (HTTPError)
    assert "://" not in text and "response" not in text  # no API address, no raw response


def test_an_export_slack_turns_away_once_at_each_step_still_reaches_the_dm_once(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    seed(store)
    fake_slack.fail_next("files.getUploadURLExternal", status=429, retry_after=1)  # waited out after the answer
    fake_slack.fail_next("upload", status=500)  # Slack's file server: tried again with new upload URLs
    fake_slack.fail_next("files.completeUploadExternal", status=503)
    assert "will be in your DM" in slack.command("export acme").json()["text"]
    assert wait_after_ack(30)
    assert len(uploaded(fake_slack)) == 2
    assert len([c for c in fake_slack.calls_to("files.completeUploadExternal") if c.ok]) == 1
    assert fake_slack.calls_to("chat.postMessage") == []  # nothing to apologise for


def test_cli_export_names_a_wrong_team_or_an_unwritable_file_instead_of_an_empty_file_or_a_traceback(
    store: Store, database_url: str, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    seed(store)
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PARTNER_", "DATABASE_URL"))}
    env = {**clean, "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "DATABASE_URL": database_url}

    def export(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "bot.cli", "export", *args]
        return subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)

    out = tmp_path / "checkins.csv"
    typo = export("--team", "T0002", "--out", str(out))
    assert typo.returncode == 2 and f"no customers of workspace T0002 in this database (workspaces: {TEAM_ID})" in (
        typo.stderr
    )
    lower = export("--team", TEAM_ID.lower(), "--out", str(out))
    assert lower.returncode == 2 and f"{TEAM_ID.lower()!r} is not a Slack team ID" in lower.stderr
    assert not out.exists()  # no empty file that looks like "nothing to export"
    for day in ("2026-02-30", "yesterday"):
        bad = export("--team", TEAM_ID, "--out", str(out), "--since", day)
        assert bad.returncode == 2 and f"argument --since: '{day}' is not a date like 2026-01-31" in bad.stderr
    nowhere = export("--team", TEAM_ID, "--out", str(tmp_path / "missing-folder" / "checkins.csv"))
    assert nowhere.returncode == 2 and "Traceback" not in nowhere.stderr
    assert "cannot write " in nowhere.stderr and "No such file or directory" in nowhere.stderr
    # A survey file it cannot write is found before the check-ins file is written: nothing is, as README says.
    half = export("--team", TEAM_ID, "--out", str(out), "--surveys", str(tmp_path / "missing-folder" / "answers.csv"))
    assert half.returncode == 2 and "cannot write " in half.stderr and "answers.csv" in half.stderr
    assert not out.exists()
    out.write_text("last week's export")  # nor is an earlier export at that path cut short or emptied
    assert export("--team", TEAM_ID, "--out", str(out), "--surveys", str(tmp_path)).returncode == 2  # a folder
    assert out.read_text() == "last week's export"
    assert [p.name for p in tmp_path.iterdir() if "csv" in p.name] == ["checkins.csv"]  # no partial file left behind
    assert export("--team", TEAM_ID, "--out", str(out)).returncode == 0 and "checkin_id" in out.read_text("utf-8-sig")


def test_a_customer_named_with_symbols_exports_to_tidy_file_names(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    customer = store.add_customer(team_id=TEAM_ID, name="Smith & Co. (EU)", created_by="U0001", now=NOW)
    assert customer.id is not None
    store.record_checkin(team_id=TEAM_ID, customer_id=customer.id, author_id="U0001", mood="green", note="ok", now=NOW)
    assert "of Smith &amp; Co. (EU)" in slack.command("export Smith &amp; Co. (EU)").json()["text"]
    fake_slack.wait_for("files.completeUploadExternal")
    assert wait_after_ack()
    assert sorted(uploaded(fake_slack)) == [
        "partner-checkins-smith-co-eu-2026-11-25.csv",
        "partner-survey-answers-smith-co-eu-2026-11-25.csv",
    ]


@pytest.mark.parametrize("guest", ["is_restricted", "is_ultra_restricted"])  # multi-channel, single-channel guest
@pytest.mark.parametrize("text", ["export all", "export", "export acme since=2026-01-01", 'export "All"', "csv all"])
def test_a_guest_asking_for_an_export_is_told_exports_are_for_full_members_and_gets_no_file(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, guest: str, text: str
) -> None:
    seed(store)
    fake_slack.add_user("U0009", name="contractor", **{guest: True})
    reply = slack.command(text, user_id="U0009", user_name="contractor")
    assert reply.status == 200
    body = reply.json()
    assert body.get("response_type", "ephemeral") == "ephemeral"
    assert "Exports are for full members of the workspace" in body["text"]
    assert "Acme" not in body["text"]  # not even a customer's name
    assert wait_after_ack()
    assert fake_slack.calls_to("conversations.open") == []
    assert fake_slack.calls_to("files.getUploadURLExternal") == []
    assert uploaded(fake_slack) == {}

    member = slack.command("export all", user_id="U0002", user_name="sam")  # a full member is still served
    assert "Exporting 11 check-ins and 1 survey response of all customers" in member.json()["text"]
    fake_slack.wait_for("files.completeUploadExternal")
    assert wait_after_ack()
    (dm,) = {f["channel_id"] for f in uploaded(fake_slack).values()}
    assert fake_slack.channels[dm]["user"] == "U0002"


@pytest.mark.parametrize(
    "fault",
    [{"status": 429, "retry_after": 30}, {"status": 500, "times": 3}, {"error": "fatal_error"}],
    ids=["rate-limited", "slack-down", "error"],
)
def test_an_export_slack_cannot_say_who_asked_for_is_refused_with_a_try_again(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, fault: dict[str, Any]
) -> None:
    seed(store)
    GUEST_CHECKS.forget()  # Dana not checked lately: users.info is asked
    fake_slack.fail_next("users.info", **fault)
    reply = slack.command("export all")
    assert reply.status == 200
    assert "couldn't check who you are" in reply.json()["text"]
    assert "Try again in a moment" in reply.json()["text"]
    assert wait_after_ack()
    assert fake_slack.calls_to("files.getUploadURLExternal") == []  # fail closed: nothing built or sent

    again = slack.command("export all")  # a moment later Slack answers: the member gets the files
    assert "Exporting 11 check-ins" in again.json()["text"]
    fake_slack.wait_for("files.completeUploadExternal")
    assert wait_after_ack()
    assert len(uploaded(fake_slack)) == 2
