"""The service's Prometheus metrics, defined once per process.

With several uvicorn workers each process counts on its own; Prometheus must see the sum.
prometheus_client's multiprocess mode does that: when PROMETHEUS_MULTIPROC_DIR names an
empty, writable folder *before the process starts* (prometheus_client reads it at import),
every worker writes its values to files there and /metrics merges them. Without it the
values are this process's only, which is right for a single worker and for tests."""

from __future__ import annotations

import os
from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import InfoMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import REGISTRY

PREFIX = "happiness"
# frames take 50 ms to a few seconds on CPU; API reads take milliseconds
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

FRAMES = Counter(f"{PREFIX}_frames", "Frames counted (duplicates excluded)", ["location_id"])
FACES = Counter(f"{PREFIX}_faces", "Faces counted", ["location_id"])
HAPPY = Counter(f"{PREFIX}_happy_faces", "Faces classified happy", ["location_id"])
NOT_HAPPY = Counter(f"{PREFIX}_not_happy_faces", "Faces classified anything but happy", ["location_id"])
SIGHTINGS = Counter(f"{PREFIX}_sightings", "Faces detected in all analysed frames (posted frames and agents)",
                    ["location_id"])
STAGE_SECONDS = Histogram(f"{PREFIX}_pipeline_stage_seconds", "Time per pipeline stage of one image",
                          ["stage"], buckets=LATENCY_BUCKETS)
REQUEST_SECONDS = Histogram(f"{PREFIX}_http_request_duration_seconds", "HTTP request latency",
                            ["method", "route", "status"], buckets=LATENCY_BUCKETS)


def multiprocess_enabled() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def record_frame(location_id: int, result, timings_ms: Mapping[str, float]) -> None:
    """Count a recorded frame; a duplicate frame_id ran the pipeline but adds no counts. It runs
    after the frame's commit, so a failed commit (answered 503) moves no counter and the counters
    never run ahead of the database; the index reads the database itself."""
    observe_stage_timings(timings_ms)
    if result.duplicate:
        return
    _count(location_id, frames=1, faces=result.faces, happy=result.happy, not_happy=result.not_happy,
           sightings=result.faces)


def record_observations(location_id: int, result) -> None:
    """Count an accepted batch of observations (after its commit): its people are faces."""
    if not result.duplicate:
        _count(location_id, frames=result.frames, faces=result.people, happy=result.happy,
               not_happy=result.not_happy, sightings=result.sightings)


def _count(location_id: int, **counts: int) -> None:
    label = str(location_id)
    for counter, name in ((FRAMES, "frames"), (FACES, "faces"), (HAPPY, "happy"), (NOT_HAPPY, "not_happy"),
                          (SIGHTINGS, "sightings")):
        counter.labels(label).inc(counts[name])


def observe_stage_timings(timings_ms: Mapping[str, float]) -> None:
    for stage, milliseconds in timings_ms.items():
        STAGE_SECONDS.labels(stage).observe(milliseconds / 1000)


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    REQUEST_SECONDS.labels(method, route, str(status)).observe(seconds)


class ModelInfoCollector:
    """The model in use as an info metric (value 1, name and version as labels). It is read
    from the app at scrape time rather than stored, because multiprocess mode has no info type."""

    def __init__(self, name: str, version: str) -> None:
        self.name, self.version = name, version

    def collect(self):
        family = InfoMetricFamily(f"{PREFIX}_model", "Emotion model in use")
        family.add_metric([], {"name": self.name, "version": self.version})
        yield family


class _ProcessMetrics:
    """This process's default registry, wrapped so that it can join a per-scrape registry."""

    def collect(self):
        return REGISTRY.collect()


def scrape_registry(model_name: str, model_version: str) -> CollectorRegistry:
    """A registry for one scrape: every worker's values (multiprocess) or this process's."""
    registry = CollectorRegistry()
    if multiprocess_enabled():
        MultiProcessCollector(registry)
    else:
        registry.register(_ProcessMetrics())
    registry.register(ModelInfoCollector(model_name, model_version))
    return registry
