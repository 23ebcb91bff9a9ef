"""Known-answer tests of the honest-numbers statistics: the measured extra variation (spread),
the widened interval, the adjusted index's interval, Hamed-Rao, Gilbert's slope interval and
the trend's aggregation to local days."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pytest
from scipy.stats import t as student_t
from scipy.stats import theilslopes

from service.index import robust_trend, statistics
from service.index.summaries import DailyCounts, trend_points
from service.index.statistics import (MIN_CLUSTERS, Rates, Sampling, Spread, adjusted_interval, spread_of, summarize,
                                      wilson_bounds, wilson_interval)
from service.index.robust_trend import trend

RATES = Rates(tpr=0.9, fpr=0.1, n_happy=900, n_other=2700)


# --- spread ---------------------------------------------------------------------------------------


def alternating(clusters: int = 10, faces: int = 100) -> tuple[list[int], list[int]]:
    """Clusters of 100 faces with 20 and 40 happy in turn: share 0.3, residuals +-10."""
    return [20 if i % 2 else 40 for i in range(clusters)], [faces] * clusters


def test_spread_of_a_known_cluster_structure():
    # sum r^2 = 10 * 100 = 1000; p(1-p) = 0.21; X^2 = 1000 / (100 * 0.21) = 47.62 on 9 df
    # dispersion = X^2 / 9 = 5.291; CR1 = 10/9 * 1000 / 1000^2 over binomial 0.21/1000 = 5.291 too
    spread = spread_of(*alternating())
    assert spread.clusters == 10
    assert spread.dispersion == pytest.approx(1000 / 21 / 9)
    assert spread.design_effect == pytest.approx(10 / 9 * 1000 / 1000**2 / (0.21 / 1000))
    assert spread.p_value == pytest.approx(1 - __import__("scipy").stats.chi2.cdf(1000 / 21, 9))
    assert spread.quantile == pytest.approx(student_t.ppf(0.975, 9))


def test_people_seen_k_times_multiply_the_dispersion_by_k():
    happy, faces = alternating()
    once, five_times = spread_of(happy, faces), spread_of([5 * h for h in happy], [5 * n for n in faces])
    assert five_times.dispersion == pytest.approx(5 * once.dispersion)
    assert five_times.design_effect == pytest.approx(5 * once.design_effect)


def test_unequal_clusters_give_robust_and_per_face_factors_apart():
    # the big cluster's residual weighs more in the total's (CR1) variance than per face
    happy, faces = [10, 30, 12, 28, 150, 11, 29, 10, 30], [40, 60, 40, 60, 400, 40, 60, 40, 60]
    spread = spread_of(happy, faces)
    share = sum(happy) / sum(faces)
    residuals = np.array(happy) - share * np.array(faces)
    binomial = share * (1 - share)
    assert spread.dispersion == pytest.approx(np.sum(residuals**2 / faces) / binomial / 8)
    assert spread.design_effect == pytest.approx(9 / 8 * np.sum(residuals**2) / sum(faces) ** 2 / (binomial / sum(faces)))


def test_no_extra_variation_gives_plain_wilson_exactly():
    happy, faces = [30] * 10, [100] * 10  # every cluster exactly at the share: X^2 = 0, p = 1
    spread = spread_of(happy, faces)
    assert (spread.design_effect, spread.dispersion, spread.quantile) == (1.0, 1.0, statistics.Z95)
    assert spread.p_value == pytest.approx(1.0)
    assert summarize(300, 1000, RATES, spread).ci95 == wilson_interval(300, 1000)
    assert summarize(30, 100, RATES, spread, whole_range=False).ci95 == wilson_interval(30, 100)


def test_binomial_looking_variation_is_not_widened():
    # X^2 = 8.9 on 9 df (p = 0.45): no evidence of extra variation
    happy, faces = [27, 33, 29, 31, 25, 35, 30, 30, 28, 32], [100] * 10
    spread = spread_of(happy, faces)
    assert 0.1 < spread.p_value < 1.0 and not spread.widened


def test_too_few_clusters_or_no_variance_are_not_measured():
    assert spread_of(*alternating(MIN_CLUSTERS - 1)) == Spread(clusters=MIN_CLUSTERS - 1)
    assert spread_of([0] * 10, [50] * 10) == Spread(clusters=10)       # share 0
    assert spread_of([50] * 10, [50] * 10) == Spread(clusters=10)      # share 1
    happy, faces = alternating()
    assert spread_of(happy + [0, 0], faces + [0, 0]).clusters == 10   # empty clusters ignored


def test_widened_interval_is_wilson_on_the_effective_faces_with_t():
    spread = spread_of(*alternating())
    whole = summarize(300, 1000, RATES, spread)
    assert whole.ci95 == wilson_bounds(0.3, 1000 / spread.design_effect, spread.quantile)
    assert whole.design_effect == spread.design_effect
    period = summarize(30, 100, RATES, spread, whole_range=False)
    assert period.ci95 == wilson_bounds(0.3, 100 / spread.dispersion, statistics.Z95)
    plain = wilson_interval(300, 1000)
    assert whole.ci95[0] < plain[0] and whole.ci95[1] > plain[1]


# --- adjusted index's interval ----------------------------------------------------------------------


def brute_force_bounds(q: float, m: float, rates: Rates, z: float = statistics.Z95) -> tuple[float, float]:
    """The score interval's definition checked on a fine grid of shares, independent of the algebra."""
    grid = np.linspace(0, 1, 200_001)
    q0 = rates.fpr + grid * (rates.tpr - rates.fpr)
    vt, vf = statistics._rate_variance(rates.tpr, rates.n_happy), statistics._rate_variance(rates.fpr, rates.n_other)
    kept = (q - q0) ** 2 <= z * z * (q0 * (1 - q0) / m + grid**2 * vt + (1 - grid) ** 2 * vf)
    return float(grid[kept].min()), float(grid[kept].max())


