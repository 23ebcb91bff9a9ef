"""The agent's durable queue: batches of counts wait in a small SQLite file on the agent's disk
until the server confirms them, so neither a server outage nor a killed agent loses them.

A batch is written (and synced) before the agent tries to send it, and marked confirmed only
after the server answered 201 or 200; a batch whose confirmation was lost is sent again after a
restart with the same batch_id, and the server counts it once. Rows hold the JSON body the
server receives: counts and times, never an image, a box or an embedding. Confirmed and
rejected rows are kept for KEEP_DONE_DAYS (what was sent, for an operator), then deleted."""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

KEEP_DONE_DAYS = 7

SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    batch_id TEXT PRIMARY KEY,
    target TEXT NOT NULL,             -- server URL and location the batch belongs to
    body TEXT NOT NULL,               -- the JSON the server receives: counts only
    created_at REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'confirmed', 'rejected')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    last_error TEXT,
    done_at REAL
);
CREATE INDEX IF NOT EXISTS batches_due ON batches (state, target, next_attempt_at);
"""


@dataclass(frozen=True)
class Batch:
    batch_id: str
    body: dict
    attempts: int


@dataclass(frozen=True)
class QueueCounts:
    pending: int
    confirmed: int
    rejected: int


class DurableQueue:
    """One connection to the queue file; open one per thread (SQLite serialises the writers)."""

    def __init__(self, path: Path, target: str, clock=time.time) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.target, self.clock = target, clock
        self.connection = sqlite3.connect(path, timeout=30, isolation_level=None)
        self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.execute("PRAGMA synchronous=FULL")  # a confirmed write survives power loss
        self.connection.executescript(SCHEMA)

    def close(self) -> None:
        self.connection.close()

    def add(self, batch_id: str, body: dict) -> None:
        self.connection.execute(
            "INSERT INTO batches (batch_id, target, body, created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?)",
            (batch_id, self.target, json.dumps(body, separators=(",", ":")), self.clock(), self.clock()))

    def due(self, limit: int = 10) -> list[Batch]:
        """Pending batches of this target whose next attempt is due, oldest first."""
        rows = self.connection.execute(
            "SELECT batch_id, body, attempts FROM batches WHERE state = 'pending' AND target = ? "
            "AND next_attempt_at <= ? ORDER BY created_at, batch_id LIMIT ?", (self.target, self.clock(), limit))
        return [Batch(batch_id, json.loads(body), attempts) for batch_id, body, attempts in rows]

    def next_due_at(self) -> float | None:
        """When the earliest pending batch of this target may be sent; None when none waits."""
        return self.connection.execute("SELECT MIN(next_attempt_at) FROM batches WHERE state = 'pending' "
                                       "AND target = ?", (self.target,)).fetchone()[0]

    def confirm(self, batch_id: str) -> None:
        self._finish(batch_id, "confirmed", None)

    def reject(self, batch_id: str, error: str) -> None:
        """The server refused the batch for good (e.g. 422): kept for the operator, not sent again."""
        self._finish(batch_id, "rejected", error)

    def retry_at(self, batch_id: str, when: float, error: str) -> None:
        self.connection.execute("UPDATE batches SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? "
                                "WHERE batch_id = ?", (when, error[:500], batch_id))

    def _finish(self, batch_id: str, state: str, error: str | None) -> None:
        self.connection.execute("UPDATE batches SET state = ?, last_error = ?, done_at = ?, attempts = attempts + 1 "
                                "WHERE batch_id = ?", (state, error, self.clock(), batch_id))

    def counts(self) -> QueueCounts:
        rows = dict(self.connection.execute("SELECT state, COUNT(*) FROM batches WHERE target = ? GROUP BY state",
                                            (self.target,)).fetchall())
        return QueueCounts(rows.get("pending", 0), rows.get("confirmed", 0), rows.get("rejected", 0))

    def other_targets_pending(self) -> int:
        """Pending batches of other servers or locations (a queue file reused elsewhere): never
        sent from here, but worth a warning."""
        return self.connection.execute("SELECT COUNT(*) FROM batches WHERE state = 'pending' AND target != ?",
                                       (self.target,)).fetchone()[0]

    def prune(self) -> int:
        """Delete confirmed and rejected batches older than KEEP_DONE_DAYS."""
        cutoff = self.clock() - KEEP_DONE_DAYS * 86400
        return self.connection.execute("DELETE FROM batches WHERE state != 'pending' AND done_at < ?",
                                       (cutoff,)).rowcount
