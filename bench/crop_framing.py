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

On in-the-wild faces (``--data ../shared/datasets/wild-dev``, framed looser than FER2013's) the
same run measures a model as the service sees such faces: through the detector and its crop,
not in the data set's own framing (``fer_framing`` then means that framing); ``found_per_class``
says whether the detector misses one expression more than another, and ``--compare-model``
scores a second model on the very same crops.
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


def tilted(frame: np.ndarray, angle: float) -> np.ndarray:
    """The frame turned by `angle` degrees about its centre, edges replicated."""
    import cv2

    if angle == 0:
        return frame
    matrix = cv2.getRotationMatrix2D((CANVAS / 2, CANVAS / 2), angle, 1.0)
    return cv2.warpAffine(frame, matrix, (CANVAS, CANVAS), borderMode=cv2.BORDER_REPLICATE)


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

    rng = np.random.default_rng(seed)
    sides = np.rint(rng.uniform(*ENLARGE, len(faces)) * faces.shape[1]).astype(int)
    angles = rng.uniform(-TILT, TILT, len(faces))
    found, indices = [], []
    for i, face in enumerate(tqdm(faces, desc="detecting", unit="face", file=sys.stderr)):
        frame = tilted(frame_of(face, sides[i]), angles[i])
        box = central_box(detector.detect(cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB) if rgb else frame))
        if box is not None:
            found.append((frame, box, sides[i]))
            indices.append(i)
    return found, np.array(indices, np.int64)


def scores(probabilities: np.ndarray, labels: np.ndarray, classes: tuple[str, ...],
           happy_threshold: float | None = None, tpr_fpr: tuple[float, float] | None = None) -> dict[str, float]:
    """Headline scores under the served decision rule; the adjusted share uses the model's stored
    rates (without them it would equal the true share by construction)."""
    from service.training.evaluate import happy_decisions
    from service.training.uncertainty import headline_scores

    headline = headline_scores(probabilities, labels, classes, tpr_fpr, happy_threshold)
    # tpr and fpr are what the adjusted index divides by: do the stored ones hold for these crops?
    keys = ("accuracy", "happy_vs_rest_precision", "happy_vs_rest_f1", "happy_vs_rest_recall", "happy_fpr",
            "adjusted_happy_share")
    picked = {key: headline[key] for key in keys}
    if "happy" in classes:  # the raw index of these faces (the served rule) beside the truth
        called, is_happy = happy_decisions(probabilities, labels, classes, happy_threshold)
        picked |= {"happy_share": float(called.mean()), "true_happy_share": float(is_happy.mean())}
    return picked


def found_per_class(labels: np.ndarray, found: np.ndarray, classes: tuple[str, ...]) -> dict:
    """Faces and found faces of each class: a detector that misses one expression more than
    another biases the index before any classifier sees a face."""
    return {name: {"faces": int((labels == c).sum()), "found": int((labels[found] == c).sum()),
                   "share": float((labels[found] == c).sum() / max(1, (labels == c).sum()))}
            for c, name in enumerate(classes)}


UPRIGHT = False  # --upright: crops turned upright by the detector's eye keypoints
TILT = 0.0  # --tilt: each face turned by a random angle within +-TILT degrees, as heads lean


def crops_at(found: list, margin: float, lift: float) -> np.ndarray:
    from service.vision.preprocess import crop_faces

    return np.concatenate([crop_faces(frame, [box], margin=margin, lift=lift, upright=UPRIGHT)
                           for frame, box, _ in found])


def paired_accuracy_change(correct: np.ndarray, base_correct: np.ndarray, draws: np.ndarray) -> dict:
    """Accuracy difference between two framings of the same faces, with its paired 95% interval."""
    from service.training.uncertainty import percentile_interval

    change = correct.astype(float) - base_correct
    return {"difference": float(change.mean()), "interval": percentile_interval(list(change[draws].mean(axis=1)))}


def framing_rows(classifier, found: list, labels: np.ndarray, framings: list, baseline: tuple,
                 with_intervals: bool = False) -> tuple[list[dict], list[list[dict]]]:
    """Scores of every framing, and its accuracy change from ``baseline`` (margin, lift) on the
    same faces; with ``with_intervals`` each row's 95% bootstrap intervals too, and the bootstrap
    samples of every row (the same resamples for every model: paired differences)."""
    from service.training.evaluate import predict_in_batches, stored_tpr_fpr
    from service.training.uncertainty import bootstrap_scores, intervals, resample_indices

    def correct_at(margin: float, lift: float) -> tuple[np.ndarray, np.ndarray]:
        probabilities = predict_in_batches(classifier, crops_at(found, margin, lift))
        return probabilities, classifier.decide(probabilities) == labels  # the served decision rule

    _, base_correct = correct_at(*baseline)
    draws = resample_indices(len(labels), 2000, seed=0)
    rates = stored_tpr_fpr(classifier.metadata)
    rows, samples = [], []
    for margin, lift in framings:
        probabilities, correct = correct_at(margin, lift)
        rows.append({"margin": margin, "lift": lift,
                     **scores(probabilities, labels, classifier.classes, classifier.happy_threshold, rates),
                     "accuracy_change": paired_accuracy_change(correct, base_correct, draws)})
        if with_intervals:
            samples.append(bootstrap_scores(probabilities, labels, classifier.classes, draws, rates,
                                            classifier.happy_threshold))
            rows[-1]["intervals"] = intervals(samples[-1])
    return rows, samples


