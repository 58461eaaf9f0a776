"""`partner-bot doctor`: checks what a running Partner depends on and says what to fix.

Settings, the database (reachable, schema at the latest migration), the bot token (`auth.test`), its scopes
against manifest.yml, the app-level token in Socket Mode, and that the bot is in every customer's channel (and that
Partner knows which of them are shared with the customer). In OAuth
mode (bot/oauth.py) the token, scope and channel checks run for each installed workspace, with its own token.
Exit code 0 when nothing is wrong (warnings allowed), 1 when something must be fixed. It never changes anything:
no migration, no join, no message.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

import yaml
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import HttpRequest, HttpResponse, RetryState
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from bot.app import AckAwareRateLimitRetryHandler, make_client
from bot.logs import Redactor
from bot.oauth import (
    INSTALL_PATH,
    find_manifest,
    installation_store,
    installed_teams,
    manifest_bot_scopes,
    org_wide_installs,
    team_client,
    team_installation,
)
from bot.settings import Settings, SettingsError
from domain.customers import shared_with_another_organisation
from schedules.slack_http import TRANSIENT, retry_after
from storage import db, schema_check
from storage.store import Store

OK, WARN, FAIL = "ok", "warn", "FAIL"
TOKEN_FIXES = {
    "invalid_auth": "SLACK_BOT_TOKEN is not a valid token: copy the Bot User OAuth Token (xoxb-…) from OAuth & "
    "Permissions again.",
    "not_authed": "SLACK_BOT_TOKEN is empty as sent: set it to the Bot User OAuth Token (xoxb-…).",
    "token_revoked": "The token was revoked: reinstall the app (Install App) and copy the new Bot User OAuth Token.",
    "account_inactive": "The app was uninstalled or its bot deactivated: reinstall it (Install App) and copy the "
    "new Bot User OAuth Token.",
    "token_expired": "The token expired (token rotation is on): turn rotation off or reinstall and use the new token.",
}

SLACK_BUSY = "Run `partner-bot doctor` again in a minute."
# An operator waits at the prompt for the doctor's answer: a rate limit longer than this is reported, not waited out.
MAX_RETRY_AFTER = 3.0


class _BriefRateLimitRetryHandler(AckAwareRateLimitRetryHandler):
    """Waits out one short Retry-After; a longer one (Slack asks 60 s at times) is answered at once, with when to
    run the doctor again, rather than after minutes of silence."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if not super()._can_retry(state=state, request=request, response=response, error=error):
            return False
        wait = retry_after(response.headers if response is not None else None) or 1.0
        return state.current_attempt == 0 and wait <= MAX_RETRY_AFTER


def _doctor_client(settings: Settings) -> WebClient:
    client = make_client(settings, timeout=10)
    client.retry_handlers[:] = [
        _BriefRateLimitRetryHandler() if isinstance(h, AckAwareRateLimitRetryHandler) else h
        for h in client.retry_handlers
    ]
    return client


def _busy_fix(error: SlackApiError | None) -> str:
    """What to do when Slack did not answer: a rate limit longer than the doctor waits says how long Slack asked."""
    wait = retry_after(error.response.headers) if error is not None and error.response.status_code == 429 else None
    if wait is None or wait <= MAX_RETRY_AFTER:
        return SLACK_BUSY
    return f"Slack is rate-limiting Partner's calls: run `partner-bot doctor` again in {wait:.0f} seconds."


@dataclass(frozen=True)
class Finding:
    status: str  # OK, WARN or FAIL
    check: str
    detail: str
    fix: str | None = None


def report_settings_error(error: SettingsError, out: IO[str] | None = None) -> int:
    """Settings that do not even load: the one finding, and exit 1 like any other problem."""
    _print([Finding(FAIL, "settings", str(error), "Fix the variable in the environment or in .env.")], out)
    return 1


def run_doctor(settings: Settings, *, manifest: Path | None = None, out: IO[str] | None = None) -> int:
    findings = list(check_everything(settings, manifest=manifest))
    _print(findings, out)
    return 1 if any(f.status == FAIL for f in findings) else 0


