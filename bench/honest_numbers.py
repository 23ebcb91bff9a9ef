"""How honest the index's numbers are, by simulation: the ci95's coverage, the adjusted index's
interval coverage, and the trend's false-alarm rate and power, old method beside new, in one run.

    happiness bench statistics [--repeat 2000] [--quick]

Every new figure runs the service's own functions (service.index.statistics and the trend's
aggregation to local days in service.index.service); the old ones are the methods before issue 14:
plain Wilson over faces, no interval for the adjusted index, Mann-Kendall without correction on
the query's buckets. A simulated location is open 16 hours a day (07:00-23:00), four 15-minute
buckets an hour; faces arrive by a day-night profile. Monte Carlo error: a rate near 95% measured
on R repetitions is known to +-1.96 sqrt(0.95 * 0.05 / R) (+-1.0 point at 2,000).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from scipy import stats as scipy_stats
from tqdm import tqdm

from service.index import robust_trend, statistics, trend
from service.index.summaries import DailyCounts, trend_of, trend_points
from service.index.statistics import Rates, Sampling, Spread

HOURS, BUCKETS = 16, 4
SHARE = 0.3                  # the location's happy share in the interval scenarios
HOUR_SD = 0.5                # "hours differ": sd of each hour's logit share around the location's
PEOPLE_PER_BUCKET = 3.0
WINDOW_DAYS = 28             # the service measures extra variation over at least 28 days
MODEL_RATES = Rates(tpr=0.8626, fpr=0.0419, n_happy=895, n_other=2694)  # models/default on FER2013 val
FIRST_DAY = date(2026, 3, 2)
DEFAULT_REPS = 2000


def logistic(x):
    return 1.0 / (1.0 + np.exp(-x))


def logit(p: float) -> float:
    return math.log(p / (1 - p))


def day_profile() -> np.ndarray:
    """Share of a day's faces in each open hour: quiet mornings and late evenings."""
    profile = np.sin(np.linspace(0.15, math.pi - 0.15, HOURS)) + 0.2
    return profile / profile.sum()


# --- interval scenarios ------------------------------------------------------------------------