def compared_model_rows(compared, found: list, labels: np.ndarray, framings: list, baseline: tuple,
                        primary_rows: list[dict], primary_samples: list[list[dict]]) -> list[dict]:
    """The other model's rows on the same crops; with intervals, each row also holds the primary
    model's scores minus these with paired 95% intervals (``primary_minus_this``)."""
    from service.training.uncertainty import paired_differences

    rows, samples = framing_rows(compared, found, labels, framings, baseline, with_intervals=bool(primary_samples))
    for row, own, primary, primary_own in zip(rows, samples, primary_rows, primary_samples):
        point = {key: primary[key] for key in own[0] if key in primary}
        baseline_point = {key: row[key] for key in point}
        row["primary_minus_this"] = paired_differences(primary_own, own, point, baseline_point)
    return rows


def measure(args: argparse.Namespace) -> dict:
    from service.training.datasets import load_split
    from service.training.evaluate import predict_in_batches, stored_tpr_fpr
    from service.vision.classifier import EmotionClassifier
    from service.vision.detectors import build_detector

    classifier = EmotionClassifier.load(args.model)
    compared = EmotionClassifier.load(args.compare_model) if args.compare_model else None
    faces = load_split(args.data, classifier.classes)
    picked = np.linspace(0, len(faces.labels) - 1, min(args.limit, len(faces.labels))).astype(np.int64)
    detector = build_detector(args.detector, min_face_px=args.min_face_px)
    found, indices = detect_all(detector, faces.images[picked], rgb=detector.type != "hog")
    labels, originals = faces.labels[picked][indices], faces.images[picked][indices]
    fitted = np.percentile([fitted_margin(box, side) for _, box, side in found], [25, 50, 75])
    offsets = np.median([centre_offset(box, side) for _, box, side in found], axis=0)
    framings = [(float(m), float(x)) for m in args.margins.split(",") for x in args.lifts.split(",")]
    baseline = tuple(float(v) for v in args.baseline_framing.split(","))
    report = {"data": args.data, "model": args.model, "version": classifier.version, "detector": args.detector,
            "min_face_px": args.min_face_px, "upright": UPRIGHT, "tilt": TILT, "faces": len(picked), "found": len(found),
            "fitted_margin": {"q25": fitted[0], "median": fitted[1], "q75": fitted[2]},
            "centre_offset": {"down": offsets[0], "right": offsets[1]},
            "fer_framing": scores(predict_in_batches(classifier, originals), labels, classifier.classes,
                                  classifier.happy_threshold, stored_tpr_fpr(classifier.metadata)),
            "baseline_framing": {"margin": baseline[0], "lift": baseline[1]},
            "found_per_class": found_per_class(faces.labels[picked], indices, classifier.classes)}
    report["framings"], samples = framing_rows(classifier, found, labels, framings, baseline, args.intervals)
    if compared is not None:  # the other model on the very same crops
        report["compare_model"] = {"model": args.compare_model, "version": compared.version,
                                   "fer_framing": scores(predict_in_batches(compared, originals), labels,
                                                         compared.classes, compared.happy_threshold,
                                                         stored_tpr_fpr(compared.metadata)),
                                   "framings": compared_model_rows(compared, found, labels, framings, baseline,
                                                                   report["framings"], samples)}
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a folder-per-class split, e.g. .../fer2013/train or "
                        ".../wild-dev (in-the-wild faces, framed looser than FER2013's)")
    parser.add_argument("--model", default="models/default")
    parser.add_argument("--limit", type=int, default=3000, help="faces to use, spread evenly over the split")
    parser.add_argument("--margins", default="0.05,0.1,0.15,0.2,0.3")
    parser.add_argument("--lifts", default="0,0.05,0.1", help="upward shifts of the crop's centre, in box sides")
    parser.add_argument("--baseline-framing", default="0.2,0", metavar="MARGIN,LIFT",
                        help="each framing's accuracy change is measured from this one, on the same faces "
                        "(paired 95%% interval); default: the framing used before it was measured")
    parser.add_argument("--compare-model", metavar="MODEL_DIR", help="also score this model on the same "
                        "detected faces and crops (old beside new without detecting twice)")
    parser.add_argument("--intervals", action="store_true", help="95%% bootstrap intervals of every "
                        "framing's scores (2,000 resamples of the found faces), and with --compare-model the "
                        "paired differences between the two models")
    parser.add_argument("--detector", default="hog", help="hog or blazeface")
    parser.add_argument("--tilt", type=float, default=0.0, help="turn each face by a random angle within "
                        "+-TILT degrees before detection (heads that lean)")
    parser.add_argument("--upright", action="store_true", help="turn each crop upright by the detector's eye "
                        "keypoints, as the service does for a detector whose framing says so")
    parser.add_argument("--min-face-px", type=int, default=48,
                        help="the detector's minimum face size (as the service's HAPPINESS_MIN_FACE_PX); "
                        "80 runs the dlib detectors at scale 1, 2.8x fewer pixels than 48")
    args = parser.parse_args()
    global UPRIGHT, TILT
    UPRIGHT, TILT = args.upright, args.tilt
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    print(json.dumps(measure(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
