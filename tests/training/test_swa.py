"""Stochastic weight averaging and starting from a trained model (`train --init --swa-start`)."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("tensorflow")

import keras  # noqa: E402

from service.training.architectures import build_default, load_saved_model, with_mirror_average  # noqa: E402
from service.training.cli import main  # noqa: E402
from service.training.swa import (  # noqa: E402
    AVERAGE_FILE, bare_network, load_average, recalibrate_batch_norm, running_mean, save_average,
)
from service.training.model_folder import read_metadata  # noqa: E402


def test_running_mean_equals_the_mean_of_all_weight_sets():
    rng = np.random.default_rng(0)
    sets = [[rng.normal(size=(3, 4)), rng.normal(size=5)] for _ in range(4)]
    average = sets[0]
    for count, weights in enumerate(sets[1:], start=1):
        average = running_mean(average, weights, count)
    for index in range(2):
        np.testing.assert_allclose(average[index], np.mean([s[index] for s in sets], axis=0), atol=1e-12)


def test_average_file_round_trip(tmp_path):
    weights = [np.arange(6, dtype=np.float32).reshape(2, 3), np.ones(4, dtype=np.float32)]
    save_average(tmp_path / AVERAGE_FILE, weights)
    loaded = load_average(tmp_path / AVERAGE_FILE)
    assert [w.shape for w in loaded] == [(2, 3), (4,)]
    np.testing.assert_array_equal(loaded[0], weights[0])
    assert not list(tmp_path.glob("*.tmp"))


def test_batch_norm_statistics_become_the_mean_over_all_batches():
    inputs = keras.Input(shape=(6, 6, 1))
    convolved = keras.layers.Conv2D(3, 3, use_bias=False, name="conv")(inputs)
    model = keras.Model(inputs, keras.layers.BatchNormalization(name="norm")(convolved))
    rng = np.random.default_rng(1)
    batches = [rng.normal(loc=shift, size=(8, 6, 6, 1)).astype(np.float32) for shift in (0.0, 2.0, 5.0)]
    assert recalibrate_batch_norm(model, batches) == 3
    features = [model.get_layer("conv")(batch).numpy().reshape(-1, 3) for batch in batches]
    norm = model.get_layer("norm")
    np.testing.assert_allclose(norm.moving_mean.numpy(), np.mean([f.mean(axis=0) for f in features], axis=0), rtol=1e-4)
    np.testing.assert_allclose(norm.moving_variance.numpy(), np.mean([f.var(axis=0) for f in features], axis=0), rtol=1e-3)
    assert norm.momentum == pytest.approx(0.99)  # restored for later training


def test_bare_network_is_the_one_inside_mirror_averaging():
    network = build_default(7)
    assert bare_network(with_mirror_average(network)) is network
    assert bare_network(network) is network


@pytest.fixture(scope="module")
def averaged(tiny_model, tiny_dataset, tmp_path_factory):
    """A model started from ``tiny_model`` and averaged over two epochs, through the CLI."""
    out, work = tmp_path_factory.mktemp("swa") / "averaged", tmp_path_factory.mktemp("runs") / "averaged"
    code = main(["train", "--data", str(tiny_dataset), "--arch", "default", "--out", str(out), "--epochs", "2",
                 "--batch-size", "16", "--work-dir", str(work), "--init", str(tiny_model),
                 "--swa-start", "1", "--learning-rate", "1e-3"])
    assert code == 0
    return out, work


def test_shipped_network_holds_the_averaged_weights(averaged):
    out, work = averaged
    shipped = bare_network(load_saved_model(out / "model.keras")).get_weights()
    average = load_average(work / AVERAGE_FILE)
    last = bare_network(keras.models.load_model(work / "last.keras")).get_weights()
    np.testing.assert_allclose(shipped[0], average[0], rtol=1e-6)  # first convolution kernel
    assert not np.allclose(shipped[0], last[0])  # not simply the last epoch
    assert json.loads((work / "state.json").read_text())["swa_epochs"] == 2


def test_averaged_model_records_its_start_and_selection(averaged, tiny_model):
    metadata = read_metadata(averaged[0])
    training = metadata["training"]
    assert training["initialised_from"]["model"] == str(tiny_model)
    assert training["initialised_from"]["version"] == read_metadata(tiny_model)["version"]
    assert training["selected_on"].startswith("none: mean of the weights after epochs 1-2 (2 epochs)")
    assert training["recipe"]["cosine_schedule"] is False and training["recipe"]["learning_rate"] == 1e-3
    assert metadata["metrics"]["n"] == 28


def test_started_network_begins_from_the_given_weights(tiny_model, tiny_dataset, tmp_path):
    """One small epoch from the given weights stays next to them (Adam moves a weight ~lr per step)."""
    work = tmp_path / "work"
    args = ["train", "--data", str(tiny_dataset), "--arch", "default", "--out", str(tmp_path / "m"),
            "--batch-size", "16", "--work-dir", str(work), "--init", str(tiny_model), "--epochs", "1"]
    assert main(args) == 0
    initial = bare_network(load_saved_model(tiny_model / "model.keras")).get_weights()[0]
    trained = keras.models.load_model(work / "last.keras").get_weights()[0]
    assert np.abs(trained - initial).max() < 0.05  # one small epoch from the start, not a fresh random draw


def test_resumed_average_keeps_counting(tiny_dataset, tmp_path):
    work = tmp_path / "work"
    args = ["train", "--data", str(tiny_dataset), "--arch", "paper", "--out", str(tmp_path / "m"),
            "--batch-size", "32", "--work-dir", str(work), "--classes", "happy,sad", "--swa-start", "1"]
    assert main([*args, "--epochs", "1"]) == 0
    assert main([*args, "--epochs", "2", "--resume"]) == 0
    assert json.loads((work / "state.json").read_text())["swa_epochs"] == 2


@pytest.mark.parametrize("extra", [["--swa-start", "0"], ["--swa-start", "3"]])
def test_swa_start_outside_the_run_is_an_error_exit(tiny_dataset, tmp_path, extra):
    args = ["train", "--data", str(tiny_dataset), "--arch", "paper", "--out", str(tmp_path / "m"), "--epochs", "2"]
    assert main([*args, *extra]) == 2
    assert not (tmp_path / "m").exists()


def test_init_from_another_architecture_is_an_error_exit(tiny_model, tiny_dataset, tmp_path):
    args = ["train", "--data", str(tiny_dataset), "--arch", "paper", "--out", str(tmp_path / "m"),
            "--epochs", "1", "--init", str(tiny_model), "--work-dir", str(tmp_path / "work")]
    assert main(args) == 2
    assert not (tmp_path / "m").exists()


def test_cross_validation_refuses_the_same_swa_start(tiny_dataset, tmp_path):
    args = ["train", "--data", str(tiny_dataset), "--arch", "paper", "--out", str(tmp_path / "cv"), "--epochs", "2",
            "--cv", "2", "--swa-start", "3", "--work-dir", str(tmp_path / "work")]
    assert main(args) == 2
    assert not (tmp_path / "cv").exists() and not (tmp_path / "work").exists()


def test_keep_last_ships_the_last_epoch_not_the_best(tiny_model, tiny_dataset, tmp_path):
    """`--keep last`: no selection on val accuracy; the network after the final epoch is shipped."""
    out, work = tmp_path / "m", tmp_path / "work"
    args = ["train", "--data", str(tiny_dataset), "--arch", "default", "--out", str(out), "--batch-size", "16",
            "--work-dir", str(work), "--init", str(tiny_model), "--epochs", "2", "--keep", "last"]
    assert main(args) == 0
    shipped = bare_network(load_saved_model(out / "model.keras")).get_weights()
    last = bare_network(keras.models.load_model(work / "last.keras")).get_weights()
    np.testing.assert_allclose(shipped[0], last[0], rtol=1e-6)
    assert not (work / "best.keras").exists()
    assert read_metadata(out)["training"]["selected_on"].startswith("none: the last epoch (2)")


def test_keep_refuses_an_unknown_choice(tiny_dataset, tmp_path):
    from service.training.train_config import TrainConfig

    with pytest.raises(ValueError, match="--keep"):
        TrainConfig(data=str(tiny_dataset), arch="default", out=str(tmp_path / "m"), keep="worst")
