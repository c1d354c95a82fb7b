"""The emulator process: clean start/stop, clear errors, state that survives a restart."""

import boto3
import pytest

from chalicelib.config import load
from ops.emulator import Emulator, free_port
from ops.errors import OpsError
from ops.provision import provision

pytestmark = pytest.mark.integration


def test_objects_and_items_survive_a_clean_restart(tmp_path, monkeypatch):
    emu = Emulator(port=free_port(), state_dir=tmp_path / "state", log_path=tmp_path / "log")
    for key, value in emu.client_env().items():
        monkeypatch.setenv(key, value)
    config = load("local")
    with emu:
        provision(config)
        boto3.client("s3").put_object(Bucket=config.results_bucket, Key="results/x.json", Body=b"{}")
        boto3.client("dynamodb").put_item(
            TableName=config.predictions_table,
            Item={
                "prediction_id": {"S": "kept"},
                "feed": {"S": "all"},
                "source": {"S": "api"},
                "created_at": {"S": "2026-01-01T00:00:00Z"},
            },
        )
    assert not emu.healthy()
    with emu:
        body = boto3.client("s3").get_object(Bucket=config.results_bucket, Key="results/x.json")["Body"].read()
        assert body == b"{}"
        item = boto3.client("dynamodb").get_item(
            TableName=config.predictions_table, Key={"prediction_id": {"S": "kept"}}
        )
        assert item["Item"]["source"]["S"] == "api"
        assert provision(config).created == []


def test_port_in_use_is_one_clear_error(emulator, tmp_path):
    with pytest.raises(OpsError, match=rf"port {emulator.port} is already in use"):
        Emulator(port=emulator.port, state_dir=tmp_path).start()


def test_missing_venv_names_the_fix(tmp_path, monkeypatch):
    monkeypatch.setattr("ops.emulator.AWS_VENV", tmp_path / "nope")
    with pytest.raises(OpsError, match="make setup"):
        Emulator(port=free_port(), state_dir=tmp_path).start()
