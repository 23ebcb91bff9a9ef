"""Query speed on a synthetic history: the location index (bucket=day over the whole history)
and the city overview, on SQLite and PostgreSQL, the current code timed alternately in the
same run with the code of earlier revisions (REFERENCES), whose counts and index must be identical
(intervals, trends and added fields differ between revisions by design).

    happiness bench query [--locations 100] [--days 365] [--repeat 20] [--databases sqlite,postgres] [--no-freeze]

As in a worker, the objects loaded before timing are frozen out of the garbage collector's full
collections (HAPPINESS_FREEZE_STARTUP_OBJECTS); --no-freeze times a process that does not.

Each timed call opens a session, runs the service function and serialises the answer to JSON
as the endpoint does (no HTTP: uvicorn's share is small beside the query's). The baseline city overview
takes minutes on a full year, so it runs once, and only when --locations is at most 10.
"""

from __future__ import annotations

import gc
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import create_model
from sqlalchemy import text
from tqdm import tqdm

from bench import databases
from bench.baseline import index_service_at
from bench.history import generate
from bench.timing import Lap, measured, percentile
from service.index import service as current
from service.api.model import ModelInfo
from service.api.model import model_info as served_model_info

REFERENCES = {
    "before": "63309c4",    # main before issue 14 (plain Wilson, Mann-Kendall over every bucket pair)
    "previous": "4d61506",  # issue 14's honest numbers, before their answers were built as columns
}
# earlier references, timed in the runs recorded in BENCHMARKS.md: "previous" fec5f9d (sums by local
# day in SQL, before the daily rollup) and "baseline" edc3a0c (main before the query work of issue 4)
SLOW_CITY = "baseline"  # its city overview takes minutes a year: once, and only for 10 locations or fewer
COMPARED = ("frames", "faces", "happy", "not_happy", "index")  # what every revision must answer alike
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
        same = comparable(answer) == comparable(current_answer)
        self.identical[code] = self.identical.get(code, True) and same


def model_info(schemas=None):
    """The committed model's description as the service builds it, in the ModelInfo class of
    `schemas` (a revision's index schemas). An earlier revision's class lacks fields added since,
    which the current rates code (service.index.rates, shared by every revision here) reads: it
    is extended with them, so its instances still pass that revision's own schemas."""
    metadata = json.loads(MODEL_METADATA.read_text())
    current = served_model_info(metadata["name"], metadata["version"], metadata, "stub")
    model_class = getattr(schemas, "ModelInfo", ModelInfo)
    missing = {name: (field.annotation, field) for name, field in ModelInfo.model_fields.items()
               if name not in model_class.model_fields}
    if missing:
        model_class = create_model(model_class.__name__, __base__=model_class, **missing)
    return model_class(**{key: value for key, value in current.model_dump().items() if key in model_class.model_fields})


def query_for(service, days: int):
    """A year's day query as `service`'s revision builds it (its own Query and ModelInfo)."""
    return service.make_query(HISTORY_END - timedelta(days=days), HISTORY_END, "day",
                              model_info(getattr(service, "schemas", None)), 5, HISTORY_END)


def comparable(answer: str) -> str:
    """The counts and index of every summary and period: what no revision may change (the
    intervals, trend and new fields differ between revisions by design)."""
    def project(value):
        if isinstance(value, list):
            return [project(item) for item in value]
        if isinstance(value, dict):
            if "faces" in value:
                return {key: value.get(key) for key in COMPARED}
            inner = {key: project(item) for key, item in value.items()
                     if key != "trend" and (isinstance(item, dict) or holds_dicts(item))}
            return {key: item for key, item in inner.items() if item not in ({}, [])}
        return value
    return json.dumps(project(json.loads(answer)), sort_keys=True)


def holds_dicts(value) -> bool:
    """A list of objects (periods, locations), not an interval's pair of numbers."""
    return isinstance(value, list) and any(isinstance(item, dict) for item in value)


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


