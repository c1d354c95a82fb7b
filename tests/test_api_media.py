"""What the service accepts as an image (magic bytes, not the declared type) and the size cap."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from chalicelib import contract, media
from chalicelib.errors import ServiceError
from tests import images

pytestmark = pytest.mark.unit

DIGIT = np.zeros((28, 28), dtype=np.uint8)
DIGIT[4:24, 12:16] = 255


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [
        ("PNG", "image/png"),
        ("JPEG", "image/jpeg"),
        ("GIF", "image/gif"),
        ("WEBP", "image/webp"),
        ("BMP", "image/bmp"),
        ("TIFF", "image/tiff"),
    ],
)
def test_every_supported_format_is_recognised_by_its_bytes(fmt: str, content_type: str):
    data = images.encode(DIGIT, fmt)
    image = media.accept_image(data)
    assert image.content_type == content_type
    assert image.data == data
    assert image.extension in ("png", "jpg", "gif", "webp", "bmp", "tiff")


def test_a_jpeg_declared_as_png_is_sent_as_jpeg():
    # The route accepts any of the image types; what is sent on is what the bytes are.
    assert media.accept_image(images.jpeg(DIGIT)).content_type == "image/jpeg"


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "PDF"),
        (b"PK\x03\x04\x14\x00\x00\x00", "ZIP"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"></svg>', "SVG"),
        (b"<!DOCTYPE html><html><body>hi</body></html>", "HTML"),
        (b"  <html><body>hi</body></html>", "HTML"),
        (b"hello, this is plain text", "not an image"),
        (b'{"image": "abc"}', "JSON"),
        (b'\xef\xbb\xbf{"image": "abc"}', "JSON"),  # a byte order mark first (shared/cases/b4_*)
        (b"\xef\xbb\xbf<html><body>hi</body></html>", "HTML"),
    ],
)
def test_non_images_are_refused_with_415_naming_what_was_sent(body: bytes, named: str):
    with pytest.raises(ServiceError) as info:
        media.accept_image(body)
    assert (info.value.status, info.value.code) == (415, "unsupported_media_type")
    assert named in info.value.message


def test_empty_body_is_400():
    for body in (b"", None):
        with pytest.raises(ServiceError) as info:
            media.accept_image(body)
        assert (info.value.status, info.value.code) == (400, "empty_body")


def test_size_cap_is_413_and_below_every_hop_limit():
    # API Gateway base64-encodes binary bodies into Lambda's 6 MB payload; serverless endpoints take 4 MB.
    assert media.MAX_IMAGE_BYTES * 4 / 3 < 6 * 1024 * 1024 - 64 * 1024
    assert media.MAX_IMAGE_BYTES <= 4_000_000
    too_big = images.png(DIGIT) + b"\x00" * media.MAX_IMAGE_BYTES
    with pytest.raises(ServiceError) as info:
        media.accept_image(too_big)
    assert (info.value.status, info.value.code) == (413, "image_too_large")
    assert info.value.message.endswith(contract.SHRINK_HINT)  # what to do about it: a phone photo is often over
    media.check_size(media.MAX_IMAGE_BYTES)  # exactly the cap is fine


def test_an_oversized_base64_image_is_refused_with_its_size_before_decoding():
    for size in (contract.MAX_JSON_BYTES, contract.MAX_JSON_BYTES + 1, contract.MAX_JSON_BYTES + 2):
        text = base64.b64encode(bytes(size)).decode()
        with pytest.raises(contract.InputError) as info:
            contract.decode_image_field(text)
        assert info.value.code == "image_too_large"
        assert f"about {size:,} bytes" in info.value.message  # the size it would decode to, padding counted
        assert f"the limit is {contract.MAX_IMAGE_BYTES:,} bytes: {contract.SHRINK_HINT}" in info.value.message


def test_base64_and_data_urls_decode():
    data = images.png(DIGIT)
    encoded = base64.b64encode(data).decode()
    assert media.decode_base64_image(encoded) == data
    assert media.decode_base64_image("data:image/png;base64," + encoded) == data
    assert media.decode_base64_image(encoded[:40] + "\n" + encoded[40:]) == data


@pytest.mark.parametrize("value", [None, "", "   ", 42, ["x"], "not base64 !!!", "abc"])
def test_bad_base64_is_400(value: object):
    with pytest.raises(ServiceError) as info:
        media.decode_base64_image(value)
    assert info.value.status == 400
    assert info.value.code in ("invalid_request", "invalid_base64", "empty_body")


def test_route_content_types_are_binary_and_cover_the_formats():
    assert set(contract.IMAGE_TYPES) <= set(media.IMAGE_CONTENT_TYPES)
    assert {"image/jpg", "application/x-image"} <= set(media.IMAGE_CONTENT_TYPES)
    assert "application/octet-stream" in media.IMAGE_CONTENT_TYPES
