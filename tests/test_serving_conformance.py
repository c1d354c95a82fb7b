"""Conformance: the shipped archive answers the same under the real SageMaker serving stack and locally.

The real stack is TorchServe 0.12 + sagemaker-pytorch-inference 2.0.25 + torch 2.14 + Java 17, started as
the container starts it (:mod:`ops.serving_stack`); the local one is :mod:`ops.endpoint`'s in-process
container. Both get the same requests on ``POST /invocations`` (the container contract: the handler's own
status and body) and must give the same status, content type and body. Cases: every accepted content type
with a good image, the whole bad-input corpus, ``Accept`` variants, the largest accepted image and one byte
more, and what the toolkit answers itself before our code runs (a JSON body that is not UTF-8).
"""

from __future__ import annotations

import base64
import contextlib
import functools
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests

from model.contract import MAX_IMAGE_BYTES, STATUSES
from ops.emulator import free_port
from ops.errors import OpsError
from ops.serving_stack import VENV, ServingStack, available
from ops.stack import MODEL_ARCHIVE, ROOT, wait_http
from tests import bad_inputs, images
from tests.conftest import MNIST_DIR
from training.package import repack

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CASES_DIR = ROOT.parent / "shared" / "cases"


@pytest.fixture(scope="module")
def real_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServingStack]:
    if reason := available():
        pytest.fail(f"the real serving stack is not installed: {reason}")
    stack = ServingStack(MODEL_ARCHIVE, free_port(), tmp_path_factory.mktemp("serving-stack"))
    try:
        yield stack.start()
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def local_container(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = tmp_path_factory.mktemp("endpoint") / "endpoint.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ops.endpoint", "--model", str(MODEL_ARCHIVE), "--port", str(port)],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_http(f"http://127.0.0.1:{port}/ping", 120, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(20)


def _post(url: str, body: bytes, content_type: str | None, accept: str | None) -> requests.Response:
    headers = {k: v for k, v in (("Content-Type", content_type), ("Accept", accept)) if v is not None}
    return requests.post(f"{url}/invocations", data=body, headers=headers, timeout=60)


def _answer(response: requests.Response) -> tuple[int, str, object]:
    """``(status, media type, body)``: JSON bodies parsed; others by their first line (the toolkit appends
    a traceback to its own answers, whose file paths differ between machines)."""
    media = response.headers.get("content-type", "").split(";")[0]
    if media == "application/json":
        return response.status_code, media, response.json()
    if media == "application/x-npy":
        return response.status_code, media, np.load(io.BytesIO(response.content)).round(5).tolist()
    return response.status_code, media, response.content.split(b"\n", 1)[0].decode("utf-8", "replace")


def _padded_png(size: int) -> bytes:
    """A PNG of a 7 exactly ``size`` bytes long: an ancillary private chunk (ignored by decoders) pads it."""
    digit = images.png(images.invert(images.resize(_seven(), 280)))
    head, tail = digit[:33], digit[33:]  # signature + IHDR, then the rest
    pad = size - len(digit) - 12
    return head + bad_inputs._png_chunk(b"prVt", b"\x00" * pad) + tail


@functools.cache
def _seven() -> np.ndarray:
    digits, labels = images.validation_digits(MNIST_DIR, count=10)
    return digits[list(labels).index(7)]


def _npz(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, pixels=array)
    return buffer.getvalue()


def _cases() -> list[tuple[str, bytes, str | None, str | None]]:
    """``(name, body, content type, accept)`` for every request both servers get."""
    seven = _seven()
    paper = images.invert(images.resize(seven, 280))
    png, jpeg = images.png(paper), images.jpeg(paper, quality=90)
    encoded = {fmt: images.encode(paper, fmt) for fmt in ("GIF", "WEBP", "BMP", "TIFF")}
    image_json = json.dumps({"image": base64.b64encode(png).decode()}).encode()
    cases: list[tuple[str, bytes, str | None, str | None]] = [
        ("png", png, "image/png", None),
        ("jpeg", jpeg, "image/jpeg", None),
        ("jpg alias", jpeg, "image/jpg", None),
        ("gif", encoded["GIF"], "image/gif", None),
        ("webp", encoded["WEBP"], "image/webp", None),
        ("bmp", encoded["BMP"], "image/bmp", None),
        ("tiff", encoded["TIFF"], "image/tiff", None),
        ("x-image", png, "application/x-image", None),
        ("octet-stream", png, "application/octet-stream", None),
        ("no content type", png, None, None),
        ("json image", image_json, "application/json", None),
        ("json with charset (stays bytes in the toolkit)", image_json, "application/json; charset=utf-8", None),
        ("json pixels", json.dumps({"pixels": seven.tolist()}).encode(), "application/json", None),
        ("json with a byte-order mark", b"\xef\xbb\xbf" + image_json, "application/json", None),
        (
            "data url with a parameter",
            json.dumps({"image": "data:image/png;charset=utf-8;base64," + base64.b64encode(png).decode()}).encode(),
            "application/json",
            None,
        ),
        ("accept */*", png, "image/png", "*/*"),
        ("accept json", png, "image/png", "application/json"),
        ("accept application/*", png, "image/png", "application/*"),
        ("accept a list", png, "image/png", "text/html, application/json;q=0.9"),
        ("accept png (406)", png, "image/png", "image/png"),
        ("accept csv (406)", png, "image/png", "text/csv"),
        ("text/csv (415)", b"1,2,3\n", "text/csv", None),
        (
            "npy batch, answer as npy",
            bad_inputs.npy(np.stack([seven, seven])),
            "application/x-npy",
            "application/x-npy",
        ),
        ("npy float 0-1", bad_inputs.npy(seven.astype(np.float32) / 255), "application/x-npy", None),
        ("npy (N, 1, 28, 28)", bad_inputs.npy(seven[None, None]), "application/x-npy", "application/x-npy"),
        ("npz", _npz(seven), "application/x-npz", None),
        ("json that is not utf-8 (the toolkit answers)", b'{"image": "\xff\xfe"}', "application/json", None),
        ("invalid json", b"{not json", "application/json", None),
        ("largest accepted image", _padded_png(MAX_IMAGE_BYTES), "image/png", None),
        ("one byte more", _padded_png(MAX_IMAGE_BYTES + 1), "image/png", None),
    ]
    for case in bad_inputs.build():
        if len(case.body) <= MAX_IMAGE_BYTES * 2:  # the 10 MB file is over TorchServe's own request cap
            cases.append((f"corpus: {case.name}", case.body, case.content_type, None))
    return cases


CASES = _cases()


@pytest.mark.parametrize("name, body, content_type, accept", CASES, ids=[c[0] for c in CASES])
def test_same_answer_on_both_servers(
    real_stack: ServingStack, local_container: str, name: str, body: bytes, content_type: str | None, accept: str | None
) -> None:
    real = _answer(_post(real_stack.url, body, content_type, accept))
    local = _answer(_post(local_container, body, content_type, accept))
    assert local == real
    status, media, answer = real
    if status != 200 and "toolkit" not in name:  # every error but the toolkit's own is ours, as documented
        assert media == "application/json"
        assert isinstance(answer, dict) and set(answer) == {"error"} and set(answer["error"]) == {"code", "message"}
        assert STATUSES[answer["error"]["code"]] == status
        assert "Traceback" not in json.dumps(answer) and "/site-packages/" not in json.dumps(answer)


def test_bad_input_is_answered_as_documented_by_the_real_stack(real_stack: ServingStack) -> None:
    png = images.png(images.invert(images.resize(_seven(), 280)))
    expected = [
        (b"this is not an image\n", "image/png", 415, "unsupported_media_type"),
        (png[: len(png) // 2], "image/png", 422, "corrupt_image"),
        (images.png(images.blank()), "image/png", 422, "no_digit_found"),
        (b"{not json", "application/json", 400, "malformed_json"),
        (b"", "image/png", 400, "empty_body"),
        (b"1,2,3\n", "text/csv", 415, "unsupported_media_type"),
    ]
    for body, content_type, status, code in expected:
        response = _post(real_stack.url, body, content_type, None)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    assert _post(real_stack.url, png, "image/png", None).json()["number"] == "7"


@pytest.mark.parametrize("case", ["b4_json_utf8_bom_7.json", "c6_dataurl_charset_7.json", "c6_dataurl_wildcard_7.json"])
def test_shared_json_cases_read_on_the_real_stack(real_stack: ServingStack, case: str) -> None:
    response = _post(real_stack.url, (CASES_DIR / case).read_bytes(), "application/json", None)
    assert response.status_code == 200 and response.json()["number"] == "7"


def test_a_model_that_cannot_load_never_serves(tmp_path: Path) -> None:
    """Workers that fail in ``model_fn`` are restarted again and again while ``/ping`` still says Healthy:
    readiness is a real inference, and the stack never gives one. The reason is in TorchServe's model log."""
    archive = repack(CASES_DIR / "f2_other_architecture_state_dict.tar.gz", tmp_path / "model.tar.gz")
    stack = ServingStack(archive, free_port(), tmp_path / "stack")
    model_log = tmp_path / "stack" / "logs" / "model_log.log"
    with pytest.raises(OpsError, match="no inference"):
        try:
            stack.start(timeout=40)
        finally:
            # On a loaded machine the JVM and its first worker may take longer than the 40 s to come up.
            wait_http(f"{stack.url}/ping", timeout=60)  # TorchServe: "Healthy"
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not _logged(model_log, "holds the weights of another network"):
                time.sleep(0.5)
            stack.stop()
    assert _logged(model_log, "holds the weights of another network")


def test_a_port_taken_before_the_stack_binds_it_is_chosen_again(tmp_path: Path) -> None:
    """The stack's gRPC and metrics ports are free when chosen and bound seconds later, once the JVM is
    up; another process took one in between on a loaded machine (a CI run: "Failed to bind to address
    ... Address already in use", the stack stopped and 68 tests errored). It is started again on other
    ports."""
    stack = ServingStack(MODEL_ARCHIVE, free_port(), tmp_path / "stack")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", stack.other_ports[1]))  # the gRPC inference port, taken
        holder.listen()
        try:
            stack.start(timeout=120)
            assert _post(stack.url, images.png(images.draw_number("7")), "image/png", None).json()["number"] == "7"
        finally:
            stack.stop()
    assert _logged(stack.log_path, "Address already in use")


def _logged(log: Path, text: str) -> bool:
    return log.exists() and text in log.read_text(errors="replace")


_ORPHAN_LOOKUP = """
import os, subprocess, sys
sys.path.insert(0, "ops")
import torchserve_main
# as `torchserve --start`: a short-lived launcher spawns the JVM and exits; init adopts the JVM
jvm = [sys.executable, "-c", "import time; time.sleep(60)", torchserve_main.torchserve.TS_NAMESPACE]
subprocess.run([sys.executable, "-c", f"import subprocess; subprocess.Popen({jvm!r})"], check=True)
found = torchserve_main._own_torchserve_process()
print(found.pid, found.ppid() != os.getpid())
found.kill()
"""


def test_the_launcher_finds_torchserve_after_its_parent_exited() -> None:
    """The JVM is no descendant of the launcher once ``torchserve --start`` has exited (the race that let a
    loaded machine read a healthy stack as not started): it is looked for in the launcher's session."""
    if reason := available():
        pytest.fail(f"the real serving stack is not installed: {reason}")
    proc = subprocess.Popen(
        [str(VENV / "bin" / "python"), "-c", _ORPHAN_LOOKUP],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # as ops.serving_stack starts the launcher
    )
    try:
        out, err = proc.communicate(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # the orphan too, if the lookup failed
    assert proc.returncode == 0, err[-2000:]
    pid, orphaned = out.split()
    assert int(pid) > 0 and orphaned == "True"


@pytest.mark.parametrize("server", ["real", "local"])
def test_the_sagemaker_sdk_numpy_serializers_round_trip(
    real_stack: ServingStack, local_container: str, server: str
) -> None:
    """A client following the AWS MNIST samples: NumpySerializer in, NumpyDeserializer out."""
    from sagemaker.core.deserializers import NumpyDeserializer
    from sagemaker.core.serializers import NumpySerializer

    digits, labels = images.validation_digits(MNIST_DIR, count=10)
    serializer, deserializer = NumpySerializer(), NumpyDeserializer()
    url = real_stack.url if server == "real" else local_container
    for batch, expected in ((digits[:4], labels[:4]), (digits[4:8].astype(np.float32) / 255, labels[4:8])):
        response = _post(url, serializer.serialize(batch), serializer.CONTENT_TYPE, deserializer.ACCEPT[0])
        assert response.status_code == 200
        probabilities = deserializer.deserialize(io.BytesIO(response.content), response.headers["content-type"])
        assert probabilities.shape == (4, 10) and probabilities.dtype == np.float32
        assert probabilities.argmax(axis=1).tolist() == expected.tolist()
