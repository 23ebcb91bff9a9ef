"""The agent's durable queue: batches of counts wait in a small SQLite file on the agent's disk
until the server confirms them, so neither a server outage nor a killed agent loses them.

A batch is written (and synced) before the agent tries to send it, and marked confirmed only
after the server answered 201 or 200; a batch whose confirmation was lost is sent again after a
restart with the same batch_id, and the server counts it once. Rows hold the JSON body the
server receives: counts and times, never an image, a box or an embedding. Confirmed and
rejected rows are kept for KEEP_DONE_DAYS (what was sent, for an operator), then deleted.

The file is bounded: at most `max_pending` batches wait (MAX_PENDING_BATCHES by default, more
than a year of one batch per 15-minute bucket, a few tens of MB). A warning is logged each time
the queue fills past another tenth from FILL_WARNING on; when it is full the OLDEST waiting batch
is dropped, loudly: it is the one closest to the server's retention, past which it would be
refused anyway."""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("happiness.agent")

KEEP_DONE_DAYS = 7
MAX_PENDING_BATCHES = 50_000
FILL_WARNING = 0.5  # the first warning at half full, then one per further tenth

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
class Refusal:
    """A batch the server refused for good: its people are not in the index."""

    batch_id: str
    people: int
    error: str


def people_of(body: dict) -> int:
    return sum(int(observation.get("people", 0)) for observation in body.get("observations", []))


@dataclass(frozen=True)
class QueueCounts:
    pending: int
    confirmed: int
    rejected: int


class DurableQueue:
    """One connection to the queue file; open one per thread (SQLite serialises the writers)."""

    def __init__(self, path: Path, target: str, clock=time.time, max_pending: int = MAX_PENDING_BATCHES) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.target, self.clock, self.max_pending = target, clock, max_pending
        self.path = path
        self.connection = sqlite3.connect(path, timeout=30, isolation_level=None)
        self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.execute("PRAGMA synchronous=FULL")  # a confirmed write survives power loss
        self.connection.executescript(SCHEMA)

    def close(self) -> None:
        self.connection.close()

    def add(self, batch_id: str, body: dict) -> None:
        """Queue a batch; when the queue is full, the oldest waiting batch makes room."""
        waiting = self.pending_everywhere()
        if waiting >= self.max_pending:
            self._drop_oldest(waiting - self.max_pending + 1)
        else:
            self._warn_when_filling(waiting + 1)
        self.connection.execute(
            "INSERT INTO batches (batch_id, target, body, created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?)",
            (batch_id, self.target, json.dumps(body, separators=(",", ":")), self.clock(), self.clock()))

    def due(self, limit: int = 10) -> list[Batch]:
        """Pending batches of this target whose next attempt is due, oldest first."""
        rows = self.connection.execute(
            "SELECT batch_id, body, attempts FROM batches WHERE state = 'pending' AND target = ? "
            "AND next_attempt_at <= ? ORDER BY created_at, batch_id LIMIT ?", (self.target, self.clock(), limit))
        return [Batch(batch_id, json.loads(body), attempts) for batch_id, body, attempts in rows]

    def pending_everywhere(self) -> int:
        """Waiting batches of every target: what the file holds for delivery."""
        return self.connection.execute("SELECT COUNT(*) FROM batches WHERE state = 'pending'").fetchone()[0]

    def _warn_when_filling(self, waiting: int) -> None:
        share, before = waiting / self.max_pending, (waiting - 1) / self.max_pending
        if share >= FILL_WARNING and int(share * 10) > int(before * 10):
            log.warning("the queue %s is %d%% full (%d of %d batches wait for the server): when it is full "
                        "the oldest batches are dropped; is the server reachable?", self.path, int(share * 100),
                        waiting, self.max_pending)

    def _drop_oldest(self, how_many: int) -> None:
        rows = self.connection.execute("SELECT batch_id, body FROM batches WHERE state = 'pending' "
                                       "ORDER BY created_at, batch_id LIMIT ?", (how_many,)).fetchall()
        for batch_id, body in rows:
            self.connection.execute("DELETE FROM batches WHERE batch_id = ?", (batch_id,))
            log.error("the queue %s is full (%d batches): dropped the oldest, %s, and its %d people; they will "
                      "not be counted", self.path, self.max_pending, batch_id, people_of(json.loads(body)))

    def refusals(self, since: float) -> list[Refusal]:
        """Batches of this target the server refused for good since `since` (the clock's time)."""
        rows = self.connection.execute(
            "SELECT batch_id, body, last_error FROM batches WHERE state = 'rejected' AND target = ? "
            "AND done_at >= ? ORDER BY done_at, batch_id", (self.target, since))
        return [Refusal(batch_id, people_of(json.loads(body)), error or "") for batch_id, body, error in rows]

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
