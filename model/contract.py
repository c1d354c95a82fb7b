"""The service's contract, in one place: limits, media types, request parsing and error codes.

Standard library only, so that every part can carry it: the model archive (``code/model/contract.py``),
the Lambda bundle (``chalicelib/contract.py`` is this file, by a symbolic link that ``chalice package``
and ``chalice deploy`` follow), the UI and the tests. Every error any part reports is one of
:data:`STATUSES`, with the body ``{"error": {"code": ..., "message": ...}}`` (:func:`error_body`).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

# ---------------------------------------------------------------------------------------------- limits

#: Largest image accepted on every path (HTTP API, inbox, endpoint). The tightest limit between a client
#: and the model: API Gateway hands a binary body to Lambda base64-encoded (x 4/3) inside Lambda's 6 MB
#: request payload, and a SageMaker serverless endpoint takes at most 4 MB.
MAX_IMAGE_BYTES = 4_000_000
#: Largest decoded image (width x height), checked from the header before decoding: a decompression
#: bomb guard (a few kB of PNG can declare 20000 x 20000 pixels).
MAX_IMAGE_PIXELS = 40_000_000
#: SageMaker Runtime ``InvokeEndpoint`` refuses bodies over this many bytes itself (HTTP 413, "HTTP content
#: length exceeded 5246976 bytes."), before the container sees them.
INVOKE_ENDPOINT_MAX_BYTES = 5_246_976
#: A JSON body (``{"image": "<base64>"}``) may be this much larger than the image it carries.
MAX_JSON_BYTES = MAX_IMAGE_BYTES * 4 // 3 + 4096

# ----------------------------------------------------------------------------------------- media types

JSON = "application/json"
#: NumPy's file formats, as the SageMaker SDK's NumpySerializer / NumpyDeserializer send and read them.
NPY = "application/x-npy"
NPZ = "application/x-npz"
#: The image formats read, by media type, with the file extension the service stores them under.
IMAGE_TYPES: dict[str, str] = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
    "image/bmp": "bmp",
    "image/tiff": "tiff",
}
#: File name extensions of those formats (an uploader's filter; the format is still read from the bytes).
IMAGE_EXTENSIONS = ("png", "jpg", "jpeg", "gif", "webp", "bmp", "tif", "tiff")
#: Names clients use for those formats that are not the registered ones (``image/jpg`` is common).
ALIASES: dict[str, str] = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "image/x-png": "image/png",
    "image/x-ms-bmp": "image/bmp",
    "image/x-bmp": "image/bmp",
}
#: Types that say "some image, read it from its bytes" (SageMaker's samples send ``application/x-image``).
GENERIC_IMAGE_TYPES = ("application/octet-stream", "application/x-image")
#: Every ``Content-Type`` an image body may be sent with; the format itself is always read from the bytes.
IMAGE_CONTENT_TYPES: tuple[str, ...] = (*IMAGE_TYPES, *ALIASES, *GENERIC_IMAGE_TYPES)

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
)
_NOT_IMAGES = (  # only to name what was sent instead, in the 415 message
    (b"%pdf", "a PDF document"),
    (b"pk\x03\x04", "a ZIP archive"),
    (b"<svg", "an SVG drawing (vector images are not supported)"),
    (b"<?xml", "an XML document"),
    (b"<!doctype html", "an HTML page"),
    (b"<html", "an HTML page"),
    (b"{", "JSON"),
)


def media_type(content_type: str | None) -> str:
    """``"Image/JPG; q=1"`` -> ``"image/jpeg"``: lower case, parameters dropped, aliases resolved."""
    essence = (content_type or "").split(";", 1)[0].strip().lower()
    return ALIASES.get(essence, essence)


def sniff(data: bytes) -> str | None:
    """The image type of ``data`` from its magic bytes (RIFF....WEBP for WebP), or None."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return next((kind for magic, kind in _MAGIC if data.startswith(magic)), None)


def describe_non_image(data: bytes) -> str:
    """What a body that is no image seems to be, for the ``unsupported_media_type`` message. A UTF-8 byte
    order mark before the text (JSON saved by Windows' Notepad or PowerShell) is no part of what it is."""
    head = data[:64].removeprefix(b"\xef\xbb\xbf").lstrip().lower()
    return next((name for magic, name in _NOT_IMAGES if head.startswith(magic)), "not an image")


# ---------------------------------------------------------------------------------------------- errors

#: Every error code of the service with its HTTP status: the endpoint's (the first group), then the HTTP
#: API's own. The README and docs/api.md list what each means.
STATUSES: dict[str, int] = {
    "empty_body": 400,
    "malformed_json": 400,
    "invalid_request": 400,
    "invalid_base64": 400,
    "invalid_pixels": 400,
    "unsupported_accept": 406,
    "image_too_large": 413,
    "unsupported_media_type": 415,
    "corrupt_image": 422,
    "no_digit_found": 422,
    "not_a_digit": 422,
    "several_lines": 422,
    "low_confidence": 422,
    "internal_error": 500,
    # the HTTP API's own
    "invalid_parameter": 400,
    "invalid_cursor": 400,
    "invalid_label": 400,
    "not_found": 404,
    "object_not_found": 404,
    "method_not_allowed": 405,
    "model_error": 502,
    "endpoint_unavailable": 503,
    "endpoint_throttled": 503,
    "endpoint_not_found": 503,
    "storage_unavailable": 503,
}


