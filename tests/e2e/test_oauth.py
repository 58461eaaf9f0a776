"""OAuth install end to end: workspaces install Partner through /slack/install → /slack/oauth_redirect (real HTTP,
the state cookie sent back as a browser would), then each workspace sees and changes only its own data, and
scheduled work goes out with each workspace's own bot token.

The fake Slack plays the consent page (`grant_install` hands out the code Slack would put in the redirect) and
answers oauth.v2.access with a bot token per workspace; every call it records carries the token it was made with.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import sqlalchemy as sa
from slack_sdk.oauth.installation_store import Installation

import handlers.ids as handler_ids
import schedules.cadence
from bot.app import PartnerApp, create_app
from bot.oauth import NotInstalled, installation_store, team_installation
from bot.settings import Settings
from handlers.commands.export import wait_after_ack
from handlers.home_publisher import publisher_of, request_home_refresh
from handlers.ids import CARD_ARCHIVE, CHECKIN_CUSTOMER, EDIT_CUSTOMER_MODAL, LIST_OPEN_CARD
from schedules.jobs import run_tick
from schedules.sender import SenderOptions
from schedules.sharing import LOOKUPS_PER_TICK
from storage.models import SLACK_OAUTH_STATES, Customer, Workspace
from storage.store import Store
from tests.conftest import MANIFEST_BOT_SCOPES
from tests.e2e.test_cli import PARTNER_BOT, free_port, run, wait_healthy
from tests.e2e.test_customers import field_values
from tests.e2e.test_doctor import doctor, lines
from tests.e2e.test_export import read_csv, uploaded
from tests.fake_slack import Call, FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import SIGNING_SECRET, BotServer, FakeClock

T1, T2, T3 = "T1000001", "T2000002", "T3000003"
COOKIE = "slack-app-oauth-state"
MON = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
NINE_NY = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)  # Tuesday 09:00 in New York


@dataclass
class Page:
    status: int
    headers: dict[str, str]
    text: str


def browse(url: str, *, cookie: str | None = None) -> Page:
    """A GET as a browser makes it (redirects are not followed: none are expected)."""
    headers = {"Accept": "text/html", "User-Agent": "Mozilla/5.0 (test browser)"}
    if cookie:
        headers["Cookie"] = cookie
    request = urllib.request.Request(url, headers=headers, method="GET")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return Page(response.status, dict(response.headers.items()), response.read().decode())
    except urllib.error.HTTPError as error:
        with error:
            return Page(error.code, dict(error.headers.items()), error.read().decode())


@dataclass
class InstallStart:
    state: str
    cookie: str  # the Cookie header the browser sends back
    authorize_url: str


def start_install(bot_url: str) -> InstallStart:
    page = browse(f"{bot_url}/slack/install")
    assert page.status == 200, page.text
    set_cookie = page.headers["Set-Cookie"]
    name_value = set_cookie.split(";")[0]
    assert name_value.startswith(f"{COOKIE}=") and "HttpOnly" in set_cookie
    link = re.search(r'href="(https://slack\.com/oauth/v2/authorize\?[^"]+)"', page.text)
    assert link is not None, page.text
    authorize_url = unescape(link.group(1))
    state = parse_qs(urlsplit(authorize_url).query)["state"][0]
    assert name_value == f"{COOKIE}={state}"
    return InstallStart(state=state, cookie=name_value, authorize_url=authorize_url)


def install(bot_url: str, fake: FakeSlack, team_id: str, **grant: Any) -> Page:
    """/slack/install, the admin clicks Allow on Slack's page, Slack redirects the browser back with code and state."""
    started = start_install(bot_url)
    code = fake.grant_install(team_id, **grant)
    return browse(
        f"{bot_url}/slack/oauth_redirect?{urlencode({'code': code, 'state': started.state})}", cookie=started.cookie
    )


def installation(settings: Settings, store: Store, team_id: str) -> Installation | None:
    return installation_store(settings, store).find_installation(enterprise_id=None, team_id=team_id)


def installation_rows(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM slack_installations")).scalar_one())


def calls_since(fake: FakeSlack, mark: int) -> list[Call]:
    with fake._lock:
        return list(fake.calls[mark:])


def web_api_teams(fake: FakeSlack, mark: int) -> set[str | None]:
    """The workspaces whose tokens the Web API calls since `mark` were made with (response_url posts carry none)."""
    return {fake.team_of(c) for c in calls_since(fake, mark) if c.method not in ("response_url", "upload")}


# --------------------------------------------------------------------------------------------- fixtures


@pytest.fixture
def oauth_settings(fake_slack: FakeSlack, database_url: str) -> Settings:
    return Settings.from_mapping(
        {
            "SLACK_CLIENT_ID": fake_slack.client_id,
            "SLACK_CLIENT_SECRET": fake_slack.client_secret,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": fake_slack.api_url,
            "DATABASE_URL": database_url,
            "PARTNER_DEFAULT_TZ": "UTC",
        }
    )


@pytest.fixture
def oauth_bot(oauth_settings: Settings, store: Store, clock: FakeClock) -> Iterator[BotServer]:
    server = BotServer(create_app(settings=oauth_settings, store=store, clock=clock), store).start()
    yield server
    server.stop()
    server.app.drain()


@pytest.fixture
def world(fake_slack: FakeSlack) -> None:
    """Each workspace's people and customer channel (the bot is a member of both channels)."""
    fake_slack.add_user("U0201", name="gus", tz="America/New_York")
    fake_slack.add_channel("C1ACME", name="acme", members=["U0001"])
    fake_slack.add_channel("C2GLOBEX", name="globex", members=["U0201"])
    fake_slack.add_channel("C3INITECH", name="initech", members=["U0301"])


def requests_for(bot: BotServer, fake: FakeSlack, team_id: str) -> SlackRequests:
    return SlackRequests(bot.url, signing_secret=SIGNING_SECRET, team_id=team_id, fake=fake)


@pytest.fixture
def teams(oauth_bot: BotServer, fake_slack: FakeSlack, world: None) -> dict[str, SlackRequests]:
    """T1 and T2 installed through the browser flow."""
    for team_id, name in ((T1, "Acme Partners"), (T2, "Globex Partners")):
        page = install(oauth_bot.url, fake_slack, team_id, team_name=name)
        assert page.status == 200, page.text
    return {T1: requests_for(oauth_bot, fake_slack, T1), T2: requests_for(oauth_bot, fake_slack, T2)}


def ephemeral_text(response: Any) -> str:
    assert response.status == 200, response.text
    return str(response.json()["text"])


def add_customers(teams: dict[str, SlackRequests], store: Store) -> tuple[Customer, Customer]:
    fake = teams[T1].fake
    assert fake is not None
    joins = len(fake.calls_to("conversations.join"))
    assert "Added *Acme*" in ephemeral_text(teams[T1].command("add Acme <#C1ACME|acme> <@U0001|dana>"))
    reply = teams[T2].command("add Globex <#C2GLOBEX|globex> <@U0201|gus>", user_id="U0201", user_name="gus")
    assert "Added *Globex*" in ephemeral_text(reply)
    # Partner joins each channel after answering: let both joins land before a test counts calls.
    joined = fake.wait_for("conversations.join", joins + 2)[joins:]
    assert {(c.params["channel"], fake.team_of(c)) for c in joined} == {("C1ACME", T1), ("C2GLOBEX", T2)}
    # …and looks up who reads it (its members: any guest?), its last Slack calls before the answer is recorded.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(
        c is None or c.channel_shared_checked_at is None
        for c in (store.customer_by_name(team_id=T1, name="acme"), store.customer_by_name(team_id=T2, name="globex"))
    ):
        time.sleep(0.02)
    acme = store.customer_by_name(team_id=T1, name="acme")
    globex = store.customer_by_name(team_id=T2, name="globex")
    assert acme is not None and globex is not None
    return acme, globex


# --------------------------------------------------------------------------------------------- installing