def mean_share(share: float, sd: float) -> float:
    """E[logistic(logit(share) + N(0, sd^2))]: the location's share when hours differ (quadrature)."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(80)
    return float(np.sum(weights * logistic(logit(share) + sd * nodes)) / np.sum(weights))


def faces_in_buckets(rng, shape: tuple, scenario: str, share: float = SHARE) -> tuple[np.ndarray, np.ndarray, float]:
    """(happy, faces) per 15-minute bucket [reps, days, HOURS, BUCKETS], and the true share."""
    people = rng.poisson(PEOPLE_PER_BUCKET, shape)
    if scenario.startswith("seen "):  # a person lingers within a bucket: k frames, one decision
        k = int(scenario.split()[1])
        return k * rng.binomial(people, share), k * people, share
    if scenario == "groups":  # groups of 1 + Poisson(1.5) people smile together
        groups = rng.poisson(PEOPLE_PER_BUCKET / 2.5, shape)
        most = int(groups.max())
        sizes = (1 + rng.poisson(1.5, (*shape, most))) * (np.arange(most) < groups[..., None])
        together = rng.random((*shape, most)) < share
        return (sizes * together).sum(-1), sizes.sum(-1), share
    if scenario == "hours differ":  # events and weather: each hour its own share
        hour_share = logistic(logit(share) + rng.normal(0, HOUR_SD, (*shape[:3], 1)))
        return rng.binomial(people, np.broadcast_to(hour_share, shape)), people, mean_share(share, HOUR_SD)
    return rng.binomial(people, share), people, share


INTERVAL_SCENARIOS = ("independent", "seen 5", "seen 20", "groups", "hours differ")


@dataclass(frozen=True)
class IntervalQuery:
    """A query the service answers: range_days at the end of the window, its periods per day."""

    name: str
    range_days: int
    periods_per_day: int  # 1: day periods (day clusters); HOURS: hour periods (hour clusters)


INTERVAL_QUERIES = (IntervalQuery("30 days by day", 30, 1), IntervalQuery("7 days by day", 7, 1),
                    IntervalQuery("1 day by hour", 1, HOURS))


def covered(interval, truth: float) -> bool:
    return interval is not None and interval[0] <= truth <= interval[1]


def interval_coverage(scenario: str, query: IntervalQuery, reps: int, seed: int) -> dict[str, float]:
    """Share of repetitions whose interval holds the true share: the range's total and its
    periods, plain Wilson (old) beside the service's widened interval (new)."""
    rng = np.random.default_rng(seed)
    days = max(query.range_days, WINDOW_DAYS)
    happy, faces, truth = faces_in_buckets(rng, (reps, days, HOURS, BUCKETS), scenario)
    hits = dict.fromkeys(("old range", "new range", "old periods", "new periods"), 0)
    periods = 0
    for rep in range(reps):
        day_happy, day_faces = happy[rep].sum((1, 2)), faces[rep].sum((1, 2))
        range_spread = statistics.spread_of(day_happy, day_faces)
        in_range = slice(days - query.range_days, days)
        total_happy, total_faces = int(day_happy[in_range].sum()), int(day_faces[in_range].sum())
        hits["old range"] += covered(statistics.wilson_interval(total_happy, total_faces), truth)
        hits["new range"] += covered(statistics.summarize(total_happy, total_faces, MODEL_RATES, range_spread).ci95, truth)
        period_happy, period_faces, period_spread = _periods(happy[rep], faces[rep], query, range_spread)
        for h, n in zip(period_happy[in_range].ravel().tolist(), period_faces[in_range].ravel().tolist()):
            if n:
                periods += 1
                hits["old periods"] += covered(statistics.wilson_interval(h, n), truth)
                new = statistics.summarize(h, n, MODEL_RATES, period_spread, whole_range=False)
                hits["new periods"] += covered(new.ci95, truth)
    return {key: value / (periods if "periods" in key else reps) for key, value in hits.items()}


def _periods(happy: np.ndarray, faces: np.ndarray, query: IntervalQuery, range_spread: Spread):
    """Counts per period [days, periods_per_day] and the spread the service gives each period."""
    if query.periods_per_day == 1:
        return happy.sum((1, 2))[:, None], faces.sum((1, 2))[:, None], range_spread
    hour_happy, hour_faces = happy.sum(2), faces.sum(2)
    return hour_happy, hour_faces, statistics.spread_of(hour_happy.ravel(), hour_faces.ravel())


# --- adjusted index ------------------------------------------------------------------------------


ADJUSTED_SHARES = (0.02, 0.1, 0.3, 0.5, 0.9, 0.98)
TRUE_RATES = (0.8626, 0.0419)


def adjusted_coverage(share: float, faces: int, n_happy: int, n_other: int, reps: int, seed: int) -> dict[str, float]:
    """Coverage of the adjusted index's interval when the rates are themselves measured on
    n_happy and n_other labelled faces: old (the ci95 mapped through the adjustment, rates
    taken as exact), a delta-method Wald interval, and the service's score interval."""
    rng = np.random.default_rng(seed)
    tpr, fpr = TRUE_RATES
    observed = rng.binomial(faces, fpr + share * (tpr - fpr), reps) / faces
    tprs, fprs = rng.binomial(n_happy, tpr, reps) / n_happy, rng.binomial(n_other, fpr, reps) / n_other
    hits = {"old (ci95 mapped)": 0, "delta method": 0, "new (score)": 0}
    for q, t, f in zip(observed.tolist(), tprs.tolist(), fprs.tolist()):
        rates = Rates(t, f, n_happy, n_other)
        hits["old (ci95 mapped)"] += covered(_mapped(q, faces, t, f), share)
        hits["delta method"] += covered(_delta(q, faces, rates), share)
        hits["new (score)"] += covered(statistics.adjusted_interval(q, Sampling(faces, statistics.Z95, 1.0), rates), share)
    return {key: value / reps for key, value in hits.items()}


