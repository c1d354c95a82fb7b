"""The gate: is the challenger good enough to replace the champion (the model that serves now)?

Both models are scored on the same two sets:

* the fixed validation split (the MNIST images held out of training, same seed and size as the
  champion's; a challenger trained with another split or on other data is refused, since it may have
  trained on these images);
* the feedback channel's ``holdout`` examples (users' images the challenger was not trained on), as
  the model saw them (``model_input``).

Both are scored as the training log counts (right when the network's largest output, "not a digit"
included, is the label): what a fine-tune moves. What the endpoint answers (a digit refused only at
the model's threshold) is :func:`training.evaluate.evaluate`'s count. The challenger passes
when it is not worse on validation and strictly better on the held-out feedback
(more of them right). No held-out feedback means there is nothing to be better on: the gate fails.

"Not worse on validation" compares the two models image by image: of the images only one of them gets
right, the challenger may lose ``lost`` and gain ``gained``. Any retraining moves a few borderline
images both ways, so the challenger is worse when its net loss is more than chance explains, the
one-sided McNemar test at 5 %: ``lost - gained > 1.645 * sqrt(lost + gained)`` (on the 5,000 images
of the split, about 5 images net when 10 change). ``strict=True`` allows no net loss at all.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from training.data import Dataset
from training.evaluate import load_model, validation_split
from training.feedback import channel

#: One-sided 95 % quantile of the normal distribution (McNemar's test, normal approximation).
Z_95 = 1.645


@dataclass(frozen=True)
class Score:
    version: str | None
    validation_accuracy: float
    validation_errors: int
    feedback_accuracy: float | None
    feedback_right: int


@dataclass(frozen=True)
class Verdict:
    champion: Score
    challenger: Score
    validation_images: int
    feedback_holdout: int
    #: Validation images the challenger gets wrong and the champion right, and the reverse.
    validation_lost: int
    validation_gained: int
    strict: bool
    passed: bool
    reasons: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _score(model: Any, version: str | None, validation: Dataset, feedback: Dataset) -> tuple[Score, Any]:
    """The model's score, and which validation images it gets right (a bool tensor)."""
    from training.train import score

    _, val_accuracy, logits = score(model, validation)
    right_on_validation = logits.argmax(1) == validation.labels
    errors = int((~right_on_validation).sum())
    right = 0
    if len(feedback):
        _, _, fb_logits = score(model, feedback)
        right = int((fb_logits.argmax(1) == feedback.labels).sum())
    accuracy = round(right / len(feedback), 6) if len(feedback) else None
    return Score(version, round(val_accuracy, 6), errors, accuracy, right), right_on_validation


def _split_of(metadata: dict[str, Any]) -> tuple[Any, ...]:
    hyper = metadata.get("hyperparameters", {})
    return int(hyper.get("seed", 42)), int(hyper.get("val_size", 5000)), metadata.get("data", {}).get("fingerprint")


def worse_on_validation(lost: int, gained: int, strict: bool = False) -> bool:
    """Whether losing ``lost`` and gaining ``gained`` images is worse (see the module docstring)."""
    if strict:
        return lost > gained
    return lost - gained > Z_95 * math.sqrt(lost + gained)


def compare(
    challenger: str | Path,
    champion: str | Path,
    feedback_dir: str | Path,
    strict: bool = False,
    data_dir: str | None = None,
) -> Verdict:
    """Score both models (``model.tar.gz``, model dir or ``model.pt``) and decide; see the module docstring."""
    champion_model, champion_meta = load_model(champion)
    challenger_model, challenger_meta = load_model(challenger)
    validation = validation_split(champion_meta, data_dir)
    feedback = channel.load(feedback_dir, "holdout")
    ours, ours_right = _score(challenger_model, challenger_meta.get("version"), validation, feedback)
    theirs, theirs_right = _score(champion_model, champion_meta.get("version"), validation, feedback)
    lost, gained = int((theirs_right & ~ours_right).sum()), int((ours_right & ~theirs_right).sum())
    reasons = []
    if _split_of(challenger_meta) != _split_of(champion_meta):
        reasons.append(
            f"the challenger was trained with another validation split or data {_split_of(challenger_meta)}"
            f" than the champion {_split_of(champion_meta)}: it may have seen the validation images"
        )
    if worse_on_validation(lost, gained, strict):
        reasons.append(
            f"worse on validation: {ours.validation_accuracy:.2%} vs {theirs.validation_accuracy:.2%}, "
            f"{lost} images lost, {gained} gained" + (" (strict: no net loss)" if strict else "")
        )
    if not len(feedback):
        reasons.append("no held-out feedback examples: nothing to be better on (export more corrections)")
    elif ours.feedback_right <= theirs.feedback_right:
        reasons.append(
            f"not better on held-out feedback: {ours.feedback_right} vs {theirs.feedback_right} "
            f"of {len(feedback)} right"
        )
    return Verdict(theirs, ours, len(validation), len(feedback), lost, gained, strict, not reasons, reasons)
