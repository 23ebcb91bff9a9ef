"""Pause and resume of a location or a camera: posts meanwhile get 423 and nothing is counted
(nor analysed), a frame captured inside an earlier pause is refused too, and the paused periods
are gaps in the index series (paused: true, null index) in JSON and CSV. SQLite and PostgreSQL."""

import csv
import io
import threading
from datetime import UTC, datetime, timedelta

import pytest

from responsible_helpers import overall, post_frame, sessions
from service.db.tables import Pause
from service.api.errors import Locked
from service.frames.service import FrameMeta, record_frame
from service.pauses import service as pauses
from support import ADMIN, VIEWER, ScriptedPipeline, add_camera, add_location, make_settings


@pytest.fixture
def place(client):
    location = add_location(client)
    cameras = [{"location_id": location["id"], **add_camera(client, location["id"], name)} for name in ("a", "b")]
    return location["id"], cameras


def assert_locked(response, fragment: str) -> None:
    assert response.status_code == 423, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["title"] == "Paused" and fragment in response.json()["detail"]


def test_a_paused_location_refuses_frames_until_resumed(client, place, pipeline):
    location_id, (camera, other) = place
    assert post_frame(client, camera).status_code == 201
    paused = client.post(f"/locations/{location_id}/pause", json={"reason": "demonstration"}, headers=ADMIN)
    assert paused.status_code == 201 and paused.json()["reason"] == "demonstration"
    assert paused.json()["camera_id"] is None and paused.json()["ended_at"] is None
    calls = pipeline.calls
    for poster in (camera, other):
        assert_locked(post_frame(client, poster), f"location {location_id} is paused")
    assert_locked(post_frame(client, camera, frame_id="f-9"), "is paused")
    assert pipeline.calls == calls  # refused before any analysis
    assert overall(client, location_id)["frames"] == 1
    assert client.get(f"/locations/{location_id}", headers=ADMIN).json()["paused_since"] == paused.json()["started_at"]
    resumed = client.post(f"/locations/{location_id}/resume", headers=ADMIN)
    assert resumed.status_code == 200 and resumed.json()["ended_at"] is not None
    assert post_frame(client, camera).status_code == 201
    assert overall(client, location_id)["frames"] == 2


def test_pausing_twice_or_resuming_what_runs_is_a_conflict(client, place):
    location_id, (camera, _) = place
    assert client.post(f"/locations/{location_id}/resume", headers=ADMIN).status_code == 409
    assert client.post(f"/locations/{location_id}/pause", headers=ADMIN).status_code == 201
    second = client.post(f"/locations/{location_id}/pause", headers=ADMIN)
    assert second.status_code == 409 and "already paused" in second.json()["detail"]
    camera_url = f"/locations/{location_id}/cameras/{camera['id']}"
    assert client.post(f"{camera_url}/resume", headers=ADMIN).status_code == 409
    assert client.post(f"/locations/{location_id}/pause", headers=VIEWER).status_code == 403
    assert client.post("/locations/999/pause", headers=ADMIN).status_code == 404
    assert client.post(f"/locations/{location_id}/cameras/999/pause", headers=ADMIN).status_code == 404


def test_a_paused_camera_stops_only_itself(client, place):
    location_id, (camera, other) = place
    url = f"/locations/{location_id}/cameras/{camera['id']}"
    assert client.post(f"{url}/pause", headers=ADMIN).status_code == 201
    assert_locked(post_frame(client, camera), f"camera {camera['id']} is paused")
    assert post_frame(client, other).status_code == 201
    listed = client.get(f"/locations/{location_id}/cameras", headers=ADMIN).json()
    assert [c["paused_since"] is not None for c in listed] == [True, False]
    assert client.post(f"{url}/resume", headers=ADMIN).status_code == 200
    assert post_frame(client, camera).status_code == 201
    assert overall(client, location_id)["frames"] == 2


def test_a_frame_captured_during_an_earlier_pause_is_refused(client, place, settings):
    location_id, (camera, _) = place
    start = datetime.now(UTC) - timedelta(hours=3)
    with sessions(settings.database_url).begin() as session:
        session.add(Pause(location_id=location_id, started_at=start, ended_at=start + timedelta(hours=1)))
    assert_locked(post_frame(client, camera, captured_at=start + timedelta(minutes=30)), "falls in a pause")
    assert post_frame(client, camera, captured_at=start + timedelta(hours=1, minutes=1)).status_code == 201
    assert post_frame(client, camera, captured_at=start - timedelta(minutes=1)).status_code == 201
    assert overall(client, location_id)["frames"] == 2


