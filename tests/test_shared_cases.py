"""The inputs users found failing (``../shared/cases/``), each on every path it concerns.

Each file stands for a kind of input that is now handled: a drawing with a semi-transparent brush (a5),
JSON with a UTF-8 byte-order mark (b4), the ``image/jpg`` alias (c1), ``data:`` URLs with a parameter or a
wildcard type (c6), and checkpoints the CLI cannot load (f1, f2). The kinds are tested more widely
elsewhere (tests/test_preprocess.py, tests/test_serving_conformance.py, tests/test_api_media.py); this
module keeps the files themselves answered right: the endpoint (SageMaker Runtime ``InvokeEndpoint``),
the API routes, the inbox bucket and the CLI.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid

import boto3
import pytest
import requests

from chalicelib.store import PredictionStore, inbox_prediction_id
from ops.emulator import ROOT

pytestmark = [pytest.mark.integration]

CASES = ROOT.parent / "shared" / "cases"
#: file -> (how it is sent: content type; the JSON route for JSON files), the number it shows
IMAGES = {"a5_canvas_black_alpha30_2.png": ("image/png", "2"), "a5_canvas_orange_alpha30_2.png": ("image/png", "2"),
          "c1_ref_7.jpg": ("image/jpg", "7")}  # fmt: skip
JSONS = {"b4_json_utf8_bom_7.json": "7", "c6_dataurl_charset_7.json": "7", "c6_dataurl_wildcard_7.json": "7"}


def _body(name: str) -> bytes:
    path = CASES / name
    if not path.exists():
        pytest.fail(f"{path} missing: the shared cases travel with the checkout (../shared/cases)")
    return path.read_bytes()


def _invoke(local_stack, body: bytes, content_type: str) -> dict:
    runtime = boto3.client("sagemaker-runtime")
    response = runtime.invoke_endpoint(
        EndpointName=local_stack.config.endpoint_name, Body=body, ContentType=content_type, Accept="application/json"
    )
    return json.loads(response["Body"].read())


@pytest.mark.parametrize("name", IMAGES)
def test_images_on_the_endpoint_the_api_and_the_inbox(name: str, local_stack) -> None:
    content_type, number = IMAGES[name]
    body = _body(name)
    assert _invoke(local_stack, body, content_type)["number"] == number
    answer = requests.post(f"{local_stack.api_url}/predict", data=body, headers={"Content-Type": content_type})
    assert answer.status_code == 200 and answer.json()["number"] == number, answer.text

    config = local_stack.config
    key = f"{config.inbox_prefix}shared-cases-{uuid.uuid4().hex[:8]}/{name}"
    put = boto3.client("s3").put_object(Bucket=config.inbox_bucket, Key=key, Body=body)
    prediction_id = inbox_prediction_id(config.inbox_bucket, key, put.get("VersionId") or put["ETag"].strip('"'))
    store, deadline = PredictionStore(config), time.monotonic() + 60
    while (record := store.get(prediction_id)) is None or record["status"] == "failed":
        assert time.monotonic() < deadline, f"no record for {key}"
        time.sleep(0.2)
    assert (record["status"], record["number"]) == ("succeeded", number)


@pytest.mark.parametrize("name", JSONS)
def test_json_bodies_on_the_endpoint_and_the_json_route(name: str, local_stack) -> None:
    body = _body(name)
    assert _invoke(local_stack, body, "application/json")["number"] == JSONS[name]
    answer = requests.post(
        f"{local_stack.api_url}/predict/json", data=body, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 200 and answer.json()["number"] == JSONS[name], answer.text


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ops.predict", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_the_cli_reads_every_image_and_json_case() -> None:
    names = [*IMAGES, *JSONS]
    result = _cli(*(str(CASES / name) for name in names))
    assert result.returncode == 0, result.stdout + result.stderr
    numbers = [json.loads(line)["number"] for line in result.stdout.splitlines()]
    assert numbers == [IMAGES[n][1] if n in IMAGES else JSONS[n] for n in names]


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("f1_full_pickled_module.tar.gz", "not a state_dict of tensors"),
        ("f2_other_architecture_state_dict.tar.gz", "holds the weights of another network"),
    ],
)
def test_the_cli_names_an_unloadable_checkpoint_in_one_line(name: str, problem: str) -> None:
    result = _cli("--model", str(CASES / name), str(CASES / "c1_ref_7.jpg"))
    assert result.returncode == 2 and not result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and problem in lines[0], result.stderr
