"""Read digits from image files with the shipped model, from the command line.

    python -m model.predict photo.jpg drawing.png number.webp
    python -m model.predict --model /tmp/run/model.tar.gz digit.png   # another archive (or unpacked folder)
    python -m model.predict --model tuning-job:NAME digit.png          # or s3://..., training-job:NAME

Prints one JSON object per file and line: ``{"file": ..., "digit": ..., "number": ..., ...}`` (the
endpoint's response, see docs/contracts.md), or ``{"file": ..., "error": {"code": ..., "message": ...}}``.
``.json`` files are read as JSON request bodies (``{"image": ...}`` or ``{"pixels": ...}``), anything
else as an image. The model is loaded through ``model_fn`` exactly as the SageMaker container does, and
all the files' digits go through the network in one batch. Exit status 1 if any file failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .archive import DEFAULT_ARCHIVE, ArchiveError, load_archive
from .errors import InputError
from .preprocess import MAX_IMAGE_BYTES


def _read(path: Path) -> bytes:
    """The file's bytes; a file over the size cap is refused without reading it all."""
    with path.open("rb") as f:
        data = f.read(MAX_IMAGE_BYTES + 1)
    if len(data) > MAX_IMAGE_BYTES:
        raise InputError("image_too_large", f"the file is over {MAX_IMAGE_BYTES:,} bytes")
    return data


def predict_files(files: list[str], model_path: str | Path = DEFAULT_ARCHIVE) -> list[dict[str, Any]]:
    """One result dict per file, in order: ``{"file": ..., **response}`` or ``{"file": ..., "error": ...}``."""
    model, handlers = load_archive(model_path)
    results: list[dict[str, Any]] = [{"file": name} for name in files]
    accepted: list[tuple[int, Any]] = []
    for index, name in enumerate(files):
        path = Path(name)
        content_type = "application/json" if path.suffix.lower() == ".json" else "application/x-image"
        try:
            accepted.append((index, handlers.input_fn(_read(path), content_type)))
        except InputError as exc:
            results[index].update(exc.to_dict())
        except OSError as exc:
            results[index]["error"] = {"code": "unreadable_file", "message": f"{exc.strerror or exc}: {name}"}
    predictions = handlers.predict_many([data for _, data in accepted], model) if accepted else []
    for (index, _), prediction in zip(accepted, predictions, strict=True):
        results[index].update(json.loads(handlers.output_fn(prediction, "application/json")))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m model.predict", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="image files (or .json request bodies)")
    parser.add_argument(
        "--model", default=str(DEFAULT_ARCHIVE), help="model.tar.gz, unpacked folder, s3://BUCKET/KEY, "
        f"training-job:NAME or tuning-job:NAME (see docs/models.md; default {DEFAULT_ARCHIVE})"
    )
    args = parser.parse_args(argv)
    from ops.model_source import ModelSourceError, resolve  # here: the model package ships without ops/boto3

    try:
        results = predict_files(args.files, resolve(args.model))
    except (FileNotFoundError, ModelSourceError, ArchiveError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for result in results:
        print(json.dumps(result), flush=True)
    return 1 if any("error" in result for result in results) else 0


if __name__ == "__main__":
    sys.exit(main())
