"""`happiness bench detect`: each face detector on faces whose truth is known, and its cost.

- samples: the ten shared photos (14 faces, listed in ../shared/samples/README.md); a face is
  found when a box overlaps the seed's box for it (IoU >= 0.3); any other box is false.
- street: bench/street.py's 1920x1080 street with 4 faces of each size from 16 to 200 px.
- footage: the shared clip's faces counted by eye (bench/footage_truth.py).
- ms per frame on one core (process CPU time, median of --repeat) at 480x270, 1280x720, 1920x1080.

Detectors: `seed` (face_recognition's HOG with one upsample, the paper's call), `hog` and
`blazeface` as the service builds them, and variants named like `blazeface:min_score=0.7`.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from service.vision.detectors import FaceBox, build_detector
from service.vision.preprocess import resize

FOOTAGE = Path(__file__).resolve().parents[2] / "shared" / "footage" / "hamilton_clip.mp4"
SIZES = {"480x270": (480, 270), "1280x720": (1280, 720), "1920x1080": (1920, 1080)}
MATCH_IOU = 0.3
DEFAULT_DETECTORS = "seed,hog,blazeface"


@dataclass
class Score:
    """Faces found of those in view, and boxes that are no face."""

    found: int = 0
    faces: int = 0
    false: int = 0
    boxes: int = 0

    def add(self, other: Score) -> None:
        self.found += other.found
        self.faces += other.faces
        self.false += other.false
        self.boxes += other.boxes

    @property
    def recall(self) -> float:
        return self.found / self.faces if self.faces else float("nan")

    @property
    def false_share(self) -> float:
        """False boxes among all boxes the detector gave."""
        return self.false / self.boxes if self.boxes else 0.0


def match(found: Sequence[FaceBox], faces: Iterable[FaceBox], ignore_rest: bool = False) -> tuple[list[bool], Score]:
    """Which true faces a box found (each box finds one face at most, best overlap first), and
    the score; with `ignore_rest` unmatched boxes are neither false nor counted."""
    faces, used, hits = list(faces), set(), []
    for face in faces:
        candidates = [(face.iou(box), index) for index, box in enumerate(found) if index not in used]
        best = max(candidates, default=(0.0, -1))
        hits.append(best[0] >= MATCH_IOU)
        if hits[-1]:
            used.add(best[1])
    false = 0 if ignore_rest else len(found) - len(used)
    return hits, Score(sum(hits), len(faces), false, len(used) + false)


@dataclass
class Report:
    name: str
    samples: Score = field(default_factory=Score)
    footage: Score = field(default_factory=Score)
    street: dict[int, list[bool]] = field(default_factory=dict)
    street_false: int = 0
    ms: dict[str, float] = field(default_factory=dict)


def detector_of(spec: str) -> Callable[[np.ndarray], list[FaceBox]]:
    """`seed`, or a service detector type with `:name=value,...` options."""
    if spec == "seed":
        import face_recognition

        return lambda rgb: [FaceBox(*location) for location in face_recognition.face_locations(rgb, 1)]
    kind, _, options = spec.partition(":")
    parsed = dict(option.split("=") for option in options.split(",") if option)
    return build_detector(kind, **{key: number_or_text(value) for key, value in parsed.items()}).detect


def number_or_text(value: str) -> int | float | str:
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def score_samples(detect, samples: Path, reference) -> Score:
    """Every shared photo: its listed faces (the seed's boxes) found, other boxes false."""
    from service.vision.decode import decode_image

    total = Score()
    for path in sorted(samples.glob("*.jpg")):
        rgb = decode_image(path.read_bytes(), max_pixels=50_000_000)
        total.add(match(detect(rgb), reference(path.name, rgb))[1])
    return total


def score_street(detect, frame: np.ndarray, truths) -> tuple[dict[int, list[bool]], int]:
    hits, score = match(detect(frame), [FaceBox(*truth.box) for truth in truths])
    by_size: dict[int, list[bool]] = {}
    for truth, hit in zip(truths, hits):
        by_size.setdefault(truth.size, []).append(hit)
    return by_size, score.false


def footage_frames() -> dict[int, np.ndarray]:
    """The counted frames of the shared clip, RGB."""
    import cv2

    from bench.footage_truth import truth

    wanted, frames, capture = {t.frame for t in truth()}, {}, cv2.VideoCapture(str(FOOTAGE))
    number = 0
    while wanted - frames.keys():
        ok, frame = capture.read()
        if not ok:
            break
        if number in wanted:
            frames[number] = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        number += 1
    capture.release()
    return frames


def score_footage(detect, frames: dict[int, np.ndarray]) -> Score:
    from bench.footage_truth import truth

    total = Score()
    for counted in truth():
        faces = [FaceBox(*box) for box in counted.faces]
        total.add(match(detect(frames[counted.frame]), faces, counted.ignore_rest)[1])
    return total


def cpu_ms(detect, rgb: np.ndarray, repeat: int) -> float:
    detect(rgb)  # warm-up: interpreters, threads' detectors
    runs = []
    for _ in range(repeat):
        started = time.process_time()
        detect(rgb)
        runs.append((time.process_time() - started) * 1e3)
    return statistics.median(runs)


def measure(spec: str, samples: Path | None, street, footage: dict[int, np.ndarray] | None,
            reference, repeat: int) -> Report:
    detect, report = detector_of(spec), Report(spec)
    if samples is not None:
        report.samples = score_samples(detect, samples, reference)
    if footage:
        report.footage = score_footage(detect, footage)
    report.street, report.street_false = score_street(detect, *street)
    for label, (width, height) in SIZES.items():
        report.ms[label] = cpu_ms(detect, resize(street[0], width, height), repeat)
    return report


def seed_reference() -> Callable[[str, np.ndarray], list[FaceBox]]:
    """The seed's boxes per sample photo (they are the listed faces), computed once."""
    seed, cache = detector_of("seed"), {}

    def reference(name: str, rgb: np.ndarray) -> list[FaceBox]:
        if name not in cache:
            cache[name] = seed(rgb)
        return cache[name]

    return reference


def table(reports: list[Report]) -> str:
    sizes = sorted(reports[0].street)
    head = ["detector", "samples found", "samples false", "footage found", "footage false",
            *(f"street {size} px" for size in sizes), "street false", *(f"ms {label}" for label in SIZES)]
    rows = ["| " + " | ".join(head) + " |", "| --- |" + " ---: |" * (len(head) - 1)]
    for r in reports:
        cells = [r.name, f"{r.samples.found}/{r.samples.faces}", f"{r.samples.false}",
                 f"{r.footage.found}/{r.footage.faces}", f"{r.footage.false} ({r.footage.false_share:.0%})",
                 *(f"{sum(r.street[size])}/{len(r.street[size])}" for size in sizes), str(r.street_false),
                 *(f"{r.ms[label]:.1f}" for label in SIZES)]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main(samples: Path, detectors: str, repeat: int, quick: bool) -> int:
    from bench.scenes import faces
    from bench.street import street_scene

    have_samples = samples.is_dir()
    photos = tuple(sorted(samples.glob("*.jpg"))) if have_samples else ()
    sizes = (24, 48, 96) if quick else (16, 20, 24, 32, 48, 64, 96, 128, 200)
    street = street_scene(faces(photos), sizes=sizes, per_size=2 if quick else 4)
    footage = footage_frames() if FOOTAGE.is_file() and not quick else None
    specs = [spec.strip() for spec in (detectors or DEFAULT_DETECTORS).split(";" if ":" in detectors else ",")]
    reference = seed_reference()  # one cache of the seed's boxes for every detector compared
    reports = [measure(spec, samples if have_samples and not quick else None, street, footage,
                       reference, 1 if quick else repeat) for spec in specs]
    print(f"faces in view found and false boxes; CPU ms per frame on one core, median of {repeat}")
    print(table(reports))
    return 0
