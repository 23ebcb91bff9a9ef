"""One transaction on the configured database for a command-line action (`happiness locations`,
`cameras`, `pause`, `audit`, `calibrate`): every CLI opens its sessions here, never through the
top-level CLI module, so that a domain's commands import db, not the CLI that mounts them."""

from __future__ import annotations

from service.config import Settings


def session_scope(read_only: bool = False, settings: Settings | None = None):
    """A context manager over one transaction (committed on success, rolled back on error) on a
    migrated database; a read-only one never takes SQLite's write lock, so listing beside a
    running server does not stall its ingestion."""
    from service.db.engine import make_engine, make_read_session_factory, make_session_factory
    from service.db.migrate import ensure_migrated

    settings = settings or Settings()
    engine = make_engine(settings.resolved_database_url)
    ensure_migrated(engine, settings.resolved_database_url)
    factory = make_read_session_factory if read_only else make_session_factory
    return factory(engine).begin()
