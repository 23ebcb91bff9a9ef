"""Face detection only: the seed's face_recognition HOG (one upsample) vs the service's detector.

Both run in this process, one after the other on the same decoded frames, so the ratio is
measured on the same machine in the same run. Prints a Markdown table.

    .venv/bin/python bench/bench_detect.py [--repeat 5] [--samples ../shared/samples]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from service.vision.decode import decode_image  # noqa: E402
from service.vision.detectors import FaceBox, build_detector  # noqa: E402

FRAMES = ("obama-480p.jpg", "obama-720p.jpg", "obama-1080p.jpg")
DEFAULT_SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"


def median_ms(detect: Callable[[np.ndarray], list], rgb: np.ndarray, repeat: int) -> tuple[float, list]:
    """Median wall time of `repeat` calls after one warm-up call (lazy model loading)."""
    faces = detect(rgb)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        detect(rgb)
        times.append((time.perf_counter() - started) * 1e3)
    return statistics.median(times), faces


def seed_detector() -> Callable[[np.ndarray], list[FaceBox]]:
    import face_recognition

    return lambda rgb: [FaceBox(*location) for location in face_recognition.face_locations(rgb, 1)]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, default=DEFAULT_SAMPLES)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--detector", default="hog", help="service detector type (hog, cnn)")
    parser.add_argument("--min-face-px", type=int, default=48)
    parser.add_argument("--max-width", type=int, default=1280)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    seed = seed_detector()
    service = build_detector(args.detector, min_face_px=args.min_face_px, max_width=args.max_width)
    print(f"service detector: {args.detector}, min_face_px={args.min_face_px}, max_width={args.max_width}; "
          f"median of {args.repeat} runs\n")
    print("| frame | size | seed ms | seed faces | service ms | service faces | speed-up |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for name in FRAMES:
        rgb = decode_image((args.samples / name).read_bytes(), max_pixels=40_000_000)
        seed_ms, seed_faces = median_ms(seed, rgb, args.repeat)
        service_ms, service_faces = median_ms(service.detect, rgb, args.repeat)
        size = f"{rgb.shape[1]}x{rgb.shape[0]}"
        print(f"| {name} | {size} | {seed_ms:.1f} | {len(seed_faces)} | {service_ms:.1f} | "
              f"{len(service_faces)} | {seed_ms / service_ms:.2f}x |")


if __name__ == "__main__":
    main()
