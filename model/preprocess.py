"""Any uploaded image -> the 28x28 digit images the network expects, made the way MNIST itself was made.

Every path (endpoint, CLI, UI) goes through :func:`preprocess`. The steps:

1. **Decode safely** (:func:`decode`): only PNG, JPEG, WebP, BMP, GIF (first frame) and TIFF; the byte
   size and the pixel count are checked from the header *before* the pixels are decoded (decompression
   bombs); EXIF orientation is applied; large JPEGs are decoded at reduced scale.
2. **Grey levels** (:func:`to_grey`): every Pillow mode becomes one float image; 16/32-bit and float
   images are scaled to 8 bits; transparency is composited so that transparent pixels are background,
   whether the picture is in the colours (transparent padding) or only in the alpha channel (a canvas
   stroke). Images are brought to a working size of about :data:`WORK_SIZE` squared pixels.
3. **Ink** (:func:`ink_map`): the printed lines of ruled or squared paper are divided out of the
   picture first (:func:`without_printed_lines`), the ink over them kept; the paper (or canvas) is
   modelled as a smooth quadratic surface fitted robustly to the background pixels and subtracted,
   which removes uneven lighting and shadows; the ink's polarity (dark on light or light on dark) is
   read from which side of the paper its pixels lie; paper grain below a noise threshold (4 sigma of
   the background, estimated by the MAD) goes to 0.
   Faint writing (a pencil, a fine line in a large photo) is followed down to that noise, and read
   again from a closer crop where it is small in a photo. A shadow cast across a photo's writing,
   whose sharp edge the surface cannot follow, is taken out with the paper's morphological closing.
4. **Digits** (:func:`find_digits`): ink pixels above an Otsu threshold are labelled into connected
   components; specks are dropped; broken strokes (pieces stacked over each other) are merged; marks
   much shorter than the tallest one are dropped, except punctuation in a number (a decimal point, a
   comma, a colon, a dash, a minus sign), which is refused (``not_a_digit``: without it, the number
   would be another); the rest are digits, left to right, on one line (digits on several lines, one
   above another, are refused: ``several_lines``). The lines of a form's printed boxes, a ring drawn
   round a digit and a notebook's margin line (where the page's lines are too faint to be found) are
   not ink. A number of three digits or more on a sloping line is turned level and read again.
   A mark at least as wide as tall may be digits that touch: it also offers ways to cut it into
   digits (:attr:`Digit.cuts`), and the classifier reads it cut if it is much surer of the parts.
   A blank, uniform or noise-only image has none: ``no_digit_found``, never a guessed digit. A sheet of
   paper photographed on a table (a solid region, unlike strokes), a card, a badge or a round button
   is cropped to and read alone, and a few marks too small for digits in a large picture are read
   again from a crop of it around them.
5. **MNIST normalisation** (:func:`render_digit`): each digit's grey ink is cropped to its box, its
   stroke width brought to MNIST's (thin pen lines are thickened), scaled with anti-aliasing to fit a
   20x20 box keeping the aspect ratio, and placed in a 28x28 field with its centre of mass at the centre.

A 28x28 picture already in MNIST's normal form skips steps 2-5 (:func:`mnist_form`): it is what
they would make, less the blur of scaling it up and back down.

The result is uint8, light on dark, like MNIST; the network's own normalisation
(``model.network.normalize``) is applied by the inference handlers. Numpy and Pillow only (no torch),
so the UI and tools import this cheaply; nothing newer than Pillow 9.1 / numpy 1.23 / Python 3.11.
"""

from __future__ import annotations

import functools
import io
import itertools
from collections.abc import Callable
from dataclasses import replace
from math import ceil
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageDraw

from .components import (
    MIN_DIGIT_HEIGHT,
    MIN_DIGIT_PIXELS,
    _clear_of_edge,
    _Component,
    _least_height,
    _merge,
    _overlap,
    _pixels,
    label_components,
)
from .contract import MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS, InputError
from .decoding import WORK_SIZE, _decode, _work_factor, decode
from .exceptions import (
    ZOOM_PIXELS,
    ZOOM_SHARE,
    NoSecondLook,
    Punctuation,
    ShadowOnly,
    _Faint,
    _Located,
    _Sloped,
    _TooSmall,
)
from .grey_levels import _array_to_image, _bands, _transparent, to_grey
from .grouping import LINE_DIGITS, SPECK_AREA, group_digits
from .ink import Levels, _strokes, ink_map
from .paper import _RIDGE, MIN_CONTRAST, _mad_sigma, _median
from .printed_lines import RULE_EDGE, RULE_SLOPES, RULE_SPAN, RULE_THICKNESS, _near_rows, without_printed_lines
from .rendering import (
    BOX,
    MIN_DIGIT_CONTRAST,
    SIZE,
    Digit,
    _dilate,
    _moved,
    _shifted,
    _with_boxes,
    render_digit,
    stroke_width,
)
from .shadow_edge import EDGE_RESIDUE_SHARE, turned_back_points, without_shadow_edge

__all__ = [
    "MAX_DIGITS",
    "MAX_IMAGE_BYTES",
    "MAX_IMAGE_PIXELS",
    "MIN_DIGIT_CONTRAST",
    "SIZE",
    "SPLIT_ASPECT",
    "WORK_SIZE",
    "Digit",
    "NoSecondLook",
    "Punctuation",
    "ShadowOnly",
    "decode",
    "is_line",
    "is_straight",
    "label_components",
    "mnist_form",
    "preprocess",
    "to_grey",
    "without_printed_lines",
]

#: A lone mark left once a shadow's edge is divided out (:func:`_past_a_shadow`), the first look's lone
#: mark gone, whose box is this many times as long as it is wide or more is a line the division left of
#: the edge; the first look's, so long, was the edge itself (a digit's box is at most about twice as
#: tall as wide, but a 1's).
EDGE_LINE = 4


MAX_DIGITS = 16
SHEET_ASPECT = 0.5  # a sheet of paper's shorter side is at least half its longer one
#: ... so a sheet lying turned any way fills at least this share of its box (0.44 when twice as long as
#: wide and turned 45 degrees; A4, 0.49): from 0.5, sheets turned 38-52 degrees were one mark, refused.
SHEET_FILL = 0.44
#: A sheet lying turned by this many degrees or more is read turned level in a second look (the network
#: learnt digits turned by up to 10; the writing may lie along the paper's edges).
SHEET_LEVEL = 12.0
#: A sheet photographed turned fills this share of the smallest rectangle round it, at any angle.
SHEET_RECTANGLE = 0.85
#: ... holding under this share of its area of what lies round it (a shadow across it is no table).
SHEET_INSIDE = 0.02
#: In a photo, a sheet on a table far away is read alone from this share of the picture (its box) ...
SHEET_SHARE = 0.05
#: ... and a sheet (far away, or turned) encloses no more than this share of its box (its writing's
#: strokes; a thick 0's hole is more).
SHEET_WRITING = 0.15
#: ... a rectangular one up to this share: a card a number is written large on (its strokes 14-22 % of
#: it in a new user's trial, refused as one mark), where a thick 0 is no rectangle.
SHEET_WRITTEN = 0.3
#: A card's, a button's or a strip's writing: marks it encloses as long as this share of its shorter
#: side or longer (a speck of the JPEG's noise is not).
HELD_WRITING = 0.25
#: The lit part of a sheet grows by this factor or more, its part in a shadow joining it, taken down to
#: the low ink level (hysteresis): a sheet's edge and a digit's soft edge grow less.
SHEET_SHADED = 1.25
#: A mark whose rows differ from the picture beside them, on the side nearer their grey, by under this share of the
#: ink threshold is the edge of a flat region, not a stroke (:func:`_one_sided`).
ONE_SIDED = 0.3
#: A mark at least this much wider than tall may be digits that touch (MNIST digits are 0.8 as wide as
#: tall at the median, 1.05 at the 90th percentile; two that touch, 1.0 or more): it is also cut into
#: ``round(aspect / DIGIT_ASPECT)`` (at least 2) digits, and into one more, at the thinnest ink columns.
SPLIT_ASPECT = 1.0
DIGIT_ASPECT = 0.8
#: A mark this wide against its height, narrower than SPLIT_ASPECT, is cut only when the network says
#: it is digits that touch (a 1 against its neighbour: "41").
NARROW_SPLIT_ASPECT = 0.7
#: Marks whose columns overlap may be one symbol typed apart (``Digit.joined``) when together no wider
#: than this times their height (a % is about as wide as tall) ...
JOIN_ASPECT = 1.5
#: ... and the shortest of them at most this share of the tallest (a %'s rings against its slash).
JOIN_HEIGHTS = 0.75
#: A notebook's margin line photographed at an angle slants up to this many columns per row (its page in
#: perspective, the camera turned).
MARGIN_SLANT = 0.4
#: ... and with nothing beside it, a line in this many pieces or more is printed, however much of it shows (the
#: rules crossing a faint margin line, its ends faded).
MARGIN_PIECES = 3
#: A printed line is no wider on average than this share of the picture's width: a pen's 1 cropped close
#: to its ends is several times wider.
PRINTED_LINE = 0.01
#: A number of two digits or more found in a photo (a picture reduced to the working size), its digits
#: this many working pixels tall or less, is looked at again in a crop of the picture around it (half
#: their height on every side, at most :data:`ZOOM_SHARE` of the picture) for punctuation: a decimal
#: point written with the digits' pen is under the 2 working pixels a dot needs (:data:`DOT_FILL`) once
#: digits are that small (a pen a twentieth of their height: a pixel and a half at 30).
CLOSER_HEIGHT = 30
#: The table around a sheet photographed turned (showing in the picture's corners) is not ink: a
#: convex mark (filling this share of its convex hull) ...
TABLE_CONVEX = 0.85
#: ... along at least this share of one of the picture's sides, narrowing along it ...
TABLE_EDGE = 0.1
#: ... or along this share of a side (a band of table beside the sheet) ...
TABLE_BAND = 0.8
#: ... in a picture also holding a mark clear of its edges at least this share of its shorter side
#: tall (the digits on the sheet).
TABLE_INSIDE = 0.1
#: ... and a convex mark at the edge this many times as thick as the writing's strokes (a thumb).
TABLE_BLOB = 2.0
#: A mark along TABLE_EDGE of a side or more, no thicker than this share of the picture's shorter side
#: (or 2 pixels), is a sliver of table (a sheet turned a degree or two), whatever its ragged pixels' shape.
TABLE_SLIVER = 0.04
#: A mark along the picture's sides all but this share of whose pixels lie in runs going in from a
#: side it touches is the table beyond a sheet's straight edges, if not convex: a band along a side
#: joined at a corner to slivers along the next (a sheet photographed off centre and a little turned).
TABLE_ASIDE = 0.05
#: The table's grey level: its pixels lie within this many noise deviations of its median (:func:`_table_level`).
TABLE_LEVEL = 4.0
#: With nothing written on the sheet (no mark TABLE_INSIDE tall clear of the edges), the table is what
#: keeps to the picture's margins, this share of it along each side: a digit cropped close, at the
#: edge too, crosses the middle.
TABLE_MARGIN = 0.25
#: A round or pill-shaped badge or button (a solid disc, digits light on its colour): about as wide as
#: tall or wider (a digit is taller than wide), itself filling this share of its box or more (strokes
#: fill less: a ring drawn round a face, a thick 0) ...
BADGE_SOLID = 0.6
#: ... its outline, the digits in it filled in, at least this share of it (a disc fills pi/4 of it),
#: less the half of a pixel all round it that anti-aliasing takes (1.5 / its size: a 35 px disc
#: fills 74 %, a thick 0 whose hole holds a speck 72 % at 82 px) ...
BADGE_FILL = 0.75
#: ... and what it holds is writing: strokes no wider (:func:`stroke_width`) than this share of their
#: height (a light digit's strokes, a 1's bar, even in a bold font; the hole of a thick 0, round or
#: not, is a blob about a third of its height wide or more).
BADGE_STROKE = 0.3
#: ... standing clear of its rim by this share of its height above and below (a symbol's counters, a
#: bold glyph's, lie closer to its outline: a ® is a disc with an R in it, but a narrow one) ...
BADGE_PAD = 0.2
#: ... and a solid disc, which holds nothing (its digit may be a lighter shade of the ink), is looked
#: into with this share of its size round its edge left out (its anti-aliased rim).
BADGE_RIM = 0.06
#: A solid disc is convex: it fills this share of its convex hull (:func:`_convex`; a disc drawn by a
#: screen fills 97.6 % or more, a square turned a few degrees 95 %).
BADGE_CONVEX = 0.93
#: A solid panel at least this many times as wide as tall (a dark screen's text field or card) need not
#: be round: its digits, a lighter shade of it, are looked for in it as in a solid disc.
PANEL_ASPECT = 2.0
#: ... filling this share of its box or more (rounded corners leave a hundredth of it; a band of table
#: along a photo's edge, the sheet's edge slanting across it, a quarter), the screen round it on all
#: four sides.
PANEL_FILL = 0.95
#: A badge under a fifth of the picture, or a solid one, is round, or a pill with round ends: the
#: corners of its box (squares this share of its height wide) are three quarters the screen's or more
#: (a disc leaves them empty to 0.146 of its size; a bold glyph's feet or arms, a square, fill them). A
#: larger one may be a sticky note or a price tag holding writing.
BADGE_CORNER = 0.15
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


