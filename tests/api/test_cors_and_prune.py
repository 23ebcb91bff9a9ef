import time
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from service.config import Settings
from service.db.engine import make_engine, make_session_factory
from service.frames.repository import add_counts
from service.main import create_app
from support import ADMIN, add_camera, add_location, make_settings


def preflight(client, origin: str):
    return client.options("/locations", headers={"Origin": origin, "Access-Control-Request-Method": "GET",
                                                 "Access-Control-Request-Headers": "Authorization"})


def test_cors_allows_only_configured_origins(database_url, tmp_path, pipeline):
    settings = make_settings(database_url, tmp_path, cors_origins="https://dashboard.city.example, https://ops.city.example")
    assert settings.cors_origins == ["https://dashboard.city.example", "https://ops.city.example"]
    with TestClient(create_app(settings, pipeline=pipeline)) as client:
        allowed = preflight(client, "https://ops.city.example")
        assert allowed.headers["access-control-allow-origin"] == "https://ops.city.example"
        refused = preflight(client, "https://evil.example")
        assert "access-control-allow-origin" not in refused.headers


def test_no_cors_headers_without_configured_origins(client):
    response = client.get("/health", headers={"Origin": "https://anywhere.example"})
    assert "access-control-allow-origin" not in response.headers


def test_cors_origins_read_from_a_comma_separated_variable(monkeypatch):
    monkeypatch.setenv("HAPPINESS_CORS_ORIGINS", "https://a.example,https://b.example")
    assert Settings(_env_file=None).cors_origins == ["https://a.example", "https://b.example"]


def test_server_prunes_periodically_when_configured(database_url, tmp_path, pipeline):
    settings = make_settings(database_url, tmp_path, prune_interval_hours=0.5 / 3600, retention_days=30)
    with TestClient(create_app(settings, pipeline=pipeline)) as client:
        location = add_location(client)
        camera = add_camera(client, location["id"])
        old = datetime.now(UTC) - timedelta(days=40)
        with make_session_factory(make_engine(database_url)).begin() as session:
            add_counts(session, location["id"], camera["id"], old, {"frames": 1, "faces": 1})
        params = {"from": (old - timedelta(days=1)).isoformat(), "bucket": "week"}
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            frames = client.get(f"/locations/{location['id']}/happiness-index", params=params,
                                headers=ADMIN).json()["overall"]["frames"]
            if frames == 0:
                break
            time.sleep(0.3)
        assert frames == 0
