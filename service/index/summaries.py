"""What the index's answers share: the query, the spread that widens ci95 (measured over the
first source with enough clusters), a location's days as arrays, periods' counts and their
points and summaries, and the trend and usual share over the days. service.index.location and
service.index.city build their answers from these."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np

from service.api.errors import InvalidInput
from service.api.model import ModelInfo
from service.core.emotions import EMOTIONS
from service.index import buckets as calendar
from service.index import repository, statistics, trend
from service.index.repository import StoredCounts
from service.index.robust_trend import PairIndex
from service.index.schemas import SpreadOut, Summary, TrendOut
from service.index.statistics import Rates, Spread

DEFAULT_RANGE = timedelta(days=30)
DISPERSION_WINDOW = timedelta(days=28)
TREND_WEEKS_AFTER_DAYS = 400
COUNT_KEYS = ("frames", "faces", "happy", "not_happy", "sightings", "unread")
CLUSTER_MINUTES = {"hour": 60, "15min": 15}


@dataclass(frozen=True)
class Query:
    start: datetime
    end: datetime
    bucket: calendar.Bucket
    model: ModelInfo
    trend_min_faces: int
    min_published_faces: int = 10
    public: bool = False  # read without a token: low-count values are withheld

    @property
    def window_start(self) -> datetime:
        """Where the clusters that measure extra variation begin."""
        return min(self.start, self.end - DISPERSION_WINDOW)


@dataclass(frozen=True)
class Measured:
    """The spread that was measured, with its clusters' unit and the window they came from."""

    spread: Spread
    unit: str | None
    window_from: datetime

    def out(self) -> SpreadOut:
        s = self.spread
        return SpreadOut(unit=self.unit, clusters=s.clusters, window_from=self.window_from,
                         design_effect=s.design_effect, dispersion=s.dispersion, p_value=s.p_value)


ClusterSource = tuple[str, Callable[[], tuple[list[int], list[int]]]]


def measure(sources: list[ClusterSource], window_from: datetime) -> Measured:
    """The spread of the first source (coarsest first) with enough clusters with faces; the
    finer sources are read only when needed. With too few everywhere: no widening."""
    clusters = 0
    for unit, read in sources:
        happy, faces = read()
        spread = statistics.spread_of(happy, faces)
        if spread.clusters >= statistics.MIN_CLUSTERS:
            return Measured(spread, unit, window_from)
        clusters = max(clusters, spread.clusters)
    return Measured(Spread(clusters=clusters), None, window_from)


@dataclass(frozen=True)
class DailyCounts:
    """happy and faces of the local days with faces, days as ordinals (date.toordinal), in
    order: a few arrays per location rather than a Python object per day (a city year is 36,500
    location-days, and objects that outlive a request's first moments wake the cycle collector)."""

    days: np.ndarray
    happy: np.ndarray
    faces: np.ndarray

    @classmethod
    def of(cls, counts: dict[date, tuple[int, int]]) -> DailyCounts:
        days = sorted(counts)
        return cls(np.array([day.toordinal() for day in days], np.int64),
                   np.array([counts[day][0] for day in days], np.int64),
                   np.array([counts[day][1] for day in days], np.int64))


# --- periods and summaries -------------------------------------------------------------------------


def period_counts(stored: StoredCounts, spans: list[tuple[datetime, datetime]]) -> np.ndarray:
    """Sum stored rows into the periods `spans` (sorted, contiguous): one row per period, empty
    ones included, one column per repository.SUMMED name. Rows are assigned by their start,
    which the calendar keeps on the periods' grid; rows outside the periods (read for the
    dispersion window) are left out."""
    edges = np.array([start.timestamp() for start, _ in spans] + [spans[-1][1].timestamp()], np.float64)
    slots = np.searchsorted(edges, stored.starts, side="right") - 1
    inside = (slots >= 0) & (slots < len(spans))
    sums = np.zeros((len(spans), len(repository.SUMMED)), np.int64)
    np.add.at(sums, slots[inside], stored.counts[inside])
    return sums


def totals_of(sums: np.ndarray) -> dict[str, int]:
    """The periods' counts added up, by name."""
    return dict(zip(repository.SUMMED, sums.sum(axis=0).tolist()))


FRAMES, FACES, HAPPY, NOT_HAPPY, SIGHTINGS, UNREAD = (
    repository.SUMMED.index(name) for name in ("frames", "faces", "happy", "not_happy", "sightings", "unread"))
EMOTION_COLUMNS = [repository.SUMMED.index(emotion) for emotion in EMOTIONS]  # `happy` is an emotion too


def points_of(spans: list[tuple[datetime, datetime]], sums: np.ndarray, rates: Rates, spread: Spread,
              query: Query) -> list[dict]:
    """The Point fields of each period (its row of `sums`), every period's statistics computed
    at once; NaN (no faces, or rates that cannot adjust) becomes null, and a low-count period
    in a public answer keeps its counts of frames and faces only. One dict per period and
    little else: a year of hours is 8,760 of them."""
    stats = statistics.summarize_periods(sums[:, HAPPY], sums[:, FACES], rates, spread)
    low_counts = (sums[:, FACES] < query.min_published_faces).tolist()
    values = zip(spans, sums.tolist(), sums[:, EMOTION_COLUMNS].tolist(), low_counts, stats.index.tolist(),
                 stats.ci95_low.tolist(), stats.ci95_high.tolist(), stats.adjusted_index.tolist(),
                 stats.adjusted_low.tolist(), stats.adjusted_high.tolist())
    points = []
    for (start, end), row, emotions, low_count, index, low, high, adjusted, adjusted_low, adjusted_high in values:
        point = {"start": start, "end": end, "frames": row[FRAMES], "faces": row[FACES], "sightings": row[SIGHTINGS],
                 "unread": row[UNREAD], "low_count": low_count, "happy": None, "not_happy": None, "index": None,
                 "ci95": None, "adjusted_index": None, "adjusted_ci95": None, "design_effect": None, "emotions": None}
        points.append(point)
        if low_count and query.public:
            continue
        point["happy"], point["not_happy"], point["emotions"] = row[HAPPY], row[NOT_HAPPY], dict(zip(EMOTIONS, emotions))
        if index == index:  # NaN: no faces
            point["index"], point["ci95"], point["design_effect"] = index, (low, high), stats.design_effect
        if adjusted == adjusted:
            point["adjusted_index"], point["adjusted_ci95"] = adjusted, (adjusted_low, adjusted_high)
    return points


