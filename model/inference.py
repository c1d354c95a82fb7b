"""SageMaker inference handlers: ``model_fn`` and ``transform_fn``, which the SageMaker PyTorch serving
stack (TorchServe + the ``sagemaker-pytorch-inference`` toolkit) calls, built from ``input_fn``,
``predict_fn`` and ``output_fn``.

The archive's ``code/inference.py`` exports only ``model_fn`` and ``transform_fn`` (the toolkit refuses a
module that defines ``transform_fn`` next to the other three). Per request the toolkit calls::

    model = model_fn("/opt/ml/model")                                    # once per worker
    body, content_type = transform_fn(model, body, content_type, accept, context)

``transform_fn`` is ``output_fn(predict_fn(input_fn(body, content_type), model), accept)`` and answers
every error itself, as JSON ``{"error": {"code", "message"}}`` with the status of its code
(:data:`model.contract.STATUSES`, set through TorchServe's ``context``): left to the toolkit, any
exception becomes HTTP 500 with a Python traceback as plain text. Accepted inputs:

* an image body: any of :data:`model.contract.IMAGE_CONTENT_TYPES` (the format is read from the bytes,
  the declared type is only a hint);
* ``application/json``: ``{"image": "<base64 of an image file, or a data: URL>"}`` or
  ``{"pixels": <28x28 array of 0-255>}`` / ``{"pixels": [<28x28>, ...]}``: digits already MNIST-style
  (light on dark, centred), given to the network as they are;
* ``application/x-npy`` / ``application/x-npz`` (the SageMaker SDK's ``NumpySerializer``): the same
  digits as an array, ``(28, 28)``, ``(N, 28, 28)`` or ``(N, 1, 28, 28)``; integers 0-255, or floats
  0.0-1.0 (``ToTensor``'s scale). A batch is read as the digits of one number, left to right.

Answers are JSON, or for ``Accept: application/x-npy`` the probabilities as an ``(N, 10)`` float32 array.

A photo whose reading is refused gets second looks (:class:`Digits`, :data:`SECOND_LOOKS`): read again
with a shadow's straight edge across it divided out (:mod:`model.shadow_edge`), then with a sheet lying
turned read turned level, and answered by the first of them that is not refused; a refusal of the first
look stands otherwise. A reading under :data:`UNSURE` gets them too, answered by a surer one.

Torch 2.6 API only (the SageMaker inference containers); torch, numpy and Pillow.
"""

from __future__ import annotations

import base64
import functools
import io
import itertools
import json
import logging
import os
import pickle
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from . import refusal
from .contract import IMAGE_CONTENT_TYPES, JSON, NPY, NPZ, InputError, decode_image_field, media_type, parse_json
from .network import CLASS_COUNTS, NUM_CLASSES, TOUCHING, DigitNet, for_inference, from_state_dict, normalize
from .npy import read_npy, read_npz, write_npy
from .preprocess import (
    MAX_DIGITS,
    MIN_DIGIT_CONTRAST,
    SIZE,
    SPLIT_ASPECT,
    Digit,
    NoSecondLook,
    Punctuation,
    ShadowOnly,
    is_line,
    is_straight,
    preprocess,
)

__all__ = [
    "LoadedModel",
    "Prediction",
    "input_fn",
    "model_fn",
    "output_fn",
    "predict_fn",
    "predict_many",
    "transform_fn",
]

log = logging.getLogger(__name__)
TOP_K = 3


@dataclass(frozen=True)
class LoadedModel:
    """What ``model_fn`` returns: the network ready for inference (``for_inference``), the archive's
    metadata, the "not a digit" threshold and the confidence floor in force (:func:`model.refusal.threshold`,
    :func:`model.refusal.floor`)."""

    network: torch.nn.Module
    version: str
    metadata: dict[str, Any] = field(default_factory=dict)
    not_a_digit_threshold: float = refusal.DEFAULT_THRESHOLD
    confidence_floor: float = refusal.DEFAULT_FLOOR


