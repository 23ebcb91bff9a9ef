"""Benchmarks: measurements, never tests. Run them with `happiness bench` (see BENCHMARKS.md)."""
