"""CPU ms per face of the classify stage (crop, gray, resize, one batched model call), as the
pipeline does it now against converting the whole frame to gray first (the code before
2026-11-25 15:00), taking turns call by call on the sample photos' HOG faces.

    .venv/bin/python bench/classify_stage.py [--samples ../shared/samples] [--repeat 60]

Three columns: `whole frame to gray` (before), `crops to gray` (now, an RGB frame, as the cnn
detector's frames are) and `gray frame` (now, as `happiness serve` and the pipeline bench run it
with hog or stub: the frame decoded straight to gray). Medians of --repeat calls, printed as a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from service.config import Settings  # noqa: E402
from service.main import build_pipeline  # noqa: E402
from service.vision.decode import decode_image  # noqa: E402
from service.vision.pipeline import to_detections  # noqa: E402
from service.vision.preprocess import to_gray  # noqa: E402

MAX_PIXELS = 40_000_000


def classify_whole_frame_gray(pipeline, rgb: np.ndarray, boxes: list) -> list:
    """The classify stage before: the whole frame converted to gray, then the crops cut from it."""
    classifier = pipeline.classifier
    crops = pipeline.crops(to_gray(rgb), boxes)
    probabilities = np.asarray(classifier.predict_proba(crops), dtype=np.float32)
    return to_detections(boxes, probabilities, classifier.classes, classifier.decide(probabilities))


def median_cpu_ms(calls: dict, repeat: int) -> dict[str, float]:
    """Each call of `calls` (name -> no-argument function) in turn, `repeat` times."""
    laps = {name: [] for name in calls}
    for _ in range(repeat):
        for name, call in calls.items():
            started = time.process_time()
            call()
            laps[name].append(time.process_time() - started)
    return {name: statistics.median(times) * 1e3 for name, times in laps.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=Path, default=ROOT.parent / "shared" / "samples")
    parser.add_argument("--repeat", type=int, default=60)
    args = parser.parse_args()
    pipeline = build_pipeline(Settings(detector="hog"))
    print("| frame | faces | whole frame to gray, ms/face | crops to gray, ms/face | gray frame, ms/face |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for path in sorted(args.samples.glob("*.jpg")):
        data = path.read_bytes()
        rgb = decode_image(data, max_pixels=MAX_PIXELS)
        gray = decode_image(data, max_pixels=MAX_PIXELS, gray=True)
        boxes = pipeline.detector.detect(rgb)
        if not boxes:
            continue
        medians = median_cpu_ms({"before": lambda: classify_whole_frame_gray(pipeline, rgb, boxes),
                                 "rgb": lambda: pipeline._classify(rgb, boxes),
                                 "gray": lambda: pipeline._classify(gray, boxes)}, args.repeat)
        per_face = " | ".join(f"{medians[name] / len(boxes):.2f}" for name in ("before", "rgb", "gray"))
        print(f"| {path.name} | {len(boxes)} | {per_face} |")
    print(f"load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
