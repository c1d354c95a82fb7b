"""The one metrics line the training script prints per epoch, and the regexes that read it.

``epoch=3 train_loss=0.0213 val_loss=0.0188 val_accuracy=0.9961 epoch_seconds=41.2``, then for a run
through the upload path and with the "not a digit" class ``val_upload_accuracy=0.9960
val_not_digit_refused=0.9712`` (validation digits read right through the service's preprocessing;
share of the validation not-a-digit pictures whose largest output is "not a digit": the
service's threshold, on the probability of not being one digit, is chosen once training ends).

SageMaker scrapes the job's log with ``METRIC_DEFINITIONS`` (training jobs and the tuner);
``training.cloud`` passes them on, tests apply them to real output. Change the format only here.
"""

from __future__ import annotations

import re

METRIC_DEFINITIONS: list[dict[str, str]] = [
    {"Name": "epoch", "Regex": r"epoch=([0-9]+) "},
    {"Name": "train_loss", "Regex": r"train_loss=([0-9.]+)"},
    {"Name": "val_loss", "Regex": r"val_loss=([0-9.]+)"},
    {"Name": "val_accuracy", "Regex": r"val_accuracy=([0-9.]+)"},
    {"Name": "epoch_seconds", "Regex": r"epoch_seconds=([0-9.]+)"},
    {"Name": "val_upload_accuracy", "Regex": r"val_upload_accuracy=([0-9.]+)"},
    {"Name": "val_not_digit_refused", "Regex": r"val_not_digit_refused=([0-9.]+)"},
]
#: The metrics every line has (the others only for runs that measure them).
REQUIRED = ("epoch", "train_loss", "val_loss", "val_accuracy", "epoch_seconds")


def format_metrics(
    epoch: int,
    train_loss: float,
    val_loss: float,
    val_accuracy: float,
    epoch_seconds: float,
    val_upload_accuracy: float | None = None,
    val_not_digit_refused: float | None = None,
) -> str:
    """The metrics line for one epoch (fixed order and precision)."""
    line = (
        f"epoch={epoch} train_loss={train_loss:.4f} val_loss={val_loss:.4f} "
        f"val_accuracy={val_accuracy:.4f} epoch_seconds={epoch_seconds:.1f}"
    )
    if val_upload_accuracy is not None:
        line += f" val_upload_accuracy={val_upload_accuracy:.4f}"
    if val_not_digit_refused is not None:
        line += f" val_not_digit_refused={val_not_digit_refused:.4f}"
    return line


def parse_metrics(text: str) -> list[dict[str, float]]:
    """Every metrics line in ``text`` as a dict, read with ``METRIC_DEFINITIONS`` like SageMaker does."""
    rows = []
    for line in text.splitlines():
        found = {d["Name"]: re.search(d["Regex"], line) for d in METRIC_DEFINITIONS}
        if all(found[name] for name in REQUIRED):
            rows.append({name: float(match.group(1)) for name, match in found.items() if match})
    return rows