def _print(findings: list[Finding], out: IO[str] | None) -> None:
    stream = out or sys.stdout
    print("Partner doctor", file=stream)
    for f in findings:
        print(f"  {f.status:<5} {f.check}: {f.detail}", file=stream)
        if f.fix and f.status != OK:
            print(f"        fix: {f.fix}", file=stream)
    problems = sum(f.status == FAIL for f in findings)
    warnings = sum(f.status == WARN for f in findings)
    if problems:
        print(f"{problems} problem(s) to fix, {warnings} warning(s).", file=stream)
    else:
        print(f"Everything Partner needs is in place ({warnings} warning(s)).", file=stream)


def check_everything(settings: Settings, *, manifest: Path | None = None) -> Iterator[Finding]:
    mode = "Socket Mode" if settings.socket_mode else "HTTP mode"
    if settings.oauth:
        mode += ", OAuth install (several workspaces)"
    shown_url = Redactor()(settings.database_url)
    yield Finding(OK, "settings", f"loaded; {mode}; Slack API {settings.slack_api_url}; database {shown_url}")

    store, schema_ok, findings = _check_database(settings)
    yield from findings

    if settings.oauth:
        yield from _check_installations(settings, store if schema_ok else None, manifest)
        if store is not None:
            store.engine.dispose()
        return
    client = _doctor_client(settings)
    identity, scopes, findings = _check_token(client)
    yield from findings
    if identity is None:
        yield Finding(WARN, "scopes", "not checked: needs a working bot token")
        yield Finding(WARN, "channels", "not checked: needs a working bot token")
    else:
        yield from _check_scopes(scopes, manifest)
        if settings.socket_mode:
            yield from _check_app_token(settings)
        if store is None or not schema_ok:
            yield Finding(WARN, "channels", "not checked: needs the database at the latest schema")
        else:
            yield from _check_channels(client, store, team_id=str(identity.get("team_id")), bot=identity)
    if store is not None:
        store.engine.dispose()


def _check_installations(settings: Settings, store: Store | None, manifest: Path | None) -> Iterator[Finding]:
    """OAuth mode: each installed workspace's token, scopes and channels, checked with that workspace's token as
    stored (an expired rotating token is refreshed by Partner on its next use, not here: the doctor changes nothing).
    """
    if store is None:
        yield Finding(WARN, "installations", "not checked: needs the database at the latest schema")
        return
    installations = installation_store(settings, store)
    teams = installed_teams(installations)
    # An org-wide install serves the org's workspaces with one token: those that used Partner are checked with it.
    orgs = {org: store.organisation_workspaces(enterprise_id=org) for org in org_wide_installs(installations)}
    teams += [team for served in orgs.values() for team in served if team not in teams]
    if not teams and not orgs:
        yield Finding(
            WARN,
            "installations",
            "no workspace has installed Partner yet",
            f"Open https://<your-host>{INSTALL_PATH} and click Add to Slack (README, OAuth install).",
        )
        return
    detail = f"{len(teams)} workspace(s): {', '.join(teams)}" if teams else "no workspace has used Partner yet"
    for org, served in orgs.items():
        detail += f"; org-wide in {org} ({', '.join(served) or 'none of its workspaces has used Partner yet'})"
    yield Finding(OK, "installations", detail)
    base = _doctor_client(settings)
    for org in (org for org, served in orgs.items() if not served):  # its token and scopes, at least
        installation = installations.find_installation(enterprise_id=org, team_id=None, is_enterprise_install=True)
        identity, scopes, findings = _check_token(
            team_client(base, (installation.bot_token if installation else None) or "")
        )
        yield from _for_team(org, findings)
        if identity is not None:
            yield from _for_team(org, _check_scopes(scopes, manifest))
    for team_id in teams:
        if not store.workspace_active(team_id=team_id):
            # Uninstalled, its token revoked, or removed by its organisation (the event, or Slack refusing its token
            # when the event was missed): nothing to fix here, nothing is sent there, its data is kept.
            yield Finding(
                WARN,
                f"{team_id} workspace",
                "uninstalled Partner (or Slack refuses its token): nothing is sent there; its data is kept",
                f"To resume, reinstall Partner there through https://<your-host>{INSTALL_PATH}; to delete its data, "
                f"`partner-bot workspace purge {team_id} --yes`.",
            )
            continue
        installation = team_installation(installations, team_id)
        client = team_client(base, (installation.bot_token if installation else None) or "")
        identity, scopes, findings = _check_token(client)
        rotating = installation is not None and installation.bot_refresh_token is not None
        if identity is None and rotating and any("token_expired" in f.detail for f in findings):
            findings = [Finding(WARN, "bot token", "expired; Partner refreshes it on its next use")]
        yield from _for_team(team_id, findings)
        if identity is None:
            continue
        yield from _for_team(team_id, _check_scopes(scopes, manifest))
        yield from _for_team(team_id, _check_channels(client, store, team_id=team_id, bot=identity))


