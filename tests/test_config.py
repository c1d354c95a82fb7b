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
