"""Dispatch of `happiness bench SUITE` to the benchmark modules."""

from __future__ import annotations

import logging
import os

from bench.frames import DEFAULT_SAMPLES


def run_suite(args) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request would bury the tables
    samples = args.samples or DEFAULT_SAMPLES
    databases = [name.strip() for name in args.databases.split(",") if name.strip()]
    if args.suite == "pipeline":
        from bench import pipeline_compare

        return pipeline_compare.main(samples, args.repeat, args.quick)
    if args.suite == "detect":
        from bench import detect

        return detect.main(samples, args.detectors if args.detectors != "blazeface,stub" else detect.DEFAULT_DETECTORS,
                           args.repeat, args.quick)
    if args.suite == "agent":
        from bench import agent

        return agent.main(args.quick)
    if args.suite == "ingest":
        from bench import ingest

        detectors = [name.strip() for name in args.detectors.split(",") if name.strip()]
        return ingest.main(samples, databases, args.cameras, args.frames or 400, args.quick, detectors)
    if args.suite == "soak":
        from bench import soak

        detector = args.detectors.split(",")[0].strip()
        return soak.main(samples, databases[0], args.frames or 20_000, detector, args.out, args.quick)
    if args.suite == "statistics":
        from bench import honest_numbers

        return honest_numbers.main(args.repeat if args.repeat != 5 else honest_numbers.DEFAULT_REPS, args.quick)
    from bench import query

    return query.main(databases, args.locations, args.days, args.repeat, args.quick, freeze=not args.no_freeze)


__all__ = ["run_suite"]
