from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from service.api.inputs import PlainText


class CameraCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: PlainText(200, examples=["north entrance"])


class CameraOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    location_id: int
    name: str
    key_prefix: str = Field(description="First characters of the key, to tell keys apart.")
    created_at: datetime
    revoked_at: datetime | None
    paused_since: datetime | None = Field(description="Set while an admin has paused the camera.")


class CameraWithKey(CameraOut):
    api_key: str = Field(description="Shown once: only its hash is stored.")
