"""The served model's happy decision on in-the-wild hold-outs, read through the service's crop.

    python bench/wild_holdout.py --genki ../shared/datasets/genki4k-train \\
        --folder ../shared/datasets/wild-dev --one-view runs/default-one-view

Every image goes through service/training/served_crops.py: a canvas, the default detector, the
face nearest the centre and ``Pipeline.crops`` (the served framing, upright by the eyes, gray
from RGB). ``--genki`` scores GENKI-4K's committed hold-out (service/training/genki_holdout.txt;
smile counts as happy); ``--folder`` a folder-per-class split such as wild-dev (happy against
the six other classes). Printed as one JSON object, per set: images and faces found, the happy
decision's scores under the model's served rule with 95% bootstrap intervals (accuracy,
precision, recall, F1, fpr; the true share, the raw share and the share adjusted with the
model's stored tpr/fpr) and, for class folders, 7-class accuracy. Then the variants, on the
very same crops and resamples (paired differences, the model minus the variant):

* ``flip_on_top``: the served probabilities averaged with those of the mirrored crops
  (horizontal-flip test-time averaging added to the served model);
* ``compare_model`` (with ``--compare-model DIR``): another model folder, e.g. the previous default;
* ``one_view`` (with ``--one-view DIR``): the network inside the served model without its
  mirror averaging, written to DIR as a model folder with the same served steps (equalisation,
  temperature, happy threshold), so ``bench/latency_classifier.py --compare DIR`` can time it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RESAMPLES = 2000


def write_one_view(model_dir: Path, out: Path) -> Path:
    """A model folder holding the served model's network without mirror averaging."""
    from service.training.architectures import load_saved_model
    from service.training.convert import KERAS_FILE, model_to_tflite
    from service.training.swa import bare_network
    from service.vision.classifier import METADATA_FILE, TFLITE_FILE

    network = bare_network(load_saved_model(model_dir / KERAS_FILE))
    out.mkdir(parents=True, exist_ok=True)
    (out / TFLITE_FILE).write_bytes(model_to_tflite(network))
    metadata = json.loads((model_dir / METADATA_FILE).read_text())
    metadata |= {"name": f"{metadata['name']}-one-view", "note": f"{model_dir}'s network without mirror "
                 "averaging, its served steps unchanged (written by bench/wild_holdout.py)"}
    (out / METADATA_FILE).write_text(json.dumps(metadata, indent=2))
    return out


class FlipOnTop:
    """A classifier's probabilities averaged over each crop and its mirror image."""

    def __init__(self, classifier) -> None:
        self.inner, self.classes, self.metadata = classifier, classifier.classes, classifier.metadata

    def predict_proba(self, faces: np.ndarray) -> np.ndarray:
        mirrored = np.ascontiguousarray(faces[:, :, ::-1])
        return (self.inner.predict_proba(faces) + self.inner.predict_proba(mirrored)) / 2

    def decide(self, probabilities: np.ndarray) -> np.ndarray:
        return self.inner.decide(probabilities)


def happy_calls(classifier, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities, faces called happy) under the classifier's served rule."""
    from service.training.evaluate import predict_in_batches

    probabilities = predict_in_batches(classifier, crops)
    return probabilities, classifier.decide(probabilities) == classifier.classes.index("happy")


def scored(classifier, crops: np.ndarray, truth: np.ndarray, labels: np.ndarray | None,
           draws: np.ndarray) -> tuple[dict, list[dict]]:
    """(scores with intervals, bootstrap samples) of one classifier on the crops; its adjusted
    share divides by its own stored rates."""
    from service.training.evaluate import stored_tpr_fpr
    from service.training.uncertainty import bootstrap_decisions, decision_scores, intervals

    rates = stored_tpr_fpr(classifier.metadata)

    probabilities, called = happy_calls(classifier, crops)
    samples = bootstrap_decisions(called, truth, draws, rates)
    report = {"scores": decision_scores(called, truth, rates), "intervals": intervals(samples)}
    if labels is not None:
        report["accuracy_7_class"] = float(np.mean(classifier.decide(probabilities) == labels))
    return report | {"_called": called, "_probabilities": probabilities}, samples


