"""A frame's writes through frames.service.record_frame, on real SQLite and PostgreSQL: the first
frame_id is counted, a repeat counts nothing and answers the first result, frames without an id
count every time, and the day row stays the sum of its bucket rows. On PostgreSQL the whole
write (receipt claim, bucket upsert, day upsert) is one statement, one round trip."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, date, datetime

from sqlalchemy import event, func, select

from count_history import add_place
from service.db import rollup
from service.db.engine import make_engine, make_session_factory
from service.db.tables import COUNT_COLUMNS, BucketCount, DailyCount
from service.frames.service import FrameMeta, record_frame
from service.locations.schemas import LocationUpdate
from service.locations.service import update_location
from support import ScriptedPipeline, make_settings

MORNING = datetime(2026, 6, 1, 9, 5, tzinfo=UTC)
EVENING = datetime(2026, 6, 1, 20, 40, tzinfo=UTC)  # another bucket, the same UTC day
# statements per frame after the location's zone is known: PostgreSQL's one; SQLite's claim, bucket, day
STATEMENTS = {"postgresql": {"with_id": 1, "without_id": 1}, "sqlite": {"with_id": 3, "without_id": 2}}


class Writer:
    """Records scripted frames (one happy and one sad face each) on one database."""

    def __init__(self, database_url: str, tmp_path) -> None:
        self.engine = make_engine(database_url)
        self.sessions = make_session_factory(self.engine)
        self.settings = make_settings(database_url, tmp_path)
        self.analysis = ScriptedPipeline().analyze(None)

    def place(self, timezone: str = "UTC") -> tuple[int, list[int]]:
        with self.sessions.begin() as session:
            return add_place(session, f"place {timezone}", timezone)

    def record(self, location_id: int, camera_id: int, frame_id: str | None, captured_at=MORNING):
        meta = FrameMeta(location_id, camera_id, captured_at, frame_id)
        with self.sessions.begin() as session:
            return record_frame(session, meta, self.analysis, self.settings, datetime.now(UTC))

    def bucket_sums(self, location_id: int) -> dict[str, int]:
        with self.sessions() as session:
            row = session.execute(select(*(func.coalesce(func.sum(BucketCount.__table__.c[c]), 0)
                                           for c in COUNT_COLUMNS))
                                  .where(BucketCount.location_id == location_id)).one()
            return dict(zip(COUNT_COLUMNS, row))

    def days(self, location_id: int) -> dict[date, dict[str, int]]:
        with self.sessions() as session:
            rows = session.execute(select(DailyCount.__table__).where(DailyCount.location_id == location_id))
            return {row.day: {c: row._mapping[c] for c in COUNT_COLUMNS} for row in rows}


@contextmanager
def statements_on(engine):
    """The SQL statements the engine sends meanwhile, transaction control (BEGIN) left out."""
    sent: list[str] = []

    def note(_connection, _cursor, statement, *_):
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT")):
            sent.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", note)


def test_a_counted_frame_is_one_statement_on_postgresql(database_url, tmp_path):
    writer = Writer(database_url, tmp_path)
    location_id, (camera_id, _) = writer.place()
    writer.record(location_id, camera_id, "warm-up")  # a location's first frame here reads its zone
    with statements_on(writer.engine) as with_id:
        writer.record(location_id, camera_id, "f1")
    with statements_on(writer.engine) as without_id:
        writer.record(location_id, camera_id, None)
    expected = STATEMENTS[writer.engine.dialect.name]
    assert len(with_id) == expected["with_id"], with_id
    assert len(without_id) == expected["without_id"], without_id
    assert writer.bucket_sums(location_id)["frames"] == 3


def test_the_first_frame_id_counts_and_a_repeat_counts_nothing(database_url, tmp_path):
    writer = Writer(database_url, tmp_path)
    location_id, (camera_id, other_camera) = writer.place()
    first = writer.record(location_id, camera_id, "f1")
    repeat = writer.record(location_id, camera_id, "f1", captured_at=EVENING)
    assert not first.duplicate and repeat.duplicate
    assert repeat.bucket_start == first.bucket_start and (repeat.faces, repeat.happy) == (2, 1)
    assert writer.bucket_sums(location_id)["frames"] == 1
    assert not writer.record(location_id, other_camera, "f1").duplicate  # ids are per camera
    assert writer.bucket_sums(location_id)["frames"] == 2


def test_frames_without_an_id_count_every_time(database_url, tmp_path):
    writer = Writer(database_url, tmp_path)
    location_id, (camera_id, _) = writer.place()
    results = [writer.record(location_id, camera_id, None) for _ in range(3)]
    assert not any(result.duplicate for result in results)
    sums = writer.bucket_sums(location_id)
    assert (sums["frames"], sums["faces"], sums["happy"], sums["sad"]) == (3, 6, 3, 3)


def test_the_day_row_is_the_sum_of_its_bucket_rows(database_url, tmp_path):
    writer = Writer(database_url, tmp_path)
    location_id, cameras = writer.place()
    for number in range(6):
        frame_id = f"f{number}" if number % 2 else None
        writer.record(location_id, cameras[number % 2], frame_id, MORNING if number < 3 else EVENING)
        writer.record(location_id, cameras[number % 2], frame_id)  # a repeat when it has an id
    assert writer.days(location_id) == {MORNING.date(): writer.bucket_sums(location_id)}
    assert writer.bucket_sums(location_id)["frames"] == 9


def test_a_frame_after_a_zone_change_counts_in_the_new_zones_day(database_url, tmp_path):
    """The day upsert checks the zone this process remembers; after another writer changed it,
    the day is added in the zone read afresh, and the bucket exactly once."""
    writer = Writer(database_url, tmp_path)
    location_id, (camera_id, _) = writer.place()
    writer.record(location_id, camera_id, "f1", EVENING)
    with writer.sessions.begin() as session:
        update_location(session, location_id, LocationUpdate(timezone="Asia/Tokyo"))  # UTC+9
    with writer.sessions() as session:
        rollup.zone_hints(session)[location_id] = "UTC"  # as another app that has not seen the change remembers it
    writer.record(location_id, camera_id, "f2", EVENING)
    writer.record(location_id, camera_id, None, EVENING)
    assert writer.days(location_id) == {date(2026, 6, 2): writer.bucket_sums(location_id)}
    assert writer.bucket_sums(location_id)["frames"] == 3


def test_zone_hints_belong_to_one_session_factory(database_url, tmp_path):
    """Each app (session factory) remembers zones for itself: nothing is left in the process."""
    first, second = Writer(database_url, tmp_path), Writer(database_url, tmp_path)
    location_id, (camera_id, _) = first.place("Asia/Tokyo")
    first.record(location_id, camera_id, "f1")
    with first.sessions() as session, second.sessions() as other:
        assert rollup.zone_hints(session) == {location_id: "Asia/Tokyo"}
        assert rollup.zone_hints(other) == {}


def test_concurrent_repeats_of_a_frame_id_count_it_once(database_url, tmp_path):
    writer = Writer(database_url, tmp_path)
    location_id, (camera_id, _) = writer.place()
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: writer.record(location_id, camera_id, "same"), range(40)))
    assert sum(not result.duplicate for result in results) == 1
    assert writer.bucket_sums(location_id)["frames"] == 1
    assert writer.days(location_id) == {MORNING.date(): writer.bucket_sums(location_id)}
