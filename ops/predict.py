"""Read digits from image files with a model archive, from the command line.

    python -m ops.predict photo.jpg drawing.png number.webp
    python -m ops.predict --model /tmp/run/model.tar.gz digit.png   # another archive (or unpacked folder)
    python -m ops.predict --model tuning-job:NAME digit.png          # or s3://..., training-job:NAME

Prints one JSON object per file and line: ``{"file": ..., "digit": ..., "number": ..., ...}`` (the
endpoint's response, see docs/contracts.md), or ``{"file": ..., "error": {"code": ..., "message": ...}}``.
``.json`` files are sent as JSON request bodies (``{"image": ...}`` or ``{"pixels": ...}``), anything else
as an image. The model is loaded through ``model_fn`` and each file goes through ``transform_fn``, exactly
as the SageMaker serving stack runs them. Exit status 1 if any file failed, 2 if the model cannot be loaded
(one ``error: ...`` line).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tarfile
from pathlib import Path
from typing import Any

from model.contract import JSON, MAX_IMAGE_BYTES, error_body, too_large
from ops.archive import DEFAULT_ARCHIVE, ModelLoadError, load_archive
from ops.model_source import ModelSourceError, resolve


def predict_files(files: list[str], model_path: str | Path = DEFAULT_ARCHIVE) -> list[dict[str, Any]]:
    """One result dict per file, in order: ``{"file": ..., **response}`` or ``{"file": ..., "error": ...}``.

    Raises :class:`~ops.archive.ModelLoadError` when the model cannot be loaded."""
    model, handlers = load_archive(model_path)
    results = []
    for name in files:
        path = Path(name)
        try:
            with path.open("rb") as f:
                body = f.read(MAX_IMAGE_BYTES + 1)  # the handlers refuse anything larger
                size = len(body) if len(body) <= MAX_IMAGE_BYTES else os.fstat(f.fileno()).st_size
        except OSError as exc:
            results.append({"file": name, **error_body("unreadable_file", f"{exc.strerror or exc}: {name}")})
            continue
        if size > MAX_IMAGE_BYTES:  # said with the file's own size, not the bytes read of it
            results.append({"file": name, **too_large(size).to_dict()})
            continue
        content_type = JSON if path.suffix.lower() == ".json" else "application/x-image"
        answer, _ = handlers.transform_fn(model, body, content_type, JSON)
        results.append({"file": name, **json.loads(answer)})
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ops.predict", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="image files (or .json request bodies)")
    parser.add_argument(
        "--model",
        default=str(DEFAULT_ARCHIVE),
        help="model.tar.gz, unpacked folder, s3://BUCKET/KEY, training-job:NAME or tuning-job:NAME "
        f"(see docs/models.md; default {DEFAULT_ARCHIVE})",
    )
    args = parser.parse_args(argv)
    try:
        results = predict_files(args.files, resolve(args.model))
    except (ModelLoadError, ModelSourceError, tarfile.TarError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for result in results:
        print(json.dumps(result), flush=True)
    return 1 if any("error" in result for result in results) else 0


if __name__ == "__main__":
    sys.exit(main())