def measure(sessions, locations: int, days: int, repeat: int) -> Timings:
    references = {code: index_service_at(revision) for code, revision in REFERENCES.items()}
    references = {code: service for code, service in references.items() if service is not None}
    timings = Timings()
    for number in tqdm(range(repeat), desc="queries", disable=None):
        location_id = number % locations + 1  # every zone of the synthetic city takes its turn
        time_codes(timings, sessions, "location", references,
                   lambda service, session: service.location_index(session, location_id, query_for(service, days)))
        slow_city_now = number == 0 and locations <= 10
        time_codes(timings, sessions, "city",
                   {code: service for code, service in references.items() if code != SLOW_CITY or slow_city_now},
                   lambda service, session: service.city_overview(session, query_for(service, days)))
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


def settle(engine, freeze: bool) -> None:
    """Leave the load behind before timing, as a running server has: its garbage collected
    (else a full collection of the millions of rows' debris lands in the first timed call),
    the engine connected, its dialect initialised, and (freeze) what is loaded frozen as a
    worker freezes it once started."""
    from service.runtime.memory import freeze_startup_objects

    gc.collect()
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    if freeze:
        freeze_startup_objects()


def year_of_hours(sessions, days: int, repeat: int) -> list[str]:
    """One location index over the whole history in hour buckets (a year: 8,760 periods) with
    its JSON, as the endpoint answers it: CPU and wall per call (each code in turn, `repeat`
    rounds), then the traced peak memory of one call per code. The query whose trend took every
    pair of hours before issue 14."""
    import tracemalloc

    references = {"current": current, **{code: index_service_at(revision) for code, revision in REFERENCES.items()}}
    references = {code: service for code, service in references.items() if service is not None}

    def call(service):
        query = service.make_query(HISTORY_END - timedelta(days=days), HISTORY_END, "hour",
                                   model_info(getattr(service, "schemas", None)), 5, HISTORY_END)
        return lambda session: service.location_index(session, 1, query)

    laps: dict[str, list[Lap]] = {code: [] for code in references}
    answers = {}
    for _ in range(repeat):
        for code, service in references.items():
            lap, answers[code] = timed_json(sessions, call(service))
            laps[code].append(lap)
    lines = []
    for code, service in references.items():
        gc.collect()
        tracemalloc.start()
        with sessions() as session:
            answer = call(service)(session)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        same = "" if code == "current" else (", counts and index identical to current" if comparable(answers[code]) ==
                                             comparable(answers["current"]) else ", counts and index DIFFER")
        cpus, walls = [lap.cpu_ms for lap in laps[code]], [lap.wall_ms for lap in laps[code]]
        lines.append(f"{code}: {len(answer.series):,} hour periods, p50 {percentile(cpus, 50):,.0f} ms CPU "
                     f"(p95 {percentile(cpus, 95):,.0f}), p50 {percentile(walls, 50):,.0f} ms wall in {repeat} calls, "
                     f"peak {peak / 1e6:,.1f} MB traced, trend on {answer.trend.buckets} points{same}")
    return lines


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
             f"counts and index identical to the current ones: {_identical(timings)}"
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


def main(names: list[str], locations: int, days: int, repeat: int, quick: bool, freeze: bool = True) -> int:
    from service.db.engine import make_engine, make_read_session_factory

    if quick:
        names, locations, days, repeat = ["sqlite"], 3, 40, 2  # 40 days: both Amsterdam and New York change clocks
    results, hours = [], []
    for name in names:
        with databases.scratch(name) as url:
            if url is None:
                print(f"{name}: no server reachable, skipped")
                continue
            rows, load_s = load_history(url, locations, days)
            engine = make_engine(url)
            settle(engine, freeze)
            sessions = make_read_session_factory(engine)
            results.append((name, rows, load_s, measure(sessions, locations, days, repeat)))
            hours.append(f"{name}, location 1, bucket=hour over {days} days, with JSON"
                         f"{'' if freeze else ' (start-up objects not frozen)'}:\n- "
                         + "\n- ".join(year_of_hours(sessions, days, repeat)))
            engine.dispose()
    print(markdown(results, locations, days))
    print("\n".join(["", *hours]))
    return 1 if any(not all(timings.identical.values()) for *_, timings in results) else 0
