"""MNIST loading, the seeded stratified validation split, and batch augmentation on tensors.

Where the IDX files come from, first match wins: ``--data-dir``, ``$SM_CHANNEL_TRAINING`` (the
SageMaker channel), ``$MNIST_DATA_DIR``, ``../shared/data/mnist`` (the offline copy next to the
repository). When none of them holds the files, torchvision downloads MNIST (online users only).
The whole split lives in memory as one uint8 tensor (47 MB): no DataLoader, no worker processes.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from model.network import normalize

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = ROOT.parent / "shared" / "data" / "mnist"
IMAGES = "{split}-images-idx3-ubyte.gz"
LABELS = "{split}-labels-idx1-ubyte.gz"


@dataclass(frozen=True)
class Dataset:
    """Images ``(N, 28, 28)`` uint8 and labels ``(N,)`` int64, plus where they came from."""

    images: torch.Tensor
    labels: torch.Tensor
    fingerprint: str  # sha256 of the raw image and label bytes, first 16 hex digits
    source: str

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: torch.Tensor) -> Dataset:
        return Dataset(self.images[index], self.labels[index], self.fingerprint, self.source)


def _read_idx(path: Path, magic: int) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        raw = f.read()
    found, count = int.from_bytes(raw[0:4], "big"), int.from_bytes(raw[4:8], "big")
    if found != magic:
        raise ValueError(f"{path}: IDX magic {found}, expected {magic}")
    if magic == 2051:  # images: count, rows, cols, then pixels
        rows, cols = int.from_bytes(raw[8:12], "big"), int.from_bytes(raw[12:16], "big")
        return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(count, rows, cols)
    return np.frombuffer(raw, dtype=np.uint8, offset=8).reshape(count)


def candidate_dirs(data_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """The folders searched for the IDX files, in order."""
    found = [data_dir, os.environ.get("SM_CHANNEL_TRAINING"), os.environ.get("MNIST_DATA_DIR"), DEFAULT_DATA_DIR]
    return [Path(d) for d in found if d]


def load_idx(directory: str | os.PathLike[str], split: str = "train") -> Dataset:
    """Read ``{split}-images-idx3-ubyte.gz`` and ``{split}-labels-idx1-ubyte.gz`` from ``directory``."""
    directory = Path(directory)
    image_path, label_path = directory / IMAGES.format(split=split), directory / LABELS.format(split=split)
    images, labels = _read_idx(image_path, 2051), _read_idx(label_path, 2049)
    if len(images) != len(labels):
        raise ValueError(f"{directory}: {len(images)} images but {len(labels)} labels")
    digest = hashlib.sha256(images.tobytes() + labels.tobytes()).hexdigest()[:16]
    return Dataset(torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64)), digest, str(directory))


def load_mnist(data_dir: str | os.PathLike[str] | None = None, split: str = "train") -> Dataset:
    """The MNIST split from the first folder that holds it, else torchvision's download (needs internet)."""
    for directory in candidate_dirs(data_dir):
        if (directory / IMAGES.format(split=split)).exists():
            return load_idx(directory, split)
    if data_dir is not None:
        raise FileNotFoundError(f"no {IMAGES.format(split=split)} in {data_dir}")
    from torchvision.datasets import MNIST  # online fallback only

    root = Path(os.environ.get("MNIST_DOWNLOAD_DIR", Path.home() / ".cache" / "mnist"))
    ds = MNIST(str(root), train=split == "train", download=True)
    images, labels = ds.data.contiguous(), ds.targets.long()
    digest = hashlib.sha256(images.numpy().tobytes() + labels.numpy().astype(np.uint8).tobytes()).hexdigest()[:16]
    return Dataset(images, labels, digest, f"torchvision:{root}")


