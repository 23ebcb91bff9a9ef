"""The responsible-deployment rules for edge agents' observations: a prohibited setting is
refused (403), a paused location or camera and an observation overlapping an earlier pause are
refused (423) with nothing stored, a batch repeated while paused is still answered as a
duplicate, batch receipts live for the retention (a backlog of days is counted once) and a
batch older than the retention is refused.
SQLite and PostgreSQL."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from responsible_helpers import overall, sessions, set_setting_in_database
from service.db.tables import ObservationReceipt, Pause
from service.api.errors import Locked
from service.observations.schemas import ObservationBatch
from service.observations.service import Target, record_batch
from service.pauses import service as pauses
from support import ADMIN, add_camera, add_location, bearer, make_settings

BUCKET = timedelta(minutes=15)


def bucket_start(ago: timedelta) -> datetime:
    moment = datetime.now(UTC) - ago
    return moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0)


def batch(start: datetime, batch_id: str = "b-1") -> dict:
    return {"batch_id": batch_id, "observations": [{
        "start": start.isoformat(), "end": (start + BUCKET).isoformat(), "people": 4, "happy": 1,
        "emotions": {"happy": 1, "neutral": 3}, "sightings": 12, "frames": 30}]}


@pytest.fixture
def camera(client):
    location = add_location(client)
    return {"location_id": location["id"], **add_camera(client, location["id"])}


def send(client, camera, body: dict):
    return client.post(f"/locations/{camera['location_id']}/observations", json=body,
                       headers=bearer(camera["api_key"]))


def test_a_prohibited_setting_refuses_observations(client, camera, settings):
    set_setting_in_database(settings.database_url, camera["location_id"], "workplace")
    response = send(client, camera, batch(bucket_start(timedelta(hours=1))))
    assert response.status_code == 403 and response.json()["rule"] == "EU AI Act Art. 5(1)(f)"
    assert overall(client, camera["location_id"])["faces"] == 0


def test_paused_locations_and_cameras_refuse_observations(client, camera):
    start = bucket_start(timedelta(hours=1))
    for url in (f"/locations/{camera['location_id']}", f"/locations/{camera['location_id']}/cameras/{camera['id']}"):
        assert client.post(f"{url}/pause", headers=ADMIN).status_code == 201
        refused = send(client, camera, batch(start))
        assert refused.status_code == 423 and "is paused" in refused.json()["detail"]
        assert client.post(f"{url}/resume", headers=ADMIN).status_code == 200
    assert overall(client, camera["location_id"])["faces"] == 0
    # the span of the observation lies before the pauses: counted once nothing is paused
    assert send(client, camera, batch(start)).status_code == 201
    assert overall(client, camera["location_id"])["faces"] == 4


def test_an_observation_overlapping_an_earlier_pause_is_refused_whole(client, camera, settings):
    start = bucket_start(timedelta(hours=3))
    with sessions(settings.database_url).begin() as session:
        session.add(Pause(location_id=camera["location_id"], camera_id=camera["id"],
                          started_at=start + timedelta(minutes=10), ended_at=start + timedelta(minutes=40)))
    body = batch(start)
    body["observations"].append(batch(start + 8 * BUCKET)["observations"][0])  # a clean one beside it
    refused = send(client, camera, body)
    assert refused.status_code == 423 and "falls in a pause" in refused.json()["detail"]
    assert overall(client, camera["location_id"])["faces"] == 0
    assert send(client, camera, batch(start + 3 * BUCKET)).status_code == 201  # after the pause ended


def test_a_batch_repeated_while_paused_is_still_a_duplicate(client, camera):
    body = batch(bucket_start(timedelta(hours=1)))
    assert send(client, camera, body).status_code == 201
    client.post(f"/locations/{camera['location_id']}/pause", headers=ADMIN)
    again = send(client, camera, body)
    assert again.status_code == 200 and again.json()["duplicate"] is True and again.json()["people"] == 4
    assert overall(client, camera["location_id"])["faces"] == 4


def test_batch_receipts_live_for_the_retention(client, camera, settings):
    body = batch(bucket_start(timedelta(hours=1)))
    assert send(client, camera, body).status_code == 201
    with sessions(settings.database_url).begin() as session:
        receipt = session.scalars(select(ObservationReceipt)).one()
        assert receipt.expires_at - receipt.received_at == timedelta(days=settings.retention_days)
        receipt.expires_at = datetime.now(UTC) - timedelta(seconds=1)  # expired, not yet pruned
    assert send(client, camera, body).status_code == 201  # never answered from an expired receipt
    assert overall(client, camera["location_id"])["faces"] == 8


def test_a_backlog_of_days_is_counted_once_and_one_past_the_retention_is_refused(client, camera, settings):
    week_old = batch(bucket_start(timedelta(days=7)), "b-week")
    assert send(client, camera, week_old).status_code == 201  # a frame's 48-hour window does not apply
    again = send(client, camera, week_old)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    old = send(client, camera, batch(bucket_start(timedelta(days=settings.retention_days, hours=1)), "b-old"))
    assert old.status_code == 422 and "365-day retention" in old.json()["detail"]
    assert overall(client, camera["location_id"], **{"from": (datetime.now(UTC) - timedelta(days=30)).isoformat()}
                   )["faces"] == 4


def test_a_batch_written_while_a_pause_is_being_committed_waits_and_is_refused(database_url, tmp_path):
    """As for frames: the batch's transaction locks the camera's and location's rows, so it waits
    for a pause in progress and then sees it."""
    from count_history import add_place

    factory = sessions(database_url)
    with factory.begin() as session:
        location_id, (camera_id, _) = add_place(session, "Agents", "UTC")
    settings = make_settings(database_url, tmp_path)
    observations = ObservationBatch.model_validate(batch(bucket_start(timedelta(hours=1))))
    outcome = {}

    def write() -> None:
        try:
            with factory.begin() as session:
                outcome["result"] = record_batch(session, Target(location_id, camera_id), observations, settings,
                                                 datetime.now(UTC))
        except Locked as refusal:
            outcome["result"] = refusal

    with factory() as pause_session:
        pauses.pause_location(pause_session, location_id, "event")
        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        writer.join(timeout=1.5)
        assert writer.is_alive()  # waits for the pause's transaction
        pause_session.commit()
    writer.join(timeout=30)
    assert isinstance(outcome["result"], Locked)
