"""Tiny train + evaluate through the CLI handlers, metadata round trip and the JSON shape."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("tensorflow")

from service.training.cli import main  # noqa: E402
from service.training.model_folder import read_metadata  # noqa: E402

JSON_KEYS = {"n", "accuracy", "macro_f1", "per_class", "confusion_matrix", "happy_vs_rest",
             "happy_vs_sad_accuracy", "happy_share"}
CLASSES = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]


def test_train_writes_a_complete_model_folder(tiny_model):
    names = {path.name for path in tiny_model.iterdir()}
    assert {"model.keras", "model.tflite", "metadata.json", "history.json"} <= names
    history = json.loads((tiny_model / "history.json").read_text())
    assert [entry["epoch"] for entry in history] == [1]
    assert {"val_accuracy", "val_loss", "val_macro_f1", "loss"} <= set(history[0])


def test_committed_keras_file_holds_weights_without_optimiser_state(tiny_model, tmp_path):
    import zipfile

    import h5py

    from service.training.architectures import load_saved_model

    with zipfile.ZipFile(tiny_model / "model.keras") as archive:
        archive.extract("model.weights.h5", tmp_path)
    names: list[str] = []
    with h5py.File(tmp_path / "model.weights.h5", "r") as weights:
        weights.visit(names.append)
    assert names and not [name for name in names if "optimizer" in name]
    assert load_saved_model(tiny_model / "model.keras").count_params() == 981_735


def test_metadata_round_trip(tiny_model):
    metadata = read_metadata(tiny_model)
    assert metadata["name"] == "tiny" and metadata["classes"] == CLASSES and metadata["input_size"] == [48, 48]
    assert set(metadata["happy_vs_rest"]) == {"tpr", "fpr", "n_happy", "n_other"}
    assert (metadata["happy_vs_rest"]["n_happy"], metadata["happy_vs_rest"]["n_other"]) == (4, 24)  # val: 4 a class
    assert metadata["metrics"]["n"] == 28
    training = metadata["training"]
    assert "train --data" in training["command"] and training["epochs_run"] == 1
    assert training["data"]["train_counts"] == {name: 12 for name in CLASSES}
    assert training["data"]["val_counts"] == {name: 4 for name in CLASSES}
    assert training["wall_time_s"] > 0 and training["machine"]["cores"] >= 1


def test_evaluate_json_prints_exactly_one_object(tiny_model, tiny_dataset, capsys):
    assert main(["evaluate", "--data", str(tiny_dataset / "val"), "--model", str(tiny_model), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == JSON_KEYS
    assert result["n"] == 28 and list(result["per_class"]) == CLASSES
    assert set(result["per_class"]["happy"]) == {"precision", "recall", "f1", "support"}
    assert len(result["confusion_matrix"]) == 7 and sum(map(sum, result["confusion_matrix"])) == 28
    assert set(result["happy_vs_rest"]) == {"accuracy", "precision", "recall", "f1"}
    assert set(result["happy_share"]) == {"true", "predicted", "adjusted"}
    assert result["happy_share"]["true"] == pytest.approx(4 / 28)
    assert 0.0 <= result["happy_vs_sad_accuracy"] <= 1.0


def test_evaluate_on_a_root_uses_val_and_writes_a_report(tiny_model, tiny_dataset, tmp_path, capsys):
    report = tmp_path / "report"
    assert main(["evaluate", "--data", str(tiny_dataset), "--model", str(tiny_model), "--report", str(report)]) == 0
    assert "accuracy" in capsys.readouterr().out
    assert {"confusion_matrix.png", "accuracy.png", "loss.png", "f1.png", "summary.md"} <= {p.name for p in report.iterdir()}
    assert "happy vs rest f1" in (report / "summary.md").read_text()


def test_evaluate_intervals_and_baseline_extend_the_json(tiny_model, tiny_dataset, capsys):
    args = ["evaluate", "--data", str(tiny_dataset / "val"), "--model", str(tiny_model), "--json",
            "--intervals", "200", "--baseline", str(tiny_model)]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == JSON_KEYS | {"intervals", "baseline"}
    section = result["intervals"]
    assert section["resamples"] == 200 and section["level"] == 0.95
    accuracy = section["scores"]["accuracy"]
    assert accuracy["value"] == pytest.approx(result["accuracy"])
    assert accuracy["interval"][0] <= accuracy["value"] <= accuracy["interval"][1]
    assert result["baseline"]["name"] == "tiny"
    # the model compared with itself: every paired difference is exactly zero
    assert {c["difference"] for c in result["baseline"]["differences"].values() if c} == {0}


def test_evaluate_readable_output_and_report_show_the_intervals(tiny_model, tiny_dataset, tmp_path, capsys):
    report = tmp_path / "report"
    args = ["evaluate", "--data", str(tiny_dataset / "val"), "--model", str(tiny_model), "--intervals", "150",
            "--baseline", str(tiny_model), "--report", str(report)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "95% intervals (percentile bootstrap over faces, 150 resamples)" in out and "difference from tiny" in out
    summary = (report / "summary.md").read_text()
    assert "| figure | value | 95% interval | tiny " in summary and "| happy_vs_rest_f1 |" in summary


def test_evaluate_refuses_a_baseline_with_other_classes(tiny_model, tiny_dataset, tmp_path, capsys):
    other = tmp_path / "other"
    other.mkdir()
    for path in tiny_model.iterdir():
        (other / path.name).write_bytes(path.read_bytes())
    metadata = json.loads((other / "metadata.json").read_text())
    metadata["classes"] = metadata["classes"][::-1]
    (other / "metadata.json").write_text(json.dumps(metadata))
    args = ["evaluate", "--data", str(tiny_dataset / "val"), "--model", str(tiny_model), "--json", "--baseline", str(other)]
    assert main(args) == 2
    assert capsys.readouterr().out == ""


def test_evaluate_prior_shift_section(tiny_model, tmp_path, capsys):
    from synthetic_faces import write_class_folders

    write_class_folders(tmp_path / "faces", {"happy": 60, "neutral": 120, "sad": 80}, seed=5)
    args = ["evaluate", "--data", str(tmp_path / "faces"), "--model", str(tiny_model), "--json", "--prior-shift"]
    assert main(args) == 0
    section = json.loads(capsys.readouterr().out)["prior_shift"]
    assert section["group_size"] == 40  # 30 happy faces in a test half make 75% of 40
    assert [row["true_share"] for row in section["shares"]] == [0.05, 0.1, 0.25, 0.5, 0.75]
    assert set(section["shares"][0]) == {"true_share", "raw", "adjusted"}


def test_evaluate_prior_shift_refuses_too_few_faces(tiny_model, tiny_dataset, capsys):
    args = ["evaluate", "--data", str(tiny_dataset / "val"), "--model", str(tiny_model), "--json", "--prior-shift"]
    assert main(args) == 2
    assert capsys.readouterr().out == ""


def test_resume_continues_after_the_last_finished_epoch(tiny_dataset, tmp_path):
    out, work = tmp_path / "m", tmp_path / "work"
    args = ["train", "--data", str(tiny_dataset), "--arch", "paper", "--out", str(out),
            "--batch-size", "32", "--work-dir", str(work), "--classes", "happy,sad"]
    assert main([*args, "--epochs", "1"]) == 0
    assert main([*args, "--epochs", "2", "--resume"]) == 0
    metadata = read_metadata(out)
    assert metadata["classes"] == ["happy", "sad"] and metadata["training"]["epochs_run"] == 2
    assert [entry["epoch"] for entry in json.loads((out / "history.json").read_text())] == [1, 2]


def test_cross_validation_reports_mean_and_std(tiny_dataset, tmp_path, capsys):
    args = ["train", "--data", str(tiny_dataset), "--arch", "paper", "--out", str(tmp_path / "cv"), "--epochs", "1",
            "--cv", "2", "--classes", "happy,sad,angry", "--work-dir", str(tmp_path / "work")]
    assert main(args) == 0
    summary = json.loads((tmp_path / "cv" / "cv.json").read_text())
    assert summary["k"] == 2 and len(summary["metrics"]["accuracy"]["folds"]) == 2
    assert set(summary["metrics"]["accuracy"]) == {"mean", "std", "folds"}


def test_missing_data_folder_is_an_error_exit(tmp_path):
    assert main(["train", "--data", str(tmp_path / "nothing"), "--arch", "paper", "--out", str(tmp_path / "m")]) == 2
