"""Per-stage configuration: the one place that names AWS resources.

``stages.json`` next to this module holds, per stage (``local``, ``dev``, ``prod``), the region, the
bucket, table, queue and endpoint names. Provisioning, the Chalice app (its ``.chalice/config.json``
stages set ``DIGITS_STAGE``), the event bridge, the UI and the tests all read them through
:func:`load`. Bucket names are global in AWS: change the ``dev``/``prod`` ones in ``stages.json``
before the first deployment (``tests/test_config.py`` keeps the Chalice stages and IAM policy files in
step with it).

Any single name can be overridden with an environment variable, ``DIGITS_<FIELD>`` in upper case
(for example ``DIGITS_PREDICTIONS_TABLE``); the tests use that to run on isolated resources.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, fields, replace
from functools import cache
from pathlib import Path

STAGES_FILE = Path(__file__).with_name("stages.json")
DEFAULT_STAGE = "local"


class ConfigError(ValueError):
    """An unknown stage or an invalid resource name."""


@dataclass(frozen=True)
class StageConfig:
    """Names of the AWS resources of one stage."""

    stage: str
    region: str
    inbox_bucket: str
    results_bucket: str
    predictions_table: str
    idempotency_table: str
    inbox_queue: str | None
    endpoint_name: str
    api_url: str | None
    log_level: str

    #: Key prefix in the inbox bucket that triggers a prediction.
    inbox_prefix: str = "inbox/"


@cache
def _stages() -> dict[str, dict]:
    return json.loads(STAGES_FILE.read_text())


def stage_names() -> list[str]:
    """All configured stages, in file order."""
    return list(_stages())


def load(stage: str | None = None, environ: dict[str, str] | None = None) -> StageConfig:
    """Return the configuration of ``stage`` (default: ``$DIGITS_STAGE``, else ``local``).

    Environment variables ``DIGITS_<FIELD>`` override single fields.
    """
    env = os.environ if environ is None else environ
    stage = stage or env.get("DIGITS_STAGE") or DEFAULT_STAGE
    try:
        raw = _stages()[stage]
    except KeyError:
        raise ConfigError(f"unknown stage {stage!r}; known stages: {', '.join(stage_names())}") from None
    config = StageConfig(stage=stage, **raw)
    overrides = {
        f.name: env[f"DIGITS_{f.name.upper()}"]
        for f in fields(StageConfig)
        if f.name != "stage" and f"DIGITS_{f.name.upper()}" in env
    }
    return replace(config, **overrides) if overrides else config
