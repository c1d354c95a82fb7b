"""Choosing the "not a digit" threshold on validation, and the trade-off it sits on.

Each validation picture gets the network's probability that it is not one digit (no digit, or digits
that touch: :func:`model.refusal.not_one_digit`). At a threshold ``t``, real digits at or above ``t``
are refused wrongly and not-a-digit pictures at or above ``t`` are refused rightly; :func:`tradeoff`
gives both shares over a range of thresholds (the curve the docs plot), :func:`choose` the lowest
threshold that refuses at most ``max_false_refusal`` of the digits (lowest: it refuses the most
non-digits within that budget).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from model.refusal import not_one_digit
from training.data import Dataset, batches

#: Share of validation digits the chosen threshold may refuse: a third of the 0.3 % allowed, as digits
#: from other sources than the validation split are refused more often.
MAX_FALSE_REFUSAL = 0.001
THRESHOLDS = np.round(np.concatenate([np.arange(0.05, 0.95, 0.05), np.arange(0.95, 1.0, 0.01)]), 2)


def not_digit_scores(model: torch.nn.Module, data: Dataset) -> np.ndarray:
    """``(N,)``: the probability ``model`` (11 or 12 outputs) gives each image of not being one digit,
    what the service refuses on (:func:`model.refusal.not_one_digit`)."""
    model.eval()
    with torch.inference_mode():
        logits = torch.cat([model(x) for x, _ in batches(data, 1000, shuffle=False)])
    return not_one_digit(torch.softmax(logits, dim=1).numpy())


def tradeoff(digits: np.ndarray, not_digits: np.ndarray, thresholds: np.ndarray = THRESHOLDS) -> list[dict[str, float]]:
    """Per threshold, the share of digits and of not-a-digit pictures refused (score >= threshold)."""
    return [
        {
            "threshold": float(t),
            "digits_refused": float((digits >= t).mean()),
            "not_digits_refused": float((not_digits >= t).mean()),
        }
        for t in thresholds
    ]


def choose(digits: np.ndarray, max_false_refusal: float = MAX_FALSE_REFUSAL) -> float:
    """The lowest threshold (2 decimals, 0.05-0.99) refusing at most ``max_false_refusal`` of ``digits``."""
    for t in np.round(np.arange(0.05, 1.0, 0.01), 2):
        if (digits >= t).mean() <= max_false_refusal:
            return float(t)
    return 0.99


def plot(curve: list[dict[str, float]], chosen: float, path: Path) -> None:
    """The trade-off as a PNG: non-digits refused against digits refused, one point per threshold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.2))
    x = [100 * c["digits_refused"] for c in curve]
    y = [100 * c["not_digits_refused"] for c in curve]
    ax.plot(x, y, "o-", markersize=3)
    for c in curve:
        if c["threshold"] in (0.1, 0.3, 0.5, 0.7, 0.9, 0.99) or abs(c["threshold"] - chosen) < 1e-9:
            ax.annotate(f"{c['threshold']:g}", (100 * c["digits_refused"], 100 * c["not_digits_refused"]), fontsize=7)
    ax.axvline(0.3, color="grey", linestyle="--", linewidth=1, label="0.3 % of digits refused")
    ax.axhline(95, color="grey", linestyle=":", linewidth=1, label="95 % of non-digits refused")
    ax.set_xscale("symlog", linthresh=0.1)
    ax.set(
        xlabel="validation digits refused (%)",
        ylabel="not-a-digit pictures refused (%)",
        title=f"Not a digit: threshold trade-off (chosen {chosen:g})",
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
