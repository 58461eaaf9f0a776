"""One settings object, read from the environment and `.env`, failing fast on a bad value."""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from dotenv import dotenv_values

from domain.boundaries import Policy
from domain.calendar import validate_typed_timezone
from domain.health import DEFAULT_THRESHOLDS, DEFAULT_WEIGHTS, HealthThresholds, HealthWeights

SLACK_API_URL_DEFAULT = "https://slack.com/api/"
# Scorecard quarterly, relationship level monthly; PARTNER_SURVEY_SCHEDULE overrides.
DEFAULT_SURVEY_SCHEDULE: dict[str, int] = {"scorecard": 91, "level": 30}
SURVEY_PERIODS: dict[str, int] = {"weekly": 7, "monthly": 30, "quarterly": 91, "yearly": 365}
SCHEDULED_SURVEYS = ("scorecard", "level", "practices", "profile")
# Upper bounds of the durations an operator sets: ten years, far beyond any real use, far inside the calendar.
MOST_DAYS = 3650
MOST_HOLD_WEEKS = 520


# The placeholders .env.example ships with (tests/test_docs.py checks they are still its values).
ENV_EXAMPLE_PLACEHOLDERS: dict[str, str] = {
    "SLACK_BOT_TOKEN": "xoxb-your-bot-token",
    "SLACK_SIGNING_SECRET": "your-signing-secret",
    "SLACK_CLIENT_ID": "1234567890.1234567890",
    "SLACK_CLIENT_SECRET": "your-client-secret",
}


class SettingsError(ValueError):
    """A missing or invalid setting; the message names the variable and how to fix it."""


