"""Bootstrap intervals and paired differences of evaluation figures, on constructed predictions."""

from __future__ import annotations

import numpy as np
import pytest

from service.training.uncertainty import (bootstrap_scores, headline_scores, intervals, paired_differences,
                                          percentile_interval, resample_indices, uncertainty_report)

CLASSES = ("angry", "happy", "sad")


class Run:
    """The attributes of evaluate.Predictions that uncertainty_report reads."""

    def __init__(self, predicted, labels, name="m", rates=None):
        self.probabilities = np.eye(len(CLASSES), dtype=np.float32)[np.asarray(predicted)]
        self.labels, self.classes = np.asarray(labels), CLASSES
        self.metadata = {"name": name, "version": "1", **({"happy_vs_rest": rates} if rates else {})}
        self.tpr_fpr = (rates["tpr"], rates["fpr"]) if rates else None
        self.happy_threshold = None


def right_on(labels: np.ndarray, correct: np.ndarray) -> np.ndarray:
    """Predictions equal to ``labels`` where ``correct``, the next class elsewhere."""
    return np.where(correct, labels, (labels + 1) % len(CLASSES))


def test_headline_scores_on_a_hand_checked_case():
    labels = np.array([0, 1, 1, 2, 2, 1])
    scores = headline_scores(np.eye(3)[[0, 1, 2, 2, 1, 1]], labels, CLASSES, tpr_fpr=(0.5, 0.25))
    assert scores["accuracy"] == pytest.approx(4 / 6)
    assert scores["happy_vs_rest_precision"] == pytest.approx(2 / 3) and scores["happy_vs_rest_recall"] == pytest.approx(2 / 3)
    assert scores["happy_fpr"] == pytest.approx(1 / 3)
    assert scores["happy_vs_sad_accuracy"] == pytest.approx(3 / 5)
    # predicted share 0.5, adjusted with the given rates: (0.5 - 0.25) / (0.5 - 0.25) = 1
    assert scores["adjusted_happy_share"] == pytest.approx(1.0)


def test_headline_scores_without_happy_or_sad_classes_are_none():
    scores = headline_scores(np.eye(2)[[0, 1]], np.array([0, 1]), ("angry", "fear"))
    assert scores["accuracy"] == 1.0
    assert scores["happy_vs_rest_f1"] is None and scores["happy_vs_sad_accuracy"] is None


def test_percentile_interval_holds_the_central_share_and_skips_undefined_values():
    values = list(np.arange(1001) / 1000)
    low, high = percentile_interval(values + [None])
    assert low == pytest.approx(0.025) and high == pytest.approx(0.975)
    assert percentile_interval([None, None]) is None


def test_resamples_are_reproducible_and_drawn_with_replacement():
    draws = resample_indices(50, 200, seed=3)
    assert draws.shape == (200, 50) and draws.min() >= 0 and draws.max() < 50
    np.testing.assert_array_equal(draws, resample_indices(50, 200, seed=3))
    assert any(len(set(row)) < 50 for row in draws)
    with pytest.raises(ValueError):
        resample_indices(0, 10, seed=0)


def test_accuracy_interval_matches_the_binomial_standard_error():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 1000)
    correct = rng.random(1000) < 0.7
    run = Run(right_on(labels, correct), labels)
    accuracy = correct.mean()
    low, high = intervals(bootstrap_scores(run.probabilities, run.labels, CLASSES, resample_indices(1000, 1000, 1)))["accuracy"]
    half_width = 1.96 * np.sqrt(accuracy * (1 - accuracy) / 1000)
    assert low < accuracy < high
    assert (high - low) / 2 == pytest.approx(half_width, rel=0.15)


def test_more_faces_give_narrower_intervals():
    rng = np.random.default_rng(1)
    widths = []
    for n in (400, 3600):
        labels = rng.integers(0, 3, n)
        run = Run(right_on(labels, rng.random(n) < 0.7), labels)
        low, high = uncertainty_report(run, resamples=500)["intervals"]["scores"]["accuracy"]["interval"]
        widths.append(high - low)
    # the standard error shrinks with the square root of the number of faces: 9x faces, a third
    assert widths[1] / widths[0] == pytest.approx(1 / 3, rel=0.25)


