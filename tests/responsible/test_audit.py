"""The audit log: every admin action through the API and the CLI is appended with who (a token
fingerprint, never the token; `cli`), what, when and the request id; GET /audit and `happiness
audit` list and export it; settings changes are recorded at start; a retention under 183 days is
refused. SQLite and PostgreSQL."""

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from responsible_helpers import audit_entries, sessions
from service.security.actors import token_fingerprint
from service.config import Settings
from service.retention.maintenance import prune_everything
from service.db.tables import AuditEntry
from service.security.actors import SYSTEM
from service.main import create_app
from support import ADMIN, ADMIN_TOKEN, VIEWER, add_camera, add_location, make_settings

ADMIN_ID = token_fingerprint("admin", ADMIN_TOKEN)


def admin_with_request_id(request_id: str) -> dict:
    return {**ADMIN, "X-Request-ID": request_id}


def test_every_admin_action_is_recorded_with_who_what_and_the_request_id(client, settings):
    location = client.post("/locations", json={"name": "Square", "setting": "park"},
                           headers=admin_with_request_id("req-create")).json()
    lid = location["id"]
    camera = add_camera(client, lid)
    base = f"/locations/{lid}/cameras/{camera['id']}"
    calls = [("patch", f"/locations/{lid}", {"setting": "public_square"}), ("post", f"{base}/rotate", None),
             ("post", f"{base}/pause", {"reason": "lens"}), ("post", f"{base}/resume", None),
             ("post", f"/locations/{lid}/pause", None), ("post", f"/locations/{lid}/resume", None),
             ("post", f"{base}/revoke", None), ("delete", f"/locations/{lid}", None)]
    for number, (method, url, body) in enumerate(calls):
        response = client.request(method, url, json=body, headers=admin_with_request_id(f"req-{number}"))
        assert response.status_code < 300, response.text
        assert response.headers["x-request-id"] == f"req-{number}"
    entries = [e for e in audit_entries(settings.database_url) if e.action != "settings.change"]
    assert [e.action for e in entries] == [
        "location.create", "camera.create", "location.update", "camera.rotate", "camera.pause", "camera.resume",
        "location.pause", "location.resume", "camera.revoke", "location.delete"]
    assert {e.actor for e in entries} == {ADMIN_ID} and ADMIN_TOKEN not in json.dumps([e.detail for e in entries])
    assert entries[0].request_id == "req-create" and [e.request_id for e in entries[2:]] == [f"req-{n}" for n in range(8)]
    assert entries[0].target == f"location:{lid}" and entries[3].target == f"camera:{camera['id']}"
    assert entries[2].detail == {"changed": {"setting": ["park", "public_square"]}}
    assert entries[4].detail["reason"] == "lens" and entries[9].detail == {"name": "Square"}
    assert all(abs(e.at - datetime.now(UTC)) < timedelta(minutes=5) for e in entries)


def test_a_refused_action_leaves_no_entry_and_an_unsent_request_id_is_made(client, settings):
    response = client.post("/locations", json={"name": "Office", "setting": "workplace"}, headers=ADMIN)
    assert response.status_code == 422 and len(response.headers["x-request-id"]) == 32
    assert client.get("/health", headers={"X-Request-ID": "bad id\twith spaces"}).headers["x-request-id"] != "bad id"
    assert audit_entries(settings.database_url, "location.") == []


def test_get_audit_filters_pages_and_exports_csv(client):
    first = [add_location(client, name) for name in ("A", "B", "C")][0]
    add_camera(client, first["id"])
    page = client.get("/audit", params={"action": "location.create", "limit": 2}, headers=ADMIN).json()
    assert [e["detail"]["name"] for e in page["entries"]] == ["A", "B"] and page["next_after_id"]
    rest = client.get("/audit", params={"action": "location.create", "after_id": page["next_after_id"]},
                      headers=ADMIN).json()
    assert [e["detail"]["name"] for e in rest["entries"]] == ["C"] and rest["next_after_id"] is None
    family = client.get("/audit", params={"action": "camera."}, headers=ADMIN).json()["entries"]
    assert [e["action"] for e in family] == ["camera.create"]
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert client.get("/audit", params={"from": future}, headers=ADMIN).json()["entries"] == []
    exported = client.get("/audit", params={"format": "csv", "action": "location."}, headers=ADMIN)
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [row["action"] for row in rows] == ["location.create"] * 3 and rows[0]["actor"] == ADMIN_ID
    assert json.loads(rows[1]["detail"])["name"] == "B"
    assert client.get("/audit", headers=VIEWER).status_code == 403
    assert client.get("/audit").status_code == 401


