"""Soak: many frames of mixed sizes and formats, valid and hostile, through `happiness serve`
with two worker processes, sampling each worker's resident memory (VmRSS) as it goes. Does a
worker's memory settle, or grow with every large decode?

    happiness bench soak [--frames 20000] [--detectors blazeface|hog|stub] [--out runs/soak] [--quick]

The mix, cycled: the sample photos as JPEG at their own size and scaled to 4000 px wide (12 Mpx),
PNG copies, multipart and raw bodies, and one hostile body in five (bench.hostile: formats the
service refuses, pixel data that stops short, text). Every answer must be the expected status:
201 for a valid frame, the hostile body's own 4xx; a 5xx or another status is counted as an
error (0: the connection broke without an answer). The server's log goes to --out. Reports each worker's RSS after the first 1,000 frames and at the end (target: within
15%), a table every `--sample-every` frames, and a plot (soak_rss.png in --out)."""

from __future__ import annotations

import asyncio
import io
import json
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from PIL import Image
from tqdm import tqdm

from bench import databases, server
from bench.hostile import hostile_bodies

ADMIN = {"Authorization": f"Bearer {server.ADMIN_TOKEN}"}
WORKERS = 2
CLIENTS = 4
HOSTILE_EVERY = 5
LARGE_WIDTH = 4000
BASELINE_FRAMES = 1000
WINDOW = 5  # samples whose median is a worker's memory at a point of the run
TARGET_GROWTH = 0.15


@dataclass(frozen=True)
class Body:
    name: str
    data: bytes
    content_type: str
    expected: int
    multipart: bool = False


@dataclass
class SoakResult:
    frames: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    unexpected: dict[str, int] = field(default_factory=dict)
    samples: list[tuple[int, list[float]]] = field(default_factory=list)  # (frames sent, RSS MiB per worker)
    kinds: list[list[dict[str, float]]] = field(default_factory=list)  # per sample, per worker: server.memory_kinds_mib
    worker_pids: set[int] = field(default_factory=set)  # every worker seen: more than WORKERS means restarts
    worker_cpu_s: list[float] = field(default_factory=list)  # at the end: did both workers serve?
    wall_s: float = 0.0

    def sample(self, supervisor_pid: int) -> None:
        pids = worker_pids(supervisor_pid)
        self.worker_pids |= set(pids)
        self.samples.append((self.frames, [server._own_resident_kib(pid) / 1024 for pid in pids]))
        self.kinds.append([server.memory_kinds_mib(pid) for pid in pids])


