"""Unpack ``model.tar.gz`` and load it through ``model_fn``, as the SageMaker container does.

One helper for every local consumer of the shipped archive (the CLI predictor, tests, tools)::

    model, handlers = load_archive("model/artifacts/model.tar.gz")
    handlers.output_fn(handlers.predict_fn(handlers.input_fn(body, "image/png"), model), "application/json")

``handlers`` is this checkout's :mod:`model.inference`; the weights and metadata come from the archive.
(To run the archive's *own* code, as the local endpoint server does, import its ``code/inference.py``
in a process of its own.)
"""

from __future__ import annotations

import pickle
import tarfile
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

#: The archive this repository ships.
DEFAULT_ARCHIVE = Path(__file__).resolve().parent / "artifacts" / "model.tar.gz"


class ArchiveError(ValueError):
    """An archive whose ``model.pt`` does not load into this checkout's network (another architecture,
    a damaged file, not a state_dict)."""


def unpack(archive: str | Path, model_dir: str | Path) -> Path:
    """Extract ``archive`` into ``model_dir`` (what SageMaker does into ``/opt/ml/model``).

    Tar's ``data`` filter refuses absolute paths, ``..``, links out of the folder and device files.
    """
    model_dir = Path(model_dir)
    with tarfile.open(archive) as tar:
        tar.extractall(model_dir, filter="data")
    if not (model_dir / "model.pt").is_file():
        raise FileNotFoundError(f"{archive} has no model.pt")
    return model_dir


def load_archive(path: str | Path = DEFAULT_ARCHIVE) -> tuple[Any, ModuleType]:
    """``(model, handlers)`` from a ``model.tar.gz`` (unpacked to a temporary folder, removed after
    loading) or from an already unpacked model folder.

    Raises FileNotFoundError (no archive, no ``model.pt`` in it) or :class:`ArchiveError`.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no model archive at {path}")
    from . import inference  # torch: imported only once there is a model to load

    try:
        if path.is_dir():
            return inference.model_fn(str(path)), inference
        with tempfile.TemporaryDirectory(prefix="model-") as tmp:
            return inference.model_fn(str(unpack(path, tmp))), inference
    except (RuntimeError, pickle.UnpicklingError) as exc:  # what torch.load and load_state_dict raise
        detail = " ".join(str(exc).split())
        raise ArchiveError(f"{path}: its model.pt does not load into this network: {detail[:300]}") from exc
