"""A shadow's straight edge across a photo, divided out: the preprocessing's second look.

A hand's or a wall's shadow falls across a sheet lying on a table and the table alike. The preprocessing
(:mod:`model.preprocess`, step 3) takes out a shadow on paper filling the picture, and one whose edge its
sheet-reading follows; a soft or slanting edge across a sheet and the table still leaves the lit part
read alone, or the shadow read as ink, and the picture refused. Shadows multiply what they fall on, so in
log grey levels the shadow is a step added along a line: :func:`without_shadow_edge` finds the line,
measures the step's profile (soft or sharp) and subtracts it, leaving the sheet and the table as lit as
beyond the shadow.

It is a second look only (:func:`model.preprocess.preprocess` with ``shadow_edge=True``), taken when the
first is refused or unsure, or finds one mark (which may be the shadow): applied to every photo it read
the shadowed sets far better, but a stroke's or another shadow's edge on paper was now and then taken
for one, and the correction left a hairline that changed answers the first look had right
(docs/model.md, step 3). Numpy and Pillow only.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from PIL import Image

#: The line is looked for every EDGE_ANGLES degrees on the picture reduced to a quarter: the log grey
#: level drops by EDGE_STEP or more (11 % darker) across 2 * EDGE_REACH of its pixels along EDGE_ALONG of
#: the line's length, and the lit side holds two surfaces (:func:`_two_surfaces`: the sheet and the
#: table, EDGE_SPREAD apart in log grey level, darkened alike; one surface's edge, a sheet's against the
#: table or the table's grain, is no shadow's); failing any such line, each side one surface within
#: EDGE_SPREAD (:func:`_paper_alone`: paper filling the picture, where a sharp shadow's shaded part was
#: the first look's lone mark). Its profile is measured EDGE_RAMP working pixels either side of it (a soft
#: edge's).
EDGE_ANGLES = 4
EDGE_STEP = 0.12
EDGE_REACH = 2
EDGE_ALONG = 0.7
EDGE_SPREAD = 0.3
EDGE_RAMP = 16
#: A shadow leaves paper at least e^-EDGE_DEEPEST (37 %) as light as beyond it, the step in log grey
#: level being at most EDGE_DEEPEST: a deeper step along a line is a sheet's edge against a dark table
#: (docs/model.md, step 3: the benchmark's shadows step 0.2-0.9; sheets' edges on a wooden table 1.0-1.6).
EDGE_DEEPEST = 1.0
#: The division's residue: the profile is the rows' median, so where the edge is sharper in some rows (a
#: sheet's edge under it, the table beyond it) a hairline is left along it. A mark of the divided picture
#: with EDGE_RESIDUE_SHARE of its pixels within EDGE_RESIDUE working pixels of the line lies along it:
#: what is left of the edge, not a stroke (a stroke crossing the edge leaves it).
EDGE_RESIDUE = 3
EDGE_RESIDUE_SHARE = 0.9


class Divided(NamedTuple):
    """A photo with a shadow's edge divided out (:func:`without_shadow_edge`)."""

    #: The working grey image (float32, 0-255) as lit beyond the shadow.
    grey: np.ndarray
    #: The pixels within :data:`EDGE_RESIDUE` of the edge (boolean, the same shape).
    along: np.ndarray