REINSTALL = f"Reinstall Partner in that workspace through https://<your-host>{INSTALL_PATH}."


def _for_team(team_id: str, findings: Iterable[Finding]) -> Iterator[Finding]:
    """A workspace's findings, named after it; a token problem's fix is a reinstall (there is no token to copy)."""
    for f in findings:
        refused = f.check == "bot token" and f.status == FAIL and f.detail.startswith("auth.test failed")
        fix = REINSTALL if refused else f.fix
        yield replace(f, check=f"{team_id} {f.check}", fix=fix)


def _check_database(settings: Settings) -> tuple[Store | None, bool, list[Finding]]:
    backend = make_url(db.normalize_url(settings.database_url)).get_backend_name()
    engine = db.make_engine(settings.database_url)
    unwritable = None
    if (read_only := db.sqlite_read_only(engine)) is not None:  # reads may work: nothing else would tell
        detail, _, fix = read_only.partition(": ")
        fix = f"{fix[:1].upper()}{fix[1:]}."
        unwritable = Finding(FAIL, "database", f"{backend}: Partner cannot write it: {detail}", fix)
    try:
        store = Store(engine)
        store.ping()
        current = db.current_revision(engine)
    except SQLAlchemyError as e:
        engine.dispose()
        if unwritable is not None:
            return None, False, [unwritable]
        reason = db.error_detail(engine, e)  # a SQLite file's missing folder named, as `serve` names it
        return (
            None,
            False,
            [
                Finding(
                    FAIL,
                    "database",
                    f"cannot connect ({backend}): {Redactor()(reason)}",
                    f"Fix {fix} in DATABASE_URL: the server is up and refused it."
                    if (fix := db.login_refused(e))
                    else "Check DATABASE_URL (host, port, name, user, password) and that the database server is up.",
                )
            ],
        )
    if unwritable is not None:
        return store, current == db.head_revision(), [unwritable]
    head = db.head_revision()
    if current == head:
        return store, True, [Finding(OK, "database", f"{backend} reachable; schema at {current} (the latest)")]
    try:
        unrecorded = schema_check.check(engine, repair=False)
    except schema_check.SchemaNotAsRecorded as e:
        detail, _, fix = str(e).partition(". Partner changed nothing: ")
        return store, False, [Finding(FAIL, "database", detail, fix[:1].upper() + fix[1:] + ".")]
    if unrecorded is not None:
        detail = f"has the tables of migration {unrecorded} but no record of its migrations (an old create_all?)"
        fix = f"Run `partner-bot db upgrade`: it records {unrecorded} and upgrades from there."
    elif current is None:
        detail = f"{backend} reachable but has no Partner schema yet"
        fix = "Run `partner-bot db upgrade` (`partner-bot serve` also does it at start)."
    elif _known_revision(current):
        detail = f"schema at {current}, behind the latest {head}"
        fix = "Run `partner-bot db upgrade` (`partner-bot serve` also does it at start)."
    else:
        detail = f"schema at {current}, which this version of Partner does not know (newer code migrated it?)"
        fix = "Upgrade Partner to the version that wrote this schema; never run an older version on a newer schema."
    return store, False, [Finding(FAIL, "database", detail, fix)]