@pytest.mark.parametrize("q, m, rates", [
    (0.30, 1000, RATES), (0.12, 200, RATES), (0.85, 50, RATES), (0.5, 10_000, Rates(0.86, 0.042, 100, 300)),
    (0.05, 5000, Rates(0.8626, 0.0419, 895, 2694)),
])
def test_adjusted_interval_solves_its_definition(q, m, rates):
    low, high = adjusted_interval(q, Sampling(m, statistics.Z95, 1.0), rates)
    expected = brute_force_bounds(q, m, rates)
    assert (low, high) == pytest.approx(expected, abs=2e-5)
    point = statistics.adjusted_index(q, rates.tpr, rates.fpr)
    assert low <= point <= high


def test_adjusted_interval_with_exact_rates_is_wilson():
    exact = Rates(tpr=1.0, fpr=0.0, n_happy=10**15, n_other=10**15)
    assert adjusted_interval(0.3, Sampling(250, statistics.Z95, 1.0), exact) == pytest.approx(
        wilson_bounds(0.3, 250), abs=1e-9)


def test_adjusted_interval_hand_checked_numbers():
    # q 0.42 on 400 faces, tpr 0.8 on 100 happy, fpr 0.1 on 300 other: the quadratic's roots by hand
    q, m, t, f = 0.42, 400, 0.8, 0.1
    z2 = statistics.Z95**2
    vt = ((80 + z2 / 2) / (100 + z2)) * (1 - (80 + z2 / 2) / (100 + z2)) / (100 + z2)
    vf = ((30 + z2 / 2) / (300 + z2)) * (1 - (30 + z2 / 2) / (300 + z2)) / (300 + z2)
    d, a0 = t - f, q - f
    a = d * d * (1 + z2 / m) - z2 * (vt + vf)
    b = -2 * a0 * d - z2 * d * (1 - 2 * f) / m + 2 * z2 * vf
    c = a0 * a0 - z2 * f * (1 - f) / m - z2 * vf
    roots = sorted(((-b - math.sqrt(b * b - 4 * a * c)) / (2 * a), (-b + math.sqrt(b * b - 4 * a * c)) / (2 * a)))
    result = adjusted_interval(q, Sampling(m, statistics.Z95, 1.0), Rates(t, f, 100, 300))
    assert result == pytest.approx(tuple(roots), abs=1e-12)
    assert result == pytest.approx((0.3722, 0.5532), abs=1e-4)  # also found by brute force on a grid


