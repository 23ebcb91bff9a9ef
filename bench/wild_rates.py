"""The served model's happy-vs-rest rates on in-the-wild labelled faces, and whether adjusting
the happy share with them brings it nearer the truth than the raw share (issue 29, item 2).

    python bench/wild_rates.py --genki ../shared/datasets/genki4k-train \\
        --folder ../shared/datasets/wild-dev

Faces are read through the service's own crop (service/training/served_crops.py: canvas,
default detector, face nearest the centre, ``Pipeline.crops``) and decided by the model's
served rule. Two sets: GENKI-4K's committed hold-out (smile = happy, non-smile = other) and
wild-dev's ``happy`` against its ``neutral`` folder (both FFHQ, so source and label are not
linked). Printed as one JSON object:

* ``rates``: tpr, fpr, n_happy, n_other per set and pooled, with Wilson 95% intervals;
* ``held_out``: each set split in two halves by a fixed rule (``half_of``: a salted SHA-256 of
  the image's bytes, so byte-identical copies stay together). Rates are fitted on one half
  (of the same set, and of both sets pooled) and the other half's share is adjusted with them;
  then the halves swap. Each row gives the true, raw and adjusted shares, both errors and
  ``abs_gain`` = |raw error| - |adjusted error| (positive: the adjustment helped), with 95%
  percentile bootstrap intervals that resample the fitting faces and the judged faces;
* ``transfer``: each whole set adjusted with the other set's rates (and with the stored ones).

Rates carry no information about a population whose rates differ: this bench measures how
much that matters for the served default.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RESAMPLES = 2000
HALF_SALT = "wild-rates-half-1"


# --- pure functions (tested on constructed data) ------------------------------------------------


def half_of(key: str, salt: str = HALF_SALT) -> int:
    """0 or 1: the half an image falls in, from a salted SHA-256 of its key (its bytes' digest)."""
    return int(hashlib.sha256(f"{salt}:{key}".encode()).hexdigest(), 16) % 2


def fit_rates(called: np.ndarray, truth: np.ndarray) -> dict:
    """Happy-vs-rest rates of yes/no decisions against yes/no truth, with their counts and
    Wilson 95% intervals: tpr = happy faces called happy / happy faces, fpr = other faces called
    happy / other faces (None without faces of that label)."""
    called, truth = np.asarray(called, bool), np.asarray(truth, bool)
    n_happy, n_other = int(truth.sum()), int((~truth).sum())
    hits, false_alarms = int((called & truth).sum()), int((called & ~truth).sum())
    return {"tpr": hits / n_happy if n_happy else None, "fpr": false_alarms / n_other if n_other else None,
            "n_happy": n_happy, "n_other": n_other, "happy_as_happy": hits, "other_as_happy": false_alarms,
            "tpr_ci95": _wilson(hits, n_happy), "fpr_ci95": _wilson(false_alarms, n_other)}


def _wilson(successes: int, n: int) -> list[float] | None:
    from service.index.statistics import wilson_interval

    bounds = wilson_interval(successes, n)
    return list(bounds) if bounds else None


def adjust(raw, tpr, fpr):
    """The service's adjusted index (statistics.adjusted_index), elementwise: (raw - fpr) /
    (tpr - fpr) clipped to [0, 1]; NaN where tpr <= fpr."""
    raw, tpr, fpr = np.asarray(raw, float), np.asarray(tpr, float), np.asarray(fpr, float)
    spread = tpr - fpr
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(spread > 0, np.clip((raw - fpr) / np.where(spread > 0, spread, 1.0), 0.0, 1.0), np.nan)


def _rates_of_draws(called: np.ndarray, truth: np.ndarray, draws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(tpr, fpr) of each resample (rows of face indices); NaN where a label is missing."""
    c, t = called[draws], truth[draws]
    with np.errstate(divide="ignore", invalid="ignore"):
        return (c & t).sum(1) / t.sum(1), (c & ~t).sum(1) / (~t).sum(1)


@dataclass(frozen=True)
class Faces:
    """Decisions on labelled faces: called happy, truly happy."""

    called: np.ndarray
    truth: np.ndarray

    def part(self, mask: np.ndarray) -> Faces:
        return Faces(self.called[mask], self.truth[mask])

    def __add__(self, other: Faces) -> Faces:
        return Faces(np.concatenate([self.called, other.called]), np.concatenate([self.truth, other.truth]))


def _interval(values: np.ndarray) -> list[float] | None:
    """The central 95% of the finite values (uncertainty.percentile_interval); None without any."""
    from service.training.uncertainty import percentile_interval

    return percentile_interval(values[np.isfinite(values)])


def compare_on(judged: Faces, fit: Faces | None = None, rates: tuple[float, float] | None = None,
               resamples: int = RESAMPLES, seed: int = 0) -> dict:
    """The judged faces' true, raw and adjusted shares; the adjustment's rates are fitted on
    ``fit`` (resampled too in the bootstrap) or given as fixed ``rates`` (tpr, fpr).

    abs_gain = |raw - true| - |adjusted - true|: positive when the adjustment brought the
    share nearer the truth. Intervals: 95% percentile bootstrap, fitting and judged faces
    resampled independently, raw and adjusted on the same judged resample (paired)."""
    if (fit is None) == (rates is None):
        raise ValueError("give either the faces to fit rates on or fixed rates")
    truth, raw = float(judged.truth.mean()), float(judged.called.mean())
    if fit is not None:
        fitted = fit_rates(fit.called, fit.truth)
        tpr, fpr = fitted["tpr"], fitted["fpr"]
    else:
        tpr, fpr = rates
    adjusted = float(adjust(raw, tpr, fpr))
    rng = np.random.default_rng(seed)
    judged_draws = rng.integers(0, len(judged.truth), size=(resamples, len(judged.truth)))
    true_b, raw_b = judged.truth[judged_draws].mean(1), judged.called[judged_draws].mean(1)
    if fit is not None:
        tpr_b, fpr_b = _rates_of_draws(fit.called, fit.truth,
                                       rng.integers(0, len(fit.truth), size=(resamples, len(fit.truth))))
    else:
        tpr_b, fpr_b = np.full(resamples, tpr), np.full(resamples, fpr)
    adjusted_b = adjust(raw_b, tpr_b, fpr_b)
    raw_error_b, adjusted_error_b = raw_b - true_b, adjusted_b - true_b
    return {"n": int(len(judged.truth)), "tpr": tpr, "fpr": fpr, "true_share": truth, "raw_share": raw,
            "adjusted_share": adjusted, "raw_error": raw - truth, "adjusted_error": adjusted - truth,
            "abs_gain": abs(raw - truth) - abs(adjusted - truth),
            "intervals": {"raw_error": _interval(raw_error_b), "adjusted_error": _interval(adjusted_error_b),
                          "abs_gain": _interval(np.abs(raw_error_b) - np.abs(adjusted_error_b))}}


def held_out_rows(sets: dict[str, tuple[Faces, np.ndarray]], resamples: int = RESAMPLES) -> list[dict]:
    """For each set and each half as the judged one: the other half's rates of the same set
    ("own") and of all sets pooled ("pooled"), compared on the judged half."""
    rows = []
    for judged_half in (0, 1):
        pooled_fit = None
        for faces, halves in sets.values():
            part = faces.part(halves != judged_half)
            pooled_fit = part if pooled_fit is None else pooled_fit + part
        for name, (faces, halves) in sets.items():
            judged, own_fit = faces.part(halves == judged_half), faces.part(halves != judged_half)
            for fitted_on, fit in (("own", own_fit), ("pooled", pooled_fit)):
                rows.append({"judged": f"{name} half {judged_half}", "rates_from": f"{fitted_on} other half",
                             **compare_on(judged, fit, resamples=resamples, seed=judged_half)})
    return rows


def summary_of(rows: list[dict]) -> dict:
    """Per kind of rates: how often the adjustment helped, and the mean |error| raw vs adjusted."""
    out = {}
    for kind in sorted({row["rates_from"] for row in rows}):
        chosen = [row for row in rows if row["rates_from"] == kind]
        out[kind] = {"helped": sum(row["abs_gain"] > 0 for row in chosen), "of": len(chosen),
                     "mean_abs_raw_error": float(np.mean([abs(row["raw_error"]) for row in chosen])),
                     "mean_abs_adjusted_error": float(np.mean([abs(row["adjusted_error"]) for row in chosen]))}
    return out


# --- reading the faces ---------------------------------------------------------------------------


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def genki_faces(root: str, classifier, detector, mode: str) -> tuple[Faces, np.ndarray, dict]:
    """GENKI's hold-out through the served crop: decisions, halves, what was found."""
    from bench.wild_holdout import happy_calls
    from service.training import genki

    faces = genki.load_genki(root, "holdout", detector, mode)
    _, called = happy_calls(classifier, faces.crops)
    halves = np.array([half_of(_digest(Path(root) / name)) for name in faces.names])
    return Faces(called, faces.smile.astype(bool)), halves, faces.summary()


def folder_faces(folder: str, classifier, detector, mode: str,
                 classes=("happy", "neutral")) -> tuple[Faces, np.ndarray, dict]:
    """A class folder's happy/ against its neutral/ through the served crop."""
    from bench.wild_holdout import happy_calls
    from service.training.datasets import image_files
    from service.training.served_crops import read_rgb, served_crops

    paths = [path for name in classes for path in image_files(Path(folder) / name)]
    images = [read_rgb(path) for path in paths]
    readable = [i for i, image in enumerate(images) if image is not None]
    found = served_crops([images[i] for i in readable], detector, mode)
    kept = [paths[readable[i]] for i in found.indices]
    _, called = happy_calls(classifier, found.crops)
    truth = np.array([path.parent.name == classes[0] for path in kept], bool)
    halves = np.array([half_of(_digest(path)) for path in kept])
    return Faces(called, truth), halves, {"images": len(paths), "found": len(kept),
                                          "happy_found": int(truth.sum()), "neutral_found": int((~truth).sum())}


def measure(args: argparse.Namespace) -> dict:
    from service.training.evaluate import stored_tpr_fpr
    from service.vision.classifier import EmotionClassifier
    from service.vision.detectors import build_detector

    classifier = EmotionClassifier.load(args.model)
    detector = build_detector(args.detector)
    stored = stored_tpr_fpr(classifier.metadata)
    sets, found = {}, {}
    if args.genki:
        faces, halves, found["genki_holdout"] = genki_faces(args.genki, classifier, detector, args.mode)
        sets["genki_holdout"] = (faces, halves)
    if args.folder:
        name = f"{Path(args.folder).name}_happy_neutral"
        faces, halves, found[name] = folder_faces(args.folder, classifier, detector, args.mode)
        sets[name] = (faces, halves)
    pooled = None
    for faces, _ in sets.values():
        pooled = faces if pooled is None else pooled + faces
    rates = {name: fit_rates(f.called, f.truth) for name, (f, _) in sets.items()}
    rates["pooled"] = fit_rates(pooled.called, pooled.truth)
    rows = held_out_rows(sets, args.resamples)
    transfer = []
    for name, (faces, _) in sets.items():
        for other, (other_faces, _) in sets.items():
            if other != name:
                transfer.append({"judged": name, "rates_from": other,
                                 **compare_on(faces, other_faces, resamples=args.resamples)})
        if stored:
            transfer.append({"judged": name, "rates_from": "stored (metadata happy_vs_rest)",
                             **compare_on(faces, rates=stored, resamples=args.resamples)})
    return {"model": args.model, "version": classifier.version, "detector": args.detector, "canvas": args.mode,
            "resamples": args.resamples, "half_rule": f"sha256('{HALF_SALT}:' + sha256(image bytes)) % 2",
            "found": found, "stored_rates": stored, "rates": rates, "held_out": rows,
            "held_out_summary": summary_of(rows), "transfer": transfer}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models/default")
    parser.add_argument("--genki", metavar="ROOT", help="GENKI-4K root with smile/ and non_smile/ (its hold-out)")
    parser.add_argument("--folder", metavar="SPLIT", help="a folder-per-class split with happy/ and neutral/, "
                        "e.g. ../shared/datasets/wild-dev")
    parser.add_argument("--detector", default="blazeface")
    parser.add_argument("--mode", default="pad", help="canvas for the detector: pad or enlarge (served_crops.py)")
    parser.add_argument("--resamples", type=int, default=RESAMPLES)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    print(json.dumps(measure(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
