"""The trend of a location's days: a test that keeps its false-alarm rate when days resemble
their neighbours (weather, events, holidays) and weeks have a rhythm (happier weekends).

Two things make a plain Mann-Kendall test on daily shares claim changes that are not there:
a weekly rhythm seen through a range that does not hold whole weeks, and days that are alike in
runs. So, for day points:

1. The day-of-week pattern is removed first when there is one: one least-squares fit of the
   shares on a line plus a constant per weekday (weekdays seen at least twice, over at least
   MIN_WEEKDAY_POINTS points); when an F test finds the constants at WEEKDAY_ALPHA, they are
   subtracted, centred. The line's own slope is left in.
2. Theil-Sen slope and Mann-Kendall S on what remains.
3. Var(S) is widened for autocorrelation with the Yue-Wang style factor
       n/n* = 1 + 2 / (n(n-1)(n-2)) * sum_k (n-k)(n-k-1)(n-k-2) rho_k,
   where rho_k follows an AR(1) process seen through independent sampling noise (each day's
   share is a count of a few hundred faces): rho_k = r1 * d^(k-1), with r1 and r2 the lag-1
   and lag-2 autocorrelations of the detrended residuals, each raised by the first-order bias of
   a short series' autocorrelation, (1 + 3 r) / n, by q / n for the q weekday constants fitted
   in step 1, and by a margin for the noise (see _bias_corrected); the decay d = r2 / r1 is at
   least r1 and at most MAX_DECAY. Only a positive correlation widens the test; a negative one
   never narrows it. The widening applies only when the points scatter beyond their faces'
   binomial sampling (Pearson's test, as for the ci95's spread): independent days keep the
   plain test and its power.

Week points (ranges beyond 400 days) get steps 2 and 3 without step 1. The test declines
(`insufficient_data`) below MIN_TREND_POINTS points with enough faces, as before. Why this and
not Hamed-Rao, a regression with AR(1) errors or the lag-1 correction alone: BENCHMARKS.md."""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import chi2
from scipy.stats import f as f_dist
from scipy.stats import t as t_dist

from service.index.statistics import DISPERSION_ALPHA, Z95
from service.index.robust_trend import (MIN_TREND_POINTS, OrderStatistics, PairIndex, Trend, _direction,
                                        _mann_kendall_variance, _middle_ranks, _pairwise_steps, _slope_interval,
                                        _two_sided_p)

CORRECTION = "weekday_ar1"
MIN_WEEKDAY_POINTS = 14  # two weeks of days: fewer cannot tell a weekday's level from the noise
WEEKDAY_ALPHA = 0.05
AUTOCORRELATION_MARGIN = 4
MAX_DECAY = 0.95
MAX_AUTOCORRELATION = 0.95


def weekdays_of(first_ordinal: int, xs: np.ndarray) -> np.ndarray:
    """Weekday (0 Monday .. 6 Sunday) of points `xs` days after the date with this ordinal."""
    return ((first_ordinal - 1 + xs.astype(np.int64)) % 7).astype(np.int64)


def without_weekday_pattern(xs: np.ndarray, ys: np.ndarray, weekdays: np.ndarray | None) -> tuple[np.ndarray, int]:
    """The shares with each weekday's own level removed (centred, so the series keeps its
    level), and how many weekday constants that fitted; unchanged (0) without weekdays or with
    too few points to measure them."""
    if weekdays is None or len(ys) < MIN_WEEKDAY_POINTS:
        return ys, 0
    present = [day for day in range(7) if np.count_nonzero(weekdays == day) >= 2]
    if len(present) < 2:
        return ys, 0
    line = np.column_stack([np.ones_like(xs), xs - xs.mean()])
    dummies = np.column_stack([(weekdays == day).astype(np.float64) for day in present[1:]])
    coefficients, line_only = _fit(np.column_stack([line, dummies]), ys), _fit(line, ys)
    fitted = dummies.shape[1]
    if not weekday_pattern_found(line_only[1], coefficients[1], len(ys), fitted):
        return ys, 0
    pattern = dummies @ coefficients[0][2:]
    return ys - (pattern - pattern.mean()), fitted


def _fit(design: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, float]:
    """Least-squares coefficients and residual sum of squares."""
    coefficients = np.linalg.lstsq(design, ys, rcond=None)[0]
    residuals = ys - design @ coefficients
    return coefficients, float(residuals @ residuals)


def weekday_pattern_found(line_rss: float, weekday_rss: float, n: int, constants: int) -> bool:
    """F test of the weekday constants against the line alone, at WEEKDAY_ALPHA: a pattern is
    removed only where there is one, since removing one that is not there costs the test its
    level (the residuals of fitted weekday means are no longer independent draws)."""
    dof = n - 2 - constants
    if dof < 1 or weekday_rss <= 0:
        return weekday_rss <= 0 < line_rss
    statistic = (line_rss - weekday_rss) / constants / (weekday_rss / dof)
    return float(f_dist.sf(statistic, constants, dof)) < WEEKDAY_ALPHA


def autocorrelation_ratio(xs: np.ndarray, ys: np.ndarray, slope: float, fitted: int = 0) -> float:
    """n/n* of Var(S) for residuals that are AR(1) plus sampling noise (see the module)."""
    n = len(ys)
    residuals = np.round(ys - slope * xs, 12)  # a straight line leaves float noise, not residuals
    residuals = residuals - residuals.mean()
    if n < 4:
        return 1.0
    lags = np.arange(1, n, dtype=np.float64)
    weights = (n - lags) * (n - lags - 1) * (n - lags - 2)
    ratio = 1 + 2 / (n * (n - 1) * (n - 2)) * float(np.sum(weights * _rho(residuals, n, fitted)))
    return max(1.0, ratio)