def _encoded(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return buffer.getvalue()


def valid_bodies(samples: Path, quick: bool) -> list[Body]:
    """Each sample as JPEG (its own size, and scaled up to LARGE_WIDTH) and as PNG, some of
    them sent as multipart forms."""
    bodies = []
    for number, path in enumerate(sorted(samples.glob("*.jpg"))[: 2 if quick else None]):
        image = Image.open(path).convert("RGB")
        large = image.resize((LARGE_WIDTH, round(image.height * LARGE_WIDTH / image.width)))
        bodies += [Body(path.name, path.read_bytes(), "image/jpeg", 201, multipart=number % 2 == 1),
                   Body(f"{path.stem}-png", _encoded(image, "PNG"), "image/png", 201),
                   Body(f"{path.stem}-{LARGE_WIDTH}px", _encoded(large, "JPEG"), "image/jpeg", 201,
                        multipart=number % 2 == 0)]
    return bodies


def mixed_bodies(samples: Path, quick: bool) -> list[Body]:
    """The valid bodies with a hostile one after every HOSTILE_EVERY - 1 of them."""
    valid = valid_bodies(samples, quick)
    hostile = [Body(name, data, "image/jpeg", status) for name, (data, status) in hostile_bodies().items()]
    mixed, next_hostile = [], 0
    for number in range(len(valid) * HOSTILE_EVERY // (HOSTILE_EVERY - 1)):
        if number % HOSTILE_EVERY == HOSTILE_EVERY - 1:
            mixed.append(hostile[next_hostile % len(hostile)])
            next_hostile += 1
        else:
            mixed.append(valid[(number - next_hostile) % len(valid)])
    return mixed


async def _post(client: httpx.AsyncClient, url: str, key: str, body: Body, frame_id: str) -> int:
    """The answer's status; 0 when the connection broke without one."""
    headers = {"Authorization": f"Bearer {key}"}
    try:
        if body.multipart:
            response = await client.post(url, headers=headers, data={"frame_id": frame_id},
                                         files={"image": ("frame", body.data, body.content_type)})
        else:
            response = await client.post(url, headers={**headers, "Content-Type": body.content_type},
                                         params={"frame_id": frame_id}, content=body.data)
    except httpx.TransportError:
        return 0
    return response.status_code


async def drive(base: str, location_id: int, keys: list[str], bodies: list[Body], total: int,
                sample_every: int, pid: int, result: SoakResult) -> None:
    url = f"{base}/locations/{location_id}/frames"
    queue = iter(range(total))
    # a new connection for every frame: kept-alive connections all stay with the worker that
    # accepted them, and one worker could serve the whole run while the other idles
    async with httpx.AsyncClient(timeout=300, limits=httpx.Limits(max_keepalive_connections=0)) as client:
        async def worker(key: str, progress) -> None:
            for number in queue:
                body = bodies[number % len(bodies)]
                status = await _post(client, url, key, body, f"soak-{number}")
                result.statuses[status] = result.statuses.get(status, 0) + 1
                if status != body.expected:
                    result.unexpected[f"{body.name}: {status}"] = result.unexpected.get(f"{body.name}: {status}", 0) + 1
                result.frames += 1
                if result.frames % sample_every == 0:
                    result.sample(pid)
                progress.update(1)

        with tqdm(total=total, desc="soak", unit="frame", disable=None) as progress:
            await asyncio.gather(*(worker(key, progress) for key in keys))


def worker_pids(supervisor_pid: int) -> list[int]:
    """The uvicorn workers: the supervisor's children that run spawn_main."""
    return sorted(pid for pid in server._children(supervisor_pid) if b"spawn_main" in _cmdline(pid))


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def run_soak(url: str, detector: str, total: int, sample_every: int, bodies: list[Body],
             log_path: Path) -> SoakResult:
    result = SoakResult()
    port = server.free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as folder, open(log_path, "w+b") as log:
        process = server.start(url, Path(folder), port, detector, workers=WORKERS, log=log)
        try:
            _await_ready(base, process, log)
            location = httpx.post(f"{base}/locations", json={"name": "soak"}, headers=ADMIN).raise_for_status().json()
            keys = [httpx.post(f"{base}/locations/{location['id']}/cameras", json={"name": f"c{n}"},
                               headers=ADMIN).raise_for_status().json()["api_key"] for n in range(CLIENTS)]
            result.sample(process.pid)
            started = time.perf_counter()
            asyncio.run(drive(base, location["id"], keys, bodies, total, sample_every, process.pid, result))
            result.wall_s = time.perf_counter() - started
            result.worker_cpu_s = [server._own_cpu_seconds(pid) for pid in worker_pids(process.pid)]
        finally:
            server.stop(process)
    return result


def _await_ready(base: str, process, log) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"server exited: {log.read().decode()[-2000:]}")
        try:
            if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{base} not ready after 300 s")


def _baseline_start(result: SoakResult) -> int:
    """Index of the first sample taken after BASELINE_FRAMES frames (1 in a shorter run): the
    start of the window both `growth` and `kinds_change` compare the end with."""
    return next((number for number, (frames, _) in enumerate(result.samples) if frames >= BASELINE_FRAMES), 1)


def growth(result: SoakResult) -> list[float]:
    """Each worker's RSS at the end over its RSS after BASELINE_FRAMES frames, minus 1; each is
    the median of WINDOW samples, because a single sample swings by a large frame's buffers
    (tens of MiB) with what is in flight at that moment."""
    rows, first = [rss for _, rss in result.samples], _baseline_start(result)
    baseline, final = _median_rss(rows[first:first + WINDOW]), _median_rss(rows[-WINDOW:])
    return [end / start - 1 for start, end in zip(baseline, final)]


def kinds_change(result: SoakResult) -> list[str]:
    """Per worker, where its memory lies after BASELINE_FRAMES frames and at the end (medians of
    WINDOW samples): which kind grew."""
    first = _baseline_start(result)
    windows = result.kinds[first:first + WINDOW], result.kinds[-WINDOW:]
    lines = []
    for worker in range(WORKERS):
        start, end = ({name: statistics.median(sample[worker][name] for sample in window if len(sample) > worker)
                       for name in ("heap", "anon", "file", "threads")} for window in windows)
        lines.append(f"worker {worker + 1}: " + ", ".join(
            f"{name} {start[name]:.0f} -> {end[name]:.0f}" + ("" if name == "threads" else " MiB") for name in start))
    return lines


def _median_rss(rows: list[list[float]]) -> list[float]:
    """Per worker, the median of its RSS over `rows` (one list of RSS per sample)."""
    return [statistics.median(row[worker] for row in rows) for worker in range(len(rows[0]))]


def markdown(result: SoakResult) -> str:
    rows = ["| frames | " + " | ".join(f"worker {n + 1} RSS MiB" for n in range(WORKERS)) + " |",
            "| ---: | " + " | ".join("---:" for _ in range(WORKERS)) + " |"]
    rows += [f"| {frames} | " + " | ".join(f"{mb:.0f}" for mb in rss) + " |" for frames, rss in result.samples]
    changes = ", ".join(f"{change:+.1%}" for change in growth(result))
    verdict = "within" if all(abs(change) <= TARGET_GROWTH for change in growth(result)) else "OUTSIDE"
    errors = sum(result.unexpected.values())
    return "\n".join([*rows, "", f"{result.frames} frames in {result.wall_s:.0f} s; statuses {dict(sorted(result.statuses.items()))}; "
                      f"unexpected answers: {errors} {result.unexpected or ''}; "
                      f"workers restarted: {len(result.worker_pids) - WORKERS}; worker CPU s: "
                      + ", ".join(f"{cpu:.0f}" for cpu in result.worker_cpu_s),
                      f"RSS change from frame {BASELINE_FRAMES} to the end (medians of {WINDOW} samples), "
                      f"per worker: {changes} "
                      f"({verdict} the {TARGET_GROWTH:.0%} target)",
                      "where it lies (heap: glibc's main arena; anon: other anonymous maps; file: mapped files):",
                      *kinds_change(result)])


def plot(result: SoakResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 3.5))
    for worker in range(WORKERS):
        points = [(frames, rss[worker]) for frames, rss in result.samples if len(rss) > worker]
        axes.plot(*zip(*points), marker=".", label=f"worker {worker + 1}")
    axes.set(xlabel="frames sent", ylabel="resident memory (MiB)", title="happiness bench soak")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main(samples: Path, database: str, frames: int, detector: str, out: Path | None, quick: bool) -> int:
    bodies = mixed_bodies(samples, quick)
    total, sample_every = (60, 20) if quick else (frames, max(frames // 40, 1))
    with databases.scratch(database) as url:
        if url is None:
            print(f"{database}: no server reachable")
            return 2
        with tempfile.TemporaryDirectory() as folder:
            log_path = (out or Path(folder)) / "server.log"
            log_path.parent.mkdir(parents=True, exist_ok=True)
            result = run_soak(url, "stub" if quick else detector, total, sample_every, bodies, log_path)
    print(markdown(result))
    if out is not None:
        plot(result, out / "soak_rss.png")
        (out / "soak.json").write_text(json.dumps({"samples": result.samples, "statuses": result.statuses,
                                                    "unexpected": result.unexpected, "wall_s": result.wall_s,
                                                    "kinds": result.kinds}))
    return 0 if not result.unexpected and len(result.worker_pids) == WORKERS else 1
