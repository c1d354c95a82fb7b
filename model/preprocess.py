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

import numpy as np
from PIL import Image

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
from .frames import _frame_lines
from .grey_levels import _array_to_image, _bands, _transparent, to_grey
from .grouping import LINE_DIGITS, SPECK_AREA, group_digits
from .ink import Levels, _strokes, ink_map
from .margin_line import _margin
from .paper import _median
from .printed_lines import without_printed_lines
from .rendering import BOX, MIN_DIGIT_CONTRAST, SIZE, Digit, _dilate, _moved, _shifted, _with_boxes, render_digit
from .shadow_edge import EDGE_RESIDUE_SHARE, turned_back_points, without_shadow_edge
from .sheets import _shaded_sheet, _Sheet, _sheet
from .tables import _sliver, _table

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
#: A sheet lying turned by this many degrees or more is read turned level in a second look (the network
#: learnt digits turned by up to 10; the writing may lie along the paper's edges).
SHEET_LEVEL = 12.0
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
#: A number of two digits or more found in a photo (a picture reduced to the working size), its digits
#: this many working pixels tall or less, is looked at again in a crop of the picture around it (half
#: their height on every side, at most :data:`ZOOM_SHARE` of the picture) for punctuation: a decimal
#: point written with the digits' pen is under the 2 working pixels a dot needs (:data:`DOT_FILL`) once
#: digits are that small (a pen a twentieth of their height: a pixel and a half at 30).
CLOSER_HEIGHT = 30


# ---------------------------------------------------------------------------------------------- entry


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
