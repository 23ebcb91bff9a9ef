"""Pure statistics behind the happiness index: proportion, interval, bias adjustment, trend.

No I/O and no framework imports, so every function here can be tested with plain numbers.
Names follow the "Definitions" section of DESIGN.md.
"""

from __future__ import annotations

import math
from functools import lru_cache
from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np
from scipy.stats import norm

Direction = Literal["rising", "falling", "stable", "insufficient_data"]

TREND_ALPHA = 0.05
MIN_TREND_POINTS = 8


@dataclass(frozen=True)
class Trend:
    slope_per_day: float | None
    p_value: float | None
    direction: Direction
    buckets: int


@dataclass(frozen=True)
class IndexSummary:
    faces: int
    happy: int
    not_happy: int
    index: float | None
    ci95: tuple[float, float] | None
    adjusted_index: float | None


def _clip01(value: float) -> float:
    return min(1.0, max(0.0, value))


def index_of(happy: int, faces: int) -> float | None:
    """Happiness index: the fraction happy / faces, or None when no face was seen."""
    if faces == 0:
        return None
    return happy / faces


@lru_cache(maxsize=8)
def _two_sided_quantile(confidence: float) -> float:
    """z with P(|Z| < z) = confidence; cached because scipy's ppf costs ~0.1 ms a call and the
    city overview asks for one interval per location and bucket."""
    return float(norm.ppf(0.5 + confidence / 2))


def wilson_interval(
    successes: int, n: int, confidence: float = 0.95
) -> tuple[float, float] | None:
    """Wilson score interval for a binomial proportion.

    With p = successes/n and z the two-sided normal quantile for `confidence`:
        centre = (p + z^2/2n) / (1 + z^2/n)
        half   = z / (1 + z^2/n) * sqrt(p(1-p)/n + z^2/4n^2)
    Unlike the normal (Wald) interval it stays inside [0, 1] and is not degenerate at
    p = 0 or p = 1; the bounds are still clipped to absorb floating-point error.
    """
    if n == 0:
        return None
    z = _two_sided_quantile(confidence)
    p = successes / n
    shrink = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / shrink
    half = z / shrink * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return _clip01(centre - half), _clip01(centre + half)


def adjusted_index(index: float | None, tpr: float, fpr: float) -> float | None:
    """Adjusted classify-and-count (Forman 2008): the classifier's bias removed.

    The observed happy rate is q = tpr * P + fpr * (1 - P) for the true prevalence P,
    so P = (q - fpr) / (tpr - fpr), clipped to [0, 1]. Undefined (None) when there is no
    index or the classifier is no better than chance (tpr <= fpr).
    """
    if index is None or tpr <= fpr:
        return None
    return _clip01((index - fpr) / (tpr - fpr))


def theil_sen_slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Theil-Sen estimator: the median of the slopes (yj - yi) / (xj - xi) over all pairs.

    Pairs with equal x are skipped. Robust to outliers (breakdown point about 29%).
    Raises ValueError when fewer than two distinct x values are given.
    """
    return _theil_sen(_pairwise_steps(xs), _pairwise_steps(ys))


def _theil_sen(x_steps: np.ndarray, y_steps: np.ndarray) -> float:
    distinct = x_steps != 0
    if distinct.all():  # the usual case (one point per bucket): no copies through the mask
        return _median_in_place(y_steps / x_steps)
    if not distinct.any():
        raise ValueError("theil_sen_slope needs at least two distinct x values")
    return _median_in_place(y_steps[distinct] / x_steps[distinct])


def _median_in_place(values: np.ndarray) -> float:
    """np.median of a scratch array of finite values (reordering it), exactly, in less time.

    A year of days has 66,430 slopes and the city overview takes 100 such medians; a full
    partition of each was half the overview's time. Instead a strided sample brackets the
    median, one comparison pass counts the values below the bracket, and only the values
    inside it (about a tenth) are partitioned. If the bracket misses the middle ranks (rare)
    the whole array is partitioned, so the answer is always np.median's."""
    middle = _middle_ranks(len(values))
    if len(values) >= 8 * MEDIAN_SAMPLE:
        lower, upper = _bracket_of_median(values)
        below = np.count_nonzero(values < lower)
        inside = values[(values >= lower) & (values <= upper)]
        if below <= middle[0] and middle[-1] < below + len(inside):
            return _mean_of_ranks(inside, [rank - below for rank in middle])
    return _mean_of_ranks(values, middle)


MEDIAN_SAMPLE = 1024  # values sampled to bracket a median; the bracket spans +-4 sample sd