def _bias_corrected(autocorrelation: float, n: int, fitted: int) -> float:
    """A short series' sample autocorrelation is biased low by about (1 + 3 r) / n, by about
    fitted / n more after `fitted` constants were fitted to it, and by more again when the
    days are an AR(1) process seen through noise (its lag-1 correlation understates how long
    runs last); AUTOCORRELATION_MARGIN / n covers that, a margin chosen by simulation
    (bench/honest_numbers.py, BENCHMARKS.md section 5)."""
    margin = 1 + 3 * autocorrelation + fitted + AUTOCORRELATION_MARGIN
    return min(MAX_AUTOCORRELATION, max(0.0, autocorrelation + margin / n))


def varies_beyond_sampling(xs: np.ndarray, ys: np.ndarray, slope: float, faces: np.ndarray, fitted: int) -> bool:
    """Whether the points scatter about their line more than their faces' binomial sampling
    explains: Pearson's X^2 of the residuals with the pooled share's variance per point, against
    chi-square with n - 2 - fitted degrees of freedom, rejected at DISPERSION_ALPHA (as the ci95's
    spread test). Points that do not are independent draws as far as the counts can tell."""
    dof = len(ys) - 2 - fitted
    share = float(np.average(ys, weights=faces))
    if dof < 1 or not 0 < share < 1:
        return False
    residuals = ys - slope * xs
    residuals = residuals - np.average(residuals, weights=faces)
    pearson = float(np.sum(residuals ** 2 * faces)) / (share * (1 - share))
    return float(chi2.sf(pearson, dof)) < DISPERSION_ALPHA


def day_trend(xs: np.ndarray, ys: np.ndarray, weekdays: np.ndarray | None = None, faces: np.ndarray | None = None,
              min_points: int = MIN_TREND_POINTS, pair_index: PairIndex | None = None) -> Trend:
    """Trend of points (x in days, strictly increasing; index) with the weekday pattern removed
    when `weekdays` are given, and the test corrected for days alike in runs (see the module).
    Slope per day (Theil-Sen) with its 95% interval from the corrected Var(S) (Gilbert 1987)."""
    if len(xs) < min_points:
        return Trend(None, None, "insufficient_data", len(xs))
    ys, fitted = without_weekday_pattern(xs, ys, weekdays)
    pair_index = pair_index or PairIndex()
    y_steps = _pairwise_steps(ys, pair_index.pairs(len(xs)))
    s = int(np.count_nonzero(y_steps > 0)) - int(np.count_nonzero(y_steps < 0))
    slopes = y_steps / pair_index.x_steps(xs)
    plain_variance = _mann_kendall_variance(ys)
    middle = _middle_ranks(len(slopes))
    reach = int(Z95 * math.sqrt(max(plain_variance, 0.0)) / 2) + 2
    order = OrderStatistics(slopes, middle[0] - reach, middle[-1] + reach)
    slope = order.mean_of(middle)
    alike = faces is None or varies_beyond_sampling(xs, ys, slope, faces, fitted)
    ratio = autocorrelation_ratio(xs, ys, slope, fitted) if alike else 1.0
    variance = plain_variance * ratio
    p_value = _two_sided_p(s, variance)
    return Trend(slope, p_value, _direction(slope, p_value), len(xs), _slope_interval(order, len(slopes), variance),
                 ratio)


def usual_share_interval(ys: np.ndarray, faces: np.ndarray,
                         weekdays: np.ndarray | None = None) -> tuple[float, float] | None:
    """95% interval of the place's usual share: the long-run mean its days vary around, as
    opposed to the share of the people seen in these days (the range's ci95).

    The faces-weighted mean of the day shares, with the variance of a mean of autocorrelated
    days: V = gamma0 / n_w * (1 + 2 sum_k (1 - k/n) rho_k), gamma0 the days' variance about their
    mean (weekday pattern removed when there are two weeks of days), n_w Kish's effective number
    of days under the face weights, rho_k the same AR(1)-through-noise model as the trend's; t
    quantile on n - 1 degrees of freedom. None below MIN_TREND_POINTS days."""
    n = len(ys)
    if n < MIN_TREND_POINTS:
        return None
    weights = faces / faces.sum()
    mean = float(weights @ ys)
    xs = np.arange(n, dtype=np.float64)
    level, fitted = without_weekday_pattern(xs, ys, weekdays)
    residuals = level - float(weights @ level)
    gamma0 = float(weights @ residuals ** 2) * n / (n - 1 - fitted)
    lags = np.arange(1, n, dtype=np.float64)
    rho = _rho(residuals, n, fitted)
    inflation = max(1.0, 1 + 2 * float(np.sum((1 - lags / n) * rho)))
    effective_days = 1.0 / float(weights @ weights)
    half = float(t_dist.ppf(0.975, n - 1)) * math.sqrt(gamma0 / effective_days * inflation)
    return max(0.0, mean - half), min(1.0, mean + half)


def _rho(residuals: np.ndarray, n: int, fitted: int) -> np.ndarray:
    """rho_1 .. rho_(n-1) of centred residuals: r1 * d^(k-1) (see the module); zeros when the
    lag-1 autocorrelation, bias-corrected, is not positive."""
    denominator = float(residuals @ residuals)
    if denominator == 0:
        return np.zeros(n - 1)
    lag1 = _bias_corrected(float(residuals[1:] @ residuals[:-1]) / denominator, n, fitted)
    if lag1 <= 0:
        return np.zeros(n - 1)
    lag2 = _bias_corrected(float(residuals[2:] @ residuals[:-2]) / denominator, n, fitted)
    decay = min(MAX_DECAY, max(lag1, lag2 / lag1))
    return lag1 * decay ** np.arange(n - 1, dtype=np.float64)
