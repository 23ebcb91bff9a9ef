"""A model folder's files: model.keras and model.tflite, metadata.json and history.json.

What a training run, ``happiness export`` and ``happiness ensemble`` write alike (the served
files, the identity fields the service reads, the val metrics measured through the served file),
and what reads a folder back (its metadata, for ``--init`` and the tools that rebuild it).
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

from service.training.datasets import FaceSet

TFLITE_NOTE = "dynamic-range quantised (int8 weights); val metrics measured through this file"
PREPROCESSING = (
    "grayscale face crop resized to 48x48 (OpenCV INTER_AREA when shrinking); pixels passed raw "
    "as float32 [N,48,48,1] in 0..255; the model's first layer rescales by 1/255"
)


def machine_description() -> dict:
    """Where the training ran: CPU model, core count, OS and library versions."""
    import tensorflow as tf

    cpu = platform.processor() or platform.machine()
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        cpu = next(line.split(":", 1)[1].strip() for line in lines if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "gpu": bool(tf.config.list_physical_devices("GPU")),
            "platform": platform.platform(), "tensorflow": tf.__version__, "python": platform.python_version()}


def write_model_files(out: Path, model) -> None:
    """model.keras and model.tflite (what the service runs) of a trained model."""
    from service.training.convert import KERAS_FILE, keras_to_tflite
    from service.vision.classifier import TFLITE_FILE

    out.mkdir(parents=True, exist_ok=True)
    inference_copy(model).save(out / KERAS_FILE)
    (out / TFLITE_FILE).write_bytes(keras_to_tflite(out / KERAS_FILE))


def write_metadata(out: Path, metadata: dict, history: list[dict] | None) -> None:
    """metadata.json and history.json, the last files of a model folder (``history=None``
    leaves an existing history.json as it is)."""
    from service.vision.classifier import METADATA_FILE

    (out / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")
    if history is not None:
        (out / "history.json").write_text(json.dumps(history, indent=2) + "\n")


SERVING_KEYS = ("preprocess", "postprocess", "decision")  # metadata the classifier applies


def served_classifier(out: Path, classes: tuple[str, ...], serving: dict | None = None):
    """The classifier the service would build from the folder's model.tflite with the metadata's
    serving steps (``serving``: its preprocess, postprocess and decision entries): the metadata's
    metrics and happy rates (behind the adjusted index) are those of what is served, not of
    the Keras model it came from."""
    from service.vision.classifier import TFLITE_FILE, EmotionClassifier

    identity = {"name": out.name, "version": "candidate", "classes": list(classes), "input_size": [48, 48],
                **{key: value for key, value in (serving or {}).items() if key in SERVING_KEYS}}
    return EmotionClassifier((out / TFLITE_FILE).read_bytes(), identity)


def inference_copy(model):
    """The same layers and weights without the optimiser: Keras 3 saves an optimiser's state
    (twice the weights for Adam) in every .keras file, which would triple the committed file."""
    import keras

    copy = keras.Model.from_config(model.get_config())  # clone_model would compile it again
    copy.set_weights(model.get_weights())
    return copy


def read_metadata(model_dir: str | Path) -> dict:
    """The metadata.json of a model folder."""
    return json.loads((Path(model_dir) / "metadata.json").read_text())


def new_version() -> str:
    """A model version: the UTC minute it was written, e.g. 2026.11.25-1821."""
    return time.strftime("%Y.%m.%d-%H%M", time.gmtime())


def model_identity(name: str, architecture: str, model, classes, rates: dict | None, metrics: dict,
                   equalize: bool = False) -> dict:
    """The metadata fields the service reads (name, version, classes, input, treatment of each
    face, happy rates) and the val metrics, as measured through the model's TFLite file."""
    return {
        "name": name,
        "version": new_version(),
        "architecture": architecture,
        "parameters": int(model.count_params()),
        "classes": list(classes),
        "input_size": [48, 48],
        "input": "float32 [N,48,48,1], raw pixel values 0..255",
        "preprocessing": PREPROCESSING + ("; then histogram-equalised (OpenCV equalizeHist)" if equalize else ""),
        "preprocess": {"equalize": equalize},
        "tflite": TFLITE_NOTE,
        "happy_vs_rest": rates,
        "metrics": metrics,
    }


def served_val_metrics(out: Path, val: FaceSet, serving: dict | None = None) -> tuple[dict | None, dict]:
    """(happy-vs-rest rates, every val metric) of the folder's served model and decision rule."""
    from service.training.evaluate import evaluate_probabilities, happy_rates, predict_in_batches

    classifier = served_classifier(out, val.classes, serving)
    probs = predict_in_batches(classifier, val.images)
    rates = happy_rates(probs, val.labels, val.classes, classifier.happy_threshold)
    tpr_fpr = (rates["tpr"], rates["fpr"]) if rates else None
    return rates, evaluate_probabilities(probs, val.labels, val.classes, tpr_fpr, classifier.happy_threshold)
