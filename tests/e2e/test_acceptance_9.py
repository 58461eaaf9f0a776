"""Acceptance of issue 9's hardening as Slack and an operator drive the bot: a retry that arrives while the first
delivery is still being answered, an oversized body, and what the operator meets."""

from __future__ import annotations

import http.client
import logging
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from sqlalchemy import text

from bot.server import MAX_BODY_BYTES
from handlers.ids import ADD_CUSTOMER_MODAL, OPEN_CHECKIN
from storage.db import make_engine
from storage.store import Store
from tests.e2e.test_cadence import add as add_daily_customer
from tests.e2e.test_cadence import cli_env as cli_env
from tests.e2e.test_cadence import nudges as cadence_nudges
from tests.e2e.test_cadence import rows as cadence_rows
from tests.e2e.test_customers import field_values
from tests.e2e.test_hardening import assert_no_duplicates, drain_lazy_listeners, posted
from tests.e2e.test_hardening import impatient as impatient
from tests.e2e.test_hardening import impatient_bot as impatient_bot
from tests.e2e.test_surveys import shared_customer
from tests.fake_slack import FakeSlack
from tests.slack_requests import Response, SlackRequests, sign
from tests.utils import SIGNING_SECRET, TEAM_ID, BotServer


@contextmanager
def overtaken(
    monkeypatch: pytest.MonkeyPatch, store: Store, method: str, *, after: bool = False
) -> Iterator[Callable[..., Response]]:
    """Runs the first delivery in a thread and holds it just before `store.<method>` writes (`after`: just after it
    read), while the retry (the caller's request) is answered: the retry Slack sends while the first delivery is
    still being answered, overtaking it. Yields `first(send)`: starts `send` and returns once it is held; the
    block's end lets it go on."""
    original: Callable[..., Any] = getattr(store, method)
    reached, release = threading.Event(), threading.Event()
    answers: list[Response] = []
    entered = threading.Lock()
    threads: list[threading.Thread] = []

    def held(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs) if after else None
        if entered.acquire(blocking=False):  # the first delivery only
            reached.set()
            release.wait(timeout=10)
        return result if after else original(*args, **kwargs)

    def first(send: Callable[[], Response]) -> list[Response]:
        thread = threading.Thread(target=lambda: answers.append(send()))
        threads.append(thread)
        thread.start()
        assert reached.wait(timeout=10), f"the first delivery never reached store.{method}"
        return answers

    monkeypatch.setattr(store, method, held)
    try:
        yield first
    finally:
        release.set()
        for thread in threads:
            thread.join(timeout=10)


