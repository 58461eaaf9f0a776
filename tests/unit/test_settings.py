from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import Settings, SettingsError

BASE = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s3cret"}


def test_defaults() -> None:
    s = Settings.from_mapping(BASE)
    assert s.database_url == "sqlite:///partner.db"
    assert s.slack_api_url == "https://slack.com/api/"
    assert s.port == 3000 and s.default_tz == "UTC" and not s.socket_mode
    assert s.clock_start is None and s.tick_seconds is None  # test-only knobs, off unless set


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"SLACK_SIGNING_SECRET": "x"}, "SLACK_BOT_TOKEN"),
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET"),
        ({**BASE, "SLACK_BOT_TOKEN": "xoxp-user"}, "SLACK_BOT_TOKEN"),
        ({**BASE, "SLACK_APP_TOKEN": "nope"}, "SLACK_APP_TOKEN"),
        ({**BASE, "PORT": "http"}, "PORT"),
        ({**BASE, "PORT": "70000"}, "PORT"),
        ({**BASE, "PARTNER_DEFAULT_TZ": "Mars/Olympus"}, "PARTNER_DEFAULT_TZ"),
        ({**BASE, "SLACK_API_URL": "localhost:9"}, "SLACK_API_URL"),
        ({**BASE, "PARTNER_ADMINS": "dana"}, "PARTNER_ADMINS"),
        ({**BASE, "PARTNER_CLOCK_START": "2026-12-01T14:00:00"}, "PARTNER_CLOCK_START"),
        ({**BASE, "PARTNER_CLOCK_START": "tomorrow"}, "PARTNER_CLOCK_START"),
        ({**BASE, "PARTNER_TICK_SECONDS": "0"}, "PARTNER_TICK_SECONDS"),
        ({**BASE, "SLACK_BOT_TOKEN": "xoxb-12 34"}, "SLACK_BOT_TOKEN has a space"),  # pasted in two pieces
        ({**BASE, "SLACK_SIGNING_SECRET": "ab\u200bcd"}, "SLACK_SIGNING_SECRET has a space"),  # a zero-width space
        ({**BASE, "SLACK_APP_TOKEN": "xapp-1\t2"}, "SLACK_APP_TOKEN has a space"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], names: str) -> None:
    with pytest.raises(SettingsError, match=names):
        Settings.from_mapping(env)


OAUTH = {"SLACK_CLIENT_ID": "111.222", "SLACK_CLIENT_SECRET": "client-s3cret", "SLACK_SIGNING_SECRET": "s3cret"}


def test_oauth_mode_needs_no_bot_token() -> None:
    s = Settings.from_mapping(OAUTH)
    assert s.oauth and s.slack_bot_token is None and s.slack_redirect_uri is None
    behind_a_prefix = "https://example.com/partner/slack/oauth_redirect"  # a proxy strips /partner
    assert Settings.from_mapping({**OAUTH, "SLACK_REDIRECT_URI": behind_a_prefix}).slack_redirect_uri == behind_a_prefix
    assert not Settings.from_mapping(BASE).oauth


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({**BASE, "SLACK_CLIENT_ID": "111.222"}, "SLACK_CLIENT_SECRET is not set"),
        ({**BASE, "SLACK_CLIENT_SECRET": "x" * 10}, "SLACK_CLIENT_ID is not set"),
        ({**OAUTH, "SLACK_BOT_TOKEN": "xoxb-1"}, "either SLACK_BOT_TOKEN .* not both"),
        ({**OAUTH, "SLACK_APP_TOKEN": "xapp-1"}, "unset SLACK_APP_TOKEN"),
        ({**OAUTH, "SLACK_REDIRECT_URI": "partner.example.com/slack/oauth_redirect"}, "SLACK_REDIRECT_URI"),
        # Partner serves the redirect on /slack/oauth_redirect only: any other page would answer every installer 404.
        ({**OAUTH, "SLACK_REDIRECT_URI": "https://partner.example.com/oauth/callback"}, "must end with /slack/oauth"),
        ({**OAUTH, "SLACK_REDIRECT_URI": "https://partner.example.com/slack/oauth_redirect/"}, "must end with"),
    ],
)
def test_bad_oauth_settings_say_what_to_change(env: dict[str, str], names: str) -> None:
    with pytest.raises(SettingsError, match=names):
        Settings.from_mapping(env)


def test_env_file_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("SLACK_BOT_TOKEN=xoxb-from-file\nSLACK_SIGNING_SECRET=file\nPORT=4000\n")
    s = Settings.from_env({"SLACK_SIGNING_SECRET": "env"}, env_file=str(env_file))
    assert (s.slack_bot_token, s.slack_signing_secret, s.port) == ("xoxb-from-file", "env", 4000)