def test_two_workspaces_install_and_each_gets_its_own_token(
    oauth_bot: BotServer, fake_slack: FakeSlack, oauth_settings: Settings, store: Store, world: None
) -> None:
    started = start_install(oauth_bot.url)
    query = parse_qs(urlsplit(started.authorize_url).query)
    assert query["client_id"] == [fake_slack.client_id]
    assert query["scope"][0].split(",") == MANIFEST_BOT_SCOPES  # manifest.yml is the one list of scopes

    for team_id, name in ((T1, "Acme Partners"), (T2, "Globex Partners")):
        page = install(oauth_bot.url, fake_slack, team_id, team_name=name)
        assert page.status == 200 and "Thank you!" in page.text

    exchanges = fake_slack.calls_to("oauth.v2.access")
    assert [c.ok for c in exchanges] == [True, True]  # through SLACK_API_URL, with the app's credentials
    one, two = installation(oauth_settings, store, T1), installation(oauth_settings, store, T2)
    assert one is not None and two is not None
    assert fake_slack.team_of(Call("x", {}, {}, one.bot_token, 200, {}, 0)) == T1
    assert fake_slack.team_of(Call("x", {}, {}, two.bot_token, 200, {}, 0)) == T2
    assert one.bot_token != two.bot_token and one.bot_user_id == f"UBOT{T1}" and one.user_id == "U0001"
    assert one.bot_scopes == MANIFEST_BOT_SCOPES
    assert {w.team_id: w.name for w in store_workspaces(store)} == {T1: "Acme Partners", T2: "Globex Partners"}


def store_workspaces(store: Store) -> list[Workspace]:
    with store.session() as session:
        return list(session.exec(sa.select(Workspace)).scalars())


def test_forged_or_stale_redirects_install_nothing(
    oauth_bot: BotServer, fake_slack: FakeSlack, store: Store, world: None
) -> None:
    url = f"{oauth_bot.url}/slack/oauth_redirect"
    code = fake_slack.grant_install(T2)

    started = start_install(oauth_bot.url)
    # No cookie: the redirect did not come back to the browser that started the install (a link sent to a victim).
    no_cookie = browse(f"{url}?{urlencode({'code': code, 'state': started.state})}")
    assert no_cookie.status == 400
    # A state this app never issued, with a matching cookie: a forged redirect.
    forged = browse(f"{url}?{urlencode({'code': code, 'state': 'made-up'})}", cookie=f"{COOKIE}=made-up")
    assert forged.status == 401
    # An issued state past its expiry (10 minutes).
    with store.engine.begin() as conn:
        conn.execute(SLACK_OAUTH_STATES.insert().values(state="old-state", expire_at=datetime(2026, 1, 1)))
    expired = browse(f"{url}?{urlencode({'code': code, 'state': 'old-state'})}", cookie=f"{COOKIE}=old-state")
    assert expired.status == 401
    assert fake_slack.calls_to("oauth.v2.access") == []  # the code was never even exchanged

    # The genuine redirect works once; a replay of it (same state) is refused.
    genuine = f"{url}?{urlencode({'code': code, 'state': started.state})}"
    assert browse(genuine, cookie=started.cookie).status == 200
    assert browse(genuine, cookie=started.cookie).status == 401
    # A good state with a code Slack does not know.
    again = start_install(oauth_bot.url)
    bad_code = browse(f"{url}?{urlencode({'code': 'nope', 'state': again.state})}", cookie=again.cookie)
    assert bad_code.status == 401
    assert installation_rows(store) == 1
    assert {w.team_id for w in store_workspaces(store)} == {T2}


def test_install_links_past_their_ten_minutes_are_deleted_not_kept_for_ever(
    oauth_bot: BotServer, fake_slack: FakeSlack, store: Store, world: None
) -> None:
    """/slack/install is public: every view stores a one-time state, and only a completed install consumed it."""
    stale = [{"state": f"abandoned-{i}", "expire_at": datetime(2026, 1, 1)} for i in range(50)]
    with store.engine.begin() as conn:
        conn.execute(SLACK_OAUTH_STATES.insert(), stale)
    live = start_install(oauth_bot.url)  # an admin who is still on Slack's consent page
    start_install(oauth_bot.url)
    with store.engine.connect() as conn:
        states = set(conn.execute(sa.select(SLACK_OAUTH_STATES.c.state)).scalars())
    assert len(states) == 2 and live.state in states  # the abandoned ones are gone, the live ones kept
    code = fake_slack.grant_install(T1)
    redirect = f"{oauth_bot.url}/slack/oauth_redirect?{urlencode({'code': code, 'state': live.state})}"
    assert browse(redirect, cookie=live.cookie).status == 200  # and still work


def test_an_install_cancelled_on_slacks_page_says_so_and_installs_nothing(
    oauth_bot: BotServer, fake_slack: FakeSlack, store: Store, world: None
) -> None:
    """The admin clicks Cancel on Slack's consent page: Slack redirects back with `error=access_denied`."""
    started = start_install(oauth_bot.url)
    query = urlencode({"error": "access_denied", "state": started.state})
    page = browse(f"{oauth_bot.url}/slack/oauth_redirect?{query}", cookie=started.cookie)
    assert page.status == 200 and "Something Went Wrong" not in page.text
    assert "Partner was not installed" in page.text and "cancelled on Slack's page" in page.text
    assert '<a href="/slack/install">start again</a>' in page.text
    assert page.headers["Set-Cookie"].startswith(f"{COOKIE}=deleted;")  # the spent install link's cookie goes
    assert fake_slack.calls_to("oauth.v2.access") == [] and installation_rows(store) == 0
    # Starting again installs as usual.
    assert install(oauth_bot.url, fake_slack, T1).status == 200 and installation_rows(store) == 1


def test_a_reinstall_with_new_scopes_replaces_the_installation_and_its_token(
    oauth_bot: BotServer, fake_slack: FakeSlack, oauth_settings: Settings, store: Store, world: None
) -> None:
    """A workspace installed before the manifest gained a scope; an admin installs again to grant it."""
    older = [scope for scope in MANIFEST_BOT_SCOPES if scope != "files:write"]
    assert install(oauth_bot.url, fake_slack, T1, scopes=older).status == 200
    before = installation(oauth_settings, store, T1)
    assert before is not None and before.bot_scopes == older
    code, out = doctor(oauth_settings)
    (lacking,) = lines(out, "FAIL", f"{T1} scopes")
    assert code == 1 and "the token lacks files:write" in lacking and "reinstall the app" in out

    assert install(oauth_bot.url, fake_slack, T1, installer_id="U0002").status == 200
    after = installation(oauth_settings, store, T1)
    assert after is not None and after.bot_scopes == MANIFEST_BOT_SCOPES and after.user_id == "U0002"
    assert after.bot_token != before.bot_token
    mark = len(fake_slack.calls)
    reply = requests_for(oauth_bot, fake_slack, T1).command("add Acme <#C1ACME|acme> <@U0001|dana>")
    assert "Added *Acme*" in ephemeral_text(reply)
    fake_slack.wait_for("conversations.join", 1)
    assert {c.token for c in calls_since(fake_slack, mark) if c.token} == {after.bot_token}  # the new token only
    assert [w.team_id for w in store_workspaces(store)] == [T1]
    code, out = doctor(oauth_settings)
    assert code == 0, out


# --------------------------------------------------------------------------------------------- isolation


