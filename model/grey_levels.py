"""Step 2 of :mod:`model.preprocess`: any Pillow mode (or an array such as a canvas's RGBA) -> one float
grey image at about the working size (:func:`to_grey`).

16/32-bit and float images are scaled to 8 bits; transparency is composited so that transparent pixels
are background. Numpy and Pillow only.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from .contract import InputError
from .decoding import WORK_SIZE, work_factor

#: Tiny images (an icon-sized scan) are enlarged to at least this, so pixel thresholds stay meaningful.
MIN_WORK_SIZE = 64
#: Alpha (of 255) below which even the most opaque pixel of a picture is invisible: a blank canvas.
MIN_OPACITY = 16


def split_bands(image: Image.Image) -> tuple[Image.Image, Image.Image | None]:
    """Any Pillow mode -> (grey as ``L``, or ``F`` (32-bit float, 0-255) for deep images; alpha or ``None``)."""
    mode = image.mode
    if is_transparent(image):
        image = image if mode in ("LA", "RGBA") else image.convert("RGBA")
        return image.convert("L"), image.getchannel("A")
    if mode == "L":
        return image, None
    if mode.startswith("I") or mode == "F":
        return Image.fromarray(_scale_to_8bit(np.asarray(image), mode)), None
    try:
        return image.convert("L"), None  # 1, P, RGB, CMYK, YCbCr, ...
    except ValueError:
        return image.convert("RGB").convert("L"), None


def is_transparent(image: Image.Image | np.ndarray) -> bool:
    """Whether a picture (a Pillow image, or an array such as a canvas's RGBA) has an alpha channel."""
    if isinstance(image, np.ndarray):
        return image.ndim == 3 and image.shape[2] == 4
    return image.mode in ("LA", "RGBA", "RGBa", "La", "PA") or (image.mode == "P" and "transparency" in image.info)


def _scale_to_8bit(values: np.ndarray, mode: str) -> np.ndarray:
    """High-bit-depth grey values -> float32 0-255, keeping absolute contrast where the range is known.

    16-bit images are divided by 257 (65535 -> 255). 32-bit integer and float images have no fixed range:
    values already within 0-1 or 0-255 are taken as such, anything else is stretched from min to max.
    """
    v = values.astype(np.float32)
    if not np.isfinite(v).all():
        v = np.nan_to_num(v, nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = float(v.min()), float(v.max())
    if mode.startswith("I;16"):
        return v / 257.0
    if lo >= 0 and hi <= 1.0 and mode == "F":
        return v * 255.0
    if lo >= 0 and hi <= 255.0:
        return v
    if lo >= 0 and hi <= 65535.0 and mode != "F":
        return v / 257.0
    return (v - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(v)


def _resize_for_work(image: Image.Image, work_size: int) -> Image.Image:
    """Reduce to about ``work_size`` squared pixels (or enlarge tiny images to ``MIN_WORK_SIZE``)."""
    longest = max(image.size)
    if longest < MIN_WORK_SIZE:
        scale = MIN_WORK_SIZE / longest
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        return image.resize(size, Image.Resampling.BICUBIC)
    factor = work_factor(image.width, image.height, work_size)
    return image.reduce(factor) if factor > 1 else image


def _composite(grey: Image.Image, alpha: Image.Image) -> Image.Image:
    """Flatten grey + alpha so that transparent pixels become background (``L``).

    Ink is a minority of any picture of a digit. So when most pixels are visible, the picture has a
    background of its own (a photo with transparent padding): transparent pixels get its dominant
    (median) grey. When few are, the visible pixels are the drawing itself (a canvas stroke, the
    shape anti-aliased through alpha): transparent pixels get the extreme opposite of its grey
    (black behind a light stroke, white behind a dark one). Opacity counts relative to the most
    opaque pixel: a drawing made with a semi-transparent brush is a drawing, not a blank canvas.
    """
    opacity = alpha.histogram()
    if not any(opacity[:250]):  # opaque: the alpha channel carries nothing
        return grey
    most = max(level for level, count in enumerate(opacity) if count or level == 0)
    if most < MIN_OPACITY:
        return Image.new("L", grey.size, 0)  # (nearly) fully transparent: blank
    if most < 255:
        # A semi-transparent brush (every stroke pixel at alpha 77, say) is ink all the same: its most
        # opaque pixels are the brush at full strength, so the alpha is stretched to reach 255.
        alpha = alpha.point([min(255, round(level * 255 / most)) for level in range(256)])
        opacity = alpha.histogram()
    visible = sum(opacity[128:])
    darkest, lightest = grey.getextrema()
    if darkest == lightest:  # one colour under the alpha (a canvas stroke): the median is that colour
        median = darkest
    else:
        shown = np.cumsum(np.bincount(np.asarray(grey)[np.asarray(alpha) >= 128], minlength=256))
        median = int(np.searchsorted(shown, visible / 2))
    background = median if visible > grey.width * grey.height / 2 else 255 if median < 128 else 0
    return Image.composite(grey, Image.new("L", grey.size, background), alpha)


def to_grey(image: Image.Image | np.ndarray, work_size: int = WORK_SIZE) -> np.ndarray:
    """A Pillow image or an array (``(H, W)``, ``(H, W, 3)`` or ``(H, W, 4)``, e.g. a canvas's RGBA) ->
    float32 grey levels 0-255 at working size, transparency flattened.

    Grey and alpha are resized apart, then flattened: resizing them together, Pillow would
    premultiply and un-premultiply the alpha around the resize, twice the work for the same picture
    wherever the colour under a soft edge is uniform (a canvas stroke, transparent padding).
    """
    if isinstance(image, np.ndarray):
        image = array_to_image(image)
    grey, alpha = split_bands(image)
    grey = _resize_for_work(grey, work_size)
    if alpha is not None:
        grey = _composite(grey, _resize_for_work(alpha, work_size))
    return np.asarray(grey, dtype=np.float32)


def array_to_image(array: np.ndarray) -> Image.Image:
    """An array -> an 8-bit Pillow image: uint8 as is, booleans as 0/255, other numbers must lie within
    0-255 and are rounded."""
    a = np.asarray(array)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)) or a.size == 0:
        raise InputError("invalid_pixels", f"an image array must be (H, W), (H, W, 3) or (H, W, 4), not {a.shape}")
    if a.dtype == np.bool_:
        a = a.astype(np.uint8) * 255
    elif a.dtype != np.uint8:
        if not np.issubdtype(a.dtype, np.number):
            raise InputError("invalid_pixels", f"pixel values must be numbers, not {a.dtype}")
        a = a.astype(np.float32)
        if not np.isfinite(a).all() or float(a.min()) < 0 or float(a.max()) > 255:
            raise InputError("invalid_pixels", "pixel values must be finite numbers from 0 to 255")
        a = np.rint(a).astype(np.uint8)  # the same picture as uint8 gives the same digits
    return Image.fromarray(a)
