"""The training and validation sets: MNIST as tensors and as the service sees it, typed digits, and
pictures that are not digits (labelled :data:`~model.network.NOT_A_DIGIT`).

Training draws, per epoch, each MNIST digit either as its raw tensor or as the service makes it of
the digit uploaded as a larger picture (``upload_share`` of them; enlarged 2-5 times, half of them
dark on light, a third from a low-resolution copy, as a scan, a thumbnail or a drawing would be; some
of the 1s flagged and the 7s crossed, as much of the world writes them, ``training.writing_styles``): a
28x28 MNIST PNG itself reads exactly as its tensor (``model.preprocess.mnist_form``), so what the
service adds is what it does to larger pictures. Typed digits and not-a-digit pictures are always
seen through the service. Validation keeps each way apart, so that the gaps between them can be
measured:

- ``raw``: the held-out MNIST digits as tensors (``{"pixels": ...}`` requests);
- ``upload``: the same digits as their 28x28 PNG would be read by the service;
- ``upload_enlarged``: the same digits enlarged as for training, read by the service;
- ``typed``: digits typed in the held-out font families;
- ``not_digit``: letters and symbols in the held-out families, shapes and scribbles drawn with other
  seeds, parts of the held-out digits;
- ``touching``: pairs of the held-out digits and of digits typed in the held-out families whose
  strokes meet (labelled :data:`~model.network.TOUCHING`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from model.network import NOT_A_DIGIT, TOUCHING
from training import negatives, writing_styles
from training.data import Dataset
from training.touching import pairs as touching_pictures
from training.upload_path import through_service

#: Seeds of the validation pictures are offset from the training ones by this.
VALIDATION_SEED = 1_000_003


@dataclass(frozen=True)
class Sets:
    train: Dataset  # MNIST training digits, raw
    train_uploaded: torch.Tensor  # the same digits through the service (raw where it found no single mark)
    extra: Dataset  # typed digits, not-a-digit pictures and digits that touch through the service, labels 0-11
    validation: dict[str, Dataset]
    #: How many MNIST digits the service did not read as one mark (training, validation).
    unreadable: tuple[int, int]

    def epoch(self, upload_share: float, generator: torch.Generator) -> Dataset:
        """One epoch's images: each MNIST digit raw or uploaded (``upload_share`` of them), then the extras."""
        uploaded = torch.rand(len(self.train), generator=generator) < upload_share
        digits = torch.where(uploaded[:, None, None], self.train_uploaded, self.train.images)
        if len(self.extra) == 0:
            return Dataset(digits, self.train.labels, self.train.fingerprint, self.train.source)
        return Dataset(
            torch.cat([digits, self.extra.images]),
            torch.cat([self.train.labels, self.extra.labels]),
            self.train.fingerprint,
            self.train.source,
        )


def _dataset(pixels: np.ndarray, labels: np.ndarray, source: str) -> Dataset:
    return Dataset(
        torch.from_numpy(np.ascontiguousarray(pixels)), torch.from_numpy(labels.astype(np.int64)), "", source
    )


def enlarged(images: np.ndarray, seed: int) -> list[np.ndarray]:
    """MNIST digits as larger uploads: each enlarged (bicubic) to 56-140 pixels, every other one
    inverted to dark ink on white; a third of them first reduced to 8-14 pixels (a low-resolution
    scan, a thumbnail: blurred, thick strokes, as in the UCI digits' 8x8 grids); a fifth with two
    rows erased across the middle (a pen that skipped: a digit in pieces is still a digit)."""
    rng = np.random.default_rng(seed)
    sizes = rng.choice([56, 84, 112, 140], len(images))
    low = rng.integers(8, 15, len(images))
    out = []
    bands = rng.integers(9, 18, len(images))
    for i, (image, size) in enumerate(zip(images, sizes, strict=True)):
        if i % 5 == 4:  # a pen that skipped: a band of rows erased, the strokes fall apart
            image = image.copy()
            image[bands[i] : bands[i] + 2] = 0
        picture = Image.fromarray(image)
        if i % 3 == 2:
            picture = picture.resize((int(low[i]), int(low[i])), Image.Resampling.BOX)
        big = np.asarray(picture.resize((int(size), int(size)), Image.Resampling.BICUBIC))
        out.append(255 - big if i % 2 else big)
    return out


