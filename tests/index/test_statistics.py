"""Known-answer tests for service.index.statistics.

Expected values are worked out by hand in the comments or by an independent method
(root finding on the score test, scipy.stats.theilslopes, math.erfc for the normal tail).
"""

import dataclasses
import math

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.stats import theilslopes

from service.index.statistics import (IndexSummary, Rates, adjusted_index, index_of, summarize, summarize_periods,
                                      wilson_interval)
from service.index.robust_trend import Trend, mann_kendall, theil_sen_slope, trend

Z95 = 1.959963984540054


def two_sided_p(z: float) -> float:
    """Normal two-sided tail via erfc, independent of scipy.stats.norm."""
    return math.erfc(abs(z) / math.sqrt(2))


def score_test_bounds(successes: int, n: int, z: float) -> tuple[float, float]:
    """Wilson bounds as the roots of |p_hat - p| = z * sqrt(p(1-p)/n), found numerically."""
    p_hat = successes / n

    def gap(p: float) -> float:
        return abs(p_hat - p) - z * math.sqrt(p * (1 - p) / n)

    eps = 1e-12
    lower = 0.0 if successes == 0 else brentq(gap, eps, p_hat)
    upper = 1.0 if successes == n else brentq(gap, p_hat, 1 - eps)
    return lower, upper


# --- index_of -------------------------------------------------------------------------------


def test_index_of_is_the_happy_fraction():
    assert index_of(3, 4) == 0.75
    assert index_of(0, 5) == 0.0
    assert index_of(5, 5) == 1.0


def test_index_of_no_faces_is_none():
    assert index_of(0, 0) is None


# --- wilson_interval ------------------------------------------------------------------------


def test_wilson_8_of_10_known_answer():
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4)
    assert high == pytest.approx(0.9433, abs=1e-4)


def test_wilson_empty_sample_is_none():
    assert wilson_interval(0, 0) is None


def test_wilson_zero_successes_hand_formula():
    # p = 0: lower = 0 and upper = (z^2/n) / (1 + z^2/n) = 0.38415/1.38415 for n = 10
    low, high = wilson_interval(0, 10)
    c = Z95**2 / 10
    assert low == pytest.approx(0.0, abs=1e-12)
    assert high == pytest.approx(c / (1 + c), rel=1e-9)
    assert high == pytest.approx(0.27753, abs=1e-5)


def test_wilson_all_successes_mirrors_zero_successes():
    low, high = wilson_interval(10, 10)
    assert high == pytest.approx(1.0, abs=1e-12)
    assert low == pytest.approx(1 - 0.27753, abs=1e-5)


@pytest.mark.parametrize("successes,n", [(1, 3), (8, 10), (37, 120), (500, 1000), (999, 1000)])
def test_wilson_matches_score_test_roots(successes, n):
    expected = score_test_bounds(successes, n, Z95)
    assert wilson_interval(successes, n) == pytest.approx(expected, abs=1e-9)


def test_wilson_other_confidence_level():
    z99 = 2.5758293035489004
    assert wilson_interval(8, 10, confidence=0.99) == pytest.approx(
        score_test_bounds(8, 10, z99), abs=1e-9
    )


def test_wilson_bounds_within_unit_interval_for_single_face():
    for successes in (0, 1):
        low, high = wilson_interval(successes, 1)
        assert 0.0 <= low <= high <= 1.0
    assert wilson_interval(1, 1)[1] == pytest.approx(1.0, abs=1e-12)
    assert wilson_interval(0, 1)[0] == pytest.approx(0.0, abs=1e-12)


# --- adjusted_index -------------------------------------------------------------------------


def test_adjusted_index_known_answers():
    assert adjusted_index(0.5, tpr=0.9, fpr=0.1) == pytest.approx(0.5)
    # (0.3 - 0.2) / (0.8 - 0.2) = 1/6
    assert adjusted_index(0.3, tpr=0.8, fpr=0.2) == pytest.approx(1 / 6)
    # (0.8 - 0.1) / (0.9 - 0.1) = 0.875
    assert adjusted_index(0.8, tpr=0.9, fpr=0.1) == pytest.approx(0.875)


