"""Training: data preparation, resumable Keras fitting, and writing the model folder.

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
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from service.training import datasets
from service.training.architectures import RECIPES, Recipe, build_model, with_mirror_average
from service.training.datasets import FaceSet
from service.training.model_folder import (inference_copy, machine_description, model_identity, served_val_metrics,
                                           write_metadata, write_model_files)
from service.training.swa import AVERAGE_FILE, averaged_model, averaging_callback, initial_weights

log = logging.getLogger(__name__)

VAL_FRACTION = 0.1


@dataclass
class TrainConfig:
    """Everything a training run depends on (recorded in the model's metadata)."""

    data: str
    arch: str
    out: str
    epochs: int | None = None
    classes: tuple[str, ...] = datasets.CANONICAL_CLASSES
    cv: int | None = None
    resume: bool = False
    batch_size: int | None = None
    seed: int = 1337
    work_dir: str | None = None
    patience: int | None = None
    learning_rate: float | None = None
    init: str | None = None  # model folder whose network weights start the run
    swa_start: int | None = None  # first epoch (1-based) of the stochastic weight average
    soft_labels: str | None = None  # FER+ votes CSV: train on vote shares (see ferplus.py)
    votes_weight: float = 1.0  # share of the FER+ votes in a soft target, the rest the folder label
    camera_augment: bool = False  # camera-like effects (augmentation.camera_effects)
    equalize: bool = False  # histogram-equalise every face in training, validation and serving
    class_balance: float = 0.0  # power of the inverse class-size loss weights (datasets.class_balance_weights)
    genki: str | None = None  # GENKI-4K root: its training part as happy/not-happy faces (happy_targets.py)
    genki_weight: float = 1.0  # loss weight of a GENKI face beside a face with a class target
    genki_detector: str = "blazeface"  # the detector GENKI's faces are read with (the served crop)
    command: str = field(default_factory=lambda: " ".join(sys.argv))

    def recipe(self) -> Recipe:
        """The architecture's recipe with this run's overrides applied."""
        recipe = RECIPES.get(self.arch, RECIPES["default"])
        overrides = {"epochs": self.epochs, "batch_size": self.batch_size, "patience": self.patience,
                     "learning_rate": self.learning_rate}
        recipe = replace(recipe, **{k: v for k, v in overrides.items() if v is not None})
        # Weight averaging wants one constant rate: the epochs it averages must circle one region.
        return replace(recipe, cosine_schedule=False) if self.swa_start else recipe

    def __post_init__(self) -> None:
        """Refuse option combinations that cannot train, for one model and for --cv alike."""
        if self.swa_start is not None and not 1 <= self.swa_start <= self.recipe().epochs:
            raise ValueError(f"--swa-start {self.swa_start} must be an epoch between 1 and {self.recipe().epochs}")
        if self.class_balance < 0:
            raise ValueError(f"--class-balance {self.class_balance} must be 0 or more")
        if self.genki and (self.class_balance or self.cv or "happy" not in self.classes or self.genki_weight < 0):
            raise ValueError("--genki needs the happy class and a --genki-weight of 0 or more, and does not go "
                             "with --class-balance or --cv")

    def treatment(self) -> InputTreatment:
        return InputTreatment(camera=self.camera_augment, equalize=self.equalize)

    def work_path(self) -> Path:
        return Path(self.work_dir) if self.work_dir else Path("runs") / f"train-{Path(self.out).name}"


# ---------------------------------------------------------------- data


def load_train_val(config: TrainConfig) -> tuple[FaceSet, FaceSet, dict]:
    """Training and validation faces: the data set's val folder if present, else a stratified split."""
    train_dir, val_dir = datasets.split_folders(config.data)
    train = datasets.load_split(train_dir, config.classes)
    if val_dir is not None:
        val = datasets.load_split(val_dir, config.classes)
        val_source = str(val_dir)
    else:
        train_idx, val_idx = datasets.stratified_split(train.labels, VAL_FRACTION, config.seed)
        train, val = train.subset(train_idx), train.subset(val_idx)
        val_source = f"stratified {VAL_FRACTION:.0%} of {train_dir} (seed {config.seed})"
    if len(train.labels) == 0 or len(val.labels) == 0:
        raise ValueError(f"no usable faces under {config.data} for classes {', '.join(config.classes)}")
    train, soft = _with_soft_targets(train, config.soft_labels, config.votes_weight)
    summary = {**_data_summary(train_dir, val_source, train, val), **soft}
    if config.genki:
        train, summary["genki"] = with_genki(train, config)
    return train, val, summary


def with_genki(train: FaceSet, config: TrainConfig) -> tuple[FaceSet, dict]:
    """The training faces and GENKI's training part (never its hold-out) read through the served
    crop, as happy-only faces: a smile's target is happy, a non-smile's not happy."""
    from service.training import genki
    from service.vision.detectors import build_detector

    faces = genki.load_genki(config.genki, "train", build_detector(config.genki_detector))
    happy = train.classes.index("happy")
    names = train.classes
    other = names.index("neutral") if "neutral" in names else next(i for i, n in enumerate(names) if n != "happy")
    targets = np.zeros((len(faces.smile), len(train.classes)), np.float32)
    targets[faces.smile, happy] = 1.0
    combined = FaceSet(
        np.concatenate([train.images, faces.crops]),
        # labels of happy-only faces are never a target (their targets are); neutral stands for "not happy"
        np.concatenate([train.labels, np.where(faces.smile, happy, other)]), train.classes,
        paths=[*train.paths, *(f"genki/{name}" for name in faces.names)],
        targets=np.concatenate([train.training_targets(), targets]),
        happy_only=np.concatenate([np.zeros(len(train.labels), bool), np.ones(len(faces.smile), bool)]))
    return combined, {"root": config.genki, "part": "train (all but service/training/genki_holdout.txt)",
                      "detector": config.genki_detector, "weight": config.genki_weight, **faces.summary()}


def _with_soft_targets(train: FaceSet, votes_csv: str | None, votes_weight: float) -> tuple[FaceSet, dict]:
    """The training faces with FER+ vote shares as targets (faces FER+ calls no face left
    out), and the counts of where the targets came from; unchanged without a votes file."""
    if votes_csv is None:
        return train, {}
    from service.training import ferplus

    soft = ferplus.soft_targets(train.paths, train.labels, train.classes, ferplus.read_votes(votes_csv), votes_weight)
    if soft.from_votes == 0:
        raise ValueError(f"no face under the training folder has a row in {votes_csv}: wrong file or data set?")
    train.targets = soft.targets
    log.info("soft targets: %s", soft.summary())
    summary = {"soft_labels": votes_csv, "votes_weight": votes_weight, "targets": soft.summary()}
    return train.subset(np.flatnonzero(soft.keep)), summary


def _data_summary(train_dir: Path, val_source: str, train: FaceSet, val: FaceSet) -> dict:
    return {
        "train_dir": str(train_dir),
        "val": val_source,
        "train_counts": train.counts(),
        "val_counts": val.counts(),
        "n_train": int(len(train.labels)),
        "n_val": int(len(val.labels)),
        "skipped_unreadable_files": train.skipped_files + val.skipped_files,
        "skipped_class_folders": sorted(set(train.skipped_folders + val.skipped_folders)),
    }


@dataclass(frozen=True)
class InputTreatment:
    """What happens to a training face after the geometric augmentation, in this order:
    camera-like effects, then the histogram equalisation the served model applies too."""

    camera: bool = False
    equalize: bool = False

    def apply(self, faces: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """uint8 [N, H, W] -> uint8 [N, H, W]."""
        from service.training.augmentation import camera_effects
        from service.vision.preprocess import equalize

        faces = camera_effects(faces, rng) if self.camera else faces
        return equalize(faces) if self.equalize else faces


def make_train_dataset(faces: FaceSet, batch_size: int, augment: bool, seed: int,
                       treatment: InputTreatment = InputTreatment(), class_balance: float = 0.0):
    """Shuffled, batched tf.data pipeline of (float32 [B,48,48,1] 0..255, targets [B, C]), with
    a third element, the loss weight of each face [B], when ``class_balance`` is above 0."""
    import tensorflow as tf

    from service.training.augmentation import augment_batch

    targets = faces.training_targets()
    columns = (faces.images[..., np.newaxis], targets)
    if class_balance > 0:
        columns += (datasets.class_balance_weights(targets, class_balance),)
    dataset = tf.data.Dataset.from_tensor_slices(columns)
    dataset = dataset.shuffle(len(targets), seed=seed, reshuffle_each_iteration=True).batch(batch_size)
    rng = np.random.default_rng(seed)

    def treated(images: np.ndarray) -> np.ndarray:
        faces_uint8 = np.clip(np.rint(images[..., 0]), 0, 255).astype(np.uint8)
        return treatment.apply(faces_uint8, rng)[..., np.newaxis].astype(np.float32)

    def to_model_input(images, *labels_and_weights):
        images = tf.cast(images, tf.float32)  # kept uint8 until here: 4x less memory for the data set
        images = augment_batch(images) if augment else images
        if treatment.camera or treatment.equalize:  # numpy (OpenCV) steps: the served code itself
            images = tf.ensure_shape(tf.numpy_function(treated, [images], tf.float32), images.shape)
        return (images, *labels_and_weights)

    return dataset.map(to_model_input, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


# ---------------------------------------------------------------- schedule and callbacks


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
            _write_json(work / "state.json", state)
            if select_best and state["epoch"] - state["best_epoch"] >= patience:
                log.info("early stop: no val accuracy gain for %d epochs", patience)
                self.model.stop_training = True

    return ResumableCheckpoint()


def _atomic_save(model, path: Path) -> None:
    """Save via a temporary file so an interrupted save never leaves a broken checkpoint."""
    temporary = path.with_name(path.stem + ".tmp.keras")
    model.save(temporary)
    os.replace(temporary, path)


def _write_json(path: Path, data: dict) -> None:
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

    recipe, select_best = config.recipe(), select_best and not config.swa_start
    work.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(config.seed)
    model, state = _start_or_resume(config, recipe, work)
    if state["epoch"] < recipe.epochs and not _stopped_early(state, recipe, select_best):
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


def _stopped_early(state: dict, recipe: Recipe, select_best: bool) -> bool:
    return select_best and state["epoch"] > 0 and state["epoch"] - state["best_epoch"] >= recipe.patience


def build_metadata(config: TrainConfig, model, state: dict, data: dict, metrics: dict, rates: dict | None) -> dict:
    """The metadata.json content: identity, input contract, val metrics, rates and provenance."""
    recipe = config.recipe()
    return {
        **model_identity(Path(config.out).name, config.arch, model, config.classes, rates, metrics, config.equalize),
        "training": {
            "command": state.get("commands", [config.command])[0],
            "resumed_with": state.get("commands", [config.command])[1:],
            "recipe": asdict(recipe),
            "seed": config.seed,
            "soft_labels": config.soft_labels,
            "camera_augment": config.camera_augment,
            "class_balance": config.class_balance,
            "genki": config.genki,
            "genki_weight": config.genki_weight if config.genki else None,
            "epochs_run": state["epoch"],
            "best_epoch": state["best_epoch"],
            "selected_on": _selection(config, state),
            "wall_time_s": round(state["train_seconds"], 1),
            "initialised_from": state.get("init"),
            "machine": machine_description(),
            "data": data,
        },
    }


def _selection(config: TrainConfig, state: dict) -> str:
    if config.swa_start:
        return (f"none: mean of the weights after epochs {config.swa_start}-{state['epoch']} "
                f"({state.get('swa_epochs', 0)} epochs), batch norm measured again on train")
    return "val accuracy (best epoch)"


def run_training(config: TrainConfig) -> dict:
    """Train ``config.arch`` on ``config.data`` and write the model folder; returns the metadata."""
    train, val, data = load_train_val(config)
    log.info("training %s on %d faces, validating on %d", config.arch, data["n_train"], data["n_val"])
    model, state = fit(config, train, val, config.work_path())
    write_model_files(Path(config.out), model)
    rates, metrics = served_val_metrics(Path(config.out), val, {"preprocess": {"equalize": config.equalize}})
    metadata = build_metadata(config, model, state, data, metrics, rates)
    write_metadata(Path(config.out), metadata, state["history"])
    log.info("wrote %s: val accuracy %.4f, macro F1 %.4f", config.out, metrics["accuracy"], metrics["macro_f1"])
    return metadata


# ---------------------------------------------------------------- cross-validation

CV_METRICS = ("accuracy", "macro_f1", "happy_vs_rest_f1", "happy_vs_sad_accuracy")


def headline_metrics(metrics: dict) -> dict[str, float | None]:
    """The few numbers compared across folds and models."""
    happy = metrics.get("happy_vs_rest") or {}
    return {
        "accuracy": metrics["accuracy"],
        "macro_f1": metrics["macro_f1"],
        "happy_vs_rest_f1": happy.get("f1"),
        "happy_vs_sad_accuracy": metrics.get("happy_vs_sad_accuracy"),
    }


def mean_and_std(fold_results: list[dict]) -> dict[str, dict]:
    """Mean and (population) standard deviation of each headline metric over the folds."""
    summary = {}
    for name in CV_METRICS:
        values = np.array([r[name] for r in fold_results if r.get(name) is not None], dtype=float)
        summary[name] = {
            "mean": float(values.mean()) if values.size else None,
            "std": float(values.std()) if values.size else None,
            "folds": values.tolist(),
        }
    return summary


def cross_validate(config: TrainConfig) -> dict:
    """Stratified K-fold on the training faces; each fold trains the full recipe (no epoch selection,
    so the held-out fold is never used to choose anything) and is scored on its held-out part.
    Finished folds are kept in the work folder, so ``--resume`` skips them."""
    from service.training.evaluate import evaluate_probabilities

    train_dir, _ = datasets.split_folders(config.data)
    faces = datasets.load_split(train_dir, config.classes)
    results = []
    for index, (train_idx, test_idx) in enumerate(datasets.stratified_folds(faces.labels, config.cv, config.seed)):
        fold_dir = config.work_path() / f"fold-{index + 1}"
        result_path = fold_dir / "result.json"
        if config.resume and result_path.exists():
            results.append(json.loads(result_path.read_text()))
            continue
        held_out = faces.subset(test_idx)
        model, _ = fit(config, faces.subset(train_idx), held_out, fold_dir, select_best=False)
        probs = model.predict(held_out.images[..., np.newaxis].astype(np.float32), batch_size=512, verbose=0)
        results.append(headline_metrics(evaluate_probabilities(probs, held_out.labels, config.classes)))
        _write_json(result_path, results[-1])
        log.info("fold %d/%d: %s", index + 1, config.cv, results[-1])
    summary = {"k": config.cv, "command": config.command, "metrics": mean_and_std(results)}
    Path(config.out).mkdir(parents=True, exist_ok=True)
    _write_json(Path(config.out) / "cv.json", summary)
    return summary