def _known_revision(revision: str) -> bool:
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    try:
        return ScriptDirectory.from_config(db.alembic_config()).get_revision(revision) is not None
    except CommandError:
        return False


def _check_token(client: WebClient) -> tuple[dict[str, Any] | None, set[str] | None, list[Finding]]:
    try:
        response = client.auth_test()
    except SlackApiError as e:
        error = str(e.response.get("error") or "unknown_error")
        if _slack_trouble(e):
            # Slack's own trouble says nothing about the token: no token to replace, no app to reinstall.
            detail = f"Slack did not answer auth.test ({error}): the token is not checked"
            return None, None, [Finding(FAIL, "bot token", detail, _busy_fix(e))]
        fix = TOKEN_FIXES.get(error, f"Slack answered {error!r}; see https://api.slack.com/methods/auth.test.")
        return None, None, [Finding(FAIL, "bot token", f"auth.test failed: {error}", fix)]
    except OSError as e:
        return (
            None,
            None,
            [
                Finding(
                    FAIL,
                    "bot token",
                    f"cannot reach Slack at {client.base_url}: {type(e).__name__}: {e}",
                    "Check the network (proxy, firewall) and SLACK_API_URL.",
                )
            ],
        )
    identity = dict(response.data) if isinstance(response.data, dict) else {}
    header = next((v for k, v in response.headers.items() if k.lower() == "x-oauth-scopes"), None)
    if isinstance(header, list):
        header = ",".join(header)
    scopes = None if header is None else {s.strip() for s in str(header).split(",") if s.strip()}
    detail = f"valid: bot @{identity.get('user')} ({identity.get('user_id')}) in {identity.get('team')} "
    detail += f"({identity.get('team_id')})"
    return identity, scopes, [Finding(OK, "bot token", detail)]


def _slack_trouble(error: SlackApiError) -> bool:
    """Slack's own trouble (a rate limit, a 5xx), which says nothing about the token that was being checked."""
    code = str(error.response.get("error") or "")
    return error.response.status_code == 429 or error.response.status_code >= 500 or code in TRANSIENT


def _check_scopes(granted: set[str] | None, manifest: Path | None) -> Iterator[Finding]:
    path = manifest or find_manifest()
    if path is None or not path.exists():
        # `--manifest deploy/manifest.yaml` mistyped: name the file it was given, not the default it did not look for.
        what, fix = (
            (f"{path} not found", "Check the path given to --manifest.")
            if manifest is not None
            else ("manifest.yml not found", "Pass --manifest path/to/manifest.yml.")
        )
        yield Finding(WARN, "scopes", f"not checked: {what}", fix)
        return
    try:
        wanted = manifest_bot_scopes(path)
    except (OSError, yaml.YAMLError, AttributeError) as e:
        yield Finding(WARN, "scopes", f"not checked: cannot read {path}: {e}")
        return
    if granted is None:
        yield Finding(WARN, "scopes", "not checked: Slack sent no X-OAuth-Scopes header")
        return
    missing = [s for s in wanted if s not in granted]
    extra = sorted(granted - set(wanted))
    if missing:
        yield Finding(
            FAIL,
            "scopes",
            f"the token lacks {', '.join(missing)} (declared in {path.name})",
            "Add them under OAuth & Permissions → Bot Token Scopes (or paste manifest.yml into App Manifest), "
            "then reinstall the app so the token gets them.",
        )
    else:
        yield Finding(OK, "scopes", f"the token has all {len(wanted)} bot scopes of {path.name}")
    if extra:
        yield Finding(
            WARN,
            "scopes",
            f"the token also has {', '.join(extra)}, which Partner does not use",
            "Remove them from the app's Bot Token Scopes and reinstall: least privilege.",
        )