def test_a_workspace_reads_and_changes_only_its_own_customers(
    teams: dict[str, SlackRequests], fake_slack: FakeSlack, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    _acme, globex = add_customers(teams, store)
    one = teams[T1]
    mark = len(fake_slack.calls)

    # Commands: T2's customer does not exist for T1.
    listed = json.dumps(one.command("list").json())
    assert "Acme" in listed and "Globex" not in listed
    assert "No customer matches 'globex'" in ephemeral_text(one.command("show globex"))
    assert "No customer matches 'globex'" in ephemeral_text(one.command("checkin globex red took over"))
    assert "No customer matches 'globex'" in ephemeral_text(one.command("archive globex"))

    # Buttons naming T2's customer id.
    message = {"type": "message", "ts": "1.1", "text": ""}
    for action_id in (CARD_ARCHIVE, LIST_OPEN_CARD):
        assert one.block_action(action_id, value=str(globex.id), message=message).status == 200
        told = fake_slack.calls_to("response_url")[-1].params
        assert "That customer no longer exists" in told["text"] and "Globex" not in json.dumps(told)

    # A modal whose private_metadata names T2's customer.
    values = field_values(name="Hijacked", owner="U0001", channel="C1ACME", tz="UTC", cadence="", week="mon-fri")
    metadata = json.dumps({"customer_id": globex.id})
    name_input = {"type": "input", "block_id": "name", "element": {"type": "plain_text_input"}}
    refused = one.view_submission(
        EDIT_CUSTOMER_MODAL, values, private_metadata=metadata, view_fields={"blocks": [name_input]}
    )
    assert refused.json() == {"response_action": "errors", "errors": {"name": "That customer no longer exists."}}

    # Options: only T1's customers.
    options = one.block_suggestion(CHECKIN_CUSTOMER, "").json()["options"]
    assert [o["text"]["text"] for o in options] == ["Acme"]
    assert one.block_suggestion(CHECKIN_CUSTOMER, "glob").json()["options"] == []

    # Export: T1's rows only, uploaded with T1's token.
    assert "Acme" in ephemeral_text(one.command("checkin acme green kickoff"))
    one.command("export all")
    fake_slack.wait_for("files.completeUploadExternal")
    assert wait_after_ack()
    (checkins,) = [f for name, f in uploaded(fake_slack).items() if name.startswith("partner-checkins-all-")]
    assert {r["customer"] for r in read_csv(checkins["bytes"])} == {"Acme"}
    # Follow-ups (lazy listeners) get the installations too, without Bolt failing to copy them.
    assert "Skipped setting" not in caplog.text

    # T2's data is untouched, and every Slack call T1's requests made used T1's token.
    after = store.customer(team_id=T2, customer_id=globex.id or 0)
    assert after is not None and (after.name, after.archived_at) == ("Globex", None)
    assert store.customer(team_id=T1, customer_id=globex.id or 0) is None
    assert store.last_contacts(team_id=T2, customer_ids=[globex.id or 0], kinds=None) == {}
    assert web_api_teams(fake_slack, mark) == {T1}


WORKSPACE_TABLES = (
    "customer",
    "checkin",
    "nudge",
    "boundary",
    "boundary_slip",
    "customer_event",
    "survey_response",
    "survey_draft",
    "health_snapshot",
    "workspace",
)


def workspace_rows(store: Store, team_id: str) -> dict[str, list[str]]:
    with store.engine.connect() as conn:
        return {
            table: sorted(map(repr, conn.execute(sa.text(f"SELECT * FROM {table} WHERE team_id = :t"), {"t": team_id})))
            for table in WORKSPACE_TABLES
        }


def test_every_button_and_form_of_one_workspace_naming_the_others_rows_changes_and_shows_nothing_of_them(
    teams: dict[str, SlackRequests], oauth_bot: BotServer, fake_slack: FakeSlack, store: Store
) -> None:
    _acme, globex = add_customers(teams, store)
    gus = {"user_id": "U0201", "user_name": "gus"}
    assert teams[T2].command('boundary globex add "Replies within one business day"', **gus).status == 200
    assert teams[T2].command("checkin globex red rough call", **gus).status == 200
    oauth_bot.settle()
    with store.engine.connect() as conn:
        ids = {
            table: [row[0] for row in conn.execute(sa.text(f"SELECT id FROM {table} WHERE team_id = :t"), {"t": T2})]
            for table in ("boundary", "checkin", "nudge")
        }
    before = workspace_rows(store, T2)
    one = teams[T1]
    mark = len(fake_slack.calls)
    g = globex.id
    # Each id T2's buttons carry, in each shape Partner's action values take (handlers/ids.py).
    values = {str(g), f"level:{g}", f"ask:{g}", *map(str, ids["nudge"])}
    values |= {f"{b}:{c}" for b in ids["boundary"] for c in [0, *ids["checkin"]]} | set(map(str, ids["boundary"]))
    action_ids = [v for k, v in vars(handler_ids).items() if k.isupper() and isinstance(v, str)]
    message, home = {"message": {"type": "message", "ts": "1.1", "text": ""}}, {"view": {"type": "home"}}
    for action_id in action_ids:
        for value in values:
            for where in (message, home) if action_id.startswith("home_") else (message,):
                assert one.block_action(action_id, value=value, **where).status in (200, 404)  # 404: not a button
    metadata = [{"survey": "level", "customer_id": g}, {"customer_id": g}, {"card": g}]
    metadata += [{"boundary_id": b, "customer_id": g} for b in ids["boundary"]]
    metadata += [{"nudge_id": n, "customer_id": g} for n in ids["nudge"]]
    forms = [
        field_values(name="Hijacked", owner="U0001", channel="C1ACME", tz="UTC", cadence="", week="mon-fri"),
        {"customer": {CHECKIN_CUSTOMER: {"type": "external_select", "selected_option": {"value": str(g)}}}},
        {"level": {"survey_answer": {"type": "static_select", "selected_option": {"value": "partner"}}}},
    ]
    for callback_id in [v for k, v in vars(handler_ids).items() if k.endswith("_MODAL")]:
        for meta in metadata:
            for form in forms:
                assert one.view_submission(callback_id, form, private_metadata=json.dumps(meta)).status in (200, 404)
    assert wait_after_ack()
    oauth_bot.settle()
    assert workspace_rows(store, T2) == before
    leaked = [c.method for c in calls_since(fake_slack, mark) if "globex" in json.dumps(c.params, default=str).lower()]
    assert leaked == []
    assert web_api_teams(fake_slack, mark) <= {T1}


def test_home_refreshes_go_out_with_the_workspaces_own_token(
    teams: dict[str, SlackRequests], oauth_bot: BotServer, fake_slack: FakeSlack, store: Store
) -> None:
    add_customers(teams, store)
    oauth_bot.settle()  # the adds' own follow-ups are not what this test counts
    publisher = publisher_of(oauth_bot.app)
    assert publisher is not None
    publisher.flush()
    mark = len(fake_slack.calls)
    # What a check-in's follow-up asks for in each workspace, and one for a workspace without installation.
    for team_id, user_id in ((T1, "U0001"), (T2, "U0201"), (T3, "U0301")):
        request_home_refresh(oauth_bot.app, team_id, [user_id])
    publisher.flush()
    published = {
        c.params["user_id"]: fake_slack.team_of(c) for c in calls_since(fake_slack, mark) if c.method == "views.publish"
    }
    assert published == {"U0001": T1, "U0201": T2}
    assert "Globex" not in json.dumps(fake_slack.published_home["U0001"])


def test_a_request_from_a_workspace_without_installation_is_refused_and_stores_nothing(
    teams: dict[str, SlackRequests], oauth_bot: BotServer, fake_slack: FakeSlack, store: Store
) -> None:
    acme, _globex = add_customers(teams, store)
    stranger = requests_for(oauth_bot, fake_slack, T3)  # signed with the app's real secret, claiming T3
    mark = len(fake_slack.calls)

    reply = stranger.command("add Initech <#C3INITECH|initech> <@U0001|dana>")
    assert reply.status == 200 and "Added" not in reply.text
    stranger.block_action(CARD_ARCHIVE, value=str(acme.id), message={"type": "message", "ts": "1.1", "text": ""})
    submitted = stranger.view_submission(
        EDIT_CUSTOMER_MODAL, field_values(name="Hijacked"), private_metadata=json.dumps({"customer_id": acme.id})
    )
    assert "Hijacked" not in submitted.text
    assert "Acme" not in stranger.block_suggestion(CHECKIN_CUSTOMER, "").text
    stranger.event({"type": "app_home_opened", "user": "U0001", "channel": "D0001", "tab": "home"})

    assert store.customers(team_id=T3) == []
    assert T3 not in {w.team_id for w in store_workspaces(store)}
    still = store.customer(team_id=T1, customer_id=acme.id or 0)
    assert still is not None and (still.name, still.archived_at) == ("Acme", None)
    # No Web API call was made for T3: its requests stopped at authorization (only the apology to response_url).
    assert all(c.method == "response_url" for c in calls_since(fake_slack, mark))


# --------------------------------------------------------------------------------------------- scheduled work


@pytest.fixture
def unpaced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schedules.cadence, "SENDER_OPTIONS", SenderOptions(interval=0.0))


