"""Stochastic weight averaging (SWA) and starting a run from a trained model's weights.

SWA keeps training at a constant, moderate learning rate and averages the weights reached at
the end of each epoch. The average sits nearer the centre of the wide low-loss region that the
single epochs circle around, which usually generalises better than any one of them, at no cost
per face: the shipped network is the same size. Batch norm statistics are not weights that
average well (they belong to each epoch's weights), so they are measured again on the training
data for the averaged weights.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

AVERAGE_FILE = "swa.npz"


def running_mean(average: list[np.ndarray], weights: list[np.ndarray], count: int) -> list[np.ndarray]:
    """The mean of ``count`` weight sets (``average``) updated with one more (``weights``)."""
    return [mean + (new - mean) / (count + 1) for mean, new in zip(average, weights)]


def save_average(path: Path, average: list[np.ndarray]) -> None:
    """Write the averaged weights atomically, so an interrupted run never leaves half a file."""
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as handle:
        np.savez(handle, *average)
    os.replace(temporary, path)


def load_average(path: Path) -> list[np.ndarray]:
    with np.load(path) as stored:
        return [stored[f"arr_{index}"] for index in range(len(stored.files))]


def averaging_callback(work: Path, state: dict, start_epoch: int):
    """Keras callback adding each epoch's weights, from ``start_epoch`` (1-based) on, to the mean
    kept in ``work/swa.npz``; ``state['swa_epochs']`` counts them (saved with the checkpoint)."""
    import keras

    class WeightAverage(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            count = state.get("swa_epochs", 0)
            self.average = load_average(work / AVERAGE_FILE) if count else None

        def on_epoch_end(self, epoch, logs=None):
            if epoch + 1 < start_epoch:
                return
            count, weights = state.get("swa_epochs", 0), self.model.get_weights()
            self.average = weights if count == 0 else running_mean(self.average, weights, count)
            save_average(work / AVERAGE_FILE, self.average)
            state["swa_epochs"] = count + 1

    return WeightAverage()


def batch_norm_layers(model) -> list:
    import keras

    return [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]


def recalibrate_batch_norm(model, batches) -> int:
    """Set every batch norm layer's moving mean and variance to their mean over ``batches``
    (images only, run in training mode); returns the number of batches seen.

    Momentum k/(k+1) at the k-th batch turns Keras' moving average into a plain cumulative
    mean, so every batch counts alike and the result does not depend on a decay rate.
    """
    norms = batch_norm_layers(model)
    saved_momentum = [layer.momentum for layer in norms]
    for layer in norms:
        layer.moving_mean.assign(np.zeros(layer.moving_mean.shape, dtype="float32"))
        layer.moving_variance.assign(np.ones(layer.moving_variance.shape, dtype="float32"))
    seen = 0
    for images in batches:
        for layer in norms:
            layer.momentum = seen / (seen + 1)
        model(images, training=True)
        seen += 1
    for layer, momentum in zip(norms, saved_momentum):
        layer.momentum = momentum
    return seen


def averaged_model(model, work: Path, train_batches):
    """``model`` with the averaged weights of ``work`` and batch norm measured for them."""
    model.set_weights(load_average(work / AVERAGE_FILE))
    seen = recalibrate_batch_norm(model, (images for images, _ in train_batches))
    log.info("weight average ready: batch norm statistics measured on %d training batches", seen)
    return model


# ---------------------------------------------------------------- starting from a trained model


def bare_network(model):
    """The trained network inside a shipped model: the one nested model of a mirror-averaged
    model, or the model itself when nothing is nested."""
    import keras

    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    if len(nested) > 1:
        raise ValueError("an ensemble of several networks cannot initialise one network")
    return nested[0] if nested else model


def initial_weights(model_dir: str | Path, arch: str, classes) -> tuple[list[np.ndarray], dict]:
    """(weights, provenance) of the network in a model folder, checked against this run."""
    from service.training.architectures import load_saved_model
    from service.training.convert import KERAS_FILE
    from service.training.model_folder import read_metadata

    metadata = read_metadata(model_dir)
    if metadata.get("architecture") != arch or list(metadata["classes"]) != list(classes):
        raise ValueError(f"--init {model_dir}: its architecture {metadata.get('architecture')!r} and classes "
                         f"{metadata['classes']} differ from this run's {arch!r} and {list(classes)}")
    network = bare_network(load_saved_model(Path(model_dir) / KERAS_FILE))
    provenance = {"model": str(model_dir), "version": metadata.get("version"), "training": metadata.get("training")}
    return network.get_weights(), provenance
