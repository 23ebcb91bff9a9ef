from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class PauseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(None, max_length=500, examples=["demonstration on the square"],
                               description="Why, for the audit log and the pause history.")


class PauseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    location_id: int
    camera_id: int | None = Field(description="null when the whole location is paused.")
    started_at: datetime
    ended_at: datetime | None = Field(description="null while the pause lasts.")
    reason: str | None
