"""Which crop margin makes the service's face crops look like the faces the model learnt from?

    python bench/crop_framing.py --data ../shared/datasets/fer2013/train --limit 3000

The model learnt from FER2013's framing (face roughly centred, forehead to chin); the service
crops what dlib's HOG detector boxes (brows to chin), grown by a margin on every side. Here each
FER2013 face is enlarged 3-5x (a random factor per face, so that faces fall between the levels
of the detector's image pyramid as street faces do) onto a 320x320 canvas (edges replicated), the
service's HOG detector looks for it, and every face found is cropped by the service's own
``crop_faces`` at each margin and classified by the served model. Printed as one JSON object:
how many faces were found, the margin that would make the crop exactly the FER image
(``fitted_margin``: median and quartiles over the found faces), how far the box's centre sits
from the FER image's (``centre_offset``, in box sides, positive = below / right) and, per margin
and lift (an upward shift of the crop's centre), accuracy and happy-vs-rest F1 through the
service's crops against the same faces fed in FER's own framing, and its accuracy change from
``--baseline-framing`` with a paired 95% interval. Choose the framing on a training split and check
it on val, so that val stays unseen.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ENLARGE = (3.0, 5.0)
CANVAS = 320


def frame_of(face: np.ndarray, side: int) -> np.ndarray:
    """The face enlarged to side x side, centred on a CANVAS x CANVAS frame of replicated edges."""
    import cv2

    big = cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC)
    before = (CANVAS - side) // 2
    after = CANVAS - side - before
    return cv2.copyMakeBorder(big, before, after, before, after, cv2.BORDER_REPLICATE)


def central_box(boxes):
    """The found box nearest the frame's centre (the FER face), or None."""
    if not boxes:
        return None
    centre = CANVAS / 2
    return min(boxes, key=lambda b: abs((b.left + b.right) / 2 - centre) + abs((b.top + b.bottom) / 2 - centre))


def fitted_margin(box, side: int) -> float:
    """The margin whose square crop of ``box`` is exactly as wide as the enlarged FER image."""
    return (side / max(box.width, box.height) - 1) / 2


def centre_offset(box, side: int) -> tuple[float, float]:
    """(down, right) distance of the box's centre from the FER image's, in box sides."""
    image_centre = (CANVAS - side) // 2 + side / 2
    box_side = max(box.width, box.height)
    return ((box.top + box.bottom) / 2 - image_centre) / box_side, ((box.left + box.right) / 2 - image_centre) / box_side


def detect_all(detector, faces: np.ndarray, rgb: bool, seed: int = 0) -> tuple[list, np.ndarray]:
    """(frame, box, enlarged side) of every face found, and the indices of those faces; frames
    are RGB for a detector that reads colour (the gray face in all three channels)."""
    import cv2
    from tqdm import tqdm

    sides = np.rint(np.random.default_rng(seed).uniform(*ENLARGE, len(faces)) * faces.shape[1]).astype(int)
    found, indices = [], []
    for i, face in enumerate(tqdm(faces, desc="detecting", unit="face", file=sys.stderr)):
        frame = frame_of(face, sides[i])
        box = central_box(detector.detect(cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB) if rgb else frame))
        if box is not None:
            found.append((frame, box, sides[i]))
            indices.append(i)
    return found, np.array(indices, np.int64)


def scores(probabilities: np.ndarray, labels: np.ndarray, classes: tuple[str, ...],
           happy_threshold: float | None = None) -> dict[str, float]:
    from service.training.uncertainty import headline_scores

    headline = headline_scores(probabilities, labels, classes, happy_threshold=happy_threshold)
    # tpr and fpr are what the adjusted index divides by: do the stored ones hold for these crops?
    return {key: headline[key] for key in ("accuracy", "happy_vs_rest_f1", "happy_vs_rest_recall", "happy_fpr")}


def crops_at(found: list, margin: float, lift: float) -> np.ndarray:
    from service.vision.preprocess import crop_faces

    return np.concatenate([crop_faces(frame, [box], margin=margin, lift=lift) for frame, box, _ in found])


