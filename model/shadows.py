"""A shadow cast across a photo's writing, for step 3 of :mod:`model.preprocess`: where the paper's fitted
surface cannot follow its sharp edge, the shadow is taken out with the paper's morphological closing
(:func:`without_shadow`). The second look that divides a straight shadow's edge out is
:mod:`model.shadow_edge`. Numpy only.
"""

from __future__ import annotations

import numpy as np

from .components import Component, clear_of_edge, component_pixels, label_components, least_height
from .paper import MIN_CONTRAST, NOISE_SIGMAS, fast_median, mad_sigma, otsu
from .rendering import dilate, stroke_width

#: A shadow cast across a photo (:func:`without_shadow`): the paper's background is the closing by a
#: window this share of the picture's shorter side (at least 9 px), wider than a digit's strokes; the
#: surface must miss it over this share of the picture, and the shadow cover as much; a lit region
#: is "light ink" this large when the paper was fitted to a shadow covering most of the picture; the
#: surface's noise must be this many times the neighbouring pixels' differences for a missed fit, or
#: "ink" cover this share of the picture's edge.
SHADOW_WINDOW = 0.1
SHADOW_SHARE = 0.08
SHADOW_LIT = 0.35
SHADOW_SIGMAS = 4.0
SHADOW_EDGE = 0.05
#: ... and a lit region touches the picture's edge along this share of its box's side or more (the light
#: comes from beyond the picture; a sheet lying on a table touches it, if at all, where the table's
#: grain is as light).
SHADOW_LIT_SIDE = 0.35


def measure_grain(grey: np.ndarray) -> float:
    """The paper's noise from the differences of neighbouring pixels (a shadow's edge and the strokes
    are few of them), as a standard deviation (at least the MAD's floor)."""
    return mad_sigma((grey[:, 1:] - grey[:, :-1]).ravel()) / 2**0.5


