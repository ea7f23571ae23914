"""``parktwin migrate``: Alembic upgrade to head, with the migrations shipped in the package."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine

import migrations
from app.core.db import sync_url


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    config.set_main_option("sqlalchemy.url", sync_url(database_url).replace("%", "%%"))
    return config


def current_revision(database_url: str) -> str | None:
    engine = create_engine(sync_url(database_url), hide_parameters=True)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def upgrade_to_head(database_url: str) -> tuple[str | None, str | None]:
    """Upgrade; return the revision before and after (equal when there was nothing to do)."""
    before = current_revision(database_url)
    command.upgrade(alembic_config(database_url), "head")
    return before, current_revision(database_url)
