"""Step 5 of :mod:`model.preprocess`: a mark's grey ink -> the 28x28 MNIST-style image the network reads
(:func:`render_digit`), and :class:`Digit`, which carries it with its box.

Also the stroke width (:func:`stroke_width`) and the 3x3 dilation (:func:`dilate`) the other steps measure
marks with, and moving a digit's boxes (:func:`with_boxes`). Numpy and Pillow only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

SIZE = 28  # the MNIST field
BOX = 20  # the MNIST digit box inside it
#: MNIST's stroke width in pixels of the 20-pixel box, as :func:`stroke_width` measures it on the
#: thresholded strokes at working size: median 2.5, quartiles 2.0 and 2.9 over validation digits.
#: Strokes thinner than MNIST's lower quartile (a pen line in a photo, a thin brush) are thickened.
MNIST_STROKE = 2.5
THIN_STROKE = 2.0
MIN_DIGIT_CONTRAST = 32.0  # a digit's typical ink must stand out at least this much


@dataclass(frozen=True)
class Digit:
    """One digit as the network sees it, and where it was found.

    ``pixels``: ``(28, 28)`` uint8, light on dark, MNIST-style. ``box``: ``(x0, y0, x1, y1)`` in pixels
    of the upright input image (after EXIF orientation), ``x1``/``y1`` exclusive.

    ``cuts``: for a mark wide enough to be several digits that touch, renders the ways to cut it into
    digits (each way a tuple of digits, left to right). Whether to cut is for the classifier to say
    (``model.inference``), and it calls this only for a mark it is unsure of as one digit: rendering
    the cuts costs about as much as the rest of the preprocessing.

    ``joined``: for the first of marks side by side whose columns overlap, each the next one's (the
    rings and the slash of a % typed apart), renders them as one mark: ``(how many marks, the mark)``.
    Whether they are one symbol is for the classifier to say.
    """

    pixels: np.ndarray
    box: tuple[int, int, int, int]
    cuts: Callable[[], tuple[tuple[Digit, ...], ...]] | None = field(default=None, compare=False, repr=False)
    joined: Callable[[], tuple[int, Digit]] | None = field(default=None, compare=False, repr=False)


def dilate(image: np.ndarray) -> np.ndarray:
    """3x3 grey-level dilation (the maximum over each pixel's 8 neighbours and itself); a boolean mask
    grown by a pixel all round."""
    out = image.copy()
    np.maximum(out[1:], image[:-1], out=out[1:])
    np.maximum(out[:-1], image[1:], out=out[:-1])
    rows = out.copy()
    np.maximum(out[:, 1:], rows[:, :-1], out=out[:, 1:])
    np.maximum(out[:, :-1], rows[:, 1:], out=out[:, :-1])
    return out


def stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width of a boolean image: area / half the number of boundary pixels (4-neighbours)."""
    area = int(mask.sum())
    if area == 0:
        return 0.0
    inner = mask.copy()
    inner[1:, :] &= mask[:-1, :]
    inner[:-1, :] &= mask[1:, :]
    inner[:, 1:] &= mask[:, :-1]
    inner[:, :-1] &= mask[:, 1:]
    inner[0, :] = inner[-1, :] = False
    inner[:, 0] = inner[:, -1] = False
    boundary = area - int(inner.sum())
    return area / max(boundary / 2.0, 1.0)


def render_digit(
    ink: np.ndarray, strokes: np.ndarray, noise: float = 0.0, least: float = MIN_DIGIT_CONTRAST
) -> np.ndarray | None:
    """One digit -> 28x28 uint8 the MNIST way; ``None`` when its ink is too faint to be a digit.

    ``ink``: the digit's ink strength (0 = paper) in a window around it, anything else already zeroed;
    ``strokes``: its thresholded stroke pixels in the same window; ``least``: the core's least strength
    (:attr:`model.ink.Levels.least`). Grey levels are kept for
    anti-aliasing: paper grain below ``noise`` goes to 0 and the typical stroke core to 255. Strokes
    much thinner than MNIST's (a pen line in a large photo) are thickened. The digit's box is scaled
    with anti-aliasing (aspect ratio kept) so that its longer side is 20 pixels, then shifted so that
    its centre of mass is at the centre of the 28x28 field.
    """
    core = _percentile(ink[strokes], 90)
    if core < least:
        return None
    rows, cols = np.flatnonzero(strokes.any(axis=1)), np.flatnonzero(strokes.any(axis=0))
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    level = (ink[y0:y1, x0:x1] - noise) * (255.0 / max(core - noise, 1e-3))
    np.minimum(np.maximum(level, 0.0, out=level), 255.0, out=level)
    h, w = level.shape
    to_box = BOX / max(h, w)
    width = stroke_width(strokes[y0:y1, x0:x1]) * to_box  # in pixels of the 20-pixel box
    if width < THIN_STROKE:  # each 3x3 dilation adds two crop pixels to the width
        for _ in range(min(12, int(np.ceil((MNIST_STROKE - width) / (2 * to_box))))):
            level = dilate(level)
    size = (max(1, round(w * to_box)), max(1, round(h * to_box)))
    resample = Image.Resampling.BILINEAR if to_box < 1 else Image.Resampling.BICUBIC
    small = Image.fromarray(level.astype(np.uint8)).resize(size, resample)
    return _centre_by_mass(np.asarray(small))


def _centre_by_mass(digit: np.ndarray) -> np.ndarray:
    """Place a (<=20x20) uint8 digit in a 28x28 field with its centre of mass at pixel (14, 14), as MNIST did."""
    h, w = digit.shape
    field = np.zeros((SIZE, SIZE), dtype=np.uint8)
    rows = digit.sum(axis=1, dtype=np.float64)
    total = float(rows.sum())
    if total > 0:
        cy = float(rows @ np.arange(h)) / total
        cx = float(digit.sum(axis=0, dtype=np.float64) @ np.arange(w)) / total
    else:
        cy, cx = (h - 1) / 2, (w - 1) / 2
    top = min(max(round(SIZE / 2 - cy), 0), SIZE - h)
    left = min(max(round(SIZE / 2 - cx), 0), SIZE - w)
    field[top : top + h, left : left + w] = digit
    return field


def _percentile(values: np.ndarray, q: float) -> float:
    """``np.percentile(values, q)`` (linear interpolation) of a non-empty 1-d array, without its overhead."""
    position = (values.size - 1) * q / 100
    low = int(position)
    high = min(low + 1, values.size - 1)
    part = np.partition(values, (low, high))
    a, b, t = float(part[low]), float(part[high]), position - low
    return b - (b - a) * (1 - t) if t >= 0.5 else a + (b - a) * t  # numpy's own lerp, for the same result


def shift_box(box: tuple[int, int, int, int], dx: int, dy: int) -> tuple[int, int, int, int]:
    return box[0] + dx, box[1] + dy, box[2] + dx, box[3] + dy


def shift_digit(digit: Digit, dx: int, dy: int) -> Digit:
    return with_boxes(digit, lambda box: shift_box(box, dx, dy))


def with_boxes(digit: Digit, move: Callable[[tuple[int, int, int, int]], tuple[int, int, int, int]]) -> Digit:
    """``digit`` (and the digits of its cuts and of its joined marks) with every box passed through ``move``."""
    cuts, joined = digit.cuts, digit.joined

    def moved_cuts() -> tuple[tuple[Digit, ...], ...]:
        return tuple(tuple(with_boxes(part, move) for part in way) for way in cuts())

    def moved_join() -> tuple[int, Digit]:
        count, mark = joined()
        return count, with_boxes(mark, move)

    return Digit(
        digit.pixels, move(digit.box), None if cuts is None else moved_cuts, None if joined is None else moved_join
    )
