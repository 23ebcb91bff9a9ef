from support import ADMIN, VIEWER, add_camera, add_location, bearer, jpeg_bytes


def post_frame(client, location_id: int, headers: dict, **params):
    return client.post(f"/locations/{location_id}/frames", content=jpeg_bytes(),
                       headers={"Content-Type": "image/jpeg", **headers}, params=params)


def test_camera_key_is_long_random_shown_once_and_stored_hashed(client, database_url):
    from sqlalchemy import select

    from service.db.engine import make_engine
    from service.db.tables import Camera

    location = add_location(client)
    camera = add_camera(client, location["id"])
    assert camera["api_key"].startswith("hcam_") and len(camera["api_key"]) >= 5 + 43
    listed = client.get(f"/locations/{location['id']}/cameras", headers=ADMIN).json()
    assert "api_key" not in listed[0] and listed[0]["key_prefix"] == camera["api_key"][:12]
    with make_engine(database_url).connect() as connection:
        stored = connection.execute(select(Camera.key_hash)).scalar_one()
    assert camera["api_key"] not in stored and len(stored) == 64


def test_camera_posts_only_to_its_own_location(client):
    home, other = add_location(client, "Home"), add_location(client, "Other")
    key = add_camera(client, home["id"])["api_key"]
    assert post_frame(client, home["id"], bearer(key)).status_code == 201
    refused = post_frame(client, other["id"], bearer(key))
    assert refused.status_code == 403
    assert f"belongs to location {home['id']}" in refused.json()["detail"]


def test_x_api_key_header_works_like_bearer(client):
    location = add_location(client)
    key = add_camera(client, location["id"])["api_key"]
    assert post_frame(client, location["id"], {"X-API-Key": key}).status_code == 201


def test_no_key_and_unknown_key_are_401(client):
    location = add_location(client)
    missing = post_frame(client, location["id"], {})
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert post_frame(client, location["id"], bearer("hcam_not-a-key")).status_code == 401


def test_revoked_key_is_401_and_rotation_replaces_the_key(client):
    location = add_location(client)
    camera = add_camera(client, location["id"])
    rotated = client.post(f"/locations/{location['id']}/cameras/{camera['id']}/rotate", headers=ADMIN).json()
    assert rotated["api_key"] != camera["api_key"]
    assert post_frame(client, location["id"], bearer(camera["api_key"])).status_code == 401
    assert post_frame(client, location["id"], bearer(rotated["api_key"])).status_code == 201
    revoked = client.post(f"/locations/{location['id']}/cameras/{camera['id']}/revoke", headers=ADMIN)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert post_frame(client, location["id"], bearer(rotated["api_key"])).status_code == 401


def test_camera_key_cannot_use_admin_or_read_endpoints(client):
    location = add_location(client)
    key = add_camera(client, location["id"])["api_key"]
    assert client.post("/locations", json={"name": "X"}, headers=bearer(key)).status_code == 403
    assert client.post(f"/locations/{location['id']}/cameras", json={"name": "c"},
                       headers=bearer(key)).status_code == 403
    assert client.get("/locations", headers=bearer(key)).status_code == 403


def test_admin_and_viewer_tokens_cannot_post_frames(client):
    location = add_location(client)
    assert post_frame(client, location["id"], ADMIN).status_code == 401
    assert post_frame(client, location["id"], VIEWER).status_code == 401


def test_unknown_location_with_a_valid_key_is_404(client):
    location = add_location(client)
    key = add_camera(client, location["id"])["api_key"]
    assert post_frame(client, 999_999, bearer(key)).status_code == 404


def test_a_key_in_use_stops_working_at_once_when_rotated_or_its_location_deleted(client):
    # the key is cached by the first frame; the change through this process must still win
    location = add_location(client)
    camera = add_camera(client, location["id"])
    assert post_frame(client, location["id"], bearer(camera["api_key"])).status_code == 201
    client.post(f"/locations/{location['id']}/cameras/{camera['id']}/rotate", headers=ADMIN)
    assert post_frame(client, location["id"], bearer(camera["api_key"])).status_code == 401
    other = add_location(client, "Other")
    key = add_camera(client, other["id"])["api_key"]
    assert post_frame(client, other["id"], bearer(key)).status_code == 201
    assert client.delete(f"/locations/{other['id']}", headers=ADMIN).status_code == 204
    assert post_frame(client, other["id"], bearer(key)).status_code in (401, 404)


def test_a_change_by_another_process_stops_the_counting_at_once_despite_the_cache(client):
    """Revoked, rotated or deleted behind this process's back (as the CLI or another worker
    would): the key is still in this process's cache, yet the frame's own write refuses it.
    Before the key was checked in the write, each answered 201 for up to 5 s."""
    from sqlalchemy import delete, update

    from service.db.tables import Camera, Location, utc_now

    location = add_location(client)
    cameras = [add_camera(client, location["id"], f"c{n}") for n in range(3)]
    for camera in cameras:  # each key checked, so cached
        assert post_frame(client, location["id"], bearer(camera["api_key"])).status_code == 201
    changes = [update(Camera).where(Camera.id == cameras[0]["id"]).values(revoked_at=utc_now()),
               update(Camera).where(Camera.id == cameras[1]["id"]).values(key_hash="0" * 64)]
    with client.app.state.engine.begin() as connection:
        for change in changes:
            connection.execute(change)
    for camera in cameras[:2]:
        response = post_frame(client, location["id"], bearer(camera["api_key"]))
        assert response.status_code == 401 and response.json()["detail"] == "unknown or revoked camera key"
    with client.app.state.engine.begin() as connection:
        connection.execute(delete(Location).where(Location.id == location["id"]))
    assert post_frame(client, location["id"], bearer(cameras[2]["api_key"])).status_code == 401  # was 409


def test_a_lookup_that_overlaps_a_key_change_is_not_cached():
    from service.security.auth import CameraIdentity, CameraKeyCache

    cache = CameraKeyCache(ttl_seconds=60)
    generation = cache.generation  # a lookup starts and reads the old row ...
    cache.invalidate()  # ... while a revocation commits
    cache.put("hash", CameraIdentity(1, 1, "hash"), generation)
    assert cache.get("hash") is None
    cache.put("hash", CameraIdentity(1, 1, "hash"), cache.generation)
    assert cache.get("hash") == CameraIdentity(1, 1, "hash")
