"""The robust trend of a series: Theil-Sen's slope with its interval and the Mann-Kendall test,
corrected for autocorrelation (Hamed and Rao 1998). Pure functions, no I/O or state kept
between calls; service.index.trend applies them to the days of a range. Names follow the
"Definitions" section of DESIGN.md.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass
from itertools import groupby
from typing import Literal, Sequence

import numpy as np

from service.index.statistics import Z95

Direction = Literal["rising", "falling", "stable", "insufficient_data"]

TREND_ALPHA = 0.05
MIN_TREND_POINTS = 8


# --- trend ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Trend:
    slope_per_day: float | None
    p_value: float | None
    direction: Direction
    buckets: int
    slope_ci95: tuple[float, float] | None = None
    variance_ratio: float | None = None  # Hamed-Rao n/n*: how much autocorrelation widened Var(S)


class PairIndex:
    """(i, j) of every pair i < j < n, ordered by j, so the pairs of a shorter series are a
    prefix of a longer one's, and their lags j - i: one instance serves the many trends of one
    request (a city overview asks for 100 trends of about 365 points; building the indices anew
    was a third of each). Made per request, never shared between requests."""

    def __init__(self) -> None:
        self.size = 0
        self.first = self.second = np.empty(0, np.intp)
        self.lags = np.empty(0, np.float64)

    def pairs(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        if n > self.size:
            self.size = n
            self.second = np.repeat(np.arange(n, dtype=np.intp), np.arange(n))  # j appears j times
            starts = np.repeat(np.arange(n, dtype=np.intp) * (np.arange(n) - 1) // 2, np.arange(n))
            self.first = np.arange(len(self.second), dtype=np.intp) - starts   # 0 .. j-1 for each j
            self.lags = (self.second - self.first).astype(np.float64)
        count = n * (n - 1) // 2
        return self.first[:count], self.second[:count]

    def x_steps(self, xs: np.ndarray) -> np.ndarray:
        """xs[j] - xs[i] for every pair: the lags themselves when xs are consecutive (a day with
        enough faces every day), which saves a pass over the pairs."""
        pairs = self.pairs(len(xs))
        if len(xs) and xs[-1] - xs[0] == len(xs) - 1 and np.array_equal(np.diff(xs), np.ones(len(xs) - 1)):
            return self.lags[: len(pairs[0])]
        return _pairwise_steps(xs, pairs)


def _pairwise_steps(values: np.ndarray, pairs: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """values[j] - values[i] for every pair i < j."""
    first, second = pairs
    return values[second] - values[first]


def theil_sen_slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Theil-Sen estimator: the median of the slopes (yj - yi) / (xj - xi) over all pairs.

    Pairs with equal x are skipped. Robust to outliers (breakdown point about 29%).
    Raises ValueError when fewer than two distinct x values are given.
    """
    pairs = PairIndex().pairs(len(xs))
    slopes = _slopes(_pairwise_steps(np.asarray(xs, np.float64), pairs),
                     _pairwise_steps(np.asarray(ys, np.float64), pairs))
    middle = _middle_ranks(len(slopes))
    return OrderStatistics(slopes, middle[0], middle[-1]).mean_of(middle)


def _slopes(x_steps: np.ndarray, y_steps: np.ndarray) -> np.ndarray:
    distinct = x_steps != 0
    if distinct.all():  # the usual case (one point per period): no copies through the mask
        return y_steps / x_steps
    if not distinct.any():
        raise ValueError("theil_sen_slope needs at least two distinct x values")
    return y_steps[distinct] / x_steps[distinct]


