"""The real SageMaker PyTorch serving stack, run on this machine without Docker: what AWS runs.

SageMaker's PyTorch inference containers serve ``model.tar.gz`` with TorchServe and the
``sagemaker-pytorch-inference`` toolkit. :class:`ServingStack` runs the same versions (pinned in
``ops/serving-stack-requirements.txt``, installed by ``make serving-stack`` into ``.venv-serving``; Java 17)
the way the container starts them (``ops/torchserve_main.py``), on loopback ports only::

    with ServingStack("model/artifacts/model.tar.gz", port=free_port(), workdir=tmp) as stack:
        requests.post(f"{stack.url}/invocations", data=png, headers={"Content-Type": "image/png"})

``make up ENDPOINT=container`` puts it behind the local endpoint (:mod:`ops.endpoint` ``--container-url``).

Readiness is a real inference, not ``/ping``: TorchServe answers ``/ping`` "Healthy" before its workers
have loaded the model, and keeps answering it while a worker that cannot load the model is restarted
again and again.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType

import requests

from chalicelib.endpoint_client import PROBE_PNG
from ops.archive import unpack
from ops.emulator import ROOT, free_port
from ops.errors import OpsError

VENV = ROOT / ".venv-serving"
LAUNCHER = ROOT / "ops" / "torchserve_main.py"


def available() -> str | None:
    """None when the stack can run here, else why not (for a test's skip message)."""
    if not (VENV / "bin" / "torchserve").exists():
        return f"{VENV} missing: run `make serving-stack`"
    if subprocess.run(["sh", "-c", "command -v java"], capture_output=True).returncode != 0:
        return "Java missing: run `make serving-stack` (installs openjdk-17-jre-headless)"
    return None


class ServingStack:
    """TorchServe + the toolkit serving ``archive`` on ``127.0.0.1:port`` (its metrics and gRPC listeners
    on other free loopback ports), with its files in ``workdir``. ``environment`` adds container variables
    (``SAGEMAKER_*``)."""

    def __init__(
        self, archive: str | Path, port: int, workdir: str | Path, environment: dict[str, str] | None = None
    ) -> None:
        self.archive = Path(archive)
        self.port = port
        self.workdir = Path(workdir)
        self.environment = environment or {}
        self.url = f"http://127.0.0.1:{port}"
        self.other_ports = [free_port() for _ in range(3)]  # metrics, gRPC inference, gRPC management
        self.log_path = self.workdir / "serving-stack.log"
        self.process: subprocess.Popen[bytes] | None = None

    def container_env(self) -> dict[str, str]:
        """The container's environment, as SageMaker sets it, with every listener on loopback."""
        base, p = str(self.workdir), self.port
        metrics, grpc_inference, grpc_management = self.other_ports
        return {
            "PATH": f"{VENV / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "SAGEMAKER_BASE_DIR": base,
            "SAGEMAKER_PROGRAM": "inference.py",
            "SAGEMAKER_SUBMIT_DIRECTORY": f"{base}/model/code",
            "SAGEMAKER_BIND_TO_PORT": str(p),
            "TS_INFERENCE_ADDRESS": f"http://127.0.0.1:{p}",
            "TS_MANAGEMENT_ADDRESS": f"http://127.0.0.1:{p}",
            "TS_METRICS_ADDRESS": f"http://127.0.0.1:{metrics}",
            "TS_GRPC_INFERENCE_ADDRESS": "127.0.0.1",
            "TS_GRPC_INFERENCE_PORT": str(grpc_inference),
            "TS_GRPC_MANAGEMENT_ADDRESS": "127.0.0.1",
            "TS_GRPC_MANAGEMENT_PORT": str(grpc_management),
            "TEMP": f"{base}/tmp",
            "TMPDIR": f"{base}/tmp",
            "HOME": os.environ.get("HOME", base),
            **self.environment,
        }

    def start(self, timeout: float = 120, poll_s: float = 0.5, attempts: int = 3) -> ServingStack:
        """Unpack the archive, start the stack and wait for a real inference to succeed (tried every
        ``poll_s``). Raises :class:`~ops.errors.OpsError` (with the log's tail) when it does not within
        ``timeout``. Its other listeners' ports are free when chosen but bound only once the JVM is up,
        seconds later, when another process may hold one: a stack that stops on "Address already in
        use" is started again on other ports, up to ``attempts`` times in all."""
        if reason := available():
            raise OpsError(reason)
        (self.workdir / "tmp").mkdir(parents=True, exist_ok=True)
        unpack(self.archive, self.workdir / "model")
        for attempt in range(1, attempts + 1):
            logged = self.log_path.stat().st_size if self.log_path.exists() else 0
            with open(self.log_path, "ab") as log:
                self.process = subprocess.Popen(
                    [str(VENV / "bin" / "python"), str(LAUNCHER)],
                    cwd=self.workdir,  # the toolkit keeps its model store and TorchServe its logs here
                    env=self.container_env(),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # one process group: the launcher, TorchServe's JVM, its workers
                )
            try:
                self.wait_until_serving(timeout, poll_s)
                return self
            except OpsError:
                taken = b"Address already in use" in self.log_path.read_bytes()[logged:]
                if attempt == attempts or not taken:
                    raise  # left running, as it is, for its logs: the caller stops it
                self.stop()
                self.other_ports = [free_port() for _ in range(3)]
        return self

    def wait_until_serving(self, timeout: float, poll_s: float = 0.5) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise OpsError(f"the serving stack exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                response = requests.post(
                    f"{self.url}/invocations", data=PROBE_PNG, headers={"Content-Type": "image/png"}, timeout=5
                )
                if response.status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(poll_s)
        raise OpsError(f"the serving stack answered no inference within {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        """SIGTERM to the whole process group (the toolkit forwards it to TorchServe), then SIGKILL to
        whatever of it is left (TorchServe's JVM and workers can outlive the launcher)."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.process = None

    def __enter__(self) -> ServingStack:
        return self.start()

    def __exit__(self, *exc: object | TracebackType) -> None:
        self.stop()
