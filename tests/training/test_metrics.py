"""Evaluation metrics and augmentation maths, on hand-checked numbers."""

from __future__ import annotations

import numpy as np
import pytest

from service.training.augmentation import inverse_affine_params
from service.training.evaluate import adjusted_share, binary_scores, evaluate_probabilities, macro_f1
from service.training.fit import learning_rate_at
from service.training.train import mean_and_std

CLASSES = ("angry", "happy", "sad")


def one_hot_probs(predicted: list[int], num_classes: int = 3) -> np.ndarray:
    return np.eye(num_classes, dtype=np.float32)[predicted]


def test_evaluate_probabilities_counts_and_rates():
    labels = np.array([0, 1, 1, 2, 2, 1])
    probs = one_hot_probs([0, 1, 2, 2, 1, 1])
    result = evaluate_probabilities(probs, labels, CLASSES)
    assert result["n"] == 6 and result["accuracy"] == pytest.approx(4 / 6)
    assert result["confusion_matrix"] == [[1, 0, 0], [0, 2, 1], [0, 1, 1]]
    assert result["per_class"]["happy"] == pytest.approx({"precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3, "support": 3})
    assert result["happy_vs_rest"]["accuracy"] == pytest.approx(4 / 6)
    assert result["happy_vs_sad_accuracy"] == pytest.approx(3 / 5)
    assert result["happy_share"]["true"] == pytest.approx(0.5)
    assert result["happy_share"]["predicted"] == pytest.approx(0.5)


def test_adjusted_share_removes_classifier_bias_and_clips():
    assert adjusted_share(0.5, tpr=0.8, fpr=0.1) == pytest.approx((0.5 - 0.1) / 0.7)
    assert adjusted_share(0.05, tpr=0.8, fpr=0.1) == 0.0
    assert adjusted_share(0.95, tpr=0.8, fpr=0.1) == 1.0
    assert adjusted_share(0.3, tpr=0.4, fpr=0.4) is None


def test_binary_scores_on_known_case():
    scores = binary_scores(np.array([1, 1, 0, 0, 0], bool), np.array([1, 0, 1, 0, 0], bool))
    assert scores == pytest.approx({"accuracy": 0.6, "precision": 0.5, "recall": 0.5, "f1": 0.5, "fpr": 1 / 3})


def test_macro_f1_ignores_classes_absent_from_truth_and_predictions():
    assert macro_f1(np.array([0, 0, 1]), np.array([0, 0, 1]), num_classes=5) == pytest.approx(1.0)


def test_identity_augmentation_is_the_identity_transform():
    zero = np.zeros(1)
    params = inverse_affine_params(zero, zero, np.ones(1), zero, zero, size=48)
    assert params[0] == pytest.approx([1, 0, 0, 0, 1, 0, 0, 0])


def test_flip_maps_each_column_to_its_mirror():
    params = inverse_affine_params(np.ones(1), np.zeros(1), np.ones(1), np.zeros(1), np.zeros(1), size=48)[0]
    x_out, y_out = 5.0, 7.0
    assert params[0] * x_out + params[1] * y_out + params[2] == pytest.approx(47 - x_out)
    assert params[3] * x_out + params[4] * y_out + params[5] == pytest.approx(y_out)


def test_cosine_schedule_warms_up_then_decays():
    rates = [learning_rate_at(e, 1e-3, 20, cosine=True) for e in range(20)]
    assert rates[0] < rates[1] == pytest.approx(1e-3)
    assert all(a >= b for a, b in zip(rates[1:], rates[2:])) and rates[-1] < 1e-4
    assert learning_rate_at(7, 1e-3, 20, cosine=False) == 1e-3


def test_mean_and_std_over_folds():
    folds = [{"accuracy": 0.5, "macro_f1": 0.4, "happy_vs_rest_f1": None, "happy_vs_sad_accuracy": 0.9},
             {"accuracy": 0.7, "macro_f1": 0.6, "happy_vs_rest_f1": None, "happy_vs_sad_accuracy": 0.7}]
    summary = mean_and_std(folds)
    assert summary["accuracy"]["mean"] == pytest.approx(0.6) and summary["accuracy"]["std"] == pytest.approx(0.1)
    assert summary["happy_vs_rest_f1"]["mean"] is None


def test_augment_batch_without_random_range_only_mirrors():
    tf = pytest.importorskip("tensorflow")
    from service.training.augmentation import AugmentConfig, augment_batch

    images = np.random.default_rng(0).uniform(0, 255, (16, 48, 48, 1)).astype(np.float32)
    still = AugmentConfig(max_rotation_deg=0, max_zoom=0, max_shift=0, max_contrast=0, max_brightness=0)
    out = augment_batch(tf.constant(images), still).numpy()
    for original, augmented in zip(images, out):
        assert np.allclose(augmented, original, atol=1e-3) or np.allclose(augmented, original[:, ::-1], atol=1e-3)


def test_augment_batch_keeps_shape_and_pixel_range():
    tf = pytest.importorskip("tensorflow")
    from service.training.augmentation import augment_batch

    images = np.random.default_rng(1).uniform(0, 255, (8, 48, 48, 1)).astype(np.float32)
    out = augment_batch(tf.constant(images)).numpy()
    assert out.shape == images.shape and out.min() >= 0 and out.max() <= 255
    assert not np.allclose(out, images)
