"""The prune, run by the server on its own: every worker of every replica looks every
min(interval / 4, 5 minutes) whether the last run began `HAPPINESS_PRUNE_INTERVAL_HOURS` ago,
and the one that claims the lease (service/db/leases.py) runs it in the same transaction, so it
runs once per interval whatever the number of processes. Each run is in the audit log."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from datetime import datetime, timedelta

from fastapi.concurrency import run_in_threadpool

from service.audit import service as audit
from service.security.actors import SYSTEM, Actor
from service.config import Settings
from service.db import leases
from service.retention.pruning import Pruned, prune, retention_cutoff
from service.db.tables import utc_now

log = logging.getLogger(__name__)
PRUNE_JOB = "prune"
MAX_CHECK_SECONDS = 300


def prune_everything(session, settings: Settings, actor: Actor, now: datetime | None = None,
                     retention_days: int | None = None, **detail) -> Pruned:
    """Counts past retention, expired receipts, old pauses and audit entries, in the caller's
    transaction, with an audit entry saying what went (and `detail`)."""
    now = now or utc_now()
    days = retention_days or settings.retention_days
    pruned = prune(session, retention_cutoff(days, now), now, now - timedelta(days=settings.audit_retention_days))
    audit.record(session, actor, "data.prune", None, started_at=now, retention_days=days, cutoff=pruned.cutoff,
                 buckets=pruned.buckets, days=pruned.days, receipts=pruned.receipts, pauses=pruned.pauses,
                 audit_entries=pruned.audit_entries, **detail)
    return pruned


def run_if_due(session_factory, settings: Settings, holder: str, now: datetime | None = None) -> Pruned | None:
    """Run the prune when no process has in the last interval; None when it was not due."""
    now = now or utc_now()
    interval = timedelta(hours=settings.prune_interval_hours)
    with session_factory.begin() as session:
        if not leases.claim(session, PRUNE_JOB, holder, now, interval):
            return None
        pruned = prune_everything(session, settings, SYSTEM, now, holder=holder)
    log.info("prune by %s: %d bucket rows, %d days, %d receipts, %d pauses, %d audit entries", holder,
             pruned.buckets, pruned.days, pruned.receipts, pruned.pauses, pruned.audit_entries)
    return pruned


def check_seconds(settings: Settings) -> float:
    return min(settings.prune_interval_hours * 3600 / 4, MAX_CHECK_SECONDS)


def start_background_prune(session_factory, settings: Settings) -> asyncio.Task | None:
    """The loop of one worker process; None when HAPPINESS_PRUNE_INTERVAL_HOURS is 0. It first
    looks one check period after start, so a restart never prunes in the middle of start-up."""
    if settings.prune_interval_hours <= 0:
        return None
    holder = f"{socket.gethostname()}:{os.getpid()}"

    async def loop() -> None:
        while True:
            await asyncio.sleep(check_seconds(settings))
            try:
                await run_in_threadpool(run_if_due, session_factory, settings, holder)
            except Exception:  # a failed run (database away) must not end the loop
                log.exception("prune failed; the next check is in %.0f s", check_seconds(settings))

    return asyncio.create_task(loop())
