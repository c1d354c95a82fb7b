"""Digits written as much of the world writes them: a 1 with a long up-stroke, a 7 crossed.

MNIST's writers were American (Census Bureau staff and high-school students): their 1 is mostly a
plain stroke and their 7 is seldom crossed. In continental Europe and Latin America a 1 is written
with a long up-stroke (a flag) from its top down to the left, and a 7 with a bar across its stem so as
not to be taken for that 1; a typed 1 has the same flag in many faces (Roboto, Helvetica, Inter). A
network trained on MNIST alone reads the flagged 1 as a 7 and the crossed 7 as a 9 or a 4.

:func:`restyled` draws the flag on some of the training 1s and the bar on some of the 7s, on their 28x28
images, before they are enlarged as uploads (``training.sets.enlarged``): the strokes are anti-aliased
lines as wide as the digit's own strokes, so that they blur and scale with the digit.
"""

from __future__ import annotations

import numpy as np

#: Of the training uploads, the share of 1s given a flag and of 7s given a bar across.
FLAGGED_ONES = 0.4
CROSSED_SEVENS = 0.3
INK = 128  # a pixel at least this bright is the digit's stroke


def _line(image: np.ndarray, start: tuple[float, float], end: tuple[float, float], width: float) -> np.ndarray:
    """``image`` (float, light on dark) with an anti-aliased line of ``width`` pixels from ``start`` to
    ``end`` (x, y) drawn in at full brightness; round ends."""
    rows, cols = np.mgrid[0 : image.shape[0], 0 : image.shape[1]].astype(np.float64)
    (x0, y0), (x1, y1) = start, end
    length = max(float(np.hypot(x1 - x0, y1 - y0)), 1e-9)
    ux, uy = (x1 - x0) / length, (y1 - y0) / length
    along = np.clip((cols - x0) * ux + (rows - y0) * uy, 0.0, length)
    distance = np.hypot(cols - x0 - along * ux, rows - y0 - along * uy)
    return np.maximum(image, np.clip(width / 2 + 0.5 - distance, 0.0, 1.0) * 255.0)


def _stroke_width(ink: np.ndarray) -> float:
    """The digit's stroke width in pixels: its ink per row it spans (a fair measure for 1s and 7s,
    whose rows cross one stroke or two)."""
    return max(1.5, float(ink.sum()) / max(1, int(ink.any(axis=1).sum())))


def _runs(row: np.ndarray) -> list[tuple[int, int]]:
    """The runs of ink in one row of a mask: ``[(first column, last column + 1), ...]``."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], row.astype(np.int8), [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def flagged_one(image: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    """A 28x28 uint8 1 (light on dark) with a flag: from its top, down to the left, 0.2-0.4 of its
    height long at 30-60 degrees below the horizontal (flatter and longer, it would be a 7's bar).
    None for a 1 that is not one plain stroke at its top (one with a serif, a hook or a flag of its
    own already): a flag drawn on it would be a scrawl."""
    ink = image >= INK
    rows, cols = np.nonzero(ink)
    if rows.size == 0:
        return None
    top, height = rows.min(), rows.max() - rows.min() + 1
    width = _stroke_width(ink)
    head = [_runs(ink[y]) for y in range(top, top + max(2, height // 4))]
    if any(len(runs) != 1 or runs[0][1] - runs[0][0] > 2 * width for runs in head):
        return None
    x_top = float(cols[rows == top].mean())
    length = rng.uniform(0.2, 0.4) * height
    angle = np.radians(rng.uniform(30.0, 60.0))
    end = (x_top - length * np.cos(angle), top + length * np.sin(angle))
    return _line(image.astype(np.float64), (x_top, float(top)), end, 0.9 * width).astype(np.uint8)


def crossed_seven(image: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    """A 28x28 uint8 7 (light on dark) with a bar across its stem at 50-65 % of its height, as long as
    0.4-0.7 of the digit's width, tilted up to a pixel either way, as thick as the stem. None where
    that row crosses more than the stem (a 7 with a curled top, or written in a loop)."""
    ink = image >= INK
    rows, cols = np.nonzero(ink)
    if rows.size == 0:
        return None
    y = round(float(rows.min() + rng.uniform(0.5, 0.65) * (rows.max() - rows.min())))
    runs = _runs(ink[y])
    if len(runs) != 1:
        return None
    ((first, last),) = runs
    half = rng.uniform(0.2, 0.35) * (cols.max() - cols.min() + 1)
    x = (first + last - 1) / 2
    tilt = rng.uniform(-1.0, 1.0)
    thickness = 0.9 * min(_stroke_width(ink), float(last - first))
    return _line(image.astype(np.float64), (x - half, y + tilt / 2), (x + half, y - tilt / 2), thickness).astype(
        np.uint8
    )


def restyled(images: np.ndarray, labels: np.ndarray, seed: int) -> np.ndarray:
    """``(N, 28, 28)`` uint8 MNIST digits with :data:`FLAGGED_ONES` of the 1s flagged and
    :data:`CROSSED_SEVENS` of the 7s crossed, where they are written so that it can be drawn (a copy;
    the rest as they are). Deterministic in ``seed``."""
    rng = np.random.default_rng(seed)
    out = images.copy()
    draws = rng.random(len(images))
    for digit, share, style in ((1, FLAGGED_ONES, flagged_one), (7, CROSSED_SEVENS, crossed_seven)):
        for i in np.flatnonzero((labels == digit) & (draws < share)):
            drawn = style(images[i], rng)
            if drawn is not None:
                out[i] = drawn
    return out
