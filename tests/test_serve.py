"""The local SageMaker endpoint (``ops.endpoint``): the SageMaker Runtime API in front of the in-process container.

Integration tests start the real server as a subprocess on a free port, serving the shipped
``model/artifacts/model.tar.gz``, and call it the way the Chalice app does: boto3's unchanged
``sagemaker-runtime`` client, pointed at it by ``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME``. Inputs are real
MNIST digits from the held-out validation split, as PNG, JPEG and JSON.

Two paths the real handlers never take on purpose (a handler that raises, a model still loading) run
against a tiny archive built here whose handlers do exactly that; it also shows that the server runs
the handlers *inside the archive*, not the checkout's.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import boto3
import numpy as np
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from model.contract import INVOKE_ENDPOINT_MAX_BYTES as PAYLOAD_LIMIT
from ops.emulator import free_port, patched_environ
from ops.supervise import EXIT_NO_RESTART
from tests import images

ROOT = Path(__file__).resolve().parent.parent
ARCHIVE = ROOT / "model" / "artifacts" / "model.tar.gz"
ENDPOINT_NAME = "digits-test"


# ------------------------------------------------------------------------------------- a server process


@dataclass
class Server:
    """A ``python -m ops.endpoint`` child process and plain-HTTP access to it."""

    url: str
    process: subprocess.Popen
    log_path: Path

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        req = urllib.request.Request(self.url + path, data=body, headers=headers or {}, method=method)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def ping(self) -> int | None:
        """/ping's status, None while nothing listens yet."""
        try:
            return self.request("GET", "/ping")[0]
        except (urllib.error.URLError, ConnectionError):
            return None

    def metrics(self) -> dict:
        return json.loads(self.request("GET", "/metrics")[2])

    def log_lines(self) -> list[dict]:
        return [json.loads(line) for line in self.log_path.read_text().splitlines() if line.startswith("{")]

    def wait(self, status: int, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"server exited ({self.process.returncode}):\n{self.log_path.read_text()[-3000:]}")
            if self.ping() == status:
                return
            time.sleep(0.02)
        pytest.fail(f"/ping did not answer {status} within {timeout} s:\n{self.log_path.read_text()[-3000:]}")


@contextlib.contextmanager
def serve(archive: Path, log_dir: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[Server]:
    """Start the server on a free port (not waiting for it); always stop it."""
    port = free_port()
    log_path = log_dir / f"serve-{port}.log"
    argv = [
        sys.executable,
        "-m",
        "ops.endpoint",
        "--model",
        str(archive),
        "--port",
        str(port),
        "--endpoint-name",
        ENDPOINT_NAME,
        *args,
    ]
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            argv, cwd=ROOT, stdout=log_file, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
    try:
        yield Server(f"http://127.0.0.1:{port}", process, log_path)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def runtime_client(server: Server):
    """boto3's sagemaker-runtime client, reaching ``server`` the way the app does: by environment variable."""
    environment = {
        "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": server.url,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }
    with patched_environ(environment):
        return boto3.client(
            "sagemaker-runtime",
            region_name="us-east-1",
            config=Config(max_pool_connections=64, retries={"total_max_attempts": 1}),
        )


# --------------------------------------------------------------------------------- the shipped model


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory, mnist_dir: Path) -> Iterator[Server]:
    if not ARCHIVE.is_file():
        pytest.fail(f"{ARCHIVE} missing: the shipped model (python -m training.train, see README)")
    with serve(ARCHIVE, tmp_path_factory.mktemp("endpoint")) as server:
        images.validation_digits(mnist_dir, count=50)  # (cached) loads while the server starts
        server.wait(200)
        yield server


@pytest.fixture(scope="module")
def runtime(endpoint: Server):
    return runtime_client(endpoint)