def test_the_same_model_as_baseline_differs_by_exactly_nothing():
    labels = np.random.default_rng(2).integers(0, 3, 300)
    run = Run(right_on(labels, np.arange(300) % 3 > 0), labels)
    report = uncertainty_report(run, Run(run.probabilities.argmax(1), labels, name="same"), resamples=200)
    for change in report["baseline"]["differences"].values():
        assert change["difference"] == 0 and change["interval"] == [0.0, 0.0]


def test_a_model_right_on_more_faces_has_a_positive_paired_difference():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 3, 2000)
    base_correct = rng.random(2000) < 0.65
    better_correct = base_correct | (rng.random(2000) < 0.06)  # right wherever the baseline is, and on ~2% more
    report = uncertainty_report(Run(right_on(labels, better_correct), labels),
                                Run(right_on(labels, base_correct), labels, name="base"), resamples=500)
    accuracy = report["baseline"]["differences"]["accuracy"]
    assert accuracy["difference"] == pytest.approx(better_correct.mean() - base_correct.mean())
    assert 0 < accuracy["interval"][0] < accuracy["difference"] < accuracy["interval"][1]
    # pairing cancels the shared faces: the difference is known far better than either accuracy
    own = report["intervals"]["scores"]["accuracy"]["interval"]
    assert accuracy["interval"][1] - accuracy["interval"][0] < (own[1] - own[0]) / 2


def test_paired_differences_are_none_where_a_score_is_undefined():
    point, base = {"accuracy": 0.6, "happy_vs_sad_accuracy": None}, {"accuracy": 0.5, "happy_vs_sad_accuracy": 0.7}
    samples = [{"accuracy": 0.6, "happy_vs_sad_accuracy": None}]
    differences = paired_differences(samples, [{"accuracy": 0.5, "happy_vs_sad_accuracy": 0.7}], point, base)
    assert differences["happy_vs_sad_accuracy"] is None
    assert differences["accuracy"]["difference"] == pytest.approx(0.1)


def test_adjusted_share_interval_uses_the_models_stored_rates():
    labels = np.random.default_rng(4).integers(0, 3, 500)
    run = Run(right_on(labels, np.ones(500, bool)), labels, rates={"tpr": 0.8, "fpr": 0.1})
    score = uncertainty_report(run, resamples=200)["intervals"]["scores"]["adjusted_happy_share"]
    share = np.mean(labels == 1)
    assert score["value"] == pytest.approx((share - 0.1) / 0.7)
    assert score["interval"][0] < score["value"] < score["interval"][1]


def test_too_few_resamples_are_refused():
    labels = np.zeros(10, int)
    with pytest.raises(ValueError, match="at least 100"):
        uncertainty_report(Run(labels, labels), resamples=20)


def test_decision_scores_on_a_hand_checked_case():
    from service.training.uncertainty import decision_scores

    truth = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0], bool)
    called = np.array([1, 1, 1, 0, 1, 0, 0, 0, 0, 0], bool)  # 3 of 4 smiles, 1 of 6 others
    scores = decision_scores(called, truth, tpr_fpr=(0.5, 0.1))
    assert scores["accuracy"] == pytest.approx(0.8)
    assert (scores["precision"], scores["recall"], scores["fpr"]) == pytest.approx((0.75, 0.75, 1 / 6))
    assert (scores["true_share"], scores["raw_share"], scores["raw_error"]) == pytest.approx((0.4, 0.4, 0.0))
    # rates measured elsewhere pull the adjusted share away from a raw share that was right
    assert scores["adjusted_share"] == pytest.approx((0.4 - 0.1) / (0.5 - 0.1))
    assert scores["adjusted_error"] == pytest.approx(0.75 - 0.4)
    assert decision_scores(called, truth)["adjusted_share"] is None


def test_bootstrap_decisions_interval_covers_the_point_and_pairs_with_itself():
    from service.training.uncertainty import bootstrap_decisions, decision_scores

    rng = np.random.default_rng(3)
    truth = rng.random(400) < 0.5
    called = np.where(rng.random(400) < 0.9, truth, ~truth)
    draws = resample_indices(400, 300, seed=1)
    samples = bootstrap_decisions(called, truth, draws, (0.9, 0.1))
    low, high = intervals(samples)["accuracy"]
    assert low < decision_scores(called, truth)["accuracy"] < high and high - low < 0.1
    point = decision_scores(called, truth, (0.9, 0.1))
    same = paired_differences(samples, samples, point, point)
    assert same["f1"] == {"difference": 0.0, "interval": [0.0, 0.0]}