def set_report(classifier, variants: dict, crops: np.ndarray, truth: np.ndarray, labels: np.ndarray | None) -> dict:
    """The model's scores, and each variant's scores and the model-minus-variant differences."""
    from service.training.uncertainty import paired_differences, resample_indices

    draws = resample_indices(len(truth), RESAMPLES, seed=0)
    main, main_samples = scored(classifier, crops, truth, labels, draws)
    report = {"model": main}
    for name, variant in variants.items():
        row, samples = scored(variant, crops, truth, labels, draws)
        row["model_minus_this"] = paired_differences(main_samples, samples, main["scores"], row["scores"])
        row["decisions_changed"] = int(np.sum(row["_called"] != main["_called"]))
        row["max_probability_change"] = float(np.abs(row["_probabilities"] - main["_probabilities"]).max())
        report[name] = row
    for row in report.values():
        row.pop("_called"), row.pop("_probabilities")
    return report


def measure(args: argparse.Namespace) -> dict:
    from service.training import genki, served_crops
    from service.vision.classifier import EmotionClassifier
    from service.vision.detectors import build_detector

    classifier = EmotionClassifier.load(args.model)
    variants = {"flip_on_top": FlipOnTop(classifier)}
    if args.compare_model:  # old beside new on the very same crops
        variants["compare_model"] = EmotionClassifier.load(args.compare_model)
    if args.one_view:
        variants["one_view"] = EmotionClassifier.load(write_one_view(Path(args.model), Path(args.one_view)))
    detector = build_detector(args.detector)
    result = {"model": args.model, "version": classifier.version, "detector": args.detector, "canvas": args.mode,
              "pad_factor": served_crops.PAD_FACTOR, "enlarged_px": served_crops.ENLARGED_PX, "resamples": RESAMPLES}
    if args.genki:
        faces = genki.load_genki(args.genki, "holdout", detector, args.mode)
        result["genki_holdout"] = {"found": faces.summary(),
                                   **set_report(classifier, variants, faces.crops, faces.smile, None)}
    if args.folder:
        faces, missed = served_crops.load_split_served(args.folder, detector, classifier.classes, args.mode)
        truth = faces.labels == classifier.classes.index("happy")
        found = {"images": len(faces.labels) + len(missed), "found": len(faces.labels), "per_class_found": faces.counts()}
        result[Path(args.folder).name] = {"found": found,
                                          **set_report(classifier, variants, faces.images, truth, faces.labels)}
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models/default")
    parser.add_argument("--genki", metavar="ROOT", help="GENKI-4K root with smile/ and non_smile/ (its hold-out "
                        "is scored)")
    parser.add_argument("--folder", metavar="SPLIT", help="a folder-per-class split, e.g. ../shared/datasets/wild-dev")
    parser.add_argument("--one-view", metavar="DIR", help="write the model's network without mirror averaging to "
                        "DIR and score it on the same crops")
    parser.add_argument("--compare-model", metavar="MODEL_DIR", help="also score another model folder on the same "
                        "crops (row compare_model: paired differences, --model minus it)")
    parser.add_argument("--detector", default="blazeface")
    parser.add_argument("--mode", default="pad", help="canvas for the detector: pad or enlarge (served_crops.py)")
    parser.add_argument("--pad-factor", type=int, help="pad canvas side in image sides (default "
                        "served_crops.PAD_FACTOR)")
    parser.add_argument("--enlarged-px", type=int, help="enlarge canvas: the image's longer side in pixels")
    args = parser.parse_args()
    from service.training import served_crops

    served_crops.PAD_FACTOR = args.pad_factor or served_crops.PAD_FACTOR
    served_crops.ENLARGED_PX = args.enlarged_px or served_crops.ENLARGED_PX
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    print(json.dumps(measure(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