def test_adjusted_index_perfect_classifier_is_identity():
    assert adjusted_index(0.42, tpr=1.0, fpr=0.0) == pytest.approx(0.42)


def test_adjusted_index_clips_to_unit_interval():
    # (0.05 - 0.1) / 0.8 < 0 and (0.95 - 0.1) / 0.8 > 1
    assert adjusted_index(0.05, tpr=0.9, fpr=0.1) == 0.0
    assert adjusted_index(0.95, tpr=0.9, fpr=0.1) == 1.0


def test_adjusted_index_undefined_cases():
    assert adjusted_index(None, tpr=0.9, fpr=0.1) is None
    assert adjusted_index(0.5, tpr=0.3, fpr=0.3) is None
    assert adjusted_index(0.5, tpr=0.2, fpr=0.4) is None


# --- theil_sen_slope ------------------------------------------------------------------------


def test_theil_sen_exact_lines():
    xs = [0, 1, 2, 3, 4, 5]
    assert theil_sen_slope(xs, [2 * x + 1 for x in xs]) == pytest.approx(2.0)
    assert theil_sen_slope(xs, [-0.25 * x + 3 for x in xs]) == pytest.approx(-0.25)
    assert theil_sen_slope(xs, [7.0] * 6) == 0.0


def test_theil_sen_ignores_an_outlier():
    # 36 of the 45 pairs avoid the outlier and have slope 0.5, so the median is 0.5,
    # while least squares is pulled far away.
    xs = list(range(10))
    ys = [0.5 * x for x in xs]
    ys[9] = 100.0
    assert theil_sen_slope(xs, ys) == pytest.approx(0.5)
    ols_slope = np.polyfit(xs, ys, 1)[0]
    assert ols_slope > 5


def test_theil_sen_uneven_spacing_matches_scipy():
    xs = [0.0, 0.5, 2.0, 3.0, 7.0, 7.5, 10.0]
    ys = [0.40, 0.42, 0.38, 0.47, 0.52, 0.49, 0.61]
    assert theil_sen_slope(xs, ys) == pytest.approx(theilslopes(ys, xs)[0])


@pytest.mark.parametrize("n", [2, 3, 4, 5, 10, 51, 365])
def test_theil_sen_is_the_exact_median_of_all_pair_slopes(n):
    # n points give n(n-1)/2 slopes: odd and even counts, so both branches of the median
    rng = np.random.default_rng(n)
    xs, ys = np.cumsum(rng.uniform(0.5, 2.0, n)), rng.random(n)
    slopes = [(ys[j] - ys[i]) / (xs[j] - xs[i]) for j in range(n) for i in range(j)]
    assert theil_sen_slope(xs.tolist(), ys.tolist()) == np.median(slopes)


