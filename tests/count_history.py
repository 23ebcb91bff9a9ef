"""Random count history written through the real write path (frames.repository.add_counts), for
the tests of the daily rollup and of the index answers read from it."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from service.db.tables import Camera, Location
from service.frames.repository import add_counts

# Amsterdam moves its clocks on 29 March 2026, New York on 8 March, Sydney on 5 April
SPRING = datetime(2026, 3, 26, tzinfo=UTC)


def random_counts(rng: random.Random) -> dict[str, int]:
    faces = rng.randint(0, 6)
    happy = rng.randint(0, faces)
    return {"frames": 1, "faces": faces, "happy": happy, "not_happy": faces - happy, "sad": faces - happy}


def add_place(session, name: str, timezone: str, cameras: int = 2) -> tuple[int, list[int]]:
    """A location and its cameras written straight to the database."""
    location = Location(name=name, timezone=timezone)
    session.add(location)
    session.flush()
    ids = []
    for number in range(cameras):
        camera = Camera(location_id=location.id, name=f"c{number}", key_hash=f"{name}{number}".ljust(64, "0"),
                        key_prefix="p")
        session.add(camera)
        session.flush()
        ids.append(camera.id)
    return location.id, ids


def seed(session_factory, zones=("Europe/Amsterdam", "America/New_York", "Asia/Kolkata"),
         start: datetime = SPRING, days: int = 8, frames: int = 300) -> dict[str, int]:
    """Frames at random 15-minute buckets over `days` from `start`, from two cameras per
    location; returns the location ids by zone."""
    rng, places = random.Random(7), {}
    with session_factory.begin() as session:
        for zone in zones:
            location_id, cameras = add_place(session, zone.replace("/", " "), zone)
            places[zone] = location_id
            for _ in range(frames):
                bucket = start + timedelta(minutes=15 * rng.randrange(days * 96))
                add_counts(session, location_id, rng.choice(cameras), bucket, random_counts(rng))
    return places
