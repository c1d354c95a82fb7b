"""The local SageMaker endpoint (``model.serve``) and its micro-batcher (``model.batching``).

Integration tests start the real server as a subprocess on a free port, serving the shipped
``model/artifacts/model.tar.gz``, and call it the way the Chalice app does: boto3's unchanged
``sagemaker-runtime`` client, pointed at it by ``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME``. Inputs are real
MNIST digits from the held-out validation split, as PNG, JPEG and JSON.

Two paths the real handlers never take on purpose (a handler that crashes, a model still loading) run
against a tiny archive built here whose handlers do exactly that; it also shows that the server runs
the handlers *inside the archive*, not the checkout's.
"""

from __future__ import annotations

import asyncio
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

from model.batching import MicroBatcher
from ops.emulator import free_port, patched_environ
from tests import images

ROOT = Path(__file__).resolve().parent.parent
ARCHIVE = ROOT / "model" / "artifacts" / "model.tar.gz"
ENDPOINT_NAME = "digits-test"
PAYLOAD_LIMIT = 5_246_976


# ------------------------------------------------------------------------------------- a server process


@dataclass
class Server:
    """A ``python -m model.serve`` child process and plain-HTTP access to it."""

    url: str
    process: subprocess.Popen
    log_path: Path

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
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
    argv = [sys.executable, "-m", "model.serve", "--model", str(archive), "--port", str(port),
            "--endpoint-name", ENDPOINT_NAME, *args]
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(argv, cwd=ROOT, stdout=log_file, stderr=subprocess.STDOUT,
                                   env={**os.environ, **(env or {})})
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
    environment = {"AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": server.url, "AWS_ACCESS_KEY_ID": "test",
                   "AWS_SECRET_ACCESS_KEY": "test"}
    with patched_environ(environment):
        return boto3.client("sagemaker-runtime", region_name="us-east-1",
                            config=Config(max_pool_connections=64, retries={"total_max_attempts": 1}))


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
        (images.png(images.draw_strokes(images.STROKES[7])), "image/png", "text/csv", 406,
         "unsupported_accept"),
    ],
    ids=["corrupt-png", "text", "blank-image", "broken-json", "csv-accept"],
)
def test_bad_input_is_a_model_error_with_the_handlers_status(runtime, body, content_type, accept, status,
                                                            code) -> None:
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
    status, headers, body = endpoint.request("POST", "/invocations", images.png(digits[0][1]),
                                             {"Content-Type": "image/png", "Accept": "application/json"})
    assert status == 200 and headers["content-type"] == "application/json"
    assert json.loads(body)["digit"] in range(10)
    status, _, body = endpoint.request("POST", "/invocations", b"hello", {"Content-Type": "text/plain"})
    assert status == 415
    assert json.loads(body)["error"]["code"] == "unsupported_media_type"


@pytest.mark.integration
def test_concurrent_requests_are_batched_and_each_gets_its_own_answer(endpoint: Server, runtime, digits) -> None:
    bodies = [images.png(d) for d in digits[0]]  # 50 different digits
    alone = [invoke(runtime, body, "image/png")[0] for body in bodies]
    before = endpoint.metrics()["batching"]
    with ThreadPoolExecutor(max_workers=50) as pool:
        together = list(pool.map(lambda body: invoke(runtime, body, "image/png")[0], bodies))
    after = endpoint.metrics()["batching"]
    # each answer belongs to its own request: the 28x28 image the model saw is the one sent
    assert [r["model_input"] for r in together] == [r["model_input"] for r in alone]
    assert [r["number"] for r in together] == [r["number"] for r in alone]
    assert sum(int(r["digit"] == label) for r, label in zip(together, digits[1], strict=True)) >= 45
    assert after["items"] - before["items"] == 50
    assert after["batches"] - before["batches"] < 50, f"no request shared a model call: {after}"
    assert after["max_batch_size_seen"] > 1


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
    assert line["status"] == 200 and line["latency_ms"] > 0 and line["batch_size"] >= 1
    assert line["custom_attributes"] == "trace=abc"


# ----------------------------------------------------------- a tiny archive with misbehaving handlers

TINY_INFERENCE = '''
"""Test handlers: model_fn waits for a release file; {"crash": true} makes predict_fn raise."""
import json
import os
import time
from pathlib import Path

from .errors import InputError

def model_fn(model_dir):
    release = Path(os.environ["TINY_RELEASE_FILE"])
    while not release.exists():
        time.sleep(0.01)
    return "tiny"

def input_fn(body, content_type):
    if content_type != "application/json":
        raise InputError("unsupported_media_type", f"tiny model reads JSON, not {content_type}")
    return json.loads(body)

def predict_fn(data, model):
    if data.get("crash"):
        raise RuntimeError("secret internal detail /opt/ml/model")
    return {"double": 2 * data["x"], "served_by": model}

def predict_many(items, model):
    return [predict_fn(item, model) for item in items]

def output_fn(prediction, accept):
    return json.dumps(prediction), "application/json"
'''