def without_shadow_edge(grey: np.ndarray) -> Divided | None:
    """A photo's working grey image (2-d, 0-255) with a shadow's straight edge across it divided out,
    and the pixels along the edge (:class:`Divided`), or ``None`` when it has none. The line is found
    coarsely on the picture reduced to a quarter (:func:`_edge_line`), fitted to where each row of the
    picture, turned so that the line stands upright, crosses half its step (:func:`_edge_points`, total
    least squares without the rows a stroke or the sheet's edge pulls off it); its profile is the median
    across the rows of the picture turned upright along the fitted line."""
    logs = np.log1p(grey.astype(np.float64))
    found = _edge_line(logs)
    if found is None:
        return None
    degrees, column, dark_right = found
    turned, inside = _turn(logs, degrees)
    points = _edge_points(turned, inside, column, dark_right)
    if len(points) < EDGE_RAMP:
        return None
    normal, offset = _fit_line(turned_back_points(points, degrees, turned.shape, logs.shape))
    degrees = float(np.degrees(np.arctan2(normal[1], normal[0])))
    turned, inside = _turn(logs, degrees)  # the line upright at x = at (continuous coordinates)
    height, width = logs.shape
    at = turned.shape[1] / 2 + offset - width / 2 * normal[0] - height / 2 * normal[1]
    first = round(at) - EDGE_RAMP
    if first < 0 or first + 2 * EDGE_RAMP >= turned.shape[1]:
        return None
    rows = inside[:, first : first + 2 * EDGE_RAMP + 1].all(axis=1)
    band = turned[rows, first : first + 2 * EDGE_RAMP + 1]
    if len(band) < EDGE_RAMP:
        return None
    dark_right = float(np.median(band[:, -1] - band[:, 0])) < 0
    profile = np.minimum(np.median(band - band[:, [0 if dark_right else -1]], axis=0), 0)
    # darker only going into the shadow: a stroke or the sheet's edge in a few rows is no part of it
    profile = np.minimum.accumulate(profile) if dark_right else np.minimum.accumulate(profile[::-1])[::-1]
    ys, xs = np.mgrid[0:height, 0:width]
    distance = (xs + 0.5) * normal[0] + (ys + 0.5) * normal[1] - offset
    shade = np.interp(distance, first + 0.5 - at + np.arange(2 * EDGE_RAMP + 1), profile)
    lit = np.minimum(np.expm1(logs - shade), 255).astype(np.float32)
    return Divided(lit, np.abs(distance) <= EDGE_RESIDUE)


def _turn(values: np.ndarray, degrees: float) -> tuple[np.ndarray, np.ndarray]:
    """``values`` turned ``degrees`` counter-clockwise about their centre, bilinear, grown to hold them all
    (``Image.rotate(expand=True)``), and which pixels lie wholly inside the picture."""
    return _lowered(np.asarray(_raised(values).rotate(degrees, Image.Resampling.BILINEAR, expand=True)))


def _raised(values: np.ndarray) -> Image.Image:
    """``values`` (log grey levels, 0-5.6) raised by 1000, as a float picture to turn: the corners, filled
    with 0 and their rims blended with it, fall under the rest (:func:`_lowered` takes 1000 off again)."""
    return Image.fromarray((values + 1000.0).astype(np.float32), mode="F")


