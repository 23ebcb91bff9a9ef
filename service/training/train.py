"""Training: one model (``run_training``: fit, then write the model folder) or stratified
cross-validation (``cross_validate``). The options are in ``train_config``, the faces and their
pipeline in ``train_data``, the resumable fit in ``fit`` and the folder's files in ``model_folder``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path

import numpy as np

from service.training import datasets
from service.training.fit import fit, write_json
from service.training.model_folder import (machine_description, model_identity, served_val_metrics, write_metadata,
                                           write_model_files)
from service.training.train_config import TrainConfig
from service.training.train_data import load_train_val

log = logging.getLogger(__name__)


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
    if config.keep == "last":
        return f"none: the last epoch ({state['epoch']}), a fixed count chosen before the run"
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
        write_json(result_path, results[-1])
        log.info("fold %d/%d: %s", index + 1, config.cv, results[-1])
    summary = {"k": config.cv, "command": config.command, "metrics": mean_and_std(results)}
    Path(config.out).mkdir(parents=True, exist_ok=True)
    write_json(Path(config.out) / "cv.json", summary)
    return summary