@pytest.fixture(scope="module")
def digits(mnist_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """50 held-out MNIST digits, five of each class."""
    return images.validation_digits(mnist_dir, count=50)


def json_body(digit: np.ndarray) -> bytes:
    return json.dumps({"pixels": digit.tolist()}).encode()


ENCODINGS = {
    "png": (lambda d: images.png(d), "image/png"),
    "jpeg": (lambda d: images.jpeg(images.invert(images.resize(d, 112)), quality=85), "image/jpeg"),
    "json": (json_body, "application/json"),
}


def invoke(runtime, body: bytes, content_type: str, **kwargs) -> tuple[dict, dict]:
    response = runtime.invoke_endpoint(EndpointName=ENDPOINT_NAME, Body=body, ContentType=content_type, **kwargs)
    return json.loads(response["Body"].read()), response


@pytest.mark.integration
@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_digits_are_recognised_through_boto3(runtime, digits, encoding: str) -> None:
    encode, content_type = ENCODINGS[encoding]
    pixels, labels = digits[0][:10], digits[1][:10]
    answers = []
    for digit in pixels:
        result, response = invoke(runtime, encode(digit), content_type, Accept="application/json")
        assert response["ContentType"] == "application/json"
        assert response["InvokedProductionVariant"] == "AllTraffic"
        assert response["ResponseMetadata"]["RequestId"]
        answers.append(result["digit"])
    correct = sum(int(a == b) for a, b in zip(answers, labels, strict=True))
    assert correct >= 9, f"{encoding}: predicted {answers}, labels {labels.tolist()}"


@pytest.mark.integration
@pytest.mark.parametrize(
    ("body", "content_type", "accept", "status", "code"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 10, "image/png", "application/json", 422, "corrupt_image"),
        (b"hello", "text/plain", "application/json", 415, "unsupported_media_type"),
        (images.png(images.blank()), "image/png", "application/json", 422, "no_digit_found"),
        (b'{"pixels": [[0, 1', "application/json", "application/json", 400, "malformed_json"),
        (images.png(images.draw_strokes(images.STROKES[7])), "image/png", "text/csv", 406, "unsupported_accept"),
    ],
    ids=["corrupt-png", "text", "blank-image", "broken-json", "csv-accept"],
)
def test_bad_input_is_a_model_error_with_the_handlers_status(runtime, body, content_type, accept, status, code) -> None:
    with pytest.raises(runtime.exceptions.ModelError) as caught:
        runtime.invoke_endpoint(EndpointName=ENDPOINT_NAME, Body=body, ContentType=content_type, Accept=accept)
    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert error["Error"]["Code"] == "ModelError"
    assert error["OriginalStatusCode"] == status
    assert json.loads(error["OriginalMessage"])["error"]["code"] == code
    assert error["Error"]["Message"].startswith(f"Received client error ({status}) from primary with message")
    assert error["LogStreamArn"].endswith(f"/aws/sagemaker/Endpoints/{ENDPOINT_NAME}")


@pytest.mark.integration
def test_a_body_over_the_service_limit_is_refused_like_the_service(runtime, digits) -> None:
    with pytest.raises(ClientError) as caught:
        runtime.invoke_endpoint(EndpointName=ENDPOINT_NAME, Body=b"\0" * (PAYLOAD_LIMIT + 1), ContentType="image/png")
    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert error["Error"] == {"Code": "413", "Message": f"HTTP content length exceeded {PAYLOAD_LIMIT} bytes."}
    result, _ = invoke(runtime, images.png(digits[0][0]), "image/png")  # and the server carries on
    assert result["number"]


@pytest.mark.integration
def test_an_unknown_endpoint_name_is_a_validation_error(runtime) -> None:
    with pytest.raises(runtime.exceptions.ValidationError) as caught:
        runtime.invoke_endpoint(EndpointName="no-such-endpoint", Body=b"x", ContentType="image/png")
    assert caught.value.response["Error"]["Message"] == "Endpoint no-such-endpoint of account 000000000000 not found."


@pytest.mark.integration
def test_the_container_contract_answers_directly(endpoint: Server, digits) -> None:
    assert endpoint.ping() == 200
    status, headers, body = endpoint.request(
        "POST", "/invocations", images.png(digits[0][1]), {"Content-Type": "image/png", "Accept": "application/json"}
    )
    assert status == 200 and headers["content-type"] == "application/json"
    assert json.loads(body)["digit"] in range(10)
    status, _, body = endpoint.request("POST", "/invocations", b"hello", {"Content-Type": "text/plain"})
    assert status == 415
    assert json.loads(body)["error"]["code"] == "unsupported_media_type"


@pytest.mark.integration
def test_concurrent_requests_each_get_their_own_answer(runtime, digits) -> None:
    bodies = [images.png(d) for d in digits[0]]  # 50 different digits
    alone = [invoke(runtime, body, "image/png")[0] for body in bodies]
    with ThreadPoolExecutor(max_workers=16) as pool:
        together = list(pool.map(lambda body: invoke(runtime, body, "image/png")[0], bodies))
    # each answer belongs to its own request: the 28x28 image the model saw is the one sent
    assert [r["model_input"] for r in together] == [r["model_input"] for r in alone]
    assert [r["number"] for r in together] == [r["number"] for r in alone]
    assert sum(int(r["digit"] == label) for r, label in zip(together, digits[1], strict=True)) >= 45


@pytest.mark.integration
def test_one_json_log_line_per_invocation(endpoint: Server, runtime, digits) -> None:
    _, response = invoke(runtime, images.png(digits[0][2]), "image/png", CustomAttributes="trace=abc")
    request_id = response["ResponseMetadata"]["RequestId"]
    deadline = time.monotonic() + 5
    while not (lines := [e for e in endpoint.log_lines() if e.get("request_id") == request_id]):
        assert time.monotonic() < deadline, "no log line for the request"
        time.sleep(0.05)
    assert len(lines) == 1
    line = lines[0]
    assert line["path"] == f"/endpoints/{ENDPOINT_NAME}/invocations" and line["method"] == "POST"
    assert line["status"] == 200 and line["latency_ms"] > 0
    assert line["custom_attributes"] == "trace=abc"


# ----------------------------------------------------------- a tiny archive with misbehaving handlers