def add_due_customers(store: Store) -> None:
    """One customer with a daily 09:00 (New York) cadence per workspace; T3 has data but no installation."""
    for team_id, name, channel, owner in (
        (T1, "Acme", "C1ACME", "U0001"),
        (T2, "Globex", "C2GLOBEX", "U0201"),
        (T3, "Initech", "C3INITECH", "U0301"),
    ):
        store.add_customer(
            team_id=team_id,
            name=name,
            created_by=owner,
            now=MON,
            channel_id=channel,
            owner_id=owner,
            tz="America/New_York",
            cadence="daily 09:00",
        )


def test_a_tick_posts_each_workspaces_nudges_with_its_own_token(
    teams: dict[str, SlackRequests],
    oauth_bot: BotServer,
    oauth_settings: Settings,
    fake_slack: FakeSlack,
    store: Store,
    unpaced: None,
) -> None:
    add_due_customers(store)
    app = oauth_bot.app
    assert isinstance(app, PartnerApp)
    report = run_tick(store=store, client=app.slack_clients, now=NINE_NY, settings=oauth_settings)
    assert not report.failed, report.failed

    posts = {c.params["channel"]: c for c in fake_slack.calls_to("chat.postMessage") if c.ok}
    assert set(posts) == {"C1ACME", "C2GLOBEX"}  # never T3's: it has no installation
    for channel, team_id in (("C1ACME", T1), ("C2GLOBEX", T2)):
        token = installation(oauth_settings, store, team_id).bot_token  # type: ignore[union-attr]
        assert posts[channel].headers["authorization"] == f"Bearer {token}"
    (waiting,) = store.nudges(team_id=T3, kinds=["cadence"], due_after=MON)
    assert (waiting.status, waiting.error) == ("pending", "not_installed")  # visible, retried, never mis-sent
    with pytest.raises(NotInstalled):
        app.slack_clients.for_team(T3)

    # Later ticks keep it from going out with anyone's token; it ends failed after the sender's attempts.
    for minutes in (2, 5, 10, 30, 60, 120, 240):
        run_tick(
            store=store, client=app.slack_clients, now=NINE_NY + timedelta(minutes=minutes), settings=oauth_settings
        )
    assert "C3INITECH" not in {c.params["channel"] for c in fake_slack.calls_to("chat.postMessage")}
    (failed,) = store.nudges(team_id=T3, kinds=["cadence"], due_after=MON)
    assert failed.status in ("failed", "missed")


def test_a_workspace_partner_cannot_reach_holds_no_other_workspaces_nudges(
    teams: dict[str, SlackRequests],
    oauth_bot: BotServer,
    oauth_settings: Settings,
    fake_slack: FakeSlack,
    store: Store,
    unpaced: None,
) -> None:
    """After the upgrade every channel's sharing is unknown. A workspace without installation (first in line, with
    a tick's worth of channels) must not take every tick's look-ups: the installed workspaces' channels are looked
    up too, and their nudges go out on time rather than a quarter of an hour late, day after day."""
    for n in range(LOOKUPS_PER_TICK):
        store.add_customer(
            team_id="T0000000",
            name=f"Gone {n}",
            created_by="U0999",
            now=MON,
            channel_id=f"C0GONE{n:02d}",
            owner_id="U0999",
            tz="America/New_York",
            cadence="daily 09:00",
        )
    add_due_customers(store)
    app = oauth_bot.app
    assert isinstance(app, PartnerApp)
    report = run_tick(store=store, client=app.slack_clients, now=NINE_NY, settings=oauth_settings)
    assert not report.failed, report.failed
    posted = {c.params["channel"] for c in fake_slack.calls_to("chat.postMessage") if c.ok}
    assert posted == {"C1ACME", "C2GLOBEX"}


def test_a_person_in_two_workspaces_gets_each_workspaces_own_dm_digest_with_its_token(
    teams: dict[str, SlackRequests],
    oauth_bot: BotServer,
    oauth_settings: Settings,
    fake_slack: FakeSlack,
    store: Store,
    unpaced: None,
) -> None:
    """Enterprise Grid keeps one user id across an org's workspaces: U0001 owns customers without a channel in T1
    and T2, so both workspaces owe them a DM at 09:00. Each workspace's nudges go in its own DM, with its token."""
    for team_id, names in ((T1, ("Acme", "Abc")), (T2, ("Globex", "Gamma"))):
        for name in names:
            store.add_customer(
                team_id=team_id,
                name=name,
                created_by="U0001",
                now=MON,
                owner_id="U0001",
                tz="America/New_York",
                cadence="daily 09:00",
            )
    app = oauth_bot.app
    assert isinstance(app, PartnerApp)
    report = run_tick(store=store, client=app.slack_clients, now=NINE_NY, settings=oauth_settings)
    assert not report.failed, report.failed
    dms = [c for c in fake_slack.calls_to("chat.postMessage") if c.ok and c.params["channel"] == "U0001"]
    assert len(dms) == 2, [c.params["text"] for c in dms]
    for team_id, names in ((T1, ("Acme", "Abc")), (T2, ("Globex", "Gamma"))):
        token = installation(oauth_settings, store, team_id).bot_token  # type: ignore[union-attr]
        (dm,) = [c for c in dms if c.headers["authorization"] == f"Bearer {token}"]
        assert dm.params["text"].startswith("2 things need you now")
        assert all(name in dm.params["text"] for name in names), dm.params["text"]
        ids = {n.id for n in store.nudges(team_id=team_id, kinds=["cadence"], due_after=MON)}
        metadata = dm.params["metadata"]
        payload = (json.loads(metadata) if isinstance(metadata, str) else metadata)["event_payload"]
        assert {int(i) for i in payload["nudge_ids"].split(",")} == ids  # its buttons are this workspace's


def test_rotating_tokens_are_refreshed_before_use_by_requests_and_ticks(
    oauth_bot: BotServer,
    oauth_settings: Settings,
    fake_slack: FakeSlack,
    store: Store,
    world: None,
    unpaced: None,
) -> None:
    # Slack's rotating tokens last 12 hours; this one expires within Bolt's refresh window at once.
    assert install(oauth_bot.url, fake_slack, T2, team_name="Globex", expires_in=600).status == 200
    first = installation(oauth_settings, store, T2)
    assert first is not None and first.bot_refresh_token and first.bot_token_expires_at
    assert first.bot_token and first.bot_token.startswith("xoxe.xoxb-")

    gus = requests_for(oauth_bot, fake_slack, T2)
    assert "Added *Globex*" in ephemeral_text(gus.command("add Globex <#C2GLOBEX|globex>", user_id="U0201"))
    refreshes = [c for c in fake_slack.calls_to("oauth.v2.access") if c.params.get("grant_type") == "refresh_token"]
    assert len(refreshes) == 1 and refreshes[0].params["refresh_token"] == first.bot_refresh_token
    second = installation(oauth_settings, store, T2)
    assert second is not None and second.bot_token != first.bot_token
    assert second.bot_refresh_token == refreshes[0].response["refresh_token"]

    add_daily_customer(store, T2)
    app = oauth_bot.app
    assert isinstance(app, PartnerApp)
    run_tick(store=store, client=app.slack_clients, now=NINE_NY, settings=oauth_settings)
    third = installation(oauth_settings, store, T2)
    assert third is not None and third.bot_token != second.bot_token  # the tick refreshed it too
    (post,) = [c for c in fake_slack.calls_to("chat.postMessage") if c.params.get("channel") == "C2GLOBEX" and c.ok]
    assert post.token == third.bot_token


