"""Digits that touch: two digits written so close that their strokes run into each other, one mark.

The service reads a number mark by mark, and a mark wide enough to be several digits is tried cut
(``model.inference``). Whether to cut is the network's to say: trained with these pictures as a class
of their own (:data:`model.network.TOUCHING`), it tells two digits that touch ("44", a 1 against its
neighbour) from a symbol whose pieces look like digits (a ``%`` is a loop with a tail down and a tail
with a loop below: a 9 and a 6), which it has learnt as "not a digit".

Pairs are made of MNIST digits and of typed digits (both of one font, as a number is written in one
hand), side by side with their ink boxes overlapping by 0-3 pixels at MNIST's height, enlarged as an
upload would be, half of them dark on light; only those the service reads as one mark are kept
(``training.sets``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

from training import negatives

HEIGHT = 28  # the digits' height, MNIST's, at which they are put side by side
MARGIN = 8


def _crop(ink: np.ndarray) -> np.ndarray | None:
    """Light-on-dark ``ink`` cropped to its strokes and scaled to :data:`HEIGHT` rows (None: blank)."""
    rows, cols = np.flatnonzero(ink.max(axis=1) > 0), np.flatnonzero(ink.max(axis=0) > 0)
    if rows.size == 0:
        return None
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    width = max(1, round(crop.shape[1] * HEIGHT / crop.shape[0]))
    return np.asarray(Image.fromarray(crop).resize((width, HEIGHT), Image.Resampling.BILINEAR))


def _pair(left: np.ndarray, right: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Two cropped digits side by side, overlapping by 0-3 px and shifted up or down by up to 2 px,
    enlarged 2-4 times, half of them inverted to dark on light."""
    gap = -int(rng.integers(0, 4))
    width = left.shape[1] + right.shape[1] + gap + 2 * MARGIN
    strip = np.zeros((HEIGHT + 2 * MARGIN, width), np.uint8)
    strip[MARGIN : MARGIN + HEIGHT, MARGIN : MARGIN + left.shape[1]] = left
    x, y = MARGIN + left.shape[1] + gap, MARGIN + int(rng.integers(-2, 3))
    region = strip[y : y + HEIGHT, x : x + right.shape[1]]
    np.maximum(region, right, out=region)
    scale = float(rng.uniform(2, 4))
    size = (round(strip.shape[1] * scale), round(strip.shape[0] * scale))
    big = np.asarray(Image.fromarray(strip).resize(size, Image.Resampling.BICUBIC))
    return 255 - big if rng.random() < 0.5 else big


def pairs(mnist: np.ndarray, fonts: dict[str, Sequence[str]], count: int, seed: int) -> list[np.ndarray]:
    """``count`` pictures of two digits that may touch: half from ``mnist`` (28x28 light on dark), half
    typed in ``fonts`` (:func:`training.negatives.render_glyph`), each pair in one font."""
    rng = np.random.default_rng(seed)
    files = [file for family in fonts.values() for file in family]
    out: list[np.ndarray] = []
    while len(out) < count:
        if len(out) % 2 == 0:
            crops = [_crop(mnist[int(k)]) for k in rng.integers(0, len(mnist), 2)]
        else:
            font = files[int(rng.integers(len(files)))]
            glyphs = [negatives.render_glyph(str(d), font, rng) for d in rng.integers(0, 10, 2)]
            crops = [None if g is None else _crop(255 - g) for g in glyphs]
        if crops[0] is not None and crops[1] is not None:
            out.append(_pair(crops[0], crops[1], rng))
    return out