def test_uncertain_rates_widen_and_useless_rates_give_everything_or_nothing():
    sampling = Sampling(1000, statistics.Z95, 1.0)
    precise = adjusted_interval(0.3, sampling, Rates(0.9, 0.1, 100_000, 100_000))
    loose = adjusted_interval(0.3, sampling, Rates(0.9, 0.1, 30, 30))
    assert loose[0] < precise[0] and loose[1] > precise[1]
    assert adjusted_interval(0.3, sampling, Rates(0.3, 0.25, 3, 3)) == (0.0, 1.0)  # rates bound nothing
    assert adjusted_interval(0.3, sampling, Rates(0.2, 0.4, 900, 900)) is None    # tpr <= fpr
    assert adjusted_interval(None, sampling, RATES) is None


def test_summary_carries_the_adjusted_interval_with_the_design_effect():
    spread = spread_of(*alternating())
    whole = summarize(300, 1000, RATES, spread)
    plain = summarize(300, 1000, RATES)
    assert whole.adjusted_ci95 == adjusted_interval(0.3, Sampling(1000 / spread.design_effect, spread.quantile,
                                                                  spread.design_effect), RATES)
    assert whole.adjusted_ci95[1] - whole.adjusted_ci95[0] > plain.adjusted_ci95[1] - plain.adjusted_ci95[0]


# --- trend -------------------------------------------------------------------------------------------


def test_gilbert_interval_ranks_match_scipy_when_nothing_is_corrected():
    rng = np.random.default_rng(11)
    xs = np.arange(40.0)
    ys = 0.3 + 0.002 * xs + rng.normal(0, 0.03, 40)
    result = trend(list(zip(xs, ys)))
    assert result.variance_ratio == 1.0  # no significant autocorrelation in this series
    expected = theilslopes(ys, xs, 0.95)
    assert result.slope_ci95 == pytest.approx((expected.low_slope, expected.high_slope), rel=1e-12)


def test_gilbert_interval_ranks_by_hand():
    # 10 points, 45 slopes, Var S = 125 (no ties): C = 1.96 sqrt(125) = 21.91 -> ranks round(11.54) - 1 = 11
    # and round(33.46) = 33 (0-based) of the sorted slopes
    ys = [0.31, 0.35, 0.30, 0.38, 0.36, 0.40, 0.37, 0.45, 0.41, 0.44]
    result = trend([(float(d), y) for d, y in enumerate(ys)])
    slopes = sorted((ys[j] - ys[i]) / (j - i) for j in range(10) for i in range(j))
    assert result.variance_ratio == 1.0
    assert result.slope_ci95 == (slopes[11], slopes[33])


