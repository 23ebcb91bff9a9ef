"""Uploaded bytes -> RGB uint8 pixels, refusing what is too large before decoding it.

Policy, in order:
1. Only JPEG and PNG are opened: the format is told by its magic bytes and Pillow is asked to
   try those two plugins and no other. Every other format (GIF, TIFF, BMP, WebP, TGA, PCX,
   JPEG 2000, EPS, ...) is refused by name: each plugin is more parser for hostile bytes to
   reach, and EPS would hand camera-supplied PostScript to Ghostscript.
2. The header is parsed first (Pillow opens lazily); a frame declaring more than `max_pixels`
   is refused before any pixel buffer is allocated. Pillow's own decompression-bomb guard
   (which fires above about 179 Mpx) is reported the same way. A JPEG too short to hold one
   bit per 8x8 block of the size it declares is refused too: its pixel data is missing, and
   libjpeg would otherwise fill the frame with grey and only warn.
3. Pixels are loaded in full with Pillow's LOAD_TRUNCATED_IMAGES off: a truncated upload is
   refused, never analysed as a half-grey frame. Only the first frame of an APNG is decoded.
4. EXIF orientation is applied, so a phone photo taken sideways is analysed upright.
5. Every colour mode ends as 8-bit RGB: transparency is composited over white; integer
   grayscale (Pillow's I;16* and I modes, taken as 16-bit, 0..65535) is scaled, not clipped,
   to 0..255; 16-bit colour PNGs are reduced by Pillow itself; CMYK and YCbCr JPEGs, palettes
   and 1-bit PNGs are converted.
6. With gray=True the result is BT.601 luma instead (for pipelines that never look at colour).
   A colour JPEG is then decoded straight to its luma channel, which is that same weighting
   of the original RGB: libjpeg skips the chroma upsampling and colour conversion (a third of
   the decode of a small frame, two thirds at 1280x720) but still reads and checks every
   byte, so a truncated or corrupt upload is refused as before. It differs from converting the
   decoded RGB by rounding only (at most a few levels on a handful of pixels).
"""

from __future__ import annotations

import codecs
import math
import re
import struct
import zlib
from io import BytesIO

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from service.vision.errors import ImageTooLarge, UndecodableImage, UnsupportedImageFormat
from service.vision.preprocess import to_gray

# Magic numbers let error messages name the format the sender thought they sent.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"\x00\x00\x00\x0cjP  ", "JPEG 2000"),
    (b"\xff\x4f\xff\x51", "JPEG 2000"),
    (b"%!PS", "PostScript (EPS)"),
    (b"\xc5\xd0\xd3\xc6", "PostScript (EPS)"),
    (b"%PDF", "PDF"),
)
ACCEPTED_FORMATS = ("JPEG", "PNG")
_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})
_INT_MODES = frozenset({"I", "I;16", "I;16L", "I;16B", "I;16N"})
_BACKGROUND = (255, 255, 255)
_EXIF_ORIENTATION = 0x0112


def decode_image(data: bytes, *, max_pixels: int, gray: bool = False) -> np.ndarray:
    """Decode image bytes to an RGB uint8 array of shape (height, width, 3), or with `gray` a
    luma uint8 array of shape (height, width) (point 5 above).

    Raises UndecodableImage (empty, truncated, corrupt, not an image) or ImageTooLarge
    (declared width x height above `max_pixels`, checked before decoding the pixels).
    """
    if not data:
        raise UndecodableImage("empty image data")
    _refuse_unless_accepted(data)
    image = _open_header(data, max_pixels)
    _refuse_if_too_large(image, max_pixels)
    _refuse_if_data_missing(image, data)
    if gray:
        image.draft("L", image.size)  # JPEG only: decode to luma; other formats ignore it
    _load_first_frame(image, data)
    image = _upright(image)
    return _to_gray_array(image) if gray else _to_rgb_array(image)


def _refuse_unless_accepted(data: bytes) -> None:
    """Refuse by magic bytes what is not JPEG or PNG, naming it when it is a known format;
    unknown bytes go on to Pillow (restricted to JPEG and PNG), which explains them."""
    kind = _sniff_format(data)
    if kind is not None and kind not in ACCEPTED_FORMATS:
        raise UnsupportedImageFormat(f"{kind} images are not accepted; send JPEG or PNG")


def _open_header(data: bytes, max_pixels: int) -> Image.Image:
    """Parse only the header; Pillow defers pixel decoding until load()."""
    try:
        return Image.open(BytesIO(data), formats=ACCEPTED_FORMATS)
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge(_pixels_from_bomb_message(str(exc)), max_pixels) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise UndecodableImage(_describe_unreadable(data)) from exc


def _refuse_if_too_large(image: Image.Image, max_pixels: int) -> None:
    width, height = image.size
    if width * height > max_pixels:
        raise ImageTooLarge(width * height, max_pixels)
    if width == 0 or height == 0:
        raise UndecodableImage(f"image declares a zero size ({width} x {height})")


def _refuse_if_data_missing(image: Image.Image, data: bytes) -> None:
    """Refuse an image whose pixel data stops short of the size it declares, which the decoders
    would fill with grey (JPEG) or black (PNG) rows without an error."""
    width, height = image.size
    if image.format == "JPEG":
        _check_jpeg_length(data, width, height)
    elif image.format == "PNG":
        _check_png_rows(data, width, height)


def _check_jpeg_length(data: bytes, width: int, height: int) -> None:
    """A Huffman-coded JPEG spends at least one bit on every 8x8 block of its full-resolution
    component (the DC code), in baseline and progressive alike; fewer bytes than that and the
    scan is missing. (Arithmetic-coded JPEGs, which cameras do not make, can be smaller and
    are refused here too when they are.)"""
    blocks = math.ceil(width / 8) * math.ceil(height / 8)
    if len(data) * 8 < blocks:
        raise UndecodableImage(f"JPEG declares {width} x {height} pixels but its {len(data):,} bytes cannot "
                               "hold them: the pixel data is missing")


