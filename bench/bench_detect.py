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


def timed(detect: Callable[[np.ndarray], list], rgb: np.ndarray) -> tuple[float, float]:
    """(wall ms, CPU ms) of one call. CPU time is what a frame costs one core, and it is far
    less disturbed than wall time when other jobs share the machine."""
    wall, cpu = time.perf_counter(), time.process_time()
    detect(rgb)
    return (time.perf_counter() - wall) * 1e3, (time.process_time() - cpu) * 1e3


def compare(detectors: dict[str, Callable], rgb: np.ndarray, repeat: int) -> dict[str, tuple[float, float, int]]:
    """Median (wall ms, CPU ms) and face count per detector. The detectors take turns call by
    call, so a burst of load from elsewhere hits both alike and the ratio stays fair."""
    faces = {name: len(detect(rgb)) for name, detect in detectors.items()}  # also warms up
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in detectors}
    for _ in range(repeat):
        for name, detect in detectors.items():
            samples[name].append(timed(detect, rgb))
    return {
        name: (statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs), faces[name])
        for name, runs in samples.items()
    }


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
    detectors = {
        "seed": seed_detector(),
        "service": build_detector(args.detector, min_face_px=args.min_face_px, max_width=args.max_width).detect,
    }
    print(f"service detector: {args.detector}, min_face_px={args.min_face_px}, max_width={args.max_width}; "
          f"medians of {args.repeat} interleaved runs; ms = wall, cpu = process CPU time\n")
    print("| frame | size | seed ms | seed cpu | seed faces | service ms | service cpu | service faces "
          "| speed-up (wall) | speed-up (cpu) |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name in FRAMES:
        rgb = decode_image((args.samples / name).read_bytes(), max_pixels=40_000_000)
        result = compare(detectors, rgb, args.repeat)
        (seed_ms, seed_cpu, seed_faces), (ours_ms, ours_cpu, ours_faces) = result["seed"], result["service"]
        print(f"| {name} | {rgb.shape[1]}x{rgb.shape[0]} | {seed_ms:.0f} | {seed_cpu:.0f} | {seed_faces} "
              f"| {ours_ms:.0f} | {ours_cpu:.0f} | {ours_faces} | {seed_ms / ours_ms:.2f}x | {seed_cpu / ours_cpu:.2f}x |")


if __name__ == "__main__":
    main()
