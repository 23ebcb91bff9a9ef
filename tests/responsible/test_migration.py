"""Revision 0005 on a database of the revision before it: existing locations get the setting
`other`, frame receipts lose their counts, frame and observation-batch receipts older than 48
hours go and the others expire 48 hours after they were received; and it downgrades again.
SQLite and PostgreSQL."""

from datetime import UTC, datetime, timedelta

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import JSON, column, insert, select, table

from responsible_helpers import sessions
from service.db.migrate import alembic_config
from service.db.tables import FrameReceipt, Location, ObservationReceipt
from service.db.types import UTCDateTime

BEFORE_0005 = {
    "locations": table("locations", column("id"), column("name"), column("timezone"),
                       column("created_at", UTCDateTime()), column("updated_at", UTCDateTime())),
    "cameras": table("cameras", column("id"), column("location_id"), column("name"), column("key_hash"),
                     column("key_prefix"), column("created_at", UTCDateTime())),
    "frame_receipts": table("frame_receipts", column("camera_id"), column("frame_id"),
                            column("received_at", UTCDateTime()), column("result", JSON())),
    "observation_receipts": table("observation_receipts", column("camera_id"), column("batch_id"),
                                  column("received_at", UTCDateTime()), column("result", JSON())),
}
AGES = (("fresh", timedelta(hours=1, microseconds=250_000)), ("old", timedelta(days=30)))


def test_revision_0005_gives_settings_and_shortens_receipts(database_url):
    config, now = alembic_config(database_url), datetime.now(UTC)
    command.downgrade(config, ScriptDirectory.from_config(config).get_revision("0005").down_revision)
    try:
        with sessions(database_url).begin() as session:
            session.execute(insert(BEFORE_0005["locations"]).values(id=1, name="Old", timezone="UTC",
                                                                    created_at=now, updated_at=now))
            session.execute(insert(BEFORE_0005["cameras"]).values(id=1, location_id=1, name="c", key_hash="h" * 64,
                                                                  key_prefix="p", created_at=now))
            for table_name, key in (("frame_receipts", "frame_id"), ("observation_receipts", "batch_id")):
                session.execute(insert(BEFORE_0005[table_name]), [
                    {"camera_id": 1, key: name, "received_at": now - age, "result": {"faces": 3, "happy": 2}}
                    for name, age in AGES])
    finally:
        command.upgrade(config, "head")
    with sessions(database_url)() as session:
        assert session.scalar(select(Location.setting)) == "other"
        frames, batches = (session.scalars(select(model)).all() for model in (FrameReceipt, ObservationReceipt))
    assert [r.frame_id for r in frames] == ["fresh"] and [r.batch_id for r in batches] == ["fresh"]
    assert batches[0].result == {"faces": 3, "happy": 2}  # a batch's first answer stays
    for receipt in (frames[0], batches[0]):  # SQLite's date arithmetic keeps milliseconds
        assert abs(receipt.expires_at - (receipt.received_at + timedelta(hours=48))) < timedelta(milliseconds=1)