def _lowered(turned: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A :func:`_raised` picture turned, as log grey levels again, and which of its pixels lie wholly inside
    the picture turned (any share of the corners' 0 takes a pixel far below)."""
    turned = turned - 1000.0
    return turned, turned > -1e-3


def _edge_line(logs: np.ndarray) -> tuple[float, int, bool] | None:
    """A shadow's edge in log grey levels ``logs``: (the turn that makes it upright, in degrees; its
    column in the picture so turned; whether the shadow lies right of it), or ``None``. Looked for on the
    picture reduced to a quarter, column by column of it turned every :data:`EDGE_ANGLES` degrees: the
    line along which most rows step down, with a sheet and the table on both sides of it
    (:func:`_two_surfaces`); else, with one surface on each (:func:`_paper_alone`: paper filling the
    picture; a sheet's edge against an even table is one too, and would be taken before a shadow's)."""
    height, width = logs.shape
    small = logs[: height // 4 * 4, : width // 4 * 4].reshape(height // 4, 4, width // 4, 4).mean(axis=(1, 3))
    reach = 2 * EDGE_REACH
    paper = float(np.percentile(small, 95))
    # Every turn at once: the pictures turned, stacked (padded with pixels outside the picture, which
    # no line counts), so that each array operation runs once for all of them.
    picture = _raised(small)
    turns = [np.asarray(picture.rotate(d, Image.Resampling.BILINEAR, expand=True)) for d in range(0, 180, EDGE_ANGLES)]
    stacked = np.zeros((len(turns), max(t.shape[0] for t in turns), max(t.shape[1] for t in turns)), np.float32)
    for turn, turned in enumerate(turns):
        stacked[turn, : turned.shape[0], : turned.shape[1]] = turned
    stacked, inside = _lowered(stacked)
    valid = inside[:, :, :-reach] & inside[:, :, reach:]
    counted = valid.sum(axis=1)
    short = counted < 0.75 * counted.max(axis=1, keepdims=True)  # a line across a corner: too short to tell
    drop = np.where(valid, stacked[:, :, :-reach] - stacked[:, :, reach:], 0.0)  # rising: exactly -drop
    stepping, shares = {}, {}
    for dark_right in (True, False):
        stepping[dark_right] = (drop if dark_right else -drop) > EDGE_STEP
        shares[dark_right] = stepping[dark_right].sum(axis=1) / np.maximum(counted, 1)
        shares[dark_right][short] = 0
    best: dict[bool, tuple[float, int, int, bool]] = {}  # by whether two surfaces are on the lit side
    along = (np.maximum(shares[True], shares[False]) >= EDGE_ALONG).any(axis=1)
    for turn in np.nonzero(along)[0]:  # the turns with a line stepping down along enough of its rows
        degrees, tall = int(turn) * EDGE_ANGLES, turns[turn].shape[0]
        left, right = stacked[turn, :tall, :-reach], stacked[turn, :tall, reach:]
        for dark_right in (True, False):
            steps, share = stepping[dark_right][turn, :tall], shares[dark_right][turn]
            # a two-surface edge found outranks every line stepping down in fewer rows
            for column in np.nonzero(share >= max(EDGE_ALONG, best[True][0] if True in best else 0))[0]:
                lit, dark = (left, right) if dark_right else (right, left)
                rows = steps[:, column]
                if not (
                    _edge_across(rows, valid[turn, :tall, column])
                    and _shadow_step(lit[rows, column] - dark[rows, column])
                ):
                    continue
                two = _two_surfaces(lit[:, column], dark[:, column], rows, paper)
                if (two or _paper_alone(lit[:, column], dark[:, column], rows)) and (
                    two not in best or share[column] > best[two][0]
                ):
                    best[two] = (float(share[column]), degrees, 4 * (column + EDGE_REACH) + 2, dark_right)
    found = best.get(True) or best.get(False)
    return None if found is None else found[1:]


def _two_surfaces(lit: np.ndarray, dark: np.ndarray, steps: np.ndarray, paper: float) -> bool:
    """Whether both sides of a shadow's edge hold two surfaces, the sheet and the table darkened alike
    (log grey levels ``lit`` and ``dark`` along it, a row each; ``steps``: the rows where it steps down):
    the lit side the sheet, as light as the picture's lightest (``paper``: its 95th percentile), and the
    table, :data:`EDGE_SPREAD` darker or more, each along a run of a seventh of the rows or longer (the
    strokes of a number crossing the line are short runs); the dark side as far apart. A sheet's edge has
    the table alone on one side; a shadow on paper filling the picture, paper alone."""
    least = steps.sum() / 7
    return bool(
        _longest_run(steps & (lit >= paper - EDGE_STEP)) >= least
        and _longest_run(steps & (lit <= paper - EDGE_SPREAD)) >= least
        and np.percentile(dark[steps], 90) - np.percentile(dark[steps], 10) >= EDGE_SPREAD
    )


def _paper_alone(lit: np.ndarray, dark: np.ndarray, steps: np.ndarray) -> bool:
    """Whether both sides of a shadow's edge hold one surface each (log grey levels ``lit`` and ``dark``
    along it; ``steps``: the rows where it steps down): paper filling the picture, lit and shaded, each
    within :data:`EDGE_SPREAD` along the edge (its middle 80 %)."""
    return all(np.percentile(side[steps], 90) - np.percentile(side[steps], 10) < EDGE_SPREAD for side in (lit, dark))


def _longest_run(flags: np.ndarray) -> int:
    """The length of the longest run of ``True`` in ``flags`` (1-d)."""
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    starts, ends = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]
    return int((ends - starts).max()) if len(starts) else 0


def _shadow_step(steps: np.ndarray) -> bool:
    """Whether the rows' ``steps`` down across a line (log grey levels) are a shadow's: about one (their
    middle 60 % within 0.75 of their median: a shadow darkens whatever it falls on by the same factor,
    where a line crossing a sheet's edge aslant steps from paper to table in some rows, less in the
    others) and no deeper than :data:`EDGE_DEEPEST` at their median (a page's edge against a dark table)."""
    median = float(np.median(steps))
    even = float(np.percentile(steps, 80) - np.percentile(steps, 20)) <= 0.75 * median
    return even and median <= EDGE_DEEPEST


def _edge_across(steps: np.ndarray, valid: np.ndarray) -> bool:
    """Whether a line stepping down in rows ``steps`` (of its ``valid`` rows, inside the picture) does so
    at both its ends, its first and last tenth: a shadow's edge comes from beyond the picture and leaves
    it, where a sheet's edge ends at its corners, the table beyond them."""
    rows = np.nonzero(valid)[0]
    end = max(1, len(rows) // 10)
    return bool(steps[rows[:end]].mean() >= 0.5 and steps[rows[-end:]].mean() >= 0.5)


def _edge_points(turned: np.ndarray, inside: np.ndarray, column: int, dark_right: bool) -> np.ndarray:
    """Where each row of ``turned`` (log grey levels, the shadow's edge upright near ``column``) that
    steps down by :data:`EDGE_STEP` within :data:`EDGE_RAMP` of it crosses half its step: (x, y) points,
    continuous coordinates of the picture turned."""
    first = column - EDGE_RAMP
    if first < 0 or column + EDGE_RAMP >= turned.shape[1]:
        return np.zeros((0, 2))
    rows = np.nonzero(inside[:, first : column + EDGE_RAMP + 1].all(axis=1))[0]
    band = turned[rows, first : column + EDGE_RAMP + 1]
    lit, dark = (band[:, :3], band[:, -3:]) if dark_right else (band[:, -3:], band[:, :3])
    lit, dark = lit.mean(axis=1), dark.mean(axis=1)
    half = (lit + dark) / 2
    past = (band < half[:, None]) if dark_right else (band >= half[:, None])
    k = np.argmax(past, axis=1)
    step = lit - dark
    keep = (step >= EDGE_STEP) & (k > 0)
    if not keep.any():
        return np.zeros((0, 2))
    # a shadow darkens the sheet and the table alike: a row whose step is not the shadow's alone crosses
    # the sheet's edge too (or a stroke), and its half-way point is elsewhere
    typical = float(np.median(step[keep]))
    keep &= np.abs(step - typical) <= 0.25 * typical
    rows, band, half, k = rows[keep], band[keep], half[keep], k[keep]
    before, after = band[np.arange(len(k)), k - 1], band[np.arange(len(k)), k]
    fraction = (before - half) / np.where(before == after, 1.0, before - after)
    return np.stack([first + k - 1 + fraction + 0.5, rows + 0.5], axis=1)


def turned_back_points(
    points: np.ndarray, degrees: float, turned_shape: tuple[int, int], shape: tuple[int, int]
) -> np.ndarray:
    """(x, y) points of a picture of ``shape`` turned ``degrees`` (``Image.rotate(expand=True)``,
    ``turned_shape``) -> the same points in the picture before (also :func:`model.preprocess`'s boxes)."""
    (turned_height, turned_width), (height, width) = turned_shape, shape
    cos, sin = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
    dx, dy = points[:, 0] - turned_width / 2, points[:, 1] - turned_height / 2
    return np.stack([width / 2 + cos * dx - sin * dy, height / 2 + sin * dx + cos * dy], axis=1)


def _fit_line(points: np.ndarray) -> tuple[np.ndarray, float]:
    """The straight line through ``points`` ((x, y) rows) by total least squares, fitted three times
    without the points over 2 pixels (or 2.5 median distances) off it: (its unit normal, offset), the
    line being the points p with p . normal = offset."""
    keep = np.ones(len(points), dtype=bool)
    for _ in range(3):
        centre = points[keep].mean(axis=0)
        normal = np.linalg.eigh(np.cov((points[keep] - centre).T))[1][:, 0]  # the least spread's direction
        offset = float(centre @ normal)
        off = np.abs(points @ normal - offset)
        keep = off <= max(2.0, 2.5 * float(np.median(off[keep])))
    return normal, offset
