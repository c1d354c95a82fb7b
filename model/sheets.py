"""A sheet of paper photographed on a table, a card, a badge or a round button, cropped to and read alone
(:func:`find_sheet`, step 4 of :mod:`model.preprocess`): found as a solid region unlike strokes, perhaps
lying turned (:func:`_turned_sheet`) or in a shadow (:func:`find_shaded_sheet`). Numpy and Pillow only.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from PIL import Image, ImageDraw

from .components import Component, clear_of_edge, component_pixels, label_components
from .frames import PANEL_ASPECT, PANEL_FILL
from .paper import MIN_CONTRAST, RIDGE, fast_median, mad_sigma
from .rendering import dilate, stroke_width
from .tables import convex_hull, is_convex

SHEET_ASPECT = 0.5  # a sheet of paper's shorter side is at least half its longer one
#: ... so a sheet lying turned any way fills at least this share of its box (0.44 when twice as long as
#: wide and turned 45 degrees; A4, 0.49): from 0.5, sheets turned 38-52 degrees were one mark, refused.
SHEET_FILL = 0.44
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
#: A solid disc is convex: it fills this share of its convex hull (:func:`is_convex`; a disc drawn by a
#: screen fills 97.6 % or more, a square turned a few degrees 95 %).
BADGE_CONVEX = 0.93
#: A badge under a fifth of the picture, or a solid one, is round, or a pill with round ends: the
#: corners of its box (squares this share of its height wide) are three quarters the screen's or more
#: (a disc leaves them empty to 0.146 of its size; a bold glyph's feet or arms, a square, fill them). A
#: larger one may be a sticky note or a price tag holding writing.
BADGE_CORNER = 0.15


class Sheet(NamedTuple):
    """A region read alone (:func:`find_sheet`): its box in working pixels, and the pixels in it outside the
    region (``None``: none; else painted in the region's ``colour``, one grey level or one per pixel of
    the box, before it is read)."""

    box: tuple[int, int, int, int]
    outside: np.ndarray | None = None
    colour: float | np.ndarray = 0.0
    #: Whether it may hold nothing (a solid disc: its digit may be a lighter shade of the ink, as on a
    #: coloured badge on a dark screen); if nothing is found in it, it is read as the mark it is.
    tentative: bool = False
    #: How far a sheet lies turned (degrees counter-clockwise, as ``Image.rotate`` turns; -45 to 45): from
    #: :data:`model.digits.SHEET_LEVEL` on, a second look reads it turned level, the writing on it with it.
    angle: float = 0.0


def find_sheet(components: list[Component], labels: np.ndarray, grey: np.ndarray, photo: bool = False) -> Sheet | None:
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
    return Sheet((largest.x0 + dx, largest.y0 + dy, largest.x1 - dx, largest.y1 - dy))


def find_shaded_sheet(
    components: list[Component], labels: np.ndarray, ink: np.ndarray, low: float, grey: np.ndarray
) -> Sheet | None:
    """A sheet of paper on a table with a shadow's edge across it (:func:`find_sheet` in a photo; ``None``:
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
    y, x = (index[0] for index in np.nonzero(component_pixels(largest, labels)))
    if whole.area < SHEET_SHADED * largest.area or wide_labels[largest.y0 + y, largest.x0 + x] not in whole.labels:
        return None
    return find_sheet(wide, wide_labels, grey, photo=True)


def _turned_sheet(region: Component, labels: np.ndarray, grey: np.ndarray) -> Sheet | None:
    """A sheet of paper photographed turned, lying wholly inside the picture or crossing it (``None``:
    ``region`` is not one): with the writing it encloses filled in, convex (:func:`is_convex`) and a
    rectangle at some angle (:func:`_rectangular`; the lit part of a sheet cut by a shadow's slanting edge
    is not, nor a thick 0), no longer than a sheet (:data:`SHEET_ASPECT`: a thick 1 slanting is a bar)
    unless it holds writing (:func:`_writing_across`: a card, a strip of paper), enclosing at most
    :data:`SHEET_WRITTEN` of its box (:func:`_holes`: a number written large on a card; a card unturned,
    its writing's holes leaving it under 85 % of its box, is read here too), the table in its box's
    corners outside its hull (:data:`SHEET_INSIDE`). The corners and the sheet's edge (4 % of its size)
    are painted as its paper (:func:`_paper_filled`)."""
    own = component_pixels(region, labels)
    points = convex_hull(own)
    parts_labels, parts, around = _enclosed(region, labels)
    outside = np.concatenate([[False], around])[parts_labels]
    solid = ~outside  # the writing it encloses filled in
    aspect = 0.0 if _writing_across(points, parts, around) else SHEET_ASPECT  # a bar holds none
    if not (is_convex(solid, hull=points) and _rectangular(points, aspect)):
        return None
    if _holes(region, parts, around) > SHEET_WRITTEN:
        return None
    hull = Image.new("1", (region.width, region.height))
    ImageDraw.Draw(hull).polygon(points, fill=1)
    within = ~dilate(~np.asarray(hull)) & outside  # a pixel in from the hull's edge
    if within.sum() > SHEET_INSIDE * own.sum():  # what lies over the sheet, not round it: a shadow
        return None
    for _ in range(round(0.04 * min(region.width, region.height))):
        outside = dilate(outside)
    window = grey[region.y0 : region.y1, region.x0 : region.x1]
    return Sheet(region.box, outside, _paper_filled(window, own & ~outside, outside), angle=_rectangle_angle(points))


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
    for _ in range(2):  # least squares by the 6x6 normal equations (as fit_background)
        kept = design[keep]
        coef = np.linalg.solve(kept.T @ kept + RIDGE, kept.T @ values[keep])
        residual = values - design @ coef
        keep = np.abs(residual) <= max(3.0 * mad_sigma(residual[keep]), MIN_CONTRAST / 2)
    fy, fx = np.mgrid[0:height, 0:width]
    fy, fx = fy / height - 0.5, fx / width - 0.5
    surface = coef[0] + coef[1] * fx + coef[2] * fy + coef[3] * fx * fx + coef[4] * fx * fy + coef[5] * fy * fy
    return np.where(outside, surface, window).astype(np.float32)


