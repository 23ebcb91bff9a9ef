"""Latency of one `POST /locations/{id}/frames` over HTTP, with the real detector and model,
against a live uvicorn server in this process (embedded SQLite in a temporary folder).

    .venv/bin/python bench/frame_latency.py [IMAGE] [--repeat 20]

Prints the median, p90 and min wall time per request and the server-side detect/classify
split reported by the pipeline. A measurement, not a test: it never fails on a slow machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from service.config import Settings  # noqa: E402
from service.db.migrate import upgrade  # noqa: E402
from service.main import build_pipeline, create_app  # noqa: E402
from support import LiveServer  # noqa: E402

DEFAULT_IMAGE = ROOT.parent / "shared" / "samples" / "obama-720p.jpg"
TOKEN = "bench-admin-token-0123456789abcdef0123456"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("image", nargs="?", type=Path, default=DEFAULT_IMAGE)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=Path(folder), admin_token=TOKEN)
        upgrade(settings.resolved_database_url)
        pipeline = build_pipeline(settings)
        with LiveServer(create_app(settings, pipeline=pipeline)) as server:
            timings = measure(server.url, args.image.read_bytes(), args.repeat)
    report(args.image, timings)
    return 0


def measure(url: str, image: bytes, repeat: int) -> list[float]:
    admin = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=url, timeout=60) as client:
        location = client.post("/locations", json={"name": "bench"}, headers=admin).json()
        key = client.post(f"/locations/{location['id']}/cameras", json={"name": "c"}, headers=admin).json()["api_key"]
        post = lambda: client.post(f"/locations/{location['id']}/frames", content=image,  # noqa: E731
                                   headers={"Authorization": f"Bearer {key}", "Content-Type": "image/jpeg"})
        post().raise_for_status()  # warm-up: first call builds the interpreter's tensors
        timings = []
        for _ in range(repeat):
            started = time.perf_counter()
            post().raise_for_status()
            timings.append((time.perf_counter() - started) * 1e3)
    return timings


def report(image: Path, timings: list[float]) -> None:
    ordered = sorted(timings)
    p90 = ordered[int(0.9 * (len(ordered) - 1))]
    print(f"POST /frames {image.name}: n={len(timings)} median {statistics.median(timings):.1f} ms, "
          f"p90 {p90:.1f} ms, min {ordered[0]:.1f} ms")


if __name__ == "__main__":
    sys.exit(main())
