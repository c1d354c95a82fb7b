"""The printed lines of ruled or squared paper, divided out of the grey picture before its ink is looked for
(:func:`without_printed_lines`, step 3 of :mod:`model.preprocess`), and the straight lines a notebook's
margin line and a form's boxes are measured against. Numpy only.
"""

from __future__ import annotations

import functools

import numpy as np

#: The printed lines of ruled or squared paper (:func:`without_printed_lines`): a thin valley darker than
#: the paper either side of it by more than this many grey levels (fainter lines never become ink) ...
RULE_DEPTH = 6.0
#: ... along at least this share of the picture's width (or height; writing along a line hides it there:
#: a digit half the page wide) ...
LINE_SPAN = 0.5
#: ... reaching to within this share of the width from either edge (a page photographed a little turned
#: has its corners cut) ...
RULE_EDGE = 0.05
#: ... in a band no thicker than this share of its longer side (the lines are thin) ...
RULE_THICKNESS = 0.03
#: ... straight, or tilted by up to about 2.3 degrees (a photo of a page): the slopes tried, in rows per
#: column, the straightest first.
RULE_SLOPES = (0.0, 0.01, -0.01, 0.02, -0.02, 0.03, -0.03, 0.04, -0.04)
#: ... and at least this many side by side: a digit filling the picture has two sides from edge to edge.
RULE_COUNT = 3
#: A notebook's margin line and a printed box's sides: ink along at least this share of the picture's
#: height (of the box's sides).
RULE_SPAN = 0.7


def _lines(mask: np.ndarray) -> tuple[float, list[tuple[int, int]]]:
    """Lines from edge to edge of ``mask`` along its rows: the slope of :data:`RULE_SLOPES` they run at
    (in rows per column) and their bands of rows ``(r0, r1)`` in ``mask`` sheared to it (:func:`_shear`),
    ``r1`` exclusive; no bands where there are none.

    A band is rows holding ink over :data:`LINE_SPAN` of the width, a row counting the ink of the rows
    next to it (for a line between two slopes tried), no thicker than :data:`RULE_THICKNESS`. Along its
    own slope a line fills one row; at other slopes it is a band too, spread over its rows: the slope
    whose bands' fullest rows hold the most ink is the lines'. Row counts come from
    :func:`_sheared_row_counts` (shearing the whole mask for each slope costs 10 times as much)."""
    height, width = mask.shape
    spreads = _sheared_row_counts(near_rows(mask, 1))
    ink: np.ndarray | None = None
    best: tuple[float, list[tuple[int, int]], float] = (0.0, [], 0.0)
    for k in np.flatnonzero((spreads >= LINE_SPAN * width).any(axis=1)):
        full = np.flatnonzero(spreads[k] >= LINE_SPAN * width)
        bands = [
            (int(run[0]), int(run[-1]) + 1)
            for run in np.split(full, np.flatnonzero(np.diff(full) > 1) + 1)
            if run.size - 2 <= RULE_THICKNESS * max(height, width)  # the line and a row either side
        ]
        if bands:
            ink = _sheared_row_counts(mask) if ink is None else ink
            fill = sum(int(ink[k, r0:r1].max()) for r0, r1 in bands)
            if fill > best[2]:
                best = (RULE_SLOPES[k], bands, fill)
    return best[0], best[1]


def _sheared_row_counts(mask: np.ndarray) -> np.ndarray:
    """``(len(RULE_SLOPES), height)``: per slope, the ink in each row of ``mask`` sheared to it
    (:func:`_shear`, rows wrapping round). A slope shifts whole runs of columns by the same number of
    rows: each run's row sums (a difference of cumulative sums along the rows) are gathered shifted
    and added per slope, a few dozen columns of sums in all instead of a histogram of every ink pixel
    per slope."""
    height, width = mask.shape
    cumulative = np.zeros((height, width + 1), dtype=np.int32)
    np.cumsum(mask, axis=1, out=cumulative[:, 1:])
    starts, ends, rows, firsts = _shift_runs(height, width)
    sums = cumulative[:, ends] - cumulative[:, starts]  # (height, runs): each run's ink per row
    shifted = sums[rows, np.arange(rows.shape[1])]  # each run's sums moved to the sheared rows
    return np.add.reduceat(shifted, firsts, axis=1).T.astype(np.int64)


