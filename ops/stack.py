"""``make up``: the whole local system in one foreground process with one prefixed log stream.

Order: MiniStack (local S3/DynamoDB/SQS) -> provisioning -> the local SageMaker endpoint (the shipped
model, or ``--model`` / ``make up MODEL=...``: see :mod:`ops.model_source`) -> ``chalice local`` (the
API) -> the S3 event bridge -> Streamlit. Each step waits for its health check before the next starts.

The services run under supervisord (:mod:`ops.supervise`): one that dies is restarted (with a growing
delay when it keeps dying at once) and the others stay up; every exit and restart is logged. Ctrl-C,
SIGTERM or ``make down`` stop everything in reverse order with SIGTERM (so the emulator snapshots its
state) and wait for each process to exit.

Ports come from the environment (defaults in brackets): ``AWS_PORT`` [4566], ``ENDPOINT_PORT`` [8080],
``API_PORT`` [8000], ``UI_PORT`` [8501]; state, logs and the pid file live in ``$DIGITS_LOCAL_DIR``
[.local]. The tests start whole stacks on free ports with a temporary state folder this way.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from chalicelib.config import load
from ops.emulator import DEFAULT_STATE_DIR, ROOT, Emulator, free_port, port_in_use
from ops.errors import OpsError
from ops.model_source import resolve
from ops.serving_stack import ServingStack
from ops.supervise import GIVEN_UP, Program, Supervisor, log


def local_dir() -> Path:
    """Where ``make up`` keeps its state and pid file: ``$DIGITS_LOCAL_DIR``, else ``.local/``."""
    return Path(os.environ.get("DIGITS_LOCAL_DIR", ROOT / ".local"))


def pid_file() -> Path:
    return local_dir() / "stack.pid"


def model_registry() -> Path:
    """The local model registry file (:mod:`training.feedback.registry`) that the endpoint follows."""
    return local_dir() / "models" / "registry.json"


def promoted_model() -> Path | None:
    """The archive the local model registry says serves, or None when nothing was promoted."""
    try:
        current = json.loads(model_registry().read_text())["current"]
    except (FileNotFoundError, ValueError, KeyError):
        return None
    return Path(current["archive"]) if current else None


MODEL_ARCHIVE = ROOT / "model" / "artifacts" / "model.tar.gz"


def wait_http(
    url: str, timeout: float, proc: subprocess.Popen | None = None, given_up: Callable[[], bool] | None = None
) -> None:
    """Wait until ``url`` answers 200, failing fast when ``proc`` exits or ``given_up()`` says so."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise OpsError(f"process exited with code {proc.returncode} before {url} was healthy")
        if given_up is not None and given_up():
            raise OpsError(f"given up before {url} was healthy")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.1)
    raise OpsError(f"{url} not healthy within {timeout:.0f} s")


@dataclass
class Ports:
    aws: int = 4566
    endpoint: int = 8080
    api: int = 8000
    ui: int = 8501

    @classmethod
    def from_env(cls) -> Ports:
        env = os.environ
        return cls(
            aws=int(env.get("AWS_PORT", 4566)),
            endpoint=int(env.get("ENDPOINT_PORT", 8080)),
            api=int(env.get("API_PORT", 8000)),
            ui=int(env.get("UI_PORT", 8501)),
        )


@dataclass
class Service:
    """A child process of the stack, healthy when ``health_url`` answers 200 (or at once without one)."""

    name: str
    argv: list[str]
    health_url: str | None = None
    timeout: float = 90.0  # generous: a cold `import torch` on a busy 2-core machine took 13 s
    cwd: Path = ROOT

    @property
    def program(self) -> Program:
        return Program(self.name, self.argv, self.cwd)


