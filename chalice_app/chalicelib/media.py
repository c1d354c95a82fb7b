"""What counts as an image here: magic-byte sniffing and the size cap, before anything is stored or sent.

The declared ``Content-Type`` is a hint only: a body declared ``image/png`` that is really a JPEG is
accepted and sent on as ``image/jpeg``; text, HTML, PDF, SVG or ZIP bodies are refused with 415 whatever
they claim to be.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from chalicelib.errors import BadRequest, ImageRejected

#: Largest image accepted, on every path. The tightest limit between a client and the model: API Gateway
#: hands a binary body to Lambda base64-encoded (x 4/3) inside Lambda's 6 MB request payload, and a
#: SageMaker serverless endpoint takes at most 4 MB.
MAX_IMAGE_BYTES = 4_000_000

#: Content types the binary ``POST /predict`` route accepts (and Chalice must treat as binary).
IMAGE_CONTENT_TYPES = (
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/bmp",
    "image/tiff",
    "application/octet-stream",
)

EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
    "image/bmp": "bmp",
    "image/tiff": "tiff",
}

_NOT_IMAGES = (  # only to name what was sent instead, in the 415 message
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"<svg", "an SVG drawing (vector images are not supported)"),
    (b"<?xml", "an XML document"),
    (b"<!doctype html", "an HTML page"),
    (b"<html", "an HTML page"),
    (b"{", "JSON (send it to POST /predict/json)"),
)

_DATA_URL = re.compile(r"^data:[\w/+.-]*;base64,", re.IGNORECASE)


@dataclass(frozen=True)
class Image:
    """An accepted image: its bytes and the type sniffed from them."""

    data: bytes
    content_type: str

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.content_type]


def sniff(data: bytes) -> str | None:
    """The image type of ``data`` from its magic bytes, or None when it is none we read."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:2] == b"BM" and len(data) >= 26:
        return "image/bmp"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "image/tiff"
    return None


def check_size(size: int) -> None:
    """Refuse an empty or oversized image (also used on an S3 object's size before it is read)."""
    if size == 0:
        raise BadRequest("the image is empty: send the image bytes as the request body", code="empty_body")
    if size > MAX_IMAGE_BYTES:
        raise ImageRejected(
            f"the image is {size:,} bytes; the limit is {MAX_IMAGE_BYTES:,} bytes", code="image_too_large", status=413
        )


def accept_image(data: bytes | None) -> Image:
    """Validate an uploaded image: not empty, within the cap, and really an image of a supported type."""
    data = data or b""
    check_size(len(data))
    content_type = sniff(data)
    if content_type is None:
        head = data[:64].lstrip().lower()
        what = next((name for magic, name in _NOT_IMAGES if head.startswith(magic.lower())), "not an image")
        raise ImageRejected(
            f"the body is {what}; send a PNG, JPEG, GIF, WebP, BMP or TIFF image",
            code="unsupported_media_type",
            status=415,
        )
    return Image(data, content_type)


def decode_base64_image(text: object) -> bytes:
    """Decode the ``image`` field of ``POST /predict/json``: base64, optionally as a ``data:`` URL."""
    if not isinstance(text, str) or not text.strip():
        raise BadRequest('"image" must be a non-empty base64 string', code="invalid_request")
    if len(text) > MAX_IMAGE_BYTES * 4 // 3 + 1024:
        raise ImageRejected(
            f"the image is larger than {MAX_IMAGE_BYTES:,} bytes", code="image_too_large", status=413
        )
    payload = re.sub(r"\s+", "", _DATA_URL.sub("", text.strip(), count=1))
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest('"image" is not valid base64', code="invalid_base64") from None
