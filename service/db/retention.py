"""Retention: count buckets and frame receipts older than the window are deleted, and the daily
rollup follows in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from service.db import rollup
from service.db.tables import BucketCount, FrameReceipt, utc_now


@dataclass(frozen=True)
class Pruned:
    cutoff: datetime
    buckets: int
    receipts: int
    days: int = 0  # daily rollup rows deleted (the day the cutoff cuts is recomputed, not counted)


def retention_cutoff(retention_days: int, now: datetime | None = None) -> datetime:
    return (now or utc_now()) - timedelta(days=retention_days)


def prune(session: Session, cutoff: datetime) -> Pruned:
    """Delete buckets that start before `cutoff` and receipts received before it. A receipt
    older than the window can go: a frame captured that long ago is refused anyway."""
    buckets = session.execute(delete(BucketCount).where(BucketCount.bucket_start < cutoff)).rowcount
    days = rollup.prune_days(session, cutoff)
    receipts = session.execute(delete(FrameReceipt).where(FrameReceipt.received_at < cutoff)).rowcount
    return Pruned(cutoff, buckets, receipts, days)
