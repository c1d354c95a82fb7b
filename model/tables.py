"""The table around a sheet of paper photographed turned or off centre, which is not ink (:func:`find_table`,
step 4 of :mod:`model.preprocess`), and the convex hull its shape is measured with (:func:`is_convex`).
Numpy only.
"""

from __future__ import annotations

import numpy as np

from .components import Component, component_pixels, label_components, least_height
from .frames import FRAME_CANDIDATES
from .paper import MIN_CONTRAST, fast_median, mad_sigma
from .rendering import dilate, stroke_width

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


def find_table(
    components: list[Component], labels: np.ndarray, sheet: bool = False, grey: np.ndarray | None = None
) -> np.ndarray | None:
    """The pixels of the table around a sheet of paper photographed turned or off centre (``None``: there is none), and
    2 pixels round them (the sheet's shaded edge): convex marks (:func:`is_convex`), or marks in runs going in from
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
    pen = max((stroke_width(component_pixels(c, labels)) for c in writing), default=0.0)
    table = None
    for mark in sorted(components, key=lambda c: c.area, reverse=True)[:FRAME_CANDIDATES]:
        if mark in inside:
            continue
        pixels = component_pixels(mark, labels)
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
        table = dilate(table)
    return table


def _beyond_sheet(
    mark: Component, pixels: np.ndarray, shape: tuple[int, int], written: bool, pen: float, sheet: bool
) -> bool:
    """Whether ``mark`` (its pixels in its box), not clear of the edges of a picture of ``shape``, is table
    (:func:`find_table`; ``written``: the picture holds writing clear of its edges, ``pen`` its thickest stroke)."""
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
    sliver = is_table_sliver(mark, shape) and (_in_corner(mark, shape) or not written or sheet)
    # With nothing written, a mark along a side keeping to the margins is table, whatever its shape: the
    # band beside a blank sheet moved off centre broken by the JPEG's noise, the sheet's edge joined to it.
    shaped = corner or any(
        share >= TABLE_BAND or (share >= TABLE_EDGE and (narrows or not written)) for share, narrows in along
    )
    touching = [side is not None for side in sides]
    beyond = shaped and (not written or is_convex(pixels) or _in_from_sides(pixels, touching))
    beyond = beyond or _across_corner(pixels, touching, shape)
    # A solid round blob coming in over the edge, far thicker than the writing's strokes: a thumb
    # holding the sheet, an object at the frame's edge.
    beyond = beyond or (written and stroke_width(pixels) >= TABLE_BLOB * pen and is_convex(pixels))
    # A blank sheet's corner: any; the table beyond a page's corner running off the frame: any too.
    long = any(share >= TABLE_EDGE for share, _ in along) or not written or _in_corner(mark, shape)
    return (sliver and long) or beyond


def _table_level(
    mark: Component, pixels: np.ndarray, labels: np.ndarray, grey: np.ndarray, inside: list[Component]
) -> tuple[Component, np.ndarray] | None:
    """``mark`` (its pixels in its box) grown over the pixels joined to it at its own grey level (within
    :data:`TABLE_LEVEL` noise deviations of its median, never under half ``MIN_CONTRAST``), and its pixels
    in its new box; ``None`` when that adds none, reaches a mark ``inside`` (clear of the edges), or the
    mark holds writing. Where the paper darkens towards a corner (the light falling off), the surface
    fitted to it bends down there too, and the table beyond the sheet's edge stands out of it by less
    than the ink threshold: only a ragged band of it along the sheet's edge is ink. The table is one flat
    level, apart from the paper's by a step: at that level it is whole again."""
    values = grey[mark.y0 : mark.y1, mark.x0 : mark.x1][pixels]
    level = fast_median(values)
    reach = max(TABLE_LEVEL * mad_sigma(values), MIN_CONTRAST / 2)
    paper = fast_median(grey.ravel())  # most of the picture
    if abs(level - paper) <= reach:  # no step from the paper: the paper itself would be taken
        return None
    # Writing in the mark (strokes running into a shadow joined to it) lies beyond its level, away from the
    # paper's: much of it, or a part as tall as a digit can be; the table's pixels lie at it, and its edge
    # shades towards the paper.
    box = grey[mark.y0 : mark.y1, mark.x0 : mark.x1]
    away = pixels & ((box - level if paper < level else level - box) > reach)
    if away.sum() > TABLE_ASIDE * mark.area or any(
        part.height >= least_height(grey.shape) for part in label_components(away)[1]
    ):
        return None
    near = np.abs(grey - level) <= reach
    near[mark.y0 : mark.y1, mark.x0 : mark.x1] |= pixels
    joined, _ = label_components(near)
    own = np.unique(joined[mark.y0 : mark.y1, mark.x0 : mark.x1][pixels])
    grown = np.isin(joined, own)
    area = int(grown.sum())
    reached = np.unique(labels[dilate(grown)])
    if area <= mark.area or any(np.isin(c.labels, reached).any() for c in inside):
        return None
    rows, cols = np.flatnonzero(grown.any(axis=1)), np.flatnonzero(grown.any(axis=0))
    box = int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1
    return Component(mark.labels, *box, area), grown[box[1] : box[3], box[0] : box[2]]


