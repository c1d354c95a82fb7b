"""A notebook's margin line, which is not ink where the page's lines are too faint to be found
(:func:`find_margin_line`, step 4 of :mod:`model.preprocess`). Numpy only.
"""

from __future__ import annotations

import numpy as np

from .components import Component, component_pixels, least_height
from .printed_lines import RULE_EDGE, RULE_SPAN, RULE_THICKNESS
from .tables import TABLE_MARGIN

#: A notebook's margin line photographed at an angle slants up to this many columns per row (its page in
#: perspective, the camera turned).
MARGIN_SLANT = 0.4
#: ... and with nothing beside it, a line in this many pieces or more is printed, however much of it shows (the
#: rules crossing a faint margin line, its ends faded).
MARGIN_PIECES = 3
#: A printed line is no wider on average than this share of the picture's width: a pen's 1 cropped close
#: to its ends is several times wider.
PRINTED_LINE = 0.01


def find_margin_line(
    components: list[Component],
    labels: np.ndarray,
    shape: tuple[int, int],
    photo: bool = False,
    table: np.ndarray | None = None,
) -> list[int]:
    """The labels of a notebook's margin line, if one stands beside digits (else none): thin pieces (no
    wider than :data:`RULE_THICKNESS`) along one straight line (upright, or slanting up to
    :data:`MARGIN_SLANT` columns per row: a page photographed at an angle) from the top of the picture
    (``labels``: the ink's) to its bottom (within :data:`RULE_EDGE`, or to the ``table`` taken out beyond
    the page, or out by a side), along :data:`RULE_SPAN` of it, beside marks as tall as a digit (in a
    picture of ``shape``) and at most half as tall as the line. With the page's rules too faint to count
    (:func:`model.printed_lines.without_printed_lines`), the line was the tallest mark, the digits too short
    beside it, and it was read as a 1: a 1 is about as tall as the digits beside it. In a ``photo``, a line
    with no mark beside it, over half the picture's height and running off the page at an end at least (or
    across a corner of it, leaving by a side), is one too where it is a printed line's width
    (:data:`PRINTED_LINE`) or lies outside the picture's middle third (a blank page's margin line, in pieces
    between the rules, was read as a 1 at 0.9; a pen's 1 cropped close is wider, and stands in the middle),
    and so is one bar from the top to the bottom as wide as :data:`TABLE_MARGIN` of it: the table beside a
    sheet photographed off centre, only partly ink where the lighting fades it, was read as a 1 at 0.9 with
    the number beside it too short to count (a new user's trial: 23 of 108 photos)."""
    height, width = labels.shape
    edge, thickness = RULE_EDGE * height, RULE_THICKNESS * max(height, width)
    least = least_height(shape)
    thin = [c for c in components if c.width <= thickness or c.area <= thickness * c.height]
    # In a photo, one bar from the top to the bottom up to TABLE_MARGIN of it wide: the table's edge.
    bars = [
        c
        for c in components
        if photo
        and c.width <= TABLE_MARGIN * width
        and c.height >= height - 2 * edge
        and _even(component_pixels(c, labels))
    ]

    def reaches(row: int, part: Component) -> bool:  # the table beyond the page
        return table is not None and bool(table[min(max(row, 0), height - 1), part.x0 : part.x1].any())

    for line in (c for c in thin + bars if c.height >= least):
        pieces = [line] if line in bars else _along_line(line, thin)
        rows = sum(c.height for c in pieces)
        top, foot = min(pieces, key=lambda c: c.y0), max(pieces, key=lambda c: c.y1)
        sides = (top.x0 == 0 or top.x1 == width, foot.x0 == 0 or foot.x1 == width)  # a slant leaves by a side
        ends = (
            top.y0 <= edge or sides[0] or reaches(top.y0 - 2, top),
            foot.y1 >= height - edge or sides[1] or reaches(foot.y1 + 1, foot),
        )
        extent = foot.y1 - top.y0  # the page's height there, the table showing beyond it
        beside = [c.height for c in components if c not in pieces and c.height >= least]
        if beside:
            found = all(ends) and rows >= RULE_SPAN * extent and extent >= 0.5 * height and max(beside) <= 0.5 * rows
        else:  # a faint line, in pieces, the rules crossing it, running off the page at one end at least
            printed = sum(c.area for c in pieces) <= PRINTED_LINE * width * rows
            aside = printed or abs((line.x0 + line.x1) / 2 - width / 2) > width / 6
            across = all(ends) and extent >= 0.25 * height  # from edge to edge, across a corner of the page
            long = rows >= 0.5 * extent and (across or (any(ends) and extent >= 0.5 * height))
            found = photo and aside and (long or len(pieces) >= MARGIN_PIECES)
        if found:
            return [label for c in pieces for label in c.labels]
    return []


def _along_line(line: Component, thin: list[Component]) -> list[Component]:
    """The ``thin`` pieces (``line`` among them) along one straight line through ``line``: upright or
    slanting up to :data:`MARGIN_SLANT` columns per row, the slant that gathers the most rows."""
    best: list[Component] = [line]

    def centre(c: Component, slant: float) -> float:  # the piece's centre column, the slant sheared out
        return (c.x0 + c.x1) / 2 - slant * (c.y0 + c.y1) / 2

    for slant in np.linspace(-MARGIN_SLANT, MARGIN_SLANT, 33):
        near = [c for c in thin if abs(centre(c, slant) - centre(line, slant)) <= max(2.0, 0.5 * line.width)]
        if sum(c.height for c in near) > sum(c.height for c in best):
            best = near
    return best


def _even(pixels: np.ndarray) -> bool:
    """Whether a bar (its pixels in its box) widens or narrows along its length only gradually, row to row
    by no more than half its median width (or 3 pixels): the table's edge, faded by the lighting, does;
    a shadow with digits joined to it juts out where they join."""
    widths = pixels.sum(axis=1)
    return bool(np.abs(np.diff(widths)).max(initial=0) <= max(3.0, 0.5 * float(np.median(widths))))
