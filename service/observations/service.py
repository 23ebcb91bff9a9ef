"""Counting a batch of observations: every observation is checked first (a batch is stored whole
or not at all), then the camera's admission (setting, pauses: the rows locked as for frames),
then the batch id is claimed and each server bucket gets its counts, all in the caller's
transaction, with the same atomic upserts (and daily rollup) as posted frames.

Deduplication for the whole retention: a batch_id is remembered for HAPPINESS_RETENTION_DAYS
after the batch's receipt or its latest observation, whichever is later, and a batch with an
observation that starts before the retention is refused (422). A repeat can therefore never
outlive its receipt and be counted twice, and an edge agent may send a backlog of weeks: its
counts are kept as long as any count is. (Frames keep the short HAPPINESS_DEDUP_WINDOW_HOURS:
their receipts are a log of single frames' times; a batch receipt holds its counts only.)"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from service.config import Settings
from service.core.emotions import EMOTIONS
from service.security.keys import UNKNOWN_KEY
from service.api.errors import InvalidInput, Unauthorized
from service.frames.repository import add_counts, hold_camera_key
from service.core.time_buckets import bucket_start_of
from service.observations import repository
from service.observations.schemas import BatchResult, BucketAccepted, Observation, ObservationBatch
from service.pauses.service import ensure_counting_allowed, lock_for_counting

MAX_REPORTED_PROBLEMS = 20  # a batch of 1,000 bad observations needs no 1,000-line answer
BUCKET_FIELDS = ("people", "happy", "not_happy", "unread", "sightings", "frames")


@dataclass(frozen=True)
class Target:
    location_id: int
    camera_id: int
    key_hash: str | None = None  # the camera key the batch came with: counted only while still valid


def as_utc(moment: datetime) -> datetime:
    """An aware instant in UTC; a time without a zone is read as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def count_problems(observation: Observation) -> Iterator[str]:
    """The counts' inconsistencies, each as 'field: what is wrong'."""
    emotions = observation.emotions.model_dump()
    if observation.happy > observation.people:
        yield f"happy: {observation.happy} happy of {observation.people} people"
    if emotions["happy"] != observation.happy:
        yield f"emotions.happy: {emotions['happy']}, but happy is {observation.happy}"
    if sum(emotions.values()) != observation.people:
        yield f"emotions: they add up to {sum(emotions.values())}, not to people ({observation.people})"
    seen = observation.people + observation.unread
    if observation.sightings < seen:
        yield (f"sightings: {observation.sightings} is fewer than the people seen ({observation.people} people "
               f"+ {observation.unread} unread)")
    if observation.sightings > 0 and observation.frames == 0:
        yield f"frames: 0 frames cannot hold {observation.sightings} sightings"


def time_problems(observation: Observation, now: datetime, settings: Settings) -> Iterator[str]:
    """The span must be forward, inside one server bucket, not in the future (beyond the
    tolerance) and not older than the retention (counts older than it are deleted, and the
    batch's receipt could not outlive them)."""
    start, end = as_utc(observation.start), as_utc(observation.end)
    bucket_end = bucket_start_of(start, settings.bucket_minutes) + timedelta(minutes=settings.bucket_minutes)
    if end <= start:
        yield f"end: {_iso(end)} is not after start {_iso(start)}"
    elif end > bucket_end:
        yield (f"end: the span crosses the end of its {settings.bucket_minutes}-minute bucket at "
               f"{_iso(bucket_end)}; split it there")
    if end > now + timedelta(seconds=settings.future_tolerance_seconds):
        yield f"end: {_iso(end)} is in the future (the server's time is {_iso(now)})"
    if start < now - timedelta(days=settings.retention_days):
        yield (f"start: {_iso(start)} is older than the {settings.retention_days}-day retention: counts that "
               "old are deleted, so they are not taken (HAPPINESS_RETENTION_DAYS sets it)")


def batch_problems(batch: ObservationBatch, now: datetime, settings: Settings) -> list[str]:
    """Every problem of every observation, as 'observations.INDEX.FIELD: what is wrong'."""
    return [f"observations.{index}.{problem}"
            for index, observation in enumerate(batch.observations)
            for problem in (*count_problems(observation), *time_problems(observation, now, settings))]