@dataclass(frozen=True)
class Prediction:
    """The result for one request: per digit, left to right, the probabilities and where it was;
    with an 11- or 12-class network also each mark's probability of being no digit, and the threshold."""

    digits: list[Digit]
    probabilities: np.ndarray  # (len(digits), 10) float32, of the digits given that the mark is one
    model_version: str
    not_digit: np.ndarray | None = None  # (len(digits),) float32
    not_a_digit_threshold: float | np.ndarray = refusal.DEFAULT_THRESHOLD  # one, or one per digit
    confidence_floor: float = refusal.DEFAULT_FLOOR
    #: When these are a second look's digits (:class:`Digits`): the first look's refusal, which stands
    #: if this prediction is refused too.
    first_look: InputError | None = None

    @property
    def confidence(self) -> float:
        """The answer's confidence: the least of its digits' probabilities (0.0 with no digits)."""
        return float(self.probabilities.max(axis=1).min()) if len(self.digits) else 0.0


# ------------------------------------------------------------------------------------------- model_fn


def model_fn(model_dir: str) -> LoadedModel:
    """Load ``model.pt`` (a ``DigitNet`` state_dict, read with ``weights_only=True``) and ``metadata.json``."""
    directory = Path(model_dir)
    if "OMP_NUM_THREADS" not in os.environ:
        # One thread per forward pass: the container runs one model worker per vCPU, and for a
        # 0.5 M-parameter CNN a second thread mostly adds synchronisation (on a busy 2-core machine a
        # single-image forward took 4 ms with one thread, 25 ms with two). OMP_NUM_THREADS overrides.
        torch.set_num_threads(1)
    network = for_inference(from_state_dict(_state_dict(directory / "model.pt")))
    metadata_path = directory / "metadata.json"
    metadata = json.loads(metadata_path.read_text()) if metadata_path.is_file() else {}
    with torch.inference_mode():  # the first forward pass pays for lazy initialisation: not a user's request
        network(torch.zeros(1, 1, SIZE, SIZE))
    version = str(metadata.get("version", "unknown"))
    return LoadedModel(network, version, metadata, refusal.threshold(metadata), refusal.floor())


def _state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The weights in ``path``, read with ``weights_only=True`` (no code from the file runs).

    Raises ``ValueError`` naming the problem in one line: a whole pickled module instead of a state_dict,
    or the state_dict of another network."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise ValueError(
            f"{path.name} is not a state_dict of tensors (a whole pickled module?): save model.state_dict()"
        ) from None
    shapes = {k: getattr(v, "shape", None) for k, v in state.items()} if isinstance(state, dict) else None
    if not any(
        shapes == {k: v.shape for k, v in DigitNet(classes=classes).state_dict().items()} for classes in CLASS_COUNTS
    ):
        raise ValueError(f"{path.name} holds the weights of another network, not a DigitNet state_dict")
    return state


# ------------------------------------------------------------------------------------------- input_fn

#: The refusals of a picture's first reading that a second look may undo: a shadow's edge read as a
#: mark, or cutting the number short; digits turned past what the network reads.
RETRIED_REFUSALS = ("not_a_digit", "several_lines", "no_digit_found", "low_confidence")
#: The second looks, in the order tried (:func:`model.preprocess.preprocess`'s options).
SECOND_LOOKS = ({"shadow_edge": True}, {"sheet_level": True}, {"pair_level": True})
#: The second looks that turn what the first look found level: where it found no digit, its marks were
#: none, or edges (a blank page's margin line or a shadow's, turned level and read "1" or "11").
LEVELLING = {"sheet_level", "pair_level"}
#: A picture read with a confidence under this (its least sure digit's probability) gets the second
#: looks too, in turn, and the first surer reading is the answer: a shadow's edge across the number,
#: read as a stroke or cutting one short, or writing along a sheet lying turned leave the first look
#: unsure (0.8: docs/model.md, step 3).
UNSURE = 0.8
#: The second looks that may undo punctuation seen (:class:`~model.preprocess.Punctuation`): a shadow's
#: edge makes short marks; a sheet read turned level has the same marks, and loses a point written
#: small to the resampling (the number read without it would be another).
UNDO_PUNCTUATION = ({"shadow_edge": True},)


