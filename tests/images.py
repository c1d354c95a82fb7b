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
from PIL import Image, ImageDraw, ImageFilter

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


def paper_photo(
    digit: np.ndarray,
    seed: int = 0,
    size: tuple[int, int] = (640, 480),
    tint: tuple[float, float, float] = (1.0, 0.95, 0.85),
) -> np.ndarray:
    """A phone photo of a dark digit on paper: RGB, a lighting gradient (bright corner to shadowed
    corner), vignetting, paper grain and a warm tint; the ink is shaded by the same light."""
    rng = np.random.default_rng(seed)
    width, height = size
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    light = 1.0 - 0.45 * (xx / width) * 0.6 - 0.45 * (yy / height) * 0.4  # brighter top-left
    light -= 0.25 * ((xx / width - 0.5) ** 2 + (yy / height - 0.5) ** 2)  # vignetting
    paper = 225.0 * light + rng.normal(0, 4.0, (height, width))
    tile_size = int(min(size) * 0.55)
    ink = resize(digit, tile_size).astype(np.float32) / 255.0
    ink = np.asarray(Image.fromarray((ink * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(1.2)))
    x, y = int(width * 0.3), int(height * 0.2)
    coverage = np.zeros((height, width), dtype=np.float32)
    coverage[y : y + tile_size, x : x + tile_size] = ink / 255.0
    grey = paper * (1.0 - 0.8 * coverage)  # ink absorbs 80 % of the light that reaches it
    rgb = np.stack([grey * t for t in tint], axis=-1)
    return np.clip(rgb, 0, 255).astype(np.uint8)


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
        points = [(x * size, y * size) for x, y in stroke]
        pen.line(points, fill=color, width=width, joint="curve")
        for px, py in (points[0], points[-1]):
            pen.ellipse((px - width / 2, py - width / 2, px + width / 2, py + width / 2), fill=color)
    return np.asarray(canvas).copy()


#: Hand-drawn digits as mouse strokes, in 0-1 canvas units.
STROKES: dict[int, list[list[tuple[float, float]]]] = {
    1: [[(0.45, 0.2), (0.55, 0.12), (0.55, 0.85)]],
    7: [[(0.28, 0.18), (0.72, 0.18), (0.62, 0.4), (0.45, 0.85)]],
}


def number(digits: Sequence[np.ndarray], gap: int = 8, margin: int = 16) -> np.ndarray:
    """MNIST digits side by side (light on dark), cropped to their ink, ``gap`` pixels apart."""
    crops = []
    for digit in digits:
        cols = np.flatnonzero(digit.max(axis=0) > 0)
        crops.append(digit[:, cols.min() : cols.max() + 1])
    height = 28 + 2 * margin
    width = sum(c.shape[1] for c in crops) + gap * (len(crops) - 1) + 2 * margin
    out = np.zeros((height, width), dtype=np.uint8)
    x = margin
    for crop in crops:
        out[margin : margin + 28, x : x + crop.shape[1]] = crop
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