def _mapped(q: float, faces: int, t: float, f: float):
    low, high = statistics.wilson_bounds(q, faces)
    return statistics.adjusted_index(low, t, f), statistics.adjusted_index(high, t, f)


def _delta(q: float, faces: int, rates: Rates):
    d = rates.tpr - rates.fpr
    if d <= 0:
        return None
    share = (q - rates.fpr) / d
    variance = (q * (1 - q) / faces + share ** 2 * rates.tpr * (1 - rates.tpr) / rates.n_happy
                + (1 - share) ** 2 * rates.fpr * (1 - rates.fpr) / rates.n_other) / d ** 2
    half = statistics.Z95 * math.sqrt(variance)
    return max(0.0, share - half), min(1.0, share + half)


# --- trend ---------------------------------------------------------------------------------------


TREND_DAYS = 30
AR_SD = 0.3  # sd of the AR(1) noise on the logit share


@dataclass(frozen=True)
class TrendScenario:
    name: str
    faces_per_day: float
    share: float = 0.3
    hour_ar: float = 0.0   # AR(1) coefficient of the logit share from one open hour to the next
    day_ar: float = 0.0    # ... from one day to the next
    cycle: bool = False    # the share follows a daily rhythm (+-0.4 on the logit scale)
    change: float = 0.0    # true change of the share over TREND_DAYS days


def _ar1(rng, shape: tuple, phi: float) -> np.ndarray:
    noise = rng.normal(0, AR_SD * math.sqrt(1 - phi * phi), shape)
    series = np.empty(shape)
    series[..., 0] = rng.normal(0, AR_SD, shape[:-1])
    for step in range(1, shape[-1]):
        series[..., step] = phi * series[..., step - 1] + noise[..., step]
    return series


def hourly_counts(rng, scenario: TrendScenario, reps: int) -> tuple[np.ndarray, np.ndarray]:
    """(happy, faces) per open hour [reps, days, HOURS]."""
    days = np.arange(TREND_DAYS)
    share = scenario.share + scenario.change / TREND_DAYS * (days - (TREND_DAYS - 1) / 2)
    logits = np.log(share / (1 - share))[None, :, None] + np.zeros((reps, 1, HOURS))
    if scenario.cycle:
        logits = logits + 0.4 * np.sin(np.linspace(0, 2 * math.pi, HOURS))
    if scenario.hour_ar:
        logits = logits + _ar1(rng, (reps, TREND_DAYS * HOURS), scenario.hour_ar).reshape(reps, TREND_DAYS, HOURS)
    if scenario.day_ar:
        logits = logits + _ar1(rng, (reps, TREND_DAYS), scenario.day_ar)[..., None]
    faces = rng.poisson(scenario.faces_per_day * day_profile(), (reps, TREND_DAYS, HOURS))
    return rng.binomial(faces, logistic(logits)), faces


def trend_rates(scenario: TrendScenario, reps: int, seed: int, min_faces: int = 5) -> dict[str, float]:
    """Share of repetitions called rising or falling: old Mann-Kendall on hour buckets and on
    day buckets, issue 14's trend (days, Hamed-Rao), the service's trend (weekday pattern
    removed, AR(1) days; service.index.trend), and the known-variance weighted slope test (the
    best any test can do on these counts)."""
    rng = np.random.default_rng(seed)
    happy, faces = hourly_counts(rng, scenario, reps)
    calls = dict.fromkeys(("old, hour buckets", "old, day buckets", "issue 14", "new", "optimal z-test"), 0)
    pair_index = robust_trend.PairIndex()
    for rep in range(reps):
        calls["old, hour buckets"] += _old_call(happy[rep].ravel(), faces[rep].ravel(), min_faces, pair_index)
        day_happy, day_faces = happy[rep].sum(1), faces[rep].sum(1)
        calls["old, day buckets"] += _old_call(day_happy, day_faces, min_faces, pair_index)
        daily = {FIRST_DAY + timedelta(days=d): (int(h), int(n)) for d, (h, n) in enumerate(zip(day_happy, day_faces)) if n}
        days = DailyCounts.of(daily)
        calls["issue 14"] += robust_trend.trend_of_series(*trend_points(days, min_faces)[:2]).direction in CLAIMS
        calls["new"] += trend_of(days, min_faces).direction in CLAIMS
        calls["optimal z-test"] += _optimal_call(day_happy, day_faces, scenario)
    return {key: value / reps for key, value in calls.items()}