def stratified_split(labels: torch.Tensor, val_size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(train_index, val_index): ``val_size`` images held out, each class in proportion, seeded.

    Quotas per class by largest remainder, so they sum to exactly ``val_size``.
    """
    n = len(labels)
    if not 0 < val_size < n:
        raise ValueError(f"val_size must be between 1 and {n - 1}, got {val_size}")
    generator = torch.Generator().manual_seed(seed)
    classes, counts = torch.unique(labels, return_counts=True)
    exact = counts.double() * val_size / n
    quotas = exact.floor().long()
    short = val_size - int(quotas.sum())
    quotas[torch.argsort(exact - quotas, descending=True)[:short]] += 1
    val_parts = []
    for cls, quota in zip(classes.tolist(), quotas.tolist(), strict=True):
        members = torch.nonzero(labels == cls).flatten()
        val_parts.append(members[torch.randperm(len(members), generator=generator)[:quota]])
    val_index = torch.sort(torch.cat(val_parts)).values
    mask = torch.ones(n, dtype=torch.bool)
    mask[val_index] = False
    return torch.nonzero(mask).flatten(), val_index


def augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Small random jitter of a uint8 batch ``(N, 28, 28)`` -> float ``(N, 1, 28, 28)`` in [0, 1].

    Only what survives MNIST-style preprocessing (digit fitted into 20x20, centred by mass): rotation
    within 10 degrees, scale 0.9-1.1, width against height 0.8-1.25 and a horizontal shear within 0.15
    (writers differ in how wide and how slanted they write: the independent x/y scaling and shear of
    Ciresan et al. 2012), shift within 2 pixels, and for half the images the stroke width moved at most
    halfway towards a 3x3 dilation or erosion (a full erosion erases MNIST's thin strokes;
    preprocessing already brings pen strokes to MNIST's width).
    """
    n = images.shape[0]
    x = images.float().unsqueeze(1) / 255.0

    def uniform(low: float, high: float) -> torch.Tensor:
        return torch.rand(n, generator=generator) * (high - low) + low

    angle = uniform(-10, 10) * math.pi / 180
    scale = uniform(0.9, 1.1)
    aspect = torch.exp(uniform(math.log(0.8), math.log(1.25))).sqrt()  # width / height, even in log
    shear = uniform(-0.15, 0.15)
    shift = uniform(-2, 2), uniform(-2, 2)  # pixels; affine_grid spans [-1, 1] over 28 pixels

    # The grid maps output -> input: the inverse of shear, then scale, then rotation.
    def matrices(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
        return torch.stack([torch.stack([a, b], 1), torch.stack([c, d], 1)], 1)  # (n, 2, 2)

    zero, one = torch.zeros(n), torch.ones(n)
    cos, sin = torch.cos(angle), torch.sin(angle)
    inverse = (
        matrices(one, -shear, zero, one)
        @ matrices(1 / (scale * aspect), zero, zero, aspect / scale)
        @ matrices(cos, sin, -sin, cos)
    )
    offset = torch.stack([-shift[0], -shift[1]], 1)[:, :, None] * 2 / 28
    theta = torch.cat([inverse, offset], 2)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    strength = uniform(-0.5, 0.5) * (torch.rand(n, generator=generator) < 0.5)
    dilated = F.max_pool2d(x, 3, stride=1, padding=1)
    eroded = -F.max_pool2d(-x, 3, stride=1, padding=1)
    s = strength.view(n, 1, 1, 1)
    x = torch.where(s > 0, x + s * (dilated - x), x + (-s) * (eroded - x))
    return x.clamp_(0, 1)


def batches(
    data: Dataset,
    batch_size: int,
    *,
    shuffle: bool,
    generator: torch.Generator | None = None,
    train: bool = False,
    drop_last: bool = False,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield (normalised input, labels) batches; ``train`` adds augmentation (needs ``generator``).

    ``drop_last`` skips a ragged final batch (BatchNorm needs more than one sample; reshuffled every
    epoch, so no image is left out for good), unless the data is smaller than one batch.
    """
    n = len(data)
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    stop = n - n % batch_size if drop_last and n >= batch_size else n
    for start in range(0, stop, batch_size):
        index = order[start : start + batch_size]
        images = data.images[index]
        x = normalize(augment(images, generator)) if train else normalize(images)
        yield x, data.labels[index]