def _check_app_token(settings: Settings) -> Iterator[Finding]:
    client = WebClient(token=settings.slack_app_token, base_url=settings.slack_api_url, timeout=10)
    try:
        client.apps_connections_open(app_token=settings.slack_app_token or "")
    except SlackApiError as e:
        error = e.response.get("error")
        if _slack_trouble(e):
            detail = f"Slack did not answer apps.connections.open ({error}): the token is not checked"
            yield Finding(FAIL, "app token", detail, _busy_fix(e))
            return
        yield Finding(
            FAIL,
            "app token",
            f"apps.connections.open failed: {error}",
            "Generate an app-level token with connections:write (Basic Information → App-Level Tokens) and set "
            "SLACK_APP_TOKEN, and turn Socket Mode on; or unset SLACK_APP_TOKEN to serve HTTP.",
        )
        return
    except OSError as e:
        yield Finding(
            FAIL,
            "app token",
            f"cannot reach Slack: {type(e).__name__}: {e}",
            "Check the network (proxy, firewall) and SLACK_API_URL.",
        )
        return
    yield Finding(OK, "app token", "valid; Socket Mode can connect")


def _check_channels(client: WebClient, store: Store, *, team_id: str, bot: dict[str, Any]) -> Iterator[Finding]:
    customers = [c for c in store.customers(team_id=team_id) if c.channel_id]
    by_channel: dict[str, list[str]] = {}
    for customer in customers:
        by_channel.setdefault(str(customer.channel_id), []).append(customer.name)
    if not by_channel:
        yield Finding(OK, "channels", "no customer has a channel yet")
        return
    bot_name = bot.get("user") or "Partner"
    bad = 0
    channels = sorted(by_channel.items())
    for checked, (channel_id, names) in enumerate(channels):
        who = ", ".join(names)
        try:
            channel = client.conversations_info(channel=channel_id)["channel"]
        except (SlackApiError, OSError) as e:
            bad += 1
            error = e.response.get("error") if isinstance(e, SlackApiError) else type(e).__name__
            if not isinstance(e, SlackApiError) or e.response.status_code == 429 or e.response.status_code >= 500:
                # Slack busy or unreachable says nothing about the channel: not "gone", and no traceback either. Nor
                # are the other channels asked: each would wait out its own Retry-After (or timeout) into the same
                # rate limit or outage, a minute at the prompt for thirty channels and a FAIL line each.
                busy = _busy_fix(e if isinstance(e, SlackApiError) else None)
                left = len(channels) - checked - 1
                rest = f"; the {left} other customer channel(s) were not checked" if left else ""
                yield Finding(FAIL, "channels", f"<#{channel_id}> of {who}: Slack did not answer ({error}){rest}", busy)
                return
            yield Finding(
                FAIL,
                "channels",
                f"<#{channel_id}> of {who}: {error}",
                f"The channel is gone or private without @{bot_name} in it: invite @{bot_name} there, or give "
                f"{who} another channel.",
            )
            continue
        name = f"#{channel.get('name') or channel_id}"
        # Guests among its members count as shared too (schedules/sharing.py): as Partner last found them.
        guests = store.channel_readers(team_id=team_id, channel_id=channel_id).get("guests")
        shared = shared_with_another_organisation(channel)
        recorded = [c for c in customers if c.channel_id == channel_id and c.channel_shared != (shared or bool(guests))]
        if recorded:  # e.g. customers added before Partner recorded it (migration 0011), and no event since
            warned = ", ".join(c.name for c in recorded)
            state = "shared with another organisation" if shared else "not shared with another organisation"
            yield Finding(
                WARN,
                "channels",
                f"{name} of {warned} is {state}, which Partner has not recorded yet",
                # The tick looks up unknown channels before sending (and each one daily): schedules/sharing.py.
                "Partner's next tick looks it up before posting there (nudges wait for it); to record it now, give "
                f"the channel again (`/partner edit {recorded[0].name} #{channel.get('name') or channel_id}`).",
            )
        if channel.get("is_archived"):
            bad += 1
            yield Finding(
                FAIL, "channels", f"{name} of {who} is archived", f"Unarchive {name} or give {who} another channel."
            )
        elif not channel.get("is_member"):
            bad += 1
            yield Finding(
                FAIL,
                "channels",
                f"@{bot_name} is not a member of {name} ({who}), so nothing can be posted there",
                f"Type `/invite @{bot_name}` in {name}.",
            )
    if not bad:
        yield Finding(OK, "channels", f"@{bot_name} is in all {len(by_channel)} customer channel(s)")
