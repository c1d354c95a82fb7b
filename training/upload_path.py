"""What the service makes of a picture: training and validation images through ``model.preprocess``.

The service never shows the network an MNIST tensor as such: an upload is decoded, its ink found,
cropped, brought to MNIST's stroke width, scaled into 20x20 and centred by mass. A network trained on
the raw tensors only meets, through the service, images a little unlike any it was trained on (the
train/serve skew). So training sees every digit both ways, and the extra pictures (typed digits,
things that are not digits) only the way the service sees them.

Preprocessing is deterministic, so each set is computed once and cached in ``.local/cache`` under a
key made of the pictures' bytes and the preprocessing code (a change to either recomputes it).
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from model import preprocess as preprocessing
from model.contract import InputError

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".local" / "cache" / "upload_path"


def as_uploaded(picture: np.ndarray) -> np.ndarray | None:
    """A picture (an array, exactly as its PNG would decode) -> the one 28x28 digit image the service
    classifies, or ``None`` when the service finds no mark or several in it."""
    try:
        found = preprocessing.preprocess(picture)
    except InputError:
        return None
    return found[0].pixels if len(found) == 1 else None


def _key(pictures: Sequence[np.ndarray], name: str) -> str:
    digest = hashlib.sha256(inspect.getsource(preprocessing).encode())
    for picture in pictures:
        digest.update(np.ascontiguousarray(picture).tobytes())
        digest.update(str(picture.shape).encode())
    return f"{name}-{digest.hexdigest()[:16]}"


def through_service(
    pictures: Sequence[np.ndarray], name: str, cache: Path | None = CACHE
) -> tuple[np.ndarray, np.ndarray]:
    """``(pixels (N, 28, 28) uint8, found (N,) bool)``: each picture as the network sees it through the
    service; where the service finds no single mark, ``found`` is False and the pixels are zeros.
    Cached under ``cache`` (``None``: not cached)."""
    path = None if cache is None else cache / f"{_key(pictures, name)}.npz"
    if path is not None and path.exists():
        with np.load(path) as stored:
            return stored["pixels"], stored["found"]
    pixels = np.zeros((len(pictures), preprocessing.SIZE, preprocessing.SIZE), dtype=np.uint8)
    found = np.zeros(len(pictures), dtype=bool)
    for i, picture in enumerate(pictures):
        digit = as_uploaded(picture)
        if digit is not None:
            pixels[i], found[i] = digit, True
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, pixels=pixels, found=found)
        tmp.replace(path)
    return pixels, found
