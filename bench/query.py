"""Query speed on a synthetic history: the location index (bucket=day over the whole history)
and the city overview, on SQLite and PostgreSQL, the current code timed alternately with the
code of BASELINE_REVISION (before the query work) in the same run.

    happiness bench query [--locations 100] [--days 365] [--repeat 20] [--databases sqlite,postgres]

Each timed call opens a session, runs the service function and serialises the answer to JSON
as the endpoint does (no HTTP: uvicorn adds about a millisecond). The baseline city overview
takes minutes on a full year, so it runs once, and only when --locations is at most 10.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text
from tqdm import tqdm

from bench import databases
from bench.baseline import index_service_at
from bench.history import generate
from bench.timing import Lap, measured, percentile
from service.index import service as current
from service.index.schemas import ModelInfo

BASELINE_REVISION = "edc3a0c"  # main before the query work of issue 4
MODEL_METADATA = Path(__file__).resolve().parents[1] / "models" / "default" / "metadata.json"
HISTORY_END = datetime(2026, 11, 25, tzinfo=UTC)


@dataclass
class Timings:
    laps: dict[tuple[str, str], list[Lap]] = field(default_factory=dict)
    identical: bool | None = None  # None: no baseline to compare with (not a git checkout)

    def add(self, query: str, code: str, lap: Lap) -> None:
        self.laps.setdefault((query, code), []).append(lap)


def model_info() -> ModelInfo:
    metadata = json.loads(MODEL_METADATA.read_text())
    rates = metadata.get("happy_vs_rest", {})
    return ModelInfo(name=metadata["name"], version=str(metadata["version"]),
                     tpr=float(rates.get("tpr", 1.0)), fpr=float(rates.get("fpr", 0.0)))


def timed_json(sessions, call) -> tuple[Lap, str]:
    with measured() as lap:
        with sessions() as session:
            answer = call(session).model_dump_json(by_alias=True)
    return lap, answer


def measure(sessions, locations: int, days: int, repeat: int) -> Timings:
    baseline, timings = index_service_at(BASELINE_REVISION), Timings()
    query = current.make_query(HISTORY_END - timedelta(days=days), HISTORY_END, "day", model_info(), 5, HISTORY_END)
    for number in tqdm(range(repeat), desc="queries", disable=None):
        location_id = number % locations + 1  # every zone of the synthetic city takes its turn
        lap, answer = timed_json(sessions, lambda s: current.location_index(s, location_id, query))
        timings.add("location", "current", lap)
        if baseline is not None:
            old_lap, old_answer = timed_json(sessions, lambda s: baseline.location_index(s, location_id, query))
            timings.add("location", "baseline", old_lap)
            timings.identical = (timings.identical is not False) and answer == old_answer
        timings.add("city", "current", timed_json(sessions, lambda s: current.city_overview(s, query))[0])
    if baseline is not None and locations <= 10:
        timings.add("city", "baseline", timed_json(sessions, lambda s: baseline.city_overview(s, query))[0])
    return timings


def load_history(url: str, locations: int, days: int) -> tuple[int, float]:
    """Generate the history and refresh the planner's statistics; (rows, seconds)."""
    from service.db.engine import make_engine

    engine = make_engine(url)
    started = time.perf_counter()
    rows = generate(engine, locations, days, HISTORY_END)
    with engine.begin() as connection:
        connection.execute(text("ANALYZE"))
    engine.dispose()
    return rows, time.perf_counter() - started


TARGET_P95_MS = {"location": 50, "city": 200}
IDENTICAL = {True: "yes", False: "NO", None: f"not compared ({BASELINE_REVISION} unavailable)"}
QUERY_NAMES = {"location": "location index, day buckets", "city": "city overview"}


def markdown(results: list[tuple[str, int, float, Timings]], locations: int, days: int) -> str:
    rows = [f"{locations} locations x {days} days of 15-minute buckets; ms = wall, cpu = process CPU",
            "", "| database | query | code | calls | p50 ms | p95 ms | p50 cpu | target p95 | speed-up p50 |",
            "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for database, rows_loaded, load_s, timings in results:
        for (query, code), laps in timings.laps.items():
            rows.append(_row(database, query, code, laps, timings))
    rows.append("")
    rows += [f"{database}: {rows_loaded:,} rows generated and loaded in {load_s:.0f} s; baseline answers "
             f"identical to the current ones: {IDENTICAL[timings.identical]}"
             for database, rows_loaded, load_s, timings in results]
    return "\n".join(rows)


def _row(database: str, query: str, code: str, laps: list[Lap], timings: Timings) -> str:
    walls = [lap.wall_ms for lap in laps]
    baseline = timings.laps.get((query, "baseline"))
    ratio = ""
    if code == "current" and baseline:
        ratio = f"{percentile([lap.wall_ms for lap in baseline], 50) / percentile(walls, 50):.1f}x"
    target = f"<= {TARGET_P95_MS[query]} ms" if code == "current" else ""
    return (f"| {database} | {QUERY_NAMES[query]} | {code} | {len(laps)} | {percentile(walls, 50):.1f} "
            f"| {percentile(walls, 95):.1f} | {percentile([lap.cpu_ms for lap in laps], 50):.1f} "
            f"| {target} | {ratio} |")


def main(names: list[str], locations: int, days: int, repeat: int, quick: bool) -> int:
    from service.db.engine import make_engine, make_session_factory

    if quick:
        names, locations, days, repeat = ["sqlite"], 3, 40, 2  # 40 days: both Amsterdam and New York change clocks
    results = []
    for name in names:
        with databases.scratch(name) as url:
            if url is None:
                print(f"{name}: no server reachable, skipped")
                continue
            rows, load_s = load_history(url, locations, days)
            engine = make_engine(url)
            results.append((name, rows, load_s, measure(make_session_factory(engine), locations, days, repeat)))
            engine.dispose()
    print(markdown(results, locations, days))
    return 1 if any(timings.identical is False for *_, timings in results) else 0
