"""The refusals and signals raised between the steps of :mod:`model.preprocess`: refusals that name
boxes of the picture (:class:`LocatedError`, :class:`Punctuation`, :class:`TooSmallError`, :class:`ShadowOnly`),
moved to the input's pixels as they pass up, and signals to read again (:class:`FaintWriting`,
:class:`Sloped`) or that a second look is not offered (:class:`NoSecondLook`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .components import MIN_DIGIT_HEIGHT
from .contract import InputError, where

#: Marks too small for digits at the working size, in a picture reduced to it, are looked at again in
#: a crop of the picture around them (``preprocess``) when they are at least this many of its pixels
#: tall (shorter, a speck stays a speck) ...
ZOOM_PIXELS = 16
#: ... and the crop (the marks and as much again on every side) is at most this share of the picture's
#: longer side.
ZOOM_SHARE = 0.5


class TooSmallError(InputError):
    """``no_digit_found``: a few marks, each too short for a digit at the working size; ``box``: the
    box holding them, in working pixels (:func:`model.preprocess.preprocess` looks closer there)."""

    def __init__(self, box: tuple[int, int, int, int]) -> None:
        super().__init__(
            "no_digit_found",
            f"no digit found: the only marks are specks too small to be digits (a digit is at least "
            f"{MIN_DIGIT_HEIGHT:.0%} of the picture's size, and {ZOOM_PIXELS} pixels tall); if digits are "
            "written small in it, crop the picture closer to them",
        )
        self.box = box

    def moved(self, move: Callable[[tuple[int, int, int, int]], tuple[int, int, int, int]]) -> TooSmallError:
        """The same refusal, its box moved by ``move``."""
        return TooSmallError(move(self.box))


class LocatedError(InputError):
    """A refusal naming marks of the picture: ``message`` with ``{where}`` standing for where they are
    (:func:`model.contract.where`), their ``boxes`` in working pixels until :func:`model.preprocess.preprocess`
    maps them to the picture's (:meth:`moved`), as each step that reads a part of the picture does."""

    def __init__(self, code: str, message: str, boxes: list[tuple[int, int, int, int]]) -> None:
        super().__init__(code, message.format(where=where(boxes)))
        self.template, self.boxes = message, boxes

    def moved(self, move: Callable[[tuple[int, int, int, int]], tuple[int, int, int, int]]) -> LocatedError:
        """The same refusal, its boxes moved by ``move``."""
        return type(self)(self.code, self.template, [move(box) for box in self.boxes])


class Punctuation(LocatedError):
    """``not_a_digit``: a short mark beside the digits of a number, a decimal point, a colon, a comma or
    a sign (:func:`model.punctuation.refuse_punctuation`): a mark seen, which only the shadow's second look may undo
    (:data:`model.inference.UNDO_PUNCTUATION`)."""


class ShadowOnly(InputError):
    """``no_digit_found``: a photo blank but for a shadow's edge, which its first look read as a mark; found
    by the shadow's second look itself (:func:`model.preprocess._past_a_shadow`), which is not taken again
    (the second looks of :mod:`model.inference`)."""

    def __init__(self, message: str) -> None:
        super().__init__("no_digit_found", message)


class NoSecondLook(Exception):
    """:func:`model.preprocess.preprocess` asked for a second look the picture does not offer: with ``shadow_edge``, no
    photo or no shadow's straight edge across it (:func:`model.shadow_edge.without_shadow_edge`); with
    ``sheet_level``, no sheet lying turned :data:`model.digits.SHEET_LEVEL` or more; with ``pair_level``, no two marks
    on a slope. The first look's answer stands."""


class FaintWriting(Exception):
    """Faint writing in a photo (:attr:`model.ink.Levels.faint`, :func:`model.digits._nearer`): ``box`` (working
    pixels) is the part of it to read again at less reduction, where thin faint lines keep more of their contrast."""

    def __init__(self, box: tuple[int, int, int, int]) -> None:
        self.box = box

    def moved(self, move: Callable[[tuple[int, int, int, int]], tuple[int, int, int, int]]) -> FaintWriting:
        """The same, its box moved by ``move``."""
        return FaintWriting(move(self.box))


class Sloped(Exception):
    """The digits stand on a line sloping by ``angle`` degrees (:func:`model.grouping._slope`): read them turned
    level."""

    def __init__(self, angle: float) -> None:
        self.angle = angle
        self.ink = np.zeros((0, 0), np.float32)  # set by _digits_in: the ink to turn
