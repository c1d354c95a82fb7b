"""Punctuation in a number (a decimal point, a comma, a colon, a dash, a minus sign) and marks off the line
beside a digit, for step 4 of :mod:`model.preprocess`: a short mark apart beside a digit is a mark of its
own (:func:`apart_beside`), and punctuation refuses the picture (:func:`refuse_punctuation`). Standard
library only: it measures components (:mod:`model.components`).
"""

from __future__ import annotations

import itertools

from .components import MIN_DIGIT_SHARE, Component
from .exceptions import Punctuation

#: Punctuation in a number (a mark too short to be a digit: a dot, a comma, a colon, a dash) refuses the
#: picture where it stands (read without it, "3.14" would be 314): in the gap between two digits, its
#: centre within this share of their height of the gap's sides, and on the line (from the digits' top
#: to this share below their foot: a comma hangs below it) ...
PUNCTUATION_REACH = 0.15
#: ... or before the first digit (a dash: a minus sign) or after the last, at most this share of the
#: digit's height from it.
SIGN_REACH = 0.6
#: Beside a digit, a small mark is punctuation rather than a piece of it when it is round (a dot, a small
#: degree sign), or when its centre lies below this share of the digit's height from its top (a comma, a
#: dash; a broken-off piece of a 5's or a 7's bar is flat and lies above it) ...
PUNCTUATION_TOP = 0.3
#: ... and it stands at least this share of the digit's height apart (and 2 working pixels: nearer, a
#: broken-off end of a stroke, a 3's terminal).
PUNCTUATION_GAP = 0.03
#: A speck (under :data:`model.grouping.SPECK_AREA` of the largest mark, 2 working pixels or more) that fills this share
#: of its box and stands wholly in the gap between two digits, its centre below this share of their height
#: from their top (on the line's foot, where a decimal point or a comma is written; a speck an MNIST crop
#: carries from a neighbour sits higher, docs/model.md step 4), is a decimal point or a comma written with
#: a fine pen, not dust: refused as punctuation too.
DOT_FILL = 0.6
DOT_LOW = 0.75
#: A mark at least this many working pixels across both ways, in a digit's box but apart from its ink
#: there, may be punctuation tucked under an italic digit's overhang (:func:`_gap_beside`). Smaller, it
#: is as likely a speck of a photo's grain or the broken-off end of a pencil stroke beside the rest of
#: it: apart only when the boxes are; a dash or a point excepted (:func:`_dash`, :func:`_point`: typed
#: small, a minus sign is a pixel or two tall and a point two or three across, a pixel from a digit).
TUCKED_MARK = 4
#: A dash or a minus sign is at least this much wider than tall (a bold face's hyphen is stubby, under
#: twice as wide as tall), its centre from :data:`PUNCTUATION_TOP` of a digit's height to :data:`DOT_LOW`.
DASH_ASPECT = 1.25
#: A mark off the line beside a digit (a degree sign, an exponent, a long comma) is under this share of
#: its height ...
OFF_LINE_HEIGHT = 0.6
#: ... and its foot lies above, or its top below, this share of the digit's height from its top
#: (digits of a number stand on one line, give or take a tenth of their height).
OFF_LINE = 0.5


def _gap_beside(short: Component, tall: Component) -> int:
    """The columns between ``short`` and ``tall``'s ink in the rows ``short`` spans (and the one above and
    below): a full stop or a colon's dot tucked under an italic digit's top lies in its box, apart from
    its ink ("3.14" and "12:30" in an italic face were read 314 and 1230). At least the boxes' gap;
    only that for a mark under :data:`TUCKED_MARK` across (unless a dash or a point, :func:`_dash`,
    :func:`_point`: typed small, a minus sign is a pixel or two tall and a point two or three across),
    and where ``tall``'s ink is not known (its runs, :class:`model.components._Runs`) or lies in other rows."""
    boxes = max(short.x0, tall.x0) - min(short.x1, tall.x1)
    dash = short.width >= TUCKED_MARK and _dash(short, tall)
    small = min(short.width, short.height) < TUCKED_MARK and not (dash or _point(short, tall))
    if small or tall.runs is None:
        return boxes
    if (ink := tall.runs.columns(tall.labels, short.y0 - 1, short.y1 + 1)) is None:
        return boxes
    return max(boxes, max(short.x0, ink[0]) - min(short.x1, ink[1]))


def _dash(mark: Component, digit: Component) -> bool:
    """Whether ``mark`` is shaped and placed like a dash or a minus sign beside ``digit``: at least
    :data:`DASH_ASPECT` as wide as tall, its centre in the middle of the digit's height, from
    :data:`PUNCTUATION_TOP` of it down to :data:`DOT_LOW` (the lowest quarter is a point's; a
    broken-off end of a stroke at a digit's top or foot is no dash)."""
    centre = (mark.y0 + mark.y1) / 2
    middle = digit.y0 + PUNCTUATION_TOP * digit.height <= centre <= digit.y0 + DOT_LOW * digit.height
    return middle and mark.width >= DASH_ASPECT * mark.height


def _point(mark: Component, digit: Component) -> bool:
    """Whether ``mark`` is shaped and placed like a point or a comma beside ``digit``: a solid dot
    (:func:`solid_dot`) whose centre lies in the lowest quarter of the digit's height or below it
    (:data:`DOT_LOW`), where a full stop, a decimal point or a comma is written."""
    return solid_dot(mark) and mark.y0 + mark.y1 >= 2 * (digit.y0 + DOT_LOW * digit.height)


