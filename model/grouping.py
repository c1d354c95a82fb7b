"""Step 4 of :mod:`model.preprocess`: components -> digits, left to right (:func:`group_digits`): specks
dropped, broken strokes merged, marks too short dropped, a number on several lines or on a slope refused
or turned level (:func:`_slope`), a line drawn under the digits left out. Numpy only.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np

from .components import MIN_DIGIT_SHARE, Component, least_height, merge_components, overlap_length
from .exceptions import LocatedError, Sloped
from .punctuation import (
    OFF_LINE_HEIGHT,
    apart_beside,
    low_in_a_gap,
    minus_sign,
    off_line,
    refuse_punctuation,
    solid_dot,
)

SPECK_AREA = 0.03  # components under this fraction of the largest one are specks
MAX_COMPONENTS = 64  # the largest components considered (noise and text produce hundreds)
#: A number of at least this many marks whose line slopes by :data:`LINE_SLOPE` or more is turned level
#: before its digits are read; the line runs through the centres of the marks at least
#: :data:`OFF_LINE_HEIGHT` as tall as the tallest (a degree sign, an exponent stand off it). A number
#: of two is left: a line through two centres is no better than where each digit's shape puts its
#: centre (10 % of level pairs of MNIST digits slope by more than 10 degrees; old-style figures, a 5
#: descending and a 6 rising, by more than 14) ...
LINE_DIGITS = 3
#: ... at least this many degrees (the network learnt digits turned by up to 10) ...
LINE_SLOPE = 8.0
#: ... and at most this many (steeper, the marks stand more above each other than beside).
MAX_LINE_SLOPE = 40.0
#: A line drawn under the digits is no piece of them: a bar no taller than this share of its width ...
UNDERLINE_FLAT = 0.25
#: ... under marks at least this many times as tall as it is thick, reaching past them on both sides
#: by this share of their height (a 2's base drawn apart ends about where its stroke does).
UNDERLINE_THIN = 3.0
UNDERLINE_PAST = 0.05


def _belong_together(a: Component, b: Component, punctuation: bool = False) -> bool:
    """Whether two parts are pieces of one broken digit (a pen that skipped, a faint stroke).

    Not when they are far apart vertically, nor when they stand side by side at similar heights
    (two digits of a number, even a slanted "17" whose bar reaches over the 1). Otherwise yes when one
    lies mostly over the other horizontally (the detached bar of a 5), or when the gap between them is
    small for the digit they would form and that digit would not be wider than a digit can be, or
    when a short piece touches the box of a tall one, or when they are the two strokes of a 4 written
    open (:func:`_open_four`). With ``punctuation`` (in a number), not when the shorter one is shaped
    and placed like a mark of its own beside the other (:func:`apart_beside`: punctuation, a degree
    sign).
    """
    short, tall = sorted((a.height, b.height))
    x_overlap = overlap_length(a.x0, a.x1, b.x0, b.x1)
    narrower = min(a.width, b.width)
    if max(a.y0, b.y0) - min(a.y1, b.y1) > 0.25 * tall:
        return False
    if _open_four(*sorted((a, b), key=lambda c: c.x0)):
        return True
    if short >= 0.6 * tall and overlap_length(a.y0, a.y1, b.y0, b.y1) >= 0.3 * short and x_overlap < 0.5 * narrower:
        return False
    if x_overlap >= 0.5 * narrower:
        return True
    if punctuation and apart_beside(*sorted((a, b), key=lambda c: c.height)):
        return False
    x_gap, y_gap = max(a.x0, b.x0) - min(a.x1, b.x1), max(a.y0, b.y0) - min(a.y1, b.y1)
    if short < 0.5 * tall and max(x_gap, y_gap) <= 0.1 * tall:
        return True  # a short stroke touching the box of a tall one: the 5's bar reaching out to the right
    width = max(a.x1, b.x1) - min(a.x0, b.x0)
    height = max(a.y1, b.y1) - min(a.y0, b.y0)
    return width <= 1.2 * height and x_gap <= 0.25 * height


def _underline(mark: Component, parts: list[Component]) -> bool:
    """Whether ``mark`` underlines the number the other ``parts`` make (two marks of a digit's height
    side by side, at least): a flat bar (:data:`UNDERLINE_FLAT`), below all of them (its top under
    their feet, give or take a tenth of their height), reaching past them on both sides
    (:data:`UNDERLINE_PAST`), and thin against them (:data:`UNDERLINE_THIN`: the bars of a ``=`` are
    alike). Under a single digit, a bar apart is as likely its own (a 2's base, a 1's foot: of the
    55,000 training digits uploaded with rows erased, five 2s lost their base to this rule). Left in,
    an underline was merged into a digit as a broken piece: an underlined number was refused."""
    others = [p for p in parts if p is not mark]
    if not others or mark.height > UNDERLINE_FLAT * mark.width:
        return False
    tall = max(p.height for p in others)
    digits = [p for p in others if p.height >= OFF_LINE_HEIGHT * tall]
    if not any(a.x1 <= b.x0 for a in digits for b in digits):  # a number: two digits side by side
        return False
    return (
        tall >= UNDERLINE_THIN * mark.height
        and mark.y0 >= max(p.y1 for p in others) - 0.1 * tall
        and mark.x0 <= min(p.x0 for p in others) - UNDERLINE_PAST * tall
        and mark.x1 >= max(p.x1 for p in others) + UNDERLINE_PAST * tall
    )


def _open_four(left: Component, right: Component) -> bool:
    """Whether ``left`` and ``right`` are the two strokes of a 4 written open: an L-shaped stroke that
    ends half way down, and just right of it (its bar may reach into the stem's columns, as a segment
    display draws a 4) a straight stem going on well below it. Side by side digits of a number stand
    on one baseline; this stroke ends far above the stem's foot."""
    stem = right.height
    return (
        right.width <= 0.35 * stem  # a straight stem
        and left.height >= 0.35 * stem
        and left.y0 <= right.y0 + 0.3 * stem  # starting about as high as the stem or higher
        and left.y1 <= right.y1 - 0.25 * stem  # ending far above its foot
        and -0.5 * right.width <= right.x0 - left.x1 <= 0.2 * stem  # just left of it, or reaching into it
    )


