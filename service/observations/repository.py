"""The receipt of an observation batch: claimed with INSERT ... ON CONFLICT in the transaction
that adds the batch's counts, so a batch is counted exactly once even when two copies arrive at
two workers at the same moment (the second waits for the first to commit, then finds its row).
A receipt past its expiry is taken over as if it were absent."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.db.tables import ObservationReceipt
from service.db.upserts import dialect_insert


def claim_batch(session: Session, camera_id: int, batch_id: str, received_at: datetime, expires_at: datetime,
                result: dict) -> bool:
    """Record a batch_id for a camera until `expires_at`; False when it is recorded and live."""
    table = ObservationReceipt.__table__
    statement = dialect_insert(session.get_bind().dialect.name, table).values(
        camera_id=camera_id, batch_id=batch_id, received_at=received_at, expires_at=expires_at, result=result)
    statement = statement.on_conflict_do_update(
        index_elements=["camera_id", "batch_id"],
        set_={column: statement.excluded[column] for column in ("received_at", "expires_at", "result")},
        where=table.c.expires_at <= statement.excluded.received_at,
    ).returning(table.c.batch_id)
    return session.execute(statement).first() is not None


def live_receipt(session: Session, camera_id: int, batch_id: str, now: datetime) -> ObservationReceipt | None:
    """The camera's receipt of this batch_id unless it expired by `now`."""
    query = select(ObservationReceipt).where(ObservationReceipt.camera_id == camera_id,
                                             ObservationReceipt.batch_id == batch_id,
                                             ObservationReceipt.expires_at > now)
    return session.scalars(query).first()
