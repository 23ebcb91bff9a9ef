"""Resumable Keras fitting: the learning-rate schedule, the per-epoch callbacks and the model kept.

Checkpoints live in a work folder (default ``runs/train-<model name>``): after every epoch the
full model with its optimiser state (``last.keras``), the best model on validation accuracy
(``best.keras``) and ``state.json`` (epoch, best score, history, wall time) are written, so
``--resume`` continues exactly where an interrupted run stopped.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

from service.training.architectures import Recipe, build_model, with_mirror_average
from service.training.datasets import FaceSet
from service.training.model_folder import inference_copy
from service.training.swa import AVERAGE_FILE, averaged_model, averaging_callback, initial_weights
from service.training.train_config import TrainConfig
from service.training.train_data import make_train_dataset

log = logging.getLogger(__name__)


def learning_rate_at(epoch: int, base_rate: float, total_epochs: int, cosine: bool, warmup: int = 2) -> float:
    """Learning rate of an epoch: linear warm-up, then cosine decay to 1% of the base (or constant)."""
    if not cosine:
        return base_rate
    if epoch < warmup:
        return base_rate * (epoch + 1) / warmup
    progress = (epoch - warmup) / max(1, total_epochs - warmup)
    return base_rate * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


def _validation_callback(val: FaceSet, equalized: bool):
    """Keras callback adding val_loss, val_accuracy and val_macro_f1 to each epoch's logs."""
    import keras

    from service.training.evaluate import macro_f1
    from service.vision.preprocess import equalize

    images = (equalize(val.images) if equalized else val.images)[..., np.newaxis].astype(np.float32)

    class ValidationMetrics(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            probs = self.model.predict(images, batch_size=512, verbose=0)
            picked = np.clip(probs[np.arange(len(val.labels)), val.labels], 1e-7, 1.0)
            predicted = probs.argmax(axis=1)
            logs["val_loss"] = float(-np.log(picked).mean())
            logs["val_accuracy"] = float(np.mean(predicted == val.labels))
            logs["val_macro_f1"] = macro_f1(val.labels, predicted, len(val.classes))

    return ValidationMetrics()


def _checkpoint_callback(work: Path, state: dict, patience: int, select_best: bool):
    """Keras callback saving last/best models and state.json each epoch, and stopping early."""
    import keras

    class ResumableCheckpoint(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            state["history"].append({"epoch": epoch + 1, **{k: float(v) for k, v in logs.items()}})
            state["epoch"] = epoch + 1
            state["train_seconds"] += time.perf_counter() - self.started
            if select_best and logs["val_accuracy"] > state["best_val_accuracy"]:
                state["best_val_accuracy"], state["best_epoch"] = logs["val_accuracy"], epoch + 1
                _atomic_save(self.model, work / "best.keras")
            _atomic_save(self.model, work / "last.keras")
            write_json(work / "state.json", state)
            if _stopped_early(state, patience, select_best):
                log.info("early stop: no val accuracy gain for %d epochs", patience)
                self.model.stop_training = True

    return ResumableCheckpoint()


def _atomic_save(model, path: Path) -> None:
    """Save via a temporary file so an interrupted save never leaves a broken checkpoint."""
    temporary = path.with_name(path.stem + ".tmp.keras")
    model.save(temporary)
    os.replace(temporary, path)


def write_json(path: Path, data: dict) -> None:
    """Write ``data`` as JSON via a temporary file, so an interrupted write never leaves half a file."""
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(data, indent=2))
    os.replace(temporary, path)


# ---------------------------------------------------------------- fitting


def _new_state() -> dict:
    return {"epoch": 0, "best_epoch": 0, "best_val_accuracy": -1.0, "train_seconds": 0.0, "history": []}


def _compiled_model(config: TrainConfig, recipe: Recipe):
    import keras

    model = build_model(config.arch, len(config.classes))
    optimizer = (
        keras.optimizers.AdamW(recipe.learning_rate, weight_decay=1e-2)
        if recipe.optimizer == "adamw"
        else keras.optimizers.Adam(recipe.learning_rate)
    )
    loss = keras.losses.CategoricalCrossentropy(label_smoothing=recipe.label_smoothing)
    metrics: list = ["accuracy"]
    if config.genki:  # faces labelled happy / not happy beside the class targets
        from service.training.happy_targets import HappyAccuracy, HappyTargetLoss

        happy = config.classes.index("happy")
        loss = HappyTargetLoss(len(config.classes), happy, config.genki_weight, recipe.label_smoothing)
        metrics = [HappyAccuracy(len(config.classes), happy)]
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    return model


def _start_or_resume(config: TrainConfig, recipe: Recipe, work: Path) -> tuple[object, dict]:
    """(model, state): restored from ``work`` when resuming and a checkpoint exists, else fresh."""
    import keras

    from service.training import happy_targets  # noqa: F401  (registers its loss for a checkpoint that uses it)

    state_path, last_path = work / "state.json", work / "last.keras"
    if config.resume and state_path.exists() and last_path.exists():
        state = json.loads(state_path.read_text())
        state.setdefault("commands", []).append(config.command)
        log.info("resuming from %s after epoch %d", work, state["epoch"])
        return keras.models.load_model(last_path), state
    if config.resume:
        log.warning("--resume: no checkpoint in %s, starting fresh", work)
    for stale in ("state.json", "last.keras", "best.keras", AVERAGE_FILE):
        (work / stale).unlink(missing_ok=True)
    model, state = _compiled_model(config, recipe), {**_new_state(), "commands": [config.command]}
    if config.init:
        weights, state["init"] = initial_weights(config.init, config.arch, config.classes)
        model.set_weights(weights)
        log.info("starting from the weights of %s (version %s)", config.init, state["init"]["version"])
    return model, state


def fit(config: TrainConfig, train: FaceSet, val: FaceSet, work: Path, select_best: bool = True):
    """Train (or resume) in ``work``; returns (model to keep, state with history and wall time)."""
    import keras

    recipe = config.recipe()
    select_best = select_best and not config.swa_start and config.keep == "best"
    work.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(config.seed)
    model, state = _start_or_resume(config, recipe, work)
    if state["epoch"] < recipe.epochs and not _stopped_early(state, recipe.patience, select_best):
        model.fit(
            make_train_dataset(train, recipe.batch_size, recipe.augment, config.seed + state["epoch"],
                               config.treatment(), config.class_balance),
            epochs=recipe.epochs,
            initial_epoch=state["epoch"],
            callbacks=_callbacks(config, recipe, work, state, val, select_best),
            shuffle=False,  # the tf.data pipeline shuffles, with a seed
            verbose=1 if sys.stdout.isatty() else 2,
        )
    return _model_to_keep(model, config, recipe, work, state, train, select_best), state


def _callbacks(config: TrainConfig, recipe: Recipe, work: Path, state: dict, val: FaceSet, select_best: bool) -> list:
    """Learning rate, val metrics, the weight average when asked, and the checkpoint (last: it
    saves the state the others have updated)."""
    import keras

    schedule = keras.callbacks.LearningRateScheduler(
        lambda epoch: learning_rate_at(epoch, recipe.learning_rate, recipe.epochs, recipe.cosine_schedule)
    )
    averaging = [averaging_callback(work, state, config.swa_start)] if config.swa_start else []
    return [schedule, _validation_callback(val, config.equalize), *averaging,
            _checkpoint_callback(work, state, recipe.patience, select_best)]


def _model_to_keep(model, config: TrainConfig, recipe: Recipe, work: Path, state: dict, train: FaceSet, select_best: bool):
    """The best epoch, or the weight average, wrapped for mirror averaging when the recipe says so."""
    import keras

    if select_best and (work / "best.keras").exists():
        model = keras.models.load_model(work / "best.keras")
    if config.swa_start and state.get("swa_epochs"):
        model = averaged_model(model, work, make_train_dataset(train, recipe.batch_size, recipe.augment, config.seed,
                                                               config.treatment()))
    # The bare copy first: a compiled model nested in the wrapper would carry its optimiser along.
    return with_mirror_average(inference_copy(model)) if recipe.mirror_average else model


def _stopped_early(state: dict, patience: int, select_best: bool) -> bool:
    """No val accuracy gain for ``patience`` epochs (only while the best epoch is what is kept)."""
    return select_best and state["epoch"] > 0 and state["epoch"] - state["best_epoch"] >= patience

