"""``make up`` / ``make down`` for real: the whole stack comes up, stops cleanly, and keeps its state."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import psutil
import pytest
import requests

from chalicelib.config import load
from ops.emulator import ROOT, Emulator, free_port
from ops.supervise import EXIT_NO_RESTART
from tests import images
from tests.stack_fixtures import wait_for
from training.package import repack

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _stack_env(local_dir: Path) -> dict[str, str]:
    ports = {name: str(free_port()) for name in ("AWS_PORT", "ENDPOINT_PORT", "API_PORT", "UI_PORT")}
    return {**os.environ, **ports, "DIGITS_LOCAL_DIR": str(local_dir)}


def _up(env: dict[str, str], log: Path, *args: str, sigint_ignored: bool = False) -> subprocess.Popen:
    """``make up``; with ``sigint_ignored``, started as a script's background job starts it: SIGINT
    ignored, which the child inherits."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if sigint_ignored else None
    try:
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "ops.stack", "up", *args],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
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
    result = subprocess.run(
        [sys.executable, "-m", "ops.stack", "down"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert _stopped(proc, 30) == 0


def _stopped(proc: subprocess.Popen, timeout: float) -> int | None:
    """The stack's exit code once it has stopped within ``timeout``; if it has not, it is stopped as
    `make down` would (SIGTERM: supervisord and every service with it) and ``None`` is returned, so a
    failing test leaves no process behind."""
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.terminate()
        proc.wait(150)
        return None


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
        ddb.put_item(
            TableName=config.predictions_table,
            Item={
                "prediction_id": {"S": "kept"},
                "feed": {"S": "all"},
                "source": {"S": "api"},
                "created_at": {"S": "2026-01-01T00:00:00.000000Z"},
            },
        )
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


def _pid(local_dir: Path, service: str) -> int:
    """The service's process id, from supervisord (the documented ``supervisorctl`` command); 0: not running."""
    config = local_dir / "supervisor" / "supervisord.conf"
    result = subprocess.run(
        [sys.executable, "-m", "supervisor.supervisorctl", "-c", str(config), "pid", service],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return int(result.stdout.strip()) if result.stdout.strip().isdigit() else 0


def test_a_dead_service_is_restarted_and_the_others_stay_up(tmp_path: Path):
    """The endpoint killed (SIGKILL) while the stack runs: restarted and logged, the API never restarted,
    predictions answered again; Ctrl-C then stops every process, even when the stack was started with
    SIGINT ignored (the full suite did: Ctrl-C went unheard)."""
    local_dir = tmp_path / "local"
    env, log = _stack_env(local_dir), tmp_path / "stack.log"
    proc = _up(env, log, sigint_ignored=True)
    services = ("aws", "endpoint", "api", "bridge", "ui")
    try:
        before = {name: _pid(local_dir, name) for name in services}
        assert all(before.values()), before
        os.kill(before["endpoint"], signal.SIGKILL)
        restarted = wait_for(
            lambda: _pid(local_dir, "endpoint") not in (0, before["endpoint"]), 60, what="the endpoint restarted"
        )
        api = f"http://127.0.0.1:{env['API_PORT']}"
        wait_for(
            lambda: requests.get(f"{api}/health", timeout=30).status_code == 200,
            90,
            interval=0.5,
            what="the API healthy again",
        )
        png = images.png(images.blank((28, 28), 0))
        answer = requests.post(f"{api}/predict", data=png, headers={"Content-Type": "image/png"}, timeout=60)
        assert answer.status_code in (200, 422), answer.text  # the model answered (a blank is no digit)
        after = {name: _pid(local_dir, name) for name in services}
        assert {n: p for n, p in after.items() if n != "endpoint"} == {
            n: p for n, p in before.items() if n != "endpoint"
        }
        text = log.read_text()
        assert "exited: endpoint (terminated by SIGKILL; not expected)" in text
        assert f"spawned: 'endpoint' with pid {after['endpoint']}" in text
        assert restarted
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        assert _stopped(proc, 90) == 0
    assert not [pid for pid in after.values() if psutil.pid_exists(pid)]
    assert "stopped; state kept" in log.read_text()


def test_the_whole_system_runs_against_the_real_serving_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """``make up ENDPOINT=container``: the API and the inbox against TorchServe + the SageMaker toolkit."""
    env, log = _stack_env(tmp_path / "local"), tmp_path / "stack.log"
    for key, value in Emulator(port=int(env["AWS_PORT"])).client_env().items():
        monkeypatch.setenv(key, value)
    api = f"http://127.0.0.1:{env['API_PORT']}"
    proc = _up(env, log, "--endpoint", "container")
    try:
        assert "container http://127.0.0.1:" in log.read_text()
        assert requests.get(f"{api}/health", timeout=60).status_code == 200
        seven = (ROOT.parent / "shared" / "cases" / "c1_ref_7.jpg").read_bytes()
        answer = requests.post(f"{api}/predict", data=seven, headers={"Content-Type": "image/jpg"}, timeout=60)
        assert answer.status_code == 200 and answer.json()["number"] == "7", answer.text
        blank = images.png(images.blank())
        answer = requests.post(f"{api}/predict", data=blank, headers={"Content-Type": "image/png"}, timeout=60)
        assert (answer.status_code, answer.json()["error"]["code"]) == (422, "no_digit_found")  # from the model
    finally:
        _down(env, proc)
    left = [p.info for p in psutil.process_iter(["pid", "cmdline", "cwd"]) if str(tmp_path) in (p.info["cwd"] or "")]
    assert not left, left  # the serving stack (launcher, JVM, workers) ran in tmp_path: nothing of it is left


def test_a_model_that_cannot_load_stops_make_up_at_once(tmp_path: Path):
    """``make up MODEL=<an archive whose weights are another network's>``: the endpoint says why once
    and is not started again (it exits with ``EXIT_NO_RESTART``), so the stack stops at once with one
    error line instead of restarting it until supervisord gives up; nothing is left running."""
    archive = repack(
        ROOT.parent / "shared" / "cases" / "f2_other_architecture_state_dict.tar.gz", tmp_path / "m.tar.gz"
    )
    env = _stack_env(tmp_path / "local")
    result = subprocess.run(
        [sys.executable, "-m", "ops.stack", "up", "--model", str(archive)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = result.stdout
    assert result.returncode == 1, out[-3000:]
    assert out.count("spawned: 'endpoint'") == 1, out[-3000:]
    assert "holds the weights of another network" in out
    assert f"exited: endpoint (exit status {EXIT_NO_RESTART}; expected)" in out
    assert [line for line in out.splitlines() if "error:" in line] == [
        f"stack    | error: endpoint: model failed to load: model.pt holds the weights of another "
        f"network, not a DigitNet state_dict; see {tmp_path / 'local' / 'logs' / 'endpoint.log'}"
    ]  # the endpoint's own reason, not only that it was given up
    assert "Traceback" not in out + result.stderr
    left = [
        p.info for p in psutil.process_iter(["pid", "cmdline"]) if str(tmp_path) in " ".join(p.info["cmdline"] or [])
    ]
    assert not left, left


def test_a_port_in_use_is_one_clear_line(tmp_path: Path, emulator):
    env = _stack_env(tmp_path / "local") | {"AWS_PORT": str(emulator.port)}
    result = subprocess.run(
        [sys.executable, "-m", "ops.stack", "up"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    errors = [line for line in result.stdout.splitlines() if "error:" in line]
    assert errors == [
        f"stack    | error: port {emulator.port} (aws) is already in use: run `make down`, or set AWS_PORT"
    ], result.stdout
    assert "Traceback" not in result.stdout + result.stderr
