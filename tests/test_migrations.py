"""Migrations: repeatable, they carry existing data forward, and they match the models exactly."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import text
from sqlmodel import SQLModel

from storage.db import alembic_config, current_revision, head_revision, make_engine, upgrade
from storage.models import slack_sdk_tables
from storage.store import Store


def test_upgrade_twice_is_a_no_op_and_reaches_head(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    head = current_revision(engine)
    upgrade(engine)
    assert current_revision(engine) == head is not None
    engine.dispose()


def test_replicas_upgrading_a_new_database_at_once_all_reach_head(database_url: str, tmp_path: Path) -> None:
    # Processes, not threads: that is how replicas start (and Alembic's context is one per process).
    env = {**os.environ, "DATABASE_URL": database_url, "SLACK_BOT_TOKEN": "xoxb-t", "SLACK_SIGNING_SECRET": "s"}
    upgrades = [
        subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "db", "upgrade"], env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    errors = [process.communicate(timeout=120)[1] for process in upgrades]
    assert [process.returncode for process in upgrades] == [0, 0, 0], errors
    engine = make_engine(database_url)
    assert current_revision(engine) == ScriptDirectory.from_config(alembic_config()).get_current_head()
    engine.dispose()


def test_head_revision_read_without_alembic_is_alembics_head() -> None:
    # `serve` skips Alembic when the database is at head_revision(): it must be exactly the head Alembic sees.
    assert head_revision() == ScriptDirectory.from_config(alembic_config()).get_current_head() is not None


def test_models_and_migrations_agree(database_url: str) -> None:
    slack_sdk_tables()  # slack-sdk's OAuth tables, which models.py registers on first use
    engine = make_engine(database_url)
    upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), SQLModel.metadata)
    engine.dispose()
    assert diff == [], f"models changed without a migration: {diff}"


def test_migrations_create_the_tables_slack_sdks_oauth_stores_use(database_url: str) -> None:
    """OAuth install: the migrated tables match slack-sdk's own definitions, and its stores work on them."""
    engine = make_engine(database_url)
    upgrade(engine)
    installations = SQLAlchemyInstallationStore(client_id="111.222", engine=engine)
    states = SQLAlchemyOAuthStateStore(expiration_seconds=600, engine=engine)
    with engine.connect() as conn:
        for metadata in (installations.metadata, states.metadata):
            ours = set(metadata.tables)
            context = MigrationContext.configure(
                conn,
                opts={
                    "compare_type": True,
                    "include_name": lambda name, kind, parent, ours=ours: kind != "table" or name in ours,
                },
            )
            assert compare_metadata(context, metadata) == []
    state = states.issue()
    assert states.consume(state) is True
    assert states.consume(state) is False  # a state is good once
    engine.dispose()