@pytest.fixture
def tiny(tmp_path: Path) -> Iterator[tuple[Server, Path]]:
    """A server of the tiny archive, not yet loaded: create the returned path to let ``model_fn`` finish."""
    code = tmp_path / "archive" / "code"
    (code / "model").mkdir(parents=True)
    (code / "model" / "__init__.py").write_text("")
    (code / "model" / "errors.py").write_text((ROOT / "model" / "errors.py").read_text())
    (code / "model" / "inference.py").write_text(TINY_INFERENCE)
    (code / "inference.py").write_text("from model.inference import *  # noqa\n")
    (tmp_path / "archive" / "model.pt").write_bytes(b"")
    archive = tmp_path / "tiny.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "archive", arcname=".")
    release = tmp_path / "release"
    with serve(archive, tmp_path, "--max-batch-delay-ms", "50", env={"TINY_RELEASE_FILE": str(release)}) as server:
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
def test_a_crashing_handler_is_a_generic_500_and_fails_only_its_own_request(tiny) -> None:
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
    assert json.loads(error["OriginalMessage"])["error"]["code"] == "internal_error"
    assert "secret" not in json.dumps(error)
    logged = [line for line in server.log_lines() if line.get("level") == "ERROR"]
    assert any("secret internal detail" in line.get("exception", "") for line in logged)
    assert server.metrics()["batching"]["max_batch_size_seen"] > 1  # the crash shared a batch with others


@pytest.mark.integration
def test_an_archive_without_handlers_stops_the_server_with_an_error(tmp_path: Path) -> None:
    (tmp_path / "model.pt").write_bytes(b"")
    archive = tmp_path / "no-code.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "model.pt", arcname="model.pt")
    with serve(archive, tmp_path) as server:
        assert server.process.wait(60) == 1
    failure = [line for line in server.log_lines() if line["level"] == "CRITICAL"]
    assert failure and "code/inference.py" in failure[0]["exception"]


# --------------------------------------------------------------------------------- the micro-batcher


def _batcher(calls: list[list], max_batch_size: int = 16, max_delay_s: float = 0.05) -> MicroBatcher:
    def predict_many(items: list) -> list:
        calls.append(list(items))
        if "bad" in items:
            raise ValueError("bad item in batch")
        return [item * 2 for item in items]

    def predict_one(item):
        calls.append([item])
        if item == "bad":
            raise ValueError("bad item")
        return item * 2

    return MicroBatcher(predict_many, predict_one, max_batch_size, max_delay_s)


def _run(coro_factory):
    async def main():
        calls: list[list] = []
        return await coro_factory(calls), calls

    return asyncio.run(asyncio.wait_for(main(), 10))


async def _submit_all(batcher: MicroBatcher, items: list) -> list:
    """Submit concurrently, all announced as arriving first (as concurrent requests in input_fn are)."""
    batcher.start()

    async def one(item):
        with batcher.arriving():
            await asyncio.sleep(0)
        return await batcher.submit(item)

    try:
        return await asyncio.gather(*(one(i) for i in items), return_exceptions=True)
    finally:
        await batcher.stop()


@pytest.mark.unit
def test_concurrent_submissions_share_one_model_call() -> None:
    async def scenario(calls):
        return await _submit_all(_batcher(calls), [1, 2, 3, 4, 5])

    results, calls = _run(scenario)
    assert results == [(2, 5), (4, 5), (6, 5), (8, 5), (10, 5)]
    assert calls == [[1, 2, 3, 4, 5]]


@pytest.mark.unit
def test_batches_never_exceed_the_maximum_size() -> None:
    async def scenario(calls):
        return await _submit_all(_batcher(calls, max_batch_size=4), list(range(10)))

    results, calls = _run(scenario)
    assert [r[0] for r in results] == [2 * i for i in range(10)]
    assert [len(c) for c in calls] == [4, 4, 2]


@pytest.mark.unit
def test_a_lone_request_is_not_held_back_for_company() -> None:
    async def scenario(calls):
        batcher = _batcher(calls, max_delay_s=60)  # would time the test out if it waited
        batcher.start()
        try:
            return await batcher.submit(21)
        finally:
            await batcher.stop()

    result, _ = _run(scenario)
    assert result == (42, 1)


@pytest.mark.unit
def test_a_batch_waits_for_a_request_that_is_still_arriving() -> None:
    async def scenario(calls):
        batcher = _batcher(calls, max_delay_s=5)
        batcher.start()

        async def late():
            with batcher.arriving():
                await asyncio.sleep(0.05)  # still decoding when the first request is queued
            return await batcher.submit(2)

        try:
            return await asyncio.gather(late(), _after_a_tick(batcher.submit(1)))
        finally:
            await batcher.stop()

    results, calls = _run(scenario)
    assert results == [(4, 2), (2, 2)]
    assert calls == [[1, 2]]


async def _after_a_tick(coro):
    await asyncio.sleep(0)
    return await coro


@pytest.mark.unit
def test_a_bad_item_fails_only_itself_when_its_batch_fails() -> None:
    async def scenario(calls):
        return await _submit_all(_batcher(calls), [1, "bad", 3])

    results, calls = _run(scenario)
    assert results[0] == (2, 3) and results[2] == (6, 3)
    assert isinstance(results[1], ValueError)
    assert calls == [[1, "bad", 3], [1], ["bad"], [3]]


@pytest.mark.unit
def test_serve_imports_no_torch() -> None:
    """Cold start: the server itself must not pay for torch before it listens (the handlers import it)."""
    code = "import sys, model.serve; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