def paired_accuracy_change(correct: np.ndarray, base_correct: np.ndarray, draws: np.ndarray) -> dict:
    """Accuracy difference between two framings of the same faces, with its paired 95% interval."""
    from service.training.uncertainty import percentile_interval

    change = correct.astype(float) - base_correct
    return {"difference": float(change.mean()), "interval": percentile_interval(list(change[draws].mean(axis=1)))}


def framing_rows(classifier, found: list, labels: np.ndarray, framings: list, baseline: tuple) -> list[dict]:
    """Scores of every framing, and its accuracy change from ``baseline`` (margin, lift) on the same faces."""
    from service.training.evaluate import predict_in_batches
    from service.training.uncertainty import resample_indices

    def correct_at(margin: float, lift: float) -> tuple[np.ndarray, np.ndarray]:
        probabilities = predict_in_batches(classifier, crops_at(found, margin, lift))
        return probabilities, classifier.decide(probabilities) == labels  # the served decision rule

    _, base_correct = correct_at(*baseline)
    draws = resample_indices(len(labels), 2000, seed=0)
    rows = []
    for margin, lift in framings:
        probabilities, correct = correct_at(margin, lift)
        rows.append({"margin": margin, "lift": lift, **scores(probabilities, labels, classifier.classes, classifier.happy_threshold),
                     "accuracy_change": paired_accuracy_change(correct, base_correct, draws)})
    return rows


def measure(args: argparse.Namespace) -> dict:
    from service.training.datasets import load_split
    from service.training.evaluate import predict_in_batches
    from service.vision.classifier import EmotionClassifier
    from service.vision.detectors import build_detector

    classifier = EmotionClassifier.load(args.model)
    faces = load_split(args.data, classifier.classes)
    picked = np.linspace(0, len(faces.labels) - 1, min(args.limit, len(faces.labels))).astype(np.int64)
    detector = build_detector(args.detector, min_face_px=args.min_face_px)
    found, indices = detect_all(detector, faces.images[picked], rgb=not getattr(detector, "grayscale", True))
    labels, originals = faces.labels[picked][indices], faces.images[picked][indices]
    fitted = np.percentile([fitted_margin(box, side) for _, box, side in found], [25, 50, 75])
    offsets = np.median([centre_offset(box, side) for _, box, side in found], axis=0)
    framings = [(float(m), float(x)) for m in args.margins.split(",") for x in args.lifts.split(",")]
    baseline = tuple(float(v) for v in args.baseline_framing.split(","))
    return {"data": args.data, "model": args.model, "version": classifier.version, "detector": args.detector,
            "min_face_px": args.min_face_px, "faces": len(picked), "found": len(found),
            "fitted_margin": {"q25": fitted[0], "median": fitted[1], "q75": fitted[2]},
            "centre_offset": {"down": offsets[0], "right": offsets[1]},
            "fer_framing": scores(predict_in_batches(classifier, originals), labels, classifier.classes,
                                  classifier.happy_threshold),
            "baseline_framing": {"margin": baseline[0], "lift": baseline[1]},
            "framings": framing_rows(classifier, found, labels, framings, baseline)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a FER2013-style split folder, e.g. .../fer2013/train")
    parser.add_argument("--model", default="models/default")
    parser.add_argument("--limit", type=int, default=3000, help="faces to use, spread evenly over the split")
    parser.add_argument("--margins", default="0.05,0.1,0.15,0.2,0.3")
    parser.add_argument("--lifts", default="0,0.05,0.1", help="upward shifts of the crop's centre, in box sides")
    parser.add_argument("--baseline-framing", default="0.2,0", metavar="MARGIN,LIFT",
                        help="each framing's accuracy change is measured from this one, on the same faces "
                        "(paired 95%% interval); default: the framing used before it was measured")
    parser.add_argument("--detector", default="hog", help="hog, or cnn (about 1 s a frame on one core)")
    parser.add_argument("--min-face-px", type=int, default=48,
                        help="the detector's minimum face size (as the service's HAPPINESS_MIN_FACE_PX); "
                        "80 runs the dlib detectors at scale 1, 2.8x fewer pixels than 48")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    print(json.dumps(measure(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
