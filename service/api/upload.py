"""Reading an uploaded frame into memory: the image never touches a disk (Starlette's form
parser would spool a file over 1 MB to a temporary file, so multipart is parsed here, in
memory). The body's size is capped before it is read (service.security.bodies); here a form
may hold one `image` part and the text fields its endpoint names, each at most
MAX_FIELD_BYTES, and nothing else: a second image, an unknown field or a part too many is a
422 as soon as the parser meets it. The parse runs in a worker thread, off the event loop."""

from __future__ import annotations

from dataclasses import dataclass, field

import anyio
from fastapi import Request
from python_multipart.multipart import MultipartParser, parse_options_header

from service.api.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType

FORM_OVERHEAD_BYTES = 64 * 1024  # room for the boundaries and the small text fields
MAX_FIELD_BYTES = 1024  # a text field (captured_at, frame_id) is far shorter
RAW_IMAGE_TYPES = ("image/", "application/octet-stream")
IMAGE_FIELD = "image"


@dataclass
class Upload:
    image: bytes
    fields: dict[str, str] = field(default_factory=dict)


async def read_upload(request: Request, max_image_bytes: int, text_fields: tuple[str, ...] = ()) -> Upload:
    """The uploaded image, and with multipart the `text_fields` the form carries."""
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";")[0].strip().lower()
    if media_type == "multipart/form-data":
        body = await read_body(request)
        return await anyio.to_thread.run_sync(_parse_form, body, content_type, max_image_bytes, text_fields)
    if media_type.startswith(RAW_IMAGE_TYPES):
        return Upload(await read_body(request))
    raise UnsupportedMediaType(
        f"send the frame as multipart/form-data (field `image`) or as a raw image/jpeg or image/png "
        f"body, not {media_type or 'no content type'}"
    )


async def read_body(request: Request) -> bytes:
    """The whole body; its size and read time are bounded by RequestBodyGuard."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
    return bytes(body)


def _parse_form(body: bytes, content_type: str, max_image_bytes: int, text_fields: tuple[str, ...]) -> Upload:
    limits = {IMAGE_FIELD: max_image_bytes, **{name: MAX_FIELD_BYTES for name in text_fields}}
    parts = parse_multipart(body, content_type, limits)
    image = parts.pop(IMAGE_FIELD, None)
    if image is None:
        raise InvalidInput("the form has no `image` file field")
    return Upload(image, {name: _text(name, value) for name, value in parts.items()})


def _text(name: str, value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"form field `{name}` is not UTF-8 text")


def parse_multipart(body: bytes, content_type: str, limits: dict[str, int]) -> dict[str, bytes]:
    """Split a multipart/form-data body into {field name: bytes}, all in memory. `limits` names
    the fields allowed, each with its size limit; each may appear once."""
    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if not boundary:
        raise InvalidInput("multipart/form-data without a boundary")
    collector = _PartCollector(limits)
    parser = MultipartParser(boundary, collector.callbacks())
    try:
        parser.write(body)
        parser.finalize()
    except (InvalidInput, PayloadTooLarge):
        raise
    except Exception as error:  # python-multipart raises its own parse errors
        raise InvalidInput(f"malformed multipart body: {error}") from error
    return collector.parts


class _PartCollector:
    """Callbacks for python-multipart's streaming parser that keep each allowed part in memory
    and stop the parse at the first part that breaks the form's rules."""

    def __init__(self, limits: dict[str, int]) -> None:
        self.limits = limits
        self.parts: dict[str, bytes] = {}
        self._header_field = b""
        self._header_value = b""
        self._name: str | None = None
        self._data = bytearray()
        self._count = 0

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self._begin, "on_part_data": self._data_chunk,
            "on_part_end": self._end, "on_header_field": self._field_chunk,
            "on_header_value": self._value_chunk, "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
        }

    def _begin(self) -> None:
        self._count += 1
        if self._count > len(self.limits):
            raise InvalidInput(f"the form has more than {len(self.limits)} parts; allowed: {self._allowed()}")
        self._name, self._data = None, bytearray()

    def _data_chunk(self, data: bytes, start: int, end: int) -> None:
        self._data += data[start:end]
        if len(self._data) > self.limits[self._name]:
            raise PayloadTooLarge(f"form field `{self._name}` is over its limit of {self.limits[self._name]:,} bytes")

    def _field_chunk(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]
        self._check_header_size()

    def _value_chunk(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]
        self._check_header_size()

    def _check_header_size(self) -> None:
        if len(self._header_field) + len(self._header_value) > MAX_FIELD_BYTES:
            raise InvalidInput(f"a form part's header is over {MAX_FIELD_BYTES:,} bytes")

    def _header_end(self) -> None:
        if self._header_field.lower() == b"content-disposition":
            _, options = parse_options_header(self._header_value)
            self._name = options.get(b"name", b"").decode("utf-8", "replace")
        self._header_field, self._header_value = b"", b""

    def _headers_finished(self) -> None:
        if self._name not in self.limits:
            raise InvalidInput(f"unexpected form field `{(self._name or '')[:64]}`; allowed: {self._allowed()}")
        if self._name in self.parts:
            raise InvalidInput(f"form field `{self._name}` appears twice; send one")

    def _end(self) -> None:
        self.parts[self._name] = bytes(self._data)

    def _allowed(self) -> str:
        return ", ".join(f"`{name}`" for name in self.limits)
