"""The code a training job runs: a clean copy of the ``training`` and ``model`` packages.

``stage_source(folder)`` writes::

    train_entry.py      the entry script (:mod:`training.cloud.entry_point`)
    requirements.txt    what the PyTorch training image lacks, pinned as in the project's requirements.txt
    training/*.py ...   the training package (Python files only, without this workstation CLI)
    training/fonts/     the font files the negatives are drawn from, with their licences
    model/*.py ...      the model package (Python files only: no artifacts)

The whole folder is what ModelTrainer uploads as the ``code`` channel and what the tuner tars into
``sourcedir.tar.gz`` (the tuner applies no ignore patterns, hence a clean copy instead of the repo).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("training", "model")
#: Folders no training job needs.
SKIPPED = ("__pycache__", "artifacts", "cloud")
ENTRY_SCRIPT = "train_entry.py"
REQUIREMENTS = "requirements.txt"
#: Data files a training job reads, copied whole (relative to the repo).
DATA = ("training/fonts",)
#: Imported by the training script but not shipped in the PyTorch training DLC.
CONTAINER_EXTRAS = ("tqdm", "matplotlib", "Hershey-Fonts")


def pinned(names: tuple[str, ...] = CONTAINER_EXTRAS, requirements: Path = ROOT / "requirements.txt") -> list[str]:
    """The ``name==version`` lines of ``names`` in the project's requirements (one place for versions)."""
    pins = {}
    for line in requirements.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?==(\S+)", line.strip())
        if match:
            pins[match.group(1).lower()] = f"{match.group(1)}=={match.group(3)}"
    missing = [name for name in names if name.lower() not in pins]
    if missing:
        raise ValueError(f"{', '.join(missing)} not pinned in {requirements}")
    return [pins[name.lower()] for name in names]


def stage_source(folder: Path) -> Path:
    """Fill the empty ``folder`` with the code of a training job; returns ``folder``."""
    folder = Path(folder)
    for package in PACKAGES:
        for source in sorted((ROOT / package).rglob("*.py")):
            relative = source.relative_to(ROOT)
            if set(relative.parts) & set(SKIPPED):
                continue
            target = folder / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    for data in DATA:
        shutil.copytree(ROOT / data, folder / data)
    shutil.copy2(Path(__file__).with_name("entry_point.py"), folder / ENTRY_SCRIPT)
    (folder / REQUIREMENTS).write_text("\n".join(pinned()) + "\n")
    return folder