@dataclass
class Stack:
    """The local system; :meth:`start` brings it up, :meth:`stop` takes it down in reverse order."""

    ports: Ports = field(default_factory=Ports)
    state_dir: Path = DEFAULT_STATE_DIR
    #: What the endpoint serves: a local archive, s3://..., training-job:NAME or tuning-job:NAME.
    model: str | Path = MODEL_ARCHIVE
    #: What serves the model behind the local endpoint: ``local`` (in-process, starts in seconds) or
    #: ``container`` (the real SageMaker serving stack, TorchServe + toolkit: what AWS runs).
    endpoint: str = "local"
    with_ui: bool = True
    #: A model registry file the endpoint follows (switching models on promotion and rollback).
    follow: Path | None = None
    #: Print the children's output (prefixed); benchmarks switch it off.
    echo: bool = True
    _supervisor: Supervisor | None = field(default=None, init=False)
    _serving_stack: ServingStack | None = field(default=None, init=False)

    @cached_property
    def archive(self) -> Path:
        """``model`` as a local archive, resolved (and downloaded once) with this shell's AWS settings:
        the endpoint itself gets the emulator's."""
        return resolve(self.model)

    def env(self) -> dict[str, str]:
        """Environment shared by every process: unchanged boto3 code reaches the local services."""
        config = load("local")
        return {
            **os.environ,
            **Emulator(port=self.ports.aws).client_env(),
            "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": f"http://127.0.0.1:{self.ports.endpoint}",
            "DIGITS_STAGE": "local",
            "DIGITS_API_URL": f"http://127.0.0.1:{self.ports.api}",
            "AWS_DEFAULT_REGION": config.region,
            "PYTHONUNBUFFERED": "1",
        }

    def emulator(self) -> Service:
        """MiniStack on the stack's AWS port, its state in ``state_dir`` (``python -m ops.emulator`` execs it
        with the environment :meth:`ops.emulator.Emulator.server_env` gives it)."""
        emulator = Emulator(port=self.ports.aws, state_dir=self.state_dir)
        emulator.argv()  # fails now, with `make setup` as the fix, when MiniStack is not installed
        argv = [sys.executable, "-m", "ops.emulator", "--port", str(self.ports.aws), "--state-dir", str(self.state_dir)]
        return Service("aws", argv, f"{emulator.url}/_ministack/health")

    def services(self) -> list[Service]:
        """What runs after provisioning, in start order."""
        py = sys.executable
        services = [
            Service(
                "endpoint",
                [
                    py,
                    "-m",
                    "ops.endpoint",
                    *self._container_args(),
                    "--model-source",
                    str(self.model),
                    "--port",
                    str(self.ports.endpoint),
                    "--endpoint-name",
                    load("local").endpoint_name,
                ],
                f"http://127.0.0.1:{self.ports.endpoint}/ping",
            ),
            Service(
                "api",
                [
                    py,
                    "-m",
                    "ops.chalice_local",
                    "local",
                    "--no-autoreload",
                    "--stage",
                    "local",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.ports.api),
                ],
                f"http://127.0.0.1:{self.ports.api}/health",
                cwd=ROOT / "chalice_app",
            ),
            Service("bridge", [py, "-m", "ops.bridge"]),
        ]
        if self.with_ui:
            services.append(
                Service(
                    "ui",
                    [
                        py,
                        "-m",
                        "streamlit",
                        "run",
                        str(ROOT / "ui" / "Home.py"),
                        "--server.address",
                        "127.0.0.1",
                        "--server.port",
                        str(self.ports.ui),
                        "--server.headless",
                        "true",
                        "--browser.gatherUsageStats",
                        "false",
                    ],
                    f"http://127.0.0.1:{self.ports.ui}/_stcore/health",
                    timeout=60,
                )
            )
        return services

    def _container_args(self) -> list[str]:
        if self._serving_stack is not None:
            return ["--container-url", self._serving_stack.url]
        return ["--model", str(self.archive), *(["--follow", str(self.follow)] if self.follow else [])]

    def _start_serving_stack(self) -> None:
        """The real serving stack on a free port, ready once it has answered a real inference."""
        workdir = self.state_dir.parent / "serving-stack"
        shutil.rmtree(workdir, ignore_errors=True)
        self._serving_stack = ServingStack(self.archive, free_port(), workdir)
        log("stack", f"container starting TorchServe + sagemaker-pytorch-inference (log: {workdir}/logs)")
        self._serving_stack.start()
        log("stack", f"container {self._serving_stack.url} (the real SageMaker serving stack)")

    @property
    def log_dir(self) -> Path:
        """Each service's output, ``<name>.log``, next to the emulator's state."""
        return self.state_dir.parent / "logs"

    def start(self) -> None:
        for name, port in vars(self.ports).items():
            if port_in_use(port):
                raise OpsError(f"port {port} ({name}) is already in use: run `make down`, or set {name.upper()}_PORT")
        log("stack", f"model     {self.model} ({self.archive})")  # resolved first: a bad reference fails fast
        if self.endpoint == "container":
            self._start_serving_stack()
        aws, services = self.emulator(), self.services()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        env = self.env()
        self._supervisor = Supervisor(self.state_dir.parent / "supervisor", self.log_dir, env, echo=self.echo)
        self._supervisor.start([aws.program] + [service.program for service in services])
        self._start(aws)
        self._provision(env)
        for service in services:
            self._start(service)
        log("stack", f"logs      {self.log_dir}")

    def _start(self, service: Service) -> None:
        """Start one service under supervisord and wait for its health check (or for it to stay up)."""
        supervisor = self._supervisor
        assert supervisor is not None
        supervisor.start_program(service.name)
        try:
            if service.health_url:
                given_up = lambda: supervisor.state(service.name) in GIVEN_UP  # noqa: E731
                wait_http(service.health_url, service.timeout, given_up=given_up)
            else:
                supervisor.wait_running(service.name, service.timeout)
        except OpsError as exc:  # the service's own reason where it logged one
            why = supervisor.reason(service.name) or exc
            raise OpsError(f"{service.name}: {why}; see {supervisor.log_path(service.name)}") from None
        log("stack", f"{service.name:<9} {service.health_url or 'running'}")

    def _provision(self, env: dict[str, str]) -> None:
        result = subprocess.run(
            [sys.executable, "-m", "ops.provision", "--stage", "local"], env=env, capture_output=True, text=True
        )
        for line in (result.stdout + result.stderr).splitlines():
            log("provision", line)
        if result.returncode:
            raise OpsError("provisioning failed (see above)")

    def stop(self) -> None:
        if self._supervisor is not None:
            self._supervisor.stop()
            self._supervisor = None
        if self._serving_stack is not None:
            self._serving_stack.stop()
            self._serving_stack = None

    def wait(self) -> None:
        """Block until a signal arrives; supervisord keeps the services running meanwhile."""
        while self._supervisor is not None and self._supervisor.alive:
            time.sleep(0.5)
        raise OpsError("supervisord exited")


