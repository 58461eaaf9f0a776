"""Migrations: repeatable, they carry existing data forward, and they match the models exactly."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

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
