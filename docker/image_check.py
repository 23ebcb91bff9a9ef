"""The checks of `make image-test` (docker/image-test.sh) that speak HTTP or read files.

    image_check.py exercise --base URL --token TOKEN [--photo FILE]   register, post, read; JSON out
    image_check.py scan ROOT CHANGED_LIST [--photo FILE]              image bytes in changed files?
    image_check.py photo [--photo FILE]                               the photo's bytes on stdout

exercise: waits for /ready, registers a location and a camera with the admin token, posts the
photo as that camera, reads the location's index and the city overview, and checks that the
index counts the faces the frame's answer reported. scan: reads every regular file that
`podman diff` listed (CHANGED_LIST, one path a line) under the container's mounted root and
looks for JPEG or PNG signatures and for a slice of the posted photo's bytes; exit status 1 when
any is found. The photo defaults to ../shared/samples/two_people.jpg, else scikit-image's
astronaut encoded in memory (the same bytes each time).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from io import BytesIO
from pathlib import Path

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "samples" / "two_people.jpg"
SIGNATURES = {"jpeg": b"\xff\xd8\xff", "png": b"\x89PNG\r\n\x1a\n"}
SLICE_BYTES = 64


def photo_bytes(path: Path | None) -> bytes:
    if path is not None:
        return path.read_bytes()
    if SAMPLE.exists():
        return SAMPLE.read_bytes()
    from PIL import Image
    from skimage import data

    buffer = BytesIO()
    Image.fromarray(data.astronaut()).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def needles(photo: bytes) -> dict[str, bytes]:
    """What image bytes look like: the formats' signatures and a slice of the posted photo."""
    middle = len(photo) // 2
    return {**SIGNATURES, "posted photo": photo[middle : middle + SLICE_BYTES]}


def find_image_bytes(root: Path, changed: list[str], photo: bytes) -> tuple[list[str], int, int]:
    """(hits as 'path: what', files read, bytes read) over the changed regular files."""
    hits, files, total = [], 0, 0
    for name in changed:
        path = root / name.lstrip("/")
        if path.is_symlink() or not path.is_file():
            continue
        content = path.read_bytes()
        files, total = files + 1, total + len(content)
        hits += [f"{name}: {what}" for what, needle in needles(photo).items() if needle in content]
    return hits, files, total


def wait_ready(base: str, timeout: float) -> float:
    import httpx

    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{base}/ready did not answer 200 within {timeout:.0f} s")


def exercise(base: str, token: str, photo: bytes) -> dict:
    """Register, post the photo as a camera, read the index back; raises on any mismatch."""
    import httpx

    admin = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, timeout=120) as client:
        location = client.post("/locations", json={"name": "Image test square", "timezone": "Europe/Amsterdam"},
                               headers=admin).raise_for_status().json()
        camera = client.post(f"/locations/{location['id']}/cameras", json={"name": "image-test"},
                             headers=admin).raise_for_status().json()
        frame = client.post(f"/locations/{location['id']}/frames", content=photo, params={"frame_id": "image-test-1"},
                            headers={"X-API-Key": camera["api_key"], "Content-Type": "image/jpeg"})
        if frame.status_code != 201 or frame.json()["faces"] < 1:
            raise SystemExit(f"the frame was not counted: {frame.status_code} {frame.text[:500]}")
        index = client.get(f"/locations/{location['id']}/happiness-index", headers=admin).raise_for_status().json()
        overview = client.get("/happiness-index", headers=admin).raise_for_status().json()
        ready = client.get("/ready")
    answer = frame.json()
    if index["overall"]["faces"] != answer["faces"] or index["overall"]["happy"] != answer["happy"]:
        raise SystemExit(f"the index does not count the frame: {index['overall']} after {answer}")
    if ready.status_code != 200:
        raise SystemExit(f"/ready answered {ready.status_code} after the frame: {ready.text[:500]}")
    return {"location_id": location["id"], "faces": answer["faces"], "happy": answer["happy"],
            "labels": [d["label"] for d in answer["detections"]], "index": index["overall"]["index"],
            "overview_locations": len(overview["locations"]), "model": ready.json()["model"]["name"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("exercise")
    run.add_argument("--base", required=True)
    run.add_argument("--token", required=True)
    run.add_argument("--timeout", type=float, default=180)
    scan = commands.add_parser("scan")
    scan.add_argument("root", type=Path)
    scan.add_argument("changed", type=Path)
    show = commands.add_parser("photo")
    for command in (run, scan, show):
        command.add_argument("--photo", type=Path)
    args = parser.parse_args(argv)
    photo = photo_bytes(args.photo)
    if args.command == "photo":  # for the image test's control: the scan must find it when planted
        sys.stdout.buffer.write(photo)
        return 0
    if args.command == "exercise":
        result = {"ready_s": round(wait_ready(args.base, args.timeout), 2), **exercise(args.base, args.token, photo)}
        print(json.dumps(result))
        return 0
    hits, files, total = find_image_bytes(args.root, args.changed.read_text().split(), photo)
    print(json.dumps({"changed_files_read": files, "bytes_read": total, "image_bytes_found": hits}))
    return 1 if hits else 0


if __name__ == "__main__":
    sys.exit(main())
