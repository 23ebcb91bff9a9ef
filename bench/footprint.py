"""What one serving worker costs: seconds from `happiness serve --workers 1` to a 200 from
/ready (wall, and the process's CPU time by then, which a busy machine inflates less), its resident memory (VmRSS) at ready, after the first frame and after more frames, its
peak (VmHWM), and whether TensorFlow's or LiteRT's libraries are mapped into it.

    python bench/footprint.py [--runs 3] [--frames 20] [--samples DIR] [--database sqlite|postgres]

HAPPINESS_BENCH_SERVER_DIR=PATH serves another checkout (see bench/server.py), so that old and
new code are measured by the same harness in the same minutes. With one worker uvicorn serves
in the process it was started as, so that process is the worker measured. Prints a markdown
table and, with --json, one JSON object per run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import databases, server  # noqa: E402
from bench.frames import DEFAULT_SAMPLES  # noqa: E402

ADMIN = {"Authorization": f"Bearer {server.ADMIN_TOKEN}"}
FRAMES = ("obama-720p.jpg", "two_people.jpg", "obama_and_biden.jpg", "kit_with_rose.jpg")
COLUMNS = ("ready_s", "ready_cpu_s", "rss_ready_mb", "rss_first_frame_mb", "rss_after_frames_mb", "peak_mb")


def status_mb(pid: int, field: str) -> float:
    """One memory line of /proc/PID/status (VmRSS, VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


def mapped_libraries(pid: int, *needles: str) -> dict[str, int]:
    """How many distinct files mapped into the process have each needle in their path."""
    paths = {line.split(None, 5)[5] for line in Path(f"/proc/{pid}/maps").read_text().splitlines()
             if len(line.split(None, 5)) == 6}
    return {needle: sum(needle in path for path in paths) for needle in needles}


def wait_ready(base: str, process, started: float, timeout: float = 300) -> float:
    """Seconds from `started` to the first 200 of /ready, polled every 20 ms."""
    while time.monotonic() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {process.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.02)
    raise RuntimeError(f"{base} not ready after {timeout} s")


def post_frames(base: str, images: list[bytes], count: int, first: int) -> int:
    """Post `count` frames as one camera of a new location; returns the faces answered."""
    location = httpx.post(f"{base}/locations", json={"name": f"footprint {first}"}, headers=ADMIN).raise_for_status()
    location_id = location.json()["id"]
    key = httpx.post(f"{base}/locations/{location_id}/cameras", json={"name": "cam"},
                     headers=ADMIN).raise_for_status().json()["api_key"]
    faces = 0
    for number in range(count):
        answer = httpx.post(f"{base}/locations/{location_id}/frames", content=images[number % len(images)],
                            params={"frame_id": f"f-{first + number}"}, timeout=120,
                            headers={"Authorization": f"Bearer {key}", "Content-Type": "image/jpeg"})
        faces += answer.raise_for_status().json()["faces"]
    return faces


def measure(images: list[bytes], frames: int, database: str) -> dict:
    """One server start on a fresh migrated database of kind `database`."""
    port = server.free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as folder, databases.scratch(database) as url:
        if url is None:
            raise RuntimeError(f"no {database} database available")
        started = time.monotonic()
        process = server.start(url, Path(folder), port, "hog", workers=1)
        try:
            run = {"ready_s": wait_ready(base, process, started), "ready_cpu_s": server.cpu_seconds(process.pid),
                   "rss_ready_mb": status_mb(process.pid, "VmRSS")}
            run["first_frame_faces"] = post_frames(base, images, 1, 0)
            run["rss_first_frame_mb"] = status_mb(process.pid, "VmRSS")
            run["more_frames_faces"] = post_frames(base, images, frames, 1)
            run["rss_after_frames_mb"] = status_mb(process.pid, "VmRSS")
            run["peak_mb"] = status_mb(process.pid, "VmHWM")
            run["mapped"] = mapped_libraries(process.pid, "tensorflow", "ai_edge_litert", "dlib")
        finally:
            server.stop(process)
    return run


def markdown(runs: list[dict], frames: int) -> str:
    header = f"| run | ready s | CPU s by ready | RSS at ready MB | after 1st frame MB | after {frames} more MB | peak MB | tensorflow / litert files mapped |"
    lines = [header, "| --- |" + " ---: |" * 7]
    for number, run in enumerate(runs, 1):
        mapped = f"{run['mapped']['tensorflow']} / {run['mapped']['ai_edge_litert']}"
        lines.append(f"| {number} | " + " | ".join(f"{run[c]:.2f}" if c.endswith("_s") else f"{run[c]:.0f}"
                                                    for c in COLUMNS) + f" | {mapped} |")
    medians = [statistics.median(run[c] for run in runs) for c in COLUMNS]
    lines.append("| median | " + " | ".join(f"{value:.2f}" if c.endswith("_s") else f"{value:.0f}"
                                             for c, value in zip(COLUMNS, medians)) + " | |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="server starts measured")
    parser.add_argument("--frames", type=int, default=20, help="frames posted after the first one")
    parser.add_argument("--samples", type=Path, default=DEFAULT_SAMPLES, help="folder of the sample photos")
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite",
                        help="a fresh migrated database of this kind per run (PostgreSQL: 127.0.0.1:5432)")
    parser.add_argument("--json", action="store_true", help="also print each run as JSON")
    args = parser.parse_args(argv)
    images = [(args.samples / name).read_bytes() for name in FRAMES if (args.samples / name).exists()]
    if not images:
        parser.error(f"none of {', '.join(FRAMES)} in {args.samples}")
    runs = [measure(images, args.frames, args.database) for _ in range(args.runs)]
    if args.json:
        for run in runs:
            print(json.dumps(run))
    print(markdown(runs, args.frames))
    return 0


if __name__ == "__main__":
    sys.exit(main())
