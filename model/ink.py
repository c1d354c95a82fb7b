"""Step 3 of :mod:`model.preprocess`: a grey picture -> its ink (:func:`ink_map`), the paper subtracted, the
ink's polarity read and the paper's grain dropped; and the ink -> its strokes as components
(:func:`label_strokes`), hairlines and their faint joins kept. Numpy only.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .components import Component, clear_of_edge, label_components
from .paper import MIN_CONTRAST, NOISE_SIGMAS, fit_background, otsu
from .rendering import MIN_DIGIT_CONTRAST, stroke_width
from .shadows import (
    SHADOW_EDGE,
    SHADOW_SHARE,
    SHADOW_SIGMAS,
    edge_share,
    lit_region,
    measure_grain,
    touches_edge,
    without_shadow,
)

#: Strokes thinner than this at working size (as :func:`stroke_width` measures: 2 for any line one or
#: two pixels wide, 3 for three) are hairlines, thresholded with hysteresis down to this share of the
#: ink threshold (:func:`_hysteresis`); thicker strokes keep the faint pixels down to that share that
#: join them (:func:`_joins`). Lower joins more hairlines (a 2 px join on a 600 px page keeps a quarter
#: of its contrast or less at the working size, depending on where it falls on the reduction grid), but
#: also typed digits of a number whose anti-aliased edges nearly touch (at 0.45 of the threshold,
#: "34989" in a font of the benchmark was read "3498").
HAIRLINE = 2.5
HYSTERESIS = 0.5


class Levels(NamedTuple):
    """One picture's ink levels (:func:`ink_map`), in grey levels beyond the paper."""

    threshold: float  #: above it a pixel is ink
    low: float  #: above it a pixel touching ink is ink too (:func:`_hysteresis`, :func:`_joins`)
    least: float  #: a digit's typical ink stands out at least this much (:func:`model.rendering.render_digit`)
    faint: bool  #: faint writing (a pencil pressed lightly): followed down to the paper's noise

    @property
    def noise(self) -> float:
        """Below half the ink threshold is paper grain."""
        return 0.5 * self.threshold


def ink_map(grey: np.ndarray, photo: bool = False, sheet: bool = False) -> tuple[np.ndarray, Levels]:
    """Grey image -> ``(ink, levels)``: ink strength >= 0 (0 = paper) whatever the polarity, and its
    :class:`Levels`. The threshold is Otsu's, but never within the paper's noise or ``MIN_CONTRAST``.

    In a ``photo``, a shadow cast across the paper is taken out (:func:`without_shadow`; on a ``sheet``
    read alone, the table round it cut away, also where only writing crossing its edge lies in it), and
    so is a table the surface was fitted to, the paper running off the picture light "ink" beside it.

    Writing whose Otsu split lies under ``MIN_CONTRAST`` (a pencil pressed lightly; a thin line keeps
    a fraction of its contrast once a photo is reduced to the working size) is faint: its strokes
    break where they dip under the threshold, and a whole digit's ink stays under
    ``MIN_DIGIT_CONTRAST``. So the strokes are followed down to the paper's noise
    (:data:`NOISE_SIGMAS`; never under half ``MIN_CONTRAST``), and a digit's ink need only stand out
    that far: strokes still start from ink above the threshold.
    """
    residual, sigma = fit_background(grey)
    surface = grey - residual
    ink, floor, dark = _polarised(residual, sigma, sheet)
    # The paper may not be one smooth surface where "ink" covers much of the picture and a good part
    # of its edge (a shadow comes from beyond it), or where the surface fits it far worse than
    # neighbouring pixels differ: fitted between a shadow's level and the paper's, so that nothing
    # stands out from its noise, or with a shadow's darkness as ink.
    beyond = ink > floor
    broad = beyond.mean() > SHADOW_SHARE and edge_share(beyond) > SHADOW_EDGE
    fit = not photo or sigma <= SHADOW_SIGMAS or sigma <= SHADOW_SIGMAS * measure_grain(grey)  # the surface's noise
    # No writing covers so much light "ink": paper running off the picture beside a table the surface was
    # fitted to? (A sheet lying wholly in the photo, the table fitted well, is read alone:
    # :func:`model.sheets.find_sheet`.)
    light = not dark and beyond.mean() > SHADOW_SHARE and (touches_edge(beyond) or not fit)
    missed = photo and (broad or light or not fit)
    if missed and (dark or not beyond.any() or lit_region(beyond)):  # a shadow? a table?
        ink, floor, sigma = without_shadow(grey, surface, (ink, floor, sigma), sheet, paper_as_ink=not dark)
    elif missed and light:  # light strokes on dark paper, or paper beside a table fitted as the paper
        ink, floor, sigma = without_shadow(grey, surface, (ink, floor, sigma), sheet, paper_as_ink=True, shadow=False)
    split = otsu(ink)
    threshold = max(floor, split)
    if split >= MIN_CONTRAST:
        return ink, Levels(threshold, max(HYSTERESIS * threshold, MIN_CONTRAST), MIN_DIGIT_CONTRAST, False)
    low = max(NOISE_SIGMAS * sigma, MIN_CONTRAST / 2)
    return ink, Levels(threshold, low, min(low, MIN_DIGIT_CONTRAST), True)


