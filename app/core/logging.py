"""Logging, configured once per process by the CLI."""

from __future__ import annotations

import logging


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s",
    )
    # Alembic narrates every plugin it loads at INFO.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLogger().level))
