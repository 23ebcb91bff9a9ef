"""The service's Prometheus metrics, one set per app (ServiceMetrics, on app.state.metrics).

Each app counts in a registry of its own rather than prometheus_client's process-wide default,
so that a request changes only its app's state: two apps in one process (tests, an embedding
server) never share counters. With several uvicorn workers each process counts on its own;
Prometheus must see the sum. prometheus_client's multiprocess mode does that: when
PROMETHEUS_MULTIPROC_DIR names an empty, writable folder *before the process starts*
(prometheus_client reads it at import), every worker writes its values to files there and
/metrics merges them. Without it the values are this app's only, which is right for a single
worker and for tests."""

from __future__ import annotations

import os
from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, GCCollector, Histogram, PlatformCollector, ProcessCollector
from prometheus_client.core import InfoMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

PREFIX = "happiness"
# from API reads (milliseconds) to a large frame analysed on a slow CPU (seconds)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def multiprocess_enabled() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class ServiceMetrics:
    """Frame and face counters by location, pipeline stage timings and request latency."""

    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        if not multiprocess_enabled():  # the process's own CPU, memory and GC, as the default registry has
            for collector in (ProcessCollector, PlatformCollector, GCCollector):
                collector(registry=registry)
        self.frames = Counter(f"{PREFIX}_frames", "Frames counted (duplicates excluded)", ["location_id"],
                              registry=registry)
        self.faces = Counter(f"{PREFIX}_faces", "Faces counted", ["location_id"], registry=registry)
        self.happy = Counter(f"{PREFIX}_happy_faces", "Faces classified happy", ["location_id"], registry=registry)
        self.not_happy = Counter(f"{PREFIX}_not_happy_faces", "Faces classified anything but happy",
                                 ["location_id"], registry=registry)
        self.sightings = Counter(f"{PREFIX}_sightings", "Faces detected in all analysed frames (posted frames "
                                 "and agents)", ["location_id"], registry=registry)
        self.unread = Counter(f"{PREFIX}_unread_faces", "Faces found but too small to read (posted frames) and "
                              "people seen only so (agents): never in faces", ["location_id"], registry=registry)
        self.stage_seconds = Histogram(f"{PREFIX}_pipeline_stage_seconds", "Time per pipeline stage of one image",
                                       ["stage"], buckets=LATENCY_BUCKETS, registry=registry)
        self.request_seconds = Histogram(f"{PREFIX}_http_request_duration_seconds", "HTTP request latency",
                                         ["method", "route", "status"], buckets=LATENCY_BUCKETS, registry=registry)

    def record_frame(self, location_id: int, result, timings_ms: Mapping[str, float]) -> None:
        """Count a recorded frame; a repeated frame_id, answered before analysis, adds no counts. It
        runs after the frame's commit, so a failed commit (answered 503) moves no counter and
        the counters never run ahead of the database; the index reads the database itself."""
        self.observe_stage_timings(timings_ms)
        if not result.duplicate:
            self._count(location_id, frames=1, faces=result.faces, happy=result.happy,
                        not_happy=result.not_happy, sightings=result.faces + result.unread, unread=result.unread)

    def record_observations(self, location_id: int, result) -> None:
        """Count an accepted batch of observations (after its commit): its people are faces."""
        if not result.duplicate:
            self._count(location_id, frames=result.frames, faces=result.people, happy=result.happy,
                        not_happy=result.not_happy, sightings=result.sightings, unread=result.unread)

    def _count(self, location_id: int, **counts: int) -> None:
        label = str(location_id)
        for name, amount in counts.items():
            getattr(self, name).labels(label).inc(amount)

    def observe_stage_timings(self, timings_ms: Mapping[str, float]) -> None:
        for stage, milliseconds in timings_ms.items():
            self.stage_seconds.labels(stage).observe(milliseconds / 1000)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.request_seconds.labels(method, route, str(status)).observe(seconds)

    def scrape_registry(self, model_name: str, model_version: str) -> CollectorRegistry:
        """A registry for one scrape: every worker's values (multiprocess) or this app's."""
        registry = CollectorRegistry()
        if multiprocess_enabled():
            MultiProcessCollector(registry)
        else:
            registry.register(_RegistryOf(self.registry))
        registry.register(ModelInfoCollector(model_name, model_version))
        return registry


class ModelInfoCollector:
    """The model in use as an info metric (value 1, name and version as labels). It is read
    from the app at scrape time rather than stored, because multiprocess mode has no info type."""

    def __init__(self, name: str, version: str) -> None:
        self.name, self.version = name, version

    def collect(self):
        family = InfoMetricFamily(f"{PREFIX}_model", "Emotion model in use")
        family.add_metric([], {"name": self.name, "version": self.version})
        yield family


class _RegistryOf:
    """A registry wrapped as a collector, so that it can join a per-scrape registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self):
        return self.registry.collect()
