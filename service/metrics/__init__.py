"""Prometheus metrics: frame and face counters by location, request latency, pipeline stage
timings and the model in use, served at /metrics (multiprocess-aware, see collectors.py)."""

from service.metrics.collectors import ServiceMetrics

__all__ = ["ServiceMetrics"]
