"""The receipt of an observation batch: claimed with INSERT ... ON CONFLICT DO NOTHING in the
transaction that adds the batch's counts, so a batch is counted exactly once even when two
copies arrive at two workers at the same moment (the second waits for the first to commit,
then finds its row)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.db.tables import ObservationReceipt
from service.db.upserts import dialect_insert


def claim_batch(session: Session, camera_id: int, batch_id: str, received_at: datetime, result: dict) -> bool:
    """Record a batch_id for a camera; False when it was recorded before."""
    table = ObservationReceipt.__table__
    statement = (dialect_insert(session.get_bind().dialect.name, table)
                 .values(camera_id=camera_id, batch_id=batch_id, received_at=received_at, result=result)
                 .on_conflict_do_nothing(index_elements=["camera_id", "batch_id"])
                 .returning(table.c.batch_id))
    return session.execute(statement).first() is not None


def get_receipt(session: Session, camera_id: int, batch_id: str) -> ObservationReceipt | None:
    query = select(ObservationReceipt).where(ObservationReceipt.camera_id == camera_id,
                                             ObservationReceipt.batch_id == batch_id)
    return session.scalars(query).first()