def test_cli_actions_are_recorded_as_cli_and_the_cli_exports(database_url, monkeypatch, capsys):
    from service.cli import main

    monkeypatch.setenv("HAPPINESS_DATABASE_URL", database_url)
    assert main(["locations", "add", "Harbour", "--setting", "park"]) == 0
    location_id = str(json.loads(capsys.readouterr().out)["id"])
    assert main(["cameras", "add", location_id, "--name", "quay"]) == 0
    camera_id = str(json.loads(capsys.readouterr().out)["id"])
    assert main(["cameras", "revoke", location_id, camera_id]) == 0
    assert main(["db", "prune"]) == 0
    capsys.readouterr()
    assert main(["audit", "--format", "csv", "--since", "1h"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["action"], r["actor"]) for r in rows] == [
        ("location.create", "cli"), ("camera.create", "cli"), ("camera.revoke", "cli"), ("data.prune", "cli")]
    assert main(["audit", "--action", "camera.", "--since", "2000-01-01"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["action"] for line in lines] == ["camera.create", "camera.revoke"]
    assert main(["audit", "--since", (datetime.now(UTC) + timedelta(days=1)).isoformat()]) == 0
    assert capsys.readouterr().out == ""


def test_settings_changes_are_recorded_once_per_change(database_url, tmp_path, pipeline):
    def start(**overrides) -> None:
        with TestClient(create_app(make_settings(database_url, tmp_path, **overrides), pipeline=pipeline)):
            pass

    start()
    start()  # same settings: nothing new
    start(retention_days=90)
    entries = audit_entries(database_url, "settings.")
    assert len(entries) == 2 and {e.actor for e in entries} == {"system"}
    assert entries[1].detail["changed"] == {"retention_days": [365, 90]}
    snapshot = entries[0].detail["settings"]
    assert snapshot["admin_token"] == ADMIN_ID and ADMIN_TOKEN not in json.dumps(snapshot)


def test_an_audit_retention_under_six_months_is_refused_at_start(monkeypatch):
    with pytest.raises(ValidationError, match="at least 183 days"):
        Settings(_env_file=None, audit_retention_days=182)
    monkeypatch.setenv("HAPPINESS_AUDIT_RETENTION_DAYS", "30")
    with pytest.raises(ValidationError, match="Art. 26"):
        Settings(_env_file=None)
    monkeypatch.setenv("HAPPINESS_AUDIT_RETENTION_DAYS", "400")
    assert Settings(_env_file=None).audit_retention_days == 400


def test_the_prune_keeps_audit_entries_for_the_audit_retention(database_url, tmp_path):
    now = datetime.now(UTC)
    with sessions(database_url).begin() as session:
        for age in (184, 182, 1):
            session.add(AuditEntry(at=now - timedelta(days=age), actor="cli", action="old.action",
                                   target=None, detail={"age": age}, request_id=None))
    with sessions(database_url).begin() as session:
        pruned = prune_everything(session, make_settings(database_url, tmp_path), SYSTEM, now)
    assert pruned.audit_entries == 1
    assert [e.detail["age"] for e in audit_entries(database_url, "old.")] == [182, 1]
    assert audit_entries(database_url, "data.prune")[0].detail["audit_entries"] == 1


def test_calibrations_are_recorded(client, settings):
    location = add_location(client)
    counts = {"model_version": "test", "n_happy": 100, "happy_as_happy": 80, "n_other": 300, "other_as_happy": 30}
    url = f"/locations/{location['id']}/calibration"
    assert client.put(url, json=counts, headers=admin_with_request_id("req-calibrate")).status_code == 200
    assert client.delete(url, headers=ADMIN).status_code == 204
    stored, removed = audit_entries(settings.database_url, "calibration.")
    assert (stored.action, stored.actor, stored.request_id) == ("calibration.store", ADMIN_ID, "req-calibrate")
    assert stored.target == f"location:{location['id']}" and stored.detail["happy_as_happy"] == 80
    assert (removed.action, removed.target) == ("calibration.remove", f"location:{location['id']}")