class Digits(list[Digit]):
    """The digits of one uploaded picture (a ``list`` of :class:`~model.preprocess.Digit`) and its
    ``second_looks``: the picture read again each way of :data:`SECOND_LOOKS` (each raises
    :class:`~model.preprocess.NoSecondLook` when the picture offers none), which :func:`predict_many`
    tries in turn when the first reading is refused, or unsure (:data:`UNSURE`: then answered by the
    first surer reading). Digits that are a second look's carry the first look's refusal
    (``first_look``), which stands when they are refused too."""

    second_looks: tuple[functools.partial[list[Digit]], ...] = ()
    first_look: InputError | None = None


def _read_image(data: bytes) -> list[Digit]:
    """An image file's digits (:func:`~model.preprocess.preprocess`), with their second looks; a refusal
    of the first reading (:data:`RETRIED_REFUSALS`) is answered by the first second look that finds digits."""
    looks = tuple(functools.partial(preprocess, data, **way) for way in SECOND_LOOKS)
    try:
        digits = Digits(preprocess(data))
    except InputError as refused:
        if refused.code not in RETRIED_REFUSALS:
            raise
        if isinstance(refused, Punctuation):
            looks = tuple(look for look in looks if look.keywords in UNDO_PUNCTUATION)
        elif isinstance(refused, ShadowOnly):  # the shadow's look taken already
            looks = tuple(look for look in looks if not look.keywords.get("shadow_edge"))
        if refused.code == "no_digit_found":  # nothing to turn level: no marks, or edges (turned, read "1", "11")
            looks = tuple(look for look in looks if not look.keywords.keys() & LEVELLING)
        blank = None
        for look in looks:
            try:
                digits = Digits(look())
            except NoSecondLook:
                continue
            except InputError as again:
                blank = blank or _blank_but_for_shadow(look, refused, again)
                continue
            if (
                refused.code == "no_digit_found"
                and len(digits) == 1
                and (is_line(digits[0].box) or is_straight(digits[0]))
            ):
                continue  # a lone line on a blank picture: an edge, a printed line the first look left out
            digits.first_look = blank or refused
            return digits
        raise (blank or refused) from None
    digits.second_looks = looks
    return digits


def input_fn(body: bytes | bytearray | str, content_type: str | None) -> list[Digit]:
    """A request body -> the digits in it (28x28 MNIST-style each, with boxes), left to right.

    ``body`` is ``str`` when the toolkit decoded it (``application/json``, ``text/csv``), else bytes.
    Raises :class:`~model.contract.InputError`."""
    media = media_type(content_type) or "application/octet-stream"
    if body is None or len(body) == 0:
        raise InputError("empty_body", "the request body is empty: send an image or JSON")
    if media == JSON:
        return _from_json(body)
    if media in (NPY, NPZ):
        data = body.encode("latin-1") if isinstance(body, str) else bytes(body)
        return _from_array(read_npy(data) if media == NPY else read_npz(data))
    if media in IMAGE_CONTENT_TYPES:
        if isinstance(body, str):  # an image should arrive as bytes; latin-1 maps code points 0-255 back to bytes
            try:
                body = body.encode("latin-1")
            except UnicodeEncodeError:
                raise InputError("corrupt_image", "the image arrived as text, not bytes") from None
        return _read_image(bytes(body))
    accepted = ", ".join((*IMAGE_CONTENT_TYPES, JSON, NPY, NPZ))
    raise InputError("unsupported_media_type", f"content type {content_type!r} is not supported; use one of {accepted}")


def _from_json(body: bytes | bytearray | str) -> list[Digit]:
    payload = parse_json(body)
    if not isinstance(payload, dict) or ("image" in payload) == ("pixels" in payload):
        raise InputError(
            "malformed_json",
            'the JSON body must be an object with exactly one of "image" (base64 of an image file) '
            'or "pixels" (a 28x28 array of 0-255, or a list of them)',
        )
    if "image" in payload:
        return _read_image(decode_image_field(payload["image"]))
    return _from_pixels(payload["pixels"])


