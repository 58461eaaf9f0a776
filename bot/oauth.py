"""Multi-workspace install (OAuth): the install flow's settings, and each workspace's bot client outside requests.

With SLACK_CLIENT_ID and SLACK_CLIENT_SECRET set, any workspace installs Partner through GET /slack/install →
Slack's consent page → GET /slack/oauth_redirect. slack-sdk's SQLAlchemy stores keep the installations (one bot
token per team, refreshed before it expires when the app has token rotation on) and the one-time `state` values, in
the app's own database (tables from migration 0004). Bolt then authorizes every request by the installation of the
team named in its signed payload: a team without one gets nothing.

Code that posts outside a Slack request (scheduled jobs, the App Home publisher) holds a `SlackClients` and asks it
`for_team(team_id)`: in OAuth mode that team's installation, in token mode the one client. A team without an
installation raises `NotInstalled`; no other team's token is ever used in its place.
"""

from __future__ import annotations

import functools
import html
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from slack_bolt.authorization.authorize import InstallationStoreAuthorize
from slack_bolt.oauth.callback_options import CallbackOptions, FailureArgs, SuccessArgs
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_bolt.response import BoltResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackTokenRotationError
from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.token_rotation import TokenRotator

from bot.clock import Clock
from bot.settings import Settings, SettingsError
from storage.store import Store

if TYPE_CHECKING:
    # Imported where OAuth mode builds its stores: they pull in SQLAlchemy's asyncio extension, which a token-mode
    # bot never uses (resident memory, bench/RESULTS.md section 4).
    from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore

logger = logging.getLogger("partner.oauth")

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
# A token that expires within this many minutes is refreshed before use (Bolt's default; Slack's tokens last 12 h).
TOKEN_ROTATION_MINUTES = 120
# A token that cannot be refreshed is still used while it has at least this long to live (a tick's posts take less).
TOKEN_STILL_GOOD_SECONDS = 60
# How long an install link (its `state`) stays good.
STATE_EXPIRATION_SECONDS = 600
REPO_MANIFEST = Path(__file__).resolve().parent.parent / "manifest.yml"


class NotInstalled(LookupError):
    """The team has no installation (never installed, or uninstalled): nothing may be sent to it."""

    def __init__(self, team_id: str) -> None:
        super().__init__(f"Partner is not installed in workspace {team_id}")
        self.team_id = team_id


def manifest_bot_scopes(path: Path) -> list[str]:
    """manifest.yml's bot scopes: what the install asks for and what `doctor` checks tokens against."""
    import yaml  # OAuth mode and `doctor` only

    data = yaml.safe_load(path.read_text())
    return list(((data or {}).get("oauth_config") or {}).get("scopes", {}).get("bot") or [])


def find_manifest() -> Path | None:
    """manifest.yml in the working directory, else the checkout's (an installed package may have neither)."""
    return next((p for p in (Path("manifest.yml"), REPO_MANIFEST) if p.exists()), None)


def install_scopes() -> list[str]:
    """The bot scopes the install asks for: manifest.yml's, the one list the app, the docs and `doctor` share."""
    found = find_manifest()
    if found is None:
        raise SettingsError("OAuth install reads its bot scopes from manifest.yml, which was not found.")
    scopes = manifest_bot_scopes(found)
    if not scopes:
        raise SettingsError(f"{found} lists no oauth_config.scopes.bot; OAuth install needs them.")
    return scopes


def installed_teams(installations: SQLAlchemyInstallationStore) -> list[str]:
    """Every workspace with a bot installation, in install order."""
    c = installations.bots.c
    query = (
        sa.select(c.team_id)
        .where(c.client_id == installations.client_id, c.team_id.is_not(None), c.bot_token.is_not(None))
        .group_by(c.team_id)
        .order_by(sa.func.min(c.installed_at))
    )
    with installations.engine.connect() as conn:
        return [str(team) for team in conn.execute(query).scalars()]


def org_wide_installs(installations: SQLAlchemyInstallationStore) -> list[str]:
    """Every Enterprise Grid org that installed Partner org-wide (one bot token for its workspaces), in install
    order."""
    c = installations.bots.c
    query = (
        sa.select(c.enterprise_id)
        .where(
            c.client_id == installations.client_id,
            c.is_enterprise_install.is_(True),
            c.enterprise_id.is_not(None),
            c.bot_token.is_not(None),
        )
        .group_by(c.enterprise_id)
        .order_by(sa.func.min(c.installed_at))
    )
    with installations.engine.connect() as conn:
        return [str(org) for org in conn.execute(query).scalars()]


