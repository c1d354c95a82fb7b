"""Synthetic test images from real MNIST digits: the kinds of pictures people actually send.

Reusable by any test (``from tests.images import ...``). Digits come from the training run's held-out
validation split (:func:`validation_digits`), so a model is never scored on images it trained on.
Everything is deterministic (seeded) and built with numpy + Pillow; no fonts, no network.

Arrays are uint8. "MNIST-style" means light digit on a dark (0) background, like the IDX files.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

# ------------------------------------------------------------------------------------------ MNIST data


@functools.lru_cache(maxsize=4)
def validation_digits(mnist_dir: Path, count: int = 30, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``count`` digits (about equally many of each class) from the held-out validation split of
    ``training.train`` (its default size and seed): ``(images (count, 28, 28) uint8, labels (count,))``."""
    from training.data import load_idx, stratified_split
    from training.train import Config

    data = load_idx(mnist_dir)
    _, val_index = stratified_split(data.labels, Config.val_size, Config.seed)
    labels = data.labels[val_index].numpy()
    rng = np.random.default_rng(seed)
    chosen = []
    for position in range(count):
        members = np.flatnonzero(labels == position % 10)
        chosen.append(members[rng.integers(len(members))])
    index = val_index.numpy()[np.array(chosen)]
    return data.images[index].numpy().copy(), data.labels[index].numpy().copy()


# ------------------------------------------------------------------------------------------- encoding


def encode(image: np.ndarray | Image.Image, fmt: str = "PNG", **options: object) -> bytes:
    """An array or Pillow image -> encoded bytes (``fmt``: PNG, JPEG, WEBP, BMP, GIF, TIFF, ...)."""
    picture = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image))
    buffer = io.BytesIO()
    picture.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def png(image: np.ndarray | Image.Image) -> bytes:
    return encode(image, "PNG")


def jpeg(image: np.ndarray | Image.Image, quality: int = 60) -> bytes:
    picture = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image))
    if picture.mode not in ("L", "RGB", "CMYK"):
        picture = picture.convert("RGB")
    return encode(picture, "JPEG", quality=quality)


# ------------------------------------------------------------------------------------------ transforms


