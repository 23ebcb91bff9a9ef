"""GENKI's smiles as happy / not-happy targets: the loss, the metric, and the training option."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("tensorflow")

from service.training.datasets import FaceSet  # noqa: E402
from service.training.happy_targets import HappyAccuracy, HappyTargetLoss  # noqa: E402

C, HAPPY = 7, 3


def rows(class_targets: list[int | None], smiles: list[bool | None]) -> np.ndarray:
    """y_true [B, C + 1]: a class index (class row) or a smile flag (happy/not-happy row) per row."""
    y = np.zeros((len(class_targets), C + 1), np.float32)
    for i, (target, smile) in enumerate(zip(class_targets, smiles)):
        if target is not None:
            y[i, target] = 1.0
        else:
            y[i, C], y[i, HAPPY] = 1.0, float(smile)
    return y


def predictions(p_happy: list[float], lean: list[int]) -> np.ndarray:
    """Softmax rows with the given p(happy), the rest mostly on class ``lean``."""
    p = np.full((len(p_happy), C), 0.0, np.float32)
    for i, (happy, other) in enumerate(zip(p_happy, lean)):
        p[i] = (1 - happy) * 0.1 / 5
        p[i, other] = (1 - happy) * 0.9
        p[i, HAPPY] = happy
    return p


def per_row(loss, y, p) -> np.ndarray:
    return np.array([float(loss(y[i : i + 1], p[i : i + 1])) for i in range(len(y))])


def test_class_rows_get_the_usual_smoothed_categorical_cross_entropy():
    import keras

    y, p = rows([0, 5], [None, None]), predictions([0.2, 0.6], [0, 5])
    expected = keras.losses.CategoricalCrossentropy(label_smoothing=0.1, reduction=None)(y[:, :C], p)
    np.testing.assert_allclose(per_row(HappyTargetLoss(C, HAPPY, 3.0, 0.1), y, p), expected, rtol=1e-5)


def test_happy_only_rows_are_scored_on_p_happy_alone_and_weighted():
    y = rows([None] * 4, [True, True, False, False])
    p = predictions([0.8, 0.8, 0.8, 0.1], [0, 6, 0, 0])
    plain = per_row(HappyTargetLoss(C, HAPPY, 1.0), y, p)
    assert plain[0] == pytest.approx(-np.log(0.8), rel=1e-5)
    assert plain[0] == pytest.approx(plain[1], rel=1e-6)  # where the rest of the mass sits does not matter
    assert plain[2] == pytest.approx(-np.log(0.2), rel=1e-4) and plain[3] < plain[2]
    np.testing.assert_allclose(per_row(HappyTargetLoss(C, HAPPY, 2.5), y, p), 2.5 * plain, rtol=1e-5)
    assert per_row(HappyTargetLoss(C, HAPPY, 0.0), y, p).tolist() == [0.0] * 4


def test_mixed_accuracy_reads_each_row_by_its_kind():
    y = rows([0, 0, None, None, None], [None, None, True, False, False])
    p = predictions([0.1, 0.1, 0.6, 0.6, 0.1], [0, 5, 0, 0, 0])
    metric = HappyAccuracy(C, HAPPY)
    metric.update_state(y, p)
    assert float(metric.result()) == pytest.approx(3 / 5)  # right: rows 0, 2 and 4
    assert HappyAccuracy.from_config(metric.get_config()).get_config() == metric.get_config()


def test_training_targets_mark_happy_only_faces_and_subsets_keep_them():
    faces = FaceSet(np.zeros((3, 48, 48), np.uint8), np.array([0, 3, 4]), ("angry", "b", "c", "happy", "neutral"),
                    happy_only=np.array([False, True, False]))
    targets = faces.training_targets()
    assert targets.shape == (3, 6) and targets[:, 5].tolist() == [0.0, 1.0, 0.0]
    assert faces.subset(np.array([1])).training_targets()[0].tolist() == [0, 0, 0, 1, 0, 1]


def real_face(variant: int) -> np.ndarray:
    """A tight 64x64 crop of scikit-image's astronaut (a real face BlazeFace finds), varied a little."""
    from skimage import data

    photo = np.ascontiguousarray(data.astronaut())
    face = cv2.resize(photo[75:175, 175:275], (64, 64), interpolation=cv2.INTER_AREA)
    face = face[:, ::-1] if variant % 2 else face
    return np.clip(face.astype(int) + 6 * (variant - 2), 0, 255).astype(np.uint8)