class SlackClients:
    """The bot's WebClient for a workspace, for code that runs outside a Slack request.

    Token mode: the one client, whatever the team. OAuth mode: a client with the team's own (refreshed) bot token.
    `for_tick()` gives a copy that looks each team up once, for a scheduler tick that posts many messages.
    """

    def __init__(
        self,
        client: WebClient,
        *,
        installation_store: SQLAlchemyInstallationStore | None = None,
        token_rotator: TokenRotator | None = None,
        memoize: bool = False,
    ) -> None:
        self.client = client
        self.installation_store = installation_store
        self.token_rotator = token_rotator
        self._memo: dict[str, WebClient | NotInstalled] | None = {} if memoize else None
        self._lock = threading.Lock()

    def for_tick(self) -> SlackClients:
        return SlackClients(
            self.client, installation_store=self.installation_store, token_rotator=self.token_rotator, memoize=True
        )

    def for_team(self, team_id: str) -> WebClient:
        """The client to post to `team_id` with; raises NotInstalled when the team has no bot token."""
        if self.installation_store is None:
            return self.client
        with self._lock:  # one lookup (and one token refresh) per team at a time
            found = self._memo.get(team_id) if self._memo is not None else None
            if found is None:
                found = self._lookup(self.installation_store, team_id)
                if self._memo is not None:
                    self._memo[team_id] = found
        if isinstance(found, NotInstalled):
            raise found
        return found

    def _lookup(self, store: SQLAlchemyInstallationStore, team_id: str) -> WebClient | NotInstalled:
        installation = team_installation(store, team_id)
        if installation is None or not installation.bot_token:
            return NotInstalled(team_id)
        if self.token_rotator is not None and installation.bot_refresh_token:
            try:
                refreshed = self.token_rotator.perform_token_rotation(
                    installation=installation, minutes_before_expiration=TOKEN_ROTATION_MINUTES
                )
            except (SlackTokenRotationError, OSError) as e:  # refused, or expired and Slack unreachable
                reason = e.api_error.response.get("error") if isinstance(e, SlackTokenRotationError) else e
                logger.error("could not refresh the bot token of %s: %s", team_id, reason)
                return NotInstalled(team_id)
            if refreshed is not None:
                store.save(refreshed)
                installation = refreshed
        return team_client(self.client, installation.bot_token or "")


class PatientTokenRotator(TokenRotator):
    """slack-sdk's rotator, which refreshes a bot token up to 2 hours before it expires; when Slack fails that
    refresh (a 500, a rate limit, a timeout, even a refused refresh token) while the token still has time left, the
    token is used as it is (None: nothing refreshed) and the next use tries again. Without this, a Slack hiccup
    silenced the workspace: its nudges held as not installed, its people told to install the app."""

    def perform_bot_token_rotation(self, *, bot: Bot, minutes_before_expiration: int = 120) -> Bot | None:
        try:
            return super().perform_bot_token_rotation(bot=bot, minutes_before_expiration=minutes_before_expiration)
        except (SlackTokenRotationError, OSError) as e:
            expires_at = bot.bot_token_expires_at
            if expires_at is None or expires_at <= time.time() + TOKEN_STILL_GOOD_SECONDS:
                raise
            reason = e.api_error.response.get("error") if isinstance(e, SlackTokenRotationError) else e
            logger.warning("could not refresh the bot token of %s (%s); using it until it expires", bot.team_id, reason)
            return None


def client_for(slack: WebClient | SlackClients, team_id: str) -> WebClient:
    """What jobs call: a plain WebClient (token mode, tests) is every team's client; SlackClients picks the team's."""
    return slack.for_team(team_id) if isinstance(slack, SlackClients) else slack


def team_client(base: WebClient, token: str) -> WebClient:
    """A client like `base` (API URL, timeout, retry handlers and their metrics observer) with another token."""
    return WebClient(
        token=token,
        base_url=base.base_url,
        timeout=base.timeout,
        ssl=base.ssl,
        proxy=base.proxy,
        headers=dict(base.headers),
        logger=base.logger,
        retry_handlers=list(base.retry_handlers),
    )