def resize(digit: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """Resize (bicubic up, anti-aliased down) to ``size`` (square side or (width, height))."""
    dims = (size, size) if isinstance(size, int) else size
    return np.asarray(Image.fromarray(digit).resize(dims, Image.Resampling.BICUBIC))


def invert(image: np.ndarray) -> np.ndarray:
    """Light on dark <-> dark on light."""
    return 255 - image


def place(
    digit: np.ndarray, canvas: tuple[int, int], at: tuple[int, int], scale: float = 1.0, background: int = 0
) -> np.ndarray:
    """An MNIST-style digit scaled by ``scale`` and pasted (light on dark, max-combined) with its top-left
    corner at ``at`` = (x, y) on a ``canvas`` = (width, height) of grey ``background``."""
    size = max(1, round(28 * scale))
    tile = resize(digit, size)
    out = np.full((canvas[1], canvas[0]), background, dtype=np.uint8)
    x, y = at
    region = out[y : y + size, x : x + size]
    np.maximum(region, tile[: region.shape[0], : region.shape[1]], out=region)
    return out


def alpha_only(digit: np.ndarray, color: tuple[int, int, int] = (0, 0, 0), size: int = 280) -> np.ndarray:
    """A canvas drawing with a transparent background: RGBA, one colour everywhere, the digit in alpha."""
    alpha = resize(digit, size)
    out = np.zeros((size, size, 4), dtype=np.uint8)
    out[..., :3] = color
    out[..., 3] = alpha
    return out


def _photograph(coverage: np.ndarray, seed: int, tint: tuple[float, float, float], absorb: float = 0.8) -> np.ndarray:
    """Ink ``coverage`` (0-1, the picture's size) photographed on paper: RGB with a lighting gradient
    (bright top-left, shadowed bottom-right), vignetting, paper grain and a tint; the ink absorbs
    ``absorb`` of the light that reaches it (pen ink 80 %), so it is shaded by the same light as the paper."""
    rng = np.random.default_rng(seed)
    height, width = coverage.shape
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    light = 1.0 - 0.27 * (xx / width) - 0.18 * (yy / height)
    light -= 0.25 * ((xx / width - 0.5) ** 2 + (yy / height - 0.5) ** 2)
    paper = 225.0 * light + rng.normal(0, 4.0, (height, width))
    grey = paper * (1.0 - absorb * coverage)
    rgb = np.stack([grey * t for t in tint], axis=-1)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def paper_photo(
    digit: np.ndarray,
    seed: int = 0,
    size: tuple[int, int] = (640, 480),
    tint: tuple[float, float, float] = (1.0, 0.95, 0.85),
) -> np.ndarray:
    """A phone photo of an MNIST digit written in dark ink on paper (RGB, see :func:`_photograph`)."""
    width, height = size
    tile_size = int(min(size) * 0.55)
    ink = Image.fromarray(resize(digit, tile_size)).filter(ImageFilter.GaussianBlur(1.2))
    x, y = int(width * 0.3), int(height * 0.2)
    coverage = np.zeros((height, width), dtype=np.float32)
    coverage[y : y + tile_size, x : x + tile_size] = np.asarray(ink, dtype=np.float32) / 255.0
    return _photograph(coverage, seed, tint)


def pen_photo(
    strokes: Sequence[Sequence[tuple[float, float]]], seed: int = 0, size: int = 800, width: int = 4
) -> np.ndarray:
    """A phone photo of a digit written with a fine pen (strokes ``width`` pixels of a ``size`` page)."""
    alpha = draw_strokes(strokes, size=size, width=width)[..., 3]
    coverage = np.asarray(Image.fromarray(alpha).filter(ImageFilter.GaussianBlur(1.0)), dtype=np.float32) / 255.0
    return _photograph(coverage, seed, (0.95, 0.95, 1.0))


def pencil_photo(
    text: str,
    seed: int = 0,
    size: tuple[int, int] = (800, 600),
    height: int = 160,
    pen: int = 4,
    absorb: float = 0.3,
    lined: bool = False,
) -> np.ndarray:
    """A phone photo of a number written in pencil: :func:`draw_number`'s strokes ``pen`` pixels wide,
    ``height`` tall, somewhere on the page, of graphite taking ``absorb`` of the light (a soft pencil
    pressed lightly: 0.15, hard: 0.45) (:func:`_photograph`). ``lined``: on a ruled page, its light
    blue lines a pixel thin, its red margin line 2 pixels wide an eighth of the way across, the number
    to the right of it. RGB."""
    rng = np.random.default_rng(seed)
    width, page_height = size
    margin = width // 8
    start = margin + width // 20 if lined else 10
    drawn = draw_number(text, height=height, width=pen, seed=seed)[..., 3][:, : width - start - 10]
    x = int(rng.integers(start, max(start + 1, width - drawn.shape[1] - 10)))
    y = int(rng.integers(10, page_height - height - 10))
    coverage = np.zeros((page_height, width), dtype=np.uint8)
    coverage[y : y + height, x : x + drawn.shape[1]] = drawn
    soft = np.asarray(Image.fromarray(coverage).filter(ImageFilter.GaussianBlur(0.8)), dtype=np.float32)
    photo = _photograph(soft / 255.0, seed, (1.0, 0.98, 0.94), absorb)
    if lined:  # printed under the pencil: the graphite darkens them as it darkens the paper
        tinted = photo.astype(np.float32)
        tinted[int(rng.integers(0, 24)) :: 24] *= (0.75, 0.85, 0.97)
        tinted[:, margin : margin + 2] *= (1.0, 0.65, 0.65)
        photo = tinted.astype(np.uint8)
    return photo


#: Paper and ink of :func:`notebook_page` and :func:`in_boxes` (RGB).
NOTEBOOK_PAPER, NOTEBOOK_INK = (250, 250, 244), (25.0, 25.0, 70.0)
FORM_PAPER, FORM_INK = (252, 252, 250), (20.0, 20.0, 60.0)


def notebook_page(
    digit: np.ndarray, paper: str = "ruled", tilt: float = 0.0, size: int = 400, spacing: int = 40
) -> np.ndarray:
    """An MNIST digit written in dark blue ink across the printed lines of a notebook page, RGB:
    ``ruled`` (light blue lines ``spacing`` pixels apart and a red margin) or ``squared`` (a light blue
    grid), the page turned by ``tilt`` degrees as a photo of it would be."""
    page = Image.new("RGB", (size, size), NOTEBOOK_PAPER)
    pen = ImageDraw.Draw(page)
    for at in range(spacing // 2, size, spacing):
        pen.line([(0, at), (size, at)], fill=(150, 180, 230), width=2)
        if paper == "squared":
            pen.line([(at, 0), (at, size)], fill=(150, 180, 230), width=2)
    if paper == "ruled":
        pen.line([(size // 8, 0), (size // 8, size)], fill=(230, 120, 120), width=2)
    tile = size // 2
    top = (size - tile) // 2
    return _written(page, [(digit, top, top)], tile, NOTEBOOK_INK, NOTEBOOK_PAPER, tilt)


def in_boxes(digits: Sequence[np.ndarray], tilt: float = 0.0, cell: int = 140, line: int = 2) -> np.ndarray:
    """MNIST digits written in dark blue ink into a row of printed boxes, one each (a form's field for a
    number, or a single box), the boxes' lines ``line`` pixels wide and dark; the page turned by ``tilt``
    degrees. RGB."""
    margin = cell // 4
    width, height = len(digits) * cell + 2 * margin, cell + 2 * margin
    page = Image.new("RGB", (width, height), FORM_PAPER)
    pen = ImageDraw.Draw(page)
    pen.rectangle([margin, margin, width - margin, height - margin], outline=(40, 40, 40), width=line)
    for i in range(1, len(digits)):
        pen.line([(margin + i * cell, margin), (margin + i * cell, height - margin)], fill=(40, 40, 40), width=line)
    tile = int(cell * 0.8)
    offset = (cell - tile) // 2
    placed = [(digit, margin + i * cell + offset, margin + offset) for i, digit in enumerate(digits)]
    return _written(page, placed, tile, FORM_INK, FORM_PAPER, tilt)


def typed(text: str, font_file: str, size: int) -> np.ndarray:
    """``text`` typed dark on white at ``size`` pixels, half an em of margin."""
    font = ImageFont.truetype(font_file, size)
    left, top, right, bottom = font.getbbox(text)
    picture = Image.new("L", (right - left + size, bottom - top + size), 255)
    ImageDraw.Draw(picture).text((size // 2 - left, size // 2 - top), text, font=font, fill=0)
    return np.asarray(picture)


def circled(digit: np.ndarray, seed: int = 0, size: int = 300) -> np.ndarray:
    """An MNIST digit written in dark blue ink with a ring drawn round it by hand (a circled answer): an
    ellipse of half-axes 0.27-0.4 of the picture, a little wobbly, drawn round 330-400 degrees (open, or
    its ends overlapping), with a 3-8 px pen. RGB."""
    rng = np.random.default_rng(seed)
    page = Image.new("RGB", (size, size), FORM_PAPER)
    rx, ry = size * rng.uniform(0.27, 0.37), size * rng.uniform(0.27, 0.4)
    start = rng.uniform(0, 360)
    turns = np.radians(np.linspace(start, start + rng.uniform(330, 400), 80))
    wobble = 1 + rng.normal(0, 0.01, turns.size)
    ring = list(zip(size / 2 + rx * wobble * np.cos(turns), size / 2 + ry * wobble * np.sin(turns), strict=True))
    ImageDraw.Draw(page).line(ring, fill=(40, 40, 90), width=int(rng.integers(3, 9)), joint="curve")
    tile = round(size * 0.45)
    return _written(page, [(digit, (size - tile) // 2, (size - tile) // 2)], tile, FORM_INK, FORM_PAPER, 0.0)


def _written(
    page: Image.Image,
    digits: Sequence[tuple[np.ndarray, int, int]],
    tile: int,
    ink: tuple[float, float, float],
    paper: tuple[int, int, int],
    tilt: float,
) -> np.ndarray:
    """``page`` with MNIST digits written on it in ``ink``, each ``tile`` pixels square with its top-left
    corner at (x, y), then turned by ``tilt`` degrees (the corners it uncovers are ``paper``). RGB."""
    rgb = np.asarray(page, dtype=np.float32)
    for digit, x, y in digits:
        cover = resize(digit, tile).astype(np.float32)[..., None] / 255.0
        rgb[y : y + tile, x : x + tile] = rgb[y : y + tile, x : x + tile] * (1 - cover) + np.array(ink) * cover
    picture = Image.fromarray(rgb.astype(np.uint8))
    if tilt:
        picture = picture.rotate(tilt, resample=Image.Resampling.BICUBIC, fillcolor=paper)
    return np.asarray(picture)


def sloped(digits: Sequence[np.ndarray], degrees: float, tile: int = 100) -> np.ndarray:
    """A number of MNIST digits written side by side in ink on paper (each ``tile`` pixels square, 0.8 of
    one apart), the picture turned by ``degrees`` counter-clockwise with nothing cut off: a line
    written uphill, or photographed at a slant. RGB."""
    step = round(0.8 * tile)
    page = Image.new("RGB", (step * (len(digits) - 1) + 2 * tile, 2 * tile), FORM_PAPER)
    placed = [(digit, tile // 2 + i * step, tile // 2) for i, digit in enumerate(digits)]
    flat = Image.fromarray(_written(page, placed, tile, FORM_INK, FORM_PAPER, 0.0))
    return np.asarray(flat.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=FORM_PAPER))


def _written_number(digits: Sequence[np.ndarray], size: tuple[int, int], share: float) -> np.ndarray:
    """Ink coverage (0-1) of a number of MNIST digits written across the middle of a picture of
    ``size``, each ``share`` of its shorter side tall, 0.8 of that apart, a pen's soft edge."""
    width, height = size
    tile = int(min(size) * share)
    step = round(0.8 * tile)
    left, top = (width - step * (len(digits) - 1) - tile) // 2, (height - tile) // 2
    coverage = np.zeros((height, width), dtype=np.float32)
    for i, digit in enumerate(digits):
        ink = np.asarray(Image.fromarray(resize(digit, tile)).filter(ImageFilter.GaussianBlur(1.2)), np.float32)
        region = coverage[top : top + tile, left + i * step : left + i * step + tile]
        np.maximum(region, ink / 255.0, out=region)
    return coverage


def turned_sheet(
    digits: Sequence[np.ndarray],
    degrees: float,
    seed: int = 0,
    size: tuple[int, int] = (800, 600),
    offset: tuple[int, int] = (0, 0),
) -> np.ndarray:
    """A phone photo of a sheet with a number of MNIST digits written on it (:func:`_photograph`), the
    camera turned by ``degrees`` counter-clockwise: the sheet fills the frame, turned, and a table
    shows in the corners; moved ``offset`` (right, down) pixels, the table shows along a side. RGB."""
    rng = np.random.default_rng(seed)
    width, height = size
    sheet = Image.fromarray(_photograph(_written_number(digits, size, 0.3), seed, (1.0, 0.97, 0.9)))
    turned = np.asarray(sheet.rotate(degrees, resample=Image.Resampling.BICUBIC, translate=offset))
    inside = (
        np.asarray(Image.new("L", size, 255).rotate(degrees, resample=Image.Resampling.BICUBIC, translate=offset)) > 127
    )
    table = np.clip(rng.uniform(50, 110) + rng.normal(0, 6, (height, width, 3)), 0, 255)
    return np.where(inside[..., None], turned, table).astype(np.uint8)


def held_sheet(digits: Sequence[np.ndarray], side: int = 2, seed: int = 0) -> np.ndarray:
    """A phone photo of a sheet held in a hand (:func:`turned_sheet`, turned up to 2 degrees): a thumb,
    an ellipse of skin 12-20 % of the width across, shaded round, comes in over the frame's edge on
    ``side`` (0 top, 1 bottom, 2 left, 3 right) beside the number. RGB."""
    rng = np.random.default_rng(seed)
    photo = turned_sheet(digits, float(rng.uniform(-2, 2)), seed=seed)
    height, width = photo.shape[:2]
    across, along = rng.uniform(0.12, 0.2) * width, rng.uniform(0.25, 0.4) * height
    x, y = rng.uniform(0.1, 0.7) * width, rng.uniform(0.1, 0.5) * height
    box = [  # the thumb's ellipse: half of it or more in the frame
        (x, -0.5 * along, x + across, 0.6 * along),
        (x, height - 0.7 * along, x + across, height + 0.5 * along),
        (-0.4 * across, y, 0.8 * across, y + 0.7 * along),
        (width - 0.8 * across, y, width + 0.4 * across, y + 0.7 * along),
    ][side]
    mask = Image.new("L", (width, height), 0)
    ImageDraw.Draw(mask).ellipse(box, fill=255)
    cover = np.asarray(mask.filter(ImageFilter.GaussianBlur(3)), np.float32)[..., None] / 255.0
    skin = np.array([rng.uniform(150, 230), rng.uniform(100, 170), rng.uniform(80, 140)], np.float32)
    xx = np.arange(width, dtype=np.float32)
    shade = (0.75 + 0.25 * np.cos((xx - (box[0] + box[2]) / 2) / (box[2] - box[0]) * 3))[None, :, None]
    return (photo * (1 - cover) + skin * shade * cover).clip(0, 255).astype(np.uint8)


def sheet_on_table(
    digits: Sequence[np.ndarray],
    degrees: float,
    share: float,
    seed: int = 0,
    size: tuple[int, int] = (800, 600),
    table: tuple[int, int, int] = (90, 62, 40),
) -> np.ndarray:
    """A phone photo of a sheet (4:3) with a number of MNIST digits written on it (:func:`_photograph`),
    lying wholly inside the frame on a darker table of colour ``table``: the sheet ``share`` of the
    frame's area, turned ``degrees`` counter-clockwise, in the middle. RGB."""
    rng = np.random.default_rng(seed)
    width, height = size
    side = round((share * width * height / 12) ** 0.5)
    paper = Image.fromarray(_photograph(_written_number(digits, (4 * side, 3 * side), 0.3), seed, (1.0, 0.97, 0.9)))
    turned = paper.convert("RGBA").rotate(degrees, resample=Image.Resampling.BICUBIC, expand=True)
    return _on_table(turned, size, table, rng)


def _on_table(
    picture: Image.Image, size: tuple[int, int], colour: float | tuple[int, int, int], rng: np.random.Generator
) -> np.ndarray:
    """``picture`` (RGBA, transparent round what it shows) in the middle of a photo of ``size`` (width,
    height) of a table of ``colour`` with a grain of 5 grey levels. RGB."""
    width, height = size
    photo = Image.fromarray(_table(size, colour, rng))
    photo.paste(picture, ((width - picture.width) // 2, (height - picture.height) // 2), picture)
    return np.asarray(photo)


def _table(size: tuple[int, int], colour: float | tuple[int, int, int], rng: np.random.Generator) -> np.ndarray:
    """A photo of ``size`` (width, height) of a table of ``colour`` with a grain of 5 grey levels. RGB."""
    width, height = size
    return np.clip(np.asarray(colour, np.float64) + rng.normal(0, 5, (height, width, 3)), 0, 255).astype(np.uint8)


def shaded_sheet(
    digits: Sequence[np.ndarray],
    degrees: float,
    share: float,
    seed: int = 0,
    table: tuple[int, int, int] = (90, 62, 40),
) -> np.ndarray:
    """:func:`sheet_on_table` with a shadow's edge across the whole photo, the table and the sheet alike (a
    hand's, a wall's: a half-plane), at any angle within 15 % of the picture's size of its middle (through
    the number, or beside it), 30-60 % darker, its edge blurred 0.5-20 px. RGB."""
    rng = np.random.default_rng(seed)
    return _half_plane_shadow(sheet_on_table(digits, degrees, share, seed, table=table), rng, 0.15, 20.0)


def sunlit_sheet(digits: Sequence[np.ndarray], seed: int = 0, lying: bool = False) -> np.ndarray:
    """A sheet with a number of MNIST digits written on it, photographed in direct sunlight: a shadow's
    edge (a half-plane, 30-60 % darker) sharp to 0.5-1.5 px across the whole photo at any angle, within
    30 % of the picture's size of its middle; the sheet filling the frame, the camera turned up to 4
    degrees (:func:`turned_sheet`), or ``lying`` on a table of one of three colours, turned up to 15
    degrees, 15-45 % of the frame (:func:`sheet_on_table`). RGB."""
    rng = np.random.default_rng(seed)
    if lying:
        table = a_table(rng)
        photo = sheet_on_table(digits, rng.uniform(-15, 15), rng.uniform(0.15, 0.45), seed, table=table)
    else:
        photo = turned_sheet(digits, rng.uniform(-4, 4), seed)
    return _half_plane_shadow(photo, rng, 0.3, 1.5)


#: Tables a sheet lies on in the photos (RGB): wood, grey, near black.
TABLES = ((90, 62, 40), (105, 105, 110), (35, 33, 38))


def a_table(rng: np.random.Generator) -> tuple[int, int, int]:
    """One of :data:`TABLES`, drawn from ``rng``."""
    return TABLES[int(rng.integers(len(TABLES)))]


def lamp_lit_page(digits: Sequence[np.ndarray], seed: int = 0, size: tuple[int, int] = (1200, 900)) -> np.ndarray:
    """A phone photo of a page (4:5) with a number of MNIST digits written on it (none: a blank page),
    plain or ruled (half of them: light blue rules 36 px apart, a red margin line, as a notebook's), lying
    turned 8-32 degrees either way on a wooden table with a grain, 0.65-0.95 of the frame's height and
    moved up to a fifth of it off the middle; a lamp's light falling off across the whole photo from one
    of its corners, to 30-55 % at the farthest; half of them with a sharp shadow's edge (a half-plane,
    30-60 % darker, 0.5-1.5 px) across the page and the table (a new user's trial: blank pages read as a
    1, the page's edge against the darkened table); the camera's exposure puts the lightest paper near
    white. RGB."""
    rng = np.random.default_rng(seed)
    width, height = size
    page_size = (800, 1000)
    page = _photograph(_written_number(digits, page_size, 0.3), seed, (1.0, 0.98, 0.94)).astype(np.float32)
    if rng.random() < 0.5:
        page[120::36] *= (0.62, 0.75, 0.9)
        page[:, 110:113] *= (0.9, 0.4, 0.4)
    side = round(height * rng.uniform(0.65, 0.95) / page_size[1] * page_size[0])
    picture = Image.fromarray(page.astype(np.uint8)).resize((side, side * page_size[1] // page_size[0]))
    turned = picture.convert("RGBA").rotate(
        float(rng.uniform(8, 32) * rng.choice([-1, 1])), resample=Image.Resampling.BICUBIC, expand=True
    )
    photo = Image.fromarray(_table(size, (70, 52, 38), rng))
    dx, dy = (rng.uniform(-0.2, 0.2, 2) * height).astype(int)
    photo.paste(turned, ((width - turned.width) // 2 + dx, (height - turned.height) // 2 + dy), turned)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    corner = rng.integers(0, 2, 2) * (width, height)
    far = np.hypot(xx - corner[0], yy - corner[1]) / np.hypot(width, height)
    lit = np.asarray(photo, np.float32) * (1.0 - (1.0 - rng.uniform(0.3, 0.55)) * far)[..., None]
    if rng.random() < 0.5:
        lit = _half_plane_shadow(lit, rng, 0.3, 1.5).astype(np.float32)
    # the camera's exposure: the lightest paper near white
    return np.clip(lit * (240.0 / np.percentile(lit, 99.5)), 0, 255).astype(np.uint8)


def notebook_photo(digits: Sequence[np.ndarray], seed: int = 0, size: tuple[int, int] = (800, 600)) -> np.ndarray:
    """A phone photo of a ruled notebook page with a number of MNIST digits written on it (none: a blank
    page) taken at an angle (:func:`_photograph`; light blue rules 28-39 px apart, a red margin line an
    eighth of the way across): the page in perspective, its far side 16-50 % narrower, turned up to 8
    degrees, running off the frame on three sides; on the fourth, one of :data:`TABLES` shows beyond it,
    a band 5-20 % of the frame deep, uneven along the side. RGB."""
    rng = np.random.default_rng(seed)
    width, height = size
    page_size = (1000, 750)
    page = _photograph(_written_number(digits, page_size, 0.3), seed, (1.0, 0.98, 0.94)).astype(np.float32)
    spacing = int(rng.integers(28, 40))
    page[int(rng.integers(0, spacing)) :: spacing] *= (0.75, 0.85, 0.97)
    page[:, page_size[0] // 8 : page_size[0] // 8 + 2] *= (1.0, 0.65, 0.65)
    # Where the page's corners land in the frame (top-left, top-right, bottom-right, bottom-left).
    squeeze = rng.uniform(0.08, 0.25) * width
    left, top, right, bottom = rng.uniform(0.05, 0.2, 4) * (width, height, width, height)
    corners = np.array(
        [
            (squeeze - left, -top),
            (width + right - squeeze, -top),
            (width + right, height + bottom),
            (-left, height + bottom),
        ]
    )
    side = int(rng.integers(4))  # where the table shows: the page's side moved into the frame
    moved, axis, overhang, inward = [
        ((0, 3), 0, left, 1),
        ((1, 2), 0, right, -1),
        ((0, 1), 1, top, 1),
        ((2, 3), 1, bottom, -1),
    ][side]
    extent = size[axis]
    depth = rng.uniform(0.05, 0.2) * extent + overhang
    corners[list(moved), axis] += inward * (depth + rng.uniform(-0.05, 0.05, 2) * extent)
    turn = np.deg2rad(rng.uniform(-8, 8))
    centre = np.array([width / 2, height / 2])
    corners = (corners - centre) @ np.array([[np.cos(turn), np.sin(turn)], [-np.sin(turn), np.cos(turn)]]) + centre
    coefficients = _perspective([tuple(corner) for corner in corners], page_size)
    seen = Image.fromarray(page.clip(0, 255).astype(np.uint8)).transform(
        size, Image.Transform.PERSPECTIVE, coefficients, Image.Resampling.BICUBIC
    )
    # The page's share of each pixel, so its edge is blended with the table, not with black.
    inside = Image.new("L", page_size, 255).transform(size, Image.Transform.PERSPECTIVE, coefficients, Image.BILINEAR)
    share = np.asarray(inside, np.float32)[..., None] / 255.0
    table = _table(size, a_table(rng), rng)
    page_seen = np.asarray(seen, np.float32) / np.maximum(share, 1.0 / 255.0)  # undo the blend with black
    return np.clip(share * page_seen + (1.0 - share) * table, 0, 255).astype(np.uint8)


#: Printed grids of squared paper (RGB shares of the light their lines keep): light blue, grey, green,
#: blue.
GRIDS = ((0.75, 0.85, 0.97), (0.8, 0.8, 0.8), (0.85, 0.95, 0.85), (0.6, 0.75, 0.95))


def squared_photo(digits: Sequence[np.ndarray], seed: int = 0, size: tuple[int, int] = (800, 600)) -> np.ndarray:
    """A phone photo of squared (graph) paper filling the frame with a number of MNIST digits written on it
    (none: a blank page; :func:`_photograph`): a grid of :data:`GRIDS` 14-41 px apart, its lines 1-4 px
    wide (a close-up of a 5 mm grid), the digits 15-35 % of the frame tall; a third of the photos turned
    up to 4 degrees, one of :data:`TABLES` in the corners. RGB."""
    rng = np.random.default_rng(seed)
    photo = _photograph(_written_number(digits, size, float(rng.uniform(0.15, 0.35))), seed, (1.0, 0.98, 0.94))
    spacing, line = int(rng.integers(14, 42)), int(rng.integers(1, 5))
    grid = squared(photo, spacing, line, int(rng.integers(0, spacing)), GRIDS[int(rng.integers(len(GRIDS)))])
    picture = Image.fromarray(grid)
    if rng.random() < 1 / 3:
        picture = picture.rotate(float(rng.uniform(-4, 4)), Image.Resampling.BICUBIC, fillcolor=a_table(rng))
    return np.asarray(picture)


def squared(photo: np.ndarray, spacing: int, line: int, start: int, colour: tuple[float, float, float]) -> np.ndarray:
    """``photo`` (RGB) of paper printed with a grid under its ink: lines ``line`` pixels wide ``spacing``
    apart from ``start``, each keeping ``colour`` of the light (darkened by the ink as the paper is). RGB."""
    grid = np.zeros(photo.shape[:2], dtype=bool)
    for offset in range(start, start + line):
        grid[offset::spacing] = True
        grid[:, offset::spacing] = True
    lined = photo.astype(np.float32)
    lined[grid] *= colour
    return lined.astype(np.uint8)


def _perspective(quad: Sequence[tuple[float, float]], size: tuple[int, int]) -> np.ndarray:
    """Pillow's ``PERSPECTIVE`` coefficients mapping the frame's points ``quad`` (where a picture's
    corners land: top-left, top-right, bottom-right, bottom-left) back to a picture of ``size``."""
    width, height = size
    rows, values = [], []
    for (x, y), (u, v) in zip(quad, [(0, 0), (width, 0), (width, height), (0, height)], strict=True):
        rows += [[x, y, 1, 0, 0, 0, -u * x, -u * y], [0, 0, 0, x, y, 1, -v * x, -v * y]]
        values += [u, v]
    return np.linalg.solve(np.array(rows, np.float64), np.array(values, np.float64))


def _half_plane_shadow(photo: np.ndarray, rng: np.random.Generator, off_centre: float, blur: float) -> np.ndarray:
    """``photo`` (RGB) with a shadow over a half-plane (:func:`_cast`, its edge blurred 0.5-``blur`` px) at
    any angle, its edge within ``off_centre`` of the picture's size of its middle; uint8."""
    height, width = photo.shape[:2]
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    centre = width * (0.5 + rng.uniform(-off_centre, off_centre)), height * (0.5 + rng.uniform(-off_centre, off_centre))
    across = (xx - centre[0]) * np.cos(angle) + (yy - centre[1]) * np.sin(angle)
    return _cast(photo.astype(np.float32), across > 0, rng, blur)


def _cast(photo: np.ndarray, inside: np.ndarray, rng: np.random.Generator, blur: float) -> np.ndarray:
    """``photo`` (float RGB) with a shadow over ``inside``, its edge blurred 0.5-``blur`` px, 30-60 %
    darker; uint8."""
    edge = Image.fromarray(inside.astype(np.uint8) * 255).filter(
        ImageFilter.GaussianBlur(float(rng.uniform(0.5, blur)))
    )
    light = 1.0 - rng.uniform(0.3, 0.6) * np.asarray(edge, dtype=np.float32) / 255.0
    return np.clip(photo * light[..., None], 0, 255).astype(np.uint8)


def shadowed(digits: Sequence[np.ndarray], seed: int = 0, size: tuple[int, int] = (640, 480)) -> np.ndarray:
    """A phone photo of a number of MNIST digits written on paper (:func:`_photograph`), a shadow cast
    across it: a hand's or a phone's (a half-plane) or a pen's or a pole's (a band 6-15 % of the shorter
    side wide), at any angle through the middle, 30-60 % darker, its edge blurred 0.5-5 px. RGB."""
    rng = np.random.default_rng(seed)
    width, height = size
    photo = _photograph(_written_number(digits, size, 0.35), seed, (1.0, 0.97, 0.92)).astype(np.float32)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    centre = width * (0.5 + rng.uniform(-0.15, 0.15)), height * (0.5 + rng.uniform(-0.15, 0.15))
    across = (xx - centre[0]) * np.cos(angle) + (yy - centre[1]) * np.sin(angle)
    band = rng.integers(2) == 1
    inside = np.abs(across) < rng.uniform(0.06, 0.15) * min(size) if band else across > 0
    return _cast(photo, inside, rng, 5.0)


def phone_shadow(
    digits: Sequence[np.ndarray], kind: str, seed: int = 0, size: tuple[int, int] = (640, 480)
) -> np.ndarray:
    """A phone photo of a number of MNIST digits written on paper (:func:`_photograph`) with a phone's
    hard-edged shadow, 30-60 % darker, its edge blurred 0.5-3 px: ``"corner"``, a block in a corner
    beside the number, 25-40 % of the width and 20-30 % of the height; ``"most"``, over all of the
    picture but a lit band 15-30 % deep along one side, the number in the shadow. RGB."""
    rng = np.random.default_rng(seed)
    width, height = size
    photo = _photograph(_written_number(digits, size, 0.35), seed, (1.0, 0.97, 0.92)).astype(np.float32)
    inside = np.zeros((height, width), dtype=bool)
    if kind == "corner":
        w, h = int(width * rng.uniform(0.25, 0.4)), int(height * rng.uniform(0.2, 0.3))
        rows = slice(0, h) if rng.integers(2) else slice(height - h, height)
        inside[rows, slice(0, w) if rng.integers(2) else slice(width - w, width)] = True
    else:
        side = int(rng.integers(4))
        depth = rng.uniform(0.15, 0.3)
        inside[:] = True
        if side < 2:
            lit = int(height * depth)
            inside[slice(0, lit) if side == 0 else slice(height - lit, height)] = False
        else:
            lit = int(width * depth)
            inside[:, slice(0, lit) if side == 2 else slice(width - lit, width)] = False
    return _cast(photo, inside, rng, 3.0)


def pen_shadow(
    digits: Sequence[np.ndarray],
    degrees: float,
    shift: float,
    thickness: float = 0.15,
    seed: int = 0,
    size: tuple[int, int] = (640, 480),
) -> np.ndarray:
    """A phone photo of a number of MNIST digits written on paper (:func:`_photograph`) with a pen's
    shadow: a band ``thickness`` of the shorter side wide from edge to edge, ``degrees`` from the
    horizontal, through the middle moved ``shift`` of the width to the right; 30-60 % darker, its
    edge blurred 0.5-3 px. RGB."""
    rng = np.random.default_rng(seed)
    width, height = size
    photo = _photograph(_written_number(digits, size, 0.35), seed, (1.0, 0.97, 0.92)).astype(np.float32)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = np.radians(degrees)
    across = (xx - width * (0.5 + shift)) * np.sin(angle) - (yy - height / 2) * np.cos(angle)
    return _cast(photo, np.abs(across) < thickness / 2 * min(size), rng, 3.0)


def badge(
    text: str,
    colour: tuple[int, int, int],
    screen: tuple[int, int, int],
    height: int = 70,
    width: int = 11,
    margin: int = 20,
) -> tuple[np.ndarray, int, int]:
    """A screenshot of a badge or a round button: ``text`` drawn (:func:`draw_number`, ``height`` tall,
    strokes ``width`` px) in white on a disc of ``colour`` (a pill where the number is wider than
    tall), ``margin`` px of ``screen`` round it: (RGB, where the number starts and ends across)."""
    number = draw_number(text, height=height, width=width)[..., 3]
    side = round(height * 13 / 7)  # the number 0.54 of the disc's height, as in notification badges
    size = (max(side, number.shape[1] + height), side)
    picture = Image.new("RGB", (size[0] + 2 * margin, size[1] + 2 * margin), screen)
    draw = ImageDraw.Draw(picture)
    draw.rounded_rectangle([margin, margin, margin + size[0], margin + size[1]], radius=size[1] // 2, fill=colour)
    left = margin + (size[0] - number.shape[1]) // 2
    picture.paste((255, 255, 255), (left, margin + (size[1] - height) // 2), Image.fromarray(number))
    return np.asarray(picture), left, left + number.shape[1]


def text_field(
    text: str, height: int = 48, dark: bool = True, width: int = 420, screen: int = 18, field: int = 42
) -> tuple[np.ndarray, int, int]:
    """A screenshot of an app's text field holding ``text`` (:func:`draw_number`, ``height`` tall): a
    panel with rounded corners and a thin outline across the screen, the number at its left. Dark mode
    (``dark``): a ``screen`` grey screen, the panel a lighter ``field`` grey, the number near white; else
    their negatives. RGB, and where the number starts and ends across."""
    number = draw_number(text, height=height, width=max(2, height // 14))[..., 3]
    panel = (20, 20, width - 20, 20 + round(height * 1.8))
    picture = Image.new("L", (width, panel[3] + 20), screen)
    draw = ImageDraw.Draw(picture)
    draw.rounded_rectangle(panel, radius=18, fill=field, outline=field + 50, width=3)
    left = panel[0] + height // 2
    picture.paste(235, (left, panel[1] + round(height * 0.4)), Image.fromarray(number))
    grey = np.asarray(picture)
    return np.stack([grey if dark else 255 - grey] * 3, axis=-1), left, left + number.shape[1]


def on_table(photo: np.ndarray, seed: int = 0, grey: float = 60.0) -> np.ndarray:
    """The photo's middle as a sheet of paper lying on a dark table that fills the rest of the frame."""
    rng = np.random.default_rng(seed)
    height, width = photo.shape[:2]
    table = np.clip(grey + rng.normal(0, 6, photo.shape), 0, 255)
    yy, xx = np.mgrid[0:height, 0:width]
    sheet = (yy > 0.12 * height) & (yy < 0.9 * height) & (xx > 0.15 * width) & (xx < 0.85 * width)
    mask = sheet[..., None] if photo.ndim == 3 else sheet
    return np.where(mask, photo, table).astype(np.uint8)


def draw_strokes(
    strokes: Sequence[Sequence[tuple[float, float]]],
    size: int = 280,
    width: int = 18,
    color: tuple[int, int, int, int] = (0, 0, 0, 255),
    background: tuple[int, int, int, int] = (0, 0, 0, 0),
) -> np.ndarray:
    """A mouse drawing on a canvas: polylines (points in 0-1 canvas units) with round joints, RGBA.

    The default is the drawable canvas's: a transparent background, the stroke only in alpha.
    """
    canvas = Image.new("RGBA", (size, size), background)
    pen = ImageDraw.Draw(canvas)
    for stroke in strokes:
        pen_stroke(pen, [(x * size, y * size) for x, y in stroke], width, color)
    return np.asarray(canvas).copy()


def pen_stroke(
    pen: ImageDraw.ImageDraw, points: Sequence[tuple[float, float]], width: float, fill: int | tuple[int, ...]
) -> None:
    """A polyline through ``points`` (pixels) drawn with a round pen ``width`` pixels wide: round joints
    and round ends, as a pen or a mouse leaves it."""
    pen.line(list(points), fill=fill, width=max(1, round(width)), joint="curve")
    for px, py in (points[0], points[-1]):
        pen.ellipse((px - width / 2, py - width / 2, px + width / 2, py + width / 2), fill=fill)


def _arc(
    cx: float, cy: float, rx: float, ry: float, start: float, stop: float, steps: int = 24
) -> list[tuple[float, float]]:
    """Points along an ellipse from angle ``start`` to ``stop`` (degrees, 0 = right, 90 = down)."""
    angles = np.radians(np.linspace(start, stop, steps))
    return [(float(cx + rx * np.cos(t)), float(cy + ry * np.sin(t))) for t in angles]


#: Hand-drawn digits as mouse strokes (polylines in 0-1 canvas units), one way people draw each.
STROKES: dict[int, list[list[tuple[float, float]]]] = {
    0: [_arc(0.5, 0.5, 0.2, 0.33, -90, 270)],
    1: [[(0.45, 0.2), (0.55, 0.12), (0.55, 0.85)]],
    2: [[*_arc(0.5, 0.33, 0.18, 0.17, 200, 380), (0.3, 0.82), (0.72, 0.82)]],
    3: [_arc(0.47, 0.32, 0.18, 0.15, 210, 450) + _arc(0.47, 0.65, 0.2, 0.18, -90, 150)],
    4: [[(0.55, 0.15), (0.28, 0.6), (0.75, 0.6)], [(0.6, 0.35), (0.6, 0.87)]],
    5: [[(0.7, 0.17), (0.38, 0.17), (0.34, 0.45), *_arc(0.5, 0.62, 0.2, 0.2, -120, 150)]],
    6: [[(0.66, 0.15), (0.5, 0.25), (0.36, 0.45), *_arc(0.5, 0.66, 0.17, 0.19, 180, 540)]],
    7: [[(0.28, 0.18), (0.72, 0.18), (0.62, 0.4), (0.45, 0.85)]],
    8: [_arc(0.5, 0.3, 0.15, 0.16, 90, 450), _arc(0.5, 0.67, 0.19, 0.2, -90, 270)],
    9: [[*_arc(0.5, 0.33, 0.17, 0.17, 0, 360), (0.66, 0.45), (0.62, 0.87)]],
}
#: Punctuation a number may hold, in :data:`STROKES`' units: a dot is a stroke of one point.
PUNCTUATION: dict[str, list[list[tuple[float, float]]]] = {
    ".": [[(0.5, 0.84)]],
    ",": [[(0.52, 0.8), (0.46, 0.94)]],
    "-": [[(0.38, 0.52), (0.62, 0.52)]],
    ":": [[(0.5, 0.45)], [(0.5, 0.84)]],
}


def draw_number(
    text: str, height: int = 200, width: int = 12, jitter: float = 0.04, seed: int = 0, spacing: float = 0.62
) -> np.ndarray:
    """A number drawn on a transparent canvas, digit after digit (:data:`STROKES`), slightly uneven
    in size and height like a hand would write it, each ``spacing`` heights after the one before
    (below about 0.5 the digits touch); ``.,-:`` are drawn as :data:`PUNCTUATION`. RGBA, stroke in alpha."""
    rng = np.random.default_rng(seed)
    cell = height * spacing
    # The strokes span about 0.25-0.75 of their square, and the pen's width: that part is drawn,
    # whole (with a smaller spacing, a digit's strokes run into the next one's, never cut off).
    left, span = 0.22, 0.56
    widest = span * height * (1 + 2 * jitter)
    canvas = np.zeros((height, round(cell * (len(text) - 1) + widest + height * 0.3), 4), dtype=np.uint8)
    for i, char in enumerate(text):
        scale = 1.0 + rng.uniform(-2, 2) * jitter
        size = round(height * scale)
        drawn = draw_strokes(PUNCTUATION[char] if char in PUNCTUATION else STROKES[int(char)], size=size, width=width)
        start = round(size * left)
        tile = drawn[:, start : start + round(span * size)]
        top = int(np.clip(round(rng.uniform(-1, 1) * jitter * height), -(size - height) - 1, 0))
        x = round(height * 0.15 + i * cell)
        region = canvas[:, x : x + tile.shape[1]]
        rows = tile[-top : -top + height][: region.shape[0], : region.shape[1]]
        np.maximum(region[: rows.shape[0]], rows, out=region[: rows.shape[0]])
    return canvas


def overwritten(first: int = 0, second: int = 2) -> np.ndarray:
    """One digit drawn over another on the canvas (:data:`STROKES`), as a correction is: a mark the
    network hesitates over (the shipped one reads a 0 under a 2 as 2 with probability 0.25)."""
    return draw_strokes(STROKES[first] + STROKES[second])


def number_on_sheet(text: str, width: int, pen: int = 8, seed: int = 0, degrees: float = 0.0) -> np.ndarray:
    """``text`` drawn (:func:`draw_number`, a pen ``pen`` pixels wide at 200 pixels high) in dark blue
    ink, ``width`` pixels wide, upright, on a sheet lying on a table turned ``degrees`` in an 800x600 photo
    (:func:`sheet_on_table`, half the frame; turned, less): small writing with a fine pen, its decimal
    point a few pixels across. RGB."""
    share = 0.5 if degrees == 0 else 0.3
    photo = Image.fromarray(sheet_on_table([], degrees, share, seed=seed)).convert("RGB")
    ink = Image.fromarray(draw_number(text, width=pen, seed=seed)[..., 3])
    ink = ink.resize((width, max(1, round(ink.height * width / ink.width))), Image.Resampling.BILINEAR)
    photo.paste((20, 20, 60), ((photo.width - ink.width) // 2, (photo.height - ink.height) // 2), ink)
    return np.asarray(photo)


def card_on_table(text: str, degrees: float = 0.0, seed: int = 0, pen: int = 20) -> np.ndarray:
    """A card with ``text`` written large on it (:func:`draw_number`, a pen ``pen`` pixels wide at 200
    pixels high, black), a margin of a sixth of the number's height round it, lying on a wood table turned
    ``degrees`` in an 800x600 photo, 55 % of its width: the writing a fifth of the card or so, as a new
    user's cards (its strokes enclosed by the card, 14-22 % of its box). RGB."""
    rng = np.random.default_rng(seed)
    ink = draw_number(text, width=pen, seed=seed)[..., 3].astype(np.float32) / 255.0
    margin = ink.shape[0] // 6
    ink = np.pad(ink, margin)
    card = np.array((242, 240, 230), np.float32) * (1 - 0.9 * ink[..., None])
    picture = Image.fromarray(card.astype(np.uint8)).convert("RGBA")
    width = 440
    picture = picture.resize((width, round(picture.height * width / picture.width)), Image.Resampling.LANCZOS)
    picture = picture.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=True)
    return _on_table(picture, (800, 600), (95, 75, 60), rng)


def strip_on_table(text: str, degrees: float = 0.0, seed: int = 0, upright: bool = False) -> np.ndarray:
    """A strip of paper (a receipt, a ticket) 130 pixels wide with ``text`` written on it, upright
    (:func:`draw_number`, 50 pixels high or less, to fit across: a pen 14 pixels wide at 200), running
    from edge to edge of a photo of a dark table: 800x600 across it, or ``upright`` 600x800 from top to
    bottom, turned ``degrees``. RGB."""
    rng = np.random.default_rng(seed)
    size = (600, 800) if upright else (800, 600)
    length = 2 * max(size)
    ink = Image.fromarray(draw_number(text, width=14, seed=seed)[..., 3])
    scale = min(50 / ink.height, (100 if upright else length) / ink.width)
    ink = ink.resize((max(1, round(ink.width * scale)), max(1, round(ink.height * scale))), Image.Resampling.LANCZOS)
    strip = Image.new("RGB", (130, length) if upright else (length, 130), (242, 240, 230))
    strip.paste((25, 25, 45), ((strip.width - ink.width) // 2, (strip.height - ink.height) // 2), ink)
    strip = strip.convert("RGBA").rotate(degrees, Image.Resampling.BICUBIC, expand=True)
    return _on_table(strip, size, rng.uniform(30, 100), rng)


def lines_of(*texts: str) -> np.ndarray:
    """Numbers drawn (:func:`draw_number`) one above another, left-aligned: digits on several lines."""
    drawn = [draw_number(text) for text in texts]
    width = max(part.shape[1] for part in drawn)
    return np.concatenate([np.pad(part, ((0, 0), (0, width - part.shape[1]), (0, 0))) for part in drawn])


def number(digits: Sequence[np.ndarray], gap: int = 8, margin: int = 16) -> np.ndarray:
    """MNIST digits side by side (light on dark), cropped to their ink, ``gap`` pixels apart (0 or less:
    their boxes touch or overlap, and so, mostly, do their strokes)."""
    crops = []
    for digit in digits:
        cols = np.flatnonzero(digit.max(axis=0) > 0)
        crops.append(digit[:, cols.min() : cols.max() + 1])
    height = 28 + 2 * margin
    width = sum(c.shape[1] for c in crops) + gap * (len(crops) - 1) + 2 * margin
    out = np.zeros((height, width), dtype=np.uint8)
    x = margin
    for crop in crops:
        region = out[margin : margin + 28, x : x + crop.shape[1]]
        np.maximum(region, crop, out=region)
        x += crop.shape[1] + gap
    return out


def broken(digit: np.ndarray, rows: tuple[int, int] = (13, 15)) -> np.ndarray:
    """A digit with a horizontal band of rows erased (a pen that skipped): its strokes fall apart."""
    out = digit.copy()
    out[rows[0] : rows[1]] = 0
    return out


def blank(size: tuple[int, int] = (280, 280), value: int = 255) -> np.ndarray:
    return np.full((size[1], size[0]), value, dtype=np.uint8)


def noise(size: tuple[int, int] = (280, 280), seed: int = 0, mean: float = 128.0, sigma: float = 40.0) -> np.ndarray:
    """Gaussian grey noise, no digit anywhere."""
    rng = np.random.default_rng(seed)
    return np.clip(rng.normal(mean, sigma, (size[1], size[0])), 0, 255).astype(np.uint8)


def salt_and_pepper(size: tuple[int, int] = (280, 280), seed: int = 0, fraction: float = 0.01) -> np.ndarray:
    """White paper with isolated black specks (dust on a scanner)."""
    rng = np.random.default_rng(seed)
    out = blank(size)
    out[rng.random((size[1], size[0])) < fraction] = 0
    return out


def star(size: int = 280, width: int | None = None) -> np.ndarray:
    """A five-pointed star drawn in dark ink on white (not a digit: the service refuses it)."""
    canvas = Image.new("L", (size, size), 255)
    c, r = size / 2, size * 0.35
    radius = [r if k % 2 == 0 else 0.4 * r for k in range(11)]
    points = [
        (c + q * np.cos(np.pi / 2 + k * np.pi / 5), c - q * np.sin(np.pi / 2 + k * np.pi / 5))
        for k, q in enumerate(radius)
    ]
    ImageDraw.Draw(canvas).line(points, fill=0, width=width or size // 25, joint="curve")
    return np.asarray(canvas)