def _uploaded_digits(data: Dataset, name: str, pictures: list[np.ndarray] | None = None) -> tuple[torch.Tensor, int]:
    """The digits through the service (``pictures`` of them, else their 28x28 selves), raw where it
    finds no single mark; and how many it did not."""
    pixels, found = through_service(pictures or list(data.images.numpy()), name)
    pixels[~found] = data.images.numpy()[~found]
    return torch.from_numpy(pixels), int((~found).sum())


def extras(split: str, typed: int, not_digit: int, seed: int, digits: Dataset) -> tuple[Dataset, Dataset]:
    """(typed digits, not-a-digit pictures) of ``split`` ("train" or "validation") through the service;
    pictures the service finds no single mark in are left out. ``digits``: where the parts come from."""
    fonts = negatives.TRAIN_FONTS if split == "train" else negatives.VALIDATION_FONTS
    typed_pictures, typed_labels = negatives.font_digits(fonts, typed, seed)
    pixels, found = through_service(typed_pictures, f"{split}-typed")
    typed_set = _dataset(pixels[found], typed_labels[found], f"typed digits, {', '.join(fonts)}")
    pictures, _ = negatives.not_digits(not_digit, seed, fonts, digits.images.numpy(), digits.labels.numpy())
    pixels, found = through_service(pictures, f"{split}-not-digit")
    labels = np.full(int(found.sum()), NOT_A_DIGIT, dtype=np.int64)
    return typed_set, _dataset(pixels[found], labels, f"not digits: glyphs of {', '.join(fonts)}, shapes, scribbles")


def touching_pairs(split: str, count: int, seed: int, digits: Dataset) -> Dataset:
    """``count`` pictures of two digits of ``split`` (its digits and font families) side by side
    (:func:`training.touching.pairs`) through the service, labelled :data:`~model.network.TOUCHING`; those
    the service reads as two marks (their strokes do not meet: about half) are left out."""
    fonts = negatives.TRAIN_FONTS if split == "train" else negatives.VALIDATION_FONTS
    pixels, found = through_service(touching_pictures(digits.images.numpy(), fonts, count, seed), f"{split}-touching")
    labels = np.full(int(found.sum()), TOUCHING, dtype=np.int64)
    return _dataset(pixels[found], labels, f"two digits that touch: MNIST's and glyphs of {', '.join(fonts)}")


def build(train: Dataset, validation: Dataset, typed: int, not_digit: int, touching: int, seed: int) -> Sets:
    """All sets for a run: ``typed`` typed digits, ``not_digit`` negatives (0: none, a 10-class run) and
    ``touching`` pairs of digits that touch (0: none, an 11-class run) for training, a fifth as many of
    each for validation."""
    restyled = writing_styles.restyled(train.images.numpy(), train.labels.numpy(), seed)
    uploaded, unreadable_train = _uploaded_digits(train, "train-enlarged", enlarged(restyled, seed))
    val_uploaded, unreadable_val = _uploaded_digits(validation, "validation")
    val_enlarged, _ = _uploaded_digits(
        validation, "validation-enlarged", enlarged(validation.images.numpy(), seed + VALIDATION_SEED)
    )
    val_sets = {
        "raw": validation,
        "upload": Dataset(val_uploaded, validation.labels, validation.fingerprint, "validation through the service"),
        "upload_enlarged": Dataset(val_enlarged, validation.labels, validation.fingerprint, "enlarged, through it"),
    }
    extra = Dataset(torch.zeros(0, 28, 28, dtype=torch.uint8), torch.zeros(0, dtype=torch.int64), "", "")
    if not_digit:
        typed_set, not_digit_set = extras("train", typed, not_digit, seed, train)
        parts = [typed_set, not_digit_set] + ([touching_pairs("train", touching, seed, train)] if touching else [])
        extra = Dataset(
            torch.cat([part.images for part in parts]),
            torch.cat([part.labels for part in parts]),
            "",
            "typed digits, not digits and digits that touch",
        )
        val_typed, val_not_digit = extras(
            "validation", max(10, typed // 5), max(10, not_digit // 5), seed + VALIDATION_SEED, validation
        )
        val_sets |= {"typed": val_typed, "not_digit": val_not_digit}
        if touching:
            val_sets["touching"] = touching_pairs(
                "validation", max(10, touching // 5), seed + VALIDATION_SEED, validation
            )
    return Sets(train, uploaded, extra, val_sets, (unreadable_train, unreadable_val))
