"""Build ``model.tar.gz`` in the layout the SageMaker PyTorch inference container expects.

    model.pt            state_dict of model.network.DigitNet
    metadata.json       version, hyperparameters, validation metrics, data fingerprint, architecture
    code/inference.py   shim: ``from model.inference import model_fn, transform_fn`` (code/ is on sys.path)
    code/model/*.py     the repository's model package (network, preprocessing, handlers)

``python -m training.package`` refreshes the code in the shipped archive (or packs a training run's
model dir) and copies its metadata next to it::

    python -m training.package                                  # repack model/artifacts/model.tar.gz
    python -m training.package --model-dir /tmp/run/model       # pack a model dir instead
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import shutil
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODEL_PACKAGE = ROOT / "model"
ARTIFACTS = MODEL_PACKAGE / "artifacts"
SHIPPED = ARTIFACTS / "model.tar.gz"
#: ``code/inference.py``: what the toolkit imports. Only these two names: it refuses a module that defines
#: ``transform_fn`` next to ``input_fn``/``predict_fn``/``output_fn``.
SHIM = (
    '"""SageMaker entry point: the handlers live in the model package."""\n'
    "from model.inference import model_fn, transform_fn  # noqa: F401\n"
)


def write_code(model_dir: Path) -> Path:
    """(Re)write ``model_dir/code/``: the shim and a copy of the model package's Python files."""
    code = Path(model_dir) / "code"
    shutil.rmtree(code, ignore_errors=True)
    (code / "model").mkdir(parents=True)
    for source in sorted(MODEL_PACKAGE.glob("*.py")):
        shutil.copy2(source, code / "model" / source.name)
    (code / "inference.py").write_text(SHIM)
    return code


def build_archive(model_dir: Path, archive: Path) -> Path:
    """Tar ``model.pt``, ``metadata.json`` and ``code/`` of ``model_dir`` into ``archive`` (reproducibly)."""
    model_dir = Path(model_dir)
    for required in ("model.pt", "metadata.json", "code/inference.py"):
        if not (model_dir / required).exists():
            raise FileNotFoundError(f"{model_dir / required} missing")
    members = [model_dir / "model.pt", model_dir / "metadata.json"]
    members += sorted(p for p in (model_dir / "code").rglob("*") if p.is_file() and "__pycache__" not in p.parts)

    def clean(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "root", "root"
        info.mode = 0o644
        return info

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in members:
            tar.add(path, arcname=str(path.relative_to(model_dir)), filter=clean)
    archive = Path(archive)
    archive.parent.mkdir(parents=True, exist_ok=True)
    tmp = archive.with_suffix(".tmp")
    with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz:
        gz.write(buffer.getvalue())
    tmp.replace(archive)
    return archive


def repack(source: Path, archive: Path) -> Path:
    """Rebuild ``archive`` from ``source`` (a model dir or a model.tar.gz) with the current model code."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if Path(source).is_dir():
            for name in ("model.pt", "metadata.json"):
                shutil.copy2(Path(source) / name, work / name)
        else:
            with tarfile.open(source) as tar:
                for name in ("model.pt", "metadata.json"):
                    (work / name).write_bytes(tar.extractfile(name).read())  # type: ignore[union-attr]
        write_code(work)
        build_archive(work, Path(tmp) / "out.tar.gz")
        archive.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(Path(tmp) / "out.tar.gz", archive)
        shutil.copy2(work / "metadata.json", archive.parent / "metadata.json")
    return archive


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=Path, help="a training run's model dir (default: the shipped archive)")
    parser.add_argument("--output", type=Path, default=SHIPPED, help=f"archive to write (default {SHIPPED})")
    args = parser.parse_args(argv)
    source = args.model_dir or args.output
    archive = repack(source, args.output)
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    print(json.dumps({"archive": str(archive), "bytes": archive.stat().st_size, "members": names}, indent=1))


if __name__ == "__main__":
    main()
