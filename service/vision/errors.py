"""Errors raised while turning uploaded bytes into pixels.

The HTTP layer maps them: UndecodableImage -> 422, UnsupportedImageFormat -> 415,
ImageTooLarge -> 413. They carry a
message written for the person who sent the image, so it names the cause.
"""

from __future__ import annotations


class ImageError(Exception):
    """Base class: the bytes cannot become an RGB frame."""


class UndecodableImage(ImageError):
    """The bytes are empty, truncated, corrupt or not an image at all."""


class UnsupportedImageFormat(ImageError):
    """An image in a format the service does not decode (anything but JPEG and PNG)."""


class ImageTooLarge(ImageError):
    """The image declares more pixels than the configured limit."""

    def __init__(self, pixels: int | None, limit: int) -> None:
        self.pixels = pixels
        self.limit = limit
        declared = f"{pixels:,} pixels" if pixels is not None else "too many pixels"
        super().__init__(f"image declares {declared}, more than the limit of {limit:,} pixels")