@functools.lru_cache(maxsize=16)
def _shift_runs(height: int, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The runs of columns that :func:`_shear` shifts by the same number of rows, for every slope of
    :data:`RULE_SLOPES` in turn: their first and end columns, ``(height, runs)`` the row each sheared
    row takes its sum from, and where each slope's runs begin."""
    centred = np.arange(width) - width / 2
    starts, ends, shifts, firsts = [], [], [], []
    for slope in RULE_SLOPES:
        shift = np.round(slope * centred).astype(np.int64)
        first = np.concatenate([[0], np.flatnonzero(np.diff(shift)) + 1])
        firsts.append(len(starts))
        starts += first.tolist()
        ends += [*first[1:].tolist(), width]
        shifts += shift[first].tolist()
    rows = (np.arange(height)[:, None] + np.array(shifts)[None, :]) % height
    arrays = (np.array(starts), np.array(ends), rows, np.array(firsts))
    for array in arrays:
        array.setflags(write=False)  # shared by every request of that size
    return arrays


def near_rows(mask: np.ndarray, reach: int) -> np.ndarray:
    """Pixels within ``reach`` rows of ink in their column (a vertical dilation of ``mask``)."""
    near = mask.copy()
    for step in range(1, reach + 1):
        near[step:] |= mask[:-step]
        near[:-step] |= mask[step:]
    return near


def _shear(image: np.ndarray, slope: float) -> tuple[np.ndarray, np.ndarray]:
    """``image`` with each column shifted up by ``slope`` rows per column (wrapping round), so that a
    line of that slope runs along a row; and the row index that did it (``np.put_along_axis`` undoes it)."""
    height, width = image.shape
    shift = np.round(slope * (np.arange(width) - width / 2)).astype(np.int64)
    index = (np.arange(height)[:, None] + shift[None, :]) % height
    return np.take_along_axis(image, index, axis=0), index


def without_printed_lines(grey: np.ndarray) -> np.ndarray:
    """``grey`` (working size) with the printed lines of ruled or squared paper divided out: thin lines
    from edge to edge darker than the rows either side of them (:func:`_lines` on their valleys, a
    little tilted or not), where at least :data:`RULE_COUNT` run side by side (and then a ruled page's
    margin line across them too). A printed line darkens the paper by a share of its light, and so does
    the ink crossing it: each of the line's rows is divided by the share it keeps (the median along it
    of its light against the paper's either side), so the paper under it is paper again and a stroke
    along it or across it as dark as elsewhere. Rows, then columns (a grid's crossings are divided
    twice). Unchanged where there are no such lines."""
    found = []
    for along in (False, True):
        if (valleys := _valleys(grey.T if along else grey)) is not None:
            slope, bands = _lines(valleys)
            if bands:
                found.append((along, slope, bands))
    if not any(len(bands) >= RULE_COUNT for _, _, bands in found):
        return grey
    out = grey.astype(np.float32, copy=True)
    for along, slope, bands in found:
        view = out.T if along else out
        sheared, index = _shear(view, slope)
        starts, ends = np.array(bands).T
        rows = np.concatenate([np.arange(r0, r1) for r0, r1 in bands])
        paper = np.maximum(sheared[np.maximum(starts - 1, 0)], sheared[np.minimum(ends, len(sheared) - 1)])
        paper = np.maximum(paper[np.repeat(np.arange(len(bands)), ends - starts)], 1.0)
        kept = np.median(sheared[rows] / paper, axis=1, keepdims=True)
        # ... and no lighter than the paper either side (where a grid's lines cross: divided twice)
        sheared[rows] = np.minimum(sheared[rows] / np.clip(kept, 0.2, 1.0), paper)
        np.put_along_axis(view, index, sheared, axis=0)
    return out


def _valleys(grey: np.ndarray) -> np.ndarray | None:
    """The darkest pixel across each thin dark line along the rows: darker than the pixels next to it
    above and below, and by over :data:`RULE_DEPTH` than those one row away or two (a line two pixels
    thick); ``None`` where none is near both ends of the rows. One row per line keeps the lines of a
    dense grid apart."""
    mask = np.zeros(grey.shape, dtype=bool)
    for reach in (1, 2):
        depth = np.minimum(grey[: -2 * reach], grey[2 * reach :]) - grey[reach:-reach]
        mask[reach:-reach] |= depth > RULE_DEPTH
    mask[1:-1] &= (grey[1:-1] < grey[:-2]) & (grey[1:-1] <= grey[2:])
    edge = max(2, round(RULE_EDGE * mask.shape[1]))
    if not (mask[:, :edge].any() and mask[:, -edge:].any()):
        return None
    return mask