def team_installation(store: SQLAlchemyInstallationStore, team_id: str) -> Installation | None:
    """The workspace's latest installation, whether or not it belongs to an Enterprise Grid org; else, for a
    workspace of an org that installed Partner org-wide (`team: null`, one token for all its workspaces), the
    org's installation: which org that is, Slack said in the workspace's requests (Store.note_organisation)."""
    found = store.find_installation(enterprise_id=_enterprise_of(store, team_id), team_id=team_id)
    if found is None and (organisation := Store(store.engine).organisation_of(team_id=team_id)) is not None:
        found = store.find_installation(enterprise_id=organisation, team_id=None, is_enterprise_install=True)
    return found


def _enterprise_of(store: SQLAlchemyInstallationStore, team_id: str) -> str | None:
    """The Enterprise Grid org a workspace was installed under (None outside Grid): jobs know only the team."""
    c = store.installations.c
    query = (
        sa.select(c.enterprise_id)
        .where(c.client_id == store.client_id, c.team_id == team_id)
        .order_by(c.installed_at.desc())
        .limit(1)
    )
    with store.engine.connect() as conn:
        return conn.execute(query).scalar()


@functools.cache
def _partner_installation_store() -> type[SQLAlchemyInstallationStore]:
    from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore

    class PartnerInstallationStore(SQLAlchemyInstallationStore):
        """slack-sdk's store, shared (not deep-copied) when Bolt copies a request's context for its lazy
        listeners.

        A workspace that installed Partner and then joined an Enterprise Grid organisation keeps its installation,
        stored without an organisation, while Slack's requests now name the organisation: slack-sdk matches both
        ids and found nothing, so Partner answered none of that workspace's commands (an empty 200). The workspace's
        own installation from before is used then (team ids are unique across Slack), and deleted with it."""

        def __deepcopy__(self, memo: dict[int, Any]) -> PartnerInstallationStore:
            return self

        def find_installation(
            self,
            *,
            enterprise_id: str | None,
            team_id: str | None,
            user_id: str | None = None,
            is_enterprise_install: bool | None = False,
        ) -> Installation | None:
            found = super().find_installation(
                enterprise_id=enterprise_id,
                team_id=team_id,
                user_id=user_id,
                is_enterprise_install=is_enterprise_install,
            )
            if found is None and enterprise_id and team_id and not is_enterprise_install:
                found = super().find_installation(enterprise_id=None, team_id=team_id, user_id=user_id)
            return found

        def find_bot(
            self, *, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None = False
        ) -> Bot | None:
            found = super().find_bot(
                enterprise_id=enterprise_id, team_id=team_id, is_enterprise_install=is_enterprise_install
            )
            if found is None and enterprise_id and team_id and not is_enterprise_install:
                found = super().find_bot(enterprise_id=None, team_id=team_id)
            return found

        def delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
            super().delete_all(enterprise_id=enterprise_id, team_id=team_id)
            if enterprise_id and team_id:
                super().delete_all(enterprise_id=None, team_id=team_id)

    return PartnerInstallationStore


@functools.cache
def _partner_state_store() -> type[Any]:
    from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
    from slack_sdk.oauth.state_store.sqlalchemy import normalize_datetime_for_db as as_stored

    class PartnerOAuthStateStore(SQLAlchemyOAuthStateStore):
        """slack-sdk's store, which deletes a state only when its install completes: every view of the public
        /slack/install page (an admin who never clicked Add to Slack or clicked Cancel, a crawler) left a row for
        ever. Issuing one now deletes those past their 10 minutes, so the table holds only live install links."""

        def issue(self, *args: Any, **kwargs: Any) -> str:
            now = as_stored(datetime.now(tz=UTC))  # slack-sdk's own clock and column format for expire_at
            with self.engine.begin() as connection:
                connection.execute(self.oauth_states.delete().where(self.oauth_states.c.expire_at <= now))
            return str(super().issue(*args, **kwargs))

    return PartnerOAuthStateStore


def installation_store(settings: Settings, store: Store) -> SQLAlchemyInstallationStore:
    assert settings.slack_client_id is not None
    return _partner_installation_store()(
        client_id=settings.slack_client_id, engine=store.engine, logger=logging.getLogger("partner.oauth.store")
    )


