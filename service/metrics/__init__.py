"""Prometheus metrics: frame and face counters by location, request latency, pipeline stage
timings and the model in use, served at /metrics (multiprocess-aware, see collectors.py)."""

from service.metrics.collectors import observe_stage_timings, record_frame, record_observations

__all__ = ["observe_stage_timings", "record_frame", "record_observations"]
