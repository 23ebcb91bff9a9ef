"""Scratch databases for the benchmarks: a migrated SQLite file in a temporary folder, or a
fresh PostgreSQL database on the local server, created for the run and dropped after it."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

POSTGRES_ADMIN_URL = os.environ.get("HAPPINESS_BENCH_POSTGRES_URL",
                                    "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@contextmanager
def scratch(kind: str) -> Iterator[str | None]:
    """A migrated, empty database URL of `kind` (sqlite or postgres); None when no PostgreSQL
    server answers."""
    from service.db.migrate import upgrade

    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{folder}/bench.db"
            upgrade(url)
            yield url
        return
    with _postgres_database() as url:
        if url is not None:
            upgrade(url)
        yield url


@contextmanager
def _postgres_database() -> Iterator[str | None]:
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    name = f"happiness_bench_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception:  # any failure means no usable server: the benchmark says so and goes on
        admin.dispose()
        yield None
        return
    try:
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
