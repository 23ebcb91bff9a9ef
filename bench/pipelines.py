"""The two pipelines the harness compares, each split into decode / detect / classify / store.

seed: the source paper's pipeline as issue 4 describes it: Pillow decode, face_recognition's
default HOG with one upsample, then one Keras `model.predict` per face (models/paper).
service: the service's analyze_image (decode_image, to gray for hog and stub) and the Pipeline
that `happiness serve` builds (build_pipeline).
Both store their counts with the service's real upsert into the same SQLite database.
"""

from __future__ import annotations

import io
import itertools
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from PIL import Image

from bench.timing import Lap, measured
from service.config import Settings
from service.vision.detectors.base import FaceBox
from service.vision.pipeline import Detection, FrameAnalysis, summarize
from service.vision.preprocess import resize, to_gray

ROOT = Path(__file__).resolve().parents[1]
SEED_MODEL = ROOT / "models" / "paper" / "model.keras"
STAGES = ("decode", "detect", "classify", "store")


@dataclass
class Run:
    """One frame through one pipeline: its analysis and the lap of each stage."""

    analysis: FrameAnalysis
    laps: dict[str, Lap]


class SeedPipeline:
    def __init__(self, model_path: Path = SEED_MODEL) -> None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        import keras

        self.model = keras.models.load_model(model_path, compile=False)
        self.classes = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")

    def decode(self, data: bytes) -> np.ndarray:
        return np.array(Image.open(io.BytesIO(data)).convert("RGB"))

    def detect(self, rgb: np.ndarray) -> list[FaceBox]:
        import face_recognition

        return [FaceBox(*location) for location in face_recognition.face_locations(rgb, 1)]

    def classify(self, rgb: np.ndarray, boxes: list[FaceBox]) -> list[Detection]:
        """One predict call per face: the seed's habit, whose per-call overhead the benchmark
        shows beside the service's one batched call."""
        gray = to_gray(rgb)
        detections = []
        for box in boxes:
            face = resize(gray[box.top:box.bottom, box.left:box.right], 48, 48)
            scores = self.model.predict(face[np.newaxis, :, :, np.newaxis].astype(np.float32), verbose=0)[0]
            detections.append(Detection(box, self.classes[int(np.argmax(scores))],
                                        dict(zip(self.classes, map(float, scores)))))
        return detections

    def run(self, data: bytes, store: "Store") -> Run:
        laps = {}
        with measured() as laps["decode"]:
            rgb = self.decode(data)
        with measured() as laps["detect"]:
            boxes = self.detect(rgb)
        with measured() as laps["classify"]:
            analysis = summarize(self.classify(rgb, boxes), self.classes, {})
        with measured() as laps["store"]:
            store.record(analysis)
        return Run(analysis, laps)


class CpuTimedDetector:
    """Wraps the service's detector to time it inside Pipeline.analyze, so the rest of that
    call (crop, preprocess, one batched model call) is the classify stage."""

    def __init__(self, detector) -> None:
        self.inner = detector
        self.config, self.type, self.framing = detector.config, detector.type, detector.framing
        self.last = Lap()

    def detect(self, frame: np.ndarray) -> list[FaceBox]:
        with measured() as self.last:
            return self.inner.detect(frame)


class CpuTimedPipeline:
    """Wraps the service's Pipeline to time its analysis inside the service's analyze_image, so
    the rest of that call is the decode stage."""

    def __init__(self, pipeline) -> None:
        self.inner = pipeline
        self.takes_gray = pipeline.takes_gray
        self.last = Lap()

    def analyze(self, frame: np.ndarray) -> FrameAnalysis:
        with measured() as self.last:
            return self.inner.analyze(frame)


class ServicePipeline:
    def __init__(self, settings: Settings) -> None:
        from service.main import build_pipeline
        from service.vision.pipeline import Pipeline

        built = build_pipeline(settings)
        self.detector = CpuTimedDetector(built.detector)
        self.pipeline = CpuTimedPipeline(Pipeline(self.detector, built.classifier,
                                                  min_readable_face_px=built.min_readable_face_px))
        self.settings = settings

    def run(self, data: bytes, store: "Store") -> Run:
        """The frame as `happiness serve` analyses it: analyze_image decodes it (straight to gray
        for hog and stub, which never look at colour) and runs the pipeline."""
        from service.frames.service import analyze_image

        with measured() as whole:
            analysis = analyze_image(self.pipeline, data, self.settings)
        analyzed, detect = self.pipeline.last, self.detector.last
        laps = {"decode": _difference(whole, analyzed), "detect": detect,
                "classify": _difference(analyzed, detect)}
        with measured() as laps["store"]:
            store.record(analysis)
        return Run(analysis, laps)

    def smallest_face_px(self, width: int, height: int) -> float:
        """Faces at least this tall (original pixels) must be found in a frame this large."""
        return self.detector.inner.smallest_face_px(width, height)


def _difference(outer: Lap, inner: Lap) -> Lap:
    return Lap(outer.wall_ms - inner.wall_ms, outer.cpu_ms - inner.cpu_ms)


class Store:
    """The service's real write of one frame (receipt claim + count upsert) on SQLite, one
    committed transaction per frame as in a request."""

    def __init__(self, settings: Settings) -> None:
        from service.db.engine import make_engine, make_session_factory
        from service.db.migrate import upgrade

        upgrade(settings.resolved_database_url)
        self.settings = settings
        self.sessions = make_session_factory(make_engine(settings.resolved_database_url))
        self.location_id, self.camera_id = self._register_camera()
        self.numbers = itertools.count()

    def _register_camera(self) -> tuple[int, int]:
        from service.cameras.service import create_camera
        from service.locations.schemas import LocationCreate
        from service.locations.service import create_location

        with self.sessions.begin() as session:
            location = create_location(session, LocationCreate(name="bench", timezone="UTC"))
            return location.id, create_camera(session, location.id, "bench").camera.id

    def record(self, analysis: FrameAnalysis) -> None:
        from service.frames.service import FrameMeta, record_frame

        now = datetime.now(UTC)
        meta = FrameMeta(self.location_id, self.camera_id, now, f"bench-{next(self.numbers)}")
        with self.sessions.begin() as session:
            record_frame(session, meta, analysis, self.settings, now)

    def stored_frames(self) -> int:
        from sqlalchemy import func, select

        from service.db.tables import BucketCount

        with self.sessions.begin() as session:
            return int(session.scalar(select(func.coalesce(func.sum(BucketCount.frames), 0))))
