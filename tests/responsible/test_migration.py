"""Revision 0005 on a database of revision 0002: existing locations get the setting `other`,
receipts lose their counts, those older than 48 hours go and the others expire 48 hours after
they were received; and it downgrades again. SQLite and PostgreSQL."""

from datetime import UTC, datetime, timedelta

from alembic import command
from sqlalchemy import JSON, column, insert, select, table

from responsible_helpers import sessions
from service.db.migrate import alembic_config
from service.db.tables import FrameReceipt, Location
from service.db.types import UTCDateTime

AS_OF_0002 = {
    "locations": table("locations", column("id"), column("name"), column("timezone"),
                       column("created_at", UTCDateTime()), column("updated_at", UTCDateTime())),
    "cameras": table("cameras", column("id"), column("location_id"), column("name"), column("key_hash"),
                     column("key_prefix"), column("created_at", UTCDateTime())),
    "frame_receipts": table("frame_receipts", column("camera_id"), column("frame_id"),
                            column("received_at", UTCDateTime()), column("result", JSON())),
}


def test_revision_0005_gives_settings_and_shortens_receipts(database_url):
    config, now = alembic_config(database_url), datetime.now(UTC)
    command.downgrade(config, "0002")
    try:
        with sessions(database_url).begin() as session:
            session.execute(insert(AS_OF_0002["locations"]).values(id=1, name="Old", timezone="UTC",
                                                                   created_at=now, updated_at=now))
            session.execute(insert(AS_OF_0002["cameras"]).values(id=1, location_id=1, name="c", key_hash="h" * 64,
                                                                 key_prefix="p", created_at=now))
            session.execute(insert(AS_OF_0002["frame_receipts"]), [
                {"camera_id": 1, "frame_id": name, "received_at": now - age, "result": {"faces": 3, "happy": 2}}
                for name, age in (("fresh", timedelta(hours=1, microseconds=250_000)), ("old", timedelta(days=30)))])
    finally:
        command.upgrade(config, "head")
    with sessions(database_url)() as session:
        assert session.scalar(select(Location.setting)) == "other"
        kept = session.scalars(select(FrameReceipt)).all()
    assert [r.frame_id for r in kept] == ["fresh"]
    # SQLite's date arithmetic keeps milliseconds
    assert abs(kept[0].expires_at - (kept[0].received_at + timedelta(hours=48))) < timedelta(milliseconds=1)
