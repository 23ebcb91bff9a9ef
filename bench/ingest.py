"""Ingestion throughput: N cameras post real frames concurrently to `happiness serve` (default
workers), on SQLite and on PostgreSQL, with the real detector and with the stub detector (API +
database overhead alone). Each camera posts its next frame when the previous one is answered.

    happiness bench ingest [--cameras 16] [--frames 400] [--databases sqlite,postgres] [--quick]

Reports frames/s, p50/p95/p99 latency, the error rate, the CPU ms per frame of the server and of
this load generator (both share the machine's cores), the 1-minute load average at the start and
end of each run, and checks after each run that the stored frames and faces equal what the
answers counted.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from tqdm import tqdm

from bench import databases, server
from bench.timing import percentile

REAL_FRAMES = ("obama-720p.jpg", "obama-480p.jpg", "two_people.jpg", "kit_with_rose.jpg")
STUB_FRAME = "obama_small.jpg"  # small, so decoding does not hide the API + database cost
STUB_FRAMES_FACTOR = 5  # the stub answers far faster; more frames keep the run long enough to time
ADMIN = {"Authorization": f"Bearer {server.ADMIN_TOKEN}"}
REQUEST_TIMEOUT_S = 120


@dataclass
class LoadResult:
    database: str
    detector: str
    cameras: int
    latencies_ms: list[float] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    faces_answered: int = 0
    wall_s: float = 0.0
    server_cpu_s: float = 0.0
    client_cpu_s: float = 0.0
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average at the start and the end
    rss_mb: tuple[float, float] = (0.0, 0.0)  # server processes' resident memory at the start and the end
    stored: dict = field(default_factory=dict)

    @property
    def ok(self) -> int:
        return sum(status in (200, 201) for status in self.statuses)

    def counts_match(self) -> bool:
        return self.stored.get("frames") == self.ok and self.stored.get("faces") == self.faces_answered


class CameraConnection:
    """One camera's keep-alive HTTP/1.1 connection, written by hand: httpx's own CPU per
    request was as large as the server's it measures, on the same cores. It sends what a
    camera sends (a raw image/jpeg body, its Bearer key, the frame_id as a query parameter) and
    reads the status line and the JSON body; a broken exchange closes the connection (the
    next frame opens a new one) and counts as an error."""

    def __init__(self, host: str, port: int, path: str, key: str) -> None:
        self.host, self.port = host, port
        self._head = (f"POST {path}?frame_id={{frame_id}} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                      f"Authorization: Bearer {key}\r\nContent-Type: image/jpeg\r\n"
                      "Content-Length: {length}\r\n\r\n")
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(self, frame_id: str, image: bytes) -> tuple[int, dict]:
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT_S):
                return await self._exchange(frame_id, image)
        except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            self.close()
            return 0, {}

    async def _exchange(self, frame_id: str, image: bytes) -> tuple[int, dict]:
        if self._streams is None:
            self._streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self._streams
        writer.write(self._head.format(frame_id=frame_id, length=len(image)).encode() + image)
        head = await reader.readuntil(b"\r\n\r\n")
        body = await reader.readexactly(_content_length(head))
        return int(head[9:12]), json.loads(body)

    def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None


def _content_length(head: bytes) -> int:
    for line in head.lower().split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return int(line[15:])
    raise ValueError("response without Content-Length")


async def _camera(connection: CameraConnection, key: str, frames: list[bytes], result: LoadResult,
                  progress) -> None:
    for number, image in enumerate(frames):
        started = time.perf_counter()
        status, body = await connection.post(f"{key[-8:]}-{number}", image)
        result.faces_answered += body["faces"] if status == 201 else 0
        result.latencies_ms.append((time.perf_counter() - started) * 1e3)
        result.statuses.append(status)
        progress.update(1)
    connection.close()


async def drive(base: str, location_id: int, keys: list[str], images: list[bytes], total: int,
                result: LoadResult) -> None:
    """Every camera posts its share of `total` frames, cycling through `images`, over its own
    connection."""
    share = [[images[(c + n) % len(images)] for n in range(total // len(keys))] for c in range(len(keys))]
    server_url = httpx.URL(base)
    path = f"/locations/{location_id}/frames"
    with tqdm(total=sum(map(len, share)), desc=f"{result.database}/{result.detector}", unit="frame",
              disable=None) as progress:
        await asyncio.gather(*(_camera(CameraConnection(server_url.host, server_url.port, path, key),
                                       key, frames, result, progress)
                               for key, frames in zip(keys, share)))


def _register(base: str, name: str, cameras: int) -> tuple[int, list[str]]:
    location = httpx.post(f"{base}/locations", json={"name": name}, headers=ADMIN).raise_for_status().json()
    keys = [httpx.post(f"{base}/locations/{location['id']}/cameras", json={"name": f"cam{n}"},
                       headers=ADMIN).raise_for_status().json()["api_key"] for n in range(cameras)]
    return location["id"], keys


def _stored(base: str, location_id: int) -> dict:
    now = datetime.now(UTC)
    params = {"from": (now - timedelta(days=1)).isoformat(), "to": (now + timedelta(hours=1)).isoformat()}
    return httpx.get(f"{base}/locations/{location_id}/happiness-index", params=params,
                     headers=ADMIN).raise_for_status().json()["overall"]


def run_load(database: str, url: str, detector: str, cameras: int, total: int, images: list[bytes]) -> LoadResult:
    result = LoadResult(database, detector, cameras)
    port = server.free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as folder:
        process = server.start(url, Path(folder), port, detector)
        try:
            server.await_ready(base, process)
            location_id, keys = _register(base, f"load {detector}", cameras)
            load_before, cpu_before = os.getloadavg()[0], server.cpu_seconds(process.pid)
            rss_before = server.resident_mb(process.pid)
            client_before, started = time.process_time(), time.perf_counter()
            asyncio.run(drive(base, location_id, keys, images, total, result))
            result.wall_s = time.perf_counter() - started
            result.client_cpu_s = time.process_time() - client_before
            result.server_cpu_s = server.cpu_seconds(process.pid) - cpu_before
            result.load = (load_before, os.getloadavg()[0])
            result.rss_mb = (rss_before, server.resident_mb(process.pid))
            result.stored = _stored(base, location_id)
        finally:
            server.stop(process)
    return result


def markdown(results: list[LoadResult]) -> str:
    rows = ["| database | detector | cameras | frames | frames/s | p50 ms | p95 ms | p99 ms | errors "
            "| server cpu ms/frame | client cpu ms/frame | server MB start-end | load 1 min | stored = sent |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |"]
    for r in results:
        sent, answered = len(r.statuses), max(r.ok, 1)
        rows.append(f"| {r.database} | {r.detector} | {r.cameras} | {sent} | {r.ok / r.wall_s:.1f} "
                    f"| {percentile(r.latencies_ms, 50):.1f} | {percentile(r.latencies_ms, 95):.1f} "
                    f"| {percentile(r.latencies_ms, 99):.1f} | {(sent - r.ok) / sent:.1%} "
                    f"| {r.server_cpu_s * 1e3 / answered:.2f} | {r.client_cpu_s * 1e3 / answered:.2f} "
                    f"| {r.rss_mb[0]:.0f}-{r.rss_mb[1]:.0f} | {r.load[0]:.1f}-{r.load[1]:.1f} "
                    f"| {'yes' if r.counts_match() else 'NO'} ({r.stored.get('frames')} frames, "
                    f"{r.stored.get('faces')} faces) |")
    return "\n".join(rows)


def main(samples: Path, names: list[str], cameras: int, frames: int, quick: bool,
         detectors: list[str] = ("blazeface", "stub")) -> int:
    """Each real detector named (blazeface, hog) on the real frames, and the stub on its one frame."""
    real = [(samples / name).read_bytes() for name in REAL_FRAMES if (samples / name).exists()]
    stub = [(samples / STUB_FRAME).read_bytes()] if (samples / STUB_FRAME).exists() else real[:1]
    plans = [(name, real, frames, cameras) for name in detectors if name != "stub"]
    plans = [("stub", stub, 20, 4)] if quick else [*plans, ("stub", stub, frames * STUB_FRAMES_FACTOR, cameras)]
    plans = [plan for plan in plans if plan[0] in detectors]
    results = []
    for name in (["sqlite"] if quick else names):
        with databases.scratch(name) as url:
            if url is None:
                print(f"{name}: no server reachable, skipped")
                continue
            results += [run_load(name, url, detector, count, total, images)
                        for detector, images, total, count in plans]
    print(markdown(results))
    return 0 if all(r.counts_match() for r in results) else 1