# ---------------------------------------------------------------------------------------------- entry


class _Sheet(NamedTuple):
    """A region read alone (:func:`_sheet`): its box in working pixels, and the pixels in it outside the
    region (``None``: none; else painted in the region's ``colour``, one grey level or one per pixel of
    the box, before it is read)."""

    box: tuple[int, int, int, int]
    outside: np.ndarray | None = None
    colour: float | np.ndarray = 0.0
    #: Whether it may hold nothing (a solid disc: its digit may be a lighter shade of the ink, as on a
    #: coloured badge on a dark screen); if nothing is found in it, it is read as the mark it is.
    tentative: bool = False
    #: How far a sheet lies turned (degrees counter-clockwise, as ``Image.rotate`` turns; -45 to 45): from
    #: :data:`SHEET_LEVEL` on, a second look reads it turned level, the writing on it with it.
    angle: float = 0.0


def _sheet(components: list[_Component], labels: np.ndarray, grey: np.ndarray, photo: bool = False) -> _Sheet | None:
    """The inside of a sheet of paper photographed on a table, or of a badge, if the largest "ink" is one.

    Strokes are thin, so a digit fills well under 85 % of its box; a sheet contrasting with the table
    around it is a solid region filling most of its box and a fifth of the picture, and it is at most
    twice as long as it is wide (A4 is 1.41 to 1): a thick 1 filling a small picture's height is solid
    too, but a bar. A longer one is a card or a button with writing on it when it holds marks
    (:func:`_holds_writing`), unlike a bar. The sheet's box is shrunk by 4 % on each side (its edge and
    shadow left out). A largest mark filling less of its box, or a long one holding nothing, may be a
    badge or a round button (:func:`_badge`), read with the screen round it painted in its colour. In
    a ``photo`` (a picture reduced to the working size), a sheet far away, from :data:`SHEET_SHARE` of
    the picture, and one photographed turned or crossing the picture (:func:`_turned_sheet`, tried before
    a badge: a turned rectangle's empty corners are a disc's too; a strip of paper fills little of its
    box) are read alone too, enclosing little (:func:`_holes`): in an upload the size of a digit, a thick
    1 or 0 drawn light on dark is as solid.
    """
    if not components:
        return None
    largest = max(components, key=lambda c: c.area)
    box_area = largest.width * largest.height
    turned = largest.area < 0.85 * box_area
    if turned:  # a badge is the largest mark, whatever its share of a screenshot
        if _beside(largest, components):
            return None
        # a sheet turned any way fills SHEET_FILL of its box or more; strokes fill less. Tried before a
        # badge: a turned rectangle's empty corners are a disc's too, and a blank sheet holds nothing
        # ... or it crosses the picture: a strip of paper, a receipt, from edge to edge at a slant
        fills = largest.area >= SHEET_FILL * box_area or _crosses(largest, labels.shape)
        if photo and box_area >= SHEET_SHARE * labels.size and fills:
            sheet = _turned_sheet(largest, labels, grey)
            if sheet is not None:
                return sheet
        return _badge(largest, labels, grey)
    enclosing_little = photo and _holes(largest, *_enclosed(largest, labels)[1:]) <= SHEET_WRITING
    if box_area < (SHEET_SHARE if enclosing_little else 0.2) * labels.size:
        return None
    long = min(largest.width, largest.height) < SHEET_ASPECT * max(largest.width, largest.height)
    if long and not _holds_writing(largest, labels):
        return _badge(largest, labels, grey)  # a pill on a dark screen, its digits a lighter shade of it
    dx, dy = round(0.04 * largest.width), round(0.04 * largest.height)
    return _Sheet((largest.x0 + dx, largest.y0 + dy, largest.x1 - dx, largest.y1 - dy))


def _shaded_sheet(
    components: list[_Component], labels: np.ndarray, ink: np.ndarray, low: float, grey: np.ndarray
) -> _Sheet | None:
    """A sheet of paper on a table with a shadow's edge across it (:func:`_sheet` in a photo; ``None``:
    none): the largest mark, at least :data:`SHEET_SHARE` of the picture, grows by :data:`SHEET_SHADED`
    or more taken down to the ``low`` ink level, its part in the shadow joining it (read alone, the lit
    part cut the number short: 1986 read as 36). Its shadow is taken out when it is read."""
    if not components:
        return None
    largest = max(components, key=lambda c: c.area)
    if largest.width * largest.height < SHEET_SHARE * labels.size:
        return None
    wide_labels, wide = label_components(ink > low)
    whole = max(wide, key=lambda c: c.area)
    y, x = (index[0] for index in np.nonzero(_pixels(largest, labels)))
    if whole.area < SHEET_SHADED * largest.area or wide_labels[largest.y0 + y, largest.x0 + x] not in whole.labels:
        return None
    return _sheet(wide, wide_labels, grey, photo=True)


def _turned_sheet(region: _Component, labels: np.ndarray, grey: np.ndarray) -> _Sheet | None:
    """A sheet of paper photographed turned, lying wholly inside the picture or crossing it (``None``:
    ``region`` is not one): with the writing it encloses filled in, convex (:func:`_convex`) and a
    rectangle at some angle (:func:`_rectangular`; the lit part of a sheet cut by a shadow's slanting edge
    is not, nor a thick 0), no longer than a sheet (:data:`SHEET_ASPECT`: a thick 1 slanting is a bar)
    unless it holds writing (:func:`_writing_across`: a card, a strip of paper), enclosing at most
    :data:`SHEET_WRITTEN` of its box (:func:`_holes`: a number written large on a card; a card unturned,
    its writing's holes leaving it under 85 % of its box, is read here too), the table in its box's
    corners outside its hull (:data:`SHEET_INSIDE`). The corners and the sheet's edge (4 % of its size)
    are painted as its paper (:func:`_paper_filled`)."""
    own = _pixels(region, labels)
    points = _hull(own)
    parts_labels, parts, around = _enclosed(region, labels)
    outside = np.concatenate([[False], around])[parts_labels]
    solid = ~outside  # the writing it encloses filled in
    aspect = 0.0 if _writing_across(points, parts, around) else SHEET_ASPECT  # a bar holds none
    if not (_convex(solid, hull=points) and _rectangular(points, aspect)):
        return None
    if _holes(region, parts, around) > SHEET_WRITTEN:
        return None
    hull = Image.new("1", (region.width, region.height))
    ImageDraw.Draw(hull).polygon(points, fill=1)
    within = ~_dilate(~np.asarray(hull)) & outside  # a pixel in from the hull's edge
    if within.sum() > SHEET_INSIDE * own.sum():  # what lies over the sheet, not round it: a shadow
        return None
    for _ in range(round(0.04 * min(region.width, region.height))):
        outside = _dilate(outside)
    window = grey[region.y0 : region.y1, region.x0 : region.x1]
    return _Sheet(region.box, outside, _paper_filled(window, own & ~outside, outside), angle=_rectangle_angle(points))


