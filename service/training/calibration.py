"""Calibrated probabilities and a happy decision rule that keeps the happy share unbiased.

- Temperature scaling (Guo et al. 2017): one number T, fitted by minimising the negative
  log-likelihood of validation labels under softmax(log(p) / T); it changes how confident the
  probabilities are, never which class ranks first. Judged by the expected calibration error
  (ECE): the gap between confidence and accuracy, averaged over confidence bins.
- The happy threshold: a face is happy exactly when p(happy) >= t. The happy share a place
  reads is unbiased when the model makes as many false positives as false negatives; the
  threshold is chosen so that the worst share bias over several labelled sets (FER2013 val and
  in-the-wild faces) is as small as possible, instead of maximising F1 on one of them.

Pure functions on probabilities and labels; no model is loaded here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar

from service.vision.classifier import with_temperature

ECE_BINS = 15
THRESHOLD_GRID = np.round(np.arange(0.20, 0.951, 0.01), 2)


def negative_log_likelihood(probabilities: np.ndarray, labels: np.ndarray) -> float:
    picked = probabilities[np.arange(len(labels)), labels]
    return float(-np.log(np.clip(picked, 1e-12, 1.0)).mean())


def fit_temperature(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """The T in [0.25, 4] that minimises the NLL of `labels` under the scaled probabilities."""
    if len(labels) == 0:
        raise ValueError("fitting a temperature needs labelled faces")

    def loss(log_t: float) -> float:
        return negative_log_likelihood(with_temperature(probabilities, float(np.exp(log_t))), labels)

    result = minimize_scalar(loss, bounds=(np.log(0.25), np.log(4.0)), method="bounded",
                             options={"xatol": 1e-4})
    return float(np.exp(result.x))


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> float:
    """Top-label ECE: sum over equal-width confidence bins of (faces in bin / all) x
    |accuracy in bin - mean confidence in bin|."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            total += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(total)


@dataclass(frozen=True)
class LabelledHappy:
    """One labelled set for choosing the threshold: each face's p(happy) and whether it is happy."""

    name: str
    p_happy: np.ndarray
    is_happy: np.ndarray

    def share_bias(self, threshold: float) -> float:
        """Predicted minus true happy share at this threshold (a fraction, e.g. 0.067)."""
        return float(np.mean(self.p_happy >= threshold) - np.mean(self.is_happy))


def balanced_threshold(sets: list[LabelledHappy], grid: np.ndarray = THRESHOLD_GRID) -> float:
    """The threshold of `grid` whose largest absolute share bias over `sets` is smallest (the
    lower threshold on ties)."""
    if not sets:
        raise ValueError("choosing a threshold needs at least one labelled set")
    worst = [max(abs(s.share_bias(t)) for s in sets) for t in grid]
    return float(grid[int(np.argmin(worst))])


def labelled_halves(name: str, probabilities: np.ndarray, labels: np.ndarray, happy: int,
                    seed: int) -> tuple[LabelledHappy, LabelledHappy]:
    """A labelled set's (fit, check) halves (`stratified_half`) as LabelledHappy sets: the
    threshold is chosen on the fit half and its bias reported on the check half."""
    fit, check = stratified_half(labels, seed)
    return (LabelledHappy(f"{name} (fit half)", probabilities[fit, happy], labels[fit] == happy),
            LabelledHappy(f"{name} (check half)", probabilities[check, happy], labels[check] == happy))


def stratified_half(labels: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(fit, check) index halves of a labelled set, each class split in two at random: the
    threshold is fitted on one half and its bias reported on the other."""
    rng = np.random.default_rng(seed)
    fit, check = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        fit.append(members[: len(members) // 2])
        check.append(members[len(members) // 2 :])
    return np.sort(np.concatenate(fit)), np.sort(np.concatenate(check))
