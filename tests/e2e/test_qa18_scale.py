"""Production scale and hardening, found by qa18scale: what a restarted process does when Slack or the database
falters at its first tick."""

from __future__ import annotations

import dataclasses
import logging
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.app import PartnerApp, create_app, make_client
from bot.oauth import SlackClients
from bot.scheduler import build_scheduler, scheduled_tick
from bot.settings import Settings
from schedules.jobs import run_tick
from storage.db import make_engine, upgrade
from storage.store import Store
from tests.e2e.test_doctor import doctor, lines
from tests.e2e.test_oauth import (  # noqa: F401 (fixtures)
    T1,
    T2,
    browse,
    install,
    installation,
    oauth_bot,
    oauth_settings,
    start_install,
    unpaced,
)
from tests.e2e.test_ops import Outage, outage  # noqa: F401 (fixture)
from tests.e2e.test_uninstall import acme_channel, add, cli, day, posted, workspace  # noqa: F401 (fixture)
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import SIGNING_SECRET, BotServer, FakeClock


@pytest.mark.parametrize("fault", ["500", "timeout", "ratelimited"])
def test_a_reinstall_token_check_slack_could_not_answer_is_asked_again_at_the_next_tick(
    slack: SlackRequests,
    store: Store,
    settings: Settings,
    clock: FakeClock,
    fake_slack: FakeSlack,
    fault: str,
) -> None:
    """Token mode: reinstalled with a new bot token and restarted, nobody types anything. Slack failing the first
    tick's auth.test (an outage, a timeout, a rate limit) is no answer about whose the token is: the next tick asks
    again and the nudges resume, instead of waiting for ever for someone to use Partner."""
    add(store)
    clock.set(day(1) + timedelta(hours=1))
    assert slack.event({"type": "app_uninstalled"}).status == 200
    clock.set(day(3))
    if fault == "500":
        fake_slack.fail_next("auth.test", status=500, times=3)  # slack-sdk tries 3 times
    elif fault == "timeout":
        fake_slack.fail_next("auth.test", delay=2.0, times=3)
    else:
        fake_slack.fail_next("auth.test", status=429, retry_after=60, times=3)
    build_scheduler(store=store, client=SlackClients(make_client(settings, timeout=1)), clock=clock, settings=settings)
    started = time.monotonic()
    scheduled_tick()
    assert time.monotonic() - started < 10  # not minutes behind a Retry-After the tick would not wait out either
    assert workspace(store).active is False and posted(fake_slack) == []
    fake_slack.reset()  # Slack is well again (the faults slack-sdk did not retry are dropped)
    clock.set(day(3) + timedelta(minutes=1))
    scheduled_tick()  # Slack answers now: the token is this workspace's
    assert workspace(store).active is True
    assert len(posted(fake_slack)) == 1  # Wednesday's 09:00 nudge, a minute late
    checks = len(fake_slack.calls_to("auth.test"))
    clock.set(day(4))
    scheduled_tick()  # answered once: not asked again
    assert len(fake_slack.calls_to("auth.test")) == checks and len(posted(fake_slack)) == 2


# The doctor while Slack has trouble of its own


@pytest.mark.parametrize("fault", [{"status": 500}, {"status": 429, "retry_after": 0}, {"error": "fatal_error"}])
def test_the_doctor_says_slack_did_not_answer_not_to_replace_a_token_when_auth_test_meets_slacks_own_trouble(
    settings: Settings, store: Store, fake_slack: FakeSlack, fault: dict[str, Any]
) -> None:
    fake_slack.fail_next("auth.test", times=3, **fault)  # slack-sdk's tries all meet it
    code, out = doctor(settings)
    assert code == 1, out
    (failed,) = lines(out, "FAIL", "bot token")
    assert "Slack did not answer auth.test" in failed, out
    assert "Run `partner-bot doctor` again in a minute." in out
    assert "copy" not in out and "api.slack.com/methods" not in out, out  # the token is not what is wrong