def slack_clients(settings: Settings, store: Store, client: WebClient) -> SlackClients:
    """Token mode: `client` for every team. OAuth mode: each team's installation, refreshed through `client`."""
    if not settings.oauth:
        return SlackClients(client)
    assert settings.slack_client_id and settings.slack_client_secret
    rotator = PatientTokenRotator(
        client_id=settings.slack_client_id, client_secret=settings.slack_client_secret, client=client
    )
    return SlackClients(client, installation_store=installation_store(settings, store), token_rotator=rotator)


def oauth_settings(
    settings: Settings,
    *,
    store: Store,
    clock: Clock,
    client: WebClient,
    scopes: list[str] | None = None,
) -> OAuthSettings:
    """Bolt's install flow on the app's database; every Slack call (oauth.v2.access, auth.test, token refresh)
    goes through `client`, so through SLACK_API_URL."""
    assert settings.slack_client_id and settings.slack_client_secret
    installations = installation_store(settings, store)
    oauth = OAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret,
        scopes=scopes if scopes is not None else install_scopes(),
        user_scopes=[],
        redirect_uri=settings.slack_redirect_uri,
        install_path=INSTALL_PATH,
        redirect_uri_path=REDIRECT_PATH,
        installation_store=installations,
        token_rotation_expiration_minutes=TOKEN_ROTATION_MINUTES,
        state_store=_partner_state_store()(
            expiration_seconds=STATE_EXPIRATION_SECONDS,
            engine=store.engine,
            logger=logging.getLogger("partner.oauth.state"),
        ),
        state_expiration_seconds=STATE_EXPIRATION_SECONDS,
        callback_options=CallbackOptions(success=_on_installed(store, clock), failure=_on_failure(store)),
        logger=logging.getLogger("partner.oauth.flow"),
    )
    # OAuthSettings builds its authorize without a client, so its token refreshes would go to slack.com whatever
    # SLACK_API_URL says. This one refreshes through `client`, and remembers each token's auth.test answer (a new
    # token after a refresh or reinstall is a new key; an uninstalled team has no token to look up at all).
    authorize = InstallationStoreAuthorize(
        logger=logging.getLogger("partner.oauth.authorize"),
        installation_store=installations,
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret,
        token_rotation_expiration_minutes=TOKEN_ROTATION_MINUTES,
        cache_enabled=True,
        client=client,
    )
    authorize.token_rotator = PatientTokenRotator(  # a request during a Slack hiccup still gets its answer
        client_id=settings.slack_client_id, client_secret=settings.slack_client_secret, client=client
    )
    oauth.authorize = authorize
    return oauth


def _on_installed(store: Store, clock: Clock) -> Callable[[SuccessArgs], BoltResponse]:
    def success(args: SuccessArgs) -> BoltResponse:
        installation: Installation = args.installation
        if installation.team_id:
            store.ensure_workspace(team_id=installation.team_id, name=installation.team_name, now=clock())
            # Installed again after an uninstall: its nudges resume (handlers/events/uninstall.py deactivated it).
            store.reactivate_workspace(team_id=installation.team_id)
        elif installation.is_enterprise_install and installation.enterprise_id:
            # An org-wide install (again): the org's workspaces Partner served before resume at once.
            for team_id in store.organisation_workspaces(enterprise_id=installation.enterprise_id):
                store.reactivate_workspace(team_id=team_id)
        logger.info(
            "installed in %s (%s)",
            installation.team_id or f"{installation.enterprise_id}, org-wide",
            installation.team_name or installation.enterprise_name,
        )
        if installation.is_enterprise_install and installation.enterprise_url and installation.app_id:
            return BoltResponse(
                status=200,
                headers={
                    "Content-Type": "text/html; charset=utf-8",
                    "Set-Cookie": args.settings.state_utils.build_set_cookie_for_deletion(),
                },
                body=org_installed_page(installation),
            )
        return args.default.success(args)

    return success


def _page(title: str, body: str, *, head: str = "") -> str:
    """A small HTML page in the look of Bolt's own install pages; `title`, `body` and `head` are trusted HTML."""
    return f"""<html>
<head>
<link rel="icon" href="data:,">{head}
<style>
body {{
  padding: 10px 15px;
  font-family: verdana;
  text-align: center;
}}
</style>
</head>
<body>
<h2>{title}</h2>
{body}
</body>
</html>
"""