@pytest.mark.parametrize("case", ["normal", "ties", "sorted", "sample_misleads"])
@pytest.mark.parametrize("size", [9, 10, 8_192, 66_430, 66_431])
def test_slope_median_equals_numpys_on_any_arrangement(case, size):
    from service.index.robust_trend import MEDIAN_SAMPLE, OrderStatistics, _middle_ranks

    rng = np.random.default_rng(size)
    values = {"normal": rng.normal(size=size), "ties": rng.integers(0, 4, size).astype(float),
              "sorted": np.sort(rng.normal(size=size)), "sample_misleads": np.zeros(size)}[case]
    if case == "sample_misleads":  # every strided sample value is 1, most values 0: the bracket misses
        values[:: max(1, size // MEDIAN_SAMPLE)] = 1.0
    middle = _middle_ranks(size)
    assert OrderStatistics(values.copy(), middle[0], middle[-1]).mean_of(middle) == np.median(values)
    # several order statistics from one bracket, as the slope and its interval take them, and a
    # rank outside the bracket (the whole array is used then)
    order, expected = OrderStatistics(values.copy(), size // 3, size // 2), np.sort(values)
    assert [order.mean_of([rank]) for rank in (size // 2, size // 3, size - 1, 0)] == \
        [float(expected[rank]) for rank in (size // 2, size // 3, size - 1, 0)]


def test_theil_sen_skips_pairs_with_equal_x():
    # slopes: (0,0)->(1,2) = 2 and (0,5)->(1,2) = -3; median of [2, -3] = -0.5
    assert theil_sen_slope([0, 0, 1], [0, 5, 2]) == pytest.approx(-0.5)


def test_theil_sen_needs_two_distinct_x():
    with pytest.raises(ValueError):
        theil_sen_slope([3, 3], [1, 2])


# --- mann_kendall ---------------------------------------------------------------------------


def test_mann_kendall_strictly_increasing_ten():
    # every pair concordant: S = 10*9/2 = 45; Var = 10*9*25/18 = 125
    s, p = mann_kendall(list(range(10)))
    assert s == 45
    assert p == pytest.approx(two_sided_p((45 - 1) / math.sqrt(125)), rel=1e-9)
    assert p == pytest.approx(8.30e-5, rel=1e-2)


def test_mann_kendall_strictly_decreasing_is_symmetric():
    s, p = mann_kendall([10 - i for i in range(10)])
    assert s == -45
    assert p == pytest.approx(two_sided_p((-45 + 1) / math.sqrt(125)), rel=1e-9)


def test_mann_kendall_constant_series():
    s, p = mann_kendall([0.5] * 12)
    assert s == 0
    assert p == 1.0


def test_mann_kendall_with_ties():
    # ys = [1, 2, 2, 3]: pairs 1<2, 1<2, 1<3, 2=2, 2<3, 2<3 -> S = 5
    # Var = (4*3*13 - 2*1*9) / 18 = 138/18; z = (5 - 1) / sqrt(138/18)
    s, p = mann_kendall([1, 2, 2, 3])
    assert s == 5
    assert p == pytest.approx(two_sided_p(4 / math.sqrt(138 / 18)), rel=1e-9)
    assert p == pytest.approx(0.1486, abs=1e-3)


def test_mann_kendall_two_tie_groups():
    # ys = [1,1,2,2,3,3]: 15 pairs, 3 tied -> S = 12
    # Var = (6*5*17 - 3 * 2*1*9) / 18 = (510 - 54)/18 = 25.333...
    s, p = mann_kendall([1, 1, 2, 2, 3, 3])
    assert s == 12
    assert p == pytest.approx(two_sided_p(11 / math.sqrt(456 / 18)), rel=1e-9)


def test_mann_kendall_small_s_is_not_significant():
    # one swap in an increasing series of 4: S = 6 - 2 = 4, Var = 4*3*13/18 = 26/3
    s, p = mann_kendall([1, 3, 2, 4])
    assert s == 4
    assert p == pytest.approx(two_sided_p(3 / math.sqrt(26 / 3)), rel=1e-9)
    assert p > 0.05


# --- trend ----------------------------------------------------------------------------------


def test_trend_insufficient_below_min_points():
    result = trend([(d, 0.5 + 0.01 * d) for d in range(7)])
    assert result == Trend(None, None, "insufficient_data", 7, None, None)


def test_trend_min_points_is_configurable():
    result = trend([(d, 0.1 * d) for d in range(4)], min_points=4)
    assert result.direction == "stable"  # S = 6, Var = 26/3, p ~ 0.09
    assert result.slope_per_day == pytest.approx(0.1)
    assert result.buckets == 4


def test_trend_rising():
    result = trend([(d, 0.30 + 0.01 * d) for d in range(10)])
    assert result.direction == "rising"
    assert result.slope_per_day == pytest.approx(0.01)
    assert result.p_value == pytest.approx(two_sided_p(44 / math.sqrt(125)), rel=1e-9)
    assert result.buckets == 10


def test_trend_falling_with_half_day_buckets():
    result = trend([(d / 2, 0.80 - 0.02 * d) for d in range(10)])
    assert result.direction == "falling"
    assert result.slope_per_day == pytest.approx(-0.04)
    assert result.p_value == pytest.approx(two_sided_p(44 / math.sqrt(125)), rel=1e-9)


def test_trend_orders_points_by_time():
    points = [(d, 0.30 + 0.01 * d) for d in range(10)]
    shuffled = points[1::2] + points[0::2]
    assert trend(shuffled) == trend(points)


def test_trend_constant_is_stable():
    result = trend([(d, 0.6) for d in range(9)])
    assert (result.slope_per_day, result.p_value, result.direction, result.buckets) == (0.0, 1.0, "stable", 9)
    assert result.slope_ci95 == (0.0, 0.0) and result.variance_ratio == 1.0


def test_trend_stable_on_noise():
    rng = np.random.default_rng(20240601)
    ys = 0.5 + rng.normal(0.0, 0.05, size=30)
    xs = np.arange(30, dtype=float)
    result = trend(list(zip(xs.tolist(), ys.tolist())))
    # independent S and tie-free variance for the same series
    s = sum(np.sign(ys[j] - ys[i]) for i in range(30) for j in range(i + 1, 30))
    z = (s - np.sign(s)) / math.sqrt(30 * 29 * 65 / 18)
    assert result.direction == "stable"
    assert result.p_value == pytest.approx(two_sided_p(z), rel=1e-9)
    assert result.p_value >= 0.05
    assert result.slope_per_day == pytest.approx(theilslopes(ys, xs)[0])
    assert result.buckets == 30


# --- summarize ------------------------------------------------------------------------------


RATES = Rates(tpr=0.9, fpr=0.1, n_happy=900, n_other=2700)


def test_summarize_known_answer():
    summary = summarize(happy=8, faces=10, rates=RATES)
    assert summary.faces == 10
    assert summary.happy == 8
    assert summary.not_happy == 2
    assert summary.index == pytest.approx(0.8)
    assert summary.ci95 == pytest.approx((0.4902, 0.9433), abs=1e-4)
    assert summary.adjusted_index == pytest.approx(0.875)
    assert summary.design_effect == 1.0


def test_summarize_no_faces():
    assert summarize(happy=0, faces=0, rates=RATES) == IndexSummary(
        faces=0, happy=0, not_happy=0, index=None, ci95=None, adjusted_index=None
    )


def test_results_are_frozen():
    summary = summarize(happy=1, faces=2, rates=RATES)
    with pytest.raises(dataclasses.FrozenInstanceError):
        summary.index = 0.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        trend([]).buckets = 3


def test_wilson_returns_plain_floats():
    low, high = wilson_interval(3, 7)
    assert type(low) is float and type(high) is float
    assert (low, high) == pytest.approx(score_test_bounds(3, 7, Z95), abs=1e-9)


def test_pair_indices_are_every_pair_once_whatever_was_built_before():
    from service.index.robust_trend import PairIndex

    pair_index = PairIndex()
    for n in (400, 2, 3, 365, 401, 1200, 7):  # shorter after longer: a prefix of the built pairs
        first, second = pair_index.pairs(n)
        expected_first, expected_second = np.triu_indices(n, k=1)
        codes = np.sort(first.astype(np.int64) * n + second)  # one number per pair
        assert np.array_equal(codes, np.sort(expected_first * n + expected_second))


def test_theil_sen_over_a_year_matches_scipy():
    rng = np.random.default_rng(5)
    for n in (365, 1600):
        xs = np.sort(rng.uniform(0, 400, n))
        ys = 0.002 * xs + rng.normal(0, 0.05, n)
        assert theil_sen_slope(xs, ys) == pytest.approx(theilslopes(ys, xs)[0], rel=1e-12)


def test_rates_not_applied_leave_the_index_unadjusted_in_one_period_and_many():
    applied, held_back = Rates(0.9, 0.1, 900, 2700), Rates(0.9, 0.1, 900, 2700, applied=False)
    summary = summarize(30, 100, held_back)
    assert summary.index == 0.3 and summary.ci95 == summarize(30, 100, applied).ci95
    assert summary.adjusted_index is None and summary.adjusted_ci95 is None
    periods = summarize_periods(np.array([30, 5]), np.array([100, 10]), held_back)
    assert np.isnan(periods.adjusted_index).all() and np.isnan(periods.adjusted_low).all()
    assert not np.isnan(summarize_periods(np.array([30]), np.array([100]), applied).adjusted_index).any()