TINY_INFERENCE = '''
"""Test handlers: model_fn waits for a release file; {"crash": true} makes transform_fn raise."""
import json
import os
import time
from pathlib import Path


def model_fn(model_dir):
    release = Path(os.environ["TINY_RELEASE_FILE"])
    while not release.exists():
        time.sleep(0.01)
    return "tiny"


def transform_fn(model, body, content_type, accept, context):
    data = json.loads(body)
    if data.get("crash"):
        raise RuntimeError("crashed on purpose")
    return json.dumps({"double": 2 * data["x"], "served_by": model}), "application/json"
'''


@pytest.fixture
def tiny(tmp_path: Path) -> Iterator[tuple[Server, Path]]:
    """A server of the tiny archive, not yet loaded: create the returned path to let ``model_fn`` finish."""
    code = tmp_path / "archive" / "code"
    (code / "model").mkdir(parents=True)
    (code / "model" / "__init__.py").write_text("")
    (code / "model" / "inference.py").write_text(TINY_INFERENCE)
    (code / "inference.py").write_text("from model.inference import model_fn, transform_fn  # noqa: F401\n")
    (tmp_path / "archive" / "model.pt").write_bytes(b"")
    archive = tmp_path / "tiny.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "archive", arcname=".")
    release = tmp_path / "release"
    with serve(archive, tmp_path, env={"TINY_RELEASE_FILE": str(release)}) as server:
        yield server, release


@pytest.mark.integration
def test_ping_is_503_while_the_model_loads_then_200(tiny) -> None:
    server, release = tiny
    server.wait(503)
    runtime = runtime_client(server)
    with pytest.raises(runtime.exceptions.ModelNotReadyException):
        runtime.invoke_endpoint(EndpointName=ENDPOINT_NAME, Body=b'{"x": 1}', ContentType="application/json")
    assert server.request("POST", "/invocations", b'{"x": 1}', {"Content-Type": "application/json"})[0] == 503
    release.touch()
    server.wait(200)
    result, _ = invoke(runtime, b'{"x": 21}', "application/json")
    assert result == {"double": 42, "served_by": "tiny"}  # the archive's handlers, not the checkout's


@pytest.mark.integration
def test_a_raising_handler_is_answered_as_the_toolkit_does_and_fails_only_its_own_request(tiny) -> None:
    """Our handlers answer every error themselves (tests/test_serving_conformance.py); a handler that
    raises gets what the sagemaker-inference toolkit answers: 500 with the exception's message."""
    server, release = tiny
    release.touch()
    server.wait(200)
    runtime = runtime_client(server)
    bodies = [b'{"crash": true}'] + [json.dumps({"x": i}).encode() for i in range(7)]

    def call(body: bytes) -> dict | ClientError:
        try:
            return invoke(runtime, body, "application/json")[0]
        except ClientError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        crashed, *others = pool.map(call, bodies)
    assert [r["double"] for r in others] == [2 * i for i in range(7)]  # type: ignore[index]
    assert isinstance(crashed, runtime.exceptions.ModelError)
    error = crashed.response
    assert error["OriginalStatusCode"] == 500
    assert error["Error"]["Message"].startswith("Received server error (500) from primary")
    assert error["OriginalMessage"].startswith("crashed on purpose")
    logged = [line for line in server.log_lines() if line.get("level") == "ERROR"]
    assert any("crashed on purpose" in line.get("exception", "") for line in logged)


@pytest.mark.integration
def test_an_archive_without_handlers_stops_the_server_with_an_error(tmp_path: Path) -> None:
    (tmp_path / "model.pt").write_bytes(b"")
    archive = tmp_path / "no-code.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "model.pt", arcname="model.pt")
    with serve(archive, tmp_path) as server:
        assert server.process.wait(60) == EXIT_NO_RESTART  # supervisord: do not start it again
    failure = [line for line in server.log_lines() if line["level"] == "CRITICAL"]
    assert (
        failure
        and failure[0]["error"] == f"{archive} has no code/inference.py: not a model.tar.gz for the PyTorch container"
    )
    assert "exception" not in failure[0]  # the archive's own fault: one line, no traceback


# ------------------------------------------------------------------------------------------ cold start


@pytest.mark.unit
def test_serve_imports_no_torch() -> None:
    """Cold start: the server itself must not pay for torch before it listens (the handlers import it)."""
    code = "import sys, ops.endpoint; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_folders_of_a_killed_endpoint_are_removed_by_the_next_one(tmp_path: Path) -> None:
    """A killed endpoint leaves its unpacked archive behind; the next one removes the folders whose
    owner is gone, and leaves a living owner's folder and a folder without an owner alone."""
    from ops.endpoint import OWNER_FILE, WORKDIR_PREFIX, remove_orphaned_workdirs

    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    folders = {name: tmp_path / f"{WORKDIR_PREFIX}{name}" for name in ("dead", "alive", "unmarked")}
    for folder in folders.values():
        (folder / "model").mkdir(parents=True)
    (folders["dead"] / OWNER_FILE).write_text(gone.stdout.strip())
    (folders["alive"] / OWNER_FILE).write_text(str(os.getpid()))
    assert remove_orphaned_workdirs(tmp_path) == [folders["dead"]]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f.name for n, f in folders.items() if n != "dead")
