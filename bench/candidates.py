"""Candidate models and mean-of-softmax ensembles side by side, on the faces the service would read.

    python bench/candidates.py models/default runs/genki-last runs/genki-last+runs/genki2-last \\
        --genki ../shared/datasets/genki4k-train --folder ../shared/datasets/wild-dev \\
        --val ../shared/datasets/fer2013/val

Model selection needs many candidates scored on the same faces, and reading 7,500 in-the-wild
images through the detector takes minutes, so the served crops (service/training/served_crops.py)
of the GENKI-4K hold-out and of ``--folder`` are read once and kept as .npz files in ``--cache``
(git-ignored ``runs/``; crops never leave this machine's working folder). A spec joins model
folders with ``+`` into an ensemble: the mean of their softmaxes, as ``happiness ensemble``
builds it. Each spec gets the served steps of ``happiness export --calibrate --balance-data
FOLDER --balance-crop served``: a temperature fitted on ``--val``, then the happy threshold that
balances the happy share over ``--val`` and the fit half of ``--folder`` (seed 0). Point
estimates only, one JSON line per spec, then a markdown table; the paired intervals of a
candidate worth shipping come from ``bench/wild_holdout.py --compare-model`` and ``happiness
evaluate --baseline``.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

log = logging.getLogger("candidates")
COLUMNS = ("val_accuracy", "val_happy_f1", "genki_accuracy", "genki_share_error", "wild_happy_f1",
           "wild_precision", "wild_recall", "wild_share_error", "wild_check_f1")


def cached_crops(path: Path, read: Callable[[], tuple[np.ndarray, np.ndarray]]) -> dict[str, np.ndarray]:
    """{'crops', 'labels'} kept in ``path`` (.npz): ``read()`` makes them the first time only."""
    if not path.exists():
        log.info("reading %s (once; cached in %s)", path.stem, path)
        crops, labels = read()
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, crops=crops, labels=labels)
    with np.load(path) as stored:
        return {"crops": stored["crops"], "labels": stored["labels"]}


@functools.cache
def served_detector():
    """The detector the served crop is cut with, built once and only when a set is read."""
    from service.training.export import SERVED_DETECTOR
    from service.vision.detectors import build_detector

    return build_detector(SERVED_DETECTOR)


def genki_part(genki_root: str, part: str) -> tuple[np.ndarray, np.ndarray]:
    """A GENKI-4K part's served crops and smile labels (1 smile, 0 not)."""
    from service.training import genki

    faces = genki.load_genki(genki_root, part, served_detector())
    return faces.crops, faces.smile.astype(np.int64)


def cached_sets(genki_root: str, folder: str, val: str, cache: Path) -> dict[str, dict[str, np.ndarray]]:
    """{'genki': crops, happy}, {'wild': crops, labels}, {'val': faces, labels}; the served crops
    read through the detector once and cached."""
    from service.training import datasets, served_crops

    def wild() -> tuple[np.ndarray, np.ndarray]:
        faces, _ = served_crops.load_split_served(folder, served_detector(), datasets.CANONICAL_CLASSES)
        return faces.images, faces.labels

    sets = {"genki": cached_crops(cache / "genki.npz", lambda: genki_part(genki_root, "holdout")),
            "wild": cached_crops(cache / "wild.npz", wild)}
    faces = datasets.load_split(val, datasets.CANONICAL_CLASSES)
    sets["val"] = {"crops": faces.images, "labels": faces.labels}
    return sets


