"""Step 1 of :mod:`model.preprocess`: encoded bytes -> an upright, loaded Pillow image, decoded safely.

Only the formats of :data:`FORMATS`; the byte size and the pixel count are checked from the header before
the pixels are decoded (decompression bombs); EXIF orientation is applied; large JPEGs are decoded at
reduced scale (:func:`work_factor`, towards :data:`WORK_SIZE`). Pillow only.
"""

from __future__ import annotations

import contextlib
import io
import re
from math import ceil

from PIL import Image, ImageOps, UnidentifiedImageError

from .contract import MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS, SHRINK_HINT, InputError, sniff, too_large

#: Formats Pillow may decode (JPEG includes phones' multi-picture MPO files). Restricting them keeps
#: exotic decoders (EPS runs Ghostscript) out of reach.
FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "DIB", "GIF", "TIFF")
#: The working image has about as many pixels as a square of this side (a wide strip of digits keeps
#: its height): larger pictures are reduced early by a whole factor (averaging boxes of pixels, several
#: times faster than resampling), as every later step costs time per pixel. Its size ends up within
#: about 2/3 and 3/2 of this; a digit a fifth of a square picture's side keeps 21 pixels or more.
WORK_SIZE = 160


def decode(data: bytes, work_size: int = WORK_SIZE) -> Image.Image:
    """Encoded bytes -> an upright, loaded Pillow image (first frame), checked against the size caps.

    Raises ``InputError``: ``empty_body``, ``image_too_large``, ``unsupported_media_type``, ``corrupt_image``.
    """
    return decode_with_size(data, work_size)[0]


def _too_many_pixels(size: str) -> InputError:
    """One answer for every image over the pixel limit: Pillow's own decompression-bomb check fires
    only far above ours (its limit is its own), so its message would state a second limit."""
    return InputError(
        "image_too_large", f"the limit is {MAX_IMAGE_PIXELS:,} pixels in all; the image is {size}: {SHRINK_HINT}"
    )


def _bomb_size(bomb: Exception) -> str:
    """The image's size as Pillow's bomb check names it ("Image size (N pixels) exceeds limit ..."), raised
    from the header before our own check could read it; else "more than that"."""
    found = re.search(r"\((\d+) pixels\)", str(bomb))
    return f"{int(found[1]):,} pixels" if found else "more than that"


def decode_with_size(data: bytes, work_size: int) -> tuple[Image.Image, tuple[int, int]]:
    """:func:`decode`, plus the upright image's full size: JPEGs larger than ``work_size`` are decoded
    at 1/2, 1/4 or 1/8 scale directly by libjpeg, so the returned image may be smaller than that."""
    if not data:
        raise InputError("empty_body", "the request body is empty: send an image")
    if len(data) > MAX_IMAGE_BYTES:
        raise too_large(len(data))
    try:
        image = Image.open(io.BytesIO(data), formats=FORMATS)  # reads the header only
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as bomb:
        raise _too_many_pixels(_bomb_size(bomb)) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        if sniff(data):  # Pillow's message names the buffer object's address: not for the answer
            detail = "" if isinstance(exc, UnidentifiedImageError) else f" ({exc})"
            raise InputError("corrupt_image", f"the image data is damaged and cannot be decoded{detail}") from None
        raise InputError(
            "unsupported_media_type",
            "the body is not an image in a supported format (PNG, JPEG, WebP, BMP, GIF, TIFF)",
        ) from None
    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        raise _too_many_pixels(f"{width * height:,} pixels ({width}x{height})")
    if width < 1 or height < 1:
        raise InputError("corrupt_image", "the image has no pixels")
    try:
        factor = work_factor(width, height, work_size)
        if image.format in ("JPEG", "MPO") and factor >= 2:
            # libjpeg scales by 1/2, 1/4 or 1/8 while the result still covers the requested size.
            mode = "L" if image.mode in ("L", "RGB") else image.mode
            image.draft(mode, (ceil(width / factor), ceil(height / factor)))
        image.seek(0)  # animated GIF / multi-page TIFF: the first frame
        image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as bomb:
        raise _too_many_pixels(_bomb_size(bomb)) from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, MemoryError) as exc:
        raise InputError("corrupt_image", f"the image data is damaged or truncated ({exc})") from None
    upright = image
    if "exif" in image.info or image.format == "TIFF":  # where an orientation tag can be
        with contextlib.suppress(Exception):  # a malformed EXIF block: keep the pixels as stored
            upright = ImageOps.exif_transpose(image) or image
    if upright.size != image.size:  # rotated by 90 or 270 degrees
        width, height = height, width
    return upright, (width, height)


def work_factor(width: int, height: int, work_size: int) -> int:
    """The whole factor that brings a picture nearest to ``work_size`` squared pixels (1: keep its size)."""
    return max(1, round((width * height) ** 0.5 / work_size))
