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
from tqdm import tqdm

from service.index import statistics
from service.index.service import DailyCounts, trend_points
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
    day buckets, the service's trend (days, Hamed-Rao), and the known-variance weighted slope
    test (the best any test can do on these counts)."""
    rng = np.random.default_rng(seed)
    happy, faces = hourly_counts(rng, scenario, reps)
    calls = dict.fromkeys(("old, hour buckets", "old, day buckets", "new", "optimal z-test"), 0)
    pair_index = statistics.PairIndex()
    for rep in range(reps):
        calls["old, hour buckets"] += _old_call(happy[rep].ravel(), faces[rep].ravel(), min_faces, pair_index)
        day_happy, day_faces = happy[rep].sum(1), faces[rep].sum(1)
        calls["old, day buckets"] += _old_call(day_happy, day_faces, min_faces, pair_index)
        daily = {FIRST_DAY + timedelta(days=d): (int(h), int(n)) for d, (h, n) in enumerate(zip(day_happy, day_faces)) if n}
        calls["new"] += statistics.trend_of_series(*trend_points(DailyCounts.of(daily), min_faces)[:2]).direction in (
            "rising", "falling")
        calls["optimal z-test"] += _optimal_call(day_happy, day_faces, scenario)
    return {key: value / reps for key, value in calls.items()}


def _old_call(happy: np.ndarray, faces: np.ndarray, min_faces: int, pair_index) -> bool:
    """The trend before issue 14: Mann-Kendall without correction on the query's buckets."""
    kept = faces >= min_faces
    if kept.sum() < statistics.MIN_TREND_POINTS:
        return False
    _, p_value = statistics.mann_kendall((happy[kept] / faces[kept]).tolist(), pair_index)
    return p_value < statistics.TREND_ALPHA


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
    new_trend = lambda: statistics.trend_of_series(*trend_points(DailyCounts.of(daily), 5)[:2])  # noqa: E731
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
    statistics.theil_sen_slope(xs, ys)
    statistics.mann_kendall(ys)


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
    rows = ["| scenario | faces/day | old, hour buckets | old, day buckets | new | optimal z-test |",
            "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for number, scenario in enumerate(progress(scenarios)):
        result = trend_rates(scenario, reps, seed + number)
        rows.append(f"| {scenario.name} | {scenario.faces_per_day:g} | {pct(result['old, hour buckets'])} "
                    f"| {pct(result['old, day buckets'])} | **{pct(result['new'])}** | {pct(result['optimal z-test'])} |")
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
        "", "closed-form power of the optimal test: " + ", ".join(
            f"base {s.share:.2f}: {pct(optimal_power(s.share, s.change, s.faces_per_day))}%" for s in POWER_SCENARIOS),
        "", "trend cost over a year of hourly periods: " + ", ".join(
            f"{key} {value:,.1f}" for key, value in year_trend_cost(24 * (40 if quick else 365)).items()),
        "", f"run time {time.perf_counter() - started:.0f} s",
    ]
    print("\n".join(sections))
    return 0
