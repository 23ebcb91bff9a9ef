"""Scale-out: two `happiness serve` processes on one database (PostgreSQL, and SQLite too) take thousands of
concurrent frame posts (stub detector), some with repeated frame_ids; the stored counts must
equal the unique frames exactly."""

import asyncio
import subprocess

import httpx
import pytest

from support import ADMIN_TOKEN, free_port, jpeg_bytes, serve_process, wait_until_ready

pytestmark = pytest.mark.slow

POSTS, UNIQUE_FRAMES, CONCURRENCY = 2000, 1500, 64


def start_server(port: int, database_url: str, data_dir) -> subprocess.Popen:
    return serve_process(database_url, port, data_dir, HAPPINESS_CAMERA_RATE_PER_MINUTE="0")


async def post_all(urls: list[str], location_id: int, key: str) -> list[int]:
    image, limit = jpeg_bytes(), asyncio.Semaphore(CONCURRENCY)
    async with httpx.AsyncClient(timeout=120) as client:
        async def post(number: int) -> int:
            async with limit:
                response = await client.post(
                    f"{urls[number % len(urls)]}/locations/{location_id}/frames",
                    params={"frame_id": f"frame-{number % UNIQUE_FRAMES}"}, content=image,
                    headers={"Authorization": f"Bearer {key}", "Content-Type": "image/jpeg"})
                return response.status_code
        return await asyncio.gather(*(post(n) for n in range(POSTS)))


def test_two_servers_count_every_unique_frame_exactly_once(database_url, tmp_path):
    ports = [free_port(), free_port()]
    servers = [start_server(port, database_url, tmp_path) for port in ports]
    try:
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        for url, server in zip(urls, servers):
            wait_until_ready(url, server)
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        location = httpx.post(f"{urls[0]}/locations", json={"name": "Scale"}, headers=admin).json()
        key = httpx.post(f"{urls[1]}/locations/{location['id']}/cameras", json={"name": "c"},
                         headers=admin).json()["api_key"]
        statuses = asyncio.run(post_all(urls, location["id"], key))
        overall = httpx.get(f"{urls[0]}/locations/{location['id']}/happiness-index", headers=admin).json()["overall"]
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)
    print(f"scale-out: {POSTS} posts, {UNIQUE_FRAMES} unique frame_ids, statuses "
          f"{ {s: statuses.count(s) for s in set(statuses)} }, stored frames {overall['frames']}")
    assert statuses.count(201) == UNIQUE_FRAMES and statuses.count(200) == POSTS - UNIQUE_FRAMES
    assert overall["frames"] == UNIQUE_FRAMES and overall["faces"] == UNIQUE_FRAMES