CLAIMS = ("rising", "falling")


def _old_call(happy: np.ndarray, faces: np.ndarray, min_faces: int, pair_index) -> bool:
    """The trend before issue 14: Mann-Kendall without correction on the query's buckets."""
    kept = faces >= min_faces
    if kept.sum() < robust_trend.MIN_TREND_POINTS:
        return False
    _, p_value = robust_trend.mann_kendall((happy[kept] / faces[kept]).tolist(), pair_index)
    return p_value < robust_trend.TREND_ALPHA


def _optimal_call(happy: np.ndarray, faces: np.ndarray, scenario: TrendScenario) -> bool:
    """Weighted least-squares slope of the daily shares with the true binomial variances known:
    for independent faces, the most powerful test of a linear change (the information bound)."""
    days = np.arange(TREND_DAYS)
    share = scenario.share + scenario.change / TREND_DAYS * (days - (TREND_DAYS - 1) / 2)
    kept = faces > 0
    weights = faces[kept] / (share[kept] * (1 - share[kept]))
    x, y = days[kept], happy[kept] / faces[kept]
    centre = np.sum(weights * x) / np.sum(weights)
    information = np.sum(weights * (x - centre) ** 2)
    slope = np.sum(weights * (x - centre) * y) / information
    return abs(slope) * math.sqrt(information) > statistics.Z95


def optimal_power(share: float, change: float, faces_per_day: float) -> float:
    """Power of that test in closed form: z = slope * sqrt(sum w (x - xbar)^2), w = n / p(1-p)."""
    days = np.arange(TREND_DAYS)
    shares = share + change / TREND_DAYS * (days - (TREND_DAYS - 1) / 2)
    weights = faces_per_day / (shares * (1 - shares))
    centre = np.sum(weights * days) / np.sum(weights)
    z = change / TREND_DAYS * math.sqrt(np.sum(weights * (days - centre) ** 2))
    normal = statistics.NormalDist()
    return normal.cdf(z - statistics.Z95) + normal.cdf(-z - statistics.Z95)


FALSE_ALARM_SCENARIOS = (
    TrendScenario("independent faces", 500),
    TrendScenario("daily rhythm", 500, cycle=True),
    *(TrendScenario(f"hourly AR(1) {phi}, daily rhythm", 500, hour_ar=phi, cycle=True) for phi in (0.3, 0.5, 0.8)),
    *(TrendScenario(f"hourly AR(1) {phi}, 50 faces/day", 50, hour_ar=phi, cycle=True) for phi in (0.3, 0.5, 0.8)),
    *(TrendScenario(f"day-to-day AR(1) {phi}", 500, day_ar=phi, cycle=True) for phi in (0.3, 0.5, 0.8)),
)
POWER_SCENARIOS = tuple(TrendScenario(f"+10 points from {share - 0.05:.2f} to {share + 0.05:.2f}", 50,
                                      share=share, change=0.10) for share in (0.15, 0.25, 0.5))


# --- trend between days ------------------------------------------------------------------------------


DAY_SHARE, DAY_INNOVATION_SD, PEOPLE_PER_DAY = 0.35, 0.03, 400
WEEKEND_LIFT = np.array([0, 0, 0, 0, 0.04, 0.06, 0.05])  # Monday .. Sunday: Friday to Sunday 4-6 points happier


@dataclass(frozen=True)
class DayScenario:
    """Days whose share follows AR(1) around DAY_SHARE (innovation sd DAY_INNOVATION_SD), with
    or without the weekly rhythm, and a linear change of `change` over `days`."""

    name: str
    days: int
    phi: float
    weekly: bool = True
    change: float = 0.0
    festival: bool = False  # one day in the range's last week 25 points happier (a festival, a fair)


