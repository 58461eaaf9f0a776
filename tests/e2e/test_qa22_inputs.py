"""Session 22's small input findings, end to end: signed requests through the real app, the real jobs ticked at chosen
instants against the fake Slack, and the real `partner-bot` started as an operator starts it.

- Names in the tz database's folder that are no real zone were taken for a customer's `tz=` (command and forms) and
  for PARTNER_DEFAULT_TZ: `localtime` (the host's own zone: two machines disagree), `posixrules`, `Factory`, and the
  copies under `posix/` and `right/` (`right/Europe/Berlin` counts leap seconds: every nudge ≈ 27 s early). They are
  refused as other unknown zones are, naming the zone meant where there is one; a customer stored with one (from an
  older version) still works.
- `PARTNER_HEALTH_WEIGHTS=mood=1e308,recency=1e308` started, and every customer scored 0: the weights' sum overflows.
- A zero-width space or word joiner pasted into an option's value (`until=2026-12-18` + U+200B) was refused quoting a
  date that looks right. Invisible characters leave option values as they leave names; a note keeps them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.settings import Settings
from storage.store import Store
from tests.e2e.test_cadence import acme_channel, add, ephemeral, nudges, tick, unpaced  # noqa: F401
from tests.e2e.test_cli import run
from tests.e2e.test_qa19_operator import operator_env  # noqa: F401 (a fixture)
from tests.e2e.test_qa21_modals import customer_form_values, errors_of, last_view, submit
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import TEAM_ID, FakeClock

# Each with the zone it stands for, when there is one to name.
NOT_ZONES = [
    ("localtime", None),
    ("posixrules", None),
    ("Factory", None),
    ("posix/Europe/Berlin", "Europe/Berlin"),
    ("right/Europe/Berlin", "Europe/Berlin"),
    ("RIGHT/europe/berlin", "Europe/Berlin"),
    ("right/UTC", "UTC"),
]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_a_name_in_the_tz_folder_that_is_no_real_zone_is_refused_by_tz_naming_the_zone_meant(
    slack: SlackRequests, store: Store
) -> None:
    add(store, tz="America/New_York")
    for typed, meant in NOT_ZONES:
        answer = ephemeral(slack.command(f"edit acme tz={typed}"))
        assert typed in answer and "Updated" not in answer, answer
        if meant is not None:
            assert f"tz={meant}" in answer, answer
        else:
            assert "use an IANA name like Europe/Berlin" in answer, answer
        answer = ephemeral(slack.command(f"add Initech tz={typed}"))
        assert typed in answer and "Added" not in answer, answer
    (customer,) = store.customers(team_id=TEAM_ID)
    assert customer.tz == "America/New_York"
    # The zone meant is taken.
    assert "`America/New_York` → `Europe/Berlin`" in ephemeral(slack.command("edit acme tz=Europe/Berlin"))


def test_the_customer_forms_refuse_a_name_that_is_no_real_zone_at_the_time_zone_field(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    assert slack.command("add").status == 200
    form = last_view(fake_slack)
    for typed, _ in NOT_ZONES[:1] + NOT_ZONES[4:5]:
        shown = errors_of(submit(slack, form, customer_form_values(form, name="Initech", tz=typed)))
        assert list(shown) == ["tz"] and typed in shown["tz"], shown
    assert store.customers(team_id=TEAM_ID) == []


@pytest.mark.parametrize("stored", ["right/Europe/Berlin", "localtime"])
def test_a_customer_stored_with_such_a_zone_by_an_older_version_still_works_and_can_be_put_right(
    slack: SlackRequests, store: Store, settings: Settings, fake_slack: FakeSlack, clock: FakeClock, stored: str
) -> None:
    add(store, tz=stored, cadence="daily 09:00")
    assert "Acme" in ephemeral(slack.command("show acme"))
    answer = ephemeral(slack.command("edit acme cadence=weekly tue 09:00"))  # the zone untouched is not refused
    assert "cadence" in answer and stored not in answer.replace(f"({stored})", ""), answer
    tick(store, settings, at("2026-12-01T12:00"))  # Tuesday: 09:00 has passed on either clock
    assert len(nudges(fake_slack)) == 1
    assert "`Europe/Berlin`" in ephemeral(slack.command("edit acme tz=Europe/Berlin"))
    (customer,) = store.customers(team_id=TEAM_ID)
    assert customer.tz == "Europe/Berlin"


@pytest.mark.parametrize("scratch_database", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("PARTNER_DEFAULT_TZ", "right/Europe/Berlin", "PARTNER_DEFAULT_TZ=Europe/Berlin"),
        ("PARTNER_DEFAULT_TZ", "localtime", "PARTNER_DEFAULT_TZ 'localtime' is not a known time zone"),
        (
            "PARTNER_HEALTH_WEIGHTS",
            "mood=1e308,recency=1e308",
            "PARTNER_HEALTH_WEIGHTS: weight recency must be a number from 0 to 1000",
        ),
    ],
)
def test_a_setting_no_real_zone_or_a_weight_that_overflows_the_score_is_refused_at_start(
    operator_env: dict[str, str],  # noqa: F811
    tmp_path: Path,
    name: str,
    value: str,
    says: str,
) -> None:
    operator_env[name] = value
    result = run(["tick"], operator_env, tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("partner-bot: configuration error: "), result.stderr
    assert says in result.stderr and result.stderr.count("\n") == 1, result.stderr


@pytest.mark.parametrize("invisible", ["\u200b", "\u2060", "\ufeff"])
def test_an_invisible_character_pasted_into_an_option_value_is_read_as_the_value_it_shows(
    slack: SlackRequests, store: Store, clock: FakeClock, invisible: str
) -> None:
    add(store, tz="America/New_York")
    answer = ephemeral(slack.command(f"launch acme until=2026-12-18{invisible}"))
    assert "Launch mode on for *Acme*" in answer and "Fri 18 Dec 2026" in answer, answer
    answer = ephemeral(slack.command(f"edit acme tz={invisible}Europe/Berlin{invisible}"))
    assert "`America/New_York` → `Europe/Berlin`" in answer, answer
    # A check-in's flag is read; its note keeps what was typed, invisible characters and all.
    note = f"kickoff{invisible} went well"
    answer = ephemeral(slack.command(f"checkin acme green call next=2026-12-14{invisible} {note}"))
    assert "Logged" in answer or "logged" in answer, answer
    (checkin,) = store.checkins(team_id=TEAM_ID)
    assert checkin.note == note
    assert checkin.next_due is not None and checkin.next_due.isoformat() == "2026-12-14"