def _paper_filled(window: np.ndarray, own: np.ndarray, outside: np.ndarray) -> np.ndarray:
    """``window`` with its ``outside`` pixels given the level of the paper there: a quadratic surface
    least-squares fitted to the region's ``own`` pixels (outliers, a speck or its shaded edge, left out
    on a second fit), so that its lighting gradient goes on (one grey level painted over a turned sheet's
    corners stood out from a sheet shaded to one side)."""
    height, width = window.shape
    ys, xs = np.nonzero(own)
    ys, xs = ys[::4] / height - 0.5, xs[::4] / width - 0.5  # every fourth pixel: the surface is smooth
    design = np.stack([np.ones_like(xs), xs, ys, xs * xs, xs * ys, ys * ys], axis=1)
    values = window[np.nonzero(own)][::4].astype(np.float64)
    keep = np.ones(values.size, dtype=bool)
    for _ in range(2):  # least squares by the 6x6 normal equations (as _fit_background)
        kept = design[keep]
        coef = np.linalg.solve(kept.T @ kept + _RIDGE, kept.T @ values[keep])
        residual = values - design @ coef
        keep = np.abs(residual) <= max(3.0 * _mad_sigma(residual[keep]), MIN_CONTRAST / 2)
    fy, fx = np.mgrid[0:height, 0:width]
    fy, fx = fy / height - 0.5, fx / width - 0.5
    surface = coef[0] + coef[1] * fx + coef[2] * fy + coef[3] * fx * fx + coef[4] * fx * fy + coef[5] * fy * fy
    return np.where(outside, surface, window).astype(np.float32)


def _crosses(region: _Component, shape: tuple[int, int]) -> bool:
    """Whether ``region`` reaches two opposite sides of a picture of ``shape``."""
    return (region.x0 == 0 and region.x1 == shape[1]) or (region.y0 == 0 and region.y1 == shape[0])


def _beside(region: _Component, components: list[_Component]) -> bool:
    """Whether a mark half as tall as ``region`` or taller stands outside its box (a row of badges, a
    badge beside a number: which one is the answer is not the badge's to say)."""
    return any(
        c is not region
        and c.height >= 0.5 * region.height
        and not (c.x0 >= region.x0 and c.y0 >= region.y0 and c.x1 <= region.x1 and c.y1 <= region.y1)
        for c in components
    )


def _enclosed(region: _Component, labels: np.ndarray) -> tuple[np.ndarray, list[_Component], np.ndarray]:
    """What lies in ``region``'s box but is not its ink: (label image over the box, the parts, which
    of them touch the box's edge, by label - 1)."""
    window = ~np.isin(labels[region.y0 : region.y1, region.x0 : region.x1], region.labels)
    parts_labels, parts = label_components(window)
    return parts_labels, parts, np.array([not _clear_of_edge(part, window.shape) for part in parts], dtype=bool)


def _writing_across(points: list[tuple[int, int]], parts: list[_Component], edge: np.ndarray) -> bool:
    """Whether a region (its hull's ``points``; what its box holds besides it, ``parts`` and which of them
    touch the box's ``edge``: :func:`_enclosed`) holds writing (:func:`_writing`) across its width, the
    shorter side of the smallest rectangle round it: a card or a strip of paper, however long and turned;
    a thick 1 holds none."""
    hull = np.array(points, dtype=np.float64)
    return len(hull) >= 3 and _writing(parts, edge, min(_smallest_rectangle(hull)[1:]))


def _holds_writing(region: _Component, labels: np.ndarray) -> bool:
    """Whether a solid ``region`` holds writing (:func:`_writing`) across its shorter side: the digits of a
    card or a button, light on its colour, or written across a strip of paper (a receipt from edge to edge
    of the photo)."""
    _, parts, edge = _enclosed(region, labels)
    return _writing(parts, edge, min(region.width, region.height))


def _writing(parts: list[_Component], edge: np.ndarray, width: float) -> bool:
    """Whether of the ``parts`` a region encloses (``edge``: which touch its box's edge, :func:`_enclosed`)
    one is as long as :data:`HELD_WRITING` of its ``width`` or longer."""
    least = HELD_WRITING * width
    return any(not out and max(part.width, part.height) >= least for part, out in zip(parts, edge, strict=True))


def _holes(region: _Component, parts: list[_Component], edge: np.ndarray) -> float:
    """The share of ``region``'s box that it encloses (its :func:`_enclosed` ``parts`` touching no
    ``edge`` of its box): on a sheet, the writing's strokes if any (they may be its ink, lighter than the
    table); a thick 0's hole is more (:data:`SHEET_WRITING`)."""
    return sum(part.area for part, out in zip(parts, edge, strict=True) if not out) / (region.width * region.height)


def _badge(region: _Component, labels: np.ndarray, grey: np.ndarray) -> _Sheet | None:
    """A round or pill-shaped badge (:data:`BADGE_SOLID`): ``region`` with what it encloses fills
    :data:`BADGE_FILL` of its box, and what it holds a quarter of its height or taller is writing
    (:func:`_written`); or it holds nothing at all and is round (tentative: a solid disc,
    :data:`BADGE_CONVEX`, :data:`BADGE_CORNER`) or a long panel (a dark screen's text field,
    :data:`PANEL_ASPECT`, :data:`PANEL_FILL`). The picture round it is painted in its median grey, 2 pixels into its
    anti-aliased rim (a solid disc's, :data:`BADGE_RIM` of its size: nothing in it stands clear of it)."""
    box_area = region.width * region.height
    if region.width < 0.9 * region.height or region.area < BADGE_SOLID * box_area:
        return None
    parts_labels, parts, edge = _enclosed(region, labels)
    held = [part for part, out in zip(parts, edge, strict=True) if not out]
    if region.area + sum(part.area for part in held) < (BADGE_FILL - 1.5 / region.height) * box_area:
        return None
    around = np.concatenate([[False], edge])[parts_labels]  # the screen round it, in its box
    side = max(1, round(BADGE_CORNER * region.height))
    corners = (around[:side, :side], around[:side, -side:], around[-side:, :side], around[-side:, -side:])
    small = box_area < 0.2 * labels.size  # a part of a screenshot, where a bold glyph is as likely
    # A field or a card on a dark screen: a panel twice as wide as tall or more, its digits a lighter
    # shade of it (a solid bar holding nothing is read as the mark it is: the look is tentative)
    panel = (
        not held
        and region.width >= PANEL_ASPECT * region.height
        and region.area >= PANEL_FILL * box_area
        and 0 < region.x0 <= region.x1 < labels.shape[1]  # the screen shows round a field
        and 0 < region.y0 <= region.y1 < labels.shape[0]
    )
    if (small or not held) and not panel and min(float(corner.mean()) for corner in corners) < 0.75:  # not round
        return None
    window = labels[region.y0 : region.y1, region.x0 : region.x1]
    paper = window == 0  # a light digit's loops hold the badge's colour again: ink, not the digit's
    tall = [part for part in held if part.height >= 0.25 * region.height]
    if held and not (tall and all(_written(part, parts_labels, paper, region.height) for part in tall)):
        return None
    own = np.isin(window, region.labels)
    if not held and not _convex(own, BADGE_CONVEX):
        return None
    outside = around.copy()
    outside[[0, -1]] = outside[:, [0, -1]] = True  # its rim, also where it runs along its box
    for _ in range(2 if held else max(2, round(BADGE_RIM * min(region.width, region.height)))):
        outside = _dilate(outside)
    colour = _median(grey[region.y0 : region.y1, region.x0 : region.x1][own])
    return _Sheet(region.box, outside, colour, tentative=not held)


def _written(part: _Component, labels: np.ndarray, paper: np.ndarray, height: int) -> bool:
    """Whether ``part`` (of the label image ``labels``, its ``paper`` pixels only) is writing on a badge
    ``height`` tall: clear of its rim by :data:`BADGE_PAD` of it above and below, and made of strokes
    (:data:`BADGE_STROKE`), not a blob."""
    if min(part.y0, height - part.y1) < BADGE_PAD * height:
        return False
    box = slice(part.y0, part.y1), slice(part.x0, part.x1)
    return stroke_width((labels[box] == part.labels[0]) & paper[box]) <= BADGE_STROKE * part.height


def _table(
    components: list[_Component], labels: np.ndarray, sheet: bool = False, grey: np.ndarray | None = None
) -> np.ndarray | None:
    """The pixels of the table around a sheet of paper photographed turned or off centre (``None``: there is none), and
    2 pixels round them (the sheet's shaded edge): convex marks (:func:`_convex`), or marks in runs going in from
    the sides they touch (:func:`_in_from_sides`: a band along a side joined to slivers along the next; a band
    across a corner: :func:`_across_corner`; or a blob :data:`TABLE_BLOB` times as thick as the writing's strokes: a
    thumb), along the picture's edge, over :data:`TABLE_EDGE` of a side and narrowing along it (the table beyond a
    turned sheet's edge is a triangle: :func:`_narrowing`) or over :data:`TABLE_BAND` of it (a band beside the
    sheet), or along two sides that meet and filling its box (a block in a corner: a phone's shadow); and slivers
    from a corner along a side (:data:`TABLE_SLIVER`: a sheet turned a degree or two); in a picture that also holds
    a mark clear of its edges, at least :data:`TABLE_INSIDE` of its shorter side tall (the writing on the sheet), or
    else keeping to its margins (:func:`_in_middle`: a blank sheet's table, any mark along :data:`TABLE_EDGE` of a
    side, whatever its shape; a sliver then need reach no corner, cut off it by the table taken out before, nor run
    along :data:`TABLE_EDGE` of a side: a small sheet's corner left in its box; on a ``sheet`` read alone, neither
    need it reach a corner: the edge of what lies over the sheet's edge, a phone, is left in its box, and the
    writing keeps clear of the sheet's edge, cut off it). A mark of none of these shapes is tried again as the table at
    its own grey level (:func:`_table_level`: where the light falls off, only a ragged band of the table is ink).
    A digit touching the edge is strokes crossing it, not a
    convex mark; a straight bar flush with the edge (a 1 cropped close) is as wide all along and reaches no corner;
    a picture that is one digit cropped close has nothing inside, and the digit crosses its middle."""
    height, width = labels.shape
    inside = [c for c in components if c.x0 > 0 and c.y0 > 0 and c.x1 < width and c.y1 < height]
    writing = [c for c in inside if c.height >= TABLE_INSIDE * min(height, width)]
    written = bool(writing)
    pen = max((stroke_width(_pixels(c, labels)) for c in writing), default=0.0)
    table = None
    for mark in sorted(components, key=lambda c: c.area, reverse=True)[:FRAME_CANDIDATES]:
        if mark in inside:
            continue
        pixels = _pixels(mark, labels)
        if not written and _in_middle(mark, pixels, labels.shape):
            continue
        beyond = _beyond_sheet(mark, pixels, labels.shape, written, pen, sheet)
        if not beyond and grey is not None and (level := _table_level(mark, pixels, labels, grey, inside)) is not None:
            mark, pixels = level
            beyond = _beyond_sheet(mark, pixels, labels.shape, written, pen, sheet)
        if beyond:
            table = np.zeros(labels.shape, dtype=bool) if table is None else table
            table[mark.y0 : mark.y1, mark.x0 : mark.x1] |= pixels
    if table is None:
        return None
    for _ in range(2):
        table = _dilate(table)
    return table


