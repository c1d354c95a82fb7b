"""What ``training/train.py`` does with the feedback channel and a starting model.

* ``--feedback-dir`` (default ``$SM_CHANNEL_FEEDBACK``): the channel's ``train`` examples are added to
  the training set, repeated so that they make up about ``--feedback-share`` of it (a few dozen
  corrections would otherwise drown in 55,000 MNIST images); the ``holdout`` examples are left for the gate.
* ``--init-model`` (a ``model.tar.gz``, model dir or ``model.pt``, e.g. the serving model): training
  starts from its weights instead of from scratch, with BatchNorm statistics frozen (a few small
  batches would otherwise move them away from what the validation split and the users' images share).
  With ``--epochs 1 --limit N --lr 3e-4`` that is a fine-tune of a few steps.

The metadata written next to ``model.pt`` says which channel and which parent model were used.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from training.data import Dataset
from training.feedback import channel
from training.sets import Sets


class Settings(Protocol):
    feedback_dir: str | None
    feedback_share: float
    init_model: str | None
    model_dir: str


def mix_in(prepared: Sets, config: Settings) -> tuple[Sets, dict[str, Any] | None]:
    """``prepared`` with the channel's training examples added to its extra images, oversampled so that
    they are about ``feedback_share`` of an epoch; and what was mixed in (None: nothing).

    They join the extras (typed digits, not-a-digit pictures: images already as the service makes
    them), not the MNIST digits, which training also sends through the upload path: a feedback
    example is the model's input already."""
    if not config.feedback_dir or not (Path(config.feedback_dir) / channel.MANIFEST).exists():
        return prepared, None
    feedback = channel.load(config.feedback_dir, "train")
    if not len(feedback):
        return prepared, None
    if not 0 < config.feedback_share < 1:
        raise ValueError("--feedback-share must be between 0 and 1")
    others = len(prepared.train) + len(prepared.extra)
    repeats = max(1, round(config.feedback_share * others / (1 - config.feedback_share) / len(feedback)))
    extra = prepared.extra
    mixed = replace(
        prepared,
        extra=Dataset(
            torch.cat([extra.images, feedback.images.repeat(repeats, 1, 1)]),
            torch.cat([extra.labels, feedback.labels.repeat(repeats)]),
            extra.fingerprint,
            extra.source,
        ),
    )
    info = {
        "channel": str(config.feedback_dir),
        "examples": len(feedback),
        "repeats": repeats,
        "share": round(repeats * len(feedback) / (others + repeats * len(feedback)), 4),
    }
    print(
        f"feedback: {len(feedback)} examples from {config.feedback_dir}, x{repeats} "
        f"({info['share']:.1%} of {others + repeats * len(feedback)} training images)",
        flush=True,
    )
    return mixed, info


def init_weights(model: nn.Module, config: Settings) -> str | None:
    """Load ``--init-model``'s weights into ``model``; its version (None without ``--init-model``)."""
    if not config.init_model:
        return None
    from training.evaluate import load_model

    parent, metadata = load_model(config.init_model)
    model.load_state_dict(parent.state_dict())
    print(f"starting from {config.init_model} (version {metadata.get('version')})", flush=True)
    return metadata.get("version") or str(config.init_model)


def train_mode(model: nn.Module, config: Settings) -> None:
    """``model.train()``, with BatchNorm kept in eval mode when fine-tuning from ``--init-model``."""
    model.train()
    if config.init_model:
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.eval()


def annotate(
    config: Settings, metadata: dict[str, Any], feedback: dict[str, Any] | None, parent: str | None
) -> dict[str, Any]:
    """Add the feedback used and the parent model to ``metadata`` and to ``metadata.json``."""
    if feedback is None and parent is None:
        return metadata
    metadata = {**metadata, "feedback": feedback, "parent_version": parent}
    (Path(config.model_dir) / "metadata.json").write_text(json.dumps(metadata, indent=2) + "\n")
    return metadata
