"""Faults: the database goes away and comes back (PostgreSQL behind a TCP proxy that the test
cuts), and a server restart keeps every count (SQLite and PostgreSQL)."""

import subprocess
import time
from collections.abc import Callable

import httpx
import pytest
from sqlalchemy.engine import make_url

from support import (ADMIN, TcpProxy, add_camera, add_location, bearer, free_port, jpeg_bytes, make_settings,
                     serve_process, wait_until_ready)


@pytest.fixture
def proxied_postgres(postgres_database, tmp_path):
    from service.db.migrate import upgrade

    upgrade(postgres_database)
    url = make_url(postgres_database)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    proxy.start()
    yield proxy, url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    proxy.stop()


def test_database_outage_is_503_with_retry_after_and_the_service_recovers(proxied_postgres, tmp_path, pipeline):
    from fastapi.testclient import TestClient

    from service.main import create_app

    proxy, url = proxied_postgres
    with TestClient(create_app(make_settings(url, tmp_path), pipeline=pipeline)) as client:
        location, post = camera_posting(client, "Outage square")
        assert post().status_code == 201

        proxy.stop()
        down = post()
        assert down.status_code == 503 and down.headers["retry-after"] == "5"
        assert down.headers["content-type"] == "application/problem+json"
        assert "database" in down.json()["detail"]
        assert client.get("/health").status_code == 200
        not_ready = client.get("/ready")
        assert not_ready.status_code == 503 and not_ready.headers["retry-after"] == "5"

        proxy.start()
        assert client.get("/ready").status_code == 200
        assert post().status_code == 201
        index = client.get(f"/locations/{location['id']}/happiness-index", headers=ADMIN).json()
        assert index["overall"]["frames"] == 2  # the failed post counted nothing


def camera_posting(client, name: str) -> tuple[dict, Callable]:
    """A new location, and a function that posts one frame there with its camera's key."""
    location = add_location(client, name)
    key = add_camera(client, location["id"])["api_key"]
    return location, lambda: client.post(f"/locations/{location['id']}/frames", content=jpeg_bytes(),
                                         headers={"Content-Type": "image/jpeg", **bearer(key)})


def test_observations_during_an_outage_are_503_and_the_agent_keeps_them(proxied_postgres, tmp_path, pipeline):
    """The database goes away after start: the server stays up, refuses counts with 503 and
    Retry-After, the agent's queue holds the batch, and once the database is back the batch is
    counted, once, without a restart."""
    from datetime import UTC, datetime, timedelta

    from fastapi.testclient import TestClient

    from service.agent.queue import DurableQueue
    from service.agent.sender import Delivery, QueuedBatches
    from service.main import create_app

    proxy, url = proxied_postgres
    start = (datetime.now(UTC) - timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    body = {"batch_id": "outage-1", "observations": [{
        "start": start.isoformat(), "end": (start + timedelta(minutes=15)).isoformat(), "people": 5, "happy": 2,
        "emotions": {"happy": 2, "sad": 3}, "sightings": 9, "frames": 40}]}
    with TestClient(create_app(make_settings(url, tmp_path), pipeline=pipeline)) as client:
        location = add_location(client, "Outage agents")
        client.headers.update(bearer(add_camera(client, location["id"])["api_key"]))
        queue, now = DurableQueue(tmp_path / "queue.db", "t", clock=lambda: now[0]), [time.time()]
        queue.add("outage-1", body)
        delivery = Delivery(lambda: QueuedBatches(queue, client, f"/locations/{location['id']}/observations"),
                            clock=lambda: now[0])
        proxy.stop()
        next_at = delivery.deliver_due()
        assert next_at >= now[0] + 5 and queue.counts().pending == 1  # Retry-After honoured, batch kept
        assert client.get("/ready").status_code == 503 and client.get("/health").status_code == 200

        proxy.start()
        now[0] = next_at
        assert delivery.deliver_due() is None and queue.counts().confirmed == 1
        index = client.get(f"/locations/{location['id']}/happiness-index", headers=ADMIN).json()["overall"]
        assert (index["faces"], index["happy"]) == (5, 2)


def test_connections_cut_while_idle_are_replaced_before_use(proxied_postgres, tmp_path, pipeline):
    """The network drops every pooled connection and recovers while the service is idle: the
    next requests get new connections instead of failing on the dead ones."""
    from fastapi.testclient import TestClient

    from service.db.engine import PING_AFTER_IDLE_S
    from service.main import create_app

    proxy, url = proxied_postgres
    with TestClient(create_app(make_settings(url, tmp_path), pipeline=pipeline)) as client:
        location, post = camera_posting(client, "Idle square")
        assert post().status_code == 201
        proxy.stop()
        proxy.start()
        time.sleep(PING_AFTER_IDLE_S + 0.2)
        assert post().status_code == 201
        index = client.get(f"/locations/{location['id']}/happiness-index", headers=ADMIN)
        assert index.status_code == 200 and index.json()["overall"]["frames"] == 2


def serve(database_url: str, port: int, data_dir) -> subprocess.Popen:
    return serve_process(database_url, port, data_dir)


@pytest.mark.slow
def test_counts_survive_a_server_restart(database_url, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = serve(database_url, port, tmp_path)
    try:
        wait_until_ready(url, server)
        location = httpx.post(f"{url}/locations", json={"name": "Restart"}, headers=ADMIN).json()
        key = httpx.post(f"{url}/locations/{location['id']}/cameras", json={"name": "c"}, headers=ADMIN).json()["api_key"]
        for _ in range(3):
            assert httpx.post(f"{url}/locations/{location['id']}/frames", content=jpeg_bytes(),
                              headers={"Content-Type": "image/jpeg", **bearer(key)}).status_code == 201
    finally:
        server.terminate()
        server.wait(timeout=30)
    server = serve(database_url, port, tmp_path)
    try:
        wait_until_ready(url, server)
        index = httpx.get(f"{url}/locations/{location['id']}/happiness-index", headers=ADMIN).json()
        assert index["overall"]["frames"] == 3
    finally:
        server.terminate()
        server.wait(timeout=30)
