from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from service.api.model import ModelInfo
from service.calibrations.schemas import RatesOut

Interval = tuple[float, float]
CI95 = Field(description="95% interval [low, high] of the index: Wilson's, widened by the extra variation "
                         "measured in the data (design_effect); null without faces or when withheld.")


class Summary(BaseModel):
    frames: int
    faces: int = Field(description="Faces counted, the index's denominator: each face of a posted "
                       "frame once, each person tracked by an edge agent once.")
    sightings: int = Field(description="Faces detected in all analysed frames, read or not: faces + unread "
                           "for posted frames, more for agents (one person, many frames).")
    unread: int = Field(0, description="Faces found but too small to read their expression (an agent's people "
                        "seen only so): counted as seen, never in faces, the index or its intervals.")
    happy: int | None = Field(description="Null when withheld (low_count in a public answer).")
    not_happy: int | None
    index: float | None = Field(description="happy / faces; null without faces or when withheld.")
    ci95: Interval | None = CI95
    adjusted_index: float | None = Field(description="Index with the classifier's bias removed (see `rates`).")
    adjusted_ci95: Interval | None = Field(
        None, description="95% interval of adjusted_index: the index's sampling error and the rates' own error.")
    design_effect: float | None = Field(
        None, description="Factor by which the extra variation widened the binomial variance (1: plain Wilson).")
    low_count: bool = Field(False, description="Fewer faces than the publishing minimum: values are withheld "
                                               "from public answers and uncertain for everyone.")


class Point(Summary):
    start: datetime
    end: datetime
    emotions: dict[str, int] | None = Field(description="Faces per emotion; null when withheld.")
    paused: bool = Field(False, description="The location was paused for some or all of this period: "
                                            "nothing was counted then, so its missing faces are a gap, not zeros.")


class TrendOut(BaseModel):
    slope_per_day: float | None = Field(description="Theil-Sen slope, index change per day, of the points with the weekday pattern removed.")
    slope_ci95: Interval | None = Field(None, description="95% interval of the slope (Gilbert), autocorrelation-corrected.")
    p_value: float | None = Field(description="Mann-Kendall two-sided p-value, corrected as `correction` says.")
    direction: str = Field(description="rising, falling, stable or insufficient_data.")
    buckets: int = Field(description="Points (days or weeks with enough faces) that the trend used.")
    unit: Literal["day", "week"] = Field("day", description="The points tested: local days, or weeks over ranges beyond 400 days.")
    correction: Literal["weekday_ar1"] = Field("weekday_ar1", description=(
        "What the test controls for: `weekday_ar1`: each weekday's own level is removed first (day points, two "
        "weeks or more), and Var(S) is widened for days alike in runs (AR(1) between days seen through each "
        "day's sampling noise). It declines (`insufficient_data`) with fewer than 8 days (or weeks) of enough faces."))
    variance_ratio: float | None = Field(None, description="n/n*: how much the days' autocorrelation widened Var(S) (1: not at all).")


class SpreadOut(BaseModel):
    """Where the extra variation behind ci95 was measured."""

    unit: Literal["day", "hour", "15min"] | None = Field(description="Clusters used: the location's days, hours or "
                                                                      "stored buckets; null when too few to measure.")
    clusters: int
    window_from: datetime = Field(description="Clusters are read from here (at least 28 days before `to`).")
    design_effect: float = Field(description="For the range's total (1: no extra variation found).")
    dispersion: float = Field(description="Per face, for a single period.")
    p_value: float | None = Field(description="Pearson test of no extra variation; widened when below 0.10.")


class LocationIndex(BaseModel):
    location_id: int
    name: str
    timezone: str
    bucket: str
    start: datetime = Field(serialization_alias="from")
    end: datetime = Field(serialization_alias="to")
    model: ModelInfo
    rates: RatesOut
    overall: Summary
    usual_ci95: Interval | None = Field(None, description=(
        "95% interval of the place's usual share, the long-run level its days vary around, where overall.ci95 "
        "covers the share of the people seen in this range. Wider when days are alike in runs (AR(1) between "
        "days, weekday pattern removed); null below 8 days with enough faces, or when the index is withheld."))
    trend: TrendOut
    spread: SpreadOut = Field(description="Extra variation behind the overall's ci95.")
    series_spread: SpreadOut = Field(description="Extra variation behind each period's ci95.")
    series: list[Point]


class CityLocation(BaseModel):
    location_id: int
    name: str
    latitude: float | None
    longitude: float | None
    timezone: str
    rates: RatesOut
    range: Summary
    latest_day: Point | None = Field(description="The location's latest local day with faces.")
    trend: TrendOut


class CityOverview(BaseModel):
    start: datetime = Field(serialization_alias="from")
    end: datetime = Field(serialization_alias="to")
    model: ModelInfo
    overall: Summary = Field(description="Every location together; its adjusted index uses the model's rates.")
    locations: list[CityLocation]