def group_digits(
    components: list[Component], image_shape: tuple[int, int], level: bool = False, pair: bool = False
) -> list[Component]:
    """Components -> digits, left to right: drop specks, merge broken strokes, drop marks too short.

    In a number (two digits or more), a small mark standing apart beside a digit is punctuation rather
    than a piece of it, and refuses the picture where punctuation stands (:func:`refuse_punctuation`).
    Beside a single digit, a speck (MNIST's crops carry bits of their neighbours) or a detached piece
    (a 4's arm, a 7's crossbar, in the digit's box) is likelier: merged; only a minus sign wholly before
    the digit's box refuses it (:func:`minus_sign`: "-7" was read 7).
    With ``level``, raises :class:`Sloped` for digits on a sloping line, before any of this is judged
    (with ``pair``, for two marks only: a second look, :data:`LINE_DIGITS`)."""
    if not components:
        return []
    components = sorted(components, key=lambda c: c.area, reverse=True)[:MAX_COMPONENTS]
    largest = components[0].area
    parts = [c for c in components if c.area >= max(3, SPECK_AREA * largest)]
    dots = [c for c in components if 2 <= c.area < SPECK_AREA * largest and solid_dot(c)]
    parts = [part for part in parts if not _underline(part, parts)]
    if not parts:
        return []
    digits, _ = _grouped(parts, image_shape, punctuation=False)
    _refuse_several_lines(digits)  # before a slope is looked for: "123" over "4" was turned and read 4123
    if level and (len(digits) == 2 if pair else len(digits) >= LINE_DIGITS):
        # The line through the marks of a digit's height: a degree sign or an exponent stands off it.
        tallest = max(d.height for d in digits)
        tall = [d for d in digits if d.height >= OFF_LINE_HEIGHT * tallest]
        if len(tall) > 1 and (angle := _slope([(d.x0 + d.x1) / 2 for d in tall], [(d.y0 + d.y1) / 2 for d in tall])):
            raise Sloped(angle)
    if len(digits) > 1:
        digits, marks = _grouped(parts, image_shape, punctuation=True)
        _refuse_several_lines(digits)
        refuse_punctuation(marks, digits)
        refuse_punctuation([d for d in dots if low_in_a_gap(d, digits)], digits)
        _refuse_off_line(digits)
    elif len(parts) > 1:
        alone, marks = _grouped(parts, image_shape, punctuation=True)
        if len(alone) == 1:  # in its box, a dash is a 7's crossbar short of its stem
            refuse_punctuation([m for m in marks if m.x1 <= alone[0].x0 and minus_sign(m, alone[0])], alone)
    return digits


