"""``happiness ensemble``: several trained model folders averaged into one model folder.

The members are trained separately (``happiness train`` with different ``--seed``s); the
ensemble is one Keras model returning the mean of their softmaxes, converted to one TFLite
file, so the service runs it in a single call like any other model. Nothing is selected
here: the members are averaged with equal weights and the val metrics are only reported.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from service.training import datasets
from service.training.model_folder import (machine_description, model_identity, read_metadata, served_val_metrics,
                                           write_metadata, write_model_files)

log = logging.getLogger(__name__)

# What each member's metadata contributes to the ensemble's (its val metrics were measured alone).
MEMBER_FIELDS = ("name", "version", "architecture", "parameters", "training")


def member_equalizes(metadata: dict) -> bool:
    """Whether the member was trained on (and is served) histogram-equalised faces."""
    return bool(metadata.get("preprocess", {}).get("equalize", False))


def check_compatible(metadatas: list[dict]) -> None:
    """Members must share classes (in order), input size and the treatment of each face (the
    ensemble has one input), or their softmaxes cannot be averaged."""
    first = metadatas[0]
    for other in metadatas[1:]:
        for key in ("classes", "input_size"):
            if other[key] != first[key]:
                raise ValueError(f"members differ in {key}: {first[key]} vs {other[key]}")
        if member_equalizes(other) != member_equalizes(first):
            raise ValueError("members differ in preprocess: some were trained on histogram-equalised faces, "
                             "some not")


def member_summary(metadata: dict) -> dict:
    """A member's identity, training record and headline val metrics (measured on its own)."""
    metrics = metadata["metrics"]
    headline = {"accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"],
                "happy_vs_rest_f1": (metrics.get("happy_vs_rest") or {}).get("f1")}
    return {**{key: metadata.get(key) for key in MEMBER_FIELDS}, "val": headline}


def ensemble_training_record(metadatas: list[dict], command: str) -> dict:
    """The ensemble's ``training`` block: its command, and the members' summed wall time."""
    walls = [m["training"]["wall_time_s"] for m in metadatas]
    return {
        "command": command,
        "members": [member_summary(m) for m in metadatas],
        "wall_time_s": round(sum(walls), 1),
        "selected_on": "nothing: members averaged with equal weights (each member's epoch was chosen on val)",
        "machine": machine_description(),
        "data": metadatas[0]["training"]["data"],
    }


def build_ensemble(member_dirs: list[Path], val_dir: Path, out: Path, command: str) -> dict:
    """Average the members' models, write the folder ``out`` and return its metadata."""
    from service.training.architectures import ensemble_average, load_saved_model
    from service.training.convert import KERAS_FILE

    if len(member_dirs) < 2:
        raise ValueError("an ensemble needs at least two member folders")
    metadatas = [read_metadata(d) for d in member_dirs]
    check_compatible(metadatas)
    model = ensemble_average([load_saved_model(d / KERAS_FILE) for d in member_dirs], name=out.name)
    classes = tuple(metadatas[0]["classes"])
    val = datasets.load_split(val_dir, classes)
    started = time.perf_counter()
    write_model_files(out, model)
    equalize = member_equalizes(metadatas[0])
    rates, metrics = served_val_metrics(out, val, {"preprocess": {"equalize": equalize}})
    architecture = f"ensemble of {', '.join(m['architecture'] for m in metadatas)}"
    metadata = {**model_identity(out.name, architecture, model, classes, rates, metrics, equalize=equalize),
                "training": ensemble_training_record(metadatas, command)}
    write_metadata(out, metadata, history=[])
    log.info("wrote %s in %.0f s: val accuracy %.4f, macro F1 %.4f", out, time.perf_counter() - started,
             metrics["accuracy"], metrics["macro_f1"])
    return metadata