def test_paused_periods_are_gaps_in_the_series_json_and_csv(client, place, settings):
    location_id, (camera, _) = place
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=3)
    with sessions(settings.database_url).begin() as session:  # paused 10:00-12:00 two days ago
        session.add(Pause(location_id=location_id, started_at=day + timedelta(hours=10),
                          ended_at=day + timedelta(hours=12)))
    for hour in (9, 12):
        assert post_frame(client, camera, captured_at=day + timedelta(hours=hour, minutes=5)).status_code == 201
    params = {"from": (day + timedelta(hours=8)).isoformat(), "to": (day + timedelta(hours=14)).isoformat(),
              "bucket": "hour"}
    series = client.get(f"/locations/{location_id}/happiness-index", params=params, headers=ADMIN).json()["series"]
    assert [p["paused"] for p in series] == [False, False, True, True, False, False]
    gap = series[2:4]
    assert all(p["index"] is None and p["ci95"] is None and p["faces"] == 0 for p in gap)
    assert [p["index"] for p in series if p["faces"]] == [0.5, 0.5]  # hours 9 and 12 counted
    rows = list(csv.DictReader(io.StringIO(client.get(f"/locations/{location_id}/happiness-index",
                                                      params={**params, "format": "csv"}, headers=ADMIN).text)))
    assert [row["paused"] for row in rows] == ["false", "false", "true", "true", "false", "false"]
    assert rows[2]["index"] == "" and rows[2]["faces"] == "0"
    days = client.get(f"/locations/{location_id}/happiness-index", headers=ADMIN,
                      params={"from": day.isoformat(), "to": (day + timedelta(days=2)).isoformat()}).json()["series"]
    assert [p["paused"] for p in days] == [True, False]  # a day paused for part of it is flagged


def test_an_open_pause_marks_every_period_up_to_now(client, place):
    location_id, _ = place
    assert client.post(f"/locations/{location_id}/pause", headers=ADMIN).status_code == 201
    series = client.get(f"/locations/{location_id}/happiness-index", headers=ADMIN,
                        params={"bucket": "day"}).json()["series"]
    assert [p["paused"] for p in series][-1] is True and not any(p["paused"] for p in series[:-2])
    listed = client.get(f"/locations/{location_id}/pauses", headers=VIEWER).json()
    assert len(listed) == 1 and listed[0]["ended_at"] is None


def test_cli_pauses_and_resumes(database_url, client, place, monkeypatch, capsys):
    from service.cli import main

    location_id, (camera, _) = place
    monkeypatch.setenv("HAPPINESS_DATABASE_URL", database_url)
    assert main(["cameras", "pause", str(location_id), str(camera["id"]), "--reason", "lens cleaning"]) == 0
    assert '"reason": "lens cleaning"' in capsys.readouterr().out
    assert_locked(post_frame(client, camera), "is paused")
    assert main(["cameras", "pause", str(location_id), str(camera["id"])]) == 1
    assert "already paused" in capsys.readouterr().err
    assert main(["cameras", "resume", str(location_id), str(camera["id"])]) == 0
    assert main(["locations", "pause", str(location_id)]) == 0
    assert_locked(post_frame(client, camera), f"location {location_id} is paused")
    assert main(["locations", "resume", str(location_id)]) == 0
    assert post_frame(client, camera).status_code == 201


def test_a_pause_waits_for_a_frame_being_written_and_refuses_the_next(database_url, tmp_path):
    """The race the row lock closes: a frame whose write is open when the pause is asked for
    is counted before the pause starts, and a frame written while the pause's transaction is
    open waits for it and is then refused (PostgreSQL: the frame's FOR SHARE against the pause's
    update, and the changed row read again; SQLite: one writer at a time)."""
    from count_history import add_place

    factory = sessions(database_url)
    with factory.begin() as session:
        location_id, (camera_id, _) = add_place(session, "Race", "UTC")
    settings, analysis = make_settings(database_url, tmp_path), ScriptedPipeline().analyze(None)
    meta = FrameMeta(location_id, camera_id, datetime.now(UTC), None)

    with factory() as frame_session:
        record_frame(frame_session, meta, analysis, settings, datetime.now(UTC))  # written, not committed
        pausing = _in_thread(lambda: _pause(factory, location_id))
        assert pausing.is_alive()  # the pause waits for the frame's transaction
        frame_committed = datetime.now(UTC)
        frame_session.commit()
    pausing.join(timeout=30)
    with factory.begin() as session:
        assert session.query(Pause).one().started_at >= frame_committed
        pauses.resume_location(session, location_id)

    outcome = {}
    with factory() as pause_session:
        pauses.pause_location(pause_session, location_id, "second")  # open: not committed yet
        writer = _in_thread(lambda: outcome.update(result=_try_record(factory, meta, analysis, settings)))
        assert writer.is_alive()  # the frame's write waits for the pause
        pause_session.commit()
    writer.join(timeout=30)
    assert isinstance(outcome["result"], Locked)
    with factory() as session:
        assert overall_frames(session, location_id) == 1


def _in_thread(work) -> threading.Thread:
    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(timeout=1.5)  # long enough to finish unless it waits for a lock
    return thread


def _pause(factory, location_id: int) -> None:
    with factory.begin() as session:
        pauses.pause_location(session, location_id, "race")


def _try_record(factory, meta, analysis, settings):
    try:
        with factory.begin() as session:
            return record_frame(session, meta, analysis, settings, datetime.now(UTC))
    except Locked as refusal:
        return refusal


def overall_frames(session, location_id: int) -> int:
    from sqlalchemy import func, select

    from service.db.tables import BucketCount

    return session.scalar(select(func.sum(BucketCount.frames)).where(BucketCount.location_id == location_id))
