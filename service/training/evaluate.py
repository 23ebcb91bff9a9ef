"""Evaluation metrics for emotion classifiers, as pure functions on labels and probabilities.

The result of :func:`evaluate_probabilities` is the JSON printed by ``happiness evaluate --json``:
``n, accuracy, macro_f1, per_class, confusion_matrix, happy_vs_rest, happy_vs_sad_accuracy,
happy_share``. ``confusion_matrix`` rows are true classes and columns predicted classes, both
in the order of the ``per_class`` keys (the model's class order). ``predict_folder`` runs a served
model on a labelled folder; ``--intervals``, ``--baseline`` and ``--prior-shift`` add the sections
of uncertainty.py and prior_shift.py.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from service.vision.classifier import decide

if TYPE_CHECKING:
    from service.training.datasets import FaceSet

log = logging.getLogger(__name__)

HAPPY = "happy"
SAD = "sad"


def _ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, 0.0 when the denominator is 0 (the usual convention for empty classes)."""
    return float(numerator / denominator) if denominator else 0.0


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts [true, predicted] of integer labels."""
    matrix = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(matrix, (np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)), 1)
    return matrix


def per_class_scores(matrix: np.ndarray, classes: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """Precision, recall, F1 and support of every class from a confusion matrix."""
    scores = {}
    for i, name in enumerate(classes):
        true_pos = matrix[i, i]
        precision = _ratio(true_pos, matrix[:, i].sum())
        recall = _ratio(true_pos, matrix[i, :].sum())
        f1 = _ratio(2 * precision * recall, precision + recall)
        scores[name] = {"precision": precision, "recall": recall, "f1": f1, "support": int(matrix[i, :].sum())}
    return scores


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> float:
    """Unweighted mean of the per-class F1 scores over classes present in the truth or the predictions."""
    matrix = confusion_matrix(y_true, y_pred, num_classes)
    present = (matrix.sum(axis=0) + matrix.sum(axis=1)) > 0
    scores = per_class_scores(matrix, tuple(str(i) for i in range(num_classes)))
    f1 = np.array([s["f1"] for s in scores.values()])
    return float(f1[present].mean()) if present.any() else 0.0


def binary_scores(truth: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Accuracy, precision, recall (= tpr), F1 and fpr of boolean decisions."""
    truth, predicted = np.asarray(truth, bool), np.asarray(predicted, bool)
    true_pos = np.sum(truth & predicted)
    precision = _ratio(true_pos, predicted.sum())
    recall = _ratio(true_pos, truth.sum())
    return {
        "accuracy": _ratio(np.sum(truth == predicted), truth.size),
        "precision": precision,
        "recall": recall,
        "f1": _ratio(2 * precision * recall, precision + recall),
        "fpr": _ratio(np.sum(~truth & predicted), np.sum(~truth)),
    }


def adjusted_share(predicted_share: float, tpr: float, fpr: float) -> float | None:
    """Adjusted classify-and-count (Forman 2008): (p - fpr) / (tpr - fpr), clipped to [0, 1].

    None when tpr == fpr, where the classifier carries no information and nothing can be adjusted.
    """
    if tpr - fpr == 0:
        return None
    return float(np.clip((predicted_share - fpr) / (tpr - fpr), 0.0, 1.0))


def happy_vs_sad_accuracy(probabilities: np.ndarray, labels: np.ndarray, classes: tuple[str, ...]) -> float | None:
    """Accuracy on faces labelled happy or sad, each decided by the larger of those two class scores."""
    if HAPPY not in classes or SAD not in classes:
        return None
    happy, sad = classes.index(HAPPY), classes.index(SAD)
    subset = (labels == happy) | (labels == sad)
    if not subset.any():
        return None
    said_happy = probabilities[subset, happy] >= probabilities[subset, sad]
    return float(np.mean(said_happy == (labels[subset] == happy)))


def evaluate_probabilities(
    probabilities: np.ndarray, labels: np.ndarray, classes: tuple[str, ...], tpr_fpr: tuple[float, float] | None = None,
    happy_threshold: float | None = None,
) -> dict:
    """Every reported metric for class probabilities [N, C] against integer labels [N].

    ``tpr_fpr`` are the model's happy-vs-rest rates used for the adjusted happy share; when None
    the rates measured on these very faces are used (which makes ``adjusted`` equal ``true``).
    Decisions follow the served rule: argmax, or the model's happy threshold when it has one.
    """
    predicted = decide(probabilities, classes, happy_threshold) if len(labels) else np.empty(0, np.int64)
    matrix = confusion_matrix(labels, predicted, len(classes))
    per_class = per_class_scores(matrix, classes)
    happy_rest, shares = _happy_metrics(labels, predicted, classes, tpr_fpr)
    return {
        "n": int(len(labels)),
        "accuracy": _ratio(np.trace(matrix), matrix.sum()),
        "macro_f1": macro_f1(labels, predicted, len(classes)),
        "per_class": per_class,
        "confusion_matrix": matrix.tolist(),
        "happy_vs_rest": happy_rest,
        "happy_vs_sad_accuracy": happy_vs_sad_accuracy(probabilities, labels, classes),
        "happy_share": shares,
    }