def test_a_refresh_slack_fails_to_answer_keeps_the_still_valid_token_and_the_tick_going(
    oauth_bot: BotServer,
    oauth_settings: Settings,
    fake_slack: FakeSlack,
    store: Store,
    world: None,
    unpaced: None,
) -> None:
    """Partner refreshes a rotating token 2 hours before it expires. Slack failing that refresh (a 500, a rate
    limit) must not stop the workspace's nudges while its token still works: they go out with it, and the next
    use tries the refresh again."""
    assert install(oauth_bot.url, fake_slack, T2, team_name="Globex", expires_in=3600).status == 200
    before = installation(oauth_settings, store, T2)
    assert before is not None and before.bot_token
    add_daily_customer(store, T2)
    app = oauth_bot.app
    assert isinstance(app, PartnerApp)

    fake_slack.fail_next("oauth.v2.access", status=500, error="internal_error", times=20)
    report = run_tick(store=store, client=app.slack_clients, now=NINE_NY, settings=oauth_settings)
    assert not report.failed, report.failed
    (post,) = [c for c in fake_slack.calls_to("chat.postMessage") if c.params.get("channel") == "C2GLOBEX" and c.ok]
    assert post.token == before.bot_token  # the token that still had an hour to go
    after = installation(oauth_settings, store, T2)
    assert after is not None and after.bot_refresh_token == before.bot_refresh_token  # kept for the next try

    # A command meanwhile is answered (Bolt's own refresh used to fail it with "Please install this app").
    gus = requests_for(oauth_bot, fake_slack, T2)
    assert "Globex Daily" in ephemeral_text(gus.command("list", user_id="U0201"))
    assert fake_slack.scripted("oauth.v2.access") > 0  # Slack was still failing the refreshes


def add_daily_customer(store: Store, team_id: str) -> None:
    store.add_customer(
        team_id=team_id,
        name="Globex Daily",
        created_by="U0201",
        now=MON,
        channel_id="C2GLOBEX",
        owner_id="U0201",
        tz="America/New_York",
        cadence="daily 09:00",
    )


def test_an_uninstalled_workspace_gets_no_more_nudges_until_it_installs_again(
    teams: dict[str, SlackRequests],
    oauth_bot: BotServer,
    oauth_settings: Settings,
    fake_slack: FakeSlack,
    store: Store,
    unpaced: None,
) -> None:
    add_due_customers(store)
    app = oauth_bot.app
    assert isinstance(app, PartnerApp)
    old_token = installation(oauth_settings, store, T2).bot_token  # type: ignore[union-attr]
    assert teams[T2].event({"type": "app_uninstalled"}).status == 200
    assert installation(oauth_settings, store, T2) is None  # the uninstall listener deleted its installation

    run_tick(store=store, client=app.slack_clients, now=NINE_NY, settings=oauth_settings)
    posted = {c.params["channel"] for c in fake_slack.calls_to("chat.postMessage") if c.ok}
    assert posted == {"C1ACME"}
    assert all(c.token != old_token for c in fake_slack.calls_to("chat.postMessage"))
    # Stopped by the uninstall (not even planned), rather than failing for want of a token.
    assert [(n.status, n.error) for n in store.nudges(team_id=T2, kinds=["cadence"], due_after=MON)] == []

    # Installed again: the next day's nudge goes out with the new token.
    assert install(oauth_bot.url, fake_slack, T2, team_name="Globex Partners").status == 200
    new_token = installation(oauth_settings, store, T2).bot_token  # type: ignore[union-attr]
    assert new_token != old_token
    run_tick(store=store, client=app.slack_clients, now=NINE_NY + timedelta(days=1), settings=oauth_settings)
    (again,) = [c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "C2GLOBEX" and c.ok]
    assert again.token == new_token


def test_a_slack_connect_channel_between_two_installed_workspaces_is_each_ones_own_and_never_doubled(
    teams: dict[str, SlackRequests],
    oauth_bot: BotServer,
    oauth_settings: Settings,
    fake_slack: FakeSlack,
    store: Store,
    unpaced: None,
) -> None:
    """T1 (the vendor) and T2 (its customer) both installed Partner and share #acme-globex through Slack Connect;
    each tracks the other as a customer in it. Slack delivers each channel event once per installation, each with
    its own `authorizations`: each delivery changes its own workspace's customer only, the bot that joined is
    told apart per installation, and the nudges owed on both sides go to each owner's DM, once, with their
    workspace's token, never into the channel the other side reads."""
    fake_slack.add_channel("CSHARED", name="acme-globex", members=["U0001", "U0201"])
    one, two = teams[T1], teams[T2]
    assert "Added *Globex*" in ephemeral_text(one.command("add Globex <#CSHARED|acme-globex> <@U0001|dana>"))
    reply = two.command("add Acme <#CSHARED|acme-globex> <@U0201|gus>", user_id="U0201", user_name="gus")
    assert "Added *Acme*" in ephemeral_text(reply)
    oauth_bot.settle()
    for team_id, name in ((T1, "globex"), (T2, "acme")):
        customer = store.customer_by_name(team_id=team_id, name=name)
        assert customer is not None
        changes = {"cadence": "daily 09:00", "tz": "America/New_York"}
        store.update_customer(team_id=team_id, customer_id=customer.id or 0, actor_id=None, changes=changes, now=MON)
        store.record_channel_error(team_id=team_id, customer_id=customer.id or 0, error="not_in_channel", now=MON)

    fake_slack.channels["CSHARED"]["is_ext_shared"] = True
    shared = {"type": "channel_shared", "channel": "CSHARED"}
    assert one.event({**shared, "connected_team_id": T2}, is_ext_shared_channel=True).status == 200
    assert store.customer_by_name(team_id=T1, name="globex").channel_shared  # type: ignore[union-attr]
    assert not store.customer_by_name(team_id=T2, name="acme").channel_shared  # type: ignore[union-attr]
    assert two.event({**shared, "connected_team_id": T1}, is_ext_shared_channel=True).status == 200
    assert store.customer_by_name(team_id=T2, name="acme").channel_shared  # type: ignore[union-attr]

    # T1's bot joins: both installations hear of it; only T1's customer gets its channel back.
    joined = {"type": "member_joined_channel", "channel": "CSHARED", "user": f"UBOT{T1}", "team": T1}
    for side in (one, two):
        assert side.event(joined, is_ext_shared_channel=True).status == 200
    assert store.customer_by_name(team_id=T1, name="globex").channel_error is None  # type: ignore[union-attr]
    assert store.customer_by_name(team_id=T2, name="acme").channel_error == "not_in_channel"  # type: ignore[union-attr]

    app = oauth_bot.app
    assert isinstance(app, PartnerApp)
    mark = len(fake_slack.calls)
    report = run_tick(store=store, client=app.slack_clients, now=NINE_NY, settings=oauth_settings)
    assert not report.failed, report.failed
    posts = [c for c in calls_since(fake_slack, mark) if c.method == "chat.postMessage" and c.ok]
    assert sorted((c.params["channel"], fake_slack.team_of(c)) for c in posts) == [("U0001", T1), ("U0201", T2)]
    texts = {c.params["channel"]: c.params["text"] for c in posts}
    assert "Globex" in texts["U0001"] and "Acme" in texts["U0201"], texts


# --------------------------------------------------------------------------------------------- Enterprise Grid

ORG = "E0ORG01"


def org_requests(bot: BotServer, fake: FakeSlack, team_id: str) -> SlackRequests:
    """A workspace of ORG, which installed Partner org-wide: Slack's payloads say `is_enterprise_install`."""
    return SlackRequests(
        bot.url, signing_secret=SIGNING_SECRET, team_id=team_id, enterprise_id=ORG, org_wide=True, fake=fake
    )


def org_installation(settings: Settings, store: Store) -> Installation | None:
    return installation_store(settings, store).find_installation(
        enterprise_id=ORG, team_id=None, is_enterprise_install=True
    )