def minus_sign(mark: Component, first: Component) -> bool:
    """Whether ``mark`` stands where a minus sign stands before the digit ``first``: a dash
    (:func:`_dash`) left of its middle, at most :data:`SIGN_REACH` of its height before it, and apart
    from its ink (an italic digit's box reaches under it)."""
    return (
        _dash(mark, first)
        and mark.x0 + mark.x1 < first.x0 + first.x1
        and first.x0 - mark.x1 <= SIGN_REACH * first.height
        and _gap_beside(mark, first) >= 0
    )


def apart_beside(short: Component, tall: Component) -> bool:
    """Whether ``short``, beside ``tall`` and apart from its ink in its rows (:func:`_gap_beside`,
    :data:`PUNCTUATION_GAP`), is shaped and placed like a mark of its own rather than a piece of it:
    punctuation, too short to be a digit, at most 0.8 of its height wide (a minus sign is wide), and
    round (a dot, a colon's dots, a small degree sign: anywhere) or low (:data:`PUNCTUATION_TOP`: a
    comma, a dash; a broken-off piece of a 5's or a 7's bar is flat and high); or a mark off the line
    (:func:`off_line`: a degree sign, an exponent, a long comma)."""
    if _gap_beside(short, tall) < max(PUNCTUATION_GAP * tall.height, 2):
        return False
    round_ = short.width <= 1.5 * short.height
    low = short.y0 + short.y1 >= 2 * (tall.y0 + PUNCTUATION_TOP * tall.height)
    punctuation = short.height < MIN_DIGIT_SHARE * tall.height and short.width <= 0.8 * tall.height
    return (punctuation and (round_ or low)) or off_line(short, tall)


def off_line(short: Component, tall: Component) -> bool:
    """Whether ``short`` stands off the line beside ``tall``: as tall as a digit can be but under
    :data:`OFF_LINE_HEIGHT` of ``tall``'s height, and raised (its foot above :data:`OFF_LINE` of
    ``tall``'s height from its top: a degree sign, an exponent) or lowered (its top below it: a long
    comma, a subscript). A small digit of a number stands on the line with the others."""
    reach = tall.y0 + OFF_LINE * tall.height
    return MIN_DIGIT_SHARE * tall.height <= short.height < OFF_LINE_HEIGHT * tall.height and (
        short.y1 <= reach or short.y0 >= reach
    )


def solid_dot(c: Component) -> bool:
    """A component that fills its box, about as wide as tall: a pen's dot, not a hairline's piece."""
    return c.area >= DOT_FILL * c.width * c.height and max(c.width, c.height) <= 2 * min(c.width, c.height)


def low_in_a_gap(dot: Component, digits: list[Component]) -> bool:
    """Whether a speck stands wholly in the gap between two digits, in the lower part of their line:
    where a decimal point or a comma is written (dropped as a speck, "3.14" was read 314)."""
    for left, right in itertools.pairwise(digits):
        top, foot = min(left.y0, right.y0), max(left.y1, right.y1)
        below = foot + PUNCTUATION_REACH * (foot - top)  # a comma, or a dot a broad pen put on the line
        centre = (dot.y0 + dot.y1) / 2
        if left.x1 < dot.x0 and dot.x1 < right.x0 and top + DOT_LOW * (foot - top) <= centre <= below:
            return True
    return False


def refuse_punctuation(marks: list[Component], digits: list[Component]) -> None:
    """Raise ``not_a_digit`` for a mark too short to be a digit that stands where punctuation stands in
    the number ``digits``, on its line: in the gap between two digits (a decimal point, a comma, a colon,
    a dash), just before the first (a dash: a minus sign) or just after the last (a full stop, a ring of
    a %). Dropped as a speck, it would change the number silently. Marks off the line are left out."""
    for mark in marks:
        cx, cy = (mark.x0 + mark.x1) / 2, (mark.y0 + mark.y1) / 2
        for i, (left, right) in enumerate(itertools.pairwise([None, *digits, None])):
            beside = [d for d in (left, right) if d is not None]
            h = max(d.height for d in beside)
            if not min(d.y0 for d in beside) <= cy <= max(d.y1 for d in beside) + PUNCTUATION_REACH * h:
                continue
            if left is None and minus_sign(mark, right):
                place = "just before the first digit looks like a minus sign or a dash"
            elif (
                right is None
                and cx > (left.x0 + left.x1) / 2
                and mark.x0 - left.x1 <= SIGN_REACH * h
                and _gap_beside(mark, left) >= 0
            ):
                place = "just after the last digit looks like a full stop or a part of a symbol such as %"
            elif left and right and left.x1 - PUNCTUATION_REACH * h <= cx <= right.x0 + PUNCTUATION_REACH * h:
                place = (
                    f"between digits {i} and {i + 1} (left to right) looks like a decimal point, a comma, "
                    "a colon or a dash"
                )
            else:
                continue
            raise Punctuation(
                "not_a_digit",
                f"not a digit: a short mark, at {{where}}, {place}; only the digits 0-9 are read, and without "
                "it the number would be misread",
                [mark.box],
            )
