"""Frame receipts: they hold no counts, live for the dedup window only (48 hours by default), a
repeat is answered before its image is analysed, an expired receipt is never used, a frame with a
frame_id captured before the window is refused, and the prune removes expired receipts only.
SQLite and PostgreSQL."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import inspect, select

from responsible_helpers import overall, post_frame, sessions
from service.db.engine import make_engine
from service.retention.pruning import prune, retention_cutoff
from service.db.tables import FrameReceipt
from support import add_camera, add_location


def camera_at(client) -> dict:
    location = add_location(client)
    return {"location_id": location["id"], **add_camera(client, location["id"])}


def receipts(database_url: str) -> list[FrameReceipt]:
    with sessions(database_url)() as session:
        return list(session.scalars(select(FrameReceipt).order_by(FrameReceipt.frame_id)))


def test_a_receipt_holds_no_counts_and_lives_for_the_window(client, settings):
    columns = {c["name"] for c in inspect(make_engine(settings.database_url)).get_columns("frame_receipts")}
    assert columns == {"camera_id", "frame_id", "received_at", "expires_at"}
    camera = camera_at(client)
    before = datetime.now(UTC)
    assert post_frame(client, camera, frame_id="f-1").status_code == 201
    captured = datetime.now(UTC) + timedelta(minutes=2)  # a camera clock a little ahead
    assert post_frame(client, camera, frame_id="f-2", captured_at=captured).status_code == 201
    first, second = receipts(settings.database_url)
    assert before <= first.received_at <= datetime.now(UTC)
    assert first.expires_at - first.received_at == timedelta(hours=48)
    assert second.expires_at == captured + timedelta(hours=48)  # the later of capture and receipt


def test_an_expired_receipt_is_never_used(client, settings, pipeline):
    camera = camera_at(client)
    assert post_frame(client, camera, frame_id="reused").status_code == 201
    with sessions(settings.database_url).begin() as session:  # its window has passed, not yet pruned
        receipt = session.scalars(select(FrameReceipt)).one()
        receipt.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    calls = pipeline.calls
    again = post_frame(client, camera, frame_id="reused")
    assert again.status_code == 201 and pipeline.calls == calls + 1  # analysed and counted as a new frame
    assert overall(client, camera["location_id"])["frames"] == 2
    assert receipts(settings.database_url)[0].expires_at > datetime.now(UTC) + timedelta(hours=47)
    assert post_frame(client, camera, frame_id="reused").status_code == 200  # the new receipt holds


def test_a_frame_id_captured_before_the_window_is_refused(client, settings, pipeline):
    camera = camera_at(client)
    old = datetime.now(UTC) - timedelta(hours=49)
    refused = post_frame(client, camera, frame_id="late", captured_at=old)
    assert refused.status_code == 422 and "deduplication window" in refused.json()["detail"]
    assert pipeline.calls == 0 and receipts(settings.database_url) == []
    assert post_frame(client, camera, captured_at=old).status_code == 201  # without a frame_id: counted
    assert post_frame(client, camera, frame_id="recent",
                      captured_at=datetime.now(UTC) - timedelta(hours=47)).status_code == 201
    assert overall(client, camera["location_id"], **{"from": (old - timedelta(days=1)).isoformat()})["frames"] == 2


def test_the_window_is_a_setting(database_url, tmp_path, pipeline):
    from fastapi.testclient import TestClient

    from service.main import create_app
    from support import make_settings

    with TestClient(create_app(make_settings(database_url, tmp_path, dedup_window_hours=2), pipeline=pipeline)) as client:
        camera = camera_at(client)
        three_hours_ago = datetime.now(UTC) - timedelta(hours=3)
        assert post_frame(client, camera, frame_id="x", captured_at=three_hours_ago).status_code == 422
        assert post_frame(client, camera, frame_id="y").status_code == 201
    assert receipts(database_url)[0].expires_at - receipts(database_url)[0].received_at == timedelta(hours=2)


def test_the_prune_removes_expired_receipts_only(client, settings):
    camera = camera_at(client)
    for frame_id in ("a", "b", "c"):
        assert post_frame(client, camera, frame_id=frame_id).status_code == 201
    with sessions(settings.database_url).begin() as session:
        session.scalars(select(FrameReceipt).where(FrameReceipt.frame_id == "a")).one().expires_at = \
            datetime.now(UTC) - timedelta(minutes=1)
    with sessions(settings.database_url).begin() as session:
        pruned = prune(session, retention_cutoff(365), datetime.now(UTC))
    assert pruned.receipts == 1 and [r.frame_id for r in receipts(settings.database_url)] == ["b", "c"]
    later = datetime.now(UTC) + timedelta(hours=48, minutes=1)  # everything has expired by then
    with sessions(settings.database_url).begin() as session:
        assert prune(session, retention_cutoff(365, later), later).receipts == 2
    assert receipts(settings.database_url) == []


def test_the_check_before_analysis_is_one_read(client, settings):
    """Key, live receipt, setting and pauses in one statement: it runs for every frame."""
    from sqlalchemy import event

    from service.db.engine import make_read_session_factory
    from service.frames.service import FrameMeta, admit

    camera = camera_at(client)
    assert post_frame(client, camera, frame_id="seen").status_code == 201
    engine = make_engine(settings.database_url)
    sent = []
    event.listen(engine, "before_cursor_execute", lambda _c, _k, statement, *_: sent.append(statement))
    now = datetime.now(UTC)
    with make_read_session_factory(engine)() as session:
        for frame_id, expected in (("seen", True), ("new", False), (None, False)):
            sent.clear()
            meta = FrameMeta(camera["location_id"], camera["id"], now, frame_id)
            assert (admit(session, meta, now) is not None) is expected
            assert len([s for s in sent if not s.startswith("BEGIN")]) == 1
    engine.dispose()