def _beyond_sheet(
    mark: _Component, pixels: np.ndarray, shape: tuple[int, int], written: bool, pen: float, sheet: bool
) -> bool:
    """Whether ``mark`` (its pixels in its box), not clear of the edges of a picture of ``shape``, is table
    (:func:`_table`; ``written``: the picture holds writing clear of its edges, ``pen`` its thickest stroke)."""
    height, width = shape
    sides = [  # (the mark's pixels on that side of the picture, its depth from that side per row)
        (pixels[0], pixels.sum(axis=0), width) if mark.y0 == 0 else None,
        (pixels[-1], pixels.sum(axis=0), width) if mark.y1 == height else None,
        (pixels[:, 0], pixels.sum(axis=1), height) if mark.x0 == 0 else None,
        (pixels[:, -1], pixels.sum(axis=1), height) if mark.x1 == width else None,
    ]
    along = [
        (0.0, False) if side is None else (side[0].sum() / side[2], _narrowing(side[1][side[0]])) for side in sides
    ]
    # A block in a corner (a phone's shadow) runs along two sides that meet (sides 0 and 1 face
    # each other, as do 2 and 3) and fills its box: a shadow joined to a digit, or a hand's, does not.
    block = mark.area >= TABLE_CONVEX * mark.width * mark.height
    corner = block and any(along[a][0] >= TABLE_EDGE and along[b][0] >= TABLE_EDGE for a in (0, 1) for b in (2, 3))
    # A sheet turned a degree or two leaves slivers of table a pixel or a few deep along a side from a
    # corner: too ragged for the hull, too thin to narrow measurably (a thin 1 flush with the edge
    # of a picture cropped close reaches no corner; on a blank sheet, a sliver cut off its corner
    # by the table taken out before need not, nor on a sheet read alone one left of a phone over its edge).
    sliver = _sliver(mark, shape) and (_in_corner(mark, shape) or not written or sheet)
    # With nothing written, a mark along a side keeping to the margins is table, whatever its shape: the
    # band beside a blank sheet moved off centre broken by the JPEG's noise, the sheet's edge joined to it.
    shaped = corner or any(
        share >= TABLE_BAND or (share >= TABLE_EDGE and (narrows or not written)) for share, narrows in along
    )
    touching = [side is not None for side in sides]
    beyond = shaped and (not written or _convex(pixels) or _in_from_sides(pixels, touching))
    beyond = beyond or _across_corner(pixels, touching, shape)
    # A solid round blob coming in over the edge, far thicker than the writing's strokes: a thumb
    # holding the sheet, an object at the frame's edge.
    beyond = beyond or (written and stroke_width(pixels) >= TABLE_BLOB * pen and _convex(pixels))
    # A blank sheet's corner: any; the table beyond a page's corner running off the frame: any too.
    long = any(share >= TABLE_EDGE for share, _ in along) or not written or _in_corner(mark, shape)
    return (sliver and long) or beyond


def _table_level(
    mark: _Component, pixels: np.ndarray, labels: np.ndarray, grey: np.ndarray, inside: list[_Component]
) -> tuple[_Component, np.ndarray] | None:
    """``mark`` (its pixels in its box) grown over the pixels joined to it at its own grey level (within
    :data:`TABLE_LEVEL` noise deviations of its median, never under half ``MIN_CONTRAST``), and its pixels
    in its new box; ``None`` when that adds none, reaches a mark ``inside`` (clear of the edges), or the
    mark holds writing. Where the paper darkens towards a corner (the light falling off), the surface
    fitted to it bends down there too, and the table beyond the sheet's edge stands out of it by less
    than the ink threshold: only a ragged band of it along the sheet's edge is ink. The table is one flat
    level, apart from the paper's by a step: at that level it is whole again."""
    values = grey[mark.y0 : mark.y1, mark.x0 : mark.x1][pixels]
    level = _median(values)
    reach = max(TABLE_LEVEL * _mad_sigma(values), MIN_CONTRAST / 2)
    paper = _median(grey.ravel())  # most of the picture
    if abs(level - paper) <= reach:  # no step from the paper: the paper itself would be taken
        return None
    # Writing in the mark (strokes running into a shadow joined to it) lies beyond its level, away from the
    # paper's: much of it, or a part as tall as a digit can be; the table's pixels lie at it, and its edge
    # shades towards the paper.
    box = grey[mark.y0 : mark.y1, mark.x0 : mark.x1]
    away = pixels & ((box - level if paper < level else level - box) > reach)
    if away.sum() > TABLE_ASIDE * mark.area or any(
        part.height >= _least_height(grey.shape) for part in label_components(away)[1]
    ):
        return None
    near = np.abs(grey - level) <= reach
    near[mark.y0 : mark.y1, mark.x0 : mark.x1] |= pixels
    joined, _ = label_components(near)
    own = np.unique(joined[mark.y0 : mark.y1, mark.x0 : mark.x1][pixels])
    grown = np.isin(joined, own)
    area = int(grown.sum())
    reached = np.unique(labels[_dilate(grown)])
    if area <= mark.area or any(np.isin(c.labels, reached).any() for c in inside):
        return None
    rows, cols = np.flatnonzero(grown.any(axis=1)), np.flatnonzero(grown.any(axis=0))
    box = int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1
    return _Component(mark.labels, *box, area), grown[box[1] : box[3], box[0] : box[2]]


def _in_middle(mark: _Component, pixels: np.ndarray, shape: tuple[int, int]) -> bool:
    """Whether any of ``mark``'s ``pixels`` (in its box) lie in the middle of a picture of ``shape``, over
    :data:`TABLE_MARGIN` of it in from every side."""
    height, width = shape
    top, left = round(TABLE_MARGIN * height), round(TABLE_MARGIN * width)
    rows = slice(max(top - mark.y0, 0), max(height - top - mark.y0, 0))
    columns = slice(max(left - mark.x0, 0), max(width - left - mark.x0, 0))
    return bool(pixels[rows, columns].any())


def _in_from_sides(pixels: np.ndarray, touching: list[bool]) -> bool:
    """Whether a mark (its pixels in its box) touching the picture's sides ``touching`` (top, bottom,
    left, right) lies in runs going in from them, all but :data:`TABLE_ASIDE` of its pixels (a gap
    of a pixel in a run bridged): the table beyond a sheet's straight edges, a band along a side
    joined at a corner to slivers along the next, is; a digit's strokes leave the side, bend and
    cross, and are in no such run but where they touch it."""
    solid = _dilate(pixels)  # a pixel's gap in the table's ragged edge: not its end
    held = np.zeros(pixels.shape, dtype=bool)
    views = (  # each side's view: inward along axis 0, along the side on axis 1
        (solid, held),
        (solid[::-1], held[::-1]),
        (solid.T, held.T),
        (solid[:, ::-1].T, held[:, ::-1].T),
    )
    for (mark, runs), touches in zip(views, touching, strict=True):
        places = np.flatnonzero(mark[0]) if touches else np.empty(0, dtype=int)
        if places.size == 0:
            continue
        depth = np.where(mark.all(axis=0), mark.shape[0], mark.argmin(axis=0))[places]
        runs[:, places] |= np.arange(mark.shape[0])[:, None] < depth[None, :]
    return bool((pixels & ~held).sum() <= TABLE_ASIDE * pixels.sum())


def _across_corner(pixels: np.ndarray, touching: list[bool], shape: tuple[int, int]) -> bool:
    """Whether a mark (its pixels in its box) touching two sides of a picture of ``shape`` that meet
    (``touching``: top, bottom, left, right) is a band across their corner: what lies between it and the
    corner, with it, a triangle (:func:`_convex`) along :data:`TABLE_EDGE` of both sides or more. The
    table beyond a turned sheet's edge, its far corner fitted as paper (the surface bends into it)."""
    vertical = [i for i in (0, 1) if touching[i]]
    horizontal = [i for i in (2, 3) if touching[i]]
    if len(vertical) != 1 or len(horizontal) != 1:
        return False
    view = pixels[::-1] if vertical[0] == 0 else pixels  # the corner at the bottom ...
    view = view[:, ::-1] if horizontal[0] == 3 else view  # ... left
    towards_side = np.maximum.accumulate(view[:, ::-1], axis=1)[:, ::-1]  # left of a pixel in its row
    towards_bottom = np.maximum.accumulate(view, axis=0)  # below a pixel in its column
    corner = towards_side & towards_bottom
    height, width = shape
    legs = corner[-1].sum() >= TABLE_EDGE * width and corner[:, 0].sum() >= TABLE_EDGE * height
    return bool(legs) and _convex(corner)