def day_counts(rng, scenario: DayScenario, reps: int, with_shares: bool = False) -> tuple:
    """(happy, faces) per day [reps, days] and each repetition's first weekday (0 Monday), and
    with_shares, the days' true shares [reps, days]."""
    phi, days = scenario.phi, scenario.days
    drift = np.empty((reps, days))
    drift[:, 0] = rng.normal(0, DAY_INNOVATION_SD / math.sqrt(1 - phi * phi), reps)  # phi 0: independent days
    for day in range(1, days):
        drift[:, day] = phi * drift[:, day - 1] + rng.normal(0, DAY_INNOVATION_SD, reps)
    first = rng.integers(0, 7, reps)
    weekdays = (first[:, None] + np.arange(days)) % 7
    share = DAY_SHARE + drift + scenario.change * (np.arange(days) - (days - 1) / 2) / days
    share = share + (WEEKEND_LIFT[weekdays] if scenario.weekly else 0)
    if scenario.festival:
        share[np.arange(reps), days - 1 - rng.integers(0, 7, reps)] += 0.25
    faces, share = rng.poisson(PEOPLE_PER_DAY, (reps, days)), np.clip(share, 0.01, 0.99)
    happy = rng.binomial(faces, share)
    return (happy, faces, first, share) if with_shares else (happy, faces, first)


def day_trend_rates(scenario: DayScenario, reps: int, seed: int) -> dict[str, float]:
    """Share of repetitions called rising or falling (or rising only, for a change): issue 14's
    trend, two candidates, and the service's trend (service.index.summaries.trend_of)."""
    rng = np.random.default_rng(seed)
    happy, faces, first = day_counts(rng, scenario, reps)
    calls = dict.fromkeys(("issue 14", "lag-1", "AR(1) regression", "new"), 0)
    wanted = ("rising",) if scenario.change > 0 else CLAIMS
    monday = FIRST_DAY - timedelta(days=FIRST_DAY.weekday())
    for rep in range(reps):
        start = monday + timedelta(days=int(first[rep]))
        days = DailyCounts.of({start + timedelta(days=d): (int(happy[rep, d]), int(faces[rep, d]))
                               for d in range(scenario.days)})
        xs, ys, _ = trend_points(days, 5)
        weekdays = trend.weekdays_of(int(days.days[0]), xs)
        calls["issue 14"] += robust_trend.trend_of_series(xs, ys).direction in wanted
        calls["lag-1"] += _lag1_direction(xs, ys, weekdays) in wanted
        calls["AR(1) regression"] += _ar1_regression_direction(xs, ys, weekdays) in wanted
        calls["new"] += trend_of(days, 5).direction in wanted
    return {key: value / reps for key, value in calls.items()}


def _lag1_direction(xs: np.ndarray, ys: np.ndarray, weekdays: np.ndarray) -> str:
    """Candidate: weekday pattern removed, Var(S) widened by the lag-1 autocorrelation alone
    (rho_k = r1^k, Yue and Wang 2004), r1 bias-corrected as the service does."""
    ys, fitted = trend.without_weekday_pattern(xs, ys, weekdays)
    slope = robust_trend.theil_sen_slope(xs, ys)
    residuals = ys - slope * xs - np.mean(ys - slope * xs)
    lag1 = trend._bias_corrected(float(residuals[1:] @ residuals[:-1] / (residuals @ residuals)), len(ys), fitted)
    n, lags = len(ys), np.arange(1, len(ys), dtype=np.float64)
    ratio = 1 + 2 / (n * (n - 1) * (n - 2)) * float(np.sum((n - lags) * (n - lags - 1) * (n - lags - 2) * lag1 ** lags))
    s, _ = robust_trend.mann_kendall(ys)
    p_value = robust_trend._two_sided_p(int(s), robust_trend._mann_kendall_variance(ys) * ratio)
    return robust_trend._direction(slope, p_value)


