"""``happiness export``: convert a model folder's model.keras to its served TFLite file again.

For a model trained before a converter change (such as the switch to dynamic-range
quantisation): the file the service runs is rebuilt from the unchanged Keras weights, and the
metadata's val metrics and happy rates (behind the adjusted index) are measured again through
it, under a new version, since a few decisions may change. The training record is kept.
"""

from __future__ import annotations

import logging
from pathlib import Path

from service.training import datasets
from service.training.train import TFLITE_NOTE, new_version, read_metadata, served_val_metrics, write_metadata

log = logging.getLogger(__name__)


def export_model_folder(model_dir: Path, val_dir: Path, command: str) -> dict:
    """Rewrite ``model_dir``'s model.tflite and metadata.json; returns the new metadata."""
    from service.training.convert import KERAS_FILE, keras_to_tflite
    from service.vision.classifier import TFLITE_FILE

    metadata = read_metadata(model_dir)
    val = datasets.load_split(val_dir, tuple(metadata["classes"]))
    (model_dir / TFLITE_FILE).write_bytes(keras_to_tflite(model_dir / KERAS_FILE))
    rates, metrics = served_val_metrics(model_dir, val)
    version = new_version()
    exports = [*metadata.get("exports", []), {"command": command, "previous_version": metadata["version"]}]
    metadata.update(version=version, tflite=TFLITE_NOTE, happy_vs_rest=rates, metrics=metrics, exports=exports)
    write_metadata(model_dir, metadata, history=None)  # the training history stays the model's
    log.info("exported %s as version %s: val accuracy %.4f, macro F1 %.4f", model_dir, version,
             metrics["accuracy"], metrics["macro_f1"])
    return metadata
