"""`happiness export`: a folder's served TFLite file rebuilt from its unchanged Keras weights."""

from __future__ import annotations

import shutil

import pytest

pytest.importorskip("tensorflow")

from service.training.cli import main  # noqa: E402
from service.training.model_folder import read_metadata  # noqa: E402
from service.training.convert import keras_to_tflite  # noqa: E402


@pytest.fixture()
def float32_folder(tiny_model, tmp_path):
    """tiny_model as a folder written before quantisation: a float32 model.tflite."""
    folder = tmp_path / "old"
    shutil.copytree(tiny_model, folder)
    (folder / "model.tflite").write_bytes(keras_to_tflite(folder / "model.keras", quantize=False))
    return folder


def test_export_quantises_the_served_file_and_measures_it_again(float32_folder, tiny_dataset):
    before = read_metadata(float32_folder)
    keras_bytes = (float32_folder / "model.keras").read_bytes()
    history_bytes = (float32_folder / "history.json").read_bytes()
    float_size = (float32_folder / "model.tflite").stat().st_size
    assert main(["export", "--model", str(float32_folder), "--data", str(tiny_dataset)]) == 0
    after = read_metadata(float32_folder)
    assert (float32_folder / "model.tflite").stat().st_size < float_size / 3
    assert (float32_folder / "model.keras").read_bytes() == keras_bytes
    assert after["exports"][-1]["previous_version"] == before["version"]
    assert "export --model" in after["exports"][-1]["command"] and "quantised" in after["tflite"]
    assert after["metrics"]["n"] == 28 and set(after["happy_vs_rest"]) == {"tpr", "fpr", "n_happy", "n_other"}
    assert after["training"] == before["training"]
    assert (float32_folder / "history.json").read_bytes() == history_bytes


def test_export_of_a_missing_folder_is_an_error_exit(tmp_path, tiny_dataset):
    assert main(["export", "--model", str(tmp_path / "none"), "--data", str(tiny_dataset)]) == 2


def test_export_calibrates_and_balances_the_happy_share(float32_folder, tiny_dataset):
    """--calibrate stores a temperature with the calibration error before and after; --balance-data
    stores a happy threshold whose share bias on the fit sets is the smallest the grid allows,
    and the stored rates and metrics are measured with that rule."""
    from service.training import calibration
    from service.training.datasets import load_split
    from service.training.evaluate import evaluate_probabilities, predict_in_batches
    from service.vision.classifier import EmotionClassifier

    assert main(["export", "--model", str(float32_folder), "--data", str(tiny_dataset), "--calibrate",
                 "--balance-data", str(tiny_dataset / "train")]) == 0
    after = read_metadata(float32_folder)
    assert 0.25 <= after["postprocess"]["temperature"] <= 4.0
    assert after["calibration"]["nll_after"] <= after["calibration"]["nll_before"] + 1e-9
    threshold = after["decision"]["happy_threshold"]
    assert threshold in calibration.THRESHOLD_GRID
    assert {"fit half", "check half"} <= {name.split("(")[-1].rstrip(")") for name in after["decision"]["share_bias_at_threshold"]}
    classifier = EmotionClassifier.load(float32_folder)
    val = load_split(tiny_dataset / "val", classifier.classes)
    served = evaluate_probabilities(predict_in_batches(classifier, val.images), val.labels, val.classes,
                                    happy_threshold=threshold)
    assert after["metrics"]["happy_vs_rest"] == served["happy_vs_rest"]


def test_export_balances_on_faces_read_through_the_served_crop(float32_folder, tiny_dataset, tmp_path):
    """--balance-crop served: the balance folder's images go through the real detector and crop,
    so an image without a face is left out (its own framing would count it)."""
    import cv2
    import numpy as np
    from skimage import data

    folder = tmp_path / "balance"
    astronaut = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    images = {"happy/a.png": astronaut, "happy/b.png": cv2.resize(astronaut, (256, 256)),
              "neutral/c.png": cv2.flip(astronaut, 1), "neutral/d.png": cv2.resize(cv2.flip(astronaut, 1), (300, 300)),
              "neutral/blank.png": np.full((200, 200, 3), 128, np.uint8)}
    for name, image in images.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / name), image)
    for crop, found in (("own", 5), ("served", 4)):
        assert main(["export", "--model", str(float32_folder), "--data", str(tiny_dataset), "--balance-data",
                     str(folder), "--balance-crop", crop]) == 0
        decision = read_metadata(float32_folder)["decision"]
        assert decision["balance_crop"] == crop
        balance_faces = sum(n for name, n in decision["faces"].items() if name.startswith(str(folder)))
        assert balance_faces == found