def _polarised(residual: np.ndarray, sigma: float, sheet: bool = False) -> tuple[np.ndarray, float, bool]:
    """The paper's residual -> (ink strength >= 0, in place; the noise floor; whether the ink is darker
    than the paper): the polarity is whichever side of the paper more of the pixels lie beyond the floor;
    on a ``sheet`` read alone, of the marks clear of its edge (:func:`_clear_mass`) if any: what lies over
    the sheet's edge, a white phone, is no writing, and the writing keeps clear of the edge."""
    floor = max(NOISE_SIGMAS * sigma, MIN_CONTRAST)
    light, dark = (_clear_mass(residual - floor), _clear_mass(-residual - floor)) if sheet else (0.0, 0.0)
    if not (light or dark):
        beyond = np.subtract(residual, floor)  # how far each pixel lies beyond the noise, on either side
        light = float(np.maximum(beyond, 0, out=beyond).sum())
        beyond = np.add(residual, floor, out=beyond)
        dark = -float(np.minimum(beyond, 0, out=beyond).sum())
    ink = residual
    if dark > light:
        np.negative(ink, out=ink)
    np.maximum(ink, 0, out=ink)
    return ink, floor, dark > light


def _clear_mass(beyond: np.ndarray) -> float:
    """The sum of ``beyond`` (how far pixels lie beyond the noise on one side of the paper) over its
    positive marks clear of the picture's edge."""
    labels, marks = label_components(beyond > 0)
    clear = [label for mark in marks if clear_of_edge(mark, beyond.shape) for label in mark.labels]
    return float(beyond[np.isin(labels, clear)].sum()) if clear else 0.0


def _hysteresis(ink: np.ndarray, strong: np.ndarray, low: float) -> np.ndarray:
    """Hysteresis thresholding (as in Canny's edge detector): the pixels above ``low`` that are
    8-connected to a ``strong`` one. A hairline reduced to the working size keeps a fifth of its
    contrast or less, and less still where it crosses a reduction box's corner: there it falls under
    the ink threshold and breaks, while the faint pixels along it still join its pieces."""
    labels, components = label_components(ink > low)
    keep = np.zeros(len(components) + 1, dtype=bool)
    keep[np.unique(labels[strong])] = True
    keep[0] = False
    return keep[labels]


def _joins(ink: np.ndarray, strokes: np.ndarray, low: float) -> np.ndarray | None:
    """The strokes (``strokes``: their label image) and the pixels above ``low`` that join two or more
    of them: the hairline joins of a cursive letter (an ``m`` whose joins fall under the ink threshold is
    three strokes, read "111"); ``None`` when no faint pixels join strokes. Faint pixels around a lone
    stroke (its anti-aliased fringe) are left out, so its box, and the digit's size, stay as the
    threshold draws them."""
    faint, _ = label_components(ink > low)
    strong = strokes > 0
    base = int(strokes.max()) + 1
    owners = np.unique(faint[strong].astype(np.int64) * base + strokes[strong]) // base  # per (faint, stroke) pair
    joined = owners[1:][owners[1:] == owners[:-1]]  # faint components holding two or more strokes
    return strong | np.isin(faint, joined) if joined.size else None


def label_strokes(ink: np.ndarray, threshold: float, low: float) -> tuple[np.ndarray, list[Component]]:
    """The strokes as components (:func:`label_components`): ink above ``threshold``; where the strokes
    are hairlines, with the pixels above ``low`` that touch them (:func:`_hysteresis`), elsewhere with
    those that join two of them (:func:`_joins`)."""
    mask = ink > threshold
    if stroke_width(mask) < HAIRLINE:
        return label_components(_hysteresis(ink, mask, low))
    labels, components = label_components(mask)
    if len(components) > 1 and (joined := _joins(ink, labels, low)) is not None:  # one stroke: no joins
        return label_components(joined)
    return labels, components