def test_existing_rows_survive_later_migrations(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine, "0001")
    now = datetime(2026, 1, 5, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO workspace (team_id, created_at) VALUES ('T1', :now)"), {"now": now})
        conn.execute(
            text(
                "INSERT INTO customer (team_id, name, name_key, created_at, updated_at)"
                " VALUES ('T1', 'Acme', 'acme', :now, :now)"
            ),
            {"now": now},
        )
    upgrade(engine)
    (customer,) = Store(engine).customers(team_id="T1")
    assert customer.name == "Acme" and customer.post_checkins is True
    engine.dispose()


BEFORE_APOSTROPHES = "0008_checkin_next_step_escaped"


def test_name_keys_fold_apostrophes_and_customers_that_now_share_one_are_all_kept(database_url: str) -> None:
    """0009: Macy's and Macy’s share a key now. Customers that collide are renamed "(2)", "(3)"… — never merged or
    dropped — the live one keeping the name, then the oldest; their check-ins stay theirs; downgrade and upgrade again
    change nothing more."""
    engine = make_engine(database_url)
    upgrade(engine, BEFORE_APOSTROPHES)
    now = datetime(2026, 1, 5, tzinfo=UTC)
    long_name = "L" * 77 + "’s"  # 79 characters: "(2)" must shorten it to stay within 80
    customers = [  # id, team, name, name_key as the old rule stored it, archived
        (1, "T1", "Macy's", "macy's", True),
        (2, "T1", "Macy’s", "macy’s", False),
        (3, "T1", "MACYʼS", "macyʼs", False),
        (4, "T1", "Macy's (2)", "macy's (2)", False),  # a name a renamed one must not take
        (5, "T1", "Jones` Bakery", "jones` bakery", False),
        (6, "T2", "Macy’s", "macy’s", False),  # another workspace's customer is no collision
        (7, "T1", long_name, long_name.lower(), False),
        (8, "T1", "L" * 77 + "'s", ("L" * 77 + "'s").lower(), False),
    ]
    with engine.begin() as conn:
        for team in ("T1", "T2"):
            conn.execute(
                text("INSERT INTO workspace (team_id, created_at) VALUES (:team, :now)"), {"team": team, "now": now}
            )
        for customer_id, team, name, key, archived in customers:
            conn.execute(
                text(
                    "INSERT INTO customer (id, team_id, name, name_key, created_at, updated_at, archived_at)"
                    " VALUES (:id, :team, :name, :key, :now, :now, :archived)"
                ),
                {
                    "id": customer_id,
                    "team": team,
                    "name": name,
                    "key": key,
                    "now": now,
                    "archived": now if archived else None,
                },
            )
        for customer_id in (1, 2, 3):
            conn.execute(
                text(
                    "INSERT INTO checkin (team_id, customer_id, author_id, mood, note, kind, created_at)"
                    " VALUES (:team, :id, 'U1', 'green', :note, 'call', :now)"
                ),
                {"team": "T1", "id": customer_id, "note": f"about customer {customer_id}", "now": now},
            )
    upgrade(engine)
    store = Store(engine)

    def names() -> dict[int, tuple[str, str]]:
        # Plain SQL: after the downgrade below, the table lacks columns later migrations add to the model.
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, name, name_key FROM customer WHERE team_id IN ('T1', 'T2')"))
            return {row.id: (row.name, row.name_key) for row in rows}

    folded = {
        1: ("Macy's (4)", "macy's (4)"),  # archived: the live ones keep or number their names first
        2: ("Macy’s", "macy's"),
        3: ("MACYʼS (3)", "macy's (3)"),  # "(2)" is customer 4's name
        4: ("Macy's (2)", "macy's (2)"),
        5: ("Jones` Bakery", "jones' bakery"),
        6: ("Macy’s", "macy's"),
        7: (long_name, long_name.lower().replace("’", "'")),
        8: ("L" * 76 + " (2)", "l" * 76 + " (2)"),
    }
    assert names() == folded
    assert {c.customer_id: c.note for c in store.checkins(team_id="T1")} == {
        i: f"about customer {i}" for i in (1, 2, 3)
    }
    (renamed,) = [e for e in store.customer_events(team_id="T1", customer_id=3) if e.kind == "renamed"]
    assert renamed.detail == {"name": ["MACYʼS", "MACYʼS (3)"]} and renamed.actor_id is None
    assert store.customer_by_name(team_id="T1", name="macy's").id == 2  # type: ignore[union-attr]

    from alembic import command

    command.downgrade(alembic_config(engine), BEFORE_APOSTROPHES)
    assert names()[2] == ("Macy’s", "macy’s") and names()[1] == ("Macy's (4)", "macy's (4)")
    upgrade(engine)
    assert names() == folded
    engine.dispose()


EARLIER_HEADS = [
    script.revision
    for script in reversed(list(ScriptDirectory.from_config(alembic_config()).walk_revisions()))
    if script.revision != head_revision()
]


@pytest.mark.parametrize("earlier", EARLIER_HEADS[1:])  # 0001 is test_existing_rows_survive_later_migrations'
def test_a_database_left_at_any_earlier_head_upgrades_to_head_with_its_rows(database_url: str, earlier: str) -> None:
    """An install upgraded by any earlier Partner (each revision was once the latest) reaches the exact schema of
    the models, its workspace, customer and check-in kept."""
    slack_sdk_tables()
    engine = make_engine(database_url)
    upgrade(engine, earlier)
    now = datetime(2026, 1, 5, tzinfo=UTC)
    with engine.begin() as conn:  # rows in the columns every revision has (0001's)
        conn.execute(text("INSERT INTO workspace (team_id, created_at) VALUES ('T1', :now)"), {"now": now})
        conn.execute(
            text(
                "INSERT INTO customer (team_id, name, name_key, created_at, updated_at)"
                " VALUES ('T1', 'Acme', 'acme', :now, :now)"
            ),
            {"now": now},
        )
        conn.execute(
            text(
                "INSERT INTO checkin (team_id, customer_id, author_id, mood, note, kind, created_at)"
                " SELECT 'T1', id, 'U1', 'green', 'kickoff', 'call', :now FROM customer"
            ),
            {"now": now},
        )
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), SQLModel.metadata)
    assert diff == [], f"{earlier} → head differs from the models: {diff}"
    (customer,) = Store(engine).customers(team_id="T1")
    assert customer.name == "Acme" and customer.channel_shared is False
    assert [c.note for c in Store(engine).checkins(team_id="T1", customer_id=customer.id or 0)] == ["kickoff"]
    engine.dispose()
