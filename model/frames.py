"""A form's printed boxes and a ring drawn round a digit, which are not ink (:func:`frame_lines`, step 4
of :mod:`model.preprocess`); and a solid panel's proportions (:data:`PANEL_ASPECT`, an empty field's too;
:data:`PANEL_FILL`), by which :mod:`model.sheets` reads a badge. Numpy only.
"""

from __future__ import annotations

import functools

import numpy as np

from .components import Component, component_pixels, merge_components
from .printed_lines import RULE_SLOPES, RULE_SPAN, near_rows
from .rendering import stroke_width

#: A solid panel at least this many times as wide as tall (a dark screen's text field or card) need not
#: be round: its digits, a lighter shade of it, are looked for in it as in a solid disc.
PANEL_ASPECT = 2.0
#: ... filling this share of its box or more (rounded corners leave a hundredth of it; a band of table
#: along a photo's edge, the sheet's edge slanting across it, a quarter), the screen round it on all
#: four sides.
PANEL_FILL = 0.95
#: A printed box around a digit: this share of its pixels on lines along its whole box (``RULE_SPAN``).
FRAME_LINES = 0.9
#: ... and its lines no thicker than this share of its box's shorter side (:func:`stroke_width`).
FRAME_THICKNESS = 0.1
#: ... among this many marks with the largest boxes.
FRAME_CANDIDATES = 8
#: A ring drawn round a digit (a circled answer): a thin mark holding another at least this share of its
#: height inside its box ...
RING_INSIDE = 0.2
#: ... the largest of them holding at least this share of their ink (a digit, perhaps with specks; a
#: face's eyes and mouth are marks of their own) ...
RING_ONE_MARK = 0.8
#: ... unless what it holds is one straight stroke (its spread across under this share of its spread
#: along) that makes it a thin 0 with its slash apart (:func:`_slashed_zero`) ...
RING_HELD = 0.2
#: ... the stroke leaning more than this from upright (in columns per row: about 17 degrees; a slash
#: is drawn across, a 1 mostly upright) ...
SLASH_SLANT = 0.3
#: ... and the ring narrower than this share of its height (a 0 is taller than wide; a ring drawn round
#: a digit is about round). A 1 in a ring that is neither is read as the 1.
ROUND_RING = 0.8
#: ... with this share of its pixels or more in the outer band of the ellipse its box holds, this
#: share of its half-axes wide.
RING_BORDER = 0.9
RING_BAND = 0.3


def frame_lines(components: list[Component], labels: np.ndarray) -> np.ndarray | None:
    """The pixels of the printed boxes and drawn rings among ``components`` (``None``: there are none): a
    component made of lines along the whole of its box (:func:`_frame`: the box of a form's field, the
    boxes of a row of them; or an empty field, twice as wide as tall: left in, read as a 5), or one that
    holds another inside its box and is a ring round a digit
    (:func:`_ring`: a circled answer; a thin 0 with its slash apart is not one, :func:`_slashed_zero`).
    Only the lines are taken out: a digit touching one keeps its strokes off the line. Left in, a box
    or a ring and the digits in it were one mark, refused (or, a ring, read as a 0)."""

    if len(components) < 2:
        return None
    boxes = np.array([(c.x0, c.y0, c.x1, c.y1) for c in components])
    lines = None
    # A box is among the largest marks: speckled pictures have hundreds of marks, a form a few.
    for frame in sorted(components, key=lambda c: c.width * c.height, reverse=True)[:FRAME_CANDIDATES]:
        inside = (
            (boxes[:, 0] > frame.x0) & (boxes[:, 1] > frame.y0) & (boxes[:, 2] < frame.x1) & (boxes[:, 3] < frame.y1)
        )
        holds = inside.any()
        if not holds and frame.width < PANEL_ASPECT * frame.height:
            continue  # empty, a box as tall as a digit may be a thin 0: only an empty field is taken out
        on_lines = _frame(frame, labels)
        if on_lines is None and holds:
            on_lines = _ring(frame, [c for c, i in zip(components, inside, strict=True) if i], labels)
        if on_lines is not None:
            lines = np.zeros(labels.shape, dtype=bool) if lines is None else lines
            lines[frame.y0 : frame.y1, frame.x0 : frame.x1] |= on_lines
    return lines