def refuse(problems: list[str]) -> InvalidInput:
    shown = problems[:MAX_REPORTED_PROBLEMS]
    more = f" (and {len(problems) - len(shown)} more)" if len(problems) > len(shown) else ""
    return InvalidInput(f"nothing of the batch was stored: {'; '.join(shown)}{more}", errors=shown)


def bucket_counts(observation: Observation) -> dict[str, int]:
    """The count columns an observation adds: its people are the bucket's faces; its unread
    people stay outside them."""
    emotions = observation.emotions.model_dump()
    return {"frames": observation.frames, "faces": observation.people, "unread": observation.unread,
            "sightings": observation.sightings,
            "happy": observation.happy, "not_happy": observation.people - observation.happy,
            **{emotion: emotions[emotion] for emotion in EMOTIONS if emotion != "happy"}}


@dataclass
class BucketSum:
    """The observations of a batch that fall in one server bucket, summed."""

    observations: int
    counts: dict[str, int]

    def add(self, observation: Observation) -> None:
        self.observations += 1
        for column, value in bucket_counts(observation).items():
            self.counts[column] = self.counts.get(column, 0) + value

    def accepted(self, start: datetime) -> BucketAccepted:
        counts = self.counts
        return BucketAccepted(bucket_start=start, observations=self.observations, people=counts["faces"],
                              happy=counts["happy"], not_happy=counts["not_happy"], unread=counts["unread"],
                              sightings=counts["sightings"], frames=counts["frames"])


def sums_by_bucket(batch: ObservationBatch, bucket_minutes: int) -> dict[datetime, BucketSum]:
    """The batch summed per server bucket, in time order: one upsert per bucket, however many
    observations share it."""
    sums: dict[datetime, BucketSum] = {}
    for observation in sorted(batch.observations, key=lambda o: as_utc(o.start)):
        start = bucket_start_of(as_utc(observation.start), bucket_minutes)
        sums.setdefault(start, BucketSum(0, {})).add(observation)
    return sums


def to_result(batch: ObservationBatch, target: Target, sums: dict[datetime, BucketSum]) -> BatchResult:
    buckets = [bucket_sum.accepted(start) for start, bucket_sum in sums.items()]
    totals = {field: sum(getattr(bucket, field) for bucket in buckets) for field in BUCKET_FIELDS}
    return BatchResult(batch_id=batch.batch_id, location_id=target.location_id, camera_id=target.camera_id,
                       observations=len(batch.observations), buckets=buckets, **totals)


def record_batch(session: Session, target: Target, batch: ObservationBatch, settings: Settings,
                 now: datetime) -> BatchResult:
    """Count the batch once: refused whole when any observation is wrong or the camera may not
    count it; a batch_id this camera sent within the retention answers with the first result
    (duplicate=True) and adds nothing, paused or not."""
    problems = batch_problems(batch, now, settings)
    if problems:
        raise refuse(problems)
    if target.key_hash is not None and not hold_camera_key(session, target.camera_id, target.key_hash):
        raise Unauthorized(UNKNOWN_KEY)
    first = repository.live_receipt(session, target.camera_id, batch.batch_id, now)
    if first is None:
        admit(session, target, batch)
    sums = sums_by_bucket(batch, settings.bucket_minutes)
    result = to_result(batch, target, sums)
    stored = result.model_dump(mode="json", exclude={"duplicate"})
    latest = max((as_utc(observation.end) for observation in batch.observations), default=now)
    expires_at = max(now, latest) + timedelta(days=settings.retention_days)
    if first is not None or not repository.claim_batch(session, target.camera_id, batch.batch_id, now,
                                                       expires_at, stored):
        first = repository.live_receipt(session, target.camera_id, batch.batch_id, now)
        return BatchResult(**first.result, duplicate=True)
    for start, bucket_sum in sums.items():
        add_counts(session, target.location_id, target.camera_id, start, bucket_sum.counts)
    return result


def admit(session: Session, target: Target, batch: ObservationBatch) -> None:
    """Refuse the batch (raised) when the camera may not count what it covers: a prohibited
    setting, a pause now, or an observation that overlaps an earlier pause."""
    lock_for_counting(session, target.camera_id)
    for observation in batch.observations:
        ensure_counting_allowed(session, target.location_id, target.camera_id, as_utc(observation.start),
                                as_utc(observation.end))


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
