"""The per-stage configuration is the one source of resource names."""

import json

import pytest

from chalicelib import config

pytestmark = pytest.mark.unit


def test_every_stage_loads():
    for stage in ("local", "dev", "prod"):
        cfg = config.load(stage, environ={})
        assert cfg.stage == stage
        assert cfg.inbox_bucket != cfg.results_bucket


def test_default_stage_comes_from_environment():
    assert config.load(environ={"DIGITS_STAGE": "dev"}).stage == "dev"
    assert config.load(environ={}).stage == "local"


def test_environment_overrides_single_names():
    cfg = config.load("local", environ={"DIGITS_PREDICTIONS_TABLE": "other"})
    assert cfg.predictions_table == "other"
    assert cfg.inbox_bucket == config.load("local", environ={}).inbox_bucket


def test_unknown_stage_is_a_clear_error():
    with pytest.raises(config.ConfigError, match="unknown stage 'qa'"):
        config.load("qa", environ={})


def test_only_the_local_stage_has_a_queue():
    stages = json.loads(config.STAGES_FILE.read_text())
    assert stages["local"]["inbox_queue"]
    assert stages["dev"]["inbox_queue"] is None and stages["prod"]["inbox_queue"] is None


def test_security_settings_per_stage():
    local, dev, prod = (config.load(stage, environ={}) for stage in ("local", "dev", "prod"))
    assert local.api_auth == "none" and dev.api_auth == "iam" and prod.api_auth == "iam"
    assert local.api_rate_limit is None and local.api_burst_limit is None  # chalice local: nothing to throttle
    for cfg in (dev, prod):
        assert cfg.api_rate_limit > 0 and cfg.api_burst_limit >= cfg.api_rate_limit
        assert cfg.retention_days > 0


def test_environment_overrides_of_numbers_are_json():
    cfg = config.load("dev", environ={"DIGITS_RETENTION_DAYS": "7", "DIGITS_API_RATE_LIMIT": "2.5"})
    assert cfg.retention_days == 7 and cfg.api_rate_limit == 2.5
    assert config.load("dev", environ={"DIGITS_RETENTION_DAYS": "null"}).retention_days is None
    assert config.load("dev", environ={"DIGITS_ACCOUNT_ID": "123456789012"}).account_id == "123456789012"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DIGITS_API_AUTH", "apikey", "api_auth must be"),
        ("DIGITS_RETENTION_DAYS", "0", "retention_days must be a positive number"),
        ("DIGITS_RETENTION_DAYS", "1.5", "retention_days must be a whole number"),
        ("DIGITS_API_RATE_LIMIT", "ten", "not a JSON value"),
        ("DIGITS_API_BURST_LIMIT", "null", "set together"),
        ("DIGITS_ACCOUNT_ID", "12345", "12 digits"),
    ],
)
def test_invalid_security_settings_are_clear_errors(name: str, value: str, message: str):
    with pytest.raises(config.ConfigError, match=message):
        config.load("dev", environ={name: value})
