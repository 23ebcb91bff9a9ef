"""Temperature scaling, the calibration error and the share-balancing happy threshold, on data
with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from service.training import calibration
from service.vision.classifier import decide, with_temperature

CLASSES = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")


def overconfident(n: int, temperature: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from calibrated probabilities, then the probabilities sharpened by 1/temperature:
    the temperature that undoes it is known."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 1.5, (n, len(CLASSES)))
    calibrated = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(len(CLASSES), p=row) for row in calibrated])
    return with_temperature(calibrated.astype(np.float32), 1 / temperature), labels


def test_fitted_temperature_undoes_a_known_sharpening():
    probabilities, labels = overconfident(20_000, temperature=2.0)
    assert calibration.fit_temperature(probabilities, labels) == pytest.approx(2.0, rel=0.05)


def test_temperature_lowers_the_calibration_error_and_keeps_the_ranking():
    probabilities, labels = overconfident(5_000, temperature=2.0, seed=1)
    scaled = with_temperature(probabilities, calibration.fit_temperature(probabilities, labels))
    assert calibration.expected_calibration_error(scaled, labels) < 0.5 * calibration.expected_calibration_error(
        probabilities, labels)
    assert (scaled.argmax(axis=1) == probabilities.argmax(axis=1)).all()


def test_calibration_error_of_known_bins():
    # two faces at confidence 0.9, one right: bin accuracy 0.5, gap 0.4; two at 0.6 both right: gap 0.4
    probabilities = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.4, 0.6]])
    labels = np.array([0, 1, 0, 1])
    assert calibration.expected_calibration_error(probabilities, labels, bins=10) == pytest.approx(0.4)


def test_temperature_one_changes_nothing():
    probabilities = np.array([[0.7, 0.2, 0.1]], np.float32)
    assert with_temperature(probabilities, 1.0) is probabilities


def test_threshold_decides_happy_and_otherwise_the_best_other_class():
    probabilities = np.zeros((3, 7), np.float32)
    probabilities[0, [3, 4]] = [0.45, 0.55]   # happy above the threshold though not the top class
    probabilities[1, [3, 5]] = [0.6, 0.4]     # top class happy but under a threshold of 0.7
    probabilities[2, [0, 3]] = [0.2, 0.8]
    assert decide(probabilities, CLASSES).tolist() == [4, 3, 3]
    assert decide(probabilities, CLASSES, 0.4).tolist() == [3, 3, 3]
    assert decide(probabilities, CLASSES, 0.7).tolist() == [4, 5, 3]


def test_balanced_threshold_makes_false_positives_equal_false_negatives():
    # 100 happy faces with p = 0.55..0.99 and 300 others with p = 0.01..0.6: the share is
    # unbiased where the happy faces lost equal the others gained
    happy = np.linspace(0.55, 0.99, 100)
    others = np.linspace(0.01, 0.60, 300)
    labelled = calibration.LabelledHappy("known", np.concatenate([happy, others]),
                                         np.concatenate([np.ones(100, bool), np.zeros(300, bool)]))
    threshold = calibration.balanced_threshold([labelled])
    assert abs(labelled.share_bias(threshold)) <= 0.01  # a grid step moves the share by ~0.018
    assert labelled.share_bias(0.5) > 0.02  # argmax-like 0.5 would call too many faces happy


def test_balanced_threshold_minimises_the_worse_of_two_sets():
    fer = calibration.LabelledHappy("fer", np.array([0.9, 0.8, 0.3, 0.2]), np.array([1, 1, 0, 0], bool))
    wild = calibration.LabelledHappy("wild", np.array([0.9, 0.7, 0.6, 0.1]), np.array([1, 0, 0, 0], bool))
    threshold = calibration.balanced_threshold([fer, wild], grid=np.array([0.5, 0.65, 0.75, 0.85]))
    # worst bias per threshold: 0.5 -> 0.5 (wild), 0.65 -> 0.25 (wild), 0.75 -> 0, 0.85 -> 0.25 (fer)
    assert threshold == 0.75
    assert fer.share_bias(threshold) == wild.share_bias(threshold) == 0


def test_stratified_half_splits_every_class():
    labels = np.repeat(np.arange(3), [10, 11, 2])
    fit, check = calibration.stratified_half(labels, seed=3)
    assert sorted(np.concatenate([fit, check]).tolist()) == list(range(len(labels)))
    assert np.bincount(labels[fit]).tolist() == [5, 5, 1]


def test_refusals():
    with pytest.raises(ValueError):
        calibration.fit_temperature(np.zeros((0, 7)), np.zeros(0, int))
    with pytest.raises(ValueError):
        calibration.balanced_threshold([])
