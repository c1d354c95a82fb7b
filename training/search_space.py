"""The hyperparameter search space, defined once.

Both the local Optuna search (:mod:`training.tune`) and the SageMaker tuning job
(:mod:`training.cloud`) translate this same tuple, so the two can never drift apart. Names are the
``--key`` arguments of :mod:`training.train`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Param:
    """One tunable hyperparameter: ``kind`` is ``"float"``, ``"int"`` or ``"categorical"``."""

    name: str
    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[str | int | float, ...] = ()


SEARCH_SPACE: tuple[Param, ...] = (
    Param("lr", "float", 5e-4, 5e-3, log=True),
    Param("weight-decay", "float", 1e-4, 1e-1, log=True),
    Param("dropout", "float", 0.1, 0.5),
    Param("batch-size", "categorical", choices=(64, 128, 256)),
)

#: What tuning maximises; the training log prints it as ``val_accuracy=0.9961`` each epoch.
OBJECTIVE_METRIC = "val_accuracy"
