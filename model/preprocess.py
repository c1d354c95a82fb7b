"""Any uploaded image -> the 28x28 digit images the network expects, made the way MNIST itself was made.

Every path (endpoint, CLI, UI) goes through :func:`preprocess`. The steps:

1. **Decode safely** (:func:`decode`): only PNG, JPEG, WebP, BMP, GIF (first frame) and TIFF; the byte
   size and the pixel count are checked from the header *before* the pixels are decoded (decompression
   bombs); EXIF orientation is applied; large JPEGs are decoded at reduced scale. In :mod:`model.decoding`.
2. **Grey levels** (:func:`to_grey`): every Pillow mode becomes one float image; 16/32-bit and float
   images are scaled to 8 bits; transparency is composited so that transparent pixels are background,
   whether the picture is in the colours (transparent padding) or only in the alpha channel (a canvas
   stroke). Images are brought to a working size of about :data:`WORK_SIZE` squared pixels. In
   :mod:`model.grey_levels`.
3. **Ink** (:func:`model.ink.ink_map`): the printed lines of ruled or squared paper are divided out of the
   picture first (:func:`without_printed_lines`), the ink over them kept; the paper (or canvas) is
   modelled as a smooth quadratic surface fitted robustly to the background pixels and subtracted,
   which removes uneven lighting and shadows; the ink's polarity (dark on light or light on dark) is
   read from which side of the paper its pixels lie; paper grain below a noise threshold (4 sigma of
   the background, estimated by the MAD) goes to 0.
   Faint writing (a pencil, a fine line in a large photo) is followed down to that noise, and read
   again from a closer crop where it is small in a photo. A shadow cast across a photo's writing,
   whose sharp edge the surface cannot follow, is taken out with the paper's morphological closing.
   In :mod:`model.ink`; the printed lines in :mod:`model.printed_lines`, the paper's surface and its noise
   in :mod:`model.paper`, the shadow's closing in :mod:`model.shadows` (a shadow's straight edge, a second
   look, in :mod:`model.shadow_edge`).
4. **Digits** (:func:`find_digits`): ink pixels above an Otsu threshold are labelled into connected
   components; specks are dropped; broken strokes (pieces stacked over each other) are merged; marks
   much shorter than the tallest one are dropped, except punctuation in a number (a decimal point, a
   comma, a colon, a dash, a minus sign), which is refused (``not_a_digit``: without it, the number
   would be another); the rest are digits, left to right, on one line (digits on several lines, one
   above another, are refused: ``several_lines``). The lines of a form's printed boxes, a ring drawn
   round a digit and a notebook's margin line (where the page's lines are too faint to be found) are
   not ink. A number of three digits or more on a sloping line is turned level and read again.
   A mark at least as wide as tall may be digits that touch: it also offers ways to cut it into
   digits (:attr:`Digit.cuts`), and the classifier reads it cut if it is much surer of the parts.
   A blank, uniform or noise-only image has none: ``no_digit_found``, never a guessed digit. A sheet of
   paper photographed on a table (a solid region, unlike strokes), a card, a badge or a round button
   is cropped to and read alone, and a few marks too small for digits in a large picture are read
   again from a crop of it around them.
   In :mod:`model.digits`, which takes out what is not ink (:mod:`model.tables`, :mod:`model.frames`,
   :mod:`model.margin_line`), reads a sheet, a card or a badge alone (:mod:`model.sheets`) and groups the
   components (:mod:`model.components`) into digits (:mod:`model.grouping`, :mod:`model.punctuation`); the
   cuts and joins a mark offers in :mod:`model.cuts`; the refusals and signals passed between the steps in
   :mod:`model.exceptions`. The closer looks (a crop of the picture read again) are this module's.
5. **MNIST normalisation** (:func:`model.rendering.render_digit`): each digit's grey ink is cropped to its box, its
   stroke width brought to MNIST's (thin pen lines are thickened), scaled with anti-aliasing to fit a
   20x20 box keeping the aspect ratio, and placed in a 28x28 field with its centre of mass at the centre.
   In :mod:`model.rendering`, with :class:`Digit`.

A 28x28 picture already in MNIST's normal form skips steps 2-5 (:func:`mnist_form`): it is what
they would make, less the blur of scaling it up and back down.

The result is uint8, light on dark, like MNIST; the network's own normalisation
(``model.network.normalize``) is applied by the inference handlers. Numpy and Pillow only (no torch),
so the UI and tools import this cheaply; nothing newer than Pillow 9.1 / numpy 1.23 / Python 3.11.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from math import ceil

import numpy as np
from PIL import Image

from .components import label_components, overlap_length
from .contract import InputError
from .decoding import WORK_SIZE, decode, decode_with_size, work_factor
from .digits import MAX_DIGITS, SPLIT_ASPECT, find_digits
from .exceptions import (
    ZOOM_PIXELS,
    ZOOM_SHARE,
    FaintWriting,
    LocatedError,
    NoSecondLook,
    Punctuation,
    ShadowOnly,
    TooSmallError,
)
from .grey_levels import array_to_image, is_transparent, split_bands, to_grey
from .printed_lines import without_printed_lines
from .rendering import BOX, MIN_DIGIT_CONTRAST, SIZE, Digit, with_boxes

__all__ = [
    "MAX_DIGITS",
    "MIN_DIGIT_CONTRAST",
    "SIZE",
    "SPLIT_ASPECT",
    "WORK_SIZE",
    "Digit",
    "NoSecondLook",
    "Punctuation",
    "ShadowOnly",
    "decode",
    "is_line",
    "is_straight",
    "label_components",
    "mnist_form",
    "preprocess",
    "to_grey",
    "without_printed_lines",
]

#: A lone mark left once a shadow's edge is divided out (:func:`_past_a_shadow`), the first look's lone
#: mark gone, whose box is this many times as long as it is wide or more is a line the division left of
#: the edge; the first look's, so long, was the edge itself (a digit's box is at most about twice as
#: tall as wide, but a 1's).
EDGE_LINE = 4

#: A number of two digits or more found in a photo (a picture reduced to the working size), its digits
#: this many working pixels tall or less, is looked at again in a crop of the picture around it (half
#: their height on every side, at most :data:`ZOOM_SHARE` of the picture) for punctuation: a decimal
#: point written with the digits' pen is under the 2 working pixels a dot needs
#: (:data:`model.punctuation.DOT_FILL`) once digits are that small (a pen a twentieth of their height: a
#: pixel and a half at 30).
CLOSER_HEIGHT = 30


def mnist_form(image: Image.Image) -> Digit | None:
    """A 28x28 picture already in MNIST's normal form -> that digit as it is; else ``None``.

    MNIST's own images (and the digits of any MNIST-style tool) are already normalised: an opaque grey
    field of exactly 0 (or, inverted, 255) around a digit whose longer side is 20 pixels, its centre
    of mass within a pixel of the centre. Running them through the pipeline would only blur them (they
    are enlarged to the working size and scaled back), so such a picture is taken as it is: an MNIST
    digit uploaded as a PNG reads exactly like the same digit sent as ``pixels``.
    """
    if image.size != (SIZE, SIZE) or image.mode not in ("L", "LA", "RGB", "RGBA", "P", "1"):
        return None
    grey, alpha = split_bands(image)
    if alpha is not None and alpha.getextrema()[0] < 255:
        return None  # transparency: composited by the pipeline
    pixels = np.asarray(grey, dtype=np.uint8)
    background = int(np.bincount(pixels.ravel(), minlength=256).argmax())
    if background == 255:
        pixels = 255 - pixels
    elif background != 0:
        return None
    if int(pixels.max()) < 128:
        return None
    rows, cols = np.flatnonzero(pixels.any(axis=1)), np.flatnonzero(pixels.any(axis=0))
    if max(rows[-1] + 1 - rows[0], cols[-1] + 1 - cols[0]) != BOX:
        return None
    mass = pixels.astype(np.float64)
    total = mass.sum()
    cy, cx = float(mass.sum(axis=1) @ np.arange(SIZE)) / total, float(mass.sum(axis=0) @ np.arange(SIZE)) / total
    if abs(cy - SIZE / 2) > 1.0 or abs(cx - SIZE / 2) > 1.0:
        return None
    return Digit(pixels.copy(), (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1))


def preprocess(
    image: bytes | Image.Image | np.ndarray,
    shadow_edge: bool = False,
    sheet_level: bool = False,
    pair_level: bool = False,
) -> list[Digit]:
    """Any image (encoded bytes, a Pillow image, or an array such as a canvas's RGBA) -> its digits,
    left to right, each as 28x28 uint8 MNIST-style pixels with its box in the input's pixels.

    A 28x28 picture already in MNIST's normal form is taken as it is (:func:`mnist_form`).
    Raises ``InputError`` (see :mod:`model.contract`) for anything that is not an image with a digit.
    Second looks at a photo whose first reading was refused (:class:`NoSecondLook` when it offers none):
    ``shadow_edge``, a shadow's straight edge across it divided out first (:mod:`model.shadow_edge`);
    ``sheet_level``, a sheet lying turned read turned level, the writing along its edges (the first look
    reads it upright in the picture, as people write on a sheet lying askew before them); ``pair_level``,
    a number of two marks on a slope turned level (the first look turns three or more:
    :data:`model.grouping.LINE_DIGITS`).
    """
    original = image
    if isinstance(image, (bytes, bytearray, memoryview)):
        if (shadow_edge or sheet_level or pair_level) and work_factor(
            *Image.open(io.BytesIO(image)).size, WORK_SIZE
        ) < 2:
            raise NoSecondLook  # no photo (a picture reduced twice or more): known from its header alone
        image, (width, height) = decode_with_size(bytes(image), WORK_SIZE)
    elif isinstance(image, np.ndarray):
        height, width = image.shape[:2]
        if (height, width) == (SIZE, SIZE):
            image = array_to_image(image)
    else:
        width, height = image.size
    if isinstance(image, Image.Image) and (already := mnist_form(image)) is not None:
        return [already]
    grey = to_grey(image)
    # Working pixels per input pixel (a large JPEG may have been decoded at reduced scale already).
    sx, sy = grey.shape[1] / width, grey.shape[0] / height

    def to_input(box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        x0, y0, x1, y1 = box
        return int(x0 / sx), int(y0 / sy), min(width, ceil(x1 / sx)), min(height, ceil(y1 / sy))

    def closer(refused: TooSmallError | FaintWriting) -> list[Digit]:
        """What a closer look finds: at faint writing, where its lines keep more of their contrast (what it
        finds, or not, is the answer); at marks too small, refused as they were when it finds no digit."""
        crop = (
            to_input(refused.box)
            if isinstance(refused, FaintWriting)
            else _closer(to_input(refused.box), (width, height))
        )
        if crop is None:
            raise refused
        picture, scale = _cropped(original, image, crop, (width, height))
        try:
            return _read_crop(picture, crop, scale)
        except TooSmallError:
            if isinstance(refused, FaintWriting):
                raise
            raise refused from None

    try:
        # A picture reduced twice or more is a photo or a scan of a page: a table may show round the sheet.
        photo = sx <= 0.5
        found = [
            with_boxes(digit, to_input)
            for digit in find_digits(
                grey, photo, shadow_edge=shadow_edge, sheet_level=sheet_level, pair_level=pair_level
            )
        ]
    except LocatedError as located:
        raise located.moved(to_input) from None
    except (TooSmallError, FaintWriting) as refused:
        found = closer(refused)
    else:  # a number small in a photo: looked at closer, where a decimal point written small is seen
        if photo and (crop := _closer_number(found, (width, height), sy)):
            picture, scale = _cropped(original, image, crop, (width, height))
            try:
                _read_crop(picture, crop, scale)
            except Punctuation:
                raise
            except InputError:
                pass  # the digits stay as the first look read them (reading them closer: as many right as wrong)
    if photo and len(found) == 1 and not shadow_edge and not is_transparent(image):  # no shadow falls on a drawing
        lit = _past_a_shadow(grey, found[0].box, to_input, closer)
        if isinstance(lit, InputError):
            raise lit
        found = lit or found
    return found


def _past_a_shadow(
    grey: np.ndarray,
    mark: tuple[int, int, int, int],
    to_input: Callable[[tuple[int, int, int, int]], tuple[int, int, int, int]],
    closer: Callable[[TooSmallError | FaintWriting], list[Digit]],
) -> list[Digit] | InputError | None:
    """A photo whose first look found one ``mark`` (its box in the picture's pixels), read again once a
    shadow's straight edge across it is divided out (:func:`model.shadow_edge.without_shadow_edge`; marks too
    small or faint read by ``closer``, :func:`preprocess`'s closer look; ``to_input``: working pixels to the
    picture's), when that mark was the shadow: :class:`ShadowOnly` when no mark is left (the edge across a
    blank sheet, read as a 1), or one line the first look did not see, its long side :data:`EDGE_LINE`
    times its short side or more (what the division left of a hard edge, or where it crosses the sheet's
    edge); when one other mark is left, the digits it reads if the first look's mark was a line too (the
    edge, read as a 1: a 9 beside it; a 4 on a strip of paper whose edge was taken for a shadow's stays).
    Else ``None``: the first look stands."""
    try:
        try:
            lit = [with_boxes(digit, to_input) for digit in find_digits(grey, photo=True, shadow_edge=True)]
        except (TooSmallError, FaintWriting) as refused:
            lit = closer(refused)
    except InputError as again:
        return ShadowOnly(again.message) if again.code == "no_digit_found" else None
    except NoSecondLook:  # no shadow's edge
        return None
    if len(lit) != 1 or (
        overlap_length(mark[0], mark[2], *lit[0].box[0::2]) and overlap_length(mark[1], mark[3], *lit[0].box[1::2])
    ):
        return None
    if is_line(lit[0].box):
        return ShadowOnly("no digit found: the only mark is the edge of a shadow across the paper")
    return lit if is_line(mark) else None


def is_line(box: tuple[int, int, int, int]) -> bool:
    """Whether a mark's ``box`` is :data:`EDGE_LINE` times as long as it is wide or more."""
    x0, y0, x1, y1 = box
    return max(x1 - x0, y1 - y0) >= EDGE_LINE * min(x1 - x0, y1 - y0)


def is_straight(digit: Digit) -> bool:
    """Whether a mark as the network sees it (``digit.pixels``) is a straight line at any slant: its ink
    spread across its main axis (the standard deviation, weighted by the pixels' ink) :data:`EDGE_LINE`
    times less than along it or more, as :func:`is_line`'s box is for a line upright or level."""
    ink = digit.pixels.astype(np.float64).ravel()
    if not ink.any():
        return False
    ys, xs = np.mgrid[0:SIZE, 0:SIZE]
    across, along = np.linalg.eigvalsh(np.cov(np.stack([xs.ravel(), ys.ravel()]), aweights=ink))
    return bool(across * EDGE_LINE**2 <= along)


def _read_crop(picture: Image.Image | np.ndarray, crop: tuple[int, int, int, int], scale: float) -> list[Digit]:
    """:func:`preprocess` on ``picture``, the ``crop`` of a picture enlarged ``scale`` times: the digits,
    and the marks a refusal names, in the pixels of the picture it was cut from."""
    x0, y0 = crop[:2]

    def to_picture(box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        return x0 + int(box[0] / scale), y0 + int(box[1] / scale), x0 + ceil(box[2] / scale), y0 + ceil(box[3] / scale)

    try:
        return [with_boxes(digit, to_picture) for digit in preprocess(picture)]
    except LocatedError as located:
        raise located.moved(to_picture) from None


def _closer(marks: tuple[int, int, int, int], size: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """The crop of a picture of ``size`` (width, height) to look closer at ``marks`` (a box in its
    pixels): the marks and as much again on every side, if they are :data:`ZOOM_PIXELS` tall or more
    and the crop at most :data:`ZOOM_SHARE` of the picture's longer side; else ``None``."""
    x0, y0, x1, y1 = marks
    reach = max(x1 - x0, y1 - y0)
    crop = max(0, x0 - reach), max(0, y0 - reach), min(size[0], x1 + reach), min(size[1], y1 + reach)
    if y1 - y0 < ZOOM_PIXELS or max(crop[2] - crop[0], crop[3] - crop[1]) > ZOOM_SHARE * max(size):
        return None
    return crop


def _closer_number(digits: list[Digit], size: tuple[int, int], work: float) -> tuple[int, int, int, int] | None:
    """The crop of a photo of ``size`` (width, height), reduced to ``work`` working pixels per pixel, in
    which to look for the punctuation of a number of small ``digits`` (boxes in its pixels;
    :data:`CLOSER_HEIGHT`), or ``None``."""
    if len(digits) < 2:
        return None
    x0, y0 = min(d.box[0] for d in digits), min(d.box[1] for d in digits)
    x1, y1 = max(d.box[2] for d in digits), max(d.box[3] for d in digits)
    tallest = max(d.box[3] - d.box[1] for d in digits)
    if tallest * work > CLOSER_HEIGHT:
        return None
    margin = tallest // 2
    crop = max(0, x0 - margin), max(0, y0 - margin), min(size[0], x1 + margin), min(size[1], y1 + margin)
    return crop if max(crop[2] - crop[0], crop[3] - crop[1]) <= ZOOM_SHARE * max(size) else None


def _cropped(
    original: bytes | Image.Image | np.ndarray,
    decoded: Image.Image | np.ndarray,
    crop: tuple[int, int, int, int],
    size: tuple[int, int],
) -> tuple[Image.Image | np.ndarray, float]:
    """The part ``crop`` (in pixels of the upright picture of ``size``) of the picture sent, and its
    pixels per picture pixel: cut from the picture as decoded when that is full size, else (a JPEG
    decoded reduced) from the picture decoded again, reduced only as far as keeps the crop about the
    working size."""
    x0, y0, x1, y1 = crop
    if isinstance(original, np.ndarray):
        return original[y0:y1, x0:x1], 1.0
    if isinstance(original, Image.Image):
        return original.crop(crop), 1.0
    if decoded.size == size:
        return decoded.crop(crop), 1.0
    closer = WORK_SIZE * (size[0] * size[1] / ((x1 - x0) * (y1 - y0))) ** 0.5
    decoded, _ = decode_with_size(bytes(original), round(closer))
    scale = decoded.width / size[0]
    return decoded.crop((int(x0 * scale), int(y0 * scale), ceil(x1 * scale), ceil(y1 * scale))), scale
