"""Step 4 of :mod:`model.preprocess`: a working-size grey picture -> its digits (:func:`find_digits`).

Printed lines, the table round a sheet, a form's boxes and a notebook's margin line are taken out of its
ink; a sheet, a card or a badge is read alone; the rest is grouped into digits, each rendered 28x28
(:mod:`model.rendering`). Numpy and Pillow only.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
from PIL import Image

from .components import (
    MIN_DIGIT_HEIGHT,
    MIN_DIGIT_PIXELS,
    Component,
    clear_of_edge,
    component_pixels,
    label_components,
    least_height,
    merge_components,
)
from .contract import InputError
from .cuts import find_cuts, render_group, with_joins
from .exceptions import FaintWriting, LocatedError, NoSecondLook, Sloped, TooSmallError
from .frames import frame_lines
from .grouping import LINE_DIGITS, SPECK_AREA, group_digits
from .ink import Levels, ink_map, label_strokes
from .margin_line import find_margin_line
from .paper import fast_median
from .printed_lines import without_printed_lines
from .rendering import Digit, shift_box, shift_digit, with_boxes
from .shadow_edge import EDGE_RESIDUE_SHARE, turned_back_points, without_shadow_edge
from .sheets import Sheet, find_shaded_sheet, find_sheet
from .tables import find_table, is_table_sliver

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

    A number on a slope (:func:`model.grouping._slope`: a photo taken turned, a line written uphill) is turned level
    and its digits found again, each read upright; their boxes are those of the turned boxes in the
    picture. In a ``photo`` (a picture reduced to the working size), the table showing beyond a sheet
    is not ink (:func:`find_table`); a small picture is a crop, where a digit's stroke cut by the edge
    looks the same. Faint writing (:attr:`Levels.faint`) small in a photo raises :class:`FaintWriting`:
    :func:`model.preprocess.preprocess` reads it again from the picture, reduced less. Raises ``no_digit_found`` for
    blank, uniform or noise-only images. With ``shadow_edge``, a photo's shadow's straight edge is
    divided out first (:func:`model.shadow_edge.without_shadow_edge`); with ``sheet_level``, a sheet
    lying turned is read turned level (:func:`_read_turned`); with ``pair_level``, two marks on a slope
    (:func:`model.grouping._slope`) are turned level as a longer number is; else :class:`NoSecondLook` is raised.
    ``divided``: ``grey`` is a part of a picture a shadow was divided out of (a sheet in it read alone);
    ``beyond``: where the table lies beyond a turned sheet read alone (painted as its paper; boolean, the
    shape of ``grey``), which a notebook's margin line runs to (:func:`find_margin_line`).
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
        raise FaintWriting(closer)
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
    except Sloped as sloped:
        turned = Image.fromarray(sloped.ink.astype(np.float32), mode="F").rotate(
            sloped.angle, Image.BILINEAR, expand=True
        )
        back = _turned_back(sloped.angle, turned.size, grey.shape)
        try:
            level = _digits_in(np.asarray(turned), levels, grey.shape)
        except LocatedError as located:
            raise located.moved(back) from None
        if len(level) < (2 if pair_level else LINE_DIGITS):  # a broken digit's pieces, merged once level
            if pair_level:
                raise NoSecondLook from None
            return _digits_in(ink, levels, grey.shape, grey, photo=photo, sheet=sheet, divided=divided, beyond=beyond)
        return [with_boxes(digit, back) for digit in level]


def _without_residue(ink: np.ndarray, levels: Levels, along: np.ndarray) -> np.ndarray:
    """``ink`` without its marks (:func:`label_strokes`) that lie along a divided shadow's edge (``along``: the
    pixels near it, :class:`model.shadow_edge.Divided`), :data:`model.shadow_edge.EDGE_RESIDUE_SHARE` of
    their pixels or more: what the division left of the edge, no stroke."""
    labels, components = label_strokes(ink, levels.threshold, levels.low)
    residue = [
        label
        for c in components
        if along[c.y0 : c.y1, c.x0 : c.x1][component_pixels(c, labels)].mean() >= EDGE_RESIDUE_SHARE
        for label in c.labels
    ]
    return np.where(np.isin(labels, residue), 0.0, ink) if residue else ink


def _read_turned(sheet: Sheet, inside: np.ndarray, photo: bool) -> list[Digit]:
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
        return back(shift_box(box, cx0, cy0))

    try:
        found = find_digits(np.asarray(turned)[cy0:cy1, cx0:cx1], photo, sheet=True)
    except (LocatedError, TooSmallError, FaintWriting) as placed:  # what names a box: in the sheet's box
        raise placed.moved(to_box) from None
    return [with_boxes(digit, to_box) for digit in found]


def _nearer(ink: np.ndarray, low: float) -> tuple[int, int, int, int] | None:
    """Where to read faint writing closer: the box of its marks (ink above ``low`` as tall as a digit can
    be, but for slivers along the picture's sides: a blank sheet's table, :func:`is_table_sliver`) and half their
    height round it, if that is a quarter of the picture or less (reduced half as much to the working
    size); else ``None``."""
    _, components = label_components(ink > low)
    height, width = ink.shape
    least = least_height(ink.shape)
    tall = [c for c in components if c.height >= least and not is_table_sliver(c, ink.shape)]
    if not tall:
        return None
    x0, y0, x1, y1 = functools.reduce(merge_components, tall).box
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
    with ``level``, raises :class:`Sloped` for digits on a sloping line (:func:`group_digits`); with
    ``photo``, the table beyond a sheet is taken out (:func:`find_table`; on a ``sheet`` read alone, also
    what is left along its edge); with ``sheet_level``, only a sheet lying turned is read, turned level
    (else :class:`NoSecondLook`). In a ``photo``, marks that are all edges (:func:`_one_sided`) are no digit,
    unless a shadow was ``divided`` out of ``grey`` (its levels are no longer the photo's). ``beyond`` and
    ``pair_level``: as :func:`find_digits`'s (two marks not on a slope: :class:`NoSecondLook`)."""
    threshold, low = levels.threshold, levels.low
    labels, components = label_strokes(ink, threshold, low)
    taken = beyond  # the table beyond the sheet, or taken out: where a margin line ends
    for _ in range(2 if photo else 0):  # the table in a photo's corners: not ink (fainter parts show once it is out)
        if (table := find_table(components, labels, sheet, grey)) is None:
            break
        taken = table if taken is None else taken | table
        ink = np.where(table, 0.0, ink)
        labels, components = label_strokes(ink, threshold, low)
    if (lines := frame_lines(components, labels)) is not None:  # a form's printed boxes: not ink
        ink = np.where(lines, 0.0, ink)
        labels, components = label_strokes(ink, threshold, low)
    if margin := find_margin_line(components, labels, shape, photo, taken):  # a notebook's margin line: not ink
        ink = np.where(np.isin(labels, margin), 0.0, ink)
        labels, components = label_strokes(ink, threshold, low)
    found_sheet = find_shaded_sheet(components, labels, ink, low, grey) if photo and grey is not None else None
    if found_sheet is None:
        found_sheet = find_sheet(components, labels, grey, photo) if grey is not None else None
    if found_sheet is not None:  # a photo of a sheet of paper with the table around it, a badge: read it alone
        x0, y0, x1, y1 = found_sheet.box
        inside = grey[y0:y1, x0:x1]
        if found_sheet.outside is not None:
            inside = np.where(found_sheet.outside, found_sheet.colour, inside)
        try:
            if sheet_level:  # the writing along the sheet's edges, not upright in the picture
                if abs(found_sheet.angle) < SHEET_LEVEL:
                    raise NoSecondLook
                return [shift_digit(digit, x0, y0) for digit in _read_turned(found_sheet, inside, photo)]
            found = find_digits(
                inside, photo, sheet=True, divided=divided, beyond=found_sheet.outside, pair_level=pair_level
            )
            return [shift_digit(digit, x0, y0) for digit in found]
        except FaintWriting as faint:
            raise faint.moved(lambda box: shift_box(box, x0, y0)) from None
        except (TooSmallError, LocatedError) as placed:
            if not found_sheet.tentative:
                raise placed.moved(lambda box: shift_box(box, x0, y0)) from None
        except InputError:
            if not found_sheet.tentative:
                raise
    if sheet_level:
        raise NoSecondLook
    try:
        groups = group_digits(components, shape, level=level, pair=pair_level)
    except Sloped as sloped:
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
        pixels, own, strokes, origin = render_group(group, labels, ink, levels)
        if pixels is None:  # a faint smudge
            continue
        cuts = None
        if group.width >= NARROW_SPLIT_ASPECT * group.height:  # perhaps digits that touch
            likely = max(2, round(group.width / group.height / DIGIT_ASPECT))  # digits as wide as MNIST's
            counts = (likely, likely + 1)  # ... or narrower, as drawn digits often are
            cuts = functools.partial(find_cuts, own, strokes, levels, counts, origin)
        digits.append(Digit(pixels, group.box, cuts))
        kept.append(group)
    digits = with_joins(digits, kept, labels, ink, levels)
    # A few marks too short: looked at closer; in a photo, not what touches its edge (what the table
    # taken out left of itself; a number far away is clear of the edge).
    small = [c for c in components if not photo or clear_of_edge(c, ink.shape)]
    if grey is not None and not groups and 0 < len(small) <= MAX_DIGITS:
        largest = max(c.area for c in small)
        raise TooSmallError(
            functools.reduce(merge_components, [c for c in small if c.area >= SPECK_AREA * largest]).box
        )
    if not groups and len(components) > MAX_DIGITS:  # a page of small text, a texture: not blank
        raise InputError(
            "no_digit_found",
            f"no digit found: {len(components)} marks, none as tall as a digit (at least "
            f"{MIN_DIGIT_HEIGHT:.0%} of the picture's size): this looks like small text, a texture or noise",
        )
    if not digits:
        if sheet:  # a sheet, card or filled shape read alone: "blank" would puzzle whoever drew a square
            raise InputError(
                "no_digit_found",
                "no digit found: a solid shape (a sheet of paper, a card, a filled shape) with nothing written on it",
            )
        raise InputError("no_digit_found", "no digit found: the image looks blank or contains only noise")
    if len(digits) > MAX_DIGITS:
        raise InputError(
            "no_digit_found",
            f"found {len(digits)} separate marks: this looks like text or a drawing, not a number "
            f"(at most {MAX_DIGITS} digits)",
        )
    return digits


def _one_sided(group: Component, labels: np.ndarray, grey: np.ndarray, threshold: float) -> bool:
    """Whether ``group``'s marks stand out of the ``grey`` picture on one side only: in its rows, the
    lesser of its mean grey's differences from the pixels 2 beyond its ends (left and right) is, at the
    median row, under :data:`ONE_SIDED` of the ink ``threshold``. A stroke is darker (or lighter) than
    the paper on both sides of it; a strip of paper beside a table or a shadow's edge, "ink" only because
    the surface fitted to the paper is off there, is at the level of the paper on one side."""
    pixels = component_pixels(group, labels)
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
    return fast_median(lesser) < ONE_SIDED * threshold
