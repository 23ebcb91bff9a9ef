"""A training run's faces: training and validation sets (soft targets, GENKI's happy-only
faces) and the shuffled, augmented tf.data pipeline the fit reads."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from service.training import datasets
from service.training.datasets import FaceSet
from service.training.train_config import InputTreatment, TrainConfig

log = logging.getLogger(__name__)

VAL_FRACTION = 0.1


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

