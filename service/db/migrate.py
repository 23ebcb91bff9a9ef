"""Alembic from code: upgrade to head, and the start-up check that refuses an unmigrated database."""

from __future__ import annotations

from functools import lru_cache

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from service.config import REPO_ROOT
from service.db.engine import read_only


class DatabaseNotMigrated(RuntimeError):
    pass


def alembic_config(database_url: str) -> Config:
    config = Config(str(REPO_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(REPO_ROOT / "migrations"))
    # ConfigParser interpolation would choke on '%' in passwords
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.attributes["skip_logging_setup"] = True  # keep the service's own logging
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


@lru_cache(maxsize=4)
def head_revision(database_url: str) -> str | None:
    """The newest revision in migrations/; cached because /ready asks on every probe and the
    files cannot change under a running process."""
    return ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with read_only(engine).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def ensure_migrated(engine: Engine, database_url: str) -> None:
    current, head = current_revision(engine), head_revision(database_url)
    if current != head:
        raise DatabaseNotMigrated(
            f"the database is at revision {current or 'none'} but this version needs {head}: "
            "run `happiness db upgrade` first"
        )
