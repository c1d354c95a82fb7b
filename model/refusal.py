""" "Not a digit": when the network's eleventh output says a mark is no digit, and what then.

A network trained with the "not a digit" class (``model.network.NOT_A_DIGIT``) gives every mark a
probability of being no digit at all (a letter, a symbol, a shape, a scribble), and one trained with
"digits that touch" too (``model.network.TOUCHING``) a probability of being several digits run into one
mark, which the service tries cut (``model.inference``). A mark left whole is refused when its
probability of not being one digit, the two together (:func:`not_one_digit`), reaches the
**threshold**: the archive's calibrated one (``metadata.json`` ``not_a_digit.threshold``, chosen on
validation so that almost no real digit is refused), unless the environment variable
:data:`THRESHOLD_ENV` sets another (per stage: lower refuses more scribbles and more real digits,
higher fewer of both; 1 or more never refuses). The pieces of a mark read cut into touching digits are
held to at least 0.5 (:func:`part_limit`). A ten-class network never refuses.

A mark read as a digit is refused as ``low_confidence`` (HTTP 422) when the digit it is read as has a
probability under the **confidence floor** (:func:`check_confidence`): the network hesitates between
several digits, and the answer would be a guess. :data:`DEFAULT_FLOOR`, unless :data:`FLOOR_ENV` sets
another per stage (0 answers every reading).

A request is refused as a whole, ``not_a_digit`` (HTTP 422), when **any** of its marks is refused:
a number with one non-digit mark in it ("12e", "3+4") gets no number, since leaving the mark out
would answer a number nobody wrote. The message says which mark (position, left to right).

Numpy only (the handlers' side; the threshold's choice is in ``training.refusal``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .contract import InputError
from .contract import where as in_words

#: Overrides the archive's threshold (a number; 1 or more never refuses).
THRESHOLD_ENV = "NOT_A_DIGIT_THRESHOLD"
#: Overrides :data:`DEFAULT_FLOOR` (a number; 0 answers every reading).
FLOOR_ENV = "CONFIDENCE_FLOOR"
#: The least probability of the digit a mark is read as, given that it is one digit. On the recognition
#: benchmark's sets (``python -m bench.recognition_bench``: the floor's trade-off table in
#: docs/recognition.md), a floor of 0.3 refuses none of the 5,000 validation digits read right and about
#: one in 2,000 of the other sets', and an eighth of the answers that were wrong.
DEFAULT_FLOOR = 0.3
#: The threshold of an archive whose metadata names none.
DEFAULT_THRESHOLD = 0.5
DIGITS = 10
#: The least threshold for the pieces of a mark read cut (:func:`part_limit`).
PART_THRESHOLD = 0.5


def threshold(metadata: Mapping[str, Any], environ: Mapping[str, str] = os.environ) -> float:
    """The refusal threshold: ``$NOT_A_DIGIT_THRESHOLD``, else the archive's, else :data:`DEFAULT_THRESHOLD`.

    Raises ``ValueError`` for a setting that is not a number (a misconfigured stage fails at load,
    not on every request)."""
    configured = _setting(THRESHOLD_ENV, environ)
    if configured is not None:
        return configured
    return float((metadata.get("not_a_digit") or {}).get("threshold", DEFAULT_THRESHOLD))


def floor(environ: Mapping[str, str] = os.environ) -> float:
    """The confidence floor: ``$CONFIDENCE_FLOOR``, else :data:`DEFAULT_FLOOR`. Raises ``ValueError``
    for a setting that is not a number, as :func:`threshold` does."""
    configured = _setting(FLOOR_ENV, environ)
    return DEFAULT_FLOOR if configured is None else configured


def _setting(name: str, environ: Mapping[str, str]) -> float | None:
    """The number in ``environ[name]``; None when it is unset or blank."""
    configured = environ.get(name, "").strip()
    if not configured:
        return None
    value = float(configured)
    if not np.isfinite(value):
        raise ValueError(f"{name}={configured!r} is not a finite number")
    return value


def not_one_digit(probabilities: np.ndarray) -> np.ndarray:
    """``(N, C)`` softmax outputs -> ``(N,)``: the probability that a mark is not one digit, what a mark
    is refused on: no digit at all (the eleventh output), or digits run together (a twelfth output,
    "digits that touch": a mark the service could not cut into digits it reads is not answered as one
    digit either). 0 for a ten-class network."""
    return np.clip(1.0 - probabilities[:, :DIGITS].sum(axis=1), 0.0, 1.0).astype(probabilities.dtype)


def split(probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(N, 10)``, ``(N, 11)`` or ``(N, 12)`` softmax outputs -> (the digits' probabilities given the mark
    is one digit, ``(N, 10)``, each row summing to 1; the probability that it is not one digit
    (:func:`not_one_digit`), ``(N,)``)."""
    if probabilities.shape[1] == DIGITS:
        return probabilities, np.zeros(len(probabilities), dtype=probabilities.dtype)
    not_digit = not_one_digit(probabilities)
    digits = probabilities[:, :DIGITS] / np.maximum(probabilities[:, :DIGITS].sum(axis=1, keepdims=True), 1e-12)
    return digits.astype(probabilities.dtype), not_digit