def _sliver(mark: _Component, shape: tuple[int, int]) -> bool:
    """Whether ``mark`` may be a sliver of table along a side of a picture of ``shape``: no thicker than
    :data:`TABLE_SLIVER` of its shorter side, lying along a side it touches (a margin line crossing
    the page touches the top and the bottom)."""
    if min(mark.width, mark.height) > max(TABLE_SLIVER * min(shape), 2):  # 2 pixels: a small sheet's, read alone
        return False
    if mark.width <= mark.height:
        return mark.x0 == 0 or mark.x1 == shape[1]
    return mark.y0 == 0 or mark.y1 == shape[0]


def _in_corner(mark: _Component, shape: tuple[int, int]) -> bool:
    """Whether ``mark`` reaches a corner of a picture of ``shape``: two of its sides that meet."""
    return (mark.x0 == 0 or mark.x1 == shape[1]) and (mark.y0 == 0 or mark.y1 == shape[0])


def _narrowing(depth: np.ndarray) -> bool:
    """Whether a mark's depth from the picture's side, along the stretch where it touches the side,
    falls to under half its deepest at an end of it (a triangle), rather than staying about as deep
    (a straight bar)."""
    return depth.size > 0 and min(depth[0], depth[-1]) < 0.5 * depth.max()


def _hull(pixels: np.ndarray) -> list[tuple[int, int]]:
    """The convex hull of a mark's pixels' centres (its pixels in its box), (x, y) counter-clockwise by
    Andrew's monotone chain; fewer than 3 points for one row or column of pixels."""
    rows = np.flatnonzero(pixels.any(axis=1))
    first = pixels[rows].argmax(axis=1)
    last = pixels.shape[1] - 1 - pixels[rows, ::-1].argmax(axis=1)
    xs, ys = np.concatenate([first, last]).tolist(), np.concatenate([rows, rows]).tolist()
    points = sorted(set(zip(xs, ys, strict=True)))
    if len(points) < 3:
        return points

    def half(chain: list[tuple[int, int]]) -> list[tuple[int, int]]:
        hull: list[tuple[int, int]] = []
        for p in chain:
            while (
                len(hull) > 1
                and (
                    (hull[-1][0] - hull[-2][0]) * (p[1] - hull[-2][1])
                    - (hull[-1][1] - hull[-2][1]) * (p[0] - hull[-2][0])
                )
                <= 0
            ):
                hull.pop()
            hull.append(p)
        return hull[:-1]

    return half(points) + half(points[::-1])


def _convex(pixels: np.ndarray, share: float = TABLE_CONVEX, hull: list[tuple[int, int]] | None = None) -> bool:
    """Whether a mark (its pixels in its box) fills ``share`` of its convex hull or more (by default
    :data:`TABLE_CONVEX`: a triangle or a band of the table does, any digit but a straight bar does
    not, its strokes bend or cross, or enclose a loop). The hull is that of the pixels' centres
    (:func:`_hull`), and the pixels it holds are counted as Pick's theorem counts a lattice polygon's
    points (its area, half its perimeter, and one), so that a thin sliver, a staircase of pixels, counts
    as the triangle it is. ``hull``: the pixels' hull when it is known."""
    hull = _hull(pixels) if hull is None else hull
    if len(hull) < 3:
        return True  # one row or one column of pixels: a straight bar
    edges = list(zip(hull, hull[1:] + hull[:1], strict=True))
    area = 0.5 * abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in edges))
    perimeter = sum(float(np.hypot(x1 - x0, y1 - y0)) for (x0, y0), (x1, y1) in edges)
    return bool(pixels.sum() >= share * (area + perimeter / 2 + 1))


def _rectangle_angle(points: list[tuple[int, int]]) -> float:
    """How far the smallest rectangle round a convex hull (its ``points``) is turned: degrees
    counter-clockwise (``Image.rotate``'s sense, the picture's y axis pointing down), -45 to 45."""
    hull = np.array(points, dtype=np.float64)
    if len(hull) < 3:
        return 0.0
    side, _, _ = _smallest_rectangle(hull)
    degrees = -float(np.degrees(np.arctan2(side[1], side[0])))
    return (degrees + 45.0) % 90.0 - 45.0


def _smallest_rectangle(hull: np.ndarray) -> tuple[np.ndarray, float, float]:
    """The smallest rectangle round a convex hull (its points, ``(n, 2)``, n >= 3; one of the rectangle's
    sides lies along an edge of the hull): (that side's unit direction (x, y), its length, the other's)."""
    along = np.roll(hull, -1, axis=0) - hull
    along /= np.hypot(along[:, 0], along[:, 1])[:, None]
    across = np.stack([-along[:, 1], along[:, 0]], axis=1)
    lengths, widths = np.ptp(hull @ along.T, axis=0), np.ptp(hull @ across.T, axis=0)
    best = int(np.argmin(lengths * widths))
    return along[best], float(lengths[best]), float(widths[best])


def _rectangular(points: list[tuple[int, int]], aspect: float) -> bool:
    """Whether a mark's convex hull (:func:`_hull`, its ``points``) fills :data:`SHEET_RECTANGLE` of the
    smallest rectangle round it, at any angle (one of its sides lies along an edge of the hull), its
    shorter side at least ``aspect`` of its longer: a sheet of paper, turned, does; the lit part of one,
    cut by a shadow's slanting edge, is a trapezoid, and a thick 1 slanting is a bar."""
    hull = np.array(points, dtype=np.float64)
    if len(hull) < 3:
        return True
    x, y = hull[:, 0], hull[:, 1]
    area = 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))
    sides = sorted(_smallest_rectangle(hull)[1:])
    return bool(area >= SHEET_RECTANGLE * sides[0] * sides[1] and sides[0] >= aspect * sides[1])


