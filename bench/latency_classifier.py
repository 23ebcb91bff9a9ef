"""Per-face latency of the service's EmotionClassifier on one CPU core.

    python bench/latency_classifier.py --model models/default --batches 1,16

Pins the process to one core (``--core``), runs the interpreter with one thread, warms up,
then times ``predict_proba`` on random faces and prints one JSON object: the median and
90th-percentile milliseconds per call and per face for each batch size.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def time_calls(predict, faces: np.ndarray, repeats: int) -> np.ndarray:
    """Seconds taken by each of ``repeats`` calls of ``predict(faces)``, after 10 warm-up calls."""
    for _ in range(10):
        predict(faces)
    durations = np.empty(repeats)
    for i in range(repeats):
        start = time.perf_counter()
        predict(faces)
        durations[i] = time.perf_counter() - start
    return durations


def summarise(durations: np.ndarray, batch: int) -> dict[str, float]:
    """Median and p90 milliseconds per call and per face."""
    median, p90 = np.percentile(durations, [50, 90]) * 1000
    return {"batch": batch, "ms_per_call_median": round(median, 4), "ms_per_call_p90": round(p90, 4),
            "ms_per_face_median": round(median / batch, 4), "ms_per_face_p90": round(p90 / batch, 4)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models/default")
    parser.add_argument("--batches", default="1,16")
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--core", type=int, default=0, help="CPU core to pin to; -1 leaves affinity alone")
    args = parser.parse_args()
    if args.core >= 0:
        os.sched_setaffinity(0, {args.core})
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from service.vision.classifier import EmotionClassifier

    classifier = EmotionClassifier.load(args.model, num_threads=1)
    rng = np.random.default_rng(0)
    results = []
    for batch in (int(b) for b in args.batches.split(",")):
        faces = rng.integers(0, 256, (batch, *classifier.input_size), dtype=np.uint8)
        results.append(summarise(time_calls(classifier.predict_proba, faces, args.repeats), batch))
    print(json.dumps({"model": args.model, "version": classifier.version, "core": args.core, "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
