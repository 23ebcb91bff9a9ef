"""Query speed on a synthetic history: the location index (bucket=day over the whole history)
and the city overview, on SQLite and PostgreSQL, the current code timed alternately in the
same run with the code of earlier revisions (REFERENCES), whose answers must be identical in
every field they have (later revisions add fields, e.g. `sightings`).

    happiness bench query [--locations 100] [--days 365] [--repeat 20] [--databases sqlite,postgres]

Each timed call opens a session, runs the service function and serialises the answer to JSON
as the endpoint does (no HTTP: uvicorn adds about a millisecond). The baseline city overview
takes minutes on a full year, so it runs once, and only when --locations is at most 10.
"""

from __future__ import annotations

import gc
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

REFERENCES = {
    "previous": "fec5f9d",  # sums by local day in SQL over bucket_counts, before the daily rollup
    "baseline": "edc3a0c",  # main before the query work of issue 4
}
SLOW_CITY = "baseline"  # its city overview takes minutes a year: once, and only for 10 locations or fewer
MODEL_METADATA = Path(__file__).resolve().parents[1] / "models" / "default" / "metadata.json"
HISTORY_END = datetime(2026, 11, 25, tzinfo=UTC)


@dataclass
class Timings:
    laps: dict[tuple[str, str], list[Lap]] = field(default_factory=dict)
    # code -> its answers equal the current code's so far; absent: not loaded (not a git checkout)
    identical: dict[str, bool] = field(default_factory=dict)

    def add(self, query: str, code: str, lap: Lap) -> None:
        self.laps.setdefault((query, code), []).append(lap)

    def compare(self, code: str, answer: str, current_answer: str) -> None:
        older = json.loads(answer)
        same = fields_of(json.loads(current_answer), older) == older
        self.identical[code] = self.identical.get(code, True) and same


def fields_of(current, older):
    """`current` with only the keys that `older` has, at every depth: what an older revision's
    schemas could answer."""
    if isinstance(current, dict) and isinstance(older, dict):
        return {key: fields_of(current[key], older[key]) for key in older if key in current}
    if isinstance(current, list) and isinstance(older, list) and len(current) == len(older):
        return [fields_of(new, old) for new, old in zip(current, older)]
    return current


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


def time_codes(timings: Timings, sessions, query: str, codes: dict, call) -> None:
    """Time `call(service module, session)` for the current code, then each reference in turn,
    so load bursts hit them alike; each reference's answer is compared with the current one."""
    lap, answer = timed_json(sessions, lambda session: call(current, session))
    timings.add(query, "current", lap)
    for code, service in codes.items():
        lap, other = timed_json(sessions, lambda session: call(service, session))
        timings.add(query, code, lap)
        timings.compare(code, other, answer)


def query_for(service, days: int):
    """The day-bucket query over the history, in `service`'s own Query and ModelInfo types."""
    model = service.ModelInfo(**model_info().model_dump())
    return service.make_query(HISTORY_END - timedelta(days=days), HISTORY_END, "day", model, 5, HISTORY_END)


def measure(sessions, locations: int, days: int, repeat: int) -> Timings:
    references = {code: index_service_at(revision) for code, revision in REFERENCES.items()}
    references = {code: service for code, service in references.items() if service is not None}
    queries = {service: query_for(service, days) for service in (current, *references.values())}
    timings = Timings()
    for number in tqdm(range(repeat), desc="queries", disable=None):
        location_id = number % locations + 1  # every zone of the synthetic city takes its turn
        time_codes(timings, sessions, "location", references,
                   lambda service, session: service.location_index(session, location_id, queries[service]))
        slow_city_now = number == 0 and locations <= 10
        time_codes(timings, sessions, "city",
                   {code: service for code, service in references.items() if code != SLOW_CITY or slow_city_now},
                   lambda service, session: service.city_overview(session, queries[service]))
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


def settle(engine) -> None:
    """Leave the load behind before timing, as a running server has: its garbage collected
    (else a full collection of the millions of rows' debris lands in the first timed call)
    and the engine connected, its dialect initialised."""
    gc.collect()
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


TARGET_P95_MS = {"location": 50, "city": 200}
QUERY_NAMES = {"location": "location index, day buckets", "city": "city overview"}


def markdown(results: list[tuple[str, int, float, Timings]], locations: int, days: int) -> str:
    rows = [f"{locations} locations x {days} days of 15-minute buckets; ms = wall, cpu = process CPU; "
            f"speed-up = the code's p50 wall / current p50 wall",
            "", "| database | query | code | calls | p50 ms | p95 ms | p50 cpu | p95 cpu | target p95 | speed-up p50 |",
            "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for database, rows_loaded, load_s, timings in results:
        for (query, code), laps in timings.laps.items():
            rows.append(_row(database, query, code, laps, timings))
    rows.append("")
    rows += [f"{database}: {rows_loaded:,} rows generated and loaded (with the rollup) in {load_s:.0f} s; "
             f"answers identical to the current ones: {_identical(timings)}"
             for database, rows_loaded, load_s, timings in results]
    return "\n".join(rows)


def _identical(timings: Timings) -> str:
    said = [f"{code} ({REFERENCES[code]}) {'yes' if same else 'NO'}" for code, same in timings.identical.items()]
    return ", ".join(said) or "not compared (no earlier revision available)"


def _row(database: str, query: str, code: str, laps: list[Lap], timings: Timings) -> str:
    walls = [lap.wall_ms for lap in laps]
    current_laps = timings.laps[(query, "current")]
    ratio = f"{percentile(walls, 50) / percentile([lap.wall_ms for lap in current_laps], 50):.1f}x"
    target = f"<= {TARGET_P95_MS[query]} ms" if code == "current" else ""
    cpus = [lap.cpu_ms for lap in laps]
    return (f"| {database} | {QUERY_NAMES[query]} | {code} | {len(laps)} | {percentile(walls, 50):.1f} "
            f"| {percentile(walls, 95):.1f} | {percentile(cpus, 50):.1f} | {percentile(cpus, 95):.1f} "
            f"| {target} | {'' if code == 'current' else ratio} |")


def main(names: list[str], locations: int, days: int, repeat: int, quick: bool) -> int:
    from service.db.engine import make_engine, make_read_session_factory

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
            settle(engine)
            results.append((name, rows, load_s, measure(make_read_session_factory(engine), locations, days, repeat)))
            engine.dispose()
    print(markdown(results, locations, days))
    return 1 if any(not all(timings.identical.values()) for *_, timings in results) else 0
