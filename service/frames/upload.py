"""Reading an uploaded frame into memory with a byte limit: the image never touches a disk
(Starlette's form parser would spool a file over 1 MB to a temporary file, so multipart is
parsed here, in memory), and an oversized body is refused before it is all read."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request
from python_multipart.multipart import MultipartParser, parse_options_header

from service.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType

FORM_OVERHEAD_BYTES = 64 * 1024  # room for the boundaries and the two small text fields
RAW_IMAGE_TYPES = ("image/", "application/octet-stream")


@dataclass
class Upload:
    image: bytes
    fields: dict[str, str] = field(default_factory=dict)


async def read_upload(request: Request, max_image_bytes: int) -> Upload:
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";")[0].strip().lower()
    if media_type == "multipart/form-data":
        body = await read_body(request, max_image_bytes + FORM_OVERHEAD_BYTES)
        return _parse_form(body, content_type, max_image_bytes)
    if media_type.startswith(RAW_IMAGE_TYPES):
        return Upload(await read_body(request, max_image_bytes))
    raise UnsupportedMediaType(
        f"send the frame as multipart/form-data (field `image`) or as a raw image/jpeg or image/png "
        f"body, not {media_type or 'no content type'}"
    )


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _too_large(int(declared), limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _too_large(len(body), limit, at_least=True)
    return bytes(body)


def _too_large(size: int, limit: int, at_least: bool = False) -> PayloadTooLarge:
    amount = f"{'more than ' if at_least else ''}{size:,} bytes"
    return PayloadTooLarge(f"the upload is {amount}; the limit is {limit:,} bytes")


def _parse_form(body: bytes, content_type: str, max_image_bytes: int) -> Upload:
    parts = parse_multipart(body, content_type)
    image = parts.pop("image", None)
    if image is None:
        raise InvalidInput("the form has no `image` file field")
    if len(image) > max_image_bytes:
        raise _too_large(len(image), max_image_bytes)
    return Upload(image, {name: _text(name, value) for name, value in parts.items()})


def _text(name: str, value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"form field `{name}` is not UTF-8 text")


def parse_multipart(body: bytes, content_type: str) -> dict[str, bytes]:
    """Split a multipart/form-data body into {field name: bytes}, all in memory."""
    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if not boundary:
        raise InvalidInput("multipart/form-data without a boundary")
    collector = _PartCollector()
    parser = MultipartParser(boundary, collector.callbacks())
    try:
        parser.write(body)
        parser.finalize()
    except Exception as error:  # python-multipart raises its own parse errors
        raise InvalidInput(f"malformed multipart body: {error}") from error
    return collector.parts


class _PartCollector:
    """Callbacks for python-multipart's streaming parser that keep each part in memory."""

    def __init__(self) -> None:
        self.parts: dict[str, bytes] = {}
        self._header_field = b""
        self._header_value = b""
        self._name: str | None = None
        self._data = bytearray()

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self._begin, "on_part_data": self._data_chunk,
            "on_part_end": self._end, "on_header_field": self._field_chunk,
            "on_header_value": self._value_chunk, "on_header_end": self._header_end,
        }

    def _begin(self) -> None:
        self._name, self._data = None, bytearray()

    def _data_chunk(self, data: bytes, start: int, end: int) -> None:
        self._data += data[start:end]

    def _field_chunk(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _value_chunk(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        if self._header_field.lower() == b"content-disposition":
            _, options = parse_options_header(self._header_value)
            self._name = options.get(b"name", b"").decode("utf-8", "replace")
        self._header_field, self._header_value = b"", b""

    def _end(self) -> None:
        if self._name:
            self.parts[self._name] = bytes(self._data)
