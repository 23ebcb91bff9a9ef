"""The database work of one posted frame, without HTTP or analysis: the check before analysis
(`frames.service.admit`, one read: key, receipt, setting, pauses; absent before revision 0005)
and the write (`record_frame` and its commit), per frame, on SQLite and PostgreSQL.

    .venv/bin/python bench/frame_writes.py [--databases sqlite,postgres] [--frames 600] [--rounds 3]

Run it from two checkouts to compare versions: it uses whatever `admit` and `FrameMeta` the
checkout has. Prints the median over rounds (the first round warms up and is left out) of the
mean microseconds per frame. A measurement, not a test: it never fails on a slow machine."""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from bench.databases import scratch  # noqa: E402
from count_history import add_place  # noqa: E402
from service.db.engine import make_engine, make_read_session_factory, make_session_factory  # noqa: E402
from service.frames import service as frames  # noqa: E402
from support import ScriptedPipeline, make_settings  # noqa: E402


def per_frame_us(url: str, count: int, rounds: int) -> tuple[float | None, float]:
    """(admission read, write and commit) in microseconds per frame; None when there is no
    admission read in this checkout."""
    engine = make_engine(url)
    writes, reads = make_session_factory(engine), make_read_session_factory(engine)
    with writes.begin() as session:
        location_id, (camera_id, _) = add_place(session, "Bench", "UTC")
        key_hash = session.execute(text("SELECT key_hash FROM cameras WHERE id = :id"), {"id": camera_id}).scalar()
    settings, analysis = make_settings(url, Path("/tmp")), ScriptedPipeline().analyze(None)
    extra = {"key_hash": key_hash} if "key_hash" in frames.FrameMeta.__dataclass_fields__ else {}
    admitting = hasattr(frames, "admit")
    admit_rounds, write_rounds = [], []
    for number in range(rounds + 1):
        admit_s = write_s = 0.0
        for frame in range(count):
            now = datetime.now(UTC)
            meta = frames.FrameMeta(location_id, camera_id, now, f"r{number}-f{frame}", **extra)
            started = time.perf_counter()
            if admitting:
                with reads() as session:
                    frames.admit(session, meta, now)
            admitted = time.perf_counter()
            with writes() as session:
                frames.record_frame(session, meta, analysis, settings, now)
                session.commit()
            admit_s, write_s = admit_s + admitted - started, write_s + time.perf_counter() - admitted
        if number:  # the first round warms the caches and the pool
            admit_rounds.append(admit_s / count * 1e6)
            write_rounds.append(write_s / count * 1e6)
    engine.dispose()
    return (statistics.median(admit_rounds) if admitting else None), statistics.median(write_rounds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--frames", type=int, default=600, help="frames per round")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds after one warm-up round")
    args = parser.parse_args(argv)
    for kind in args.databases.split(","):
        with scratch(kind) as url:
            if url is None:
                print(f"{kind}: no server answers, skipped")
                continue
            admit_us, write_us = per_frame_us(url, args.frames, args.rounds)
            admit = "none" if admit_us is None else f"{admit_us:.0f} us"
            print(f"{kind}: check before analysis {admit}, write and commit {write_us:.0f} us per frame")
    return 0


if __name__ == "__main__":
    sys.exit(main())
