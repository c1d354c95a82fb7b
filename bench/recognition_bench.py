"""Recognition benchmark: what the service answers, end to end through the handlers, on every set.

For each set of :mod:`bench.recognition_sets` and for the 5,000 held-out MNIST validation digits
(sent as ``{"pixels": ...}`` tensors and as PNG uploads), every picture goes ``input_fn`` ->
``predict_many`` -> ``output_fn`` as the endpoint runs them, and its answer is compared with the
right one:

- a set of digits or numbers: the share **read right** (the exact number), **refused** as not a
  digit (``not_a_digit``: a false refusal), found no digit in (``no_digit_found``), and misread;
- a set of things that are not digits: the share **refused** (``not_a_digit``, or ``no_digit_found``
  where the preprocessing already finds no mark), and the share named as a number anyway.

``python -m bench.recognition_bench [--model ARCHIVE]`` -> ``bench/results/recognition.json``.
"""

from __future__ import annotations

import argparse
import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from bench import recognition_sets, save
from bench.recognition_sets import Sample
from model.contract import InputError
from ops.archive import DEFAULT_ARCHIVE, load_archive
from training.evaluate import load_model, validation_split

CHUNK = 256


def answers(samples: list[Sample], loaded: tuple[Any, Any], content_type: str = "application/x-image") -> list[str]:
    """Each sample's answer through the handlers: the number read, or the error code."""
    model, handlers = loaded
    out: list[str] = [""] * len(samples)
    for start in range(0, len(samples), CHUNK):
        accepted, data = [], []
        for i in range(start, min(start + CHUNK, len(samples))):
            try:
                data.append(handlers.input_fn(samples[i].data, content_type))
                accepted.append(i)
            except InputError as exc:
                out[i] = exc.code
        for i, prediction in zip(accepted, handlers.predict_many(data, model), strict=True):
            try:
                out[i] = json.loads(handlers.output_fn(prediction, "application/json")[0])["number"]
            except InputError as exc:
                out[i] = exc.code
    return out


def summarise(samples: list[Sample], found: list[str]) -> dict[str, Any]:
    """The shares of answers (see the module doc) and the commonest wrong answers."""
    n = len(samples)
    if all(s.answer is None for s in samples):
        refused = sum(a in ("not_a_digit", "no_digit_found") for a in found)
        named = Counter(a for a in found if a not in ("not_a_digit", "no_digit_found"))
        return {
            "images": n,
            "refused": refused / n,
            "refused_as_not_a_digit": found.count("not_a_digit") / n,
            "named_as_number": 1 - refused / n,
            "commonest_numbers": named.most_common(5),
        }
    right = sum(a == s.answer for s, a in zip(samples, found, strict=True))
    wrong = Counter(f"{s.answer}->{a}" for s, a in zip(samples, found, strict=True) if a != s.answer)
    return {
        "images": n,
        "read_right": right / n,
        "refused_as_not_a_digit": found.count("not_a_digit") / n,
        "no_digit_found": found.count("no_digit_found") / n,
        "misread": (n - right) / n - (found.count("not_a_digit") + found.count("no_digit_found")) / n,
        "commonest_errors": wrong.most_common(8),
    }


def mnist_validation(model_path: Path) -> tuple[list[Sample], list[Sample], np.ndarray, np.ndarray]:
    """The held-out validation digits of the archive's training run, as tensors and as PNG uploads."""
    _, metadata = load_model(model_path)
    data = validation_split(metadata)
    images, labels = data.images.numpy(), data.labels.numpy()
    tensors, uploads = [], []
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        body = json.dumps({"pixels": image.tolist()}).encode()
        tensors.append(Sample(body, str(int(label)), f"val_{i}"))
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="PNG")
        uploads.append(Sample(buffer.getvalue(), str(int(label)), f"val_{i}"))
    return tensors, uploads, images, labels


def run(model_path: Path = DEFAULT_ARCHIVE) -> dict[str, Any]:
    loaded = load_archive(model_path)
    tensors, uploads, images, labels = mnist_validation(model_path)
    results: dict[str, Any] = {
        "model_version": loaded[0].version,
        "not_a_digit_threshold": getattr(loaded[0], "not_a_digit_threshold", None),
        "mnist_validation_tensors": summarise(tensors, answers(tensors, loaded, "application/json")),
        "mnist_validation_png": summarise(uploads, answers(uploads, loaded)),
    }
    inverted = [Sample(_inverted_png(image), s.answer, s.name) for image, s in zip(images, uploads, strict=True)]
    results["mnist_validation_png_dark_on_light"] = summarise(inverted, answers(inverted, loaded))
    rng = np.random.default_rng(0)
    pick = rng.choice(len(images), 300, replace=False)
    for name, samples in recognition_sets.all_sets(images[pick], labels[pick]):
        results[name] = summarise(samples, answers(samples, loaded))
    rows = []
    for name, summary in results.items():
        if isinstance(summary, dict):
            key = "read_right" if "read_right" in summary else "refused"
            rows.append([f"{name}: {key.replace('_', ' ')}", f"{100 * summary[key]:.2f} %", "", "", ""])
    results["rows"] = rows
    return results


def _inverted_png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(255 - image).save(buffer, format="PNG")
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=DEFAULT_ARCHIVE, help="model.tar.gz (default: the shipped one)")
    parser.add_argument("--output", type=Path, help="write the JSON here instead of bench/results/recognition.json")
    args = parser.parse_args(argv)
    results = run(args.model)
    if args.output:
        args.output.write_text(json.dumps(results, indent=1) + "\n")
    else:
        save("recognition", results)
    for name, summary in results.items():
        if isinstance(summary, dict):
            print(name, {k: v for k, v in summary.items() if not k.startswith("common")})


if __name__ == "__main__":
    main()
