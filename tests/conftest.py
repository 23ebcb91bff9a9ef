"""Shared fixtures: a migrated database per backend (SQLite always, PostgreSQL when a server
answers), a client on an app with a scripted pipeline, and helpers to create locations and
cameras. Database tests run on both backends through the `database_url` parameter."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from service.db.migrate import upgrade
from support import ScriptedPipeline, empty_database, make_settings

POSTGRES_ADMIN_URL = os.environ.get(
    "HAPPINESS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


# --- databases -------------------------------------------------------------------------------

def _postgres_reachable() -> str | None:
    try:
        engine = create_engine(POSTGRES_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return None
    except Exception as error:  # any failure means: no usable server here
        return f"{error.__class__.__name__}: {str(error).splitlines()[0][:120]}"


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    problem = _postgres_reachable()
    if problem:
        if os.environ.get("HAPPINESS_TEST_REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL required but unreachable at {POSTGRES_ADMIN_URL}: {problem}")
        pytest.skip(f"no PostgreSQL server at {POSTGRES_ADMIN_URL} ({problem}); "
                    "set HAPPINESS_TEST_POSTGRES_URL to run these tests")
    name = f"happiness_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_database(tmp_path_factory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'happiness.db'}"


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def migrated_url(request) -> str:
    url = request.getfixturevalue(f"{request.param}_database")
    upgrade(url)
    return url


@pytest.fixture
def database_url(migrated_url) -> Iterator[str]:
    """A migrated database, emptied after each test."""
    yield migrated_url
    empty_database(migrated_url)


# --- app and client ----------------------------------------------------------------------------

@pytest.fixture
def pipeline() -> ScriptedPipeline:
    return ScriptedPipeline()


@pytest.fixture
def settings(database_url, tmp_path) -> Settings:
    return make_settings(database_url, tmp_path)


@pytest.fixture
def client(settings, pipeline):
    from fastapi.testclient import TestClient

    from service.main import create_app

    with TestClient(create_app(settings, pipeline=pipeline)) as test_client:
        yield test_client