def _slashed_zero(ring: Component, held: list[Component], labels: np.ndarray) -> bool:
    """Whether ``ring`` holding the marks ``held`` is a thin 0 with its slash apart rather than a ring
    round a digit: what it holds is one straight stroke (its pixels' spread across their main
    direction under :data:`RING_HELD` of their spread along it: the square root of the ratio of the
    eigenvalues of their covariance) leaning more than :data:`SLASH_SLANT` from upright (the
    covariance of columns and rows against the rows' variance), in a ring narrower than
    :data:`ROUND_RING` of its height. A 1 in a ring is upright or its ring round: read as the 1."""
    ys, xs = np.nonzero(component_pixels(functools.reduce(merge_components, held), labels))
    if xs.size < 3:
        return False
    covariance = np.cov(np.stack([xs, ys]).astype(float))
    low, high = np.linalg.eigvalsh(covariance)
    if low >= RING_HELD**2 * high:  # more than one straight stroke
        return False
    lean = abs(covariance[0, 1]) / max(covariance[1, 1], 1e-9)
    return bool(lean > SLASH_SLANT and ring.width < ROUND_RING * ring.height)


def _ring(component: Component, held: list[Component], labels: np.ndarray) -> np.ndarray | None:
    """A component's pixels, in its box, if it is a ring drawn round a digit (a circle or an ellipse,
    closed or nearly) holding the marks ``held``; else ``None``. What it holds: one mark mostly
    (:data:`RING_ONE_MARK`), tall enough (:data:`RING_INSIDE`), not the slash of a thin 0
    (:func:`_slashed_zero`). A ring: thin (:data:`FRAME_THICKNESS`), at least :data:`RING_BORDER` of
    its pixels in the outer band of the ellipse its box holds, all the way round (a 0 is drawn thick
    for its size; a 6, 8 or 9 has strokes across its middle; a C is open)."""
    largest = max(held, key=lambda c: c.area)
    if not (
        largest.height >= RING_INSIDE * component.height
        and largest.area >= RING_ONE_MARK * sum(c.area for c in held)
        and not _slashed_zero(component, held, labels)
    ):
        return None
    window = component_pixels(component, labels)
    height, width = window.shape
    ys, xs = np.nonzero(window)
    dx, dy = (xs + 0.5 - width / 2) / (width / 2), (ys + 0.5 - height / 2) / (height / 2)
    border = (np.hypot(dx, dy) >= 1 - RING_BAND).mean()
    turns = np.unique(((np.arctan2(dy, dx) + np.pi) / (2 * np.pi) * 12).astype(int) % 12).size
    thin = stroke_width(window) <= FRAME_THICKNESS * min(height, width)
    return window if thin and turns == 12 and border >= RING_BORDER else None


def _frame(component: Component, labels: np.ndarray) -> np.ndarray | None:
    """A component's pixels on its lines, in its box, if it is a printed box; else ``None``. A box: thin
    lines (:data:`FRAME_THICKNESS`; a 0, however boxy, is drawn with thick strokes for its size) along
    all four sides of its box, meeting in its corners, and at least :data:`FRAME_LINES` of its pixels on
    rows or columns that it fills along :data:`RULE_SPAN` of its box, a row counting the rows as many
    pixels either side as a line tilted by up to 2.3 degrees drifts over half the box (a photographed
    form, a little turned)."""
    window = component_pixels(component, labels)
    reach = max(2, round(max(RULE_SLOPES) * max(window.shape) / 2) + 1)
    across, along = (near_rows(view, reach).mean(axis=1) >= RULE_SPAN for view in (window, window.T))
    on_lines = window & (across[:, None] | along[None, :])
    corner = 2 * reach  # a turned box's corners lie off its box's own
    ends = (slice(0, corner), slice(-corner, None))
    corners = all(window[rows, cols].any() for rows in ends for cols in ends)
    sides = across[:reach].any() and across[-reach:].any() and along[:reach].any() and along[-reach:].any()
    thin = stroke_width(on_lines) <= FRAME_THICKNESS * min(window.shape)  # a 0's strokes are thick for its size
    return on_lines if thin and sides and corners and on_lines.sum() >= FRAME_LINES * window.sum() else None
