"""Uploaded bytes -> RGB uint8 pixels, refusing what is too large before decoding it.

Policy, in order:
1. The header is parsed first (Pillow opens lazily); a frame declaring more than `max_pixels`
   is refused before any pixel buffer is allocated. Pillow's own decompression-bomb guard
   (which fires above about 179 Mpx) is reported the same way.
2. Only the first frame is decoded: an animated GIF, APNG or multi-page TIFF is analysed as
   its first frame. A camera sending an animation is unusual but harmless, and refusing it
   would lose the frame for nothing.
3. EXIF orientation is applied, so a phone photo taken sideways is analysed upright.
4. Every colour mode ends as 8-bit RGB: transparency is composited over white; integer
   grayscale (Pillow's I;16* and I modes, taken as 16-bit, 0..65535) is scaled, not clipped,
   to 0..255; float grayscale is read as 0..1 or 0..255 by its range; 16-bit colour PNGs are
   reduced by Pillow itself; CMYK, YCbCr, palettes and 1-bit are converted.
5. With gray=True the result is BT.601 luma instead (for pipelines that never look at colour).
   A colour JPEG is then decoded straight to its luma channel, which is that same weighting
   of the original RGB: libjpeg skips the chroma upsampling and colour conversion (a third of
   the decode of a small frame, two thirds at 1280x720) but still reads and checks every
   byte, so a truncated or corrupt upload is refused as before. It differs from converting the
   decoded RGB by rounding only (at most a few levels on a handful of pixels).
"""

from __future__ import annotations

import codecs
import re
from io import BytesIO

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from service.vision.errors import ImageTooLarge, UndecodableImage
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
)
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
    image = _open_header(data, max_pixels)
    _refuse_if_too_large(image, max_pixels)
    if gray:
        image.draft("L", image.size)  # JPEG only: decode to luma; other formats ignore it
    _load_first_frame(image, data)
    image = _upright(image)
    return _to_gray_array(image) if gray else _to_rgb_array(image)


def _open_header(data: bytes, max_pixels: int) -> Image.Image:
    """Parse only the header; Pillow defers pixel decoding until load()."""
    try:
        return Image.open(BytesIO(data))
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
    if image.mode == "F":
        gray = _scale_to_uint8(np.asarray(image, dtype=np.float32), _float_full_scale(image))
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


def _float_full_scale(image: Image.Image) -> float:
    """Float images are either normalised to [0, 1] or hold 8-bit values; pick by their range."""
    _, high = image.getextrema()
    return 1.0 if high <= 1.0 else 255.0


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
