"""Per-face latency of the service's EmotionClassifier on one CPU core.

    python bench/latency_classifier.py --model models/default --batches 1,16 [--float32-baseline]

Pins the process to one core (``--core``), runs the interpreter with one thread, warms up,
then times ``predict_proba`` on random faces and prints one JSON object: the median and
90th-percentile milliseconds per call and per face for each batch size. With
``--float32-baseline`` the same model.keras converted without quantisation is timed too,
call by call in turn with the served file, so load changes hit both alike.
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


def time_calls(predicts: dict, faces: np.ndarray, repeats: int) -> dict[str, np.ndarray]:
    """Seconds taken by each of ``repeats`` calls of every ``predicts[name](faces)``, the
    variants taking turns call by call, after 10 warm-up calls each."""
    for predict in predicts.values():
        for _ in range(10):
            predict(faces)
    durations = {name: np.empty(repeats) for name in predicts}
    for i in range(repeats):
        for name, predict in predicts.items():
            start = time.perf_counter()
            predict(faces)
            durations[name][i] = time.perf_counter() - start
    return durations


def summarise(durations: np.ndarray, batch: int) -> dict[str, float]:
    """Median and p90 milliseconds per call and per face."""
    median, p90 = np.percentile(durations, [50, 90]) * 1000
    return {"batch": batch, "ms_per_call_median": round(median, 4), "ms_per_call_p90": round(p90, 4),
            "ms_per_face_median": round(median / batch, 4), "ms_per_face_p90": round(p90 / batch, 4)}


def classifiers(model_dir: str, float32_baseline: bool) -> dict:
    """The served classifier, and the float32 conversion of its model.keras when asked."""
    from service.vision.classifier import KERAS_FILE, EmotionClassifier, keras_to_tflite

    served = EmotionClassifier.load(model_dir, num_threads=1)
    variants = {"served": served}
    if float32_baseline:
        content = keras_to_tflite(Path(model_dir) / KERAS_FILE, quantize=False)
        variants["float32"] = EmotionClassifier(content, served.metadata, num_threads=1)
    return variants


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models/default")
    parser.add_argument("--batches", default="1,16")
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--core", type=int, default=0, help="CPU core to pin to; -1 leaves affinity alone")
    parser.add_argument("--float32-baseline", action="store_true",
                        help="also time model.keras converted without quantisation, in turn with the served file")
    args = parser.parse_args()
    if args.core >= 0:
        os.sched_setaffinity(0, {args.core})
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    variants = classifiers(args.model, args.float32_baseline)
    rng = np.random.default_rng(0)
    results = {name: [] for name in variants}
    for batch in (int(b) for b in args.batches.split(",")):
        faces = rng.integers(0, 256, (batch, *variants["served"].input_size), dtype=np.uint8)
        durations = time_calls({name: c.predict_proba for name, c in variants.items()}, faces, args.repeats)
        for name in variants:
            results[name].append(summarise(durations[name], batch))
    version = variants["served"].version
    print(json.dumps({"model": args.model, "version": version, "core": args.core, "results": results["served"],
                      **({"float32_results": results["float32"]} if "float32" in results else {})}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
