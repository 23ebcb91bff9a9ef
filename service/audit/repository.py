from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from service.db.tables import AuditEntry


def add(session: Session, entry: AuditEntry) -> AuditEntry:
    session.add(entry)
    session.flush()
    return entry


def between(session: Session, start: datetime | None, end: datetime | None, action: str | None,
            after_id: int, limit: int | None) -> list[AuditEntry]:
    query = select(AuditEntry).where(AuditEntry.id > after_id).order_by(AuditEntry.id)
    if start is not None:
        query = query.where(AuditEntry.at >= start)
    if end is not None:
        query = query.where(AuditEntry.at < end)
    if action:
        family = action.endswith(".")
        query = query.where(AuditEntry.action.startswith(action, autoescape=True) if family
                            else AuditEntry.action == action)
    return list(session.scalars(query.limit(limit)))


def latest(session: Session, action: str) -> AuditEntry | None:
    query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id.desc()).limit(1)
    return session.scalars(query).first()


def prune(session: Session, cutoff: datetime) -> int:
    return session.execute(delete(AuditEntry).where(AuditEntry.at < cutoff)).rowcount
