"""Fixtures for "the running local stack", shared by the API, S3 trigger, UI and reliability tests.

Registered for every test module by ``tests/conftest.py`` (``pytest_plugins``). All servers listen on
127.0.0.1 on free ports, against the session emulator, with the same command lines and environment as
``make up`` (taken from :class:`ops.stack.Stack`), and are stopped at the end even when a test fails.

* ``endpoint_server``: ``ops.endpoint`` with the shipped model; sets ``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME``
  in this process, so in-process code (the Chalice test client) reaches it too. ``stop()``/``start()``
  take it down and bring it back on the same port (fault tests).
* ``local_stack`` (per module, so that its bridge does not consume other modules' inbox events): the
  endpoint + ``chalice local`` + the S3 event bridge, the local stage provisioned.
  ``local_stack.api_url`` is the API's base URL.
* ``chalice_client``: Chalice's in-process test client on the provisioned local stage.

Tests that reset the emulator (``aws`` fixture) may run while the stack is up: provisioning recreates
the same names, and the bridge re-resolves its queue.
"""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from chalicelib.config import StageConfig, load
from ops.emulator import Emulator, free_port, patched_environ
from ops.provision import provision
from ops.stack import MODEL_ARCHIVE as SHIPPED_MODEL
from ops.stack import ROOT, Ports, Service, Stack, wait_http

#: The model the endpoint serves: the shipped one, or another archive (``TEST_MODEL_ARCHIVE=path``).
MODEL_ARCHIVE = Path(os.environ.get("TEST_MODEL_ARCHIVE", SHIPPED_MODEL))


def wait_for(condition: Callable[[], Any], timeout: float, interval: float = 0.05, what: str = "condition") -> Any:
    """Poll ``condition`` until it returns something truthy (returned), failing after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"{what}: not met within {timeout} s")


@dataclass
class ManagedProcess:
    """One server of the stack: started, health-checked, stopped with SIGTERM (its whole group)."""

    service: Service
    env: dict[str, str]
    log_path: Path
    _proc: subprocess.Popen | None = field(default=None, init=False, repr=False)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 (the child keeps writing to it)
        self._proc = subprocess.Popen(
            self.service.argv,
            cwd=self.service.cwd,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        try:
            if self.service.health_url:
                wait_http(self.service.health_url, self.service.timeout, self._proc)
        except Exception:
            self.stop()
            raise RuntimeError(f"{self.service.name} did not start; log:\n{self.log_tail()}") from None

    def stop(self) -> int | None:
        """Stop it (SIGTERM, then SIGKILL after 20 s); its exit code, None when it was not started."""
        if self._proc is None:
            return None
        if self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGTERM)
            try:
                self._proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait()
        code, self._proc = self._proc.returncode, None
        return code

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""


@dataclass
class LocalStack:
    ports: Ports
    config: StageConfig
    endpoint: ManagedProcess
    api: ManagedProcess
    bridge: ManagedProcess

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.api}"


def _stack_for(emulator: Emulator, endpoint_port: int, api_port: int) -> Stack:
    ports = Ports(aws=emulator.port, endpoint=endpoint_port, api=api_port, ui=free_port())
    return Stack(ports=ports, model=MODEL_ARCHIVE, with_ui=False)


def _service(stack: Stack, name: str) -> Service:
    return next(s for s in stack.services() if s.name == name)


@pytest.fixture(scope="session")
def endpoint_server(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ManagedProcess]:
    if not MODEL_ARCHIVE.is_file():
        pytest.fail(f"{MODEL_ARCHIVE} missing: the shipped model (see README, Model)")
    stack = _stack_for(emulator, free_port(), free_port())
    logs = tmp_path_factory.mktemp("endpoint")
    server = ManagedProcess(_service(stack, "endpoint"), stack.env(), logs / "endpoint.log")
    runtime = "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"
    with patched_environ({runtime: stack.env()[runtime]}):
        try:
            server.start()
            yield server
        finally:
            server.stop()


def ensure_provisioned(config: StageConfig) -> None:
    """Provision again when an emulator reset (an earlier test's ``aws`` fixture) removed the stage."""
    try:
        boto3.client("dynamodb").describe_table(TableName=config.idempotency_table)
    except ClientError:
        provision(config)


@pytest.fixture(scope="session")
def provisioned(emulator: Emulator) -> StageConfig:
    """The local stage's resources exist (created once; idempotent, no reset)."""
    config = load("local")
    provision(config)
    return config


@pytest.fixture(scope="module")
def local_stack(
    emulator: Emulator,
    endpoint_server: ManagedProcess,
    provisioned: StageConfig,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LocalStack]:
    ensure_provisioned(provisioned)
    endpoint_port = int(os.environ["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"].rsplit(":", 1)[1])
    stack = _stack_for(emulator, endpoint_port, free_port())
    logs = tmp_path_factory.mktemp("stack")
    env = stack.env()
    api = ManagedProcess(_service(stack, "api"), env, logs / "api.log")
    bridge = ManagedProcess(_service(stack, "bridge"), env, logs / "bridge.log")
    try:
        api.start()
        bridge.start()
        yield LocalStack(stack.ports, provisioned, endpoint_server, api, bridge)
    finally:
        bridge.stop()
        api.stop()


@pytest.fixture(scope="session")
def chalice_app(endpoint_server: ManagedProcess, provisioned: StageConfig):
    """The Chalice ``app`` module, imported once the emulator and endpoint variables are set."""
    chalice_dir = str(ROOT / "chalice_app")
    if chalice_dir not in sys.path:
        sys.path.insert(0, chalice_dir)
    return importlib.import_module("app")


@pytest.fixture
def chalice_client(chalice_app, provisioned: StageConfig):
    """Chalice's in-process test client (HTTP routes and Lambda handlers) on the local stage."""
    from chalice.test import Client

    ensure_provisioned(provisioned)
    with Client(chalice_app.app, stage_name="local", project_dir=str(ROOT / "chalice_app")) as client:
        yield client