def test_the_default_time_zone_is_read_as_a_customers_is() -> None:
    """Any case, canonical spelling; EST and MST (fixed offsets all year) refused naming the zone meant, as
    `/partner add tz=EST` is: a New York default typed as EST put every call an hour off from March to November."""
    assert Settings.from_mapping({**BASE, "PARTNER_DEFAULT_TZ": "europe/berlin"}).default_tz == "Europe/Berlin"
    assert Settings.from_mapping({**BASE, "PARTNER_DEFAULT_TZ": "utc"}).default_tz == "UTC"
    with pytest.raises(SettingsError) as refused:
        Settings.from_mapping({**BASE, "PARTNER_DEFAULT_TZ": "EST"})
    assert str(refused.value) == (
        "PARTNER_DEFAULT_TZ: EST is a fixed UTC−05:00 all year, with no daylight saving time. For clocks that change "
        "in March and November, use PARTNER_DEFAULT_TZ=America/New_York; for UTC−05:00 all year, "
        "PARTNER_DEFAULT_TZ=America/Panama."
    )
    with pytest.raises(SettingsError, match="PARTNER_DEFAULT_TZ: MST is a fixed"):
        Settings.from_mapping({**BASE, "PARTNER_DEFAULT_TZ": "MST"})
    # A UTC offset, as README's `tz=+09:00`: the zones meant by it are named, not "not a known time zone".
    for offset in ("+09:00", "UTC+9"):
        with pytest.raises(SettingsError) as refused:
            Settings.from_mapping({**BASE, "PARTNER_DEFAULT_TZ": offset})
        assert str(refused.value).startswith(
            f"PARTNER_DEFAULT_TZ: '{offset}' is an offset (UTC+09:00), not a time zone"
        )
        assert "Use PARTNER_DEFAULT_TZ=Asia/Tokyo or PARTNER_DEFAULT_TZ=Asia/Seoul" in str(refused.value)


def test_health_weights_that_leave_every_component_out_are_refused() -> None:
    zero = ",".join(
        f"{name}=0" for name in ("adherence", "recency", "mood", "scorecard", "level", "boundaries", "flag")
    )
    with pytest.raises(SettingsError, match="PARTNER_HEALTH_WEIGHTS: every weight is 0"):
        Settings.from_mapping({**BASE, "PARTNER_HEALTH_WEIGHTS": zero})
    assert Settings.from_mapping({**BASE, "PARTNER_HEALTH_WEIGHTS": zero.replace("mood=0", "mood=1")})


def test_api_url_gets_its_trailing_slash_and_admins_are_listed() -> None:
    s = Settings.from_mapping({**BASE, "SLACK_API_URL": "http://127.0.0.1:9/api", "PARTNER_ADMINS": "U1, W2"})
    assert s.slack_api_url == "http://127.0.0.1:9/api/"
    assert s.admins == frozenset({"U1", "W2"})
    for typed in ("U1 W2", "U1;W2", " U1 ,\tW2 ", "U1,,W2"):  # a space between IDs is no ID "U1 W2" matching nobody
        assert Settings.from_mapping({**BASE, "PARTNER_ADMINS": typed}).admins == frozenset({"U1", "W2"}), typed


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PARTNER_HEALTH_WEIGHTS", "mood=30,adherence=20,mood=10"),
        ("PARTNER_HEALTH_THRESHOLDS", "green=70,green=80"),
        ("PARTNER_SURVEY_SCHEDULE", "scorecard=weekly,level=monthly,scorecard=monthly"),
    ],
)
def test_a_component_set_twice_with_two_values_is_named(name: str, value: str) -> None:
    """As a command's `tz=… tz=…` is: neither value is dropped without a word; the same value twice is harmless."""
    key, first = value.split(",")[0].split("=")
    last = value.split(",")[-1].split("=")[1]
    with pytest.raises(SettingsError) as refused:
        Settings.from_mapping({**BASE, name: value})
    assert str(refused.value) == f"{name} sets {key} twice ({key}={first} and {key}={last}): keep one."
    assert Settings.from_mapping({**BASE, name: f"{key}={first},{key}={first.upper()}"})


def test_env_examples_bot_token_line_left_in_oauth_mode_says_to_delete_it() -> None:
    """`cp .env.example .env`, the OAuth lines uncommented as it says, the bot token's line forgotten: the answer is to
    delete that line, not to paste a bot token (which OAuth mode then refuses)."""
    oauth = {"SLACK_CLIENT_ID": "111.222", "SLACK_CLIENT_SECRET": "abc", "SLACK_SIGNING_SECRET": "s3cret"}
    with pytest.raises(SettingsError) as refused:
        Settings.from_mapping({**oauth, "SLACK_BOT_TOKEN": "xoxb-your-bot-token"})
    assert "in OAuth mode leave SLACK_BOT_TOKEN unset (delete its line from .env)" in str(refused.value)
    assert Settings.from_mapping(oauth).oauth


def test_a_redirect_url_without_oauth_credentials_is_named() -> None:
    """SLACK_REDIRECT_URI with a bot token and no client credentials was read by nothing: the operator believed
    workspaces could install Partner, and /slack/install was never served."""
    with pytest.raises(SettingsError) as refused:
        Settings.from_mapping({**BASE, "SLACK_REDIRECT_URI": "https://partner.example.com/slack/oauth_redirect"})
    assert str(refused.value).startswith("SLACK_REDIRECT_URI is for OAuth mode only: set SLACK_CLIENT_ID and")