def test_an_org_wide_install_serves_each_workspace_of_the_org_with_its_own_data_and_the_orgs_token(
    oauth_bot: BotServer,
    oauth_settings: Settings,
    fake_slack: FakeSlack,
    store: Store,
    world: None,
    unpaced: None,
) -> None:
    """An Enterprise Grid org admin installs Partner for the whole org: oauth.v2.access answers `team: null`,
    `is_enterprise_install: true` and one bot token for all the org's workspaces. Each workspace keeps its own
    customers (both have an "Acme"), and the tick posts their nudges with the org's token, where they waited as
    `not_installed` for ever (a job knows only the workspace, and the installation has none)."""
    page = install(oauth_bot.url, fake_slack, ORG, team_name="Org", org_wide=True)
    assert page.status == 200 and "Partner is installed for Enterprise" in page.text and "None" not in page.text
    add = f"https://{ORG.lower()}.slack.com/manage/organization/apps/profile/{fake_slack.app_id}/workspaces/add"
    assert f'<a href="{add}">choose the workspaces</a>' in page.text  # where the org admin adds it to workspaces
    assert page.headers["Set-Cookie"].startswith(f"{COOKIE}=deleted;")
    org = org_installation(oauth_settings, store)
    assert org is not None and org.team_id is None and org.bot_token
    one, two = org_requests(oauth_bot, fake_slack, T1), org_requests(oauth_bot, fake_slack, T2)
    assert "Added *Acme*" in ephemeral_text(one.command("add Acme <#C1ACME|acme> <@U0001|dana>"))
    reply = two.command("add Acme <#C2GLOBEX|globex> <@U0201|gus>", user_id="U0201", user_name="gus")
    assert "Added *Acme*" in ephemeral_text(reply)
    oauth_bot.settle()
    acme1, acme2 = (store.customer_by_name(team_id=team, name="acme") for team in (T1, T2))
    assert acme1 is not None and acme2 is not None and acme1.id != acme2.id
    assert (acme1.channel_id, acme2.channel_id) == ("C1ACME", "C2GLOBEX")
    for team_id, customer in ((T1, acme1), (T2, acme2)):
        changes = {"cadence": "daily 09:00"}
        store.update_customer(team_id=team_id, customer_id=customer.id or 0, actor_id=None, changes=changes, now=MON)
    assert "<@U0201>" not in ephemeral_text(one.command("show acme"))  # T1's own Acme

    app = oauth_bot.app
    assert isinstance(app, PartnerApp)
    report = run_tick(store=store, client=app.slack_clients, now=NINE_NY, settings=oauth_settings)
    assert not report.failed, report.failed
    posts = {c.params["channel"]: c for c in fake_slack.calls_to("chat.postMessage") if c.ok}
    assert set(posts) == {"C1ACME", "C2GLOBEX"}
    assert {c.token for c in posts.values()} == {org.bot_token}
    for team_id in (T1, T2):
        assert [n.status for n in store.nudges(team_id=team_id, kinds=["cadence"], due_after=MON)] == ["sent"]
    # Home refreshes outside a request too (the debounced publisher): each workspace's own Home, the org's token.
    publisher = publisher_of(app)
    assert publisher is not None
    publisher.flush()
    mark = len(fake_slack.calls)
    request_home_refresh(app, T2, ["U0201"])
    publisher.flush()
    (home,) = [c for c in calls_since(fake_slack, mark) if c.method == "views.publish"]
    assert home.token == org.bot_token and home.params["user_id"] == "U0201"
    assert "<@U0201>" in json.dumps(home.params) and "C1ACME" not in json.dumps(home.params)

    # The org uninstalls Partner: Slack's event names the org's installation, not a workspace.
    org_wide = {"enterprise_id": ORG, "team_id": None, "user_id": "UBOTE0ORG01", "is_bot": True}
    uninstalled = one.event({"type": "app_uninstalled"}, authorizations=[{**org_wide, "is_enterprise_install": True}])
    assert uninstalled.status == 200
    assert org_installation(oauth_settings, store) is None
    assert store.uninstalled_team_ids() == [T1, T2]
    run_tick(store=store, client=app.slack_clients, now=NINE_NY + timedelta(days=1), settings=oauth_settings)
    assert len([c for c in fake_slack.calls_to("chat.postMessage") if c.ok]) == 2

    # Installed org-wide again: both workspaces' nudges resume at the next tick, before anyone uses Partner.
    assert install(oauth_bot.url, fake_slack, ORG, team_name="Org", org_wide=True).status == 200
    again = org_installation(oauth_settings, store)
    assert again is not None and again.bot_token != org.bot_token
    run_tick(store=store, client=app.slack_clients, now=NINE_NY + timedelta(days=2), settings=oauth_settings)
    resumed = [c for c in fake_slack.calls_to("chat.postMessage") if c.ok][2:]
    nudged = sorted(c.params["channel"] for c in resumed if "Time for the daily call" in c.params["text"])
    assert nudged == ["C1ACME", "C2GLOBEX"]
    assert {c.token for c in resumed} == {again.bot_token}  # the owners' overdue DMs too


@pytest.mark.parametrize("kind", ["app_uninstalled", "tokens_revoked"])
def test_one_workspace_of_a_grid_org_leaving_leaves_its_siblings_installation_and_nudges(
    kind: str,
    oauth_bot: BotServer,
    oauth_settings: Settings,
    fake_slack: FakeSlack,
    store: Store,
    world: None,
    unpaced: None,
) -> None:
    """Two workspaces of one Grid organisation installed Partner each (the manifest's default): their
    installations share the organisation's id. One uninstalls (or revokes the bot token): only its installation
    goes, and the sibling's nudges still go out at the next tick with the sibling's token."""
    for team_id in (T1, T2):
        assert install(oauth_bot.url, fake_slack, team_id, enterprise_id=ORG).status == 200
    add_due_customers(store)
    one = SlackRequests(oauth_bot.url, signing_secret=SIGNING_SECRET, team_id=T1, enterprise_id=ORG, fake=fake_slack)
    event = {"type": kind, **({"tokens": {"oauth": [], "bot": [f"UBOT{T1}"]}} if kind == "tokens_revoked" else {})}
    assert one.event(event).status == 200
    installations = installation_store(oauth_settings, store)
    assert team_installation(installations, T1) is None
    sibling = team_installation(installations, T2)
    assert sibling is not None and sibling.enterprise_id == ORG
    assert store.uninstalled_team_ids() == [T1]

    app = oauth_bot.app
    assert isinstance(app, PartnerApp)
    run_tick(store=store, client=app.slack_clients, now=NINE_NY, settings=oauth_settings)
    posts = [c for c in fake_slack.calls_to("chat.postMessage") if c.ok]
    assert [(c.params["channel"], c.token) for c in posts] == [("C2GLOBEX", sibling.bot_token)]
    assert store.nudges(team_id=T1, kinds=["cadence"], due_after=MON) == []


def test_a_workspace_that_joins_an_enterprise_grid_org_after_installing_is_still_answered(
    oauth_bot: BotServer, oauth_settings: Settings, fake_slack: FakeSlack, store: Store, world: None, unpaced: None
) -> None:
    """T1 installed Partner on its own, then its company moved it into an Enterprise Grid organisation: the
    installation and token stay, but every request now names the organisation too. slack-sdk's store matched both
    ids and found nothing, so every command was answered with an empty 200 (Slack shows nothing at all)."""
    assert install(oauth_bot.url, fake_slack, T1, team_name="Acme Partners").status == 200
    migrated = SlackRequests(
        oauth_bot.url, signing_secret=SIGNING_SECRET, team_id=T1, enterprise_id=ORG, fake=fake_slack
    )
    assert "Added *Acme*" in ephemeral_text(migrated.command("add Acme <#C1ACME|acme> <@U0001|dana>"))
    assert "Acme" in ephemeral_text(migrated.command("list"))
    oauth_bot.settle()
    # A workspace of the organisation that never installed Partner is still refused.
    stranger = SlackRequests(
        oauth_bot.url, signing_secret=SIGNING_SECRET, team_id=T3, enterprise_id=ORG, fake=fake_slack
    )
    assert "Added" not in stranger.command("add Initech <#C3INITECH|initech>", user_id="U0301").text
    assert store.customer_by_name(team_id=T3, name="initech") is None

    # Uninstalled from the organisation's side: the installation from before the move goes with it.
    assert migrated.event({"type": "app_uninstalled"}).status == 200
    assert installation(oauth_settings, store, T1) is None and installation_rows(store) == 0
    assert store.uninstalled_team_ids() == [T1]
    app = oauth_bot.app
    assert isinstance(app, PartnerApp)
    with pytest.raises(NotInstalled):
        app.slack_clients.for_team(T1)