@dataclass(frozen=True)
class Settings:
    slack_bot_token: str | None  # None in OAuth mode: each workspace's token comes from its installation
    slack_signing_secret: str
    slack_app_token: str | None = None
    # OAuth install (several workspaces, bot/oauth.py): both set turns it on.
    slack_client_id: str | None = None
    slack_client_secret: str | None = None
    slack_redirect_uri: str | None = None  # None: the app's only Redirect URL, as set at api.slack.com
    database_url: str = "sqlite:///partner.db"
    slack_api_url: str = SLACK_API_URL_DEFAULT
    port: int = 3000
    default_tz: str = "UTC"
    admins: frozenset[str] = field(default_factory=frozenset)
    log_level: str = "INFO"
    # Cadence nudges: how late after downtime a nudge is still sent, and whether any check-in counts as the call.
    nudge_grace_hours: float = 6.0
    any_checkin_satisfies: bool = False
    log_format: str = "text"  # "json": one JSON object per line, for log pipelines
    # Boundaries: how many needs are introduced at once, when one holds, when slips call for a decision.
    max_active_boundaries: int = 1
    boundary_hold_weeks: int = 3
    boundary_escalate_slips: int = 3
    boundary_escalate_days: int = 30
    # Health score: component weights and band thresholds (see domain/health.py).
    health_weights: HealthWeights = DEFAULT_WEIGHTS
    health_thresholds: HealthThresholds = DEFAULT_THRESHOLDS
    # Scheduled survey prompts to each customer's owner: survey → days between prompts (off: left out).
    # A tuple of pairs rather than a dict keeps Settings hashable.
    survey_schedule: tuple[tuple[str, int], ...] = tuple(DEFAULT_SURVEY_SCHEDULE.items())
    # TEST ONLY (the replica test): the bot's clock starts at this instant and runs at real speed, and the scheduler
    # ticks every `tick_seconds` instead of every minute on the minute. Never set in production.
    clock_start: datetime | None = None
    tick_seconds: int | None = None

    @property
    def socket_mode(self) -> bool:
        return bool(self.slack_app_token)

    @property
    def oauth(self) -> bool:
        """Several workspaces install the app through /slack/install; no single bot token."""
        return bool(self.slack_client_id and self.slack_client_secret)

    @property
    def boundary_policy(self) -> Policy:
        return Policy(
            max_active=self.max_active_boundaries,
            hold_after=timedelta(weeks=self.boundary_hold_weeks),
            escalate_slips=self.boundary_escalate_slips,
            escalate_window=timedelta(days=self.boundary_escalate_days),
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, env_file: str | None = ".env") -> Settings:
        """Real environment wins over `.env`, as python-dotenv's `load_dotenv` does by default."""
        values: dict[str, str] = {}
        if env_file and os.path.exists(env_file):
            values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
        values.update(os.environ if environ is None else environ)
        return cls.from_mapping(values)

    @classmethod
    def from_mapping(cls, env: Mapping[str, str]) -> Settings:
        def get(name: str) -> str | None:
            value = (env.get(name) or "").strip()
            # `docker run --env-file` keeps a value's quotes (`SLACK_BOT_TOKEN="xoxb-…"`), where .env drops them: read
            # it as .env would, rather than refuse a token for not starting with xoxb-. No setting is a quoted text.
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1].strip()
            return value or None

        def required(name: str, hint: str) -> str:
            value = get(name)
            if value is None:
                raise SettingsError(f"{name} is not set. {hint}")
            return value

        # `cp .env.example .env` then `serve` with a value left as the example: it would start, then have every
        # request refused (a wrong signing secret) or every Slack call fail (invalid_auth), with no word why.
        for name, example in ENV_EXAMPLE_PLACEHOLDERS.items():
            if (
                name == "SLACK_BOT_TOKEN"
                and get(name) == example
                and get("SLACK_CLIENT_ID")
                and get("SLACK_CLIENT_SECRET")
            ):
                # .env.example's OAuth lines uncommented, its bot token line left: OAuth mode wants no bot token.
                raise SettingsError(
                    f"SLACK_BOT_TOKEN is still the example value of .env.example ({example!r}) while SLACK_CLIENT_ID "
                    "and SLACK_CLIENT_SECRET are set: in OAuth mode leave SLACK_BOT_TOKEN unset (delete its line from "
                    '.env); each workspace\'s token comes from its install (README, "OAuth install").'
                )
            if get(name) == example:
                raise SettingsError(
                    f"{name} is still the example value of .env.example ({example!r}): put your Slack app's own "
                    'value there (README, "Create the Slack app").'
                )

        client_id, client_secret = get("SLACK_CLIENT_ID"), get("SLACK_CLIENT_SECRET")
        if bool(client_id) != bool(client_secret):
            missing = "SLACK_CLIENT_SECRET" if client_id else "SLACK_CLIENT_ID"
            raise SettingsError(
                f"{missing} is not set. OAuth install needs both SLACK_CLIENT_ID and SLACK_CLIENT_SECRET "
                "(your app's Basic Information → App Credentials); unset both for a single workspace's bot token."
            )
        oauth = client_id is not None
        token = get("SLACK_BOT_TOKEN")
        if oauth and token is not None:
            raise SettingsError(
                "Set either SLACK_BOT_TOKEN (one workspace) or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET (OAuth "
                "install, several workspaces), not both: in OAuth mode each workspace's token comes from its install."
            )
        if not oauth:
            token = required(
                "SLACK_BOT_TOKEN",
                "Copy the Bot User OAuth Token (xoxb-…) from your app's OAuth page, or set SLACK_CLIENT_ID and "
                'SLACK_CLIENT_SECRET to let several workspaces install Partner (README, "OAuth install").',
            )
            if not token.startswith("xoxb-"):
                raise SettingsError("SLACK_BOT_TOKEN must be a bot token starting with 'xoxb-'.")
            _in_one_piece("SLACK_BOT_TOKEN", token)
        secret = required("SLACK_SIGNING_SECRET", "Copy the Signing Secret from your app's Basic Information page.")
        _in_one_piece("SLACK_SIGNING_SECRET", secret)
        app_token = get("SLACK_APP_TOKEN")
        if app_token is not None and not app_token.startswith("xapp-"):
            raise SettingsError("SLACK_APP_TOKEN must be an app-level token starting with 'xapp-' (or unset).")
        if app_token is not None:
            _in_one_piece("SLACK_APP_TOKEN", app_token)
        if oauth and app_token is not None:
            raise SettingsError(
                "OAuth install serves /slack/install and /slack/oauth_redirect over HTTP: unset SLACK_APP_TOKEN "
                "(Socket Mode) and run `partner-bot serve --http` behind your public URL."
            )
        redirect_uri = get("SLACK_REDIRECT_URI")
        if redirect_uri is not None and not oauth:  # read by nothing: whoever set it believes installs are served
            raise SettingsError(
                "SLACK_REDIRECT_URI is for OAuth mode only: set SLACK_CLIENT_ID and SLACK_CLIENT_SECRET (and unset "
                "SLACK_BOT_TOKEN) to let workspaces install Partner, or unset SLACK_REDIRECT_URI to serve one "
                "workspace with SLACK_BOT_TOKEN."
            )
        if redirect_uri is not None and not redirect_uri.startswith(("http://", "https://")):
            raise SettingsError(
                f"SLACK_REDIRECT_URI must be an http(s) URL like https://partner.example.com/slack/oauth_redirect, "
                f"got {redirect_uri!r}."
            )
        # Partner serves the OAuth redirect at /slack/oauth_redirect only (a proxy may add a prefix before it): Slack
        # would send every installer's browser to a page that answers 404, and no workspace could ever install.
        if redirect_uri is not None and not urlsplit(redirect_uri).path.endswith("/slack/oauth_redirect"):
            raise SettingsError(
                "SLACK_REDIRECT_URI must end with /slack/oauth_redirect, the page Partner serves the installs' "
                f"redirect on (like https://partner.example.com/slack/oauth_redirect), got {redirect_uri!r}."
            )

        api_url = get("SLACK_API_URL") or SLACK_API_URL_DEFAULT
        if not api_url.startswith(("http://", "https://")):
            raise SettingsError(f"SLACK_API_URL must be an http(s) URL, got {api_url!r}.")
        if not api_url.endswith("/"):
            api_url += "/"

        port_text = get("PORT") or "3000"
        try:
            port = int(port_text)
        except ValueError:
            port = -1
        if not 0 < port < 65536:
            raise SettingsError(f"PORT must be a number between 1 and 65535, got {port_text!r}.")

        tz = default_time_zone(get("PARTNER_DEFAULT_TZ") or "UTC")

        admins_text = get("PARTNER_ADMINS") or ""
        # Comma-separated, as documented; a space or semicolon between IDs is read the same way rather than making
        # "U0001 U0002" one ID that matches nobody (no admins, and no word why).
        admins = frozenset(re.split(r"[\s,;]+", admins_text)) - {""}
        bad = sorted(a for a in admins if a[:1] not in ("U", "W"))
        if bad:
            raise SettingsError(f"PARTNER_ADMINS must list Slack user IDs (U…/W…), got {', '.join(bad)}.")

        log_level = (get("LOG_LEVEL") or "INFO").upper()
        if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise SettingsError(f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {log_level!r}.")
        log_format = (get("LOG_FORMAT") or "text").lower()
        if log_format not in ("text", "json"):
            raise SettingsError(f"LOG_FORMAT must be text or json, got {log_format!r}.")

        def positive(name: str, default: int, meaning: str, most: int | None = None) -> int:
            text = get(name) or str(default)
            try:
                number = int(text)
            except ValueError:
                number = 0
            if number < 1:
                raise SettingsError(f"{name} must be a whole number of at least 1 ({meaning}), got {text!r}.")
            # A duration set huge to mean "never" (hold 99999999 weeks) would overflow the calendar at the first tick
            # or click that reads it: refused here, naming the setting, rather than as a traceback every minute.
            if most is not None and number > most:
                raise SettingsError(f"{name} must be a whole number from 1 to {most} ({meaning}), got {text!r}.")
            return number

        grace_text = get("PARTNER_NUDGE_GRACE_HOURS") or "6"
        try:
            grace_hours = float(grace_text)
        except ValueError:
            grace_hours = -1.0
        if not 0 <= grace_hours <= 24 * 31:
            raise SettingsError(
                f"PARTNER_NUDGE_GRACE_HOURS must be a number of hours from 0 to 744, got {grace_text!r}."
            )
        any_text = (get("PARTNER_ANY_CHECKIN_SATISFIES") or "false").lower()
        if any_text not in ("true", "false", "1", "0", "yes", "no"):
            raise SettingsError(f"PARTNER_ANY_CHECKIN_SATISFIES must be true or false, got {any_text!r}.")

        clock_text = get("PARTNER_CLOCK_START")
        clock_start = None
        if clock_text:
            try:
                clock_start = datetime.fromisoformat(clock_text.replace("Z", "+00:00"))
            except ValueError:
                clock_start = None
            if clock_start is None or clock_start.tzinfo is None:
                raise SettingsError(
                    f"PARTNER_CLOCK_START (test only) must be an ISO 8601 instant with a zone, got {clock_text!r}."
                )
        tick_seconds = (
            positive("PARTNER_TICK_SECONDS", 60, "seconds between ticks") if get("PARTNER_TICK_SECONDS") else None
        )

        return cls(
            slack_bot_token=token,
            slack_signing_secret=secret,
            slack_app_token=app_token,
            slack_client_id=client_id,
            slack_client_secret=client_secret,
            slack_redirect_uri=redirect_uri,
            database_url=checked_database_url(get("DATABASE_URL") or "sqlite:///partner.db"),
            slack_api_url=api_url,
            port=port,
            default_tz=tz,
            admins=admins,
            log_level=log_level,
            nudge_grace_hours=grace_hours,
            any_checkin_satisfies=any_text in ("true", "1", "yes"),
            log_format=log_format,
            max_active_boundaries=positive("PARTNER_MAX_ACTIVE_BOUNDARIES", 1, "needs introduced at once"),
            boundary_hold_weeks=positive("PARTNER_BOUNDARY_HOLD_WEEKS", 3, "weeks", most=MOST_HOLD_WEEKS),
            boundary_escalate_slips=positive("PARTNER_BOUNDARY_ESCALATE_SLIPS", 3, "slips"),
            boundary_escalate_days=positive("PARTNER_BOUNDARY_ESCALATE_DAYS", 30, "days", most=MOST_DAYS),
            health_weights=parse_health_weights(get("PARTNER_HEALTH_WEIGHTS")),
            health_thresholds=parse_health_thresholds(get("PARTNER_HEALTH_THRESHOLDS")),
            survey_schedule=tuple(parse_survey_schedule(get("PARTNER_SURVEY_SCHEDULE")).items()),
            clock_start=clock_start,
            tick_seconds=tick_seconds,
        )


# What storage/db.py can open: SQLite, and PostgreSQL through psycopg 3 (`postgres://`, `postgresql://` become it).
DATABASE_SCHEMES = ("sqlite", "sqlite+pysqlite", "postgres", "postgresql", "postgresql+psycopg")


def _in_one_piece(name: str, value: str) -> None:
    """Slack's tokens and secrets are printable ASCII with no space: one pasted with a line break, a space or a
    typographic character inside would only fail later, at Slack, as invalid_auth or every signature refused."""
    if not value.isascii() or not value.isprintable() or any(c.isspace() for c in value):
        raise SettingsError(f"{name} has a space or a character Slack never uses inside: copy it again in one piece.")


def checked_database_url(url: str) -> str:
    """A URL Partner can open, or a SettingsError naming DATABASE_URL (never echoing the URL: it holds a password)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme not in DATABASE_SCHEMES:
        shown = f"{scheme}://…" if scheme else "a URL without a scheme"
        raise SettingsError(
            f"DATABASE_URL must be SQLite (sqlite:///partner.db) or PostgreSQL "
            f"(postgresql+psycopg://user:password@host:5432/name), got {shown}."
        )
    # A scheme is case-insensitive (`Postgres://`, `SQLITE:///`), SQLAlchemy's dialect names are not: a traceback.
    url = scheme + url[len(scheme) :]
    try:
        parsed = make_url(url)
        parsed.port  # noqa: B018 - parsing is the check: a port that is not a number fails here
    except (ArgumentError, ValueError):
        raise SettingsError(
            f"DATABASE_URL is not a valid {scheme}:// URL; write it like "
            "postgresql+psycopg://user:password@host:5432/name (percent-encode @ : / in the password)."
        ) from None
    # A password with a bare @ (`partner:p@ss@db.internal`) splits at its first @: the host becomes `ss@db.internal`,
    # which `serve` would wait 60 s for and then call unreachable, with no word about the password.
    if parsed.host and "@" in parsed.host:
        raise SettingsError(
            "DATABASE_URL has an @ in its password or user name: percent-encode it as %40 (and : / % as %3A %2F %25), "
            "like postgresql+psycopg://partner:p%40ss@db.internal:5432/partner."
        )
    # An in-memory SQLite database is one per thread here and gone at exit: every check-in would be lost.
    if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
        raise SettingsError(
            "DATABASE_URL is an in-memory SQLite database, which would lose every check-in when Partner stops: "
            "name a file, like sqlite:///partner.db."
        )
    # The driver is an extra (README: `pip install -e ".[postgres]"`): without it SQLAlchemy fails deep in
    # create_engine with a traceback ending in "No module named 'psycopg'".
    if scheme.startswith("postgres") and importlib.util.find_spec("psycopg") is None:
        raise SettingsError(
            "DATABASE_URL is a PostgreSQL URL but its driver, psycopg, is not installed: run "
            'pip install -e ".[postgres]" (or pip install "psycopg[binary]").'
        )
    return url


def _pairs(name: str, text: str, example: str) -> list[tuple[str, str]]:
    pairs = []
    for item in text.replace(";", ",").split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise SettingsError(f"{name} must be a list like {example!r}, got {item.strip()!r}.")
        key, value = key.strip().lower(), value.strip().lower()
        earlier = next((v for k, v in pairs if k == key), None)
        if earlier is not None and earlier != value:  # one of the two would be dropped without a word
            raise SettingsError(f"{name} sets {key} twice ({key}={earlier} and {key}={value}): keep one.")
        pairs.append((key, value))
    return pairs


def default_time_zone(text: str) -> str:
    """PARTNER_DEFAULT_TZ read as a customer's `tz=` is: any case (`europe/berlin`), and not EST or MST, fixed offsets
    all year that would put every call of a New York or Denver customer an hour off from March to November, nor a UTC
    offset (`+09:00`), answered with the zones meant by it as `tz=+09:00` is."""
    try:
        return validate_typed_timezone(text)
    except ValueError as e:
        if "tz=" not in str(e):  # not a zone at all: no zone to name
            raise SettingsError(
                f"PARTNER_DEFAULT_TZ {text!r} is not a known time zone; use an IANA name like Europe/Berlin."
            ) from None
        raise SettingsError(f"PARTNER_DEFAULT_TZ: {str(e).replace('tz=', 'PARTNER_DEFAULT_TZ=')}") from None


def parse_health_weights(text: str | None) -> HealthWeights:
    """`adherence=25,recency=20,…`; components left out keep their default weight."""
    if not text:
        return DEFAULT_WEIGHTS
    known = set(vars(DEFAULT_WEIGHTS))
    values: dict[str, float] = {}
    for key, value in _pairs("PARTNER_HEALTH_WEIGHTS", text, "adherence=25,mood=30"):
        if key not in known:
            raise SettingsError(f"PARTNER_HEALTH_WEIGHTS: unknown component {key!r}; use {', '.join(sorted(known))}.")
        try:
            values[key] = float(value)
        except ValueError:
            raise SettingsError(f"PARTNER_HEALTH_WEIGHTS: {key} must be a number, got {value!r}.") from None
    try:
        weights = HealthWeights(**{**vars(DEFAULT_WEIGHTS), **values})
    except ValueError as e:
        raise SettingsError(f"PARTNER_HEALTH_WEIGHTS: {e}.") from None
    if not any(vars(weights).values()):  # every customer would read "not scored yet" for ever, with no word why
        raise SettingsError(
            "PARTNER_HEALTH_WEIGHTS: every weight is 0, so no health score could be computed; keep one above 0."
        )
    return weights


def parse_health_thresholds(text: str | None) -> HealthThresholds:
    """`green=70,yellow=40`: the lowest score of each band (below yellow is red)."""
    if not text:
        return DEFAULT_THRESHOLDS
    values: dict[str, float] = {}
    for key, value in _pairs("PARTNER_HEALTH_THRESHOLDS", text, "green=70,yellow=40"):
        if key not in ("green", "yellow"):
            raise SettingsError(f"PARTNER_HEALTH_THRESHOLDS: unknown band {key!r}; set green and/or yellow.")
        try:
            values[key] = float(value)
        except ValueError:
            raise SettingsError(f"PARTNER_HEALTH_THRESHOLDS: {key} must be a number, got {value!r}.") from None
    try:
        return HealthThresholds(**{**vars(DEFAULT_THRESHOLDS), **values})
    except ValueError as e:
        raise SettingsError(f"PARTNER_HEALTH_THRESHOLDS: {e}.") from None


def parse_survey_schedule(text: str | None) -> dict[str, int]:
    """`scorecard=quarterly,level=monthly,practices=off` (or a number of days like `profile=180d`).

    Surveys not named keep their default; `off` turns a default off; `off` alone turns every prompt off.
    """
    if not text:
        return dict(DEFAULT_SURVEY_SCHEDULE)
    if text.strip().lower() == "off":
        return {}
    schedule = dict(DEFAULT_SURVEY_SCHEDULE)
    for key, value in _pairs("PARTNER_SURVEY_SCHEDULE", text, "scorecard=quarterly,level=monthly"):
        if key not in SCHEDULED_SURVEYS:
            raise SettingsError(f"PARTNER_SURVEY_SCHEDULE: unknown survey {key!r}; use {', '.join(SCHEDULED_SURVEYS)}.")
        if value == "off":
            schedule.pop(key, None)
            continue
        days = SURVEY_PERIODS.get(value)
        if days is None and value.rstrip("d").isdigit() and 0 < int(value.rstrip("d")) <= MOST_DAYS:
            days = int(value.rstrip("d"))
        if days is None:
            raise SettingsError(
                f"PARTNER_SURVEY_SCHEDULE: {key}={value!r} is not a period; use weekly, monthly, quarterly, "
                f"yearly, a number of days from 1d to {MOST_DAYS}d, or off."
            )
        schedule[key] = days
    return schedule
