"""`happiness serve` as a real process, 1 and 2 workers: a server that cannot start exits
non-zero within seconds with its reason on one line; SIGTERM ends a running server within its
graceful timeout."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

from service.config import DEFAULT_MODEL_DIR
from service.db.migrate import upgrade
from support import ADMIN_TOKEN, free_port, wait_until_ready

START_LIMIT_S = 20  # the bound for an unmigrated database
GRACEFUL_S = 3


def serve_workers(database_url: str, tmp_path, workers: int, **environment: str) -> tuple[subprocess.Popen, str]:
    """`happiness serve --workers N` on a free port (stub detector, the real model folder unless
    HAPPINESS_MODEL_DIR says otherwise); answers the process and its URL."""
    port = free_port()
    settings = {"HAPPINESS_DATABASE_URL": database_url, "HAPPINESS_DETECTOR": "stub",
                "HAPPINESS_ADMIN_TOKEN": ADMIN_TOKEN, "HAPPINESS_DATA_DIR": str(tmp_path),
                "HAPPINESS_GRACEFUL_SHUTDOWN_SECONDS": str(GRACEFUL_S), "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, "-m", "service.cli", "serve", "--port", str(port), "--workers", str(workers)]
    process = subprocess.Popen(command, env={**os.environ, **settings, **environment}, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    return process, f"http://127.0.0.1:{port}"


def ends_within(process: subprocess.Popen, seconds: float) -> tuple[int, str]:
    """The exit status and stderr of a process that must end within `seconds` (killed if not)."""
    try:
        _, stderr = process.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        _, stderr = process.communicate()
        pytest.fail(f"still running after {seconds} s: {stderr.decode()[-1500:]}")
    return process.returncode, stderr.decode()


def reason_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if "cannot start:" in line]
    assert lines, stderr[-2000:]
    return lines[0]


@pytest.mark.parametrize("workers", [1, 2])
def test_an_unmigrated_database_ends_the_server_with_its_reason(tmp_path, workers):
    url = f"sqlite:///{tmp_path / 'never-migrated.db'}"
    status, stderr = ends_within(serve_workers(url, tmp_path, workers)[0], START_LIMIT_S)
    assert status != 0
    assert "happiness db upgrade" in reason_line(stderr)


@pytest.mark.parametrize("workers", [1, 2])
def test_an_unreachable_database_ends_the_server_with_its_reason(tmp_path, workers):
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nowhere"  # nothing listens there
    status, stderr = ends_within(serve_workers(url, tmp_path, workers)[0], START_LIMIT_S)
    assert status != 0
    line = reason_line(stderr)
    assert "cannot be reached" in line and "127.0.0.1" in line


def test_refused_settings_end_the_server_with_their_reason(tmp_path, sqlite_migrated):
    process, _ = serve_workers(sqlite_migrated, tmp_path, 2, HAPPINESS_ENVIRONMENT="production",
                               HAPPINESS_ADMIN_TOKEN="short")
    status, stderr = ends_within(process, START_LIMIT_S)
    assert status != 0
    assert "settings refused" in reason_line(stderr)


@pytest.mark.parametrize("workers", [1, 2])
def test_an_unreadable_model_folder_ends_the_server_with_its_reason(tmp_path, sqlite_migrated, workers):
    missing = tmp_path / "no-model-here"
    process, _ = serve_workers(sqlite_migrated, tmp_path, workers, HAPPINESS_MODEL_DIR=str(missing))
    status, stderr = ends_within(process, START_LIMIT_S)
    assert status != 0
    assert "model folder cannot be read" in reason_line(stderr) and str(missing) in reason_line(stderr)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_worker_that_fails_its_own_start_ends_the_server(tmp_path, sqlite_migrated, workers):
    """The files are there (the parent's check passes) but the metadata lacks the model's name:
    only the worker's start-up finds it, and the server must still end at once."""
    model = tmp_path / "model"
    shutil.copytree(DEFAULT_MODEL_DIR, model, ignore=shutil.ignore_patterns("*.keras", "history.json"))
    metadata = json.loads((model / "metadata.json").read_text())
    del metadata["name"]
    (model / "metadata.json").write_text(json.dumps(metadata))
    process, _ = serve_workers(sqlite_migrated, tmp_path, workers, HAPPINESS_MODEL_DIR=str(model))
    status, stderr = ends_within(process, START_LIMIT_S)
    assert status != 0
    assert "'name'" in reason_line(stderr)


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_ends_a_running_server_within_its_graceful_timeout(tmp_path, sqlite_migrated, workers):
    process, url = serve_workers(sqlite_migrated, tmp_path, workers)
    wait_until_ready(url, process, timeout=60)
    with socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1]))) as held:
        # a request whose body never finishes: only the graceful timeout ends the wait for it
        held.sendall(b"POST /locations/1/observations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 1000\r\n\r\n{")
        time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        began = time.monotonic()
        status, stderr = ends_within(process, GRACEFUL_S + 8)
    assert time.monotonic() - began < GRACEFUL_S + 8
    # one worker: uvicorn ends by raising the signal it caught again, as an unhandled SIGTERM would
    assert status in (0, -signal.SIGTERM), stderr[-1500:]
    assert time.monotonic() - began < GRACEFUL_S + 10


@pytest.fixture
def sqlite_migrated(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'migrated.db'}"
    upgrade(url)
    return url


def test_a_detector_whose_weights_changed_stops_the_start_with_its_reason(tmp_path, monkeypatch):
    from service.config import Settings
    from service.serving.startup import CannotStart, check_detector
    from service.vision.detectors import blazeface

    changed = tmp_path / blazeface.MODEL_FILE
    changed.write_bytes(b"not the network" + (blazeface.MODEL_DIR / blazeface.MODEL_FILE).read_bytes()[15:])
    monkeypatch.setattr(blazeface, "MODEL_DIR", tmp_path)
    with pytest.raises(CannotStart, match="blazeface face detector cannot be built.*SHA-256"):
        check_detector(Settings(detector="blazeface"))
    check_detector(Settings(detector="hog"))  # the paper's detector needs no weights file
