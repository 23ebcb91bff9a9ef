"""Retention: count buckets older than the window are deleted, the daily rollup follows in the
same transaction, and so do the pause intervals that explained gaps there; the receipts of
frames and observation batches go when their dedup window has passed, audit entries after the
audit retention."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from service.audit import repository as audit_log
from service.db import rollup
from service.db.tables import BucketCount, FrameReceipt, ObservationReceipt, utc_now
from service.pauses import repository as pauses


@dataclass(frozen=True)
class Pruned:
    cutoff: datetime
    buckets: int
    receipts: int
    days: int = 0  # daily rollup rows deleted (the day the cutoff cuts is recomputed, not counted)
    batch_receipts: int = 0  # receipts of observation batches
    pauses: int = 0
    audit_entries: int = 0


def retention_cutoff(retention_days: int, now: datetime | None = None) -> datetime:
    return (now or utc_now()) - timedelta(days=retention_days)


def prune(session: Session, cutoff: datetime, now: datetime | None = None,
          audit_cutoff: datetime | None = None) -> Pruned:
    """Delete buckets that start before `cutoff` (and their days, and pauses that ended before
    it), receipts expired by `now`, and, given `audit_cutoff`, audit entries older than it."""
    now = now or utc_now()
    buckets = session.execute(delete(BucketCount).where(BucketCount.bucket_start < cutoff)).rowcount
    days = rollup.prune_days(session, cutoff)
    receipts, batch_receipts = (session.execute(delete(table).where(table.expires_at <= now)).rowcount
                                for table in (FrameReceipt, ObservationReceipt))
    old_entries = audit_log.prune(session, audit_cutoff) if audit_cutoff is not None else 0
    return Pruned(cutoff, buckets, receipts, days, batch_receipts, pauses.prune(session, cutoff), old_entries)
