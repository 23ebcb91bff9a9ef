"""``happiness export``: build a model folder's served files and measure what is served.

The served TFLite file is rebuilt from the unchanged Keras weights (for a model trained before a
converter change). With ``--calibrate`` a temperature is fitted on the val faces; with
``--balance-data`` a happy threshold is chosen so that the happy share stays unbiased on the
val faces and on half of each given labelled folder (the other half checks it), its faces read
either in the folder's own framing or, with ``balance_crop="served"``, through the service's
detector and crop (served_crops.py), as the service would read them. The metadata's
val metrics and happy rates (behind the adjusted index) are then measured through the served
file with the served rule, under a new version. The training record is kept.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from service.training import calibration, datasets
from service.training.datasets import FaceSet
from service.training.model_folder import (TFLITE_NOTE, new_version, read_metadata, served_classifier,
                                           served_val_metrics, write_metadata)

log = logging.getLogger(__name__)
HAPPY = "happy"
# how a --balance-data folder's faces are read: as the folder frames them, or as the service would
BALANCE_CROPS = ("own", "served")
SERVED_DETECTOR = "blazeface"  # the service's default detector (service/config.py)


def export_model_folder(model_dir: Path, val_dir: Path, command: str, calibrate: bool = False,
                        balance_dirs: tuple[Path, ...] = (), seed: int = 0, balance_crop: str = "own") -> dict:
    """Rewrite ``model_dir``'s model.tflite and metadata.json; returns the new metadata."""
    from service.training.convert import KERAS_FILE, keras_to_tflite
    from service.vision.classifier import TFLITE_FILE

    if balance_crop not in BALANCE_CROPS:
        raise ValueError(f"balance crop {balance_crop!r} is not one of {', '.join(BALANCE_CROPS)}")
    metadata = read_metadata(model_dir)
    classes = tuple(metadata["classes"])
    val = datasets.load_split(val_dir, classes)
    (model_dir / TFLITE_FILE).write_bytes(keras_to_tflite(model_dir / KERAS_FILE))
    if calibrate or balance_dirs:
        raw = raw_probabilities(model_dir, metadata, val.images)
        if calibrate:
            metadata.update(_temperature_entries(raw, val.labels, val_dir))
        if balance_dirs:
            metadata["decision"] = _threshold_entry(model_dir, metadata, raw, val, val_dir, balance_dirs, seed,
                                                    balance_crop)
    rates, metrics = served_val_metrics(model_dir, val, metadata)
    version = new_version()
    exports = [*metadata.get("exports", []), {"command": command, "previous_version": metadata["version"]}]
    metadata.update(version=version, tflite=TFLITE_NOTE, happy_vs_rest=rates, metrics=metrics, exports=exports)
    write_metadata(model_dir, metadata, history=None)  # the training history stays the model's
    log.info("exported %s as version %s: val accuracy %.4f, macro F1 %.4f", model_dir, version,
             metrics["accuracy"], metrics["macro_f1"])
    return metadata


def raw_probabilities(model_dir: Path, metadata: dict, images: np.ndarray) -> np.ndarray:
    """The served file's probabilities of uint8 faces [N, 48, 48] with the model's preprocessing
    and no temperature (what a temperature and a threshold are then fitted on)."""
    from service.training.evaluate import predict_in_batches

    serving = {"preprocess": metadata.get("preprocess", {})}
    return predict_in_batches(served_classifier(model_dir, tuple(metadata["classes"]), serving), images)


def _temperature_entries(raw: np.ndarray, labels: np.ndarray, val_dir: Path) -> dict:
    """metadata["postprocess"] with the fitted temperature, and metadata["calibration"] with the
    ECE and NLL before and after it."""
    from service.vision.classifier import with_temperature

    temperature = calibration.fit_temperature(raw, labels)
    scaled = with_temperature(raw, temperature)
    log.info("temperature %.3f: ECE %.4f -> %.4f", temperature,
             calibration.expected_calibration_error(raw, labels), calibration.expected_calibration_error(scaled, labels))
    return {"postprocess": {"temperature": temperature},
            "calibration": {"method": "temperature scaling, NLL on val", "fitted_on": str(val_dir), "n": int(len(labels)),
                            "ece_bins": calibration.ECE_BINS,
                            "ece_before": calibration.expected_calibration_error(raw, labels),
                            "ece_after": calibration.expected_calibration_error(scaled, labels),
                            "nll_before": calibration.negative_log_likelihood(raw, labels),
                            "nll_after": calibration.negative_log_likelihood(scaled, labels)}}


def _threshold_entry(model_dir: Path, metadata: dict, raw: np.ndarray, val: FaceSet, val_dir: Path,
                     balance_dirs: tuple[Path, ...], seed: int, balance_crop: str = "own") -> dict:
    """metadata["decision"]: the happy threshold balancing the share over val and the fit half
    of each folder, with each set's share bias at it (the check halves too) and under argmax."""
    from service.vision.classifier import with_temperature

    temperature = metadata.get("postprocess", {}).get("temperature", 1.0)
    happy = val.classes.index(HAPPY)
    fit_sets = [_labelled(str(val_dir), with_temperature(raw, temperature), val.labels, happy)]
    check_sets = []
    for folder in balance_dirs:
        faces = _balance_faces(folder, val.classes, balance_crop)
        probabilities = with_temperature(raw_probabilities(model_dir, metadata, faces.images), temperature)
        fit, check = calibration.labelled_halves(str(folder), probabilities, faces.labels, happy, seed)
        fit_sets.append(fit)
        check_sets.append(check)
    threshold = calibration.balanced_threshold(fit_sets)
    log.info("happy threshold %.2f", threshold)
    return {"happy_threshold": threshold, "rule": "happy when p(happy) >= threshold, else the most probable other class",
            "chosen_to": "minimise the largest |predicted - true happy share| over the fit sets",
            "balance_crop": balance_crop, "faces": {s.name: int(len(s.is_happy)) for s in fit_sets + check_sets},
            "seed": seed, "share_bias_at_threshold": {s.name: s.share_bias(threshold) for s in fit_sets + check_sets}}


def _balance_faces(folder: Path, classes: tuple[str, ...], balance_crop: str) -> FaceSet:
    """A --balance-data folder's faces: in its own framing, or found by the default detector and
    cut by the served crop (faces it misses are left out, as the service would not count them)."""
    if balance_crop == "own":
        return datasets.load_split(folder, classes)
    from service.training.served_crops import load_split_served
    from service.vision.detectors import build_detector

    faces, missed = load_split_served(folder, build_detector(SERVED_DETECTOR), classes)
    log.info("%s through the served crop: %d faces found, %d missed", folder, len(faces.labels), len(missed))
    return faces


def _labelled(name: str, probabilities: np.ndarray, labels: np.ndarray, happy: int) -> calibration.LabelledHappy:
    return calibration.LabelledHappy(name, probabilities[:, happy], labels == happy)