def _refuse_several_lines(digits: list[Component]) -> None:
    """Raise ``several_lines`` when one mark stands wholly above another that shares some of its columns,
    neither of them flat (the bars of a ``=`` are a symbol, refused as not a digit): the digits are
    written on two lines or more (read left to right, "12" over "34" was answered 3142). The digits of
    one line stand side by side, even on a slope."""
    upright = [d for d in digits if d.height >= 0.5 * d.width]
    for a, b in itertools.combinations(upright, 2):
        upper, lower = sorted((a, b), key=lambda d: d.y0)
        if upper.y1 <= lower.y0 and overlap_length(a.x0, a.x1, b.x0, b.x1) > 0:
            raise LocatedError(
                "several_lines",
                "the digits stand on more than one line, one above another (marks at {where}): send one "
                "number per picture, written on one line (or crop the picture to the number: other writing, "
                "icons or the edge of a table count as lines too)",
                [upper.box, lower.box],
            )


def _refuse_off_line(digits: list[Component]) -> None:
    """Raise ``not_a_digit`` when a mark of the number stands off the line beside its neighbour
    (:func:`off_line`): a degree sign ("25°" was answered 250), an exponent written high."""
    for i, (left, right) in enumerate(itertools.pairwise(digits)):
        if off_line(left, right) or off_line(right, left):
            raise LocatedError(
                "not_a_digit",
                f"not a digit: of marks {i + 1} and {i + 2} (left to right, at {{where}}), one is small and "
                "raised or lowered off the line, like a degree sign or an exponent; only the digits 0-9 are "
                "read, and without it the number would be misread",
                [left.box, right.box],
            )


def _stacked(a: Component, b: Component) -> bool:
    """Whether two upright bars (each at least twice as tall as wide) stand one over the other, half
    the narrower one's columns in common: the two halves of a segment display's 1, or of a side of its 0."""
    upright = a.height >= 2 * a.width and b.height >= 2 * b.width
    return upright and overlap_length(a.x0, a.x1, b.x0, b.x1) >= 0.5 * min(a.width, b.width)


def _merged(parts: list[Component], together: Callable[[Component, Component], bool]) -> list[Component]:
    """``parts`` with each pair ``together`` merged, until none is (a handful of parts: the quadratic
    loop is cheap)."""
    merged = True
    while merged:
        merged = False
        for i in range(len(parts)):
            for j in range(i + 1, len(parts)):
                if together(parts[i], parts[j]):
                    parts[i] = merge_components(parts[i], parts[j])
                    del parts[j]
                    merged = True
                    break
            if merged:
                break
    return parts


def _grouped(
    parts: list[Component], image_shape: tuple[int, int], punctuation: bool
) -> tuple[list[Component], list[Component]]:
    """``parts`` merged where they belong together (:func:`_belong_together`) -> (the digits, left to
    right; the marks too short to be one). Upright bars one over the other (:func:`_stacked`) are
    merged first: a segment display's 1 is two such bars, and beside the next digit one of them alone
    passed for a broken piece of it ("18" read as one mark)."""
    parts = _merged(list(parts), lambda a, b: _stacked(a, b) and _belong_together(a, b, punctuation))
    parts = _merged(parts, lambda a, b: _belong_together(a, b, punctuation))
    tallest = max(p.height for p in parts)
    min_height = max(MIN_DIGIT_SHARE * tallest, least_height(image_shape))
    digits, marks = [], []
    for part in parts:
        (digits if part.height >= min_height and part.anchor >= 0.3 * part.height else marks).append(part)
    return sorted(digits, key=lambda p: (p.x0 + p.x1) / 2), marks


def _slope(xs: list[float], ys: list[float]) -> float | None:
    """The angle in degrees (counter-clockwise, as ``Image.rotate`` turns) that levels the line through
    the centres ``(xs, ys)`` (a least-squares fit, y down), when it slopes by :data:`LINE_SLOPE` to
    :data:`MAX_LINE_SLOPE` degrees; else ``None``."""
    x, y = np.asarray(xs) - np.mean(xs), np.asarray(ys) - np.mean(ys)
    if not (x**2).sum():
        return None
    angle = float(np.degrees(np.arctan((x * y).sum() / (x**2).sum())))
    return angle if LINE_SLOPE <= abs(angle) <= MAX_LINE_SLOPE else None
