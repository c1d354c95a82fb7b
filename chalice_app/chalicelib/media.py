"""What counts as an image here, checked before anything is stored or sent: the contract's rules
(:mod:`chalicelib.contract`) as the service's errors.

The declared ``Content-Type`` is a hint only: a body declared ``image/png`` that is really a JPEG is
accepted and sent on as ``image/jpeg``; text, HTML, PDF, SVG or ZIP bodies are refused with 415 whatever
they claim to be.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib import contract
from chalicelib.errors import ServiceError

MAX_IMAGE_BYTES = contract.MAX_IMAGE_BYTES
#: Content types the binary ``POST /predict`` route accepts (and Chalice must treat as binary).
IMAGE_CONTENT_TYPES = contract.IMAGE_CONTENT_TYPES


@dataclass(frozen=True)
class Image:
    """An accepted image: its bytes and the type sniffed from them."""

    data: bytes
    content_type: str

    @property
    def extension(self) -> str:
        return contract.IMAGE_TYPES[self.content_type]


#: What an image without bytes is told, by where it came from (a record's ``source``).
EMPTY = {
    "api": "the request body is empty: send the image bytes "
    "(curl: --data-binary @digit.png -H 'Content-Type: image/png')",
    "s3": "the inbox object is empty (0 bytes): upload the image's bytes",
}


def empty_image(source: str = "api") -> ServiceError:
    return ServiceError(EMPTY[source], code="empty_body")


def check_size(size: int, source: str = "api") -> None:
    """Refuse an empty or oversized image (also used on an S3 object's size before it is read)."""
    if size == 0:
        raise empty_image(source)
    if size > MAX_IMAGE_BYTES:
        raise ServiceError(contract.too_large(size).message, code="image_too_large")


#: What the bytes were, in a refusal, by where they came from (a record's ``source``, or the JSON route).
HOLDER = {"api": "the body", "json": 'the "image" field', "s3": "the inbox object"}


def accept_image(data: bytes | None, source: str = "api") -> Image:
    """Validate an uploaded image (``source``: "api", "json" (the ``image`` field of ``POST
    /predict/json``, decoded) or "s3"): not empty, within the cap, and really an image of a supported type."""
    data = data or b""
    check_size(len(data), "s3" if source == "s3" else "api")
    content_type = contract.sniff(data)
    if content_type is None:
        kind = contract.describe_non_image(data)
        if kind == "JSON" and source == "api":
            kind = "JSON (send it to POST /predict/json)"
        raise ServiceError(
            f"{HOLDER[source]} is {kind}; send a PNG, JPEG, GIF, WebP, BMP or TIFF image", code="unsupported_media_type"
        )
    return Image(data, content_type)


def decode_base64_image(value: object) -> bytes:
    """Decode the ``image`` field of ``POST /predict/json``: base64, or a ``data:`` URL (RFC 2397)."""
    try:
        return contract.decode_image_field(value)
    except contract.InputError as exc:
        raise ServiceError(exc.message, code=exc.code) from None
