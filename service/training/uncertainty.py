"""How far an evaluation's figures can be trusted: bootstrap intervals, and paired model differences.

A val split of a few thousand faces, or a city's few hundred labelled faces of its own cameras,
measures accuracy, happy F1 and the happy rates behind the adjusted index only up to sampling
noise. Resampling the faces with replacement and measuring again shows how large that noise is
(the percentile bootstrap, Efron & Tibshirani 1993). Comparing two models on the *same*
resamples (a paired bootstrap) tells whether one is better or the difference is noise: the
faces both get right or wrong cancel, so the interval of the difference is much narrower than
either model's own interval. Pure functions on probabilities and labels; no model is loaded here.
"""

from __future__ import annotations

import numpy as np

from service.training.evaluate import adjusted_share, binary_scores, evaluate_probabilities, happy_rates

DEFAULT_RESAMPLES = 2000
LEVEL = 0.95


def headline_scores(probabilities: np.ndarray, labels: np.ndarray, classes: tuple[str, ...],
                    tpr_fpr: tuple[float, float] | None = None,
                    happy_threshold: float | None = None) -> dict[str, float | None]:
    """The figures a model is judged by, as one flat dict (None where the classes lack happy or sad).

    ``happy_vs_rest_recall`` (tpr) and ``happy_fpr`` are the rates the adjusted index divides by;
    ``adjusted_happy_share`` uses ``tpr_fpr`` (the model's stored rates) when given; decisions
    follow the model's happy threshold when it has one.
    """
    metrics = evaluate_probabilities(probabilities, labels, classes, tpr_fpr, happy_threshold)
    happy = metrics["happy_vs_rest"] or {}
    rates = happy_rates(probabilities, labels, classes, happy_threshold) or {}
    return {
        "accuracy": metrics["accuracy"],
        "macro_f1": metrics["macro_f1"],
        "happy_vs_rest_precision": happy.get("precision"),
        "happy_vs_rest_recall": happy.get("recall"),
        "happy_vs_rest_f1": happy.get("f1"),
        "happy_fpr": rates.get("fpr"),
        "happy_vs_sad_accuracy": metrics["happy_vs_sad_accuracy"],
        "adjusted_happy_share": (metrics["happy_share"] or {}).get("adjusted"),
    }


def decision_scores(called_happy: np.ndarray, truly_happy: np.ndarray,
                    tpr_fpr: tuple[float, float] | None = None) -> dict[str, float | None]:
    """Scores of yes/no happy decisions against yes/no truth (e.g. GENKI's smile labels): accuracy,
    precision, recall, F1, fpr, and the index's view of them: the true share, the raw share (the
    faces called happy) and, with a model's stored ``tpr_fpr``, the adjusted share, each share's
    error in share points beside it."""
    scores: dict[str, float | None] = dict(binary_scores(truly_happy, called_happy))
    truth, raw = float(np.mean(truly_happy)), float(np.mean(called_happy))
    adjusted = adjusted_share(raw, *tpr_fpr) if tpr_fpr is not None else None
    scores |= {"true_share": truth, "raw_share": raw, "raw_error": raw - truth, "adjusted_share": adjusted,
               "adjusted_error": None if adjusted is None else adjusted - truth}
    return scores


def bootstrap_decisions(called_happy: np.ndarray, truly_happy: np.ndarray, draws: np.ndarray,
                        tpr_fpr: tuple[float, float] | None = None) -> list[dict]:
    """``decision_scores`` of every resample in ``draws`` (rows of face indices)."""
    called, truth = np.asarray(called_happy, bool), np.asarray(truly_happy, bool)
    return [decision_scores(called[rows], truth[rows], tpr_fpr) for rows in draws]


def resample_indices(n: int, resamples: int, seed: int) -> np.ndarray:
    """[resamples, n] face indices drawn with replacement; the same seed gives the same draws."""
    if n == 0:
        raise ValueError("cannot resample an empty set of faces")
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def bootstrap_scores(probabilities: np.ndarray, labels: np.ndarray, classes: tuple[str, ...],
                     draws: np.ndarray, tpr_fpr: tuple[float, float] | None = None,
                     happy_threshold: float | None = None) -> list[dict]:
    """``headline_scores`` of every resample in ``draws`` (rows of face indices)."""
    return [headline_scores(probabilities[rows], labels[rows], classes, tpr_fpr, happy_threshold) for rows in draws]


def percentile_interval(values: list[float | None], level: float = LEVEL) -> list[float] | None:
    """[low, high] holding the central ``level`` of the values; None when no value is defined."""
    defined = np.array([v for v in values if v is not None], float)
    if defined.size == 0:
        return None
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(defined, [tail, 100 - tail])
    return [float(low), float(high)]


def intervals(samples: list[dict], level: float = LEVEL) -> dict[str, list[float] | None]:
    """The percentile interval of each headline score over the bootstrap samples."""
    return {key: percentile_interval([s[key] for s in samples], level) for key in samples[0]}


def paired_differences(samples: list[dict], baseline_samples: list[dict], point: dict, baseline_point: dict,
                       level: float = LEVEL) -> dict[str, dict | None]:
    """Each score of a model minus the baseline's: the difference on all faces and its interval
    over paired resamples (``samples[i]`` and ``baseline_samples[i]`` scored the same faces)."""
    differences = {}
    for key in point:
        if point[key] is None or baseline_point[key] is None:
            differences[key] = None
            continue
        paired = [_minus(a[key], b[key]) for a, b in zip(samples, baseline_samples)]
        differences[key] = {"difference": point[key] - baseline_point[key],
                            "interval": percentile_interval(paired, level)}
    return differences


def _minus(value: float | None, baseline: float | None) -> float | None:
    return None if value is None or baseline is None else value - baseline


def uncertainty_report(run, baseline=None, resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> dict:
    """The ``intervals`` section of ``happiness evaluate`` for ``run`` (an evaluate.Predictions),
    and its ``baseline`` section when another model's predictions on the same faces are given."""
    if resamples < 100:
        raise ValueError(f"--intervals needs at least 100 resamples for a 95% interval, got {resamples}")
    draws = resample_indices(len(run.labels), resamples, seed)
    point = headline_scores(run.probabilities, run.labels, run.classes, run.tpr_fpr, run.happy_threshold)
    samples = bootstrap_scores(run.probabilities, run.labels, run.classes, draws, run.tpr_fpr, run.happy_threshold)
    spread = intervals(samples)
    scores = {key: {"value": point[key], "interval": spread[key]} for key in point}
    report = {"intervals": {"method": "percentile bootstrap over faces", "level": LEVEL, "resamples": resamples,
                            "seed": seed, "scores": scores}}
    if baseline is not None:
        base_point = headline_scores(baseline.probabilities, baseline.labels, baseline.classes, baseline.tpr_fpr,
                                     baseline.happy_threshold)
        base_samples = bootstrap_scores(baseline.probabilities, baseline.labels, baseline.classes, draws,
                                        baseline.tpr_fpr, baseline.happy_threshold)
        report["baseline"] = {"name": baseline.metadata.get("name"), "version": baseline.metadata.get("version"),
                              "scores": base_point,
                              "differences": paired_differences(samples, base_samples, point, base_point)}
    return report