def ar1_series(n: int, phi: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = np.zeros(n)
    for step in range(1, n):
        values[step] = phi * values[step - 1] + rng.normal()
    return values


@pytest.mark.parametrize("n, phi, seed", [(60, 0.7, 1), (120, 0.5, 2), (365, 0.8, 3), (30, 0.0, 4)])
def test_hamed_rao_matches_pymannkendall(n, phi, seed):
    mk = pytest.importorskip("pymannkendall")
    ys = ar1_series(n, phi, seed) * 0.05 + 0.3
    result = trend([(float(d), y) for d, y in enumerate(ys)])
    reference = mk.hamed_rao_modification_test(ys)
    plain_variance = n * (n - 1) * (2 * n + 5) / 18
    assert result.variance_ratio == pytest.approx(max(1.0, reference.var_s / plain_variance), rel=1e-9)
    if reference.var_s >= plain_variance:  # ours never narrows the test below plain Mann-Kendall
        assert result.p_value == pytest.approx(reference.p, rel=1e-6)
    assert result.slope_per_day == pytest.approx(reference.slope, rel=1e-12)


def test_autocorrelation_widens_the_slope_interval_and_weakens_the_test():
    ys = ar1_series(120, 0.8, 5) * 0.05 + 0.3
    points = [(float(d), y) for d, y in enumerate(ys)]
    corrected = trend(points)
    plain_s, plain_p = robust_trend.mann_kendall(ys)
    assert corrected.variance_ratio > 2
    assert corrected.p_value > plain_p
    assert corrected.slope_ci95[0] < corrected.slope_per_day < corrected.slope_ci95[1]


def test_trend_points_sum_hours_into_days_and_drop_thin_days():
    first = date(2026, 3, 1)
    daily = {first + timedelta(days=d): (10 + d, 40) for d in range(12)}
    daily[first + timedelta(days=5)] = (1, 3)  # under 5 faces: not a trend point
    xs, ys, unit = trend_points(DailyCounts.of(daily), min_faces=5)
    assert unit == "day" and len(xs) == 11
    assert (7.0, 17 / 40) in zip(xs, ys) and 5.0 not in xs


def test_trend_points_become_weeks_beyond_400_days():
    first = date(2024, 1, 1)  # a Monday
    daily = {first + timedelta(days=d): (1, 4) for d in range(420)}
    xs, ys, unit = trend_points(DailyCounts.of(daily), min_faces=5)
    assert unit == "week" and len(xs) == 60  # 420 days = 60 ISO weeks of 28 faces
    assert (xs[1], ys[1]) == (7.0, 0.25)


def test_a_year_of_hours_hands_the_trend_at_most_366_points():
    """The bound of the trend's work: however fine the periods, it gets one point per local day."""
    import tracemalloc

    first = date(2025, 11, 25)
    rng = np.random.default_rng(3)
    daily = {first + timedelta(days=d): (int(rng.integers(20, 40)), 100) for d in range(365)}
    tracemalloc.start()
    xs, ys, unit = trend_points(DailyCounts.of(daily), min_faces=5)
    result = robust_trend.trend_of_series(xs, ys)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert unit == "day" and result.buckets == 365  # 66,430 pairs instead of 38 million hourly ones
    assert peak < 20e6


# --- many periods at once -----------------------------------------------------------------------------


@pytest.mark.parametrize("rates", [RATES, Rates(0.3, 0.25, 3, 3), Rates(0.2, 0.4, 900, 900)],
                         ids=["usual", "rates-bound-nothing", "tpr-below-fpr"])
@pytest.mark.parametrize("spread", [statistics.NO_SPREAD, spread_of(*alternating())], ids=["plain", "widened"])
def test_periods_summarised_at_once_equal_one_at_a_time(rates, spread):
    """summarize_periods (a year of hours at once) answers exactly what summarize answers for
    each period: no faces, one face, all happy, none happy and ordinary counts."""
    rng = np.random.default_rng(5)
    faces = np.concatenate([[0, 1, 1, 7, 7, 2000], rng.integers(0, 60, 200)])
    happy = np.concatenate([[0, 0, 1, 0, 7, 1500], rng.binomial(faces[6:], 0.35)])
    many = statistics.summarize_periods(happy, faces, rates, spread)
    for slot, (h, n) in enumerate(zip(happy.tolist(), faces.tolist())):
        one = summarize(h, n, rates, spread, whole_range=False)

        def value(array):
            number = float(array[slot])
            return None if math.isnan(number) else number

        def pair(low, high):
            return None if value(low) is None else (value(low), value(high))

        assert value(many.index) == one.index, slot
        assert pair(many.ci95_low, many.ci95_high) == one.ci95, slot
        assert value(many.adjusted_index) == one.adjusted_index, slot
        assert pair(many.adjusted_low, many.adjusted_high) == one.adjusted_ci95, slot
        if n:  # without faces the answer has no design effect at all
            assert many.design_effect == one.design_effect