def _in_middle(mark: Component, pixels: np.ndarray, shape: tuple[int, int]) -> bool:
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
    solid = dilate(pixels)  # a pixel's gap in the table's ragged edge: not its end
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
    corner, with it, a triangle (:func:`is_convex`) along :data:`TABLE_EDGE` of both sides or more. The
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
    return bool(legs) and is_convex(corner)


def is_table_sliver(mark: Component, shape: tuple[int, int]) -> bool:
    """Whether ``mark`` may be a sliver of table along a side of a picture of ``shape``: no thicker than
    :data:`TABLE_SLIVER` of its shorter side, lying along a side it touches (a margin line crossing
    the page touches the top and the bottom)."""
    if min(mark.width, mark.height) > max(TABLE_SLIVER * min(shape), 2):  # 2 pixels: a small sheet's, read alone
        return False
    if mark.width <= mark.height:
        return mark.x0 == 0 or mark.x1 == shape[1]
    return mark.y0 == 0 or mark.y1 == shape[0]


def _in_corner(mark: Component, shape: tuple[int, int]) -> bool:
    """Whether ``mark`` reaches a corner of a picture of ``shape``: two of its sides that meet."""
    return (mark.x0 == 0 or mark.x1 == shape[1]) and (mark.y0 == 0 or mark.y1 == shape[0])


def _narrowing(depth: np.ndarray) -> bool:
    """Whether a mark's depth from the picture's side, along the stretch where it touches the side,
    falls to under half its deepest at an end of it (a triangle), rather than staying about as deep
    (a straight bar)."""
    return depth.size > 0 and min(depth[0], depth[-1]) < 0.5 * depth.max()


def convex_hull(pixels: np.ndarray) -> list[tuple[int, int]]:
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


def is_convex(pixels: np.ndarray, share: float = TABLE_CONVEX, hull: list[tuple[int, int]] | None = None) -> bool:
    """Whether a mark (its pixels in its box) fills ``share`` of its convex hull or more (by default
    :data:`TABLE_CONVEX`: a triangle or a band of the table does, any digit but a straight bar does
    not, its strokes bend or cross, or enclose a loop). The hull is that of the pixels' centres
    (:func:`convex_hull`), and the pixels it holds are counted as Pick's theorem counts a lattice polygon's
    points (its area, half its perimeter, and one), so that a thin sliver, a staircase of pixels, counts
    as the triangle it is. ``hull``: the pixels' hull when it is known."""
    hull = convex_hull(pixels) if hull is None else hull
    if len(hull) < 3:
        return True  # one row or one column of pixels: a straight bar
    edges = list(zip(hull, hull[1:] + hull[:1], strict=True))
    area = 0.5 * abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in edges))
    perimeter = sum(float(np.hypot(x1 - x0, y1 - y0)) for (x0, y0), (x1, y1) in edges)
    return bool(pixels.sum() >= share * (area + perimeter / 2 + 1))