def _happy_metrics(labels, predicted, classes, tpr_fpr) -> tuple[dict | None, dict | None]:
    """(happy_vs_rest scores, happy_share) or (None, None) for models without a happy class."""
    if HAPPY not in classes:
        return None, None
    happy = classes.index(HAPPY)
    scores = binary_scores(labels == happy, predicted == happy)
    tpr, fpr = tpr_fpr if tpr_fpr is not None else (scores["recall"], scores["fpr"])
    predicted_share = _ratio(np.sum(predicted == happy), len(labels))
    shares = {
        "true": _ratio(np.sum(labels == happy), len(labels)),
        "predicted": predicted_share,
        "adjusted": adjusted_share(predicted_share, tpr, fpr),
    }
    public = {key: scores[key] for key in ("accuracy", "precision", "recall", "f1")}
    return public, shares


def happy_rates(probabilities: np.ndarray, labels: np.ndarray, classes: tuple[str, ...],
                happy_threshold: float | None = None) -> dict[str, float] | None:
    """The happy-vs-rest true and false positive rates stored in a model's metadata, with the
    numbers of happy and other faces they were measured on (their uncertainty depends on it)."""
    if HAPPY not in classes:
        return None
    said_happy, is_happy = happy_decisions(probabilities, labels, classes, happy_threshold)
    scores = binary_scores(is_happy, said_happy)
    return {"tpr": scores["recall"], "fpr": scores["fpr"], "n_happy": int(is_happy.sum()),
            "n_other": int((~is_happy).sum())}


def happy_counts(called_happy: np.ndarray, labelled_happy: np.ndarray) -> dict[str, int]:
    """Faces labelled happy and other, and how many of each the model called happy."""
    called, labelled = np.asarray(called_happy, bool), np.asarray(labelled_happy, bool)
    return {"n_happy": int(labelled.sum()), "happy_as_happy": int((called & labelled).sum()),
            "n_other": int((~labelled).sum()), "other_as_happy": int((called & ~labelled).sum())}


def happy_decisions(probabilities: np.ndarray, labels: np.ndarray, classes: tuple[str, ...],
                    happy_threshold: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(faces decided happy, faces labelled happy) as booleans; ValueError without a happy class."""
    if HAPPY not in classes:
        raise ValueError(f"the model's classes {', '.join(classes)} have no {HAPPY!r}")
    happy = classes.index(HAPPY)
    return decide(probabilities, classes, happy_threshold) == happy, np.asarray(labels) == happy


def stored_tpr_fpr(metadata: dict) -> tuple[float, float] | None:
    """A model's stored happy-vs-rest rates (behind its adjusted index), if it has them."""
    rates = metadata.get("happy_vs_rest")
    return (rates["tpr"], rates["fpr"]) if rates else None


@dataclass
class Predictions:
    """A served model's class probabilities for labelled faces, with what is needed to score them."""

    probabilities: np.ndarray
    faces: "FaceSet"
    metadata: dict

    @property
    def labels(self) -> np.ndarray:
        return self.faces.labels

    @property
    def classes(self) -> tuple[str, ...]:
        return self.faces.classes

    @property
    def tpr_fpr(self) -> tuple[float, float] | None:
        return stored_tpr_fpr(self.metadata)

    @property
    def happy_threshold(self) -> float | None:
        """The served model's happy decision threshold, if it has one."""
        return self.metadata.get("decision", {}).get("happy_threshold")

    def metrics(self) -> dict:
        return evaluate_probabilities(self.probabilities, self.labels, self.classes, self.tpr_fpr,
                                      self.happy_threshold)


def predict_folder(model_dir: str | Path, data_dir: str | Path, faces=None) -> Predictions:
    """The model in ``model_dir`` run on a folder-per-class split (or on ``faces`` already loaded
    from it, which must match the model's classes and input size).

    Runs the service's own classifier, so what is measured is what is served.
    """
    from service.training.datasets import load_split
    from service.vision.classifier import EmotionClassifier

    classifier = EmotionClassifier.load(model_dir)
    if faces is None:
        faces = load_split(data_dir, classifier.classes, classifier.input_size)
    elif faces.classes != classifier.classes or faces.images.shape[1:] != classifier.input_size:
        raise ValueError(f"{model_dir} has other classes or another input size than the faces it is compared on")
    log.info("evaluating %s on %d faces from %s", classifier.name, len(faces.labels), data_dir)
    probabilities = predict_in_batches(classifier, faces.images)
    return Predictions(probabilities, faces, classifier.metadata)


def predict_in_batches(classifier, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Class probabilities of many faces, in bounded-memory batches."""
    parts = [classifier.predict_proba(images[i : i + batch_size]) for i in range(0, len(images), batch_size)]
    return np.concatenate(parts) if parts else np.zeros((0, len(classifier.classes)), np.float32)
