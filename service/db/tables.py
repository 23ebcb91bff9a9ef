"""The whole schema: locations, their cameras, the count buckets, their daily rollup, the
frame and observation-batch receipts used to deduplicate, pause intervals, the audit log and the
maintenance lease. Nothing here can hold an image, a crop, an embedding or a face box."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import JSON, CheckConstraint, Date, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from service.core.emotions import EMOTIONS
from service.db.base import Base
from service.db.types import UTCDateTime


def utc_now() -> datetime:
    return datetime.now(UTC)


# the count columns of bucket_counts and daily_counts (`happy` is also the happy emotion's count);
# `faces` are the faces counted (a posted frame's faces, an agent's people), `sightings` every face
# detected in every analysed frame (faces + unread for posted frames), `unread` the faces (an agent's
# people) seen but too small to read: never in faces, the index's denominator
COUNT_COLUMNS = ("frames", "faces", "happy", "not_happy", *(e for e in EMOTIONS if e != "happy"), "sightings",
                 "unread")


class Location(Base):
    __tablename__ = "locations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # what kind of place it is (locations.schemas.Setting); some are refused by law
    setting: Mapped[str] = mapped_column(String(32), default="other", server_default="other")
    # set while an admin has paused it; the frame's own write locks and checks this row
    paused_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utc_now, onupdate=utc_now
    )


class Camera(Base):
    __tablename__ = "cameras"

    id: Mapped[int] = mapped_column(primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    # SHA-256 of the key: keys are 32 random bytes, so a fast hash is safe and lookups stay O(1)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paused_since: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CountColumns:
    """The count columns (COUNT_COLUMNS) of bucket_counts and daily_counts."""

    frames: Mapped[int] = mapped_column(Integer, default=0)
    faces: Mapped[int] = mapped_column(Integer, default=0)
    happy: Mapped[int] = mapped_column(Integer, default=0)
    not_happy: Mapped[int] = mapped_column(Integer, default=0)
    angry: Mapped[int] = mapped_column(Integer, default=0)
    disgust: Mapped[int] = mapped_column(Integer, default=0)
    fear: Mapped[int] = mapped_column(Integer, default=0)
    neutral: Mapped[int] = mapped_column(Integer, default=0)
    sad: Mapped[int] = mapped_column(Integer, default=0)
    surprise: Mapped[int] = mapped_column(Integer, default=0)
    sightings: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    unread: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class BucketCount(CountColumns, Base):
    """Counts of one camera in one time bucket; rows only ever grow by atomic upserts.
    Per-emotion counts are the columns named after the emotions; `happy` doubles as the
    happy emotion's count because a face is happy exactly when its emotion is happy."""

    __tablename__ = "bucket_counts"

    location_id: Mapped[int] = mapped_column(
        ForeignKey("locations.id", ondelete="CASCADE"), primary_key=True
    )
    bucket_start: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"), primary_key=True)

    __table_args__ = (Index("ix_bucket_counts_bucket_start", "bucket_start"),)


class DailyCount(CountColumns, Base):
    """bucket_counts summed over a location's cameras by the location's local calendar day (the
    day its time zone gives each bucket's start), so day, week and month queries read 365 rows
    a year instead of 35,040. Written in the same transaction as every bucket change (see
    service/db/rollup.py); rebuilt when the location's time zone changes."""

    __tablename__ = "daily_counts"

    location_id: Mapped[int] = mapped_column(
        ForeignKey("locations.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)


class FrameReceipt(Base):
    """One row per (camera, frame_id) so that a retried upload is answered, not counted again,
    kept only until `expires_at` (the dedup window after the frame's capture or receipt,
    whichever is later). It holds no counts: a per-frame record would be far finer than the
    15-minute counts the service publishes."""

    __tablename__ = "frame_receipts"

    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"), primary_key=True)
    frame_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class ObservationReceipt(Base):
    """One row per (camera, batch_id) of POST /locations/{id}/observations, so that a batch an
    edge agent sends again (its confirmation was lost) is answered, not counted again, until
    `expires_at` (the dedup window after the batch's receipt or its latest observation,
    whichever is later). `result` is the first answer: totals and per-bucket counts."""

    __tablename__ = "observation_receipts"

    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"), primary_key=True)
    batch_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    result: Mapped[dict] = mapped_column(JSON)


class Pause(Base):
    """An interval in which an admin paused a location (camera_id null) or one camera: frames
    and observations were refused, so the series shows a gap there, not zeros. `ended_at` is
    null while the pause lasts."""

    __tablename__ = "pauses"

    id: Mapped[int] = mapped_column(primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"))
    camera_id: Mapped[int | None] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (Index("ix_pauses_location_id_started_at", "location_id", "started_at"),)


class AuditEntry(Base):
    """One admin action, appended and never changed: who (a token's fingerprint, `cli` or
    `system`, never a secret), what (action, target, a small JSON detail), when, and the
    request id that ties it to the server's logs."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str | None] = mapped_column(String(128))
    detail: Mapped[dict] = mapped_column(JSON)
    request_id: Mapped[str | None] = mapped_column(String(128))


class MaintenanceLease(Base):
    """A named job that workers and replicas take turns to run: the one whose update finds
    `started_at` older than the interval runs it, in the same transaction, so it runs once per
    interval however many processes share the database."""

    __tablename__ = "maintenance_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    holder: Mapped[str | None] = mapped_column(String(128))
    runs: Mapped[int] = mapped_column(Integer, default=0)


class LocationCalibration(Base):
    """A location's own happy-vs-rest rates: its labelled faces run through the model, as counts
    (rates are these ratios), for one model version. The adjusted index of the location uses
    them while that model is served, and the model's validation rates otherwise."""

    __tablename__ = "location_calibrations"

    location_id: Mapped[int] = mapped_column(
        ForeignKey("locations.id", ondelete="CASCADE"), primary_key=True
    )
    model_name: Mapped[str] = mapped_column(String(200))
    model_version: Mapped[str] = mapped_column(String(100))
    n_happy: Mapped[int] = mapped_column(Integer)         # faces labelled happy
    happy_as_happy: Mapped[int] = mapped_column(Integer)  # of them, called happy (tpr = this / n_happy)
    n_other: Mapped[int] = mapped_column(Integer)         # faces labelled otherwise
    other_as_happy: Mapped[int] = mapped_column(Integer)  # of them, called happy (fpr = this / n_other)
    calibrated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)

    __table_args__ = (
        CheckConstraint("n_happy > 0 AND n_other > 0", name="faces"),
        CheckConstraint("happy_as_happy >= 0 AND happy_as_happy <= n_happy", name="happy_as_happy"),
        CheckConstraint("other_as_happy >= 0 AND other_as_happy <= n_other", name="other_as_happy"),
    )
