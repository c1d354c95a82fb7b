"""Why the deploy code refuses TorchServe batching: what the real serving stack does with it.

With ``SAGEMAKER_TS_BATCH_SIZE`` > 1 TorchServe hands the toolkit (sagemaker-pytorch-inference 2.0.25)
several requests at once, and the toolkit reads the Content-Type and Accept of the batch's *first*
request for all of them, and sets every response status through index 0 of TorchServe's context. One
worker, a batch window of 500 ms, and two requests sent 50 ms apart land in one batch:

* a good PNG and a text body sent as ``image/png``: the PNG gets the text's 415 over its prediction, the
  text body gets 200 over its error;
* a JSON image first, then a PNG: the PNG is decoded as UTF-8 (the JSON request's type), that fails in
  the toolkit, and both requests get 503 "number of batch response mismatched".

The same requests one at a time on the same stack each get their own answer. ``training/cloud/hosting.py``
refuses the setting (``tests/test_cloud.py``); ``docs/serving.md`` explains.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from ops.emulator import free_port
from ops.serving_stack import ServingStack, available
from ops.stack import MODEL_ARCHIVE
from tests import images
from tests.conftest import MNIST_DIR

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BATCH_WINDOW_MS = 500
BATCHING = {
    "SAGEMAKER_TS_BATCH_SIZE": "4",
    "SAGEMAKER_TS_MAX_BATCH_DELAY": str(BATCH_WINDOW_MS),
    "SAGEMAKER_TS_MIN_WORKERS": "1",
    "SAGEMAKER_TS_MAX_WORKERS": "1",
}
TEXT = b"this is not an image\n"


@pytest.fixture(scope="module")
def batching_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServingStack]:
    if reason := available():
        pytest.fail(f"the real serving stack is not installed: {reason}")
    stack = ServingStack(MODEL_ARCHIVE, free_port(), tmp_path_factory.mktemp("batching"), environment=BATCHING)
    try:
        yield stack.start()
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def seven_png() -> bytes:
    digits, labels = images.validation_digits(MNIST_DIR, count=10)
    return images.png(images.invert(images.resize(digits[list(labels).index(7)], 280)))


def _post(url: str, body: bytes, content_type: str) -> requests.Response:
    return requests.post(f"{url}/invocations", data=body, headers={"Content-Type": content_type}, timeout=30)


def _in_one_batch(url: str, *calls: tuple[bytes, str]) -> list[requests.Response]:
    """Each request from its own thread, 50 ms apart (queued in this order, well inside the batch window)."""
    answers: list[requests.Response | None] = [None] * len(calls)

    def send(index: int) -> None:
        time.sleep(0.05 * index)
        answers[index] = _post(url, *calls[index])

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(answer is not None for answer in answers)
    return answers  # type: ignore[return-value]


def _error_code(response: requests.Response) -> str | None:
    return json.loads(response.content).get("error", {}).get("code")


def test_one_at_a_time_each_request_gets_its_own_answer(batching_stack: ServingStack, seven_png: bytes) -> None:
    good = _post(batching_stack.url, seven_png, "image/png")
    assert good.status_code == 200 and good.json()["number"] == "7"
    bad = _post(batching_stack.url, TEXT, "image/png")
    assert bad.status_code == 415 and _error_code(bad) == "unsupported_media_type"


def test_in_one_batch_a_bad_request_swaps_statuses_with_a_good_one(
    batching_stack: ServingStack, seven_png: bytes
) -> None:
    good, bad = _in_one_batch(batching_stack.url, (seven_png, "image/png"), (TEXT, "image/png"))
    assert good.status_code == 415 and good.json()["number"] == "7"  # the prediction, under the other's status
    assert bad.status_code == 200 and _error_code(bad) == "unsupported_media_type"


def test_in_one_batch_mixed_content_types_fail_the_whole_batch(batching_stack: ServingStack, seven_png: bytes) -> None:
    image_json = json.dumps({"image": base64.b64encode(seven_png).decode()}).encode()
    answers = _in_one_batch(batching_stack.url, (image_json, "application/json"), (seven_png, "image/png"))
    for answer in answers:
        assert answer.status_code == 503
        assert answer.json()["message"] == "number of batch response mismatched"
