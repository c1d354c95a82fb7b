"""Per-stage configuration: the one place that names AWS resources.

``stages.json`` next to this module holds, per stage (``local``, ``dev``, ``prod``), the region, the
bucket, table, queue and endpoint names. Provisioning, the Chalice app (its ``.chalice/config.json``
stages set ``DIGITS_STAGE``), the event bridge, the UI and the tests all read them through
:func:`load`. Bucket names are global in AWS: change the ``dev``/``prod`` ones in ``stages.json``
before the first deployment (``tests/test_config.py`` keeps the Chalice stages and IAM policy files in
step with it).

Any single name can be overridden with an environment variable, ``DIGITS_<FIELD>`` in upper case
(for example ``DIGITS_PREDICTIONS_TABLE``); the tests use that to run on isolated resources. Values of
fields that are not strings are read as JSON (``DIGITS_RETENTION_DAYS=7``, ``DIGITS_API_RATE_LIMIT=null``).

Security settings (``docs/security.md``): ``api_auth`` (``iam``: SigV4 on every route but ``/health``;
``none``), ``api_rate_limit``/``api_burst_limit`` (API Gateway stage throttling, requests per second and
bucket size; ``null``: not throttled, the ``local`` stage), ``retention_days`` (S3 lifecycle expiry of
stored images and results and DynamoDB TTL of records; ``null``: kept forever), ``account_id`` (the AWS
account the stage deploys to, written into the IAM policy ARNs; ``null``: any account).
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
    """Names of the AWS resources of one stage, and its security settings (API auth, throttling, retention)."""

    stage: str
    region: str
    inbox_bucket: str
    results_bucket: str
    predictions_table: str
    idempotency_table: str
    inbox_queue: str | None
    #: SQS queue that receives inbox events the deployed S3 function still failed on after Lambda's
    #: retries (its on-failure destination); ``python -m ops.redrive`` replays them.
    inbox_dead_letter_queue: str
    endpoint_name: str
    api_url: str | None
    log_level: str
    account_id: str | None = None
    api_auth: str = "none"
    api_rate_limit: float | None = None
    api_burst_limit: int | None = None
    retention_days: int | None = None

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
        f.name: _parse(f.type, env[f"DIGITS_{f.name.upper()}"])
        for f in fields(StageConfig)
        if f.name != "stage" and f"DIGITS_{f.name.upper()}" in env
    }
    config = replace(config, **overrides) if overrides else config
    _validate(config)
    return config


def _parse(annotation: str, value: str) -> object:
    if annotation in ("str", "str | None"):
        return value
    try:
        return json.loads(value)
    except ValueError:
        raise ConfigError(f"{value!r} is not a JSON value (expected {annotation})") from None


def _validate(config: StageConfig) -> None:
    if config.api_auth not in ("iam", "none"):
        raise ConfigError(f"api_auth must be 'iam' or 'none', not {config.api_auth!r}")
    for name in ("api_rate_limit", "api_burst_limit", "retention_days"):
        value = getattr(config, name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or value <= 0):
            raise ConfigError(f"{name} must be a positive number or null, not {value!r}")
    for name in ("api_burst_limit", "retention_days"):
        if not isinstance(getattr(config, name), int | None):
            raise ConfigError(f"{name} must be a whole number or null")
    if (config.api_rate_limit is None) != (config.api_burst_limit is None):
        raise ConfigError("api_rate_limit and api_burst_limit are set together (both numbers or both null)")
    if config.account_id is not None and not (config.account_id.isdigit() and len(config.account_id) == 12):
        raise ConfigError(f"account_id must be 12 digits or null, not {config.account_id!r}")