def summary_of(counts: dict[str, int], rates: Rates, spread: Spread, query: Query) -> Summary:
    """The Summary of a whole range: a low-count range in a public answer keeps its counts of
    frames and faces (sightings and unread beside them) only. Unread faces never enter the
    statistics: faces is their denominator."""
    faces = counts["faces"]
    low_count = faces < query.min_published_faces
    seen = {"frames": counts["frames"], "faces": faces, "sightings": counts["sightings"], "unread": counts["unread"]}
    if low_count and query.public:
        return Summary(**seen, happy=None,
                       not_happy=None, index=None, ci95=None, adjusted_index=None, adjusted_ci95=None,
                       design_effect=None, low_count=True)
    core = statistics.summarize(counts["happy"], faces, rates, spread, whole_range=True)
    return Summary(**seen, happy=core.happy,
                   not_happy=core.not_happy, index=core.index, ci95=core.ci95, adjusted_index=core.adjusted_index,
                   adjusted_ci95=core.adjusted_ci95, design_effect=core.design_effect if faces else None,
                   low_count=low_count)


def add_counts(rows: Iterable[dict[str, int]]) -> dict[str, int]:
    total = dict.fromkeys(COUNT_KEYS, 0)
    for row in rows:
        for key in COUNT_KEYS:
            total[key] += row[key]
    return total


# --- trend -------------------------------------------------------------------------------------


def trend_points(daily: DailyCounts, min_faces: int) -> tuple[np.ndarray, np.ndarray, str]:
    """(days since the first day, index) of each local day with at least `min_faces` faces, in
    order; per ISO week (at its Monday) when the days span more than TREND_WEEKS_AFTER_DAYS, so
    that the points stay bounded (a year: 365 points, 66,430 pairs, whatever the bucket)."""
    xs, ys, _, unit = trend_columns(daily, min_faces)
    return xs, ys, unit


def trend_columns(daily: DailyCounts, min_faces: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """trend_points() and the faces of each point."""
    days, happy, faces = daily.days, daily.happy, daily.faces
    if not len(days):
        return np.empty(0), np.empty(0), np.empty(0), "day"
    unit = "week" if days[-1] - days[0] >= TREND_WEEKS_AFTER_DAYS else "day"
    if unit == "week":
        mondays, week = np.unique(days - (days - 1) % 7, return_inverse=True)  # ordinal 1 is a Monday
        days, happy, faces = mondays, np.bincount(week, happy), np.bincount(week, faces)
    kept = faces >= min_faces
    return (days[kept] - days[0]).astype(np.float64), happy[kept] / faces[kept], faces[kept], unit


def trend_of(daily: DailyCounts, min_faces: int, pair_index: PairIndex | None = None) -> TrendOut:
    xs, ys, faces, unit = trend_columns(daily, min_faces)
    weekdays = trend.weekdays_of(int(daily.days[0]), xs) if unit == "day" and len(xs) else None
    result = trend.day_trend(xs, ys, weekdays, faces, pair_index=pair_index)
    return TrendOut(slope_per_day=result.slope_per_day, slope_ci95=result.slope_ci95, p_value=result.p_value,
                    direction=result.direction, buckets=result.buckets, unit=unit,
                    variance_ratio=result.variance_ratio)


def usual_of(daily: DailyCounts, min_faces: int) -> tuple[float, float] | None:
    """The usual share's interval over the days the trend reads (trend.usual_share_interval)."""
    xs, ys, faces, unit = trend_columns(daily, min_faces)
    if unit != "day" or not len(xs):
        return None
    return trend.usual_share_interval(ys, faces.astype(np.float64), trend.weekdays_of(int(daily.days[0]), xs))


def make_query(start: datetime | None, end: datetime | None, bucket: calendar.Bucket,
               model: ModelInfo, trend_min_faces: int, now: datetime, min_published_faces: int = 10,
               public: bool = False) -> Query:
    end = end or now
    start = start or end - DEFAULT_RANGE
    if start >= end:
        raise InvalidInput(f"`from` ({start.isoformat()}) must be before `to` ({end.isoformat()})")
    return Query(start, end, bucket, model, trend_min_faces, min_published_faces, public)


def clusters_of(rows: StoredCounts, minutes: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(happy, faces) per cluster: each row, or rows summed by their UTC start floored to
    `minutes` (buckets of all cameras of a location in the same hour, say)."""
    happy, faces = rows.column("happy"), rows.column("faces")
    if minutes is None:
        return happy, faces
    _, cluster = np.unique(rows.starts // (minutes * 60), return_inverse=True)
    return np.bincount(cluster, happy).astype(np.int64), np.bincount(cluster, faces).astype(np.int64)
