"""The inbox S3 trigger, in-process (Chalice's test client invokes the real handler) against the emulator
and the real local endpoint: one record per object version, rejections recorded, failures retried."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from urllib.parse import quote, quote_plus

import boto3
import numpy as np
import pytest
from boto3.dynamodb.conditions import Key

from chalicelib.errors import EndpointUnavailable
from chalicelib.media import MAX_IMAGE_BYTES
from chalicelib.store import inbox_prediction_id
from tests import images

pytestmark = pytest.mark.integration

HANDLER = "handle_inbox_upload"


@pytest.fixture(scope="module")
def digits(mnist_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    return images.validation_digits(mnist_dir, count=10)


def upload(config, body: bytes, name: str | None = None) -> tuple[str, dict]:
    """Put ``body`` into the inbox and return its key and the S3 event S3 would send for it."""
    key = f"{config.inbox_prefix}{name or uuid.uuid4().hex + '.png'}"
    boto3.client("s3").put_object(Bucket=config.inbox_bucket, Key=key, Body=body)
    return key, s3_event(config, key)


def s3_event(config, key: str) -> dict:
    """The ObjectCreated event S3 sends for the inbox object ``key`` as it is now."""
    head = boto3.client("s3").head_object(Bucket=config.inbox_bucket, Key=key)
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": config.region,
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "bucket": {"name": config.inbox_bucket, "arn": f"arn:aws:s3:::{config.inbox_bucket}"},
                    # S3 URL-encodes keys in events (a space arrives as '+').
                    "object": {
                        "key": quote_plus(key, safe="/"),
                        "size": head["ContentLength"],
                        "eTag": head["ETag"].strip('"'),
                        "sequencer": "0055AED6DCD90281E5",
                    },
                },
            }
        ]
    }


def records_for(config, key: str) -> list[dict]:
    table = boto3.resource("dynamodb").Table(config.predictions_table)
    items = table.query(IndexName="by-source", KeyConditionExpression=Key("source").eq("s3"))["Items"]
    return [i for i in items if i.get("source_key") == key]


def invoke(client, event: dict):
    return client.lambda_.invoke(HANDLER, event).payload


def test_an_inbox_image_becomes_one_record_and_a_result_json(chalice_client, provisioned, digits):
    pictures, labels = digits
    key, event = upload(provisioned, images.png(pictures[4]), name="my digit 4.png")
    [outcome] = invoke(chalice_client, event)
    assert outcome["status"] == "succeeded"
    [record] = records_for(provisioned, key)
    assert record["prediction_id"] == outcome["prediction_id"]
    assert (record["source"], record["source_key"], record["image_bucket"]) == ("s3", key, provisioned.inbox_bucket)
    assert int(record["digit"]) == int(labels[4])
    result = boto3.client("s3").get_object(Bucket=provisioned.results_bucket, Key=record["result_key"])
    assert json.loads(result["Body"].read())["prediction_id"] == record["prediction_id"]
    # Whoever copied the file into the bucket knows its key: the API lists the record under it.
    listed = json.loads(chalice_client.http.get(f"/predictions?source_key={quote(key)}").body)["items"]
    assert [item["prediction_id"] for item in listed] == [record["prediction_id"]]


def test_a_redelivered_event_does_not_duplicate(chalice_client, provisioned, digits):
    pictures, _ = digits
    key, event = upload(provisioned, images.png(pictures[5]))
    first = invoke(chalice_client, event)
    assert invoke(chalice_client, event) == first  # answered from the idempotency store
    [record] = records_for(provisioned, key)
    # Even once the idempotency window is over (its records gone), the deterministic id protects it.
    assert _idempotency_ids(provisioned)
    for item_id in _idempotency_ids(provisioned):
        boto3.resource("dynamodb").Table(provisioned.idempotency_table).delete_item(Key={"id": item_id})
    assert invoke(chalice_client, event) == first
    assert records_for(provisioned, key) == [record]


def _idempotency_ids(config) -> list[str]:
    return [i["id"] for i in boto3.resource("dynamodb").Table(config.idempotency_table).scan()["Items"]]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"just some text", "unsupported_media_type"),
        (b"", "empty_body"),
        (b"\x89PNG\r\n\x1a\n broken", "corrupt_image"),
        ("blank", "no_digit_found"),
        ("star", "not_a_digit"),
        ("overwritten", "low_confidence"),
        ("huge", "image_too_large"),
    ],
)
def test_unreadable_objects_are_recorded_as_rejected_not_retried(chalice_client, provisioned, body, code):
    if body == "blank":
        body = images.png(images.blank())
    elif body == "star":
        body = images.png(images.star())
    elif body == "overwritten":
        body = images.png(images.overwritten(0, 2))
    elif body == "huge":
        body = images.png(images.blank((28, 28), 0)) + b"\x00" * MAX_IMAGE_BYTES
    key, event = upload(provisioned, body)
    [outcome] = invoke(chalice_client, event)  # returns: nothing for Lambda to retry
    assert outcome["status"] == "rejected"
    [record] = records_for(provisioned, key)
    assert (record["status"], record["error_code"]) == ("rejected", code)
    if code == "empty_body":  # an object, not a request: no curl line
        assert "object" in record["error_message"] and "curl" not in record["error_message"]


def test_an_object_deleted_before_processing_is_rejected(chalice_client, provisioned, digits):
    key, event = upload(provisioned, images.png(digits[0][0]))
    boto3.client("s3").delete_object(Bucket=provisioned.inbox_bucket, Key=key)
    [outcome] = invoke(chalice_client, event)
    assert outcome["status"] == "rejected"
    assert records_for(provisioned, key)[0]["error_code"] == "object_not_found"


def test_endpoint_down_records_failure_raises_and_the_retry_succeeds(
    chalice_client, provisioned, endpoint_server, digits
):
    pictures, labels = digits
    key, event = upload(provisioned, images.png(pictures[9]))
    endpoint_server.stop()
    try:
        with pytest.raises(EndpointUnavailable):
            invoke(chalice_client, event)  # raised: Lambda (or the bridge) retries the event
        [failed] = records_for(provisioned, key)
        assert (failed["status"], failed["error_code"]) == ("failed", "endpoint_unavailable")
        assert failed["error_message"]
    finally:
        endpoint_server.start()
    [outcome] = invoke(chalice_client, event)
    assert outcome == {"prediction_id": failed["prediction_id"], "status": "succeeded"}
    [record] = records_for(provisioned, key)
    assert record["status"] == "succeeded" and int(record["digit"]) == int(labels[9])
    assert "error_code" not in record


def test_objects_outside_the_inbox_prefix_are_ignored(chalice_client, provisioned):
    _, event = upload(provisioned, b"whatever", name="x.png")
    event["Records"][0]["s3"]["object"]["key"] = "elsewhere/x.png"
    assert invoke(chalice_client, event) == []


def test_prediction_ids_are_per_object_version(provisioned):
    bucket = provisioned.inbox_bucket
    assert inbox_prediction_id(bucket, "inbox/a.png", "v1") != inbox_prediction_id(bucket, "inbox/a.png", "v2")
