"""One frame in, counts out: detect -> crop + preprocess -> ONE batched classifier call.

Thread safety: a Pipeline holds no mutable state of its own. The detectors keep one dlib
object per thread (see detectors/base.py) and the classifier is only read, so one Pipeline
can serve every worker thread of a process.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from service.vision.boxes import FaceBox
from service.vision.detectors.base import CropFraming, Detector
from service.vision.preprocess import crop_faces

HAPPY = "happy"
# Detectors that never look at colour: HOG converts every frame to gray first, the stub reads
# only the frame's size. With one of these the whole pipeline runs on gray pixels (the
# classifier takes gray crops), so frames can be decoded straight to gray.
GRAY_DETECTORS = frozenset({"hog", "stub"})


class Classifier(Protocol):
    """The part of service.vision.classifier.EmotionClassifier the pipeline relies on."""

    classes: tuple[str, ...]
    input_size: tuple[int, int]

    def predict_proba(self, faces: np.ndarray) -> np.ndarray: ...

    def decide(self, probabilities: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class Detection:
    box: FaceBox
    label: str
    scores: dict[str, float]


@dataclass(frozen=True)
class FrameAnalysis:
    """What one frame contributes: happy + not_happy == faces == len(detections), and
    `emotions` has every classifier class, zero counts included. `unread_boxes` are faces found
    but smaller than the readable size: seen, never classified, never in `faces` (the index's
    denominator). timings_ms["classify"] covers cropping and preprocessing as well as the model call."""

    detections: list[Detection]
    faces: int
    happy: int
    not_happy: int
    emotions: dict[str, int]
    timings_ms: dict[str, float]
    unread_boxes: list[FaceBox] = field(default_factory=list)

    @property
    def unread(self) -> int:
        return len(self.unread_boxes)

    @property
    def sightings(self) -> int:
        """Every face found in the frame, read or not."""
        return self.faces + self.unread


class Pipeline:
    """`min_readable_face_px`: faces whose longer side is smaller are counted as unread instead of
    classified (their expression cannot be read reliably; see docs/LIMITS.md); 0 reads every face."""

    def __init__(self, detector: Detector, classifier: Classifier, *, framing: CropFraming | None = None,
                 min_readable_face_px: int = 0) -> None:
        self.detector = detector
        self.classifier = classifier
        self.framing = framing or detector.framing
        self.min_readable_face_px = min_readable_face_px

    @property
    def takes_gray(self) -> bool:
        """True when a gray HxW frame gives the same result as its RGB frame (see GRAY_DETECTORS)."""
        return self.detector.type in GRAY_DETECTORS

    def analyze(self, frame: np.ndarray) -> FrameAnalysis:
        """Analyse an RGB uint8 HxWx3 frame (as returned by decode_image), or a gray uint8 HxW
        frame when `takes_gray`."""
        started = time.perf_counter()
        readable, unread = split_readable(self.detector.detect(frame), self.min_readable_face_px)
        detected = time.perf_counter()
        detections = self._classify(frame, readable)
        classified = time.perf_counter()
        timings = {"detect": (detected - started) * 1e3, "classify": (classified - detected) * 1e3}
        return summarize(detections, self.classifier.classes, timings, unread)

    def crops(self, frame: np.ndarray, boxes: list[FaceBox]) -> np.ndarray:
        """The classifier's input for ``boxes``: cut with this pipeline's framing, gray, at its size."""
        size = tuple(self.classifier.input_size)
        return crop_faces(frame, boxes, size=size, margin=self.framing.margin, lift=self.framing.lift,
                          upright=self.framing.upright)

    def _classify(self, frame: np.ndarray, boxes: list[FaceBox]) -> list[Detection]:
        if not boxes:  # no model call at all: most frames of an empty street have no face
            return []
        crops = self.crops(frame, boxes)
        probabilities = np.asarray(self.classifier.predict_proba(crops), dtype=np.float32)
        return to_detections(boxes, probabilities, self.classifier.classes, self.classifier.decide(probabilities))


def split_readable(boxes: list[FaceBox], min_readable_face_px: int) -> tuple[list[FaceBox], list[FaceBox]]:
    """(readable, unread): a face is readable when its longer side reaches `min_readable_face_px`."""
    readable = [box for box in boxes if max(box.width, box.height) >= min_readable_face_px]
    unread = [box for box in boxes if max(box.width, box.height) < min_readable_face_px]
    return readable, unread


def to_detections(boxes: list[FaceBox], probabilities: np.ndarray, classes: tuple[str, ...],
                  decisions: np.ndarray | None = None) -> list[Detection]:
    """Pair each box with its class scores and its label: the class `decisions` gives (the
    classifier's rule), or the class of highest probability without them."""
    if probabilities.shape != (len(boxes), len(classes)):
        raise ValueError(f"classifier returned shape {probabilities.shape}, expected {(len(boxes), len(classes))}")
    decisions = probabilities.argmax(axis=1) if decisions is None else decisions
    return [
        Detection(box=box, label=classes[int(index)], scores=dict(zip(classes, map(float, row))))
        for box, row, index in zip(boxes, probabilities, decisions)
    ]


def summarize(detections: list[Detection], classes: tuple[str, ...], timings_ms: Mapping[str, float],
              unread_boxes: list[FaceBox] | None = None) -> FrameAnalysis:
    """Count faces, happy (label == "happy"), not_happy (every other label) and per-class totals."""
    emotions = dict.fromkeys(classes, 0)
    for detection in detections:
        emotions[detection.label] += 1
    happy = emotions.get(HAPPY, 0)
    return FrameAnalysis(
        detections=detections,
        faces=len(detections),
        happy=happy,
        not_happy=len(detections) - happy,
        emotions=emotions,
        timings_ms=dict(timings_ms),
        unread_boxes=list(unread_boxes or []),
    )


def build_pipeline(model_dir, detector: str, *, min_face_px: int, max_width: int,
                   min_readable_face_px: int) -> Pipeline:
    """The real detector and classifier, from plain values: the app's lifespan, the CLI and the
    edge agent all build theirs here. They are imported here, not at the top, so that API tests
    with a stub pipeline never load TensorFlow or dlib."""
    from service.vision.classifier import EmotionClassifier
    from service.vision.detectors import build_detector

    classifier = EmotionClassifier.load(model_dir)
    detector_ = build_detector(detector, min_face_px=min_face_px, max_width=max_width)
    return Pipeline(detector_, classifier, min_readable_face_px=min_readable_face_px)