def _middle_ranks(count: int) -> list[int]:
    return [count // 2] if count % 2 else [count // 2 - 1, count // 2]


def _bracket_of_median(values: np.ndarray) -> tuple[float, float]:
    sample = np.sort(values[:: len(values) // MEDIAN_SAMPLE])
    middle, spread = len(sample) // 2, 2 * int(math.sqrt(len(sample)))
    return sample[max(0, middle - spread)], sample[min(len(sample) - 1, middle + spread)]


def _mean_of_ranks(values: np.ndarray, ranks: list[int]) -> float:
    """Mean of the values of these ranks in sorted order (one or two), as np.median takes it."""
    values.partition(ranks)
    return float(values[ranks[0]]) if len(ranks) == 1 else float((values[ranks[0]] + values[ranks[1]]) / 2)


def _pairwise_steps(values: Sequence[float]) -> np.ndarray:
    """values[j] - values[i] for every pair i < j (in an order of their own: the slope median
    and the sign sum do not depend on it), vectorised: a year of hourly buckets has about 38
    million pairs, far too many for a Python loop."""
    array = np.asarray(values, dtype=np.float64)
    first, second = _pair_indices(len(array))
    return array[second] - array[first]


PAIRS_CACHED_UP_TO = 1000  # values; the cached indices then take at most 8 MB
_cached_pairs: tuple[int, np.ndarray, np.ndarray] = (0, np.empty(0, np.intp), np.empty(0, np.intp))


def _pair_indices(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(i, j) of every pair i < j < n, ordered by j, so the pairs of a shorter series are a
    prefix of a longer one's: one cached pair of arrays serves every series up to the longest
    seen (a city overview asks for 100 trends of about 365 points; building the indices
    anew was a third of each)."""
    global _cached_pairs
    if n > PAIRS_CACHED_UP_TO:
        first, second = np.triu_indices(n, k=1)
        return first, second
    if n > _cached_pairs[0]:
        _cached_pairs = (n, *_pairs_by_second(n))
    count = n * (n - 1) // 2
    return _cached_pairs[1][:count], _cached_pairs[2][:count]


def _pairs_by_second(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices as numpy's own index type: any other is converted on every use."""
    second = np.repeat(np.arange(n, dtype=np.intp), np.arange(n))  # j appears j times
    starts = np.repeat(np.arange(n, dtype=np.intp) * (np.arange(n) - 1) // 2, np.arange(n))
    first = np.arange(len(second), dtype=np.intp) - starts           # 0 .. j-1 for each j
    return first, second


def _mann_kendall_variance(ys: Sequence[float]) -> float:
    """Var(S) under H0 with the tie correction: [n(n-1)(2n+5) - sum t(t-1)(2t+5)] / 18."""
    n = len(ys)
    ties = sum(t * (t - 1) * (2 * t + 5) for t in _tie_sizes(ys))
    return (n * (n - 1) * (2 * n + 5) - ties) / 18


def _tie_sizes(ys: Sequence[float]) -> list[int]:
    _, counts = np.unique(np.asarray(ys, dtype=np.float64), return_counts=True)
    return [int(t) for t in counts if t > 1]


def mann_kendall(ys: Sequence[float]) -> tuple[float, float]:
    """Mann-Kendall trend test on a series in time order; returns (S, two-sided p-value).

    S = sum over i < j of sign(y_j - y_i). Under no trend S is about normal with mean 0 and
    the tie-corrected variance; z uses a continuity correction of 1 towards zero
    (z = (S - sign(S)) / sqrt(Var S)) and p = 2 * (1 - Phi(|z|)). A series with no
    variance at all (e.g. constant) gives p = 1.
    """
    return _mann_kendall(ys, _pairwise_steps(ys))


def _mann_kendall(ys: Sequence[float], y_steps: np.ndarray) -> tuple[float, float]:
    s = int(np.sign(y_steps).sum())
    variance = _mann_kendall_variance(ys)
    if s == 0 or variance <= 0:
        return float(s), 1.0
    z = (s - _sign(s)) / math.sqrt(variance)
    # 2 * (1 - Phi(|z|)) as erfc: the same value without scipy's ~0.1 ms per call (100 per overview)
    return float(s), math.erfc(abs(z) / math.sqrt(2))


def _sign(value: float) -> int:
    return (value > 0) - (value < 0)


def trend(points: Sequence[tuple[float, float]], min_points: int = MIN_TREND_POINTS) -> Trend:
    """Trend of the index over qualifying buckets, given as (day_offset, index) points.

    Points are put in time order; the Theil-Sen slope gives the size (index change per day)
    and the Mann-Kendall test the significance. Direction is rising/falling when p < 0.05
    (sign from the slope), else stable; insufficient_data below `min_points` buckets.
    """
    ordered = sorted(points)
    if len(ordered) < min_points:
        return Trend(None, None, "insufficient_data", len(ordered))
    xs, ys = zip(*ordered)
    y_steps = _pairwise_steps(ys)  # shared by the slope and the test
    slope = _theil_sen(_pairwise_steps(xs), y_steps)
    _, p_value = _mann_kendall(ys, y_steps)
    return Trend(slope, p_value, _direction(slope, p_value), len(ordered))


def _direction(slope: float, p_value: float) -> Direction:
    if p_value >= TREND_ALPHA or slope == 0:
        return "stable"
    return "rising" if slope > 0 else "falling"


def summarize(happy: int, faces: int, tpr: float, fpr: float) -> IndexSummary:
    """Everything the API reports for one range: counts, index, Wilson ci95, adjusted index."""
    index = index_of(happy, faces)
    return IndexSummary(
        faces=faces,
        happy=happy,
        not_happy=faces - happy,
        index=index,
        ci95=wilson_interval(happy, faces),
        adjusted_index=adjusted_index(index, tpr, fpr),
    )
