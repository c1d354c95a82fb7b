"""The feedback channel on disk: what ``export`` writes and what training and the gate read.

Layout (one folder; in a SageMaker training job the ``feedback`` channel, ``$SM_CHANNEL_FEEDBACK``)::

    manifest.jsonl               one JSON object per example (:class:`Example`), in export order
    model_input/<id>.png         the 28x28 uint8 image the model saw (light digit on dark)
    uploads/<id>.<ext>           the image as it was uploaded (API body or inbox object)

Each example is either ``train`` (mixed into training) or ``holdout`` (only the gate reads it): the split
is decided when an example is first exported and never changes, so a later export cannot move a
held-out correction into training.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from training.data import Dataset

MANIFEST = "manifest.jsonl"
MODEL_INPUT_DIR = "model_input"
UPLOADS_DIR = "uploads"
SPLITS = ("train", "holdout")
#: Environment variable of the SageMaker channel named ``feedback``.
CHANNEL_ENV = "SM_CHANNEL_FEEDBACK"


@dataclass(frozen=True)
class Example:
    """One labelled image from a user's feedback on a prediction."""

    prediction_id: str
    #: The digit the user says the image shows (``feedback_label``).
    label: int
    #: What the model answered (``digit`` of the record).
    predicted: int
    #: ``corrected`` (label differs from the prediction) or ``confirmed`` (the user said it was right).
    kind: str
    split: str
    source: str
    created_at: str
    feedback_at: str
    #: The version of the model that made the prediction.
    model_version: str | None
    #: Paths relative to the channel folder.
    model_input: str
    upload: str


def read_manifest(directory: str | os.PathLike[str]) -> list[Example]:
    """The examples of the channel at ``directory``; ``[]`` when it has no manifest."""
    path = Path(directory) / MANIFEST
    if not path.exists():
        return []
    return [Example(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]


def write_manifest(directory: str | os.PathLike[str], examples: list[Example]) -> None:
    """Replace the manifest atomically (a crash leaves the previous one whole)."""
    path = Path(directory) / MANIFEST
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(asdict(e), sort_keys=True) + "\n" for e in examples))
    tmp.replace(path)


def png_pixels(data: bytes) -> np.ndarray:
    """A PNG as a ``(H, W)`` uint8 array (grey)."""
    return np.asarray(Image.open(io.BytesIO(data)).convert("L"), dtype=np.uint8)


def load(directory: str | os.PathLike[str], split: str | None = None) -> Dataset:
    """The channel's examples (of one split, or all) as a :class:`~training.data.Dataset` of 28x28 images.

    Raises FileNotFoundError when ``directory`` has no manifest.
    """
    directory = Path(directory)
    if not (directory / MANIFEST).exists():
        raise FileNotFoundError(f"{directory} has no {MANIFEST}: run `python -m training.feedback export` first")
    examples = [e for e in read_manifest(directory) if split is None or e.split == split]
    images = np.zeros((len(examples), 28, 28), dtype=np.uint8)
    for i, example in enumerate(examples):
        images[i] = png_pixels((directory / example.model_input).read_bytes())
    labels = torch.tensor([e.label for e in examples], dtype=torch.int64)
    return Dataset(torch.from_numpy(images), labels, f"feedback:{len(examples)}", str(directory))