def test_a_workspace_the_org_removes_partner_from_stops_at_its_first_refused_post_and_comes_back_with_a_request(
    oauth_bot: BotServer,
    oauth_settings: Settings,
    fake_slack: FakeSlack,
    store: Store,
    world: None,
    unpaced: None,
    caplog: pytest.LogCaptureFixture,
    clock: FakeClock,
) -> None:
    """The org admin removes Partner from T2 but keeps it org-wide, and Partner misses Slack's team_access_revoked
    (down at the time); its next post there is refused `team_access_not_granted` while
    auth.test still accepts the org's token. The workspace is treated as uninstalled at once (nudges stopped, data
    kept), where each day's nudge failed and its owner's "couldn't deliver" DM was refused too; a request from it
    (Partner added back) resumes it."""
    assert install(oauth_bot.url, fake_slack, ORG, team_name="Org", org_wide=True).status == 200
    two = org_requests(oauth_bot, fake_slack, T2)
    reply = two.command("add Globex <#C2GLOBEX|globex> <@U0201|gus>", user_id="U0201", user_name="gus")
    assert "Added *Globex*" in ephemeral_text(reply)
    oauth_bot.settle()
    globex = store.customer_by_name(team_id=T2, name="globex")
    assert globex is not None
    changes = {"cadence": "daily 09:00", "tz": "America/New_York"}
    store.update_customer(team_id=T2, customer_id=globex.id or 0, actor_id=None, changes=changes, now=MON)
    app = oauth_bot.app
    assert isinstance(app, PartnerApp)

    fake_slack.fail_next("chat.postMessage", error="team_access_not_granted", times=20)  # every post in T2
    mark = len(fake_slack.calls)
    for minutes in (0, 5, 30):
        run_tick(
            store=store, client=app.slack_clients, now=NINE_NY + timedelta(minutes=minutes), settings=oauth_settings
        )
    assert len([c for c in calls_since(fake_slack, mark) if c.method == "chat.postMessage"]) == 1
    assert store.uninstalled_team_ids() == [T2]
    assert [n.status for n in store.nudges(team_id=T2, kinds=["cadence"], due_after=MON)] == ["cancelled"]
    assert "treated as uninstalled" in caplog.text
    assert [c.name for c in store.customers(team_id=T2)] == ["Globex"]  # data kept

    # Added back to the workspace: its people use Partner again, and the next day's nudge goes out.
    with fake_slack._lock:
        fake_slack._faults.clear()  # Slack accepts the org's token there again
    clock.set(NINE_NY + timedelta(days=1) - timedelta(hours=1))
    assert "Globex" in ephemeral_text(two.command("list", user_id="U0201"))
    assert store.uninstalled_team_ids() == []
    run_tick(store=store, client=app.slack_clients, now=NINE_NY + timedelta(days=1), settings=oauth_settings)
    posted = [c for c in fake_slack.calls_to("chat.postMessage") if c.ok]
    assert [c.params["channel"] for c in posted] == ["C2GLOBEX"]


def test_a_workspace_the_org_removes_partner_from_goes_quiet_at_slacks_event_and_resumes_when_added_back(
    oauth_bot: BotServer,
    oauth_settings: Settings,
    fake_slack: FakeSlack,
    store: Store,
    world: None,
    unpaced: None,
    clock: FakeClock,
) -> None:
    """The org admin removes Partner from T2 (Slack: `team_access_revoked`, once for the org, maybe retried): T2's
    nudges stop at once, with no post tried there first; T1 goes on. Added back (`team_access_granted`), T2's next
    nudge goes out without anyone in T2 having to use Partner first."""
    assert install(oauth_bot.url, fake_slack, ORG, team_name="Org", org_wide=True).status == 200
    one, two = org_requests(oauth_bot, fake_slack, T1), org_requests(oauth_bot, fake_slack, T2)
    reply = two.command("add Globex <#C2GLOBEX|globex> <@U0201|gus>", user_id="U0201", user_name="gus")
    assert "Added *Globex*" in ephemeral_text(reply)
    assert "Added *Acme*" in ephemeral_text(one.command("add Acme <#C1ACME|acme> <@U0001|dana>"))
    oauth_bot.settle()
    changes = {"cadence": "daily 09:00", "tz": "America/New_York"}
    for team_id, name in ((T1, "acme"), (T2, "globex")):
        customer = store.customer_by_name(team_id=team_id, name=name)
        assert customer is not None
        store.update_customer(team_id=team_id, customer_id=customer.id or 0, actor_id=None, changes=changes, now=MON)
    app = oauth_bot.app
    assert isinstance(app, PartnerApp)

    clock.set(NINE_NY - timedelta(hours=2))
    revoked = {"type": "team_access_revoked", "team_ids": [T2, "T0NEVERSEEN"]}
    for retry in (None, 1):
        assert one.event(revoked, event_id="Ev0REVOKED", retry_num=retry).status == 200
    assert store.uninstalled_team_ids() == [T2]
    assert [c.name for c in store.customers(team_id=T2)] == ["Globex"]  # data kept
    mark = len(fake_slack.calls)
    run_tick(store=store, client=app.slack_clients, now=NINE_NY, settings=oauth_settings)
    tried = [c.params["channel"] for c in calls_since(fake_slack, mark) if c.method == "chat.postMessage"]
    assert tried == ["C1ACME"]  # nothing tried in T2

    clock.set(NINE_NY + timedelta(hours=3))
    assert one.event({"type": "team_access_granted", "team_ids": [T2]}).status == 200
    assert store.uninstalled_team_ids() == []
    mark = len(fake_slack.calls)
    run_tick(store=store, client=app.slack_clients, now=NINE_NY + timedelta(days=1), settings=oauth_settings)
    posted = [c.params["channel"] for c in calls_since(fake_slack, mark) if c.method == "chat.postMessage" and c.ok]
    assert sorted(c for c in posted if c.startswith("C")) == ["C1ACME", "C2GLOBEX"]  # (and Dana's overdue DM)


def test_a_late_revoke_after_the_org_added_partner_back_does_not_stop_the_workspace_again(
    oauth_bot: BotServer,
    oauth_settings: Settings,
    fake_slack: FakeSlack,
    store: Store,
    world: None,
    unpaced: None,
    clock: FakeClock,
) -> None:
    """Slack does not keep events in order: the org's `team_access_revoked` retried (or simply delivered) after the
    `team_access_granted` that followed it stopped T2's nudges again, until someone in T2 used Partner. Each change
    carries `event_time`: an older one than the last applied is ignored; a newer revoke still stops T2."""
    assert install(oauth_bot.url, fake_slack, ORG, team_name="Org", org_wide=True).status == 200
    one, two = org_requests(oauth_bot, fake_slack, T1), org_requests(oauth_bot, fake_slack, T2)
    reply = two.command("add Globex <#C2GLOBEX|globex> <@U0201|gus>", user_id="U0201", user_name="gus")
    assert "Added *Globex*" in ephemeral_text(reply)
    oauth_bot.settle()
    customer = store.customer_by_name(team_id=T2, name="globex")
    assert customer is not None
    changes = {"cadence": "daily 09:00", "tz": "America/New_York"}
    store.update_customer(team_id=T2, customer_id=customer.id or 0, actor_id=None, changes=changes, now=MON)
    app = oauth_bot.app
    assert isinstance(app, PartnerApp)
    clock.set(NINE_NY - timedelta(hours=2))
    revoked_at = int(clock().timestamp())
    revoked, granted = (
        {"type": "team_access_revoked", "team_ids": [T2]},
        {"type": "team_access_granted", "team_ids": [T2]},
    )

    # In order, then the revoke's retry arrives after the grant.
    assert one.event(revoked, event_id="Ev0REVOKED", event_time=revoked_at).status == 200
    assert store.uninstalled_team_ids() == [T2]
    assert one.event(granted, event_id="Ev0GRANTED", event_time=revoked_at + 60).status == 200
    assert store.uninstalled_team_ids() == []
    assert one.event(revoked, event_id="Ev0REVOKED", event_time=revoked_at, retry_num=1).status == 200
    assert store.uninstalled_team_ids() == []
    # Out of order: a grant sent later is delivered before the revoke sent earlier.
    assert one.event(granted, event_id="Ev0GRANTED2", event_time=revoked_at + 180).status == 200
    assert one.event(revoked, event_id="Ev0REVOKED2", event_time=revoked_at + 120).status == 200
    assert store.uninstalled_team_ids() == []
    mark = len(fake_slack.calls)
    run_tick(store=store, client=app.slack_clients, now=NINE_NY, settings=oauth_settings)
    posted = [c.params["channel"] for c in calls_since(fake_slack, mark) if c.method == "chat.postMessage" and c.ok]
    assert "C2GLOBEX" in posted  # nobody in T2 had to use Partner

    # A revoke newer than every change applied still stops T2.
    assert one.event(revoked, event_id="Ev0REVOKED3", event_time=revoked_at + 240).status == 200
    assert store.uninstalled_team_ids() == [T2]


