from support import ADMIN, VIEWER, add_location, make_settings


def test_create_get_update_delete_location(client):
    created = add_location(client, "Dam Square", "Europe/Amsterdam", latitude=52.373, longitude=4.893)
    assert created["id"] > 0 and created["timezone"] == "Europe/Amsterdam"

    fetched = client.get(f"/locations/{created['id']}", headers=VIEWER).json()
    assert fetched["name"] == "Dam Square" and fetched["latitude"] == 52.373

    patched = client.patch(f"/locations/{created['id']}", json={"description": "north side"}, headers=ADMIN)
    assert patched.status_code == 200
    assert patched.json()["description"] == "north side" and patched.json()["name"] == "Dam Square"

    assert client.delete(f"/locations/{created['id']}", headers=ADMIN).status_code == 204
    missing = client.get(f"/locations/{created['id']}", headers=ADMIN)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert f"location {created['id']} does not exist" in missing.json()["detail"]


def test_list_locations_in_creation_order(client):
    add_location(client, "A")
    add_location(client, "B")
    names = [location["name"] for location in client.get("/locations", headers=VIEWER).json()]
    assert names == ["A", "B"]


def test_duplicate_name_is_a_conflict(client):
    add_location(client, "Same")
    response = client.post("/locations", json={"name": "Same"}, headers=ADMIN)
    assert response.status_code == 409
    assert "already exists" in response.json()["detail"]


def test_unknown_timezone_is_rejected_with_a_readable_detail(client):
    response = client.post("/locations", json={"name": "X", "timezone": "Mars/Olympus"}, headers=ADMIN)
    assert response.status_code == 422
    body = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert "Mars/Olympus" in body["detail"] and "timezone" in body["detail"]


def test_out_of_range_coordinates_are_rejected(client):
    response = client.post("/locations", json={"name": "X", "latitude": 91}, headers=ADMIN)
    assert response.status_code == 422
    assert client.get("/locations", headers=ADMIN).json() == []


def test_viewer_cannot_write_and_reads_need_a_token(client):
    assert client.post("/locations", json={"name": "X"}, headers=VIEWER).status_code == 403
    assert client.get("/locations").status_code == 401
    assert client.get("/locations", headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_public_read_serves_reads_without_a_token(database_url, tmp_path, pipeline):
    from fastapi.testclient import TestClient

    from service.main import create_app

    settings = make_settings(database_url, tmp_path, public_read=True)
    with TestClient(create_app(settings, pipeline=pipeline)) as client:
        assert client.get("/locations").status_code == 200
        assert client.post("/locations", json={"name": "X"}).status_code == 401


def test_public_read_still_refuses_a_token_that_does_not_check_out(database_url, tmp_path, pipeline):
    """A mistyped or revoked token gets 401, not the public view in its place."""
    from fastapi.testclient import TestClient

    from service.main import create_app

    settings = make_settings(database_url, tmp_path, public_read=True)
    with TestClient(create_app(settings, pipeline=pipeline)) as client:
        for path in ("/locations", "/happiness-index"):
            wrong = client.get(path, headers={"Authorization": "Bearer wrong"})
            assert wrong.status_code == 401, path
            assert wrong.headers["content-type"] == "application/problem+json"
            assert "invalid token" in wrong.json()["detail"]
            camera = client.get(path, headers={"X-API-Key": "hcam_not_a_reader"})
            assert camera.status_code == 403, path
            assert client.get(path).status_code == 200
            assert client.get(path, headers=VIEWER).status_code == 200


def test_null_for_a_required_field_is_422_and_changes_nothing(client):
    location = add_location(client, "Keep me")
    for field in ("name", "timezone"):
        response = client.patch(f"/locations/{location['id']}", json={field: None}, headers=ADMIN)
        assert response.status_code == 422 and f"{field} cannot be null" in response.json()["detail"]
    assert client.get(f"/locations/{location['id']}", headers=ADMIN).json()["name"] == "Keep me"
