"""Retention: count buckets and the receipts of frames and observation batches older than the
window are deleted, and the daily rollup follows in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from service.db import rollup
from service.db.tables import BucketCount, FrameReceipt, ObservationReceipt, utc_now


@dataclass(frozen=True)
class Pruned:
    cutoff: datetime
    buckets: int
    receipts: int
    days: int = 0  # daily rollup rows deleted (the day the cutoff cuts is recomputed, not counted)
    batch_receipts: int = 0  # receipts of observation batches


def retention_cutoff(retention_days: int, now: datetime | None = None) -> datetime:
    return (now or utc_now()) - timedelta(days=retention_days)


def prune(session: Session, cutoff: datetime) -> Pruned:
    """Delete buckets that start before `cutoff` and receipts received before it. A receipt
    older than the window can go: a frame or observation that old is refused anyway."""
    buckets = session.execute(delete(BucketCount).where(BucketCount.bucket_start < cutoff)).rowcount
    days = rollup.prune_days(session, cutoff)
    receipts, batch_receipts = (session.execute(delete(table).where(table.received_at < cutoff)).rowcount
                                for table in (FrameReceipt, ObservationReceipt))
    return Pruned(cutoff, buckets, receipts, days, batch_receipts)