def _from_pixels(value: object) -> list[Digit]:
    """``pixels``: one 28x28 array or a list of them, numbers 0-255, MNIST-style (light on dark)."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (ValueError, TypeError):
        raise InputError("invalid_pixels", '"pixels" must be a 28x28 array of numbers (or a list of them)') from None
    if not np.isfinite(array).all() or (array.size and (array.min() < 0 or array.max() > 255)):
        raise InputError("invalid_pixels", '"pixels" values must be numbers from 0 to 255')
    return _digits(array)


def _from_array(array: np.ndarray) -> list[Digit]:
    """An NPY/NPZ array of MNIST-style digits: ``(28, 28)``, ``(N, 28, 28)`` or ``(N, 1, 28, 28)``.

    Integers are pixel values 0-255; floats are on torchvision's ``ToTensor`` scale, 0.0-1.0 (what the
    SageMaker MNIST samples send). Anything else (negative or over 255, floats outside 0-1, NaN) is
    ambiguous: ``invalid_pixels``."""
    if array.ndim == 4 and array.shape[1] == 1:
        array = array[:, 0]
    if array.dtype.kind == "f":
        if not np.isfinite(array).all() or (array.size and (array.min() < 0 or array.max() > 1)):
            raise InputError(
                "invalid_pixels", "float arrays must be on the 0.0-1.0 scale (ToTensor); send 0-255 pixels as uint8"
            )
        array = array.astype(np.float64) * 255
    elif array.size and (array.min() < 0 or array.max() > 255):
        raise InputError("invalid_pixels", "integer arrays must hold pixel values from 0 to 255")
    return _digits(array)


def _digits(array: np.ndarray) -> list[Digit]:
    """``(28, 28)`` or ``(N, 28, 28)`` values 0-255 -> the digits of one number, left to right."""
    sent = list(array.shape)
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3 or array.shape[1:] != (SIZE, SIZE) or not 1 <= array.shape[0] <= MAX_DIGITS:
        raise InputError(
            "invalid_pixels", f"pixels must be a 28x28 array or 1 to {MAX_DIGITS} of them, got shape {sent}"
        )
    images = np.rint(array).astype(np.uint8)
    blank = [i for i, image in enumerate(images) if int(image.max()) < MIN_DIGIT_CONTRAST]
    if blank:
        raise InputError("no_digit_found", f"no digit found: pixel array {blank[0]} is blank")
    return [Digit(image, (0, 0, SIZE, SIZE)) for image in images]


# ------------------------------------------------------------------------------------------ predict_fn


def predict_many(items: list[list[Digit]], model: LoadedModel) -> list[Prediction]:
    """Several requests' digits in one forward pass (and one more for marks tried cut); one
    :class:`Prediction` per request, in order.

    A mark that may be digits touching (``Digit.cuts``) and that the network reads as one digit less
    than ``SURE_PARTS_OF_SURE_WHOLE`` sure is cut every way preprocessing offers; all those parts are
    classified in a second pass, and the mark read as the network is surest of (:func:`best_reading`).
    Marks side by side whose columns overlap (``Digit.joined``) are read as one mark where the network
    reads them together as a symbol (:func:`_joined_symbols`). A request whose prediction is refused
    and that has second looks (:class:`Digits`) is answered by the first of them that is not refused."""
    digits = [digit for request in items for digit in request]
    if not digits:
        return [Prediction([], np.zeros((0, NUM_CLASSES), np.float32), model.version) for _ in items]
    probabilities = _classify([digit.pixels for digit in digits], model)
    symbols = _joined_symbols(digits, probabilities, model)
    covered = {i + k for i, (count, _, _) in symbols.items() for k in range(count)}
    tried = {
        i: digit.cuts()
        for i, digit in enumerate(digits)
        if digit.cuts is not None
        and i not in covered
        and probabilities[i, :NUM_CLASSES].max() < SURE_PARTS_OF_SURE_WHOLE
        and (_wide(digit) or _touching(probabilities[i]) >= TOUCHING_NARROW)
    }
    parts = [part for ways in tried.values() for way in ways for part in way]
    part_probabilities = _classify([part.pixels for part in parts], model) if parts else None
    readings, row = [], 0  # per mark: (the digits it is read as, their probabilities, whether cut)
    for i, digit in enumerate(digits):
        if i in symbols:
            _, mark, probs = symbols[i]
            reading = ([mark], probs, False)
        elif i in covered:
            reading = ([], probabilities[i:i], False)
        elif i in tried:
            options = [([digit], probabilities[i : i + 1])]
            for way in tried[i]:
                rows = part_probabilities[row : row + len(way)]
                row += len(way)
                if not _lying_one(way, rows):
                    options.append((list(way), rows))
            spans = [[(part.box[0], part.box[2]) for part in found] for found, _ in options]
            k = best_reading([p for _, p in options], spans)
            reading = (*options[k], k > 0)
        else:
            reading = ([digit], probabilities[i : i + 1], False)
        readings.append(reading)
    whole, part = model.not_a_digit_threshold, refusal.part_limit(model.not_a_digit_threshold)
    predictions, start = [], 0
    for request in items:
        mine = readings[start : start + len(request)]
        start += len(request)
        chosen = [digit for found, _, _ in mine for digit in found]
        rows = np.concatenate([p for _, p, _ in mine]) if mine else np.zeros((0, NUM_CLASSES), np.float32)
        digit_rows, not_digit = refusal.split(rows)
        limits = np.array([part if cut else whole for found, _, cut in mine for _ in found])
        first_look = getattr(request, "first_look", None)
        floor = model.confidence_floor
        predictions.append(Prediction(chosen, digit_rows, model.version, not_digit, limits, floor, first_look))
    for k, request in enumerate(items):
        blank = None
        refused = _refused(predictions[k])
        unsure = predictions[k].confidence < UNSURE
        for look in getattr(request, "second_looks", ()) if refused or unsure else ():
            try:
                again = predict_many([look()], model)[0]
            except NoSecondLook:
                continue
            except InputError as error:
                if refused:
                    blank = blank or _blank_but_for_shadow(look, None, error)
                continue
            if not _refused(again) and (refused or again.confidence > predictions[k].confidence):
                predictions[k] = again
                break
        else:
            if blank is not None:
                predictions[k] = replace(predictions[k], first_look=blank)
    return predictions


def _blank_but_for_shadow(
    look: functools.partial[list[Digit]], first: InputError | None, again: InputError
) -> InputError | None:
    """``again`` when it is the shadow's second look (``shadow_edge``) finding no digit where the first
    look refused a mark (``first``: the first look's refusal, ``None`` when the network refused it): the
    picture is blank but for the shadow, whose edge the first look took for the mark; the answer then.
    Marks on several lines (a page of pictures) are left as they were refused."""
    marks = first is None or first.code in ("not_a_digit", "low_confidence")
    return again if marks and look.keywords.get("shadow_edge") and again.code == "no_digit_found" else None


def _refused(prediction: Prediction) -> bool:
    """Whether :func:`refuse` refuses ``prediction``."""
    try:
        refuse(prediction)
    except InputError:
        return True
    return False


def _joined_symbols(
    digits: list[Digit], probabilities: np.ndarray, model: LoadedModel
) -> dict[int, tuple[int, Digit, np.ndarray]]:
    """The runs of marks whose columns overlap (``Digit.joined``) that a 12-class network reads, joined
    into one mark, as a symbol at least ``SURE_SYMBOL`` sure (:func:`_symbol`; the two rings and the
    slash of a % typed apart, each of which reads as a digit): ``{index of the first mark: (how many
    marks, the joined mark, its probabilities (1, 12))}``."""
    if probabilities.shape[1] <= TOUCHING:
        return {}
    joins = {i: digit.joined() for i, digit in enumerate(digits) if digit.joined is not None}
    if not joins:
        return {}
    rows = _classify([mark.pixels for _, mark in joins.values()], model)
    return {
        i: (count, mark, rows[k : k + 1])
        for k, (i, (count, mark)) in enumerate(joins.items())
        if _symbol(rows[k], SURE_SYMBOL)
    }


def _lying_one(parts: tuple[Digit, ...], probabilities: np.ndarray) -> bool:
    """Whether a part of a cut that the network reads as a 1 is wider than tall: a stroke lying on its
    side (a piece of a 7's bar in a number turned on the page) that looks upright once scaled into the
    network's 20x20 box. A 1, even slanting, is taller than wide."""
    for part, row in zip(parts, probabilities, strict=True):
        x0, y0, x1, y1 = part.box
        if int(row[:NUM_CLASSES].argmax()) == 1 and x1 - x0 > y1 - y0:
            return True
    return False


def _wide(digit: Digit) -> bool:
    """Whether a mark is at least ``SPLIT_ASPECT`` as wide as tall: perhaps digits that touch, whatever
    the network says (preprocessing offers cuts of narrower marks too, from ``NARROW_SPLIT_ASPECT``)."""
    x0, y0, x1, y1 = digit.box
    return x1 - x0 >= SPLIT_ASPECT * (y1 - y0)


def _touching(probabilities: np.ndarray) -> float:
    """A mark's probability of being digits that touch, from a 12-class network's row (0 from others)."""
    return float(probabilities[TOUCHING]) if probabilities.shape[-1] > TOUCHING else 0.0


def _classify(pixels: list[np.ndarray], model: LoadedModel) -> np.ndarray:
    """28x28 uint8 digits -> ``(N, 10)`` probabilities (``(N, 11)`` with "not a digit", ``(N, 12)`` and
    "digits that touch"), one forward pass."""
    with torch.inference_mode():
        logits = model.network(normalize(np.stack(pixels)))
        return torch.softmax(logits, dim=1).numpy()


#: A mark narrower than ``SPLIT_ASPECT`` (a 1 against its neighbour, "41") is tried cut only when the
#: network gives it at least this probability of being digits that touch.
TOUCHING_NARROW = 0.5
#: A mark read as one digit at least this sure is never cut into 1s only (a wide 0's two sides).
SURE_NOT_ONES = 0.8
#: Where SPLIT_GAIN would ask for more, a cut is taken when its parts read at least this sure and surer
#: than the whole (the network, trained with label smoothing, is rarely above 0.95): two digits joined
#: so that the network still reads one (two 4s whose bars run into each other, read as a 4 at
#: 0.80-0.88) read 0.95 cut, while no cut of a wide single digit reaches 0.83. A mark read at least
#: this sure as one digit is not tried cut at all: it stays one, and most wide single digits are read
#: that sure, so their cuts are not rendered (measured: docs/model.md, step 4).
SURE_PARTS_OF_SURE_WHOLE = 0.9
#: A cut is taken when the network is this many times surer of its parts (the geometric mean of its
#: confidence in each) than of the whole mark. Lower, more wide single digits are cut (a 2 with a
#: long base read as "62"); higher, fewer touching digits are read.
SPLIT_GAIN = 1.2
#: ... and only when the network is at least this sure of the parts (the same geometric mean): a blurry
#: digit (an enlarged 16x16 scan) read at 0.4 as one is not cut into parts read at 0.55.
SURE_PARTS = 0.6
#: ... and at least this sure when the whole mark is more likely no digit than a digit (measured on the
#: cut marks of the recognition sets: the pieces of touching digits read at 0.72 or more, those of
#: scribbles and letters at 0.62 or more; docs/recognition.md).
SURE_PARTS_OF_NO_DIGIT = 0.7
#: A part of any reading of a mark that the network reads as a symbol at least this sure (and more
#: likely a symbol than digits that touch) is not cut into digits by another reading: a 0 run into the
#: % after it is a 0 and a symbol, not "096". From 0.75, pieces of tightly drawn digits (half an 8
#: and a stroke of its neighbour) read as symbols too (measured: docs/model.md, step 4).
SURE_SYMBOL = 0.8


def best_reading(options: list[np.ndarray], spans: list[list[tuple[int, int]]] | None = None) -> int:
    """Which reading of a mark to take: ``options[0]`` holds the network's probabilities for the whole
    mark (one row), each other one those for the parts of one way to cut it (10 columns, or 11 with
    "not a digit"); ``spans``, where given, each part's columns ``(x0, x1)``, option by option. The
    whole, unless a cut makes the network at least ``SPLIT_GAIN`` times surer of the digits (or, where
    that is more, surer than the whole and ``SURE_PARTS_OF_SURE_WHOLE`` sure) and ``SURE_PARTS`` sure;
    of several such cuts, the surest. Digits that touch read as no digit as a whole, and so do letters,
    symbols and scribbles, whose pieces read as digits too: a mark more likely no digit than a digit
    is cut only into parts ``SURE_PARTS_OF_NO_DIGIT`` sure, and never into 1s only (the strokes of a
    letter, m n H W, each read as a 1; 1s, single strokes, seldom run into each other); nor is a mark
    read as one digit :data:`SURE_NOT_ONES` sure or more (a wide 0's two sides).
    With a twelfth output, "digits that touch", a symbol (:func:`_symbol`: a % cut at its slash is a
    9 and a 6) is not cut: neither the whole mark, nor a part of another cut (:func:`_splits_a_symbol`:
    a 0 run into the % after it is read as "096" only by a cut through the %)."""
    if _symbol(options[0][0]):
        return 0
    whole = float(options[0][:, :NUM_CLASSES].max())
    no_digit = options[0].shape[1] > NUM_CLASSES and float(options[0][0, NUM_CLASSES]) >= refusal.PART_THRESHOLD
    symbols = [] if spans is None else _symbol_spans(options, spans)
    gain = min(SPLIT_GAIN * whole, max(whole, SURE_PARTS_OF_SURE_WHOLE))
    best, surest = 0, max(gain, SURE_PARTS_OF_NO_DIGIT if no_digit else SURE_PARTS)
    for k, option in enumerate(options[1:], start=1):
        digits = option[:, :NUM_CLASSES]
        sureness = float(np.exp(np.log(digits.max(axis=1)).mean()))
        ones_only = (digits.argmax(axis=1) == 1).all()
        if (
            sureness >= surest
            and not ((no_digit or whole >= SURE_NOT_ONES) and ones_only)
            and not (symbols and _splits_a_symbol(spans[k], symbols))
        ):
            best, surest = k, sureness
    return best


def _symbol(row: np.ndarray, sure: float = refusal.PART_THRESHOLD) -> bool:
    """Whether a 12-class network reads a mark as no digit at least ``sure`` (by default: more likely
    no digit than a digit, ``refusal.PART_THRESHOLD``) and more likely a symbol than digits that touch."""
    no_digit = float(row[NUM_CLASSES]) if len(row) > TOUCHING else 0.0
    return no_digit >= sure and no_digit > _touching(row)


def _symbol_spans(options: list[np.ndarray], spans: list[list[tuple[int, int]]]) -> list[tuple[int, int]]:
    """The columns of every part of every reading that the network reads as a symbol at least
    ``SURE_SYMBOL`` sure."""
    return [
        span
        for option, parts in zip(options, spans, strict=True)
        for row, span in zip(option, parts, strict=True)
        if _symbol(row, SURE_SYMBOL)
    ]


def _splits_a_symbol(parts: list[tuple[int, int]], symbols: list[tuple[int, int]]) -> bool:
    """Whether two or more neighbouring ``parts`` of a cut lie within one of ``symbols`` (allowing a
    sixth of its width at either end: cuts of one mark differ by a few columns): digits there would
    be the pieces of a symbol."""
    for x0, x1 in symbols:
        margin = (x1 - x0) / 6
        inside = [x0 - margin <= a and b <= x1 + margin for a, b in parts]
        if any(first and second for first, second in itertools.pairwise(inside)):
            return True
    return False


def predict_fn(data: list[Digit], model: LoadedModel) -> Prediction:
    return predict_many([data], model)[0]


# ------------------------------------------------------------------------------------------- output_fn


def _response_type(accept: str | None) -> str | None:
    """The first type of ``accept`` (in the order given) that we answer in: JSON (also for ``*/*`` and
    ``application/*``) or NPY; None when there is none."""
    for part in (accept or JSON).split(","):
        wanted = media_type(part)
        if wanted in (JSON, "application/*", "*/*", ""):
            return JSON
        if wanted == NPY:
            return NPY
    return None


def output_fn(prediction: Prediction, accept: str | None) -> tuple[str | bytes, str]:
    """``(body, content type)``: JSON (``docs/contracts.md``), or for ``Accept: application/x-npy`` the
    ``(digits, 10)`` float32 probabilities as ``.npy``; ``unsupported_accept`` for other types."""
    response_type = _response_type(accept)
    if response_type is None:
        raise InputError("unsupported_accept", f"cannot answer in {accept!r}; use {JSON} or {NPY}")
    if response_type == NPY:
        refuse(prediction)  # a refusal in every format
        return write_npy(prediction.probabilities.astype(np.float32)), NPY
    return json.dumps(to_response(prediction)), JSON


# ---------------------------------------------------------------------------------------- transform_fn


def transform_fn(
    model: LoadedModel, body: bytes | str, content_type: str | None, accept: str | None, context: Any = None
) -> tuple[str | bytes, str]:
    """One request, end to end: ``(body, content type)`` of the answer, whatever happens.

    An :class:`~model.contract.InputError` becomes its JSON error body with its status; any other
    exception is logged with its traceback (the endpoint's CloudWatch log) and answered as 500
    ``internal_error`` without it. ``context`` is TorchServe's per-request context (``None`` when called
    directly: the status is then the caller's to read from the body)."""
    try:
        return output_fn(predict_fn(input_fn(body, content_type), model), accept)
    except InputError as exc:
        error = exc
    except Exception:
        log.exception("inference failed (content type %r, %d bytes)", content_type, len(body or b""))
        error = InputError("internal_error", "the model failed on this request; the endpoint's log has the details")
    if context is not None:
        context.set_response_status(error.status, error.code)
    return json.dumps(error.to_dict()), JSON


def to_response(prediction: Prediction) -> dict[str, Any]:
    """The response as a dict (what ``output_fn`` serialises), unless :func:`refuse` refuses it."""
    refuse(prediction)
    probs = prediction.probabilities.astype(np.float64)
    best = probs.argmax(axis=1)
    digits = [
        {
            "digit": int(best[i]),
            "confidence": round(float(probs[i, best[i]]), 6),
            "probabilities": [round(float(p), 6) for p in probs[i]],
            "box": [int(v) for v in digit.box],
        }
        for i, digit in enumerate(prediction.digits)
    ]
    first = probs[0]
    ranked = np.argsort(-first, kind="stable")[:TOP_K]
    return {
        "digit": digits[0]["digit"] if len(digits) == 1 else None,
        "number": "".join(str(d["digit"]) for d in digits),
        "confidence": round(prediction.confidence, 6),
        "probabilities": digits[0]["probabilities"],
        "top_k": [{"digit": int(k), "probability": round(float(first[k]), 6)} for k in ranked],
        "digits": digits,
        "model_input": model_input_png(prediction.digits),
        "model_version": prediction.model_version,
    }


def refuse(prediction: Prediction) -> None:
    """Raise ``not_a_digit`` when a mark is no digit (:func:`model.refusal.check`), else ``low_confidence``
    when a digit is read under the confidence floor (:func:`model.refusal.check_confidence`); a second
    look's prediction refused so raises the first look's refusal instead (``Prediction.first_look``)."""
    boxes = [d.box for d in prediction.digits]
    try:
        if prediction.not_digit is not None:
            refusal.check(prediction.not_digit, prediction.not_a_digit_threshold, boxes)
        refusal.check_confidence(prediction.probabilities, prediction.confidence_floor, boxes)
    except InputError:
        if prediction.first_look is not None:
            raise prediction.first_look from None
        raise


def model_input_png(digits: list[Digit]) -> str:
    """The 28x28 images the network saw, side by side (28 x 28n), as base64 PNG."""
    strip = np.concatenate([digit.pixels for digit in digits], axis=1)
    buffer = io.BytesIO()
    Image.fromarray(strip).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")