def _ar1_regression_direction(xs: np.ndarray, ys: np.ndarray, weekdays: np.ndarray) -> str:
    """Candidate: least squares on a line and weekday constants with AR(1) errors (Prais-Winsten,
    the lag-1 autocorrelation of the residuals, bias-corrected), t test of the slope."""
    present = [day for day in range(7) if np.count_nonzero(weekdays == day) >= 2] if len(ys) >= 14 else []
    design = np.column_stack([np.ones_like(xs), xs - xs.mean(),
                              *[(weekdays == day).astype(float) for day in present[1:]]])
    residuals = ys - design @ np.linalg.lstsq(design, ys, rcond=None)[0]
    n, parameters = design.shape
    phi = trend._bias_corrected(float(residuals[1:] @ residuals[:-1] / (residuals @ residuals)), n, parameters - 2)
    scale = math.sqrt(1 - phi * phi)
    tx = np.vstack([design[:1] * scale, design[1:] - phi * design[:-1]])
    ty = np.concatenate([ys[:1] * scale, ys[1:] - phi * ys[:-1]])
    beta, *_ = np.linalg.lstsq(tx, ty, rcond=None)
    left = ty - tx @ beta
    dof = n - parameters - 1
    se = math.sqrt(float(left @ left) / dof * np.linalg.inv(tx.T @ tx)[1, 1])
    p_value = 2 * scipy_stats.t.sf(abs(beta[1] / se), dof) if se > 0 else 1.0
    return robust_trend._direction(float(beta[1]), p_value)


def range_coverage_between_days(scenario: DayScenario, reps: int, seed: int) -> dict[str, float]:
    """How often the range's ci95 (the service's: day clusters over the range) holds (a) the
    share the range's people were drawn from, the faces-weighted mean of its days' true shares,
    and (b) the place's usual share, the long-run mean those days vary around."""
    rng = np.random.default_rng(seed)
    happy, faces, first, share = day_counts(rng, scenario, reps, with_shares=True)
    usual = DAY_SHARE + (float(WEEKEND_LIFT.mean()) if scenario.weekly else 0.0)
    hits = dict.fromkeys(("people seen in the range", "usual share", "usual_ci95"), 0)
    monday = FIRST_DAY - timedelta(days=FIRST_DAY.weekday())
    for rep in range(reps):
        weekdays = trend.weekdays_of((monday + timedelta(days=int(first[rep]))).toordinal(),
                                     np.arange(scenario.days, dtype=np.float64))
        usual_ci95 = trend.usual_share_interval(happy[rep] / faces[rep], faces[rep], weekdays)
        hits["usual_ci95"] += covered(usual_ci95, usual)
        spread = statistics.spread_of(happy[rep], faces[rep])
        ci95 = statistics.summarize(int(happy[rep].sum()), int(faces[rep].sum()), MODEL_RATES, spread).ci95
        hits["people seen in the range"] += covered(ci95, float(np.average(share[rep], weights=faces[rep])))
        hits["usual share"] += covered(ci95, usual)
    return {key: value / reps for key, value in hits.items()}


def coverage_between_days_table(reps: int, progress: Callable, seed: int) -> list[str]:
    rows = ["| days alike | weekly rhythm | range | ci95: people seen in the range | ci95: usual share "
            "| usual_ci95: usual share |", "| --- | --- | ---: | ---: | ---: | ---: |"]
    cases = [DayScenario("", days, phi, weekly) for days in (30, 90) for phi in (0.0, 0.3, 0.6, 0.8)
             for weekly in (False, True)]
    for number, scenario in enumerate(progress(cases)):
        result = range_coverage_between_days(scenario, reps, seed + number)
        rows.append(f"| AR(1) {scenario.phi} | {'yes' if scenario.weekly else 'no'} | {scenario.days} days "
                    f"| {pct(result['people seen in the range'])} | {pct(result['usual share'])} "
                    f"| **{pct(result['usual_ci95'])}** |")
    return rows


