"""Class-balanced loss weights: known answers on constructed targets, the weights travel with
their faces through the shuffled training pipeline, and the CLI records the setting."""

from __future__ import annotations

import numpy as np
import pytest

from service.training.datasets import FaceSet, class_balance_weights

ONE_HOT = np.eye(2, dtype=np.float32)[[0, 1, 1, 1]]  # one face of class 0, three of class 1


def test_power_one_gives_every_class_the_same_total_weight():
    weights = class_balance_weights(ONE_HOT, 1.0)
    # mean class size 2: class 0 weighs 2/1, class 1 weighs 2/3; their mean is already 1
    np.testing.assert_allclose(weights, [2.0, 2 / 3, 2 / 3, 2 / 3], rtol=1e-6)
    assert weights[0] == pytest.approx(weights[1:].sum())


def test_power_half_is_the_square_root_scaled_to_a_mean_of_one():
    weights = class_balance_weights(ONE_HOT, 0.5)
    raw = np.array([2 ** 0.5, (2 / 3) ** 0.5, (2 / 3) ** 0.5, (2 / 3) ** 0.5])
    np.testing.assert_allclose(weights, raw / raw.mean(), rtol=1e-6)
    assert weights.mean() == pytest.approx(1.0)


def test_power_zero_weighs_faces_alike():
    np.testing.assert_allclose(class_balance_weights(ONE_HOT, 0.0), np.ones(4))


def test_a_soft_target_weighs_the_mean_of_its_classes_weights():
    targets = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [0.0, 1.0], [0.5, 0.5]], np.float32)
    weights = class_balance_weights(targets, 1.0)
    # class masses 1.5 and 3.5, mean 2.5: per-class 5/3 and 5/7; the mixed face weighs their mean
    per_class = np.array([2.5 / 1.5, 2.5 / 3.5])
    raw = targets @ per_class
    np.testing.assert_allclose(weights, raw / raw.mean(), rtol=1e-6)
    assert weights[4] == pytest.approx((weights[0] + weights[1]) / 2)


def test_refusals():
    with pytest.raises(ValueError, match="must be >= 0"):
        class_balance_weights(ONE_HOT, -0.5)
    with pytest.raises(ValueError, match="every class"):
        class_balance_weights(np.eye(3, dtype=np.float32)[[0, 1, 1]], 0.5)


def test_training_pipeline_pairs_each_face_with_its_weight():
    pytest.importorskip("tensorflow")
    from service.training.train_data import make_train_dataset

    labels = np.array([0] * 3 + [1] * 9)
    # each face's pixels carry its label, so a shuffled batch can be checked face by face
    images = np.repeat(labels[:, None, None], 48, axis=1).repeat(48, axis=2).astype(np.uint8) * 200
    faces = FaceSet(images, labels, ("happy", "sad"))
    batch = next(iter(make_train_dataset(faces, batch_size=12, augment=False, seed=3, class_balance=1.0)))
    assert len(batch) == 3
    pixels, targets, weights = (part.numpy() for part in batch)
    is_happy = pixels[:, 0, 0, 0] == 0
    assert np.array_equal(targets[:, 0] == 1, is_happy)
    # 3 happy and 9 sad faces at power 1: each happy face weighs 2, each sad face 2/3
    np.testing.assert_allclose(weights[is_happy], 2.0, rtol=1e-6)
    np.testing.assert_allclose(weights[~is_happy], 2 / 3, rtol=1e-6)
    unweighted = next(iter(make_train_dataset(faces, batch_size=12, augment=False, seed=3)))
    assert len(unweighted) == 2


def test_cli_trains_with_class_balance_and_records_it(tiny_dataset, tmp_path):
    pytest.importorskip("tensorflow")
    from service.training.cli import main
    from service.training.model_folder import read_metadata

    out = tmp_path / "balanced"
    args = ["train", "--data", str(tiny_dataset), "--arch", "paper", "--out", str(out), "--epochs", "1",
            "--batch-size", "32", "--work-dir", str(tmp_path / "work"), "--class-balance", "0.5"]
    assert main(args) == 0
    assert read_metadata(out)["training"]["class_balance"] == 0.5
    refused = ["train", "--data", str(tiny_dataset), "--arch", "paper", "--out", str(tmp_path / "no"),
               "--class-balance", "-1"]
    assert main(refused) == 2
    assert not (tmp_path / "no").exists()
