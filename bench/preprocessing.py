"""Do training and serving agree on pixel statistics? Each model on each labelled folder, fed raw
and histogram-equalised faces, and on FER2013 val re-exposed as a camera would expose it.

    python bench/preprocessing.py --models models/default,runs/ferplus-a \\
        --data ../shared/datasets/fer2013/val ../shared/datasets/wild-dev

FER2013's files were equalised one by one (their cumulative histograms are nearly straight
lines); a camera's crops are not. `camera exposure` gives every val face a random gamma
(0.5-2), contrast (0.5-1.5) and brightness offset (-40..40), as exposure and gain vary between
cameras and hours, so a model that only works on FER2013's statistics shows it. Printed as one
JSON object per model: per data set and input treatment, 7-class accuracy, happy-vs-rest
precision, recall and F1, predicted and true happy share (the model's own decision rule).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TREATMENTS = ("raw", "equalised")


def straightness(faces: np.ndarray) -> float:
    """Mean absolute gap between each face's cumulative histogram and a straight line (0 = fully
    equalised, about 0.1-0.3 for photographs)."""
    line = np.linspace(0, 1, 256)
    gaps = [np.abs(np.cumsum(np.bincount(face.ravel(), minlength=256)) / face.size - line).mean() for face in faces]
    return float(np.mean(gaps))


def camera_exposure(faces: np.ndarray, seed: int = 0) -> np.ndarray:
    """Each face re-exposed with a random gamma, contrast and brightness (see the module doc)."""
    rng = np.random.default_rng(seed)
    out = np.empty_like(faces)
    for index, face in enumerate(faces.astype(np.float32) / 255.0):
        exposed = face ** np.exp(rng.uniform(np.log(0.5), np.log(2.0)))  # gamma 0.5-2, even in log
        exposed = (exposed - exposed.mean()) * rng.uniform(0.5, 1.5) + exposed.mean() + rng.uniform(-40, 40) / 255
        out[index] = np.clip(np.rint(exposed * 255), 0, 255).astype(np.uint8)
    return out


def scores(classifier, faces, images: np.ndarray) -> dict:
    from service.training.evaluate import evaluate_probabilities, predict_in_batches

    metrics = evaluate_probabilities(predict_in_batches(classifier, images), faces.labels, faces.classes,
                                     happy_threshold=classifier.happy_threshold)
    happy, share = metrics["happy_vs_rest"], metrics["happy_share"]
    return {"accuracy": round(metrics["accuracy"], 4), "happy_precision": round(happy["precision"], 4),
            "happy_recall": round(happy["recall"], 4), "happy_f1": round(happy["f1"], 4),
            "happy_share": round(share["predicted"], 4), "true_share": round(share["true"], 4)}


def measure(model_dir: str, folders: list[str]) -> dict:
    from service.training.datasets import load_split
    from service.vision.classifier import EmotionClassifier

    results = {}
    for folder in folders:
        faces = load_split(folder)
        sets = {folder: faces.images}
        if "fer2013" in folder:
            sets[f"{folder} (camera exposure)"] = camera_exposure(faces.images)
        for name, images in sets.items():
            row = {"straightness": round(straightness(images[:500]), 4)}
            for treatment in TREATMENTS:
                classifier = EmotionClassifier.load(model_dir)
                classifier.equalizes = treatment == "equalised"
                row[treatment] = scores(classifier, faces, images)
            results[name] = row
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="models/default", help="comma-separated model folders")
    parser.add_argument("--data", nargs="+", default=["../shared/datasets/fer2013/val", "../shared/datasets/wild-dev"],
                        help="labelled folders (one subfolder per emotion)")
    args = parser.parse_args()
    report = {model: measure(model, args.data) for model in args.models.split(",") if model.strip()}
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
