"""The prior-shift check of the adjusted happy share, on happy decisions with known error rates."""

from __future__ import annotations

import numpy as np
import pytest

from service.training.prior_shift import draw_group, largest_group, prior_shift_check
from service.training.report import plot_prior_shift, prior_shift_table


def decisions_with_rates(n_happy: int, n_other: int, tpr: float, fpr: float, seed: int = 0):
    """(decided, truth): each happy face called happy with probability tpr, each other one with fpr."""
    rng = np.random.default_rng(seed)
    truth = np.r_[np.ones(n_happy, bool), np.zeros(n_other, bool)]
    decided = np.where(truth, rng.random(truth.size) < tpr, rng.random(truth.size) < fpr)
    return decided, truth


def test_a_perfect_classifier_has_no_error_raw_or_adjusted():
    truth = np.r_[np.ones(900, bool), np.zeros(2700, bool)]
    result = prior_shift_check(truth, truth, repeats=20)
    for row in result["shares"]:
        assert row["raw"] == {"bias": 0.0, "p95_abs_error": 0.0}
        assert row["adjusted"] == {"bias": 0.0, "p95_abs_error": 0.0}


def test_raw_share_drifts_toward_the_classifier_and_the_adjusted_share_does_not():
    decided, truth = decisions_with_rates(3000, 9000, tpr=0.8, fpr=0.1)
    result = prior_shift_check(decided, truth, shares=(0.1, 0.5, 0.8), repeats=200)
    for row in result["shares"]:
        share = row["true_share"]
        expected_raw_bias = share * 0.8 + (1 - share) * 0.1 - share
        assert row["raw"]["bias"] == pytest.approx(expected_raw_bias, abs=0.01)
        assert abs(row["adjusted"]["bias"]) < 0.01
    # a place where 80% are happy reads 66% raw: far outside the 2-point target, the adjusted share is not
    assert result["shares"][2]["raw"]["bias"] < -0.1


def test_groups_have_the_asked_share_and_no_face_twice():
    rng = np.random.default_rng(1)
    happy, other = np.arange(0, 100), np.arange(100, 400)
    group = draw_group(happy, other, 0.25, 120, rng)
    assert len(group) == 120 and len(set(group)) == 120
    assert np.sum(group < 100) == 30


def test_group_size_is_limited_by_the_scarcer_faces():
    assert largest_group(happy=450, others=1350, shares=(0.05, 0.75), wanted=400) == 400
    assert largest_group(happy=150, others=1350, shares=(0.05, 0.75), wanted=400) == 200  # 150 happy = 75% of 200
    assert largest_group(happy=450, others=50, shares=(0.5,), wanted=400) == 100


def test_the_group_size_shrinks_for_small_sets_and_refuses_tiny_ones():
    decided, truth = decisions_with_rates(80, 300, tpr=0.9, fpr=0.05)
    assert prior_shift_check(decided, truth, repeats=10)["group_size"] == 53  # 40 happy in a half = 75% of 53
    few_decided, few_truth = decisions_with_rates(8, 40, tpr=0.9, fpr=0.05)
    with pytest.raises(ValueError, match="too few happy or other faces"):
        prior_shift_check(few_decided, few_truth)


def test_a_classifier_without_information_has_no_adjusted_share():
    truth = np.r_[np.ones(400, bool), np.zeros(1200, bool)]
    result = prior_shift_check(np.zeros(1600, bool), truth, repeats=10)  # calls nobody happy: tpr = fpr = 0
    assert all(row["adjusted"]["bias"] is None for row in result["shares"])
    assert "n/a" in "\n".join(prior_shift_table({"prior_shift": result}))


def test_report_table_and_plot(tmp_path):
    decided, truth = decisions_with_rates(1000, 3000, tpr=0.85, fpr=0.05)
    section = prior_shift_check(decided, truth, repeats=50)
    table = prior_shift_table({"prior_shift": section})
    assert table[-len(section["shares"]) :][0].startswith("| 5% |")
    path = plot_prior_shift(section, tmp_path / "prior_shift.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
