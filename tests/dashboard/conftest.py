"""A live server (uvicorn in a thread, scripted pipeline, SQLite) and headless Debian Chromium
driven by Playwright. Without /usr/bin/chromium the browser tests skip, except in CI (CI=true),
where they fail: CI must install it (.ci/run does)."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from service.db.migrate import upgrade
from support import ScriptedPipeline, make_settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
OPERATOR = ("City of Example, Public Space Office", "privacy@city.example · +31 20 000 0000")


@dataclass
class LiveServer:
    url: str
    pipeline: ScriptedPipeline


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; browser tests are required in CI")
    pytest.skip(reason)


@contextmanager
def _serving(folder: Path, pipeline, **settings) -> Iterator[str]:
    """The app on a fresh SQLite database, served by uvicorn in a thread; yields its base URL."""
    import uvicorn

    from service.main import create_app

    database_url = f"sqlite:///{folder / 'happiness.db'}"
    upgrade(database_url)
    app = create_app(make_settings(database_url, folder, **settings), pipeline=pipeline)
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))  # bound here, so no other process can take the port first
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    _wait_until_started(server)
    yield f"http://127.0.0.1:{listening.getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def live_server(tmp_path_factory) -> Iterator[LiveServer]:
    pipeline = ScriptedPipeline()
    with _serving(tmp_path_factory.mktemp("live"), pipeline) as url:
        yield LiveServer(url, pipeline)


@pytest.fixture(scope="module")
def operated_live_server(tmp_path_factory) -> Iterator[LiveServer]:
    """A live server configured as a city would for its public notices (operator and contact)."""
    pipeline = ScriptedPipeline()
    with _serving(tmp_path_factory.mktemp("operated"), pipeline, operator_name=OPERATOR[0],
                  operator_contact=OPERATOR[1]) as url:
        yield LiveServer(url, pipeline)


@pytest.fixture(scope="module")
def real_live_server(tmp_path_factory) -> Iterator[str]:
    """The real HOG detector and the committed model (loaded once: several seconds)."""
    from service.config import DEFAULT_MODEL_DIR, Settings
    from service.main import build_pipeline

    if not (DEFAULT_MODEL_DIR / "metadata.json").exists():
        pytest.skip(f"no committed model in {DEFAULT_MODEL_DIR}")
    with _serving(tmp_path_factory.mktemp("real"), build_pipeline(Settings(detector="hog")), detector="hog") as url:
        yield url


def _wait_until_started(server, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the live server did not start")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def browser():
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