@pytest.mark.parametrize("fault", [{"status": 500}, {"status": 429, "retry_after": 0}])
def test_the_doctor_does_not_tell_an_oauth_workspace_to_reinstall_when_slack_was_busy(
    oauth_bot: BotServer,  # noqa: F811
    oauth_settings: Settings,  # noqa: F811
    fake_slack: FakeSlack,
    store: Store,
    fault: dict[str, Any],
) -> None:
    for team_id in (T1, T2):
        assert install(oauth_bot.url, fake_slack, team_id).status == 200
    fake_slack.fail_next("auth.test", times=3, **fault)  # the first workspace's check meets it
    code, out = doctor(oauth_settings)
    assert code == 1, out
    (failed,) = lines(out, "FAIL", f"{T1} bot token")
    assert "Slack did not answer auth.test" in failed, out
    assert lines(out, "ok", f"{T2} bot token"), out
    assert "Reinstall" not in out and "Run `partner-bot doctor` again in a minute." in out, out


# OAuth mode while the database is down


@pytest.mark.parametrize("scratch_database", ["postgres"], indirect=True)  # a server that goes away mid-run
def test_an_install_while_the_database_is_down_says_to_try_again_and_its_reload_installs(
    outage: Outage,  # noqa: F811
    oauth_settings: Settings,  # noqa: F811
    clock: FakeClock,
    fake_slack: FakeSlack,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An admin installing while the database is down was shown a bare "Internal Server Error" (with a traceback in
    the log) at /slack/install, and at the redirect "The state parameter is no longer valid": wrong, since the same
    page reloaded once the database is back installs Partner (Slack's code is spent only once the state is found).
    Commands meanwhile are told to try again, as in token mode."""
    outage.up()
    engine = make_engine(outage.url)
    upgrade(engine)
    store = Store(engine)
    settings = dataclasses.replace(oauth_settings, database_url=outage.url)
    server = BotServer(create_app(settings=settings, store=store, clock=clock), store).start()
    try:
        assert install(server.url, fake_slack, T1).status == 200
        slack = SlackRequests(server.url, signing_secret=SIGNING_SECRET, team_id=T1, fake=fake_slack)
        assert "Added *Acme*" in slack.command("add Acme").json()["text"]
        started = start_install(server.url)  # T2's admin opens the install link, then clicks Allow on Slack's page
        code = fake_slack.grant_install(T2, team_name="Globex Partners")
        redirect = f"{server.url}/slack/oauth_redirect?{urlencode({'code': code, 'state': started.state})}"

        outage.down()
        answer = slack.command("checkin acme green pilot kicked off")
        assert answer.status == 200 and "Please try again in a minute" in answer.json()["text"], answer.text
        with caplog.at_level(logging.WARNING):
            page = browse(f"{server.url}/slack/install")
            back = browse(redirect, cookie=started.cookie)
        assert page.status == 503 and "database didn" in page.text and "try again</a> in a minute" in page.text
        assert back.status == 503 and "reload this page in a minute" in back.text, back.text
        assert "no longer valid" not in back.text
        assert not any(r.exc_info for r in caplog.records), [r.getMessage() for r in caplog.records]

        outage.up()
        back = browse(redirect, cookie=started.cookie)  # the admin reloads the page
        assert back.status == 200 and "Thank you!" in back.text, back.text
        assert installation(settings, store, T2) is not None
        assert "Logged a green check-in" in slack.command("checkin acme green pilot kicked off").json()["text"]
    finally:
        server.stop()
        engine.dispose()


# Ticks while the database is down


def test_a_tick_while_the_database_is_down_logs_one_line_not_a_traceback_per_job_and_the_next_one_catches_up(
    outage: Outage,  # noqa: F811
    settings: Settings,
    clock: FakeClock,
    fake_slack: FakeSlack,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Each replica ticks every minute: with the database down, every job of every tick logged a traceback of its
    own (ten a minute per replica, each tens of lines) and, on PostgreSQL, waited out the connect timeout in turn."""
    outage.up()
    engine = make_engine(outage.url)
    upgrade(engine)
    store = Store(engine)
    try:
        add(store)
        build_scheduler(store=store, client=SlackClients(make_client(settings)), clock=clock, settings=settings)
        clock.set(day(1) - timedelta(minutes=1))
        scheduled_tick()  # the process's first tick, with the database up
        outage.down()
        engine.dispose()  # SQLite: a connection kept open would still read the moved file; a new one cannot
        clock.set(day(1))
        caplog.clear()
        with caplog.at_level(logging.INFO):
            scheduled_tick()
        assert not [r.getMessage() for r in caplog.records if r.exc_info], [r.name for r in caplog.records]
        (down,) = [r.getMessage() for r in caplog.records if "database unavailable" in r.getMessage()]
        assert "skipped until it is back" in down
        assert posted(fake_slack) == []

        outage.up()
        clock.set(day(1) + timedelta(minutes=1))
        scheduled_tick()
        assert len(posted(fake_slack)) == 1  # Tuesday's 09:00 nudge, a minute late
    finally:
        engine.dispose()


@pytest.mark.parametrize("fault", [None, {"status": 500}, {"status": 429, "retry_after": 0}, {"error": "invalid_auth"}])
def test_the_doctor_checks_the_app_token_and_tells_slack_being_busy_from_a_token_to_replace(
    settings: Settings, store: Store, fake_slack: FakeSlack, fault: dict[str, Any] | None
) -> None:
    socket_mode = dataclasses.replace(settings, slack_app_token=fake_slack.app_token)
    if fault is not None:
        fake_slack.fail_next("apps.connections.open", times=3, **fault)
    code, out = doctor(socket_mode)
    if fault is None:
        assert code == 0 and lines(out, "ok", "app token"), out
        return
    assert code == 1, out
    (failed,) = lines(out, "FAIL", "app token")
    if "error" in fault:  # refused: the token is what to fix
        assert "apps.connections.open failed: invalid_auth" in failed and "Generate an app-level token" in out
        return
    assert "Slack did not answer apps.connections.open" in failed, out
    assert "Run `partner-bot doctor` again in a minute." in out and "Generate" not in out, out


def test_the_doctor_names_a_workspace_that_left_while_partner_was_down_without_failing_for_it(
    oauth_bot: BotServer,  # noqa: F811
    oauth_settings: Settings,  # noqa: F811
    fake_slack: FakeSlack,
    store: Store,
    unpaced: None,  # noqa: F811
) -> None:
    """T2 uninstalled Partner while it was down: the first refused post (confirmed by auth.test) treats it as
    uninstalled, as the event would have. The event deletes the installation and the doctor no longer checks it;
    here its installation stays (a dead token), and the doctor failed for it for ever ("Reinstall Partner in that
    workspace") though nothing is to be fixed: it names the workspace as uninstalled, how to resume or purge it."""
    fake_slack.add_channel("C1ACME", name="acme", members=["U0001"])
    fake_slack.add_channel("C2GLOBEX", name="globex", members=["U0201"])
    for team_id in (T1, T2):
        assert install(oauth_bot.url, fake_slack, team_id).status == 200
    for team_id, channel in ((T1, "C1ACME"), (T2, "C2GLOBEX")):
        store.add_customer(
            team_id=team_id,
            name=f"Customer of {team_id}",
            created_by="U0001",
            now=day(0),
            channel_id=channel,
            owner_id="U0001",
            tz="America/New_York",
            cadence="daily 09:00",
        )
    revoked = installation(oauth_settings, store, T2).bot_token  # type: ignore[union-attr]
    with fake_slack._lock:
        del fake_slack.installs[revoked or ""]
    app = oauth_bot.app
    assert isinstance(app, PartnerApp)
    report = run_tick(store=store, client=app.slack_clients, now=day(1), settings=oauth_settings)
    assert not report.failed, report.failed
    assert workspace(store, T2).active is False and workspace(store, T1).active is True

    code, out = doctor(oauth_settings)
    assert code == 0, out
    assert lines(out, "ok", f"{T1} bot token") and lines(out, "ok", f"{T1} channels"), out
    (left,) = lines(out, "warn", f"{T2} workspace")
    assert "uninstalled Partner" in left and not lines(out, "FAIL", f"{T2} bot token"), out
    assert f"partner-bot workspace purge {T2} --yes" in out and "/slack/install" in out, out


def test_a_cron_tick_after_a_reinstall_with_a_new_token_resumes_nudges_without_any_request(
    slack: SlackRequests, store: Store, settings: Settings, clock: FakeClock, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    """Deployed with cron (`partner-bot tick` every minute, `serve --no-scheduler` for requests): reinstalled with a
    new bot token, nobody types anything. Each `partner-bot tick` is a process's first tick: like serve's, it asks
    Slack whose the token is and resumes the workspace's nudges."""
    add(store)
    clock.set(day(1) + timedelta(hours=1))
    assert slack.event({"type": "app_uninstalled"}).status == 200
    ran = cli(["tick", "--now", day(3).isoformat()], settings, tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert workspace(store).active is True
    assert len(posted(fake_slack)) == 1
