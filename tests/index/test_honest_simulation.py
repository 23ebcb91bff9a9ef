"""Simulated coverage and error rates with fixed seeds: the new methods hold their targets where
the old ones fail (bench/honest_numbers.py; the full tables, 2,000 repetitions a row, are in
BENCHMARKS.md). Margins are several Monte Carlo standard errors wide at these repetitions."""

from __future__ import annotations

import pytest

from bench import honest_numbers as sim

MONTH, HOURS_OF_A_DAY = sim.IntervalQuery("30 days by day", 30, 1), sim.IntervalQuery("1 day by hour", 1, sim.HOURS)


def test_independent_faces_keep_95_percent_and_stay_plain_wilson():
    result = sim.interval_coverage("independent", MONTH, reps=300, seed=1)
    assert 0.92 <= result["new range"] <= 0.98 and 0.93 <= result["new periods"] <= 0.975


@pytest.mark.parametrize("scenario", ["seen 5", "seen 20", "groups"])
def test_correlated_faces_keep_their_coverage_where_wilson_loses_it(scenario):
    result = sim.interval_coverage(scenario, MONTH, reps=300, seed=2)
    assert result["new range"] >= 0.90 and result["new periods"] >= 0.92
    assert result["old range"] <= 0.80 and result["old periods"] <= 0.80


def test_hours_that_differ_are_measured_on_hour_clusters():
    result = sim.interval_coverage("hours differ", HOURS_OF_A_DAY, reps=300, seed=3)
    assert result["new periods"] >= 0.93 and result["old periods"] <= 0.91
    assert result["new range"] >= 0.90


def test_adjusted_interval_carries_the_rates_uncertainty():
    result = sim.adjusted_coverage(0.5, faces=10_000, n_happy=100, n_other=300, reps=400, seed=4)
    assert result["new (score)"] >= 0.91 and result["old (ci95 mapped)"] <= 0.60
    near_zero = sim.adjusted_coverage(0.02, faces=100, n_happy=895, n_other=2694, reps=400, seed=5)
    assert near_zero["new (score)"] >= 0.92


def test_trend_false_alarms_on_autocorrelated_hours_with_a_daily_rhythm():
    scenario = sim.TrendScenario("hourly AR(1) 0.8", 500, hour_ar=0.8, cycle=True)
    result = sim.trend_rates(scenario, reps=300, seed=6)
    assert result["new"] <= 0.10 and result["old, hour buckets"] >= 0.13


def test_trend_power_for_ten_points_in_thirty_days():
    scenario = sim.TrendScenario("+10 points from 0.10", 50, share=0.15, change=0.10)
    result = sim.trend_rates(scenario, reps=300, seed=7)
    assert result["new"] >= 0.75 and result["old, hour buckets"] <= 0.65
    assert sim.optimal_power(0.5, 0.10, 50) < 0.65  # at an even share no test reaches 80%
