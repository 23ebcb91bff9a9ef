"""Reads and writes side by side: endpoints that only read use a read session, whose SQLite
transaction begins deferred (WAL: it reads a snapshot and takes no write lock), while writes keep
BEGIN IMMEDIATE. A long read must not hold up a frame, and an open write must not hold up a read,
on SQLite and PostgreSQL alike."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from fastapi.routing import APIRoute
from sqlalchemy import func, select

from service.db.tables import BucketCount, DailyCount
from service.api.deps import get_read_session, get_session
from service.frames import repository
from support import ADMIN, add_camera, add_location, bearer, jpeg_bytes

# far below the 30 s busy timeout: an answer this late means it waited for the other transaction
PROMPTLY_S = 10


@pytest.fixture
def camera(client):
    location = add_location(client)
    return {"location_id": location["id"], **add_camera(client, location["id"])}


def promptly(function, *args, **kwargs):
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        return pool.submit(function, *args, **kwargs).result(timeout=PROMPTLY_S)
    finally:
        pool.shutdown(wait=False)  # a late call ends once the test's own transaction is released


def stored_frames(session) -> int:
    return session.scalar(select(func.coalesce(func.sum(BucketCount.frames), 0)))


def test_a_frame_is_written_while_a_long_read_transaction_is_open(client, camera, database_url):
    reader = client.app.state.read_session_factory()
    try:
        assert stored_frames(reader) == 0  # the read transaction is open from here on
        response = promptly(client.post, f"/locations/{camera['location_id']}/frames", content=jpeg_bytes(),
                            headers={**bearer(camera["api_key"]), "Content-Type": "image/jpeg"})
        assert response.status_code == 201, response.text
        if database_url.startswith("sqlite"):
            assert stored_frames(reader) == 0  # still its snapshot from before the frame
        reader.execute(select(DailyCount)).all()
    finally:
        reader.close()
    with client.app.state.read_session_factory() as fresh:
        assert stored_frames(fresh) == 1


def read_requests(camera) -> list[tuple[str, dict]]:
    location = camera["location_id"]
    entity = f"urn:ngsi-ld:CrowdFlowObserved:happiness-location-{location}"
    return [("/locations", {}), (f"/locations/{location}", {}), (f"/locations/{location}/cameras", {}),
            (f"/locations/{location}/happiness-index", {}),
            (f"/locations/{location}/happiness-index", {"format": "csv", "bucket": "hour"}),
            ("/happiness-index", {}), ("/happiness-index", {"format": "csv"}),
            ("/ngsi-ld/v1/entities", {}), (f"/ngsi-ld/v1/entities/{entity}", {}),
            ("/metrics", {}), ("/ready", {})]


def test_reads_answer_while_a_frame_write_is_uncommitted(client, camera):
    writer = client.app.state.session_factory()
    try:
        repository.add_counts(writer, camera["location_id"], camera["id"], datetime.now(UTC).replace(minute=0),
                              {"frames": 1, "faces": 3, "happy": 3})  # holds SQLite's write lock from here
        for path, params in read_requests(camera):
            response = promptly(client.get, path, params=params, headers=ADMIN)
            assert response.status_code == 200, (path, response.text)
        overall = promptly(client.get, f"/locations/{camera['location_id']}/happiness-index", headers=ADMIN)
        assert overall.json()["overall"]["frames"] == 0  # nothing uncommitted is read
        refused = promptly(client.post, f"/locations/{camera['location_id']}/frames", content=jpeg_bytes(),
                           headers={**bearer("hcam_not-a-key"), "Content-Type": "image/jpeg"})
        assert refused.status_code == 401  # the key lookup only reads
    finally:
        writer.rollback()
        writer.close()


def api_routes(routes) -> list[APIRoute]:
    """Every endpoint, also those of included routers (FastAPI keeps them behind a wrapper)."""
    found = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):
            found.extend(api_routes(route.original_router.routes))
    return found


def session_dependencies(route: APIRoute) -> set:
    pending, found = list(route.dependant.dependencies), set()
    while pending:
        dependant = pending.pop()
        found |= {dependant.call} & {get_session, get_read_session}
        pending.extend(dependant.dependencies)
    return found


def test_get_endpoints_use_read_sessions_and_the_others_write_sessions(client):
    routes = [route for route in api_routes(client.app.routes) if session_dependencies(route)]
    for route in routes:
        expected = {get_read_session} if route.methods == {"GET"} else {get_session}
        assert session_dependencies(route) == expected, (route.methods, route.path)
    reads = {route.path for route in routes if route.methods == {"GET"}}
    assert {"/happiness-index", "/locations/{location_id}/happiness-index", "/ngsi-ld/v1/entities",
            "/locations", "/locations/{location_id}/cameras"} <= reads
    assert "/locations/{location_id}/frames" in {route.path for route in routes} - reads