@pytest.fixture
def genki_root(tmp_path) -> Path:
    """smile/file0001.jpg is in the committed hold-out; the others are not."""
    names = {"smile": ["file0001.jpg", "file0002.jpg", "file0003.jpg"], "non_smile": ["file2163.jpg", "file2164.jpg"]}
    for index, (folder, files) in enumerate(names.items()):
        (tmp_path / folder).mkdir()
        for offset, name in enumerate(files):
            cv2.imwrite(str(tmp_path / folder / name), real_face(index * 3 + offset)[..., ::-1])
    return tmp_path


def test_genki_faces_reach_the_loss_of_a_training_batch(tiny_dataset, genki_root, tmp_path):
    from service.training.fit import _compiled_model
    from service.training.train_config import TrainConfig
    from service.training.train_data import load_train_val, make_train_dataset

    config = TrainConfig(data=str(tiny_dataset), arch="paper", out=str(tmp_path / "m"), genki=str(genki_root),
                         genki_weight=4.0)
    train, _, summary = load_train_val(config)
    genki_paths = [path for path in train.paths if path.startswith("genki/")]
    assert genki_paths == ["genki/smile/file0002.jpg", "genki/smile/file0003.jpg", "genki/non_smile/file2163.jpg",
                           "genki/non_smile/file2164.jpg"]  # found by BlazeFace; the hold-out file never
    assert summary["genki"]["found"] == 4 and summary["genki"]["weight"] == 4.0
    recipe = config.recipe()
    model = _compiled_model(config, recipe)
    images, targets = next(iter(make_train_dataset(train, 256, augment=False, seed=0)))
    assert targets.shape[1] == C + 1 and float(targets[:, C].numpy().sum()) == 4
    predicted = model(images, training=False)
    p, t = np.clip(predicted.numpy().astype(np.float64), 1e-7, 1 - 1e-7), targets.numpy().astype(np.float64)
    binary = t[:, C] > 0.5
    ce = -(np.where(binary[:, None], 0, t[:, :C] * 0.9 + 0.1 / C) * np.log(p)).sum(axis=1)
    smooth = t[:, HAPPY] * 0.9 + 0.05
    bce = -(smooth * np.log(p[:, HAPPY]) + (1 - smooth) * np.log(1 - p[:, HAPPY]))
    expected = np.where(binary, 4.0 * bce, ce).mean()
    without_weight = np.where(binary, bce, ce).mean()
    computed = float(model.compute_loss(images, targets, predicted))
    assert computed == pytest.approx(expected, rel=1e-3)
    assert abs(computed - without_weight) > 10 * abs(computed - expected)  # the weight is what made the difference


def test_cli_trains_with_genki_and_records_it(tiny_dataset, genki_root, tmp_path):
    from service.training.cli import main
    from service.training.model_folder import read_metadata

    out = tmp_path / "with-genki"
    args = ["train", "--data", str(tiny_dataset), "--arch", "paper", "--out", str(out), "--epochs", "1",
            "--batch-size", "32", "--work-dir", str(tmp_path / "work"), "--genki", str(genki_root),
            "--genki-weight", "2"]
    assert main(args) == 0
    training = read_metadata(out)["training"]
    assert training["genki"] == str(genki_root) and training["genki_weight"] == 2.0
    assert training["data"]["genki"]["found"] == 4
    # a checkpoint compiled with the GENKI loss and metric loads again to continue
    assert main([*args[:8], "2", *args[9:], "--resume"]) == 0
    assert read_metadata(out)["training"]["epochs_run"] == 2
    assert main([*args[:-4], "--genki", str(genki_root), "--class-balance", "0.5"]) == 2