def _rank(values: np.ndarray, size: int, pick: np.ufunc) -> np.ndarray:
    """``pick`` (``np.minimum``: erosion, ``np.maximum``: dilation) over every ``size`` x ``size``
    window, the edges repeated. Separable, each axis in about log2(size) whole-array passes: the
    extreme over a window is that of two overlapping windows half as long or more."""
    out = values
    for axis in (1, 0):
        pad = [(0, 0), (0, 0)]
        pad[axis] = (size // 2, size - 1 - size // 2)
        run = np.moveaxis(np.pad(out, pad, mode="edge"), axis, -1)
        span = 1
        while 2 * span <= size:
            run = pick(run[..., :-span], run[..., span:])
            span *= 2
        if span < size:
            run = pick(run[..., : span - size], run[..., size - span :])
        out = np.moveaxis(run, -1, axis)
    return out


def _closing(values: np.ndarray, size: int) -> np.ndarray:
    """Morphological closing: what is darker than its surroundings and narrower than ``size`` filled in."""
    return _rank(_rank(values, size, np.maximum), size, np.minimum)


def _shadow_window(shape: tuple[int, int]) -> int:
    """The side of the window wider than a digit's strokes (:data:`SHADOW_WINDOW`; odd, at least 9 px)."""
    return max(9, round(SHADOW_WINDOW * min(shape)) | 1)


def edge_share(mask: np.ndarray) -> float:
    """The share of the picture's edge pixels in ``mask``."""
    edge = np.concatenate([mask[0], mask[-1], mask[1:-1, 0], mask[1:-1, -1]])
    return float(edge.mean())


def touches_edge(mask: np.ndarray) -> bool:
    return bool(mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any())


def lit_region(light_ink: np.ndarray) -> bool:
    """Whether "light ink" is a lit region, not writing: one mark reaching the picture's edge and
    covering :data:`SHADOW_LIT` of it (the paper was fitted to the shadow covering most of it), or
    broader than strokes are (its stroke width half :func:`_shadow_window` or more: a band of light
    beside a phone's shadow)."""
    labels, parts = label_components(light_ink)
    if not parts:
        return False
    big = max(parts, key=lambda part: part.area)
    if _along_edge(big, labels) < SHADOW_LIT_SIDE:
        return False  # light from beyond the picture lights a stretch of its edge: a sheet on a table does not
    broad = stroke_width(component_pixels(big, labels)) >= _shadow_window(light_ink.shape) / 2
    return big.area >= SHADOW_LIT * light_ink.size or broad


def _along_edge(part: Component, labels: np.ndarray) -> float:
    """The longest stretch of the picture's edge ``part`` touches, as a share of its box's side there
    (0: it touches none)."""
    height, width = labels.shape
    pixels = component_pixels(part, labels)
    sides = (
        (part.y0 == 0, pixels[0]),
        (part.y1 == height, pixels[-1]),
        (part.x0 == 0, pixels[:, 0]),
        (part.x1 == width, pixels[:, -1]),
    )
    return max((float(side.mean()) for touches, side in sides if touches), default=0.0)


def without_shadow(
    grey: np.ndarray,
    surface: np.ndarray,
    fitted: tuple[np.ndarray, float, float],
    sheet: bool = False,
    paper_as_ink: bool = False,
    shadow: bool = True,
) -> tuple[np.ndarray, float, float]:
    """(ink, floor, sigma) with a shadow cast across the writing taken out; ``fitted`` as they are when
    there is none.

    The quadratic ``surface`` cannot bend round a shadow's sharp edge: the shadow was ink, joining the
    digits in it into one mark, or its edge read as a 1. Here the paper's background is the picture's
    morphological closing (its dark strokes, narrower than :data:`SHADOW_WINDOW` of the picture, filled
    in), which follows a sharp edge as well as a soft one, and the ink is the strokes' darkness
    relative to the paper where they lie (a shadow dims the ink with the paper). Taken when the surface
    misses the background over :data:`SHADOW_SHARE` of the picture (lighting gradients are the
    surface's), the background has two levels (Otsu) ``MIN_CONTRAST`` apart or more, and the darker
    part reaches the picture's edge, covers :data:`SHADOW_SHARE` of it and holds writing a digit tall,
    not touching the edge (a table beyond a sheet holds none), or lies across the paper (:func:`_across`:
    a pen's shadow beside the number), or, on a ``sheet`` read alone (no table left in it: the spirals of
    a notebook and a hand's fingers cross a table's or a shadow's edge too), has writing crossing its edge
    (:func:`_crossed`: the top of a 7 in the shadow, its stem in the light); not with ``shadow`` false.

    With nothing written in the darker part, it is a table: left to :func:`model.tables.find_table` as ``fitted`` reads
    it, unless ``paper_as_ink`` (the surface was fitted to the table, the paper light "ink" beside it) and
    the lighter part, paper, covers :data:`SHADOW_LIT` of the picture and runs off it (a notebook page
    photographed at an angle, the table along its far side and down the others: its writing was lost in
    the paper's "ink"); then the ink is the writing's darkness relative to the paper, none in the table
    nor in its tips along the picture's edge, narrower than the window (the closing filled them as paper).
    """
    size = _shadow_window(grey.shape)
    background = _closing(grey, size)
    if float((np.abs(surface - background) > MIN_CONTRAST).mean()) < SHADOW_SHARE:
        return fitted  # the surface explains the background: no shadow
    shade = background < otsu(background)
    if shade.all() or not touches_edge(shade):  # a cast shadow comes from beyond the picture
        return fitted
    lit = fast_median(background[~shade])
    if lit - fast_median(background[shade]) < MIN_CONTRAST:
        return fitted
    region = _closing(shade.astype(np.uint8), size).astype(bool)  # the writing in it filled in
    if not touches_edge(region) or region.mean() < SHADOW_SHARE:
        return fitted
    residual = (grey - background).astype(np.float32)
    residual -= fast_median(residual.ravel())
    sigma = mad_sigma(residual.ravel())
    floor = max(NOISE_SIGMAS * sigma, MIN_CONTRAST)
    ink = np.maximum(-residual, 0)
    inside = (ink > floor) & _rank(region.astype(np.uint8), size, np.minimum).astype(bool)
    _, marks = label_components(inside)
    least = least_height(grey.shape)
    held = any(mark.height >= least and clear_of_edge(mark, grey.shape) for mark in marks)
    if held or _across(region) or (sheet and _crossed(ink > floor, region, least)):
        if not shadow:
            return fitted
    else:  # nothing written in the darker part: a table, not a shadow
        if not paper_as_ink or (~region).mean() < SHADOW_LIT or edge_share(~region) < SHADOW_EDGE:
            return fitted  # the surface fitted to the paper, or a sheet lying in the photo: read as it is
        table = dilate(region)  # and the page's edge along it
        labels, marks = label_components((ink > floor) & ~table)
        joined = np.unique(labels[dilate(table)])  # the marks touching it
        tips = [label for mark in marks if not clear_of_edge(mark, ink.shape) for label in mark.labels]
        ink[table | np.isin(labels, np.intersect1d(joined[joined > 0], tips))] = 0.0
    return ink * (lit / np.maximum(background, 1.0)), floor, sigma


def _crossed(ink: np.ndarray, region: np.ndarray, least: float) -> bool:
    """Whether writing crosses the edge of a darker ``region``: a mark of ``ink`` at least ``least`` tall,
    clear of the picture's edge, with pixels 2 or more in from the region's edge on both sides of it (a
    digit goes on across a shadow's edge; a sheet's edge lies along a table's, and no writing goes on
    into the table)."""
    labels, marks = label_components(ink)
    shade = _rank(region.astype(np.uint8), 5, np.minimum).astype(bool)
    light = _rank((~region).astype(np.uint8), 5, np.minimum).astype(bool)
    for mark in marks:
        if mark.height >= least and clear_of_edge(mark, ink.shape):
            pixels, box = component_pixels(mark, labels), (slice(mark.y0, mark.y1), slice(mark.x0, mark.x1))
            if (pixels & shade[box]).any() and (pixels & light[box]).any():
                return True
    return False


def _across(region: np.ndarray) -> bool:
    """Whether a darker ``region`` lies across the picture, paper lit on both sides of it, each at least
    :data:`SHADOW_SHARE` of the picture: a pen's or a pole's shadow (a table shows beyond the sheet,
    round the lit paper, not through it)."""
    _, parts = label_components(~region)
    return sum(part.area >= SHADOW_SHARE * region.size for part in parts) >= 2
