from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from service.api.inputs import MultilineText, PlainText

ZONE_NAMES = sorted(available_timezones())
Name = PlainText(200, examples=["Central Station, main hall"])
Description = MultilineText(2000)

Setting = Literal["public_square", "park", "street", "station", "transit", "shopping", "event", "other",
                  "workplace", "education"]
SETTINGS = get_args(Setting)
# EU AI Act Art. 5(1)(f): inferring emotions in workplaces and education institutions is prohibited
PROHIBITED_SETTINGS = ("workplace", "education")
PROHIBITION_RULE = "EU AI Act Art. 5(1)(f)"
SETTING_DESCRIPTION = ("What kind of place this is. `workplace` and `education` are refused: the EU AI Act "
                       "(Art. 5(1)(f)) prohibits emotion recognition there. `other` asks for review "
                       "(`happiness locations check`).")


def validate_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA time zone {name!r} (e.g. Europe/Amsterdam, Asia/Jakarta)")
    return name


class LocationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    description: Description | None = None
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)
    timezone: str = Field("UTC", description="IANA time zone; day, week and month buckets follow it.",
                          examples=["Europe/Amsterdam"], json_schema_extra={"enum": ZONE_NAMES})
    setting: Setting = Field("other", description=SETTING_DESCRIPTION, examples=["station"])

    _check_timezone = field_validator("timezone")(validate_timezone)


class LocationUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    description: Description | None = None
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)
    timezone: str | None = Field(None, json_schema_extra={"enum": ZONE_NAMES})
    setting: Setting | None = Field(None, description=SETTING_DESCRIPTION)

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str | None) -> str | None:
        return None if value is None else validate_timezone(value)

    @model_validator(mode="after")
    def _required_fields_stay_set(self) -> LocationUpdate:
        for name in ("name", "timezone", "setting"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null; leave it out to keep the current value")
        return self


class LocationOut(BaseModel):
    """What is stored, as stored: rows written before a rule was added still read back."""
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: str | None
    latitude: float | None
    longitude: float | None
    timezone: str
    setting: str = Field(description=SETTING_DESCRIPTION)
    paused_since: datetime | None = Field(description="Set while an admin has paused the location.")
    created_at: datetime
    updated_at: datetime
