from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

CI95 = Field(description="Wilson score 95% interval [low, high] of the index; null without faces.")


class ModelInfo(BaseModel):
    name: str
    version: str
    tpr: float = Field(description="Happy-vs-rest true positive rate on validation data.")
    fpr: float = Field(description="Happy-vs-rest false positive rate on validation data.")


class Summary(BaseModel):
    frames: int
    faces: int = Field(description="Faces counted, the index's denominator: each face of a posted "
                       "frame once, each person tracked by an edge agent once.")
    sightings: int = Field(description="Faces detected in all analysed frames: equal to faces for "
                           "posted frames, more for agents (one person, many frames).")
    happy: int
    not_happy: int
    index: float | None = Field(description="happy / faces; null without faces.")
    ci95: tuple[float, float] | None = CI95
    adjusted_index: float | None = Field(description="Index with the classifier's bias removed.")


class Point(Summary):
    start: datetime
    end: datetime
    emotions: dict[str, int]


class TrendOut(BaseModel):
    slope_per_day: float | None = Field(description="Theil-Sen slope, index change per day.")
    p_value: float | None = Field(description="Mann-Kendall two-sided p-value.")
    direction: str = Field(description="rising, falling, stable or insufficient_data.")
    buckets: int = Field(description="Buckets with enough faces that the trend used.")


class LocationIndex(BaseModel):
    location_id: int
    name: str
    timezone: str
    bucket: str
    start: datetime = Field(serialization_alias="from")
    end: datetime = Field(serialization_alias="to")
    model: ModelInfo
    overall: Summary
    trend: TrendOut
    series: list[Point]


class CityLocation(BaseModel):
    location_id: int
    name: str
    latitude: float | None
    longitude: float | None
    timezone: str
    range: Summary
    latest_day: Point | None = Field(description="The location's latest local day with faces.")
    trend: TrendOut


class CityOverview(BaseModel):
    start: datetime = Field(serialization_alias="from")
    end: datetime = Field(serialization_alias="to")
    model: ModelInfo
    overall: Summary
    locations: list[CityLocation]
