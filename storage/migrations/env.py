"""Alembic environment: the engine comes from the caller (settings), the target is SQLModel.metadata."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from storage import models  # registers Partner's tables on SQLModel.metadata
from storage.db import make_engine

models.slack_sdk_tables()  # and slack-sdk's OAuth tables, which models.py builds only when asked
config = context.config
target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        from bot.settings import Settings

        engine = make_engine(Settings.from_env().database_url)
    with engine.begin() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        context.run_migrations()


run_migrations_online()
