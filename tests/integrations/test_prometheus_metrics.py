"""/metrics: parsed with prometheus_client's own parser; counters move after a frame, and
several processes add up in multiprocess mode."""

import os
import subprocess
import sys
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from support import ADMIN, VIEWER, add_camera, add_location, bearer, commits_failing, jpeg_bytes

REPO = Path(__file__).resolve().parents[2]


def samples_of(text: str) -> list:
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


def value(text: str, metric: str, **labels) -> float:
    matching = [s.value for s in samples_of(text) if s.name == metric and labels.items() <= s.labels.items()]
    return sum(matching)


def scrape(client) -> str:
    response = client.get("/metrics", headers=VIEWER)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def post_frame(client, location_id, key, frame_id):
    return client.post(f"/locations/{location_id}/frames", content=jpeg_bytes(), params={"frame_id": frame_id},
                       headers={**bearer(key), "Content-Type": "image/jpeg"})


def test_counters_move_after_a_frame_and_not_for_its_duplicate(client):
    location = add_location(client)
    key = add_camera(client, location["id"])["api_key"]
    label = str(location["id"])
    before = scrape(client)
    assert post_frame(client, location["id"], key, "f-1").status_code == 201
    assert post_frame(client, location["id"], key, "f-1").status_code == 200  # duplicate
    after = scrape(client)
    moved = {name: value(after, name, location_id=label) - value(before, name, location_id=label)
             for name in ("happiness_frames_total", "happiness_faces_total", "happiness_happy_faces_total",
                          "happiness_not_happy_faces_total")}
    assert moved == {"happiness_frames_total": 1, "happiness_faces_total": 2,
                     "happiness_happy_faces_total": 1, "happiness_not_happy_faces_total": 1}
    for stage in ("detect", "classify"):  # only the first ran the pipeline: the repeat was answered before
        assert value(after, "happiness_pipeline_stage_seconds_count", stage=stage) - \
            value(before, "happiness_pipeline_stage_seconds_count", stage=stage) == 1


def test_each_app_counts_its_own_frames(client, settings, pipeline):
    """A second app in the same process (the same database) sees none of the first app's
    counts: requests change their app's metrics, not process-wide state."""
    from fastapi.testclient import TestClient

    from service.main import create_app

    location = add_location(client)
    key = add_camera(client, location["id"])["api_key"]
    label = str(location["id"])
    with TestClient(create_app(settings, pipeline=pipeline)) as other:
        assert post_frame(client, location["id"], key, "f-1").status_code == 201
        assert value(scrape(client), "happiness_frames_total", location_id=label) == 1
        assert value(scrape(other), "happiness_frames_total", location_id=label) == 0
        assert post_frame(other, location["id"], key, "f-2").status_code == 201
        assert value(scrape(other), "happiness_frames_total", location_id=label) == 1
        assert value(scrape(client), "happiness_frames_total", location_id=label) == 1


def test_process_metrics_are_still_exposed(client):
    names = {sample.name for sample in samples_of(scrape(client))}
    assert {"process_resident_memory_bytes", "python_gc_collections_total", "python_info"} <= names


def test_a_frame_whose_commit_fails_moves_no_counter(client):
    """The counters move after the commit: a frame answered 503 was not stored, so not counted."""
    location = add_location(client)
    key = add_camera(client, location["id"])["api_key"]
    label = str(location["id"])
    before = scrape(client)
    with commits_failing(client.app):
        assert post_frame(client, location["id"], key, "f-1").status_code == 503
    after = scrape(client)
    assert value(after, "happiness_frames_total", location_id=label) == \
        value(before, "happiness_frames_total", location_id=label)
    assert value(after, "happiness_faces_total", location_id=label) == \
        value(before, "happiness_faces_total", location_id=label)
    assert post_frame(client, location["id"], key, "f-1").status_code == 201  # the retry is counted once
    assert value(scrape(client), "happiness_frames_total", location_id=label) - \
        value(before, "happiness_frames_total", location_id=label) == 1


