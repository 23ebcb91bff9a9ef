"""Hostile and unsupported image bodies, each with the status the service answers it with: the
soak sends them among valid frames, and the API tests assert each answer."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image

# format -> Pillow's writer options; all refused by name (415) since the decoder opens only JPEG and PNG
REFUSED_FORMATS = {"GIF": {}, "BMP": {}, "TIFF": {}, "WEBP": {}, "JPEG2000": {}, "EPS": {}}
UNRECOGNISED_FORMATS = {"TGA": {}, "PCX": {}}  # no magic bytes to name them by: 422


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def small_rgb(width: int = 64, height: int = 48, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8))


def jpeg_without_pixel_data(width: int = 6000, height: int = 6000) -> bytes:
    """A well-formed JPEG header declaring width x height, its scan cut off right after the
    start-of-scan header and closed by an end-of-image marker: libjpeg decodes it to a grey
    frame with a mere warning."""
    data = encoded(small_rgb(), "JPEG")
    sof = data.index(b"\xff\xc0")
    data = data[:sof + 5] + struct.pack(">HH", height, width) + data[sof + 9:]
    sos = data.index(b"\xff\xda")
    header_length = struct.unpack(">H", data[sos + 2:sos + 4])[0]
    return data[:sos + 2 + header_length] + b"\xff\xd9"


def truncated_jpeg() -> bytes:
    data = encoded(small_rgb(640, 480), "JPEG")
    return data[: len(data) // 2]


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_with_short_pixel_data(width: int = 2000, height: int = 2000) -> bytes:
    """A PNG whose header declares width x height but whose one IDAT holds a few rows."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (3 * width + 1) * 4)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", rows) + png_chunk(b"IEND", b"")


def refused_format_bodies() -> dict[str, bytes]:
    """Every format the decoder refuses, as Pillow writes it (those it cannot write here are
    left out)."""
    bodies = {}
    for name, options in {**REFUSED_FORMATS, **UNRECOGNISED_FORMATS}.items():
        try:
            bodies[name] = encoded(small_rgb(), name, **options)
        except (KeyError, OSError):  # no encoder for it in this Pillow build
            continue
    return bodies


def hostile_bodies() -> dict[str, tuple[bytes, int]]:
    """name -> (body, the status the service answers it with)."""
    cases = {f"{name} image": (body, 422 if name in UNRECOGNISED_FORMATS else 415)
             for name, body in refused_format_bodies().items()}
    cases |= {
        "JPEG with no pixel data": (jpeg_without_pixel_data(), 422),
        "truncated JPEG": (truncated_jpeg(), 422),
        "PNG with short pixel data": (png_with_short_pixel_data(), 422),
        "text": (b"GET / HTTP/1.1\nthis is not an image\n", 422),
        "empty": (b"", 422),
    }
    return cases
