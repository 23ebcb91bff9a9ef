"""Pure statistics behind the happiness index: proportion, extra variation, interval, bias
adjustment (the trend's robust slope and test are in service.index.robust_trend).

No I/O, no framework imports and no state kept between calls, so every function here can be
tested with plain numbers. Names follow the "Definitions" section of DESIGN.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Sequence

import numpy as np
from scipy.special import gammaincc, stdtrit

Z95 = NormalDist().inv_cdf(0.975)
MIN_CLUSTERS = 8          # fewer clusters cannot measure extra variation (the caller then reads finer ones)
DISPERSION_ALPHA = 0.10   # widen only when the test of "no extra variation" rejects at this level


# --- extra variation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Spread:
    """Extra variation of the faces beyond independent draws, measured over clusters (stored
    rows: days, hours or buckets) that the faces fall in.

    design_effect: the cluster-robust (CR1) variance of the share over all clusters divided
    by the binomial one, for a total over the clusters; dispersion: the quasi-binomial
    dispersion per face (Pearson chi-square / degrees of freedom), for a single period;
    quantile: the t quantile with clusters - 1 degrees of freedom when widened (the variance
    is itself estimated), else z. Both factors are 1 unless the Pearson test rejects "no
    extra variation" at DISPERSION_ALPHA, so independent faces get plain Wilson."""

    clusters: int
    design_effect: float = 1.0
    dispersion: float = 1.0
    p_value: float | None = None
    quantile: float = Z95

    @property
    def widened(self) -> bool:
        return self.design_effect > 1.0 or self.dispersion > 1.0


NO_SPREAD = Spread(clusters=0)


def spread_of(happy: Sequence[int], faces: Sequence[int]) -> Spread:
    """Extra variation of these clusters' happy/faces counts (empty clusters ignored).

    With p the pooled share, N the faces and G the clusters with faces:
        CR1 variance = G/(G-1) * sum (happy_i - p faces_i)^2 / N^2, binomial = p(1-p)/N
        Pearson X^2 = sum (happy_i - p faces_i)^2 / (faces_i p (1-p)), ~ chi2(G-1) without
        extra variation. Fewer than MIN_CLUSTERS clusters, or p of 0 or 1: NO_SPREAD (with
        the cluster count)."""
    y, n = np.asarray(happy, dtype=np.float64), np.asarray(faces, dtype=np.float64)
    used = n > 0
    y, n = y[used], n[used]
    clusters, total = len(n), float(n.sum())
    share = float(y.sum()) / total if total else 0.0
    if clusters < MIN_CLUSTERS or not 0.0 < share < 1.0:
        return Spread(clusters=clusters)
    residuals = y - share * n
    binomial = share * (1.0 - share)
    chi_square = float(np.sum(residuals * residuals / n)) / binomial
    p_value = float(gammaincc((clusters - 1) / 2, chi_square / 2))  # chi2(G-1) upper tail
    if p_value >= DISPERSION_ALPHA:
        return Spread(clusters=clusters, p_value=p_value)
    robust = clusters / (clusters - 1) * float(np.sum(residuals * residuals)) / total ** 2
    return Spread(clusters=clusters, design_effect=max(1.0, robust / (binomial / total)),
                  dispersion=max(1.0, chi_square / (clusters - 1)), p_value=p_value,
                  quantile=float(stdtrit(clusters - 1, 0.975)))


# --- index and its interval ----------------------------------------------------------------------


# The formulas below take one period's floats or many periods' arrays alike; these three keep
# floats as floats (numpy's calls on a single float cost ten times Python's, and the overview
# asks for hundreds of single summaries).


def _clip01(value):
    """value clipped to [0, 1]; a float, or an array elementwise."""
    if isinstance(value, float):
        return min(1.0, max(0.0, value))
    return np.minimum(1.0, np.maximum(0.0, value))


def _sqrt_of_positive_part(value):
    """sqrt(max(0, value)); a float, or an array elementwise."""
    if isinstance(value, float):
        return math.sqrt(max(0.0, value))
    return np.sqrt(np.maximum(0.0, value))


def _choose(condition, value, otherwise):
    """value where condition holds, else otherwise; a bool, or an array elementwise."""
    if isinstance(condition, (bool, np.bool_)):
        return value if condition else otherwise
    return np.where(condition, value, otherwise)