def test_request_latency_is_labelled_by_route_template(client):
    location = add_location(client)
    client.get(f"/locations/{location['id']}/happiness-index", headers=VIEWER)
    client.get("/no/such/path")
    text = scrape(client)
    route = "/locations/{location_id}/happiness-index"
    assert value(text, "happiness_http_request_duration_seconds_count", route=route, method="GET", status="200") >= 1
    assert value(text, "happiness_http_request_duration_seconds_count", route="unmatched", status="404") >= 1
    assert not [s for s in samples_of(text) if s.labels.get("route", "").startswith("/locations/1")]


def test_model_name_and_version(client):
    info = [s for s in samples_of(scrape(client)) if s.name == "happiness_model_info"]
    assert [(s.labels, s.value) for s in info] == [({"name": "scripted", "version": "test"}, 1.0)]


def test_metrics_need_read_access(client):
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=ADMIN).status_code == 200


WORKER = """
from types import SimpleNamespace
from service.metrics import ServiceMetrics
ServiceMetrics().record_frame(7, SimpleNamespace(duplicate=False, faces=3, happy=2, not_happy=1, unread=0),
                              {"detect": 5.0, "classify": 2.0})
"""
SCRAPE = """
from prometheus_client import generate_latest
from service.metrics import ServiceMetrics
print(generate_latest(ServiceMetrics().scrape_registry("m", "1")).decode())
"""


def test_several_worker_processes_add_up_in_multiprocess_mode(tmp_path):
    environment = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for _ in range(2):  # two "workers", each counting one frame, then exiting
        subprocess.run([sys.executable, "-c", WORKER], env=environment, cwd=REPO, check=True)
    text = subprocess.run([sys.executable, "-c", SCRAPE], env=environment, cwd=REPO, check=True,
                          capture_output=True, text=True).stdout
    assert value(text, "happiness_frames_total", location_id="7") == 2
    assert value(text, "happiness_faces_total", location_id="7") == 6
    assert value(text, "happiness_pipeline_stage_seconds_count", stage="detect") == 2
    assert value(text, "happiness_model_info", name="m", version="1") == 1


def test_counters_move_for_an_observation_batch_once(client):
    from datetime import UTC, datetime, timedelta

    location = add_location(client)
    key = add_camera(client, location["id"])["api_key"]
    label = str(location["id"])
    start = (datetime.now(UTC) - timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    batch = {"batch_id": "b-1", "observations": [
        {"start": start.isoformat(), "end": (start + timedelta(minutes=15)).isoformat(), "people": 3, "happy": 2,
         "emotions": {"happy": 2, "neutral": 1}, "sightings": 30, "frames": 90}]}
    names = ("happiness_frames_total", "happiness_faces_total", "happiness_happy_faces_total",
             "happiness_not_happy_faces_total", "happiness_sightings_total")
    before = scrape(client)
    for expected in (201, 200):  # the second is the same batch again
        response = client.post(f"/locations/{location['id']}/observations", json=batch, headers=bearer(key))
        assert response.status_code == expected
    after = scrape(client)
    moved = [value(after, name, location_id=label) - value(before, name, location_id=label) for name in names]
    assert moved == [90, 3, 2, 1, 30]


def test_unread_faces_move_the_unread_and_sightings_counters_not_faces(client, pipeline):
    from datetime import UTC, datetime, timedelta

    location = add_location(client)
    key = add_camera(client, location["id"])["api_key"]
    label = str(location["id"])
    names = ("happiness_faces_total", "happiness_unread_faces_total", "happiness_sightings_total")
    before = scrape(client)
    pipeline.unread = 3  # two faces read, three too small to read
    assert post_frame(client, location["id"], key, "f-1").status_code == 201
    start = (datetime.now(UTC) - timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    batch = {"batch_id": "b-1", "observations": [
        {"start": start.isoformat(), "end": (start + timedelta(minutes=15)).isoformat(), "people": 3, "happy": 2,
         "emotions": {"happy": 2, "neutral": 1}, "unread": 4, "sightings": 30, "frames": 90}]}
    assert client.post(f"/locations/{location['id']}/observations", json=batch, headers=bearer(key)).status_code == 201
    after = scrape(client)
    moved = [value(after, name, location_id=label) - value(before, name, location_id=label) for name in names]
    assert moved == [2 + 3, 3 + 4, 5 + 30]