_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # by colour type
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))
_INFLATE_STEP = 1 << 20


def _check_png_rows(data: bytes, width: int, height: int) -> None:
    """The default image's IDAT stream must inflate to every row the header declares. It is
    inflated a megabyte at a time and only counted (a second pass over the stream, before
    Pillow's; PNG frames are rare and this one is cheap beside the decode)."""
    depth, colour, interlace = data[24], data[25], data[28]
    bits = _PNG_CHANNELS.get(colour, 4) * depth
    expected = _png_raw_size(width, height, bits, interlace)
    inflated = _inflated_idat_size(data, expected)
    if inflated < expected:
        raise UndecodableImage(f"PNG declares {width} x {height} pixels but its pixel data ends after "
                               f"{inflated:,} of {expected:,} bytes: the rest is missing")


def _png_raw_size(width: int, height: int, bits: int, interlace: int) -> int:
    """Bytes of filtered scanlines (a filter byte per row) for the whole image."""
    passes = _ADAM7 if interlace else ((0, 0, 1, 1),)
    size = 0
    for x0, y0, dx, dy in passes:
        columns, rows = math.ceil(max(width - x0, 0) / dx), math.ceil(max(height - y0, 0) / dy)
        if columns and rows:
            size += rows * (1 + math.ceil(columns * bits / 8))
    return size


def _inflated_idat_size(data: bytes, enough: int) -> int:
    """The inflated size of the IDAT chunks, counted up to `enough` bytes."""
    inflater, total, position = zlib.decompressobj(), 0, 8
    view = memoryview(data)
    while position + 8 <= len(data) and total < enough:
        length, kind = struct.unpack_from(">I4s", data, position)
        if kind == b"IDAT":
            pending = view[position + 8:position + 8 + length]
            while pending and total < enough:
                total += len(inflater.decompress(pending, _INFLATE_STEP))
                pending = inflater.unconsumed_tail
        position += 12 + length
    return total


def _load_first_frame(image: Image.Image, data: bytes) -> None:
    """Decode the pixels of frame 0 (the frame Pillow positions on when opening)."""
    kind = image.format or _sniff_format(data) or "image"
    # face_recognition.api sets this Pillow global to True when imported (the seed benchmark
    # does), which would let a truncated upload through as a half-grey frame
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        image.load()
    except Image.DecompressionBombError as exc:  # a frame larger than the header said
        raise UndecodableImage(f"corrupt {kind} data: {exc}") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        cause = "truncated" if "truncated" in str(exc) or isinstance(exc, EOFError) else "corrupt"
        raise UndecodableImage(f"{cause} {kind} data ({exc})") from exc


def _upright(image: Image.Image) -> Image.Image:
    """Apply EXIF orientation; a malformed EXIF block is ignored, not fatal,
    because the pixels themselves are fine and orientation is only a hint."""
    try:
        if image.getexif().get(_EXIF_ORIENTATION, 1) == 1:
            return image  # skip the full-frame copy exif_transpose makes otherwise
        return ImageOps.exif_transpose(image) or image
    except (OSError, SyntaxError, ValueError, TypeError, KeyError):
        return image


def _to_rgb_array(image: Image.Image) -> np.ndarray:
    """Convert any Pillow mode to a contiguous RGB uint8 array."""
    if image.mode in _INT_MODES:
        gray = _scale_to_uint8(np.asarray(image), 65535.0)
        return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in _ALPHA_MODES:
        image = _over_background(image)
    try:
        rgb = image if image.mode == "RGB" else image.convert("RGB")
    except ValueError as exc:
        raise UndecodableImage(f"unsupported colour mode {image.mode}") from exc
    return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))


def _to_gray_array(image: Image.Image) -> np.ndarray:
    """A contiguous luma uint8 array: 8-bit gray as it is, every other mode through RGB."""
    if image.mode == "L":
        return np.ascontiguousarray(np.asarray(image, dtype=np.uint8))
    return to_gray(_to_rgb_array(image))


def _over_background(image: Image.Image) -> Image.Image:
    """Composite transparent pixels over white: the colour hidden under alpha 0 is arbitrary
    and would otherwise show up as noise to the detector."""
    rgba = image.convert("RGBA")
    background = Image.new("RGBA", rgba.size, _BACKGROUND + (255,))
    return Image.alpha_composite(background, rgba).convert("RGB")


def _scale_to_uint8(samples: np.ndarray, full_scale: float) -> np.ndarray:
    """Map [0, full_scale] linearly onto [0, 255] with rounding (65535 -> 255, not clipping)."""
    scaled = samples.astype(np.float32) * (255.0 / full_scale)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def _pixels_from_bomb_message(message: str) -> int | None:
    match = re.search(r"\((\d+) pixels\)", message)
    return int(match.group(1)) if match else None


def _sniff_format(data: bytes) -> str | None:
    for signature, name in _SIGNATURES:
        if data.startswith(signature):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def _describe_unreadable(data: bytes) -> str:
    """Name the cause for a client: a broken known format, text, or unknown bytes."""
    known = _sniff_format(data)
    if known:
        return f"truncated or corrupt {known} data (header unreadable)"
    if _looks_like_text(data[:512]):
        return "not a recognised image format (got text)"
    return f"not a recognised image format (first bytes {data[:8].hex()})"


def _looks_like_text(head: bytes) -> bool:
    try:  # incremental: a multi-byte character cut at the end of `head` is not an error
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return all(char.isprintable() or char.isspace() for char in text)