def _margin(
    components: list[_Component],
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
    (:func:`without_printed_lines`), the line was the tallest mark, the digits too short beside it, and it was
    read as a 1: a 1 is about as tall as the digits beside it. In a ``photo``, a line with no mark beside
    it, over half the picture's height and running off the page at an end at least (or across a corner
    of it, leaving by a side), is one too where it is a printed line's width (:data:`PRINTED_LINE`) or
    lies outside the picture's middle third (a blank page's margin line, in pieces between the rules, was
    read as a 1 at 0.9; a pen's 1 cropped close is wider, and stands in the middle), and so is one bar
    from the top to the bottom as wide as :data:`TABLE_MARGIN` of it: the table beside a sheet
    photographed off centre, only partly ink where the lighting fades it, was read as a 1 at 0.9 with the
    number beside it too short to count (a new user's trial: 23 of 108 photos)."""
    height, width = labels.shape
    edge, thickness = RULE_EDGE * height, RULE_THICKNESS * max(height, width)
    least = _least_height(shape)
    thin = [c for c in components if c.width <= thickness or c.area <= thickness * c.height]
    # In a photo, one bar from the top to the bottom up to TABLE_MARGIN of it wide: the table's edge.
    bars = [
        c
        for c in components
        if photo and c.width <= TABLE_MARGIN * width and c.height >= height - 2 * edge and _even(_pixels(c, labels))
    ]

    def reaches(row: int, part: _Component) -> bool:  # the table beyond the page
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


def _along_line(line: _Component, thin: list[_Component]) -> list[_Component]:
    """The ``thin`` pieces (``line`` among them) along one straight line through ``line``: upright or
    slanting up to :data:`MARGIN_SLANT` columns per row, the slant that gathers the most rows."""
    best: list[_Component] = [line]

    def centre(c: _Component, slant: float) -> float:  # the piece's centre column, the slant sheared out
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


def _frame_lines(components: list[_Component], labels: np.ndarray) -> np.ndarray | None:
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


def _slashed_zero(ring: _Component, held: list[_Component], labels: np.ndarray) -> bool:
    """Whether ``ring`` holding the marks ``held`` is a thin 0 with its slash apart rather than a ring
    round a digit: what it holds is one straight stroke (its pixels' spread across their main
    direction under :data:`RING_HELD` of their spread along it: the square root of the ratio of the
    eigenvalues of their covariance) leaning more than :data:`SLASH_SLANT` from upright (the
    covariance of columns and rows against the rows' variance), in a ring narrower than
    :data:`ROUND_RING` of its height. A 1 in a ring is upright or its ring round: read as the 1."""
    ys, xs = np.nonzero(_pixels(functools.reduce(_merge, held), labels))
    if xs.size < 3:
        return False
    covariance = np.cov(np.stack([xs, ys]).astype(float))
    low, high = np.linalg.eigvalsh(covariance)
    if low >= RING_HELD**2 * high:  # more than one straight stroke
        return False
    lean = abs(covariance[0, 1]) / max(covariance[1, 1], 1e-9)
    return bool(lean > SLASH_SLANT and ring.width < ROUND_RING * ring.height)


def _ring(component: _Component, held: list[_Component], labels: np.ndarray) -> np.ndarray | None:
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
    window = _pixels(component, labels)
    height, width = window.shape
    ys, xs = np.nonzero(window)
    dx, dy = (xs + 0.5 - width / 2) / (width / 2), (ys + 0.5 - height / 2) / (height / 2)
    border = (np.hypot(dx, dy) >= 1 - RING_BAND).mean()
    turns = np.unique(((np.arctan2(dy, dx) + np.pi) / (2 * np.pi) * 12).astype(int) % 12).size
    thin = stroke_width(window) <= FRAME_THICKNESS * min(height, width)
    return window if thin and turns == 12 and border >= RING_BORDER else None


def _frame(component: _Component, labels: np.ndarray) -> np.ndarray | None:
    """A component's pixels on its lines, in its box, if it is a printed box; else ``None``. A box: thin
    lines (:data:`FRAME_THICKNESS`; a 0, however boxy, is drawn with thick strokes for its size) along
    all four sides of its box, meeting in its corners, and at least :data:`FRAME_LINES` of its pixels on
    rows or columns that it fills along :data:`RULE_SPAN` of its box, a row counting the rows as many
    pixels either side as a line tilted by up to 2.3 degrees drifts over half the box (a photographed
    form, a little turned)."""
    window = _pixels(component, labels)
    reach = max(2, round(max(RULE_SLOPES) * max(window.shape) / 2) + 1)
    across, along = (_near_rows(view, reach).mean(axis=1) >= RULE_SPAN for view in (window, window.T))
    on_lines = window & (across[:, None] | along[None, :])
    corner = 2 * reach  # a turned box's corners lie off its box's own
    ends = (slice(0, corner), slice(-corner, None))
    corners = all(window[rows, cols].any() for rows in ends for cols in ends)
    sides = across[:reach].any() and across[-reach:].any() and along[:reach].any() and along[-reach:].any()
    thin = stroke_width(on_lines) <= FRAME_THICKNESS * min(window.shape)  # a 0's strokes are thick for its size
    return on_lines if thin and sides and corners and on_lines.sum() >= FRAME_LINES * window.sum() else None


def find_digits(
    grey: np.ndarray,
    photo: bool = False,
    sheet: bool = False,
    shadow_edge: bool = False,
    sheet_level: bool = False,
    divided: bool = False,
    beyond: np.ndarray | None = None,
    pair_level: bool = False,
) -> list[Digit]:
    """Working-size grey image -> its digits left to right, boxes in working pixels.

    A number on a slope (:func:`_slope`: a photo taken turned, a line written uphill) is turned level
    and its digits found again, each read upright; their boxes are those of the turned boxes in the
    picture. In a ``photo`` (a picture reduced to the working size), the table showing beyond a sheet
    is not ink (:func:`_table`); a small picture is a crop, where a digit's stroke cut by the edge
    looks the same. Faint writing (:attr:`Levels.faint`) small in a photo raises :class:`_Faint`:
    :func:`preprocess` reads it again from the picture, reduced less. Raises ``no_digit_found`` for
    blank, uniform or noise-only images. With ``shadow_edge``, a photo's shadow's straight edge is
    divided out first (:func:`model.shadow_edge.without_shadow_edge`); with ``sheet_level``, a sheet
    lying turned is read turned level (:func:`_read_turned`); with ``pair_level``, two marks on a slope
    (:func:`_slope`) are turned level as a longer number is; else :class:`NoSecondLook` is raised.
    ``divided``: ``grey`` is a part of a picture a shadow was divided out of (a sheet in it read alone);
    ``beyond``: where the table lies beyond a turned sheet read alone (painted as its paper; boolean, the
    shape of ``grey``), which a notebook's margin line runs to (:func:`_margin`).
    """
    if min(grey.shape) < MIN_DIGIT_PIXELS:  # a strip a few pixels thin: no digit fits, nor a model of the paper
        raise InputError("no_digit_found", "no digit found: the picture is too thin to hold one")
    lit = None
    if shadow_edge:
        lit = without_shadow_edge(grey) if photo and not sheet else None
        if lit is None:
            raise NoSecondLook
        grey, divided = lit.grey, True
    grey = without_printed_lines(grey)
    ink, levels = ink_map(grey, photo, sheet)
    if lit is not None:
        ink = _without_residue(ink, levels, lit.along)
    if photo and levels.faint and (closer := _nearer(ink, levels.low)) is not None:
        raise _Faint(closer)
    try:
        return _digits_in(
            ink,
            levels,
            grey.shape,
            grey,
            level=True,
            photo=photo,
            sheet=sheet,
            sheet_level=sheet_level,
            divided=divided,
            beyond=beyond,
            pair_level=pair_level,
        )
    except _Sloped as sloped:
        turned = Image.fromarray(sloped.ink.astype(np.float32), mode="F").rotate(
            sloped.angle, Image.BILINEAR, expand=True
        )
        back = _turned_back(sloped.angle, turned.size, grey.shape)
        try:
            level = _digits_in(np.asarray(turned), levels, grey.shape)
        except _Located as located:
            raise located.moved(back) from None
        if len(level) < (2 if pair_level else LINE_DIGITS):  # a broken digit's pieces, merged once level
            if pair_level:
                raise NoSecondLook from None
            return _digits_in(ink, levels, grey.shape, grey, photo=photo, sheet=sheet, divided=divided, beyond=beyond)
        return [_with_boxes(digit, back) for digit in level]


def _without_residue(ink: np.ndarray, levels: Levels, along: np.ndarray) -> np.ndarray:
    """``ink`` without its marks (:func:`_strokes`) that lie along a divided shadow's edge (``along``: the
    pixels near it, :class:`model.shadow_edge.Divided`), :data:`model.shadow_edge.EDGE_RESIDUE_SHARE` of
    their pixels or more: what the division left of the edge, no stroke."""
    labels, components = _strokes(ink, levels.threshold, levels.low)
    residue = [
        label
        for c in components
        if along[c.y0 : c.y1, c.x0 : c.x1][_pixels(c, labels)].mean() >= EDGE_RESIDUE_SHARE
        for label in c.labels
    ]
    return np.where(np.isin(labels, residue), 0.0, ink) if residue else ink


def _read_turned(sheet: _Sheet, inside: np.ndarray, photo: bool) -> list[Digit]:
    """The digits on a ``sheet`` read alone (``inside``: its box, the table painted as its paper) lying
    turned by ``sheet.angle`` degrees: turned level and cut to the sheet, an edge of its own (4 % of its
    size) left out as when it is read unturned; boxes in the sheet's box."""
    turned = Image.fromarray(inside.astype(np.float32), mode="F").rotate(-sheet.angle, Image.BILINEAR, expand=True)
    paper = (~sheet.outside).astype(np.float32) if sheet.outside is not None else np.ones(inside.shape, np.float32)
    level = np.asarray(Image.fromarray(paper, mode="F").rotate(-sheet.angle, Image.BILINEAR, expand=True)) > 0.99
    rows, cols = np.flatnonzero(level.any(axis=1)), np.flatnonzero(level.any(axis=0))
    if rows.size == 0:  # no paper left (none the painted table does not cover)
        raise NoSecondLook
    margin = round(0.04 * min(len(rows), len(cols)))
    cx0, cy0, cx1, cy1 = cols[0] + margin, rows[0] + margin, cols[-1] + 1 - margin, rows[-1] + 1 - margin
    back = _turned_back(-sheet.angle, turned.size, inside.shape)

    def to_box(box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        return back(_moved(box, cx0, cy0))

    try:
        found = find_digits(np.asarray(turned)[cy0:cy1, cx0:cx1], photo, sheet=True)
    except (_Located, _TooSmall, _Faint) as placed:  # what names a box: in the sheet's box
        raise placed.moved(to_box) from None
    return [_with_boxes(digit, to_box) for digit in found]


def _nearer(ink: np.ndarray, low: float) -> tuple[int, int, int, int] | None:
    """Where to read faint writing closer: the box of its marks (ink above ``low`` as tall as a digit can
    be, but for slivers along the picture's sides: a blank sheet's table, :func:`_sliver`) and half their
    height round it, if that is a quarter of the picture or less (reduced half as much to the working
    size); else ``None``."""
    _, components = label_components(ink > low)
    height, width = ink.shape
    least = _least_height(ink.shape)
    tall = [c for c in components if c.height >= least and not _sliver(c, ink.shape)]
    if not tall:
        return None
    x0, y0, x1, y1 = functools.reduce(_merge, tall).box
    margin = (y1 - y0) // 2
    box = max(0, x0 - margin), max(0, y0 - margin), min(width, x1 + margin), min(height, y1 + margin)
    return box if 4 * (box[2] - box[0]) * (box[3] - box[1]) <= height * width else None


def _turned_back(
    angle: float, turned_size: tuple[int, int], shape: tuple[int, int]
) -> Callable[[tuple[int, int, int, int]], tuple[int, int, int, int]]:
    """Box in a picture turned by ``angle`` (``Image.rotate(angle, expand=True)``, ``turned_size`` its
    (width, height)) -> the box holding it in the picture before (``shape``: its (height, width))."""
    (tw, th), (h, w) = turned_size, shape

    def back(box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        x0, y0, x1, y1 = box
        corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)
        xs, ys = turned_back_points(corners, angle, (th, tw), shape).T
        return (
            max(0, int(np.floor(xs.min()))),
            max(0, int(np.floor(ys.min()))),
            min(w, int(np.ceil(xs.max()))),
            min(h, int(np.ceil(ys.max()))),
        )

    return back


def _digits_in(
    ink: np.ndarray,
    levels: Levels,
    shape: tuple[int, int],
    grey: np.ndarray | None = None,
    level: bool = False,
    photo: bool = False,
    sheet: bool = False,
    sheet_level: bool = False,
    divided: bool = False,
    beyond: np.ndarray | None = None,
    pair_level: bool = False,
) -> list[Digit]:
    """:func:`find_digits` on an ink map (:func:`ink_map`) of a picture of ``shape`` (the digits' least
    height is a share of its size), the sheet of paper looked for in ``grey`` (``None``: not looked for);
    with ``level``, raises :class:`_Sloped` for digits on a sloping line (:func:`group_digits`); with
    ``photo``, the table beyond a sheet is taken out (:func:`_table`; on a ``sheet`` read alone, also
    what is left along its edge); with ``sheet_level``, only a sheet lying turned is read, turned level
    (else :class:`NoSecondLook`). In a ``photo``, marks that are all edges (:func:`_one_sided`) are no digit,
    unless a shadow was ``divided`` out of ``grey`` (its levels are no longer the photo's). ``beyond`` and
    ``pair_level``: as :func:`find_digits`'s (two marks not on a slope: :class:`NoSecondLook`)."""
    threshold, low = levels.threshold, levels.low
    labels, components = _strokes(ink, threshold, low)
    taken = beyond  # the table beyond the sheet, or taken out: where a margin line ends
    for _ in range(2 if photo else 0):  # the table in a photo's corners: not ink (fainter parts show once it is out)
        if (table := _table(components, labels, sheet, grey)) is None:
            break
        taken = table if taken is None else taken | table
        ink = np.where(table, 0.0, ink)
        labels, components = _strokes(ink, threshold, low)
    if (lines := _frame_lines(components, labels)) is not None:  # a form's printed boxes: not ink
        ink = np.where(lines, 0.0, ink)
        labels, components = _strokes(ink, threshold, low)
    if margin := _margin(components, labels, shape, photo, taken):  # a notebook's margin line: not ink
        ink = np.where(np.isin(labels, margin), 0.0, ink)
        labels, components = _strokes(ink, threshold, low)
    sheet = _shaded_sheet(components, labels, ink, low, grey) if photo and grey is not None else None
    if sheet is None:
        sheet = _sheet(components, labels, grey, photo) if grey is not None else None
    if sheet is not None:  # a photo of a sheet of paper with the table around it, a badge: read it alone
        x0, y0, x1, y1 = sheet.box
        inside = grey[y0:y1, x0:x1]
        if sheet.outside is not None:
            inside = np.where(sheet.outside, sheet.colour, inside)
        try:
            if sheet_level:  # the writing along the sheet's edges, not upright in the picture
                if abs(sheet.angle) < SHEET_LEVEL:
                    raise NoSecondLook
                return [_shifted(digit, x0, y0) for digit in _read_turned(sheet, inside, photo)]
            found = find_digits(inside, photo, sheet=True, divided=divided, beyond=sheet.outside, pair_level=pair_level)
            return [_shifted(digit, x0, y0) for digit in found]
        except _Faint as faint:
            raise faint.moved(lambda box: _moved(box, x0, y0)) from None
        except (_TooSmall, _Located) as placed:
            if not sheet.tentative:
                raise placed.moved(lambda box: _moved(box, x0, y0)) from None
        except InputError:
            if not sheet.tentative:
                raise
    if sheet_level:
        raise NoSecondLook
    try:
        groups = group_digits(components, shape, level=level, pair=pair_level)
    except _Sloped as sloped:
        sloped.ink = ink  # what is turned: the ink without the table, the printed boxes and lines
        raise
    if pair_level:  # no pair on a slope: the first look's reading
        raise NoSecondLook
    if (
        photo
        and not divided
        and grey is not None
        and groups
        and all(_one_sided(group, labels, grey, threshold) for group in groups)
    ):
        raise InputError(
            "no_digit_found",
            "no digit found: the marks are edges (of a table, of a shadow), standing out of the picture on one "
            "side only, not strokes",
        )
    digits, kept = [], []
    for group in groups:
        pixels, own, strokes, origin = _render_group(group, labels, ink, levels)
        if pixels is None:  # a faint smudge
            continue
        cuts = None
        if group.width >= NARROW_SPLIT_ASPECT * group.height:  # perhaps digits that touch
            likely = max(2, round(group.width / group.height / DIGIT_ASPECT))  # digits as wide as MNIST's
            counts = (likely, likely + 1)  # ... or narrower, as drawn digits often are
            cuts = functools.partial(_cuts, own, strokes, levels, counts, origin)
        digits.append(Digit(pixels, group.box, cuts))
        kept.append(group)
    digits = _with_joins(digits, kept, labels, ink, levels)
    # A few marks too short: looked at closer; in a photo, not what touches its edge (what the table
    # taken out left of itself; a number far away is clear of the edge).
    small = [c for c in components if not photo or _clear_of_edge(c, ink.shape)]
    if grey is not None and not groups and 0 < len(small) <= MAX_DIGITS:
        largest = max(c.area for c in small)
        raise _TooSmall(functools.reduce(_merge, [c for c in small if c.area >= SPECK_AREA * largest]).box)
    if not groups and len(components) > MAX_DIGITS:  # a page of small text, a texture: not blank
        raise InputError(
            "no_digit_found",
            f"no digit found: {len(components)} marks, none as tall as a digit (at least "
            f"{MIN_DIGIT_HEIGHT:.0%} of the picture's size): this looks like small text, a texture or noise",
        )
    if not digits:
        raise InputError("no_digit_found", "no digit found: the image looks blank or contains only noise")
    if len(digits) > MAX_DIGITS:
        raise InputError(
            "no_digit_found",
            f"found {len(digits)} separate marks: this looks like text or a drawing, not a number "
            f"(at most {MAX_DIGITS} digits)",
        )
    return digits


def _one_sided(group: _Component, labels: np.ndarray, grey: np.ndarray, threshold: float) -> bool:
    """Whether ``group``'s marks stand out of the ``grey`` picture on one side only: in its rows, the
    lesser of its mean grey's differences from the pixels 2 beyond its ends (left and right) is, at the
    median row, under :data:`ONE_SIDED` of the ink ``threshold``. A stroke is darker (or lighter) than
    the paper on both sides of it; a strip of paper beside a table or a shadow's edge, "ink" only because
    the surface fitted to the paper is off there, is at the level of the paper on one side."""
    pixels = _pixels(group, labels)
    rows = np.flatnonzero(pixels.any(axis=1))
    first = pixels[rows].argmax(axis=1) + group.x0 - 2
    last = group.x1 + 1 - pixels[rows, ::-1].argmax(axis=1)
    inside = (first >= 0) & (last < grey.shape[1])
    if not inside.any():
        return False
    rows, first, last = rows[inside], first[inside], last[inside]
    box = grey[group.y0 : group.y1, group.x0 : group.x1]
    own = (box[rows] * pixels[rows]).sum(axis=1) / pixels[rows].sum(axis=1)
    y = rows + group.y0
    lesser = np.minimum(np.abs(own - grey[y, first]), np.abs(own - grey[y, last]))
    return _median(lesser) < ONE_SIDED * threshold


def _render_group(
    group: _Component, labels: np.ndarray, ink: np.ndarray, levels: Levels
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray, tuple[int, int]]:
    """A group of components -> (its 28x28 pixels, or ``None`` for a faint smudge; its ink and strokes
    in a window one pixel larger than its box, for the anti-aliased fringe; the window's origin)."""
    height, width = labels.shape
    y0, y1, x0, x1 = max(0, group.y0 - 1), min(height, group.y1 + 1), max(0, group.x0 - 1), min(width, group.x1 + 1)
    window = labels[y0:y1, x0:x1]
    strokes = window == group.labels[0] if len(group.labels) == 1 else np.isin(window, group.labels)
    own = np.where(_dilate(strokes), ink[y0:y1, x0:x1], 0.0)  # the neighbours' strokes left out
    return render_digit(own, strokes, levels.noise, levels.least), own, strokes, (x0, y0)


def _with_joins(
    digits: list[Digit], groups: list[_Component], labels: np.ndarray, ink: np.ndarray, levels: Levels
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
            and _overlap(groups[end - 1].x0, groups[end - 1].x1, groups[end].x0, groups[end].x1) > 0
            and (run := functools.reduce(_merge, groups[start : end + 1])).width <= JOIN_ASPECT * run.height
        ):
            end += 1
        heights = [group.height for group in groups[start:end]]
        if end - start > 1 and min(heights) <= JOIN_HEIGHTS * max(heights):
            run = functools.reduce(_merge, groups[start:end])
            out[start] = replace(out[start], joined=functools.partial(_joined, run, end - start, labels, ink, levels))
            start = end
        else:
            start += 1
    return out


def _joined(group: _Component, count: int, labels: np.ndarray, ink: np.ndarray, levels: Levels) -> tuple[int, Digit]:
    pixels, *_ = _render_group(group, labels, ink, levels)
    return count, Digit(pixels if pixels is not None else np.zeros((SIZE, SIZE), np.uint8), group.box)


#: Where the cuts between touching digits are tried, in steps of a digit's width from the even
#: divisions (digits differ in width: a 1 next to a 0).
CUT_SHIFTS = (-0.3, -0.15, 0.0, 0.15, 0.3)
#: A piece of a cut shorter than this share of the mark's height is no digit. Under a half: handwriting
#: fonts and old-style figures write a 0 as tall as a small letter, 0.45 of the 4 it touches in dkg's
#: "04" (docs/model.md, step 4).
MIN_CUT_HEIGHT = 0.4


def _cuts(
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
            parts = tuple(_shifted(part, *origin) for part in cut)
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


def mnist_form(image: Image.Image) -> Digit | None:
    """A 28x28 picture already in MNIST's normal form -> that digit as it is; else ``None``.

    MNIST's own images (and the digits of any MNIST-style tool) are already normalised: an opaque grey
    field of exactly 0 (or, inverted, 255) around a digit whose longer side is 20 pixels, its centre
    of mass within a pixel of the centre. Running them through the pipeline would only blur them (they
    are enlarged to the working size and scaled back), so such a picture is taken as it is: an MNIST
    digit uploaded as a PNG reads exactly like the same digit sent as ``pixels``.
    """
    if image.size != (SIZE, SIZE) or image.mode not in ("L", "LA", "RGB", "RGBA", "P", "1"):
        return None
    grey, alpha = _bands(image)
    if alpha is not None and alpha.getextrema()[0] < 255:
        return None  # transparency: composited by the pipeline
    pixels = np.asarray(grey, dtype=np.uint8)
    background = int(np.bincount(pixels.ravel(), minlength=256).argmax())
    if background == 255:
        pixels = 255 - pixels
    elif background != 0:
        return None
    if int(pixels.max()) < 128:
        return None
    rows, cols = np.flatnonzero(pixels.any(axis=1)), np.flatnonzero(pixels.any(axis=0))
    if max(rows[-1] + 1 - rows[0], cols[-1] + 1 - cols[0]) != BOX:
        return None
    mass = pixels.astype(np.float64)
    total = mass.sum()
    cy, cx = float(mass.sum(axis=1) @ np.arange(SIZE)) / total, float(mass.sum(axis=0) @ np.arange(SIZE)) / total
    if abs(cy - SIZE / 2) > 1.0 or abs(cx - SIZE / 2) > 1.0:
        return None
    return Digit(pixels.copy(), (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1))


def preprocess(
    image: bytes | Image.Image | np.ndarray,
    shadow_edge: bool = False,
    sheet_level: bool = False,
    pair_level: bool = False,
) -> list[Digit]:
    """Any image (encoded bytes, a Pillow image, or an array such as a canvas's RGBA) -> its digits,
    left to right, each as 28x28 uint8 MNIST-style pixels with its box in the input's pixels.

    A 28x28 picture already in MNIST's normal form is taken as it is (:func:`mnist_form`).
    Raises ``InputError`` (see :mod:`model.contract`) for anything that is not an image with a digit.
    Second looks at a photo whose first reading was refused (:class:`NoSecondLook` when it offers none):
    ``shadow_edge``, a shadow's straight edge across it divided out first (:mod:`model.shadow_edge`);
    ``sheet_level``, a sheet lying turned read turned level, the writing along its edges (the first look
    reads it upright in the picture, as people write on a sheet lying askew before them); ``pair_level``,
    a number of two marks on a slope turned level (the first look turns three or more: :data:`LINE_DIGITS`).
    """
    original = image
    if isinstance(image, (bytes, bytearray, memoryview)):
        if (shadow_edge or sheet_level or pair_level) and _work_factor(
            *Image.open(io.BytesIO(image)).size, WORK_SIZE
        ) < 2:
            raise NoSecondLook  # no photo (a picture reduced twice or more): known from its header alone
        image, (width, height) = _decode(bytes(image), WORK_SIZE)
    elif isinstance(image, np.ndarray):
        height, width = image.shape[:2]
        if (height, width) == (SIZE, SIZE):
            image = _array_to_image(image)
    else:
        width, height = image.size
    if isinstance(image, Image.Image) and (already := mnist_form(image)) is not None:
        return [already]
    grey = to_grey(image)
    # Working pixels per input pixel (a large JPEG may have been decoded at reduced scale already).
    sx, sy = grey.shape[1] / width, grey.shape[0] / height

    def to_input(box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        x0, y0, x1, y1 = box
        return int(x0 / sx), int(y0 / sy), min(width, ceil(x1 / sx)), min(height, ceil(y1 / sy))

    def closer(refused: _TooSmall | _Faint) -> list[Digit]:
        """What a closer look finds: at faint writing, where its lines keep more of their contrast (what it
        finds, or not, is the answer); at marks too small, refused as they were when it finds no digit."""
        crop = to_input(refused.box) if isinstance(refused, _Faint) else _closer(to_input(refused.box), (width, height))
        if crop is None:
            raise refused
        picture, scale = _cropped(original, image, crop, (width, height))
        try:
            return _read_crop(picture, crop, scale)
        except _TooSmall:
            if isinstance(refused, _Faint):
                raise
            raise refused from None

    try:
        # A picture reduced twice or more is a photo or a scan of a page: a table may show round the sheet.
        photo = sx <= 0.5
        found = [
            _with_boxes(digit, to_input)
            for digit in find_digits(
                grey, photo, shadow_edge=shadow_edge, sheet_level=sheet_level, pair_level=pair_level
            )
        ]
    except _Located as located:
        raise located.moved(to_input) from None
    except (_TooSmall, _Faint) as refused:
        found = closer(refused)
    else:  # a number small in a photo: looked at closer, where a decimal point written small is seen
        if photo and (crop := _closer_number(found, (width, height), sy)):
            picture, scale = _cropped(original, image, crop, (width, height))
            try:
                _read_crop(picture, crop, scale)
            except Punctuation:
                raise
            except InputError:
                pass  # the digits stay as the first look read them (reading them closer: as many right as wrong)
    if photo and len(found) == 1 and not shadow_edge and not _transparent(image):  # no shadow falls on a drawing
        lit = _past_a_shadow(grey, found[0].box, to_input, closer)
        if isinstance(lit, InputError):
            raise lit
        found = lit or found
    return found


def _past_a_shadow(
    grey: np.ndarray,
    mark: tuple[int, int, int, int],
    to_input: Callable[[tuple[int, int, int, int]], tuple[int, int, int, int]],
    closer: Callable[[_TooSmall | _Faint], list[Digit]],
) -> list[Digit] | InputError | None:
    """A photo whose first look found one ``mark`` (its box in the picture's pixels), read again once a
    shadow's straight edge across it is divided out (:func:`model.shadow_edge.without_shadow_edge`; marks too
    small or faint read by ``closer``, :func:`preprocess`'s closer look; ``to_input``: working pixels to the
    picture's), when that mark was the shadow: :class:`ShadowOnly` when no mark is left (the edge across a
    blank sheet, read as a 1), or one line the first look did not see, its long side :data:`EDGE_LINE`
    times its short side or more (what the division left of a hard edge, or where it crosses the sheet's
    edge); when one other mark is left, the digits it reads if the first look's mark was a line too (the
    edge, read as a 1: a 9 beside it; a 4 on a strip of paper whose edge was taken for a shadow's stays).
    Else ``None``: the first look stands."""
    try:
        try:
            lit = [_with_boxes(digit, to_input) for digit in find_digits(grey, photo=True, shadow_edge=True)]
        except (_TooSmall, _Faint) as refused:
            lit = closer(refused)
    except InputError as again:
        return ShadowOnly(again.message) if again.code == "no_digit_found" else None
    except NoSecondLook:  # no shadow's edge
        return None
    if len(lit) != 1 or (
        _overlap(mark[0], mark[2], *lit[0].box[0::2]) and _overlap(mark[1], mark[3], *lit[0].box[1::2])
    ):
        return None
    if is_line(lit[0].box):
        return ShadowOnly("no digit found: the only mark is the edge of a shadow across the paper")
    return lit if is_line(mark) else None


def is_line(box: tuple[int, int, int, int]) -> bool:
    """Whether a mark's ``box`` is :data:`EDGE_LINE` times as long as it is wide or more."""
    x0, y0, x1, y1 = box
    return max(x1 - x0, y1 - y0) >= EDGE_LINE * min(x1 - x0, y1 - y0)


def is_straight(digit: Digit) -> bool:
    """Whether a mark as the network sees it (``digit.pixels``) is a straight line at any slant: its ink
    spread across its main axis (the standard deviation, weighted by the pixels' ink) :data:`EDGE_LINE`
    times less than along it or more, as :func:`is_line`'s box is for a line upright or level."""
    ink = digit.pixels.astype(np.float64).ravel()
    if not ink.any():
        return False
    ys, xs = np.mgrid[0:SIZE, 0:SIZE]
    across, along = np.linalg.eigvalsh(np.cov(np.stack([xs.ravel(), ys.ravel()]), aweights=ink))
    return bool(across * EDGE_LINE**2 <= along)


def _read_crop(picture: Image.Image | np.ndarray, crop: tuple[int, int, int, int], scale: float) -> list[Digit]:
    """:func:`preprocess` on ``picture``, the ``crop`` of a picture enlarged ``scale`` times: the digits,
    and the marks a refusal names, in the pixels of the picture it was cut from."""
    x0, y0 = crop[:2]

    def to_picture(box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        return x0 + int(box[0] / scale), y0 + int(box[1] / scale), x0 + ceil(box[2] / scale), y0 + ceil(box[3] / scale)

    try:
        return [_with_boxes(digit, to_picture) for digit in preprocess(picture)]
    except _Located as located:
        raise located.moved(to_picture) from None


def _closer(marks: tuple[int, int, int, int], size: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """The crop of a picture of ``size`` (width, height) to look closer at ``marks`` (a box in its
    pixels): the marks and as much again on every side, if they are :data:`ZOOM_PIXELS` tall or more
    and the crop at most :data:`ZOOM_SHARE` of the picture's longer side; else ``None``."""
    x0, y0, x1, y1 = marks
    reach = max(x1 - x0, y1 - y0)
    crop = max(0, x0 - reach), max(0, y0 - reach), min(size[0], x1 + reach), min(size[1], y1 + reach)
    if y1 - y0 < ZOOM_PIXELS or max(crop[2] - crop[0], crop[3] - crop[1]) > ZOOM_SHARE * max(size):
        return None
    return crop


def _closer_number(digits: list[Digit], size: tuple[int, int], work: float) -> tuple[int, int, int, int] | None:
    """The crop of a photo of ``size`` (width, height), reduced to ``work`` working pixels per pixel, in
    which to look for the punctuation of a number of small ``digits`` (boxes in its pixels;
    :data:`CLOSER_HEIGHT`), or ``None``."""
    if len(digits) < 2:
        return None
    x0, y0 = min(d.box[0] for d in digits), min(d.box[1] for d in digits)
    x1, y1 = max(d.box[2] for d in digits), max(d.box[3] for d in digits)
    tallest = max(d.box[3] - d.box[1] for d in digits)
    if tallest * work > CLOSER_HEIGHT:
        return None
    margin = tallest // 2
    crop = max(0, x0 - margin), max(0, y0 - margin), min(size[0], x1 + margin), min(size[1], y1 + margin)
    return crop if max(crop[2] - crop[0], crop[3] - crop[1]) <= ZOOM_SHARE * max(size) else None


def _cropped(
    original: bytes | Image.Image | np.ndarray,
    decoded: Image.Image | np.ndarray,
    crop: tuple[int, int, int, int],
    size: tuple[int, int],
) -> tuple[Image.Image | np.ndarray, float]:
    """The part ``crop`` (in pixels of the upright picture of ``size``) of the picture sent, and its
    pixels per picture pixel: cut from the picture as decoded when that is full size, else (a JPEG
    decoded reduced) from the picture decoded again, reduced only as far as keeps the crop about the
    working size."""
    x0, y0, x1, y1 = crop
    if isinstance(original, np.ndarray):
        return original[y0:y1, x0:x1], 1.0
    if isinstance(original, Image.Image):
        return original.crop(crop), 1.0
    if decoded.size == size:
        return decoded.crop(crop), 1.0
    closer = WORK_SIZE * (size[0] * size[1] / ((x1 - x0) * (y1 - y0))) ** 0.5
    decoded, _ = _decode(bytes(original), round(closer))
    scale = decoded.width / size[0]
    return decoded.crop((int(x0 * scale), int(y0 * scale), ceil(x1 * scale), ceil(y1 * scale))), scale