def org_installed_page(installation: Installation) -> str:
    """After an org-wide install Partner is in none of the organisation's workspaces yet (Slack's docs): the page
    says so and opens Slack's page for adding it to them, where Bolt's own linked to app.slack.com/client/None."""
    add = html.escape(
        f"{installation.enterprise_url}manage/organization/apps/profile/{installation.app_id}/workspaces/add"
    )
    org = html.escape(installation.enterprise_name or "your organisation")
    return _page(
        f"Partner is installed for {org}",
        f'<p>It works in none of the organisation\'s workspaces yet: <a href="{add}">choose the workspaces</a> it may '
        "work in.</p>",
        head=f'\n<meta http-equiv="refresh" content="0; URL={add}">',
    )


# Slack's consent page sends the browser back with `error=access_denied` when the admin clicks Cancel: a choice,
# not a fault, so the page says what happened and how to start again instead of Bolt's "Oops, Something Went Wrong!".
CANCELLED_PAGE = _page(
    "Partner was not installed",
    "<p>The installation was cancelled on Slack's page, so nothing was added to your workspace.</p>\n"
    f'<p>To install Partner after all, <a href="{INSTALL_PATH}">start again</a>.</p>',
)


# The database not answering when the admin comes back from Slack's page: the install link's state could not be read.
# Slack's code is only spent once the state is found, so the same page reloaded once the database is back installs.
DATABASE_DOWN_PAGE = _page(
    "Partner's database didn't answer just now",
    "<p>Nothing was installed yet. Please reload this page in a minute to finish installing Partner, or "
    f'<a href="{INSTALL_PATH}">start again</a>.</p>',
)
# …or later, once the code was spent (the installation could not be stored): only a new install link works.
NOT_STORED_PAGE = _page(
    "Partner's database didn't answer just now",
    f'<p>Partner could not finish installing. Please <a href="{INSTALL_PATH}">start again</a> in a minute.</p>',
)
INSTALL_DATABASE_DOWN_PAGE = _page(
    "Partner's database didn't answer just now",
    f'<p>The install could not start. Please <a href="{INSTALL_PATH}">try again</a> in a minute.</p>',
)


def _html(status: int, body: str, **headers: str) -> BoltResponse:
    return BoltResponse(status=status, headers={"Content-Type": "text/html; charset=utf-8", **headers}, body=body)


def _database_answers(store: Store) -> bool:
    try:
        store.ping()
    except sa.exc.SQLAlchemyError:
        return False
    return True


def _on_failure(store: Store) -> Callable[[FailureArgs], BoltResponse]:
    def failure(args: FailureArgs) -> BoltResponse:
        if args.reason == "access_denied":
            logger.info("install cancelled on Slack's consent page")
            cookie = args.settings.state_utils.build_set_cookie_for_deletion()
            return _html(200, CANCELLED_PAGE, **{"Set-Cookie": cookie})
        if args.reason in ("invalid_state", "storage_error") and not _database_answers(store):
            # slack-sdk's state store reads a database error as "no such state": not the admin's fault, and the
            # cookie is kept so that the reload works.
            logger.warning("install redirect while the database is unavailable (%s)", args.reason)
            return _html(503, DATABASE_DOWN_PAGE if args.reason == "invalid_state" else NOT_STORED_PAGE)
        logger.warning("install refused: %s", args.reason)
        return args.default.failure(args)

    return failure


def install_page_database_down(path: str, *, code_spent: bool = True) -> tuple[str, list[tuple[str, str]], bytes]:
    """The install page or the redirect (`path`) while the database does not answer: a 503 page saying what to do. An
    error that gets out of the redirect came after Slack's code was spent (a state not found is `_on_failure`'s);
    `code_spent=False` while `serve` still waits for the database: nothing was tried, so a reload can install."""
    if path == REDIRECT_PATH:
        body = (NOT_STORED_PAGE if code_spent else DATABASE_DOWN_PAGE).encode()
    else:
        body = INSTALL_DATABASE_DOWN_PAGE.encode()
    headers = [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))]
    return "503 Service Unavailable", headers, body