class InputError(ValueError):
    """A request that cannot be answered because of its content: a stable ``code`` (a key of
    :data:`STATUSES`), a message for people, and the HTTP status of that code."""

    def __init__(self, code: str, message: str) -> None:
        if code not in STATUSES:
            raise ValueError(f"unknown error code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = STATUSES[code]

    def to_dict(self) -> dict[str, dict[str, str]]:
        return error_body(self.code, self.message)

    def __repr__(self) -> str:
        return f"InputError({self.code!r}, {self.message!r})"


#: What every ``image_too_large`` answer suggests. The digits are read from the picture reduced to
#: about 160x160 pixels (``model.preprocess.WORK_SIZE``; small writing from a closer crop of a few
#: times that), so such a copy loses nothing.
SHRINK_HINT = "send a smaller copy: 2,000 pixels on its longer side, saved as JPEG, is plenty"


def too_large(size: int, limit: int = MAX_IMAGE_BYTES) -> InputError:
    """``image_too_large`` for an image of ``size`` bytes (over ``limit``, :data:`MAX_IMAGE_BYTES`)."""
    return InputError("image_too_large", f"the image is {size:,} bytes; the limit is {limit:,} bytes: {SHRINK_HINT}")


def where(boxes: list[tuple[int, int, int, int]]) -> str:
    """Where marks are, for a refusal's message: their boxes (x0, y0, x1, y1, in the picture's pixels) in
    words, "pixels 148-652 across and 108-488 down", more than one joined by ", and"."""
    words = [f"{x0}-{x1} across and {y0}-{y1} down" for x0, y0, x1, y1 in boxes]
    return "pixels " + ", and ".join(words)


def error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    """The one error shape of every answer: ``{"error": {"code": ..., "message": ...}}``."""
    return {"error": {"code": code, "message": message}}


# ------------------------------------------------------------------------------------------- parsing

#: RFC 2397: ``data:[<media type>][;<parameter>=<value>]*;base64,<data>``; the type may be a wildcard
#: (``image/*``) as browsers write it for some files.
_DATA_URL = re.compile(r"data:(?:[\w.+*-]+/[\w.+*-]+)?(?:;[\w.+-]+=(?:[\w.+/-]+|\"[^\"]*\"))*;base64,", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s+")


def parse_json(body: bytes | bytearray | str) -> Any:
    """A JSON request body -> its value. A UTF-8 byte-order mark first is allowed (editors and some HTTP
    clients write one; RFC 8259 lets parsers ignore it). Raises :class:`InputError` ``malformed_json``."""
    if isinstance(body, (bytes, bytearray)):
        try:
            body = bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            raise InputError("malformed_json", "the body is not UTF-8 encoded JSON") from None
    try:
        return json.loads(body.removeprefix("\ufeff"))
    except (ValueError, RecursionError) as exc:  # RecursionError: "[[[[..." nested too deep
        raise InputError("malformed_json", f"the body is not valid JSON ({exc})") from None


def decode_image_field(value: object) -> bytes:
    """The ``"image"`` field of a JSON request -> the image file's bytes.

    Base64 (RFC 4648, whitespace ignored), or a ``data:`` URL with base64 data (RFC 2397: any media type
    and parameters, e.g. ``data:image/png;charset=utf-8;base64,...``). Raises :class:`InputError`:
    ``invalid_request`` (not a string), ``empty_body``, ``image_too_large``, ``invalid_base64``."""
    if value is None:
        raise InputError("invalid_request", '"image" is missing or null: send {"image": "<the file, base64-encoded>"}')
    if not isinstance(value, str):
        raise InputError("invalid_request", '"image" must be a base64 string or a data: URL')
    text = value.strip()
    if match := _DATA_URL.match(text):
        text = text[match.end() :]
    elif text[:5].lower() == "data:":
        raise InputError("invalid_base64", '"image" is a data: URL without ";base64," data')
    if len(text) > MAX_JSON_BYTES:  # not decoded: base64 carries 3 bytes in 4 characters, "=" pads
        size = len(text) * 3 // 4 - text[-2:].count("=")  # exact unless whitespace is in it
        raise InputError(
            "image_too_large",
            f"the image is about {size:,} bytes ({len(text):,} base64 characters); "
            f"the limit is {MAX_IMAGE_BYTES:,} bytes: {SHRINK_HINT}",
        )
    try:
        data = base64.b64decode(_WHITESPACE.sub("", text), validate=True)
    except (binascii.Error, ValueError):
        raise InputError("invalid_base64", '"image" is not valid base64') from None
    if not data:
        raise InputError("empty_body", '"image" is empty')
    return data