def part_limit(threshold: float) -> float:
    """The threshold for a piece of a mark read cut into touching digits: the cut was taken because
    the network reads the pieces as digits, and a cut-off stroke of the neighbour makes a piece look
    odd, so a piece is refused only when it is more likely no digit than a digit (at least
    :data:`PART_THRESHOLD`)."""
    return max(threshold, PART_THRESHOLD)


def check(
    not_digit: np.ndarray, limit: float | np.ndarray, boxes: Sequence[tuple[int, int, int, int]] | None = None
) -> None:
    """Raise ``not_a_digit`` when any mark's probability of being no digit reaches ``limit`` (one
    threshold, or one per mark); the message names the mark, and where it is when its ``boxes``
    (x0, y0, x1, y1 in the picture's pixels, one per mark) are given: a user whose sheet of paper,
    or a shadow, was taken for the mark sees it is the whole of it."""
    refused = np.flatnonzero(not_digit >= limit)
    if refused.size == 0:
        return
    first = int(refused[0])
    where = _naming(first, len(not_digit), boxes, "this mark")
    raise InputError(
        "not_a_digit",
        f"not a digit: {where} looks like a letter, symbol, shape or scribble, or digits written into "
        f"each other (probability {float(not_digit[first]):.2f} that it is not one digit); if it is the "
        "paper, a card or a shadow rather than writing, crop the picture to the number",
    )


def check_confidence(
    probabilities: np.ndarray, limit: float, boxes: Sequence[tuple[int, int, int, int]] | None = None
) -> None:
    """Raise ``low_confidence`` when a mark's likeliest digit has a probability under ``limit``:
    ``probabilities`` ``(N, 10)``, each row the digits' given that the mark is one (:func:`split`). The
    message names the mark (and where it is, from ``boxes``), the two likeliest readings and the floor,
    so that a user sees what was hesitated over."""
    if len(probabilities) == 0:
        return
    best = probabilities.max(axis=1)
    unsure = np.flatnonzero(best < limit)
    if unsure.size == 0:
        return
    first = int(unsure[0])
    where = _naming(first, len(probabilities), boxes, "the digit")
    top, second = np.argsort(-probabilities[first], kind="stable")[:2]
    row = probabilities[first]
    raise InputError(
        "low_confidence",
        f"cannot read {where} with confidence: it reads {top} with probability {float(row[top]):.2f} or "
        f"{second} with {float(row[second]):.2f}, under the confidence floor {limit:.2f}; write it more "
        "clearly, or crop the picture closer to the number",
    )


def _naming(index: int, count: int, boxes: Sequence[tuple[int, int, int, int]] | None, alone: str) -> str:
    """How a refusal names mark ``index`` of ``count``: ``alone`` when it is the only one, else by its
    place left to right; and where it is, when its ``boxes`` are given."""
    where = alone if count == 1 else f"mark {index + 1} of {count} (left to right)"
    return where if boxes is None else f"{where}, {in_words([tuple(boxes[index])])},"
