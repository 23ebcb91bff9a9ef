"""decode_image: every colour mode, EXIF orientation, broken input, pixel limits."""

from __future__ import annotations

import struct
import time
import tracemalloc
import zlib
from io import BytesIO

import numpy as np
import pytest
from PIL import Image

from service.vision.decode import decode_image
from service.vision.errors import ImageError, ImageTooLarge, UndecodableImage

LIMIT = 40_000_000


def png_bytes(width: int, height: int, bit_depth: int, colour_type: int, pixels: bytes = b"") -> bytes:
    """A PNG written by hand, so the header can declare sizes and depths Pillow won't write."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(pixels)) + chunk(b"IEND", b"")


def png16_rgb(samples: np.ndarray) -> bytes:
    """16-bit RGB PNG from a uint16 HxWx3 array (filter type 0 on every row)."""
    height, width, _ = samples.shape
    rows = b"".join(b"\x00" + samples[row].astype(">u2").tobytes() for row in range(height))
    return png_bytes(width, height, 16, 2, rows)


def gradient(height: int = 32, width: int = 48) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 5, y * 7, (x + y) * 2], axis=2).astype(np.uint8)


def assert_rgb(result: np.ndarray, height: int, width: int) -> None:
    assert result.dtype == np.uint8
    assert result.shape == (height, width, 3)
    assert result.flags["C_CONTIGUOUS"]


def test_rgb_png_round_trips_exactly(encode):
    pixels = gradient()
    result = decode_image(encode(Image.fromarray(pixels), "PNG"), max_pixels=LIMIT)
    assert_rgb(result, 32, 48)
    np.testing.assert_array_equal(result, pixels)


@pytest.mark.parametrize("mode", ["L", "1", "P", "CMYK", "YCbCr"])
def test_opaque_modes_become_rgb(encode, mode):
    source = Image.fromarray(gradient()).convert(mode)
    image_format = "JPEG" if mode in ("CMYK", "YCbCr") else "PNG"
    result = decode_image(encode(source, image_format), max_pixels=LIMIT)
    assert_rgb(result, 32, 48)
    expected = np.asarray(source.convert("RGB"), dtype=np.int16)
    tolerance = 12 if image_format == "JPEG" else 0
    assert np.abs(result.astype(np.int16) - expected).max() <= tolerance


def test_gray_is_repeated_on_three_equal_channels(encode):
    result = decode_image(encode(Image.new("L", (10, 8), 77), "PNG"), max_pixels=LIMIT)
    assert (result == 77).all()


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_transparent_pixels_are_composited_over_white(encode, mode):
    source = Image.new(mode, (4, 2), (0,) * len(mode))  # fully transparent black
    source.putpixel((0, 0), (30, 60, 90, 255) if mode == "RGBA" else (50, 255))
    result = decode_image(encode(source, "PNG"), max_pixels=LIMIT)
    assert_rgb(result, 2, 4)
    assert (result[1] == 255).all()
    expected = (30, 60, 90) if mode == "RGBA" else (50, 50, 50)
    assert tuple(result[0, 0]) == expected


def test_palette_with_transparency_uses_the_background(encode):
    source = Image.new("P", (3, 1))
    source.putpalette([0, 0, 0, 200, 10, 10] + [0] * 762)
    source.putpixel((1, 0), 1)
    result = decode_image(encode(source, "PNG", transparency=0), max_pixels=LIMIT)
    assert tuple(result[0, 0]) == (255, 255, 255)
    assert tuple(result[0, 1]) == (200, 10, 10)


def test_16_bit_gray_is_scaled_not_clipped(encode):
    samples = np.array([[0, 257, 32896, 65535]], dtype=np.uint16)
    data = png_bytes(4, 1, 16, 0, b"\x00" + samples.astype(">u2").tobytes())
    result = decode_image(data, max_pixels=LIMIT)
    assert result[0, :, 0].tolist() == [0, 1, 128, 255]


def test_16_bit_gray_from_pillow_array(encode):
    source = Image.fromarray(np.full((5, 6), 40000, dtype=np.uint16))  # mode I;16
    result = decode_image(encode(source, "PNG"), max_pixels=LIMIT)
    assert_rgb(result, 5, 6)
    assert (result == round(40000 / 257)).all()  # 156; naive conversion would clip to 255


def test_16_bit_rgb_png_keeps_its_colours():
    samples = np.zeros((2, 3, 3), dtype=np.uint16)
    samples[..., 0], samples[..., 1], samples[..., 2] = 65535, 32896, 1000
    result = decode_image(png16_rgb(samples), max_pixels=LIMIT)
    assert_rgb(result, 2, 3)
    assert np.abs(result[0, 0].astype(int) - [255, 128, 4]).max() <= 1


def test_exif_orientation_is_applied(encode):
    upright = gradient(20, 30)
    stored = Image.fromarray(np.rot90(upright))  # stored turned 90 degrees anticlockwise
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display"
    result = decode_image(encode(stored, "PNG", exif=exif), max_pixels=LIMIT)
    np.testing.assert_array_equal(result, upright)


def test_animated_png_gives_its_first_frame(encode):
    frames = [Image.new("RGB", (8, 6), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    data = encode(frames[0], "PNG", save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert Image.open(BytesIO(data)).n_frames == 2
    result = decode_image(data, max_pixels=LIMIT)
    assert_rgb(result, 6, 8)
    assert tuple(result[3, 4]) == (255, 0, 0)


@pytest.mark.parametrize("image_format", ["GIF", "BMP", "TIFF", "WEBP", "EPS"])
def test_formats_other_than_jpeg_and_png_are_refused_by_name(encode, image_format, monkeypatch):
    import subprocess

    from service.vision.errors import UnsupportedImageFormat

    def no_external_program(*args, **kwargs):
        raise AssertionError(f"an external program was started: {args[:1]}")

    for name in ("Popen", "run", "call", "check_call", "check_output"):
        monkeypatch.setattr(subprocess, name, no_external_program)
    data = encode(Image.fromarray(gradient()), image_format)
    with pytest.raises(UnsupportedImageFormat, match=f"{image_format[:3]}.* not accepted; send JPEG or PNG"):
        decode_image(data, max_pixels=LIMIT)


def test_a_png_whose_rows_stop_short_is_refused_at_any_interlace(encode):
    for interlace in (0, 1):
        data = encode(Image.fromarray(gradient(64, 64)), "PNG", interlace=interlace)
        start = data.index(b"IDAT") - 4
        length = struct.unpack(">I", data[start:start + 4])[0]
        rows = zlib.decompress(data[start + 8:start + 8 + length])
        short = zlib.compress(rows[: len(rows) // 2])
        chunk = struct.pack(">I", len(short)) + b"IDAT" + short + struct.pack(">I", zlib.crc32(b"IDAT" + short))
        broken = data[:start] + chunk + data[start + 12 + length:]
        with pytest.raises(UndecodableImage, match="the rest is missing"):
            decode_image(broken, max_pixels=LIMIT)


def test_empty_bytes():
    with pytest.raises(UndecodableImage, match="empty"):
        decode_image(b"", max_pixels=LIMIT)


def test_text_is_named_as_text():
    with pytest.raises(UndecodableImage, match=r"not a recognised image format \(got text\)"):
        decode_image(b'{"hello": "this is JSON, not a photo"}\n', max_pixels=LIMIT)


def test_random_bytes_are_not_an_image():
    noise = np.random.default_rng(1).integers(0, 256, 300, dtype=np.uint8).tobytes()
    with pytest.raises(UndecodableImage, match="not a recognised image format"):
        decode_image(b"\x00\x01" + noise, max_pixels=LIMIT)


def test_truncated_jpeg_names_the_cause(encode, astronaut):
    data = encode(Image.fromarray(astronaut), "JPEG", quality=90)
    with pytest.raises(UndecodableImage, match="truncated JPEG"):
        decode_image(data[: len(data) // 2], max_pixels=LIMIT)


def test_jpeg_cut_inside_its_header(encode):
    data = encode(Image.fromarray(gradient()), "JPEG")
    with pytest.raises(UndecodableImage, match="JPEG"):
        decode_image(data[:40], max_pixels=LIMIT)


def test_truncated_png(encode):
    data = encode(Image.fromarray(gradient(200, 200)), "PNG")
    with pytest.raises(UndecodableImage, match="PNG"):
        decode_image(data[: len(data) // 2], max_pixels=LIMIT)


def test_errors_share_one_base_class():
    assert issubclass(UndecodableImage, ImageError) and issubclass(ImageTooLarge, ImageError)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_huge_declared_png_is_refused_before_decoding():
    data = png_bytes(100_000, 100_000, 8, 2, b"\x00" * 10)  # 10 Gpx declared, 30 GB if decoded
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(ImageTooLarge) as refused:
        decode_image(data, max_pixels=LIMIT)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 0.5 and peak < 5_000_000
    assert refused.value.pixels == 10_000_000_000 and refused.value.limit == LIMIT
    assert "10,000,000,000 pixels" in str(refused.value) and "40,000,000" in str(refused.value)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_over_the_configured_limit_but_below_pillows_guard():
    data = png_bytes(8000, 6000, 8, 2, b"\x00" * 10)  # 48 Mpx, only the header is valid
    with pytest.raises(ImageTooLarge) as refused:
        decode_image(data, max_pixels=LIMIT)
    assert refused.value.pixels == 48_000_000


def test_exactly_at_the_limit_is_accepted(encode):
    data = encode(Image.fromarray(gradient(10, 10)), "PNG")
    assert decode_image(data, max_pixels=100).shape == (10, 10, 3)
    with pytest.raises(ImageTooLarge):
        decode_image(data, max_pixels=99)


def test_truncated_upload_is_refused_even_after_face_recognition_is_imported(encode):
    import face_recognition.api  # noqa: F401  (sets Pillow's LOAD_TRUNCATED_IMAGES to True)

    data = encode(Image.fromarray(gradient(200, 200)), "PNG")
    with pytest.raises(UndecodableImage):
        decode_image(data[: len(data) // 2], max_pixels=10_000_000)


# --- gray=True: luma for pipelines that never look at colour -------------------------------------

def test_gray_jpeg_is_the_luma_of_its_colour_decode(encode, astronaut):
    from service.vision.preprocess import to_gray

    data = encode(Image.fromarray(astronaut), "JPEG", quality=90)
    gray = decode_image(data, max_pixels=LIMIT, gray=True)
    assert gray.dtype == np.uint8 and gray.shape == (512, 512) and gray.flags["C_CONTIGUOUS"]
    difference = np.abs(gray.astype(np.int16) - to_gray(decode_image(data, max_pixels=LIMIT)))
    # rounding, and saturated colours clipped to 0..255 in the RGB decode: not another weighting
    assert difference.max() <= 16 and difference.mean() < 0.1


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "P"])
def test_gray_of_other_formats_equals_converting_their_rgb(encode, mode):
    from service.vision.preprocess import to_gray

    data = encode(Image.fromarray(gradient()).convert(mode), "PNG")
    gray = decode_image(data, max_pixels=LIMIT, gray=True)
    np.testing.assert_array_equal(gray, to_gray(decode_image(data, max_pixels=LIMIT)))


def test_gray_decoding_still_refuses_a_truncated_jpeg(encode, astronaut):
    data = encode(Image.fromarray(astronaut), "JPEG", quality=90)
    with pytest.raises(UndecodableImage, match="truncated JPEG"):
        decode_image(data[: len(data) // 2], max_pixels=LIMIT, gray=True)


def test_gray_decoding_applies_exif_orientation(encode):
    source = Image.fromarray(gradient(20, 40))  # 40 wide, 20 tall
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to view
    gray = decode_image(encode(source, "JPEG", exif=exif), max_pixels=LIMIT, gray=True)
    assert gray.shape == (40, 20)
