"""Pipeline: one batched classifier call per frame, and the counts derived from it."""

from __future__ import annotations

import numpy as np
import pytest

from service.vision.detectors import build_detector
from service.vision.detectors.base import CropFraming
from service.vision.pipeline import Pipeline

CLASSES = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")


class FakeClassifier:
    """Same attributes as EmotionClassifier; answers the given labels in order, and records
    every batch it receives."""

    classes = CLASSES
    input_size = (48, 48)
    name, version, metadata = "fake", "0", {}

    def __init__(self, labels: list[str]) -> None:
        self.labels = labels
        self.batches: list[np.ndarray] = []

    def predict_proba(self, faces: np.ndarray) -> np.ndarray:
        self.batches.append(faces)
        probabilities = np.full((len(faces), len(CLASSES)), 0.01, dtype=np.float32)
        for row, label in enumerate(self.labels[: len(faces)]):
            probabilities[row, CLASSES.index(label)] = 0.94
        return probabilities

    def decide(self, probabilities: np.ndarray) -> np.ndarray:
        return probabilities.argmax(axis=1)


def frame() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (480, 854, 3), dtype=np.uint8)


def test_counts_happy_not_happy_and_every_emotion():
    classifier = FakeClassifier(["happy", "sad", "happy", "neutral"])
    pipeline = Pipeline(build_detector("stub", faces=4), classifier)
    analysis = pipeline.analyze(frame())
    assert (analysis.faces, analysis.happy, analysis.not_happy) == (4, 2, 2)
    assert analysis.emotions == {**dict.fromkeys(CLASSES, 0), "happy": 2, "sad": 1, "neutral": 1}
    assert [d.label for d in analysis.detections] == ["happy", "sad", "happy", "neutral"]
    assert analysis.detections[1].scores["sad"] == pytest.approx(0.94)
    assert set(analysis.detections[0].scores) == set(CLASSES)


def test_classifier_called_once_with_the_whole_batch():
    classifier = FakeClassifier(["happy"] * 5)
    detector = build_detector("stub", faces=5)
    Pipeline(detector, classifier).analyze(frame())
    [batch] = classifier.batches
    assert batch.shape == (5, 48, 48) and batch.dtype == np.uint8


def test_crops_follow_the_detectors_framing_unless_one_is_given():
    from service.vision.detectors.base import CropFraming
    from service.vision.preprocess import crop_faces

    image, detector = frame(), build_detector("hog")
    boxes = build_detector("stub", faces=2).detect(image)
    detector.detect = lambda rgb: boxes  # the boxes are not what this test is about
    for framing in (None, CropFraming(margin=0.3, lift=0.2)):
        classifier = FakeClassifier(["happy", "sad"])
        Pipeline(detector, classifier, framing=framing).analyze(image)
        used = framing or detector.framing
        assert np.array_equal(classifier.batches[0], crop_faces(image, boxes, margin=used.margin, lift=used.lift))
    assert detector.framing != CropFraming(margin=0.3, lift=0.2)


def test_boxes_come_from_the_detector():
    detector = build_detector("stub", faces=2)
    image = frame()
    analysis = Pipeline(detector, FakeClassifier(["fear", "angry"])).analyze(image)
    assert [d.box for d in analysis.detections] == detector.detect(image)


def test_no_face_means_no_classifier_call():
    classifier = FakeClassifier([])
    analysis = Pipeline(build_detector("stub", faces=0), classifier).analyze(frame())
    assert classifier.batches == []
    assert (analysis.faces, analysis.happy, analysis.not_happy) == (0, 0, 0)
    assert analysis.emotions == dict.fromkeys(CLASSES, 0)
    assert set(analysis.timings_ms) == {"detect", "classify"}


def test_a_classifier_answering_the_wrong_shape_is_an_error():
    class Broken(FakeClassifier):
        def predict_proba(self, faces):
            return np.zeros((len(faces) + 1, len(CLASSES)), dtype=np.float32)

    with pytest.raises(ValueError, match="shape"):
        Pipeline(build_detector("stub", faces=1), Broken([])).analyze(frame())


def test_real_photo_with_the_hog_detector(load_sample):
    classifier = FakeClassifier(["happy", "surprise"])
    pipeline = Pipeline(build_detector("hog", min_face_px=48, max_width=1280), classifier)
    analysis = pipeline.analyze(load_sample("two_people.jpg"))
    assert (analysis.faces, analysis.happy, analysis.not_happy) == (2, 1, 1)
    [batch] = classifier.batches
    assert batch.shape == (2, 48, 48)
    assert analysis.timings_ms["detect"] > 0 and analysis.timings_ms["classify"] > 0


def test_a_gray_frame_gives_what_its_rgb_frame_gives_with_a_gray_detector():
    from service.vision.preprocess import to_gray

    rgb = frame()
    pipeline = Pipeline(build_detector("stub", faces=2), FakeClassifier(["happy", "sad"] * 2))
    assert pipeline.takes_gray and not Pipeline(build_detector("blazeface"), FakeClassifier([])).takes_gray
    from_rgb, from_gray = pipeline.analyze(rgb), pipeline.analyze(to_gray(rgb))
    assert [d.box for d in from_gray.detections] == [d.box for d in from_rgb.detections]
    first, second = pipeline.classifier.batches
    assert np.array_equal(first, second)


class FixedBoxes:
    """A detector that answers the same boxes for every frame (this test is about the split)."""

    type = "fixed"
    framing = CropFraming(margin=0.1)

    def __init__(self, boxes) -> None:
        self.boxes = boxes

    def detect(self, rgb):
        return list(self.boxes)


def test_faces_below_the_readable_size_are_seen_but_never_classified():
    from service.vision.boxes import FaceBox

    small, edge, large = (FaceBox(10, 30, 24, 10), FaceBox(40, 64, 64, 40), FaceBox(100, 200, 180, 100))
    classifier = FakeClassifier(["happy", "sad"])
    pipeline = Pipeline(FixedBoxes([small, edge, large]), classifier, min_readable_face_px=24)
    analysis = pipeline.analyze(frame())
    assert (analysis.faces, analysis.unread, analysis.sightings) == (2, 1, 3)
    assert analysis.unread_boxes == [small]  # 20 x 14: its longer side is under 24
    assert [d.box for d in analysis.detections] == [edge, large]  # 24 px is readable
    [batch] = classifier.batches
    assert len(batch) == 2  # the unread face never reached the classifier
    everything = Pipeline(FixedBoxes([small, edge, large]), FakeClassifier(["happy", "sad", "sad"])).analyze(frame())
    assert (everything.faces, everything.unread) == (3, 0)
