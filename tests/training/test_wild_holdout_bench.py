"""bench/wild_holdout.py: the served model beside its variants on the same crops (fake classifiers)."""

from __future__ import annotations

import numpy as np
import pytest

from bench.wild_holdout import FlipOnTop, set_report

CLASSES = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")


class LeftBrightIsHappy:
    """p(happy) is the share of a face's brightness in its left half: not mirror-symmetric."""

    classes, metadata = CLASSES, {"happy_vs_rest": {"tpr": 0.8, "fpr": 0.1}}

    def predict_proba(self, faces: np.ndarray) -> np.ndarray:
        left = faces[:, :, :24].astype(float).sum(axis=(1, 2))
        share = left / np.maximum(faces.astype(float).sum(axis=(1, 2)), 1)
        probabilities = np.zeros((len(faces), len(CLASSES)))
        probabilities[:, 3], probabilities[:, 4] = share, 1 - share
        return probabilities

    def decide(self, probabilities: np.ndarray) -> np.ndarray:
        return probabilities.argmax(axis=1)


def faces_lit(left: list[int], right: list[int]) -> np.ndarray:
    faces = np.zeros((len(left), 48, 48), np.uint8)
    faces[:, :, :24] = np.array(left, np.uint8)[:, None, None]
    faces[:, :, 24:] = np.array(right, np.uint8)[:, None, None]
    return faces


def test_flip_on_top_averages_a_face_with_its_mirror_image():
    probabilities = FlipOnTop(LeftBrightIsHappy()).predict_proba(faces_lit([200, 10], [50, 90]))
    assert probabilities[:, 3] == pytest.approx([0.5, 0.5])  # left and right shares averaged


def test_variant_rows_hold_paired_differences_and_changed_decisions():
    faces = faces_lit([200] * 6 + [10] * 4, [50] * 6 + [90] * 4)  # six called happy by the model
    truth = np.array([True] * 5 + [False] * 5)
    report = set_report(LeftBrightIsHappy(), {"flip_on_top": FlipOnTop(LeftBrightIsHappy())}, faces, truth,
                        np.where(truth, 3, 4))
    model, flipped = report["model"], report["flip_on_top"]
    assert model["scores"]["accuracy"] == pytest.approx(0.9) and model["accuracy_7_class"] == pytest.approx(0.9)
    assert model["scores"]["raw_share"] == pytest.approx(0.6)
    assert model["scores"]["adjusted_share"] == pytest.approx((0.6 - 0.1) / 0.7)
    # p(happy) 0.5 everywhere: argmax takes happy's index before neutral's, so every face is called happy
    assert flipped["scores"]["raw_share"] == pytest.approx(1.0)
    assert flipped["decisions_changed"] == 4
    difference = flipped["model_minus_this"]["accuracy"]
    assert difference["difference"] == pytest.approx(0.4)
    assert difference["interval"][0] > 0
    assert "_called" not in model and "_probabilities" not in flipped


def test_each_model_adjusts_its_share_with_its_own_stored_rates():
    other = LeftBrightIsHappy()
    other.metadata = {"happy_vs_rest": {"tpr": 0.6, "fpr": 0.2}}
    faces = faces_lit([200] * 6 + [10] * 4, [50] * 6 + [90] * 4)
    truth = np.array([True] * 5 + [False] * 5)
    report = set_report(LeftBrightIsHappy(), {"compare_model": other}, faces, truth, None)
    assert report["model"]["scores"]["adjusted_share"] == pytest.approx((0.6 - 0.1) / 0.7)
    assert report["compare_model"]["scores"]["adjusted_share"] == pytest.approx((0.6 - 0.2) / 0.4)
    assert report["compare_model"]["model_minus_this"]["adjusted_share"]["difference"] == pytest.approx(0.5 / 0.7 - 1)
