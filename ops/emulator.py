"""Start, stop and health-check MiniStack, the local AWS emulator (S3, DynamoDB, SQS; Lambda, IAM and
API Gateway for ``make deploy-local``).

MiniStack pins botocore exactly, so it lives in its own venv (``.venv-aws``, created by ``make setup``)
and runs as a child process bound to 127.0.0.1 only, with every listener we do not use switched off.
Lambda functions deployed into it (``make deploy-local``) run without Docker, under the emulator's own
Python, with the emulator's environment plus the function's own variables: the project's
``PYTHONPATH`` and endpoint redirections are kept out of it, so a deployed function sees only its
deployment package, ``.venv-aws`` (boto3) and what its configuration gives it.
Its state is persisted under a state folder and snapshotted on a clean stop (SIGTERM): always stop it
with :meth:`Emulator.stop`, never ``kill -9``, or new buckets and items are lost.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ops.errors import OpsError

ROOT = Path(__file__).resolve().parent.parent
AWS_VENV = ROOT / ".venv-aws"
DEFAULT_PORT = 4566
DEFAULT_STATE_DIR = ROOT / ".local" / "ministack"
SERVICES = "s3,dynamodb,sqs,sts,lambda,iam,apigateway,logs"

#: Credentials and region for talking to the emulator; boto3 needs some, MiniStack ignores them.
CLIENT_ENV = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@contextlib.contextmanager
def patched_environ(values: dict[str, str]) -> Iterator[None]:
    """Set ``values`` in ``os.environ`` for the block, then put back exactly what was there before
    (boto3 reads endpoints and credentials from the environment when a client is created)."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True when something already listens on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        return s.connect_ex((host, port)) == 0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Emulator:
    """One MiniStack process on ``127.0.0.1:port`` with its state under ``state_dir``."""

    port: int = DEFAULT_PORT
    state_dir: Path = DEFAULT_STATE_DIR
    #: Where MiniStack's output goes (nowhere when None).
    log_path: Path | None = None
    _proc: subprocess.Popen | None = field(default=None, init=False, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client_env(self) -> dict[str, str]:
        """Environment variables that point unchanged boto3 code at this emulator."""
        return {**CLIENT_ENV, "AWS_ENDPOINT_URL": self.url}

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/_ministack/health", timeout=1) as resp:
                return resp.status == 200
        except (OSError, urllib.error.URLError):
            return False

    def argv(self) -> list[str]:
        """The MiniStack command line; OpsError when it is not installed."""
        binary = AWS_VENV / "bin" / "ministack"
        if not binary.exists():
            raise OpsError(f"MiniStack is not installed ({binary} missing): run `make setup`")
        return [str(binary)]

    def server_env(self, environ: Mapping[str, str] = os.environ) -> dict[str, str]:
        """MiniStack's environment: ``environ`` without the project's redirections, plus its settings."""
        kept_out = ("PYTHONPATH", "AWS_ENDPOINT_URL", "DIGITS_")
        inherited = {k: v for k, v in environ.items() if not k.startswith(kept_out)}
        return {
            **inherited,
            "LAMBDA_EXECUTOR": "local",
            "BIND_HOST": "127.0.0.1",
            "GATEWAY_PORT": str(self.port),
            "SERVICES": SERVICES,
            "IOT_MTLS_ENABLED": "0",
            "SFTP_ENABLED": "0",
            "PERSIST_STATE": "1",
            "S3_PERSIST": "1",
            "STATE_DIR": str(self.state_dir / "state"),
            "S3_DATA_DIR": str(self.state_dir / "s3"),
            "TMPDIR": str(self.state_dir),
        }

    def exec(self) -> None:
        """Become MiniStack (``os.execve``): how a supervisor runs it (``python -m ops.emulator``)."""
        argv = self.argv()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        os.execve(argv[0], argv, self.server_env())

    def start(self, timeout: float = 20.0) -> None:
        """Start MiniStack and wait until it answers its health check."""
        argv = self.argv()
        if port_in_use(self.port):
            raise OpsError(
                f"port {self.port} is already in use (another emulator or `make up`?): "
                "run `make down` or choose another port with AWS_PORT=..."
            )
        self.state_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self._proc = subprocess.Popen(
            argv, env=self.server_env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise OpsError(f"MiniStack exited at start (code {self._proc.returncode}); see {self.log_path}")
            if self.healthy():
                return
            time.sleep(0.1)
        self.stop()
        raise OpsError(f"MiniStack did not answer on {self.url} within {timeout:.0f} s; see {self.log_path}")

    def stop(self, timeout: float = 15.0) -> None:
        """Stop cleanly (SIGTERM, so MiniStack snapshots its state) and wait for the exit."""
        if self._proc is None or self._proc.poll() is not None:
            self._proc = None
            return
        os.killpg(self._proc.pid, signal.SIGTERM)
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait()
        self._proc = None

    def reset(self) -> None:
        """Wipe every resource and the persisted files (MiniStack's own reset)."""
        req = urllib.request.Request(f"{self.url}/_ministack/reset", method="POST")
        with urllib.request.urlopen(req, timeout=10):
            pass

    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    """``python -m ops.emulator --port N --state-dir DIR``: run MiniStack in this process (it replaces it)."""
    parser = argparse.ArgumentParser(description="Run MiniStack on 127.0.0.1 with persistent state")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    args = parser.parse_args(argv)
    Emulator(port=args.port, state_dir=args.state_dir).exec()


if __name__ == "__main__":
    main()
