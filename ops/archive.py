"""Unpack ``model.tar.gz`` and load it through ``model_fn``, as the SageMaker serving stack does.

One helper for every local consumer of a model archive (the CLI predictor, the local endpoint, tests)::

    model, handlers = load_archive("model/artifacts/model.tar.gz")
    body, content_type = handlers.transform_fn(model, image_bytes, "image/png", "application/json")

``handlers`` is this checkout's :mod:`model.inference`; the weights and metadata come from the archive.
(The local endpoint runs the archive's *own* ``code/inference.py`` instead: :mod:`ops.endpoint`.)
"""

from __future__ import annotations

import tarfile
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

#: The archive this repository ships.
DEFAULT_ARCHIVE = Path(__file__).resolve().parent.parent / "model" / "artifacts" / "model.tar.gz"


class ModelLoadError(Exception):
    """The archive cannot be served: missing, not a model.tar.gz, no ``model.pt``, or weights that are not
    a ``DigitNet`` state_dict. The message names the problem in one line."""


def unpack(archive: str | Path, model_dir: str | Path) -> Path:
    """Extract ``archive`` into ``model_dir`` (what SageMaker does into ``/opt/ml/model``).

    Tar's ``data`` filter refuses absolute paths, ``..``, links out of the folder and device files.
    Raises :class:`ModelLoadError`."""
    model_dir = Path(model_dir)
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(model_dir, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise ModelLoadError(f"{archive} is not a readable model.tar.gz ({exc})") from None
    if not (model_dir / "model.pt").is_file():
        raise ModelLoadError(f"{archive} has no model.pt")
    return model_dir


def load_archive(path: str | Path = DEFAULT_ARCHIVE) -> tuple[Any, ModuleType]:
    """``(model, handlers)`` from a ``model.tar.gz`` (unpacked to a temporary folder, removed after
    loading) or from an already unpacked model folder. Raises :class:`ModelLoadError`."""
    path = Path(path)
    if not path.exists():
        raise ModelLoadError(f"no model archive at {path}")
    from model import inference  # torch: imported only once there is a model to load

    with tempfile.TemporaryDirectory(prefix="model-") as tmp:
        model_dir = path if path.is_dir() else unpack(path, tmp)
        try:
            return inference.model_fn(str(model_dir)), inference
        except (ValueError, OSError) as exc:  # model_fn's errors for weights it cannot load
            raise ModelLoadError(f"{path}: {exc}") from None
