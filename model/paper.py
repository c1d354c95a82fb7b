"""The paper (or canvas) under the ink, for step 3 of :mod:`model.preprocess`: a smooth quadratic surface
fitted robustly to the background pixels (:func:`fit_background`), the noise about it (:func:`mad_sigma`)
and Otsu's threshold between paper and ink (:func:`otsu`). Numpy only.
"""

from __future__ import annotations

import functools

import numpy as np

MIN_CONTRAST = 20.0  # grey levels (of 255) between paper and ink below which nothing counts as ink
NOISE_SIGMAS = 4.0  # ink must be this many noise standard deviations away from the paper


@functools.lru_cache(maxsize=16)
def _surface_terms(h: int, w: int) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For an image of ``h`` x ``w``: the sampling step, the quadratic design matrix of the sample grid,
    each sample's outer product of its design row (so a weighted normal matrix is one product), the
    grid's border ring, and the x and y coordinates of every pixel (cached: uploads share sizes)."""
    step = max(1, min(round(max(h, w) / 32), min(h, w) // 4))  # four rows of samples or more in a strip
    ys = np.arange(step // 2, h, step, dtype=np.float64) / h - 0.5
    xs = np.arange(step // 2, w, step, dtype=np.float64) / w - 0.5
    yy, xx = np.meshgrid(ys, xs, indexing="ij")
    design = np.stack([np.ones_like(xx), xx, yy, xx * xx, xx * yy, yy * yy], axis=-1).reshape(-1, 6)
    outer = (design[:, :, None] * design[:, None, :]).reshape(-1, 36)
    ring = np.zeros(yy.shape, dtype=bool)
    ring[:2], ring[-2:], ring[:, :2], ring[:, -2:] = True, True, True, True
    fx = (np.arange(w, dtype=np.float32) + 0.5) / w - 0.5
    fy = (np.arange(h, dtype=np.float32) + 0.5) / h - 0.5
    return step, design, outer, ring.ravel(), fx, fy


RIDGE = 1e-6 * np.eye(6)


def fit_background(grey: np.ndarray) -> tuple[np.ndarray, float]:
    """Robust quadratic surface through the paper -> (``grey`` minus that surface, noise sigma of the paper).

    Fitted on a coarse grid of samples, starting from the image's border (paper almost everywhere,
    whatever the polarity or the amount of ink), then refitted to every sample close to the current
    surface, so the ink (far from it, on either side) is left out. A quadratic follows lighting
    gradients and vignetting but cannot bend into strokes.
    """
    h, w = grey.shape
    step, design, outer, ring, fx, fy = _surface_terms(h, w)
    offset = step // 2
    samples = grey[offset::step, offset::step].astype(np.float64).ravel()
    border = samples[ring]
    level = border[0]
    if (border == level).all():
        # A digital picture (a canvas, a clean scan): the border is one grey level, and the fit below
        # would return that constant but for a fraction of a level (anti-aliased samples): skip it.
        residual = samples - level
        return grey - np.float32(level), mad_sigma(residual[np.abs(residual) <= MIN_CONTRAST / 2])
    # The border's own outliers (a stroke crossing it) are left out by the median of the ring: of the
    # medians of the step-wide blocks along the edges, not of the samples, which a printed grid whose
    # spacing is a multiple of the step can put all on its lines (squared paper 28 px apart, step 7).
    level = fast_median(_edge_blocks(grey, step))
    keep = ring & (np.abs(samples - level) <= max(3.0 * mad_sigma(border), MIN_CONTRAST / 2))
    coef = np.zeros(6)
    sigma = 1.0
    for _ in range(4):
        weight = keep.astype(np.float64)  # least squares over the kept samples
        coef = np.linalg.solve((weight @ outer).reshape(6, 6) + RIDGE, (weight * samples) @ design)
        residual = samples - design @ coef
        sigma = mad_sigma(residual[keep])
        new_keep = np.abs(residual) <= max(3.0 * sigma, MIN_CONTRAST / 2)
        if (new_keep == keep).all():
            break
        keep = new_keep
    # Subtract it from every pixel, term by term (the x and y parts are separable).
    row = (coef[0] + coef[1] * fx + coef[3] * fx * fx).astype(np.float32)
    col = (coef[2] * fy + coef[5] * fy * fy).astype(np.float32)
    residual = grey - row[None, :]
    residual -= col[:, None]
    if abs(coef[4]) > 1e-3:
        residual -= np.float32(coef[4]) * np.outer(fy, fx)
    return residual, sigma


def _edge_blocks(grey: np.ndarray, step: int) -> np.ndarray:
    """The median of each ``step`` x ``step`` block in the two block rows and columns along the edges."""
    h, w = grey.shape
    rows, cols = h // step * step, w // step * step
    bands = [grey[: 2 * step, :cols], grey[rows - 2 * step : rows, :cols]]
    bands += [grey[:rows, : 2 * step].T, grey[:rows, cols - 2 * step : cols].T]
    blocks = [band.reshape(2, step, -1, step).transpose(0, 2, 1, 3).reshape(-1, step * step) for band in bands]
    return np.median(np.concatenate(blocks), axis=1)


def fast_median(values: np.ndarray) -> float:
    """``np.median`` of a 1-d array without its overhead (it is called a dozen times per image)."""
    n = values.size
    k = n // 2
    if n % 2:
        return float(np.partition(values, k)[k])
    part = np.partition(values, (k - 1, k))
    return float(0.5 * (part[k - 1] + part[k]))


def mad_sigma(values: np.ndarray) -> float:
    """Noise standard deviation estimated from the median absolute deviation (at least 1 grey level)."""
    if values.size == 0:
        return 1.0
    return max(1.0, 1.4826 * fast_median(np.abs(values - fast_median(values))))


_LEVELS = np.arange(256, dtype=np.float64)


def otsu(values: np.ndarray) -> float:
    """Otsu's threshold of ``values`` (>= 0; 255 and above share the top bin)."""
    hist = np.bincount(np.minimum(values, 255).astype(np.uint8).ravel(), minlength=256)
    weight = np.cumsum(hist)
    total = float(weight[-1])
    if total == 0:
        return 0.0
    mass = np.cumsum(hist * _LEVELS)
    w0 = weight[:-1].astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):  # 0/0 where a side is empty: not a split
        between = (mass[-1] * w0 / total - mass[:-1]) ** 2 / (w0 * (total - w0))
    return float(np.argmax(np.fmax(between, 0.0))) + 0.5
