"""Constants and helpers the tests share (importable as `support`: pytest's pythonpath)."""

from __future__ import annotations

import io
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from service.config import Settings

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SAMPLES = SHARED / "samples"
ADMIN_TOKEN = "test-admin-token-0123456789abcdef0123"
VIEWER_TOKEN = "test-viewer-token-0123456789abcdef012"


def require_samples() -> Path:
    if not SAMPLES.is_dir():
        pytest.skip(f"../shared/samples not found at {SAMPLES} (only on the project's machines)")
    return SAMPLES


class ScriptedClassifier:
    classes = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
    input_size = (48, 48)
    name, version = "scripted", "test"
    metadata = {"happy_vs_rest": {"tpr": 0.9, "fpr": 0.1, "n_happy": 900, "n_other": 2700}}


class ScriptedPipeline:
    """Stands in for detection + classification in API tests: every frame yields one face per
    label in `labels`, and `unread` faces too small to read (10 px boxes, as the pipeline
    leaves below its readable size). Tests about HTTP and storage need no TensorFlow or dlib."""

    def __init__(self, labels: tuple[str, ...] = ("happy", "sad"), unread: int = 0) -> None:
        from service.vision.detectors import build_detector

        self.labels = labels
        self.unread = unread
        self.classifier = ScriptedClassifier()
        self.detector = build_detector("stub")  # names the detector (`stub`); analyze() makes the boxes
        self.calls = 0

    def analyze(self, rgb: np.ndarray):
        from service.vision.detectors.base import FaceBox
        from service.vision.pipeline import Detection, summarize

        self.calls += 1
        detections = [Detection(FaceBox(10, 60, 60, 10), label,
                                {c: float(c == label) for c in self.classifier.classes})
                      for label in self.labels]
        small = [FaceBox(5, 20 * n + 80, 15, 20 * n + 70) for n in range(self.unread)]
        return summarize(detections, self.classifier.classes, {"detect": 0.0, "classify": 0.0}, small)


def empty_database(url: str) -> None:
    """Delete every row of a migrated database (children first), keeping its schema."""
    from service.db.base import Base
    from service.db.engine import make_engine

    engine = make_engine(url)
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())
    engine.dispose()


def make_settings(database_url: str, tmp_path: Path, **overrides) -> Settings:
    values = dict(database_url=database_url, data_dir=tmp_path / "data", admin_token=ADMIN_TOKEN,
                  viewer_token=VIEWER_TOKEN, detector="stub")
    return Settings(**(values | overrides))


ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
VIEWER = {"Authorization": f"Bearer {VIEWER_TOKEN}"}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def add_location(client, name: str = "Station Square", timezone: str = "UTC", **fields) -> dict:
    response = client.post("/locations", json={"name": name, "timezone": timezone, **fields}, headers=ADMIN)
    assert response.status_code == 201, response.text
    return response.json()


def post_frame_at(client, location_id: int, key: str, captured_at) -> None:
    """Post the stock JPEG as camera `key`, captured at `captured_at`; it must be counted."""
    response = client.post(f"/locations/{location_id}/frames", content=jpeg_bytes(),
                           params={"captured_at": captured_at.isoformat()},
                           headers={"Authorization": f"Bearer {key}", "Content-Type": "image/jpeg"})
    assert response.status_code == 201, response.text


def add_camera(client, location_id: int, name: str = "cam") -> dict:
    response = client.post(f"/locations/{location_id}/cameras", json={"name": name}, headers=ADMIN)
    assert response.status_code == 201, response.text
    return response.json()


@contextmanager
def commits_failing(app):
    """Meanwhile every request's write session fails at its commit, as when the database goes
    away between the writes and the commit."""
    from sqlalchemy.exc import OperationalError

    from service.api.deps import get_session

    def session_whose_commit_fails():
        session = app.state.session_factory()

        def commit():  # whoever commits, the endpoint or the dependency, meets the failure
            raise OperationalError("COMMIT", {}, Exception("database went away"))

        session.commit = commit
        try:
            yield session
        finally:
            session.rollback()
            session.close()

    app.dependency_overrides[get_session] = session_whose_commit_fails
    try:
        yield
    finally:
        del app.dependency_overrides[get_session]


def jpeg_bytes(width: int = 64, height: int = 48) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.full((height, width, 3), 128, np.uint8)).save(buffer, format="JPEG")
    return buffer.getvalue()


class LiveServer:
    """The app served by a real uvicorn in a background thread, on a free local port."""

    def __init__(self, app) -> None:
        import socket

        import uvicorn

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))

    def __enter__(self) -> "LiveServer":
        import threading
        import time

        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the live server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve_process(database_url: str, port: int, data_dir, detector: str = "stub", **environment: str):
    """`happiness serve` (one worker) as a subprocess on a migrated database; `environment` adds
    HAPPINESS_* settings. Wait for it with wait_until_ready."""
    import os
    import subprocess
    import sys

    settings = {"HAPPINESS_DATABASE_URL": database_url, "HAPPINESS_DETECTOR": detector,
                "HAPPINESS_ADMIN_TOKEN": ADMIN_TOKEN, "HAPPINESS_DATA_DIR": str(data_dir),
                "HAPPINESS_LOG_LEVEL": "warning", "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--port", str(port), "--workers", "1"],
                            env={**os.environ, **settings, **environment}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


def wait_until_ready(url: str, process, timeout: float = 180) -> None:
    """Poll /ready of a server started as a subprocess; fail with its stderr if it dies."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {process.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} not ready after {timeout} s")


class TcpProxy:
    """A TCP forwarder to a real server that a test can cut and restore, to play a database
    outage without touching the server itself."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        import socket

        self.upstream = (upstream_host, upstream_port)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._connections: list = []
        self._listener = None

    def start(self) -> None:
        import socket
        import threading

        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", self.port))
        self._listener.listen()
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()

    def stop(self) -> None:
        """Refuse new connections and cut the open ones, as a network outage would."""
        import socket

        for connection in [self._listener, *self._connections]:
            try:  # shutdown, not just close: a thread blocked in recv() must see the cut
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            connection.close()
        self._connections.clear()

    def _accept(self, listener) -> None:
        import socket
        import threading

        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.upstream)
            self._connections += [client, upstream]
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, target), daemon=True).start()

    @staticmethod
    def _pipe(source, target) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, target):
                try:
                    end.close()
                except OSError:
                    pass


def add_location_with_camera(session) -> tuple[int, int]:
    """A location and a camera written straight to the database (tests below the API)."""
    from service.db.tables import Camera, Location

    location = Location(name="L", timezone="UTC")
    session.add(location)
    session.flush()
    camera = Camera(location_id=location.id, name="c", key_hash="h" * 64, key_prefix="p")
    session.add(camera)
    session.flush()
    return location.id, camera.id


# Face heights from ../shared/samples/README.md (dlib HOG with one upsample).
SAMPLE_FACE_HEIGHTS: dict[str, tuple[int, ...]] = {
    "alex_lacamoire1.jpg": (321,),
    "biden.jpg": (321,),
    "johnsnow_test1.jpg": (186,),
    "kit_with_rose.jpg": (74, 107),
    "obama-1080p.jpg": (267,),
    "obama-480p.jpg": (107,),
    "obama-720p.jpg": (186,),
    "obama_and_biden.jpg": (185, 223, 154),
    "obama_small.jpg": (107,),
    "two_people.jpg": (185, 155),
}
