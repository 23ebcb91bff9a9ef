"""Pure decisions of the agent: a person's expression from all their frames, and the per-bucket
tallies that become observations.

A person is happy when at least a third of their read frames were decided happy one by one (the
label the pipeline gave the frame's face, by the model's served rule); otherwise their label is
the most probable other class of their mean probabilities. Why a share of frames and not the
mean: someone who smiles in a third of the frames has a mean p(happy) near a third and was never
counted happy; on real model outputs (bench/person_rule.py, BENCHMARKS.md "Per-person
decision") frame votes at a third catch such a person about nine times in ten where the mean
caught one in ten, for about one point more false happy people among those who never smile.

A person (a finished track) is counted in the bucket where their track ENDS, i.e. where they
were last seen: the decision needs all of their frames, so it is known only then, and a person
who stands across a bucket boundary is counted once, in one bucket. Sightings and frames go to
the bucket in which each frame was taken. A bucket is closed only when no live track was last
seen before its end, so every person it will hold has been decided."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction

import numpy as np

from service.core.emotions import EMOTIONS
from service.core.time_buckets import bucket_start_of
from service.vision.classifier import HAPPY

# a person is happy when at least this share of their read frames is decided happy
HAPPY_SHARE = Fraction(1, 3)


@dataclass(frozen=True)
class Person:
    """A finished track, all that is kept of it: when it was last seen and its expression;
    `label` None when no frame showed the face large enough to read (an unread person)."""

    last_seen: datetime
    frames: int
    label: str | None

    @property
    def unread(self) -> bool:
        return self.label is None


def expression(probability_sum: np.ndarray, happy_frames: int, classes: tuple[str, ...], frames: int = 1) -> str:
    """A person's expression from their `frames` read frames, of which `happy_frames` were
    decided happy one by one: happy when that is at least HAPPY_SHARE of them, else the most
    probable class other than happy of the mean probabilities (`probability_sum` / `frames`).
    A count and a sum are all it needs, so a track keeps nothing per frame."""
    if frames > 0 and Fraction(happy_frames, frames) >= HAPPY_SHARE:
        return HAPPY
    others = np.asarray(probability_sum, np.float64) / max(frames, 1)
    if HAPPY in classes:
        others = np.where(np.arange(len(classes)) == classes.index(HAPPY), -1.0, others)
    return classes[int(others.argmax())]


@dataclass
class BucketTally:
    """What the agent saw in one server bucket."""

    start: datetime
    width: timedelta
    frames: int = 0
    sightings: int = 0
    unread: int = 0  # people seen whose face was never readable: not in `people`
    emotions: Counter = field(default_factory=Counter)
    first_frame: datetime | None = None
    last_frame: datetime | None = None

    @property
    def end(self) -> datetime:
        return self.start + self.width

    @property
    def people(self) -> int:
        """The people read (the index's faces)."""
        return sum(self.emotions.values())

    def add_frame(self, moment: datetime, sightings: int) -> None:
        """One analysed frame and the faces found in it, read or not."""
        self.frames += 1
        self.sightings += sightings
        self.first_frame = min(self.first_frame or moment, moment)
        self.last_frame = max(self.last_frame or moment, moment)

    def observation(self, frame_interval: timedelta) -> dict:
        """The API's observation: the span watched (inside the bucket) and the counts."""
        end = min(self.end, self.last_frame + frame_interval)
        return {"start": _iso(self.first_frame), "end": _iso(end), "people": self.people,
                "happy": self.emotions["happy"], "emotions": {e: self.emotions[e] for e in EMOTIONS},
                "unread": self.unread, "sightings": self.sightings, "frames": self.frames}


class BucketBook:
    """The open buckets, by start."""

    def __init__(self, bucket_minutes: int) -> None:
        self.width = timedelta(minutes=bucket_minutes)
        self.minutes = bucket_minutes
        self.open: dict[datetime, BucketTally] = {}

    def _bucket(self, moment: datetime) -> BucketTally:
        start = bucket_start_of(moment, self.minutes)
        return self.open.setdefault(start, BucketTally(start, self.width))

    def add_frame(self, moment: datetime, sightings: int) -> None:
        self._bucket(moment).add_frame(moment, sightings)

    def add_person(self, person: Person) -> None:
        """A read person counts under their expression, an unread one as unread."""
        tally = self._bucket(person.last_seen)
        if person.unread:
            tally.unread += 1
        else:
            tally.emotions[person.label] += 1

    def closed(self, now: datetime, oldest_live: datetime | None) -> list[BucketTally]:
        """Remove and answer the buckets that ended by `now` and in which no live track was
        last seen (`oldest_live`: the earliest last sighting of a live track), in time order."""
        done = [start for start, tally in sorted(self.open.items())
                if tally.end <= now and (oldest_live is None or oldest_live >= tally.end)]
        return [self.open.pop(start) for start in done]

    def all(self) -> list[BucketTally]:
        """Remove and answer every open bucket (the source ended or the agent stops)."""
        return [self.open.pop(start) for start in sorted(self.open)]


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
