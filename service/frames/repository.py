"""Writes of one frame: the receipt (for deduplication) and the count upsert. Both are single
INSERT ... ON CONFLICT statements, so concurrent workers and replicas never lose an update."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from service.db.tables import BucketCount, FrameReceipt

COUNT_COLUMNS = ("frames", "faces", "happy", "not_happy", "angry", "disgust", "fear", "neutral",
                 "sad", "surprise")


def _insert(session: Session, table):
    dialect = session.get_bind().dialect.name
    return (postgresql if dialect == "postgresql" else sqlite).insert(table)


def claim_frame(session: Session, camera_id: int, frame_id: str, received_at: datetime,
                result: dict) -> bool:
    """Record a frame_id for a camera; False when it was recorded before (by anyone)."""
    statement = (
        _insert(session, FrameReceipt)
        .values(camera_id=camera_id, frame_id=frame_id, received_at=received_at, result=result)
        .on_conflict_do_nothing(index_elements=["camera_id", "frame_id"])
        .returning(FrameReceipt.frame_id)
    )
    return session.execute(statement).first() is not None


def get_receipt(session: Session, camera_id: int, frame_id: str) -> FrameReceipt | None:
    query = select(FrameReceipt).where(FrameReceipt.camera_id == camera_id,
                                       FrameReceipt.frame_id == frame_id)
    return session.scalars(query).first()


def add_counts(session: Session, location_id: int, camera_id: int, bucket_start: datetime,
               counts: dict[str, int]) -> None:
    """Add `counts` to the bucket row in one statement: insert it, or add to it if present."""
    values = {column: counts.get(column, 0) for column in COUNT_COLUMNS}
    statement = _insert(session, BucketCount).values(
        location_id=location_id, camera_id=camera_id, bucket_start=bucket_start, **values
    )
    table = BucketCount.__table__
    increments = {column: table.c[column] + statement.excluded[column] for column in COUNT_COLUMNS}
    statement = statement.on_conflict_do_update(
        index_elements=["location_id", "bucket_start", "camera_id"], set_=increments
    )
    session.execute(statement)