def index_of(happy: int, faces: int) -> float | None:
    """Happiness index: the fraction happy / faces, or None when no face was seen."""
    if faces == 0:
        return None
    return happy / faces


def wilson_bounds(share: float, n: float, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a share observed on n (possibly effective, non-integer) trials.

        centre = (p + z^2/2n) / (1 + z^2/n)
        half   = z / (1 + z^2/n) * sqrt(p(1-p)/n + z^2/4n^2)
    Unlike the normal (Wald) interval it stays inside [0, 1] and is not degenerate at
    p = 0 or p = 1; the bounds are still clipped to absorb floating-point error."""
    low, high = _wilson(share, n, z)
    return float(low), float(high)


def _wilson(share, n, z: float):
    """wilson_bounds for floats or arrays (elementwise; n > 0)."""
    shrink = 1 + z * z / n
    centre = (share + z * z / (2 * n)) / shrink
    half = z / shrink * _sqrt_of_positive_part(share * (1 - share) / n + z * z / (4 * n * n))
    return _clip01(centre - half), _clip01(centre + half)


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float] | None:
    """Wilson score interval for a binomial proportion; None without trials."""
    if n == 0:
        return None
    return wilson_bounds(successes / n, n, NormalDist().inv_cdf(0.5 + confidence / 2))


@dataclass(frozen=True)
class Sampling:
    """How the faces of one range or period were sampled: the effective number of independent
    faces (faces / inflation) and the quantile its interval uses."""

    effective_faces: float
    quantile: float
    inflation: float


def sampling_of(faces: int, spread: Spread, whole_range: bool) -> Sampling:
    """A whole range is a total over the measured clusters (design effect, t quantile); a single
    period of it takes the per-face dispersion and z."""
    if whole_range:
        return Sampling(faces / spread.design_effect, spread.quantile, spread.design_effect)
    return Sampling(faces / spread.dispersion, Z95, spread.dispersion)


# --- bias adjustment -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Rates:
    """Happy-vs-rest rates of the classifier and the labelled faces they were measured on.

    applied False: these rates are not trusted to adjust this index (measured on faces unlike
    the location's, see service/index/rates.py); its adjusted index and interval are None."""

    tpr: float
    fpr: float
    n_happy: int
    n_other: int
    applied: bool = True

    @property
    def adjusts(self) -> bool:
        """Whether these rates adjust: applied, and better than chance (tpr > fpr)."""
        return self.applied and self.tpr > self.fpr


def adjusted_index(index: float | None, tpr: float, fpr: float) -> float | None:
    """Adjusted classify-and-count (Forman 2008): the classifier's bias removed.

    The observed happy rate is q = tpr * P + fpr * (1 - P) for the true prevalence P,
    so P = (q - fpr) / (tpr - fpr), clipped to [0, 1]. Undefined (None) when there is no
    index or the classifier is no better than chance (tpr <= fpr).
    """
    if index is None or tpr <= fpr:
        return None
    return float(_clip01((index - fpr) / (tpr - fpr)))


def _rate_variance(rate: float, n: int, z: float = Z95) -> float:
    """Agresti-Coull variance of a rate measured on n faces: never zero, even at 0 or 1."""
    centre = (rate * n + z * z / 2) / (n + z * z)
    return centre * (1 - centre) / (n + z * z)


def adjusted_interval(index: float | None, sampling: Sampling, rates: Rates) -> tuple[float, float] | None:
    """95% interval of the adjusted index that carries the index's sampling error and the
    error of tpr and fpr (measured on n_happy and n_other labelled faces).

    A score interval: P is kept when |q - q0(P)| <= z sqrt(q0(1-q0)/m + P^2 vt + (1-P)^2 vf),
    with q0(P) = fpr + P (tpr - fpr) the happy rate P would produce, m the effective faces and
    vt, vf the rates' variances. Squared, that is a quadratic in P, solved exactly; with exact
    rates (tpr 1, fpr 0) it is the Wilson interval. When the rates are too uncertain to bound
    P (leading coefficient <= 0) the answer is [0, 1]; bounds are clipped to [0, 1]."""
    if index is None or not rates.adjusts or sampling.effective_faces <= 0:
        return None
    low, high = _adjusted_bounds(index, sampling.effective_faces, sampling.quantile, rates)
    return float(low), float(high)


def _adjusted_bounds(index, effective_faces, quantile: float, rates: Rates):
    """adjusted_interval for floats or arrays of index and effective faces (elementwise;
    tpr > fpr, effective faces > 0)."""
    z2, m = quantile ** 2, effective_faces
    t, f = rates.tpr, rates.fpr
    vt, vf = _rate_variance(t, rates.n_happy), _rate_variance(f, rates.n_other)
    d, a0 = t - f, index - f
    a = d * d * (1 + z2 / m) - z2 * (vt + vf)
    b = -2 * a0 * d - z2 * d * (1 - 2 * f) / m + 2 * z2 * vf
    c = a0 * a0 - z2 * f * (1 - f) / m - z2 * vf
    bounded = a > 0
    a = _choose(bounded, a, 1.0)  # unbounded elements answer [0, 1] below
    root = _sqrt_of_positive_part(b * b - 4 * a * c)
    return (_choose(bounded, _clip01((-b - root) / (2 * a)), 0.0),
            _choose(bounded, _clip01((-b + root) / (2 * a)), 1.0))


# --- one range or period -------------------------------------------------------------------------


@dataclass(frozen=True)
class IndexSummary:
    faces: int
    happy: int
    not_happy: int
    index: float | None
    ci95: tuple[float, float] | None
    adjusted_index: float | None
    adjusted_ci95: tuple[float, float] | None = None
    design_effect: float = 1.0


def summarize(happy: int, faces: int, rates: Rates, spread: Spread = NO_SPREAD,
              whole_range: bool = True) -> IndexSummary:
    """Everything the API reports for one range (or one period of it, whole_range=False):
    counts, index, ci95 widened by the measured spread, adjusted index and its interval."""
    index = index_of(happy, faces)
    if index is None:
        return IndexSummary(faces, happy, faces - happy, None, None, None)
    sampling = sampling_of(faces, spread, whole_range)
    return IndexSummary(
        faces=faces, happy=happy, not_happy=faces - happy, index=index,
        ci95=wilson_bounds(index, sampling.effective_faces, sampling.quantile),
        adjusted_index=adjusted_index(index, rates.tpr, rates.fpr) if rates.applied else None,
        adjusted_ci95=adjusted_interval(index, sampling, rates),
        design_effect=sampling.inflation,
    )


@dataclass(frozen=True)
class PeriodSummaries:
    """summarize(..., whole_range=False) of many periods at once, as arrays: a year of hours is
    8,760 periods, one at a time they cost more than reading their counts. index and the
    bounds are NaN where a period has no faces; adjusted values are NaN as well when the
    rates do not adjust (not applied, or tpr <= fpr)."""

    index: np.ndarray
    ci95_low: np.ndarray
    ci95_high: np.ndarray
    adjusted_index: np.ndarray
    adjusted_low: np.ndarray
    adjusted_high: np.ndarray
    design_effect: float


def summarize_periods(happy: np.ndarray, faces: np.ndarray, rates: Rates, spread: Spread = NO_SPREAD) -> PeriodSummaries:
    """The same numbers as summarize for each period (one code for the formulas)."""
    happy, faces = np.asarray(happy, np.float64), np.asarray(faces, np.float64)
    seen = faces > 0
    n = np.where(seen, faces, 1.0)  # periods without faces are computed on 1 and masked to NaN
    index = happy / n
    sampling = sampling_of(n, spread, whole_range=False)
    low, high = _wilson(index, sampling.effective_faces, sampling.quantile)
    if rates.adjusts:
        adjusted = _clip01((index - rates.fpr) / (rates.tpr - rates.fpr))
        adjusted_low, adjusted_high = _adjusted_bounds(index, sampling.effective_faces, sampling.quantile, rates)
    else:
        adjusted = adjusted_low = adjusted_high = np.full(len(index), np.nan)
    masked = [np.where(seen, values, np.nan) for values in (index, low, high, adjusted, adjusted_low, adjusted_high)]
    return PeriodSummaries(*masked, design_effect=sampling.inflation)
