"""The prune the server runs on its own: once per interval whatever the number of processes (a
lease row claimed in the prune's own transaction), on SQLite and PostgreSQL, and in two real
`happiness serve` processes sharing one database, without errors."""

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from responsible_helpers import audit_entries, sessions
from service.db import leases
from service.retention.maintenance import PRUNE_JOB, run_if_due
from service.db.tables import AuditEntry, BucketCount, FrameReceipt
from service.frames.repository import add_counts, claim_frame
from support import add_location_with_camera, free_port, make_settings, serve_process, wait_until_ready

INTERVAL_HOURS = 3 / 3600  # three seconds


def seed_expired_data(database_url: str) -> None:
    """Counts past the 365-day retention, an expired receipt, an audit entry past 183 days."""
    now = datetime.now(UTC)
    with sessions(database_url).begin() as session:
        location_id, camera_id = add_location_with_camera(session)
        add_counts(session, location_id, camera_id, now - timedelta(days=400), {"frames": 1, "faces": 1})
        add_counts(session, location_id, camera_id, now - timedelta(days=1), {"frames": 1, "faces": 1})
        claim_frame(session, camera_id, "gone", now - timedelta(hours=49), now - timedelta(hours=1))
        claim_frame(session, camera_id, "kept", now, now + timedelta(hours=48))
        session.add(AuditEntry(at=now - timedelta(days=200), actor="cli", action="old.action", target=None,
                               detail={}, request_id=None))


def remaining(database_url: str) -> dict[str, int]:
    with sessions(database_url)() as session:
        return {"buckets": session.query(BucketCount).count(), "receipts": session.query(FrameReceipt).count(),
                "old_audit": session.query(AuditEntry).filter(AuditEntry.action == "old.action").count()}


def test_one_of_many_concurrent_claimers_runs_the_prune_once_per_interval(database_url, tmp_path):
    seed_expired_data(database_url)
    settings = make_settings(database_url, tmp_path, prune_interval_hours=1)
    factory, now = sessions(database_url), datetime.now(UTC)
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda n: run_if_due(factory, settings, f"worker-{n}", now), range(6)))
    assert sum(result is not None for result in results) == 1
    assert remaining(database_url) == {"buckets": 1, "receipts": 1, "old_audit": 0}
    assert run_if_due(factory, settings, "late", now + timedelta(minutes=59)) is None  # within the hour
    assert run_if_due(factory, settings, "next", now + timedelta(hours=1)) is not None
    with factory() as session:
        assert leases.runs(session, PRUNE_JOB) == 2
    runs = audit_entries(database_url, "data.prune")
    assert [(e.actor, e.detail["receipts"], e.detail["buckets"]) for e in runs] == [("system", 1, 1), ("system", 0, 0)]


@pytest.mark.slow
def test_two_servers_prune_on_their_own_once_per_interval(database_url, tmp_path):
    seed_expired_data(database_url)
    ports = [free_port(), free_port()]
    servers = [serve_process(database_url, port, tmp_path, HAPPINESS_LOG_LEVEL="info",
                             HAPPINESS_PRUNE_INTERVAL_HOURS=str(INTERVAL_HOURS)) for port in ports]
    try:
        for port, server in zip(ports, servers):
            wait_until_ready(f"http://127.0.0.1:{port}", server)
        deadline = time.monotonic() + 90
        while len(audit_entries(database_url, "data.prune")) < 4 and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        for server in servers:
            server.terminate()
        logs = [server.communicate(timeout=30)[1].decode() for server in servers]
    runs = audit_entries(database_url, "data.prune")
    starts = [datetime.fromisoformat(run.detail["started_at"]) for run in runs]
    print(f"background prune: {len(runs)} runs by {sorted({r.detail.get('holder', r.actor) for r in runs})}, "
          f"gaps {[round((b - a).total_seconds(), 2) for a, b in zip(starts, starts[1:])]} s")
    assert len(runs) >= 4, logs
    assert all(later - earlier >= timedelta(hours=INTERVAL_HOURS) for earlier, later in zip(starts, starts[1:]))
    assert remaining(database_url) == {"buckets": 1, "receipts": 1, "old_audit": 0}
    assert sum(log.count("prune by") for log in logs) == len(runs)  # every run logged by the server that ran it
    assert not any("Traceback" in log or "prune failed" in log for log in logs), logs
