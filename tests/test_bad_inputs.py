"""The bad-input corpus (``tests/bad_inputs.py``) through all three paths of the running local stack.

Every case goes (a) to the endpoint through boto3 ``InvokeEndpoint``, (b) to ``chalice local``'s predict
route over HTTP, (c) into the inbox bucket, where the S3 trigger (through the event bridge) records it.
Each must get its documented error (status + code) or, for a valid if unusual image, the right digit;
never a 5xx, never a lost upload. Afterwards the servers are still alive and healthy.

Each case is its own test id per path. The ids are listed here (building the corpus loads MNIST, too
slow for collection); ``test_the_corpus_is_what_the_tests_send`` keeps the list and the corpus equal.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from bench.load import inbox_records
from chalicelib.store import PredictionStore, inbox_prediction_id, utc_now
from model.contract import INVOKE_ENDPOINT_MAX_BYTES as MAX_PAYLOAD_BYTES
from tests import bad_inputs
from tests.bad_inputs import Case

pytestmark = pytest.mark.integration

CASE_NAMES = [
    "empty body",
    "plain text",
    "html",
    "json instead of an image",
    "truncated png",
    "truncated jpeg",
    "png with a bad crc",
    "zero-size png",
    "1x1 image",
    "digits on two lines",
    "a 2 written over a 0",
    "20000x20000 png (decompression bomb)",
    "10 MB file",
    "animated gif (first frame)",
    "16-bit png",
    "cmyk jpeg",
    "palette png with transparency",
    "exif-rotated jpeg",
    "svg",
    "pdf",
    "zip",
    "a .png holding a jpeg",
    "wrong content-type",
    "base64 that is not base64",
    "deeply nested json",
    "valid base64 json",
    "npy of a pickled object array",
    "npy declaring a huge shape",
    "npy of the wrong shape",
    "npy of negative floats",
    "npz that is not a zip",
    "npy of a 7",
    "unicode in the key",
    "key with spaces and plus",
]
#: How long one inbox upload may take to become a record (the bridge polls every 2 s; 10 MB uploads).
RECORD_TIMEOUT_S = 60


@pytest.fixture(scope="session")
def corpus(mnist_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Case]:
    """Built once per session and written (files + manifest) to a temporary folder, as the CLI does."""
    cases = bad_inputs.build(mnist_dir)
    bad_inputs.write(tmp_path_factory.mktemp("bad_inputs"), cases)
    return {case.name: case for case in cases}


def test_the_corpus_is_what_the_tests_send(corpus):
    assert list(corpus) == CASE_NAMES
    assert len({case.filename for case in corpus.values()}) == len(corpus), "filenames are S3 keys: unique"


# -------------------------------------------------------------------------------- (a) the endpoint


@pytest.mark.parametrize("name", CASE_NAMES)
def test_endpoint(name, corpus, local_stack):
    case = corpus[name]
    number, code, status = case.expected("endpoint")
    runtime = boto3.client("sagemaker-runtime", config=Config(retries={"total_max_attempts": 1}))
    try:
        response = runtime.invoke_endpoint(
            EndpointName=local_stack.config.endpoint_name,
            Body=case.body,
            ContentType=case.content_type,
            Accept="application/json",
        )
    except ClientError as exc:
        error = exc.response
        if len(case.body) > MAX_PAYLOAD_BYTES:  # refused by the service itself, before the model (README)
            assert (error["Error"]["Code"], status) == ("413", 413), error
            return
        assert error["Error"]["Code"] == "ModelError", error
        assert (error["OriginalStatusCode"], json.loads(error["OriginalMessage"])["error"]["code"]) == (status, code)
        return
    assert number is not None, f"{name}: expected {code} ({status}), got a prediction"
    assert json.loads(response["Body"].read())["number"] == number


@pytest.mark.unit
def test_the_checkouts_handlers_refuse_deeply_nested_json():
    """What the next archive ships: a JSON nesting bomb is ``malformed_json``, not a crash (HTTP 500)."""
    from model.contract import InputError
    from model.inference import input_fn

    with pytest.raises(InputError) as refused:
        input_fn("[" * 100_000, "application/json")
    assert (refused.value.code, refused.value.status) == ("malformed_json", 400)


# -------------------------------------------------------------------------------- (b) the API


@pytest.mark.parametrize("name", CASE_NAMES)
def test_api(name, corpus, local_stack):
    case = corpus[name]
    number, code, status = case.expected("api")
    route = "/predict/json" if case.json_route else "/predict"
    response = requests.post(
        local_stack.api_url + route, data=case.body, headers={"Content-Type": case.content_type}, timeout=60
    )
    assert response.status_code < 500, response.text[:500]
    body = response.json()
    if number is None:
        assert (response.status_code, body["error"]["code"]) == (status, code), body
        assert body["error"]["message"]
    else:
        assert response.status_code == 200, body
        assert (body["number"], body["status"], body["source"]) == (number, "succeeded", "api")


# -------------------------------------------------------------------------------- (c) the S3 trigger


@dataclass
class InboxRun:
    prefix: str
    since: str
    #: case name -> (key, prediction id)
    uploads: dict[str, tuple[str, str]]


@pytest.fixture(scope="module")
def inbox_uploads(corpus, local_stack) -> InboxRun:
    """Every case uploaded at once under ``inbox/bad-inputs-<run>/<filename>``."""
    config = local_stack.config
    s3 = boto3.client("s3")
    run = InboxRun(f"{config.inbox_prefix}bad-inputs-{uuid.uuid4().hex[:8]}/", utc_now(), {})
    for case in corpus.values():
        key = run.prefix + case.filename
        put = s3.put_object(Bucket=config.inbox_bucket, Key=key, Body=case.body, ContentType=case.content_type)
        version = put.get("VersionId") or put["ETag"].strip('"')
        run.uploads[case.name] = (key, inbox_prediction_id(config.inbox_bucket, key, version))
    return run


@pytest.mark.parametrize("name", CASE_NAMES)
def test_s3_trigger(name, corpus, inbox_uploads, local_stack):
    case = corpus[name]
    number, code, _status = case.expected("s3")
    key, prediction_id = inbox_uploads.uploads[name]
    store = PredictionStore(local_stack.config)
    deadline = time.monotonic() + RECORD_TIMEOUT_S
    record = store.get(prediction_id)
    while (record is None or record["status"] == "failed") and time.monotonic() < deadline:
        time.sleep(0.2)
        record = store.get(prediction_id)
    assert record is not None, f"no record for {key} after {RECORD_TIMEOUT_S} s"
    assert record["source_key"] == key
    if number is None:
        assert (record["status"], record["error_code"]) == ("rejected", code), record
        assert record["error_message"]
    else:
        assert (record["status"], record["number"]) == ("succeeded", number), record


def test_each_upload_is_exactly_one_record(inbox_uploads, local_stack):
    records = inbox_records(local_stack.config, inbox_uploads.prefix, inbox_uploads.since)
    assert sorted(records) == sorted(key for key, _ in inbox_uploads.uploads.values())
    assert all(len(items) == 1 for items in records.values()), {k: v for k, v in records.items() if len(v) > 1}


# -------------------------------------------------------------------------------- afterwards


def test_every_server_survived_the_corpus(local_stack):
    for process in (local_stack.endpoint, local_stack.api, local_stack.bridge):
        assert process.running, f"{process.service.name} died:\n{process.log_tail()}"
    endpoint_url = boto3.client("sagemaker-runtime").meta.endpoint_url
    assert requests.get(f"{endpoint_url}/ping", timeout=5).status_code == 200
    health = requests.get(f"{local_stack.api_url}/health", timeout=30)
    assert health.status_code == 200, health.text