DAY_FALSE_ALARM_SCENARIOS = tuple(
    DayScenario(f"AR(1) {phi}, {'weekly rhythm' if weekly else 'no rhythm'}, {weeks} weeks", weeks * 7, phi, weekly)
    for weeks in (4, 8, 26) for phi in (0.3, 0.6, 0.8) for weekly in (False, True)) + tuple(
    DayScenario(f"AR(1) {phi}, weekly rhythm, {weeks} weeks, one festival day in the last week", weeks * 7, phi,
                festival=True) for weeks in (4, 8) for phi in (0.3, 0.6)) + (
    DayScenario("AR(1) 0.6, weekly rhythm, 30 days (the API's default range)", 30, 0.6),)
DAY_POWER_SCENARIOS = (
    DayScenario("+10 points a month, 8 weeks (the issue's)", 56, 0.6, change=0.10 * 56 / 30),
    DayScenario("+5 points a month, 8 weeks", 56, 0.6, change=0.05 * 56 / 30),
    *(DayScenario(f"+{points} points over {days} days", days, 0.6, change=points / 100)
      for days in (30, 90) for points in (5, 10)),
    DayScenario("+10 points a month, 8 weeks, no weekly rhythm", 56, 0.6, weekly=False, change=0.10 * 56 / 30),
)


# --- cost ----------------------------------------------------------------------------------------


