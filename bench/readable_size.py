"""How small can a face be and still have its expression read? Happy-vs-rest scores against face size.

    python bench/readable_size.py --data ../shared/datasets/wild-dev --sizes 12,16,20,24,32,48,64

Each face of the split is found by the service's detector as bench/crop_framing.py does (enlarged
onto a canvas); then, for each size, the canvas is shrunk so that the detector's box is that many
pixels on its longer side, and the face is cut from the shrunk canvas by the service's own crop
(the detector's framing) and classified by the served model. Face sizes are measured as the
service measures them for `HAPPINESS_MIN_READABLE_FACE_PX`. Prints one JSON object: per size,
happy precision, recall, F1, 7-class accuracy, the happy share beside the true share, each with
95% bootstrap intervals.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def shrunk_crop(frame: np.ndarray, box, size: int, framing) -> np.ndarray:
    """The classifier's crop of `box` after shrinking `frame` so the box's longer side is `size`."""
    from service.vision.boxes import FaceBox
    from service.vision.preprocess import crop_faces, resize

    factor = size / max(box.width, box.height)
    height, width = frame.shape[:2]
    small = resize(frame, max(1, round(width * factor)), max(1, round(height * factor)))
    small_box = FaceBox(top=round(box.top * factor), right=round(box.right * factor),
                        bottom=round(box.bottom * factor), left=round(box.left * factor))
    return crop_faces(small, [small_box], margin=framing.margin, lift=framing.lift)


def measure(args: argparse.Namespace) -> dict:
    from bench.crop_framing import detect_all, scores
    from service.training.datasets import load_split
    from service.training.evaluate import predict_in_batches, stored_tpr_fpr
    from service.training.uncertainty import bootstrap_scores, intervals, resample_indices
    from service.vision.classifier import EmotionClassifier
    from service.vision.detectors import build_detector

    classifier = EmotionClassifier.load(args.model)
    faces = load_split(args.data, classifier.classes)
    picked = np.linspace(0, len(faces.labels) - 1, min(args.limit, len(faces.labels))).astype(np.int64)
    detector = build_detector(args.detector, min_face_px=48)
    found, indices = detect_all(detector, faces.images[picked], rgb=detector.type != "hog")
    labels, rates = faces.labels[picked][indices], stored_tpr_fpr(classifier.metadata)
    draws = resample_indices(len(labels), 1000, seed=0)
    rows = []
    for size in (int(value) for value in args.sizes.split(",")):
        crops = np.concatenate([shrunk_crop(frame, box, size, detector.framing) for frame, box, _ in found])
        probabilities = predict_in_batches(classifier, crops)
        row = {"size": size, **scores(probabilities, labels, classifier.classes, classifier.happy_threshold, rates)}
        row["intervals"] = intervals(bootstrap_scores(probabilities, labels, classifier.classes, draws, rates,
                                                      classifier.happy_threshold))
        rows.append(row)
        print(f"{size:4d} px: happy F1 {row['happy_vs_rest_f1']:.3f}, precision {row['happy_vs_rest_precision']:.3f}, "
              f"share {row['happy_share']:.3f} (true {row['true_happy_share']:.3f})", file=sys.stderr)
    return {"data": args.data, "model": args.model, "version": classifier.version, "detector": args.detector,
            "faces": len(picked), "found": len(found), "sizes": rows}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a folder-per-class split, e.g. ../shared/datasets/wild-dev")
    parser.add_argument("--model", default="models/default")
    parser.add_argument("--detector", default="blazeface")
    parser.add_argument("--limit", type=int, default=7000, help="faces to use, spread evenly over the split")
    parser.add_argument("--sizes", default="12,16,20,24,32,48,64", help="face sizes (px, the box's longer side)")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    print(json.dumps(measure(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