def test_a_retried_add_that_overtakes_the_first_delivery_gets_the_same_answer(
    slack: SlackRequests, store: Store, fake_slack: FakeSlack, bot: BotServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with overtaken(monkeypatch, store, "add_customer") as first:
        answers = first(lambda: slack.command("add Acme <#C0ACME|acme>", trigger_id="9.1.slow"))
        retry = slack.command("add Acme <#C0ACME|acme>", trigger_id="9.1.slow", retry_num=1)
    assert "Added *Acme*" in retry.json()["text"], retry.text
    assert [a.json()["text"] for a in answers] == [retry.json()["text"]]  # not "There is already a customer…"
    assert [c.name for c in store.customers(team_id=TEAM_ID)] == ["Acme"]
    drain_lazy_listeners(bot)
    assert len(fake_slack.calls_to("conversations.join")) == 1
    assert_no_duplicates(fake_slack)


def test_a_retried_add_form_that_overtakes_the_first_delivery_closes_the_form_and_confirms_once(
    slack: SlackRequests, store: Store, fake_slack: FakeSlack, bot: BotServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    values = field_values(name="Acme Corp", owner="U0001", channel="C0ACME")
    with overtaken(monkeypatch, store, "add_customer") as first:
        answers = first(lambda: slack.view_submission(ADD_CUSTOMER_MODAL, values, view_id="VADD9"))
        retry = slack.view_submission(ADD_CUSTOMER_MODAL, values, view_id="VADD9", retry_num=1)
    assert retry.status == 200 and retry.body in (b"", b"{}")
    assert [(a.status, a.body) for a in answers] in ([(200, b"")], [(200, b"{}")]), answers[0].text  # no field error
    assert [c.name for c in store.customers(team_id=TEAM_ID)] == ["Acme Corp"]
    drain_lazy_listeners(bot)
    confirmations = [m for m in posted(fake_slack) if "Added *Acme Corp*" in m[2]]
    assert len(confirmations) == 1, posted(fake_slack)
    assert_no_duplicates(fake_slack)


@pytest.mark.parametrize("scratch_database", ["sqlite"], indirect=True)
def test_a_body_over_the_size_limit_is_refused_unread_and_stores_nothing(
    slack: SlackRequests, store: Store, fake_slack: FakeSlack, bot: BotServer
) -> None:
    """Anyone on the internet can reach /slack/events: a huge body is turned away (413) before it is buffered."""
    text = "checkin acme green " + "x" * MAX_BODY_BYTES
    body = urlencode({"command": "/partner", "text": text, "team_id": TEAM_ID, "user_id": "U0001"}).encode()
    now = int(slack.clock())
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": str(now),
        "X-Slack-Signature": sign(SIGNING_SECRET, body, now),  # even honestly signed
    }
    # The answer comes from the Content-Length alone, so only a first slice of the body is sent: a client still
    # pushing the rest when the server turns it away may get a broken pipe instead of reading the 413.
    host, port = urlsplit(bot.url).hostname or "127.0.0.1", urlsplit(bot.url).port
    connection = http.client.HTTPConnection(host, port, timeout=10)
    try:
        connection.putrequest("POST", "/slack/events")
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            connection.putheader(name, value)
        connection.endheaders(body[:65536])
        assert connection.getresponse().status == 413
    finally:
        connection.close()
    assert store.customers(team_id=TEAM_ID) == [] and store.checkins(team_id=TEAM_ID) == []
    assert "Added *Acme*" in slack.command("add Acme").json()["text"]  # the server goes on serving


@pytest.mark.parametrize(
    ("text", "method"),
    [("checkin acme red churn risk", "record_checkin"), ('boundary acme add "Calls at 9am"', "add_boundary")],
)
def test_a_retried_command_that_overtakes_the_first_delivery_stores_one_row_and_answers_alike(
    slack: SlackRequests,
    store: Store,
    fake_slack: FakeSlack,
    bot: BotServer,
    monkeypatch: pytest.MonkeyPatch,
    text: str,
    method: str,
) -> None:
    assert "Added *Acme*" in slack.command("add Acme <#C0ACME|acme>").json()["text"]
    bot.settle()
    with overtaken(monkeypatch, store, method) as first:
        answers = first(lambda: slack.command(text, trigger_id="9.2.slow"))
        retry = slack.command(text, trigger_id="9.2.slow", retry_num=2, retry_reason="http_error")
    assert [a.json()["text"] for a in answers] == [retry.json()["text"]]
    (customer,) = store.customers(team_id=TEAM_ID)
    assert customer.id is not None
    assert len(store.checkins(team_id=TEAM_ID)) == (1 if method == "record_checkin" else 0)
    boundaries = store.boundary_records(team_id=TEAM_ID, customer_id=customer.id)
    assert len(boundaries) == (1 if method == "add_boundary" else 0), boundaries
    drain_lazy_listeners(bot)
    assert_no_duplicates(fake_slack)


ASKED = "Asked *Acme Corp*'s people for their view in <#C0SHARED>"


def invitations(fake_slack: FakeSlack) -> list[dict[str, Any]]:
    return list(fake_slack.messages.get("C0SHARED", []))


def test_a_retried_ask_whose_first_post_slack_refused_posts_it_once_instead_of_saying_asked(
    slack: SlackRequests, store: Store, fake_slack: FakeSlack
) -> None:
    shared_customer(slack, fake_slack, store)
    fake_slack.fail_next("chat.postMessage", status=500, times=3)  # the first delivery's post, with its retries
    first = slack.command("ask acme", trigger_id="9.3.ask")
    assert ASKED not in first.json()["text"] and invitations(fake_slack) == []
    retry = slack.command("ask acme", trigger_id="9.3.ask", retry_num=1, retry_reason="http_timeout")
    assert ASKED in retry.json()["text"], retry.text
    assert len(invitations(fake_slack)) == 1
    again = slack.command("ask acme", trigger_id="9.3.ask", retry_num=2, retry_reason="http_timeout")
    assert ASKED in again.json()["text"] and len(invitations(fake_slack)) == 1


def test_a_retried_ask_that_overtakes_the_first_delivery_says_it_is_still_asking_not_asked(
    slack: SlackRequests, store: Store, fake_slack: FakeSlack
) -> None:
    shared_customer(slack, fake_slack, store)
    fake_slack.fail_next("chat.postMessage", delay=1.5)  # Slack is slow to take the first delivery's invitation…
    answers: list[Response] = []
    thread = threading.Thread(target=lambda: answers.append(slack.command("ask acme", trigger_id="9.4.ask")))
    thread.start()
    posting = threading.Event()
    while fake_slack.scripted("chat.postMessage") and not posting.wait(0.01):
        pass  # …and has it now
    retry = slack.command("ask acme", trigger_id="9.4.ask", retry_num=1, retry_reason="http_timeout")
    thread.join(timeout=10)
    assert "I'm still asking *Acme Corp*'s people in <#C0SHARED>" in retry.json()["text"], retry.text
    assert [ASKED in a.json()["text"] for a in answers] == [True]
    assert len(invitations(fake_slack)) == 1
    later = slack.command("ask acme", trigger_id="9.4.ask", retry_num=2, retry_reason="http_timeout")
    assert ASKED in later.json()["text"] and len(invitations(fake_slack)) == 1


def test_a_retried_ask_whose_first_post_got_no_answer_says_so_instead_of_asked_or_posting_again(
    slack: SlackRequests, store: Store, fake_slack: FakeSlack
) -> None:
    shared_customer(slack, fake_slack, store)
    # Slack does not answer in time (whether it posted, Partner can't know)
    fake_slack.fail_next("chat.postMessage", status=503, delay=2.5)
    assert ASKED not in slack.command("ask acme", trigger_id="9.5.ask").json()["text"]
    retry = slack.command("ask acme", trigger_id="9.5.ask", retry_num=1, retry_reason="http_timeout")
    assert "Slack didn't confirm my invitation to *Acme Corp*'s people in <#C0SHARED>" in retry.json()["text"]
    assert "/partner ask Acme Corp" in retry.json()["text"]
    assert fake_slack.scripted("chat.postMessage") == 0 and invitations(fake_slack) == []  # not asked twice


@contextmanager
def inserts_held(database_url: str, table: str) -> Iterator[Callable[[int], None]]:
    """Holds every INSERT into `table` (PostgreSQL: a SHARE lock still lets them read) until the block ends, so
    deliveries of one request run side by side up to their insert and then insert at once, neither overtaking the
    other. Yields `waiting(n)`: returns once n inserts wait on the lock."""
    engine = make_engine(database_url)
    holder, watcher = engine.connect(), engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    holder.begin()
    holder.execute(text(f"LOCK TABLE {table} IN SHARE MODE"))
    waits = text(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query ILIKE :insert"
    ).bindparams(insert=f"INSERT INTO {table} %")
    pause = threading.Event()

    def waiting(n: int) -> None:
        for _ in range(1000):
            if watcher.execute(waits).scalar_one() >= n:
                return
            pause.wait(0.01)
        raise AssertionError(f"{n} inserts into {table} never waited together")

    try:
        yield waiting
    finally:
        holder.rollback()  # the inserts go on, at once
        holder.close()
        watcher.close()
        engine.dispose()


def at_once(slack: SlackRequests, text: str, trigger_id: str) -> tuple[list[threading.Thread], list[Response]]:
    """The first delivery and Slack's retry of one command, sent side by side."""
    answers: list[Response] = []
    deliveries = [{}, {"retry_num": 1, "retry_reason": "http_timeout"}]
    threads = [
        threading.Thread(target=lambda k=kwargs: answers.append(slack.command(text, trigger_id=trigger_id, **k)))
        for kwargs in deliveries
    ]
    for thread in threads:
        thread.start()
    return threads, answers


@pytest.mark.parametrize("scratch_database", ["postgres"], indirect=True)
def test_two_deliveries_of_a_boundary_add_at_once_propose_it_once_and_answer_alike(
    slack: SlackRequests, store: Store, fake_slack: FakeSlack, bot: BotServer, database_url: str
) -> None:
    assert "Added *Acme*" in slack.command("add Acme <#C0ACME|acme>").json()["text"]
    bot.settle()
    with inserts_held(database_url, "boundary") as waiting:
        threads, answers = at_once(slack, 'boundary acme add "Calls at 9am"', "9.6.once")
        waiting(2)
    for thread in threads:
        thread.join(timeout=10)
    texts = [a.json()["text"] for a in answers]
    assert len(texts) == 2 and texts[0] == texts[1] and "Proposed “Calls at 9am”" in texts[0], texts
    (customer,) = store.customers(team_id=TEAM_ID)
    assert [r.rule.text for r in store.boundary_records(team_id=TEAM_ID, customer_id=customer.id or 0)] == [
        "Calls at 9am"
    ]


@pytest.mark.parametrize("scratch_database", ["postgres"], indirect=True)
def test_two_deliveries_of_an_ask_at_once_record_it_once_and_post_one_invitation(
    slack: SlackRequests, store: Store, fake_slack: FakeSlack, bot: BotServer, database_url: str
) -> None:
    customer = shared_customer(slack, fake_slack, store)
    with inserts_held(database_url, "customer_event") as waiting:
        threads, answers = at_once(slack, "ask acme", "9.7.once")
        waiting(2)
    for thread in threads:
        thread.join(timeout=10)
    texts = [a.json()["text"] for a in answers]
    # The loser of the insert says "Asked" only once the winner's post is recorded; until then, that it is asking.
    assert len(texts) == 2 and any(ASKED in t for t in texts), texts
    assert all(ASKED in t or "I'm still asking *Acme Corp*'s people" in t for t in texts), texts
    assert len(invitations(fake_slack)) == 1
    asked = store.customer_events_of_kind(team_id=TEAM_ID, customer_id=customer.id or 0, kind="survey_asked")
    assert len(asked) == 1


def test_sigterm_during_a_command_line_tick_lets_the_post_in_flight_be_recorded(
    store: Store, fake_slack: FakeSlack, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """cron or systemd stop `partner-bot tick` with SIGTERM: the tick finishes what it is posting and records it,
    instead of dying between Slack's answer and the outbox's `sent` (a post only a history lookup finds later)."""
    fake_slack.add_channel("C0ACME", name="acme", members=["U0001"])  # the bot is a member
    add_daily_customer(store)
    fake_slack.fail_next("chat.postMessage", delay=1.5)  # the nudge's post is on its way when the signal comes
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "tick", "--now", "2026-12-01T14:00:00Z"],
        env=cli_env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while fake_slack.scripted("chat.postMessage") and time.monotonic() < deadline:
            time.sleep(0.02)  # another process is about to post: polling is the only way to see it
        assert fake_slack.scripted("chat.postMessage") == 0, "the tick never posted"
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert process.returncode == 0, stderr
    assert "received SIGTERM: finishing this tick first" in stderr
    (posted_nudge,) = cadence_nudges(fake_slack)
    (row,) = cadence_rows(store)
    assert (row.status, row.message_ts) == ("sent", posted_nudge["ts"])  # recorded: no later tick has to look for it


SLACK_REFUSALS = {
    "500": ({"status": 500, "times": 3}, "Slack had a problem on its side just now. Please try again in a moment."),
    "503": ({"status": 503, "times": 3}, "Slack had a problem on its side just now. Please try again in a moment."),
    "invalid_auth": ({"error": "invalid_auth"}, "Slack refused Partner's access to this workspace (invalid_auth)"),
    "token_revoked": ({"error": "token_revoked"}, "Slack refused Partner's access to this workspace (token_revoked)"),
    "account_inactive": ({"error": "account_inactive"}, "Please tell whoever runs Partner: `partner-bot doctor`"),
}


@pytest.mark.parametrize("scratch_database", ["sqlite"], indirect=True)
@pytest.mark.parametrize("fault", list(SLACK_REFUSALS))
def test_slack_failing_before_the_answer_is_explained_in_plain_words_not_as_our_bug(
    impatient: SlackRequests, fake_slack: FakeSlack, fault: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Slack's 5xx or a refused token: the user learns whose problem it is and what to do, not 'Sorry — something
    went wrong on our side'; the log says so in one line, without a traceback."""
    scripted, says = SLACK_REFUSALS[fault]
    fake_slack.fail_next("views.open", **scripted)
    with caplog.at_level(logging.WARNING, logger="partner.errors"):
        text = impatient.command("checkin").json()["text"]
    assert says in text and "on our side" not in text, text
    assert [r for r in caplog.records if r.name == "partner.errors" and r.exc_info] == []


def test_a_retried_command_or_click_whose_form_is_open_says_nothing(
    slack: SlackRequests, store: Store, fake_slack: FakeSlack, bot: BotServer
) -> None:
    """Slack opens one form per trigger: a retry's views.open is refused (exchanged_trigger_id) while the user looks
    at the form the first delivery opened; telling them "Slack didn't let me open the form in time" would be wrong."""
    assert "Added *Acme*" in slack.command("add Acme").json()["text"]
    (customer,) = store.customers(team_id=TEAM_ID)
    first = slack.command("checkin", trigger_id="9.3.form")
    retry = slack.command("checkin", trigger_id="9.3.form", retry_num=1, retry_reason="http_timeout")
    assert (first.status, first.body, retry.status, retry.body) == (200, b"", 200, b"")
    for n in (None, 1, 2):
        clicked = slack.block_action(OPEN_CHECKIN, value=str(customer.id), trigger_id="9.3.click", retry_num=n)
        assert (clicked.status, clicked.body) == (200, b"")
    opened = [c for c in fake_slack.calls_to("views.open") if c.ok]
    assert [c.params["trigger_id"] for c in opened] == ["9.3.form", "9.3.click"]
    drain_lazy_listeners(bot)
    assert posted(fake_slack) == [] and fake_slack.response_url_posts == []


@pytest.mark.parametrize(("text", "kind"), [("edit acme ideal=3", "edited"), ("archive acme", "archived")])
def test_a_retried_edit_or_archive_answered_at_the_same_moment_logs_one_change_and_answers_alike(
    slack: SlackRequests, store: Store, bot: BotServer, monkeypatch: pytest.MonkeyPatch, text: str, kind: str
) -> None:
    """Both deliveries look for the request's change before either makes it (held together here): the customer's
    history must show one change, as after a retry Slack sends once the first was answered."""
    assert "Added *Acme*" in slack.command("add Acme <#C0ACME|acme>").json()["text"]
    bot.settle()
    looked, together = store.changed_by, threading.Barrier(2, timeout=2)

    def look_together(**kwargs: Any) -> Any:
        found = looked(**kwargs)
        if not together.broken and together.n_waiting < 2:
            with suppress(threading.BrokenBarrierError):
                together.wait()
            together.abort()  # only the first look of each delivery is held
        return found

    monkeypatch.setattr(store, "changed_by", look_together)
    threads, answers = at_once(slack, text, "9.8.once")
    for thread in threads:
        thread.join(timeout=20)
    texts = [a.json()["text"] for a in answers]
    assert len(texts) == 2 and texts[0] == texts[1], texts
    (customer,) = store.customers(team_id=TEAM_ID, include_archived=True)
    changes = store.customer_events_of_kind(team_id=TEAM_ID, customer_id=customer.id or 0, kind=kind)
    assert len(changes) == 1, changes


@pytest.mark.parametrize(
    ("text", "says"), [("archive acme", ":file_cabinet: Archived *Acme*"), ("restore acme", "Restored *Acme*")]
)
def test_a_delivery_of_archive_or_restore_overtaken_after_its_look_up_answers_as_the_other_did(
    slack: SlackRequests, store: Store, bot: BotServer, monkeypatch: pytest.MonkeyPatch, text: str, says: str
) -> None:
    """One delivery finds no earlier answer to the request, then the other archives (restores) the customer: the
    first must not refuse the customer as already archived ("isn't archived"), Slack showing whichever it took."""
    assert "Added *Acme*" in slack.command("add Acme <#C0ACME|acme>").json()["text"]
    if text.startswith("restore"):
        assert "Archived *Acme*" in slack.command("archive acme").json()["text"]
    bot.settle()
    with overtaken(monkeypatch, store, "changed_by", after=True) as first:
        answers = first(lambda: slack.command(text, trigger_id="9.9.slow"))
        retry = slack.command(text, trigger_id="9.9.slow", retry_num=1, retry_reason="http_timeout")
    assert says in retry.json()["text"], retry.text
    assert [a.json()["text"] for a in answers] == [retry.json()["text"]]