def year_trend_cost(hours: int = 365 * 24) -> dict[str, float]:
    """Memory and time of the trend over a year of hourly periods: old (every hourly point) and
    new (the hours summed into local days first)."""
    import tracemalloc

    rng = np.random.default_rng(1)
    shares = np.clip(0.3 + rng.normal(0, 0.05, hours), 0, 1)
    old_points = [(h / 24, float(s)) for h, s in enumerate(shares)]
    daily = {FIRST_DAY + timedelta(days=d): (int(30 * shares[d * 24]), 100) for d in range(hours // 24)}
    results = {}
    new_trend = lambda: robust_trend.trend_of_series(*trend_points(DailyCounts.of(daily), 5)[:2])  # noqa: E731
    for name, run in (("old", lambda: _old_trend(old_points)), ("new", new_trend)):
        tracemalloc.start()
        started = time.process_time()
        run()
        results[f"{name} cpu ms"] = (time.process_time() - started) * 1000
        results[f"{name} peak MB"] = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
    results["old points"], results["new points"] = len(old_points), len(daily)
    return results


def _old_trend(points: list[tuple[float, float]]) -> None:
    """The old trend's work: Theil-Sen and Mann-Kendall over every pair of the points."""
    xs, ys = zip(*points)
    robust_trend.theil_sen_slope(xs, ys)
    robust_trend.mann_kendall(ys)


# --- report --------------------------------------------------------------------------------------


def pct(value: float) -> str:
    return f"{100 * value:.1f}"


def interval_table(reps: int, progress: Callable) -> list[str]:
    rows = ["| query | scenario | old range | new range | old periods | new periods |",
            "| --- | --- | ---: | ---: | ---: | ---: |"]
    for number, (query, scenario) in enumerate(progress([(q, s) for q in INTERVAL_QUERIES for s in INTERVAL_SCENARIOS])):
        result = interval_coverage(scenario, query, reps, seed=100 + number)
        rows.append(f"| {query.name} | {scenario} | {pct(result['old range'])} | **{pct(result['new range'])}** "
                    f"| {pct(result['old periods'])} | **{pct(result['new periods'])}** |")
    return rows


def adjusted_table(reps: int, progress: Callable) -> list[str]:
    rows = ["| rates measured on | faces | true share | old (ci95 mapped) | delta method | new (score) |",
            "| --- | ---: | ---: | ---: | ---: | ---: |"]
    cases = [(label, nh, no, faces, share) for label, nh, no in (("model: 895 happy, 2,694 other", 895, 2694),
                                                                 ("location: 100 happy, 300 other", 100, 300))
             for faces in (100, 1000, 10000) for share in ADJUSTED_SHARES]
    for number, (label, nh, no, faces, share) in enumerate(progress(cases)):
        result = adjusted_coverage(share, faces, nh, no, reps, seed=300 + number)
        rows.append(f"| {label} | {faces:,} | {share} | {pct(result['old (ci95 mapped)'])} "
                    f"| {pct(result['delta method'])} | **{pct(result['new (score)'])}** |")
    return rows


def trend_table(scenarios, reps: int, progress: Callable, seed: int) -> list[str]:
    rows = ["| scenario | faces/day | old, hour buckets | old, day buckets | issue 14 (Hamed-Rao) | new | optimal z-test |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for number, scenario in enumerate(progress(scenarios)):
        result = trend_rates(scenario, reps, seed + number)
        rows.append(f"| {scenario.name} | {scenario.faces_per_day:g} | {pct(result['old, hour buckets'])} "
                    f"| {pct(result['old, day buckets'])} | {pct(result['issue 14'])} | **{pct(result['new'])}** "
                    f"| {pct(result['optimal z-test'])} |")
    return rows


def day_trend_table(scenarios, reps: int, progress: Callable, seed: int) -> list[str]:
    rows = ["| scenario | days | issue 14 (Hamed-Rao) | lag-1 (Yue-Wang) | AR(1) regression | new |",
            "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for number, scenario in enumerate(progress(scenarios)):
        result = day_trend_rates(scenario, reps, seed + number)
        rows.append(f"| {scenario.name} | {scenario.days} | {pct(result['issue 14'])} | {pct(result['lag-1'])} "
                    f"| {pct(result['AR(1) regression'])} | **{pct(result['new'])}** |")
    return rows


def main(reps: int, quick: bool) -> int:
    if quick:
        reps = 20
    started = time.perf_counter()
    progress = lambda items: tqdm(items, disable=None, leave=False)  # noqa: E731
    margin = 1.96 * math.sqrt(0.95 * 0.05 / reps)
    sections = [
        f"{reps:,} repetitions per row; Monte Carlo 95% error +-{100 * margin:.1f} points near 95%, "
        f"+-{100 * 1.96 * math.sqrt(0.05 * 0.95 / reps):.1f} near 5%, +-{100 * 1.96 * math.sqrt(0.25 / reps):.1f} near 50%",
        "", "ci95 coverage, % (target: >= 92 with correlated faces, 95 +- 1.5 independent)", "",
        *interval_table(reps, progress),
        "", "adjusted_index interval coverage, % (independent faces; rates re-measured each repetition)", "",
        *adjusted_table(reps, progress),
        "", f"trend false alarms, % called rising or falling with no change ({TREND_DAYS} days; target <= 7)", "",
        *trend_table(FALSE_ALARM_SCENARIOS, reps, progress, seed=500),
        "", f"trend power, % called rising for a change of 10 points over {TREND_DAYS} days at 50 faces a day "
        "(target >= 80)", "", *trend_table(POWER_SCENARIOS, reps, progress, seed=700),
        "", "trend between days: false alarms, % called rising or falling with no change (AR(1) shares between "
        "days, innovation sd 0.03 on 0.35, 400 people a day; target <= 7 with AR(1) 0.6 and a weekly rhythm)", "",
        *day_trend_table(DAY_FALSE_ALARM_SCENARIOS, reps, progress, seed=900),
        "", "trend between days: power, % called rising (AR(1) 0.6, weekly rhythm; target >= 80 for 10 points "
        "a month over 8 weeks)", "", *day_trend_table(DAY_POWER_SCENARIOS, reps, progress, seed=950),
        "", "range ci95 coverage with days alike (AR(1) shares between days, 400 people a day), %: of the "
        "share the range's people were drawn from, and of the place's usual share", "",
        *coverage_between_days_table(reps, progress, seed=1100),
        "", "closed-form power of the optimal test: " + ", ".join(
            f"base {s.share:.2f}: {pct(optimal_power(s.share, s.change, s.faces_per_day))}%" for s in POWER_SCENARIOS),
        "", "trend cost over a year of hourly periods: " + ", ".join(
            f"{key} {value:,.1f}" for key, value in year_trend_cost(24 * (40 if quick else 365)).items()),
        "", f"run time {time.perf_counter() - started:.0f} s",
    ]
    print("\n".join(sections))
    return 0