def up(model: str | None = None, endpoint: str = "local") -> int:
    """Run the stack until stopped. Without ``model``: the promoted model of the local registry (else the
    shipped one), and the endpoint follows the registry; an explicit ``model`` is served as it is."""
    state_dir = local_dir() / DEFAULT_STATE_DIR.name
    follow = model is None and endpoint == "local"
    stack = Stack(
        ports=Ports.from_env(),
        state_dir=state_dir,
        model=model or promoted_model() or MODEL_ARCHIVE,
        endpoint=endpoint,
        follow=model_registry() if follow else None,
    )
    pid_path = pid_file()

    def _terminate(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    # Ctrl-C stops the stack even when its parent left SIGINT ignored (Python then keeps it ignored
    # instead of raising KeyboardInterrupt): the full test suite starts it from such a process.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    pid_path.parent.mkdir(parents=True, exist_ok=True)
    pid_path.write_text(str(os.getpid()))
    code = 0
    try:
        stack.start()
        log(
            "stack",
            f"ready: API http://127.0.0.1:{stack.ports.api} (POST /predict)  UI http://127.0.0.1:{stack.ports.ui}"
            "  (Ctrl-C or `make down` stops)",
        )
        stack.wait()
    except KeyboardInterrupt:
        log("stack", "stopping")
    except OpsError as exc:
        log("stack", f"error: {exc}")
        code = 1
    finally:
        stack.stop()
        pid_path.unlink(missing_ok=True)
        log("stack", f"stopped; state kept in {stack.state_dir} (make reset wipes it)")
    return code


def down() -> int:
    pid_path = pid_file()
    try:
        pid = int(pid_path.read_text())
    except (FileNotFoundError, ValueError):
        print("stack: not running")
        return 0
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pid_path.unlink(missing_ok=True)
        print("stack: not running (stale pid file removed)")
        return 0
    for _ in range(300):
        if not pid_path.exists():
            print("stack: stopped")
            return 0
        time.sleep(0.1)
    print("stack: still stopping after 30 s", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the local stack")
    parser.add_argument("command", choices=["up", "down"])
    parser.add_argument(
        "--endpoint",
        choices=["local", "container"],
        default="local",
        help="what serves the model: in-process (local) or the real SageMaker serving stack (container)",
    )
    parser.add_argument(
        "--model",
        help="up: model.tar.gz, s3://BUCKET/KEY, training-job:NAME or tuning-job:NAME "
        "(docs/models.md; default: the promoted model of .local/models, else the shipped one)",
    )
    args = parser.parse_args(argv)
    return up(args.model, args.endpoint) if args.command == "up" else down()


if __name__ == "__main__":
    sys.exit(main())
