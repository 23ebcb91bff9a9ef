"""The agent's durable queue: what it holds survives a closed connection and a killed process,
is sent oldest first, and holds counts only."""

import json
import os
import signal
import sqlite3
import subprocess
import sys

from service.agent.queue import KEEP_DONE_DAYS, DurableQueue

TARGET = "http://server#location=1"


def body(batch_id: str, people: int = 2) -> dict:
    return {"batch_id": batch_id, "observations": [{"start": "2026-12-03T09:00:00Z", "end": "2026-12-03T09:15:00Z",
                                                    "people": people, "happy": 1, "emotions": {"happy": 1, "sad": people - 1},
                                                    "sightings": 10, "frames": 40}]}


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_batches_wait_until_confirmed_and_are_sent_oldest_first(tmp_path):
    clock = Clock()
    queue = DurableQueue(tmp_path / "q.db", TARGET, clock)
    for number in range(3):
        queue.add(f"b{number}", body(f"b{number}", people=number + 1))
        clock.now += 1
    assert [b.batch_id for b in queue.due()] == ["b0", "b1", "b2"]
    queue.confirm("b0")
    queue.reject("b1", "HTTP 422: happy above people")
    assert [b.batch_id for b in queue.due()] == ["b2"]
    assert queue.due()[0].body == body("b2", people=3)
    counts = queue.counts()
    assert (counts.pending, counts.confirmed, counts.rejected) == (1, 1, 1)


def test_a_held_batch_is_not_due_until_its_time(tmp_path):
    clock = Clock()
    queue = DurableQueue(tmp_path / "q.db", TARGET, clock)
    queue.add("b0", body("b0"))
    queue.retry_at("b0", clock.now + 30, "HTTP 503")
    assert queue.due() == [] and queue.next_due_at() == clock.now + 30
    clock.now += 30
    assert [(b.batch_id, b.attempts) for b in queue.due()] == [("b0", 1)]


def test_what_was_added_survives_a_new_connection(tmp_path):
    path = tmp_path / "q.db"
    first = DurableQueue(path, TARGET)
    first.add("b0", body("b0"))
    first.add("b1", body("b1"))
    first.confirm("b0")
    first.close()
    again = DurableQueue(path, TARGET)
    assert [b.batch_id for b in again.due()] == ["b1"]


WRITE_THEN_HANG = """
import sys, time
from pathlib import Path
from service.agent.queue import DurableQueue
queue = DurableQueue(Path(sys.argv[1]), "http://server#location=1")
for number in range(5):
    queue.add(f"b{number}", {"batch_id": f"b{number}", "observations": []})
print("added", flush=True)
time.sleep(60)
"""


def test_what_was_added_survives_a_killed_process(tmp_path):
    path = tmp_path / "q.db"
    process = subprocess.Popen([sys.executable, "-c", WRITE_THEN_HANG, str(path)], stdout=subprocess.PIPE,
                               env={**os.environ})
    assert process.stdout.readline().strip() == b"added"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    assert [b.batch_id for b in DurableQueue(path, TARGET).due()] == [f"b{n}" for n in range(5)]


def test_batches_of_another_server_or_location_are_never_sent_from_here(tmp_path):
    path = tmp_path / "q.db"
    DurableQueue(path, "http://server#location=2").add("elsewhere", body("elsewhere"))
    here = DurableQueue(path, TARGET)
    here.add("b0", body("b0"))
    assert [b.batch_id for b in here.due()] == ["b0"] and here.other_targets_pending() == 1


def test_done_batches_are_pruned_after_a_week_and_pending_ones_never(tmp_path):
    clock = Clock()
    queue = DurableQueue(tmp_path / "q.db", TARGET, clock)
    for batch_id in ("old-done", "old-pending"):
        queue.add(batch_id, body(batch_id))
    queue.confirm("old-done")
    clock.now += KEEP_DONE_DAYS * 86400 + 1
    assert queue.prune() == 1
    assert [b.batch_id for b in queue.due()] == ["old-pending"]


def test_the_file_holds_counts_and_times_only(tmp_path):
    path = tmp_path / "q.db"
    queue = DurableQueue(path, TARGET)
    queue.add("b0", body("b0"))
    connection = sqlite3.connect(path)
    columns = [row[1] for row in connection.execute("PRAGMA table_info(batches)")]
    assert columns == ["batch_id", "target", "body", "created_at", "state", "attempts", "next_attempt_at",
                       "last_error", "done_at"]
    stored = json.loads(connection.execute("SELECT body FROM batches").fetchone()[0])
    assert set(stored) == {"batch_id", "observations"}
    assert set(stored["observations"][0]) == {"start", "end", "people", "happy", "emotions", "sightings", "frames"}


def test_the_queue_is_bounded_warns_as_it_fills_and_drops_the_oldest_loudly(tmp_path, caplog):
    import logging

    clock = Clock()
    queue = DurableQueue(tmp_path / "q.db", TARGET, clock, max_pending=10)
    with caplog.at_level(logging.WARNING, logger="happiness.agent"):
        for number in range(12):
            queue.add(f"b{number:02d}", body(f"b{number:02d}", people=number + 1))
            clock.now += 1
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert [line.split(" full")[0].split("is ")[-1] for line in warnings] == ["50%", "60%", "70%", "80%", "90%", "100%"]
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 2 and "dropped the oldest, b00, and its 1 people" in errors[0] and "b01" in errors[1]
    assert [b.batch_id for b in queue.due(limit=100)] == [f"b{number:02d}" for number in range(2, 12)]
    queue.confirm("b02")  # confirmed batches do not count against the bound
    queue.add("b12", body("b12"))
    assert queue.counts().pending == 10 and len([r for r in caplog.records if r.levelno == logging.ERROR]) == 2