def _crosses(region: Component, shape: tuple[int, int]) -> bool:
    """Whether ``region`` reaches two opposite sides of a picture of ``shape``."""
    return (region.x0 == 0 and region.x1 == shape[1]) or (region.y0 == 0 and region.y1 == shape[0])


def _beside(region: Component, components: list[Component]) -> bool:
    """Whether a mark half as tall as ``region`` or taller stands outside its box (a row of badges, a
    badge beside a number: which one is the answer is not the badge's to say)."""
    return any(
        c is not region
        and c.height >= 0.5 * region.height
        and not (c.x0 >= region.x0 and c.y0 >= region.y0 and c.x1 <= region.x1 and c.y1 <= region.y1)
        for c in components
    )


def _enclosed(region: Component, labels: np.ndarray) -> tuple[np.ndarray, list[Component], np.ndarray]:
    """What lies in ``region``'s box but is not its ink: (label image over the box, the parts, which
    of them touch the box's edge, by label - 1)."""
    window = ~np.isin(labels[region.y0 : region.y1, region.x0 : region.x1], region.labels)
    parts_labels, parts = label_components(window)
    return parts_labels, parts, np.array([not clear_of_edge(part, window.shape) for part in parts], dtype=bool)


def _writing_across(points: list[tuple[int, int]], parts: list[Component], edge: np.ndarray) -> bool:
    """Whether a region (its hull's ``points``; what its box holds besides it, ``parts`` and which of them
    touch the box's ``edge``: :func:`_enclosed`) holds writing (:func:`_writing`) across its width, the
    shorter side of the smallest rectangle round it: a card or a strip of paper, however long and turned;
    a thick 1 holds none."""
    hull = np.array(points, dtype=np.float64)
    return len(hull) >= 3 and _writing(parts, edge, min(_smallest_rectangle(hull)[1:]))


def _holds_writing(region: Component, labels: np.ndarray) -> bool:
    """Whether a solid ``region`` holds writing (:func:`_writing`) across its shorter side: the digits of a
    card or a button, light on its colour, or written across a strip of paper (a receipt from edge to edge
    of the photo)."""
    _, parts, edge = _enclosed(region, labels)
    return _writing(parts, edge, min(region.width, region.height))


def _writing(parts: list[Component], edge: np.ndarray, width: float) -> bool:
    """Whether of the ``parts`` a region encloses (``edge``: which touch its box's edge, :func:`_enclosed`)
    one is as long as :data:`HELD_WRITING` of its ``width`` or longer."""
    least = HELD_WRITING * width
    return any(not out and max(part.width, part.height) >= least for part, out in zip(parts, edge, strict=True))


def _holes(region: Component, parts: list[Component], edge: np.ndarray) -> float:
    """The share of ``region``'s box that it encloses (its :func:`_enclosed` ``parts`` touching no
    ``edge`` of its box): on a sheet, the writing's strokes if any (they may be its ink, lighter than the
    table); a thick 0's hole is more (:data:`SHEET_WRITING`)."""
    return sum(part.area for part, out in zip(parts, edge, strict=True) if not out) / (region.width * region.height)


def _badge(region: Component, labels: np.ndarray, grey: np.ndarray) -> Sheet | None:
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
    if not held and not is_convex(own, BADGE_CONVEX):
        return None
    outside = around.copy()
    outside[[0, -1]] = outside[:, [0, -1]] = True  # its rim, also where it runs along its box
    for _ in range(2 if held else max(2, round(BADGE_RIM * min(region.width, region.height)))):
        outside = dilate(outside)
    colour = fast_median(grey[region.y0 : region.y1, region.x0 : region.x1][own])
    return Sheet(region.box, outside, colour, tentative=not held)


def _written(part: Component, labels: np.ndarray, paper: np.ndarray, height: int) -> bool:
    """Whether ``part`` (of the label image ``labels``, its ``paper`` pixels only) is writing on a badge
    ``height`` tall: clear of its rim by :data:`BADGE_PAD` of it above and below, and made of strokes
    (:data:`BADGE_STROKE`), not a blob."""
    if min(part.y0, height - part.y1) < BADGE_PAD * height:
        return False
    box = slice(part.y0, part.y1), slice(part.x0, part.x1)
    return stroke_width((labels[box] == part.labels[0]) & paper[box]) <= BADGE_STROKE * part.height


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
    """Whether a mark's convex hull (:func:`convex_hull`, its ``points``) fills :data:`SHEET_RECTANGLE` of the
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
