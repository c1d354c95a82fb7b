"""A group of marks rendered as one digit (:func:`render_group`), and the other readings a digit offers
the classifier (step 4 of :mod:`model.preprocess`): a wide mark cut into digits that touch
(:attr:`Digit.cuts`, :func:`find_cuts`), marks typed apart joined as one symbol (:attr:`Digit.joined`,
:func:`with_joins`). Numpy only.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import replace

import numpy as np

from .components import Component, merge_components, overlap_length
from .ink import Levels
from .rendering import SIZE, Digit, dilate, render_digit, shift_digit

#: Marks whose columns overlap may be one symbol typed apart (``Digit.joined``) when together no wider
#: than this times their height (a % is about as wide as tall) ...
JOIN_ASPECT = 1.5
#: ... and the shortest of them at most this share of the tallest (a %'s rings against its slash).
JOIN_HEIGHTS = 0.75


def render_group(
    group: Component, labels: np.ndarray, ink: np.ndarray, levels: Levels
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray, tuple[int, int]]:
    """A group of components -> (its 28x28 pixels, or ``None`` for a faint smudge; its ink and strokes
    in a window one pixel larger than its box, for the anti-aliased fringe; the window's origin)."""
    height, width = labels.shape
    y0, y1, x0, x1 = max(0, group.y0 - 1), min(height, group.y1 + 1), max(0, group.x0 - 1), min(width, group.x1 + 1)
    window = labels[y0:y1, x0:x1]
    strokes = window == group.labels[0] if len(group.labels) == 1 else np.isin(window, group.labels)
    own = np.where(dilate(strokes), ink[y0:y1, x0:x1], 0.0)  # the neighbours' strokes left out
    return render_digit(own, strokes, levels.noise, levels.least), own, strokes, (x0, y0)


def with_joins(
    digits: list[Digit], groups: list[Component], labels: np.ndarray, ink: np.ndarray, levels: Levels
) -> list[Digit]:
    """``digits`` with :attr:`Digit.joined` set on the first of each run of marks that may be one
    symbol typed apart (the rings and the slash of some fonts' %): each mark's columns overlap the next
    one's (digits of a number stand apart), their heights differ (:data:`JOIN_HEIGHTS`: the rings are
    shorter than the slash; digits of a number are about as tall as each other), and together they
    are no wider than :data:`JOIN_ASPECT` times their height (not a whole number written tightly)."""
    out, start = list(digits), 0
    while start < len(groups):
        end = start + 1
        while (
            end < len(groups)
            and overlap_length(groups[end - 1].x0, groups[end - 1].x1, groups[end].x0, groups[end].x1) > 0
            and (run := functools.reduce(merge_components, groups[start : end + 1])).width <= JOIN_ASPECT * run.height
        ):
            end += 1
        heights = [group.height for group in groups[start:end]]
        if end - start > 1 and min(heights) <= JOIN_HEIGHTS * max(heights):
            run = functools.reduce(merge_components, groups[start:end])
            out[start] = replace(out[start], joined=functools.partial(_joined, run, end - start, labels, ink, levels))
            start = end
        else:
            start += 1
    return out


def _joined(group: Component, count: int, labels: np.ndarray, ink: np.ndarray, levels: Levels) -> tuple[int, Digit]:
    pixels, *_ = render_group(group, labels, ink, levels)
    return count, Digit(pixels if pixels is not None else np.zeros((SIZE, SIZE), np.uint8), group.box)


#: Where the cuts between touching digits are tried, in steps of a digit's width from the even
#: divisions (digits differ in width: a 1 next to a 0).
CUT_SHIFTS = (-0.3, -0.15, 0.0, 0.15, 0.3)
#: A piece of a cut shorter than this share of the mark's height is no digit. Under a half: handwriting
#: fonts and old-style figures write a 0 as tall as a small letter, 0.45 of the 4 it touches in dkg's
#: "04" (docs/model.md, step 4).
MIN_CUT_HEIGHT = 0.4


def find_cuts(
    ink: np.ndarray, strokes: np.ndarray, levels: Levels, counts: tuple[int, ...], origin: tuple[int, int]
) -> tuple[tuple[Digit, ...], ...]:
    """Ways to cut one mark (its ink and strokes in a window at ``origin``) into each of ``counts``
    digits side by side, the distinct ones only, boxes in working pixels."""
    profile = strokes.sum(axis=0)  # ink per column, where the cuts are chosen
    rows = np.flatnonzero(strokes.any(axis=1))
    min_height = MIN_CUT_HEIGHT * (rows[-1] + 1 - rows[0])
    ways, seen = [], set()
    for count in counts:
        for shift in CUT_SHIFTS:
            cut = _cut(ink, strokes, profile, min_height, levels, count, shift)
            parts = tuple(shift_digit(part, *origin) for part in cut)
            key = tuple(part.box for part in parts)
            if parts and key not in seen:
                seen.add(key)
                ways.append(parts)
    return tuple(ways)


def _cut(
    ink: np.ndarray,
    strokes: np.ndarray,
    profile: np.ndarray,
    min_height: float,
    levels: Levels,
    count: int,
    shift: float,
) -> tuple[Digit, ...]:
    """One mark cut into ``count`` digits side by side; boxes relative to the window. Empty if a
    piece is not a digit (too faint, or shorter than ``min_height``).

    Each cut is the column with the least ink (``profile``) within a tenth of a digit's width of
    ``shift`` digit widths from one of the ``count - 1`` even divisions.
    """
    width = strokes.shape[1]
    step = width / count
    edges = [0]
    for i in range(1, count):
        centre = (i + shift) * step
        lo, hi = max(edges[-1] + 1, int(centre - 0.1 * step)), min(width - 1, int(centre + 0.1 * step) + 1)
        if hi <= lo:
            return ()
        edges.append(lo + int(np.argmin(profile[lo:hi] + 0.01 * np.abs(np.arange(lo, hi) - centre))))
    edges.append(width)
    parts = []
    for a, b in itertools.pairwise(edges):
        piece = strokes[:, a:b]
        filled = np.flatnonzero(piece.any(axis=1))
        if filled.size == 0 or filled[-1] + 1 - filled[0] < min_height:
            return ()
        pixels = render_digit(ink[:, a:b], piece, levels.noise, levels.least)
        if pixels is None:
            return ()
        cols = np.flatnonzero(piece.any(axis=0))
        parts.append(Digit(pixels, (a + int(cols[0]), int(filled[0]), a + int(cols[-1]) + 1, int(filled[-1]) + 1)))
    return tuple(parts)