def test_a_channel_and_owner_typed_as_plain_names_are_found_with_an_org_wide_token(
    oauth_bot: BotServer, fake_slack: FakeSlack, store: Store, world: None
) -> None:
    """A `#globex` / `@gus` Slack did not escape is looked up by name (conversations.list, users.list). An org-wide
    token serves every workspace of the org, so Slack refuses those lists without the workspace's `team_id`
    (`missing_argument`): the lookup names the workspace the command came from."""
    assert install(oauth_bot.url, fake_slack, ORG, team_name="Org", org_wide=True).status == 200
    two = org_requests(oauth_bot, fake_slack, T2)
    reply = ephemeral_text(two.command("add Globex #globex @gus", user_id="U0201", user_name="gus"))
    assert "Added *Globex* — owner <@U0201>, channel <#C2GLOBEX>" in reply, reply
    lookups = fake_slack.calls_to("conversations.list") + fake_slack.calls_to("users.list")
    assert len(lookups) == 2 and all(c.ok and c.params.get("team_id") == T2 for c in lookups)


# --------------------------------------------------------------------------------------------- doctor


def test_doctor_checks_each_installed_workspace_with_its_own_token(
    oauth_bot: BotServer, oauth_settings: Settings, fake_slack: FakeSlack, store: Store, world: None
) -> None:
    code, out = doctor(oauth_settings)
    assert code == 0 and lines(out, "warn", "installations") and "/slack/install" in out

    for team_id in (T1, T2):
        assert install(oauth_bot.url, fake_slack, team_id).status == 200
    store.add_customer(team_id=T2, name="Globex", created_by="U0201", now=MON, channel_id="C2GONE")
    mark = len(fake_slack.calls)
    code, out = doctor(oauth_settings)
    assert code == 1, out  # T2's customer channel is gone
    assert lines(out, "ok", "installations") == [f"  ok    installations: 2 workspace(s): {T1}, {T2}"]
    for team_id in (T1, T2):
        assert lines(out, "ok", f"{team_id} bot token") and lines(out, "ok", f"{team_id} scopes")
    assert lines(out, "ok", f"{T1} channels") and lines(out, "FAIL", f"{T2} channels")
    assert {fake_slack.team_of(c) for c in calls_since(fake_slack, mark)} == {T1, T2}  # each with its own token

    # Slack no longer accepts T2's token (revoked while Partner was down): reinstall, says the doctor.
    revoked = installation(oauth_settings, store, T2).bot_token  # type: ignore[union-attr]
    with fake_slack._lock:
        del fake_slack.installs[revoked or ""]
    code, out = doctor(oauth_settings)
    assert code == 1 and lines(out, "ok", f"{T1} bot token")
    (failed,) = lines(out, "FAIL", f"{T2} bot token")
    assert "invalid_auth" in failed and "Reinstall Partner in that workspace" in out


def test_doctor_checks_an_org_wide_install_and_the_workspaces_it_serves(
    oauth_bot: BotServer, oauth_settings: Settings, fake_slack: FakeSlack, store: Store, world: None
) -> None:
    """An org-wide install has no workspace of its own: the doctor said 'no workspace has installed Partner yet'
    and checked nothing. It checks the org's token, then each workspace that used Partner with it."""
    assert install(oauth_bot.url, fake_slack, ORG, team_name="Org", org_wide=True).status == 200
    code, out = doctor(oauth_settings)
    assert code == 0, out
    (installed,) = lines(out, "ok", "installations")
    assert "no workspace has used Partner yet; org-wide in E0ORG01 (none of its workspaces" in installed
    assert lines(out, "ok", f"{ORG} bot token") and lines(out, "ok", f"{ORG} scopes")

    one = org_requests(oauth_bot, fake_slack, T1)
    assert "Added *Acme*" in ephemeral_text(one.command("add Acme <#C1ACME|acme> <@U0001|dana>"))
    oauth_bot.settle()
    store.add_customer(team_id=T1, name="Gone", created_by="U0001", now=MON, channel_id="C1GONE")
    org = org_installation(oauth_settings, store)
    assert org is not None
    mark = len(fake_slack.calls)
    code, out = doctor(oauth_settings)
    assert code == 1, out  # T1's second customer's channel is gone
    assert lines(out, "ok", "installations") == [
        f"  ok    installations: 1 workspace(s): {T1}; org-wide in {ORG} ({T1})"
    ]
    assert (
        lines(out, "ok", f"{T1} bot token")
        and lines(out, "ok", f"{T1} scopes")
        and lines(out, "FAIL", f"{T1} channels")
    )
    assert {c.token for c in calls_since(fake_slack, mark)} == {org.bot_token}


def test_doctor_only_warns_about_an_expired_rotating_token(
    oauth_bot: BotServer, oauth_settings: Settings, fake_slack: FakeSlack, store: Store, world: None
) -> None:
    assert install(oauth_bot.url, fake_slack, T2, expires_in=43_200).status == 200
    fake_slack.fail_next("auth.test", error="token_expired")  # Partner was idle past the token's 12 hours
    code, out = doctor(oauth_settings)
    assert code == 0, out
    (warned,) = lines(out, "warn", f"{T2} bot token")
    assert "refreshes it on its next use" in warned
    assert installation(oauth_settings, store, T2).bot_token.startswith("xoxe.xoxb-")  # type: ignore[union-attr]
    assert [c for c in fake_slack.calls_to("oauth.v2.access") if c.params.get("grant_type")] == []  # no refresh


# --------------------------------------------------------------------------------------------- as an operator runs it


def test_partner_bot_serve_and_tick_in_oauth_mode(
    fake_slack: FakeSlack, database_url: str, store: Store, world: None, tmp_path: Path
) -> None:
    """Real processes: `serve --http` takes an install, `tick` posts that workspace's nudge with its token; at DEBUG,
    neither logs the client secret, the tokens and refresh token Slack issued, nor the database URL's password."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PARTNER_", "DATABASE_URL", "LOG_"))}
    # The test server trusts every local connection, so a password in the URL is accepted and ignored.
    url_with_password = database_url.replace("://postgres@", "://postgres:db-pa55word@")
    env = {
        **clean,
        "SLACK_CLIENT_ID": fake_slack.client_id,
        "SLACK_CLIENT_SECRET": fake_slack.client_secret,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake_slack.api_url,
        "DATABASE_URL": url_with_password,
        "LOG_LEVEL": "DEBUG",
    }
    port = free_port()
    server = subprocess.Popen(
        [*PARTNER_BOT, "serve", "--http", "--port", str(port), "--host", "127.0.0.1", "--no-scheduler"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, server)
        # Token rotation on: oauth.v2.access answers with a refresh token too.
        assert install(url, fake_slack, T1, team_name="Acme Partners", expires_in=12 * 3600).status == 200
    finally:
        server.terminate()
        _, serve_log = server.communicate(timeout=30)
    add_due_customers(store)  # T2 and T3 have customers but no installation

    tick = run(["tick", "--now", NINE_NY.isoformat()], env, tmp_path)
    assert tick.returncode == 0, tick.stderr
    (post,) = [c for c in fake_slack.calls_to("chat.postMessage") if c.ok]
    assert post.params["channel"] == "C1ACME" and fake_slack.team_of(post) == T1

    (granted,) = [c.response for c in fake_slack.calls_to("oauth.v2.access") if c.ok]
    assert "oauth.v2.access" in serve_log and '"refresh_token": "[REDACTED]"' in serve_log  # logged, redacted
    for log in (serve_log, tick.stderr):
        for secret in (fake_slack.client_secret, granted["access_token"], granted["refresh_token"], "db-pa55word"):
            assert secret not in log