def _middle_ranks(count: int) -> list[int]:
    return [count // 2] if count % 2 else [count // 2 - 1, count // 2]


MEDIAN_SAMPLE = 1024  # values sampled to bracket order statistics; the bracket spans +-4 sample sd


class OrderStatistics:
    """Values of given sorted ranks of a scratch array (reordered in place), exactly as a full
    sort would give, without sorting it.

    A year of days has 66,430 slopes and the city overview takes 100 medians and slope
    intervals; a full partition of each was half the overview's time. Instead a strided sample
    brackets the ranks [low, high] expected to be asked for, one comparison pass counts the
    values below the bracket, and only the values inside it are kept. Each rank then partitions
    only the stretch between the ranks already placed (the interval's ranks, asked after the
    median, look on either side of it). Ranks outside what was kept are bracketed anew, and
    when a bracket misses (rare) the whole array is partitioned, so answers never depend on the
    sample."""

    def __init__(self, values: np.ndarray, low: int, high: int) -> None:
        self._keep(values, low, high)

    def _keep(self, values: np.ndarray, low: int, high: int) -> None:
        self.values, self.offset, self.pool = values, 0, values
        self.placed: list[int] = []  # positions in pool already in their sorted place
        if len(values) >= 8 * MEDIAN_SAMPLE:
            lower, upper = _bracket(values, max(0, low), min(len(values) - 1, high))
            below = int(np.count_nonzero(values < lower))
            inside = values[(values >= lower) & (values <= upper)]
            if below <= low and high < below + len(inside):
                self.offset, self.pool = below, inside

    def at(self, ranks: list[int]) -> list[float]:
        """The values of these ranks (ranks between the same two placed ones: one partition).
        Ranks outside the kept values are bracketed anew (the kept values are a copy, so the
        array is still whole)."""
        if not all(self.offset <= rank < self.offset + len(self.pool) for rank in ranks):
            self._keep(self.values, min(ranks), max(ranks))
        positions = [rank - self.offset for rank in ranks]
        for (start, end), inside in groupby(sorted(set(positions) - set(self.placed)), key=self._stretch):
            self.pool[start:end].partition([position - start for position in inside])  # a view: in place
        self.placed = sorted({*self.placed, *positions})
        return [float(self.pool[position]) for position in positions]

    def _stretch(self, position: int) -> tuple[int, int]:
        """The stretch of the pool between the placed positions around `position`."""
        at = bisect_left(self.placed, position)
        start = self.placed[at - 1] + 1 if at else 0
        end = self.placed[at] if at < len(self.placed) else len(self.pool)
        return start, end

    def mean_of(self, ranks: list[int]) -> float:
        """The mean of the values of these ranks (one, or two for an even median)."""
        return sum(self.at(ranks)) / len(ranks)


def _bracket(values: np.ndarray, low_rank: int, high_rank: int) -> tuple[float, float]:
    sample = np.sort(values[:: len(values) // MEDIAN_SAMPLE])
    scale, spread = len(sample) / len(values), 2 * int(math.sqrt(len(sample)))
    low = max(0, int(low_rank * scale) - spread)
    high = min(len(sample) - 1, int(math.ceil(high_rank * scale)) + spread)
    return sample[low], sample[high]


def _mann_kendall_variance(ys: np.ndarray) -> float:
    """Var(S) under H0 with the tie correction: [n(n-1)(2n+5) - sum t(t-1)(2t+5)] / 18."""
    n = len(ys)
    _, counts = np.unique(ys, return_counts=True)
    ties = float(np.sum(counts * (counts - 1.0) * (2.0 * counts + 5.0)))
    return (n * (n - 1) * (2 * n + 5) - ties) / 18


def mann_kendall(ys: Sequence[float], pair_index: PairIndex | None = None) -> tuple[float, float]:
    """Mann-Kendall trend test on a series in time order; returns (S, two-sided p-value).

    S = sum over i < j of sign(y_j - y_i). Under no trend S is about normal with mean 0 and
    the tie-corrected variance; z uses a continuity correction of 1 towards zero
    (z = (S - sign(S)) / sqrt(Var S)) and p = 2 * (1 - Phi(|z|)). A series with no
    variance at all (e.g. constant) gives p = 1. No autocorrelation correction: see trend().
    """
    values = np.asarray(ys, np.float64)
    y_steps = _pairwise_steps(values, (pair_index or PairIndex()).pairs(len(values)))
    s = int(np.count_nonzero(y_steps > 0)) - int(np.count_nonzero(y_steps < 0))
    return float(s), _two_sided_p(s, _mann_kendall_variance(values))


def _two_sided_p(s: int, variance: float) -> float:
    if s == 0 or variance <= 0:
        return 1.0
    z = (s - _sign(s)) / math.sqrt(variance)
    return math.erfc(abs(z) / math.sqrt(2))  # 2 * (1 - Phi(|z|))


def _sign(value: float) -> int:
    return (value > 0) - (value < 0)


def hamed_rao_ratio(xs: np.ndarray, ys: np.ndarray, slope: float) -> float:
    """Hamed & Rao (1998) variance correction n/n* of the Mann-Kendall S for autocorrelation.

    The series is detrended with the Theil-Sen slope and ranked (ties averaged); the
    autocorrelations r_k of the ranks that are significant at 5% (|r_k| > z/sqrt(n)) give
        n/n* = 1 + 2 / (n(n-1)(n-2)) * sum_k (n-k)(n-k-1)(n-k-2) r_k.
    Floored at 1: negative autocorrelation never narrows the test (a sampling artefact in
    short series more often than a real effect)."""
    n = len(ys)
    # rounded: a series on a straight line leaves float noise, not residuals, whose ranks would
    # look autocorrelated (index values are shares, so 12 decimals keep every real difference)
    ranks = _average_ranks(np.round(ys - slope * xs, 12))
    centred = ranks - ranks.mean()
    denominator = float(centred @ centred)
    if n < 3 or denominator == 0:
        return 1.0
    acf = np.correlate(centred, centred, "full")[n:] / denominator  # lags 1 .. n-1
    lags = np.arange(1, n, dtype=np.float64)
    significant = np.abs(acf) > Z95 / math.sqrt(n)
    weights = (n - lags) * (n - lags - 1) * (n - lags - 2)
    ratio = 1 + 2 / (n * (n - 1) * (n - 2)) * float(np.sum(weights * acf * significant))
    return max(1.0, ratio)


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n, ties given their average rank (as scipy.stats.rankdata, without its overhead)."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    ranks = np.empty(len(values))
    new_value = ordered[1:] != ordered[:-1]
    if new_value.all():  # no ties: the usual case for a detrended series
        ranks[order] = np.arange(1, len(values) + 1)
        return ranks
    starts = np.flatnonzero(np.concatenate(([True], new_value)))
    ends = np.append(starts[1:], len(values))
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)  # mean of ranks starts+1 .. ends
    return ranks


def trend(points: Sequence[tuple[float, float]], min_points: int = MIN_TREND_POINTS,
          pair_index: PairIndex | None = None) -> Trend:
    """Trend over (x in days, index) points, e.g. one per local day.

    Theil-Sen slope (index change per day); Mann-Kendall test with the Hamed-Rao variance
    correction for autocorrelated points; the slope's 95% interval from the same corrected
    Var(S) (Gilbert 1987: the slopes of ranks (N - C)/2 and (N + C)/2 + 1, C = z sqrt(Var S)).
    Direction is rising/falling when p < 0.05 (sign from the slope), else stable;
    insufficient_data below `min_points` points; ValueError for two points with the same x.
    """
    ordered = sorted(points)
    if len(ordered) < min_points:
        return Trend(None, None, "insufficient_data", len(ordered))
    xs, ys = (np.asarray(column, np.float64) for column in zip(*ordered))
    if not np.all(np.diff(xs) > 0):
        raise ValueError("trend needs one point per x")
    return trend_of_series(xs, ys, min_points, pair_index)


def trend_of_series(xs: np.ndarray, ys: np.ndarray, min_points: int = MIN_TREND_POINTS,
                    pair_index: PairIndex | None = None) -> Trend:
    """trend() of points already in arrays, in strictly increasing order of x."""
    if len(xs) < min_points:
        return Trend(None, None, "insufficient_data", len(xs))
    pair_index = pair_index or PairIndex()
    y_steps = _pairwise_steps(ys, pair_index.pairs(len(xs)))
    s = int(np.count_nonzero(y_steps > 0)) - int(np.count_nonzero(y_steps < 0))
    x_steps = pair_index.x_steps(xs)
    slopes = y_steps / x_steps  # x in increasing order: every step is positive
    plain_variance = _mann_kendall_variance(ys)
    middle = _middle_ranks(len(slopes))
    reach = int(Z95 * math.sqrt(max(plain_variance, 0.0) * INTERVAL_REACH) / 2) + 2
    order = OrderStatistics(slopes, middle[0] - reach, middle[-1] + reach)  # median and interval in one pass
    slope = order.mean_of(middle)
    ratio = hamed_rao_ratio(xs, ys, slope)
    variance = plain_variance * ratio
    p_value = _two_sided_p(s, variance)
    return Trend(slope, p_value, _direction(slope, p_value), len(xs),
                 _slope_interval(order, len(slopes), variance), ratio)


INTERVAL_REACH = 1  # the slope interval's ranks are bracketed with the median's up to this variance ratio


def _slope_interval(order: OrderStatistics, count: int, variance: float) -> tuple[float, float]:
    half = Z95 * math.sqrt(max(variance, 0.0))
    lower = min(count - 1, max(0, int(round((count - half) / 2)) - 1))
    upper = min(count - 1, max(0, int(round((count + half) / 2))))
    low, high = order.at([lower, upper])
    return low, high


def _direction(slope: float, p_value: float) -> Direction:
    if p_value >= TREND_ALPHA or slope == 0:
        return "stable"
    return "rising" if slope > 0 else "falling"
