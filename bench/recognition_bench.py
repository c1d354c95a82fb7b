"""Recognition benchmark: what the service answers, end to end through the handlers, on every set.

For each set of :mod:`bench.recognition_sets` and for the 5,000 held-out MNIST validation digits
(sent as ``{"pixels": ...}`` tensors and as PNG uploads), every picture goes ``input_fn`` ->
``predict_many`` -> ``output_fn`` as the endpoint runs them, and its answer is compared with the
right one:

- a set of digits or numbers: the share **read right** (the exact number), **refused** as not a
  digit (``not_a_digit``: a false refusal), found no digit in (``no_digit_found``), and misread;
- a set of things that are not digits: the share **refused** (``not_a_digit``, or ``no_digit_found``
  where the preprocessing already finds no mark, or ``low_confidence``), and the share named as a number
  anyway.

The **confidence floor** (``model.refusal``) is measured too: every set is read again with the floor at 0
(the stage's floor, ``$CONFIDENCE_FLOOR`` or the default, gives the shares above), and
``confidence_floor_tradeoff`` lists, per floor, how many answers read right and how many wrong ones have a
confidence under it.

``python -m bench.recognition_bench [--model ARCHIVE]`` -> ``bench/results/recognition.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
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


#: The answers that are refusals, not numbers.
REFUSALS = ("not_a_digit", "no_digit_found", "low_confidence")
#: The confidence floors whose trade-off is measured.
FLOORS = (0.2, 0.25, 0.3, 0.35, 0.4, 0.5)

Reading = tuple[str, float | None]


def readings(
    samples: list[Sample], loaded: tuple[Any, Any], content_type: str = "application/x-image"
) -> list[Reading]:
    """Each sample's answer through the handlers, ``(the number read or the error code, its confidence or
    None)``."""
    model, handlers = loaded
    out: list[Reading] = [("", None)] * len(samples)
    for start in range(0, len(samples), CHUNK):
        accepted, data = [], []
        for i in range(start, min(start + CHUNK, len(samples))):
            try:
                data.append(handlers.input_fn(samples[i].data, content_type))
                accepted.append(i)
            except InputError as exc:
                out[i] = (exc.code, None)
        for i, prediction in zip(accepted, handlers.predict_many(data, model), strict=True):
            try:
                answer = json.loads(handlers.output_fn(prediction, "application/json")[0])
                out[i] = (answer["number"], answer["confidence"])
            except InputError as exc:
                out[i] = (exc.code, None)
    return out


def answers(samples: list[Sample], loaded: tuple[Any, Any], content_type: str = "application/x-image") -> list[str]:
    """Each sample's answer through the handlers: the number read, or the error code."""
    return [answer for answer, _ in readings(samples, loaded, content_type)]


def summarise(samples: list[Sample], found: list[str]) -> dict[str, Any]:
    """The shares of answers (see the module doc) and the commonest wrong answers."""
    n = len(samples)
    if all(s.answer is None for s in samples):
        refused = sum(a in REFUSALS for a in found)
        named = Counter(a for a in found if a not in REFUSALS)
        return {
            "images": n,
            "refused": refused / n,
            "refused_as_not_a_digit": found.count("not_a_digit") / n,
            "named_as_number": 1 - refused / n,
            "commonest_numbers": named.most_common(5),
        }
    right = sum(a == s.answer for s, a in zip(samples, found, strict=True))
    wrong = Counter(f"{s.answer}->{a}" for s, a in zip(samples, found, strict=True) if a != s.answer)
    refused = {code: found.count(code) / n for code in REFUSALS}
    return {
        "images": n,
        "read_right": right / n,
        "refused_as_not_a_digit": refused["not_a_digit"],
        "no_digit_found": refused["no_digit_found"],
        "low_confidence": refused["low_confidence"],
        "misread": (n - right) / n - sum(refused.values()),
        "commonest_errors": wrong.most_common(8),
    }


def floor_tradeoff(sets: dict[str, tuple[list[Sample], list[Reading]]]) -> list[dict[str, Any]]:
    """Per floor of :data:`FLOORS`: of the answers read with the floor at 0 (``sets``: the samples and
    their readings, by set), how many read right and how many wrong numbers (misread digits, non-digits
    named) have a confidence under it, on the validation uploads and on the other sets together."""
    rows = []
    for floor in FLOORS:
        row: dict[str, Any] = {"floor": floor}
        groups = {
            "validation": ["mnist_validation_png"],
            "other_sets": [name for name in sets if not name.startswith("mnist_validation")],
        }
        for group, names in groups.items():
            right = wrong = right_refused = wrong_refused = 0
            for samples, found in (sets[name] for name in names):
                for sample, (answer, confidence) in zip(samples, found, strict=True):
                    if confidence is None:
                        continue
                    ok = answer == sample.answer
                    right, wrong = right + ok, wrong + (not ok)
                    right_refused += ok and confidence < floor
                    wrong_refused += (not ok) and confidence < floor
            row[group] = {
                "read_right": right,
                "right_refused": right_refused,
                "wrong": wrong,
                "wrong_refused": wrong_refused,
            }
        rows.append(row)
    return rows


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
    model = loaded[0]
    unfloored = (dataclasses.replace(model, confidence_floor=0.0), loaded[1])
    tensors, uploads, images, labels = mnist_validation(model_path)
    inverted = [Sample(_inverted_png(image), s.answer, s.name) for image, s in zip(images, uploads, strict=True)]
    sets: dict[str, list[Sample]] = {
        "mnist_validation_tensors": tensors,
        "mnist_validation_png": uploads,
        "mnist_validation_png_dark_on_light": inverted,
        "continental_digits": recognition_sets.continental_digits(images, labels),
    }
    rng = np.random.default_rng(0)
    pick = rng.choice(len(images), 300, replace=False)
    sets |= dict(recognition_sets.all_sets(images[pick], labels[pick]))
    results: dict[str, Any] = {
        "model_version": model.version,
        "not_a_digit_threshold": model.not_a_digit_threshold,
        "confidence_floor": model.confidence_floor,
    }
    without_floor = {}
    for name, samples in sets.items():
        content_type = "application/json" if name == "mnist_validation_tensors" else "application/x-image"
        results[name] = summarise(samples, answers(samples, loaded, content_type))
        if name != "mnist_validation_tensors":
            without_floor[name] = (samples, readings(samples, unfloored))
    results["confidence_floor_tradeoff"] = floor_tradeoff(without_floor)
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
