"""``make up`` / ``make down`` for real: the whole stack comes up, stops cleanly, and keeps its state."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
import requests

from chalicelib.config import load
from ops.emulator import ROOT, Emulator, free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _stack_env(local_dir: Path) -> dict[str, str]:
    ports = {name: str(free_port()) for name in ("AWS_PORT", "ENDPOINT_PORT", "API_PORT", "UI_PORT")}
    return {**os.environ, **ports, "DIGITS_LOCAL_DIR": str(local_dir)}


def _up(env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "ops.stack", "up"], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if "stack    | ready:" in text.split("stopped;")[-1]:
            return proc
        if proc.poll() is not None:
            pytest.fail(f"make up exited with {proc.returncode}:\n{text[-3000:]}")
        time.sleep(0.2)
    proc.terminate()
    pytest.fail(f"stack not ready in 180 s:\n{log.read_text(errors='replace')[-3000:]}")


def _down(env: dict[str, str], proc: subprocess.Popen) -> None:
    result = subprocess.run([sys.executable, "-m", "ops.stack", "down"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert proc.wait(30) == 0


def test_up_down_up_keeps_objects_and_items(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    env, log = _stack_env(tmp_path / "local"), tmp_path / "stack.log"
    for key, value in Emulator(port=int(env["AWS_PORT"])).client_env().items():
        monkeypatch.setenv(key, value)
    config = load("local")
    proc = _up(env, log)
    try:
        answer = requests.get(f"http://127.0.0.1:{env['API_PORT']}/health", timeout=30)
        assert answer.status_code == 200, answer.text
        s3, ddb = boto3.client("s3"), boto3.client("dynamodb")
        s3.put_object(Bucket=config.results_bucket, Key="results/kept.json", Body=b'{"kept": true}')
        ddb.put_item(TableName=config.predictions_table, Item={
            "prediction_id": {"S": "kept"}, "feed": {"S": "all"}, "source": {"S": "api"},
            "created_at": {"S": "2026-01-01T00:00:00.000000Z"}})
    finally:
        _down(env, proc)
    assert "stopped; state kept" in log.read_text()

    proc = _up(env, log)
    try:
        s3, ddb = boto3.client("s3"), boto3.client("dynamodb")
        body = s3.get_object(Bucket=config.results_bucket, Key="results/kept.json")["Body"].read()
        assert body == b'{"kept": true}'
        item = ddb.get_item(TableName=config.predictions_table, Key={"prediction_id": {"S": "kept"}})
        assert item["Item"]["source"]["S"] == "api"
        assert "exists   s3://" in log.read_text().split("stopped; state kept")[-1]  # provisioning was a no-op
    finally:
        _down(env, proc)


def test_a_port_in_use_is_one_clear_line(tmp_path: Path, emulator):
    env = _stack_env(tmp_path / "local") | {"AWS_PORT": str(emulator.port)}
    result = subprocess.run([sys.executable, "-m", "ops.stack", "up"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1
    errors = [line for line in result.stdout.splitlines() if "error:" in line]
    assert errors == [f"stack    | error: port {emulator.port} (aws) is already in use: run `make down`, or set "
                      "AWS_PORT"], result.stdout
    assert "Traceback" not in result.stdout + result.stderr
