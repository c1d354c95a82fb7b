"""``make demo``: push a handful of sample images through both paths of a running ``make up`` stack.

The samples are generated here from the local MNIST training files (no download): a dark digit on
white paper, a canvas-style drawing with the stroke only in the alpha channel, a light-on-dark scan and
a three-digit number. Half go to ``POST /predict``, half are uploaded to the S3 inbox bucket, so the
UI's History page has records from both sources.
"""

from __future__ import annotations

import io
import os
import sys
import time
import uuid

import boto3
import numpy as np
import requests
from PIL import Image

from chalicelib.config import load
from ops.emulator import Emulator
from ops.stack import Ports
from training.data import load_mnist


def _png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def _big(digit: np.ndarray, size: int = 280) -> np.ndarray:
    return np.asarray(Image.fromarray(digit).resize((size, size), Image.Resampling.BICUBIC))


def samples(count: int = 8) -> list[tuple[str, bytes]]:
    """``(name, png)`` pairs: MNIST digits in the styles people actually send."""
    data = load_mnist()
    rng = np.random.default_rng(7)
    picks = rng.choice(len(data), size=count + 3, replace=False)
    digits = data.images[picks].numpy()
    labels = data.labels[picks].tolist()
    out = []
    for n, (digit, label) in enumerate(zip(digits[:count], labels[:count], strict=True)):
        big = _big(digit)
        style = n % 3
        if style == 0:  # dark ink on white paper
            out.append((f"paper-{label}", _png(255 - big)))
        elif style == 1:  # canvas drawing: transparent background, stroke in alpha
            rgba = np.zeros((*big.shape, 4), dtype=np.uint8)
            rgba[..., 3] = big
            out.append((f"canvas-{label}", _png(rgba)))
        else:  # light on dark scan
            out.append((f"scan-{label}", _png(big)))
    number = np.concatenate([np.pad(d, ((8, 8), (4, 4))) for d in digits[count:]], axis=1)
    wide = np.asarray(Image.fromarray(number).resize((number.shape[1] * 4, number.shape[0] * 4)))
    out.append((f"number-{''.join(map(str, labels[count:]))}", _png(255 - wide)))
    return out


def main() -> int:
    config = load("local")
    ports = Ports.from_env()
    for key, value in Emulator(port=ports.aws).client_env().items():
        os.environ.setdefault(key, value)
    api = f"http://127.0.0.1:{ports.api}"
    s3 = boto3.client("s3", region_name=config.region)
    try:
        requests.get(f"{api}/health", timeout=5)
    except requests.ConnectionError:
        print(f"demo: no API at {api}: start the stack with `make up` first", file=sys.stderr)
        return 1
    for n, (name, body) in enumerate(samples()):
        if n % 2 == 0:
            response = requests.post(f"{api}/predict", data=body, headers={"Content-Type": "image/png"}, timeout=30)
            answer = response.json()
            shown = answer.get("number") or answer.get("error", {}).get("code")
            print(f"api   {name:<14} -> {response.status_code} {shown}")
        else:
            key = f"{config.inbox_prefix}demo-{name}-{uuid.uuid4().hex[:6]}.png"
            s3.put_object(Bucket=config.inbox_bucket, Key=key, Body=body, ContentType="image/png")
            print(f"s3    {name:<14} -> s3://{config.inbox_bucket}/{key}")
        time.sleep(0.05)
    print("demo: done; open the UI's History page")
    return 0


if __name__ == "__main__":
    sys.exit(main())