def score(spec: str, sets: dict, probabilities: dict, sweep: tuple[float, ...] = ()) -> dict:
    """One spec's served steps (temperature, balanced threshold) and its scores on each set;
    with `sweep`, wild-dev's happy scores at each of those thresholds too."""
    from service.training import calibration
    from service.training.datasets import CANONICAL_CLASSES
    from service.training.uncertainty import decision_scores
    from service.vision.classifier import decide, with_temperature

    happy = CANONICAL_CLASSES.index("happy")
    members = spec.split("+")
    mean = {key: np.mean([probabilities[(m, key)] for m in members], axis=0) for key in sets}
    val_labels, wild_labels = sets["val"]["labels"], sets["wild"]["labels"]
    temperature = calibration.fit_temperature(mean["val"], val_labels)
    scaled = {key: with_temperature(value, temperature) for key, value in mean.items()}
    fit, check = calibration.labelled_halves("wild-dev", scaled["wild"], wild_labels, happy, seed=0)
    threshold = calibration.balanced_threshold(
        [calibration.LabelledHappy("val", scaled["val"][:, happy], val_labels == happy), fit])
    calls = {key: decide(value, CANONICAL_CLASSES, threshold) for key, value in scaled.items()}
    wild = decision_scores(calls["wild"] == happy, wild_labels == happy)
    genki = decision_scores(calls["genki"] == happy, sets["genki"]["labels"] == 1)
    return {"spec": spec, "temperature": round(temperature, 3), "threshold": threshold,
            "val_accuracy": float((calls["val"] == val_labels).mean()),
            "val_happy_f1": decision_scores(calls["val"] == happy, val_labels == happy)["f1"],
            "genki_accuracy": genki["accuracy"], "genki_share_error": genki["raw_error"],
            "wild_happy_f1": wild["f1"], "wild_precision": wild["precision"], "wild_recall": wild["recall"],
            "wild_share_error": wild["raw_error"], "wild_7class_accuracy": float((calls["wild"] == wild_labels).mean()),
            "wild_check_f1": decision_scores(check.p_happy >= threshold, check.is_happy)["f1"],
            "wild_called_happy_by_class": {name: float((calls["wild"][wild_labels == index] == happy).mean())
                                           for index, name in enumerate(CANONICAL_CLASSES)},
            "wild_sweep": {f"{t:.2f}": decision_scores(scaled["wild"][:, happy] >= t, wild_labels == happy)
                           for t in sweep}}


def table(rows: list[dict]) -> str:
    lines = ["| spec | threshold | " + " | ".join(COLUMNS) + " |", "| --- " * (len(COLUMNS) + 2) + "|"]
    for row in rows:
        lines.append(f"| {row['spec']} | {row['threshold']:.2f} | " + " | ".join(f"{row[c]:.4f}" for c in COLUMNS) + " |")
    return "\n".join(lines)


def add_set_arguments(parser: argparse.ArgumentParser) -> None:
    """The faces scored (``cached_sets``' arguments), shared with bench/trunk_probes.py."""
    parser.add_argument("--genki", required=True, metavar="ROOT", help="GENKI-4K root (its committed hold-out is scored)")
    parser.add_argument("--folder", required=True, metavar="SPLIT", help="folder-per-class in-the-wild split, e.g. wild-dev")
    parser.add_argument("--val", required=True, metavar="SPLIT", help="FER2013 val folder (temperature and balance)")
    parser.add_argument("--cache", default="runs/candidates-cache", help="where the served crops are kept")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog="See the module docstring.")
    parser.add_argument("specs", nargs="+", help="model folders; join folders with + for an ensemble")
    add_set_arguments(parser)
    parser.add_argument("--sweep", default="", metavar="T1,T2,...", help="also score wild-dev's happy decision "
                        "at these thresholds (what the threshold alone can buy)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sets = cached_sets(args.genki, args.folder, args.val, Path(args.cache))
    from service.training.export import raw_probabilities
    from service.training.model_folder import read_metadata

    models = sorted({m for spec in args.specs for m in spec.split("+")})
    probabilities = {}
    for model in models:
        log.info("scoring %s", model)
        metadata = read_metadata(Path(model))
        probabilities.update({(model, key): raw_probabilities(Path(model), metadata, s["crops"])
                              for key, s in sets.items()})
    sweep = tuple(float(t) for t in args.sweep.split(",") if t)
    rows = [score(spec, sets, probabilities, sweep) for spec in args.specs]
    for row in rows:
        print(json.dumps(row))
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
