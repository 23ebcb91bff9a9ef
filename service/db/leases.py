"""Named rows in maintenance_leases that workers and replicas on one database use to take turns:
`claim` lets one of them run a periodic job once per interval, `hold` serialises a short
check-then-write (SQLite runs one writer at a time anyway; on PostgreSQL the row lock does it)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from service.db.tables import MaintenanceLease
from service.db.upserts import dialect_insert


def _ensure_row(session: Session, name: str) -> None:
    insert = dialect_insert(session.get_bind().dialect.name, MaintenanceLease.__table__)
    session.execute(insert.values(name=name, runs=0).on_conflict_do_nothing(index_elements=["name"]))


def claim(session: Session, name: str, holder: str, now: datetime, interval: timedelta) -> bool:
    """Take the job `name` for this transaction when its last run started `interval` or more
    ago. A concurrent claimer waits on the row until this transaction ends, then finds the
    new start and gets False."""
    _ensure_row(session, name)
    lease = MaintenanceLease.__table__
    claimed = session.execute(
        update(lease).where(lease.c.name == name,
                            or_(lease.c.started_at.is_(None), lease.c.started_at <= now - interval))
        .values(started_at=now, holder=holder, runs=lease.c.runs + 1))
    return claimed.rowcount == 1


def hold(session: Session, name: str) -> None:
    """Lock the row `name` until the transaction ends (FOR UPDATE on PostgreSQL)."""
    _ensure_row(session, name)
    session.execute(select(MaintenanceLease.name).where(MaintenanceLease.name == name).with_for_update())


def runs(session: Session, name: str) -> int:
    return session.scalar(select(MaintenanceLease.runs).where(MaintenanceLease.name == name)) or 0
