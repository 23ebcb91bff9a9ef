"""The image test's scan for image bytes in the files a container changed (docker/image_check.py):
it must find a JPEG, a PNG and the posted photo's bytes wherever they were written, and nothing
in files without them."""

from __future__ import annotations

import importlib.util
from io import BytesIO
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("image_check", ROOT / "docker" / "image_check.py")
image_check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(image_check)


def encoded(image_format: str) -> bytes:
    pixels = np.random.default_rng(0).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    buffer = BytesIO()
    Image.fromarray(pixels).save(buffer, format=image_format)
    return buffer.getvalue()


def container_root(tmp_path: Path, files: dict[str, bytes]) -> Path:
    for name, content in files.items():
        path = tmp_path / name.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return tmp_path


def test_finds_jpeg_png_and_the_posted_photo_in_changed_files(tmp_path):
    photo = encoded("JPEG")
    middle = photo[len(photo) // 2 - 100 : len(photo) // 2 + 100]  # no JPEG header, only its middle
    root = container_root(tmp_path, {"/tmp/frame.jpg": encoded("JPEG"), "/data/x.png": encoded("PNG"),
                                     "/var/log/raw.bin": b"log line\n" + middle, "/etc/hosts": b"127.0.0.1 localhost\n"})
    hits, files, total = image_check.find_image_bytes(
        root, ["/tmp/frame.jpg", "/data/x.png", "/var/log/raw.bin", "/etc/hosts", "/data", "/gone"], photo)
    assert files == 4 and total > 0
    assert "/tmp/frame.jpg: jpeg" in hits and "/data/x.png: png" in hits
    assert "/var/log/raw.bin: posted photo" in hits
    assert not [hit for hit in hits if hit.startswith("/etc/hosts")]


def test_a_clean_container_has_no_hits(tmp_path):
    root = container_root(tmp_path, {"/etc/hosts": b"127.0.0.1 localhost\n", "/run/.containerenv": b"engine=podman\n"})
    hits, files, _ = image_check.find_image_bytes(root, ["/etc/hosts", "/run/.containerenv"], encoded("JPEG"))
    assert hits == [] and files == 2


def test_files_outside_the_change_list_are_not_read(tmp_path):
    """The scan reads what podman diff listed: the image's own files are not the container's."""
    root = container_root(tmp_path, {"/usr/share/icon.png": encoded("PNG")})
    assert image_check.find_image_bytes(root, [], encoded("JPEG")) == ([], 0, 0)
