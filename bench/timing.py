"""Wall and CPU time of a block, and percentiles. CPU time (all threads of this process) is
what a frame costs the machine, and it is far less disturbed than wall time when other jobs
share the cores, so every benchmark reports both."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Lap:
    wall_ms: float = 0.0
    cpu_ms: float = 0.0


@contextmanager
def measured() -> Iterator[Lap]:
    lap = Lap()
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        yield lap
    finally:
        lap.wall_ms = (time.perf_counter() - wall) * 1e3
        lap.cpu_ms = (time.process_time() - cpu) * 1e3


@dataclass
class StageTimes:
    """Laps of each named stage over repeated runs."""

    laps: dict[str, list[Lap]] = field(default_factory=dict)

    def add(self, stage: str, lap: Lap) -> None:
        self.laps.setdefault(stage, []).append(lap)

    def median_cpu(self, stage: str) -> float:
        return median([lap.cpu_ms for lap in self.laps.get(stage, [])])

    def median_wall(self, stage: str) -> float:
        return median([lap.wall_ms for lap in self.laps.get(stage, [])])


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


def percentile(values: Sequence[float], rank: float) -> float:
    """Linear-interpolated percentile (numpy's default); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    position = (len(ordered) - 1) * rank / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
