"""Users who write slanted digits, for trying the loop: predictions and their feedback through the API.

    python -m training.feedback.simulate --count 300 [--api http://127.0.0.1:8000] [--degrees 70]

Takes ``--count`` images of the MNIST training split (never the validation split the gate scores on),
turns them ``--degrees`` counter-clockwise, posts each to ``POST /predict`` and, for every prediction of
one digit, sends the true digit to ``POST /predictions/{id}/feedback``: a correction where the model was
wrong, a confirmation where it was right. Prints how many of each.
"""

from __future__ import annotations

import argparse
import io
import json
import os
from pathlib import Path

import numpy as np
import requests
from PIL import Image

from training.data import load_mnist, stratified_split

DEFAULT_DEGREES = 70


def slanted_digits(
    count: int,
    degrees: float = DEFAULT_DEGREES,
    data_dir: str | Path | None = None,
    seed: int = 42,
    val_size: int = 5000,
) -> tuple[np.ndarray, np.ndarray]:
    """The last ``count`` training-split images (of ``stratified_split(val_size, seed)``), turned
    ``degrees``: ``(images (count, 28, 28) uint8, labels (count,))``."""
    data = load_mnist(data_dir)
    train_index, _ = stratified_split(data.labels, val_size, seed)
    chosen = train_index[-count:].tolist()
    pictures = [np.asarray(Image.fromarray(data.images[i].numpy()).rotate(degrees, Image.BILINEAR)) for i in chosen]
    return np.stack(pictures), data.labels[chosen].numpy()


def png(picture: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG")
    return buffer.getvalue()


def run(api: str, count: int, degrees: float) -> dict[str, int]:
    pictures, labels = slanted_digits(count, degrees)
    counts = {"predictions": 0, "corrected": 0, "confirmed": 0, "several_digits": 0, "refused": 0}
    with requests.Session() as session:
        for picture, label in zip(pictures, labels.tolist(), strict=True):
            response = session.post(
                f"{api}/predict", data=png(picture), headers={"Content-Type": "image/png"}, timeout=30
            )
            counts["predictions"] += 1
            if response.status_code == 422:  # refused (not_a_digit, no_digit_found): nothing to correct
                counts["refused"] += 1
                continue
            response.raise_for_status()
            record = response.json()
            if record.get("digit") is None:
                counts["several_digits"] += 1
                continue
            session.post(
                f"{api}/predictions/{record['prediction_id']}/feedback", json={"label": label}, timeout=30
            ).raise_for_status()
            counts["confirmed" if record["digit"] == label else "corrected"] += 1
    return counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--api", default=os.environ.get("DIGITS_API_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--degrees", type=float, default=DEFAULT_DEGREES)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.api.rstrip("/"), args.count, args.degrees)))


if __name__ == "__main__":
    main()
